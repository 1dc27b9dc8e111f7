//! Strong eventual consistency: three replicas run random commands; ops reach the others in
//! any order that keeps per-origin order, with duplicates, full-state merges and garbage
//! collection mixed in; once everything is delivered, all replicas hold equal states with
//! equal digests. `PROPTEST_CASES` sets the number of schedules per type.

mod common;

use common::{Cluster, Family, Step, step};
use proptest::prelude::*;

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
