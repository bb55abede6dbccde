//! Seeding the state from a capture's metadata (process list, fd lists, user and group lists,
//! interface list, machine info), as libsinsp imports them when it opens a capture.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::capture::records::{FdInfo as ScapFd, InterfaceRecord, Metadata, ThreadRecord};

use super::State;
use super::fd::{FdInfo, FdType, L4Proto, flags as fdflags, tuple_text};
use super::path::concatenate_paths;
use super::thread::{ThreadInfo, clone_flags as cl};
use super::users::{GroupInfo, UserInfo};

fn thread_from_record(r: &ThreadRecord) -> ThreadInfo {
    let mut t = ThreadInfo {
        tid: r.tid as i64,
        pid: r.pid as i64,
        ptid: r.ptid as i64,
        sid: r.sid,
        vpgid: r.vpgid,
        pgid: r.pgid,
        comm: r.comm.as_bytes().to_vec(),
        exe: r.exe.as_bytes().to_vec(),
        exepath: r.exepath.as_bytes().to_vec(),
        exe_writable: r.exe_writable,
        exe_upper_layer: r.exe_upper_layer,
        exe_lower_layer: r.exe_lower_layer,
        exe_from_memfd: r.exe_from_memfd,
        flags: r.flags | cl::ACTIVE,
        fdlimit: r.fdlimit as i64,
        cap_permitted: r.cap_permitted,
        cap_effective: r.cap_effective,
        cap_inheritable: r.cap_inheritable,
        exe_ino: r.exe_ino,
        exe_ino_ctime: r.exe_ino_ctime,
        exe_ino_mtime: r.exe_ino_mtime,
        vmsize_kb: r.vmsize_kb,
        vmrss_kb: r.vmrss_kb,
        vmswap_kb: r.vmswap_kb,
        pfmajor: r.pfmajor,
        pfminor: r.pfminor,
        vtid: r.vtid,
        vpid: r.vpid,
        pidns_init_start_ts: r.pidns_init_start_ts,
        tty: r.tty,
        root: r.root.as_bytes().to_vec(),
        gid: r.gid,
        uid: r.uid,
        loginuid: r.loginuid,
        ..ThreadInfo::default()
    };
    t.set_args(&r.args);
    if t.is_main_thread() {
        t.set_env(&r.env);
        let mut cwd = concatenate_paths(&t.cwd, r.cwd.as_bytes());
        if cwd.last() != Some(&b'/') {
            cwd.push(b'/');
        }
        t.cwd = cwd;
    }
    t.set_cgroups(&r.cgroups);
    t
}

fn l4(p: u8) -> L4Proto {
    L4Proto::from_code(p)
}

/// An fd-list entry as `add_fd_from_scap` stores it.
fn fd_from_record(ty: u8, ino: u64, info: &ScapFd) -> FdInfo {
    let mut f = FdInfo {
        ty: FdType::from_code(ty),
        flags: fdflags::FROM_PROC,
        ino,
        ..FdInfo::default()
    };
    match info {
        ScapFd::Unknown => {}
        ScapFd::Ipv4Sock {
            sip,
            dip,
            sport,
            dport,
            l4proto,
        } => {
            f.ty = FdType::Ipv4Sock;
            f.sock.sip = IpAddr::V4(Ipv4Addr::from(*sip));
            f.sock.dip = IpAddr::V4(Ipv4Addr::from(*dip));
            f.sock.sport = *sport;
            f.sock.dport = *dport;
            f.sock.l4proto = l4(*l4proto);
            if f.sock.l4proto == L4Proto::Tcp {
                f.flags |= fdflags::SOCKET_CONNECTED;
            }
            f.name = tuple_text(f.sock.sip, f.sock.sport, f.sock.dip, f.sock.dport);
        }
        ScapFd::Ipv6Sock {
            sip,
            dip,
            sport,
            dport,
            l4proto,
        } => {
            let (s6, d6) = (Ipv6Addr::from(*sip), Ipv6Addr::from(*dip));
            match (s6.to_ipv4_mapped(), d6.to_ipv4_mapped()) {
                (Some(s4), Some(d4)) => {
                    f.ty = FdType::Ipv4Sock;
                    f.sock.sip = IpAddr::V4(s4);
                    f.sock.dip = IpAddr::V4(d4);
                }
                _ => {
                    f.ty = FdType::Ipv6Sock;
                    f.sock.sip = IpAddr::V6(s6);
                    f.sock.dip = IpAddr::V6(d6);
                }
            }
            f.sock.sport = *sport;
            f.sock.dport = *dport;
            f.sock.l4proto = l4(*l4proto);
            if f.sock.l4proto == L4Proto::Tcp {
                f.flags |= fdflags::SOCKET_CONNECTED;
            }
            f.name = tuple_text(f.sock.sip, f.sock.sport, f.sock.dip, f.sock.dport);
        }
        ScapFd::Ipv4ServSock { ip, port, l4proto } => {
            f.sock.sip = IpAddr::V4(Ipv4Addr::from(*ip));
            f.sock.sport = *port;
            f.sock.l4proto = l4(*l4proto);
            f.name = format!("{}:{}", f.sock.sip, port).into_bytes();
        }
        ScapFd::Ipv6ServSock { ip, port, l4proto } => {
            f.sock.sip = IpAddr::V6(Ipv6Addr::from(*ip));
            f.sock.sport = *port;
            f.sock.l4proto = l4(*l4proto);
            f.name = format!("{}:{}", f.sock.sip, port).into_bytes();
        }
        ScapFd::UnixSock { source, dest, path } => {
            f.sock.source = *source;
            f.sock.dest = *dest;
            f.name = path.as_bytes().to_vec();
            f.flags |= if f.name.is_empty() {
                fdflags::ROLE_CLIENT
            } else {
                fdflags::ROLE_SERVER
            };
        }
        ScapFd::File {
            open_flags,
            name,
            dev,
        } => {
            f.open_flags = *open_flags;
            f.name = name.as_bytes().to_vec();
            f.dev = *dev;
        }
        ScapFd::Named { name } => f.name = name.as_bytes().to_vec(),
    }
    f
}

impl State {
    /// Replaces the state with what a capture section declares before its first event.
    ///
    /// The machine info's boot time is not used: libscap 0.25.4's savefile engine reads the
    /// machine-info block into its private copy, and libsinsp sees a zeroed one, so in replay
    /// `pidns_init_start_ts` of new threads (and `container.start_ts`) stays 0 (Falco prints
    /// `container_start_ts=<NA>`, goldens/replay/triggers-*).
    pub fn seed_capture(&mut self, meta: &Metadata) {
        for i in &meta.interfaces {
            match i {
                InterfaceRecord::Ipv4 { addr, netmask, .. } => {
                    self.interfaces.ipv4.push(Ipv4Addr::from(*addr));
                    self.interfaces.ipv4_netmask.push(Ipv4Addr::from(*netmask));
                }
                InterfaceRecord::Ipv6 { addr, .. } => {
                    self.interfaces.ipv6.push(Ipv6Addr::from(*addr));
                }
            }
        }
        // Threads of a capture share a handful of cgroup lists: match each list once.
        let mut ids: std::collections::HashMap<&[u8], String> = std::collections::HashMap::new();
        for r in &meta.threads {
            let mut info = thread_from_record(r);
            info.container_id = ids
                .entry(r.cgroups.as_slice())
                .or_insert_with(|| {
                    super::container::container_id_from_cgroups(
                        info.cgroups.iter().map(|(_, p)| p.as_slice()),
                    )
                })
                .clone();
            if self.threads.add_unlinked(info) {
                self.parser.counters.added_threads += 1;
            }
        }
        for (tid, rec) in &meta.fds {
            let mut f = fd_from_record(rec.fd_type, rec.ino, &rec.info);
            if f.ty.is_ip_socket() && f.sock.l4proto != L4Proto::Unknown {
                self.interfaces.update_fd(&mut f);
                f.name = tuple_text(f.sock.sip, f.sock.sport, f.sock.dip, f.sock.dport);
            }
            if let Some(t) = self.threads.get_mut(*tid as i64) {
                t.fds.insert(rec.fd, f);
            }
        }
        self.finish_seeding();
        for u in &meta.users {
            self.users.add_user(
                "",
                UserInfo {
                    uid: u.uid,
                    gid: u.gid,
                    name: u.name.as_bytes().to_vec(),
                    homedir: u.homedir.as_bytes().to_vec(),
                    shell: u.shell.as_bytes().to_vec(),
                },
            );
        }
        for g in &meta.groups {
            self.users.add_group(
                "",
                GroupInfo {
                    gid: g.gid,
                    name: g.name.as_bytes().to_vec(),
                },
            );
        }
    }
}
