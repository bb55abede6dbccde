//! The `modern_ebpf` live driver: loads the probe through libbpf-rs (vendored libbpf),
//! attaches its tp_btf programs and drains the per-CPU rings on a short timer.

use std::os::fd::AsFd;
use std::time::Duration;

use libbpf_rs::{Link, MapCore, MapFlags, MapHandle, Object, ObjectBuilder};

use super::abi::{self, Counters};
use super::live;
use super::ring::Rings;
use super::{Batch, Driver, DriverError, DriverStats, LiveConfig, RawEvent};

/// The libbpf-rs backend (engine.kind `modern_ebpf` / `libbpf`).
pub struct LibbpfDriver {
    // Field order is drop order: the rings and links go before the object.
    rings: Rings,
    links: Vec<Link>,
    counters: MapHandle,
    obj: Object,
    toctou: Vec<(&'static str, String)>,
    drain_interval: Duration,
}

fn load_err(e: libbpf_rs::Error) -> DriverError {
    if e.kind() == libbpf_rs::ErrorKind::PermissionDenied {
        DriverError::MissingCapability("CAP_BPF")
    } else {
        DriverError::Load(format!("{e:#}"))
    }
}

impl LibbpfDriver {
    /// Checks privileges, mounts what is missing, loads the probe and fills its tables.
    pub fn open(cfg: &LiveConfig) -> Result<LibbpfDriver, DriverError> {
        live::check_privileges()?;
        live::ensure_mounts()?;
        live::raise_memlock();
        let cpus = live::possible_cpus();
        let layout = live::buffer_layout(cfg.buf_size_preset, cfg.cpus_for_each_buffer, cpus)?;

        let mut open = ObjectBuilder::default()
            .open_memory(abi::PROBE_OBJECT)
            .map_err(load_err)?;
        for mut map in open.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            if name == abi::MAP_RINGS {
                map.set_max_entries(cpus * layout.chunks_per_cpu)
                    .map_err(load_err)?;
            } else if name == abi::MAP_RING_POS || name == abi::MAP_SCRATCH {
                map.set_max_entries(cpus).map_err(load_err)?;
            }
        }
        let toctou = live::toctou_programs(cfg);
        for mut prog in open.progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            if name.starts_with("frs_enter_") && !toctou.iter().any(|(p, _)| *p == name) {
                prog.set_autoload(false);
            }
        }
        let obj = open.load().map_err(load_err)?;

        let handle = |name: &str| -> Result<MapHandle, DriverError> {
            let map = obj
                .maps()
                .find(|m| m.name() == name)
                .ok_or_else(|| DriverError::Load(format!("map {name} missing from the probe")))?;
            MapHandle::try_from(&map).map_err(load_err)
        };
        let settings = handle(abi::MAP_SETTINGS)?;
        let value = live::settings(cfg, &layout).to_bytes();
        settings
            .update(&0u32.to_ne_bytes(), &value, MapFlags::ANY)
            .map_err(load_err)?;
        let interesting = handle(abi::MAP_INTERESTING)?;
        for (nr, on) in live::interesting_table(&cfg.syscalls)
            .into_iter()
            .enumerate()
        {
            if on != 0 {
                interesting
                    .update(&(nr as u32).to_ne_bytes(), &[on], MapFlags::ANY)
                    .map_err(load_err)?;
            }
        }
        let counters = handle(abi::MAP_COUNTERS)?;

        let rings = Rings::map(
            handle(abi::MAP_RINGS)?.as_fd(),
            handle(abi::MAP_RING_POS)?.as_fd(),
            cpus,
            layout.chunks_per_cpu,
        )
        .map_err(|e| DriverError::RingBuffer(format!("cannot map the rings: {e}")))?;

        Ok(LibbpfDriver {
            rings,
            links: Vec::new(),
            counters,
            obj,
            toctou,
            drain_interval: cfg.drain_interval,
        })
    }
}

impl Driver for LibbpfDriver {
    fn name(&self) -> &'static str {
        "modern_ebpf"
    }

    fn start(&mut self) -> Result<(), DriverError> {
        if !self.links.is_empty() {
            return Ok(());
        }
        for (prog_name, _tp) in abi::PROGRAMS {
            let prog = self
                .obj
                .progs_mut()
                .find(|p| p.name() == prog_name)
                .ok_or_else(|| DriverError::Attach {
                    prog: prog_name,
                    msg: "missing".into(),
                })?;
            let link = prog.attach().map_err(|e| DriverError::Attach {
                prog: prog_name,
                msg: format!("{e:#}"),
            })?;
            self.links.push(link);
        }
        for (prog_name, tp) in &self.toctou {
            let Some(prog) = self.obj.progs_mut().find(|p| p.name() == *prog_name) else {
                continue;
            };
            // the enter events are an extra: without tracefs they are skipped, not fatal
            match prog.attach() {
                Ok(link) => self.links.push(link),
                Err(e) => {
                    tracing::warn!("cannot attach syscalls/{tp}: {e:#}; no enter events for it")
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
        Ok(self.rings.next_batch(self.drain_interval, timeout, sink))
    }

    fn stats(&self) -> Result<DriverStats, DriverError> {
        let per_cpu = self
            .counters
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(load_err)?
            .unwrap_or_default();
        let mut total = Counters::default();
        for v in per_cpu {
            total.add(&Counters::from_bytes(&v));
        }
        Ok(DriverStats {
            n_evts: total.n_evts,
            n_drops: total.n_drops(),
            counters: total,
        })
    }

    fn per_cpu_counters(&self) -> Vec<Counters> {
        self.counters
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .ok()
            .flatten()
            .unwrap_or_default()
            .iter()
            .map(|v| Counters::from_bytes(v))
            .collect()
    }

    fn prog_stats(&self) -> Vec<super::ProgStats> {
        use libbpf_rs::AsRawLibbpf;
        use libbpf_rs::libbpf_sys;
        let mut out = Vec::new();
        for prog in self.obj.progs() {
            // SAFETY: the program belongs to `self.obj`, alive for the call.
            let fd = unsafe { libbpf_sys::bpf_program__fd(prog.as_libbpf_object().as_ptr()) };
            if fd < 0 {
                continue; // not loaded (autoload off)
            }
            let mut info = libbpf_sys::bpf_prog_info::default();
            let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
            // SAFETY: `info` and `len` are live and `len` is the size of `info`.
            let rc =
                unsafe { libbpf_sys::bpf_obj_get_info_by_fd(fd, (&raw mut info).cast(), &mut len) };
            if rc != 0 {
                continue;
            }
            let name: Vec<u8> = info
                .name
                .iter()
                .take_while(|c| **c != 0)
                .map(|c| *c as u8)
                .collect();
            out.push(super::ProgStats {
                name: String::from_utf8_lossy(&name).into_owned(),
                run_cnt: info.run_cnt,
                run_time_ns: info.run_time_ns,
            });
        }
        out
    }

    fn stop(&mut self) {
        self.links.clear();
    }
}
