//! Loader tests: quirks of the rules language, and goldens recorded from Falco 0.44.1.

use std::path::PathBuf;

use super::*;
use crate::fields::{ArgKind, ArgType, FieldInfo, FieldType};

/// `FALCO_RS_SHARED`, else `<manifest>/../shared`, else `/work/shared`.
pub(crate) fn shared_dir() -> PathBuf {
    if let Ok(d) = std::env::var("FALCO_RS_SHARED") {
        return PathBuf::from(d);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if p.exists() {
        p
    } else {
        PathBuf::from("/work/shared")
    }
}

static ANY_FIELD: FieldInfo = FieldInfo {
    name: "any.field",
    class: "test",
    ftype: FieldType::Charbuf,
    arg: ArgKind::Allowed,
    arg_type: ArgType::IndexOrKey,
    is_list: false,
    hidden: false,
    desc: "",
};

static BUF_FIELD: FieldInfo = FieldInfo {
    name: "evt.buffer",
    ftype: FieldType::Bytebuf,
    arg: ArgKind::None,
    ..ANY_FIELD
};

/// Every dotted name is a string field taking an optional argument (`evt.buffer` is a buffer).
pub(crate) fn permissive_lookup(name: &str) -> Option<&'static FieldInfo> {
    if name == "evt.buffer" {
        return Some(&BUF_FIELD);
    }
    name.contains('.').then_some(&ANY_FIELD)
}

fn upstream(file: &str) -> (String, String) {
    let path = shared_dir().join("upstream/rules").join(file);
    let content = std::fs::read_to_string(&path).unwrap();
    (path.display().to_string(), content)
}

const STABLE: &str = "falco_rules.yaml";
const INCUBATING: &str = "falco-incubating_rules.yaml";
const SANDBOX: &str = "falco-sandbox_rules.yaml";

fn golden(case: &str) -> String {
    std::fs::read_to_string(
        shared_dir()
            .join("conformance/goldens/cli")
            .join(case)
            .join("stdout"),
    )
    .unwrap()
}

/// The goldens' `{upstream}` substitution applied to our output.
fn normalise(s: &str) -> String {
    let up = shared_dir().join("upstream").display().to_string();
    s.replace(&up, "{upstream}")
}

fn golden_loader(
    files: &[&str],
    lookup: crate::engine::filter::Lookup,
) -> (RulesLoader, Vec<LoadResult>) {
    let opts = LoadOptions {
        lookup,
        loaded_plugins: vec![PluginVersion::container()],
        ..LoadOptions::default()
    };
    let mut loader = RulesLoader::new(opts);
    let mut results = Vec::new();
    for f in files {
        let (name, content) = upstream(f);
        results.push(loader.load_file(&name, &content));
        assert!(loader.check_plugin_requirements().is_ok());
    }
    (loader, results)
}

fn assert_text_eq(ours: &str, golden: &str) {
    if ours != golden {
        for (i, (a, b)) in ours.lines().zip(golden.lines()).enumerate() {
            assert_eq!(a, b, "first difference at line {}", i + 1);
        }
        assert_eq!(
            ours.lines().count(),
            golden.lines().count(),
            "line counts differ"
        );
        assert_eq!(ours, golden);
    }
}

fn check_l_text(case: &str, files: &[&str], lookup: crate::engine::filter::Lookup) {
    let (loader, results) = golden_loader(files, lookup);
    assert!(results.iter().all(LoadResult::successful));
    assert_text_eq(&normalise(&loader.describe_rules_text()), &golden(case));
}

fn check_v(case: &str, files: &[&str], json: bool, lookup: crate::engine::filter::Lookup) {
    let (_, results) = golden_loader(files, lookup);
    if json {
        let ours: serde_json::Value =
            serde_json::from_str(&normalise(&render_validate_json(&results))).unwrap();
        let want: serde_json::Value = serde_json::from_str(&golden(case)).unwrap();
        assert_eq!(ours, want);
    } else {
        assert_text_eq(&normalise(&render_validate_text(&results)), &golden(case));
    }
}

#[test]
fn golden_l_text_permissive() {
    check_l_text("L-stable-text", &[STABLE], permissive_lookup);
    check_l_text(
        "L-all-text",
        &[STABLE, INCUBATING, SANDBOX],
        permissive_lookup,
    );
}

#[test]
fn golden_v_permissive() {
    check_v("V-stable-text", &[STABLE], false, permissive_lookup);
    check_v("V-stable-json", &[STABLE], true, permissive_lookup);
    check_v("V-incubating-text", &[INCUBATING], false, permissive_lookup);
    check_v("V-incubating-json", &[INCUBATING], true, permissive_lookup);
    check_v("V-sandbox-text", &[SANDBOX], false, permissive_lookup);
    check_v("V-sandbox-json", &[SANDBOX], true, permissive_lookup);
    check_v(
        "V-all-text",
        &[STABLE, INCUBATING, SANDBOX],
        false,
        permissive_lookup,
    );
    check_v(
        "V-all-json",
        &[STABLE, INCUBATING, SANDBOX],
        true,
        permissive_lookup,
    );
}

#[test]
fn golden_l_rule_text_and_condition_compiled() {
    let (loader, _) = golden_loader(&[STABLE], permissive_lookup);
    let rule = "Read sensitive file untrusted";
    assert_text_eq(
        &loader.describe_rule_text(rule).unwrap(),
        &golden("l-rule-text"),
    );
    let want: serde_json::Value = serde_json::from_str(&golden("l-rule-json")).unwrap();
    let want = want["rules"][0]["details"]["condition_compiled"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(loader.compiled_condition(rule).unwrap(), want);
    assert_eq!(
        loader.describe_rule_text("No such rule"),
        Err("Rule \"No such rule\" is not loaded".to_string())
    );
}

/// Runs the `-V` cases of falco-testing whose expectations are about load results; returns
/// the ids of the failing cases with a reason.
fn falco_testing_validation(lookup: crate::engine::filter::Lookup) -> (usize, Vec<String>) {
    let dir = shared_dir().join("conformance/falco-testing");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases["cases"].as_array().unwrap() {
        let args: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        if !args.contains(&"-V") || case.get("status").and_then(|s| s.as_str()) == Some("retired") {
            continue;
        }
        ran += 1;
        let id = case["id"].as_str().unwrap();
        let files: Vec<String> = args
            .windows(2)
            .filter(|w| w[0] == "-V")
            .map(|w| w[1].replace("{rules}", &dir.join("rules").display().to_string()))
            .collect();
        let opts = LoadOptions {
            lookup,
            ..LoadOptions::default()
        };
        let mut loader = RulesLoader::new(opts);
        let mut results = Vec::new();
        let mut fatal = false;
        for f in &files {
            let content = std::fs::read_to_string(f).unwrap();
            results.push(loader.load_file(f, &content));
            if loader.check_plugin_requirements().is_err() {
                fatal = true;
                break;
            }
        }
        let exit_code = i64::from(fatal || !results.iter().all(LoadResult::successful));
        let json: Vec<serde_json::Value> = results.iter().map(LoadResult::to_json).collect();
        for e in case["expect"].as_array().unwrap() {
            let ok = match e["check"].as_str().unwrap() {
                "exit_code" => e["equals"].as_i64() == Some(exit_code),
                "error" => e["expect"].as_bool() == Some(exit_code != 0),
                "validation_result" => {
                    let i = e["index"].as_u64().unwrap() as usize;
                    json.get(i)
                        .and_then(|r| r["successful"].as_bool())
                        .unwrap_or(false)
                        == e["successful"].as_bool().unwrap()
                }
                "validation" => {
                    let list = e["list"].as_str().unwrap();
                    let n = json
                        .iter()
                        .flat_map(|r| r[list].as_array().unwrap().iter())
                        .filter(|entry| {
                            let locs = entry["context"]["locations"].as_array().unwrap();
                            e.get("code").is_none_or(|c| {
                                c.as_str()
                                    .unwrap()
                                    .eq_ignore_ascii_case(entry["code"].as_str().unwrap())
                            }) && e.get("message").is_none_or(|m| m == &entry["message"])
                                && e.get("item_type").is_none_or(|t| {
                                    locs.iter().any(|l| {
                                        l["item_type"]
                                            .as_str()
                                            .unwrap()
                                            .eq_ignore_ascii_case(t.as_str().unwrap())
                                    })
                                })
                                && e.get("item_name")
                                    .is_none_or(|t| locs.iter().any(|l| &l["item_name"] == t))
                        })
                        .count() as u64;
                    match e.get("equals") {
                        Some(eq) => eq.as_u64() == Some(n),
                        None => n >= e["min"].as_u64().unwrap_or(1),
                    }
                }
                _ => true,
            };
            if !ok {
                failures.push(format!("{id}: {e}\n{}", render_validate_text(&results)));
            }
        }
    }
    (ran, failures)
}

/// Cases whose expectations depend on the real field catalog or event table (unknown fields
/// and event types); every other case must pass with the permissive test catalog.
const NEEDS_CATALOG: [&str; 2] = [
    "TestFalco_Legacy_SkipUnknownUnspecError",
    "TestFalco_Legacy_ValidateSkipUnknownNoevt",
];

#[test]
fn falco_testing_validation_permissive() {
    let (ran, failures) = falco_testing_validation(permissive_lookup);
    let failures: Vec<&String> = failures
        .iter()
        .filter(|f| !NEEDS_CATALOG.iter().any(|id| f.starts_with(id)))
        .collect();
    for f in &failures {
        println!("FAIL {f}");
    }
    assert_eq!(ran, 26);
    assert!(failures.is_empty(), "{} failed checks", failures.len());
}

#[test]
fn falco_testing_validation_catalog() {
    assert!(
        crate::fields::lookup("proc.name").is_some(),
        "the field catalog has not landed yet"
    );
    let (ran, failures) = falco_testing_validation(crate::fields::lookup);
    for f in &failures {
        println!("FAIL {f}");
    }
    assert_eq!(ran, 26);
    assert!(failures.is_empty(), "{} failed checks", failures.len());
}

#[test]
fn golden_catalog() {
    assert!(
        crate::fields::lookup("proc.name").is_some(),
        "the field catalog has not landed yet"
    );
    let lookup = crate::fields::lookup;
    check_l_text("L-stable-text", &[STABLE], lookup);
    check_l_text("L-all-text", &[STABLE, INCUBATING, SANDBOX], lookup);
    for (case, files) in [
        ("V-stable", &[STABLE][..]),
        ("V-incubating", &[INCUBATING][..]),
        ("V-sandbox", &[SANDBOX][..]),
        ("V-all", &[STABLE, INCUBATING, SANDBOX][..]),
    ] {
        check_v(&format!("{case}-text"), files, false, lookup);
        check_v(&format!("{case}-json"), files, true, lookup);
    }
    let (loader, _) = golden_loader(&[STABLE], lookup);
    assert_text_eq(
        &loader
            .describe_rule_text("Read sensitive file untrusted")
            .unwrap(),
        &golden("l-rule-text"),
    );
}
