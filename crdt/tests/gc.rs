//! Garbage collection: removal knowledge is dropped once causally stable, and never sooner
//! than it is safe; and how far it has got never shows in digests or in what a merge
//! reports as changed.

mod common;

use common::{Cluster, Family, step};
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
    /// The direct paths a write takes when what it removes is already stable (a plain
    /// overwrite; a pop, SREM or HDEL whose removal is not recorded) give the same state as
    /// applying and then collecting, and keep the digests up to date as that does; with
    /// the stable vector at the newest op (a node without peers) or behind it (`lag`).
    #[test]
    fn direct_paths_equal_apply_then_collect(
        cmds in proptest::collection::vec((0u8..10, 0usize..2, proptest::prelude::any::<u8>()), 1..60),
        lag in 0u64..3,
    ) {
        use gdc_crdt::ops::End;
        use gdc_crdt::{Dot, Hlc, Keyspace, OpId, ServerId, Tag};
        let me = ServerId(1);
        let (mut direct, mut general) = (Keyspace::new(), Keyspace::new());
        for (i, (kind, key, v)) in cmds.into_iter().enumerate() {
            let op = i as u64 + 1;
            let now = 1_000 + op;
            let tag = Tag::new(Dot::new(me, OpId(op), 0), Hlc::new(now, 0));
            let mut stable = VersionVector::new();
            if op > lag {
                stable.add(Dot::new(me, OpId(op - lag), 0));
            }
            let blobs = |n: u8| vec![Blob::from(&[v % n][..])];
            let e = match kind {
                0..=3 => {
                    let key = ["a", "b"][key];
                    let state = general.get(key.as_bytes());
                    match kind {
                        0 | 1 => Some(ops::set(state, now, tag, Blob::from(&[v][..]), SetTtl::Clear)),
                        2 => ops::delete(state, tag),
                        _ => ops::incr_by(state, now, tag, 1).ok().map(|x| x.0),
                    }
                    .map(|e| (key, e))
                }
                4 | 5 => {
                    let state = general.get(b"l");
                    let end = [End::Left, End::Right][key];
                    let e = if kind == 4 {
                        ops::list_push(state, now, tag, end, blobs(255)).ok().map(|(e, _)| e)
                    } else {
                        let len = state.and_then(|s| s.list()).map_or(0, |l| l.len());
                        let at = if key == 0 { 0 } else { len.saturating_sub(1) };
                        ops::list_remove(state, now, tag, &[at]).ok().flatten()
                    };
                    e.map(|e| ("l", e))
                }
                6 | 7 => {
                    let state = general.get(b"s");
                    let e = if kind == 6 {
                        ops::sadd(state, now, tag, &blobs(4)).ok().map(|x| x.0)
                    } else {
                        ops::srem(state, now, tag, &blobs(4)).ok().and_then(|x| x.0)
                    };
                    e.map(|e| ("s", e))
                }
                _ => {
                    let state = general.get(b"h");
                    let e = if kind == 8 {
                        let pair = (Blob::from(&[v % 4][..]), Blob::from(&[v][..]));
                        ops::hset(state, now, tag, &[pair]).ok().map(|x| x.0)
                    } else {
                        ops::hdel(state, now, tag, &blobs(4)).ok().and_then(|x| x.0)
                    };
                    e.map(|e| ("h", e))
                }
            };
            let Some((key, e)) = e else { continue };
            direct.apply_and_collect(key.as_bytes(), &e, &stable, |w| w);
            if general.apply(key.as_bytes(), &e) {
                general.gc_key(key.as_bytes(), &stable);
            }
            proptest::prop_assert_eq!(&direct, &general);
            // Read every step, so each path must keep its digests up to date.
            proptest::prop_assert_eq!(direct.bucket_digests(), general.bucket_digests());
        }
    }
}

fn set(c: &mut Cluster, r: usize, k: &str, v: &str) {
    assert!(c.write(r, k, |s, now, t| Some(ops::set(
        s,
        now,
        t,
        Blob::from(v),
        SetTtl::Clear
    ))));
}

fn incr(c: &mut Cluster, r: usize, k: &str, n: i64) {
    assert!(c.write(r, k, |s, now, t| {
        ops::incr_by(s, now, t, n).ok().map(|x| x.0)
    }));
}

fn del(c: &mut Cluster, r: usize, k: &str) {
    assert!(c.write(r, k, |s, _, t| ops::delete(s, t)));
}

/// Region 1 hears region 2's applied vector (after everything region 2 sent before).
fn region_1_hears_region_2(c: &mut Cluster) {
    c.report(1);
    c.deliver(0, 1, usize::MAX);
}

#[test]
fn digests_of_regions_with_the_same_ops_are_equal_whatever_each_has_collected() {
    let mut c = Cluster::new(2, true);
    // Removal knowledge of every kind: a FLUSHDB's cutoff first.
    set(&mut c, 1, "z", "1");
    c.flush(1);
    // The lead of issue 16: SET x; SET y; DEL x at one region.
    set(&mut c, 0, "x", "1");
    set(&mut c, 0, "y", "1");
    del(&mut c, 0, "x");
    // A counter reset by a DEL, a hash field by HDEL (a field kept for its reset record), a
    // set member by SREM.
    incr(&mut c, 0, "n", 5);
    incr(&mut c, 1, "n", 7);
    assert!(c.write(1, "h", |s, now, t| {
        ops::hincr_by(s, now, t, &Blob::from("f"), 3)
            .ok()
            .map(|x| x.0)
    }));
    sadd(&mut c, 1, "s", "a");
    sadd(&mut c, 1, "s", "b");
    c.deliver_all();
    del(&mut c, 0, "n");
    assert!(c.write(1, "h", |s, now, t| {
        ops::hdel(s, now, t, &[Blob::from("f")])
            .ok()
            .and_then(|x| x.0)
    }));
    assert!(c.write(1, "s", |s, now, t| {
        ops::srem(s, now, t, &[Blob::from("a")])
            .ok()
            .and_then(|x| x.0)
    }));
    set(&mut c, 1, "after", "1");
    incr(&mut c, 0, "n", 2);
    c.deliver_all();
    assert_eq!(c.replicas[0].applied, c.replicas[1].applied);

    // Region 1 knows region 2 has everything and collects; region 2 has not heard back.
    region_1_hears_region_2(&mut c);
    c.gc(0);
    c.gc(1);
    assert!(
        c.state(0, "x").is_none() && c.state(1, "x").is_some(),
        "region 1 collected x's tomb, region 2 not yet"
    );
    assert_ne!(
        c.replicas[0].ks, c.replicas[1].ks,
        "their removal knowledge differs"
    );
    let (a, b) = (&mut c.replicas[0].ks.clone(), &mut c.replicas[1].ks.clone());
    assert_eq!(a.bucket_digests(), b.bucket_digests());
    assert_eq!(a.digest(), b.digest());
    // Key by key, what each holds from the ops is the same.
    let content = |c: &Cluster, r: usize, key: &str| {
        let mut out = Vec::new();
        let held = c
            .state(r, key)
            .is_some_and(|k| gdc_crdt::codec::encode_content(k, &mut out));
        held.then_some(out)
    };
    for key in ["z", "x", "y", "n", "h", "s", "after"] {
        assert_eq!(content(&c, 0, key), content(&c, 1, key), "{key}");
    }
    assert_eq!(content(&c, 0, "x"), None, "x holds nothing");
    assert!(content(&c, 0, "n").is_some(), "n holds an increment");
}

#[test]
fn a_merge_that_brings_only_uncollected_removal_knowledge_changes_no_key() {
    // Issue 16: INCRBY at both regions with a DEL now and then, and anti-entropy counted
    // repaired keys although no op was missing anywhere.
    let mut c = Cluster::new(2, true);
    incr(&mut c, 0, "n", 1);
    incr(&mut c, 1, "n", 1);
    c.deliver_all();
    del(&mut c, 0, "n");
    c.deliver_all();
    // Region 2 knows region 1 has the DEL and collects its tomb; region 1 keeps it a while.
    c.report(0);
    c.deliver(1, 0, usize::MAX);
    c.gc(1);
    assert!(c.state(1, "n").is_none());
    assert!(c.state(0, "n").is_some_and(|k| k.tomb().is_some()));
    // Region 2 counts again and deletes again: region 1 joins that tomb into the one it
    // still holds, so its removal knowledge names a remover region 2 has forgotten.
    incr(&mut c, 1, "n", 4);
    del(&mut c, 1, "n");
    incr(&mut c, 1, "n", 2);
    c.deliver_all();
    assert_eq!(c.replicas[0].applied, c.replicas[1].applied);
    let before = c.state(1, "n").cloned();
    assert_ne!(c.state(0, "n"), before.as_ref(), "the tombs differ");

    let theirs = c.replicas[0].ks.clone();
    let stable = c.stable(1);
    let ours = &mut c.replicas[1].ks;
    let digest = ours.digest();
    assert_eq!(
        digest,
        c.replicas[0].ks.clone().digest(),
        "same ops, same digest"
    );
    let ours = &mut c.replicas[1].ks;
    let changed = ours.merge_scope(&theirs, |_| true, &stable);
    assert_eq!(changed, Vec::<Blob>::new(), "nothing was missing");
    assert_ne!(
        ours.get(b"n"),
        before.as_ref(),
        "the merge did join the other tomb"
    );
    assert_eq!(ours.digest(), digest);
    let value = ours
        .get(b"n")
        .and_then(|k| k.string_value())
        .map(|v| v.to_vec());
    assert_eq!(value.as_deref(), Some(&b"2"[..]));
}

fn digests_agree_once_every_op_is_applied(steps: &[common::Step]) {
    let mut c = Cluster::new(3, true);
    for s in steps {
        c.run(s);
    }
    // Every op everywhere, but no round of reports and collection after it: each region
    // has collected as far as it had heard, which differs from region to region.
    c.deliver_all();
    let digests: Vec<u64> = c.replicas.iter_mut().map(|r| r.ks.digest()).collect();
    assert!(
        digests.windows(2).all(|w| w[0] == w[1]),
        "digests differ: {digests:?}\n{:#?}",
        c.replicas.iter().map(|r| &r.ks).collect::<Vec<_>>()
    );
}

proptest::proptest! {
    /// Whatever each region has collected, and whatever full-state merges happened on the
    /// way, regions that applied the same ops have equal digests.
    #[test]
    fn regions_with_the_same_ops_have_equal_digests_whatever_each_collected(
        steps in proptest::collection::vec(step(Family::All, 3, true), 1..160)
    ) {
        digests_agree_once_every_op_is_applied(&steps);
    }
}
