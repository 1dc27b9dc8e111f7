//! MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP. What this node holds, in its own
//! representation (a region's figures are its own; MEMORY is never replicated).

use super::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::heap::HeapSize;
use gdc_crdt::{Blob, KeyState};
use std::mem::size_of;

/// What a key costs beyond its state: its slot in the database's key table (the key and
/// the state side by side, and the table's index entry).
const ENTRY_BYTES: usize = size_of::<Blob>() + size_of::<KeyState>() + size_of::<u32>();

pub fn memory(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let alone = args.len() == 2;
    if is(sub, "usage") {
        usage(ctx, args)
    } else if is(sub, "stats") && alone {
        Ok(stats(ctx))
    } else if is(sub, "doctor") && alone {
        Ok(Reply::Text(Bytes::from_static(
            b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
        )))
    } else if is(sub, "malloc-stats") && alone {
        Ok(Reply::bulk("Stats not supported for the current allocator"))
    } else if is(sub, "purge") && alone {
        Ok(Reply::OK)
    } else if is(sub, "help") && alone {
        Ok(Reply::Array(
            [
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
                "HELP",
                "    Print this help.",
            ]
            .into_iter()
            .map(Reply::Status)
            .collect(),
        ))
    } else {
        Ok(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try MEMORY HELP.",
            String::from_utf8_lossy(sub)
        )))
    }
}

/// The bytes a key's state holds: its table entry, the key's own bytes if they do not fit
/// inline, and everything the state holds on the heap, CRDT metadata included (tags,
/// counters, removal knowledge). The whole state is walked: SAMPLES is accepted for
/// compatibility, and the answer is exact to the estimate's rules (gdc_crdt::heap).
fn key_bytes(key: &[u8], state: &KeyState) -> usize {
    // A key longer than a blob's inline buffer has its bytes on the heap.
    let key_heap = if key.len() > gdc_crdt::blob::BLOB_INLINE_BYTES {
        key.len()
    } else {
        0
    };
    ENTRY_BYTES + key_heap + state.heap_bytes()
}

/// MEMORY USAGE key [SAMPLES count]
fn usage(ctx: &Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(key) = args.get(2) else {
        return Ok(super::wrong_arity("memory|usage"));
    };
    match &args[3..] {
        [] => {}
        [word, n] if is(word, "samples") => {
            if int_arg(n)? < 0 {
                return Ok(syntax_error());
            }
        }
        _ => return Ok(syntax_error()),
    }
    Ok(match ctx.get(key) {
        Some(state) => Reply::Int(key_bytes(key, state) as i64),
        None => Reply::Nil,
    })
}

/// MEMORY STATS: Redis's fields, with gdc's figures where it has them.
fn stats(ctx: &Ctx<'_>) -> Reply {
    let used = crate::alloc::live_bytes().max(0) as u64;
    let peak = (crate::alloc::note_peak().max(0) as u64).max(used);
    let rss = crate::alloc::rss_bytes();
    let keys: usize = (0..crate::engine::store::DATABASES)
        .map(|db| ctx.store.db(db).len())
        .sum();
    let int = |n: u64| Reply::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let ratio = |a: u64, b: u64| Reply::Double(if b == 0 { 0.0 } else { a as f64 / b as f64 });
    let field = |k: &str, v: Reply| (Reply::bulk(k.to_string()), v);
    let mut m = vec![
        field("peak.allocated", int(peak)),
        field("total.allocated", int(used)),
        field("startup.allocated", int(0)),
        field("replication.backlog", int(0)),
        field("clients.slaves", int(0)),
        field("clients.normal", int(0)),
        field("cluster.links", int(0)),
        field("aof.buffer", int(0)),
        field("lua.caches", int(0)),
        field("functions.caches", int(0)),
    ];
    for db in 0..crate::engine::store::DATABASES {
        let held = ctx.store.db(db).len();
        if held > 0 {
            m.push(field(
                &format!("db.{db}"),
                Reply::Map(vec![
                    field("overhead.hashtable.main", int((held * ENTRY_BYTES) as u64)),
                    field("overhead.hashtable.expires", int(0)),
                ]),
            ));
        }
    }
    let overhead = (keys * ENTRY_BYTES) as u64;
    m.extend([
        field("overhead.total", int(overhead)),
        field("keys.count", int(keys as u64)),
        field(
            "keys.bytes-per-key",
            int(if keys == 0 { 0 } else { used / keys as u64 }),
        ),
        field("dataset.bytes", int(used.saturating_sub(overhead))),
        field(
            "dataset.percentage",
            ratio(used.saturating_sub(overhead) * 100, used),
        ),
        field("peak.percentage", ratio(used * 100, peak)),
        field("allocator.allocated", int(used)),
        field("allocator.active", int(used)),
        field("allocator.resident", int(rss)),
        field("allocator-fragmentation.ratio", ratio(1, 1)),
        field("allocator-fragmentation.bytes", int(0)),
        field("allocator.rss-ratio", ratio(rss, used)),
        field("allocator.rss-bytes", int(rss.saturating_sub(used))),
        field("rss-overhead.ratio", ratio(1, 1)),
        field("rss-overhead.bytes", int(0)),
        field("fragmentation", ratio(rss, used)),
        field("fragmentation.bytes", int(rss.saturating_sub(used))),
    ]);
    Reply::Map(m)
}
