//! The conflict rules of docs/semantics.md, one test per rule, each with exact values.
//! Regions are replicas of a simulated cluster; "concurrent" means neither had received the
//! other's op when it made its own.

mod common;

use common::{Body, Cluster, Msg};
use gdc_crdt::bits::{BitOp, BitWrite, StrWrite};
use gdc_crdt::hll;
use gdc_crdt::ops::GroupChange;
use gdc_crdt::ops::{self, End, SetTtl};
use gdc_crdt::stream::{GroupHead, Pending, StreamId, StreamPart};
use gdc_crdt::{Blob, KeyState, Kind};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

fn b(s: &str) -> Blob {
    Blob::from(s)
}

fn regions() -> Cluster {
    Cluster::new(3, false)
}

impl Cluster {
    fn set(&mut self, r: usize, k: &str, v: &str) {
        assert!(self.write(r, k, |s, now, t| Some(ops::set(
            s,
            now,
            t,
            b(v),
            SetTtl::Clear
        ))));
    }
    fn set_ttl(&mut self, r: usize, k: &str, v: &str, ttl: SetTtl) {
        assert!(self.write(r, k, |s, now, t| Some(ops::set(s, now, t, b(v), ttl))));
    }
    fn incr(&mut self, r: usize, k: &str, by: i64) -> i64 {
        let mut out = 0;
        assert!(self.write(r, k, |s, now, t| {
            let (e, v) = ops::incr_by(s, now, t, by).ok()?;
            out = v;
            Some(e)
        }));
        out
    }
    fn del(&mut self, r: usize, k: &str) {
        assert!(self.write(r, k, |s, _, t| ops::delete(s, t)));
    }
    fn expire_in(&mut self, r: usize, k: &str, ms: u64) {
        assert!(self.write(r, k, |s, now, t| ops::expire(s, now, t, now + ms)));
    }
    fn persist(&mut self, r: usize, k: &str) {
        assert!(self.write(r, k, ops::persist));
    }
    fn sadd(&mut self, r: usize, k: &str, m: &[&str]) {
        let m: Vec<Blob> = m.iter().map(|x| b(x)).collect();
        assert!(self.write(r, k, |s, now, t| ops::sadd(s, now, t, &m).ok().map(|x| x.0)));
    }
    fn srem(&mut self, r: usize, k: &str, m: &[&str]) {
        let m: Vec<Blob> = m.iter().map(|x| b(x)).collect();
        assert!(self.write(r, k, |s, now, t| {
            ops::srem(s, now, t, &m).ok().and_then(|x| x.0)
        }));
    }
    fn hset(&mut self, r: usize, k: &str, f: &str, v: &str) {
        assert!(self.write(r, k, |s, now, t| {
            ops::hset(s, now, t, &[(b(f), b(v))]).ok().map(|x| x.0)
        }));
    }
    fn hdel(&mut self, r: usize, k: &str, f: &str) {
        assert!(self.write(r, k, |s, now, t| {
            ops::hdel(s, now, t, &[b(f)]).ok().and_then(|x| x.0)
        }));
    }
    fn hincr(&mut self, r: usize, k: &str, f: &str, by: i64) {
        assert!(self.write(r, k, |s, now, t| {
            ops::hincr_by(s, now, t, &b(f), by).ok().map(|x| x.0)
        }));
    }
    fn zadd(&mut self, r: usize, k: &str, m: &str, score: f64) {
        assert!(self.write(r, k, |s, now, t| {
            ops::zadd(s, now, t, &[(b(m), score)]).ok().map(|x| x.0)
        }));
    }
    fn zincr(&mut self, r: usize, k: &str, m: &str, by: f64) {
        assert!(self.write(r, k, |s, now, t| {
            ops::zincr_by(s, now, t, &b(m), by).ok().map(|x| x.0)
        }));
    }
    fn zrem(&mut self, r: usize, k: &str, m: &str) {
        assert!(self.write(r, k, |s, now, t| {
            ops::zrem(s, now, t, &[b(m)]).ok().and_then(|x| x.0)
        }));
    }
    fn push(&mut self, r: usize, k: &str, end: End, v: &[&str]) {
        let v: Vec<Blob> = v.iter().map(|x| b(x)).collect();
        assert!(self.write(r, k, |s, now, t| {
            ops::list_push(s, now, t, end, v.iter().cloned())
                .ok()
                .map(|(e, _)| e)
        }));
    }
    fn lpop(&mut self, r: usize, k: &str) {
        assert!(self.write(r, k, |s, now, t| {
            ops::list_pop(s, now, t, End::Left, 1)
                .ok()
                .and_then(|(e, _)| e)
        }));
    }
    fn ltrim(&mut self, r: usize, k: &str, keep: std::ops::Range<usize>) {
        let len = self.lrange(r, k).len();
        let outside: Vec<usize> = (0..len).filter(|i| !keep.contains(i)).collect();
        assert!(self.write(r, k, |s, now, t| {
            ops::list_remove(s, now, t, &outside).ok().flatten()
        }));
    }
    fn lset(&mut self, r: usize, k: &str, i: i64, v: &str) {
        assert!(self.write(r, k, |s, now, t| ops::list_set(s, now, t, i, b(v)).ok()));
    }

    fn key(&self, r: usize, k: &str) -> Option<&KeyState> {
        self.state(r, k).filter(|s| s.exists(self.wall(r)))
    }
    fn get_bytes(&self, r: usize, k: &str) -> Vec<u8> {
        self.key(r, k)
            .and_then(|s| s.string_value())
            .map(|v| v.into_owned())
            .unwrap_or_default()
    }
    fn get(&self, r: usize, k: &str) -> Option<String> {
        let v = self.key(r, k)?.string_value()?;
        Some(String::from_utf8(v.into_owned()).expect("utf8"))
    }
    fn members(&self, r: usize, k: &str) -> Vec<String> {
        self.key(r, k)
            .and_then(|s| s.set())
            .map(|s| {
                s.members()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
    fn hget(&self, r: usize, k: &str, f: &str) -> Option<String> {
        let h = self.key(r, k)?.hash()?;
        Some(String::from_utf8(h.get(f.as_bytes())?.value().into_owned()).expect("utf8"))
    }
    fn zscore(&self, r: usize, k: &str, m: &str) -> Option<f64> {
        self.key(r, k)?.zset()?.score(m.as_bytes())
    }
    fn lrange(&self, r: usize, k: &str) -> Vec<String> {
        self.key(r, k)
            .and_then(|s| s.list())
            .map(|l| {
                l.iter()
                    .map(|e| String::from_utf8_lossy(e.value).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Every region reads the same through `f`; returns that reading.
    fn everywhere<T: PartialEq + std::fmt::Debug>(&self, f: impl Fn(&Cluster, usize) -> T) -> T {
        let first = f(self, A);
        for r in [B, C] {
            assert_eq!(f(self, r), first, "region {r} reads differently");
        }
        first
    }
}

// ---- strings: last writer wins ----

#[test]
fn concurrent_sets_converge_to_the_later_hlc() {
    let mut c = regions();
    c.tick(10);
    c.set(A, "k", "from-a");
    c.tick(10);
    c.set(C, "k", "from-c");
    c.deliver_all();
    // C's write has the larger HLC (A and C share the wall clock; C wrote 10 ms later).
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("from-c".into()));
}

#[test]
fn causally_later_set_wins_despite_clock_behind() {
    let mut c = regions();
    // B's wall clock runs 5 s behind A's.
    c.set(A, "k", "first");
    c.deliver(B, A, usize::MAX);
    c.set(B, "k", "second");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("second".into()));
}

#[test]
fn nx_condition_is_judged_at_the_origin_and_the_outcome_replicates() {
    let mut c = regions();
    // SETNX at two regions that both see the key absent: both succeed locally; the
    // replicated outcomes are ordinary writes, resolved by LWW.
    for r in [A, B] {
        let absent = c.key(r, "k").is_none();
        assert!(absent);
        c.set(r, "k", if r == A { "a" } else { "b" });
    }
    c.deliver_all();
    // A's HLC is ahead of B's (B's clock lags 5 s).
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("a".into()));
}

impl Cluster {
    fn append(&mut self, r: usize, k: &str, v: &str) {
        let w = StrWrite::Append(b(v));
        assert!(self.write(r, k, |s, now, t| {
            ops::write_bytes(s, now, t, w).ok().map(|(e, _)| e)
        }));
    }
    fn setrange(&mut self, r: usize, k: &str, offset: u64, v: &str) {
        let w = StrWrite::Range {
            offset,
            bytes: b(v),
        };
        assert!(self.write(r, k, |s, now, t| {
            ops::write_bytes(s, now, t, w).ok().map(|(e, _)| e)
        }));
    }
}

/// A string longer than APPEND and SETRANGE write whole.
fn long(s: &str) -> String {
    s.repeat(ops::WRITTEN_WHOLE_MAX / s.len() + 1)
}

#[test]
fn concurrent_appends_both_add_in_stamp_order() {
    let mut c = Cluster::new(3, true);
    let x = long("x");
    c.set(A, "k", &x);
    c.deliver_all();
    // APPEND replicates its bytes: crossing appends both add, the later (HLC) last.
    c.tick(1);
    c.append(C, "k", "c");
    c.append(A, "k", "a");
    assert_eq!(c.get(C, "k"), Some(format!("{x}c")));
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some(format!("{x}ac")));
    // Once stable, every region bakes them into the register, reading the same.
    c.quiesce();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some(format!("{x}ac")));
    assert_eq!(c.everywhere(|c, r| c.pending_bits(r, "k")), 0);
    c.assert_converged();
}

#[test]
fn appends_to_a_short_string_are_written_whole() {
    let mut c = regions();
    c.set(A, "k", "x");
    c.deliver_all();
    // Short strings are written whole, as SET writes them: of crossing appends, the later
    // (HLC) result is kept, and the key holds no partial writes.
    c.tick(1);
    c.append(C, "k", "c");
    c.append(A, "k", "a");
    c.deliver_all();
    // C's clock is ahead here: its result is the later.
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("xc".into()));
    assert_eq!(c.everywhere(|c, r| c.pending_bits(r, "k")), 0);
    assert!(c.everywhere(|c, r| c.key(r, "k").is_some_and(|k| !k.has_bit_writes())));
}

#[test]
fn concurrent_setranges_of_different_bytes_both_survive() {
    let mut c = regions();
    let tail = long(".");
    c.set(A, "k", &format!("hello world{tail}"));
    c.deliver_all();
    c.setrange(A, "k", 0, "J");
    c.setrange(B, "k", 6, "W");
    c.setrange(C, "k", 11, "!");
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.get(r, "k")),
        Some(format!("Jello World!{}", &tail[1..]))
    );
}

#[test]
fn an_append_crossing_a_set_applies_over_it() {
    let mut c = regions();
    c.set(A, "k", &long("old"));
    c.deliver_all();
    // Whichever is later, the append adds to the SET's value: the SET did not see it.
    c.append(B, "k", "+");
    c.tick(1);
    c.set(A, "k", "new");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("new+".into()));
    // A SET that saw the append replaces it.
    c.set(C, "k", "last");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("last".into()));
}

// ---- streams: entries kept, numbers joined, groups at least once ----

impl Cluster {
    fn xadd(&mut self, r: usize, k: &str, id: StreamId, v: &str) {
        assert!(self.write(r, k, |s, now, t| {
            ops::xadd(s, now, t, id, &[b("f"), b(v)], &[]).ok()
        }));
    }
    fn stream_of(&self, r: usize, k: &str) -> &StreamPart {
        self.key(r, k).and_then(|s| s.stream()).expect("a stream")
    }
    fn group_write(&mut self, r: usize, k: &str, c: GroupChange) {
        assert!(self.write(r, k, |s, now, t| {
            ops::group_change(s, now, t, &b("g"), &c).ok().flatten()
        }));
    }
}

fn entries(c: &Cluster, r: usize) -> Vec<(StreamId, Vec<u8>)> {
    c.stream_of(r, "s")
        .entries()
        .map(|(id, e)| (id, e.fields[1].to_vec()))
        .collect()
}

#[test]
fn one_id_given_in_two_regions_keeps_the_later_entry() {
    let mut c = regions();
    let id = StreamId::new(5, 0);
    c.xadd(B, "s", id, "b");
    c.tick(1);
    c.xadd(A, "s", id, "a");
    c.deliver_all();
    assert_eq!(c.everywhere(entries), [(id, b"a".to_vec())]);
}

#[test]
fn xsetid_wins_over_concurrent_numbers_and_keeps_their_entries() {
    let mut c = regions();
    c.xadd(A, "s", StreamId::new(5, 0), "x");
    c.deliver_all();
    assert!(c.write(A, "s", |s, now, t| {
        ops::xsetid(s, now, t, StreamId::new(100, 0), None, Some(50))
            .ok()
            .flatten()
    }));
    c.xadd(B, "s", StreamId::new(6, 0), "y");
    c.deliver_all();
    let m = c.everywhere(|c, r| c.stream_of(r, "s").meta());
    assert_eq!((m.last, m.entries_added()), (StreamId::new(100, 0), 50));
    assert_eq!(c.everywhere(entries).len(), 2);
}

#[test]
fn an_ack_crossing_a_claim_leaves_the_entry_pending_and_a_destroy_keeps_a_crossing_delivery() {
    let mut c = regions();
    let id = StreamId::new(5, 0);
    c.xadd(A, "s", id, "x");
    c.group_write(
        A,
        "s",
        GroupChange {
            head: Some(GroupHead::default()),
            ..GroupChange::default()
        },
    );
    let pending = |who: &str, count| Pending {
        consumer: b(who),
        delivered_ms: 1,
        count,
    };
    c.group_write(
        A,
        "s",
        GroupChange {
            pending: vec![(id, Some(pending("alice", 1)))],
            ..GroupChange::default()
        },
    );
    c.deliver_all();
    // A acknowledges while B claims it for bob: the claim survives (at least once).
    c.group_write(
        A,
        "s",
        GroupChange {
            pending: vec![(id, None)],
            ..GroupChange::default()
        },
    );
    c.group_write(
        B,
        "s",
        GroupChange {
            pending: vec![(id, Some(pending("bob", 2)))],
            ..GroupChange::default()
        },
    );
    c.deliver_all();
    let owner = c.everywhere(|c, r| {
        let g = c.stream_of(r, "s").group(b"g").expect("the group");
        g.pending_entry(id).map(|p| p.consumer.to_vec())
    });
    assert_eq!(owner, Some(b"bob".to_vec()));
    // A destroys the group while B delivers: the delivery keeps it (add wins).
    c.group_write(
        A,
        "s",
        GroupChange {
            destroy: true,
            ..GroupChange::default()
        },
    );
    let mut head = GroupHead::default();
    head.deliver(id, gdc_crdt::ServerId(1));
    c.group_write(
        B,
        "s",
        GroupChange {
            head: Some(head),
            ..GroupChange::default()
        },
    );
    c.deliver_all();
    assert!(c.everywhere(|c, r| c.stream_of(r, "s").group(b"g").is_some()));
}

// ---- bitmaps: bit writes, the later of a bit's ----

impl Cluster {
    fn setbit(&mut self, r: usize, k: &str, offset: u64, on: bool) {
        let w = BitWrite::set(offset, 1, u64::from(on));
        assert!(self.write(r, k, |s, now, t| ops::write_bits(s, now, t, &[w]).ok()));
    }
    /// BITFIELD key OVERFLOW WRAP INCRBY u<width> offset by.
    fn bitincr(&mut self, r: usize, k: &str, offset: u64, width: u8, by: i64) {
        let w = BitWrite::add(offset, width, by as u64);
        assert!(self.write(r, k, |s, now, t| ops::write_bits(s, now, t, &[w]).ok()));
    }
    fn pending_bits(&self, r: usize, k: &str) -> usize {
        self.key(r, k)
            .and_then(|s| s.str_part())
            .map_or(0, |s| s.bits().len())
    }
}

#[test]
fn concurrent_setbits_of_different_bits_both_survive() {
    let mut c = regions();
    c.setbit(A, "b", 3, true);
    c.setbit(B, "b", 20, true);
    c.setbit(C, "b", 9, true);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get_bytes(r, "b")), [0x10, 0x40, 0x08]);
}

#[test]
fn concurrent_writes_of_one_bit_keep_the_later() {
    let mut c = regions();
    c.setbit(A, "b", 5, true);
    c.deliver_all();
    // Crossing writes of one bit: A's, made a millisecond later, wins.
    c.setbit(B, "b", 5, true);
    c.tick(1);
    c.setbit(A, "b", 5, false);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get_bytes(r, "b")), [0x00]);
}

#[test]
fn a_setbit_crossing_a_set_applies_over_it() {
    let mut c = regions();
    c.set(A, "b", "@");
    c.deliver_all();
    c.set(A, "b", "@@");
    c.setbit(C, "b", 7, true);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "b")), Some("A@".into()));
}

#[test]
fn a_setbit_making_a_key_crossing_a_later_set_applies_over_it() {
    let mut c = regions();
    c.setbit(B, "b", 7, true);
    c.tick(1);
    c.set(A, "b", "@");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "b")), Some("A".into()));
}

#[test]
fn bit_writes_bake_into_the_register_once_stable_and_crossing_ones_all_count() {
    let mut c = Cluster::new(3, true);
    c.set(A, "b", "\0\0\0\0");
    c.quiesce();
    // Two regions write many bits and increments at once, in steady crossing streams.
    for i in 0..40u64 {
        c.setbit(A, "b", i % 8, i % 3 == 0);
        c.bitincr(A, "b", 8, 8, 1);
        c.setbit(B, "b", 16 + i % 8, i % 2 == 0);
        c.bitincr(B, "b", 8, 8, 2);
        c.tick(1);
        if i % 10 == 9 {
            // Now and then, what has arrived is reported and collected: some writes bake.
            c.deliver_all();
            c.report(A);
            c.report(B);
            c.gc(A);
            c.gc(B);
        }
    }
    c.quiesce();
    // 40 x 1 + 40 x 2 = 120 = 0x78; the last writes of bits 0-7 (i = 32..39: 33 and 36
    // and 39 set) and 16-23 (even i set: 16, 18, 20, 22).
    assert_eq!(
        c.everywhere(|c, r| c.get_bytes(r, "b")),
        [0b0100_1001, 0x78, 0b1010_1010, 0]
    );
    // Stable everywhere: every region baked them all.
    assert_eq!(c.everywhere(|c, r| c.pending_bits(r, "b")), 0);
    c.assert_converged();
}

#[test]
fn a_write_after_baking_removes_the_baked_bits_where_they_still_wait() {
    let mut c = Cluster::new(3, true);
    c.set(A, "b", "\0");
    c.setbit(B, "b", 0, true);
    c.bitincr(C, "b", 8, 8, 7);
    c.deliver_all();
    for r in [A, B, C] {
        c.report(r);
    }
    c.deliver_all();
    // Only A collects: it bakes both into its register; B and C still hold them pending.
    c.gc(A);
    assert_eq!(c.pending_bits(A, "b"), 0);
    assert_eq!(c.pending_bits(B, "b"), 2);
    assert_eq!(c.get_bytes(A, "b"), [0x80, 7]);
    // A full-state merge either way counts the increment once.
    c.merge_key(B, A, "b");
    c.merge_key(A, C, "b");
    assert_eq!(c.get_bytes(A, "b"), [0x80, 7]);
    assert_eq!(c.get_bytes(B, "b"), [0x80, 7]);
    // A's SET observed the baked writes: it removes them where they wait too.
    c.set(A, "b", "x");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "b")), Some("x".into()));
    c.quiesce();
    c.assert_converged();
}

#[test]
fn crossing_wrapping_increments_of_one_field_both_count() {
    let mut c = regions();
    c.set(A, "b", "\x10\0");
    c.deliver_all();
    // Each region adds to the 8-bit field at bit 4 (0x00 at first): +3, +250 and -1 cross.
    c.bitincr(A, "b", 4, 8, 3);
    c.bitincr(B, "b", 4, 8, 250);
    c.bitincr(C, "b", 4, 8, -1);
    // A SETBIT of another bit crosses them, and survives too.
    c.setbit(B, "b", 15, true);
    c.deliver_all();
    // 3 + 250 - 1 = 252 = 0xfc, in bits 4..12: 0x1f, 0xc1 with bit 3 kept and bit 15 set.
    assert_eq!(c.everywhere(|c, r| c.get_bytes(r, "b")), [0x1f, 0xc1]);
    // Past the width, the sum wraps as Redis wraps it (252 + 10 = 262 = 6 mod 256).
    c.bitincr(A, "b", 4, 8, 5);
    c.bitincr(C, "b", 4, 8, 5);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get_bytes(r, "b")), [0x10, 0x61]);
}

// ---- HyperLogLog: concurrent writes merge by register maximum ----

impl Cluster {
    /// PFADD as the node makes it: the key's HLL (or a new one) with the elements added,
    /// written whole.
    fn pfadd(&mut self, r: usize, k: &str, elements: &[String]) {
        assert!(self.write(r, k, |s, now, t| {
            let mut v = s
                .filter(|s| s.exists(now))
                .and_then(|s| s.string_value())
                .map(|v| v.into_owned())
                .unwrap_or_else(hll::empty);
            if hll::is_dense_hll(&v) {
                let raises = hll::dense_raises(&v, elements.iter().map(|e| e.as_bytes()));
                return ops::write_bits(s, now, t, &raises).ok();
            }
            for e in elements {
                hll::add(&mut v, e.as_bytes(), hll::SPARSE_BYTES_DEFAULT).expect("an HLL");
            }
            Some(ops::set(s, now, t, Blob::from(v), SetTtl::Keep))
        }));
    }
    /// The additions the last op made at `r` (of its stream to the others).
    fn last_adds(&self, r: usize) -> Vec<gdc_crdt::Addition> {
        self.streams[r]
            .iter()
            .rev()
            .find_map(|m| match m {
                Msg::Op {
                    body: Body::Key { effect, .. },
                    ..
                } => Some(effect.adds.to_vec()),
                _ => None,
            })
            .expect("an op")
    }
    fn pfcount(&self, r: usize, k: &str) -> u64 {
        let v = self
            .key(r, k)
            .and_then(|s| s.string_value())
            .expect("an HLL");
        hll::count(&v).expect("an HLL")
    }
}

fn elements(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}{i}")).collect()
}

#[test]
fn concurrent_pfadds_all_count() {
    let mut c = regions();
    c.pfadd(A, "h", &elements("a", 300));
    c.pfadd(B, "h", &elements("b", 300));
    c.pfadd(C, "h", &elements("c", 5000)); // dense: the union reads dense
    c.deliver_all();
    let n = c.everywhere(|c, r| c.pfcount(r, "h"));
    // HyperLogLog's standard error is 0.81%: 5600 within 3%.
    assert!((5432..=5768).contains(&n), "{n}");
    // A later PFADD observes the union and replaces the three writes with one.
    c.pfadd(A, "h", &elements("d", 1));
    c.deliver_all();
    assert!(c.everywhere(|c, r| c.pfcount(r, "h")) >= n);
    assert_eq!(
        c.everywhere(|c, r| c
            .key(r, "h")
            .and_then(|k| k.string())
            .map(|f| f.regs().len())),
        Some(1)
    );
}

#[test]
fn a_pfadd_concurrent_with_a_del_keeps_its_hll_whole() {
    let mut c = regions();
    c.pfadd(A, "h", &elements("a", 100));
    c.deliver_all();
    c.del(B, "h");
    c.pfadd(C, "h", &elements("c", 100));
    c.deliver_all();
    // Update wins over delete, as for a string: the PFADD's HLL, its old elements included.
    let n = c.everywhere(|c, r| c.pfcount(r, "h"));
    assert!((194..=206).contains(&n), "{n}");
}

#[test]
fn pfadds_to_a_dense_hll_replicate_register_raises_and_crossing_ones_all_count() {
    let mut c = Cluster::new(3, true);
    c.pfadd(A, "h", &elements("a", 5000));
    c.quiesce();
    // Dense now: a PFADD replicates the registers it raises, a few bytes each.
    c.pfadd(A, "h", &elements("x", 300));
    let adds = c.last_adds(A);
    assert!(
        adds.iter().all(
            |a| matches!(a, gdc_crdt::Addition::Bits(StrWrite::Bits(w)) if w.op == BitOp::HllMax)
        ),
        "{adds:?}"
    );
    c.pfadd(B, "h", &elements("y", 300));
    c.pfadd(C, "h", &elements("z", 300));
    c.deliver_all();
    let n = c.everywhere(|c, r| c.pfcount(r, "h"));
    assert!((5742..=6258).contains(&n), "5900 within 3%: {n}");
    // One register everywhere, and once stable the raises are baked into it.
    c.quiesce();
    assert_eq!(c.everywhere(|c, r| c.pending_bits(r, "h")), 0);
    assert_eq!(c.everywhere(|c, r| c.pfcount(r, "h")), n);
    c.assert_converged();
}

#[test]
fn a_dense_pfadd_crossing_a_del_keeps_the_registers_it_raised() {
    let mut c = regions();
    c.pfadd(A, "h", &elements("a", 5000));
    c.deliver_all();
    let before = c.get_bytes(C, "h");
    c.del(B, "h");
    c.pfadd(C, "h", &elements("c", 100));
    c.deliver_all();
    // The DEL removed what it saw; the registers the crossing PFADD raised remain, on an
    // empty HyperLogLog: the elements that raised one still count.
    let mut want = hll::empty();
    hll::make_dense(&mut want).expect("an HLL");
    let c_elements = elements("c", 100);
    for w in hll::dense_raises(&before, c_elements.iter().map(|e| e.as_bytes())) {
        w.apply(&mut want);
    }
    assert_eq!(c.everywhere(|c, r| c.get_bytes(r, "h")), want);
    let n = hll::count(&want).expect("an HLL");
    assert!(
        (60..=100).contains(&n),
        "most of the 100 raise a register: {n}"
    );
}

#[test]
fn a_set_of_a_non_hll_concurrent_with_a_pfadd_is_last_writer_wins() {
    let mut c = regions();
    c.pfadd(A, "h", &elements("a", 10));
    c.tick(1);
    c.set(B, "h", "plain");
    c.deliver_all();
    // One of the two, by HLC order (B's clock lags 5 s: A's write wins), never a mix.
    let v = c.everywhere(|c, r| c.get_bytes(r, "h"));
    assert!(v.starts_with(b"HYLL"), "{v:?}");
}

// ---- counters ----

#[test]
fn concurrent_incr_in_two_regions_adds_up() {
    let mut c = regions();
    assert_eq!(c.incr(A, "n", 5), 5);
    assert_eq!(c.incr(B, "n", 7), 7);
    assert_eq!(c.incr(C, "n", -2), -2);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), Some("10".into()));
}

#[test]
fn set_keeps_increments_it_did_not_see() {
    let mut c = regions();
    c.incr(A, "n", 3);
    c.deliver_all();
    c.tick(10);
    // B resets to 100 having seen A's +3; concurrently C adds 4 and A adds 1.
    c.set(B, "n", "100");
    c.incr(C, "n", 4);
    c.incr(A, "n", 1);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), Some("105".into()));
    // A counter that a SET reset keeps counting from there.
    assert_eq!(c.incr(A, "n", 1), 106);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), Some("106".into()));
}

#[test]
fn incrbyfloat_and_incr_mix_into_a_float() {
    let mut c = regions();
    c.incr(A, "n", 10);
    assert!(c.write(B, "n", |s, now, t| {
        gdc_crdt::ops::incr_by_float(s, now, t, gdc_crdt::field::Num::Float(0.5))
            .ok()
            .map(|x| x.0)
    }));
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), Some("10.5".into()));
}

/// INCR reads a counter's value as GET shows it, also where the sum left `i64` (concurrent
/// increments from two regions) or went through a float.
#[test]
fn incr_reads_the_value_get_shows() {
    let mut c = regions();
    c.incr(A, "big", i64::MAX - 1);
    c.incr(B, "big", 10);
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.get(r, "big")),
        Some("9223372036854775816".into())
    );
    assert_eq!(
        gdc_crdt::ops::incr_by(c.state(A, "big"), c.wall(A), gdc_crdt::Tag::default(), 1).err(),
        Some(gdc_crdt::OpError::NotInteger)
    );
    let half = |s: Option<&gdc_crdt::KeyState>, now, t| {
        gdc_crdt::ops::incr_by_float(s, now, t, gdc_crdt::field::Num::Float(0.5))
            .ok()
            .map(|x| x.0)
    };
    c.incr(A, "f", 10);
    assert!(c.write(B, "f", half));
    c.deliver_all();
    assert_eq!(
        gdc_crdt::ops::incr_by(c.state(A, "f"), c.wall(A), gdc_crdt::Tag::default(), 1).err(),
        Some(gdc_crdt::OpError::NotInteger),
        "10.5"
    );
    assert!(c.write(A, "f", half));
    assert_eq!(c.get(A, "f"), Some("11".into()));
    assert_eq!(c.incr(A, "f", 1), 12);
    c.set(B, "s", "-7");
    assert_eq!(c.incr(B, "s", 2), -5);
    assert_eq!(c.incr(B, "s", 5), 0);
}

/// A counter only one region increments is held in the key's own bytes (`heap_bytes` 0,
/// where the general form holds two boxes); it reads the same everywhere, and takes the
/// general form when a second region's increment joins it.
#[test]
fn a_counter_of_one_region_is_held_compact_everywhere_until_another_increments_it() {
    use gdc_crdt::heap::HeapSize;
    let mut c = regions();
    assert_eq!(c.incr(A, "n", 5), 5);
    assert_eq!(c.incr(A, "n", -2), 3);
    c.deliver_all();
    // A late copy of the first increment changes nothing.
    c.duplicate(B, A, 2);
    for r in [A, B, C] {
        let k = c.state(r, "n").expect("held");
        assert_eq!((k.heap_bytes(), k.string_i64()), (0, Some(3)), "region {r}");
        assert_eq!(c.get(r, "n"), Some("3".into()));
    }
    c.assert_converged();
    assert_eq!(c.incr(B, "n", 4), 7);
    c.deliver_all();
    for r in [A, B, C] {
        let k = c.state(r, "n").expect("held");
        assert!(k.heap_bytes() > 0, "region {r}: two origins' entries");
        assert_eq!(c.get(r, "n"), Some("7".into()));
    }
    c.assert_converged();
}

/// SETBIT over a counter writes the string whole, whatever form the counter is held in: a
/// counter only one region incremented (compact) and one two regions did (general) take a
/// SETBIT crossing another region's INCR alike.
#[test]
fn a_setbit_over_a_counter_is_the_same_in_either_form() {
    use gdc_crdt::heap::HeapSize;
    let mut c = regions();
    c.incr(A, "compact", 5);
    c.incr(A, "general", 5);
    c.incr(B, "general", 0);
    c.deliver_all();
    let held = |c: &Cluster, k| c.state(A, k).expect("held").heap_bytes();
    assert_eq!((held(&c, "compact"), held(&c, "general") > 0), (0, true));
    for k in ["compact", "general"] {
        let unset = BitWrite::set(7, 1, 0);
        let e = ops::write_bits(c.state(A, k), c.wall(A), gdc_crdt::Tag::default(), &[unset])
            .expect("an effect");
        assert!(
            matches!(e.adds.first(), Some(gdc_crdt::Addition::Write { .. })),
            "{k}: written whole"
        );
        c.setbit(A, k, 7, false);
        c.incr(B, k, 10);
    }
    c.deliver_all();
    let read = c.everywhere(|c, r| c.get(r, "compact"));
    assert_eq!(read, c.everywhere(|c, r| c.get(r, "general")));
    assert!(read.is_some());
    c.assert_converged();
}

/// A counter left with one region's entry (the other region's was reset away, and the
/// reset collected) goes back to the compact form everywhere; unless its total left `i64`
/// (the negative entry let it grow that far): then it stays in the general form, and reads
/// whole.
#[test]
fn a_lone_counter_past_i64_reads_whole() {
    use gdc_crdt::heap::HeapSize;
    let mut c = Cluster::new(3, true);
    c.incr(B, "n", -10);
    c.incr(B, "small", -10);
    c.deliver_all();
    assert_eq!(c.incr(A, "n", i64::MAX), i64::MAX - 10);
    assert_eq!(c.incr(A, "n", 10), i64::MAX);
    assert_eq!(c.incr(A, "small", 5), -5);
    // C saw only B's entries: its DELs reset those, and A's increments stay.
    c.del(C, "n");
    c.del(C, "small");
    c.quiesce();
    let big = "9223372036854775817";
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), Some(big.into()));
    assert_eq!(c.everywhere(|c, r| c.get(r, "small")), Some("5".into()));
    for r in [A, B, C] {
        let k = c.state(r, "n").expect("held");
        assert!(k.heap_bytes() > 0, "region {r}");
        assert_eq!(k.string_i64(), None);
        let k = c.state(r, "small").expect("held");
        assert_eq!((k.heap_bytes(), k.string_i64()), (0, Some(5)), "region {r}");
    }
    c.assert_converged();
}

#[test]
fn incr_overflow_is_refused_at_the_origin() {
    let mut c = regions();
    c.set(A, "n", &i64::MAX.to_string());
    let refused = !c.write(A, "n", |s, now, t| {
        gdc_crdt::ops::incr_by(s, now, t, 1).ok().map(|x| x.0)
    });
    assert!(refused);
    assert_eq!(
        gdc_crdt::ops::incr_by(c.state(A, "n"), c.wall(A), gdc_crdt::Tag::default(), 1).err(),
        Some(gdc_crdt::OpError::Overflow)
    );
}

// ---- keys: observed-remove delete ----

#[test]
fn del_keeps_concurrent_write() {
    let mut c = regions();
    c.sadd(A, "s", &["x"]);
    c.deliver_all();
    c.del(B, "s");
    c.sadd(C, "s", &["y"]);
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.members(r, "s")),
        vec!["y".to_string()]
    );
}

/// COPY, RESTORE and the destinations of RENAME and MOVE write a value whole: it replaces
/// what the writing region had seen of the key, and an element a concurrent write elsewhere
/// added survives, as with DEL.
#[test]
fn a_whole_value_write_replaces_what_it_saw_and_keeps_a_concurrent_add() {
    let mut c = regions();
    c.sadd(A, "s", &["x"]);
    c.deliver_all();
    let whole = ops::Whole::Set(vec![b("r")]);
    assert!(c.write(B, "s", |s, _, t| Some(ops::replace(s, t, &whole, None))));
    c.sadd(C, "s", &["y"]);
    c.deliver_all();
    let sorted = |c: &Cluster, r| {
        let mut m = c.members(r, "s");
        m.sort();
        m
    };
    assert_eq!(c.everywhere(sorted), ["r", "y"]);
}

#[test]
fn del_removes_what_it_observed_everywhere() {
    let mut c = regions();
    c.set(A, "k", "v");
    c.incr(B, "n", 5);
    c.deliver_all();
    c.del(C, "k");
    c.del(C, "n");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), None);
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), None);
    // A counter deleted and incremented again starts from zero.
    assert_eq!(c.incr(B, "n", 2), 2);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), Some("2".into()));
}

#[test]
fn del_arriving_before_the_write_it_observed_still_removes_it() {
    let mut c = regions();
    c.set(A, "k", "v");
    c.deliver(B, A, usize::MAX);
    c.del(B, "k");
    // C hears B's delete before A's write (A's channel to C is slower).
    c.deliver(C, B, usize::MAX);
    c.deliver(C, A, usize::MAX);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), None);
}

// ---- TTL ----

#[test]
fn later_expiry_wins() {
    let mut c = regions();
    c.set(A, "k", "v");
    c.deliver_all();
    c.expire_in(A, "k", 60_000);
    c.expire_in(C, "k", 10_000);
    c.deliver_all();
    let now = c.now_ms;
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").and_then(|s| s.expire_at())),
        Some(now + 60_000)
    );
}

#[test]
fn persist_wins_over_concurrent_expire() {
    let mut c = regions();
    c.set_ttl(A, "k", "v", SetTtl::At(c.now_ms + 30_000));
    c.deliver_all();
    c.persist(A, "k");
    c.expire_in(C, "k", 90_000);
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").and_then(|s| s.expire_at())),
        None
    );
    // An EXPIRE that saw the PERSIST sets a TTL again.
    c.expire_in(B, "k", 50_000);
    c.deliver_all();
    let at = c.wall(B) + 50_000;
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").and_then(|s| s.expire_at())),
        Some(at)
    );
}

#[test]
fn set_without_keepttl_clears_the_ttl_it_observed() {
    let mut c = regions();
    c.set_ttl(A, "k", "v1", SetTtl::At(c.now_ms + 30_000));
    c.deliver_all();
    c.set(B, "k", "v2");
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").and_then(|s| s.expire_at())),
        None
    );
    c.set_ttl(A, "k", "v3", SetTtl::At(c.now_ms + 30_000));
    c.deliver_all();
    c.set_ttl(C, "k", "v4", SetTtl::Keep);
    c.deliver_all();
    let at = c.now_ms + 30_000;
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").and_then(|s| s.expire_at())),
        Some(at)
    );
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("v4".into()));
}

#[test]
fn expired_key_reads_missing_everywhere_and_its_delete_replicates() {
    let mut c = regions();
    c.set_ttl(A, "k", "v", SetTtl::At(c.now_ms + 1_000));
    c.deliver_all();
    c.tick(6_001); // past the expiry even for B, whose clock lags 5 s
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), None);
    // The region that notices removes it; the removal is an ordinary observed-remove.
    c.del(A, "k");
    c.deliver_all();
    assert!(c.everywhere(|c, r| c.state(r, "k").is_some_and(|s| s.kind().is_none())));
}

#[test]
fn write_to_an_expired_key_starts_a_fresh_one() {
    let mut c = regions();
    c.sadd(A, "s", &["old"]);
    c.expire_in(A, "s", 1_000);
    c.deliver_all();
    c.tick(2_000);
    c.sadd(A, "s", &["new"]);
    c.deliver_all();
    c.tick(10_000);
    assert_eq!(c.members(A, "s"), vec!["new".to_string()]);
    assert_eq!(c.key(A, "s").and_then(|s| s.expire_at()), None);
}

// ---- hashes ----

#[test]
fn hset_wins_over_concurrent_hdel() {
    let mut c = regions();
    c.hset(A, "h", "f", "1");
    c.deliver_all();
    c.hdel(B, "h", "f");
    c.hset(C, "h", "f", "2");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.hget(r, "h", "f")), Some("2".into()));
}

#[test]
fn concurrent_hincrby_adds_up_and_hset_resets_what_it_saw() {
    let mut c = regions();
    c.hincr(A, "h", "n", 2);
    c.hincr(B, "h", "n", 3);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.hget(r, "h", "n")), Some("5".into()));
    c.hset(A, "h", "n", "10");
    c.hincr(C, "h", "n", 1);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.hget(r, "h", "n")), Some("11".into()));
}

// ---- sets ----

#[test]
fn sadd_wins_over_concurrent_srem() {
    let mut c = regions();
    c.sadd(A, "s", &["x", "y"]);
    c.deliver_all();
    c.srem(B, "s", &["x", "y"]);
    c.sadd(C, "s", &["x"]);
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.members(r, "s")),
        vec!["x".to_string()]
    );
}

#[test]
fn srem_of_an_add_it_did_not_see_leaves_it() {
    let mut c = regions();
    c.sadd(A, "s", &["x"]);
    c.sadd(B, "s", &["x"]);
    c.deliver(C, A, usize::MAX);
    c.srem(C, "s", &["x"]);
    c.deliver_all();
    // C removed A's add of x, not B's.
    assert_eq!(
        c.everywhere(|c, r| c.members(r, "s")),
        vec!["x".to_string()]
    );
}

// ---- sorted sets ----

#[test]
fn zadd_score_is_lww_and_zincrby_adds_up() {
    let mut c = regions();
    c.zadd(A, "z", "m", 1.0);
    c.deliver_all();
    c.zincr(A, "z", "m", 2.0);
    c.zincr(B, "z", "m", 3.0);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.zscore(r, "z", "m")), Some(6.0));
    c.tick(10);
    c.zadd(A, "z", "m", 100.0);
    c.tick(10);
    c.zadd(C, "z", "m", 50.0);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.zscore(r, "z", "m")), Some(50.0));
}

#[test]
fn zadd_wins_over_concurrent_zrem() {
    let mut c = regions();
    c.zadd(A, "z", "m", 1.0);
    c.deliver_all();
    c.zrem(B, "z", "m");
    c.zincr(C, "z", "m", 1.0);
    c.deliver_all();
    // The ZREM removed the score it saw; the concurrent increment stays, on a base of 0.
    assert_eq!(c.everywhere(|c, r| c.zscore(r, "z", "m")), Some(1.0));
}

// ---- lists ----

#[test]
fn concurrent_lpush_keeps_both_in_one_order() {
    let mut c = regions();
    c.push(A, "l", End::Right, &["base"]);
    c.deliver_all();
    c.push(A, "l", End::Left, &["a"]);
    c.push(B, "l", End::Left, &["b"]);
    c.push(C, "l", End::Right, &["c"]);
    c.deliver_all();
    let l = c.everywhere(|c, r| c.lrange(r, "l"));
    assert_eq!(l.len(), 4);
    assert_eq!(&l[2..], ["base", "c"]);
    assert!(l[..2].contains(&"a".to_string()) && l[..2].contains(&"b".to_string()));
}

#[test]
fn concurrent_pops_of_one_element_remove_it_once() {
    let mut c = regions();
    c.push(A, "l", End::Right, &["x", "y", "z"]);
    c.deliver_all();
    c.lpop(A, "l");
    c.lpop(B, "l");
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.lrange(r, "l")),
        vec!["y".to_string(), "z".to_string()]
    );
}

/// A trim of many elements (removed together: `ListPart::remove_all`) removes what its
/// region saw, wherever it arrives: elements pushed concurrently at either end stay, and so
/// does a concurrent LSET's element inside the kept range.
#[test]
fn a_long_trim_crossing_pushes_removes_only_what_it_saw() {
    let mut c = regions();
    let values: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    c.push(A, "l", End::Right, &refs);
    c.deliver_all();
    c.ltrim(A, "l", 100..110);
    c.push(B, "l", End::Left, &["b-front"]);
    c.push(C, "l", End::Right, &["c-back"]);
    c.lset(B, "l", 106, "set-by-b");
    c.deliver_all();
    let mut expected = vec!["b-front".to_string()];
    expected.extend((100..110).map(|i| match i {
        105 => "set-by-b".to_string(),
        _ => format!("v{i}"),
    }));
    expected.push("c-back".to_string());
    assert_eq!(c.everywhere(|c, r| c.lrange(r, "l")), expected);
}

#[test]
fn lset_is_lww_per_element() {
    let mut c = regions();
    c.push(A, "l", End::Right, &["x", "y"]);
    c.deliver_all();
    c.tick(10);
    c.lset(A, "l", 1, "from-a");
    c.tick(10);
    c.lset(C, "l", 1, "from-c");
    c.lset(B, "l", 0, "from-b");
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.lrange(r, "l")),
        vec!["from-b".to_string(), "from-c".to_string()]
    );
}

// ---- type clash ----

#[test]
fn type_clash_reads_as_the_later_write_and_hides_the_other() {
    let mut c = regions();
    c.set(A, "k", "str");
    c.tick(10);
    c.sadd(C, "k", &["m"]);
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").and_then(|s| s.kind())),
        Some(Kind::Set)
    );
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").map(|s| s.hidden().count())),
        Some(1)
    );
    // A write that saw both removes the hidden string: removing the member leaves nothing.
    c.srem(A, "k", &["m"]);
    c.deliver_all();
    assert_eq!(
        c.everywhere(|c, r| c.key(r, "k").and_then(|s| s.kind())),
        None
    );
}

#[test]
fn type_clash_hidden_content_shows_again_when_the_winner_is_removed_unseen() {
    let mut c = regions();
    c.set(A, "k", "str");
    c.tick(10);
    c.sadd(C, "k", &["m"]);
    // C removes its own member without having seen A's string.
    c.srem(C, "k", &["m"]);
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k")), Some("str".into()));
}

// ---- databases ----

#[test]
fn flushdb_removes_what_it_observed_and_keeps_concurrent_writes() {
    let mut c = regions();
    c.set(A, "k1", "v");
    c.sadd(B, "k2", &["m"]);
    c.deliver_all();
    c.flush(C);
    c.set(A, "k3", "concurrent");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "k1")), None);
    assert_eq!(
        c.everywhere(|c, r| c.members(r, "k2")),
        Vec::<String>::new()
    );
    assert_eq!(
        c.everywhere(|c, r| c.get(r, "k3")),
        Some("concurrent".into())
    );
}

// ---- delivery ----

#[test]
fn redelivery_and_full_state_merges_never_double_count() {
    let mut c = regions();
    c.incr(A, "n", 5);
    c.incr(A, "n", 5);
    c.deliver(B, A, 1);
    c.merge_key(B, A, "n");
    c.deliver(B, A, usize::MAX);
    c.duplicate(B, A, 0);
    c.duplicate(B, A, 1);
    c.merge_key(C, B, "n");
    c.deliver_all();
    assert_eq!(c.everywhere(|c, r| c.get(r, "n")), Some("10".into()));
}
