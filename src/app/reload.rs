//! The restart handler (`restart_handler.cpp`): watches the loaded config and rules files
//! (`IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF`) and their directories (`IN_CREATE |
//! IN_DELETE | IN_MOVE`) with inotify; a change (or a forced check after SIGHUP) arms a
//! check, and after 100 ms without further changes a dry run of the whole app validates the
//! new configuration. Success (and another quiet 100 ms) requests the restart; failure keeps
//! the running configuration and reports the error through `on_failure`.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// Restart-handler failures, worded as Falco's.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("could not initialize inotify handler")]
    Init(#[source] nix::Error),
    #[error("could not watch file: {path}")]
    WatchFile {
        path: String,
        #[source]
        source: nix::Error,
    },
    #[error("could not watch directory: {path}")]
    WatchDir {
        path: String,
        #[source]
        source: nix::Error,
    },
}

/// A running watcher thread.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    force: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const QUIET: Duration = Duration::from_millis(100);

impl Watcher {
    /// Starts watching. `validate` runs the dry run (true when the new configuration is
    /// valid); `on_success` requests the restart; `on_failure` gets the error text.
    /// Returns `Ok(None)` when there is nothing to watch (Falco logs this at DEBUG and runs
    /// no handler, so SIGHUP does nothing).
    pub fn start(
        files: &[String],
        dirs: &[String],
        validate: impl Fn() -> Result<(), String> + Send + 'static,
        on_success: impl Fn() + Send + 'static,
        on_failure: impl Fn(String) + Send + 'static,
    ) -> Result<Option<Watcher>, ReloadError> {
        if files.is_empty() && dirs.is_empty() {
            return Ok(None);
        }
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(ReloadError::Init)?;
        for f in files {
            inotify
                .add_watch(
                    f.as_str(),
                    AddWatchFlags::IN_CLOSE_WRITE
                        | AddWatchFlags::IN_MOVE_SELF
                        | AddWatchFlags::IN_DELETE_SELF,
                )
                .map_err(|source| ReloadError::WatchFile {
                    path: f.clone(),
                    source,
                })?;
        }
        for d in dirs {
            inotify
                .add_watch(
                    d.as_str(),
                    AddWatchFlags::IN_CREATE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVE,
                )
                .map_err(|source| ReloadError::WatchDir {
                    path: d.clone(),
                    source,
                })?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let force = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            let force = Arc::clone(&force);
            std::thread::Builder::new()
                .name("falco-restart-handler".into())
                .spawn(move || {
                    watch_loop(&inotify, &stop, &force, &validate, &on_success, &on_failure)
                })
                .expect("spawn restart handler")
        };
        Ok(Some(Watcher {
            stop,
            force,
            thread: Some(thread),
        }))
    }

    /// SIGHUP: check (and restart) as if a watched file had changed.
    pub fn trigger(&self) {
        self.force.store(true, Ordering::SeqCst);
    }

    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}

fn watch_loop(
    inotify: &Inotify,
    stop: &AtomicBool,
    force: &AtomicBool,
    validate: &dyn Fn() -> Result<(), String>,
    on_success: &dyn Fn(),
    on_failure: &dyn Fn(String),
) {
    // When a change was last seen, and whether a validated restart is pending.
    let mut armed_at: Option<Instant> = None;
    let mut validated_at: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(100u16));
        let mut changed = false;
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            changed = true;
        }
        if force.swap(false, Ordering::SeqCst) {
            changed = true;
        }
        if changed {
            armed_at = Some(Instant::now());
            validated_at = None;
            continue;
        }
        if let Some(t) = validated_at
            && t.elapsed() >= QUIET
        {
            on_success();
            return;
        }
        if let Some(t) = armed_at
            && t.elapsed() >= QUIET
        {
            armed_at = None;
            match validate() {
                Ok(()) => validated_at = Some(Instant::now()),
                Err(e) => on_failure(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn change_then_validate_then_restart() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("rules.yaml");
        std::fs::write(&f, "- rule: a\n").unwrap();
        let (tx, rx) = channel::<String>();
        let (tx2, tx3) = (tx.clone(), tx.clone());
        let path = f.clone();
        let w = Watcher::start(
            &[f.to_string_lossy().into_owned()],
            &[],
            move || {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains("broken") {
                    Err("broken rules".into())
                } else {
                    Ok(())
                }
            },
            move || tx2.send("restart".into()).unwrap(),
            move |e| tx3.send(format!("failure: {e}")).unwrap(),
        )
        .unwrap()
        .unwrap();
        std::fs::write(&f, "broken\n").unwrap();
        let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(got, "failure: broken rules");
        std::fs::write(&f, "- rule: b\n").unwrap();
        let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(got, "restart");
        drop(tx);
        w.stop();
    }

    #[test]
    fn sighup_forces_a_check_and_nothing_to_watch_means_no_handler() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = channel::<&str>();
        let w = Watcher::start(
            &[],
            &[dir.path().to_string_lossy().into_owned()],
            || Ok(()),
            move || tx.send("restart").unwrap(),
            |_| {},
        )
        .unwrap()
        .unwrap();
        w.trigger();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "restart");
        assert!(
            Watcher::start(&[], &[], || Ok(()), || {}, |_| {})
                .unwrap()
                .is_none()
        );
        let e = Watcher::start(
            &["/nonexistent/x.yaml".into()],
            &[],
            || Ok(()),
            || {},
            |_| {},
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "could not watch file: /nonexistent/x.yaml");
    }
}
