//! A session's side of busy scripts: waiting, without blocking the thread, while another
//! client's script holds the store, and answering as Redis does while a script is busy.

use super::{Closed, Session, sleep_or_forever};
use crate::cmd;
use std::sync::Arc;
use std::time::Duration;

impl Session {
    /// While a script runs past `busy-reply-threshold`, the front command is answered as
    /// Redis answers while busy: `-BUSY`, but SCRIPT KILL, FUNCTION KILL, FUNCTION STATS and
    /// SHUTDOWN act. Whether it was (a command Redis allows while busy waits for the store).
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
        // A blocked command answered so leaves its wait (a turn it had goes on).
        self.key_wait = None;
        if self.conn.replies.send() {
            reply.write(&mut self.out, self.conn.resp);
        }
        self.flush().await.map_err(|_| Closed)?;
        Ok(true)
    }

    /// Wait until no script holds the store, without blocking the thread: `true` then, or
    /// `false` when a running script reached `busy-reply-threshold` meanwhile (the caller
    /// looks at the front command again).
    pub(super) async fn wait_for_store(
        &mut self,
        busy: &crate::script::busy::Busy,
    ) -> Result<bool, Closed> {
        if busy.free() {
            return Ok(true);
        }
        let threshold = Duration::from_millis(self.shared.config().busy_reply_ms);
        // Up to the running script's threshold, or one threshold from now for a script
        // that begins meanwhile (after it, a command Redis allows while busy waits for the
        // store without end).
        let wait = busy_wait(busy, threshold).filter(|left| *left > Duration::ZERO);
        tokio::select! {
            () = busy.until_free() => Ok(true),
            () = sleep_or_forever(wait) => Ok(false),
            () = self.kill.asked() => Err(Closed),
        }
    }
}

/// How long a command may wait for a script before it looks again at whether the script
/// runs past `threshold`: until the running script's threshold, or one threshold (a script
/// that begins meanwhile reaches its own no sooner); `None` when the threshold is off.
fn busy_wait(busy: &crate::script::busy::Busy, threshold: Duration) -> Option<Duration> {
    if threshold == Duration::ZERO {
        return None;
    }
    Some(match busy.running() {
        Some(r) => threshold.saturating_sub(r.started.elapsed()),
        None => threshold,
    })
}
