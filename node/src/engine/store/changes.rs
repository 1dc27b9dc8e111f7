//! What the store tells the layers above about changed keys. Keyspace notifications and
//! client-side caching hear every change here, whoever made it — a command of this node,
//! an op from another region, a full sync or repair, an expiry — without the engine
//! knowing of either (the node wires an observer in: [`Store::set_observer`]).
//!
//! Expiries are told when a key's time passes (it reads as missing from then on), not when
//! the expiry cycle removes it, which with peers waits `expire-grace-ms` longer: a client's
//! cache and a subscriber hear of it when the key's readers do. Each expiry is told once,
//! by the cycle ([`Store::announce_expired`]) or by a read that found the key expired first
//! ([`Store::announce_if_expired`]).

use super::{DATABASES, Store};
use gdc_crdt::{Blob, Effect, KeyState};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Who hears of changed keys.
pub trait KeyObserver: Send + Sync + std::fmt::Debug {
    /// Whether anyone listens now: when not, the store skips the work of telling.
    fn listening(&self) -> bool;
    /// Whether a listener needs to know what each change did (`created`, `existed`,
    /// `after`): when not, the store does not look the key up to tell it, and tells
    /// `false` and `None`.
    fn describes(&self) -> bool;
    /// `key` of database `db` changed.
    fn changed(&self, db: usize, key: &[u8], change: Change<'_>);
    /// A database (or all) was emptied, here or by another region (as in Redis, whoever
    /// listens drops everything: which database, and who, do not matter).
    fn flushed(&self);
    /// The end of a batch of changes (the store committed): what is told per batch goes.
    fn batch_done(&self);
}

/// How a key changed.
#[derive(Debug)]
pub enum Change<'a> {
    /// A command of client `client` of this node wrote it; `created`: it did not exist.
    Command { client: u64, created: bool },
    /// An op from another region was applied. `existed`: the key existed before it;
    /// `after`: the key as it reads now (`None`: it does not exist).
    Remote {
        effect: &'a Effect,
        existed: bool,
        after: Option<&'a KeyState>,
    },
    /// A full sync or an anti-entropy repair changed it.
    Merged,
    /// Its expiry passed.
    Expired,
    /// This node evicted it.
    Evicted,
}

/// Which expiries were told: all up to a time, and those a read told before the cycle.
#[derive(Debug, Default)]
pub(super) struct Announced {
    until_ms: u64,
    early: BTreeSet<(u64, usize, Blob)>,
}

impl Announced {
    pub(super) fn starting_at(now_ms: u64) -> Announced {
        Announced {
            until_ms: now_ms,
            early: BTreeSet::new(),
        }
    }
}

impl Store {
    /// Tell `observer` of every change from now on.
    pub fn set_observer(&mut self, observer: Arc<dyn KeyObserver>) {
        self.observer = Some(observer);
    }

    /// The commands that run from now on (until the next call) are client `client`'s.
    pub fn serving(&mut self, client: u64) {
        self.client = client;
    }

    /// The observer, when it listens.
    pub(super) fn listener(&self) -> Option<&Arc<dyn KeyObserver>> {
        self.observer.as_ref().filter(|o| o.listening())
    }

    /// Tell of every key whose expiry passed since the last call, up to `now`, but those a
    /// read told already. Returns how many were told.
    pub fn announce_expired(&mut self, now: u64) -> usize {
        let since = self.announced.until_ms;
        if now <= since {
            return 0;
        }
        self.announced.until_ms = now;
        let early = std::mem::take(&mut self.announced.early);
        self.announced.early = early.iter().filter(|e| e.0 > now).cloned().collect();
        let Some(observer) = self.listener() else {
            return 0;
        };
        let mut told = 0;
        for db in 0..DATABASES {
            for (at, key) in self.dbs[db].expiring_between(since, now) {
                if !early.contains(&(at, db, key.clone())) {
                    observer.changed(db, key, Change::Expired);
                    told += 1;
                }
            }
        }
        told
    }

    /// A read found `key` (maybe) expired: tell of it now, if no one did.
    pub fn announce_if_expired(&mut self, db: usize, key: &[u8], now: u64) {
        let Some(at) = self.dbs[db].get(key).and_then(KeyState::expire_at) else {
            return;
        };
        if at > now || at <= self.announced.until_ms {
            return;
        }
        if let Some(observer) = self.listener().cloned() {
            if self.announced.early.insert((at, db, Blob::from(key))) {
                observer.changed(db, key, Change::Expired);
            }
        }
    }
}
