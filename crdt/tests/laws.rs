//! Merge laws on reachable states: replicas run random schedules (so states are ones the
//! system can really hold), then their states of each key, and whole keyspaces, are merged
//! in every arrangement: commutative, associative, idempotent. Applying an effect is the
//! same join: twice, or after a merge that already holds it, changes nothing.

mod common;

use common::{Cluster, Family, KEYS, Step, merge_of, step};
use gdc_crdt::{Crdt, KeyState, Keyspace};
use proptest::prelude::*;

fn check_laws<T: Crdt + Clone + PartialEq + std::fmt::Debug>(a: &T, b: &T, c: &T) {
    assert_eq!(merge_of(a, b), merge_of(b, a), "commutative");
    assert_eq!(
        merge_of(&merge_of(a, b), c),
        merge_of(a, &merge_of(b, c)),
        "associative"
    );
    assert_eq!(&merge_of(a, a), a, "idempotent");
    let ab = merge_of(a, b);
    assert_eq!(merge_of(&ab, b), ab, "absorbs what it holds");
}

fn states(steps: &[Step], gc: bool) -> Cluster {
    let mut c = Cluster::new(3, gc);
    for s in steps {
        c.run(s);
    }
    c
}

proptest! {
    #[test]
    fn key_merge_is_a_join(steps in prop::collection::vec(step(Family::All, 3, true), 1..80), gc in any::<bool>()) {
        let c = states(&steps, gc);
        for k in KEYS {
            let s: Vec<KeyState> = c
                .replicas
                .iter()
                .map(|r| r.ks.get(k.as_bytes()).cloned().unwrap_or_default())
                .collect();
            check_laws(&s[0], &s[1], &s[2]);
        }
    }

    #[test]
    fn keyspace_merge_is_a_join(steps in prop::collection::vec(step(Family::All, 3, true), 1..80), gc in any::<bool>()) {
        let c = states(&steps, gc);
        let s: Vec<Keyspace> = c.replicas.iter().map(|r| r.ks.clone()).collect();
        check_laws(&s[0], &s[1], &s[2]);
    }

    #[test]
    fn applying_an_effect_twice_changes_nothing(steps in prop::collection::vec(step(Family::All, 3, false), 1..60)) {
        let mut c = Cluster::new(3, false);
        for s in &steps {
            c.run(s);
        }
        // Re-apply every op of every stream, straight to the CRDT, at every replica.
        for r in 0..3 {
            let before = c.replicas[r].ks.clone();
            for from in 0..3 {
                let upto = c.replicas[r].cursor[from];
                for msg in &c.streams[from][..upto] {
                    common::apply_msg(&mut c.replicas[r], msg, common::START_MS, true);
                }
            }
            prop_assert_eq!(&before, &c.replicas[r].ks);
        }
    }
}
