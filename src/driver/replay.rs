//! The replay driver: reads a scap capture, runs every event through the libs replay converter
//! and yields the surviving events in file order, with the capture's metadata for seeding state.
//! Knows nothing about state or rules.

use std::path::Path;

use crate::capture::reader::SCAP_DF_STATE_ONLY;
use crate::capture::{CaptureError, CaptureReader, Converter, Metadata, Outcome, ReadItem};
use crate::event::Event;

/// One event delivered by the replay driver.
#[derive(Debug, Clone, Copy)]
pub struct ReplayEvent<'a> {
    pub event: Event<'a>,
    pub cpuid: u16,
    /// Block flags; `SCAP_DF_STATE_ONLY` (1) events update state but are not evaluated.
    pub flags: u32,
    /// Byte offset of the event's block in the (uncompressed) capture.
    pub offset: u64,
    /// `evt.num`: 1-based count of the events the converter delivered (libsinsp's `m_nevts`,
    /// kept across sections; converter-dropped events are not counted, parse-only ones are).
    pub num: u64,
}

impl ReplayEvent<'_> {
    /// True for blocks flagged `SCAP_DF_STATE_ONLY`: they update state but no rule sees them
    /// (the whole skip rule is `pipeline::rules_see`).
    pub fn state_only(&self) -> bool {
        self.flags & SCAP_DF_STATE_ONLY != 0
    }
}

/// What [`ReplayDriver::next`] yields.
#[derive(Debug, Clone, Copy)]
pub enum ReplayItem<'a> {
    Event(ReplayEvent<'a>),
    /// A concatenated capture started a new section: reset state and seed it again from
    /// [`ReplayDriver::metadata`].
    NewSection,
}

/// Replays a capture file.
#[derive(Debug)]
pub struct ReplayDriver {
    reader: CaptureReader,
    converter: Converter,
    /// Events read from the file (before the converter).
    read: u64,
    /// Events dropped by the converter.
    dropped: u64,
    /// Events delivered.
    delivered: u64,
}

impl ReplayDriver {
    /// Opens `path` (plain or gzip) and reads its metadata.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Ok(Self::from_reader(CaptureReader::open(path)?))
    }

    pub fn from_reader(reader: CaptureReader) -> Self {
        ReplayDriver {
            reader,
            converter: Converter::new(),
            read: 0,
            dropped: 0,
            delivered: 0,
        }
    }

    /// Metadata of the current section (process, fd, interface, user and group lists).
    pub fn metadata(&self) -> &Metadata {
        self.reader.metadata()
    }

    /// Events read from the file so far, before conversion.
    pub fn events_read(&self) -> u64 {
        self.read
    }

    /// Events the converter dropped so far.
    pub fn events_dropped(&self) -> u64 {
        self.dropped
    }

    /// The next event in file order; `Ok(None)` at the end of the capture.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator: the item borrows the reader's buffer"
    )]
    pub fn next(&mut self) -> Result<Option<ReplayItem<'_>>, CaptureError> {
        let meta = loop {
            match self.reader.next()? {
                None => return Ok(None),
                Some(ReadItem::Section) => {
                    self.converter.reset();
                    return Ok(Some(ReplayItem::NewSection));
                }
                Some(ReadItem::Event(meta)) => {
                    self.read += 1;
                    match self.converter.convert(self.reader.record(), meta.offset)? {
                        Outcome::Drop => self.dropped += 1,
                        outcome => break (meta, outcome),
                    }
                }
            }
        };
        let (meta, outcome) = meta;
        let record = match outcome {
            Outcome::Converted => self.converter.output(),
            _ => self.reader.record(),
        };
        let event = Event::decode(record).map_err(|source| CaptureError::Event {
            offset: meta.offset,
            source,
        })?;
        self.delivered += 1;
        Ok(Some(ReplayItem::Event(ReplayEvent {
            event,
            cpuid: meta.cpuid,
            flags: meta.flags,
            offset: meta.offset,
            num: self.delivered,
        })))
    }
}
