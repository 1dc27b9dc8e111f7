//! Latency at a fixed rate: an open-loop load generator for one RESP server (gdc-node or
//! redis-server), printing the percentiles of its reply times.
//!
//! `conns` connections each send their share of `rate` requests per second on a fixed
//! schedule, whether or not replies have come (open loop: a stalled server is not given
//! time to recover by a client that waits, so its stalls show in the tail). A request's
//! latency is from when it was written to when its reply was read; each connection has a
//! writer thread and a reader thread, which pairs replies with requests in order.
//!
//! ```sh
//! cargo run --release -p gdc-benches --bin latency -- --port 6379 --command set \
//!     --rate 50000 --conns 4 --secs 10 --keys 1000000
//! ```
//!
//! Prints one line of `name value` pairs: sent, answered, rate (achieved, per second), and
//! p50_us, p99_us, p999_us, max_us.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    port: u16,
    command: String,
    rate: u64,
    conns: u64,
    secs: u64,
    keys: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 6379,
        command: "set".into(),
        rate: 50_000,
        conns: 4,
        secs: 10,
        keys: 1_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let num = |v: &str| {
            v.parse()
                .unwrap_or_else(|_| panic!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--port" => a.port = num(&v) as u16,
            "--command" => a.command = v,
            "--rate" => a.rate = num(&v),
            "--conns" => a.conns = num(&v),
            "--secs" => a.secs = num(&v),
            "--keys" => a.keys = num(&v),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(
        a.conns > 0 && a.rate >= a.conns,
        "--rate must be at least --conns"
    );
    a
}

/// Request `n` of the load, RESP-encoded: keys spread over `keys` by a multiplicative hash.
fn request(command: &str, n: u64, keys: u64) -> Vec<u8> {
    let k = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % keys;
    let arg = |s: &str| format!("${}\r\n{s}\r\n", s.len());
    let text = match command {
        "set" => format!(
            "*3\r\n$3\r\nSET\r\n{}{}",
            arg(&format!("key:{k:012}")),
            arg("xxx")
        ),
        "get" => format!("*2\r\n$3\r\nGET\r\n{}", arg(&format!("key:{k:012}"))),
        "incr" => format!("*2\r\n$4\r\nINCR\r\n{}", arg(&format!("counter:{k:012}"))),
        other => panic!("--command: set, get or incr, not {other}"),
    };
    text.into_bytes()
}

/// Read one reply (status, error, integer or bulk string): false at the end of the stream.
fn read_reply(r: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> bool {
    line.clear();
    if r.read_until(b'\n', line).unwrap_or(0) == 0 {
        return false;
    }
    if line.first() == Some(&b'$') {
        let len: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        if len >= 0 {
            let mut body = vec![0; len as usize + 2];
            if r.read_exact(&mut body).is_err() {
                return false;
            }
        }
    }
    true
}

fn main() {
    let a = parse_args();
    let per_conn = a.rate / a.conns;
    let interval = Duration::from_nanos(1_000_000_000 / per_conn);
    let total = per_conn * a.secs;
    let start = Instant::now() + Duration::from_millis(100);
    let mut threads = Vec::new();
    for c in 0..a.conns {
        let stream = TcpStream::connect(("127.0.0.1", a.port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut writer = stream.try_clone().expect("clone");
        let sent: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
        let in_flight = Arc::clone(&sent);
        let (command, keys) = (a.command.clone(), a.keys);
        let write = std::thread::spawn(move || {
            for i in 0..total {
                let due = start + interval * i as u32;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let req = request(&command, i * a.conns + c, keys);
                in_flight.lock().expect("lock").push_back(Instant::now());
                if writer.write_all(&req).is_err() {
                    break;
                }
            }
        });
        let read = std::thread::spawn(move || {
            let mut r = BufReader::with_capacity(64 * 1024, stream);
            let mut line = Vec::new();
            let mut micros: Vec<u32> = Vec::with_capacity(total as usize);
            while (micros.len() as u64) < total && read_reply(&mut r, &mut line) {
                let at = sent
                    .lock()
                    .expect("lock")
                    .pop_front()
                    .expect("a reply answers a request");
                micros.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            micros
        });
        threads.push((write, read));
    }
    let mut all: Vec<u32> = Vec::new();
    for (w, r) in threads {
        w.join().expect("writer");
        all.extend(r.join().expect("reader"));
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)));
    let show = |v: Option<&u32>| v.map_or("-".to_string(), |v| v.to_string());
    println!(
        "sent {} answered {} rate {:.0} p50_us {} p99_us {} p999_us {} max_us {}",
        total * a.conns,
        all.len(),
        all.len() as f64 / secs,
        show(pct(0.50)),
        show(pct(0.99)),
        show(pct(0.999)),
        show(all.last()),
    );
}
