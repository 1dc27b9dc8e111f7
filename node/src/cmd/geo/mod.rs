//! Geo commands: a geospatial index is a sorted set whose scores are geohashes
//! ([`geohash`]), so GEOADD is a ZADD and every conflict rule is the sorted set's
//! (docs/semantics.md, "Geo"). Replies, errors and the order of unsorted results are
//! Redis 7.0's.

mod geohash;

use super::{CmdResult, Ctx, float_arg, int_arg, is, syntax_error};
use crate::notify::events::ZSET;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::zset::ZSetPart;
use gdc_crdt::{Blob, ops};
use geohash::{Search, Shape};

use super::zset::read;

/// A longitude and a latitude, as Redis reads and checks them.
fn position_args(args: &[Bytes]) -> Result<(f64, f64), Reply> {
    let long = float_arg(&args[0])?;
    let lat = float_arg(&args[1])?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&long)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Reply::err(format!(
            "ERR invalid longitude,latitude pair {long:.6},{lat:.6}"
        )));
    }
    Ok((long, lat))
}

/// A unit's meters.
fn unit_arg(b: &[u8]) -> Result<f64, Reply> {
    Ok(match () {
        _ if is(b, "m") => 1.0,
        _ if is(b, "km") => 1000.0,
        _ if is(b, "ft") => 0.3048,
        _ if is(b, "mi") => 1609.34,
        _ => {
            return Err(Reply::err(
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ));
        }
    })
}

/// A float argument, with Redis's message of choice when it is not one.
fn float_or(b: &[u8], msg: &str) -> Result<f64, Reply> {
    float_arg(b).map_err(|_| Reply::err(format!("ERR {msg}")))
}

/// `radius unit`: the radius and the unit's meters.
fn radius_args(args: &[Bytes]) -> Result<(f64, f64), Reply> {
    let radius = float_or(&args[0], "need numeric radius")?;
    if radius < 0.0 {
        return Err(Reply::err("ERR radius cannot be negative"));
    }
    Ok((radius, unit_arg(&args[1])?))
}

/// `width height unit`.
fn box_args(args: &[Bytes]) -> Result<(f64, f64, f64), Reply> {
    let width = float_or(&args[0], "need numeric width")?;
    let height = float_or(&args[1], "need numeric height")?;
    if height < 0.0 || width < 0.0 {
        return Err(Reply::err("ERR height or width cannot be negative"));
    }
    Ok((width, height, unit_arg(&args[2])?))
}

/// A distance as Redis prints one: four decimals, rounded as `llrint` rounds.
fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

/// A coordinate as Redis prints one (its long double in plain notation, 17 decimals,
/// trailing zeros cut).
fn coordinate(x: f64) -> Reply {
    let mut s = format!("{x:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    Reply::DoubleText(s)
}

/// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
pub fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut at = 2;
    while at < args.len() {
        let a = &args[at];
        match () {
            _ if is(a, "nx") => nx = true,
            _ if is(a, "xx") => xx = true,
            _ if is(a, "ch") => {}
            _ => break,
        }
        at += 1;
    }
    let triples = &args[at..];
    if triples.is_empty() || triples.len() % 3 != 0 || (xx && nx) {
        return Err(syntax_error());
    }
    // As Redis does: the same arguments for ZADD, each position turned into its score.
    let mut zadd: Vec<Bytes> = Vec::with_capacity(at + triples.len() / 3 * 2);
    zadd.push(Bytes::from_static(b"zadd"));
    zadd.extend(args[1..at].iter().cloned());
    for t in triples.chunks(3) {
        let (long, lat) = position_args(&t[..2])?;
        let score = geohash::score_of(long, lat).expect("checked position");
        zadd.push(Bytes::from(score.to_string()));
        zadd.push(t[2].clone());
    }
    super::zset::zadd(ctx, &zadd)
}

/// GEOPOS key [member ...]
pub fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let z = read(ctx, &args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => {
                    let (long, lat) = geohash::position_of(score);
                    Reply::Array(vec![coordinate(long), coordinate(lat)])
                }
                None => Reply::NilArray,
            })
            .collect(),
    ))
}

/// GEOHASH key [member ...]
pub fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let z = read(ctx, &args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| {
                let text = z.and_then(|z| z.score(m)).and_then(|score| {
                    let (long, lat) = geohash::position_of(score);
                    geohash::text_of(long, lat)
                });
                text.map_or(Reply::Nil, Reply::bulk)
            })
            .collect(),
    ))
}

/// GEODIST key member1 member2 [M | KM | FT | MI]
pub fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => unit_arg(&args[4])?,
        _ => return Err(syntax_error()),
    };
    let Some(z) = read(ctx, &args[1])? else {
        return Ok(Reply::Nil);
    };
    let (Some(a), Some(b)) = (z.score(&args[2]), z.score(&args[3])) else {
        return Ok(Reply::Nil);
    };
    let (a, b) = (geohash::position_of(a), geohash::position_of(b));
    let d = geohash::distance(a.0, a.1, b.0, b.1) / to_meters;
    Ok(Reply::bulk(distance_text(d)))
}

/// The command a search runs as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS[_RO]: around a position.
    Radius { store: bool },
    /// GEORADIUSBYMEMBER[_RO]: around a member.
    ByMember { store: bool },
    /// GEOSEARCH, or GEOSEARCHSTORE (`store`).
    Search { store: bool },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A member a search found.
struct Found {
    member: Blob,
    /// Meters, until the reply converts it.
    dist: f64,
    score: f64,
    long: f64,
    lat: f64,
}

pub fn georadius(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::Radius { store: true })
}

pub fn georadius_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::Radius { store: false })
}

pub fn georadiusbymember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::ByMember { store: true })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::ByMember { store: false })
}

pub fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::Search { store: false })
}

pub fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Form::Search { store: true })
}

const NO_MEMBER: &str = "ERR could not decode requested zset member";

/// Every search command, as Redis's `georadiusGeneric` reads its arguments: the checks come
/// in its order, so the same bad command gets the same error.
fn search(ctx: &mut Ctx<'_>, args: &[Bytes], form: Form) -> CmdResult {
    let src_at = if form == (Form::Search { store: true }) {
        2
    } else {
        1
    };
    let src = &args[src_at];
    let z = read(ctx, src)?;
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let base = match form {
        Form::Radius { .. } => {
            center = Some(position_args(&args[2..4])?);
            let (r, unit) = radius_args(&args[4..6])?;
            shape = Some((Shape::Radius(r), unit));
            6
        }
        Form::ByMember { .. } => {
            if let Some(z) = z {
                let score = z.score(&args[2]).ok_or_else(|| Reply::err(NO_MEMBER))?;
                center = Some(geohash::position_of(score));
                let (r, unit) = radius_args(&args[3..5])?;
                shape = Some((Shape::Radius(r), unit));
            }
            5
        }
        Form::Search { .. } => src_at + 1,
    };
    let searching = matches!(form, Form::Search { .. });
    let may_store = matches!(
        form,
        Form::Radius { store: true } | Form::ByMember { store: true }
    );
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_position, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let mut store: Option<(&Bytes, bool)> = match form {
        Form::Search { store: true } => Some((&args[1], false)),
        _ => None,
    };
    let opts = &args[base.min(args.len())..];
    let left = |i: usize| opts.len() - i - 1;
    let mut i = 0;
    while i < opts.len() {
        let a = &opts[i];
        match () {
            _ if is(a, "withdist") => withdist = true,
            _ if is(a, "withhash") => withhash = true,
            _ if is(a, "withcoord") => withcoord = true,
            _ if is(a, "any") => any = true,
            _ if is(a, "asc") => sort = Sort::Asc,
            _ if is(a, "desc") => sort = Sort::Desc,
            _ if is(a, "count") && left(i) >= 1 => {
                count = int_arg(&opts[i + 1])?;
                if count <= 0 {
                    return Err(Reply::err("ERR COUNT must be > 0"));
                }
                i += 1;
            }
            _ if (is(a, "store") || is(a, "storedist")) && left(i) >= 1 && may_store => {
                store = Some((&opts[i + 1], is(a, "storedist")));
                i += 1;
            }
            _ if is(a, "storedist") && form == (Form::Search { store: true }) => {
                store = Some((&args[1], true));
            }
            _ if is(a, "frommember") && left(i) >= 1 && searching && !from_position => {
                if let Some(z) = z {
                    let score = z.score(&opts[i + 1]).ok_or_else(|| Reply::err(NO_MEMBER))?;
                    center = Some(geohash::position_of(score));
                }
                from_member = true;
                i += 1;
            }
            _ if is(a, "fromlonlat") && left(i) >= 2 && searching && !from_member => {
                center = Some(position_args(&opts[i + 1..i + 3])?);
                from_position = true;
                i += 2;
            }
            _ if is(a, "byradius") && left(i) >= 2 && searching && !by_box => {
                let (r, unit) = radius_args(&opts[i + 1..i + 3])?;
                shape = Some((Shape::Radius(r), unit));
                by_radius = true;
                i += 2;
            }
            _ if is(a, "bybox") && left(i) >= 3 && searching && !by_radius => {
                let (width, height, unit) = box_args(&opts[i + 1..i + 4])?;
                shape = Some((Shape::Box { width, height }, unit));
                by_box = true;
                i += 3;
            }
            _ => return Err(syntax_error()),
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if searching {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Reply::err(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(&args[0]);
    if searching && !(from_member || from_position) {
        return Err(Reply::err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if searching && !(by_radius || by_box) {
        return Err(Reply::err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(Reply::err("ERR the ANY argument requires COUNT argument"));
    }
    let (Some(z), Some((long, lat)), Some((shape, to_meters))) = (z, center, shape) else {
        // No source key.
        return Ok(match store {
            Some((dest, _)) => {
                ctx.store_whole(dest, None, (ZSET, "georadiusstore"))?;
                Reply::Int(0)
            }
            None => Reply::Array(Vec::new()),
        });
    };
    // COUNT without an order is ascending, as Redis's, unless ANY.
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let query = Search {
        long,
        lat,
        shape,
        to_meters,
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = find(z, &query, limit);
    if found.is_empty() && store.is_none() {
        return Ok(Reply::Array(Vec::new()));
    }
    // Stable, as the C library's sort Redis calls: equal distances keep the order found.
    match sort {
        Sort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    if count > 0 {
        found.truncate(count as usize);
    }
    for f in &mut found {
        f.dist /= to_meters;
    }
    if let Some((dest, by_dist)) = store {
        let n = found.len() as i64;
        let items: Vec<(Blob, f64)> = found
            .into_iter()
            .map(|f| (f.member, if by_dist { f.dist } else { f.score }))
            .collect();
        let whole = (!items.is_empty()).then(|| ops::Whole::ZSet(items));
        let event = if searching {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        ctx.store_whole(dest, whole, (ZSET, event))?;
        return Ok(Reply::Int(n));
    }
    let extras = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|f| {
                let member = Reply::Bulk(Bytes::copy_from_slice(&f.member));
                if extras == 0 {
                    return member;
                }
                let mut item = Vec::with_capacity(extras + 1);
                item.push(member);
                if withdist {
                    item.push(Reply::bulk(distance_text(f.dist)));
                }
                if withhash {
                    item.push(Reply::Int(f.score as i64));
                }
                if withcoord {
                    item.push(Reply::Array(vec![coordinate(f.long), coordinate(f.lat)]));
                }
                Reply::Array(item)
            })
            .collect(),
    ))
}

/// The members inside the search's shape, cell by cell in Redis's order, each cell's in
/// score order; at most `limit` (0: no limit).
fn find(z: &ZSetPart, query: &Search, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    for cell in query.cells() {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = geohash::scores_of(cell);
        let from = z.position(|score, _| score < min);
        for (member, score) in z.ranks(from, z.len()) {
            if score >= max {
                break;
            }
            if let Some((dist, long, lat)) = query.holds(score) {
                found.push(Found {
                    member: member.clone(),
                    dist,
                    score,
                    long,
                    lat,
                });
            }
            if limit > 0 && found.len() >= limit {
                break;
            }
        }
    }
    found
}
