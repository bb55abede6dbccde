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
        self,
        append_output: &[crate::config::AppendOutput],
    ) -> Result<Worker<R>, AlertError> {
        self.with_extra_fields_in(append_output, crate::fields::lookup)
    }

    /// [`Worker::with_extra_fields`] with the fields looked up by `lookup` (the catalog plus the
    /// configured `static.*` fields).
    pub fn with_extra_fields_in(
        mut self,
        append_output: &[crate::config::AppendOutput],
        lookup: impl crate::engine::filter::FieldLookup,
    ) -> Result<Worker<R>, AlertError> {
        self.extra_fields =
            alert::compile_extra_fields(append_output, self.ruleset.borrow(), lookup)?;
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
        self.on_event(&rev.event, rev.cpuid, rev.state_only(), emit);
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
        let mut ex = Extractor::new(&self.state, ev, &ctx, &self.settings.hostname);
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::driver::tests_support::shared_dir;
    use crate::rules::{LoadOptions, load};

    fn cat_write() -> PathBuf {
        shared_dir().join("upstream/traces/falco/cat_write.scap")
    }

    fn ruleset(output: &str) -> Ruleset {
        let yaml = format!(
            "- rule: open_from_cat\n  desc: d\n  condition: evt.type=open and proc.name=cat\n  \
             output: \"{output}\"\n  priority: WARNING\n"
        );
        let (rs, results, fatal) =
            load(&[("rules.yaml".to_string(), yaml)], &LoadOptions::default());
        assert!(fatal.is_none(), "{fatal:?} {results:?}");
        rs.expect("ruleset")
    }

    /// Runs cat_write.scap through a worker; `state_only` forces the flag on every event.
    fn replay(worker: &mut Worker, state_only: bool) -> Vec<Alert> {
        let mut driver = ReplayDriver::open(&cat_write()).unwrap();
        worker.reset(driver.metadata());
        let mut alerts = Vec::new();
        while let Some(item) = driver.next().unwrap() {
            if let ReplayItem::Event(rev) = item {
                let flag = state_only || rev.state_only();
                worker.on_event(&rev.event, rev.cpuid, flag, &mut |a| alerts.push(a));
            }
        }
        alerts
    }

    /// libsinsp's `formatter_visitor` registers the fields inside a transformer as resolution
    /// tokens of their own and skips the transformer token in `output_fields`.
    #[test]
    fn transformer_tokens_give_their_inner_fields() {
        let mut w = Worker::new(ruleset("%toupper(proc.name) %fd.name"), Settings::default());
        let alerts = replay(&mut w, false);
        assert_eq!(alerts.len(), 4, "open_from_cat fires on the 4 open exits");
        let a = &alerts[0];
        assert!(a.message.starts_with("CAT "), "{}", a.message);
        assert_eq!(a.output_fields["proc.name"], serde_json::json!("cat"));
        assert!(a.output_fields.contains_key("fd.name"));
        assert!(!a.output_fields.contains_key("toupper(proc.name)"));
    }

    /// Events flagged `SCAP_DF_STATE_ONLY` update the state but never reach the rules.
    #[test]
    fn state_only_events_update_state_without_rules() {
        let mut w = Worker::new(ruleset("%proc.name"), Settings::default());
        assert!(replay(&mut w, true).is_empty());
        let s = w.summary();
        assert_eq!((s.evaluated, s.matches), (0, 0));
        assert!(s.events > 300, "{s:?}");
        assert!(!w.state().threads.is_empty());
    }

    /// `append_output` extra fields are compiled per rule and land in `output_fields` only.
    #[test]
    fn extra_fields_apply_to_the_matching_rule() {
        let append = crate::config::AppendOutput {
            match_rule: "open_from_cat".to_string(),
            extra_fields: vec![
                ("proc.pid".to_string(), None),
                ("cmd".to_string(), Some("name=%proc.name".to_string())),
            ],
            ..Default::default()
        };
        let mut w = Worker::new(ruleset("%fd.name"), Settings::default())
            .with_extra_fields(&[append])
            .unwrap();
        let alerts = replay(&mut w, false);
        assert_eq!(alerts.len(), 4);
        let a = &alerts[0];
        assert!(a.output_fields["proc.pid"].is_u64());
        assert_eq!(a.output_fields["cmd"], serde_json::json!("name=cat"));
        assert!(!a.message.contains("name=cat"));
        let bad = crate::config::AppendOutput {
            extra_fields: vec![("proc.nope".to_string(), None)],
            ..Default::default()
        };
        let err = Worker::new(ruleset("%fd.name"), Settings::default())
            .with_extra_fields(&[bad])
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("append_output extra field proc.nope")
        );
    }
}
