//! Output channels end to end: the binary replays `cat_write.scap` with Falco's
//! `catchall_order` rules (goldens `replay/falco_cat_write.testing-catchall_order.*`) and each
//! channel must carry exactly the alert lines Falco printed, byte for byte; a receiver that is
//! down or slow never blocks detection, and dropped alerts are reported.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use crate::util::{Output, run_falco, shared_dir};

fn case_dir(mode: &str) -> std::path::PathBuf {
    shared_dir()
        .join("conformance/goldens/replay")
        .join(format!("falco_cat_write.testing-catchall_order.{mode}"))
}

/// The golden's alert lines (stdout minus the statistics block).
fn golden_alerts(mode: &str) -> Vec<String> {
    let text = std::fs::read_to_string(case_dir(mode).join("stdout")).unwrap();
    text.lines()
        .take_while(|l| !l.starts_with("Events detected"))
        .map(String::from)
        .collect()
}

fn replay(json: bool, extra: &[String]) -> Output {
    replay_rules(json, &case_dir("json").join("catchall_order.yaml"), extra)
}

fn replay_rules(json: bool, rules: &std::path::Path, extra: &[String]) -> Output {
    let up = shared_dir().join("upstream");
    let mut args: Vec<String> = [
        "-c",
        &up.join("falco-0.44.1/falco.yaml").to_string_lossy(),
        "-o",
        "load_plugins[]=container",
        "-r",
        &rules.to_string_lossy(),
        "-o",
        &format!("json_output={json}"),
        "-o",
        "engine.kind=replay",
        "-o",
        &format!(
            "engine.replay.capture_file={}",
            up.join("traces/falco/cat_write.scap").display()
        ),
        "-o",
        "log_syslog=false",
        "-o",
        "syslog_output.enabled=false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().cloned());
    let env = [
        ("TZ".to_string(), "UTC".to_string()),
        ("FALCO_HOSTNAME".to_string(), "golden".to_string()),
    ];
    run_falco(&args, &env, Duration::from_secs(120))
}

fn o(kv: &str) -> [String; 2] {
    ["-o".to_string(), kv.to_string()]
}

fn opts(kvs: &[&str]) -> Vec<String> {
    kvs.iter().flat_map(|kv| o(kv)).collect()
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn stdout_carries_falcos_alerts() {
    for (json, mode) in [(true, "json"), (false, "text")] {
        let out = replay(json, &[]);
        assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
        let expected = std::fs::read_to_string(case_dir(mode).join("stdout")).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{mode}");
    }
}

#[test]
fn file_output_is_byte_for_byte() {
    for keep_alive in ["true", "false"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("events.txt");
        std::fs::write(&file, "previous line\n").unwrap();
        let out = replay(
            true,
            &opts(&[
                "stdout_output.enabled=false",
                "file_output.enabled=true",
                &format!("file_output.keep_alive={keep_alive}"),
                &format!("file_output.filename={}", file.display()),
            ]),
        );
        assert_eq!(out.code, 0);
        let got = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            got,
            format!("previous line\n{}", joined(&golden_alerts("json")))
        );
        // With stdout off, only the statistics remain there.
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("Events detected: 4\n"));
    }
}

#[test]
fn program_output_is_byte_for_byte() {
    for keep_alive in ["true", "false"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("program.txt");
        let out = replay(
            false,
            &opts(&[
                "stdout_output.enabled=false",
                "program_output.enabled=true",
                &format!("program_output.keep_alive={keep_alive}"),
                &format!("program_output.program=cat >> {}", file.display()),
            ]),
        );
        assert_eq!(out.code, 0);
        let got = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            got,
            joined(&golden_alerts("text")),
            "keep_alive={keep_alive}"
        );
    }
}

/// A loopback receiver: records each request (head, body), answers `ok` after `delay`.
fn receiver(delay: Duration) -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/falco", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut head = String::new();
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    std::thread::sleep(delay);
                    let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

#[test]
fn http_output_delivers_the_json_alerts() {
    let (url, rx) = receiver(Duration::ZERO);
    let out = replay(
        true,
        &opts(&[
            "http_output.enabled=true",
            &format!("http_output.url={url}"),
            "http_output.user_agent=falco-rs-test",
        ]),
    );
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let mut bodies = Vec::new();
    let mut heads = Vec::new();
    while let Ok((head, body)) = rx.recv_timeout(Duration::from_secs(5)) {
        heads.push(head);
        bodies.push(body);
        if bodies.len() == 4 {
            break;
        }
    }
    assert_eq!(bodies, golden_alerts("json"));
    for h in heads {
        let h = h.to_ascii_lowercase();
        assert!(h.starts_with("post /falco http/1.1\r\n"), "{h}");
        assert!(h.contains("content-type: application/json\r\n"), "{h}");
        assert!(h.contains("user-agent: falco-rs-test\r\n"), "{h}");
    }
}

#[test]
fn a_down_receiver_never_blocks_detection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = replay(
        true,
        &opts(&[
            "http_output.enabled=true",
            &format!("http_output.url=http://127.0.0.1:{port}/"),
        ]),
    );
    assert_eq!(out.code, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(case_dir("json").join("stdout")).unwrap()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("http: libcurl failed to perform call: ")
            .count(),
        4,
        "{err}"
    );
}

#[test]
fn a_slow_receiver_with_a_full_queue_drops_and_counts() {
    let (url, _rx) = receiver(Duration::from_secs(2));
    let start = Instant::now();
    let out = replay(
        true,
        &opts(&[
            "stdout_output.enabled=false",
            "outputs_queue.capacity=1",
            "output_timeout=500",
            "http_output.enabled=true",
            &format!("http_output.url={url}"),
        ]),
    );
    assert_eq!(out.code, 0);
    // Detection finished without waiting for the receiver (4 alerts x 2 s).
    assert!(
        start.elapsed() < Duration::from_secs(7),
        "{:?}",
        start.elapsed()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("Outputs queue out of memory. Drop event and continue on ...")
            .count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("\"http\" output timeout, all output channels are blocked"),
        "{err}"
    );
    assert!(
        err.contains("output channels still blocked, discarding all remaining notifications"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Events detected: 4\n"));
}

/// `append_output` extra fields: raw fields keep their type, formatted ones are strings; they
/// appear in JSON `output_fields` only, the text is Falco's.
#[test]
fn append_output_extra_fields_only_in_output_fields() {
    let out = replay(
        true,
        &opts(&[
            "append_output[]={match: {rule: dev_null}, extra_fields: [evt.hostname, proc.pid, {cmd: \"pid=%proc.pid name=%proc.name\"}]}",
        ]),
    );
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let golden = golden_alerts("json");
    let ours: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(ours.len(), golden.len());
    for (o, g) in ours.iter().zip(&golden) {
        let mut o: serde_json::Value = serde_json::from_str(o).unwrap();
        let g: serde_json::Value = serde_json::from_str(g).unwrap();
        assert_eq!(o["output"], g["output"]);
        let fields = o["output_fields"].as_object_mut().unwrap();
        if g["rule"] == "dev_null" {
            assert_eq!(fields.remove("evt.hostname").unwrap(), "golden");
            let pid = fields.remove("proc.pid").unwrap();
            assert!(pid.is_u64(), "{pid}");
            assert_eq!(
                fields.remove("cmd").unwrap(),
                format!("pid={pid} name=cat").as_str()
            );
        }
        assert_eq!(o["output_fields"], g["output_fields"]);
    }
}

/// `%static.*` in `append_output[].extra_fields` resolves as in rule outputs (Falco compiles
/// extra fields with the source's formatter, whose filterchecks include the static ones): a raw
/// `static.env` is the configured string, a formatted one renders it. Everything else is the
/// golden's, with the default config's `suggested_output` adding `static_env=prod` (as in
/// `static_fields_in_conditions_outputs_and_suggested_output`).
#[test]
fn append_output_extra_fields_resolve_static_fields() {
    let out = replay(
        true,
        &opts(&[
            "static_fields.env=prod",
            "append_output[]={match: {rule: dev_null}, extra_fields: [static.env, {where: \"env=%static.env pid=%proc.pid\"}]}",
        ]),
    );
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let golden = golden_alerts("json");
    let ours: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(ours.len(), golden.len());
    let mut seen = 0;
    for (o, g) in ours.iter().zip(&golden) {
        let mut o: serde_json::Value = serde_json::from_str(o).unwrap();
        let mut g: serde_json::Value = serde_json::from_str(g).unwrap();
        let spliced = g["output"].as_str().unwrap().replacen(
            " container_id=",
            " static_env=prod container_id=",
            1,
        );
        assert_eq!(o["output"], spliced.as_str());
        g["output_fields"]["static.env"] = "prod".into();
        let fields = o["output_fields"].as_object_mut().unwrap();
        if g["rule"] == "dev_null" {
            seen += 1;
            assert_eq!(fields["static.env"], "prod");
            let rendered = fields.remove("where").unwrap();
            let rendered = rendered.as_str().unwrap();
            let (env, pid) = rendered.split_once(" pid=").unwrap();
            assert_eq!(env, "env=prod");
            assert!(pid.parse::<u64>().is_ok(), "{rendered}");
        }
        assert_eq!(o["output_fields"], g["output_fields"]);
    }
    assert!(seen > 0, "no dev_null alert in the golden");
}

/// Deprecated `-p`: `-pc`/`-pk` change nothing; any other format is appended to every output.
#[test]
fn print_option() {
    let plain = replay(false, &[]);
    let pk = replay(false, &["-pk".to_string()]);
    assert_eq!(pk.stdout, plain.stdout);
    let custom = replay(false, &["-p".to_string(), "pid=%proc.pid".to_string()]);
    let text = String::from_utf8_lossy(&custom.stdout);
    let golden = golden_alerts("text");
    let ours: Vec<&str> = text.lines().take(golden.len()).collect();
    for (o, g) in ours.iter().zip(&golden) {
        let (head, pid) = o.rsplit_once(" pid=").unwrap();
        assert_eq!(head, g);
        assert!(pid.parse::<u64>().is_ok(), "{o}");
    }
    assert!(String::from_utf8_lossy(&custom.stderr).contains(
        "The -p/--print option is deprecated and will be removed. Use -o append_output=... instead."
    ));
}

/// `static_fields`: `static.<key>` fields usable in conditions and outputs, added (sorted by
/// key, before the container plugin's) to every output by `suggested_output`. The expected
/// lines are Falco's `open_dev_null` alerts with the configured values spliced in.
#[test]
fn static_fields_in_conditions_outputs_and_suggested_output() {
    let golden_rules =
        std::fs::read_to_string(case_dir("json").join("catchall_order.yaml")).unwrap();
    let rules = golden_rules
        .replacen(
            "condition: evt.type=open and fd.name=/dev/null",
            "condition: evt.type=open and fd.name=/dev/null and static.env=prod",
            1,
        )
        .replacen("%evt.args)\n", "%evt.args) env=%static.env\n", 1)
        .replacen(
            "condition: fd.name=/dev/null",
            "condition: fd.name=/dev/null and static.env=dev",
            1,
        );
    assert_ne!(rules, golden_rules);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("static.yaml");
    std::fs::write(&path, &rules).unwrap();
    let statics = opts(&["static_fields.env=prod", "static_fields.region=eu"]);
    let splice = |line: &str| {
        line.replacen(
            " container_id=",
            " env=prod static_env=prod static_region=eu container_id=",
            1,
        )
    };
    let is_open = |l: &&String| l.contains("An open of /dev/null");
    // text
    let out = replay_rules(false, &path, &statics);
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ours: Vec<&str> = stdout
        .lines()
        .take_while(|l| !l.starts_with("Events detected"))
        .collect();
    let expected: Vec<String> = golden_alerts("text")
        .iter()
        .filter(is_open)
        .map(|l| splice(l))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(ours, expected);
    // JSON: output and output_fields
    let out = replay_rules(true, &path, &statics);
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let ours: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    let golden: Vec<String> = golden_alerts("json")
        .into_iter()
        .filter(|l| is_open(&l))
        .collect();
    assert_eq!(ours.len(), golden.len());
    for (o, g) in ours.iter().zip(&golden) {
        let o: serde_json::Value = serde_json::from_str(o).unwrap();
        let mut g: serde_json::Value = serde_json::from_str(g).unwrap();
        g["output"] = splice(g["output"].as_str().unwrap()).into();
        let fields = g["output_fields"].as_object_mut().unwrap();
        fields.insert("static.env".into(), "prod".into());
        fields.insert("static.region".into(), "eu".into());
        assert_eq!(o, g);
    }
    // an unconfigured static field is an unknown field, as without static_fields at all
    let broken = rules.replacen("static.env=prod", "static.nope=prod", 1);
    std::fs::write(&path, broken).unwrap();
    let out = replay_rules(false, &path, &statics);
    assert_eq!(out.code, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("filter_check called with nonexistent field static.nope"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
