//! The rules compiler (`rule_loader_compiler.cpp`): expands lists, builds exception conditions,
//! substitutes lists textually, parses and resolves macros, compiles outputs and conditions, and
//! reports unused lists and macros. The whole collector is recompiled after every file, but
//! the pure steps (parsing a condition text, compiling an expanded condition, compiling an output
//! format) are memoised in a [`CompileCache`] kept by the loader, so a rule whose texts did not
//! change since the previous file costs only its list and macro substitution.

use std::collections::BTreeSet;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use foldhash::HashMap;

use super::condition::{self, Expr, Pos};
use super::loader::{
    Collector, ExceptionInfo, LResult, LoadError, RuleInfo, Warning, is_str_operator_with_modifier,
};
use super::result::{Context, ErrorCode, WarningCode};
use crate::engine::evttype::{self, CodeSet};
use crate::engine::filter::{self, CompileWarning, Filter};
use crate::engine::format::Format;

/// An `append_output` entry as the engine applies it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtraOutput {
    /// Only rules of this source (empty = any).
    pub source: String,
    /// Only rules having all these tags.
    pub tags: BTreeSet<String>,
    /// Only this rule (empty = any).
    pub rule: String,
    /// The text appended (after a space) to the output.
    pub format: String,
}

pub(crate) struct CompileConfig<'a> {
    pub extra_outputs: &'a [ExtraOutput],
    pub lookup: &'a dyn Fn(&str) -> Option<&'static crate::fields::FieldInfo>,
}

/// Results of the deterministic compile steps, reused by the next compile of the same loader.
/// Only successes of the filter and format compilers are kept (a failure ends the load); parse
/// results are kept either way. The lookup is fixed for a loader, so it is not part of the keys.
#[derive(Debug, Default)]
pub(crate) struct CompileCache {
    /// Condition text after list substitution -> its parse.
    parsed: HashMap<String, Result<Expr, condition::ParseError>>,
    /// Expanded condition (positions included) -> its filter and what else depends only on it.
    filters: HashMap<Arc<Expr>, CompiledCondition>,
    /// Output text -> its compiled format.
    formats: HashMap<String, Arc<Format>>,
}

impl CompileCache {
    fn parse(&mut self, text: &str) -> Result<Expr, condition::ParseError> {
        if let Some(r) = self.parsed.get(text) {
            return r.clone();
        }
        let r = condition::parse(text);
        self.parsed.insert(text.to_string(), r.clone());
        r
    }
}

/// A compiled expanded condition: the filter (shared, so that a recompile reuses it without
/// copying), the compiler's warnings, the event-type check and the event codes.
#[derive(Debug, Clone)]
struct CompiledCondition {
    filter: Arc<Filter>,
    warnings: Vec<CompileWarning>,
    evttype_check: Result<(), String>,
    codes: CodeSet,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledList {
    pub name: String,
    pub items: Vec<String>,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledMacro {
    pub name: String,
    pub ast: Expr,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub name: String,
    /// The expanded condition (shared with the compile cache's key).
    pub condition: Arc<Expr>,
    pub output: String,
    pub format: Arc<Format>,
    pub filter: Arc<Filter>,
    pub codes: CodeSet,
    pub exception_fields: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct CompileOutput {
    pub lists: Vec<CompiledList>,
    pub macros: Vec<CompiledMacro>,
    pub rules: Vec<CompiledRule>,
}

fn quote_item(e: &str) -> String {
    if e.contains(' ') && !e.starts_with('"') && !e.starts_with('\'') {
        format!("\"{e}\"")
    } else {
        e.to_string()
    }
}

fn paren_item(e: &str) -> String {
    if e.starts_with('(') {
        e.to_string()
    } else {
        format!("({e})")
    }
}

fn is_operator_for_list(op: &str) -> bool {
    matches!(op, "intersects" | "in" | "pmatch") || is_str_operator_with_modifier(op)
}

fn verr<T>(msg: impl Into<String>, ctx: &Context) -> LResult<T> {
    Err(LoadError {
        code: ErrorCode::Validate,
        msg: msg.into(),
        ctx: ctx.clone(),
    })
}

/// Appends `and not (...)` for every exception (`build_rule_exception_infos`).
pub(crate) fn build_exceptions(
    exceptions: &[ExceptionInfo],
    fields: &mut BTreeSet<String>,
    condition: &mut String,
) -> LResult<()> {
    *condition = format!("({condition})");
    for ex in exceptions {
        let mut icond = String::new();
        if !ex.fields.is_list {
            for val in &ex.values {
                if val.is_list {
                    return verr(
                        "Expected values array to contain a list of strings",
                        &ex.ctx,
                    );
                }
                if icond.is_empty() {
                    icond = format!("({} {} (", ex.fields.item, ex.comps.item);
                } else {
                    icond.push_str(", ");
                }
                fields.insert(ex.fields.item.clone());
                icond.push_str(&quote_item(&val.item));
            }
            if !icond.is_empty() {
                icond.push_str("))");
            }
        } else {
            icond.push('(');
            for values in &ex.values {
                if ex.fields.items.len() != values.items.len() {
                    return verr("Fields and values lists must have equal length", &ex.ctx);
                }
                if icond != "(" {
                    icond.push_str(" or ");
                }
                icond.push('(');
                for (k, field) in ex.fields.items.iter().enumerate() {
                    if k > 0 {
                        icond.push_str(" and ");
                    }
                    let v = &values.items[k];
                    let istr = if v.is_list {
                        let parts: Vec<String> =
                            v.items.iter().map(|i| quote_item(&i.item)).collect();
                        format!("({})", parts.join(", "))
                    } else if is_operator_for_list(&ex.comps.items[k].item) {
                        paren_item(&v.item)
                    } else {
                        quote_item(&v.item)
                    };
                    icond.push_str(&format!(
                        " {} {} {}",
                        field.item, ex.comps.items[k].item, istr
                    ));
                    fields.insert(field.item.clone());
                }
                icond.push(')');
            }
            icond.push(')');
            if icond == "()" {
                icond.clear();
            }
        }
        if !icond.is_empty() {
            condition.push_str(" and not ");
            condition.push_str(&icond);
        }
    }
    Ok(())
}

/// Textual list substitution (`resolve_list`); returns whether the list was used.
pub(crate) fn resolve_list(cnd: &mut String, name: &str, items: &[String]) -> bool {
    const BLANKS: &[u8] = b" \t\n\r";
    const DELIMS: &[u8] = b" \t\n\r(),=";
    if name.is_empty() {
        return false;
    }
    let mut used = false;
    let mut start_opt = cnd.find(name);
    while let Some(mut start) = start_opt {
        let b = cnd.as_bytes();
        let mut end = start + name.len();
        if (start == 0 || DELIMS.contains(&b[start - 1]))
            && (end >= b.len() || DELIMS.contains(&b[end]))
        {
            while start > 0 && BLANKS.contains(&b[start - 1]) {
                start -= 1;
            }
            while end < b.len() && BLANKS.contains(&b[end]) {
                end += 1;
            }
            let sub = items
                .iter()
                .map(|v| quote_item(v))
                .collect::<Vec<_>>()
                .join(", ");
            if sub.is_empty() {
                if start > 0 && b[start - 1] == b',' {
                    start -= 1;
                } else if end < b.len() && b[end] == b',' {
                    end += 1;
                }
            }
            let mut new_cnd = String::with_capacity(cnd.len() + sub.len() + 2);
            if start > 0 {
                new_cnd.push_str(&cnd[..start]);
                new_cnd.push(' ');
            }
            new_cnd.push_str(&sub);
            new_cnd.push(' ');
            if end <= cnd.len() {
                new_cnd.push_str(&cnd[end..]);
            }
            *cnd = new_cnd;
            start += sub.len() + 1;
            used = true;
        }
        let from = start + 1;
        start_opt = if from <= cnd.len() {
            find_from(cnd, name, from)
        } else {
            None
        };
    }
    used
}

/// Which lists can take part in the substitution of a condition, so that [`resolve_list`] runs
/// only for lists whose name occurs in the text (the result is the same as trying every list in
/// order: a name can only appear in the text from the original condition, from the items of a
/// list substituted before it, or across a joining blank if it contains a delimiter itself).
struct ListIndex {
    /// All list names, pattern index = list index (None if the automaton could not be built:
    /// then every list is tried).
    names: Option<AhoCorasick>,
    /// Lists whose name contains a delimiter: always tried.
    always: Vec<usize>,
    /// For each list, the lists whose name occurs in its substituted items.
    inner: Vec<Vec<usize>>,
}

const LIST_DELIMS: &[u8] = b" \t\n\r(),=";

impl ListIndex {
    fn new(lists: &[CompiledList]) -> ListIndex {
        // A contiguous NFA: built once per compile, it costs far less than a DFA to build and
        // searches the few hundred conditions nearly as fast.
        let names = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(lists.iter().map(|l| l.name.as_str()))
            .ok();
        let always = (0..lists.len())
            .filter(|&i| names.is_none() || lists[i].name.bytes().any(|b| LIST_DELIMS.contains(&b)))
            .collect();
        let inner = match &names {
            Some(ac) => lists
                .iter()
                .map(|l| {
                    // the text `resolve_list` inserts for this list
                    let sub = l
                        .items
                        .iter()
                        .map(|v| quote_item(v))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let mut seen = vec![false; lists.len()];
                    for m in ac.find_overlapping_iter(sub.as_str()) {
                        seen[m.pattern().as_usize()] = true;
                    }
                    (0..lists.len()).filter(|&j| seen[j]).collect()
                })
                .collect(),
            None => vec![Vec::new(); lists.len()],
        };
        ListIndex {
            names,
            always,
            inner,
        }
    }

    /// Applies every list to `cnd` in order (`resolve_list`), marking the used ones.
    fn substitute(&self, cnd: &mut String, lists: &mut [CompiledList]) {
        let mut candidate = vec![false; lists.len()];
        if let Some(ac) = &self.names {
            for m in ac.find_overlapping_iter(cnd.as_str()) {
                candidate[m.pattern().as_usize()] = true;
            }
        }
        for &i in &self.always {
            candidate[i] = true;
        }
        for i in 0..lists.len() {
            if !candidate[i] {
                continue;
            }
            let l = &mut lists[i];
            if resolve_list(cnd, &l.name, &l.items) {
                l.used = true;
                for &j in &self.inner[i] {
                    candidate[j] = true;
                }
            }
        }
    }
}

fn find_from(hay: &str, needle: &str, from: usize) -> Option<usize> {
    memchr::memmem::find(&hay.as_bytes()[from..], needle.as_bytes()).map(|i| i + from)
}

fn parse_condition(
    cache: &mut CompileCache,
    index: &ListIndex,
    condition: &str,
    lists: &mut [CompiledList],
    ctx: &Context,
) -> LResult<(Expr, String)> {
    let mut cond = condition.to_string();
    index.substitute(&mut cond, lists);
    match cache.parse(&cond) {
        Ok(ast) => Ok((ast, cond)),
        Err(e) => Err(LoadError {
            code: ErrorCode::CompileCondition,
            msg: e.msg,
            ctx: ctx.condition(e.pos, &cond),
        }),
    }
}

#[derive(Default)]
struct MacroResolution {
    errors: Vec<(String, Pos)>,
    unknown: Vec<(String, Pos)>,
    resolved: Vec<String>,
}

fn expand<'a>(
    e: &mut Expr,
    macros: &impl Fn(&str) -> Option<&'a Expr>,
    path: &mut Vec<String>,
    res: &mut MacroResolution,
) {
    match e {
        Expr::And(c, _) | Expr::Or(c, _) => c.iter_mut().for_each(|c| expand(c, macros, path, res)),
        Expr::Not(c, _) => expand(c, macros, path, res),
        Expr::Identifier(name, pos) => match macros(name.as_str()) {
            Some(body) => {
                if path.iter().any(|p| p == name) {
                    res.errors
                        .push((format!("reference loop in macro '{name}'"), *pos));
                    res.unknown.push((name.clone(), *pos));
                    return;
                }
                path.push(name.clone());
                let mut new = body.clone();
                expand(&mut new, macros, path, res);
                res.resolved.push(name.clone());
                path.pop();
                *e = new;
            }
            None => res.unknown.push((name.clone(), *pos)),
        },
        _ => {}
    }
}

fn resolve_macros<'a>(
    available: &impl Fn(&str) -> Option<&'a Expr>,
    ast: &mut Expr,
    condition: &str,
    ctx: &Context,
) -> LResult<Vec<String>> {
    let mut res = MacroResolution::default();
    expand(ast, available, &mut Vec::new(), &mut res);
    if let Some((msg, pos)) = res.errors.first() {
        return verr(msg.clone(), &ctx.condition(*pos, condition));
    }
    if let Some((name, pos)) = res.unknown.first() {
        return verr(
            format!("Undefined macro '{name}' used in filter."),
            &ctx.condition(*pos, condition),
        );
    }
    Ok(res.resolved)
}

const DEPRECATED_FIELDS: [&str; 6] = [
    "evt.dir",
    "evt.latency",
    "evt.latency.s",
    "evt.latency.ns",
    "evt.latency.human",
    "evt.wait_latency",
];

fn deprecated_field_desc(f: &str) -> &'static str {
    if f == "evt.dir" {
        "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' always evaluates to false. The rule expression can be simplified by removing the condition on 'evt.dir'"
    } else {
        "field is not available due to the drop of enter events."
    }
}

fn err_is_unknown_type_or_field(err: &str) -> bool {
    [
        "nonexistent field",
        "invalid formatting token",
        "unknown event type",
        "unknown filter:",
    ]
    .iter()
    .any(|p| err.contains(p))
}

/// The warning visitor (`filter_warning_resolver`): one `LOAD_UNSAFE_NA_CHECK` if any `ka.*` or
/// `jevt.*` field is compared for equality with `<NA>`, then one `LOAD_DEPRECATED_ITEM` per
/// deprecated field used (in Falco's enum order).
fn condition_warnings(ast: &Expr, ctx: &Context, warnings: &mut Vec<Warning>) {
    #[derive(Default)]
    struct V {
        unsafe_na: bool,
        deprecated: [bool; DEPRECATED_FIELDS.len()],
        last_unsafe: bool,
        equality: bool,
    }
    fn walk(e: &Expr, v: &mut V) {
        match e {
            Expr::And(c, _) | Expr::Or(c, _) => c.iter().for_each(|c| walk(c, v)),
            Expr::Not(c, _) => walk(c, v),
            Expr::Binary {
                left, op, right, ..
            } => {
                v.last_unsafe = false;
                walk(left, v);
                if v.last_unsafe
                    && matches!(
                        op.as_str(),
                        "==" | "=" | "!=" | "in" | "intersects" | "pmatch"
                    )
                {
                    v.equality = true;
                    walk(right, v);
                    v.equality = false;
                }
            }
            Expr::Unary { left, .. } => walk(left, v),
            Expr::Field { name, .. } => {
                v.last_unsafe = name.starts_with("ka.") || name.starts_with("jevt.");
                if let Some(i) = DEPRECATED_FIELDS.iter().position(|f| f == name) {
                    v.deprecated[i] = true;
                }
            }
            Expr::Transformer { args, .. } | Expr::TransformerList(args, _) => {
                args.iter().for_each(|a| walk(a, v))
            }
            Expr::Value(val, _) => v.unsafe_na |= v.equality && val == "<NA>",
            Expr::List(vals, _) => v.unsafe_na |= v.equality && vals.iter().any(|x| x == "<NA>"),
            Expr::Identifier(..) => {}
        }
    }
    let mut v = V::default();
    walk(ast, &mut v);
    if v.unsafe_na {
        warnings.push(Warning {
            code: WarningCode::UnsafeNaCheck,
            msg: String::new(),
            ctx: ctx.clone(),
            deprecated_field: None,
        });
    }
    for (i, f) in DEPRECATED_FIELDS.iter().enumerate() {
        if v.deprecated[i] {
            warnings.push(Warning {
                code: WarningCode::DeprecatedItem,
                msg: deprecated_field_desc(f).to_string(),
                ctx: ctx.clone(),
                deprecated_field: Some(f),
            });
        }
    }
}

/// Compiles everything collected so far.
pub(crate) fn compile(
    cfg: &CompileConfig<'_>,
    col: &Collector,
    cache: &mut CompileCache,
    warnings: &mut Vec<Warning>,
) -> LResult<CompileOutput> {
    let mut out = CompileOutput::default();
    // lists
    let mut used_names = Vec::new();
    for l in col.lists.iter() {
        let mut items = Vec::new();
        for item in &l.items {
            match col.lists.get(item) {
                Some(r) if r.index < l.visibility => {
                    used_names.push(r.name.clone());
                    items.extend(r.items.iter().cloned());
                }
                _ => items.push(item.clone()),
            }
        }
        out.lists.push(CompiledList {
            name: l.name.clone(),
            items,
            used: false,
        });
    }
    for n in used_names {
        if let Some(l) = out.lists.iter_mut().find(|l| l.name == n) {
            l.used = true;
        }
    }
    let index = ListIndex::new(&out.lists);
    // macros: parse, then resolve in index order
    for m in col.macros.iter() {
        let (ast, _) = parse_condition(cache, &index, &m.cond, &mut out.lists, &m.cond_ctx)?;
        out.macros.push(CompiledMacro {
            name: m.name.clone(),
            ast,
            used: false,
        });
    }
    for i in 0..out.macros.len() {
        let info = &col.macros.items[i];
        let mut ast = out.macros[i].ast.clone();
        let resolved = {
            let macros = &out.macros;
            let available = |name: &str| {
                col.macros
                    .position(name)
                    .filter(|&j| col.macros.items[j].index < info.visibility)
                    .map(|j| &macros[j].ast)
            };
            resolve_macros(&available, &mut ast, &info.cond, &info.ctx)?
        };
        out.macros[i].ast = ast;
        mark_used(col, &mut out.macros, &resolved);
    }
    // rules
    for r in col.rules.iter() {
        if r.unknown_source {
            continue;
        }
        if let Some(rule) = compile_rule(cfg, col, r, &mut out, cache, &index, warnings)? {
            out.rules.push(rule);
        }
    }
    // unused lists and macros
    for (m, info) in out.macros.iter().zip(col.macros.iter()) {
        if !m.used {
            warnings.push(Warning {
                code: WarningCode::UnusedMacro,
                msg: "Macro not referred to by any other rule/macro".into(),
                ctx: info.ctx.clone(),
                deprecated_field: None,
            });
        }
    }
    for (l, info) in out.lists.iter().zip(col.lists.iter()) {
        if !l.used {
            warnings.push(Warning {
                code: WarningCode::UnusedList,
                msg: "List not referred to by any other rule/macro".into(),
                ctx: info.ctx.clone(),
                deprecated_field: None,
            });
        }
    }
    Ok(out)
}

fn mark_used(col: &Collector, macros: &mut [CompiledMacro], names: &[String]) {
    for n in names {
        if let Some(j) = col.macros.position(n) {
            macros[j].used = true;
        }
    }
}

fn compile_rule(
    cfg: &CompileConfig<'_>,
    col: &Collector,
    r: &RuleInfo,
    out: &mut CompileOutput,
    cache: &mut CompileCache,
    index: &ListIndex,
    warnings: &mut Vec<Warning>,
) -> LResult<Option<CompiledRule>> {
    let mut exception_fields = BTreeSet::new();
    let mut condition = r.cond.clone();
    if !r.exceptions.is_empty() {
        build_exceptions(&r.exceptions, &mut exception_fields, &mut condition)?;
    }
    let mut output = r.output.clone();
    for extra in cfg.extra_outputs {
        if (!extra.source.is_empty() && r.source != extra.source)
            || !extra.tags.is_subset(&r.tags)
            || (!extra.rule.is_empty() && r.name != extra.rule)
        {
            continue;
        }
        output.push(' ');
        output.push_str(&extra.format);
    }
    if output.contains("%container.info") {
        warnings.push(Warning {
            code: WarningCode::DeprecatedItem,
            msg: "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The container plugin will automatically add required fields to the output message.".into(),
            ctx: r.ctx.clone(),
            deprecated_field: None,
        });
        output = output.replace("%container.info", "");
    }
    let compiled_format = match cache.formats.get(&output) {
        Some(f) => Ok(Arc::clone(f)),
        None => Format::compile(&output, cfg.lookup).map(|f| {
            let f = Arc::new(f);
            cache.formats.insert(output.clone(), Arc::clone(&f));
            f
        }),
    };
    let format = match compiled_format {
        Ok(f) => f,
        Err(e) => {
            if err_is_unknown_type_or_field(&e.msg) && r.skip_if_unknown_filter {
                warnings.push(Warning {
                    code: WarningCode::UnknownFilter,
                    msg: e.msg,
                    ctx: r.output_ctx.clone(),
                    deprecated_field: None,
                });
                return Ok(None);
            }
            return Err(LoadError {
                code: ErrorCode::CompileOutput,
                msg: e.msg,
                ctx: r.output_ctx.clone(),
            });
        }
    };
    for f in DEPRECATED_FIELDS {
        if output.contains(f) {
            warnings.push(Warning {
                code: WarningCode::DeprecatedItem,
                msg: format!(
                    "usage of deprecated field '{f}' has been detected in the rule output"
                ),
                ctx: r.output_ctx.clone(),
                deprecated_field: Some(f),
            });
        }
    }
    let (mut ast, _) = parse_condition(cache, index, &condition, &mut out.lists, &r.cond_ctx)?;
    let resolved = {
        let macros = &out.macros;
        let available = |name: &str| col.macros.position(name).map(|j| &macros[j].ast);
        resolve_macros(&available, &mut ast, &condition, &r.ctx)?
    };
    mark_used(col, &mut out.macros, &resolved);
    condition_warnings(
        &ast,
        &r.cond_ctx.condition(
            Pos {
                idx: 0,
                line: 0,
                col: 0,
            },
            &condition,
        ),
        warnings,
    );
    let cached = cache.filters.get_key_value(&ast);
    let (ast, compiled) = match cached {
        Some((key, c)) => (Arc::clone(key), Ok(c.clone())),
        None => {
            let mut cw = Vec::new();
            let ast = Arc::new(ast);
            let compiled = filter::compile(&ast, cfg.lookup, &mut cw).map(|f| {
                let c = CompiledCondition {
                    filter: Arc::new(f),
                    warnings: cw,
                    evttype_check: evttype::check(&ast),
                    codes: evttype::event_codes(&ast),
                };
                cache.filters.insert(Arc::clone(&ast), c.clone());
                c
            });
            (ast, compiled)
        }
    };
    let CompiledCondition {
        filter,
        warnings: cw,
        evttype_check,
        mut codes,
    } = match compiled {
        Ok(c) => c,
        Err(e) => {
            let ctx = r.cond_ctx.condition(e.pos, &condition);
            if err_is_unknown_type_or_field(&e.msg) && r.skip_if_unknown_filter {
                warnings.push(Warning {
                    code: WarningCode::UnknownFilter,
                    msg: e.msg,
                    ctx,
                    deprecated_field: None,
                });
                return Ok(None);
            }
            return Err(LoadError {
                code: ErrorCode::CompileCondition,
                msg: e.msg,
                ctx,
            });
        }
    };
    for w in cw {
        warnings.push(Warning {
            code: WarningCode::CompileCondition,
            msg: w.msg,
            ctx: r.cond_ctx.condition(w.pos, &condition),
            deprecated_field: None,
        });
    }
    if r.source == "syscall"
        && let Err(msg) = evttype_check
    {
        let ctx = r.cond_ctx.condition(Pos::default(), &condition);
        return Err(LoadError {
            code: ErrorCode::CompileCondition,
            msg,
            ctx,
        });
    }
    if r.source == "syscall"
        && filter::event_table_ready()
        && (codes.is_empty() || codes.len() > 100)
        && r.warn_evttypes
    {
        warnings.push(Warning {
            code: WarningCode::NoEvttype,
            msg:
                "Rule matches too many evt.type values. This has a significant performance penalty."
                    .into(),
            ctx: r.ctx.clone(),
            deprecated_field: None,
        });
    }
    for c in crate::event::table::codes_for_name("asyncevent") {
        codes.insert(c);
    }
    Ok(Some(CompiledRule {
        name: r.name.clone(),
        condition: ast,
        output,
        format,
        filter,
        codes,
        exception_fields,
    }))
}
