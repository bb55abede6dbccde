//! falco-rs: a drop-in replacement for the Falco runtime-security daemon.
//!
//! Data flows one way through the stages below; each module owns one stage and knows nothing
//! about the stages after it:
//!
//! ```text
//! driver (libbpf-rs | aya | replay | nodriver)
//!   → event   (event table, zero-copy decode)
//!   → state   (threads, fds, users, containers; updated before rules run)
//!   → engine  (evttype index → compiled conditions → matches)
//!   → fields  (extraction on demand)
//!   → output  (formatting, queue, sinks)
//!   → server  (webserver, metrics)
//! ```
//!
//! `config` and `cli` feed `app`, which wires the pipeline and owns the lifecycle.

pub mod app;
pub mod capture;
pub mod cli;
pub mod config;
pub mod driver;
pub mod engine;
pub mod event;
pub mod fields;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod rules;
pub mod server;
pub mod state;
#[cfg(test)]
pub(crate) mod test_support;
pub mod version;
