//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST over Redis's own
//! HLL string (`gdc_crdt::hll`, here `sketch`), so a value moves between gdc and
//! redis-server either way. A write replicates as the string's resulting value; writes that
//! cross between regions read as their union (docs/semantics.md, "hyperloglog").

use gdc_crdt::hll as sketch;

use super::{CmdResult, Ctx};
use crate::reply::Reply;
use bytes::Bytes;
use sketch::Bad;
use std::borrow::Cow;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

fn bad(b: Bad) -> Reply {
    Reply::err(match b {
        Bad::NotHll => NOT_HLL,
        Bad::Corrupt => CORRUPT,
    })
}

/// The HLL string at `key`, if any, where it lies; an error for another type or a string
/// that is no HLL.
fn look<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<Cow<'a, [u8]>>, Reply> {
    let v = super::string::value_in_place(ctx, key)?;
    if let Some(v) = &v {
        sketch::check(v).map_err(bad)?;
    }
    Ok(v)
}

/// [`look`], a copy to change.
fn read(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    Ok(look(ctx, key)?.map(Cow::into_owned))
}

/// PFADD key [element ...]
pub fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let sparse_max = ctx.config.hll_sparse_bytes_max;
    // A dense HLL replicates the registers it raises, not its 12 KB: they merge by
    // maximum wherever they arrive (docs/semantics.md, "hyperloglog"). Others are written
    // whole.
    let (mut v, mut updated) = match look(ctx, key)? {
        // Most PFADDs to a large HLL change nothing: known without a copy of the string.
        Some(v) if !args[2..].iter().any(|e| sketch::may_change(&v, e)) => {
            return Ok(Reply::Int(0));
        }
        Some(v) if sketch::is_dense_hll(&v) => {
            let raises = sketch::dense_raises(&v, args[2..].iter().map(|e| &e[..]));
            super::bits::write_bits(ctx, key, &raises, Some("pfadd"))?;
            return Ok(Reply::Int(1));
        }
        Some(v) => (v.into_owned(), false),
        None => {
            let mut v = sketch::empty();
            // A new HLL is a change: its cached count is marked stale, as Redis marks it.
            v[15] |= 0x80;
            (v, true)
        }
    };
    for ele in &args[2..] {
        updated |= sketch::add(&mut v, ele, sparse_max).map_err(|_| Reply::err(CORRUPT))?;
    }
    if updated {
        super::string::rewrite(ctx, key, &v, Some("pfadd"))?;
    }
    Ok(Reply::Int(i64::from(updated)))
}

/// PFCOUNT key [key ...]
///
/// Redis stores the count it computes in the string's header, a write made by a read; gdc
/// does not, since that write would replace a concurrent PFADD of another region (the
/// string's rule): it remembers the count on this node instead (docs/compatibility.md).
pub fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        let mut max = vec![0u8; sketch::REGISTERS];
        for key in &args[1..] {
            if let Some(v) = look(ctx, key)? {
                sketch::merge_into(&mut max, &v).map_err(|_| Reply::err(CORRUPT))?;
            }
        }
        return Ok(Reply::Int(sketch::count_registers(&max) as i64));
    }
    let key = &args[1];
    let Some(v) = look(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let n = match sketch::cached_count(&v) {
        Some(n) => n,
        None => {
            let version = ctx.peek(key).and_then(|k| k.string_version());
            remembered_count(ctx.conn.db, key, version, &v)?
        }
    };
    Ok(Reply::Int(n as i64))
}

/// Counts this thread computed lately: the node's own stand-in for the count Redis stores
/// in the header (a count is a function of the string).
const REMEMBERED_MAX: usize = 4096;

/// Which string a remembered count is of.
#[derive(PartialEq, Eq, Hash)]
enum Counted {
    /// The value one op wrote to a key, with the bit writes (PFADD's register raises)
    /// baked into it since (database, op, how many, the key's hash).
    Write(usize, gdc_crdt::Dot, u64, u64),
    /// Any other value (a union of concurrent writes), by its bytes' hash.
    Bytes(u64),
}

thread_local! {
    static REMEMBERED: std::cell::RefCell<std::collections::HashMap<Counted, u64>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn remembered_count(
    db: usize,
    key: &[u8],
    version: Option<(gdc_crdt::Dot, u64)>,
    v: &[u8],
) -> Result<u64, Reply> {
    let id = match version {
        Some((dot, baked)) => Counted::Write(db, dot, baked, xxhash_rust::xxh3::xxh3_64(key)),
        None => Counted::Bytes(xxhash_rust::xxh3::xxh3_64(v)),
    };
    if let Some(n) = REMEMBERED.with(|r| r.borrow().get(&id).copied()) {
        return Ok(n);
    }
    let n = sketch::count(v).map_err(|_| Reply::err(CORRUPT))?;
    REMEMBERED.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() >= REMEMBERED_MAX {
            r.clear();
        }
        r.insert(id, n);
    });
    Ok(n)
}

/// PFMERGE destkey [sourcekey ...]: the destination's own registers count too.
pub fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut max = vec![0u8; sketch::REGISTERS];
    let mut dense = false;
    let mut dest = None;
    for (i, key) in args[1..].iter().enumerate() {
        let Some(v) = read(ctx, key)? else {
            continue;
        };
        dense |= sketch::is_dense(&v);
        sketch::merge_into(&mut max, &v).map_err(|_| Reply::err(CORRUPT))?;
        if i == 0 {
            dest = Some(v);
        }
    }
    let into = dest.unwrap_or_else(sketch::empty);
    let merged = sketch::with_registers(into, &max, dense, ctx.config.hll_sparse_bytes_max)
        .map_err(|_| Reply::err(CORRUPT))?;
    super::string::rewrite(ctx, &args[1], &merged, Some("pfadd"))?;
    Ok(Reply::Status("OK"))
}

/// PFDEBUG GETREG | DECODE | ENCODING | TODENSE key
pub fn pfdebug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let key = &args[2];
    let Some(mut v) = read(ctx, key)? else {
        return Err(Reply::err("ERR The specified key does not exist"));
    };
    let is = |name: &str| super::is(sub, name);
    if is("getreg") || is("todense") {
        let converted = sketch::make_dense(&mut v).map_err(|_| Reply::err(CORRUPT))?;
        let registers = is("getreg").then(|| {
            Reply::Array(
                sketch::dense_registers(&v)
                    .map(|r| Reply::Int(i64::from(r)))
                    .collect(),
            )
        });
        if converted {
            super::string::rewrite(ctx, key, &v, None)?;
        }
        return Ok(registers.unwrap_or(Reply::Int(i64::from(converted))));
    }
    if is("decode") {
        if sketch::is_dense(&v) {
            return Err(Reply::err("ERR HLL encoding is not sparse"));
        }
        return Ok(Reply::bulk(sketch::decode_runs(&v)));
    }
    if is("encoding") {
        return Ok(Reply::Status(if sketch::is_dense(&v) {
            "dense"
        } else {
            "sparse"
        }));
    }
    Err(Reply::err(format!(
        "ERR Unknown PFDEBUG subcommand '{}'",
        String::from_utf8_lossy(sub)
    )))
}

/// PFSELFTEST
pub fn pfselftest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let seed = crate::engine::store::now_ms() | 1;
    sketch::self_test(ctx.config.hll_sparse_bytes_max, seed).map_err(Reply::err)?;
    Ok(Reply::Status("OK"))
}
