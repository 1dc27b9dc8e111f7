//! Without concurrency a region must behave exactly like Redis: random commands run at
//! random regions, each delivered everywhere before the next, and every region's reads match
//! a plain sequential model of Redis (types, values, element order, TTLs, WRONGTYPE).

mod common;

use common::{Cluster, Cmd, ELEMS, Family, KEYS, TtlArg, cmd, key_of};
use gdc_crdt::Num;
use gdc_crdt::hll;
use gdc_crdt::stream::{StreamId, next_auto_id};
use gdc_crdt::string::{format_num, parse_f64, parse_i64};
use gdc_crdt::{ConflictCounts, KeyState, ServerId};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// What a reader sees of a key.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// (member, score) in Redis order.
    ZSet(Vec<(Vec<u8>, f64)>),
    List(Vec<Vec<u8>>),
    Stream(Stream),
}

/// A stream as a reader sees it: entries, the last id, and per group its last delivered id
/// and pending entries (id, consumer).
#[derive(Clone, Debug, PartialEq, Default)]
struct Stream {
    entries: Vec<(StreamId, Vec<u8>)>,
    last: StreamId,
    groups: BTreeMap<Vec<u8>, GroupSeen>,
}

/// A group as a reader sees it: its last delivered id and pending entries (id, consumer).
type GroupSeen = (StreamId, Vec<(StreamId, Vec<u8>)>);

/// The sequential model: key -> (value, expire_at).
type Model = BTreeMap<&'static str, (Seen, Option<u64>)>;

fn read(k: &KeyState, now: u64) -> Option<(Seen, Option<u64>)> {
    if !k.exists(now) {
        return None;
    }
    let seen = if let Some(v) = k.string_value() {
        Seen::Str(v.into_owned())
    } else if let Some(h) = k.hash() {
        Seen::Hash(
            h.fields()
                .map(|(n, f)| (n.to_vec(), f.value().into_owned()))
                .collect(),
        )
    } else if let Some(s) = k.set() {
        Seen::Set(s.members().map(|m| m.to_vec()).collect())
    } else if let Some(z) = k.zset() {
        Seen::ZSet(z.iter().map(|(m, s)| (m.to_vec(), s)).collect())
    } else if let Some(l) = k.list() {
        Seen::List(l.iter().map(|e| e.value.to_vec()).collect())
    } else if let Some(x) = k.stream() {
        Seen::Stream(Stream {
            entries: x
                .entries()
                .map(|(id, e)| (id, e.fields[1].to_vec()))
                .collect(),
            last: x.last_id(),
            groups: x
                .groups()
                .map(|(name, g)| {
                    let pending = g
                        .pending()
                        .map(|(id, p)| (id, p.consumer.to_vec()))
                        .collect();
                    (name.to_vec(), (g.head().last_delivered(), pending))
                })
                .collect(),
        })
    } else {
        unreachable!("an existing key has a visible type")
    };
    Some((seen, k.expire_at()))
}

fn sort_zset(z: &mut [(Vec<u8>, f64)]) {
    z.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
}

/// Run `c` on the model at wall time `now` at the region whose server-id is `server` (it
/// names the ids `*` makes), as Redis would.
fn model_exec(m: &mut Model, c: &Cmd, now: u64, server: ServerId) {
    m.retain(|_, (_, at)| at.is_none_or(|t| t > now));
    let e = |i: usize| ELEMS[i].as_bytes().to_vec();
    let b = |v: u8| vec![v];
    if let Cmd::Flush = c {
        m.clear();
        return;
    }
    let key = key_of(c);
    let cur = m.get(key).cloned();
    let ttl = cur.as_ref().and_then(|c| c.1);
    let new: Option<(Seen, Option<u64>)> = match (c, cur.map(|c| c.0)) {
        (Cmd::Set(_, v, t), cur) => Some((
            Seen::Str(b(*v)),
            match t {
                TtlArg::Clear => None,
                TtlArg::Keep => cur.and(ttl),
                TtlArg::InMs(ms) => Some(now + ms),
            },
        )),
        (Cmd::Del(_), _) => None,
        (Cmd::Incr(_, n), None) => Some((Seen::Str(n.to_string().into_bytes()), None)),
        (Cmd::Incr(_, n), Some(Seen::Str(v))) => match parse_i64(&v) {
            Some(x) => Some((Seen::Str((x + n).to_string().into_bytes()), ttl)),
            None => return,
        },
        (Cmd::IncrFloat(_, n), None) => Some((Seen::Str(format_num(Num::Float(*n))), None)),
        (Cmd::IncrFloat(_, n), Some(Seen::Str(v))) => match parse_f64(&v) {
            Some(x) => Some((Seen::Str(format_num(Num::Float(x + n))), ttl)),
            None => return,
        },
        (Cmd::Expire(_, ms), Some(v)) => Some((v, Some(now + ms))),
        (Cmd::Expire(..), None) => None,
        (Cmd::Persist(_), v) => v.map(|v| (v, None)),
        (Cmd::HSet(_, f, v), None) => Some((Seen::Hash(BTreeMap::from([(e(*f), b(*v))])), None)),
        (Cmd::HSet(_, f, v), Some(Seen::Hash(mut h))) => {
            h.insert(e(*f), b(*v));
            Some((Seen::Hash(h), ttl))
        }
        (Cmd::HDel(_, f), Some(Seen::Hash(mut h))) => {
            h.remove(&e(*f));
            (!h.is_empty()).then_some((Seen::Hash(h), ttl))
        }
        (Cmd::HDel(..), None) => None,
        (Cmd::HIncr(_, f, n), cur @ (None | Some(Seen::Hash(_)))) => {
            let mut h = match cur {
                Some(Seen::Hash(h)) => h,
                _ => BTreeMap::new(),
            };
            let old = h.get(&e(*f)).map_or(Some(0), |v| parse_i64(v));
            let Some(old) = old else { return };
            h.insert(e(*f), (old + n).to_string().into_bytes());
            Some((Seen::Hash(h), ttl))
        }
        (Cmd::SAdd(_, ms), cur @ (None | Some(Seen::Set(_)))) => {
            let mut s = match cur {
                Some(Seen::Set(s)) => s,
                _ => BTreeSet::new(),
            };
            s.extend(ms.iter().map(|&i| e(i)));
            Some((Seen::Set(s), ttl))
        }
        (Cmd::SRem(_, ms), Some(Seen::Set(mut s))) => {
            for &i in ms {
                s.remove(&e(i));
            }
            (!s.is_empty()).then_some((Seen::Set(s), ttl))
        }
        (Cmd::SRem(..), None) => None,
        (Cmd::ZAdd(_, mem, score), cur @ (None | Some(Seen::ZSet(_)))) => {
            let mut z = match cur {
                Some(Seen::ZSet(z)) => z,
                _ => Vec::new(),
            };
            z.retain(|(x, _)| *x != e(*mem));
            z.push((e(*mem), *score as f64));
            sort_zset(&mut z);
            Some((Seen::ZSet(z), ttl))
        }
        (Cmd::ZIncr(_, mem, by), cur @ (None | Some(Seen::ZSet(_)))) => {
            let mut z = match cur {
                Some(Seen::ZSet(z)) => z,
                _ => Vec::new(),
            };
            let old = z.iter().find(|(x, _)| *x == e(*mem)).map_or(0.0, |x| x.1);
            z.retain(|(x, _)| *x != e(*mem));
            z.push((e(*mem), old + *by as f64));
            sort_zset(&mut z);
            Some((Seen::ZSet(z), ttl))
        }
        (Cmd::ZRem(_, mem), Some(Seen::ZSet(mut z))) => {
            z.retain(|(x, _)| *x != e(*mem));
            (!z.is_empty()).then_some((Seen::ZSet(z), ttl))
        }
        (Cmd::ZRem(..), None) => None,
        (Cmd::Push(_, left, vs), cur @ (None | Some(Seen::List(_)))) => {
            let mut l = match cur {
                Some(Seen::List(l)) => l,
                _ => Vec::new(),
            };
            for &v in vs {
                if *left {
                    l.insert(0, b(v));
                } else {
                    l.push(b(v));
                }
            }
            Some((Seen::List(l), ttl))
        }
        (Cmd::Pop(_, left), Some(Seen::List(mut l))) => {
            if *left {
                l.remove(0);
            } else {
                l.pop();
            }
            (!l.is_empty()).then_some((Seen::List(l), ttl))
        }
        (Cmd::Pop(..), None) => None,
        (Cmd::LSet(_, i, v), Some(Seen::List(mut l))) => {
            let n = l.len() as i64;
            let i = if *i < 0 { n + i } else { *i };
            if i < 0 || i >= n {
                return;
            }
            l[i as usize] = b(*v);
            Some((Seen::List(l), ttl))
        }
        (Cmd::LSet(..), None) => None,
        (Cmd::LInsert(_, i, before, v), Some(Seen::List(mut l))) => {
            let i = i % l.len();
            l.insert(if *before { i } else { i + 1 }, b(*v));
            Some((Seen::List(l), ttl))
        }
        (Cmd::LInsert(..), None) => None,
        (Cmd::SetBit(_, offset, bit), cur @ (None | Some(Seen::Str(_)))) => {
            let mut v = match cur {
                Some(Seen::Str(v)) => v,
                _ => Vec::new(),
            };
            let (byte, mask) = (*offset as usize / 8, 0x80u8 >> (offset % 8));
            if v.len() <= byte {
                v.resize(byte + 1, 0);
            }
            if *bit {
                v[byte] |= mask;
            } else {
                v[byte] &= !mask;
            }
            Some((Seen::Str(v), ttl))
        }
        (Cmd::Append(_, byte, _), cur @ (None | Some(Seen::Str(_)))) => {
            let mut v = match cur {
                Some(Seen::Str(v)) => v,
                _ => Vec::new(),
            };
            v.push(*byte);
            Some((Seen::Str(v), ttl))
        }
        (Cmd::SetRange(_, offset, byte, _), cur @ (None | Some(Seen::Str(_)))) => {
            let mut v = match cur {
                Some(Seen::Str(v)) => v,
                _ => Vec::new(),
            };
            let at = usize::from(*offset);
            v.resize(v.len().max(at + 1), 0);
            v[at] = *byte;
            Some((Seen::Str(v), ttl))
        }
        (Cmd::BitIncr(_, offset, by), cur @ (None | Some(Seen::Str(_)))) => {
            // Redis's BITFIELD INCRBY u8 under OVERFLOW WRAP, bit by bit.
            let mut v = match cur {
                Some(Seen::Str(v)) => v,
                _ => Vec::new(),
            };
            let offset = usize::from(*offset);
            v.resize(v.len().max((offset + 8).div_ceil(8)), 0);
            let bit = |v: &[u8], at: usize| v[at / 8] & (0x80 >> (at % 8)) != 0;
            let field = (0..8).fold(0u8, |f, i| (f << 1) | u8::from(bit(&v, offset + i)));
            let new = field.wrapping_add(*by as u8);
            for i in 0..8 {
                let (at, mask) = (offset + i, 0x80u8 >> ((offset + i) % 8));
                if new & (0x80 >> i) != 0 {
                    v[at / 8] |= mask;
                } else {
                    v[at / 8] &= !mask;
                }
            }
            Some((Seen::Str(v), ttl))
        }
        (Cmd::PfAdd(_, elements), cur @ (None | Some(Seen::Str(_)))) => {
            let (mut v, ttl) = match cur {
                Some(Seen::Str(v)) if hll::check(&v).is_ok() => (v, ttl),
                Some(Seen::Str(_)) => return,
                // The cluster makes half the new ones dense (as after PFDEBUG TODENSE).
                _ if elements[0] % 2 == 1 => {
                    let mut v = hll::empty();
                    hll::make_dense(&mut v).expect("an HLL");
                    (v, ttl)
                }
                _ => (hll::empty(), ttl),
            };
            for e in elements {
                hll::add(&mut v, &[*e], hll::SPARSE_BYTES_DEFAULT).expect("an HLL");
            }
            Some((Seen::Str(v), ttl))
        }
        (Cmd::XAdd(_, v, maxlen), cur @ (None | Some(Seen::Stream(_)))) => {
            let mut x = match cur {
                Some(Seen::Stream(x)) => x,
                _ => Stream::default(),
            };
            let Some(id) = next_auto_id(x.last, now, server) else {
                return;
            };
            x.last = id;
            x.entries.push((id, b(*v)));
            if let Some(max) = maxlen {
                let over = x.entries.len().saturating_sub(*max as usize);
                x.entries.drain(..over);
            }
            Some((Seen::Stream(x), ttl))
        }
        (Cmd::XDel(_, i), Some(Seen::Stream(mut x))) => {
            if !x.entries.is_empty() {
                let n = x.entries.len();
                x.entries.remove(i % n);
            }
            Some((Seen::Stream(x), ttl))
        }
        (Cmd::XGroup(_, g), cur @ (None | Some(Seen::Stream(_)))) => {
            let mut x = match cur {
                Some(Seen::Stream(x)) => x,
                _ => Stream::default(),
            };
            x.groups.entry(e(*g)).or_default();
            Some((Seen::Stream(x), ttl))
        }
        (Cmd::XDestroy(_, g), Some(Seen::Stream(mut x))) => {
            x.groups.remove(&e(*g));
            Some((Seen::Stream(x), ttl))
        }
        (Cmd::XRead(_, g, consumer, n), Some(Seen::Stream(mut x))) => {
            let entries = x.entries.clone();
            if let Some((last, pending)) = x.groups.get_mut(&e(*g)) {
                let from = *last;
                let picked = entries
                    .iter()
                    .filter(|(id, _)| *id > from)
                    .take(*n as usize);
                for (id, _) in picked {
                    *last = *id;
                    pending.retain(|(p, _)| p != id);
                    pending.push((*id, e(*consumer)));
                }
                pending.sort();
            }
            Some((Seen::Stream(x), ttl))
        }
        (Cmd::XAck(_, g, i), Some(Seen::Stream(mut x))) => {
            if let Some((_, pending)) = x.groups.get_mut(&e(*g)) {
                if !pending.is_empty() {
                    let n = pending.len();
                    pending.remove(i % n);
                }
            }
            Some((Seen::Stream(x), ttl))
        }
        (Cmd::XClaim(_, g, consumer, i), Some(Seen::Stream(mut x))) => {
            if let Some((_, pending)) = x.groups.get_mut(&e(*g)) {
                if !pending.is_empty() {
                    let n = pending.len();
                    pending[i % n].1 = e(*consumer);
                }
            }
            Some((Seen::Stream(x), ttl))
        }
        (
            Cmd::XDel(..) | Cmd::XDestroy(..) | Cmd::XRead(..) | Cmd::XAck(..) | Cmd::XClaim(..),
            None,
        ) => None,
        // Any other pairing is a command against the wrong type: refused, nothing changes.
        _ => return,
    };
    match new {
        Some(v) => {
            m.insert(key, v);
        }
        None => {
            m.remove(key);
        }
    }
}

fn matches_redis(steps: &[(usize, Cmd, u64)]) {
    let mut c = Cluster::new(3, true);
    // One wall clock: with skew, regions rightly disagree about when a key expires until
    // one of them replicates its removal, which a sequential model cannot express.
    for r in &mut c.replicas {
        r.skew_ms = 0;
    }
    let mut model = Model::new();
    for (r, cmd, tick) in steps {
        c.tick(*tick);
        let now = c.wall(*r);
        model_exec(&mut model, cmd, now, c.replicas[*r].id);
        c.exec(*r, cmd);
        c.deliver_all();
        // Everyone reports and collects garbage now and then, as nodes will.
        if tick % 3 == 0 {
            for i in 0..3 {
                c.report(i);
            }
            c.deliver_all();
            for i in 0..3 {
                c.gc(i);
            }
        }
        let now = c.wall(0);
        for (i, rep) in c.replicas.iter().enumerate() {
            for k in KEYS {
                let ours = rep.ks.get(k.as_bytes()).and_then(|s| read(s, now));
                let theirs = model
                    .get(k)
                    .filter(|(_, at)| at.is_none_or(|t| t > now))
                    .cloned();
                assert_eq!(
                    ours, theirs,
                    "region {i}, key {k}, after {cmd:?} at region {r}"
                );
            }
            // Without concurrency no rule had anything to decide.
            assert_eq!(
                rep.conflicts,
                ConflictCounts::default(),
                "region {i} counted conflicts after {cmd:?} at region {r}"
            );
        }
    }
}

proptest! {
    #[test]
    fn one_region_at_a_time_behaves_like_redis(
        steps in prop::collection::vec((0usize..3, cmd(Family::All), 0u64..4000), 1..80)
    ) {
        matches_redis(&steps);
    }
}
