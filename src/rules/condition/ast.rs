//! The condition AST as libsinsp's parser builds it: every node keeps the parser position where
//! it starts (for Falco's error contexts). Macro references are still `Identifier`s here; the
//! loader expands them into a second tree of the same type.

use std::fmt;

/// A parser position: byte offset (0-based), line and column (1-based), like libsinsp's
/// `pos_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pos {
    pub idx: u32,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub(crate) const START: Pos = Pos {
        idx: 0,
        line: 1,
        col: 1,
    };
}

/// One node of a parsed condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    And(Vec<Expr>, Pos),
    Or(Vec<Expr>, Pos),
    Not(Box<Expr>, Pos),
    /// A macro reference (or, after expansion, never present).
    Identifier(String, Pos),
    /// `field exists`.
    Unary {
        left: Box<Expr>,
        op: String,
        pos: Pos,
    },
    /// `left op right`; `op` is trimmed (`startswith`, `contains oneof`, `in`, ...).
    Binary {
        left: Box<Expr>,
        op: String,
        right: Box<Expr>,
        pos: Pos,
    },
    /// `name` or `name[arg]`.
    Field {
        name: String,
        arg: Option<String>,
        pos: Pos,
    },
    /// `tolower(...)`, `val(...)`, `join(...)`, with an optional `[arg]` after it.
    Transformer {
        name: String,
        args: Vec<Expr>,
        arg: Option<String>,
        pos: Pos,
    },
    /// A constant (unescaped for quoted strings).
    Value(String, Pos),
    /// `(a, b, c)` after a list operator.
    List(Vec<String>, Pos),
    /// `(x, y)` inside a transformer argument list.
    TransformerList(Vec<Expr>, Pos),
}

impl Expr {
    pub fn pos(&self) -> Pos {
        match self {
            Expr::And(_, p)
            | Expr::Or(_, p)
            | Expr::Not(_, p)
            | Expr::Identifier(_, p)
            | Expr::Value(_, p)
            | Expr::List(_, p)
            | Expr::TransformerList(_, p) => *p,
            Expr::Unary { pos, .. }
            | Expr::Binary { pos, .. }
            | Expr::Field { pos, .. }
            | Expr::Transformer { pos, .. } => *pos,
        }
    }
}

/// Escapes a constant the way libsinsp's `escape_str` does when printing a condition.
pub(crate) fn escape_str(s: &str) -> String {
    let mut res = String::with_capacity(s.len() + 2);
    let mut quote = false;
    for c in s.chars() {
        match c {
            '\u{8}' => res.push_str("\\b"),
            '\u{c}' => res.push_str("\\f"),
            '\n' => res.push_str("\\n"),
            '\r' => res.push_str("\\r"),
            '\t' => res.push_str("\\t"),
            ' ' | '=' | '\'' => res.push(c),
            '\\' => res.push_str("\\\\"),
            '"' => res.push_str("\\\""),
            _ => {
                res.push(c);
                continue;
            }
        }
        quote = true;
    }
    if quote { format!("\"{res}\"") } else { res }
}

/// Prints a condition the way libsinsp's `ast::as_string` does (`-L` `condition_compiled`).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(children, _) | Expr::Or(children, _) => {
                let sep = if matches!(self, Expr::And(..)) {
                    " and "
                } else {
                    " or "
                };
                f.write_str("(")?;
                for (i, c) in children.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str(")")
            }
            Expr::Not(c, _) => write!(f, "not {c}"),
            Expr::Identifier(name, _) => f.write_str(name),
            Expr::Unary { left, op, .. } => write!(f, "{left} {op}"),
            Expr::Binary {
                left, op, right, ..
            } => write!(f, "{left} {op} {right}"),
            Expr::Field { name, arg, .. } => {
                f.write_str(name)?;
                write_field_arg(f, arg.as_deref())
            }
            Expr::Transformer {
                name, args, arg, ..
            } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")?;
                write_field_arg(f, arg.as_deref())
            }
            Expr::Value(v, _) => f.write_str(&escape_str(v)),
            Expr::List(items, _) => {
                f.write_str("(")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&escape_str(v))?;
                }
                f.write_str(")")
            }
            Expr::TransformerList(items, _) => {
                f.write_str("(")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
        }
    }
}

fn write_field_arg(f: &mut fmt::Formatter<'_>, arg: Option<&str>) -> fmt::Result {
    match arg {
        None => Ok(()),
        Some("") => f.write_str("[\"\"]"),
        Some(a) => write!(f, "[{}]", escape_str(a)),
    }
}
