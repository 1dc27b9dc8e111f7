//! Group commit: the replies of a round of batches leave once one write(2) of the binlog
//! holds the records of them all.

use super::Session;
use bytes::BufMut;
use tracing::error;

/// A batch ran and left records in the binlog's buffer: its replies leave once they are
/// with the OS.
pub(super) struct CommitDue {
    /// The commit count that covers them ([`crate::engine::Engine::end_batch_uncommitted`]).
    target: u64,
    /// The replies in `out` that answer commands of such batches (told of a failed commit).
    replies: u64,
    /// Whether these batches wrote: channel senders (which read the binlog) are told once
    /// the writes are committed (blocked clients were told when the batch ended).
    wrote: bool,
}

impl CommitDue {
    /// A batch's `replies` wait for binlog commit `target` too (the later commit covers
    /// the earlier).
    pub(super) fn owe(due: &mut Option<CommitDue>, target: u64, replies: u64, wrote: bool) {
        match due {
            Some(due) => {
                due.target = due.target.max(target);
                due.replies += replies;
                due.wrote |= wrote;
            }
            None => {
                *due = Some(CommitDue {
                    target,
                    replies,
                    wrote,
                })
            }
        }
    }
}

impl Session {
    /// Before replies leave: commit the binlog records of the batches they answer (and of
    /// any batch whose writes they may have read). The session first lets every other
    /// ready session run its batch, so that one commit (one write(2)) covers them all; a
    /// commit another session made already is not made again.
    pub(super) async fn commit(&mut self) {
        let Some(due) = self.commit_due.take() else {
            return;
        };
        after_queued_tasks().await;
        let engine = self.shared.engine();
        // Another client's script may hold the store: waited for without blocking the thread.
        engine.busy().until_free().await;
        if let Err(e) = engine.commit_through(due.target) {
            // The writes are applied but may not be durable: say so instead of acknowledging.
            error!(error = %e, "binlog commit failed");
            self.out.clear();
            for _ in 0..due.replies {
                self.out.put_slice(
                    b"-MISCONF Errors writing to the binlog; writes may not be durable\r\n",
                );
            }
        }
        if due.wrote {
            engine.wrote();
        }
    }
}

/// Go on after every task already queued on this thread has run: the sessions the last
/// poll of the sockets woke run their batches first, and one commit covers them all. Not
/// `tokio::task::yield_now`, which also waits for the runtime to poll its sockets again:
/// at `-P 1` that made two `epoll_wait` calls a round of commits, where Redis makes one.
async fn after_queued_tasks() {
    let mut queued = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut queued, true) {
            return std::task::Poll::Ready(());
        }
        // Woken while it runs, the task goes to the back of its thread's queue.
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}
