//! The thread table (libsinsp `sinsp_thread_manager`): one entry per thread id, with the
//! process attributes the fields read. Process-wide data (fds, cwd) lives on the main thread.

use std::collections::HashMap;

use super::fd::{FdInfo, FdTable};

/// `PPM_CL_*` clone flags kept on a thread.
pub mod clone_flags {
    pub const CLONE_FILES: u32 = 1 << 0;
    pub const CLONE_PARENT: u32 = 1 << 8;
    pub const CLONE_INVERTED: u32 = 1 << 16;
    pub const NAME_CHANGED: u32 = 1 << 17;
    pub const ACTIVE: u32 = 1 << 19;
    pub const CLONE_NEWUSER: u32 = 1 << 20;
    pub const PIPE_SRC: u32 = 1 << 21;
    pub const PIPE_DST: u32 = 1 << 22;
    pub const CLONE_FS: u32 = 1 << 1;
    pub const CLONE_NEWPID: u32 = 1 << 6;
    pub const CLONE_THREAD: u32 = 1 << 13;
    pub const CLONE_VFORK: u32 = 1 << 27;
    pub const CHILD_IN_PIDNS: u32 = 1 << 29;
    pub const IS_MAIN_THREAD: u32 = 1 << 30;
}

/// Falco's default `falco_libs.thread_table_size`.
pub const DEFAULT_THREAD_TABLE_SIZE: usize = 262_144;

/// One thread, as libsinsp's `sinsp_threadinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    pub sid: i64,
    pub vpgid: i64,
    pub pgid: i64,
    pub vtid: i64,
    pub vpid: i64,
    /// `proc.name`: the kernel task name.
    pub comm: Vec<u8>,
    /// `proc.exe`: argv[0].
    pub exe: Vec<u8>,
    /// `proc.exepath`: the full executable path.
    pub exepath: Vec<u8>,
    pub args: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
    /// Working directory, ending in `/` once known (meaningful on the main thread); empty for
    /// threads created without one, as libsinsp's.
    pub cwd: Vec<u8>,
    pub root: Vec<u8>,
    pub fdlimit: i64,
    /// `PPM_CL_*` flags.
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: u32,
    /// `(subsystem, path)` pairs in the order the kernel reported them.
    pub cgroups: Vec<(Vec<u8>, Vec<u8>)>,
    pub clone_ts: u64,
    pub pidns_init_start_ts: u64,
    pub tty: u32,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub exe_writable: bool,
    pub exe_upper_layer: bool,
    pub exe_lower_layer: bool,
    pub exe_from_memfd: bool,
    pub exe_ino: u64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
    pub vmsize_kb: u32,
    pub vmrss_kb: u32,
    pub vmswap_kb: u32,
    pub pfmajor: u64,
    pub pfminor: u64,
    pub exe_ino_ctime_duration_clone_ts: u64,
    pub exe_ino_ctime_duration_pidns_start: u64,
    pub lastexec_ts: u64,
    pub reaper_tid: i64,
    /// Written by the container plugin: "" on the host.
    pub container_id: String,
    /// Parser bookkeeping: the fd of the last event ("last event fd").
    pub lastevent_fd: i64,
    /// Parser bookkeeping: the type of the last event.
    pub lastevent_type: u16,
    /// Parser bookkeeping: the stored enter event (open family, execve(at), connect).
    pub last_event_data: Vec<u8>,
    pub lastevent_data_valid: bool,
    /// Timestamp of the thread's last event, and of the one before.
    pub lastevent_ts: u64,
    pub prevevent_ts: u64,
    /// The process's fds; only the main thread's table is used.
    pub fds: FdTable,
}

impl Default for ThreadInfo {
    fn default() -> ThreadInfo {
        ThreadInfo {
            tid: -1,
            pid: -1,
            ptid: -1,
            sid: -1,
            vpgid: -1,
            pgid: -1,
            vtid: -1,
            vpid: -1,
            comm: Vec::new(),
            exe: Vec::new(),
            exepath: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: Vec::new(),
            root: Vec::new(),
            fdlimit: 0,
            flags: 0,
            uid: u32::MAX,
            gid: u32::MAX,
            loginuid: u32::MAX,
            cgroups: Vec::new(),
            clone_ts: 0,
            pidns_init_start_ts: 0,
            tty: 0,
            cap_inheritable: 0,
            cap_permitted: 0,
            cap_effective: 0,
            exe_writable: false,
            exe_upper_layer: false,
            exe_lower_layer: false,
            exe_from_memfd: false,
            exe_ino: 0,
            exe_ino_ctime: 0,
            exe_ino_mtime: 0,
            vmsize_kb: 0,
            vmrss_kb: 0,
            vmswap_kb: 0,
            pfmajor: 0,
            pfminor: 0,
            exe_ino_ctime_duration_clone_ts: 0,
            exe_ino_ctime_duration_pidns_start: 0,
            lastexec_ts: 0,
            reaper_tid: -1,
            container_id: String::new(),
            lastevent_fd: 0,
            lastevent_type: u16::MAX,
            last_event_data: Vec::new(),
            lastevent_data_valid: false,
            lastevent_ts: 0,
            prevevent_ts: 0,
            fds: FdTable::default(),
        }
    }
}

impl ThreadInfo {
    /// The placeholder libsinsp inserts for a tid it cannot find (`get_thread`).
    pub fn placeholder(tid: i64) -> ThreadInfo {
        ThreadInfo {
            tid,
            comm: b"<NA>".to_vec(),
            exe: b"<NA>".to_vec(),
            ..ThreadInfo::default()
        }
    }

    pub fn is_main_thread(&self) -> bool {
        self.tid == self.pid
    }

    /// libsinsp `is_invalid`: placeholder-like entries without a valid pid or parent.
    pub fn is_invalid(&self) -> bool {
        self.tid < 0 || self.pid < 0 || self.ptid < 0
    }

    /// Inside a child pid namespace (`PPM_CL_CHILD_IN_PIDNS` or vtid ≠ tid).
    pub fn is_in_pid_namespace(&self) -> bool {
        self.flags & clone_flags::CHILD_IN_PIDNS != 0 || (self.vtid >= 0 && self.tid != self.vtid)
    }

    /// `proc.args`: args joined by single spaces.
    pub fn args_joined(&self, out: &mut Vec<u8>) {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(arg);
        }
    }

    /// `proc.cmdline`: comm, then each argument after a space.
    pub fn cmdline(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.comm);
        for arg in &self.args {
            out.push(b' ');
            out.extend_from_slice(arg);
        }
    }

    /// `proc.env`: entries joined by single spaces.
    pub fn env_joined(&self, out: &mut Vec<u8>) {
        for (i, e) in self.env.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(e);
        }
    }

    /// `get_env(name)`: the value of `NAME` with surrounding spaces stripped; empty when unset
    /// (or set to nothing). Call it on the main thread, whose environment threads share.
    pub fn env_value(&self, name: &[u8]) -> &[u8] {
        for e in &self.env {
            if e.len() > name.len() + 1 && e[name.len()] == b'=' && e.starts_with(name) {
                let v = &e[name.len() + 1..];
                let Some(first) = v.iter().position(|c| *c != b' ') else {
                    return b"";
                };
                let last = v.iter().rposition(|c| *c != b' ').unwrap_or(first);
                return &v[first..=last];
            }
        }
        b""
    }

    /// Sets args from a NUL-separated buffer (execve/clone `args`, proc-list `args`).
    pub fn set_args(&mut self, buf: &[u8]) {
        self.args = split_nul(buf);
    }

    /// Sets env from a NUL-separated buffer.
    pub fn set_env(&mut self, buf: &[u8]) {
        self.env = split_nul(buf);
    }

    /// Sets cgroups from NUL-separated `subsys=path` entries.
    pub fn set_cgroups(&mut self, buf: &[u8]) {
        self.cgroups = split_nul(buf)
            .into_iter()
            .filter_map(|entry| {
                let eq = memchr::memchr(b'=', &entry)?;
                Some((entry[..eq].to_vec(), entry[eq + 1..].to_vec()))
            })
            .collect();
    }

    /// Sets the cwd, keeping libsinsp's trailing `/`.
    pub fn set_cwd(&mut self, cwd: &[u8]) {
        self.cwd = cwd.to_vec();
        if self.cwd.last() != Some(&b'/') {
            self.cwd.push(b'/');
        }
    }
}

/// A fast hasher for integer keys (tids, fds): one multiply-xorshift round (the keys are
/// not attacker-controlled strings, so SipHash's DoS resistance buys nothing here).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let x = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8)) ^ u64::from(*b);
        }
    }

    fn write_i64(&mut self, v: i64) {
        self.0 = v as u64;
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Hash map keyed by tids or fds.
pub type IdMap<V> = HashMap<i64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Splits a NUL-separated list; a trailing NUL does not make an empty last element.
pub fn split_nul(buf: &[u8]) -> Vec<Vec<u8>> {
    if buf.is_empty() {
        return Vec::new();
    }
    let buf = buf.strip_suffix(b"\0").unwrap_or(buf);
    buf.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

/// The thread table, bounded like libsinsp's: when full, new threads are dropped (counted).
#[derive(Debug, Clone)]
pub struct ThreadTable {
    threads: IdMap<ThreadInfo>,
    max_size: usize,
    /// Threads not added because the table was full (`n_drops_full_threadtable`).
    pub drops_full: u64,
}

impl Default for ThreadTable {
    fn default() -> ThreadTable {
        ThreadTable::new(DEFAULT_THREAD_TABLE_SIZE)
    }
}

impl ThreadTable {
    pub fn new(max_size: usize) -> ThreadTable {
        ThreadTable {
            threads: IdMap::default(),
            max_size,
            drops_full: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.threads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    pub fn get(&self, tid: i64) -> Option<&ThreadInfo> {
        self.threads.get(&tid)
    }

    pub fn get_mut(&mut self, tid: i64) -> Option<&mut ThreadInfo> {
        self.threads.get_mut(&tid)
    }

    pub fn contains(&self, tid: i64) -> bool {
        self.threads.contains_key(&tid)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ThreadInfo> {
        self.threads.values()
    }

    /// Adds (or replaces) a thread, linking it to its parent as libsinsp's
    /// `create_thread_dependencies` does: a parent missing from the table (or invalid) makes
    /// `ptid` 0. Returns false when the table is full.
    pub fn add(&mut self, mut info: ThreadInfo) -> bool {
        if !self.threads.contains_key(&info.tid) && self.threads.len() >= self.max_size {
            self.drops_full += 1;
            return false;
        }
        self.link_parent(&mut info);
        self.threads.insert(info.tid, info);
        true
    }

    /// Adds a thread without the parent check (process-list seeding; [`Self::link_all`]
    /// runs the check once every entry is in).
    pub fn add_unlinked(&mut self, info: ThreadInfo) -> bool {
        if !self.threads.contains_key(&info.tid) && self.threads.len() >= self.max_size {
            self.drops_full += 1;
            return false;
        }
        self.threads.insert(info.tid, info);
        true
    }

    /// `create_thread_dependencies_after_proc_scan`.
    pub fn link_all(&mut self) {
        let tids: Vec<i64> = self.threads.keys().copied().collect();
        for tid in tids {
            let Some(mut info) = self.threads.remove(&tid) else {
                continue;
            };
            self.link_parent(&mut info);
            self.threads.insert(tid, info);
        }
    }

    fn link_parent(&self, info: &mut ThreadInfo) {
        if info.is_invalid() || info.pid == 1 {
            return;
        }
        let parent_ok = self
            .threads
            .get(&info.ptid)
            .is_some_and(|p| !p.is_invalid() && p.tid != info.tid);
        if !parent_ok {
            info.ptid = 0;
        }
    }

    pub fn remove(&mut self, tid: i64) -> Option<ThreadInfo> {
        self.threads.remove(&tid)
    }

    /// The thread, or the placeholder libsinsp inserts for an unknown tid (none when full).
    pub fn get_or_placeholder(&mut self, tid: i64) -> Option<&ThreadInfo> {
        if !self.threads.contains_key(&tid) {
            if self.threads.len() >= self.max_size {
                return None;
            }
            self.threads.insert(tid, ThreadInfo::placeholder(tid));
        }
        self.threads.get(&tid)
    }

    /// The thread-group leader of `t` (itself when it is the main thread).
    pub fn main_thread<'a>(&'a self, t: &'a ThreadInfo) -> Option<&'a ThreadInfo> {
        if t.is_main_thread() {
            return Some(t);
        }
        if t.pid < 0 {
            return None;
        }
        self.threads.get(&t.pid).filter(|m| m.is_main_thread())
    }

    /// Mutable main thread of `tid`.
    pub fn main_thread_mut(&mut self, tid: i64) -> Option<&mut ThreadInfo> {
        let pid = self.threads.get(&tid)?.pid;
        if pid == tid {
            return self.threads.get_mut(&tid);
        }
        if self
            .threads
            .get(&pid)
            .is_some_and(ThreadInfo::is_main_thread)
        {
            return self.threads.get_mut(&pid);
        }
        None
    }

    /// `get_ancestor_process(t, n)`: main thread of the n-th ancestor (0 = itself).
    pub fn ancestor<'a>(&'a self, t: &'a ThreadInfo, n: u32) -> Option<&'a ThreadInfo> {
        let mut mt = self.main_thread(t)?;
        for _ in 0..n {
            let parent = self.threads.get(&mt.ptid)?;
            mt = self.main_thread(parent)?;
        }
        Some(mt)
    }

    /// `traverse_parent_state`: visits the ancestors of `t` (starting at its parent, following
    /// `ptid`), stopping when `visit` returns false, at a missing parent, at tid -1, or on a loop.
    pub fn for_each_ancestor<'a>(
        &'a self,
        t: &'a ThreadInfo,
        mut visit: impl FnMut(&'a ThreadInfo) -> bool,
    ) {
        let step = |x: Option<&'a ThreadInfo>| x.and_then(|x| self.threads.get(&x.ptid));
        let mut slow = self.threads.get(&t.ptid);
        let mut fast = step(slow);
        while let Some(s) = slow {
            if s.tid == -1 {
                break;
            }
            if !visit(s) {
                break;
            }
            slow = self.threads.get(&s.ptid);
            for _ in 0..2 {
                fast = step(fast);
                if let Some(s) = slow
                    && (fast.is_some_and(|f| std::ptr::eq(f, s)) || s.tid == s.ptid)
                {
                    return;
                }
            }
        }
    }

    /// `get_oldest_matching_ancestor` for `proc.sname` (`sid`) and friends.
    pub fn oldest_matching_ancestor<'a>(
        &'a self,
        t: &'a ThreadInfo,
        id_of: impl Fn(&ThreadInfo) -> i64,
        is_virtual_id: bool,
    ) -> Option<&'a ThreadInfo> {
        let id = id_of(t);
        if id == -1 {
            return None;
        }
        if (!is_virtual_id || !t.is_in_pid_namespace())
            && let Some(leader) = self.threads.get(&id)
        {
            return Some(leader);
        }
        let mut leader = None;
        self.for_each_ancestor(t, |p| {
            if id_of(p) != id {
                return false;
            }
            leader = Some(p);
            true
        });
        leader
    }

    /// The fd table `t` uses (its main thread's).
    pub fn fd_table<'a>(&'a self, t: &'a ThreadInfo) -> &'a FdTable {
        self.main_thread(t).map_or(&t.fds, |m| &m.fds)
    }

    /// The fd `fd` of thread `t`.
    pub fn fd<'a>(&'a self, t: &'a ThreadInfo, fd: i64) -> Option<&'a FdInfo> {
        self.fd_table(t).get(fd)
    }

    /// Mutable fd table of thread `tid` (its main thread's, else its own).
    pub fn fd_table_mut(&mut self, tid: i64) -> Option<&mut FdTable> {
        let t = self.threads.get(&tid)?;
        let owner = if t.is_main_thread()
            || !self
                .threads
                .get(&t.pid)
                .is_some_and(ThreadInfo::is_main_thread)
        {
            tid
        } else {
            t.pid
        };
        self.threads.get_mut(&owner).map(|t| &mut t.fds)
    }

    /// The cwd `t` uses (its main thread's), ending in `/`; `./` without a main thread.
    pub fn cwd<'a>(&'a self, t: &'a ThreadInfo) -> &'a [u8] {
        self.main_thread(t).map_or(b"./", |m| &m.cwd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(tid: i64, pid: i64, ptid: i64, comm: &str) -> ThreadInfo {
        ThreadInfo {
            tid,
            pid,
            ptid,
            comm: comm.as_bytes().to_vec(),
            ..ThreadInfo::default()
        }
    }

    fn table() -> ThreadTable {
        let mut t = ThreadTable::new(16);
        t.add(thread(1, 1, 0, "systemd"));
        t.add(thread(100, 100, 1, "sshd"));
        t.add(thread(200, 200, 100, "bash"));
        t.add(thread(300, 300, 200, "cat"));
        t.add(thread(301, 300, 200, "cat-worker"));
        t
    }

    #[test]
    fn ancestors_walk_main_threads() {
        let t = table();
        let worker = t.get(301).unwrap();
        assert_eq!(t.ancestor(worker, 0).unwrap().comm, b"cat");
        assert_eq!(t.ancestor(worker, 1).unwrap().comm, b"bash");
        assert_eq!(t.ancestor(worker, 3).unwrap().comm, b"systemd");
        assert!(t.ancestor(worker, 4).is_none());
        let mut names = Vec::new();
        t.for_each_ancestor(t.get(300).unwrap(), |p| {
            names.push(String::from_utf8(p.comm.clone()).unwrap());
            true
        });
        assert_eq!(names, ["bash", "sshd", "systemd"]);
    }

    #[test]
    fn missing_parent_becomes_ptid_zero() {
        let mut t = ThreadTable::new(16);
        t.add(thread(50, 50, 49, "orphan"));
        assert_eq!(t.get(50).unwrap().ptid, 0);
    }

    #[test]
    fn full_table_drops_new_threads() {
        let mut t = ThreadTable::new(2);
        assert!(t.add(thread(1, 1, 0, "a")));
        assert!(t.add(thread(2, 2, 1, "b")));
        assert!(!t.add(thread(3, 3, 1, "c")));
        assert_eq!(t.drops_full, 1);
        assert!(t.get_or_placeholder(4).is_none());
        assert!(
            t.add(thread(2, 2, 1, "b2")),
            "replacing an entry is not a new thread"
        );
    }

    #[test]
    fn placeholder_values() {
        let mut t = ThreadTable::new(4);
        let p = t.get_or_placeholder(77).unwrap();
        assert_eq!(p.comm, b"<NA>");
        assert_eq!(
            (p.pid, p.ptid, p.uid, p.loginuid),
            (-1, -1, u32::MAX, u32::MAX)
        );
    }

    #[test]
    fn loop_in_parents_stops() {
        let mut t = ThreadTable::new(8);
        t.add_unlinked(thread(10, 10, 11, "a"));
        t.add_unlinked(thread(11, 11, 10, "b"));
        let mut n = 0;
        t.for_each_ancestor(t.get(10).unwrap(), |_| {
            n += 1;
            true
        });
        assert!(n <= 3);
    }

    #[test]
    fn env_and_args() {
        let mut th = ThreadInfo::default();
        th.set_args(b"-la\0/tmp\0");
        th.set_env(b"HOME=/root\0PATH= /bin \0");
        th.comm = b"ls".to_vec();
        let mut out = Vec::new();
        th.cmdline(&mut out);
        assert_eq!(out, b"ls -la /tmp");
        assert_eq!(th.env_value(b"PATH"), b"/bin");
        assert_eq!(th.env_value(b"NOPE"), b"");
    }
}
