//! The writes a key in a compact form takes without its general form: SET or SET EX of a
//! new key, SET over a plain string that saw exactly it, INCR of one origin's counter, a
//! field's write or removal in a packed hash.
//! Each builds, or changes in place, what the general path would make (tests in
//! `state.rs` hold them equal).

use super::{KeyState, Repr};
use crate::effect::{Addition, Effect, FieldLoc, Value};
use crate::field::CounterEntry;
use crate::ids::ServerId;
use crate::key::plain::{PlainCounter, PlainReg, SetEx};
use crate::vv::VersionVector;

impl KeyState {
    /// [`KeyState::apply`] done in place, when the key is one origin's counter and `e` is
    /// that origin's next increment of it and nothing else (an INCR of a counter this
    /// region keeps): whether it was.
    #[inline]
    pub(super) fn incremented_plainly(&mut self, e: &Effect, flushed: &VersionVector) -> bool {
        // Looked at first: most keys an effect changes are in the general form.
        if let Repr::Full(_) | Repr::Plain(_) | Repr::SetEx(_) | Repr::Hash(_) = self.0 {
            return false;
        }
        self.incremented_counter(e, flushed)
    }

    #[inline(never)]
    fn incremented_counter(&mut self, e: &Effect, flushed: &VersionVector) -> bool {
        let cur = match &mut self.0 {
            Repr::Counter(cur) => cur,
            Repr::Expiring(x) => match &mut x.string.0 {
                Repr::Counter(cur) => cur,
                _ => return false,
            },
            _ => return false,
        };
        let Some(entry) = KeyState::string_increment(e, flushed).filter(|_| only_adds(e)) else {
            return false;
        };
        if entry.tag.dot.server != cur.server() {
            return false;
        }
        // The origin's later entry replaces its earlier one (`Field::add_entry`).
        if entry.tag.dot.op <= cur.op() {
            return true;
        }
        match PlainCounter::from_entry(&entry) {
            Some(next) => {
                *cur = next;
                true
            }
            None => false,
        }
    }

    /// [`KeyState::apply_collecting`] done without the general form, when the key is a
    /// packed hash and `e` writes and removes fields of it and stays one (see
    /// `PackedHash::written`): whether it was.
    #[inline]
    pub(super) fn written_packed(
        &mut self,
        e: &Effect,
        flushed: &VersionVector,
        stable: &VersionVector,
    ) -> bool {
        let Repr::Hash(h) = &self.0 else {
            return false;
        };
        if flushed.covers(e.tag.dot) {
            return false;
        }
        match h.written(e, stable) {
            Some(packed) => {
                self.0 = Repr::Hash(packed);
                true
            }
            None => false,
        }
    }

    /// The string's counter entry `e` adds, when that is all it adds and `flushed` does
    /// not cover it.
    fn string_increment(e: &Effect, flushed: &VersionVector) -> Option<CounterEntry> {
        let [
            Addition::Incr {
                loc: FieldLoc::Str,
                start,
                total,
            },
        ] = e.adds.as_slice()
        else {
            return None;
        };
        let tag = e.tag.piece(0);
        (!flushed.covers(tag.dot)).then_some(CounterEntry {
            start: *start,
            tag,
            total: *total,
        })
    }

    /// The compact key `e` makes of nothing, when all it adds is one string value (with
    /// an expiry or without) or one counter entry.
    fn plain_written(e: &Effect, flushed: &VersionVector) -> Option<KeyState> {
        if let Some(entry) = KeyState::string_increment(e, flushed) {
            return PlainCounter::from_entry(&entry).map(|c| KeyState(Repr::Counter(c)));
        }
        let (
            Addition::Write {
                loc: FieldLoc::Str,
                value: Value::Bytes(v),
            },
            rest,
        ) = e.adds.split_first()?
        else {
            return None;
        };
        // The effect's pieces are all of one op: the flush covers all or none.
        if flushed.covers(e.tag.dot) {
            return None;
        }
        let string = PlainReg::new(e.tag, v.clone())?;
        match rest {
            [] => Some(KeyState(Repr::Plain(string))),
            [Addition::Expire(at)] => Some(KeyState::set_ex(string, *at, 1)),
            _ => None,
        }
    }

    /// A plain string with the expiry at `at` its op wrote as piece `piece`.
    #[inline(never)]
    pub(super) fn set_ex(string: PlainReg, at: u64, piece: u32) -> KeyState {
        KeyState(Repr::SetEx(Box::new(SetEx { string, at, piece })))
    }

    /// What `apply(e)` makes of a key that has nothing, built directly, when `e` is a plain
    /// string write or increment (a SET or INCR of a new key: the common case); `None`
    /// otherwise.
    pub fn new_from_plain_write(e: &Effect, flushed: &VersionVector) -> Option<KeyState> {
        if !only_adds(e) {
            return None;
        }
        KeyState::plain_written(e, flushed)
    }

    /// What `apply(e)` then `gc(stable)` make of this key, built directly, when `e` is a
    /// plain string write that observed exactly this plain string and everything it removes
    /// is stable (a SET over a SET on a node without peers); `None` otherwise. Inlined: every
    /// write asks, and only a plain string goes on.
    #[inline]
    pub fn overwritten_plainly(
        &self,
        e: &Effect,
        flushed: &VersionVector,
        stable: &VersionVector,
    ) -> Option<KeyState> {
        match &self.0 {
            Repr::Plain(cur) => Self::overwritten_plain(cur, e, flushed, stable),
            _ => None,
        }
    }

    #[inline(never)]
    fn overwritten_plain(
        cur: &PlainReg,
        e: &Effect,
        flushed: &VersionVector,
        stable: &VersionVector,
    ) -> Option<KeyState> {
        let cut = e.cutoff.as_ref()?;
        let saw_exactly_cur = cut.len() == 1 && cut.get(ServerId(cur.server.get())) == cur.op;
        let stable_now = stable.dominates(cut) && stable.covers(e.tag.dot);
        if !saw_exactly_cur || !stable_now || !e.removes.is_empty() || !e.resets.is_empty() {
            return None;
        }
        KeyState::plain_written(e, flushed)
    }
}

/// Whether `e` only adds: it observed nothing (no cutoff) and removes or resets nothing, as
/// a write to a new key or an increment of a counter kept in place must.
fn only_adds(e: &Effect) -> bool {
    e.cutoff.is_none() && e.removes.is_empty() && e.resets.is_empty()
}
