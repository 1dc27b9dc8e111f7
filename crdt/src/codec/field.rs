//! A field (a string, hash field or sorted-set member): its register writes, counter entries
//! and counter resets, each list in its canonical order. `RegValue` says how a register's
//! value is written: bytes for strings and hash fields, an IEEE score for sorted sets.

use super::primitive::{Reader, put_bytes, put_dot, put_num, put_tag, put_u64, put_var};
use crate::blob::Blob;
use crate::error::DecodeError;
use crate::field::{CounterEntry, CounterReset, Field};
use crate::ids::{OpId, ServerId};
use crate::tomb::Tomb;

/// How a register value is written.
pub(super) trait RegValue: Sized + Clone + PartialEq {
    fn put(&self, out: &mut Vec<u8>);
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl RegValue for Blob {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(out, self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.blob()
    }
}

impl RegValue for f64 {
    fn put(&self, out: &mut Vec<u8>) {
        put_u64(out, self.to_bits());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(f64::from_bits(r.u64()?))
    }
}

pub(super) fn put_field<V: RegValue>(out: &mut Vec<u8>, f: &Field<V>) {
    put_held(out, f);
    put_resets(out, f.resets().len(), f.resets());
}

/// A field as [`put_field`] writes it, but with only the reset records its value depends on
/// (see [`Field::continued_resets`]): for a key's content digest.
pub(super) fn put_field_content<V: RegValue>(out: &mut Vec<u8>, f: &Field<V>) {
    put_held(out, f);
    put_resets(out, f.continued_resets().count(), f.continued_resets());
}

/// A field's register writes and counter entries.
fn put_held<V: RegValue>(out: &mut Vec<u8>, f: &Field<V>) {
    put_var(out, f.regs().len() as u64);
    for r in f.regs() {
        put_tag(out, r.tag);
        r.value.put(out);
    }
    put_var(out, f.entries().len() as u64);
    for e in f.entries() {
        put_var(out, e.start.0);
        put_tag(out, e.tag);
        put_num(out, e.total);
    }
}

/// `n` reset records, and the records.
fn put_resets<'a>(
    out: &mut Vec<u8>,
    n: usize,
    resets: impl IntoIterator<Item = &'a (ServerId, CounterReset)>,
) {
    put_var(out, n as u64);
    for (s, r) in resets {
        put_var(out, s.0 as u64);
        put_var(out, r.start.0);
        put_var(out, r.op.0);
        put_num(out, r.total);
        put_dot(out, r.by);
    }
}

impl Reader<'_> {
    pub(super) fn field<V: RegValue>(&mut self) -> Result<Field<V>, DecodeError> {
        let none = Tomb::default();
        let mut f = Field::default();
        for _ in 0..self.count()? {
            let tag = self.tag()?;
            f.add_reg(tag, V::get(self)?, &none);
        }
        for _ in 0..self.count()? {
            let start = OpId(self.var()?);
            let tag = self.tag()?;
            let total = self.num()?;
            f.add_entry(CounterEntry { start, tag, total }, &none);
        }
        for _ in 0..self.count()? {
            let s = self.server()?;
            let reset = CounterReset {
                start: OpId(self.var()?),
                op: OpId(self.var()?),
                total: self.num()?,
                by: self.dot()?,
            };
            f.add_reset(s, reset);
        }
        Ok(f)
    }
}
