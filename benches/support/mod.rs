//! What the benchmarks share: where the read-only `shared/` facts are, and Falco 0.44.1's
//! figures on this machine kind (`shared/bench/README.md`), the numbers every benchmark prints
//! its ratios against. Each bench includes this module with `mod support;`.
#![allow(dead_code)]

use std::ffi::CString;
use std::path::PathBuf;
use std::time::Instant;

/// `shared/`: `FALCO_RS_SHARED` if set, else `<manifest>/../shared`, else `/work/shared`.
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("FALCO_RS_SHARED") {
        return PathBuf::from(p);
    }
    let sibling = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.exists() {
        sibling
    } else {
        PathBuf::from("/work/shared")
    }
}

/// Mean ns per call of `n` raw getpid syscalls (a monitored syscall that no rule needs).
pub fn getpid_loop(n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: raw getpid has no arguments and no side effects.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Mean ns per pair of `n` raw openat(/etc/hostname) + close syscalls.
pub fn open_close_loop(n: u64) -> f64 {
    let path = CString::new("/etc/hostname").expect("no NUL in the path");
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: valid NUL-terminated path; the fd is closed right away.
        unsafe {
            let fd = libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_RDONLY,
            );
            libc::syscall(libc::SYS_close, fd);
        }
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// The lowest of five runs of a loop (the least disturbed by other work on the machine).
pub fn best_of(f: impl Fn(u64) -> f64, n: u64) -> f64 {
    (0..5).map(|_| f(n)).fold(f64::INFINITY, f64::min)
}

/// Falco 0.44.1's figures (`shared/bench/README.md`, "the figures to beat").
pub mod falco {
    /// Rules load, `--dry-run`, whole process (ms) and its peak RSS (MiB).
    pub const LOAD_STABLE_MS: f64 = 38.0;
    pub const LOAD_ALL_MS: f64 = 123.0;
    pub const LOAD_STABLE_RSS_MIB: f64 = 24.6;
    pub const LOAD_ALL_RSS_MIB: f64 = 31.2;
    /// Replay of a `workload -m mix` capture: events/s and peak RSS (MiB).
    pub const REPLAY_STABLE_EVPS: f64 = 852_000.0;
    pub const REPLAY_ALL_EVPS: f64 = 238_000.0;
    pub const REPLAY_STABLE_RSS_MIB: f64 = 25.0;
    pub const REPLAY_ALL_RSS_MIB: f64 = 31.0;
    /// Live: added cost per getpid and per openat+close pair (ns).
    pub const GETPID_NS: f64 = 28.0;
    pub const OPEN_CLOSE_NS: f64 = 582.0;
    /// Live: highest `workload -m open` rate with zero drops, stable rules (events/s).
    pub const ZERO_DROP_EVPS: f64 = 1.0e6;
    /// Live: VmRSS after 20 s idle with the three rule files (MiB).
    pub const IDLE_RSS_ALL_MIB: f64 = 72.7;
}
