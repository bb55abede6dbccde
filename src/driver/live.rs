//! Plumbing shared by the two live backends: privilege checks and mounts, ring-buffer sizing,
//! the settings and interesting-syscall table written into the probe, and the batch that
//! orders drained records by timestamp.

use std::collections::BTreeSet;
use std::path::Path;

use super::DriverError;
use super::abi::{self, Settings};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Fails with the missing capability's name unless the process may load and attach BPF
/// tracing programs (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN).
pub fn check_privileges() -> Result<(), DriverError> {
    let path = Path::new("/proc/self/status");
    let status = std::fs::read_to_string(path).map_err(|source| DriverError::Io {
        path: path.into(),
        source,
    })?;
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    missing_capability(eff).map_or(Ok(()), |c| Err(DriverError::MissingCapability(c)))
}

/// The first capability missing from the effective set `eff`, if any.
pub fn missing_capability(eff: u64) -> Option<&'static str> {
    let has = |c: u32| eff & (1u64 << c) != 0;
    if has(CAP_SYS_ADMIN) {
        return None;
    }
    if !has(CAP_BPF) {
        return Some("CAP_BPF");
    }
    if !has(CAP_PERFMON) {
        return Some("CAP_PERFMON");
    }
    None
}

/// Mounts bpffs and tracefs where they are missing (they are not mounted at boot on every
/// machine). A mount refused for lack of privilege is an error naming CAP_SYS_ADMIN; other
/// failures are logged: tp_btf attachment needs neither.
pub fn ensure_mounts() -> Result<(), DriverError> {
    for (fs, path) in [("bpf", "/sys/fs/bpf"), ("tracefs", "/sys/kernel/tracing")] {
        if is_mounted(path, fs) {
            continue;
        }
        let r = nix::mount::mount(
            Some(fs),
            path,
            Some(fs),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
        match r {
            Ok(()) => tracing::debug!("mounted {fs} on {path}"),
            Err(nix::errno::Errno::EPERM) => {
                return Err(DriverError::MissingCapability("CAP_SYS_ADMIN"));
            }
            Err(e) => tracing::warn!("cannot mount {fs} on {path}: {e}"),
        }
    }
    Ok(())
}

fn is_mounted(path: &str, fstype: &str) -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines().any(|l| {
                let mut f = l.split(' ');
                let _dev = f.next();
                f.next() == Some(path) && f.next() == Some(fstype)
            })
        })
        .unwrap_or(false)
}

/// Raises RLIMIT_MEMLOCK where allowed; kernels >= 5.11 account BPF memory to the cgroup, so
/// a refusal (root without CAP_SYS_RESOURCE) is only logged.
pub fn raise_memlock() {
    use nix::sys::resource::{Resource, setrlimit};
    if let Err(e) = setrlimit(Resource::RLIMIT_MEMLOCK, u64::MAX, u64::MAX) {
        tracing::debug!("cannot raise RLIMIT_MEMLOCK ({e}); not needed on kernels >= 5.11");
    }
}

/// Nanoseconds to add to CLOCK_BOOTTIME to get the time since the epoch.
pub fn boot_time_ns() -> u64 {
    let ns = |clock| {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        let rc = unsafe { libc::clock_gettime(clock, &mut t) };
        if rc == 0 {
            t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128
        } else {
            0
        }
    };
    let real = ns(libc::CLOCK_REALTIME);
    let boot = ns(libc::CLOCK_BOOTTIME);
    (real - boot).max(0) as u64
}

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. `0-1` → 2).
pub fn possible_cpus() -> u32 {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    parse_cpu_list(text.trim()).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)
    })
}

/// Highest CPU index + 1 of a list like `0-3,5`.
pub fn parse_cpu_list(s: &str) -> Option<u32> {
    let mut max = None;
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let last = part.rsplit('-').next()?;
        let v: u32 = last.trim().parse().ok()?;
        max = Some(max.map_or(v, |m: u32| m.max(v)));
    }
    max.map(|m| m + 1)
}

/// Ring buffer geometry: bytes per buffer, CPUs per buffer (0 = all share buffer 0), number
/// of buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLayout {
    pub bytes: u32,
    pub cpus_per_buffer: u32,
    pub n_buffers: u32,
}

/// Falco's sizing: preset 1..=10 → 1 MiB << (preset-1) per buffer; `cpus_for_each_buffer`
/// larger than the CPU count is clamped (Falco warns). The probe has at most
/// [`abi::MAX_RINGBUFS`] buffers; more CPUs share a buffer then.
pub fn buffer_layout(
    preset: i64,
    cpus_for_each_buffer: u32,
    cpus: u32,
) -> Result<BufferLayout, DriverError> {
    if !(1..=10).contains(&preset) {
        return Err(DriverError::BufSizePreset);
    }
    let bytes = (1u32 << 20) << (preset - 1);
    let cpus = cpus.max(1);
    let mut per = cpus_for_each_buffer;
    if per > cpus {
        tracing::warn!(
            "Buffer every {per} CPUs is greater than the {cpus} available CPUs; using one \
             buffer for all of them"
        );
        per = cpus;
    }
    if per == 0 {
        return Ok(BufferLayout {
            bytes,
            cpus_per_buffer: 0,
            n_buffers: 1,
        });
    }
    let max = abi::MAX_RINGBUFS as u32;
    if cpus.div_ceil(per) > max {
        let wider = cpus.div_ceil(max);
        tracing::warn!("{cpus} CPUs need more than {max} ring buffers: {wider} CPUs per buffer");
        per = wider;
    }
    Ok(BufferLayout {
        bytes,
        cpus_per_buffer: per,
        n_buffers: cpus.div_ceil(per),
    })
}

/// The probe's `settings` entry.
pub fn settings(cfg: &super::LiveConfig, layout: &BufferLayout) -> Settings {
    let mut flags = 0;
    if cfg.drop_failed_exit {
        flags |= abi::FLAG_DROP_FAILED_EXIT;
    }
    if cfg.procexit {
        flags |= abi::FLAG_CAPTURE_PROCEXIT;
    }
    Settings {
        boot_time_ns: boot_time_ns(),
        cpus_per_buffer: layout.cpus_per_buffer,
        n_buffers: layout.n_buffers,
        snaplen: cfg.snaplen,
        flags,
    }
}

/// The probe's `interesting` table (one byte per x86-64 syscall number).
pub fn interesting_table(names: &BTreeSet<String>) -> Vec<u8> {
    let mut t = vec![0u8; abi::SYSCALL_TABLE_SIZE];
    for n in names {
        if let Some(nr) = abi::syscall_nr(n) {
            t[nr as usize] = 1;
        }
    }
    t
}

/// The TOCTOU programs to attach: (program, tracepoint name) for each captured syscall among
/// open, openat, openat2, creat and connect, when the enter events are wanted at all.
pub fn toctou_programs(cfg: &super::LiveConfig) -> Vec<(&'static str, String)> {
    if !cfg.toctou_enter {
        return Vec::new();
    }
    abi::TOCTOU_PROGRAMS
        .iter()
        .filter(|(_, sc)| cfg.syscalls.contains(*sc))
        .map(|(prog, sc)| (*prog, format!("sys_enter_{sc}")))
        .collect()
}

/// Records drained from the ring buffers in one pass, delivered in timestamp order.
#[derive(Debug, Default)]
pub struct RecordBatch {
    data: Vec<u8>,
    index: Vec<(u64, u16, u32, u32)>,
}

impl RecordBatch {
    pub fn push(&mut self, cpu: u16, rec: &[u8]) {
        let Some(h) = abi::RecordHeader::parse(rec) else {
            return;
        };
        let off = self.data.len() as u32;
        self.data.extend_from_slice(&rec[..h.len as usize]);
        self.index.push((h.ts, cpu, off, h.len));
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Hands every record to `sink` (stable-sorted by timestamp) and empties the batch.
    pub fn deliver(&mut self, sink: &mut dyn FnMut(super::RawEvent<'_>)) -> usize {
        self.index.sort_by_key(|e| e.0);
        for &(_, cpu, off, len) in &self.index {
            let data = &self.data[off as usize..(off + len) as usize];
            sink(super::RawEvent {
                cpu,
                flags: 0,
                data,
            });
        }
        let n = self.index.len();
        self.index.clear();
        self.data.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_clamping_follow_falco() {
        let l = buffer_layout(4, 2, 2).unwrap();
        assert_eq!(
            l,
            BufferLayout {
                bytes: 8 << 20,
                cpus_per_buffer: 2,
                n_buffers: 1
            }
        );
        assert_eq!(buffer_layout(1, 1, 8).unwrap().n_buffers, 8);
        assert_eq!(buffer_layout(10, 0, 8).unwrap().bytes, 512 << 20);
        assert_eq!(buffer_layout(4, 0, 8).unwrap().n_buffers, 1);
        // more CPUs per buffer than CPUs: clamped
        assert_eq!(buffer_layout(4, 64, 2).unwrap().cpus_per_buffer, 2);
        // 64 CPUs, one buffer each: capped at the probe's 16 buffers
        let wide = buffer_layout(4, 1, 64).unwrap();
        assert_eq!((wide.cpus_per_buffer, wide.n_buffers), (4, 16));
        let err = buffer_layout(11, 2, 2).unwrap_err().to_string();
        assert_eq!(
            err,
            "The 'buf_size_preset' value must be between '1' and '10'"
        );
        assert!(buffer_layout(0, 2, 2).is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1"), Some(2));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,8-9"), Some(10));
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn capability_names() {
        assert_eq!(missing_capability(0), Some("CAP_BPF"));
        assert_eq!(missing_capability(1 << CAP_BPF), Some("CAP_PERFMON"));
        assert_eq!(
            missing_capability((1 << CAP_BPF) | (1 << CAP_PERFMON)),
            None
        );
        assert_eq!(missing_capability(1 << CAP_SYS_ADMIN), None);
    }

    #[test]
    fn batch_orders_by_timestamp() {
        let rec = |ts: u64| {
            let mut b = Vec::new();
            b.extend_from_slice(&ts.to_le_bytes());
            b.extend_from_slice(&1u64.to_le_bytes());
            b.extend_from_slice(&26u32.to_le_bytes());
            b.extend_from_slice(&186u16.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b
        };
        let mut batch = RecordBatch::default();
        batch.push(1, &rec(30));
        batch.push(0, &rec(10));
        batch.push(1, &[1, 2, 3]); // truncated: ignored
        let mut seen = Vec::new();
        let n = batch
            .deliver(&mut |e| seen.push((e.cpu, abi::RecordHeader::parse(e.data).unwrap().ts)));
        assert_eq!(n, 2);
        assert_eq!(seen, vec![(0, 10), (1, 30)]);
        assert!(batch.is_empty());
    }
}
