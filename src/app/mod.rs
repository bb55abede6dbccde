//! Wires the pipeline: start order, signals, reload, statistics at exit. Owns the lifecycle and
//! nothing else.
//!
//! `main` → [`run`] → exit code, as Falco's `falco_run`: the steps of `app.cpp` run in order
//! until one fails or asks to exit, then the teardown steps always run; a fatal error prints
//! `Error: <msg>` (exit 1), an exception escaping a step `Runtime error: <msg>. Exiting.`
//! (exit 1, no teardown). A validated hot reload (watched file change or SIGHUP) ends the run
//! with a restart request, and `main` runs everything again in the same process.

pub mod drops;
pub mod events;
pub mod live;
pub mod log;
pub mod reload;
pub mod rules_glue;
pub mod snapshots;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::{self, Options};
use crate::config::{Config, EngineKind, RawConfig};
use crate::metrics;
use crate::output::{self, Alert, Format, InternalMsg, Outputs, OutputsHandle, Stats};
use crate::server::{Routes, Webserver};
use log::{Level, Logger};

/// How a run ends badly.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A failed step: `Error: <msg>`, exit 1.
    #[error("{0}")]
    Fatal(String),
    /// An exception escaping a step: `Runtime error: <msg>. Exiting.`, exit 1, no teardown.
    #[error("{0}")]
    Runtime(String),
    /// The pidfile could not be written: exit 255.
    #[error("Could not write pid to pidfile {0}. Exiting.")]
    Pidfile(String),
}

/// How a successful run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exit,
    Restart,
}

enum Flow {
    Proceed,
    Exit,
}

type Step = Result<Flow, AppError>;

/// Hands the free pages of mimalloc (the binary's allocator, see main.rs) back to the OS.
/// Start-up frees far more than the event loop allocates again: called when each part of it
/// is over, so that the idle daemon does not keep that memory and later peaks do not add to
/// it.
pub(crate) fn release_free_memory() {
    // SAFETY: mi_collect has no preconditions; it only returns free pages to the OS.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Runs falco with the process arguments and returns its exit code.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().is_some_and(|a| a == "inspect") {
        return crate::pipeline::inspect::main(&args[1..]);
    }
    loop {
        match run(&args, false) {
            Ok(Outcome::Exit) => return ExitCode::SUCCESS,
            Ok(Outcome::Restart) => continue,
            Err(e) => return report(&e),
        }
    }
}

fn report(e: &AppError) -> ExitCode {
    match e {
        AppError::Fatal(msg) => {
            eprintln!("Error: {msg}");
            ExitCode::FAILURE
        }
        AppError::Runtime(msg) => {
            eprintln!("Runtime error: {msg}. Exiting.");
            ExitCode::FAILURE
        }
        AppError::Pidfile(_) => {
            eprintln!("{e}");
            ExitCode::from(255)
        }
    }
}

/// Flags the signal handlers and the restart handler set, and the event loop reads.
#[derive(Debug, Default)]
pub struct Controls {
    pub terminate: AtomicBool,
    pub restart: AtomicBool,
    pub reopen: AtomicBool,
}

/// What the event loop uses to emit alerts: formats them, queues them on the outputs and
/// counts them (final statistics and metrics).
#[derive(Clone)]
pub struct Emitter {
    format: Format,
    outputs: OutputsHandle,
    stats: Arc<Mutex<Stats>>,
    counters: Arc<metrics::Counters>,
}

impl Emitter {
    /// Emits one rule match.
    pub fn alert(&self, alert: &Alert) {
        self.stats
            .lock()
            .expect("stats lock")
            .on_event(&alert.rule, alert.priority);
        self.counters.on_match(&metrics::Match {
            rule: &alert.rule,
            priority: alert.priority,
            source: &alert.source,
            tags: &alert.tags,
            hostname: &self.format.hostname,
            output_fields: &alert.output_fields,
        });
        if !self.outputs.push(self.format.alert(alert), alert.priority) {
            self.counters
                .outputs_queue_drops
                .fetch_add(1, Ordering::SeqCst);
        }
    }

    /// SIGUSR1: file and program outputs close and reopen.
    pub fn reopen(&self) {
        self.outputs.reopen();
    }

    /// Emits one internal message (never filtered by `priority`, not counted as a match).
    pub fn internal(&self, msg: &InternalMsg) {
        if !self.outputs.push(self.format.internal(msg), msg.priority) {
            self.counters
                .outputs_queue_drops
                .fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The state of one run (`falco::app::state`).
struct App {
    args: Vec<String>,
    opts: Options,
    log: Logger,
    raw: RawConfig,
    cfg: Option<Config>,
    hostname: String,
    /// (name, version) of loaded plugins.
    plugins: Vec<(String, String)>,
    loaded_sources: Vec<String>,
    enabled_sources: Vec<String>,
    rules_files: Vec<String>,
    rules_folders: Vec<String>,
    rules_in_load_order: Vec<String>,
    ruleset: Option<crate::engine::ruleset::Ruleset>,
    outputs: Option<Outputs>,
    emitter: Option<Emitter>,
    stats: Arc<Mutex<Stats>>,
    counters: Arc<metrics::Counters>,
    runtime: Option<tokio::runtime::Runtime>,
    webserver: Option<Webserver>,
    metrics_ready: Arc<AtomicBool>,
    /// Driver counters of the live source, refreshed by the event loop for `/metrics`.
    scap_counters: Arc<Mutex<Option<metrics::ScapCounters>>>,
    controls: Arc<Controls>,
    watcher: Option<Arc<Mutex<Option<reload::Watcher>>>>,
    reload_ts_ns: u64,
    start_ts_ns: u64,
}

/// Runs Falco once. `force_dry_run` is the restart handler's validation run.
pub fn run(args: &[String], force_dry_run: bool) -> Result<Outcome, AppError> {
    let mut opts = cli::parse(args.iter().cloned()).map_err(|e| AppError::Fatal(e.to_string()))?;
    if force_dry_run {
        opts.dry_run = true;
    }
    if opts.conf_filename.is_empty() && std::fs::File::open("/etc/falco/falco.yaml").is_ok() {
        opts.conf_filename = "/etc/falco/falco.yaml".to_string();
    } else if !opts.conf_filename.is_empty() && std::fs::File::open(&opts.conf_filename).is_err() {
        return Err(AppError::Fatal(format!(
            "Could not find configuration file at {}",
            opts.conf_filename
        )));
    }
    let mut app = App {
        args: args.to_vec(),
        opts,
        log: Logger::default(),
        raw: RawConfig::default(),
        cfg: None,
        hostname: String::new(),
        plugins: Vec::new(),
        loaded_sources: Vec::new(),
        enabled_sources: Vec::new(),
        rules_files: Vec::new(),
        rules_folders: Vec::new(),
        rules_in_load_order: Vec::new(),
        ruleset: None,
        outputs: None,
        emitter: None,
        stats: Arc::new(Mutex::new(Stats::default())),
        counters: Arc::new(metrics::Counters::default()),
        runtime: None,
        webserver: None,
        metrics_ready: Arc::new(AtomicBool::new(false)),
        scap_counters: Arc::new(Mutex::new(None)),
        controls: Arc::new(Controls::default()),
        watcher: None,
        reload_ts_ns: 0,
        start_ts_ns: output::now_ns(),
    };
    app.run()
}

impl App {
    fn cfg(&self) -> &Config {
        self.cfg
            .as_ref()
            .expect("config is loaded before it is used")
    }

    fn run(&mut self) -> Result<Outcome, AppError> {
        type Action = fn(&mut App) -> Step;
        let steps: [Action; 25] = [
            App::print_help,
            App::print_config_schema,
            App::print_rule_schema,
            App::print_ignored_events,
            App::print_syscall_events,
            App::load_config,
            App::print_kernel_version,
            App::print_version,
            App::print_page_size,
            App::require_config_file,
            App::print_plugin_info,
            App::list_plugins,
            App::load_plugins,
            App::list_fields,
            App::select_event_sources,
            App::validate_rules_files,
            App::load_rules_files,
            App::print_support,
            App::init_outputs,
            App::create_signal_handlers,
            App::pidfile,
            App::configure_interesting_sets,
            App::configure_syscall_buffer_size,
            App::start_webserver,
            App::process_events,
        ];
        let mut result: Result<(), AppError> = Ok(());
        for step in steps {
            match step(self) {
                Ok(Flow::Proceed) => {}
                Ok(Flow::Exit) => break,
                Err(e @ (AppError::Runtime(_) | AppError::Pidfile(_))) => {
                    if let AppError::Runtime(msg) = &e {
                        self.log.error(&format!("Runtime error: {msg}. Exiting."));
                    }
                    return Err(e);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.teardown();
        result?;
        Ok(if self.controls.restart.load(Ordering::SeqCst) {
            Outcome::Restart
        } else {
            Outcome::Exit
        })
    }

    fn teardown(&mut self) {
        // unregister_signal_handlers: the restart handler stops with the handlers.
        if let Some(w) = self.watcher.take()
            && let Some(w) = w.lock().expect("watcher lock").take()
        {
            w.stop();
        }
        // stop_webserver
        if let Some(ws) = self.webserver.take() {
            ws.stop();
        }
        // cleanup_outputs: flush, then print the statistics.
        self.emitter = None;
        if let Some(o) = self.outputs.take() {
            o.stop();
            print!("{}", self.stats.lock().expect("stats lock").format());
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_millis(500));
        }
    }

    fn print_help(&mut self) -> Step {
        if self.opts.help {
            print!("{}", cli::HELP);
            return Ok(Flow::Exit);
        }
        Ok(Flow::Proceed)
    }

    fn print_config_schema(&mut self) -> Step {
        if self.opts.print_config_schema {
            println!("{}", crate::config::schema::CONFIG_SCHEMA);
            return Ok(Flow::Exit);
        }
        Ok(Flow::Proceed)
    }

    fn print_rule_schema(&mut self) -> Step {
        if self.opts.print_rule_schema {
            println!("{}", crate::config::schema::RULE_SCHEMA);
            return Ok(Flow::Exit);
        }
        Ok(Flow::Proceed)
    }

    fn print_ignored_events(&mut self) -> Step {
        if self.opts.print_ignored_events {
            print!("{}", rules_glue::ignored_events()?);
            return Ok(Flow::Exit);
        }
        Ok(Flow::Proceed)
    }

    fn print_syscall_events(&mut self) -> Step {
        if self.opts.list_syscall_events {
            print!("{}", rules_glue::list_events(self.opts.output_fmt)?);
            return Ok(Flow::Exit);
        }
        Ok(Flow::Proceed)
    }

    fn load_config(&mut self) -> Step {
        let env = |name: &str| std::env::var(name).ok();
        let raw = match RawConfig::load(
            &self.opts.conf_filename,
            &self.opts.cmdline_config_options,
            &env,
        ) {
            Ok(raw) => raw,
            Err(e) => {
                if let Some(p) = e.preface() {
                    eprintln!("{p}");
                }
                return Err(AppError::Fatal(e.to_string()));
            }
        };
        let cfg = Config::from_raw(&raw).map_err(|e| AppError::Fatal(e.to_string()))?;
        self.log = Logger {
            level: Level::parse(&cfg.log_level).unwrap_or(Level::Info),
            stderr: cfg.log_stderr,
            syslog: cfg.log_syslog,
            iso8601: cfg.time_format_iso_8601,
        };
        for w in &cfg.warnings {
            self.log.warning(w);
        }
        self.log.info(&format!(
            "Falco version: {} ({})\n",
            crate::version::FALCO_VERSION,
            std::env::consts::ARCH
        ));
        if !self.args.is_empty() {
            self.log
                .debug(&format!("CLI args: falco {}", self.args.join(" ")));
        }
        if !self.opts.conf_filename.is_empty() {
            self.log
                .info("Falco initialized with configuration files:\n");
            for (path, status) in &raw.statuses {
                let level = if status == crate::config::schema::VALIDATION_OK {
                    Level::Info
                } else {
                    Level::Warning
                };
                self.log
                    .log(level, &format!("   {path} | schema validation: {status}\n"));
            }
        }
        self.reload_ts_ns = output::now_ns();
        let mut cfg = cfg;
        if self.opts.unbuffered_outputs {
            cfg.buffered_outputs = false;
        }
        self.raw = raw;
        self.cfg = Some(cfg);
        Ok(Flow::Proceed)
    }

    fn print_kernel_version(&mut self) -> Step {
        if !matches!(
            self.cfg().engine.kind,
            EngineKind::Kmod | EngineKind::ModernEbpf | EngineKind::Aya
        ) {
            return Ok(Flow::Proceed);
        }
        match std::fs::read_to_string("/proc/version") {
            Ok(v) => self.log.info(&format!("System info: {v}")),
            Err(e) => self.log.info(&format!(
                "Cannot read under '/proc/version' (err_message: '{e}', err_code: {}). No info provided, go on.",
                e.raw_os_error().unwrap_or(0)
            )),
        }
        Ok(Flow::Proceed)
    }

    fn print_version(&mut self) -> Step {
        if !self.opts.print_version_info {
            return Ok(Flow::Proceed);
        }
        if self.cfg().json_output {
            println!("{}", crate::version::versions_json(&[]));
        } else {
            print!("{}", crate::version::version_text());
        }
        Ok(Flow::Exit)
    }

    fn print_page_size(&mut self) -> Step {
        if !self.opts.print_page_size {
            return Ok(Flow::Proceed);
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page <= 0 {
            return Err(AppError::Fatal(
                "\nUnable to get the system page size through 'getpagesize()'\n".into(),
            ));
        }
        self.log
            .info(&format!("Your system page size is: {page} bytes\n"));
        Ok(Flow::Exit)
    }

    fn require_config_file(&mut self) -> Step {
        if self.opts.conf_filename.is_empty() {
            return Err(AppError::Fatal(
                "You must create a config file at /etc/falco/falco.yaml or by passing -c".into(),
            ));
        }
        Ok(Flow::Proceed)
    }

    fn print_plugin_info(&mut self) -> Step {
        let wanted = &self.opts.print_plugin_info;
        if wanted.is_empty() {
            return Ok(Flow::Proceed);
        }
        let found = self
            .cfg()
            .plugins
            .iter()
            .find(|p| &p.name == wanted || &p.library_path == wanted);
        if let Some(plugin) = found {
            print!("{}", rules_glue::plugin_info(plugin)?);
            return Ok(Flow::Exit);
        }
        Err(AppError::Fatal(format!(
            "can't find plugin and print its info: {}",
            self.opts.print_plugin_info
        )))
    }

    fn list_plugins(&mut self) -> Step {
        if !self.opts.list_plugins {
            return Ok(Flow::Proceed);
        }
        let names: Vec<String> = self.cfg().plugins.iter().map(|p| p.name.clone()).collect();
        print!("{}", rules_glue::list_plugins(&names)?);
        Ok(Flow::Exit)
    }

    /// The built-in `container` plugin stands in for libcontainer.so; any other plugin library
    /// is not loadable by this build.
    fn load_plugins(&mut self) -> Step {
        self.loaded_sources = vec!["syscall".to_string()];
        self.plugins.clear();
        let plugins = self.cfg().plugins.clone();
        for p in plugins {
            if p.name != rules_glue::CONTAINER_PLUGIN_NAME
                || !p.library_path.ends_with("/libcontainer.so")
            {
                return Err(AppError::Runtime(format!(
                    "cannot load plugin '{}' from {}: falco-rs provides only the built-in 'container' plugin (libcontainer.so)",
                    p.name, p.library_path
                )));
            }
            let version = rules_glue::CONTAINER_PLUGIN_VERSION;
            self.log.info(&format!(
                "Loaded plugin '{}@{version}' from file {}\n",
                p.name, p.library_path
            ));
            self.plugins.push((p.name.clone(), version.to_string()));
        }
        Ok(Flow::Proceed)
    }

    fn list_fields(&mut self) -> Step {
        if !self.opts.list_fields {
            return Ok(Flow::Proceed);
        }
        print!(
            "{}",
            rules_glue::list_fields(
                &self.opts.list_source_fields,
                self.opts.output_fmt,
                self.opts.names_only,
                self.opts.verbose
            )?
        );
        Ok(Flow::Exit)
    }

    fn select_event_sources(&mut self) -> Step {
        self.enabled_sources = self.loaded_sources.clone();
        if self.cfg().engine.kind == EngineKind::Replay {
            return Ok(Flow::Proceed);
        }
        let (enable, disable) = (&self.opts.enable_sources, &self.opts.disable_sources);
        if !enable.is_empty() && !disable.is_empty() {
            return Err(AppError::Fatal(
                "You can not mix --enable-source and --disable-source".into(),
            ));
        }
        if !enable.is_empty() {
            let mut enabled = Vec::new();
            for src in enable {
                if !self.loaded_sources.contains(src) {
                    return Err(AppError::Fatal(format!(
                        "Attempted enabling an unknown event source: {src}"
                    )));
                }
                if !enabled.contains(src) {
                    enabled.push(src.clone());
                }
            }
            self.enabled_sources = enabled;
        } else {
            for src in disable {
                if !self.loaded_sources.contains(src) {
                    return Err(AppError::Fatal(format!(
                        "Attempted disabling an unknown event source: {src}"
                    )));
                }
                self.enabled_sources.retain(|s| s != src);
            }
        }
        if self.enabled_sources.is_empty() {
            return Err(AppError::Fatal(
                "Must enable at least one event source".into(),
            ));
        }
        Ok(Flow::Proceed)
    }

    fn validate_rules_files(&mut self) -> Step {
        if self.opts.validate_rules_filenames.is_empty() {
            return Ok(Flow::Proceed);
        }
        let contents = read_files(&self.opts.validate_rules_filenames)?;
        self.log.info("Validating rules file(s):\n");
        for f in &self.opts.validate_rules_filenames {
            self.log.info(&format!("   {f}\n"));
        }
        let (stdout, failure) =
            rules_glue::validate(&contents, self.cfg(), &self.plugins, &self.opts, &self.log)?;
        print!("{stdout}");
        if let Some(summary) = failure {
            return Err(AppError::Fatal(summary));
        }
        Ok(Flow::Exit)
    }

    fn load_rules_files(&mut self) -> Step {
        let configured: Vec<String> = if self.opts.rules_filenames.is_empty() {
            self.cfg().rules_files.clone()
        } else {
            self.opts.rules_filenames.clone()
        };
        if configured.is_empty() {
            return Err(AppError::Fatal(
                "You must specify at least one rules file/directory via -r or a rules_file entry in falco.yaml".into(),
            ));
        }
        self.log.debug("Configured rules filenames:\n");
        for p in &configured {
            self.log.debug(&format!("   {p}\n"));
        }
        let (files, folders) = resolve_rules_paths(&configured);
        let contents = read_files(&files)?;
        self.rules_files = files;
        self.rules_folders = folders;
        let loaded = rules_glue::load(&contents, self.cfg(), &self.plugins, &self.opts, &self.log)?;
        self.rules_in_load_order = loaded.rule_names;
        self.ruleset = loaded.ruleset;
        if let Some(described) = loaded.described {
            print!("{described}");
            return Ok(Flow::Exit);
        }
        Ok(Flow::Proceed)
    }

    fn print_support(&mut self) -> Step {
        if !self.opts.print_support {
            return Ok(Flow::Proceed);
        }
        let uts = nix::sys::utsname::uname().map_err(|e| AppError::Fatal(e.to_string()))?;
        let s = |o: &std::ffi::OsStr| o.to_string_lossy().into_owned();
        let rules: Vec<serde_json::Value> = self
            .rules_files
            .iter()
            .map(|f| {
                serde_json::json!({"name": f, "variants": [{"content": std::fs::read_to_string(f).unwrap_or_default()}]})
            })
            .collect();
        let versions: serde_json::Value =
            serde_json::from_str(&crate::version::versions_json(&plugin_refs(&self.plugins)))
                .unwrap_or_default();
        let doc = serde_json::json!({
            "cmdline": std::iter::once("falco".to_string()).chain(self.args.iter().cloned()).collect::<Vec<_>>().join(" "),
            "config": self.raw.root.to_support_flow(),
            "engine_info": versions,
            "rules_files": rules,
            "system_info": {"machine": s(uts.machine()), "nodename": s(uts.nodename()), "release": s(uts.release()), "sysname": s(uts.sysname()), "version": s(uts.version())},
            "version": crate::version::FALCO_VERSION,
        });
        let sorted: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_value(doc).unwrap_or_default();
        println!("{}", serde_json::to_string(&sorted).unwrap_or_default());
        Ok(Flow::Exit)
    }

    fn init_outputs(&mut self) -> Step {
        if self.cfg().outputs.is_empty() {
            return Err(AppError::Fatal(
                "No output configured, please make sure at least one output is configured and enabled.".into(),
            ));
        }
        self.hostname = match std::env::var("FALCO_HOSTNAME") {
            Ok(h) => {
                self.log.info(&format!(
                    "Hostname value has been overridden via environment variable to: {h}\n"
                ));
                h
            }
            Err(_) => nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .map_err(|_| AppError::Fatal("Failed to get hostname".into()))?,
        };
        if self.opts.dry_run {
            self.log
                .debug("Skipping outputs initialization in dry-run\n");
            return Ok(Flow::Proceed);
        }
        let cfg = self.cfg().clone();
        let mut sinks = Vec::new();
        for (channel, sink) in cfg.outputs.iter().zip(output::sinks::build(
            &cfg.outputs,
            cfg.json_output,
            cfg.buffered_outputs,
        )) {
            match sink {
                Ok(s) => sinks.push(s),
                Err(e) => self
                    .log
                    .error(&format!("Failed to init output: {}: {e}", channel.name())),
            }
        }
        let outputs = Outputs::start(
            sinks,
            cfg.outputs_queue_capacity,
            Duration::from_millis(cfg.output_timeout_ms),
            self.log.clone(),
        );
        *self.stats.lock().expect("stats lock") = Stats::new(self.rules_in_load_order.clone());
        self.emitter = Some(Emitter {
            format: Format::from_config(&cfg, &self.hostname),
            outputs: outputs.handle(),
            stats: Arc::clone(&self.stats),
            counters: Arc::clone(&self.counters),
        });
        self.outputs = Some(outputs);
        Ok(Flow::Proceed)
    }

    fn create_signal_handlers(&mut self) -> Step {
        if self.opts.dry_run {
            self.log
                .debug("Skipping signal handlers creation in dry-run\n");
            return Ok(Flow::Proceed);
        }
        // The webserver's threadiness sizes the runtime it is served from.
        let workers = usize::try_from(self.cfg().webserver.threadiness)
            .unwrap_or(1)
            .clamp(1, 64);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("falco-rt")
            .enable_all()
            .build()
            .map_err(|e| AppError::Runtime(e.to_string()))?;

        // Restart handler (hot reload), only when watching and something to watch.
        let watcher_slot: Arc<Mutex<Option<reload::Watcher>>> = Arc::new(Mutex::new(None));
        if self.cfg().watch_config_files {
            let mut files = self.raw.files.clone();
            files.extend(self.rules_files.iter().cloned());
            let mut dirs = self.raw.folders.clone();
            dirs.extend(self.rules_folders.iter().cloned());
            let args = self.args.clone();
            let controls = Arc::clone(&self.controls);
            let emitter = self.emitter.clone();
            let watcher = reload::Watcher::start(
                &files,
                &dirs,
                move || match run(&args, true) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.to_string()),
                },
                move || controls.restart.store(true, Ordering::SeqCst),
                move |err| {
                    if let Some(em) = &emitter {
                        em.internal(&output::hot_restart_failure(output::now_ns(), &err));
                    }
                },
            )
            .map_err(|e| AppError::Fatal(e.to_string()))?;
            match watcher {
                Some(w) => {
                    for f in &files {
                        self.log.debug(&format!("Watching file '{f}'"));
                    }
                    for d in &dirs {
                        self.log.debug(&format!("Watching directory '{d}'"));
                    }
                    *watcher_slot.lock().expect("watcher lock") = Some(w);
                }
                None => self
                    .log
                    .debug("Refusing to start restart handler due to nothing to watch"),
            }
        }
        self.watcher = Some(Arc::clone(&watcher_slot));

        use tokio::signal::unix::{SignalKind, signal};
        let _guard = rt.enter();
        for (kind, what) in [
            (SignalKind::interrupt(), 0u8),
            (SignalKind::terminate(), 0),
            (SignalKind::user_defined1(), 1),
            (SignalKind::hangup(), 2),
        ] {
            let mut sig = signal(kind).map_err(|e| AppError::Fatal(e.to_string()))?;
            let controls = Arc::clone(&self.controls);
            let watcher = Arc::clone(&watcher_slot);
            rt.spawn(async move {
                while sig.recv().await.is_some() {
                    match what {
                        0 => controls.terminate.store(true, Ordering::SeqCst),
                        1 => controls.reopen.store(true, Ordering::SeqCst),
                        _ => {
                            if let Some(w) = watcher.lock().expect("watcher lock").as_ref() {
                                w.trigger();
                            }
                        }
                    }
                }
            });
        }
        drop(_guard);
        self.runtime = Some(rt);
        Ok(Flow::Proceed)
    }

    fn pidfile(&mut self) -> Step {
        if self.opts.dry_run {
            self.log.debug("Skipping pidfile creation in dry-run\n");
            return Ok(Flow::Proceed);
        }
        if self.opts.pidfilename.is_empty() {
            return Ok(Flow::Proceed);
        }
        let pid = std::process::id().to_string();
        if std::fs::write(&self.opts.pidfilename, pid).is_err() {
            let e = AppError::Pidfile(self.opts.pidfilename.clone());
            self.log.error(&format!("{e}\n"));
            return Err(e);
        }
        Ok(Flow::Proceed)
    }

    /// The syscall selection's user-visible part: rules that use syscalls the capture leaves
    /// out (the high-volume I/O set without `base_syscalls.all`, or `!name` exclusions) are
    /// reported on stderr, as `check_for_rules_unsupported_events` does.
    fn configure_interesting_sets(&mut self) -> Step {
        use std::collections::BTreeSet;
        let Some(ruleset) = &self.ruleset else {
            return Ok(Flow::Proceed);
        };
        let rules: BTreeSet<String> = ruleset
            .enabled_codes()
            .iter()
            .filter_map(crate::event::table::name_of)
            .map(str::to_string)
            .collect();
        let cfg = self.cfg();
        let base = crate::driver::syscalls::BaseSyscalls {
            custom_set: cfg.base_syscalls_custom_set.clone(),
            repair: cfg.base_syscalls_repair,
            all: cfg.base_syscalls_all,
        };
        let selected = crate::driver::syscalls::select(&rules, &base);
        let excluded: BTreeSet<&str> = crate::driver::syscalls::IGNORED_SET
            .iter()
            .copied()
            .chain(
                cfg.base_syscalls_custom_set
                    .iter()
                    .filter_map(|n| n.strip_prefix('!')),
            )
            .collect();
        let unsupported: Vec<&str> = rules
            .iter()
            .map(String::as_str)
            .filter(|n| excluded.contains(n) && !selected.contains(*n))
            .collect();
        if !unsupported.is_empty() {
            eprintln!(
                "Loaded rules match syscalls that are not activated (e.g. were removed via config settings such as no -A flag or negative base_syscalls elements) or unsupported with current configuration: warning (unsupported-evttype): {}",
                unsupported.join(", ")
            );
            eprintln!(
                "If syscalls in rules include high volume syscalls (-> activate via `-A` flag), else syscalls may have been removed via base_syscalls option or might be associated with syscalls undefined on your architecture (https://marcin.juszkiewicz.com.pl/download/tables/syscalls.html)"
            );
        }
        Ok(Flow::Proceed)
    }

    fn configure_syscall_buffer_size(&mut self) -> Step {
        if !matches!(
            self.cfg().engine.kind,
            EngineKind::Kmod | EngineKind::ModernEbpf | EngineKind::Aya
        ) {
            return Ok(Flow::Proceed);
        }
        let index = self.cfg().engine.buffers.buf_size_preset;
        if !(1..=10).contains(&index) {
            return Err(AppError::Fatal(
                "The 'buf_size_preset' value must be between '1' and '10'\n".into(),
            ));
        }
        let chosen: u64 = 1 << (19 + index);
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        if page > 0 {
            if !chosen.is_multiple_of(page) {
                return Err(AppError::Fatal(format!(
                    "The chosen syscall buffer size '{chosen}' is not a multiple of your system page size '{page}'. Please configure a greater 'buf_size_preset' value in the Falco configuration file\n"
                )));
            }
            if chosen / page <= 2 {
                return Err(AppError::Fatal(format!(
                    "The chosen syscall buffer size '{chosen}' is not greater than '2 * {page}' where '{page}' is your system page size. Please configure a greater 'buf_size_preset' value in the Falco configuration file\n"
                )));
            }
        }
        self.log.info(&format!(
            "The chosen syscall buffer dimension is: {chosen} bytes ({} MBs)\n",
            chosen / (1024 * 1024)
        ));
        Ok(Flow::Proceed)
    }

    fn metrics_info(&self) -> metrics::Info {
        let cfg = self.cfg();
        let base = |p: &str| {
            std::path::Path::new(p)
                .file_name()
                .map_or(p.to_string(), |n| n.to_string_lossy().into_owned())
        };
        metrics::Info {
            rules_files: self
                .rules_files
                .iter()
                .map(|f| (base(f), metrics::sha256_file(f)))
                .collect(),
            config_files: self
                .raw
                .files
                .iter()
                .map(|f| (base(f), metrics::sha256_file(f)))
                .collect(),
            rules_counters_enabled: cfg.metrics.rules_counters_enabled,
            kernel_counters_enabled: cfg.metrics.kernel_event_counters_enabled
                || cfg.metrics.kernel_event_counters_per_cpu_enabled,
            kernel_counters_per_cpu_enabled: cfg.metrics.kernel_event_counters_per_cpu_enabled,
            libbpf_stats_enabled: cfg.metrics.libbpf_stats_enabled
                && std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
                    .is_ok_and(|v| v.trim() == "1"),
            state_counters_enabled: cfg.metrics.state_counters_enabled,
            resource_utilization_enabled: cfg.metrics.resource_utilization_enabled,
            falco_events_enabled: cfg.metrics.falco_events_enabled,
            engines: self
                .enabled_sources
                .iter()
                .map(|s| (engine_name(cfg.engine.kind).to_string(), s.clone()))
                .collect(),
            kernel_release: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            hostname: self.hostname.clone(),
            reload_ts_ns: self.reload_ts_ns,
            start_ts_ns: self.start_ts_ns,
            host_boot_ts_ns: metrics::host_boot_ts_ns(),
            num_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        }
    }

    fn start_webserver(&mut self) -> Step {
        let cfg = self.cfg().clone();
        if cfg.engine.kind == EngineKind::Replay || !cfg.webserver.enabled {
            return Ok(Flow::Proceed);
        }
        if self.opts.dry_run {
            self.log.debug("Skipping starting webserver in dry-run\n");
            return Ok(Flow::Proceed);
        }
        if cfg.metrics.enabled {
            self.check_metrics_config()?;
        }
        let ws = &cfg.webserver;
        self.log.info(&format!(
            "Starting health webserver with threadiness {}, listening on {}:{}{}\n",
            ws.threadiness,
            ws.listen_address,
            ws.listen_port,
            if ws.ssl_enabled { " (SSL)" } else { "" }
        ));
        let metrics_fn: Option<crate::server::MetricsFn> =
            if cfg.metrics.enabled && ws.prometheus_metrics_enabled {
                let info = self.metrics_info();
                let counters = Arc::clone(&self.counters);
                let drops = self
                    .outputs
                    .as_ref()
                    .map(|o| Arc::clone(o.handle().counters()));
                let scap_counters = Arc::clone(&self.scap_counters);
                Some(Arc::new(move || {
                    if let Some(d) = &drops {
                        counters
                            .outputs_queue_drops
                            .store(d.drops.load(Ordering::SeqCst), Ordering::SeqCst);
                    }
                    let scap = scap_counters.lock().expect("scap counters lock").clone();
                    metrics::render_prometheus(&info, &counters, scap.as_ref(), output::now_ns())
                }))
            } else {
                None
            };
        let routes = Routes {
            healthz: ws.k8s_healthz_endpoint.clone(),
            versions: crate::version::versions_json(&plugin_refs(&self.plugins)),
            metrics: metrics_fn,
            metrics_ready: Arc::clone(&self.metrics_ready),
        };
        let rt = self.runtime.as_ref().ok_or_else(|| {
            AppError::Runtime("an error occurred while starting webserver".into())
        })?;
        let port = u16::try_from(ws.listen_port).unwrap_or(0);
        let server = Webserver::start(
            rt.handle(),
            &ws.listen_address,
            port,
            ws.ssl_enabled.then_some(ws.ssl_certificate.as_str()),
            routes,
        )
        .map_err(|e| {
            if let crate::server::ServerError::Start { address, source } = &e {
                self.log.error(&format!(
                    "falco_webserver: cannot listen on {address}: {source}"
                ));
            }
            AppError::Runtime(e.to_string())
        })?;
        self.webserver = Some(server);
        Ok(Flow::Proceed)
    }

    /// `init_stats_writer`'s checks of the metrics settings.
    fn check_metrics_config(&self) -> Result<(), AppError> {
        let m = &self.cfg().metrics;
        if m.interval_ms < 100 {
            return Err(AppError::Fatal("Metrics interval must have a minimum value of 100ms and reflect a Prometheus compliant time duration format: https://prometheus.io/docs/prometheus/latest/querying/basics/#time-durations. ".into()));
        }
        if m.interval_str.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::Fatal("Metrics interval was passed as numeric value without Prometheus time unit. Please specify a time unit".into()));
        }
        if !(m.output_rule
            || !m.output_file.is_empty()
            || self.cfg().webserver.prometheus_metrics_enabled)
        {
            return Err(AppError::Fatal("Metrics are enabled with no output configured. Please enable at least one output channel ('metrics.output_rule', 'metrics.output_file' or 'webserver.prometheus_metrics_enabled')".into()));
        }
        self.log.info(&format!(
            "Setting metrics interval to {}, equivalent to {} (ms)\n",
            m.interval_str, m.interval_ms
        ));
        Ok(())
    }

    fn process_events(&mut self) -> Step {
        if self.cfg().metrics.enabled && (self.opts.dry_run || !self.cfg().webserver.enabled) {
            self.check_metrics_config()?;
        }
        if self.opts.dry_run {
            return Ok(Flow::Exit);
        }
        let kind = self.cfg().engine.kind;
        if kind != EngineKind::Replay {
            self.log.info(&format!(
                "Loaded event sources: {}",
                self.loaded_sources.join(", ")
            ));
            self.log.info(&format!(
                "Enabled event sources: {}",
                self.enabled_sources.join(", ")
            ));
        }
        let emitter = self
            .emitter
            .clone()
            .ok_or_else(|| AppError::Fatal("outputs are not initialized".into()))?;
        // loading the rules is over: its parse trees are freed
        release_free_memory();
        match kind {
            EngineKind::Nodriver => {
                // Nothing to open: the sources are "open" as soon as they are announced.
                self.metrics_ready.store(true, Ordering::SeqCst);
                for src in &self.enabled_sources {
                    self.log
                        .info(&format!("Opening '{src}' source with no driver"));
                }
                self.wait_without_events(&emitter);
                Ok(Flow::Proceed)
            }
            EngineKind::Replay => {
                let ctx = self.loop_context(emitter);
                let ruleset = self
                    .ruleset
                    .as_ref()
                    .ok_or_else(|| AppError::Fatal("no ruleset loaded".into()))?;
                events::run_replay(self.cfg(), ruleset, &ctx)?;
                Ok(Flow::Proceed)
            }
            EngineKind::Kmod | EngineKind::ModernEbpf | EngineKind::Aya => {
                let ctx = self.loop_context(emitter);
                let ruleset = self
                    .ruleset
                    .as_ref()
                    .ok_or_else(|| AppError::Fatal("no ruleset loaded".into()))?;
                live::run_live(self.cfg(), ruleset, &ctx)?;
                Ok(Flow::Proceed)
            }
        }
    }

    fn loop_context(&self, emitter: Emitter) -> rules_glue::LoopContext {
        rules_glue::LoopContext {
            controls: Arc::clone(&self.controls),
            emitter,
            log: self.log.clone(),
            metrics_ready: Arc::clone(&self.metrics_ready),
            duration_s: self.opts.duration_to_tot,
            hostname: self.hostname.clone(),
            verbose: self.opts.verbose,
            scap_counters: Arc::clone(&self.scap_counters),
            snapshots: std::cell::RefCell::new(snapshots::Snapshots::new(
                self.cfg(),
                self.metrics_info(),
                Arc::clone(&self.counters),
                (self.cfg().engine.kind != EngineKind::Replay)
                    .then(|| engine_name(self.cfg().engine.kind)),
                &self.log,
            )),
        }
    }

    /// The event loop of a source that produces no events: only signals and reloads.
    fn wait_without_events(&mut self, _emitter: &Emitter) {
        loop {
            if self.controls.terminate.load(Ordering::SeqCst) {
                self.log.info("SIGINT received, exiting...");
                break;
            }
            if self.controls.restart.load(Ordering::SeqCst) {
                self.log.info("SIGHUP received, restarting...");
                break;
            }
            if self.controls.reopen.swap(false, Ordering::SeqCst) {
                self.log.info("SIGUSR1 received, reopening outputs...");
                if let Some(o) = &self.outputs {
                    o.handle().reopen();
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.after_loop();
    }

    fn after_loop(&self) {
        eprint!(
            "Syscall event drop monitoring:\n   - event drop detected: 0 occurrences\n   - num times actions taken: 0\n"
        );
    }
}

fn plugin_refs(plugins: &[(String, String)]) -> Vec<(&str, &str)> {
    plugins
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// `scap.engine_name` of an engine kind.
fn engine_name(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Kmod => "kmod",
        EngineKind::ModernEbpf | EngineKind::Aya => "modern_bpf",
        EngineKind::Replay => "savefile",
        EngineKind::Nodriver => "nodriver",
    }
}

/// `read_rules_file_directory`: directories expand to their regular `*.yaml`/`*.yml` files,
/// sorted; file entries not ending in `.yaml`/`.yml` are ignored.
pub fn resolve_rules_paths(paths: &[String]) -> (Vec<String>, Vec<String>) {
    let is_yaml = |p: &str| p.ends_with(".yaml") || p.ends_with(".yml");
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for p in paths {
        let path = std::path::Path::new(p);
        if path.is_dir() {
            folders.push(p.clone());
            files.extend(
                crate::config::folder_files(path)
                    .into_iter()
                    .filter(|e| is_yaml(e)),
            );
        } else if is_yaml(p) {
            files.push(p.clone());
        }
    }
    (files, folders)
}

/// `read_files`: every file's content, or `Could not open file <f> for reading`.
pub fn read_files(files: &[String]) -> Result<Vec<(String, String)>, AppError> {
    files
        .iter()
        .map(|f| {
            std::fs::read(f)
                .map(|b| (f.clone(), String::from_utf8_lossy(&b).into_owned()))
                .map_err(|_| AppError::Fatal(format!("Could not open file {f} for reading")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_paths() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in ["b.yaml", "a.yml", "c.txt"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let ds = d.to_string_lossy().into_owned();
        let (files, folders) =
            resolve_rules_paths(&[ds.clone(), "/x/rules.json".into(), "/x/missing.yaml".into()]);
        assert_eq!(
            files,
            [
                format!("{ds}/a.yml"),
                format!("{ds}/b.yaml"),
                "/x/missing.yaml".to_string()
            ]
        );
        assert_eq!(folders, [ds]);
        let e = read_files(&["/x/missing.yaml".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Could not open file /x/missing.yaml for reading"
        );
    }
}
