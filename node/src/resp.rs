//! RESP framing: is a whole request buffered, and what are its arguments. Handles multibulk
//! requests (what client libraries send) and inline commands (what telnet and redis-cli's
//! raw mode send), with Redis's limits and Redis's protocol error texts.

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

/// Limits on what one request may be, with Redis's names.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk argument.
    pub bulk_bytes_max: usize,
    /// The largest number of arguments in one multibulk request.
    pub args_max: usize,
}

/// Redis's defaults: 512 MB arguments, up to 2^31-1 of them (bounded in practice by the
/// query buffer limit).
pub const DEFAULT_LIMITS: Limits = Limits {
    bulk_bytes_max: 512 * 1024 * 1024,
    args_max: i32::MAX as usize,
};

/// An inline request, or a length line, longer than this without a newline is refused.
pub const INLINE_BYTES_MAX: usize = 64 * 1024;

/// A request the client must be told is malformed; the connection is closed after the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

fn perr(s: &str) -> ProtocolError {
    ProtocolError(s.to_string())
}

/// One parsed request: its arguments (empty for a blank line or `*0`, which Redis ignores).
pub type Args = Vec<Bytes>;

/// Take one whole request off the front of `buf`. `Ok(None)`: more bytes are needed.
pub fn parse_request(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Args>, ProtocolError> {
    parse_request_reusing(buf, limits, &mut Vec::new())
}

/// [`parse_request`], filling an argument vector taken from `spare` (emptied vectors a
/// session keeps: a request then costs no allocation of its own).
pub fn parse_request_reusing(
    buf: &mut BytesMut,
    limits: &Limits,
    spare: &mut Vec<Args>,
) -> Result<Option<Args>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits, spare)
    } else {
        parse_inline(buf)
    }
}

/// Find `\r\n` at or after `from`; the index of `\r`. (Length lines are a few bytes: a
/// plain scan beats a vectorised search here.)
fn find_crlf(buf: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let cr = from + buf.get(from..)?.iter().position(|&b| b == b'\r')?;
        if *buf.get(cr + 1)? == b'\n' {
            return Some(cr);
        }
        from = cr + 1;
    }
}

/// Parse a length line's number (after its type byte) as Redis does (`string2ll`: an
/// optional `-` and digits, no leading zeros, no `+` or spaces, within `i64`).
fn parse_len(b: &[u8]) -> Option<i64> {
    gdc_crdt::string::parse_i64(b)
}

/// The common length line, read in one pass: up to 18 digits without a leading zero (or a
/// lone `0`), then `\r\n`. Its value and the index of its `\r`; `None` for anything else
/// (a sign, a longer number, another byte, a line not all here yet), which
/// [`general_length_line`] then judges as before.
fn plain_len(buf: &[u8], from: usize) -> Option<(i64, usize)> {
    let digits = buf.get(from..)?;
    let mut n: i64 = 0;
    for (i, &b) in digits.iter().enumerate().take(19) {
        match b {
            b'0'..=b'9' if i < 18 && !(i == 1 && digits[0] == b'0') => {
                n = n * 10 + i64::from(b - b'0')
            }
            b'\r' if i > 0 => {
                return (digits.get(i + 1) == Some(&b'\n')).then_some((n, from + i));
            }
            _ => return None,
        }
    }
    None
}

/// The length line that starts at `pos` (after its `*` or `$`) when it is not plain
/// ([`plain_len`] reads those, on the hot path): its value and the index of its `\r`, `None`
/// while it is not all here. `count` and `length` name it in errors ("mbulk count",
/// "multibulk length"; "bulk count", "bulk length"), as Redis's do.
#[cold]
fn general_length_line(
    buf: &[u8],
    pos: usize,
    (count, length): (&str, &str),
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(end) = find_crlf(buf, pos + 1) else {
        if buf.len() - pos > INLINE_BYTES_MAX {
            return Err(ProtocolError(format!("too big {count} string")));
        }
        return Ok(None);
    };
    let n =
        parse_len(&buf[pos + 1..end]).ok_or_else(|| ProtocolError(format!("invalid {length}")))?;
    Ok(Some((n, end)))
}

/// Arguments up to this many are found without a heap allocation for their spans.
const SPANS_INLINE: usize = 8;

fn parse_multibulk(
    buf: &mut BytesMut,
    limits: &Limits,
    spare: &mut Vec<Args>,
) -> Result<Option<Args>, ProtocolError> {
    let (n, end) = match plain_len(buf, 1) {
        Some(found) => found,
        None => match general_length_line(buf, 0, ("mbulk count", "multibulk length"))? {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    if n > limits.args_max as i64 {
        return Err(perr("invalid multibulk length"));
    }
    let mut pos = end + 2;
    if n <= 0 {
        let _ = buf.split_to(pos);
        return Ok(Some(Vec::new()));
    }
    // First find where every argument lies; copy nothing until the whole request is here.
    let mut spans: SmallVec<[(usize, usize); SPANS_INLINE]> = SmallVec::new();
    for _ in 0..n {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(&c) => {
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    c.escape_ascii()
                )));
            }
        }
        let (len, end) = match plain_len(buf, pos + 1) {
            Some(found) => found,
            None => match general_length_line(buf, pos, ("bulk count", "bulk length"))? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        if len < 0 || len as u64 > limits.bulk_bytes_max as u64 {
            return Err(perr("invalid bulk length"));
        }
        let start = end + 2;
        let stop = start + len as usize;
        if buf.len() < stop + 2 {
            return Ok(None);
        }
        if &buf[stop..stop + 2] != b"\r\n" {
            return Err(perr("invalid bulk length"));
        }
        spans.push((start, stop));
        pos = stop + 2;
    }
    let frame = buf.split_to(pos).freeze();
    let mut args = spare.pop().unwrap_or_default();
    args.extend(spans.into_iter().map(|(a, b)| frame.slice(a..b)));
    Ok(Some(args))
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Args>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_BYTES_MAX {
            return Err(perr("too big inline request"));
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1);
    let mut line = &line[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    split_args(line)
        .map(Some)
        .ok_or_else(|| perr("unbalanced quotes in request"))
}

/// Split an inline command as redis-cli and Redis do (`sdssplitargs`): spaces separate,
/// "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'.
/// `None` when quotes are unbalanced or a closing quote is not followed by a space.
pub fn split_args(line: &[u8]) -> Option<Args> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    let c = *line.get(i)?;
                    if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                        let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok();
                        if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                            cur.push(v);
                            i += 4;
                            continue;
                        }
                    }
                    if c == b'\\' && i + 1 < line.len() {
                        cur.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if c == b'"' {
                        break;
                    }
                    cur.push(c);
                }
                if line.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                    return None;
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let c = *line.get(i)?;
                    if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                        cur.push(b'\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if c == b'\'' {
                        break;
                    }
                    cur.push(c);
                }
                if line.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                    return None;
                }
            }
            _ => {
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    cur.push(line[i]);
                    i += 1;
                }
            }
        }
        out.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        let mut buf = BytesMut::from(b);
        parse_request(&mut buf, &DEFAULT_LIMITS)
            .map(|o| o.map(|a| a.iter().map(|x| x.to_vec()).collect()))
    }

    /// The one-pass length reader answers only where the general one would, and as it
    /// would.
    #[test]
    fn plain_lengths_read_as_the_general_reader_reads_them() {
        let general = |line: &[u8]| {
            find_crlf(line, 0).and_then(|end| parse_len(&line[..end]).map(|n| (n, end)))
        };
        let read = [
            &b"0\r\n"[..],
            b"7\r\n",
            b"12\r\nrest",
            b"999999999999999999\r\n",
        ];
        for line in read {
            assert_eq!(plain_len(line, 0), general(line), "{}", line.escape_ascii());
            assert!(plain_len(line, 0).is_some());
        }
        let left_to_the_general_reader = [
            &b""[..],
            b"\r\n",
            b"01\r\n",
            b"00\r\n",
            b"-1\r\n",
            b"+1\r\n",
            b" 1\r\n",
            b"1 \r\n",
            b"1x\r\n",
            b"1",
            b"12\r",
            b"1\rx\r\n",
            b"1000000000000000000\r\n",
            b"9223372036854775807\r\n",
            b"99999999999999999999\r\n",
        ];
        for line in left_to_the_general_reader {
            assert_eq!(plain_len(line, 0), None, "{}", line.escape_ascii());
        }
        assert_eq!(plain_len(b"*3\r\n", 1), Some((3, 2)));
    }

    #[test]
    fn multibulk_whole_and_in_pieces() {
        let req = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        assert_eq!(parse(req), Ok(Some(vec![b"GET".to_vec(), b"k".to_vec()])));
        for n in 0..req.len() {
            assert_eq!(parse(&req[..n]), Ok(None), "prefix {n}");
        }
    }

    #[test]
    fn pipelined_requests_come_off_one_by_one() {
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$4\r\nPI"[..]);
        assert_eq!(
            parse_request(&mut buf, &DEFAULT_LIMITS)
                .expect("parses")
                .expect("whole")
                .len(),
            1
        );
        assert_eq!(
            parse_request(&mut buf, &DEFAULT_LIMITS)
                .expect("parses")
                .expect("whole"),
            vec![Bytes::from("PING")]
        );
        assert_eq!(parse_request(&mut buf, &DEFAULT_LIMITS), Ok(None));
        assert_eq!(&buf[..], b"*1\r\n$4\r\nPI");
    }

    #[test]
    fn length_lines_parse_as_redis_string2ll() {
        // The digit rules are parse_i64's (and its test's); here, that the parser uses them.
        assert_eq!(parse(b"*01\r\n"), Err(perr("invalid multibulk length")));
        assert_eq!(
            parse(b"*1\r\n$+1\r\nx\r\n"),
            Err(perr("invalid bulk length"))
        );
        // A \r inside a length line is no line end: the line is malformed.
        assert_eq!(
            parse(b"*1\r\n$1\r2\r\nx\r\n"),
            Err(perr("invalid bulk length"))
        );
    }

    #[test]
    fn malformed_lengths_are_protocol_errors() {
        assert_eq!(parse(b"*x\r\n"), Err(perr("invalid multibulk length")));
        assert_eq!(parse(b"*1\r\n$-1\r\n"), Err(perr("invalid bulk length")));
        assert_eq!(parse(b"*1\r\n$abc\r\n"), Err(perr("invalid bulk length")));
        assert_eq!(
            parse(b"*1\r\n$1\r\nab\r\n"),
            Err(perr("invalid bulk length"))
        );
        assert_eq!(
            parse(b"*1\r\n$99999999999999999999\r\n"),
            Err(perr("invalid bulk length"))
        );
        assert!(parse(b"*1\r\n:1\r\n").is_err());
        assert_eq!(parse(b"*0\r\n"), Ok(Some(vec![])));
        assert_eq!(parse(b"*-1\r\n"), Ok(Some(vec![])));
        let big = vec![b'a'; INLINE_BYTES_MAX + 1];
        assert_eq!(parse(&big), Err(perr("too big inline request")));
    }

    #[test]
    fn inline_commands_split_like_redis() {
        assert_eq!(
            parse(b"SET k v\r\n"),
            Ok(Some(vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]))
        );
        assert_eq!(
            split_args(br#"set "a b" 'c\'d' "\x41\n""#)
                .map(|a| a.iter().map(|x| x.to_vec()).collect::<Vec<_>>()),
            Some(vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ])
        );
        assert_eq!(
            parse(b"set \"a\r\n"),
            Err(perr("unbalanced quotes in request"))
        );
        assert_eq!(parse(b"\r\n"), Ok(Some(vec![])));
    }
}
