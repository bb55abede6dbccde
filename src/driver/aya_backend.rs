//! The `aya` live driver: loads the same probe object through aya (pure Rust, no C library at
//! run time), attaches its tp_btf programs and drains the ring buffers on a short timer.

use std::time::{Duration, Instant};

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use super::abi::{self, Counters, Settings};
use super::live::{self, RecordBatch};
use super::{Batch, Driver, DriverError, DriverStats, LiveConfig, RawEvent};

/// The aya backend (engine.kind `aya`).
pub struct AyaDriver {
    rings: Vec<RingBuf<MapData>>,
    counters: PerCpuArray<MapData, Counters>,
    links: Vec<(&'static str, BtfTracePointLinkId)>,
    toctou_links: Vec<(&'static str, aya::programs::trace_point::TracePointLinkId)>,
    ebpf: Ebpf,
    batch: RecordBatch,
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
        for i in 0..abi::MAX_RINGBUFS {
            let size = if (i as u32) < layout.n_buffers {
                layout.bytes
            } else {
                4096
            };
            loader.map_max_entries(abi::ringbuf_name(i), size);
        }
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

        let mut rings = Vec::new();
        for i in 0..layout.n_buffers as usize {
            let map = ebpf.take_map(abi::ringbuf_name(i)).ok_or_else(|| {
                DriverError::Load(format!("map {} missing", abi::ringbuf_name(i)))
            })?;
            rings.push(RingBuf::try_from(map).map_err(detailed)?);
        }

        Ok(AyaDriver {
            rings,
            counters,
            links: Vec::new(),
            toctou_links: Vec::new(),
            ebpf,
            batch: RecordBatch::default(),
            toctou,
            drain_interval: cfg.drain_interval,
        })
    }

    fn drain(&mut self) {
        for (i, ring) in self.rings.iter_mut().enumerate() {
            while let Some(item) = ring.next() {
                self.batch.push(i as u16, &item);
            }
        }
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
        for (name, _tp) in abi::PROGRAMS {
            let prog: &mut BtfTracePoint = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| DriverError::Attach {
                    prog: name,
                    msg: "missing".into(),
                })?
                .try_into()
                .map_err(|e: aya::programs::ProgramError| DriverError::Attach {
                    prog: name,
                    msg: e.to_string(),
                })?;
            let link = prog.attach().map_err(|e| DriverError::Attach {
                prog: name,
                msg: e.to_string(),
            })?;
            self.links.push((name, link));
        }
        for (name, tp) in &self.toctou {
            let Some(prog) = self.ebpf.program_mut(name) else {
                continue;
            };
            let prog: Result<&mut TracePoint, _> = prog.try_into();
            let attached = prog
                .map_err(|e| e.to_string())
                .and_then(|p| p.attach("syscalls", tp).map_err(|e| e.to_string()));
            // the enter events are an extra: without tracefs they are skipped, not fatal
            match attached {
                Ok(link) => self.toctou_links.push((name, link)),
                Err(e) => {
                    tracing::warn!("cannot attach syscalls/{tp}: {e}; no enter events for it")
                }
            }
        }
        Ok(())
    }

    fn next_batch(
        &mut self,
        timeout: Duration,
        sink: &mut dyn FnMut(RawEvent<'_>),
    ) -> Result<Batch, DriverError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            if !self.batch.is_empty() {
                return Ok(Batch::Events(self.batch.deliver(sink)));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Batch::Timeout);
            }
            std::thread::sleep(self.drain_interval.min(deadline - now));
        }
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
        for (name, link) in self.toctou_links.drain(..) {
            if let Some(p) = self.ebpf.program_mut(name) {
                let prog: Result<&mut TracePoint, _> = p.try_into();
                if let Ok(prog) = prog {
                    let _ = prog.detach(link);
                }
            }
        }
        for (name, link) in self.links.drain(..) {
            if let Some(p) = self.ebpf.program_mut(name) {
                let prog: Result<&mut BtfTracePoint, _> = p.try_into();
                if let Ok(prog) = prog {
                    let _ = prog.detach(link);
                }
            }
        }
    }
}
