//! A simulated cluster for property tests: replicas run commands through the effect
//! builders, and ops travel in per-origin order with duplicates, full-state merges, causal
//! stability reports and garbage collection mixed in, as the sync channels will do.
#![allow(dead_code)]

use gdc_crdt::hll;
use gdc_crdt::ops::{self, End, GroupChange, SetTtl};
use gdc_crdt::stream::{GroupHead, Pending, StreamId, next_auto_id};
use gdc_crdt::{
    Blob, ConflictCounts, Crdt, Dot, Effect, HlcClock, KeyState, Keyspace, OpId, ServerId, Tag,
    VersionVector,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

pub const KEYS: [&str; 3] = ["k1", "k2", "k3"];
pub const ELEMS: [&str; 4] = ["a", "b", "c", "d"];

/// A write command, as a client sends it.
#[derive(Clone, Debug)]
pub enum Cmd {
    Set(usize, u8, TtlArg),
    Del(usize),
    Incr(usize, i64),
    IncrFloat(usize, f64),
    Expire(usize, u64),
    Persist(usize),
    HSet(usize, usize, u8),
    HDel(usize, usize),
    HIncr(usize, usize, i64),
    SAdd(usize, Vec<usize>),
    SRem(usize, Vec<usize>),
    ZAdd(usize, usize, i32),
    ZIncr(usize, usize, i32),
    ZRem(usize, usize),
    Push(usize, bool, Vec<u8>),
    Pop(usize, bool),
    LSet(usize, i64, u8),
    LInsert(usize, usize, bool, u8),
    /// SETBIT key offset bit (offsets within a few bytes, so that writes meet).
    SetBit(usize, u8, bool),
    /// BITFIELD key OVERFLOW WRAP INCRBY u8 offset by (over the SETBITs' bits).
    BitIncr(usize, u8, i8),
    /// APPEND key byte; `true`: replicated as its byte whatever the string's length (as
    /// beyond `ops::WRITTEN_WHOLE_MAX`), else as APPEND does at this length (whole).
    Append(usize, u8, bool),
    /// SETRANGE key offset byte (offsets within a few bytes, so that writes meet), the same.
    SetRange(usize, u8, u8, bool),
    /// PFADD key elements...
    PfAdd(usize, Vec<u8>),
    /// XADD key * f v [MAXLEN n]
    XAdd(usize, u8, Option<u8>),
    /// XDEL of the stream's i-th entry.
    XDel(usize, usize),
    /// XGROUP CREATE key group 0 MKSTREAM
    XGroup(usize, usize),
    /// XGROUP DESTROY key group
    XDestroy(usize, usize),
    /// XREADGROUP GROUP group consumer COUNT n STREAMS key >
    XRead(usize, usize, usize, u8),
    /// XACK of the group's i-th pending entry.
    XAck(usize, usize, usize),
    /// XCLAIM of the group's i-th pending entry for a consumer.
    XClaim(usize, usize, usize, usize),
    Flush,
}

#[derive(Clone, Copy, Debug)]
pub enum TtlArg {
    Clear,
    Keep,
    InMs(u64),
}

/// Which commands a test draws from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    String,
    Counter,
    Hash,
    Set,
    ZSet,
    List,
    Ttl,
    Hll,
    /// SETBIT with SET, DEL and INCR.
    Bits,
    /// PFADD only: the oracle of HyperLogLog's merge.
    HllAdds,
    Stream,
    All,
}

fn key() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}
fn elem() -> impl Strategy<Value = usize> {
    0..ELEMS.len()
}

pub fn cmd(f: Family) -> BoxedStrategy<Cmd> {
    let del = key().prop_map(Cmd::Del);
    let expire = (key(), 1u64..20_000).prop_map(|(k, t)| Cmd::Expire(k, t));
    let persist = key().prop_map(Cmd::Persist);
    let ttl = prop_oneof![
        Just(TtlArg::Clear),
        Just(TtlArg::Keep),
        (1u64..20_000).prop_map(TtlArg::InMs)
    ];
    let set = (key(), any::<u8>(), ttl).prop_map(|(k, v, t)| Cmd::Set(k, v, t));
    let incr = (key(), -5i64..6).prop_map(|(k, n)| Cmd::Incr(k, n));
    let incrf = (key(), -4i32..5).prop_map(|(k, n)| Cmd::IncrFloat(k, n as f64 / 4.0));
    let hset = (key(), elem(), any::<u8>()).prop_map(|(k, f, v)| Cmd::HSet(k, f, v));
    let hdel = (key(), elem()).prop_map(|(k, f)| Cmd::HDel(k, f));
    let hincr = (key(), elem(), -5i64..6).prop_map(|(k, f, n)| Cmd::HIncr(k, f, n));
    let sadd = (key(), prop::collection::vec(elem(), 1..3)).prop_map(|(k, m)| Cmd::SAdd(k, m));
    let srem = (key(), prop::collection::vec(elem(), 1..3)).prop_map(|(k, m)| Cmd::SRem(k, m));
    let zadd = (key(), elem(), -10i32..10).prop_map(|(k, m, s)| Cmd::ZAdd(k, m, s));
    let zincr = (key(), elem(), -3i32..4).prop_map(|(k, m, s)| Cmd::ZIncr(k, m, s));
    let zrem = (key(), elem()).prop_map(|(k, m)| Cmd::ZRem(k, m));
    let push = (
        key(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 1..3),
    )
        .prop_map(|(k, l, v)| Cmd::Push(k, l, v));
    let pop = (key(), any::<bool>()).prop_map(|(k, l)| Cmd::Pop(k, l));
    let lset = (key(), -3i64..3, any::<u8>()).prop_map(|(k, i, v)| Cmd::LSet(k, i, v));
    let linsert = (key(), 0usize..4, any::<bool>(), any::<u8>())
        .prop_map(|(k, i, b, v)| Cmd::LInsert(k, i, b, v));
    let setbit = (key(), 0u8..24, any::<bool>()).prop_map(|(k, o, b)| Cmd::SetBit(k, o, b));
    let bitincr = (key(), 0u8..17, any::<i8>()).prop_map(|(k, o, by)| Cmd::BitIncr(k, o, by));
    let append =
        (key(), any::<u8>(), prop::bool::weighted(0.8)).prop_map(|(k, v, p)| Cmd::Append(k, v, p));
    let setrange = (key(), 0u8..6, any::<u8>(), prop::bool::weighted(0.8))
        .prop_map(|(k, o, v, p)| Cmd::SetRange(k, o, v, p));
    let pfadd =
        (key(), prop::collection::vec(any::<u8>(), 1..4)).prop_map(|(k, e)| Cmd::PfAdd(k, e));
    let group = 0usize..2;
    let xadd = (key(), any::<u8>(), prop::option::weighted(0.2, 0u8..4))
        .prop_map(|(k, v, m)| Cmd::XAdd(k, v, m));
    let xdel = (key(), 0usize..8).prop_map(|(k, i)| Cmd::XDel(k, i));
    let xgroup = (key(), group.clone()).prop_map(|(k, g)| Cmd::XGroup(k, g));
    let xdestroy = (key(), group.clone()).prop_map(|(k, g)| Cmd::XDestroy(k, g));
    let xread =
        (key(), group.clone(), elem(), 1u8..4).prop_map(|(k, g, c, n)| Cmd::XRead(k, g, c, n));
    let xack = (key(), group.clone(), 0usize..6).prop_map(|(k, g, i)| Cmd::XAck(k, g, i));
    let xclaim = (key(), group, elem(), 0usize..6).prop_map(|(k, g, c, i)| Cmd::XClaim(k, g, c, i));
    match f {
        Family::Stream => prop_oneof![
            5 => xadd, 2 => xdel, 2 => xgroup, 1 => xdestroy, 3 => xread, 2 => xack,
            1 => xclaim, 1 => del, 1 => expire
        ]
        .boxed(),
        Family::String => prop_oneof![
            4 => set, 2 => del, 1 => expire, 1 => persist, 4 => setbit, 3 => append,
            2 => setrange
        ]
        .boxed(),
        Family::Bits => prop_oneof![
            6 => setbit, 3 => bitincr, 1 => set, 1 => del, 1 => incr, 2 => append,
            2 => setrange
        ]
        .boxed(),
        Family::Hll => prop_oneof![5 => pfadd, 1 => set, 1 => del, 1 => expire].boxed(),
        Family::HllAdds => pfadd.boxed(),
        Family::Counter => {
            prop_oneof![4 => incr, 1 => incrf, 2 => set, 2 => del, 1 => expire].boxed()
        }
        Family::Hash => {
            prop_oneof![4 => hset, 2 => hdel, 3 => hincr, 1 => del, 1 => expire].boxed()
        }
        Family::Set => prop_oneof![4 => sadd, 3 => srem, 1 => del, 1 => expire].boxed(),
        Family::ZSet => {
            prop_oneof![4 => zadd, 3 => zincr, 2 => zrem, 1 => del, 1 => expire].boxed()
        }
        Family::List => {
            prop_oneof![4 => push, 3 => pop, 2 => lset, 2 => linsert, 1 => del, 1 => expire].boxed()
        }
        Family::Ttl => {
            prop_oneof![3 => set, 3 => expire, 3 => persist, 1 => del, 1 => sadd].boxed()
        }
        Family::All => prop_oneof![
            3 => set, 2 => del, 2 => incr, 1 => incrf, 2 => expire, 1 => persist,
            2 => hset, 1 => hdel, 1 => hincr, 2 => sadd, 1 => srem, 2 => zadd, 1 => zincr,
            1 => zrem, 2 => push, 1 => pop, 1 => lset, 1 => linsert,
            2 => xadd, 1 => xdel, 1 => xgroup, 1 => xread, 1 => xack, 2 => pfadd, 2 => setbit,
            1 => bitincr, 1 => append, 1 => setrange, 1 => Just(Cmd::Flush)
        ]
        .boxed(),
    }
}

/// One step of a schedule.
#[derive(Clone, Debug)]
pub enum Step {
    /// A client runs a command at a replica.
    Exec(usize, Cmd),
    /// Replica `to` takes up to `n` messages from `from`'s stream.
    Deliver { to: usize, from: usize, n: usize },
    /// Replica `to` gets an already-delivered message of `from`'s stream again.
    Duplicate { to: usize, from: usize, back: usize },
    /// Replica `to` merges `from`'s full state of one key.
    MergeKey { to: usize, from: usize, key: usize },
    /// Replica `to` merges `from`'s whole keyspace.
    MergeAll { to: usize, from: usize },
    /// Replica `from` reports its applied vector on its stream.
    Report(usize),
    /// Replica runs garbage collection with what it knows to be causally stable.
    Gc(usize),
    /// Wall clocks move on.
    Tick(u64),
}

pub fn step(f: Family, replicas: usize, merges: bool) -> BoxedStrategy<Step> {
    let r = 0..replicas;
    let exec = (r.clone(), cmd(f)).prop_map(|(i, c)| Step::Exec(i, c));
    let deliver =
        (r.clone(), r.clone(), 1usize..4).prop_map(|(to, from, n)| Step::Deliver { to, from, n });
    let dup = (r.clone(), r.clone(), 0usize..5).prop_map(|(to, from, back)| Step::Duplicate {
        to,
        from,
        back,
    });
    let mkey =
        (r.clone(), r.clone(), key()).prop_map(|(to, from, key)| Step::MergeKey { to, from, key });
    let mall = (r.clone(), r.clone()).prop_map(|(to, from)| Step::MergeAll { to, from });
    let report = r.clone().prop_map(Step::Report);
    let gc = r.prop_map(Step::Gc);
    let tick = (1u64..3000).prop_map(Step::Tick);
    let merge_w = if merges { 1 } else { 0 };
    prop_oneof![
        8 => exec, 6 => deliver, 2 => dup, merge_w => mkey, merge_w => mall,
        2 => report, 2 => gc, 2 => tick
    ]
    .boxed()
}

/// What an op carries on the wire (an effect boxed: it is much larger than a flush).
#[derive(Clone, Debug)]
pub enum Body {
    Key { key: Blob, effect: Box<Effect> },
    Flush { cutoff: VersionVector, by: Dot },
}

#[derive(Clone, Debug)]
pub enum Msg {
    Op {
        origin: ServerId,
        op: OpId,
        body: Body,
    },
    /// The origin's applied vector at the moment it was sent (after its earlier ops).
    Report {
        origin: ServerId,
        applied: VersionVector,
    },
}

#[derive(Debug)]
pub struct Replica {
    pub id: ServerId,
    pub ks: Keyspace,
    pub clock: HlcClock,
    /// Added to the shared wall clock: clock skew.
    pub skew_ms: i64,
    pub applied: VersionVector,
    /// Latest report per member (our own applied vector stands for ourselves).
    pub reports: BTreeMap<ServerId, VersionVector>,
    /// Position in each origin's stream.
    pub cursor: Vec<usize>,
    /// Conflicts the rules resolved as other regions' ops were applied here.
    pub conflicts: ConflictCounts,
}

#[derive(Debug)]
pub struct Cluster {
    pub replicas: Vec<Replica>,
    /// Per origin, everything it ever sent, in order.
    pub streams: Vec<Vec<Msg>>,
    pub now_ms: u64,
    /// Whether duplicates bypass the applied-vector filter (testing the CRDT's own
    /// idempotence); only without GC, since GC relies on that filter.
    pub raw_duplicates: bool,
    pub gc: bool,
}

pub const START_MS: u64 = 1_700_000_000_000;

impl Cluster {
    pub fn new(n: usize, gc: bool) -> Cluster {
        let replicas = (0..n)
            .map(|i| Replica {
                id: ServerId(i as u32 + 1),
                ks: Keyspace::new(),
                clock: HlcClock::default(),
                // Replica 2 runs 5 s behind: causality must not depend on wall clocks.
                skew_ms: if i == 1 { -5000 } else { 0 },
                applied: VersionVector::new(),
                reports: BTreeMap::new(),
                cursor: vec![0; n],
                conflicts: ConflictCounts::default(),
            })
            .collect();
        Cluster {
            replicas,
            streams: vec![Vec::new(); n],
            now_ms: START_MS,
            raw_duplicates: !gc,
            gc,
        }
    }

    pub fn wall(&self, r: usize) -> u64 {
        (self.now_ms as i64 + self.replicas[r].skew_ms) as u64
    }

    /// Run a command at replica `r`; returns whether it made an effect.
    pub fn exec(&mut self, r: usize, c: &Cmd) -> bool {
        if let Cmd::Flush = c {
            let now = self.wall(r);
            let rep = &mut self.replicas[r];
            let op = OpId(rep.applied.get(rep.id).0 + 1);
            let by = Dot::new(rep.id, op, 0);
            let msg = Msg::Op {
                origin: rep.id,
                op,
                body: Body::Flush {
                    cutoff: rep.applied.clone(),
                    by,
                },
            };
            apply_msg(rep, &msg, now, false);
            self.streams[r].push(msg);
            self.replicas[r].cursor[r] = self.streams[r].len();
            return true;
        }
        let b = |v: u8| Blob::from(&[v][..]);
        let e = |i: usize| Blob::from(ELEMS[i]);
        let c = c.clone();
        self.write(r, key_of(&c), move |state, now, tag| match c {
            Cmd::Set(_, v, t) => {
                let ttl = match t {
                    TtlArg::Clear => SetTtl::Clear,
                    TtlArg::Keep => SetTtl::Keep,
                    TtlArg::InMs(ms) => SetTtl::At(now + ms),
                };
                Some(ops::set(state, now, tag, b(v), ttl))
            }
            Cmd::Del(_) => ops::delete(state, tag),
            Cmd::Incr(_, n) => ops::incr_by(state, now, tag, n).ok().map(|r| r.0),
            Cmd::IncrFloat(_, n) => {
                ops::incr_by_float(state, now, tag, gdc_crdt::field::Num::Float(n))
                    .ok()
                    .map(|r| r.0)
            }
            Cmd::Expire(_, ms) => ops::expire(state, now, tag, now + ms),
            Cmd::Persist(_) => ops::persist(state, now, tag),
            Cmd::HSet(_, f, v) => ops::hset(state, now, tag, &[(e(f), b(v))])
                .ok()
                .map(|r| r.0),
            Cmd::HDel(_, f) => ops::hdel(state, now, tag, &[e(f)]).ok().and_then(|r| r.0),
            Cmd::HIncr(_, f, n) => ops::hincr_by(state, now, tag, &e(f), n).ok().map(|r| r.0),
            Cmd::SAdd(_, m) => {
                let m: Vec<Blob> = m.iter().map(|&i| e(i)).collect();
                ops::sadd(state, now, tag, &m).ok().map(|r| r.0)
            }
            Cmd::SRem(_, m) => {
                let m: Vec<Blob> = m.iter().map(|&i| e(i)).collect();
                ops::srem(state, now, tag, &m).ok().and_then(|r| r.0)
            }
            Cmd::ZAdd(_, m, s) => ops::zadd(state, now, tag, &[(e(m), s as f64)])
                .ok()
                .map(|r| r.0),
            Cmd::ZIncr(_, m, s) => ops::zincr_by(state, now, tag, &e(m), s as f64)
                .ok()
                .map(|r| r.0),
            Cmd::ZRem(_, m) => ops::zrem(state, now, tag, &[e(m)]).ok().and_then(|r| r.0),
            Cmd::Push(_, left, vs) => {
                let vs: Vec<Blob> = vs.iter().map(|&v| b(v)).collect();
                let end = if left { End::Left } else { End::Right };
                ops::list_push(state, now, tag, end, vs.iter().cloned())
                    .ok()
                    .map(|(e, _)| e)
            }
            Cmd::Pop(_, left) => {
                let end = if left { End::Left } else { End::Right };
                ops::list_pop(state, now, tag, end, 1)
                    .ok()
                    .and_then(|(e, _)| e)
            }
            Cmd::LSet(_, i, v) => ops::list_set(state, now, tag, i, b(v)).ok(),
            Cmd::LInsert(_, i, before, v) => {
                let len = state.and_then(|s| s.list()).map_or(0, |l| l.len());
                if len == 0 {
                    None
                } else {
                    ops::list_insert(state, now, tag, i % len, before, b(v)).ok()
                }
            }
            Cmd::SetBit(_, offset, bit) => {
                let k = live(state, now);
                if k.is_some_and(|k| k.kind() != Some(gdc_crdt::Kind::String)) {
                    return None; // WRONGTYPE
                }
                let w = gdc_crdt::bits::BitWrite::set(u64::from(offset), 1, u64::from(bit));
                ops::write_bits(state, now, tag, &[w]).ok()
            }
            Cmd::BitIncr(_, offset, by) => {
                let k = live(state, now);
                if k.is_some_and(|k| k.kind() != Some(gdc_crdt::Kind::String)) {
                    return None; // WRONGTYPE
                }
                let w = gdc_crdt::bits::BitWrite::add(u64::from(offset), 8, by as u64);
                ops::write_bits(state, now, tag, &[w]).ok()
            }
            Cmd::Append(_, v, piece) => {
                let k = live(state, now);
                if k.is_some_and(|k| k.kind() != Some(gdc_crdt::Kind::String)) {
                    return None; // WRONGTYPE
                }
                let w = gdc_crdt::bits::StrWrite::Append(b(v));
                let write = if piece {
                    ops::write_piece
                } else {
                    ops::write_bytes
                };
                write(state, now, tag, w).ok().map(|(e, _)| e)
            }
            Cmd::SetRange(_, offset, v, piece) => {
                let k = live(state, now);
                if k.is_some_and(|k| k.kind() != Some(gdc_crdt::Kind::String)) {
                    return None; // WRONGTYPE
                }
                let w = gdc_crdt::bits::StrWrite::Range {
                    offset: u64::from(offset),
                    bytes: b(v),
                };
                let write = if piece {
                    ops::write_piece
                } else {
                    ops::write_bytes
                };
                write(state, now, tag, w).ok().map(|(e, _)| e)
            }
            Cmd::PfAdd(_, elements) => {
                let k = live(state, now);
                if k.is_some_and(|k| k.kind() != Some(gdc_crdt::Kind::String)) {
                    return None; // WRONGTYPE
                }
                let mut v = match k.and_then(|s| s.string_value()) {
                    // A dense HLL replicates its register raises, as the node's PFADD does.
                    Some(v) if hll::is_dense_hll(&v) => {
                        let eles: Vec<[u8; 1]> = elements.iter().map(|e| [*e]).collect();
                        let raises = hll::dense_raises(&v, eles.iter().map(|e| &e[..]));
                        return match raises.is_empty() {
                            true => None,
                            false => ops::write_bits(state, now, tag, &raises).ok(),
                        };
                    }
                    Some(v) if hll::check(&v).is_ok() => v.into_owned(),
                    Some(_) => return None,
                    // Half the new ones dense at once (as after PFDEBUG TODENSE), so that
                    // register raises meet whole writes, DELs and each other.
                    None if elements[0] % 2 == 1 => {
                        let mut v = hll::empty();
                        hll::make_dense(&mut v).expect("an HLL");
                        v
                    }
                    None => hll::empty(),
                };
                for e in elements {
                    hll::add(&mut v, &[e], hll::SPARSE_BYTES_DEFAULT).ok()?;
                }
                let ttl = SetTtl::Keep;
                Some(ops::set(state, now, tag, Blob::from(v), ttl))
            }
            Cmd::XAdd(_, v, maxlen) => {
                let x = live(state, now).and_then(|s| s.stream());
                let last = x.map_or(StreamId::ZERO, |x| x.last_id());
                let id = next_auto_id(last, now, tag.dot.server)?;
                let mut ids: Vec<StreamId> = x
                    .map(|x| x.ids(StreamId::ZERO, StreamId::MAX).collect())
                    .unwrap_or_default();
                ids.push(id);
                let over = maxlen.map_or(0, |m| ids.len().saturating_sub(m as usize));
                ops::xadd(state, now, tag, id, &[e(0), b(v)], &ids[..over]).ok()
            }
            Cmd::XDel(_, i) => {
                let x = live(state, now).and_then(|s| s.stream())?;
                let id = x
                    .ids(StreamId::ZERO, StreamId::MAX)
                    .nth(i % x.len().max(1))?;
                ops::xremove(state, now, tag, &[id], true).ok().flatten()
            }
            Cmd::XGroup(_, g) => {
                if live(state, now)
                    .and_then(|s| s.stream())
                    .is_some_and(|x| x.group(ELEMS[g].as_bytes()).is_some())
                {
                    return None;
                }
                let c = GroupChange {
                    make_stream: true,
                    head: Some(GroupHead::default()),
                    ..GroupChange::default()
                };
                ops::group_change(state, now, tag, &e(g), &c).ok().flatten()
            }
            Cmd::XDestroy(_, g) => {
                live(state, now)
                    .and_then(|s| s.stream())?
                    .group(ELEMS[g].as_bytes())?;
                let c = GroupChange {
                    destroy: true,
                    ..GroupChange::default()
                };
                ops::group_change(state, now, tag, &e(g), &c).ok().flatten()
            }
            Cmd::XRead(_, g, consumer, n) => {
                let x = live(state, now).and_then(|s| s.stream())?;
                let mut head = x.group(ELEMS[g].as_bytes())?.head();
                let picked: Vec<(StreamId, ServerId)> = x
                    .undelivered(&head)
                    .take(n as usize)
                    .map(|(id, en)| (id, en.tag.dot.server))
                    .collect();
                let mut c = GroupChange::default();
                for (id, origin) in picked {
                    head.deliver(id, origin);
                    let p = Pending {
                        consumer: e(consumer),
                        delivered_ms: now,
                        count: 1,
                    };
                    c.pending.push((id, Some(p)));
                }
                c.head = Some(head);
                c.consumers.push((e(consumer), Some(now)));
                ops::group_change(state, now, tag, &e(g), &c).ok().flatten()
            }
            Cmd::XAck(_, g, i) => {
                let grp = live(state, now)
                    .and_then(|s| s.stream())?
                    .group(ELEMS[g].as_bytes())?;
                let n = grp.pending_len().max(1);
                let (id, _) = grp.pending().nth(i % n)?;
                let c = GroupChange {
                    pending: vec![(id, None)],
                    ..GroupChange::default()
                };
                ops::group_change(state, now, tag, &e(g), &c).ok().flatten()
            }
            Cmd::XClaim(_, g, consumer, i) => {
                let grp = live(state, now)
                    .and_then(|s| s.stream())?
                    .group(ELEMS[g].as_bytes())?;
                let n = grp.pending_len().max(1);
                let (id, p) = grp.pending().nth(i % n)?;
                let p = Pending {
                    consumer: e(consumer),
                    delivered_ms: now,
                    count: p.count + 1,
                };
                let c = GroupChange {
                    pending: vec![(id, Some(p))],
                    consumers: vec![(e(consumer), Some(now))],
                    ..GroupChange::default()
                };
                ops::group_change(state, now, tag, &e(g), &c).ok().flatten()
            }
            Cmd::Flush => None,
        })
    }

    pub fn deliver(&mut self, to: usize, from: usize, n: usize) {
        for _ in 0..n {
            let c = self.replicas[to].cursor[from];
            let Some(msg) = self.streams[from].get(c).cloned() else {
                return;
            };
            let now = self.wall(to);
            apply_msg(&mut self.replicas[to], &msg, now, false);
            self.replicas[to].cursor[from] = c + 1;
        }
    }

    pub fn duplicate(&mut self, to: usize, from: usize, back: usize) {
        let c = self.replicas[to].cursor[from];
        if c == 0 {
            return;
        }
        let msg = self.streams[from][c - 1 - back.min(c - 1)].clone();
        let now = self.wall(to);
        let raw = self.raw_duplicates;
        apply_msg(&mut self.replicas[to], &msg, now, raw);
    }

    pub fn merge_key(&mut self, to: usize, from: usize, key: &str) {
        if to == from {
            return;
        }
        let state = self.replicas[from].ks.get(key.as_bytes()).cloned();
        if let Some(s) = state {
            self.replicas[to].ks.merge_key(key.as_bytes(), &s);
        }
    }

    pub fn merge_all(&mut self, to: usize, from: usize) {
        if to == from {
            return;
        }
        let ks = self.replicas[from].ks.clone();
        self.replicas[to].ks.merge(&ks);
    }

    pub fn report(&mut self, from: usize) {
        let applied = self.replicas[from].applied.clone();
        let origin = self.replicas[from].id;
        self.streams[from].push(Msg::Report { origin, applied });
        let len = self.streams[from].len();
        self.replicas[from].cursor[from] = len;
    }

    /// What replica `r` knows to be causally stable: the meet of every member's latest
    /// report (its own applied vector for itself). A member not yet heard from makes it
    /// empty.
    pub fn stable(&self, r: usize) -> VersionVector {
        let rep = &self.replicas[r];
        let mut stable = rep.applied.clone();
        for (i, other) in self.replicas.iter().enumerate() {
            if i == r {
                continue;
            }
            match rep.reports.get(&other.id) {
                Some(v) => stable = stable.meet(v),
                None => return VersionVector::new(),
            }
        }
        stable
    }

    /// Collect what is stable at `r`, then read its digests as an anti-entropy round would
    /// (so later changes must keep them up to date; [`Cluster::assert_converged`] checks).
    pub fn gc(&mut self, r: usize) {
        if self.gc {
            let stable = self.stable(r);
            self.replicas[r].ks.gc(&stable);
        }
        self.replicas[r].ks.bucket_digests();
    }

    pub fn run(&mut self, s: &Step) {
        match s {
            Step::Exec(r, c) => {
                self.exec(*r, c);
            }
            Step::Deliver { to, from, n } => self.deliver(*to, *from, *n),
            Step::Duplicate { to, from, back } => self.duplicate(*to, *from, *back),
            Step::MergeKey { to, from, key } => self.merge_key(*to, *from, KEYS[*key]),
            Step::MergeAll { to, from } => self.merge_all(*to, *from),
            Step::Report(r) => self.report(*r),
            Step::Gc(r) => self.gc(*r),
            Step::Tick(ms) => self.tick(*ms),
        }
        // A string's length, told without its value (APPEND's reply), is its value's.
        let changed = match *s {
            Step::Exec(r, _) | Step::Gc(r) => r,
            Step::Deliver { to, .. }
            | Step::Duplicate { to, .. }
            | Step::MergeKey { to, .. }
            | Step::MergeAll { to, .. } => to,
            Step::Report(_) | Step::Tick(_) => return,
        };
        if let Some(r) = self.replicas.get(changed) {
            for key in KEYS {
                if let Some(k) = r.ks.get(key.as_bytes()).filter(|k| k.has_bit_writes()) {
                    let len = k.string_value().map(|v| v.len());
                    assert_eq!(k.string_len(), len, "{key} after {s:?}");
                }
            }
        }
    }

    /// Run a write at replica `r` on `key`: `f` builds the effect from the key's state there
    /// (the wall time and a fresh tag given). Returns whether it made an effect.
    pub fn write(
        &mut self,
        r: usize,
        key: &str,
        f: impl FnOnce(Option<&KeyState>, u64, Tag) -> Option<Effect>,
    ) -> bool {
        let now = self.wall(r);
        let rep = &mut self.replicas[r];
        let op = OpId(rep.applied.get(rep.id).0 + 1);
        let state = rep.ks.get(key.as_bytes());
        let floor = state.map_or(gdc_crdt::Hlc::ZERO, |s| s.max_hlc());
        let tag = Tag::new(Dot::new(rep.id, op, 0), rep.clock.tick_after(now, floor));
        let Some(effect) = f(state, now, tag) else {
            return false;
        };
        let msg = Msg::Op {
            origin: rep.id,
            op,
            body: Body::Key {
                key: Blob::from(key),
                effect: Box::new(effect),
            },
        };
        apply_msg(rep, &msg, now, false);
        self.streams[r].push(msg);
        self.replicas[r].cursor[r] = self.streams[r].len();
        true
    }

    /// Wall clocks move on by `ms`.
    pub fn tick(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    /// FLUSHDB at replica `r`.
    pub fn flush(&mut self, r: usize) {
        self.exec(r, &Cmd::Flush);
    }

    /// The state of `key` at replica `r`.
    pub fn state(&self, r: usize, key: &str) -> Option<&KeyState> {
        self.replicas[r].ks.get(key.as_bytes())
    }

    /// Deliver everything everywhere; then, with GC, a round of reports and a GC everywhere.
    pub fn quiesce(&mut self) {
        let n = self.replicas.len();
        self.deliver_all();
        if self.gc {
            for r in 0..n {
                self.report(r);
            }
            self.deliver_all();
            for r in 0..n {
                self.gc(r);
            }
        }
    }

    pub fn deliver_all(&mut self) {
        let n = self.replicas.len();
        for to in 0..n {
            for from in 0..n {
                self.deliver(to, from, usize::MAX);
            }
        }
    }

    /// Panics unless every replica holds an equal keyspace with an equal digest, and each
    /// replica's digests, kept up to date through every change, equal digests counted afresh.
    pub fn assert_converged(&mut self) {
        for (i, r) in self.replicas.iter_mut().enumerate() {
            let (flushed, flushed_by) = r.ks.flushed();
            let mut fresh = Keyspace::from_parts(
                r.ks.iter().map(|(key, k)| (key.clone(), k.clone())),
                flushed.clone(),
                flushed_by.clone(),
            );
            assert_eq!(
                r.ks.bucket_digests(),
                fresh.bucket_digests(),
                "replica {}'s kept digests are stale",
                i + 1
            );
        }
        let first_digest = self.replicas[0].ks.digest();
        for i in 1..self.replicas.len() {
            assert_eq!(
                self.replicas[0].ks,
                self.replicas[i].ks,
                "replica 1 and replica {} differ",
                i + 1
            );
            assert_eq!(
                first_digest,
                self.replicas[i].ks.digest(),
                "digests of replica 1 and {} differ",
                i + 1
            );
        }
    }
}

/// A key as a command finds it: absent when expired.
fn live(k: Option<&KeyState>, now: u64) -> Option<&KeyState> {
    k.filter(|k| k.exists(now))
}

/// The key a command writes (FLUSHDB: the first, unused).
pub fn key_of(c: &Cmd) -> &'static str {
    let k = match c {
        Cmd::Set(k, ..)
        | Cmd::Del(k)
        | Cmd::Incr(k, _)
        | Cmd::IncrFloat(k, _)
        | Cmd::Expire(k, _)
        | Cmd::Persist(k)
        | Cmd::HSet(k, ..)
        | Cmd::HDel(k, _)
        | Cmd::HIncr(k, ..)
        | Cmd::SAdd(k, _)
        | Cmd::SRem(k, _)
        | Cmd::ZAdd(k, ..)
        | Cmd::ZIncr(k, ..)
        | Cmd::ZRem(k, _)
        | Cmd::Push(k, ..)
        | Cmd::Pop(k, _)
        | Cmd::LSet(k, ..)
        | Cmd::LInsert(k, ..)
        | Cmd::PfAdd(k, _)
        | Cmd::Append(k, ..)
        | Cmd::SetRange(k, ..)
        | Cmd::SetBit(k, ..)
        | Cmd::BitIncr(k, ..)
        | Cmd::XAdd(k, ..)
        | Cmd::XDel(k, _)
        | Cmd::XGroup(k, _)
        | Cmd::XDestroy(k, _)
        | Cmd::XRead(k, ..)
        | Cmd::XAck(k, ..)
        | Cmd::XClaim(k, ..) => *k,
        Cmd::Flush => 0,
    };
    KEYS[k]
}

/// Apply one message at a replica. Ops its applied vector covers are skipped, as the node
/// does, unless `raw` (a duplicate that goes straight to the CRDT).
pub fn apply_msg(rep: &mut Replica, msg: &Msg, now_ms: u64, raw: bool) {
    match msg {
        Msg::Report { origin, applied } => {
            if *origin != rep.id {
                rep.reports.insert(*origin, applied.clone());
            }
        }
        Msg::Op { origin, op, body } => {
            if !raw && rep.applied.get(*origin) >= *op {
                return;
            }
            match body {
                Body::Key { key, effect } => {
                    rep.clock.observe(effect.tag.hlc, now_ms);
                    if *origin == rep.id {
                        rep.ks.apply(key, effect);
                    } else {
                        // As a node applies another region's op: counting conflicts.
                        let (_, found) = rep.ks.apply_remote(key, effect);
                        rep.conflicts.record(found);
                    }
                }
                Body::Flush { cutoff, by } => rep.ks.flush(cutoff, *by),
            }
            if !raw {
                rep.applied.raise(*origin, *op);
            }
        }
    }
}

pub fn merge_of<T: Crdt + Clone>(a: &T, b: &T) -> T {
    let mut m = a.clone();
    m.merge(b);
    m
}
