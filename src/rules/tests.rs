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

#[test]
fn smoke_upstream_stable() {
    let opts = LoadOptions {
        lookup: permissive_lookup,
        loaded_plugins: vec![PluginVersion::container()],
        ..LoadOptions::default()
    };
    let mut loader = RulesLoader::new(opts);
    let (name, content) = upstream("falco_rules.yaml");
    let res = loader.load_file(&name, &content);
    println!("{}", res.verbose_text());
    assert!(res.successful());
    println!("{}", loader.describe_rules_text());
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
fn debug_print() {
    let (_, results) = golden_loader(&[SANDBOX], permissive_lookup);
    println!("{}", render_validate_text(&results));
    let (_, results) = golden_loader(&[STABLE, INCUBATING, SANDBOX], permissive_lookup);
    println!("{}", render_validate_text(&results));
}
