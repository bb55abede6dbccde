//! Falco's JSON schemas (`--config-schema`, `--rule-schema`) and the check Falco runs with them
//! on every loaded config file: draft-06, weak types (a YAML scalar satisfies `boolean`,
//! `integer` or `number` when it parses as one), first error only. The result is a status
//! string (`ok`, `failed for <context>: <description>`, `none`) that is only ever logged:
//! validation never fails startup.
//!
//! The schema texts live in `compat/schemas/` exactly as Falco 0.44.1 prints them (nlohmann
//! `dump(2)`: sorted keys, 2-space indent, no trailing newline). Only the keywords these two
//! schemas use are implemented: `$ref`, `type`, `properties`, `additionalProperties`,
//! `minProperties`, `required`, `items`, `anyOf`, `oneOf`, `enum`, `minimum`, `maximum`.

use serde_json::Value;

use super::yaml::{Node, parse_bool};

pub use super::schema_text::{CONFIG_SCHEMA, RULE_SCHEMA};

/// Status of a file that passed validation.
pub const VALIDATION_OK: &str = "ok";
/// Status prefix of a file that failed validation.
pub const VALIDATION_FAILED: &str = "failed";
/// Status of a file validated without a schema.
pub const VALIDATION_NONE: &str = "none";

/// A parsed schema.
#[derive(Debug, Clone)]
pub struct Schema {
    root: Value,
}

impl Schema {
    /// The config schema, plus falco-rs's own keys (`metrics.falco_events_enabled`) so that
    /// setting them is not reported as a schema failure. `--config-schema` still prints
    /// Falco's schema unchanged.
    pub fn config() -> Schema {
        let mut root: Value =
            serde_json::from_str(CONFIG_SCHEMA).expect("config schema is valid JSON");
        if let Some(props) = root
            .pointer_mut("/definitions/Metrics/properties")
            .and_then(Value::as_object_mut)
        {
            props.insert(
                "falco_events_enabled".to_string(),
                serde_json::json!({"type": "boolean"}),
            );
        }
        Schema { root }
    }

    /// The rules-file schema.
    pub fn rules() -> Schema {
        Schema {
            root: serde_json::from_str(RULE_SCHEMA).expect("rule schema is valid JSON"),
        }
    }

    /// Validates a document and returns Falco's status string.
    pub fn validate(&self, node: &Node) -> String {
        let mut ctx = vec!["<root>".to_string()];
        match self.check(&self.root, node, &mut ctx) {
            Ok(()) => VALIDATION_OK.to_string(),
            Err((context, description)) => {
                format!("{VALIDATION_FAILED} for {context}: {description}")
            }
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut cur = schema;
        for _ in 0..32 {
            let Some(r) = cur.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(path) = r.strip_prefix("#/") else {
                break;
            };
            let mut target = &self.root;
            for part in path.split('/') {
                match target.get(part) {
                    Some(t) => target = t,
                    None => return cur,
                }
            }
            cur = target;
        }
        cur
    }

    fn check(
        &self,
        schema: &Value,
        node: &Node,
        ctx: &mut Vec<String>,
    ) -> Result<(), (String, String)> {
        let schema = self.resolve(schema);
        let fail = |ctx: &Vec<String>, d: String| Err((ctx.concat(), d));

        if let Some(t) = schema.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|t| type_matches(t, node)) {
                return fail(
                    ctx,
                    "Value type not permitted by 'type' constraint.".to_string(),
                );
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let text = node.as_str();
            if !values
                .iter()
                .any(|v| v.as_str().is_some() && v.as_str() == text)
            {
                return fail(ctx, "Failed to match against any enum values.".to_string());
            }
        }
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && node.as_f64().is_some_and(|v| v < min)
        {
            return fail(
                ctx,
                format!("Expected number greater than or equal to {min}"),
            );
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && node.as_f64().is_some_and(|v| v > max)
        {
            return fail(ctx, format!("Expected number less than or equal to {max}"));
        }
        if let Some(alts) = schema.get("anyOf").and_then(Value::as_array)
            && !alts
                .iter()
                .any(|a| self.check(a, node, &mut ctx.clone()).is_ok())
        {
            return fail(
                ctx,
                "Failed to validate against any child schemas allowed by anyOf constraint."
                    .to_string(),
            );
        }
        if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
            let n = alts
                .iter()
                .filter(|a| self.check(a, node, &mut ctx.clone()).is_ok())
                .count();
            if n != 1 {
                return fail(
                    ctx,
                    "Failed to validate against exactly one child schema.".to_string(),
                );
            }
        }
        match node {
            Node::Map(entries) => {
                if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
                    && (entries.len() as u64) < min
                {
                    return fail(
                        ctx,
                        format!("Object should have at least {min} properties."),
                    );
                }
                if let Some(req) = schema.get("required").and_then(Value::as_array) {
                    for r in req.iter().filter_map(Value::as_str) {
                        if !entries.iter().any(|(k, _)| k == r) {
                            return fail(
                                ctx,
                                format!("Object is missing required property '{r}'."),
                            );
                        }
                    }
                }
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (key, value) in entries {
                    let sub = props.and_then(|p| p.get(key));
                    let sub = match (sub, additional) {
                        (Some(s), _) => Some(s),
                        (None, Some(Value::Bool(false))) => {
                            return fail(
                                ctx,
                                format!(
                                    "Object contains a property that could not be validated using 'properties' or 'additionalProperties' constraints: '{key}'."
                                ),
                            );
                        }
                        (None, Some(a @ Value::Object(_))) => Some(a),
                        (None, _) => None,
                    };
                    if let Some(sub) = sub {
                        ctx.push(format!("[{key}]"));
                        self.check(sub, value, ctx)?;
                        ctx.pop();
                    }
                }
            }
            Node::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        ctx.push(format!("[{i}]"));
                        self.check(item_schema, item, ctx)?;
                        ctx.pop();
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn type_matches(t: &str, node: &Node) -> bool {
    match (t, node) {
        ("object", Node::Map(_)) => true,
        ("array", Node::Seq(_)) => true,
        ("null", Node::Null) => true,
        ("string", Node::Scalar { .. }) => true,
        ("boolean", Node::Scalar { text, .. }) => parse_bool(text).is_some(),
        ("integer", n @ Node::Scalar { .. }) => n.as_i64().is_some(),
        ("number", n @ Node::Scalar { .. }) => n.as_f64().is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(yaml: &str) -> String {
        Schema::config().validate(&Node::parse(yaml).unwrap())
    }

    #[test]
    fn default_config_is_ok() {
        let path = crate::test_support::shared_dir().join("upstream/falco-0.44.1/falco.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(status(&text), "ok");
    }

    #[test]
    fn unknown_and_mistyped_keys_fail() {
        assert!(status("grpc: {enabled: true}\n").starts_with("failed for "));
        assert!(status("engine: {kind: modern_ebpf, ebpf: {probe: x}}\n").starts_with("failed"));
        assert!(status("json_output: maybe\n").starts_with("failed"));
        assert!(status("outputs: {rate: 1}\n").starts_with("failed"));
        assert_eq!(
            status("json_output: 'true'\nwebserver: {listen_port: '8765'}\n"),
            "ok"
        );
        assert_eq!(status("load_plugins: [container]\n"), "ok");
        assert_eq!(status("time_format_iso_8601: true\n"), "ok");
        assert!(status("engine: {}\n").starts_with("failed"));
        assert_eq!(status("metrics: {falco_events_enabled: false}\n"), "ok");
    }

    #[test]
    fn schemas_are_falcos_bytes() {
        assert!(!CONFIG_SCHEMA.ends_with('\n'));
        let golden =
            crate::test_support::shared_dir().join("conformance/goldens/cli/config-schema/stdout");
        assert_eq!(std::fs::read_to_string(golden).unwrap(), CONFIG_SCHEMA);
        let golden =
            crate::test_support::shared_dir().join("conformance/goldens/cli/rule-schema/stdout");
        assert_eq!(std::fs::read_to_string(golden).unwrap(), RULE_SCHEMA);
    }
}
