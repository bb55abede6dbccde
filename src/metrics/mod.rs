//! Metrics: the counters falco-rs keeps (rule matches, falco-exporter events, queue drops,
//! timestamps) and their Prometheus text exposition as Falco 0.44.1 writes it
//! (`falco_metrics.cpp`): HELP and TYPE repeated before every sample, labels sorted by key and
//! not escaped, integers in decimal, doubles with six decimals. Knows nothing about how the
//! numbers are produced: `app` feeds matches in and asks for a rendering per request.
//!
//! Beyond Falco: the counter `falco_events{hostname,k8s_ns_name,k8s_pod_name,priority,rule,
//! source,tags}` of the deprecated falco-exporter (label values derived as the exporter did),
//! on by default when Prometheus metrics are on (`metrics.falco_events_enabled`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::config::Priority;

/// The HELP text of every Falco metric.
pub const HELP: &str = "https://falco.org/docs/metrics/";

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i128),
    Double(f64),
}

/// One exposed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub kind: Kind,
    pub labels: Vec<(String, String)>,
    pub value: Number,
    /// Appended to the HELP line (the deprecated enter-drop counters).
    pub help_suffix: &'static str,
}

impl Sample {
    pub fn new(name: &str, kind: Kind, value: Number) -> Sample {
        Sample {
            name: name.to_string(),
            kind,
            labels: Vec::new(),
            value,
            help_suffix: "",
        }
    }

    pub fn label(mut self, k: &str, v: &str) -> Sample {
        self.labels.push((k.to_string(), v.to_string()));
        self
    }
}

/// Label keys: anything outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_label_key(k: &str) -> String {
    k.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Renders samples in Falco's layout.
pub fn render(samples: &[Sample]) -> String {
    let mut out = String::new();
    for s in samples {
        let kind = match s.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(out, "# HELP {} {HELP}{}", s.name, s.help_suffix);
        let _ = writeln!(out, "# TYPE {} {kind}", s.name);
        out.push_str(&s.name);
        if !s.labels.is_empty() {
            let mut labels: Vec<(String, &str)> = s
                .labels
                .iter()
                .map(|(k, v)| (sanitize_label_key(k), v.as_str()))
                .collect();
            labels.sort_by(|a, b| a.0.cmp(&b.0));
            let body = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(",");
            let _ = write!(out, "{{{body}}}");
        }
        match s.value {
            Number::Int(i) => {
                let _ = writeln!(out, " {i}");
            }
            Number::Double(d) => {
                let _ = writeln!(out, " {d:.6}");
            }
        }
    }
    out
}

/// One rule's match counter (`falcosecurity_falco_rules_matches_total`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RuleKey {
    rule: String,
    priority: u8,
    source: String,
    tags: Vec<String>,
}

/// One falco-exporter label set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct EventKey {
    hostname: String,
    k8s_ns_name: String,
    k8s_pod_name: String,
    priority: u8,
    rule: String,
    source: String,
    tags: String,
}

/// The counters of one run (reset on restart, as Falco's).
#[derive(Debug, Default)]
pub struct Counters {
    /// Rule matches, in first-match order.
    rules: Mutex<Vec<(RuleKey, u64)>>,
    events: Mutex<BTreeMap<EventKey, u64>>,
    /// `falco.outputs_queue_num_drops`.
    pub outputs_queue_drops: AtomicU64,
}

/// What one alert contributes to the counters.
pub struct Match<'a> {
    pub rule: &'a str,
    pub priority: Priority,
    pub source: &'a str,
    pub tags: &'a [String],
    pub hostname: &'a str,
    pub output_fields: &'a BTreeMap<String, Value>,
}

/// The exporter's string form of an output field: absent `""`, null `<NA>`, strings as-is,
/// anything else JSON-dumped.
fn exporter_field(fields: &BTreeMap<String, Value>, key: &str) -> String {
    match fields.get(key) {
        None => String::new(),
        Some(Value::Null) => "<NA>".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl Counters {
    /// Counts one rule match.
    pub fn on_match(&self, m: &Match<'_>) {
        let mut tags = m.tags.to_vec();
        tags.sort();
        tags.dedup();
        let key = RuleKey {
            rule: m.rule.to_string(),
            priority: m.priority.number(),
            source: m.source.to_string(),
            tags: tags.clone(),
        };
        {
            let mut rules = self.rules.lock().expect("rules counters lock");
            match rules.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => rules.push((key, 1)),
            }
        }
        let ekey = EventKey {
            hostname: m.hostname.to_string(),
            k8s_ns_name: exporter_field(m.output_fields, "k8s.ns.name"),
            k8s_pod_name: exporter_field(m.output_fields, "k8s.pod.name"),
            priority: m.priority.number(),
            rule: m.rule.to_string(),
            source: m.source.to_string(),
            tags: format!(",{},", tags.join(",")),
        };
        *self
            .events
            .lock()
            .expect("events counters lock")
            .entry(ekey)
            .or_insert(0) += 1;
    }

    /// Total matches of a rule (any label set).
    pub fn matches_of(&self, rule: &str) -> u64 {
        self.rules
            .lock()
            .expect("rules counters lock")
            .iter()
            .filter(|(k, _)| k.rule == rule)
            .map(|(_, n)| *n)
            .sum()
    }

    /// `falcosecurity_falco_rules_matches_total` samples (rules with a count > 0).
    pub fn rule_samples(&self) -> Vec<Sample> {
        self.rules
            .lock()
            .expect("rules counters lock")
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| {
                let mut s = Sample::new(
                    "falcosecurity_falco_rules_matches_total",
                    Kind::Counter,
                    Number::Int(i128::from(*n)),
                )
                .label("priority", &k.priority.to_string())
                .label("rule_name", &k.rule)
                .label("source", &k.source);
                for t in &k.tags {
                    s = s.label(&format!("tag_{t}"), "true");
                }
                s
            })
            .collect()
    }

    /// The falco-exporter block: one HELP/TYPE header, then every label set, client_golang
    /// style (sorted label names, escaped values).
    pub fn render_falco_events(&self) -> String {
        let events = self.events.lock().expect("events counters lock");
        if events.is_empty() {
            return String::new();
        }
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        let mut out = String::from("# HELP falco_events \n# TYPE falco_events counter\n");
        for (k, n) in events.iter() {
            let _ = writeln!(
                out,
                "falco_events{{hostname=\"{}\",k8s_ns_name=\"{}\",k8s_pod_name=\"{}\",priority=\"{}\",rule=\"{}\",source=\"{}\",tags=\"{}\"}} {n}",
                esc(&k.hostname),
                esc(&k.k8s_ns_name),
                esc(&k.k8s_pod_name),
                k.priority,
                esc(&k.rule),
                esc(&k.source),
                esc(&k.tags)
            );
        }
        out
    }
}

/// Everything `/metrics` shows besides the counters.
#[derive(Debug, Clone, Default)]
pub struct Info {
    /// (basename, sha256) of every loaded rules file.
    pub rules_files: Vec<(String, String)>,
    /// (basename, sha256) of every loaded config file.
    pub config_files: Vec<(String, String)>,
    pub rules_counters_enabled: bool,
    /// `metrics.kernel_event_counters_enabled` (or the per-CPU switch, which implies it).
    pub kernel_counters_enabled: bool,
    pub kernel_counters_per_cpu_enabled: bool,
    /// `metrics.libbpf_stats_enabled` with `kernel.bpf_stats_enabled=1`.
    pub libbpf_stats_enabled: bool,
    pub state_counters_enabled: bool,
    pub resource_utilization_enabled: bool,
    pub falco_events_enabled: bool,
    /// `scap.engine_name` per enabled source, e.g. ("modern_bpf", "syscall").
    pub engines: Vec<(String, String)>,
    pub kernel_release: String,
    pub hostname: String,
    pub reload_ts_ns: u64,
    pub start_ts_ns: u64,
    pub host_boot_ts_ns: u64,
    pub num_cpus: u64,
}

/// Kernel-side counters of the syscall source, as `/metrics` exposes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScapCounters {
    pub n_evts: u64,
    pub n_drops: u64,
    pub n_drops_scratch_map: u64,
    /// Exit-event buffer drops: clone_fork, execve, connect, open, dir_file, other_interest,
    /// close, proc.
    pub drops_buffer_exit: [u64; 8],
    /// State counters: threads and fds in the tables, table activity, and threads not added
    /// because the table was full.
    pub n_threads: u64,
    pub n_fds: u64,
    pub state: crate::state::parse::StateCounters,
    pub n_drops_full_threadtable: u64,
    /// (events, drops) of each possible CPU.
    pub per_cpu: Vec<(u64, u64)>,
    /// (program name, run_cnt, run_time_ns) of each loaded BPF program.
    pub progs: Vec<(String, u64, u64)>,
}

/// A libs metric's Prometheus name (falco-runtime.md §5.3): `falcosecurity_<subsystem>_<metric>_`
/// without the unit-like parts, the unit suffix appended, sanitised.
fn prometheus_name(subsystem: &str, metric: &str, unit_suffix: &str) -> String {
    let re = regex::Regex::new("(_kb|_bytes|_mb|_perc|_percentage|_ratio|_ns|_ts|_sec|_total)")
        .expect("valid regex");
    let base = format!("falcosecurity_{subsystem}_{metric}_");
    sanitize_name(&format!("{}{unit_suffix}", re.replace_all(&base, "")))
}

/// Drop categories of `falcosecurity_scap_n_drops_buffer_total{dir="exit"}`, in Falco's order.
pub const DROP_CATEGORIES: [&str; 8] = [
    "clone_fork",
    "execve",
    "connect",
    "open",
    "dir_file",
    "other_interest",
    "close",
    "proc",
];

/// The full `/metrics` body. `scap` holds the driver counters of a live source.
pub fn render_prometheus(
    info: &Info,
    counters: &Counters,
    scap: Option<&ScapCounters>,
    now_ns: u64,
) -> String {
    use Kind::*;
    let int = |v: u64| Number::Int(i128::from(v));
    let mut s = vec![
        Sample::new("falcosecurity_falco_version_info", Gauge, int(1))
            .label("version", crate::version::FALCO_VERSION),
    ];
    for (f, sha) in &info.rules_files {
        s.push(
            Sample::new("falcosecurity_falco_sha256_rules_files_info", Gauge, int(1))
                .label("file_name", f)
                .label("sha256", sha),
        );
    }
    for (f, sha) in &info.config_files {
        s.push(
            Sample::new(
                "falcosecurity_falco_sha256_config_files_info",
                Gauge,
                int(1),
            )
            .label("file_name", f)
            .label("sha256", sha),
        );
    }
    if info.rules_counters_enabled {
        s.extend(counters.rule_samples());
    }
    for (engine, source) in &info.engines {
        s.push(
            Sample::new("falcosecurity_scap_engine_name_info", Gauge, int(1))
                .label("engine_name", engine)
                .label("evt_source", source),
        );
    }
    if let Some(c) = scap.filter(|_| info.kernel_counters_enabled) {
        s.push(Sample::new(
            "falcosecurity_scap_n_evts_total",
            Counter,
            int(c.n_evts),
        ));
        for (name, v) in DROP_CATEGORIES.iter().zip(c.drops_buffer_exit) {
            s.push(
                Sample::new("falcosecurity_scap_n_drops_buffer_total", Counter, int(v))
                    .label("dir", "exit")
                    .label("drop", name),
            );
        }
        s.push(Sample::new(
            "falcosecurity_scap_n_drops_scratch_map_total",
            Counter,
            int(c.n_drops_scratch_map),
        ));
        s.push(Sample::new(
            "falcosecurity_scap_n_drops_total",
            Counter,
            int(c.n_drops),
        ));
        if info.kernel_counters_per_cpu_enabled {
            for (cpu, (evts, drops)) in c.per_cpu.iter().enumerate() {
                let cpu = cpu.to_string();
                s.push(
                    Sample::new("falcosecurity_scap_n_evts_cpu_total", Counter, int(*evts))
                        .label("cpu", &cpu),
                );
                s.push(
                    Sample::new("falcosecurity_scap_n_drops_cpu_total", Counter, int(*drops))
                        .label("cpu", &cpu),
                );
            }
        }
        if info.libbpf_stats_enabled {
            for (prog, run_cnt, run_time_ns) in &c.progs {
                let name =
                    |m: &str, unit: &str| prometheus_name("scap", &format!("{prog}.{m}"), unit);
                let avg = run_time_ns.checked_div(*run_cnt).unwrap_or(0);
                s.push(Sample::new(
                    &name("run_cnt", "total"),
                    Counter,
                    int(*run_cnt),
                ));
                s.push(Sample::new(
                    &name("run_time_ns", "nanoseconds_total"),
                    Counter,
                    int(*run_time_ns),
                ));
                s.push(Sample::new(
                    &name("avg_time_ns", "nanoseconds"),
                    Gauge,
                    int(avg),
                ));
            }
        }
    }
    if info.resource_utilization_enabled
        && let Some(res) = resource_utilization()
    {
        s.extend(res);
    }
    if let Some(c) = scap.filter(|_| info.state_counters_enabled) {
        s.push(Sample::new(
            "falcosecurity_scap_n_threads_total",
            Gauge,
            int(c.n_threads),
        ));
        s.push(Sample::new(
            "falcosecurity_scap_n_fds_total",
            Gauge,
            int(c.n_fds),
        ));
        // libsinsp's state counters in its order. The fd/thread lookup counters stay 0: they
        // count hits of libsinsp's last-accessed caches, which falco-rs does not have (its
        // look-ups follow a different pattern, so any count would not mean the same thing).
        let st = &c.state;
        for (name, v) in [
            ("n_noncached_fd_lookups", 0),
            ("n_cached_fd_lookups", 0),
            ("n_failed_fd_lookups", 0),
            ("n_added_fds", st.added_fds),
            ("n_removed_fds", st.removed_fds),
            ("n_stored_evts", st.stored_evts),
            ("n_store_evts_drops", st.store_evts_drops),
            ("n_retrieved_evts", st.retrieved_evts),
            ("n_retrieve_evts_drops", st.retrieve_evts_drops),
            ("n_noncached_thread_lookups", 0),
            ("n_cached_thread_lookups", 0),
            ("n_failed_thread_lookups", 0),
            ("n_added_threads", st.added_threads),
            ("n_removed_threads", st.removed_threads),
            ("n_drops_full_threadtable", c.n_drops_full_threadtable),
        ] {
            s.push(Sample::new(
                &format!("falcosecurity_scap_{name}_total"),
                Counter,
                int(v),
            ));
        }
    }
    for drop in [
        "clone_fork",
        "execve",
        "connect",
        "open",
        "dir_file",
        "other_interest",
    ] {
        let mut d = Sample::new("falcosecurity_scap_n_drops_buffer_total", Counter, int(0))
            .label("dir", "enter")
            .label("drop", drop);
        d.help_suffix = " (DEPRECATED: enter events are no longer tracked in falcosecurity/libs)";
        s.push(d);
    }
    s.push(
        Sample::new("falcosecurity_falco_kernel_release_info", Gauge, int(1))
            .label("kernel_release", &info.kernel_release),
    );
    s.push(
        Sample::new("falcosecurity_evt_hostname_info", Gauge, int(1))
            .label("hostname", &info.hostname),
    );
    s.push(Sample::new(
        "falcosecurity_falco_outputs_queue_num_drops_total",
        Counter,
        int(counters.outputs_queue_drops.load(Ordering::SeqCst)),
    ));
    s.push(Sample::new(
        "falcosecurity_falco_reload_timestamp_nanoseconds",
        Gauge,
        int(info.reload_ts_ns),
    ));
    s.push(Sample::new(
        "falcosecurity_falco_start_timestamp_nanoseconds",
        Gauge,
        int(info.start_ts_ns),
    ));
    s.push(Sample::new(
        "falcosecurity_falco_duration_seconds_total",
        Counter,
        int(now_ns.saturating_sub(info.start_ts_ns) / 1_000_000_000),
    ));
    s.push(Sample::new(
        "falcosecurity_falco_host_boot_timestamp_nanoseconds",
        Gauge,
        int(info.host_boot_ts_ns),
    ));
    s.push(Sample::new(
        "falcosecurity_falco_host_num_cpus_total",
        Gauge,
        int(info.num_cpus),
    ));
    let mut out = render(&s);
    if info.falco_events_enabled {
        out.push_str(&counters.render_falco_events());
    }
    out
}

/// Falco's resource-utilisation gauges from /proc (memory in bytes, as Prometheus wants).
fn resource_utilization() -> Option<Vec<Sample>> {
    use Kind::*;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let pss_kb = std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mi = |key: &str| -> f64 {
        meminfo
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let host_used_kb = mi("MemTotal:") - mi("MemAvailable:");
    let procs_running = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("procs_running"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<i128>().ok())
        })
        .unwrap_or(0);
    let open_fds = std::fs::read_to_string("/proc/sys/fs/file-nr")
        .ok()
        .and_then(|t| {
            t.split_whitespace()
                .next()
                .and_then(|v| v.parse::<i128>().ok())
        })
        .unwrap_or(0);
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| {
            t.split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    // utime, stime and starttime of /proc/self/stat (fields 14, 15 and 22).
    let cpu_perc = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            let rest = t.rsplit_once(')')?.1;
            let f: Vec<f64> = rest
                .split_whitespace()
                .map(|v| v.parse::<f64>().unwrap_or(0.0))
                .collect();
            let (utime, stime, start) = (*f.get(11)?, *f.get(12)?, *f.get(19)?);
            let elapsed = uptime - start / hz;
            (hz > 0.0 && elapsed > 0.0).then(|| round1(100.0 * (utime + stime) / hz / elapsed))
        })
        .unwrap_or(0.0);
    // The `cpu ` line of /proc/stat: 100 - idle share of the first seven columns.
    let host_cpu_perc = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("cpu "))?;
            let v: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .take(7)
                .map(|x| x.parse::<f64>().unwrap_or(0.0))
                .collect();
            let sum: f64 = v.iter().sum();
            let idle = *v.get(3)?;
            (sum > 0.0).then(|| round1(100.0 - idle * 100.0 / sum))
        })
        .unwrap_or(0.0);
    let cgroup_mem = std::env::var("FALCO_CGROUP_MEM_PATH")
        .unwrap_or_else(|_| "/sys/fs/cgroup/memory/memory.usage_in_bytes".to_string());
    let container_mem = std::fs::read_to_string(cgroup_mem)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    Some(vec![
        Sample::new(
            "falcosecurity_falco_cpu_usage_ratio",
            Gauge,
            Number::Double(cpu_perc / 100.0),
        ),
        Sample::new(
            "falcosecurity_falco_memory_rss_bytes",
            Gauge,
            Number::Double(kb("VmRSS:") * 1024.0),
        ),
        Sample::new(
            "falcosecurity_falco_memory_vsz_bytes",
            Gauge,
            Number::Double(kb("VmSize:") * 1024.0),
        ),
        Sample::new(
            "falcosecurity_falco_memory_pss_bytes",
            Gauge,
            Number::Double(pss_kb * 1024.0),
        ),
        Sample::new(
            "falcosecurity_falco_container_memory_used_bytes",
            Gauge,
            Number::Double(container_mem),
        ),
        Sample::new(
            "falcosecurity_falco_host_cpu_usage_ratio",
            Gauge,
            Number::Double(host_cpu_perc / 100.0),
        ),
        Sample::new(
            "falcosecurity_falco_host_memory_used_bytes",
            Gauge,
            Number::Double(host_used_kb * 1024.0),
        ),
        Sample::new(
            "falcosecurity_falco_host_procs_running_total",
            Gauge,
            Number::Int(procs_running),
        ),
        Sample::new(
            "falcosecurity_falco_host_open_fds_total",
            Gauge,
            Number::Int(open_fds),
        ),
    ])
}

/// `falco::utils::sanitize_rule_name`: `[^a-zA-Z0-9_:]` → `_`, runs of `_` squeezed, one
/// trailing `_` dropped.
pub fn sanitize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.ends_with('_') {
        out.pop();
    }
    out
}

impl Counters {
    /// Total matches and per-rule counts (first-match order).
    pub fn rule_counts(&self) -> (u64, Vec<(String, u64)>) {
        let rules = self.rules.lock().expect("rules counters lock");
        let mut per_rule: Vec<(String, u64)> = Vec::new();
        for (k, n) in rules.iter() {
            match per_rule.iter_mut().find(|(r, _)| *r == k.rule) {
                Some((_, m)) => *m += n,
                None => per_rule.push((k.rule.clone(), *n)),
            }
        }
        (per_rule.iter().map(|(_, n)| n).sum(), per_rule)
    }
}

/// What a metrics snapshot (`metrics.output_rule` / `metrics.output_file`) reports.
#[derive(Debug, Clone, Default)]
pub struct SnapshotInput<'a> {
    pub info: Option<&'a Info>,
    pub source: &'a str,
    /// `scap.engine_name` (absent in replay).
    pub engine_name: Option<&'a str>,
    /// Events processed so far and at the previous snapshot.
    pub num_evts: u64,
    pub num_evts_prev: u64,
    /// Seconds since the previous snapshot (0 for the first).
    pub delta_sec: f64,
    /// Driver counters now and at the previous snapshot, when the source has them.
    pub scap: Option<((u64, u64), (u64, u64))>,
    pub convert_memory_to_mb: bool,
    pub include_empty_values: bool,
    pub rules_counters_enabled: bool,
    pub resource_utilization_enabled: bool,
}

/// The `output_fields` of a snapshot (Falco's `stats_writer::collector`), keys sorted.
pub fn snapshot_fields(
    input: &SnapshotInput<'_>,
    counters: &Counters,
    now_ns: u64,
) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        f.insert(k.to_string(), v);
    };
    put("evt.time", Value::from(now_ns));
    put("falco.version", Value::from(crate::version::FALCO_VERSION));
    put(
        "falco.outputs_queue_num_drops",
        Value::from(counters.outputs_queue_drops.load(Ordering::SeqCst)),
    );
    if let Some(info) = input.info {
        put("falco.reload_ts", Value::from(info.reload_ts_ns));
        put("falco.start_ts", Value::from(info.start_ts_ns));
        put(
            "falco.duration_sec",
            Value::from(now_ns.saturating_sub(info.start_ts_ns) / 1_000_000_000),
        );
        put(
            "falco.kernel_release",
            Value::from(info.kernel_release.clone()),
        );
        put("evt.hostname", Value::from(info.hostname.clone()));
        put("falco.host_boot_ts", Value::from(info.host_boot_ts_ns));
        put("falco.host_num_cpus", Value::from(info.num_cpus));
        for (file, sha) in &info.rules_files {
            put(
                &format!("falco.sha256_rules_file.{}", sanitize_name(file)),
                Value::from(sha.clone()),
            );
        }
        for (file, sha) in &info.config_files {
            put(
                &format!("falco.sha256_config_file.{}", sanitize_name(file)),
                Value::from(sha.clone()),
            );
        }
    }
    put("evt.source", Value::from(input.source));
    if let Some(e) = input.engine_name {
        put("scap.engine_name", Value::from(e));
    }
    if input.num_evts_prev != 0 && input.delta_sec > 0.0 {
        let rate = (input.num_evts - input.num_evts_prev) as f64 / input.delta_sec;
        put(
            "falco.evts_rate_sec",
            Value::from((rate * 10.0).round() / 10.0),
        );
    }
    put("falco.num_evts", Value::from(input.num_evts));
    put("falco.num_evts_prev", Value::from(input.num_evts_prev));
    if input.rules_counters_enabled {
        let (total, per_rule) = counters.rule_counts();
        put("falco.rules.matches_total", Value::from(total));
        for (rule, n) in per_rule {
            if n > 0 || input.include_empty_values {
                put(
                    &format!("falco.rules.{}", sanitize_name(&rule)),
                    Value::from(n),
                );
            }
        }
    }
    if input.resource_utilization_enabled
        && let Some(samples) = resource_utilization()
    {
        for s in samples {
            // falcosecurity_falco_memory_rss_bytes → falco.memory_rss_(mb|kb)
            let Some(base) = s.name.strip_prefix("falcosecurity_falco_") else {
                continue;
            };
            let (name, value) = match (base.strip_suffix("_bytes"), s.value) {
                (Some(b), Number::Double(d)) if input.convert_memory_to_mb => {
                    (format!("falco.{b}_mb"), Value::from(d / 1_048_576.0))
                }
                (Some(b), Number::Double(d)) => {
                    (format!("falco.{b}_kb"), Value::from((d / 1024.0) as u64))
                }
                (None, Number::Double(d)) => (
                    format!("falco.{}", base.replace("_ratio", "_perc")),
                    Value::from(d * 100.0),
                ),
                (Some(b), Number::Int(i)) => (format!("falco.{b}_bytes"), Value::from(i as i64)),
                (None, Number::Int(i)) => (
                    format!("falco.{}", base.trim_end_matches("_total")),
                    Value::from(i as i64),
                ),
            };
            let empty = value.as_f64() == Some(0.0);
            if !empty || input.include_empty_values {
                put(&name, value);
            }
        }
    }
    let mut perc = 0.0;
    if let Some(((evts, drops), (evts_prev, drops_prev))) = input.scap {
        put("scap.n_evts", Value::from(evts));
        put("scap.n_evts_prev", Value::from(evts_prev));
        put("scap.n_drops", Value::from(drops));
        put("scap.n_drops_prev", Value::from(drops_prev));
        let (de, dd) = (
            evts.saturating_sub(evts_prev),
            drops.saturating_sub(drops_prev),
        );
        let per_sec = |d: u64| {
            if input.delta_sec > 0.0 {
                d as f64 / input.delta_sec
            } else {
                0.0
            }
        };
        put("scap.evts_rate_sec", Value::from(per_sec(de)));
        put("scap.evts_drop_rate_sec", Value::from(per_sec(dd)));
        if de > 0 {
            perc = 100.0 * dd as f64 / de as f64;
        }
    }
    put("scap.n_drops_perc", Value::from(perc));
    f
}

/// `sha256` of a file as lowercase hex (empty when unreadable).
pub fn sha256_file(path: &str) -> String {
    use sha2::{Digest, Sha256};
    match std::fs::read(path) {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
        Err(_) => String::new(),
    }
}

/// Host boot time in ns since the epoch (`btime` of /proc/stat).
pub fn host_boot_ts_ns() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("btime"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |s| s * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> String {
        let p = crate::test_support::shared_dir()
            .join("conformance/goldens/webserver-reference/metrics.body");
        std::fs::read_to_string(p).unwrap()
    }

    /// The three lines of a sample in the reference body, by its series text.
    fn reference_block(series: &str) -> String {
        let body = reference();
        let lines: Vec<&str> = body.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.starts_with(&format!("{series} ")))
            .unwrap_or_else(|| panic!("{series} not in reference"));
        format!("{}\n{}\n{}\n", lines[i - 2], lines[i - 1], lines[i])
    }

    #[test]
    fn rule_counter_matches_the_reference_layout() {
        let c = Counters::default();
        let tags: Vec<String> = [
            "mitre_credential_access",
            "T1555",
            "container",
            "filesystem",
            "host",
            "maturity_stable",
        ]
        .map(String::from)
        .to_vec();
        let fields = BTreeMap::new();
        c.on_match(&Match {
            rule: "Read sensitive file untrusted",
            priority: Priority::Warning,
            source: "syscall",
            tags: &tags,
            hostname: "vm",
            output_fields: &fields,
        });
        let got = render(&c.rule_samples());
        assert_eq!(
            got,
            reference_block(
                r#"falcosecurity_falco_rules_matches_total{priority="4",rule_name="Read sensitive file untrusted",source="syscall",tag_T1555="true",tag_container="true",tag_filesystem="true",tag_host="true",tag_maturity_stable="true",tag_mitre_credential_access="true"}"#
            )
        );
    }

    #[test]
    fn fixed_samples_match_the_reference_layout() {
        let s = [
            Sample::new(
                "falcosecurity_falco_version_info",
                Kind::Gauge,
                Number::Int(1),
            )
            .label("version", "0.44.1"),
            Sample::new(
                "falcosecurity_falco_outputs_queue_num_drops_total",
                Kind::Counter,
                Number::Int(0),
            ),
        ];
        assert_eq!(
            render(&s),
            reference_block(r#"falcosecurity_falco_version_info{version="0.44.1"}"#)
                + &reference_block("falcosecurity_falco_outputs_queue_num_drops_total")
        );
        let mut d = Sample::new(
            "falcosecurity_scap_n_drops_buffer_total",
            Kind::Counter,
            Number::Int(0),
        )
        .label("drop", "clone_fork")
        .label("dir", "enter");
        d.help_suffix = " (DEPRECATED: enter events are no longer tracked in falcosecurity/libs)";
        assert_eq!(
            render(&[d]),
            reference_block(
                r#"falcosecurity_scap_n_drops_buffer_total{dir="enter",drop="clone_fork"}"#
            )
        );
        let r = render(&[Sample::new("x", Kind::Gauge, Number::Double(0.126))]);
        assert!(r.ends_with("x 0.126000\n"));
    }

    #[test]
    fn falco_events_labels_as_the_exporter() {
        let c = Counters::default();
        let mut fields = BTreeMap::new();
        fields.insert("k8s.ns.name".to_string(), Value::Null);
        let tags = vec!["b".to_string(), "a".to_string()];
        for _ in 0..2 {
            c.on_match(&Match {
                rule: "DetectCurlCommandExecution",
                priority: Priority::Warning,
                source: "syscall",
                tags: &tags,
                hostname: "node1",
                output_fields: &fields,
            });
        }
        c.on_match(&Match {
            rule: "Other",
            priority: Priority::Critical,
            source: "syscall",
            tags: &[],
            hostname: "node1",
            output_fields: &BTreeMap::new(),
        });
        assert_eq!(
            c.render_falco_events(),
            "# HELP falco_events \n# TYPE falco_events counter\n\
             falco_events{hostname=\"node1\",k8s_ns_name=\"\",k8s_pod_name=\"\",priority=\"2\",rule=\"Other\",source=\"syscall\",tags=\",,\"} 1\n\
             falco_events{hostname=\"node1\",k8s_ns_name=\"<NA>\",k8s_pod_name=\"\",priority=\"4\",rule=\"DetectCurlCommandExecution\",source=\"syscall\",tags=\",a,b,\"} 2\n"
        );
        assert_eq!(c.matches_of("DetectCurlCommandExecution"), 2);
    }

    #[test]
    fn snapshot_names() {
        assert_eq!(
            sanitize_name("Read sensitive file untrusted"),
            "Read_sensitive_file_untrusted"
        );
        assert_eq!(sanitize_name("falco_rules.yaml"), "falco_rules_yaml");
        assert_eq!(sanitize_name("a -- b!"), "a_b");
        let c = Counters::default();
        let fields = BTreeMap::new();
        c.on_match(&Match {
            rule: "Read sensitive file untrusted",
            priority: Priority::Warning,
            source: "syscall",
            tags: &[],
            hostname: "h",
            output_fields: &fields,
        });
        let info = Info {
            rules_files: vec![("falco_rules.yaml".into(), "ab".into())],
            hostname: "h".into(),
            ..Info::default()
        };
        let input = SnapshotInput {
            info: Some(&info),
            source: "syscall",
            engine_name: Some("modern_bpf"),
            num_evts: 30,
            num_evts_prev: 10,
            delta_sec: 2.0,
            scap: Some(((1000, 10), (500, 0))),
            convert_memory_to_mb: true,
            rules_counters_enabled: true,
            resource_utilization_enabled: true,
            ..SnapshotInput::default()
        };
        let f = snapshot_fields(&input, &c, 5);
        assert_eq!(
            f["falco.rules.Read_sensitive_file_untrusted"],
            Value::from(1u64)
        );
        assert_eq!(f["falco.rules.matches_total"], Value::from(1u64));
        assert_eq!(
            f["falco.sha256_rules_file.falco_rules_yaml"],
            Value::from("ab")
        );
        assert_eq!(f["falco.evts_rate_sec"], Value::from(10.0));
        assert_eq!(f["scap.n_drops_perc"], Value::from(2.0));
        assert_eq!(f["evt.source"], Value::from("syscall"));
        assert!(f["falco.memory_rss_mb"].as_f64().unwrap() > 0.0);
        assert_eq!(f["falco.version"], Value::from("0.44.1"));
    }

    #[test]
    fn full_body_order() {
        let info = Info {
            rules_files: vec![("falco_rules.yaml".into(), "ab".into())],
            config_files: vec![("falco.yaml".into(), "cd".into())],
            rules_counters_enabled: true,
            kernel_counters_enabled: true,
            kernel_counters_per_cpu_enabled: false,
            libbpf_stats_enabled: false,
            state_counters_enabled: true,
            resource_utilization_enabled: true,
            falco_events_enabled: true,
            engines: vec![("nodriver".into(), "syscall".into())],
            kernel_release: "6.1".into(),
            hostname: "h".into(),
            reload_ts_ns: 1,
            start_ts_ns: 2,
            host_boot_ts_ns: 3,
            num_cpus: 2,
        };
        let scap = ScapCounters {
            n_evts: 7,
            ..ScapCounters::default()
        };
        let body = render_prometheus(&info, &Counters::default(), Some(&scap), 2_000_000_002);
        assert!(body.contains("falcosecurity_scap_n_evts_total 7\n"));
        assert!(body.contains("# TYPE falcosecurity_scap_n_threads_total gauge\nfalcosecurity_scap_n_threads_total 0\n"));
        assert!(
            body.contains(
                "falcosecurity_scap_n_drops_buffer_total{dir=\"exit\",drop=\"proc\"} 0\n"
            )
        );
        let names: Vec<&str> = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(['{', ' ']).next().unwrap())
            .collect();
        assert_eq!(names.first(), Some(&"falcosecurity_falco_version_info"));
        assert_eq!(
            names.last(),
            Some(&"falcosecurity_falco_host_num_cpus_total")
        );
        assert!(body.contains("falcosecurity_falco_duration_seconds_total 2\n"));
        let reference = reference();
        for name in &names {
            assert!(reference.contains(name), "{name} is not a Falco metric");
        }
        // The resource-utilisation block comes in Falco's order.
        let block = |ns: &[&str]| -> Vec<String> {
            ns.iter()
                .filter(|n| {
                    n.starts_with("falcosecurity_falco_")
                        && (n.contains("cpu_usage")
                            || n.contains("memory")
                            || n.contains("host_procs")
                            || n.contains("host_open_fds"))
                })
                .map(|n| n.to_string())
                .collect()
        };
        let ref_names: Vec<&str> = reference
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(['{', ' ']).next().unwrap())
            .collect();
        assert_eq!(block(&names), block(&ref_names));
    }

    /// The state counters: Falco's names, types and order (from `n_threads` to
    /// `n_drops_full_threadtable` in the webserver reference), with our table activity.
    #[test]
    fn state_counters_as_falco() {
        let scap = ScapCounters {
            n_threads: 17,
            state: crate::state::parse::StateCounters {
                added_threads: 21,
                removed_threads: 4,
                added_fds: 399,
                removed_fds: 115,
                stored_evts: 51,
                store_evts_drops: 1,
                retrieved_evts: 48,
                retrieve_evts_drops: 3,
            },
            n_drops_full_threadtable: 2,
            ..ScapCounters::default()
        };
        let info = Info {
            state_counters_enabled: true,
            ..Info::default()
        };
        let body = render_prometheus(&info, &Counters::default(), Some(&scap), 0);
        let range = |text: &str| -> Vec<String> {
            let lines: Vec<&str> = text.lines().collect();
            let from = lines
                .iter()
                .position(|l| l.starts_with("# HELP falcosecurity_scap_n_threads_total"))
                .unwrap();
            let to = lines
                .iter()
                .position(|l| l.starts_with("falcosecurity_scap_n_drops_full_threadtable_total"))
                .unwrap();
            lines[from..=to]
                .iter()
                .map(|l| match l.strip_prefix('#') {
                    Some(_) => l.to_string(),
                    None => l.split(' ').next().unwrap_or(l).to_string(),
                })
                .collect()
        };
        assert_eq!(range(&body), range(&reference()));
        for line in [
            "falcosecurity_scap_n_threads_total 17\n",
            "falcosecurity_scap_n_added_threads_total 21\n",
            "falcosecurity_scap_n_removed_threads_total 4\n",
            "falcosecurity_scap_n_added_fds_total 399\n",
            "falcosecurity_scap_n_removed_fds_total 115\n",
            "falcosecurity_scap_n_stored_evts_total 51\n",
            "falcosecurity_scap_n_store_evts_drops_total 1\n",
            "falcosecurity_scap_n_retrieved_evts_total 48\n",
            "falcosecurity_scap_n_retrieve_evts_drops_total 3\n",
            "falcosecurity_scap_n_drops_full_threadtable_total 2\n",
        ] {
            assert!(body.contains(line), "{line}");
        }
    }

    /// `metrics.kernel_event_counters_per_cpu_enabled`: each CPU's events and drops right
    /// after the kernel counters (falco-runtime.md §5.3); each metrics switch gates its block.
    #[test]
    fn per_cpu_counters_and_switches() {
        let scap = ScapCounters {
            n_evts: 30,
            per_cpu: vec![(10, 1), (20, 0)],
            ..ScapCounters::default()
        };
        let mut info = Info {
            kernel_counters_enabled: true,
            kernel_counters_per_cpu_enabled: true,
            ..Info::default()
        };
        let body = render_prometheus(&info, &Counters::default(), Some(&scap), 0);
        let samples: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
        let at = samples
            .iter()
            .position(|l| l.starts_with("falcosecurity_scap_n_drops_total "))
            .unwrap();
        assert_eq!(
            samples[at + 1..at + 5],
            [
                "falcosecurity_scap_n_evts_cpu_total{cpu=\"0\"} 10",
                "falcosecurity_scap_n_drops_cpu_total{cpu=\"0\"} 1",
                "falcosecurity_scap_n_evts_cpu_total{cpu=\"1\"} 20",
                "falcosecurity_scap_n_drops_cpu_total{cpu=\"1\"} 0",
            ]
        );
        assert!(body.contains("# TYPE falcosecurity_scap_n_evts_cpu_total counter\n"));
        assert!(!body.contains("sys_exit"));
        // libbpf stats (libpman `collect_libbpf_stats`): run count, run time, their ratio
        let with_progs = ScapCounters {
            progs: vec![("sys_exit".into(), 4, 1000)],
            ..scap.clone()
        };
        info.libbpf_stats_enabled = true;
        let body = render_prometheus(&info, &Counters::default(), Some(&with_progs), 0);
        for line in [
            "# TYPE falcosecurity_scap_sys_exit_run_cnt_total counter\nfalcosecurity_scap_sys_exit_run_cnt_total 4\n",
            "# TYPE falcosecurity_scap_sys_exit_run_time_nanoseconds_total counter\nfalcosecurity_scap_sys_exit_run_time_nanoseconds_total 1000\n",
            "# TYPE falcosecurity_scap_sys_exit_avg_time_nanoseconds gauge\nfalcosecurity_scap_sys_exit_avg_time_nanoseconds 250\n",
        ] {
            assert!(body.contains(line), "{line}");
        }
        info.libbpf_stats_enabled = false;
        info.kernel_counters_per_cpu_enabled = false;
        let body = render_prometheus(&info, &Counters::default(), Some(&scap), 0);
        assert!(!body.contains("_cpu_total"));
        assert!(body.contains("falcosecurity_scap_n_evts_total 30\n"));
        assert!(!body.contains("falcosecurity_scap_n_threads_total"));
        assert!(!body.contains("falcosecurity_falco_memory_rss_bytes"));
        info.kernel_counters_enabled = false;
        let body = render_prometheus(&info, &Counters::default(), Some(&scap), 0);
        assert!(!body.contains("falcosecurity_scap_n_evts_total"));
    }
}
