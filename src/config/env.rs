//! `${VAR}` expansion of config values (`yaml_helper::pre_process_env_vars`): applied to every
//! scalar value of every config file when it is loaded; never to keys, `-o` values or rules.
//!
//! `${NAME}` becomes the variable's value (unset: nothing), and the scan resumes at the
//! replacement, so a value containing `${X}` is expanded too; `$${NAME}` becomes a literal
//! `${NAME}`; `$NAME` and `$$NAME` stay as they are; `${` with no later `}` ends the scan.

use super::yaml::Node;

/// Expands one string value.
pub fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut value = value.to_string();
    let mut start = value.find('$');
    while let Some(pos) = start {
        let rest = &value[pos..];
        let mut next_from = pos;
        if rest.starts_with("${") {
            let Some(end) = rest.find('}') else {
                break;
            };
            let name = rest[2..end].to_string();
            match env(&name) {
                Some(v) => value.replace_range(pos..pos + name.len() + 3, &v),
                None => value.replace_range(pos..pos + name.len() + 3, ""),
            }
        } else if rest.starts_with("$${") {
            if !rest.contains('}') {
                break;
            }
            value.remove(pos);
            next_from = pos + 1;
        } else {
            next_from = value.len();
        }
        start = value
            .get(next_from..)
            .and_then(|s| s.find('$'))
            .map(|i| i + next_from);
    }
    value
}

/// Expands every scalar value of a document in place.
pub fn expand_node(node: &mut Node, env: &dyn Fn(&str) -> Option<String>) {
    match node {
        Node::Scalar { text, .. } => {
            if text.contains('$') {
                *text = expand(text, env);
            }
        }
        Node::Seq(items) => items.iter_mut().for_each(|n| expand_node(n, env)),
        Node::Map(entries) => entries.iter_mut().for_each(|(_, n)| expand_node(n, env)),
        Node::Undefined | Node::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "NESTED" => Some("${HOME}/x".into()),
            "BOOL" => Some("true".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> String {
        expand(s, &env)
    }

    #[test]
    fn expansion_rules() {
        assert_eq!(x("${HOME}/.falco/falco-bpf.o"), "/root/.falco/falco-bpf.o");
        assert_eq!(x("a${UNSET}b"), "ab");
        assert_eq!(x("${HOME}:${HOME}"), "/root:/root");
        assert_eq!(x("${NESTED}"), "/root/x");
        assert_eq!(x("$${HOME}"), "${HOME}");
        assert_eq!(x("$$HOME"), "$$HOME");
        assert_eq!(x("$HOME"), "$HOME");
        assert_eq!(x("${HOME"), "${HOME");
        assert_eq!(x("pre ${HOME} ${"), "pre /root ${");
        assert_eq!(x("${BOOL}"), "true");
    }

    #[test]
    fn values_not_keys() {
        let mut n = Node::parse("${HOME}: '${HOME}'\nlist: [\"${BOOL}\"]\n").unwrap();
        expand_node(&mut n, &env);
        assert_eq!(n.get("${HOME}").and_then(Node::as_str), Some("/root"));
        assert_eq!(n.get("list").unwrap().items()[0].as_bool(), Some(true));
    }
}
