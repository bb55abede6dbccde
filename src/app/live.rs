//! The event loop over a live driver (`engine.kind` modern_ebpf / kmod / aya / libbpf): the
//! /proc scan (`driver::proc_scan`) seeds the state (as libscap's proc scan does before the
//! first event; unknown threads are looked up in /proc later), the driver is started with the
//! syscalls the rules need, and every delivered record goes through the pipeline worker inside
//! the driver's batch callback (no copy). The checks that need the driver counters (drops,
//! snapshots, the scap counters of `/metrics`) run once per batch; `/metrics` starts answering
//! once the driver runs.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::AppError;
use super::drops::{CaptureStats, DropManager};
use super::events::{new_worker, on_drop_verdict, past_duration, signalled};
use super::rules_glue::LoopContext;
use crate::capture::reader::SCAP_DF_STATE_ONLY;
use crate::config::{Config, EngineKind};
use crate::driver::capture::DumpNotice;
use crate::driver::proc_scan;
use crate::driver::{self, Batch, LiveConfig};
use crate::engine::Ruleset;
use crate::event::Event;
use crate::state::State;

/// The driver counters as the drop manager names them.
fn stats_of(d: &dyn driver::Driver) -> CaptureStats {
    d.stats()
        .map(|s| {
            let c = &s.counters;
            CaptureStats {
                n_evts: s.n_evts,
                n_drops: s.n_drops,
                n_drops_buffer: c.n_drops_buffer,
                n_drops_buffer_clone_fork_exit: c.n_drops_buffer_clone_fork_exit,
                n_drops_buffer_execve_exit: c.n_drops_buffer_execve_exit,
                n_drops_buffer_connect_exit: c.n_drops_buffer_connect_exit,
                n_drops_buffer_open_exit: c.n_drops_buffer_open_exit,
                n_drops_buffer_dir_file_exit: c.n_drops_buffer_dir_file_exit,
                n_drops_buffer_other_interest_exit: c.n_drops_buffer_other_interest_exit,
                n_drops_buffer_close_exit: c.n_drops_buffer_close_exit,
                n_drops_buffer_proc_exit: c.n_drops_buffer_proc_exit,
                n_drops_scratch_map: c.n_drops_scratch_map,
                n_drops_pf: c.n_drops_pf,
                n_drops_bug: 0,
            }
        })
        .unwrap_or_default()
}

/// Publishes the scap counters `/metrics` reports.
fn publish(ctx: &LoopContext, drv: &dyn driver::Driver, state: &State) {
    let st = &stats_of(drv);
    let per_cpu = drv
        .per_cpu_counters()
        .iter()
        .map(|c| (c.n_evts, c.n_drops_buffer + c.n_drops_max_event_size))
        .collect();
    let n_fds = state.threads.iter().map(|t| t.fds.len() as u64).sum();
    *ctx.scap_counters.lock().expect("scap counters lock") = Some(crate::metrics::ScapCounters {
        n_threads: state.threads.len() as u64,
        n_fds,
        state: state.parser.counters,
        per_cpu,
        progs: drv
            .prog_stats()
            .into_iter()
            .map(|p| (p.name, p.run_cnt, p.run_time_ns))
            .collect(),
        n_drops_full_threadtable: state.threads.drops_full,
        n_evts: st.n_evts,
        n_drops: st.n_drops,
        n_drops_scratch_map: st.n_drops_scratch_map,
        drops_buffer_exit: [
            st.n_drops_buffer_clone_fork_exit,
            st.n_drops_buffer_execve_exit,
            st.n_drops_buffer_connect_exit,
            st.n_drops_buffer_open_exit,
            st.n_drops_buffer_dir_file_exit,
            st.n_drops_buffer_other_interest_exit,
            st.n_drops_buffer_close_exit,
            st.n_drops_buffer_proc_exit,
        ],
    });
}

/// `Falco internal: timeouts notification` after `max` consecutive driver timeouts.
fn timeouts_notification(max: u64, first_ts: u64) -> crate::output::InternalMsg {
    let rule = "Falco internal: timeouts notification";
    let mut fields = std::collections::BTreeMap::new();
    let last = if first_ts == 0 {
        "none".to_string()
    } else {
        crate::output::format_time_local(first_ts)
    };
    fields.insert("last_event_time".to_string(), serde_json::Value::from(last));
    crate::output::InternalMsg {
        time_ns: crate::output::now_ns(),
        priority: crate::config::Priority::Debug,
        rule: rule.to_string(),
        msg: format!("{rule}. {max} consecutive timeouts without event."),
        fields,
    }
}

/// The syscall names the enabled rules need (the driver adds Falco's base set).
fn rules_syscalls(ruleset: &Ruleset) -> BTreeSet<String> {
    ruleset
        .enabled_codes()
        .iter()
        .filter_map(crate::event::table::name_of)
        .map(str::to_string)
        .collect()
}

/// Runs the live event loop until a signal, a reload, `-M`, or a driver/drop-manager error.
pub fn run_live(cfg: &Config, ruleset: &Ruleset, ctx: &LoopContext) -> Result<(), AppError> {
    let kind = match (cfg.engine.kind, cfg.engine.kind_name.as_str()) {
        (EngineKind::Aya, _) => driver::EngineKind::Aya,
        _ => driver::EngineKind::ModernEbpf,
    };
    if cfg.engine.kind == EngineKind::Kmod {
        ctx.log.warning(
            "engine.kind 'kmod': falco-rs has no kernel module; opening the modern eBPF probe instead",
        );
    }
    let dump = driver::capture::CaptureDump::new(
        &cfg.capture,
        ruleset
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.capture, r.capture_duration_ns)),
    );
    if let Some(d) = &dump {
        ctx.log.info(&d.log_line());
    }
    let mut live_cfg = LiveConfig::from_config(cfg, &rules_syscalls(ruleset));
    live_cfg.toctou_enter =
        driver::toctou_from_env(std::env::var(driver::TOCTOU_ENV).ok().as_deref())
            .map_err(AppError::Fatal)?;
    ctx.log
        .info("Opening 'syscall' source with modern BPF probe.");
    ctx.log.info(&format!(
        "One ring buffer every '{}' CPUs.",
        cfg.engine.buffers.cpus_for_each_buffer
    ));
    if live_cfg.toctou_enter {
        ctx.log.info(&format!(
            "{}: TOCTOU enter events of open, openat, openat2, creat and connect on.",
            driver::TOCTOU_ENV
        ));
    }
    let mut drv = driver::open_live(kind, &live_cfg)
        .map_err(|e| AppError::Fatal(format!("Unable to open the engine: {e}")))?;

    let mut worker = new_worker(cfg, ruleset, ctx)?;
    let mut state = State::new(usize::try_from(cfg.thread_table_size).unwrap_or(usize::MAX));
    let host_root = proc_scan::host_root();
    match proc_scan::metadata(&host_root) {
        Ok(meta) => state.seed_capture(&meta),
        Err(e) => ctx.log.warning(&format!("cannot scan /proc: {e}")),
    }
    state.proc_root = Some(host_root.join("proc"));
    worker.set_state(state);
    drv.start()
        .map_err(|e| AppError::Fatal(format!("Unable to start the engine: {e}")))?;
    // the aya loader parses the kernel BTF (~50 MB) and frees it, and its loaded object is
    // released once the programs are attached
    super::release_free_memory();
    ctx.metrics_ready.store(true, Ordering::SeqCst);

    let mut last_publish = std::time::Instant::now();
    publish(ctx, drv.as_ref(), worker.state());
    let mut drops = DropManager::new(
        &cfg.syscall_event_drops,
        stats_of(drv.as_ref()),
        true,
        crate::output::now_ns(),
    );
    let mut emit = |a: crate::output::Alert| {
        if let Some(d) = &dump {
            d.on_match(&a.rule);
        }
        ctx.emitter.alert(&a)
    };
    let cpu_start = super::events::cpu_seconds();
    let mut first_ts = 0u64;
    let mut last_ts = 0u64;
    let mut num_evts = 0u64;
    let mut timeouts = 0u64;
    let mut result = Ok(());
    let mut stop = false;
    while !stop {
        if signalled(ctx) {
            break;
        }
        let evts_before = num_evts;
        // Records are processed where the driver delivers them (no copy); the driver is
        // borrowed meanwhile, so the checks that read its counters run after the batch.
        let batch = drv.next_batch(Duration::from_millis(100), &mut |raw| {
            if stop {
                return; // -M was reached earlier in this batch
            }
            let Ok(ev) = Event::decode(raw.data) else {
                return;
            };
            let ts = ev.ts();
            if first_ts == 0 {
                first_ts = ts;
            } else if past_duration(ctx.duration_s, first_ts, ts) {
                stop = true;
                return;
            }
            last_ts = ts;
            num_evts += 1;
            worker.on_event(&ev, raw.cpu, raw.flags & SCAP_DF_STATE_ONLY != 0, &mut emit);
            match dump
                .as_ref()
                .and_then(|d| d.after_event(&raw, ts, worker.state()))
            {
                Some(DumpNotice::SizeLimit(m)) => ctx.emitter.internal(&m),
                Some(DumpNotice::Failed(e)) => ctx.log.error(&format!("{e}\n")),
                None => {}
            }
        });
        if last_publish.elapsed() >= Duration::from_secs(1) {
            last_publish = std::time::Instant::now();
            publish(ctx, drv.as_ref(), worker.state());
        }
        match batch {
            Ok(Batch::Events(_)) => timeouts = 0,
            Ok(Batch::Timeout) => {
                timeouts += 1;
                if timeouts > cfg.syscall_event_timeouts_max_consecutives {
                    ctx.emitter.internal(&timeouts_notification(
                        cfg.syscall_event_timeouts_max_consecutives,
                        first_ts,
                    ));
                    timeouts = 0;
                }
                continue;
            }
            Ok(Batch::Eof) => break,
            Err(e) => {
                result = Err(AppError::Fatal(e.to_string()));
                break;
            }
        }
        if num_evts == evts_before {
            continue;
        }
        if let Some(s) = ctx.snapshots.borrow_mut().as_mut() {
            let drv = drv.as_ref();
            s.on_event(
                num_evts,
                || {
                    let st = stats_of(drv);
                    Some((st.n_evts, st.n_drops))
                },
                &ctx.emitter,
            );
        }
        if let Err(e) = on_drop_verdict(
            drops.process_event(last_ts, || stats_of(drv.as_ref()), &ctx.log),
            ctx,
        ) {
            result = Err(e);
            break;
        }
    }
    drv.stop();
    if let Some(Err(e)) = dump.as_ref().map(|d| d.close()) {
        ctx.log.error(&format!("{e}\n"));
    }
    if ctx.verbose
        && let Ok(s) = drv.stats()
    {
        eprint!("Driver Events:{}\nDriver Drops:{}\n", s.n_evts, s.n_drops);
    }
    if ctx.verbose {
        eprint!(
            "{}",
            super::events::elapsed_line("syscall", cpu_start, num_evts)
        );
    }
    eprint!("{}", drops.format_stats());
    result
}
