//! The seam between the lifecycle and the stages other modules own: rules loading and
//! describing (`crate::rules`), field and event listings (`crate::fields`, `crate::event`),
//! and the event loop over a driver. Each function is what one Falco action needs; where the
//! stage is not part of the build yet it fails with a clear error instead of guessing.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::log::Logger;
use super::{AppError, Controls, Emitter};
use crate::cli::{Options, OutputFormat};
use crate::config::Config;

/// Name of the built-in container plugin.
pub const CONTAINER_PLUGIN_NAME: &str = "container";
/// Version the built-in container plugin reports (the one Falco 0.44.1 ships).
pub const CONTAINER_PLUGIN_VERSION: &str = "0.7.1";

fn missing(what: &str) -> AppError {
    AppError::Fatal(format!(
        "{what} is not available in this build of falco-rs yet"
    ))
}

/// `-i`.
pub fn ignored_events() -> Result<String, AppError> {
    Err(missing("-i (ignored events listing)"))
}

/// `--list-events`.
pub fn list_events(format: OutputFormat) -> Result<String, AppError> {
    let _ = format;
    Err(missing("--list-events"))
}

/// `--list-plugins`, for the plugins selected by `load_plugins`.
pub fn list_plugins(names: &[String]) -> Result<String, AppError> {
    let _ = names;
    Err(missing("--list-plugins"))
}

/// `--list[=SOURCE]`.
pub fn list_fields(
    source: &str,
    format: OutputFormat,
    names_only: bool,
    verbose: bool,
) -> Result<String, AppError> {
    let _ = (source, format, names_only, verbose);
    Err(missing("--list"))
}

/// `-V`: returns what to print on stdout and whether every file is valid.
pub fn validate(
    contents: &[(String, String)],
    cfg: &Config,
    plugins: &[(String, String)],
    opts: &Options,
    log: &Logger,
) -> Result<(String, bool), AppError> {
    let _ = (contents, cfg, plugins, opts, log);
    Err(missing("the rules engine (-V)"))
}

/// Result of loading the rules files.
pub struct Loaded {
    /// Rule names in load order (final statistics).
    pub rule_names: Vec<String>,
    /// `-L` / `-l` output, when asked for.
    pub described: Option<String>,
    /// The compiled ruleset the event loop runs.
    pub ruleset: Option<crate::engine::Ruleset>,
}

/// The rules load options falco.yaml and the loaded plugins give.
fn load_options(cfg: &Config, plugins: &[(String, String)]) -> crate::rules::LoadOptions {
    use crate::config::RuleSelection;
    use crate::engine::Selector;
    use crate::rules::{ExtraOutput, LoadOptions, PluginVersion, Priority};
    let mut opts = LoadOptions {
        loaded_plugins: plugins
            .iter()
            .map(|(name, version)| PluginVersion {
                name: name.clone(),
                version: version.clone(),
            })
            .collect(),
        ..LoadOptions::default()
    };
    let container = plugins.iter().any(|(n, _)| n == CONTAINER_PLUGIN_NAME);
    for item in &cfg.append_output {
        let matching = ExtraOutput {
            source: item.match_source.clone(),
            tags: item.match_tags.iter().cloned().collect(),
            rule: item.match_rule.clone(),
            format: String::new(),
        };
        if item.suggested_output && container {
            opts.extra_outputs.push(ExtraOutput {
                format: ExtraOutput::container_suggested().format,
                ..matching.clone()
            });
        }
        if !item.extra_output.is_empty() {
            opts.extra_outputs.push(ExtraOutput {
                format: item.extra_output.clone(),
                ..matching
            });
        }
    }
    opts.min_priority = Priority::parse(cfg.min_priority.word()).unwrap_or(Priority::Debug);
    opts.selection = cfg
        .rules_selection
        .iter()
        .map(|s| match s {
            RuleSelection::EnableRule(r) => Selector::EnableRule(r.clone()),
            RuleSelection::DisableRule(r) => Selector::DisableRule(r.clone()),
            RuleSelection::EnableTag(t) => Selector::EnableTag(t.clone()),
            RuleSelection::DisableTag(t) => Selector::DisableTag(t.clone()),
        })
        .collect();
    opts
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
    let schema = crate::config::Schema::rules();
    log.info("Loading rules from:\n");
    for (file, text) in contents {
        let status = match crate::config::Node::parse(text) {
            Ok(doc) => schema.validate(&doc),
            Err(e) => format!("failed for <root>: {e}"),
        };
        let level = if status == crate::config::schema::VALIDATION_OK {
            super::log::Level::Info
        } else {
            super::log::Level::Warning
        };
        log.log(level, &format!("   {file} | schema validation: {status}\n"));
    }
    let mut loader = crate::rules::RulesLoader::new(load_options(cfg, plugins));
    for (file, text) in contents {
        let res = loader.load_file(file, text);
        if !res.successful() {
            return Err(AppError::Fatal(res.verbose_text().trim_end().to_string()));
        }
        if res.has_warnings() {
            log.warning(&res.verbose_text());
        }
    }
    loader
        .check_plugin_requirements()
        .map_err(AppError::Fatal)?;
    let described = if opts.describe_all_rules {
        Some(loader.describe_rules_text())
    } else if !opts.describe_rule.is_empty() {
        Some(
            loader
                .describe_rule_text(&opts.describe_rule)
                .map_err(AppError::Fatal)?,
        )
    } else {
        None
    };
    Ok(Loaded {
        rule_names: loader.rule_names().into_iter().map(String::from).collect(),
        described,
        ruleset: loader.ruleset(),
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
    /// The loaded ruleset.
    pub ruleset: Option<crate::engine::Ruleset>,
    /// `evt.hostname`.
    pub hostname: String,
}

/// `process_events` for kmod, modern_ebpf and replay.
pub fn process_events(cfg: &Config, ctx: LoopContext) -> Result<(), AppError> {
    use crate::config::{EngineKind, RuleMatching};
    use std::sync::atomic::Ordering;
    if cfg.engine.kind != EngineKind::Replay {
        return Err(missing("the live event pipeline (driver + engine)"));
    }
    let file = &cfg.engine.replay_capture_file;
    ctx.log
        .info(&format!("Replaying events from the capture file: {file}"));
    let settings = crate::pipeline::Settings {
        matching: match cfg.rule_matching {
            RuleMatching::First => crate::engine::Matching::First,
            RuleMatching::All => crate::engine::Matching::All,
        },
        thread_table_size: usize::try_from(cfg.thread_table_size).unwrap_or(usize::MAX),
        hostname: ctx.hostname.clone(),
    };
    ctx.metrics_ready.store(true, Ordering::SeqCst);
    let controls = Arc::clone(&ctx.controls);
    let stop = move || {
        controls.terminate.load(Ordering::SeqCst) || controls.restart.load(Ordering::SeqCst)
    };
    let emitter = ctx.emitter;
    crate::pipeline::run_replay(
        std::path::Path::new(file),
        ctx.ruleset.unwrap_or_default(),
        settings,
        &stop,
        |alert| emitter.alert(&alert),
    )
    .map_err(|e| AppError::Fatal(e.to_string()))?;
    Ok(())
}
