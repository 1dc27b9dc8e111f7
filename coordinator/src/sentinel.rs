//! The discovery port: a RESP listener in the manner of Redis Sentinel, so that Redis
//! client libraries can find a region's primary with the code they already have.
//!
//! Served: `PING`, `SENTINEL get-master-addr-by-name <name>`, `SENTINEL masters`,
//! `SENTINEL master <name>`, `SENTINEL replicas|slaves <name>`, `SENTINEL sentinels <name>`
//! (none: the coordinators are the sentinels). A master's name is its region, or
//! `instance/region` when regions of several instances share a name. Answers come from
//! this coordinator's applied topology (as a Sentinel's, they may lag a failover by a
//! moment; clients ask again on a failed write).

use crate::server::Coordinator;
use crate::topology::Topology;
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

/// At most this many connections at once (the port needs no token: it must not be able to
/// use up the process's descriptors, which Raft needs too)...
const CONNECTIONS_MAX: usize = 1024;
/// ...and one idle this long is closed.
const IDLE: std::time::Duration = std::time::Duration::from_secs(300);

/// Serve connections until the process ends.
pub async fn serve(listener: TcpListener, coordinator: Coordinator) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            continue;
        };
        let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
            debug!(%from, "sentinel connection refused: too many open");
            continue;
        };
        let coordinator = coordinator.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &coordinator).await {
                debug!(%from, error = %e, "sentinel connection closed");
            }
            drop(slot);
        });
    }
}

async fn connection(stream: TcpStream, coordinator: &Coordinator) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    loop {
        let Ok(request) = tokio::time::timeout(IDLE, read_request(&mut stream)).await else {
            return Ok(());
        };
        let args = match request? {
            Some(Ok(args)) => args,
            Some(Err(why)) => {
                // The stream is out of step after a malformed request: answer and close.
                let reply = format!("-ERR Protocol error: {why}\r\n");
                stream.get_mut().write_all(reply.as_bytes()).await?;
                return Ok(());
            }
            None => return Ok(()),
        };
        let reply = {
            let applied = coordinator.state.read().await;
            answer(&args, &applied.topology)
        };
        stream.get_mut().write_all(reply.as_bytes()).await?;
    }
}

fn answer(args: &[Vec<u8>], t: &Topology) -> String {
    let Some(cmd) = args.first() else {
        return String::new();
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(['\r', '\n'], " ");
    match cmd.to_ascii_lowercase().as_slice() {
        b"ping" if args.len() == 1 => "+PONG\r\n".into(),
        b"ping" => "-ERR wrong number of arguments for 'ping' command\r\n".into(),
        b"sentinel" if args.len() >= 2 => {
            let sub = text(&args[1]).to_ascii_lowercase();
            let name = args.get(2).map(|n| text(n));
            match (sub.as_str(), name.as_deref(), args.len()) {
                ("get-master-addr-by-name", Some(name), 3) => match master(t, name) {
                    Some(m) => match m.primary {
                        Some((host, port)) => array(&[bulk(&host), bulk(&port)]),
                        None => "*-1\r\n".into(),
                    },
                    None => "*-1\r\n".into(),
                },
                ("masters", None, 2) => {
                    let all: Vec<String> = masters(t)
                        .iter()
                        .filter(|m| m.primary.is_some())
                        .map(master_state)
                        .collect();
                    array(&all)
                }
                ("master", Some(name), 3) => match master(t, name) {
                    Some(m) if m.primary.is_some() => master_state(&m),
                    _ => "-ERR No such master with that name\r\n".into(),
                },
                ("replicas" | "slaves", Some(name), 3) => match master(t, name) {
                    Some(m) => {
                        let all: Vec<String> = m
                            .replicas
                            .iter()
                            .map(|(host, port)| {
                                let name = format!("{host}:{port}");
                                array(&[
                                    bulk("name"),
                                    bulk(&name),
                                    bulk("ip"),
                                    bulk(host),
                                    bulk("port"),
                                    bulk(port),
                                    bulk("flags"),
                                    bulk("slave"),
                                    bulk("master-link-status"),
                                    bulk("ok"),
                                ])
                            })
                            .collect();
                        array(&all)
                    }
                    None => "-ERR No such master with that name\r\n".into(),
                },
                ("sentinels", Some(name), 3) => match master(t, name) {
                    Some(_) => "*0\r\n".into(),
                    None => "-ERR No such master with that name\r\n".into(),
                },
                _ => format!(
                    "-ERR Unknown sentinel subcommand or wrong number of arguments for '{sub}'\r\n"
                ),
            }
        }
        _ => format!("-ERR unknown command '{}'\r\n", text(cmd)),
    }
}

/// A region as Sentinel shows it: a master (its primary) and replicas (its secondaries).
struct Master {
    /// The region, or `instance/region` if the region's name is not unique.
    name: String,
    /// Always `instance/region`.
    full: String,
    primary: Option<(String, String)>,
    replicas: Vec<(String, String)>,
}

/// Every region of every instance, named by region where that is unambiguous.
fn masters(t: &Topology) -> Vec<Master> {
    let mut count = std::collections::BTreeMap::<&str, usize>::new();
    for inst in t.instances.values() {
        for region in inst.children.keys() {
            *count.entry(region).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (instance, inst) in &t.instances {
        for (region, child) in &inst.children {
            let name = if count[region.as_str()] == 1 {
                region.clone()
            } else {
                format!("{instance}/{region}")
            };
            out.push(Master {
                name,
                full: format!("{instance}/{region}"),
                primary: child.primary.as_deref().and_then(host_port),
                replicas: child
                    .secondaries
                    .iter()
                    .filter_map(|s| host_port(s))
                    .collect(),
            });
        }
    }
    out
}

/// The master called `name` (its region, or `instance/region`).
fn master(t: &Topology, name: &str) -> Option<Master> {
    masters(t)
        .into_iter()
        .find(|m| m.name == name || m.full == name)
}

/// The fields Sentinel clients read from `SENTINEL masters` (redis-py checks `flags` and
/// `num-other-sentinels`).
fn master_state(m: &Master) -> String {
    let (host, port) = m.primary.clone().unwrap_or_default();
    array(&[
        bulk("name"),
        bulk(&m.name),
        bulk("ip"),
        bulk(&host),
        bulk("port"),
        bulk(&port),
        bulk("flags"),
        bulk("master"),
        bulk("num-slaves"),
        bulk(&m.replicas.len().to_string()),
        bulk("num-other-sentinels"),
        bulk("0"),
        bulk("quorum"),
        bulk("1"),
    ])
}

fn host_port(addr: &str) -> Option<(String, String)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.to_string()))
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn array(items: &[String]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        out.push_str(i);
    }
    out
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

    #[test]
    fn regions_are_named_alone_unless_two_instances_share_the_name() {
        let mut t = Topology::default();
        for json in [
            r#"{"op":"create-instance","name":"a"}"#,
            r#"{"op":"create-instance","name":"b"}"#,
            r#"{"op":"add-child","instance":"a","region":"eu"}"#,
            r#"{"op":"add-child","instance":"b","region":"eu"}"#,
            r#"{"op":"add-child","instance":"b","region":"us"}"#,
            r#"{"op":"register-node","instance":"b","region":"eu","addr":"10.0.0.1:6379","sync_addr":"x:1","server_id":1}"#,
        ] {
            t.apply(&serde_json::from_str(json).expect(json))
                .expect(json);
        }
        let names: Vec<String> = masters(&t).into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["a/eu", "b/eu", "us"]);
        let ask = |name: &str| {
            answer(
                &[
                    b"SENTINEL".to_vec(),
                    b"get-master-addr-by-name".to_vec(),
                    name.as_bytes().to_vec(),
                ],
                &t,
            )
        };
        assert_eq!(ask("b/eu"), "*2\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n");
        assert_eq!(ask("a/eu"), "*-1\r\n", "no node yet");
        assert_eq!(ask("eu"), "*-1\r\n", "ambiguous");
        assert_eq!(ask("us"), "*-1\r\n");
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
        let t = Topology::default();
        assert_eq!(answer(&[b"PiNg".to_vec()], &t), "+PONG\r\n");
        assert!(answer(&[b"ping".to_vec(), b"x".to_vec()], &t).starts_with("-ERR wrong number"));
        assert!(answer(&[b"FLUSHALL".to_vec()], &t).starts_with("-ERR unknown command 'FLUSHALL'"));
        assert!(requests(b"*99\r\n").await[0].is_err());
        assert!(requests(b"*1\r\n$99999\r\n").await[0].is_err());
        assert!(requests(b"*1\r\n+PING\r\n").await[0].is_err());
    }
}
