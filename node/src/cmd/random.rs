//! Random picks (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER): their count as Redis
//! checks it, and which positions they take.

use super::{int_arg, random_below};
use crate::reply::Reply;

/// The most picks SRANDMEMBER, HRANDFIELD and ZRANDMEMBER answer with: a reply is built in
/// memory before it is sent, so a count past this is refused (Redis streams such replies).
pub const PICKS_MAX: u64 = 10_000_000;

/// The count of SRANDMEMBER, HRANDFIELD or ZRANDMEMBER, checked as Redis checks it before it
/// looks at the key: its reply must not overflow (with `paired`, WITHVALUES or WITHSCORES,
/// each pick is two entries).
pub fn picks_count(arg: &[u8], paired: bool) -> Result<i64, Reply> {
    let count = int_arg(arg)?;
    if count < -i64::MAX {
        return Err(Reply::err(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    if paired && count < -(i64::MAX / 2) {
        return Err(Reply::err("ERR value is out of range"));
    }
    Ok(count)
}

/// Indexes of picks among `len` elements: up to `count` distinct ones, or with a negative
/// count exactly `-count`, repeats allowed (Redis's rules).
pub fn random_picks(len: usize, count: i64) -> Result<Vec<usize>, Reply> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if count < 0 {
        let n = count.unsigned_abs();
        if n > PICKS_MAX {
            return Err(Reply::err(format!(
                "ERR value is out of range: gdc answers at most {PICKS_MAX} random picks"
            )));
        }
        return Ok((0..n).map(|_| random_below(len)).collect());
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX).min(len);
    if count == 1 {
        return Ok(vec![random_below(len)]);
    }
    if count * 2 >= len {
        let mut pool: Vec<usize> = (0..len).collect();
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            out.push(pool.swap_remove(random_below(pool.len())));
        }
        return Ok(out);
    }
    // A few of many (SPOP of a big set): Floyd's sampling, in time and memory of `count`,
    // then shuffled (its later picks lean to the top positions).
    let mut chosen = std::collections::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    for j in len - count..len {
        let t = random_below(j + 1);
        let pick = if chosen.insert(t) { t } else { j };
        chosen.insert(pick);
        out.push(pick);
    }
    for i in (1..out.len()).rev() {
        out.swap(i, random_below(i + 1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::random_picks;
    use std::collections::HashSet;

    /// A positive count picks that many distinct positions (all, when it is the size or
    /// more); a negative one that many, repeats allowed; both within the range.
    #[test]
    fn random_picks_are_distinct_and_in_range() {
        for (len, count) in [
            (0, 3),
            (5, 3),
            (5, 5),
            (5, 9),
            (1000, 1),
            (1000, 10),
            (1000, 600),
        ] {
            let picks = random_picks(len, count).expect("picks");
            assert_eq!(picks.len(), (count as usize).min(len), "{len} {count}");
            assert!(picks.iter().all(|&i| i < len));
            assert_eq!(picks.iter().collect::<HashSet<_>>().len(), picks.len());
        }
        let repeats = random_picks(3, -50).expect("picks");
        assert_eq!(repeats.len(), 50);
        assert!(repeats.iter().all(|&i| i < 3));
        // Over many draws of 2 of 5 (the sampling path: count * 2 < len),
        // every position comes up.
        let seen: HashSet<usize> = (0..200)
            .flat_map(|_| random_picks(5, 2).expect("picks"))
            .collect();
        assert_eq!(seen.len(), 5);
    }
}
