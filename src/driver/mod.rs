//! Event sources behind one `Driver` interface: libbpf-rs, aya, replay and nodriver; the /proc
//! scan that seeds state. Knows nothing about rules or outputs.
//!
//! Every driver hands out scap event records (libs 0.25.4 `ppm_evt_hdr` + parameters, the
//! layout of a capture file's event block), so live capture and replay share one decoder.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

pub mod abi;
pub mod capture;
pub mod proc_scan;
pub mod replay;
pub mod syscalls;

#[cfg(any(feature = "libbpf", feature = "aya"))]
pub mod live;
#[cfg(any(feature = "libbpf", feature = "aya"))]
pub mod ring;

#[cfg(feature = "aya")]
pub mod aya_backend;
#[cfg(feature = "libbpf")]
pub mod libbpf_backend;

#[cfg(test)]
#[cfg(test)]
pub(crate) mod tests_support;

#[cfg(all(test, any(feature = "libbpf", feature = "aya")))]
mod live_tests;

/// Errors of the drivers.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("The 'buf_size_preset' value must be between '1' and '10'")]
    BufSizePreset,
    #[error(
        "missing capability {0}: the live eBPF drivers need CAP_BPF and CAP_PERFMON (or \
         CAP_SYS_ADMIN) to load the probe; run falco as root or grant them"
    )]
    MissingCapability(&'static str),
    #[error("cannot mount {fs} on {path}: {source}")]
    Mount {
        fs: &'static str,
        path: &'static str,
        source: std::io::Error,
    },
    #[error("engine.kind '{0}' is not built into this falco-rs (cargo feature `{1}` is off)")]
    NotBuilt(&'static str, &'static str),
    #[error("unable to open the eBPF probe: {0}")]
    Load(String),
    #[error("unable to attach the eBPF program {prog}: {msg}")]
    Attach { prog: &'static str, msg: String },
    #[error("ring buffer error: {0}")]
    RingBuffer(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The driver selected by `engine.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// `modern_ebpf` (alias `libbpf`; `kmod` runs it too, with a warning).
    ModernEbpf,
    /// `aya`: the same probe loaded through aya.
    Aya,
    Replay,
    NoDriver,
}

impl EngineKind {
    /// Parses an `engine.kind` value; `None` for an invalid kind (Falco 0.44.1 rejects `ebpf`:
    /// `engine.kind 'ebpf' is not a valid kind.`). The bool is true for `kmod`, which is run
    /// as modern_ebpf after a warning.
    pub fn parse(kind: &str) -> Option<(EngineKind, bool)> {
        match kind {
            "modern_ebpf" | "libbpf" => Some((EngineKind::ModernEbpf, false)),
            "kmod" => Some((EngineKind::ModernEbpf, true)),
            "aya" => Some((EngineKind::Aya, false)),
            "replay" => Some((EngineKind::Replay, false)),
            "nodriver" => Some((EngineKind::NoDriver, false)),
            _ => None,
        }
    }
}

/// Settings of the live drivers (`engine.modern_ebpf.*`, `falco_libs.snaplen`, the selected
/// syscall set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// 1..=10 → 1, 2, 4, … 512 MiB per ring buffer.
    pub buf_size_preset: i64,
    /// CPUs sharing one ring buffer; 0 = one buffer for every CPU.
    pub cpus_for_each_buffer: u32,
    pub drop_failed_exit: bool,
    pub snaplen: u32,
    /// Syscall names to capture (see [`syscalls::select`]); names the probe has no event for
    /// are ignored.
    pub syscalls: BTreeSet<String>,
    /// Capture `procexit` (sched_process_exit); Falco always does.
    pub procexit: bool,
    /// How long `next_batch` sleeps between two drains of the ring buffers.
    pub drain_interval: Duration,
    /// Emit the TOCTOU enter events of open, openat, openat2, creat and connect as the 0.25.4
    /// live drivers do, from the per-syscall `syscalls/sys_enter_*` tracepoints (libsinsp
    /// then takes the path or address read at syscall entry). Off by default: the hooks cost
    /// ~150 ns per open and ~5 ns on every other syscall on the reference kernel (bpf/README.md);
    /// `FALCO_RS_TOCTOU_MITIGATION=true` turns them on (see [`toctou_from_env`]).
    pub toctou_enter: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            buf_size_preset: 4,
            cpus_for_each_buffer: 2,
            drop_failed_exit: false,
            snaplen: 80,
            syscalls: syscalls::select(&BTreeSet::new(), &syscalls::BaseSyscalls::default()),
            procexit: true,
            drain_interval: Duration::from_millis(2),
            toctou_enter: false,
        }
    }
}

impl LiveConfig {
    /// The live settings of a resolved falco.yaml, capturing Falco's selection for the rules'
    /// syscall names `rules_syscalls` (`base_syscalls.*`, the ignored set, procexit always).
    pub fn from_config(cfg: &crate::config::Config, rules_syscalls: &BTreeSet<String>) -> Self {
        let base = syscalls::BaseSyscalls {
            custom_set: cfg.base_syscalls_custom_set.clone(),
            repair: cfg.base_syscalls_repair,
            all: cfg.base_syscalls_all,
        };
        LiveConfig {
            buf_size_preset: cfg.engine.buffers.buf_size_preset,
            cpus_for_each_buffer: u32::try_from(cfg.engine.buffers.cpus_for_each_buffer)
                .unwrap_or(u32::MAX),
            drop_failed_exit: cfg.engine.buffers.drop_failed_exit,
            // 0 selects the libs default
            snaplen: match cfg.snaplen {
                0 => 80,
                n => u32::try_from(n).unwrap_or(u32::MAX),
            },
            syscalls: syscalls::select(rules_syscalls, &base),
            procexit: true,
            ..LiveConfig::default()
        }
    }
}

/// The environment variable that turns on the TOCTOU enter events ([`LiveConfig::toctou_enter`]).
/// Falco's config schema has no key for it, so a falco.yaml stays valid for both daemons.
pub const TOCTOU_ENV: &str = "FALCO_RS_TOCTOU_MITIGATION";

/// [`LiveConfig::toctou_enter`] from the value of [`TOCTOU_ENV`]: unset or empty is off;
/// `true`/`false` (and `1`/`0`, `yes`/`no`, `on`/`off`, any case) as YAML booleans read.
pub fn toctou_from_env(value: Option<&str>) -> Result<bool, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "{TOCTOU_ENV}: '{v}' is not a boolean (expected true or false)"
        )),
    }
}

/// One event record as a driver delivers it.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// Ring buffer (live) or block cpuid (replay).
    pub cpu: u16,
    /// Capture block flags (`SCAP_DF_STATE_ONLY`, …); 0 for live events.
    pub flags: u32,
    /// The record: `ppm_evt_hdr` + parameter lengths + values.
    pub data: &'a [u8],
}

/// Result of one [`Driver::next_batch`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// This many events were handed to the sink.
    Events(usize),
    /// Nothing arrived before the timeout.
    Timeout,
    /// The source is exhausted (replay); live drivers never return it.
    Eof,
}

/// One BPF program's `bpf_prog_info` run statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgStats {
    /// The kernel's program name (at most 15 bytes).
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

/// Kernel-side counters, with Falco's `scap_stats` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    pub n_evts: u64,
    pub n_drops: u64,
    pub counters: abi::Counters,
}

/// An event source. Implemented by the live backends, replay and nodriver; the pipeline only
/// sees this trait (the test seam).
pub trait Driver {
    /// Name for logs (`modern_ebpf`, `aya`, `replay`, `nodriver`).
    fn name(&self) -> &'static str;
    /// Starts capturing (live: attaches the programs).
    fn start(&mut self) -> Result<(), DriverError>;
    /// Delivers the events available now, in timestamp order, waiting up to `timeout` for the
    /// first one.
    fn next_batch(
        &mut self,
        timeout: Duration,
        sink: &mut dyn FnMut(RawEvent<'_>),
    ) -> Result<Batch, DriverError>;
    /// Counters so far.
    fn stats(&self) -> Result<DriverStats, DriverError>;
    /// The kernel counters of each possible CPU (`metrics.kernel_event_counters_per_cpu_enabled`);
    /// empty where the source has none.
    fn per_cpu_counters(&self) -> Vec<abi::Counters> {
        Vec::new()
    }
    /// The run statistics of the loaded BPF programs (`metrics.libbpf_stats_enabled`; the
    /// kernel counts only with `kernel.bpf_stats_enabled=1`); empty where unavailable.
    fn prog_stats(&self) -> Vec<ProgStats> {
        Vec::new()
    }
    /// Stops capturing (live: detaches); `start` may be called again.
    fn stop(&mut self);
}

/// `engine.kind: nodriver`: yields nothing.
#[derive(Debug, Default)]
pub struct NoDriver;

impl Driver for NoDriver {
    fn name(&self) -> &'static str {
        "nodriver"
    }
    fn start(&mut self) -> Result<(), DriverError> {
        Ok(())
    }
    fn next_batch(
        &mut self,
        timeout: Duration,
        _sink: &mut dyn FnMut(RawEvent<'_>),
    ) -> Result<Batch, DriverError> {
        std::thread::sleep(timeout);
        Ok(Batch::Timeout)
    }
    fn stats(&self) -> Result<DriverStats, DriverError> {
        Ok(DriverStats::default())
    }
    fn stop(&mut self) {}
}

/// Opens the live driver of `kind` (ModernEbpf or Aya); loads the probe but does not attach.
pub fn open_live(kind: EngineKind, cfg: &LiveConfig) -> Result<Box<dyn Driver>, DriverError> {
    match kind {
        #[cfg(feature = "libbpf")]
        EngineKind::ModernEbpf => Ok(Box::new(libbpf_backend::LibbpfDriver::open(cfg)?)),
        #[cfg(not(feature = "libbpf"))]
        EngineKind::ModernEbpf => Err(DriverError::NotBuilt("modern_ebpf", "libbpf")),
        #[cfg(feature = "aya")]
        EngineKind::Aya => Ok(Box::new(aya_backend::AyaDriver::open(cfg)?)),
        #[cfg(not(feature = "aya"))]
        EngineKind::Aya => Err(DriverError::NotBuilt("aya", "aya")),
        EngineKind::NoDriver => {
            let _ = cfg;
            Ok(Box::new(NoDriver))
        }
        EngineKind::Replay => Err(DriverError::Load("replay is not a live driver".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_kinds_follow_falco() {
        assert_eq!(
            EngineKind::parse("modern_ebpf"),
            Some((EngineKind::ModernEbpf, false))
        );
        assert_eq!(
            EngineKind::parse("libbpf"),
            Some((EngineKind::ModernEbpf, false))
        );
        assert_eq!(
            EngineKind::parse("kmod"),
            Some((EngineKind::ModernEbpf, true))
        );
        assert_eq!(EngineKind::parse("aya"), Some((EngineKind::Aya, false)));
        // goldens/cli/err-engine-ebpf: "engine.kind 'ebpf' is not a valid kind."
        assert_eq!(EngineKind::parse("ebpf"), None);
        assert_eq!(EngineKind::parse("Modern_ebpf"), None);
    }

    #[test]
    fn toctou_enter_events_are_opt_in() {
        assert!(!LiveConfig::default().toctou_enter);
        assert_eq!(toctou_from_env(None), Ok(false));
        assert_eq!(toctou_from_env(Some("")), Ok(false));
        for on in ["true", "TRUE", "1", "yes", "on"] {
            assert_eq!(toctou_from_env(Some(on)), Ok(true), "{on}");
        }
        for off in ["false", "0", "no", "Off"] {
            assert_eq!(toctou_from_env(Some(off)), Ok(false), "{off}");
        }
        assert_eq!(
            toctou_from_env(Some("sometimes")),
            Err(
                "FALCO_RS_TOCTOU_MITIGATION: 'sometimes' is not a boolean (expected true or false)"
                    .to_string()
            )
        );
    }

    #[test]
    fn nodriver_yields_nothing() {
        let mut d = NoDriver;
        d.start().unwrap();
        let mut n = 0;
        let r = d
            .next_batch(Duration::from_millis(1), &mut |_| n += 1)
            .unwrap();
        assert_eq!((r, n), (Batch::Timeout, 0));
    }
}
