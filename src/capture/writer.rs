//! Writes scap captures in the layout libsinsp's dumper uses (scap-format.md §12): SHB 1.2, MI,
//! IL_V2, UL_V2, PL_V9, one FDL_V2 per thread with fds, then one event block per event.
//! Our reader, Falco 0.44.1 and sysdig 0.29.3 read the result back.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::CaptureError;
use super::reader::{SHB_MAGIC, block};
use super::records::{MachineInfo, Metadata, UserListEntry};
use crate::event::decode::HEADER_LEN;
use crate::event::table;

/// Writes one capture.
pub struct CaptureWriter<W: Write> {
    out: W,
    scratch: Vec<u8>,
}

/// The file behind [`CaptureWriter::create`]: plain or gzip.
pub enum FileSink {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            FileSink::Plain(w) => w.write(buf),
            FileSink::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            FileSink::Plain(w) => w.flush(),
            FileSink::Gzip(w) => w.flush(),
        }
    }
}

impl FileSink {
    /// Flushes everything (and the gzip trailer) to disk.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            FileSink::Plain(mut w) => w.flush(),
            FileSink::Gzip(w) => w.finish()?.flush(),
        }
    }
}

fn write_block(out: &mut impl Write, block_type: u32, body: &[u8]) -> Result<(), CaptureError> {
    let padded = body.len().next_multiple_of(4);
    let total = (8 + padded + 4) as u32;
    let mut head = [0u8; 8];
    head[..4].copy_from_slice(&block_type.to_le_bytes());
    head[4..].copy_from_slice(&total.to_le_bytes());
    out.write_all(&head).map_err(CaptureError::Write)?;
    out.write_all(body).map_err(CaptureError::Write)?;
    out.write_all(&[0u8; 3][..padded - body.len()])
        .map_err(CaptureError::Write)?;
    out.write_all(&total.to_le_bytes())
        .map_err(CaptureError::Write)
}

impl CaptureWriter<FileSink> {
    /// Creates `path` and writes the section header and metadata.
    pub fn create(path: &Path, metadata: &Metadata, gzip: bool) -> Result<Self, CaptureError> {
        let file = BufWriter::new(File::create(path).map_err(CaptureError::Write)?);
        let sink = if gzip {
            FileSink::Gzip(GzEncoder::new(file, Compression::default()))
        } else {
            FileSink::Plain(file)
        };
        Self::new(sink, metadata)
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the section header and the metadata blocks to `out`.
    pub fn new(mut out: W, metadata: &Metadata) -> Result<Self, CaptureError> {
        let mut body = Vec::with_capacity(4096);
        body.extend_from_slice(&SHB_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&2u16.to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        write_block(&mut out, block::SHB, &body)?;

        body.clear();
        let default_machine = MachineInfo::default();
        metadata
            .machine
            .as_ref()
            .unwrap_or(&default_machine)
            .encode(&mut body);
        write_block(&mut out, block::MI, &body)?;

        body.clear();
        for i in &metadata.interfaces {
            i.encode(&mut body);
        }
        write_block(&mut out, block::IL_V2, &body)?;

        body.clear();
        for u in &metadata.users {
            UserListEntry::User(u.clone()).encode(&mut body);
        }
        for g in &metadata.groups {
            UserListEntry::Group(g.clone()).encode(&mut body);
        }
        write_block(&mut out, block::UL_V2, &body)?;

        body.clear();
        for t in &metadata.threads {
            t.encode(&mut body);
        }
        write_block(&mut out, block::PL_V9, &body)?;

        let mut by_tid: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (tid, fd) in &metadata.fds {
            let body = by_tid
                .entry(*tid)
                .or_insert_with(|| tid.to_le_bytes().to_vec());
            fd.encode(body);
        }
        for body in by_tid.values() {
            write_block(&mut out, block::FDL_V2, body)?;
        }
        Ok(CaptureWriter { out, scratch: body })
    }

    /// Writes one event: `record` is a v2 record (`ppm_evt_hdr` with `nparams`). Flags other
    /// than 0 select an EVF block; large-payload types use the `*_LARGE` blocks.
    pub fn write_event(
        &mut self,
        cpuid: u16,
        flags: u32,
        record: &[u8],
    ) -> Result<(), CaptureError> {
        if record.len() < HEADER_LEN {
            return Err(CaptureError::Write(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "event record of {} bytes is shorter than its header",
                    record.len()
                ),
            )));
        }
        let event_type = u16::from_le_bytes([record[20], record[21]]);
        let large = table::by_code(event_type).is_some_and(|e| e.is_large_payload());
        let block_type = match (flags != 0, large) {
            (false, false) => block::EV_V2,
            (true, false) => block::EVF_V2,
            (false, true) => block::EV_V2_LARGE,
            (true, true) => block::EVF_V2_LARGE,
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(&cpuid.to_le_bytes());
        if flags != 0 {
            self.scratch.extend_from_slice(&flags.to_le_bytes());
        }
        self.scratch.extend_from_slice(record);
        let body = std::mem::take(&mut self.scratch);
        let res = write_block(&mut self.out, block_type, &body);
        self.scratch = body;
        res
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        self.out.flush().map_err(CaptureError::Write)?;
        Ok(self.out)
    }
}
