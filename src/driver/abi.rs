//! The userspace mirror of `bpf/falco_rs.h`: settings and counters layouts (with compile-time
//! size/offset asserts), the embedded probe object, the x86-64 syscall numbers the probe's
//! interesting table is indexed by, and a minimal view of the scap record header.

use std::mem::{offset_of, size_of};

/// Size of the packed `ppm_evt_hdr` (`FRS_EVT_HDR_SIZE`).
pub const EVT_HDR_SIZE: usize = 26;
/// Largest record the probe writes (`FRS_MAX_EVENT_SIZE`).
pub const MAX_EVENT_SIZE: usize = 32768;
/// Bytes of a ring chunk in which records start (`FRS_RING_CHUNK`).
pub const RING_CHUNK: u32 = 128 * 1024;
/// Bytes of one `rings` element: a chunk plus room for the record that crosses its end
/// (`FRS_RING_ELEM`).
pub const RING_ELEM: usize = RING_CHUNK as usize + MAX_EVENT_SIZE;
/// `struct frs_ring_pos`: size and the byte offsets of `head`, `cur` and `tail`.
pub const RING_POS_SIZE: usize = 128;
pub const RING_POS_HEAD: usize = 0;
pub const RING_POS_CUR: usize = 8;
pub const RING_POS_TAIL: usize = 64;
/// Entries of the interesting-syscall table (`FRS_SYSCALL_TABLE_SIZE`).
pub const SYSCALL_TABLE_SIZE: usize = 512;

/// `settings.flags` bits.
pub const FLAG_DROP_FAILED_EXIT: u32 = 1 << 0;
pub const FLAG_CAPTURE_PROCEXIT: u32 = 1 << 1;
pub const FLAG_FORK_FROM_TRACEPOINT: u32 = 1 << 2;

/// Names of the probe's objects, shared by both backends.
pub const MAP_SETTINGS: &str = "settings";
pub const MAP_INTERESTING: &str = "interesting";
pub const MAP_COUNTERS: &str = "counters";
pub const MAP_SCRATCH: &str = "scratch";
pub const MAP_RINGS: &str = "rings";
pub const MAP_RING_POS: &str = "ring_pos";
/// (program name, tp_btf tracepoint) pairs, always attached.
pub const PROGRAMS: [(&str, &str); 4] = [
    ("frs_sys_exit", "sys_exit"),
    ("frs_sched_exec", "sched_process_exec"),
    ("frs_sched_fork", "sched_process_fork"),
    ("frs_sched_exit", "sched_process_exit"),
];

/// (program name, syscall) of the TOCTOU enter-event programs, attached to the
/// `syscalls/sys_enter_<syscall>` tracepoints when that syscall is captured.
pub const TOCTOU_PROGRAMS: [(&str, &str); 5] = [
    ("frs_enter_open", "open"),
    ("frs_enter_openat", "openat"),
    ("frs_enter_openat2", "openat2"),
    ("frs_enter_creat", "creat"),
    ("frs_enter_connect", "connect"),
];

/// The compiled probe (built by build.rs from bpf/probe.bpf.c).
#[cfg(any(feature = "libbpf", feature = "aya"))]
pub static PROBE_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/probe.bpf.o"));

/// `struct frs_settings`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub boot_time_ns: u64,
    /// Ring chunks per CPU (>= 2).
    pub ring_chunks: u32,
    /// Possible CPUs (the `rings` map has `n_cpus * ring_chunks` elements).
    pub n_cpus: u32,
    pub snaplen: u32,
    pub flags: u32,
}

const _: () = {
    assert!(size_of::<Settings>() == 24);
    assert!(offset_of!(Settings, boot_time_ns) == 0);
    assert!(offset_of!(Settings, ring_chunks) == 8);
    assert!(offset_of!(Settings, n_cpus) == 12);
    assert!(offset_of!(Settings, snaplen) == 16);
    assert!(offset_of!(Settings, flags) == 20);
};

/// `struct frs_counters` (one per CPU; summed by the backends).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub n_evts: u64,
    pub n_drops_buffer: u64,
    pub n_drops_buffer_clone_fork_enter: u64,
    pub n_drops_buffer_clone_fork_exit: u64,
    pub n_drops_buffer_execve_enter: u64,
    pub n_drops_buffer_execve_exit: u64,
    pub n_drops_buffer_connect_enter: u64,
    pub n_drops_buffer_connect_exit: u64,
    pub n_drops_buffer_open_enter: u64,
    pub n_drops_buffer_open_exit: u64,
    pub n_drops_buffer_dir_file_enter: u64,
    pub n_drops_buffer_dir_file_exit: u64,
    pub n_drops_buffer_other_interest_enter: u64,
    pub n_drops_buffer_other_interest_exit: u64,
    pub n_drops_buffer_close_exit: u64,
    pub n_drops_buffer_proc_exit: u64,
    pub n_drops_scratch_map: u64,
    pub n_drops_pf: u64,
    pub n_drops_max_event_size: u64,
}

const _: () = {
    assert!(size_of::<Counters>() == 19 * 8);
    assert!(offset_of!(Counters, n_drops_buffer) == 8);
    assert!(offset_of!(Counters, n_drops_buffer_proc_exit) == 15 * 8);
    assert!(offset_of!(Counters, n_drops_max_event_size) == 18 * 8);
};

impl Counters {
    /// Reads one CPU's counters from the raw map value.
    pub fn from_bytes(b: &[u8]) -> Counters {
        let mut v = [0u64; 19];
        for (i, slot) in v.iter_mut().enumerate() {
            if let Some(chunk) = b.get(i * 8..i * 8 + 8) {
                *slot = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
            }
        }
        Counters {
            n_evts: v[0],
            n_drops_buffer: v[1],
            n_drops_buffer_clone_fork_enter: v[2],
            n_drops_buffer_clone_fork_exit: v[3],
            n_drops_buffer_execve_enter: v[4],
            n_drops_buffer_execve_exit: v[5],
            n_drops_buffer_connect_enter: v[6],
            n_drops_buffer_connect_exit: v[7],
            n_drops_buffer_open_enter: v[8],
            n_drops_buffer_open_exit: v[9],
            n_drops_buffer_dir_file_enter: v[10],
            n_drops_buffer_dir_file_exit: v[11],
            n_drops_buffer_other_interest_enter: v[12],
            n_drops_buffer_other_interest_exit: v[13],
            n_drops_buffer_close_exit: v[14],
            n_drops_buffer_proc_exit: v[15],
            n_drops_scratch_map: v[16],
            n_drops_pf: v[17],
            n_drops_max_event_size: v[18],
        }
    }

    /// Adds another CPU's counters.
    pub fn add(&mut self, o: &Counters) {
        self.n_evts += o.n_evts;
        self.n_drops_buffer += o.n_drops_buffer;
        self.n_drops_buffer_clone_fork_enter += o.n_drops_buffer_clone_fork_enter;
        self.n_drops_buffer_clone_fork_exit += o.n_drops_buffer_clone_fork_exit;
        self.n_drops_buffer_execve_enter += o.n_drops_buffer_execve_enter;
        self.n_drops_buffer_execve_exit += o.n_drops_buffer_execve_exit;
        self.n_drops_buffer_connect_enter += o.n_drops_buffer_connect_enter;
        self.n_drops_buffer_connect_exit += o.n_drops_buffer_connect_exit;
        self.n_drops_buffer_open_enter += o.n_drops_buffer_open_enter;
        self.n_drops_buffer_open_exit += o.n_drops_buffer_open_exit;
        self.n_drops_buffer_dir_file_enter += o.n_drops_buffer_dir_file_enter;
        self.n_drops_buffer_dir_file_exit += o.n_drops_buffer_dir_file_exit;
        self.n_drops_buffer_other_interest_enter += o.n_drops_buffer_other_interest_enter;
        self.n_drops_buffer_other_interest_exit += o.n_drops_buffer_other_interest_exit;
        self.n_drops_buffer_close_exit += o.n_drops_buffer_close_exit;
        self.n_drops_buffer_proc_exit += o.n_drops_buffer_proc_exit;
        self.n_drops_scratch_map += o.n_drops_scratch_map;
        self.n_drops_pf += o.n_drops_pf;
        self.n_drops_max_event_size += o.n_drops_max_event_size;
    }

    /// Every drop, as Falco's `n_drops` sums them.
    pub fn n_drops(&self) -> u64 {
        self.n_drops_buffer
            + self.n_drops_scratch_map
            + self.n_drops_pf
            + self.n_drops_max_event_size
    }
}

impl Settings {
    pub fn to_bytes(self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&self.boot_time_ns.to_ne_bytes());
        b[8..12].copy_from_slice(&self.ring_chunks.to_ne_bytes());
        b[12..16].copy_from_slice(&self.n_cpus.to_ne_bytes());
        b[16..20].copy_from_slice(&self.snaplen.to_ne_bytes());
        b[20..24].copy_from_slice(&self.flags.to_ne_bytes());
        b
    }
}

#[cfg(feature = "aya")]
// SAFETY: plain repr(C) integers, no padding (asserted above).
unsafe impl aya::Pod for Settings {}
#[cfg(feature = "aya")]
// SAFETY: plain repr(C) integers, no padding (asserted above).
unsafe impl aya::Pod for Counters {}

/// The fixed header of a scap event record (§10 of the capture format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub ts: u64,
    pub tid: u64,
    pub len: u32,
    pub evt_type: u16,
    pub nparams: u32,
}

impl RecordHeader {
    /// Parses the header; `None` when `b` is shorter than a header or than its own `len`.
    pub fn parse(b: &[u8]) -> Option<RecordHeader> {
        if b.len() < EVT_HDR_SIZE {
            return None;
        }
        let h = RecordHeader {
            ts: u64::from_le_bytes(b[0..8].try_into().ok()?),
            tid: u64::from_le_bytes(b[8..16].try_into().ok()?),
            len: u32::from_le_bytes(b[16..20].try_into().ok()?),
            evt_type: u16::from_le_bytes(b[20..22].try_into().ok()?),
            nparams: u32::from_le_bytes(b[22..26].try_into().ok()?),
        };
        if (h.len as usize) < EVT_HDR_SIZE || h.len as usize > b.len() {
            return None;
        }
        Some(h)
    }

    /// The parameter values of a record whose lengths are u16 (every event the probe emits).
    pub fn params<'a>(&self, b: &'a [u8]) -> Option<Vec<&'a [u8]>> {
        let n = self.nparams as usize;
        let mut pos = EVT_HDR_SIZE + 2 * n;
        let end = self.len as usize;
        if pos > end || end > b.len() {
            return None;
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let l = u16::from_le_bytes(
                b[EVT_HDR_SIZE + 2 * i..EVT_HDR_SIZE + 2 * i + 2]
                    .try_into()
                    .ok()?,
            ) as usize;
            if pos + l > end {
                return None;
            }
            out.push(&b[pos..pos + l]);
            pos += l;
        }
        (pos == end).then_some(out)
    }
}

/// x86-64 syscall numbers of every syscall the probe turns into an event.
pub const SYSCALLS: &[(&str, u32)] = &[
    ("open", 2),
    ("close", 3),
    ("pipe", 22),
    ("dup", 32),
    ("dup2", 33),
    ("socket", 41),
    ("connect", 42),
    ("accept", 43),
    ("sendto", 44),
    ("recvfrom", 45),
    ("sendmsg", 46),
    ("recvmsg", 47),
    ("shutdown", 48),
    ("bind", 49),
    ("listen", 50),
    ("socketpair", 53),
    ("getsockopt", 55),
    ("clone", 56),
    ("fork", 57),
    ("vfork", 58),
    ("execve", 59),
    ("fcntl", 72),
    ("chdir", 80),
    ("fchdir", 81),
    ("rename", 82),
    ("mkdir", 83),
    ("rmdir", 84),
    ("creat", 85),
    ("link", 86),
    ("unlink", 87),
    ("symlink", 88),
    ("chmod", 90),
    ("fchmod", 91),
    ("ptrace", 101),
    ("setuid", 105),
    ("setgid", 106),
    ("setsid", 112),
    ("setreuid", 113),
    ("setregid", 114),
    ("setresuid", 117),
    ("setresgid", 119),
    ("capset", 126),
    ("prctl", 157),
    ("chroot", 161),
    ("mount", 165),
    ("umount2", 166),
    ("init_module", 175),
    ("epoll_create", 213),
    ("inotify_init", 253),
    ("openat", 257),
    ("mkdirat", 258),
    ("unlinkat", 263),
    ("renameat", 264),
    ("linkat", 265),
    ("symlinkat", 266),
    ("fchmodat", 268),
    ("unshare", 272),
    ("signalfd", 282),
    ("timerfd_create", 283),
    ("eventfd", 284),
    ("accept4", 288),
    ("signalfd4", 289),
    ("eventfd2", 290),
    ("epoll_create1", 291),
    ("dup3", 292),
    ("pipe2", 293),
    ("inotify_init1", 294),
    ("setns", 308),
    ("finit_module", 313),
    ("renameat2", 316),
    ("memfd_create", 319),
    ("bpf", 321),
    ("execveat", 322),
    ("userfaultfd", 323),
    ("io_uring_setup", 425),
    ("io_uring_enter", 426),
    ("io_uring_register", 427),
    ("pidfd_open", 434),
    ("clone3", 435),
    ("close_range", 436),
    ("openat2", 437),
    ("pidfd_getfd", 438),
];

/// The x86-64 number of syscall `name`, if the probe handles it.
pub fn syscall_nr(name: &str) -> Option<u32> {
    SYSCALLS.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_params_round_trip() {
        // close exit: res=0, fd=3
        let mut b = Vec::new();
        b.extend_from_slice(&7u64.to_le_bytes());
        b.extend_from_slice(&42u64.to_le_bytes());
        b.extend_from_slice(&(26u32 + 4 + 16).to_le_bytes());
        b.extend_from_slice(&5u16.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&0i64.to_le_bytes());
        b.extend_from_slice(&3i64.to_le_bytes());
        let h = RecordHeader::parse(&b).expect("header");
        assert_eq!((h.ts, h.tid, h.evt_type, h.nparams), (7, 42, 5, 2));
        let p = h.params(&b).expect("params");
        assert_eq!(p[1], 3i64.to_le_bytes());
        // a record whose lengths overrun `len` is rejected
        b[26] = 200;
        assert!(h.params(&b).is_none());
    }

    #[test]
    fn every_probe_syscall_is_an_event_of_the_pinned_table() {
        for (name, _) in SYSCALLS {
            assert!(
                !crate::event::table::codes_for_name(name).is_empty(),
                "{name} has no event in the libs 0.25.4 table"
            );
        }
    }

    #[test]
    fn syscall_table_has_no_duplicates() {
        let mut names: Vec<_> = SYSCALLS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SYSCALLS.len());
        assert!(
            SYSCALLS
                .iter()
                .all(|(_, nr)| (*nr as usize) < SYSCALL_TABLE_SIZE)
        );
    }
}
