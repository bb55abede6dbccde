//! Reads the 16 upstream traces (and the golden trace) with the reader, the converter and the
//! replay driver, against facts recorded in shared/: event counts from traces/README.md, the
//! event sequence printed by Debian's sysdig 0.29.3, and rule counts from Falco 0.44.1 goldens.

use std::path::{Path, PathBuf};

use super::*;
use crate::driver::replay::{ReplayDriver, ReplayItem};
use crate::event::Event;

pub(crate) fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FALCO_RS_SHARED") {
        return PathBuf::from(dir);
    }
    let sibling = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.is_dir() {
        return sibling;
    }
    PathBuf::from("/work/shared")
}

pub(crate) fn trace(name: &str) -> PathBuf {
    shared_dir().join("upstream/traces").join(name)
}

/// Every trace, with the event count stated in traces/README.md where it gives one.
const TRACES: &[(&str, Option<u64>)] = &[
    ("falco/cat_write.scap", Some(345)),
    ("falco/connect_localhost.scap", Some(374)),
    ("falco/empty.scap", Some(143)),
    ("falco/open-multiple-files.scap", Some(1272)),
    ("falco/ping_sendto.scap", Some(1526)),
    ("falco/syscall.scap", Some(368)),
    ("falco/psp/privileged.scap", Some(2059)),
    ("falco/psp/run_as_user_0_container.scap", Some(4143)),
    ("falco/psp/run_as_user_65534_container.scap", Some(241)),
    ("falco/psp/write_tmp_test.scap", Some(229)),
    ("libs/sample.scap", Some(572)),
    ("libs/curl_google.scap", Some(1536)),
    ("libs/curl_google_comments.scap", Some(1536)),
    ("libs/single_ipv6_conn.scap", Some(1728)),
    ("libs/test_ipv6_client.scap", Some(326)),
    ("sysdig-inspect/502Error.scap", Some(22381)),
    ("golden/triggers.scap", None),
];

/// Reads every raw event of a file: (type, nparams, ts, tid) per event.
fn raw_events(path: &Path) -> Vec<(u16, usize, u64, u64)> {
    let mut r = CaptureReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(item) = r
        .next()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    {
        if let ReadItem::Event(_) = item {
            let e = Event::decode(r.record()).unwrap();
            out.push((e.event_type(), e.nparams(), e.ts(), e.tid()));
        }
    }
    out
}

#[test]
fn every_trace_reads_and_replays_fully() {
    for (name, count) in TRACES {
        let path = trace(name);
        let raw = raw_events(&path);
        if let Some(count) = count {
            assert_eq!(raw.len() as u64, *count, "{name}: events read");
        }
        let mut d = ReplayDriver::open(&path).unwrap();
        let mut delivered = 0u64;
        while let Some(item) = d.next().unwrap_or_else(|e| panic!("{name}: {e}")) {
            if let ReplayItem::Event(ev) = item {
                let info = ev.event.info();
                assert!(
                    !info.is_old_version() || info.is_converter_managed(),
                    "{name}: {}",
                    info.ppme
                );
                // The converter completes the events it manages; others may lack trailing params.
                if info.is_converter_managed() {
                    assert_eq!(ev.event.nparams(), info.nparams(), "{name}: {}", info.ppme);
                } else {
                    assert!(
                        ev.event.nparams() <= info.nparams(),
                        "{name}: {}",
                        info.ppme
                    );
                }
                delivered += 1;
            }
        }
        assert_eq!(d.events_read(), raw.len() as u64, "{name}");
        assert_eq!(delivered + d.events_dropped(), raw.len() as u64, "{name}");
        eprintln!("{name}: read {} delivered {delivered}", raw.len());
    }
}
