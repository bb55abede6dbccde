//! The outputs queue (`falco_outputs`): alerts and internal messages are formatted by the
//! caller's thread, queued, and delivered by one worker thread to every sink in order. The
//! queue is bounded by `outputs_queue.capacity` (0: unbounded); a message that does not fit
//! is dropped and counted (`falco.outputs_queue_num_drops`), never silently lost. A watchdog
//! logs when a sink call takes longer than `output_timeout`; shutdown flushes for at most
//! `output_timeout`, then gives up on blocked channels.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::sinks::Sink;
use crate::app::log::{Level, Logger};
use crate::config::Priority;

enum Ctrl {
    Output { msg: String, priority: Priority },
    Reopen,
    Stop,
}

/// Counters shared between the queue, the worker and the metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages waiting in the queue.
    pub queued: AtomicUsize,
    /// Messages dropped because the queue was full.
    pub drops: AtomicU64,
    /// Messages delivered to every sink.
    pub delivered: AtomicU64,
    /// Sink calls that failed.
    pub errors: AtomicU64,
}

/// A cloneable handle to push messages (used by the event loop and the reload watcher).
#[derive(Clone)]
pub struct OutputsHandle {
    tx: Sender<Ctrl>,
    capacity: usize,
    counters: Arc<Counters>,
    logger: Logger,
    logged_full: Arc<AtomicBool>,
}

impl OutputsHandle {
    /// Queues one formatted message; returns false (and counts a drop) when the queue is full.
    pub fn push(&self, msg: String, priority: Priority) -> bool {
        let queued = self.counters.queued.fetch_add(1, Ordering::SeqCst);
        if queued >= self.capacity {
            self.counters.queued.fetch_sub(1, Ordering::SeqCst);
            self.counters.drops.fetch_add(1, Ordering::SeqCst);
            if !self.logged_full.swap(true, Ordering::SeqCst) {
                self.logger.log(
                    Level::Error,
                    "Outputs queue out of memory. Drop event and continue on ...",
                );
            }
            return false;
        }
        if self.tx.send(Ctrl::Output { msg, priority }).is_err() {
            self.counters.queued.fetch_sub(1, Ordering::SeqCst);
            self.counters.drops.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// SIGUSR1: reopen file and program outputs.
    pub fn reopen(&self) {
        let _ = self.tx.send(Ctrl::Reopen);
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}

/// The outputs worker and its queue.
pub struct Outputs {
    handle: OutputsHandle,
    worker: Option<JoinHandle<()>>,
    watchdog: Option<JoinHandle<()>>,
    stop_watchdog: Arc<AtomicBool>,
    timeout: Duration,
    logger: Logger,
}

/// What the watchdog sees: the sink being called and since when.
type Busy = Arc<Mutex<Option<(&'static str, Instant)>>>;

impl Outputs {
    /// Starts the worker over `sinks`. `capacity` is the resolved queue bound (`usize::MAX`
    /// for unbounded).
    pub fn start(
        sinks: Vec<Box<dyn Sink>>,
        capacity: usize,
        timeout: Duration,
        logger: Logger,
    ) -> Outputs {
        let (tx, rx) = channel();
        let counters = Arc::new(Counters::default());
        let busy: Busy = Arc::new(Mutex::new(None));
        let worker = {
            let counters = Arc::clone(&counters);
            let logger = logger.clone();
            let busy = Arc::clone(&busy);
            std::thread::Builder::new()
                .name("falco-outputs".into())
                .spawn(move || worker(rx, sinks, &counters, &logger, &busy))
                .expect("spawn outputs worker")
        };
        let stop_watchdog = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let stop = Arc::clone(&stop_watchdog);
            let logger = logger.clone();
            std::thread::Builder::new()
                .name("falco-outputs-watchdog".into())
                .spawn(move || watchdog(&busy, timeout, &stop, &logger))
                .expect("spawn outputs watchdog")
        };
        Outputs {
            handle: OutputsHandle {
                tx,
                capacity,
                counters,
                logger: logger.clone(),
                logged_full: Arc::new(AtomicBool::new(false)),
            },
            worker: Some(worker),
            watchdog: Some(watchdog),
            stop_watchdog,
            timeout,
            logger,
        }
    }

    pub fn handle(&self) -> OutputsHandle {
        self.handle.clone()
    }

    /// Delivers what is queued (waiting at most `output_timeout`) and stops the worker.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.handle.tx.send(Ctrl::Stop);
        if let Some(worker) = self.worker.take() {
            let deadline = Instant::now() + self.timeout;
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if worker.is_finished() {
                let _ = worker.join();
            } else {
                self.logger.log(
                    Level::Notice,
                    "output channels still blocked, discarding all remaining notifications",
                );
            }
        }
        self.stop_watchdog.store(true, Ordering::SeqCst);
        if let Some(w) = self.watchdog.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        if self.worker.is_some() {
            self.shutdown();
        }
    }
}

fn worker(
    rx: Receiver<Ctrl>,
    mut sinks: Vec<Box<dyn Sink>>,
    counters: &Counters,
    logger: &Logger,
    busy: &Busy,
) {
    for ctrl in rx {
        match ctrl {
            Ctrl::Output { msg, priority } => {
                counters.queued.fetch_sub(1, Ordering::SeqCst);
                let mut ok = true;
                for sink in sinks.iter_mut() {
                    *busy.lock().expect("busy lock") = Some((sink.name(), Instant::now()));
                    if let Err(e) = sink.emit(&msg, priority) {
                        ok = false;
                        counters.errors.fetch_add(1, Ordering::SeqCst);
                        logger.log(Level::Error, &format!("{}: {e}", sink.name()));
                    }
                    *busy.lock().expect("busy lock") = None;
                }
                if ok {
                    counters.delivered.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ctrl::Reopen => {
                for sink in sinks.iter_mut() {
                    if let Err(e) = sink.reopen() {
                        logger.log(Level::Error, &format!("{}: {e}", sink.name()));
                    }
                }
            }
            Ctrl::Stop => break,
        }
    }
    for sink in sinks.iter_mut() {
        let _ = sink.flush();
    }
}

fn watchdog(busy: &Busy, timeout: Duration, stop: &AtomicBool, logger: &Logger) {
    let mut reported: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20).min(timeout.max(Duration::from_millis(1))));
        let current = *busy.lock().expect("busy lock");
        if let Some((name, since)) = current
            && since.elapsed() >= timeout
            && reported != Some(since)
        {
            reported = Some(since);
            logger.log(
                Level::Critical,
                &format!("\"{name}\" output timeout, all output channels are blocked"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::sinks::SinkError;

    /// A sink that records messages into a shared buffer and can be made slow.
    struct Recorder {
        out: Arc<Mutex<Vec<String>>>,
        delay: Duration,
    }

    impl Sink for Recorder {
        fn name(&self) -> &'static str {
            "program"
        }
        fn emit(&mut self, msg: &str, _: Priority) -> Result<(), SinkError> {
            std::thread::sleep(self.delay);
            self.out.lock().unwrap().push(msg.to_string());
            Ok(())
        }
        fn reopen(&mut self) -> Result<(), SinkError> {
            self.out.lock().unwrap().push("<reopen>".into());
            Ok(())
        }
    }

    fn quiet() -> Logger {
        Logger {
            stderr: false,
            syslog: false,
            ..Logger::default()
        }
    }

    #[test]
    fn delivers_in_order_and_reopens() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = Outputs::start(
            vec![Box::new(Recorder {
                out: Arc::clone(&out),
                delay: Duration::ZERO,
            })],
            usize::MAX,
            Duration::from_secs(2),
            quiet(),
        );
        let h = o.handle();
        assert!(h.push("a".into(), Priority::Warning));
        h.reopen();
        assert!(h.push("b".into(), Priority::Warning));
        o.stop();
        assert_eq!(*out.lock().unwrap(), ["a", "<reopen>", "b"]);
        assert_eq!(h.counters().delivered.load(Ordering::SeqCst), 2);
        assert_eq!(h.counters().drops.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn full_queue_drops_are_counted_and_do_not_block() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = Outputs::start(
            vec![Box::new(Recorder {
                out: Arc::clone(&out),
                delay: Duration::from_millis(200),
            })],
            2,
            Duration::from_secs(5),
            quiet(),
        );
        let h = o.handle();
        let start = Instant::now();
        let accepted = (0..10)
            .filter(|i| h.push(format!("m{i}"), Priority::Warning))
            .count();
        assert!(start.elapsed() < Duration::from_millis(150), "push blocked");
        let drops = h.counters().drops.load(Ordering::SeqCst);
        assert_eq!(accepted as u64 + drops, 10);
        assert!(drops >= 7, "drops={drops}");
        o.stop();
        assert_eq!(out.lock().unwrap().len(), accepted);
    }

    #[test]
    fn shutdown_gives_up_on_a_blocked_sink() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = Outputs::start(
            vec![Box::new(Recorder {
                out,
                delay: Duration::from_secs(3),
            })],
            usize::MAX,
            Duration::from_millis(100),
            quiet(),
        );
        o.handle().push("slow".into(), Priority::Warning);
        let start = Instant::now();
        o.stop();
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
