//! The rules reader and collector: reads rules-file YAML items (with positions) and feeds them
//! to one collector shared by every file, applying Falco's define/append/override semantics
//! (`rule_loader_reader.cpp`, `rule_loader_collector.cpp`).

use std::collections::{BTreeSet, HashSet};

use foldhash::HashMap;

use super::result::{Context, ErrorCode, ItemType, Mark, WarningCode};
use super::yaml::{self, Marks, Node};

/// The engine version of Falco 0.44.1.
pub const ENGINE_VERSION: Semver = Semver {
    major: 0,
    minor: 62,
    patch: 0,
};

/// A `%u.%u.%u` version, as `sinsp_version` parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Semver {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Semver {
    /// sscanf("%u.%u.%u"): three numbers must be present; trailing text is ignored.
    pub fn parse(s: &str) -> Option<Semver> {
        let mut rest = s.trim_start();
        let mut nums = [0u32; 3];
        for (i, n) in nums.iter_mut().enumerate() {
            if i > 0 {
                rest = rest.strip_prefix('.')?;
            }
            rest = rest.trim_start();
            let (neg, r) = match rest.as_bytes().first() {
                Some(b'-') => (true, &rest[1..]),
                Some(b'+') => (false, &rest[1..]),
                _ => (false, rest),
            };
            let len = r.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 {
                return None;
            }
            let v = r[..len].parse::<u64>().unwrap_or(u64::MAX) as u32;
            *n = if neg { v.wrapping_neg() } else { v };
            rest = &r[len..];
        }
        Some(Semver {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
        })
    }

    /// Same major and `self >= required`.
    pub fn compatible_with(&self, required: &Semver) -> bool {
        self.major == required.major && self >= required
    }
}

impl std::fmt::Display for Semver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Rule priorities: one type with the configuration's (`falco_common::priority_type`).
pub use crate::config::Priority;

/// An error that stops reading or compiling (`rule_load_exception`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {msg}", code.code())]
pub(crate) struct LoadError {
    pub code: ErrorCode,
    pub msg: String,
    pub ctx: Context,
}

/// A warning raised while reading or compiling.
#[derive(Debug, Clone)]
pub(crate) struct Warning {
    pub code: WarningCode,
    pub msg: String,
    pub ctx: Context,
    pub deprecated_field: Option<&'static str>,
}

pub(crate) type LResult<T> = Result<T, LoadError>;

fn yaml_err<T>(msg: impl Into<String>, ctx: &Context) -> LResult<T> {
    Err(LoadError {
        code: ErrorCode::YamlValidate,
        msg: msg.into(),
        ctx: ctx.clone(),
    })
}

fn validate_err<T>(msg: impl Into<String>, ctx: &Context) -> LResult<T> {
    Err(LoadError {
        code: ErrorCode::Validate,
        msg: msg.into(),
        ctx: ctx.clone(),
    })
}

/// Names in insertion order, with lookup by name (Falco's `indexed_vector`).
#[derive(Debug, Clone)]
pub(crate) struct Indexed<T> {
    pub items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            by_name: HashMap::default(),
        }
    }
}

impl<T> Indexed<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|&i| &self.items[i])
    }
    /// Where `name` is in insertion order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|&i| &mut self.items[i])
    }
    pub fn insert(&mut self, name: &str, v: T) -> usize {
        match self.by_name.get(name) {
            Some(&i) => {
                self.items[i] = v;
                i
            }
            None => {
                self.items.push(v);
                self.by_name.insert(name.to_string(), self.items.len() - 1);
                self.items.len() - 1
            }
        }
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ListInfo {
    pub ctx: Context,
    pub name: String,
    pub items: Vec<String>,
    pub index: u32,
    pub visibility: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct MacroInfo {
    pub ctx: Context,
    pub cond_ctx: Context,
    pub name: String,
    pub cond: String,
    pub index: u32,
    pub visibility: u32,
}

/// A `fields`/`comps`/`values` entry of an exception: a scalar or a (nested) sequence.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExEntry {
    pub valid: bool,
    pub is_list: bool,
    pub item: String,
    pub items: Vec<ExEntry>,
}

impl ExEntry {
    fn scalar(s: &str) -> ExEntry {
        ExEntry {
            valid: true,
            is_list: false,
            item: s.to_string(),
            items: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ExceptionInfo {
    pub ctx: Context,
    pub name: String,
    pub fields: ExEntry,
    pub comps: ExEntry,
    pub values: Vec<ExEntry>,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleInfo {
    pub ctx: Context,
    pub cond_ctx: Context,
    pub output_ctx: Context,
    pub name: String,
    pub cond: String,
    pub output: String,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub capture: bool,
    pub capture_duration: u32,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<ExceptionInfo>,
    pub unknown_source: bool,
    pub index: u32,
    pub visibility: u32,
}

#[derive(Debug, Clone, Default)]
struct RuleUpdate {
    name: String,
    source: String,
    cond: Option<String>,
    output: Option<String>,
    desc: Option<String>,
    tags: Option<BTreeSet<String>>,
    exceptions: Option<Vec<ExceptionInfo>>,
    priority: Option<Priority>,
    capture: Option<bool>,
    capture_duration: Option<u32>,
    enabled: Option<bool>,
    warn_evttypes: Option<bool>,
    skip_if_unknown_filter: Option<bool>,
}

impl RuleUpdate {
    fn has_any_value(&self) -> bool {
        self.cond.is_some()
            || self.output.is_some()
            || self.desc.is_some()
            || self.tags.is_some()
            || self.exceptions.is_some()
            || self.priority.is_some()
            || self.capture.is_some()
            || self.capture_duration.is_some()
            || self.enabled.is_some()
            || self.warn_evttypes.is_some()
            || self.skip_if_unknown_filter.is_some()
    }
}

/// One `required_plugin_versions` entry: the first alternative and the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRequirement {
    pub name: String,
    pub version: String,
}

/// Everything read so far, across files (`rule_loader::collector`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Collector {
    cur_index: u32,
    pub lists: Indexed<ListInfo>,
    pub macros: Indexed<MacroInfo>,
    pub rules: Indexed<RuleInfo>,
    pub required_engine_version: Option<Semver>,
    pub required_plugin_versions: Vec<Vec<PluginRequirement>>,
}

const COMPARISON_OPS: [&str; 20] = [
    "exists",
    "<=",
    "<",
    ">=",
    ">",
    "==",
    "=",
    "!=",
    "glob",
    "iglob",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "regex",
    "intersects",
    "in",
    "pmatch",
];
const MODIFIER_BASE_OPS: [&str; 12] = [
    "=",
    "==",
    "!=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
];

/// `<op> oneof|anyof|allof` (`is_str_operator_with_modifier`).
pub(crate) fn is_str_operator_with_modifier(op: &str) -> bool {
    let mut parts = op.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(base), Some(m), None) => {
            MODIFIER_BASE_OPS.contains(&base) && matches!(m, "oneof" | "anyof" | "allof")
        }
        _ => false,
    }
}

fn normalize_comp(s: &str) -> String {
    s.trim_matches([' ', '\t', '\r', '\n']).to_string()
}

/// What the collector needs to know about sources: which exist and which fields are valid.
pub(crate) struct Sources<'a> {
    pub known: &'a [String],
    pub is_valid_field: &'a dyn Fn(&str) -> bool,
}

fn validate_exception_info(
    sources: &Sources<'_>,
    source_known: bool,
    ex: &mut ExceptionInfo,
) -> LResult<()> {
    if ex.fields.is_list {
        if !ex.comps.valid {
            ex.comps.valid = true;
            ex.comps.is_list = true;
            ex.comps.items = ex
                .fields
                .items
                .iter()
                .map(|_| ExEntry::scalar("="))
                .collect();
        }
        if ex.fields.items.len() != ex.comps.items.len() {
            return validate_err("Fields and comps lists must have equal length", &ex.ctx);
        }
        for c in &mut ex.comps.items {
            c.item = normalize_comp(&c.item);
            if !COMPARISON_OPS.contains(&c.item.as_str()) && !is_str_operator_with_modifier(&c.item)
            {
                return validate_err(
                    format!("'{}' is not a supported comparison operator", c.item),
                    &ex.ctx,
                );
            }
        }
        if source_known {
            for f in &ex.fields.items {
                if !(sources.is_valid_field)(&f.item) {
                    return validate_err(
                        format!("'{}' is not a supported filter field", f.item),
                        &ex.ctx,
                    );
                }
            }
        }
    } else {
        if !ex.comps.valid {
            ex.comps = ExEntry::scalar("in");
        }
        if ex.comps.is_list {
            return validate_err("Fields and comps must both be strings", &ex.ctx);
        }
        ex.comps.item = normalize_comp(&ex.comps.item);
        let c = ex.comps.item.as_str();
        if c != "in" && c != "pmatch" && c != "intersects" && !is_str_operator_with_modifier(c) {
            return validate_err(
                "When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. startswith oneof)",
                &ex.ctx,
            );
        }
        if source_known && !(sources.is_valid_field)(&ex.fields.item) {
            return validate_err(
                format!("'{}' is not a supported filter field", ex.fields.item),
                &ex.ctx,
            );
        }
    }
    Ok(())
}

impl Collector {
    fn next_id(&mut self) -> u32 {
        let id = self.cur_index;
        self.cur_index += 1;
        id
    }

    fn define_list(&mut self, mut info: ListInfo) {
        let id = self.next_id();
        if let Some(prev) = self.lists.get_mut(&info.name) {
            info.index = prev.index;
            info.visibility = id;
            *prev = info;
        } else {
            info.index = id;
            info.visibility = id;
            let name = info.name.clone();
            self.lists.insert(&name, info);
        }
    }

    fn define_macro(&mut self, mut info: MacroInfo) {
        let id = self.next_id();
        if let Some(prev) = self.macros.get_mut(&info.name) {
            info.index = prev.index;
            info.visibility = id;
            *prev = info;
        } else {
            info.index = id;
            info.visibility = id;
            let name = info.name.clone();
            self.macros.insert(&name, info);
        }
    }

    fn find_prev_rule(&self, name: &str, source: &str, ctx: &Context) -> LResult<bool> {
        match self.rules.get(name) {
            Some(r) if !r.source.is_empty() && !source.is_empty() && r.source != source => {
                validate_err("Rule has been re-defined with a different source", ctx)
            }
            Some(_) => Ok(true),
            None => Ok(false),
        }
    }

    fn define_rule(
        &mut self,
        sources: &Sources<'_>,
        warnings: &mut Vec<Warning>,
        mut info: RuleInfo,
    ) -> LResult<()> {
        self.find_prev_rule(&info.name, &info.source, &info.ctx)?;
        let known = sources.known.contains(&info.source);
        if !known {
            info.unknown_source = true;
            warnings.push(Warning {
                code: WarningCode::UnknownSource,
                msg: format!("Unknown source {}, skipping", info.source),
                ctx: info.ctx.clone(),
                deprecated_field: None,
            });
        }
        for ex in &mut info.exceptions {
            if !ex.fields.valid {
                return validate_err(
                    "Rule exception item must have fields property with a list of fields",
                    &ex.ctx,
                );
            }
            validate_exception_info(sources, known, ex)?;
        }
        let id = self.next_id();
        if let Some(prev) = self.rules.get_mut(&info.name) {
            info.index = prev.index;
            info.visibility = id;
            *prev = info;
        } else {
            info.index = id;
            info.visibility = id;
            let name = info.name.clone();
            self.rules.insert(&name, info);
        }
        Ok(())
    }

    fn append_rule(
        &mut self,
        sources: &Sources<'_>,
        info: RuleUpdate,
        ctx: &Context,
    ) -> LResult<()> {
        if !self.find_prev_rule(&info.name, &info.source, ctx)? {
            return validate_err(
                "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists",
                ctx,
            );
        }
        if !info.has_any_value() {
            return validate_err(
                "Appended rule must have exceptions or condition property",
                ctx,
            );
        }
        let id = self.next_id();
        let Some(prev) = self.rules.get_mut(&info.name) else {
            return Ok(());
        };
        let known = !prev.unknown_source;
        if let Some(c) = info.cond.filter(|c| !c.is_empty()) {
            prev.cond.push(' ');
            prev.cond.push_str(&c);
        }
        if let Some(o) = info.output.filter(|c| !c.is_empty()) {
            prev.output.push(' ');
            prev.output.push_str(&o);
        }
        if let Some(d) = info.desc.filter(|c| !c.is_empty()) {
            prev.desc.push(' ');
            prev.desc.push_str(&d);
        }
        if let Some(tags) = info.tags {
            prev.tags.extend(tags);
        }
        if let Some(exs) = info.exceptions {
            for mut ex in exs {
                match prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                    None => {
                        if !ex.fields.valid {
                            return validate_err(
                                "Rule exception must have fields property with a list of fields",
                                &ex.ctx,
                            );
                        }
                        if ex.values.is_empty() {
                            return validate_err(
                                "Rule exception must have values property with a list of values",
                                &ex.ctx,
                            );
                        }
                        validate_exception_info(sources, known, &mut ex)?;
                        prev.exceptions.push(ex);
                    }
                    Some(pe) => {
                        if ex.fields.valid {
                            return validate_err(
                                "Can not append exception fields to existing exception, only values",
                                &ex.ctx,
                            );
                        }
                        if ex.comps.valid {
                            return validate_err(
                                "Can not append exception comps to existing exception, only values",
                                &ex.ctx,
                            );
                        }
                        pe.values.extend(ex.values);
                    }
                }
            }
        }
        prev.visibility = id;
        Ok(())
    }

    fn replace_rule(&mut self, info: RuleUpdate, ctx: &Context) -> LResult<()> {
        if !self.find_prev_rule(&info.name, &info.source, ctx)? {
            return validate_err(
                "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists",
                ctx,
            );
        }
        if !info.has_any_value() {
            return validate_err(
                "The rule must have at least one field that can be replaced",
                ctx,
            );
        }
        let id = self.next_id();
        let Some(prev) = self.rules.get_mut(&info.name) else {
            return Ok(());
        };
        if let Some(v) = info.cond {
            prev.cond = v;
        }
        if let Some(v) = info.output {
            prev.output = v;
        }
        if let Some(v) = info.desc {
            prev.desc = v;
        }
        if let Some(v) = info.tags {
            prev.tags = v;
        }
        if let Some(v) = info.exceptions {
            prev.exceptions = v;
        }
        if let Some(v) = info.priority {
            prev.priority = v;
        }
        if let Some(v) = info.capture {
            prev.capture = v;
        }
        if let Some(v) = info.capture_duration {
            prev.capture_duration = v;
        }
        if let Some(v) = info.enabled {
            prev.enabled = v;
        }
        if let Some(v) = info.warn_evttypes {
            prev.warn_evttypes = v;
        }
        if let Some(v) = info.skip_if_unknown_filter {
            prev.skip_if_unknown_filter = v;
        }
        prev.visibility = id;
        Ok(())
    }
}

const WARNING_APPEND: &str = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";
const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";

/// Reads one file's items into the collector.
pub(crate) struct Reader<'r, 'c> {
    pub marks: Marks<'c>,
    pub collector: &'r mut Collector,
    pub warnings: &'r mut Vec<Warning>,
    pub sources: &'r Sources<'r>,
}

fn is_barestr_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            !matches!(
                c,
                b'(' | b')'
                    | b'"'
                    | b'\''
                    | b'='
                    | b','
                    | b' '
                    | b'\t'
                    | b'\n'
                    | 0x0b
                    | 0x0c
                    | b'\r'
            )
        })
}

fn is_identifier_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl<'r, 'c> Reader<'r, 'c> {
    fn mark(&self, n: &Node<'_>) -> Mark {
        self.marks.node(n)
    }

    fn ctx(&self, n: &Node<'_>, it: ItemType, name: &str, parent: &Context) -> Context {
        parent.child(self.mark(n), it, name)
    }

    fn warn(&mut self, code: WarningCode, msg: impl Into<String>, ctx: &Context) {
        self.warnings.push(Warning {
            code,
            msg: msg.into(),
            ctx: ctx.clone(),
            deprecated_field: None,
        });
    }

    /// `decode_val_generic` for strings; returns None when optional and absent (or empty-able).
    fn decode_str(
        &self,
        item: &Node<'_>,
        key: &str,
        ctx: &Context,
        optional: bool,
        can_be_empty: bool,
    ) -> LResult<Option<String>> {
        let Some(val) = yaml::get(item, key) else {
            if optional {
                return Ok(None);
            }
            return yaml_err(format!("Item has no mapping for key '{key}'"), ctx);
        };
        if yaml::is_null(val) {
            if can_be_empty {
                return Ok(None);
            }
            return yaml_err(format!("Mapping for key '{key}' is empty"), ctx);
        }
        let valctx = self.ctx(val, ItemType::ValueFor, key, ctx);
        let Some(s) = yaml::scalar(val) else {
            return yaml_err("Value is not a scalar value", &valctx);
        };
        if s.is_empty() {
            if can_be_empty {
                return Ok(None);
            }
            return yaml_err("Value must be non-empty", &valctx);
        }
        Ok(Some(s.to_string()))
    }

    fn req_str(&self, item: &Node<'_>, key: &str, ctx: &Context) -> LResult<String> {
        Ok(self
            .decode_str(item, key, ctx, false, false)?
            .unwrap_or_default())
    }

    fn decode_typed<T>(
        &self,
        item: &Node<'_>,
        key: &str,
        ctx: &Context,
        optional: bool,
        conv: fn(&str) -> Option<T>,
    ) -> LResult<Option<T>> {
        let Some(s) = self.decode_str(item, key, ctx, optional, false)? else {
            return Ok(None);
        };
        match conv(&s) {
            Some(v) => Ok(Some(v)),
            None => {
                let valctx = self.ctx(
                    yaml::get(item, key).unwrap_or(item),
                    ItemType::ValueFor,
                    key,
                    ctx,
                );
                yaml_err("Can't decode YAML scalar value", &valctx)
            }
        }
    }

    fn decode_seq(
        &self,
        item: &Node<'_>,
        key: &str,
        ctx: &Context,
        optional: bool,
    ) -> LResult<Option<Vec<String>>> {
        let Some(val) = yaml::get(item, key) else {
            if optional {
                return Ok(None);
            }
            return yaml_err(format!("Item has no mapping for key '{key}'"), ctx);
        };
        let valctx = self.ctx(val, ItemType::ValueFor, key, ctx);
        let Some(seq) = yaml::sequence(val) else {
            return yaml_err("Value is not a sequence", &valctx);
        };
        let mut out = Vec::with_capacity(seq.len());
        for v in seq {
            let ictx = self.ctx(v, ItemType::ListItem, "", &valctx);
            match yaml::scalar(v) {
                Some(s) => out.push(s.to_string()),
                None => return yaml_err("sequence value is not scalar", &ictx),
            }
        }
        Ok(Some(out))
    }

    fn decode_tags(&self, item: &Node<'_>, ctx: &Context) -> LResult<BTreeSet<String>> {
        Ok(self
            .decode_seq(item, "tags", ctx, true)?
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    fn decode_overrides(
        &self,
        item: &Node<'_>,
        append_ok: &[&str],
        replace_ok: &[&str],
        ctx: &Context,
    ) -> LResult<(BTreeSet<String>, BTreeSet<String>)> {
        let (mut app, mut rep) = (BTreeSet::new(), BTreeSet::new());
        let Some(val) = yaml::get(item, "override") else {
            return Ok((app, rep));
        };
        let octx = self.ctx(item, ItemType::Overrides, "", ctx);
        for (k, v) in yaml::entries(val) {
            let key = yaml::key_text(k);
            let op = yaml::scalar(v).unwrap_or_default();
            let can_app = append_ok.contains(&key.as_str());
            let can_rep = replace_ok.contains(&key.as_str());
            let keyctx = self.ctx(k, ItemType::Overrides, &key, &octx);
            if op == "append" {
                if !can_app {
                    return yaml_err(
                        format!("Key '{key}' cannot be appended to, use 'replace' instead"),
                        &keyctx,
                    );
                }
                app.insert(key);
            } else if op == "replace" {
                if !can_rep {
                    return yaml_err(format!("Key '{key}' cannot be replaced"), &keyctx);
                }
                rep.insert(key);
            } else {
                let opctx = self.ctx(v, ItemType::ValueFor, &key, &octx);
                let mut msg = format!(
                    "Invalid override operation for key '{key}': '{op}'. Allowed values are: "
                );
                if can_app {
                    msg.push_str("append ");
                }
                if can_rep {
                    msg.push_str("replace ");
                }
                return yaml_err(msg, &opctx);
            }
        }
        Ok((app, rep))
    }

    fn decode_ex_entry(&self, val: &Node<'_>, key: &str, ctx: &Context) -> LResult<ExEntry> {
        let valctx = self.ctx(val, ItemType::ValueFor, key, ctx);
        let mut out = ExEntry::default();
        if yaml::is_null(val) {
            return Ok(out);
        }
        if let Some(s) = yaml::scalar(val) {
            if s.is_empty() {
                return yaml_err("Value must be non-empty", &valctx);
            }
            out.valid = true;
            out.item = s.to_string();
        } else if let Some(seq) = yaml::sequence(val) {
            out.valid = true;
            out.is_list = true;
            for v in seq {
                let lctx = self.ctx(v, ItemType::Exception, "", &valctx);
                out.items.push(self.decode_ex_entry(v, "", &lctx)?);
            }
        }
        Ok(out)
    }

    fn read_exceptions(
        &mut self,
        item: &Node<'_>,
        parent: &Context,
        append: bool,
    ) -> LResult<Vec<ExceptionInfo>> {
        let mut out: Vec<ExceptionInfo> = Vec::new();
        let Some(exs) = yaml::get(item, "exceptions") else {
            return Ok(out);
        };
        if yaml::is_null(exs) {
            return Ok(out);
        }
        let exes_ctx = self.ctx(exs, ItemType::Exceptions, "", parent);
        let Some(seq) = yaml::sequence(exs) else {
            return yaml_err("Rule exceptions must be a sequence", &exes_ctx);
        };
        for ex in seq {
            let tmp = self.ctx(ex, ItemType::Exception, "", &exes_ctx);
            if !yaml::is_map(ex) {
                return yaml_err("Rule exception must be a mapping", &tmp);
            }
            let name = self.req_str(ex, "name", &tmp)?;
            let ex_ctx = self.ctx(ex, ItemType::Exception, &name, parent);
            if out.iter().any(|e| e.name == name) {
                self.warn(
                    WarningCode::ExceptionNameNotUnique,
                    format!("Multiple definitions of exception '{name}' in the same rule"),
                    &ex_ctx,
                );
            }
            let fields = match yaml::get(ex, "fields") {
                Some(f) => self.decode_ex_entry(f, "fields", &ex_ctx)?,
                None if append => ExEntry::default(),
                None => return yaml_err("Item has no mapping for key 'fields'", &ex_ctx),
            };
            let comps = match yaml::get(ex, "comps") {
                Some(c) => self.decode_ex_entry(c, "comps", &ex_ctx)?,
                None => ExEntry::default(),
            };
            let mut values = Vec::new();
            match yaml::get(ex, "values") {
                Some(exvals) => {
                    let vals_ctx = self.ctx(exvals, ItemType::ExceptionValues, "", &ex_ctx);
                    let Some(vs) = yaml::sequence(exvals) else {
                        return yaml_err("Rule exception values must be a sequence", &vals_ctx);
                    };
                    for v in vs {
                        let vctx = self.ctx(v, ItemType::ExceptionValue, "", &vals_ctx);
                        values.push(self.decode_ex_entry(v, "", &vctx)?);
                    }
                }
                None if append => self.warn(
                    WarningCode::AppendNoValues,
                    "Overriding/appending exception with no values",
                    &ex_ctx,
                ),
                None => {}
            }
            out.push(ExceptionInfo {
                ctx: ex_ctx,
                name,
                fields,
                comps,
                values,
            });
        }
        Ok(out)
    }

    fn warn_unknown_keys(&mut self, item: &Node<'_>, expected: &[&str], ctx: &Context) {
        for (k, _) in yaml::entries(item) {
            let key = yaml::key_text(k);
            if !expected.contains(&key.as_str()) {
                self.warn(
                    WarningCode::UnknownKey,
                    format!("Unknown key '{key}'. The key will be ignored."),
                    ctx,
                );
            }
        }
    }

    /// Reads all documents of a file.
    pub fn read(&mut self, docs: &[Node<'_>], ctx: &Context) -> LResult<()> {
        for doc in docs {
            if yaml::is_null(doc) {
                continue;
            }
            let Some(seq) = yaml::sequence(doc) else {
                if yaml::is_map(doc) {
                    return yaml_err("Rules content is not yaml array of objects", ctx);
                }
                return yaml_err("Rules content is not yaml", ctx);
            };
            for it in seq {
                if !yaml::is_null(it) {
                    self.read_item(it, ctx)?;
                }
            }
        }
        Ok(())
    }

    fn read_item(&mut self, item: &Node<'_>, parent: &Context) -> LResult<()> {
        if !yaml::is_map(item) {
            let tmp = self.ctx(item, ItemType::RulesContentItem, "", parent);
            return yaml_err(
                "Unexpected element type. Each element should be a yaml associative array.",
                &tmp,
            );
        }
        if yaml::get(item, "required_engine_version").is_some() {
            self.read_engine_version(item, parent)
        } else if let Some(req) = yaml::get(item, "required_plugin_versions") {
            self.read_plugin_versions(item, req, parent)
        } else if yaml::get(item, "list").is_some() {
            self.read_list(item, parent)
        } else if yaml::get(item, "macro").is_some() {
            self.read_macro(item, parent)
        } else if yaml::get(item, "rule").is_some() {
            self.read_rule(item, parent)
        } else {
            let ctx = self.ctx(item, ItemType::RulesContentItem, "", parent);
            self.warn(WarningCode::UnknownItem, "Unknown top level item", &ctx);
            Ok(())
        }
    }

    fn read_engine_version(&mut self, item: &Node<'_>, parent: &Context) -> LResult<()> {
        let ctx = self.ctx(item, ItemType::RequiredEngineVersion, "", parent);
        let ver = match self.decode_typed(
            item,
            "required_engine_version",
            &ctx,
            false,
            yaml::decode_u32,
        ) {
            Ok(Some(n)) => Semver {
                major: ENGINE_VERSION.major,
                minor: n,
                patch: ENGINE_VERSION.patch,
            },
            _ => {
                let s = self.req_str(item, "required_engine_version", &ctx)?;
                match Semver::parse(&s) {
                    Some(v) => v,
                    None => {
                        return yaml_err(
                            format!(
                                "Unable to parse engine version '{s}' as a semver string. Expected \"x.y.z\" semver format."
                            ),
                            &ctx,
                        );
                    }
                }
            }
        };
        if !ENGINE_VERSION.compatible_with(&ver) {
            return validate_err(
                format!(
                    "Rules require engine version {ver}, but engine version is {ENGINE_VERSION}"
                ),
                &ctx,
            );
        }
        if self
            .collector
            .required_engine_version
            .is_none_or(|v| v < ver)
        {
            self.collector.required_engine_version = Some(ver);
        }
        self.warn_unknown_keys(item, &["required_engine_version"], &ctx);
        Ok(())
    }

    fn read_plugin_versions(
        &mut self,
        item: &Node<'_>,
        req: &Node<'_>,
        parent: &Context,
    ) -> LResult<()> {
        let ctx = self.ctx(req, ItemType::RequiredPluginVersions, "", parent);
        let Some(seq) = yaml::sequence(req) else {
            return yaml_err("Value of required_plugin_versions must be a sequence", &ctx);
        };
        for plugin in seq {
            let tmp = self.ctx(plugin, ItemType::RequiredPluginVersionsEntry, "", &ctx);
            if !yaml::is_map(plugin) {
                return yaml_err("Plugin version must be a mapping", &tmp);
            }
            let name = self.req_str(plugin, "name", &tmp)?;
            let pctx = self.ctx(plugin, ItemType::RequiredPluginVersionsEntry, &name, &ctx);
            let version = self.req_str(plugin, "version", &pctx)?;
            let mut alts = vec![PluginRequirement { name, version }];
            if let Some(alternatives) = yaml::get(plugin, "alternatives") {
                let Some(aseq) = yaml::sequence(alternatives) else {
                    return yaml_err(
                        "Value of plugin version alternatives must be a sequence",
                        &pctx,
                    );
                };
                for a in aseq {
                    let tmp = self.ctx(a, ItemType::RequiredPluginVersionsAlternative, "", &pctx);
                    if !yaml::is_map(a) {
                        return yaml_err("Plugin version alternative must be a mapping", &tmp);
                    }
                    let name = self.req_str(a, "name", &tmp)?;
                    let tmp =
                        self.ctx(a, ItemType::RequiredPluginVersionsAlternative, &name, &pctx);
                    let version = self.req_str(a, "version", &tmp)?;
                    alts.push(PluginRequirement { name, version });
                }
            }
            let mut names = HashSet::new();
            for r in &alts {
                if Semver::parse(&r.version).is_none() {
                    return validate_err(
                        format!(
                            "Invalid required version '{}' for plugin '{}'",
                            r.version, r.name
                        ),
                        &pctx,
                    );
                }
                if !names.insert(r.name.clone()) {
                    return validate_err(
                        format!(
                            "Defined multiple alternative version requirements for plugin '{}'",
                            r.name
                        ),
                        &pctx,
                    );
                }
            }
            self.collector.required_plugin_versions.push(alts);
        }
        let rpv_ctx = self.ctx(item, ItemType::RequiredPluginVersions, "", parent);
        self.warn_unknown_keys(item, &["required_plugin_versions"], &rpv_ctx);
        Ok(())
    }

    fn read_append_flag(&mut self, item: &Node<'_>, ctx: &Context) -> LResult<bool> {
        let append = self
            .decode_typed(item, "append", ctx, true, yaml::decode_bool)?
            .unwrap_or(false);
        if append {
            self.warn(WarningCode::DeprecatedItem, WARNING_APPEND, ctx);
        }
        Ok(append)
    }

    fn read_list(&mut self, item: &Node<'_>, parent: &Context) -> LResult<()> {
        let tmp = self.ctx(item, ItemType::List, "", parent);
        let name = self.req_str(item, "list", &tmp)?;
        let ctx = self.ctx(item, ItemType::List, &name, parent);
        if !is_barestr_name(&name) {
            self.warn(
                WarningCode::InvalidListName,
                "List has an invalid name. List names should match a regular expression: ([^()\"'[:space:]=,]+)",
                &ctx,
            );
        }
        let items = self
            .decode_seq(item, "items", &ctx, false)?
            .unwrap_or_default();
        let mut append = self.read_append_flag(item, &ctx)?;
        let (app, rep) = self.decode_overrides(item, &["items"], &["items"], &ctx)?;
        if append && (!app.is_empty() || !rep.is_empty()) {
            return yaml_err(ERROR_OVERRIDE_APPEND, &ctx);
        }
        append |= app.contains("items");
        let info = ListInfo {
            ctx: ctx.clone(),
            name: name.clone(),
            items,
            index: 0,
            visibility: 0,
        };
        if append {
            let id = self.collector.next_id();
            let Some(prev) = self.collector.lists.get_mut(&name) else {
                return validate_err(
                    "List uses 'append' or 'override.items: append' but no list by that name already exists",
                    &ctx,
                );
            };
            prev.items.extend(info.items);
            prev.visibility = id;
        } else {
            self.collector.define_list(info);
        }
        self.warn_unknown_keys(item, &["list", "items", "append", "override"], &ctx);
        Ok(())
    }

    fn read_macro(&mut self, item: &Node<'_>, parent: &Context) -> LResult<()> {
        let tmp = self.ctx(item, ItemType::Macro, "", parent);
        let name = self.req_str(item, "macro", &tmp)?;
        let ctx = self.ctx(item, ItemType::Macro, &name, parent);
        if !is_identifier_name(&name) {
            self.warn(
                WarningCode::InvalidMacroName,
                "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)",
                &ctx,
            );
        }
        let cond = self.req_str(item, "condition", &ctx)?;
        let cond_node = yaml::get(item, "condition").unwrap_or(item);
        let cond_ctx = self.ctx(cond_node, ItemType::MacroCondition, "", &ctx);
        let mut append = self.read_append_flag(item, &ctx)?;
        let (app, rep) = self.decode_overrides(item, &["condition"], &["condition"], &ctx)?;
        if append && (!app.is_empty() || !rep.is_empty()) {
            return yaml_err(ERROR_OVERRIDE_APPEND, &ctx);
        }
        append |= app.contains("condition");
        if append {
            let id = self.collector.next_id();
            let Some(prev) = self.collector.macros.get_mut(&name) else {
                return validate_err(
                    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists",
                    &ctx,
                );
            };
            prev.cond.push(' ');
            prev.cond.push_str(&cond);
            prev.visibility = id;
        } else {
            self.collector.define_macro(MacroInfo {
                ctx: ctx.clone(),
                cond_ctx,
                name,
                cond,
                index: 0,
                visibility: 0,
            });
        }
        self.warn_unknown_keys(item, &["macro", "condition", "append", "override"], &ctx);
        Ok(())
    }

    fn read_priority(&self, item: &Node<'_>, ctx: &Context) -> LResult<Priority> {
        let p = self.req_str(item, "priority", ctx)?;
        let prictx = self.ctx(
            yaml::get(item, "priority").unwrap_or(item),
            ItemType::RulePriority,
            "",
            ctx,
        );
        match Priority::parse(&p) {
            Some(p) => Ok(p),
            None => yaml_err("Invalid priority", &prictx),
        }
    }

    fn read_rule(&mut self, item: &Node<'_>, parent: &Context) -> LResult<()> {
        const APPENDABLE: [&str; 5] = ["condition", "output", "desc", "tags", "exceptions"];
        const REPLACEABLE: [&str; 11] = [
            "condition",
            "output",
            "desc",
            "priority",
            "capture",
            "capture_duration",
            "tags",
            "exceptions",
            "enabled",
            "warn_evttypes",
            "skip-if-unknown-filter",
        ];
        let tmp = self.ctx(item, ItemType::Rule, "", parent);
        let name = self.req_str(item, "rule", &tmp)?;
        let ctx = self.ctx(item, ItemType::Rule, &name, parent);
        let source = self
            .decode_str(item, "source", &ctx, true, true)?
            .unwrap_or_default();
        let has_append_flag = self.read_append_flag(item, &ctx)?;
        let (app, rep) = self.decode_overrides(item, &APPENDABLE, &REPLACEABLE, &ctx)?;
        let has_overrides = !app.is_empty() || !rep.is_empty();
        if has_append_flag && has_overrides {
            return yaml_err(ERROR_OVERRIDE_APPEND, &ctx);
        }
        if has_overrides {
            // Sorted like std::set.
            let mut expected: BTreeSet<String> = APPENDABLE
                .iter()
                .chain(REPLACEABLE.iter())
                .filter(|k| yaml::get(item, k).is_some())
                .map(|k| k.to_string())
                .collect();
            let check = |expected: &mut BTreeSet<String>,
                         ov: &BTreeSet<String>,
                         kind: &str,
                         key: &str|
             -> LResult<bool> {
                if !ov.contains(key) {
                    return Ok(false);
                }
                if !expected.remove(key) {
                    return yaml_err(
                        format!(
                            "An {kind} override for '{key}' was specified but '{key}' is not defined"
                        ),
                        &ctx,
                    );
                }
                Ok(true)
            };
            if !app.is_empty() {
                let mut v = RuleUpdate {
                    name: name.clone(),
                    ..RuleUpdate::default()
                };
                if check(&mut expected, &app, "append", "condition")? {
                    v.source = source.clone();
                    v.cond = Some(self.req_str(item, "condition", &ctx)?);
                }
                if check(&mut expected, &app, "append", "exceptions")? {
                    v.exceptions = Some(self.read_exceptions(item, &ctx, true)?);
                }
                if check(&mut expected, &app, "append", "output")? {
                    v.output = Some(self.req_str(item, "output", &ctx)?);
                }
                if check(&mut expected, &app, "append", "desc")? {
                    v.desc = Some(self.req_str(item, "desc", &ctx)?);
                }
                if check(&mut expected, &app, "append", "tags")? {
                    v.tags = Some(self.decode_tags(item, &ctx)?);
                }
                self.collector.append_rule(self.sources, v, &ctx)?;
            }
            if !rep.is_empty() {
                let mut v = RuleUpdate {
                    name: name.clone(),
                    ..RuleUpdate::default()
                };
                if check(&mut expected, &rep, "replace", "condition")? {
                    v.source = source.clone();
                    v.cond = Some(self.req_str(item, "condition", &ctx)?);
                }
                if check(&mut expected, &rep, "replace", "exceptions")? {
                    v.exceptions = Some(self.read_exceptions(item, &ctx, false)?);
                }
                if check(&mut expected, &rep, "replace", "output")? {
                    v.output = Some(self.req_str(item, "output", &ctx)?);
                }
                if check(&mut expected, &rep, "replace", "desc")? {
                    v.desc = Some(self.req_str(item, "desc", &ctx)?);
                }
                if check(&mut expected, &rep, "replace", "tags")? {
                    v.tags = Some(self.decode_tags(item, &ctx)?);
                }
                if check(&mut expected, &rep, "replace", "priority")? {
                    v.priority = Some(self.read_priority(item, &ctx)?);
                }
                if check(&mut expected, &rep, "replace", "capture")? {
                    v.capture =
                        self.decode_typed(item, "capture", &ctx, false, yaml::decode_bool)?;
                }
                if check(&mut expected, &rep, "replace", "capture_duration")? {
                    v.capture_duration =
                        self.decode_typed(item, "capture_duration", &ctx, false, yaml::decode_u32)?;
                }
                if check(&mut expected, &rep, "replace", "enabled")? {
                    v.enabled =
                        self.decode_typed(item, "enabled", &ctx, false, yaml::decode_bool)?;
                }
                if check(&mut expected, &rep, "replace", "warn_evttypes")? {
                    v.warn_evttypes =
                        self.decode_typed(item, "warn_evttypes", &ctx, false, yaml::decode_bool)?;
                }
                if check(&mut expected, &rep, "replace", "skip-if-unknown-filter")? {
                    v.skip_if_unknown_filter = self.decode_typed(
                        item,
                        "skip-if-unknown-filter",
                        &ctx,
                        false,
                        yaml::decode_bool,
                    )?;
                }
                self.collector.replace_rule(v, &ctx)?;
            }
            if let Some(key) = expected.iter().next() {
                let keyctx = self.ctx(
                    yaml::get(item, key).unwrap_or(item),
                    ItemType::Overrides,
                    key,
                    &ctx,
                );
                return yaml_err(
                    format!(
                        "Unexpected key '{key}': no corresponding entry under 'override' is defined."
                    ),
                    &keyctx,
                );
            }
        } else if has_append_flag {
            let mut v = RuleUpdate {
                name: name.clone(),
                source: source.clone(),
                ..RuleUpdate::default()
            };
            if yaml::get(item, "condition").is_some() {
                v.cond = Some(self.req_str(item, "condition", &ctx)?);
            }
            if yaml::get(item, "exceptions").is_some() {
                v.exceptions = Some(self.read_exceptions(item, &ctx, true)?);
            }
            self.collector.append_rule(self.sources, v, &ctx)?;
        } else if ["condition", "output", "desc", "priority"]
            .iter()
            .all(|k| yaml::get(item, k).is_none())
        {
            let enabled = self
                .decode_typed(item, "enabled", &ctx, false, yaml::decode_bool)?
                .unwrap_or(true);
            self.warn(WarningCode::DeprecatedItem, WARNING_ENABLED, &ctx);
            match self.collector.rules.get_mut(&name) {
                Some(prev) => prev.enabled = enabled,
                None => {
                    return validate_err(
                        "Rule has 'enabled' key but no rule by that name already exists",
                        &ctx,
                    );
                }
            }
        } else {
            let cond = self.req_str(item, "condition", &ctx)?;
            let cond_ctx = self.ctx(
                yaml::get(item, "condition").unwrap_or(item),
                ItemType::RuleCondition,
                "",
                &ctx,
            );
            let output = self.req_str(item, "output", &ctx)?;
            let output_ctx = self.ctx(
                yaml::get(item, "output").unwrap_or(item),
                ItemType::RuleOutput,
                "",
                &ctx,
            );
            let desc = self.req_str(item, "desc", &ctx)?;
            let priority = self.read_priority(item, &ctx)?;
            let output = output
                .trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{b}')
                .to_string();
            let source = self
                .decode_str(item, "source", &ctx, true, false)?
                .unwrap_or_else(|| "syscall".into());
            let b = |s: &Self, k: &str, d: bool| -> LResult<bool> {
                Ok(s.decode_typed(item, k, &ctx, true, yaml::decode_bool)?
                    .unwrap_or(d))
            };
            let enabled = b(self, "enabled", true)?;
            let capture = b(self, "capture", false)?;
            let capture_duration = self
                .decode_typed(item, "capture_duration", &ctx, true, yaml::decode_u32)?
                .unwrap_or(0);
            let warn_evttypes = b(self, "warn_evttypes", true)?;
            let skip_if_unknown_filter = b(self, "skip-if-unknown-filter", false)?;
            let tags = self.decode_tags(item, &ctx)?;
            let exceptions = self.read_exceptions(item, &ctx, false)?;
            let info = RuleInfo {
                ctx: ctx.clone(),
                cond_ctx,
                output_ctx,
                name,
                cond,
                output,
                desc,
                priority,
                source,
                enabled,
                capture,
                capture_duration,
                warn_evttypes,
                skip_if_unknown_filter,
                tags,
                exceptions,
                unknown_source: false,
                index: 0,
                visibility: 0,
            };
            self.collector
                .define_rule(self.sources, self.warnings, info)?;
        }
        self.warn_unknown_keys(
            item,
            &[
                "rule",
                "condition",
                "output",
                "desc",
                "priority",
                "source",
                "enabled",
                "capture",
                "capture_duration",
                "warn_evttypes",
                "skip-if-unknown-filter",
                "tags",
                "exceptions",
                "override",
                "append",
            ],
            &ctx,
        );
        Ok(())
    }
}
