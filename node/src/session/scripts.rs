//! A session's side of scripts: handing script commands to the script thread
//! ([`crate::cmd::script_thread`]), taking turns with it at the store lock, and answering
//! as Redis does while a script is busy.

use super::{Closed, Session, sleep_or_forever};
use crate::cmd::{self, Conn};
use crate::engine::store::now_ms;
use crate::reply::Reply;
use std::sync::Arc;
use std::time::Duration;
use tracing::error;

impl Session {
    /// Whether the next command is a script command free to run (no CLIENT PAUSE holds it).
    pub(super) fn scripts_next(&self) -> bool {
        let Some(args) = self.pending.front() else {
            return false;
        };
        if !cmd::runs_on_script_thread(&self.conn, args) {
            return false;
        }
        let writes = || cmd::waits_for_write_pause(&self.conn, args);
        self.shared
            .clients()
            .paused_until(now_ms(), writes)
            .is_none()
    }

    /// While a script runs past `busy-reply-threshold`, the front command is answered as
    /// Redis answers while busy: `-BUSY`, but SCRIPT KILL, FUNCTION KILL, FUNCTION STATS and
    /// SHUTDOWN act. Whether it was (a command Redis allows while busy waits for its turn).
    pub(super) async fn answered_while_busy(&mut self) -> Result<bool, Closed> {
        let shared = Arc::clone(&self.shared);
        let Some(running) = shared.engine().busy().running() else {
            return Ok(false);
        };
        let threshold = Duration::from_millis(shared.config().busy_reply_ms);
        if threshold == Duration::ZERO || running.started.elapsed() < threshold {
            return Ok(false);
        }
        let Some(reply) = self
            .pending
            .front()
            .and_then(|args| cmd::while_busy(&shared, &mut self.conn, &running, args))
        else {
            return Ok(false);
        };
        self.pending.pop_front();
        if self.conn.replies.send() {
            reply.write(&mut self.out, self.conn.resp);
        }
        self.flush().await.map_err(|_| Closed)?;
        Ok(true)
    }

    /// A turn at the store lock for the next batch, waiting (without blocking the thread)
    /// while the script thread holds the lock; `None` when a running script reached
    /// `busy-reply-threshold` meanwhile (the caller looks at the front command again).
    pub(super) async fn take_turn<'a>(
        &mut self,
        busy: &'a crate::script::busy::Busy,
    ) -> Result<Option<crate::script::busy::Turn<'a>>, Closed> {
        if let Some(turn) = busy.try_turn() {
            return Ok(Some(turn));
        }
        let threshold = Duration::from_millis(self.shared.config().busy_reply_ms);
        // Up to the running script's threshold, or one threshold from now for a script
        // that begins meanwhile (after it, a command Redis allows while busy waits for its
        // turn without end).
        let wait = busy_wait(busy, threshold).filter(|left| *left > Duration::ZERO);
        tokio::select! {
            turn = busy.turn() => Ok(Some(turn)),
            () = sleep_or_forever(wait) => Ok(None),
            _ = self.kill.notified() => Err(Closed),
            () = self.stop.stopped() => Err(Closed),
        }
    }

    /// Hand the script commands at the front of what is queued to the script thread, with
    /// this connection's state, and answer them with its replies. A script running past
    /// `busy-reply-threshold` while these still wait their turn takes them back: the
    /// connection answers the first as Redis does while busy.
    pub(super) async fn run_on_script_thread(&mut self) -> Result<(), Closed> {
        let shared = Arc::clone(&self.shared);
        let mut commands = Vec::new();
        let mut sizes = Vec::new();
        while let Some(args) = self.pending.front() {
            if !cmd::runs_on_script_thread(&self.conn, args) {
                break;
            }
            let (args, bytes) = self.pending.pop_front().expect("a front");
            commands.push(args);
            sizes.push(bytes);
        }
        // A stand-in while the state is with the script thread (nothing reads it).
        let stand_in = Conn::new(self.conn.id, self.conn.authenticated);
        let conn = std::mem::replace(&mut self.conn, stand_in);
        let handoff = Arc::new(cmd::script_thread::Handoff::new(conn, commands));
        let mut replies = shared.script_thread().hand(&shared, Arc::clone(&handoff));
        let busy = shared.engine().busy();
        let threshold = Duration::from_millis(shared.config().busy_reply_ms);
        let read: usize = sizes.iter().sum();
        let mut closed = false;
        // Past the running script's threshold, handed commands not yet begun are taken back.
        let wait = busy_wait(busy, threshold);
        let early = tokio::select! {
            r = &mut replies => Some(r.ok()),
            () = sleep_or_forever(wait) => None,
            _ = self.kill.notified() => {
                closed = true;
                None
            }
            () = self.stop.stopped() => {
                closed = true;
                None
            }
        };
        let replies = match early {
            Some(replies) => replies,
            None => {
                if let Some(conn) = handoff.withdraw() {
                    // Not run: back to the front, in order.
                    self.conn = conn;
                    for (args, &bytes) in handoff.commands().iter().zip(&sizes).rev() {
                        self.pending.push_front(args.clone(), bytes);
                    }
                    return if closed { Err(Closed) } else { Ok(()) };
                }
                // Begun: wait for the replies (a KILL of this client, or the node's stop,
                // ends the session after them).
                (&mut replies).await.ok()
            }
        };
        self.conn = handoff.finished().unwrap_or_else(|| {
            error!("the script thread kept a connection's state");
            Conn::new(self.conn.id, false)
        });
        let ran = handoff.commands().len();
        let replies = replies.unwrap_or_else(|| {
            error!("the script thread failed");
            vec![Reply::err("ERR the script thread failed"); ran]
        });
        shared.clients().count_commands(replies.len() as u64);
        for reply in replies {
            if self.conn.replies.send() {
                reply.write(&mut self.out, self.conn.resp);
            }
        }
        self.note_activity(now_ms(), read, false);
        if closed {
            return Err(Closed);
        }
        Ok(())
    }
}

/// How long a command may wait for the script thread before it looks again at whether a
/// script runs past `threshold`: until the running script's threshold, or one threshold
/// (a script that begins meanwhile reaches its own no sooner); `None` when the threshold is
/// off.
fn busy_wait(busy: &crate::script::busy::Busy, threshold: Duration) -> Option<Duration> {
    if threshold == Duration::ZERO {
        return None;
    }
    Some(match busy.running() {
        Some(r) => threshold.saturating_sub(r.started.elapsed()),
        None => threshold,
    })
}
