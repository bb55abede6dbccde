//! Compiles a resolved condition AST into a typed filter program and evaluates it against an
//! event through [`Extract`]. Constants are converted once at compile time; `in` lists become
//! hash sets, `pmatch` a path-prefix set, substring search uses memchr's `memmem`, `glob`/`iglob`
//! are fnmatch patterns translated to `regex` (no `FNM_PATHNAME`).

use std::collections::HashMap;
use std::net::IpAddr;

use memchr::memmem;
use regex::bytes::Regex;

use super::evttype::CodeSet;
use super::strset::StrSet;
use crate::fields::{ArgKind, ArgType, Extract, FieldArg, FieldInfo, FieldRef, FieldType, Value};
use crate::rules::condition::{Expr, Pos};

/// Looks a field up by name (the catalog, or a test catalog).
pub type Lookup = fn(&str) -> Option<&'static FieldInfo>;

/// What the compilers accept as a field lookup: a [`Lookup`], or a closure that adds fields
/// the configuration defines (`static_fields`, see [`STATIC_CLASS`]) to the catalog.
pub trait FieldLookup: Fn(&str) -> Option<&'static FieldInfo> + Copy {}
impl<T: Fn(&str) -> Option<&'static FieldInfo> + Copy> FieldLookup for T {}

/// The class of the `static.<key>` fields (`static_fields` in falco.yaml; libsinsp's
/// `sinsp_filter_check_static`). Such a [`FieldInfo`] carries the configured value in `desc`
/// (libsinsp gives them no description), and [`resolve_field`] hands it to the extractor as
/// the reference's key argument.
pub const STATIC_CLASS: &str = "static";

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
    /// `join(...)` / `concat(...)`: the value is computed from several arguments (then `field`
    /// and `info` name the internal result field).
    pub multi: Option<Box<Multi>>,
}

/// An argument of a multi-value transformer.
#[derive(Debug, Clone)]
pub enum MultiArg {
    /// A quoted string or number.
    Literal(Vec<u8>),
    Field(Box<Operand>),
    /// `(a, b, ...)`: the values of every element, as one list.
    List(Vec<MultiArg>),
}

/// A multi-value transformer (libs 0.24+).
#[derive(Debug, Clone)]
pub enum Multi {
    Join {
        sep: MultiArg,
        list: MultiArg,
    },
    Concat(Vec<MultiArg>),
    /// `getopt(args, optstring)` (a list of options and values), or with `[o]` the value of
    /// option `o`.
    Getopt {
        args: MultiArg,
        optstring: MultiArg,
        selector: Option<u8>,
    },
}

/// getopt(3) on an argv list, as libsinsp's `getopt` transformer: short options only, stops at
/// `--` or the first non-option, skips long options, unknown options give `?`, a missing option
/// argument gives an empty value.
fn getopt(argv: &[Vec<u8>], optstring: &[u8], selector: Option<u8>) -> Option<Vec<Vec<u8>>> {
    let mut valid = [false; 256];
    let mut with_arg = [false; 256];
    let mut i = usize::from(optstring.first() == Some(&b':'));
    while i < optstring.len() {
        let o = optstring[i];
        if o != b':' {
            valid[o as usize] = true;
            if optstring.get(i + 1) == Some(&b':') {
                with_arg[o as usize] = true;
                i += 1;
            }
        }
        i += 1;
    }
    let mut results: Vec<Vec<u8>> = Vec::new();
    let mut selected: Option<Vec<u8>> = None;
    let mut emit = |results: &mut Vec<Vec<u8>>, name: &[u8], value: Option<&[u8]>| match selector {
        Some(_) => selected = Some(value.unwrap_or(name).to_vec()),
        None => {
            results.push(name.to_vec());
            if let Some(v) = value {
                results.push(v.to_vec());
            }
        }
    };
    let mut idx = 0;
    while idx < argv.len() {
        let arg = argv[idx].as_slice();
        if arg == b"--" {
            break;
        }
        if arg.len() > 2 && arg.starts_with(b"--") {
            idx += 1;
            continue;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < arg.len() {
            let o = arg[j];
            if o == b':' || !valid[o as usize] {
                if selector.is_none() {
                    results.push(b"?".to_vec());
                }
                j += 1;
                continue;
            }
            let matches = selector.is_none_or(|s| s == o);
            let name = &arg[j..=j];
            if !with_arg[o as usize] {
                if matches {
                    emit(&mut results, name, None);
                }
                j += 1;
                continue;
            }
            let value: Option<Vec<u8>> = if j + 1 < arg.len() {
                Some(arg[j + 1..].to_vec())
            } else if idx + 1 < argv.len() {
                idx += 1;
                Some(argv[idx].clone())
            } else {
                None
            };
            if matches {
                match &value {
                    None => emit(&mut results, b"", None),
                    Some(v) => emit(&mut results, name, Some(v)),
                }
            }
            break;
        }
        idx += 1;
    }
    match selector {
        Some(_) => selected.map(|v| vec![v]),
        None => Some(results),
    }
}

/// The field a multi-value transformer result is presented as.
static MULTI_RESULT: FieldInfo = FieldInfo {
    name: "INTERNAL",
    class: "",
    ftype: FieldType::Charbuf,
    arg: ArgKind::None,
    arg_type: ArgType::Index,
    is_list: false,
    hidden: true,
    desc: "NA",
};

impl MultiArg {
    /// (type, is list) as libsinsp's `argument_types`.
    fn arg_type(&self) -> (FieldType, bool) {
        match self {
            MultiArg::Literal(_) => (FieldType::Charbuf, false),
            MultiArg::Field(o) => (o.ftype, o.is_list),
            MultiArg::List(_) => (FieldType::Charbuf, true),
        }
    }

    /// The argument's values as strings (owned), None when a field is missing.
    fn values<E: Extract>(&self, ex: &mut E, out: &mut Vec<Vec<u8>>) -> bool {
        match self {
            MultiArg::Literal(v) => {
                out.push(v.clone());
                true
            }
            MultiArg::Field(o) => match operand_values(o, ex) {
                Some(vals) => {
                    out.extend(vals.iter().map(|v| cstr(&value_bytes(v)).to_vec()));
                    true
                }
                None => false,
            },
            MultiArg::List(items) => items.iter().all(|i| i.values(ex, out)),
        }
    }
}

fn value_bytes(v: &Value<'_>) -> Vec<u8> {
    match v {
        Value::Str(s) | Value::Bytes(s) => s.to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Uint(u) => u.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Double(d) => d.to_string().into_bytes(),
        Value::Ip(ip) => ip.to_string().into_bytes(),
        Value::Net(n) => n.to_string().into_bytes(),
    }
}

impl Multi {
    fn value<E: Extract>(&self, ex: &mut E) -> Option<Vec<u8>> {
        let mut vals = Vec::new();
        match self {
            Multi::Join { sep, list } => {
                if !sep.values(ex, &mut vals) {
                    return None;
                }
                let sep = vals.first().cloned().unwrap_or_default();
                vals.clear();
                if !list.values(ex, &mut vals) {
                    return None;
                }
                Some(vals.join(sep.as_slice()))
            }
            Multi::Concat(args) => {
                let mut res = Vec::new();
                for a in args {
                    vals.clear();
                    if !a.values(ex, &mut vals) {
                        return None;
                    }
                    vals.iter().for_each(|v| res.extend_from_slice(v));
                }
                Some(res)
            }
            Multi::Getopt { .. } => self.values(ex).and_then(|mut v| v.pop()),
        }
    }

    /// All result values (a list for `getopt` without selector).
    fn values<E: Extract>(&self, ex: &mut E) -> Option<Vec<Vec<u8>>> {
        match self {
            Multi::Getopt {
                args,
                optstring,
                selector,
            } => {
                let mut opt = Vec::new();
                if !optstring.values(ex, &mut opt) || opt.is_empty() {
                    return None;
                }
                let mut argv = Vec::new();
                if !args.values(ex, &mut argv) {
                    return None;
                }
                getopt(&argv, &opt[0], *selector)
            }
            other => other.value(ex).map(|v| vec![v]),
        }
    }
}

/// The values of an operand (before its transformers), owned; None when missing.
pub(crate) fn operand_values<E: Extract>(o: &Operand, ex: &mut E) -> Option<Vec<Value<'static>>> {
    if let Some(m) = &o.multi {
        return m
            .values(ex)
            .map(|vs| vs.into_iter().map(|v| Value::Str(v.into())).collect());
    }
    let mut tmp = Vec::new();
    if !ex.extract(&o.field, &mut tmp) || tmp.is_empty() {
        return None;
    }
    Some(tmp.into_iter().map(to_owned_value).collect())
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
    BytesSet(StrSet),
    /// Exact-membership set for numbers (stored as u64 bit patterns).
    NumSet(foldhash::HashSet<u64>),
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
    /// For fields whose value is a function of the event code (`evt.type`, `evt.dir`): the
    /// check's result per code, computed once at compile time.
    by_code: Option<Box<ByCode>>,
    /// For a single-valued field compared with constants: the comparison, decided at compile
    /// time (see [`Direct`]).
    direct: Option<Direct>,
    /// The check as libsinsp prints it (`field op value`): equal texts are equal checks,
    /// whatever rule or macro they come from (the ruleset shares their results per event).
    key: Box<str>,
}

/// A check's result precomputed per event code.
#[derive(Debug, Clone)]
struct ByCode {
    /// Codes whose field value depends on the code alone (others are extracted).
    known: CodeSet,
    /// The known codes on which the check holds.
    holds: CodeSet,
}

/// How a check of a single-valued field (one the extractor serves without a vector) against
/// constants compares, worked out once at compile time so that an event's value goes straight
/// to its comparison. A value of another type than expected takes the general path.
#[derive(Debug, Clone)]
enum Direct {
    /// `=`, `!=`, `startswith`, `bstartswith`, `endswith` with a string value: the constant as
    /// a string value compares it (up to its first NUL).
    Str(CmpOp, Box<[u8]>),
    /// `in` / `intersects` with a string value: the set in [`Rhs::BytesSet`].
    StrIn,
    /// `contains` with a string value: the finder in [`Rhs::Substr`].
    StrContains,
    /// A comparison of a number (or bool) with a numeric constant.
    Num(CmpOp, i128),
    /// `in` / `intersects` with a number: the set in [`Rhs::NumSet`].
    NumIn,
}

/// The value of `field` for every event of code `code`, when it is a function of the code
/// (what the extractor returns for it): `evt.type` (not for the generic and async events,
/// whose name comes from a parameter) and `evt.dir`.
fn code_value(field: &str, code: u16) -> Option<Value<'static>> {
    let info = crate::event::table::by_code(code)?;
    match field {
        "evt.type"
            if !matches!(
                code,
                crate::event::table::PPME_GENERIC_E | crate::event::table::PPME_GENERIC_X
            ) && info.ppme != "ASYNCEVENT_E" =>
        {
            Some(Value::Str(info.name.as_bytes().into()))
        }
        "evt.dir" => Some(Value::Str(
            if info.direction() == crate::event::table::Direction::Enter {
                &b">"[..]
            } else {
                &b"<"[..]
            }
            .into(),
        )),
        _ => None,
    }
}

impl Check {
    /// An `exists` check of `left` (unary operators, `evt.around` windows).
    fn exists(left: Operand, key: Box<str>) -> Check {
        Check {
            left,
            op: CmpOp::Exists,
            modifier: Modifier::None,
            rhs: Rhs::None,
            ne_all: false,
            by_code: None,
            direct: None,
            key,
        }
    }

    /// Precomputes the check per event code when its left side is a plain `evt.type` or
    /// `evt.dir` compared with constants (no transformer, no modifier).
    fn with_code_table(mut self) -> Check {
        let plain = self.left.transformers.is_empty()
            && self.left.multi.is_none()
            && self.left.field.arg.is_none()
            && self.modifier == Modifier::None
            && !matches!(self.rhs, Rhs::Field(_) | Rhs::None | Rhs::Multi(_))
            && self.op != CmpOp::Exists;
        if !plain || !matches!(self.left.field.info, "evt.type" | "evt.dir") {
            return self;
        }
        let (mut known, mut holds) = (CodeSet::empty(), CodeSet::empty());
        for code in 0..super::evttype::MAX_CODES as u16 {
            if let Some(v) = code_value(self.left.field.info, code) {
                known.insert(code);
                if self.matches_values(std::slice::from_ref(&v), &[]) {
                    holds.insert(code);
                }
            }
        }
        self.by_code = Some(Box::new(ByCode { known, holds }));
        self
    }

    /// Works out the [`Direct`] comparison of a plain check (no transformer, modifier, list or
    /// field on the right) of a field the extractor serves as a single value.
    fn with_direct(mut self) -> Check {
        let plain = self.left.transformers.is_empty()
            && self.left.multi.is_none()
            && !self.left.is_list
            && self.modifier == Modifier::None
            && self.left.field.hot() != crate::fields::Hot::None;
        if !plain {
            return self;
        }
        self.direct = match (&self.rhs, self.op) {
            (
                Rhs::One(Const::Bytes(c)),
                CmpOp::Eq | CmpOp::Ne | CmpOp::StartsWith | CmpOp::BStartsWith | CmpOp::EndsWith,
            ) => Some(Direct::Str(self.op, cstr(c).into())),
            (Rhs::BytesSet(_), CmpOp::In | CmpOp::Intersects) => Some(Direct::StrIn),
            (Rhs::Substr(_), CmpOp::Contains) => Some(Direct::StrContains),
            (
                Rhs::One(c @ (Const::Int(_) | Const::Uint(_) | Const::Bool(_))),
                CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge,
            ) => const_num(c).map(|n| Direct::Num(self.op, n)),
            (Rhs::NumSet(_), CmpOp::In | CmpOp::Intersects) => Some(Direct::NumIn),
            _ => None,
        };
        self
    }

    /// Whether the event code alone decides the check for the codes it knows (see
    /// [`ByCode`]).
    pub(crate) fn decided_by_code(&self) -> bool {
        self.by_code.is_some()
    }

    /// Whether the check compares its value directly (see [`Direct`]).
    pub(crate) fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// The [`Direct`] comparison of one value; `None` when the value is not of the type it
    /// expects.
    #[inline(always)]
    fn direct_matches(&self, d: &Direct, v: &Value<'_>) -> Option<bool> {
        Some(match (d, v) {
            (Direct::Str(op, c), Value::Str(s)) => {
                let b = cstr(s);
                let c: &[u8] = c;
                match op {
                    CmpOp::Eq => b == c,
                    CmpOp::Ne => b != c,
                    CmpOp::EndsWith => b.ends_with(c),
                    _ => b.starts_with(c),
                }
            }
            (Direct::StrIn, Value::Str(s)) => match &self.rhs {
                Rhs::BytesSet(set) => set.contains(cstr(s)),
                _ => return None,
            },
            (Direct::StrContains, Value::Str(s)) => match &self.rhs {
                Rhs::Substr(f) => f.find(cstr(s)).is_some(),
                _ => return None,
            },
            (Direct::Num(op, n), _) => {
                let (_, a) = num_of(v)?;
                match op {
                    CmpOp::Eq => a == *n,
                    CmpOp::Ne => a != *n,
                    CmpOp::Lt => a < *n,
                    CmpOp::Le => a <= *n,
                    CmpOp::Gt => a > *n,
                    _ => a >= *n,
                }
            }
            (Direct::NumIn, _) => match (&self.rhs, v) {
                (Rhs::NumSet(set), Value::Int(i)) => set.contains(&(*i as u64)),
                (Rhs::NumSet(set), Value::Uint(u)) => set.contains(u),
                (Rhs::NumSet(set), Value::Bool(b)) => set.contains(&u64::from(*b)),
                _ => return None,
            },
            _ => return None,
        })
    }
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Check(Box<Check>),
    /// A subtree that occurs more than once in the ruleset (a macro, a repeated check): its
    /// result is computed once per event and kept in slot `.0` of the [`Scratch`].
    Shared(u32, Box<Filter>),
}

/// Per-evaluation scratch, created once by the caller and reused.
#[derive(Debug, Default)]
pub struct Scratch {
    values: Vec<Value<'static>>,
    /// The event generation each shared slot's result belongs to (`Filter::Shared`).
    shared_gen: Vec<u32>,
    shared_val: Vec<bool>,
    generation: u32,
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

/// libsinsp's `find_longest_matching_evt_param`: the longest parameter name (first found in
/// event-table order) that prefixes `name`.
pub(crate) fn longest_evt_param(name: &str) -> Option<&'static crate::event::table::ParamInfo> {
    let mut best: Option<&'static crate::event::table::ParamInfo> = None;
    for ev in crate::event::table::all() {
        for p in ev.params {
            if p.name.len() <= name.len()
                && p.name.len() > best.map_or(0, |b| b.name.len())
                && name.starts_with(p.name)
            {
                best = Some(p);
            }
        }
    }
    best
}

/// The field type `evt.rawarg.NAME` takes from its parameter.
fn param_field_type(t: crate::event::table::ParamType) -> FieldType {
    use crate::event::table::ParamType as P;
    match t {
        P::Int8 => FieldType::Int8,
        P::Int16 => FieldType::Int16,
        P::Int32 => FieldType::Int32,
        P::Int64 => FieldType::Int64,
        P::Uint8 => FieldType::Uint8,
        P::Uint16 => FieldType::Uint16,
        P::Uint32 | P::Uid | P::Gid => FieldType::Uint32,
        P::Uint64 => FieldType::Uint64,
        P::Charbuf => FieldType::Charbuf,
        P::Errno => FieldType::Errno,
        P::Fd | P::Fd32 => FieldType::Fd,
        P::Pid | P::Pid32 => FieldType::Pid,
        P::Fspath => FieldType::Fspath,
        P::FsRelPath => FieldType::Fsrelpath,
        P::SyscallId => FieldType::SyscallId,
        P::Sigtype => FieldType::Sigtype,
        P::Reltime => FieldType::RelTime,
        P::Abstime => FieldType::AbsTime,
        P::Port => FieldType::Port,
        P::L4Proto => FieldType::L4Proto,
        P::SockFamily => FieldType::SockFamily,
        P::Bool => FieldType::Bool,
        P::Ipv4Addr => FieldType::Ipv4Addr,
        P::Ipv4Net => FieldType::Ipv4Net,
        P::Ipv6Addr => FieldType::Ipv6Addr,
        P::Ipv6Net => FieldType::Ipv6Net,
        P::IpAddr => FieldType::IpAddr,
        P::IpNet => FieldType::IpNet,
        P::Flags8 | P::EnumFlags8 => FieldType::Flags8,
        P::Flags16 | P::EnumFlags16 => FieldType::Flags16,
        P::Flags32 | P::EnumFlags32 => FieldType::Flags32,
        P::Mode => FieldType::Mode,
        P::Double => FieldType::Double,
        _ => FieldType::Bytebuf,
    }
}

/// The catalog flags of a field, when it comes from the catalog (tests use other tables).
pub(crate) fn catalog_flags(
    info: &'static FieldInfo,
) -> Option<crate::fields::registry::FieldFlags> {
    crate::fields::lookup(info.name)
        .filter(|f| std::ptr::eq(*f, info))
        .map(crate::fields::registry::flags)
}

fn is_ancestor_field(name: &str) -> bool {
    matches!(
        name,
        "proc.aname" | "proc.aexe" | "proc.aexepath" | "proc.acmdline" | "proc.apid" | "proc.aenv"
    )
}

// ---- compilation -------------------------------------------------------------------------

/// Compiles a resolved AST. Warnings (regex/heuristics) are appended to `warnings`.
pub fn compile(
    ast: &Expr,
    lookup: impl FieldLookup,
    warnings: &mut Vec<CompileWarning>,
) -> CResult<Filter> {
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
        Expr::Unary { left, .. } => {
            let left = condition_operand(compile_operand(left, lookup)?);
            Ok(Filter::Check(Box::new(Check::exists(
                left,
                ast.to_string().into(),
            ))))
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
    lookup: impl FieldLookup,
) -> Result<(FieldRef, &'static FieldInfo), String> {
    // the name as written, for error messages only
    let full = || match arg {
        Some(a) => format!("{name}[{a}]"),
        None => name.to_string(),
    };
    let bracket = arg.is_some();
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
                None => {
                    return Err(format!(
                        "filter_check called with nonexistent field {}",
                        full()
                    ));
                }
            }
        }
    };
    let bad = || format!("filter error: can't parse field expression '{}'", full());
    if info.class == STATIC_CLASS {
        if arg.is_some() {
            return Err(bad());
        }
        let value = FieldArg::Key(info.desc.to_string());
        return Ok((FieldRef::new(info.name, Some(value)), info));
    }
    if matches!(info.name, "evt.arg" | "evt.rawarg") {
        return match arg {
            Some(a) if bracket => {
                if info.name == "evt.rawarg" {
                    return Err("evt.arg fields must be expressed explicitly".into());
                }
                let i = a
                    .trim()
                    .parse::<i32>()
                    .map_err(|_| format!("{a} is not a valid number"))?;
                Ok((
                    FieldRef::new(info.name, Some(FieldArg::Index(i64::from(i)))),
                    info,
                ))
            }
            Some(a) => match longest_evt_param(&a) {
                Some(p) if p.name == a => {
                    Ok((FieldRef::new(info.name, Some(FieldArg::Key(a))), info))
                }
                Some(_) => Err(bad()),
                None => Err(format!("unknown event argument {a}")),
            },
            None => Err(bad()),
        };
    }
    let plugin = info.class == "container";
    let arg = match (info.arg, arg) {
        (ArgKind::None, Some(a)) if plugin => {
            return Err(format!(
                "filter '{}': {} does not allow nor require an argument but one is provided: {a}",
                full(),
                info.name
            ));
        }
        (ArgKind::None, Some(_)) => return Err(bad()),
        (ArgKind::Required, None) if plugin => {
            return Err(format!(
                "filter '{}': {} requires an argument but none provided",
                full(),
                info.name
            ));
        }
        (ArgKind::Required, None) => return Err(bad()),
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
    Ok((FieldRef::new(info.name, arg), info))
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

fn multi_arg(e: &Expr, lookup: impl FieldLookup) -> CResult<MultiArg> {
    match e {
        Expr::Value(v, _) => Ok(MultiArg::Literal(v.as_bytes().to_vec())),
        Expr::TransformerList(items, _) => Ok(MultiArg::List(
            items
                .iter()
                .map(|i| multi_arg(i, lookup))
                .collect::<CResult<_>>()?,
        )),
        other => Ok(MultiArg::Field(Box::new(compile_operand(other, lookup)?))),
    }
}

pub(crate) fn compile_operand_pub(e: &Expr, lookup: impl FieldLookup) -> CResult<Operand> {
    compile_operand(e, lookup)
}

/// The left operand of a comparison: a bare ancestor field compares every ancestor
/// ([`crate::fields::condition_ref`]).
fn condition_operand(mut o: Operand) -> Operand {
    if o.transformers.is_empty() && o.multi.is_none() {
        o.field = crate::fields::condition_ref(o.field);
    }
    o
}

fn compile_operand(e: &Expr, lookup: impl FieldLookup) -> CResult<Operand> {
    match e {
        Expr::Field { name, arg, pos } => {
            let (field, info) = resolve_field(name, arg.as_deref(), lookup)
                .map_err(|m| CompileError { msg: m, pos: *pos })?;
            // `evt.rawarg.NAME` is typed by its parameter
            let ftype = match (&field.arg, info.name) {
                (Some(FieldArg::Key(k)), "evt.rawarg") => {
                    longest_evt_param(k).map_or(info.ftype, |p| param_field_type(p.ptype))
                }
                _ => info.ftype,
            };
            Ok(Operand {
                field,
                info,
                transformers: Vec::new(),
                ftype,
                is_list: info.is_list,
                multi: None,
            })
        }
        Expr::Transformer {
            name,
            args,
            arg,
            pos,
        } if matches!(name.as_str(), "join" | "concat" | "getopt") => {
            let margs: Vec<MultiArg> = args
                .iter()
                .map(|a| multi_arg(a, lookup))
                .collect::<CResult<_>>()?;
            let mut is_list = false;
            let multi = match name.as_str() {
                "join" => {
                    if margs.len() != 2 {
                        return cerr(
                            "join() requires exactly 2 arguments: separator and list",
                            *pos,
                        );
                    }
                    if margs[0].arg_type().1 {
                        return cerr(
                            "join() first argument (separator) must be a single value, not a list",
                            *pos,
                        );
                    }
                    if !margs[1].arg_type().1 {
                        return cerr("join() second argument must be a list", *pos);
                    }
                    let mut it = margs.into_iter();
                    let (Some(sep), Some(list)) = (it.next(), it.next()) else {
                        return cerr(
                            "join() requires exactly 2 arguments: separator and list",
                            *pos,
                        );
                    };
                    Multi::Join { sep, list }
                }
                "concat" => {
                    if margs.len() < 2 {
                        return cerr("concat() requires at least 2 arguments", *pos);
                    }
                    if margs
                        .iter()
                        .any(|a| a.arg_type() != (FieldType::Charbuf, false))
                    {
                        return cerr("concat() arguments must be strings", *pos);
                    }
                    Multi::Concat(margs)
                }
                _ => {
                    if margs.len() != 2 {
                        return cerr(
                            "getopt() requires exactly 2 arguments: args list and optstring",
                            *pos,
                        );
                    }
                    let (t0, t1) = (margs[0].arg_type(), margs[1].arg_type());
                    if !t0.1 {
                        return cerr("getopt() first argument must be a list", *pos);
                    }
                    if t1.1 {
                        return cerr(
                            "getopt() second argument (optstring) must be a single value",
                            *pos,
                        );
                    }
                    if t0.0 != FieldType::Charbuf || t1.0 != FieldType::Charbuf {
                        return cerr("getopt() arguments must be strings", *pos);
                    }
                    let selector = match arg {
                        None => None,
                        Some(a) if a.len() == 1 => Some(a.as_bytes()[0]),
                        Some(_) => {
                            return cerr(
                                "getopt() field argument must be a single option character",
                                *pos,
                            );
                        }
                    };
                    is_list = selector.is_none();
                    let mut it = margs.into_iter();
                    let (Some(args), Some(optstring)) = (it.next(), it.next()) else {
                        return cerr(
                            "getopt() requires exactly 2 arguments: args list and optstring",
                            *pos,
                        );
                    };
                    Multi::Getopt {
                        args,
                        optstring,
                        selector,
                    }
                }
            };
            if arg.is_some() && name != "getopt" {
                return cerr(
                    format!("transformer '{name}' does not support field arguments"),
                    *pos,
                );
            }
            Ok(Operand {
                field: FieldRef::new(MULTI_RESULT.name, None),
                info: &MULTI_RESULT,
                transformers: Vec::new(),
                ftype: FieldType::Charbuf,
                is_list,
                multi: Some(Box::new(multi)),
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
            let no_transformer = match catalog_flags(inner.info) {
                Some(f) => f.no_transformer(),
                None => {
                    NO_TRANSFORMER_FIELDS.contains(&inner.info.name)
                        || is_ancestor_field(inner.info.name)
                }
            };
            if no_transformer {
                return cerr(
                    format!("field '{}' does not support transformers", inner.info.name),
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
                        "can't add field transformer: type '{}' is not supported by '{name}' transformer applied on {}field '{}'",
                        inner.ftype.name(),
                        if inner.is_list { "list " } else { "" },
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
    lookup: impl FieldLookup,
    warnings: &mut Vec<CompileWarning>,
) -> CResult<Filter> {
    // The check's printed text, as `Expr::Binary` prints it (without cloning the operands).
    let key: Box<str> = format!("{left} {op} {right}").into();
    let left = condition_operand(compile_operand(left, lookup)?);
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
    let mut left = left;
    if crate::fields::dns::NAME_FIELDS.contains(&left.info.name)
        && left.transformers.is_empty()
        && modifier == Modifier::None
        && matches!(cmp, CmpOp::Eq | CmpOp::In | CmpOp::Ne)
    {
        // libsinsp: without a cached name, the constants are domains the IP is matched against
        let constants = match right {
            Expr::Value(v, _) => Some(vec![v.clone()]),
            Expr::List(values, _) => Some(values.clone()),
            _ => None,
        };
        if let Some(c) = constants {
            left.field.arg = Some(crate::fields::dns::domains_arg(&c));
        }
    }
    if left.info.name == "evt.around" {
        // libsinsp: `evt.around[T] = D` only; the window becomes the field's argument
        let window = match (cmp, modifier, right) {
            (CmpOp::Eq, Modifier::None, Expr::Value(v, _)) => {
                crate::fields::around::window(&left.field, v)
                    .map_err(|msg| CompileError { msg, pos })?
            }
            _ => return cerr("evt.around supports only '=' comparison operator", pos),
        };
        left.field = window;
        return Ok(Filter::Check(Box::new(Check::exists(left, key))));
    }
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
            let no_rhs = |o: &Operand| match catalog_flags(o.info) {
                Some(f) => f.no_rhs(),
                None => {
                    is_ancestor_field(o.info.name) || NO_TRANSFORMER_FIELDS.contains(&o.info.name)
                }
            };
            if no_rhs(&left) {
                return cerr(
                    format!(
                        "field '{}' doesn't support right-hand side fields",
                        left.info.name
                    ),
                    pos,
                );
            }
            if no_rhs(&r) {
                return cerr(
                    format!(
                        "field '{}' can't be used as a right-hand side field",
                        r.info.name
                    ),
                    pos,
                );
            }
            if r.ftype != left.ftype || r.is_list != left.is_list {
                let list = |l: bool| if l { " (list)" } else { "" };
                return cerr(
                    format!(
                        "field '{}' has type '{}{}' while the right-hand side field '{}' has incompatible type '{}{}'",
                        left.info.name,
                        left.ftype.name(),
                        list(left.is_list),
                        r.info.name,
                        r.ftype.name(),
                        list(r.is_list)
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
    Ok(Filter::Check(Box::new(
        Check {
            left,
            op: cmp,
            modifier,
            rhs,
            ne_all,
            by_code: None,
            direct: None,
            key,
        }
        .with_code_table()
        .with_direct(),
    )))
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

pub(crate) fn apply_transformers<'s>(ts: &[Transformer], v: Value<'s>) -> Option<Value<'s>> {
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
    // Most values are short: a plain scan costs less than memchr's set-up there.
    let nul = if b.len() <= 32 {
        b.iter().position(|&c| c == 0)
    } else {
        memchr::memchr(0, b)
    };
    match nul {
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
    prefixes.iter().any(|p| {
        let mut comps = v.split(|&b| b == b'/').filter(|c| !c.is_empty());
        p.iter().all(|pc| match (pc, comps.next()) {
            (_, None) => false,
            (PrefixComponent::Literal(l), Some(c)) => l.as_slice() == c,
            (PrefixComponent::Glob(r), Some(c)) => r.is_match(c),
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
            Const::Bool(b) => num_of(v).is_some_and(|(_, n)| n == i128::from(*b)),
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

    // Inlined into the filter walk: the per-code table and the dispatch only; the
    // comparisons, whose frames are large, stay out of line.
    #[inline(always)]
    fn eval<E: Extract>(&self, ex: &mut E, scratch: &mut Scratch) -> bool {
        if let Some(bc) = &self.by_code {
            let code = ex.evt_type();
            if bc.known.contains(code) {
                return bc.holds.contains(code);
            }
        }
        if let Some(d) = &self.direct
            && let Some(r) = self.eval_direct(d, ex)
        {
            return r;
        }
        self.eval_general(ex, scratch)
    }

    /// Extracts the single value and makes the [`Direct`] comparison; `None` when the
    /// extractor has no single value for the field. In a frame of its own (the general
    /// path's is large), and the value is read where the extractor made it (see
    /// [`Extract::extract_single`]).
    #[inline(never)]
    fn eval_direct<E: Extract>(&self, d: &Direct, ex: &mut E) -> Option<bool> {
        let mut got = None;
        if !ex.extract_single(&self.left.field, &mut got) {
            return None;
        }
        Some(match &got {
            None => false,
            Some(v) => self
                .direct_matches(d, v)
                .unwrap_or_else(|| self.matches_values(std::slice::from_ref(v), &[])),
        })
    }

    /// Extracts and compares through the general path (lists, transformers, fields on the
    /// right).
    #[inline(never)]
    fn eval_general<E: Extract>(&self, ex: &mut E, scratch: &mut Scratch) -> bool {
        // Single-valued fields the extractor serves without a vector: the general path
        // below with one value or none.
        if self.left.multi.is_none()
            && self.left.transformers.is_empty()
            && !matches!(self.rhs, Rhs::Field(_))
        {
            let mut got = None;
            if ex.extract_single(&self.left.field, &mut got) {
                return match &got {
                    Some(v) => {
                        self.op == CmpOp::Exists
                            || self.matches_values(std::slice::from_ref(v), &[])
                    }
                    None => false,
                };
            }
        }
        let buf = std::mem::take(&mut scratch.values);
        let mut vals: Vec<Value<'_>> = relife(buf);
        let present = match &self.left.multi {
            None => ex.extract(&self.left.field, &mut vals),
            Some(_) => match operand_values(&self.left, ex) {
                Some(v) => {
                    vals.extend(v);
                    true
                }
                None => false,
            },
        };
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
                            let rp = match &r.multi {
                                None => ex.extract(&r.field, &mut rvals),
                                Some(_) => match operand_values(r, ex) {
                                    Some(v) => {
                                        rvals.extend(v);
                                        true
                                    }
                                    None => false,
                                },
                            };
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

impl Scratch {
    /// Forgets the shared results of the previous event; `slots` shared slots will be used.
    pub(crate) fn new_event(&mut self, slots: usize) {
        if self.shared_gen.len() < slots {
            self.shared_gen.resize(slots, 0);
            self.shared_val.resize(slots, false);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped: no slot may look current.
            self.shared_gen.fill(0);
            self.generation = 1;
        }
    }
}

impl Filter {
    /// Evaluates the filter for the current event.
    pub fn matches<E: Extract>(&self, ex: &mut E, scratch: &mut Scratch) -> bool {
        scratch.new_event(0);
        self.eval(ex, scratch)
    }

    /// Evaluates the filter within the current event: results of shared subtrees computed
    /// earlier for this event (since [`Scratch::new_event`]) are reused.
    pub(crate) fn eval<E: Extract>(&self, ex: &mut E, scratch: &mut Scratch) -> bool {
        match self {
            Filter::And(c) => c.iter().all(|f| f.eval_node(ex, scratch)),
            Filter::Or(c) => c.iter().any(|f| f.eval_node(ex, scratch)),
            Filter::Not(c) => !c.eval_node(ex, scratch),
            _ => self.eval_node(ex, scratch),
        }
    }

    /// One node, with the leaves a walk mostly meets (a check, a shared result already known
    /// for this event) handled in the parent's frame instead of a call of [`Filter::eval`]
    /// each.
    #[inline(always)]
    fn eval_node<E: Extract>(&self, ex: &mut E, scratch: &mut Scratch) -> bool {
        match self {
            Filter::Check(c) => c.eval(ex, scratch),
            Filter::Shared(slot, f) => {
                let slot = *slot as usize;
                if slot >= scratch.shared_gen.len() {
                    // A scratch not prepared for this ruleset: no sharing.
                    return f.eval(ex, scratch);
                }
                if scratch.shared_gen[slot] == scratch.generation {
                    return scratch.shared_val[slot];
                }
                let v = f.eval(ex, scratch);
                scratch.shared_gen[slot] = scratch.generation;
                scratch.shared_val[slot] = v;
                v
            }
            _ => self.eval(ex, scratch),
        }
    }

    /// Drops the per-code tables, so every check extracts its field (tests compare both ways).
    #[cfg(test)]
    pub(crate) fn strip_code_tables(&mut self) {
        match self {
            Filter::And(c) | Filter::Or(c) => c.iter_mut().for_each(Filter::strip_code_tables),
            Filter::Not(c) | Filter::Shared(_, c) => c.strip_code_tables(),
            Filter::Check(c) => c.by_code = None,
        }
    }

    /// Drops the [`Direct`] comparisons, so every check compares through the general path;
    /// returns how many there were.
    #[cfg(test)]
    pub(crate) fn strip_direct(&mut self) -> usize {
        match self {
            Filter::And(c) | Filter::Or(c) => c.iter_mut().map(Filter::strip_direct).sum(),
            Filter::Not(c) | Filter::Shared(_, c) => c.strip_direct(),
            Filter::Check(c) => usize::from(c.direct.take().is_some()),
        }
    }

    /// Whether evaluating the node costs no more than a table look-up (not worth sharing).
    fn is_cheap(&self) -> bool {
        matches!(self, Filter::Check(c) if c.by_code.is_some())
    }
}

/// Finds the subtrees that occur more than once across a ruleset's filters (equal checks by
/// their printed text, equal `and`/`or`/`not` nodes by their children) and wraps each in a
/// [`Filter::Shared`] node with a slot of its own.
#[derive(Debug, Default)]
pub(crate) struct Sharing {
    /// The source of the filters being visited: checks of different sources never share.
    source: String,
    ids: HashMap<NodeKey, u32>,
    counts: Vec<u32>,
    slots: HashMap<u32, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum NodeKey {
    Check(String, Box<str>),
    And(Vec<u32>),
    Or(Vec<u32>),
    Not(u32),
}

impl Sharing {
    fn id(&mut self, key: NodeKey) -> u32 {
        let next = self.ids.len() as u32;
        let id = *self.ids.entry(key).or_insert(next);
        if id == next {
            self.counts.push(0);
        }
        id
    }

    /// The node's id; counts one occurrence of it and of each node below it.
    fn visit(&mut self, f: &Filter) -> u32 {
        let key = match f {
            Filter::Check(c) => NodeKey::Check(self.source.clone(), c.key.clone()),
            Filter::And(c) => NodeKey::And(c.iter().map(|f| self.visit(f)).collect()),
            Filter::Or(c) => NodeKey::Or(c.iter().map(|f| self.visit(f)).collect()),
            Filter::Not(c) => NodeKey::Not(self.visit(c)),
            Filter::Shared(_, c) => return self.visit(c),
        };
        let id = self.id(key);
        self.counts[id as usize] += 1;
        id
    }

    /// Counts the nodes of one filter of event source `source`.
    pub(crate) fn count(&mut self, source: &str, f: &Filter) {
        source.clone_into(&mut self.source);
        self.visit(f);
    }

    /// Wraps the repeated subtrees of `f` (after every filter was counted); returns the id.
    fn wrap_node(&mut self, f: &mut Filter) -> u32 {
        let key = match f {
            Filter::Check(c) => NodeKey::Check(self.source.clone(), c.key.clone()),
            Filter::And(c) => NodeKey::And(c.iter_mut().map(|f| self.wrap_node(f)).collect()),
            Filter::Or(c) => NodeKey::Or(c.iter_mut().map(|f| self.wrap_node(f)).collect()),
            Filter::Not(c) => NodeKey::Not(self.wrap_node(c)),
            Filter::Shared(_, c) => return self.wrap_node(c),
        };
        let id = self.id(key);
        if self.counts[id as usize] >= 2 && !f.is_cheap() {
            let next = self.slots.len() as u32;
            let slot = *self.slots.entry(id).or_insert(next);
            let inner = std::mem::replace(f, Filter::And(Vec::new()));
            *f = Filter::Shared(slot, Box::new(inner));
        }
        id
    }

    pub(crate) fn wrap(&mut self, source: &str, f: &mut Filter) {
        source.clone_into(&mut self.source);
        self.wrap_node(f);
    }

    /// Number of shared slots handed out.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
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
