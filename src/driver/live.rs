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

/// Ring geometry. Falco sizes `n_buffers` buffers of `bytes` each (one per
/// `cpus_for_each_buffer` CPUs); the probe has one ring per CPU (a single writer each, so no
/// lock), and the same total memory is split evenly into `chunks_per_cpu` chunks of
/// [`abi::RING_ELEM`] bytes per CPU (at least two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLayout {
    pub bytes: u32,
    pub cpus_per_buffer: u32,
    pub n_buffers: u32,
    pub cpus: u32,
    pub chunks_per_cpu: u32,
}

/// Falco's sizing: preset 1..=10 → 1 MiB << (preset-1) per buffer; `cpus_for_each_buffer`
/// larger than the CPU count is clamped (Falco warns); 0 means one buffer for all CPUs.
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
    let n_buffers = if per == 0 { 1 } else { cpus.div_ceil(per) };
    let per_cpu = u64::from(bytes) * u64::from(n_buffers) / u64::from(cpus);
    let chunks_per_cpu = u32::try_from(per_cpu / abi::RING_ELEM as u64)
        .unwrap_or(u32::MAX)
        .max(2);
    Ok(BufferLayout {
        bytes,
        cpus_per_buffer: per,
        n_buffers,
        cpus,
        chunks_per_cpu,
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
        ring_chunks: layout.chunks_per_cpu,
        n_cpus: layout.cpus,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_clamping_follow_falco() {
        // Falco's default on 2 CPUs: one 8 MiB buffer, split into two per-CPU rings
        let l = buffer_layout(4, 2, 2).unwrap();
        assert_eq!(
            l,
            BufferLayout {
                bytes: 8 << 20,
                cpus_per_buffer: 2,
                n_buffers: 1,
                cpus: 2,
                chunks_per_cpu: (4 << 20) / abi::RING_ELEM as u32,
            }
        );
        assert_eq!(buffer_layout(1, 1, 8).unwrap().n_buffers, 8);
        assert_eq!(buffer_layout(10, 0, 8).unwrap().bytes, 512 << 20);
        assert_eq!(buffer_layout(4, 0, 8).unwrap().n_buffers, 1);
        // more CPUs per buffer than CPUs: clamped
        assert_eq!(buffer_layout(4, 64, 2).unwrap().cpus_per_buffer, 2);
        // the memory of 64 one-CPU buffers of 8 MiB: 8 MiB per CPU ring
        let wide = buffer_layout(4, 1, 64).unwrap();
        assert_eq!(wide.n_buffers, 64);
        assert_eq!(wide.chunks_per_cpu, (8 << 20) / abi::RING_ELEM as u32);
        // 1 MiB for 8 CPUs is less than two chunks each: two chunks each
        assert_eq!(buffer_layout(1, 0, 8).unwrap().chunks_per_cpu, 2);
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
}
