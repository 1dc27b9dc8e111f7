//! Replies and their RESP2 / RESP3 encodings.

use bytes::{BufMut, Bytes, BytesMut};

/// A reply to one command.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`-style status.
    Status(&'static str),
    /// An error line; the text starts with its code (`ERR`, `WRONGTYPE`, ...).
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// A bulk string held as a blob: a value or member read from the keyspace, copied
    /// without an allocation when short enough to sit inline (most are).
    Value(gdc_crdt::Blob),
    /// A missing value (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// A missing array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    Array(Vec<Reply>),
    /// An array of bulk strings held as blobs: LRANGE's elements, copied without an
    /// allocation each (most are short enough to sit inline).
    Bulks(Vec<gdc_crdt::Blob>),
    /// A map in RESP3; a flat array of keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set in RESP3; an array in RESP2.
    Set(Vec<Reply>),
    /// A double in RESP3; a bulk string in RESP2.
    Double(f64),
    /// A double already written out (GEOPOS's coordinates, in Redis's human-friendly long
    /// double form): a RESP3 double of that text; a bulk string in RESP2.
    DoubleText(String),
    /// Text for people (INFO, CLIENT LIST, the DOCTORs): a RESP3 verbatim string of format
    /// `txt`; a bulk string in RESP2.
    Text(Bytes),
    /// A status line made at run time (a script's `{ok = ...}`); CR and LF become spaces.
    StatusText(String),
    /// A RESP3 boolean; `:1` / `:0` in RESP2 (a script's boolean under RESP3).
    Bool(bool),
    /// A RESP3 big number; a bulk string in RESP2.
    BigNumber(String),
    /// A RESP3 verbatim string of the 3-byte format given; a bulk string in RESP2.
    Verbatim([u8; 3], Bytes),
    /// Nothing is sent (SHUTDOWN closes the connection instead of answering).
    Silence,
    /// Several replies to one command, sent one after another (SUBSCRIBE a b).
    Many(Vec<Reply>),
    /// An out-of-band message: a RESP3 push, an array in RESP2 (pub/sub).
    Push(Vec<Reply>),
    /// The command must wait (BLPOP on empty lists): the connection retries it after writes
    /// until `deadline_ms` (Unix ms; `None`: no limit), then answers `on_timeout`. Never
    /// written: the connection loop acts on it.
    Block {
        deadline_ms: Option<u64>,
        wait: Box<Wait>,
    },
}

/// What a waiting command answers at its deadline, and what runs at each retry.
#[derive(Clone, Debug, PartialEq)]
pub struct Wait {
    pub on_timeout: Reply,
    /// The command to retry instead of the one that asked to wait (XREAD's `$` made the
    /// stream's last id when it first blocked); `None`: that one.
    pub retry: Option<Vec<Bytes>>,
}

impl Reply {
    pub const OK: Reply = Reply::Status("OK");

    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// A bulk string copied from `v` (see [`Reply::Value`]).
    pub fn value(v: &[u8]) -> Reply {
        Reply::Value(gdc_crdt::Blob::from(v))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Append the encoding for protocol version `resp` (2 or 3).
    pub fn write(&self, out: &mut BytesMut, resp: u8) {
        match self {
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::StatusText(s) => error_line_as(out, b'+', s.as_bytes()),
            Reply::Bool(b) if resp >= 3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Bool(b) => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Reply::BigNumber(n) if resp >= 3 => error_line_as(out, b'(', n.as_bytes()),
            Reply::BigNumber(n) => bulk(out, n.as_bytes()),
            Reply::Verbatim(format, t) if resp >= 3 => {
                header(out, b'=', t.len() + 4);
                out.put_slice(format);
                out.put_u8(b':');
                out.put_slice(t);
                out.put_slice(b"\r\n");
            }
            Reply::Verbatim(_, t) => bulk(out, t),
            Reply::Error(e) => error_line(out, e.as_bytes()),
            Reply::Int(i) => line(out, b':', decimal(*i, &mut [0; 20])),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Value(b) => bulk(out, b),
            Reply::Nil if resp >= 3 => out.put_slice(b"_\r\n"),
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::NilArray if resp >= 3 => out.put_slice(b"_\r\n"),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                header(out, b'*', items.len());
                for it in items {
                    it.write(out, resp);
                }
            }
            Reply::Bulks(items) => {
                header(out, b'*', items.len());
                for it in items {
                    bulk(out, it);
                }
            }
            Reply::Map(pairs) => {
                if resp >= 3 {
                    header(out, b'%', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.write(out, resp);
                    v.write(out, resp);
                }
            }
            Reply::Set(items) => {
                header(out, if resp >= 3 { b'~' } else { b'*' }, items.len());
                for it in items {
                    it.write(out, resp);
                }
            }
            Reply::Silence | Reply::Block { .. } => {}
            Reply::Many(items) => {
                for it in items {
                    it.write(out, resp);
                }
            }
            Reply::Push(items) => {
                header(out, if resp >= 3 { b'>' } else { b'*' }, items.len());
                for it in items {
                    it.write(out, resp);
                }
            }
            Reply::Text(t) if resp >= 3 => {
                header(out, b'=', t.len() + 4);
                out.put_slice(b"txt:");
                out.put_slice(t);
                out.put_slice(b"\r\n");
            }
            Reply::Text(t) => bulk(out, t),
            Reply::Double(d) => {
                let (mut buf, general);
                let text = match whole(*d) {
                    Some(i) => {
                        buf = [0; 20];
                        decimal(i, &mut buf)
                    }
                    None => {
                        general = g17(*d);
                        general.as_bytes()
                    }
                };
                if resp >= 3 {
                    line(out, b',', text);
                } else {
                    bulk(out, text);
                }
            }
            Reply::DoubleText(s) if resp >= 3 => line(out, b',', s.as_bytes()),
            Reply::DoubleText(s) => bulk(out, s.as_bytes()),
        }
    }
}

/// The decimal text of `i`, written at the end of `buf` (no allocation: every integer
/// reply and every bulk reply's length goes through here).
fn decimal(i: i64, buf: &mut [u8; 20]) -> &[u8] {
    let at = buf.len() - digits(i.unsigned_abs(), buf).len();
    if i >= 0 {
        return &buf[at..];
    }
    buf[at - 1] = b'-';
    &buf[at - 1..]
}

/// "00" to "99", two bytes each: [`digits`] writes two digits per division.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// The decimal digits of `n`, written at the end of `buf` (which leaves room for a sign).
/// Two at a time: a list's length or a counter's value is written in half the divisions.
pub(crate) fn digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut put_pair = |buf: &mut [u8; 20], pair: u64| {
        let i = pair as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[i..i + 2]);
    };
    while n >= 100 {
        put_pair(buf, n % 100);
        n /= 100;
    }
    if n >= 10 {
        put_pair(buf, n);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    &buf[at..]
}

fn line(out: &mut BytesMut, kind: u8, body: &[u8]) {
    out.put_u8(kind);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

/// An error line. A CR or LF inside it (an unknown command's arguments are quoted in its
/// error) would end the line early and desynchronize the client: each becomes a space, as
/// Redis maps them.
fn error_line(out: &mut BytesMut, body: &[u8]) {
    error_line_as(out, b'-', body);
}

/// A line of kind `kind` whose CR and LF become spaces (error and status text made at run
/// time).
fn error_line_as(out: &mut BytesMut, kind: u8, body: &[u8]) {
    out.put_u8(kind);
    for &b in body {
        out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, kind: u8, n: usize) {
    line(out, kind, decimal(n as i64, &mut [0; 20]));
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    header(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// A score or float as Redis prints it: `inf`, `-inf`, or the shortest exact decimal.
/// A double as Redis 7.0 replies with one (scores, RESP3 doubles): C's `%.17g`, so that
/// it reads back as the same double (`1.1` shows as `1.1000000000000001`, `1e20` as
/// `1e+20`), and `inf` / `-inf`.
pub fn format_double(d: f64) -> String {
    match whole(d) {
        Some(i) => i.to_string(),
        None => g17(d),
    }
}

/// `d` as the integer `%.17g` prints it as: integral and of at most 17 digits (a
/// leaderboard's scores, mostly), but not -0. Written without formatting a float.
fn whole(d: f64) -> Option<i64> {
    let negative_zero = d == 0.0 && d.is_sign_negative();
    (d.fract() == 0.0 && d.abs() < 1e17 && !negative_zero).then_some(d as i64)
}

/// `%.17g` of any double, through Rust's float formatting.
fn g17(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // 17 significant digits, rounded once; the exponent decides fixed or scientific.
    let sci = format!("{d:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (-4..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        trim(format!("{d:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa.to_string()), exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every count of digits, odd and even, up to `u64::MAX`'s twenty.
    #[test]
    fn digits_of_every_length_read_as_rust_prints_them() {
        let mut n = 1u64;
        let mut each = vec![0, 9, 10, 99, 100, 101, 999, 1000, 12345, 1 << 32, u64::MAX];
        while let Some(next) = n.checked_mul(7) {
            each.push(n - 1);
            each.push(n);
            n = next;
        }
        for n in each {
            assert_eq!(digits(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }

    fn enc(r: &Reply, resp: u8) -> Vec<u8> {
        let mut b = BytesMut::new();
        r.write(&mut b, resp);
        b.to_vec()
    }

    #[test]
    fn integers_read_as_rust_prints_them() {
        for i in [
            0,
            7,
            -7,
            10,
            99,
            -100,
            1 << 40,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(enc(&Reply::Int(i), 2), format!(":{i}\r\n").into_bytes());
        }
        let long = "x".repeat(1234);
        assert_eq!(
            enc(&Reply::bulk(long.clone()), 2),
            format!("$1234\r\n{long}\r\n").into_bytes()
        );
    }

    #[test]
    fn encodes_like_redis() {
        assert_eq!(enc(&Reply::OK, 2), b"+OK\r\n");
        assert_eq!(enc(&Reply::Int(-3), 2), b":-3\r\n");
        assert_eq!(enc(&Reply::bulk("hi"), 2), b"$2\r\nhi\r\n");
        assert_eq!(enc(&Reply::Nil, 2), b"$-1\r\n");
        assert_eq!(enc(&Reply::Nil, 3), b"_\r\n");
        let m = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(enc(&m, 2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, 3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Text("a\r\nb".into()), 2), b"$4\r\na\r\nb\r\n");
        assert_eq!(
            enc(&Reply::Text("a\r\nb".into()), 3),
            b"=8\r\ntxt:a\r\nb\r\n"
        );
        assert_eq!(enc(&Reply::Double(1.5), 2), b"$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(-42.0), 2), b"$3\r\n-42\r\n");
        assert_eq!(enc(&Reply::Double(1e20), 3), b",1e+20\r\n");
        assert_eq!(enc(&Reply::Double(1.5), 3), b",1.5\r\n");
        for (d, shown) in [
            (1.1, "1.1000000000000001"),
            (0.1879068008567704, "0.18790680085677039"),
            (1e20, "1e+20"),
            (-2.5e-7, "-2.4999999999999999e-07"),
            (100.0, "100"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(format_double(d), shown, "{d}");
        }
    }

    /// A whole score is written as an integer: the same text `%.17g` gives, up to 17 digits
    /// and past them, either sign; -0 and fractions take the general path.
    #[test]
    fn whole_doubles_print_as_the_general_path_does() {
        let mut each = vec![
            0.0,
            1.0,
            9.0,
            10.0,
            2f64.powi(53),
            2f64.powi(53) + 2.0,
            1e16,
        ];
        let mut x = 1.0f64;
        while x < 1e18 {
            each.extend([x, x - 1.0, x + 1.0, x * 7.0]);
            x *= 13.0;
        }
        for d in each.iter().flat_map(|d| [*d, -*d]) {
            let general = g17(d);
            assert_eq!(format_double(d), general, "{d}");
            let mut written = BytesMut::new();
            Reply::Double(d).write(&mut written, 2);
            assert_eq!(
                written,
                format!("${}\r\n{general}\r\n", general.len()).as_bytes()
            );
        }
        assert_eq!(whole(-0.0), None);
        assert_eq!(whole(0.5), None);
        assert_eq!(whole(1e17), None);
        assert_eq!(whole(f64::INFINITY), None);
        assert_eq!(whole(f64::NAN), None);
    }
}
