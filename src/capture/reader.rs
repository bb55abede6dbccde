//! Block-level reader of scap captures (plain or gzip): the section header, the metadata
//! blocks into [`Metadata`], then the event blocks one at a time as v2 records (v1 records are
//! upgraded as libscap does). Offsets in errors are byte offsets in the uncompressed stream.
//! Does not run the converter: see [`crate::driver::replay`] for that.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::CaptureError;
use super::records::{
    Cursor, FdRecord, InterfaceRecord, MACHINE_INFO_LEN, MachineInfo, Metadata, PlVersion,
    ThreadRecord, UserListEntry,
};
use crate::event::decode::{HEADER_LEN, HEADER_V1_LEN};
use crate::event::table::{self, PPM_EVENT_MAX};

/// Block type codes (`scap_savefile.h`).
pub mod block {
    pub const SHB: u32 = 0x0A0D_0D0A;
    pub const MI: u32 = 0x201;
    pub const MI_INT: u32 = 0x8002_ABCD;
    pub const PL_V1: u32 = 0x202;
    pub const PL_V1_INT: u32 = 0x8000_ABCD;
    pub const PL_V2: u32 = 0x207;
    pub const PL_V2_INT: u32 = 0x8013_ABCD;
    pub const PL_V3: u32 = 0x209;
    pub const PL_V3_INT: u32 = 0x8014_ABCD;
    pub const PL_V4: u32 = 0x210;
    pub const PL_V5: u32 = 0x211;
    pub const PL_V6: u32 = 0x212;
    pub const PL_V7: u32 = 0x213;
    pub const PL_V8: u32 = 0x214;
    pub const PL_V9: u32 = 0x215;
    pub const FDL: u32 = 0x203;
    pub const FDL_INT: u32 = 0x8001_ABCD;
    pub const FDL_V2: u32 = 0x218;
    pub const IL: u32 = 0x205;
    pub const IL_INT: u32 = 0x8011_ABCD;
    pub const IL_V2: u32 = 0x219;
    pub const UL: u32 = 0x206;
    pub const UL_INT: u32 = 0x8012_ABCD;
    pub const UL_V2: u32 = 0x220;
    pub const EV: u32 = 0x204;
    pub const EV_INT: u32 = 0x8010_ABCD;
    pub const EVF: u32 = 0x208;
    pub const EV_V2: u32 = 0x216;
    pub const EVF_V2: u32 = 0x217;
    pub const EV_V2_LARGE: u32 = 0x221;
    pub const EVF_V2_LARGE: u32 = 0x222;
}

/// Section header magic.
pub const SHB_MAGIC: u32 = 0x1A2B_3C4D;
/// Largest non-large event block body (`READER_BUF_SIZE`).
pub const READER_BUF_SIZE: usize = 65536;
/// `SCAP_DF_STATE_ONLY`: the event only updates state; rules do not see it.
pub const SCAP_DF_STATE_ONLY: u32 = 1;

fn is_event_block(t: u32) -> bool {
    matches!(
        t,
        block::EV
            | block::EV_INT
            | block::EVF
            | block::EV_V2
            | block::EVF_V2
            | block::EV_V2_LARGE
            | block::EVF_V2_LARGE
    )
}

/// Where an event came from in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta {
    /// Byte offset of the event block (uncompressed stream).
    pub offset: u64,
    pub cpuid: u16,
    /// Block flags (`SCAP_DF_*`), 0 for blocks without flags.
    pub flags: u32,
}

/// One step of reading: an event (its record is [`CaptureReader::record`]) or the start of a
/// new section, whose metadata replaces the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadItem {
    Event(EventMeta),
    Section,
}

/// Reads a capture block by block.
pub struct CaptureReader {
    input: Box<dyn BufRead + Send>,
    offset: u64,
    metadata: Metadata,
    pending_header: Option<(u32, u32, u64)>,
    buf: Vec<u8>,
    record_start: usize,
    record_len: usize,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl CaptureReader {
    /// Opens a capture file and reads its first section's metadata.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_reader(file)
    }

    /// Reads a capture from any byte stream (gzip is detected from the first two bytes).
    pub fn from_reader(input: impl Read + Send + 'static) -> Result<Self, CaptureError> {
        let mut raw = BufReader::with_capacity(1 << 16, input);
        let head = raw
            .fill_buf()
            .map_err(|source| CaptureError::Io { offset: 0, source })?;
        let input: Box<dyn BufRead + Send> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let mut reader = CaptureReader {
            input,
            offset: 0,
            metadata: Metadata::default(),
            pending_header: None,
            buf: Vec::with_capacity(READER_BUF_SIZE),
            record_start: 0,
            record_len: 0,
        };
        let Some((bt, len, at)) = reader.block_header()? else {
            return Err(CaptureError::Corrupt {
                offset: 0,
                reason: "error reading from file (1)".into(),
            });
        };
        if bt != block::SHB {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: "invalid block type".into(),
            });
        }
        reader.read_section(len, at)?;
        Ok(reader)
    }

    /// The metadata of the current section.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The record of the last event returned by [`CaptureReader::next`] (a v2 record, exactly
    /// `len` bytes).
    pub fn record(&self) -> &[u8] {
        &self.buf[self.record_start..self.record_start + self.record_len]
    }

    /// Byte offset reached in the uncompressed stream.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Fills `buf` completely; `Ok(false)` on a clean end of stream before the first byte.
    fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<bool, CaptureError> {
        let at = self.offset;
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io {
                        offset: at + got as u64,
                        source,
                    });
                }
            }
        }
        self.offset += got as u64;
        if got == 0 && !buf.is_empty() {
            return Ok(false);
        }
        if got < buf.len() {
            return Err(CaptureError::Truncated {
                offset: at,
                needed: buf.len(),
                available: got,
                what,
            });
        }
        Ok(true)
    }

    /// Reads a block header: (type, total length, offset). `None` at a clean end of file.
    fn block_header(&mut self) -> Result<Option<(u32, u32, u64)>, CaptureError> {
        if let Some(h) = self.pending_header.take() {
            return Ok(Some(h));
        }
        let at = self.offset;
        let mut h = [0u8; 8];
        if !self.fill(&mut h, "block header")? {
            return Ok(None);
        }
        let bt = u32::from_le_bytes(h[0..4].try_into().expect("4"));
        let len = u32::from_le_bytes(h[4..8].try_into().expect("4"));
        Ok(Some((bt, len, at)))
    }

    /// Reads the rest of a block (body, padding and trailer) into `self.buf`.
    fn block_rest(&mut self, len: u32, at: u64, what: &'static str) -> Result<(), CaptureError> {
        if len < 12 {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: format!("block length too short {len}"),
            });
        }
        // Read incrementally: a corrupt length must not make us allocate gigabytes up front.
        let want = len as usize - 8;
        self.buf.clear();
        let got = (&mut self.input)
            .take(want as u64)
            .read_to_end(&mut self.buf)
            .map_err(|source| CaptureError::Io {
                offset: self.offset,
                source,
            })?;
        let at_body = self.offset;
        self.offset += got as u64;
        if got < want {
            return Err(CaptureError::Truncated {
                offset: at_body,
                needed: want,
                available: got,
                what,
            });
        }
        Ok(())
    }

    /// Checks the trailer of the metadata block in `self.buf`.
    fn check_trailer(&self, len: u32, at: u64) -> Result<(), CaptureError> {
        let n = self.buf.len();
        let trailer = u32::from_le_bytes(self.buf[n - 4..].try_into().expect("4"));
        if trailer != len {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: format!("wrong block total length, header={len}, trailer={trailer}"),
            });
        }
        Ok(())
    }

    /// Parses an SHB (header already read) and the metadata blocks after it, up to the first
    /// event block.
    fn read_section(&mut self, len: u32, at: u64) -> Result<(), CaptureError> {
        if len < 28 {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: format!("scap_read_section_header block length {len} less than 28"),
            });
        }
        self.block_rest(len, at, "section header")?;
        let mut c = Cursor::new(&self.buf, at + 8);
        let magic = c.u32("section header")?;
        let major = c.u16("section header")?;
        let minor = c.u16("section header")?;
        if magic != SHB_MAGIC {
            return Err(CaptureError::Corrupt {
                offset: at + 8,
                reason: "invalid magic number".into(),
            });
        }
        if major > 1 {
            return Err(CaptureError::VersionMismatch { offset: at + 8 });
        }
        self.check_trailer(len, at)?;
        let mut md = Metadata {
            version: (major, minor),
            ..Metadata::default()
        };
        loop {
            let Some((bt, len, at)) = self.block_header()? else {
                return Err(CaptureError::NoEvents);
            };
            if is_event_block(bt) {
                self.pending_header = Some((bt, len, at));
                break;
            }
            self.block_rest(len, at, "metadata block")?;
            let body = &self.buf[..self.buf.len() - 4];
            let mut c = Cursor::new(body, at + 8);
            match bt {
                block::MI | block::MI_INT => {
                    if body.len() != MACHINE_INFO_LEN {
                        return Err(CaptureError::Corrupt {
                            offset: at,
                            reason: format!(
                                "wrong block total length {len} for machine info, expected {}",
                                MACHINE_INFO_LEN + 12
                            ),
                        });
                    }
                    md.machine = Some(MachineInfo::parse(&mut c)?);
                }
                block::PL_V1
                | block::PL_V1_INT
                | block::PL_V2
                | block::PL_V2_INT
                | block::PL_V3
                | block::PL_V3_INT
                | block::PL_V4
                | block::PL_V5
                | block::PL_V6
                | block::PL_V7
                | block::PL_V8
                | block::PL_V9 => {
                    let v = match bt {
                        block::PL_V1 | block::PL_V1_INT => PlVersion::V1,
                        block::PL_V2 | block::PL_V2_INT => PlVersion::V2,
                        block::PL_V3 | block::PL_V3_INT => PlVersion::V3,
                        block::PL_V4 => PlVersion::V4,
                        block::PL_V5 => PlVersion::V5,
                        block::PL_V6 => PlVersion::V6,
                        block::PL_V7 => PlVersion::V7,
                        block::PL_V8 => PlVersion::V8,
                        _ => PlVersion::V9,
                    };
                    while c.remaining() >= 4 {
                        md.threads.push(ThreadRecord::parse(&mut c, v)?);
                    }
                }
                block::FDL | block::FDL_INT | block::FDL_V2 => {
                    let tid = c.u64("fd list")?;
                    while c.remaining() >= 4 {
                        md.fds
                            .push((tid, FdRecord::parse(&mut c, bt == block::FDL_V2)?));
                    }
                }
                block::IL | block::IL_INT | block::IL_V2 => {
                    md.interfaces.clear();
                    while c.remaining() >= 4 {
                        md.interfaces
                            .push(InterfaceRecord::parse(&mut c, bt == block::IL_V2)?);
                    }
                }
                block::UL | block::UL_INT | block::UL_V2 => {
                    md.users.clear();
                    md.groups.clear();
                    while c.remaining() >= 4 {
                        match UserListEntry::parse(&mut c, bt == block::UL_V2)? {
                            UserListEntry::User(u) => md.users.push(u),
                            UserListEntry::Group(g) => md.groups.push(g),
                        }
                    }
                }
                _ => {} // unknown block before the events: skipped
            }
            self.check_trailer(len, at)?;
        }
        self.metadata = md;
        Ok(())
    }

    /// Reads the next event (or section start). `Ok(None)` at the end of the file.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator: the item borrows the reader's buffer"
    )]
    pub fn next(&mut self) -> Result<Option<ReadItem>, CaptureError> {
        loop {
            let Some((bt, len, at)) = self.block_header()? else {
                return Ok(None);
            };
            if !is_event_block(bt) {
                if bt != block::SHB {
                    return Err(CaptureError::Corrupt {
                        offset: at,
                        reason: format!("unexpected block type {bt}"),
                    });
                }
                self.read_section(len, at)?;
                return Ok(Some(ReadItem::Section));
            }
            let v2 = matches!(
                bt,
                block::EV_V2 | block::EVF_V2 | block::EV_V2_LARGE | block::EVF_V2_LARGE
            );
            let has_flags = matches!(bt, block::EVF | block::EVF_V2 | block::EVF_V2_LARGE);
            let hdr_len = if v2 { HEADER_LEN } else { HEADER_V1_LEN };
            let prefix = 2 + if has_flags { 4 } else { 0 };
            if (len as usize) < 8 + hdr_len + 4 {
                return Err(CaptureError::Corrupt {
                    offset: at,
                    reason: format!("block length too short {len}"),
                });
            }
            let large = matches!(bt, block::EV_V2_LARGE | block::EVF_V2_LARGE);
            if !large && len as usize - 8 > READER_BUF_SIZE {
                return Err(CaptureError::Corrupt {
                    offset: at,
                    reason: format!(
                        "event block length {} greater than NON-LARGE read buffer size {}",
                        len - 8,
                        READER_BUF_SIZE
                    ),
                });
            }
            self.block_rest(len, at, "event block")?;
            let cpuid = u16::from_le_bytes([self.buf[0], self.buf[1]]);
            let flags = if has_flags {
                u32::from_le_bytes(self.buf[2..6].try_into().expect("4"))
            } else {
                0
            };
            if self.buf.len() < prefix + hdr_len {
                return Err(CaptureError::Corrupt {
                    offset: at,
                    reason: format!("block length too short {len}"),
                });
            }
            let event_type = u16::from_le_bytes([self.buf[prefix + 20], self.buf[prefix + 21]]);
            if event_type >= PPM_EVENT_MAX {
                continue; // written by a newer producer: skipped
            }
            if !v2 {
                self.upgrade_v1(prefix, at)?;
            }
            let start = prefix;
            let evt_len =
                u32::from_le_bytes(self.buf[start + 16..start + 20].try_into().expect("4"))
                    as usize;
            if evt_len < HEADER_LEN || start + evt_len > self.buf.len() {
                return Err(CaptureError::Corrupt {
                    offset: at,
                    reason: format!(
                        "event length {evt_len} does not fit its block of {} bytes",
                        self.buf.len() - start
                    ),
                });
            }
            self.record_start = start;
            self.record_len = evt_len;
            crate::event::Event::decode(self.record())
                .map_err(|source| CaptureError::Event { offset: at, source })?;
            return Ok(Some(ReadItem::Event(EventMeta {
                offset: at,
                cpuid,
                flags,
            })));
        }
    }

    /// Turns the v1 record at `buf[prefix..]` into a v2 record in place: 4 bytes for `nparams`
    /// are inserted after the 22-byte header and `nparams` is found from the lengths.
    fn upgrade_v1(&mut self, prefix: usize, at: u64) -> Result<(), CaptureError> {
        let start = prefix;
        let tail = prefix + HEADER_V1_LEN;
        self.buf.splice(tail..tail, [0u8; 4]);
        let event_type = u16::from_le_bytes([self.buf[start + 20], self.buf[start + 21]]);
        let mut len = u32::from_le_bytes(self.buf[start + 16..start + 20].try_into().expect("4"))
            as usize
            + 4;
        if event_type == 280 || event_type == 286 {
            // old NOTIFICATION_E and INFRASTRUCTURE_EVENT_E have a len 3 bytes too large
            len = len.saturating_sub(3);
        }
        let lens = start + HEADER_LEN;
        let end = start + len;
        if end > self.buf.len() {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: format!(
                    "event length {len} does not fit its block of {} bytes",
                    self.buf.len() - start
                ),
            });
        }
        let max = table::by_code(event_type).map_or(0, |e| e.nparams());
        let mut found = None;
        for n in (0..=max).rev() {
            let mut valptr = lens + n * 2;
            if valptr > end {
                continue;
            }
            for i in 0..n {
                let off = lens + i * 2;
                valptr += usize::from(u16::from_le_bytes([self.buf[off], self.buf[off + 1]]));
            }
            if valptr < end {
                return Err(CaptureError::Corrupt {
                    offset: at,
                    reason: "cannot convert v1 event block to v2 (corrupted trace file - can't \
                             calculate nparams)."
                        .into(),
                });
            }
            if valptr == end {
                found = Some(n);
                break;
            }
        }
        let Some(n) = found else {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: "cannot convert v1 event block to v2 (corrupted trace file - can't \
                         calculate nparams) (2)."
                    .into(),
            });
        };
        self.buf[start + 16..start + 20].copy_from_slice(&(len as u32).to_le_bytes());
        self.buf[start + 22..start + 26].copy_from_slice(&(n as u32).to_le_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::records::{FdInfo, InterfaceRecord, fd_type};
    use crate::event::Event;
    use crate::event::decode::encode;

    /// A block: type, length, body, padding, trailer.
    fn blk(block_type: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().next_multiple_of(4);
        let total = (12 + padded) as u32;
        let mut b = block_type.to_le_bytes().to_vec();
        b.extend_from_slice(&total.to_le_bytes());
        b.extend_from_slice(body);
        b.resize(8 + padded, 0);
        b.extend_from_slice(&total.to_le_bytes());
        b
    }

    fn shb(minor: u16) -> Vec<u8> {
        let mut body = SHB_MAGIC.to_le_bytes().to_vec();
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&minor.to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        blk(block::SHB, &body)
    }

    fn lstr(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s);
    }

    fn ev_v2(cpuid: u16, record: &[u8]) -> Vec<u8> {
        let mut body = cpuid.to_le_bytes().to_vec();
        body.extend_from_slice(record);
        blk(block::EV_V2, &body)
    }

    fn read_all(bytes: Vec<u8>) -> (CaptureReader, Vec<(EventMeta, Vec<u8>)>, usize) {
        let mut r = CaptureReader::from_reader(std::io::Cursor::new(bytes)).unwrap();
        let mut events = Vec::new();
        let mut sections = 0;
        while let Some(item) = r.next().unwrap() {
            match item {
                ReadItem::Event(m) => events.push((m, r.record().to_vec())),
                ReadItem::Section => sections += 1,
            }
        }
        (r, events, sections)
    }

    fn procinfo() -> Vec<u8> {
        encode(10, 1, 234, &[&1u64.to_le_bytes(), &2u64.to_le_bytes()])
    }

    #[test]
    fn pl_v1_entry_has_only_the_oldest_fields() {
        let mut e = Vec::new();
        for v in [7u64, 7, 1] {
            e.extend_from_slice(&v.to_le_bytes());
        }
        lstr(&mut e, b"bash");
        lstr(&mut e, b"/bin/bash");
        lstr(&mut e, b"-c\0ls"); // no trailing NUL: the reader adds one
        lstr(&mut e, b"/root");
        e.extend_from_slice(&1024u64.to_le_bytes());
        for v in [0u32, 0, 0] {
            e.extend_from_slice(&v.to_le_bytes());
        }
        let mut f = shb(0);
        f.extend(blk(block::PL_V1, &e));
        f.extend(ev_v2(0, &procinfo()));
        let (r, events, _) = read_all(f);
        let t = &r.metadata().threads[0];
        assert_eq!((t.tid, t.pid, t.ptid), (7, 7, 1));
        assert_eq!(t.comm, "bash");
        assert_eq!(t.args, b"-c\0ls\0");
        assert_eq!(t.cwd, "/root");
        assert_eq!(
            (t.sid, t.vtid, t.vpid, t.pgid, t.loginuid),
            (-1, -1, -1, -1, u32::MAX)
        );
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn pl_v4_has_env_vtid_and_cgroups() {
        let mut e = Vec::new();
        for v in [9u64, 8, 1] {
            e.extend_from_slice(&v.to_le_bytes());
        }
        lstr(&mut e, b"sh");
        lstr(&mut e, b"sh");
        lstr(&mut e, b"");
        lstr(&mut e, b"/");
        e.extend_from_slice(&64u64.to_le_bytes());
        for v in [0u32, 1000, 1000, 10, 20, 30] {
            e.extend_from_slice(&v.to_le_bytes());
        }
        e.extend_from_slice(&5u64.to_le_bytes());
        e.extend_from_slice(&6u64.to_le_bytes());
        lstr(&mut e, b"HOME=/\0");
        e.extend_from_slice(&3i64.to_le_bytes());
        e.extend_from_slice(&2i64.to_le_bytes());
        lstr(&mut e, b"cpu=/docker/abc\0");
        let mut f = shb(1);
        f.extend(blk(block::PL_V4, &e));
        f.extend(ev_v2(0, &procinfo()));
        let (r, _, _) = read_all(f);
        let t = &r.metadata().threads[0];
        assert_eq!(
            (t.uid, t.gid, t.vmsize_kb, t.vmswap_kb, t.pfminor),
            (1000, 1000, 10, 30, 6)
        );
        assert_eq!(t.env, b"HOME=/\0");
        assert_eq!((t.vtid, t.vpid), (3, 2));
        assert_eq!(t.cgroups, b"cpu=/docker/abc\0");
        assert_eq!(t.root, "");
    }

    #[test]
    fn v1_fd_interface_and_user_lists() {
        let mut fdl = 42u64.to_le_bytes().to_vec();
        // IPv4 socket
        fdl.extend_from_slice(&3i64.to_le_bytes());
        fdl.extend_from_slice(&99u64.to_le_bytes());
        fdl.push(fd_type::IPV4_SOCK);
        fdl.extend_from_slice(&[127, 0, 0, 1, 10, 0, 0, 2]);
        fdl.extend_from_slice(&40000u16.to_le_bytes());
        fdl.extend_from_slice(&80u16.to_le_bytes());
        fdl.push(2);
        // old FILE
        fdl.extend_from_slice(&4i64.to_le_bytes());
        fdl.extend_from_slice(&0u64.to_le_bytes());
        fdl.push(fd_type::FILE);
        lstr(&mut fdl, b"/etc/passwd");
        // an unknown type: no payload can be skipped in v1, libscap names it
        fdl.extend_from_slice(&5i64.to_le_bytes());
        fdl.extend_from_slice(&0u64.to_le_bytes());
        fdl.push(77);
        let mut il = Vec::new();
        il.extend_from_slice(&3u16.to_le_bytes()); // IPV4_NOLINKSPEED
        il.extend_from_slice(&2u16.to_le_bytes());
        il.extend_from_slice(&[127, 0, 0, 1, 255, 0, 0, 0, 127, 255, 255, 255]);
        il.extend_from_slice(b"lo");
        let mut ul = vec![0u8];
        ul.extend_from_slice(&0u32.to_le_bytes());
        ul.extend_from_slice(&0u32.to_le_bytes());
        lstr(&mut ul, b"root");
        lstr(&mut ul, b"/root");
        lstr(&mut ul, b"/bin/bash");
        ul.push(1);
        ul.extend_from_slice(&0u32.to_le_bytes());
        lstr(&mut ul, b"root");
        let mut f = shb(0);
        f.extend(blk(block::FDL, &fdl));
        f.extend(blk(block::IL, &il));
        f.extend(blk(block::UL, &ul));
        f.extend(blk(0x7777, b"unknown metadata block"));
        f.extend(ev_v2(0, &procinfo()));
        let (r, _, _) = read_all(f);
        let md = r.metadata();
        assert_eq!(md.fds.len(), 3);
        assert_eq!(
            md.fds[0].1.info,
            FdInfo::Ipv4Sock {
                sip: [127, 0, 0, 1],
                dip: [10, 0, 0, 2],
                sport: 40000,
                dport: 80,
                l4proto: 2
            }
        );
        assert_eq!(md.fds[1].0, 42);
        assert_eq!(
            md.fds[1].1.info,
            FdInfo::Named {
                name: "/etc/passwd".into()
            }
        );
        assert_eq!(md.fds[2].1.fd_type, fd_type::UNSUPPORTED);
        assert_eq!(
            md.fds[2].1.info,
            FdInfo::Named {
                name: "unknown-type:[77]".into()
            }
        );
        assert_eq!(
            md.interfaces,
            [InterfaceRecord::Ipv4 {
                name: "lo".into(),
                addr: [127, 0, 0, 1],
                netmask: [255, 0, 0, 0],
                bcast: [127, 255, 255, 255],
                linkspeed: 0
            }]
        );
        assert_eq!(md.users[0].shell, "/bin/bash");
        assert_eq!(md.groups[0].name, "root");
    }

    #[test]
    fn event_block_variants() {
        let rec = procinfo();
        let mut f = shb(2);
        // EVF_V2 with SCAP_DF_STATE_ONLY
        let mut body = 3u16.to_le_bytes().to_vec();
        body.extend_from_slice(&SCAP_DF_STATE_ONLY.to_le_bytes());
        body.extend_from_slice(&rec);
        f.extend(blk(block::EVF_V2, &body));
        // EV_V2_LARGE carrying a large-payload type (u32 lengths)
        let json = encode(11, u64::MAX, 324, &[b"{\"container\":{}}\0"]);
        let mut body = 1u16.to_le_bytes().to_vec();
        body.extend_from_slice(&json);
        f.extend(blk(block::EV_V2_LARGE, &body));
        // an event type from a newer producer: skipped
        f.extend(ev_v2(0, &{
            let mut r = rec.clone();
            r[20..22].copy_from_slice(&500u16.to_le_bytes());
            r
        }));
        // v1 EV block: 22-byte header, len counts it, nparams found from the lengths
        let mut v1 = Vec::new();
        v1.extend_from_slice(&12u64.to_le_bytes());
        v1.extend_from_slice(&5u64.to_le_bytes());
        v1.extend_from_slice(&(22u32 + 4 + 16).to_le_bytes());
        v1.extend_from_slice(&234u16.to_le_bytes());
        v1.extend_from_slice(&8u16.to_le_bytes());
        v1.extend_from_slice(&8u16.to_le_bytes());
        v1.extend_from_slice(&7u64.to_le_bytes());
        v1.extend_from_slice(&9u64.to_le_bytes());
        let mut body = 2u16.to_le_bytes().to_vec();
        body.extend_from_slice(&v1);
        f.extend(blk(block::EV, &body));
        // a second section (concatenated capture)
        f.extend(shb(2));
        f.extend(ev_v2(0, &rec));
        let (_, events, sections) = read_all(f);
        assert_eq!(sections, 1);
        assert_eq!(events.len(), 4);
        assert_eq!(
            (events[0].0.cpuid, events[0].0.flags),
            (3, SCAP_DF_STATE_ONLY)
        );
        assert_eq!(events[0].1, rec);
        let e = Event::decode(&events[1].1).unwrap();
        assert_eq!(e.param_str(0).unwrap(), Some("{\"container\":{}}"));
        let e = Event::decode(&events[2].1).unwrap();
        assert_eq!((e.ts(), e.tid(), e.nparams(), e.len()), (12, 5, 2, 46));
        assert_eq!(e.param_u64(1).unwrap(), Some(9));
        assert_eq!(events[2].0.cpuid, 2);
    }

    #[test]
    fn wrong_trailer_and_short_machine_info_are_errors() {
        let mut f = shb(2);
        let mut mi = blk(block::MI, &[0u8; 100]);
        let n = mi.len();
        mi[n - 4..].copy_from_slice(&1u32.to_le_bytes());
        f.extend(mi);
        let err = CaptureReader::from_reader(std::io::Cursor::new(f)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("corrupted capture at byte offset 28: wrong block total length"),
            "{err}"
        );
        let mut f = shb(2);
        let mut ul = blk(block::UL_V2, &[]);
        let n = ul.len();
        ul[n - 4..].copy_from_slice(&99u32.to_le_bytes());
        f.extend(ul);
        let err = CaptureReader::from_reader(std::io::Cursor::new(f)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupted capture at byte offset 28: wrong block total length, header=12, trailer=99"
        );
    }
}
