//! The script thread: it runs the script commands (EVAL, EVALSHA, FCALL and their _RO
//! forms) that clients send outside a transaction, so that a long script holds neither the
//! runtime thread nor the clients of other commands past `busy-reply-threshold`.
//!
//! A connection hands over its run of consecutive script commands with its connection state
//! (a [`Handoff`]) and waits for the replies. The thread takes a turn at the store lock
//! ([`crate::script::busy`]), runs the handoff's commands as the runtime thread would
//! ([`super::execute`]), commits the binlog and gives the replies and the connection state
//! back, and goes on with the handoffs queued meanwhile until the runtime thread wants a
//! turn. Many connections' scripts thus share one turn at the lock and one wake-up of the
//! thread, and a pipeline's scripts one hand-over.
//!
//! Replies go back through one task on the runtime ([`deliver`]), not to each connection
//! directly, since waking a task from another thread costs a system call. The thread holds
//! them ([`Held`]) and hands them over together at the end of its turn, as Redis writes its
//! replies before it sleeps; also once they wait [`crate::script::LONG_RUN`], and while a
//! script runs longer than that, so that a long script does not hold earlier replies back.

use super::{Conn, Ctx, execute};
use crate::reply::Reply;
use crate::resp::Args;
use crate::shared::Shared;
use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc as tokio_mpsc, oneshot};
use tracing::error;

/// The most handoffs run in one turn at the store lock.
const HANDOFFS_PER_TURN_MAX: usize = 256;

/// Script commands a connection hands over, with its state.
#[derive(Debug)]
pub struct Handoff {
    state: Mutex<State>,
    commands: Vec<Args>,
}

/// Where the connection's state is.
#[derive(Debug)]
enum State {
    /// Waiting for the script thread.
    Queued(Conn),
    /// With the script thread, which runs the commands.
    Running,
    /// The commands ran: the connection takes its state back with the replies.
    Ran(Conn),
    /// Back with the connection.
    Returned,
}

impl Handoff {
    pub fn new(conn: Conn, commands: Vec<Args>) -> Handoff {
        Handoff {
            state: Mutex::new(State::Queued(conn)),
            commands,
        }
    }

    pub fn commands(&self) -> &[Args] {
        &self.commands
    }

    /// The connection gives up waiting: its state back, if the script thread has not
    /// begun (the commands will not run then).
    pub fn withdraw(&self) -> Option<Conn> {
        self.swap_if(|s| matches!(s, State::Queued(_)), State::Returned)
    }

    /// The connection's state after the commands ran.
    pub fn finished(&self) -> Option<Conn> {
        self.swap_if(|s| matches!(s, State::Ran(_)), State::Returned)
    }

    /// The script thread begins: the connection's state, unless it was withdrawn.
    fn claim(&self) -> Option<Conn> {
        self.swap_if(|s| matches!(s, State::Queued(_)), State::Running)
    }

    /// The script thread is done with the connection's state.
    fn give_back(&self, conn: Conn) {
        *self.lock() = State::Ran(conn);
    }

    /// Move to `next` from a state `from` accepts, and give that state's connection.
    fn swap_if(&self, from: impl Fn(&State) -> bool, next: State) -> Option<Conn> {
        let mut state = self.lock();
        if !from(&state) {
            return None;
        }
        match std::mem::replace(&mut *state, next) {
            State::Queued(conn) | State::Ran(conn) => Some(conn),
            State::Running | State::Returned => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A handoff on its way, and where its replies go.
struct Queued {
    shared: Arc<Shared>,
    handoff: Arc<Handoff>,
    replies: oneshot::Sender<Vec<Reply>>,
}

/// A handoff's replies, where they go, and whether its commands wrote.
type Finished = (oneshot::Sender<Vec<Reply>>, Vec<Reply>, bool);

/// The script thread's queue: the thread starts with the first script, and ends when the
/// node's [`Shared`] goes (the queue's sender with it).
#[derive(Debug, Default)]
pub struct ScriptThread {
    queue: Mutex<Option<mpsc::Sender<Queued>>>,
}

/// Replies the script thread holds, to hand over together.
struct Held {
    /// Since when the oldest waits.
    since: Option<Instant>,
    finished: Vec<Finished>,
    to: tokio_mpsc::UnboundedSender<Vec<Finished>>,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

fn hold(finished: Finished) {
    HELD.with(|held| {
        if let Some(held) = held.borrow_mut().as_mut() {
            held.since.get_or_insert_with(Instant::now);
            held.finished.push(finished);
        }
    });
}

/// Hand the held replies to [`deliver`]: all of them, or (`old_only`) if the oldest has
/// waited [`crate::script::LONG_RUN`].
fn hand_out(old_only: bool) {
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        let Some(held) = held.as_mut() else {
            return;
        };
        let Some(since) = held.since else {
            return;
        };
        if old_only && since.elapsed() < crate::script::LONG_RUN {
            return;
        }
        held.since = None;
        // Fails only when the runtime is gone (no one waits then).
        let _ = held.to.send(std::mem::take(&mut held.finished));
    });
}

/// On the runtime: hand each connection the replies the script thread finished, after
/// waking whoever follows the writes (channels, WAIT) there too. Ends with the thread (its
/// sender).
async fn deliver(
    engine: Arc<crate::engine::Engine>,
    mut finished: tokio_mpsc::UnboundedReceiver<Vec<Finished>>,
) {
    while let Some(batch) = finished.recv().await {
        if batch.iter().any(|(_, _, wrote)| *wrote) {
            engine.wrote();
        }
        for (to, replies, _) in batch {
            // Sent from the runtime's own thread: the connection's task is woken there,
            // without a system call.
            let _ = to.send(replies);
        }
    }
}

impl ScriptThread {
    /// Queue `handoff`; its replies come on the receiver (an error if the thread failed).
    pub fn hand(
        &self,
        shared: &Arc<Shared>,
        handoff: Arc<Handoff>,
    ) -> oneshot::Receiver<Vec<Reply>> {
        let (tx, rx) = oneshot::channel();
        let mut queued = Queued {
            shared: Arc::clone(shared),
            handoff,
            replies: tx,
        };
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        // A thread that failed is replaced.
        for _ in 0..2 {
            let sender = queue.get_or_insert_with(|| start(shared));
            match sender.send(queued) {
                Ok(()) => break,
                Err(mpsc::SendError(back)) => {
                    error!("the script thread ended: starting another");
                    queued = back;
                    *queue = None;
                }
            }
        }
        rx
    }
}

/// Start the thread, and its [`deliver`] task on the runtime of the caller.
fn start(shared: &Shared) -> mpsc::Sender<Queued> {
    let (tx, rx) = mpsc::channel();
    let (finished, to_deliver) = tokio_mpsc::unbounded_channel();
    tokio::spawn(deliver(Arc::clone(shared.engine()), to_deliver));
    let started = std::thread::Builder::new()
        .name("gdc-scripts".into())
        .spawn(move || {
            HELD.with(|held| {
                *held.borrow_mut() = Some(Held {
                    since: None,
                    finished: Vec::new(),
                    to: finished,
                });
            });
            crate::script::while_long(|| hand_out(false));
            run(&rx);
        });
    if let Err(e) = started {
        error!(error = %e, "could not start the script thread");
    }
    tx
}

/// Ends the script thread's turn however its work ends (a panic included), so that the
/// runtime thread never waits for a turn that cannot come.
struct TurnHeld<'a>(&'a crate::script::busy::Busy);

impl Drop for TurnHeld<'_> {
    fn drop(&mut self) {
        self.0.end_turn();
    }
}

fn run(queue: &mpsc::Receiver<Queued>) {
    while let Ok(first) = queue.recv() {
        let shared = Arc::clone(&first.shared);
        let engine = shared.engine();
        let busy = engine.busy();
        busy.take_turn();
        let turn = TurnHeld(busy);
        let config = shared.config();
        let mut store = engine.lock_store();
        store.set_eviction(config.eviction());
        let mut next = Some(first);
        let mut handed = 0;
        while let Some(queued) = next.take() {
            hand_out(true);
            // `None`: the connection gave up waiting (it answers the commands itself).
            if let Some(mut conn) = queued.handoff.claim() {
                let writes = store.writes;
                conn.on_script_thread = true;
                // As a session's batch does: the scripts' first keys looked up together,
                // their cache misses overlapped.
                if queued.handoff.commands.len() > 1 {
                    for args in &queued.handoff.commands {
                        if let Some(key) = first_key(args) {
                            store.prefetch(conn.db, key);
                        }
                    }
                }
                let mut replies: Vec<Reply> = queued
                    .handoff
                    .commands
                    .iter()
                    .map(|args| {
                        store.serving(conn.id);
                        let mut ctx = Ctx {
                            store: &mut store,
                            conn: &mut conn,
                            server: &shared,
                            config: &config,
                            now: crate::engine::store::now_ms(),
                        };
                        execute(&mut ctx, args)
                    })
                    .collect();
                conn.on_script_thread = false;
                // Committed before its replies are held: they may be handed out at any time.
                if let Err(e) = engine.end_batch(&mut store) {
                    error!(error = %e, "binlog commit failed");
                    // Applied but maybe not durable: say so instead of acknowledging.
                    let misconf = "MISCONF Errors writing to the binlog; writes may not be durable";
                    replies.fill(Reply::err(misconf));
                }
                queued.handoff.give_back(conn);
                hold((queued.replies, replies, store.writes != writes));
                handed += 1;
            }
            if busy.turn_wanted() || handed >= HANDOFFS_PER_TURN_MAX {
                break;
            }
            next = queue.try_recv().ok();
        }
        drop(store);
        drop(turn);
        hand_out(false);
    }
}

/// The first key a script command names, if any, where its key specs say it is.
fn first_key(args: &[bytes::Bytes]) -> Option<&bytes::Bytes> {
    let (at, _) = *super::table::command_of(args)?.find_keys(args).first()?;
    args.get(at)
}
