//! Field extraction: the values of every field class (evt, process/thread, user, group, fd,
//! fs.path, container, k8s) for one parsed event, as libsinsp's filterchecks and the container
//! plugin compute them, plus their rendering for output text and JSON `output_fields`.
//!
//! Input is the decoded [`Event`], the [`State`] after the event was parsed and its
//! [`EventCtx`]; output is [`Value`]s through the [`Extract`] trait.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;

use crate::event::Event;
use crate::event::table::{self, ParamExtra, ParamInfo, ParamType, PrintFormat as ParamFormat};
use crate::state::fd::{FdInfo, FdType};
use crate::state::parse::return_value;
use crate::state::path::{concatenate_paths, sanitize_into};
use crate::state::{EventCtx, State, ThreadInfo};

use super::names;
use super::registry::{self, PrintFormat};
use super::{Extract, FieldArg, FieldInfo, FieldRef, FieldType, Hot, Value};

const PPM_AT_FDCWD: i64 = -100;
const ONE_SECOND_IN_NS: u64 = 1_000_000_000;

/// Extracts fields of one event from the state the event left behind.
pub struct Extractor<'a, 'e> {
    pub state: &'a State,
    pub ev: &'a Event<'e>,
    pub ctx: &'a EventCtx,
    /// `evt.hostname`: the machine's host name (FALCO_HOSTNAME or gethostname()).
    pub hostname: &'a str,
    /// The event's thread and fd, looked up once per event (libsinsp keeps `m_tinfo` and
    /// `m_fdinfo` on the event): every field of a rule reads them.
    thread: OnceCell<Option<&'a ThreadInfo>>,
    fd: OnceCell<Option<&'a FdInfo>>,
}

/// Which `evt.is_open_*` field [`Extractor::is_open`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenField {
    Read,
    Write,
    Create,
    Exec,
}

fn s(v: impl Into<Vec<u8>>) -> Value<'static> {
    Value::Str(Cow::Owned(v.into()))
}

/// A static string value (no allocation).
fn st(v: &'static str) -> Value<'static> {
    Value::Str(Cow::Borrowed(v.as_bytes()))
}

/// A string value borrowed from the state (no allocation).
fn sb(v: &[u8]) -> Value<'_> {
    Value::Str(Cow::Borrowed(v))
}

fn u(v: u64) -> Value<'static> {
    Value::Uint(v)
}

fn i(v: i64) -> Value<'static> {
    Value::Int(v)
}

fn b(v: bool) -> Value<'static> {
    Value::Bool(v)
}

/// Capability names by bit (`sinsp_utils::caps_to_string`).
const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `caps_to_string`: names of the set bits, space separated.
pub fn caps_to_string(caps: u64) -> String {
    let mut out = String::new();
    for (bit, name) in CAPABILITIES.iter().enumerate() {
        if caps & (1 << bit) != 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(name);
        }
    }
    out
}

/// `ts_to_string`: local time `[YYYY-MM-DD ]HH:MM:SS[.nnnnnnnnn]`.
pub fn ts_to_string(ts: u64, date: bool, ns: bool) -> String {
    use chrono::{Local, Offset, TimeZone};
    let sec = (ts / ONE_SECOND_IN_NS) as i64;
    let nsec = ts % ONE_SECOND_IN_NS;
    let offset = Local
        .timestamp_opt(sec, 0)
        .single()
        .map_or(0, |t| i64::from(t.offset().fix().local_minus_utc()));
    let local = sec + offset;
    let secs_of_day = local.rem_euclid(86_400);
    let mut out = String::new();
    if date {
        let day = chrono::DateTime::from_timestamp(local - secs_of_day, 0).unwrap_or_default();
        out.push_str(&day.format("%Y-%m-%d ").to_string());
    }
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    ));
    if ns {
        out.push_str(&format!(".{nsec:09}"));
    }
    out
}

/// `ts_to_iso_8601`: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000` (UTC).
pub fn ts_to_iso_8601(ts: u64) -> String {
    let sec = (ts / ONE_SECOND_IN_NS) as i64;
    let nsec = ts % ONE_SECOND_IN_NS;
    let t = chrono::DateTime::from_timestamp(sec, 0).unwrap_or_default();
    format!("{}.{nsec:09}+0000", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// Flag names of `val` per the table, as `get_param_as_str` resolves FLAGS / ENUMFLAGS.
pub fn flags_to_string(table: &[(&str, u32)], val: u32, exact: bool) -> String {
    let mut out = String::new();
    let initial = val;
    let mut val = val;
    for (name, value) in table {
        let matched = if exact {
            *value == initial
        } else if (*value == 0 && initial == 0)
            || (*value != 0 && val & value == *value && val != 0)
        {
            val &= !value;
            true
        } else {
            false
        };
        if matched {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            if !exact && *value == initial {
                break;
            }
        }
    }
    out
}

/// `PT_MODE` names (chmod family).
fn mode_to_string(table: &[(&str, u32)], val: u32) -> String {
    let mut out = String::new();
    let initial = val;
    let mut val = val;
    let mut idx = 0;
    while idx < table.len() && table[idx].1 != initial {
        let (name, value) = table[idx];
        if (value == 0 && initial == 0) || (value != 0 && val & value == value && val != 0) {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            val &= !value;
        }
        idx += 1;
    }
    if idx < table.len() {
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(table[idx].0);
    }
    out
}

fn num_fmt(fmt: ParamFormat, v: u64, signed: Option<i64>) -> String {
    match fmt {
        ParamFormat::Oct => format!("{v:o}"),
        ParamFormat::Hex => format!("{v:X}"),
        _ => match signed {
            Some(s) => s.to_string(),
            None => v.to_string(),
        },
    }
}

/// `binary_buffer_to_string` in normal mode: printable bytes kept, others as `.`.
pub fn buffer_to_dots(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|c| if (0x20..0x7f).contains(c) { *c } else { b'.' })
        .collect()
}

impl<'a, 'e> Extractor<'a, 'e> {
    /// The extractor of `ev`, which left `state` and `ctx` behind.
    pub fn new(
        state: &'a State,
        ev: &'a Event<'e>,
        ctx: &'a EventCtx,
        hostname: &'a str,
    ) -> Extractor<'a, 'e> {
        Extractor {
            state,
            ev,
            ctx,
            hostname,
            thread: OnceCell::new(),
            fd: OnceCell::new(),
        }
    }

    fn thread(&self) -> Option<&'a ThreadInfo> {
        *self
            .thread
            .get_or_init(|| self.ctx.tid.and_then(|tid| self.state.threads.get(tid)))
    }

    /// The event's fd (its thread's last event fd), if the event uses one and it is in the
    /// table.
    fn fd(&self) -> Option<&'a FdInfo> {
        if !self.ctx.fd_event {
            return None;
        }
        *self.fd.get_or_init(|| {
            let t = self.thread()?;
            if t.lastevent_fd == -1 {
                return None;
            }
            self.state.threads.fd(t, t.lastevent_fd)
        })
    }

    fn container_id(&self) -> &'a str {
        self.thread().map_or("", |t| t.container_id.as_str())
    }

    /// `get_param_as_str`: (value, resolved) of parameter `idx`.
    pub fn param_as_str(&self, idx: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        let info = self.ev.info();
        let raw = self.ev.param(idx)?;
        let mut pinfo: ParamInfo = *info.params.get(idx)?;
        let fmt = pinfo.fmt;
        if raw.is_empty() {
            let v: &[u8] = match pinfo.ptype {
                ParamType::Bytebuf
                | ParamType::Socktuple
                | ParamType::Fdlist
                | ParamType::CharbufArray
                | ParamType::CharbufPairArray
                | ParamType::Dyn => b"NULL",
                _ => b"<NA>",
            };
            return Some((v.to_vec(), Vec::new()));
        }
        let mut data = raw;
        if pinfo.ptype == ParamType::Dyn
            && let ParamExtra::Dyn(alts) = pinfo.extra
            && let Some(alt) = alts.get(usize::from(raw[0]))
        {
            pinfo = *alt;
            data = &raw[1..];
        }
        let int = |n: usize| -> Option<u64> {
            let mut buf = [0u8; 8];
            buf[..n].copy_from_slice(data.get(..n)?);
            Some(u64::from_le_bytes(buf))
        };
        let mut resolved = Vec::new();
        let value: Vec<u8> = match pinfo.ptype {
            ParamType::Int8 => {
                let v = int(1)? as u8 as i8;
                num_fmt(fmt, u64::from(v as u8), Some(i64::from(v))).into_bytes()
            }
            ParamType::Int16 => {
                let v = int(2)? as u16 as i16;
                num_fmt(fmt, u64::from(v as u16), Some(i64::from(v))).into_bytes()
            }
            ParamType::Int32 => {
                let v = int(4)? as u32 as i32;
                num_fmt(fmt, u64::from(v as u32), Some(i64::from(v))).into_bytes()
            }
            ParamType::Int64 | ParamType::Uint64 => {
                let v = int(8)?;
                num_fmt(fmt, v, Some(v as i64)).into_bytes()
            }
            ParamType::Uint8 => num_fmt(fmt, int(1)?, None).into_bytes(),
            ParamType::Uint16 | ParamType::Port => num_fmt(fmt, int(2)?, None).into_bytes(),
            ParamType::Uint32 => num_fmt(fmt, int(4)?, None).into_bytes(),
            ParamType::Fd => {
                let fd = int(8)? as i64;
                if let Some(t) = self.thread() {
                    if fd >= 0 {
                        if let Some(f) = self.state.threads.fd(t, fd) {
                            resolved.push(b'<');
                            resolved.push(f.ty.typechar());
                            if matches!(
                                f.ty,
                                FdType::Ipv4Sock
                                    | FdType::Ipv6Sock
                                    | FdType::Ipv4ServSock
                                    | FdType::Ipv6ServSock
                            ) && let Some(l) = f.sock.l4proto.letter()
                            {
                                resolved.push(l);
                            }
                            resolved.push(b'>');
                            sanitize_into(&mut resolved, &f.name);
                        }
                    } else if fd == PPM_AT_FDCWD {
                        resolved.extend_from_slice(b"AT_FDCWD");
                    } else if let Some(n) = names::errno_name(fd.unsigned_abs()) {
                        resolved.extend_from_slice(n.as_bytes());
                    }
                }
                fd.to_string().into_bytes()
            }
            ParamType::Pid => {
                let pid = int(8)? as i64;
                if let Some(t) = self.state.threads.get(pid) {
                    resolved = t.comm.clone();
                }
                pid.to_string().into_bytes()
            }
            ParamType::Errno => {
                let v = int(8)? as i64;
                if v < 0
                    && let Some(n) = names::errno_name(v.unsigned_abs())
                {
                    resolved.extend_from_slice(n.as_bytes());
                }
                v.to_string().into_bytes()
            }
            ParamType::Charbuf => {
                let end = memchr::memchr(0, data).unwrap_or(data.len());
                data[..end].to_vec()
            }
            ParamType::Fspath | ParamType::FsRelPath => {
                let end = memchr::memchr(0, data).unwrap_or(data.len());
                let path = &data[..end];
                let mut v = Vec::new();
                sanitize_into(&mut v, path);
                if let Some(t) = self.thread() {
                    if path != b"<NA>" && !path.is_empty() && path[0] != b'/' {
                        let base = self.base_dir(t, &pinfo, info);
                        sanitize_into(&mut resolved, &concatenate_paths(&base, path));
                    }
                } else {
                    resolved = v.clone();
                }
                v
            }
            ParamType::Bytebuf => buffer_to_dots(data),
            ParamType::Sockaddr => sockaddr_text(data),
            ParamType::Socktuple => socktuple_text(data),
            ParamType::Fdlist => {
                let t = self.thread()?;
                let n = usize::from(u16::from_le_bytes([*data.first()?, *data.get(1)?]));
                let mut out = String::new();
                for j in 0..n {
                    let off = 2 + j * 10;
                    let e = data.get(off..off + 10)?;
                    let fd = i64::from_le_bytes(e[..8].try_into().ok()?);
                    let flags = i16::from_le_bytes([e[8], e[9]]);
                    let tch = self
                        .state
                        .threads
                        .fd(t, fd)
                        .map_or('?', |f| char::from(f.ty.typechar()));
                    out.push_str(&format!("{}:{}{:x}", fd as u64, tch, flags as i32 as u32));
                    if j + 1 < n {
                        out.push(' ');
                    }
                }
                out.into_bytes()
            }
            ParamType::SyscallId => {
                let sc = int(2)? as u16;
                if let Some(n) = table::ppm_sc_name(sc) {
                    resolved.extend_from_slice(n.as_bytes());
                }
                sc.to_string().into_bytes()
            }
            ParamType::Sigtype => {
                let v = int(1)? as u8;
                if let Some(n) = names::signal_name(v) {
                    resolved.extend_from_slice(n.as_bytes());
                }
                v.to_string().into_bytes()
            }
            ParamType::Reltime => {
                let v = int(8)?;
                if v == u64::MAX {
                    b"none".to_vec()
                } else {
                    resolved = format_g_seconds(v).into_bytes();
                    v.to_string().into_bytes()
                }
            }
            ParamType::Flags8
            | ParamType::Flags16
            | ParamType::Flags32
            | ParamType::EnumFlags8
            | ParamType::EnumFlags16
            | ParamType::EnumFlags32 => {
                let n = match pinfo.ptype {
                    ParamType::Flags8 | ParamType::EnumFlags8 => 1,
                    ParamType::Flags16 | ParamType::EnumFlags16 => 2,
                    _ => 4,
                };
                let v = int(n)? as u32;
                let exact = matches!(
                    pinfo.ptype,
                    ParamType::EnumFlags8 | ParamType::EnumFlags16 | ParamType::EnumFlags32
                );
                if let Some(t) = info.params[idx].flags() {
                    resolved = flags_to_string(t, v, exact).into_bytes();
                }
                v.to_string().into_bytes()
            }
            ParamType::Mode => {
                let v = int(4)? as u32;
                if let Some(t) = info.params[idx].flags() {
                    resolved = mode_to_string(t, v).into_bytes();
                }
                num_fmt(fmt, u64::from(v), None).into_bytes()
            }
            ParamType::Abstime => {
                let v = int(8)?;
                abstime_text(v).into_bytes()
            }
            ParamType::Uid | ParamType::Gid => {
                let v = int(4)? as u32;
                if v == u32::MAX {
                    resolved = b"<NONE>".to_vec();
                    b"-1".to_vec()
                } else {
                    let cid = self.container_id();
                    let name = if pinfo.ptype == ParamType::Uid {
                        self.state.users.user(cid, v).map(|x| x.name.clone())
                    } else {
                        self.state.users.group(cid, v).map(|x| x.name.clone())
                    };
                    resolved = match name {
                        Some(n) if !n.is_empty() && self.thread().is_some() => {
                            let mut r = Vec::new();
                            sanitize_into(&mut r, &n);
                            r
                        }
                        _ => b"<NA>".to_vec(),
                    };
                    (v as i32).to_string().into_bytes()
                }
            }
            ParamType::Sigset => {
                let v = int(4)? as u32;
                let mut names_out = Vec::new();
                for sig in 0..32u8 {
                    if v & (1 << sig) != 0
                        && let Some(n) = names::signal_name(sig + 1)
                    {
                        names_out.push(n);
                    }
                }
                names_out.join(" ").into_bytes()
            }
            ParamType::Ipv4Addr => {
                let d = data.get(..4)?;
                format!("{}.{}.{}.{}", d[0], d[1], d[2], d[3]).into_bytes()
            }
            _ => b"(n.a.)".to_vec(),
        };
        Some((value, resolved))
    }

    /// `get_base_dir`: cwd for FSPATH, the dirfd's path for FSRELPATH.
    fn base_dir(&self, t: &ThreadInfo, pinfo: &ParamInfo, info: &table::EventInfo) -> Vec<u8> {
        let cwd = self.state.threads.cwd(t).to_vec();
        if pinfo.ptype != ParamType::FsRelPath {
            return cwd;
        }
        let ParamExtra::DirFd(dirfd_idx) = pinfo.extra else {
            return cwd;
        };
        let dirfd_idx = usize::from(dirfd_idx);
        if info.params.get(dirfd_idx).map(|p| p.ptype) != Some(ParamType::Fd) {
            return cwd;
        }
        let Some(dirfd) = self
            .ev
            .param(dirfd_idx)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_le_bytes)
        else {
            return cwd;
        };
        if dirfd == PPM_AT_FDCWD {
            return cwd;
        }
        match self.state.threads.fd(t, dirfd) {
            Some(f) if !f.name.is_empty() => {
                let mut n = Vec::new();
                sanitize_into(&mut n, &f.name);
                if n.last() != Some(&b'/') {
                    n.push(b'/');
                }
                n
            }
            _ => Vec::new(),
        }
    }

    /// Resolved-or-plain text of parameter `idx` (`evt.arg[N]`).
    fn param_text(&self, idx: usize) -> Option<Vec<u8>> {
        let (v, r) = self.param_as_str(idx)?;
        Some(if r.is_empty() { v } else { r })
    }

    fn evt_args(&self) -> Vec<u8> {
        if self.ev.event_type() == table::PPME_GENERIC_X {
            return Vec::new();
        }
        let info = self.ev.info();
        let mut out = Vec::new();
        for j in 0..self.ev.nparams() {
            let Some((v, r)) = self.param_as_str(j) else {
                continue;
            };
            let name = info.params.get(j).map_or("", |p| p.name);
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            out.extend_from_slice(&v);
            if !r.is_empty() {
                out.push(b'(');
                out.extend_from_slice(&r);
                out.push(b')');
            }
            out.push(b' ');
        }
        out.pop();
        out
    }

    /// `evt.type` / `syscall.type` name.
    fn type_name(&self) -> &'a [u8] {
        let ev = self.ev;
        match ev.event_type() {
            table::PPME_GENERIC_E | table::PPME_GENERIC_X => {
                let sc = ev
                    .param(0)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u16::from_le_bytes);
                table::ppm_sc_name(sc).unwrap_or("unknown").as_bytes()
            }
            _ if ev.info().ppme == "ASYNCEVENT_E" => ev.param_cstr(1).unwrap_or(b""),
            _ => ev.name().as_bytes(),
        }
    }

    fn is_local(&self, f: &FdInfo) -> bool {
        let cid = self.container_id();
        match f.sock.sip {
            IpAddr::V4(a) => {
                if !cid.is_empty() {
                    return self
                        .state
                        .containers
                        .get(cid)
                        .is_some_and(|c| c.ip.parse::<IpAddr>().ok() == Some(IpAddr::V4(a)));
                }
                self.state.interfaces.ipv4.contains(&a)
            }
            IpAddr::V6(a) => {
                if !cid.is_empty() {
                    return false;
                }
                let p = a.octets();
                self.state
                    .interfaces
                    .ipv6
                    .iter()
                    .any(|n| n.octets()[..8] == p[..8])
            }
        }
    }

    fn extract_evt<'o>(&self, name: &str, arg: Option<&FieldArg>, out: &mut Vec<Value<'o>>) -> bool
    where
        'a: 'o,
    {
        let ev = self.ev;
        let ts = ev.ts();
        let info = ev.info();
        let res = return_value(ev);
        let v = match name {
            "evt.num" => u(self.ctx.num),
            "evt.time" => s(ts_to_string(ts, false, true)),
            "evt.time.s" => s(ts_to_string(ts, false, false)),
            "evt.time.iso8601" => s(ts_to_iso_8601(ts)),
            "evt.datetime" => s(ts_to_string(ts, true, true)),
            "evt.datetime.s" => s(ts_to_string(ts, true, false)),
            "evt.outputtime" => s(ts_to_string(ts, false, true)),
            "evt.rawtime" => u(ts),
            "evt.rawtime.s" => u(ts / ONE_SECOND_IN_NS),
            "evt.rawtime.ns" => u(ts % ONE_SECOND_IN_NS),
            "evt.reltime" => u(ts.wrapping_sub(self.ctx.first_ts)),
            "evt.reltime.s" => u(ts.wrapping_sub(self.ctx.first_ts) / ONE_SECOND_IN_NS),
            "evt.reltime.ns" => u(ts.wrapping_sub(self.ctx.first_ts) % ONE_SECOND_IN_NS),
            "evt.source" => st("syscall"),
            "evt.is_async" => b(info.is_metaevent()),
            "evt.asynctype" => {
                if !info.is_metaevent() {
                    return false;
                }
                if info.ppme == "ASYNCEVENT_E" {
                    s(ev.param_cstr(1).unwrap_or(b""))
                } else {
                    st(info.name)
                }
            }
            "evt.hostname" => sb(self.hostname.as_bytes()),
            "evt.latency"
            | "evt.latency.s"
            | "evt.latency.ns"
            | "evt.latency.quantized"
            | "evt.wait_latency" => u(0),
            "evt.latency.human" => st("0ns"),
            "evt.deltatime" | "evt.deltatime.s" | "evt.deltatime.ns" => {
                let d = if self.ctx.prev_ts == 0 {
                    0
                } else {
                    ts.wrapping_sub(self.ctx.prev_ts)
                };
                u(match name {
                    "evt.deltatime.s" => d / ONE_SECOND_IN_NS,
                    "evt.deltatime.ns" => d % ONE_SECOND_IN_NS,
                    _ => d,
                })
            }
            "evt.dir" => s(if info.direction() == table::Direction::Enter {
                ">"
            } else {
                "<"
            }),
            "evt.type" => sb(self.type_name()),
            "evt.type.is" => {
                let Some(FieldArg::Key(k)) = arg else {
                    return false;
                };
                b(table::codes_for_name(k).contains(&ev.event_type()))
            }
            "syscall.type" => {
                if !info.is_syscall() {
                    return false;
                }
                sb(self.type_name())
            }
            "evt.category" => st(category_name(info, self.fd())),
            "evt.cpu" => u(u64::from(self.ctx.cpu)),
            "evt.args" | "evt.info" => s(self.evt_args()),
            "evt.arg" | "evt.rawarg" => {
                let idx = match arg {
                    Some(FieldArg::Index(n)) => {
                        let n = usize::try_from(*n).ok();
                        match n {
                            Some(n) if n < ev.nparams() => n,
                            _ => return false,
                        }
                    }
                    Some(FieldArg::Key(k)) => match info.param_index(k) {
                        Some(n) if n < ev.nparams() => n,
                        _ => return false,
                    },
                    None => return false,
                };
                if name == "evt.rawarg" {
                    return self.raw_param(idx, out);
                }
                match self.param_text(idx) {
                    Some(t) => s(t),
                    None => return false,
                }
            }
            "evt.buffer" => {
                let Some(idx) = info.param_index("data") else {
                    return false;
                };
                match ev.param(idx) {
                    Some(d) => Value::Bytes(Cow::Owned(d.to_vec())),
                    None => return false,
                }
            }
            "evt.buflen" => {
                if self.fd().is_none() || !is_io(info) {
                    return false;
                }
                match res {
                    Some(r) if r >= 0 => u(r as u64),
                    _ => return false,
                }
            }
            "evt.rawres" => match res {
                Some(r) => i(r),
                None => return false,
            },
            "evt.res" => match res {
                Some(r) if r >= 0 => st("SUCCESS"),
                Some(_) => match self.param_text(0) {
                    Some(t) => s(t),
                    None => return false,
                },
                None => return false,
            },
            "evt.failed" | "evt.count.error" => match res {
                Some(r) => b(r < 0),
                None => return false,
            },
            "evt.is_io" => b(info.flags & (table::EF_READS_FROM_FD | table::EF_WRITES_TO_FD) != 0),
            "evt.is_io_read" => b(info.flags & table::EF_READS_FROM_FD != 0),
            "evt.is_io_write" => b(info.flags & table::EF_WRITES_TO_FD != 0),
            "evt.io_dir" => {
                if info.flags & table::EF_WRITES_TO_FD != 0 {
                    st("write")
                } else if info.flags & table::EF_READS_FROM_FD != 0 {
                    st("read")
                } else {
                    return false;
                }
            }
            "evt.is_wait" => b(info.flags & table::EF_WAITS != 0),
            "evt.is_syslog" => b(info.flags & table::EF_WRITES_TO_FD != 0
                && self.fd().is_some_and(|f| f.name.starts_with(b"/dev/log"))),
            "evt.count" => u(1),
            "evt.count.exit" => {
                if info.direction() != table::Direction::Exit {
                    return false;
                }
                u(1)
            }
            "evt.count.procinfo" | "evt.count.threadinfo" => u(0),
            "evt.abspath" => return self.abspath(arg, out),
            "evt.is_open_read" => b(self.is_open(OpenField::Read, res)),
            "evt.is_open_write" => b(self.is_open(OpenField::Write, res)),
            "evt.is_open_exec" => b(self.is_open(OpenField::Exec, res)),
            "evt.is_open_create" => b(self.is_open(OpenField::Create, res)),
            _ => return false,
        };
        out.push(v);
        true
    }

    fn raw_param<'o>(&self, idx: usize, out: &mut Vec<Value<'o>>) -> bool
    where
        'a: 'o,
    {
        let Some(p) = self.ev.info().params.get(idx) else {
            return false;
        };
        let Some(raw) = self.ev.param(idx).filter(|r| !r.is_empty()) else {
            return false;
        };
        let int = |n: usize| -> Option<u64> {
            let mut buf = [0u8; 8];
            buf[..n].copy_from_slice(raw.get(..n)?);
            Some(u64::from_le_bytes(buf))
        };
        // The engine compares DYNAMIC fields as strings: numbers go out as decimal text.
        let text = |n: String| Some(s(n));
        let v = match p.ptype {
            ParamType::Int8 => int(1).and_then(|v| text((v as u8 as i8).to_string())),
            ParamType::Int16 => int(2).and_then(|v| text((v as u16 as i16).to_string())),
            ParamType::Int32 => int(4).and_then(|v| text((v as u32 as i32).to_string())),
            ParamType::Int64 | ParamType::Errno | ParamType::Fd | ParamType::Pid => {
                int(8).and_then(|v| text((v as i64).to_string()))
            }
            ParamType::Charbuf | ParamType::Fspath | ParamType::FsRelPath => {
                let end = memchr::memchr(0, raw).unwrap_or(raw.len());
                Some(s(&raw[..end]))
            }
            _ => match p.ptype.fixed_size() {
                Some(n) if n <= 8 => int(n).and_then(|v| text(v.to_string())),
                _ => Some(Value::Bytes(Cow::Owned(raw.to_vec()))),
            },
        };
        match v {
            Some(v) => {
                out.push(v);
                true
            }
            None => false,
        }
    }

    fn abspath<'o>(&self, arg: Option<&FieldArg>, out: &mut Vec<Value<'o>>) -> bool
    where
        'a: 'o,
    {
        let Some(FieldArg::Key(which)) = arg else {
            return false;
        };
        let ppme = self.ev.info().ppme;
        let (dirfd_i, name_i) = match (ppme, which.as_str()) {
            ("SYSCALL_RENAMEAT_X" | "SYSCALL_RENAMEAT2_X" | "SYSCALL_LINKAT_2_X", "src") => (1, 2),
            ("SYSCALL_RENAMEAT_X" | "SYSCALL_RENAMEAT2_X" | "SYSCALL_LINKAT_2_X", "dst") => (3, 4),
            ("SYSCALL_SYMLINKAT_X", "target" | "dst") => (2, 3),
            ("SYSCALL_UNLINKAT_2_X" | "SYSCALL_MKDIRAT_X" | "SYSCALL_FCHMODAT_X", _) => (1, 2),
            ("SYSCALL_OPENAT_2_X" | "SYSCALL_OPENAT2_X", _) => (1, 2),
            _ => return false,
        };
        let Some(t) = self.thread() else {
            return false;
        };
        let Some(name) = self.ev.param_cstr(name_i) else {
            return false;
        };
        let dirfd = self
            .ev
            .param(dirfd_i)
            .and_then(|b| b.try_into().ok())
            .map_or(PPM_AT_FDCWD, i64::from_le_bytes);
        let base = if name.first() == Some(&b'/') {
            Vec::new()
        } else if dirfd == PPM_AT_FDCWD {
            self.state.threads.cwd(t).to_vec()
        } else {
            match self.state.threads.fd(t, dirfd) {
                Some(f) => {
                    let mut n = f.name.clone();
                    n.push(b'/');
                    n
                }
                None => return false,
            }
        };
        out.push(s(concatenate_paths(&base, name)));
        true
    }

    fn is_open(&self, which: OpenField, res: Option<i64>) -> bool {
        use table::{
            PPME_SYSCALL_CREAT_X, PPME_SYSCALL_OPEN_BY_HANDLE_AT_X, PPME_SYSCALL_OPEN_X,
            PPME_SYSCALL_OPENAT_2_X, PPME_SYSCALL_OPENAT2_X,
        };
        const PPM_O_RDONLY: u32 = 1;
        const PPM_O_WRONLY: u32 = 2;
        const PPM_O_CREAT: u32 = 1 << 2;
        const PPM_O_TMPFILE: u32 = 1 << 13;
        const PPM_O_F_CREATED: u32 = 1 << 14;
        const EXEC_MASK: u32 = 0o111;
        let ev = self.ev;
        let code = ev.event_type();
        let u32_at = |idx: usize| {
            ev.param(idx)
                .and_then(|b| b.get(..4))
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        };
        match code {
            PPME_SYSCALL_OPEN_X
            | PPME_SYSCALL_OPENAT_2_X
            | PPME_SYSCALL_OPENAT2_X
            | PPME_SYSCALL_OPEN_BY_HANDLE_AT_X => {
                let new = code != PPME_SYSCALL_OPEN_X && code != PPME_SYSCALL_OPEN_BY_HANDLE_AT_X;
                let flags = u32_at(if new { 3 } else { 2 }).unwrap_or(0);
                match which {
                    OpenField::Read => flags & PPM_O_RDONLY != 0,
                    OpenField::Write => flags & PPM_O_WRONLY != 0,
                    OpenField::Create => {
                        flags & PPM_O_F_CREATED != 0
                            || (flags & PPM_O_TMPFILE != 0 && res.is_some_and(|r| r >= 0))
                    }
                    OpenField::Exec => {
                        flags & (PPM_O_TMPFILE | PPM_O_CREAT) != 0
                            && code != PPME_SYSCALL_OPEN_BY_HANDLE_AT_X
                            && u32_at(if new { 4 } else { 3 }).is_some_and(|m| m & EXEC_MASK != 0)
                    }
                }
            }
            PPME_SYSCALL_CREAT_X if which == OpenField::Exec => {
                u32_at(2).is_some_and(|m| m & EXEC_MASK != 0)
            }
            _ => false,
        }
    }

    /// `extract_fdname_from_event`: the fd name when the fd is not in the table.
    fn fdname_from_event(&self, raw: bool) -> Option<Vec<u8>> {
        let ev = self.ev;
        let info = ev.info();
        if info.direction() == table::Direction::Enter {
            return None;
        }
        match info.ppme {
            "SYSCALL_OPEN_X" | "SOCKET_ACCEPT_5_X" | "SOCKET_ACCEPT4_6_X" | "SYSCALL_CREAT_X"
            | "SOCKET_CONNECT_X" => self.param_text(1),
            "SYSCALL_OPENAT_2_X" | "SYSCALL_OPENAT2_X" => {
                let name = ev.param(2).filter(|b| !b.is_empty())?;
                let end = memchr::memchr(0, name).unwrap_or(name.len());
                let name = &name[..end];
                if raw {
                    return Some(name.to_vec());
                }
                let dirfd = ev.param(1).filter(|b| !b.is_empty())?;
                let dirfd = i64::from_le_bytes(dirfd.try_into().ok()?);
                let sdir = if name.first() == Some(&b'/') {
                    b".".to_vec()
                } else {
                    match self.thread() {
                        None => b"<UNKNOWN>".to_vec(),
                        Some(t) if dirfd == PPM_AT_FDCWD => self.state.threads.cwd(t).to_vec(),
                        Some(t) => match self.state.threads.fd(t, dirfd) {
                            None => b"<UNKNOWN>".to_vec(),
                            Some(f) => {
                                let mut n = f.name.clone();
                                if !n.is_empty() && n.last() != Some(&b'/') {
                                    n.push(b'/');
                                }
                                n
                            }
                        },
                    }
                };
                Some(concatenate_paths(&sdir, name))
            }
            "SYSCALL_OPEN_BY_HANDLE_AT_X" => Some(ev.param_cstr(3).unwrap_or(b"").to_vec()),
            _ => Some(Vec::new()),
        }
    }

    /// `sinsp_evt::extract_typechar` for events without an fd in the table.
    fn event_typechar(&self) -> u8 {
        let exit = table::by_code(self.ev.event_type() | 1).map_or("", |i| i.ppme);
        match exit {
            "SYSCALL_OPENAT_2_X" | "SYSCALL_OPENAT2_X" | "SYSCALL_CREAT_X" => b'f',
            "SOCKET_SOCKET_X" | "SOCKET_ACCEPT_5_X" | "SOCKET_ACCEPT4_6_X" => b'4',
            "SYSCALL_PIPE_X" | "SYSCALL_PIPE2_X" => b'p',
            "SYSCALL_EVENTFD_X" | "SYSCALL_EVENTFD2_X" => b'e',
            "SYSCALL_SIGNALFD_X" | "SYSCALL_SIGNALFD4_X" => b's',
            "SYSCALL_TIMERFD_CREATE_X" => b't',
            "SYSCALL_INOTIFY_INIT_X" | "SYSCALL_INOTIFY_INIT1_X" => b'i',
            _ => b'o',
        }
    }

    /// The [`Hot`] `fd.*` field `hot`.
    #[inline]
    fn fd_hot(&self, hot: Hot, arg: Option<&FieldArg>) -> Option<Value<'a>> {
        if !self.ctx.fd_event {
            return None;
        }
        let t = self.thread()?;
        let f = match arg {
            Some(FieldArg::Index(n)) => self.state.threads.fd(t, *n),
            _ => self.fd(),
        };
        Some(match hot {
            Hot::FdName => match f {
                Some(f) => sb(&f.name),
                None => match self.fdname_from_event(false) {
                    Some(n) => s(n),
                    None => return None,
                },
            },
            Hot::FdNum => i(t.lastevent_fd),
            Hot::FdTypechar => st(typechar_str(
                f.map_or_else(|| self.event_typechar(), |f| f.ty.typechar()),
            )),
            Hot::FdDirectory | Hot::FdContainerDirectory => {
                // Borrowed from the fd table where possible (no allocation per event).
                let (mut n, is_file): (Cow<'a, [u8]>, bool) = match f {
                    Some(f) if f.ty.is_file() => (Cow::Borrowed(&f.name), true),
                    Some(f) if f.ty == FdType::Directory => (Cow::Borrowed(&f.name), false),
                    Some(_) => return None,
                    None => match self.fdname_from_event(false) {
                        Some(n) => (Cow::Owned(n), true),
                        None => return None,
                    },
                };
                if is_file {
                    match n.iter().rposition(|c| *c == b'/') {
                        Some(pos) if pos != 0 => {
                            if pos < n.len() - 1 {
                                n = match n {
                                    Cow::Borrowed(b) => Cow::Borrowed(&b[..pos]),
                                    Cow::Owned(mut o) => {
                                        o.truncate(pos);
                                        Cow::Owned(o)
                                    }
                                };
                            }
                        }
                        _ => n = Cow::Borrowed(b"/"),
                    }
                }
                if hot == Hot::FdContainerDirectory {
                    let mut o = t.container_id.as_bytes().to_vec();
                    o.push(b':');
                    o.extend_from_slice(&n);
                    n = Cow::Owned(o);
                }
                Value::Str(n)
            }
            Hot::FdFilename => {
                let n = &f.filter(|f| f.ty.is_file())?.name;
                match n.iter().rposition(|c| *c == b'/') {
                    Some(pos) if pos < n.len() - 1 => sb(&n[pos + 1..]),
                    Some(_) => sb(n),
                    None => st("/"),
                }
            }
            Hot::FdNameraw => {
                let n: Cow<'a, [u8]> = match f {
                    Some(f) => Cow::Borrowed(&f.name_raw),
                    None => match self.fdname_from_event(true) {
                        Some(n) => Cow::Owned(n),
                        None => return None,
                    },
                };
                if n.windows(2).any(|w| w == b"//") {
                    let mut n = n.into_owned();
                    n.dedup_by(|a, b| *a == b'/' && *b == b'/');
                    s(n)
                } else {
                    Value::Str(n)
                }
            }
            _ => return None,
        })
    }

    fn extract_fd<'o>(&self, name: &str, arg: Option<&FieldArg>, out: &mut Vec<Value<'o>>) -> bool
    where
        'a: 'o,
    {
        if !self.ctx.fd_event {
            return false;
        }
        let Some(t) = self.thread() else {
            return false;
        };
        let f = match arg {
            Some(FieldArg::Index(n)) => self.state.threads.fd(t, *n),
            _ => self.fd(),
        };
        let v = match name {
            "fd.cip.name" | "fd.sip.name" | "fd.lip.name" | "fd.rip.name" => {
                let Some(f) = f else {
                    return false;
                };
                let local = matches!(name, "fd.lip.name" | "fd.rip.name")
                    && f.ty.is_ip_socket()
                    && self.is_local(f);
                match super::dns::extract(&self.state.dns, name, f, local, arg) {
                    Some(text) => s(text),
                    None => return false,
                }
            }
            "fd.containername" => {
                let n = match f {
                    Some(f) => f.name.clone(),
                    None => match self.fdname_from_event(false) {
                        Some(n) => n,
                        None => return false,
                    },
                };
                let mut o = t.container_id.as_bytes().to_vec();
                o.push(b':');
                o.extend_from_slice(&n);
                s(o)
            }
            "fd.type" => match f {
                Some(f) => st(f.ty.type_string()),
                None => return false,
            },
            "fd.ip" | "fd.net" | "fd.port" | "fd.proto" => {
                // Filter-only fields: both endpoints (any matches `=`, all must differ `!=`).
                let Some(f) = f else {
                    return false;
                };
                let port = name == "fd.port" || name == "fd.proto";
                let vals: Vec<Value<'a>> = match f.ty {
                    FdType::Ipv4Sock | FdType::Ipv6Sock if port => {
                        vec![u(u64::from(f.sock.sport)), u(u64::from(f.sock.dport))]
                    }
                    FdType::Ipv4Sock | FdType::Ipv6Sock => {
                        vec![Value::Ip(f.sock.sip), Value::Ip(f.sock.dip)]
                    }
                    FdType::Ipv4ServSock | FdType::Ipv6ServSock if port => {
                        vec![u(u64::from(f.sock.sport))]
                    }
                    FdType::Ipv4ServSock | FdType::Ipv6ServSock => vec![Value::Ip(f.sock.sip)],
                    _ => return false,
                };
                let vals = if name == "fd.proto" {
                    vals.into_iter()
                        .map(|v| match v {
                            Value::Uint(p) => s(p.to_string()),
                            other => other,
                        })
                        .collect()
                } else {
                    vals
                };
                out.extend(vals);
                return true;
            }
            "fd.cip" | "fd.cnet" => {
                let Some(f) = f.filter(|f| !f.is_role_none() && f.ty.is_ip_socket()) else {
                    return false;
                };
                Value::Ip(f.sock.sip)
            }
            "fd.sip" | "fd.snet" => {
                let Some(f) = f.filter(|f| !f.is_role_none()) else {
                    return false;
                };
                match f.ty {
                    FdType::Ipv4Sock | FdType::Ipv6Sock => Value::Ip(f.sock.dip),
                    FdType::Ipv4ServSock | FdType::Ipv6ServSock => Value::Ip(f.sock.sip),
                    _ => return false,
                }
            }
            "fd.lip" | "fd.rip" | "fd.lnet" | "fd.rnet" | "fd.lport" | "fd.rport" => {
                let Some(f) = f.filter(|f| f.ty.is_ip_socket() && !f.is_role_none()) else {
                    return false;
                };
                let local = self.is_local(f);
                let client_side = matches!(name, "fd.lip" | "fd.lnet" | "fd.lport") == local;
                match name {
                    "fd.lport" | "fd.rport" => u(u64::from(if client_side {
                        f.sock.sport
                    } else {
                        f.sock.dport
                    })),
                    _ => Value::Ip(if client_side { f.sock.sip } else { f.sock.dip }),
                }
            }
            "fd.cport" => {
                let Some(f) = f.filter(|f| !f.is_role_none() && f.ty.is_ip_socket()) else {
                    return false;
                };
                u(u64::from(f.sock.sport))
            }
            "fd.sport" => {
                let Some(f) = f else {
                    return false;
                };
                match f.ty {
                    FdType::Ipv4Sock | FdType::Ipv6Sock if !f.is_role_none() => {
                        u(u64::from(f.sock.dport))
                    }
                    FdType::Ipv4ServSock | FdType::Ipv6ServSock => u(u64::from(f.sock.sport)),
                    _ => return false,
                }
            }
            "fd.cproto" | "fd.sproto" | "fd.lproto" | "fd.rproto" => {
                // Port names are not resolved (Falco disables it): the number as text.
                let Some(f) = f else {
                    return false;
                };
                let port = match name {
                    "fd.cproto" if f.ty.is_ip_socket() && !f.is_role_none() => f.sock.sport,
                    "fd.sproto" if f.ty.is_ip_socket() && !f.is_role_none() => f.sock.dport,
                    "fd.sproto" if f.ty.is_ip_server_socket() => return out_str(out, ""),
                    "fd.lproto" | "fd.rproto" if f.ty.is_ip_socket() && !f.is_role_none() => {
                        let client_side = (name == "fd.lproto") == self.is_local(f);
                        if client_side {
                            f.sock.sport
                        } else {
                            f.sock.dport
                        }
                    }
                    _ => return false,
                };
                s(port.to_string())
            }
            "fd.l4proto" => match f {
                Some(f) => st(f.sock.l4proto.name()),
                None => return false,
            },
            "fd.is_server" => {
                let Some(f) = f else {
                    return false;
                };
                b(match f.ty {
                    FdType::Ipv4ServSock | FdType::Ipv6ServSock => true,
                    FdType::Ipv4Sock | FdType::Ipv6Sock => {
                        let mut g = f.clone();
                        g.sock.sip = f.sock.dip;
                        self.is_local(&g)
                    }
                    _ => false,
                })
            }
            "fd.sockfamily" => match f.map(|f| f.ty) {
                Some(
                    FdType::Ipv4Sock
                    | FdType::Ipv6Sock
                    | FdType::Ipv4ServSock
                    | FdType::Ipv6ServSock,
                ) => st("ip"),
                Some(FdType::UnixSock) => st("unix"),
                _ => return false,
            },
            "fd.uid" => s(format!("{}{}", t.tid, t.lastevent_fd)),
            "fd.connected" => match f {
                Some(f) => b(f.is_socket_connected()),
                None => return false,
            },
            "fd.name_changed" => match f {
                Some(_) => b(self.ctx.fd_name_changed),
                None => return false,
            },
            "fd.dev" => match f {
                Some(f) => u(u64::from(f.dev)),
                None => return false,
            },
            "fd.dev.major" => match f {
                Some(f) => u(u64::from((f.dev & 0xfff00) >> 8)),
                None => return false,
            },
            "fd.dev.minor" => match f {
                Some(f) => u(u64::from((f.dev & 0xff) | ((f.dev >> 12) & 0xfff00))),
                None => return false,
            },
            "fd.ino" => match f {
                Some(f) => u(f.ino),
                None => return false,
            },
            "fd.is_upper_layer" => match f {
                Some(f) => b(f.flags & crate::state::fd::flags::OVERLAY_UPPER != 0),
                None => return false,
            },
            "fd.is_lower_layer" => match f {
                Some(f) => b(f.flags & crate::state::fd::flags::OVERLAY_LOWER != 0),
                None => return false,
            },
            "fd.types" => {
                if let Some(FieldArg::Index(_)) = arg {
                    match f {
                        Some(f) => st(f.ty.type_string()),
                        None => return false,
                    }
                } else {
                    let mut seen: Vec<&str> = Vec::new();
                    for (_, fdi) in self.state.threads.fd_table(t).iter() {
                        let ts = fdi.ty.type_string();
                        if !seen.contains(&ts) {
                            seen.push(ts);
                        }
                    }
                    for ts in seen {
                        out.push(s(ts));
                    }
                    return true;
                }
            }
            _ => return false,
        };
        out.push(v);
        true
    }

    fn extract_proc<'o>(&self, name: &str, arg: Option<&FieldArg>, out: &mut Vec<Value<'o>>) -> bool
    where
        'a: 'o,
    {
        let threads = &self.state.threads;
        if name == "thread.tid" {
            let tid = self.ev.tid() as i64;
            if !(-1..=i64::from(u32::MAX)).contains(&tid) {
                return false;
            }
            out.push(i(tid));
            return true;
        }
        let Some(t) = self.thread() else {
            return false;
        };
        let index = match arg {
            Some(FieldArg::Index(n)) => Some(*n),
            _ => None,
        };
        let key = match arg {
            Some(FieldArg::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        let cmdline = |t: &ThreadInfo| {
            let mut o = Vec::new();
            t.cmdline(&mut o);
            o
        };
        let args = |t: &ThreadInfo| {
            let mut o = Vec::new();
            t.args_joined(&mut o);
            o
        };
        // Every ancestor of the process (its main thread excluded), in order.
        let every_ancestor = |get: &dyn Fn(&'a ThreadInfo) -> Value<'a>,
                              out: &mut Vec<Value<'o>>| {
            let Some(mt) = threads.main_thread(t) else {
                return false;
            };
            let before = out.len();
            threads.for_each_ancestor(mt, |a| {
                out.push(get(a));
                true
            });
            out.len() > before
        };
        // Ancestor fields: with an index, that ancestor; without, every ancestor (any-match in
        // conditions, space-joined in outputs).
        let ancestors =
            |get: &dyn Fn(&'a ThreadInfo) -> Value<'a>, out: &mut Vec<Value<'o>>| match index {
                Some(n) => match u32::try_from(n).ok().and_then(|n| threads.ancestor(t, n)) {
                    Some(a) => {
                        out.push(get(a));
                        true
                    }
                    None => false,
                },
                None => every_ancestor(get, out),
            };
        let v = match name {
            "proc.pid" => {
                if !(-1..=i64::from(u32::MAX)).contains(&t.pid) {
                    return false;
                }
                i(t.pid)
            }
            "proc.exe" => sb(&t.exe),
            "proc.name" => sb(&t.comm),
            "proc.exepath" => sb(&t.exepath),
            "proc.args" => match index {
                Some(n) => s(usize::try_from(n)
                    .ok()
                    .and_then(|n| t.args.get(n))
                    .cloned()
                    .unwrap_or_default()),
                None => s(args(t)),
            },
            "proc.cmdline" => s(cmdline(t)),
            "proc.exeline" => {
                let mut o = t.exe.clone();
                o.push(b' ');
                for (j, a) in t.args.iter().enumerate() {
                    if j > 0 {
                        o.push(b' ');
                    }
                    o.extend_from_slice(a);
                }
                s(o)
            }
            "proc.cmdnargs" => u(t.args.len() as u64),
            "proc.cmdlenargs" => u(t.args.iter().map(|a| a.len() as u64).sum()),
            "proc.env" => match key {
                Some(k) => s(threads.main_thread(t).unwrap_or(t).env_value(k.as_bytes())),
                None => {
                    let mut o = Vec::new();
                    let env_owner = threads.main_thread(t).unwrap_or(t);
                    env_owner.env_joined(&mut o);
                    s(o)
                }
            },
            "proc.cwd" => sb(threads.cwd(t)),
            "proc.tty" => u(u64::from(t.tty)),
            "proc.sid" => i(t.sid),
            "proc.vpgid" => i(t.vpgid),
            "proc.pgid" => i(t.pgid),
            "proc.sname" | "proc.sid.exe" | "proc.sid.exepath" => {
                let leader = threads.oldest_matching_ancestor(t, |x| x.sid, true);
                s(leader
                    .map(|l| match name {
                        "proc.sname" => l.comm.clone(),
                        "proc.sid.exe" => l.exe.clone(),
                        _ => l.exepath.clone(),
                    })
                    .unwrap_or_default())
            }
            "proc.vpgid.name" | "proc.vpgid.exe" | "proc.vpgid.exepath" => {
                let leader = threads.oldest_matching_ancestor(t, |x| x.vpgid, true);
                s(leader
                    .map(|l| match name {
                        "proc.vpgid.name" => l.comm.clone(),
                        "proc.vpgid.exe" => l.exe.clone(),
                        _ => l.exepath.clone(),
                    })
                    .unwrap_or_default())
            }
            "proc.pgid.name" | "proc.pgid.exe" | "proc.pgid.exepath" => {
                let leader = threads.oldest_matching_ancestor(t, |x| x.pgid, false);
                s(leader
                    .map(|l| match name {
                        "proc.pgid.name" => l.comm.clone(),
                        "proc.pgid.exe" => l.exe.clone(),
                        _ => l.exepath.clone(),
                    })
                    .unwrap_or_default())
            }
            "proc.ppid" => match threads.ancestor(t, 1) {
                Some(p) if (-1..=i64::from(u32::MAX)).contains(&p.pid) => i(p.pid),
                _ => return false,
            },
            "proc.pname" => match threads.ancestor(t, 1) {
                Some(p) => sb(&p.comm),
                None => return false,
            },
            "proc.pexe" => match threads.ancestor(t, 1) {
                Some(p) => sb(&p.exe),
                None => return false,
            },
            "proc.pexepath" => match threads.ancestor(t, 1) {
                Some(p) => sb(&p.exepath),
                None => return false,
            },
            "proc.pcmdline" => match threads.ancestor(t, 1) {
                Some(p) => s(cmdline(p)),
                None => return false,
            },
            "proc.aname" => return ancestors(&|a| sb(&a.comm), out),
            "proc.aexe" => return ancestors(&|a| sb(&a.exe), out),
            "proc.aexepath" => return ancestors(&|a| sb(&a.exepath), out),
            "proc.acmdline" => return ancestors(&|a| s(cmdline(a)), out),
            "proc.aargs" => return ancestors(&|a| s(args(a)), out),
            // conditions on `proc.apid`/`proc.aenv` without an index compare every ancestor
            // (libsinsp `compare_full_apid`/`compare_full_aenv`); outputs show the process's own
            "proc.apid" if index == Some(super::EVERY_ANCESTOR) => {
                return every_ancestor(&|a| i(a.pid), out);
            }
            "proc.aenv" if index == Some(super::EVERY_ANCESTOR) => {
                return every_ancestor(
                    &|a| {
                        let mut o = Vec::new();
                        a.env_joined(&mut o);
                        s(o)
                    },
                    out,
                );
            }
            "proc.apid" => {
                let n = u32::try_from(index.unwrap_or(0)).unwrap_or(0);
                match threads.ancestor(t, n) {
                    Some(a) if (-1..=i64::from(u32::MAX)).contains(&a.pid) => i(a.pid),
                    _ => return false,
                }
            }
            "proc.aenv" => {
                if key.is_none() && index.unwrap_or(0) < 1 {
                    let mut o = Vec::new();
                    threads.main_thread(t).unwrap_or(t).env_joined(&mut o);
                    s(o)
                } else {
                    let mut mt = match threads.main_thread(t) {
                        Some(m) => m,
                        None => return out_str(out, ""),
                    };
                    if let Some(k) = key {
                        let mut found = Vec::new();
                        for _ in 0..20 {
                            let Some(p) = threads.get(mt.ptid) else {
                                break;
                            };
                            mt = p;
                            found = mt.env_value(k.as_bytes()).to_vec();
                            if !found.is_empty() {
                                break;
                            }
                        }
                        s(found)
                    } else {
                        for _ in 0..index.unwrap_or(0) {
                            match threads.get(mt.ptid) {
                                Some(p) => mt = p,
                                None => return false,
                            }
                        }
                        let mut o = Vec::new();
                        mt.env_joined(&mut o);
                        s(o)
                    }
                }
            }
            "proc.loginshellid" => {
                let mt = match threads.main_thread(t) {
                    Some(m) => m,
                    None => return false,
                };
                let mut found = None;
                let mut check = |p: &ThreadInfo| {
                    if p.comm.len() >= 2 && p.comm.ends_with(b"sh") {
                        found = Some(p.pid);
                    }
                };
                check(mt);
                threads.for_each_ancestor(mt, |p| {
                    check(p);
                    true
                });
                match found {
                    Some(p) => i(p),
                    None => return false,
                }
            }
            "proc.vpid" => {
                if t.vpid == -1 {
                    return false;
                }
                i(t.vpid)
            }
            "thread.vtid" => {
                if t.vtid == -1 {
                    return false;
                }
                i(t.vtid)
            }
            "proc.pvpid" => match threads.get(t.ptid) {
                Some(p) => i(p.vpid),
                None => return false,
            },
            "proc.duration" => {
                if t.clone_ts == 0 {
                    return false;
                }
                u(self.ev.ts().wrapping_sub(t.clone_ts))
            }
            "proc.ppid.duration" => match threads.ancestor(t, 1) {
                Some(p) if p.clone_ts != 0 => u(self.ev.ts().wrapping_sub(p.clone_ts)),
                _ => return false,
            },
            "proc.pid.ts" => {
                if t.clone_ts == 0 {
                    return false;
                }
                u(t.clone_ts)
            }
            "proc.ppid.ts" => match threads.get(t.ptid) {
                Some(p) => u(p.clone_ts),
                None => return false,
            },
            "proc.is_exe_writable" => b(t.exe_writable),
            "proc.is_exe_upper_layer" => b(t.exe_upper_layer),
            "proc.is_exe_lower_layer" => b(t.exe_lower_layer),
            "proc.is_exe_from_memfd" => b(t.exe_from_memfd),
            "proc.is_sid_leader" => b(t.sid == t.vpid),
            "proc.is_vpgid_leader" => b(t.vpgid == t.vpid),
            "proc.is_pgid_leader" => b(t.pgid == t.pid),
            "proc.exe_ino" => return push_opt(out, nonzero(t.exe_ino)),
            "proc.exe_ino.ctime" => return push_opt(out, nonzero(t.exe_ino_ctime)),
            "proc.exe_ino.mtime" => return push_opt(out, nonzero(t.exe_ino_mtime)),
            "proc.exe_ino.ctime_duration_proc_start" => {
                return push_opt(out, nonzero(t.exe_ino_ctime_duration_clone_ts));
            }
            "proc.exe_ino.ctime_duration_pidns_start" => {
                return push_opt(out, nonzero(t.exe_ino_ctime_duration_pidns_start));
            }
            "proc.pidns_init_start_ts" => return push_opt(out, nonzero(t.pidns_init_start_ts)),
            "thread.cap_permitted" => s(caps_to_string(t.cap_permitted)),
            "thread.cap_inheritable" => s(caps_to_string(t.cap_inheritable)),
            "thread.cap_effective" => s(caps_to_string(t.cap_effective)),
            "proc.fdopencount" => u(threads.fd_table(t).len() as u64),
            "proc.fdlimit" => i(threads.main_thread(t).map_or(t.fdlimit, |m| m.fdlimit)),
            "proc.fdusage" => {
                let limit = threads.main_thread(t).map_or(t.fdlimit, |m| m.fdlimit);
                if limit <= 0 {
                    Value::Double(0.0)
                } else {
                    Value::Double(threads.fd_table(t).len() as f64 * 100.0 / limit as f64)
                }
            }
            "proc.vmsize" => u(u64::from(t.vmsize_kb)),
            "proc.vmrss" => u(u64::from(t.vmrss_kb)),
            "proc.vmswap" => u(u64::from(t.vmswap_kb)),
            "thread.vmsize" => u(if t.is_main_thread() {
                u64::from(t.vmsize_kb)
            } else {
                0
            }),
            "thread.vmrss" => u(if t.is_main_thread() {
                u64::from(t.vmrss_kb)
            } else {
                0
            }),
            "thread.vmsize.b" => u(if t.is_main_thread() {
                u64::from(t.vmsize_kb) * 1024
            } else {
                0
            }),
            "thread.vmrss.b" => u(if t.is_main_thread() {
                u64::from(t.vmrss_kb) * 1024
            } else {
                0
            }),
            "thread.pfmajor" => u(t.pfmajor),
            "thread.pfminor" => u(t.pfminor),
            "thread.ismain" => b(t.is_main_thread()),
            "thread.nametid" => {
                let mut o = t.comm.clone();
                o.extend_from_slice((self.ev.tid() as i64).to_string().as_bytes());
                s(o)
            }
            "thread.cgroups" => {
                if t.cgroups.is_empty() {
                    return false;
                }
                let mut o = Vec::new();
                for (j, (k, p)) in t.cgroups.iter().enumerate() {
                    if j > 0 {
                        o.push(b' ');
                    }
                    o.extend_from_slice(k);
                    o.push(b'=');
                    o.extend_from_slice(p);
                }
                s(o)
            }
            "thread.cgroup" => {
                let Some(k) = key else {
                    return false;
                };
                match t
                    .cgroups
                    .iter()
                    .find(|(sub, _)| sub.as_slice() == k.as_bytes())
                {
                    Some((_, p)) => s(p.clone()),
                    None => return false,
                }
            }
            "proc.nthreads" => u(threads.iter().filter(|x| x.pid == t.pid).count() as u64),
            "proc.nchilds" => u(threads
                .iter()
                .filter(|x| x.pid == t.pid && !x.is_main_thread())
                .count() as u64),
            "thread.exectime" | "thread.totexectime" => u(0),
            "proc.stdin.type" | "proc.stdout.type" | "proc.stderr.type" | "proc.stdin.name"
            | "proc.stdout.name" | "proc.stderr.name" => {
                let fd = match name {
                    "proc.stdin.type" | "proc.stdin.name" => 0,
                    "proc.stdout.type" | "proc.stdout.name" => 1,
                    _ => 2,
                };
                let Some(f) = threads.fd(t, fd) else {
                    return false;
                };
                if name.ends_with(".type") {
                    st(f.ty.type_string())
                } else {
                    s(f.name.clone())
                }
            }
            _ => return false,
        };
        out.push(v);
        true
    }

    fn extract_user<'o>(&self, name: &str, out: &mut Vec<Value<'o>>) -> bool
    where
        'a: 'o,
    {
        let Some(t) = self.thread() else {
            return false;
        };
        let cid = t.container_id.as_str();
        let users = &self.state.users;
        let v = match name {
            "user.uid" => u(u64::from(t.uid)),
            "user.name" => {
                if matches!(self.ev.info().ppme, "CONTAINER_JSON_2_E" | "ASYNCEVENT_E")
                    && let Some(c) = self.state.containers.get(cid)
                    && !c.user.is_empty()
                {
                    s(c.user.clone())
                } else {
                    sb(users.user_name(cid, t.uid))
                }
            }
            "user.homedir" => match users.user(cid, t.uid) {
                Some(x) => s(x.homedir.clone()),
                None if t.uid == 0 => st("/root"),
                None => st("<NA>"),
            },
            "user.shell" => match users.user(cid, t.uid) {
                Some(x) => s(x.shell.clone()),
                None => st("<NA>"),
            },
            "user.loginuid" => i(if t.loginuid < u32::MAX {
                i64::from(t.loginuid)
            } else {
                -1
            }),
            "user.loginname" => sb(users.user_name(cid, t.loginuid)),
            "group.gid" => u(u64::from(t.gid)),
            "group.name" => sb(users.group_name(cid, t.gid)),
            _ => return false,
        };
        out.push(v);
        true
    }

    /// `fs.path.*` (`sinsp_filter_check_fspath`): the path arguments of successful
    /// filesystem syscalls, raw or resolved against the cwd or the dirfd.
    fn extract_fspath<'o>(&self, name: &str, out: &mut Vec<Value<'o>>) -> bool
    where
        'a: 'o,
    {
        let ev = self.ev;
        let info = ev.info();
        let ppme = info.ppme;
        let param_i64 = |pname: &str| -> Option<i64> {
            let b = ev.param(info.param_index(pname)?)?;
            Some(match b.len() {
                8 => i64::from_le_bytes(b.try_into().ok()?),
                4 => i64::from(i32::from_le_bytes(b.try_into().ok()?)),
                _ => return None,
            })
        };
        // The success check of each event.
        let ok = match ppme {
            "SYSCALL_OPEN_X" | "SYSCALL_OPENAT_2_X" | "SYSCALL_OPENAT2_X" => {
                param_i64("fd").is_some_and(|fd| fd != -1)
            }
            "SYSCALL_MKDIR_2_X"
            | "SYSCALL_MKDIRAT_X"
            | "SYSCALL_RMDIR_2_X"
            | "SYSCALL_UNLINK_2_X"
            | "SYSCALL_UNLINKAT_2_X"
            | "SYSCALL_FCHMODAT_X"
            | "SYSCALL_CHMOD_X"
            | "SYSCALL_FCHMOD_X"
            | "SYSCALL_CHOWN_X"
            | "SYSCALL_LCHOWN_X"
            | "SYSCALL_FCHOWN_X"
            | "SYSCALL_FCHOWNAT_X"
            | "SYSCALL_QUOTACTL_X"
            | "SYSCALL_RENAME_X"
            | "SYSCALL_RENAMEAT_X"
            | "SYSCALL_RENAMEAT2_X"
            | "SYSCALL_LINK_2_X"
            | "SYSCALL_LINKAT_2_X"
            | "SYSCALL_SYMLINK_X"
            | "SYSCALL_SYMLINKAT_X"
            | "SYSCALL_MOUNT_X"
            | "SYSCALL_UMOUNT_1_X"
            | "SYSCALL_UMOUNT2_X" => param_i64("res") == Some(0),
            _ => false,
        };
        if !ok {
            return false;
        }
        let (source, target) = match ppme {
            "SYSCALL_RENAME_X" | "SYSCALL_RENAMEAT_X" | "SYSCALL_RENAMEAT2_X" => {
                (Some("oldpath"), Some("newpath"))
            }
            "SYSCALL_LINK_2_X" | "SYSCALL_LINKAT_2_X" => (Some("newpath"), Some("oldpath")),
            "SYSCALL_SYMLINK_X" | "SYSCALL_SYMLINKAT_X" => (Some("linkpath"), Some("target")),
            "SYSCALL_MOUNT_X" => (Some("dev"), Some("dir")),
            _ => (None, None),
        };
        let path_param = match ppme {
            "SYSCALL_MKDIR_2_X" | "SYSCALL_MKDIRAT_X" | "SYSCALL_RMDIR_2_X"
            | "SYSCALL_UNLINK_2_X" | "SYSCALL_CHOWN_X" | "SYSCALL_LCHOWN_X" => Some("path"),
            "SYSCALL_UNLINKAT_2_X"
            | "SYSCALL_OPEN_X"
            | "SYSCALL_OPENAT_2_X"
            | "SYSCALL_OPENAT2_X"
            | "SYSCALL_UMOUNT_1_X"
            | "SYSCALL_UMOUNT2_X" => Some("name"),
            "SYSCALL_FCHMODAT_X" | "SYSCALL_CHMOD_X" => Some("filename"),
            "SYSCALL_FCHOWNAT_X" => Some("pathname"),
            "SYSCALL_QUOTACTL_X" => Some("special"),
            "SYSCALL_FCHMOD_X" | "SYSCALL_FCHOWN_X" => Some(""),
            _ => None,
        };
        let (pname, raw_field) = match name {
            "fs.path.name" => (path_param, false),
            "fs.path.nameraw" => (path_param, true),
            "fs.path.source" => (source, false),
            "fs.path.sourceraw" => (source, true),
            "fs.path.target" => (target, false),
            "fs.path.targetraw" => (target, true),
            _ => (None, false),
        };
        let Some(pname) = pname else {
            return false;
        };
        let value: Vec<u8> = if pname.is_empty() {
            // fchmod/fchown: the fd's name.
            match self.fd() {
                Some(f) => f.name.clone(),
                None => return false,
            }
        } else {
            match info.param_index(pname).and_then(|i| ev.param_cstr(i)) {
                Some(v) => v.to_vec(),
                None => return false,
            }
        };
        if raw_field {
            out.push(s(value));
            return true;
        }
        let Some(t) = self.thread() else {
            return false;
        };
        if value.first() == Some(&b'/') {
            out.push(s(concatenate_paths(b"", &value)));
            return true;
        }
        let dirfd_dir = || -> Vec<u8> {
            match self.fd().filter(|f| f.ty == FdType::Directory) {
                Some(f) if f.name.is_empty() || f.name.ends_with(b"/") => f.name.clone(),
                Some(f) => {
                    let mut n = f.name.clone();
                    n.push(b'/');
                    n
                }
                None => b"<UNKNOWN>".to_vec(),
            }
        };
        let parse_dirfd = |dirfd: Option<i64>| -> Vec<u8> {
            match dirfd {
                Some(PPM_AT_FDCWD) => self.state.threads.cwd(t).to_vec(),
                Some(fd) => match self.state.threads.fd(t, fd) {
                    Some(f) if f.name.is_empty() || f.name.ends_with(b"/") => f.name.clone(),
                    Some(f) => {
                        let mut n = f.name.clone();
                        n.push(b'/');
                        n
                    }
                    None => b"<UNKNOWN>".to_vec(),
                },
                None => b"<UNKNOWN>".to_vec(),
            }
        };
        let resolved = match ppme {
            "SYSCALL_OPENAT_2_X" | "SYSCALL_OPENAT2_X" => match self.fd() {
                Some(f) => f.name.clone(),
                None => b"<UNKNOWN>".to_vec(),
            },
            "SYSCALL_NEWFSTATAT_X"
            | "SYSCALL_FCHOWNAT_X"
            | "SYSCALL_FCHMODAT_X"
            | "SYSCALL_MKDIRAT_X"
            | "SYSCALL_UNLINKAT_2_X"
            | "SYSCALL_MKNODAT_X" => concatenate_paths(&dirfd_dir(), &value),
            "SYSCALL_SYMLINKAT_X" => {
                let sdir = if name == "fs.path.source" {
                    dirfd_dir()
                } else {
                    b"<UNKNOWN>".to_vec()
                };
                concatenate_paths(&sdir, &value)
            }
            "SYSCALL_RENAMEAT2_X" => {
                let sdir = match name {
                    "fs.path.target" => parse_dirfd(param_i64("newdirfd")),
                    "fs.path.source" => parse_dirfd(param_i64("olddirfd")),
                    _ => b"<UNKNOWN>".to_vec(),
                };
                concatenate_paths(&sdir, &value)
            }
            _ => concatenate_paths(self.state.threads.cwd(t), &value),
        };
        out.push(s(resolved));
        true
    }

    fn extract_container<'o>(
        &self,
        name: &str,
        arg: Option<&FieldArg>,
        out: &mut Vec<Value<'o>>,
    ) -> bool
    where
        'a: 'o,
    {
        let Some(t) = self.thread() else {
            return false;
        };
        let cid = t.container_id.as_str();
        let info = self.state.containers.get(cid);
        match name {
            "container.id" => {
                out.push(sb(info.map_or(cid, |c| c.id.as_str()).as_bytes()));
                return true;
            }
            "container.start_ts" => {
                if t.pidns_init_start_ts == 0 {
                    return false;
                }
                out.push(u(t.pidns_init_start_ts));
                return true;
            }
            "container.duration" => {
                if t.pidns_init_start_ts == 0 {
                    return false;
                }
                out.push(u(self.ev.ts().wrapping_sub(t.pidns_init_start_ts)));
                return true;
            }
            "proc.is_container_healthcheck"
            | "proc.is_container_liveness_probe"
            | "proc.is_container_readiness_probe" => {
                out.push(b(false));
                return true;
            }
            _ => {}
        }
        let Some(c) = info else {
            return false;
        };
        let label = |labels: &[(String, String)], k: &str| {
            labels
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, v)| v.clone())
        };
        let labels_text = |labels: &[(String, String)]| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let pod_labels = || {
            if c.is_pod_sandbox {
                &c.labels
            } else {
                self.state
                    .containers
                    .get(&c.pod_sandbox_id.chars().take(12).collect::<String>())
                    .map_or(&c.labels, |p| &p.labels)
            }
        };
        let v = match name {
            "container.full_id" => s(c.full_id.clone()),
            "container.name" => sb(c.name.as_bytes()),
            "container.image" => s(c.image.clone()),
            "container.image.id" => s(c.image_id.clone()),
            "container.type" => s(c.ty.clone()),
            "container.privileged" => b(c.privileged),
            "container.mounts" => s(c
                .mounts
                .iter()
                .map(|m| m.text())
                .collect::<Vec<_>>()
                .join(",")),
            "container.mount"
            | "container.mount.source"
            | "container.mount.dest"
            | "container.mount.mode"
            | "container.mount.rdwr"
            | "container.mount.propagation" => {
                let m = match arg {
                    Some(FieldArg::Index(n)) => {
                        usize::try_from(*n).ok().and_then(|n| c.mounts.get(n))
                    }
                    Some(FieldArg::Key(k)) => {
                        let re = regex::bytes::Regex::new(k).ok();
                        c.mounts.iter().find(|m| {
                            re.as_ref()
                                .is_some_and(|re| re.is_match(m.source.as_bytes()))
                        })
                    }
                    None => None,
                };
                let Some(m) = m else {
                    return false;
                };
                match name {
                    "container.mount" => s(m.text()),
                    "container.mount.source" => s(m.source.clone()),
                    "container.mount.dest" => s(m.dest.clone()),
                    "container.mount.mode" => s(m.mode.clone()),
                    "container.mount.rdwr" => s(m.rdwr.to_string()),
                    _ => s(m.propagation.clone()),
                }
            }
            "container.image.repository" => sb(c.image_repo.as_bytes()),
            "container.image.tag" => s(c.image_tag.clone()),
            "container.image.digest" => s(c.image_digest.clone()),
            "container.healthcheck" | "container.liveness_probe" | "container.readiness_probe" => {
                st("NONE")
            }
            "container.ip" => s(c.ip.clone()),
            "container.cni.json" => s(c.cni_json.clone()),
            "container.host_pid" => b(c.host_pid),
            "container.host_network" => b(c.host_network),
            "container.host_ipc" => b(c.host_ipc),
            "container.label" => {
                let Some(FieldArg::Key(k)) = arg else {
                    return false;
                };
                match label(&c.labels, k) {
                    Some(v) => s(v),
                    None => return false,
                }
            }
            "container.labels" => s(labels_text(&c.labels)),
            "k8s.pod.name" => match label(&c.labels, "io.kubernetes.pod.name") {
                Some(v) => s(v),
                None => return false,
            },
            "k8s.ns.name" => match label(&c.labels, "io.kubernetes.pod.namespace") {
                Some(v) => s(v),
                None => return false,
            },
            "k8s.pod.uid" => match label(&c.labels, "io.kubernetes.pod.uid") {
                Some(v) => s(v),
                None => return false,
            },
            "k8s.pod.id" => match label(&c.labels, "io.kubernetes.pod.uid") {
                Some(v) => s(v),
                None => return false,
            },
            "k8s.pod.sandbox_id" | "k8s.pod.full_sandbox_id" => {
                if c.pod_sandbox_id.is_empty() {
                    return false;
                }
                if name == "k8s.pod.sandbox_id" {
                    s(c.pod_sandbox_id.chars().take(12).collect::<String>())
                } else {
                    s(c.pod_sandbox_id.clone())
                }
            }
            "k8s.pod.label" => {
                let Some(FieldArg::Key(k)) = arg else {
                    return false;
                };
                match label(pod_labels(), k) {
                    Some(v) => s(v),
                    None => return false,
                }
            }
            "k8s.pod.labels" => s(labels_text(pod_labels())),
            "k8s.pod.ip" => s(c.ip.clone()),
            "k8s.pod.cni.json" => s(c.cni_json.clone()),
            _ => return false,
        };
        out.push(v);
        true
    }
}

/// One-character strings of the fd type characters.
fn typechar_str(c: u8) -> &'static str {
    match c {
        b'f' => "f",
        b'4' => "4",
        b'6' => "6",
        b'd' => "d",
        b'p' => "p",
        b'u' => "u",
        b'e' => "e",
        b'o' => "o",
        b'X' => "X",
        b's' => "s",
        b'l' => "l",
        b'i' => "i",
        b't' => "t",
        b'n' => "n",
        b'b' => "b",
        b'r' => "r",
        b'm' => "m",
        b'P' => "P",
        _ => "?",
    }
}

fn nonzero(v: u64) -> Option<Value<'static>> {
    (v != 0).then(|| u(v))
}

fn push_opt<'v>(out: &mut Vec<Value<'v>>, v: Option<Value<'v>>) -> bool {
    match v {
        Some(v) => {
            out.push(v);
            true
        }
        None => false,
    }
}

fn out_str(out: &mut Vec<Value<'_>>, v: &str) -> bool {
    out.push(s(v));
    true
}

fn is_io(info: &table::EventInfo) -> bool {
    info.flags & (table::EF_READS_FROM_FD | table::EF_WRITES_TO_FD) != 0
}

/// `%lgs` of a duration in seconds.
fn format_g_seconds(ns: u64) -> String {
    let secs = ns as f64 / 1e9;
    let mut t = format!("{secs:.6e}");
    // Emulate %lg: 6 significant digits, shortest of %e/%f, trailing zeros removed.
    let exp = if secs == 0.0 {
        0
    } else {
        secs.abs().log10().floor() as i32
    };
    if (-5..6).contains(&exp) {
        let decimals = (5 - exp).max(0) as usize;
        t = format!("{secs:.decimals$}");
        if t.contains('.') {
            t = t.trim_end_matches('0').trim_end_matches('.').to_owned();
        }
    } else {
        let mant = secs / 10f64.powi(exp);
        let mut m = format!("{mant:.5}");
        if m.contains('.') {
            m = m.trim_end_matches('0').trim_end_matches('.').to_owned();
        }
        t = format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    format!("{t}s")
}

/// `PT_ABSTIME` text: local `%Y-%m-%d %H:%M:%S.nnnnnnnnn %z`.
fn abstime_text(v: u64) -> String {
    use chrono::{Local, TimeZone};
    let sec = (v / ONE_SECOND_IN_NS) as i64;
    let nsec = v % ONE_SECOND_IN_NS;
    match Local.timestamp_opt(sec, 0).single() {
        Some(t) => format!(
            "{}.{nsec:09} {}",
            t.format("%Y-%m-%d %H:%M:%S"),
            t.format("%z")
        ),
        None => String::new(),
    }
}

fn sockaddr_text(d: &[u8]) -> Vec<u8> {
    let Some((&family, body)) = d.split_first() else {
        return Vec::new();
    };
    match family {
        1 => {
            let end = memchr::memchr(0, body).unwrap_or(body.len());
            let mut o = Vec::new();
            sanitize_into(&mut o, &body[..end]);
            o
        }
        2 if body.len() == 6 => format!(
            "{}.{}.{}.{}:{}",
            body[0],
            body[1],
            body[2],
            body[3],
            u16::from_le_bytes([body[4], body[5]])
        )
        .into_bytes(),
        2 => b"INVALID IPv4".to_vec(),
        10 if body.len() == 18 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&body[..16]);
            let ip = std::net::Ipv6Addr::from(a);
            let port = u16::from_le_bytes([body[16], body[17]]);
            match ip.to_ipv4_mapped() {
                Some(v4) => format!("{v4}:{port}").into_bytes(),
                None => format!("{ip}:{port}").into_bytes(),
            }
        }
        10 => b"INVALID IPv6".to_vec(),
        f => format!("family {f}").into_bytes(),
    }
}

fn socktuple_text(d: &[u8]) -> Vec<u8> {
    let Some((&family, body)) = d.split_first() else {
        return Vec::new();
    };
    match family {
        2 if body.len() == 12 => format!(
            "{}.{}.{}.{}:{}->{}.{}.{}.{}:{}",
            body[0],
            body[1],
            body[2],
            body[3],
            u16::from_le_bytes([body[4], body[5]]),
            body[6],
            body[7],
            body[8],
            body[9],
            u16::from_le_bytes([body[10], body[11]])
        )
        .into_bytes(),
        2 => b"INVALID IPv4".to_vec(),
        10 if body.len() == 36 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&body[..16]);
            let mut c = [0u8; 16];
            c.copy_from_slice(&body[18..34]);
            let (sip, dip) = (std::net::Ipv6Addr::from(a), std::net::Ipv6Addr::from(c));
            let sport = u16::from_le_bytes([body[16], body[17]]);
            let dport = u16::from_le_bytes([body[34], body[35]]);
            match (sip.to_ipv4_mapped(), dip.to_ipv4_mapped()) {
                (Some(s4), Some(d4)) => format!("{s4}:{sport}->{d4}:{dport}").into_bytes(),
                _ => format!("{sip}:{sport}->{dip}:{dport}").into_bytes(),
            }
        }
        10 => b"INVALID IPv6".to_vec(),
        1 if body.len() >= 16 => {
            let src = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
            let dst = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
            let path = &body[16..];
            let end = memchr::memchr(0, path).unwrap_or(path.len());
            let mut o = format!("{src:x}->{dst:x} ").into_bytes();
            sanitize_into(&mut o, &path[..end]);
            o
        }
        f => format!("family {f}").into_bytes(),
    }
}

/// `evt.category` text: the table category, or for I/O events the kind of fd.
fn category_name(info: &table::EventInfo, fd: Option<&FdInfo>) -> &'static str {
    match info.category & table::EC_SYSCALL_CATEGORY_MASK {
        0 => "unknown",
        1 => "other",
        2 => "file",
        3 => "net",
        4 => "IPC",
        5 => "memory",
        6 => "process",
        7 => "sleep",
        8 => "system",
        9 => "signal",
        10 => "user",
        11 => "time",
        12 => "processing",
        32..=34 => match fd.map(|f| f.ty) {
            Some(FdType::File | FdType::FileV2 | FdType::Directory) => "file",
            Some(
                FdType::Ipv4Sock | FdType::Ipv6Sock | FdType::Ipv4ServSock | FdType::Ipv6ServSock,
            ) => "net",
            Some(
                FdType::Fifo
                | FdType::UnixSock
                | FdType::Event
                | FdType::Signalfd
                | FdType::Inotify
                | FdType::Userfaultfd,
            ) => "ipc",
            _ => "unknown",
        },
        64 => "wait",
        128 => "scheduler",
        256 => "internal",
        _ => "unknown",
    }
}

impl<'a> Extractor<'a, '_> {
    /// The value of a [`Hot`] field (at most one), None when missing; inlined into
    /// [`Extract::extract_single`], which makes it in the caller's slot.
    #[inline]
    fn hot_value(&self, field: &FieldRef) -> Option<Value<'a>> {
        match field.hot() {
            Hot::EvtIsOpenRead => Some(b(self.is_open(OpenField::Read, return_value(self.ev)))),
            Hot::EvtIsOpenWrite => Some(b(self.is_open(OpenField::Write, return_value(self.ev)))),
            Hot::ProcName => self.thread().map(|t| sb(&t.comm)),
            Hot::None => None,
            hot => self.fd_hot(hot, field.arg.as_ref()),
        }
    }
}

impl Extract for Extractor<'_, '_> {
    fn evt_type(&self) -> u16 {
        self.ev.event_type()
    }

    #[inline]
    fn extract_single<'s>(&'s mut self, field: &FieldRef, out: &mut Option<Value<'s>>) -> bool {
        if field.hot() == Hot::None {
            return false;
        }
        *out = self.hot_value(field);
        true
    }

    fn extract<'s>(&'s mut self, field: &FieldRef, out: &mut Vec<Value<'s>>) -> bool {
        let name = field.info;
        let arg = field.arg.as_ref();
        // The hot fields skip the dispatch by name.
        if field.hot() != Hot::None {
            return match self.hot_value(field) {
                Some(v) => {
                    out.push(v);
                    true
                }
                None => false,
            };
        }
        let class = name
            .bytes()
            .position(|b| b == b'.')
            .map_or(name, |i| &name[..i]);
        match class {
            "evt" if name == "evt.around" => {
                let inside = super::around::matches(arg, self.ev.ts()) == Some(true);
                if inside {
                    out.push(u(1));
                }
                inside
            }
            "fdlist" => match super::fdlist::extract(name, self.state, self.ev, self.thread()) {
                Some(text) => {
                    out.push(s(text));
                    true
                }
                None => false,
            },
            "evt" | "syscall" => self.extract_evt(name, arg, out),
            "proc" if name.starts_with("proc.is_container_") => {
                self.extract_container(name, arg, out)
            }
            "proc" | "thread" => self.extract_proc(name, arg, out),
            "user" | "group" => self.extract_user(name, out),
            "fd" => self.extract_fd(name, arg, out),
            "fs" => self.extract_fspath(name, out),
            "container" | "k8s" => self.extract_container(name, arg, out),
            // `static.<key>`: the configured value travels as the key argument
            crate::engine::filter::STATIC_CLASS => match arg {
                Some(FieldArg::Key(value)) => {
                    out.push(s(value.as_bytes()));
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// A field's print format; fields outside the catalog (`static.*`) have none.
fn print_format(info: &FieldInfo) -> PrintFormat {
    registry::lookup(info.name)
        .filter(|f| std::ptr::eq(*f, info))
        .map_or(PrintFormat::Na, |f| registry::meta(f).fmt)
}

/// Output text of extracted values (libsinsp `tostring`, unsanitised): lists render `(a,b)`;
/// ancestor fields without an index join their values with spaces.
pub fn render_text(info: &FieldInfo, arg: Option<&FieldArg>, values: &[Value<'_>]) -> Vec<u8> {
    let fmt = print_format(info);
    let one = |v: &Value<'_>| -> Vec<u8> { value_text(info.ftype, fmt, v) };
    if info.is_list {
        let mut o = b"(".to_vec();
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                o.push(b',');
            }
            o.extend_from_slice(&one(v));
        }
        o.push(b')');
        return o;
    }
    if arg.is_none() && is_ancestor_list(info.name) {
        let mut o = Vec::new();
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                o.push(b' ');
            }
            o.extend_from_slice(&one(v));
        }
        return o;
    }
    values.first().map(one).unwrap_or_default()
}

/// Output text of a field for an alert line: [`render_text`], UTF-8-sanitised as libsinsp's
/// formatter does (control characters, C1 controls and invalid sequences become U+FFFD).
pub fn render_output(info: &FieldInfo, arg: Option<&FieldArg>, values: &[Value<'_>]) -> String {
    let raw = render_text(info, arg, values);
    let mut out = Vec::with_capacity(raw.len());
    sanitize_into(&mut out, &raw);
    String::from_utf8(out).unwrap_or_default()
}

/// Ancestor fields that yield one value per ancestor when used without an index.
pub fn is_ancestor_list(name: &str) -> bool {
    matches!(
        name,
        "proc.aname" | "proc.aexe" | "proc.aexepath" | "proc.acmdline" | "proc.aargs"
    )
}

fn value_text(ftype: FieldType, fmt: PrintFormat, v: &Value<'_>) -> Vec<u8> {
    match v {
        Value::Str(x) => x.to_vec(),
        Value::Bytes(x) => buffer_to_dots(x),
        Value::Bool(x) => {
            if *x {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            }
        }
        Value::Double(x) => format!("{x:.1}").into_bytes(),
        Value::Ip(ip) => ip.to_string().into_bytes(),
        Value::Net(_) => b"<IPNET>".to_vec(),
        Value::Int(x) => match fmt {
            PrintFormat::Hex => format!("{x:X}").into_bytes(),
            PrintFormat::Oct => format!("{x:o}").into_bytes(),
            PrintFormat::PaddedDec10 => format!("{x:09}").into_bytes(),
            _ => x.to_string().into_bytes(),
        },
        Value::Uint(x) => {
            let x = match ftype {
                FieldType::Uint8 => *x as u8 as u64,
                FieldType::Uint16 | FieldType::Port => *x as u16 as u64,
                FieldType::Uint32 => *x as u32 as u64,
                _ => *x,
            };
            match fmt {
                PrintFormat::Hex => format!("{x:X}").into_bytes(),
                PrintFormat::Oct => format!("{x:o}").into_bytes(),
                PrintFormat::PaddedDec10 => format!("{x:09}").into_bytes(),
                _ => x.to_string().into_bytes(),
            }
        }
    }
}

/// The JSON value of a field in `output_fields` (falco-runtime.md §3.3): numbers as numbers,
/// strings sanitised, lists as arrays, `evt.time*`/`evt.datetime*` as integer nanoseconds.
pub fn render_json(
    info: &FieldInfo,
    arg: Option<&FieldArg>,
    values: &[Value<'_>],
    ts: u64,
) -> serde_json::Value {
    use serde_json::Value as J;
    if matches!(
        info.name,
        "evt.time"
            | "evt.time.s"
            | "evt.time.iso8601"
            | "evt.datetime"
            | "evt.datetime.s"
            | "evt.outputtime"
    ) {
        return J::from(ts as i64);
    }
    if values.is_empty() {
        return J::Null;
    }
    let fmt = print_format(info);
    let one = |v: &Value<'_>| -> J {
        let text = |bytes: Vec<u8>| {
            let mut o = Vec::new();
            sanitize_into(&mut o, &bytes);
            J::String(String::from_utf8(o).unwrap_or_default())
        };
        match v {
            Value::Bool(x) => J::Bool(*x),
            Value::Int(x) if matches!(fmt, PrintFormat::Dec | PrintFormat::Id) => J::from(*x),
            Value::Uint(x) if matches!(fmt, PrintFormat::Dec | PrintFormat::Id) => {
                let x = match info.ftype {
                    FieldType::Uint8 => *x as u8 as u64,
                    FieldType::Uint16 | FieldType::Port => *x as u16 as u64,
                    FieldType::Uint32 => *x as u32 as u64,
                    _ => *x,
                };
                J::from(x)
            }
            Value::Double(x) if fmt == PrintFormat::Dec => J::from(*x as i64),
            Value::Double(x) => J::from(*x),
            other => text(value_text(info.ftype, fmt, other)),
        }
    };
    if info.is_list {
        return J::Array(values.iter().map(one).collect());
    }
    if arg.is_none() && is_ancestor_list(info.name) {
        return text_json(render_text(info, arg, values));
    }
    one(&values[0])
}

fn text_json(bytes: Vec<u8>) -> serde_json::Value {
    let mut o = Vec::new();
    sanitize_into(&mut o, &bytes);
    serde_json::Value::String(String::from_utf8(o).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_names() {
        assert_eq!(caps_to_string(0), "");
        assert_eq!(caps_to_string(1 | (1 << 21)), "CAP_CHOWN CAP_SYS_ADMIN");
        assert_eq!(caps_to_string(1 << 40), "CAP_CHECKPOINT_RESTORE");
    }

    #[test]
    fn open_flags_resolve_in_table_order() {
        let t = crate::event::table_data::FILE_FLAGS;
        // O_WRONLY|O_CREAT|O_TRUNC
        assert_eq!(
            flags_to_string(t, 2 | 4 | 256, false),
            "O_TRUNC|O_CREAT|O_WRONLY"
        );
        assert_eq!(flags_to_string(t, 3, false), "O_RDWR");
        assert_eq!(flags_to_string(t, 0, false), "O_NONE");
    }

    #[test]
    fn enum_flags_match_exactly() {
        let t = crate::event::table_data::SOCKET_FAMILIES;
        assert_eq!(flags_to_string(t, 2, true), "AF_INET");
        assert_eq!(flags_to_string(t, 1, true), "AF_LOCAL|AF_UNIX");
    }

    #[test]
    fn iso8601_is_utc() {
        assert_eq!(
            ts_to_iso_8601(1_717_000_000_123_456_789),
            "2024-05-29T16:26:40.123456789+0000"
        );
    }

    #[test]
    fn outputs_are_sanitised_and_typed() {
        let cmdline = super::super::lookup("proc.cmdline").unwrap();
        let v = [Value::Str(Cow::Borrowed(b"echo a\tb\xff".as_slice()))];
        assert_eq!(render_output(cmdline, None, &v), "echo a\u{FFFD}b\u{FFFD}");
        let dev = super::super::lookup("fd.dev").unwrap();
        assert_eq!(render_output(dev, None, &[Value::Uint(0x803)]), "803");
        let usage = super::super::lookup("proc.fdusage").unwrap();
        assert_eq!(render_output(usage, None, &[Value::Double(12.345)]), "12.3");
        let aname = super::super::lookup("proc.aname").unwrap();
        let anc = [
            Value::Str(Cow::Borrowed(b"bash".as_slice())),
            Value::Str(Cow::Borrowed(b"sshd".as_slice())),
        ];
        assert_eq!(render_output(aname, None, &anc), "bash sshd");
        let types = super::super::lookup("fd.types").unwrap();
        assert_eq!(render_output(types, None, &anc), "(bash,sshd)");
    }

    #[test]
    fn buffers_render_dots() {
        assert_eq!(buffer_to_dots(b"GET /\r\n"), b"GET /..");
    }
}
