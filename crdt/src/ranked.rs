//! A sorted set of items that knows each one's position: a sorted set's order, where Redis
//! answers ZRANK, a range by rank and a range by score in O(log n) with its skiplist.
//!
//! The items sit in sorted runs of at most [`RUN_MAX`], each below the next, and a Fenwick
//! tree over the runs' lengths gives the items before any run. A position is found in two
//! binary searches (the run by its last item, kept in one array of its own so that the
//! search reads no run, then within the run), a rank in one descent of the tree; an insert
//! or removal moves at most a run's items. A small set is one run, a
//! sorted vector without a tree (as Redis keeps a small sorted set in one listpack): its
//! memory is its items, where a B-tree's first node holds room for eleven.

use crate::heap::HeapSize;
use smallvec::SmallVec;

/// A run splits in two past this many items.
pub const RUN_MAX: usize = 256;
/// A run this short after a removal joins a neighbour that has room, so that many removals
/// do not leave many short runs.
const RUN_MIN: usize = RUN_MAX / 8;

#[derive(Clone, Debug)]
pub struct Ranked<T> {
    /// Sorted runs, none empty, each item below every item of the runs after it.
    runs: SmallVec<[Vec<T>; 1]>,
    /// How to find a run, once there is more than one (a small set has no more to keep).
    index: Option<Box<RunIndex<T>>>,
    len: usize,
}

#[derive(Clone, Debug)]
struct RunIndex<T> {
    /// Each run's last item.
    lasts: Vec<T>,
    /// Fenwick tree (1-based) of the runs' lengths.
    tree: Vec<usize>,
}

impl<T> Default for Ranked<T> {
    fn default() -> Self {
        Ranked {
            runs: SmallVec::new(),
            index: None,
            len: 0,
        }
    }
}

impl<T: Ord + Clone> Ranked<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items in order.
    pub fn iter(&self) -> Span<'_, T> {
        self.span(0, self.len)
    }

    /// How many items `below` holds for: `below` holds for a prefix of the order (every
    /// item it holds for comes before every item it does not), as for "below 5".
    pub fn position(&self, below: impl Fn(&T) -> bool) -> usize {
        let Some(index) = &self.index else {
            return self.runs.first().map_or(0, |r| r.partition_point(&below));
        };
        let run = index.lasts.partition_point(&below);
        match self.runs.get(run) {
            Some(r) => index.before(run) + r.partition_point(below),
            None => self.len,
        }
    }

    /// The items at positions `from..to` (clamped to the set), in order.
    pub fn span(&self, from: usize, to: usize) -> Span<'_, T> {
        let to = to.min(self.len);
        if from >= to {
            return Span::default();
        }
        let (first, at) = self.locate(from);
        let (last, end) = self.locate(to - 1);
        if first == last {
            return Span {
                head: self.runs[first][at..=end].iter(),
                ..Span::default()
            };
        }
        Span {
            head: self.runs[first][at..].iter(),
            middle: self.runs[first + 1..last].iter().flatten(),
            tail: self.runs[last][..=end].iter(),
        }
    }

    /// Add `item`; false if it was there.
    pub fn insert(&mut self, item: T) -> bool {
        if self.runs.is_empty() {
            self.runs.push(vec![item]);
            self.len = 1;
            return true;
        }
        let run = self.run_for(&item);
        let r = &mut self.runs[run];
        let Err(at) = r.binary_search(&item) else {
            return false;
        };
        if r.len() == r.capacity() {
            // A quarter more room (one at a time while short): a small set holds little
            // spare room, a growing run is not copied at every insert.
            r.reserve_exact((r.len() / 4).max(1));
        }
        r.insert(at, item);
        self.len += 1;
        if r.len() > RUN_MAX {
            let upper = r.split_off(r.len() / 2);
            // The lower half gives back the room the upper half took with it.
            r.shrink_to_fit();
            self.runs.insert(run + 1, upper);
            // The upper half ends where the run did (with the new item, if it went last);
            // the lower half's last item comes before it.
            self.reindex(|lasts, runs| {
                let last = |r: &Vec<T>| r[r.len() - 1].clone();
                lasts[run] = last(&runs[run + 1]);
                lasts.insert(run, last(&runs[run]));
            });
        } else if let Some(index) = &mut self.index {
            if at + 1 == r.len() {
                index.lasts[run] = r[at].clone();
            }
            index.add(run, 1);
        }
        true
    }

    /// Take `item` out; false if it was not there.
    pub fn remove(&mut self, item: &T) -> bool {
        if self.runs.is_empty() {
            return false;
        }
        let run = self.run_for(item);
        let r = &mut self.runs[run];
        let Ok(at) = r.binary_search(item) else {
            return false;
        };
        r.remove(at);
        self.len -= 1;
        let short = r.len();
        if let Some(index) = &mut self.index {
            if at == short && short > 0 {
                index.lasts[run] = r[at - 1].clone();
            }
            index.add(run, usize::MAX);
        }
        if short == 0 {
            self.runs.remove(run);
            self.reindex(|lasts, _| {
                lasts.remove(run);
            });
        } else if short < RUN_MIN && self.runs.len() > 1 {
            // Join the shorter neighbour, if the two fit in one run.
            let other = match (run.checked_sub(1), self.runs.get(run + 1)) {
                (Some(left), Some(right)) if right.len() < self.runs[left].len() => run + 1,
                (Some(left), _) => left,
                (None, _) => run + 1,
            };
            let (low, high) = (run.min(other), run.max(other));
            if self.runs[low].len() + self.runs[high].len() <= RUN_MAX {
                let moved = self.runs.remove(high);
                self.runs[low].extend(moved);
                // The joined run ends where the higher one did.
                self.reindex(|lasts, _| {
                    lasts.remove(low);
                });
            }
        }
        true
    }

    /// The run `item` is in, or would go in: the first whose last item is not below it
    /// (the last run for an item above all).
    fn run_for(&self, item: &T) -> usize {
        match &self.index {
            Some(index) => index
                .lasts
                .partition_point(|last| last < item)
                .min(self.runs.len() - 1),
            None => 0,
        }
    }

    /// The run and the place in it of position `pos` (< len).
    fn locate(&self, pos: usize) -> (usize, usize) {
        match &self.index {
            Some(index) => index.locate(pos),
            None => (0, pos),
        }
    }

    /// The index after the runs were split, joined or dropped: the last items changed in
    /// place by `change` (only a moved one is cloned), the tree made again from the runs'
    /// lengths; made whole where there was none, dropped when one run is left.
    fn reindex(&mut self, change: impl FnOnce(&mut Vec<T>, &[Vec<T>])) {
        if self.runs.len() <= 1 {
            self.index = None;
            return;
        }
        let runs = &self.runs;
        let index = self.index.get_or_insert_with(|| {
            Box::new(RunIndex {
                lasts: runs.iter().map(|r| r[r.len() - 1].clone()).collect(),
                tree: Vec::new(),
            })
        });
        // A new index has every last item already; an old one, one more or one fewer.
        if index.lasts.len() != runs.len() {
            change(&mut index.lasts, runs);
        }
        index.tree.clear();
        index.tree.push(0);
        index.tree.extend(runs.iter().map(Vec::len));
        for i in 1..index.tree.len() {
            let parent = i + (i & i.wrapping_neg());
            if parent < index.tree.len() {
                index.tree[parent] += index.tree[i];
            }
        }
    }
}

impl<T> RunIndex<T> {
    /// The run and the place in it of position `pos` (< len): the tree descended to the
    /// last run whose preceding items are at most `pos`.
    fn locate(&self, pos: usize) -> (usize, usize) {
        let (mut run, mut rest) = (0, pos);
        let mut step = self.tree.len().next_power_of_two();
        while step > 0 {
            let next = run + step;
            if next < self.tree.len() && self.tree[next] <= rest {
                run = next;
                rest -= self.tree[next];
            }
            step /= 2;
        }
        (run, rest)
    }

    /// The items in the runs before `run`.
    fn before(&self, run: usize) -> usize {
        let (mut i, mut sum) = (run, 0);
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }

    /// Add `delta` (wrapping: `usize::MAX` takes one) to the length of `run`.
    fn add(&mut self, run: usize, delta: usize) {
        let mut i = run + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add(delta);
            i += i & i.wrapping_neg();
        }
    }
}

impl<T: HeapSize> HeapSize for Ranked<T> {
    /// The runs and their index, and the items' own heap.
    fn heap_bytes(&self) -> usize {
        let runs = crate::heap::smallvec_bytes(&self.runs);
        let mut slots = self.runs.iter().map(Vec::capacity).sum::<usize>();
        let mut heap = self.runs.iter().flatten().map(T::heap_bytes).sum::<usize>();
        if let Some(index) = &self.index {
            slots += index.lasts.capacity();
            heap += std::mem::size_of::<RunIndex<T>>()
                + index.lasts.iter().map(T::heap_bytes).sum::<usize>()
                + index.tree.capacity() * std::mem::size_of::<usize>();
        }
        runs + slots * std::mem::size_of::<T>() + heap
    }
}

impl<T: Ord + Clone> FromIterator<T> for Ranked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut all: Vec<T> = items.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        let len = all.len();
        let mut ranked = Ranked {
            len,
            ..Ranked::default()
        };
        if len <= RUN_MAX {
            if len > 0 {
                all.shrink_to_fit();
                ranked.runs.push(all);
            }
            return ranked;
        }
        // Runs three quarters full (room to grow before they split), cut from the end so
        // that each cut moves one run's items.
        let per_run = RUN_MAX * 3 / 4;
        while all.len() > per_run {
            let cut = all.split_off(all.len() - per_run);
            ranked.runs.push(cut);
        }
        all.shrink_to_fit();
        ranked.runs.push(all);
        ranked.runs.reverse();
        ranked.reindex(|_, _| {});
        ranked
    }
}

/// Items of a [`Ranked`] in order, from either end.
#[derive(Debug)]
pub struct Span<'a, T> {
    head: std::slice::Iter<'a, T>,
    middle: std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>,
    tail: std::slice::Iter<'a, T>,
}

impl<T> Default for Span<'_, T> {
    fn default() -> Self {
        Span {
            head: <&[T]>::default().iter(),
            middle: <&[Vec<T>]>::default().iter().flatten(),
            tail: <&[T]>::default().iter(),
        }
    }
}

impl<'a, T> Iterator for Span<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        self.head
            .next()
            .or_else(|| self.middle.next())
            .or_else(|| self.tail.next())
    }
}

impl<T> DoubleEndedIterator for Span<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.tail
            .next_back()
            .or_else(|| self.middle.next_back())
            .or_else(|| self.head.next_back())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Every query agrees with a B-tree set's answer, and the tree with the runs.
    fn check(r: &Ranked<u32>, model: &BTreeSet<u32>) {
        let all: Vec<u32> = model.iter().copied().collect();
        assert_eq!(r.len(), all.len());
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), all);
        assert_eq!(r.iter().rev().copied().collect::<Vec<_>>(), {
            let mut v = all.clone();
            v.reverse();
            v
        });
        assert!(
            r.runs
                .iter()
                .all(|run| !run.is_empty() && run.len() <= RUN_MAX)
        );
        match &r.index {
            Some(index) => {
                let lasts: Vec<u32> = r.runs.iter().map(|run| run[run.len() - 1]).collect();
                assert_eq!(index.lasts, lasts);
            }
            None => assert!(r.runs.len() <= 1),
        }
        let mut before = 0;
        for (i, run) in r.runs.iter().enumerate() {
            let counted = r.index.as_ref().map_or(0, |index| index.before(i));
            assert_eq!(counted, before, "items before run {i}");
            before += run.len();
        }
        let n = all.len();
        for (pos, probe) in [0, 1, n / 3, n / 2, n.saturating_sub(1), n, n + 5]
            .into_iter()
            .zip([0u32, 7, 100, 999, 5000, u32::MAX, 3])
        {
            let from = pos.min(n);
            for to in [from, from + 1, from + 300, n] {
                let want: Vec<u32> = all[from.min(n)..to.clamp(from.min(n), n)].to_vec();
                assert_eq!(r.span(from, to).copied().collect::<Vec<_>>(), want);
                let mut back: Vec<u32> = r.span(from, to).rev().copied().collect();
                back.reverse();
                assert_eq!(back, want);
            }
            assert_eq!(
                r.position(|x| *x < probe),
                all.partition_point(|x| *x < probe)
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Inserts and removals, in runs long enough to split and join runs many times.
        #[test]
        fn agrees_with_a_btree_set(
            ops in prop::collection::vec((any::<bool>(), 0u32..4000), 0..3000),
        ) {
            let mut r = Ranked::default();
            let mut model = BTreeSet::new();
            for (i, (add, x)) in ops.into_iter().enumerate() {
                if add {
                    prop_assert_eq!(r.insert(x), model.insert(x));
                } else {
                    prop_assert_eq!(r.remove(&x), model.remove(&x));
                }
                if i % 500 == 0 {
                    check(&r, &model);
                }
            }
            check(&r, &model);
            let collected: Ranked<u32> = model.iter().rev().copied().collect();
            check(&collected, &model);
        }
    }

    /// Growing to many runs and shrinking back to none: positions stay right throughout,
    /// and short runs join (no run left below RUN_MIN next to one with room).
    #[test]
    fn grows_into_runs_and_back() {
        let mut r = Ranked::default();
        let mut model = BTreeSet::new();
        for x in (0..5000u32).map(|i| i.wrapping_mul(2_654_435_761) % 100_000) {
            r.insert(x);
            model.insert(x);
        }
        assert!(r.runs.len() > 20, "{} runs", r.runs.len());
        check(&r, &model);
        let rank_of = |r: &Ranked<u32>, x: u32| r.position(|y| *y < x);
        let some: Vec<u32> = model.iter().copied().step_by(97).collect();
        for x in &some {
            assert_eq!(rank_of(&r, *x), model.range(..*x).count());
        }
        for x in model.clone().iter().step_by(2) {
            assert!(r.remove(x));
            model.remove(x);
        }
        check(&r, &model);
        // Thinned evenly, runs grow short together and join: not 20 runs of five.
        let thinned: Vec<u32> = model
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| i % 25 != 0)
            .map(|(_, x)| x)
            .collect();
        for x in thinned {
            assert!(r.remove(&x));
            model.remove(&x);
        }
        assert_eq!(model.len(), 100);
        assert!(r.runs.len() <= 100 / RUN_MIN + 1, "{} runs", r.runs.len());
        check(&r, &model);
        for x in model.clone() {
            assert!(r.remove(&x));
            model.remove(&x);
        }
        assert!(r.is_empty() && r.runs.is_empty() && r.index.is_none());
        assert!(!r.remove(&1));
    }

    /// One item costs its own size (no spare room), where a B-tree's node holds eleven.
    #[test]
    fn a_small_set_holds_little_room() {
        let mut r = Ranked::default();
        r.insert(1u64);
        assert_eq!(r.heap_bytes(), 8);
        for x in 2..=8u64 {
            r.insert(x);
        }
        assert!(r.heap_bytes() <= 10 * 8, "{}", r.heap_bytes());
    }
}
