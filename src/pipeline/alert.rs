//! Formatting one rule match (`falco_formats::format_event` before the envelope): the rule's
//! compiled output rendered with `*` semantics (a missing field prints `<NA>`), the typed
//! `output_fields` (a missing field is `null`; a token wrapped in transformers is left out but
//! the fields inside it are present, as libsinsp's `formatter_visitor` registers them), and the
//! `append_output[].extra_fields` of the rule ([`ExtraField`]). The time/priority prefix and the
//! JSON envelope are `crate::output`'s.

use std::collections::BTreeMap;

use crate::config::AppendOutput;
use crate::engine::filter::{MultiArg, Operand, apply_transformers};
use crate::engine::format::Token;
use crate::engine::{Format, Rule, Ruleset, Scratch};
use crate::fields::extract::{render_json, render_text};
use crate::fields::{Extract, FieldArg, Value};
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
                if operand.transformers.is_empty() && operand.multi.is_none() {
                    output_fields.insert(text.clone(), json);
                } else {
                    inner_fields(operand, ex, ts, &mut output_fields);
                }
            }
        }
    }
    Alert {
        time_ns: ts,
        priority: rule.priority,
        rule: rule.name.clone(),
        source: rule.source.clone(),
        tags: rule.tags.clone(),
        message: String::from_utf8_lossy(&message).into_owned(),
        output_fields,
    }
}

/// The fields inside a transformer token (`toupper(proc.name)`, `join(',', (a, b))`), each
/// under its own name with its untransformed typed value.
fn inner_fields<E: Extract>(
    operand: &Operand,
    ex: &mut E,
    ts: u64,
    out: &mut BTreeMap<String, serde_json::Value>,
) {
    fn args<E: Extract>(
        arg: &MultiArg,
        ex: &mut E,
        ts: u64,
        out: &mut BTreeMap<String, serde_json::Value>,
    ) {
        match arg {
            MultiArg::Literal(_) => {}
            MultiArg::Field(op) => inner_fields(op, ex, ts, out),
            MultiArg::List(items) => items.iter().for_each(|a| args(a, ex, ts, out)),
        }
    }
    let Some(multi) = &operand.multi else {
        let mut vals = Vec::new();
        let json = if ex.extract(&operand.field, &mut vals) {
            render_json(operand.info, operand.field.arg.as_ref(), &vals, ts)
        } else {
            serde_json::Value::Null
        };
        let name = match &operand.field.arg {
            // a static field's argument is its value, not part of its name
            _ if operand.info.class == crate::engine::filter::STATIC_CLASS => {
                operand.field.info.to_string()
            }
            None => operand.field.info.to_string(),
            Some(FieldArg::Index(i)) => format!("{}[{i}]", operand.field.info),
            Some(FieldArg::Key(k)) => format!("{}[{k}]", operand.field.info),
        };
        out.insert(name, json);
        return;
    };
    match multi.as_ref() {
        crate::engine::filter::Multi::Join { sep, list } => {
            args(sep, ex, ts, out);
            args(list, ex, ts, out);
        }
        crate::engine::filter::Multi::Concat(items) => {
            items.iter().for_each(|a| args(a, ex, ts, out));
        }
        crate::engine::filter::Multi::Getopt {
            args: a, optstring, ..
        } => {
            args(a, ex, ts, out);
            args(optstring, ex, ts, out);
        }
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

/// Errors of compiling `append_output` extra fields.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("append_output extra field {key}: {msg}")]
    ExtraField { key: String, msg: String },
}

/// One `append_output[].extra_fields` entry, compiled: a raw field (typed JSON value) or a
/// format (rendered string). They only appear in JSON `output_fields`, never in the text.
#[derive(Debug, Clone)]
pub enum ExtraField {
    Raw(Format),
    Formatted(Format),
}

/// The extra fields of each rule of `ruleset` (by rule index), in `append_output` order, their
/// fields looked up with `lookup` (the rules loader's: the catalog plus the `static.*` fields).
pub fn compile_extra_fields(
    append_output: &[AppendOutput],
    ruleset: &Ruleset,
    lookup: impl crate::engine::filter::FieldLookup,
) -> Result<Vec<Vec<(String, ExtraField)>>, AlertError> {
    let applies = |a: &AppendOutput, rule: &Rule| {
        (a.match_source.is_empty() || a.match_source == rule.source)
            && (a.match_rule.is_empty() || a.match_rule == rule.name)
            && a.match_tags.iter().all(|t| rule.tags.contains(t))
    };
    let compile = |key: &str, text: String| {
        Format::compile(&text, lookup).map_err(|e| AlertError::ExtraField {
            key: key.to_string(),
            msg: e.to_string(),
        })
    };
    let mut per_rule = Vec::with_capacity(ruleset.rules.len());
    for rule in &ruleset.rules {
        let mut fields = Vec::new();
        for a in append_output.iter().filter(|a| applies(a, rule)) {
            for (key, fmt) in &a.extra_fields {
                let compiled = match fmt {
                    None => ExtraField::Raw(compile(key, format!("*%{key}"))?),
                    Some(f) => ExtraField::Formatted(compile(key, format!("*{f}"))?),
                };
                fields.push((key.clone(), compiled));
            }
        }
        per_rule.push(fields);
    }
    Ok(per_rule)
}

/// Adds the values of `extra` for the current event of `ex` to `out`.
pub fn add_extra_fields<E: Extract>(
    extra: &[(String, ExtraField)],
    ex: &mut E,
    scratch: &mut Scratch,
    ts: u64,
    out: &mut BTreeMap<String, serde_json::Value>,
) {
    for (key, field) in extra {
        let value = match field {
            ExtraField::Formatted(f) => {
                serde_json::Value::from(f.render(ex, scratch).unwrap_or_default())
            }
            ExtraField::Raw(f) => {
                let operand = f.tokens.iter().find_map(|t| match t {
                    Token::Field { operand, .. } => Some(operand),
                    Token::Literal(_) => None,
                });
                let mut vals = Vec::new();
                match operand {
                    Some(op) if ex.extract(&op.field, &mut vals) => {
                        render_json(op.info, op.field.arg.as_ref(), &vals, ts)
                    }
                    _ => serde_json::Value::Null,
                }
            }
        };
        out.insert(key.clone(), value);
    }
}
