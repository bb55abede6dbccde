//! The `fdlist.*` fields (libsinsp `sinsp_filtercheck_fdlist.cpp`): for poll and ppoll exit
//! events, comma-separated texts built from the `fds` parameter, each fd looked up in the
//! thread's fd table.

use std::net::{IpAddr, Ipv4Addr};

use crate::event::Event;
use crate::state::{FdInfo, FdType, State, ThreadInfo};

/// `PPME_SYSCALL_POLL_X` and `PPME_SYSCALL_PPOLL_X`: the only events with these fields.
const POLL_X: u16 = 81;
const PPOLL_X: u16 = 255;

/// Bytes of one `fds` entry: the fd (i64) and the poll flags (i16).
const ENTRY_LEN: usize = 10;

/// The fds of a poll/ppoll exit event's `fds` parameter (a u16 count, then the entries), or
/// None for any other event. A short parameter ends the list where its data ends.
fn poll_fds<'e>(ev: &Event<'e>) -> Option<impl Iterator<Item = i64> + 'e> {
    if !matches!(ev.event_type(), POLL_X | PPOLL_X) {
        return None;
    }
    let data = ev.param(1)?;
    let nfds = usize::from(u16::from_le_bytes([*data.first()?, *data.get(1)?]));
    let entries = data.get(2..).unwrap_or_default();
    Some(
        entries
            .chunks_exact(ENTRY_LEN)
            .take(nfds)
            .map(|e| i64::from_le_bytes(e[..8].try_into().expect("8-byte fd"))),
    )
}

/// libsinsp prints an IPv6 server socket's address with `AF_INET`: its first four bytes.
fn server_ip_text(ty: FdType, ip: IpAddr) -> String {
    match (ty, ip) {
        (FdType::Ipv6ServSock, IpAddr::V6(v6)) => {
            let o = v6.octets();
            Ipv4Addr::new(o[0], o[1], o[2], o[3]).to_string()
        }
        _ => ip.to_string(),
    }
}

/// The text one fd adds to `field`, or None when it adds nothing (not even a comma).
fn entry(field: &str, fd: i64, info: Option<&FdInfo>) -> Option<String> {
    let conn = info.filter(|f| matches!(f.ty, FdType::Ipv4Sock | FdType::Ipv6Sock));
    match field {
        "fdlist.nums" => Some(fd.to_string()),
        "fdlist.names" => Some(match info {
            Some(f) if !f.name.is_empty() => String::from_utf8_lossy(&f.name).into_owned(),
            _ => "<NA>".to_string(),
        }),
        "fdlist.cips" => conn.map(|f| f.sock.sip.to_string()),
        "fdlist.sips" => info.and_then(|f| match f.ty {
            FdType::Ipv4Sock | FdType::Ipv6Sock => Some(f.sock.dip.to_string()),
            FdType::Ipv4ServSock | FdType::Ipv6ServSock => Some(server_ip_text(f.ty, f.sock.sip)),
            _ => None,
        }),
        "fdlist.cports" => conn.map(|f| f.sock.sport.to_string()),
        "fdlist.sports" => conn.map(|f| f.sock.dport.to_string()),
        _ => None,
    }
}

/// The value of an `fdlist.*` field for `ev` issued by `thread`, or None when the field is
/// missing (another event type, no thread, or nothing to list).
pub(crate) fn extract(
    field: &str,
    state: &State,
    ev: &Event<'_>,
    thread: Option<&ThreadInfo>,
) -> Option<Vec<u8>> {
    let fds = poll_fds(ev)?;
    let thread = thread?;
    let mut text = String::new();
    for fd in fds {
        if let Some(part) = entry(field, fd, state.threads.fd(thread, fd)) {
            text.push_str(&part);
            text.push(',');
        }
    }
    // libsinsp drops one trailing comma
    text.pop();
    (!text.is_empty()).then(|| text.into_bytes())
}
