//! Helpers shared by the unit tests of every module: where the read-only `shared/` facts
//! (specs, Falco's recorded goldens, upstream files and traces) are, and fds of the kinds the
//! /proc scans must tell apart.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// `shared/`: `FALCO_RS_SHARED` if set, else `<manifest>/../shared`, else `/work/shared`.
pub(crate) fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FALCO_RS_SHARED") {
        return PathBuf::from(dir);
    }
    let sibling = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.is_dir() {
        return sibling;
    }
    PathBuf::from("/work/shared")
}

/// A named FIFO `fifo` created in `dir` and opened (read-write, so the open does not wait for a
/// peer), and an eventfd: its path and both fds.
pub(crate) fn open_fifo_and_eventfd(dir: &Path) -> (PathBuf, std::fs::File, OwnedFd) {
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let fifo_f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the FIFO");
    // SAFETY: eventfd(2) returns a new fd or -1 (checked below).
    let raw = unsafe { libc::eventfd(0, 0) };
    assert!(raw >= 0, "eventfd");
    // SAFETY: `raw` is a fresh, open fd owned by nothing else.
    let event_f = unsafe { OwnedFd::from_raw_fd(raw) };
    (fifo, fifo_f, event_f)
}
