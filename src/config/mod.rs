//! falco.yaml: the raw model, the load pipeline (config_files, config.d, `${VAR}`, `-o`),
//! schema warnings, and the resolved configuration `app` wires. Knows nothing of rules or drivers.
//!
//! Two phases, as in Falco's `falco_configuration`:
//! 1. [`RawConfig::load`] builds the merged document: main file (env-expanded, schema-checked),
//!    `-o config_files...` options, the `config_files` includes (each env-expanded and checked),
//!    then every `-o` option. It records each file's schema status.
//! 2. [`Config::from_raw`] reads every key with Falco's absent-key defaults (a value that does
//!    not convert silently takes the absent default) and fails with Falco's messages on the
//!    semantic errors Falco treats as fatal.

pub mod env;
pub mod schema;
mod schema_text;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

pub use schema::Schema;
pub use yaml::Node;

/// The key of the include list.
pub const CONFIGS_KEY: &str = "config_files";

/// A configuration error; the message is what Falco prints after `Error: `.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The main file could not be read or parsed. Falco first prints
    /// `Cannot read config file (<path>): <detail>` and then fails with a sliced exception.
    #[error("std::exception")]
    Read { path: String, detail: String },
    /// An included file could not be read or parsed.
    #[error("{detail}")]
    ReadInclude { path: String, detail: String },
    #[error(transparent)]
    Path(#[from] yaml::PathError),
    /// Any other fatal condition, worded as Falco words it.
    #[error("{0}")]
    Fatal(String),
}

impl ConfigError {
    /// The line Falco writes to stderr before the final `Error: ...` line, if any.
    pub fn preface(&self) -> Option<String> {
        match self {
            ConfigError::Read { path, detail } => {
                Some(format!("Cannot read config file ({path}): {detail}"))
            }
            _ => None,
        }
    }
}

/// Merge strategy of one `config_files` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    Append,
    Override,
    AddOnly,
}

/// The merged configuration document and what was loaded to build it.
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    /// The merged document.
    pub root: Node,
    /// Main config path (empty when running without one).
    pub main: String,
    /// Schema status per loaded file, in path order (as Falco lists them).
    pub statuses: BTreeMap<String, String>,
    /// Every loaded config file, main first, in load order (watched, hashed).
    pub files: Vec<String>,
    /// Every included config directory.
    pub folders: Vec<String>,
}

fn parse_file(path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Node, String> {
    let text = std::fs::read_to_string(path).map_err(|_| "bad file".to_string())?;
    let mut node = Node::parse(&text).map_err(|e| e.to_string())?;
    env::expand_node(&mut node, env);
    Ok(node)
}

/// Splits `key=value` at the first `=`, and turns the value into a node: `{...}` is YAML,
/// everything else a plain string.
pub fn parse_cmdline_option(opt: &str) -> Result<(String, Node), ConfigError> {
    let Some((key, value)) = opt.split_once('=') else {
        return Err(ConfigError::Fatal(format!(
            "Error parsing config option \"{opt}\". Must be of the form key=val or key.subkey=val"
        )));
    };
    let node = if value.starts_with('{') && value.ends_with('}') {
        Node::parse(value).map_err(|e| ConfigError::Fatal(e.to_string()))?
    } else {
        Node::scalar(value)
    };
    Ok((key.to_string(), node))
}

impl RawConfig {
    /// Runs the load pipeline. `main` empty means no config file (`init_from_content("")`).
    pub fn load(
        main: &str,
        cmdline: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<RawConfig, ConfigError> {
        let schema = Schema::config();
        let mut raw = RawConfig {
            main: main.to_string(),
            ..RawConfig::default()
        };
        if main.is_empty() {
            raw.root = Node::Undefined;
            raw.apply_cmdline(cmdline, |_| true)?;
            return Ok(raw);
        }
        raw.root = parse_file(main, env).map_err(|detail| ConfigError::Read {
            path: main.to_string(),
            detail,
        })?;
        raw.statuses
            .insert(main.to_string(), schema.validate(&raw.root));
        raw.apply_cmdline(cmdline, |opt| opt.starts_with(CONFIGS_KEY))?;
        raw.merge_config_files(&schema, env)?;
        raw.apply_cmdline(cmdline, |_| true)?;
        Ok(raw)
    }

    fn apply_cmdline(
        &mut self,
        cmdline: &[String],
        filter: impl Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        for opt in cmdline.iter().filter(|o| filter(o)) {
            let (key, value) = parse_cmdline_option(opt)?;
            self.root.set(&key, value)?;
        }
        Ok(())
    }

    fn merge_config_files(
        &mut self,
        schema: &Schema,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        self.files.push(self.main.clone());
        let includes: Vec<(String, MergeStrategy)> = self
            .root
            .get(CONFIGS_KEY)
            .map(|n| {
                n.items()
                    .into_iter()
                    .filter_map(config_file_entry)
                    .collect()
            })
            .unwrap_or_default();
        for (path, strategy) in includes {
            if Path::new(&path) == Path::new(&self.main) {
                return Err(ConfigError::Fatal(format!(
                    "Config error: '{CONFIGS_KEY}' directive tried to recursively include main config file: {}.",
                    self.main
                )));
            }
            let p = Path::new(&path);
            if !p.exists() {
                continue;
            }
            if p.is_file() {
                self.files.push(path.clone());
                self.include(&path, strategy, schema, env)?;
            } else if p.is_dir() {
                self.folders.push(path.clone());
                for f in folder_files(p) {
                    self.include(&f, strategy, schema, env)?;
                }
            }
        }
        Ok(())
    }

    fn include(
        &mut self,
        path: &str,
        strategy: MergeStrategy,
        schema: &Schema,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let node = parse_file(path, env).map_err(|detail| ConfigError::ReadInclude {
            path: path.to_string(),
            detail,
        })?;
        self.statuses
            .insert(path.to_string(), schema.validate(&node));
        let Node::Map(entries) = node else {
            return Ok(());
        };
        for (key, value) in entries {
            if key == CONFIGS_KEY {
                return Err(ConfigError::Fatal(format!(
                    "Config error: '{CONFIGS_KEY}' directive in included config file {path}."
                )));
            }
            let slot = self.root.entry(&key);
            match (strategy, value) {
                (MergeStrategy::Append, Node::Seq(items)) => {
                    for item in items {
                        slot.push(item);
                    }
                }
                (MergeStrategy::Append | MergeStrategy::Override, value) => *slot = value,
                (MergeStrategy::AddOnly, value) => {
                    if !slot.is_defined() {
                        *slot = value;
                    }
                }
            }
        }
        // `entry` may have left undefined placeholders for add-only keys that were skipped.
        Ok(())
    }

    /// Reads a node by key path (undefined when missing or when the path does not parse).
    pub fn node(&self, key: &str) -> Node {
        self.root
            .at(key)
            .map(|n| n.into_owned())
            .unwrap_or(Node::Undefined)
    }

    pub fn is_defined(&self, key: &str) -> bool {
        self.node(key).is_defined()
    }

    pub fn get_bool(&self, key: &str, default: bool) -> bool {
        self.node(key).as_bool().unwrap_or(default)
    }

    pub fn get_string(&self, key: &str, default: &str) -> String {
        self.node(key)
            .as_string()
            .unwrap_or_else(|| default.to_string())
    }

    pub fn get_i64(&self, key: &str, default: i64) -> i64 {
        self.node(key).as_i64().unwrap_or(default)
    }

    /// An unsigned read that must fit in `max` (yaml-cpp range-checks the target type).
    pub fn get_u64(&self, key: &str, default: u64, max: u64) -> u64 {
        self.node(key)
            .as_u64()
            .filter(|v| *v <= max)
            .unwrap_or(default)
    }

    pub fn get_f64(&self, key: &str, default: f64) -> f64 {
        self.node(key).as_f64().unwrap_or(default)
    }

    /// `get_sequence<std::string>`: a list (or one scalar) of strings.
    pub fn get_strings(&self, key: &str) -> Vec<String> {
        self.node(key)
            .items()
            .into_iter()
            .filter_map(Node::as_string)
            .collect()
    }
}

fn config_file_entry(n: &Node) -> Option<(String, MergeStrategy)> {
    match n {
        Node::Scalar { text, .. } => Some((text.clone(), MergeStrategy::Append)),
        Node::Map(_) => {
            let path = n.get("path")?.as_string()?;
            let strategy = match n.get("strategy").and_then(Node::as_str) {
                Some("override") => MergeStrategy::Override,
                Some("add-only") => MergeStrategy::AddOnly,
                _ => MergeStrategy::Append,
            };
            Some((path, strategy))
        }
        _ => None,
    }
}

/// The regular files directly in folder `dir`, sorted by path, as Falco walks a `config_files`
/// or rules folder (an unreadable folder has none).
pub fn folder_files(dir: &std::path::Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Rule priority, most severe first (`falco_common::priority_type`): the config's `priority`,
/// a rule's `priority:`, the alerts' word and the syslog level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

impl Priority {
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// Case-insensitive; `info` and `informational` both accepted.
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// The long name Falco prints in alerts and rule descriptions (`Warning`, `Informational`).
    pub fn name(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// The word in the final statistics (`WARNING`, `INFO`).
    pub fn stats_word(self) -> &'static str {
        match self {
            Priority::Emergency => "EMERGENCY",
            Priority::Alert => "ALERT",
            Priority::Critical => "CRITICAL",
            Priority::Error => "ERROR",
            Priority::Warning => "WARNING",
            Priority::Notice => "NOTICE",
            Priority::Informational => "INFO",
            Priority::Debug => "DEBUG",
        }
    }

    /// The syslog level (`LOG_EMERG`..`LOG_DEBUG`), also the Prometheus label value.
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// `engine.kind`. Beyond Falco's four kinds, falco-rs accepts `libbpf` (= modern_ebpf) and
/// `aya` (the same probe loaded through aya).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Kmod,
    ModernEbpf,
    Aya,
    Replay,
    Nodriver,
}

/// `rule_matching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleMatching {
    First,
    All,
}

/// `capture.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    Rules,
    AllRules,
}

/// `syscall_event_drops.actions` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropAction {
    Ignore,
    Log,
    Alert,
    Exit,
}

/// Ring-buffer settings of a kernel engine.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineBuffers {
    pub buf_size_preset: i64,
    pub drop_failed_exit: bool,
    pub cpus_for_each_buffer: u64,
    pub disable_iterators: bool,
}

/// The `engine` block (only the selected kind's keys are read).
#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    pub kind: EngineKind,
    /// The `engine.kind` text as configured.
    pub kind_name: String,
    pub buffers: EngineBuffers,
    pub replay_capture_file: String,
}

/// `http_output` sub-keys.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOutput {
    pub url: String,
    pub user_agent: String,
    pub insecure: bool,
    pub echo: bool,
    pub ca_cert: String,
    pub ca_bundle: String,
    pub ca_path: String,
    pub mtls: bool,
    pub client_cert: String,
    pub client_key: String,
    pub compress_uploads: bool,
    pub keep_alive: bool,
    pub max_consecutive_timeouts: u8,
}

/// One enabled output channel, in Falco's fixed order (file, stdout, syslog, program, http).
#[derive(Debug, Clone, PartialEq)]
pub enum OutputChannel {
    File { filename: String, keep_alive: bool },
    Stdout,
    Syslog,
    Program { program: String, keep_alive: bool },
    Http(HttpOutput),
}

impl OutputChannel {
    /// Falco's output name (`file`, `stdout`, ...), used in its log lines.
    pub fn name(&self) -> &'static str {
        match self {
            OutputChannel::File { .. } => "file",
            OutputChannel::Stdout => "stdout",
            OutputChannel::Syslog => "syslog",
            OutputChannel::Program { .. } => "program",
            OutputChannel::Http(_) => "http",
        }
    }
}

/// The `webserver` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Webserver {
    pub enabled: bool,
    pub threadiness: u64,
    pub listen_port: u64,
    pub listen_address: String,
    pub k8s_healthz_endpoint: String,
    pub ssl_enabled: bool,
    pub ssl_certificate: String,
    pub prometheus_metrics_enabled: bool,
}

/// The `metrics` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub enabled: bool,
    pub interval_str: String,
    pub interval_ms: u64,
    pub output_rule: bool,
    pub output_file: String,
    pub rules_counters_enabled: bool,
    pub resource_utilization_enabled: bool,
    pub state_counters_enabled: bool,
    pub kernel_event_counters_enabled: bool,
    pub kernel_event_counters_per_cpu_enabled: bool,
    pub libbpf_stats_enabled: bool,
    pub plugins_metrics_enabled: bool,
    pub kernel_iter_event_counters_enabled: bool,
    pub jemalloc_stats_enabled: bool,
    pub convert_memory_to_mb: bool,
    pub include_empty_values: bool,
    /// falco-rs only: export the falco-exporter compatible `falco_events` counter.
    /// `metrics.falco_events_enabled`, on by default.
    pub falco_events_enabled: bool,
}

/// The `capture` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub enabled: bool,
    pub path_prefix: String,
    pub mode: CaptureMode,
    pub default_duration_ms: u64,
    pub max_file_size_mb: u64,
}

/// `syscall_event_drops`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyscallEventDrops {
    pub actions: Vec<DropAction>,
    pub threshold: f64,
    pub rate: f64,
    pub max_burst: f64,
    pub simulate_drops: bool,
}

/// One `rules:` selection item.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSelection {
    EnableRule(String),
    EnableTag(String),
    DisableRule(String),
    DisableTag(String),
}

/// One `append_output` item.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppendOutput {
    pub match_source: String,
    pub match_tags: Vec<String>,
    pub match_rule: String,
    pub extra_output: String,
    pub suggested_output: bool,
    /// `(key, None)` raw field; `(key, Some(format))` formatted field.
    pub extra_fields: Vec<(String, Option<String>)>,
}

/// One `plugins` entry selected by `load_plugins`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    pub name: String,
    pub library_path: String,
    /// Map values converted to compact JSON; strings passed as-is.
    pub init_config: String,
    pub open_params: String,
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub log_level: String,
    pub libs_logger_enabled: bool,
    pub libs_logger_severity: String,
    pub log_stderr: bool,
    pub log_syslog: bool,
    pub engine: Engine,
    /// `rules_files` (or deprecated `rules_file`), entries that exist.
    pub rules_files: Vec<String>,
    pub json_output: bool,
    pub json_include_output_property: bool,
    pub json_include_tags_property: bool,
    pub json_include_message_property: bool,
    pub json_include_output_fields_property: bool,
    pub outputs: Vec<OutputChannel>,
    pub output_timeout_ms: u64,
    pub rule_matching: RuleMatching,
    pub min_priority: Priority,
    pub buffered_outputs: bool,
    /// 0 in the file means unbounded: stored as `usize::MAX`.
    pub outputs_queue_capacity: usize,
    pub time_format_iso_8601: bool,
    pub buffer_format_base64: bool,
    pub webserver: Webserver,
    pub syscall_event_drops: SyscallEventDrops,
    pub syscall_event_timeouts_max_consecutives: u64,
    pub thread_table_size: u64,
    pub snaplen: u64,
    pub base_syscalls_custom_set: Vec<String>,
    pub base_syscalls_repair: bool,
    pub base_syscalls_all: bool,
    pub metrics: Metrics,
    pub capture: Capture,
    pub plugins_hostinfo: bool,
    pub rules_selection: Vec<RuleSelection>,
    pub append_output: Vec<AppendOutput>,
    pub static_fields: BTreeMap<String, String>,
    pub plugins: Vec<PluginConfig>,
    pub watch_config_files: bool,
    /// WARNING lines Falco logs while reading keys.
    pub warnings: Vec<String>,
}

const LOG_LEVELS: [&str; 8] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "info",
    "debug",
];
const LIBS_SEVERITIES: [&str; 8] = [
    "trace", "debug", "info", "notice", "warning", "error", "critical", "fatal",
];

/// Falco's plugin directory (`FALCO_ENGINE_PLUGINS_DIR`).
pub const PLUGINS_DIR: &str = "/usr/share/falco/plugins/";

/// `parse_prometheus_interval`: `[Ny][Nw][Nd][Nh][Nm][Ns][Nms]`, whitespace removed; 0 when the
/// text does not match.
pub fn parse_prometheus_interval(s: &str) -> u64 {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let re = regex::Regex::new(
        r"^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$",
    )
    .expect("static regex");
    const MS: [u64; 7] = [
        365 * 86_400_000,
        7 * 86_400_000,
        86_400_000,
        3_600_000,
        60_000,
        1000,
        1,
    ];
    let Some(caps) = re.captures(&s) else {
        return 0;
    };
    (0..7)
        .filter_map(|i| {
            caps.get(i + 1)
                .and_then(|m| m.as_str().parse::<u64>().ok())
                .map(|v| v.saturating_mul(MS[i]))
        })
        .fold(0u64, u64::saturating_add)
}

/// Whether `addr` is an IPv4 or IPv6 literal (optionally with `%zone`), surrounding blanks allowed.
pub fn is_ip_literal(addr: &str) -> bool {
    let a = addr.trim();
    if a.parse::<std::net::Ipv4Addr>().is_ok() {
        return !a.split('.').any(|p| p.len() > 1 && p.starts_with('0'));
    }
    let base = a
        .split_once('%')
        .map_or(a, |(b, z)| if z.is_empty() { a } else { b });
    base.parse::<std::net::Ipv6Addr>().is_ok()
}

impl Config {
    /// Reads every key of the merged document, as `falco_configuration::load_yaml` does.
    pub fn from_raw(raw: &RawConfig) -> Result<Config, ConfigError> {
        let name = raw.main.as_str();
        let fatal =
            |msg: String| ConfigError::Fatal(format!("Error reading config file ({name}): {msg}"));
        let mut warnings = Vec::new();

        let log_level = raw.get_string("log_level", "info");
        if !LOG_LEVELS.contains(&log_level.as_str()) {
            return Err(ConfigError::Fatal(format!("Unknown log level {log_level}")));
        }
        let libs_logger_severity = raw.get_string("libs_logger.severity", "info");
        if !LIBS_SEVERITIES.contains(&libs_logger_severity.as_str()) {
            return Err(ConfigError::Fatal(format!(
                "Unknown sinsp log severity {libs_logger_severity}"
            )));
        }

        let kind_str = raw.get_string("engine.kind", "kmod");
        let kind = match kind_str.as_str() {
            "kmod" => EngineKind::Kmod,
            "modern_ebpf" | "libbpf" => EngineKind::ModernEbpf,
            "aya" => EngineKind::Aya,
            // Falco 0.44 removed the legacy eBPF probe and rejects `ebpf`; a configuration of
            // the 0.43 line still carries its `engine.ebpf` map, and for it `ebpf` keeps
            // meaning "the eBPF probe": falco-rs runs it on the aya backend.
            "ebpf" if raw.is_defined("engine.ebpf") => EngineKind::Aya,
            "replay" => EngineKind::Replay,
            "nodriver" => EngineKind::Nodriver,
            _ => {
                return Err(fatal(format!(
                    "engine.kind '{kind_str}' is not a valid kind."
                )));
            }
        };
        let sub = match (kind, kind_str.as_str()) {
            (EngineKind::Kmod, _) => "engine.kmod",
            // A 0.43 `ebpf` configuration keeps its buffer settings under `engine.ebpf`.
            (_, "ebpf") => "engine.ebpf",
            _ => "engine.modern_ebpf",
        };
        let buffers = EngineBuffers {
            buf_size_preset: raw.get_i64(&format!("{sub}.buf_size_preset"), 4),
            drop_failed_exit: raw.get_bool(&format!("{sub}.drop_failed_exit"), false),
            cpus_for_each_buffer: raw.get_u64(
                "engine.modern_ebpf.cpus_for_each_buffer",
                2,
                u16::MAX.into(),
            ),
            disable_iterators: raw.get_bool("engine.modern_ebpf.disable_iterators", false),
        };
        let replay_capture_file = raw.get_string("engine.replay.capture_file", "");
        if kind == EngineKind::Replay && replay_capture_file.is_empty() {
            return Err(fatal(
                "engine.kind is 'replay' but no engine.replay.capture_file specified.".to_string(),
            ));
        }
        let engine = Engine {
            kind,
            kind_name: kind_str.clone(),
            buffers,
            replay_capture_file,
        };

        let mut rules_files = Vec::new();
        let mut n_rules_keys = 0;
        if raw.is_defined("rules_files") {
            n_rules_keys += 1;
            rules_files.extend(raw.get_strings("rules_files"));
        }
        if raw.is_defined("rules_file") {
            n_rules_keys += 1;
            rules_files.extend(raw.get_strings("rules_file"));
            warnings.push("Using deprecated config key 'rules_file' (singular form). Please use new 'rules_files' config key (plural form).".to_string());
        }
        if n_rules_keys == 2 {
            return Err(fatal(
                "both 'rules_files' and 'rules_file' keys set".to_string(),
            ));
        }
        rules_files.retain(|f| std::fs::metadata(f).is_ok());

        let mut outputs = Vec::new();
        if raw.get_bool("file_output.enabled", false) {
            let filename = raw.get_string("file_output.filename", "");
            if filename.is_empty() {
                return Err(fatal(
                    "file output enabled but no filename in configuration block".to_string(),
                ));
            }
            let keep_alive = raw.get_string("file_output.keep_alive", "") == "true";
            outputs.push(OutputChannel::File {
                filename,
                keep_alive,
            });
        }
        if raw.get_bool("stdout_output.enabled", false) {
            outputs.push(OutputChannel::Stdout);
        }
        if raw.get_bool("syslog_output.enabled", false) {
            outputs.push(OutputChannel::Syslog);
        }
        if raw.get_bool("program_output.enabled", false) {
            let program = raw.get_string("program_output.program", "");
            if program.is_empty() {
                return Err(fatal(
                    "program output enabled but no program in configuration block".to_string(),
                ));
            }
            let keep_alive = raw.get_string("program_output.keep_alive", "") == "true";
            outputs.push(OutputChannel::Program {
                program,
                keep_alive,
            });
        }
        if raw.get_bool("http_output.enabled", false) {
            let url = raw.get_string("http_output.url", "");
            if url.is_empty() {
                return Err(fatal(
                    "http output enabled but no url in configuration block".to_string(),
                ));
            }
            outputs.push(OutputChannel::Http(HttpOutput {
                url: unquote(&url),
                user_agent: raw.get_string("http_output.user_agent", "falcosecurity/falco"),
                insecure: raw.get_bool("http_output.insecure", false),
                echo: raw.get_bool("http_output.echo", false),
                ca_cert: raw.get_string("http_output.ca_cert", ""),
                ca_bundle: raw.get_string("http_output.ca_bundle", ""),
                ca_path: raw.get_string("http_output.ca_path", "/etc/ssl/certs"),
                mtls: raw.get_bool("http_output.mtls", false),
                client_cert: raw.get_string("http_output.client_cert", "/etc/ssl/certs/client.crt"),
                client_key: raw.get_string("http_output.client_key", "/etc/ssl/certs/client.key"),
                compress_uploads: raw.get_bool("http_output.compress_uploads", false),
                keep_alive: raw.get_bool("http_output.keep_alive", false),
                max_consecutive_timeouts: raw.get_u64(
                    "http_output.max_consecutive_timeouts",
                    5,
                    u8::MAX.into(),
                ) as u8,
            }));
        }

        let output_timeout_ms = raw.get_u64("output_timeout", 2000, u32::MAX.into());
        let rm = raw.get_string("rule_matching", "first");
        let rule_matching = match rm.to_ascii_lowercase().as_str() {
            "first" => RuleMatching::First,
            "all" => RuleMatching::All,
            _ => {
                return Err(ConfigError::Fatal(format!(
                    "Unknown rule matching strategy \"{rm}\"--must be one of first, all"
                )));
            }
        };
        let prio = raw.get_string("priority", "debug");
        let min_priority = Priority::parse(&prio).ok_or_else(|| {
            ConfigError::Fatal(format!("Unknown priority \"{prio}\"--must be one of emergency, alert, critical, error, warning, notice, informational, debug"))
        })?;
        let capacity = raw.get_u64("outputs_queue.capacity", 0, u64::MAX);
        let outputs_queue_capacity = if capacity == 0 {
            usize::MAX
        } else {
            usize::try_from(capacity).unwrap_or(usize::MAX)
        };

        let threadiness = match raw.get_u64("webserver.threadiness", 0, u32::MAX.into()) {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            n => n,
        };
        let listen_address = raw.get_string("webserver.listen_address", "0.0.0.0");
        if !is_ip_literal(&listen_address) {
            return Err(fatal(format!(
                "webserver listen address \"{listen_address}\" is not a valid IP address"
            )));
        }
        let webserver = Webserver {
            enabled: raw.get_bool("webserver.enabled", false),
            threadiness,
            listen_port: raw.get_u64("webserver.listen_port", 8765, u32::MAX.into()),
            listen_address,
            k8s_healthz_endpoint: raw.get_string("webserver.k8s_healthz_endpoint", "/healthz"),
            ssl_enabled: raw.get_bool("webserver.ssl_enabled", false),
            ssl_certificate: raw.get_string("webserver.ssl_certificate", "/etc/falco/falco.pem"),
            prometheus_metrics_enabled: raw.get_bool("webserver.prometheus_metrics_enabled", false),
        };

        let mut actions: Vec<DropAction> = Vec::new();
        for act in raw.get_strings("syscall_event_drops.actions") {
            let a = match act.as_str() {
                "ignore" => DropAction::Ignore,
                "log" => DropAction::Log,
                "alert" => DropAction::Alert,
                "exit" => DropAction::Exit,
                _ => return Err(fatal("available actions for syscall event drops are \"ignore\", \"log\", \"alert\", and \"exit\"".to_string())),
            };
            if matches!(a, DropAction::Log | DropAction::Alert)
                && actions.contains(&DropAction::Ignore)
            {
                return Err(fatal(format!(
                    "syscall event drop action \"{act}\" does not make sense with the \"ignore\" action"
                )));
            }
            if !actions.contains(&a) {
                actions.push(a);
            }
        }
        if actions.is_empty() {
            actions.push(DropAction::Ignore);
        }
        actions.sort();
        let threshold = raw.get_f64("syscall_event_drops.threshold", 0.1);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(fatal(
                "syscall event drops threshold must be a double in the range [0, 1]".to_string(),
            ));
        }
        let syscall_event_drops = SyscallEventDrops {
            actions,
            threshold,
            rate: raw.get_f64("syscall_event_drops.rate", 0.03333),
            max_burst: raw.get_f64("syscall_event_drops.max_burst", 1.0),
            simulate_drops: raw.get_bool("syscall_event_drops.simulate_drops", false),
        };
        let max_consecutives = raw.get_u64(
            "syscall_event_timeouts.max_consecutives",
            1000,
            u32::MAX.into(),
        );
        if max_consecutives == 0 {
            return Err(ConfigError::Fatal(format!(
                "Error reading config file({name}): the maximum consecutive timeouts without an event must be an unsigned integer > 0"
            )));
        }

        let interval_str = raw.get_string("metrics.interval", "5000");
        let prometheus_on = webserver.prometheus_metrics_enabled;
        let metrics = Metrics {
            enabled: raw.get_bool("metrics.enabled", false),
            interval_ms: parse_prometheus_interval(&interval_str),
            interval_str,
            output_rule: raw.get_bool("metrics.output_rule", false),
            output_file: raw.get_string("metrics.output_file", ""),
            rules_counters_enabled: raw.get_bool("metrics.rules_counters_enabled", true),
            resource_utilization_enabled: raw
                .get_bool("metrics.resource_utilization_enabled", true),
            state_counters_enabled: raw.get_bool("metrics.state_counters_enabled", true),
            kernel_event_counters_enabled: raw
                .get_bool("metrics.kernel_event_counters_enabled", true),
            kernel_event_counters_per_cpu_enabled: raw
                .get_bool("metrics.kernel_event_counters_per_cpu_enabled", true),
            libbpf_stats_enabled: raw.get_bool("metrics.libbpf_stats_enabled", true),
            plugins_metrics_enabled: raw.get_bool("metrics.plugins_metrics_enabled", true),
            kernel_iter_event_counters_enabled: raw
                .get_bool("metrics.kernel_iter_event_counters_enabled", true),
            jemalloc_stats_enabled: raw.get_bool("metrics.jemalloc_stats_enabled", true),
            convert_memory_to_mb: raw.get_bool("metrics.convert_memory_to_mb", true),
            include_empty_values: raw.get_bool("metrics.include_empty_values", false),
            falco_events_enabled: raw.get_bool("metrics.falco_events_enabled", prometheus_on),
        };

        let mode = raw.get_string("capture.mode", "rules");
        let capture = Capture {
            enabled: raw.get_bool("capture.enabled", false),
            path_prefix: raw.get_string("capture.path_prefix", "/tmp/falco"),
            mode: match mode.as_str() {
                "rules" => CaptureMode::Rules,
                "all_rules" => CaptureMode::AllRules,
                _ => return Err(fatal(format!("capture.mode '{mode}' is not a valid mode."))),
            },
            default_duration_ms: raw.get_u64("capture.default_duration", 5000, u32::MAX.into()),
            max_file_size_mb: raw.get_u64("capture.max_file_size_mb", 0, u64::MAX),
        };

        let rules_selection = read_rules_selection(&raw.node("rules"))?;
        let append_output = read_append_output(&raw.node("append_output"))?;
        for entry in &append_output {
            if !entry.match_rule.is_empty() && !entry.match_tags.is_empty() {
                let tags = entry
                    .match_tags
                    .iter()
                    .map(|t| format!("{t}, "))
                    .collect::<String>();
                let tags = &tags[..tags.len() - 1];
                warnings.push(format!(
                    "An append_ouptut entry specifies both a rule ({rule}) and a list of tags ({tags}). This means that output will be appended only to the {rule} rule and only if it has all the tags: {tags}.",
                    rule = entry.match_rule
                ));
            }
        }
        let static_fields = match raw.node("static_fields") {
            Node::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_string()?)))
                .collect(),
            _ => BTreeMap::new(),
        };

        let plugins = read_plugins(raw, name)?;

        Ok(Config {
            log_level,
            libs_logger_enabled: raw.get_bool("libs_logger.enabled", true),
            libs_logger_severity,
            log_stderr: raw.get_bool("log_stderr", false),
            log_syslog: raw.get_bool("log_syslog", true),
            engine,
            rules_files,
            json_output: raw.get_bool("json_output", false),
            json_include_output_property: raw.get_bool("json_include_output_property", true),
            json_include_tags_property: raw.get_bool("json_include_tags_property", true),
            json_include_message_property: raw.get_bool("json_include_message_property", false),
            json_include_output_fields_property: raw
                .get_bool("json_include_output_fields_property", true),
            outputs,
            output_timeout_ms,
            rule_matching,
            min_priority,
            buffered_outputs: raw.get_bool("buffered_outputs", false),
            outputs_queue_capacity,
            time_format_iso_8601: raw.get_bool("time_format_iso_8601", false),
            buffer_format_base64: raw.get_bool("buffer_format_base64", false),
            webserver,
            syscall_event_drops,
            syscall_event_timeouts_max_consecutives: max_consecutives,
            thread_table_size: raw.get_u64(
                "falco_libs.thread_table_size",
                262_144,
                u32::MAX.into(),
            ),
            snaplen: raw.get_u64("falco_libs.snaplen", 0, u64::MAX),
            base_syscalls_custom_set: raw.get_strings("base_syscalls.custom_set"),
            base_syscalls_repair: raw.get_bool("base_syscalls.repair", false),
            base_syscalls_all: raw.get_bool("base_syscalls.all", false),
            metrics,
            capture,
            plugins_hostinfo: raw.get_bool("plugins_hostinfo", true),
            rules_selection,
            append_output,
            static_fields,
            plugins,
            watch_config_files: raw.get_bool("watch_config_files", true),
            warnings,
        })
    }
}

/// Strips one pair of surrounding `"..."` or `'...'` quotes (http_output.url).
fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let inner = &s[1..s.len() - 1];
        if b[0] == b'"' {
            return inner.replace("\\\"", "\"").replace("\\\\", "\\");
        }
        return inner.to_string();
    }
    s.to_string()
}

fn read_rules_selection(node: &Node) -> Result<Vec<RuleSelection>, ConfigError> {
    let bad =
        || ConfigError::Fatal("yaml-cpp: error at line 0, column 0: bad conversion".to_string());
    let mut out = Vec::new();
    for item in node.items() {
        let (enable, inner) = if let Some(n) = item.get("enable") {
            (true, n)
        } else if let Some(n) = item.get("disable") {
            (false, n)
        } else {
            return Err(bad());
        };
        let rule = inner.get("rule").and_then(Node::as_string);
        let tag = inner.get("tag").and_then(Node::as_string);
        match (enable, rule, tag) {
            (true, Some(r), _) => out.push(RuleSelection::EnableRule(r)),
            (true, None, Some(t)) => out.push(RuleSelection::EnableTag(t)),
            (false, Some(r), _) => out.push(RuleSelection::DisableRule(r)),
            (false, None, Some(t)) => out.push(RuleSelection::DisableTag(t)),
            (_, None, None) => return Err(bad()),
        }
    }
    Ok(out)
}

fn read_append_output(node: &Node) -> Result<Vec<AppendOutput>, ConfigError> {
    let mut out = Vec::new();
    for item in node.items() {
        if !matches!(item, Node::Map(_)) {
            continue;
        }
        let mut entry = AppendOutput::default();
        if let Some(m) = item.get("match") {
            entry.match_source = m
                .get("source")
                .and_then(Node::as_string)
                .unwrap_or_default();
            entry.match_rule = m.get("rule").and_then(Node::as_string).unwrap_or_default();
            entry.match_tags = m
                .get("tags")
                .map(|t| t.items().into_iter().filter_map(Node::as_string).collect())
                .unwrap_or_default();
        }
        entry.extra_output = item
            .get("extra_output")
            .and_then(Node::as_string)
            .unwrap_or_default();
        entry.suggested_output = item
            .get("suggested_output")
            .and_then(Node::as_bool)
            .unwrap_or(false);
        if let Some(fields) = item.get("extra_fields") {
            for f in fields.items() {
                match f {
                    Node::Scalar { text, .. } => {
                        if entry.extra_fields.iter().any(|(k, _)| k == text) {
                            return Err(ConfigError::Fatal(format!(
                                "Duplicate extra field key: {text}"
                            )));
                        }
                        entry.extra_fields.push((text.clone(), None));
                    }
                    Node::Map(kv) => {
                        for (k, v) in kv {
                            if entry.extra_fields.iter().any(|(key, _)| key == k) {
                                return Err(ConfigError::Fatal(format!(
                                    "Duplicate extra field key: {k}"
                                )));
                            }
                            entry
                                .extra_fields
                                .push((k.clone(), Some(v.as_string().unwrap_or_default())));
                        }
                    }
                    _ => {}
                }
            }
        }
        out.push(entry);
    }
    Ok(out)
}

fn read_plugins(raw: &RawConfig, name: &str) -> Result<Vec<PluginConfig>, ConfigError> {
    let mut all = Vec::new();
    for p in raw.node("plugins").items() {
        let err = |m: &str| {
            ConfigError::Fatal(format!(
                "Error reading config file({name}): could not load plugins config: {m}"
            ))
        };
        let pname = p
            .get("name")
            .and_then(Node::as_string)
            .ok_or_else(|| err("plugin name is required"))?;
        let lib = p
            .get("library_path")
            .and_then(Node::as_string)
            .ok_or_else(|| err("plugin library_path is required"))?;
        let library_path = if lib.starts_with('/') {
            lib
        } else {
            let joined = normalize(&format!("{PLUGINS_DIR}{lib}"));
            if !joined.starts_with(PLUGINS_DIR) {
                return Err(err(&format!(
                    "plugin library_path '{lib}' resolves outside the plugins directory ({PLUGINS_DIR})"
                )));
            }
            joined
        };
        let init_config = match p.get("init_config") {
            Some(m @ Node::Map(_)) => m.to_json().to_string(),
            Some(Node::Scalar { text, .. }) => text.clone(),
            _ => String::new(),
        };
        let open_params = p
            .get("open_params")
            .and_then(Node::as_string)
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        all.push(PluginConfig {
            name: pname,
            library_path,
            init_config,
            open_params,
        });
    }
    if !raw.is_defined("load_plugins") {
        return Ok(all);
    }
    let mut selected = Vec::new();
    for pname in raw.get_strings("load_plugins") {
        match all.iter().find(|p| p.name == pname) {
            Some(p) => selected.push(p.clone()),
            None => {
                return Err(ConfigError::Fatal(format!(
                    "Cannot load plugin '{pname}': plugin config not found for given name"
                )));
            }
        }
    }
    Ok(selected)
}

/// Lexical normalisation of an absolute path (`a/./b/../c` → `a/c`).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_support::shared_dir;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(main: &str, opts: &[&str]) -> Result<(RawConfig, Config), ConfigError> {
        let opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        let raw = RawConfig::load(main, &opts, &no_env)?;
        let cfg = Config::from_raw(&raw)?;
        Ok((raw, cfg))
    }

    fn default_yaml() -> String {
        shared_dir()
            .join("upstream/falco-0.44.1/falco.yaml")
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn default_falco_yaml_loads() {
        let (raw, cfg) = load(&default_yaml(), &[]).unwrap();
        assert_eq!(raw.statuses.values().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(cfg.engine.kind, EngineKind::ModernEbpf);
        assert_eq!(cfg.outputs, [OutputChannel::Stdout, OutputChannel::Syslog]);
        assert!(cfg.webserver.enabled);
        assert!(cfg.log_stderr);
        assert_eq!(cfg.plugins, []);
        assert_eq!(cfg.append_output.len(), 1);
        assert!(cfg.append_output[0].suggested_output);
        assert_eq!(
            cfg.syscall_event_drops.actions,
            [DropAction::Log, DropAction::Alert]
        );
        assert_eq!(cfg.metrics.interval_ms, 3_600_000);
        assert!(!cfg.metrics.kernel_event_counters_per_cpu_enabled);
        assert_eq!(cfg.outputs_queue_capacity, usize::MAX);
    }

    #[test]
    fn absent_defaults_differ_from_the_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("empty.yaml");
        std::fs::write(&f, "{}\n").unwrap();
        let (_, cfg) = load(f.to_str().unwrap(), &[]).unwrap();
        assert_eq!(cfg.engine.kind, EngineKind::Kmod);
        assert!(cfg.outputs.is_empty());
        assert!(!cfg.webserver.enabled);
        assert!(!cfg.log_stderr);
        assert!(cfg.log_syslog);
        assert_eq!(cfg.metrics.interval_str, "5000");
        assert!(cfg.metrics.kernel_event_counters_per_cpu_enabled);
        assert!(cfg.metrics.jemalloc_stats_enabled);
        assert_eq!(cfg.syscall_event_drops.actions, [DropAction::Ignore]);
    }

    #[test]
    fn cmdline_options() {
        let (raw, cfg) = load(
            &default_yaml(),
            &[
                "load_plugins[]=container",
                "json_output=true",
                "append_output[]={match: {source: syscall}, extra_output: \"x=%proc.name\"}",
                "rules_files=/nonexistent/a.yaml",
                r"static_fields.dotted\.key=v",
            ],
        )
        .unwrap();
        assert_eq!(cfg.plugins.len(), 1);
        assert_eq!(
            cfg.plugins[0].library_path,
            "/usr/share/falco/plugins/libcontainer.so"
        );
        assert_eq!(
            cfg.plugins[0].init_config,
            r#"{"label_max_len":100,"with_size":false}"#
        );
        assert!(cfg.json_output);
        assert_eq!(cfg.append_output[1].match_source, "syscall");
        assert_eq!(cfg.append_output[1].extra_output, "x=%proc.name");
        assert!(cfg.rules_files.is_empty());
        assert_eq!(raw.get_strings("rules_files"), ["/nonexistent/a.yaml"]);
        assert_eq!(
            cfg.static_fields.get("dotted.key").map(String::as_str),
            Some("v")
        );
        // `[a,b]` stays a string.
        let (raw, _) = load(&default_yaml(), &["base_syscalls.custom_set=[a,b]"]).unwrap();
        assert_eq!(raw.get_strings("base_syscalls.custom_set"), ["[a,b]"]);
        let e = load(&default_yaml(), &["novalue"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error parsing config option \"novalue\". Must be of the form key=val or key.subkey=val"
        );
    }

    #[test]
    fn ebpf_kind_of_a_043_config_runs_on_aya() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("falco.yaml");
        std::fs::write(
            &f,
            "engine:\n  kind: ebpf\n  ebpf:\n    probe: /root/.falco/falco-bpf.o\n    buf_size_preset: 4\n",
        )
        .unwrap();
        let (_, cfg) = load(f.to_str().unwrap(), &["engine.ebpf.buf_size_preset=6"]).unwrap();
        assert_eq!(cfg.engine.kind, EngineKind::Aya);
        assert_eq!(cfg.engine.buffers.buf_size_preset, 6);
        let (_, cfg) = load(f.to_str().unwrap(), &["engine.kind=aya"]).unwrap();
        assert_eq!(cfg.engine.kind, EngineKind::Aya);
    }

    #[test]
    fn fatal_messages() {
        let y = default_yaml();
        let msg = |opts: &[&str]| load(&y, opts).unwrap_err().to_string();
        assert_eq!(
            msg(&["engine.kind=ebpf"]),
            format!("Error reading config file ({y}): engine.kind 'ebpf' is not a valid kind.")
        );
        assert_eq!(
            msg(&["engine.kind=gvisor"]),
            format!("Error reading config file ({y}): engine.kind 'gvisor' is not a valid kind.")
        );
        assert_eq!(
            msg(&["rule_matching=foo"]),
            "Unknown rule matching strategy \"foo\"--must be one of first, all"
        );
        assert_eq!(
            msg(&["priority=info2"]),
            "Unknown priority \"info2\"--must be one of emergency, alert, critical, error, warning, notice, informational, debug"
        );
        assert_eq!(
            msg(&["engine.kind=replay"]),
            format!(
                "Error reading config file ({y}): engine.kind is 'replay' but no engine.replay.capture_file specified."
            )
        );
        assert_eq!(
            msg(&["webserver.listen_address=localhost"]),
            format!(
                "Error reading config file ({y}): webserver listen address \"localhost\" is not a valid IP address"
            )
        );
        assert_eq!(
            msg(&["log_level=informational"]),
            "Unknown log level informational"
        );
        assert_eq!(
            msg(&["load_plugins[]=k8saudit"]),
            "Cannot load plugin 'k8saudit': plugin config not found for given name"
        );
        assert_eq!(
            msg(&["file_output.enabled=true", "file_output.filename="]),
            format!(
                "Error reading config file ({y}): file output enabled but no filename in configuration block"
            )
        );
        assert_eq!(
            msg(&["syscall_event_drops.actions[0]=ignore"]),
            format!(
                "Error reading config file ({y}): syscall event drop action \"alert\" does not make sense with the \"ignore\" action"
            )
        );
        assert_eq!(
            msg(&["syscall_event_drops.actions[0]=drop"]),
            format!(
                "Error reading config file ({y}): available actions for syscall event drops are \"ignore\", \"log\", \"alert\", and \"exit\""
            )
        );
        assert_eq!(
            msg(&["capture.mode=some"]),
            format!("Error reading config file ({y}): capture.mode 'some' is not a valid mode.")
        );
        assert_eq!(
            load(&y, &["rule_matching=ALL"]).unwrap().1.rule_matching,
            RuleMatching::All
        );
        assert_eq!(
            msg(&["plugins[0].library_path=../x.so"]),
            format!(
                "Error reading config file({y}): could not load plugins config: plugin library_path '../x.so' resolves outside the plugins directory (/usr/share/falco/plugins/)"
            )
        );
    }

    #[test]
    fn config_files_merge() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let main = d.join("falco.yaml");
        let cd = d.join("config.d");
        std::fs::create_dir(&cd).unwrap();
        std::fs::write(
            &main,
            format!(
                "config_files:\n  - {}\n  - path: {}\n    strategy: add-only\nload_plugins: [a]\nwebserver: {{enabled: true, listen_port: 1}}\nplugins: [{{name: a, library_path: /a.so}}, {{name: container, library_path: libcontainer.so}}]\n",
                cd.display(),
                d.join("extra.yml").display()
            ),
        )
        .unwrap();
        std::fs::write(
            cd.join("b.conf"),
            "load_plugins: [container]\nwebserver: {listen_port: 2}\n",
        )
        .unwrap();
        std::fs::write(cd.join("a.yaml"), "time_format_iso_8601: true\n").unwrap();
        std::fs::write(
            d.join("extra.yml"),
            "webserver: {listen_port: 3}\njson_output: true\n",
        )
        .unwrap();
        let (raw, cfg) = load(main.to_str().unwrap(), &[]).unwrap();
        // Append pushes sequence items; maps are replaced whole; add-only keeps what exists.
        assert_eq!(
            cfg.plugins
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "container"]
        );
        assert!(!cfg.webserver.enabled);
        assert_eq!(cfg.webserver.listen_port, 2);
        assert!(cfg.json_output);
        assert!(cfg.time_format_iso_8601);
        // Every file of a directory, whatever its extension, in path order.
        let listed: Vec<_> = raw.statuses.keys().cloned().collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert_eq!(raw.statuses.len(), 4);

        std::fs::write(cd.join("c.yaml"), "config_files: [/x]\n").unwrap();
        let e = load(main.to_str().unwrap(), &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "Config error: 'config_files' directive in included config file {}.",
                cd.join("c.yaml").display()
            )
        );
        let e = load(
            main.to_str().unwrap(),
            &[&format!("config_files={}", main.display())],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "Config error: 'config_files' directive tried to recursively include main config file: {}.",
                main.display()
            )
        );
    }

    #[test]
    fn packaged_config_d_and_image_iso8601() {
        let up = shared_dir().join("upstream/falco-0.44.1");
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "config.d-falco.container_plugin.yaml",
            "config.d-falco.iso8601_timeformat.yaml",
        ] {
            std::fs::copy(up.join(f), dir.path().join(f)).unwrap();
        }
        let opt = format!("config_files={}", dir.path().display());
        let (raw, cfg) = load(&default_yaml(), &[&opt]).unwrap();
        assert_eq!(cfg.plugins.len(), 1);
        assert!(cfg.time_format_iso_8601);
        assert!(raw.statuses.values().all(|s| s == "ok"));
    }

    #[test]
    fn removed_keys_are_schema_warnings_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("old.yaml");
        let mut text = std::fs::read_to_string(default_yaml()).unwrap();
        text.push_str("grpc:\n  enabled: true\n  bind_address: \"unix:///run/falco/falco.sock\"\n  threadiness: 0\ngrpc_output:\n  enabled: true\n");
        text = text.replace(
            "  replay:\n",
            "  ebpf:\n    probe: ${HOME}/.falco/falco-bpf.o\n  replay:\n",
        );
        std::fs::write(&f, text).unwrap();
        let (raw, cfg) = load(f.to_str().unwrap(), &[]).unwrap();
        assert!(
            raw.statuses
                .values()
                .next()
                .unwrap()
                .starts_with("failed for ")
        );
        assert_eq!(cfg.engine.kind, EngineKind::ModernEbpf);
    }

    /// Every falco.yaml the Helm charts render loads unmodified; only the removed engine kinds
    /// of chart 8.0.5 (ebpf, gvisor) fail, with Falco 0.44.1's own error.
    #[test]
    fn rendered_chart_configs_load() {
        let dir = shared_dir().join("upstream/falco-chart-rendered");
        let tmp = tempfile::tempdir().unwrap();
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("chart-") || !name.ends_with(".yaml") {
                continue;
            }
            let docs = Node::parse_all(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for doc in docs {
                let Some(text) = doc
                    .get("data")
                    .and_then(|d| d.get("falco.yaml"))
                    .and_then(Node::as_str)
                else {
                    continue;
                };
                let f = tmp.path().join(format!("{name}.falco.yaml"));
                std::fs::write(&f, text).unwrap();
                let kind = Node::parse(text)
                    .unwrap()
                    .at("engine.kind")
                    .unwrap()
                    .as_str()
                    .map(str::to_string);
                let res = load(f.to_str().unwrap(), &[]);
                let legacy_ebpf = text.contains("\n  ebpf:");
                match kind.as_deref() {
                    Some("ebpf") if legacy_ebpf => {
                        let (raw, _) = res.unwrap_or_else(|e| panic!("{name}: {e}"));
                        assert_eq!(raw.get_string("engine.kind", ""), "ebpf", "{name}");
                    }
                    Some(k @ ("ebpf" | "gvisor")) => assert_eq!(
                        res.unwrap_err().to_string(),
                        format!(
                            "Error reading config file ({}): engine.kind '{k}' is not a valid kind.",
                            f.display()
                        )
                    ),
                    _ => {
                        let (raw, _) = res.unwrap_or_else(|e| panic!("{name}: {e}"));
                        assert!(raw.statuses.len() == 1, "{name}");
                    }
                }
                n += 1;
            }
        }
        assert!(n >= 13, "only {n} rendered configs found");
    }

    #[test]
    fn unreadable_main_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.yaml");
        std::fs::write(&f, "a: [1, 2\n").unwrap();
        let e = load(f.to_str().unwrap(), &[]).unwrap_err();
        assert_eq!(e.to_string(), "std::exception");
        assert!(
            e.preface()
                .unwrap()
                .starts_with(&format!("Cannot read config file ({}): ", f.display()))
        );
    }

    #[test]
    fn prometheus_intervals() {
        assert_eq!(parse_prometheus_interval("1h"), 3_600_000);
        assert_eq!(parse_prometheus_interval("1m30s"), 90_000);
        assert_eq!(parse_prometheus_interval(" 2 s 5ms"), 2005);
        assert_eq!(
            parse_prometheus_interval("1y1w1d"),
            (365 + 7 + 1) * 86_400_000
        );
        assert_eq!(parse_prometheus_interval("5000"), 0);
        assert_eq!(parse_prometheus_interval("1s1h"), 0);
    }

    #[test]
    fn ip_literals() {
        for ok in [
            "0.0.0.0",
            "127.0.0.1",
            "::",
            "::1",
            "fe80::1%eth0",
            " 10.0.0.1 ",
        ] {
            assert!(is_ip_literal(ok), "{ok}");
        }
        for bad in ["localhost", "1.2.3", "256.0.0.1", "", "01.2.3.4"] {
            assert!(!is_ip_literal(bad), "{bad}");
        }
    }
}
