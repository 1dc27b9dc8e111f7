//! Streams, as Redis serializes them: the entries in listpack nodes keyed by their first id
//! (each entry's id a delta from it; an entry naming the node's first field names stores only
//! its values), then the stream's numbers, then each consumer group with its pending
//! entries and consumers. Read: `STREAM_LISTPACKS` (Redis 5-6), `_2` (7.0) and `_3` (7.2,
//! consumers' active time, dropped); written: `_2`, as Redis 7.0 writes it.

use super::packed::{self, Entry};
use super::read::Reader;
use super::write::Writer;
use super::{Error, bad, kind};
use gdc_crdt::Blob;
use gdc_crdt::ops::{GroupValue, StreamValue};
use gdc_crdt::stream::{Counts, GroupHead, Meta, Pending, StreamId};

/// An entry's flags in its node.
const DELETED: i64 = 1;
const SAME_FIELDS: i64 = 2;

/// Entries per node written (Redis's default `stream-node-max-entries`).
const NODE_ENTRIES: usize = 100;

fn id_of_raw(b: &[u8]) -> Result<StreamId, Error> {
    let b: &[u8; 16] = b.try_into().map_err(|_| bad("stream id"))?;
    let ms = u64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
    let seq = u64::from_be_bytes(b[8..].try_into().expect("8 bytes"));
    Ok(StreamId::new(ms, seq))
}

fn raw_of_id(id: StreamId) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&id.ms.to_be_bytes());
    out[8..].copy_from_slice(&id.seq.to_be_bytes());
    out
}

fn int(e: Option<&Entry<'_>>) -> Result<i64, Error> {
    match e {
        Some(Entry::Int(i)) => Ok(*i),
        Some(Entry::Text(t)) => gdc_crdt::string::parse_i64(t).ok_or(bad("stream node")),
        None => Err(bad("stream node")),
    }
}

/// The live entries of one node whose first id is `master`.
fn node_entries(
    master: StreamId,
    items: &[Entry<'_>],
    out: &mut Vec<(StreamId, Box<[Blob]>)>,
) -> Result<(), Error> {
    let mut it = items.iter();
    let _live = int(it.next())?;
    let _deleted = int(it.next())?;
    let n_master = usize::try_from(int(it.next())?).map_err(|_| bad("stream node"))?;
    let master_fields: Vec<Blob> = (0..n_master)
        .map(|_| it.next().map(|e| e.to_blob()).ok_or(bad("stream node")))
        .collect::<Result<_, _>>()?;
    if int(it.next())? != 0 {
        return Err(bad("stream node terminator"));
    }
    while let Some(flags) = it.next() {
        let flags = int(Some(flags))?;
        let ms = master.ms.wrapping_add(int(it.next())? as u64);
        let seq = master.seq.wrapping_add(int(it.next())? as u64);
        let mut fields = Vec::new();
        if flags & SAME_FIELDS != 0 {
            for f in &master_fields {
                fields.push(f.clone());
                fields.push(it.next().ok_or(bad("stream entry"))?.to_blob());
            }
        } else {
            let n = usize::try_from(int(it.next())?).map_err(|_| bad("stream entry"))?;
            for _ in 0..2 * n {
                fields.push(it.next().ok_or(bad("stream entry"))?.to_blob());
            }
        }
        let _lp_count = int(it.next())?;
        if flags & DELETED == 0 {
            let id = StreamId::new(ms, seq);
            if out.last().is_some_and(|(last, _)| *last >= id) {
                return Err(bad("stream entries out of order"));
            }
            out.push((id, fields.into()));
        }
    }
    Ok(())
}

fn id(r: &mut Reader<'_>) -> Result<StreamId, Error> {
    Ok(StreamId::new(r.number()?, r.number()?))
}

/// A stream of type `kind` (one of the three `STREAM_LISTPACKS`).
pub(super) fn read(r: &mut Reader<'_>, kind: u8) -> Result<StreamValue, Error> {
    let v2 = kind != kind::STREAM_LISTPACKS;
    let mut entries = Vec::new();
    for _ in 0..r.count()? {
        let master = id_of_raw(&r.string()?)?;
        let blob = r.string()?;
        let items = packed::listpack(&blob)?;
        if items.is_empty() {
            return Err(bad("empty stream node"));
        }
        node_entries(master, &items, &mut entries)?;
    }
    let length = r.count()?;
    if length != entries.len() {
        return Err(bad("stream length"));
    }
    let last = id(r)?;
    let (max_deleted, added) = if v2 {
        let _first = id(r)?;
        (id(r)?, r.number()?)
    } else {
        (StreamId::ZERO, length as u64)
    };
    if entries.last().is_some_and(|(top, _)| *top > last) {
        return Err(bad("stream last id"));
    }
    let mut groups = Vec::new();
    for _ in 0..r.count()? {
        let name = r.blob()?;
        let delivered = id(r)?;
        // -1 (unknown) is written as the largest 64-bit length.
        let entries_read = if v2 {
            Some(r.number()?).filter(|n| *n != u64::MAX)
        } else {
            None
        };
        let mut pending = Vec::new();
        for _ in 0..r.count()? {
            let id = id_of_raw(r.raw(16)?)?;
            let delivered_ms = r.millis()?;
            let count = r.number()?;
            pending.push((id, delivered_ms, count));
        }
        let mut consumers = Vec::new();
        let mut owners = std::collections::HashMap::new();
        for _ in 0..r.count()? {
            let cname = r.blob()?;
            let seen = r.millis()?;
            if kind == kind::STREAM_LISTPACKS_3 {
                let _active = r.millis()?;
            }
            for _ in 0..r.count()? {
                owners.insert(id_of_raw(r.raw(16)?)?, cname.clone());
            }
            consumers.push((cname, seen));
        }
        let pending = pending
            .into_iter()
            .map(|(id, delivered_ms, count)| {
                let consumer = owners
                    .get(&id)
                    .cloned()
                    .ok_or(bad("pending entry without owner"))?;
                Ok((
                    id,
                    Pending {
                        consumer,
                        delivered_ms,
                        count,
                    },
                ))
            })
            .collect::<Result<_, Error>>()?;
        // Before Redis 7 a group kept no read counter: estimated, as Redis loads it.
        let entries_read = if v2 {
            entries_read
        } else {
            Counts {
                added,
                len: length as u64,
                first: entries.first().map_or(StreamId::ZERO, |(id, _)| *id),
                last,
                max_deleted,
            }
            .estimate_read(delivered)
        };
        groups.push(GroupValue {
            name,
            head: GroupHead {
                base: delivered,
                entries_read,
                ..GroupHead::default()
            },
            pending,
            consumers,
        });
    }
    Ok(StreamValue {
        entries,
        meta: Meta {
            last,
            max_deleted,
            added_base: added,
            ..Meta::default()
        },
        groups,
    })
}

/// A listpack element as Redis appends it: a string that reads as a 64-bit integer is
/// stored as one.
fn element(b: &[u8]) -> Entry<'_> {
    match gdc_crdt::string::parse_i64(b) {
        Some(i) => Entry::Int(i),
        None => Entry::Text(b),
    }
}

/// One node: the master entry (counts, the first entry's field names), then each entry.
fn node(master: StreamId, entries: &[(StreamId, Box<[Blob]>)]) -> Vec<u8> {
    let names: Vec<&Blob> = entries[0].1.iter().step_by(2).collect();
    let mut items: Vec<Entry<'_>> = vec![
        Entry::Int(entries.len() as i64),
        Entry::Int(0),
        Entry::Int(names.len() as i64),
    ];
    items.extend(names.iter().map(|n| element(n)));
    items.push(Entry::Int(0));
    for (id, fields) in entries {
        let same = fields.len() == 2 * names.len()
            && fields.iter().step_by(2).zip(&names).all(|(a, b)| a == *b);
        items.push(Entry::Int(if same { SAME_FIELDS } else { 0 }));
        items.push(Entry::Int(id.ms.wrapping_sub(master.ms) as i64));
        items.push(Entry::Int(id.seq.wrapping_sub(master.seq) as i64));
        if same {
            items.extend(fields.iter().skip(1).step_by(2).map(|v| element(v)));
            items.push(Entry::Int(names.len() as i64 + 3));
        } else {
            items.push(Entry::Int((fields.len() / 2) as i64));
            items.extend(fields.iter().map(|f| element(f)));
            items.push(Entry::Int(fields.len() as i64 + 4));
        }
    }
    packed::to_listpack(&items)
}

/// A stream as `STREAM_LISTPACKS_2`, type byte included.
pub(super) fn write(w: &mut Writer, v: &StreamValue) {
    w.out.push(kind::STREAM_LISTPACKS_2);
    let nodes: Vec<_> = v.entries.chunks(NODE_ENTRIES).collect();
    w.len(nodes.len() as u64);
    for chunk in nodes {
        let master = chunk[0].0;
        w.string(&raw_of_id(master));
        w.string(&node(master, chunk));
    }
    let first = v.entries.first().map_or(StreamId::ZERO, |(id, _)| *id);
    w.len(v.entries.len() as u64);
    for id in [v.meta.last, first, v.meta.max_deleted] {
        w.len(id.ms);
        w.len(id.seq);
    }
    w.len(v.meta.entries_added());
    w.len(v.groups.len() as u64);
    for g in &v.groups {
        w.string(&g.name);
        let delivered = g.head.last_delivered();
        w.len(delivered.ms);
        w.len(delivered.seq);
        w.len(g.head.entries_read.unwrap_or(u64::MAX));
        w.len(g.pending.len() as u64);
        for (id, p) in &g.pending {
            w.out.extend_from_slice(&raw_of_id(*id));
            w.out.extend_from_slice(&p.delivered_ms.to_le_bytes());
            w.len(p.count);
        }
        w.len(g.consumers.len() as u64);
        for (name, seen) in &g.consumers {
            w.string(name);
            w.out.extend_from_slice(&seen.to_le_bytes());
            let mine: Vec<StreamId> = g
                .pending
                .iter()
                .filter(|(_, p)| p.consumer == *name)
                .map(|(id, _)| *id)
                .collect();
            w.len(mine.len() as u64);
            for id in mine {
                w.out.extend_from_slice(&raw_of_id(id));
            }
        }
    }
}
