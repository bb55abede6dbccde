//! Binary-level golden tests: every `cli` and `replay` case of
//! `shared/conformance/goldens/cases.json` runs the built `falco` exactly as Falco 0.44.1 was
//! recorded, and is compared with the case's mode (goldens README "Compare modes").
//!
//! Cases whose feature has not landed are listed in [`KNOWN_FAILURES`] with the reason. The
//! suite fails on any other failure, and on a listed case that passes ("unexpected pass:
//! remove it from KNOWN_FAILURES"), so the list only ever shrinks.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Output, run_falco, shared_dir};

/// Cases expected to fail for now, with why. Prefix match on `suite/case`.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn known_failure(name: &str) -> Option<&'static str> {
    KNOWN_FAILURES
        .iter()
        .find(|(prefix, _)| name == *prefix || name.starts_with(prefix))
        .map(|(_, why)| *why)
}

struct Case {
    suite: String,
    name: String,
    compare: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
}

fn cases(suite: &str) -> Vec<Case> {
    let path = shared_dir().join("conformance/goldens/cases.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["suite"] == suite)
        .map(|c| Case {
            suite: suite.to_string(),
            name: c["case"].as_str().unwrap().to_string(),
            compare: c["compare"].as_str().unwrap().to_string(),
            args: c["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
            env: c["env"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            timeout: Duration::from_secs(c["timeout_s"].as_u64().unwrap_or(120)),
        })
        .collect()
}

fn replace(b: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8_lossy(b).replace(from, to).into_bytes()
}

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .lines()
        .map(String::from)
        .collect()
}

fn multiset(items: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

/// Applies a compare mode; `None` when equal, else why not.
fn compare(mode: &str, exp: &Output, got: &Output) -> Option<String> {
    if exp.code != got.code {
        return Some(format!(
            "exit code {}, expected {} (stderr tail: {:?})",
            got.code,
            exp.code,
            lines(&got.stderr).last().cloned().unwrap_or_default()
        ));
    }
    match mode {
        "exit-code-only" => None,
        "stdout-exact" => {
            if exp.stdout == got.stdout {
                return None;
            }
            let (el, gl) = (lines(&exp.stdout), lines(&got.stdout));
            for (i, (a, b)) in el.iter().zip(gl.iter()).enumerate() {
                if a != b {
                    return Some(format!(
                        "stdout line {} differs:\n  expected {a:?}\n  got      {b:?}",
                        i + 1
                    ));
                }
            }
            Some(format!(
                "stdout differs: {} lines expected, {} got",
                el.len(),
                gl.len()
            ))
        }
        "stdout-json" => {
            let g: Result<Value, _> = serde_json::from_slice(&got.stdout);
            let e: Value = serde_json::from_slice(&exp.stdout).unwrap();
            match g {
                Err(err) => Some(format!("stdout is not one JSON document: {err}")),
                Ok(g) if g == e => None,
                Ok(_) => Some("JSON document differs".to_string()),
            }
        }
        "alerts-json" => {
            let split = |b: &[u8]| {
                let mut alerts = Vec::new();
                let mut other = Vec::new();
                for l in lines(b) {
                    match serde_json::from_str::<Value>(&l) {
                        Ok(Value::Object(mut m)) if l.starts_with('{') => {
                            m.remove("hostname");
                            alerts.push(serde_json::to_string(&m).unwrap());
                        }
                        _ => other.push(l),
                    }
                }
                (multiset(alerts), other)
            };
            let (ea, eo) = split(&exp.stdout);
            let (ga, go) = split(&got.stdout);
            if ea != ga {
                return Some("alert multiset differs".to_string());
            }
            (eo != go)
                .then(|| format!("non-alert stdout lines differ: expected {eo:?}, got {go:?}"))
        }
        "alerts-text" => (multiset(lines(&exp.stdout)) != multiset(lines(&got.stdout)))
            .then(|| "stdout line multiset differs".to_string()),
        "error-line" => {
            let last = |b: &[u8]| lines(b).into_iter().rfind(|l| !l.trim().is_empty());
            let (e, g) = (last(&exp.stderr), last(&got.stderr));
            (e != g).then(|| format!("last stderr line {g:?}, expected {e:?}"))
        }
        other => Some(format!("unknown compare mode {other}")),
    }
}

fn run_case(c: &Case) -> Option<String> {
    let shared = shared_dir();
    let upstream = shared.join("upstream").to_string_lossy().into_owned();
    let case_dir = shared
        .join("conformance/goldens")
        .join(&c.suite)
        .join(&c.name);
    let case_s = case_dir.to_string_lossy().into_owned();
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| {
            a.replace("{upstream}", &upstream)
                .replace("{case}", &case_s)
        })
        .collect();
    let got = run_falco(&args, &c.env, c.timeout);
    let norm = |b: &[u8]| replace(&replace(b, &case_s, "{case}"), &upstream, "{upstream}");
    let got = Output {
        stdout: norm(&got.stdout),
        stderr: norm(&got.stderr),
        code: got.code,
    };
    let read = |f: &str| std::fs::read(case_dir.join(f)).unwrap();
    let exp = Output {
        stdout: read("stdout"),
        stderr: read("stderr"),
        code: String::from_utf8_lossy(&read("exit_code"))
            .trim()
            .parse()
            .unwrap(),
    };
    if let Some(why) = compare(&c.compare, &exp, &got) {
        return Some(why);
    }
    let name = format!("{}/{}", c.suite, c.name);
    if KNOWN_STDERR_DIFFERENCES.iter().any(|(n, _)| *n == name) {
        return None;
    }
    compare_stderr(&exp.stderr, &got.stderr)
}

/// Cases whose stderr differs from Falco's for a reason outside the daemon, with the reason.
const KNOWN_STDERR_DIFFERENCES: &[(&str, &str)] = &[
    (
        "replay/falco_cat_write.testing-skip_unknown_evt.json",
        "rules: column of the LOAD_UNKNOWN_FILTER warning position",
    ),
    (
        "replay/falco_cat_write.testing-skip_unknown_evt.json-matchall",
        "rules: column of the LOAD_UNKNOWN_FILTER warning position",
    ),
    (
        "replay/falco_cat_write.testing-skip_unknown_evt.text",
        "rules: column of the LOAD_UNKNOWN_FILTER warning position",
    ),
];

/// stderr is informational in the goldens, but our log lines are Falco's: equal once the
/// wall-clock stamps are removed, the container plugin's own `[libs]: container:` lines and the
/// recording machine's `System info:` line are dropped, and `{plugins}` is Falco's plugin dir.
fn compare_stderr(exp: &[u8], got: &[u8]) -> Option<String> {
    let stamp =
        regex::Regex::new(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}: ").unwrap();
    let norm = |b: &[u8]| -> Vec<String> {
        lines(b)
            .into_iter()
            .map(|l| stamp.replace(&l, "").into_owned())
            .filter(|l| !l.contains("[libs]: container:") && !l.starts_with("System info:"))
            .map(|l| l.replace("{plugins}", "/usr/share/falco/plugins"))
            .collect()
    };
    let (e, g) = (norm(exp), norm(got));
    if e == g {
        return None;
    }
    for (i, (a, b)) in e.iter().zip(g.iter()).enumerate() {
        if a != b {
            return Some(format!(
                "stderr line {} differs:\n  expected {a:?}\n  got      {b:?}",
                i + 1
            ));
        }
    }
    Some(format!(
        "stderr: {} lines expected, {} got",
        e.len(),
        g.len()
    ))
}

fn run_suite(suite: &str) {
    assert!(
        Path::new(&shared_dir())
            .join("conformance/goldens/cases.json")
            .exists(),
        "goldens not found under {}",
        shared_dir().display()
    );
    let mut passed = Vec::new();
    let mut problems = Vec::new();
    let mut expected_failures = 0;
    let all = cases(suite);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; all.len()]);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(c) = all.get(i) else { break };
                    let r = run_case(c);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    for (c, result) in all.iter().zip(results) {
        let name = format!("{}/{}", c.suite, c.name);
        let result = result.expect("every case ran");
        match (result, known_failure(&name)) {
            (None, None) => passed.push(name),
            (None, Some(_)) => problems.push(format!(
                "UNEXPECTED PASS {name}: remove it from KNOWN_FAILURES"
            )),
            (Some(why), Some(reason)) => {
                expected_failures += 1;
                if std::env::var_os("FALCO_RS_GOLDENS_VERBOSE").is_some() {
                    eprintln!("  known failure {name} ({reason}): {why}");
                }
            }
            (Some(why), None) => problems.push(format!("FAIL {name}: {why}")),
        }
    }
    eprintln!(
        "goldens {suite}: {} passed, {expected_failures} known failures, {} problems",
        passed.len(),
        problems.len()
    );
    for p in &passed {
        eprintln!("  PASS {p}");
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn cli_goldens() {
    run_suite("cli");
}

#[test]
fn replay_goldens() {
    run_suite("replay");
}
