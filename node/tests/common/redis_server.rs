//! A real redis-server to compare gdc-node with, and raw RESP requests and replies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A redis-server this test started; killed when dropped.
pub struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    /// A redis-server on a free port, or `None` (and the skip said on stderr) where none is
    /// installed. CI installs redis-server and must never skip: there, where
    /// `GDC_REQUIRE_REDIS_SERVER` is set, a missing one fails the test. Elsewhere the test
    /// command (scripts/test) says the comparison was skipped, in its own output, since
    /// cargo test shows a passing test's stderr to no one.
    pub fn start(test: &str) -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("GDC_REQUIRE_REDIS_SERVER").is_none(),
                "redis-server is not installed, and GDC_REQUIRE_REDIS_SERVER says it must be"
            );
            eprintln!("SKIPPED {test}: redis-server is not installed");
            return None;
        }
        // A free port can be taken by another test's server between our probe and
        // redis-server's bind: that server exits, or we would talk to the other test's.
        // Only a server answering with its own process id is ours; else try another port.
        for _ in 0..10 {
            let port = super::free_port();
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let mut redis = Redis { child, port };
            if redis.answers_as_itself() {
                return Some(redis);
            }
        }
        panic!("redis-server did not start on any of 10 free ports");
    }

    /// Whether this server runs and answers on its port (not another's server).
    fn answers_as_itself(&mut self) -> bool {
        let pid = format!("process_id:{}\r\n", self.child.id());
        let (child, port) = (&mut self.child, self.port);
        super::wait_for("redis-server", Duration::from_secs(10), || {
            if child.try_wait().ok().flatten().is_some() {
                return Some(false);
            }
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
            // Another test's server on this port may close the connection as it exits:
            // then look again.
            Some(server_info(&mut s)?.contains(&pid))
        })
    }

    /// A connection, once the server accepts one.
    pub fn connect(&self) -> TcpStream {
        let s = super::wait_for("redis-server", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", self.port)).ok()
        });
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }
}

/// INFO server's text, or `None` when the connection fails on the way.
fn server_info(s: &mut TcpStream) -> Option<String> {
    use std::io::BufRead;
    s.write_all(&request(&["INFO", "server"])).ok()?;
    let mut reader = std::io::BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let n: usize = line.trim_end().strip_prefix('$')?.parse().ok()?;
    let mut body = vec![0; n + 2];
    reader.read_exact(&mut body).ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// Read exactly one RESP reply.
pub fn read_reply(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pending = 1usize; // replies still to read (arrays add their elements)
    while pending > 0 {
        let line = read_line(s);
        out.extend_from_slice(&line);
        pending -= 1;
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .ok()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        match line[0] {
            // Bulk strings, RESP3 verbatim strings and blob errors.
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                s.read_exact(&mut body).expect("bulk body");
                out.extend_from_slice(&body);
            }
            // Arrays, sets and pushes; maps and attributes hold pairs.
            b'*' | b'~' | b'>' if n > 0 => pending += n as usize,
            b'%' | b'|' if n > 0 => pending += 2 * n as usize,
            _ => {}
        }
    }
    out
}

fn read_line(s: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        s.read_exact(&mut b).expect("reply byte");
        line.push(b[0]);
    }
    line
}

/// A request of binary-safe arguments.
pub fn request<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut r = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        r.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        r.extend_from_slice(a);
        r.extend_from_slice(b"\r\n");
    }
    r
}

/// Send one request and read its reply.
pub fn call<A: AsRef<[u8]>>(s: &mut TcpStream, args: &[A]) -> Vec<u8> {
    s.write_all(&request(args)).expect("write request");
    read_reply(s)
}

/// The bulk strings of a reply: the one bulk, or a flat array's elements; none for nil.
pub fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < reply.len() {
        let kind = reply[at];
        let end = at
            + reply[at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("line");
        let n: i64 = std::str::from_utf8(&reply[at + 1..end])
            .expect("length")
            .parse()
            .expect("length");
        at = end + 2;
        if kind == b'$' && n >= 0 {
            out.push(reply[at..at + n as usize].to_vec());
            at += n as usize + 2;
        }
    }
    out
}

/// The values read back from `key` of type `kind`, in an order both servers agree on (sets
/// and hashes sorted).
pub fn contents(s: &mut TcpStream, kind: &str, key: &str) -> Vec<Vec<u8>> {
    match kind {
        "string" => bulks(&call(s, &["GET", key])),
        "list" => bulks(&call(s, &["LRANGE", key, "0", "-1"])),
        "zset" => bulks(&call(s, &["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        "set" => {
            let mut m = bulks(&call(s, &["SMEMBERS", key]));
            m.sort();
            m
        }
        "hash" => {
            let flat = bulks(&call(s, &["HGETALL", key]));
            let mut pairs: Vec<Vec<Vec<u8>>> = flat.chunks(2).map(<[_]>::to_vec).collect();
            pairs.sort();
            pairs.concat()
        }
        // Entries, groups, and the stream's numbers (not its node counts: a layout).
        "stream" => vec![
            call(s, &["XRANGE", key, "-", "+"]),
            call(s, &["XINFO", "GROUPS", key]),
            without_node_counts(&call(s, &["XINFO", "STREAM", key])),
        ],
        other => panic!("no reader for {other}"),
    }
}

/// An XINFO STREAM reply without `radix-tree-keys` and `radix-tree-nodes`, which count how
/// a server lays the entries out, not what the stream holds.
fn without_node_counts(reply: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = reply.split(|b| *b == b'\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines
            .get(i + 1)
            .is_some_and(|l| l.starts_with(b"radix-tree-"))
        {
            i += 3;
            continue;
        }
        out.extend_from_slice(lines[i]);
        if i + 1 < lines.len() {
            out.push(b'\n');
        }
        i += 1;
    }
    out
}

/// Bytes written in hexadecimal.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
