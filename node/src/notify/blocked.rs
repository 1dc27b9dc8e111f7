//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD and XREADGROUP with BLOCK, ...):
//! whom a change of a key wakes. As in Redis, only a change of a key someone waits on
//! wakes anyone, and only those who wait on it: a write elsewhere costs the blocked clients
//! nothing. (Every batch that wrote woke every blocked client before, and each ran its
//! command again under the store's lock: with a thousand idle queue workers, every write
//! cost a thousand retries.)
//!
//! Clients that take what they wait for (the pops: their key specs say they may delete the
//! key) take turns, in the order they came, as Redis serves them: a change wakes the first;
//! when it has run its command again it passes the turn to the next that waited before the
//! change, while the key is still there (a pop that emptied a list leaves nothing for the
//! next). A thousand workers on one queue then cost one retry a job, not a thousand.
//! Clients that only read (XREAD, XREADGROUP: a stream's new entry, or its deletion, is
//! for all of them) are all woken at every change of the key.
//!
//! A wait is registered while the store's lock is held, in the batch that found nothing
//! (the changes are told under that lock too), so no change between the look and the wait
//! is missed; a wake-up comes to a [`Notify`] permit, kept if the client is not waiting yet.
//! A turn is never lost: a waiter that leaves without running its command again (a timeout,
//! CLIENT UNBLOCK, a closed connection) passes its turn on as it goes.

use super::Notifier;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The keys clients wait on, per database, each with its waiters.
#[derive(Debug, Default)]
pub struct BlockedKeys {
    /// How many waits are registered: a change looks at the keys only while there are any.
    waits: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The number given to the last wait registered: waits are numbered in the order
    /// they came.
    last: u64,
    /// Per database, per key.
    keys: HashMap<usize, HashMap<Bytes, KeyWaiters>>,
}

/// The waiters of one key.
#[derive(Debug, Default)]
struct KeyWaiters {
    /// Those that take what they wait for, in the order they came (by number).
    takers: VecDeque<Arc<Waiter>>,
    /// Those that only read.
    readers: Vec<Arc<Waiter>>,
    /// The taker whose turn it is (by number): woken, and not done yet.
    turn: Option<u64>,
    /// The last wait registered when the key last changed: the turns of that change go to
    /// the takers up to it (a later one looked at the key after the change).
    round_until: u64,
}

#[derive(Debug)]
struct Waiter {
    number: u64,
    takes: bool,
    woken: Notify,
}

impl BlockedKeys {
    /// Whether anyone waits on a key now.
    pub fn any(&self) -> bool {
        self.waits.load(Ordering::Relaxed) > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `key` of database `db` changed: wake its readers, and its first taker unless one
    /// has the turn already (it passes the turn on when done, to the takers up to now).
    pub(super) fn changed(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        let mut state = self.lock();
        let last = state.last;
        let Some(k) = state.keys.get_mut(&db).and_then(|keys| keys.get_mut(key)) else {
            return;
        };
        k.round_until = last;
        for r in &k.readers {
            r.woken.notify_one();
        }
        if k.turn.is_none()
            && let Some(first) = k.takers.front()
        {
            k.turn = Some(first.number);
            first.woken.notify_one();
        }
    }

    /// Everything was emptied (FLUSHALL, FLUSHDB, another region's flush): every waiter
    /// looks again (XREADGROUP then answers that its group is gone, as Redis does).
    pub(super) fn wake_all(&self) {
        if !self.any() {
            return;
        }
        let state = self.lock();
        for k in state.keys.values().flat_map(HashMap::values) {
            for w in k.takers.iter().chain(&k.readers) {
                w.woken.notify_one();
            }
        }
    }

    fn register(&self, db: usize, keys: &[Bytes], takes: bool) -> Arc<Waiter> {
        let mut state = self.lock();
        state.last += 1;
        let waiter = Arc::new(Waiter {
            number: state.last,
            takes,
            woken: Notify::new(),
        });
        let waited = state.keys.entry(db).or_default();
        for key in keys {
            let k = waited.entry(key.clone()).or_default();
            // Numbers only grow: the takers stay in the order they came.
            if takes {
                k.takers.push_back(Arc::clone(&waiter));
            } else {
                k.readers.push(Arc::clone(&waiter));
            }
        }
        self.waits.fetch_add(1, Ordering::Relaxed);
        waiter
    }

    /// `waiter` leaves its keys; where it had the turn, the turn goes to the next taker of
    /// the round if `exists(key)` (the key is still there for it to take from).
    fn unregister(
        &self,
        db: usize,
        keys: &[Bytes],
        waiter: &Waiter,
        exists: &dyn Fn(&[u8]) -> bool,
    ) {
        let mut state = self.lock();
        let Some(waited) = state.keys.get_mut(&db) else {
            return;
        };
        for key in keys {
            let Some(k) = waited.get_mut(key) else {
                continue;
            };
            if k.turn == Some(waiter.number) {
                k.turn = None;
                if exists(key) {
                    let round_until = k.round_until;
                    let next = k
                        .takers
                        .iter()
                        .find(|t| t.number > waiter.number && t.number <= round_until);
                    if let Some(next) = next {
                        k.turn = Some(next.number);
                        next.woken.notify_one();
                    }
                }
            }
            // A key named twice (BLPOP k k 0) was registered twice: both go.
            if waiter.takes {
                k.takers.retain(|t| t.number != waiter.number);
            } else {
                k.readers.retain(|r| r.number != waiter.number);
            }
            if k.takers.is_empty() && k.readers.is_empty() {
                waited.remove(key);
            }
        }
        if waited.is_empty() {
            state.keys.remove(&db);
        }
        self.waits.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A client's wait on keys of a database: registered from its making until it is done
/// ([`KeyWait::done`]) or dropped.
#[derive(Debug)]
pub struct KeyWait {
    notifier: Arc<Notifier>,
    db: usize,
    keys: Vec<Bytes>,
    waiter: Arc<Waiter>,
}

impl KeyWait {
    /// Wait on `keys` of database `db` from now on; `takes`: the command takes what it
    /// waits for (a pop), and waits its turn. Make it while holding the store's lock, in
    /// the batch that found nothing to serve.
    pub fn new(notifier: &Arc<Notifier>, db: usize, keys: Vec<Bytes>, takes: bool) -> KeyWait {
        let waiter = notifier.blocked().register(db, &keys, takes);
        KeyWait {
            notifier: Arc::clone(notifier),
            db,
            keys,
            waiter,
        }
    }

    /// Completes once one of the keys changed since the wait was made (for a taker: once
    /// it has the turn).
    pub async fn woken(&self) {
        self.waiter.woken.notified().await
    }

    /// The command ran again (under the store's lock): the wait ends, and a turn it had
    /// goes on where `exists(db, key)` (the store still has the key).
    pub fn done(mut self, exists: impl Fn(usize, &[u8]) -> bool) {
        let keys = std::mem::take(&mut self.keys);
        let db = self.db;
        self.notifier
            .blocked()
            .unregister(db, &keys, &self.waiter, &|key| exists(db, key));
    }
}

impl Drop for KeyWait {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return; // done already
        }
        // Left without looking (timeout, CLIENT UNBLOCK, closed): the next looks.
        self.notifier
            .blocked()
            .unregister(self.db, &self.keys, &self.waiter, &|_| true);
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

    fn notifier() -> Arc<Notifier> {
        Arc::new(Notifier::new(Arc::new(PubSub::default())))
    }

    fn keys(names: &[&'static str]) -> Vec<Bytes> {
        names
            .iter()
            .map(|n| Bytes::from_static(n.as_bytes()))
            .collect()
    }

    #[test]
    fn a_change_wakes_only_the_waiters_of_its_key() {
        let notifier = notifier();
        let blocked = notifier.blocked();
        assert!(!blocked.any());
        let a = KeyWait::new(&notifier, 0, keys(&["a", "a"]), false);
        let ab = KeyWait::new(&notifier, 0, keys(&["a", "b"]), false);
        let b1 = KeyWait::new(&notifier, 1, keys(&["b"]), false);
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
        assert_eq!(
            blocked.lock().keys.len(),
            1,
            "only database 1 is still waited on"
        );
        drop(b1);
        assert!(!blocked.any());
        assert!(blocked.lock().keys.is_empty());
    }

    #[test]
    fn takers_take_turns_in_the_order_they_came_while_the_key_is_there() {
        let notifier = notifier();
        let blocked = notifier.blocked();
        let [t1, t2, t3] = [0, 1, 2].map(|_| KeyWait::new(&notifier, 0, keys(&["q"]), true));
        let reader = KeyWait::new(&notifier, 0, keys(&["q"]), false);
        blocked.changed(0, b"q");
        assert!(
            woken(&t1) && !woken(&t2) && !woken(&t3),
            "the first taker only"
        );
        assert!(woken(&reader), "a reader at every change");
        // More changes while the turn is out wake no one else: the turn goes on.
        blocked.changed(0, b"q");
        assert!(!woken(&t2) && !woken(&t3));
        // A taker that came after the change is not in its round.
        let late = KeyWait::new(&notifier, 0, keys(&["q"]), true);
        t1.done(|_, _| true);
        assert!(woken(&t2) && !woken(&t3) && !woken(&late));
        // It emptied the key: the turns stop there.
        t2.done(|_, _| false);
        assert!(!woken(&t3) && !woken(&late));
        blocked.changed(0, b"q");
        assert!(woken(&t3) && !woken(&late));
        // One that leaves without looking passes its turn on, to the late one now.
        drop(t3);
        assert!(woken(&late));
        late.done(|_, _| true);
        drop(reader);
        assert!(!blocked.any());
        assert!(blocked.lock().keys.is_empty());
    }
}
