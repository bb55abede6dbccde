//! Replay benchmark (`cargo bench --bench replay`), issue 3: replays a capture of
//! `shared/bench/workload.c -m mix` with the upstream stable rules and with all three rule
//! files, and prints events/s, peak RSS and rules-load time next to Falco 0.44.1's figures of
//! `shared/bench/README.md` (measured on a 4.35M-event capture of the same workload).
//!
//! The capture: `FALCO_RS_BENCH_CAPTURE=<file>` if set; else, as root with BPF, one is
//! recorded at bench start into `target/bench-capture/` (the daemon live with
//! `capture.mode=all_rules`, opened by a trigger rule of its own and kept open for the run,
//! while `workload -m mix` runs; the drop counter must stay 0; with
//! `FALCO_RS_TOCTOU_MITIGATION=true`, so that the capture holds the same event mix as one
//! recorded by Falco, whose live driver emits the open-family enter events); else
//! the 16 public traces are looped. The first line says which was used.
//!
//! Two figures per rule set:
//! - the pipeline in this process, over the capture decompressed into memory (reading,
//!   conversion, decoding, state, rules, alert formatting; not gzip), looped to at least 1M
//!   events, per CPU second of the event loop (the figure on one core);
//! - the daemon itself (`falco -o engine.kind=replay`, as Falco's figure was taken): events
//!   per wall second from its `-v` statistics and its peak RSS (recorded captures only).

mod support;

use support::falco::{
    LOAD_ALL_MS, LOAD_STABLE_MS, REPLAY_ALL_EVPS, REPLAY_ALL_RSS_MIB, REPLAY_STABLE_EVPS,
    REPLAY_STABLE_RSS_MIB,
};
use support::shared_dir;

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

const MIN_EVENTS: u64 = 1_000_000;

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

/// Where the capture the benchmark replays comes from.
enum Source {
    /// A capture file of `workload -m mix` (recorded now, or given).
    Capture { path: PathBuf, how: String },
    /// The public traces, looped.
    Traces(String),
}

fn repo_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn daemon() -> &'static str {
    env!("CARGO_BIN_EXE_falco")
}

/// Root, and a BPF filesystem and kernel BTF (what the modern probe needs).
fn can_trace() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err("no /sys/kernel/btf/vmlinux".into());
    }
    Ok(())
}

/// Builds `shared/bench/workload.c` into `dir`.
fn build_workload(shared: &Path, dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("workload");
    let st = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(shared.join("bench/workload.c"))
        .status()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !st.success() {
        return Err(format!("cc failed: {st}"));
    }
    Ok(out)
}

/// Records `workload -m mix` (as fast as it runs, for `secs` seconds) with the daemon live in
/// `capture.mode=all_rules`; returns the capture and a description with the daemon's counters.
fn record_mix(shared: &Path, secs: u32) -> Result<(PathBuf, String), String> {
    use std::process::{Command, Stdio};
    can_trace()?;
    let dir = repo_target().join("bench-capture");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let workload = build_workload(shared, &dir)?;
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with("mix_") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let prefix = dir.join("mix");
    // Falco's capture opens on a rule match and lasts `capture.default_duration`: a rule of
    // our own, matched by this process opening a trigger file, opens it for the whole run.
    let trigger = dir.join("trigger");
    std::fs::write(&trigger, b"").map_err(|e| format!("{}: {e}", trigger.display()))?;
    let trigger_rules = dir.join("trigger_rules.yaml");
    std::fs::write(
        &trigger_rules,
        format!(
            "- rule: falco-rs replay benchmark capture trigger\n  desc: opens the benchmark's capture\n  \
             condition: evt.type in (open, openat, openat2) and fd.name = {}\n  \
             output: capture trigger (%fd.name)\n  priority: INFO\n",
            trigger.display()
        ),
    )
    .map_err(|e| format!("{}: {e}", trigger_rules.display()))?;
    let log = dir.join("daemon.log");
    let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut child = Command::new(daemon())
        .env("FALCO_RS_TOCTOU_MITIGATION", "true")
        .arg("-c")
        .arg(shared.join("upstream/falco-0.44.1/falco.yaml"))
        .args(["-o", "load_plugins[]=container", "-r"])
        .arg(shared.join("upstream/rules/falco_rules.yaml"))
        .args([
            "-o",
            "engine.kind=modern_ebpf",
            "-o",
            "capture.enabled=true",
            "-o",
            "capture.mode=all_rules",
            "-o",
            "webserver.enabled=false",
            "-r",
        ])
        .arg(&trigger_rules)
        .arg("-o")
        .arg(format!(
            "capture.default_duration={}",
            (u64::from(secs) + 10) * 1000
        ))
        .arg("-o")
        .arg(format!("capture.path_prefix={}", prefix.display()))
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", daemon()))?;
    // The capture file appears once the driver runs.
    let start = Instant::now();
    let capture = loop {
        let found = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("mix_"))
            });
        if let Some(p) = found {
            break p;
        }
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "the daemon did not start capturing: {}",
                tail.trim()
            ));
        }
        let _ = std::fs::File::open(&trigger);
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1));
    let wl = Command::new(&workload)
        .args(["-m", "mix", "-r", "0", "-p", "1", "-e", "4", "-s"])
        .arg(secs.to_string())
        .arg("-d")
        .arg(dir.join("scratch"))
        .output()
        .map_err(|e| format!("cannot run the workload: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: kill with a pid we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait();
    let wl = wl?;
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let counter = |name: &str| {
        log_text
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let (Some(evts), Some(drops)) = (counter("Driver Events:"), counter("Driver Drops:")) else {
        return Err(format!("no driver counters in {}", log.display()));
    };
    if drops != 0 {
        return Err(format!(
            "the recording dropped {drops} of {evts} events (machine too busy)"
        ));
    }
    let summary = String::from_utf8_lossy(&wl.stdout).trim().to_string();
    Ok((
        capture.clone(),
        format!(
            "recorded now: {} ({evts} driver events, 0 drops; {summary})",
            capture.display()
        ),
    ))
}

fn pick_source(shared: &Path) -> Source {
    if let Some(p) = std::env::var_os("FALCO_RS_BENCH_CAPTURE") {
        let path = PathBuf::from(p);
        let how = format!("given: {} (FALCO_RS_BENCH_CAPTURE)", path.display());
        return Source::Capture { path, how };
    }
    match record_mix(shared, 20) {
        Ok((path, how)) => Source::Capture { path, how },
        Err(why) => Source::Traces(why),
    }
}

/// Peak RSS (MiB) and the `-v` statistics line of the daemon replaying `capture`.
fn daemon_replay(shared: &Path, capture: &Path, rules: &[&str]) -> Option<(f64, u64, f64)> {
    use std::os::unix::process::ExitStatusExt;
    let mut cmd = std::process::Command::new(daemon());
    cmd.arg("-c")
        .arg(shared.join("upstream/falco-0.44.1/falco.yaml"))
        .args(["-o", "load_plugins[]=container"]);
    for r in rules {
        cmd.arg("-r").arg(shared.join("upstream/rules").join(r));
    }
    cmd.args([
        "-o",
        "engine.kind=replay",
        "-o",
        "webserver.enabled=false",
        "-o",
    ])
    .arg(format!("engine.replay.capture_file={}", capture.display()))
    .arg("-v")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().ok()?;
    let pid = child.id() as i32;
    let mut stderr = child.stderr.expect("piped stderr");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut text).ok()?;
    let mut status = 0;
    // SAFETY: rusage is plain data written by wait4 for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for the child we spawned, with valid pointers.
    if unsafe { libc::wait4(pid, &mut status, 0, &mut ru) } != pid {
        return None;
    }
    if std::process::ExitStatus::from_raw(status).code() != Some(0) {
        return None;
    }
    // `Elapsed time: 0.895, Captured Events: 1464679, 1635989.01 eps`
    let line = text.lines().find(|l| l.contains("Captured Events:"))?;
    let events = line
        .split("Captured Events:")
        .nth(1)?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()?;
    let eps = line
        .rsplit(", ")
        .next()?
        .trim_end_matches(" eps")
        .parse()
        .ok()?;
    Some((ru.ru_maxrss as f64 / 1024.0, events, eps))
}

const STABLE: [&str; 1] = ["falco_rules.yaml"];
const ALL: [&str; 3] = [
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

fn main() {
    let shared = shared_dir();
    let source = pick_source(&shared);
    // The daemon runs first: a child's peak RSS counts its parent's at fork time (Linux keeps
    // the pre-exec high-water mark), so it must be spawned before the capture is in memory.
    let daemon_runs: Vec<Option<(f64, u64, f64)>> = match &source {
        Source::Capture { path, .. } => [&STABLE[..], &ALL[..]]
            .iter()
            .map(|names| daemon_replay(&shared, path, names))
            .collect(),
        Source::Traces(_) => Vec::new(),
    };
    let captures: Vec<Arc<[u8]>> = match &source {
        Source::Capture { path, how } => {
            println!("falco-rs replay benchmark: workload -m mix capture, {how}");
            vec![load_trace(path)]
        }
        Source::Traces(why) => {
            let mut paths = Vec::new();
            traces(&shared.join("upstream/traces"), &mut paths);
            println!(
                "falco-rs replay benchmark: no workload capture ({why}); looping the {} public traces instead",
                paths.len()
            );
            paths.iter().map(|p| load_trace(p)).collect()
        }
    };
    let read = |name: &str| {
        let p = shared.join("upstream/rules").join(name);
        (
            p.display().to_string(),
            std::fs::read_to_string(&p).expect("rules file"),
        )
    };
    let stable: Vec<_> = STABLE.iter().map(|n| read(n)).collect();
    let all: Vec<_> = ALL.iter().map(|n| read(n)).collect();

    let load_stable = median((0..5).map(|_| load_rules(&stable).1).collect());
    let load_all = median((0..5).map(|_| load_rules(&all).1).collect());
    println!(
        "rules load (median of 5): stable {:.1} ms (Falco {LOAD_STABLE_MS} ms, ratio {:.2}), all three {:.1} ms (Falco {LOAD_ALL_MS} ms, ratio {:.2}; target <= 25 ms)",
        ms(load_stable),
        ms(load_stable) / LOAD_STABLE_MS,
        ms(load_all),
        ms(load_all) / LOAD_ALL_MS,
    );

    for (k, (name, files, falco_evps, falco_rss)) in [
        ("stable", &stable, REPLAY_STABLE_EVPS, REPLAY_STABLE_RSS_MIB),
        ("all three", &all, REPLAY_ALL_EVPS, REPLAY_ALL_RSS_MIB),
    ]
    .into_iter()
    .enumerate()
    {
        let target = 3.0 * falco_evps;
        let (ruleset, _) = load_rules(files);
        let run = replay(&ruleset, &captures);
        let evps_cpu = run.events as f64 / run.loop_cpu.as_secs_f64();
        println!(
            "pipeline, {name} rules: {} events ({} passes, {} alerts, {} bytes) in {:.3} s ({:.3} s of it opening and seeding); {evps_cpu:.0} events/s per CPU second of the event loop (Falco {falco_evps:.0} wall, ratio {:.2}; target >= {target:.0}); peak RSS of this process so far {:.1} MiB (it holds the decompressed capture)",
            run.events,
            run.passes,
            run.alerts,
            run.bytes,
            run.wall.as_secs_f64(),
            run.setup.as_secs_f64(),
            evps_cpu / falco_evps,
            peak_rss_mib(),
        );
        match daemon_runs.get(k) {
            None => {}
            Some(Some((rss, events, eps))) => println!(
                "daemon replay, {name} rules: {events} events, {eps:.0} events/s (Falco {falco_evps:.0}, ratio {:.2}; target >= {target:.0}); peak RSS {rss:.1} MiB (Falco {falco_rss} MiB, ratio {:.2}; target <= 0.50)",
                eps / falco_evps,
                rss / falco_rss,
            ),
            Some(None) => println!("daemon replay, {name} rules: the daemon failed"),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
