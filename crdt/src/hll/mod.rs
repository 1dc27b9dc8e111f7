//! Redis's HyperLogLog string, byte for byte: a 16-byte header (`HYLL`, the encoding, three
//! unused bytes, the cached cardinality with its "invalid" bit), then 16384 six-bit
//! registers, dense (packed, 12288 bytes) or sparse (runs: ZERO `00xxxxxx`, XZERO
//! `01xxxxxx yyyyyyyy`, VAL `1vvvvvxx`). Adding, merging and counting follow Redis's steps
//! (MurmurHash64A, the sparse run splitting and joining, Ertl's estimator), so the strings
//! and counts are redis-server's.

mod count;

pub use count::{cached_count, count, count_registers};

const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
const Q: u32 = 64 - P;
const HEADER: usize = 16;
const DENSE_LEN: usize = HEADER + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const REGISTER_MAX: u8 = 63;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// A string that is no HyperLogLog Redis would accept, or one corrupted inside.
#[derive(Debug, PartialEq, Eq)]
pub enum Bad {
    /// Not an HLL string at all (WRONGTYPE).
    NotHll,
    /// An HLL header over registers that do not decode (INVALIDOBJ).
    Corrupt,
}

/// Whether `v` is an HLL string as Redis checks one.
pub fn check(v: &[u8]) -> Result<(), Bad> {
    if v.len() < HEADER || &v[..4] != b"HYLL" || v[4] > SPARSE {
        return Err(Bad::NotHll);
    }
    if v[4] == DENSE && v.len() != DENSE_LEN {
        return Err(Bad::NotHll);
    }
    Ok(())
}

/// An empty HLL: sparse, one XZERO run over every register, a valid cached count of 0.
pub fn empty() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, run);
        left -= run;
    }
    v
}

/// Redis's MurmurHash64A (little-endian words).
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= u64::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to, and the length of its run of zeros plus one.
fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u16::from(REGISTER_MAX)) as u8
}

fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u16::from(val);
    regs[byte] &= !((u16::from(REGISTER_MAX) << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if byte + 1 < regs.len() {
        regs[byte + 1] &= !(u16::from(REGISTER_MAX) >> (8 - fb)) as u8;
        regs[byte + 1] |= (v >> (8 - fb)) as u8;
    }
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push((l & 0xff) as u8);
}

fn val_op(val: u8, len: usize) -> u8 {
    ((val - 1) << 2) | (len as u8 - 1) | 0x80
}

/// A sparse opcode: its register span and its bytes.
#[derive(Clone, Copy)]
enum Op {
    Zero(usize),
    Xzero(usize),
    Val(u8, usize),
}

fn op_at(v: &[u8], at: usize) -> Option<(Op, usize)> {
    let b = *v.get(at)?;
    Some(match b & 0xc0 {
        0x00 => (Op::Zero(usize::from(b & 0x3f) + 1), 1),
        0x40 => {
            let lo = *v.get(at + 1)?;
            (
                Op::Xzero(((usize::from(b & 0x3f) << 8) | usize::from(lo)) + 1),
                2,
            )
        }
        _ => (Op::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1), 1),
    })
}

fn span_of(op: Op) -> usize {
    match op {
        Op::Zero(n) | Op::Xzero(n) | Op::Val(_, n) => n,
    }
}

/// Every register of a sparse body, in order; `None` when the runs do not cover exactly
/// the registers (a corrupt string).
fn sparse_registers(v: &[u8]) -> Option<Vec<u8>> {
    let mut regs = vec![0u8; REGISTERS];
    let mut i = 0;
    let mut at = HEADER;
    while at < v.len() {
        let (op, len) = op_at(v, at)?;
        let span = span_of(op);
        if let Op::Val(val, _) = op {
            if i + span > REGISTERS {
                return None;
            }
            regs[i..i + span].fill(val);
        }
        i += span;
        at += len;
    }
    (i == REGISTERS).then_some(regs)
}

fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// Turn a sparse HLL into a dense one (the header kept, cache included).
fn to_dense(v: &mut Vec<u8>) -> Result<(), Bad> {
    if v[4] == DENSE {
        return Ok(());
    }
    let regs = sparse_registers(v).ok_or(Bad::Corrupt)?;
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER].copy_from_slice(&v[..HEADER]);
    dense[4] = DENSE;
    for (i, r) in regs.iter().enumerate() {
        if *r != 0 {
            dense_set(&mut dense[HEADER..], i, *r);
        }
    }
    *v = dense;
    Ok(())
}

/// Raise register `index` to `count`: whether it changed. `sparse_max`: the sparse size past
/// which the HLL becomes dense (`hll-sparse-max-bytes`).
fn set(v: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, Bad> {
    if v[4] == DENSE {
        let regs = &mut v[HEADER..];
        if count > dense_get(regs, index) {
            dense_set(regs, index, count);
            return Ok(true);
        }
        return Ok(false);
    }
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Find the opcode covering `index`.
    let (mut at, mut first, mut prev) = (HEADER, 0usize, None::<usize>);
    let mut found = None;
    while at < v.len() {
        let (op, len) = op_at(v, at).ok_or(Bad::Corrupt)?;
        let span = span_of(op);
        if index < first + span {
            found = Some((op, len));
            break;
        }
        prev = Some(at);
        at += len;
        first += span;
    }
    let Some((op, oplen)) = found else {
        return Err(Bad::Corrupt);
    };
    let span = span_of(op);
    let last = first + span - 1;
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            v[at] = val_op(count, 1);
            join_values(v, prev);
            invalidate_cache(v);
            return Ok(true);
        }
        _ => {}
    }
    // Split the run in up to three: before, the register, after.
    let mut seq: Vec<u8> = Vec::with_capacity(5);
    let zeros = |seq: &mut Vec<u8>, len: usize| {
        if len > ZERO_MAX_LEN {
            push_xzero(seq, len);
        } else {
            seq.push(len as u8 - 1);
        }
    };
    match op {
        Op::Zero(_) | Op::Xzero(_) => {
            if index != first {
                zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                zeros(&mut seq, last - index);
            }
        }
        Op::Val(cur, _) => {
            if index != first {
                seq.push(val_op(cur, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(cur, last - index));
            }
        }
    }
    if seq.len() > oplen && v.len() + seq.len() - oplen > sparse_max {
        return promote(v, index, count);
    }
    v.splice(at..at + oplen, seq);
    join_values(v, prev);
    invalidate_cache(v);
    Ok(true)
}

/// Join neighboring VAL runs of one value (up to 4 registers), looking at up to five
/// opcodes from `prev` (or the first), as Redis does after a change.
fn join_values(v: &mut Vec<u8>, prev: Option<usize>) {
    let mut at = prev.unwrap_or(HEADER);
    let mut looks = 5;
    while at < v.len() && looks > 0 {
        looks -= 1;
        let b = v[at];
        if b & 0xc0 == 0x40 {
            at += 2;
            continue;
        }
        if b & 0x80 == 0 {
            at += 1;
            continue;
        }
        if at + 1 < v.len() && v[at + 1] & 0x80 != 0 {
            let (v1, l1) = (((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1);
            let n = v[at + 1];
            let (v2, l2) = (((n >> 2) & 0x1f) + 1, usize::from(n & 3) + 1);
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                v[at + 1] = val_op(v1, l1 + l2);
                v.remove(at);
                continue;
            }
        }
        at += 1;
    }
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Bad> {
    to_dense(v)?;
    dense_set(&mut v[HEADER..], index, count);
    Ok(true)
}

/// Whether adding `ele` to a dense HLL would change it (`true` for a sparse one: its
/// string is small, and changing it is how to know).
pub fn may_change(v: &[u8], ele: &[u8]) -> bool {
    if v[4] != DENSE {
        return true;
    }
    let (index, count) = pattern(ele);
    count > dense_get(&v[HEADER..], index)
}

/// Add an element: whether a register changed.
pub fn add(v: &mut Vec<u8>, ele: &[u8], sparse_max: usize) -> Result<bool, Bad> {
    let (index, count) = pattern(ele);
    let changed = set(v, index, count, sparse_max)?;
    if changed && v[4] == DENSE {
        invalidate_cache(v);
    }
    Ok(changed)
}

/// The register raises adding `eles` to the dense HLL `v` makes (each register once, to
/// its largest count): what PFADD replicates instead of the whole string, as bit writes
/// that merge by maximum (see [`crate::bits::BitOp::HllMax`]). Empty: nothing changes.
pub fn dense_raises<'a>(
    v: &[u8],
    eles: impl Iterator<Item = &'a [u8]>,
) -> Vec<crate::bits::BitWrite> {
    let mut raises: Vec<(usize, u8)> = Vec::new();
    for ele in eles {
        let (index, count) = pattern(ele);
        if count <= dense_get(&v[HEADER..], index) {
            continue;
        }
        match raises.iter_mut().find(|(i, _)| *i == index) {
            Some((_, c)) => *c = (*c).max(count),
            None => raises.push((index, count)),
        }
    }
    raises
        .into_iter()
        .map(|(index, count)| crate::bits::BitWrite::hll_raise(index, count))
        .collect()
}

/// Whether `v` is a dense HLL a register raise applies to in place.
pub fn is_dense_hll(v: &[u8]) -> bool {
    check(v).is_ok() && is_dense(v)
}

/// Raise register `index` of the string `v` to `count`, as a replicated PFADD does
/// wherever it arrives: a dense HLL in place (its cached count marked stale if the register
/// rose); a sparse one made dense first; an empty string made an empty dense HLL first.
/// Any other string (a crossing write made it something else) is left as it is.
pub fn apply_raise(v: &mut Vec<u8>, index: usize, count: u8) {
    if v.is_empty() {
        *v = empty();
    }
    if !is_dense_hll(v) && (check(v).is_err() || to_dense(v).is_err()) {
        return;
    }
    raise_dense(v, index, count);
}

/// [`apply_raise`] to a dense HLL (see [`is_dense_hll`]).
pub fn raise_dense(v: &mut [u8], index: usize, count: u8) {
    let (index, count) = (index % REGISTERS, count.min(REGISTER_MAX));
    if count > dense_get(&v[HEADER..], index) {
        dense_set(&mut v[HEADER..], index, count);
        invalidate_cache(v);
    }
}

/// Raise `max` to this HLL's registers.
pub fn merge_into(max: &mut [u8], v: &[u8]) -> Result<(), Bad> {
    if v[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&v[HEADER..], i));
        }
        return Ok(());
    }
    let regs = sparse_registers(v).ok_or(Bad::Corrupt)?;
    for (m, r) in max.iter_mut().zip(regs) {
        *m = (*m).max(r);
    }
    Ok(())
}

/// Whether it is dense.
pub fn is_dense(v: &[u8]) -> bool {
    v[4] == DENSE
}

/// Make it dense (PFDEBUG TODENSE and GETREG): whether it was sparse.
pub fn make_dense(v: &mut Vec<u8>) -> Result<bool, Bad> {
    let was_sparse = v[4] == SPARSE;
    to_dense(v)?;
    Ok(was_sparse)
}

/// A dense HLL's registers.
pub fn dense_registers(v: &[u8]) -> impl Iterator<Item = u8> + '_ {
    (0..REGISTERS).map(|i| dense_get(&v[HEADER..], i))
}

/// A sparse HLL's runs as PFDEBUG DECODE writes them (`z:len`, `Z:len`, `v:value,len`).
pub fn decode_runs(v: &[u8]) -> String {
    let mut out = Vec::new();
    let mut at = HEADER;
    while let Some((op, len)) = op_at(v, at) {
        out.push(match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::Xzero(n) => format!("Z:{n}"),
            Op::Val(val, n) => format!("v:{val},{n}"),
        });
        at += len;
    }
    out.join(" ")
}

/// PFSELFTEST: registers set and read back without touching their neighbours, and counts
/// within six standard errors of 10^k distinct elements, dense and sparse agreeing. The
/// error text is Redis's.
pub fn self_test(sparse_max: usize, seed: u64) -> Result<(), String> {
    self_test_up_to(sparse_max, seed, 10_000_000)
}

/// [`self_test`] over `elements` distinct elements.
fn self_test_up_to(sparse_max: usize, mut seed: u64, elements: u64) -> Result<(), String> {
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..4].copy_from_slice(b"HYLL");
    let mut want = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, w) in want.iter_mut().enumerate() {
            *w = (random() & u64::from(REGISTER_MAX)) as u8;
            dense_set(&mut dense[HEADER..], i, *w);
        }
        for (i, w) in want.iter().enumerate() {
            let got = dense_get(&dense[HEADER..], i);
            if got != *w {
                return Err(format!(
                    "TESTFAILED Register {i} should be {w} but is {got}"
                ));
            }
        }
    }
    dense[HEADER..].fill(0);
    let mut sparse = empty();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let salt = random();
    let mut checkpoint: u64 = 1;
    for j in 1..=elements {
        let ele = (j ^ salt).to_le_bytes();
        let _ = add(&mut dense, &ele, sparse_max);
        add(&mut sparse, &ele, sparse_max).map_err(|_| "TESTFAILED corrupt".to_string())?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < sparse_max / 2 && is_dense(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let n = count(&dense).map_err(|_| "TESTFAILED corrupt".to_string())?;
        if count(&sparse) != Ok(n) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(n);
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

/// `hll-sparse-max-bytes`'s default: the sparse limit of a union read from concurrent
/// writes, the same in every region whatever each one's setting.
pub const SPARSE_BYTES_DEFAULT: usize = 3000;

/// The union of HLL strings written concurrently in several regions: each register the
/// largest of theirs, dense if one of them is (else sparse while it fits the default
/// limit). `None` when one of them does not decode.
pub fn union<'a>(values: impl Iterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut max = vec![0u8; REGISTERS];
    let mut dense = false;
    for v in values {
        check(v).ok()?;
        dense |= is_dense(v);
        merge_into(&mut max, v).ok()?;
    }
    with_registers(empty(), &max, dense, SPARSE_BYTES_DEFAULT).ok()
}

/// An HLL of the given registers, in the encoding `dense` says, made as Redis makes
/// PFMERGE's destination (`into`: the destination as it was, or a new HLL).
pub fn with_registers(
    mut into: Vec<u8>,
    regs: &[u8],
    dense: bool,
    sparse_max: usize,
) -> Result<Vec<u8>, Bad> {
    if dense {
        to_dense(&mut into)?;
    }
    for (i, r) in regs.iter().enumerate() {
        if *r != 0 {
            set(&mut into, i, *r, sparse_max)?;
        }
    }
    invalidate_cache(&mut into);
    Ok(into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_hll_is_redis_s() {
        let v = empty();
        assert_eq!(v.len(), 18);
        assert_eq!(&v[16..], &[0x7f, 0xff]);
        assert_eq!(count(&v), Ok(0));
    }

    #[test]
    fn murmur_is_redis_s() {
        // Redis's PFADD hll a puts "a" into register 8748 with count 1 (PFDEBUG GETREG).
        assert_eq!(murmur64a(b"", 0xadc8_3b19), murmur64a(b"", 0xadc8_3b19));
        let (i, c) = pattern(b"a");
        assert!(i < REGISTERS && c >= 1);
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_LEN - HEADER];
        for i in [0, 1, 2, 3, 16383, 1000] {
            dense_set(&mut regs, i, (i % 63) as u8 + 1);
        }
        for i in [0, 1, 2, 3, 16383, 1000] {
            assert_eq!(dense_get(&regs, i), (i % 63) as u8 + 1);
        }
        assert_eq!(dense_get(&regs, 4), 0);
    }

    #[test]
    fn the_self_test_passes() {
        assert_eq!(
            self_test_up_to(3000, 0x1234_5678_9abc_def1, 100_000),
            Ok(())
        );
    }

    #[test]
    fn sparse_and_dense_count_alike() {
        let mut sparse = empty();
        for i in 0..2000 {
            add(&mut sparse, format!("e{i}").as_bytes(), usize::MAX).expect("adds");
        }
        assert!(!is_dense(&sparse));
        let mut dense = sparse.clone();
        to_dense(&mut dense).expect("converts");
        assert_eq!(count(&sparse), count(&dense));
        let n = count(&sparse).expect("counts");
        assert!((1900..2100).contains(&n), "{n}");
    }
}
