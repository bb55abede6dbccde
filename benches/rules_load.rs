//! Rules-load benchmark (`cargo bench --bench rules_load`): runs the release binary's
//! `--dry-run` with Falco's default falco.yaml and the upstream rule files, as Falco 0.44.1's
//! figure of `shared/bench/README.md` was measured (whole-process wall time, median of runs),
//! and prints the median wall time, peak RSS and the ratios to Falco's figures for the stable
//! file alone and for all three files.
//!
//! `FALCO_RS_BENCH_RUNS` sets the number of runs (default 9); the first run of each set warms
//! the page cache and is not counted.

mod support;

use support::falco::{LOAD_ALL_MS, LOAD_ALL_RSS_MIB, LOAD_STABLE_MS, LOAD_STABLE_RSS_MIB};
use support::shared_dir;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Our target: at most a fifth of Falco's load time.
const TARGET_RATIO: f64 = 5.0;

/// One whole-process run: wall time, CPU time (user + system) and peak RSS in MiB.
fn run_once(args: &[String]) -> (Duration, Duration, f64) {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_falco"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn falco");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 only writes the status and the rusage struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    assert_eq!(rc, pid, "wait4 on the dry run");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "falco --dry-run failed with {args:?} (status {status})"
    );
    // The child was reaped by wait4; dropping the handle neither waits nor kills.
    drop(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    (wall, cpu, ru.ru_maxrss as f64 / 1024.0)
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    v[v.len() / 2]
}

fn main() {
    let shared = shared_dir();
    let runs: usize = std::env::var("FALCO_RS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9)
        .max(1);
    let config = shared.join("upstream/falco-0.44.1/falco.yaml");
    let rules = shared.join("upstream/rules");
    let sets: [(&str, &[&str], f64, f64); 2] = [
        (
            "stable",
            &["falco_rules.yaml"],
            LOAD_STABLE_MS,
            LOAD_STABLE_RSS_MIB,
        ),
        (
            "all three",
            &[
                "falco_rules.yaml",
                "falco-incubating_rules.yaml",
                "falco-sandbox_rules.yaml",
            ],
            LOAD_ALL_MS,
            LOAD_ALL_RSS_MIB,
        ),
    ];
    println!("rules load: `falco --dry-run`, whole process, median of {runs} runs");
    for (name, files, falco_ms, falco_rss) in sets {
        let mut args = vec![
            "-c".to_string(),
            config.display().to_string(),
            "-o".to_string(),
            "load_plugins[]=container".to_string(),
        ];
        for f in files {
            args.push("-r".to_string());
            args.push(rules.join(f).display().to_string());
        }
        args.push("--dry-run".to_string());
        run_once(&args);
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..runs {
            let (wall, cpu, peak) = run_once(&args);
            walls.push(wall);
            cpus.push(cpu);
            rss.push(peak);
        }
        let wall_ms = median(walls).as_secs_f64() * 1e3;
        let cpu_ms = median(cpus).as_secs_f64() * 1e3;
        let rss_mib = median(rss);
        let ratio = falco_ms / wall_ms;
        println!(
            "{name:>10}: {wall_ms:7.2} ms wall, {cpu_ms:7.2} ms CPU (Falco {falco_ms} ms, {ratio:.1}x faster, target >= {TARGET_RATIO}x: {}), \
             peak RSS {rss_mib:.1} MiB (Falco {falco_rss} MiB: {})",
            if ratio >= TARGET_RATIO {
                "met"
            } else {
                "NOT met"
            },
            if rss_mib < falco_rss {
                "below"
            } else {
                "NOT below"
            },
        );
    }
}
