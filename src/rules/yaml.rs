//! Thin helpers over saphyr's span-carrying nodes, with yaml-cpp's view of them: scalars keep
//! their literal text (no early typing), null is `~`/`null`/empty plain, marks are 0-based.

use saphyr::{MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::{Parser, ScanError};

use super::result::Mark;

pub(crate) type Node<'a> = MarkedYaml<'a>;

/// Parses every document of `content`, keeping scalars as text.
pub(crate) fn load_all(content: &str) -> Result<Vec<Node<'_>>, ScanError> {
    let mut parser = Parser::new_from_str(content);
    let mut loader: YamlLoader<'_, Node<'_>> = YamlLoader::default();
    loader.early_parse(false);
    loader.allow_duplicate_keys(true);
    parser.load(&mut loader, true)?;
    if let Some(e) = loader.error() {
        return Err(e.clone());
    }
    Ok(loader.into_documents())
}

/// saphyr rejects a flow collection closed at the parent's indentation right after a quoted
/// scalar (`items: [\n "a"\n  ]`), which yaml-cpp accepts and the upstream sandbox rules use.
/// Returns the text with one blank inserted before each such closing bracket, and the character
/// positions (in the returned text) of the inserted blanks, so marks can be mapped back.
pub(crate) fn tolerate_flow_indentation(content: &str) -> (String, Vec<usize>) {
    let mut text = content.to_string();
    let mut inserted: Vec<usize> = Vec::new();
    for _ in 0..10_000 {
        let Err(e) = load_all(&text) else { break };
        if e.info() != "invalid indentation" {
            break;
        }
        let idx = e.marker().index();
        let Some((byte, c)) = text.char_indices().nth(idx) else {
            break;
        };
        if c != ']' && c != '}' {
            break;
        }
        text.insert(byte, ' ');
        inserted.push(idx);
    }
    (text, inserted)
}

/// The first document as `config::Node::parse` builds it from the same text (undefined when
/// there is none), so the schema check needs no second parse of a rules file.
pub(crate) fn config_node(docs: &[Node<'_>]) -> crate::config::Node {
    docs.first()
        .map_or(crate::config::Node::Undefined, to_config_node)
}

fn to_config_node(n: &Node<'_>) -> crate::config::Node {
    use crate::config::Node as C;
    match &n.data {
        YamlData::Representation(text, style, _) => {
            let plain = *style == ScalarStyle::Plain;
            if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                C::Null
            } else {
                C::Scalar {
                    text: text.to_string(),
                    plain,
                }
            }
        }
        YamlData::Value(v) => match v {
            saphyr::Scalar::Null => C::Null,
            saphyr::Scalar::Boolean(b) => C::scalar(b.to_string()),
            saphyr::Scalar::Integer(i) => C::scalar(i.to_string()),
            saphyr::Scalar::FloatingPoint(f) => C::scalar(f.to_string()),
            saphyr::Scalar::String(s) => C::scalar(s.to_string()),
        },
        YamlData::Sequence(seq) => C::Seq(seq.iter().map(to_config_node).collect()),
        YamlData::Mapping(map) => C::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = match to_config_node(k) {
                        C::Scalar { text, .. } => text,
                        C::Null => String::new(),
                        other => other.to_flow(),
                    };
                    (key, to_config_node(v))
                })
                .collect(),
        ),
        YamlData::Tagged(_, inner) => to_config_node(inner),
        YamlData::Alias(_) | YamlData::BadValue => C::Null,
    }
}

/// The one-pass form of [`tolerate_flow_indentation`]: inserts one blank before every closing
/// bracket that starts a line (after blanks). In a flow collection and in a plain, quoted or
/// comment line that blank changes nothing, so the caller keeps this text when it parses and
/// [`pads_in_block_scalar`] finds no blank inside a literal or folded scalar.
pub(crate) fn pad_flow_closers(content: &str) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(content.len() + 64);
    let mut inserted = Vec::new();
    let mut chars = 0;
    for line in content.split_inclusive('\n') {
        let body = line.trim_start_matches(' ');
        if body.starts_with(']') || body.starts_with('}') {
            let blanks = line.len() - body.len();
            text.push_str(&line[..blanks]);
            inserted.push(chars + blanks);
            text.push(' ');
            text.push_str(body);
            chars += 1;
        } else {
            text.push_str(line);
        }
        chars += if line.is_ascii() {
            line.len()
        } else {
            line.chars().count()
        };
    }
    (text, inserted)
}

/// Whether a literal or folded scalar of `docs` spans one of the `inserted` positions (then the
/// blanks of [`pad_flow_closers`] changed its text).
pub(crate) fn pads_in_block_scalar(docs: &[Node<'_>], inserted: &[usize]) -> bool {
    fn walk(n: &Node<'_>, inserted: &[usize]) -> bool {
        match &n.data {
            YamlData::Representation(_, ScalarStyle::Literal | ScalarStyle::Folded, _) => {
                let (start, end) = (n.span.start.index(), n.span.end.index());
                // an unknown end: assume the scalar runs to the end of the text
                let end = if end > start { end } else { usize::MAX };
                inserted.iter().any(|&p| p >= start && p < end)
            }
            YamlData::Sequence(s) => s.iter().any(|c| walk(c, inserted)),
            YamlData::Mapping(m) => m
                .iter()
                .any(|(k, v)| walk(k, inserted) || walk(v, inserted)),
            YamlData::Tagged(_, inner) => walk(inner, inserted),
            _ => false,
        }
    }
    !inserted.is_empty() && docs.iter().any(|d| walk(d, inserted))
}

/// Converts saphyr marks (character index in the parsed text) into yaml-cpp marks of the
/// original text (byte offset, 0-based line and column).
pub(crate) struct Marks<'a> {
    content: &'a str,
    ascii: bool,
    inserted: Vec<usize>,
    line_starts: Vec<usize>,
}

impl<'a> Marks<'a> {
    pub(crate) fn new(content: &'a str, inserted: Vec<usize>) -> Marks<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(
            content
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Marks {
            content,
            ascii: content.is_ascii(),
            inserted,
            line_starts,
        }
    }

    pub(crate) fn of(&self, m: &saphyr::Marker) -> Mark {
        let idx = m.index() - self.inserted.iter().filter(|&&p| p < m.index()).count();
        let offset = if self.ascii {
            idx.min(self.content.len())
        } else {
            self.content
                .char_indices()
                .nth(idx)
                .map_or(self.content.len(), |(i, _)| i)
        };
        let line = self
            .line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let column = self.content[self.line_starts[line]..offset].chars().count();
        Mark {
            offset: offset as u64,
            line: line as u64,
            column: column as u64,
        }
    }

    pub(crate) fn node(&self, n: &Node<'_>) -> Mark {
        self.of(&n.span.start)
    }
}

/// yaml-cpp's wording for the scanner errors saphyr reports in its own words.
pub(crate) fn yaml_cpp_message(saphyr: &str) -> &str {
    match saphyr {
        "mapping values are not allowed in this context" => "illegal map value",
        "did not find expected key" => "end of map not found",
        "block sequence entries are not allowed in this context" => "illegal block entry",
        "while parsing a flow sequence, expected ',' or ']'" => "end of sequence flow not found",
        "while parsing a flow mapping, did not find expected ',' or '}'" => {
            "end of map flow not found"
        }
        "while scanning a quoted scalar, found unexpected end of stream" => "illegal EOF in scalar",
        "found character that cannot start any token" => "unknown token",
        "invalid indentation" => "end of map not found",
        other => other,
    }
}

fn strip_tag<'n, 'a>(n: &'n Node<'a>) -> &'n Node<'a> {
    match &n.data {
        YamlData::Tagged(_, inner) => strip_tag(inner),
        _ => n,
    }
}

/// yaml-cpp `IsNull`.
pub(crate) fn is_null(n: &Node<'_>) -> bool {
    match &strip_tag(n).data {
        YamlData::Representation(v, ScalarStyle::Plain, _) => {
            matches!(v.as_ref(), "" | "~" | "null" | "Null" | "NULL")
        }
        YamlData::Value(saphyr::Scalar::Null) => true,
        _ => false,
    }
}

/// The literal text of a scalar (also of a null plain scalar), or None if not a scalar.
pub(crate) fn scalar<'n>(n: &'n Node<'_>) -> Option<&'n str> {
    match &strip_tag(n).data {
        YamlData::Representation(v, _, _) => Some(v.as_ref()),
        _ => None,
    }
}

pub(crate) fn sequence<'n, 'a>(n: &'n Node<'a>) -> Option<&'n [Node<'a>]> {
    match &strip_tag(n).data {
        YamlData::Sequence(s) => Some(s.as_slice()),
        _ => None,
    }
}

pub(crate) fn is_map(n: &Node<'_>) -> bool {
    matches!(strip_tag(n).data, YamlData::Mapping(_))
}

/// Mapping entries in document order.
pub(crate) fn entries<'n, 'a>(n: &'n Node<'a>) -> Vec<(&'n Node<'a>, &'n Node<'a>)> {
    match &strip_tag(n).data {
        YamlData::Mapping(m) => m.iter().collect(),
        _ => Vec::new(),
    }
}

/// yaml-cpp `node[key]` on a mapping (None when undefined).
pub(crate) fn get<'n, 'a>(n: &'n Node<'a>, key: &str) -> Option<&'n Node<'a>> {
    match &strip_tag(n).data {
        YamlData::Mapping(m) => m
            .iter()
            .find(|(k, _)| scalar(k) == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A mapping key as text (yaml-cpp `as<std::string>`); non-scalar keys give "".
pub(crate) fn key_text(k: &Node<'_>) -> String {
    scalar(k).unwrap_or_default().to_string()
}

/// yaml-cpp `convert<bool>::decode`.
pub(crate) fn decode_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["y", "yes", "true", "on"];
    const FALSE: [&str; 4] = ["n", "no", "false", "off"];
    let flexible = |w: &str| -> bool {
        let lower = w.to_string();
        let upper = w.to_uppercase();
        let mut cap = w.to_string();
        cap[..1].make_ascii_uppercase();
        s == lower || s == upper || s == cap
    };
    if TRUE.iter().any(|w| flexible(w)) {
        Some(true)
    } else if FALSE.iter().any(|w| flexible(w)) {
        Some(false)
    } else {
        None
    }
}

/// yaml-cpp `convert<uint32_t>::decode` (decimal, `0x` hex, `0o` octal; no sign).
pub(crate) fn decode_u32(s: &str) -> Option<u32> {
    if s.starts_with('-') || s.is_empty() {
        return None;
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if let Some(h) = s.strip_prefix("0x") {
        return u32::from_str_radix(h, 16).ok();
    }
    if let Some(o) = s.strip_prefix("0o") {
        return u32::from_str_radix(o, 8).ok();
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
