//! Eviction: over `maxmemory`, keys go by the policy, each as a delete of what this region
//! holds of it (the rule of DEL: a write made concurrently elsewhere survives), logged and
//! shipped like any write, marked as an eviction so that every region counts it by the
//! region that made it. docs/semantics.md, "Eviction".

use super::{Change, DATABASES, Record, Store, WriteError};
use crate::engine::eviction::{self, EVICTED_PER_CHECK, Eviction, Policy};
use gdc_crdt::{Blob, KeyState, ServerId};
use std::time::Instant;
use tracing::warn;

/// Samples taken for one pick before eviction concludes nothing can go.
const SAMPLE_ROUNDS_MAX: usize = 32;

/// What a round of eviction achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// Memory is within the limit (or there is none).
    Enough,
    /// Still over, but the round's time was up: more rounds will follow (not an OOM).
    Running,
    /// Still over, and nothing more can go (`noeviction`, nothing evictable): writes that
    /// would grow memory are refused, incoming channels wait.
    Full,
}

/// Counters of evictions: here, and per region of origin.
#[derive(Debug, Default)]
pub struct EvictionStats {
    /// Keys this node evicted (INFO's `evicted_keys`).
    pub evicted_keys: u64,
    /// Evictions applied here, by the server that made them (this node's own included):
    /// which region caused how many.
    pub by_origin: std::collections::BTreeMap<ServerId, u64>,
    /// When memory went over the limit without room being made, if it is now.
    pub exceeded_since: Option<Instant>,
    /// Milliseconds spent over the limit before the current stretch.
    pub exceeded_ms: u64,
}

impl EvictionStats {
    /// `total_eviction_exceeded_time` and `current_eviction_exceeded_time`, in ms.
    pub fn exceeded(&self) -> (u64, u64) {
        let current = self
            .exceeded_since
            .map_or(0, |t| t.elapsed().as_millis() as u64);
        (self.exceeded_ms + current, current)
    }

    fn note(&mut self, room: Room) {
        match (room, self.exceeded_since) {
            (Room::Enough, Some(since)) => {
                self.exceeded_ms += since.elapsed().as_millis() as u64;
                self.exceeded_since = None;
            }
            (Room::Running | Room::Full, None) => self.exceeded_since = Some(Instant::now()),
            _ => {}
        }
    }
}

impl Store {
    /// The settings eviction and access tracking run by from now on.
    pub fn set_eviction(&mut self, e: Eviction) {
        if e.policy != self.eviction.policy {
            // Its candidates were scored by another rule.
            self.pool.clear();
        }
        self.eviction = e;
    }

    pub fn eviction(&self) -> &Eviction {
        &self.eviction
    }

    /// Bytes that count toward `maxmemory`: all live heap but what evicting keys cannot
    /// free — the channels' send buffers and the binlog's buffer (as Redis leaves out its
    /// replicas' buffers and AOF buffer), the metadata store's fixed tables, and removal
    /// knowledge waiting for every region to apply it (evicting more keys would only add
    /// to it; see docs/semantics.md).
    pub fn counted_bytes(&self) -> u64 {
        let live = crate::alloc::live_bytes().max(0) as u64;
        live.saturating_sub(self.not_counted_bytes() + self.uncollected_bytes())
    }

    /// INFO's `mem_not_counted_for_evict`, but for removal knowledge: the channels' send
    /// buffers, the binlog's, and the metadata store's fixed tables.
    pub fn not_counted_bytes(&self) -> u64 {
        crate::alloc::SYNC_SEND_BUFFERS.bytes()
            + crate::alloc::SYNC_RECEIVE_BUFFERS.bytes()
            + self.binlog.buffer_bytes()
            + crate::alloc::METADATA_STORE.bytes()
    }

    /// Bytes held by keys that hold only removal knowledge not yet stable.
    pub fn uncollected_bytes(&self) -> u64 {
        self.dbs.iter().map(|d| d.uncollected_bytes() as u64).sum()
    }

    /// Whether counted memory is over `maxmemory`.
    pub fn over_limit(&self) -> bool {
        self.eviction.limit > 0 && self.counted_bytes() > self.eviction.limit
    }

    /// Evict keys by the policy until memory is within `maxmemory`, the round's time is up,
    /// or nothing more can go. A secondary never evicts (its primary's evictions reach it);
    /// nor does a transaction midway (its writes are one batch).
    pub fn make_room(&mut self, now: u64) -> Room {
        let room = self.evict_round(now);
        self.eviction_stats.note(room);
        room
    }

    fn evict_round(&mut self, now: u64) -> Room {
        if !self.over_limit() {
            return Room::Enough;
        }
        if self.eviction.policy == Policy::NoEviction || self.in_batch() {
            return Room::Full;
        }
        let started = Instant::now();
        let budget = self.eviction.budget();
        let mut evicted = 0;
        loop {
            let Some((db, key)) = self.pick_victim(now) else {
                return Room::Full;
            };
            if let Err(e) = self.evict(db, &key, now) {
                warn!(error = %e, "could not evict a key");
                return Room::Full;
            }
            evicted += 1;
            if !self.over_limit() {
                return Room::Enough;
            }
            if evicted % EVICTED_PER_CHECK == 0 && budget.is_some_and(|b| started.elapsed() > b) {
                return Room::Running;
            }
        }
    }

    /// Remove `key` as an eviction: a delete of what is held, logged as an eviction.
    fn evict(&mut self, db: usize, key: &[u8], now: u64) -> Result<(), WriteError> {
        self.write_record(db, key, now, true, |k, _, tag| {
            Ok((gdc_crdt::ops::delete(k, tag), ()))
        })?;
        self.eviction_stats.evicted_keys += 1;
        *self
            .eviction_stats
            .by_origin
            .entry(self.server)
            .or_default() += 1;
        if let Some(o) = self.listener() {
            o.changed(db, key, Change::Evicted);
        }
        Ok(())
    }

    /// A remote op applied here: an eviction made in another region is counted by origin.
    pub(super) fn note_remote_eviction(&mut self, rec: &Record) {
        if let Record::Key { evicted: true, .. } = rec {
            *self
                .eviction_stats
                .by_origin
                .entry(rec.dot().server)
                .or_default() += 1;
        }
    }

    /// The next key to evict, or none when nothing the policy may evict is held.
    fn pick_victim(&mut self, now: u64) -> Option<(usize, Blob)> {
        let e = self.eviction;
        if !eviction::ranks(e.policy) {
            return self.random_victim(e.policy.volatile());
        }
        // Every pick samples afresh (as Redis's does); candidates kept from earlier picks
        // may be gone or changed since, and are checked when their turn comes.
        // A sample may hold nothing evictable (keys holding only removal knowledge): a few
        // more are taken before giving up.
        for _ in 0..SAMPLE_ROUNDS_MAX {
            for db in 0..DATABASES {
                self.sample_into_pool(db, &e, now);
            }
            while let Some(c) = self.pool.take_best() {
                if self.evictable(c.db, &c.key, e.policy) {
                    return Some((c.db, c.key));
                }
            }
        }
        None
    }

    /// Whether `key` is there to evict under `policy`: it has content (not only removal
    /// knowledge), and an expiry for a volatile policy.
    fn evictable(&self, db: usize, key: &[u8], policy: Policy) -> bool {
        self.dbs[db]
            .get(key)
            .is_some_and(|k| candidate(k, policy.volatile()))
    }

    /// Offer `maxmemory-samples` keys of `db`, picked at random, to the pool.
    fn sample_into_pool(&mut self, db: usize, e: &Eviction, now: u64) {
        let ks = &self.dbs[db];
        let mut offer = |key: &Blob, state: &KeyState, word: u32| {
            if !candidate(state, e.policy.volatile()) {
                return;
            }
            if let Some(score) = eviction::score(e, word, state.expire_at(), now) {
                self.pool.offer(score, db, key);
            }
        };
        if e.policy.volatile() {
            let Some((first, last)) = ks.expiry_span() else {
                return;
            };
            for _ in 0..e.samples.min(ks.expiring_len()) {
                let from = first + eviction::random_below((last - first + 1) as usize) as u64;
                if let Some((_, key)) = ks.expiring_from(from).next() {
                    if let (Some(state), Some(word)) = (ks.get(key), ks.access(key)) {
                        offer(key, state, word);
                    }
                }
            }
        } else {
            let len = ks.len();
            let picks: smallvec::SmallVec<[usize; 16]> = (0..e.samples.min(len))
                .map(|_| eviction::random_below(len))
                .collect();
            // Their cache misses overlap, where reading each in turn would wait for each.
            ks.prefetch_at(&picks);
            for &i in &picks {
                if let Some((key, state, word)) = ks.at(i) {
                    offer(key, state, word);
                }
            }
        }
    }

    /// A random key for the random policies, from the databases in turn.
    fn random_victim(&mut self, volatile: bool) -> Option<(usize, Blob)> {
        for _ in 0..DATABASES {
            let db = self.next_random_db;
            self.next_random_db = (db + 1) % DATABASES;
            let ks = &self.dbs[db];
            // A few tries per database: a pick may land on a key holding only removal
            // knowledge.
            for _ in 0..8 {
                let key = if volatile {
                    ks.expiry_span().and_then(|(first, last)| {
                        let from =
                            first + eviction::random_below((last - first + 1) as usize) as u64;
                        ks.expiring_from(from).next().map(|(_, k)| k)
                    })
                } else if !ks.is_empty() {
                    ks.at(eviction::random_below(ks.len())).map(|(k, _, _)| k)
                } else {
                    None
                };
                let Some(key) = key else { break };
                if ks.get(key).is_some_and(|k| candidate(k, volatile)) {
                    return Some((db, key.clone()));
                }
            }
        }
        None
    }
}

/// Whether a key's state may be evicted: it holds content (and an expiry, if `volatile`).
fn candidate(state: &KeyState, volatile: bool) -> bool {
    state.kind().is_some() && (!volatile || state.expire_at().is_some())
}
