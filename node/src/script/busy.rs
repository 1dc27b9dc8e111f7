//! The script running now, and moving the runtime off its thread. A script runs where its
//! client's command runs, on the runtime's one worker thread, holding the store lock. One
//! that runs longer than [`MOVE_AFTER`] has the runtime moved to another thread
//! ([`leave_the_runtime`]), so that the node goes on serving: other clients wait for the
//! store without blocking a thread ([`Busy::until_free`]) and, once the script runs past
//! `busy-reply-threshold`, are answered `-BUSY`; SCRIPT KILL or FUNCTION KILL may stop it if
//! it has not written (Redis's rules).

use bytes::Bytes;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A script on its way.
#[derive(Debug)]
pub struct Running {
    pub started: Instant,
    /// EVAL or EVALSHA (else FCALL): which KILL stops it, which BUSY error others get.
    pub eval: bool,
    /// The function's name, and the command that runs it (FUNCTION STATS shows them; empty
    /// for a script, which FUNCTION STATS answers -BUSY for).
    pub name: String,
    pub command: Vec<Bytes>,
    kill: AtomicBool,
    wrote: AtomicBool,
    /// The runtime was moved off the script's thread (once is enough).
    moved: AtomicBool,
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
            moved: AtomicBool::new(false),
        }
    }

    /// Whether a KILL asked the script to stop.
    pub fn killed(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// Called from the hook: once the script has run [`MOVE_AFTER`], the runtime moves off
    /// its thread.
    pub fn check_long(&self) {
        if !self.moved.load(Ordering::Relaxed) && self.started.elapsed() > MOVE_AFTER {
            self.moved.store(true, Ordering::Relaxed);
            leave_the_runtime();
        }
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

/// The script running now, if any, and the wait for its end.
#[derive(Debug, Default)]
pub struct Busy {
    running: Mutex<Option<Arc<Running>>>,
    /// Whether `running` holds a script (which holds the store lock): every batch of
    /// commands asks, without the lock.
    active: AtomicBool,
    /// Rung when a script ends, if anyone waits ([`Busy::until_free`]).
    released: Notify,
    waiting: AtomicUsize,
}

/// The running script, shown as such while this lives (see [`Busy::show`]).
#[derive(Debug)]
pub struct Shown<'a>(&'a Busy, Arc<Running>);

impl Drop for Shown<'_> {
    fn drop(&mut self) {
        self.0.finish(&self.1);
    }
}

/// One waiter counted in [`Busy::until_free`], however its wait ends (dropped included).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Busy {
    /// `running` is the running script until the returned guard goes, however its run
    /// ends (a panic included: no script is then shown running for ever). The caller holds
    /// the store lock.
    pub fn show(&self, running: Arc<Running>) -> Shown<'_> {
        *self.lock() = Some(Arc::clone(&running));
        self.active.store(true, Ordering::SeqCst);
        Shown(self, running)
    }

    /// `running` ended.
    fn finish(&self, running: &Arc<Running>) {
        let mut now = self.lock();
        if now.as_ref().is_some_and(|r| Arc::ptr_eq(r, running)) {
            *now = None;
            self.active.store(false, Ordering::SeqCst);
            // Who counted itself in before this store looks at `active` after it.
            if self.waiting.load(Ordering::SeqCst) > 0 {
                self.released.notify_waiters();
            }
        }
    }

    pub fn running(&self) -> Option<Arc<Running>> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.lock().clone()
    }

    /// Whether the store is free of a running script (the common case: no wait).
    pub fn free(&self) -> bool {
        !self.active.load(Ordering::SeqCst)
    }

    /// Wait until no script holds the store, without blocking the thread: code on the
    /// runtime waits so before it locks the store (the lock may then still be held for the
    /// moment the script's batch takes to end).
    pub async fn until_free(&self) {
        if self.free() {
            return;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _counted = Waiting(&self.waiting);
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Listening before looking again: an end between the two is not missed.
            released.as_mut().enable();
            if self.free() {
                return;
            }
            released.await;
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

/// How long a script runs on the runtime's thread before the runtime moves off it.
pub const MOVE_AFTER: Duration = Duration::from_millis(10);

thread_local! {
    /// This thread ran the runtime and gave it up to a long script: it finishes that script
    /// (and the poll of the client's task it runs in), and serves nothing else.
    static LEFT_RUNTIME: Cell<bool> = const { Cell::new(false) };
}

/// Move the runtime to another thread and leave this one to the script running here, which
/// goes on as it was (the runtime's worker hands its queue and its I/O to a new thread).
/// Done once a script has run [`MOVE_AFTER`]; nothing on a runtime of another kind (a
/// current-thread runtime cannot move: the script holds it).
fn leave_the_runtime() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return;
    }
    LEFT_RUNTIME.set(true);
    tokio::task::block_in_place(|| {
        // The worker's core is on its way to a new thread. Wait until it has arrived there
        // (a task runs): leaving earlier, this thread would take the core back.
        let (arrived, wait) = std::sync::mpsc::channel();
        handle.spawn(async move {
            let _ = arrived.send(());
        });
        if wait.recv_timeout(Duration::from_secs(10)).is_err() {
            tracing::warn!("the runtime did not move off a long script's thread");
        }
    });
}

/// Whether this thread gave the runtime up to a script ([`leave_the_runtime`]) since the
/// last look: the client whose script it ran then stops its batch, and goes on on the
/// runtime's thread.
pub fn take_left_runtime() -> bool {
    LEFT_RUNTIME.replace(false)
}
