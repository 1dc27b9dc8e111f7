//! RESP as the discovery port speaks it: requests read (RESP arrays of bulk strings, or
//! inline commands, within fixed bounds), and replies built.

use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// A request has at most this many arguments...
const ARGS_MAX: usize = 16;
/// ...of at most this many bytes each (names and a few words: nothing larger is asked).
const ARG_BYTES_MAX: usize = 1024;

pub(super) fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

pub(super) fn array(items: &[String]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        out.push_str(i);
    }
    out
}

/// One request: a RESP array of bulk strings, or an inline command. `None` at a clean end
/// of stream; `Some(Err)` for a malformed request.
pub(super) async fn read_request<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<Result<Vec<Vec<u8>>, String>>> {
    let Some(line) = read_line(r).await? else {
        return Ok(None);
    };
    let Some(count) = line.strip_prefix(b"*") else {
        // Inline: words separated by spaces.
        let args: Vec<Vec<u8>> = line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        return Ok(Some(Ok(args)));
    };
    let count = match parse_len(count, ARGS_MAX) {
        Ok(n) => n,
        Err(why) => return Ok(Some(Err(why))),
    };
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let Some(header) = read_line(r).await? else {
            return Ok(None);
        };
        let Some(len) = header.strip_prefix(b"$") else {
            return Ok(Some(Err("expected '$'".into())));
        };
        let len = match parse_len(len, ARG_BYTES_MAX) {
            Ok(n) => n,
            Err(why) => return Ok(Some(Err(why))),
        };
        let mut arg = vec![0; len + 2];
        r.read_exact(&mut arg).await?;
        if !arg.ends_with(b"\r\n") {
            return Ok(Some(Err("a bulk string must end with CRLF".into())));
        }
        arg.truncate(len);
        args.push(arg);
    }
    Ok(Some(Ok(args)))
}

fn parse_len(digits: &[u8], max: usize) -> Result<usize, String> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n <= max)
        .ok_or_else(|| format!("invalid length (at most {max})"))
}

/// A line without its CRLF (or LF), at most a little over [`ARG_BYTES_MAX`] long.
async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = r
        .take(ARG_BYTES_MAX as u64 + 64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(Some(line))
}
