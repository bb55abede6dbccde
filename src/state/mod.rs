//! Process state: thread table, fd tables, users and groups, containers; updated from events
//! before rules run, as libsinsp does. Knows nothing about rules.
//!
//! [`State`] owns every table and is fed events in order by one worker. Seeding comes from the
//! capture's process, fd and user lists (replay) or from /proc (live).

pub mod container;
pub mod fd;
pub mod parse;
pub mod path;
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
}

/// Addresses of the host's network interfaces, to tell local from remote endpoints.
#[derive(Debug, Clone, Default)]
pub struct Interfaces {
    pub ipv4: Vec<std::net::Ipv4Addr>,
    pub ipv6: Vec<std::net::Ipv6Addr>,
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
        }
    }

    /// Adds a thread from a process list (capture block or /proc scan): its container id is
    /// computed from its cgroups. Call [`State::finish_seeding`] once all are in.
    pub fn seed_thread(&mut self, mut info: ThreadInfo) {
        info.container_id =
            container::container_id_from_cgroups(info.cgroups.iter().map(|(_, p)| p.as_slice()));
        self.threads.add_unlinked(info);
    }

    /// Links seeded threads to their parents (`create_thread_dependencies_after_proc_scan`).
    pub fn finish_seeding(&mut self) {
        self.threads.link_all();
    }
}
