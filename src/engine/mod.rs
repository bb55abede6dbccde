//! Compiles condition ASTs into typed filter programs, builds the evttype index and the
//! ruleset, and runs the match loop. Knows nothing about YAML.
//!
//! - [`filter`]: AST → [`Filter`] (type checks, constant conversion) and evaluation against an
//!   [`Extract`](crate::fields::Extract) with caller-owned [`Scratch`].
//! - [`evttype`]: the event codes a condition can match.
//! - [`mod@format`]: output format strings.
//! - `order`: the evaluation order of `and`/`or` operands (cheap, deciding ones first).
//! - [`strset`]: the sets of `in` on strings.
//! - [`ruleset`]: rules bucketed by event code, `first`/`all` matching, selection.

pub mod evttype;
pub mod filter;
pub mod format;
mod order;
pub mod ruleset;
pub mod strset;

pub use filter::{Filter, Scratch};
pub use format::Format;
pub use ruleset::{Matching, Rule, Ruleset, Selector};

#[cfg(test)]
mod tests;
