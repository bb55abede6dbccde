//! The tutorial's flow end to end, live: the daemon captures with the modern eBPF probe and a
//! custom curl rule, a real Prometheus server scrapes `/metrics`, and after `curl --version`
//! Prometheus's HTTP API returns `falco_events{rule="DetectCurlCommandExecution"}` ≥ 1 and the
//! matching `falcosecurity_falco_rules_matches_total` series.
//!
//! The tutorial's curl rule also runs with the upstream stable rules under both backends
//! (libbpf-rs and aya): one `curl --version` gives exactly one alert with Falco's text line.
//!
//! Needs root and a kernel with BTF and the Debian `prometheus` package (installed by
//! `make deps`). Without root or BPF the tests are skipped with a message, except under
//! `CI=true`, where they fail.

use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::util::{
    ChildGuard, STD_PATH, falco_bin, free_port, lines_of, shared_dir, spawn_guarded,
};

const CURL_RULE: &str = "- rule: DetectCurlCommandExecution\n  desc: Detects the execution of curl\n  condition: evt.type in (execve, execveat) and proc.name = curl\n  output: curl executed (user=%user.name command=%proc.cmdline)\n  priority: WARNING\n  tags: [network, tutorial]\n";

/// Skips a live test where it cannot run; under `CI=true` live tests must run, so it fails.
fn skip(why: &str) {
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "live test cannot run under CI=true: {why}"
    );
    eprintln!("skipped: {why}");
}

/// Live daemons see every process on the machine: one live test at a time, so no test counts
/// another's `curl`.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A daemon started for a live test: its output lines, killed when dropped.
struct LiveDaemon {
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    child: ChildGuard,
}

/// Starts `falco ARGS` with only PATH and `env` set and waits until capture starts. Where the
/// probe cannot run, the test is skipped (failed under `CI=true`) and `None` is returned.
fn start_live(args: &[&str], env: &[(&str, &str)]) -> Option<LiveDaemon> {
    let mut child = spawn_guarded(
        Command::new(falco_bin())
            .args(args)
            .env_clear()
            .env("PATH", STD_PATH)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let started = wait_line(&stderr, &["One ring buffer every", "Error: "], 120)
        .expect("falco started or failed");
    if started.starts_with("Error: ") {
        skip(&format!("the eBPF probe cannot run here: {started}"));
        return None;
    }
    Some(LiveDaemon {
        stdout,
        stderr,
        child,
    })
}

fn wait_line(rx: &Receiver<String>, needles: &[&str], secs: u64) -> Option<String> {
    crate::util::wait_line(rx, &mut Vec::new(), needles, secs)
}

/// The body of `GET path_and_query` on 127.0.0.1:`port`.
fn http_get(port: u16, path_and_query: &str) -> Option<String> {
    crate::util::http_get(port, path_and_query).map(|(_, body)| body)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first series a PromQL query returns, once it is at least 1.
fn prometheus_value(port: u16, query: &str, secs: u64) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(body) = http_get(port, &format!("/api/v1/query?query={}", urlencode(query)))
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&body)
            && let Some(val) = v["data"]["result"][0]["value"][1].as_str()
            && let Ok(n) = val.parse::<f64>()
            && n >= 1.0
        {
            return Some(n);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

#[test]
fn tutorial_flow_with_a_real_prometheus() {
    let _serial = one_at_a_time();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("live capture needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("curl_rule.yaml"), CURL_RULE).unwrap();
    let port = free_port();
    let cfg = shared_dir().join("upstream/falco-0.44.1/falco.yaml");
    let Some(daemon) = start_live(
        &[
            "-c",
            &cfg.to_string_lossy(),
            "-o",
            "load_plugins[]=container",
            "-r",
            &dir.path().join("curl_rule.yaml").to_string_lossy(),
            "-o",
            "engine.kind=modern_ebpf",
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
        ],
        &[("FALCO_HOSTNAME", "live-test")],
    ) else {
        return;
    };
    let LiveDaemon {
        stdout,
        stderr,
        child: mut falco,
    } = daemon;

    let Some(prom_bin) = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        panic!("the Debian package `prometheus` is needed (make deps installs it)");
    };
    let prom_port = free_port();
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: falco\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let _prometheus = spawn_guarded(
        Command::new(prom_bin)
            .arg(format!("--config.file={}", prom_cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );

    // The probe attaches after the startup lines: run `curl --version` every 0.5 s until its
    // alert shows up (the goldens' canary protocol).
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        let out = Command::new("curl").arg("--version").output().unwrap();
        assert!(out.status.success());
        if let Some(a) = wait_line(&stdout, &["curl executed"], 1) {
            break a;
        }
        assert!(Instant::now() < deadline, "no alert for curl --version");
    };
    assert!(
        alert.contains(": Warning curl executed (user=root command=curl --version)"),
        "{alert}"
    );

    let events = prometheus_value(
        prom_port,
        "falco_events{rule=\"DetectCurlCommandExecution\"}",
        60,
    );
    assert!(events.is_some(), "falco_events not scraped");
    let matches = prometheus_value(
        prom_port,
        "falcosecurity_falco_rules_matches_total{rule_name=\"DetectCurlCommandExecution\",priority=\"4\",source=\"syscall\",tag_tutorial=\"true\"}",
        30,
    );
    assert!(matches.is_some(), "rules_matches_total not scraped");

    let body = http_get(port, "/metrics").expect("/metrics");
    let evts = body
        .lines()
        .find_map(|l| l.strip_prefix("falcosecurity_scap_n_evts_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("falcosecurity_scap_n_evts_total");
    assert!(evts > 0);
    let threads = body
        .lines()
        .find_map(|l| l.strip_prefix("falcosecurity_scap_n_threads_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("falcosecurity_scap_n_threads_total");
    assert!(threads > 0);
    assert!(body.contains(
        "falcosecurity_scap_engine_name_info{engine_name=\"modern_bpf\",evt_source=\"syscall\"} 1\n"
    ));
    assert!(
        body.contains("falcosecurity_scap_n_drops_buffer_total{dir=\"exit\",drop=\"clone_fork\"} ")
    );

    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(falco.0.id() as libc::pid_t, libc::SIGTERM) };
    wait_line(&stderr, &["SIGINT received, exiting..."], 30).expect("graceful stop");
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(st) = falco.0.try_wait().unwrap() {
            break st.code();
        }
        assert!(Instant::now() < deadline, "falco did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    let summary = wait_line(&stdout, &["DetectCurlCommandExecution: "], 5).expect("statistics");
    assert!(
        summary.starts_with("   DetectCurlCommandExecution: "),
        "{summary}"
    );
}

/// `metrics.output_rule` and `metrics.output_file`: live events drive the snapshots.
#[test]
fn live_metrics_snapshots() {
    let _serial = one_at_a_time();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("live capture needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("curl_rule.yaml"), CURL_RULE).unwrap();
    let metrics_file = dir.path().join("metrics.jsonl");
    let cfg = shared_dir().join("upstream/falco-0.44.1/falco.yaml");
    let Some(daemon) = start_live(
        &[
            "-c",
            &cfg.to_string_lossy(),
            "-o",
            "load_plugins[]=container",
            "-r",
            &dir.path().join("curl_rule.yaml").to_string_lossy(),
            "-o",
            "log_syslog=false",
            "-o",
            "syslog_output.enabled=false",
            "-o",
            "webserver.enabled=false",
            "-o",
            "json_output=true",
            "-o",
            "metrics.enabled=true",
            "-o",
            "metrics.interval=1s",
            "-o",
            "metrics.output_rule=true",
            "-o",
            &format!("metrics.output_file={}", metrics_file.display()),
        ],
        &[("FALCO_HOSTNAME", "live-test")],
    ) else {
        return;
    };
    let LiveDaemon {
        stdout,
        child: _falco,
        ..
    } = daemon;
    let line = wait_line(&stdout, &["Falco internal: metrics snapshot"], 60).expect("snapshot");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["priority"], "Informational");
    assert_eq!(v["output"], "Falco metrics snapshot");
    assert_eq!(v["source"], "internal");
    let f = &v["output_fields"];
    assert_eq!(f["falco.version"], "0.44.1");
    assert_eq!(f["evt.hostname"], "live-test");
    assert_eq!(f["scap.engine_name"], "modern_bpf");
    assert!(f["falco.num_evts"].as_u64().unwrap() > 0);
    assert!(f["falco.sha256_rules_file.curl_rule_yaml"].is_string());
    assert!(f["falco.sha256_config_file.falco_yaml"].is_string());
    assert!(f["scap.n_drops_perc"].is_number());
    let text = std::fs::read_to_string(&metrics_file).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["sample"], 1);
    assert_eq!(first["output_fields"]["falco.version"], "0.44.1");
}

/// The tutorial rule of Falco's docs, plus a canary rule that tells when capture is live.
const TUTORIAL_RULES: &str = "- rule: Curl command executed\n  desc: the tutorial's custom rule\n  condition: spawned_process and proc.name = curl\n  output: \"Curl command executed: %proc.cmdline\"\n  priority: WARNING\n- rule: falco-rs live canary\n  desc: fires when capture is live\n  condition: spawned_process and proc.name = sh and proc.cmdline contains falco-rs-canary\n  output: \"canary %proc.cmdline\"\n  priority: DEBUG\n";

/// `curl --version` under the stable rules plus the tutorial rule gives exactly one alert whose
/// text line is Falco's: `<time>: Warning Curl command executed: curl --version` followed by
/// the container plugin's suggested fields (append_output.suggested_output of falco.yaml).
fn tutorial_curl_alert(engine: &str) {
    let _serial = one_at_a_time();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("live capture needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("tutorial_rules.yaml");
    std::fs::write(&rules, TUTORIAL_RULES).unwrap();
    let upstream = shared_dir().join("upstream");
    let Some(daemon) = start_live(
        &[
            "-c",
            &upstream.join("falco-0.44.1/falco.yaml").to_string_lossy(),
            "-o",
            "load_plugins[]=container",
            "-r",
            &upstream.join("rules/falco_rules.yaml").to_string_lossy(),
            "-r",
            &rules.to_string_lossy(),
            "-o",
            &format!("engine.kind={engine}"),
            "-o",
            "priority=debug",
            "-o",
            "webserver.enabled=false",
            "-o",
            "log_syslog=false",
            "-o",
            "syslog_output.enabled=false",
        ],
        &[("TZ", "UTC")],
    ) else {
        return;
    };
    let LiveDaemon {
        stdout,
        child: _falco,
        ..
    } = daemon;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        Command::new("sh")
            .args(["-c", ":", "falco-rs-canary"])
            .status()
            .unwrap();
        if wait_line(&stdout, &["canary "], 1).is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{engine}: capture never went live"
        );
    }
    let out = Command::new("curl").arg("--version").output().unwrap();
    assert!(out.status.success());
    // Everything the daemon prints in the next 3 s.
    let mut lines = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Ok(l) = stdout.recv_timeout(left) {
            lines.push(l);
        }
    }
    let curl: Vec<&String> = lines
        .iter()
        // Other tests may run curl with other arguments meanwhile (tests/daemon.rs does).
        .filter(|l| l.contains("Curl command executed: curl --version"))
        .collect();
    assert_eq!(curl.len(), 1, "{engine}: {lines:#?}");
    let line = curl[0];
    let (time, rest) = line.split_once(": ").expect("time prefix");
    assert!(
        time.len() == 18
            && time.as_bytes()[2] == b':'
            && time.as_bytes()[5] == b':'
            && time.as_bytes()[8] == b'.'
            && time[9..].bytes().all(|b| b.is_ascii_digit()),
        "{engine}: time {time:?} is not Falco's HH:MM:SS.nnnnnnnnn"
    );
    let rest = rest
        .strip_prefix("Warning Curl command executed: curl --version container_id=")
        .unwrap_or_else(|| panic!("{engine}: {line}"));
    assert!(
        rest.contains(" container_name=") && rest.contains(" k8s_ns_name="),
        "{engine}: suggested container fields missing: {line}"
    );
}

#[test]
fn tutorial_curl_alert_modern_ebpf() {
    tutorial_curl_alert("modern_ebpf");
}

#[test]
fn tutorial_curl_alert_aya() {
    tutorial_curl_alert("aya");
}
