//! The state engine: applies one event to the tables before rules run, as libsinsp's
//! `sinsp_parser` (`reset` + `process_event`) and the container plugin's parse capability do.
//! Fd removal on close and thread removal on procexit are deferred to the next event, so that
//! the event that closes or exits still sees them.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::Event;
use crate::event::table::{self, EF_CREATES_FD, EF_DESTROYS_FD, EF_USES_FD, EventInfo};

use super::State;
use super::container::{ContainerInfo, Mount};
use super::fd::{FdInfo, FdType, L4Proto, SockInfo, flags as fdflags, sockinfo_text};
use super::path::{concatenate_paths, concatenate_paths_into};
use super::thread::{ThreadInfo, clone_flags as cl, split_nul};
use super::users::{GroupInfo, UserInfo};

const PPM_AT_FDCWD: i64 = -100;
const PPM_O_DIRECTORY: u32 = 1 << 10;
const PPM_O_CLOEXEC: u32 = 1 << 12;
const PPM_O_F_CREATED: u32 = 1 << 14;
const PPM_FD_UPPER_LAYER: u32 = 1 << 15;
const PPM_FD_LOWER_LAYER: u32 = 1 << 16;
const PPM_FD_UPPER_LAYER_CREAT: u16 = 1 << 0;
const PPM_FD_LOWER_LAYER_CREAT: u16 = 1 << 1;
const PPM_EXE_WRITABLE: u32 = 1 << 0;
const PPM_EXE_UPPER_LAYER: u32 = 1 << 1;
const PPM_EXE_FROM_MEMFD: u32 = 1 << 2;
const PPM_EXE_LOWER_LAYER: u32 = 1 << 3;
const PPM_EXVAT_AT_EMPTY_PATH: u32 = 1 << 0;
const PPM_AF_UNIX: u8 = 1;
const PPM_AF_INET: u8 = 2;
const PPM_AF_INET6: u8 = 10;
const PPM_AF_NETLINK: u32 = 16;
const PPM_RLIMIT_NOFILE: u8 = 7;
const PPM_FCNTL_F_DUPFD: u8 = 1;
const PPM_FCNTL_F_SETFD: u8 = 3;
const PPM_FCNTL_F_DUPFD_CLOEXEC: u8 = 14;
const PPM_CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
const EPOLL_CLOEXEC: u32 = 1;
const SOCK_STREAM: u32 = 1;
const SOCK_DGRAM: u32 = 2;
const SOCK_RAW: u32 = 3;
const IPPROTO_IP: u32 = 0;
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPPROTO_RAW: u32 = 255;
/// `CLONE_STALE_TIME_NS`: a child clone exit older than this replaces the entry.
const CLONE_STALE_TIME_NS: u64 = 2_000_000_000;
/// All capabilities libsinsp knows (`get_max_caps`).
const MAX_CAPS: u64 = (1 << 41) - 1;

/// What the parser handles, per event code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    StoreEnter,
    StoreEnterAlways,
    Read,
    Write,
    Open,
    OpenByHandle,
    UnshareSetns,
    Memfd,
    Clone,
    PidfdOpen,
    Execve,
    ProcExit,
    Pipe,
    Socket,
    Bind,
    Connect,
    Accept,
    Close,
    CloseRange,
    Fcntl,
    Eventfd,
    Chdir,
    Fchdir,
    Getcwd,
    Dup,
    SingleFd(FdType),
    Rlimit,
    Prlimit,
    Socketpair,
    Setresuid,
    Setuid,
    Setresgid,
    Setgid,
    Chroot,
    Setsid,
    Capset,
    UserEvt,
    GroupEvt,
    ContainerOld,
    ContainerJson,
    AsyncEvent,
}

fn kind_of(info: &EventInfo) -> Kind {
    use Kind::*;
    match info.ppme {
        "SYSCALL_OPEN_E"
        | "SYSCALL_CREAT_E"
        | "SYSCALL_OPENAT_2_E"
        | "SYSCALL_OPENAT2_E"
        | "SYSCALL_EXECVE_19_E" => StoreEnter,
        "SYSCALL_EXECVEAT_E" | "SOCKET_CONNECT_E" => StoreEnterAlways,
        "SYSCALL_READ_X" | "SYSCALL_READV_X" | "SYSCALL_PREAD_X" | "SYSCALL_PREADV_X"
        | "SOCKET_RECV_X" | "SOCKET_RECVFROM_X" | "SOCKET_RECVMSG_X" | "SOCKET_RECVMMSG_X" => Read,
        "SYSCALL_WRITE_X" | "SYSCALL_WRITEV_X" | "SYSCALL_PWRITE_X" | "SYSCALL_PWRITEV_X"
        | "SOCKET_SEND_X" | "SOCKET_SENDTO_X" | "SOCKET_SENDMSG_X" | "SOCKET_SENDMMSG_X" => Write,
        "SYSCALL_OPEN_X" | "SYSCALL_CREAT_X" | "SYSCALL_OPENAT_2_X" | "SYSCALL_OPENAT2_X" => Open,
        "SYSCALL_OPEN_BY_HANDLE_AT_X" => OpenByHandle,
        "SYSCALL_UNSHARE_X" | "SYSCALL_SETNS_X" => UnshareSetns,
        "SYSCALL_MEMFD_CREATE_X" => Memfd,
        "SYSCALL_CLONE_20_X" | "SYSCALL_FORK_20_X" | "SYSCALL_VFORK_20_X" | "SYSCALL_CLONE3_X" => {
            Clone
        }
        "SYSCALL_PIDFD_OPEN_X" => PidfdOpen,
        "SYSCALL_EXECVE_19_X" | "SYSCALL_EXECVEAT_X" => Execve,
        "PROCEXIT_1_E" => ProcExit,
        "SYSCALL_PIPE_X" | "SYSCALL_PIPE2_X" => Pipe,
        "SOCKET_SOCKET_X" => Socket,
        "SOCKET_BIND_X" => Bind,
        "SOCKET_CONNECT_X" => Connect,
        "SOCKET_ACCEPT_5_X" | "SOCKET_ACCEPT4_6_X" => Accept,
        "SYSCALL_CLOSE_X" => Close,
        "SYSCALL_CLOSE_RANGE_X" => CloseRange,
        "SYSCALL_FCNTL_X" => Fcntl,
        "SYSCALL_EVENTFD_X" | "SYSCALL_EVENTFD2_X" => Eventfd,
        "SYSCALL_CHDIR_X" => Chdir,
        "SYSCALL_FCHDIR_X" => Fchdir,
        "SYSCALL_GETCWD_X" => Getcwd,
        "SYSCALL_DUP_1_X" | "SYSCALL_DUP2_X" | "SYSCALL_DUP3_X" => Dup,
        "SYSCALL_SIGNALFD_X" | "SYSCALL_SIGNALFD4_X" => SingleFd(FdType::Signalfd),
        "SYSCALL_TIMERFD_CREATE_X" => SingleFd(FdType::Timerfd),
        "SYSCALL_INOTIFY_INIT_X" | "SYSCALL_INOTIFY_INIT1_X" => SingleFd(FdType::Inotify),
        "SYSCALL_BPF_2_X" => SingleFd(FdType::Bpf),
        "SYSCALL_USERFAULTFD_X" => SingleFd(FdType::Userfaultfd),
        "SYSCALL_IO_URING_SETUP_X" => SingleFd(FdType::IoUring),
        "SYSCALL_EPOLL_CREATE_X" | "SYSCALL_EPOLL_CREATE1_X" => SingleFd(FdType::Eventpoll),
        "SYSCALL_GETRLIMIT_X" | "SYSCALL_SETRLIMIT_X" => Rlimit,
        "SYSCALL_PRLIMIT_X" => Prlimit,
        "SOCKET_SOCKETPAIR_X" => Socketpair,
        "SYSCALL_SETRESUID_X" | "SYSCALL_SETREUID_X" => Setresuid,
        "SYSCALL_SETUID_X" => Setuid,
        "SYSCALL_SETRESGID_X" | "SYSCALL_SETREGID_X" => Setresgid,
        "SYSCALL_SETGID_X" => Setgid,
        "SYSCALL_CHROOT_X" => Chroot,
        "SYSCALL_SETSID_X" => Setsid,
        "SYSCALL_CAPSET_X" => Capset,
        "USER_ADDED_E" | "USER_DELETED_E" => UserEvt,
        "GROUP_ADDED_E" | "GROUP_DELETED_E" => GroupEvt,
        "CONTAINER_E" => ContainerOld,
        "CONTAINER_JSON_E" | "CONTAINER_JSON_2_E" => ContainerJson,
        "ASYNCEVENT_E" => AsyncEvent,
        _ => None,
    }
}

/// `get_exit_event_fd_location`: the parameter holding the fd of a USES_FD exit event.
fn exit_fd_location(ppme: &str) -> i8 {
    match ppme {
        "SYSCALL_SETNS_X"
        | "SOCKET_LISTEN_X"
        | "SOCKET_SHUTDOWN_X"
        | "SYSCALL_FCHDIR_X"
        | "SYSCALL_LSEEK_X"
        | "SYSCALL_LLSEEK_X"
        | "SYSCALL_IOCTL_3_X"
        | "SYSCALL_FSTAT_X"
        | "SYSCALL_CLOSE_X"
        | "SYSCALL_GETDENTS_X"
        | "SYSCALL_GETDENTS64_X"
        | "SYSCALL_FLOCK_X"
        | "SYSCALL_COPY_FILE_RANGE_X"
        | "SYSCALL_FCNTL_X"
        | "SYSCALL_DUP_1_X"
        | "SYSCALL_DUP2_X"
        | "SYSCALL_DUP3_X"
        | "SYSCALL_NEWFSTATAT_X"
        | "SYSCALL_FCHOWNAT_X"
        | "SYSCALL_FCHMODAT_X"
        | "SYSCALL_MKDIRAT_X"
        | "SYSCALL_UNLINKAT_2_X"
        | "SYSCALL_MKNODAT_X"
        | "SOCKET_SENDMMSG_X"
        | "SOCKET_RECVMMSG_X"
        | "SYSCALL_IO_URING_REGISTER_X"
        | "SYSCALL_IO_URING_ENTER_X"
        | "SOCKET_SETSOCKOPT_X"
        | "SOCKET_GETSOCKOPT_X"
        | "SYSCALL_FSCONFIG_X"
        | "SYSCALL_FINIT_MODULE_X"
        | "SYSCALL_FCHMOD_X"
        | "SYSCALL_FCHOWN_X" => 1,
        "SYSCALL_READ_X"
        | "SYSCALL_PREAD_X"
        | "SOCKET_BIND_X"
        | "SYSCALL_WRITE_X"
        | "SYSCALL_PWRITE_X"
        | "SOCKET_RECV_X"
        | "SOCKET_SEND_X"
        | "SOCKET_SENDTO_X"
        | "SOCKET_SENDMSG_X"
        | "SYSCALL_SENDFILE_X"
        | "SYSCALL_SPLICE_X"
        | "SYSCALL_WRITEV_X"
        | "SYSCALL_PWRITEV_X"
        | "SOCKET_CONNECT_X"
        | "SYSCALL_SYMLINKAT_X" => 2,
        "SOCKET_RECVFROM_X" | "SYSCALL_READV_X" | "SYSCALL_PREADV_X" => 3,
        "SOCKET_RECVMSG_X" => 5,
        "SYSCALL_MMAP_X" | "SYSCALL_MMAP2_X" => 8,
        _ => -1,
    }
}

/// `get_enter_event_fd_location`.
fn enter_fd_location(ppme: &str) -> usize {
    match ppme {
        "SYSCALL_MMAP_E" | "SYSCALL_MMAP2_E" => 4,
        "SYSCALL_SPLICE_E" => 1,
        _ => 0,
    }
}

/// Per-code facts the parser tests on every event (computed once from the table).
mod bit {
    /// Never handed to rules (`sinsp_evt_filter`).
    pub const FILTERED_OUT: u8 = 1 << 0;
    /// Meta events parsed without a thread.
    pub const META: u8 = 1 << 1;
    pub const SCHEDSWITCH: u8 = 1 << 2;
    /// The container plugin attaches a container id on success.
    pub const NEW_PROCESS: u8 = 1 << 3;
    pub const EXECVE_19_X: u8 = 1 << 4;
    pub const EXECVEAT_E: u8 = 1 << 5;
}

fn bits_of(info: &EventInfo) -> u8 {
    let mut b = 0;
    if matches!(
        info.ppme,
        "SYSCALL_OPEN_E"
            | "SYSCALL_OPENAT_2_E"
            | "SYSCALL_OPENAT2_E"
            | "SYSCALL_CREAT_E"
            | "SOCKET_CONNECT_E"
            | "SYSCALL_EXECVE_19_E"
            | "SYSCALL_EXECVEAT_E"
    ) {
        b |= bit::FILTERED_OUT;
    }
    if matches!(
        info.ppme,
        "USER_ADDED_E"
            | "USER_DELETED_E"
            | "GROUP_ADDED_E"
            | "GROUP_DELETED_E"
            | "CONTAINER_JSON_2_E"
            | "PLUGINEVENT_E"
            | "ASYNCEVENT_E"
    ) {
        b |= bit::META;
    }
    if info.ppme == "SCHEDSWITCH_6_E" {
        b |= bit::SCHEDSWITCH;
    }
    if matches!(
        info.ppme,
        "SYSCALL_CLONE_20_X"
            | "SYSCALL_FORK_20_X"
            | "SYSCALL_VFORK_20_X"
            | "SYSCALL_CLONE3_X"
            | "SYSCALL_EXECVE_16_X"
            | "SYSCALL_EXECVE_17_X"
            | "SYSCALL_EXECVE_18_X"
            | "SYSCALL_EXECVE_19_X"
            | "SYSCALL_EXECVEAT_X"
            | "SYSCALL_CHROOT_X"
    ) {
        b |= bit::NEW_PROCESS;
    }
    if info.ppme == "SYSCALL_EXECVE_19_X" {
        b |= bit::EXECVE_19_X;
    }
    if info.ppme == "SYSCALL_EXECVEAT_E" {
        b |= bit::EXECVEAT_E;
    }
    b
}

/// How many name buffers of removed fds the parser keeps for reuse.
const SPARE_NAMES: usize = 16;

/// Per-code dispatch data, computed once per [`Parser`].
#[derive(Debug, Clone)]
pub struct Parser {
    tables: &'static Tables,
    /// Boot time in ns since the epoch (machine info block), for pid-namespace start times.
    pub boot_ts_epoch: u64,
    /// Events seen so far (`evt.num` of the last one).
    pub nevts: u64,
    /// Timestamp of the first non-meta event.
    pub first_ts: u64,
    /// Timestamp of the previous event.
    pub last_ts: u64,
    tid_to_remove: Option<i64>,
    fds_to_remove: Option<(i64, Vec<i64>)>,
    /// The emptied vector of the last `fds_to_remove`, reused.
    fds_buf: Vec<i64>,
    /// Name buffers of removed fds, reused by the next opens (at most [`SPARE_NAMES`]).
    spare_names: Vec<Vec<u8>>,
    /// Table activity for the `state_counters` metrics.
    pub counters: StateCounters,
}

/// libsinsp's state counters that falco-rs keeps (`n_added_threads`, ...): threads added to
/// the table (the process-list seeding and /proc lookups included, as libsinsp's
/// `add_thread`) and removed from it, fds the parser added and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounters {
    pub added_threads: u64,
    pub removed_threads: u64,
    pub added_fds: u64,
    pub removed_fds: u64,
    /// Enter events kept for their exit (`store_event`), and those not kept for want of a
    /// thread.
    pub stored_evts: u64,
    pub store_evts_drops: u64,
    /// Exit events that found their enter event (`retrieve_enter_event`), and those that did
    /// not (none stored or not valid, or one of another syscall).
    pub retrieved_evts: u64,
    pub retrieve_evts_drops: u64,
}

/// Per-code dispatch tables, derived once from the (immutable) event table.
#[derive(Debug)]
struct Tables {
    kinds: Vec<Kind>,
    bits: Vec<u8>,
    exit_fd: Vec<i8>,
    enter_fd: Vec<u8>,
}

fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let all = table::all();
        Tables {
            kinds: all.iter().map(kind_of).collect(),
            bits: all.iter().map(bits_of).collect(),
            exit_fd: all.iter().map(|i| exit_fd_location(i.ppme)).collect(),
            enter_fd: all
                .iter()
                .map(|i| enter_fd_location(i.ppme) as u8)
                .collect(),
        }
    })
}

impl Parser {
    /// Keeps the name buffers of a removed fd for the next opens.
    fn recycle_names(&mut self, f: FdInfo) {
        for mut buf in [f.name, f.name_raw] {
            if self.spare_names.len() < SPARE_NAMES && buf.capacity() != 0 {
                buf.clear();
                self.spare_names.push(buf);
            }
        }
    }

    /// An empty buffer for an fd name (a recycled one when there is one).
    fn name_buf(&mut self) -> Vec<u8> {
        self.spare_names.pop().unwrap_or_default()
    }
}

impl Default for Parser {
    fn default() -> Parser {
        Parser {
            tables: tables(),
            boot_ts_epoch: 0,
            nevts: 0,
            first_ts: 0,
            last_ts: 0,
            tid_to_remove: None,
            fds_to_remove: None,
            fds_buf: Vec::new(),
            spare_names: Vec::new(),
            counters: StateCounters::default(),
        }
    }
}

/// What rules and outputs need to know about the event just parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventCtx {
    /// `evt.num`.
    pub num: u64,
    /// The thread of the event, when it is in the table after parsing.
    pub tid: Option<i64>,
    /// The event operates on fds (CREATES_FD, USES_FD or DESTROYS_FD).
    pub fd_event: bool,
    /// Parsing changed the name of the event's fd.
    pub fd_name_changed: bool,
    /// Timestamp of the previous event (for `evt.deltatime`).
    pub prev_ts: u64,
    /// Timestamp of the first event (for `evt.reltime`).
    pub first_ts: u64,
    /// CPU the event was captured on (set by the caller from the event block).
    pub cpu: u16,
    /// libsinsp parses the event but never hands it to rules (`sinsp_evt_filter`): the
    /// TOCTOU and fallback enter events (open, openat, openat2, creat, connect, execve,
    /// execveat). The caller also filters `SCAP_DF_STATE_ONLY` capture events.
    pub filtered_out: bool,
}

fn param<'a>(ev: &Event<'a>, i: usize) -> Option<&'a [u8]> {
    ev.param(i).filter(|b| !b.is_empty())
}

fn p_i64(ev: &Event<'_>, i: usize) -> Option<i64> {
    let b = param(ev, i)?;
    Some(match b.len() {
        8 => i64::from_le_bytes(b.try_into().ok()?),
        4 => i64::from(i32::from_le_bytes(b.try_into().ok()?)),
        2 => i64::from(i16::from_le_bytes(b.try_into().ok()?)),
        1 => i64::from(b[0] as i8),
        _ => return None,
    })
}

fn p_u64(ev: &Event<'_>, i: usize) -> Option<u64> {
    let b = param(ev, i)?;
    Some(match b.len() {
        8 => u64::from_le_bytes(b.try_into().ok()?),
        4 => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
        2 => u64::from(u16::from_le_bytes(b.try_into().ok()?)),
        1 => u64::from(b[0]),
        _ => return None,
    })
}

fn p_u32(ev: &Event<'_>, i: usize) -> Option<u32> {
    p_u64(ev, i).map(|v| v as u32)
}

/// A string parameter without its NUL (empty when absent).
fn p_str<'a>(ev: &Event<'a>, i: usize) -> &'a [u8] {
    ev.param_cstr(i).unwrap_or(b"")
}

/// `get_syscall_return_value`, for events that have one.
pub fn return_value(ev: &Event<'_>) -> Option<i64> {
    let info = ev.info();
    if info.code == table::PPME_GENERIC_X
        || !info.is_syscall()
        || info.direction() != table::Direction::Exit
        || ev.nparams() == 0
    {
        return None;
    }
    let b = ev.param(0)?;
    Some(match b.len() {
        4 => i64::from(i32::from_le_bytes(b.try_into().ok()?)),
        8 => i64::from_le_bytes(b.try_into().ok()?),
        _ => 0,
    })
}

fn ip4(b: &[u8]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

fn ip6(b: &[u8]) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    IpAddr::V6(Ipv6Addr::from(a))
}

fn is_v4_mapped(b: &[u8]) -> bool {
    b[..10].iter().all(|x| *x == 0) && b[10] == 0xff && b[11] == 0xff
}

fn port(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

/// A decoded socket tuple as libsinsp stores it (IPv4-mapped IPv6 tuples become IPv4).
#[derive(Debug, Clone, Copy)]
enum Tuple<'a> {
    Inet {
        v6: bool,
        sip: IpAddr,
        sport: u16,
        dip: IpAddr,
        dport: u16,
    },
    Unix {
        source: u64,
        dest: u64,
        path: &'a [u8],
    },
}

/// `is_socktuple_valid` + decoding.
fn decode_tuple(b: &[u8]) -> Option<Tuple<'_>> {
    let (&family, body) = b.split_first()?;
    match family {
        PPM_AF_INET if body.len() >= 12 => Some(Tuple::Inet {
            v6: false,
            sip: ip4(&body[0..4]),
            sport: port(&body[4..6]),
            dip: ip4(&body[6..10]),
            dport: port(&body[10..12]),
        }),
        PPM_AF_INET6 if body.len() >= 36 => {
            let (s, d) = (&body[0..16], &body[18..34]);
            if is_v4_mapped(s) && is_v4_mapped(d) {
                Some(Tuple::Inet {
                    v6: false,
                    sip: ip4(&s[12..16]),
                    sport: port(&body[16..18]),
                    dip: ip4(&d[12..16]),
                    dport: port(&body[34..36]),
                })
            } else {
                Some(Tuple::Inet {
                    v6: true,
                    sip: ip6(s),
                    sport: port(&body[16..18]),
                    dip: ip6(d),
                    dport: port(&body[34..36]),
                })
            }
        }
        PPM_AF_UNIX if body.len() >= 16 => {
            let path = &body[16..];
            let path = match memchr::memchr(0, path) {
                Some(n) => &path[..n],
                None => path,
            };
            Some(Tuple::Unix {
                source: u64::from_le_bytes(body[0..8].try_into().ok()?),
                dest: u64::from_le_bytes(body[8..16].try_into().ok()?),
                path,
            })
        }
        _ => None,
    }
}

/// A decoded sockaddr: `(is_v6_not_mapped, ip, port)` or a unix path.
enum Addr<'a> {
    Inet { v6: bool, ip: IpAddr, port: u16 },
    Unix(&'a [u8]),
}

fn decode_addr(b: &[u8]) -> Option<Addr<'_>> {
    let (&family, body) = b.split_first()?;
    match family {
        PPM_AF_INET if body.len() >= 6 => Some(Addr::Inet {
            v6: false,
            ip: ip4(&body[0..4]),
            port: port(&body[4..6]),
        }),
        PPM_AF_INET6 if body.len() >= 18 => {
            if is_v4_mapped(&body[0..16]) {
                Some(Addr::Inet {
                    v6: false,
                    ip: ip4(&body[12..16]),
                    port: port(&body[16..18]),
                })
            } else {
                Some(Addr::Inet {
                    v6: true,
                    ip: ip6(&body[0..16]),
                    port: port(&body[16..18]),
                })
            }
        }
        PPM_AF_UNIX => {
            let p = match memchr::memchr(0, body) {
                Some(n) => &body[..n],
                None => body,
            };
            Some(Addr::Unix(p))
        }
        _ => None,
    }
}

/// The event's fd in `threads` (a free function so the interfaces stay borrowable).
fn event_fd_in(threads: &mut super::ThreadTable, tid: i64) -> Option<&mut FdInfo> {
    let fd = threads.get(tid)?.lastevent_fd;
    if fd == -1 {
        return None;
    }
    threads.fd_table_mut(tid)?.get_mut(fd)
}

/// The fds of every SCM_RIGHTS control message in recvmsg control data (x86-64 `cmsghdr`:
/// u64 length, i32 level, i32 type, data; headers 8-aligned), walked and bounds-checked as
/// libsinsp's `PPM_CMSG_FIRSTHDR`/`ppm_cmsg_nxthdr` do: only the type is checked, and a
/// malformed SCM_RIGHTS message (length out of the buffer, not whole ints, more than the
/// kernel's 253 fds) ends the walk.
pub fn scm_rights_fds(ctrl: &[u8]) -> Vec<i32> {
    const HDR: usize = 16;
    const SCM_RIGHTS: i32 = 1;
    const SCM_MAX_FD: usize = 253;
    let align = |n: usize| n.wrapping_add(7) & !7;
    let mut fds = Vec::new();
    let mut off = 0usize;
    if ctrl.len() < HDR {
        return fds;
    }
    loop {
        let h = &ctrl[off..off + HDR];
        let len = u64::from_le_bytes(h[..8].try_into().unwrap_or_default()) as usize;
        let ty = i32::from_le_bytes(h[12..16].try_into().unwrap_or_default());
        if ty == SCM_RIGHTS {
            if len < HDR || len > ctrl.len() - off {
                break;
            }
            let data = &ctrl[off + HDR..off + len];
            if !data.len().is_multiple_of(4) || data.len() / 4 > SCM_MAX_FD {
                break;
            }
            fds.extend(
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
        }
        // ppm_cmsg_nxthdr: room for this message (aligned) and the next header.
        let room = ctrl.len() - off;
        if len < HDR || len > room {
            break;
        }
        let needed = HDR + (align(len) - len);
        if room < needed || room - needed < len {
            break;
        }
        off += align(len);
        if off + HDR > ctrl.len() {
            break;
        }
    }
    fds
}

/// `update_ipv4_addresses_and_ports` / the IPv6 flavour: returns whether anything changed.
fn set_addresses(
    fd: &mut FdInfo,
    sip: IpAddr,
    sport: u16,
    dip: IpAddr,
    dport: u16,
    overwrite_dest: bool,
) -> bool {
    let s = &mut fd.sock;
    if fd.ty.is_ip_socket()
        && ((sip == s.sip && sport == s.sport && dip == s.dip && dport == s.dport)
            || (dip == s.sip && dport == s.sport && sip == s.dip && sport == s.dport))
    {
        return false;
    }
    let mut changed = false;
    if s.sip != sip {
        s.sip = sip;
        changed = true;
    }
    if s.sport != sport {
        s.sport = sport;
        changed = true;
    }
    if s.dip.is_unspecified() || (overwrite_dest && s.dip != dip) {
        s.dip = dip;
        changed = true;
    }
    if s.dport == 0 || (overwrite_dest && s.dport != dport) {
        s.dport = dport;
        changed = true;
    }
    changed
}

/// Unix tuple fd name: `<hex src>-><hex dst> <path>`.
fn unix_tuple_name(source: u64, dest: u64, path: &[u8]) -> Vec<u8> {
    let mut out = format!("{source:x}->{dest:x} ").into_bytes();
    super::path::sanitize_into(&mut out, path);
    out
}

/// The text of a sockaddr parameter as `get_param_as_str` prints it (used for bind names).
fn addr_text(b: &[u8]) -> Vec<u8> {
    match decode_addr(b) {
        Some(Addr::Inet { ip, port, .. }) => format!("{ip}:{port}").into_bytes(),
        Some(Addr::Unix(p)) => {
            let mut out = Vec::new();
            super::path::sanitize_into(&mut out, p);
            out
        }
        None => match b.first() {
            Some(f) => format!("family {f}").into_bytes(),
            None => b"<NA>".to_vec(),
        },
    }
}

impl State {
    /// Applies the event to the state (libsinsp order: deferred removals of the previous
    /// event, reset, parse, container plugin parse) and returns the per-event context.
    pub fn process(&mut self, ev: &Event<'_>) -> EventCtx {
        let ts = ev.ts();
        let info = ev.info();
        self.parser.nevts += 1;
        let prev_ts = self.parser.last_ts;
        if self.parser.first_ts == 0 && !info.is_metaevent() {
            self.parser.first_ts = ts;
        }
        self.apply_deferred();

        let code = usize::from(info.code);
        let kind = self
            .parser
            .tables
            .kinds
            .get(code)
            .copied()
            .unwrap_or(Kind::None);
        let bits = self.parser.tables.bits.get(code).copied().unwrap_or(0);
        let fd_event = info.flags & (EF_CREATES_FD | EF_USES_FD | EF_DESTROYS_FD) != 0;
        let tid = ev.tid() as i64;

        let mut ctx = EventCtx {
            num: self.parser.nevts,
            tid: None,
            fd_event,
            fd_name_changed: false,
            prev_ts,
            first_ts: self.parser.first_ts,
            cpu: 0,
            filtered_out: bits & bit::FILTERED_OUT != 0,
        };

        let skip_reset = info.flags & table::EF_SKIPPARSERESET != 0;
        let has_thread = if bits & bit::META != 0 || skip_reset {
            false
        } else {
            self.reset(ev, kind, bits)
        };

        // `m_oldname`: the name of the event's fd when `reset` looked it up; fds created by
        // the event start with an empty old name (dup/fcntl clones keep the original's). Only
        // the parsers that rename an existing fd need the old name itself.
        let renames = matches!(kind, Kind::Read | Kind::Write | Kind::Connect | Kind::Bind);
        let old_fd = if has_thread && fd_event {
            self.threads.get(tid).and_then(|t| {
                (t.lastevent_fd != -1 && self.threads.fd(t, t.lastevent_fd).is_some())
                    .then_some(t.lastevent_fd)
            })
        } else {
            None
        };
        let old_name = match old_fd {
            Some(_) if renames => self.event_fd(tid).map(|f| f.name.clone()),
            _ => None,
        };

        let res = return_value(ev);
        match kind {
            Kind::StoreEnter => {
                if param(ev, 0).is_some() {
                    self.store_enter(tid, ev);
                }
            }
            Kind::StoreEnterAlways => self.store_enter(tid, ev),
            Kind::Read => self.parse_rw(tid, ev, res, true),
            Kind::Write => self.parse_rw(tid, ev, res, false),
            Kind::Open => self.parse_open(tid, ev, res),
            Kind::OpenByHandle => self.parse_open(tid, ev, res),
            Kind::UnshareSetns => self.parse_unshare_setns(tid, ev, res),
            Kind::Memfd => self.parse_memfd(tid, ev, res),
            Kind::Clone => self.parse_clone(tid, ev, res),
            Kind::PidfdOpen => self.parse_pidfd_open(tid, ev, res),
            Kind::Execve => self.parse_execve(tid, ev, res),
            Kind::ProcExit => {
                if self.threads.contains(tid) {
                    self.parser.tid_to_remove = Some(tid);
                }
            }
            Kind::Pipe => self.parse_pipe(tid, ev, res),
            Kind::Socket => self.parse_socket(tid, ev, res),
            Kind::Bind => self.parse_bind(tid, ev, res),
            Kind::Connect => self.parse_connect(tid, ev, res),
            Kind::Accept => self.parse_accept(tid, ev, res),
            Kind::Close => {
                if res.is_some_and(|r| r >= 0) && self.event_fd(tid).is_some() {
                    let fd = self.threads.get(tid).map_or(-1, |t| t.lastevent_fd);
                    let mut fds = std::mem::take(&mut self.parser.fds_buf);
                    fds.clear();
                    fds.push(fd);
                    self.parser.fds_to_remove = Some((tid, fds));
                }
            }
            Kind::CloseRange => self.parse_close_range(tid, ev, res),
            Kind::Fcntl => self.parse_fcntl(tid, ev, res),
            Kind::Eventfd => {
                if let Some(fd) = res.filter(|r| *r >= 0) {
                    let mut fdi = FdInfo::new(FdType::Event, Vec::new());
                    if info.ppme == "SYSCALL_EVENTFD2_X" {
                        fdi.open_flags = p_u32(ev, 1).unwrap_or(0) & 0xffff;
                    }
                    self.add_fd(tid, fd, fdi);
                }
            }
            Kind::Chdir => {
                if res.is_some_and(|r| r >= 0) {
                    let path = p_str(ev, 1).to_vec();
                    self.update_cwd(tid, &path);
                }
            }
            Kind::Fchdir => {
                if res.is_some_and(|r| r >= 0)
                    && let Some(name) = self.event_fd(tid).map(|f| f.name.clone())
                {
                    self.update_cwd(tid, &name);
                }
            }
            Kind::Getcwd => {
                if res.is_some_and(|r| r >= 0) {
                    let path = p_str(ev, 1).to_vec();
                    self.update_cwd(tid, &path);
                }
            }
            Kind::Dup => self.parse_dup(tid, ev, res),
            Kind::SingleFd(ty) => self.parse_single_fd(tid, ev, res, ty),
            Kind::Rlimit => {
                if res.is_some_and(|r| r >= 0)
                    && param(ev, 3).map(|b| b[0]) == Some(PPM_RLIMIT_NOFILE)
                    && let Some(cur) = p_i64(ev, 1).filter(|c| *c != -1)
                    && let Some(m) = self.threads.main_thread_mut(tid)
                {
                    m.fdlimit = cur;
                }
            }
            Kind::Prlimit => {
                if res == Some(0)
                    && param(ev, 6).map(|b| b[0]) == Some(PPM_RLIMIT_NOFILE)
                    && let Some(cur) = p_i64(ev, 1).filter(|c| *c != -1)
                {
                    let target = p_i64(ev, 5).filter(|t| *t != 0).unwrap_or(tid);
                    if let Some(m) = self.threads.main_thread_mut(target) {
                        m.fdlimit = cur;
                    }
                }
            }
            Kind::Socketpair => self.parse_socketpair(tid, ev, res),
            Kind::Setresuid | Kind::Setuid => {
                let idx = if kind == Kind::Setuid { 1 } else { 2 };
                if res == Some(0)
                    && let Some(uid) = p_u32(ev, idx)
                    && let Some(t) = self.threads.get_mut(tid)
                {
                    t.uid = uid;
                    let (cid, gid) = (t.container_id.clone(), t.gid);
                    self.users.touch(&cid, uid, gid);
                }
            }
            Kind::Setresgid | Kind::Setgid => {
                let idx = if kind == Kind::Setgid { 1 } else { 2 };
                if res == Some(0)
                    && let Some(gid) = p_u32(ev, idx)
                    && let Some(t) = self.threads.get_mut(tid)
                {
                    t.gid = gid;
                    let cid = t.container_id.clone();
                    self.users.touch(&cid, u32::MAX, gid);
                }
            }
            Kind::Chroot => {
                if res == Some(0) {
                    let path = p_str(ev, 1).to_vec();
                    let resolved = if path.is_empty() || path.first() == Some(&b'/') {
                        path
                    } else {
                        let cwd = self
                            .threads
                            .get(tid)
                            .map(|t| self.threads.cwd(t).to_vec())
                            .unwrap_or_default();
                        concatenate_paths(&cwd, &path)
                    };
                    if let Some(t) = self.threads.get_mut(tid) {
                        t.root = resolved;
                    }
                }
            }
            Kind::Setsid => {
                if let Some(r) = res.filter(|r| *r >= 0)
                    && let Some(t) = self.threads.get_mut(tid)
                {
                    t.sid = r;
                }
            }
            Kind::Capset => {
                if res.is_some_and(|r| r >= 0)
                    && let Some(t) = self.threads.get_mut(tid)
                {
                    t.cap_inheritable = p_u64(ev, 1).unwrap_or(0);
                    t.cap_permitted = p_u64(ev, 2).unwrap_or(0);
                    t.cap_effective = p_u64(ev, 3).unwrap_or(0);
                }
            }
            Kind::UserEvt => self.parse_user_evt(ev),
            Kind::GroupEvt => self.parse_group_evt(ev),
            Kind::ContainerOld => self.parse_container_old(ev),
            Kind::ContainerJson => {
                if let Some(json) = ev.param_cstr(0) {
                    self.add_container_json(json);
                }
            }
            Kind::AsyncEvent => self.parse_async(ev),
            Kind::None => {}
        }

        // Container plugin: new processes get their container id.
        if bits & bit::NEW_PROCESS != 0 && res.is_some_and(|r| r >= 0) {
            self.attach_container_id(tid);
        }

        if let Some(t) = self.threads.get(tid) {
            ctx.tid = Some(tid);
            if has_thread
                && fd_event
                && t.lastevent_fd != -1
                && let Some(f) = self.threads.fd(t, t.lastevent_fd)
            {
                ctx.fd_name_changed = match old_fd {
                    Some(fd) if fd == t.lastevent_fd => old_name.is_some_and(|old| f.name != old),
                    _ if matches!(kind, Kind::Dup | Kind::Fcntl) => false,
                    _ => !f.name.is_empty(),
                };
            }
        }
        if let Some(t) = self.threads.get_mut(tid) {
            // `event_cleanup`: a stored enter event lives until the next exit event.
            if info.direction() == table::Direction::Exit && !t.last_event_data.is_empty() {
                t.last_event_data.clear();
                t.lastevent_data_valid = false;
            }
            t.prevevent_ts = t.lastevent_ts;
            t.lastevent_ts = ts;
        }
        self.parser.last_ts = ts;
        ctx
    }

    /// Removals deferred by the previous event (procexit, close).
    fn apply_deferred(&mut self) {
        if let Some(tid) = self.parser.tid_to_remove.take()
            && self.threads.remove(tid).is_some()
        {
            self.parser.counters.removed_threads += 1;
        }
        if let Some((tid, fds)) = self.parser.fds_to_remove.take() {
            if let Some(table) = self.threads.fd_table_mut(tid) {
                for &fd in &fds {
                    if let Some(f) = table.remove(fd) {
                        self.parser.counters.removed_fds += 1;
                        self.parser.recycle_names(f);
                    }
                }
            }
            self.parser.fds_buf = fds;
        }
    }

    /// The fd the current event refers to ("last event fd" of its thread), if in the table.
    pub fn event_fd(&self, tid: i64) -> Option<&FdInfo> {
        let t = self.threads.get(tid)?;
        if t.lastevent_fd == -1 {
            return None;
        }
        self.threads.fd(t, t.lastevent_fd)
    }

    fn event_fd_mut(&mut self, tid: i64) -> Option<&mut FdInfo> {
        event_fd_in(&mut self.threads, tid)
    }

    /// `sinsp_parser::reset`: finds (or creates) the thread and the event's fd. Returns
    /// whether the event has a thread.
    fn reset(&mut self, ev: &Event<'_>, kind: Kind, bits: u8) -> bool {
        let info = ev.info();
        let tid = ev.tid() as i64;
        let schedswitch = bits & bit::SCHEDSWITCH != 0;
        let query_os = !matches!(kind, Kind::Clone | Kind::ProcExit) && !schedswitch;
        let present = if query_os {
            self.threads.contains(tid) || {
                if let Some(root) = self.proc_root.clone() {
                    // Live mode: look the thread up in /proc before inventing a placeholder.
                    self.lookup_proc(&root, tid);
                }
                self.threads.get_or_placeholder(tid).is_some()
            }
        } else {
            self.threads.contains(tid)
        };
        if !present || schedswitch {
            return present;
        }
        let code = info.code;
        let uses_fd = info.flags & EF_USES_FD != 0;
        let enter_loc = usize::from(self.parser.tables.enter_fd[usize::from(code)]);
        let exit_loc = self.parser.tables.exit_fd[usize::from(code)];
        let Some(t) = self.threads.get_mut(tid) else {
            return false;
        };
        if query_os {
            t.flags |= cl::ACTIVE;
        }
        if info.direction() == table::Direction::Enter {
            t.lastevent_fd = -1;
            t.lastevent_type = code;
            if uses_fd && let Some(fd) = p_i64(ev, enter_loc) {
                t.lastevent_fd = fd;
            }
            return true;
        }
        let execveat_pair = bits & bit::EXECVE_19_X != 0
            && self
                .parser
                .tables
                .bits
                .get(usize::from(t.lastevent_type))
                .is_some_and(|b| b & bit::EXECVEAT_E != 0);
        if execveat_pair || u32::from(code) == u32::from(t.lastevent_type) + 1 {
            t.lastevent_data_valid = true;
        } else {
            t.lastevent_data_valid = false;
            t.lastevent_fd = -1;
        }
        if !uses_fd {
            return true;
        }
        if t.lastevent_fd == -1
            && exit_loc >= 0
            && let Some(fd) = p_i64(ev, exit_loc as usize)
        {
            t.lastevent_fd = fd;
        }
        true
    }

    fn store_enter(&mut self, tid: i64, ev: &Event<'_>) {
        if let Some(t) = self.threads.get_mut(tid) {
            t.last_event_data.clear();
            t.last_event_data.extend_from_slice(ev.record());
            self.parser.counters.stored_evts += 1;
        } else {
            self.parser.counters.store_evts_drops += 1;
        }
    }

    /// `retrieve_enter_event`: the stored enter event matching this exit, if valid.
    ///
    /// The stored event is handed over (libsinsp frees it after every exit event anyway,
    /// `event_cleanup`).
    fn enter_event(&mut self, tid: i64, exit: &Event<'_>) -> Option<Vec<u8>> {
        let t = self.threads.get_mut(tid)?;
        if !t.lastevent_data_valid || t.last_event_data.is_empty() {
            self.parser.counters.retrieve_evts_drops += 1;
            return None;
        }
        let data = std::mem::take(&mut t.last_event_data);
        // The stored record is one that decoded (`store_enter`): only its type is read here;
        // the callers decode it.
        let enter_type = data.get(20..22).map(|b| u16::from_le_bytes([b[0], b[1]]))?;
        let ok = (exit.info().ppme == "SYSCALL_EXECVE_19_X"
            && table::by_code(enter_type).is_some_and(|i| i.ppme == "SYSCALL_EXECVEAT_E"))
            || u32::from(enter_type) + 1 == u32::from(exit.event_type());
        if ok {
            self.parser.counters.retrieved_evts += 1;
        } else {
            self.parser.counters.retrieve_evts_drops += 1;
        }
        ok.then_some(data)
    }

    /// Hands a consumed enter event's buffer back to its thread, empty (so no stored enter
    /// event, as after `retrieve_enter_event`), for the next enter event to reuse.
    fn recycle_enter(&mut self, tid: i64, buf: Option<Vec<u8>>) {
        if let Some(mut buf) = buf
            && let Some(t) = self.threads.get_mut(tid)
            && t.last_event_data.capacity() == 0
        {
            buf.clear();
            t.last_event_data = buf;
        }
    }

    /// `sinsp_threadinfo::add_fd`: adds to the process table and sets the last event fd.
    fn add_fd(&mut self, tid: i64, fd: i64, info: FdInfo) {
        // A main thread owns its table: one look-up.
        if let Some(t) = self.threads.get_mut(tid)
            && t.is_main_thread()
        {
            t.fds.insert(fd, info);
            t.lastevent_fd = fd;
            self.parser.counters.added_fds += 1;
            return;
        }
        if let Some(table) = self.threads.fd_table_mut(tid) {
            table.insert(fd, info);
            self.parser.counters.added_fds += 1;
        }
        if let Some(t) = self.threads.get_mut(tid) {
            t.lastevent_fd = fd;
        }
    }

    fn cwd_of(&self, tid: i64) -> Vec<u8> {
        self.threads
            .get(tid)
            .map(|t| self.threads.cwd(t).to_vec())
            .unwrap_or_else(|| b"./".to_vec())
    }

    /// `update_cwd`: the main thread's cwd becomes `cwd` resolved against the thread's.
    fn update_cwd(&mut self, tid: i64, cwd: &[u8]) {
        let Some(t) = self.threads.get(tid) else {
            return;
        };
        let base = t.cwd.clone();
        let mut new = concatenate_paths(&base, cwd);
        if new.last() != Some(&b'/') {
            new.push(b'/');
        }
        if let Some(m) = self.threads.main_thread_mut(tid) {
            m.cwd = new;
        }
    }

    /// `parse_dirfd`: the directory a relative `name` is resolved against.
    fn dirfd_base(&self, tid: i64, name: &[u8], dirfd: i64) -> Option<Vec<u8>> {
        if name.first() == Some(&b'/') {
            return Some(b".".to_vec());
        }
        let t = self.threads.get(tid)?;
        if dirfd == PPM_AT_FDCWD {
            return Some(self.threads.cwd(t).to_vec());
        }
        let f = self.threads.fd(t, dirfd)?;
        let mut n = f.name.clone();
        if !n.is_empty() && n.last() != Some(&b'/') {
            n.push(b'/');
        }
        Some(n)
    }

    fn parse_open(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if !self.threads.contains(tid) {
            return;
        }
        let ppme = ev.info().ppme;
        let enter_bytes = if ppme == "SYSCALL_OPEN_BY_HANDLE_AT_X" {
            None
        } else {
            self.enter_event(tid, ev)
        };
        let enter = enter_bytes.as_deref().and_then(|b| Event::decode(b).ok());
        let fd = res.unwrap_or(-1);
        let mut dev = 0u32;
        let mut ino = 0u64;
        let (name, flags, sdir): (Vec<u8>, u32, Cow<'static, [u8]>) = match ppme {
            "SYSCALL_OPEN_X" => {
                let mut name = p_str(ev, 1).to_vec();
                let mut flags = p_u32(ev, 2).unwrap_or(0);
                if let Some(d) = p_u32(ev, 4) {
                    dev = d;
                    ino = p_u64(ev, 5).unwrap_or(0);
                }
                if let Some(e) = &enter {
                    let en = p_str(e, 0);
                    if param(e, 0).is_some() && en != b"<NA>" {
                        name = en.to_vec();
                        flags = p_u32(e, 1).unwrap_or(0) | (flags & !(PPM_O_F_CREATED - 1));
                    }
                }
                (name, flags, Cow::Owned(self.cwd_of(tid)))
            }
            "SYSCALL_CREAT_X" => {
                let mut name = p_str(ev, 1).to_vec();
                let mut flags = 0;
                if let Some(d) = p_u32(ev, 3) {
                    dev = d;
                    if let Some(i) = p_u64(ev, 4) {
                        ino = i;
                        if let Some(cf) = p_u64(ev, 5).map(|v| v as u16) {
                            if cf & PPM_FD_UPPER_LAYER_CREAT != 0 {
                                flags |= PPM_FD_UPPER_LAYER;
                            } else if cf & PPM_FD_LOWER_LAYER_CREAT != 0 {
                                flags |= PPM_FD_LOWER_LAYER;
                            }
                        }
                    }
                }
                if let Some(e) = &enter {
                    let en = p_str(e, 0);
                    if param(e, 0).is_some() && en != b"<NA>" {
                        name = en.to_vec();
                    }
                }
                (name, flags, Cow::Owned(self.cwd_of(tid)))
            }
            "SYSCALL_OPENAT_2_X" | "SYSCALL_OPENAT2_X" => {
                let mut name = if param(ev, 2).is_some() {
                    let mut n = self.parser.name_buf();
                    n.extend_from_slice(p_str(ev, 2));
                    n
                } else {
                    b"<NA>".to_vec()
                };
                let mut flags = p_u32(ev, 3).unwrap_or(0);
                let (dev_i, ino_i) = if ppme == "SYSCALL_OPENAT_2_X" {
                    (5, 6)
                } else {
                    (6, 7)
                };
                if let Some(i) = p_u64(ev, ino_i) {
                    dev = p_u32(ev, dev_i).unwrap_or(0);
                    ino = i;
                }
                let mut dirfd = p_i64(ev, 1);
                if let Some(e) = &enter {
                    let en = p_str(e, 1);
                    if param(e, 1).is_some() && en != b"<NA>" {
                        name = en.to_vec();
                        flags = p_u32(e, 2).unwrap_or(0) | (flags & !(PPM_O_F_CREATED - 1));
                        dirfd = p_i64(e, 0);
                    }
                }
                let sdir = match dirfd {
                    // `dirfd_base` of an absolute name, without allocating.
                    Some(_) if name.first() == Some(&b'/') => Cow::Borrowed(&b"."[..]),
                    Some(d) => Cow::Owned(
                        self.dirfd_base(tid, &name, d)
                            .unwrap_or_else(|| b"<UNKNOWN>".to_vec()),
                    ),
                    None => Cow::Borrowed(&b""[..]),
                };
                (name, flags, sdir)
            }
            "SYSCALL_OPEN_BY_HANDLE_AT_X" => {
                let flags = p_u32(ev, 2).unwrap_or(0);
                let name = p_str(ev, 3).to_vec();
                dev = p_u32(ev, 4).unwrap_or(0);
                ino = p_u64(ev, 5).unwrap_or(0);
                (name, flags, Cow::Borrowed(&b""[..]))
            }
            _ => return,
        };
        self.recycle_enter(tid, enter_bytes);
        if fd >= 0 {
            let mut fullpath = self.parser.name_buf();
            concatenate_paths_into(&mut fullpath, &sdir, &name);
            let ty = if flags & PPM_O_DIRECTORY != 0 {
                FdType::Directory
            } else {
                FdType::FileV2
            };
            let mut fdi = FdInfo::new(ty, fullpath);
            fdi.name_raw = name;
            fdi.open_flags = flags;
            fdi.dev = dev;
            fdi.ino = ino;
            if flags & PPM_FD_UPPER_LAYER != 0 {
                fdi.flags |= fdflags::OVERLAY_UPPER;
            }
            if flags & PPM_FD_LOWER_LAYER != 0 {
                fdi.flags |= fdflags::OVERLAY_LOWER;
            }
            self.add_fd(tid, fd, fdi);
        }
    }

    fn parse_clone(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        match res {
            Some(0) => self.parse_clone_child(tid, ev),
            Some(child) if child > 0 => self.parse_clone_caller(tid, ev, child),
            _ => {}
        }
    }

    /// Fields shared by both clone parsers: the new thread from the event parameters.
    fn child_from_event(&self, ev: &Event<'_>, child_tid: i64) -> ThreadInfo {
        let mut c = ThreadInfo {
            tid: child_tid,
            ..ThreadInfo::default()
        };
        c.exe = p_str(ev, 1).to_vec();
        c.set_args(ev.param(2).unwrap_or(b""));
        c.comm = match param(ev, 13) {
            Some(_) => p_str(ev, 13).to_vec(),
            None => c.exe.clone(),
        };
        c.fdlimit = p_i64(ev, 7).unwrap_or(0);
        if param(ev, 12).is_some() {
            c.pfmajor = p_u64(ev, 8).unwrap_or(0);
            c.pfminor = p_u64(ev, 9).unwrap_or(0);
            c.vmsize_kb = p_u32(ev, 10).unwrap_or(0);
            c.vmrss_kb = p_u32(ev, 11).unwrap_or(0);
            c.vmswap_kb = p_u32(ev, 12).unwrap_or(0);
        }
        c.uid = p_u32(ev, 16).unwrap_or(u32::MAX);
        c.gid = p_u32(ev, 17).unwrap_or(u32::MAX);
        if let Some(cg) = param(ev, 14) {
            c.set_cgroups(cg);
        }
        c.clone_ts = ev.ts();
        c
    }

    /// Attributes a child takes from a valid caller (or lookup thread).
    fn inherit(c: &mut ThreadInfo, from: &ThreadInfo) {
        c.exepath = from.exepath.clone();
        c.exe_writable = from.exe_writable;
        c.exe_upper_layer = from.exe_upper_layer;
        c.exe_lower_layer = from.exe_lower_layer;
        c.exe_from_memfd = from.exe_from_memfd;
        c.root = from.root.clone();
        c.sid = from.sid;
        c.vpgid = from.vpgid;
        c.pgid = from.pgid;
        c.tty = from.tty;
        c.loginuid = from.loginuid;
        c.cap_permitted = from.cap_permitted;
        c.cap_inheritable = from.cap_inheritable;
        c.cap_effective = from.cap_effective;
        c.exe_ino = from.exe_ino;
        c.exe_ino_ctime = from.exe_ino_ctime;
        c.exe_ino_mtime = from.exe_ino_mtime;
        c.exe_ino_ctime_duration_clone_ts = from.exe_ino_ctime_duration_clone_ts;
    }

    /// Copies the fds of `from`'s process, marked as cloned.
    fn cloned_fds(&self, from: &ThreadInfo) -> super::FdTable {
        let mut table = self.threads.fd_table(from).clone();
        let fds: Vec<i64> = table.iter().map(|(fd, _)| fd).collect();
        for fd in fds {
            if let Some(f) = table.get_mut(fd) {
                f.flags |= fdflags::IS_CLONED;
            }
        }
        table
    }

    fn parse_clone_caller(&mut self, caller_tid: i64, ev: &Event<'_>, child_tid: i64) {
        if self.threads.get_or_placeholder(caller_tid).is_none() {
            return;
        }
        let mut valid_caller = true;
        if let Some(caller) = self.threads.get_mut(caller_tid)
            && caller.is_invalid()
        {
            valid_caller = false;
            caller.pid = p_i64(ev, 4).unwrap_or(-1);
            caller.ptid = p_i64(ev, 5).unwrap_or(-1);
            if param(ev, 19).is_some() {
                caller.vtid = p_i64(ev, 18).unwrap_or(-1);
                caller.vpid = p_i64(ev, 19).unwrap_or(-1);
            } else {
                caller.vtid = caller_tid;
                caller.vpid = -1;
            }
            let info = self.threads.remove(caller_tid).expect("caller present");
            self.threads.add(info);
        }
        let flags = p_u32(ev, 15).unwrap_or(0);
        let Some(caller) = self.threads.get(caller_tid) else {
            return;
        };
        if flags & (cl::CHILD_IN_PIDNS | cl::CLONE_NEWPID | cl::CLONE_PARENT) != 0
            || caller_tid != caller.vtid
        {
            return;
        }
        if flags & cl::CLONE_VFORK != 0 || ev.info().ppme == "SYSCALL_VFORK_20_X" {
            return;
        }
        if let Some(existing) = self.threads.get(child_tid) {
            if existing.flags & cl::CLONE_INVERTED != 0 {
                return;
            }
            self.threads.remove(child_tid);
        }
        let Some(caller) = self.threads.get(caller_tid) else {
            return;
        };
        let mut c = self.child_from_event(ev, child_tid);
        c.flags = flags;
        if flags & cl::CLONE_THREAD == 0 {
            if valid_caller {
                c.fds = self.cloned_fds(caller);
                c.cwd = self.threads.cwd(caller).to_vec();
                c.env = caller.env.clone();
            }
            c.pid = child_tid;
            c.ptid = caller.tid;
        } else {
            c.pid = caller.pid;
            c.ptid = caller.ptid;
            c.flags |= cl::CLONE_FILES;
            c.lastexec_ts = caller.lastexec_ts;
        }
        c.vtid = c.tid;
        c.vpid = c.pid;
        c.pidns_init_start_ts = self.parser.boot_ts_epoch;
        if valid_caller {
            Self::inherit(&mut c, caller);
        }
        let (uid, gid) = (c.uid, c.gid);
        if !valid_caller && let Some(caller) = self.threads.get_mut(caller_tid) {
            caller.exe = c.exe.clone();
            caller.comm = c.comm.clone();
            caller.args = c.args.clone();
        }
        self.users.touch("", uid, gid);
        if self.threads.add(c) {
            self.parser.counters.added_threads += 1;
        }
    }

    fn parse_clone_child(&mut self, child_tid: i64, ev: &Event<'_>) {
        if let Some(t) = self.threads.get(child_tid)
            && t.clone_ts != 0
        {
            if ev.ts().wrapping_sub(t.clone_ts) < CLONE_STALE_TIME_NS {
                return;
            }
            self.threads.remove(child_tid);
        }
        let mut c = self.child_from_event(ev, child_tid);
        c.pid = p_i64(ev, 4).unwrap_or(-1);
        c.ptid = p_i64(ev, 5).unwrap_or(-1);
        if param(ev, 19).is_some() {
            c.vtid = p_i64(ev, 18).unwrap_or(-1);
            c.vpid = p_i64(ev, 19).unwrap_or(-1);
        } else {
            c.vtid = c.tid;
            c.vpid = -1;
        }
        c.flags = p_u32(ev, 15).unwrap_or(0) | cl::CLONE_INVERTED;
        let leader = c.flags & cl::CLONE_THREAD == 0;
        let lookup_tid = if leader {
            c.ptid
        } else {
            c.flags |= cl::CLONE_FILES;
            c.pid
        };
        if self.threads.get_or_placeholder(lookup_tid).is_none() {
            return;
        }
        let mut valid = true;
        if self
            .threads
            .get(lookup_tid)
            .is_some_and(ThreadInfo::is_invalid)
        {
            valid = false;
            if !leader && let Some(mut l) = self.threads.remove(lookup_tid) {
                l.pid = c.pid;
                l.ptid = c.ptid;
                l.vpid = c.vpid;
                l.vtid = l.vpid;
                l.exe = c.exe.clone();
                l.comm = c.comm.clone();
                l.args = c.args.clone();
                self.threads.add(l);
            }
        }
        if valid && let Some(l) = self.threads.get(lookup_tid) {
            Self::inherit(&mut c, l);
            if leader {
                c.fds = self.cloned_fds(l);
                c.cwd = self.threads.cwd(l).to_vec();
                c.env = l.env.clone();
            } else {
                c.lastexec_ts = l.lastexec_ts;
            }
        }
        if c.flags & (cl::CHILD_IN_PIDNS | cl::CLONE_NEWPID) != 0 || c.tid != c.vtid {
            if let Some(ts) = p_u64(ev, 20) {
                c.pidns_init_start_ts = ts + self.parser.boot_ts_epoch;
            }
        } else {
            c.pidns_init_start_ts = self.parser.boot_ts_epoch;
        }
        let (uid, gid) = (c.uid, c.gid);
        self.users.touch("", uid, gid);
        if self.threads.add(c) {
            self.parser.counters.added_threads += 1;
        }
    }

    fn parse_execve(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if res.is_none_or(|r| r < 0) || !self.threads.contains(tid) {
            return;
        }
        let enter_bytes = if param(ev, 27).is_none() {
            self.enter_event(tid, ev)
        } else {
            None
        };
        let exepath_from_enter = enter_bytes
            .as_deref()
            .and_then(|b| Event::decode(b).ok())
            .and_then(|enter| self.exepath_from_enter(tid, &enter));
        let boot = self.parser.boot_ts_epoch;
        let _ = boot;
        let Some(mut t) = self.threads.remove(tid) else {
            return;
        };
        t.exe = p_str(ev, 1).to_vec();
        t.lastexec_ts = ev.ts();
        t.comm = match param(ev, 13) {
            Some(_) => p_str(ev, 13).to_vec(),
            None => t.exe.clone(),
        };
        t.set_args(ev.param(2).unwrap_or(b""));
        t.pid = p_i64(ev, 4).unwrap_or(t.pid);
        let relink = t.is_invalid();
        if relink {
            t.ptid = p_i64(ev, 5).unwrap_or(-1);
            if t.flags & cl::CHILD_IN_PIDNS == 0 {
                t.vtid = t.tid;
                t.vpid = t.pid;
            }
        }
        t.fdlimit = p_i64(ev, 7).unwrap_or(t.fdlimit);
        if param(ev, 12).is_some() {
            t.pfmajor = p_u64(ev, 8).unwrap_or(0);
            t.pfminor = p_u64(ev, 9).unwrap_or(0);
            t.vmsize_kb = p_u32(ev, 10).unwrap_or(0);
            t.vmrss_kb = p_u32(ev, 11).unwrap_or(0);
            t.vmswap_kb = p_u32(ev, 12).unwrap_or(0);
        }
        if let Some(env) = param(ev, 15) {
            t.set_env(env);
        }
        if let Some(cg) = param(ev, 14) {
            t.set_cgroups(cg);
        }
        if let Some(tty) = p_u32(ev, 16) {
            t.tty = tty;
        }
        if param(ev, 27).is_some() {
            t.exepath = p_str(ev, 27).to_vec();
        } else if let Some(p) = exepath_from_enter {
            t.exepath = p;
        }
        if let Some(v) = p_i64(ev, 17) {
            t.vpgid = v;
        }
        if let Some(v) = p_u32(ev, 18) {
            t.loginuid = v;
        }
        if let Some(f) = p_u32(ev, 19) {
            t.exe_writable = f & PPM_EXE_WRITABLE != 0;
            t.exe_upper_layer = f & PPM_EXE_UPPER_LAYER != 0;
            t.exe_from_memfd = f & PPM_EXE_FROM_MEMFD != 0;
            t.exe_lower_layer = f & PPM_EXE_LOWER_LAYER != 0;
        }
        if param(ev, 22).is_some() {
            t.cap_inheritable = p_u64(ev, 20).unwrap_or(0);
            t.cap_permitted = p_u64(ev, 21).unwrap_or(0);
            t.cap_effective = p_u64(ev, 22).unwrap_or(0);
        }
        if param(ev, 25).is_some() {
            t.exe_ino = p_u64(ev, 23).unwrap_or(0);
            t.exe_ino_ctime = p_u64(ev, 24).unwrap_or(0);
            t.exe_ino_mtime = p_u64(ev, 25).unwrap_or(0);
            if t.clone_ts != 0 {
                t.exe_ino_ctime_duration_clone_ts = t.clone_ts.wrapping_sub(t.exe_ino_ctime);
            }
            if t.pidns_init_start_ts != 0 && t.exe_ino_ctime > t.pidns_init_start_ts {
                t.exe_ino_ctime_duration_pidns_start = t.exe_ino_ctime - t.pidns_init_start_ts;
            }
        }
        if let Some(uid) = p_u32(ev, 26) {
            t.uid = uid;
        }
        t.pgid = p_i64(ev, 28).unwrap_or(-1);
        if let Some(gid) = p_u32(ev, 29) {
            t.gid = gid;
        }
        t.fds.close_cloexec();
        let keep = t.flags & (cl::PIPE_SRC | cl::PIPE_DST | cl::IS_MAIN_THREAD);
        let inverted = t.flags & cl::CLONE_INVERTED;
        t.flags = cl::ACTIVE | keep | inverted | cl::NAME_CHANGED;
        let (cid, uid, gid, pid) = (t.container_id.clone(), t.uid, t.gid, t.pid);
        if relink {
            self.threads.add(t);
        } else {
            self.threads.add_unlinked(t);
        }
        // Non-main fds live on the main thread; close its CLOEXEC fds too.
        if pid != tid
            && let Some(table) = self.threads.fd_table_mut(tid)
        {
            table.close_cloexec();
        }
        self.users.touch(&cid, uid, gid);
        // Other threads of the group are gone after a successful exec.
        let others: Vec<i64> = self
            .threads
            .iter()
            .filter(|o| o.pid == pid && o.tid != tid && o.tid != pid)
            .map(|o| o.tid)
            .collect();
        for o in others {
            if self.threads.remove(o).is_some() {
                self.parser.counters.removed_threads += 1;
            }
        }
    }

    /// The exe path of an exec from its stored enter event (old captures without
    /// `trusted_exepath`).
    fn exepath_from_enter(&self, tid: i64, enter: &Event<'_>) -> Option<Vec<u8>> {
        match enter.info().ppme {
            "SYSCALL_EXECVE_19_E" => {
                let filename = p_str(enter, 0);
                if filename == b"<NA>" {
                    Some(b"<NA>".to_vec())
                } else {
                    Some(concatenate_paths(&self.cwd_of(tid), filename))
                }
            }
            "SYSCALL_EXECVEAT_E" => {
                let dirfd = p_i64(enter, 0).unwrap_or(PPM_AT_FDCWD);
                let pathname = p_str(enter, 1);
                let flags = p_u32(enter, 2).unwrap_or(0);
                let sdir = self
                    .dirfd_base(tid, pathname, dirfd)
                    .unwrap_or_else(|| b"<UNKNOWN>".to_vec());
                if (flags & PPM_EXVAT_AT_EMPTY_PATH == 0 && pathname == b"<NA>")
                    || sdir == b"<UNKNOWN>"
                {
                    Some(b"<NA>".to_vec())
                } else if flags & PPM_EXVAT_AT_EMPTY_PATH != 0 {
                    Some(concatenate_paths(b"", &sdir))
                } else {
                    Some(concatenate_paths(&sdir, pathname))
                }
            }
            _ => None,
        }
    }

    fn parse_pipe(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if res.is_none_or(|r| r < 0) || !self.threads.contains(tid) {
            return;
        }
        let fd1 = p_i64(ev, 1).unwrap_or(-1);
        let fd2 = p_i64(ev, 2).unwrap_or(-1);
        let ino = p_u64(ev, 3).unwrap_or(0);
        let flags = if ev.info().ppme == "SYSCALL_PIPE2_X" {
            p_u32(ev, 4).unwrap_or(0)
        } else {
            0
        };
        for fd in [fd1, fd2] {
            let mut f = FdInfo::new(FdType::Fifo, Vec::new());
            f.ino = ino;
            f.open_flags = flags;
            self.add_fd(tid, fd, f);
        }
    }

    fn parse_socketpair(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if res.is_none_or(|r| r < 0) || !self.threads.contains(tid) {
            return;
        }
        let fd1 = p_i64(ev, 1).unwrap_or(-1);
        let fd2 = p_i64(ev, 2).unwrap_or(-1);
        if fd1 == fd2 {
            return;
        }
        let mut f = FdInfo::new(FdType::UnixSock, Vec::new());
        f.sock.source = p_u64(ev, 3).unwrap_or(0);
        f.sock.dest = p_u64(ev, 4).unwrap_or(0);
        self.add_fd(tid, fd1, f.clone());
        if let Some(table) = self.threads.fd_table_mut(tid) {
            table.insert(fd2, f);
            self.parser.counters.added_fds += 1;
        }
        if let Some(t) = self.threads.get_mut(tid) {
            t.lastevent_fd = fd1;
        }
    }

    /// `add_socket`.
    fn add_socket(&mut self, tid: i64, fd: i64, domain: u32, ty: u32, proto: u32, flags: u32) {
        let mut f = FdInfo::new(FdType::Unknown, Vec::new());
        f.open_flags = flags;
        if domain == u32::from(PPM_AF_UNIX) {
            f.ty = FdType::UnixSock;
        } else if domain == u32::from(PPM_AF_INET) || domain == u32::from(PPM_AF_INET6) {
            f.ty = if domain == u32::from(PPM_AF_INET) {
                FdType::Ipv4Sock
            } else {
                FdType::Ipv6Sock
            };
            f.sock.l4proto = match proto {
                IPPROTO_TCP if ty == SOCK_RAW => L4Proto::Raw,
                IPPROTO_TCP => L4Proto::Tcp,
                IPPROTO_UDP if ty == SOCK_RAW => L4Proto::Raw,
                IPPROTO_UDP => L4Proto::Udp,
                IPPROTO_IP if ty & 0xff == SOCK_STREAM => L4Proto::Tcp,
                IPPROTO_IP if ty & 0xff == SOCK_DGRAM => L4Proto::Udp,
                IPPROTO_ICMP if ty == SOCK_RAW => L4Proto::Raw,
                IPPROTO_ICMP => L4Proto::Icmp,
                IPPROTO_RAW => L4Proto::Raw,
                _ => L4Proto::Unknown,
            };
        } else if domain == PPM_AF_NETLINK {
            f.ty = FdType::Netlink;
        }
        self.add_fd(tid, fd, f);
    }

    fn parse_socket(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        let Some(fd) = res.filter(|r| *r >= 0) else {
            return;
        };
        if !self.threads.contains(tid) {
            return;
        }
        let domain = p_u32(ev, 1).unwrap_or(0);
        let ty = p_u32(ev, 2).unwrap_or(0);
        let proto = p_u32(ev, 3).unwrap_or(0);
        let flags = p_u32(ev, 4).unwrap_or(0);
        self.add_socket(tid, fd, domain, ty, proto, flags);
    }

    fn parse_bind(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if res.is_none_or(|r| r < 0) {
            return;
        }
        let Some(addr_bytes) = param(ev, 1) else {
            return;
        };
        let Some(addr) = decode_addr(addr_bytes) else {
            return;
        };
        let Some(f) = self.event_fd_mut(tid) else {
            return;
        };
        if let Addr::Inet { v6, ip, port } = addr
            && port > 0
        {
            f.ty = if v6 {
                FdType::Ipv6ServSock
            } else {
                FdType::Ipv4ServSock
            };
            f.sock.sip = ip;
            f.sock.sport = port;
            f.flags |= fdflags::ROLE_SERVER;
        }
        f.name = addr_text(addr_bytes);
    }

    fn parse_connect(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if self.event_fd(tid).is_none() {
            return;
        }
        let retval = res.unwrap_or(0);
        const EINPROGRESS: i64 = 115;
        if retval < 0 && retval != -EINPROGRESS {
            return;
        }
        let enter_bytes = self.enter_event(tid, ev);
        let enter = enter_bytes.as_deref().and_then(|b| Event::decode(b).ok());
        let enter_addr = enter
            .as_ref()
            .and_then(|e| param(e, 1))
            .filter(|b| decode_addr(b).is_some())
            .map(<[u8]>::to_vec);
        let exit_addr = param(ev, 3).filter(|b| decode_addr(b).is_some());
        let tuple = param(ev, 1);
        let Some(f) = self.event_fd_mut(tid) else {
            return;
        };
        f.set_connected();
        let Some(tuple) = tuple else {
            if let Some(a) = enter_addr.as_deref().and_then(decode_addr) {
                match a {
                    Addr::Inet { v6, ip, port } => {
                        f.ty = if v6 {
                            FdType::Ipv6Sock
                        } else {
                            FdType::Ipv4Sock
                        };
                        f.sock.dip = ip;
                        f.sock.dport = port;
                    }
                    Addr::Unix(_) => {
                        f.name = addr_text(enter_addr.as_deref().unwrap_or_default());
                    }
                }
            }
            return;
        };
        let Some(t) = decode_tuple(tuple) else {
            return;
        };
        match t {
            Tuple::Inet {
                v6,
                sip,
                sport,
                mut dip,
                mut dport,
            } => {
                // Prefer the enter event's address when the exit's matches the tuple.
                if let (
                    Some(Addr::Inet {
                        ip: xip, port: xp, ..
                    }),
                    Some(ea),
                ) = (exit_addr.and_then(decode_addr), enter_addr.as_deref())
                    && xip == dip
                    && xp == dport
                    && let Some(Addr::Inet { ip, port, .. }) = decode_addr(ea)
                {
                    dip = ip;
                    dport = port;
                }
                f.ty = if v6 {
                    FdType::Ipv6Sock
                } else {
                    FdType::Ipv4Sock
                };
                let changed = set_addresses(f, sip, sport, dip, dport, true);
                if changed && f.is_role_server() && f.is_udp_socket() {
                    f.sock.swap();
                }
                f.name = sockinfo_text(f.ty, &f.sock);
            }
            Tuple::Unix { source, dest, path } => {
                if f.ty != FdType::UnixSock {
                    return;
                }
                let mut dpath = path.to_vec();
                if let (Some(Addr::Unix(xp)), Some(ea)) =
                    (exit_addr.and_then(decode_addr), enter_addr.as_deref())
                    && xp == path
                    && let Some(Addr::Unix(ep)) = decode_addr(ea)
                {
                    dpath = ep.to_vec();
                }
                f.sock.source = source;
                f.sock.dest = dest;
                f.name = unix_tuple_name(source, dest, &dpath);
            }
        }
        if f.is_role_none() {
            f.flags |= fdflags::ROLE_CLIENT;
        }
    }

    fn parse_accept(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        let Some(fd) = res.filter(|r| *r >= 0) else {
            return;
        };
        let Some(t) = self.threads.get_mut(tid) else {
            return;
        };
        t.lastevent_fd = fd;
        let Some(tb) = param(ev, 1) else {
            return;
        };
        let Some(tuple) = decode_tuple(tb) else {
            return;
        };
        let mut f = FdInfo::default();
        match tuple {
            Tuple::Inet {
                v6,
                sip,
                sport,
                dip,
                dport,
            } => {
                f.ty = if v6 {
                    FdType::Ipv6Sock
                } else {
                    FdType::Ipv4Sock
                };
                f.sock.sip = sip;
                f.sock.sport = sport;
                f.sock.dip = dip;
                f.sock.dport = dport;
                f.sock.l4proto = L4Proto::Tcp;
                f.name = super::fd::tuple_text(sip, sport, dip, dport);
            }
            Tuple::Unix { source, dest, path } => {
                f.ty = FdType::UnixSock;
                f.sock.source = source;
                f.sock.dest = dest;
                f.name = unix_tuple_name(source, dest, path);
            }
        }
        if ev.info().ppme == "SOCKET_ACCEPT4_6_X" {
            f.open_flags = p_u32(ev, 5).unwrap_or(0) & PPM_O_CLOEXEC;
        }
        f.flags = fdflags::ROLE_SERVER;
        f.set_connected();
        self.add_fd(tid, fd, f);
    }

    fn parse_rw(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>, read: bool) {
        self.parse_rw_fd(tid, ev, res, read);
        if read && res.is_some_and(|r| r >= 0) {
            self.parse_recvmsg_rights(tid, ev);
        }
    }

    /// `process_recvmsg_ancillary_data`: on a unix socket, each fd a recvmsg/recvmmsg received
    /// through SCM_RIGHTS is added to the receiver's process from `/proc` (live only: a
    /// capture's platform has no fd lookup).
    fn parse_recvmsg_rights(&mut self, tid: i64, ev: &Event<'_>) {
        let Some(root) = self.proc_root.clone() else {
            return;
        };
        let idx = match ev.info().ppme {
            "SOCKET_RECVMSG_X" if ev.nparams() >= 5 => 4,
            "SOCKET_RECVMMSG_X" if ev.nparams() >= 6 => 5,
            _ => return,
        };
        if !self.event_fd(tid).is_some_and(|f| f.ty == FdType::UnixSock) {
            return;
        }
        let Some(ctrl) = param(ev, idx) else {
            return;
        };
        let fds = scm_rights_fds(ctrl);
        if fds.is_empty() {
            return;
        }
        let Some(pid) = self.threads.get(tid).map(|t| t.pid) else {
            return;
        };
        for fd in fds {
            self.lookup_proc_fd(&root, pid, i64::from(fd));
        }
    }

    fn parse_rw_fd(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>, read: bool) {
        let ppme = ev.info().ppme;
        if !read
            && matches!(
                ppme,
                "SOCKET_SEND_X" | "SOCKET_SENDTO_X" | "SOCKET_SENDMSG_X"
            )
            && self.event_fd(tid).is_none()
            && self.threads.contains(tid)
            && res.is_some_and(|r| r >= 0)
        {
            // `infer_send_sendto_sendmsg_fdinfo`: a UDP socket we never saw created.
            if let (Some(fd), Some(family)) = (p_i64(ev, 2), param(ev, 4).map(|b| b[0]))
                && (family == PPM_AF_INET || family == PPM_AF_INET6)
            {
                self.add_socket(tid, fd, u32::from(family), SOCK_DGRAM, IPPROTO_UDP, 0);
            }
        }
        if res.is_none_or(|r| r < 0) {
            return;
        }
        let tuple_idx = match ppme {
            "SOCKET_RECVFROM_X" => Some(2),
            "SOCKET_RECVMSG_X" => Some(3),
            "SOCKET_RECVMMSG_X" | "SOCKET_RECV_X" => Some(4),
            "SOCKET_SEND_X" | "SOCKET_SENDTO_X" | "SOCKET_SENDMSG_X" | "SOCKET_SENDMMSG_X" => {
                Some(4)
            }
            _ => None,
        };
        let flags = ev.info().flags;
        let ok_flag = if read {
            flags & table::EF_READS_FROM_FD != 0
        } else {
            flags & table::EF_WRITES_TO_FD != 0
        };
        let tuple = tuple_idx.and_then(|i| param(ev, i)).map(<[u8]>::to_vec);
        let ports = self.bound_and_client_ports(tid);
        let interfaces = &self.interfaces;
        let Some(f) = event_fd_in(&mut self.threads, tid) else {
            return;
        };
        if f.ty.is_ip_socket() {
            f.set_connected();
        }
        if !ok_flag {
            return;
        }
        let Some(tuple) = tuple else {
            return;
        };
        if !f.name.is_empty() && f.is_tcp_socket() {
            return;
        }
        let Some(t) = decode_tuple(&tuple) else {
            return;
        };
        match t {
            Tuple::Inet {
                v6,
                sip,
                sport,
                dip,
                dport,
            } => {
                if f.ty == FdType::Ipv4ServSock && !v6 {
                    // keep the bound socket's protocol
                }
                f.ty = if v6 {
                    FdType::Ipv6Sock
                } else {
                    FdType::Ipv4Sock
                };
                if !set_addresses(f, sip, sport, dip, dport, false) {
                    return;
                }
                if f.sock.l4proto == L4Proto::Unknown {
                    f.sock.l4proto = L4Proto::Udp;
                }
                interfaces.update_fd(f);
                if f.is_role_none() {
                    let (bound, client) = &ports;
                    // `set_net_role_by_guessing`: server if it owns the port and the client
                    // port is not one of its own, else by direction.
                    let server =
                        bound.contains(&f.sock.dport) && (!client.contains(&f.sock.sport) || read);
                    f.flags |= if server {
                        fdflags::ROLE_SERVER
                    } else {
                        fdflags::ROLE_CLIENT
                    };
                }
                if (read && f.is_role_client()) || (!read && f.is_role_server()) {
                    f.sock.swap();
                }
                f.name = sockinfo_text(f.ty, &f.sock);
            }
            Tuple::Unix { source, dest, path } => {
                f.ty = FdType::UnixSock;
                f.sock.source = source;
                f.sock.dest = dest;
                f.name = path.to_vec();
            }
        }
    }

    /// Ports of the process's server sockets, and client ports of its connections
    /// (`is_bound_to_port`, `uses_client_port`).
    fn bound_and_client_ports(&self, tid: i64) -> (Vec<u16>, Vec<u16>) {
        let mut bound = Vec::new();
        let mut client = Vec::new();
        if let Some(t) = self.threads.get(tid) {
            for (_, f) in self.threads.fd_table(t).iter() {
                match f.ty {
                    FdType::Ipv4ServSock | FdType::Ipv6ServSock => bound.push(f.sock.sport),
                    FdType::Ipv4Sock | FdType::Ipv6Sock => {
                        if f.is_role_server() {
                            bound.push(f.sock.dport);
                        } else if f.is_role_client() {
                            client.push(f.sock.sport);
                        }
                    }
                    _ => {}
                }
            }
        }
        (bound, client)
    }

    fn parse_close_range(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if res.is_none_or(|r| r < 0) {
            return;
        }
        let first = i64::from(p_u32(ev, 1).unwrap_or(0));
        let last = i64::from(p_u32(ev, 2).unwrap_or(0));
        let flags = p_u32(ev, 3).unwrap_or(0);
        let Some(table) = self.threads.fd_table_mut(tid) else {
            return;
        };
        let in_range: Vec<i64> = table
            .iter()
            .map(|(fd, _)| fd)
            .filter(|fd| *fd >= 0 && *fd >= first && *fd <= last)
            .collect();
        for fd in in_range {
            if flags & PPM_CLOSE_RANGE_CLOEXEC != 0 {
                if let Some(f) = table.get_mut(fd) {
                    f.open_flags |= PPM_O_CLOEXEC;
                }
            } else if table.remove(fd).is_some() {
                self.parser.counters.removed_fds += 1;
            }
        }
    }

    fn parse_fcntl(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        let cmd = param(ev, 2).map_or(0, |b| b[0]);
        if !matches!(
            cmd,
            PPM_FCNTL_F_DUPFD | PPM_FCNTL_F_DUPFD_CLOEXEC | PPM_FCNTL_F_SETFD
        ) {
            return;
        }
        let Some(r) = res.filter(|r| *r >= 0) else {
            return;
        };
        let Some(f) = self.event_fd_mut(tid) else {
            return;
        };
        if cmd == PPM_FCNTL_F_SETFD {
            f.clear_cloexec();
            if p_u64(ev, 3).unwrap_or(0) & 1 != 0 {
                f.open_flags |= PPM_O_CLOEXEC;
            }
            return;
        }
        let mut n = f.clone();
        n.clear_cloexec();
        if cmd == PPM_FCNTL_F_DUPFD_CLOEXEC {
            n.open_flags |= PPM_O_CLOEXEC;
        }
        self.add_fd(tid, r, n);
    }

    fn parse_dup(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        let Some(r) = res.filter(|r| *r >= 0) else {
            return;
        };
        let Some(old) = self.event_fd(tid).cloned() else {
            return;
        };
        if let Some(t) = self.threads.get_mut(tid) {
            if r == 0 {
                t.flags |= cl::PIPE_DST;
            }
            if r == 1 {
                t.flags |= cl::PIPE_SRC;
            }
        }
        let mut n = old;
        n.clear_cloexec();
        if ev.info().ppme == "SYSCALL_DUP3_X" && p_u32(ev, 3).unwrap_or(0) & PPM_O_CLOEXEC != 0 {
            n.open_flags |= PPM_O_CLOEXEC;
        }
        self.add_fd(tid, r, n);
    }

    fn parse_single_fd(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>, ty: FdType) {
        let Some(fd) = res.filter(|r| *r >= 0) else {
            return;
        };
        if !self.threads.contains(tid) {
            return;
        }
        let mut f = FdInfo::new(ty, Vec::new());
        match ev.info().ppme {
            "SYSCALL_INOTIFY_INIT1_X" | "SYSCALL_SIGNALFD4_X" => {
                f.open_flags = p_u32(ev, 1).unwrap_or(0) & 0xffff;
            }
            "SYSCALL_TIMERFD_CREATE_X" => f.open_flags = p_u32(ev, 2).unwrap_or(0) & 0xff,
            "SYSCALL_EPOLL_CREATE1_X" if p_u32(ev, 1).unwrap_or(0) & EPOLL_CLOEXEC != 0 => {
                f.open_flags |= PPM_O_CLOEXEC;
            }
            _ => {}
        }
        self.add_fd(tid, fd, f);
    }

    fn parse_memfd(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if !self.threads.contains(tid) {
            return;
        }
        let fd = res.unwrap_or(-1);
        let mut f = FdInfo::default();
        if fd >= 0 {
            f.ty = FdType::Memfd;
            f.name = p_str(ev, 1).to_vec();
            f.open_flags = p_u32(ev, 2).unwrap_or(0);
        }
        self.add_fd(tid, fd, f);
    }

    fn parse_pidfd_open(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        let Some(fd) = res.filter(|r| *r >= 0) else {
            return;
        };
        if !self.threads.contains(tid) {
            return;
        }
        let pid = p_i64(ev, 1).unwrap_or(0);
        let mut f = FdInfo::new(FdType::Pidfd, format!("/proc/{pid}").into_bytes());
        f.open_flags = p_u32(ev, 2).unwrap_or(0);
        f.pid = pid;
        self.add_fd(tid, fd, f);
    }

    fn parse_unshare_setns(&mut self, tid: i64, ev: &Event<'_>, res: Option<i64>) {
        if res.is_none_or(|r| r < 0) {
            return;
        }
        let flags = if ev.info().ppme == "SYSCALL_UNSHARE_X" {
            p_u32(ev, 1).unwrap_or(0)
        } else {
            p_u32(ev, 2).unwrap_or(0)
        };
        if flags & cl::CLONE_NEWUSER == 0 {
            return;
        }
        if let Some(t) = self.threads.get_mut(tid) {
            t.cap_inheritable = MAX_CAPS;
            t.cap_permitted = MAX_CAPS;
            t.cap_effective = MAX_CAPS;
        }
    }

    fn parse_user_evt(&mut self, ev: &Event<'_>) {
        let uid = p_u32(ev, 0).unwrap_or(u32::MAX);
        let cid = String::from_utf8_lossy(p_str(ev, 5)).into_owned();
        if ev.info().ppme == "USER_ADDED_E" {
            self.users.add_user(
                &cid,
                UserInfo {
                    uid,
                    gid: p_u32(ev, 1).unwrap_or(u32::MAX),
                    name: p_str(ev, 2).to_vec(),
                    homedir: p_str(ev, 3).to_vec(),
                    shell: p_str(ev, 4).to_vec(),
                },
            );
        } else {
            self.users.remove_user(&cid, uid);
        }
    }

    fn parse_group_evt(&mut self, ev: &Event<'_>) {
        let gid = p_u32(ev, 0).unwrap_or(u32::MAX);
        let name = p_str(ev, 1).to_vec();
        let cid = String::from_utf8_lossy(p_str(ev, 2)).into_owned();
        if ev.info().ppme == "GROUP_ADDED_E" {
            self.users.add_group(&cid, GroupInfo { gid, name });
        } else {
            self.users.remove_group(&cid, gid);
        }
    }

    fn parse_container_old(&mut self, ev: &Event<'_>) {
        let id = String::from_utf8_lossy(p_str(ev, 0)).into_owned();
        let ty = p_u32(ev, 1).unwrap_or(0xffff);
        self.containers.insert(ContainerInfo {
            id,
            ty: container_type_name(ty).to_owned(),
            name: String::from_utf8_lossy(p_str(ev, 2)).into_owned(),
            image: String::from_utf8_lossy(p_str(ev, 3)).into_owned(),
            ..ContainerInfo::default()
        });
    }

    fn parse_async(&mut self, ev: &Event<'_>) {
        let name = p_str(ev, 1);
        let data = p_str(ev, 2);
        match name {
            b"container" => self.add_container_json(data),
            b"container_removed" => {
                if let Some(info) = container_from_json(data) {
                    self.containers.remove(&info.id);
                }
            }
            _ => {}
        }
    }

    fn add_container_json(&mut self, json: &[u8]) {
        if let Some(info) = container_from_json(json) {
            self.containers.insert(info);
        }
    }

    /// The container plugin's `on_new_process`.
    fn attach_container_id(&mut self, tid: i64) {
        let Some(t) = self.threads.get(tid) else {
            return;
        };
        let id = self
            .containers
            .id_from_cgroups(t.cgroups.iter().map(|(_, p)| p.as_slice()));
        if let Some(t) = self.threads.get_mut(tid) {
            t.container_id = id;
        }
    }
}

/// `to_string(container_type)`.
pub fn container_type_name(ty: u32) -> &'static str {
    match ty {
        0 => "docker",
        1 => "lxc",
        2 => "libvirt-lxc",
        3 => "mesos",
        4 => "rkt",
        6 => "cri",
        7 => "containerd",
        8 => "cri-o",
        9 => "bpm",
        11 => "podman",
        0xfffe => "host",
        _ => "",
    }
}

/// The container plugin's `from_json(container_info)`.
pub fn container_from_json(json: &[u8]) -> Option<ContainerInfo> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let c = v.get("container")?;
    let s = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let b = |k: &str| c.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let map = |k: &str| -> Vec<(String, String)> {
        c.get(k)
            .and_then(|x| x.as_object())
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mounts = c
        .get("Mounts")
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .map(|m| Mount {
                    source: m
                        .get("Source")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .into(),
                    dest: m
                        .get("Destination")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .into(),
                    mode: m.get("Mode").and_then(|x| x.as_str()).unwrap_or("").into(),
                    rdwr: m.get("RW").and_then(|x| x.as_bool()).unwrap_or(false),
                    propagation: m
                        .get("Propagation")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .into(),
                })
                .collect()
        })
        .unwrap_or_default();
    let ty = c
        .get("type")
        .and_then(|x| x.as_u64())
        .map_or(0xffff, |t| t as u32);
    Some(ContainerInfo {
        id: s("id"),
        full_id: s("full_id"),
        name: s("name"),
        ty: container_type_name(ty).to_owned(),
        image: s("image"),
        image_id: s("imageid"),
        image_repo: s("imagerepo"),
        image_tag: s("imagetag"),
        image_digest: s("imagedigest"),
        privileged: b("privileged"),
        host_pid: b("host_pid"),
        host_network: b("host_network"),
        host_ipc: b("host_ipc"),
        mounts,
        labels: map("labels"),
        ip: s("ip"),
        cni_json: s("cni_json"),
        user: s("User"),
        created_time: c.get("created_time").and_then(|x| x.as_i64()).unwrap_or(0),
        is_pod_sandbox: b("is_pod_sandbox"),
        pod_sandbox_id: s("pod_sandbox_id"),
        pod_sandbox_labels: map("pod_sandbox_labels"),
    })
}

/// Splits a NUL-separated parameter (re-exported for extractors).
pub fn split_list(buf: &[u8]) -> Vec<Vec<u8>> {
    split_nul(buf)
}

/// The sanitised form of `s` (outputs).
pub fn sanitized(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    super::path::sanitize_into(&mut out, s);
    out
}

/// `SockInfo` of a new, unconnected socket (tests and seeding).
pub fn empty_sock() -> SockInfo {
    SockInfo::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::decode::encode;
    use crate::state::ThreadInfo;

    fn process(state: &mut State, record: &[u8]) {
        let ev = Event::decode(record).expect("test record decodes");
        state.process(&ev);
    }

    /// The enter-event store counters follow libsinsp's `store_event` and
    /// `retrieve_enter_event`: a stored enter counts once, its exit retrieves it, an exit with
    /// nothing stored or with the enter of another syscall is a retrieve drop.
    #[test]
    fn enter_event_store_counters_as_libsinsp() {
        let mut state = State::new(64);
        let mut t = ThreadInfo::placeholder(42);
        t.pid = 42;
        t.lastevent_data_valid = true;
        state.threads.add(t);
        let path = b"/etc/hostname\0";
        let cwd: i64 = -100;
        let (flags, mode) = (1u32, 0u32);
        let openat_e = encode(
            1,
            42,
            306,
            &[
                &cwd.to_le_bytes(),
                path,
                &flags.to_le_bytes(),
                &mode.to_le_bytes(),
            ],
        );
        let openat_x = encode(
            2,
            42,
            307,
            &[
                &3i64.to_le_bytes(),
                &cwd.to_le_bytes(),
                path,
                &flags.to_le_bytes(),
                &mode.to_le_bytes(),
                &0u32.to_le_bytes(),
                &0u64.to_le_bytes(),
            ],
        );
        process(&mut state, &openat_e);
        process(&mut state, &openat_x);
        let c = state.parser.counters;
        assert_eq!(
            (c.stored_evts, c.retrieved_evts, c.retrieve_evts_drops),
            (1, 1, 0)
        );
        // The exit consumed the stored enter: a second exit finds none.
        process(&mut state, &openat_x);
        let c = state.parser.counters;
        assert_eq!((c.retrieved_evts, c.retrieve_evts_drops), (1, 1));
    }

    /// One x86-64 control message: u64 length (header + data), level, type, data, padded to 8.
    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let mut m = ((16 + data.len()) as u64).to_le_bytes().to_vec();
        m.extend_from_slice(&level.to_le_bytes());
        m.extend_from_slice(&ty.to_le_bytes());
        m.extend_from_slice(data);
        m.resize(m.len().next_multiple_of(8), 0);
        m
    }

    fn ints(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|i| i.to_le_bytes()).collect()
    }

    #[test]
    fn scm_rights_control_messages_as_libsinsp_walks_them() {
        // SCM_CREDENTIALS (type 2) is skipped, SCM_RIGHTS (type 1) read whatever its level.
        let mut ctrl = cmsg(1, 2, &ints(&[10, 0, 0]));
        ctrl.extend(cmsg(1, 1, &ints(&[7, 9])));
        ctrl.extend(cmsg(0, 1, &ints(&[11])));
        assert_eq!(scm_rights_fds(&ctrl), [7, 9, 11]);
        // The last message needs no room after it; a shorter buffer than a header is nothing.
        assert_eq!(scm_rights_fds(&cmsg(1, 1, &ints(&[5]))), [5]);
        assert!(scm_rights_fds(&ctrl[..15]).is_empty());
        // Malformed: a length past the buffer, or data that is not whole ints, ends the walk.
        let mut bad = cmsg(1, 1, &ints(&[3]));
        bad[0] = 64;
        assert!(scm_rights_fds(&bad).is_empty());
        let mut odd = cmsg(1, 1, &[1, 0, 0, 0, 2, 0]);
        odd.extend(cmsg(1, 1, &ints(&[4])));
        assert!(scm_rights_fds(&odd).is_empty());
        // More than the kernel's 253 fds in one message.
        assert!(scm_rights_fds(&cmsg(1, 1, &ints(&[1; 254]))).is_empty());
        assert_eq!(scm_rights_fds(&cmsg(1, 1, &ints(&[1; 253]))).len(), 253);
    }

    /// io_uring_setup's returned fd enters the table as libsinsp's SCAP_FD_IOURING (`r`),
    /// named by nothing; a failed setup adds nothing.
    #[test]
    fn io_uring_setup_adds_an_io_uring_fd() {
        let mut state = State::new(64);
        let mut t = ThreadInfo::placeholder(42);
        t.pid = 42;
        state.threads.add(t);
        let setup_x = |res: i64| {
            let mut p: Vec<Vec<u8>> = vec![res.to_le_bytes().to_vec()];
            p.extend((0..7).map(|_| 0u32.to_le_bytes().to_vec()));
            let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
            encode(5, 42, 339, &refs)
        };
        process(&mut state, &setup_x(-12));
        assert!(
            state
                .threads
                .fd_table_mut(42)
                .unwrap()
                .get_mut(-12)
                .is_none()
        );
        process(&mut state, &setup_x(7));
        let f = state.threads.fd_table_mut(42).unwrap().get_mut(7).cloned();
        let f = f.expect("the io_uring fd");
        assert_eq!(
            (f.ty, f.ty.typechar(), f.name.as_slice()),
            (FdType::IoUring, b'r', &b""[..])
        );
    }

    /// A recvmsg exit on a unix socket carrying SCM_RIGHTS adds the received fds to the
    /// receiving process from /proc (live), as libsinsp's `scap_get_fdinfo`; a capture has no
    /// platform to ask, and other sockets are not looked at.
    #[test]
    fn recvmsg_scm_rights_adds_the_received_fds_from_proc() {
        use std::os::fd::AsRawFd;
        let me = i64::from(std::process::id());
        let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .expect("a file to pass");
        let passed = file.as_raw_fd();
        let expected = std::fs::read_link(format!("/proc/self/fd/{passed}"))
            .unwrap()
            .into_os_string()
            .into_encoded_bytes();
        let recvmsg_x = |fd: i64, ctrl: &[u8]| {
            encode(
                10,
                me as u64,
                53,
                &[
                    &1i64.to_le_bytes(),
                    &1u32.to_le_bytes(),
                    b"x",
                    &[],
                    ctrl,
                    &fd.to_le_bytes(),
                ],
            )
        };
        let ctrl = cmsg(1, 1, &ints(&[passed]));
        let with_socket = |live: bool, ty: FdType| {
            let mut state = State::new(64);
            state.users.use_host_db = false;
            if live {
                state.proc_root = Some(std::path::PathBuf::from("/proc"));
            }
            let mut t = ThreadInfo::placeholder(me);
            t.pid = me;
            t.fds.insert(900, FdInfo::new(ty, Vec::new()));
            state.threads.add(t);
            process(&mut state, &recvmsg_x(900, &ctrl));
            state
                .threads
                .fd_table_mut(me)
                .and_then(|f| f.get_mut(i64::from(passed)))
                .map(|f| (f.ty, f.name.clone()))
        };
        assert_eq!(
            with_socket(true, FdType::UnixSock),
            Some((FdType::FileV2, expected))
        );
        assert_eq!(with_socket(false, FdType::UnixSock), None);
        assert_eq!(with_socket(true, FdType::Ipv4Sock), None);
        drop(file);
    }
}
