//! Helpers shared by the integration tests: where `shared/` is, running the built binary, and
//! the plumbing of the tests that run it as a daemon (a child that dies with its test, its
//! output lines, a free port, an HTTP GET).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
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
    let child = die_with_parent(&mut cmd).spawn().expect("spawn falco");
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

/// A spawned process (the daemon, or a server a test needs) that is killed and reaped when
/// dropped, also when the test panics. Spawned with [`spawn_guarded`], it also gets SIGKILL
/// when the thread that spawned it ends (`PR_SET_PDEATHSIG`: the test thread, or the whole
/// test binary when it is killed), so no daemon outlives its test.
pub struct ChildGuard(pub Child);

impl std::ops::Deref for ChildGuard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes `cmd`'s process receive SIGKILL when the spawning thread ends (so a killed test binary
/// leaves no child behind); a child whose parent is already gone exits at once.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        })
    }
}

/// Spawns `cmd` as a [`ChildGuard`] that dies with the test.
pub fn spawn_guarded(cmd: &mut Command) -> ChildGuard {
    ChildGuard(die_with_parent(cmd).spawn().expect("spawn child process"))
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The lines of `r`, read on a thread of their own.
pub fn lines_of(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits up to `secs` for a line of `rx` containing one of `needles` and returns it; every
/// line read (the hit included) is appended to `seen`. None on timeout or end of stream.
pub fn wait_line(
    rx: &Receiver<String>,
    seen: &mut Vec<String>,
    needles: &[&str],
    secs: u64,
) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                seen.push(line.clone());
                if needles.iter().any(|n| line.contains(n)) {
                    return Some(line);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => return None,
        }
    }
    None
}

/// `GET path` over HTTP/1.1 on 127.0.0.1:`port`: the response head and body, None when the
/// connection fails or the answer has no head.
pub fn http_get(port: u16, path: &str) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}
