//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD and XREADGROUP with BLOCK, ...):
//! whom a change of a key wakes. As in Redis, only a change of a key someone waits on
//! wakes anyone, and only those who wait on it: a write elsewhere costs the blocked clients
//! nothing. (Every batch that wrote woke every blocked client before, and each ran its
//! command again under the store's lock: with a thousand idle queue workers, every write
//! cost a thousand retries.)
//!
//! A wait is registered while the store's lock is held, in the batch that found nothing
//! (the changes are told under that lock too), so no change between the look and the wait
//! is missed; a wake-up comes to a [`Notify`] permit, kept if the client is not waiting yet.

use super::Notifier;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The keys clients wait on, per database, each with its waiters in the order they came.
#[derive(Debug, Default)]
pub struct BlockedKeys {
    /// How many waits are registered: a change looks at the keys only while there are any.
    waits: AtomicUsize,
    keys: Mutex<Waiters>,
}

/// Per database, per key, the waiters in the order they came.
type Waiters = HashMap<usize, HashMap<Bytes, Vec<Arc<Notify>>>>;

impl BlockedKeys {
    /// Whether anyone waits on a key now.
    pub fn any(&self) -> bool {
        self.waits.load(Ordering::Relaxed) > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `key` of database `db` changed: wake whoever waits on it.
    pub(super) fn changed(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        if let Some(waiters) = self.lock().get(&db).and_then(|keys| keys.get(key)) {
            for w in waiters {
                w.notify_one();
            }
        }
    }

    /// Everything was emptied (FLUSHALL, FLUSHDB, another region's flush): every waiter
    /// looks again (XREADGROUP then answers that its group is gone, as Redis does).
    pub(super) fn wake_all(&self) {
        if !self.any() {
            return;
        }
        for w in self.lock().values().flat_map(|keys| keys.values()).flatten() {
            w.notify_one();
        }
    }

    fn register(&self, db: usize, keys: &[Bytes], woken: &Arc<Notify>) {
        let mut map = self.lock();
        let waited = map.entry(db).or_default();
        for key in keys {
            waited
                .entry(key.clone())
                .or_default()
                .push(Arc::clone(woken));
        }
        self.waits.fetch_add(1, Ordering::Relaxed);
    }

    fn unregister(&self, db: usize, keys: &[Bytes], woken: &Arc<Notify>) {
        let mut map = self.lock();
        if let Some(waited) = map.get_mut(&db) {
            for key in keys {
                if let Some(waiters) = waited.get_mut(key) {
                    // A key named twice (BLPOP k k 0) was registered twice: both go.
                    waiters.retain(|w| !Arc::ptr_eq(w, woken));
                    if waiters.is_empty() {
                        waited.remove(key);
                    }
                }
            }
            if waited.is_empty() {
                map.remove(&db);
            }
        }
        self.waits.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A client's wait on keys of a database: registered from its making until it is dropped.
#[derive(Debug)]
pub struct KeyWait {
    notifier: Arc<Notifier>,
    db: usize,
    keys: Vec<Bytes>,
    woken: Arc<Notify>,
}

impl KeyWait {
    /// Wait on `keys` of database `db` from now on. Make it while holding the store's lock,
    /// in the batch that found nothing to serve.
    pub fn new(notifier: &Arc<Notifier>, db: usize, keys: Vec<Bytes>) -> KeyWait {
        let woken = Arc::new(Notify::new());
        notifier.blocked().register(db, &keys, &woken);
        KeyWait {
            notifier: Arc::clone(notifier),
            db,
            keys,
            woken,
        }
    }

    /// Completes once one of the keys changed since the wait was made.
    pub async fn woken(&self) {
        self.woken.notified().await
    }
}

impl Drop for KeyWait {
    fn drop(&mut self) {
        self.notifier
            .blocked()
            .unregister(self.db, &self.keys, &self.woken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::PubSub;
    use std::future::Future;
    use std::task::{Context, Poll};

    /// Whether `wait` has been woken (polled once, without a runtime).
    fn woken(wait: &KeyWait) -> bool {
        let f = wait.woken();
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        matches!(f.as_mut().poll(&mut cx), Poll::Ready(()))
    }

    #[test]
    fn a_change_wakes_only_the_waiters_of_its_key() {
        let notifier = Arc::new(Notifier::new(Arc::new(PubSub::default())));
        let blocked = notifier.blocked();
        assert!(!blocked.any());
        let a = KeyWait::new(&notifier, 0, vec![Bytes::from("a"), Bytes::from("a")]);
        let ab = KeyWait::new(&notifier, 0, vec![Bytes::from("a"), Bytes::from("b")]);
        let b1 = KeyWait::new(&notifier, 1, vec![Bytes::from("b")]);
        assert!(blocked.any());
        blocked.changed(0, b"c");
        blocked.changed(1, b"a");
        assert!(!woken(&a) && !woken(&ab) && !woken(&b1));
        blocked.changed(0, b"b");
        assert!(!woken(&a) && woken(&ab) && !woken(&b1));
        // A change before the client waits is kept for it.
        blocked.changed(0, b"a");
        assert!(woken(&a) && woken(&ab) && !woken(&b1));
        blocked.wake_all();
        assert!(woken(&b1));
        drop((a, ab));
        assert_eq!(blocked.lock().len(), 1, "only database 1's key is still waited on");
        drop(b1);
        assert!(!blocked.any());
        assert!(blocked.lock().is_empty());
    }
}
