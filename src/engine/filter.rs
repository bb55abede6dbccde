//! Compiles a resolved condition AST into a typed filter program and evaluates it against an
//! event through [`Extract`]. Constants are converted once at compile time; `in` lists become
//! hash sets, `pmatch` a path-prefix set, substring search uses memchr's `memmem`, `glob`/`iglob`
//! are fnmatch patterns translated to `regex` (no `FNM_PATHNAME`).

use std::collections::HashSet;
use std::net::IpAddr;

use memchr::memmem;
use regex::bytes::Regex;

use crate::fields::{ArgKind, ArgType, Extract, FieldArg, FieldInfo, FieldRef, FieldType, Value};
use crate::rules::condition::{Expr, Pos};

/// Looks a field up by name (the catalog, or a test catalog).
pub type Lookup = fn(&str) -> Option<&'static FieldInfo>;

/// A compile error: libsinsp's message and the position of the node being compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct CompileError {
    pub msg: String,
    pub pos: Pos,
}

/// A compiler warning (`LOAD_COMPILE_CONDITION`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileWarning {
    pub msg: String,
    pub pos: Pos,
}

type CResult<T> = Result<T, CompileError>;

fn cerr<T>(msg: impl Into<String>, pos: Pos) -> CResult<T> {
    Err(CompileError {
        msg: msg.into(),
        pos,
    })
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
    Exists,
}

impl CmpOp {
    pub fn parse(s: &str) -> Option<CmpOp> {
        Some(match s {
            "=" | "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "contains" => CmpOp::Contains,
            "icontains" => CmpOp::IContains,
            "bcontains" => CmpOp::BContains,
            "startswith" => CmpOp::StartsWith,
            "bstartswith" => CmpOp::BStartsWith,
            "endswith" => CmpOp::EndsWith,
            "glob" => CmpOp::Glob,
            "iglob" => CmpOp::IGlob,
            "regex" => CmpOp::Regex,
            "in" => CmpOp::In,
            "intersects" => CmpOp::Intersects,
            "pmatch" => CmpOp::PMatch,
            "exists" => CmpOp::Exists,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Contains => "contains",
            CmpOp::IContains => "icontains",
            CmpOp::BContains => "bcontains",
            CmpOp::StartsWith => "startswith",
            CmpOp::BStartsWith => "bstartswith",
            CmpOp::EndsWith => "endswith",
            CmpOp::Glob => "glob",
            CmpOp::IGlob => "iglob",
            CmpOp::Regex => "regex",
            CmpOp::In => "in",
            CmpOp::Intersects => "intersects",
            CmpOp::PMatch => "pmatch",
            CmpOp::Exists => "exists",
        }
    }

    fn is_list_op(self) -> bool {
        matches!(self, CmpOp::In | CmpOp::Intersects | CmpOp::PMatch)
    }
}

/// `oneof` / `anyof` / `allof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    None,
    OneOf,
    AnyOf,
    AllOf,
}

/// A value transformer applied to extracted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
}

/// A left- or right-hand field operand: a field and the transformers applied to it (innermost
/// first).
#[derive(Debug, Clone)]
pub struct Operand {
    pub field: FieldRef,
    pub info: &'static FieldInfo,
    pub transformers: Vec<Transformer>,
    /// The type after transformers.
    pub ftype: FieldType,
    pub is_list: bool,
}

/// How the compared value type behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Signed,
    Unsigned,
    Bool,
    Str,
    Buf,
    Ip,
    Net,
}

fn kind_of(t: FieldType) -> Kind {
    use FieldType::*;
    match t {
        Int8 | Int16 | Int32 | Int64 | Errno | Fd | Pid | Double => Kind::Signed,
        Uint8 | Uint16 | Uint32 | Uint64 | Port | L4Proto | SockFamily | Mode | Flags8
        | Flags16 | Flags32 | RelTime | AbsTime | SyscallId | Sigtype => Kind::Unsigned,
        Bool => Kind::Bool,
        // `evt.rawarg.*` is typed by its parameter; until resolved it compares as a string.
        Charbuf | Fspath | Fsrelpath | Dynamic => Kind::Str,
        Bytebuf => Kind::Buf,
        Ipv4Addr | Ipv6Addr | IpAddr => Kind::Ip,
        Ipv4Net | Ipv6Net | IpNet => Kind::Net,
    }
}

/// A converted constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    Int(i64),
    Uint(u64),
    Bool(bool),
    Bytes(Vec<u8>),
    Ip(IpAddr),
    Net(ipnet::IpNet),
}

/// The compiled right-hand side of a check.
#[derive(Debug, Clone)]
pub enum Rhs {
    None,
    One(Const),
    /// Exact-membership set (`in`, `intersects`) for byte strings.
    BytesSet(HashSet<Vec<u8>>),
    /// Exact-membership set for numbers (stored as u64 bit patterns).
    NumSet(HashSet<u64>),
    /// Other sets (ip, nets, bools): linear.
    List(Vec<Const>),
    Substr(Box<memmem::Finder<'static>>),
    /// Lower-cased needle for `icontains`.
    ISubstr(Vec<u8>),
    Pattern(Regex),
    /// `pmatch`: path prefixes split into components.
    Prefixes(Vec<Vec<PrefixComponent>>),
    /// `<op> oneof|anyof|allof (list)`: one matcher per element.
    Multi(Vec<Rhs>),
    Field(Box<Operand>),
}

#[derive(Debug, Clone)]
pub enum PrefixComponent {
    Literal(Vec<u8>),
    Glob(Regex),
}

/// One leaf check.
#[derive(Debug, Clone)]
pub struct Check {
    pub left: Operand,
    pub op: CmpOp,
    pub modifier: Modifier,
    pub rhs: Rhs,
    /// `!=` holds only when every extracted value differs (fd.ip, fd.port, ...).
    ne_all: bool,
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Check(Box<Check>),
}

/// Per-evaluation scratch, created once by the caller and reused.
#[derive(Debug, Default)]
pub struct Scratch {
    values: Vec<Value<'static>>,
    owned: Vec<Vec<u8>>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

/// Reuses the allocation of an empty vector for a different lifetime (in-place collect).
fn relife<'a, 'b>(mut v: Vec<Value<'a>>) -> Vec<Value<'b>> {
    v.clear();
    v.into_iter().map(|_| Value::Int(0)).collect()
}

const NO_TRANSFORMER_FIELDS: [&str; 4] = ["fd.ip", "fd.net", "fd.port", "fd.proto"];

fn is_ancestor_field(name: &str) -> bool {
    matches!(
        name,
        "proc.aname" | "proc.aexe" | "proc.aexepath" | "proc.acmdline" | "proc.apid" | "proc.aenv"
    )
}

// ---- compilation -------------------------------------------------------------------------

/// Compiles a resolved AST. Warnings (regex/heuristics) are appended to `warnings`.
pub fn compile(ast: &Expr, lookup: Lookup, warnings: &mut Vec<CompileWarning>) -> CResult<Filter> {
    match ast {
        Expr::And(children, _) => Ok(Filter::And(
            children
                .iter()
                .map(|c| compile(c, lookup, warnings))
                .collect::<CResult<_>>()?,
        )),
        Expr::Or(children, _) => Ok(Filter::Or(
            children
                .iter()
                .map(|c| compile(c, lookup, warnings))
                .collect::<CResult<_>>()?,
        )),
        Expr::Not(c, _) => Ok(Filter::Not(Box::new(compile(c, lookup, warnings)?))),
        Expr::Identifier(name, pos) => cerr(
            format!("filter error: unexpected identifier '{name}'"),
            *pos,
        ),
        Expr::Unary { left, op, pos } => {
            let left = compile_operand(left, lookup)?;
            let _ = op;
            let _ = pos;
            Ok(Filter::Check(Box::new(Check {
                left,
                op: CmpOp::Exists,
                modifier: Modifier::None,
                rhs: Rhs::None,
                ne_all: false,
            })))
        }
        Expr::Binary {
            left,
            op,
            right,
            pos,
        } => compile_binary(left, op, right, *pos, lookup, warnings),
        other => cerr("filter error: unexpected expression", other.pos()),
    }
}

/// Resolves a field name (+ optional argument) against the catalog, like the filtercheck
/// factories: `evt.arg.NAME` is the `evt.arg` field with a key argument.
pub fn resolve_field(
    name: &str,
    arg: Option<&str>,
    lookup: Lookup,
) -> Result<(FieldRef, &'static FieldInfo), String> {
    let full = match arg {
        Some(a) => format!("{name}[{a}]"),
        None => name.to_string(),
    };
    let (info, arg) = match lookup(name) {
        Some(info) => (info, arg.map(str::to_string)),
        None => {
            // dot-argument form (evt.arg.name, evt.rawarg.name)
            let mut found = None;
            let mut idx = name.len();
            while let Some(dot) = name[..idx].rfind('.') {
                if let Some(info) = lookup(&name[..dot]) {
                    if info.arg != ArgKind::None && arg.is_none() && info.class != "container" {
                        found = Some((info, Some(name[dot + 1..].to_string())));
                    }
                    break;
                }
                idx = dot;
            }
            match found {
                Some(f) => f,
                None => return Err(format!("filter_check called with nonexistent field {full}")),
            }
        }
    };
    let bad = || format!("filter error: can't parse field expression '{full}'");
    let arg = match (info.arg, arg) {
        (ArgKind::None, Some(_)) => return Err(bad()),
        (ArgKind::Required, None) => {
            if info.class == "container" || info.class == "k8s" || info.class == "plugin" {
                return Err(format!("filter_check called with nonexistent field {full}"));
            }
            return Err(bad());
        }
        (_, None) => None,
        (_, Some(a)) => Some(match info.arg_type {
            ArgType::Index => FieldArg::Index(a.trim().parse::<i64>().map_err(|_| bad())?),
            ArgType::Key => FieldArg::Key(a),
            ArgType::IndexOrKey => match a.parse::<i64>() {
                Ok(i) if a.bytes().all(|b| b.is_ascii_digit()) => FieldArg::Index(i),
                _ => FieldArg::Key(a),
            },
        }),
    };
    Ok((
        FieldRef {
            info: info.name,
            arg,
        },
        info,
    ))
}

fn transformer_from(name: &str) -> Option<Transformer> {
    Some(match name {
        "tolower" => Transformer::ToLower,
        "toupper" => Transformer::ToUpper,
        "b64" => Transformer::B64,
        "basename" => Transformer::Basename,
        "len" => Transformer::Len,
        _ => return None,
    })
}

pub(crate) fn compile_operand_pub(e: &Expr, lookup: Lookup) -> CResult<Operand> {
    compile_operand(e, lookup)
}

fn compile_operand(e: &Expr, lookup: Lookup) -> CResult<Operand> {
    match e {
        Expr::Field { name, arg, pos } => {
            let (field, info) = resolve_field(name, arg.as_deref(), lookup)
                .map_err(|m| CompileError { msg: m, pos: *pos })?;
            Ok(Operand {
                field,
                info,
                transformers: Vec::new(),
                ftype: info.ftype,
                is_list: info.is_list,
            })
        }
        Expr::Transformer {
            name,
            args,
            arg,
            pos,
        } => {
            if name == "val" {
                if arg.is_some() {
                    return cerr(
                        "filter error: transformer 'val' does not support field arguments",
                        *pos,
                    );
                }
                return compile_operand(&args[0], lookup);
            }
            if args.len() != 1 {
                return cerr(
                    format!("filter error: transformer '{name}' is not supported"),
                    *pos,
                );
            }
            if arg.is_some() {
                return cerr(
                    format!("filter error: transformer '{name}' does not support field arguments"),
                    *pos,
                );
            }
            let mut inner = compile_operand(&args[0], lookup)?;
            let Some(t) = transformer_from(name) else {
                return cerr(
                    format!("filter error: transformer '{name}' is not supported"),
                    *pos,
                );
            };
            if NO_TRANSFORMER_FIELDS.contains(&inner.info.name)
                || inner.info.name.starts_with("proc.a") && is_ancestor_field(inner.info.name)
            {
                return cerr(
                    format!(
                        "filter error: field '{}' does not support transformers",
                        inner.info.name
                    ),
                    *pos,
                );
            }
            let k = kind_of(inner.ftype);
            let ok = match t {
                Transformer::ToLower | Transformer::ToUpper | Transformer::Basename => {
                    k == Kind::Str
                }
                Transformer::B64 => k == Kind::Str || k == Kind::Buf,
                Transformer::Len => k == Kind::Str || k == Kind::Buf || inner.is_list,
            };
            if !ok {
                return cerr(
                    format!(
                        "filter error: can't apply transformer '{name}' to field '{}'",
                        inner.info.name
                    ),
                    *pos,
                );
            }
            if t == Transformer::Len {
                inner.ftype = FieldType::Uint64;
                inner.is_list = false;
            }
            inner.transformers.push(t);
            Ok(inner)
        }
        other => cerr("filter error: expected a field", other.pos()),
    }
}

fn comparable(op: CmpOp, t: FieldType, is_list: bool) -> Result<(), String> {
    use CmpOp::*;
    if op == Exists {
        return Ok(());
    }
    let name = op.as_str();
    if is_list {
        return if matches!(op, In | Intersects) {
            Ok(())
        } else {
            Err(format!("'{name}' operator not supported list filters"))
        };
    }
    let (ok, what) = match kind_of(t) {
        Kind::Signed | Kind::Unsigned => (
            matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | Intersects),
            "numeric",
        ),
        Kind::Bool => (matches!(op, Eq | Ne | In | Intersects), "numeric"),
        Kind::Str => (!matches!(op, BContains | BStartsWith), "string"),
        Kind::Buf => (
            matches!(
                op,
                Eq | Ne
                    | Contains
                    | In
                    | StartsWith
                    | EndsWith
                    | Intersects
                    | BContains
                    | BStartsWith
            ),
            "buffer",
        ),
        Kind::Ip | Kind::Net => (
            matches!(op, Eq | Ne | In | Intersects),
            "ip address and network",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' operator not supported for {what} filters"
        ))
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    t.parse::<i64>().ok()
}

fn parse_uint(s: &str) -> Option<u64> {
    if let Some(neg) = s.strip_prefix('-') {
        return neg.parse::<u64>().ok().map(u64::wrapping_neg);
    }
    s.strip_prefix('+').unwrap_or(s).parse::<u64>().ok()
}

fn port_by_name(s: &str) -> Option<u64> {
    let p = match s {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" => 80,
        "pop3" => 110,
        "ntp" => 123,
        "imap" | "imap2" => 143,
        "snmp" => 161,
        "ldap" => 389,
        "https" => 443,
        "imaps" => 993,
        "pop3s" => 995,
        _ => return None,
    };
    Some(p)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Converts a constant to the field's type (`sinsp_filter_value_parser`).
fn convert(v: &str, t: FieldType, op: CmpOp, pos: Pos) -> CResult<Const> {
    let not_num = || CompileError {
        msg: format!("{v} is not a valid number"),
        pos,
    };
    if matches!(op, CmpOp::BContains | CmpOp::BStartsWith) {
        return unhex(v).map(Const::Bytes).ok_or(CompileError {
            msg: "filter error: bcontains and bstartswith operator support hex strings only".into(),
            pos,
        });
    }
    Ok(match t {
        FieldType::Port if !v.bytes().all(|b| b.is_ascii_digit()) => match port_by_name(v) {
            Some(p) => Const::Uint(p),
            None => return cerr(format!("unrecognized protocol {v}"), pos),
        },
        FieldType::Port if v.is_empty() => Const::Uint(0),
        FieldType::Double => Const::Int(i64::from(parse_int(v).ok_or_else(not_num)? as i32)),
        FieldType::Int8 => Const::Int(i64::from(parse_int(v).ok_or_else(not_num)? as i32 as i8)),
        FieldType::Int16 => Const::Int(i64::from(parse_int(v).ok_or_else(not_num)? as i32 as i16)),
        FieldType::Int32 | FieldType::Errno | FieldType::Fd | FieldType::Pid => {
            Const::Int(parse_int(v).ok_or_else(not_num)?)
        }
        FieldType::Int64 => Const::Int(parse_int(v).ok_or_else(not_num)?),
        FieldType::Uint8 | FieldType::Flags8 | FieldType::L4Proto | FieldType::SockFamily => {
            Const::Uint(u64::from(parse_uint(v).ok_or_else(not_num)? as u32 as u8))
        }
        FieldType::Uint16 | FieldType::Flags16 | FieldType::Port => {
            Const::Uint(u64::from(parse_uint(v).ok_or_else(not_num)? as u32 as u16))
        }
        FieldType::Uint32
        | FieldType::Flags32
        | FieldType::Mode
        | FieldType::Sigtype
        | FieldType::SyscallId => Const::Uint(u64::from(parse_uint(v).ok_or_else(not_num)? as u32)),
        FieldType::Uint64 | FieldType::RelTime | FieldType::AbsTime => {
            Const::Uint(parse_uint(v).ok_or_else(not_num)?)
        }
        FieldType::Bool => match v {
            "true" => Const::Bool(true),
            "false" => Const::Bool(false),
            _ => return cerr(format!("filter error: unrecognized boolean value {v}"), pos),
        },
        FieldType::Charbuf
        | FieldType::Fspath
        | FieldType::Fsrelpath
        | FieldType::Bytebuf
        | FieldType::Dynamic => Const::Bytes(v.as_bytes().to_vec()),
        FieldType::Ipv4Addr | FieldType::Ipv6Addr | FieldType::IpAddr => {
            match v.parse::<IpAddr>() {
                Ok(ip) => Const::Ip(ip),
                Err(_) => return cerr(format!("unrecognized IP address {v}"), pos),
            }
        }
        FieldType::Ipv4Net | FieldType::Ipv6Net | FieldType::IpNet => {
            if !v.contains('/') {
                return cerr(format!("unrecognized IP network {v}"), pos);
            }
            match v.parse::<ipnet::IpNet>() {
                Ok(n) => Const::Net(n),
                Err(_) => return cerr(format!("unrecognized IP network {v}"), pos),
            }
        }
    })
}

/// Translates an fnmatch pattern (flags 0 or FNM_CASEFOLD) into an anchored regex.
pub(crate) fn fnmatch_regex(pat: &[u8], casefold: bool) -> Option<Regex> {
    let mut re = String::from(if casefold { "(?s-u:(?i)^" } else { "(?s-u:^" });
    let mut i = 0;
    let push_byte = |re: &mut String, b: u8| re.push_str(&format!("\\x{b:02x}"));
    while i < pat.len() {
        let c = pat[i];
        match c {
            b'*' => re.push_str(".*"),
            b'?' => re.push('.'),
            b'\\' if i + 1 < pat.len() => {
                i += 1;
                push_byte(&mut re, pat[i]);
            }
            b'[' => {
                // find the closing bracket (a ']' right after '[' or '[!' is literal)
                let mut j = i + 1;
                let negate = j < pat.len() && (pat[j] == b'!' || pat[j] == b'^');
                if negate {
                    j += 1;
                }
                let start = j;
                if j < pat.len() && pat[j] == b']' {
                    j += 1;
                }
                while j < pat.len() && pat[j] != b']' {
                    j += 1;
                }
                if j >= pat.len() {
                    push_byte(&mut re, b'[');
                } else {
                    re.push('[');
                    if negate {
                        re.push('^');
                    }
                    let body = &pat[start..j];
                    let mut k = 0;
                    while k < body.len() {
                        let b = body[k];
                        if b == b'-' && k > 0 && k + 1 < body.len() {
                            re.push('-');
                        } else if b == b'[' && body.get(k + 1) == Some(&b':') {
                            // character class like [:alpha:]
                            if let Some(end) = body[k + 2..].windows(2).position(|w| w == b":]") {
                                let name =
                                    String::from_utf8_lossy(&body[k + 2..k + 2 + end]).into_owned();
                                re.push_str(&format!("[:{name}:]"));
                                k += 2 + end + 2;
                                continue;
                            }
                            push_byte(&mut re, b);
                        } else {
                            push_byte(&mut re, b);
                        }
                        k += 1;
                    }
                    re.push(']');
                    i = j;
                }
            }
            _ => push_byte(&mut re, c),
        }
        i += 1;
    }
    re.push_str("$)");
    Regex::new(&re).ok()
}

fn pmatch_prefixes(values: &[String]) -> CResult<Vec<Vec<PrefixComponent>>> {
    let mut out = Vec::new();
    for v in values {
        let comps = v
            .split('/')
            .filter(|c| !c.is_empty())
            .map(|c| {
                if c.bytes().any(|b| matches!(b, b'?' | b'*' | b'[')) {
                    fnmatch_regex(c.as_bytes(), false)
                        .map(PrefixComponent::Glob)
                        .unwrap_or_else(|| PrefixComponent::Literal(c.as_bytes().to_vec()))
                } else {
                    PrefixComponent::Literal(c.as_bytes().to_vec())
                }
            })
            .collect();
        out.push(comps);
    }
    Ok(out)
}

fn const_key(c: &Const) -> Option<u64> {
    match c {
        Const::Int(i) => Some(*i as u64),
        Const::Uint(u) => Some(*u),
        _ => None,
    }
}

/// Builds the matcher for one op over converted values.
fn build_rhs(op: CmpOp, t: FieldType, values: &[String], pos: Pos) -> CResult<Rhs> {
    let kind = kind_of(t);
    match op {
        CmpOp::In | CmpOp::Intersects => {
            let consts: Vec<Const> = values
                .iter()
                .map(|v| convert(v, t, op, pos))
                .collect::<CResult<_>>()?;
            match kind {
                Kind::Str | Kind::Buf => Ok(Rhs::BytesSet(
                    consts
                        .into_iter()
                        .filter_map(|c| {
                            if let Const::Bytes(b) = c {
                                Some(b)
                            } else {
                                None
                            }
                        })
                        .collect(),
                )),
                Kind::Signed | Kind::Unsigned => {
                    Ok(Rhs::NumSet(consts.iter().filter_map(const_key).collect()))
                }
                _ => Ok(Rhs::List(consts)),
            }
        }
        CmpOp::PMatch => Ok(Rhs::Prefixes(pmatch_prefixes(values)?)),
        _ => {
            let v = values.first().map(String::as_str).unwrap_or("");
            match op {
                CmpOp::Contains => Ok(Rhs::Substr(Box::new(
                    memmem::Finder::new(v.as_bytes()).into_owned(),
                ))),
                CmpOp::IContains => Ok(Rhs::ISubstr(v.as_bytes().to_ascii_lowercase())),
                CmpOp::Glob | CmpOp::IGlob => match fnmatch_regex(v.as_bytes(), op == CmpOp::IGlob)
                {
                    Some(r) => Ok(Rhs::Pattern(r)),
                    None => cerr(format!("invalid glob pattern: {v}"), pos),
                },
                CmpOp::Regex => match Regex::new(&format!("^(?:{v})$")) {
                    Ok(r) => Ok(Rhs::Pattern(r)),
                    Err(e) => cerr(format!("invalid regex pattern: {e}"), pos),
                },
                _ => Ok(Rhs::One(convert(v, t, op, pos)?)),
            }
        }
    }
}

fn check_regex_warning(v: &str, pos: Pos, warnings: &mut Vec<CompileWarning>) {
    const SPECIAL: &[u8] = b".+*?^$()[]{}|\\";
    let b = v.as_bytes();
    let len = b.len();
    let mut i = 0;
    while i < len {
        if (i == 0 && b[i] == b'^') || (i == len - 1 && b[i] == b'$') {
            i += 1;
            continue;
        }
        if ((i == 0 && len > 1) || (len >= 2 && i == len - 2))
            && b[i] == b'.'
            && matches!(b.get(i + 1), Some(b'+' | b'*' | b'?'))
        {
            i += 2;
            continue;
        }
        if SPECIAL.contains(&b[i]) {
            return;
        }
        i += 1;
    }
    warnings.push(CompileWarning {
        msg: format!(
            "regex check with '{v}' may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"
        ),
        pos,
    });
}

fn compile_binary(
    left: &Expr,
    op: &str,
    right: &Expr,
    pos: Pos,
    lookup: Lookup,
    warnings: &mut Vec<CompileWarning>,
) -> CResult<Filter> {
    let left = compile_operand(left, lookup)?;
    let (base, modifier) = match op.split_once(' ') {
        Some((b, m)) => (
            b,
            match m {
                "oneof" => Modifier::OneOf,
                "anyof" => Modifier::AnyOf,
                "allof" => Modifier::AllOf,
                _ => return cerr(format!("filter error: unknown operator '{op}'"), pos),
            },
        ),
        None => (op, Modifier::None),
    };
    let Some(cmp) = CmpOp::parse(base) else {
        return cerr(format!("filter error: unknown operator '{op}'"), pos);
    };
    if modifier != Modifier::None && matches!(kind_of(left.ftype), Kind::Ip | Kind::Net) {
        return cerr(
            format!(
                "filter error: '{op}' with modifier not supported for ip address and network filters"
            ),
            pos,
        );
    }
    comparable(cmp, left.ftype, left.is_list).map_err(|m| CompileError {
        msg: format!("filter error: {m}"),
        pos,
    })?;
    let name = left.info.name;
    let ne_all = matches!(name, "fd.ip" | "fd.net" | "fd.port" | "fd.proto");
    let rhs = match right {
        Expr::Field { .. } | Expr::Transformer { .. } => {
            let r = compile_operand(right, lookup)?;
            if matches!(cmp, CmpOp::PMatch | CmpOp::Regex) {
                return cerr(
                    format!("filter error: operator '{base}' does not support field comparison"),
                    pos,
                );
            }
            if r.ftype != left.ftype || r.is_list != left.is_list {
                return cerr(
                    format!(
                        "field '{}' has type '{:?}' while the right-hand side field '{}' has incompatible type '{:?}'",
                        left.info.name, left.ftype, r.info.name, r.ftype
                    ),
                    pos,
                );
            }
            Rhs::Field(Box::new(r))
        }
        Expr::Value(v, vpos) => {
            if cmp == CmpOp::Regex {
                check_regex_warning(v, *vpos, warnings);
            }
            if modifier != Modifier::None {
                Rhs::Multi(vec![build_rhs(
                    cmp,
                    left.ftype,
                    std::slice::from_ref(v),
                    *vpos,
                )?])
            } else if name == "evt.type" || name == "syscall.type" {
                validate_evt_types(std::slice::from_ref(v), *vpos)?;
                build_rhs(cmp, left.ftype, std::slice::from_ref(v), *vpos)?
            } else {
                build_rhs(cmp, left.ftype, std::slice::from_ref(v), *vpos)?
            }
        }
        Expr::List(values, vpos) => {
            if modifier != Modifier::None {
                Rhs::Multi(
                    values
                        .iter()
                        .map(|v| build_rhs(cmp, left.ftype, std::slice::from_ref(v), *vpos))
                        .collect::<CResult<_>>()?,
                )
            } else {
                if !cmp.is_list_op() && values.len() != 1 {
                    return cerr(
                        format!("filter error: operator '{base}' expects a single value"),
                        *vpos,
                    );
                }
                if name == "evt.type" || name == "syscall.type" {
                    validate_evt_types(values, *vpos)?;
                }
                build_rhs(cmp, left.ftype, values, *vpos)?
            }
        }
        other => return cerr("filter error: unexpected right-hand side", other.pos()),
    };
    Ok(Filter::Check(Box::new(Check {
        left,
        op: cmp,
        modifier,
        rhs,
        ne_all,
    })))
}

/// Whether the event table is available (the events helper fills it).
pub(crate) fn event_table_ready() -> bool {
    !crate::event::table::codes_for_name("open").is_empty()
}

fn validate_evt_types(values: &[String], pos: Pos) -> CResult<()> {
    if !event_table_ready() {
        return Ok(());
    }
    for v in values {
        if crate::event::table::codes_for_name(v).is_empty()
            && !super::evttype::is_syscall_name(v)
            && v != "asyncevent"
        {
            return cerr(format!("unknown event type {v}"), pos);
        }
    }
    Ok(())
}

// ---- evaluation --------------------------------------------------------------------------

fn apply_transformers<'s>(ts: &[Transformer], v: Value<'s>) -> Option<Value<'s>> {
    let mut v = v;
    for t in ts {
        v = match (t, v) {
            (Transformer::ToLower, Value::Str(s)) => Value::Str(s.to_ascii_lowercase().into()),
            (Transformer::ToUpper, Value::Str(s)) => Value::Str(s.to_ascii_uppercase().into()),
            (Transformer::Basename, Value::Str(s)) => {
                let b = match memchr::memrchr(b'/', &s) {
                    Some(i) => s[i + 1..].to_vec(),
                    None => s.to_vec(),
                };
                Value::Str(b.into())
            }
            (Transformer::B64, Value::Str(s) | Value::Bytes(s)) => {
                Value::Bytes(b64_decode(&s)?.into())
            }
            (Transformer::Len, Value::Str(s)) => {
                Value::Uint(memchr::memchr(0, &s).unwrap_or(s.len()) as u64)
            }
            (Transformer::Len, Value::Bytes(s)) => Value::Uint(s.len() as u64),
            (_, other) => other,
        };
    }
    Some(v)
}

fn b64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let s: Vec<u8> = s.iter().copied().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | val(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => {
                acc <<= 6;
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8]);
            }
            2 => {
                acc <<= 12;
                out.push((acc >> 16) as u8);
            }
            _ => return None,
        }
    }
    Some(out)
}

fn as_bytes<'v>(v: &'v Value<'_>) -> Option<&'v [u8]> {
    match v {
        Value::Str(s) | Value::Bytes(s) => Some(s),
        _ => None,
    }
}

/// C-string view: strings compare up to the first NUL.
fn cstr(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(i) => &b[..i],
        None => b,
    }
}

fn num_of(v: &Value<'_>) -> Option<(bool, i128)> {
    match v {
        Value::Int(i) => Some((true, i128::from(*i))),
        Value::Uint(u) => Some((false, i128::from(*u))),
        Value::Double(d) => Some((true, *d as i128)),
        Value::Bool(b) => Some((false, i128::from(*b))),
        _ => None,
    }
}

fn const_num(c: &Const) -> Option<i128> {
    match c {
        Const::Int(i) => Some(i128::from(*i)),
        Const::Uint(u) => Some(i128::from(*u)),
        Const::Bool(b) => Some(i128::from(*b)),
        _ => None,
    }
}

fn ip_matches(v: &Value<'_>, c: &Const) -> bool {
    match (v, c) {
        (Value::Ip(a), Const::Ip(b)) => a == b,
        (Value::Ip(a), Const::Net(n)) => n.contains(a),
        (Value::Net(n), Const::Ip(b)) => n.contains(b),
        (Value::Net(a), Const::Net(b)) => a == b,
        _ => false,
    }
}

fn pmatch(prefixes: &[Vec<PrefixComponent>], v: &[u8]) -> bool {
    let comps: Vec<&[u8]> = v.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    prefixes.iter().any(|p| {
        p.len() <= comps.len()
            && p.iter().zip(&comps).all(|(pc, c)| match pc {
                PrefixComponent::Literal(l) => l.as_slice() == *c,
                PrefixComponent::Glob(r) => r.is_match(c),
            })
    })
}

/// Compares one extracted value against a constant matcher.
fn cmp_one(op: CmpOp, rhs: &Rhs, v: &Value<'_>) -> bool {
    match rhs {
        Rhs::Multi(_) | Rhs::Field(_) | Rhs::None => false,
        Rhs::BytesSet(set) => as_bytes(v).is_some_and(|b| set.contains(cstr_or_raw(v, b))),
        Rhs::NumSet(set) => match v {
            Value::Int(i) => set.contains(&(*i as u64)),
            Value::Uint(u) => set.contains(u),
            Value::Bool(b) => set.contains(&u64::from(*b)),
            _ => false,
        },
        Rhs::List(items) => items.iter().any(|c| match c {
            Const::Ip(_) | Const::Net(_) => ip_matches(v, c),
            Const::Bool(b) => matches!(v, Value::Bool(x) if x == b),
            _ => false,
        }),
        Rhs::Substr(f) => as_bytes(v).is_some_and(|b| f.find(cstr_or_raw(v, b)).is_some()),
        Rhs::ISubstr(needle) => as_bytes(v).is_some_and(|b| icontains(cstr_or_raw(v, b), needle)),
        Rhs::Pattern(r) => as_bytes(v).is_some_and(|b| r.is_match(cstr_or_raw(v, b))),
        Rhs::Prefixes(p) => as_bytes(v).is_some_and(|b| pmatch(p, cstr_or_raw(v, b))),
        Rhs::One(c) => cmp_const(op, v, c),
    }
}

/// ASCII case-insensitive substring search (`strcasestr`), without allocating.
fn icontains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

fn cstr_or_raw<'a>(v: &Value<'_>, b: &'a [u8]) -> &'a [u8] {
    match v {
        Value::Str(_) => cstr(b),
        _ => b,
    }
}

fn cmp_const(op: CmpOp, v: &Value<'_>, c: &Const) -> bool {
    match c {
        Const::Bytes(cb) => {
            let Some(b) = as_bytes(v) else { return false };
            let b = cstr_or_raw(v, b);
            let cb: &[u8] = if matches!(v, Value::Str(_)) {
                cstr(cb)
            } else {
                cb
            };
            match op {
                CmpOp::Eq => b == cb,
                CmpOp::Ne => b != cb,
                CmpOp::Lt => b < cb,
                CmpOp::Le => b <= cb,
                CmpOp::Gt => b > cb,
                CmpOp::Ge => b >= cb,
                CmpOp::StartsWith | CmpOp::BStartsWith => b.starts_with(cb),
                CmpOp::EndsWith => b.ends_with(cb),
                CmpOp::Contains | CmpOp::BContains => memmem::find(b, cb).is_some(),
                CmpOp::IContains => icontains(b, cb),
                _ => false,
            }
        }
        Const::Ip(_) | Const::Net(_) => match op {
            CmpOp::Eq => ip_matches(v, c),
            CmpOp::Ne => !ip_matches(v, c),
            _ => false,
        },
        _ => {
            let (Some((_, a)), Some(b)) = (num_of(v), const_num(c)) else {
                return false;
            };
            match op {
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
                CmpOp::Lt => a < b,
                CmpOp::Le => a <= b,
                CmpOp::Gt => a > b,
                CmpOp::Ge => a >= b,
                _ => false,
            }
        }
    }
}

fn cmp_values(op: CmpOp, a: &Value<'_>, b: &Value<'_>) -> bool {
    let c = match b {
        Value::Str(s) | Value::Bytes(s) => Const::Bytes(s.to_vec()),
        Value::Int(i) => Const::Int(*i),
        Value::Uint(u) => Const::Uint(*u),
        Value::Bool(x) => Const::Bool(*x),
        Value::Double(d) => Const::Int(*d as i64),
        Value::Ip(ip) => Const::Ip(*ip),
        Value::Net(n) => Const::Net(*n),
    };
    let op = if matches!(op, CmpOp::In | CmpOp::Intersects) {
        CmpOp::Eq
    } else {
        op
    };
    cmp_const(op, a, &c)
}

impl Check {
    fn matches_values(&self, values: &[Value<'_>], rhs_values: &[Value<'_>]) -> bool {
        if let Rhs::Field(_) = &self.rhs {
            return match self.op {
                CmpOp::In => values
                    .iter()
                    .all(|v| rhs_values.iter().any(|r| cmp_values(self.op, v, r))),
                CmpOp::Intersects => values
                    .iter()
                    .any(|v| rhs_values.iter().any(|r| cmp_values(self.op, v, r))),
                _ => values
                    .iter()
                    .any(|v| rhs_values.iter().any(|r| cmp_values(self.op, v, r))),
            };
        }
        if let Rhs::Multi(items) = &self.rhs {
            let Some(v) = values.first() else {
                return false;
            };
            let n = items.iter().filter(|r| cmp_one(self.op, r, v)).count();
            return match self.modifier {
                Modifier::OneOf => n == 1,
                Modifier::AnyOf => n >= 1,
                Modifier::AllOf => !items.is_empty() && n == items.len(),
                Modifier::None => false,
            };
        }
        if self.left.is_list {
            return match self.op {
                CmpOp::In => values.iter().all(|v| cmp_one(self.op, &self.rhs, v)),
                _ => values.iter().any(|v| cmp_one(self.op, &self.rhs, v)),
            };
        }
        if self.op == CmpOp::Ne && self.ne_all {
            return values.iter().all(|v| cmp_one(self.op, &self.rhs, v));
        }
        values.iter().any(|v| cmp_one(self.op, &self.rhs, v))
    }

    fn eval<E: Extract>(&self, ex: &mut E, scratch: &mut Scratch) -> bool {
        let buf = std::mem::take(&mut scratch.values);
        let mut vals: Vec<Value<'_>> = relife(buf);
        let present = ex.extract(&self.left.field, &mut vals);
        let mut result = false;
        if present && !vals.is_empty() {
            if !self.left.transformers.is_empty() {
                let mut ok = true;
                let taken = std::mem::take(&mut vals);
                for v in taken {
                    match apply_transformers(&self.left.transformers, v) {
                        Some(t) => vals.push(t),
                        None => ok = false,
                    }
                }
                if !ok {
                    vals.clear();
                }
            }
            if !vals.is_empty() {
                result = match self.op {
                    CmpOp::Exists => true,
                    _ => match &self.rhs {
                        Rhs::Field(r) => {
                            // Own the left values, then extract the right field.
                            let owned: Vec<Value<'static>> =
                                vals.drain(..).map(to_owned_value).collect();
                            let mut rvals: Vec<Value<'_>> = relife(std::mem::take(&mut vals));
                            let rp = ex.extract(&r.field, &mut rvals);
                            let r_ok = rp && !rvals.is_empty();
                            let res = if r_ok {
                                let rt: Vec<Value<'_>> = rvals
                                    .drain(..)
                                    .filter_map(|v| apply_transformers(&r.transformers, v))
                                    .collect();
                                self.matches_values(&owned, &rt)
                            } else {
                                false
                            };
                            scratch.owned.clear();
                            vals = relife(rvals);
                            res
                        }
                        _ => self.matches_values(&vals, &[]),
                    },
                };
            }
        }
        scratch.values = relife(vals);
        result
    }
}

fn to_owned_value(v: Value<'_>) -> Value<'static> {
    match v {
        Value::Int(i) => Value::Int(i),
        Value::Uint(u) => Value::Uint(u),
        Value::Bool(b) => Value::Bool(b),
        Value::Double(d) => Value::Double(d),
        Value::Str(s) => Value::Str(s.into_owned().into()),
        Value::Bytes(s) => Value::Bytes(s.into_owned().into()),
        Value::Ip(ip) => Value::Ip(ip),
        Value::Net(n) => Value::Net(n),
    }
}

impl Filter {
    /// Evaluates the filter for the current event.
    pub fn matches<E: Extract>(&self, ex: &mut E, scratch: &mut Scratch) -> bool {
        match self {
            Filter::And(c) => c.iter().all(|f| f.matches(ex, scratch)),
            Filter::Or(c) => c.iter().any(|f| f.matches(ex, scratch)),
            Filter::Not(c) => !c.matches(ex, scratch),
            Filter::Check(c) => c.eval(ex, scratch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_vector_keeps_its_allocation() {
        let v: Vec<Value<'static>> = Vec::with_capacity(16);
        let ptr = v.as_ptr() as usize;
        let w: Vec<Value<'_>> = relife(v);
        assert_eq!((w.as_ptr() as usize, w.capacity()), (ptr, 16));
    }

    #[test]
    fn node_sizes() {
        assert!(std::mem::size_of::<Filter>() <= 32);
        assert!(std::mem::size_of::<Value<'static>>() <= 32);
    }
}
