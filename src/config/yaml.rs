//! The configuration document as Falco's yaml-cpp sees it: every scalar is kept as its source
//! text and converted only when a key is read (`as<T>(fallback)`), so `json_output: yes`,
//! `'8765'` and `${PORT}` all behave like yaml-cpp. Parsing is saphyr's; this only keeps the
//! tree, reads typed values and walks Falco's key paths (`a.b[1].c`, `[]`, `\.` escapes).

use std::borrow::Cow;

use saphyr::{ScalarStyle, Yaml, YamlLoader};
use saphyr_parser::Parser;

/// One YAML node. Mappings keep document order.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Node {
    /// Not present (yaml-cpp's undefined node).
    #[default]
    Undefined,
    /// `~`, `null`, or an empty value.
    Null,
    /// Any scalar, as written (quotes removed). `plain` is false for quoted scalars.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// A YAML syntax error with its position.
#[derive(Debug, thiserror::Error)]
#[error("yaml-cpp: error at line {line}, column {col}: {info}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub info: String,
}

impl Node {
    /// A plain string scalar, as `-o key=value` stores its value.
    pub fn scalar(text: impl Into<String>) -> Node {
        Node::Scalar {
            text: text.into(),
            plain: false,
        }
    }

    /// Parses a YAML document (the first one; an empty input is an undefined document).
    pub fn parse(input: &str) -> Result<Node, ParseError> {
        Ok(Node::parse_all(input)?
            .into_iter()
            .next()
            .unwrap_or(Node::Undefined))
    }

    /// Parses every document of a YAML stream.
    pub fn parse_all(input: &str) -> Result<Vec<Node>, ParseError> {
        let mut parser = Parser::new_from_str(input);
        let mut loader: YamlLoader<'_, Yaml<'_>> = YamlLoader::default();
        loader.early_parse(false);
        loader.allow_duplicate_keys(true);
        let err = |e: &saphyr::ScanError| ParseError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            info: e.info().to_string(),
        };
        parser.load(&mut loader, true).map_err(|e| err(&e))?;
        if let Some(e) = loader.error() {
            return Err(err(e));
        }
        Ok(loader
            .into_documents()
            .iter()
            .map(Node::from_yaml)
            .collect())
    }

    fn from_yaml(y: &Yaml<'_>) -> Node {
        match y {
            Yaml::Representation(text, style, _) => {
                let plain = *style == ScalarStyle::Plain;
                if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                    Node::Null
                } else {
                    Node::Scalar {
                        text: text.to_string(),
                        plain,
                    }
                }
            }
            Yaml::Value(v) => match v {
                saphyr::Scalar::Null => Node::Null,
                saphyr::Scalar::Boolean(b) => Node::scalar(b.to_string()),
                saphyr::Scalar::Integer(i) => Node::scalar(i.to_string()),
                saphyr::Scalar::FloatingPoint(f) => Node::scalar(f.to_string()),
                saphyr::Scalar::String(s) => Node::scalar(s.to_string()),
            },
            Yaml::Sequence(seq) => Node::Seq(seq.iter().map(Node::from_yaml).collect()),
            Yaml::Mapping(map) => Node::Map(
                map.iter()
                    .map(|(k, v)| (Node::from_yaml(k).key_text(), Node::from_yaml(v)))
                    .collect(),
            ),
            Yaml::Tagged(_, inner) => Node::from_yaml(inner),
            Yaml::Alias(_) | Yaml::BadValue => Node::Null,
        }
    }

    fn key_text(&self) -> String {
        match self {
            Node::Scalar { text, .. } => text.clone(),
            Node::Null => String::new(),
            other => other.to_flow(),
        }
    }

    pub fn is_defined(&self) -> bool {
        !matches!(self, Node::Undefined)
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Looks a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The mapping entry for `key`, created (as undefined) when missing; a non-map becomes a map.
    pub fn entry(&mut self, key: &str) -> &mut Node {
        if !matches!(self, Node::Map(_)) {
            *self = Node::Map(Vec::new());
        }
        let Node::Map(entries) = self else {
            unreachable!("just made a map")
        };
        let idx = match entries.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                entries.push((key.to_string(), Node::Undefined));
                entries.len() - 1
            }
        };
        &mut entries[idx].1
    }

    /// Appends to a sequence (an undefined or null node becomes one).
    pub fn push(&mut self, item: Node) {
        if !matches!(self, Node::Seq(_)) {
            *self = Node::Seq(Vec::new());
        }
        if let Node::Seq(items) = self {
            items.push(item);
        }
    }

    /// The items of a sequence; a scalar reads as a one-item list (yaml-cpp `get_sequence`).
    pub fn items(&self) -> Vec<&Node> {
        match self {
            Node::Seq(items) => items.iter().collect(),
            Node::Scalar { .. } => vec![self],
            _ => Vec::new(),
        }
    }

    /// `as<bool>()`: yaml-cpp spellings (y/n, yes/no, true/false, on/off; lower, Capitalised,
    /// UPPER).
    pub fn as_bool(&self) -> Option<bool> {
        parse_bool(self.as_str()?)
    }

    /// `as<i64>()`: decimal, `0x` hex or `0o` octal, nothing else.
    pub fn as_i64(&self) -> Option<i64> {
        parse_int(self.as_str()?)
    }

    /// `as<u64>()`.
    pub fn as_u64(&self) -> Option<u64> {
        let v = self.as_str()?.trim();
        if v.starts_with('-') {
            return None;
        }
        parse_int(v).and_then(|i| u64::try_from(i).ok())
    }

    /// `as<double>()`, YAML spellings (`.1`, `1e3`, `.inf`).
    pub fn as_f64(&self) -> Option<f64> {
        let v = self.as_str()?.trim();
        match v {
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
            _ => v.parse::<f64>().ok().filter(|_| !v.is_empty()),
        }
    }

    /// The scalar as a string (`as<std::string>()`); non-scalars have none.
    pub fn as_string(&self) -> Option<String> {
        match self {
            Node::Scalar { text, .. } => Some(text.clone()),
            _ => None,
        }
    }

    /// Compact flow-style rendering (for messages and the JSON conversion of maps).
    pub fn to_flow(&self) -> String {
        self.flow("~", &|s| s.to_string())
    }

    /// yaml-cpp's flow emitter with double-quoted scalars and lowercase null (the `config`
    /// of `--support`): `{"key": "value", "list": ["a", "b"], "none": null}`.
    pub fn to_support_flow(&self) -> String {
        fn quote(s: &str) -> String {
            let mut out = String::with_capacity(s.len() + 2);
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        self.flow("null", &quote)
    }

    /// Flow style: `[a, b]`, `{k: v}`, null as `null`, keys and scalars through `scalar`.
    fn flow(&self, null: &str, scalar: &dyn Fn(&str) -> String) -> String {
        match self {
            Node::Undefined | Node::Null => null.to_string(),
            Node::Scalar { text, .. } => scalar(text),
            Node::Seq(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|v| v.flow(null, scalar))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Node::Map(entries) => format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", scalar(k), v.flow(null, scalar)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Converts to JSON the way Falco's `convert<nlohmann::json>` does: scalars become an int,
    /// else a double, else a bool, else a string.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Undefined | Node::Null => Value::Null,
            Node::Scalar { text, .. } => {
                if let Some(i) = parse_int(text).filter(|i| i32::try_from(*i).is_ok()) {
                    Value::from(i)
                } else if let Some(f) = self.as_f64().filter(|f| f.is_finite()) {
                    Value::from(f)
                } else if let Some(b) = parse_bool(text) {
                    Value::from(b)
                } else {
                    Value::from(text.clone())
                }
            }
            Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// yaml-cpp's boolean spellings.
pub fn parse_bool(s: &str) -> Option<bool> {
    const PAIRS: [(&str, &str); 4] = [("y", "n"), ("yes", "no"), ("true", "false"), ("on", "off")];
    let variants = |w: &str| -> [String; 3] {
        let mut cap = w.to_string();
        if let Some(first) = cap.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        [w.to_string(), cap, w.to_ascii_uppercase()]
    };
    for (t, f) in PAIRS {
        if variants(t).iter().any(|v| v == s) {
            return Some(true);
        }
        if variants(f).iter().any(|v| v == s) {
            return Some(false);
        }
    }
    None
}

fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = body.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    /// `[N]`.
    Index(usize),
    /// `[]`: append (only when setting).
    Append,
}

/// A key-path syntax error, worded as yaml_helper words it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Config error at key \"{key}\": Parsing error: {detail}")]
pub struct PathError {
    pub key: String,
    pub detail: String,
}

/// Splits `a.b[1].c\.d` into steps, with yaml_helper's escapes and messages.
pub fn parse_path(key: &str) -> Result<Vec<PathStep>, PathError> {
    let err = |detail: String| PathError {
        key: key.to_string(),
        detail,
    };
    let bytes: Vec<char> = key.chars().collect();
    let mut steps = Vec::new();
    let mut cur = String::new();
    let mut cur_started = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == '\\' {
            let Some(&next) = bytes.get(i + 1) else {
                return Err(err(format!("trailing backslash at pos {i}")));
            };
            if !matches!(next, '.' | '[' | ']' | '\\') {
                return Err(err(format!(
                    "invalid escape sequence '\\{next}' at pos {i}"
                )));
            }
            cur.push(next);
            cur_started = true;
            i += 2;
            continue;
        }
        match c {
            '.' => {
                if !cur_started {
                    return Err(err(format!("unexpected character at pos {i}")));
                }
                steps.push(PathStep::Key(std::mem::take(&mut cur)));
                cur_started = false;
                i += 1;
            }
            '[' => {
                if cur_started {
                    steps.push(PathStep::Key(std::mem::take(&mut cur)));
                    cur_started = false;
                } else if steps.is_empty() || !matches!(bytes.get(i.wrapping_sub(1)), Some(']')) {
                    return Err(err(format!("unexpected character at pos {i}")));
                }
                let close = bytes[i..]
                    .iter()
                    .position(|&b| b == ']')
                    .map(|p| p + i)
                    .unwrap_or(bytes.len());
                let idx: String = bytes[i + 1..close.min(bytes.len())].iter().collect();
                if idx.is_empty() {
                    steps.push(PathStep::Append);
                } else {
                    let n = idx
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| err(format!("expected a numeric index, found '{idx}'")))?;
                    steps.push(PathStep::Index(usize::try_from(n).map_err(|_| {
                        err(format!("expected a numeric index, found '{idx}'"))
                    })?));
                }
                i = close + 1;
                if bytes.get(i) == Some(&'.') {
                    i += 1;
                    if i >= bytes.len() {
                        return Err(err(format!("unexpected character at pos {}", i - 1)));
                    }
                } else if i < bytes.len() && bytes[i] != '[' {
                    return Err(err(format!("expected '.' character at pos {}", i - 1)));
                }
            }
            _ => {
                cur.push(c);
                cur_started = true;
                i += 1;
            }
        }
    }
    if cur_started {
        steps.push(PathStep::Key(cur));
    } else if steps.is_empty() {
        return Err(err("unexpected character at pos 0".to_string()));
    }
    Ok(steps)
}

impl Node {
    /// Reads the node at a key path (undefined when any step is missing).
    pub fn at(&self, key: &str) -> Result<Cow<'_, Node>, PathError> {
        let steps = parse_path(key)?;
        let mut cur = self;
        for step in &steps {
            let next = match step {
                PathStep::Key(k) => cur.get(k),
                PathStep::Index(i) => match cur {
                    Node::Seq(items) => items.get(*i),
                    _ => None,
                },
                PathStep::Append => {
                    return Err(PathError {
                        key: key.to_string(),
                        detail: "expected a numeric index, found ''".to_string(),
                    });
                }
            };
            match next {
                Some(n) => cur = n,
                None => return Ok(Cow::Owned(Node::Undefined)),
            }
        }
        Ok(Cow::Borrowed(cur))
    }

    /// Sets the node at a key path, creating maps and sequences on the way; `[]` appends.
    pub fn set(&mut self, key: &str, value: Node) -> Result<(), PathError> {
        let steps = parse_path(key)?;
        let mut cur = self;
        for step in &steps {
            cur = match step {
                PathStep::Key(k) => cur.entry(k),
                PathStep::Append => {
                    cur.push(Node::Undefined);
                    match cur {
                        Node::Seq(items) => items.last_mut().expect("just pushed"),
                        _ => unreachable!("push makes a sequence"),
                    }
                }
                PathStep::Index(i) => {
                    if !matches!(cur, Node::Seq(_)) {
                        *cur = Node::Seq(Vec::new());
                    }
                    let Node::Seq(items) = cur else {
                        unreachable!("just made a sequence")
                    };
                    while items.len() <= *i {
                        items.push(Node::Undefined);
                    }
                    &mut items[*i]
                }
            };
        }
        *cur = value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Node {
        Node::parse(s).unwrap()
    }

    #[test]
    fn scalars_keep_their_text() {
        let n = y("a: yes\nb: '8765'\nc: .1\nd: ~\ne:\nf: 0x10\n");
        assert_eq!(n.get("a").unwrap().as_bool(), Some(true));
        assert_eq!(n.get("b").unwrap().as_i64(), Some(8765));
        assert_eq!(n.get("c").unwrap().as_f64(), Some(0.1));
        assert_eq!(n.get("d"), Some(&Node::Null));
        assert_eq!(n.get("e"), Some(&Node::Null));
        assert_eq!(n.get("f").unwrap().as_i64(), Some(16));
        assert_eq!(y("a: maybe").get("a").unwrap().as_bool(), None);
        assert_eq!(y("a: 12abc").get("a").unwrap().as_i64(), None);
    }

    #[test]
    fn bool_spellings() {
        for t in [
            "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        ] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in [
            "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
        ] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("tRUE"), None);
    }

    #[test]
    fn paths() {
        use PathStep::*;
        assert_eq!(
            parse_path("a.b[1].c").unwrap(),
            [Key("a".into()), Key("b".into()), Index(1), Key("c".into())]
        );
        assert_eq!(
            parse_path("m[1][3]").unwrap(),
            [Key("m".into()), Index(1), Index(3)]
        );
        assert_eq!(
            parse_path("rules_files[]").unwrap(),
            [Key("rules_files".into()), Append]
        );
        assert_eq!(
            parse_path(r"annotations.kubernetes\.io/role").unwrap(),
            [Key("annotations".into()), Key("kubernetes.io/role".into())]
        );
        assert_eq!(
            parse_path(r"a.back\\slash").unwrap(),
            [Key("a".into()), Key(r"back\slash".into())]
        );
        assert_eq!(
            parse_path(r"a\").unwrap_err().to_string(),
            r#"Config error at key "a\": Parsing error: trailing backslash at pos 1"#
        );
        assert_eq!(
            parse_path(r"a\x").unwrap_err().to_string(),
            r#"Config error at key "a\x": Parsing error: invalid escape sequence '\x' at pos 1"#
        );
        assert_eq!(
            parse_path("a[x]").unwrap_err().to_string(),
            r#"Config error at key "a[x]": Parsing error: expected a numeric index, found 'x'"#
        );
    }

    #[test]
    fn set_and_get() {
        let mut n = y("rules_files: [/a.yaml]\nengine: {kind: kmod}\n");
        n.set("rules_files[]", Node::scalar("/b.yaml")).unwrap();
        n.set("engine.kind", Node::scalar("modern_ebpf")).unwrap();
        n.set("append_output[0].extra_output", Node::scalar("x"))
            .unwrap();
        assert_eq!(n.at("rules_files[1]").unwrap().as_str(), Some("/b.yaml"));
        assert_eq!(n.at("engine.kind").unwrap().as_str(), Some("modern_ebpf"));
        assert_eq!(
            n.at("append_output[0].extra_output").unwrap().as_str(),
            Some("x")
        );
        assert!(!n.at("nope.deeper").unwrap().is_defined());
        n.set("rules_files", Node::scalar("/c.yaml")).unwrap();
        assert_eq!(n.at("rules_files").unwrap().items().len(), 1);
    }

    #[test]
    fn support_flow() {
        let n = y("a: b\nlist: [x, 'y \"q\"']\nnone: ~\nmap: {k: 1}\n");
        assert_eq!(
            n.to_support_flow(),
            r#"{"a": "b", "list": ["x", "y \"q\""], "none": null, "map": {"k": "1"}}"#
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let e = Node::parse("a: [1, 2\nb: c").unwrap_err();
        assert!(e.line >= 1, "{e}");
    }
}
