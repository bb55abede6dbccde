//! The whole daemon live, against Falco 0.44.1's figures in ../shared/bench/README.md:
//! added cost per getpid and per openat+close pair with `falco` running (stable rules,
//! modern_ebpf), the highest event rate sustained with zero drops (`workload -m open` from
//! ../shared/bench/workload.c, ramped; drops and events from the daemon's /metrics), and VmRSS
//! after 20 s idle with the three upstream rule files.
//!
//! The added cost is printed twice: as configured by default, and with the TOCTOU enter events
//! Falco's libs emit (`FALCO_RS_TOCTOU_MITIGATION=true`).
//!
//! Run as root: `cargo bench --bench daemon_live` (FRS_BENCH_KIND=aya for the aya backend;
//! FRS_BENCH_ITERS: loop count; FRS_BENCH_STEP_SECS: seconds per rate step).

mod support;

use support::falco::{GETPID_NS, IDLE_RSS_ALL_MIB, OPEN_CLOSE_NS, ZERO_DROP_EVPS};
use support::{best_of, getpid_loop, open_close_loop, shared_dir};

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn metrics(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn counter(body: &str, name: &str) -> Option<u64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// (n_evts, n_drops) from the daemon's /metrics.
fn scap_counters(port: u16) -> Option<(u64, u64)> {
    let body = metrics(port)?;
    Some((
        counter(&body, "falcosecurity_scap_n_evts_total")?,
        counter(&body, "falcosecurity_scap_n_drops_total")?,
    ))
}

/// Starts the release `falco` with `rules` (and the TOCTOU enter events when `toctou`) and
/// waits until the probe is attached.
fn start_daemon(kind: &str, rules: &[&str], toctou: bool) -> Daemon {
    let sh = shared_dir();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_falco"));
    if toctou {
        cmd.env("FALCO_RS_TOCTOU_MITIGATION", "true");
    } else {
        cmd.env_remove("FALCO_RS_TOCTOU_MITIGATION");
    }
    cmd.arg("-c")
        .arg(sh.join("upstream/falco-0.44.1/falco.yaml"))
        .args(["-o", "load_plugins[]=container"]);
    for r in rules {
        cmd.arg("-r").arg(sh.join("upstream/rules").join(r));
    }
    cmd.args([
        "-o",
        &format!("engine.kind={kind}"),
        "-o",
        "log_syslog=false",
        "-o",
        "syslog_output.enabled=false",
        "-o",
        "metrics.enabled=true",
        "-o",
        "webserver.prometheus_metrics_enabled=true",
        "-o",
        "webserver.listen_address=127.0.0.1",
        "-o",
        &format!("webserver.listen_port={port}"),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = cmd.spawn().expect("spawn target/release/falco");
    let d = Daemon { child, port };
    let deadline = Instant::now() + Duration::from_secs(120);
    while scap_counters(port).is_none_or(|(e, _)| e == 0) {
        assert!(Instant::now() < deadline, "falco did not start capturing");
        std::thread::sleep(Duration::from_millis(200));
    }
    d
}

fn build_workload(dir: &Path) -> PathBuf {
    let exe = dir.join("workload");
    let st = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(shared_dir().join("bench/workload.c"))
        .status()
        .expect("cc");
    assert!(st.success(), "cc workload.c failed");
    exe
}

/// One `workload -m open` run: its cycle count and wall seconds (from its summary line).
fn run_workload(workload: &Path, cycles_per_s: u64, procs: u32, secs: f64) -> (u64, f64) {
    let out = Command::new(workload)
        .args(["-m", "open", "-e", "0"])
        .args(["-r", &cycles_per_s.to_string()])
        .args(["-p", &procs.to_string()])
        .args(["-s", &secs.to_string()])
        .output()
        .expect("run workload");
    assert!(out.status.success(), "workload failed");
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
    };
    match (field("cycles"), field("secs")) {
        (Some(c), Some(s)) if s > 0.0 => (c as u64, s),
        _ => panic!("unexpected workload output: {line}"),
    }
}

/// Waits until the daemon's drop counter stops moving: two readings 1.5 s apart that are
/// equal (its /metrics are refreshed every second, so drops of an earlier burst still arrive
/// after it ends). Returns the settled (n_evts, n_drops).
fn settle(d: &Daemon) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = scap_counters(d.port).expect("metrics");
    loop {
        std::thread::sleep(Duration::from_millis(1500));
        let now = scap_counters(d.port).expect("metrics");
        if now.1 == last.1 || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Events the daemon counts per `workload -m open` cycle (open + close and whatever the
/// probe adds, e.g. the TOCTOU enter event), measured at a rate far below saturation.
fn events_per_cycle(d: &Daemon, workload: &Path) -> f64 {
    let (e0, _) = settle(d);
    let (cycles, _) = run_workload(workload, 50_000, 1, 2.0);
    let (e1, _) = settle(d);
    (e1 - e0) as f64 / cycles.max(1) as f64
}

/// One ramp step at `target` events/s: (events/s the workload offered, events/s the daemon
/// counted, drops).
fn rate_step(d: &Daemon, workload: &Path, target: f64, epc: f64, secs: f64) -> (f64, f64, u64) {
    let (e0, d0) = settle(d);
    let cycles_per_s = (target / epc).round() as u64;
    let (cycles, wall) = run_workload(workload, cycles_per_s, 2, secs);
    let (e1, d1) = settle(d);
    (cycles as f64 * epc / wall, (e1 - e0) as f64 / wall, d1 - d0)
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("daemon_live: needs root (the probe is loaded for real)");
        return;
    }
    let kind = std::env::var("FRS_BENCH_KIND").unwrap_or_else(|_| "modern_ebpf".into());
    let n: u64 = std::env::var("FRS_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let step_secs: f64 = std::env::var("FRS_BENCH_STEP_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let tmp = std::env::temp_dir().join(format!("frs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let workload = build_workload(&tmp);

    // 1. added cost per call, without and with the daemon (stable rules); the baseline is
    // measured right before and right after the daemon runs and averaged
    let baseline = || (best_of(getpid_loop, n), best_of(open_close_loop, n / 4));
    let added_cost = |toctou: bool, label: &str| {
        let (g0, o0) = baseline();
        let (g, o) = {
            let _d = start_daemon(&kind, &["falco_rules.yaml"], toctou);
            (best_of(getpid_loop, n), best_of(open_close_loop, n / 4))
        };
        let (g1, o1) = baseline();
        let (bg, bo) = ((g0 + g1) / 2.0, (o0 + o1) / 2.0);
        let (dg, doc) = (g - bg, o - bo);
        println!(
            "{kind} daemon, stable rules{label}: getpid {bg:.0} -> {g:.0} ns (+{dg:.0} ns, Falco +{GETPID_NS:.0}, ratio {:.2}); openat+close {bo:.0} -> {o:.0} ns (+{doc:.0} ns, Falco +{OPEN_CLOSE_NS:.0}, ratio {:.2})",
            dg / GETPID_NS,
            doc / OPEN_CLOSE_NS
        );
    };
    added_cost(false, "");
    added_cost(true, ", FALCO_RS_TOCTOU_MITIGATION=true");
    // 2. highest event rate with zero drops: events/s steps of open+close cycles, as
    // configured by default and with the TOCTOU enter events (Falco's event stream: openat
    // enter and exit and close exit, 3 events per cycle, so ~333k cycles/s at its ~1.0M)
    for (toctou, label) in [(false, ""), (true, ", FALCO_RS_TOCTOU_MITIGATION=true")] {
        let d = start_daemon(&kind, &["falco_rules.yaml"], toctou);
        let epc = events_per_cycle(&d, &workload);
        println!("  workload -m open{label}: {epc:.2} events per cycle");
        let (mut best, mut best_step) = (0.0f64, 0.0f64);
        for target in [1.0e6, 1.5e6, 1.8e6, 2.0e6, 2.2e6, 2.5e6, 3.0e6] {
            let (offered, evts, drops) = rate_step(&d, &workload, target, epc, step_secs);
            println!(
                "  step {:.1}M events/s (-r {:.0} -p 2): {:.0}k events/s offered, {:.0}k counted, {drops} drops",
                target / 1e6,
                target / epc,
                offered / 1e3,
                evts / 1e3
            );
            if drops > 0 {
                break;
            }
            best = best.max(evts);
            best_step = target;
        }
        let falco_cycles = ZERO_DROP_EVPS / 3.0;
        println!(
            "{kind} daemon, stable rules{label}: highest rate with zero drops {:.0}k events/s counted in the {:.1}M step (Falco ~{:.0}k, ratio {:.2}) = {:.0}k open+close cycles/s (Falco ~{:.0}k, ratio {:.2})",
            best / 1e3,
            best_step / 1e6,
            ZERO_DROP_EVPS / 1e3,
            best / ZERO_DROP_EVPS,
            best / epc / 1e3,
            falco_cycles / 1e3,
            best / epc / falco_cycles
        );
    }

    // 3. RSS after 20 s idle with all three rule files
    let d = start_daemon(
        &kind,
        &[
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ],
        false,
    );
    std::thread::sleep(Duration::from_secs(20));
    let rss = vm_rss_kib(d.child.id()) as f64 / 1024.0;
    drop(d);
    println!(
        "{kind} daemon, three rule files: VmRSS after 20 s idle {rss:.1} MiB (Falco {IDLE_RSS_ALL_MIB} MiB, ratio {:.2})",
        rss / IDLE_RSS_ALL_MIB
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
