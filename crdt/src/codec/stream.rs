//! Streams: the part (entries in id order, the numbers' values, the groups by name), and the
//! stream pieces effects add and remove.

use super::primitive::{Reader, put_bytes, put_tag, put_u64, put_var};
use crate::blob::Blob;
use crate::error::DecodeError;
use crate::ids::{ServerId, Tag};
use crate::stream::{GroupHead, Meta, Pending, StreamAdd, StreamId, StreamLoc, StreamPart, Values};
use crate::tomb::Tomb;
use smallvec::SmallVec;

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_var(out, id.ms);
    put_var(out, id.seq);
}

fn put_counts(out: &mut Vec<u8>, c: &[(ServerId, u64)]) {
    put_var(out, c.len() as u64);
    for (s, n) in c {
        put_var(out, s.0 as u64);
        put_var(out, *n);
    }
}

fn put_meta(out: &mut Vec<u8>, m: &Meta) {
    put_var(out, m.epoch);
    put_id(out, m.last);
    put_id(out, m.max_deleted);
    put_var(out, m.added_base);
    put_counts(out, &m.added);
}

fn put_head(out: &mut Vec<u8>, h: &GroupHead) {
    put_var(out, h.epoch);
    put_id(out, h.base);
    put_var(out, h.cursors.len() as u64);
    for (s, id) in &h.cursors {
        put_var(out, s.0 as u64);
        put_id(out, *id);
    }
    match h.entries_read {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            put_var(out, n);
        }
    }
}

fn put_pending(out: &mut Vec<u8>, p: &Pending) {
    put_bytes(out, &p.consumer);
    put_u64(out, p.delivered_ms);
    put_var(out, p.count);
}

fn put_values<T>(out: &mut Vec<u8>, vals: &Values<T>, put: impl Fn(&mut Vec<u8>, &T)) {
    put_var(out, vals.len() as u64);
    for (t, v) in vals {
        put_tag(out, *t);
        put(out, v);
    }
}

/// A stream part, every collection in its order (ids, dots, names).
pub(super) fn put_stream(out: &mut Vec<u8>, x: &StreamPart) {
    put_var(out, x.len() as u64);
    for (id, e) in x.entries() {
        put_id(out, id);
        put_tag(out, e.tag);
        put_var(out, e.fields.len() as u64);
        for f in e.fields.iter() {
            put_bytes(out, f);
        }
    }
    let meta: Values<Meta> = x.meta_values().iter().cloned().collect();
    put_values(out, &meta, put_meta);
    let groups: Vec<_> = x.all_groups().collect();
    put_var(out, groups.len() as u64);
    for (name, g) in groups {
        put_bytes(out, name);
        let heads: Values<GroupHead> = g.head_values().iter().cloned().collect();
        put_values(out, &heads, put_head);
        let ids: Vec<StreamId> = g.pending_ids().collect();
        put_var(out, ids.len() as u64);
        for id in ids {
            put_id(out, id);
            let vals: Values<Pending> = g.pending_values(id).iter().cloned().collect();
            put_values(out, &vals, put_pending);
        }
        let names: Vec<&Blob> = g.consumer_names().collect();
        put_var(out, names.len() as u64);
        for n in names {
            put_bytes(out, n);
            let vals: Values<u64> = g.consumer_values(n).iter().cloned().collect();
            put_values(out, &vals, |out, t| put_u64(out, *t));
        }
    }
}

pub(super) fn put_loc(out: &mut Vec<u8>, l: &StreamLoc) {
    match l {
        StreamLoc::Entry(id) => {
            out.push(0);
            put_id(out, *id);
        }
        StreamLoc::Meta => out.push(1),
        StreamLoc::Head(g) => {
            out.push(2);
            put_bytes(out, g);
        }
        StreamLoc::Pending(g, id) => {
            out.push(3);
            put_bytes(out, g);
            put_id(out, *id);
        }
        StreamLoc::Consumer(g, n) => {
            out.push(4);
            put_bytes(out, g);
            put_bytes(out, n);
        }
    }
}

pub(super) fn put_add(out: &mut Vec<u8>, a: &StreamAdd) {
    match a {
        StreamAdd::Entry { id, fields } => {
            out.push(0);
            put_id(out, *id);
            put_var(out, fields.len() as u64);
            for f in fields.iter() {
                put_bytes(out, f);
            }
        }
        StreamAdd::Meta(m) => {
            out.push(1);
            put_meta(out, m);
        }
        StreamAdd::Head { group, head } => {
            out.push(2);
            put_bytes(out, group);
            put_head(out, head);
        }
        StreamAdd::Pending { group, id, pending } => {
            out.push(3);
            put_bytes(out, group);
            put_id(out, *id);
            put_pending(out, pending);
        }
        StreamAdd::Consumer {
            group,
            name,
            seen_ms,
        } => {
            out.push(4);
            put_bytes(out, group);
            put_bytes(out, name);
            put_u64(out, *seen_ms);
        }
    }
}

impl Reader<'_> {
    fn stream_id(&mut self) -> Result<StreamId, DecodeError> {
        Ok(StreamId::new(self.var()?, self.var()?))
    }

    fn counts<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<SmallVec<[(ServerId, T); 1]>, DecodeError> {
        let mut out: SmallVec<[(ServerId, T); 1]> = SmallVec::new();
        for _ in 0..self.count()? {
            let s = self.server()?;
            if out.last().is_some_and(|(last, _)| *last >= s) {
                return Err(DecodeError::Invalid("server order"));
            }
            let v = item(self)?;
            out.push((s, v));
        }
        Ok(out)
    }

    fn meta(&mut self) -> Result<Meta, DecodeError> {
        Ok(Meta {
            epoch: self.var()?,
            last: self.stream_id()?,
            max_deleted: self.stream_id()?,
            added_base: self.var()?,
            added: self.counts(|r| r.var())?,
        })
    }

    fn head(&mut self) -> Result<GroupHead, DecodeError> {
        Ok(GroupHead {
            epoch: self.var()?,
            base: self.stream_id()?,
            cursors: self.counts(|r| r.stream_id())?,
            entries_read: match self.u8()? {
                0 => None,
                1 => Some(self.var()?),
                _ => return Err(DecodeError::Invalid("entries-read flag")),
            },
        })
    }

    fn pending(&mut self) -> Result<Pending, DecodeError> {
        Ok(Pending {
            consumer: self.blob()?,
            delivered_ms: self.u64()?,
            count: self.var()?,
        })
    }

    fn fields(&mut self) -> Result<Box<[Blob]>, DecodeError> {
        let n = self.count()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.blob()?);
        }
        Ok(v.into())
    }

    /// The values of one register, each added to `x` by `add`.
    fn values(
        &mut self,
        mut add: impl FnMut(&mut Self, Tag) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        for _ in 0..self.count()? {
            let t = self.tag()?;
            add(self, t)?;
        }
        Ok(())
    }

    pub(super) fn stream(&mut self) -> Result<StreamPart, DecodeError> {
        let none = Tomb::default();
        let mut x = StreamPart::default();
        for _ in 0..self.count()? {
            let id = self.stream_id()?;
            let tag = self.tag()?;
            let fields = self.fields()?;
            x.add(&StreamAdd::Entry { id, fields }, tag, &none);
        }
        self.values(|r, t| {
            let m = r.meta()?;
            x.add(&StreamAdd::Meta(m), t, &none);
            Ok(())
        })?;
        for _ in 0..self.count()? {
            let group = self.blob()?;
            self.values(|r, t| {
                let head = r.head()?;
                let group = group.clone();
                x.add(&StreamAdd::Head { group, head }, t, &none);
                Ok(())
            })?;
            for _ in 0..self.count()? {
                let id = self.stream_id()?;
                self.values(|r, t| {
                    let pending = r.pending()?;
                    let group = group.clone();
                    x.add(&StreamAdd::Pending { group, id, pending }, t, &none);
                    Ok(())
                })?;
            }
            for _ in 0..self.count()? {
                let name = self.blob()?;
                self.values(|r, t| {
                    let seen_ms = r.u64()?;
                    let (group, name) = (group.clone(), name.clone());
                    x.add(
                        &StreamAdd::Consumer {
                            group,
                            name,
                            seen_ms,
                        },
                        t,
                        &none,
                    );
                    Ok(())
                })?;
            }
        }
        Ok(x)
    }

    pub(super) fn stream_loc(&mut self) -> Result<StreamLoc, DecodeError> {
        Ok(match self.u8()? {
            0 => StreamLoc::Entry(self.stream_id()?),
            1 => StreamLoc::Meta,
            2 => StreamLoc::Head(self.blob()?),
            3 => StreamLoc::Pending(self.blob()?, self.stream_id()?),
            4 => StreamLoc::Consumer(self.blob()?, self.blob()?),
            _ => return Err(DecodeError::Invalid("stream location")),
        })
    }

    pub(super) fn stream_add(&mut self) -> Result<StreamAdd, DecodeError> {
        Ok(match self.u8()? {
            0 => StreamAdd::Entry {
                id: self.stream_id()?,
                fields: self.fields()?,
            },
            1 => StreamAdd::Meta(self.meta()?),
            2 => StreamAdd::Head {
                group: self.blob()?,
                head: self.head()?,
            },
            3 => StreamAdd::Pending {
                group: self.blob()?,
                id: self.stream_id()?,
                pending: self.pending()?,
            },
            4 => StreamAdd::Consumer {
                group: self.blob()?,
                name: self.blob()?,
                seen_ms: self.u64()?,
            },
            _ => return Err(DecodeError::Invalid("stream piece")),
        })
    }
}
