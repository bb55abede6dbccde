//! Replay benchmark (`cargo bench --bench replay`): loops the 16 public traces through the
//! pipeline until at least 1M events have been processed, with the upstream stable rules and
//! with all three rule files, and prints events/s, peak RSS and rules-load time next to
//! Falco 0.44.1's figures of `shared/bench/README.md`.
//!
//! The traces are decompressed into memory first, so the figure is the pipeline's (reading,
//! conversion, decoding, state, rules, alert formatting), not gzip's. Each pass over a trace
//! starts from fresh state seeded from its metadata, as a new capture section does.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use falco_rs::capture::CaptureReader;
use falco_rs::driver::replay::{ReplayDriver, ReplayItem};
use falco_rs::engine::{Matching, Ruleset};
use falco_rs::output::Format;
use falco_rs::pipeline::{Settings, Worker};
use falco_rs::rules::{ExtraOutput, LoadOptions, PluginVersion};

/// Falco 0.44.1 on this machine kind (`shared/bench/README.md`).
const FALCO_STABLE_EVPS: f64 = 852_000.0;
const FALCO_ALL_EVPS: f64 = 238_000.0;
const FALCO_STABLE_RSS_MIB: f64 = 25.0;
const FALCO_ALL_RSS_MIB: f64 = 31.0;
const FALCO_LOAD_STABLE_MS: f64 = 38.0;
const FALCO_LOAD_ALL_MS: f64 = 123.0;

const MIN_EVENTS: u64 = 1_000_000;

fn shared_dir() -> PathBuf {
    if let Ok(p) = std::env::var("FALCO_RS_SHARED") {
        return PathBuf::from(p);
    }
    let sibling = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.exists() {
        sibling
    } else {
        PathBuf::from("/work/shared")
    }
}

fn traces(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("traces directory")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            traces(&p, out);
        } else if p.extension().is_some_and(|e| e == "scap") {
            out.push(p);
        }
    }
}

/// The capture bytes, gunzipped.
fn load_trace(p: &Path) -> Arc<[u8]> {
    use std::io::Read;
    let raw = std::fs::read(p).expect("read trace");
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip trace");
        out.into()
    } else {
        raw.into()
    }
}

fn load_options() -> LoadOptions {
    LoadOptions {
        loaded_plugins: vec![PluginVersion::container()],
        extra_outputs: vec![ExtraOutput::container_suggested()],
        ..LoadOptions::default()
    }
}

/// Loads the rules files; returns the ruleset and the load time.
fn load_rules(files: &[(String, String)]) -> (Ruleset, Duration) {
    let start = Instant::now();
    let (ruleset, results, fatal) = falco_rs::rules::load(files, &load_options());
    let took = start.elapsed();
    if let Some(f) = fatal {
        panic!("rules failed to load: {f}");
    }
    assert!(results.iter().all(|r| r.successful()));
    (ruleset.expect("a ruleset"), took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// VmHWM of this process, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time (user + system) this thread has used.
fn thread_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct Run {
    /// CPU time of the event loop (setup excluded): the figure on one core, whatever else
    /// the machine runs.
    loop_cpu: Duration,
    events: u64,
    alerts: u64,
    bytes: u64,
    wall: Duration,
    /// Opening each trace pass and seeding the state from its metadata (once per capture in
    /// Falco's figure, once per pass here).
    setup: Duration,
    passes: u64,
}

fn replay(ruleset: &Ruleset, captures: &[Arc<[u8]>]) -> Run {
    let settings = Settings {
        matching: Matching::First,
        thread_table_size: 262_144,
        hostname: "bench".into(),
    };
    let format = Format {
        json_output: false,
        json_include_output_property: true,
        json_include_tags_property: true,
        json_include_message_property: false,
        json_include_output_fields_property: true,
        time_format_iso_8601: false,
        hostname: "bench".into(),
    };
    let mut worker = Worker::new(ruleset.clone(), settings);
    let (mut alerts, mut bytes) = (0u64, 0u64);
    let mut emit = |a: falco_rs::output::Alert| {
        alerts += 1;
        bytes += format.alert(&a).len() as u64;
    };
    let start = Instant::now();
    let cpu_start = thread_cpu();
    let mut setup_cpu = Duration::ZERO;
    let mut setup = Duration::ZERO;
    let mut passes = 0u64;
    let mut events = 0u64;
    'outer: loop {
        for bytes in captures {
            let t0 = Instant::now();
            let c0 = thread_cpu();
            let reader =
                CaptureReader::from_reader(Cursor::new(Arc::clone(bytes))).expect("open trace");
            let mut driver = ReplayDriver::from_reader(reader);
            let meta = driver.metadata().clone();
            worker.reset(&meta);
            setup += t0.elapsed();
            setup_cpu += thread_cpu() - c0;
            passes += 1;
            while let Some(item) = driver.next().expect("read trace") {
                match item {
                    ReplayItem::Event(rev) => {
                        worker.process(&rev, &mut emit);
                        events += 1;
                    }
                    ReplayItem::NewSection => {
                        let meta = driver.metadata().clone();
                        worker.reset(&meta);
                    }
                }
            }
            if events >= MIN_EVENTS {
                break 'outer;
            }
        }
    }
    Run {
        loop_cpu: (thread_cpu() - cpu_start).saturating_sub(setup_cpu),
        events,
        alerts,
        bytes,
        wall: start.elapsed(),
        setup,
        passes,
    }
}

fn main() {
    let shared = shared_dir();
    let mut paths = Vec::new();
    traces(&shared.join("upstream/traces"), &mut paths);
    let captures: Vec<Arc<[u8]>> = paths.iter().map(|p| load_trace(p)).collect();
    let read = |name: &str| {
        let p = shared.join("upstream/rules").join(name);
        (
            p.display().to_string(),
            std::fs::read_to_string(&p).expect("rules file"),
        )
    };
    let stable = vec![read("falco_rules.yaml")];
    let all = vec![
        read("falco_rules.yaml"),
        read("falco-incubating_rules.yaml"),
        read("falco-sandbox_rules.yaml"),
    ];

    println!(
        "falco-rs replay benchmark: {} traces, looped to >= {MIN_EVENTS} events",
        captures.len()
    );
    let load_stable = median((0..5).map(|_| load_rules(&stable).1).collect());
    let load_all = median((0..5).map(|_| load_rules(&all).1).collect());
    println!(
        "rules load (median of 5): stable {:.1} ms (Falco {FALCO_LOAD_STABLE_MS} ms, ratio {:.2}), all three {:.1} ms (Falco {FALCO_LOAD_ALL_MS} ms, ratio {:.2}; target <= 25 ms)",
        ms(load_stable),
        ms(load_stable) / FALCO_LOAD_STABLE_MS,
        ms(load_all),
        ms(load_all) / FALCO_LOAD_ALL_MS,
    );

    for (name, files, falco_evps, falco_rss, target) in [
        (
            "stable",
            &stable,
            FALCO_STABLE_EVPS,
            FALCO_STABLE_RSS_MIB,
            2_500_000.0,
        ),
        (
            "all three",
            &all,
            FALCO_ALL_EVPS,
            FALCO_ALL_RSS_MIB,
            715_000.0,
        ),
    ] {
        let (ruleset, _) = load_rules(files);
        let run = replay(&ruleset, &captures);
        let evps = run.events as f64 / (run.wall - run.setup).as_secs_f64();
        let evps_all = run.events as f64 / run.wall.as_secs_f64();
        let rss = peak_rss_mib();
        let evps_cpu = run.events as f64 / run.loop_cpu.as_secs_f64();
        println!(
            "replay, {name} rules, per CPU second of the event loop: {evps_cpu:.0} events/s (Falco {falco_evps:.0}, ratio {:.2}; target {target:.0})",
            evps_cpu / falco_evps
        );
        println!(
            "replay, {name} rules: {} events in {:.3} s ({:.3} s of it opening and seeding {} trace passes) = {:.0} events/s in the event loop, {:.0} events/s overall (Falco {falco_evps:.0}, ratio {:.2}; target {target:.0}); {} alerts ({} bytes); peak RSS so far {rss:.1} MiB (Falco {falco_rss} MiB, ratio {:.2})",
            run.events,
            run.wall.as_secs_f64(),
            run.setup.as_secs_f64(),
            run.passes,
            evps,
            evps_all,
            evps / falco_evps,
            run.alerts,
            run.bytes,
            rss / falco_rss,
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
