//! Engine tests: every operator, transformer and missing-value rule against a map-backed
//! [`Extract`].

use std::collections::HashMap;

use super::filter::{CompileError, Scratch, compile};
use crate::fields::{ArgKind, ArgType, Extract, FieldArg, FieldInfo, FieldRef, FieldType, Value};
use crate::rules::condition::parse;

const fn fi(
    name: &'static str,
    ftype: FieldType,
    arg: ArgKind,
    arg_type: ArgType,
    is_list: bool,
) -> FieldInfo {
    FieldInfo {
        name,
        class: "test",
        ftype,
        arg,
        arg_type,
        is_list,
        hidden: false,
        desc: "",
    }
}

static FIELDS: &[FieldInfo] = &[
    fi(
        "proc.name",
        FieldType::Charbuf,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "proc.pname",
        FieldType::Charbuf,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "proc.cmdline",
        FieldType::Charbuf,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "proc.aname",
        FieldType::Charbuf,
        ArgKind::Allowed,
        ArgType::Index,
        false,
    ),
    fi(
        "proc.env",
        FieldType::Charbuf,
        ArgKind::Allowed,
        ArgType::Key,
        false,
    ),
    fi(
        "fd.name",
        FieldType::Fspath,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "fd.num",
        FieldType::Int64,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "fd.port",
        FieldType::Port,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "fd.ip",
        FieldType::IpAddr,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "fd.cnet",
        FieldType::IpNet,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "fd.types",
        FieldType::Charbuf,
        ArgKind::None,
        ArgType::Index,
        true,
    ),
    fi(
        "user.uid",
        FieldType::Uint32,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "evt.buffer",
        FieldType::Bytebuf,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "evt.is_open_read",
        FieldType::Bool,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "evt.type",
        FieldType::Charbuf,
        ArgKind::None,
        ArgType::Index,
        false,
    ),
    fi(
        "evt.arg",
        FieldType::Charbuf,
        ArgKind::Allowed,
        ArgType::IndexOrKey,
        false,
    ),
];

fn lookup(name: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.name == name)
}

/// Field values keyed by `name` or `name[arg]`.
#[derive(Default)]
struct MapEvent {
    values: HashMap<String, Vec<Value<'static>>>,
}

impl MapEvent {
    fn with(mut self, key: &str, vals: Vec<Value<'static>>) -> Self {
        self.values.insert(key.to_string(), vals);
        self
    }
    fn s(self, key: &str, v: &str) -> Self {
        self.with(key, vec![Value::Str(v.as_bytes().to_vec().into())])
    }
}

impl Extract for MapEvent {
    fn evt_type(&self) -> u16 {
        0
    }
    fn extract<'s>(&'s mut self, field: &FieldRef, out: &mut Vec<Value<'s>>) -> bool {
        let key = match &field.arg {
            None => field.info.to_string(),
            Some(FieldArg::Index(i)) => format!("{}[{i}]", field.info),
            Some(FieldArg::Key(k)) => format!("{}[{k}]", field.info),
        };
        match self.values.get(&key) {
            Some(v) => {
                out.extend(v.iter().cloned());
                true
            }
            None => false,
        }
    }
}

fn eval(cond: &str, ev: &mut MapEvent) -> bool {
    let ast = parse(cond).unwrap();
    let f = compile(&ast, lookup, &mut Vec::new()).unwrap_or_else(|e| panic!("{cond}: {e}"));
    f.matches(ev, &mut Scratch::new())
}

fn compile_err(cond: &str) -> String {
    let ast = parse(cond).unwrap();
    let e: CompileError = compile(&ast, lookup, &mut Vec::new()).expect_err(cond);
    e.msg
}

fn bash() -> MapEvent {
    MapEvent::default()
        .s("proc.name", "bash")
        .s("proc.cmdline", "bash -c 'ls /tmp'")
        .s("fd.name", "/usr/bin/ls")
        .with("fd.num", vec![Value::Int(3)])
        .with("user.uid", vec![Value::Uint(1000)])
        .with("evt.is_open_read", vec![Value::Bool(true)])
}

#[test]
fn string_operators() {
    let ev = &mut bash();
    assert!(eval("proc.name = bash", ev));
    assert!(eval("proc.name == bash", ev));
    assert!(!eval("proc.name = Bash", ev));
    assert!(eval("proc.name != sh", ev));
    // `<` and friends take numbers only at parse time; strings compare through val()
    assert!(eval("proc.name <= val(proc.name)", ev));
    assert!(!eval("proc.name < val(proc.name)", ev));
    assert!(eval("proc.cmdline contains ls", ev));
    assert!(eval("proc.cmdline icontains LS", ev));
    assert!(!eval("proc.cmdline contains LS", ev));
    assert!(eval("proc.name startswith ba", ev));
    assert!(eval("proc.name endswith sh", ev));
    assert!(eval("proc.name in (sh, bash)", ev));
    assert!(!eval("proc.name in (sh, zsh)", ev));
    assert!(eval("proc.name intersects (bash)", ev));
    assert!(eval("proc.name exists", ev));
    assert!(eval("proc.name regex 'ba.h'", ev));
    assert!(!eval("proc.name regex 'ba'", ev), "regex is a full match");
}

#[test]
fn glob_is_fnmatch_without_pathname() {
    let ev = &mut bash();
    assert!(eval("fd.name glob /usr/*", ev), "* matches /");
    assert!(eval("fd.name glob '/usr/bin/l?'", ev));
    assert!(eval("fd.name glob '/usr/bin/[a-l]s'", ev));
    assert!(!eval("fd.name glob '/usr/bin/[!l]s'", ev));
    assert!(eval("fd.name iglob /USR/*", ev));
    assert!(!eval("fd.name glob /USR/*", ev));
    assert!(!eval("fd.name glob /usr", ev), "anchored");
    assert!(
        eval(r#"fd.name glob /usr/bin/\l*"#, ev),
        "backslash escapes the next character"
    );
    assert!(
        !eval("fd.name glob '/usr/{bin,lib}/ls'", ev),
        "no brace expansion"
    );
}

#[test]
fn pmatch_path_prefixes() {
    let ev = &mut bash();
    assert!(eval("fd.name pmatch (/usr/bin)", ev));
    assert!(eval("fd.name pmatch (/etc, /usr)", ev));
    assert!(!eval("fd.name pmatch (/usr/bi)", ev));
    assert!(eval("fd.name pmatch (/usr/*/ls)", ev));
    assert!(eval("fd.name pmatch (/usr/bin/ls)", ev));
}

#[test]
fn numeric_and_bool_operators() {
    let ev = &mut bash();
    assert!(eval("fd.num = 3", ev));
    assert!(eval("fd.num >= 0", ev));
    assert!(eval("fd.num < 4", ev));
    assert!(eval("fd.num in (1, 2, 3)", ev));
    assert!(eval("user.uid > 999", ev));
    assert!(eval("user.uid != 0", ev));
    assert!(eval("evt.is_open_read = true", ev));
    assert!(!eval("evt.is_open_read = false", ev));
    assert_eq!(compile_err("fd.num = abc"), "abc is not a valid number");
    assert_eq!(compile_err("fd.num = 0x10"), "0x10 is not a valid number");
    assert_eq!(
        compile_err("evt.is_open_read = True"),
        "filter error: unrecognized boolean value True"
    );
    assert_eq!(
        compile_err("fd.num contains 1"),
        "filter error: 'contains' operator not supported for numeric filters"
    );
    assert_eq!(
        compile_err("proc.name bcontains 61"),
        "filter error: 'bcontains' operator not supported for string filters"
    );
}

#[test]
fn buffers() {
    let ev = &mut MapEvent::default().with(
        "evt.buffer",
        vec![Value::Bytes(b"\xca\xfe\xba\xbe rest".to_vec().into())],
    );
    assert!(eval("evt.buffer bcontains cafebabe", ev));
    assert!(eval("evt.buffer bstartswith CAFE", ev));
    assert!(!eval("evt.buffer bstartswith babe", ev));
    assert!(eval("evt.buffer contains rest", ev));
    assert_eq!(
        compile_err("evt.buffer bcontains xyz"),
        "filter error: bcontains and bstartswith operator support hex strings only"
    );
}

#[test]
fn ip_and_networks() {
    let ev = &mut MapEvent::default()
        .with(
            "fd.ip",
            vec![
                Value::Ip("10.0.0.1".parse().unwrap()),
                Value::Ip("192.168.1.5".parse().unwrap()),
            ],
        )
        .with("fd.cnet", vec![Value::Ip("10.1.2.3".parse().unwrap())])
        .with("fd.port", vec![Value::Uint(80), Value::Uint(40000)]);
    assert!(eval("fd.ip = 10.0.0.1", ev), "either endpoint");
    assert!(
        !eval("fd.ip != 10.0.0.1", ev),
        "!= needs both endpoints to differ"
    );
    assert!(eval("fd.ip != 10.9.9.9", ev));
    assert!(
        eval("fd.cnet in (10.0.0.0/8, 172.16.0.0/12)", ev),
        "CIDR containment"
    );
    assert!(eval("fd.port = http", ev), "service names");
    assert!(eval("fd.port in (443, 80)", ev));
    assert!(!eval("fd.port != 80", ev));
    assert_eq!(
        compile_err("fd.cnet = 10.0.0.0"),
        "unrecognized IP network 10.0.0.0"
    );
}

#[test]
fn missing_field_makes_every_check_false() {
    let ev = &mut MapEvent::default();
    assert!(!eval("proc.name = bash", ev));
    assert!(
        !eval("proc.name != bash", ev),
        "!= is false on a missing value"
    );
    assert!(eval("not proc.name = bash", ev), "not flips it to true");
    assert!(eval("not proc.name in (\"<NA>\", \"N/A\")", ev));
    assert!(!eval("proc.name exists", ev));
}

#[test]
fn ancestors_without_index_match_any() {
    let ev = &mut MapEvent::default()
        .with(
            "proc.aname",
            vec![
                Value::Str(b"sshd".to_vec().into()),
                Value::Str(b"systemd".to_vec().into()),
            ],
        )
        .s("proc.aname[1]", "sshd");
    assert!(eval("proc.aname = systemd", ev));
    assert!(
        eval("proc.aname != systemd", ev),
        "some ancestor is not systemd"
    );
    assert!(eval("proc.aname[1] = sshd", ev));
    assert!(
        !eval("proc.aname[2] = systemd", ev),
        "index 2 is missing here"
    );
}

#[test]
fn list_fields() {
    let ev = &mut MapEvent::default().with(
        "fd.types",
        vec![
            Value::Str(b"file".to_vec().into()),
            Value::Str(b"ipv4".to_vec().into()),
        ],
    );
    assert!(eval("fd.types intersects (ipv4, ipv6)", ev));
    assert!(!eval("fd.types in (ipv4, ipv6)", ev));
    assert!(eval("fd.types in (file, ipv4, unix)", ev));
    assert_eq!(
        compile_err("fd.types = file"),
        "filter error: '=' operator not supported list filters"
    );
}

#[test]
fn modifiers() {
    let ev = &mut bash();
    assert!(eval("proc.name startswith oneof (b, z)", ev));
    assert!(
        !eval("proc.name startswith oneof (b, ba)", ev),
        "exactly one"
    );
    assert!(eval("proc.name startswith anyof (b, ba)", ev));
    assert!(eval("proc.name contains allof (a, s, h)", ev));
    assert!(!eval("proc.name contains allof (a, z)", ev));
    assert!(!eval("proc.name = anyof ()", ev), "empty list is false");
}

#[test]
fn transformers_and_val() {
    let ev = &mut bash().s("proc.pname", "bash").s("proc.env[HOME]", "/root");
    assert!(eval("toupper(proc.name) = BASH", ev));
    assert!(eval("tolower(toupper(proc.name)) = bash", ev));
    assert!(eval("basename(fd.name) = ls", ev));
    assert!(eval("len(proc.name) = 4", ev));
    assert!(eval("proc.name = val(proc.pname)", ev));
    assert!(!eval("proc.name != val(proc.pname)", ev));
    assert!(eval("proc.env[HOME] = /root", ev));
    let ev = &mut MapEvent::default().s("proc.cmdline", "YmFzaA");
    assert!(
        eval("b64(proc.cmdline) = bash", ev),
        "b64 decodes without padding"
    );
}

#[test]
fn evt_arg_forms() {
    let ev = &mut MapEvent::default()
        .s("evt.arg[flags]", "O_RDONLY")
        .s("evt.arg[0]", "3");
    assert!(eval("evt.arg.flags contains O_RD", ev));
    assert!(eval("evt.arg[0] = 3", ev));
}

#[test]
fn unknown_fields() {
    assert_eq!(
        compile_err("proc.nobody = x"),
        "filter_check called with nonexistent field proc.nobody"
    );
    assert_eq!(
        compile_err("proc.name[1] = x"),
        "filter error: can't parse field expression 'proc.name[1]'"
    );
    assert_eq!(
        compile_err("my_macro"),
        "filter error: unexpected identifier 'my_macro'"
    );
}

#[test]
fn regex_warnings() {
    let mut w = Vec::new();
    compile(&parse("proc.name regex 'bash.*'").unwrap(), lookup, &mut w).unwrap();
    assert_eq!(
        w[0].msg,
        "regex check with 'bash.*' may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"
    );
    let mut w = Vec::new();
    compile(
        &parse("proc.name regex 'ba(s|t)h'").unwrap(),
        lookup,
        &mut w,
    )
    .unwrap();
    assert!(w.is_empty());
}

#[test]
fn output_formats() {
    use super::format::Format;
    let mut ev = bash();
    let f = Format::compile(
        "*start%proc.nameand%fd.num end %4proc.name|%6proc.name|%proc.pname",
        lookup,
    )
    .unwrap();
    assert_eq!(
        f.render(&mut ev, &mut Scratch::new()).unwrap(),
        "startbashand3 end bash|bash  |<NA>"
    );
    let f = Format::compile("%proc.name %proc.pname", lookup).unwrap();
    assert_eq!(
        f.render(&mut ev, &mut Scratch::new()),
        None,
        "without * a missing value fails"
    );
    assert_eq!(
        Format::compile("a %", lookup).unwrap_err().msg,
        "invalid formatting syntax: formatting cannot end with a %"
    );
    assert_eq!(
        Format::compile("%proc.nobody", lookup).unwrap_err().msg,
        "unknown filter: unexpected token after '"
    );
    assert_eq!(
        Format::compile("%%proc.name", lookup).unwrap_err().msg,
        "unknown filter: unexpected token after '"
    );
}

fn catalog_err(cond: &str) -> String {
    let ast = parse(cond).unwrap();
    compile(&ast, crate::fields::lookup, &mut Vec::new())
        .expect_err(cond)
        .msg
}

#[test]
fn catalog_flags_and_rhs_fields() {
    assert_eq!(
        catalog_err("tolower(fd.ip) = x"),
        "field 'fd.ip' does not support transformers"
    );
    assert_eq!(
        catalog_err("toupper(fd.num) = 1"),
        "can't add field transformer: type 'INT64' is not supported by 'toupper' transformer applied on field 'fd.num'"
    );
    assert_eq!(
        catalog_err("fd.ip = val(fd.sip)"),
        "field 'fd.ip' doesn't support right-hand side fields"
    );
    assert_eq!(
        catalog_err("proc.name = val(fd.num)"),
        "field 'proc.name' has type 'CHARBUF' while the right-hand side field 'fd.num' has incompatible type 'INT64'"
    );
    let ast = parse("proc.name = val(proc.pname) and len(proc.name) > 2").unwrap();
    assert!(compile(&ast, crate::fields::lookup, &mut Vec::new()).is_ok());
}

#[test]
fn event_arguments_with_the_catalog() {
    let ok =
        |c: &str| compile(&parse(c).unwrap(), crate::fields::lookup, &mut Vec::new()).map(|_| ());
    assert!(
        ok("evt.rawarg.res < 0").is_ok(),
        "typed by the `res` parameter"
    );
    assert_eq!(
        catalog_err("evt.rawarg.res = abc"),
        "abc is not a valid number"
    );
    assert_eq!(
        catalog_err("evt.rawarg[0] = 1"),
        "evt.arg fields must be expressed explicitly"
    );
    assert_eq!(
        catalog_err("evt.arg.nosuchparam = x"),
        "unknown event argument nosuchparam"
    );
    assert!(ok("evt.arg.flags contains O_TRUNC and evt.arg[1] = x").is_ok());
}

#[test]
fn output_with_catalog_rendering() {
    use super::format::Format;
    let f = Format::compile("*%proc.name fd=%fd.num %user.name", crate::fields::lookup).unwrap();
    assert_eq!(
        f.render(&mut bash(), &mut Scratch::new()).unwrap(),
        "bash fd=3 <NA>"
    );
    assert_eq!(
        f.fields().collect::<Vec<_>>(),
        ["proc.name", "fd.num", "user.name"]
    );
}

#[test]
fn multi_value_transformers() {
    let ev = &mut bash().s("proc.pname", "sshd");
    assert!(eval(
        r#"join("->", (proc.name, proc.pname)) = bash->sshd"#,
        ev
    ));
    assert!(eval(
        r#"concat(proc.name, "-", proc.pname) = bash-sshd"#,
        ev
    ));
    assert!(eval(
        r#"toupper(concat(proc.name, proc.pname)) = BASHSSHD"#,
        ev
    ));
    assert!(eval(r#"len(join(",", (proc.name, proc.pname))) = 9"#, ev));
    assert!(
        !eval(r#"concat(proc.name, proc.env) = x"#, ev),
        "a missing argument makes the check false"
    );
    assert_eq!(
        compile_err(r#"join(",", proc.name) = x"#),
        "join() second argument must be a list"
    );
    assert_eq!(
        compile_err(r#"join((proc.name), (proc.name)) = x"#),
        "join() first argument (separator) must be a single value, not a list"
    );
    assert_eq!(
        compile_err(r#"concat(proc.name) = x"#),
        "concat() requires at least 2 arguments"
    );
    assert_eq!(
        compile_err(r#"concat(proc.name, fd.num) = x"#),
        "concat() arguments must be strings"
    );
    let f =
        super::format::Format::compile(r#"%join("->", (proc.name, proc.pname))"#, lookup).unwrap();
    assert_eq!(f.render(ev, &mut Scratch::new()).unwrap(), "bash->sshd");
}

#[test]
fn getopt_transformer() {
    let argv = |a: &[&str]| {
        MapEvent::default().with(
            "fd.types",
            a.iter()
                .map(|s| Value::Str(s.as_bytes().to_vec().into()))
                .collect(),
        )
    };
    let ev = &mut argv(&["-n", "-tfoo", "-q", "x", "-z"]);
    assert!(eval(r#"getopt(fd.types, "nt:") intersects (foo)"#, ev));
    assert!(
        eval(r#"getopt(fd.types, "nt:") intersects ("?")"#, ev),
        "unknown options give ?"
    );
    assert!(eval(r#"getopt(fd.types, "nt:")[t] = foo"#, ev));
    assert!(eval(r#"getopt(fd.types, "nt:")[n] = n"#, ev));
    assert!(
        !eval(r#"getopt(fd.types, "nt:")[z] exists"#, ev),
        "stops at the first non-option"
    );
    let ev = &mut argv(&["-t", "bar", "--long", "-t"]);
    assert!(
        eval(r#"getopt(fd.types, "t:")[t] = """#, ev),
        "last match wins; a missing argument is empty"
    );
    assert_eq!(
        compile_err(r#"getopt(proc.name, "t:") = x"#),
        "getopt() first argument must be a list"
    );
    assert_eq!(
        compile_err(r#"getopt(fd.types, "t:")[tt] = x"#),
        "getopt() field argument must be a single option character"
    );
    assert_eq!(
        compile_err(r#"join(",", (proc.name))[x] = y"#),
        "transformer 'join' does not support field arguments"
    );
}

#[test]
fn plugin_field_arguments() {
    assert_eq!(
        catalog_err("k8s.pod.label = x"),
        "filter 'k8s.pod.label': k8s.pod.label requires an argument but none provided"
    );
    assert_eq!(
        catalog_err("container.id[1] = x"),
        "filter 'container.id[1]': container.id does not allow nor require an argument but one is provided: 1"
    );
    assert!(
        compile(
            &parse("k8s.pod.label[app] = x").unwrap(),
            crate::fields::lookup,
            &mut Vec::new()
        )
        .is_ok()
    );
}

#[test]
fn multi_value_output_tokens_render_without_the_catalog() {
    let f = super::format::Format::compile(r#"%concat(proc.name, "!")"#, lookup).unwrap();
    let super::format::Token::Field { operand, .. } = &f.tokens[0] else {
        panic!()
    };
    let (text, json) = super::format::render_multi(operand, &mut bash());
    assert_eq!(
        (text.unwrap(), json),
        (b"bash!".to_vec(), serde_json::Value::from("bash!"))
    );
}

/// An event of code `code` as the extractor sees it: `evt.type` and `evt.dir` as
/// `fields::extract` computes them from the event table, other fields constant; counts the
/// extractions per field.
struct CodeEvent {
    code: u16,
    extracted: HashMap<&'static str, u32>,
}

impl Extract for CodeEvent {
    fn evt_type(&self) -> u16 {
        self.code
    }
    fn extract<'s>(&'s mut self, field: &FieldRef, out: &mut Vec<Value<'s>>) -> bool {
        *self.extracted.entry(field.info).or_default() += 1;
        let info = crate::event::table::by_code(self.code).expect("code in the table");
        let v: &[u8] = match field.info {
            "evt.type" => info.name.as_bytes(),
            "evt.dir" if info.direction() == crate::event::table::Direction::Enter => b">",
            "evt.dir" => b"<",
            _ => b"x",
        };
        out.push(Value::Str(v.into()));
        true
    }
}

/// `evt.type` / `evt.dir` checks answered from the per-code table give, on every event code
/// (the generic events included, which still extract), what comparing the extracted name
/// gives, for every operator the rules use on them.
#[test]
fn code_tables_agree_with_extraction_on_every_code() {
    let conds = [
        "evt.type = open",
        "evt.type != open",
        "evt.type in (open, openat, execve, connect)",
        "not evt.type in (open, openat)",
        "evt.type startswith open",
        "evt.type contains openat",
        "evt.dir = <",
        "evt.dir = >",
        "evt.dir != <",
        "evt.type = execve and evt.dir = <",
    ];
    let n = crate::event::table::all().len() as u16;
    for cond in conds {
        let ast = parse(cond).unwrap();
        let fast = compile(&ast, crate::fields::lookup, &mut Vec::new()).unwrap();
        let mut slow = fast.clone();
        slow.strip_code_tables();
        let mut scratch = Scratch::new();
        for code in 0..n {
            let mut ev = CodeEvent {
                code,
                extracted: HashMap::new(),
            };
            let want = slow.matches(&mut ev, &mut scratch);
            let got = fast.matches(&mut ev, &mut scratch);
            assert_eq!(got, want, "{cond} on code {code}");
        }
    }
}

/// The open code answers `evt.type = open` without extracting `evt.type`; the generic
/// events (whose name comes from their syscall id) still extract it.
#[test]
fn code_tables_skip_extraction_except_for_generic_events() {
    let ast = parse("evt.type = open and evt.dir = <").unwrap();
    let f = compile(&ast, crate::fields::lookup, &mut Vec::new()).unwrap();
    let open = crate::event::table::codes_for_name("open")[1];
    let mut ev = CodeEvent {
        code: open,
        extracted: HashMap::new(),
    };
    assert!(f.matches(&mut ev, &mut Scratch::new()));
    assert!(ev.extracted.is_empty(), "{:?}", ev.extracted);
    let mut ev = CodeEvent {
        code: crate::event::table::PPME_GENERIC_X,
        extracted: HashMap::new(),
    };
    assert!(!f.matches(&mut ev, &mut Scratch::new()));
    assert_eq!(ev.extracted.get("evt.type"), Some(&1));
}

/// A macro used by several rules is evaluated once per event, and its result is not carried
/// over to the next event.
#[test]
fn shared_macros_are_evaluated_once_per_event() {
    let rules = "- macro: m\n  condition: proc.name = x and fd.name = x\n\
                 - rule: a\n  condition: evt.type = open and m and proc.pname = y\n  desc: d\n  output: o\n  priority: INFO\n\
                 - rule: b\n  condition: evt.type = open and m and proc.pname = z\n  desc: d\n  output: o\n  priority: INFO\n\
                 - rule: c\n  condition: evt.type = open and m and proc.pname = x\n  desc: d\n  output: o\n  priority: INFO\n";
    let (rs, results, fatal) = crate::rules::load(
        &[("r.yaml".to_string(), rules.to_string())],
        &crate::rules::LoadOptions::default(),
    );
    assert!(fatal.is_none(), "{fatal:?} {results:?}");
    let rs = rs.unwrap();
    let open = crate::event::table::codes_for_name("open")[1];
    let mut scratch = Scratch::new();
    for _ in 0..2 {
        let mut ev = CodeEvent {
            code: open,
            extracted: HashMap::new(),
        };
        let mut out = Vec::new();
        rs.matches(&mut ev, &mut scratch, super::Matching::All, &mut out);
        assert_eq!(out, [2], "only rule c matches");
        assert_eq!(ev.extracted["proc.name"], 1);
        assert_eq!(ev.extracted["fd.name"], 1);
        assert_eq!(ev.extracted["proc.pname"], 3);
    }
}

/// An event whose single-valued fields (`fd.name`, `fd.num`, `evt.is_open_read`, ...) are
/// served through [`Extract::extract_single`], each with the value given.
struct SingleEvent(Value<'static>);

impl Extract for SingleEvent {
    fn evt_type(&self) -> u16 {
        0
    }
    fn extract_single<'s>(&'s mut self, _field: &FieldRef, out: &mut Option<Value<'s>>) -> bool {
        *out = Some(self.0.clone());
        true
    }
    fn extract<'s>(&'s mut self, _field: &FieldRef, out: &mut Vec<Value<'s>>) -> bool {
        out.push(self.0.clone());
        true
    }
}

/// Checks compared through their compile-time [`Direct`](super::filter) comparison give what
/// the general comparison gives, for values of the expected type (strings cut at a NUL
/// included) and of other types (which take the general path).
#[test]
fn direct_comparisons_agree_with_the_general_path() {
    let conds = [
        "fd.name = /etc/hostname",
        "fd.name != /etc/hostname",
        "fd.name startswith /etc/",
        "fd.name endswith hostname",
        "fd.name contains ../",
        "fd.name in (/etc/shadow, /etc/hostname, \"\")",
        "fd.name intersects (/etc/shadow)",
        "fd.name = \"\"",
        "fd.num >= 0",
        "fd.num = -1",
        "fd.num != 3",
        "fd.num < 3",
        "fd.num <= 3",
        "fd.num > 3",
        "fd.num in (0, 1, 3)",
        "evt.is_open_read = true",
        "evt.is_open_write = false",
        "fd.typechar = f",
        "proc.name in (bash, sh)",
    ];
    let values = [
        Value::Str(b"/etc/hostname".to_vec().into()),
        Value::Str(b"/etc/hostname\0junk".to_vec().into()),
        Value::Str(b"/etc/shadow".to_vec().into()),
        Value::Str(b"/home/x/../../etc".to_vec().into()),
        Value::Str(b"bash".to_vec().into()),
        Value::Str(b"f".to_vec().into()),
        Value::Str(b"".to_vec().into()),
        Value::Str(b"\0".to_vec().into()),
        Value::Bytes(b"/etc/hostname".to_vec().into()),
        Value::Int(-1),
        Value::Int(0),
        Value::Int(3),
        Value::Int(i64::MIN),
        Value::Uint(u64::MAX),
        Value::Bool(true),
        Value::Bool(false),
        Value::Double(2.5),
    ];
    for cond in conds {
        let direct = compile(
            &parse(cond).unwrap(),
            crate::fields::lookup,
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{cond}: {e}"));
        let mut general = direct.clone();
        assert_eq!(general.strip_direct(), 1, "{cond} compares directly");
        let mut scratch = Scratch::new();
        for v in &values {
            let want = general.matches(&mut SingleEvent(v.clone()), &mut scratch);
            let got = direct.matches(&mut SingleEvent(v.clone()), &mut scratch);
            assert_eq!(got, want, "{cond} on {v:?}");
        }
    }
}

/// An `and` runs its cheap, deciding operands first: a rule written kind-of-event first
/// (`evt.is_open_read`, `fd.typechar`) is rejected by its file-name check without extracting
/// the others; in written order the kind is extracted first.
#[test]
fn deciding_operands_run_first() {
    let rules = "- rule: r\n  condition: >\n    evt.type = open and evt.is_open_read = true and fd.typechar = f\n    \
                 and fd.name in (/etc/shadow) and not proc.cmdline contains ansible\n  \
                 desc: d\n  output: o\n  priority: INFO\n";
    let mut loader = crate::rules::RulesLoader::new(crate::rules::LoadOptions::default());
    let result = loader.load_file("r.yaml", rules);
    assert!(result.errors.is_empty(), "{result:?}");
    let open = crate::event::table::codes_for_name("open")[1];
    let run = |rs: super::Ruleset| {
        let mut ev = CodeEvent {
            code: open,
            extracted: HashMap::new(),
        };
        let mut out = Vec::new();
        rs.matches(&mut ev, &mut Scratch::new(), super::Matching::All, &mut out);
        assert!(out.is_empty(), "fd.name is never /etc/shadow here");
        let mut fields: Vec<_> = ev.extracted.into_keys().collect();
        fields.sort();
        fields
    };
    assert_eq!(run(loader.ruleset().unwrap()), ["fd.name"]);
    assert_eq!(
        run(loader.ruleset_in_written_order().unwrap()),
        ["evt.is_open_read"]
    );
}
