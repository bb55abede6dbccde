//! Typed records of the capture metadata blocks (machine info, process list, fd lists,
//! interface list, user and group lists), parsed from block bodies and encoded back by the
//! writer. The state stage seeds its tables from these. Layouts: scap-format.md §4–§8.

use super::CaptureError;

/// Longest comm/exe/cwd/root/fd name (`SCAP_MAX_PATH_SIZE`).
pub const SCAP_MAX_PATH_SIZE: usize = 1024;
/// Longest args/env/cgroups list.
pub const SCAP_MAX_ARGS_SIZE: usize = 4096;
/// User and group strings must be shorter than this (`MAX_CREDENTIALS_STR_LEN`).
pub const MAX_CREDENTIALS_STR_LEN: usize = 256;

/// A bounds-checked little-endian reader over a block body; errors carry the file offset.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8], base: u64) -> Self {
        Cursor { data, pos: 0, base }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CaptureError> {
        if self.remaining() < n {
            return Err(CaptureError::Truncated {
                offset: self.offset(),
                needed: n,
                available: self.remaining(),
                what,
            });
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }
    pub(crate) fn skip(&mut self, n: usize, what: &'static str) -> Result<(), CaptureError> {
        self.bytes(n, what).map(|_| ())
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, CaptureError> {
        Ok(self.bytes(1, what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, CaptureError> {
        Ok(u16::from_le_bytes(
            self.bytes(2, what)?.try_into().expect("2"),
        ))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, CaptureError> {
        Ok(u32::from_le_bytes(
            self.bytes(4, what)?.try_into().expect("4"),
        ))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, CaptureError> {
        Ok(u64::from_le_bytes(
            self.bytes(8, what)?.try_into().expect("8"),
        ))
    }
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], CaptureError> {
        Ok(self.bytes(N, what)?.try_into().expect("N"))
    }
    /// A `u16` length and that many bytes; a length above `max` is corrupt (`invalid <what>len`).
    pub(crate) fn lstr(
        &mut self,
        max: usize,
        what: &'static str,
    ) -> Result<&'a [u8], CaptureError> {
        let at = self.offset();
        let n = usize::from(self.u16(what)?);
        if n > max {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: format!("invalid {what} length {n}"),
            });
        }
        self.bytes(n, what)
    }
    pub(crate) fn string(
        &mut self,
        max: usize,
        what: &'static str,
    ) -> Result<String, CaptureError> {
        Ok(String::from_utf8_lossy(self.lstr(max, what)?).into_owned())
    }
}

fn put_lstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s);
}

/// Machine info block (MI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineInfo {
    pub num_cpus: u32,
    pub memory_size_bytes: u64,
    pub max_pid: u64,
    pub hostname: String,
    /// Boot time, ns since the epoch (0 in old captures).
    pub boot_ts_epoch: u64,
    pub flags: u64,
}

/// Body size of the MI block.
pub const MACHINE_INFO_LEN: usize = 180;

impl MachineInfo {
    pub(crate) fn parse(c: &mut Cursor<'_>) -> Result<Self, CaptureError> {
        let num_cpus = c.u32("machine info")?;
        let memory_size_bytes = c.u64("machine info")?;
        let max_pid = c.u64("machine info")?;
        let host = c.bytes(128, "machine info")?;
        let end = memchr::memchr(0, host).unwrap_or(host.len());
        let hostname = String::from_utf8_lossy(&host[..end]).into_owned();
        let boot_ts_epoch = c.u64("machine info")?;
        let flags = c.u64("machine info")?;
        c.skip(16, "machine info")?;
        Ok(MachineInfo {
            num_cpus,
            memory_size_bytes,
            max_pid,
            hostname,
            boot_ts_epoch,
            flags,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.num_cpus.to_le_bytes());
        out.extend_from_slice(&self.memory_size_bytes.to_le_bytes());
        out.extend_from_slice(&self.max_pid.to_le_bytes());
        let mut host = [0u8; 128];
        let n = self.hostname.len().min(127);
        host[..n].copy_from_slice(&self.hostname.as_bytes()[..n]);
        out.extend_from_slice(&host);
        out.extend_from_slice(&self.boot_ts_epoch.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&[0u8; 16]);
    }
}

/// One thread of a process list block (PL_V1 … PL_V9), with libscap's defaults for fields the
/// block version does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRecord {
    pub tid: u64,
    pub pid: u64,
    pub ptid: u64,
    pub sid: i64,
    pub vpgid: i64,
    pub comm: String,
    /// argv[0].
    pub exe: String,
    pub exepath: String,
    /// argv[1..] as NUL-separated bytes, always NUL-terminated when non-empty.
    pub args: Vec<u8>,
    pub cwd: String,
    pub fdlimit: u64,
    /// PPM_CL_* clone flags.
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    pub vmsize_kb: u32,
    pub vmrss_kb: u32,
    pub vmswap_kb: u32,
    pub pfmajor: u64,
    pub pfminor: u64,
    /// NUL-separated `NAME=value` entries, always NUL-terminated when non-empty.
    pub env: Vec<u8>,
    pub vtid: i64,
    pub vpid: i64,
    /// NUL-separated `subsys=path` entries.
    pub cgroups: Vec<u8>,
    pub root: String,
    pub pidns_init_start_ts: u64,
    pub tty: u32,
    pub loginuid: u32,
    pub exe_writable: bool,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub exe_upper_layer: bool,
    pub exe_ino: u64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
    pub exe_from_memfd: bool,
    pub exe_lower_layer: bool,
    pub pgid: i64,
}

impl Default for ThreadRecord {
    fn default() -> Self {
        ThreadRecord {
            tid: 0,
            pid: 0,
            ptid: 0,
            sid: -1,
            vpgid: -1,
            comm: String::new(),
            exe: String::new(),
            exepath: String::new(),
            args: Vec::new(),
            cwd: String::new(),
            fdlimit: 0,
            flags: 0,
            uid: 0,
            gid: 0,
            vmsize_kb: 0,
            vmrss_kb: 0,
            vmswap_kb: 0,
            pfmajor: 0,
            pfminor: 0,
            env: Vec::new(),
            vtid: -1,
            vpid: -1,
            cgroups: Vec::new(),
            root: String::new(),
            pidns_init_start_ts: 0,
            tty: 0,
            loginuid: u32::MAX,
            exe_writable: false,
            cap_inheritable: 0,
            cap_permitted: 0,
            cap_effective: 0,
            exe_upper_layer: false,
            exe_ino: 0,
            exe_ino_ctime: 0,
            exe_ino_mtime: 0,
            exe_from_memfd: false,
            exe_lower_layer: false,
            pgid: -1,
        }
    }
}

/// Splits a NUL-separated list (args, env, cgroups) into its entries.
pub fn split_nul_list(list: &[u8]) -> Vec<String> {
    let list = list.strip_suffix(b"\0").unwrap_or(list);
    if list.is_empty() {
        return Vec::new();
    }
    list.split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn nul_terminated(mut v: Vec<u8>) -> Vec<u8> {
    if v.last().is_some_and(|&b| b != 0) {
        v.push(0);
    }
    v
}

/// Process-list block versions, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PlVersion {
    V1 = 1,
    V2,
    V3,
    V4,
    V5,
    V6,
    V7,
    V8,
    V9,
}

impl ThreadRecord {
    /// Parses one entry; `c` is positioned at the entry.
    pub(crate) fn parse(c: &mut Cursor<'_>, v: PlVersion) -> Result<Self, CaptureError> {
        let start = c.pos();
        let entry_at = c.offset();
        let mut t = ThreadRecord::default();
        let sub_len = if v == PlVersion::V9 {
            c.u32("process entry length")? as usize
        } else {
            0
        };
        t.tid = c.u64("process entry")?;
        t.pid = c.u64("process entry")?;
        t.ptid = c.u64("process entry")?;
        if v >= PlVersion::V6 {
            t.sid = c.u64("process entry")? as i64;
        }
        if v >= PlVersion::V8 {
            t.vpgid = c.u64("process entry")? as i64;
        }
        t.comm = c.string(SCAP_MAX_PATH_SIZE, "comm")?;
        t.exe = c.string(SCAP_MAX_PATH_SIZE, "exe")?;
        if v >= PlVersion::V7 {
            t.exepath = c.string(SCAP_MAX_PATH_SIZE, "exepath")?;
        }
        t.args = nul_terminated(c.lstr(SCAP_MAX_ARGS_SIZE, "args")?.to_vec());
        t.cwd = c.string(SCAP_MAX_PATH_SIZE, "cwd")?;
        t.fdlimit = c.u64("process entry")?;
        t.flags = c.u32("process entry")?;
        t.uid = c.u32("process entry")?;
        t.gid = c.u32("process entry")?;
        if v >= PlVersion::V2 {
            t.vmsize_kb = c.u32("process entry")?;
            t.vmrss_kb = c.u32("process entry")?;
            t.vmswap_kb = c.u32("process entry")?;
            t.pfmajor = c.u64("process entry")?;
            t.pfminor = c.u64("process entry")?;
            if v >= PlVersion::V3 {
                t.env = nul_terminated(c.lstr(SCAP_MAX_ARGS_SIZE, "env")?.to_vec());
            }
            if v >= PlVersion::V4 {
                t.vtid = c.u64("process entry")? as i64;
                t.vpid = c.u64("process entry")? as i64;
                t.cgroups = c.lstr(SCAP_MAX_ARGS_SIZE, "cgroups")?.to_vec();
                if v >= PlVersion::V5 {
                    t.root = c.string(SCAP_MAX_PATH_SIZE, "root")?;
                }
            }
        }
        if sub_len != 0 {
            let room = |c: &Cursor<'_>, n: usize| c.pos() - start + n <= sub_len;
            // libs 0.10 inserted pidns_init_start_ts and tty before loginuid; older V9 entries
            // have at most the 29 bytes of loginuid, exe_writable and the capabilities left.
            let pre_0_10 = sub_len.saturating_sub(c.pos() - start) <= 29;
            if !pre_0_10 {
                if room(c, 8) {
                    t.pidns_init_start_ts = c.u64("process entry")?;
                }
                if room(c, 4) {
                    t.tty = c.u32("process entry")?;
                }
            }
            if room(c, 4) {
                t.loginuid = c.u32("process entry")?;
            }
            if room(c, 1) {
                t.exe_writable = c.u8("process entry")? != 0;
            }
            if room(c, 8) {
                t.cap_inheritable = c.u64("process entry")?;
            }
            if room(c, 8) {
                t.cap_permitted = c.u64("process entry")?;
            }
            if room(c, 8) {
                t.cap_effective = c.u64("process entry")?;
            }
            if room(c, 1) {
                t.exe_upper_layer = c.u8("process entry")? != 0;
            }
            if room(c, 8) {
                t.exe_ino = c.u64("process entry")?;
            }
            if room(c, 8) {
                t.exe_ino_ctime = c.u64("process entry")?;
            }
            if room(c, 8) {
                t.exe_ino_mtime = c.u64("process entry")?;
            }
            if room(c, 1) {
                t.exe_from_memfd = c.u8("process entry")? != 0;
            }
            if room(c, 1) {
                t.exe_lower_layer = c.u8("process entry")? != 0;
            }
            if room(c, 8) {
                t.pgid = c.u64("process entry")? as i64;
            }
            let read = c.pos() - start;
            if read > sub_len {
                return Err(CaptureError::Corrupt {
                    offset: entry_at,
                    reason: format!(
                        "corrupted input file. Had read {read} bytes, but proclist entry have \
                         length {sub_len}."
                    ),
                });
            }
            c.skip(sub_len - read, "process entry")?;
        }
        Ok(t)
    }

    /// Encodes the full PL_V9 entry (with its length).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        for v in [
            self.tid,
            self.pid,
            self.ptid,
            self.sid as u64,
            self.vpgid as u64,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        put_lstr(out, self.comm.as_bytes());
        put_lstr(out, self.exe.as_bytes());
        put_lstr(out, self.exepath.as_bytes());
        put_lstr(out, &self.args);
        put_lstr(out, self.cwd.as_bytes());
        out.extend_from_slice(&self.fdlimit.to_le_bytes());
        for v in [
            self.flags,
            self.uid,
            self.gid,
            self.vmsize_kb,
            self.vmrss_kb,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.vmswap_kb.to_le_bytes());
        out.extend_from_slice(&self.pfmajor.to_le_bytes());
        out.extend_from_slice(&self.pfminor.to_le_bytes());
        put_lstr(out, &self.env);
        out.extend_from_slice(&self.vtid.to_le_bytes());
        out.extend_from_slice(&self.vpid.to_le_bytes());
        put_lstr(out, &self.cgroups);
        put_lstr(out, self.root.as_bytes());
        out.extend_from_slice(&self.pidns_init_start_ts.to_le_bytes());
        out.extend_from_slice(&self.tty.to_le_bytes());
        out.extend_from_slice(&self.loginuid.to_le_bytes());
        out.push(u8::from(self.exe_writable));
        for v in [self.cap_inheritable, self.cap_permitted, self.cap_effective] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(u8::from(self.exe_upper_layer));
        for v in [self.exe_ino, self.exe_ino_ctime, self.exe_ino_mtime] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(u8::from(self.exe_from_memfd));
        out.push(u8::from(self.exe_lower_layer));
        out.extend_from_slice(&self.pgid.to_le_bytes());
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// Layer-4 protocol of a socket fd (`SCAP_L4_*`).
pub type L4Proto = u8;

/// The type-specific part of an fd-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdInfo {
    /// SCAP_FD_UNKNOWN (0): no extra data.
    Unknown,
    Ipv4Sock {
        sip: [u8; 4],
        dip: [u8; 4],
        sport: u16,
        dport: u16,
        l4proto: L4Proto,
    },
    Ipv6Sock {
        sip: [u8; 16],
        dip: [u8; 16],
        sport: u16,
        dport: u16,
        l4proto: L4Proto,
    },
    Ipv4ServSock {
        ip: [u8; 4],
        port: u16,
        l4proto: L4Proto,
    },
    Ipv6ServSock {
        ip: [u8; 16],
        port: u16,
        l4proto: L4Proto,
    },
    UnixSock {
        source: u64,
        dest: u64,
        path: String,
    },
    /// SCAP_FD_FILE_V2 (16): a regular file with its PPM_O_* open flags and device.
    File {
        open_flags: u32,
        name: String,
        dev: u32,
    },
    /// Every other type: a name only (old FILE, DIRECTORY, FIFO, EVENT, SIGNALFD, …, PIDFD,
    /// and UNSUPPORTED, also used for unknown types as `unknown-type:[N]`).
    Named { name: String },
}

/// `scap_fd_type` values.
pub mod fd_type {
    pub const UNKNOWN: u8 = 0;
    pub const FILE: u8 = 1;
    pub const DIRECTORY: u8 = 2;
    pub const IPV4_SOCK: u8 = 3;
    pub const IPV6_SOCK: u8 = 4;
    pub const IPV4_SERVSOCK: u8 = 5;
    pub const IPV6_SERVSOCK: u8 = 6;
    pub const FIFO: u8 = 7;
    pub const UNIX_SOCK: u8 = 8;
    pub const EVENT: u8 = 9;
    pub const UNSUPPORTED: u8 = 10;
    pub const SIGNALFD: u8 = 11;
    pub const EVENTPOLL: u8 = 12;
    pub const INOTIFY: u8 = 13;
    pub const TIMERFD: u8 = 14;
    pub const NETLINK: u8 = 15;
    pub const FILE_V2: u8 = 16;
    pub const BPF: u8 = 17;
    pub const USERFAULTFD: u8 = 18;
    pub const IOURING: u8 = 19;
    pub const MEMFD: u8 = 20;
    pub const PIDFD: u8 = 21;
}

/// One fd of a thread (FDL / FDL_V2 entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdRecord {
    pub fd: i64,
    pub ino: u64,
    /// `scap_fd_type` (see [`fd_type`]); unknown types read as UNSUPPORTED.
    pub fd_type: u8,
    pub info: FdInfo,
}

impl FdRecord {
    pub(crate) fn parse(c: &mut Cursor<'_>, v2: bool) -> Result<Self, CaptureError> {
        let start = c.pos();
        let entry_at = c.offset();
        let sub_len = if v2 {
            c.u32("fd entry length")? as usize
        } else {
            0
        };
        let fd = c.u64("fd entry")? as i64;
        let ino = c.u64("fd entry")?;
        let mut fd_type = c.u8("fd entry")?;
        let name = |c: &mut Cursor<'_>| -> Result<String, CaptureError> {
            c.string(SCAP_MAX_PATH_SIZE - 1, "fd name")
        };
        let info = match fd_type {
            fd_type::UNKNOWN => FdInfo::Unknown,
            fd_type::IPV4_SOCK => FdInfo::Ipv4Sock {
                sip: c.array("fd entry")?,
                dip: c.array("fd entry")?,
                sport: c.u16("fd entry")?,
                dport: c.u16("fd entry")?,
                l4proto: c.u8("fd entry")?,
            },
            fd_type::IPV6_SOCK => FdInfo::Ipv6Sock {
                sip: c.array("fd entry")?,
                dip: c.array("fd entry")?,
                sport: c.u16("fd entry")?,
                dport: c.u16("fd entry")?,
                l4proto: c.u8("fd entry")?,
            },
            fd_type::IPV4_SERVSOCK => FdInfo::Ipv4ServSock {
                ip: c.array("fd entry")?,
                port: c.u16("fd entry")?,
                l4proto: c.u8("fd entry")?,
            },
            fd_type::IPV6_SERVSOCK => FdInfo::Ipv6ServSock {
                ip: c.array("fd entry")?,
                port: c.u16("fd entry")?,
                l4proto: c.u8("fd entry")?,
            },
            fd_type::UNIX_SOCK => FdInfo::UnixSock {
                source: c.u64("fd entry")?,
                dest: c.u64("fd entry")?,
                path: name(c)?,
            },
            fd_type::FILE_V2 => {
                let open_flags = c.u32("fd entry")?;
                let name = name(c)?;
                let dev = if sub_len != 0 && c.pos() - start + 4 <= sub_len {
                    c.u32("fd entry")?
                } else {
                    0
                };
                FdInfo::File {
                    open_flags,
                    name,
                    dev,
                }
            }
            1 | 2 | 7 | 9..=15 | 17..=21 => FdInfo::Named { name: name(c)? },
            other => {
                fd_type = fd_type::UNSUPPORTED;
                FdInfo::Named {
                    name: format!("unknown-type:[{other}]"),
                }
            }
        };
        if sub_len != 0 {
            let read = c.pos() - start;
            if read > sub_len {
                return Err(CaptureError::Corrupt {
                    offset: entry_at,
                    reason: format!(
                        "corrupted input file. Had read {read} bytes, but fdlist entry have \
                         length {sub_len}."
                    ),
                });
            }
            c.skip(sub_len - read, "fd entry")?;
        }
        Ok(FdRecord {
            fd,
            ino,
            fd_type,
            info,
        })
    }

    /// Encodes an FDL_V2 entry (with its length).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&self.fd.to_le_bytes());
        out.extend_from_slice(&self.ino.to_le_bytes());
        out.push(self.fd_type);
        match &self.info {
            FdInfo::Unknown => {}
            FdInfo::Ipv4Sock {
                sip,
                dip,
                sport,
                dport,
                l4proto,
            } => {
                out.extend_from_slice(sip);
                out.extend_from_slice(dip);
                out.extend_from_slice(&sport.to_le_bytes());
                out.extend_from_slice(&dport.to_le_bytes());
                out.push(*l4proto);
            }
            FdInfo::Ipv6Sock {
                sip,
                dip,
                sport,
                dport,
                l4proto,
            } => {
                out.extend_from_slice(sip);
                out.extend_from_slice(dip);
                out.extend_from_slice(&sport.to_le_bytes());
                out.extend_from_slice(&dport.to_le_bytes());
                out.push(*l4proto);
            }
            FdInfo::Ipv4ServSock { ip, port, l4proto } => {
                out.extend_from_slice(ip);
                out.extend_from_slice(&port.to_le_bytes());
                out.push(*l4proto);
            }
            FdInfo::Ipv6ServSock { ip, port, l4proto } => {
                out.extend_from_slice(ip);
                out.extend_from_slice(&port.to_le_bytes());
                out.push(*l4proto);
            }
            FdInfo::UnixSock { source, dest, path } => {
                out.extend_from_slice(&source.to_le_bytes());
                out.extend_from_slice(&dest.to_le_bytes());
                put_lstr(out, path.as_bytes());
            }
            FdInfo::File {
                open_flags,
                name,
                dev,
            } => {
                out.extend_from_slice(&open_flags.to_le_bytes());
                put_lstr(out, name.as_bytes());
                out.extend_from_slice(&dev.to_le_bytes());
            }
            FdInfo::Named { name } => put_lstr(out, name.as_bytes()),
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// One address of the interface list (IL / IL_V2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceRecord {
    Ipv4 {
        name: String,
        /// Network-order bytes.
        addr: [u8; 4],
        netmask: [u8; 4],
        bcast: [u8; 4],
        linkspeed: u64,
    },
    Ipv6 {
        name: String,
        addr: [u8; 16],
        netmask: [u8; 16],
        bcast: [u8; 16],
        linkspeed: u64,
    },
}

impl InterfaceRecord {
    pub(crate) fn parse(c: &mut Cursor<'_>, v2: bool) -> Result<Self, CaptureError> {
        let entry_at = c.offset();
        let entry_len = if v2 {
            Some(c.u32("interface entry length")? as usize)
        } else {
            None
        };
        let start = c.pos();
        let iftype = c.u16("interface entry")?;
        let namelen = usize::from(c.u16("interface entry")?);
        if namelen >= SCAP_MAX_PATH_SIZE {
            return Err(CaptureError::Corrupt {
                offset: entry_at,
                reason: "trace file has corrupted interface list(0)".into(),
            });
        }
        let (v6, linkspeed) = match iftype {
            1 => (false, true),
            2 => (true, true),
            3 => (false, false),
            4 => (true, false),
            other => {
                return Err(CaptureError::Corrupt {
                    offset: entry_at,
                    reason: format!("unknown interface type {other}"),
                });
            }
        };
        let rec = if v6 {
            let addr = c.array("interface entry")?;
            let netmask = c.array("interface entry")?;
            let bcast = c.array("interface entry")?;
            let linkspeed = if linkspeed {
                c.u64("interface entry")?
            } else {
                0
            };
            let name = String::from_utf8_lossy(c.bytes(namelen, "interface name")?).into_owned();
            InterfaceRecord::Ipv6 {
                name,
                addr,
                netmask,
                bcast,
                linkspeed,
            }
        } else {
            let addr = c.array("interface entry")?;
            let netmask = c.array("interface entry")?;
            let bcast = c.array("interface entry")?;
            let linkspeed = if linkspeed {
                c.u64("interface entry")?
            } else {
                0
            };
            let name = String::from_utf8_lossy(c.bytes(namelen, "interface name")?).into_owned();
            InterfaceRecord::Ipv4 {
                name,
                addr,
                netmask,
                bcast,
                linkspeed,
            }
        };
        if let Some(len) = entry_len {
            let read = c.pos() - start;
            if read > len {
                return Err(CaptureError::Corrupt {
                    offset: entry_at,
                    reason: format!(
                        "trace file has corrupted interface list(2) toread={read}, entrysize={len}"
                    ),
                });
            }
            c.skip(len - read, "interface entry")?;
        }
        Ok(rec)
    }

    /// Encodes an IL_V2 entry (its length excludes the length field).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        match self {
            InterfaceRecord::Ipv4 {
                name,
                addr,
                netmask,
                bcast,
                linkspeed,
            } => {
                out.extend_from_slice(&1u16.to_le_bytes());
                out.extend_from_slice(&(name.len() as u16).to_le_bytes());
                out.extend_from_slice(addr);
                out.extend_from_slice(netmask);
                out.extend_from_slice(bcast);
                out.extend_from_slice(&linkspeed.to_le_bytes());
                out.extend_from_slice(name.as_bytes());
            }
            InterfaceRecord::Ipv6 {
                name,
                addr,
                netmask,
                bcast,
                linkspeed,
            } => {
                out.extend_from_slice(&2u16.to_le_bytes());
                out.extend_from_slice(&(name.len() as u16).to_le_bytes());
                out.extend_from_slice(addr);
                out.extend_from_slice(netmask);
                out.extend_from_slice(bcast);
                out.extend_from_slice(&linkspeed.to_le_bytes());
                out.extend_from_slice(name.as_bytes());
            }
        }
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// A user of the user list (UL / UL_V2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    pub homedir: String,
    pub shell: String,
}

/// A group of the user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub gid: u32,
    pub name: String,
}

/// One entry of a user-list block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserListEntry {
    User(UserRecord),
    Group(GroupRecord),
}

impl UserListEntry {
    pub(crate) fn parse(c: &mut Cursor<'_>, v2: bool) -> Result<Self, CaptureError> {
        let start = c.pos();
        let entry_at = c.offset();
        let sub_len = if v2 {
            c.u32("user entry length")? as usize
        } else {
            0
        };
        let kind = c.u8("user entry")?;
        let max = MAX_CREDENTIALS_STR_LEN - 1;
        let entry = if kind == 0 {
            UserListEntry::User(UserRecord {
                uid: c.u32("user entry")?,
                gid: c.u32("user entry")?,
                name: c.string(max, "user name")?,
                homedir: c.string(max, "user homedir")?,
                shell: c.string(max, "user shell")?,
            })
        } else {
            UserListEntry::Group(GroupRecord {
                gid: c.u32("group entry")?,
                name: c.string(max, "group name")?,
            })
        };
        if sub_len != 0 {
            let read = c.pos() - start;
            if read > sub_len {
                return Err(CaptureError::Corrupt {
                    offset: entry_at,
                    reason: format!(
                        "corrupted input file. Had read {read} bytes, but userlist entry have \
                         length {sub_len}."
                    ),
                });
            }
            c.skip(sub_len - read, "user entry")?;
        }
        Ok(entry)
    }

    /// Encodes a UL_V2 entry (with its length).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        match self {
            UserListEntry::User(u) => {
                out.push(0);
                out.extend_from_slice(&u.uid.to_le_bytes());
                out.extend_from_slice(&u.gid.to_le_bytes());
                put_lstr(out, u.name.as_bytes());
                put_lstr(out, u.homedir.as_bytes());
                put_lstr(out, u.shell.as_bytes());
            }
            UserListEntry::Group(g) => {
                out.push(1);
                out.extend_from_slice(&g.gid.to_le_bytes());
                put_lstr(out, g.name.as_bytes());
            }
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// Everything a capture section says before its first event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// SHB version (major, minor).
    pub version: (u16, u16),
    pub machine: Option<MachineInfo>,
    pub threads: Vec<ThreadRecord>,
    /// Fds per owning thread id, in file order.
    pub fds: Vec<(u64, FdRecord)>,
    pub interfaces: Vec<InterfaceRecord>,
    pub users: Vec<UserRecord>,
    pub groups: Vec<GroupRecord>,
}
