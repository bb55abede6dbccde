//! The DNS cache behind `fd.cip.name`, `fd.sip.name`, `fd.lip.name` and `fd.rip.name`
//! (libsinsp `dns_manager.cpp`, `sinsp_filtercheck_fd.cpp`).
//!
//! Values: the name of an endpoint IP is the first cached domain (in name order) that
//! resolved to it; with none the field is missing. Conditions `=`, `in` and `!=` against
//! domain constants: the condition compiler hands the constants to the extractor as the
//! field's argument ([`domains_arg`]); when the IP has no cached name, each constant is treated
//! as a domain and the comparison holds if the IP is among its addresses.
//!
//! Unlike libsinsp, which calls getaddrinfo in the event loop on a cache miss, a domain seen
//! for the first time is queued for a background thread and counts as unresolved (no match)
//! until that thread has resolved it; the thread also refreshes every entry, its period
//! doubling from 10 s up to 320 s while the addresses do not change, and drops entries unused
//! for an hour (libsinsp's timeouts).

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::FieldArg;
use crate::state::{FdInfo, FdType};

const ONE_SECOND_NS: u64 = 1_000_000_000;
/// `m_erase_timeout`: entries unused for this long are dropped.
const ERASE_TIMEOUT_NS: u64 = 3600 * ONE_SECOND_NS;
/// `m_base_refresh_timeout`: first refresh period, and the thread's wake-up period.
const BASE_REFRESH_NS: u64 = 10 * ONE_SECOND_NS;
/// `m_max_refresh_timeout`: the refresh period stops doubling here.
const MAX_REFRESH_NS: u64 = 320 * ONE_SECOND_NS;

/// The four fields this module serves.
pub const NAME_FIELDS: [&str; 4] = ["fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name"];

/// One cached domain.
#[derive(Debug, Clone, Default)]
struct Entry {
    /// None until the background thread has resolved the domain once.
    addrs: Option<HashSet<IpAddr>>,
    timeout_ns: u64,
    last_resolve_ns: u64,
    /// Wall clock of the last lookup (libsinsp stores the event time and compares it with the
    /// wall clock, which drops every entry at each pass when replaying an old capture).
    last_used_ns: u64,
}

#[derive(Debug, Default)]
struct Shared {
    cache: Mutex<BTreeMap<String, Entry>>,
    /// Signalled when a domain is queued.
    wake: Condvar,
    /// Whether the background thread runs.
    worker: Mutex<bool>,
}

/// A shared handle on the DNS cache (clones share it). The background thread starts with the
/// first queued domain and ends once every handle is dropped.
#[derive(Debug, Clone, Default)]
pub struct DnsCache {
    shared: Arc<Shared>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// getaddrinfo of `name` (any family), as a set of addresses; empty when it fails.
fn resolve(name: &str) -> HashSet<IpAddr> {
    (name, 0u16)
        .to_socket_addrs()
        .map(|it| it.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

fn lock(shared: &Shared) -> MutexGuard<'_, BTreeMap<String, Entry>> {
    shared.cache.lock().unwrap_or_else(|e| e.into_inner())
}

/// One pass of the background thread: drop entries unused for too long, resolve queued
/// domains and refresh due ones (getaddrinfo runs without the lock held).
fn refresh_pass(shared: &Shared) {
    let now = now_ns();
    let due: Vec<String> = {
        let mut cache = lock(shared);
        cache.retain(|_, e| now.saturating_sub(e.last_used_ns) <= ERASE_TIMEOUT_NS);
        cache
            .iter()
            .filter(|(_, e)| e.addrs.is_none() || now > e.last_resolve_ns + e.timeout_ns)
            .map(|(n, _)| n.clone())
            .collect()
    };
    for name in due {
        let addrs = resolve(&name);
        let mut cache = lock(shared);
        let Some(e) = cache.get_mut(&name) else {
            continue;
        };
        e.last_resolve_ns = now;
        if e.addrs.as_ref() != Some(&addrs) {
            e.addrs = Some(addrs);
            e.timeout_ns = BASE_REFRESH_NS;
        } else if e.timeout_ns < MAX_REFRESH_NS {
            e.timeout_ns <<= 1;
        }
    }
}

fn worker(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        refresh_pass(&shared);
        let cache = lock(&shared);
        let queued = cache.values().any(|e| e.addrs.is_none());
        if !queued {
            let _ = shared
                .wake
                .wait_timeout(cache, Duration::from_nanos(BASE_REFRESH_NS));
        }
    }
}

impl DnsCache {
    fn start_worker(&self) {
        let mut started = self.shared.worker.lock().unwrap_or_else(|e| e.into_inner());
        if !*started {
            let weak = Arc::downgrade(&self.shared);
            *started = std::thread::Builder::new()
                .name("falco-dns".into())
                .spawn(move || worker(weak))
                .is_ok();
        }
    }

    /// Queues `domain` for resolution if it is not cached yet (never blocks on the network).
    pub fn preload(&self, domain: &str) {
        let mut cache = lock(&self.shared);
        if !cache.contains_key(domain) {
            cache.insert(
                domain.to_string(),
                Entry {
                    timeout_ns: BASE_REFRESH_NS,
                    last_used_ns: now_ns(),
                    ..Entry::default()
                },
            );
            drop(cache);
            self.start_worker();
            self.shared.wake.notify_all();
        }
    }

    /// `sinsp_dns_manager::match`: whether `ip` is among the addresses of `domain` (queued for
    /// resolution, and no match, when not resolved yet).
    pub fn matches(&self, domain: &str, ip: IpAddr) -> bool {
        {
            let mut cache = lock(&self.shared);
            if let Some(e) = cache.get_mut(domain) {
                e.last_used_ns = now_ns();
                return e.addrs.as_ref().is_some_and(|a| a.contains(&ip));
            }
        }
        self.preload(domain);
        false
    }

    /// `sinsp_dns_manager::name_of`: the first cached domain (in name order) that resolved to
    /// `ip`.
    pub fn name_of(&self, ip: IpAddr) -> Option<String> {
        let mut cache = lock(&self.shared);
        let (name, e) = cache
            .iter_mut()
            .find(|(_, e)| e.addrs.as_ref().is_some_and(|a| a.contains(&ip)))?;
        e.last_used_ns = now_ns();
        Some(name.clone())
    }

    /// Waits up to `timeout` for `domain` to be resolved (queueing it if needed); whether it
    /// was. For start-up and tests, never for the event loop.
    pub fn wait_resolved(&self, domain: &str, timeout: Duration) -> bool {
        self.preload(domain);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if lock(&self.shared)
                .get(domain)
                .is_some_and(|e| e.addrs.is_some())
            {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The argument the condition compiler gives one of [`NAME_FIELDS`] compared with `=`, `in`
/// or `!=` to constants: the constants, each a domain to match the endpoint IP against.
pub fn domains_arg(values: &[String]) -> FieldArg {
    FieldArg::Key(values.join("\n"))
}

/// The endpoint IP a name field reads (`sinsp_filtercheck_fd.cpp`): `cip` the client, `sip`
/// the server (also of a bound socket, for values), `lip`/`rip` the local/remote end by
/// `is_local` (the client address is one of the host's). None for other fds.
pub(crate) fn endpoint(
    field: &str,
    f: &FdInfo,
    is_local: bool,
    for_domain: bool,
) -> Option<IpAddr> {
    if f.is_role_none() {
        return None;
    }
    let conn = matches!(f.ty, FdType::Ipv4Sock | FdType::Ipv6Sock);
    let server = matches!(f.ty, FdType::Ipv4ServSock | FdType::Ipv6ServSock);
    match field {
        "fd.cip.name" if conn => Some(f.sock.sip),
        "fd.sip.name" if conn => Some(f.sock.dip),
        "fd.sip.name" if server && !for_domain => Some(f.sock.sip),
        "fd.lip.name" if conn => Some(if is_local { f.sock.sip } else { f.sock.dip }),
        "fd.rip.name" if conn => Some(if is_local { f.sock.dip } else { f.sock.sip }),
        _ => None,
    }
}

/// The value of a name field for fd `f`: its cached name; else, with domain constants
/// ([`domains_arg`]), the first constant whose addresses hold the IP (so that `=`/`in` hold
/// and `!=` fails) or the IP's text (so that none of them holds); else missing.
pub(crate) fn extract(
    dns: &DnsCache,
    field: &str,
    f: &FdInfo,
    is_local: bool,
    arg: Option<&FieldArg>,
) -> Option<Vec<u8>> {
    if let Some(ip) = endpoint(field, f, is_local, false)
        && let Some(name) = dns.name_of(ip)
    {
        return Some(name.into_bytes());
    }
    let Some(FieldArg::Key(domains)) = arg else {
        return None;
    };
    let ip = endpoint(field, f, is_local, true)?;
    let hit = domains.split('\n').find(|d| dns.matches(d, ip));
    Some(match hit {
        Some(d) => d.as_bytes().to_vec(),
        None => ip.to_string().into_bytes(),
    })
}
