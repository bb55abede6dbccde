//! The event loop (`process_events`) over a capture file (`engine.kind=replay`): the replay
//! driver reads and converts the events, the state is seeded from the capture's metadata (no
//! host user database), and each event goes through the [`Worker`] (state, rules, alerts).
//! This module keeps the application's part: signals, `-M`, the drop manager, snapshots, `-v`
//! figures, plus the loop helpers the live loop shares. It stops at the end of the file, on
//! SIGINT/SIGTERM, on a validated reload, after `-M` seconds of event time, or when the drop
//! manager's `exit` action fires.

use std::path::Path;
use std::sync::atomic::Ordering;

use super::AppError;
use super::drops::{CaptureStats, DropManager, DropVerdict};
use super::rules_glue::LoopContext;
use crate::config::{Config, RuleMatching};
use crate::driver::replay::{ReplayDriver, ReplayItem};
use crate::engine::{Matching, Ruleset};
use crate::pipeline::{Settings, Worker};
use crate::state::State;

const ONE_SECOND_NS: u64 = 1_000_000_000;

/// Processor time used so far (Falco's `-v` reports `clock() / CLOCKS_PER_SEC`).
pub(crate) fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec the call writes into.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// `-v`: `[(<source>) ]Elapsed time: %.3lf, Captured Events: <n>, %.2lf eps` (no source prefix
/// in replay).
pub(crate) fn elapsed_line(source: &str, cpu_start: f64, num_evts: u64) -> String {
    let duration = cpu_seconds() - cpu_start;
    let prefix = if source.is_empty() {
        String::new()
    } else {
        format!("({source}) ")
    };
    format!(
        "{prefix}Elapsed time: {duration:.3}, Captured Events: {num_evts}, {:.2} eps\n",
        num_evts as f64 / duration
    )
}

/// Replays `engine.replay.capture_file`.
pub fn run_replay(cfg: &Config, ruleset: &Ruleset, ctx: &LoopContext) -> Result<(), AppError> {
    let path = &cfg.engine.replay_capture_file;
    let mut driver = ReplayDriver::open(Path::new(path)).map_err(|e| {
        AppError::Fatal(format!(
            "An error occurred while opening the capture file {path}: {e}"
        ))
    })?;
    if cfg.libs_logger_enabled {
        ctx.log.info("[libs]: Trying to open the right engine!");
    }
    ctx.log
        .info(&format!("Replaying events from the capture file: {path}"));
    ctx.metrics_ready.store(true, Ordering::SeqCst);

    let mut worker = new_worker(cfg, ruleset, ctx)?;
    let mut state = State::new(usize::try_from(cfg.thread_table_size).unwrap_or(usize::MAX));
    state.users.use_host_db = false;
    state.seed_capture(driver.metadata());
    worker.set_state(state);
    let mut drops = DropManager::new(
        &cfg.syscall_event_drops,
        CaptureStats::default(),
        false,
        crate::output::now_ns(),
    );
    let mut emit = |a: crate::output::Alert| ctx.emitter.alert(&a);
    let cpu_start = cpu_seconds();
    let mut first_ts = 0u64;
    let mut num_evts = 0u64;
    let mut result = Ok(());
    loop {
        if signalled(ctx) {
            break;
        }
        let item = match driver.next() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                result = Err(AppError::Fatal(e.to_string()));
                break;
            }
        };
        let rev = match item {
            ReplayItem::Event(rev) => rev,
            ReplayItem::NewSection => {
                worker.reset(driver.metadata());
                continue;
            }
        };
        let ts = rev.event.ts();
        if first_ts == 0 {
            first_ts = ts;
        } else if past_duration(ctx.duration_s, first_ts, ts) {
            break;
        }
        // The drop manager and snapshots run between the state update and the rules in
        // Falco; their outputs do not depend on the event, so they run before it here.
        num_evts += 1;
        if let Some(s) = ctx.snapshots.borrow_mut().as_mut() {
            s.on_event(num_evts, || None, &ctx.emitter);
        }
        if let Err(e) = on_drop_verdict(
            drops.process_event(ts, CaptureStats::default, &ctx.log),
            ctx,
        ) {
            result = Err(e);
            break;
        }
        worker.on_event(&rev.event, rev.cpuid, rev.state_only(), &mut emit);
    }
    if ctx.verbose {
        eprint!("{}", elapsed_line("", cpu_start, num_evts));
    }
    eprint!("{}", drops.format_stats());
    if result.is_ok() && ctx.duration_s > 0 {
        std::thread::sleep(std::time::Duration::from_secs(ctx.duration_s as u64));
    }
    result
}

/// The worker settings of `cfg`.
pub(crate) fn worker_settings(cfg: &Config, ctx: &LoopContext) -> Settings {
    Settings {
        matching: match cfg.rule_matching {
            RuleMatching::First => Matching::First,
            RuleMatching::All => Matching::All,
        },
        thread_table_size: usize::try_from(cfg.thread_table_size).unwrap_or(usize::MAX),
        hostname: ctx.hostname.clone(),
    }
}

/// The per-event worker of `ruleset` with the `append_output` extra fields of `cfg`.
pub(crate) fn new_worker<'r>(
    cfg: &Config,
    ruleset: &'r Ruleset,
    ctx: &LoopContext,
) -> Result<Worker<&'r Ruleset>, AppError> {
    // the rules loader's lookup: `static.*` fields resolve in extra fields as in rule outputs
    let statics = super::rules_glue::static_field_infos(&cfg.static_fields);
    let lookup = |name: &str| {
        crate::fields::lookup(name).or_else(|| statics.iter().copied().find(|f| f.name == name))
    };
    Worker::new(ruleset, worker_settings(cfg, ctx))
        .with_extra_fields_in(&cfg.append_output, lookup)
        .map_err(|e| AppError::Fatal(e.to_string()))
}

/// `-M`: whether `ts` is `duration_s` seconds or more of event time after `first_ts`.
pub(crate) fn past_duration(duration_s: i64, first_ts: u64, ts: u64) -> bool {
    duration_s > 0 && (ts.saturating_sub(first_ts) / ONE_SECOND_NS) as i64 >= duration_s
}

/// Acts on the signals of the event loop (Falco checks them before each event): SIGUSR1
/// reopens the outputs; SIGINT/SIGTERM and SIGHUP end the loop (true).
pub(crate) fn signalled(ctx: &LoopContext) -> bool {
    if ctx.controls.terminate.load(Ordering::SeqCst) {
        ctx.log.info("SIGINT received, exiting...");
        return true;
    }
    if ctx.controls.restart.load(Ordering::SeqCst) {
        ctx.log.info("SIGHUP received, restarting...");
        return true;
    }
    if ctx.controls.reopen.swap(false, Ordering::SeqCst) {
        ctx.log.info("SIGUSR1 received, reopening outputs...");
        ctx.emitter.reopen();
    }
    false
}

/// Emits the drop manager's notification, if any; an error when its `exit` action fired.
pub(crate) fn on_drop_verdict(verdict: DropVerdict, ctx: &LoopContext) -> Result<(), AppError> {
    match verdict {
        DropVerdict::Continue => Ok(()),
        DropVerdict::Alert(msg) => {
            ctx.emitter.internal(&msg);
            Ok(())
        }
        DropVerdict::Exit(msg) => {
            if let Some(m) = msg {
                ctx.emitter.internal(&m);
            }
            Err(AppError::Fatal("Drop manager internal error".into()))
        }
    }
}
