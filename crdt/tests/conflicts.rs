//! The conflict counters (docs/semantics.md, "Conflict counters"): for each rule, a pair of
//! concurrent ops counts exactly one conflict of that rule where each op arrives (or, for
//! ops that carry no trace of what they observed, in one of the two regions), and the same
//! two ops made one after the other count nothing.

mod common;

use common::Cluster;
use gdc_crdt::Conflict::{self, *};
use gdc_crdt::ops::{self, End, SetTtl};
use gdc_crdt::{Blob, ConflictCounts};

const A: usize = 0;
const B: usize = 1;

fn b(s: &str) -> Blob {
    Blob::from(s)
}

/// One write, by name, so that each test reads as its scenario.
#[derive(Clone, Copy)]
enum W<'a> {
    Set(&'a str),
    SetEx(&'a str, u64),
    Incr(i64),
    Del,
    Expire(u64),
    Persist,
    Sadd(&'a str),
    Srem(&'a str),
    Hset(&'a str, &'a str),
    Hdel(&'a str),
    Hincr(&'a str, i64),
    Zadd(&'a str, f64),
    Zincr(&'a str, f64),
    Zrem(&'a str),
    Lpush(&'a str),
    Rpush(&'a str),
    Lpop,
    Lset(i64, &'a str),
    Pfadd(&'a str),
    Setbit(u64, bool),
}

const K: &str = "k";

fn write(c: &mut Cluster, r: usize, w: W<'_>) {
    let made = c.write(r, K, |s, now, t| match w {
        W::Set(v) => Some(ops::set(s, now, t, b(v), SetTtl::Clear)),
        W::SetEx(v, ms) => Some(ops::set(s, now, t, b(v), SetTtl::At(now + ms))),
        W::Incr(by) => ops::incr_by(s, now, t, by).ok().map(|x| x.0),
        W::Del => ops::delete(s, t),
        W::Expire(ms) => ops::expire(s, now, t, now + ms),
        W::Persist => ops::persist(s, now, t),
        W::Sadd(m) => ops::sadd(s, now, t, &[b(m)]).ok().map(|x| x.0),
        W::Srem(m) => ops::srem(s, now, t, &[b(m)]).ok().and_then(|x| x.0),
        W::Hset(f, v) => ops::hset(s, now, t, &[(b(f), b(v))]).ok().map(|x| x.0),
        W::Hdel(f) => ops::hdel(s, now, t, &[b(f)]).ok().and_then(|x| x.0),
        W::Hincr(f, by) => ops::hincr_by(s, now, t, &b(f), by).ok().map(|x| x.0),
        W::Zadd(m, score) => ops::zadd(s, now, t, &[(b(m), score)]).ok().map(|x| x.0),
        W::Zincr(m, by) => ops::zincr_by(s, now, t, &b(m), by).ok().map(|x| x.0),
        W::Zrem(m) => ops::zrem(s, now, t, &[b(m)]).ok().and_then(|x| x.0),
        W::Lpush(v) => ops::list_push(s, now, t, End::Left, [b(v)])
            .ok()
            .map(|(e, _)| e),
        W::Rpush(v) => ops::list_push(s, now, t, End::Right, [b(v)])
            .ok()
            .map(|(e, _)| e),
        W::Lpop => ops::list_pop(s, now, t, End::Left, 1)
            .ok()
            .and_then(|(e, _)| e),
        W::Lset(i, v) => ops::list_set(s, now, t, i, b(v)).ok(),
        W::Pfadd(e) => {
            let mut v = s
                .and_then(|k| k.string_value())
                .map(|v| v.into_owned())
                .unwrap_or_else(gdc_crdt::hll::empty);
            gdc_crdt::hll::add(&mut v, e.as_bytes(), gdc_crdt::hll::SPARSE_BYTES_DEFAULT).ok()?;
            Some(ops::set(s, now, t, Blob::from(v), SetTtl::Keep))
        }
        W::Setbit(offset, on) => {
            let w = gdc_crdt::bits::BitWrite::set(offset, 1, u64::from(on));
            ops::write_bits(s, now, t, &[w]).ok()
        }
    });
    assert!(made, "the write made no effect");
}

/// Two regions that both applied `setup` (written at A, one op after the other).
fn set_up(setup: &[W<'_>]) -> Cluster {
    let mut c = Cluster::new(2, false);
    for w in setup {
        write(&mut c, A, *w);
        c.tick(1);
        c.deliver_all();
    }
    c
}

/// `at_a` and `at_b` made concurrently, then delivered both ways.
fn concurrently(setup: &[W<'_>], at_a: W<'_>, at_b: W<'_>) -> (ConflictCounts, ConflictCounts) {
    let mut c = set_up(setup);
    c.tick(1);
    write(&mut c, A, at_a);
    write(&mut c, B, at_b);
    c.deliver_all();
    c.assert_converged();
    (
        c.replicas[A].conflicts.clone(),
        c.replicas[B].conflicts.clone(),
    )
}

/// `at_a`, delivered, then `at_b` made after seeing it, delivered.
fn in_order(setup: &[W<'_>], at_a: W<'_>, at_b: W<'_>) -> (ConflictCounts, ConflictCounts) {
    let mut c = set_up(setup);
    c.tick(1);
    write(&mut c, A, at_a);
    c.deliver_all();
    c.tick(1);
    write(&mut c, B, at_b);
    c.deliver_all();
    c.assert_converged();
    (
        c.replicas[A].conflicts.clone(),
        c.replicas[B].conflicts.clone(),
    )
}

fn only(c: Conflict, n: u64) -> ConflictCounts {
    let mut counts = ConflictCounts::default();
    for _ in 0..n {
        counts.record(c.into());
    }
    counts
}

/// The pair counts one `rule` in each region when concurrent, nothing when in order.
fn counted_once_in_each_region(setup: &[W<'_>], at_a: W<'_>, at_b: W<'_>, rule: Conflict) {
    let (a, b) = concurrently(setup, at_a, at_b);
    assert_eq!(a, only(rule, 1), "region A, concurrent");
    assert_eq!(b, only(rule, 1), "region B, concurrent");
    let (a, b) = in_order(setup, at_a, at_b);
    assert_eq!(a, ConflictCounts::default(), "region A, in order");
    assert_eq!(b, ConflictCounts::default(), "region B, in order");
}

/// The pair counts one `rule` in all (where the op with the smaller stamp arrives: the
/// other carries no trace of what it observed) when concurrent, nothing when in order.
fn counted_once_in_all(setup: &[W<'_>], at_a: W<'_>, at_b: W<'_>, rule: Conflict) {
    let (a, b) = concurrently(setup, at_a, at_b);
    let mut both = a.clone();
    for (c, n) in b.iter() {
        for _ in 0..n {
            both.record(c.into());
        }
    }
    assert_eq!(both, only(rule, 1), "concurrent: A {a:?}, B {b:?}");
    let (a, b) = in_order(setup, at_a, at_b);
    assert_eq!(a, ConflictCounts::default(), "region A, in order");
    assert_eq!(b, ConflictCounts::default(), "region B, in order");
}

#[test]
fn concurrent_pfadds_count_hyperloglog_union() {
    counted_once_in_each_region(&[W::Pfadd("x")], W::Pfadd("a"), W::Pfadd("b"), HllUnion);
}

/// A SETBIT made concurrently with a SET (at A, whose clock is ahead: the larger stamp)
/// applies over it: counted where the bit write arrives.
#[test]
fn a_setbit_crossing_a_set_counts_bits_over_whole_write() {
    counted_once_in_all(
        &[W::Set("\0\0")],
        W::Set("zz"),
        W::Setbit(3, true),
        BitsOverWholeWrite,
    );
}

#[test]
fn concurrent_sets_count_string_lww() {
    counted_once_in_each_region(&[W::Set("v0")], W::Set("a"), W::Set("b"), StringLww);
}

/// A counter both regions incremented (`incr`), then `reset` at A and `incr` again at B:
/// B's increment continues the lifetime A's reset ended. Counted once in each region when
/// concurrent, nothing when B saw the reset.
fn counter_kept_by_a_concurrent_reset(incr: W<'_>, reset: W<'_>) {
    let both_incremented = |c: &mut Cluster| {
        write(c, A, incr);
        write(c, B, incr);
        c.deliver_all();
    };
    let mut c = Cluster::new(2, false);
    both_incremented(&mut c);
    c.tick(1);
    write(&mut c, A, reset);
    write(&mut c, B, incr);
    c.deliver_all();
    c.assert_converged();
    assert_eq!(c.replicas[A].conflicts, only(CounterResetKeptIncrements, 1));
    assert_eq!(c.replicas[B].conflicts, only(CounterResetKeptIncrements, 1));

    let mut c = Cluster::new(2, false);
    both_incremented(&mut c);
    c.tick(1);
    write(&mut c, A, reset);
    c.deliver_all();
    c.tick(1);
    write(&mut c, B, incr);
    c.deliver_all();
    c.assert_converged();
    assert_eq!(c.replicas[A].conflicts.total(), 0);
    assert_eq!(c.replicas[B].conflicts.total(), 0);
}

#[test]
fn a_set_concurrent_with_an_increment_counts_counter_reset_kept_increments() {
    counter_kept_by_a_concurrent_reset(W::Incr(1), W::Set("10"));
}

#[test]
fn a_del_concurrent_with_an_increment_counts_counter_reset_kept_increments() {
    counter_kept_by_a_concurrent_reset(W::Incr(1), W::Del);
}

#[test]
fn an_hset_concurrent_with_hincrby_counts_counter_reset_kept_increments() {
    counter_kept_by_a_concurrent_reset(W::Hincr("f", 1), W::Hset("f", "7"));
    counter_kept_by_a_concurrent_reset(W::Hincr("f", 1), W::Hdel("f"));
}

#[test]
fn a_zadd_concurrent_with_zincrby_counts_counter_reset_kept_increments() {
    counter_kept_by_a_concurrent_reset(W::Zincr("m", 1.0), W::Zadd("m", 5.0));
}

#[test]
fn a_del_concurrent_with_a_set_counts_key_delete_kept_write() {
    counted_once_in_each_region(&[W::Set("v0")], W::Del, W::Set("b"), KeyDeleteKeptWrite);
}

#[test]
fn a_del_concurrent_with_an_sadd_counts_key_delete_kept_write() {
    counted_once_in_all(&[W::Sadd("m")], W::Del, W::Sadd("n"), KeyDeleteKeptWrite);
}

#[test]
fn concurrent_writes_of_two_types_count_key_type_clash() {
    let (a, b) = concurrently(&[], W::Set("s"), W::Sadd("m"));
    assert_eq!(a, only(KeyTypeClash, 1), "region A");
    assert_eq!(b, only(KeyTypeClash, 1), "region B");
    // In order: the SET saw the set and replaced it.
    let (a, b) = in_order(&[], W::Sadd("m"), W::Set("s"));
    assert_eq!((a.total(), b.total()), (0, 0));
}

#[test]
fn concurrent_expires_count_ttl_later_expiry_wins() {
    counted_once_in_each_region(
        &[W::Set("v")],
        W::Expire(100_000),
        W::Expire(200_000),
        TtlLaterExpiryWins,
    );
}

#[test]
fn a_persist_concurrent_with_an_expire_counts_ttl_persist_wins() {
    counted_once_in_each_region(
        &[W::SetEx("v", 100_000)],
        W::Persist,
        W::Expire(200_000),
        TtlPersistWins,
    );
}

#[test]
fn an_hset_concurrent_with_its_hdel_counts_hash_add_wins() {
    counted_once_in_each_region(
        &[W::Hset("f", "v0"), W::Hset("g", "v0")],
        W::Hdel("f"),
        W::Hset("f", "v1"),
        HashAddWins,
    );
}

#[test]
fn concurrent_hsets_of_one_field_count_hash_field_lww() {
    counted_once_in_each_region(
        &[W::Hset("f", "v0")],
        W::Hset("f", "a"),
        W::Hset("f", "b"),
        HashFieldLww,
    );
}

#[test]
fn an_sadd_concurrent_with_its_srem_counts_set_add_wins() {
    counted_once_in_each_region(&[W::Sadd("m")], W::Srem("m"), W::Sadd("m"), SetAddWins);
    // With other members, so the key lives on at the remover.
    counted_once_in_each_region(
        &[W::Sadd("m"), W::Sadd("n")],
        W::Srem("m"),
        W::Sadd("m"),
        SetAddWins,
    );
}

#[test]
fn a_zadd_concurrent_with_its_zrem_counts_zset_add_wins() {
    counted_once_in_each_region(
        &[W::Zadd("m", 1.0), W::Zadd("n", 1.0)],
        W::Zrem("m"),
        W::Zadd("m", 2.0),
        ZSetAddWins,
    );
}

#[test]
fn concurrent_zadds_of_one_member_count_zset_score_lww() {
    counted_once_in_each_region(
        &[W::Zadd("m", 1.0)],
        W::Zadd("m", 2.0),
        W::Zadd("m", 3.0),
        ZSetScoreLww,
    );
}

#[test]
fn concurrent_pushes_at_one_end_count_list_inserts_ordered() {
    counted_once_in_all(
        &[W::Rpush("x")],
        W::Lpush("a"),
        W::Lpush("b"),
        ListInsertsOrdered,
    );
}

#[test]
fn concurrent_pops_of_one_element_count_list_removed_once() {
    counted_once_in_each_region(
        &[W::Rpush("x"), W::Rpush("y")],
        W::Lpop,
        W::Lpop,
        ListRemovedOnce,
    );
}

#[test]
fn concurrent_lsets_of_one_element_count_list_lset_lww() {
    counted_once_in_all(
        &[W::Rpush("x")],
        W::Lset(0, "a"),
        W::Lset(0, "b"),
        ListSetLww,
    );
}

#[test]
fn writes_to_different_places_of_one_key_count_nothing() {
    let (a, b) = concurrently(&[W::Sadd("m")], W::Sadd("n"), W::Srem("m"));
    assert_eq!((a.total(), b.total()), (0, 0));
    let (a, b) = concurrently(&[W::Hset("f", "1")], W::Hset("g", "2"), W::Hdel("f"));
    assert_eq!((a.total(), b.total()), (0, 0));
    let (a, b) = concurrently(&[W::Rpush("x")], W::Rpush("y"), W::Lpush("w"));
    assert_eq!((a.total(), b.total()), (0, 0));
    let (a, b) = concurrently(&[W::Incr(1)], W::Incr(2), W::Incr(3));
    assert_eq!((a.total(), b.total()), (0, 0));
}
