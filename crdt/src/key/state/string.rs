//! What a key reads as when it is a string: its field, its bytes, its length, its value
//! as an integer, its counter entry, its version, and whether it takes bit writes; in each
//! of the forms a string key is kept in.

use super::{KeyState, Repr};
use crate::blob::Blob;
use crate::field::{CounterEntry, Field, Num};
use crate::ids::ServerId;
use crate::key::full::Full;
use std::borrow::Cow;

impl KeyState {
    /// The string field, when the key reads as a string.
    pub fn string(&self) -> Option<Cow<'_, Field<Blob>>> {
        match &self.0 {
            Repr::Full(f) => f.string().map(Cow::Borrowed),
            _ => self.compact_field().map(Cow::Owned),
        }
    }

    /// The bytes a string key reads as (GET), without building a field.
    pub fn string_value(&self) -> Option<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Plain(reg) => Some(Cow::Borrowed(reg.value.as_slice())),
            Repr::Counter(c) => Some(Cow::Owned(crate::string::format_num(Num::Int(
                c.total.into(),
            )))),
            Repr::Expiring(x) => x.string.string_value(),
            Repr::SetEx(x) => Some(Cow::Borrowed(x.string.value.as_slice())),
            Repr::Hash(_) => None,
            Repr::Full(f) => f.str_part().map(crate::bits::StrPart::value),
        }
    }

    /// The string's length in bytes, told without building its value where it can be.
    pub fn string_len(&self) -> Option<usize> {
        match &self.0 {
            Repr::Expiring(x) => x.string.string_len(),
            Repr::Full(f) => f.str_part().map(crate::bits::StrPart::value_len),
            _ => self.string_value().map(|v| v.len()),
        }
    }

    /// The string's value as an integer, as INCR reads it (`None`: no string, or not an
    /// integer); a counter's sum is not formatted and parsed back.
    pub fn string_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Counter(c) => return Some(c.total),
            Repr::Expiring(x) => return x.string.string_i64(),
            Repr::Full(f) => {
                let s = f.str_part()?;
                if !s.has_bit_writes() {
                    if let Some(v) = crate::string::int_value(&s.field) {
                        return v;
                    }
                }
            }
            Repr::Hash(_) => return None,
            Repr::Plain(_) | Repr::SetEx(_) => {}
        }
        crate::string::parse_i64(&self.string_value()?)
    }

    /// The string's counter entry of origin `server`, when it has a live one (what its
    /// next increment there continues).
    pub fn own_string_entry(&self, server: ServerId) -> Option<CounterEntry> {
        match &self.0 {
            Repr::Plain(_) => None,
            Repr::Counter(c) => (c.server() == server).then(|| c.to_entry()),
            Repr::Expiring(x) => x.string.own_string_entry(server),
            Repr::SetEx(_) | Repr::Hash(_) => None,
            Repr::Full(f) => f.string()?.own_entry(server).cloned(),
        }
    }

    /// The op whose register alone is the string's value (no union of concurrent writes,
    /// no counter, no bit writes pending on top), and a number that grows with the bit
    /// writes baked into it: while both are the same, so is the value. What a node may key a
    /// value's derived facts by (PFCOUNT's count), with the key's name.
    pub fn string_version(&self) -> Option<(crate::ids::Dot, u64)> {
        match &self.0 {
            Repr::Plain(reg) => Some((reg.tag().dot, 0)),
            Repr::Counter(_) | Repr::Hash(_) => None,
            Repr::Expiring(x) => x.string.string_version(),
            Repr::SetEx(x) => Some((x.string.tag().dot, 0)),
            Repr::Full(f) => {
                let s = f.str_part()?;
                if !s.bits().is_empty() {
                    return None;
                }
                let baked = s
                    .baked()
                    .map_or(0, |b| b.through.iter().map(|(_, op)| op.0).sum());
                s.field.as_single().map(|r| (r.tag.dot, baked))
            }
        }
    }

    /// Whether the string has bit writes, pending or baked into its register.
    pub fn has_bit_writes(&self) -> bool {
        self.full()
            .and_then(Full::str_part)
            .is_some_and(crate::bits::StrPart::has_bit_writes)
    }

    /// Whether the string's register can take bit writes to bake in (see
    /// [`crate::bits::StrPart::takes_bit_writes`]): not a counter's.
    pub fn takes_bit_writes(&self) -> bool {
        match &self.0 {
            Repr::Plain(_) => true,
            Repr::Counter(_) => false,
            Repr::Expiring(x) => x.string.takes_bit_writes(),
            Repr::SetEx(_) | Repr::Hash(_) => true,
            Repr::Full(f) => f
                .str_part()
                .is_none_or(crate::bits::StrPart::takes_bit_writes),
        }
    }

    /// The string's content, register and bit writes (for its encoding).
    pub fn str_part(&self) -> Option<&crate::bits::StrPart> {
        self.full().and_then(Full::str_part)
    }
}
