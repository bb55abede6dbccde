//! The initial process and fd state read from /proc (under `HOST_ROOT` when set, as Falco
//! does in a container), handed to the state engine before the first live event.

use std::fs;
use std::path::{Path, PathBuf};

use crate::capture::records::FdInfo;
use crate::state::procfs::{ProcFdKind, proc_fd_kind};

/// Errors of the /proc scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One open fd of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdEntry {
    pub fd: i64,
    pub kind: ProcFdKind,
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
        .map(|b| nul_list(truncate_like_libscap(&b)))
        .unwrap_or_default();
    if !p.args.is_empty() {
        p.exe = p.args.remove(0);
    }
    p.env = fs::read(pdir.join("environ"))
        .map(|b| nul_list(truncate_like_libscap(&b)))
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

fn scan_fds(pdir: &Path) -> Vec<FdEntry> {
    let Ok(dir) = fs::read_dir(pdir.join("fd")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok()) else {
            continue;
        };
        // libscap skips an fd it cannot stat (closed during the scan)
        let Ok(meta) = fs::metadata(e.path()) else {
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
            kind: proc_fd_kind(std::os::unix::fs::MetadataExt::mode(&meta), name.as_bytes()),
            name,
            ino,
            flags,
        });
    }
    out.sort_by_key(|f| f.fd);
    out
}

/// SCAP_L4_* protocol numbers of the fd list.
const SCAP_L4_TCP: u8 = 2;
const SCAP_L4_UDP: u8 = 3;

/// `open_flags_to_scap` for the `flags:` of /proc/PID/fdinfo (octal O_* bits).
pub fn open_flags_to_scap(flags: u32) -> u32 {
    let mut res = match flags & 3 {
        1 => 1 << 1,
        2 => 3,
        _ => 1,
    };
    let map: [(u32, u32); 12] = [
        (0o100, 1 << 2),       // O_CREAT
        (0o2000, 1 << 3),      // O_APPEND
        (0o10000, 1 << 4),     // O_DSYNC
        (0o200, 1 << 5),       // O_EXCL
        (0o4000, 1 << 6),      // O_NONBLOCK
        (0o4010000, 1 << 7),   // O_SYNC
        (0o1000, 1 << 8),      // O_TRUNC
        (0o40000, 1 << 9),     // O_DIRECT
        (0o200000, 1 << 10),   // O_DIRECTORY
        (0o100000, 1 << 11),   // O_LARGEFILE
        (0o2000000, 1 << 12),  // O_CLOEXEC
        (0o20200000, 1 << 13), // O_TMPFILE
    ];
    for (linux, ppm) in map {
        if flags & linux == linux {
            res |= ppm;
        }
    }
    if res & (1 << 13) != 0 {
        res &= !(1 << 10);
    }
    res
}

/// Socket inode → fd-list info, from /proc/net/{tcp,tcp6,udp,udp6,unix}.
fn socket_table(root: &Path) -> std::collections::HashMap<u64, (u8, FdInfo)> {
    use crate::capture::records::fd_type;
    let mut out = std::collections::HashMap::new();
    let net = root.join("proc/net");
    for (file, v6, l4) in [
        ("tcp", false, SCAP_L4_TCP),
        ("udp", false, SCAP_L4_UDP),
        ("tcp6", true, SCAP_L4_TCP),
        ("udp6", true, SCAP_L4_UDP),
    ] {
        let Ok(text) = fs::read_to_string(net.join(file)) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state), Some(inode)) = (
                f.get(1),
                f.get(2),
                f.get(3),
                f.get(9).and_then(|i| i.parse::<u64>().ok()),
            ) else {
                continue;
            };
            let listening = l4 == SCAP_L4_TCP && *state == "0A";
            let addr = |s: &str| -> Option<(Vec<u8>, u16)> {
                let (a, p) = s.split_once(':')?;
                let port = u16::from_str_radix(p, 16).ok()?;
                // each 32-bit word is printed as the host-order value of network-order bytes
                let mut bytes = Vec::new();
                for chunk in a.as_bytes().chunks(8) {
                    let w = u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
                    bytes.extend_from_slice(&w.to_le_bytes());
                }
                Some((bytes, port))
            };
            let (Some((lip, lport)), Some((rip, rport))) = (addr(local), addr(remote)) else {
                continue;
            };
            let entry = match (v6, listening) {
                (false, true) => (
                    fd_type::IPV4_SERVSOCK,
                    FdInfo::Ipv4ServSock {
                        ip: lip[..4].try_into().unwrap_or_default(),
                        port: lport,
                        l4proto: l4,
                    },
                ),
                (false, false) => (
                    fd_type::IPV4_SOCK,
                    FdInfo::Ipv4Sock {
                        sip: lip[..4].try_into().unwrap_or_default(),
                        dip: rip[..4].try_into().unwrap_or_default(),
                        sport: lport,
                        dport: rport,
                        l4proto: l4,
                    },
                ),
                (true, true) => (
                    fd_type::IPV6_SERVSOCK,
                    FdInfo::Ipv6ServSock {
                        ip: lip[..16].try_into().unwrap_or_default(),
                        port: lport,
                        l4proto: l4,
                    },
                ),
                (true, false) => (
                    fd_type::IPV6_SOCK,
                    FdInfo::Ipv6Sock {
                        sip: lip[..16].try_into().unwrap_or_default(),
                        dip: rip[..16].try_into().unwrap_or_default(),
                        sport: lport,
                        dport: rport,
                        l4proto: l4,
                    },
                ),
            };
            out.insert(inode, entry);
        }
    }
    if let Ok(text) = fs::read_to_string(net.join("unix")) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(num), Some(inode)) =
                (f.first(), f.get(6).and_then(|i| i.parse::<u64>().ok()))
            else {
                continue;
            };
            let source = u64::from_str_radix(num.trim_end_matches(':'), 16).unwrap_or(0);
            let path = f.get(7).map(|p| p.to_string()).unwrap_or_default();
            out.insert(
                inode,
                (
                    fd_type::UNIX_SOCK,
                    FdInfo::UnixSock {
                        source,
                        dest: 0,
                        path,
                    },
                ),
            );
        }
    }
    out
}

fn fd_record(
    e: &FdEntry,
    sockets: &std::collections::HashMap<u64, (u8, FdInfo)>,
) -> crate::capture::records::FdRecord {
    use crate::capture::records::{FdRecord, fd_type};
    let named = |t: u8| {
        (
            t,
            FdInfo::Named {
                name: e.name.clone(),
            },
        )
    };
    let (fd_type, info) = match e.kind {
        // dev 0: libscap reads only the flags and the mount id of a scanned file
        // (`scap_fd_flags_file`)
        ProcFdKind::File => (
            fd_type::FILE_V2,
            FdInfo::File {
                open_flags: open_flags_to_scap(e.flags),
                name: e.name.clone(),
                dev: 0,
            },
        ),
        ProcFdKind::Directory => named(fd_type::DIRECTORY),
        ProcFdKind::Fifo => named(fd_type::FIFO),
        ProcFdKind::Memfd => named(fd_type::MEMFD),
        ProcFdKind::Socket => match sockets.get(&e.ino) {
            Some((t, info)) => (*t, info.clone()),
            None => named(fd_type::UNSUPPORTED),
        },
        // anonymous inodes and unsupported files have no name in libscap's scan
        ProcFdKind::Anon(ty) => (
            ty as u8,
            FdInfo::Named {
                name: String::new(),
            },
        ),
    };
    FdRecord {
        fd: e.fd,
        ino: e.ino,
        fd_type,
        info,
    }
}

fn join_nul(items: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in items {
        out.extend_from_slice(i.as_bytes());
        out.push(0);
    }
    out
}

/// libscap reads at most `SCAP_MAX_ARGS_SIZE` (= SCAP_MAX_ENV_SIZE, 4096) bytes of cmdline and
/// environ, the last one a NUL; readers (ours, sysdig) refuse longer lists in a capture.
fn truncate_like_libscap(b: &[u8]) -> &[u8] {
    &b[..b.len().min(crate::capture::records::SCAP_MAX_ARGS_SIZE - 1)]
}

/// The scan as capture metadata (threads, fds, users, groups, machine info): what
/// `state::seed` imports and what a live capture writes as its PL/FDL/UL blocks.
pub fn metadata(root: &Path) -> Result<crate::capture::records::Metadata, ScanError> {
    use crate::capture::records::{GroupRecord, MachineInfo, Metadata, ThreadRecord, UserRecord};
    use std::os::unix::fs::MetadataExt;
    let procs = scan(root)?;
    let sockets = socket_table(root);
    let mut md = Metadata {
        version: (1, 2),
        ..Default::default()
    };
    for p in &procs {
        let pdir = if p.tid == p.pid {
            root.join("proc").join(p.pid.to_string())
        } else {
            root.join("proc")
                .join(p.pid.to_string())
                .join("task")
                .join(p.tid.to_string())
        };
        let exe_meta = fs::metadata(pdir.join("exe")).ok();
        let ns = |s: i64, n: i64| (s.max(0) as u64) * 1_000_000_000 + n.max(0) as u64;
        let mut cgroups = Vec::new();
        for (subsys, path) in &p.cgroups {
            if !subsys.is_empty() {
                cgroups.extend_from_slice(format!("{subsys}={path}").as_bytes());
                cgroups.push(0);
            }
        }
        let flags = if p.tid == p.pid { 0 } else { (1 << 13) | 1 }; // CLONE_THREAD | CLONE_FILES
        md.threads.push(ThreadRecord {
            tid: p.tid as u64,
            pid: p.pid as u64,
            ptid: p.ptid as u64,
            sid: p.sid,
            vpgid: p.pgid,
            pgid: p.pgid,
            comm: p.comm.clone(),
            exe: p.exe.clone(),
            exepath: p.exepath.clone(),
            args: join_nul(&p.args),
            cwd: p.cwd.clone(),
            fdlimit: p.fdlimit,
            flags,
            uid: p.euid,
            gid: p.egid,
            vmsize_kb: p.vm_size_kb,
            vmrss_kb: p.vm_rss_kb,
            vmswap_kb: p.vm_swap_kb,
            env: join_nul(&p.env),
            vtid: p.vtid,
            vpid: p.vpid,
            cgroups,
            root: link(&pdir.join("root")),
            tty: p.tty,
            loginuid: p.loginuid,
            cap_inheritable: p.cap_inheritable,
            cap_permitted: p.cap_permitted,
            cap_effective: p.cap_effective,
            exe_ino: exe_meta.as_ref().map_or(0, |m| m.ino()),
            exe_ino_ctime: exe_meta
                .as_ref()
                .map_or(0, |m| ns(m.ctime(), m.ctime_nsec())),
            exe_ino_mtime: exe_meta
                .as_ref()
                .map_or(0, |m| ns(m.mtime(), m.mtime_nsec())),
            exe_from_memfd: p.exepath.starts_with("/memfd:"),
            ..ThreadRecord::default()
        });
        for fd in &p.fds {
            md.fds.push((p.tid as u64, fd_record(fd, &sockets)));
        }
    }
    if let Ok(passwd) = fs::read_to_string(root.join("etc/passwd")) {
        for l in passwd.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 7 {
                md.users.push(UserRecord {
                    uid: f[2].parse().unwrap_or(0),
                    gid: f[3].parse().unwrap_or(0),
                    name: f[0].to_string(),
                    homedir: f[5].to_string(),
                    shell: f[6].to_string(),
                });
            }
        }
    }
    if let Ok(group) = fs::read_to_string(root.join("etc/group")) {
        for l in group.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 3 {
                md.groups.push(GroupRecord {
                    gid: f[2].parse().unwrap_or(0),
                    name: f[0].to_string(),
                });
            }
        }
    }
    let mem_kb: u64 = fs::read_to_string(root.join("proc/meminfo"))
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    md.machine = Some(MachineInfo {
        num_cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        memory_size_bytes: mem_kb * 1024,
        max_pid: fs::read_to_string(root.join("proc/sys/kernel/pid_max"))
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        boot_ts_epoch: boot_epoch_ns(),
        flags: 0,
    });
    Ok(md)
}

/// Boot time in ns since the epoch (CLOCK_REALTIME - CLOCK_BOOTTIME).
fn boot_epoch_ns() -> u64 {
    let ns = |clock| {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        let rc = unsafe { libc::clock_gettime(clock, &mut t) };
        if rc == 0 {
            t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128
        } else {
            0
        }
    };
    (ns(libc::CLOCK_REALTIME) - ns(libc::CLOCK_BOOTTIME)).max(0) as u64
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
        assert_eq!(fd.kind, ProcFdKind::File);
        drop(f);
        std::fs::remove_file(&path).unwrap();
    }

    /// The startup scan types fds as libscap's `handle_file` (by the file's mode): a named
    /// FIFO is a pipe, an eventfd an unnamed EVENT entry, a file a FILE_V2 with dev 0.
    #[test]
    fn fds_are_typed_by_file_mode_as_libscap() {
        use crate::capture::records::{FdInfo, fd_type};
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let (fifo, fifo_f, event_f) = crate::test_support::open_fifo_and_eventfd(dir.path());
        let exe = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
        let me = std::process::id() as i64;
        let procs = scan(Path::new("/")).unwrap();
        let p = procs.iter().find(|p| p.tid == me).expect("own process");
        let entry = |fd: i32| {
            p.fds
                .iter()
                .find(|e| e.fd == i64::from(fd))
                .expect("fd scanned")
        };
        let f = entry(fifo_f.as_raw_fd());
        assert_eq!(
            (f.kind, f.name.as_str()),
            (ProcFdKind::Fifo, fifo.to_str().unwrap())
        );
        let rec = fd_record(f, &Default::default());
        assert_eq!(rec.fd_type, fd_type::FIFO);
        let e = entry(event_f.as_raw_fd());
        assert_eq!(e.kind, ProcFdKind::Anon(crate::state::fd::FdType::Event));
        let rec = fd_record(e, &Default::default());
        assert_eq!(rec.fd_type, fd_type::EVENT);
        assert_eq!(
            rec.info,
            FdInfo::Named {
                name: String::new()
            }
        );
        let rec = fd_record(entry(exe.as_raw_fd()), &Default::default());
        assert!(
            matches!(rec.info, FdInfo::File { dev: 0, .. }),
            "{:?}",
            rec.info
        );
    }

    #[test]
    fn metadata_seeds_the_state_with_files_and_sockets() {
        use crate::capture::records::{FdInfo, fd_type};
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"x").unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let me = std::process::id() as u64;

        let md = metadata(Path::new("/")).unwrap();
        let t = md
            .threads
            .iter()
            .find(|t| t.tid == me)
            .expect("own thread record");
        assert_eq!(
            t.exepath,
            std::env::current_exe().unwrap().to_string_lossy()
        );
        assert!(md.users.iter().any(|u| u.uid == 0 && u.name == "root"));
        let fds: Vec<_> = md
            .fds
            .iter()
            .filter(|(tid, _)| *tid == me)
            .map(|(_, r)| r)
            .collect();
        let file = fds
            .iter()
            .find(|r| r.fd == f.as_raw_fd() as i64)
            .expect("file fd");
        match &file.info {
            // O_WRONLY|O_APPEND|O_CLOEXEC (Rust opens with O_CLOEXEC) as PPM_O_* bits
            FdInfo::File {
                open_flags, name, ..
            } => {
                assert_eq!(name, &path.to_string_lossy());
                assert_eq!(*open_flags & 0b11, 1 << 1, "PPM_O_WRONLY");
                assert_ne!(*open_flags & (1 << 3), 0, "PPM_O_APPEND");
                assert_ne!(*open_flags & (1 << 12), 0, "PPM_O_CLOEXEC");
            }
            other => panic!("file fd as {other:?}"),
        }
        let srv = fds
            .iter()
            .find(|r| r.fd == listener.as_raw_fd() as i64)
            .expect("listener fd");
        assert_eq!(srv.fd_type, fd_type::IPV4_SERVSOCK);
        assert_eq!(
            srv.info,
            FdInfo::Ipv4ServSock {
                ip: [127, 0, 0, 1],
                port,
                l4proto: 2
            }
        );
        let cli = fds
            .iter()
            .find(|r| r.fd == client.as_raw_fd() as i64)
            .expect("client fd");
        match cli.info {
            FdInfo::Ipv4Sock {
                sip,
                dip,
                dport,
                l4proto,
                ..
            } => {
                assert_eq!(
                    (sip, dip, dport, l4proto),
                    ([127, 0, 0, 1], [127, 0, 0, 1], port, 2)
                );
            }
            ref other => panic!("client fd as {other:?}"),
        }

        // the state engine imports it as it imports a capture's process list
        let mut state = crate::state::State::new(262_144);
        state.seed_capture(&md);
        let ti = state.threads.get(me as i64).expect("seeded thread");
        assert_eq!(ti.pid, me as i64);
        let sfd = ti.fds.get(f.as_raw_fd() as i64).expect("seeded fd");
        assert_eq!(sfd.name, path.to_string_lossy().as_bytes());
    }

    #[test]
    fn proc_open_flags_follow_libs() {
        assert_eq!(open_flags_to_scap(0), 1); // O_RDONLY
        assert_eq!(
            open_flags_to_scap(0o2 | 0o100 | 0o1000),
            3 | (1 << 2) | (1 << 8)
        );
        // O_TMPFILE includes O_DIRECTORY: reported as TMPFILE only
        assert_eq!(open_flags_to_scap(0o20200000 | 0o2), 3 | (1 << 13));
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
