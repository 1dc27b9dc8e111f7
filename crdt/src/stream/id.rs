//! Stream entry ids, and the ids `XADD *` makes so that two regions never make the same one.

use crate::ids::ServerId;
use std::fmt;

/// A stream entry id: milliseconds and a sequence number, ordered as Redis orders them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The next id in order, `None` after the largest.
    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { seq, ..self }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The previous id in order, `None` before the smallest.
    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { seq, ..self }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The id `XADD *` makes at `server` when the stream's last id is `last` and the clock reads
/// `now_ms`: the low 32 bits of the sequence are the server-id, so ids made concurrently by
/// two servers differ. `None` when no larger id exists.
pub fn next_auto_id(last: StreamId, now_ms: u64, server: ServerId) -> Option<StreamId> {
    let low = server.0 as u64;
    if now_ms > last.ms {
        return Some(StreamId::new(now_ms, low));
    }
    // The smallest sequence above `last.seq` whose low half is ours.
    let high = (last.seq >> 32) + u64::from(last.seq & 0xffff_ffff >= low);
    match high.checked_mul(1 << 32).and_then(|h| h.checked_add(low)) {
        Some(seq) if high < (1 << 32) => Some(StreamId::new(last.ms, seq)),
        _ => last.ms.checked_add(1).map(|ms| StreamId::new(ms, low)),
    }
}
