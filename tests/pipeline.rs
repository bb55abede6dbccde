//! The replay pipeline as a library and `falco inspect` as a command, checked against what
//! Falco 0.44.1 and the spec say about `falco/cat_write.scap`.

use std::process::Command;

use falco_rs::engine::Matching;
use falco_rs::pipeline::{Settings, run_replay};
use falco_rs::rules::{LoadOptions, load};

use crate::util::{falco_bin, shared_dir};

fn cat_write() -> std::path::PathBuf {
    shared_dir().join("upstream/traces/falco/cat_write.scap")
}

fn ruleset(yaml: &str) -> falco_rs::engine::Ruleset {
    let (rs, results, fatal) = load(
        &[("rules.yaml".to_string(), yaml.to_string())],
        &LoadOptions::default(),
    );
    assert!(fatal.is_none(), "{fatal:?} {results:?}");
    rs.expect("ruleset")
}

/// falco-testing `TestFalco_Legacy_StdoutOutputStrict` (adjusted for 0.44.1): `open_from_cat`
/// fires on the 4 open exits only, at .881785348, .881799840, .882008208 and .882054739.
#[test]
fn open_from_cat_fires_on_the_four_open_exits() {
    let yaml = std::fs::read_to_string(
        shared_dir().join("conformance/falco-testing/rules/single_rule.yaml"),
    )
    .unwrap();
    let mut alerts = Vec::new();
    let summary = run_replay(
        &cat_write(),
        ruleset(&yaml),
        Settings::default(),
        &|| false,
        |a| alerts.push(a),
    )
    .unwrap();
    let times: Vec<u64> = alerts.iter().map(|a| a.time_ns % 1_000_000_000).collect();
    assert_eq!(times, [881_785_348, 881_799_840, 882_008_208, 882_054_739]);
    assert!(
        alerts.iter().all(|a| a.rule == "open_from_cat"
            && a.message == "An open was seen (command=cat /dev/null)")
    );
    assert_eq!(summary.matches, 4);
    // scap-format.md: 345 events in the file, every one delivered or dropped by the converter.
    assert!(summary.events > 300 && summary.events <= 345, "{summary:?}");
}

/// `rule_matching: all` emits every matching rule of an event, `first` only the first one in
/// load order.
#[test]
fn rule_matching_first_and_all() {
    let yaml = "- rule: a\n  desc: a\n  condition: evt.type=open and proc.name=cat\n  output: a %fd.name\n  priority: WARNING\n\
                - rule: b\n  desc: b\n  condition: evt.type=open and fd.name=/dev/null\n  output: b %fd.name\n  priority: NOTICE\n";
    let run = |matching| {
        let mut rules = Vec::new();
        let settings = Settings {
            matching,
            ..Settings::default()
        };
        run_replay(&cat_write(), ruleset(yaml), settings, &|| false, |a| {
            rules.push((a.rule, a.message))
        })
        .unwrap();
        rules
    };
    let first = run(Matching::First);
    assert_eq!(first.len(), 4);
    assert!(first.iter().all(|(r, _)| r == "a"));
    let all = run(Matching::All);
    assert_eq!(all.len(), 5);
    assert_eq!(all[3], ("a".to_string(), "a /dev/null".to_string()));
    assert_eq!(all[4], ("b".to_string(), "b /dev/null".to_string()));
}

fn inspect(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(falco_bin())
        .arg("inspect")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// sysdig's `-p`: without `*` an event with a missing field is skipped, with `*` it prints
/// `<NA>`. `procexit` has no return value (fields.md evt.res), the open exits do.
#[test]
fn inspect_star_prints_events_with_missing_fields() {
    let t = cat_write();
    let t = t.to_str().unwrap();
    let filter = "proc.name=cat and evt.type in (open, procexit)";
    let (plain, _, code) = inspect(&["-r", t, "-p", "%evt.type %evt.res %fd.name", filter]);
    assert_eq!(code, 0);
    assert_eq!(
        plain.lines().collect::<Vec<_>>(),
        [
            "open SUCCESS /etc/ld.so.cache",
            "open SUCCESS /lib/x86_64-linux-gnu/libc.so.6",
            "open SUCCESS /usr/lib/locale/locale-archive",
            "open SUCCESS /dev/null",
        ]
    );
    let (star, _, _) = inspect(&["-r", t, "-p", "*%evt.type %evt.res", filter]);
    assert_eq!(star.lines().count(), 5);
    assert_eq!(star.lines().last(), Some("procexit <NA>"));
}

#[test]
fn inspect_errors_are_clear() {
    let (_, err, code) = inspect(&["-r", "/nonexistent.scap"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error: could not open capture /nonexistent.scap"),
        "{err}"
    );
    let t = cat_write();
    let (_, err, code) = inspect(&["-r", t.to_str().unwrap(), "proc.nope = 1"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error: invalid filter: "), "{err}");
    let (_, err, code) = inspect(&["-p", "%proc.name"]);
    assert_eq!(code, 1);
    assert!(err.contains("missing -r <file>"), "{err}");
}
