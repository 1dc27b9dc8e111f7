//! Names repeated in one command: Redis applies them in order, so a builder keeps each name
//! once (the last value for name-value pairs).

use crate::blob::Blob;
// hashbrown's default hasher, not std's SipHash: a RENAME or COPY of a hash of 1M fields
// dedups its names, and SipHash was a quarter of its time.
use hashbrown::{HashMap, HashSet};
use smallvec::SmallVec;

/// Up to this many names are compared with each other rather than hashed (the common
/// case is one: `SADD key member`, `HSET key field value`), and kept without allocating.
const SCAN_MAX: usize = 8;

/// The names kept: inline up to [`SCAN_MAX`].
type Kept<'a, T> = SmallVec<[&'a T; SCAN_MAX]>;

/// Keep the last occurrence of each name, in first-seen order (Redis applies repeated names
/// in order, so the last value wins).
pub(super) fn last_wins<T>(items: &[(Blob, T)]) -> Kept<'_, (Blob, T)> {
    if items.len() <= SCAN_MAX {
        let mut out: Kept<'_, (Blob, T)> = Kept::new();
        for it in items {
            match out.iter_mut().find(|o| o.0 == it.0) {
                Some(o) => *o = it,
                None => out.push(it),
            }
        }
        return out;
    }
    let mut slot: HashMap<&[u8], usize> = HashMap::with_capacity(items.len());
    let mut out = Kept::with_capacity(items.len());
    for it in items {
        match slot.get(it.0.as_slice()) {
            Some(&i) => out[i] = it,
            None => {
                slot.insert(&it.0, out.len());
                out.push(it);
            }
        }
    }
    out
}

/// Each name once, in first-seen order.
pub(super) fn dedup(items: &[Blob]) -> Kept<'_, Blob> {
    if items.len() <= SCAN_MAX {
        let mut out = Kept::new();
        for it in items {
            if !out.contains(&it) {
                out.push(it);
            }
        }
        return out;
    }
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(items.len());
    items.iter().filter(|m| seen.insert(m.as_slice())).collect()
}

#[cfg(test)]
mod tests {
    use super::{SCAN_MAX, dedup, last_wins};
    use crate::blob::Blob;

    /// Both ways (compared, or hashed past SCAN_MAX) keep first-seen order, and the last
    /// value of a repeated name.
    #[test]
    fn names_once_in_first_seen_order_with_the_last_value() {
        for n in [1, 5, SCAN_MAX, SCAN_MAX + 1, 40] {
            let names: Vec<Blob> = (0..n)
                .map(|i| Blob::from(format!("m{}", i % 3).as_str()))
                .collect();
            let got: Vec<&[u8]> = dedup(&names).into_iter().map(|b| b.as_slice()).collect();
            let want: Vec<&[u8]> = [&b"m0"[..], b"m1", b"m2"]
                .into_iter()
                .take(n.min(3))
                .collect();
            assert_eq!(got, want, "{n}");
            let pairs: Vec<(Blob, usize)> = names.iter().cloned().zip(0..).collect();
            let kept: Vec<(&[u8], usize)> = last_wins(&pairs)
                .into_iter()
                .map(|(b, v)| (b.as_slice(), *v))
                .collect();
            let last = |k: usize| (0..n).filter(|i| i % 3 == k).max();
            let want: Vec<(&[u8], usize)> = [&b"m0"[..], b"m1", b"m2"]
                .into_iter()
                .enumerate()
                .filter_map(|(k, name)| last(k).map(|i| (name, i)))
                .collect();
            assert_eq!(kept, want, "{n}");
        }
    }
}
