//! The script thread's hold on the store, and the script running now. Scripts called outside
//! a transaction run on a thread of their own ([`crate::cmd::script_thread`]), which takes
//! turns with the runtime thread at the store lock: while it holds the lock, code on the
//! runtime thread waits for its turn ([`Busy::turn`]) instead of blocking on the lock, and
//! the script thread takes no new turn while someone waits. A script running past
//! `busy-reply-threshold` makes the connections answer other clients `-BUSY`; SCRIPT KILL
//! or FUNCTION KILL may stop it if it has not written (Redis's rules).

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
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

/// The script thread's turns at the store lock, and the script it runs, if any.
#[derive(Debug, Default)]
pub struct Busy {
    running: Mutex<Option<Arc<Running>>>,
    /// Whether `running` holds a script: every batch of commands asks, without the lock.
    active: AtomicBool,
    /// The script thread holds the store lock, or is about to take it.
    holding: AtomicBool,
    /// Turns asked for on the runtime thread: the script thread waits for them to end.
    wanted: AtomicUsize,
    /// Rung when the script thread lets go of the store lock.
    released: Notify,
    /// The script thread, to wake when the last wanted turn ends.
    script_thread: OnceLock<std::thread::Thread>,
}

/// The running script, shown as such while this lives (see [`Busy::show`]).
#[derive(Debug)]
pub struct Shown<'a>(&'a Busy, Arc<Running>);

impl Drop for Shown<'_> {
    fn drop(&mut self) {
        self.0.finish(&self.1);
    }
}

/// A turn at the store lock on the runtime thread: the script thread does not hold the lock
/// and takes it again only after this ends.
#[derive(Debug)]
pub struct Turn<'a>(&'a Busy);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.0.wanted.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Some(t) = self.0.script_thread.get() {
                t.unpark();
            }
        }
    }
}

impl Busy {
    fn start(&self, running: Arc<Running>) {
        *self.lock() = Some(running);
        self.active.store(true, Ordering::Release);
    }

    /// `running` is the running script until the returned guard goes, however its run
    /// ends (a panic included: no script is then shown running for ever).
    pub fn show(&self, running: Arc<Running>) -> Shown<'_> {
        self.start(Arc::clone(&running));
        Shown(self, running)
    }

    /// `running` ended.
    fn finish(&self, running: &Arc<Running>) {
        let mut now = self.lock();
        if now.as_ref().is_some_and(|r| Arc::ptr_eq(r, running)) {
            *now = None;
            self.active.store(false, Ordering::Release);
        }
    }

    pub fn running(&self) -> Option<Arc<Running>> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.lock().clone()
    }

    /// Wait for a turn at the store lock (runtime thread): the script thread lets go of it
    /// at its next pause and waits while the turn lasts. Dropping the future gives the
    /// place up.
    pub async fn turn(&self) -> Turn<'_> {
        // Asked for before looking at `holding`, the script thread's side does it the other
        // way round: one of the two sees the other (both orderings are SeqCst).
        self.wanted.fetch_add(1, Ordering::SeqCst);
        let turn = Turn(self);
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if !self.holding.load(Ordering::SeqCst) {
                return turn;
            }
            released.await;
        }
    }

    /// A turn at once, if the script thread does not hold the store lock (the common case:
    /// no timer, no wait).
    pub fn try_turn(&self) -> Option<Turn<'_>> {
        self.wanted.fetch_add(1, Ordering::SeqCst);
        let turn = Turn(self);
        (!self.holding.load(Ordering::SeqCst)).then_some(turn)
    }

    /// The script thread takes a turn: it waits while turns are wanted on the runtime
    /// thread. Then it may lock the store.
    pub fn take_turn(&self) {
        let _ = self.script_thread.set(std::thread::current());
        loop {
            self.holding.store(true, Ordering::SeqCst);
            if self.wanted.load(Ordering::SeqCst) == 0 {
                return;
            }
            self.end_turn();
            while self.wanted.load(Ordering::SeqCst) > 0 {
                // Woken when the last turn ends; the timeout only bounds a missed wake.
                std::thread::park_timeout(Duration::from_millis(10));
            }
        }
    }

    /// The script thread let go of the store lock.
    pub fn end_turn(&self) {
        self.holding.store(false, Ordering::SeqCst);
        self.released.notify_waiters();
    }

    /// Whether the runtime thread waits for a turn (the script thread ends its turn soon).
    pub fn turn_wanted(&self) -> bool {
        self.wanted.load(Ordering::SeqCst) > 0
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
