//! Process state: thread table, fd tables, users and groups, containers; updated from events
//! before rules run, as libsinsp does. Knows nothing about rules.
//!
//! [`State`] owns every table and is fed events in order by one worker:
//!
//! ```text
//! let mut state = State::new(thread_table_size);
//! state.seed_capture(reader.metadata());          // replay: process/fd/user/interface lists
//! for each event the converter delivers {
//!     let mut ctx = state.process(&event);        // parse first (libsinsp order)
//!     ctx.cpu = block.cpuid;
//!     if ctx.filtered_out || block is SCAP_DF_STATE_ONLY { continue }  // never reach rules
//!     rules see fields::extract::Extractor::new(&state, &event, &ctx, hostname)
//! }
//! ```
//!
//! Removals caused by an event (fd on close, thread on procexit) are applied at the start of
//! the next `process` call, so the event's own rules still see them. The thread table is
//! bounded like libsinsp's: when full, new threads are dropped and counted
//! ([`ThreadTable::drops_full`]), unknown tids get no placeholder.

pub mod container;
pub mod fd;
pub mod parse;
pub mod path;
pub mod procfs;
pub mod seed;
pub mod thread;
pub mod users;

pub use container::{ContainerInfo, Containers};
pub use fd::{FdInfo, FdTable, FdType};
pub use parse::{EventCtx, Parser};
pub use thread::{ThreadInfo, ThreadTable};
pub use users::UserGroups;

/// Everything libsinsp and the container plugin keep between events.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub threads: ThreadTable,
    pub users: UserGroups,
    pub containers: Containers,
    /// Parser bookkeeping (event counter, deferred removals, dispatch tables).
    pub parser: Parser,
    /// Host network interfaces (capture interface list or the live host).
    pub interfaces: Interfaces,
    /// Live mode: the `/proc` to read unknown threads from (`None` in replay, where unknown
    /// threads get libsinsp's placeholder).
    pub proc_root: Option<std::path::PathBuf>,
    /// Domains of `fd.*ip.name` conditions and their addresses.
    pub dns: crate::fields::dns::DnsCache,
}

/// Addresses of the host's network interfaces, to tell local from remote endpoints.
#[derive(Debug, Clone, Default)]
pub struct Interfaces {
    pub ipv4: Vec<std::net::Ipv4Addr>,
    /// Netmask of each `ipv4` address (same index).
    pub ipv4_netmask: Vec<std::net::Ipv4Addr>,
    pub ipv6: Vec<std::net::Ipv6Addr>,
}

impl Interfaces {
    /// `infer_ipv4_address`: the local address used to reach `dst` (exact match, same
    /// subnet, else the first non-loopback interface; 0.0.0.0 when none).
    pub fn infer_v4(&self, dst: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        if self.ipv4.contains(&dst) {
            return dst;
        }
        let d = u32::from(dst);
        for (a, m) in self.ipv4.iter().zip(&self.ipv4_netmask) {
            let m = u32::from(*m);
            if u32::from(*a) & m == d & m {
                return *a;
            }
        }
        self.ipv4
            .iter()
            .copied()
            .find(|a| *a != std::net::Ipv4Addr::LOCALHOST)
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
    }

    /// `infer_ipv6_address` (same subnet = same first 64 bits).
    pub fn infer_v6(&self, dst: std::net::Ipv6Addr) -> std::net::Ipv6Addr {
        if self.ipv6.contains(&dst) {
            return dst;
        }
        if let Some(a) = self
            .ipv6
            .iter()
            .find(|a| a.octets()[..8] == dst.octets()[..8])
        {
            return *a;
        }
        self.ipv6
            .iter()
            .copied()
            .find(|a| *a != std::net::Ipv6Addr::LOCALHOST)
            .unwrap_or(std::net::Ipv6Addr::UNSPECIFIED)
    }

    /// `sinsp_network_interfaces::update_fd`: fills a connection's missing endpoint.
    pub fn update_fd(&self, f: &mut fd::FdInfo) {
        use std::net::IpAddr;
        if !f.ty.is_ip_socket() {
            return;
        }
        let s = &mut f.sock;
        if !s.sip.is_unspecified() && !s.dip.is_unspecified() {
            return;
        }
        let infer = |ip: IpAddr| match ip {
            IpAddr::V4(a) => IpAddr::V4(self.infer_v4(a)),
            IpAddr::V6(a) => IpAddr::V6(self.infer_v6(a)),
        };
        if s.sip.is_unspecified() {
            let new = infer(s.dip);
            if new == s.dip && s.sport == s.dport {
                return;
            }
            s.sip = new;
        } else {
            let new = infer(s.sip);
            if new == s.sip && s.sport == s.dport {
                return;
            }
            s.dip = new;
        }
    }
}

impl State {
    /// A state whose thread table holds at most `thread_table_size` threads.
    pub fn new(thread_table_size: usize) -> State {
        State {
            threads: ThreadTable::new(thread_table_size),
            users: UserGroups::new(true),
            containers: Containers::default(),
            parser: Parser::default(),
            interfaces: Interfaces::default(),
            proc_root: None,
            dns: crate::fields::dns::DnsCache::default(),
        }
    }

    /// Adds a thread from a process list (capture block or /proc scan): its container id is
    /// computed from its cgroups. Call [`State::finish_seeding`] once all are in.
    pub fn seed_thread(&mut self, mut info: ThreadInfo) {
        info.container_id = self
            .containers
            .id_from_cgroups(info.cgroups.iter().map(|(_, p)| p.as_slice()));
        self.threads.add_unlinked(info);
    }

    /// Links seeded threads to their parents (`create_thread_dependencies_after_proc_scan`).
    pub fn finish_seeding(&mut self) {
        self.threads.link_all();
    }
}
