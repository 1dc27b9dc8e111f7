//! The script running now. A script called outside a transaction runs on a thread of its
//! own, holding the store lock, while the connections go on: until `busy-reply-threshold`
//! they wait for it, after it they answer other clients `-BUSY`, and SCRIPT KILL or
//! FUNCTION KILL may stop it if it has not written (Redis's rules).

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// A script on its way.
#[derive(Debug)]
pub struct Running {
    pub started: Instant,
    /// EVAL or EVALSHA (else FCALL): which KILL stops it, which BUSY error others get.
    pub eval: bool,
    /// The function's name, or the script's SHA-1.
    pub name: String,
    /// The command that runs it (FUNCTION STATS).
    pub command: Vec<Bytes>,
    kill: AtomicBool,
    wrote: AtomicBool,
}

impl Running {
    pub fn new(eval: bool, name: String, command: Vec<Bytes>) -> Running {
        Running {
            started: Instant::now(),
            eval,
            name,
            command,
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
        }
    }

    /// Whether a KILL asked the script to stop.
    pub fn killed(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// The script ran a write: it can no longer be killed.
    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }
}

pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const NOT_BUSY: &str = "NOTBUSY No scripts in execution right now.";

/// The script running on the script thread, if one is.
#[derive(Debug, Default)]
pub struct Busy {
    running: Mutex<Option<Arc<Running>>>,
    /// Whether `running` holds a script: every batch of commands asks, without the lock.
    active: AtomicBool,
    done: Notify,
}

impl Busy {
    pub fn start(&self, running: Arc<Running>) {
        *self.lock() = Some(running);
        self.active.store(true, Ordering::Release);
    }

    /// `running` ended.
    pub fn finish(&self, running: &Arc<Running>) {
        let mut now = self.lock();
        if now.as_ref().is_some_and(|r| Arc::ptr_eq(r, running)) {
            *now = None;
            self.active.store(false, Ordering::Release);
        }
        drop(now);
        self.done.notify_waiters();
    }

    pub fn running(&self) -> Option<Arc<Running>> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.lock().clone()
    }

    /// Wait until no script runs.
    pub async fn wait_done(&self) {
        loop {
            let done = self.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.running().is_none() {
                return;
            }
            done.await;
        }
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: ask the running script to stop, or Redis's
    /// refusal.
    pub fn kill(&self, eval: bool) -> Result<(), &'static str> {
        let Some(running) = self.running() else {
            return Err(NOT_BUSY);
        };
        if running.wrote.load(Ordering::Relaxed) {
            return Err(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        if eval && !running.eval {
            return Err(BUSY_FUNCTION);
        }
        if !eval && running.eval {
            return Err(BUSY_EVAL);
        }
        running.kill.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Running>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}
