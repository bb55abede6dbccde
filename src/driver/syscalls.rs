//! Which syscalls the live drivers capture: Falco 0.44.1's selection (`select_event_set` in
//! configure_interesting_sets.cpp) from the rules' syscalls, libsinsp's state set,
//! `base_syscalls.custom_set` (with `!name` exclusions), `repair` and `all`, minus the
//! default ignored (high-volume I/O) set.

use std::collections::BTreeSet;

/// libsinsp's state set (`sinsp_state_sc_set`): every syscall whose current event modifies
/// state.
pub const STATE_SET: &[&str] = &[
    "accept",
    "accept4",
    "bind",
    "capset",
    "chdir",
    "chroot",
    "clone",
    "clone3",
    "close",
    "close_range",
    "connect",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "fchdir",
    "fcntl",
    "fork",
    "getsockopt",
    "inotify_init",
    "inotify_init1",
    "io_uring_setup",
    "memfd_create",
    "mount",
    "open",
    "open_by_handle_at",
    "openat",
    "openat2",
    "pidfd_getfd",
    "pidfd_open",
    "pipe",
    "pipe2",
    "prctl",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setgid",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setsid",
    "setuid",
    "shutdown",
    "signalfd",
    "signalfd4",
    "socket",
    "socketpair",
    "timerfd_create",
    "umount",
    "umount2",
    "userfaultfd",
    "vfork",
];

/// Falco's ignored set (`falco -i`): high-volume I/O syscalls dropped unless
/// `base_syscalls.all`.
pub const IGNORED_SET: &[&str] = &[
    "sendfile", "preadv", "readv", "pread", "recv", "send", "pwritev", "writev", "write", "pwrite",
    "read",
];

/// The syscalls `sinsp_repair_state_sc_set` always adds.
const REPAIR_BASE: &[&str] = &[
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "fchdir",
    "chdir",
    "chroot",
    "capset",
    "setgid",
    "setpgid",
    "setresgid",
    "setresuid",
    "setsid",
    "setuid",
    "prctl",
];

const NET_SET: &[&str] = &[
    "socket",
    "socketpair",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
];

const FILE_OR_IO_SET: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "open_by_handle_at",
    "read",
    "write",
    "pread",
    "pwrite",
    "readv",
    "writev",
    "preadv",
    "pwritev",
    "sendfile",
    "lseek",
    "fstat",
    "stat",
    "lstat",
    "newfstatat",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
];

/// `base_syscalls` of falco.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseSyscalls {
    pub custom_set: Vec<String>,
    pub repair: bool,
    pub all: bool,
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// `sinsp_repair_state_sc_set(input)`.
pub fn repair_state_set(input: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = set(REPAIR_BASE);
    let hits = |list: &[&str]| list.iter().any(|n| input.contains(*n));
    let network = hits(NET_SET);
    if network {
        out.insert("socket".into());
        out.insert("getsockopt".into());
        out.insert("close".into());
    }
    if hits(&["accept", "accept4", "listen"]) {
        out.insert("bind".into());
    }
    if hits(FILE_OR_IO_SET) {
        out.insert("close".into());
    }
    out.extend(input.iter().cloned());
    out
}

/// The final syscall set for the rules' syscall names `rules`, as Falco selects it
/// (`procexit` is always captured on top of this set).
pub fn select(rules: &BTreeSet<String>, base: &BaseSyscalls) -> BTreeSet<String> {
    let mut positive = BTreeSet::new();
    let mut negative = BTreeSet::new();
    for name in &base.custom_set {
        match name.strip_prefix('!') {
            Some(n) => negative.insert(n.to_string()),
            None => positive.insert(name.clone()),
        };
    }
    let base_set = if positive.is_empty() {
        set(STATE_SET)
    } else {
        positive.clone()
    };
    let mut selected: BTreeSet<String> = rules.union(&base_set).cloned().collect();
    if base.repair && positive.is_empty() {
        selected = repair_state_set(rules);
    }
    selected.retain(|n| !negative.contains(n));
    if !base.all {
        selected.retain(|n| !IGNORED_SET.contains(&n.as_str()));
    }
    if base.repair && !base.custom_set.is_empty() {
        selected = repair_state_set(&selected);
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> BTreeSet<String> {
        set(v)
    }

    #[test]
    fn default_is_rules_plus_state_minus_ignored() {
        let s = select(
            &names(&["read", "openat", "ptrace"]),
            &BaseSyscalls::default(),
        );
        assert!(s.contains("ptrace") && s.contains("openat") && s.contains("clone3"));
        // read is in Falco's `-i` list: dropped unless base_syscalls.all
        assert!(!s.contains("read"));
        let all = select(
            &names(&["read"]),
            &BaseSyscalls {
                all: true,
                ..Default::default()
            },
        );
        assert!(all.contains("read"));
    }

    #[test]
    fn custom_set_replaces_state_set_and_negatives_remove() {
        let base = BaseSyscalls {
            custom_set: vec!["clone".into(), "execve".into(), "!openat".into()],
            ..Default::default()
        };
        let s = select(&names(&["openat", "connect"]), &base);
        assert_eq!(s, names(&["clone", "connect", "execve"]));
    }

    #[test]
    fn repair_without_custom_set_adds_only_what_state_needs() {
        let base = BaseSyscalls {
            repair: true,
            ..Default::default()
        };
        let s = select(&names(&["connect"]), &base);
        assert!(s.contains("socket") && s.contains("close") && s.contains("execve"));
        assert!(!s.contains("bind") && !s.contains("openat"));
    }

    #[test]
    fn ignored_set_matches_falco_dash_i() {
        // ../shared/conformance/goldens/cli/i/stdout lists exactly these names
        let golden =
            crate::driver::tests_support::shared_dir().join("conformance/goldens/cli/i/stdout");
        let text = std::fs::read_to_string(&golden).expect("golden -i output");
        let listed: BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .map(str::to_string)
            .collect();
        assert_eq!(listed, set(IGNORED_SET));
    }
}
