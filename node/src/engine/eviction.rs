//! What eviction decides by: the policy (`maxmemory-policy`), the settings Redis gives it,
//! and each key's access word — 24 bits per key, as Redis keeps in every object: a clock in
//! seconds (LRU, LRM) or minutes and a logarithmic counter (LFU). The word is this region's
//! own record of how a key is used; it never leaves the node. The eviction itself (which key
//! goes, and how its removal reaches other regions) is [`crate::engine::store::Store::make_room`].

use gdc_crdt::keyspace::ACCESS_MAX;
use std::cell::Cell;
use std::time::Duration;

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    NoEviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    AllkeysLrm,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    VolatileLrm,
}

/// What a policy keeps in the access word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The last use, read or write, in seconds (LRU; also what OBJECT IDLETIME reads under
    /// the policies that rank by no clock).
    Used,
    /// The last modification in seconds (LRM: reads leave it).
    Modified,
    /// Minutes of the last decrement and an 8-bit logarithmic counter (LFU).
    Frequency,
}

impl Policy {
    /// Every policy, in the order Redis's CONFIG SET error lists them (the LRM pair last).
    pub const ALL: [Policy; 10] = [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
        Policy::NoEviction,
        Policy::VolatileLrm,
        Policy::AllkeysLrm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllkeysLru => "allkeys-lru",
            Policy::AllkeysLfu => "allkeys-lfu",
            Policy::AllkeysRandom => "allkeys-random",
            Policy::AllkeysLrm => "allkeys-lrm",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::VolatileLrm => "volatile-lrm",
        }
    }

    /// A policy by its name, in any case.
    pub fn parse(name: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether it evicts only keys with an expiry.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
                | Policy::VolatileLrm
        )
    }

    pub fn clock(self) -> Clock {
        match self {
            Policy::AllkeysLfu | Policy::VolatileLfu => Clock::Frequency,
            Policy::AllkeysLrm | Policy::VolatileLrm => Clock::Modified,
            _ => Clock::Used,
        }
    }

    /// Whether it ranks keys by their access words (LRU, LFU, LRM): then Redis keeps one per
    /// key even for small integers, which it otherwise shares.
    pub fn ranks_by_clock(self) -> bool {
        matches!(self.rank(), Some(Rank::LongestIdle | Rank::LeastFrequent))
    }

    /// How it ranks candidates (`None`: it picks at random, or does not evict).
    fn rank(self) -> Option<Rank> {
        match self {
            Policy::NoEviction | Policy::AllkeysRandom | Policy::VolatileRandom => None,
            Policy::VolatileTtl => Some(Rank::NearestExpiry),
            p if p.clock() == Clock::Frequency => Some(Rank::LeastFrequent),
            _ => Some(Rank::LongestIdle),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rank {
    LongestIdle,
    LeastFrequent,
    NearestExpiry,
}

/// LFU's counter for a key just made (as Redis: new keys get a chance to be used).
pub const LFU_INIT: u32 = 5;
/// The LFU word's counter bits.
const LFU_COUNTER_MASK: u32 = 0xff;
/// The LFU word's minutes wrap at 16 bits.
const LFU_MINUTES_MASK: u64 = 0xffff;

/// How reads and writes change a key's access word, per the policy and `lfu-log-factor`,
/// `lfu-decay-time`.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub clock: Clock,
    pub log_factor: u32,
    pub decay_minutes: u32,
}

impl Default for Access {
    fn default() -> Access {
        Access {
            clock: Clock::Used,
            log_factor: 10,
            decay_minutes: 1,
        }
    }
}

/// The LRU clock: Unix seconds in 24 bits (wraps every 194 days, as Redis's).
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & u64::from(ACCESS_MAX)) as u32
}

fn minutes(now_ms: u64) -> u64 {
    (now_ms / 60_000) & LFU_MINUTES_MASK
}

impl Access {
    /// The word after a read at `now_ms`.
    pub fn read(&self, word: u32, now_ms: u64) -> u32 {
        match self.clock {
            Clock::Used => lru_clock(now_ms),
            Clock::Modified => word,
            Clock::Frequency => self.counted(word, now_ms),
        }
    }

    /// The word after a write at `now_ms` (a key just made has word 0).
    pub fn write(&self, word: u32, now_ms: u64) -> u32 {
        match self.clock {
            Clock::Used | Clock::Modified => lru_clock(now_ms),
            Clock::Frequency if word == 0 => ((minutes(now_ms) as u32) << 8) | LFU_INIT,
            Clock::Frequency => self.counted(word, now_ms),
        }
    }

    /// Milliseconds since the clock in `word` (LRU, LRM; one wrap of the clock assumed).
    pub fn idle_ms(word: u32, now_ms: u64) -> u64 {
        let clock = lru_clock(now_ms);
        let secs = if clock >= word {
            clock - word
        } else {
            clock + (ACCESS_MAX - word)
        };
        u64::from(secs) * 1000
    }

    /// The LFU counter of `word` as decayed by `now_ms` (the word is not changed).
    pub fn frequency(&self, word: u32, now_ms: u64) -> u32 {
        let counter = word & LFU_COUNTER_MASK;
        if self.decay_minutes == 0 {
            return counter;
        }
        let last = u64::from(word >> 8);
        let now = minutes(now_ms);
        let elapsed = if now >= last {
            now - last
        } else {
            LFU_MINUTES_MASK - last + now
        };
        let periods = elapsed / u64::from(self.decay_minutes);
        counter.saturating_sub(periods.min(255) as u32)
    }

    /// The LFU word after one use: decayed, then incremented with a probability that falls
    /// as the counter grows (`lfu-log-factor`), stamped with the minute.
    fn counted(&self, word: u32, now_ms: u64) -> u32 {
        let mut counter = self.frequency(word, now_ms);
        if counter < 255 {
            let base = counter.saturating_sub(LFU_INIT);
            let p = 1.0 / (f64::from(base) * f64::from(self.log_factor) + 1.0);
            if random_unit() < p {
                counter += 1;
            }
        }
        ((minutes(now_ms) as u32) << 8) | counter
    }
}

/// A random number in [0, 1): a per-thread xorshift, seeded from the OS's randomness (via
/// std's hasher keys). Not for anything but sampling.
fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A random number below `n` (> 0): sampling keys, and the commands that pick at random.
pub fn random_below(n: usize) -> usize {
    (random_u64() % n as u64) as usize
}

fn random_u64() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x9e37_79b9_7f4a_7c15);
            h.finish() | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// Everything eviction runs by: the settings in force.
#[derive(Clone, Copy, Debug)]
pub struct Eviction {
    /// `maxmemory` (0: no limit).
    pub limit: u64,
    pub policy: Policy,
    /// `maxmemory-samples`: keys looked at per database for each pick.
    pub samples: usize,
    /// `maxmemory-eviction-tenacity` (0..=100).
    pub tenacity: u32,
    pub access: Access,
}

impl Default for Eviction {
    fn default() -> Eviction {
        Eviction {
            limit: 0,
            policy: Policy::NoEviction,
            samples: 5,
            tenacity: 10,
            access: Access::default(),
        }
    }
}

impl Eviction {
    /// How long one round of eviction may run before it yields (Redis's curve: 50 µs per
    /// step up to 10, then 15% more per step; 100 is unlimited). A round evicts at least
    /// [`EVICTED_PER_CHECK`] keys whatever the budget.
    pub fn budget(&self) -> Option<Duration> {
        match self.tenacity {
            t if t <= 10 => Some(Duration::from_micros(50 * u64::from(t))),
            t if t < 100 => Some(Duration::from_secs_f64(
                500e-6 * 1.15f64.powi(t as i32 - 10),
            )),
            _ => None,
        }
    }
}

/// The time budget is checked once per this many evicted keys.
pub const EVICTED_PER_CHECK: usize = 16;

/// How many candidates eviction keeps between picks (Redis's pool size).
pub const POOL_SIZE: usize = 16;

/// One candidate for eviction: the higher the score, the better a victim.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub score: u64,
    pub db: usize,
    pub key: gdc_crdt::Blob,
}

/// The best candidates seen, kept across picks (sorted by score, best last).
#[derive(Debug, Default)]
pub struct Pool {
    entries: Vec<Candidate>,
}

impl Pool {
    /// Offer a candidate: kept (its key copied) if the pool has room or it beats the worst
    /// entry.
    pub fn offer(&mut self, score: u64, db: usize, key: &gdc_crdt::Blob) {
        if self.entries.len() == POOL_SIZE {
            if score <= self.entries[0].score {
                return;
            }
            self.entries.remove(0);
        }
        let at = self.entries.partition_point(|e| e.score <= score);
        let key = key.clone();
        self.entries.insert(at, Candidate { score, db, key });
    }

    /// The best candidate, taken out.
    pub fn take_best(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// A candidate's score under `policy`: its idle time, its rarity, or how soon it expires.
pub fn score(e: &Eviction, word: u32, expire_at: Option<u64>, now_ms: u64) -> Option<u64> {
    Some(match e.policy.rank()? {
        Rank::LongestIdle => Access::idle_ms(word, now_ms),
        Rank::LeastFrequent => 255 - u64::from(e.access.frequency(word, now_ms)),
        Rank::NearestExpiry => u64::MAX - expire_at.unwrap_or(u64::MAX),
    })
}

/// Whether `policy` samples candidates into the pool (else it picks one at random).
pub fn ranks(policy: Policy) -> bool {
    policy.rank().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_named_as_redis_names_them_in_any_case() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.name()), Some(p));
            assert_eq!(Policy::parse(&p.name().to_uppercase()), Some(p));
        }
        assert_eq!(Policy::parse("lru"), None);
        assert!(Policy::VolatileTtl.volatile() && !Policy::AllkeysLrm.volatile());
        assert_eq!(Policy::AllkeysLrm.clock(), Clock::Modified);
        assert_eq!(Policy::VolatileLfu.clock(), Clock::Frequency);
        assert_eq!(Policy::NoEviction.clock(), Clock::Used);
    }

    #[test]
    fn lru_words_count_idle_seconds_across_the_wrap() {
        let now = 1_000_000_000_000;
        let a = Access::default();
        let w = a.read(0, now);
        assert_eq!(Access::idle_ms(w, now + 5_500), 5_000);
        // A word from just before the clock wrapped.
        let wrap_ms = (u64::from(ACCESS_MAX) + 1) * 1000 * 60;
        assert_eq!(Access::idle_ms(ACCESS_MAX - 2, wrap_ms + 1000), 3000);
    }

    #[test]
    fn lrm_words_change_on_writes_only() {
        let a = Access {
            clock: Clock::Modified,
            ..Access::default()
        };
        let w = a.write(0, 10_000);
        assert_eq!(a.read(w, 90_000), w);
        assert_eq!(Access::idle_ms(w, 90_000), 80_000);
        assert_eq!(a.write(w, 90_000), lru_clock(90_000));
    }

    #[test]
    fn lfu_counts_logarithmically_and_decays_per_period() {
        let a = Access {
            clock: Clock::Frequency,
            log_factor: 0,
            decay_minutes: 1,
        };
        let now = 600_000_000;
        let fresh = a.write(0, now);
        assert_eq!(a.frequency(fresh, now), LFU_INIT);
        // Factor 0: every use counts.
        let mut w = fresh;
        for _ in 0..10 {
            w = a.read(w, now);
        }
        assert_eq!(a.frequency(w, now), LFU_INIT + 10);
        // Three minutes later, three periods off.
        assert_eq!(a.frequency(w, now + 180_000), LFU_INIT + 7);
        let never = Access {
            decay_minutes: 0,
            ..a
        };
        assert_eq!(never.frequency(w, now + 180_000_000), LFU_INIT + 10);
        // The default factor: 1000 uses give far fewer increments, and 255 is the top.
        let slow = Access {
            log_factor: 10,
            ..a
        };
        let mut w = fresh;
        for _ in 0..1000 {
            w = slow.read(w, now);
        }
        let f = slow.frequency(w, now);
        assert!(f > LFU_INIT && f < 40, "{f}");
        let top = ((minutes(now) as u32) << 8) | 255;
        assert_eq!(a.frequency(a.read(top, now), now), 255);
    }

    #[test]
    fn tenacity_gives_redis_budgets() {
        let at = |t| {
            Eviction {
                tenacity: t,
                ..Eviction::default()
            }
            .budget()
        };
        assert_eq!(at(0), Some(Duration::ZERO));
        assert_eq!(at(10), Some(Duration::from_micros(500)));
        assert_eq!(at(11).map(|d| d.as_micros()), Some(575));
        assert_eq!(at(100), None);
    }

    #[test]
    fn the_pool_keeps_the_best_candidates() {
        let mut pool = Pool::default();
        for score in 0..40u64 {
            let key = gdc_crdt::Blob::from(&score.to_be_bytes()[..]);
            pool.offer((score * 7) % 40, 0, &key);
        }
        let best: Vec<u64> = std::iter::from_fn(|| pool.take_best().map(|c| c.score)).collect();
        assert_eq!(best, (24..40).rev().collect::<Vec<_>>());
    }
}
