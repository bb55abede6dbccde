//! The event loop over a live driver (`engine.kind` modern_ebpf / kmod / aya / libbpf): the
//! /proc scan seeds the state (as libscap's proc scan does before the first event), the driver
//! is started with the syscalls the rules need, and every delivered record is parsed, matched
//! and emitted. Drops are checked once per second of event time against the driver counters;
//! `/metrics` starts answering once the driver runs.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::AppError;
use super::drops::{CaptureStats, DropManager, DropVerdict};
use super::events::{add_extra_fields, alert, compile_extra_fields};
use super::rules_glue::LoopContext;
use crate::capture::records::{FdInfo, FdRecord, Metadata, ThreadRecord, fd_type};
use crate::config::{Config, EngineKind, RuleMatching};
use crate::driver::proc_scan::{self, FdKind, ProcEntry};
use crate::driver::{self, Batch, LiveConfig};
use crate::engine::{Matching, Ruleset, Scratch};
use crate::event::Event;
use crate::fields::extract::Extractor;
use crate::state::State;

const ONE_SECOND_NS: u64 = 1_000_000_000;

fn nul_joined<S: AsRef<str>>(items: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in items {
        out.extend_from_slice(i.as_ref().as_bytes());
        out.push(0);
    }
    out
}

/// The process table of a /proc scan as the capture metadata the state seeds from.
pub fn metadata_from_proc(entries: &[ProcEntry]) -> Metadata {
    let mut meta = Metadata::default();
    for p in entries {
        let cgroups: Vec<String> = p.cgroups.iter().map(|(k, v)| format!("{k}={v}")).collect();
        meta.threads.push(ThreadRecord {
            tid: p.tid as u64,
            pid: p.pid as u64,
            ptid: p.ptid as u64,
            sid: p.sid,
            vpgid: p.pgid,
            pgid: p.pgid,
            comm: p.comm.clone(),
            exe: p.exe.clone(),
            exepath: p.exepath.clone(),
            args: nul_joined(&p.args),
            cwd: p.cwd.clone(),
            fdlimit: p.fdlimit,
            uid: p.uid,
            gid: p.gid,
            vmsize_kb: p.vm_size_kb,
            vmrss_kb: p.vm_rss_kb,
            vmswap_kb: p.vm_swap_kb,
            env: nul_joined(&p.env),
            vtid: p.vtid,
            vpid: p.vpid,
            cgroups: nul_joined(&cgroups),
            root: "/".to_string(),
            tty: p.tty,
            loginuid: p.loginuid,
            cap_inheritable: p.cap_inheritable,
            cap_permitted: p.cap_permitted,
            cap_effective: p.cap_effective,
            ..ThreadRecord::default()
        });
        for f in &p.fds {
            let (ty, info) = match f.kind {
                FdKind::File | FdKind::Memfd => (
                    fd_type::FILE_V2,
                    FdInfo::File {
                        open_flags: 0,
                        name: f.name.clone(),
                        dev: 0,
                    },
                ),
                FdKind::Directory => (
                    fd_type::DIRECTORY,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                FdKind::Pipe => (
                    fd_type::FIFO,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                FdKind::EventFd => (
                    fd_type::EVENT,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                FdKind::SignalFd => (
                    fd_type::SIGNALFD,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                FdKind::EventPoll => (
                    fd_type::EVENTPOLL,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                FdKind::Inotify => (
                    fd_type::INOTIFY,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                FdKind::TimerFd => (
                    fd_type::TIMERFD,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                FdKind::Bpf => (
                    fd_type::BPF,
                    FdInfo::Named {
                        name: f.name.clone(),
                    },
                ),
                // Sockets need /proc/net to resolve their endpoints; they are learnt from events.
                FdKind::Socket | FdKind::Other => continue,
            };
            meta.fds.push((
                p.tid as u64,
                FdRecord {
                    fd: f.fd,
                    ino: f.ino,
                    fd_type: ty,
                    info,
                },
            ));
        }
    }
    meta
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
    let live_cfg = LiveConfig::from_config(cfg, &rules_syscalls(ruleset));
    ctx.log
        .info("Opening 'syscall' source with modern BPF probe.");
    ctx.log.info(&format!(
        "One ring buffer every '{}' CPUs.",
        cfg.engine.buffers.cpus_for_each_buffer
    ));
    let drv = driver::open_live(kind, &live_cfg)
        .map_err(|e| AppError::Fatal(format!("Unable to open the engine: {e}")))?;
    let mut drv = driver::capture::tee_if_enabled(drv, &cfg.capture)
        .map_err(|e| AppError::Fatal(format!("Unable to open the capture file: {e}")))?;

    let table_size = usize::try_from(cfg.thread_table_size).unwrap_or(usize::MAX);
    let mut state = State::new(table_size);
    match proc_scan::scan(&proc_scan::host_root()) {
        Ok(entries) => state.seed_capture(&metadata_from_proc(&entries)),
        Err(e) => ctx.log.warning(&format!("cannot scan /proc: {e}")),
    }
    drv.start()
        .map_err(|e| AppError::Fatal(format!("Unable to start the engine: {e}")))?;
    ctx.metrics_ready.store(true, Ordering::SeqCst);

    let mode = match cfg.rule_matching {
        RuleMatching::First => Matching::First,
        RuleMatching::All => Matching::All,
    };
    let extra_fields = compile_extra_fields(cfg, ruleset)?;
    let stats_of = |d: &dyn driver::Driver| -> CaptureStats {
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
    };
    let publish = |st: &CaptureStats, state: &State| {
        let n_fds = state.threads.iter().map(|t| t.fds.len() as u64).sum();
        *ctx.scap_counters.lock().expect("scap counters lock") =
            Some(crate::metrics::ScapCounters {
                n_threads: state.threads.len() as u64,
                n_fds,
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
    };
    let mut last_publish = std::time::Instant::now();
    publish(&stats_of(drv.as_ref()), &state);
    let mut drops = DropManager::new(
        &cfg.syscall_event_drops,
        stats_of(drv.as_ref()),
        true,
        crate::output::now_ns(),
    );
    let mut scratch = Scratch::new();
    let mut matched = Vec::new();
    let cpu_start = super::events::cpu_seconds();
    let mut bytes: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut records: Vec<(u16, u32, usize, usize)> = Vec::with_capacity(4096);
    let mut first_ts = 0u64;
    let mut num_evts = 0u64;
    let mut timeouts = 0u64;
    let mut result = Ok(());
    let mut stop = false;
    while !stop {
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
        // One batch is copied into buffers reused across batches (no allocation per event once
        // they have grown): the driver is borrowed by `next_batch` while it delivers.
        bytes.clear();
        records.clear();
        let batch = drv.next_batch(Duration::from_millis(100), &mut |raw| {
            let start = bytes.len();
            bytes.extend_from_slice(raw.data);
            records.push((raw.cpu, raw.flags, start, bytes.len()));
        });
        if last_publish.elapsed() >= Duration::from_secs(1) {
            last_publish = std::time::Instant::now();
            publish(&stats_of(drv.as_ref()), &state);
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
        for &(cpu, flags, start, end) in &records {
            let Ok(ev) = Event::decode(&bytes[start..end]) else {
                continue;
            };
            let ts = ev.ts();
            if first_ts == 0 {
                first_ts = ts;
            } else if ctx.duration_s > 0
                && (ts.saturating_sub(first_ts) / ONE_SECOND_NS) as i64 >= ctx.duration_s
            {
                stop = true;
                break;
            }
            let mut ectx = state.process(&ev);
            ectx.cpu = cpu;
            num_evts += 1;
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
            match drops.process_event(ts, || stats_of(drv.as_ref()), &ctx.log) {
                DropVerdict::Continue => {}
                DropVerdict::Alert(msg) => ctx.emitter.internal(&msg),
                DropVerdict::Exit(msg) => {
                    if let Some(m) = msg {
                        ctx.emitter.internal(&m);
                    }
                    result = Err(AppError::Fatal("Drop manager internal error".into()));
                    stop = true;
                    break;
                }
            }
            if flags & 1 != 0
                || ectx.filtered_out
                || crate::event::table::is_parse_only_enter(ev.event_type())
            {
                continue;
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
    }
    drv.stop();
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
