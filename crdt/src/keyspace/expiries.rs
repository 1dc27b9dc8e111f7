//! What the keyspace keeps about its keys besides the keys: the expiry index (keys by
//! expiry time, filed by their hash in the key table) and the counts of keys with content
//! and with an expiry, kept in step with every change, so that the active expiry cycle,
//! DBSIZE and INFO's keyspace line walk no keys.

use super::{Keyspace, Slot};
use crate::blob::Blob;
use crate::key::KeyState;

/// What the keyspace counts of its keys, kept in step with every change.
#[derive(Clone, Debug, Default)]
pub(super) struct Counts {
    /// Keys with content (a type they read as), expired or not.
    content: usize,
    /// Of those, the keys with an expiry.
    content_expiring: usize,
    /// Keys with an expiry, with content or without (those the expiry index lists), and
    /// the sum of their expiry times.
    expiring: usize,
    expiry_sum: u128,
}

/// What counts of a key: whether it has content, and its expiry.
#[derive(Clone, Copy, PartialEq)]
pub(super) struct Standing {
    pub(super) content: bool,
    pub(super) expire_at: Option<u64>,
}

impl Standing {
    #[inline]
    pub(super) fn of(k: &KeyState) -> Standing {
        let (content, expire_at) = k.content_and_expiry();
        Standing { content, expire_at }
    }
}

impl Counts {
    #[inline]
    pub(super) fn add(&mut self, s: Standing) {
        self.content += usize::from(s.content);
        if let Some(at) = s.expire_at {
            self.content_expiring += usize::from(s.content);
            self.expiring += 1;
            self.expiry_sum += u128::from(at);
        }
    }

    pub(super) fn remove(&mut self, s: Standing) {
        self.content -= usize::from(s.content);
        if let Some(at) = s.expire_at {
            self.content_expiring -= usize::from(s.content);
            self.expiring -= 1;
            self.expiry_sum -= u128::from(at);
        }
    }
}

/// What a reader sees of a database's keys at a time: DBSIZE, and INFO's keyspace line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveCounts {
    pub keys: usize,
    /// Keys with an expiry still ahead.
    pub expires: usize,
    /// Their mean time to live, in ms (0 without any).
    pub avg_ttl_ms: u64,
}

impl Keyspace {
    /// What a reader sees of the keys at `now_ms`, from the counts kept as keys change, less
    /// the keys whose expiry has passed and that are not removed yet: time in those, not
    /// in all keys.
    pub fn live_counts(&self, now_ms: u64) -> LiveCounts {
        let c = &self.counts;
        let (mut expired, mut expired_content, mut expired_sum) = (0, 0, 0u128);
        for (at, hash) in self.expiries.iter().take_while(|(at, _)| *at <= now_ms) {
            for (_, slot) in self.slots_expiring_at(*at, *hash) {
                expired += 1;
                expired_content += usize::from(slot.state.kind().is_some());
                expired_sum += u128::from(*at);
            }
        }
        // Saturating: a count gone wrong must not take a reply (or the server) with it; the
        // tests hold them exact.
        let ahead = c.expiring.saturating_sub(expired);
        let avg_ttl_ms = match ahead {
            0 => 0,
            n => (c.expiry_sum.saturating_sub(expired_sum) / n as u128)
                .saturating_sub(u128::from(now_ms)),
        };
        LiveCounts {
            keys: c.content.saturating_sub(expired_content),
            expires: c.content_expiring.saturating_sub(expired_content),
            avg_ttl_ms: u64::try_from(avg_ttl_ms).unwrap_or(u64::MAX),
        }
    }

    /// The FLUSHDB cutoff and the flush ops behind it.
    /// Number of keys with an expiry.
    pub fn expiring_len(&self) -> usize {
        self.counts.expiring
    }

    /// The keys an entry of the expiry index stands for: those filed under `hash` that
    /// expire at `at`.
    fn slots_expiring_at(&self, at: u64, hash: u64) -> impl Iterator<Item = (&Blob, &Slot)> {
        self.keys
            .hashed(hash)
            .filter(move |(_, s)| s.state.expire_at() == Some(at))
    }

    fn expiring_at(&self, at: u64, hash: u64) -> impl Iterator<Item = &Blob> {
        self.slots_expiring_at(at, hash).map(|(key, _)| key)
    }

    /// The keys of the index's entries `entries`, each with its expiry.
    fn keys_of<'a>(
        &'a self,
        entries: impl Iterator<Item = &'a (u64, u64)>,
    ) -> impl Iterator<Item = (u64, &'a Blob)> {
        entries.flat_map(|&(at, hash)| self.expiring_at(at, hash).map(move |key| (at, key)))
    }

    /// The keys with an expiry, from the first expiring at or after `from_ms` onwards, then
    /// from the earliest (a sample of keys with an expiry starts at a random time).
    pub fn expiring_from(&self, from_ms: u64) -> impl Iterator<Item = (u64, &Blob)> {
        let start = (from_ms, 0);
        self.keys_of(
            self.expiries
                .range(start..)
                .chain(self.expiries.range(..start)),
        )
    }

    /// The earliest and the latest expiry held.
    pub fn expiry_span(&self) -> Option<(u64, u64)> {
        Some((self.expiries.first()?.0, self.expiries.last()?.0))
    }

    /// Keys whose expiry is at or before `now_ms`, earliest first.
    pub fn expired(&self, now_ms: u64) -> impl Iterator<Item = &Blob> {
        let due = self
            .expiries
            .iter()
            .take_while(move |(at, _)| *at <= now_ms);
        self.keys_of(due).map(|(_, key)| key)
    }

    /// Keys whose expiry lies in `(after_ms, upto_ms]`, earliest first, with it.
    pub fn expiring_between(
        &self,
        after_ms: u64,
        upto_ms: u64,
    ) -> impl Iterator<Item = (u64, &Blob)> {
        let from = (after_ms.saturating_add(1), 0);
        let due = self
            .expiries
            .range(from..)
            .filter(move |(at, _)| *at > after_ms)
            .take_while(move |(at, _)| *at <= upto_ms);
        self.keys_of(due)
    }

    /// Keep the counts and the expiry index in step with a key that went from `before` to
    /// `after` (the key as it is now: changed, or gone). Inlined: every write calls it, and
    /// few change what counts.
    #[inline]
    pub(super) fn recount(&mut self, key: &[u8], before: Standing, after: Standing) {
        if before != after {
            self.recount_changed(key, before, after);
        }
    }

    #[inline(never)]
    fn recount_changed(&mut self, key: &[u8], before: Standing, after: Standing) {
        self.counts.remove(before);
        self.counts.add(after);
        if before.expire_at == after.expire_at {
            return;
        }
        let hash = self.keys.hash_key(key);
        if let Some(at) = before.expire_at {
            // The entry stays for another key of the same hash and time, if there is one.
            if self.expiring_at(at, hash).next().is_none() {
                self.expiries.remove(&(at, hash));
            }
        }
        if let Some(at) = after.expire_at {
            self.expiries.insert((at, hash));
        }
    }

    pub(super) fn index_expiry(&mut self, key: &[u8], at: u64) {
        let hash = self.keys.hash_key(key);
        self.expiries.insert((at, hash));
    }

    /// The counts and the expiry index, from the keys.
    pub(super) fn count_all(&mut self) {
        let keys = &self.keys;
        self.expiries = keys
            .iter()
            .filter_map(|(key, s)| Some((s.state.expire_at()?, keys.hash_key(key))))
            .collect();
        self.counts = Counts::default();
        for s in keys.values() {
            self.counts.add(Standing::of(&s.state));
        }
    }
}
