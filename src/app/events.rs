//! The event loop (`process_events`) over a capture file (`engine.kind=replay`): the
//! [`pipeline::Worker`](crate::pipeline::Worker) does state, rules and alerts; this loop adds
//! what belongs to the application: it stops at the end of the file, on SIGINT/SIGTERM, on a
//! validated reload, after `-M` seconds of event time, or when the drop manager's `exit` action
//! fires, and it reopens outputs on SIGUSR1.

use std::path::Path;
use std::sync::atomic::Ordering;

use super::AppError;
use super::drops::{CaptureStats, DropManager, DropVerdict};
use super::rules_glue::LoopContext;
use crate::config::{Config, RuleMatching};
use crate::driver::replay::{ReplayDriver, ReplayItem};
use crate::engine::{Matching, Ruleset};
use crate::pipeline::{Settings, Worker};

const ONE_SECOND_NS: u64 = 1_000_000_000;

/// Replays `engine.replay.capture_file`.
pub fn run_replay(cfg: &Config, ruleset: Ruleset, ctx: &LoopContext) -> Result<(), AppError> {
    let path = &cfg.engine.replay_capture_file;
    let mut driver = ReplayDriver::open(Path::new(path)).map_err(|e| {
        AppError::Fatal(format!(
            "An error occurred while opening the capture file {path}: {e}"
        ))
    })?;
    ctx.log.info("[libs]: Trying to open the right engine!");
    ctx.log
        .info(&format!("Replaying events from the capture file: {path}"));
    ctx.metrics_ready.store(true, Ordering::SeqCst);

    let settings = Settings {
        matching: match cfg.rule_matching {
            RuleMatching::First => Matching::First,
            RuleMatching::All => Matching::All,
        },
        thread_table_size: usize::try_from(cfg.thread_table_size).unwrap_or(usize::MAX),
        hostname: ctx.hostname.clone(),
    };
    let mut worker = Worker::new(ruleset, settings);
    worker.reset(driver.metadata());
    let mut drops = DropManager::new(
        &cfg.syscall_event_drops,
        CaptureStats::default(),
        false,
        crate::output::now_ns(),
    );
    let mut emit = |a: crate::output::Alert| ctx.emitter.alert(&a);
    let mut first_ts = 0u64;
    let mut result = Ok(());
    loop {
        if ctx.controls.terminate.load(Ordering::SeqCst) {
            ctx.log.info("SIGINT received, exiting...");
            break;
        }
        if ctx.controls.restart.load(Ordering::SeqCst) {
            ctx.log.info("SIGHUP received, restarting...");
            break;
        }
        if ctx.controls.reopen.swap(false, Ordering::SeqCst) {
            ctx.log.info("SIGUSR1 received, reopening outputs...");
            ctx.emitter.reopen();
        }
        let rev = match driver.next() {
            Ok(Some(ReplayItem::Event(rev))) => rev,
            Ok(Some(ReplayItem::NewSection)) => {
                let meta = driver.metadata().clone();
                worker.reset(&meta);
                continue;
            }
            Ok(None) => break,
            Err(e) => {
                result = Err(AppError::Fatal(e.to_string()));
                break;
            }
        };
        let ts = rev.event.ts();
        if first_ts == 0 {
            first_ts = ts;
        } else if ctx.duration_s > 0
            && (ts.saturating_sub(first_ts) / ONE_SECOND_NS) as i64 >= ctx.duration_s
        {
            break;
        }
        worker.process(&rev, &mut emit);
        match drops.process_event(ts, CaptureStats::default, &ctx.log) {
            DropVerdict::Continue => {}
            DropVerdict::Alert(msg) => ctx.emitter.internal(&msg),
            DropVerdict::Exit(msg) => {
                if let Some(m) = msg {
                    ctx.emitter.internal(&m);
                }
                result = Err(AppError::Fatal("Drop manager internal error".into()));
                break;
            }
        }
    }
    eprint!("{}", drops.format_stats());
    if result.is_ok() && ctx.duration_s > 0 {
        std::thread::sleep(std::time::Duration::from_secs(ctx.duration_s as u64));
    }
    result
}
