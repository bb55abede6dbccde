//! The ruleset (Falco's evttype-indexed ruleset): compiled rules bucketed by event code, enabled
//! in order, matched with `rule_matching: first | all`.

use crate::fields::Extract;
use crate::rules::loader::Priority;

use super::evttype::CodeSet;
use super::filter::{Filter, Scratch, Sharing};
use super::format::Format;

/// One compiled rule as the engine runs it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub source: String,
    pub description: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub output: String,
    pub format: Format,
    pub filter: Filter,
    pub codes: CodeSet,
    pub enabled: bool,
    pub capture: bool,
    pub capture_duration_ns: u64,
    pub exception_fields: Vec<String>,
}

/// `rule_matching` of falco.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matching {
    #[default]
    First,
    All,
}

/// A rule selector: `rules[].enable|disable.rule|tag` (rule patterns may use `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    EnableRule(String),
    DisableRule(String),
    EnableTag(String),
    DisableTag(String),
}

/// `*`-only wildcard match on the whole name (Falco's `matches_wildcard`).
pub fn matches_wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// The compiled, indexed rules.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    pub rules: Vec<Rule>,
    /// Per event code, the enabled rules in enable order.
    buckets: Vec<Vec<usize>>,
    min_priority: Option<Priority>,
    /// Number of [`Filter::Shared`] slots the filters use.
    shared_slots: usize,
}

impl Ruleset {
    /// Builds the ruleset; rules less severe than `min_priority` are never added. The
    /// operands of every `and`/`or` are put in evaluation order (see `engine::order`).
    pub fn new(mut rules: Vec<Rule>, min_priority: Priority) -> Ruleset {
        for r in &mut rules {
            super::order::order(&mut r.filter);
        }
        Ruleset::build(rules, min_priority)
    }

    /// [`Ruleset::new`] keeping the written order of the operands.
    #[cfg(test)]
    pub(crate) fn in_written_order(rules: Vec<Rule>, min_priority: Priority) -> Ruleset {
        Ruleset::build(rules, min_priority)
    }

    fn build(mut rules: Vec<Rule>, min_priority: Priority) -> Ruleset {
        let mut sharing = Sharing::default();
        for r in &rules {
            sharing.count(&r.source, &r.filter);
        }
        for r in &mut rules {
            sharing.wrap(&r.source, &mut r.filter);
        }
        let mut rs = Ruleset {
            rules,
            buckets: vec![Vec::new(); super::evttype::MAX_CODES],
            min_priority: Some(min_priority),
            shared_slots: sharing.slots(),
        };
        for i in 0..rs.rules.len() {
            if rs.rules[i].enabled {
                rs.rules[i].enabled = false;
                rs.enable_idx(i);
            }
        }
        rs
    }

    fn enable_idx(&mut self, i: usize) {
        let r = &mut self.rules[i];
        if r.enabled || self.min_priority.is_some_and(|p| r.priority > p) {
            return;
        }
        r.enabled = true;
        for c in r.codes.iter() {
            self.buckets[c as usize].push(i);
        }
    }

    fn disable_idx(&mut self, i: usize) {
        if !self.rules[i].enabled {
            return;
        }
        self.rules[i].enabled = false;
        for b in &mut self.buckets {
            b.retain(|&x| x != i);
        }
    }

    /// Applies config selections in order.
    pub fn select(&mut self, selectors: &[Selector]) {
        for s in selectors {
            for i in 0..self.rules.len() {
                let r = &self.rules[i];
                match s {
                    Selector::EnableRule(p) if matches_wildcard(p, &r.name) => self.enable_idx(i),
                    Selector::DisableRule(p) if matches_wildcard(p, &r.name) => self.disable_idx(i),
                    Selector::EnableTag(t) if r.tags.iter().any(|x| x == t) => self.enable_idx(i),
                    Selector::DisableTag(t) if r.tags.iter().any(|x| x == t) => self.disable_idx(i),
                    _ => {}
                }
            }
        }
    }

    /// Names of enabled rules, in definition order.
    pub fn enabled_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// The union of enabled rules' event codes.
    pub fn enabled_codes(&self) -> CodeSet {
        let mut s = CodeSet::empty();
        for (c, b) in self.buckets.iter().enumerate() {
            if !b.is_empty() {
                s.insert(c as u16);
            }
        }
        s
    }

    /// Runs the rules indexed under the event's code; pushes matching rule indexes to `out`
    /// (at most one with [`Matching::First`]).
    pub fn matches<E: Extract>(
        &self,
        ex: &mut E,
        scratch: &mut Scratch,
        mode: Matching,
        out: &mut Vec<usize>,
    ) {
        let code = ex.evt_type() as usize;
        let Some(bucket) = self.buckets.get(code) else {
            return;
        };
        scratch.new_event(self.shared_slots);
        for &i in bucket {
            if self.rules[i].filter.eval(ex, scratch) {
                out.push(i);
                if mode == Matching::First {
                    return;
                }
            }
        }
    }
}
