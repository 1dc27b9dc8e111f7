//! SCAN-family cursors. Items are visited in the order of a 64-bit hash of their name, and
//! the cursor is the next hash to visit, so every item present for the whole scan is
//! returned once, whatever is added or removed meanwhile (Redis's guarantee), and a cursor
//! stays valid across calls and connections.
//!
//! Each call looks at every item once to find the next `count` (O(n) per call); an ordered
//! index would make that O(count) and is the next step for very large keyspaces.

use std::collections::BinaryHeap;
use xxhash_rust::xxh3::xxh3_64;

/// The hash that orders a name in scans.
pub fn scan_hash(name: &[u8]) -> u64 {
    xxh3_64(name)
}

/// The items with the `count` smallest hashes at or after `cursor` (all items sharing the
/// last hash are included, so none is skipped), and the cursor to continue from (0: done).
pub fn scan<'a, T>(
    items: impl Iterator<Item = (&'a [u8], T)>,
    cursor: u64,
    count: usize,
) -> (u64, Vec<(&'a [u8], T)>) {
    let count = count.max(1);
    // A max-heap of the smallest hashes seen so far.
    let mut heap: BinaryHeap<(u64, usize)> = BinaryHeap::with_capacity(count + 1);
    let mut all: Vec<(u64, &'a [u8], T)> = Vec::new();
    for (name, t) in items {
        let h = scan_hash(name);
        if h < cursor {
            continue;
        }
        if heap.len() < count || heap.peek().is_some_and(|&(top, _)| h <= top) {
            heap.push((h, all.len()));
            all.push((h, name, t));
            while heap.len() > count {
                heap.pop();
            }
        } else {
            all.push((h, name, t));
        }
    }
    let Some(&(last, _)) = heap.peek() else {
        return (0, Vec::new());
    };
    let remaining = all.iter().filter(|(h, ..)| *h > last).count();
    let mut out: Vec<(u64, &'a [u8], T)> = all.into_iter().filter(|(h, ..)| *h <= last).collect();
    out.sort_by_key(|(h, ..)| *h);
    let next = if remaining == 0 {
        0
    } else {
        last.wrapping_add(1)
    };
    (next, out.into_iter().map(|(_, n, t)| (n, t)).collect())
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn a_full_scan_returns_every_item_once() {
        let names: Vec<String> = (0..1000).map(|i| format!("key:{i}")).collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            let (next, batch) = scan(names.iter().map(|n| (n.as_bytes(), ())), cursor, 37);
            assert!(batch.len() <= 40);
            for (n, ()) in batch {
                assert!(seen.insert(n.to_vec()), "returned twice");
            }
            calls += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(calls, 1000_usize.div_ceil(37));
    }

    #[test]
    fn items_present_throughout_are_returned_despite_changes() {
        let stable: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
        let mut extra: Vec<String> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = 0;
        for round in 0.. {
            extra.push(format!("new{round}"));
            if round % 2 == 1 {
                extra.remove(0);
            }
            let all = stable
                .iter()
                .chain(extra.iter())
                .map(|n| (n.as_bytes(), ()));
            let (next, batch) = scan(all, cursor, 10);
            seen.extend(batch.into_iter().map(|(n, ())| n.to_vec()));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for s in &stable {
            assert!(seen.contains(s.as_bytes()), "{s} was not returned");
        }
    }
}
