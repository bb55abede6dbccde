//! The initial process and fd state read from /proc (under `HOST_ROOT` when set, as Falco
//! does in a container), handed to the state engine before the first live event.

use std::fs;
use std::path::{Path, PathBuf};

/// Errors of the /proc scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What an fd refers to, as libscap's proc scan classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdKind {
    File,
    Directory,
    Pipe,
    Socket,
    EventFd,
    SignalFd,
    EventPoll,
    Inotify,
    TimerFd,
    Memfd,
    Bpf,
    Other,
}

/// One open fd of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdEntry {
    pub fd: i64,
    pub kind: FdKind,
    /// The link target (`/etc/passwd`, `pipe:[123]`, `socket:[456]`, `anon_inode:[eventfd]`).
    pub name: String,
    pub ino: u64,
    /// `flags` of /proc/PID/fdinfo/FD (octal open flags).
    pub flags: u32,
}

/// One thread of the process table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcEntry {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    pub sid: i64,
    pub pgid: i64,
    /// Ids in the innermost pid namespace (`NStgid`/`NSpid` last value).
    pub vtid: i64,
    pub vpid: i64,
    pub comm: String,
    /// argv[0].
    pub exe: String,
    /// The resolved `/proc/PID/exe` link.
    pub exepath: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub tty: u32,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub fdlimit: u64,
    pub vm_size_kb: u32,
    pub vm_rss_kb: u32,
    pub vm_swap_kb: u32,
    pub cgroups: Vec<(String, String)>,
    /// Open fds; only the thread-group leader carries them (threads share the table).
    pub fds: Vec<FdEntry>,
}

/// The root Falco reads /proc under: `$HOST_ROOT` or `/`.
pub fn host_root() -> PathBuf {
    std::env::var_os("HOST_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn read(path: &Path) -> Result<String, ScanError> {
    fs::read_to_string(path).map_err(|source| ScanError::Io {
        path: path.into(),
        source,
    })
}

fn nul_list(b: &[u8]) -> Vec<String> {
    b.split(|c| *c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn link(path: &Path) -> String {
    fs::read_link(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every thread of every process under `root`/proc. Processes that vanish during the scan
/// are skipped; an unreadable /proc is an error.
pub fn scan(root: &Path) -> Result<Vec<ProcEntry>, ScanError> {
    let proc_dir = root.join("proc");
    let dir = fs::read_dir(&proc_dir).map_err(|source| ScanError::Io {
        path: proc_dir.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        let pdir = entry.path();
        let Ok(leader) = scan_thread(&pdir, pid, pid) else {
            continue;
        };
        let fds = scan_fds(&pdir);
        let tasks = fs::read_dir(pdir.join("task")).map(|d| {
            d.flatten()
                .filter_map(|t| t.file_name().to_str().and_then(|s| s.parse::<i64>().ok()))
                .collect::<Vec<_>>()
        });
        let mut leader = leader;
        leader.fds = fds;
        for tid in tasks.unwrap_or_default() {
            if tid == pid {
                continue;
            }
            if let Ok(mut t) = scan_thread(&pdir.join("task").join(tid.to_string()), tid, pid) {
                // threads share the leader's argv, exe and cwd
                t.args.clone_from(&leader.args);
                t.exe.clone_from(&leader.exe);
                t.exepath.clone_from(&leader.exepath);
                t.env.clone_from(&leader.env);
                out.push(t);
            }
        }
        out.push(leader);
    }
    out.sort_by_key(|p| p.tid);
    Ok(out)
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

fn scan_thread(dir: &Path, tid: i64, pid: i64) -> Result<ProcEntry, ScanError> {
    let status = read(&dir.join("status"))?;
    let stat = read(&dir.join("stat"))?;
    let mut p = ProcEntry {
        tid,
        pid,
        ..Default::default()
    };
    p.comm = status_field(&status, "Name:")
        .unwrap_or_default()
        .to_string();
    let ids = |key: &str| -> Vec<u32> {
        status_field(&status, key)
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let uids = ids("Uid:");
    let gids = ids("Gid:");
    p.uid = uids.first().copied().unwrap_or(0);
    p.euid = uids.get(1).copied().unwrap_or(0);
    p.gid = gids.first().copied().unwrap_or(0);
    p.egid = gids.get(1).copied().unwrap_or(0);
    let last = |key: &str| -> Option<i64> {
        status_field(&status, key).and_then(|v| v.split_whitespace().last()?.parse().ok())
    };
    p.vtid = last("NSpid:").unwrap_or(tid);
    p.vpid = last("NStgid:").unwrap_or(pid);
    let cap = |key: &str| {
        status_field(&status, key)
            .and_then(|v| u64::from_str_radix(v, 16).ok())
            .unwrap_or(0)
    };
    p.cap_inheritable = cap("CapInh:");
    p.cap_permitted = cap("CapPrm:");
    p.cap_effective = cap("CapEff:");
    let kb = |key: &str| -> u32 {
        status_field(&status, key)
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    p.vm_size_kb = kb("VmSize:");
    p.vm_rss_kb = kb("VmRSS:");
    p.vm_swap_kb = kb("VmSwap:");
    // stat: "pid (comm) state ppid pgrp session tty_nr ..."; comm may contain spaces/parens
    if let Some(close) = stat.rfind(')') {
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        p.ptid = num(1);
        p.pgid = num(2);
        p.sid = num(3);
        p.tty = num(4) as u32;
    }
    let pdir = dir;
    p.args = fs::read(pdir.join("cmdline"))
        .map(|b| nul_list(&b))
        .unwrap_or_default();
    if !p.args.is_empty() {
        p.exe = p.args.remove(0);
    }
    p.env = fs::read(pdir.join("environ"))
        .map(|b| nul_list(&b))
        .unwrap_or_default();
    p.exepath = link(&pdir.join("exe"));
    p.cwd = link(&pdir.join("cwd"));
    if !p.cwd.is_empty() && !p.cwd.ends_with('/') {
        p.cwd.push('/');
    }
    p.loginuid = read(&pdir.join("loginuid"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u32::MAX);
    p.fdlimit = read(&pdir.join("limits"))
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(0);
    p.cgroups = read(&pdir.join("cgroup"))
        .map(|c| {
            c.lines()
                .filter_map(|l| {
                    let mut f = l.splitn(3, ':');
                    let _id = f.next()?;
                    let subsys = f.next()?;
                    let path = f.next()?;
                    Some((subsys.to_string(), path.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(p)
}

fn classify(target: &str) -> FdKind {
    if target.starts_with("pipe:") {
        FdKind::Pipe
    } else if target.starts_with("socket:") {
        FdKind::Socket
    } else if let Some(anon) = target.strip_prefix("anon_inode:") {
        match anon.trim_matches(|c| c == '[' || c == ']') {
            "eventfd" => FdKind::EventFd,
            "signalfd" => FdKind::SignalFd,
            "eventpoll" => FdKind::EventPoll,
            "inotify" => FdKind::Inotify,
            "timerfd" => FdKind::TimerFd,
            a if a.starts_with("bpf") => FdKind::Bpf,
            _ => FdKind::Other,
        }
    } else if target.starts_with("/memfd:") {
        FdKind::Memfd
    } else if target.starts_with('/') {
        if Path::new(target).is_dir() {
            FdKind::Directory
        } else {
            FdKind::File
        }
    } else {
        FdKind::Other
    }
}

fn scan_fds(pdir: &Path) -> Vec<FdEntry> {
    let Ok(dir) = fs::read_dir(pdir.join("fd")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok()) else {
            continue;
        };
        let name = link(&e.path());
        let info = fs::read_to_string(pdir.join("fdinfo").join(fd.to_string())).unwrap_or_default();
        let flags = status_field(&info, "flags:")
            .and_then(|v| u32::from_str_radix(v, 8).ok())
            .unwrap_or(0);
        let ino = status_field(&info, "ino:")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                name.rsplit_once('[')
                    .and_then(|(_, r)| r.trim_end_matches(']').parse().ok())
                    .unwrap_or(0)
            });
        out.push(FdEntry {
            fd,
            kind: classify(&name),
            name,
            ino,
            flags,
        });
    }
    out.sort_by_key(|f| f.fd);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_this_process_with_its_open_file() {
        let path = std::env::temp_dir().join(format!("frs-scan-{}", std::process::id()));
        std::fs::write(&path, b"x").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let me = std::process::id() as i64;
        let procs = scan(Path::new("/")).unwrap();
        let p = procs
            .iter()
            .find(|p| p.tid == me)
            .expect("own process in the scan");
        assert_eq!(p.pid, me);
        assert_eq!(p.ptid, nix::unistd::getppid().as_raw() as i64);
        assert_eq!(
            p.exepath,
            std::env::current_exe().unwrap().to_string_lossy()
        );
        let fd = p
            .fds
            .iter()
            .find(|e| e.name == path.to_string_lossy())
            .expect("open fd");
        assert_eq!(fd.kind, FdKind::File);
        drop(f);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn host_root_prefixes_proc() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path().join("proc/42");
        std::fs::create_dir_all(p.join("fd")).unwrap();
        std::fs::write(
            p.join("status"),
            "Name:\tfake\nUid:\t1\t2\t2\t2\nGid:\t3\t4\t4\t4\n",
        )
        .unwrap();
        std::fs::write(p.join("stat"), "42 (fa ke) S 7 42 42 0 -1").unwrap();
        std::fs::write(p.join("cmdline"), b"/bin/fake\0-x\0").unwrap();
        let procs = scan(root.path()).unwrap();
        assert_eq!(procs.len(), 1);
        let e = &procs[0];
        assert_eq!((e.tid, e.ptid, e.uid, e.euid, e.gid), (42, 7, 1, 2, 3));
        assert_eq!((e.comm.as_str(), e.exe.as_str()), ("fake", "/bin/fake"));
        assert_eq!(e.args, vec!["-x".to_string()]);
        assert!(scan(&root.path().join("missing")).is_err());
    }
}
