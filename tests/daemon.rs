//! Binary-level lifecycle tests of the daemon with `engine.kind=nodriver` (no events, so no
//! root and no driver): webserver endpoints, pidfile, SIGUSR1, SIGHUP and file-watch reloads
//! (validated first; a broken rules file keeps the running rules and raises Falco's
//! hot-restart-failure alert), and graceful SIGTERM with the final statistics.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::util::{
    ChildGuard, STD_PATH, falco_bin, free_port, lines_of, shared_dir, spawn_guarded,
};

const RULE: &str = "- rule: Daemon test rule\n  desc: a rule for the lifecycle tests\n  condition: evt.type = open and proc.name = daemon-test\n  output: daemon test (proc=%proc.name)\n  priority: WARNING\n  tags: [test]\n";

struct Daemon {
    child: ChildGuard,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start(extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yaml"), RULE).unwrap();
        let port = free_port();
        let cfg = shared_dir().join("upstream/falco-0.44.1/falco.yaml");
        let mut args: Vec<String> = vec![
            "-c".into(),
            cfg.to_string_lossy().into_owned(),
            "-o".into(),
            "load_plugins[]=container".into(),
            "-o".into(),
            "engine.kind=nodriver".into(),
            "-o".into(),
            "json_output=true".into(),
            "-o".into(),
            "log_syslog=false".into(),
            "-o".into(),
            "syslog_output.enabled=false".into(),
            "-o".into(),
            "webserver.listen_address=127.0.0.1".into(),
            "-o".into(),
            format!("webserver.listen_port={port}"),
            "-r".into(),
            dir.path().join("rules.yaml").to_string_lossy().into_owned(),
            "-P".into(),
            dir.path().join("falco.pid").to_string_lossy().into_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = spawn_guarded(
            Command::new(falco_bin())
                .args(&args)
                .env_clear()
                .env("PATH", STD_PATH)
                .env("TZ", "UTC")
                .env("FALCO_HOSTNAME", "golden")
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        let d = Daemon {
            child,
            stdout,
            stderr,
            port,
            dir,
        };
        d.wait_stderr("Opening 'syscall' source with no driver");
        d
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits for a stderr line containing `needle`; returns the lines seen up to it.
    fn wait_stderr(&self, needle: &str) -> Vec<String> {
        wait_line(&self.stderr, needle)
    }

    fn wait_stdout(&self, needle: &str) -> Vec<String> {
        wait_line(&self.stdout, needle)
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    fn get(&self, path: &str) -> (String, String) {
        http_get(self.port, path)
    }
}

/// Waits up to 60 s for a line containing `needle`; returns the lines seen up to it.
fn wait_line(rx: &Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    match crate::util::wait_line(rx, &mut seen, &[needle], 60) {
        Some(_) => seen,
        None => panic!("no line containing {needle:?}; seen:\n{}", seen.join("\n")),
    }
}

fn http_get(port: u16, path: &str) -> (String, String) {
    crate::util::http_get(port, path).expect("an HTTP answer")
}

fn reference(name: &str) -> String {
    std::fs::read_to_string(
        shared_dir()
            .join("conformance/goldens/webserver-reference")
            .join(name),
    )
    .unwrap()
}

fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("falco did not exit");
}

#[test]
fn webserver_pidfile_and_graceful_sigterm() {
    let mut d = Daemon::start(&[
        "-o",
        "metrics.enabled=true",
        "-o",
        "webserver.prometheus_metrics_enabled=true",
    ]);
    let pid: u32 = std::fs::read_to_string(d.path("falco.pid"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(pid, d.child.id());

    let (head, body) = d.get("/healthz");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(body, reference("healthz.body"));
    let (_, body) = d.get("/versions");
    assert_eq!(body, reference("versions.body"));
    let (head, body) = d.get("/metrics");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4")
    );
    assert!(body.starts_with(
        "# HELP falcosecurity_falco_version_info https://falco.org/docs/metrics/\n# TYPE falcosecurity_falco_version_info gauge\nfalcosecurity_falco_version_info{version=\"0.44.1\"} 1\n"
    ));
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(RULE.as_bytes()))
    };
    assert!(body.contains(&format!(
        "falcosecurity_falco_sha256_rules_files_info{{file_name=\"rules.yaml\",sha256=\"{sha}\"}} 1\n"
    )));
    assert!(body.contains("falcosecurity_falco_sha256_config_files_info{file_name=\"falco.yaml\",sha256=\"55a172a24335569bc053b53a5a485be9be2fd7b44890b38de92fc8e475bcc86f\"} 1\n"));
    assert!(body.contains("falcosecurity_evt_hostname_info{hostname=\"golden\"} 1\n"));
    let (head, _) = d.get("/nope");
    assert!(head.starts_with("HTTP/1.1 404"));

    d.signal(libc::SIGTERM);
    d.wait_stderr("SIGINT received, exiting...");
    assert_eq!(wait_exit(&mut d.child), 0);
    let out = d.wait_stdout("Triggered rules by rule name:");
    assert_eq!(
        out,
        [
            "Events detected: 0",
            "Rule counts by severity:",
            "Triggered rules by rule name:"
        ]
    );
}

/// logrotate style: move the file away, SIGUSR1, and the next message lands in a new file.
/// The messages are hot-restart-failure alerts (nodriver produces no events).
#[test]
fn sigusr1_reopens_the_file_output() {
    let d = Daemon::start(&[
        "-o",
        "file_output.enabled=true",
        "-o",
        "file_output.keep_alive=true",
        "-o",
        "file_output.filename=./events.txt",
    ]);
    let broken = "- rule: broken\n  condition: evt.type = \n";
    std::fs::write(d.path("rules.yaml"), broken).unwrap();
    d.wait_stdout("Falco internal: hot restart failure");
    std::fs::rename(d.path("events.txt"), d.path("events.txt.1")).unwrap();
    d.signal(libc::SIGUSR1);
    d.wait_stderr("SIGUSR1 received, reopening outputs...");
    std::fs::write(d.path("rules.yaml"), format!("{broken}# again\n")).unwrap();
    d.wait_stdout("Falco internal: hot restart failure");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.path("events.txt").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rotated = std::fs::read_to_string(d.path("events.txt.1")).unwrap();
    let fresh = std::fs::read_to_string(d.path("events.txt")).unwrap();
    assert_eq!(rotated.lines().count(), 1, "{rotated}");
    assert_eq!(fresh.lines().count(), 1, "{fresh}");
    for text in [rotated, fresh] {
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["rule"], "Falco internal: hot restart failure");
    }
}

#[test]
fn reload_on_rules_change_and_failure_keeps_running() {
    let mut d = Daemon::start(&[]);
    // A broken rules file: the dry run fails, the daemon keeps running and says so.
    std::fs::write(
        d.path("rules.yaml"),
        "- rule: broken\n  condition: evt.type = \n",
    )
    .unwrap();
    let lines = d.wait_stdout("Falco internal: hot restart failure");
    let alert: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(alert["rule"], "Falco internal: hot restart failure");
    assert_eq!(alert["priority"], "Critical");
    assert_eq!(alert["source"], "internal");
    assert_eq!(alert["output_fields"], serde_json::json!({}));
    assert!(
        alert["output"]
            .as_str()
            .unwrap()
            .starts_with("Falco internal: hot restart failure: "),
        "{alert}"
    );
    let (head, _) = d.get("/healthz");
    assert!(head.starts_with("HTTP/1.1 200 OK"));

    // A valid change: validated, then a restart in the same process.
    let pid = d.child.id();
    std::fs::write(
        d.path("rules.yaml"),
        RULE.replace("Daemon test rule", "Renamed rule"),
    )
    .unwrap();
    d.wait_stderr("SIGHUP received, restarting...");
    d.wait_stdout("Events detected: 0");
    d.wait_stderr("Opening 'syscall' source with no driver");
    assert_eq!(d.child.id(), pid);
    assert!(d.child.try_wait().unwrap().is_none());

    // SIGHUP forces the same validated restart.
    d.signal(libc::SIGHUP);
    d.wait_stderr("SIGHUP received, restarting...");
    d.wait_stderr("Opening 'syscall' source with no driver");
    let (head, _) = d.get("/healthz");
    assert!(head.starts_with("HTTP/1.1 200 OK"));
    d.signal(libc::SIGINT);
    assert_eq!(wait_exit(&mut d.child), 0);
}

#[test]
fn sighup_is_ignored_without_watch_config_files() {
    let mut d = Daemon::start(&["-o", "watch_config_files=false"]);
    d.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.child.try_wait().unwrap().is_none());
    d.signal(libc::SIGTERM);
    let lines = d.wait_stderr("SIGINT received, exiting...");
    assert!(!lines.iter().any(|l| l.contains("restarting")), "{lines:?}");
    assert_eq!(wait_exit(&mut d.child), 0);
}

/// falco with Falco's default falco.yaml, `extra` arguments and `env`, to its exit.
fn run_env(extra: &[&str], env: &[(String, String)]) -> crate::util::Output {
    let cfg = shared_dir().join("upstream/falco-0.44.1/falco.yaml");
    let mut args = vec!["-c".to_string(), cfg.to_string_lossy().into_owned()];
    args.extend(extra.iter().map(|s| s.to_string()));
    crate::util::run_falco(&args, env, Duration::from_secs(60))
}

#[test]
fn startup_failures() {
    let run = |extra: &[&str]| run_env(extra, &[]);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yaml");
    std::fs::write(&rules, RULE).unwrap();
    // No output enabled at all: fatal, even in --dry-run.
    let out = run(&[
        "-o",
        "stdout_output.enabled=false",
        "-o",
        "syslog_output.enabled=false",
        "-o",
        "engine.kind=nodriver",
        "--dry-run",
        "-r",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.ends_with("Error: No output configured, please make sure at least one output is configured and enabled.\n"),
        "{err}"
    );
    // The webserver port is taken: Falco's runtime error, exit 1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&[
        "-o",
        "engine.kind=nodriver",
        "-o",
        "webserver.listen_address=127.0.0.1",
        "-o",
        &format!("webserver.listen_port={port}"),
        "-r",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.ends_with("Runtime error: an error occurred while starting webserver. Exiting.\n"),
        "{err}"
    );
    // A live engine with a FALCO_RS_TOCTOU_MITIGATION that is not a boolean: exit 1, before
    // the probe is opened.
    let out = run_env(
        &[
            "-o",
            "engine.kind=modern_ebpf",
            "-o",
            "webserver.enabled=false",
            "-r",
            rules.to_str().unwrap(),
        ],
        &[("FALCO_RS_TOCTOU_MITIGATION".into(), "maybe".into())],
    );
    assert_eq!(out.code, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.ends_with(
            "Error: FALCO_RS_TOCTOU_MITIGATION: 'maybe' is not a boolean (expected true or false)\n"
        ),
        "{err}"
    );
    // An unwritable pidfile: exit 255.
    let out = run(&[
        "-o",
        "engine.kind=nodriver",
        "-o",
        "webserver.enabled=false",
        "-r",
        rules.to_str().unwrap(),
        "-P",
        "/nonexistent-dir/falco.pid",
    ]);
    assert_eq!(out.code, 255);
}

/// `webserver.ssl_enabled`: the same endpoints over HTTPS with the single PEM of
/// `webserver.ssl_certificate` (certificate and key); checked with curl and a test CA.
#[test]
fn webserver_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    assert!(openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem"
    ]));
    assert!(openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr"
    ]));
    assert!(openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem"
    ]));
    let mut pem = std::fs::read_to_string(d.join("cert.pem")).unwrap();
    pem.push_str(&std::fs::read_to_string(d.join("key.pem")).unwrap());
    std::fs::write(d.join("falco.pem"), pem).unwrap();

    let daemon = Daemon::start(&[
        "-o",
        "webserver.ssl_enabled=true",
        "-o",
        &format!(
            "webserver.ssl_certificate={}",
            d.join("falco.pem").display()
        ),
    ]);
    let out = Command::new("curl")
        .arg("-sS")
        .arg("--cacert")
        .arg(d.join("ca.pem"))
        .arg(format!("https://localhost:{}/healthz", daemon.port))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        reference("healthz.body")
    );

    // A PEM without a key: Falco's runtime error, exit 1.
    let cfg = shared_dir().join("upstream/falco-0.44.1/falco.yaml");
    std::fs::write(d.join("r.yaml"), RULE).unwrap();
    let port = free_port().to_string();
    let out = crate::util::run_falco(
        &[
            "-c".into(),
            cfg.to_string_lossy().into_owned(),
            "-o".into(),
            "engine.kind=nodriver".into(),
            "-o".into(),
            "webserver.ssl_enabled=true".into(),
            "-o".into(),
            format!("webserver.ssl_certificate={}", d.join("cert.pem").display()),
            "-o".into(),
            format!("webserver.listen_port={port}"),
            "-r".into(),
            d.join("r.yaml").to_string_lossy().into_owned(),
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.ends_with("Runtime error: invalid webserver configuration. Exiting.\n"),
        "{err}"
    );
}

/// `--support`: one JSON line with Falco's keys, after the rules are loaded.
#[test]
fn support_report() {
    let cfg = shared_dir().join("upstream/falco-0.44.1/falco.yaml");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yaml");
    std::fs::write(&rules, RULE).unwrap();
    let args: Vec<String> = [
        "-c",
        &cfg.to_string_lossy(),
        "-o",
        "load_plugins[]=container",
        "-r",
        &rules.to_string_lossy(),
        "--support",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = crate::util::run_falco(&args, &[], Duration::from_secs(60));
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "cmdline",
            "config",
            "engine_info",
            "rules_files",
            "system_info",
            "version"
        ]
    );
    assert_eq!(v["version"], "0.44.1");
    assert_eq!(v["engine_info"]["plugin_versions"]["container"], "0.7.1");
    assert_eq!(v["rules_files"][0]["variants"][0]["content"], RULE);
    assert!(v["cmdline"].as_str().unwrap().starts_with("falco -c "));
    assert!(
        v["config"]
            .as_str()
            .unwrap()
            .starts_with("{\"config_files\": [\"/etc/falco/config.d\"]")
    );
    assert_eq!(v["system_info"]["sysname"], "Linux");
}

/// `--plugin-info`: the built-in container plugin by name or configured library path prints
/// Falco's descriptive block (the one `--list-plugins` prints, golden `cli/list-plugins`),
/// then its JSON init schema; the plugin has no event sourcing, so no open params. A plugin
/// that `load_plugins` did not select is Falco's fatal error.
#[test]
fn plugin_info() {
    let run = |extra: &[&str]| run_env(extra, &[]);
    let golden =
        std::fs::read_to_string(shared_dir().join("conformance/goldens/cli/list-plugins/stdout"))
            .unwrap();
    let block = golden
        .strip_prefix("1 Plugins Loaded:\n\n")
        .and_then(|b| b.strip_suffix('\n'))
        .unwrap();
    for which in ["container", "/usr/share/falco/plugins/libcontainer.so"] {
        let out = run(&["-o", "load_plugins[]=container", "--plugin-info", which]);
        assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let rest = stdout
            .strip_prefix(block)
            .unwrap_or_else(|| panic!("{stdout}"));
        let schema = rest
            .strip_prefix("Init config schema type: JSON\n")
            .and_then(|s| s.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("{rest}"));
        assert!(!schema.contains('\n'), "{schema}");
        let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
        assert_eq!(
            schema["properties"]["engines"]["$ref"],
            "#/definitions/Engines"
        );
    }
    for extra in [
        &["--plugin-info", "container"][..],
        &[
            "-o",
            "load_plugins[]=container",
            "--plugin-info",
            "libcontainer.so",
        ][..],
    ] {
        let out = run(extra);
        assert_eq!(out.code, 1);
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        let which = extra.last().unwrap();
        assert!(
            err.ends_with(&format!(
                "Error: can't find plugin and print its info: {which}\n"
            )),
            "{err}"
        );
    }
}
