//! Live capture to a scap file: [`Tee`] wraps a live driver and writes every record it hands
//! out to a capture (`crate::capture` writer), after the /proc state blocks (threads, fds,
//! users, groups, machine) taken when the capture opens, so the file replays with the process
//! tree the live run had. Honours falco.yaml `capture.enabled`, `capture.path_prefix` and
//! `capture.mode` (falco-runtime.md §1.4).
//!
//! The file name is Falco's dumper name, `<path_prefix>_<ts, 20 digits>_<event number, 20
//! digits>.scap`, gzip-compressed. Mode `all_rules` writes every event for the whole run;
//! mode `rules` (only rules with `capture: true`, for `capture_duration`) is not supported yet:
//! it is run like `all_rules` after a warning.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Batch, Driver, DriverError, DriverStats, RawEvent, proc_scan};
use crate::capture::CaptureError;
use crate::capture::records::{Metadata, fd_type};
use crate::capture::writer::{CaptureWriter, FileSink};
use crate::config::{Capture, CaptureMode};

/// Errors of the live capture.
#[derive(Debug, thiserror::Error)]
pub enum TeeError {
    #[error("cannot scan /proc for the capture's state blocks: {0}")]
    Scan(#[from] proc_scan::ScanError),
    #[error("cannot write the capture {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: CaptureError,
    },
}

impl From<TeeError> for DriverError {
    fn from(e: TeeError) -> Self {
        match e {
            TeeError::Scan(e) => DriverError::Load(e.to_string()),
            TeeError::Write { path, source } => DriverError::Io {
                path,
                source: std::io::Error::other(source.to_string()),
            },
        }
    }
}

/// A driver that writes every record of `inner` to a capture file before handing it on.
pub struct Tee {
    inner: Box<dyn Driver>,
    writer: Option<CaptureWriter<FileSink>>,
    path: PathBuf,
    /// First write error of a batch (the sink cannot return one).
    failed: Option<CaptureError>,
    written: u64,
}

/// Falco's dumper file name for a capture opened at `ts_ns` on event number `evtnum`.
pub fn capture_file_name(path_prefix: &str, ts_ns: u64, evtnum: u64) -> PathBuf {
    PathBuf::from(format!("{path_prefix}_{ts_ns:020}_{evtnum:020}.scap"))
}

impl Tee {
    /// Creates `path` (gzip-compressed) with `metadata` as its state blocks.
    pub fn create(
        inner: Box<dyn Driver>,
        path: &Path,
        metadata: &Metadata,
    ) -> Result<Tee, TeeError> {
        let writer =
            CaptureWriter::create(path, metadata, true).map_err(|source| TeeError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Tee {
            inner,
            writer: Some(writer),
            path: path.to_path_buf(),
            failed: None,
            written: 0,
        })
    }

    /// The capture file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes and closes the file (also done on drop).
    pub fn finish(&mut self) -> Result<(), TeeError> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        let write_err = |source| TeeError::Write {
            path: self.path.clone(),
            source,
        };
        let sink = w.finish().map_err(write_err)?;
        sink.finish().map_err(|e| write_err(CaptureError::Write(e)))
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::error!("{e}");
        }
    }
}

impl Driver for Tee {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn start(&mut self) -> Result<(), DriverError> {
        self.inner.start()
    }
    fn next_batch(
        &mut self,
        timeout: Duration,
        sink: &mut dyn FnMut(RawEvent<'_>),
    ) -> Result<Batch, DriverError> {
        let Tee {
            inner,
            writer,
            failed,
            written,
            ..
        } = self;
        let res = inner.next_batch(timeout, &mut |ev| {
            if let Some(w) = writer.as_mut()
                && failed.is_none()
            {
                match w.write_event(ev.cpu, ev.flags, ev.data) {
                    Ok(()) => *written += 1,
                    Err(e) => *failed = Some(e),
                }
            }
            sink(ev);
        })?;
        if let Some(source) = self.failed.take() {
            // stop writing: a full disk must not take the detection down with it
            self.writer = None;
            return Err(TeeError::Write {
                path: self.path.clone(),
                source,
            }
            .into());
        }
        Ok(res)
    }
    fn stats(&self) -> Result<DriverStats, DriverError> {
        self.inner.stats()
    }
    fn stop(&mut self) {
        self.inner.stop();
        if let Err(e) = self.finish() {
            tracing::error!("{e}");
        }
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

/// Wraps `drv` in a [`Tee`] when `capture.enabled` (the app's one hook); the capture holds the
/// state of the host /proc (honouring HOST_ROOT) at this point.
pub fn tee_if_enabled(
    drv: Box<dyn Driver>,
    capture: &Capture,
) -> Result<Box<dyn Driver>, DriverError> {
    if !capture.enabled {
        return Ok(drv);
    }
    if capture.mode == CaptureMode::Rules {
        tracing::warn!(
            "capture.mode 'rules' is not supported yet by falco-rs: capturing every event \
             (mode 'all_rules')"
        );
    }
    let mut metadata = proc_scan::metadata(&proc_scan::host_root()).map_err(TeeError::from)?;
    for_older_readers(&mut metadata);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let path = capture_file_name(&capture.path_prefix, now, 0);
    tracing::info!(
        "Capture is enabled in mode 'all_rules'. Capturing events to {}",
        path.display()
    );
    Ok(Box::new(Tee::create(drv, &path, &metadata)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_is_falcos_dumper_name() {
        // falco-runtime.md §1.4: <prefix>_<ts as 20 zero-padded digits>_<evtnum 20 digits>.scap
        assert_eq!(
            capture_file_name("/tmp/falco", 1_764_300_000_123_456_789, 42),
            PathBuf::from("/tmp/falco_01764300000123456789_00000000000000000042.scap")
        );
    }
}
