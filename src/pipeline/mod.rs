//! The event pipeline: one worker that owns the thread/fd state, the compiled ruleset and the
//! per-event scratch, and moves every event one way through the stages:
//!
//! ```text
//! driver (replay) → decode → state update → evttype index → conditions → alert → output
//! ```
//!
//! Input comes from a [`ReplayDriver`] (the live drivers will feed [`Worker::process`] the same
//! way); output goes to the caller's `emit` callback as [`Alert`]s, which `app` hands to the
//! outputs queue. The worker itself allocates nothing per event unless a rule matches (the
//! match buffer and the filter scratch are owned by it and reused); string-valued fields that
//! the extractors copy out of the state still allocate (see the replay benchmark).
//!
//! - [`alert`]: a matched rule's output rendered as text and typed `output_fields`.
//! - [`inspect`]: `falco inspect`, sysdig's `-r FILE [-p FORMAT] [FILTER]` for rule authors.

pub mod alert;
pub mod inspect;

use std::path::Path;

use crate::capture::CaptureError;
use crate::driver::replay::{ReplayDriver, ReplayEvent, ReplayItem};
use crate::engine::{Matching, Ruleset, Scratch};
use crate::fields::extract::Extractor;
use crate::output::Alert;
use crate::state::State;

/// Errors of running the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The capture could not be opened, read or converted.
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

/// What the worker needs to know besides the ruleset.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `rule_matching`.
    pub matching: Matching,
    /// `falco_libs.thread_table_size`.
    pub thread_table_size: usize,
    /// `evt.hostname` (FALCO_HOSTNAME or the machine's host name).
    pub hostname: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            matching: Matching::First,
            thread_table_size: 262_144,
            hostname: String::new(),
        }
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events the driver delivered (state updates included).
    pub events: u64,
    /// Events the rules were evaluated on.
    pub evaluated: u64,
    /// Rule matches (alerts emitted).
    pub matches: u64,
}

/// The single-threaded worker: owns the state, the ruleset and its scratch.
#[derive(Debug)]
pub struct Worker {
    state: State,
    ruleset: Ruleset,
    settings: Settings,
    scratch: Scratch,
    /// Indexes of the rules that matched the current event (reused).
    matched: Vec<usize>,
    summary: Summary,
}

impl Worker {
    pub fn new(ruleset: Ruleset, settings: Settings) -> Worker {
        Worker {
            state: State::new(settings.thread_table_size),
            ruleset,
            settings,
            scratch: Scratch::new(),
            matched: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// The state as the last event left it.
    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Drops all state and seeds it again from a capture section's metadata.
    pub fn reset(&mut self, meta: &crate::capture::Metadata) {
        self.state = State::new(self.settings.thread_table_size);
        self.state.seed_capture(meta);
    }

    /// Runs one event through the state and, unless it only updates state, the rules; each
    /// match is formatted and handed to `emit`. The deferred removals of this event (closed
    /// fds, exited threads) happen when the next event is processed.
    pub fn process(&mut self, rev: &ReplayEvent<'_>, emit: &mut impl FnMut(Alert)) {
        self.summary.events += 1;
        let mut ctx = self.state.process(&rev.event);
        ctx.cpu = rev.cpuid;
        if !rev.rules_see() {
            return;
        }
        self.summary.evaluated += 1;
        self.matched.clear();
        let mut ex = Extractor {
            state: &self.state,
            ev: &rev.event,
            ctx: &ctx,
            hostname: &self.settings.hostname,
        };
        self.ruleset.matches(
            &mut ex,
            &mut self.scratch,
            self.settings.matching,
            &mut self.matched,
        );
        for &i in &self.matched {
            let rule = &self.ruleset.rules[i];
            self.summary.matches += 1;
            emit(alert::build(rule, &mut ex, rev.event.ts()));
        }
    }
}

/// Replays a capture file through a fresh worker until the end of the file or until `stop`
/// returns true (checked between events).
pub fn run_replay(
    path: &Path,
    ruleset: Ruleset,
    settings: Settings,
    stop: &dyn Fn() -> bool,
    mut emit: impl FnMut(Alert),
) -> Result<Summary, PipelineError> {
    let mut driver = ReplayDriver::open(path)?;
    let mut worker = Worker::new(ruleset, settings);
    worker.reset(driver.metadata());
    let mut n: u32 = 0;
    loop {
        n = n.wrapping_add(1);
        if n.is_multiple_of(1024) && stop() {
            break;
        }
        match driver.next()? {
            None => break,
            Some(ReplayItem::Event(rev)) => worker.process(&rev, &mut emit),
            Some(ReplayItem::NewSection) => {
                let meta = driver.metadata().clone();
                worker.reset(&meta);
            }
        }
    }
    Ok(worker.summary())
}
