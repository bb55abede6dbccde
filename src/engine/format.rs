//! Output format strings (`sinsp_evt_formatter`): compiled once at load into literal text and
//! field tokens, rendered per alert with an [`Extract`].

use crate::fields::{Extract, Value};
use crate::rules::condition::parse_field_or_transformer;

use super::filter::{FieldLookup, Operand, Scratch};

/// One piece of a compiled format.
#[derive(Debug, Clone)]
pub enum Token {
    Literal(String),
    /// A field token, with its source text (e.g. `proc.name`, `toupper(proc.name)`) and the
    /// fixed width given as `%<width>field` (0 = none).
    Field {
        text: String,
        operand: Box<Operand>,
        width: usize,
    },
}

/// A compiled output format.
#[derive(Debug, Clone)]
pub struct Format {
    pub tokens: Vec<Token>,
    /// False when the format starts with `*`: missing values print `<NA>`.
    pub require_all_values: bool,
}

/// A format compile error with libsinsp's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct FormatError {
    pub msg: String,
}

fn ferr<T>(msg: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError { msg: msg.into() })
}

impl Format {
    /// Compiles `fmt` like `sinsp_evt_formatter::set_format`.
    pub fn compile(fmt: &str, lookup: impl FieldLookup) -> Result<Format, FormatError> {
        let (require_all_values, lfmt) = match fmt.strip_prefix('*') {
            Some(rest) => (false, rest),
            None => (true, fmt),
        };
        let b = lfmt.as_bytes();
        let mut tokens = Vec::new();
        let mut last = 0usize;
        let mut j = 0usize;
        while j < b.len() {
            if b[j] == b'%' {
                if last != j {
                    tokens.push(Token::Literal(lfmt[last..j].to_string()));
                }
                if j == b.len() - 1 {
                    return ferr("invalid formatting syntax: formatting cannot end with a %");
                }
                let mut width = 0usize;
                if b[j + 1].is_ascii_digit() {
                    let digits = b[j + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    width = lfmt[j + 1..j + 1 + digits]
                        .parse::<i32>()
                        .unwrap_or(i32::MAX)
                        .max(0) as usize;
                    if j + 1 + digits >= b.len() {
                        return ferr(
                            "invalid formatting syntax: formatting cannot end with a number",
                        );
                    }
                    j += digits;
                }
                let rest = &lfmt[j + 1..];
                let mut fsize = rest.len();
                let (operand, used) = loop {
                    let attempt = parse_field_or_transformer(&rest[..fsize])
                        .map_err(|e| e.msg)
                        .and_then(|(ast, used)| compile_token(&ast, lookup).map(|op| (op, used)));
                    match attempt {
                        Ok(found) => break found,
                        Err(e) => {
                            fsize -= 1;
                            // never split a UTF-8 character
                            while fsize > 0 && !rest.is_char_boundary(fsize) {
                                fsize -= 1;
                            }
                            if fsize == 0 {
                                return ferr(format!("unknown filter: {e}"));
                            }
                        }
                    }
                };
                tokens.push(Token::Field {
                    text: rest[..used].to_string(),
                    operand: Box::new(operand),
                    width,
                });
                j += used;
                last = j + 1;
            }
            j += 1;
        }
        if last < b.len() {
            tokens.push(Token::Literal(lfmt[last..].to_string()));
        }
        Ok(Format {
            tokens,
            require_all_values,
        })
    }

    /// The field tokens' source texts, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().filter_map(|t| match t {
            Token::Field { text, .. } => Some(text.as_str()),
            Token::Literal(_) => None,
        })
    }

    /// Renders the format for the current event; None when a value is missing and the format
    /// requires all values.
    pub fn render<E: Extract>(&self, ex: &mut E, _scratch: &mut Scratch) -> Option<String> {
        let mut out = String::new();
        for t in &self.tokens {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::Field { operand, width, .. } => {
                    let mut vals = Vec::new();
                    let present = match super::filter::operand_values(operand, ex) {
                        Some(v) => {
                            vals.extend(v);
                            true
                        }
                        None => false,
                    };
                    let vals: Option<Vec<Value<'_>>> = if present {
                        vals.into_iter()
                            .map(|v| super::filter::apply_transformers(&operand.transformers, v))
                            .collect()
                    } else {
                        None
                    };
                    let text = if let Some(vals) = vals {
                        if operand.transformers.is_empty()
                            && super::filter::catalog_flags(operand.info).is_some()
                        {
                            let t = crate::fields::extract::render_text(
                                operand.info,
                                operand.field.arg.as_ref(),
                                &vals,
                            );
                            String::from_utf8_lossy(&t).into_owned()
                        } else {
                            render_values(&vals, operand.is_list)
                        }
                    } else {
                        if self.require_all_values {
                            return None;
                        }
                        "<NA>".to_string()
                    };
                    if *width > 0 {
                        let mut s: String = text.chars().take(*width).collect();
                        let n = s.chars().count();
                        s.extend(std::iter::repeat_n(' ', width - n));
                        out.push_str(&s);
                    } else {
                        out.push_str(&text);
                    }
                }
            }
        }
        Some(out)
    }
}

fn render_value(v: &Value<'_>) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Str(s) | Value::Bytes(s) => String::from_utf8_lossy(s).into_owned(),
        Value::Ip(ip) => ip.to_string(),
        Value::Net(n) => n.to_string(),
    }
}

fn render_values(vals: &[Value<'_>], is_list: bool) -> String {
    let parts: Vec<String> = vals.iter().map(render_value).collect();
    if is_list {
        format!("({})", parts.join(","))
    } else {
        parts.join(" ")
    }
}

fn compile_token(
    ast: &crate::rules::condition::Expr,
    lookup: impl FieldLookup,
) -> Result<Operand, String> {
    super::filter::compile_operand_pub(ast, lookup).map_err(|e| e.msg)
}

/// Sanitised text and JSON value of a `join()`/`concat()`/`getopt()` output token (these have no catalog
/// entry to render with): None text when missing.
pub fn render_multi<E: Extract>(
    operand: &super::filter::Operand,
    ex: &mut E,
) -> (Option<Vec<u8>>, serde_json::Value) {
    let Some(vals) = super::filter::operand_values(operand, ex) else {
        return (None, serde_json::Value::Null);
    };
    let vals: Option<Vec<Value<'_>>> = vals
        .into_iter()
        .map(|v| super::filter::apply_transformers(&operand.transformers, v))
        .collect();
    let Some(vals) = vals else {
        return (None, serde_json::Value::Null);
    };
    let json_one = |v: &Value<'_>| match v {
        Value::Uint(u) => serde_json::Value::from(*u),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Bool(b) => serde_json::Value::from(*b),
        other => serde_json::Value::from(render_value(other)),
    };
    let json = if operand.is_list {
        serde_json::Value::Array(vals.iter().map(json_one).collect())
    } else {
        vals.first().map_or(serde_json::Value::Null, json_one)
    };
    (
        Some(render_values(&vals, operand.is_list).into_bytes()),
        json,
    )
}
