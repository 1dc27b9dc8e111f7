//! SCAN-family cursors. A scan walks a collection's positions (its table's entry vector)
//! from the last down to the first, and the cursor is how many positions are still to
//! walk: each call costs its COUNT, not the collection's size (Redis's O(1) a call), and
//! needs no memory of its own.
//!
//! Every item present for the whole scan is returned (Redis's guarantee), whatever is
//! added or removed meanwhile, because of how the tables move their entries
//! ([`gdc_crdt::table::KeyTable`]): an item is added at the end, above the cursor (an item
//! added during a scan may or may not be returned, as in Redis), and a removal moves only
//! the last entry, down into the hole. An item still to walk (below the cursor) can only
//! move lower, staying below it; one already walked may move below it and be returned
//! again (Redis allows duplicates too). Cursors stay valid across calls and connections,
//! not across a restart (as Redis's, whose hash seeds change).

/// One call of a scan over a collection of `len` positions: the items `at` finds at the
/// (at most) `count` positions below `cursor` (0: a new scan, from the end), and the cursor
/// to go on from (0: done). `at` gives `None` for a position holding nothing to return (an
/// expired key, a field kept only for its reset records).
pub fn scan<T>(
    len: usize,
    cursor: u64,
    count: usize,
    mut at: impl FnMut(usize) -> Option<T>,
) -> (u64, Vec<T>) {
    // A cursor past the end (the collection shrank, or a made-up one) starts at the end.
    let from = match usize::try_from(cursor) {
        Ok(c) if c > 0 => c.min(len),
        _ => len,
    };
    let to = from.saturating_sub(count.max(1));
    let items = (to..from).rev().filter_map(&mut at).collect();
    (to as u64, items)
}

#[cfg(test)]
mod tests {
    use super::scan;
    use std::collections::BTreeSet;

    /// A table's entry vector, as [`gdc_crdt::table::KeyTable`] moves its entries.
    struct Table(Vec<u32>);

    impl Table {
        fn add(&mut self, item: u32) {
            self.0.push(item);
        }

        fn remove(&mut self, item: u32) {
            if let Some(i) = self.0.iter().position(|&x| x == item) {
                self.0.swap_remove(i);
            }
        }

        fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<u32>) {
            scan(self.0.len(), cursor, count, |i| Some(self.0[i]))
        }
    }

    #[test]
    fn a_full_scan_returns_every_item_once_in_calls_of_count() {
        let table = Table((0..1000).collect());
        let mut seen = BTreeSet::new();
        let (mut cursor, mut calls) = (0, 0);
        loop {
            let (next, batch) = table.scan(cursor, 37);
            assert!(batch.len() <= 37);
            for item in batch {
                assert!(seen.insert(item), "{item} returned twice");
            }
            calls += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(calls, 1000_usize.div_ceil(37));
        // A cursor past the end starts at the end; an empty collection is done at once.
        assert_eq!(
            table.scan(5000, 10).1,
            (990..1000).rev().collect::<Vec<_>>()
        );
        assert_eq!(Table(Vec::new()).scan(0, 10), (0, Vec::new()));
    }

    #[test]
    fn items_present_throughout_are_returned_whatever_comes_and_goes() {
        // A small deterministic generator: many scans, each under a different churn.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |below: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % u64::from(below)) as u32
        };
        for round in 0..200 {
            let mut table = Table((0..300).collect());
            let mut fresh = 300;
            // Items removed at some point: only the others must be returned.
            let mut removed = BTreeSet::new();
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            loop {
                for _ in 0..next(20) {
                    if next(2) == 0 {
                        table.add(fresh);
                        fresh += 1;
                    } else {
                        let item = next(fresh);
                        table.remove(item);
                        removed.insert(item);
                    }
                }
                let (after, batch) = table.scan(cursor, 1 + next(10) as usize);
                seen.extend(batch);
                if after == 0 {
                    break;
                }
                cursor = after;
            }
            for item in (0..300).filter(|i| !removed.contains(i)) {
                assert!(
                    seen.contains(&item),
                    "round {round}: {item} was not returned"
                );
            }
        }
    }
}
