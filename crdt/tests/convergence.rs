//! Strong eventual consistency: three replicas run random commands; ops reach the others in
//! any order that keeps per-origin order, with duplicates, full-state merges and garbage
//! collection mixed in; once everything is delivered, all replicas hold equal states with
//! equal digests. `PROPTEST_CASES` sets the number of schedules per type.

mod common;

use common::{Cluster, Cmd, Family, KEYS, Step, step};
use gdc_crdt::hll;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn converges(steps: &[Step], gc: bool) {
    let mut c = Cluster::new(3, gc);
    for s in steps {
        c.run(s);
    }
    c.quiesce();
    c.assert_converged();
}

fn schedule(f: Family) -> impl Strategy<Value = (Vec<Step>, bool)> {
    (
        prop::collection::vec(step(f, 3, true), 1..160),
        any::<bool>(),
    )
}

proptest! {
    #[test]
    fn strings_converge((steps, gc) in schedule(Family::String)) {
        converges(&steps, gc);
    }

    #[test]
    fn counters_converge((steps, gc) in schedule(Family::Counter)) {
        converges(&steps, gc);
    }

    #[test]
    fn hashes_converge((steps, gc) in schedule(Family::Hash)) {
        converges(&steps, gc);
    }

    #[test]
    fn sets_converge((steps, gc) in schedule(Family::Set)) {
        converges(&steps, gc);
    }

    #[test]
    fn sorted_sets_converge((steps, gc) in schedule(Family::ZSet)) {
        converges(&steps, gc);
    }

    #[test]
    fn lists_converge((steps, gc) in schedule(Family::List)) {
        converges(&steps, gc);
    }

    #[test]
    fn bitmaps_converge((steps, gc) in schedule(Family::Bits)) {
        converges(&steps, gc);
    }

    #[test]
    fn hyperloglogs_converge((steps, gc) in schedule(Family::Hll)) {
        converges(&steps, gc);
    }

    /// PFADDs only, crossing in every way: every region ends with the registers of one
    /// HyperLogLog of every element added anywhere (the union is exact, not an estimate).
    #[test]
    fn concurrent_pfadds_end_as_one_hll_of_every_element(
        (steps, gc) in schedule(Family::HllAdds)
    ) {
        let mut c = Cluster::new(3, gc);
        let mut all: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for s in &steps {
            if let Step::Exec(_, Cmd::PfAdd(k, elements)) = s {
                all.entry(KEYS[*k]).or_default().extend(elements);
            }
            c.run(s);
        }
        c.quiesce();
        c.assert_converged();
        for (key, elements) in all {
            let mut want = hll::empty();
            for e in elements {
                hll::add(&mut want, &[e], hll::SPARSE_BYTES_DEFAULT).expect("an HLL");
            }
            let got = c.state(0, key).and_then(|k| k.string_value()).expect("the HLL");
            let registers = |v: &[u8]| {
                let mut r = vec![0u8; hll::REGISTERS];
                hll::merge_into(&mut r, v).expect("an HLL");
                r
            };
            prop_assert_eq!(registers(&got), registers(&want), "{}", key);
        }
    }

    #[test]
    fn streams_converge((steps, gc) in schedule(Family::Stream)) {
        converges(&steps, gc);
    }

    #[test]
    fn ttls_converge((steps, gc) in schedule(Family::Ttl)) {
        converges(&steps, gc);
    }

    #[test]
    fn whole_keyspaces_converge((steps, gc) in schedule(Family::All)) {
        converges(&steps, gc);
    }
}
