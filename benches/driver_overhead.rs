//! Added cost per syscall of the live drivers: getpid (captured by no rule: the probe only
//! looks it up) and openat+close (captured) loops, without a driver and with each backend
//! attached and drained by a consumer thread, against Falco 0.44.1's figures in
//! ../shared/bench/README.md (+28 ns per getpid, +582 ns per openat+close pair).
//!
//! Each backend runs twice: as configured by default, and with the TOCTOU enter events
//! (`FALCO_RS_TOCTOU_MITIGATION=true`). The baseline is measured right before and right after
//! each attached run and averaged, so drift of the machine between runs does not count.
//!
//! Run as root: `cargo bench --bench driver_overhead` (FRS_BENCH_ITERS: loop count;
//! FRS_BENCH_PROG_STATS=1 with
//! `sysctl kernel.bpf_stats_enabled=1`: per-program run time; FRS_BENCH_HOLD_SECS: keep each
//! driver attached that long for an external workload).

mod support;

use support::{best_of, getpid_loop, open_close_loop};

use support::falco::{GETPID_NS, OPEN_CLOSE_NS};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use falco_rs::driver::{EngineKind, LiveConfig, open_live};

struct Running {
    stop: Arc<AtomicBool>,
    events: Arc<AtomicU64>,
    handle: std::thread::JoinHandle<(u64, u64)>,
}

/// Opens and starts the driver on a consumer thread that drains until stopped.
fn run_driver(kind: EngineKind, toctou_enter: bool) -> Option<Running> {
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel();
    let (s, e) = (Arc::clone(&stop), Arc::clone(&events));
    let handle = std::thread::spawn(move || {
        let cfg = LiveConfig {
            toctou_enter,
            ..LiveConfig::default()
        };
        let mut drv = match open_live(kind, &cfg).and_then(|mut d| {
            d.start()?;
            Ok(d)
        }) {
            Ok(d) => d,
            Err(err) => {
                let _ = tx.send(Err(err.to_string()));
                return (0, 0);
            }
        };
        let _ = tx.send(Ok(()));
        while !s.load(Ordering::Relaxed) {
            let mut n = 0u64;
            let _ = drv.next_batch(Duration::from_millis(20), &mut |_| n += 1);
            e.fetch_add(n, Ordering::Relaxed);
        }
        let st = drv.stats().unwrap_or_default();
        (st.n_evts, st.n_drops)
    });
    match rx.recv() {
        Ok(Ok(())) => Some(Running {
            stop,
            events,
            handle,
        }),
        Ok(Err(msg)) => {
            eprintln!("{kind:?}: cannot start: {msg}");
            None
        }
        Err(_) => None,
    }
}

fn main() {
    let n: u64 = std::env::var("FRS_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let baseline = || (best_of(getpid_loop, n), best_of(open_close_loop, n / 4));
    for (toctou_enter, label) in [
        (LiveConfig::default().toctou_enter, "default"),
        (true, "TOCTOU enter events on"),
    ] {
        for kind in [EngineKind::ModernEbpf, EngineKind::Aya] {
            let (g0, o0) = baseline();
            let Some(r) = run_driver(kind, toctou_enter) else {
                continue;
            };
            if let Some(secs) = std::env::var("FRS_BENCH_HOLD_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                // keep the driver attached for an external workload
                println!("{kind:?}: attached for {secs} s");
                std::thread::sleep(Duration::from_secs(secs));
            }
            let g = best_of(getpid_loop, n);
            let o = best_of(open_close_loop, n / 4);
            if std::env::var_os("FRS_BENCH_PROG_STATS").is_some() {
                // with `sysctl kernel.bpf_stats_enabled=1`: per-program run time and count
                if let Ok(out) = std::process::Command::new("bpftool")
                    .args(["prog", "show"])
                    .output()
                {
                    for line in String::from_utf8_lossy(&out.stdout).lines() {
                        if line.contains("frs_") {
                            println!("  {}", line.trim());
                        }
                    }
                }
            }
            r.stop.store(true, Ordering::Relaxed);
            let (kernel_evts, drops) = r.handle.join().unwrap_or((0, 0));
            let (g1, o1) = baseline();
            let (bg, bo) = ((g0 + g1) / 2.0, (o0 + o1) / 2.0);
            let (dg, doc) = (g - bg, o - bo);
            println!(
                "{kind:?} ({label}): getpid {bg:.0} -> {g:.0} ns (+{dg:.0} ns, Falco +{GETPID_NS:.0} ns, ratio {:.2}); \
                 openat+close {bo:.0} -> {o:.0} ns (+{doc:.0} ns, Falco +{OPEN_CLOSE_NS:.0} ns, ratio {:.2}); \
                 {} events drained, {kernel_evts} in kernel, {drops} drops",
                dg / GETPID_NS,
                doc / OPEN_CLOSE_NS,
                r.events.load(Ordering::Relaxed),
            );
        }
    }
}
