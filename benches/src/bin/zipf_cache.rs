//! Hit rate of a read-through cache under a Zipf-distributed read load, against a server
//! that evicts (gdc-node or redis-server with `maxmemory` and `maxmemory-policy` set).
//!
//! Each request draws a key's rank from Zipf(s) over `keys` keys (rank r has probability
//! proportional to 1 / r^s) and GETs it; a miss is followed by a SET of that key with a
//! value of `value-size` bytes, as a read-through cache client does. A warm-up phase fills
//! the cache, then a measured phase counts hits. The draws come from a fixed seed, so two
//! servers see the same sequence of keys.
//!
//! Requests go out in pipelined batches of `batch` GETs, then one pipeline of SETs for the
//! batch's misses. A key that misses twice in one batch is SET once, and its later misses
//! in the batch are counted as hits: a client sending one request at a time would have
//! found the value its first miss wrote.
//!
//! For reference, the same sequence is replayed through an exact LRU cache holding as many
//! keys as the server held at the end (its DBSIZE): how far the server's eviction is from
//! true LRU at its own capacity.
//!
//! ```sh
//! cargo run --release -p gdc-benches --bin zipf_cache -- --port 6379
//! cargo run --release -p gdc-benches --bin zipf_cache -- --port 6379 --keys 1000000 \
//!     --s 0.99 --warmup 500000 --requests 1000000 --value-size 100 --batch 16
//! ```
//!
//! Prints one line of `name value` pairs: hits, requests, hit_rate (percent), dbsize,
//! lru_hit_rate (percent, exact LRU at dbsize keys), secs (of the measured phase).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

struct Args {
    port: u16,
    keys: u32,
    s: f64,
    warmup: u64,
    requests: u64,
    value_size: usize,
    batch: usize,
    seed: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 6379,
        keys: 1_000_000,
        s: 0.99,
        warmup: 500_000,
        requests: 1_000_000,
        value_size: 100,
        batch: 16,
        seed: 18,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => a.port = num(&flag, &v),
            "--keys" => a.keys = num(&flag, &v),
            "--s" => a.s = num(&flag, &v),
            "--warmup" => a.warmup = num(&flag, &v),
            "--requests" => a.requests = num(&flag, &v),
            "--value-size" => a.value_size = num(&flag, &v),
            "--batch" => a.batch = num(&flag, &v),
            "--seed" => a.seed = num(&flag, &v),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(
        a.keys > 0 && a.batch > 0,
        "--keys and --batch must be positive"
    );
    a
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| panic!("{flag}: bad value {v:?}"))
}

/// splitmix64: a small, fast generator, enough for drawing ranks.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Zipf(s) over ranks 0..n (rank 0 the most frequent), by inversion of its tabulated CDF.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: u32, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut sum = 0.0;
        for r in 1..=n {
            sum += 1.0 / f64::from(r).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        let i = self.cdf.partition_point(|&c| c <= u);
        i.min(self.cdf.len() - 1) as u32
    }
}

/// The form redis-benchmark writes (`key:000000012345`, 16 bytes): the form eviction.sh
/// measures a server's limit with. (gdc keeps keys of up to 16 bytes inline; a longer key
/// costs it a heap allocation more.)
fn key(rank: u32) -> String {
    format!("key:{rank:012}")
}

/// Sends a request for each rank, in order; returns the hits.
fn run(
    c: &mut redis::Connection,
    ranks: &[u32],
    batch: usize,
    value: &[u8],
) -> redis::RedisResult<u64> {
    let mut hits = 0u64;
    for chunk in ranks.chunks(batch) {
        let mut gets = redis::pipe();
        for &r in chunk {
            gets.cmd("GET").arg(key(r));
        }
        let replies: Vec<redis::Value> = gets.query(c)?;
        let mut sets = redis::pipe();
        let mut written = HashSet::new();
        for (&r, reply) in chunk.iter().zip(&replies) {
            if !matches!(reply, redis::Value::Nil) || written.contains(&r) {
                hits += 1;
            } else {
                written.insert(r);
                sets.cmd("SET").arg(key(r)).arg(value).ignore();
            }
        }
        if !written.is_empty() {
            let () = sets.query(c)?;
        }
    }
    Ok(hits)
}

/// Hits in `ranks[from..]` of an exact LRU cache of `capacity` keys fed all of `ranks`.
fn lru_hits(ranks: &[u32], from: usize, capacity: usize) -> u64 {
    let mut last_use: HashMap<u32, u64> = HashMap::with_capacity(capacity + 1);
    let mut by_age: BTreeMap<u64, u32> = BTreeMap::new();
    let mut hits = 0u64;
    for (t, &r) in ranks.iter().enumerate() {
        let t = t as u64;
        match last_use.insert(r, t) {
            Some(old) => {
                by_age.remove(&old);
                if t as usize >= from {
                    hits += 1;
                }
            }
            None if last_use.len() > capacity => {
                if let Some((_, victim)) = by_age.pop_first() {
                    last_use.remove(&victim);
                }
            }
            None => {}
        }
        by_age.insert(t, r);
    }
    hits
}

fn main() -> redis::RedisResult<()> {
    let a = parse_args();
    let zipf = Zipf::new(a.keys, a.s);
    let mut rng = Rng(a.seed);
    let total = (a.warmup + a.requests) as usize;
    let ranks: Vec<u32> = (0..total).map(|_| zipf.sample(&mut rng)).collect();
    let (warmup, measured) = ranks.split_at(a.warmup as usize);
    let value = vec![b'x'; a.value_size];

    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", a.port))?.get_connection()?;
    run(&mut c, warmup, a.batch, &value)?;
    let start = Instant::now();
    let hits = run(&mut c, measured, a.batch, &value)?;
    let secs = start.elapsed().as_secs_f64();
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut c)?;

    let lru = lru_hits(&ranks, warmup.len(), dbsize.max(1));
    let pct = |h: u64| 100.0 * h as f64 / a.requests.max(1) as f64;
    println!(
        "hits {hits} requests {} hit_rate {:.2} dbsize {dbsize} lru_hit_rate {:.2} secs {secs:.1}",
        a.requests,
        pct(hits),
        pct(lru)
    );
    Ok(())
}
