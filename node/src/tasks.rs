//! Every task a node spawns, owned: [`Tasks`] spawns them on a tracker and stops them with
//! one cancellation, so that shutdown can wait until none is left.

use std::future::Future;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A node's tasks (a handle: clones share them).
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Tasks {
    /// Spawn `task`, which ends at [`Tasks::stop`] wherever it is waiting.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = task => {}
                () = stop.cancelled() => {}
            }
        })
    }

    /// Spawn `task`, which watches [`Tasks::stopped`] itself and ends in its own way (a
    /// client session finishes what it is writing).
    pub fn spawn_watching(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(task);
    }

    /// Completes once the node stops.
    pub async fn stopped(&self) {
        self.stop.cancelled().await
    }

    /// Stop every task (new ones end at once).
    pub fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
    }

    /// Wait until every task has ended (after [`Tasks::stop`]).
    pub async fn ended(&self) {
        self.tracker.wait().await
    }

    /// Tasks not yet ended.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }
}
