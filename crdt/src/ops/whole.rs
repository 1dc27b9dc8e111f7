//! A whole Redis value of any type, and the overwrite of a key with one: what RENAME, COPY
//! and the *STORE commands write at their destination.

use super::dedup::{dedup, last_wins};
use super::observe::observe_all;
use super::streams::{StreamValue, whole_stream};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Value};
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::list::{Pos, pos_between};
use crate::string::value;

/// A whole Redis value, as RENAME, COPY and the *STORE commands write it.
#[derive(Clone, Debug, PartialEq)]
pub enum Whole {
    Str(Blob),
    Hash(Vec<(Blob, Blob)>),
    Set(Vec<Blob>),
    ZSet(Vec<(Blob, f64)>),
    List(Vec<Blob>),
    Stream(Box<StreamValue>),
}

impl Whole {
    /// The value a key reads as, or `None` when it has no live content.
    pub fn of(k: &KeyState) -> Option<Whole> {
        Some(match k.kind()? {
            Kind::String => Whole::Str(Blob::from(&*k.string_value()?)),
            Kind::Hash => Whole::Hash(
                k.hash()?
                    .fields()
                    .map(|(n, f)| (n.clone(), Blob::from(&*value(f))))
                    .collect(),
            ),
            Kind::Set => Whole::Set(k.set()?.members().cloned().collect()),
            Kind::ZSet => Whole::ZSet(k.zset()?.iter().map(|(m, s)| (m.clone(), s)).collect()),
            Kind::List => Whole::List(k.list()?.values().map(Blob::from).collect()),
            Kind::Stream => Whole::Stream(Box::new(StreamValue::of(k.stream()?))),
        })
    }
}

/// Overwrite a key with a whole value (any type), and the expiry `expire_at` if given: the
/// destination of RENAME, COPY and the *STORE commands. Everything observed of the old key is
/// removed, so a concurrent write elsewhere survives as with SET.
pub fn replace(key: Option<&KeyState>, tag: Tag, whole: &Whole, expire_at: Option<u64>) -> Effect {
    let mut e = Effect::new(tag);
    if let Some(k) = key {
        observe_all(k, &mut e);
    }
    match whole {
        Whole::Str(v) => e.adds.push(Addition::Write {
            loc: FieldLoc::Str,
            value: Value::Bytes(v.clone()),
        }),
        Whole::Hash(fields) => {
            for (n, v) in last_wins(fields) {
                e.adds.push(Addition::Write {
                    loc: FieldLoc::Hash(n.clone()),
                    value: Value::Bytes(v.clone()),
                });
            }
        }
        Whole::Set(members) => {
            for m in dedup(members) {
                e.adds.push(Addition::Member(m.clone()));
            }
        }
        Whole::ZSet(items) => {
            for (m, s) in last_wins(items) {
                e.adds.push(Addition::Write {
                    loc: FieldLoc::ZSet(m.clone()),
                    value: Value::Score(*s),
                });
            }
        }
        Whole::List(values) => {
            let mut last: Option<Pos> = None;
            for v in values {
                let pos = pos_between(last.as_ref(), None, tag.dot.server);
                last = Some(pos.clone());
                e.adds.push(Addition::ListInsert {
                    pos,
                    value: v.clone(),
                });
            }
        }
        Whole::Stream(v) => whole_stream(v, &mut e),
    }
    if let Some(at) = expire_at {
        e.adds.push(Addition::Expire(at));
    }
    e
}
