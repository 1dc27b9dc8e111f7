//! Garbage collection: removal knowledge is dropped once causally stable, and never sooner
//! than it is safe.

mod common;

use common::Cluster;
use gdc_crdt::ops::{self, SetTtl};
use gdc_crdt::{Blob, VersionVector};

fn sadd(c: &mut Cluster, r: usize, k: &str, m: &str) {
    assert!(c.write(r, k, |s, now, t| {
        ops::sadd(s, now, t, &[Blob::from(m)]).ok().map(|x| x.0)
    }));
}

fn everyone_reports(c: &mut Cluster) {
    for r in 0..c.replicas.len() {
        c.report(r);
    }
    c.deliver_all();
}

#[test]
fn deleted_key_is_dropped_once_every_region_has_seen_the_delete() {
    let mut c = Cluster::new(3, true);
    sadd(&mut c, 0, "s", "x");
    c.deliver_all();
    assert!(c.write(1, "s", |s, _, t| ops::delete(s, t)));
    c.deliver_all();
    assert!(
        c.state(0, "s").is_some(),
        "the tombstone is kept until stable"
    );
    everyone_reports(&mut c);
    for r in 0..3 {
        c.gc(r);
        assert!(c.state(r, "s").is_none(), "region {r} still holds the key");
    }
}

#[test]
fn tombstone_stays_while_a_region_has_not_reported() {
    let mut c = Cluster::new(3, true);
    sadd(&mut c, 0, "s", "x");
    c.deliver_all();
    assert!(c.write(1, "s", |s, _, t| ops::delete(s, t)));
    c.deliver(0, 1, usize::MAX);
    // Region 3 has neither the delete nor reported: nothing is stable at region 1.
    c.report(0);
    c.report(1);
    c.deliver(0, 1, usize::MAX);
    c.deliver(1, 0, usize::MAX);
    assert_eq!(c.stable(0), VersionVector::new());
    c.gc(0);
    assert!(c.state(0, "s").is_some_and(|s| s.tomb().is_some()));
    // Region 3 still holds x; a full-state merge from it must not bring x back.
    c.merge_key(0, 2, "s");
    assert!(c.state(0, "s").and_then(|s| s.set()).is_none());
}

#[test]
fn stable_vector_needs_the_reporters_own_ops() {
    let mut c = Cluster::new(2, true);
    sadd(&mut c, 0, "s", "x");
    c.deliver_all();
    // Region 2 adds y concurrently with region 1's SREM of x, and reports after its add.
    sadd(&mut c, 1, "s", "y");
    assert!(c.write(0, "s", |s, now, t| {
        ops::srem(s, now, t, &[Blob::from("x")])
            .ok()
            .and_then(|x| x.0)
    }));
    c.report(1);
    // Region 1 gets the report only after region 2's add (same stream, in order).
    c.deliver(0, 1, usize::MAX);
    c.gc(0);
    let members: Vec<Vec<u8>> = c
        .state(0, "s")
        .and_then(|s| s.set())
        .map(|s| s.members().map(|m| m.to_vec()).collect())
        .unwrap_or_default();
    assert_eq!(members, vec![b"y".to_vec()]);
}

#[test]
fn reset_records_are_dropped_when_stable_and_counting_restarts_cleanly() {
    let mut c = Cluster::new(2, true);
    assert!(c.write(0, "n", |s, now, t| {
        ops::incr_by(s, now, t, 5).ok().map(|x| x.0)
    }));
    c.deliver_all();
    assert!(c.write(1, "n", |s, now, t| Some(ops::set(
        s,
        now,
        t,
        Blob::from("0"),
        SetTtl::Clear
    ))));
    c.deliver_all();
    everyone_reports(&mut c);
    for r in 0..2 {
        c.gc(r);
        let s = c.state(r, "n").expect("n exists");
        let f = s.string().expect("a string");
        assert!(
            f.resets().is_empty() && f.entries().is_empty(),
            "region {r}: {f:?}"
        );
        assert!(s.tomb().is_none());
    }
    assert!(c.write(0, "n", |s, now, t| {
        ops::incr_by(s, now, t, 2).ok().map(|x| x.0)
    }));
    c.deliver_all();
    for r in 0..2 {
        let v = c
            .state(r, "n")
            .and_then(|s| s.string_value())
            .expect("a string");
        assert_eq!(&*v, b"2");
    }
}

proptest::proptest! {
    /// The direct path a node without peers takes for plain overwrites gives the same state
    /// as applying and then collecting, and keeps the digests up to date as that does.
    #[test]
    fn direct_overwrite_path_equals_apply_then_collect(cmds in proptest::collection::vec((0u8..4, 0usize..2, proptest::prelude::any::<u8>()), 1..60)) {
        use gdc_crdt::{Dot, Hlc, Keyspace, OpId, ServerId, Tag};
        let me = ServerId(1);
        let (mut direct, mut general) = (Keyspace::new(), Keyspace::new());
        let mut applied = VersionVector::new();
        for (i, (kind, key, v)) in cmds.into_iter().enumerate() {
            let key = ["a", "b"][key];
            let now = 1_000 + i as u64;
            let tag = Tag::new(Dot::new(me, OpId(i as u64 + 1), 0), Hlc::new(now, 0));
            let state = general.get(key.as_bytes());
            let e = match kind {
                0 | 1 => Some(ops::set(state, now, tag, Blob::from(&[v][..]), SetTtl::Clear)),
                2 => ops::delete(state, tag),
                _ => ops::incr_by(state, now, tag, 1).ok().map(|x| x.0),
            };
            let Some(e) = e else { continue };
            applied.add(tag.dot);
            direct.apply_and_collect(key.as_bytes(), &e, &applied);
            if general.apply(key.as_bytes(), &e) {
                general.gc_key(key.as_bytes(), &applied);
            }
            proptest::prop_assert_eq!(&direct, &general);
            // Read every step, so each path must keep its digests up to date.
            proptest::prop_assert_eq!(direct.bucket_digests(), general.bucket_digests());
        }
    }
}
