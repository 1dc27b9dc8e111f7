//! A 64-bit hybrid logical clock: 48 bits of wall-clock milliseconds and a 16-bit logical
//! counter. Every timestamp an origin issues is larger than every timestamp it has seen, so a
//! write made after seeing another write orders after it whatever the wall clocks say.

/// A hybrid logical timestamp. Ordered as a plain `u64`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hlc(pub u64);

const LOGICAL_BITS: u32 = 16;
const LOGICAL_MASK: u64 = (1 << LOGICAL_BITS) - 1;
/// The largest wall-clock millisecond value a timestamp can carry (year 10889).
pub const HLC_MS_MAX: u64 = (1 << 48) - 1;

impl Hlc {
    pub const ZERO: Hlc = Hlc(0);

    pub const fn new(ms: u64, logical: u16) -> Self {
        Hlc(((ms & HLC_MS_MAX) << LOGICAL_BITS) | logical as u64)
    }

    /// Wall-clock milliseconds part.
    pub const fn ms(self) -> u64 {
        self.0 >> LOGICAL_BITS
    }

    /// Logical counter part.
    pub const fn logical(self) -> u16 {
        (self.0 & LOGICAL_MASK) as u16
    }

    /// The next timestamp after this one (carrying into the milliseconds when the logical
    /// counter is full).
    pub const fn succ(self) -> Hlc {
        Hlc(self.0 + 1)
    }
}

/// One node's clock. `tick` stamps local events; `observe` folds in a remote op's timestamp.
#[derive(Debug, Clone)]
pub struct HlcClock {
    last: Hlc,
    /// How far ahead of our wall clock a remote timestamp may pull our clock.
    max_ahead_ms: u64,
    /// Remote timestamps that were further ahead than `max_ahead_ms`; they were not trusted.
    future_rejected: u64,
}

/// The default bound on how far a remote timestamp may be ahead of the local wall clock.
pub const DEFAULT_MAX_AHEAD_MS: u64 = 60_000;

impl HlcClock {
    pub fn new(max_ahead_ms: u64) -> Self {
        HlcClock {
            last: Hlc::ZERO,
            max_ahead_ms,
            future_rejected: 0,
        }
    }

    /// A clock resuming after restart: never issues anything at or below `last`.
    pub fn resume(last: Hlc, max_ahead_ms: u64) -> Self {
        HlcClock {
            last,
            max_ahead_ms,
            future_rejected: 0,
        }
    }

    /// The last timestamp issued or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// How many remote timestamps were too far in the future to trust.
    pub fn future_rejected(&self) -> u64 {
        self.future_rejected
    }

    /// A timestamp for a local event at wall time `now_ms`: larger than anything seen so far.
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        self.tick_after(now_ms, Hlc::ZERO)
    }

    /// A timestamp for a local event that must also order after `floor` (the largest stamp
    /// of the content the event overwrites). A key that carries a far-future stamp is thus
    /// still overwritten by a write that observed it, even though the clock guard refused to
    /// jump the whole clock there.
    pub fn tick_after(&mut self, now_ms: u64, floor: Hlc) -> Hlc {
        let wall = Hlc::new(now_ms.min(HLC_MS_MAX), 0);
        let next = wall.max(self.last.succ()).max(floor.succ());
        self.last = next;
        next
    }

    /// Fold in a remote timestamp seen at wall time `now_ms`. A timestamp more than
    /// `max_ahead_ms` ahead of our wall clock is counted and not followed; returns whether
    /// it was trusted.
    pub fn observe(&mut self, remote: Hlc, now_ms: u64) -> bool {
        if remote.ms() > now_ms.saturating_add(self.max_ahead_ms) {
            self.future_rejected += 1;
            return false;
        }
        if remote > self.last {
            self.last = remote;
        }
        true
    }
}

impl Default for HlcClock {
    fn default() -> Self {
        HlcClock::new(DEFAULT_MAX_AHEAD_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_ms_and_logical() {
        let h = Hlc::new(1_700_000_000_000, 7);
        assert_eq!(h.ms(), 1_700_000_000_000);
        assert_eq!(h.logical(), 7);
        assert!(Hlc::new(5, 0) > Hlc::new(4, u16::MAX));
    }

    #[test]
    fn tick_is_strictly_increasing_when_wall_clock_stalls_or_goes_back() {
        let mut c = HlcClock::default();
        let a = c.tick(1000);
        let b = c.tick(1000);
        let d = c.tick(900);
        assert_eq!(a, Hlc::new(1000, 0));
        assert_eq!(b, Hlc::new(1000, 1));
        assert_eq!(d, Hlc::new(1000, 2));
        assert_eq!(c.tick(2000), Hlc::new(2000, 0));
    }

    #[test]
    fn logical_overflow_carries_into_ms() {
        let mut c = HlcClock::resume(Hlc::new(10, u16::MAX), DEFAULT_MAX_AHEAD_MS);
        assert_eq!(c.tick(10), Hlc::new(11, 0));
    }

    #[test]
    fn observe_moves_clock_past_remote() {
        let mut c = HlcClock::default();
        assert!(c.observe(Hlc::new(5000, 3), 1000));
        assert_eq!(c.tick(1000), Hlc::new(5000, 4));
    }

    #[test]
    fn far_future_remote_is_counted_and_not_followed() {
        let mut c = HlcClock::new(1000);
        assert!(!c.observe(Hlc::new(1_000_000, 0), 1000));
        assert_eq!(c.future_rejected(), 1);
        assert_eq!(c.tick(1000), Hlc::new(1000, 0));
        // A write that overwrites far-future content still orders after it.
        let floor = Hlc::new(1_000_000, 0);
        assert!(c.tick_after(1000, floor) > floor);
    }
}
