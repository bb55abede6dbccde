//! `-L` / `-l RULE` JSON (`falco_engine::describe_rule`): rule, macro and list details. Falco
//! fills several arrays from `std::unordered_set<std::string>`, so their order is libstdc++'s
//! iteration order; [`StdStringSet`] reproduces it (hash, prime rehash policy and node order).

use serde_json::{Map, Value, json};

use super::RulesLoader;
use super::condition::{self, Expr};
use crate::engine::evttype;

/// libstdc++ `std::_Hash_bytes` (64-bit), the hash of `std::hash<std::string>`.
fn hash_bytes(b: &[u8]) -> u64 {
    const MUL: u64 = (0xc6a4_a793_u64 << 32) + 0x5bd1_e995;
    const SEED: u64 = 0xc70f_6907;
    let shift_mix = |v: u64| v ^ (v >> 47);
    let len = b.len();
    let aligned = len & !7;
    let mut hash = SEED ^ (len as u64).wrapping_mul(MUL);
    for chunk in b[..aligned].chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let data = shift_mix(u64::from_le_bytes(w).wrapping_mul(MUL)).wrapping_mul(MUL);
        hash ^= data;
        hash = hash.wrapping_mul(MUL);
    }
    if len & 7 != 0 {
        let data = b[aligned..]
            .iter()
            .rev()
            .fold(0u64, |acc, &c| (acc << 8) + u64::from(c));
        hash ^= data;
        hash = hash.wrapping_mul(MUL);
    }
    hash = shift_mix(hash).wrapping_mul(MUL);
    shift_mix(hash)
}

/// The first primes of libstdc++'s `__prime_list` (enough for the sets Falco builds here).
const PRIMES: [usize; 59] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    103, 109, 113, 127, 137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277, 293, 313,
    337, 359, 383, 409, 439, 467, 503, 541, 577, 619, 661, 709, 761, 823, 887,
];
const FAST_BKT: [usize; 14] = [2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13];

/// "Before begin": the list head sentinel of libstdc++'s hashtable.
const HEAD: usize = usize::MAX;

/// A `std::unordered_set<std::string>` with libstdc++'s iteration order: a singly linked node
/// list, buckets pointing at the node before their first node, prime rehash policy.
#[derive(Debug, Clone)]
pub(crate) struct StdStringSet {
    keys: Vec<(String, u64)>,
    next: Vec<usize>,
    head: usize,
    /// Per bucket: the node before its first node (`HEAD` = before-begin), or None.
    buckets: Vec<Option<usize>>,
    next_resize: usize,
    members: std::collections::HashSet<String>,
}

impl Default for StdStringSet {
    fn default() -> Self {
        StdStringSet {
            keys: Vec::new(),
            next: Vec::new(),
            head: HEAD,
            buckets: vec![None],
            next_resize: 0,
            members: std::collections::HashSet::new(),
        }
    }
}

impl StdStringSet {
    fn next_bkt(&mut self, n: usize) -> usize {
        if n < FAST_BKT.len() {
            if n == 0 {
                return 1;
            }
            self.next_resize = FAST_BKT[n];
            return FAST_BKT[n];
        }
        let i = PRIMES[6..].partition_point(|&p| p < n) + 6;
        let p = PRIMES.get(i).copied().unwrap_or_else(|| {
            let mut p = n | 1;
            while (3..)
                .step_by(2)
                .take_while(|d| d * d <= p)
                .any(|d| p.is_multiple_of(d))
            {
                p += 2;
            }
            p
        });
        self.next_resize = p;
        p
    }

    fn need_rehash(&mut self, n_elt: usize) -> Option<usize> {
        if n_elt + 1 > self.next_resize {
            let min_bkts = (n_elt + 1).max(if self.next_resize == 0 { 11 } else { 0 });
            if min_bkts >= self.buckets.len() {
                return Some(self.next_bkt((min_bkts + 1).max(self.buckets.len() * 2)));
            }
            self.next_resize = self.buckets.len();
        }
        None
    }

    fn bucket(&self, node: usize) -> usize {
        self.keys[node].1 as usize % self.buckets.len()
    }

    fn set_next(&mut self, before: usize, node: usize) {
        if before == HEAD {
            self.head = node;
        } else {
            self.next[before] = node;
        }
    }

    fn next_of(&self, before: usize) -> usize {
        if before == HEAD {
            self.head
        } else {
            self.next[before]
        }
    }

    /// `_M_insert_bucket_begin`.
    fn link(&mut self, node: usize) {
        let b = self.bucket(node);
        match self.buckets[b] {
            Some(before) => {
                self.next[node] = self.next_of(before);
                self.set_next(before, node);
            }
            None => {
                self.next[node] = self.head;
                self.head = node;
                if self.next[node] != HEAD {
                    let nb = self.bucket(self.next[node]);
                    self.buckets[nb] = Some(node);
                }
                self.buckets[b] = Some(HEAD);
            }
        }
    }

    /// `_M_rehash_aux` for unique keys.
    fn rehash(&mut self, n: usize) {
        self.buckets = vec![None; n];
        let mut p = self.head;
        self.head = HEAD;
        let mut bbegin: Option<usize> = None;
        while p != HEAD {
            let next = self.next[p];
            let b = self.bucket(p);
            match self.buckets[b] {
                None => {
                    self.next[p] = self.head;
                    self.head = p;
                    self.buckets[b] = Some(HEAD);
                    if self.next[p] != HEAD
                        && let Some(bb) = bbegin
                    {
                        self.buckets[bb] = Some(p);
                    }
                    bbegin = Some(b);
                }
                Some(before) => {
                    self.next[p] = self.next_of(before);
                    self.set_next(before, p);
                }
            }
            p = next;
        }
    }

    pub(crate) fn insert(&mut self, key: &str) {
        if self.members.contains(key) {
            return;
        }
        self.members.insert(key.to_string());
        if let Some(n) = self.need_rehash(self.keys.len()) {
            self.rehash(n);
        }
        self.keys
            .push((key.to_string(), hash_bytes(key.as_bytes())));
        self.next.push(HEAD);
        self.link(self.keys.len() - 1);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let mut p = self.head;
        std::iter::from_fn(move || {
            if p == HEAD {
                return None;
            }
            let k = self.keys[p].0.as_str();
            p = self.next[p];
            Some(k)
        })
    }

    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(|s| Value::String(s.to_string())).collect())
    }
}

/// `filter_details`: what a condition references.
#[derive(Default)]
struct Details {
    fields: StdStringSet,
    macros: StdStringSet,
    operators: StdStringSet,
    lists: StdStringSet,
    evtnames: StdStringSet,
}

struct DetailsResolver<'a> {
    known_macros: &'a dyn Fn(&str) -> bool,
    known_lists: &'a dyn Fn(&str) -> bool,
    d: Details,
    last_field: String,
    expect_list: bool,
    expect_evtname: bool,
}

impl DetailsResolver<'_> {
    fn visit(&mut self, e: &Expr) {
        match e {
            Expr::And(c, _) | Expr::Or(c, _) => c.iter().for_each(|c| self.visit(c)),
            Expr::Not(c, _) => self.visit(c),
            Expr::List(values, _) => {
                for v in values {
                    if self.expect_list && (self.known_lists)(v) {
                        self.d.lists.insert(v);
                    }
                }
                for v in values {
                    if self.expect_evtname && !(self.known_lists)(v) {
                        self.d.evtnames.insert(v);
                    }
                }
            }
            Expr::Binary {
                left, op, right, ..
            } => {
                self.last_field.clear();
                self.expect_evtname = false;
                self.expect_list = false;
                self.visit(left);
                self.d.operators.insert(op);
                self.expect_list = true;
                self.expect_evtname =
                    self.last_field == "evt.type" || self.last_field == "evt.asynctype";
                self.visit(right);
                self.expect_evtname = false;
                self.expect_list = false;
            }
            Expr::Unary { left, op, .. } => {
                self.last_field.clear();
                self.visit(left);
                let f = self.last_field.clone();
                self.d.fields.insert(&f);
                self.d.operators.insert(op);
            }
            Expr::Identifier(name, _) => {
                if (self.known_macros)(name) {
                    self.d.macros.insert(name);
                }
            }
            Expr::Value(v, _) => {
                if self.expect_evtname {
                    self.d.evtnames.insert(v);
                }
            }
            Expr::Field { name, arg, .. } => {
                self.last_field = match arg {
                    Some(a) if !a.is_empty() => format!("{name}[{a}]"),
                    _ => name.clone(),
                };
                let f = self.last_field.clone();
                self.d.fields.insert(&f);
            }
            Expr::Transformer { args, .. } | Expr::TransformerList(args, _) => {
                args.iter().for_each(|a| self.visit(a));
            }
        }
    }
}

const SC_MAX: usize = 1024;

/// Syscall codes whose event has another name (libs' event/syscall mapping tables).
const SC_EVENT_ALIASES: [(&str, &str); 22] = [
    ("_llseek", "llseek"),
    ("fcntl64", "fcntl"),
    ("getegid32", "getegid"),
    ("geteuid32", "geteuid"),
    ("getgid32", "getgid"),
    ("getresgid32", "getresgid"),
    ("getresuid32", "getresuid"),
    ("getuid32", "getuid"),
    ("page_fault_kernel", "page_fault"),
    ("page_fault_user", "page_fault"),
    ("pread64", "pread"),
    ("prlimit64", "prlimit"),
    ("pwrite64", "pwrite"),
    ("sendfile64", "sendfile"),
    ("setgid32", "setgid"),
    ("setresgid32", "setresgid"),
    ("setresuid32", "setresuid"),
    ("setuid32", "setuid"),
    ("ugetrlimit", "getrlimit"),
    ("sched_process_exit", "procexit"),
    ("sched_switch", "switch"),
    ("signal_deliver", "signaldeliver"),
];

/// Syscall codes mapped to no event name (placeholders).
const SC_WITHOUT_EVENT_NAME: [&str; 1] = ["na_1"];

/// The event name a syscall code maps to (its own name unless aliased).
fn sc_event_name(sc_name: &str) -> &str {
    SC_EVENT_ALIASES
        .iter()
        .find(|(s, _)| *s == sc_name)
        .map_or(sc_name, |(_, e)| e)
}

/// Per event code, the syscall codes mapped to it.
fn event_sc_table() -> Vec<Vec<u16>> {
    let mut by_name: std::collections::HashMap<&str, Vec<u16>> = std::collections::HashMap::new();
    for (c, n) in crate::event::table::PPM_SC_NAMES {
        if !SC_WITHOUT_EVENT_NAME.contains(n) {
            by_name.entry(sc_event_name(n)).or_default().push(*c);
        }
    }
    (0..crate::event::table::PPM_EVENT_MAX)
        .map(|c| {
            crate::event::table::name_of(c)
                .and_then(|n| by_name.get(n))
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn all_sc() -> Vec<bool> {
    let mut v = vec![false; SC_MAX];
    for (c, n) in crate::event::table::PPM_SC_NAMES {
        if *c != 0 && !n.is_empty() {
            v[*c as usize] = true;
        }
    }
    v
}

/// `ppm_sc_codes`: the syscall codes a condition can match (negation pushed to the leaves).
fn sc_codes(e: &Expr) -> Vec<bool> {
    fn is_evt_type(e: &Expr) -> bool {
        matches!(e, Expr::Field { name, arg: None, .. } if name == "evt.type" || name == "syscall.type")
    }
    fn complement(v: &[bool]) -> Vec<bool> {
        all_sc().iter().zip(v).map(|(a, b)| *a && !b).collect()
    }
    fn go(e: &Expr, negated: bool) -> Vec<bool> {
        match e {
            Expr::And(children, _) | Expr::Or(children, _) => {
                let intersect = matches!(e, Expr::And(..)) != negated;
                let mut it = children.iter().map(|c| go(c, negated));
                let first = it.next().unwrap_or_else(all_sc);
                it.fold(first, |acc, s| {
                    acc.iter()
                        .zip(&s)
                        .map(|(a, b)| if intersect { *a && *b } else { *a || *b })
                        .collect()
                })
            }
            Expr::Not(c, _) => go(c, !negated),
            Expr::Unary { left, .. } if is_evt_type(left) => {
                if negated {
                    vec![false; SC_MAX]
                } else {
                    all_sc()
                }
            }
            Expr::Binary {
                left, op, right, ..
            } if is_evt_type(left) => {
                let values: Vec<&str> = match right.as_ref() {
                    Expr::Value(v, _) => vec![v.as_str()],
                    Expr::List(vs, _) => vs.iter().map(String::as_str).collect(),
                    _ => return all_sc(),
                };
                let mut set = vec![false; SC_MAX];
                for (c, n) in crate::event::table::PPM_SC_NAMES {
                    if *c != 0 && (values.contains(n) || values.contains(&sc_event_name(n))) {
                        set[*c as usize] = true;
                    }
                }
                let set = match op.as_str() {
                    "=" | "==" | "in" => set,
                    "!=" => complement(&set),
                    _ => return all_sc(),
                };
                if negated { complement(&set) } else { set }
            }
            _ => all_sc(),
        }
    }
    go(e, false)
}

/// Recursively sorts object keys (nlohmann's `json` is a `std::map`).
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

impl RulesLoader {
    fn details(&self, ast: &Expr) -> Details {
        let known_macros = |n: &str| self.collector.macros.get(n).is_some();
        let known_lists = |n: &str| self.collector.lists.get(n).is_some();
        let mut r = DetailsResolver {
            known_macros: &known_macros,
            known_lists: &known_lists,
            d: Details::default(),
            last_field: String::new(),
            expect_list: false,
            expect_evtname: false,
        };
        r.visit(ast);
        r.d
    }

    /// `get_json_evt_types` for syscall-source conditions: the names of the events mapped from
    /// the condition's syscall codes, the syscalls without an event, then the event names of the
    /// condition's event codes (plus `asyncevent`), each step a set union in libstdc++ order.
    fn evt_types(ast: &Expr, event_scs: &[Vec<u16>]) -> Value {
        use crate::event::table;
        let sc = sc_codes(ast);
        let mut names = StdStringSet::default();
        let mut mapped = vec![false; SC_MAX];
        for c in 2..table::PPM_EVENT_MAX {
            let scs = &event_scs[c as usize];
            if scs.iter().any(|s| sc[*s as usize]) {
                names.insert(table::name_of(c).unwrap_or("NA"));
                scs.iter().for_each(|s| mapped[*s as usize] = true);
            }
        }
        let mut remaining = StdStringSet::default();
        for (code, name) in table::PPM_SC_NAMES {
            if sc[*code as usize]
                && !mapped[*code as usize]
                && !SC_WITHOUT_EVENT_NAME.contains(name)
            {
                remaining.insert(name);
            }
        }
        for n in remaining.iter() {
            names.insert(n);
        }
        let mut codes = evttype::event_codes(ast);
        for c in table::codes_for_name("asyncevent") {
            codes.insert(c);
        }
        let mut evt_names = StdStringSet::default();
        for c in codes.iter().filter(|c| *c > 1) {
            evt_names.insert(table::name_of(c).unwrap_or("NA"));
        }
        for n in evt_names.iter() {
            names.insert(n);
        }
        names.to_json()
    }

    fn is_container_field(&self, f: &str) -> bool {
        let base = f.split('[').next().unwrap_or(f);
        (self.opts.lookup)(base).is_some_and(|i| i.class == "container")
    }

    fn rule_json(&self, name: &str, event_scs: &[Vec<u16>]) -> Option<Value> {
        let out = self.last.as_ref()?;
        let compiled = out.rules.iter().find(|r| r.name == name)?;
        let info = self.collector.rules.get(name)?;
        let raw = condition::parse(&info.cond).ok()?;
        let details = self.details(&raw);
        let compiled_details = self.details(&compiled.condition);
        let output_fields: Vec<String> = compiled.format.fields().map(str::to_string).collect();
        let mut exception_names = StdStringSet::default();
        let mut exception_operators = StdStringSet::default();
        for e in &info.exceptions {
            exception_names.insert(&e.name);
            if e.comps.is_list {
                for c in &e.comps.items {
                    if c.is_list {
                        c.items
                            .iter()
                            .for_each(|i| exception_operators.insert(&i.item));
                    } else {
                        exception_operators.insert(&c.item);
                    }
                }
            } else {
                exception_operators.insert(&e.comps.item);
            }
        }
        let container_loaded = self
            .opts
            .loaded_plugins
            .iter()
            .any(|p| p.name == "container");
        let uses_container = container_loaded
            && (compiled_details
                .fields
                .iter()
                .any(|f| self.is_container_field(f))
                || output_fields.iter().any(|f| self.is_container_field(f)));
        let plugins: Vec<&str> = if uses_container {
            vec!["container"]
        } else {
            Vec::new()
        };
        let events = if info.source == "syscall" {
            Self::evt_types(&compiled.condition, event_scs)
        } else {
            json!(["pluginevent", "asyncevent"])
        };
        Some(json!({
            "details": {
                "condition_compiled": compiled.condition.to_string(),
                "condition_fields": compiled_details.fields.to_json(),
                "condition_operators": compiled_details.operators.to_json(),
                "events": events,
                "exception_fields": compiled.exception_fields.iter().collect::<Vec<_>>(),
                "exception_names": exception_names.to_json(),
                "exception_operators": exception_operators.to_json(),
                "lists": details.lists.to_json(),
                "macros": details.macros.to_json(),
                "output_compiled": compiled.output,
                "output_fields": output_fields,
                "plugins": plugins,
            },
            "info": {
                "capture": info.capture,
                "capture_duration": info.capture_duration,
                "condition": info.cond,
                "description": info.desc,
                "enabled": info.enabled,
                "name": info.name,
                "output": info.output,
                "priority": info.priority.name(),
                "source": info.source,
                "tags": info.tags.iter().collect::<Vec<_>>(),
            },
        }))
    }

    fn macro_json(&self, i: usize, event_scs: &[Vec<u16>]) -> Option<Value> {
        let out = self.last.as_ref()?;
        let m = out.macros.get(i)?;
        let info = self.collector.macros.get(&m.name)?;
        let raw = condition::parse(&info.cond).ok()?;
        let details = self.details(&raw);
        let compiled_details = self.details(&m.ast);
        Some(json!({
            "details": {
                "condition_compiled": m.ast.to_string(),
                "condition_fields": compiled_details.fields.to_json(),
                "condition_operators": compiled_details.operators.to_json(),
                "events": Self::evt_types(&m.ast, event_scs),
                "lists": details.lists.to_json(),
                "macros": details.macros.to_json(),
                "plugins": [],
                "used": m.used,
            },
            "info": { "condition": info.cond, "name": m.name },
        }))
    }

    fn list_json(&self, i: usize) -> Option<Value> {
        let out = self.last.as_ref()?;
        let l = out.lists.get(i)?;
        let info = self.collector.lists.get(&l.name)?;
        let mut items = Vec::new();
        let mut lists = StdStringSet::default();
        for it in &info.items {
            if !l.items.contains(it) {
                lists.insert(it);
                continue;
            }
            items.push(it.clone());
        }
        Some(json!({
            "details": { "items_compiled": l.items, "lists": lists.to_json(), "plugins": [], "used": l.used },
            "info": { "items": items, "name": l.name },
        }))
    }

    /// `-L` JSON (`describe_rule(nullptr)`), one line.
    pub fn describe_rules_json(&self) -> String {
        format!("{}\n", self.describe_rules_value())
    }

    /// The `-L` JSON value (also `falco_describe_results` of `-V -L` with `json_output`).
    pub fn describe_rules_value(&self) -> Value {
        let event_scs = event_sc_table();
        let rules: Vec<Value> = self
            .rule_names()
            .iter()
            .filter_map(|n| self.rule_json(n, &event_scs))
            .collect();
        let n_macros = self.last.as_ref().map_or(0, |o| o.macros.len());
        let n_lists = self.last.as_ref().map_or(0, |o| o.lists.len());
        let macros: Vec<Value> = (0..n_macros)
            .filter_map(|i| self.macro_json(i, &event_scs))
            .collect();
        let lists: Vec<Value> = (0..n_lists).filter_map(|i| self.list_json(i)).collect();
        let reqs: Vec<Value> = self
            .collector
            .required_plugin_versions
            .iter()
            .map(|alts| {
                let others: Vec<Value> = alts[1..]
                    .iter()
                    .map(|a| json!({"name": a.name, "version": a.version}))
                    .collect();
                json!({"alternatives": others, "name": alts[0].name, "version": alts[0].version})
            })
            .collect();
        let v = json!({
            "lists": lists,
            "macros": macros,
            "required_engine_version": self.collector.required_engine_version.unwrap_or_default().to_string(),
            "required_plugin_versions": reqs,
            "rules": rules,
        });
        sorted(v)
    }

    /// `-l RULE` JSON; the error is Falco's `Rule "X" is not loaded`.
    pub fn describe_rule_json(&self, name: &str) -> Result<String, String> {
        self.describe_rule_value(name).map(|v| format!("{v}\n"))
    }

    /// The `-l RULE` JSON value (`{"rules":[...]}`).
    pub fn describe_rule_value(&self, name: &str) -> Result<Value, String> {
        let known = self
            .collector
            .rules
            .get(name)
            .is_some_and(|r| !r.unknown_source);
        match self.rule_json(name, &event_sc_table()).filter(|_| known) {
            Some(r) => Ok(sorted(json!({ "rules": [r] }))),
            None => Err(format!("Rule \"{name}\" is not loaded")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libstdcxx_iteration_order() {
        // recorded from Falco's `-l` JSON (condition_operators / condition_fields)
        let mut s = StdStringSet::default();
        for k in ["in", "=", "=", ">=", "!=", "contains", "startswith"] {
            s.insert(k);
        }
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            ["startswith", "contains", ">=", "!=", "=", "in"]
        );
        let mut s = StdStringSet::default();
        for k in ["evt.type", "evt.is_open_write", "fd.typechar", "fd.num"] {
            s.insert(k);
        }
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            ["fd.num", "fd.typechar", "evt.is_open_write", "evt.type"]
        );
    }
}
