//! The event table pinned by Falco 0.44.1 (codes, names, directions, parameters) and
//! zero-copy decoding of event records. Knows nothing about state.
//!
//! - [`table`]: the libs 0.25.4 event table (generated data in `table_data.rs`) and lookups.
//! - [`decode`]: [`Event`], a borrowed view of one record with typed parameter access, and the
//!   encoder used by the converter and the capture writer.
//! - [`list`]: the `--list-events` and `-i` listings.

pub mod decode;
pub mod list;
pub mod table;
#[rustfmt::skip]
pub mod table_data;

pub use decode::{DecodeError, Event};
pub use table::{Direction, EventInfo, ParamType};
