/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Layouts and constants shared by the probe (probe.bpf.c) and userspace (src/driver/abi.rs
 * mirrors every struct here with compile-time size/offset asserts; keep both in step).
 *
 * Records in the ring buffers are scap event records exactly as a capture file stores them
 * (libs 0.25.4 `ppm_evt_hdr`: u64 ts, u64 tid, u32 len, u16 type, u32 nparams, then u16
 * parameter lengths and the values), so live and replay share one decoder.
 */
#ifndef FALCO_RS_H
#define FALCO_RS_H

/* Size of the packed `ppm_evt_hdr`. */
#define FRS_EVT_HDR_SIZE 26

/* Per-CPU event rings. Each element of the mmapable `rings` array is one chunk; CPU c owns
 * elements [c * k, (c + 1) * k) (k = settings.ring_chunks). Records start below FRS_RING_CHUNK
 * in a chunk (8-byte aligned) and may run into its tail of FRS_MAX_EVENT_SIZE bytes; once the
 * write offset reaches FRS_RING_CHUNK the writer moves to the next chunk, unless userspace
 * still reads it (then the event is a drop). Each CPU has one writer (the probe runs with
 * preemption off, so no lock) and one reader (src/driver/ring.rs). */
#define FRS_RING_CHUNK (128 * 1024)
#define FRS_RING_ELEM (FRS_RING_CHUNK + FRS_MAX_EVENT_SIZE)

/* Syscall numbers (x86-64) covered by the interesting-syscall table. */
#define FRS_SYSCALL_TABLE_SIZE 512

/* Per-CPU scratch area used to build one event. */
#define FRS_SCRATCH_SIZE 65536
/* Largest event the probe builds; larger ones count as n_drops_max_event_size. */
#define FRS_MAX_EVENT_SIZE 32768

/* settings.flags */
#define FRS_FLAG_DROP_FAILED_EXIT (1u << 0)
#define FRS_FLAG_CAPTURE_PROCEXIT (1u << 1)
/* Emit the child's clone exit from sched_process_fork (arches whose children skip sys_exit). */
#define FRS_FLAG_FORK_FROM_TRACEPOINT (1u << 2)

/* One entry of the `settings` array map, written by userspace before attaching. */
struct frs_settings {
	/* Added to bpf_ktime_get_boot_ns() to get nanoseconds since the epoch. */
	unsigned long long boot_time_ns;
	/* Chunks of the `rings` map per CPU (>= 2). */
	unsigned int ring_chunks;
	/* Possible CPUs: the `rings` map has n_cpus * ring_chunks elements. */
	unsigned int n_cpus;
	/* Bytes of I/O buffers copied into `data` parameters (falco_libs.snaplen). */
	unsigned int snaplen;
	unsigned int flags;
};

/* Positions of one CPU's ring (one entry of the mmapable `ring_pos` array): `head` is written
 * by the probe only, `tail` by userspace only, each on its own cache line. Both are
 * (chunk sequence << 32 | byte offset in that chunk); chunk sequence s lives in element
 * cpu * ring_chunks + s % ring_chunks. `cur` (probe-private) is the element of head's chunk. */
struct frs_ring_pos {
	unsigned long long head;
	unsigned long long cur;
	unsigned long long _pad0[6];
	unsigned long long tail;
	unsigned long long _pad1[7];
};

/* Per-CPU counters (one entry of the `counters` percpu array); userspace sums them. The
 * n_drops_buffer_* categories are Falco's (scap_stats). */
struct frs_counters {
	unsigned long long n_evts;
	unsigned long long n_drops_buffer;
	unsigned long long n_drops_buffer_clone_fork_enter;
	unsigned long long n_drops_buffer_clone_fork_exit;
	unsigned long long n_drops_buffer_execve_enter;
	unsigned long long n_drops_buffer_execve_exit;
	unsigned long long n_drops_buffer_connect_enter;
	unsigned long long n_drops_buffer_connect_exit;
	unsigned long long n_drops_buffer_open_enter;
	unsigned long long n_drops_buffer_open_exit;
	unsigned long long n_drops_buffer_dir_file_enter;
	unsigned long long n_drops_buffer_dir_file_exit;
	unsigned long long n_drops_buffer_other_interest_enter;
	unsigned long long n_drops_buffer_other_interest_exit;
	unsigned long long n_drops_buffer_close_exit;
	unsigned long long n_drops_buffer_proc_exit;
	unsigned long long n_drops_scratch_map;
	unsigned long long n_drops_pf;
	unsigned long long n_drops_max_event_size;
};

#endif /* FALCO_RS_H */
