//! Loader tests: quirks of the rules language, and goldens recorded from Falco 0.44.1.

use std::path::PathBuf;

use super::*;
use crate::fields::{ArgKind, ArgType, FieldInfo, FieldType};

/// `FALCO_RS_SHARED`, else `<manifest>/../shared`, else `/work/shared`.
pub(crate) use crate::test_support::shared_dir;

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
    // the goldens ran with the default falco.yaml: `append_output: [suggested_output: true]`
    let opts = LoadOptions {
        lookup,
        loaded_plugins: vec![PluginVersion::container()],
        extra_outputs: vec![ExtraOutput::container_suggested()],
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

// ---- language quirks ---------------------------------------------------------------------

fn load_str(content: &str) -> (RulesLoader, LoadResult) {
    let opts = LoadOptions {
        lookup: permissive_lookup,
        ..LoadOptions::default()
    };
    let mut loader = RulesLoader::new(opts);
    let res = loader.load_file("rules.yaml", content);
    (loader, res)
}

fn cond(content: &str, rule: &str) -> String {
    let (loader, res) = load_str(content);
    assert!(res.successful(), "{}", res.verbose_text());
    loader.compiled_condition(rule).unwrap()
}

fn first_error(content: &str) -> (String, String, String) {
    let (_, res) = load_str(content);
    let e = res
        .errors
        .first()
        .unwrap_or_else(|| panic!("no error: {}", res.verbose_text()));
    let last = e.ctx.locs.last().unwrap();
    (
        e.code.code().to_string(),
        e.msg.clone(),
        last.item_type.as_str().to_string(),
    )
}

fn warning_codes(content: &str) -> Vec<&'static str> {
    let (_, res) = load_str(content);
    assert!(res.successful(), "{}", res.verbose_text());
    res.warnings.iter().map(|w| w.code.code()).collect()
}

const R: &str = "  desc: d\n  output: o\n  priority: INFO\n  warn_evttypes: false\n";

#[test]
fn list_substitution_is_textual() {
    let mut c = "proc.cmdline contains \"a my_list b\"".to_string();
    assert!(compiler::resolve_list(
        &mut c,
        "my_list",
        &["x y".into(), "z".into()]
    ));
    assert_eq!(c, "proc.cmdline contains \"a \"x y\", z b\"");
    // empty lists swallow one adjacent comma
    let mut c = "proc.name in (a, empty)".to_string();
    assert!(compiler::resolve_list(&mut c, "empty", &[]));
    assert_eq!(c, "proc.name in (a  )");
    // not a whole token
    let mut c = "proc.name in (my_list2)".to_string();
    assert!(!compiler::resolve_list(&mut c, "my_list", &["x".into()]));
    let rules = format!(
        "- rule: r\n  condition: proc.name in (shells, undefined_list)\n{R}- list: shells\n  items: [bash, \"a b\"]\n"
    );
    assert_eq!(
        cond(&rules, "r"),
        "proc.name in (bash, \"a b\", undefined_list)"
    );
}

#[test]
fn nested_lists_respect_definition_order() {
    let rules = format!(
        "- list: a\n  items: [x]\n- list: b\n  items: [a, c]\n- list: c\n  items: [y]\n- rule: r\n  condition: proc.name in (b)\n{R}"
    );
    // `c` is defined after `b`: it stays a literal inside b, then the rule's text substitution
    // of list c (a later list in the loop) rewrites it again
    assert_eq!(cond(&rules, "r"), "proc.name in (x, y)");
    let (_, res) = load_str(&rules);
    assert!(res.warnings.is_empty());
}

#[test]
fn macro_order() {
    // a macro sees only macros defined before it, even when unused
    let (code, msg, item_type) = first_error(&format!(
        "- macro: m1\n  condition: m2\n- macro: m2\n  condition: proc.name = x\n- rule: r\n  condition: m2\n{R}"
    ));
    assert_eq!(
        (code.as_str(), msg.as_str(), item_type.as_str()),
        (
            "LOAD_ERR_VALIDATE",
            "Undefined macro 'm2' used in filter.",
            "condition expression"
        )
    );
    // rules see every macro
    let rules = format!(
        "- rule: r\n  condition: m and proc.pname = y\n{R}- macro: m\n  condition: proc.name = x\n"
    );
    assert_eq!(cond(&rules, "r"), "(proc.name = x and proc.pname = y)");
    // loops
    let (_, msg, _) = first_error(&format!(
        "- macro: m\n  condition: proc.name = x\n- macro: m\n  condition: m or a.b = c\n- rule: r\n  condition: m\n{R}"
    ));
    assert_eq!(msg, "reference loop in macro 'm'");
}

#[test]
fn unused_macros_and_lists() {
    let rules = format!(
        "- list: l\n  items: [a]\n- macro: inner\n  condition: proc.name = x\n- macro: outer\n  condition: inner\n- rule: r\n  condition: proc.name = y\n{R}"
    );
    // `inner` is used by the (unused) `outer`
    assert_eq!(
        warning_codes(&rules),
        ["LOAD_UNUSED_MACRO", "LOAD_UNUSED_LIST"]
    );
    let (_, res) = load_str(&rules);
    assert_eq!(res.warnings[0].ctx.locs.last().unwrap().item_name, "outer");
}

#[test]
fn append_and_override_lists_and_macros() {
    let rules = format!(
        "- list: l\n  items: [a]\n- list: l\n  items: [b]\n  override:\n    items: append\n- list: l\n  items: [c]\n  append: true\n\
         - macro: m\n  condition: proc.name in (l)\n- macro: m\n  condition: or proc.name = z\n  override:\n    condition: append\n\
         - rule: r\n  condition: m\n{R}"
    );
    assert_eq!(
        cond(&rules, "r"),
        "(proc.name in (a, b, c) or proc.name = z)"
    );
    assert_eq!(warning_codes(&rules), ["LOAD_DEPRECATED_ITEM"]);
    let rules = "- list: l\n  items: [a]\n- list: l\n  items: [b]\n  override:\n    items: replace\n- rule: r\n  condition: proc.name in (l)\n".to_string() + R;
    assert_eq!(cond(&rules, "r"), "proc.name in (b)");
    let (code, msg, _) = first_error("- list: l\n  items: [b]\n  override:\n    items: append\n");
    assert_eq!(code, "LOAD_ERR_VALIDATE");
    assert_eq!(
        msg,
        "List uses 'append' or 'override.items: append' but no list by that name already exists"
    );
    let (code, msg, _) = first_error("- macro: m\n  condition: x\n  append: true\n");
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "LOAD_ERR_VALIDATE",
            "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"
        )
    );
    let (code, msg, _) =
        first_error("- list: l\n  items: [b]\n  append: true\n  override:\n    items: append\n");
    assert_eq!(code, "LOAD_ERR_YAML_VALIDATE");
    assert!(msg.starts_with("Keys 'override' and 'append: true' cannot be used together."));
}

#[test]
fn later_files_recompile_earlier_rules() {
    // each file recompiles everything loaded so far: a rule of the first file sees the list
    // append and the macro override of the second, and its filter follows
    let opts = LoadOptions {
        lookup: permissive_lookup,
        ..LoadOptions::default()
    };
    let mut loader = RulesLoader::new(opts);
    let first = format!(
        "- list: l\n  items: [a]\n- macro: m\n  condition: proc.name in (l)\n- rule: r\n  condition: m\n{R}"
    );
    assert!(loader.load_file("first.yaml", &first).successful());
    assert_eq!(loader.compiled_condition("r").unwrap(), "proc.name in (a)");
    let second = "- list: l\n  items: [b]\n  override:\n    items: append\n\
                  - macro: m\n  condition: proc.name in (l) and proc.pname = p\n  override:\n    condition: replace\n";
    let res = loader.load_file("second.yaml", second);
    assert!(res.successful(), "{}", res.verbose_text());
    assert_eq!(
        loader.compiled_condition("r").unwrap(),
        "(proc.name in (a, b) and proc.pname = p)"
    );
    // a third file leaves the texts unchanged: same condition, only its own warning
    let res = loader.load_file("third.yaml", "- list: unused\n  items: [x]\n");
    assert_eq!(
        res.warnings
            .iter()
            .map(|w| w.code.code())
            .collect::<Vec<_>>(),
        ["LOAD_UNUSED_LIST"]
    );
    assert_eq!(
        loader.compiled_condition("r").unwrap(),
        "(proc.name in (a, b) and proc.pname = p)"
    );
}

#[test]
fn flow_sequence_closed_at_column_zero_loads() {
    // yaml-cpp accepts a flow sequence whose `]` is less indented than its key
    let rules =
        format!("- list: l\n  items: [a,\n    b\n]\n- rule: r\n  condition: proc.name in (l)\n{R}");
    assert!(
        super::yaml::load_all(&rules).is_err(),
        "saphyr alone rejects it"
    );
    assert_eq!(cond(&rules, "r"), "proc.name in (a, b)");
}

#[test]
fn append_and_override_rules() {
    let base = "- rule: r\n  condition: proc.name = a\n  desc: d\n  output: \"  o  \"\n  priority: INFO\n  tags: [t2, t1]\n";
    let rules = format!(
        "{base}- rule: r\n  condition: or proc.name = b\n  output: more\n  tags: [t0]\n  override:\n    condition: append\n    output: append\n    tags: append\n"
    );
    let (loader, res) = load_str(&rules);
    assert!(res.successful(), "{}", res.verbose_text());
    assert_eq!(
        loader.compiled_condition("r").unwrap(),
        "(proc.name = a or proc.name = b)"
    );
    let rs = loader.ruleset().unwrap();
    assert_eq!(
        rs.rules[0].output, "o more",
        "definition output is trimmed, appended text is not"
    );
    assert_eq!(rs.rules[0].tags, ["t0", "t1", "t2"]);
    let rules = format!(
        "{base}- rule: r\n  priority: error\n  enabled: false\n  override:\n    priority: replace\n    enabled: replace\n"
    );
    let (loader, _) = load_str(&rules);
    let rs = loader.ruleset().unwrap();
    assert_eq!(
        (rs.rules[0].priority, rs.rules[0].enabled),
        (Priority::Error, false)
    );
    let (_, msg, _) = first_error(&format!(
        "{base}- rule: r\n  priority: error\n  override:\n    priority: append\n"
    ));
    assert_eq!(
        msg,
        "Key 'priority' cannot be appended to, use 'replace' instead"
    );
    let (_, msg, _) = first_error(&format!(
        "{base}- rule: r\n  desc: x\n  override:\n    desc: prepend\n"
    ));
    assert_eq!(
        msg,
        "Invalid override operation for key 'desc': 'prepend'. Allowed values are: append replace "
    );
    let (_, msg, _) = first_error(&format!(
        "{base}- rule: r\n  desc: x\n  output: y\n  override:\n    desc: replace\n"
    ));
    assert_eq!(
        msg,
        "Unexpected key 'output': no corresponding entry under 'override' is defined."
    );
    let (_, msg, _) = first_error(&format!(
        "{base}- rule: r\n  override:\n    desc: replace\n"
    ));
    assert_eq!(
        msg,
        "An replace override for 'desc' was specified but 'desc' is not defined"
    );
    let (_, msg, _) =
        first_error("- rule: nope\n  condition: x\n  override:\n    condition: append\n");
    assert_eq!(
        msg,
        "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
    );
    let (_, msg, _) = first_error(&format!("{base}- rule: r\n  append: true\n"));
    assert_eq!(
        msg,
        "Appended rule must have exceptions or condition property"
    );
}

#[test]
fn redefinition_keeps_first_position() {
    let rules = format!(
        "- rule: a\n  condition: proc.name = 1\n{R}- rule: b\n  condition: proc.name = 2\n{R}- rule: a\n  condition: proc.name = 3\n{R}"
    );
    let (loader, _) = load_str(&rules);
    assert_eq!(loader.rule_names(), ["a", "b"]);
    assert_eq!(loader.compiled_condition("a").unwrap(), "proc.name = 3");
}

#[test]
fn enabled_only_form() {
    let rules = format!("- rule: a\n  condition: proc.name = 1\n{R}- rule: a\n  enabled: false\n");
    let (loader, res) = load_str(&rules);
    assert_eq!(res.warnings[0].code.code(), "LOAD_DEPRECATED_ITEM");
    assert!(!loader.ruleset().unwrap().rules[0].enabled);
    let (_, msg, _) = first_error("- rule: a\n  enabled: false\n");
    assert_eq!(
        msg,
        "Rule has 'enabled' key but no rule by that name already exists"
    );
}

#[test]
fn exceptions_compile_into_the_condition() {
    let rules = format!(
        "- list: allowed\n  items: [sshd, \"my proc\"]\n\
         - rule: r\n  condition: evt.type = open\n{R}  exceptions:\n\
         \x20   - name: procs\n      fields: proc.name\n      values: [allowed, bash]\n\
         \x20   - name: pairs\n      fields: [proc.name, fd.name]\n      comps: [=, pmatch]\n      values:\n        - [cat, /etc]\n        - [\"a b\", [/x, /y]]\n\
         \x20   - name: lists\n      fields: [proc.name, fd.directory]\n      comps: [in, pmatch]\n      values:\n        - [allowed, /tmp]\n\
         \x20   - name: empty\n      fields: [proc.name]\n"
    );
    assert_eq!(
        cond(&rules, "r"),
        "(evt.type = open and not proc.name in (sshd, \"my proc\", bash) and not ((proc.name = cat and fd.name pmatch (/etc)) or (proc.name = \"a b\" and fd.name pmatch (/x, /y))) \
         and not (proc.name in (sshd, \"my proc\") and fd.directory pmatch (/tmp)))"
    );
    let ex = |body: &str| {
        first_error(&format!(
            "- rule: r\n  condition: evt.type = open\n{R}  exceptions:\n{body}"
        ))
    };
    assert_eq!(
        ex("    - name: e\n      fields: [proc.name]\n      comps: [=, =]\n").1,
        "Fields and comps lists must have equal length"
    );
    assert_eq!(
        ex("    - name: e\n      fields: [proc.name]\n      comps: [nope]\n").1,
        "'nope' is not a supported comparison operator"
    );
    assert_eq!(
        ex("    - name: e\n      fields: proc.name\n      comps: =\n").1,
        "When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. startswith oneof)"
    );
    assert_eq!(
        ex("    - name: e\n      values: [a]\n").1,
        "Item has no mapping for key 'fields'"
    );
    assert_eq!(
        ex("    - fields: [proc.name]\n").1,
        "Item has no mapping for key 'name'"
    );
    assert_eq!(
        ex("    - name: e\n      fields: [proc.name, fd.name]\n      values: [[a]]\n").1,
        "Fields and values lists must have equal length"
    );
}

#[test]
fn exceptions_append() {
    let base = format!(
        "- rule: r\n  condition: evt.type = open\n{R}  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[a]]\n"
    );
    let rules = format!(
        "{base}- rule: r\n  exceptions:\n    - name: e\n      values: [[b]]\n    - name: f\n      fields: proc.pname\n      values: [c]\n  override:\n    exceptions: append\n"
    );
    assert_eq!(
        cond(&rules, "r"),
        "(evt.type = open and not (proc.name = a or proc.name = b) and not proc.pname in (c))"
    );
    let (_, msg, _) = first_error(&format!(
        "{base}- rule: r\n  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[b]]\n  append: true\n"
    ));
    assert_eq!(
        msg,
        "Can not append exception fields to existing exception, only values"
    );
    let codes = warning_codes(&format!(
        "{base}- rule: r\n  exceptions:\n    - name: e\n  override:\n    exceptions: append\n"
    ));
    assert_eq!(codes, ["LOAD_APPEND_NO_VALUES"]);
}

#[test]
fn priorities_and_scalars() {
    for (spelling, p) in [
        ("EMERGENCY", Priority::Emergency),
        ("alert", Priority::Alert),
        ("Critical", Priority::Critical),
        ("ERROR", Priority::Error),
        ("warning", Priority::Warning),
        ("NOTICE", Priority::Notice),
        ("info", Priority::Informational),
        ("INFORMATIONAL", Priority::Informational),
        ("Debug", Priority::Debug),
    ] {
        let (loader, res) = load_str(&format!(
            "- rule: r\n  condition: proc.name = x\n  desc: d\n  output: o\n  priority: {spelling}\n"
        ));
        assert!(res.successful());
        assert_eq!(loader.ruleset().unwrap().rules[0].priority, p);
    }
    let (code, msg, item_type) = first_error(
        "- rule: r\n  condition: proc.name = x\n  desc: d\n  output: o\n  priority: loud\n",
    );
    assert_eq!(
        (code.as_str(), msg.as_str(), item_type.as_str()),
        (
            "LOAD_ERR_YAML_VALIDATE",
            "Invalid priority",
            "rule priority"
        )
    );
    assert_eq!(
        first_error("- rule: r\n  condition: x\n  desc: d\n  priority: INFO\n").1,
        "Item has no mapping for key 'output'"
    );
    assert_eq!(
        first_error("- rule: r\n  condition:\n  output: o\n  desc: d\n  priority: INFO\n").1,
        "Mapping for key 'condition' is empty"
    );
    assert_eq!(
        first_error("- rule: r\n  condition: \"\"\n  output: o\n  desc: d\n  priority: INFO\n").1,
        "Value must be non-empty"
    );
    assert_eq!(
        first_error(&format!(
            "- rule: r\n  condition: proc.name = x\n{R}  enabled: maybe\n"
        ))
        .1,
        "Can't decode YAML scalar value"
    );
    assert_eq!(
        first_error("- list: l\n  items: x\n").1,
        "Value is not a sequence"
    );
    assert_eq!(
        first_error("a: b\n").1,
        "Rules content is not yaml array of objects"
    );
    assert_eq!(first_error("just text\n").1, "Rules content is not yaml");
    assert_eq!(
        first_error("- [a]\n").1,
        "Unexpected element type. Each element should be a yaml associative array."
    );
    // items keep their literal text
    let rules = format!(
        "- list: ports\n  items: [80, 0x1bb, 1.0]\n- rule: r\n  condition: proc.name in (ports)\n{R}"
    );
    assert_eq!(cond(&rules, "r"), "proc.name in (80, 0x1bb, 1.0)");
}

#[test]
fn unknown_items_keys_and_sources() {
    let codes = warning_codes(&format!(
        "- foo: bar\n- rule: r\n  condition: proc.name = x\n{R}  colour: red\n- rule: s\n  condition: x\n{R}  source: k8s_audit\n"
    ));
    assert_eq!(
        codes,
        [
            "LOAD_UNKNOWN_ITEM",
            "LOAD_UNKNOWN_KEY",
            "LOAD_UNKNOWN_SOURCE"
        ]
    );
    let (_, res) = load_str(&format!(
        "- rule: r\n  condition: proc.name = x\n{R}  colour: red\n"
    ));
    assert_eq!(
        res.warnings[0].msg,
        "Unknown key 'colour'. The key will be ignored."
    );
    let codes = warning_codes(&format!(
        "- macro: bad-name\n  condition: proc.name = x\n- list: \"bad list\"\n  items: []\n- rule: r\n  condition: proc.name = x\n{R}"
    ));
    assert_eq!(
        codes,
        [
            "LOAD_INVALID_MACRO_NAME",
            "LOAD_INVALID_LIST_NAME",
            "LOAD_UNUSED_MACRO",
            "LOAD_UNUSED_LIST"
        ]
    );
}

#[test]
fn engine_and_plugin_versions() {
    assert!(
        load_str("- required_engine_version: 0.57.0\n")
            .1
            .successful()
    );
    assert!(load_str("- required_engine_version: 10\n").1.successful());
    let (code, msg, _) = first_error("- required_engine_version: 0.63.0\n");
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "LOAD_ERR_VALIDATE",
            "Rules require engine version 0.63.0, but engine version is 0.62.0"
        )
    );
    assert_eq!(
        first_error("- required_engine_version: abc\n").1,
        "Unable to parse engine version 'abc' as a semver string. Expected \"x.y.z\" semver format."
    );
    let req = "- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n    alternatives:\n      - name: k8smeta\n        version: 0.1.0\n";
    let (loader, res) = load_str(req);
    assert!(res.successful());
    assert_eq!(
        loader.check_plugin_requirements(),
        Err("Plugin requirement not satisfied, must load one of: container (>= 0.4.0), k8smeta (>= 0.1.0)".into())
    );
    let opts = LoadOptions {
        loaded_plugins: vec![PluginVersion::container()],
        lookup: permissive_lookup,
        ..LoadOptions::default()
    };
    let mut loader = RulesLoader::new(opts);
    loader.load_file("r.yaml", req);
    assert_eq!(loader.check_plugin_requirements(), Ok(()));
    let opts = LoadOptions {
        loaded_plugins: vec![PluginVersion {
            name: "container".into(),
            version: "1.0.0".into(),
        }],
        lookup: permissive_lookup,
        ..LoadOptions::default()
    };
    let mut loader = RulesLoader::new(opts);
    loader.load_file("r.yaml", req);
    assert_eq!(
        loader.check_plugin_requirements(),
        Err("Plugin 'container' version '1.0.0' is not compatible with required plugin version '0.4.0'".into())
    );
}

#[test]
fn outputs_compile_at_load() {
    let (code, msg, item_type) = first_error(
        "- rule: r\n  condition: proc.name = x\n  desc: d\n  output: \"%proc.name %\"\n  priority: INFO\n",
    );
    assert_eq!(
        (code.as_str(), msg.as_str(), item_type.as_str()),
        (
            "LOAD_ERR_COMPILE_OUTPUT",
            "invalid formatting syntax: formatting cannot end with a %",
            "rule output"
        )
    );
    let (_, res) = load_str(
        "- rule: r\n  condition: proc.name = x\n  desc: d\n  output: \"%nofield\"\n  priority: INFO\n  skip-if-unknown-filter: true\n",
    );
    assert!(res.successful());
    assert_eq!(res.warnings[0].code.code(), "LOAD_UNKNOWN_FILTER");
    let rules = "- rule: r\n  condition: proc.name = x\n  desc: d\n  output: \"a %container.info b\"\n  priority: INFO\n";
    let (loader, res) = load_str(rules);
    assert_eq!(res.warnings[0].code.code(), "LOAD_DEPRECATED_ITEM");
    assert_eq!(loader.ruleset().unwrap().rules[0].output, "a  b");
    let opts = LoadOptions {
        lookup: permissive_lookup,
        extra_outputs: vec![ExtraOutput::container_suggested()],
        ..LoadOptions::default()
    };
    let mut loader = RulesLoader::new(opts);
    loader.load_file(
        "r.yaml",
        &format!("- rule: r\n  condition: proc.name = x\n{R}"),
    );
    assert_eq!(
        loader.ruleset().unwrap().rules[0].output,
        "o container_id=%container.id container_name=%container.name container_image_repository=%container.image.repository container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name"
    );
}

#[test]
fn condition_errors_carry_positions() {
    let (_, res) = load_str(
        "- rule: r\n  condition: proc.name = x or(a) and b\n  desc: d\n  output: o\n  priority: INFO\n",
    );
    let text = res.verbose_text();
    assert_eq!(
        text,
        "rules.yaml: Invalid\n1 Errors:\n\
         In rules content: (rules.yaml:0:0)\n    rule 'r': (rules.yaml:0:2)\n    rule condition: (rules.yaml:1:13)\n    condition expression: (\"proc.name = x or(...\":2:34)\n\
         ------\nproc.name = x or(a) and b\n                        ^\n------\n\
         LOAD_ERR_COMPILE_CONDITION (Error compiling condition): unexpected token after ')', expecting 'or', 'and'\n"
    );
}

#[test]
fn selection_priority_and_matching() {
    use crate::engine::{Matching, Scratch, Selector};
    let rules = "- rule: r1\n  condition: proc.name = x\n  desc: d\n  output: o\n  priority: WARNING\n  tags: [a]\n\
                 - rule: r2\n  condition: proc.name = x\n  desc: d\n  output: o\n  priority: DEBUG\n  tags: [b]\n\
                 - rule: other\n  condition: proc.name = x\n  desc: d\n  output: o\n  priority: ERROR\n  enabled: false\n";
    let names = |opts: LoadOptions| -> Vec<String> {
        let mut loader = RulesLoader::new(LoadOptions {
            lookup: permissive_lookup,
            ..opts
        });
        assert!(loader.load_file("r.yaml", rules).successful());
        loader
            .ruleset()
            .unwrap()
            .enabled_rules()
            .map(|r| r.name.clone())
            .collect()
    };
    assert_eq!(names(LoadOptions::default()), ["r1", "r2"]);
    assert_eq!(
        names(LoadOptions {
            min_priority: Priority::Notice,
            ..LoadOptions::default()
        }),
        ["r1"]
    );
    assert_eq!(
        names(LoadOptions {
            selection: vec![
                Selector::DisableTag("a".into()),
                Selector::EnableRule("oth*".into())
            ],
            ..LoadOptions::default()
        }),
        ["r2", "other"]
    );
    assert_eq!(
        names(LoadOptions {
            selection: vec![
                Selector::DisableRule("*".into()),
                Selector::EnableTag("b".into())
            ],
            ..LoadOptions::default()
        }),
        ["r2"]
    );

    struct Ev(u16);
    impl crate::fields::Extract for Ev {
        fn evt_type(&self) -> u16 {
            self.0
        }
        fn extract<'s>(
            &'s mut self,
            field: &crate::fields::FieldRef,
            out: &mut Vec<crate::fields::Value<'s>>,
        ) -> bool {
            let v = match field.info {
                "evt.type" => crate::event::table::name_of(self.0).unwrap_or("NA"),
                _ => "x",
            };
            out.push(crate::fields::Value::Str(v.as_bytes().into()));
            true
        }
    }
    let rules = "- rule: a\n  condition: evt.type = open and proc.name = x\n  desc: d\n  output: o\n  priority: INFO\n\
                 - rule: b\n  condition: evt.type in (open, execve) and proc.name = x\n  desc: d\n  output: o\n  priority: INFO\n\
                 - rule: c\n  condition: evt.type = execve and proc.name = x\n  desc: d\n  output: o\n  priority: INFO\n";
    let mut loader = RulesLoader::new(LoadOptions::default());
    assert!(loader.load_file("r.yaml", rules).successful());
    let rs = loader.ruleset().unwrap();
    let open = crate::event::table::codes_for_name("open")[0];
    let execve = crate::event::table::codes_for_name("execve")[0];
    let run = |code: u16, mode: Matching| {
        let (mut out, mut scratch) = (Vec::new(), Scratch::new());
        rs.matches(&mut Ev(code), &mut scratch, mode, &mut out);
        out
    };
    assert_eq!(run(open, Matching::First), [0]);
    assert_eq!(run(open, Matching::All), [0, 1]);
    assert_eq!(run(execve, Matching::All), [1, 2]);
    assert_eq!(run(execve, Matching::First), [1]);
    assert!(
        run(
            crate::event::table::codes_for_name("close")[0],
            Matching::All
        )
        .is_empty()
    );
}

fn json_eq(ours: &str, case: &str) {
    let ours: serde_json::Value = serde_json::from_str(&normalise(ours)).unwrap();
    let want: serde_json::Value = serde_json::from_str(&golden(case)).unwrap();
    if ours != want {
        let (o, w) = (
            serde_json::to_string_pretty(&ours).unwrap(),
            serde_json::to_string_pretty(&want).unwrap(),
        );
        assert_text_eq(&o, &w);
    }
}

#[test]
fn golden_l_rule_json() {
    let (loader, _) = golden_loader(&[STABLE], crate::fields::lookup);
    json_eq(
        &loader
            .describe_rule_json("Read sensitive file untrusted")
            .unwrap(),
        "l-rule-json",
    );
}

#[test]
fn golden_l_json() {
    let (loader, _) = golden_loader(&[STABLE], crate::fields::lookup);
    json_eq(&loader.describe_rules_json(), "L-stable-json");
    let (loader, _) = golden_loader(&[STABLE, INCUBATING, SANDBOX], crate::fields::lookup);
    json_eq(&loader.describe_rules_json(), "L-all-json");
}

/// Every falco-testing case that runs Falco with `-r` files and expects a successful start
/// must load its rules files (in order) without errors.
#[test]
fn falco_testing_runtime_rules_load() {
    let dir = shared_dir().join("conformance/falco-testing");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let args: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        let expects_error = case["expect"].as_array().unwrap().iter().any(|e| {
            (e["check"] == "error" && e["expect"] == true)
                || (e["check"] == "exit_code" && e["equals"] != 0)
        });
        if args.contains(&"-V") || expects_error {
            continue;
        }
        let files: Vec<String> = args
            .windows(2)
            .filter(|w| w[0] == "-r" && w[1].starts_with("{rules}"))
            .map(|w| w[1].replace("{rules}", &dir.join("rules").display().to_string()))
            .collect();
        if files.is_empty() {
            continue;
        }
        let mut loader = RulesLoader::new(LoadOptions::default());
        for f in &files {
            let r = loader.load_file(f, &std::fs::read_to_string(f).unwrap());
            assert!(r.successful(), "{}: {}", case["id"], r.verbose_text());
        }
        assert!(loader.ruleset().is_some());
        checked += 1;
    }
    assert!(checked > 40, "{checked} cases checked");
    println!("{checked} cases");
}

#[test]
fn schema_status_renderings() {
    let mut r = LoadResult::new("f.yaml");
    r.set_schema_status(vec!["failed for /0: unknown key".into()]);
    assert_eq!(
        r.summary_text(),
        "f.yaml: Ok\n 1 schema warnings: [failed for /0: unknown key]"
    );
    assert_eq!(
        r.verbose_text(),
        "f.yaml: Ok\n1 Schema warnings:\n------\nfailed for /0: unknown key\n------\n"
    );
    let j = r.to_json();
    assert_eq!(
        (j["schema_valid"].clone(), j["schema_warnings"][0].clone()),
        (false.into(), "failed for /0: unknown key".into())
    );
    r.set_schema_status(Vec::new());
    assert!(r.to_json().get("schema_valid").is_none());
}

/// A small deterministic generator (xorshift) for the randomized robustness tests below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const NOISE: &[&str] = &[
    "(", ")", "\"", "'", "\\", " ", "\n", ",", "=", "!=", "[", "]", "%", "not ", " and ", " or ",
    "in ", "é", "💥", "\t", "0x", "-", ".", "*", "val(", "tolower(", "exists", "oneof ", "{", "}",
    ":", "- ", "#", "&a", "*a", "!!str ",
];

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let pos = rng.below(chars.len() + 1);
        match rng.below(3) {
            0 => {
                let noise = NOISE[rng.below(NOISE.len())];
                chars.splice(pos..pos, noise.chars());
            }
            1 if pos < chars.len() => {
                let end = (pos + 1 + rng.below(8)).min(chars.len());
                chars.drain(pos..end);
            }
            _ => {
                let from = rng.below(chars.len() + 1);
                let end = (from + rng.below(16)).min(chars.len());
                let piece: Vec<char> = chars[from..end].to_vec();
                chars.splice(pos..pos, piece);
            }
        }
    }
    chars.into_iter().collect()
}

/// Mutated upstream conditions, outputs and rules files never panic the parser, the
/// compilers or the loader (`FALCO_RS_FUZZ_ITERS` raises the count for longer runs).
#[test]
fn randomized_inputs_never_panic() {
    let iters: usize = std::env::var("FALCO_RS_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (_, stable) = upstream(STABLE);
    let (loader, _) = golden_loader(&[STABLE], crate::fields::lookup);
    let conditions: Vec<String> = loader
        .rule_names()
        .iter()
        .filter_map(|n| loader.compiled_condition(n))
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..iters {
        let c = mutate(&mut rng, &conditions[i % conditions.len()]);
        if let Ok(ast) = condition::parse(&c) {
            let _ = crate::engine::filter::compile(&ast, crate::fields::lookup, &mut Vec::new());
            let _ = ast.to_string();
        }
        let _ = crate::engine::Format::compile(&c, crate::fields::lookup);
        // a mutated slice of the stable rules file
        let start = rng.below(stable.len() / 2);
        let start = (start..stable.len())
            .find(|&s| stable.is_char_boundary(s))
            .unwrap_or(0);
        let end = (start + 2000).min(stable.len());
        let end = (end..=stable.len())
            .find(|&e| stable.is_char_boundary(e))
            .unwrap_or(stable.len());
        let doc = mutate(&mut rng, &stable[start..end]);
        let mut l = RulesLoader::new(LoadOptions::default());
        let r = l.load_file("fuzz.yaml", &doc);
        let _ = (
            r.verbose_text(),
            r.to_json(),
            l.describe_rules_json(),
            l.ruleset(),
        );
    }
}

#[test]
fn adversarial_nesting_is_an_error_not_a_crash() {
    let deep_yaml = format!(
        "- rule: r\n  exceptions:\n    - name: e\n      fields: [a.b]\n      values: {}{}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let (_, res) = load_str(&deep_yaml);
    assert!(!res.successful());
    assert!(res.errors[0].msg.starts_with("yaml-cpp: error at line 5"));
    let deep_yaml = format!(
        "- rule: r\n  condition: a.b = 1\n  desc: d\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [a.b]\n      values: {}{}\n",
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let (_, res) = load_str(&deep_yaml);
    assert_eq!(res.errors[0].code.code(), "LOAD_ERR_YAML_PARSE");
    let deep_cond = format!(
        "- rule: r\n  condition: {}a.b = 1{}\n  desc: d\n  output: o\n  priority: INFO\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let (_, res) = load_str(&deep_cond);
    assert_eq!(res.errors[0].msg, "exceeded max depth limit of 1000");
}

#[test]
fn deprecated_fields_and_unsafe_na() {
    let rules = "- rule: r\n  condition: evt.type = open and evt.latency > 0 and evt.dir = < and evt.dir = >\n  desc: d\n  output: \"%evt.dir\"\n  priority: INFO\n";
    let mut loader = RulesLoader::new(LoadOptions::default());
    let r = loader.load_file("r.yaml", rules);
    assert!(r.successful(), "{}", r.verbose_text());
    let got: Vec<(&str, Option<&str>, &str)> = r
        .warnings
        .iter()
        .map(|w| (w.code.code(), w.deprecated_field, w.msg.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "LOAD_DEPRECATED_ITEM",
                Some("evt.dir"),
                "usage of deprecated field 'evt.dir' has been detected in the rule output"
            ),
            (
                "LOAD_DEPRECATED_ITEM",
                Some("evt.dir"),
                "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' always evaluates to false. The rule expression can be simplified by removing the condition on 'evt.dir'"
            ),
            (
                "LOAD_DEPRECATED_ITEM",
                Some("evt.latency"),
                "field is not available due to the drop of enter events."
            ),
        ]
    );
    assert!(r.summary_text().ends_with("[LOAD_DEPRECATED_ITEM (Used deprecated item: field 'evt.dir') LOAD_DEPRECATED_ITEM (Used deprecated item: field 'evt.dir') LOAD_DEPRECATED_ITEM (Used deprecated item: field 'evt.latency')]"));
    assert_eq!(
        r.to_json()["warnings"][2]["deprecated_field"],
        "evt.latency"
    );
    let na =
        format!("- rule: r\n  condition: ka.user.name = <NA> or jevt.value[/x] in (a, <NA>)\n{R}");
    let (_, r) = load_str(&na);
    assert_eq!(
        r.warnings
            .iter()
            .filter(|w| w.code.code() == "LOAD_UNSAFE_NA_CHECK")
            .count(),
        1
    );
}

#[test]
fn evt_type_in_transformers_or_against_fields() {
    let rules = "- rule: r\n  condition: tolower(evt.type) = open\n  desc: d\n  output: o\n  priority: INFO\n";
    let mut l = RulesLoader::new(LoadOptions::default());
    let r = l.load_file("r.yaml", rules);
    assert_eq!(
        r.errors[0].msg,
        "event code search does not support `evt.type` checks with transformers"
    );
    let rules = "- rule: r\n  condition: evt.type = val(proc.name)\n  desc: d\n  output: o\n  priority: INFO\n";
    let r = RulesLoader::new(LoadOptions::default()).load_file("r.yaml", rules);
    assert_eq!(
        r.errors[0].msg,
        "right-hand field comparisons on `evt.type`/`syscall.type` checks are not supported by event code search"
    );
}

#[test]
fn validate_files_flow() {
    let opts = LoadOptions {
        loaded_plugins: vec![PluginVersion::container()],
        extra_outputs: vec![ExtraOutput::container_suggested()],
        ..LoadOptions::default()
    };
    let files: Vec<(String, String)> = [STABLE, INCUBATING, SANDBOX]
        .iter()
        .map(|f| upstream(f))
        .collect();
    let out = validate_files(&files, &opts, false, &Describe::None);
    assert_eq!((out.successful, out.fatal.clone()), (true, None));
    assert_text_eq(&normalise(&out.stdout), &golden("V-all-text"));
    let out = validate_files(&files[..1], &opts, true, &Describe::None);
    let got: serde_json::Value = serde_json::from_str(&normalise(&out.stdout)).unwrap();
    assert_eq!(
        got,
        serde_json::from_str::<serde_json::Value>(&golden("V-stable-json")).unwrap()
    );
    // without the container plugin: Falco's fatal error, nothing on stdout
    let out = validate_files(&files[..1], &LoadOptions::default(), false, &Describe::None);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.fatal.as_deref(),
        Some("Plugin requirement not satisfied, must load one of: container (>= 0.4.0)")
    );
    // an invalid file: stdout has the verbose result, the fatal error is the summary
    let bad = vec![("bad.yaml".to_string(), "- rule: r\n".to_string())];
    let out = validate_files(&bad, &opts, false, &Describe::None);
    assert!(!out.successful);
    assert!(out.stdout.starts_with("bad.yaml: Invalid\n1 Errors:\n"));
    assert_eq!(
        out.fatal.as_deref().map(|f| format!("{f}\n")),
        Some(out.stdout.clone())
    );
    let out = validate_files(&files[..1], &opts, false, &Describe::Rule("nope".into()));
    assert_eq!(out.fatal.as_deref(), Some("Rule \"nope\" is not loaded"));
}

/// yaml-cpp's view of a parsed tree (scalar texts and structure, no positions).
fn yaml_shape(n: &yaml::Node<'_>) -> String {
    if let Some(s) = yaml::scalar(n) {
        return format!("{s:?}");
    }
    if let Some(items) = yaml::sequence(n) {
        let parts: Vec<String> = items.iter().map(yaml_shape).collect();
        return format!("[{}]", parts.join(","));
    }
    let parts: Vec<String> = yaml::entries(n)
        .into_iter()
        .map(|(k, v)| format!("{}:{}", yaml_shape(k), yaml_shape(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

#[test]
fn padded_flow_closers_parse_like_one_at_a_time() {
    // the upstream files with closing brackets at their parent's indentation (sandbox) parse
    // to the same tree with every closer padded as with the one-at-a-time fix
    for file in [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ] {
        let (_, content) = upstream(file);
        let slow = yaml::tolerate_flow_indentation(&content);
        let fast = yaml::pad_flow_closers(&content);
        let slow_docs = yaml::load_all(&slow.0).expect("one-at-a-time parse");
        let fast_docs = yaml::load_all(&fast.0).expect("padded parse");
        assert!(!yaml::pads_in_block_scalar(&fast_docs, &fast.1), "{file}");
        let shape = |d: &[yaml::Node<'_>]| d.iter().map(yaml_shape).collect::<Vec<_>>();
        assert_eq!(shape(&slow_docs), shape(&fast_docs), "{file}");
        // every mark maps back to the original text
        let marks = yaml::Marks::new(&content, fast.1.clone());
        for d in &fast_docs {
            for item in yaml::sequence(d).unwrap_or_default() {
                for (k, _) in yaml::entries(item) {
                    let m = marks.node(k);
                    let key = yaml::key_text(k);
                    assert!(
                        content[m.offset as usize..].starts_with(&key),
                        "{file}: {key}"
                    );
                }
            }
        }
    }
    // a closer inside a literal block is text: padding it would change the scalar
    let text = "- list: a\n  items: [\n    \"x\"\n  ]\n- macro: m\n  condition: |\n    a\n    ]\n";
    let fast = yaml::pad_flow_closers(text);
    let docs = yaml::load_all(&fast.0).expect("padded parse");
    assert!(yaml::pads_in_block_scalar(&docs, &fast.1));
}

#[test]
fn schema_document_is_the_config_parse_of_the_text() {
    // the loader hands the schema check its own parse, which must be what config::Node::parse
    // gives for the same text (upstream files and every falco-testing rules file)
    let mut files: Vec<PathBuf> = [STABLE, INCUBATING]
        .iter()
        .map(|f| shared_dir().join("upstream/rules").join(f))
        .collect();
    let dir = shared_dir().join("conformance/falco-testing/rules");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    more.sort();
    files.extend(more);
    let mut compared = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(docs) = yaml::load_all(&text) else {
            continue;
        };
        let expected = crate::config::Node::parse(&text).unwrap();
        assert_eq!(yaml::config_node(&docs), expected, "{}", path.display());
        compared += 1;
    }
    assert!(compared > 20, "only {compared} files compared");
}

#[test]
fn into_ruleset_moves_what_ruleset_copies() {
    let (loader, results) = golden_loader(&[STABLE, INCUBATING, SANDBOX], crate::fields::lookup);
    assert!(results.iter().all(|r| r.successful()));
    let copied = format!("{:?}", loader.ruleset().unwrap());
    let moved = format!("{:?}", loader.into_ruleset().unwrap());
    assert!(copied.len() > 100_000);
    assert_eq!(moved, copied);
}

/// The evaluation order of `and`/`or` operands (see `engine::order`) changes what an event
/// costs, never an alert: every public trace replayed with the three upstream rule files,
/// every rule evaluated on every event (`rule_matching: all`), gives the same alerts in the
/// same order in both orders.
#[test]
fn evaluation_order_never_changes_an_alert() {
    use crate::driver::replay::{ReplayDriver, ReplayItem};
    use crate::pipeline::{Settings, Worker};

    let (loader, _) = golden_loader(&[STABLE, INCUBATING, SANDBOX], crate::fields::lookup);
    let mut traces = Vec::new();
    let mut dirs = vec![shared_dir().join("upstream/traces")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "scap") {
                traces.push(p);
            }
        }
    }
    traces.sort();
    assert!(traces.len() >= 10, "{traces:?}");
    let settings = || Settings {
        matching: crate::engine::Matching::All,
        ..Settings::default()
    };
    let mut total = 0;
    for trace in &traces {
        let alerts = |ruleset| {
            let mut w = Worker::new(ruleset, settings());
            let mut driver = ReplayDriver::open(trace).unwrap();
            w.reset(driver.metadata());
            let mut out = Vec::new();
            while let Some(item) = driver.next().unwrap() {
                if let ReplayItem::Event(rev) = item {
                    w.on_event(&rev.event, rev.cpuid, rev.state_only(), &mut |a| {
                        out.push((a.rule, a.message))
                    });
                }
            }
            out
        };
        let ordered = alerts(loader.ruleset().unwrap());
        let written = alerts(loader.ruleset_in_written_order().unwrap());
        assert_eq!(ordered, written, "{}", trace.display());
        total += ordered.len();
    }
    // every (event, rule) pair is compared: a result flipped either way adds or removes an
    // alert; the traces do reach the rules (26 alerts when this test was written)
    assert!(total >= 20, "{total} alerts");
}
