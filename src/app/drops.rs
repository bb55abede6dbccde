//! Syscall event drop monitoring (`syscall_evt_drop_mgr`, `event_drops.cpp`): once per second
//! of event time the driver's counters are compared with the previous check; when the drop
//! ratio exceeds `syscall_event_drops.threshold` an occurrence is counted and, if the token
//! bucket (`rate`, `max_burst`) has a token, the configured actions run: `log` (DEBUG line),
//! `alert` (the `Falco internal: syscall event drop` message), `exit` (CRIT lines, then the
//! event loop fails). The event loop feeds it; it knows nothing about drivers.

use std::collections::BTreeMap;

use serde_json::Value;

use super::log::{Level, Logger};
use crate::config::{DropAction, Priority, SyscallEventDrops};
use crate::output::InternalMsg;

const ONE_SECOND_NS: u64 = 1_000_000_000;

/// The driver counters the check compares (`scap_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub n_evts: u64,
    pub n_drops: u64,
    pub n_drops_buffer: u64,
    pub n_drops_buffer_clone_fork_exit: u64,
    pub n_drops_buffer_execve_exit: u64,
    pub n_drops_buffer_connect_exit: u64,
    pub n_drops_buffer_open_exit: u64,
    pub n_drops_buffer_dir_file_exit: u64,
    pub n_drops_buffer_other_interest_exit: u64,
    pub n_drops_buffer_close_exit: u64,
    pub n_drops_buffer_proc_exit: u64,
    pub n_drops_scratch_map: u64,
    pub n_drops_pf: u64,
    pub n_drops_bug: u64,
}

impl CaptureStats {
    fn delta(&self, prev: &CaptureStats) -> CaptureStats {
        CaptureStats {
            n_evts: self.n_evts.wrapping_sub(prev.n_evts),
            n_drops: self.n_drops.wrapping_sub(prev.n_drops),
            n_drops_buffer: self.n_drops_buffer.wrapping_sub(prev.n_drops_buffer),
            n_drops_buffer_clone_fork_exit: self
                .n_drops_buffer_clone_fork_exit
                .wrapping_sub(prev.n_drops_buffer_clone_fork_exit),
            n_drops_buffer_execve_exit: self
                .n_drops_buffer_execve_exit
                .wrapping_sub(prev.n_drops_buffer_execve_exit),
            n_drops_buffer_connect_exit: self
                .n_drops_buffer_connect_exit
                .wrapping_sub(prev.n_drops_buffer_connect_exit),
            n_drops_buffer_open_exit: self
                .n_drops_buffer_open_exit
                .wrapping_sub(prev.n_drops_buffer_open_exit),
            n_drops_buffer_dir_file_exit: self
                .n_drops_buffer_dir_file_exit
                .wrapping_sub(prev.n_drops_buffer_dir_file_exit),
            n_drops_buffer_other_interest_exit: self
                .n_drops_buffer_other_interest_exit
                .wrapping_sub(prev.n_drops_buffer_other_interest_exit),
            n_drops_buffer_close_exit: self
                .n_drops_buffer_close_exit
                .wrapping_sub(prev.n_drops_buffer_close_exit),
            n_drops_buffer_proc_exit: self
                .n_drops_buffer_proc_exit
                .wrapping_sub(prev.n_drops_buffer_proc_exit),
            n_drops_scratch_map: self
                .n_drops_scratch_map
                .wrapping_sub(prev.n_drops_scratch_map),
            n_drops_pf: self.n_drops_pf.wrapping_sub(prev.n_drops_pf),
            n_drops_bug: self.n_drops_bug.wrapping_sub(prev.n_drops_bug),
        }
    }
}

/// libsinsp's token bucket: starts full, refills `rate` tokens per second up to `max_tokens`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    max_tokens: f64,
    tokens: f64,
    last_seen: u64,
}

impl TokenBucket {
    pub fn new(rate: f64, max_tokens: f64, now_ns: u64) -> TokenBucket {
        TokenBucket {
            rate,
            max_tokens,
            tokens: max_tokens,
            last_seen: now_ns,
        }
    }

    /// Takes `tokens` if available at time `now_ns`.
    pub fn claim(&mut self, tokens: f64, now_ns: u64) -> bool {
        let gained = self.rate * (now_ns.wrapping_sub(self.last_seen) as f64 / 1e9);
        self.last_seen = now_ns;
        self.tokens = (self.tokens + gained).min(self.max_tokens);
        if self.tokens < tokens {
            return false;
        }
        self.tokens -= tokens;
        true
    }
}

/// What one check asks the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum DropVerdict {
    /// Keep going.
    Continue,
    /// Keep going and emit this internal message.
    Alert(InternalMsg),
    /// The `exit` action: stop with `Drop manager internal error`.
    Exit(Option<InternalMsg>),
}

/// The drop manager of one run.
#[derive(Debug)]
pub struct DropManager {
    actions: Vec<DropAction>,
    threshold: f64,
    simulate: bool,
    bucket: TokenBucket,
    last: CaptureStats,
    next_check_ts: u64,
    modern_bpf: bool,
    /// Occurrences of a drop ratio above the threshold.
    pub num_drop_occurrences: u64,
    /// Times the actions ran.
    pub num_actions: u64,
}

impl DropManager {
    /// `now_ns` is the wall clock when the sources open (the bucket's start time).
    pub fn new(
        cfg: &SyscallEventDrops,
        initial: CaptureStats,
        modern_bpf: bool,
        now_ns: u64,
    ) -> DropManager {
        DropManager {
            actions: cfg.actions.clone(),
            threshold: if cfg.simulate_drops {
                0.0
            } else {
                cfg.threshold
            },
            simulate: cfg.simulate_drops,
            bucket: TokenBucket::new(cfg.rate, cfg.max_burst, now_ns),
            last: initial,
            next_check_ts: 0,
            modern_bpf,
            num_drop_occurrences: 0,
            num_actions: 0,
        }
    }

    /// Called for every event with its timestamp; `stats` reads the driver counters only when
    /// a check is due.
    pub fn process_event(
        &mut self,
        evt_ts: u64,
        stats: impl FnOnce() -> CaptureStats,
        log: &Logger,
    ) -> DropVerdict {
        if self.next_check_ts == 0 {
            self.next_check_ts = evt_ts.saturating_add(ONE_SECOND_NS);
        }
        if self.next_check_ts >= evt_ts {
            return DropVerdict::Continue;
        }
        self.next_check_ts = evt_ts.saturating_add(ONE_SECOND_NS);
        let now = stats();
        let mut delta = now.delta(&self.last);
        self.last = now;
        if self.simulate {
            log.info("Simulating syscall event drop");
            delta.n_drops += 1;
        }
        if delta.n_drops == 0 {
            return DropVerdict::Continue;
        }
        let ratio = delta.n_drops as f64 / delta.n_evts as f64;
        if ratio <= self.threshold {
            return DropVerdict::Continue;
        }
        self.num_drop_occurrences += 1;
        if !self.bucket.claim(1.0, evt_ts) {
            log.debug("Syscall event drop but token bucket depleted, skipping actions");
            return DropVerdict::Continue;
        }
        self.num_actions += 1;
        self.perform_actions(evt_ts, &delta, log)
    }

    fn perform_actions(&self, now: u64, delta: &CaptureStats, log: &Logger) -> DropVerdict {
        let rule = "Falco internal: syscall event drop";
        let msg = format!(
            "{rule}. {} system calls dropped in last second.",
            delta.n_drops
        );
        let mut alert = None;
        let mut exit = false;
        for act in &self.actions {
            match act {
                DropAction::Ignore => {}
                DropAction::Log => log.log(Level::Debug, &msg),
                DropAction::Alert => {
                    let s = |v: u64| Value::from(v.to_string());
                    let mut f = BTreeMap::new();
                    f.insert("n_evts".to_string(), s(delta.n_evts));
                    f.insert("n_drops".to_string(), s(delta.n_drops));
                    f.insert("n_drops_buffer_total".to_string(), s(delta.n_drops_buffer));
                    f.insert(
                        "n_drops_buffer_clone_fork_exit".to_string(),
                        s(delta.n_drops_buffer_clone_fork_exit),
                    );
                    f.insert(
                        "n_drops_buffer_execve_exit".to_string(),
                        s(delta.n_drops_buffer_execve_exit),
                    );
                    f.insert(
                        "n_drops_buffer_connect_exit".to_string(),
                        s(delta.n_drops_buffer_connect_exit),
                    );
                    f.insert(
                        "n_drops_buffer_open_exit".to_string(),
                        s(delta.n_drops_buffer_open_exit),
                    );
                    f.insert(
                        "n_drops_buffer_dir_file_exit".to_string(),
                        s(delta.n_drops_buffer_dir_file_exit),
                    );
                    f.insert(
                        "n_drops_buffer_other_interest_exit".to_string(),
                        s(delta.n_drops_buffer_other_interest_exit),
                    );
                    f.insert(
                        "n_drops_buffer_close_exit".to_string(),
                        s(delta.n_drops_buffer_close_exit),
                    );
                    f.insert(
                        "n_drops_buffer_proc_exit".to_string(),
                        s(delta.n_drops_buffer_proc_exit),
                    );
                    f.insert(
                        "n_drops_scratch_map".to_string(),
                        s(delta.n_drops_scratch_map),
                    );
                    f.insert("n_drops_page_faults".to_string(), s(delta.n_drops_pf));
                    f.insert("n_drops_bug".to_string(), s(delta.n_drops_bug));
                    f.insert(
                        "ebpf_enabled".to_string(),
                        Value::from(if self.modern_bpf { "1" } else { "0" }),
                    );
                    alert = Some(InternalMsg {
                        time_ns: now,
                        priority: Priority::Debug,
                        rule: rule.to_string(),
                        msg: msg.clone(),
                        fields: f,
                    });
                }
                DropAction::Exit => {
                    log.log(Level::Critical, &msg);
                    log.log(Level::Critical, "Exiting.");
                    exit = true;
                }
            }
        }
        match (exit, alert) {
            (true, a) => DropVerdict::Exit(a),
            (false, Some(a)) => DropVerdict::Alert(a),
            (false, None) => DropVerdict::Continue,
        }
    }

    /// The block printed on stderr at the end of the event loop.
    pub fn format_stats(&self) -> String {
        format!(
            "Syscall event drop monitoring:\n   - event drop detected: {} occurrences\n   - num times actions taken: {}\n",
            self.num_drop_occurrences, self.num_actions
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Logger {
        Logger {
            stderr: false,
            syslog: false,
            ..Logger::default()
        }
    }

    fn cfg(actions: &[DropAction]) -> SyscallEventDrops {
        SyscallEventDrops {
            actions: actions.to_vec(),
            threshold: 0.1,
            rate: 0.03333,
            max_burst: 1.0,
            simulate_drops: false,
        }
    }

    fn stats(evts: u64, drops: u64) -> CaptureStats {
        CaptureStats {
            n_evts: evts,
            n_drops: drops,
            n_drops_buffer: drops,
            n_drops_buffer_open_exit: drops,
            ..CaptureStats::default()
        }
    }

    const T0: u64 = 1_000 * ONE_SECOND_NS;

    #[test]
    fn checks_once_per_second_of_event_time() {
        let mut m = DropManager::new(&cfg(&[DropAction::Alert]), stats(0, 0), true, T0);
        // First event arms the check; nothing is read before a second has passed.
        assert_eq!(
            m.process_event(T0, || panic!("not due"), &quiet()),
            DropVerdict::Continue
        );
        assert_eq!(
            m.process_event(T0 + ONE_SECOND_NS, || panic!("not due"), &quiet()),
            DropVerdict::Continue
        );
        let v = m.process_event(T0 + ONE_SECOND_NS + 1, || stats(100, 20), &quiet());
        let DropVerdict::Alert(msg) = v else {
            panic!("{v:?}")
        };
        assert_eq!(msg.rule, "Falco internal: syscall event drop");
        assert_eq!(
            msg.msg,
            "Falco internal: syscall event drop. 20 system calls dropped in last second."
        );
        assert_eq!(msg.priority, Priority::Debug);
        assert_eq!(msg.fields["n_drops"], Value::from("20"));
        assert_eq!(msg.fields["n_drops_buffer_open_exit"], Value::from("20"));
        assert_eq!(msg.fields["ebpf_enabled"], Value::from("1"));
        assert_eq!(msg.fields.len(), 15);
        assert_eq!((m.num_drop_occurrences, m.num_actions), (1, 1));
    }

    #[test]
    fn threshold_and_token_bucket() {
        let mut m = DropManager::new(
            &cfg(&[DropAction::Log, DropAction::Alert]),
            stats(0, 0),
            false,
            T0,
        );
        m.process_event(T0, || panic!("arming"), &quiet());
        let mut t = T0;
        let mut feed = |m: &mut DropManager, evts, drops| {
            t += ONE_SECOND_NS + 1;
            m.process_event(t, || stats(evts, drops), &quiet())
        };
        // 5% of drops: below the 10% threshold.
        assert_eq!(feed(&mut m, 100, 5), DropVerdict::Continue);
        assert_eq!(m.num_drop_occurrences, 0);
        // Above: the bucket starts full (1 token), so the first occurrence acts...
        assert!(matches!(feed(&mut m, 200, 50), DropVerdict::Alert(_)));
        // ...and the next one, 1 s later, finds it empty (0.03333 tokens/s).
        assert_eq!(feed(&mut m, 300, 100), DropVerdict::Continue);
        assert_eq!((m.num_drop_occurrences, m.num_actions), (2, 1));
        assert_eq!(
            m.format_stats(),
            "Syscall event drop monitoring:\n   - event drop detected: 2 occurrences\n   - num times actions taken: 1\n"
        );
    }

    #[test]
    fn exit_and_simulate() {
        let mut c = cfg(&[DropAction::Exit]);
        c.simulate_drops = true;
        let mut m = DropManager::new(&c, stats(0, 0), false, T0);
        m.process_event(T0, || panic!("arming"), &quiet());
        let v = m.process_event(T0 + 2 * ONE_SECOND_NS, || stats(1000, 0), &quiet());
        assert_eq!(v, DropVerdict::Exit(None));
    }

    #[test]
    fn bucket_refills() {
        let mut b = TokenBucket::new(1.0, 2.0, 0);
        assert!(b.claim(1.0, 0));
        assert!(b.claim(1.0, 0));
        assert!(!b.claim(1.0, 0));
        assert!(b.claim(1.0, ONE_SECOND_NS));
        assert!(!b.claim(1.0, ONE_SECOND_NS));
    }
}
