//! The event loop (`process_events`) over a capture file (`engine.kind=replay`): read, convert
//! old event versions, parse into the state, match the ruleset, emit the matches. It stops at
//! the end of the file, on SIGINT/SIGTERM, on a validated reload, after `-M` seconds of event
//! time, or when the drop manager's `exit` action fires.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::AppError;
use super::drops::{CaptureStats, DropManager, DropVerdict};
use super::rules_glue::LoopContext;
use crate::config::{AppendOutput, Config, Priority, RuleMatching};
use crate::driver::replay::{ReplayDriver, ReplayItem};
use crate::engine::Format;
use crate::engine::format::Token;
use crate::engine::{Matching, Ruleset, Scratch};
use crate::fields::Extract;
use crate::fields::extract::{Extractor, render_json};
use crate::output::Alert;
use crate::state::State;

const ONE_SECOND_NS: u64 = 1_000_000_000;

/// `rules::Priority` (engine side) to the config/output priority.
fn priority(p: crate::rules::Priority) -> Priority {
    let i = crate::rules::Priority::ALL
        .iter()
        .position(|x| *x == p)
        .unwrap_or(7);
    Priority::ALL[i]
}

/// One `append_output[].extra_fields` entry, compiled: a raw field (typed JSON value) or a
/// format (rendered string). They only appear in JSON `output_fields`, never in the text.
pub(crate) enum ExtraField {
    Raw(Format),
    Formatted(Format),
}

/// The extra fields that apply to each rule, in config order.
pub(crate) fn compile_extra_fields(
    cfg: &Config,
    ruleset: &Ruleset,
) -> Result<Vec<Vec<(String, ExtraField)>>, AppError> {
    let applies = |a: &AppendOutput, rule: &crate::engine::Rule| {
        (a.match_source.is_empty() || a.match_source == rule.source)
            && (a.match_rule.is_empty() || a.match_rule == rule.name)
            && a.match_tags.iter().all(|t| rule.tags.contains(t))
    };
    let mut per_rule = Vec::with_capacity(ruleset.rules.len());
    for rule in &ruleset.rules {
        let mut fields = Vec::new();
        for a in cfg.append_output.iter().filter(|a| applies(a, rule)) {
            for (key, fmt) in &a.extra_fields {
                let compiled = match fmt {
                    None => ExtraField::Raw(
                        Format::compile(&format!("*%{key}"), crate::fields::lookup).map_err(
                            |e| AppError::Fatal(format!("append_output extra field {key}: {e}")),
                        )?,
                    ),
                    Some(f) => ExtraField::Formatted(
                        Format::compile(&format!("*{f}"), crate::fields::lookup).map_err(|e| {
                            AppError::Fatal(format!("append_output extra field {key}: {e}"))
                        })?,
                    ),
                };
                fields.push((key.clone(), compiled));
            }
        }
        per_rule.push(fields);
    }
    Ok(per_rule)
}

pub(crate) fn add_extra_fields<E: Extract>(
    extra: &[(String, ExtraField)],
    ex: &mut E,
    scratch: &mut Scratch,
    ts: u64,
    out: &mut BTreeMap<String, serde_json::Value>,
) {
    for (key, field) in extra {
        let value = match field {
            ExtraField::Formatted(f) => {
                serde_json::Value::from(f.render(ex, scratch).unwrap_or_default())
            }
            ExtraField::Raw(f) => {
                let operand = f.tokens.iter().find_map(|t| match t {
                    Token::Field { operand, .. } => Some(operand),
                    Token::Literal(_) => None,
                });
                let mut vals = Vec::new();
                match operand {
                    Some(op) if ex.extract(&op.field, &mut vals) => {
                        render_json(op.info, op.field.arg.as_ref(), &vals, ts)
                    }
                    _ => serde_json::Value::Null,
                }
            }
        };
        out.insert(key.clone(), value);
    }
}

/// Builds the alert of `rule` for the current event: the rendered output (`*` semantics,
/// missing values as `<NA>`) and the typed values of its fields (transformed fields are left
/// out, as Falco's JSON formatter does).
pub(crate) fn alert<E: Extract>(
    rule: &crate::engine::Rule,
    ex: &mut E,
    scratch: &mut Scratch,
    ts: u64,
) -> Alert {
    let mut format = rule.format.clone();
    format.require_all_values = false;
    let message = format.render(ex, scratch).unwrap_or_default();
    let mut output_fields = BTreeMap::new();
    for t in &format.tokens {
        let Token::Field { text, operand, .. } = t else {
            continue;
        };
        if !operand.transformers.is_empty() || operand.multi.is_some() {
            continue;
        }
        let mut vals = Vec::new();
        let value = if ex.extract(&operand.field, &mut vals) {
            render_json(operand.info, operand.field.arg.as_ref(), &vals, ts)
        } else {
            serde_json::Value::Null
        };
        output_fields.insert(text.clone(), value);
    }
    Alert {
        time_ns: ts,
        priority: priority(rule.priority),
        rule: rule.name.clone(),
        source: rule.source.clone(),
        tags: rule.tags.clone(),
        message,
        output_fields,
    }
}

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

    let table_size = usize::try_from(cfg.thread_table_size).unwrap_or(usize::MAX);
    let mut state = State::new(table_size);
    state.users.use_host_db = false;
    state.seed_capture(driver.metadata());
    let mut scratch = Scratch::new();
    let mut matched = Vec::new();
    let mode = match cfg.rule_matching {
        RuleMatching::First => Matching::First,
        RuleMatching::All => Matching::All,
    };
    let mut drops = DropManager::new(
        &cfg.syscall_event_drops,
        CaptureStats::default(),
        false,
        crate::output::now_ns(),
    );
    let extra_fields = compile_extra_fields(cfg, ruleset)?;
    let cpu_start = cpu_seconds();
    let mut first_ts = 0u64;
    let mut num_evts = 0u64;
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
                let mut fresh = State::new(table_size);
                fresh.users.use_host_db = false;
                state = fresh;
                state.seed_capture(driver.metadata());
                continue;
            }
        };
        let ev = rev.event;
        let ts = ev.ts();
        if first_ts == 0 {
            first_ts = ts;
        } else if ctx.duration_s > 0
            && (ts.saturating_sub(first_ts) / ONE_SECOND_NS) as i64 >= ctx.duration_s
        {
            break;
        }
        let mut ectx = state.process(&ev);
        ectx.cpu = rev.cpuid;
        num_evts += 1;
        if let Some(s) = ctx.snapshots.borrow_mut().as_mut() {
            s.on_event(num_evts, || None, &ctx.emitter);
        }
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
        if !rev.rules_see() || ectx.filtered_out {
            continue; // parsed for state, never evaluated
        }
        let mut ex = Extractor {
            state: &state,
            ev: &ev,
            ctx: &ectx,
            hostname: &ctx.hostname,
        };
        matched.clear();
        ruleset.matches(&mut ex, &mut scratch, mode, &mut matched);
        for &i in &matched {
            let mut a = alert(&ruleset.rules[i], &mut ex, &mut scratch, ts);
            add_extra_fields(
                &extra_fields[i],
                &mut ex,
                &mut scratch,
                ts,
                &mut a.output_fields,
            );
            ctx.emitter.alert(&a);
        }
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
