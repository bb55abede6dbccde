//! scap capture files: reader, writer and the libs replay converter. Knows nothing of live drivers.
//!
//! - [`reader`]: blocks → [`Metadata`] and v2 event records (plain or gzip, every block version).
//! - [`converter`]: the libs 0.25.4 replay converter (which events survive, how old ones are
//!   upgraded), table generated into `converter_table.rs` by `gen/gen_converter.py`.
//! - [`records`]: typed machine/process/fd/interface/user records the state stage seeds from.
//! - [`writer`]: writes captures that our reader, Falco and sysdig read back.
//!
//! Layouts: spec/scap-format.md. Every error carries the byte offset (in the uncompressed
//! stream) where reading failed.

pub mod converter;
#[rustfmt::skip]
mod converter_table;
pub mod reader;
pub mod records;
pub mod writer;

pub use converter::{Converter, Outcome};
pub use reader::{CaptureReader, EventMeta, ReadItem};
pub use records::{
    FdInfo, FdRecord, GroupRecord, InterfaceRecord, MachineInfo, Metadata, ThreadRecord, UserRecord,
};
pub use writer::CaptureWriter;

use thiserror::Error;

use crate::event::DecodeError;

/// Errors of reading, converting and writing captures.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("could not open capture {path}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("read error at byte offset {offset}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "truncated capture at byte offset {offset}: {what} needs {needed} bytes, {available} left"
    )]
    Truncated {
        offset: u64,
        needed: usize,
        available: usize,
        what: &'static str,
    },
    #[error("corrupted capture at byte offset {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
    #[error("cannot correctly parse the capture at byte offset {offset}. Upgrade your version.")]
    VersionMismatch { offset: u64 },
    #[error("no events in file")]
    NoEvents,
    #[error("bad event at byte offset {offset}")]
    Event {
        offset: u64,
        #[source]
        source: DecodeError,
    },
    #[error("capture conversion failed at byte offset {offset}: {reason}")]
    Conversion { offset: u64, reason: String },
    #[error("could not write capture")]
    Write(#[source] std::io::Error),
}
#[cfg(test)]
mod tests;
