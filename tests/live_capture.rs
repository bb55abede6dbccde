//! A capture written live (`capture.enabled`, driver::capture::CaptureDump) under both
//! backends: in mode `all_rules` the dump opens on the first match, our reader and Debian's
//! `sysdig -r` read it back, and `engine.kind=replay` on it gives the same alerts the live run
//! printed for `cat /etc/shadow` under the upstream stable rules ("Sensitive file opened for
//! reading by non-trusted program"); in mode `rules` only a rule with `capture: true` opens it.
//!
//! Needs root and a kernel with BTF (skipped, with a message, otherwise) and the Debian
//! `sysdig` package.

use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use falco_rs::capture::{CaptureReader, ReadItem};

use crate::util::{
    ChildGuard, STD_PATH, falco_bin, lines_of, run_falco, shared_dir, spawn_guarded, wait_line,
};

const SHADOW_RULE_TEXT: &str = ": Warning Sensitive file opened for reading by non-trusted program";
/// PPME_SYSCALL_OPENAT_2_X.
const OPENAT_X: u16 = 307;

fn shadow_alerts(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(SHADOW_RULE_TEXT))
        .cloned()
        .collect()
}

fn base_args(rules: &str) -> Vec<String> {
    let cfg = shared_dir().join("upstream/falco-0.44.1/falco.yaml");
    [
        "-c",
        &cfg.to_string_lossy(),
        "-o",
        "load_plugins[]=container",
        "-r",
        rules,
        "-o",
        "log_syslog=false",
        "-o",
        "syslog_output.enabled=false",
        "-o",
        "webserver.enabled=false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Starts the daemon live; None (skipped, with a message) when the probe cannot run here.
/// Returns it with its stdout lines, its stderr (kept open: the daemon logs until it exits)
/// and the stderr lines read up to the start.
type Started = (ChildGuard, Receiver<String>, Receiver<String>, Vec<String>);

fn start(args: &[String]) -> Option<Started> {
    let mut falco = spawn_guarded(
        Command::new(falco_bin())
            .args(args)
            .env_clear()
            .env("PATH", STD_PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdout = lines_of(falco.stdout.take().unwrap());
    let stderr = lines_of(falco.stderr.take().unwrap());
    let mut err_lines = Vec::new();
    let started = wait_line(
        &stderr,
        &mut err_lines,
        &["One ring buffer every", "Error: "],
        120,
    );
    let Some(started) = started else {
        panic!("falco did not start: {err_lines:?}");
    };
    if started.starts_with("Error: ") {
        eprintln!("skipped: the eBPF probe cannot run here: {started}");
        return None;
    }
    Some((falco, stdout, stderr, err_lines))
}

fn capture_replays_to_live_alerts(kind: &str) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = shared_dir().join("upstream/rules/falco_rules.yaml");
    let rules = rules.to_string_lossy().into_owned();
    let prefix = dir.path().join("cap");
    let mut args = base_args(&rules);
    for o in [
        format!("engine.kind={kind}"),
        "capture.enabled=true".to_string(),
        "capture.mode=all_rules".to_string(),
        format!("capture.path_prefix={}", prefix.display()),
    ] {
        args.push("-o".into());
        args.push(o);
    }
    let Some((mut falco, stdout, _stderr, _)) = start(&args) else {
        return;
    };
    let mut out_lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n_cat = 0;
    while n_cat < 2 {
        let st = Command::new("cat")
            .arg("/etc/shadow")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        if wait_line(&stdout, &mut out_lines, &[SHADOW_RULE_TEXT], 1).is_some() {
            n_cat += 1;
        }
        if Instant::now() > deadline {
            panic!("{kind}: no live alert for cat /etc/shadow");
        }
    }
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(falco.id() as libc::pid_t, libc::SIGTERM) };
    let status = falco.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{kind}: falco exit");
    while let Ok(l) = stdout.recv_timeout(Duration::from_secs(5)) {
        out_lines.push(l);
    }
    let live = shadow_alerts(&out_lines);
    assert!(live.len() >= 2, "{kind}: {live:?}");

    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("cap_"))
        })
        .expect("capture file under capture.path_prefix");
    // <prefix>_<ts: 20 digits>_<evtnum: 20 digits>.scap
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let parts: Vec<&str> = name.trim_end_matches(".scap").split('_').collect();
    assert_eq!(parts.len(), 3, "{name}");
    assert!(
        parts[1..]
            .iter()
            .all(|p| p.len() == 20 && p.bytes().all(|b| b.is_ascii_digit())),
        "{name}"
    );

    // our reader: the /proc state holds this test process, the events hold cat's openat
    let mut rd = CaptureReader::open(&file).unwrap();
    let me = u64::from(std::process::id());
    assert!(
        rd.metadata().threads.iter().any(|t| t.tid == me),
        "{kind}: no PL entry for the test process"
    );
    let (mut events, mut shadow_opens) = (0u64, 0u64);
    while let Some(item) = rd.next().unwrap() {
        if let ReadItem::Event(_) = item {
            events += 1;
            let rec = rd.record();
            if u16::from_le_bytes([rec[20], rec[21]]) == OPENAT_X
                && memchr::memmem::find(rec, b"/etc/shadow\0").is_some()
            {
                shadow_opens += 1;
            }
        }
    }
    assert!(events > 100, "{kind}: {events} events");
    assert!(
        shadow_opens >= live.len() as u64,
        "{kind}: {shadow_opens} openat of /etc/shadow"
    );

    // sysdig 0.29.3 reads it too
    let sd = Command::new("sysdig")
        .arg("-r")
        .arg(&file)
        .arg("proc.name=cat and evt.type=openat and evt.dir=< and fd.name=/etc/shadow")
        .output()
        .expect("the Debian package `sysdig` is needed");
    let sd_out = String::from_utf8_lossy(&sd.stdout);
    assert!(
        sd.status.success(),
        "{kind}: sysdig: {}",
        String::from_utf8_lossy(&sd.stderr)
    );
    assert!(
        sd_out.lines().count() as u64 >= live.len() as u64,
        "{kind}: sysdig: {sd_out}"
    );
    assert!(
        sd_out.contains(" cat (") && sd_out.contains("name=/etc/shadow"),
        "{sd_out}"
    );

    // replay: the same alerts, byte for byte (event times come from the capture)
    let mut args = base_args(&rules);
    args.extend([
        "-o".to_string(),
        "engine.kind=replay".to_string(),
        "-o".to_string(),
        format!("engine.replay.capture_file={}", file.display()),
    ]);
    let out = run_falco(&args, &[], Duration::from_secs(300));
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let replay_lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(shadow_alerts(&replay_lines), live, "{kind}");
}

#[test]
fn live_capture_replays_to_the_same_alerts_modern_ebpf() {
    capture_replays_to_live_alerts("modern_ebpf");
}

#[test]
fn live_capture_replays_to_the_same_alerts_aya() {
    capture_replays_to_live_alerts("aya");
}

/// Two rules on files of the test's own (so parallel tests' events never match them).
fn rules_mode_rules(plain: &str, captured: &str) -> String {
    format!(
        "\
- rule: Plain read by cat
  desc: not captured
  condition: evt.type in (open, openat, openat2) and fd.name={plain} and proc.name=cat
  output: plain read (file=%fd.name proc=%proc.name)
  priority: WARNING
- rule: Captured read by cat
  desc: captured for 2 s
  condition: evt.type in (open, openat, openat2) and fd.name={captured} and proc.name=cat
  output: captured read (file=%fd.name proc=%proc.name parent=%proc.pname)
  priority: WARNING
  capture: true
  capture_duration: 2000
"
    )
}

/// `capture.mode: rules`: a match of a rule without `capture: true` writes nothing; a match
/// of the capture rule opens the dump on its own event (written first), which replays to the
/// same alert (the dump's process list is the live thread table, which knows this `cat`).
#[test]
fn capture_mode_rules_dumps_from_the_capture_rule_match() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.txt");
    let captured = dir.path().join("captured.txt");
    std::fs::write(&plain, "plain").unwrap();
    std::fs::write(&captured, "captured").unwrap();
    let (plain, captured) = (plain.to_str().unwrap(), captured.to_str().unwrap());
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, rules_mode_rules(plain, captured)).unwrap();
    let rules = rules.to_string_lossy().into_owned();
    let caps = dir.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    let prefix = caps.join("cap");
    let mut args = base_args(&rules);
    for o in [
        "engine.kind=modern_ebpf".to_string(),
        "capture.enabled=true".to_string(),
        "capture.mode=rules".to_string(),
        format!("capture.path_prefix={}", prefix.display()),
    ] {
        args.push("-o".into());
        args.push(o);
    }
    let Some((mut falco, stdout, _stderr, err_lines)) = start(&args) else {
        return;
    };
    assert!(
        err_lines.iter().any(|l| l.ends_with(&format!(
            "Capture is enabled in mode 'rules'. Capturing events to {}",
            prefix.display()
        ))),
        "{err_lines:?}"
    );
    let cat_until = |file: &str, needle: &str, out: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let st = Command::new("cat")
                .arg(file)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success());
            if let Some(l) = wait_line(&stdout, out, &[needle], 1) {
                return l;
            }
            assert!(Instant::now() < deadline, "no live alert for cat {file}");
        }
    };
    let mut out_lines = Vec::new();
    cat_until(plain, "plain read", &mut out_lines);
    std::thread::sleep(Duration::from_millis(300));
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&caps)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    assert!(files().is_empty(), "a rule without capture: {:?}", files());
    let alert = cat_until(captured, "captured read", &mut out_lines);
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(falco.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(falco.wait().unwrap().code(), Some(0));
    let found = files();
    assert_eq!(found.len(), 1, "{found:?}");
    let mut rd = CaptureReader::open(&found[0]).unwrap();
    let mut first = None;
    let mut plain_opens = 0;
    while let Some(item) = rd.next().unwrap() {
        if let ReadItem::Event(_) = item {
            let rec = rd.record();
            if first.is_none() {
                first = Some(rec.to_vec());
            }
            if memchr::memmem::find(rec, plain.as_bytes()).is_some() {
                plain_opens += 1;
            }
        }
    }
    let first = first.expect("events in the dump");
    assert_eq!(u16::from_le_bytes([first[20], first[21]]), OPENAT_X);
    assert!(memchr::memmem::find(&first, captured.as_bytes()).is_some());
    assert_eq!(plain_opens, 0);
    // the dump replays to the live alert, byte for byte
    let mut args = base_args(&rules);
    args.extend([
        "-o".to_string(),
        "engine.kind=replay".to_string(),
        "-o".to_string(),
        format!("engine.replay.capture_file={}", found[0].display()),
    ]);
    let out = run_falco(&args, &[], Duration::from_secs(300));
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let replayed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        replayed.lines().find(|l| l.contains("captured read")),
        Some(alert.as_str()),
        "{replayed}"
    );
}
