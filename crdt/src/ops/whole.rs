//! A whole Redis value of any type, and the overwrite of a key with one: what RENAME, COPY
//! and the *STORE commands write at their destination.

use super::observe::observe_all;
use super::streams::{StreamValue, whole_stream};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Value};
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::list::{Pos, pos_between};

/// A whole Redis value, as RENAME, COPY and the *STORE commands write it. A hash, set or
/// sorted set names each field or member once: each maker sees to it (a key's content, a
/// computed result, a payload RESTORE checked), so that a write of a big one does not hash
/// every name again.
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
                    .map(|(n, f)| (Blob::from(n), Blob::from(&*f.value())))
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
    debug_assert!(names_once(whole), "a whole value names a field twice");
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
            for (n, v) in fields {
                e.adds.push(Addition::Write {
                    loc: FieldLoc::Hash(n.clone()),
                    value: Value::Bytes(v.clone()),
                });
            }
        }
        Whole::Set(members) => {
            for m in members {
                e.adds.push(Addition::Member(m.clone()));
            }
        }
        Whole::ZSet(items) => {
            for (m, s) in items {
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

/// Whether a hash, set or sorted set names each field or member once (see [`Whole`]).
fn names_once(whole: &Whole) -> bool {
    fn once<'a>(names: impl ExactSizeIterator<Item = &'a Blob>) -> bool {
        let n = names.len();
        names.collect::<hashbrown::HashSet<_>>().len() == n
    }
    match whole {
        Whole::Hash(fields) => once(fields.iter().map(|(n, _)| n)),
        Whole::Set(members) => once(members.iter()),
        Whole::ZSet(items) => once(items.iter().map(|(m, _)| m)),
        Whole::Str(_) | Whole::List(_) | Whole::Stream(_) => true,
    }
}
