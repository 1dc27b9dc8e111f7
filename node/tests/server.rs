//! The RESP server over real sockets: replies byte for byte as Redis sends them, pipelining,
//! inline commands, RESP3, authentication, and malformed input that never disturbs other
//! clients.

mod common;

use common::{TestNode, exchange, exchange_until};
use redis::{Commands, Value};
use std::time::Duration;

#[test]
fn string_commands_answer_like_redis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let _: () = c.set("k", "v").expect("set");
    assert_eq!(c.get::<_, String>("k").expect("get"), "v");
    assert_eq!(c.incr::<_, _, i64>("n", 5).expect("incrby"), 5);
    assert_eq!(c.decr::<_, _, i64>("n", 7).expect("decrby"), -2);
    assert_eq!(
        redis::cmd("INCRBYFLOAT")
            .arg("f")
            .arg("10.5")
            .query::<String>(&mut c)
            .expect("incrbyfloat"),
        "10.5"
    );
    assert_eq!(c.append::<_, _, i64>("k", "w").expect("append"), 2);
    assert_eq!(c.strlen::<_, i64>("k").expect("strlen"), 2);
    let mget: Vec<Option<String>> = c.mget(&["k", "missing"]).expect("mget");
    assert_eq!(mget, vec![Some("vw".to_string()), None]);
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("x")
        .arg("NX")
        .query(&mut c)
        .expect("set nx");
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("x")
        .arg("XX")
        .arg("GET")
        .query(&mut c)
        .expect("set xx get");
    assert_eq!(r.as_deref(), Some("vw"));
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("1")
        .arg("EX")
        .arg("100")
        .query(&mut c)
        .expect("set ex");
    assert_eq!(c.ttl::<_, i64>("t").expect("ttl"), 100);
    assert_eq!(c.persist::<_, i64>("t").expect("persist"), 1);
    assert_eq!(c.ttl::<_, i64>("t").expect("ttl"), -1);
    assert_eq!(c.ttl::<_, i64>("missing").expect("ttl"), -2);
    assert_eq!(c.del::<_, i64>(&["k", "t", "missing"]).expect("del"), 2);
    assert_eq!(c.exists::<_, i64>("k").expect("exists"), 0);
}

/// DBSIZE, INFO's keyspace line and RANDOMKEY see what a reader sees: the keys with an
/// expiry are counted with their mean time to live, and an expired key is neither counted
/// nor drawn.
#[test]
fn dbsize_info_and_randomkey_see_what_a_reader_sees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let keyspace = |c: &mut redis::Connection| -> (u64, u64, u64) {
        let info: String = redis::cmd("INFO").arg("keyspace").query(c).expect("info");
        let line = info
            .lines()
            .find_map(|l| l.strip_prefix("db0:"))
            .unwrap_or_else(|| panic!("no db0 in {info:?}"));
        let field = |name: &str| -> u64 {
            line.split(',')
                .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        };
        (field("keys"), field("expires"), field("avg_ttl"))
    };
    let _: () = c.set("plain", "v").expect("set");
    let _: () = c.pset_ex("soon", "v", 200).expect("psetex");
    let _: () = c.set_ex("later", "v", 1000).expect("setex");
    let _: () = c.hset("h", "f", "v").expect("hset");
    let _: () = c.set("gone", "v").expect("set");
    assert_eq!(c.del::<_, i64>("gone").expect("del"), 1);
    assert_eq!(
        redis::cmd("DBSIZE").query::<u64>(&mut c).expect("dbsize"),
        4
    );
    let (keys, expires, avg_ttl) = keyspace(&mut c);
    assert_eq!((keys, expires), (4, 2));
    // (200 + 1,000,000) / 2 ms, less what has passed since.
    assert!((490_000..=500_100).contains(&avg_ttl), "{avg_ttl}");
    common::wait_for("soon expires", Duration::from_secs(10), || {
        (c.pttl::<_, i64>("soon").expect("pttl") == -2).then_some(())
    });
    assert_eq!(
        redis::cmd("DBSIZE").query::<u64>(&mut c).expect("dbsize"),
        3
    );
    let (keys, expires, avg_ttl) = keyspace(&mut c);
    assert_eq!((keys, expires), (3, 1));
    assert!((990_000..=1_000_000).contains(&avg_ttl), "{avg_ttl}");
    let mut drawn = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let key: String = redis::cmd("RANDOMKEY").query(&mut c).expect("randomkey");
        drawn.insert(key);
    }
    let seen: Vec<&str> = drawn.iter().map(String::as_str).collect();
    assert_eq!(seen, ["h", "later", "plain"]);
}

#[test]
fn errors_are_redis_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut s = node.raw();
    let cases: &[(&[u8], &[u8])] = &[
        (b"*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\nm\r\n", b":1\r\n"),
        (
            b"*2\r\n$3\r\nGET\r\n$1\r\ns\r\n",
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            b"*2\r\n$4\r\nINCR\r\n$1\r\ns\r\n",
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$3\r\nabc\r\n", b"+OK\r\n"),
        (
            b"*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            b"*3\r\n$6\r\nINCRBY\r\n$1\r\ny\r\n$2\r\n1x\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            b"*1\r\n$3\r\nGET\r\n",
            b"-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (
            b"*2\r\n$6\r\nSELECT\r\n$2\r\n16\r\n",
            b"-ERR DB index is out of range\r\n",
        ),
        (
            b"*2\r\n$5\r\nNOSUC\r\n$1\r\na\r\n",
            b"-ERR unknown command 'NOSUC', with args beginning with: 'a' \r\n",
        ),
        (
            b"*4\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n$2\r\nEX\r\n",
            b"-ERR syntax error\r\n",
        ),
        (
            b"*5\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n$2\r\nEX\r\n$1\r\n0\r\n",
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            b"*4\r\n$4\r\nLSET\r\n$1\r\nl\r\n$1\r\n0\r\n$1\r\nv\r\n",
            b"-ERR no such key\r\n",
        ),
    ];
    for (req, want) in cases {
        let got = exchange(&mut s, req, want.len());
        assert_eq!(got, *want, "reply to {:?}", String::from_utf8_lossy(req));
    }
}

#[test]
fn collections_answer_like_redis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    assert_eq!(
        c.hset_multiple::<_, _, _, ()>("h", &[("a", "1"), ("b", "2")])
            .ok(),
        Some(())
    );
    assert_eq!(c.hincr::<_, _, _, i64>("h", "a", 4).expect("hincrby"), 5);
    let mut all: Vec<(String, String)> = c.hgetall("h").expect("hgetall");
    all.sort();
    assert_eq!(
        all,
        vec![("a".into(), "5".into()), ("b".into(), "2".into())]
    );
    assert_eq!(c.hdel::<_, _, i64>("h", &["a", "zz"]).expect("hdel"), 1);
    assert_eq!(c.sadd::<_, _, i64>("s", &["x", "y", "x"]).expect("sadd"), 2);
    let mut m: Vec<String> = c.smembers("s").expect("smembers");
    m.sort();
    assert_eq!(m, vec!["x", "y"]);
    assert_eq!(c.zadd::<_, _, _, i64>("z", "m", 2).expect("zadd"), 1);
    assert_eq!(c.zadd::<_, _, _, i64>("z", "n", 1).expect("zadd"), 1);
    let r: Vec<(String, f64)> = c.zrange_withscores("z", 0, -1).expect("zrange");
    assert_eq!(r, vec![("n".into(), 1.0), ("m".into(), 2.0)]);
    assert_eq!(c.zincr::<_, _, _, f64>("z", "n", 5).expect("zincrby"), 6.0);
    assert_eq!(c.rpush::<_, _, i64>("l", &["a", "b"]).expect("rpush"), 2);
    assert_eq!(c.lpush::<_, _, i64>("l", &["c", "d"]).expect("lpush"), 4);
    let l: Vec<String> = c.lrange("l", 0, -1).expect("lrange");
    assert_eq!(l, vec!["d", "c", "a", "b"]);
    assert_eq!(
        c.lpop::<_, Option<String>>("l", None)
            .expect("lpop")
            .as_deref(),
        Some("d")
    );
    let _: () = c.lset("l", -1, "z").expect("lset");
    assert_eq!(c.lindex::<_, String>("l", -1).expect("lindex"), "z");
    let t: String = redis::cmd("TYPE").arg("z").query(&mut c).expect("type");
    assert_eq!(t, "zset");
}

#[test]
fn pipelined_commands_all_get_replies_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut s = node.raw();
    let n = 10_000;
    let mut req = Vec::new();
    for _ in 0..n {
        req.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n");
    }
    let mut want = Vec::new();
    for i in 1..=n {
        want.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    assert_eq!(exchange(&mut s, &req, want.len()), want);
}

#[test]
fn inline_commands_and_resp3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut s = node.raw();
    assert_eq!(exchange(&mut s, b"PING\r\n", 7), b"+PONG\r\n");
    assert_eq!(exchange(&mut s, b"set \"a key\" 'v 1'\r\n", 5), b"+OK\r\n");
    assert_eq!(exchange(&mut s, b"get \"a key\"\n", 9), b"$3\r\nv 1\r\n");
    let hello = exchange_until(&mut s, b"HELLO 3\r\n", b"modules\r\n*0\r\n");
    assert_eq!(hello[0], b'%', "HELLO 3 answers a RESP3 map");
    assert_eq!(exchange(&mut s, b"GET missing\r\n", 3), b"_\r\n");
    // CLIENT REPLY: OFF answers nothing until ON; SKIP skips itself and the next reply.
    let want = b"+OK\r\n$1\r\n1\r\n";
    assert_eq!(
        exchange(
            &mut s,
            b"CLIENT REPLY OFF\r\nSET r 1\r\nGET r\r\nCLIENT REPLY ON\r\nGET r\r\n",
            want.len()
        ),
        want
    );
    let want = b"$1\r\n2\r\n";
    assert_eq!(
        exchange(
            &mut s,
            b"CLIENT REPLY SKIP\r\nSET r 2\r\nGET r\r\n",
            want.len()
        ),
        want
    );
    // RESP3: HRANDFIELD ... WITHVALUES answers pairs, as Redis 7.0 does.
    assert_eq!(exchange(&mut s, b"HSET h f v\r\n", 4), b":1\r\n");
    let pairs = b"*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    assert_eq!(
        exchange(&mut s, b"HRANDFIELD h -2 WITHVALUES\r\n", pairs.len()),
        pairs
    );
    // ZPOPMIN with a count answers pairs with double scores; without, a flat pair.
    assert_eq!(exchange(&mut s, b"ZADD z 1 a 2 b 3 c\r\n", 4), b":3\r\n");
    let want = b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n";
    assert_eq!(exchange(&mut s, b"ZPOPMIN z 2\r\n", want.len()), want);
    let want = b"*2\r\n$1\r\nc\r\n,3\r\n";
    assert_eq!(exchange(&mut s, b"ZPOPMAX z\r\n", want.len()), want);
}

#[test]
fn malformed_input_closes_only_that_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut good = node.client();
    let _: () = good.set("k", "v").expect("set");
    let bad: &[(&[u8], &[u8])] = &[
        (
            b"*2\r\n$3\r\nGET\r\n$-5\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$999999999999\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n:5\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"set \"unbalanced\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (req, want) in bad {
        let mut s = node.raw();
        let got = exchange(&mut s, req, usize::MAX);
        assert_eq!(got, *want, "reply to {:?}", String::from_utf8_lossy(req));
        // The server closed this connection (read_at_least returned at EOF)...
        // ...and everyone else is still served.
        assert_eq!(good.get::<_, String>("k").expect("get"), "v");
    }
    // A client that disconnects mid-frame leaves nothing behind.
    {
        let mut s = node.raw();
        std::io::Write::write_all(&mut s, b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$10\r\nabc")
            .expect("write");
    }
    let mut binary = node.raw();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::io::Write::write_all(&mut binary, &garbage).ok();
    assert_eq!(good.get::<_, String>("k").expect("get"), "v");
    assert_eq!(good.exists::<_, i64>("q").expect("exists"), 0);
}

#[test]
fn requirepass_requires_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), Some("secret"));
    let mut s = node.raw();
    let noauth: &[u8] = b"-NOAUTH Authentication required.\r\n";
    assert_eq!(exchange(&mut s, b"GET k\r\n", noauth.len()), noauth);
    // PING too, as Redis refuses it (no `no_auth` flag).
    assert_eq!(exchange(&mut s, b"PING\r\n", noauth.len()), noauth);
    let wrongpass: &[u8] = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(
        exchange(&mut s, b"AUTH wrong\r\n", wrongpass.len()),
        wrongpass
    );
    assert_eq!(exchange(&mut s, b"AUTH secret\r\n", 5), b"+OK\r\n");
    assert_eq!(exchange(&mut s, b"AUTH default secret\r\n", 5), b"+OK\r\n");
    assert_eq!(exchange(&mut s, b"GET k\r\n", 5), b"$-1\r\n");
}

#[test]
fn digest_changes_with_data_and_is_stable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let empty: String = redis::cmd("GDC.DIGEST").query(&mut c).expect("digest");
    let _: () = c.set("k", "v").expect("set");
    let one: String = redis::cmd("GDC.DIGEST").query(&mut c).expect("digest");
    assert_ne!(empty, one);
    assert_eq!(one.len(), 16);
    let again: String = redis::cmd("GDC.DIGEST").query(&mut c).expect("digest");
    assert_eq!(one, again);
    // Per bucket, and per key within a bucket: what `gdcctl verify` narrows down with.
    let buckets: Vec<String> = redis::cmd("GDC.DIGEST")
        .arg(0)
        .arg("BUCKETS")
        .query(&mut c)
        .expect("buckets");
    let bucket = gdc_crdt::keyspace::bucket_of(b"k");
    assert_eq!(buckets.len(), 256);
    let zero = format!("{:016x}", 0);
    let used: Vec<usize> = (0..256).filter(|&b| buckets[b] != zero).collect();
    assert_eq!(used, [bucket]);
    let keys: Vec<String> = redis::cmd("GDC.DIGEST")
        .arg(0)
        .arg("KEYS")
        .arg(bucket)
        .query(&mut c)
        .expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], "k");
    assert_eq!(
        keys[1], buckets[bucket],
        "one key: its digest is its bucket's"
    );
    let syntax = "syntax error: GDC.DIGEST [db [BUCKETS | KEYS bucket]]";
    for (args, error) in [
        (&["0", "KEYS", "256"][..], "bucket is out of range"),
        (&["0", "KEYS"][..], syntax),
        (&["0", "SOME"][..], syntax),
    ] {
        let err = redis::cmd("GDC.DIGEST")
            .arg(args)
            .query::<Value>(&mut c)
            .expect_err("refused");
        assert_eq!(
            (err.code(), err.detail()),
            (Some("ERR"), Some(error)),
            "{args:?}"
        );
    }
    let v: Value = redis::cmd("FLUSHALL").query(&mut c).expect("flushall");
    assert_eq!(v, Value::Okay);
    assert_eq!(c.exists::<_, i64>("k").expect("exists"), 0);
}

#[test]
fn multi_exec_runs_queued_commands_and_watch_aborts_on_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut s = node.raw();
    let script: &[(&[u8], &[u8])] = &[
        (b"MULTI\r\n", b"+OK\r\n"),
        (b"SET a 1\r\n", b"+QUEUED\r\n"),
        (b"INCR a\r\n", b"+QUEUED\r\n"),
        (b"GET a\r\n", b"+QUEUED\r\n"),
        (b"EXEC\r\n", b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"),
        (b"EXEC\r\n", b"-ERR EXEC without MULTI\r\n"),
        (b"MULTI\r\n", b"+OK\r\n"),
        (
            b"NOSUCH x\r\n",
            b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n",
        ),
        (
            b"EXEC\r\n",
            b"-EXECABORT Transaction discarded because of previous errors.\r\n",
        ),
        (b"MULTI\r\n", b"+OK\r\n"),
        (b"SET a 9\r\n", b"+QUEUED\r\n"),
        (b"DISCARD\r\n", b"+OK\r\n"),
        (b"GET a\r\n", b"$1\r\n2\r\n"),
        (b"WATCH a\r\n", b"+OK\r\n"),
    ];
    for (req, want) in script {
        assert_eq!(
            exchange(&mut s, req, want.len()),
            *want,
            "reply to {:?}",
            String::from_utf8_lossy(req)
        );
    }
    // Another client changes the watched key: the transaction does not run.
    let mut other = node.client();
    let _: () = other.set("a", "changed").expect("set");
    for (req, want) in [
        (&b"MULTI\r\n"[..], &b"+OK\r\n"[..]),
        (b"SET a mine\r\n", b"+QUEUED\r\n"),
        (b"EXEC\r\n", b"*-1\r\n"),
    ] {
        assert_eq!(exchange(&mut s, req, want.len()), want);
    }
    assert_eq!(other.get::<_, String>("a").expect("get"), "changed");
    // Unchanged watched keys let it run.
    for (req, want) in [
        (&b"WATCH a\r\n"[..], &b"+OK\r\n"[..]),
        (b"MULTI\r\n", b"+OK\r\n"),
        (b"SET a mine\r\n", b"+QUEUED\r\n"),
        (b"EXEC\r\n", b"*1\r\n+OK\r\n"),
    ] {
        assert_eq!(exchange(&mut s, req, want.len()), want);
    }
    assert_eq!(other.get::<_, String>("a").expect("get"), "mine");
}

/// WATCH sees a key expire as a change, as Redis does, but not the removal of a key that
/// had already expired when it was watched.
#[test]
fn watch_counts_an_expiry_but_not_a_stale_key_going() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut s = node.raw();
    let mut c = node.client();
    let gone = |c: &mut redis::Connection, key: &str| {
        common::wait_for(
            "the key to expire",
            std::time::Duration::from_secs(10),
            || {
                let n: i64 = redis::cmd("EXISTS").arg(key).query(c).ok()?;
                (n == 0).then_some(())
            },
        )
    };
    let transaction = |s: &mut std::net::TcpStream, want: &[u8]| {
        for (req, want) in [
            (&b"MULTI\r\n"[..], &b"+OK\r\n"[..]),
            (b"PING\r\n", b"+QUEUED\r\n"),
            (b"EXEC\r\n", want),
        ] {
            assert_eq!(exchange(s, req, want.len()), want);
        }
    };
    // Live when watched, expired before EXEC: the transaction does not run.
    let _: () = redis::cmd("SET")
        .arg(&["live", "v", "PX", "200"])
        .query(&mut c)
        .expect("SET");
    assert_eq!(exchange(&mut s, b"WATCH live\r\n", 5), b"+OK\r\n");
    gone(&mut c, "live");
    transaction(&mut s, b"*-1\r\n");
    // Already expired when watched, removed meanwhile: it runs.
    let _: () = redis::cmd("SET")
        .arg(&["stale", "v", "PX", "1"])
        .query(&mut c)
        .expect("SET");
    gone(&mut c, "stale");
    assert_eq!(exchange(&mut s, b"WATCH stale\r\n", 5), b"+OK\r\n");
    let _: i64 = redis::cmd("DEL").arg("stale").query(&mut c).expect("DEL");
    transaction(&mut s, b"*1\r\n+PONG\r\n");
}

/// CONFIG REWRITE writes what CONFIG SET changed into the file the node started from,
/// keeping its comments, and INFO names the file.
#[test]
fn config_rewrite_writes_the_settings_in_force_to_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("gdc.toml");
    std::fs::write(&file, "# ours\nslowlog-max-len = 10\n").expect("write");
    let node = TestNode::start_with(&dir.path().join("data"), |c| {
        c.apply_file(&file).expect("config file");
    });
    let mut c = node.client();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "slowlog-max-len", "99", "maxmemory", "3mb"])
        .query(&mut c)
        .expect("CONFIG SET");
    let _: () = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query(&mut c)
        .expect("REWRITE");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.starts_with("# ours\nslowlog-max-len = 99\n"), "{text}");
    assert!(text.contains("\nmaxmemory = 3145728\n"), "{text}");
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut c)
        .expect("INFO");
    let named = format!("config_file:{}\r\n", file.display());
    assert!(info.contains(&named), "{info}");
    // A file removed meanwhile is written anew, as Redis does.
    std::fs::remove_file(&file).expect("remove");
    let _: () = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query(&mut c)
        .expect("REWRITE");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("\nslowlog-max-len = 99\n"), "{text}");
}

/// CONFIG SET port listens on the new port from then on, clients already connected stay;
/// a port that cannot be bound fails the whole CONFIG SET and changes nothing.
#[test]
fn config_set_port_moves_the_listener_or_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let get = |c: &mut redis::Connection, name: &str| -> String {
        let kv: Vec<String> = redis::cmd("CONFIG")
            .arg(&["GET", name])
            .query(c)
            .expect("GET");
        kv[1].clone()
    };
    let (port, memory) = (get(&mut c, "port"), get(&mut c, "maxmemory"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port().to_string();
    let e = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "10000001", "port", &taken_port])
        .query::<()>(&mut c)
        .expect_err("a port in use");
    assert!(
        e.to_string()
            .contains("CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"),
        "{e}"
    );
    assert_eq!(
        (get(&mut c, "port"), get(&mut c, "maxmemory")),
        (port.clone(), memory)
    );
    assert!(
        std::net::TcpStream::connect(node.addr).is_ok(),
        "still listening"
    );

    let free = common::free_port().to_string();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "port", &free])
        .query(&mut c)
        .expect("SET port");
    let mut moved = redis::Client::open(format!("redis://127.0.0.1:{free}/"))
        .and_then(|cl| cl.get_connection())
        .expect("a client on the new port");
    let pong: String = redis::cmd("PING").query(&mut moved).expect("PING");
    assert_eq!(pong, "PONG");
    assert_eq!(get(&mut c, "port"), free, "the connected client stays");
    common::wait_for(
        "the old port to close",
        std::time::Duration::from_secs(10),
        || {
            std::net::TcpStream::connect(node.addr)
                .is_err()
                .then_some(())
        },
    );
}

/// An idle client's read buffer is given back (after 2 s, as Redis frees an idle client's
/// query buffer), and allocated again when a request comes.
#[test]
fn an_idle_clients_read_buffer_is_freed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut idle = node.raw();
    assert_eq!(
        exchange(&mut idle, b"CLIENT SETNAME idle\r\n", 5),
        b"+OK\r\n"
    );
    let mut c = node.client();
    let buffer_of_idle = |c: &mut redis::Connection| -> String {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(c).expect("LIST");
        let line = list
            .lines()
            .find(|l| l.contains(" name=idle "))
            .expect("listed");
        let rbs = line
            .split(' ')
            .find(|f| f.starts_with("rbs="))
            .expect("rbs");
        rbs.to_string()
    };
    assert_ne!(buffer_of_idle(&mut c), "rbs=0", "a buffer while in use");
    common::wait_for(
        "the idle buffer to be freed",
        std::time::Duration::from_secs(10),
        || (buffer_of_idle(&mut c) == "rbs=0").then_some(()),
    );
    assert_eq!(
        exchange(&mut idle, b"PING\r\n", 7),
        b"+PONG\r\n",
        "read into a new one"
    );
    assert_ne!(buffer_of_idle(&mut c), "rbs=0");
}

/// The number of keys the node holds in memory (tombstones included), from GDC.INFO.
fn keys_held(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("GDC.INFO").query(c).expect("gdc.info");
    info.lines()
        .find_map(|l| l.strip_prefix("keys_held:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("keys_held")
}

/// DEBUG is refused as Redis refuses it unless enabled; enabled, SET-ACTIVE-EXPIRE 0 keeps
/// expired keys in memory (hidden from reads) until it is set back to 1.
#[test]
fn debug_set_active_expire_stops_and_restarts_the_expiry_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let off = TestNode::start(dir.path(), None);
    let e = redis::cmd("DEBUG")
        .arg(&["SLEEP", "0"])
        .query::<()>(&mut off.client())
        .expect_err("off by default");
    assert!(e.to_string().contains("DEBUG command not allowed"), "{e}");
    drop(off);

    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start_with(dir.path(), |c| c.debug_command = true);
    let mut c = node.client();
    let _: () = redis::cmd("DEBUG")
        .arg(&["SLEEP", "0.01"])
        .query(&mut c)
        .expect("SLEEP");
    let _: () = redis::cmd("DEBUG")
        .arg(&["SET-ACTIVE-EXPIRE", "0"])
        .query(&mut c)
        .expect("SET-ACTIVE-EXPIRE");
    let held = keys_held(&mut c);
    let _: () = redis::cmd("SET")
        .arg(&["k", "v", "PX", "1"])
        .query(&mut c)
        .expect("SET");
    common::wait_for("k to expire", std::time::Duration::from_secs(10), || {
        let n: i64 = redis::cmd("EXISTS").arg("k").query(&mut c).ok()?;
        (n == 0).then_some(())
    });
    // Several expiry cycles (100 ms apart) pass: the key is still held.
    let _: () = redis::cmd("DEBUG")
        .arg(&["SLEEP", "0.5"])
        .query(&mut c)
        .expect("SLEEP");
    assert_eq!(
        keys_held(&mut c),
        held + 1,
        "kept while active expiry is off"
    );
    let _: () = redis::cmd("DEBUG")
        .arg(&["SET-ACTIVE-EXPIRE", "1"])
        .query(&mut c)
        .expect("SET-ACTIVE-EXPIRE");
    common::wait_for(
        "the expiry cycle to remove k",
        std::time::Duration::from_secs(10),
        || (keys_held(&mut c) == held).then_some(()),
    );
}

#[test]
fn expired_keys_are_removed_from_memory_by_the_active_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v")
            .arg("PX")
            .arg(50)
            .query(&mut c)
            .expect("set px");
    }
    let _: () = c.set("keep", "v").expect("set");
    assert_eq!(keys_held(&mut c), 51);
    common::wait_for(
        "expired keys to leave memory",
        std::time::Duration::from_secs(10),
        || (keys_held(&mut c) == 1).then_some(()),
    );
    assert_eq!(c.get::<_, String>("keep").expect("get"), "v");
    let _: i64 = c.del("keep").expect("del");
    assert_eq!(
        keys_held(&mut c),
        0,
        "a deleted key leaves no tombstone on a node without peers"
    );
}

#[test]
fn scan_family_visits_everything_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    for i in 0..250 {
        let _: () = c.set(format!("key:{i}"), i).expect("set");
    }
    let _: i64 = c
        .sadd(
            "myset",
            (0..100).map(|i| format!("m{i}")).collect::<Vec<_>>(),
        )
        .expect("sadd");
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("key:*")
            .arg("COUNT")
            .arg(20)
            .query(&mut c)
            .expect("scan");
        for k in keys {
            assert!(seen.insert(k), "SCAN returned a key twice");
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 250);
    let members: std::collections::BTreeSet<String> = c.sscan("myset").expect("sscan").collect();
    assert_eq!(members.len(), 100);
    let (_, only_sets): (u64, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("set")
        .arg("COUNT")
        .arg(1000)
        .query(&mut c)
        .expect("scan type");
    assert_eq!(only_sets, vec!["myset".to_string()]);
    let err = redis::cmd("SCAN")
        .arg("notanumber")
        .query::<Value>(&mut c)
        .expect_err("bad cursor");
    assert!(err.to_string().contains("invalid cursor"), "{err}");
}

/// Each SCAN-family call reads only its COUNT of positions, and a scan returns every key,
/// field or member present throughout while others come and go between its calls (Redis's
/// guarantee): a removal moves only a table's last entry, into the hole.
#[test]
fn scans_return_what_stays_while_others_come_and_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    const STAYING: usize = 1500;
    const COUNT: usize = 25;
    let staying: Vec<String> = (0..STAYING).map(|i| format!("stay:{i}")).collect();
    let going: Vec<String> = (0..STAYING).map(|i| format!("go:{i}")).collect();
    // Per scan: its command and key, how many reply items name one thing (a name and its
    // value or score: 2), and the requests that add and remove a thing.
    type Request = fn(&str) -> redis::Cmd;
    let scans: [(&str, Option<&str>, usize, Request, Request); 4] = [
        (
            "SCAN",
            None,
            1,
            |n| redis::cmd("SET").arg(n).arg(1).clone(),
            |n| redis::cmd("DEL").arg(n).clone(),
        ),
        (
            "HSCAN",
            Some("h"),
            2,
            |n| redis::cmd("HSET").arg("h").arg(n).arg(1).clone(),
            |n| redis::cmd("HDEL").arg("h").arg(n).clone(),
        ),
        (
            "SSCAN",
            Some("s"),
            1,
            |n| redis::cmd("SADD").arg("s").arg(n).clone(),
            |n| redis::cmd("SREM").arg("s").arg(n).clone(),
        ),
        (
            "ZSCAN",
            Some("z"),
            2,
            |n| redis::cmd("ZADD").arg("z").arg(1.5).arg(n).clone(),
            |n| redis::cmd("ZREM").arg("z").arg(n).clone(),
        ),
    ];
    for (command, key, stride, add, remove) in scans {
        let _: Value = redis::cmd("FLUSHALL").query(&mut c).expect("flushall");
        // The staying ones last: a removal moves the last entry, one of them, into its hole.
        let mut fill = redis::pipe();
        for n in going.iter().chain(&staying) {
            fill.add_command(add(n)).ignore();
        }
        let _: () = fill.query(&mut c).expect("fill");
        let mut seen = std::collections::BTreeSet::new();
        let (mut cursor, mut calls, mut removed, mut added) = (0u64, 0, 0, 0);
        loop {
            let mut scan = redis::cmd(command);
            if let Some(k) = key {
                scan.arg(k);
            }
            let (next, items): (u64, Vec<String>) = scan
                .arg(cursor)
                .arg("COUNT")
                .arg(COUNT)
                .query(&mut c)
                .expect("scan");
            assert!(
                items.len() <= COUNT * stride,
                "{command}: {} items",
                items.len()
            );
            seen.extend(items.into_iter().step_by(stride));
            calls += 1;
            // Between calls, some of the others go and new ones come.
            for _ in 0..5 {
                if removed < STAYING {
                    let _: Value = remove(&going[(removed * 7) % STAYING])
                        .query(&mut c)
                        .expect("remove");
                    removed += 1;
                }
            }
            for _ in 0..2 {
                let _: Value = add(&format!("new:{added}")).query(&mut c).expect("add");
                added += 1;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let missing: Vec<&String> = staying.iter().filter(|n| !seen.contains(*n)).collect();
        assert!(missing.is_empty(), "{command} missed {missing:?}");
        // One call a COUNT of what was held when it began, at most.
        assert!(calls <= 2 * STAYING / COUNT, "{command}: {calls} calls");
    }
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut sub = node.raw();
    let want: &[u8] = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    assert_eq!(exchange(&mut sub, b"SUBSCRIBE news\r\n", want.len()), want);
    let want: &[u8] = b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n";
    assert_eq!(exchange(&mut sub, b"PSUBSCRIBE n*\r\n", want.len()), want);
    let refused: &[u8] = b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n";
    assert_eq!(exchange(&mut sub, b"GET k\r\n", refused.len()), refused);
    let mut publisher = node.client();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hi")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(n, 2);
    let want: &[u8] = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    assert_eq!(common::read_at_least(&mut sub, want.len()), want);
    let chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query(&mut publisher)
        .expect("pubsub channels");
    assert_eq!(chans, vec!["news"]);
    let want: &[u8] = b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    assert_eq!(exchange(&mut sub, b"UNSUBSCRIBE\r\n", want.len()), want);
    let n: i64 = redis::cmd("PUBLISH")
        .arg("other")
        .arg("x")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(n, 0);
    drop(sub);
    common::wait_for(
        "the closed subscriber to be forgotten",
        std::time::Duration::from_secs(10),
        || {
            let n: i64 = redis::cmd("PUBLISH")
                .arg("news")
                .arg("x")
                .query(&mut publisher)
                .ok()?;
            (n == 0).then_some(())
        },
    );
}

#[test]
fn blpop_waits_for_a_push_or_its_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut waiter = node.raw();
    // Times out, then the pipelined command after it runs.
    assert_eq!(
        exchange(&mut waiter, b"BLPOP q 0.1\r\nPING\r\n", 12),
        b"*-1\r\n+PONG\r\n"
    );
    // Waits until another client pushes.
    std::io::Write::write_all(&mut waiter, b"BLPOP q other 10\r\n").expect("write");
    let mut pusher = node.client();
    common::wait_for(
        "the BLPOP to block",
        std::time::Duration::from_secs(10),
        || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut pusher).ok()?;
            info.contains("blocked_clients:1").then_some(())
        },
    );
    let _: i64 = pusher.rpush("q", "job").expect("rpush");
    let want: &[u8] = b"*2\r\n$1\r\nq\r\n$3\r\njob\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
    assert_eq!(pusher.llen::<_, i64>("q").expect("llen"), 0);
    // Inside EXEC nothing waits.
    let want: &[u8] = b"+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n";
    assert_eq!(
        exchange(&mut waiter, b"MULTI\r\nBLPOP q 10\r\nEXEC\r\n", want.len()),
        want
    );
    // BLMOVE moves as soon as there is something to move.
    let _: i64 = pusher.rpush("src", "a").expect("rpush");
    let want: &[u8] = b"$1\r\na\r\n";
    assert_eq!(
        exchange(&mut waiter, b"BLMOVE src dst LEFT RIGHT 1\r\n", want.len()),
        want
    );
    let dst: Vec<String> = pusher.lrange("dst", 0, -1).expect("lrange");
    assert_eq!(dst, vec!["a"]);
    // BLMPOP and BRPOPLPUSH wait for a push too.
    let blocked = |pusher: &mut redis::Connection| {
        common::wait_for(
            "the command to block",
            std::time::Duration::from_secs(10),
            || {
                let info: String = redis::cmd("INFO").arg("clients").query(pusher).ok()?;
                info.contains("blocked_clients:1").then_some(())
            },
        )
    };
    std::io::Write::write_all(&mut waiter, b"BLMPOP 10 2 m1 m2 RIGHT COUNT 2\r\n").expect("write");
    blocked(&mut pusher);
    let _: i64 = pusher.rpush("m2", &["x", "y", "z"]).expect("rpush");
    let want: &[u8] = b"*2\r\n$2\r\nm2\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
    std::io::Write::write_all(&mut waiter, b"BRPOPLPUSH r1 r2 10\r\n").expect("write");
    blocked(&mut pusher);
    let _: i64 = pusher.rpush("r1", "job").expect("rpush");
    let want: &[u8] = b"$3\r\njob\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
    let r2: Vec<String> = pusher.lrange("r2", 0, -1).expect("lrange");
    assert_eq!(r2, vec!["job"]);
    // A waiter's key turning into another type leaves it waiting (as in Redis), and writes
    // that wake it do not push its deadline back.
    std::io::Write::write_all(&mut waiter, b"BLPOP w 1\r\n").expect("write");
    blocked(&mut pusher);
    let started = std::time::Instant::now();
    let _: () = pusher.set("w", "a string").expect("set");
    for i in 0..8 {
        let _: () = pusher.set(format!("other{i}"), i).expect("set");
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    let want: &[u8] = b"*-1\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_millis(1900),
        "the 1 s timeout held across wake-ups: {waited:?}"
    );
    // So do BZPOPMIN and BZMPOP.
    std::io::Write::write_all(&mut waiter, b"BZPOPMIN z1 z2 10\r\n").expect("write");
    blocked(&mut pusher);
    let _: i64 = pusher.zadd("z2", "m", 5).expect("zadd");
    let want: &[u8] = b"*3\r\n$2\r\nz2\r\n$1\r\nm\r\n$1\r\n5\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
    std::io::Write::write_all(&mut waiter, b"BZMPOP 10 1 z3 MAX\r\n").expect("write");
    blocked(&mut pusher);
    let _: i64 = pusher.zadd("z3", "n", 6).expect("zadd");
    let want: &[u8] = b"*2\r\n$2\r\nz3\r\n*1\r\n*2\r\n$1\r\nn\r\n$1\r\n6\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
}

#[test]
fn info_counts_calls_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    for _ in 0..3 {
        let _: Option<String> = c.get("k").expect("get");
    }
    let _ = redis::cmd("INCRBY")
        .arg("k")
        .arg("x")
        .query::<Value>(&mut c);
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .expect("info");
    assert!(info.contains("cmdstat_get:calls=3,"), "{info}");
    assert!(info.contains("failed_calls=1"), "{info}");
    let latency: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut c)
        .expect("info");
    let line = latency
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_get:p50="))
        .unwrap_or_else(|| panic!("{latency}"));
    let p: Vec<f64> = line
        .split([',', '='])
        .skip(1)
        .step_by(2)
        .map(|v| v.parse().expect("number"))
        .collect();
    assert_eq!(p.len(), 3, "{line}");
    assert!(p[0] > 0.0 && p[0] <= p[1] && p[1] <= p[2], "{line}");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("resetstat");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .expect("info");
    assert!(!info.contains("cmdstat_get"), "{info}");
}

/// A node that stops ends every session, whatever it waits on (input, a blocking command, a
/// subscription, a transaction): none is left running for the drain's deadline to cut.
#[test]
fn a_stopping_node_ends_every_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut admin = node.client();
    let mut idle = node.raw();
    assert_eq!(exchange(&mut idle, b"PING\r\n", 7), b"+PONG\r\n");
    let mut subscriber = node.raw();
    let confirmed = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    assert_eq!(
        exchange(&mut subscriber, b"SUBSCRIBE news\r\n", confirmed.len()),
        confirmed
    );
    let mut queuing = node.raw();
    assert_eq!(exchange(&mut queuing, b"MULTI\r\n", 5), b"+OK\r\n");
    assert_eq!(exchange(&mut queuing, b"SET k v\r\n", 9), b"+QUEUED\r\n");
    let mut blocked = node.raw();
    std::io::Write::write_all(&mut blocked, b"BLPOP nothing 0\r\n").expect("write");
    common::wait_for("the BLPOP to block", Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut admin).ok()?;
        info.contains("blocked_clients:1").then_some(())
    });
    assert_eq!(node.stop(), 0, "sessions left running at the stop");
    for mut s in [idle, subscriber, queuing, blocked] {
        assert_eq!(common::read_at_least(&mut s, 1), b"");
    }
}

#[test]
fn client_list_kill_and_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut admin = node.client();
    let mut victim = node.raw();
    assert_eq!(
        exchange(&mut victim, b"CLIENT SETNAME victim\r\n", 5),
        b"+OK\r\n"
    );
    let id_line = exchange(&mut victim, b"CLIENT ID\r\n", 3);
    let victim_id: i64 = String::from_utf8_lossy(&id_line[1..id_line.len() - 2])
        .parse()
        .expect("an id");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut admin)
        .expect("client list");
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.contains(&format!("id={victim_id} ")) && list.contains("name=victim"),
        "{list}"
    );
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(victim_id)
        .query(&mut admin)
        .expect("client kill");
    assert_eq!(killed, 1);
    // The victim's connection is closed: reading gives end of stream.
    assert_eq!(common::read_at_least(&mut victim, 1), b"");
    common::wait_for(
        "the killed client to leave the list",
        std::time::Duration::from_secs(10),
        || {
            let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).ok()?;
            (list.lines().count() == 1).then_some(())
        },
    );
    let mut s = node.raw();
    let want: &[u8] = b"+OK\r\n+QUEUED\r\n+RESET\r\n-ERR EXEC without MULTI\r\n";
    assert_eq!(
        exchange(&mut s, b"MULTI\r\nPING\r\nRESET\r\nEXEC\r\n", want.len()),
        want
    );
    // No region subscribes to this node: WAIT 0 answers at once, WAIT 1 at its timeout.
    assert_eq!(exchange(&mut s, b"WAIT 0 0\r\n", 4), b":0\r\n");
    assert_eq!(exchange(&mut s, b"WAIT 1 50\r\n", 4), b":0\r\n");
}

#[test]
fn random_picks_have_redis_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let _: i64 = c.sadd("s", &["a", "b", "c"]).expect("sadd");
    let some: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("s")
        .arg(2)
        .query(&mut c)
        .expect("srandmember");
    assert_eq!(some.len(), 2);
    assert_ne!(some[0], some[1], "a positive count picks distinct members");
    let many: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("s")
        .arg(-7)
        .query(&mut c)
        .expect("srandmember");
    assert_eq!(many.len(), 7, "a negative count may repeat");
    let popped: Vec<String> = redis::cmd("SPOP")
        .arg("s")
        .arg(2)
        .query(&mut c)
        .expect("spop");
    assert_eq!(popped.len(), 2);
    assert_eq!(c.scard::<_, i64>("s").expect("scard"), 1);
    let _: i64 = c.hset("h", "f", "v").expect("hset");
    let fv: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(5)
        .arg("WITHVALUES")
        .query(&mut c)
        .expect("hrandfield");
    assert_eq!(fv, vec!["f", "v"]);
    let _: i64 = c.zadd("z", "m", 1).expect("zadd");
    let z: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("z")
        .arg(-3)
        .query(&mut c)
        .expect("zrandmember");
    assert_eq!(z, vec!["m", "m", "m"]);
    let err = redis::cmd("SPOP")
        .arg("s")
        .arg(-1)
        .query::<Value>(&mut c)
        .expect_err("a negative count");
    assert!(
        err.to_string()
            .contains("value is out of range, must be positive"),
        "{err}"
    );
}

#[test]
fn metrics_are_served_for_prometheus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let _: () = c.set("k", "v").expect("set");
    let _: Option<String> = c.get("k").expect("get");
    let mut http = std::net::TcpStream::connect(node.metrics_addr).expect("connect metrics");
    let body = String::from_utf8(exchange(
        &mut http,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        usize::MAX,
    ))
    .expect("utf8");
    assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
    assert!(
        body.contains("# TYPE gdc_command_calls_total counter"),
        "{body}"
    );
    assert!(
        body.contains("gdc_command_calls_total{cmd=\"get\"} 1\n"),
        "{body}"
    );
    assert!(body.contains("gdc_keys{db=\"0\"} 1\n"), "{body}");
    // The latency histogram: cumulative buckets ending in +Inf, which counts every call.
    assert!(
        body.contains("# TYPE gdc_command_duration_seconds histogram"),
        "{body}"
    );
    assert!(
        body.contains("gdc_command_duration_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 1\n"),
        "{body}"
    );
    assert!(
        body.contains("gdc_command_duration_seconds_count{cmd=\"get\"} 1\n"),
        "{body}"
    );
    let buckets: Vec<u64> = body
        .lines()
        .filter(|l| l.starts_with("gdc_command_duration_seconds_bucket{cmd=\"set\""))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .expect("count")
        })
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(buckets.last(), Some(&1), "{body}");
    assert!(body.contains("gdc_connected_clients 1\n"), "{body}");
    let mut http = std::net::TcpStream::connect(node.metrics_addr).expect("connect metrics");
    let other = String::from_utf8(exchange(
        &mut http,
        b"GET /other HTTP/1.1\r\n\r\n",
        usize::MAX,
    ))
    .expect("utf8");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
}

#[test]
fn client_limits_close_only_the_offender() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start_with(dir.path(), |c| {
        c.clients_max = 2;
        c.query_buffer_bytes_max = 64 * 1024;
    });
    let mut first = node.client();
    let _: () = first.set("k", "v").expect("set");
    // A request that would keep growing past the query buffer limit: the client is closed.
    let mut greedy = node.raw();
    let mut req = b"*2\r\n$3\r\nGET\r\n$10000000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'x', 200 * 1024));
    let _ = std::io::Write::write_all(&mut greedy, &req);
    assert_eq!(
        common::read_at_least(&mut greedy, usize::MAX),
        b"",
        "closed without a reply"
    );
    common::wait_for(
        "the greedy client to be gone",
        std::time::Duration::from_secs(10),
        || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut first).ok()?;
            info.contains("connected_clients:1\r").then_some(())
        },
    );
    // Two clients are the most: a third is told and closed.
    let _second = node.raw();
    common::wait_for(
        "the second client to count",
        std::time::Duration::from_secs(10),
        || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut first).ok()?;
            info.contains("connected_clients:2\r").then_some(())
        },
    );
    let mut third = node.raw();
    assert_eq!(
        common::read_at_least(&mut third, usize::MAX),
        b"-ERR max number of clients reached\r\n"
    );
    assert_eq!(first.get::<_, String>("k").expect("get"), "v");
}

/// The value of `field` in an INFO reply.
fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// INFO as Redis 7.0 prints it: the fields clients and exporters read, sections chosen as
/// Redis chooses them (several names, `all`, `default`, any case), and errors counted by
/// their first word, calls refused before they ran counted as rejected.
#[test]
fn info_has_redis_fields_sections_and_error_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let info = |c: &mut redis::Connection, args: &[&str]| -> String {
        let mut cmd = redis::cmd("INFO");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query(c).expect("INFO")
    };
    let server = info(&mut c, &["server"]);
    assert_eq!(info_field(&server, "arch_bits").as_deref(), Some("64"));
    assert_eq!(info_field(&server, "run_id").map(|r| r.len()), Some(40));
    assert_eq!(
        info_field(&server, "redis_mode").as_deref(),
        Some("standalone")
    );
    assert!(!server.contains("# Clients"), "{server}");
    let cpu_sentinel = info(&mut c, &["cpu", "sentinel"]);
    assert!(
        cpu_sentinel.starts_with("# CPU\r\nused_cpu_sys:"),
        "{cpu_sentinel}"
    );
    assert!(!cpu_sentinel.contains("used_memory"), "{cpu_sentinel}");
    let default = info(&mut c, &[]);
    for field in [
        "used_cpu_user",
        "used_memory_peak",
        "maxclients",
        "cluster_enabled",
    ] {
        assert!(info_field(&default, field).is_some(), "{field}: {default}");
    }
    assert!(
        !default.contains("rejected_calls"),
        "commandstats is not a default section"
    );
    let all = info(&mut c, &["cpu", "ALL"]);
    assert_eq!(all.matches("used_cpu_user_children").count(), 1, "{all}");
    assert!(all.contains("master_repl_offset") && all.contains("rejected_calls"));

    // Errors: an unknown command, a wrong type, and a call refused for its arity.
    let _: () = c.set("s", "v").expect("SET");
    assert!(redis::cmd("NOSUCH").query::<()>(&mut c).is_err());
    assert!(c.lpush::<_, _, i64>("s", "x").is_err());
    assert!(redis::cmd("GET").query::<()>(&mut c).is_err());
    let stats = info(&mut c, &["errorstats", "stats", "commandstats"]);
    assert_eq!(
        info_field(&stats, "errorstat_ERR").as_deref(),
        Some("count=2")
    );
    assert_eq!(
        info_field(&stats, "errorstat_WRONGTYPE").as_deref(),
        Some("count=1")
    );
    assert_eq!(
        info_field(&stats, "total_error_replies").as_deref(),
        Some("3")
    );
    let get = info_field(&stats, "cmdstat_get").expect("cmdstat_get");
    assert!(get.contains("rejected_calls=1,failed_calls=0"), "{get}");
    let lpush = info_field(&stats, "cmdstat_lpush").expect("cmdstat_lpush");
    assert!(lpush.contains("rejected_calls=0,failed_calls=1"), "{lpush}");
    let connections: u64 = info_field(&stats, "total_connections_received")
        .and_then(|n| n.parse().ok())
        .expect("connections");
    assert!(connections >= 1, "{stats}");
}

/// A blocked command runs again at every write that wakes it; it is still one call to
/// INFO commandstats (and to `gdc_command_calls_total`), as in Redis.
#[test]
fn a_blocked_command_counts_as_one_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut waiter = node.raw();
    let mut c = node.client();
    std::io::Write::write_all(&mut waiter, b"BLPOP q 10\r\n").expect("write");
    common::wait_for(
        "the BLPOP to block",
        std::time::Duration::from_secs(10),
        || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut c).ok()?;
            info.contains("blocked_clients:1").then_some(())
        },
    );
    for i in 0..5 {
        let _: () = c.set(format!("wake{i}"), i).expect("a write that wakes it");
    }
    let _: i64 = c.rpush("q", "job").expect("rpush");
    let want: &[u8] = b"*2\r\n$1\r\nq\r\n$3\r\njob\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .expect("info");
    let blpop = info_field(&stats, "cmdstat_blpop").expect("cmdstat_blpop");
    assert!(blpop.starts_with("calls=1,"), "{blpop}");
}

/// Clients blocked on one key are served in the order they came, one element each, as in
/// Redis (a pop wakes the next waiter only while the key is still there); one whose wait
/// the key's type does not serve passes the turn to the next; every blocked reader of a
/// stream gets its new entry.
#[test]
fn blocked_clients_are_served_in_the_order_they_came() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let mut block = |n: usize, request: &[u8]| {
        let mut waiter = node.raw();
        std::io::Write::write_all(&mut waiter, request).expect("write");
        common::wait_for("the client to block", Duration::from_secs(10), || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut c).ok()?;
            info.contains(&format!("blocked_clients:{n}\r"))
                .then_some(())
        });
        waiter
    };
    let mut waiters: Vec<_> = (1..=3).map(|n| block(n, b"BLPOP q 0\r\n")).collect();
    let mut c = node.client();
    let _: i64 = c.rpush("q", &["a", "b"]).expect("rpush");
    for (waiter, element) in waiters.iter_mut().zip(["a", "b"]) {
        let want = format!("*2\r\n$1\r\nq\r\n$1\r\n{element}\r\n");
        assert_eq!(common::read_at_least(waiter, want.len()), want.as_bytes());
    }
    let _: i64 = c.rpush("q", "c").expect("rpush");
    let want: &[u8] = b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n";
    assert_eq!(common::read_at_least(&mut waiters[2], want.len()), want);
    assert_eq!(c.exists::<_, i64>("q").expect("exists"), 0);
    // The first in line waits for a sorted set: a list pushed is the next one's.
    let mut zset = block(1, b"BZPOPMIN q 0\r\n");
    let mut list = block(2, b"BLPOP q 0\r\n");
    let _: i64 = c.rpush("q", "x").expect("rpush");
    let want: &[u8] = b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n";
    assert_eq!(common::read_at_least(&mut list, want.len()), want);
    let _: i64 = c.zadd("q", "m", 1).expect("zadd");
    let want: &[u8] = b"*3\r\n$1\r\nq\r\n$1\r\nm\r\n$1\r\n1\r\n";
    assert_eq!(common::read_at_least(&mut zset, want.len()), want);
    // Readers all get a stream's new entry.
    let mut readers: Vec<_> = (1..=3)
        .map(|n| block(n, b"XREAD BLOCK 0 STREAMS s $\r\n"))
        .collect();
    let _: String = redis::cmd("XADD")
        .arg("s")
        .arg("1-1")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .expect("xadd");
    let want: &[u8] =
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    for reader in &mut readers {
        assert_eq!(common::read_at_least(reader, want.len()), want);
    }
}

/// CLIENT UNBLOCK ends a client's wait in a blocking command: as a timeout by default or
/// with TIMEOUT, with an error with ERROR; 0 for a client that is not waiting.
#[test]
fn client_unblock_ends_a_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut waiter = node.raw();
    let id = exchange(&mut waiter, b"CLIENT ID\r\n", 3);
    let id = String::from_utf8_lossy(&id[1..id.len() - 2]).to_string();
    let mut c = node.client();
    let block = |waiter: &mut std::net::TcpStream, c: &mut redis::Connection| {
        std::io::Write::write_all(waiter, b"BLPOP l 0\r\n").expect("write");
        common::wait_for(
            "the BLPOP to block",
            std::time::Duration::from_secs(10),
            || {
                let info: String = redis::cmd("INFO").arg("clients").query(c).ok()?;
                info.contains("blocked_clients:1").then_some(())
            },
        );
    };
    for (reason, want) in [
        (None, &b"*-1\r\n"[..]),
        (Some("TIMEOUT"), &b"*-1\r\n"[..]),
        (
            Some("ERROR"),
            &b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"[..],
        ),
    ] {
        block(&mut waiter, &mut c);
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("UNBLOCK").arg(&id);
        if let Some(r) = reason {
            cmd.arg(r);
        }
        assert_eq!(cmd.query::<i64>(&mut c).expect("unblock"), 1, "{reason:?}");
        assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
    }
    let not_waiting: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .query(&mut c)
        .expect("unblock");
    assert_eq!(not_waiting, 0);
    assert!(
        redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg("asd")
            .query::<i64>(&mut c)
            .is_err()
    );
    // The client still waits and is served as before.
    block(&mut waiter, &mut c);
    let _: i64 = c.lpush("l", "foo").expect("lpush");
    let want: &[u8] = b"*2\r\n$1\r\nl\r\n$3\r\nfoo\r\n";
    assert_eq!(common::read_at_least(&mut waiter, want.len()), want);
}

/// CONFIG SET of a setting that can change at run time takes effect at once (a password
/// set now is required of new connections; a smaller proto-max-bulk-len refuses a longer
/// argument); one read only at start is refused with Redis's error and changes nothing.
#[test]
fn config_set_takes_effect_or_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("bind")
        .arg("0.0.0.0")
        .query::<()>(&mut c)
        .expect_err("immutable");
    assert!(e.to_string().contains("can't set immutable config"), "{e}");
    let bind: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("bind")
        .query(&mut c)
        .expect("get");
    assert_eq!(bind[1], "127.0.0.1");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1mb")
        .query(&mut c)
        .expect("set");
    // Refused on the length alone (the body is not sent: the node closes the connection
    // after the error, and a client still writing would see a reset).
    let mut raw = node.raw();
    let req = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", 2 * 1024 * 1024);
    let reply = exchange(&mut raw, req.as_bytes(), 5);
    assert!(
        reply.starts_with(b"-ERR"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret")
        .query(&mut c)
        .expect("set");
    let mut fresh = node.raw();
    let refused = exchange(&mut fresh, b"GET k\r\n", 6);
    assert!(
        refused.starts_with(b"-NOAUTH"),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    assert_eq!(exchange(&mut fresh, b"AUTH s3cret\r\n", 5), b"+OK\r\n");
}

/// SLOWLOG keeps the newest `slowlog-max-len` commands at least `slowlog-log-slower-than`
/// µs long, with their arguments (secrets redacted), client address and name; EXEC is not
/// logged, the commands it ran are. LATENCY HISTOGRAM counts each command and subcommand.
#[test]
fn slowlog_and_latency_histograms_record_what_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    type Entry = (i64, i64, i64, Vec<String>, String, String);
    let _: () = redis::cmd("CONFIG")
        .arg(&[
            "SET",
            "slowlog-log-slower-than",
            "0",
            "slowlog-max-len",
            "4",
        ])
        .query(&mut c)
        .expect("config set");
    let _: () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query(&mut c)
        .expect("reset");
    let _: () = redis::cmd("CLIENT")
        .arg(&["SETNAME", "me"])
        .query(&mut c)
        .expect("setname");
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&["k", "v"])
        .cmd("CONFIG")
        .arg(&["SET", "requirepass", "secret"])
        .query(&mut c)
        .expect("multi");
    let log: Vec<Entry> = redis::cmd("SLOWLOG").arg("GET").query(&mut c).expect("get");
    let args: Vec<Vec<String>> = log.iter().map(|e| e.3.clone()).collect();
    assert_eq!(
        args,
        [
            vec!["CONFIG", "SET", "requirepass", "(redacted)"],
            vec!["SET", "k", "v"],
            vec!["MULTI"],
            vec!["CLIENT", "SETNAME", "me"],
        ],
        "newest first, EXEC itself not logged"
    );
    assert!(log.windows(2).all(|w| w[0].0 == w[1].0 + 1), "ids: {log:?}");
    assert!(log.iter().all(|e| e.4.starts_with("127.0.0.1:")), "{log:?}");
    assert_eq!(log[0].5, "me");
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).expect("len");
    assert_eq!(len, 4, "slowlog-max-len");
    let err = redis::cmd("SLOWLOG")
        .arg(&["GET", "-2"])
        .query::<()>(&mut c)
        .expect_err("count < -1");
    assert!(
        err.to_string()
            .contains("count should be greater than or equal to -1")
    );
    let _: () = redis::cmd("AUTH")
        .arg("secret")
        .query(&mut c)
        .expect("auth");
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "slowlog-log-slower-than", "-1"])
        .query(&mut c)
        .expect("off");
    let before: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).expect("len");
    let _: () = c.set("k", "w").expect("set");
    let after: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).expect("len");
    assert_eq!(before, after, "a negative threshold logs nothing");
    let log: Vec<Entry> = redis::cmd("SLOWLOG").arg("GET").query(&mut c).expect("get");
    assert_eq!(log[1].3, ["AUTH", "(redacted)"]);

    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("resetstat");
    let _: () = c.set("a", "b").expect("set");
    let _: () = c.set("c", "d").expect("set");
    let _: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).expect("id");
    let histo: redis::Value = redis::cmd("LATENCY")
        .arg(&["HISTOGRAM", "set", "client", "nosuch"])
        .query(&mut c)
        .expect("histogram");
    let text = format!("{histo:?}");
    let names: Vec<String> = match histo {
        redis::Value::Array(items) | redis::Value::Set(items) => items
            .iter()
            .step_by(2)
            .map(|n| redis::from_redis_value(n).expect("name"))
            .collect(),
        redis::Value::Map(pairs) => pairs
            .iter()
            .map(|(n, _)| redis::from_redis_value(n).expect("name"))
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(names, ["client|id", "set"], "{text}");
    let err = redis::cmd("LATENCY")
        .arg(&["HELP", "x"])
        .query::<()>(&mut c)
        .expect_err("arity");
    assert!(
        err.to_string()
            .contains("wrong number of arguments for 'latency|help' command"),
        "{err}"
    );
}

/// MONITOR feeds every command any client runs, once it ran, quoted as Redis quotes it:
/// passwords redacted, administrative commands (CONFIG) not shown, a transaction's commands
/// before its EXEC. RESET ends it.
#[test]
fn monitor_shows_every_command_that_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    // Connected first: what the client library sends on connecting is not this test's.
    let mut c = node.client();
    let mut monitor = node.raw();
    assert_eq!(
        common::exchange(&mut monitor, b"MONITOR\r\n", 5),
        b"+OK\r\n"
    );
    let _: () = c.set("a b", "x\"y\n\u{1}").expect("set");
    let _: Option<String> = c.get("nosuch").expect("get");
    let _: Vec<(String, String)> = redis::cmd("CONFIG")
        .arg(&["GET", "maxmemory"])
        .query(&mut c)
        .expect("config get");
    assert!(redis::cmd("AUTH").arg("pw").query::<()>(&mut c).is_err());
    assert!(redis::cmd("NOSUCH").query::<()>(&mut c).is_err());
    let _: () = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("n")
        .ignore()
        .query(&mut c)
        .expect("multi");
    let want = [
        r#""SET" "a b" "x\"y\n\x01""#,
        r#""GET" "nosuch""#,
        r#""AUTH" "(redacted)""#,
        r#""MULTI""#,
        r#""INCR" "n""#,
        r#""EXEC""#,
    ];
    let mut lines: Vec<String> = Vec::new();
    let mut got = Vec::new();
    while lines.len() < want.len() {
        got.extend(common::read_at_least(&mut monitor, 1));
        lines = String::from_utf8_lossy(&got)
            .split_terminator("\r\n")
            .map(str::to_string)
            .collect();
    }
    for (line, want) in lines.iter().zip(want) {
        // +<secs>.<micros> [<db> <addr>] <args>
        let (head, args) = line.split_once("] ").expect("a monitor line");
        assert!(
            head.starts_with('+') && head.contains(" [0 127.0.0.1:"),
            "{line}"
        );
        assert_eq!(args, want, "{lines:?}");
    }
    assert_eq!(lines.len(), want.len(), "{lines:?}");
    let reset = common::exchange(&mut monitor, b"RESET\r\n", 1);
    assert!(
        String::from_utf8_lossy(&reset).ends_with("+RESET\r\n"),
        "{reset:?}"
    );
    let _: () = c.set("after", "reset").expect("set");
    let pong = common::exchange(&mut monitor, b"PING\r\n", 7);
    assert_eq!(pong, b"+PONG\r\n", "no longer fed after RESET");
}

fn client_line(c: &mut redis::Connection, args: &[&str]) -> String {
    redis::cmd("CLIENT")
        .arg(args)
        .query::<String>(c)
        .expect("client list")
}

/// CLIENT LIST and INFO show Redis 7.0's fields (the running command's own query buffer,
/// MULTI's queue, subscriptions); CLIENT KILL's filters pick clients (by default not the
/// caller); CLIENT PAUSE WRITE holds writes back, not reads, until CLIENT UNPAUSE.
#[test]
fn client_list_kill_and_pause_as_redis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let info = client_line(&mut c, &["INFO"]);
    assert!(
        info.contains(" flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 ")
            && info.contains(" argv-mem=10 multi-mem=0 ")
            && info.contains(" cmd=client|info user=default redir=-1 resp="),
        "{info}"
    );
    let mut raw = node.raw();
    let subscribed = common::exchange_until(&mut raw, b"SUBSCRIBE ch\r\n", b":1\r\n");
    assert!(subscribed.ends_with(b":1\r\n"));
    let pubsub = client_line(&mut c, &["LIST", "TYPE", "pubsub"]);
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    assert!(
        pubsub.contains(" flags=P ") && pubsub.contains(" sub=1 "),
        "{pubsub}"
    );
    let mut queued = node.raw();
    let q = common::exchange_until(&mut queued, b"MULTI\r\nSET k v\r\n", b"+QUEUED\r\n");
    assert!(q.ends_with(b"+QUEUED\r\n"));
    let all = client_line(&mut c, &["LIST"]);
    assert!(
        all.contains(" flags=x ") && all.contains(" multi=1 "),
        "{all}"
    );

    // KILL TYPE pubsub takes the subscriber only; SKIPME (by default yes) spares the caller.
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"])
        .query(&mut c)
        .expect("kill");
    assert_eq!(killed, 1);
    assert!(common::read_at_least(&mut raw, 1).is_empty(), "closed");
    let my_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).expect("id");
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "ID", &my_id.to_string()])
        .query(&mut c)
        .expect("kill");
    assert_eq!(killed, 0, "not the caller by default");
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "SKIPME", "YES"])
        .query(&mut c)
        .expect("kill");
    assert_eq!(killed, 1, "the one in MULTI");
    assert!(common::read_at_least(&mut queued, 1).is_empty(), "closed");

    // PAUSE WRITE: a read runs, a write waits until UNPAUSE.
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "100000", "WRITE"])
        .query(&mut c)
        .expect("pause");
    let mut writer = node.raw();
    std::io::Write::write_all(&mut writer, b"SET paused 1\r\nGET paused\r\n").expect("write");
    // A shard-channel publish may reach other clients: it waits as a write does.
    let mut publisher = node.raw();
    std::io::Write::write_all(&mut publisher, b"SPUBLISH ch m\r\n").expect("write");
    let mut reader = node.client();
    let v: Option<String> = reader.get("paused").expect("a read is not paused");
    assert_eq!(v, None);
    // Both have run nothing yet (cmd=NULL) and hold their requests (qbuf is not 0).
    common::wait_for(
        "the write and the publish to wait",
        std::time::Duration::from_secs(10),
        || {
            let list = client_line(&mut c, &["LIST"]);
            let waiting = list
                .lines()
                .filter(|l| l.contains(" cmd=NULL ") && !l.contains(" qbuf=0 "))
                .count();
            (waiting == 2).then_some(())
        },
    );
    let v: Option<String> = reader.get("paused").expect("read");
    assert_eq!(v, None, "the write still waits");
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut c)
        .expect("unpause");
    let replies = common::read_at_least(&mut writer, b"+OK\r\n$1\r\n1\r\n".len());
    assert_eq!(replies, b"+OK\r\n$1\r\n1\r\n");
    assert_eq!(common::read_at_least(&mut publisher, 4), b":0\r\n");
}

/// An empty request (a blank line, `*0`, a negative count) is skipped, as Redis skips it:
/// the connection answers what follows.
#[test]
fn empty_requests_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    for empty in [&b"\r\n"[..], b"*0\r\n", b"*-10\r\n"] {
        let mut raw = node.raw();
        let mut req = empty.to_vec();
        req.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let got = common::exchange_until(&mut raw, &req, b"+PONG\r\n");
        assert_eq!(got, b"+PONG\r\n", "after {}", empty.escape_ascii());
    }
}
