//! Live mode's `/proc` lookup of a thread the state does not know (libsinsp queries the OS for
//! an unknown tid before inventing a placeholder): the thread with its process attributes,
//! cwd, environment and cgroups, and for a group leader its fds (files, directories, pipes,
//! TCP/UDP/unix sockets resolved through `/proc/net`, anonymous inodes). The startup scan
//! that seeds the state is `driver::proc_scan`'s. A thread that exits during the lookup is
//! not added.

use std::collections::HashMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::State;
use super::fd::{FdInfo, FdType, L4Proto, flags as fdflags, tuple_text};
use super::path::concatenate_paths;
use super::thread::{ThreadInfo, clone_flags as cl};

/// A socket of `/proc/net/*`, by inode.
#[derive(Debug, Clone)]
enum NetSocket {
    Tuple {
        local: (IpAddr, u16),
        remote: (IpAddr, u16),
        l4proto: L4Proto,
        listening: bool,
    },
    Unix {
        path: Vec<u8>,
    },
}

fn read_bytes(path: &Path) -> Option<Vec<u8>> {
    fs::read(path).ok()
}

fn read_link(path: &Path) -> Option<Vec<u8>> {
    fs::read_link(path)
        .ok()
        .map(|p| p.into_os_string().into_encoded_bytes())
}

/// `a.b.c.d:port` of `/proc/net/tcp` (little-endian hex words).
fn parse_hex_endpoint(s: &str, v6: bool) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if v6 {
        let mut b = [0u8; 16];
        for (i, chunk) in b.chunks_mut(4).enumerate() {
            let word = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let v6 = Ipv6Addr::from(b);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    } else {
        IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.to_le_bytes(),
        ))
    };
    Some((ip, port))
}

/// The sockets of one network namespace, by inode.
fn net_sockets(net_dir: &Path) -> HashMap<u64, NetSocket> {
    let mut out = HashMap::new();
    for (file, l4proto, v6) in [
        ("tcp", L4Proto::Tcp, false),
        ("tcp6", L4Proto::Tcp, true),
        ("udp", L4Proto::Udp, false),
        ("udp6", L4Proto::Udp, true),
        ("raw", L4Proto::Raw, false),
        ("raw6", L4Proto::Raw, true),
    ] {
        let Ok(text) = fs::read_to_string(net_dir.join(file)) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 {
                continue;
            }
            let (Some(local), Some(remote), Ok(ino)) = (
                parse_hex_endpoint(cols[1], v6),
                parse_hex_endpoint(cols[2], v6),
                cols[9].parse::<u64>(),
            ) else {
                continue;
            };
            // TCP_LISTEN (0A); unconnected UDP sockets have no remote endpoint.
            let listening = (l4proto == L4Proto::Tcp && cols[3] == "0A")
                || (l4proto == L4Proto::Udp && remote.0.is_unspecified() && remote.1 == 0);
            out.insert(
                ino,
                NetSocket::Tuple {
                    local,
                    remote,
                    l4proto,
                    listening,
                },
            );
        }
    }
    if let Ok(text) = fs::read_to_string(net_dir.join("unix")) {
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 7 {
                continue;
            }
            let Ok(ino) = cols[6].parse::<u64>() else {
                continue;
            };
            let path = cols.get(7).map_or(Vec::new(), |p| p.as_bytes().to_vec());
            out.insert(ino, NetSocket::Unix { path });
        }
    }
    out
}

/// What libscap's `handle_file` makes of a /proc fd: the type of the file it refers to (the
/// mode of `stat` on the link), the link text only telling memfds among files and the kinds of
/// anonymous inodes (whose mode has no file type) apart. Shared by the startup scan
/// (`driver::proc_scan`) and the lookups below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcFdKind {
    /// Resolved through `/proc/net` by the inode of its `socket:[ino]` link.
    Socket,
    Fifo,
    File,
    Memfd,
    Directory,
    /// An anonymous inode of this type, or `Unsupported`: no name in libscap's scan.
    Anon(FdType),
}

/// [`ProcFdKind`] of an fd whose file has mode `mode` and whose link reads `link`.
pub fn proc_fd_kind(mode: u32, link: &[u8]) -> ProcFdKind {
    match mode & libc::S_IFMT {
        libc::S_IFSOCK => ProcFdKind::Socket,
        libc::S_IFIFO => ProcFdKind::Fifo,
        libc::S_IFREG | libc::S_IFBLK | libc::S_IFCHR | libc::S_IFLNK => {
            if link.starts_with(b"/memfd:") {
                ProcFdKind::Memfd
            } else {
                ProcFdKind::File
            }
        }
        libc::S_IFDIR => ProcFdKind::Directory,
        _ => ProcFdKind::Anon(match link.strip_prefix(b"anon_inode:") {
            Some(b"[eventfd]") => FdType::Event,
            Some(b"[eventpoll]") => FdType::Eventpoll,
            Some(b"[signalfd]") => FdType::Signalfd,
            Some(b"[timerfd]") => FdType::Timerfd,
            Some(b"inotify") => FdType::Inotify,
            Some(b"[userfaultfd]") => FdType::Userfaultfd,
            Some(b"[io_uring]") => FdType::IoUring,
            Some(b"[pidfd]") => FdType::Pidfd,
            Some(k) if k.starts_with(b"bpf") => FdType::Bpf,
            _ => FdType::Unsupported,
        }),
    }
}

/// The fd-table entry of one `/proc/<pid>/fd/<n>` link, typed by [`proc_fd_kind`]. None when
/// the fd cannot be stat'ed (closed meanwhile): libscap skips it.
fn fd_from_link(link: &[u8], target: &Path, sockets: &HashMap<u64, NetSocket>) -> Option<FdInfo> {
    let meta = fs::metadata(target).ok()?;
    let bracket_ino = |prefix: &[u8]| -> Option<u64> {
        let rest = link.strip_prefix(prefix)?.strip_suffix(b"]")?;
        std::str::from_utf8(rest).ok()?.parse().ok()
    };
    let mut f = FdInfo::new(FdType::Unknown, link.to_vec());
    f.flags = fdflags::FROM_PROC;
    f.ino = meta.ino();
    match proc_fd_kind(meta.mode(), link) {
        ProcFdKind::Socket => {
            let Some(ino) = bracket_ino(b"socket:[") else {
                f.ty = FdType::Unsupported;
                return Some(f);
            };
            f.ino = ino;
            match sockets.get(&ino) {
                Some(NetSocket::Tuple {
                    local,
                    remote,
                    l4proto,
                    listening,
                }) => {
                    let v6 = matches!(local.0, IpAddr::V6(_));
                    f.sock.l4proto = *l4proto;
                    f.sock.sip = local.0;
                    f.sock.sport = local.1;
                    f.ty = match (*listening, v6) {
                        (true, true) => FdType::Ipv6ServSock,
                        (true, false) => FdType::Ipv4ServSock,
                        (false, true) => FdType::Ipv6Sock,
                        (false, false) => FdType::Ipv4Sock,
                    };
                    if *listening {
                        f.name = format!("{}:{}", local.0, local.1).into_bytes();
                    } else {
                        f.sock.dip = remote.0;
                        f.sock.dport = remote.1;
                        if *l4proto == L4Proto::Tcp {
                            f.flags |= fdflags::SOCKET_CONNECTED;
                        }
                        f.name = tuple_text(local.0, local.1, remote.0, remote.1);
                    }
                }
                Some(NetSocket::Unix { path }) => {
                    f.ty = FdType::UnixSock;
                    f.name = path.clone();
                    f.flags |= if path.is_empty() {
                        fdflags::ROLE_CLIENT
                    } else {
                        fdflags::ROLE_SERVER
                    };
                }
                None => f.ty = FdType::Unsupported,
            }
        }
        ProcFdKind::Fifo => {
            // a pipe's link names its inode; a named pipe's is its path
            f.ty = FdType::Fifo;
            f.ino = bracket_ino(b"pipe:[").unwrap_or(meta.ino());
        }
        // dev stays 0: libscap reads only the flags and mount id of a scanned file
        // (`scap_fd_flags_file`)
        ProcFdKind::File => f.ty = FdType::FileV2,
        ProcFdKind::Memfd => f.ty = FdType::Memfd,
        ProcFdKind::Directory => f.ty = FdType::Directory,
        ProcFdKind::Anon(ty) => {
            f.ty = ty;
            f.name.clear();
        }
    }
    Some(f)
}

/// Fields of `/proc/<tid>/status` libscap reads.
fn apply_status(t: &mut ThreadInfo, text: &str) {
    let two = |rest: &str| -> (Option<i64>, Option<i64>) {
        let mut it = rest.split_whitespace().map(|v| v.parse::<i64>().ok());
        (it.next().flatten(), it.next().flatten())
    };
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        match key {
            "Tgid" => t.pid = two(rest).0.unwrap_or(t.pid),
            "PPid" => t.ptid = two(rest).0.unwrap_or(-1),
            "Uid" => t.uid = two(rest).1.map_or(u32::MAX, |v| v as u32),
            "Gid" => t.gid = two(rest).1.map_or(u32::MAX, |v| v as u32),
            "CapInh" => t.cap_inheritable = u64::from_str_radix(rest.trim(), 16).unwrap_or(0),
            "CapPrm" => t.cap_permitted = u64::from_str_radix(rest.trim(), 16).unwrap_or(0),
            "CapEff" => t.cap_effective = u64::from_str_radix(rest.trim(), 16).unwrap_or(0),
            "VmSize" => t.vmsize_kb = two(rest).0.unwrap_or(0) as u32,
            "VmRSS" => t.vmrss_kb = two(rest).0.unwrap_or(0) as u32,
            "VmSwap" => t.vmswap_kb = two(rest).0.unwrap_or(0) as u32,
            "NSpid" => t.vtid = two(rest).1.unwrap_or(t.tid),
            "NStgid" => t.vpid = two(rest).1.unwrap_or(t.pid),
            "NSpgid" => {
                if let (Some(pgid), Some(vpgid)) = two(rest) {
                    t.pgid = pgid;
                    t.vpgid = vpgid;
                }
            }
            _ => {}
        }
    }
}

/// Fields of `/proc/<tid>/stat` after the command name: pgid, sid, tty, faults.
fn apply_stat(t: &mut ThreadInfo, text: &str) {
    let Some(close) = text.rfind(')') else {
        return;
    };
    let cols: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let col = |i: usize| cols.get(i).and_then(|v| v.parse::<i64>().ok());
    if t.pgid == -1 {
        t.pgid = col(2).unwrap_or(-1);
    }
    t.sid = col(3).unwrap_or(0);
    t.tty = col(4).unwrap_or(0) as u32;
    t.pfminor = col(7).unwrap_or(0) as u64;
    t.pfmajor = col(9).unwrap_or(0) as u64;
}

/// `/proc/<tid>/cgroup` as (controller, path) pairs (cgroup v2's unified entry has none).
fn parse_cgroups(text: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        for c in controllers.split(',') {
            let c = c.strip_prefix("name=").unwrap_or(c);
            out.push((c.as_bytes().to_vec(), path.as_bytes().to_vec()));
        }
    }
    out
}

/// One thread from `/proc/<pid>/task/<tid>`; `None` for kernel threads and vanished tasks.
fn scan_thread(dir: &Path, tid: i64, main: bool) -> Option<ThreadInfo> {
    let cmdline = read_bytes(&dir.join("cmdline"))?;
    let exepath = read_link(&dir.join("exe"));
    if cmdline.is_empty() && exepath.is_none() {
        return None; // kernel thread or zombie
    }
    let mut t = ThreadInfo {
        tid,
        pid: tid,
        ptid: -1,
        sid: 0,
        vpgid: 0,
        pgid: -1,
        ..ThreadInfo::default()
    };
    t.exepath = exepath.unwrap_or_default();
    t.comm = read_bytes(&dir.join("comm"))?;
    if t.comm.last() == Some(&b'\n') {
        t.comm.pop();
    }
    let mut argv = super::thread::split_nul(&cmdline).into_iter();
    t.exe = argv.next().unwrap_or_default();
    t.args = argv.collect();
    apply_status(&mut t, &fs::read_to_string(dir.join("status")).ok()?);
    if let Ok(stat) = fs::read_to_string(dir.join("stat")) {
        apply_stat(&mut t, &stat);
    }
    if t.vtid == -1 {
        t.vtid = t.tid;
    }
    if t.vpid == -1 {
        t.vpid = t.pid;
    }
    if let Some(env) = read_bytes(&dir.join("environ")).filter(|_| main) {
        t.set_env(&env);
    }
    if main && let Some(cwd) = read_link(&dir.join("cwd")) {
        let mut c = concatenate_paths(b"", &cwd);
        if c.last() != Some(&b'/') {
            c.push(b'/');
        }
        t.cwd = c;
    }
    if let Ok(limits) = fs::read_to_string(dir.join("limits"))
        && let Some(line) = limits.lines().find(|l| l.starts_with("Max open files"))
    {
        t.fdlimit = line
            .split_whitespace()
            .nth(3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
    }
    if let Ok(cg) = fs::read_to_string(dir.join("cgroup")) {
        t.cgroups = parse_cgroups(&cg);
    }
    t.root = read_link(&dir.join("root")).unwrap_or_default();
    t.loginuid = fs::read_to_string(dir.join("loginuid"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u32::MAX);
    if let Ok(m) = fs::metadata(dir.join("cmdline")) {
        t.clone_ts = (m.ctime() as u64) * 1_000_000_000 + m.ctime_nsec() as u64;
    }
    if let Ok(m) = fs::metadata(dir.join("exe")) {
        t.exe_ino = m.ino();
        t.exe_ino_ctime = (m.ctime() as u64) * 1_000_000_000 + m.ctime_nsec() as u64;
        t.exe_ino_mtime = (m.mtime() as u64) * 1_000_000_000 + m.mtime_nsec() as u64;
        if t.clone_ts != 0 {
            t.exe_ino_ctime_duration_clone_ts = t.clone_ts.wrapping_sub(t.exe_ino_ctime);
        }
    }
    t.flags = cl::ACTIVE
        | if t.tid == t.pid {
            0
        } else {
            cl::CLONE_THREAD | cl::CLONE_FILES
        };
    Some(t)
}

impl State {
    /// Adds thread `tid` from `/proc/<tid>` if it exists (libsinsp's `/proc` lookup of an
    /// unknown tid); its process's fds come along when it is a group leader.
    pub fn lookup_proc(&mut self, proc_root: &Path, tid: i64) -> bool {
        let dir = proc_root.join(tid.to_string());
        let Some(mut t) = fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|st| {
                st.lines()
                    .find_map(|l| l.strip_prefix("Tgid:"))
                    .and_then(|v| v.trim().parse::<i64>().ok())
            })
            .and_then(|pid| scan_thread(&dir, tid, pid == tid))
        else {
            return false;
        };
        if t.is_main_thread() {
            let sockets = net_sockets(&proc_root.join("net"));
            if let Ok(fds) = fs::read_dir(dir.join("fd")) {
                for fd in fds.flatten() {
                    let Some(n) = fd.file_name().to_str().and_then(|n| n.parse::<i64>().ok())
                    else {
                        continue;
                    };
                    if let Some(info) = read_link(&fd.path())
                        .and_then(|link| fd_from_link(&link, &fd.path(), &sockets))
                    {
                        t.fds.insert(n, info);
                    }
                }
            }
        }
        t.container_id = self
            .containers
            .id_from_cgroups(t.cgroups.iter().map(|(_, p)| p.as_slice()));
        let added = self.threads.add(t);
        self.parser.counters.added_threads += u64::from(added);
        added
    }

    /// Adds fd `fd` of process `pid` from `/proc/<pid>/fd/<fd>` to the process's fd table
    /// (`scap_get_fdinfo`, which libsinsp calls for each fd received through SCM_RIGHTS).
    /// Returns whether the fd existed; the process must be in the table.
    pub fn lookup_proc_fd(&mut self, proc_root: &Path, pid: i64, fd: i64) -> bool {
        let dir = proc_root.join(pid.to_string());
        let path = dir.join("fd").join(fd.to_string());
        let Some(link) = read_link(&path) else {
            return false;
        };
        let sockets = if link.starts_with(b"socket:[") {
            net_sockets(&dir.join("net"))
        } else {
            HashMap::new()
        };
        let Some(info) = fd_from_link(&link, &path, &sockets) else {
            return false;
        };
        let Some(table) = self.threads.fd_table_mut(pid) else {
            return false;
        };
        table.insert(fd, info);
        self.parser.counters.added_fds += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_endpoints() {
        assert_eq!(
            parse_hex_endpoint("0100007F:0050", false),
            Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 80))
        );
        assert_eq!(
            parse_hex_endpoint("00000000000000000000000001000000:1F90", true),
            Some((IpAddr::V6(Ipv6Addr::LOCALHOST), 8080))
        );
        assert_eq!(
            parse_hex_endpoint("0000000000000000FFFF00000100007F:0016", true),
            Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 22))
        );
    }

    #[test]
    fn cgroup_lines() {
        let v1 = parse_cgroups("4:cpu,cpuacct:/docker/abc\n1:name=systemd:/init.scope\n");
        assert_eq!(v1[0], (b"cpu".to_vec(), b"/docker/abc".to_vec()));
        assert_eq!(v1[2], (b"systemd".to_vec(), b"/init.scope".to_vec()));
        assert_eq!(parse_cgroups("0::/user.slice\n")[0].1, b"/user.slice");
    }

    /// libscap types a /proc fd by the mode of its file: a named FIFO is a FIFO (its path the
    /// name), an anonymous inode has no name, a scanned file has dev 0 (`handle_file`,
    /// `scap_fd_handle_regular_file`, `scap_fd_flags_file`); an fd received later (SCM_RIGHTS)
    /// goes through the same lookup, and a closed one is not added.
    #[test]
    fn proc_fds_are_typed_by_file_mode_as_libscap() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let (fifo, fifo_f, event_f) = crate::test_support::open_fifo_and_eventfd(dir.path());
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let file_f = std::fs::File::open(&file).unwrap();
        let dir_f = std::fs::File::open(dir.path()).unwrap();

        let mut s = State::new(1 << 16);
        s.users.use_host_db = false;
        let me = i64::from(std::process::id());
        let proc = Path::new("/proc");
        assert!(s.lookup_proc(proc, me));
        let bytes = |p: &Path| p.as_os_str().as_encoded_bytes().to_vec();
        let check = |s: &State| {
            let t = s.threads.get(me).expect("the test process");
            let fd = |n: i32| s.threads.fd(t, i64::from(n)).expect("fd in the table");
            let f = fd(fifo_f.as_raw_fd());
            assert_eq!((f.ty, &f.name), (FdType::Fifo, &bytes(&fifo)));
            assert_eq!(f.ino, std::fs::metadata(&fifo).unwrap().ino());
            let f = fd(file_f.as_raw_fd());
            assert_eq!((f.ty, &f.name, f.dev), (FdType::FileV2, &bytes(&file), 0));
            assert_eq!(f.ino, std::fs::metadata(&file).unwrap().ino());
            let f = fd(dir_f.as_raw_fd());
            assert_eq!((f.ty, &f.name), (FdType::Directory, &bytes(dir.path())));
            let f = fd(event_f.as_raw_fd());
            assert_eq!((f.ty, f.name.as_slice()), (FdType::Event, &b""[..]));
        };
        check(&s);
        // received through SCM_RIGHTS: the fds are looked up one by one
        for n in [
            fifo_f.as_raw_fd(),
            file_f.as_raw_fd(),
            dir_f.as_raw_fd(),
            event_f.as_raw_fd(),
        ] {
            s.threads.fd_table_mut(me).unwrap().remove(i64::from(n));
            assert!(s.lookup_proc_fd(proc, me, i64::from(n)));
        }
        check(&s);
        assert!(!s.lookup_proc_fd(proc, me, i64::from(i32::MAX)));
    }

    #[test]
    fn unknown_threads_are_read_from_proc_in_live_mode() {
        let mut s = State::new(1 << 16);
        s.users.use_host_db = false;
        let me = i64::from(std::process::id());
        assert!(s.lookup_proc(Path::new("/proc"), me));
        let t = s.threads.get(me).expect("the test process is in the table");
        assert_eq!(t.pid, me);
        assert!(!t.comm.is_empty());
        assert!(t.cwd.ends_with(b"/"));
        let exe = std::env::current_exe().unwrap();
        assert_eq!(t.exepath, exe.into_os_string().into_encoded_bytes());
        assert!(!t.fds.is_empty(), "a group leader comes with its fds");
        assert!(!s.lookup_proc(Path::new("/proc"), i64::from(i32::MAX)));
    }
}
