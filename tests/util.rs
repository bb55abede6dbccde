//! Helpers shared by the integration tests: where `shared/` is, and running the built binary.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `shared/`: `FALCO_RS_SHARED` if set, else `<repo>/../shared`, else `/work/shared`.
pub fn shared_dir() -> PathBuf {
    let p = if let Ok(p) = std::env::var("FALCO_RS_SHARED") {
        PathBuf::from(p)
    } else {
        let sibling = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
        if sibling.exists() {
            sibling
        } else {
            PathBuf::from("/work/shared")
        }
    };
    p.canonicalize().unwrap_or(p)
}

/// The `falco` binary cargo built for these tests.
pub fn falco_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_falco"))
}

/// What one run of the binary produced.
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
}

/// The recorder's PATH.
pub const STD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs the binary as the goldens were recorded: given env only (plus PATH), stdin
/// /dev/null, an empty working directory; killed after `timeout`.
pub fn run_falco(args: &[String], env: &[(String, String)], timeout: Duration) -> Output {
    let cwd = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(falco_bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", STD_PATH)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn falco");
    let pid = child.id() as libc::pid_t;
    // Collect the pipes on another thread so a large output never blocks the child.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(timeout) {
        Ok(out) => out,
        Err(_) => {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            rx.recv().expect("child output after kill")
        }
    }
    .expect("collect falco output");
    Output {
        stdout: out.stdout,
        stderr: out.stderr,
        code: out.status.code().unwrap_or(-1),
    }
}
