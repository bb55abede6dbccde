//! Live tests of both backends (run for real as root): load, attach, capture a scripted
//! workload (`cat /etc/hostname`) and check the decoded events; then the same workload under
//! both backends must give identical event streams (timestamps and pids aside).

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::abi::RecordHeader;
use super::tests_support::bpf_available;
use super::{EngineKind, LiveConfig, open_live};

/// One live scenario as two tests, one per backend; each runs only where BPF is available
/// (and fails under `CI=true` when it is not, see [`bpf_available`]).
macro_rules! on_both_backends {
    ($libbpf:ident, $aya:ident, $scenario:path) => {
        #[cfg(feature = "libbpf")]
        #[test]
        fn $libbpf() {
            if bpf_available(stringify!($libbpf)) {
                $scenario(EngineKind::ModernEbpf);
            }
        }

        #[cfg(feature = "aya")]
        #[test]
        fn $aya() {
            if bpf_available(stringify!($aya)) {
                $scenario(EngineKind::Aya);
            }
        }
    };
}

/// One decoded event: code and parameter values.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ev {
    tid: u64,
    code: u16,
    params: Vec<Vec<u8>>,
}

fn all_syscalls() -> BTreeSet<String> {
    super::abi::SYSCALLS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect()
}

/// The live driver `kind` capturing every syscall it knows, and a state seeded from /proc as
/// the daemon seeds it (not started yet).
fn open_with_state(kind: EngineKind) -> (Box<dyn super::Driver>, crate::state::State) {
    let cfg = LiveConfig {
        syscalls: all_syscalls(),
        ..LiveConfig::default()
    };
    let drv = open_live(kind, &cfg).unwrap_or_else(|e| panic!("open {kind:?}: {e}"));
    let mut state = crate::state::State::new(262_144);
    state.seed_capture(&super::proc_scan::metadata(std::path::Path::new("/")).expect("proc scan"));
    (drv, state)
}

/// Runs `cat /etc/hostname` under the live driver `kind` (with or without the TOCTOU enter
/// events) and returns the events of its thread.
fn capture_cat(kind: EngineKind, toctou_enter: bool) -> (Vec<Ev>, u64) {
    let cfg = LiveConfig {
        syscalls: all_syscalls(),
        toctou_enter,
        ..LiveConfig::default()
    };
    let mut drv = open_live(kind, &cfg).unwrap_or_else(|e| panic!("open {kind:?}: {e}"));
    drv.start()
        .unwrap_or_else(|e| panic!("start {kind:?}: {e}"));
    // drain whatever was produced before the workload
    let _ = drv.next_batch(Duration::from_millis(5), &mut |_| {});
    let child = Command::new("cat")
        .arg("/etc/hostname")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn cat");
    let pid = child.id() as u64;
    let mut child = child;
    child.wait().expect("wait cat");
    let mut evs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut done = false;
    while !done && Instant::now() < deadline {
        drv.next_batch(Duration::from_millis(50), &mut |e| {
            let h = RecordHeader::parse(e.data).expect("record header");
            if h.tid != pid {
                return;
            }
            let params = h.params(e.data).expect("parameter lengths add up to len");
            assert_eq!(params.len() as u32, h.nparams);
            if h.evt_type == 186 {
                done = true;
            }
            evs.push(Ev {
                tid: h.tid,
                code: h.evt_type,
                params: params.iter().map(|p| p.to_vec()).collect(),
            });
        })
        .expect("next_batch");
    }
    let stats = drv.stats().expect("stats");
    assert!(stats.n_evts > 0, "{kind:?}: kernel counted no events");
    drv.stop();
    assert!(
        done,
        "{kind:?}: no procexit for cat (pid {pid}); saw {:?}",
        evs.iter().map(|e| e.code).collect::<Vec<_>>()
    );
    (evs, pid)
}

fn i64p(p: &[u8]) -> i64 {
    i64::from_le_bytes(p.try_into().expect("8-byte parameter"))
}

fn check_cat_events(kind: EngineKind) {
    let (evs, pid) = capture_cat(kind, true);
    // execve exit (PPME_SYSCALL_EXECVE_19_X, 31 params)
    // execvp tries each PATH entry: failed attempts (res < 0) come first
    assert!(
        evs.iter()
            .filter(|e| e.code == 293)
            .all(|e| e.params[30].ends_with(b"/cat\0"))
    );
    let ex = evs
        .iter()
        .find(|e| e.code == 293 && i64p(&e.params[0]) == 0)
        .unwrap_or_else(|| panic!("{kind:?}: no successful execve exit"));
    assert_eq!(ex.params.len(), 31);
    assert_eq!(i64p(&ex.params[0]), 0, "res");
    assert_eq!(ex.params[1], b"cat\0", "exe");
    assert_eq!(ex.params[2], b"/etc/hostname\0", "args");
    assert_eq!(i64p(&ex.params[3]) as u64, pid, "tid");
    assert_eq!(i64p(&ex.params[4]) as u64, pid, "pid");
    // ptid is the parent *thread* (real_parent->pid), i.e. the test thread that spawned cat
    assert_eq!(
        i64p(&ex.params[5]),
        nix::unistd::gettid().as_raw() as i64,
        "ptid"
    );
    assert_eq!(ex.params[13], b"cat\0", "comm");
    // flags: EXE_WRITABLE (root owns the binary), EXE_UPPER/LOWER_LAYER only on overlayfs
    let flags = u32::from_le_bytes(ex.params[19][..].try_into().unwrap());
    let cat = std::ffi::CString::new(
        String::from_utf8_lossy(&ex.params[27][..ex.params[27].len() - 1]).as_bytes(),
    )
    .unwrap();
    // SAFETY: statfs on a NUL-terminated path into a zeroed struct we own.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statfs(cat.as_ptr(), &mut sfs) }, 0);
    let overlay = sfs.f_type == 0x794c7630;
    assert_eq!(flags & 1, 1, "{kind:?}: EXE_WRITABLE in {flags:#x}");
    assert_eq!(
        flags & 0b1010 != 0,
        overlay,
        "{kind:?}: overlay layer bits in {flags:#x}"
    );
    assert!(
        ex.params[27].ends_with(b"/cat\0"),
        "trusted_exepath {:?}",
        String::from_utf8_lossy(&ex.params[27])
    );
    assert!(ex.params[30].ends_with(b"cat\0"), "filename");
    assert_eq!(
        u32::from_le_bytes(ex.params[26][..].try_into().unwrap()),
        nix::unistd::geteuid().as_raw()
    );
    // cgroups: one "subsys=path" entry per subsystem, the path /proc/PID/cgroup shows for
    // the hierarchy holding that controller (cat runs in the test's cgroups)
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let entries: Vec<String> = ex.params[14]
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    assert!(!entries.is_empty(), "{kind:?}: no cgroups");
    for e in &entries {
        let (name, path) = e
            .split_once('=')
            .unwrap_or_else(|| panic!("{kind:?}: cgroup entry {e}"));
        let expected = cg.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, p) = (f.next()?, f.next()?, f.next()?);
            let v2 = ctl.is_empty() && cg.lines().count() == 1;
            (v2 || ctl.split(',').any(|c| c == name)).then_some(p)
        });
        if let Some(expected) = expected {
            assert_eq!(path, expected, "{kind:?}: cgroup entry {e} ({entries:?})");
        }
    }
    // libs report exactly these subsystems, in this order, when the kernel has them
    let names: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.split_once('='))
        .map(|(n, _)| n)
        .collect();
    let known = std::fs::read_to_string("/proc/cgroups").unwrap();
    let want: Vec<&str> = ["cpuset", "cpu", "cpuacct", "io", "memory"]
        .into_iter()
        .filter(|n| {
            known.lines().any(|l| {
                l.split_whitespace().next() == Some(*n) || (*n == "io" && l.starts_with("blkio"))
            })
        })
        .collect();
    assert_eq!(names, want, "{kind:?}: cgroup subsystems");
    // openat enter + exit of /etc/hostname (PPME_SYSCALL_OPENAT_2_E/X)
    assert!(
        evs.iter()
            .any(|e| e.code == 306 && e.params[1] == b"/etc/hostname\0"),
        "{kind:?}: no openat enter"
    );
    let op = evs
        .iter()
        .find(|e| e.code == 307 && e.params[2] == b"/etc/hostname\0")
        .unwrap_or_else(|| panic!("{kind:?}: no openat exit for /etc/hostname"));
    let fd = i64p(&op.params[0]);
    assert!(fd >= 0);
    assert_eq!(i64p(&op.params[1]), -100, "dirfd AT_FDCWD");
    let flags = u32::from_le_bytes(op.params[3][..].try_into().unwrap());
    assert_eq!(flags & 3, 1, "PPM_O_RDONLY");
    let ino = u64::from_le_bytes(op.params[6][..].try_into().unwrap());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        ino,
        std::fs::metadata("/etc/hostname").unwrap().ino(),
        "ino"
    );
    // close of that fd (PPM_SYSCALL_CLOSE_X)
    let opened = evs.iter().position(|e| std::ptr::eq(e, op)).unwrap();
    assert!(
        evs[opened..]
            .iter()
            .any(|e| e.code == 5 && i64p(&e.params[1]) == fd && i64p(&e.params[0]) == 0),
        "{kind:?}: no close of fd {fd}"
    );
    // procexit (PPME_PROCEXIT_1_E) with status 0
    let pe = evs.iter().find(|e| e.code == 186).unwrap();
    assert_eq!(i64p(&pe.params[0]), 0);
    assert!(evs.iter().all(|e| e.tid == pid));
}

/// The default (`FALCO_RS_TOCTOU_MITIGATION` unset): no sys_enter program is attached, so the
/// open family has its exit events only, with the path read at exit.
fn default_has_no_toctou_enter_events(kind: EngineKind) {
    assert!(!LiveConfig::default().toctou_enter);
    let (evs, _) = capture_cat(kind, LiveConfig::default().toctou_enter);
    let enters: Vec<u16> = evs
        .iter()
        .map(|e| e.code)
        .filter(|c| [2, 22, 58, 306, 326].contains(c))
        .collect();
    assert!(
        enters.is_empty(),
        "{kind:?}: TOCTOU enter events {enters:?}"
    );
    assert!(
        evs.iter()
            .any(|e| e.code == 307 && e.params[2] == b"/etc/hostname\0"),
        "{kind:?}: no openat exit for /etc/hostname"
    );
}

on_both_backends!(
    libbpf_backend_has_no_toctou_enter_events_by_default,
    aya_backend_has_no_toctou_enter_events_by_default,
    default_has_no_toctou_enter_events
);

on_both_backends!(
    libbpf_backend_sees_cat_workload,
    aya_backend_sees_cat_workload,
    check_cat_events
);

/// Parameters that legitimately differ between two runs: ids and memory counters.
#[cfg(all(feature = "libbpf", feature = "aya"))]
fn normalise(evs: &[Ev]) -> Vec<(u16, Vec<Option<Vec<u8>>>)> {
    evs.iter()
        .map(|e| {
            let volatile: &[usize] = match e.code {
                223 | 225 | 227 | 335 => &[0, 3, 4, 5, 8, 9, 10, 11, 12, 18, 19],
                293 | 331 => &[3, 4, 5, 8, 9, 10, 11, 12, 17, 28],
                186 => &[4],
                // TOCTOU enter events read user memory at sys_enter, where a page not yet
                // faulted in makes the read fail (hence paths are read at exit): their path
                // and address may legitimately be empty in one run.
                2 | 58 => &[0],
                306 | 326 | 22 => &[1],
                _ => &[],
            };
            let params = e
                .params
                .iter()
                .enumerate()
                .map(|(i, p)| (!volatile.contains(&i)).then(|| p.clone()))
                .collect();
            (e.code, params)
        })
        .collect()
}

#[cfg(all(feature = "libbpf", feature = "aya"))]
#[test]
fn both_backends_decode_identical_streams() {
    if !bpf_available("both_backends_decode_identical_streams") {
        return;
    }
    let (a, _) = capture_cat(EngineKind::ModernEbpf, true);
    let (b, _) = capture_cat(EngineKind::Aya, true);
    // Before the exec the child runs with a copy of the test process's fd table, whose fd
    // numbers depend on what other tests hold open: compare from the successful execve on.
    let from_exec = |v: &[Ev]| -> Vec<Ev> {
        let i = v
            .iter()
            .position(|e| e.code == 293 && i64p(&e.params[0]) == 0)
            .expect("execve");
        v[i..].to_vec()
    };
    let (na, nb) = (normalise(&from_exec(&a)), normalise(&from_exec(&b)));
    let codes = |v: &[(u16, Vec<Option<Vec<u8>>>)]| v.iter().map(|e| e.0).collect::<Vec<_>>();
    assert_eq!(codes(&na), codes(&nb), "event types differ");
    for (x, y) in na.iter().zip(&nb) {
        assert_eq!(x, y, "parameters of event {} differ", x.0);
    }
    assert!(na.len() >= 5);
}

/// Captures every event of the process tree of `sh -c script` (descendants found from the
/// clone exits), decoded with the shared decoder.
fn capture_tree(kind: EngineKind, script: &str) -> Vec<Ev> {
    capture_tree_with(kind, script, LiveConfig::default().toctou_enter)
}

/// [`capture_tree`] with the TOCTOU enter events on or off.
fn capture_tree_with(kind: EngineKind, script: &str, toctou_enter: bool) -> Vec<Ev> {
    let cfg = LiveConfig {
        syscalls: all_syscalls(),
        toctou_enter,
        ..LiveConfig::default()
    };
    let mut drv = open_live(kind, &cfg).unwrap_or_else(|e| panic!("open {kind:?}: {e}"));
    drv.start()
        .unwrap_or_else(|e| panic!("start {kind:?}: {e}"));
    let _ = drv.next_batch(Duration::from_millis(5), &mut |_| {});
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .spawn()
        .expect("spawn sh");
    let root = child.id() as u64;
    let status = child.wait().expect("wait sh");
    assert!(status.success(), "workload failed: {script}");
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        drv.next_batch(Duration::from_millis(50), &mut |e| {
            let ev =
                crate::event::Event::decode(e.data).expect("the shared decoder reads live records");
            let params = (0..ev.nparams())
                .map(|i| ev.param(i).unwrap_or_default().to_vec())
                .collect();
            all.push(Ev {
                tid: ev.tid(),
                code: ev.event_type(),
                params,
            });
        })
        .expect("next_batch");
    }
    drv.stop();
    let mut tree: BTreeSet<u64> = [root].into();
    loop {
        let before = tree.len();
        for e in &all {
            if matches!(e.code, 223 | 225 | 227 | 335) && tree.contains(&e.tid) {
                let res = i64p(&e.params[0]);
                if res > 0 {
                    tree.insert(res as u64);
                }
            }
        }
        if tree.len() == before {
            break;
        }
    }
    all.into_iter().filter(|e| tree.contains(&e.tid)).collect()
}

fn name_of(code: u16) -> &'static str {
    crate::event::table::by_code(code)
        .map(|i| i.name)
        .unwrap_or("?")
}

fn zoo(kind: EngineKind) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let script = format!(
        "set -e; cd {d}; mkdir sub; : > sub/f; chmod 640 sub/f; ln -s sub/f l; mv l l2; \
         ln sub/f hard; rm l2 hard; rm -r sub; \
         /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); \
         c=socket.socket(); c.connect(s.getsockname()); a,_=s.accept(); \
         print(s.getsockname()[1], file=open(\"port\",\"w\"))'"
    );
    let evs = capture_tree(kind, &script);
    let port: u16 = std::fs::read_to_string(dir.path().join("port"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Every event is a current (non-OLD) table event with the table's parameter count and
    // the fixed sizes of its parameter types (or 0 = empty).
    for e in &evs {
        let info = crate::event::table::by_code(e.code).expect("known code");
        assert!(
            !info.is_old_version() && !info.is_unused(),
            "{kind:?}: {} is not current",
            info.ppme
        );
        assert_eq!(e.params.len(), info.nparams(), "{kind:?}: {}", info.ppme);
        for (p, pi) in e.params.iter().zip(info.params) {
            if let Some(size) = pi.ptype.fixed_size() {
                assert!(
                    p.is_empty() || p.len() == size,
                    "{kind:?}: {}.{} has {} bytes",
                    info.ppme,
                    pi.name,
                    p.len()
                );
            }
        }
    }
    let has = |name: &str, pred: &dyn Fn(&Ev) -> bool| {
        evs.iter()
            .any(|e| name_of(e.code) == name && e.code % 2 == 1 && pred(e))
    };
    let s = |e: &Ev, i: usize| {
        String::from_utf8_lossy(&e.params[i])
            .trim_end_matches('\0')
            .to_string()
    };
    let names: BTreeSet<&str> = evs.iter().map(|e| name_of(e.code)).collect();
    assert!(
        has("mkdir", &|e| s(e, 1) == "sub") || has("mkdirat", &|e| s(e, 2) == "sub"),
        "{kind:?}: mkdir; saw {names:?}"
    );
    assert!(
        has("fchmodat", &|e| s(e, 2) == "sub/f"
            && e.params[3] == 0o640u32.to_le_bytes())
            || has("chmod", &|e| s(e, 1) == "sub/f"),
        "{kind:?}: chmod; saw {names:?}"
    );
    assert!(
        has("symlinkat", &|e| s(e, 1) == "sub/f" && s(e, 3) == "l")
            || has("symlink", &|e| s(e, 1) == "sub/f"),
        "{kind:?}: symlink; saw {names:?}"
    );
    assert!(
        ["rename", "renameat", "renameat2"]
            .iter()
            .any(|n| has(n, &|e| e.params.iter().any(|p| p == b"l2\0"))),
        "{kind:?}: rename; saw {names:?}"
    );
    assert!(
        has("linkat", &|e| s(e, 2) == "sub/f" && s(e, 4) == "hard")
            || has("link", &|e| s(e, 2) == "hard"),
        "{kind:?}: link; saw {names:?}"
    );
    assert!(
        has("unlinkat", &|e| s(e, 2) == "hard") || has("unlink", &|e| s(e, 1) == "hard"),
        "{kind:?}: unlink; saw {names:?}"
    );
    assert!(
        has("unlinkat", &|e| s(e, 2) == "sub"
            && e.params[3] == 0x200u32.to_le_bytes())
            || has("rmdir", &|e| s(e, 1) == "sub"),
        "{kind:?}: rmdir; saw {names:?}"
    );
    // sockets: socket(AF_INET), bind, listen, connect with the tuple, accept4
    assert!(
        has("socket", &|e| i64p(&e.params[0]) >= 0
            && e.params[1] == 2u32.to_le_bytes()),
        "{kind:?}: socket"
    );
    assert!(
        has("listen", &|e| i64p(&e.params[0]) == 0),
        "{kind:?}: listen"
    );
    assert!(
        has("bind", &|e| i64p(&e.params[0]) == 0
            && e.params[1].len() == 7),
        "{kind:?}: bind"
    );
    let connect = evs
        .iter()
        .find(|e| e.code == 23)
        .unwrap_or_else(|| panic!("{kind:?}: connect exit"));
    assert_eq!(i64p(&connect.params[0]), 0);
    let t = &connect.params[1];
    assert_eq!((t.len(), t[0]), (13, 2), "{kind:?}: INET socktuple");
    assert_eq!(&t[1..5], &[127, 0, 0, 1]);
    assert_eq!(
        u16::from_le_bytes([t[11], t[12]]),
        port,
        "{kind:?}: connect dport"
    );
    let addr = &connect.params[3];
    assert_eq!(
        (addr[0], u16::from_le_bytes([addr[5], addr[6]])),
        (2, port),
        "{kind:?}: connect addr"
    );
    let acc = evs
        .iter()
        .find(|e| e.code == 389 || e.code == 247)
        .unwrap_or_else(|| panic!("{kind:?}: accept exit"));
    assert!(i64p(&acc.params[0]) >= 0);
    let at = &acc.params[1];
    // accept's tuple starts with the peer (client) and ends with the local (server) port
    assert_eq!(
        u16::from_le_bytes([at[11], at[12]]),
        port,
        "{kind:?}: accept server port"
    );
    let execs: Vec<(i64, String, String)> = evs
        .iter()
        .filter(|e| e.code == 293)
        .map(|e| (i64p(&e.params[0]), s(e, 1), s(e, 30)))
        .collect();
    assert!(
        execs
            .iter()
            .any(|x| x.0 == 0 && x.1 == "/usr/bin/python3" && x.2 == "/usr/bin/python3"),
        "{kind:?}: execve python3; saw {execs:?}"
    );
    assert!(evs.iter().any(|e| e.code == 186), "{kind:?}: procexit");
}

on_both_backends!(
    libbpf_backend_event_zoo_matches_event_table,
    aya_backend_event_zoo_matches_event_table,
    zoo
);

/// Run by [`unprivileged_open_names_the_missing_capability`] under `setpriv` without capabilities.
#[test]
#[ignore = "run as an unprivileged child by unprivileged_open_names_the_missing_capability"]
fn unprivileged_child_open() {
    for kind in [EngineKind::ModernEbpf, EngineKind::Aya] {
        let Err(e) = open_live(kind, &LiveConfig::default()) else {
            panic!("{kind:?}: opened without privileges");
        };
        println!("{kind:?}: {e}");
        assert!(
            matches!(e, super::DriverError::MissingCapability("CAP_BPF")),
            "{kind:?}: {e}"
        );
    }
}

#[cfg(all(feature = "libbpf", feature = "aya"))]
#[test]
fn unprivileged_open_names_the_missing_capability() {
    if !bpf_available("unprivileged_open_names_the_missing_capability") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // still uid 0 (so the test binary is readable wherever CI cloned the repo), but with an
    // empty bounding set the exec'd child holds no capability at all
    let out = Command::new("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all"])
        .arg(&exe)
        .args([
            "--exact",
            "driver::live_tests::unprivileged_child_open",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .expect("run setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(stdout.contains("missing capability CAP_BPF"), "{stdout}");
}

fn drops_are_counted_per_category(kind: EngineKind) {
    // 1 MiB buffer, never drained while 50k openat+close pairs run: the buffer must overflow
    let cfg = LiveConfig {
        buf_size_preset: 1,
        syscalls: all_syscalls(),
        toctou_enter: true,
        ..LiveConfig::default()
    };
    let mut drv = open_live(kind, &cfg).unwrap_or_else(|e| panic!("open {kind:?}: {e}"));
    drv.start().unwrap();
    for _ in 0..50_000 {
        let f = std::fs::File::open("/etc/hostname").unwrap();
        drop(f);
    }
    let st = drv.stats().unwrap();
    drv.stop();
    let c = st.counters;
    assert!(
        c.n_drops_buffer > 0,
        "{kind:?}: no drops with a 1 MiB undrained buffer"
    );
    let categories = c.n_drops_buffer_clone_fork_enter
        + c.n_drops_buffer_clone_fork_exit
        + c.n_drops_buffer_execve_enter
        + c.n_drops_buffer_execve_exit
        + c.n_drops_buffer_connect_enter
        + c.n_drops_buffer_connect_exit
        + c.n_drops_buffer_open_enter
        + c.n_drops_buffer_open_exit
        + c.n_drops_buffer_dir_file_enter
        + c.n_drops_buffer_dir_file_exit
        + c.n_drops_buffer_other_interest_enter
        + c.n_drops_buffer_other_interest_exit
        + c.n_drops_buffer_close_exit
        + c.n_drops_buffer_proc_exit;
    assert_eq!(
        categories, c.n_drops_buffer,
        "{kind:?}: categories add up to n_drops_buffer"
    );
    assert!(
        c.n_drops_buffer_open_enter > 0 && c.n_drops_buffer_open_exit > 0,
        "{kind:?}: {c:?}"
    );
    assert!(c.n_drops_buffer_close_exit > 0, "{kind:?}: {c:?}");
    assert_eq!(st.n_drops, c.n_drops(), "{kind:?}");
}

on_both_backends!(
    libbpf_backend_counts_drops_per_category,
    aya_backend_counts_drops_per_category,
    drops_are_counted_per_category
);

/// Rule-relevant conversions: ptrace requests, fcntl commands, memfd, finit_module, prctl,
/// dup2, pipe2 and a failed execve, as the libs 0.25.4 helpers encode them.
fn zoo_process(kind: EngineKind) {
    let py = r#"
import ctypes, os, fcntl
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, 0, 0)
    os._exit(0)
os.waitpid(pid, 0)
libc.syscall(313, -1, b"", 0)
fd = os.memfd_create("frs-zoo", 0)
fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
r, w = os.pipe2(os.O_CLOEXEC)
os.dup2(r, 42)
libc.prctl(15, b"frs-zoo-name", 0, 0, 0)
libc.syscall(213, 1)
libc.syscall(284, 5)
libc.syscall(283, 1, 0o4000)
libc.syscall(253)
try:
    os.execv("/nonexistent/frs", ["frs", "-x"])
except OSError:
    pass
exe = os.memfd_create("frs-exe", 0)
os.write(exe, open("/bin/true", "rb").read())
os.execv("/proc/self/fd/%d" % exe, ["frs-memfd"])
"#;
    let script = format!("/usr/bin/python3 -c '{py}'");
    let evs = capture_tree(kind, &script);
    let find =
        |code: u16, pred: &dyn Fn(&Ev) -> bool| evs.iter().find(|e| e.code == code && pred(e));
    // PTRACE_TRACEME -> PPM_PTRACE_TRACEME (1), DYN addr/data with index 0
    let pt = find(169, &|_| true).unwrap_or_else(|| panic!("{kind:?}: ptrace exit"));
    assert_eq!(pt.params[3], 1u16.to_le_bytes(), "{kind:?}: ptrace request");
    assert_eq!(
        (pt.params[1].len(), pt.params[1][0]),
        (9, 0),
        "{kind:?}: ptrace addr DYN"
    );
    let fm = find(413, &|_| true).unwrap_or_else(|| panic!("{kind:?}: finit_module exit"));
    // finit_module(-1, "", 0) fails (EBADF, or ENOSYS on a kernel without modules)
    assert!(
        i64p(&fm.params[0]) < 0 && i64p(&fm.params[1]) == -1,
        "{kind:?}: finit_module"
    );
    assert!(
        find(405, &|e| e.params[1] == b"frs-zoo\0").is_some(),
        "{kind:?}: memfd_create"
    );
    // F_DUPFD_CLOEXEC -> PPM_FCNTL_F_DUPFD_CLOEXEC (26)
    assert!(
        find(151, &|e| e.params[2] == [26]).is_some(),
        "{kind:?}: fcntl cmd"
    );
    // pipe2(O_CLOEXEC) -> PPM_O_CLOEXEC
    assert!(
        find(393, &|e| i64p(&e.params[0]) == 0
            && e.params[4] == (1u32 << 12).to_le_bytes())
        .is_some(),
        "{kind:?}: pipe2"
    );
    assert!(
        find(363, &|e| i64p(&e.params[0]) == 42
            && i64p(&e.params[2]) == 42)
        .is_some(),
        "{kind:?}: dup2"
    );
    assert!(
        find(401, &|e| e.params[1] == 15u32.to_le_bytes()
            && e.params[2] == b"frs-zoo-name\0")
        .is_some(),
        "{kind:?}: prctl PR_SET_NAME"
    );
    // fd-creating syscalls of libsinsp's state set
    assert!(
        find(375, &|e| i64p(&e.params[0]) >= 0
            && e.params[1] == 1u32.to_le_bytes())
        .is_some(),
        "{kind:?}: epoll_create"
    );
    assert!(
        find(63, &|e| i64p(&e.params[0]) >= 0
            && e.params[1] == 5u64.to_le_bytes())
        .is_some(),
        "{kind:?}: eventfd"
    );
    // TFD_NONBLOCK -> PPM_O_NONBLOCK in the helper's u8
    assert!(
        find(137, &|e| i64p(&e.params[0]) >= 0
            && e.params[1] == [1]
            && e.params[2] == [0x40])
        .is_some(),
        "{kind:?}: timerfd_create"
    );
    assert!(
        find(139, &|e| i64p(&e.params[0]) >= 0 && e.params[1] == [0]).is_some(),
        "{kind:?}: inotify_init"
    );
    // a failed execve carries its filename and argv from the syscall arguments
    let fx = find(293, &|e| {
        i64p(&e.params[0]) == -2 && e.params[30] == b"/nonexistent/frs\0"
    })
    .unwrap_or_else(|| panic!("{kind:?}: failed execve"));
    assert_eq!(
        (fx.params[1].as_slice(), fx.params[2].as_slice()),
        (&b"frs\0"[..], &b"-x\0"[..])
    );
    // fileless execution: PPM_EXE_FROM_MEMFD
    let mx = find(293, &|e| {
        i64p(&e.params[0]) == 0 && e.params[1] == b"frs-memfd\0"
    })
    .unwrap_or_else(|| panic!("{kind:?}: memfd execve"));
    let flags = u32::from_le_bytes(mx.params[19][..].try_into().unwrap());
    assert_ne!(flags & 4, 0, "{kind:?}: EXE_FROM_MEMFD in {flags:#x}");
    // a memfd has no path: trusted_exepath is the dentry name, as libs reports it
    assert_eq!(mx.params[27], b"memfd:frs-exe\0", "{kind:?}: memfd exepath");
}

on_both_backends!(
    libbpf_backend_encodes_process_events_like_libs,
    aya_backend_encodes_process_events_like_libs,
    zoo_process
);

/// Live events feed the shared state engine: seeded from /proc, then `sh -c 'cd /tmp && cat
/// /etc/hostname'` must show up with its cwd, parent, command line and the opened fd's name.
fn live_events_drive_state(kind: EngineKind) {
    let (mut drv, mut state) = open_with_state(kind);
    drv.start().unwrap();
    let mut child = Command::new("/bin/sh")
        .args(["-c", "cd /tmp && /bin/cat /etc/hostname"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sh");
    let sh = child.id() as i64;
    child.wait().unwrap();
    let mut seen = None;
    // every event of the machine goes through the (debug-built) state: a loaded machine
    // needs more than a few seconds to reach the child's
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.is_none() && Instant::now() < deadline {
        drv.next_batch(Duration::from_millis(50), &mut |e| {
            let ev = crate::event::Event::decode(e.data).expect("decode");
            state.process(&ev);
            if ev.event_type() == 307 && ev.param(2) == Some(&b"/etc/hostname\0"[..]) {
                let tid = ev.tid() as i64;
                let t = state.threads.get(tid).expect("cat thread in the state");
                let fd = state.event_fd(tid).map(|f| f.name.clone());
                let mut cmdline = Vec::new();
                t.cmdline(&mut cmdline);
                seen = Some((t.comm.clone(), t.cwd.clone(), t.ptid, cmdline, fd));
            }
        })
        .unwrap();
    }
    drv.stop();
    let (comm, cwd, ptid, cmdline, fd) =
        seen.unwrap_or_else(|| panic!("{kind:?}: no openat of /etc/hostname"));
    assert_eq!(comm, b"cat");
    assert_eq!(cwd, b"/tmp/", "{kind:?}: cwd from the chdir event");
    // dash execs the last command in place; bash forks first
    assert!(
        ptid == sh || ptid == nix::unistd::gettid().as_raw() as i64,
        "{kind:?}: ptid {ptid}"
    );
    assert_eq!(cmdline, b"cat /etc/hostname");
    assert_eq!(fd.as_deref(), Some(&b"/etc/hostname"[..]));
}

on_both_backends!(
    libbpf_backend_events_drive_state,
    aya_backend_events_drive_state,
    live_events_drive_state
);

/// procexit's reaper_tid follows the kernel's choice: a parent that exits with a live child
/// under a PR_SET_CHILD_SUBREAPER ancestor names that ancestor.
fn reaper_is_the_subreaper(kind: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pids");
    let py = format!(
        r#"
import ctypes, os, time
libc = ctypes.CDLL(None)
libc.prctl(36, 1, 0, 0, 0)
m = os.getpid()
p = os.fork()
if p == 0:
    if os.fork() == 0:
        time.sleep(0.3)
        os._exit(0)
    os._exit(0)
os.waitpid(p, 0)
os.wait()
open("{}", "w").write("%d %d" % (m, p))
"#,
        out.display()
    );
    let evs = capture_tree(kind, &format!("/usr/bin/python3 -c '{py}'"));
    let pids = std::fs::read_to_string(&out).unwrap();
    let (m, p) = pids.split_once(' ').unwrap();
    let (m, p): (i64, u64) = (m.parse().unwrap(), p.parse().unwrap());
    let exit = evs
        .iter()
        .find(|e| e.code == 186 && e.tid == p)
        .unwrap_or_else(|| panic!("{kind:?}: no procexit of {p}"));
    assert_eq!(i64p(&exit.params[4]), m, "{kind:?}: reaper_tid");
}

on_both_backends!(
    libbpf_backend_reports_the_reaper,
    aya_backend_reports_the_reaper,
    reaper_is_the_subreaper
);

/// openat enter and exit of a file created with O_CREAT|O_EXCL, mode 0640, then opened again:
/// flags as libs' open_flags_to_scap with PPM_O_F_CREATED only on the creating exit, the mode
/// only with O_CREAT, dev (new_encode_dev, as stat reports it) and ino of the opened file.
fn open_exits_identify_the_file(kind: EngineKind) {
    use std::os::unix::fs::MetadataExt;
    const PPM_O_WRONLY: u32 = 1 << 1;
    const PPM_O_CREAT: u32 = 1 << 2;
    const PPM_O_EXCL: u32 = 1 << 5;
    const PPM_O_F_CREATED: u32 = 1 << 14;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("created");
    let p = path.display();
    let py = format!(
        "import os\nfd = os.open(\"{p}\", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)\n\
         os.close(fd)\nos.close(os.open(\"{p}\", os.O_RDONLY))\n"
    );
    let evs = capture_tree_with(kind, &format!("/usr/bin/python3 -c '{py}'"), true);
    let meta = std::fs::metadata(&path).expect("created file");
    let name = format!("{p}\0").into_bytes();
    let u32p = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4-byte parameter"));
    let exits: Vec<&Ev> = evs
        .iter()
        .filter(|e| e.code == 307 && e.params[2] == name)
        .collect();
    assert_eq!(exits.len(), 2, "{kind:?}: openat exits of {p}");
    let (created, reopened) = (exits[0], exits[1]);
    let flags = u32p(&created.params[3]);
    assert_eq!(flags & 3, PPM_O_WRONLY, "{kind:?}: access mode");
    let want = PPM_O_CREAT | PPM_O_EXCL | PPM_O_F_CREATED;
    assert_eq!(
        flags & want,
        want,
        "{kind:?}: creating exit flags {flags:#x}"
    );
    assert_eq!(u32p(&created.params[4]), 0o640, "{kind:?}: mode");
    assert_eq!(
        u32p(&reopened.params[3]) & (PPM_O_CREAT | PPM_O_F_CREATED),
        0,
        "{kind:?}: reopening exit flags"
    );
    assert_eq!(
        u32p(&reopened.params[4]),
        0,
        "{kind:?}: mode without O_CREAT"
    );
    for e in [created, reopened] {
        assert!(i64p(&e.params[0]) >= 0, "{kind:?}: res");
        assert_eq!(i64p(&e.params[1]), -100, "{kind:?}: dirfd AT_FDCWD");
        assert_eq!(u32p(&e.params[5]) as u64, meta.dev(), "{kind:?}: dev");
        assert_eq!(
            u64::from_le_bytes(e.params[6][..].try_into().unwrap()),
            meta.ino(),
            "{kind:?}: ino"
        );
    }
    // the TOCTOU enter event of the creating open: same name, flags without F_CREATED, mode
    let enter = evs
        .iter()
        .find(|e| e.code == 306 && e.params[1] == name)
        .unwrap_or_else(|| panic!("{kind:?}: no openat enter of {p}"));
    assert_eq!(i64p(&enter.params[0]), -100, "{kind:?}: enter dirfd");
    assert_eq!(
        u32p(&enter.params[2]),
        flags & !PPM_O_F_CREATED,
        "{kind:?}: enter flags"
    );
    assert_eq!(u32p(&enter.params[3]), 0o640, "{kind:?}: enter mode");
    // each exit's fd is closed by a close exit naming it
    for e in [created, reopened] {
        let fd = i64p(&e.params[0]);
        assert!(
            evs.iter()
                .any(|c| c.code == 5 && i64p(&c.params[1]) == fd && i64p(&c.params[0]) == 0),
            "{kind:?}: no close of fd {fd}"
        );
    }
}

on_both_backends!(
    libbpf_backend_open_exits_identify_the_file,
    aya_backend_open_exits_identify_the_file,
    open_exits_identify_the_file
);

/// An IPv4 socket tuple parameter: (source ip, source port, destination ip, destination port).
fn inet_tuple(p: &[u8]) -> (std::net::Ipv4Addr, u16, std::net::Ipv4Addr, u16) {
    assert_eq!((p.len(), p[0]), (13, 2), "PPM_AF_INET tuple: {p:?}");
    let ip = |b: &[u8]| std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    let port = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]);
    (
        ip(&p[1..5]),
        port(&p[5..7]),
        ip(&p[7..11]),
        port(&p[11..13]),
    )
}

/// Unconnected UDP sendto/sendmsg/recvfrom/recvmsg and an SCM_RIGHTS recvmsg, as libs 0.25.4
/// fills them: the remote end from the address argument or msg_name (outbound tuples local
/// first, inbound remote first), sendmsg data and size from its iovecs, recvmsg data up to res
/// and its control data.
fn udp_messages_carry_addresses_and_data(kind: EngineKind) {
    let py = "import socket, os\n\
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
r.bind((\"127.0.0.1\", 0))\n\
port = r.getsockname()[1]\n\
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
s.sendto(b\"frs-sendto\", (\"127.0.0.1\", port))\n\
s.sendmsg([b\"frs-\", b\"sendmsg\"], [], 0, (\"127.0.0.1\", port))\n\
r.recvfrom(100)\n\
r.recvmsg(100)\n\
a, b = socket.socketpair()\n\
a.sendmsg([b\"x\"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, r.fileno().to_bytes(4, \"little\"))])\n\
b.recvmsg(10, 64)\n";
    let evs = capture_tree(kind, &format!("/usr/bin/python3 -c '{py}'"));
    let find = |code: u16| evs.iter().filter(|e| e.code == code).collect::<Vec<&Ev>>();
    let lo = std::net::Ipv4Addr::LOCALHOST;
    // sendto (31): res, data, fd, size, tuple
    let st = find(31);
    let st = st
        .iter()
        .find(|e| e.params[1] == b"frs-sendto")
        .unwrap_or_else(|| panic!("{kind:?}: sendto exit; saw {st:?}"));
    // the sender is not bound: its local address is 0.0.0.0 (the socket's, as libs reads it)
    let any = std::net::Ipv4Addr::UNSPECIFIED;
    let (sip, sport, dip, port) = inet_tuple(&st.params[4]);
    assert_eq!((sip, dip), (any, lo), "{kind:?}: sendto tuple addresses");
    assert!(sport != 0 && port != 0, "{kind:?}: sendto tuple ports");
    // sendmsg (49): res, data, fd, size, tuple
    let sm = find(49);
    let sm = sm
        .iter()
        .find(|e| i64p(&e.params[0]) == 11)
        .unwrap_or_else(|| panic!("{kind:?}: sendmsg exit; saw {sm:?}"));
    assert_eq!(sm.params[1], b"frs-sendmsg", "{kind:?}: sendmsg data");
    assert_eq!(sm.params[3], 11u32.to_le_bytes(), "{kind:?}: sendmsg size");
    assert_eq!(
        inet_tuple(&sm.params[4]),
        (any, sport, lo, port),
        "{kind:?}: sendmsg tuple from msg_name"
    );
    // recvfrom (35): res, data, tuple (sender first), fd, size
    let rf = find(35);
    let rf = rf
        .iter()
        .find(|e| e.params[1] == b"frs-sendto")
        .unwrap_or_else(|| panic!("{kind:?}: recvfrom exit; saw {rf:?}"));
    assert_eq!(
        inet_tuple(&rf.params[2]),
        (lo, sport, lo, port),
        "{kind:?}: recvfrom tuple"
    );
    // recvmsg (53): res, size, data, tuple (sender first), msgcontrol, fd
    let rms = find(53);
    let rm = rms
        .iter()
        .find(|e| e.params[2] == b"frs-sendmsg")
        .unwrap_or_else(|| panic!("{kind:?}: recvmsg exit; saw {rms:?}"));
    assert_eq!(rm.params[1], 11u32.to_le_bytes(), "{kind:?}: recvmsg size");
    assert_eq!(
        inet_tuple(&rm.params[3]),
        (lo, sport, lo, port),
        "{kind:?}: recvmsg tuple"
    );
    assert!(rm.params[4].is_empty(), "{kind:?}: no control data");
    // the SCM_RIGHTS recvmsg: control data is a SOL_SOCKET (1) / SCM_RIGHTS (1) cmsghdr
    let cm = rms
        .iter()
        .find(|e| e.params[2] == b"x")
        .unwrap_or_else(|| panic!("{kind:?}: SCM_RIGHTS recvmsg exit; saw {rms:?}"));
    let c = &cm.params[4];
    assert!(c.len() >= 20, "{kind:?}: msgcontrol {c:?}");
    assert_eq!(
        (
            u32::from_le_bytes(c[8..12].try_into().unwrap()),
            u32::from_le_bytes(c[12..16].try_into().unwrap())
        ),
        (1, 1),
        "{kind:?}: cmsg level and type"
    );
}

on_both_backends!(
    libbpf_backend_udp_messages_carry_addresses_and_data,
    aya_backend_udp_messages_carry_addresses_and_data,
    udp_messages_carry_addresses_and_data
);

/// AF_UNIX tuples in libs 0.25.4's order (`auxmap__store_socktuple_param`): outbound (connect,
/// sendto) the peer's socket, then ours, with the peer's path, or the destination's when the
/// socket is unconnected (an abstract name without its leading NUL); inbound (accept) ours,
/// then the peer's, with our path. So a connect and the accept it pairs with carry the same
/// two pointers in the same order.
fn unix_tuples_as_libs(kind: EngineKind) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("srv.sock");
    let p = path.display();
    let py = format!(
        "import socket\n\
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
l.bind(\"{p}\")\n\
l.listen(1)\n\
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
c.connect(\"{p}\")\n\
a, _ = l.accept()\n\
r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
r.bind(\"\\0frs-abstract\")\n\
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
s.sendto(b\"frs-unix\", \"\\0frs-abstract\")\n"
    );
    let evs = capture_tree(kind, &format!("/usr/bin/python3 -c '{py}'"));
    // the AF_UNIX `tuple` parameters of the exits named `names`
    let tuples = |names: &[&str]| -> Vec<(u64, u64, Vec<u8>)> {
        evs.iter()
            .filter_map(|e| {
                let info = crate::event::table::by_code(e.code)?;
                if !names.contains(&info.name) || e.code.is_multiple_of(2) {
                    return None;
                }
                let t = &e.params[info.param_index("tuple")?];
                (t.len() >= 17 && t[0] == 1).then(|| {
                    (
                        u64::from_le_bytes(t[1..9].try_into().unwrap()),
                        u64::from_le_bytes(t[9..17].try_into().unwrap()),
                        t[17..].to_vec(),
                    )
                })
            })
            .collect()
    };
    let name = format!("{p}\0").into_bytes();
    let conn = tuples(&["connect"]);
    assert_eq!(conn.len(), 1, "{kind:?}: AF_UNIX connect exits {conn:?}");
    let acc = tuples(&["accept", "accept4"]);
    assert_eq!(acc.len(), 1, "{kind:?}: AF_UNIX accept exits {acc:?}");
    let (c_first, c_second, c_path) = &conn[0];
    let (a_first, a_second, a_path) = &acc[0];
    assert!(
        *c_first != 0 && *c_second != 0,
        "{kind:?}: connect tuple {conn:?}"
    );
    assert_eq!(
        (c_first, c_second),
        (a_first, a_second),
        "{kind:?}: connect (peer, local) = accept (local, peer)"
    );
    assert_eq!(c_path, &name, "{kind:?}: connect path (the peer's)");
    assert_eq!(a_path, &name, "{kind:?}: accept path (ours)");
    let sent = tuples(&["sendto"]);
    assert_eq!(sent.len(), 1, "{kind:?}: AF_UNIX sendto exits {sent:?}");
    let (s_first, s_second, s_path) = &sent[0];
    assert_eq!(*s_first, 0, "{kind:?}: unconnected: no peer socket");
    assert!(*s_second != 0, "{kind:?}: the sender's socket");
    assert_eq!(
        s_path, b"frs-abstract\0",
        "{kind:?}: the destination's abstract name"
    );
}

on_both_backends!(
    libbpf_backend_unix_tuples_as_libs,
    aya_backend_unix_tuples_as_libs,
    unix_tuples_as_libs
);

/// An fd received through SCM_RIGHTS lands in the receiver's fd table, read from /proc while
/// the receiver is alive (libsinsp's `process_recvmsg_ancillary_data` + `scap_get_fdinfo`).
fn scm_rights_fds_reach_the_state(kind: EngineKind) {
    use std::io::BufRead;
    let (mut drv, mut state) = open_with_state(kind);
    state.proc_root = Some(std::path::PathBuf::from("/proc"));
    drv.start().unwrap();
    let py = "import socket, sys\n\
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
f = open(\"/etc/hostname\")\n\
a.sendmsg([b\"x\"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, f.fileno().to_bytes(4, \"little\"))])\n\
m, anc, fl, ad = b.recvmsg(10, 64)\n\
print(int.from_bytes(anc[0][2][:4], \"little\"), flush=True)\n\
sys.stdin.read()\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", py])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let pid = i64::from(child.id());
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let received: i64 = line.trim().parse().expect("received fd number");
    let mut seen = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.is_none() && Instant::now() < deadline {
        drv.next_batch(Duration::from_millis(50), &mut |e| {
            let ev = crate::event::Event::decode(e.data).expect("decode");
            state.process(&ev);
            if ev.event_type() == 53
                && ev.tid() as i64 == pid
                && ev.param(4).is_some_and(|c| !c.is_empty())
            {
                seen = Some(
                    state
                        .threads
                        .fd_table_mut(pid)
                        .and_then(|t| t.get_mut(received))
                        .map(|f| (f.ty, f.name.clone())),
                );
            }
        })
        .unwrap();
    }
    drv.stop();
    drop(child.stdin.take());
    child.wait().unwrap();
    let fd = seen.unwrap_or_else(|| panic!("{kind:?}: no SCM_RIGHTS recvmsg exit of {pid}"));
    assert_eq!(
        fd,
        Some((crate::state::FdType::FileV2, b"/etc/hostname".to_vec())),
        "{kind:?}: received fd {received}"
    );
}

on_both_backends!(
    libbpf_backend_scm_rights_fds_reach_the_state,
    aya_backend_scm_rights_fds_reach_the_state,
    scm_rights_fds_reach_the_state
);

/// getsockopt exits as libs 0.25.4's getsockopt_x fills them: SOL_SOCKET (scap level 1),
/// SO_ERROR (scap 4) as a negative errno behind PPM_SOCKOPT_IDX_ERRNO, SO_TYPE (3) as a u32
/// behind PPM_SOCKOPT_IDX_UINT32, another level's value as raw bytes behind IDX_UNKNOWN.
fn getsockopt_values_as_libs(kind: EngineKind) {
    let py = "import socket, time\n\
l = socket.socket(); l.bind((\"127.0.0.1\", 0)); port = l.getsockname()[1]; l.close()\n\
s = socket.socket(); s.setblocking(False)\n\
try:\n    s.connect((\"127.0.0.1\", port))\nexcept BlockingIOError:\n    pass\n\
time.sleep(0.1)\n\
s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)\n\
s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)\n\
s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)\n";
    let evs = capture_tree(kind, &format!("/usr/bin/python3 -c '{py}'"));
    let gs: Vec<&Ev> = evs.iter().filter(|e| e.code == 47).collect();
    assert_eq!(gs.len(), 3, "{kind:?}: getsockopt exits; saw {gs:?}");
    for g in &gs {
        assert_eq!(g.params.len(), 6, "{kind:?}: getsockopt params");
        assert_eq!(i64p(&g.params[0]), 0, "{kind:?}: res");
    }
    let (err, ty, tcp) = (gs[0], gs[1], gs[2]);
    assert_eq!(
        (err.params[2][0], err.params[3][0]),
        (1, 4),
        "{kind:?}: level, SO_ERROR"
    );
    let mut expected = vec![1u8];
    expected.extend_from_slice(&(-111i64).to_le_bytes()); // ECONNREFUSED
    assert_eq!(err.params[4], expected, "{kind:?}: SO_ERROR val");
    assert_eq!(err.params[5], 4u32.to_le_bytes(), "{kind:?}: optlen");
    assert_eq!(
        (ty.params[2][0], ty.params[3][0]),
        (1, 3),
        "{kind:?}: SO_TYPE"
    );
    assert_eq!(
        ty.params[4],
        [2, 1, 0, 0, 0],
        "{kind:?}: SO_TYPE val (SOCK_STREAM)"
    );
    assert_eq!(
        (tcp.params[2][0], tcp.params[3][0]),
        (2, 0),
        "{kind:?}: SOL_TCP (6) is scap level 2"
    );
    assert_eq!(tcp.params[4], [0, 0, 0, 0, 0], "{kind:?}: TCP_NODELAY raw");
}

on_both_backends!(
    libbpf_backend_getsockopt_values_as_libs,
    aya_backend_getsockopt_values_as_libs,
    getsockopt_values_as_libs
);

/// io_uring_setup / io_uring_enter / io_uring_register exits as libs 0.25.4's modern probe
/// fills them: the params the kernel wrote back (flags and features in scap bits), enter's
/// flags and sig, register's opcode, arg pointer and nr_args.
fn io_uring_exits_as_libs(kind: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ring");
    let py = format!(
        r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
p = (ctypes.c_uint32 * 30)()
fd = libc.syscall(L(425), L(4), p)
libc.syscall(L(426), L(fd), L(0), L(0), L(1), L(0), L(0))
libc.syscall(L(427), L(fd), L(1), L(0x1234), L(0))
os.close(fd)
open("{}", "w").write("%d %d %d %d" % (fd, p[0], p[1], p[5]))
"#,
        out.display()
    );
    let evs = capture_tree(kind, &format!("/usr/bin/python3 -c '{py}'"));
    let vals: Vec<i64> = std::fs::read_to_string(&out)
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let (fd, sq, cq, feats) = (vals[0], vals[1] as u32, vals[2] as u32, vals[3] as u32);
    assert!(fd >= 0, "{kind:?}: io_uring_setup failed");
    let one = |code: u16| {
        evs.iter()
            .find(|e| e.code == code)
            .unwrap_or_else(|| panic!("{kind:?}: no event {code}"))
    };
    let setup = one(339);
    assert_eq!(i64p(&setup.params[0]), fd, "{kind:?}: setup res");
    assert_eq!(setup.params[1], 4u32.to_le_bytes(), "{kind:?}: entries");
    assert_eq!(setup.params[2], sq.to_le_bytes(), "{kind:?}: sq_entries");
    assert_eq!(setup.params[3], cq.to_le_bytes(), "{kind:?}: cq_entries");
    assert_eq!(setup.params[4], 0u32.to_le_bytes(), "{kind:?}: flags");
    // The modern probe's definitions lack IORING_FEAT_ENTER_EXT_ARG (bit 8).
    assert_eq!(
        setup.params[7],
        (feats & 0x6ff).to_le_bytes(),
        "{kind:?}: features"
    );
    let enter = one(341);
    assert_eq!(i64p(&enter.params[1]), fd, "{kind:?}: enter fd");
    assert_eq!(
        enter.params[4],
        1u32.to_le_bytes(),
        "{kind:?}: IORING_ENTER_GETEVENTS"
    );
    assert_eq!(enter.params[5], 0u32.to_le_bytes(), "{kind:?}: sig");
    let reg = one(343);
    assert!(
        i64p(&reg.params[0]) < 0,
        "{kind:?}: unregistering nothing fails"
    );
    assert_eq!(i64p(&reg.params[1]), fd, "{kind:?}: register fd");
    assert_eq!(reg.params[2], 1u16.to_le_bytes(), "{kind:?}: opcode");
    assert_eq!(reg.params[3], 0x1234u64.to_le_bytes(), "{kind:?}: arg");
    assert_eq!(reg.params[4], 0u32.to_le_bytes(), "{kind:?}: nr_args");
}

on_both_backends!(
    libbpf_backend_io_uring_exits_as_libs,
    aya_backend_io_uring_exits_as_libs,
    io_uring_exits_as_libs
);

fn stop_detaches_the_probe(kind: EngineKind) {
    let cfg = LiveConfig {
        syscalls: all_syscalls(),
        ..LiveConfig::default()
    };
    let mut drv = open_live(kind, &cfg).unwrap_or_else(|e| panic!("open {kind:?}: {e}"));
    drv.start().unwrap();
    let open_close = || {
        for _ in 0..1_000 {
            drop(std::fs::File::open("/etc/hostname").unwrap());
        }
    };
    open_close();
    let attached = drv.stats().unwrap().n_evts;
    assert!(
        attached >= 2_000,
        "{kind:?}: {attached} events while attached"
    );
    drv.stop();
    // a program already running on another CPU may still count its event
    std::thread::sleep(Duration::from_millis(50));
    let stopped = drv.stats().unwrap().n_evts;
    open_close();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        drv.stats().unwrap().n_evts,
        stopped,
        "{kind:?}: events counted after stop"
    );
    if kind == EngineKind::Aya {
        // the loaded object was released at start: the counters stay readable, a restart fails
        let again = drv.start().map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            again,
            Err(
                "unable to open the eBPF probe: the probe was released when the driver \
                 stopped; open it again"
                    .to_string()
            )
        );
    }
}

on_both_backends!(
    libbpf_backend_stop_detaches_the_probe,
    aya_backend_stop_detaches_the_probe,
    stop_detaches_the_probe
);
