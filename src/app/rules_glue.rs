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
    let _ = (cfg, plugins, opts);
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
    Err(missing("the rules engine"))
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
}

/// `process_events` for kmod, modern_ebpf and replay.
pub fn process_events(cfg: &Config, ctx: &LoopContext) -> Result<(), AppError> {
    let _ = (cfg, ctx);
    Err(missing("the event pipeline (driver + engine)"))
}
