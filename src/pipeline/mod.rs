//! The event pipeline: one worker that owns the thread/fd state, the compiled ruleset, the
//! per-rule `append_output` extra fields and the per-event scratch, and moves every event one
//! way through the stages:
//!
//! ```text
//! driver (replay or live) → decode → state update → evttype index → conditions → alert → output
//! ```
//!
//! [`Worker::on_event`] is THE per-event stage: `falco inspect`, the replay benchmark, the
//! replay loop (`app::events`) and the live loop (`app::live`) all go through it; the callers
//! build and seed the [`State`] (capture metadata or /proc) and keep what belongs to the
//! application (signals, `-M`, drops, snapshots). Output goes to the caller's `emit` callback
//! as [`Alert`]s. The worker itself allocates nothing per event unless a rule matches (the
//! match buffer and the filter scratch are owned by it and reused); string-valued fields that
//! the extractors copy out of the state still allocate (see the replay benchmark).
//!
//! - [`alert`]: a matched rule's output rendered as text, typed `output_fields` and extra fields.
//! - [`inspect`]: `falco inspect`, sysdig's `-r FILE [-p FORMAT] [FILTER]` for rule authors.

pub mod alert;
pub mod inspect;

use std::borrow::Borrow;
use std::path::Path;

use crate::capture::CaptureError;
use crate::capture::reader::SCAP_DF_STATE_ONLY;
use crate::driver::replay::{ReplayDriver, ReplayEvent, ReplayItem};
use crate::engine::{Matching, Ruleset, Scratch};
use crate::event::{Event, table};
use crate::fields::extract::Extractor;
use crate::output::Alert;
use crate::state::{EventCtx, State};

pub use alert::{AlertError, ExtraField};

/// Errors of running the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The capture could not be opened, read or converted.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// An `append_output` extra field does not compile.
    #[error(transparent)]
    Alert(#[from] AlertError),
}

/// Whether the rules are evaluated on an event (Falco's `process_event` skip rule, in one
/// place): not for blocks flagged `SCAP_DF_STATE_ONLY` (`state_only`), not for the enter
/// events libsinsp parses and then filters out ([`table::is_parse_only_enter`]), and not for
/// events the parser marked filtered out.
pub fn rules_see(ev: &Event<'_>, ctx: &EventCtx, state_only: bool) -> bool {
    !state_only && !ctx.filtered_out && !table::is_parse_only_enter(ev.event_type())
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

/// The single-threaded worker: owns the state, the ruleset (or borrows it: `R = &Ruleset`) and
/// its scratch.
#[derive(Debug)]
pub struct Worker<R: Borrow<Ruleset> = Ruleset> {
    state: State,
    ruleset: R,
    settings: Settings,
    /// `append_output` extra fields, by rule index.
    extra_fields: Vec<Vec<(String, ExtraField)>>,
    scratch: Scratch,
    /// Indexes of the rules that matched the current event (reused).
    matched: Vec<usize>,
    summary: Summary,
}

impl<R: Borrow<Ruleset>> Worker<R> {
    /// A worker with an empty state (seed it with [`Worker::reset`] or hand it one with
    /// [`Worker::set_state`]) and no extra fields.
    pub fn new(ruleset: R, settings: Settings) -> Worker<R> {
        let extra_fields = vec![Vec::new(); ruleset.borrow().rules.len()];
        Worker {
            state: State::new(settings.thread_table_size),
            ruleset,
            settings,
            extra_fields,
            scratch: Scratch::new(),
            matched: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Compiles and attaches the `append_output[].extra_fields` that apply to each rule.
    pub fn with_extra_fields(
        mut self,
        append_output: &[crate::config::AppendOutput],
    ) -> Result<Worker<R>, AlertError> {
        self.extra_fields = alert::compile_extra_fields(append_output, self.ruleset.borrow())?;
        Ok(self)
    }

    /// The state as the last event left it.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Replaces the state with one the caller built and seeded.
    pub fn set_state(&mut self, state: State) {
        self.state = state;
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Drops all state and seeds it again from a capture section's metadata (the user/group
    /// lookup mode of the previous state is kept).
    pub fn reset(&mut self, meta: &crate::capture::Metadata) {
        let use_host_db = self.state.users.use_host_db;
        self.state = State::new(self.settings.thread_table_size);
        self.state.users.use_host_db = use_host_db;
        self.state.seed_capture(meta);
    }

    /// A replayed event: [`Worker::on_event`] with its block's cpu and state-only flag.
    pub fn process(&mut self, rev: &ReplayEvent<'_>, emit: &mut impl FnMut(Alert)) {
        self.on_event(
            &rev.event,
            rev.cpuid,
            rev.flags & SCAP_DF_STATE_ONLY != 0,
            emit,
        );
    }

    /// Runs one decoded event through the state and, when [`rules_see`] it, the rules; each
    /// match is formatted (with the rule's extra fields) and handed to `emit`. `state_only`:
    /// the event only updates state (capture block flag `SCAP_DF_STATE_ONLY`). The deferred
    /// removals of this event (closed fds, exited threads) happen when the next event is
    /// processed.
    pub fn on_event(
        &mut self,
        ev: &Event<'_>,
        cpu: u16,
        state_only: bool,
        emit: &mut impl FnMut(Alert),
    ) {
        self.summary.events += 1;
        let mut ctx = self.state.process(ev);
        ctx.cpu = cpu;
        if !rules_see(ev, &ctx, state_only) {
            return;
        }
        self.summary.evaluated += 1;
        self.matched.clear();
        let mut ex = Extractor {
            state: &self.state,
            ev,
            ctx: &ctx,
            hostname: &self.settings.hostname,
        };
        let ruleset = self.ruleset.borrow();
        ruleset.matches(
            &mut ex,
            &mut self.scratch,
            self.settings.matching,
            &mut self.matched,
        );
        let ts = ev.ts();
        for &i in &self.matched {
            self.summary.matches += 1;
            let mut a = alert::build(&ruleset.rules[i], &mut ex, ts);
            if let Some(extra) = self.extra_fields.get(i) {
                alert::add_extra_fields(
                    extra,
                    &mut ex,
                    &mut self.scratch,
                    ts,
                    &mut a.output_fields,
                );
            }
            emit(a);
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
