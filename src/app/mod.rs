//! Wires the pipeline: start order, signals, reload, statistics at exit. Owns the lifecycle and
//! nothing else.

pub mod log;

use std::process::ExitCode;

/// Runs falco with the process arguments and returns its exit code.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
