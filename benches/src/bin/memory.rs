//! Memory per key: 1M string keys with 16-byte values written from one region, 1M counter
//! keys (one INCR each), a 100k-member set, a hash of 100k fields (one HSET each), a hash of
//! 100k counter fields (one HINCRBY each) and a list of 100k elements (one RPUSH each), in
//! gdc's keyspace against a plain `HashMap<Vec<u8>, Vec<u8>>` / `HashSet<Vec<u8>>` /
//! `HashMap<Vec<u8>, i64>` / `VecDeque<Vec<u8>>` baseline, with the longest single insert of
//! each (a table that grows all at once stalls every client for that long). Prints a
//! Markdown table (see BENCHMARKS.md).
//!
//! Run: `cargo run --release -p gdc-benches --bin memory [keys] [members]`

use gdc_benches::alloc::{Counting, live_bytes, rss_bytes};
use gdc_crdt::ops::{self, SetTtl};
use gdc_crdt::{Blob, Dot, Effect, HlcClock, KeyState, Keyspace, OpId, ServerId, Tag};
use std::collections::{HashMap, HashSet, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: Counting = Counting;

const NOW_MS: u64 = 1_700_000_000_000;

fn key(i: u64) -> Vec<u8> {
    format!("key:{i:012}").into_bytes() // 16 bytes
}

fn val(i: u64) -> Vec<u8> {
    format!("value-{i:010}").into_bytes() // 16 bytes
}

/// Bytes per item measured by the counting allocator and by resident memory.
struct Cost {
    heap: f64,
    rss: f64,
    /// The longest single insert, in ms.
    worst_ms: f64,
}

/// Runs `insert(i)` for every `i < n` into what `make` makes, timing each insert.
fn measure<T>(n: u64, make: impl FnOnce() -> T, mut insert: impl FnMut(&mut T, u64)) -> (Cost, T) {
    let (h0, r0) = (live_bytes(), rss_bytes());
    let mut t = make();
    let mut worst = Duration::ZERO;
    for i in 0..n {
        let start = Instant::now();
        insert(&mut t, i);
        worst = worst.max(start.elapsed());
    }
    let t = black_box(t);
    let (h1, r1) = (live_bytes(), rss_bytes());
    let cost = Cost {
        heap: (h1 - h0) as f64 / n as f64,
        rss: r1.saturating_sub(r0) as f64 / n as f64,
        worst_ms: worst.as_secs_f64() * 1000.0,
    };
    (cost, t)
}

/// `keys` keys in gdc's keyspace, each written once with the effect `write` makes of its
/// state there and its index.
fn keys_gdc(keys: u64, mut write: impl FnMut(Option<&KeyState>, u64) -> Effect) -> Cost {
    let (cost, ks) = measure(keys, Keyspace::new, |ks, i| {
        let k = key(i);
        let e = write(ks.get(&k), i);
        ks.apply(&k, &e);
    });
    assert_eq!(ks.live_len(NOW_MS) as u64, keys);
    cost
}

/// `n` writes into one key in gdc's keyspace, each the effect `write` makes of the key's
/// state and the write's index; `len` reads what the key holds, `n` after them.
fn one_key_gdc(
    n: u64,
    mut write: impl FnMut(Option<&KeyState>, u64) -> Effect,
    len: impl Fn(&KeyState) -> Option<usize>,
) -> Cost {
    let (cost, ks) = measure(n, Keyspace::new, |ks, i| {
        let e = write(ks.get(b"k"), i);
        ks.apply(b"k", &e);
    });
    assert_eq!(ks.get(b"k").and_then(len), Some(n as usize));
    cost
}

/// The baseline of a counter: `n` names, each counted once in a `HashMap<Vec<u8>, i64>`.
fn counted_baseline(n: u64, name: impl Fn(u64) -> Vec<u8>) -> Cost {
    let (cost, m) = measure(n, HashMap::<Vec<u8>, i64>::new, |m, i| {
        *m.entry(name(i)).or_default() += 1;
    });
    assert_eq!(m.len() as u64, n);
    cost
}

/// One measurement, in a process of its own so that memory freed by another measurement
/// cannot be reused and hide a cost from the resident-memory figure.
fn run_one(what: &str, keys: u64, members: u64) -> Cost {
    let me = ServerId(1);
    let mut clock = HlcClock::default();
    let mut op = 0u64;
    let mut next_tag = |now: u64| {
        op += 1;
        Tag::new(Dot::new(me, OpId(op), 0), clock.tick(now))
    };
    let member = |i: u64| format!("member:{i:09}").into_bytes(); // 16 bytes
    match what {
        "strings-baseline" => {
            let (cost, m) = measure(keys, HashMap::<Vec<u8>, Vec<u8>>::new, |m, i| {
                m.insert(key(i), val(i));
            });
            assert_eq!(m.len() as u64, keys);
            cost
        }
        "strings-gdc" => keys_gdc(keys, |k, i| {
            let value = Blob::from(val(i));
            ops::set(k, NOW_MS, next_tag(NOW_MS), value, SetTtl::Clear)
        }),
        // A cache's usual key: a value and a deadline (one map holding both).
        "strings-ttl-baseline" => {
            let (cost, m) = measure(keys, HashMap::<Vec<u8>, (Vec<u8>, u64)>::new, |m, i| {
                m.insert(key(i), (val(i), NOW_MS + 3_600_000 + i));
            });
            assert_eq!(m.len() as u64, keys);
            cost
        }
        "strings-ttl-gdc" => keys_gdc(keys, |k, i| {
            let value = Blob::from(val(i));
            let ttl = SetTtl::At(NOW_MS + 3_600_000 + i);
            ops::set(k, NOW_MS, next_tag(NOW_MS), value, ttl)
        }),
        "counters-baseline" => counted_baseline(keys, key),
        "counters-gdc" => keys_gdc(keys, |k, _| {
            ops::incr_by(k, NOW_MS, next_tag(NOW_MS), 1)
                .expect("a counter")
                .0
        }),
        "hash-counters-baseline" => counted_baseline(members, member),
        "hash-fields-baseline" => {
            let (cost, m) = measure(members, HashMap::<Vec<u8>, Vec<u8>>::new, |m, i| {
                m.insert(member(i), val(i));
            });
            assert_eq!(m.len() as u64, members);
            cost
        }
        "hash-fields-gdc" => one_key_gdc(
            members,
            |k, i| {
                let pair = [(Blob::from(member(i)), Blob::from(val(i)))];
                ops::hset(k, NOW_MS, next_tag(NOW_MS), &pair)
                    .expect("a hash")
                    .0
            },
            |k| k.hash().map(|h| h.len()),
        ),
        "list-baseline" => {
            let (cost, l) = measure(members, VecDeque::<Vec<u8>>::new, |l, i| {
                l.push_back(val(i));
            });
            assert_eq!(l.len() as u64, members);
            cost
        }
        "list-gdc" => one_key_gdc(
            members,
            |k, i| {
                let value = [Blob::from(val(i))];
                let tag = next_tag(NOW_MS);
                ops::list_push(k, NOW_MS, tag, ops::End::Right, value)
                    .expect("a list")
                    .0
            },
            |k| k.list().map(|l| l.len()),
        ),
        "hash-counters-gdc" => one_key_gdc(
            members,
            |k, i| {
                let f = Blob::from(member(i));
                ops::hincr_by(k, NOW_MS, next_tag(NOW_MS), &f, 1)
                    .expect("a hash")
                    .0
            },
            |k| k.hash().map(|h| h.len()),
        ),
        "set-baseline" => {
            let (cost, s) = measure(members, HashSet::<Vec<u8>>::new, |s, i| {
                s.insert(member(i));
            });
            assert_eq!(s.len() as u64, members);
            cost
        }
        "set-gdc" => one_key_gdc(
            members,
            |k, i| {
                let m = Blob::from(member(i));
                ops::sadd(k, NOW_MS, next_tag(NOW_MS), &[m])
                    .expect("a set")
                    .0
            },
            |k| k.set().map(|s| s.len()),
        ),
        other => panic!("unknown measurement {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keys: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let members: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    if let Some(what) = args.get(2) {
        let c = run_one(what, keys, members);
        println!("{} {} {}", c.heap, c.rss, c.worst_ms);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let cost = |what: &str| {
        let out = std::process::Command::new(&exe)
            .args([keys.to_string(), members.to_string(), what.to_string()])
            .output()
            .expect("run a measurement");
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut f = text
            .split_whitespace()
            .map(|x| x.parse::<f64>().expect("a number"));
        Cost {
            heap: f.next().expect("heap"),
            rss: f.next().expect("rss"),
            worst_ms: f.next().expect("worst insert"),
        }
    };
    println!(
        "| what | baseline heap B | gdc heap B | gdc − baseline (heap) | baseline RSS B | gdc RSS B | baseline worst insert ms | gdc worst insert ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |what: String, b: &Cost, g: &Cost| {
        println!(
            "| {what} | {:.1} | {:.1} | {:+.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            b.heap,
            g.heap,
            g.heap - b.heap,
            b.rss,
            g.rss,
            b.worst_ms,
            g.worst_ms
        );
    };
    row(
        format!("per string key ({keys} keys, 16-byte key and value)"),
        &cost("strings-baseline"),
        &cost("strings-gdc"),
    );
    row(
        format!("per string key with a TTL ({keys} keys, 16-byte key and value, SET EX)"),
        &cost("strings-ttl-baseline"),
        &cost("strings-ttl-gdc"),
    );
    row(
        format!("per counter key ({keys} keys of 16 bytes, one INCR each)"),
        &cost("counters-baseline"),
        &cost("counters-gdc"),
    );
    row(
        format!("per set member ({members} members of 16 bytes, one SADD each)"),
        &cost("set-baseline"),
        &cost("set-gdc"),
    );
    row(
        format!("per hash field ({members} fields of 16 bytes, 16-byte values, one HSET each)"),
        &cost("hash-fields-baseline"),
        &cost("hash-fields-gdc"),
    );
    row(
        format!("per hash counter field ({members} fields of 16 bytes, one HINCRBY each)"),
        &cost("hash-counters-baseline"),
        &cost("hash-counters-gdc"),
    );
    row(
        format!("per list element ({members} elements of 16 bytes, one RPUSH each)"),
        &cost("list-baseline"),
        &cost("list-gdc"),
    );
    println!();
    println!(
        "layout: KeyState {} B (a plain string key: its value Blob {} B + metadata), Tag {} B",
        std::mem::size_of::<gdc_crdt::KeyState>(),
        std::mem::size_of::<Blob>(),
        std::mem::size_of::<Tag>()
    );
}
