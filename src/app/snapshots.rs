//! Periodic metrics snapshots (`stats_writer`): every `metrics.interval` the first event after
//! the tick produces a snapshot (no events, no snapshot), emitted as the internal alert
//! `Falco internal: metrics snapshot` (`metrics.output_rule`) and/or appended as a JSON line
//! `{"output_fields":{...},"sample":N}` to `metrics.output_file`.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Emitter;
use super::log::Logger;
use crate::config::{Config, Priority};
use crate::metrics::{self, SnapshotInput};
use crate::output::InternalMsg;

/// The snapshot writer of one run.
pub struct Snapshots {
    interval: Duration,
    next_tick: Instant,
    last_snapshot: Option<Instant>,
    samples: u64,
    num_evts_prev: u64,
    scap_prev: (u64, u64),
    output_rule: bool,
    file: Option<std::fs::File>,
    info: metrics::Info,
    counters: Arc<metrics::Counters>,
    engine_name: Option<String>,
    convert_memory_to_mb: bool,
    include_empty_values: bool,
    rules_counters_enabled: bool,
    resource_utilization_enabled: bool,
}

impl Snapshots {
    /// `None` unless metrics are on with `output_rule` or `output_file`.
    pub fn new(
        cfg: &Config,
        info: metrics::Info,
        counters: Arc<metrics::Counters>,
        engine_name: Option<&str>,
        log: &Logger,
    ) -> Option<Snapshots> {
        let m = &cfg.metrics;
        if !m.enabled || (!m.output_rule && m.output_file.is_empty()) {
            return None;
        }
        let file = if m.output_file.is_empty() {
            None
        } else {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&m.output_file)
            {
                Ok(f) => Some(f),
                Err(e) => {
                    log.error(&format!(
                        "Could not open metrics output file {}: {e}",
                        m.output_file
                    ));
                    None
                }
            }
        };
        let interval = Duration::from_millis(m.interval_ms.max(100));
        Some(Snapshots {
            interval,
            next_tick: Instant::now() + interval,
            last_snapshot: None,
            samples: 0,
            num_evts_prev: 0,
            scap_prev: (0, 0),
            output_rule: m.output_rule,
            file,
            info,
            counters,
            engine_name: engine_name.map(str::to_string),
            convert_memory_to_mb: m.convert_memory_to_mb,
            include_empty_values: m.include_empty_values,
            rules_counters_enabled: m.rules_counters_enabled,
            resource_utilization_enabled: m.resource_utilization_enabled,
        })
    }

    /// Called per event; takes a snapshot when a tick has passed since the last one.
    /// `scap` reads the driver counters (only called when a snapshot is due).
    pub fn on_event(
        &mut self,
        num_evts: u64,
        scap: impl FnOnce() -> Option<(u64, u64)>,
        emitter: &Emitter,
    ) {
        let now = Instant::now();
        if now < self.next_tick {
            return;
        }
        let scap = scap();
        while self.next_tick <= now {
            self.next_tick += self.interval;
        }
        self.samples += 1;
        let delta_sec = self
            .last_snapshot
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_snapshot = Some(now);
        let input = SnapshotInput {
            info: Some(&self.info),
            source: "syscall",
            engine_name: self.engine_name.as_deref(),
            num_evts,
            num_evts_prev: self.num_evts_prev,
            delta_sec,
            scap: scap.map(|s| (s, self.scap_prev)),
            convert_memory_to_mb: self.convert_memory_to_mb,
            include_empty_values: self.include_empty_values,
            rules_counters_enabled: self.rules_counters_enabled,
            resource_utilization_enabled: self.resource_utilization_enabled,
        };
        let ts = crate::output::now_ns();
        let fields = metrics::snapshot_fields(&input, &self.counters, ts);
        self.num_evts_prev = num_evts;
        if let Some(s) = scap {
            self.scap_prev = s;
        }
        if let Some(f) = self.file.as_mut() {
            let line = serde_json::json!({"output_fields": fields, "sample": self.samples});
            let _ = writeln!(f, "{line}");
        }
        if self.output_rule {
            emitter.internal(&InternalMsg {
                time_ns: ts,
                priority: Priority::Informational,
                rule: "Falco internal: metrics snapshot".to_string(),
                msg: "Falco metrics snapshot".to_string(),
                fields,
            });
        }
    }
}
