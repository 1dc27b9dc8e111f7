//! Reading a field as Redis reads a string: the register's bytes, plus the counter's
//! increments when there are any.

use crate::blob::Blob;
use crate::field::{Field, Num};
use crate::hll;
use std::borrow::Cow;

/// Parse as Redis parses an integer argument or value (`string2ll`): optional `-`, digits,
/// no leading zeros, no spaces, within `i64`.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let ok = match digits {
        [] => false,
        [b'0'] => digits.len() == b.len(),
        [b'0', ..] => false,
        _ => digits.iter().all(u8::is_ascii_digit),
    };
    if !ok {
        return None;
    }
    // Accumulated towards the sign, so that i64::MIN fits.
    let negative = digits.len() != b.len();
    digits.iter().try_fold(0i64, |n, &d| {
        let d = i64::from(d - b'0');
        let n = n.checked_mul(10)?;
        if negative {
            n.checked_sub(d)
        } else {
            n.checked_add(d)
        }
    })
}

/// Parse as Redis parses a float value: no surrounding spaces, not NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.trim() != s {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A number as a string value holds it.
pub fn parse_num(b: &[u8]) -> Option<Num> {
    if let Some(i) = parse_i64(b) {
        return Some(Num::Int(i as i128));
    }
    parse_f64(b).map(Num::Float)
}

/// Significant digits a float value prints with.
const FLOAT_DIGITS: i32 = 15;
/// Decimals a float value prints with at most: below this, f64 sums carry only rounding
/// noise where Redis's long double reads exactly (0.1 + 0.1 + 0.1 - 0.3 is 0 there).
const FLOAT_DECIMALS_MAX: i32 = 15;

/// The bytes a string value reads as. A float prints with 15 significant digits (and at
/// most 15 decimals) in plain notation, trailing zeros trimmed: Redis computes INCRBYFLOAT in long double and prints 17
/// decimals, so `0.1 + 0.2` reads `0.3` there; 15 digits of an f64 read the same in such
/// decimal cases, where the shortest round-trip form would show `0.30000000000000004`.
pub fn format_num(n: Num) -> Vec<u8> {
    match n {
        Num::Int(i) => i.to_string().into_bytes(),
        Num::Float(x) => format_float(x).into_bytes(),
    }
}

fn format_float(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() {
            "0".into()
        } else {
            x.to_string()
        };
    }
    let exp = x.abs().log10().floor() as i32;
    let decimals = (FLOAT_DIGITS - 1 - exp).clamp(0, FLOAT_DECIMALS_MAX) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// The value of a string field: the winning register write, plus the increments that no SET
/// observed. When the register does not hold a number the increments cannot apply and the
/// register's bytes are the value (only possible after a concurrent SET of a non-number).
pub fn value(f: &Field<Blob>) -> Cow<'_, [u8]> {
    let base: &[u8] = f.base().map_or(b"", |r| r.value.as_slice());
    match f.increments() {
        None => Cow::Borrowed(base),
        Some(inc) => {
            let b = if base.is_empty() {
                Some(Num::ZERO)
            } else {
                parse_num(base)
            };
            match b {
                Some(b) => Cow::Owned(format_num(b + inc)),
                None => Cow::Borrowed(base),
            }
        }
    }
}

/// [`value`] read as an integer when that takes no formatting: a counter's whole-number
/// sum over a whole-number (or empty) register. `None`: not known this way (no counter, a
/// float, a register that is not an integer); `Some(None)`: past `i64`, not an integer.
pub fn int_value(f: &Field<Blob>) -> Option<Option<i64>> {
    let Some(Num::Int(inc)) = f.increments() else {
        return None;
    };
    let base = f.base().map_or(&b""[..], |r| r.value.as_slice());
    let base = if base.is_empty() { 0 } else { parse_i64(base)? };
    Some(i64::try_from(i128::from(base) + inc).ok())
}

/// The value of a string key: [`value`], except that concurrent writes of HyperLogLog
/// strings (PFADDs, PFMERGEs crossing between regions) read as their union, each register
/// the largest: every element added anywhere counts (docs/semantics.md, "hyperloglog"). A
/// later write in any region observes that union and replaces the writes it joined.
pub fn key_value(f: &Field<Blob>) -> Cow<'_, [u8]> {
    let regs = f.regs();
    if regs.len() > 1
        && f.increments().is_none()
        && regs.iter().all(|r| hll::check(&r.value).is_ok())
    {
        if let Some(u) = hll::union(regs.iter().map(|r| r.value.as_slice())) {
            return Cow::Owned(u);
        }
    }
    value(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1x",
            b"--1",
            b"1.0",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad.escape_ascii().to_string());
        }
    }

    #[test]
    fn floats_parse_like_redis() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"3e2"), Some(300.0));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(format_num(Num::Float(10.5)), b"10.5");
        assert_eq!(format_num(Num::Float(11.0)), b"11");
        assert_eq!(format_num(Num::Float(1e20)), b"100000000000000000000");
        assert_eq!(format_num(Num::Float(0.1 + 0.2)), b"0.3");
        assert_eq!(format_num(Num::Float(3e-5)), b"0.00003");
        assert_eq!(format_num(Num::Float(-2.5)), b"-2.5");
        assert_eq!(format_num(Num::Float(0.0)), b"0");
        assert_eq!(format_num(Num::Float(0.1 + 0.1 + 0.1 - 0.3)), b"0");
        assert_eq!(format_num(Num::Float(-(0.1 + 0.1 + 0.1 - 0.3))), b"0");
    }
}
