//! Bitmap and bitfield commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, over the string value (bit 0 is the most significant bit of the first
//! byte), with Redis 7.0's replies and errors. SETBIT and BITFIELD replicate the bits they
//! write (docs/semantics.md, "bitmap"); BITOP writes its destination whole.

use super::string::value_in_place as read;
use super::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::notify::events::STRING;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::bits::{BitWrite, field, set_field};
use gdc_crdt::ops;
use std::borrow::Cow;

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset argument; with `width`, BITFIELD's `#n` form (the n-th field of that width).
fn offset_arg(ctx: &Ctx<'_>, b: &[u8], width: Option<u32>) -> Result<u64, Reply> {
    let (hash, digits) = match (b.first(), width) {
        (Some(b'#'), Some(_)) => (true, &b[1..]),
        _ => (false, b),
    };
    let mut n = gdc_crdt::string::parse_i64(digits).ok_or_else(|| Reply::err(BAD_OFFSET))?;
    if hash {
        n = n
            .checked_mul(i64::from(width.unwrap_or(1)))
            .ok_or_else(|| Reply::err(BAD_OFFSET))?;
    }
    if n < 0 || (n >> 3) as u64 >= ctx.config.limits.bulk_bytes_max as u64 {
        return Err(Reply::err(BAD_OFFSET));
    }
    Ok(n as u64)
}

/// The bit at `offset` of the string at `key` and the string's length, read where they
/// lie (a bitmap's bit writes not baked in yet included); `None` for a missing key.
fn bit_and_len(ctx: &Ctx<'_>, key: &[u8], offset: u64) -> Result<Option<(bool, usize)>, Reply> {
    let k = ctx.get(key);
    super::check_type(k, gdc_crdt::Kind::String)?;
    let Some(k) = k else { return Ok(None) };
    if let Some(s) = k.str_part() {
        return Ok(Some(s.bit(offset)));
    }
    Ok(k.string_value().map(|v| (bit_at(&v, offset), v.len())))
}

fn bit_at(bytes: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    bytes
        .get(byte)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// Write bits of the string at `key` (replicated as those bits: docs/semantics.md,
/// "bitmap"), keyspace event `event`.
pub(super) fn write_bits(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    writes: &[BitWrite],
    event: Option<&'static str>,
) -> Result<(), Reply> {
    ctx.write(key, |k, now, tag| {
        ops::write_bits(k, now, tag, writes).map(|e| (Some(e), ()))
    })?;
    if let Some(event) = event {
        ctx.notify(STRING, event, key);
    }
    Ok(())
}

/// SETBIT key offset value
pub fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    const BAD_BIT: &str = "ERR bit is not an integer or out of range";
    let offset = offset_arg(ctx, &args[2], None)?;
    let on = match gdc_crdt::string::parse_i64(&args[3]) {
        Some(v @ (0 | 1)) => v == 1,
        _ => return Err(Reply::err(BAD_BIT)),
    };
    let byte = (offset >> 3) as usize;
    let current = bit_and_len(ctx, &args[1], offset)?;
    let was = current.is_some_and(|(bit, _)| bit);
    // A bit already as asked, inside the string: nothing to write.
    if current.is_some_and(|(_, len)| len > byte) && was == on {
        return Ok(Reply::Int(i64::from(was)));
    }
    let w = BitWrite::set(offset, 1, u64::from(on));
    write_bits(ctx, &args[1], &[w], Some("setbit"))?;
    Ok(Reply::Int(i64::from(was)))
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = offset_arg(ctx, &args[2], None)?;
    let bit = bit_and_len(ctx, &args[1], offset)?;
    Ok(Reply::Int(i64::from(bit.is_some_and(|(on, _)| on))))
}

/// A BITCOUNT or BITPOS range over a string of `len` bytes: the first and last byte, and
/// the bits of those two bytes outside the range (for a BIT range); `None` when empty.
struct Span {
    first: usize,
    last: usize,
    /// Bits of the first byte before the range.
    head_out: u8,
    /// Bits of the last byte after the range.
    tail_out: u8,
}

fn span(len: usize, start: i64, end: i64, bits: bool) -> Option<Span> {
    let mut total = len as i64;
    if bits {
        total <<= 3;
    }
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, mut end) = (fix(start), fix(end));
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    if !bits {
        return Some(Span {
            first: start as usize,
            last: end as usize,
            head_out: 0,
            tail_out: 0,
        });
    }
    Some(Span {
        first: (start >> 3) as usize,
        last: (end >> 3) as usize,
        head_out: !(0xffu8 >> (start & 7)),
        tail_out: (1u8 << (7 - (end & 7))).wrapping_sub(1),
    })
}

/// `BYTE` or `BIT`: whether BIT.
fn unit_arg(b: &[u8]) -> Result<bool, Reply> {
    match () {
        _ if is(b, "bit") => Ok(true),
        _ if is(b, "byte") => Ok(false),
        _ => Err(syntax_error()),
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
pub fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(value) = read(ctx, &args[1])? else {
        return Ok(Reply::Int(0));
    };
    let span = match args.len() {
        2 => span(value.len(), 0, value.len() as i64 - 1, false),
        4 | 5 => {
            let start = int_arg(&args[2])?;
            let end = int_arg(&args[3])?;
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let bits = match args.get(4) {
                Some(u) => unit_arg(u)?,
                None => false,
            };
            span(value.len(), start, end, bits)
        }
        _ => return Err(syntax_error()),
    };
    let Some(s) = span else {
        return Ok(Reply::Int(0));
    };
    let ones = |b: &[u8]| b.iter().map(|x| i64::from(x.count_ones())).sum::<i64>();
    let mut n = ones(&value[s.first..=s.last]);
    n -= i64::from((value[s.first] & s.head_out).count_ones());
    n -= i64::from((value[s.last] & s.tail_out).count_ones());
    Ok(Reply::Int(n))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
pub fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let bit = int_arg(&args[2])?;
    if bit != 0 && bit != 1 {
        return Err(Reply::err("ERR The bit argument must be 1 or 0."));
    }
    let want = bit == 1;
    let Some(value) = read(ctx, &args[1])? else {
        return Ok(Reply::Int(if want { -1 } else { 0 }));
    };
    let len = value.len() as i64;
    let mut end_given = false;
    let span = match args.len() {
        3 => span(value.len(), 0, len - 1, false),
        4..=6 => {
            let start = int_arg(&args[3])?;
            let bits = match args.get(5) {
                Some(u) => unit_arg(u)?,
                None => false,
            };
            let end = match args.get(4) {
                Some(e) => {
                    end_given = true;
                    int_arg(e)?
                }
                None if bits => (len << 3) + 7,
                None => len - 1,
            };
            span(value.len(), start, end, bits)
        }
        _ => return Err(syntax_error()),
    };
    let Some(s) = span else {
        return Ok(Reply::Int(-1));
    };
    // The bytes of the range, the bits outside it made not to match.
    let mut bytes = value[s.first..=s.last].to_vec();
    let last = bytes.len() - 1;
    let blank = |b: &mut u8, out: u8| {
        if want {
            *b &= !out;
        } else {
            *b |= out;
        }
    };
    blank(&mut bytes[0], s.head_out);
    blank(&mut bytes[last], s.tail_out);
    let found = bytes.iter().enumerate().find_map(|(i, b)| {
        let b = if want { *b } else { !*b };
        (b != 0).then(|| i as i64 * 8 + i64::from(b.leading_zeros()))
    });
    let pos = match found {
        Some(p) => p,
        // No 1: -1. No 0: the first bit past the range, as if the string went on with
        // zeros, unless the range's end was given.
        None if want => return Ok(Reply::Int(-1)),
        None if end_given => return Ok(Reply::Int(-1)),
        None => bytes.len() as i64 * 8,
    };
    Ok(Reply::Int(pos + ((s.first as i64) << 3)))
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]
pub fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match () {
        _ if is(&args[1], "and") => Op::And,
        _ if is(&args[1], "or") => Op::Or,
        _ if is(&args[1], "xor") => Op::Xor,
        _ if is(&args[1], "not") => Op::Not,
        _ => return Err(syntax_error()),
    };
    if op == Op::Not && args.len() != 4 {
        return Err(Reply::err(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        sources.push(read(ctx, key)?.map(Cow::into_owned).unwrap_or_default());
    }
    let longest = sources.iter().map(Vec::len).max().unwrap_or(0);
    let byte = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..longest)
        .map(|i| {
            let first = byte(&sources[0], i);
            let rest = sources[1..].iter().map(|s| byte(s, i));
            match op {
                Op::And => rest.fold(first, |a, b| a & b),
                Op::Or => rest.fold(first, |a, b| a | b),
                Op::Xor => rest.fold(first, |a, b| a ^ b),
                Op::Not => !first,
            }
        })
        .collect();
    let whole = (!result.is_empty()).then(|| gdc_crdt::ops::Whole::Str(result.as_slice().into()));
    ctx.store_whole(&args[2], whole, (STRING, "set"))?;
    Ok(Reply::Int(longest as i64))
}

/// How a BITFIELD SET or INCRBY treats a value its field cannot hold.
#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

struct Field {
    op: FieldOp,
    signed: bool,
    width: u32,
    offset: u64,
    overflow: Overflow,
}

fn field_type(b: &[u8]) -> Result<(bool, u32), Reply> {
    const BAD: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    let signed = match b.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(Reply::err(BAD)),
    };
    match gdc_crdt::string::parse_i64(&b[1..]) {
        Some(w) if w >= 1 && w <= if signed { 64 } else { 63 } => Ok((signed, w as u32)),
        _ => Err(Reply::err(BAD)),
    }
}

fn get_signed(p: &[u8], offset: u64, width: u32) -> i64 {
    let v = field(p, offset, width);
    if width < 64 && v & (1 << (width - 1)) != 0 {
        (v | (u64::MAX << width)) as i64
    } else {
        v as i64
    }
}

/// `value + incr` in an unsigned field of `width` bits: the result, and whether it
/// overflowed (with SAT the limit, with WRAP the wrapped value).
fn unsigned_add(value: u64, incr: i64, width: u32, how: Overflow) -> (u64, bool) {
    let max = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(width).unwrap_or(0));
    if value > max || (incr > 0 && incr > max_incr) {
        return (if how == Overflow::Sat { max } else { wrapped() }, true);
    }
    if incr < 0 && incr < min_incr {
        return (if how == Overflow::Sat { 0 } else { wrapped() }, true);
    }
    (value.wrapping_add(incr as u64), false)
}

/// `value + incr` in a signed field of `width` bits, as [`unsigned_add`].
fn signed_add(value: i64, incr: i64, width: u32, how: Overflow) -> (i64, bool) {
    let max = if width == 64 {
        i64::MAX
    } else {
        (1i64 << (width - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let c = (value as u64).wrapping_add(incr as u64);
        let c = if width < 64 {
            let mask = u64::MAX << width;
            if c & (1 << (width - 1)) != 0 {
                c | mask
            } else {
                c & !mask
            }
        } else {
            c
        };
        c as i64
    };
    if value > max
        || (width != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        return (if how == Overflow::Sat { max } else { wrapped() }, true);
    }
    if value < min || (width != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr)
    {
        return (if how == Overflow::Sat { min } else { wrapped() }, true);
    }
    (value.wrapping_add(incr), false)
}

pub fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

pub fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP | SAT | FAIL] SET type offset value |
/// INCRBY type offset increment ...], and BITFIELD_RO (`ro`) with GET only.
fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[Bytes], ro: bool) -> CmdResult {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let sub = &args[j];
        let get = is(sub, "get") && left >= 2;
        let set = is(sub, "set") && left >= 3;
        let incr = is(sub, "incrby") && left >= 3;
        if is(sub, "overflow") && left >= 1 {
            overflow = match () {
                _ if is(&args[j + 1], "wrap") => Overflow::Wrap,
                _ if is(&args[j + 1], "sat") => Overflow::Sat,
                _ if is(&args[j + 1], "fail") => Overflow::Fail,
                _ => return Err(Reply::err("ERR Invalid OVERFLOW type specified")),
            };
            j += 2;
            continue;
        }
        if !(get || set || incr) {
            return Err(syntax_error());
        }
        let (signed, width) = field_type(&args[j + 1])?;
        let offset = offset_arg(ctx, &args[j + 2], Some(width))?;
        let op = if get {
            FieldOp::Get
        } else {
            let end = offset + u64::from(width) - 1;
            highest = Some(highest.map_or(end, |h| h.max(end)));
            let v = int_arg(&args[j + 3])?;
            if set {
                FieldOp::Set(v)
            } else {
                FieldOp::Incr(v)
            }
        };
        fields.push(Field {
            op,
            signed,
            width,
            offset,
            overflow,
        });
        j += if get { 3 } else { 4 };
    }
    let key = &args[1];
    let Some(highest) = highest else {
        // GETs only: a read, zero past the end of the string.
        let value = read(ctx, key)?;
        let value: &[u8] = value.as_deref().unwrap_or(&[]);
        return Ok(Reply::Array(
            fields
                .iter()
                .map(|f| Reply::Int(get_field(value, f)))
                .collect(),
        ));
    };
    if ro {
        return Err(Reply::err(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (mut value, existed) = match read(ctx, key)? {
        Some(v) => (v.into_owned(), true),
        None => (Vec::new(), false),
    };
    let needed = (highest >> 3) as usize + 1;
    let grew = value.len() < needed;
    if grew {
        value.resize(needed, 0);
    }
    let mut changes = 0;
    let mut writes = Vec::new();
    let mut replies = Vec::with_capacity(fields.len());
    for f in &fields {
        let (delta, is_set) = match f.op {
            FieldOp::Get => {
                replies.push(Reply::Int(get_field(&value, f)));
                continue;
            }
            FieldOp::Set(v) => (v, true),
            FieldOp::Incr(v) => (v, false),
        };
        let (old, new, reply, overflowed) = if f.signed {
            let old = get_signed(&value, f.offset, f.width);
            let (new, over) = if is_set {
                signed_add(delta, 0, f.width, f.overflow)
            } else {
                signed_add(old, delta, f.width, f.overflow)
            };
            let reply = if is_set { old } else { new };
            (old as u64, new as u64, reply, over)
        } else {
            let old = field(&value, f.offset, f.width);
            let (new, over) = if is_set {
                unsigned_add(delta as u64, 0, f.width, f.overflow)
            } else {
                unsigned_add(old, delta, f.width, f.overflow)
            };
            let reply = if is_set { old as i64 } else { new as i64 };
            (old, new, reply, over)
        };
        if overflowed && f.overflow == Overflow::Fail {
            replies.push(Reply::Nil);
            continue;
        }
        replies.push(Reply::Int(reply));
        set_field(&mut value, f.offset, f.width, new);
        if grew || old != new {
            changes += 1;
            let width = f.width as u8;
            // Wrapping, an increment is the same wherever it applies: it goes as one, and
            // crossing increments of the field in two regions both count. Saturated or
            // failed, it depends on this region's value: its result goes (the later wins).
            writes.push(if !is_set && f.overflow == Overflow::Wrap {
                BitWrite::add(f.offset, width, new.wrapping_sub(old))
            } else {
                BitWrite::set(f.offset, width, new)
            });
        }
    }
    // Redis makes the key (zeros up to the farthest field) even when every write failed,
    // and tells only of a change.
    if changes > 0 || !existed || grew {
        if grew && writes.is_empty() {
            // The string's new length, its last bit unchanged (zero).
            writes.push(BitWrite::set((needed as u64) * 8 - 1, 1, 0));
        }
        write_bits(ctx, key, &writes, (changes > 0).then_some("setbit"))?;
    }
    Ok(Reply::Array(replies))
}

/// A GET's value: the string is read as zero past its end.
fn get_field(value: &[u8], f: &Field) -> i64 {
    // Up to 9 bytes from the field's first byte, zero-padded, as Redis reads them.
    let first = (f.offset >> 3) as usize;
    let mut buf = [0u8; 9];
    for (i, b) in buf.iter_mut().enumerate() {
        match value.get(first + i) {
            Some(v) => *b = *v,
            None => break,
        }
    }
    let within = f.offset - (first as u64) * 8;
    if f.signed {
        get_signed(&buf, within, f.width)
    } else {
        field(&buf, within, f.width) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_like_redis() {
        let mut p = [0u8; 9];
        set_field(&mut p, 3, 5, 0b10110);
        assert_eq!(p[0], 0b0001_0110);
        assert_eq!(field(&p, 3, 5), 0b10110);
        assert_eq!(get_signed(&p, 3, 5), -10);
        set_field(&mut p, 0, 64, u64::MAX);
        assert_eq!(get_signed(&p, 0, 64), -1);
    }

    #[test]
    fn overflow_rules_are_redis_s() {
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Wrap), (4, true));
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Sat), (255, true));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Sat), (0, true));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Wrap), (251, true));
        assert_eq!(signed_add(120, 10, 8, Overflow::Wrap), (-126, true));
        assert_eq!(signed_add(120, 10, 8, Overflow::Sat), (127, true));
        assert_eq!(signed_add(-120, -10, 8, Overflow::Sat), (-128, true));
        assert_eq!(
            signed_add(i64::MAX, 1, 64, Overflow::Wrap),
            (i64::MIN, true)
        );
        assert_eq!(signed_add(3, 4, 8, Overflow::Fail), (7, false));
    }

    #[test]
    fn spans_cut_bits_at_the_edges() {
        let s = span(2, 3, 12, true).expect("a span");
        assert_eq!((s.first, s.last), (0, 1));
        assert_eq!(s.head_out, 0b1110_0000);
        assert_eq!(s.tail_out, 0b0000_0111);
        assert!(span(2, 5, 3, false).is_none());
    }
}
