//! Field listings: `--list [SOURCE]` in text, markdown and JSON, `--list -N` (names only) and
//! `--list-plugins`, reproducing Falco 0.44.1's bytes (libsinsp `filter_fieldclass_info`
//! `as_string` / `as_markdown` / `as_json`, Falco's field and plugin formatters).
//!
//! Input is the catalog of [`super::registry`]; output is the text to print on stdout. Knows
//! nothing about the command line beyond the options it is given.

use std::fmt::Write as _;

use serde_json::{Map, Value as Json};
use thiserror::Error;

use super::registry::{self, FieldClass, FieldMeta};
use super::{ArgKind, FieldInfo};

/// The only event source falco-rs provides fields for.
pub const SYSCALL_SOURCE: &str = "syscall";

/// Column where descriptions start in text listings (`s_rightblock_start`).
const RIGHT_BLOCK_START: usize = 30;
/// Width of text listings (`s_width`).
const WIDTH: usize = 120;

/// The `--format` of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

/// What `--list` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `--list SOURCE`; `None` (or empty) lists every source.
    pub source: Option<String>,
    /// `-v`: prefix each description with its type.
    pub verbose: bool,
    /// `-N`: field names only.
    pub names_only: bool,
    pub format: ListFormat,
}

/// Errors of the listings.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ListingError {
    /// `--list` named a source no plugin or driver provides.
    #[error("Value for --list must be a valid source type")]
    UnknownSource { name: String },
}

/// Renders `--list` exactly as Falco prints it on stdout.
pub fn render_fields(opts: &ListOptions) -> Result<String, ListingError> {
    if let Some(source) = opts.source.as_deref().filter(|s| !s.is_empty())
        && source != SYSCALL_SOURCE
    {
        return Err(ListingError::UnknownSource {
            name: source.to_owned(),
        });
    }
    let sources = [SYSCALL_SOURCE];
    let mut out = String::new();
    if opts.names_only {
        let names = listed_fields_all().map(|(f, _)| f.name);
        if opts.format == ListFormat::Json {
            let list = names.map(|n| Json::String(n.to_owned())).collect();
            let mut root = Map::new();
            root.insert("fieldnames".into(), Json::Array(list));
            push_json(&mut out, &Json::Object(root));
        } else {
            for name in names {
                out.push_str(name);
                out.push('\n');
            }
        }
        return Ok(out);
    }
    match opts.format {
        ListFormat::Text => {
            for (index, class) in registry::classes().iter().enumerate() {
                class_as_text(&mut out, class, index, &sources, opts.verbose);
                out.push('\n');
            }
        }
        ListFormat::Markdown => {
            for (index, class) in registry::classes().iter().enumerate() {
                class_as_markdown(&mut out, class, index, &sources);
                out.push('\n');
            }
        }
        ListFormat::Json => {
            let classes = registry::classes()
                .iter()
                .enumerate()
                .map(|(index, class)| class_as_json(class, index, &sources))
                .collect();
            let mut root = Map::new();
            root.insert("fieldclasses".into(), Json::Array(classes));
            push_json(&mut out, &Json::Object(root));
        }
    }
    Ok(out)
}

/// Facts `--list-plugins` prints about one loaded plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub contact: &'static str,
    pub version: &'static str,
    /// Capability names as Falco prints them (`Field Extraction`, `Event Parsing`, ...).
    pub capabilities: &'static [&'static str],
}

/// The built-in container plugin, standing in for Falco 0.44.1's `libcontainer.so` 0.7.1.
pub const CONTAINER_PLUGIN: PluginInfo = PluginInfo {
    name: "container",
    description: "Falco container metadata enrichment Plugin",
    contact: "github.com/falcosecurity/plugins",
    version: "0.7.1",
    capabilities: &["Field Extraction", "Event Parsing"],
};

/// Renders `--list-plugins` for the plugins named by `load_plugins`.
pub fn render_plugins(plugins: &[PluginInfo]) -> String {
    let mut body = String::new();
    for p in plugins {
        let _ = writeln!(body, "Name: {}", p.name);
        let _ = writeln!(body, "Description: {}", p.description);
        let _ = writeln!(body, "Contact: {}", p.contact);
        let _ = writeln!(body, "Version: {}", p.version);
        body.push_str("Capabilities: \n");
        for cap in p.capabilities {
            let _ = writeln!(body, "  - {cap}");
        }
        body.push('\n');
    }
    format!("{} Plugins Loaded:\n\n{body}\n", plugins.len())
}

/// Fields `--list` shows: neither table-only nor deprecated (print-only ones are dropped too).
fn is_listed(meta: FieldMeta) -> bool {
    let f = meta.flags;
    !(f.table_only() || f.deprecated() || f.print_only())
}

fn listed_fields(index: usize) -> impl Iterator<Item = (&'static FieldInfo, FieldMeta)> {
    registry::class_fields(index).filter(|(_, m)| is_listed(*m))
}

fn listed_fields_all() -> impl Iterator<Item = (&'static FieldInfo, FieldMeta)> {
    (0..registry::classes().len()).flat_map(listed_fields)
}

/// The tags libsinsp shows in parentheses, sorted as its `std::set` keeps them.
fn tags(info: &FieldInfo, meta: FieldMeta) -> Vec<&'static str> {
    let flags = meta.flags;
    let mut tags = Vec::new();
    if flags.filter_only() {
        tags.push("FILTER_ONLY");
    }
    if flags.no_rhs() {
        tags.push("EPF_NO_RHS");
    }
    if flags.no_transformer() {
        tags.push("EPF_NO_TRANSFORMER");
    }
    if info.arg != ArgKind::None {
        tags.push(match info.arg {
            ArgKind::Required => "ARG_REQUIRED",
            _ => "ARG_ALLOWED",
        });
        if flags.0 & registry::FieldFlags::ARG_INDEX != 0 {
            tags.push("ARG_INDEX");
        }
        if flags.0 & registry::FieldFlags::ARG_KEY != 0 {
            tags.push("ARG_KEY");
        }
    }
    if info.is_list {
        tags.push("EPF_IS_LIST");
    }
    tags.sort_unstable();
    tags
}

/// `std::left << std::setw(30) << text`.
fn push_padded(out: &mut String, text: &str) {
    out.push_str(text);
    for _ in text.len()..RIGHT_BLOCK_START {
        out.push(' ');
    }
}

/// libsinsp `wrapstring`: words separated by whitespace, each followed by one space, wrapped
/// at 90 columns with continuation lines indented to the right block.
fn wrap(out: &mut String, text: &str) {
    let mut len = 0;
    for word in text.split([' ', '\t', '\n', '\x0b', '\x0c', '\r']) {
        if word.is_empty() {
            continue;
        }
        let word_len = word.len() + 1;
        if len + word_len <= WIDTH - RIGHT_BLOCK_START {
            len += word_len;
        } else {
            out.push('\n');
            push_padded(out, " ");
            len = word_len;
        }
        out.push_str(word);
        out.push(' ');
    }
}

fn class_as_text(
    out: &mut String,
    class: &FieldClass,
    index: usize,
    sources: &[&str],
    verbose: bool,
) {
    out.push_str("-------------------------------\n");
    push_padded(out, "Field Class:");
    out.push_str(class.name);
    if !class.shortdesc.is_empty() {
        let _ = write!(out, " ({})", class.shortdesc);
    }
    out.push('\n');
    if !class.desc.is_empty() {
        push_padded(out, "Description:");
        wrap(out, class.desc);
        out.push('\n');
    }
    if !sources.is_empty() {
        push_padded(out, "Event Sources:");
        for src in sources {
            out.push_str(src);
            out.push(' ');
        }
        out.push('\n');
    }
    out.push('\n');
    for (info, meta) in listed_fields(index) {
        if info.name.len() > RIGHT_BLOCK_START {
            out.push_str(info.name);
            out.push('\n');
            push_padded(out, " ");
        } else {
            push_padded(out, info.name);
        }
        let mut desc = String::new();
        if verbose {
            let _ = write!(desc, "(Type: {}) ", info.ftype.name());
        }
        let tags = tags(info, meta);
        if !tags.is_empty() {
            let _ = write!(desc, "({}) ", tags.join(","));
        }
        desc.push_str(info.desc);
        wrap(out, &desc);
        out.push('\n');
    }
}

fn class_as_markdown(out: &mut String, class: &FieldClass, index: usize, sources: &[&str]) {
    let _ = write!(out, "## Field Class: {}\n\n", class.name);
    if !class.desc.is_empty() {
        let _ = write!(out, "{}\n\n", class.desc);
    }
    if !sources.is_empty() {
        out.push_str("Event Sources: ");
        for src in sources {
            out.push_str(src);
            out.push(' ');
        }
        out.push_str("\n\n");
    }
    out.push_str("Name | Type | Description\n:----|:-----|:-----------\n");
    for (info, _) in listed_fields(index) {
        let ty = info.ftype.name();
        if info.is_list {
            let _ = writeln!(out, "`{}` | LIST({ty}) | {}", info.name, info.desc);
        } else {
            let _ = writeln!(out, "`{}` | {ty} | {}", info.name, info.desc);
        }
    }
}

/// One class as libsinsp's `as_json`, keys in the sorted order Falco's JSON re-dump gives.
fn class_as_json(class: &FieldClass, index: usize, sources: &[&str]) -> Json {
    let fields = listed_fields(index)
        .map(|(info, meta)| {
            let argument = if info.arg == ArgKind::None {
                Json::Null
            } else {
                let mut types = Vec::new();
                if meta.flags.0 & registry::FieldFlags::ARG_INDEX != 0 {
                    types.push(Json::from("INDEX"));
                }
                if meta.flags.0 & registry::FieldFlags::ARG_KEY != 0 {
                    types.push(Json::from("KEY"));
                }
                let mut arg = Map::new();
                arg.insert("required".into(), (info.arg == ArgKind::Required).into());
                arg.insert("type".into(), Json::Array(types));
                Json::Object(arg)
            };
            let mut field = Map::new();
            field.insert("argument".into(), argument);
            field.insert("desc".into(), info.desc.into());
            field.insert("is_list".into(), info.is_list.into());
            field.insert("name".into(), info.name.into());
            field.insert("type".into(), info.ftype.name().into());
            Json::Object(field)
        })
        .collect();
    let mut root = Map::new();
    if !class.desc.is_empty() {
        root.insert("desc".into(), class.desc.into());
    }
    if !sources.is_empty() {
        let list = sources.iter().map(|s| Json::from(*s)).collect();
        root.insert("event_sources".into(), Json::Array(list));
    }
    root.insert("fields".into(), Json::Array(fields));
    root.insert("name".into(), class.name.into());
    Json::Object(root)
}

/// nlohmann `dump(2)` followed by the newline of Falco's `printf("%s\n")`.
fn push_json(out: &mut String, value: &Json) {
    out.push_str(&serde_json::to_string_pretty(value).unwrap_or_default());
    out.push('\n');
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::test_support::shared_dir;

    fn golden(case: &str) -> String {
        let path = shared_dir()
            .join("conformance/goldens/cli")
            .join(case)
            .join("stdout");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn opts(format: ListFormat) -> ListOptions {
        ListOptions {
            format,
            ..ListOptions::default()
        }
    }

    #[track_caller]
    fn assert_same(ours: &str, theirs: &str) {
        if ours != theirs {
            let line = ours
                .lines()
                .zip(theirs.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(ours.lines().count().min(theirs.lines().count()));
            panic!(
                "first difference at line {}:\n ours: {:?}\n falco: {:?}",
                line + 1,
                ours.lines().nth(line),
                theirs.lines().nth(line)
            );
        }
    }

    #[test]
    fn list_text_matches_golden() {
        assert_same(
            &render_fields(&opts(ListFormat::Text)).unwrap(),
            &golden("list-text"),
        );
    }

    #[test]
    fn list_syscall_matches_golden() {
        let o = ListOptions {
            source: Some("syscall".into()),
            ..ListOptions::default()
        };
        assert_same(&render_fields(&o).unwrap(), &golden("list-syscall"));
    }

    #[test]
    fn list_names_matches_golden() {
        let o = ListOptions {
            names_only: true,
            ..ListOptions::default()
        };
        assert_same(&render_fields(&o).unwrap(), &golden("list-names"));
    }

    #[test]
    fn list_markdown_matches_golden() {
        assert_same(
            &render_fields(&opts(ListFormat::Markdown)).unwrap(),
            &golden("list-markdown"),
        );
    }

    #[test]
    fn list_json_matches_golden_bytes() {
        assert_same(
            &render_fields(&opts(ListFormat::Json)).unwrap(),
            &golden("list-json"),
        );
    }

    #[test]
    fn list_plugins_matches_golden() {
        assert_same(
            &render_plugins(&[CONTAINER_PLUGIN]),
            &golden("list-plugins"),
        );
    }

    #[test]
    fn unknown_source_is_falcos_error() {
        let o = ListOptions {
            source: Some("k8s_audit".into()),
            ..ListOptions::default()
        };
        let err = render_fields(&o).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Value for --list must be a valid source type"
        );
    }
}
