//! The `aya` live driver: loads the same probe object through aya (pure Rust, no C library at
//! run time), attaches its tp_btf programs and drains the per-CPU rings on a short timer.

use std::os::fd::AsFd;
use std::time::Duration;

use aya::maps::{Array, Map, MapData, PerCpuArray};
use aya::programs::tp_btf::BtfTracePointLink;
use aya::programs::trace_point::TracePointLink;
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use super::abi::{self, Counters, Settings};
use super::live;
use super::ring::Rings;
use super::{Batch, Driver, DriverError, DriverStats, LiveConfig, RawEvent};

/// The aya backend (engine.kind `aya`).
///
/// `start` attaches the programs, keeps only the links and drops the loaded object: aya keeps
/// a copy of every program's instructions and of the object's BTF for as long as the `Ebpf`
/// lives, about 9 MB that an idle daemon would otherwise carry. The kernel keeps the programs
/// and maps alive through the links, the rings' mappings and the counters map, so a stopped
/// driver cannot be started again.
pub struct AyaDriver {
    rings: Rings,
    counters: PerCpuArray<MapData, Counters>,
    links: Vec<BtfTracePointLink>,
    toctou_links: Vec<TracePointLink>,
    /// The loaded object until `start` has attached its programs.
    ebpf: Option<Ebpf>,
    toctou: Vec<(&'static str, String)>,
    drain_interval: Duration,
}

fn err(e: impl std::fmt::Display) -> DriverError {
    let msg = e.to_string();
    if msg.contains("Operation not permitted") || msg.contains("EPERM") {
        DriverError::MissingCapability("CAP_BPF")
    } else {
        DriverError::Load(msg)
    }
}

fn detailed(e: impl std::error::Error) -> DriverError {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    err(msg)
}

impl AyaDriver {
    /// Checks privileges, mounts what is missing, loads and verifies the probe and fills its
    /// tables.
    pub fn open(cfg: &LiveConfig) -> Result<AyaDriver, DriverError> {
        live::check_privileges()?;
        live::ensure_mounts()?;
        live::raise_memlock();
        let cpus = live::possible_cpus();
        let layout = live::buffer_layout(cfg.buf_size_preset, cfg.cpus_for_each_buffer, cpus)?;
        let btf = Btf::from_sys_fs().map_err(detailed)?;

        let mut loader = EbpfLoader::new();
        loader.btf(Some(&btf));
        loader.map_max_entries(abi::MAP_RINGS, cpus * layout.chunks_per_cpu);
        loader.map_max_entries(abi::MAP_RING_POS, cpus);
        loader.map_max_entries(abi::MAP_SCRATCH, cpus);
        let mut ebpf = loader.load(abi::PROBE_OBJECT).map_err(detailed)?;

        for (name, tp) in abi::PROGRAMS {
            let prog: &mut BtfTracePoint = ebpf
                .program_mut(name)
                .ok_or_else(|| DriverError::Load(format!("program {name} missing")))?
                .try_into()
                .map_err(detailed)?;
            prog.load(tp, &btf).map_err(detailed)?;
        }
        let toctou = live::toctou_programs(cfg);
        for (name, _) in &toctou {
            let prog: &mut TracePoint = ebpf
                .program_mut(name)
                .ok_or_else(|| DriverError::Load(format!("program {name} missing")))?
                .try_into()
                .map_err(detailed)?;
            prog.load().map_err(detailed)?;
        }

        let settings_map = ebpf
            .map_mut(abi::MAP_SETTINGS)
            .ok_or_else(|| DriverError::Load("map settings missing".into()))?;
        let mut settings: Array<&mut MapData, Settings> =
            Array::try_from(settings_map).map_err(detailed)?;
        settings
            .set(0, live::settings(cfg, &layout), 0)
            .map_err(detailed)?;

        let interesting_map = ebpf
            .map_mut(abi::MAP_INTERESTING)
            .ok_or_else(|| DriverError::Load("map interesting missing".into()))?;
        let mut interesting: Array<&mut MapData, u8> =
            Array::try_from(interesting_map).map_err(detailed)?;
        for (nr, on) in live::interesting_table(&cfg.syscalls)
            .into_iter()
            .enumerate()
        {
            if on != 0 {
                interesting.set(nr as u32, on, 0).map_err(detailed)?;
            }
        }

        let counters_map = ebpf
            .take_map(abi::MAP_COUNTERS)
            .ok_or_else(|| DriverError::Load("map counters missing".into()))?;
        let counters = PerCpuArray::try_from(counters_map).map_err(detailed)?;

        let map_fd = |name: &str| match ebpf.map(name) {
            Some(Map::Array(data)) => Ok(data.fd().as_fd()),
            _ => Err(DriverError::Load(format!("array map {name} missing"))),
        };
        let rings = Rings::map(
            map_fd(abi::MAP_RINGS)?,
            map_fd(abi::MAP_RING_POS)?,
            cpus,
            layout.chunks_per_cpu,
        )
        .map_err(|e| DriverError::RingBuffer(format!("cannot map the rings: {e}")))?;

        Ok(AyaDriver {
            rings,
            counters,
            links: Vec::new(),
            toctou_links: Vec::new(),
            ebpf: Some(ebpf),
            toctou,
            drain_interval: cfg.drain_interval,
        })
    }
}

impl Driver for AyaDriver {
    fn name(&self) -> &'static str {
        "aya"
    }

    fn start(&mut self) -> Result<(), DriverError> {
        if !self.links.is_empty() {
            return Ok(());
        }
        let Some(mut ebpf) = self.ebpf.take() else {
            return Err(DriverError::Load(
                "the probe was released when the driver stopped; open it again".into(),
            ));
        };
        for (name, _tp) in abi::PROGRAMS {
            let attach_err = |msg: String| DriverError::Attach { prog: name, msg };
            let prog: &mut BtfTracePoint = ebpf
                .program_mut(name)
                .ok_or_else(|| attach_err("missing".into()))?
                .try_into()
                .map_err(|e: aya::programs::ProgramError| attach_err(e.to_string()))?;
            let link = prog
                .attach()
                .and_then(|id| prog.take_link(id))
                .map_err(|e| attach_err(e.to_string()))?;
            self.links.push(link);
        }
        for (name, tp) in &self.toctou {
            let Some(prog) = ebpf.program_mut(name) else {
                continue;
            };
            let prog: Result<&mut TracePoint, _> = prog.try_into();
            let attached = prog.map_err(|e| e.to_string()).and_then(|p| {
                p.attach("syscalls", tp)
                    .and_then(|id| p.take_link(id))
                    .map_err(|e| e.to_string())
            });
            // the enter events are an extra: without tracefs they are skipped, not fatal
            match attached {
                Ok(link) => self.toctou_links.push(link),
                Err(e) => {
                    tracing::warn!("cannot attach syscalls/{tp}: {e}; no enter events for it")
                }
            }
        }
        drop(ebpf);
        Ok(())
    }

    fn next_batch(
        &mut self,
        timeout: Duration,
        sink: &mut dyn FnMut(RawEvent<'_>),
    ) -> Result<Batch, DriverError> {
        Ok(self.rings.next_batch(self.drain_interval, timeout, sink))
    }

    fn stats(&self) -> Result<DriverStats, DriverError> {
        let per_cpu = self.counters.get(&0, 0).map_err(detailed)?;
        let mut total = Counters::default();
        for c in per_cpu.iter() {
            total.add(c);
        }
        Ok(DriverStats {
            n_evts: total.n_evts,
            n_drops: total.n_drops(),
            counters: total,
        })
    }

    fn per_cpu_counters(&self) -> Vec<Counters> {
        self.counters
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().copied().collect())
            .unwrap_or_default()
    }

    fn stop(&mut self) {
        // dropping a link detaches its program
        self.toctou_links.clear();
        self.links.clear();
    }
}
