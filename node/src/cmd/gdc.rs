//! gdc's own commands for operators and tests: GDC.DIGEST, GDC.DEBUG, GDC.ATTACH.

use super::{CmdResult, Ctx, int_arg};
use crate::engine::store::DATABASES;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::keyspace::{DIGEST_BUCKETS, bucket_of};

/// GDC.DIGEST [db]: the digest of a database as 16 hex digits; equal data, equal digests.
/// It counts what the keys hold (content and TTLs), not removal knowledge, whose collection
/// depends on what this node has heard from the others: nodes that applied the same ops
/// have equal digests whenever they are asked.
pub fn gdc_digest(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let db = match args.get(1).map(|a| int_arg(a)) {
        None => ctx.conn.db,
        Some(Ok(n)) if (0..DATABASES as i64).contains(&n) => n as usize,
        Some(Ok(_)) => return Ok(Reply::err("ERR DB index is out of range")),
        Some(Err(e)) => return Ok(e),
    };
    let detail = args
        .get(2)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase());
    let bucket = match (detail.as_deref(), args.len()) {
        (None, _) | (Some("buckets"), 3) => None,
        (Some("keys"), 4) => match int_arg(&args[3]) {
            Ok(b) if (0..DIGEST_BUCKETS as i64).contains(&b) => Some(b as usize),
            Ok(_) => return Ok(Reply::err("ERR bucket is out of range")),
            Err(e) => return Err(e),
        },
        _ => {
            return Ok(Reply::err(
                "ERR syntax error: GDC.DIGEST [db [BUCKETS | KEYS bucket]]",
            ));
        }
    };
    // Digests count what keys hold, not their removal knowledge: no collection first.
    let hex = |d: u64| Reply::bulk(format!("{d:016x}"));
    Ok(match (detail.as_deref(), bucket) {
        (None, _) => hex(ctx.store.digest(db)),
        (_, None) => Reply::Array(ctx.store.bucket_digests(db).into_iter().map(hex).collect()),
        // Key, digest, key, digest...: what `gdcctl verify` compares for a bucket that
        // differs. A key that holds only removal knowledge counts as absent, as in the
        // bucket's digest.
        (_, Some(b)) => {
            let mut keys: Vec<(&[u8], u64)> = ctx
                .store
                .db(db)
                .iter()
                .filter(|(key, _)| bucket_of(key) == b)
                .filter_map(|(key, state)| {
                    Some((&key[..], gdc_crdt::keyspace::counted_digest(key, state)?))
                })
                .collect();
            keys.sort_unstable();
            Reply::Array(
                keys.into_iter()
                    .flat_map(|(k, d)| [Reply::bulk(Bytes::copy_from_slice(k)), hex(d)])
                    .collect(),
            )
        }
    })
}

/// GDC.DEBUG SET-UNLOGGED key value: a test hook (accepted only with
/// `enable-debug-command yes`) that writes a string to a key without logging it, so no
/// channel carries it: only anti-entropy can bring the regions back together.
pub fn gdc_debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !ctx.config.debug_command {
        return Ok(Reply::err(
            "ERR GDC.DEBUG is not allowed: start the node with --enable-debug-command yes",
        ));
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    Ok(match (sub.as_str(), args.len()) {
        ("set-unlogged", 4) => {
            ctx.store
                .debug_set_unlogged(ctx.conn.db, &args[2], &args[3], ctx.now);
            Reply::OK
        }
        // The key's whole CRDT state (tags, TTL entries, removal knowledge), as text: what
        // to compare when two nodes' digests differ but their reads do not.
        ("state", 3) => {
            ctx.store.gc_all();
            match ctx.store.db(ctx.conn.db).get(&args[2]) {
                Some(state) => Reply::bulk(format!("{state:?}")),
                None => Reply::Nil,
            }
        }
        _ => Reply::err(format!(
            "ERR unknown GDC.DEBUG subcommand or wrong number of arguments for '{sub}'"
        )),
    })
}

/// GDC.ATTACH token instance coordinator [coordinator ...]: this node, so far on its own,
/// joins `instance` with its data, run from now on by those coordinators (what `gdcctl
/// child attach` sends). The token must be the node's own `--cluster-token`.
pub fn gdc_attach(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let text = |a: &Bytes| String::from_utf8_lossy(a).into_owned();
    let attachment = crate::engine::meta::Attachment {
        instance: text(&args[2]),
        region: ctx.config.region.clone(),
        coordinators: args[3..].iter().map(text).collect(),
    };
    Ok(
        match ctx.server.replication().attach(&args[1], attachment) {
            Ok(()) => Reply::OK,
            Err(e) => Reply::err(format!("ERR {e}")),
        },
    )
}
