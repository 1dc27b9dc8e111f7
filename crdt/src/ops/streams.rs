//! Builders for the stream commands: XADD (with its trimming), XDEL and XTRIM, XSETID, and
//! the consumer-group writes (XGROUP, XREADGROUP's deliveries, XACK, XCLAIM). The caller
//! decides at the origin what a command does (the id, which entries a trim removes, what a
//! read delivers); the builders turn that into pieces added and pieces observed and removed.

use super::observe::{begin, removal};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, Loc};
use crate::error::OpError;
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::stream::{GroupHead, Meta, Pending, StreamAdd, StreamId, StreamLoc, StreamPart};

fn add(e: &mut Effect, a: StreamAdd) {
    e.adds.push(Addition::Stream(Box::new(a)));
}

fn remove(e: &mut Effect, loc: StreamLoc, dot: crate::ids::Dot) {
    e.removes.push(removal(Loc::Stream(Box::new(loc)), dot));
}

/// Replace the stream's numbers with `m`: the values observed go.
fn write_meta(x: Option<&StreamPart>, m: Meta, e: &mut Effect) {
    for (t, _) in x.map_or(&[][..], |x| x.meta_values()) {
        remove(e, StreamLoc::Meta, t.dot);
    }
    add(e, StreamAdd::Meta(m));
}

fn remove_entries(x: &StreamPart, ids: &[StreamId], e: &mut Effect) {
    for id in ids {
        if let Some(entry) = x.get(*id) {
            remove(e, StreamLoc::Entry(*id), entry.tag.dot);
        }
    }
}

/// The typed start of a stream write: the stream as the write sees it.
fn begin_stream<'a>(
    key: Option<&'a KeyState>,
    now_ms: u64,
    e: &mut Effect,
) -> Result<Option<&'a StreamPart>, OpError> {
    Ok(begin(key, now_ms, Kind::Stream, e)?.and_then(KeyState::stream))
}

/// XADD of the entry `id` (chosen by the caller, above the stream's last id), with the
/// entries its trimming removes.
pub fn xadd(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    id: StreamId,
    fields: &[Blob],
    trimmed: &[StreamId],
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let x = begin_stream(key, now_ms, &mut e)?;
    let mut m = x.map(StreamPart::meta).unwrap_or_default();
    m.last = m.last.max(id);
    m.count_added(tag.dot.server);
    if let Some(x) = x {
        remove_entries(x, trimmed, &mut e);
    }
    write_meta(x, m, &mut e);
    // A trim that takes the new entry too (MAXLEN 0) leaves only the numbers it changed.
    if !trimmed.contains(&id) {
        add(
            &mut e,
            StreamAdd::Entry {
                id,
                fields: fields.into(),
            },
        );
    }
    Ok(e)
}

/// XDEL (`deleted`: it records the largest id deleted) and XTRIM: remove entries observed.
/// `None` when the stream does not exist.
pub fn xremove(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    ids: &[StreamId],
    deleted: bool,
) -> Result<Option<Effect>, OpError> {
    let mut e = Effect::new(tag);
    let Some(x) = begin_stream(key, now_ms, &mut e)? else {
        return Ok(None);
    };
    remove_entries(x, ids, &mut e);
    if deleted {
        let mut m = x.meta();
        if let Some(top) = ids.iter().filter(|id| x.contains(**id)).max() {
            m.max_deleted = m.max_deleted.max(*top);
        }
        write_meta(Some(x), m, &mut e);
    }
    Ok(Some(e))
}

/// XSETID: the stream's numbers restart from these values (a new epoch, which wins over
/// concurrent XADDs' numbers; their entries stay).
pub fn xsetid(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    last: StreamId,
    max_deleted: Option<StreamId>,
    entries_added: Option<u64>,
) -> Result<Option<Effect>, OpError> {
    let mut e = Effect::new(tag);
    let Some(x) = begin_stream(key, now_ms, &mut e)? else {
        return Ok(None);
    };
    let cur = x.meta();
    let m = cur.restart(
        last,
        max_deleted.unwrap_or(cur.max_deleted),
        entries_added.unwrap_or(cur.entries_added()),
    );
    write_meta(Some(x), m, &mut e);
    Ok(Some(e))
}

/// What a consumer-group write changes.
#[derive(Clone, Debug, Default)]
pub struct GroupChange {
    /// Make the stream, empty, when it does not exist (XGROUP CREATE ... MKSTREAM).
    pub make_stream: bool,
    /// The group's new delivery state (creation, SETID, a delivery by `>`).
    pub head: Option<GroupHead>,
    /// Pending entries written (`Some`) or acknowledged (`None`).
    pub pending: Vec<(StreamId, Option<Pending>)>,
    /// Consumers seen at a time (`Some`) or deleted (`None`).
    pub consumers: Vec<(Blob, Option<u64>)>,
    /// XGROUP DESTROY: everything observed of the group goes.
    pub destroy: bool,
}

/// A write to the consumer group `group`. `None` when the stream does not exist and the
/// change does not make it.
pub fn group_change(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    group: &Blob,
    c: &GroupChange,
) -> Result<Option<Effect>, OpError> {
    let mut e = Effect::new(tag);
    let x = begin_stream(key, now_ms, &mut e)?;
    if x.is_none() {
        if !c.make_stream {
            return Ok(None);
        }
        add(&mut e, StreamAdd::Meta(Meta::default()));
    }
    let g = x.and_then(|x| x.all_groups().find(|(n, _)| *n == group).map(|(_, g)| g));
    if c.destroy {
        if let Some(g) = g {
            for (t, _) in g.head_values() {
                remove(&mut e, StreamLoc::Head(group.clone()), t.dot);
            }
            for (id, _) in g.pending() {
                for (t, _) in g.pending_values(id) {
                    remove(&mut e, StreamLoc::Pending(group.clone(), id), t.dot);
                }
            }
            for name in g.consumers().keys() {
                for (t, _) in g.consumer_values(name) {
                    remove(
                        &mut e,
                        StreamLoc::Consumer(group.clone(), (*name).clone()),
                        t.dot,
                    );
                }
            }
        }
        return Ok(Some(e));
    }
    if let Some(h) = &c.head {
        for (t, _) in g.map_or(&[][..], |g| g.head_values()) {
            remove(&mut e, StreamLoc::Head(group.clone()), t.dot);
        }
        add(
            &mut e,
            StreamAdd::Head {
                group: group.clone(),
                head: h.clone(),
            },
        );
    }
    for (id, p) in &c.pending {
        for (t, _) in g.map_or(&[][..], |g| g.pending_values(*id)) {
            remove(&mut e, StreamLoc::Pending(group.clone(), *id), t.dot);
        }
        if let Some(p) = p {
            add(
                &mut e,
                StreamAdd::Pending {
                    group: group.clone(),
                    id: *id,
                    pending: p.clone(),
                },
            );
        }
    }
    for (name, seen) in &c.consumers {
        for (t, _) in g.map_or(&[][..], |g| g.consumer_values(name)) {
            remove(
                &mut e,
                StreamLoc::Consumer(group.clone(), name.clone()),
                t.dot,
            );
        }
        if let Some(seen_ms) = seen {
            add(
                &mut e,
                StreamAdd::Consumer {
                    group: group.clone(),
                    name: name.clone(),
                    seen_ms: *seen_ms,
                },
            );
        }
    }
    Ok((!e.is_empty()).then_some(e))
}

/// Remove a stream's content piece by piece (content hidden by a type clash).
pub(super) fn observe_stream(x: &StreamPart, e: &mut Effect) {
    for (id, entry) in x.entries() {
        remove(e, StreamLoc::Entry(id), entry.tag.dot);
    }
    for (t, _) in x.meta_values() {
        remove(e, StreamLoc::Meta, t.dot);
    }
    for (name, g) in x.all_groups() {
        for (t, _) in g.head_values() {
            remove(e, StreamLoc::Head(name.clone()), t.dot);
        }
        for (id, _) in g.pending() {
            for (t, _) in g.pending_values(id) {
                remove(e, StreamLoc::Pending(name.clone(), id), t.dot);
            }
        }
        for consumer in g.consumers().keys() {
            for (t, _) in g.consumer_values(consumer) {
                remove(
                    e,
                    StreamLoc::Consumer(name.clone(), (*consumer).clone()),
                    t.dot,
                );
            }
        }
    }
}

/// The pieces of a whole stream value written by one op (RENAME, COPY): entries keep their
/// ids; the numbers and groups are copied as they read.
pub(super) fn whole_stream(v: &StreamValue, e: &mut Effect) {
    for (id, fields) in &v.entries {
        add(
            e,
            StreamAdd::Entry {
                id: *id,
                fields: fields.clone(),
            },
        );
    }
    add(e, StreamAdd::Meta(v.meta.clone()));
    for g in &v.groups {
        add(
            e,
            StreamAdd::Head {
                group: g.name.clone(),
                head: g.head.clone(),
            },
        );
        for (id, p) in &g.pending {
            add(
                e,
                StreamAdd::Pending {
                    group: g.name.clone(),
                    id: *id,
                    pending: p.clone(),
                },
            );
        }
        for (name, seen) in &g.consumers {
            add(
                e,
                StreamAdd::Consumer {
                    group: g.name.clone(),
                    name: name.clone(),
                    seen_ms: *seen,
                },
            );
        }
    }
}

/// A stream as a whole value (what RENAME and COPY carry).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamValue {
    pub entries: Vec<(StreamId, Box<[Blob]>)>,
    pub meta: Meta,
    pub groups: Vec<GroupValue>,
}

/// A consumer group as a whole value.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupValue {
    pub name: Blob,
    pub head: GroupHead,
    pub pending: Vec<(StreamId, Pending)>,
    pub consumers: Vec<(Blob, u64)>,
}

impl StreamValue {
    pub fn of(x: &StreamPart) -> StreamValue {
        let m = x.meta();
        let meta = Meta {
            epoch: 0,
            last: x.last_id(),
            max_deleted: m.max_deleted,
            added_base: m.entries_added(),
            added: Default::default(),
        };
        let groups = x
            .groups()
            .map(|(name, g)| {
                let h = g.head();
                GroupValue {
                    name: name.clone(),
                    head: GroupHead {
                        epoch: 0,
                        base: h.last_delivered(),
                        cursors: Default::default(),
                        entries_read: h.entries_read,
                    },
                    pending: g.pending().map(|(id, p)| (id, p.clone())).collect(),
                    consumers: g
                        .consumers()
                        .into_iter()
                        .map(|(n, t)| (n.clone(), t))
                        .collect(),
                }
            })
            .collect();
        StreamValue {
            entries: x.entries().map(|(id, e)| (id, e.fields)).collect(),
            meta,
            groups,
        }
    }
}
