//! The fd table of a process: one entry per open file descriptor, as libsinsp's `sinsp_fdinfo`
//! (type, name, open flags, socket endpoints and role).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `scap_fd_type`, with libscap's numbering (also the fd-list block encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum FdType {
    #[default]
    Unknown = 0,
    File = 1,
    Directory = 2,
    Ipv4Sock = 3,
    Ipv6Sock = 4,
    Ipv4ServSock = 5,
    Ipv6ServSock = 6,
    Fifo = 7,
    UnixSock = 8,
    Event = 9,
    Unsupported = 10,
    Signalfd = 11,
    Eventpoll = 12,
    Inotify = 13,
    Timerfd = 14,
    Netlink = 15,
    FileV2 = 16,
    Bpf = 17,
    Userfaultfd = 18,
    IoUring = 19,
    Memfd = 20,
    Pidfd = 21,
}

impl FdType {
    /// The type of a fd-list entry code; unknown codes are `Unsupported`.
    pub fn from_code(code: u8) -> FdType {
        use FdType::*;
        const ALL: [FdType; 22] = [
            Unknown,
            File,
            Directory,
            Ipv4Sock,
            Ipv6Sock,
            Ipv4ServSock,
            Ipv6ServSock,
            Fifo,
            UnixSock,
            Event,
            Unsupported,
            Signalfd,
            Eventpoll,
            Inotify,
            Timerfd,
            Netlink,
            FileV2,
            Bpf,
            Userfaultfd,
            IoUring,
            Memfd,
            Pidfd,
        ];
        ALL.get(usize::from(code)).copied().unwrap_or(Unsupported)
    }

    /// `fd.typechar` (`sinsp_fdinfo::get_typechar`).
    pub fn typechar(self) -> u8 {
        use FdType::*;
        match self {
            File | FileV2 => b'f',
            Ipv4Sock | Ipv4ServSock => b'4',
            Ipv6Sock | Ipv6ServSock => b'6',
            Directory => b'd',
            Fifo => b'p',
            UnixSock => b'u',
            Event => b'e',
            Unknown => b'o',
            Unsupported => b'X',
            Signalfd => b's',
            Eventpoll => b'l',
            Inotify => b'i',
            Timerfd => b't',
            Netlink => b'n',
            Bpf => b'b',
            Userfaultfd => b'u',
            IoUring => b'r',
            Memfd => b'm',
            Pidfd => b'P',
        }
    }

    /// `fd.type` (`sinsp_fdinfo::get_typestring`).
    pub fn type_string(self) -> &'static str {
        use FdType::*;
        match self {
            File | FileV2 => "file",
            Directory => "directory",
            Ipv4Sock | Ipv4ServSock => "ipv4",
            Ipv6Sock | Ipv6ServSock => "ipv6",
            UnixSock => "unix",
            Fifo => "pipe",
            Event => "event",
            Signalfd => "signalfd",
            Eventpoll => "eventpoll",
            Inotify => "inotify",
            Timerfd => "timerfd",
            Netlink => "netlink",
            Bpf => "bpf",
            Userfaultfd => "userfaultfd",
            IoUring => "io_uring",
            Memfd => "memfd",
            Pidfd => "pidfd",
            Unknown | Unsupported => "<NA>",
        }
    }

    pub fn is_file(self) -> bool {
        matches!(self, FdType::File | FdType::FileV2)
    }

    pub fn is_ip_socket(self) -> bool {
        matches!(self, FdType::Ipv4Sock | FdType::Ipv6Sock)
    }

    pub fn is_ip_server_socket(self) -> bool {
        matches!(self, FdType::Ipv4ServSock | FdType::Ipv6ServSock)
    }
}

/// `scap_l4_proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum L4Proto {
    #[default]
    Unknown,
    Na,
    Tcp,
    Udp,
    Icmp,
    Raw,
}

impl L4Proto {
    pub fn from_code(code: u8) -> L4Proto {
        match code {
            1 => L4Proto::Na,
            2 => L4Proto::Tcp,
            3 => L4Proto::Udp,
            4 => L4Proto::Icmp,
            5 => L4Proto::Raw,
            _ => L4Proto::Unknown,
        }
    }

    /// `fd.l4proto` text: `<NA>` for anything that is not tcp, udp, icmp or raw.
    pub fn name(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
            L4Proto::Raw => "raw",
            L4Proto::Unknown | L4Proto::Na => "<NA>",
        }
    }

    /// The letter `evt.arg` resolved fd names put after the typechar (`<4t>`).
    pub fn letter(self) -> Option<u8> {
        match self {
            L4Proto::Tcp => Some(b't'),
            L4Proto::Udp => Some(b'u'),
            L4Proto::Icmp => Some(b'i'),
            L4Proto::Raw => Some(b'r'),
            L4Proto::Unknown | L4Proto::Na => None,
        }
    }
}

/// Socket endpoints of an fd (libsinsp's `m_sockinfo`). For connection sockets (`Ipv4Sock`,
/// `Ipv6Sock`) `sip:sport` is the client and `dip:dport` the server; for bound sockets
/// (`*ServSock`) `sip:sport` is the server address; for unix sockets `source`/`dest` are the
/// kernel pointers of both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockInfo {
    pub sip: IpAddr,
    pub sport: u16,
    pub dip: IpAddr,
    pub dport: u16,
    pub l4proto: L4Proto,
    pub source: u64,
    pub dest: u64,
}

impl Default for SockInfo {
    fn default() -> SockInfo {
        SockInfo {
            sip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            sport: 0,
            dip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dport: 0,
            l4proto: L4Proto::Unknown,
            source: 0,
            dest: 0,
        }
    }
}

impl SockInfo {
    pub fn l4proto(&self) -> L4Proto {
        self.l4proto
    }

    /// Swaps client and server endpoints.
    pub fn swap(&mut self) {
        std::mem::swap(&mut self.sip, &mut self.dip);
        std::mem::swap(&mut self.sport, &mut self.dport);
    }
}

/// `sinsp_fdinfo::FLAGS_*` bits kept by falco-rs.
pub mod flags {
    pub const FROM_PROC: u32 = 1 << 0;
    pub const ROLE_CLIENT: u32 = 1 << 2;
    pub const ROLE_SERVER: u32 = 1 << 3;
    pub const SOCKET_CONNECTED: u32 = 1 << 13;
    pub const IS_CLONED: u32 = 1 << 14;
    pub const CONNECTION_PENDING: u32 = 1 << 15;
    pub const CONNECTION_FAILED: u32 = 1 << 16;
    pub const OVERLAY_UPPER: u32 = 1 << 17;
    pub const OVERLAY_LOWER: u32 = 1 << 18;
}

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FdInfo {
    pub ty: FdType,
    /// `fd.name`: normalised absolute path, tuple text, unix path, ...
    pub name: Vec<u8>,
    /// `fd.nameraw`: the path as the process passed it.
    pub name_raw: Vec<u8>,
    /// Open flags (`PPM_O_*`).
    pub open_flags: u32,
    /// `FLAGS_*` of [`flags`].
    pub flags: u32,
    pub dev: u32,
    pub ino: u64,
    pub sock: SockInfo,
    /// For pidfds: the pid the fd refers to.
    pub pid: i64,
}

impl FdInfo {
    pub fn new(ty: FdType, name: Vec<u8>) -> FdInfo {
        FdInfo {
            ty,
            name,
            ..FdInfo::default()
        }
    }

    pub fn is_role_client(&self) -> bool {
        self.flags & flags::ROLE_CLIENT != 0
    }

    pub fn is_role_server(&self) -> bool {
        self.flags & flags::ROLE_SERVER != 0
    }

    pub fn is_role_none(&self) -> bool {
        self.flags & (flags::ROLE_CLIENT | flags::ROLE_SERVER) == 0
    }

    pub fn is_socket_connected(&self) -> bool {
        self.flags & flags::SOCKET_CONNECTED != 0
    }

    pub fn is_tcp_socket(&self) -> bool {
        self.ty.is_ip_socket() && self.sock.l4proto == L4Proto::Tcp
    }

    pub fn is_udp_socket(&self) -> bool {
        self.ty.is_ip_socket() && self.sock.l4proto == L4Proto::Udp
    }

    /// `clear_close_on_exec_bits`.
    pub fn clear_cloexec(&mut self) {
        const PPM_O_CLOEXEC: u32 = 1 << 12;
        self.open_flags &= !PPM_O_CLOEXEC;
    }

    pub fn set_connected(&mut self) {
        self.flags &= !(flags::CONNECTION_PENDING | flags::CONNECTION_FAILED);
        self.flags |= flags::SOCKET_CONNECTED;
    }

    /// `PPM_O_CLOEXEC` (or the epoll/memfd flavours): closed on exec.
    pub fn is_cloexec(&self) -> bool {
        const PPM_O_CLOEXEC: u32 = 1 << 12;
        const PPM_EPOLL_CLOEXEC: u32 = 1;
        const PPM_MFD_CLOEXEC: u32 = 1;
        match self.ty {
            FdType::Eventpoll => self.open_flags & PPM_EPOLL_CLOEXEC != 0,
            FdType::Memfd => self.open_flags & PPM_MFD_CLOEXEC != 0,
            _ => self.open_flags & PPM_O_CLOEXEC != 0,
        }
    }
}

/// Fds below this number live in a vector indexed by fd (no hashing): most fds of most
/// processes, and every fd of the workloads that open and close files in a loop.
const LOW_FDS: i64 = 64;

/// The fds of one process (shared by its threads).
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    /// Fds `0..LOW_FDS`, by number (the vector only grows as far as the highest one added).
    low: Vec<Option<FdInfo>>,
    /// The other fds (negative ones included).
    high: super::thread::IdMap<FdInfo>,
    /// Number of fds in `low`.
    n_low: usize,
}

impl PartialEq for FdTable {
    fn eq(&self, other: &FdTable) -> bool {
        self.len() == other.len() && self.iter().all(|(fd, f)| other.get(fd) == Some(f))
    }
}

impl Eq for FdTable {}

impl FdTable {
    pub fn get(&self, fd: i64) -> Option<&FdInfo> {
        if (0..LOW_FDS).contains(&fd) {
            return self.low.get(fd as usize)?.as_ref();
        }
        self.high.get(&fd)
    }

    pub fn get_mut(&mut self, fd: i64) -> Option<&mut FdInfo> {
        if (0..LOW_FDS).contains(&fd) {
            return self.low.get_mut(fd as usize)?.as_mut();
        }
        self.high.get_mut(&fd)
    }

    pub fn insert(&mut self, fd: i64, info: FdInfo) {
        if (0..LOW_FDS).contains(&fd) {
            let i = fd as usize;
            if self.low.len() <= i {
                self.low.resize_with(i + 1, || None);
            }
            if self.low[i].replace(info).is_none() {
                self.n_low += 1;
            }
            return;
        }
        self.high.insert(fd, info);
    }

    pub fn remove(&mut self, fd: i64) -> Option<FdInfo> {
        if (0..LOW_FDS).contains(&fd) {
            let removed = self.low.get_mut(fd as usize)?.take();
            if removed.is_some() {
                self.n_low -= 1;
            }
            return removed;
        }
        self.high.remove(&fd)
    }

    pub fn len(&self) -> usize {
        self.n_low + self.high.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every fd: the low ones in ascending order, then the others.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &FdInfo)> {
        let low = self
            .low
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i as i64, f.as_ref()?)));
        low.chain(self.high.iter().map(|(k, v)| (*k, v)))
    }

    /// Drops every fd with close-on-exec set (execve success).
    pub fn close_cloexec(&mut self) {
        for slot in &mut self.low {
            if slot.as_ref().is_some_and(FdInfo::is_cloexec) {
                *slot = None;
                self.n_low -= 1;
            }
        }
        self.high.retain(|_, fd| !fd.is_cloexec());
    }
}

/// `ip:port` as libsinsp prints endpoints (IPv6 without brackets).
pub fn endpoint_text(out: &mut String, ip: IpAddr, port: u16) {
    use std::fmt::Write as _;
    let _ = write!(out, "{ip}:{port}");
}

/// `sip:sport->dip:dport`.
pub fn tuple_text(sip: IpAddr, sport: u16, dip: IpAddr, dport: u16) -> Vec<u8> {
    let mut s = String::new();
    endpoint_text(&mut s, sip, sport);
    s.push_str("->");
    endpoint_text(&mut s, dip, dport);
    s.into_bytes()
}

/// `sockinfo_to_str`: the name of a connection socket.
pub fn sockinfo_text(ty: FdType, s: &SockInfo) -> Vec<u8> {
    match (ty, s.l4proto) {
        (FdType::Ipv4Sock | FdType::Ipv6Sock, L4Proto::Tcp | L4Proto::Udp) => {
            tuple_text(s.sip, s.sport, s.dip, s.dport)
        }
        (FdType::Ipv4Sock | FdType::Ipv6Sock, L4Proto::Icmp | L4Proto::Raw) => {
            format!("{}->{}", s.sip, s.dip).into_bytes()
        }
        _ => b"<unknown>".to_vec(),
    }
}

/// An IPv4 address from the network-order bytes libscap stores in a little-endian u32.
pub fn ipv4_from_raw(raw: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(raw.to_le_bytes()))
}

/// An IPv6 address, stored as IPv4 when it is IPv4-mapped (libsinsp keeps those as IPv4).
pub fn ipv6_from_bytes(bytes: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    IpAddr::V6(v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typechars_follow_libsinsp() {
        assert_eq!(FdType::File.typechar(), b'f');
        assert_eq!(FdType::FileV2.typechar(), b'f');
        assert_eq!(FdType::Ipv4ServSock.typechar(), b'4');
        assert_eq!(FdType::Userfaultfd.typechar(), b'u');
        assert_eq!(FdType::Unknown.typechar(), b'o');
        assert_eq!(FdType::Unknown.type_string(), "<NA>");
        assert_eq!(FdType::from_code(99), FdType::Unsupported);
    }

    #[test]
    fn tuple_names() {
        let t = tuple_text(ipv4_from_raw(0x0100_007f), 1234, "::1".parse().unwrap(), 80);
        assert_eq!(t, b"127.0.0.1:1234->::1:80");
    }

    #[test]
    fn cloexec_is_dropped() {
        let mut t = FdTable::default();
        let mut a = FdInfo::new(FdType::File, b"/a".to_vec());
        a.open_flags = 1 << 12;
        t.insert(3, a);
        t.insert(4, FdInfo::new(FdType::File, b"/b".to_vec()));
        t.close_cloexec();
        assert!(t.get(3).is_none() && t.get(4).is_some());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn low_and_high_fds() {
        let mut t = FdTable::default();
        for fd in [5, 0, 63, 64, 1000, -1] {
            t.insert(fd, FdInfo::new(FdType::File, fd.to_string().into_bytes()));
        }
        t.insert(5, FdInfo::new(FdType::Directory, b"/five".to_vec()));
        assert_eq!(t.len(), 6);
        assert_eq!(t.get(5).map(|f| f.ty), Some(FdType::Directory));
        assert_eq!(t.get(64).map(|f| f.name.as_slice()), Some(&b"64"[..]));
        assert!(t.get(6).is_none() && t.get(100).is_none() && t.get(-2).is_none());
        let mut fds: Vec<i64> = t.iter().map(|(fd, _)| fd).collect();
        fds.sort_unstable();
        assert_eq!(fds, [-1, 0, 5, 63, 64, 1000]);
        assert!(t.remove(63).is_some() && t.remove(63).is_none() && t.remove(1000).is_some());
        assert_eq!(t.len(), 4);
        let mut u = FdTable::default();
        for fd in [-1, 0, 5, 64] {
            u.insert(fd, t.get(fd).cloned().unwrap());
        }
        assert_eq!(t, u);
    }
}
