//! Reads the 16 upstream traces (and the golden trace) with the reader, the converter and the
//! replay driver, against facts recorded in shared/: event counts from traces/README.md, the
//! event sequence printed by Debian's sysdig 0.29.3, and rule counts from Falco 0.44.1 goldens.

use std::path::{Path, PathBuf};

use super::*;
use crate::driver::replay::{ReplayDriver, ReplayItem};
use crate::event::Event;
use crate::test_support::shared_dir;

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

/// `evt.type` as sysdig prints it for a raw (unconverted) event: generic events show the
/// syscall named by their `ID` parameter.
fn raw_type_name(record: &[u8]) -> String {
    let e = Event::decode(record).unwrap();
    if e.event_type() <= 1 {
        let id = e.param_u16(0).ok().flatten().unwrap_or(0);
        return crate::event::table::ppm_sc_name(id)
            .unwrap_or("unknown")
            .to_string();
    }
    e.name().to_string()
}

fn sysdig_lines(path: &Path) -> Vec<(u64, String, String)> {
    let out = std::process::Command::new("sysdig")
        .arg("-r")
        .arg(path)
        .arg("-p")
        .arg("*%evt.num %evt.type %evt.dir")
        .output()
        .expect("sysdig (Debian package) must be installed for this test");
    assert!(out.status.success(), "sysdig -r {} failed", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut it = l.split(' ');
            let num = it.next().unwrap().parse().unwrap();
            (
                num,
                it.next().unwrap().to_string(),
                it.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// `PPM_EVENT_MAX` of the libs sysdig 0.29.3 is built with (libfalcosecurity0
/// 0.1.1dev+git20220316.e5c53d64): it skips newer event types without numbering them.
const SYSDIG_PPM_EVENT_MAX: u16 = 336;

/// Where sysdig's 2022 libs name a generic syscall differently from libs 0.25.4:
/// (sysdig, ours).
const SYSDIG_NAME_DIFFERENCES: &[(&str, &str)] = &[
    // ppm_sc 298 was PPM_SC_SIGRETURN in 2022 and is PPM_SC_X(RT_SIGRETURN, 298) in 0.25.4.
    ("sigreturn", "rt_sigreturn"),
    // ppm_sc 0 (PPM_SC_UNKNOWN): sysdig prints `<unknown>`, the 0.25.4 name list says `unknown`.
    ("<unknown>", "unknown"),
];

#[test]
fn event_sequence_matches_sysdig() {
    for (name, _) in TRACES {
        // sysdig 0.29.3 cannot read SHB options; the file is curl_google.scap re-saved.
        let sysdig_file = if *name == "libs/curl_google_comments.scap" {
            "libs/curl_google.scap"
        } else {
            name
        };
        let expected = sysdig_lines(&trace(sysdig_file));
        let mut r = CaptureReader::open(&trace(name)).unwrap();
        let mut ours = Vec::new();
        while let Some(item) = r.next().unwrap() {
            if let ReadItem::Event(_) = item {
                let e = Event::decode(r.record()).unwrap();
                if e.event_type() < SYSDIG_PPM_EVENT_MAX {
                    ours.push((
                        raw_type_name(r.record()),
                        e.direction().as_char().to_string(),
                    ));
                }
            }
        }
        if *name != "falco/empty.scap" {
            assert!(!expected.is_empty(), "{name}: sysdig printed nothing");
        }
        for (num, ty, dir) in &expected {
            let (our_ty, our_dir) = ours
                .get(*num as usize - 1)
                .unwrap_or_else(|| panic!("{name}: sysdig event {num} beyond our {}", ours.len()));
            let same_name =
                our_ty == ty || SYSDIG_NAME_DIFFERENCES.contains(&(ty.as_str(), our_ty.as_str()));
            assert!(
                same_name && our_dir == dir,
                "{name} #{num}: sysdig {ty} {dir}, ours {our_ty} {our_dir}"
            );
        }
    }
}

/// Collects the events the rules would see: (type, ts, tid, record).
fn replay_all(path: &Path) -> Vec<(u16, u64, u64, bool, Vec<u8>)> {
    let mut d = ReplayDriver::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(item) = d.next().unwrap() {
        if let ReplayItem::Event(ev) = item {
            let e = ev.event;
            out.push((
                e.event_type(),
                e.ts(),
                e.tid(),
                // What `pipeline::rules_see` decides without state (no thread filter here).
                !ev.state_only() && !crate::event::table::is_parse_only_enter(e.event_type()),
                e.record().to_vec(),
            ));
        }
    }
    out
}

fn hms_utc(ts: u64) -> String {
    let secs = ts / 1_000_000_000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!("{h:02}:{m:02}:{s:02}.{:09}", ts % 1_000_000_000)
}

#[test]
fn cat_write_open_events_seen_by_rules_match_falco() {
    // Falco 0.44.1 fires open_from_cat on exactly these events (golden, text output).
    let golden = std::fs::read_to_string(
        shared_dir()
            .join("conformance/goldens/replay/falco_cat_write.testing-single_rule.text/stdout"),
    )
    .unwrap();
    let expected: Vec<&str> = golden
        .lines()
        .filter(|l| l.contains("An open was seen"))
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(expected.len(), 4);
    let ours: Vec<String> = replay_all(&trace("falco/cat_write.scap"))
        .into_iter()
        .filter(|(ty, _, tid, seen, _)| *seen && *tid == 20072 && (*ty == 2 || *ty == 3))
        .map(|(_, ts, ..)| hms_utc(ts))
        .collect();
    assert_eq!(ours, expected);
}

#[test]
fn syscall_scap_has_two_madvise_exits() {
    // falcosecurity/testing: detect_madvise (`evt.type=madvise and evt.dir=<`) fires 2 times.
    let n = replay_all(&trace("falco/syscall.scap"))
        .into_iter()
        .filter(|(ty, _, _, seen, rec)| {
            *seen && *ty == 1 && Event::decode(rec).unwrap().param_u16(0).unwrap() == Some(139)
        })
        .count();
    assert_eq!(n, 2);
}

#[test]
fn sample_scap_conversion_matches_libs_converter_tests() {
    // libs converter_tests.cpp on sample.scap (traces/README.md).
    let events = replay_all(&trace("libs/sample.scap"));
    let count = |ty: u16| events.iter().filter(|e| e.0 == ty).count();
    assert_eq!(count(64), 0, "FUTEX_E");
    assert_eq!(count(65), 15, "FUTEX_X");
    assert_eq!(count(134), 0, "NANOSLEEP_E");
    assert_eq!(count(135), 38, "NANOSLEEP_X");
    let futex = events
        .iter()
        .find(|e| e.1 == 1_690_557_262_892_768_316 && e.2 == 418)
        .expect("converted FUTEX_X");
    let e = Event::decode(&futex.4).unwrap();
    assert_eq!(e.event_type(), 65);
    assert_eq!(e.nparams(), 4);
    assert_eq!(e.param_i64(0).unwrap(), Some(0));
    assert_eq!(e.param_u64(1).unwrap(), Some(0x5600_C323_51E0));
    assert_eq!(e.param_u16(2).unwrap(), Some(129));
    assert_eq!(e.param_u64(3).unwrap(), Some(1));
}

#[test]
fn run_as_user_0_execve_is_upgraded_to_31_params() {
    // spec §12: `#2183 < execve EXECVE_19_X np=19 … comm=ls`, converter appends 12 params.
    let mut r = CaptureReader::open(&trace("falco/psp/run_as_user_0_container.scap")).unwrap();
    let mut n = 0;
    let mut conv = Converter::new();
    while let Some(item) = r.next().unwrap() {
        let ReadItem::Event(meta) = item else {
            continue;
        };
        n += 1;
        let outcome = conv.convert(r.record(), meta.offset).unwrap();
        if n == 2183 {
            let raw = Event::decode(r.record()).unwrap();
            assert_eq!((raw.event_type(), raw.nparams()), (293, 19));
            assert_eq!(outcome, Outcome::Converted);
            let e = Event::decode(conv.output()).unwrap();
            assert_eq!(e.nparams(), 31);
            assert_eq!(e.param_str(13).unwrap(), Some("ls"));
            assert_eq!(e.param_u32(16).unwrap(), Some(34816)); // tty
            assert_eq!(e.param(19), Some(&[][..]));
            return;
        }
    }
    panic!("event 2183 not found");
}

/// Rewrites `src` with our writer: same metadata, every raw event (no conversion), so the
/// event numbering is unchanged.
fn rewrite(src: &Path, dst: &Path, gzip: bool) {
    let mut r = CaptureReader::open(src).unwrap();
    let mut w = CaptureWriter::create(dst, r.metadata(), gzip).unwrap();
    while let Some(item) = r.next().unwrap() {
        if let ReadItem::Event(meta) = item {
            w.write_event(meta.cpuid, meta.flags, r.record()).unwrap();
        }
    }
    w.finish().unwrap().finish().unwrap();
}

fn all_raw(path: &Path) -> (Metadata, Vec<(u16, u32, Vec<u8>)>) {
    let mut r = CaptureReader::open(path).unwrap();
    let mut events = Vec::new();
    while let Some(item) = r.next().unwrap() {
        if let ReadItem::Event(meta) = item {
            events.push((meta.cpuid, meta.flags, r.record().to_vec()));
        }
    }
    (r.metadata().clone(), events)
}

#[test]
fn writer_round_trips_through_our_reader() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "falco/psp/run_as_user_0_container.scap", // PL_V9, FDL_V2, IL_V2, UL_V2
        "falco/cat_write.scap",                   // PL_V6, FDL, v1 events
        "libs/curl_google_comments.scap",         // SHB options, PL_V5
        "libs/sample.scap",                       // meta events, uncompressed
    ] {
        for gzip in [false, true] {
            let out = dir.path().join(format!("out-{gzip}.scap"));
            rewrite(&trace(name), &out, gzip);
            let (md_a, ev_a) = all_raw(&trace(name));
            let (md_b, ev_b) = all_raw(&out);
            assert_eq!(md_b.version, (1, 2), "{name}");
            assert_eq!(md_a.machine, md_b.machine, "{name}");
            assert_eq!(md_a.threads, md_b.threads, "{name}");
            assert_eq!(md_a.fds, md_b.fds, "{name}");
            assert_eq!(md_a.interfaces, md_b.interfaces, "{name}");
            assert_eq!(md_a.users, md_b.users, "{name}");
            assert_eq!(md_a.groups, md_b.groups, "{name}");
            assert_eq!(ev_a, ev_b, "{name}");
        }
    }
}

fn sysdig_print(path: &Path, format: &str) -> String {
    let out = std::process::Command::new("sysdig")
        .arg("-r")
        .arg(path)
        .arg("-p")
        .arg(format)
        .output()
        .expect("sysdig (Debian package) must be installed for this test");
    assert!(
        out.status.success(),
        "sysdig -r {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sysdig_reads_our_captures_like_the_originals() {
    // Thread, fd and user state seeded from our PL_V9/FDL_V2/UL_V2/IL_V2 blocks must give sysdig
    // the same fields as the original file does.
    let format = "*%evt.num %evt.type %evt.dir %proc.name %proc.cmdline %user.name %fd.name";
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "falco/psp/run_as_user_0_container.scap",
        "falco/cat_write.scap",
        "libs/curl_google.scap",
        "libs/single_ipv6_conn.scap",
    ] {
        let out = dir.path().join("out.scap");
        rewrite(&trace(name), &out, true);
        let want = sysdig_print(&trace(name), format);
        let got = sysdig_print(&out, format);
        assert!(!want.is_empty(), "{name}");
        for (n, (a, b)) in want.lines().zip(got.lines()).enumerate() {
            assert_eq!(a, b, "{name}: line {}", n + 1);
        }
        assert_eq!(want.lines().count(), got.lines().count(), "{name}");
    }
}

#[test]
fn converted_events_written_replay_unchanged_and_sysdig_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("converted.scap");
    let src = trace("falco/psp/run_as_user_0_container.scap");
    let mut d = ReplayDriver::open(&src).unwrap();
    let mut w = CaptureWriter::create(&out, d.metadata(), false).unwrap();
    let mut first = Vec::new();
    while let Some(item) = d.next().unwrap() {
        if let ReplayItem::Event(ev) = item {
            w.write_event(ev.cpuid, ev.flags, ev.event.record())
                .unwrap();
            first.push(ev.event.record().to_vec());
        }
    }
    w.finish().unwrap().finish().unwrap();
    let again: Vec<Vec<u8>> = replay_all(&out).into_iter().map(|e| e.4).collect();
    assert_eq!(first, again);
    let printed = sysdig_print(&out, "*%evt.num %evt.type %evt.dir %proc.name");
    assert!(
        printed.lines().any(|l| l.ends_with("execve < ls")),
        "{printed}"
    );
}

fn decompressed(name: &str) -> Vec<u8> {
    use std::io::Read;
    let raw = std::fs::read(trace(name)).unwrap();
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

/// Reads a whole capture from memory through the replay driver.
fn replay_bytes(bytes: Vec<u8>) -> Result<u64, CaptureError> {
    let r = CaptureReader::from_reader(std::io::Cursor::new(bytes))?;
    let mut d = ReplayDriver::from_reader(r);
    let mut n = 0;
    while d.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[test]
fn truncated_captures_fail_with_the_offset() {
    for name in [
        "falco/cat_write.scap",
        "falco/psp/run_as_user_0_container.scap",
    ] {
        let full = decompressed(name);
        assert!(replay_bytes(full.clone()).is_ok());
        let mut cut = 1;
        while cut < full.len() {
            match replay_bytes(full[..cut].to_vec()) {
                // a cut on a block boundary after the first event is a clean end of file
                Ok(_) => {}
                Err(CaptureError::NoEvents) => {}
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains("byte offset"), "{name} cut at {cut}: {msg}");
                }
            }
            cut += if cut < 2048 { 7 } else { full.len() / 150 };
        }
        // cutting inside the last block is always an error
        let err = replay_bytes(full[..full.len() - 2].to_vec()).unwrap_err();
        assert!(
            matches!(err, CaptureError::Truncated { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn corrupted_captures_never_panic() {
    let full = decompressed("falco/cat_write.scap");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..400 {
        let mut bytes = full.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % bytes.len() as u64) as usize;
            bytes[at] = (seed >> 32) as u8;
        }
        let _ = replay_bytes(bytes);
    }
}

#[test]
fn bad_block_lengths_never_panic() {
    for name in ["falco/cat_write.scap", "libs/sample.scap"] {
        let full = decompressed(name);
        let mut at = 0usize;
        let mut blocks = Vec::new();
        while at + 8 <= full.len() {
            blocks.push(at);
            let len = u32::from_le_bytes(full[at + 4..at + 8].try_into().unwrap()) as usize;
            at += len;
        }
        assert_eq!(at, full.len(), "{name}: block walk");
        for &b in blocks.iter().take(60) {
            let len = u32::from_le_bytes(full[b + 4..b + 8].try_into().unwrap());
            for bad in [0, 4, 11, 12, 20, len - 4, len + 4, len + 4096, u32::MAX] {
                let mut bytes = full.clone();
                bytes[b + 4..b + 8].copy_from_slice(&bad.to_le_bytes());
                let _ = replay_bytes(bytes);
            }
        }
    }
}

#[test]
fn bad_headers_use_libscap_words() {
    let full = decompressed("libs/sample.scap");
    let mut bad_magic = full.clone();
    bad_magic[8] ^= 0xff;
    assert_eq!(
        replay_bytes(bad_magic).unwrap_err().to_string(),
        "corrupted capture at byte offset 8: invalid magic number"
    );
    let mut bad_type = full.clone();
    bad_type[0] = 0;
    assert_eq!(
        replay_bytes(bad_type).unwrap_err().to_string(),
        "corrupted capture at byte offset 0: invalid block type"
    );
    let mut newer = full.clone();
    newer[12] = 2; // major version 2
    assert!(matches!(
        replay_bytes(newer).unwrap_err(),
        CaptureError::VersionMismatch { .. }
    ));
    // only the metadata, no event block
    let r = CaptureReader::from_reader(std::io::Cursor::new(full[..28].to_vec()));
    assert!(matches!(r.unwrap_err(), CaptureError::NoEvents));
}

#[test]
fn cat_write_dev_null_events_carry_enter_params_like_falco() {
    // Falco 0.44.1 (catchall_order golden): after the /dev/null open, rule `dev_null`
    // (`fd.name=/dev/null`) fires on fstat, read and close exits whose fd came from the stored
    // enter events, and the open exit has empty dev/ino.
    let golden = std::fs::read_to_string(
        shared_dir()
            .join("conformance/goldens/replay/falco_cat_write.testing-catchall_order.text/stdout"),
    )
    .unwrap();
    let mut expected = Vec::new();
    for line in golden.lines().filter(|l| l.contains("/dev/null was seen")) {
        let time = line.split(": ").next().unwrap().to_string();
        let args = line.split(" evt=").nth(1).unwrap();
        let name = args.split(' ').next().unwrap().to_string();
        let fd: i64 = args
            .split("fd=")
            .nth(1)
            .unwrap()
            .split('(')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        expected.push((time, name, fd));
    }
    assert_eq!(expected.len(), 4);
    let ours: Vec<(String, String, i64)> = replay_all(&trace("falco/cat_write.scap"))
        .into_iter()
        .filter(|(_, ts, tid, seen, _)| *seen && *tid == 20072 && *ts >= 1_470_327_477_882_054_739)
        .filter_map(|(_, ts, _, _, rec)| {
            let e = Event::decode(&rec).unwrap();
            let fd = e.param_i64(e.info().param_index("fd")?).unwrap()?;
            (fd == 3).then(|| (hms_utc(ts), e.name().to_string(), fd))
        })
        .take(4)
        .collect();
    assert_eq!(ours, expected);
    let open = replay_all(&trace("falco/cat_write.scap"))
        .into_iter()
        .find(|e| e.0 == 3 && e.1 == 1_470_327_477_882_054_739)
        .unwrap();
    let e = Event::decode(&open.4).unwrap();
    assert_eq!((e.param(4), e.param(5)), (Some(&[][..]), Some(&[][..])));
    // read exit: size 131072 from the stored enter, data empty (NULL)
    let read = replay_all(&trace("falco/cat_write.scap"))
        .into_iter()
        .find(|e| e.0 == 7 && hms_utc(e.1) == expected[2].0)
        .unwrap();
    let e = Event::decode(&read.4).unwrap();
    assert_eq!(e.param_u32(3).unwrap(), Some(131_072));
    assert_eq!(e.param(1), Some(&[][..]));
}

#[test]
fn concatenated_gzip_captures_replay_as_two_sections() {
    let one = std::fs::read(trace("falco/cat_write.scap")).unwrap();
    let mut two = one.clone();
    two.extend_from_slice(&one);
    let r = CaptureReader::from_reader(std::io::Cursor::new(two)).unwrap();
    let mut d = ReplayDriver::from_reader(r);
    let (mut events, mut sections, mut last_num) = (0, 0, 0);
    while let Some(item) = d.next().unwrap() {
        match item {
            ReplayItem::Event(ev) => {
                events += 1;
                last_num = ev.num;
            }
            ReplayItem::NewSection => {
                sections += 1;
                assert_eq!(d.metadata().threads.len(), {
                    CaptureReader::open(&trace("falco/cat_write.scap"))
                        .unwrap()
                        .metadata()
                        .threads
                        .len()
                });
            }
        }
    }
    let single = replay_all(&trace("falco/cat_write.scap")).len() as u64;
    assert_eq!((events, sections, last_num), (2 * single, 1, 2 * single));
    assert_eq!(d.events_read(), 2 * 345);
}
