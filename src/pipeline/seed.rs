//! Seeding the state from a capture section's metadata, as libsinsp does when it opens a
//! savefile: the process list becomes the thread table (`sinsp_threadinfo::init`), each fd list
//! entry an fd (`add_fd_from_scap`), the user and group lists the host's users and groups, and
//! the interface list the host addresses. Knows nothing about events or rules.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::capture::records::{self, fd_type};
use crate::capture::{FdRecord, InterfaceRecord, Metadata, ThreadRecord};
use crate::state::fd::{FdInfo, FdType, L4Proto, SockInfo, flags, tuple_text};
use crate::state::thread::clone_flags;
use crate::state::users::{GroupInfo, UserInfo};
use crate::state::{State, ThreadInfo};

/// `SCAP_L4_TCP`.
const SCAP_L4_TCP: u8 = 2;

/// Seeds `state` (freshly created) from `meta`.
pub fn seed(state: &mut State, meta: &Metadata) {
    for iface in &meta.interfaces {
        match iface {
            InterfaceRecord::Ipv4 { addr, .. } => state.interfaces.ipv4.push(Ipv4Addr::from(*addr)),
            InterfaceRecord::Ipv6 { addr, .. } => state.interfaces.ipv6.push(Ipv6Addr::from(*addr)),
        }
    }
    for u in &meta.users {
        state.users.add_user(
            "",
            UserInfo {
                uid: u.uid,
                gid: u.gid,
                name: u.name.clone().into_bytes(),
                homedir: u.homedir.clone().into_bytes(),
                shell: u.shell.clone().into_bytes(),
            },
        );
    }
    for g in &meta.groups {
        state.users.add_group(
            "",
            GroupInfo {
                gid: g.gid,
                name: g.name.clone().into_bytes(),
            },
        );
    }
    for t in &meta.threads {
        state.seed_thread(thread_info(t));
    }
    for (tid, rec) in &meta.fds {
        let Ok(tid) = i64::try_from(*tid) else {
            continue;
        };
        if let Some(t) = state.threads.get_mut(tid) {
            t.fds.insert(rec.fd, fd_info(rec));
        }
    }
    state.finish_seeding();
}

/// `sinsp_threadinfo::init(scap_threadinfo)`.
pub fn thread_info(t: &ThreadRecord) -> ThreadInfo {
    let mut info = ThreadInfo {
        tid: t.tid as i64,
        pid: t.pid as i64,
        ptid: t.ptid as i64,
        sid: t.sid,
        vpgid: t.vpgid,
        pgid: t.pgid,
        vtid: t.vtid,
        vpid: t.vpid,
        comm: t.comm.clone().into_bytes(),
        exe: t.exe.clone().into_bytes(),
        exepath: t.exepath.clone().into_bytes(),
        root: t.root.clone().into_bytes(),
        fdlimit: t.fdlimit as i64,
        flags: t.flags | clone_flags::ACTIVE,
        uid: t.uid,
        gid: t.gid,
        loginuid: t.loginuid,
        pidns_init_start_ts: t.pidns_init_start_ts,
        tty: t.tty,
        cap_inheritable: t.cap_inheritable,
        cap_permitted: t.cap_permitted,
        cap_effective: t.cap_effective,
        exe_writable: t.exe_writable,
        exe_upper_layer: t.exe_upper_layer,
        exe_lower_layer: t.exe_lower_layer,
        exe_from_memfd: t.exe_from_memfd,
        exe_ino: t.exe_ino,
        exe_ino_ctime: t.exe_ino_ctime,
        exe_ino_mtime: t.exe_ino_mtime,
        vmsize_kb: t.vmsize_kb,
        vmrss_kb: t.vmrss_kb,
        vmswap_kb: t.vmswap_kb,
        pfmajor: t.pfmajor,
        pfminor: t.pfminor,
        reaper_tid: -1,
        ..ThreadInfo::default()
    };
    info.set_args(&t.args);
    if info.is_main_thread() {
        info.set_env(&t.env);
        info.set_cwd(t.cwd.as_bytes());
    }
    info.set_cgroups(&t.cgroups);
    info
}

fn v4(b: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(b))
}

fn v6(b: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(b))
}

/// `::ffff:a.b.c.d`.
fn ipv4_mapped(b: &[u8; 16]) -> Option<[u8; 4]> {
    (b[..10].iter().all(|x| *x == 0) && b[10] == 0xff && b[11] == 0xff)
        .then(|| [b[12], b[13], b[14], b[15]])
}

/// `sinsp_threadinfo::add_fd_from_scap` (host name resolution off).
pub fn fd_info(rec: &FdRecord) -> FdInfo {
    let ty = FdType::from_code(rec.fd_type);
    let mut fd = FdInfo {
        ty,
        flags: flags::FROM_PROC,
        ino: rec.ino,
        ..FdInfo::default()
    };
    let connected = |l4: u8| {
        if l4 == SCAP_L4_TCP {
            flags::SOCKET_CONNECTED
        } else {
            0
        }
    };
    match &rec.info {
        records::FdInfo::Ipv4Sock {
            sip,
            dip,
            sport,
            dport,
            l4proto,
        } => {
            fd.sock = SockInfo {
                sip: v4(*sip),
                sport: *sport,
                dip: v4(*dip),
                dport: *dport,
                l4proto: L4Proto::from_code(*l4proto),
                ..SockInfo::default()
            };
            fd.flags |= connected(*l4proto);
            fd.name = tuple_text(fd.sock.sip, *sport, fd.sock.dip, *dport);
        }
        records::FdInfo::Ipv6Sock {
            sip,
            dip,
            sport,
            dport,
            l4proto,
        } => {
            let (s, d) = match (ipv4_mapped(sip), ipv4_mapped(dip)) {
                (Some(s), Some(d)) => {
                    fd.ty = FdType::Ipv4Sock;
                    (v4(s), v4(d))
                }
                _ => (v6(*sip), v6(*dip)),
            };
            fd.sock = SockInfo {
                sip: s,
                sport: *sport,
                dip: d,
                dport: *dport,
                l4proto: L4Proto::from_code(*l4proto),
                ..SockInfo::default()
            };
            fd.flags |= connected(*l4proto);
            fd.name = tuple_text(s, *sport, d, *dport);
        }
        records::FdInfo::Ipv4ServSock { ip, port, l4proto } => {
            fd.sock = SockInfo {
                sip: v4(*ip),
                sport: *port,
                l4proto: L4Proto::from_code(*l4proto),
                ..SockInfo::default()
            };
            fd.name = format!("{}:{port}", v4(*ip)).into_bytes();
        }
        records::FdInfo::Ipv6ServSock { ip, port, l4proto } => {
            fd.sock = SockInfo {
                sip: v6(*ip),
                sport: *port,
                l4proto: L4Proto::from_code(*l4proto),
                ..SockInfo::default()
            };
            fd.name = format!("{}:{port}", v6(*ip)).into_bytes();
        }
        records::FdInfo::UnixSock { source, dest, path } => {
            fd.sock = SockInfo {
                source: *source,
                dest: *dest,
                ..SockInfo::default()
            };
            fd.name = path.clone().into_bytes();
            fd.flags |= if path.is_empty() {
                flags::ROLE_CLIENT
            } else {
                flags::ROLE_SERVER
            };
        }
        records::FdInfo::File {
            open_flags,
            name,
            dev,
        } => {
            fd.open_flags = *open_flags;
            fd.name = name.clone().into_bytes();
            fd.dev = *dev;
        }
        records::FdInfo::Named { name } => fd.name = name.clone().into_bytes(),
        records::FdInfo::Unknown => {}
    }
    if rec.fd_type == fd_type::UNKNOWN {
        fd.ty = FdType::Unknown;
    }
    fd
}
