//! The discovery port: a RESP listener in the manner of Redis Sentinel, so that Redis
//! client libraries can find a region's primary with the code they already have.
//!
//! Served: `PING`, `SENTINEL get-master-addr-by-name <name>`, `SENTINEL masters`,
//! `SENTINEL master <name>`, `SENTINEL replicas|slaves <name>`, `SENTINEL sentinels <name>`
//! (none: the coordinators are the sentinels), and `SUBSCRIBE`/`PSUBSCRIBE` for
//! `+switch-master`. A master's name is its region, or
//! `instance/region` when regions of several instances share a name. Answers come from
//! this coordinator's applied topology (as a Sentinel's, they may lag a failover by a
//! moment; clients ask again on a failed write).

use crate::store::StateMachine;
use crate::topology::Topology;
use std::collections::{BTreeMap, BTreeSet};
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
pub async fn serve(listener: TcpListener, state: StateMachine) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            continue;
        };
        let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
            debug!(%from, "sentinel connection refused: too many open");
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &state).await {
                debug!(%from, error = %e, "sentinel connection closed");
            }
            drop(slot);
        });
    }
}

/// TCP keepalive on discovery connections: a subscriber may send nothing for days, and one
/// that vanished without closing (a partition, a NAT dropping the flow) is found this way,
/// as Redis Sentinel finds it (its `tcp-keepalive` is 300 s).
const KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(std::time::Duration::from_secs(300))
    .with_interval(std::time::Duration::from_secs(30));

async fn connection(stream: TcpStream, state: &StateMachine) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&KEEPALIVE);
    let (read, mut write) = stream.into_split();
    // Requests are read on their own task, so that a subscribed connection can wait for a
    // request and for a change of topology at once without dropping a half-read request.
    let (tx, mut requests) = tokio::sync::mpsc::channel(4);
    // Its only task: dropped with the connection, it stops reading.
    let mut reading = tokio::task::JoinSet::new();
    reading.spawn(async move {
        let mut read = BufReader::new(read);
        loop {
            let request = read_request(&mut read).await;
            let more = matches!(request, Ok(Some(Ok(_))));
            if tx.send(request).await.is_err() || !more {
                return;
            }
        }
    });
    let mut changes = state.subscribe();
    let mut subs = Subscriptions::default();
    loop {
        // A subscriber waits for events as long as it likes.
        let idle = if subs.active() {
            std::time::Duration::MAX
        } else {
            IDLE
        };
        let request = tokio::select! {
            r = tokio::time::timeout(idle, requests.recv()) => {
                let Ok(r) = r else { return Ok(()) };
                r
            }
            changed = changes.changed(), if subs.active() => {
                if changed.is_err() {
                    return Ok(());
                }
                let events = {
                    let applied = state.read().await;
                    subs.events(&applied.topology)
                };
                write.write_all(events.as_bytes()).await?;
                continue;
            }
        };
        let args = match request.transpose()?.flatten() {
            Some(Ok(args)) => args,
            Some(Err(why)) => {
                // The stream is out of step after a malformed request: answer and close.
                let reply = format!("-ERR Protocol error: {why}\r\n");
                write.write_all(reply.as_bytes()).await?;
                return Ok(());
            }
            None => return Ok(()),
        };
        let reply = {
            let applied = state.read().await;
            subs.request(&args, &applied.topology)
                .unwrap_or_else(|| answer(&args, &applied.topology))
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// The one event published, as Redis Sentinel publishes it.
const SWITCH_MASTER: &str = "+switch-master";

/// A connection's subscriptions, as clients that follow a failover by pub/sub make them:
/// `SUBSCRIBE +switch-master` (Jedis), `PSUBSCRIBE *` (Lettuce). A change of a region's
/// primary is published on `+switch-master` as `<name> <old ip> <old port> <new ip> <new
/// port>`, the moment this coordinator applies it.
#[derive(Debug, Default)]
struct Subscriptions {
    channels: BTreeSet<String>,
    patterns: BTreeSet<String>,
    /// Each master's primary when last looked at.
    primaries: BTreeMap<String, (String, String)>,
}

impl Subscriptions {
    fn active(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }

    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// The reply to a pub/sub request, or `None` for one [`answer`] takes (only PING is
    /// answered otherwise while subscribed).
    fn request(&mut self, args: &[Vec<u8>], t: &Topology) -> Option<String> {
        let cmd = String::from_utf8_lossy(args.first()?).to_ascii_lowercase();
        let names: Vec<String> = args[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let was_active = self.active();
        let reply = match cmd.as_str() {
            "subscribe" | "psubscribe" if names.is_empty() => {
                format!("-ERR wrong number of arguments for '{cmd}' command\r\n")
            }
            "subscribe" | "psubscribe" => {
                let mut out = String::new();
                for name in names {
                    if cmd == "subscribe" {
                        self.channels.insert(name.clone());
                    } else {
                        self.patterns.insert(name.clone());
                    }
                    out.push_str(&self.confirm(&cmd, Some(&name)));
                }
                out
            }
            "unsubscribe" | "punsubscribe" => {
                let channels = cmd == "unsubscribe";
                let set = if channels {
                    &self.channels
                } else {
                    &self.patterns
                };
                let names = if names.is_empty() {
                    set.iter().cloned().collect()
                } else {
                    names
                };
                if names.is_empty() {
                    self.confirm(&cmd, None)
                } else {
                    // Each confirmed with the count left after it, as Redis does.
                    let mut out = String::new();
                    for n in &names {
                        if channels {
                            self.channels.remove(n);
                        } else {
                            self.patterns.remove(n);
                        }
                        out.push_str(&self.confirm(&cmd, Some(n)));
                    }
                    out
                }
            }
            "ping" if self.active() => "*2\r\n$4\r\npong\r\n$0\r\n\r\n".into(),
            _ if self.active() => format!(
                "-ERR Can't execute '{cmd}': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING are allowed in this context\r\n"
            ),
            _ => return None,
        };
        if !was_active && self.active() {
            // From now on, changes are told against the topology as it is now.
            self.primaries = primaries(t);
        }
        Some(reply)
    }

    /// `[subscribe, name, count]` and the like.
    fn confirm(&self, kind: &str, name: Option<&str>) -> String {
        let name = name.map_or_else(|| "$-1\r\n".to_string(), bulk);
        format!("*3\r\n{}{name}:{}\r\n", bulk(kind), self.count())
    }

    /// The messages for every primary that changed since the last look.
    fn events(&mut self, t: &Topology) -> String {
        let now = primaries(t);
        let mut out = String::new();
        for (name, (host, port)) in &now {
            let Some((old_host, old_port)) = self.primaries.get(name) else {
                continue;
            };
            if (old_host, old_port) == (host, port) {
                continue;
            }
            let payload = format!("{name} {old_host} {old_port} {host} {port}");
            if self.channels.contains(SWITCH_MASTER) {
                out.push_str(&array(&[
                    bulk("message"),
                    bulk(SWITCH_MASTER),
                    bulk(&payload),
                ]));
            }
            for p in self
                .patterns
                .iter()
                .filter(|p| glob(p.as_bytes(), SWITCH_MASTER.as_bytes()))
            {
                out.push_str(&array(&[
                    bulk("pmessage"),
                    bulk(p),
                    bulk(SWITCH_MASTER),
                    bulk(&payload),
                ]));
            }
        }
        self.primaries = now;
        out
    }
}

/// Every master's primary, by name.
fn primaries(t: &Topology) -> BTreeMap<String, (String, String)> {
    masters(t)
        .into_iter()
        .filter_map(|m| Some((m.name, m.primary?)))
        .collect()
}

/// Redis's glob patterns, as far as subscribers use them: `*`, `?`, and literal bytes
/// (`\\` escapes one).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((b'\\', [c, rest @ ..])) => text.first() == Some(c) && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
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

    #[test]
    fn subscribers_are_told_of_a_new_primary_on_switch_master() {
        let mut t = Topology::default();
        let apply = |t: &mut Topology, json: &str| {
            t.apply(&serde_json::from_str(json).expect(json))
                .expect(json);
        };
        for json in [
            r#"{"op":"create-instance","name":"shop"}"#,
            r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"10.0.0.1:6379","sync_addr":"x:1","server_id":1}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"10.0.0.2:6380","sync_addr":"x:2","server_id":2}"#,
        ] {
            apply(&mut t, json);
        }
        let req = |words: &[&str]| -> Vec<Vec<u8>> {
            words.iter().map(|w| w.as_bytes().to_vec()).collect()
        };
        let mut subs = Subscriptions::default();
        assert_eq!(subs.request(&req(&["PING"]), &t), None, "not subscribed");
        assert_eq!(
            subs.request(&req(&["SUBSCRIBE", "+switch-master"]), &t),
            Some("*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n".into())
        );
        assert_eq!(
            subs.request(&req(&["psubscribe", "+switch-*", "+sdown"]), &t),
            Some(
                "*3\r\n$10\r\npsubscribe\r\n$9\r\n+switch-*\r\n:2\r\n*3\r\n$10\r\npsubscribe\r\n$6\r\n+sdown\r\n:3\r\n"
                    .into()
            )
        );
        assert_eq!(
            subs.request(&req(&["PING"]), &t),
            Some("*2\r\n$4\r\npong\r\n$0\r\n\r\n".into())
        );
        assert!(
            subs.request(&req(&["SENTINEL", "masters"]), &t)
                .expect("refused")
                .starts_with("-ERR Can't execute 'sentinel'")
        );
        assert_eq!(subs.events(&t), "", "nothing changed");

        apply(
            &mut t,
            r#"{"op":"promote","instance":"shop","region":"eu","node":"10.0.0.2:6380","epoch":1}"#,
        );
        let payload = "eu 10.0.0.1 6379 10.0.0.2 6380";
        assert_eq!(
            subs.events(&t),
            format!(
                "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n${}\r\n{payload}\r\n*4\r\n$8\r\npmessage\r\n$9\r\n+switch-*\r\n$14\r\n+switch-master\r\n${}\r\n{payload}\r\n",
                payload.len(),
                payload.len()
            )
        );
        assert_eq!(subs.events(&t), "", "told once");

        assert_eq!(
            subs.request(&req(&["UNSUBSCRIBE"]), &t),
            Some("*3\r\n$11\r\nunsubscribe\r\n$14\r\n+switch-master\r\n:2\r\n".into())
        );
        assert_eq!(
            subs.request(&req(&["PUNSUBSCRIBE"]), &t),
            Some("*3\r\n$12\r\npunsubscribe\r\n$6\r\n+sdown\r\n:1\r\n*3\r\n$12\r\npunsubscribe\r\n$9\r\n+switch-*\r\n:0\r\n".into())
        );
        assert!(!subs.active());
        assert_eq!(
            subs.request(&req(&["PING"]), &t),
            None,
            "answered as before"
        );
    }

    #[test]
    fn patterns_match_as_redis_globs_do() {
        for (p, yes) in [
            ("*", true),
            ("+switch-*", true),
            ("+sw?tch-master", true),
            ("\\+switch-master", true),
            ("+sdown", false),
            ("*-slave", false),
            ("", false),
        ] {
            assert_eq!(glob(p.as_bytes(), b"+switch-master"), yes, "{p}");
        }
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
