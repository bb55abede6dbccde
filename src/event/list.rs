//! The `--list-events` (text and `--format json`) and `-i` (ignored syscalls) listings, rendered
//! from the event table exactly as Falco 0.44.1 prints them. Pure functions returning the text;
//! the CLI prints it.

use serde_json::{Map, Value};

use super::table::{
    self, Direction, EventInfo, GENERIC_SYSCALL_NAMES, LIST_EVENTS_SCHEMA_VERSION, PPME_GENERIC_E,
    PPME_GENERIC_X, ParamInfo,
};

/// Syscalls Falco ignores by default (`falco::app::ignored_sc_set`), in the order `-i` lists
/// them (the iteration order recorded in the golden).
pub const IGNORED_SYSCALLS: &[&str] = &[
    "sendfile", "preadv", "readv", "pread", "recv", "send", "pwritev", "writev", "write", "pwrite",
    "read",
];

/// Text of `falco -i`.
pub fn format_ignored_events() -> String {
    let mut out = String::from("Ignored syscall(s):\n");
    for name in IGNORED_SYSCALLS {
        out.push_str("- ");
        out.push_str(name);
        out.push('\n');
    }
    out.push('\n');
    out
}

struct Entry {
    name: &'static str,
    info: &'static EventInfo,
    available: bool,
}

/// The four categories in the order Falco prints them.
const CATEGORIES: [&str; 4] = [
    "Syscall events",
    "Tracepoint events",
    "Plugin events",
    "Metaevents",
];

fn entries_by_category() -> [Vec<Entry>; 4] {
    let mut cats: [Vec<Entry>; 4] = Default::default();
    let mut add = |info: &'static EventInfo, name: &'static str| {
        let available = !IGNORED_SYSCALLS.contains(&name) || info.code <= PPME_GENERIC_X;
        let entry = Entry {
            name,
            info,
            available,
        };
        if info.is_syscall() {
            cats[0].push(entry);
        } else if info.is_tracepoint() {
            cats[1].push(entry);
        } else if info.is_plugin() {
            cats[2].push(entry);
        } else if info.is_metaevent() {
            cats[3].push(entry);
        }
    };
    for info in table::all() {
        let generic = info.code == PPME_GENERIC_E || info.code == PPME_GENERIC_X;
        if !generic && !info.is_old_version() && !info.is_unused() && !info.is_unknown() {
            add(info, info.name);
        }
    }
    for name in GENERIC_SYSCALL_NAMES {
        add(&table::all()[usize::from(PPME_GENERIC_E)], name);
        add(&table::all()[usize::from(PPME_GENERIC_X)], name);
    }
    cats
}

fn dir_char(info: &EventInfo) -> char {
    match info.direction() {
        Direction::Enter => '>',
        Direction::Exit => '<',
    }
}

fn flag_names(p: &ParamInfo) -> Option<impl Iterator<Item = &'static str>> {
    if !p.ptype.is_flags() {
        return None;
    }
    p.flags().map(|t| t.iter().map(|&(name, _)| name))
}

/// Text of `falco --list-events`.
pub fn format_list_events_text() -> String {
    let mut out = format!(
        "The events below are valid for Falco *Schema Version*: {LIST_EVENTS_SCHEMA_VERSION}\n"
    );
    for (title, entries) in CATEGORIES.iter().zip(entries_by_category()) {
        out.push_str("## ");
        out.push_str(title);
        out.push_str("\n\n");
        for e in entries {
            out.push(dir_char(e.info));
            out.push(' ');
            out.push_str(e.name);
            out.push('(');
            for (k, p) in e.info.params.iter().enumerate() {
                if k != 0 {
                    out.push_str(", ");
                }
                out.push_str(p.ptype.as_str());
                out.push_str(" **");
                out.push_str(p.name);
                out.push_str("**");
                if let Some(names) = flag_names(p) {
                    out.push_str(": ");
                    for (i, n) in names.enumerate() {
                        if i != 0 {
                            out.push_str(", ");
                        }
                        out.push_str(n);
                    }
                }
            }
            out.push_str(")\n");
        }
        out.push('\n');
    }
    out
}

/// Text of `falco --list-events --format markdown` (Falco's `MarkdownFormatter`: one table per
/// category, availability as `Yes`/`No`, flag names in italics).
pub fn format_list_events_markdown() -> String {
    let mut out = format!(
        "The events below are valid for Falco *Schema Version*: {LIST_EVENTS_SCHEMA_VERSION}\n"
    );
    for (title, entries) in CATEGORIES.iter().zip(entries_by_category()) {
        out.push_str(&format!("## {title}\n\n"));
        out.push_str("Default | Dir | Name | Params \n");
        out.push_str(":-------|:----|:-----|:-----\n");
        for e in entries {
            out.push_str(if e.available { "Yes" } else { "No" });
            out.push_str(&format!(" | `{}` | `{}` | ", dir_char(e.info), e.name));
            for (k, p) in e.info.params.iter().enumerate() {
                if k != 0 {
                    out.push_str(", ");
                }
                out.push_str(&format!("{} **{}**", p.ptype.as_str(), p.name));
                if let Some(names) = flag_names(p) {
                    out.push_str(": ");
                    let names: Vec<String> = names.map(|n| format!("*{n}*")).collect();
                    out.push_str(&names.join(", "));
                }
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Text of `falco --list-events --format json` (nlohmann's `dump(2)`: keys sorted, two-space
/// indent), with its trailing newline.
pub fn format_list_events_json() -> String {
    // Keys are inserted in sorted order: serde_json keeps insertion order here.
    let mut root = Map::new();
    let cats = entries_by_category();
    let mut by_title: Vec<(&str, Vec<Entry>)> = CATEGORIES.iter().copied().zip(cats).collect();
    by_title.sort_by_key(|(t, _)| *t);
    for (title, entries) in by_title {
        let list = entries.iter().map(event_json).collect();
        root.insert(title.to_string(), Value::Array(list));
    }
    root.insert(
        "schema_version".into(),
        Value::String(LIST_EVENTS_SCHEMA_VERSION.into()),
    );
    let mut out = serde_json::to_string_pretty(&Value::Object(root)).expect("json");
    out.push('\n');
    out
}

fn event_json(e: &Entry) -> Value {
    let mut ev = Map::new();
    ev.insert("available".into(), Value::Bool(e.available));
    ev.insert("dir".into(), Value::String(dir_char(e.info).to_string()));
    ev.insert("name".into(), Value::String(e.name.into()));
    let params = e
        .info
        .params
        .iter()
        .map(|p| {
            let mut param = Map::new();
            if let Some(names) = flag_names(p) {
                param.insert(
                    "flags".into(),
                    Value::Array(names.map(|n| Value::String(n.into())).collect()),
                );
            }
            param.insert("name".into(), Value::String(p.name.into()));
            param.insert("type".into(), Value::String(p.ptype.as_str().into()));
            Value::Object(param)
        })
        .collect();
    ev.insert("params".into(), Value::Array(params));
    Value::Object(ev)
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

    fn assert_same(ours: &str, theirs: &str) {
        for (n, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
            assert_eq!(a, b, "first difference at line {}", n + 1);
        }
        assert_eq!(ours.lines().count(), theirs.lines().count(), "line count");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn list_events_text_matches_golden() {
        assert_same(&format_list_events_text(), &golden("list-events"));
    }

    #[test]
    fn list_events_json_matches_golden() {
        let ours = format_list_events_json();
        let theirs = golden("list-events-json");
        let a: Value = serde_json::from_str(&ours).unwrap();
        let b: Value = serde_json::from_str(&theirs).unwrap();
        assert_eq!(a, b);
        assert_same(&ours, &theirs);
    }

    #[test]
    fn list_events_markdown_has_the_golden_rows() {
        // No markdown golden: every row of the text golden must appear, reformatted.
        let md = format_list_events_markdown();
        let rows: Vec<&str> = md.lines().filter(|l| l.contains(" | `")).collect();
        let text = golden("list-events");
        let events: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("> ") || l.starts_with("< "))
            .collect();
        assert_eq!(rows.len(), events.len());
        for (row, ev) in rows.iter().zip(&events) {
            let (dir, rest) = ev.split_at(1);
            let name = rest[1..].split('(').next().unwrap();
            assert!(
                row.contains(&format!(" | `{dir}` | `{name}` | ")),
                "{row} vs {ev}"
            );
        }
        assert!(md.contains("Default | Dir | Name | Params \n:-------|:----|:-----|:-----\n"));
    }

    #[test]
    fn ignored_events_match_golden() {
        assert_eq!(format_ignored_events(), golden("i"));
    }
}
