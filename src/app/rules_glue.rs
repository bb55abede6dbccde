//! The seam between the lifecycle and the stages other modules own: rules loading, `-V`,
//! `-L`/`-l` (`crate::rules`), the field, event and plugin listings (`crate::fields`,
//! `crate::event`), and what the event loops receive from the lifecycle ([`LoopContext`]).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::log::Logger;
use super::{AppError, Controls, Emitter};
use crate::cli::{Options, OutputFormat};
use crate::config::{Config, RuleSelection};

/// Name of the built-in container plugin.
pub const CONTAINER_PLUGIN_NAME: &str = "container";
/// Version the built-in container plugin reports (the one Falco 0.44.1 ships).
pub const CONTAINER_PLUGIN_VERSION: &str = "0.7.1";

/// `-i`.
pub fn ignored_events() -> Result<String, AppError> {
    Ok(crate::event::list::format_ignored_events())
}

/// `--list-events` (markdown falls back to text, as Falco has no markdown event list).
pub fn list_events(format: OutputFormat) -> Result<String, AppError> {
    Ok(match format {
        OutputFormat::Json => crate::event::list::format_list_events_json(),
        OutputFormat::Text | OutputFormat::Markdown => {
            crate::event::list::format_list_events_text()
        }
    })
}

/// `--list-plugins`, for the plugins selected by `load_plugins`.
pub fn list_plugins(names: &[String]) -> Result<String, AppError> {
    use crate::fields::listing::{CONTAINER_PLUGIN, render_plugins};
    let plugins: Vec<_> = names
        .iter()
        .filter(|n| n.as_str() == CONTAINER_PLUGIN_NAME)
        .map(|_| CONTAINER_PLUGIN)
        .collect();
    Ok(render_plugins(&plugins))
}

/// The container plugin's init config schema as its `get_init_schema` returns it
/// (plugins/container v0.7.1 `plugin_config_schema.h`: the JSON stringised by the
/// preprocessor, so every run of white space between tokens is one space).
const CONTAINER_PLUGIN_INIT_SCHEMA: &str = r##"{ "$schema": "http://json-schema.org/draft-04/schema#", "required": [], "properties": { "label_max_len": { "type": "integer", "title": "Max label length", "description": "Labels exceeding this limit won't be reported." }, "with_size": { "type": "boolean", "title": "Inspect containers with size", "description": "Inspect containers size where supported." }, "hooks": { "type": "array", "items": { "enum": [ "create", "start" ] }, "title": "Hooks to be attached.", "description": "Hooks to be attached from the engines SDKs. Some fields are not available in 'create' hook. By default, we only attach 'create' that is guaranteed to be notified before first process starts." }, "log_level": { "type": "string", "enum": [ "trace", "debug", "info", "warn", "error" ], "title": "Log level", "description": "Log level for the go-worker. Valid values: trace, debug, info, warn, error. Defaults to 'warn'." }, "engines": { "$ref": "#/definitions/Engines", "title": "The plugin per-engine configuration", "description": "Allows to disable/enable each engine and customize sockets where available." } }, "definitions": { "Engines": { "type": "object", "additionalProperties": false, "properties": { "docker": { "$ref": "#/definitions/SocketsContainer" }, "podman": { "$ref": "#/definitions/SocketsContainer" }, "containerd": { "$ref": "#/definitions/SocketsContainer" }, "cri": { "$ref": "#/definitions/SocketsContainer" }, "lxc": { "$ref": "#/definitions/SimpleContainer" }, "libvirt_lxc": { "$ref": "#/definitions/SimpleContainer" }, "bpm": { "$ref": "#/definitions/SimpleContainer" }, "static": { "$ref": "#/definitions/StaticContainer" } }, "required": [ "bpm", "containerd", "cri", "docker", "libvirt_lxc", "lxc", "podman" ], "title": "Engines" }, "nonEmptyString": { "type": "string", "minLength": 1 }, "SimpleContainer": { "type": "object", "additionalProperties": false, "properties": { "enabled": { "type": "boolean" } }, "required": [ "enabled" ], "title": "SimpleContainer" }, "SocketsContainer": { "type": "object", "additionalProperties": false, "properties": { "enabled": { "type": "boolean" }, "sockets": { "type": "array", "items": { "type": "string" } } }, "required": [ "enabled" ], "oneOf": [ { "properties": { "enabled": { "enum": [true] } }, "required": ["enabled", "sockets"] }, { "properties": { "enabled": { "enum": [false] } } } ], "title": "SocketsContainer" }, "StaticContainer": { "type": "object", "additionalProperties": false, "properties": { "enabled": { "type": "boolean" }, "container_id": { "$ref": "#/definitions/nonEmptyString" }, "container_name": { "$ref": "#/definitions/nonEmptyString" }, "container_image": { "$ref": "#/definitions/nonEmptyString" } }, "required": [ "enabled" ], "oneOf": [ { "properties": { "enabled": { "enum": [true] } }, "required": ["enabled", "container_id", "container_name", "container_image"] }, { "properties": { "enabled": { "enum": [false] } } } ], "title": "StaticContainer" } }, "additionalProperties": false, "type": "object" }"##;

/// `--plugin-info` for a `plugins` entry Falco would load: its descriptive info, then its
/// init config schema; the container plugin has no event sourcing, so no open params.
pub fn plugin_info(plugin: &crate::config::PluginConfig) -> Result<String, AppError> {
    use crate::fields::listing::CONTAINER_PLUGIN;
    if plugin.name != CONTAINER_PLUGIN_NAME || !plugin.library_path.ends_with("/libcontainer.so") {
        return Err(AppError::Runtime(format!(
            "cannot load plugin '{}' from {}: falco-rs provides only the built-in 'container' plugin (libcontainer.so)",
            plugin.name, plugin.library_path
        )));
    }
    let p = CONTAINER_PLUGIN;
    let mut out = format!(
        "Name: {}\nDescription: {}\nContact: {}\nVersion: {}\nCapabilities: \n",
        p.name, p.description, p.contact, p.version
    );
    for cap in p.capabilities {
        out.push_str(&format!("  - {cap}\n"));
    }
    out.push('\n');
    out.push_str("Init config schema type: JSON\n");
    out.push_str(CONTAINER_PLUGIN_INIT_SCHEMA);
    out.push_str("\n\n");
    Ok(out)
}

/// `--list[=SOURCE]`.
pub fn list_fields(
    source: &str,
    format: OutputFormat,
    names_only: bool,
    verbose: bool,
) -> Result<String, AppError> {
    use crate::fields::listing::{ListFormat, ListOptions, render_fields};
    let opts = ListOptions {
        source: (!source.is_empty()).then(|| source.to_string()),
        verbose,
        names_only,
        format: match format {
            OutputFormat::Text => ListFormat::Text,
            OutputFormat::Markdown => ListFormat::Markdown,
            OutputFormat::Json => ListFormat::Json,
        },
    };
    render_fields(&opts).map_err(|e| AppError::Fatal(e.to_string()))
}

/// The `static.<key>` fields of `static_fields` (libsinsp's `sinsp_filter_check_static`:
/// CHARBUF, no description, the configured value carried in `desc`). Each load leaks these few
/// bytes once (and each worker's extra fields once more): compiled rules refer to fields by
/// `&'static` name.
pub(crate) fn static_field_infos(
    fields: &std::collections::BTreeMap<String, String>,
) -> Vec<&'static crate::fields::FieldInfo> {
    use crate::fields::{ArgKind, ArgType, FieldInfo, FieldType};
    fields
        .iter()
        .map(|(key, value)| {
            let info = FieldInfo {
                name: Box::leak(format!("static.{key}").into_boxed_str()),
                class: crate::engine::filter::STATIC_CLASS,
                ftype: FieldType::Charbuf,
                arg: ArgKind::None,
                arg_type: ArgType::Key,
                is_list: false,
                hidden: true,
                desc: Box::leak(value.clone().into_boxed_str()),
            };
            &*Box::leak(Box::new(info))
        })
        .collect()
}

/// The rules loader options this configuration implies.
fn load_options(
    cfg: &Config,
    plugins: &[(String, String)],
    opts: &Options,
) -> crate::rules::LoadOptions {
    use crate::engine::ruleset::Selector;
    use crate::rules::{ExtraOutput, LoadOptions, PluginVersion};
    let container = plugins.iter().any(|(n, _)| n == CONTAINER_PLUGIN_NAME);
    let mut extra_outputs = Vec::new();
    for a in &cfg.append_output {
        let base = ExtraOutput {
            source: a.match_source.clone(),
            tags: a.match_tags.iter().cloned().collect(),
            rule: a.match_rule.clone(),
            format: String::new(),
        };
        if !a.extra_output.is_empty() {
            extra_outputs.push(ExtraOutput {
                format: a.extra_output.clone(),
                ..base.clone()
            });
        }
        // Suggested fields, in filtercheck order: the static fields (every source), then the
        // container plugin's (syscall only). falco-rs loads the syscall source only.
        if a.suggested_output && (a.match_source.is_empty() || a.match_source == "syscall") {
            let mut suggested: Vec<String> = cfg
                .static_fields
                .keys()
                .map(|k| format!("static_{}=%static.{k}", k.replace('.', "_")))
                .collect();
            if container {
                suggested.push(ExtraOutput::container_suggested().format);
            }
            if !suggested.is_empty() {
                extra_outputs.push(ExtraOutput {
                    source: "syscall".to_string(),
                    format: suggested.join(" "),
                    ..base
                });
            }
        }
    }
    // Deprecated `-p FORMAT`: appended to every rule of every source (`-pc`/`-pk` are no-ops).
    if !opts.print_additional.is_empty() && !opts.print_additional_is_noop() {
        extra_outputs.push(ExtraOutput {
            format: opts.print_additional.clone(),
            ..ExtraOutput::default()
        });
    }
    LoadOptions {
        loaded_plugins: plugins
            .iter()
            .map(|(name, version)| PluginVersion {
                name: name.clone(),
                version: version.clone(),
            })
            .collect(),
        extra_outputs,
        min_priority: cfg.min_priority,
        static_fields: static_field_infos(&cfg.static_fields),
        selection: cfg
            .rules_selection
            .iter()
            .map(|s| match s {
                RuleSelection::EnableRule(r) => Selector::EnableRule(r.clone()),
                RuleSelection::DisableRule(r) => Selector::DisableRule(r.clone()),
                RuleSelection::EnableTag(t) => Selector::EnableTag(t.clone()),
                RuleSelection::DisableTag(t) => Selector::DisableTag(t.clone()),
            })
            .collect(),
        ..LoadOptions::default()
    }
}

/// `-L` / `-l RULE` output for the loaded rules (text, or one JSON line).
fn describe(
    loader: &crate::rules::RulesLoader,
    opts: &Options,
    json: bool,
) -> Result<String, AppError> {
    let one = !opts.describe_rule.is_empty();
    match (json, one) {
        (false, false) => Ok(loader.describe_rules_text()),
        (false, true) => loader
            .describe_rule_text(&opts.describe_rule)
            .map_err(AppError::Fatal),
        (true, false) => Ok(loader.describe_rules_json()),
        (true, true) => loader
            .describe_rule_json(&opts.describe_rule)
            .map_err(AppError::Fatal),
    }
}

/// Sets a result's rules-schema status, computed on our YAML tree. saphyr is stricter than
/// yaml-cpp on a few indentation forms the upstream files use; where it cannot read a file
/// the rules loader read, the file is reported `ok` as the loader saw it.
fn schema_status(
    schema: &crate::config::Schema,
    text: &str,
    result: &mut crate::rules::LoadResult,
) -> String {
    let parsed = match result.schema_doc.take() {
        Some(doc) => Ok(doc),
        None => crate::config::Node::parse(text),
    };
    let status = match parsed {
        Ok(doc) => schema.validate(&doc),
        Err(_) if result.successful() => crate::config::schema::VALIDATION_OK.to_string(),
        Err(e) => format!("failed for <root>: {e}"),
    };
    result.set_schema_status(vec![status.clone()]);
    status
}

/// `-V`: what to print on stdout, and the error summary when a file is invalid.
pub fn validate(
    contents: &[(String, String)],
    cfg: &Config,
    plugins: &[(String, String)],
    opts: &Options,
    log: &Logger,
) -> Result<(String, Option<String>), AppError> {
    use crate::rules::{RulesLoader, render_validate_json, render_validate_text};
    let schema = crate::config::Schema::rules();
    let mut loader = RulesLoader::new(load_options(cfg, plugins, opts));
    let mut results = Vec::new();
    for (name, content) in contents {
        let mut r = loader.load_file(name, content);
        schema_status(&schema, content, &mut r);
        loader
            .check_plugin_requirements()
            .map_err(AppError::Fatal)?;
        if r.successful() && r.has_warnings() {
            log.warning(&format!("{}\n", r.verbose_text().trim_end_matches('\n')));
        }
        results.push(r);
    }
    let successful = results.iter().all(|r| r.successful());
    let summary = render_validate_text(&results);
    let mut stdout = if cfg.json_output {
        render_validate_json(&results)
    } else {
        summary.clone()
    };
    let wants_describe = opts.describe_all_rules || !opts.describe_rule.is_empty();
    if successful && wants_describe {
        let described = describe(&loader, opts, cfg.json_output)?;
        if cfg.json_output {
            // nlohmann orders keys: falco_describe_results before falco_load_results.
            let mut doc: std::collections::BTreeMap<String, serde_json::Value> =
                serde_json::from_str(&stdout).unwrap_or_default();
            let d: serde_json::Value = serde_json::from_str(&described).unwrap_or_default();
            doc.insert("falco_describe_results".to_string(), d);
            stdout = format!("{}\n", serde_json::to_string(&doc).unwrap_or_default());
        } else {
            stdout.push('\n');
            stdout.push_str(&described);
        }
    }
    Ok((
        stdout,
        (!successful).then(|| summary.trim_end_matches('\n').to_string()),
    ))
}

/// Result of loading the rules files.
pub struct Loaded {
    /// Rule names in load order (final statistics).
    pub rule_names: Vec<String>,
    /// `-L` / `-l` output, when asked for.
    pub described: Option<String>,
    /// The ruleset the event loop matches with.
    pub ruleset: Option<crate::engine::ruleset::Ruleset>,
}

/// `load_rules_files`: logs `Loading rules from:` and each file's schema status, loads the
/// rules, applies the `rules:` selection, and describes them for `-L`/`-l`.
pub fn load(
    contents: &[(String, String)],
    cfg: &Config,
    plugins: &[(String, String)],
    opts: &Options,
    log: &Logger,
) -> Result<Loaded, AppError> {
    use crate::rules::RulesLoader;
    let schema = crate::config::Schema::rules();
    if !opts.print_additional.is_empty() {
        log.warning(
            "The -p/--print option is deprecated and will be removed. Use -o append_output=... instead.\n",
        );
    }
    let mut loader = RulesLoader::new(load_options(cfg, plugins, opts));
    log.info("Loading rules from:\n");
    let mut err = None;
    for (file, text) in contents {
        let mut result = loader.load_file(file, text);
        let status = schema_status(&schema, text, &mut result);
        let level = if status == crate::config::schema::VALIDATION_OK {
            super::log::Level::Info
        } else {
            super::log::Level::Warning
        };
        log.log(level, &format!("   {file} | schema validation: {status}\n"));
        if !result.successful() {
            err = Some(result.verbose_text());
            break;
        }
        if result.has_warnings() {
            log.warning(&format!(
                "{}\n",
                result.verbose_text().trim_end_matches('\n')
            ));
        }
    }
    if let Err(e) = loader.check_plugin_requirements() {
        err = Some(e);
    }
    if let Some(e) = err {
        return Err(AppError::Fatal(e.trim_end_matches('\n').to_string()));
    }
    for sel in &cfg.rules_selection {
        let line = match sel {
            RuleSelection::EnableRule(r) => format!("Enabling rules with name: {r}"),
            RuleSelection::DisableRule(r) => format!("Disabling rules with name: {r}"),
            RuleSelection::EnableTag(t) => format!("Enabling rules with tag: {t}"),
            RuleSelection::DisableTag(t) => format!("Disabling rules with tag: {t}"),
        };
        log.info(&format!("{line}\n"));
    }
    let described = if opts.describe_all_rules || !opts.describe_rule.is_empty() {
        Some(describe(&loader, opts, cfg.json_output)?)
    } else {
        None
    };
    Ok(Loaded {
        rule_names: loader.rule_names().into_iter().map(String::from).collect(),
        described,
        ruleset: loader.into_ruleset(),
    })
}

/// What the event loop gets from the lifecycle.
pub struct LoopContext {
    pub controls: Arc<Controls>,
    pub emitter: Emitter,
    pub log: Logger,
    /// Set once the sources are open (`/metrics` starts answering).
    pub metrics_ready: Arc<AtomicBool>,
    /// `-M`: stop after this many seconds of event time (0: never).
    pub duration_s: i64,
    /// `evt.hostname` (FALCO_HOSTNAME or gethostname()).
    pub hostname: String,
    /// `-v`: print the driver counters at the end of the loop.
    pub verbose: bool,
    /// Driver counters published for `/metrics` (live sources).
    pub scap_counters: Arc<std::sync::Mutex<Option<crate::metrics::ScapCounters>>>,
    /// Periodic metrics snapshots, when configured.
    pub snapshots: std::cell::RefCell<Option<super::snapshots::Snapshots>>,
}
