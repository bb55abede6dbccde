//! Capture to a scap file around rule matches (falco.yaml `capture`, falco-runtime.md §1.4),
//! as Falco 0.44.1's event loop does it: after the rules saw an event, a match of a rule with
//! `capture: true` (mode `rules`) or of any rule (mode `all_rules`) opens a dump if none is
//! open; every match (capture rule or not) moves the deadline to at least its event time plus
//! the rule's `capture_duration` (or `capture.default_duration`); each event is written while
//! a dump is open, the matching one first, and the dump closes on the first event at or past
//! the deadline (written too) or when the file reaches `capture.max_file_size_mb` (then the
//! `Falco internal: capture size limit reached` alert). The dump opens with the state blocks
//! of the moment: the event loop's thread table (so processes seen only through events are
//! there) plus the host /proc's fds, users, groups, interfaces and machine block.
//!
//! The file name is Falco's dumper name, `<path_prefix>_<ts, 20 digits>_<event number, 20
//! digits>.scap`, gzip-compressed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{RawEvent, proc_scan};
use crate::capture::CaptureError;
use crate::capture::records::{Metadata, ThreadRecord, fd_type};
use crate::capture::writer::{CaptureWriter, FileSink};
use crate::config::{Capture, CaptureMode};
use crate::state::State;

/// Errors of the capture dump.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot scan /proc for the capture's state blocks: {0}")]
    Scan(#[from] proc_scan::ScanError),
    #[error("cannot write the capture {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: CaptureError,
    },
}

/// Falco's dumper file name for a capture opened at `ts_ns` on event number `evtnum`.
pub fn capture_file_name(path_prefix: &str, ts_ns: u64, evtnum: u64) -> PathBuf {
    PathBuf::from(format!("{path_prefix}_{ts_ns:020}_{evtnum:020}.scap"))
}

/// What the event loop must do after [`CaptureDump::after_event`].
#[derive(Debug)]
pub enum DumpNotice {
    /// The file reached `capture.max_file_size_mb`: emit this internal alert.
    SizeLimit(crate::output::InternalMsg),
    /// Writing failed; the dump was dropped (detection goes on): log this error.
    Failed(String),
}

/// One open dump.
struct Open {
    writer: CaptureWriter<FileSink>,
    path: PathBuf,
    events: u64,
}

/// The capture of one event loop: told the rules matched on each event ([`Self::on_match`]),
/// then handed the event ([`Self::after_event`]).
pub struct CaptureDump {
    mode: CaptureMode,
    path_prefix: String,
    default_duration_ns: u64,
    max_file_size_mb: u64,
    /// Rule name -> (`capture`, `capture_duration` in ns).
    rules: HashMap<String, (bool, u64)>,
    /// The current event matched a rule / a rule with `capture: true`; the longest duration.
    matched: Cell<bool>,
    capture_rule: Cell<bool>,
    duration_ns: Cell<u64>,
    deadline_ts: Cell<u64>,
    evt_num: Cell<u64>,
    open: RefCell<Option<Open>>,
}

/// How often (in written events) the file size is checked against `max_file_size_mb`.
const SIZE_CHECK_EVERY: u64 = 64;

impl CaptureDump {
    /// The dump of `capture` for the rules `(name, capture, capture_duration_ns)`; None when
    /// `capture.enabled` is false.
    pub fn new<'r>(
        capture: &Capture,
        rules: impl IntoIterator<Item = (&'r str, bool, u64)>,
    ) -> Option<CaptureDump> {
        if !capture.enabled {
            return None;
        }
        Some(CaptureDump {
            mode: capture.mode,
            path_prefix: capture.path_prefix.clone(),
            default_duration_ns: capture.default_duration_ms.saturating_mul(1_000_000),
            max_file_size_mb: capture.max_file_size_mb,
            rules: rules
                .into_iter()
                .map(|(n, c, d)| (n.to_string(), (c, d)))
                .collect(),
            matched: Cell::new(false),
            capture_rule: Cell::new(false),
            duration_ns: Cell::new(0),
            deadline_ts: Cell::new(0),
            evt_num: Cell::new(0),
            open: RefCell::new(None),
        })
    }

    /// Falco's INFO line at the start of event processing.
    pub fn log_line(&self) -> String {
        let mode = match self.mode {
            CaptureMode::Rules => "'rules'",
            CaptureMode::AllRules => "'all_rules'",
        };
        format!(
            "Capture is enabled in mode {mode}. Capturing events to {}\n",
            self.path_prefix
        )
    }

    /// A rule matched the current event.
    pub fn on_match(&self, rule: &str) {
        let (capture, duration) = self.rules.get(rule).copied().unwrap_or((false, 0));
        let duration = if duration > 0 {
            duration
        } else {
            self.default_duration_ns
        };
        self.matched.set(true);
        self.capture_rule.set(self.capture_rule.get() || capture);
        self.duration_ns.set(self.duration_ns.get().max(duration));
    }

    /// Whether a dump is open.
    pub fn is_open(&self) -> bool {
        self.open.borrow().is_some()
    }

    /// The event the rules just saw (its time `ts`): opens a dump when a match asks for one
    /// (state blocks from `state`), writes the event while a dump is open, closes it at the
    /// deadline or the size limit.
    pub fn after_event(&self, ev: &RawEvent<'_>, ts: u64, state: &State) -> Option<DumpNotice> {
        let num = self.evt_num.get() + 1;
        self.evt_num.set(num);
        if self.matched.replace(false) {
            let deadline = ts.saturating_add(self.duration_ns.replace(0));
            if deadline > self.deadline_ts.get() {
                self.deadline_ts.set(deadline);
            }
            let start = self.mode == CaptureMode::AllRules || self.capture_rule.get();
            if start && !self.is_open() {
                let path = capture_file_name(&self.path_prefix, ts, num);
                match open_dump(&path, state) {
                    Ok(writer) => {
                        *self.open.borrow_mut() = Some(Open {
                            writer,
                            path,
                            events: 0,
                        });
                    }
                    Err(e) => return Some(DumpNotice::Failed(e.to_string())),
                }
            }
        }
        self.capture_rule.set(false);
        let mut open = self.open.borrow_mut();
        let dump = open.as_mut()?;
        if let Err(source) = dump.writer.write_event(ev.cpu, ev.flags, ev.data) {
            let path = dump.path.clone();
            *open = None;
            self.deadline_ts.set(0);
            return Some(DumpNotice::Failed(
                DumpError::Write { path, source }.to_string(),
            ));
        }
        dump.events += 1;
        let limit = self.max_file_size_mb.saturating_mul(1024 * 1024);
        let time_up = ts >= self.deadline_ts.get();
        let written =
            if !time_up && limit > 0 && (dump.events % SIZE_CHECK_EVERY == 0 || dump.events == 1) {
                std::fs::metadata(&dump.path).map_or(0, |m| m.len())
            } else {
                0
            };
        let size_up = limit > 0 && written >= limit;
        if !time_up && !size_up {
            return None;
        }
        let dump = open.take()?;
        self.deadline_ts.set(0);
        let path = dump.path.clone();
        if let Err(e) = finish(dump) {
            return Some(DumpNotice::Failed(e.to_string()));
        }
        if !size_up {
            return None;
        }
        let written = std::fs::metadata(&path).map_or(written, |m| m.len());
        Some(DumpNotice::SizeLimit(size_limit_msg(
            self.max_file_size_mb,
            written,
        )))
    }

    /// Closes an open dump (end of the event loop, signals).
    pub fn close(&self) -> Result<(), DumpError> {
        match self.open.borrow_mut().take() {
            Some(dump) => finish(dump),
            None => Ok(()),
        }
    }
}

impl Drop for CaptureDump {
    fn drop(&mut self) {
        // nothing to report to at this point: a failed flush leaves a truncated capture
        let _ = self.close();
    }
}

fn finish(dump: Open) -> Result<(), DumpError> {
    let write_err = |source| DumpError::Write {
        path: dump.path.clone(),
        source,
    };
    let sink = dump.writer.finish().map_err(write_err)?;
    sink.finish().map_err(|e| write_err(CaptureError::Write(e)))
}

/// `Falco internal: capture size limit reached` (falco-runtime.md §3.6).
fn size_limit_msg(max_file_size_mb: u64, written_bytes: u64) -> crate::output::InternalMsg {
    let rule = "Falco internal: capture size limit reached";
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("max_file_size_mb".to_string(), max_file_size_mb.into());
    fields.insert("written_bytes".to_string(), written_bytes.into());
    crate::output::InternalMsg {
        time_ns: crate::output::now_ns(),
        priority: crate::config::Priority::Informational,
        rule: rule.to_string(),
        msg: format!("{rule}. Configured limit: {max_file_size_mb} MB."),
        fields,
    }
}

/// Creates the dump file with the state blocks of this moment.
fn open_dump(path: &Path, state: &State) -> Result<CaptureWriter<FileSink>, DumpError> {
    let metadata = dump_metadata(state)?;
    CaptureWriter::create(path, &metadata, true).map_err(|source| DumpError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The state blocks of a dump: the host /proc scan (honouring HOST_ROOT) with its thread list
/// replaced by the event loop's thread table, and only the fds of those threads.
pub fn dump_metadata(state: &State) -> Result<Metadata, DumpError> {
    let mut metadata = proc_scan::metadata(&proc_scan::host_root())?;
    if !state.threads.is_empty() {
        metadata.threads = state
            .threads
            .iter()
            .map(|t| thread_record(state, t))
            .collect();
        let tids: std::collections::HashSet<u64> = metadata.threads.iter().map(|t| t.tid).collect();
        metadata.fds.retain(|(tid, _)| tids.contains(tid));
    }
    for_older_readers(&mut metadata);
    Ok(metadata)
}

fn joined_nul(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in items {
        out.extend_from_slice(i);
        out.push(0);
    }
    out
}

/// A process-list entry for a thread of the table (env and cwd are the process's, kept on
/// its main thread).
fn thread_record(state: &State, t: &crate::state::ThreadInfo) -> ThreadRecord {
    let main = state.threads.main_thread(t).unwrap_or(t);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let cgroups: Vec<Vec<u8>> = t
        .cgroups
        .iter()
        .map(|(k, v)| [k.as_slice(), b"=", v.as_slice()].concat())
        .collect();
    ThreadRecord {
        tid: t.tid as u64,
        pid: t.pid as u64,
        ptid: t.ptid as u64,
        sid: t.sid,
        vpgid: t.vpgid,
        pgid: t.pgid,
        comm: text(&t.comm),
        exe: text(&t.exe),
        exepath: text(&t.exepath),
        args: joined_nul(&t.args),
        cwd: text(&main.cwd),
        fdlimit: t.fdlimit as u64,
        flags: t.flags,
        uid: t.uid,
        gid: t.gid,
        vmsize_kb: t.vmsize_kb,
        vmrss_kb: t.vmrss_kb,
        vmswap_kb: t.vmswap_kb,
        pfmajor: t.pfmajor,
        pfminor: t.pfminor,
        env: joined_nul(&main.env),
        vtid: t.vtid,
        vpid: t.vpid,
        cgroups: joined_nul(&cgroups),
        root: text(&t.root),
        pidns_init_start_ts: t.pidns_init_start_ts,
        tty: t.tty,
        loginuid: t.loginuid,
        exe_writable: t.exe_writable,
        cap_inheritable: t.cap_inheritable,
        cap_permitted: t.cap_permitted,
        cap_effective: t.cap_effective,
        exe_upper_layer: t.exe_upper_layer,
        exe_ino: t.exe_ino,
        exe_ino_ctime: t.exe_ino_ctime,
        exe_ino_mtime: t.exe_ino_mtime,
        exe_from_memfd: t.exe_from_memfd,
        exe_lower_layer: t.exe_lower_layer,
    }
}

/// Newest fd type sysdig 0.29.3 reads: it refuses a whole capture holding a newer one
/// (`error reading the fd info from file, wrong fd type 17`).
const NEWEST_PORTABLE_FD_TYPE: u8 = fd_type::FILE_V2;

/// Writes fds of the types older readers refuse (bpf, userfaultfd, io_uring, memfd, pidfd) as
/// UNSUPPORTED with their name, as libsinsp itself reads an unknown type.
fn for_older_readers(metadata: &mut Metadata) {
    for (_, fd) in &mut metadata.fds {
        if fd.fd_type > NEWEST_PORTABLE_FD_TYPE {
            fd.fd_type = fd_type::UNSUPPORTED;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureReader, ReadItem};

    /// The events of a shared trace: (cpu, flags, record, ts).
    fn trace_events() -> Vec<(u16, u32, Vec<u8>, u64)> {
        let path = crate::driver::tests_support::shared_dir()
            .join("upstream/traces/falco/open-multiple-files.scap");
        let mut rd = CaptureReader::open(&path).unwrap();
        let mut out = Vec::new();
        while let Some(item) = rd.next().unwrap() {
            if let ReadItem::Event(m) = item {
                let rec = rd.record().to_vec();
                let ts = u64::from_le_bytes(rec[0..8].try_into().unwrap());
                out.push((m.cpuid, m.flags, rec, ts));
            }
        }
        out
    }

    fn config(dir: &Path, mode: CaptureMode, duration_ms: u64) -> Capture {
        Capture {
            enabled: true,
            path_prefix: dir.join("cap").to_string_lossy().into_owned(),
            mode,
            default_duration_ms: duration_ms,
            max_file_size_mb: 0,
        }
    }

    /// Feeds the trace, matching `rule` on the events of `matches` (0-based indexes).
    fn run(dump: &CaptureDump, events: &[(u16, u32, Vec<u8>, u64)], matches: &[(usize, &str)]) {
        let state = State::new(1024);
        for (i, (cpu, flags, rec, ts)) in events.iter().enumerate() {
            for (_, rule) in matches.iter().filter(|(j, _)| *j == i) {
                dump.on_match(rule);
            }
            let raw = RawEvent {
                cpu: *cpu,
                flags: *flags,
                data: rec,
            };
            assert!(dump.after_event(&raw, *ts, &state).is_none());
        }
        dump.close().unwrap();
    }

    /// The dumps written under `dir`: (file name, event records).
    fn dumps(dir: &Path) -> Vec<(String, Vec<Vec<u8>>)> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let mut rd = CaptureReader::open(f).unwrap();
                let mut recs = Vec::new();
                while let Some(item) = rd.next().unwrap() {
                    if let ReadItem::Event(_) = item {
                        recs.push(rd.record().to_vec());
                    }
                }
                (f.file_name().unwrap().to_string_lossy().into_owned(), recs)
            })
            .collect()
    }

    #[test]
    fn mode_rules_dumps_only_around_capture_rules() {
        let events = trace_events();
        assert!(events.len() > 40);
        let dir = tempfile::tempdir().unwrap();
        // a 2 ms capture_duration on the capture rule; the other rule has none
        let dump = CaptureDump::new(
            &config(dir.path(), CaptureMode::Rules, 5000),
            [("plain", false, 0), ("captured", true, 2_000_000)],
        )
        .unwrap();
        assert_eq!(
            dump.log_line(),
            format!(
                "Capture is enabled in mode 'rules'. Capturing events to {}\n",
                dir.path().join("cap").display()
            )
        );
        run(&dump, &events, &[(3, "plain"), (20, "captured")]);
        let got = dumps(dir.path());
        assert_eq!(
            got.len(),
            1,
            "{:?}",
            got.iter().map(|g| &g.0).collect::<Vec<_>>()
        );
        let (name, recs) = &got[0];
        // named after the opening event (number 21, 1-based), which is written first
        let ts = events[20].3;
        assert_eq!(name, &format!("cap_{ts:020}_{:020}.scap", 21));
        assert_eq!(recs[0], events[20].2);
        // the 5 s deadline of the plain match at event 3 outlasts the 2 ms one: Falco keeps
        // the later deadline, so the dump runs to the end of this short trace
        let deadline = events[3].3 + 5_000_000_000;
        let expected: Vec<&Vec<u8>> = events[20..]
            .iter()
            .scan(false, |done, e| {
                if *done {
                    return None;
                }
                *done = e.3 >= deadline;
                Some(&e.2)
            })
            .collect();
        assert_eq!(recs.iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn the_first_event_at_the_deadline_closes_the_dump() {
        let events = trace_events();
        let dir = tempfile::tempdir().unwrap();
        let dump = CaptureDump::new(
            &config(dir.path(), CaptureMode::AllRules, 5000),
            [("short", false, 1)],
        )
        .unwrap();
        // all_rules: any rule opens a dump; 1 ns: it closes on the next event with a later ts
        let end_of =
            |start: usize| (start + 1..events.len()).find(|&j| events[j].3 > events[start].3);
        let a = (events.len() / 2..events.len())
            .find(|&i| end_of(i).is_some())
            .unwrap();
        let b = (end_of(a).unwrap() + 1..events.len())
            .find(|&i| end_of(i).is_some())
            .unwrap();
        run(&dump, &events, &[(a, "short"), (b, "short")]);
        let got = dumps(dir.path());
        assert_eq!(
            got.len(),
            2,
            "{:?}",
            got.iter().map(|g| (&g.0, g.1.len())).collect::<Vec<_>>()
        );
        for ((_, recs), start) in got.iter().zip([a, b]) {
            let end = end_of(start).unwrap();
            let expected: Vec<Vec<u8>> = events[start..=end].iter().map(|e| e.2.clone()).collect();
            assert_eq!(recs, &expected);
        }
    }

    #[test]
    fn disabled_capture_has_no_dump() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), CaptureMode::AllRules, 5000);
        cfg.enabled = false;
        assert!(CaptureDump::new(&cfg, []).is_none());
    }

    #[test]
    fn file_name_is_falcos_dumper_name() {
        // falco-runtime.md §1.4: <prefix>_<ts as 20 zero-padded digits>_<evtnum 20 digits>.scap
        assert_eq!(
            capture_file_name("/tmp/falco", 1_764_300_000_123_456_789, 42),
            PathBuf::from("/tmp/falco_01764300000123456789_00000000000000000042.scap")
        );
    }
}
