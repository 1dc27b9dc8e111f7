//! Numbers as C's text: `printf("%.<precision>g")` and `strtod`, as glibc writes and reads
//! them in the C locale (what lua-cjson, which Redis embeds, calls, and what SORT reads
//! its weights with).

/// A number as C's `printf("%.<precision>g")` writes it (glibc: `nan`, `-nan`, `inf`, `-inf`).
pub(crate) fn format_g(out: &mut Vec<u8>, n: f64, precision: usize) {
    let negative = n.is_sign_negative();
    if n.is_nan() {
        out.extend_from_slice(if negative { b"-nan" } else { b"nan" });
        return;
    }
    if negative {
        out.push(b'-');
    }
    if n.is_infinite() {
        out.extend_from_slice(b"inf");
        return;
    }
    let precision = precision.clamp(1, 17);
    let magnitude = n.abs();
    if magnitude.fract() == 0.0 && magnitude < POWERS_OF_TEN[precision] {
        // An integer of at most `precision` digits is written whole.
        out.extend_from_slice(crate::reply::digits(magnitude as u64, &mut [0; 20]));
        return;
    }
    // The correctly rounded digits, as %e would give them: d.ddd...e<exp>.
    let sci = format!("{:.*e}", precision - 1, n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let p = i64::try_from(precision).unwrap_or(14);
    if exp < -4 || exp >= p {
        // d.ddd without trailing zeros, then e±dd.
        let frac = trim_zeros(&digits[1..]);
        out.push(digits[0]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if exp >= 0 {
        let int_len = usize::try_from(exp).unwrap_or(0) + 1;
        out.extend_from_slice(&digits[..int_len]);
        let frac = trim_zeros(&digits[int_len..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(trim_zeros(&digits));
    }
}

const POWERS_OF_TEN: [f64; 18] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17,
];

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
    &digits[..end]
}

/// The number at the start of `data[start..]` and where it ends, as glibc's `strtod` reads it
/// in the C locale (decimal, hexadecimal with an optional binary exponent, `inf`, `infinity`,
/// `nan`, `nan(...)`, each with an optional sign); None when there is none.
pub(crate) fn strtod(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let ci = |i: usize, word: &[u8]| {
        data.get(i..i + word.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(word))
    };
    let (negative, p) = sign(data, start);
    let signed = |v: f64| if negative { -v } else { v };
    if ci(p, b"inf") {
        let end = if ci(p + 3, b"inity") { p + 8 } else { p + 3 };
        return Some((signed(f64::INFINITY), end));
    }
    if ci(p, b"nan") {
        let mut end = p + 3;
        if at(end) == b'(' {
            let mut q = end + 1;
            while at(q).is_ascii_alphanumeric() || at(q) == b'_' {
                q += 1;
            }
            if at(q) == b')' {
                end = q + 1;
            }
        }
        return Some((signed(f64::NAN), end));
    }
    if at(p) == b'0' && at(p + 1) | 0x20 == b'x' {
        let digits = p + 2;
        let mut q = digits;
        while at(q).is_ascii_hexdigit() {
            q += 1;
        }
        let int_end = q;
        let mut frac_end = q;
        if at(q) == b'.' {
            let mut r = q + 1;
            while at(r).is_ascii_hexdigit() {
                r += 1;
            }
            frac_end = r;
        }
        let has_digits = int_end > digits || frac_end > int_end + 1;
        if !has_digits {
            // Only the "0" before the 'x' is a number.
            return Some((signed(0.0), p + 1));
        }
        let frac = if frac_end > int_end {
            &data[int_end + 1..frac_end]
        } else {
            &[][..]
        };
        let (exp, end) = binary_exponent(data, frac_end);
        let value = hex_to_f64(&data[digits..int_end], frac, exp);
        return Some((signed(value), end));
    }
    let mut q = p;
    while at(q).is_ascii_digit() {
        q += 1;
    }
    let mut count = q - p;
    if at(q) == b'.' {
        let mut r = q + 1;
        while at(r).is_ascii_digit() {
            r += 1;
        }
        count += r - q - 1;
        q = r;
    }
    if count == 0 {
        return None;
    }
    if at(q) | 0x20 == b'e' {
        let mut r = q + 1;
        if matches!(at(r), b'+' | b'-') {
            r += 1;
        }
        if at(r).is_ascii_digit() {
            while at(r).is_ascii_digit() {
                r += 1;
            }
            q = r;
        }
    }
    // Plain ASCII digits, '.', 'e' and a sign: Rust reads them correctly rounded, as glibc does.
    let text = std::str::from_utf8(&data[p..q]).ok()?;
    let value: f64 = text.parse().ok()?;
    Some((signed(value), q))
}

/// A whole string as a number, as Redis checks one it reads with `strtod` (SORT's weights):
/// white space may lead, nothing may follow, and NaN and out-of-range values (`ERANGE`:
/// `1e400`, `1e-400`, the subnormal `1e-310`) are refused. An empty string is 0 (strtod reads nothing there, and
/// stops at its end); one of white space only is not a number (strtod stops at its start).
pub(crate) fn strtod_whole(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let (x, end) = strtod(b, start)?;
    if end != b.len() || x.is_nan() {
        return None;
    }
    let body = &b[sign(b, start).1..];
    let written_infinite = body.first().is_some_and(|c| c | 0x20 == b'i');
    let nonzero = match body.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"0x")) {
        true => body[2..]
            .iter()
            .take_while(|&&c| c | 0x20 != b'p')
            .any(|c| c.is_ascii_hexdigit() && *c != b'0'),
        false => body
            .iter()
            .take_while(|&&c| c | 0x20 != b'e')
            .any(|c| (b'1'..=b'9').contains(c)),
    };
    // glibc's ERANGE: overflow, and underflow to zero or below the normal range.
    let range_error = (x.is_infinite() && !written_infinite)
        || (x == 0.0 && nonzero)
        || (x != 0.0 && x.abs() < f64::MIN_POSITIVE);
    (!range_error).then_some(x)
}

/// An optional sign at `at`: whether it is `-`, and where what follows it starts.
fn sign(data: &[u8], at: usize) -> (bool, usize) {
    match data.get(at) {
        Some(b'-') => (true, at + 1),
        Some(b'+') => (false, at + 1),
        _ => (false, at),
    }
}

/// A hexadecimal float's `p[+-]digits` exponent at `i`, and where the number ends; no
/// exponent (0) when the digits are missing.
fn binary_exponent(data: &[u8], i: usize) -> (i64, usize) {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    if at(i) | 0x20 != b'p' {
        return (0, i);
    }
    let (negative, mut q) = sign(data, i + 1);
    if !at(q).is_ascii_digit() {
        return (0, i);
    }
    let mut exp: i64 = 0;
    while at(q).is_ascii_digit() {
        // Far beyond any double's range: saturate.
        exp = (exp * 10 + i64::from(at(q) - b'0')).min(1 << 40);
        q += 1;
    }
    (if negative { -exp } else { exp }, q)
}

/// The hexadecimal number `int.frac * 2^exp`, rounded to nearest (ties to even) as glibc does.
fn hex_to_f64(int: &[u8], frac: &[u8], exp: i64) -> f64 {
    let mut mantissa: u64 = 0;
    let mut exp2 = exp;
    let mut kept = 0; // significant hex digits in `mantissa` (at most 15: 60 bits)
    let mut sticky = false; // any nonzero digit dropped
    let digit = |c: u8| u64::from(char::from(c).to_digit(16).unwrap_or(0));
    for &c in int {
        let d = digit(c);
        if kept == 0 && d == 0 {
            continue;
        }
        if kept < 15 {
            mantissa = mantissa << 4 | d;
            kept += 1;
        } else {
            exp2 += 4;
            sticky |= d != 0;
        }
    }
    for &c in frac {
        let d = digit(c);
        if kept == 0 && d == 0 {
            exp2 -= 4;
            continue;
        }
        if kept < 15 {
            mantissa = mantissa << 4 | d;
            kept += 1;
            exp2 -= 4;
        } else {
            sticky |= d != 0;
        }
    }
    if mantissa == 0 {
        return 0.0;
    }
    // The value is mantissa * 2^exp2; its leading bit has exponent `top`.
    let bits = i64::from(64 - mantissa.leading_zeros());
    let top = exp2 + bits - 1;
    if top > 1023 {
        return f64::INFINITY;
    }
    // The exponent of the last bit kept: 53 bits for a normal number, 2^-1074 below.
    let quantum = (top - 52).max(-1074);
    let shift = quantum - exp2;
    let mut q = quantum;
    let mut m = if shift <= 0 {
        mantissa << (-shift)
    } else {
        let wide = u128::from(mantissa);
        let shift = u32::try_from(shift).unwrap_or(u32::MAX).min(100);
        let kept_bits = wide >> shift;
        let rest = wide & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let up = rest > half || (rest == half && (sticky || kept_bits & 1 == 1));
        u64::try_from(kept_bits).unwrap_or(u64::MAX) + u64::from(up)
    };
    if m == 1 << 53 {
        m >>= 1;
        q += 1;
    }
    if m < 1 << 52 {
        // Subnormal (q is -1074): the bits are the count of 2^-1074.
        return f64::from_bits(m);
    }
    let biased = q + 52 + 1023;
    if biased >= 2047 {
        return f64::INFINITY;
    }
    let biased = u64::try_from(biased).unwrap_or(0);
    f64::from_bits((biased << 52) | (m & ((1 << 52) - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_strings_read_as_redis_checks_a_strtod_of_them() {
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b" 5"), Some(5.0));
        assert_eq!(strtod_whole(b"\t-2.5e1"), Some(-25.0));
        assert_eq!(strtod_whole(b"0x10"), Some(16.0));
        assert_eq!(strtod_whole(b"-0X1.8p1"), Some(-3.0));
        assert_eq!(strtod_whole(b"+inf"), Some(f64::INFINITY));
        assert_eq!(strtod_whole(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_whole(b".5"), Some(0.5));
        for bad in [
            &b"1 "[..],
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"0x",
            b"1,5",
            b"--1",
            b" ",
            b"1e-310",
        ] {
            assert_eq!(
                strtod_whole(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn format_g_matches_printf() {
        let g = |n: f64, p: usize| {
            let mut out = Vec::new();
            format_g(&mut out, n, p);
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(g(0.5, 1), "0.5");
        assert_eq!(g(2.5, 1), "2");
        assert_eq!(g(3.5, 1), "4");
        assert_eq!(g(9.5, 1), "1e+01");
        assert_eq!(g(0.000123456, 3), "0.000123");
        assert_eq!(g(1e-5, 14), "1e-05");
        assert_eq!(g(123456.0, 6), "123456");
        assert_eq!(g(1234567.0, 6), "1.23457e+06");
        assert_eq!(g(1e100, 14), "1e+100");
        assert_eq!(g(f64::NAN, 14), "nan");
        assert_eq!(g(-f64::NAN, 14), "-nan");
        assert_eq!(g(f64::NEG_INFINITY, 14), "-inf");
    }

    #[test]
    fn hex_floats_round_like_glibc() {
        let h = |s: &str| strtod(s.as_bytes(), 0).map(|(v, end)| (v.to_bits(), end));
        assert_eq!(h("0x1p-1074"), Some((1, 9)));
        assert_eq!(h("0x1p-1075"), Some((0, 9)));
        assert_eq!(h("0x1.8p-1074"), Some((2, 11)));
        assert_eq!(h("0x1p1024"), Some((f64::INFINITY.to_bits(), 8)));
        assert_eq!(
            h("0x1fffffffffffff"),
            Some((9007199254740991f64.to_bits(), 16))
        );
        assert_eq!(
            h("0x20000000000001"),
            Some((9007199254740992f64.to_bits(), 16))
        );
        assert_eq!(
            h("0x20000000000003"),
            Some((9007199254740996f64.to_bits(), 16))
        );
        assert_eq!(
            h("0x20000000000001000000001"),
            Some(((9007199254740994f64 * 68719476736.0).to_bits(), 25))
        );
        assert_eq!(h("0xp3"), Some((0, 1)));
        assert_eq!(h("0x.8"), Some((0.5f64.to_bits(), 4)));
        assert_eq!(h("0x1p"), Some((1f64.to_bits(), 3)));
    }
}
