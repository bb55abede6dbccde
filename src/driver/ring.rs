//! The consumer side of the probe's per-CPU event rings (layout in `bpf/falco_rs.h`): the
//! `rings` and `ring_pos` maps mapped into this process, and the drain that copies every
//! record out in timestamp order across CPUs, gives the space back to the probe and hands the
//! records to the pipeline.
//!
//! Protocol, per CPU: the probe is the only writer of `head` and of the chunk bytes, this
//! reader the only writer of `tail`; both are `chunk sequence << 32 | offset in the chunk`.
//! Records start below [`abi::RING_CHUNK`] in a chunk, 8-byte aligned, and a chunk is finished
//! once the offset reaches [`abi::RING_CHUNK`]. Chunk sequence `s` of CPU `c` is element
//! `c * chunks + s % chunks`. Records of one CPU are in timestamp order (the probe runs with
//! preemption off), so a merge of the CPUs' sequences orders the whole batch.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::abi;
use super::{Batch, RawEvent};

/// Page size the kernel rounds map mappings to.
const PAGE: usize = 4096;

/// Bytes of records one drain copies out at most (about 16k typical records, 8 ms of events
/// at 2M events/s); the rest waits for the next drain, which follows without a pause.
pub const STAGE_BYTES: usize = 1 << 20;

/// An empty vector with room for `cap` items whose pages are already faulted in.
fn touched<T: Clone>(cap: usize, fill: T) -> Vec<T> {
    let mut v = Vec::with_capacity(cap);
    v.resize(cap, fill);
    v.clear();
    v
}

/// Memory a [`Rings`] reads: two shared mappings of the maps, or (tests) plain memory.
enum Backing {
    Mapped {
        data: Mapping,
        pos: Mapping,
    },
    #[cfg(test)]
    Memory {
        data: Box<[u64]>,
        pos: Box<[u64]>,
    },
}

/// One shared mapping of a BPF map, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(fd: BorrowedFd<'_>, len: usize, writable: bool) -> std::io::Result<Mapping> {
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        // SAFETY: a new shared mapping of `len` bytes of the map behind `fd`; the kernel
        // refuses sizes beyond the map.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast()).ok_or_else(std::io::Error::last_os_error)?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`; nothing borrows it any more.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Where one CPU's drain has got to: its `tail` and the `head` seen at the start of the drain.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    tail: u64,
    head: u64,
    /// The next record: byte offset into `data`, its length and timestamp.
    next: Option<(usize, u32, u64)>,
    /// The chunk sequence `tail` is in and the byte offset of its element in `data` (worked
    /// out once per chunk, not per record).
    chunk: Option<(u32, usize)>,
}

fn split(p: u64) -> (u32, u32) {
    ((p >> 32) as u32, p as u32)
}

fn join(seq: u32, off: u32) -> u64 {
    (u64::from(seq) << 32) | u64::from(off)
}

/// The per-CPU rings of a loaded probe.
pub struct Rings {
    backing: Backing,
    cpus: usize,
    chunks: u32,
    cursors: Vec<Cursor>,
    /// The drained records copied out in delivery order, and (cpu, offset) of each. One
    /// sequential copy costs less than the pipeline reading every record where the other CPU
    /// wrote it (the lines move once, prefetched, instead of on each access), and the ring
    /// space is handed back before the records are processed. Both are allocated and touched
    /// once, at their full capacity, and a drain stops when either is full: they never grow,
    /// so no drain takes page faults (2-10 µs per page on a VM: taken during the first burst
    /// they slowed its drains fortyfold and dropped events).
    staged: Vec<u8>,
    index: Vec<(u16, u32)>,
    /// Records that could not be read (a length outside the chunk): the rest of their chunk
    /// is skipped. Never expected; counted so it cannot go unnoticed.
    pub n_corrupt: u64,
}

impl Rings {
    /// Maps the probe's `rings` (read-only) and `ring_pos` (read-write) arrays, sized for
    /// `cpus` CPUs of `chunks` chunks each, and resets every CPU's positions. Call before the
    /// programs are attached.
    pub fn map(
        rings: BorrowedFd<'_>,
        ring_pos: BorrowedFd<'_>,
        cpus: u32,
        chunks: u32,
    ) -> std::io::Result<Rings> {
        let cpus = cpus as usize;
        let data_len = cpus * chunks as usize * abi::RING_ELEM;
        let pos_len = (cpus * abi::RING_POS_SIZE).div_ceil(PAGE) * PAGE;
        let data = Mapping::new(rings, data_len.div_ceil(PAGE) * PAGE, false)?;
        let pos = Mapping::new(ring_pos, pos_len, true)?;
        Ok(Rings::over(
            Backing::Mapped { data, pos },
            cpus,
            chunks,
            STAGE_BYTES,
        ))
    }

    /// The rings in `backing`, every CPU's positions reset, drained `stage_bytes` at a time
    /// (at least one whole record of [`abi::RING_ELEM`]).
    fn over(backing: Backing, cpus: usize, chunks: u32, stage_bytes: usize) -> Rings {
        let stage_bytes = stage_bytes.max(abi::RING_ELEM);
        let r = Rings {
            backing,
            cpus,
            chunks,
            cursors: vec![Cursor::default(); cpus],
            staged: touched(stage_bytes, 0),
            index: touched(stage_bytes / abi::EVT_HDR_SIZE, (0, 0)),
            n_corrupt: 0,
        };
        r.reset();
        r
    }

    fn data(&self) -> *const u8 {
        match &self.backing {
            Backing::Mapped { data, .. } => data.ptr.as_ptr(),
            #[cfg(test)]
            Backing::Memory { data, .. } => data.as_ptr().cast(),
        }
    }

    /// `ring_pos` field at byte `field` of CPU `cpu`.
    fn pos(&self, cpu: usize, field: usize) -> &AtomicU64 {
        let base: *mut u8 = match &self.backing {
            Backing::Mapped { pos, .. } => pos.ptr.as_ptr(),
            #[cfg(test)]
            Backing::Memory { pos, .. } => pos.as_ptr().cast_mut().cast(),
        };
        // SAFETY: `cpu < self.cpus`, so the 8-aligned field lies inside the positions memory,
        // which lives as long as `self`; the probe and this reader only access it atomically
        // (plain aligned 64-bit loads and stores on the probe's side).
        unsafe { AtomicU64::from_ptr(base.add(cpu * abi::RING_POS_SIZE + field).cast()) }
    }

    /// Every CPU's ring empty: head and tail at chunk 0, the probe's current element the CPU's
    /// first.
    fn reset(&self) {
        for cpu in 0..self.cpus {
            self.pos(cpu, abi::RING_POS_HEAD)
                .store(0, Ordering::Relaxed);
            self.pos(cpu, abi::RING_POS_CUR)
                .store(cpu as u64 * u64::from(self.chunks), Ordering::Relaxed);
            self.pos(cpu, abi::RING_POS_TAIL)
                .store(0, Ordering::Release);
        }
    }

    /// Moves CPU `cpu`'s cursor onto its next complete record (skipping finished chunks and
    /// handing them back to the probe) and notes it in `cursor.next`.
    fn advance(&mut self, cpu: usize) {
        let mut c = self.cursors[cpu];
        c.next = None;
        loop {
            let (ts, to) = split(c.tail);
            let (hs, ho) = split(c.head);
            if ts == hs && to >= ho {
                break;
            }
            if hs.wrapping_sub(ts) >= self.chunks {
                // never written by the probe: resynchronise on the head
                self.n_corrupt += 1;
                c.tail = c.head;
                self.pos(cpu, abi::RING_POS_TAIL)
                    .store(c.tail, Ordering::Release);
                break;
            }
            if to >= abi::RING_CHUNK {
                c.tail = join(ts.wrapping_add(1), 0);
                // the finished chunk is free for the probe right away
                self.pos(cpu, abi::RING_POS_TAIL)
                    .store(c.tail, Ordering::Release);
                continue;
            }
            let base = match c.chunk {
                Some((seq, base)) if seq == ts => base,
                _ => {
                    let elem = cpu * self.chunks as usize + (ts % self.chunks) as usize;
                    c.chunk = Some((ts, elem * abi::RING_ELEM));
                    elem * abi::RING_ELEM
                }
            };
            let off = base + to as usize;
            // SAFETY: `off + EVT_HDR_SIZE` lies inside the element (to < RING_CHUNK), written
            // completely by the probe before it published a head past it.
            let (ts_ns, len) = unsafe {
                let p = self.data().add(off);
                (
                    p.cast::<u64>().read_unaligned(),
                    p.add(16).cast::<u32>().read_unaligned(),
                )
            };
            if (len as usize) < abi::EVT_HDR_SIZE || to as usize + len as usize > abi::RING_ELEM {
                self.n_corrupt += 1;
                c.tail = join(ts, abi::RING_CHUNK);
                continue;
            }
            c.next = Some((off, len, ts_ns));
            break;
        }
        self.cursors[cpu] = c;
    }

    /// The driver's `next_batch`: drains whatever is waiting, else sleeps `interval` and
    /// drains again; `Timeout` when nothing arrived within `timeout`. (A busy reader drains
    /// again right away: waiting for bigger batches, as libscap does below 20 kB, let the
    /// workload's threads take its CPU and dropped events at 2M events/s on 2 CPUs.)
    pub fn next_batch(
        &mut self,
        interval: Duration,
        timeout: Duration,
        sink: &mut dyn FnMut(RawEvent<'_>),
    ) -> Batch {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.drain(sink);
            if n > 0 {
                return Batch::Events(n);
            }
            let now = Instant::now();
            if now >= deadline {
                return Batch::Timeout;
            }
            std::thread::sleep(interval.min(deadline - now));
        }
    }

    /// Hands the records published so far to `sink`, oldest timestamp first across CPUs
    /// (merged without sorting: each CPU's records are in time order), and returns their
    /// number. At most [`STAGE_BYTES`] of records are handed over per call; those beyond, and
    /// records published during the drain, wait for the next one.
    pub fn drain(&mut self, sink: &mut dyn FnMut(RawEvent<'_>)) -> usize {
        for cpu in 0..self.cpus {
            let head = self.pos(cpu, abi::RING_POS_HEAD).load(Ordering::Acquire);
            let tail = self.pos(cpu, abi::RING_POS_TAIL).load(Ordering::Relaxed);
            let c = &mut self.cursors[cpu];
            (c.tail, c.head, c.next) = (tail, head, None);
            self.advance(cpu);
        }
        let mut n = 0;
        loop {
            let mut best: Option<(usize, u64)> = None;
            for (cpu, c) in self.cursors.iter().enumerate() {
                if let Some((_, _, ts)) = c.next
                    && best.is_none_or(|(_, b)| ts < b)
                {
                    best = Some((cpu, ts));
                }
            }
            let Some((cpu, _)) = best else {
                break;
            };
            let Some((off, len, _)) = self.cursors[cpu].next else {
                break;
            };
            let at = self.staged.len();
            if at + len as usize > self.staged.capacity()
                || self.index.len() == self.index.capacity()
            {
                break; // the stage is full: the rest waits for the next drain
            }
            // SAFETY: the record's `len` bytes were checked to lie inside its element and are
            // not rewritten by the probe before `tail` moves past them.
            let data = unsafe { std::slice::from_raw_parts(self.data().add(off), len as usize) };
            self.staged.extend_from_slice(data);
            self.index.push((cpu as u16, at as u32));
            n += 1;
            let (ts, to) = split(self.cursors[cpu].tail);
            self.cursors[cpu].tail = join(ts, to + ((len + 7) & !7));
            self.advance(cpu);
        }
        for cpu in 0..self.cpus {
            let tail = self.cursors[cpu].tail;
            self.pos(cpu, abi::RING_POS_TAIL)
                .store(tail, Ordering::Release);
        }
        let ends = self
            .index
            .iter()
            .skip(1)
            .map(|&(_, at)| at as usize)
            .chain(std::iter::once(self.staged.len()));
        for (&(cpu, at), end) in self.index.iter().zip(ends) {
            sink(RawEvent {
                cpu,
                flags: 0,
                data: &self.staged[at as usize..end],
            });
        }
        self.staged.clear();
        self.index.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer following the probe's side of the protocol, over test memory.
    struct Writer {
        cpu: usize,
    }

    fn memory_rings(cpus: usize, chunks: u32) -> Rings {
        staged_rings(cpus, chunks, STAGE_BYTES)
    }

    fn staged_rings(cpus: usize, chunks: u32, stage_bytes: usize) -> Rings {
        let data = vec![0u64; cpus * chunks as usize * abi::RING_ELEM / 8].into_boxed_slice();
        let pos = vec![0u64; cpus * abi::RING_POS_SIZE / 8].into_boxed_slice();
        Rings::over(Backing::Memory { data, pos }, cpus, chunks, stage_bytes)
    }

    fn record(ts: u64, len: u32) -> Vec<u8> {
        let mut b = vec![0xabu8; len as usize];
        b[0..8].copy_from_slice(&ts.to_le_bytes());
        b[8..16].copy_from_slice(&7u64.to_le_bytes());
        b[16..20].copy_from_slice(&len.to_le_bytes());
        b
    }

    impl Writer {
        /// Writes `rec` as the probe does; false when the ring is full (a drop).
        fn write(&self, r: &Rings, rec: &[u8]) -> bool {
            let head = r.pos(self.cpu, abi::RING_POS_HEAD).load(Ordering::Relaxed);
            let mut cur = r.pos(self.cpu, abi::RING_POS_CUR).load(Ordering::Relaxed);
            let (mut seq, mut off) = split(head);
            if off >= abi::RING_CHUNK {
                let tail_seq = split(r.pos(self.cpu, abi::RING_POS_TAIL).load(Ordering::Acquire)).0;
                if seq.wrapping_add(1).wrapping_sub(tail_seq) >= r.chunks {
                    return false;
                }
                seq = seq.wrapping_add(1);
                off = 0;
                cur = self.cpu as u64 * u64::from(r.chunks) + u64::from(seq % r.chunks);
                r.pos(self.cpu, abi::RING_POS_CUR)
                    .store(cur, Ordering::Relaxed);
            }
            let at = cur as usize * abi::RING_ELEM + off as usize;
            // SAFETY: test memory; the element has room for any record starting below a chunk.
            unsafe {
                std::ptr::copy_nonoverlapping(rec.as_ptr(), r.data().add(at).cast_mut(), rec.len())
            };
            let len = (rec.len() as u32 + 7) & !7;
            r.pos(self.cpu, abi::RING_POS_HEAD)
                .store(join(seq, off + len), Ordering::Release);
            true
        }
    }

    fn drain_all(r: &mut Rings) -> Vec<(u16, u64, usize)> {
        let mut seen = Vec::new();
        r.drain(&mut |e| {
            let ts = u64::from_le_bytes(e.data[0..8].try_into().unwrap());
            assert!(
                e.data[26..].iter().all(|b| *b == 0xab),
                "record bytes intact"
            );
            seen.push((e.cpu, ts, e.data.len()));
        });
        seen
    }

    #[test]
    fn records_of_all_cpus_come_out_in_timestamp_order() {
        let mut r = memory_rings(3, 2);
        let w = |cpu| Writer { cpu };
        assert!(w(2).write(&r, &record(5, 40)));
        assert!(w(0).write(&r, &record(10, 100)));
        assert!(w(1).write(&r, &record(20, 27)));
        assert!(w(0).write(&r, &record(30, 26)));
        assert!(w(2).write(&r, &record(40, 300)));
        let seen = drain_all(&mut r);
        assert_eq!(
            seen,
            vec![
                (2, 5, 40),
                (0, 10, 100),
                (1, 20, 27),
                (0, 30, 26),
                (2, 40, 300)
            ]
        );
        assert!(drain_all(&mut r).is_empty(), "a drain consumes");
        assert_eq!(r.n_corrupt, 0);
    }

    #[test]
    fn chunks_are_crossed_and_reused_and_a_full_ring_drops() {
        let mut r = memory_rings(1, 2);
        let w = Writer { cpu: 0 };
        // 30 KiB records: five start in a 128 KiB chunk, the fifth runs past its end
        let rec = |ts| record(ts, 30 * 1024);
        let mut written = 0u64;
        while w.write(&r, &rec(written)) {
            written += 1;
        }
        // two chunks of five records each, then the ring is full
        assert_eq!(written, 10);
        let seen = drain_all(&mut r);
        assert_eq!(seen.len(), 10);
        assert!(seen.iter().enumerate().all(|(i, s)| s.1 == i as u64));
        // the space is back: the next laps go on in order
        for lap in 0..3 {
            let mut n = 0;
            while w.write(&r, &rec(1000 * (lap + 1) + n)) {
                n += 1;
            }
            let seen = drain_all(&mut r);
            assert!(n >= 5, "lap {lap}: {n} records");
            assert_eq!(seen.len() as u64, n, "lap {lap}");
            assert!(seen.windows(2).all(|p| p[0].1 < p[1].1));
        }
        assert_eq!(r.n_corrupt, 0);
    }

    #[test]
    fn a_full_stage_leaves_the_rest_in_order_for_the_next_drain() {
        // the smallest stage holds one element: five 30 KiB records
        let mut r = staged_rings(2, 4, 0);
        let rec = |ts| record(ts, 30 * 1024);
        for ts in 0..12u64 {
            assert!(
                Writer {
                    cpu: ts as usize % 2
                }
                .write(&r, &rec(ts))
            );
        }
        let batches: Vec<_> = (0..4).map(|_| drain_all(&mut r)).collect();
        let sizes: Vec<_> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 5, 2, 0]);
        let order: Vec<_> = batches.concat().iter().map(|s| s.1).collect();
        assert_eq!(order, (0..12).collect::<Vec<_>>());
        // the stage never grew past what was touched up front
        assert_eq!(r.staged.capacity(), abi::RING_ELEM);
        assert_eq!(r.n_corrupt, 0);
    }

    #[test]
    fn next_batch_times_out_on_empty_rings_and_hands_over_what_waits() {
        let mut r = memory_rings(2, 2);
        let tick = Duration::from_millis(1);
        let mut n = 0;
        assert!(matches!(
            r.next_batch(tick, Duration::from_millis(5), &mut |_| n += 1),
            Batch::Timeout
        ));
        assert!(Writer { cpu: 1 }.write(&r, &record(3, 40)));
        assert!(Writer { cpu: 0 }.write(&r, &record(4, 40)));
        assert!(matches!(
            r.next_batch(tick, Duration::from_secs(5), &mut |_| n += 1),
            Batch::Events(2)
        ));
        assert_eq!(n, 2);
    }

    #[test]
    fn a_garbled_length_skips_its_chunk_and_is_counted() {
        let mut r = memory_rings(1, 4);
        let w = Writer { cpu: 0 };
        assert!(w.write(&r, &record(1, 64)));
        let mut bad = record(2, 64);
        bad[16..20].copy_from_slice(&3u32.to_le_bytes());
        assert!(w.write(&r, &bad));
        let seen = drain_all(&mut r);
        assert_eq!(seen, vec![(0, 1, 64)]);
        assert_eq!(r.n_corrupt, 1);
    }
}
