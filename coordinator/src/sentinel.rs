//! The discovery port: a RESP listener in the manner of Redis Sentinel, so that Redis
//! client libraries can find a region's primary with the code they already have.
//!
//! Served today: `PING`. The Sentinel queries (`SENTINEL get-master-addr-by-name`,
//! `masters`, `replicas`) come with node registration, when the topology knows nodes'
//! addresses; until then they are unknown commands, as on a server without them.

use crate::server::Coordinator;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

/// A request has at most this many arguments...
const ARGS_MAX: usize = 16;
/// ...of at most this many bytes each (names and a few words: nothing larger is asked).
const ARG_BYTES_MAX: usize = 1024;

pub async fn bind(port: u16) -> Result<TcpListener, String> {
    TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|e| format!("cannot listen on sentinel port {port}: {e}"))
}

/// Serve connections until the process ends.
pub async fn serve(listener: TcpListener, coordinator: Coordinator) {
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            continue;
        };
        let coordinator = coordinator.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &coordinator).await {
                debug!(%from, error = %e, "sentinel connection closed");
            }
        });
    }
}

async fn connection(stream: TcpStream, _coordinator: &Coordinator) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    loop {
        let args = match read_request(&mut stream).await? {
            Some(Ok(args)) => args,
            Some(Err(why)) => {
                // The stream is out of step after a malformed request: answer and close.
                let reply = format!("-ERR Protocol error: {why}\r\n");
                stream.get_mut().write_all(reply.as_bytes()).await?;
                return Ok(());
            }
            None => return Ok(()),
        };
        let reply = answer(&args);
        stream.get_mut().write_all(reply.as_bytes()).await?;
    }
}

fn answer(args: &[Vec<u8>]) -> String {
    let Some(cmd) = args.first() else {
        return String::new();
    };
    match cmd.to_ascii_lowercase().as_slice() {
        b"ping" if args.len() == 1 => "+PONG\r\n".into(),
        b"ping" => "-ERR wrong number of arguments for 'ping' command\r\n".into(),
        _ => format!(
            "-ERR unknown command '{}'\r\n",
            String::from_utf8_lossy(cmd).replace(['\r', '\n'], " ")
        ),
    }
}

/// One request: a RESP array of bulk strings, or an inline command. `None` at a clean end
/// of stream; `Some(Err)` for a malformed request.
async fn read_request<R: AsyncBufReadExt + Unpin>(
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn requests(input: &[u8]) -> Vec<Result<Vec<Vec<u8>>, String>> {
        let mut r = BufReader::new(input);
        let mut out = Vec::new();
        while let Ok(Some(req)) = read_request(&mut r).await {
            let stop = req.is_err();
            out.push(req);
            if stop {
                break;
            }
        }
        out
    }

    #[tokio::test]
    async fn resp_and_inline_requests_are_read_and_bad_ones_refused() {
        let got = requests(b"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nping\r\n$1\r\nx\r\n").await;
        assert_eq!(
            got,
            vec![
                Ok(vec![b"PING".to_vec()]),
                Ok(vec![b"PING".to_vec()]),
                Ok(vec![b"ping".to_vec(), b"x".to_vec()]),
            ]
        );
        assert_eq!(answer(&[b"PiNg".to_vec()]), "+PONG\r\n");
        assert!(answer(&[b"ping".to_vec(), b"x".to_vec()]).starts_with("-ERR wrong number"));
        assert!(answer(&[b"FLUSHALL".to_vec()]).starts_with("-ERR unknown command 'FLUSHALL'"));
        assert!(requests(b"*99\r\n").await[0].is_err());
        assert!(requests(b"*1\r\n$99999\r\n").await[0].is_err());
        assert!(requests(b"*1\r\n+PING\r\n").await[0].is_err());
    }
}
