//! The condition parser: a faithful port of libsinsp's recursive-descent filter parser
//! (`libsinsp/filter/parser.cpp` of libs 0.25.4). Every lexing quirk is kept: operators matched as
//! raw prefixes, leftmost-longest token rules, `a or(b) and c` rejected, a quoted string ending
//! in `\"` never closing, `\ ` unescaping to a backslash.

use super::ast::{Expr, Pos};

/// Falco sets the parser's maximum recursion depth to 1000.
pub const MAX_DEPTH: u32 = 1000;

const STR_OPS: [&str; 12] = [
    "==",
    "=",
    "!=",
    "glob ",
    "iglob ",
    "contains ",
    "icontains ",
    "bcontains ",
    "startswith ",
    "bstartswith ",
    "endswith ",
    "regex ",
];
const NUM_OPS: [&str; 4] = ["<=", "<", ">=", ">"];
const LIST_OPS: [&str; 3] = ["intersects", "in", "pmatch"];
const MODIFIERS: [&str; 3] = ["oneof ", "anyof ", "allof "];
const TRANSFORMERS: [&str; 8] = [
    "tolower(",
    "toupper(",
    "b64(",
    "basename(",
    "len(",
    "join(",
    "concat(",
    "getopt(",
];

const OPERATORS_MSG: &str = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', \
                             'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', \
                             'endswith', 'regex', 'intersects', 'in', 'pmatch'";
const TRANSFORMERS_MSG: &str =
    "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'";

/// A parse error: libsinsp's message and the parser cursor when it was raised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct ParseError {
    pub msg: String,
    pub pos: Pos,
}

type PResult<T> = Result<T, ParseError>;

/// Parses a whole condition.
pub fn parse(input: &str) -> PResult<Expr> {
    parse_with_depth(input, MAX_DEPTH)
}

/// Parses one field or transformer at the start of `input` (the output formatter's partial
/// parse); returns the expression and the number of bytes consumed.
pub fn parse_field_or_transformer(input: &str) -> PResult<(Expr, usize)> {
    let mut p = Parser {
        s: input.as_bytes(),
        src: input,
        pos: Pos::START,
        last: String::new(),
        depth: 0,
        max_depth: MAX_DEPTH,
    };
    let pos = p.pos;
    if p.lex_field_name() {
        let e = p.parse_field_remainder(pos)?;
        return Ok((e, p.pos.idx as usize));
    }
    if p.lex_str_list(&TRANSFORMERS) {
        p.lex_blank();
        let e = p.parse_transformer_remainder(pos)?;
        return Ok((e, p.pos.idx as usize));
    }
    Err(p.err(format!("unexpected token after '{}", p.last)))
}

pub(crate) fn parse_with_depth(input: &str, max_depth: u32) -> PResult<Expr> {
    let mut p = Parser {
        s: input.as_bytes(),
        src: input,
        pos: Pos::START,
        last: String::new(),
        depth: 0,
        max_depth,
    };
    if input.is_empty() {
        return Err(p.err("filter input string is empty"));
    }
    let res = p.parse_or()?;
    if (p.pos.idx as usize) != p.s.len() {
        let msg = format!("unexpected token after '{}', expecting 'or', 'and'", p.last);
        return Err(p.err(msg));
    }
    Ok(res)
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | 0x08 | b'\r' | b'\n')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: Pos,
    last: String,
    depth: u32,
    max_depth: u32,
}

impl<'a> Parser<'a> {
    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError {
            msg: msg.into(),
            pos: self.pos,
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.s[self.pos.idx as usize..]
    }

    fn peek(&self) -> u8 {
        self.rest().first().copied().unwrap_or(0)
    }

    fn advance(&mut self, n: usize) {
        for &c in &self.s[self.pos.idx as usize..self.pos.idx as usize + n] {
            self.pos.col += 1;
            if c == b'\r' || c == b'\n' {
                self.pos.col = 1;
                self.pos.line += 1;
            }
            self.pos.idx += 1;
        }
    }

    /// Consumes `n` bytes and makes them the last token.
    fn take(&mut self, n: usize) -> bool {
        if n == 0 {
            return false;
        }
        let start = self.pos.idx as usize;
        self.last = self.src[start..start + n].to_string();
        self.advance(n);
        true
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth >= self.max_depth {
            return Err(self.err(format!("exceeded max depth limit of {}", self.max_depth)));
        }
        Ok(())
    }

    fn leave<T>(&mut self, r: PResult<T>) -> PResult<T> {
        self.depth -= 1;
        r
    }

    // ---- lexing -------------------------------------------------------------------------

    fn lex_blank(&mut self) -> bool {
        let n = self.rest().iter().take_while(|&&c| is_blank(c)).count();
        self.advance(n);
        n > 0
    }

    fn lex_str(&mut self, tok: &str) -> bool {
        if self.rest().starts_with(tok.as_bytes()) {
            self.take(tok.len())
        } else {
            false
        }
    }

    fn lex_str_list(&mut self, list: &[&str]) -> bool {
        list.iter().any(|t| self.lex_str(t))
    }

    /// Operators ending in a space need a blank after them; the token itself is trimmed.
    fn lex_operator_list(&mut self, list: &[&str]) -> bool {
        for op in list {
            match op.strip_suffix(' ') {
                None => {
                    if self.lex_str(op) {
                        return true;
                    }
                }
                Some(word) => {
                    let (saved_pos, saved_last) = (self.pos, self.last.clone());
                    if self.lex_str(word) {
                        if self.lex_blank() {
                            return true;
                        }
                        self.pos = saved_pos;
                        self.last = saved_last;
                    }
                }
            }
        }
        false
    }

    fn identifier_len(r: &[u8]) -> usize {
        let letters = r.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        if letters == 0 {
            return 0;
        }
        letters
            + r[letters..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count()
    }

    fn lex_identifier(&mut self) -> bool {
        let n = Self::identifier_len(self.rest());
        self.take(n)
    }

    fn lex_field_name(&mut self) -> bool {
        let r = self.rest();
        let mut n = Self::identifier_len(r);
        if n == 0 {
            return false;
        }
        let mut parts = 0;
        while r.get(n) == Some(&b'.') {
            let m = Self::identifier_len(&r[n + 1..]);
            if m == 0 {
                break;
            }
            n += 1 + m;
            parts += 1;
        }
        if parts == 0 {
            return false;
        }
        self.take(n)
    }

    fn lex_field_arg_bare_str(&mut self) -> bool {
        let n = self
            .rest()
            .iter()
            .take_while(|&&c| !matches!(c, b'[' | b']' | b'"' | b'\'') && !is_space(c) && c != 0)
            .count();
        self.take(n)
    }

    fn lex_bare_str(&mut self) -> bool {
        let n = self
            .rest()
            .iter()
            .take_while(|&&c| {
                !matches!(c, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_space(c) && c != 0
            })
            .count();
        self.take(n)
    }

    fn lex_hex_num(&mut self) -> bool {
        let r = self.rest();
        if r.len() > 2 && r[0] == b'0' && (r[1] == b'x' || r[1] == b'X') {
            let n = r[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            if n > 0 {
                return self.take(2 + n);
            }
        }
        false
    }

    fn lex_num(&mut self) -> bool {
        let r = self.rest();
        let mut n = usize::from(matches!(r.first(), Some(b'+' | b'-')));
        let digits = r[n..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        n += digits;
        if r.get(n) == Some(&b'.') {
            n += 1;
        }
        n += r[n..].iter().take_while(|c| c.is_ascii_digit()).count();
        if matches!(r.get(n), Some(b'e' | b'E')) && matches!(r.get(n + 1), Some(b'+' | b'-')) {
            let e = r[n + 2..].iter().take_while(|c| c.is_ascii_digit()).count();
            if e > 0 {
                n += 2 + e;
            }
        }
        self.take(n)
    }

    fn lex_not_blank(&mut self) -> bool {
        let r = self.rest();
        if r.starts_with(b"not") {
            let n = r[3..].iter().take_while(|&&c| is_space(c)).count();
            if n > 0 {
                return self.take(3 + n);
            }
        }
        false
    }

    fn lex_quoted_str(&mut self) -> PResult<bool> {
        let delim = self.peek();
        if delim != b'\'' && delim != b'"' {
            return Ok(false);
        }
        let saved = self.pos;
        let start = self.pos.idx as usize;
        let mut prev = b'\\';
        let mut i = start;
        while i < self.s.len() && self.s[i] != 0 {
            let c = self.s[i];
            if c == delim && prev != b'\\' {
                self.advance(i + 1 - start);
                self.last = unescape_str(&self.src[start..=i]).map_err(|m| self.err(m))?;
                return Ok(true);
            }
            prev = c;
            i += 1;
        }
        // Unterminated: libsinsp leaves the partial text as the last token.
        self.last = self.src[start..i].to_string();
        self.pos = saved;
        Ok(false)
    }

    fn list_value_follows(&self) -> bool {
        self.peek() == b'(' || Self::identifier_len(self.rest()) > 0
    }

    fn bool_keyword_follows(&self) -> bool {
        let r = self.rest();
        ["and", "or", "not"].iter().any(|kw| {
            r.starts_with(kw.as_bytes())
                && r.get(kw.len()).is_none_or(|c| !c.is_ascii_alphanumeric())
        })
    }

    // ---- grammar ------------------------------------------------------------------------

    fn parse_or(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_or_inner();
        self.leave(r)
    }

    fn parse_or_inner(&mut self) -> PResult<Expr> {
        self.parse_chain("or", Self::parse_and, Expr::Or)
    }

    fn parse_and(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_and_inner();
        self.leave(r)
    }

    fn parse_and_inner(&mut self) -> PResult<Expr> {
        self.parse_chain("and", Self::parse_not, Expr::And)
    }

    /// `operand (kw operand)*` for `or` and `and`: after the keyword a blank, or a `(` that
    /// opens an embedded expression; a single operand is returned as it is.
    fn parse_chain(
        &mut self,
        kw: &'static str,
        operand: fn(&mut Self) -> PResult<Expr>,
        chain: fn(Vec<Expr>, Pos) -> Expr,
    ) -> PResult<Expr> {
        let pos = self.pos;
        self.lex_blank();
        let mut children = vec![operand(self)?];
        self.lex_blank();
        while self.lex_str(kw) {
            let child = if !self.lex_blank() {
                if self.lex_str("(") {
                    self.parse_embedded_remainder()?
                } else {
                    return Err(self.err(format!("expected blank or '(' after '{kw}'")));
                }
            } else {
                operand(self)?
            };
            children.push(child);
            self.lex_blank();
        }
        Ok(if children.len() > 1 {
            chain(children, pos)
        } else {
            children.pop().unwrap_or_else(|| chain(Vec::new(), pos))
        })
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_not_inner();
        self.leave(r)
    }

    fn parse_not_inner(&mut self) -> PResult<Expr> {
        let pos = self.pos;
        self.lex_blank();
        let mut is_not = false;
        while self.lex_not_blank() {
            is_not = !is_not;
        }
        let child = if self.lex_str("not(") {
            is_not = !is_not;
            self.parse_embedded_remainder()?
        } else {
            self.parse_check()?
        };
        Ok(if is_not {
            Expr::Not(Box::new(child), pos)
        } else {
            child
        })
    }

    fn parse_embedded_remainder(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_embedded_inner();
        self.leave(r)
    }

    fn parse_embedded_inner(&mut self) -> PResult<Expr> {
        self.lex_blank();
        let child = self.parse_or()?;
        self.lex_blank();
        if !self.lex_str(")") {
            return Err(self.err("expected a ')' token"));
        }
        Ok(child)
    }

    fn parse_check(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_check_inner();
        self.leave(r)
    }

    fn parse_check_inner(&mut self) -> PResult<Expr> {
        let pos = self.pos;
        self.lex_blank();
        if self.lex_str("(") {
            return self.parse_embedded_remainder();
        }
        if self.lex_field_name() {
            let left = self.parse_field_remainder(pos)?;
            return self.parse_condition(left, pos);
        }
        if self.lex_str_list(&TRANSFORMERS) {
            self.lex_blank();
            let left = self.parse_transformer_remainder(pos)?;
            return self.parse_condition(left, pos);
        }
        if self.lex_identifier() {
            return Ok(Expr::Identifier(self.last.clone(), pos));
        }
        Err(self.err("expected a '(' token, a field check, or an identifier"))
    }

    fn parse_field_remainder(&mut self, pos: Pos) -> PResult<Expr> {
        let name = self.last.clone();
        let arg = self.parse_optional_field_arg()?;
        Ok(Expr::Field { name, arg, pos })
    }

    fn parse_optional_field_arg(&mut self) -> PResult<Option<String>> {
        if !self.lex_str("[") {
            return Ok(None);
        }
        if !self.lex_quoted_str()? && !self.lex_field_arg_bare_str() {
            return Err(
                self.err("expected a valid field argument: a quoted string or a bare string")
            );
        }
        let arg = self.last.clone();
        if !self.lex_str("]") {
            return Err(self.err("expected a ']' token"));
        }
        Ok(Some(arg))
    }

    /// After `name(` has been lexed (the last token).
    fn parse_transformer_remainder(&mut self, pos: Pos) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_transformer_remainder_inner(pos);
        self.leave(r)
    }

    fn parse_transformer_remainder_inner(&mut self, pos: Pos) -> PResult<Expr> {
        let name = self.last.trim_end_matches('(').to_string();
        self.lex_blank();
        let mut args = Vec::new();
        loop {
            let p = self.pos;
            args.push(self.parse_transformer_arg(p)?);
            self.lex_blank();
            if !self.lex_str(",") {
                break;
            }
        }
        self.lex_blank();
        if !self.lex_str(")") {
            return Err(self.err("expected a ')' token closing the transformer"));
        }
        let arg = self.parse_optional_field_arg()?;
        Ok(Expr::Transformer {
            name,
            args,
            arg,
            pos,
        })
    }

    fn parse_transformer_arg(&mut self, pos: Pos) -> PResult<Expr> {
        self.lex_blank();
        if self.lex_hex_num() || self.lex_num() || self.lex_quoted_str()? {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        if self.lex_str("(") {
            return self.parse_transformer_list(pos);
        }
        if self.lex_str_list(&TRANSFORMERS) {
            return self.parse_transformer_remainder(pos);
        }
        if self.lex_field_name() {
            return self.parse_field_remainder(pos);
        }
        Err(self.err(
            "expected field transformer argument: field, transformer, quoted string, number, or transformer list",
        ))
    }

    fn parse_transformer_list(&mut self, pos: Pos) -> PResult<Expr> {
        let mut children = Vec::new();
        self.lex_blank();
        if self.lex_str(")") {
            return Ok(Expr::TransformerList(children, pos));
        }
        children.push(self.parse_transformer_list_arg(pos)?);
        self.lex_blank();
        while self.lex_str(",") {
            self.lex_blank();
            children.push(self.parse_transformer_list_arg(pos)?);
            self.lex_blank();
        }
        if !self.lex_str(")") {
            return Err(self.err("expected ')'"));
        }
        Ok(Expr::TransformerList(children, pos))
    }

    fn parse_transformer_list_arg(&mut self, pos: Pos) -> PResult<Expr> {
        if self.lex_field_name() {
            return self.parse_field_remainder(pos);
        }
        if self.lex_str_list(&TRANSFORMERS) {
            self.lex_blank();
            return self.parse_transformer_remainder(pos);
        }
        if self.lex_quoted_str()? || self.lex_hex_num() || self.lex_num() {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        Err(self.err(
            "expected transformer list argument: field, transformer, quoted string, or number",
        ))
    }

    fn parse_condition(&mut self, left: Expr, pos: Pos) -> PResult<Expr> {
        let left = Box::new(left);
        self.lex_blank();
        if self.lex_operator_list(&["exists"]) {
            return Ok(Expr::Unary {
                left,
                op: "exists".into(),
                pos,
            });
        }
        self.lex_blank();
        let (op, right) = if self.lex_operator_list(&NUM_OPS) {
            let op = self.last.clone();
            (op, self.parse_num_value_or_transformer()?)
        } else if self.lex_operator_list(&STR_OPS) {
            let op = self.last.clone();
            let had_blank = op.as_bytes()[0].is_ascii_alphabetic() || self.lex_blank();
            let (saved_pos, saved_last) = (self.pos, self.last.clone());
            if had_blank
                && self.lex_operator_list(&MODIFIERS)
                && self.list_value_follows()
                && !self.bool_keyword_follows()
            {
                let op = format!("{} {}", op.trim(), self.last);
                (op, self.parse_list_value()?)
            } else {
                self.pos = saved_pos;
                self.last = saved_last;
                (op, self.parse_str_value_or_transformer(false)?)
            }
        } else if self.lex_operator_list(&LIST_OPS) {
            let op = self.last.clone();
            (op, self.parse_list_value_or_transformer()?)
        } else {
            return Err(self.err(format!(
                "expected a valid check operator: one of {OPERATORS_MSG}"
            )));
        };
        Ok(Expr::Binary {
            left,
            op: op.trim().to_string(),
            right: Box::new(right),
            pos,
        })
    }

    fn parse_num_value_or_transformer(&mut self) -> PResult<Expr> {
        self.lex_blank();
        let pos = self.pos;
        if let Some(t) = self.try_parse_transformer_or_val()? {
            return Ok(t);
        }
        if self.lex_hex_num() || self.lex_num() {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        Err(self.err(format!(
            "expected a number value or a field with a valid transformer: {TRANSFORMERS_MSG}"
        )))
    }

    fn parse_str_value_or_transformer(&mut self, no_transformer: bool) -> PResult<Expr> {
        self.lex_blank();
        let pos = self.pos;
        if !no_transformer && let Some(t) = self.try_parse_transformer_or_val()? {
            return Ok(t);
        }
        if self.lex_quoted_str()? || self.lex_bare_str() {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        if no_transformer {
            return Err(self.err("expected a string value"));
        }
        Err(self.err(format!(
            "expected a string value or a field with a valid transformer: {TRANSFORMERS_MSG}"
        )))
    }

    fn try_parse_list_expr(&mut self) -> PResult<Option<Expr>> {
        let pos = self.pos;
        if !self.lex_str("(") {
            return Ok(None);
        }
        let mut values = Vec::new();
        self.lex_blank();
        if let Ok(Expr::Value(v, _)) = self.parse_str_value_or_transformer(true) {
            values.push(v);
            self.lex_blank();
            while self.lex_str(",") {
                match self.parse_str_value_or_transformer(true)? {
                    Expr::Value(v, _) => values.push(v),
                    _ => {
                        return Err(self.err("parser fatal error: null value expr in body of list"));
                    }
                }
                self.lex_blank();
            }
        }
        if !self.lex_str(")") {
            return Err(self.err("expected a ')' token"));
        }
        Ok(Some(Expr::List(values, pos)))
    }

    fn parse_list_value(&mut self) -> PResult<Expr> {
        self.lex_blank();
        let pos = self.pos;
        if let Some(l) = self.try_parse_list_expr()? {
            return Ok(l);
        }
        if self.lex_identifier() {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        Err(self.err("expected a list or an identifier"))
    }

    fn parse_list_value_or_transformer(&mut self) -> PResult<Expr> {
        self.lex_blank();
        let pos = self.pos;
        if let Some(l) = self.try_parse_list_expr()? {
            return Ok(l);
        }
        if let Some(t) = self.try_parse_transformer_or_val()? {
            return Ok(t);
        }
        if self.lex_identifier() {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        Err(self.err(format!(
            "expected a list, an identifier, or a field with a valid transformer: {TRANSFORMERS_MSG}"
        )))
    }

    fn try_parse_transformer_or_val(&mut self) -> PResult<Option<Expr>> {
        self.lex_blank();
        let pos = self.pos;
        if self.lex_str("val(") {
            self.lex_blank();
            let field_pos = self.pos;
            if !self.lex_field_name() {
                return Err(self.err("expected a field within 'val' transformer"));
            }
            let field = self.parse_field_remainder(field_pos)?;
            self.lex_blank();
            if !self.lex_str(")") {
                return Err(self.err("expected a ')' token closing the transformer"));
            }
            let arg = self.parse_optional_field_arg()?;
            return Ok(Some(Expr::Transformer {
                name: "val".into(),
                args: vec![field],
                arg,
                pos,
            }));
        }
        if self.lex_str_list(&TRANSFORMERS) {
            self.lex_blank();
            return self.parse_transformer_remainder(pos).map(Some);
        }
        Ok(None)
    }
}

/// Unescapes a quoted string token (quotes included) like libsinsp's `unescape_str`.
pub(crate) fn unescape_str(tok: &str) -> Result<String, String> {
    let b = tok.as_bytes();
    let quote = b[0];
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut escaped = false;
    for &c in &b[1..b.len().saturating_sub(1).max(1)] {
        if !escaped {
            if c == b'\\' {
                escaped = true;
            } else {
                out.push(c);
            }
            continue;
        }
        match c {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b' ' | b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'"' | b'\'' => {
                if c != quote {
                    return Err(if c == b'"' {
                        "invalid \\\" escape in '-quoted string".to_string()
                    } else {
                        "invalid \\' escape in \"-quoted string".to_string()
                    });
                }
                out.push(c);
            }
            _ => {
                return Err(format!(
                    "unsupported string escape sequence: \\{}",
                    c as char
                ));
            }
        }
        escaped = false;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn perr(s: &str) -> String {
        parse(s).expect_err(s).msg
    }

    /// Parses and prints back like libsinsp's `as_string`.
    fn t(s: &str) -> String {
        p(s).to_string()
    }

    #[test]
    fn precedence_and_grouping() {
        assert_eq!(t("a and b or c"), "((a and b) or c)");
        assert_eq!(t("a or b and c"), "(a or (b and c))");
        assert_eq!(t("not a and b"), "(not a and b)");
        assert_eq!(t("a and (b or c)"), "(a and (b or c))");
        assert_eq!(t("a and(b or c)"), "(a and (b or c))");
        assert_eq!(t("a or (b) and c"), "(a or (b and c))");
        assert_eq!(t("not not a"), "a");
        assert_eq!(t("not(a)"), "not a");
        assert_eq!(t("not  not(a)"), "a");
    }

    #[test]
    fn or_paren_quirk() {
        assert_eq!(
            perr("a or(b) and c"),
            "unexpected token after ')', expecting 'or', 'and'"
        );
        assert_eq!(perr("a orb"), "expected blank or '(' after 'or'");
        assert_eq!(perr("a andb"), "expected blank or '(' after 'and'");
    }

    #[test]
    fn checks_and_operators() {
        assert_eq!(t("proc.name=bash"), "proc.name = bash");
        assert_eq!(t("fd.typechar='f'"), "fd.typechar = f");
        assert_eq!(t("proc.name != \"a b\""), "proc.name != \"a b\"");
        assert_eq!(t("fd.num >= 0"), "fd.num >= 0");
        assert_eq!(t("fd.num<=0x10"), "fd.num <= 0x10");
        assert_eq!(t("proc.name exists"), "proc.name exists");
        assert_eq!(
            t("proc.name in (a, \"b c\", 'd')"),
            "proc.name in (a, \"b c\", d)"
        );
        assert_eq!(t("proc.name in(a,b)"), "proc.name in (a, b)");
        assert_eq!(t("proc.name in ()"), "proc.name in ()");
        assert_eq!(
            t("proc.name in shell_binaries"),
            "proc.name in shell_binaries"
        );
        assert_eq!(
            t("proc.name pmatch (/usr/bin)"),
            "proc.name pmatch (/usr/bin)"
        );
        assert_eq!(t("fd.name glob /tmp/*"), "fd.name glob /tmp/*");
        assert_eq!(t("proc.name regex '^a.*$'"), "proc.name regex ^a.*$");
        assert_eq!(
            t("proc.name = runc:[0:PARENT]"),
            "proc.name = runc:[0:PARENT]"
        );
        assert_eq!(t("proc.name = <NA>"), "proc.name = <NA>");
        assert_eq!(
            perr("proc.name contains\"x\""),
            format!("expected a valid check operator: one of {OPERATORS_MSG}")
        );
        assert_eq!(
            perr("proc.name = a,b"),
            "unexpected token after 'a', expecting 'or', 'and'"
        );
        assert_eq!(
            perr("fd.num > abc"),
            format!(
                "expected a number value or a field with a valid transformer: {TRANSFORMERS_MSG}"
            )
        );
        assert_eq!(perr("proc.name in (a,)"), "expected a string value");
        assert_eq!(
            perr("proc.name"),
            format!("expected a valid check operator: one of {OPERATORS_MSG}")
        );
        assert_eq!(perr(""), "filter input string is empty");
        assert_eq!(perr("(a"), "expected a ')' token");
        assert_eq!(
            perr("=a"),
            "expected a '(' token, a field check, or an identifier"
        );
    }

    #[test]
    fn modifiers() {
        assert_eq!(
            t("proc.name startswith oneof (a, b)"),
            "proc.name startswith oneof (a, b)"
        );
        assert_eq!(t("proc.name = allof (a)"), "proc.name = allof (a)");
        assert_eq!(t("proc.name = anyof my_list"), "proc.name = anyof my_list");
        // not a modifier when no list or identifier follows, or a keyword follows
        assert_eq!(t("proc.name = oneof"), "proc.name = oneof");
        assert_eq!(t("proc.name = oneof and a"), "(proc.name = oneof and a)");
    }

    #[test]
    fn field_arguments_and_transformers() {
        assert_eq!(t("proc.aname[2] = x"), "proc.aname[2] = x");
        assert_eq!(t("k8s.pod.label[app] = x"), "k8s.pod.label[app] = x");
        assert_eq!(t("evt.arg[0] = x"), "evt.arg[0] = x");
        assert_eq!(
            t("evt.arg.flags contains O_RDWR"),
            "evt.arg.flags contains O_RDWR"
        );
        assert_eq!(t("proc.env[\"A B\"] = x"), "proc.env[\"A B\"] = x");
        assert_eq!(t("tolower(proc.name) = bash"), "tolower(proc.name) = bash");
        assert_eq!(
            t("proc.name = val(proc.pname)"),
            "proc.name = val(proc.pname)"
        );
        assert_eq!(t("len(proc.args) > 3"), "len(proc.args) > 3");
        assert_eq!(
            t("join(\"->\", (proc.name, proc.pname)) = x"),
            "join(->,(proc.name,proc.pname)) = x"
        );
        assert_eq!(
            perr("proc.aname[ = x"),
            "expected a valid field argument: a quoted string or a bare string"
        );
        assert_eq!(perr("proc.aname[2 = x"), "expected a ']' token");
    }

    #[test]
    fn quoting_quirks() {
        // a string ending in an escaped backslash never closes
        assert_eq!(
            perr(r#"proc.name = "a\\""#),
            "expected a string value or a field with a valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'"
        );
        // `\ ` yields a backslash and drops the space
        assert_eq!(p(r#"proc.name = "a\ b""#), p(r#"proc.name = "a\\b""#));
        let Expr::Binary { right, .. } = p(r#"proc.name = "a\ b""#) else {
            panic!()
        };
        assert_eq!(
            *right,
            Expr::Value(
                "a\\b".into(),
                Pos {
                    idx: 12,
                    line: 1,
                    col: 13
                }
            )
        );
        assert_eq!(
            perr(r#"proc.name = "a\x""#),
            "unsupported string escape sequence: \\x"
        );
        assert_eq!(
            perr(r#"proc.name = 'a\"'"#),
            "invalid \\\" escape in '-quoted string"
        );
        assert_eq!(
            perr(r#"proc.name = "a\'""#),
            "invalid \\' escape in \"-quoted string"
        );
        assert_eq!(t(r#"proc.name = "a\tb""#), r#"proc.name = "a\tb""#);
    }

    #[test]
    fn positions() {
        let e = parse("a and\n  b or").unwrap_err();
        assert_eq!(e.msg, "expected blank or '(' after 'or'");
        assert_eq!(
            e.pos,
            Pos {
                idx: 12,
                line: 2,
                col: 7
            }
        );
        let Expr::And(c, _) = p("a and\nproc.name = x") else {
            panic!()
        };
        assert_eq!(
            c[1].pos(),
            Pos {
                idx: 6,
                line: 2,
                col: 1
            }
        );
    }

    #[test]
    fn depth_limit_hit_exactly() {
        // each parenthesis costs five levels (or, and, not, check, embedded)
        let nest = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nest(199)).is_ok());
        assert_eq!(
            parse(&nest(200)).unwrap_err().msg,
            "exceeded max depth limit of 1000"
        );
        assert!(parse_with_depth(&nest(1), 10).is_ok());
        assert_eq!(
            parse_with_depth(&nest(2), 10).unwrap_err().msg,
            "exceeded max depth limit of 10"
        );
        assert!(parse_with_depth("a", 5).is_ok());
        assert!(parse_with_depth("(a)", 5).is_err());
    }

    #[test]
    fn partial_field_parse() {
        let (e, n) = parse_field_or_transformer("proc.nameand%x").unwrap();
        assert_eq!((e.to_string(), n), ("proc.nameand".to_string(), 12));
        let (e, n) = parse_field_or_transformer("proc.name]").unwrap();
        assert_eq!((e.to_string(), n), ("proc.name".to_string(), 9));
        assert_eq!(
            parse_field_or_transformer("foo").unwrap_err().msg,
            "unexpected token after '"
        );
    }
}
