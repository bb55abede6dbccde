//! Formatting one rule match (`falco_formats::format_event` before the envelope): the rule's
//! compiled output rendered with `*` semantics (a missing field prints `<NA>`) and the typed
//! `output_fields` (a missing field is `null`; fields wrapped in transformers are left out).
//! The time/priority prefix and the JSON envelope are `crate::output`'s.

use std::collections::BTreeMap;

use crate::config::Priority;
use crate::engine::Rule;
use crate::engine::filter::{Operand, apply_transformers};
use crate::engine::format::Token;
use crate::fields::extract::{render_json, render_text};
use crate::fields::{Extract, Value};
use crate::output::Alert;
use crate::state::path::sanitize_into;

/// The alert of `rule` matching the current event of `ex` (time `ts`).
pub fn build<E: Extract>(rule: &Rule, ex: &mut E, ts: u64) -> Alert {
    let mut message = Vec::with_capacity(rule.output.len() + 64);
    let mut output_fields = BTreeMap::new();
    for token in &rule.format.tokens {
        match token {
            Token::Literal(s) => message.extend_from_slice(s.as_bytes()),
            Token::Field {
                text,
                operand,
                width,
            } => {
                let (shown, json) = field(operand, ex, ts);
                let shown = shown.unwrap_or_else(|| b"<NA>".to_vec());
                if *width > 0 {
                    pad(&mut message, &shown, *width);
                } else {
                    message.extend_from_slice(&shown);
                }
                if operand.transformers.is_empty() {
                    output_fields.insert(text.clone(), json);
                }
            }
        }
    }
    Alert {
        time_ns: ts,
        priority: priority(rule.priority),
        rule: rule.name.clone(),
        source: rule.source.clone(),
        tags: rule.tags.clone(),
        message: String::from_utf8_lossy(&message).into_owned(),
        output_fields,
    }
}

/// The sanitised text of a field token (None when missing) and its JSON value.
pub fn field<E: Extract>(
    operand: &Operand,
    ex: &mut E,
    ts: u64,
) -> (Option<Vec<u8>>, serde_json::Value) {
    if operand.multi.is_some() {
        return crate::engine::format::render_multi(operand, ex);
    }
    let mut vals: Vec<Value<'_>> = Vec::new();
    if !ex.extract(&operand.field, &mut vals) || vals.is_empty() {
        let json = render_json(operand.info, operand.field.arg.as_ref(), &[], ts);
        return (None, json);
    }
    let arg = operand.field.arg.as_ref();
    if !operand.transformers.is_empty() {
        let mut out = Vec::with_capacity(vals.len());
        for v in vals {
            match apply_transformers(&operand.transformers, v) {
                Some(v) => out.push(v),
                None => return (None, serde_json::Value::Null),
            }
        }
        vals = out;
    }
    let json = render_json(operand.info, arg, &vals, ts);
    let raw = render_text(operand.info, arg, &vals);
    let mut text = Vec::with_capacity(raw.len());
    sanitize_into(&mut text, &raw);
    (Some(text), json)
}

/// `%<width>field`: truncated or space-padded to exactly `width` characters.
fn pad(out: &mut Vec<u8>, text: &[u8], width: usize) {
    let s = String::from_utf8_lossy(text);
    let mut n = 0;
    for c in s.chars().take(width) {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        n += 1;
    }
    out.extend(std::iter::repeat_n(b' ', width - n));
}

/// The rules loader's priority as the outputs name it.
pub fn priority(p: crate::rules::Priority) -> Priority {
    Priority::parse(p.name()).unwrap_or(Priority::Debug)
}
