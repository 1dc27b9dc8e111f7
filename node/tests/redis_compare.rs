//! The same commands sent to gdc-node and to a real redis-server must get the same replies,
//! byte for byte. Skipped where redis-server is not installed (scripts/test says so in its
//! output); a failure where `GDC_REQUIRE_REDIS_SERVER` is set, as `.ci/run` sets it.

/// COMMAND, compared for every command gdc has.
#[path = "redis_compare/command.rs"]
mod command;
mod common;

use common::TestNode;
use common::redis_server::{Redis, bulks, call, contents, hex, read_reply, request};
use std::io::Write;
use std::net::TcpStream;

/// Send `args` to both servers: the replies must be the same bytes.
fn same_reply<A: AsRef<[u8]>>(theirs: &mut TcpStream, ours: &mut TcpStream, args: &[A]) {
    let want = call(theirs, args);
    let got = call(ours, args);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "reply to {:?}",
        args.iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn replies_match_redis_server_byte_for_byte() {
    let Some(redis) = Redis::start("replies_match_redis_server_byte_for_byte") else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();

    let script: &[&[&str]] = &[
        &["PING"],
        &["ECHO", "hello"],
        &["SET", "s", "v"],
        &["GET", "s"],
        &["GET", "nope"],
        &["SET", "s", "w", "NX"],
        &["SET", "s", "w", "XX", "GET"],
        &["SET", "s", "x", "EX", "0"],
        &["SET", "s", "x", "EX", "10", "PX", "5"],
        &["SET", "s", "x", "KEEPTTL", "EX", "5"],
        &["APPEND", "s", "yz"],
        &["STRLEN", "s"],
        &["GETRANGE", "s", "0", "-2"],
        &["GETRANGE", "s", "5", "10"],
        &["SETRANGE", "s", "1", "AB"],
        &["GET", "s"],
        &["SETRANGE", "s", "6", "pad"],
        &["GET", "s"],
        &["STRLEN", "s"],
        &["SETRANGE", "s", "0", ""],
        &["SETRANGE", "none", "3", ""],
        &["EXISTS", "none"],
        &["SETRANGE", "s", "-1", "x"],
        &["SETRANGE", "s", "536870911", "xy"],
        &["CONFIG", "SET", "proto-max-bulk-len", "1048576"],
        &["SETRANGE", "near", "1048570", "x"],
        &["APPEND", "near", "0123456789"],
        &["APPEND", "near", "01234"],
        &["SETRANGE", "near", "1048575", "xy"],
        &["STRLEN", "near"],
        &["DEL", "near"],
        &["CONFIG", "SET", "proto-max-bulk-len", "536870912"],
        &["APPEND", "fresh", "one"],
        &["APPEND", "fresh", ""],
        &["GETRANGE", "fresh", "0", "-1"],
        &["SET", "counted", "10"],
        &["INCR", "counted"],
        &["APPEND", "counted", "5"],
        &["GET", "counted"],
        &["INCR", "counted"],
        &["SETRANGE", "counted", "0", "9"],
        &["GET", "counted"],
        &["SET", "ttl", "a", "EX", "100"],
        &["APPEND", "ttl", "b"],
        &["SETRANGE", "ttl", "2", "c"],
        &["TTL", "ttl"],
        &["GET", "ttl"],
        &["SETBIT", "bits", "7", "1"],
        &["APPEND", "bits", "x"],
        &["SETBIT", "bits", "8", "0"],
        &["GET", "bits"],
        &["GETBIT", "bits", "15"],
        &["BITCOUNT", "bits"],
        &["RPUSH", "lst", "a"],
        &["APPEND", "lst", "x"],
        &["SETRANGE", "lst", "0", "x"],
        &["SETRANGE", "lst", "0", ""],
        &["STRLEN", "lst"],
        &["INCR", "s"],
        &["INCR", "n"],
        &["INCRBY", "n", "10"],
        &["DECRBY", "n", "3"],
        &["DECR", "n"],
        &["INCRBY", "n", "x"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["INCRBYFLOAT", "f", "2"],
        &["INCRBYFLOAT", "g", "0.1"],
        &["INCRBYFLOAT", "g", "0.1"],
        &["INCRBYFLOAT", "g", "0.1"],
        &["INCRBYFLOAT", "g", "-0.3"],
        &["INCRBYFLOAT", "g", "3e-5"],
        &["INCRBYFLOAT", "g", "1e20"],
        &["HINCRBYFLOAT", "hf", "x", "10.1"],
        &["HINCRBYFLOAT", "hf", "x", "0.2"],
        &["SET", "big", "9223372036854775807"],
        &["INCR", "big"],
        &["MSET", "a", "1", "b", "2"],
        &["MGET", "a", "b", "zz"],
        &["MSETNX", "a", "9", "c", "3"],
        &["GETSET", "a", "10"],
        &["GETDEL", "a"],
        &["EXISTS", "a", "b", "b"],
        &["DEL", "b", "zz"],
        &["TYPE", "s"],
        &["TYPE", "nope"],
        &["SETEX", "t", "100", "v"],
        &["TTL", "t"],
        &["PTTL", "nope"],
        &["EXPIRE", "t", "200", "GT"],
        &["EXPIRE", "t", "50", "GT"],
        &["EXPIRE", "t", "50", "NX"],
        &["TTL", "t"],
        &["PERSIST", "t"],
        &["TTL", "t"],
        &["EXPIRE", "t", "10", "NX", "XX"],
        &["HSET", "h", "f", "1"],
        &["HSET", "h", "f", "2", "g", "3"],
        &["HGET", "h", "f"],
        &["HMGET", "h", "f", "nope"],
        &["HINCRBY", "h", "f", "5"],
        &["HINCRBY", "h", "g", "x"],
        &["HINCRBYFLOAT", "h", "f", "0.5"],
        &["HEXISTS", "h", "g"],
        &["HLEN", "h"],
        &["HSTRLEN", "h", "f"],
        &["HDEL", "h", "g", "nope"],
        &["HSETNX", "h", "f", "9"],
        &["HGETALL", "h"],
        &["GET", "h"],
        &["SADD", "set", "a", "b", "a"],
        &["SREM", "set", "b", "zz"],
        &["SISMEMBER", "set", "a"],
        &["SMISMEMBER", "set", "a", "b"],
        &["SCARD", "set"],
        &["SADD", "set2", "a", "c"],
        &["SINTERCARD", "2", "set", "set2"],
        &["SINTERSTORE", "dst", "set", "set2"],
        &["SMEMBERS", "dst"],
        &["SMOVE", "set2", "set", "c"],
        // A member moved onto its own set: nothing changes, TTL included.
        &["SADD", "smself", "m"],
        &["EXPIRE", "smself", "100"],
        &["SMOVE", "smself", "smself", "m"],
        &["TTL", "smself"],
        &["SMOVE", "smself", "smself", "nosuch"],
        // A member the destination already has: only the source changes, so a WATCH of
        // the destination does not fail the transaction.
        &["SADD", "smsrc", "a", "b"],
        &["SADD", "smdst", "a"],
        &["WATCH", "smdst"],
        &["SMOVE", "smsrc", "smdst", "a"],
        &["MULTI"],
        &["PING"],
        &["EXEC"],
        &["SMEMBERS", "smsrc"],
        &["SCARD", "set"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "z", "NX", "XX", "1", "a"],
        &["ZADD", "z", "CH", "5", "a", "2", "b"],
        &["ZADD", "z", "INCR", "1", "c"],
        &["ZSCORE", "z", "a"],
        &["ZINCRBY", "z", "-1.5", "a"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZRANGE", "z", "0", "0", "REV"],
        &["ZRANK", "z", "c"],
        &["ZREVRANK", "z", "c"],
        &["ZCOUNT", "z", "(2", "+inf"],
        &[
            "ZRANGEBYSCORE",
            "z",
            "-inf",
            "4",
            "WITHSCORES",
            "LIMIT",
            "0",
            "2",
        ],
        &["ZMSCORE", "z", "a", "nope"],
        &["ZPOPMIN", "z"],
        &["ZCARD", "z"],
        &["ZREM", "z", "b", "nope"],
        &[
            "ZADD", "zz", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        &["ZRANGE", "zz", "2", "(4", "BYSCORE", "WITHSCORES"],
        &[
            "ZRANGE", "zz", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2",
        ],
        &["ZRANGE", "zz", "0", "1", "LIMIT", "0", "1"],
        &["ZREVRANGE", "zz", "0", "2", "WITHSCORES"],
        &["ZREVRANGEBYSCORE", "zz", "4", "2"],
        &["ZRANGESTORE", "zdst", "zz", "1", "3"],
        &["ZRANGE", "zdst", "0", "-1", "WITHSCORES"],
        &["ZREMRANGEBYSCORE", "zz", "-inf", "(2"],
        &["ZADD", "za", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "zb", "10", "b", "20", "c", "30", "d"],
        &["SADD", "sa", "a", "d"],
        &["ZUNIONSTORE", "zu", "2", "za", "zb"],
        &["ZRANGE", "zu", "0", "-1", "WITHSCORES"],
        &[
            "ZINTERSTORE",
            "zi",
            "2",
            "za",
            "zb",
            "WEIGHTS",
            "2",
            "0.5",
            "AGGREGATE",
            "MAX",
        ],
        &["ZRANGE", "zi", "0", "-1", "WITHSCORES"],
        &["ZDIFFSTORE", "zd", "2", "za", "zb"],
        &["ZRANGE", "zd", "0", "-1", "WITHSCORES"],
        &["ZUNION", "3", "za", "zb", "sa", "WITHSCORES"],
        &["ZINTER", "2", "za", "sa"],
        &["ZDIFF", "2", "zb", "za", "WITHSCORES"],
        &["ZINTERSTORE", "empty", "2", "za", "nothing"],
        &["EXISTS", "empty"],
        &["ZUNIONSTORE", "bad", "2", "za", "s"],
        &["ZRANDMEMBER", "nothing"],
        // Checks in Redis's order (a missing source before a wrong-type destination, the
        // same key before a missing one), integer increments exact past 2^53, and a key
        // moved onto itself keeping its TTL.
        &["FLUSHDB"],
        &["SET", "w", "x"],
        &["SET", "f", "-4611686018427387904"],
        &["INCRBYFLOAT", "f", "3"],
        &["HSET", "h", "f", "-4611686018427387904"],
        &["HINCRBYFLOAT", "h", "f", "3"],
        &["INCRBYFLOAT", "f", "1e2"],
        &["COPY", "k", "k"],
        &["COPY", "w", "w"],
        &["SMOVE", "nosrc", "w", "m"],
        &["LMOVE", "nosrc", "w", "LEFT", "LEFT"],
        &["RPOPLPUSH", "nosrc", "w"],
        &["BLMOVE", "nosrc", "w", "LEFT", "LEFT", "0.01"],
        &["LMOVE", "w", "nosrc", "LEFT", "LEFT"],
        &["RENAME", "nosrc", "w"],
        &["RENAMENX", "nosrc", "w"],
        &["ZRANGESTORE", "w", "nosrc", "0", "-1"],
        &["ZRANGESTORE", "nosrc", "w", "0", "-1"],
        &["ZUNIONSTORE", "w", "1", "nosrc"],
        &["ZINTERSTORE", "w", "2", "nosrc", "w"],
        &["SINTERSTORE", "w", "nosrc"],
        &["SUNIONSTORE", "w", "nosrc", "w"],
        &["SDIFFSTORE", "w", "nosrc", "w"],
        &["SINTERCARD", "2", "nosrc", "w"],
        &["ZINTERCARD", "2", "nosrc", "w"],
        &["ZINTER", "2", "nosrc", "w"],
        &["SINTER", "nosrc", "w"],
        &["SDIFF", "nosrc", "w"],
        &["SORT", "nosrc", "STORE", "w"],
        &["LMPOP", "2", "nosrc", "w", "LEFT"],
        &["ZMPOP", "2", "nosrc", "w", "MIN"],
        &["GETDEL", "nosrc"],
        &["MSETNX", "w", "1", "z", "2"],
        &["RPUSH", "l", "a"],
        &["EXPIRE", "l", "100"],
        &["LMOVE", "l", "l", "LEFT", "RIGHT"],
        &["TTL", "l"],
        &["RPOPLPUSH", "l", "l"],
        &["TTL", "l"],
        &["BLMOVE", "l", "l", "RIGHT", "LEFT", "0"],
        &["TTL", "l"],
        &["SADD", "s", "m"],
        &["EXPIRE", "s", "100"],
        &["SMOVE", "s", "s", "m"],
        &["TTL", "s"],
        &["FLUSHDB"],
        // SWAPDB: every key and its TTL change places.
        &["SET", "swap:a", "in0"],
        &["SELECT", "3"],
        &["SET", "swap:a", "in3", "EX", "100"],
        &["SADD", "swap:s", "m"],
        &["SELECT", "0"],
        &["SWAPDB", "0", "3"],
        &["GET", "swap:a"],
        &["TTL", "swap:a"],
        &["SMEMBERS", "swap:s"],
        &["SWAPDB", "3", "0"],
        &["GET", "swap:a"],
        &["EXISTS", "swap:s"],
        &["SWAPDB", "0", "0"],
        &["SWAPDB", "x", "0"],
        &["SWAPDB", "0", "x"],
        &["SWAPDB", "0", "16"],
        &["SWAPDB", "-1", "0"],
        &["CONFIG", "HELP"],
        // A small hash lists its fields in the order they were added.
        &["HSET", "horder", "b", "1"],
        &["HSET", "horder", "a", "2", "zz", "3", "aa", "4"],
        &["HINCRBY", "horder", "n", "5"],
        &["HSETNX", "horder", "c", "6"],
        &["HGETALL", "horder"],
        &["HKEYS", "horder"],
        &["HVALS", "horder"],
        // DEBUG is off by default in both.
        &["DEBUG", "SLEEP", "0"],
        // Neither was started from a config file.
        &["CONFIG", "REWRITE"],
        // Cluster and replication commands a gdc node answers as a lone redis-server would.
        &["READONLY"],
        &["READWRITE"],
        &["REPLICAOF", "NO", "ONE"],
        &["SLAVEOF", "no", "one"],
        &["REPLICAOF", "127.0.0.1", "x"],
        &["REPLICAOF", "127.0.0.1", "70000"],
        &["FAILOVER", "ABORT"],
        &["FAILOVER", "ABORT", "x"],
        &["FAILOVER", "TIMEOUT", "0"],
        &["FAILOVER", "TIMEOUT", "x"],
        &["FAILOVER", "TO", "h", "x"],
        &["LOLWUT", "VERSION", "x"],
        // An infinite score times weight 0 is 0, not nan; so is -inf + inf when summed.
        &["ZADD", "zinf", "-inf", "a", "+inf", "b"],
        &["ZUNIONSTORE", "zw", "1", "zinf", "WEIGHTS", "0"],
        &["ZRANGE", "zw", "0", "-1", "WITHSCORES"],
        &["ZADD", "zinf2", "+inf", "a", "-inf", "b"],
        &["ZUNION", "2", "zinf", "zinf2", "WITHSCORES"],
        // The older range commands take WITHSCORES and LIMIT only.
        &["ZRANGEBYSCORE", "za", "0", "5", "REV"],
        &["ZRANGEBYSCORE", "za", "0", "5", "BYSCORE"],
        &["ZRANGEBYLEX", "za", "-", "+", "BYLEX"],
        &["ZRANGEBYLEX", "za", "-", "+", "WITHSCORES"],
        &["ZREVRANGE", "za", "0", "1", "LIMIT", "0", "1"],
        &["ZREVRANGE", "za", "0", "1", "REV"],
        &["ZRANGEBYSCORE", "za", "0", "5", "LIMIT", "0", "rev"],
        &[
            "ZRANGEBYSCORE",
            "za",
            "0",
            "5",
            "LIMIT",
            "1",
            "1",
            "WITHSCORES",
        ],
        &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
        &["ZRANGEBYLEX", "lex", "[b", "+"],
        &["ZREVRANGEBYLEX", "lex", "(d", "-", "LIMIT", "0", "2"],
        &["ZRANGE", "lex", "[a", "(c", "BYLEX"],
        &["ZLEXCOUNT", "lex", "-", "+"],
        &["ZRANGEBYLEX", "lex", "b", "+"],
        &["ZREMRANGEBYLEX", "lex", "[a", "[b"],
        &["ZRANGE", "lex", "0", "-1"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LPUSH", "l", "x"],
        &["LRANGE", "l", "0", "-1"],
        &["LRANGE", "l", "-2", "10"],
        &["LINDEX", "l", "1"],
        &["LINSERT", "l", "BEFORE", "b", "ins"],
        &["LINSERT", "l", "AFTER", "nope", "v"],
        &["LSET", "l", "0", "first"],
        &["LSET", "l", "99", "v"],
        &["LREM", "l", "1", "a"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LLEN", "l"],
        &["RPUSH", "l2", "1", "2", "3", "4", "5"],
        &["LTRIM", "l2", "1", "-2"],
        &["LRANGE", "l2", "0", "-1"],
        &["LMOVE", "l2", "l3", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l2", "l3"],
        &["LRANGE", "l3", "0", "-1"],
        &["RPUSH", "lp", "a", "b", "c", "1", "2", "3", "c", "c"],
        &["LPOS", "lp", "c"],
        &["LPOS", "lp", "c", "RANK", "2"],
        &["LPOS", "lp", "c", "RANK", "-1"],
        &["LPOS", "lp", "c", "COUNT", "2"],
        &["LPOS", "lp", "c", "COUNT", "0"],
        &["LPOS", "lp", "c", "RANK", "-2", "COUNT", "0", "MAXLEN", "3"],
        &["LPOS", "lp", "zz"],
        &["LPOS", "lp", "c", "RANK", "0"],
        &["LPOS", "nolist", "c", "COUNT", "1"],
        &["HRANDFIELD", "nohash"],
        &["HRANDFIELD", "nohash", "3"],
        // Counts whose reply would overflow are refused before the key is looked at.
        &["HSET", "h1", "a", "1"],
        &["HRANDFIELD", "h1", "-9223372036854770000", "WITHVALUES"],
        &["HRANDFIELD", "h1", "-9223372036854775808", "WITHVALUES"],
        &["HRANDFIELD", "h1", "-9223372036854775808"],
        &["HRANDFIELD", "h1", "-3", "WITHVALUES"],
        &["ZADD", "z1", "1", "a"],
        &["ZRANDMEMBER", "z1", "-9223372036854770000", "WITHSCORES"],
        &["ZRANDMEMBER", "z1", "-9223372036854775808"],
        &["SADD", "s1", "a"],
        &["SRANDMEMBER", "s1", "-9223372036854775808"],
        &["SRANDMEMBER", "s1", "-2"],
        &["HINCRBYFLOAT", "h1", "f", "+inf"],
        &["RPUSH", "m1", "a", "b", "c"],
        &["RPUSH", "m2", "x"],
        &["LMPOP", "2", "nolist", "m1", "LEFT"],
        &["LMPOP", "2", "m1", "m2", "RIGHT", "COUNT", "5"],
        &["LMPOP", "1", "m1", "LEFT"],
        &["LMPOP", "1", "nolist", "LEFT"],
        &["LMPOP", "0", "m2", "LEFT"],
        &["LMPOP", "x", "m2", "LEFT"],
        &["LMPOP", "3", "m2", "LEFT"],
        &["LMPOP", "1", "m2", "MIDDLE"],
        &["LMPOP", "1", "m2", "LEFT", "COUNT", "0"],
        &["LMPOP", "1", "m2", "LEFT", "COUNT"],
        &["LMPOP", "2", "h1", "m2", "LEFT"],
        &["BLMPOP", "0.01", "1", "nolist", "LEFT"],
        &["BLMPOP", "-1", "1", "m2", "LEFT"],
        &["BLMPOP", "0", "1", "m2", "LEFT", "COUNT", "2"],
        &["RPUSH", "m3", "a", "b"],
        &["BRPOPLPUSH", "m3", "m3", "0"],
        &["LRANGE", "m3", "0", "-1"],
        &["BRPOPLPUSH", "m3", "h1", "0"],
        &["BRPOPLPUSH", "nolist", "m3", "0.01"],
        &["BLMOVE", "nolist", "m3", "LEFT", "RIGHT", "0.01"],
        &["ZADD", "zp", "1", "a", "2", "b", "3", "c", "4.5", "d"],
        &["ZADD", "zq", "7", "x"],
        &["ZMPOP", "2", "nozset", "zp", "MIN"],
        &["ZMPOP", "2", "zp", "zq", "MAX", "COUNT", "2"],
        &["ZMPOP", "1", "nozset", "MIN"],
        &["ZMPOP", "0", "zp", "MIN"],
        &["ZMPOP", "1", "zp", "LEFT"],
        &["ZMPOP", "1", "zp", "MIN", "COUNT", "-1"],
        &["ZMPOP", "2", "h1", "zp", "MIN"],
        &["BZPOPMIN", "nozset", "zq", "0"],
        &["BZPOPMAX", "zq", "0.01"],
        &["BZPOPMIN", "zq", "-1"],
        &["BZMPOP", "0", "1", "zp", "MAX", "COUNT", "5"],
        &["BZMPOP", "0.01", "1", "zp", "MAX"],
        &["ZADD", "zr", "1", "a", "2", "b"],
        &["ZPOPMIN", "zr", "1"],
        &["ZPOPMAX", "zr"],
        &["ZPOPMIN", "zr"],
        &["SET", "virus1", "ohmytext"],
        &["SET", "virus2", "mynewtext"],
        &["LCS", "virus1", "virus2"],
        &["LCS", "virus1", "virus2", "LEN"],
        &["LCS", "virus1", "virus2", "IDX"],
        &["LCS", "virus1", "virus2", "IDX", "WITHMATCHLEN"],
        &[
            "LCS",
            "virus1",
            "virus2",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN",
        ],
        &["LCS", "virus1", "virus2", "IDX", "MINMATCHLEN", "-3"],
        &["LCS", "virus1", "virus2", "LEN", "IDX"],
        &["LCS", "virus1", "virus2", "FOO"],
        &["LCS", "virus1", "virus2", "MINMATCHLEN"],
        &["LCS", "virus1", "nokey"],
        &["LCS", "nokey", "nokey2", "IDX"],
        &["LCS", "virus1", "h1"],
        &["SET", "dna1", "ACGTACGTTGCAACGTACGTGGAAATTTCCGGTTAACCGGT"],
        &["SET", "dna2", "TTGCAACGTTACGTAGGCCTTAAGGCCAATTCGGACGTA"],
        &["LCS", "dna1", "dna2"],
        &[
            "LCS",
            "dna1",
            "dna2",
            "IDX",
            "MINMATCHLEN",
            "2",
            "WITHMATCHLEN",
        ],
        &["SUBSTR", "virus1", "1", "3"],
        &["SUBSTR", "virus1", "-3", "-1"],
        &["SUBSTR", "h1", "0", "1"],
        &[
            "ZADD",
            "zs",
            "1.1",
            "a",
            "0.1879068008567704",
            "b",
            "1e20",
            "c",
            "-2.5e-7",
            "d",
        ],
        &["ZSCORE", "zs", "a"],
        &["ZMSCORE", "zs", "b", "c", "d", "nope"],
        &["ZRANGE", "zs", "0", "-1", "WITHSCORES"],
        &["ZINCRBY", "zs", "0.1", "a"],
        &["ZADD", "zs", "INCR", "0.2", "b"],
        &["ZADD", "za", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "zb", "1", "b", "2", "c", "3", "d"],
        &["ZINTERCARD", "2", "za", "zb"],
        &["ZINTERCARD", "2", "za", "zb", "LIMIT", "1"],
        &["ZINTERCARD", "2", "za", "zb", "LIMIT", "0"],
        &["ZINTERCARD", "1", "za", "za"],
        &["ZINTERCARD", "1", "za", "LIMIT"],
        &["ZINTERCARD", "1", "za", "LIMIT", "-1"],
        &["ZINTERCARD", "1", "za", "LIMIT", "a"],
        &["ZINTERCARD", "0", "za"],
        &["ZINTERCARD", "2", "za", "s1"],
        &["ZINTERCARD", "2", "za", "h1"],
        &["ZUNION", "0", "za"],
        &["ZINTERSTORE", "dst", "0", "za"],
        &["ZDIFF", "0", "za"],
        &["SET", "mv", "1"],
        &["MOVE", "mv", "1"],
        &["EXISTS", "mv"],
        &["MOVE", "mv", "1"],
        &["SELECT", "1"],
        &["GET", "mv"],
        &["TTL", "mv"],
        &["MOVE", "mv", "1"],
        &["SELECT", "0"],
        &["SET", "mv", "2"],
        &["MOVE", "mv", "1"],
        &["MOVE", "mv", "x"],
        &["MOVE", "mv", "16"],
        &["MOVE", "mv", "-1"],
        &["MOVE", "nokey", "1"],
        &["CLIENT", "REPLY", "FOO"],
        &["CLIENT", "REPLY", "ON"],
        &["CLIENT", "UNBLOCK", "asd"],
        &["CLIENT", "UNBLOCK", "999999"],
        &["CLIENT", "UNBLOCK", "999999", "ERROR"],
        &["CLIENT", "UNBLOCK", "asd", "FOO"],
        &["SINTERCARD", "a", "s1"],
        &["SINTERCARD", "0", "s1"],
        &["SINTERCARD", "2", "s1"],
        &["LPOP", "m3", "1", "2"],
        &["RPOP", "m3", "x", "2"],
        &["MULTI"],
        &["SET", "foo", "bar"],
        &["SHUTDOWN"],
        &["SAVE"],
        &["EXEC"],
        &["EXISTS", "foo"],
        &["EXISTS", "h2"],
        &["HINCRBYFLOAT", "h2", "f", "inf"],
        &["EXISTS", "h2"],
        &["RENAME", "l3", "l4"],
        &["RENAME", "nope", "x"],
        &["RENAMENX", "l4", "l2"],
        &["COPY", "l4", "l5"],
        &["LRANGE", "l5", "0", "-1"],
        &["SELECT", "1"],
        &["GET", "s"],
        &["SELECT", "0"],
        &["DBSIZE"],
        &["FLUSHDB"],
        &["DBSIZE"],
        &["GET", "nosuchcommand", "x", "y"],
        &["NOSUCHCOMMAND", "x"],
        // An unknown command's arguments are quoted in its error: line breaks become spaces
        // and what is shown stops after 128 bytes.
        &["NOSUCHCOMMAND", "a\r\nb", "\n"],
        &["NOSUCH", &"x".repeat(300), "y"],
        &["NOSUCH", &"x".repeat(100), &"y".repeat(100), "z"],
        // SORT and SORT_RO
        &[
            "RPUSH", "sl", "3", "1", "2", "10", "-5", "2.5", " 7", "0x10", "",
        ],
        &["SADD", "ss", "c", "a", "b", "10", "2"],
        &["ZADD", "sz", "3", "a", "1", "b", "2", "c", "2", "d"],
        &["MSET", "w_3", "30", "w_1", "10", "w_2", "5", "w_10", "x"],
        &["HSET", "o_3", "f", "1"],
        &["HSET", "o_1", "f", "3"],
        &["SORT", "sl"],
        &["SORT", "sl", "DESC", "LIMIT", "1", "3"],
        &["SORT", "sl", "ALPHA"],
        &["SORT", "sl", "BY", "w_*"],
        &[
            "SORT", "sl", "BY", "o_*->f", "DESC", "GET", "#", "GET", "w_*", "GET", "o_*->f",
        ],
        &["SORT", "sl", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
        &["SORT", "sl", "LIMIT", "-1", "-1"],
        &["SORT", "sl", "LIMIT", "20", "1"],
        &["SORT", "sz"],
        &["SORT", "sz", "ALPHA", "DESC"],
        &["SORT", "sz", "BY", "nosort", "DESC", "LIMIT", "0", "2"],
        &["SORT", "ss", "ALPHA", "BY", "nosort", "STORE", "sdst"],
        &["LRANGE", "sdst", "0", "-1"],
        &[
            "SORT", "sl", "GET", "nope", "GET", "o_*->f", "STORE", "sdst",
        ],
        &["LRANGE", "sdst", "0", "-1"],
        &["SORT", "missing", "STORE", "sdst"],
        &["EXISTS", "sdst"],
        &["SORT", "ss"],
        &["SORT", "sl", "BY", "w_*", "GET", "w_*"],
        &["SORT", "sl", "GET"],
        &["SORT", "sl", "LIMIT", "a", "1"],
        &["SORT", "w_1"],
        &["SORT", "w_1", "foo"],
        &["SORT_RO", "sl", "STORE", "x"],
        &["SORT_RO", "sl", "BY", "w_*", "GET", "#"],
        // Subcommands: looked up and checked for arity on their own.
        &["CLIENT", "NOSUCH"],
        &["client", "nosuch", "a"],
        &["CONFIG", "GET"],
        &["LATENCY", "HELP", "x"],
        &["LATENCY", "GRAPH", "nope"],
        &["LATENCY", "HISTORY", "nope"],
        &["LATENCY", "RESET", "nope"],
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "LEN", "x"],
        &["OBJECT", "ENCODING"],
        &["MEMORY", "USAGE"],
        // CLIENT's argument errors
        &["CLIENT", "KILL"],
        &["CLIENT", "KILL", "id", "10", "wrong_arg"],
        &["CLIENT", "KILL", "id", "str"],
        &["CLIENT", "KILL", "id", "0"],
        &["CLIENT", "KILL", "type", "wrong_type"],
        &["CLIENT", "KILL", "user", "wrong_user"],
        &["CLIENT", "KILL", "skipme", "yes_or_no"],
        &["CLIENT", "KILL", "id", "999999"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "SETNAME", "foo bar"],
        &["CLIENT", "SETNAME", "ok-name"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", ""],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "LIST", "TYPE", "bogus"],
        &["CLIENT", "LIST", "ID", "x"],
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "NO-EVICT", "maybe"],
        &["CLIENT", "NO-EVICT", "on"],
        &["CLIENT", "PAUSE", "abc"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "foo"],
        &["CLIENT", "PAUSE", "x", "foo"],
        &["CLIENT", "PAUSE", "10", "write", "x"],
        &["CLIENT", "UNPAUSE"],
        &["CLIENT", "UNBLOCK", "1", "foo"],
        &["MULTI"],
        &["MONITOR"],
        &["EXEC"],
    ];
    every_redis_setting_is_known(&mut theirs, &mut ours);
    // The whole script under RESP2, then again from empty databases under RESP3 (HELLO's
    // own reply names the server: not compared).
    for resp in ["2", "3"] {
        for setup in [&["HELLO", resp][..], &["FLUSHALL"]] {
            call(&mut theirs, setup);
            call(&mut ours, setup);
        }
        let shape = if resp == "2" { "*2\r\n" } else { "%1\r\n" };
        for c in [&mut theirs, &mut ours] {
            assert!(call(c, &["CONFIG", "GET", "maxmemory"]).starts_with(shape.as_bytes()));
        }
        for cmd in script {
            let req = request(cmd);
            theirs.write_all(&req).expect("write redis");
            ours.write_all(&req).expect("write gdc");
            let want = read_reply(&mut theirs);
            let got = read_reply(&mut ours);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "RESP{resp} reply to {cmd:?}"
            );
        }
    }
}

/// Each type in each encoding redis-server 7.0 picks: DUMPed by redis-server, RESTOREd into
/// gdc, it reads back the same; DUMPed by gdc, it RESTOREs into redis-server and reads back
/// the same there. A value of a type gdc lacks is refused as bad data.
#[test]
fn dump_and_restore_move_every_type_between_redis_server_and_gdc() {
    let test = "dump_and_restore_move_every_type_between_redis_server_and_gdc";
    let Some(redis) = Redis::start(test) else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();
    let many =
        |n: usize, item: &dyn Fn(usize) -> String| (0..n).map(item).collect::<Vec<_>>().join(" ");
    let long = "x".repeat(100);
    // Each key's type, and the command that makes it in redis-server (words split at
    // spaces, the key second), with the encoding redis-server 7.0 gives it.
    let setups: [(&str, String); 16] = [
        ("string", "SET s:int 12345".into()),        // int
        ("string", "SET s:wide -9000000000".into()), // int, written as text
        ("string", "SET s:short hello".into()),      // embstr
        ("string", "SET s:bin a\0\x01b".into()),
        (
            "string",
            format!("SET s:raw {}", "abcdefghijklmnopqrstuvwxyz0123456789"),
        ),
        ("string", format!("SET s:lzf {}", "abcdef".repeat(200))), // compressed
        ("list", format!("RPUSH l:small a 1 -5000 {long}")),       // one listpack
        ("set", "SADD set:int 1 2 3 -7 100000".into()),            // intset
        ("set", "SADD set:str a b c".into()),                      // hashtable
        ("zset", "ZADD z:small 1 a 2.5 b -3 c inf d".into()),      // listpack
        ("hash", "HSET h:small f1 v1 f2 22".into()),               // listpack
        ("hash", format!("HSET h:long f {long}")),                 // hashtable (a long value)
        // Several 8 kB listpack nodes, each compressed.
        (
            "list",
            format!("RPUSH l:big {}", many(2000, &|i| format!("e-{i}"))),
        ),
        (
            "set",
            format!("SADD set:big {}", many(600, &|i| format!("m{i}"))),
        ),
        (
            "hash",
            format!("HSET h:big {}", many(600, &|i| format!("f{i} v{i}"))),
        ),
        (
            "zset",
            format!("ZADD z:big {}", many(200, &|i| format!("{i}.5 m{i}"))),
        ),
    ];
    for (kind, setup) in &setups {
        let setup: Vec<&str> = setup.split(' ').collect();
        let key = setup[1];
        assert!(!call(&mut theirs, &setup).starts_with(b"-"), "{setup:?}");
        let payload = bulks(&call(&mut theirs, &["DUMP", key])).remove(0);
        let restored = call(&mut ours, &[b"RESTORE", key.as_bytes(), b"0", &payload]);
        assert_eq!(restored, b"+OK\r\n", "{key} into gdc");
        let want = contents(&mut theirs, kind, key);
        assert_eq!(contents(&mut ours, kind, key), want, "{key} read from gdc");
        let ours_payload = bulks(&call(&mut ours, &["DUMP", key])).remove(0);
        if *kind == "string" && payload[1] != 0xc3 {
            assert_eq!(
                ours_payload, payload,
                "{key}: gdc writes uncompressed strings as Redis does"
            );
        }
        let back = format!("back:{key}");
        let restored = call(
            &mut theirs,
            &[b"RESTORE", back.as_bytes(), b"0", &ours_payload],
        );
        assert_eq!(restored, b"+OK\r\n", "{key} back into redis-server");
        assert_eq!(
            contents(&mut theirs, kind, &back),
            want,
            "{key} from gdc read in redis-server"
        );
    }
    // A TTL given to RESTORE is kept; DUMP never carries one.
    let payload = bulks(&call(&mut theirs, &["DUMP", "s:short"])).remove(0);
    assert_eq!(
        call(&mut ours, &[b"RESTORE", &b"ttl"[..], b"100000", &payload]),
        b"+OK\r\n"
    );
    let pttl: i64 = String::from_utf8(call(&mut ours, &["PTTL", "ttl"])[1..].to_vec())
        .expect("text")
        .trim()
        .parse()
        .expect("PTTL");
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    // A stream moves whole: entries (one deleted, one with fields of its own), its numbers,
    // a group with pending entries and a consumer with none.
    for setup in [
        &["XADD", "st", "1-1", "a", "1", "b", "hello"][..],
        &["XADD", "st", "1-2", "a", "2", "b", "x"],
        &["XADD", "st", "2-0", "other", "7"],
        &["XADD", "st", "3-5", "a", "-5000", "b", "99999999999"],
        &["XDEL", "st", "1-2"],
        &["XGROUP", "CREATE", "st", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "st",
            ">",
        ],
        &["XGROUP", "CREATECONSUMER", "st", "g", "bob"],
        &["XADD", "empty", "MAXLEN", "0", "5-5", "f", "v"],
    ] {
        assert!(!call(&mut theirs, setup).starts_with(b"-"), "{setup:?}");
    }
    for key in ["st", "empty"] {
        let payload = bulks(&call(&mut theirs, &["DUMP", key])).remove(0);
        let restored = call(&mut ours, &[b"RESTORE", key.as_bytes(), b"0", &payload]);
        assert_eq!(restored, b"+OK\r\n", "{key} into gdc");
        let want = contents(&mut theirs, "stream", key);
        assert_eq!(
            contents(&mut ours, "stream", key),
            want,
            "{key} read from gdc"
        );
        let ours_payload = bulks(&call(&mut ours, &["DUMP", key])).remove(0);
        let back = format!("back:{key}");
        let restored = call(
            &mut theirs,
            &[b"RESTORE", back.as_bytes(), b"0", &ours_payload],
        );
        assert_eq!(restored, b"+OK\r\n", "{key} back into redis-server");
        assert_eq!(
            contents(&mut theirs, "stream", &back),
            want,
            "{key} from gdc read in redis-server"
        );
    }
}

/// RESTORE's and DUMP's replies, errors above all, byte for byte as redis-server's; a
/// refused RESTORE changes nothing, and a TTL already past creates nothing.
#[test]
fn dump_and_restore_reply_as_redis_server_does() {
    let test = "dump_and_restore_reply_as_redis_server_does";
    let Some(redis) = Redis::start(test) else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();
    // "hello" as redis-server 7.0.15 DUMPs it; with its checksum broken; "123" with RDB
    // version 11 (Redis 7.2's); an empty set; a stream cut short.
    let p = hex("000568656c6c6f0a006372df766534200a");
    let mut broken = p.clone();
    *broken.last_mut().expect("bytes") ^= 1;
    let v11 = hex("00c07b0b00213dee92fde58e30");
    let empty_set = hex("02000a003ace39009b8939e8");
    let cut_stream = hex("0f010a00d06a5fc3a887923f");
    let p = p.as_slice();
    let script: &[&[&[u8]]] = &[
        &[b"SET", b"k", b"v"],
        &[b"RESTORE", b"k", b"0", p],
        &[b"RESTORE", b"k", b"-5", p],
        &[b"RESTORE", b"k", b"0", p, b"FOO"],
        &[b"RESTORE", b"new", b"-1", p],
        &[b"RESTORE", b"new", b"x", p],
        &[b"RESTORE", b"new", b"0", b"..."],
        &[b"RESTORE", b"new", b"0", &broken],
        &[b"RESTORE", b"new", b"0", &v11],
        &[b"RESTORE", b"new", b"0", &empty_set],
        &[b"RESTORE", b"new", b"0", &cut_stream],
        &[b"RESTORE", b"new", b"0", p, b"IDLETIME", b"-1"],
        &[b"RESTORE", b"new", b"0", p, b"IDLETIME", b"x"],
        &[b"RESTORE", b"new", b"0", p, b"FREQ", b"256"],
        &[b"RESTORE", b"new", b"0", p, b"FREQ", b"-1"],
        &[
            b"RESTORE",
            b"new",
            b"0",
            p,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1",
        ],
        &[
            b"RESTORE",
            b"new",
            b"0",
            p,
            b"FREQ",
            b"1",
            b"IDLETIME",
            b"1",
        ],
        &[b"RESTORE", b"new", b"0", p, b"IDLETIME"],
        &[b"RESTORE", b"new", b"0"],
        &[b"EXISTS", b"new"],
        &[b"RESTORE", b"k", b"0", b"...", b"REPLACE"],
        &[b"RESTORE", b"k", b"0", &empty_set, b"REPLACE"],
        &[b"GET", b"k"],
        &[b"RESTORE", b"new", b"1000", p, b"ABSTTL"],
        &[b"EXISTS", b"new"],
        &[b"RESTORE", b"new", b"9223372036854775807", p],
        &[b"EXISTS", b"new"],
        &[b"RESTORE", b"k", b"1000", p, b"ABSTTL", b"REPLACE"],
        &[b"EXISTS", b"k"],
        &[
            b"RESTORE",
            b"new",
            b"0",
            p,
            b"replace",
            b"absttl",
            b"idletime",
            b"10",
        ],
        &[b"GET", b"new"],
        &[b"TTL", b"new"],
        &[b"RESTORE", b"new2", b"100000", p, b"FREQ", b"255"],
        &[b"TTL", b"new2"],
        &[b"RESTORE", b"new3", b"99999999999999", p, b"ABSTTL"],
        &[b"PEXPIRETIME", b"new3"],
        &[b"DUMP", b"nokey"],
        &[b"DUMP"],
        &[b"DUMP", b"new"],
        &[b"SET", b"n", b"-200"],
        &[b"DUMP", b"n"],
    ];
    for args in script {
        same_reply(&mut theirs, &mut ours, args);
    }
}

/// CONFIG GET of every parameter redis-server 7.0 shows names it in gdc too (most have no
/// effect on gdc: docs/compatibility.md).
fn every_redis_setting_is_known(theirs: &mut TcpStream, ours: &mut TcpStream) {
    theirs
        .write_all(&request(&["CONFIG", "GET", "*"]))
        .expect("write redis");
    let all = read_reply(theirs);
    let text = String::from_utf8_lossy(&all);
    let lines: Vec<&str> = text.split("\r\n").collect();
    // A flat array of bulk strings: `$len`, name, `$len`, value, ...
    let names: Vec<&str> = lines[1..]
        .chunks(4)
        .filter_map(|c| c.get(1).copied())
        .collect();
    assert!(names.len() > 150, "{} parameters", names.len());
    for name in names {
        ours.write_all(&request(&["CONFIG", "GET", name]))
            .expect("write gdc");
        let got = read_reply(ours);
        assert!(
            got.starts_with(b"*2\r\n"),
            "CONFIG GET {name}: {}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// Sharded pub/sub (one shard per node): SSUBSCRIBE, SPUBLISH, SUNSUBSCRIBE and PUBSUB
/// SHARD*, with two clients each side, RESP2 then RESP3, compared byte for byte.
#[test]
fn sharded_pubsub_matches_redis_server() {
    let Some(redis) = Redis::start("sharded_pubsub_matches_redis_server") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    for resp in ["2", "3"] {
        let mut theirs = [redis.connect(), redis.connect()];
        let mut ours = [node.raw(), node.raw()];
        for c in theirs.iter_mut().chain(ours.iter_mut()) {
            call(c, &["HELLO", resp]);
        }
        // (which client, the command): a (un)subscribe gets a reply per channel, and a
        // publish that reached client 0 is followed by what it read.
        let script: &[(usize, &[&str])] = &[
            (0, &["SSUBSCRIBE", "c1", "c2"]),
            (0, &["SUBSCRIBE", "n1"]),
            (1, &["PUBSUB", "SHARDCHANNELS", "c1*"]),
            (1, &["PUBSUB", "SHARDNUMSUB", "c1", "zz"]),
            (1, &["PUBSUB", "NUMSUB", "c1"]),
            (1, &["PUBLISH", "c1", "not to a shard channel"]),
            (1, &["SPUBLISH", "n1", "not to a channel"]),
            (1, &["SPUBLISH", "c1", "hi"]),
            (0, &["SUNSUBSCRIBE", "c1"]),
            (0, &["SUNSUBSCRIBE"]),
            (0, &["SUNSUBSCRIBE"]),
            (0, &["UNSUBSCRIBE"]),
            (1, &["PUBSUB", "SHARDCHANNELS"]),
            (1, &["PUBSUB", "HELP"]),
        ];
        for (who, cmd) in script {
            let replies = if cmd[0].ends_with("SUBSCRIBE") {
                cmd.len().saturating_sub(1).max(1)
            } else {
                1
            };
            theirs[*who].write_all(&request(cmd)).expect("write redis");
            ours[*who].write_all(&request(cmd)).expect("write gdc");
            let want: Vec<u8> = (0..replies)
                .flat_map(|_| read_reply(&mut theirs[*who]))
                .collect();
            let got: Vec<u8> = (0..replies)
                .flat_map(|_| read_reply(&mut ours[*who]))
                .collect();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "RESP{resp} reply to {cmd:?}"
            );
            if cmd[0] == "SPUBLISH" && want != b":0\r\n" {
                let (want, got) = (read_reply(&mut theirs[0]), read_reply(&mut ours[0]));
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want),
                    "RESP{resp} message of {cmd:?}"
                );
            }
        }
    }
}

/// Keyspace notifications (`notify-keyspace-events KEA` with `n` and `m`): every write
/// command's events, their order and channels, as redis-server sends them, read by a
/// subscriber to every keyspace and keyevent channel. After each command a marker message
/// is published, so each command's events are compared on their own.
#[test]
fn keyspace_events_match_redis_server() {
    let Some(redis) = Redis::start("keyspace_events_match_redis_server") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let script: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["SET", "k", "v2", "EX", "100"],
        &["SETNX", "k", "x"],
        &["SETNX", "k2", "x"],
        &["SETEX", "k3", "100", "v"],
        &["PSETEX", "k4", "100000", "v"],
        &["GETSET", "k", "v3"],
        &["GETDEL", "k2"],
        &["GETDEL", "k2"],
        &["MSET", "a", "1", "b", "2"],
        &["MSETNX", "a", "1", "c", "3"],
        &["APPEND", "a", "xx"],
        &["SETRANGE", "a", "1", "Z"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["DECR", "n"],
        &["DECRBY", "n", "2"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["GETEX", "k3", "PERSIST"],
        &["GETEX", "k3", "PERSIST"],
        &["GETEX", "k3", "EX", "100"],
        &["GETEX", "k3", "EXAT", "1"],
        &["GET", "nokey"],
        &["MGET", "a", "nokey"],
        &["EXPIRE", "a", "100"],
        &["EXPIRE", "a", "-1"],
        &["PERSIST", "c"],
        &["EXPIRE", "c", "100"],
        &["PERSIST", "c"],
        &["DEL", "c", "nokey"],
        &["RENAME", "k", "kk"],
        &["RENAMENX", "kk", "n"],
        &["RENAME", "kk", "kk"],
        &["RENAME", "kk", "n"],
        &["HSET", "h", "f", "1", "g", "2"],
        &["HSETNX", "h", "f", "1"],
        &["HSETNX", "h", "z", "1"],
        &["HMSET", "h", "a", "1"],
        &["HINCRBY", "h", "f", "2"],
        &["HINCRBYFLOAT", "h", "f", "0.5"],
        &["HDEL", "h", "nope"],
        &["HDEL", "h", "f", "g", "z", "a"],
        &["SADD", "s", "a", "b"],
        &["SADD", "s", "a"],
        &["SREM", "s", "x"],
        &["SREM", "s", "a"],
        &["SPOP", "s"],
        &["SADD", "s1", "a", "b", "c"],
        &["SADD", "s2", "c", "d"],
        &["SINTERSTORE", "s3", "s1", "s2"],
        &["SUNIONSTORE", "s3", "s1", "s2"],
        &["SDIFFSTORE", "s3", "s1", "s1"],
        &["SDIFFSTORE", "s3", "s1", "s1"],
        &["SMOVE", "s1", "s2", "a"],
        &["SMOVE", "s1", "s2", "c"],
        &["SMOVE", "s1", "s9", "b"],
        &["SPOP", "s2", "5"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "XX", "5", "zz"],
        &["ZADD", "z", "INCR", "2", "a"],
        &["ZINCRBY", "z", "1", "b"],
        &["ZREM", "z", "nope"],
        &["ZREM", "z", "c"],
        &["ZADD", "z", "4", "d", "5", "e", "6", "f"],
        &["ZREMRANGEBYSCORE", "z", "4", "4"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["ZADD", "zl", "0", "a", "0", "b"],
        &["ZREMRANGEBYLEX", "zl", "[a", "[a"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z", "5"],
        &["ZADD", "za", "1", "x", "2", "y"],
        &["ZADD", "zb", "2", "y"],
        &["ZUNIONSTORE", "zc", "2", "za", "zb"],
        &["ZINTERSTORE", "zc", "2", "za", "zb"],
        &["ZDIFFSTORE", "zc", "2", "za", "za"],
        &["ZRANGESTORE", "zd", "za", "0", "-1"],
        &["ZMPOP", "1", "za", "MIN", "COUNT", "5"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LPUSH", "l", "z"],
        &["LPUSHX", "nol", "a"],
        &["RPUSHX", "l", "d"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LINSERT", "l", "BEFORE", "a", "x"],
        &["LSET", "l", "0", "y"],
        &["LREM", "l", "0", "nope"],
        &["LREM", "l", "1", "y"],
        &["LTRIM", "l", "0", "0"],
        &["LTRIM", "l", "1", "0"],
        &["LTRIM", "l", "1", "0"],
        &["RPUSH", "l1", "a", "b"],
        &["LMOVE", "l1", "l2", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l1", "l2"],
        &["LMOVE", "l2", "l2", "LEFT", "LEFT"],
        &["RPUSH", "one", "a"],
        &["LMOVE", "one", "one", "LEFT", "RIGHT"],
        &["LMPOP", "1", "l2", "LEFT", "COUNT", "10"],
        &["RPUSH", "bl", "a"],
        &["BLPOP", "bl", "1"],
        &["SET", "mv", "1"],
        &["MOVE", "mv", "1"],
        &["COPY", "s3", "s4"],
        &["COPY", "zd", "s4", "REPLACE"],
        &["RPUSH", "sl", "3", "1", "2"],
        &["SORT", "sl", "STORE", "sd"],
        &["SORT", "nolist", "STORE", "sd"],
        &[
            "DEL", "s4", "sd", "sl", "zd", "n", "f", "k3", "k4", "b", "one", "zb", "s2",
        ],
    ];
    let marker = "__keyspace@0__:marker";
    let events_of = |server: &str, writer: &mut TcpStream, sub: &mut TcpStream| {
        call(
            writer,
            &["CONFIG", "SET", "notify-keyspace-events", "KEAnm"],
        );
        let subscribed = call(sub, &["PSUBSCRIBE", "__key*__:*"]);
        assert!(
            subscribed.starts_with(b"*3\r\n$10\r\npsubscribe"),
            "{server}"
        );
        let mut all = Vec::new();
        for cmd in script {
            call(writer, cmd);
            call(writer, &["PUBLISH", marker, "end"]);
            let mut events = Vec::new();
            loop {
                let message = bulks(&read_reply(sub));
                if message[2] == marker.as_bytes() {
                    break;
                }
                events.push(format!(
                    "{} {}",
                    String::from_utf8_lossy(&message[2]),
                    String::from_utf8_lossy(&message[3])
                ));
            }
            all.push(events);
        }
        all
    };
    let want = events_of("redis", &mut redis.connect(), &mut redis.connect());
    let got = events_of("gdc", &mut node.raw(), &mut node.raw());
    for ((cmd, want), got) in script.iter().zip(&want).zip(&got) {
        assert_eq!(got, want, "the events of {cmd:?}");
    }
}

/// ACL as redis-server 7.0 answers it: SETUSER's rules and errors, GETUSER, LIST, USERS,
/// WHOAMI, DRYRUN, DELUSER, AUTH and the NOPERM refusals word for word, the ACL LOG
/// entries (all but their age and client line), `requirepass` as the default user's
/// password, CLIENT KILL USER. An admin connection and a user's, RESP2 then RESP3.
#[test]
fn acl_matches_redis_server() {
    let Some(redis) = Redis::start("acl_matches_redis_server") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    // (which connection: 0 the admin, 1 a user's; the command)
    let script: &[(usize, &[&str])] = &[
        (
            0,
            &[
                "ACL",
                "SETUSER",
                "antirez",
                ">foo",
                "on",
                "+set",
                "~object:1234",
            ],
        ),
        (
            0,
            &[
                "ACL",
                "SETUSER",
                "antirez",
                "resetchannels",
                "+@pubsub",
                "&chan:*",
            ],
        ),
        (0, &["ACL", "GETUSER", "antirez"]),
        (0, &["ACL", "GETUSER", "nobody"]),
        (0, &["ACL", "LIST"]),
        (0, &["ACL", "USERS"]),
        (0, &["ACL", "WHOAMI"]),
        (0, &["ACL", "SETUSER", "x", "badrule"]),
        (0, &["ACL", "SETUSER", "x", "+nosuchcommand"]),
        (0, &["ACL", "SETUSER", "x", "allkeys", "~a"]),
        (0, &["ACL", "SETUSER", "x", "(+get"]),
        (0, &["ACL", "SETUSER", "x y", "on"]),
        (0, &["ACL", "SETUSER", "x", "#abc"]),
        (0, &["ACL", "USERS"]),
        (
            0,
            &[
                "ACL",
                "SETUSER",
                "sel",
                "on",
                "nopass",
                "+get",
                "~a*",
                "(+set ~b*)",
                "(%R~c* +@read)",
            ],
        ),
        (0, &["ACL", "GETUSER", "sel"]),
        (0, &["ACL", "DRYRUN", "sel", "get", "a1"]),
        (0, &["ACL", "DRYRUN", "sel", "get", "b1"]),
        (0, &["ACL", "DRYRUN", "sel", "set", "b1", "v"]),
        (0, &["ACL", "DRYRUN", "sel", "set", "c1", "v"]),
        (0, &["ACL", "DRYRUN", "sel", "strlen", "c1"]),
        (0, &["ACL", "DRYRUN", "antirez", "get", "foo"]),
        (0, &["ACL", "DRYRUN", "antirez", "set", "object:1234", "v"]),
        (0, &["ACL", "DRYRUN", "antirez", "set", "other", "v"]),
        (0, &["ACL", "DRYRUN", "antirez", "publish", "chan:1", "m"]),
        (0, &["ACL", "DRYRUN", "antirez", "publish", "other", "m"]),
        (0, &["ACL", "DRYRUN", "nouser", "get", "x"]),
        (0, &["ACL", "DRYRUN", "antirez", "nosuchcommand"]),
        (0, &["ACL", "DRYRUN", "antirez", "get"]),
        (0, &["ACL", "CAT", "nope"]),
        (0, &["ACL", "GENPASS", "0"]),
        (0, &["ACL", "GENPASS", "x"]),
        (0, &["ACL", "DELUSER", "default"]),
        (0, &["ACL", "DELUSER", "nobody", "sel"]),
        (0, &["ACL", "SAVE"]),
        (0, &["ACL", "LOAD"]),
        (0, &["ACL", "LOG", "x"]),
        (0, &["ACL", "LOG", "RESET"]),
        (1, &["AUTH", "antirez", "wrong"]),
        (1, &["AUTH", "nobody", "foo"]),
        (1, &["AUTH", "antirez", "foo"]),
        (1, &["ACL", "WHOAMI"]),
        (1, &["GET", "foo"]),
        (1, &["GET", "foo"]),
        (1, &["SET", "somekeynotallowed", "1"]),
        (1, &["SET", "object:1234", "1"]),
        (1, &["PUBLISH", "chan:1", "x"]),
        (1, &["PUBLISH", "other", "x"]),
        (1, &["CLIENT", "ID"]),
        (1, &["MULTI"]),
        (1, &["MULTI"]),
        (1, &["AUTH", "default", "anything"]),
        (1, &["ACL", "WHOAMI"]),
        (0, &["ACL", "LOG"]),
        (0, &["ACL", "LOG", "2"]),
        (0, &["CLIENT", "KILL", "USER", "nouser"]),
        (0, &["CONFIG", "SET", "requirepass", "secret"]),
        (0, &["ACL", "LIST"]),
        (0, &["AUTH", "wrong"]),
        (0, &["AUTH", "secret"]),
        (0, &["CONFIG", "SET", "requirepass", ""]),
        (0, &["ACL", "LIST"]),
        (0, &["AUTH", "x"]),
        (0, &["ACL", "SETUSER", "antirez", "reset"]),
        (0, &["ACL", "GETUSER", "antirez"]),
        (0, &["ACL", "DELUSER", "antirez"]),
        (0, &["ACL", "USERS"]),
    ];
    // ACL LOG's age and client line are this moment's and this connection's.
    let comparable = |reply: Vec<u8>| -> String {
        let text = String::from_utf8_lossy(&reply).into_owned();
        let mut lines: Vec<&str> = text.split("\r\n").collect();
        for i in 0..lines.len() {
            if matches!(lines[i], "age-seconds" | "client-info") && i + 2 < lines.len() {
                lines[i + 1] = "";
                lines[i + 2] = "";
            }
        }
        lines.join("\r\n")
    };
    for resp in ["2", "3"] {
        let mut theirs = [redis.connect(), redis.connect()];
        let mut ours = [node.raw(), node.raw()];
        for c in theirs.iter_mut().chain(ours.iter_mut()) {
            call(c, &["HELLO", resp]);
        }
        for (who, cmd) in script {
            let want = comparable(call(&mut theirs[*who], cmd));
            let got = comparable(call(&mut ours[*who], cmd));
            // CLIENT ID differs by how many clients each server has seen.
            if cmd[0] != "CLIENT" || cmd[1] != "ID" {
                assert_eq!(got, want, "RESP{resp} reply to {cmd:?}");
            }
        }
        for c in theirs.iter_mut().chain(ours.iter_mut()) {
            call(c, &["ACL", "LOG", "RESET"]);
        }
    }
}

/// Geo commands, byte for byte: positions to the 17th decimal, distances to the 4th, the
/// order of unsorted and ANY results (the cells read in Redis's order), every error, and the
/// RESP3 forms.
#[test]
fn geo_replies_match_redis_server() {
    let Some(redis) = Redis::start("geo_replies_match_redis_server") else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();
    // A grid of points around Sicily, so that searches cross cell edges.
    let mut points: Vec<Vec<String>> = Vec::new();
    for i in 0..12 {
        let mut add = vec!["GEOADD".to_string(), "grid".to_string()];
        for j in 0..12 {
            let long = 12.0 + f64::from(i) * 0.37;
            let lat = 36.5 + f64::from(j) * 0.23;
            add.extend([format!("{long}"), format!("{lat}"), format!("p{i}-{j}")]);
        }
        points.push(add);
    }
    // One command per line, its arguments split at spaces.
    let script = [
        "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD Sicily NX CH 13.361389 38.115556 Palermo 2.1 3.2 x",
        "GEOADD Sicily XX CH 13.4 38.1 Palermo",
        "GEOADD Sicily XX NX 1 2 m",
        "GEOADD Sicily 1 2",
        "GEOADD Sicily 181 0 bad",
        "GEOADD Sicily 10 86 bad",
        "GEOADD Sicily ten 6 bad",
        "GEODIST Sicily Palermo Catania",
        "GEODIST Sicily Palermo Catania KM",
        "GEODIST Sicily Palermo Catania mi",
        "GEODIST Sicily Palermo Catania ft",
        "GEODIST Sicily Palermo Catania parsec",
        "GEODIST Sicily Palermo nope",
        "GEODIST nokey a b",
        "GEOPOS Sicily Palermo Catania nope",
        "GEOHASH Sicily Palermo Catania x nope",
        "GEORADIUS grid 13.5 37.6 60 km",
        "GEORADIUS grid 13.5 37.6 60 km DESC WITHDIST WITHHASH WITHCOORD",
        "GEORADIUS grid 13.5 37.6 200 km COUNT 5",
        "GEORADIUS grid 13.5 37.6 200 km COUNT 5 ANY",
        "GEORADIUS grid 13.5 37.6 5000 km COUNT 3 ANY WITHDIST",
        "GEORADIUS grid 13.5 37.6 -1 km",
        "GEORADIUS grid 13.5 37.6 x km",
        "GEORADIUS grid 13.5 37.6 1 km COUNT 0",
        "GEORADIUS grid 13.5 37.6 1 km ANY",
        "GEORADIUS grid 13.5 37.6 1 km STORE d WITHDIST",
        "GEORADIUS grid 13.5 37.6 50 km STORE d",
        "ZRANGE d 0 -1 WITHSCORES",
        "GEORADIUS grid 13.5 37.6 50 km STOREDIST d",
        "ZRANGE d 0 -1 WITHSCORES",
        "GEORADIUS_RO grid 13.5 37.6 50 km STORE d",
        "GEORADIUSBYMEMBER grid p3-3 40 km ASC WITHDIST",
        "GEORADIUSBYMEMBER grid nope 40 km",
        "GEORADIUSBYMEMBER nokey nope 40 km",
        "GEORADIUSBYMEMBER_RO grid p0-0 1000 mi COUNT 4",
        "GEOSEARCH grid FROMLONLAT 13.5 37.6 BYBOX 100 80 km ASC WITHCOORD",
        "GEOSEARCH grid FROMMEMBER p5-5 BYRADIUS 30 km",
        "GEOSEARCH grid FROMMEMBER nope BYRADIUS 30 km",
        "GEOSEARCH grid BYRADIUS 30 km",
        "GEOSEARCH grid FROMLONLAT 13.5 37.6",
        "GEOSEARCH grid FROMLONLAT 13.5 37.6 BYBOX -1 1 km",
        "GEOSEARCH grid FROMLONLAT 13.5 37.6 BYRADIUS 30 km STOREDIST",
        "GEOSEARCHSTORE d2 grid FROMLONLAT 13.5 37.6 BYRADIUS 30 km STOREDIST",
        "ZRANGE d2 0 -1 WITHSCORES",
        "GEOSEARCHSTORE d2 grid FROMLONLAT 13.5 37.6 BYRADIUS 30 km WITHDIST",
        "GEOSEARCHSTORE d2 nokey FROMLONLAT 13.5 37.6 BYRADIUS 30 km",
        "EXISTS d2",
        "COMMAND GETKEYS GEORADIUS grid 1 2 3 km STORE a STOREDIST b",
        "SET str x",
        "GEOPOS str a",
        "GEOADD str 1 2 a",
        "HELLO 3",
        "GEOPOS Sicily Palermo nope",
        "GEORADIUS grid 13.5 37.6 40 km WITHDIST WITHCOORD COUNT 2",
        "GEODIST Sicily Palermo Catania",
        "GEOHASH Sicily nope",
    ];
    let grid = points
        .iter()
        .map(|p| p.iter().map(String::as_str).collect::<Vec<_>>());
    let script = grid.chain(
        script
            .iter()
            .map(|line| line.split(' ').collect::<Vec<_>>()),
    );
    for args in script {
        if args[0] == "HELLO" {
            // The servers' versions and client ids differ: only the protocol matters.
            call(&mut theirs, &args);
            call(&mut ours, &args);
            continue;
        }
        same_reply(&mut theirs, &mut ours, &args);
    }
}

/// Sorted sets large enough to be held in many runs (crdt's `Ranked`): ranks, ranges by
/// rank, score and member, with and without LIMIT, from either end, counts, and removals
/// by range that join runs, each reply compared with redis-server's. Scores repeat, so
/// members of one score are ordered by name.
#[test]
fn large_sorted_set_queries_match_redis_server() {
    let Some(redis) = Redis::start("large_sorted_set_queries_match_redis_server") else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();
    let members = 3000u64;
    // Scores 0..300 (ten members each), in a scattered order; and a set of one score.
    let score = |i: u64| (i * 7919 % members) / 10;
    for chunk in (0..members).collect::<Vec<_>>().chunks(500) {
        let mut zadd = vec!["ZADD".to_string(), "big".to_string()];
        let mut names = vec!["ZADD".to_string(), "names".to_string()];
        for &i in chunk {
            zadd.extend([score(i).to_string(), format!("m{i}")]);
            names.extend(["0".to_string(), format!("n{:05}", i * 7919 % members)]);
        }
        same_reply(&mut theirs, &mut ours, &zadd);
        same_reply(&mut theirs, &mut ours, &names);
    }
    // Small inputs to intersect with the large one: a sorted set, a set, a set of members.
    let mut few = vec!["ZADD".to_string(), "few".to_string()];
    let mut tags = vec!["SADD".to_string(), "tags".to_string()];
    let mut bigset = vec!["SADD".to_string(), "bigset".to_string()];
    for i in (0..members).step_by(61) {
        few.extend([format!("{}.25", i % 7), format!("m{i}")]);
        tags.push(format!("m{}", i + (i % 2)));
    }
    for i in 0..members {
        bigset.push(format!("m{i}"));
    }
    for cmd in [&few, &tags, &bigset] {
        same_reply(&mut theirs, &mut ours, cmd);
    }
    let queries = |theirs: &mut TcpStream, ours: &mut TcpStream| {
        // Intersections: the smallest input is walked, the order of the folds is by size.
        let mut lines: Vec<String> = [
            "ZINTER 2 big few WITHSCORES",
            "ZINTER 3 big few tags WEIGHTS 0.1 0.3 0.7 WITHSCORES",
            "ZINTER 2 few big AGGREGATE MAX WITHSCORES",
            "ZINTERCARD 2 big few LIMIT 5",
            "ZINTERCARD 3 big few tags",
            "ZINTERSTORE inter 2 big few WEIGHTS 3 0.1",
            "ZRANGE inter 0 -1 WITHSCORES",
            "SINTERCARD 2 bigset tags",
            "SINTERCARD 2 tags bigset LIMIT 7",
            "SINTERSTORE sinter bigset tags nokey",
            "SINTERSTORE sinter tags bigset",
            "SCARD sinter",
            "ZINTER 2 big nokey",
        ]
        .map(String::from)
        .to_vec();
        for i in (0..members).step_by(97) {
            lines.push(format!("ZRANK big m{i}"));
            lines.push(format!("ZREVRANK big m{i}"));
        }
        for (a, b) in [
            (0, 9),
            (250, 270),
            (-5, -1),
            (-3000, 5),
            (2990, 4000),
            (700, 700),
            (9, 0),
        ] {
            lines.push(format!("ZRANGE big {a} {b} WITHSCORES"));
            lines.push(format!("ZREVRANGE big {a} {b}"));
        }
        for (min, max) in [
            ("10", "12"),
            ("(10", "12"),
            ("10", "(12"),
            ("-inf", "3"),
            ("295", "+inf"),
            ("50", "40"),
        ] {
            lines.push(format!("ZCOUNT big {min} {max}"));
            lines.push(format!("ZRANGEBYSCORE big {min} {max} WITHSCORES"));
            lines.push(format!("ZREVRANGEBYSCORE big {max} {min}"));
            lines.push(format!("ZRANGEBYSCORE big {min} {max} LIMIT 3 4"));
            lines.push(format!("ZREVRANGEBYSCORE big {max} {min} LIMIT 3 4"));
            lines.push(format!("ZRANGE big {min} {max} BYSCORE LIMIT 0 -1"));
        }
        lines.push("ZRANGEBYSCORE big -inf +inf LIMIT 2990 100".to_string());
        lines.push("ZREVRANGEBYSCORE big +inf -inf LIMIT 1500 3 WITHSCORES".to_string());
        for (lo, hi) in [
            ("[n00100", "[n00110"),
            ("(n00100", "(n00110"),
            ("-", "[n00005"),
            ("[n02995", "+"),
            ("(n02999", "+"),
            ("[b", "[a"),
        ] {
            lines.push(format!("ZLEXCOUNT names {lo} {hi}"));
            lines.push(format!("ZRANGEBYLEX names {lo} {hi}"));
            lines.push(format!("ZREVRANGEBYLEX names {hi} {lo} LIMIT 1 3"));
        }
        lines.push("ZCARD big".to_string());
        for line in lines {
            same_reply(theirs, ours, &line.split(' ').collect::<Vec<_>>());
        }
    };
    queries(&mut theirs, &mut ours);
    // Removals by range, then the same questions of what is left.
    for line in [
        "ZREMRANGEBYRANK big 100 1099",
        "ZREMRANGEBYSCORE big 150 (250",
        "ZREMRANGEBYLEX names [n00500 (n02500",
        "ZPOPMIN big 7",
        "ZPOPMAX big 5",
        "ZREM big m1 m2 m3 m4 m5",
        "ZADD big 42.5 m1 -1 m2",
        "ZINCRBY big 1000 m3",
    ] {
        same_reply(&mut theirs, &mut ours, &line.split(' ').collect::<Vec<_>>());
    }
    queries(&mut theirs, &mut ours);
}

/// Bitmap and bitfield commands, byte for byte: ranges in bytes and bits, BITPOS's edge
/// cases, every BITFIELD overflow mode, errors, and the keys COMMAND finds for BITFIELD.
#[test]
fn bit_replies_match_redis_server() {
    let Some(redis) = Redis::start("bit_replies_match_redis_server") else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();
    let script: &[&[&[u8]]] = &[
        &[b"SETBIT", b"b", b"7", b"1"],
        &[b"SETBIT", b"b", b"7", b"1"],
        &[b"SETBIT", b"b", b"100", b"1"],
        &[b"SETBIT", b"b", b"100", b"0"],
        &[b"SETBIT", b"b", b"3", b"2"],
        &[b"SETBIT", b"b", b"-1", b"1"],
        &[b"SETBIT", b"b", b"4294967296", b"1"],
        &[b"GETBIT", b"b", b"7"],
        &[b"GETBIT", b"b", b"1000"],
        &[b"GETBIT", b"nokey", b"3"],
        &[b"GET", b"b"],
        &[b"SET", b"s", b"foobar"],
        &[b"BITCOUNT", b"s"],
        &[b"BITCOUNT", b"s", b"1", b"1", b"BYTE"],
        &[b"BITCOUNT", b"s", b"5", b"30", b"BIT"],
        &[b"BITCOUNT", b"s", b"-3", b"-1"],
        &[b"BITCOUNT", b"s", b"-1", b"-3"],
        &[b"BITCOUNT", b"s", b"0"],
        &[b"BITCOUNT", b"s", b"0", b"1", b"bits"],
        &[b"BITCOUNT", b"nokey", b"0", b"1", b"bits"],
        &[b"SET", b"p", b"\xff\xf0\x00"],
        &[b"BITPOS", b"p", b"0"],
        &[b"BITPOS", b"p", b"1", b"2"],
        &[b"BITPOS", b"p", b"0", b"0", b"-1"],
        &[b"BITPOS", b"p", b"1", b"7", b"15", b"BIT"],
        &[b"BITPOS", b"p", b"0", b"7", b"15", b"BIT"],
        &[b"BITPOS", b"p", b"0", b"0", b"11", b"BIT"],
        &[b"BITPOS", b"p", b"2"],
        &[b"BITPOS", b"nokey", b"0"],
        &[b"BITPOS", b"nokey", b"1"],
        &[b"SET", b"q", b"\xff\xff"],
        &[b"BITPOS", b"q", b"0"],
        &[b"BITPOS", b"q", b"0", b"0", b"-1"],
        &[b"BITOP", b"AND", b"dest", b"s", b"p"],
        &[b"GET", b"dest"],
        &[b"BITOP", b"or", b"dest", b"s", b"p", b"q"],
        &[b"GET", b"dest"],
        &[b"BITOP", b"XOR", b"dest", b"s", b"p"],
        &[b"BITOP", b"NOT", b"dest", b"s"],
        &[b"GET", b"dest"],
        &[b"BITOP", b"NOT", b"dest", b"s", b"p"],
        &[b"BITOP", b"NAND", b"dest", b"s"],
        &[b"BITOP", b"AND", b"dest", b"nokey1", b"nokey2"],
        &[b"EXISTS", b"dest"],
        &[
            b"BITFIELD",
            b"bf",
            b"SET",
            b"u8",
            b"0",
            b"255",
            b"GET",
            b"u8",
            b"0",
        ],
        &[
            b"BITFIELD",
            b"bf",
            b"INCRBY",
            b"u2",
            b"100",
            b"1",
            b"OVERFLOW",
            b"SAT",
            b"INCRBY",
            b"u2",
            b"102",
            b"1",
        ],
        &[
            b"BITFIELD",
            b"bf",
            b"OVERFLOW",
            b"WRAP",
            b"INCRBY",
            b"i8",
            b"0",
            b"200",
            b"OVERFLOW",
            b"FAIL",
            b"INCRBY",
            b"i8",
            b"0",
            b"200",
            b"OVERFLOW",
            b"SAT",
            b"INCRBY",
            b"i8",
            b"0",
            b"-300",
        ],
        &[
            b"BITFIELD",
            b"bf",
            b"GET",
            b"i64",
            b"0",
            b"GET",
            b"u63",
            b"1",
            b"GET",
            b"i5",
            b"#3",
        ],
        &[
            b"BITFIELD",
            b"bf",
            b"SET",
            b"i64",
            b"0",
            b"-1",
            b"GET",
            b"u8",
            b"#1",
        ],
        &[b"BITFIELD", b"bf", b"SET", b"u64", b"0", b"1"],
        &[
            b"BITFIELD",
            b"bf",
            b"OVERFLOW",
            b"nope",
            b"SET",
            b"i8",
            b"0",
            b"1",
        ],
        &[b"BITFIELD", b"bf", b"GET", b"u8"],
        &[b"BITFIELD", b"bf", b"SET", b"u8", b"x", b"1"],
        &[
            b"BITFIELD_RO",
            b"bf",
            b"GET",
            b"u8",
            b"0",
            b"GET",
            b"i4",
            b"#2",
        ],
        &[b"BITFIELD_RO", b"bf", b"SET", b"u8", b"0", b"1"],
        &[
            b"BITFIELD",
            b"newbf",
            b"OVERFLOW",
            b"FAIL",
            b"INCRBY",
            b"u8",
            b"80",
            b"300",
        ],
        &[b"STRLEN", b"newbf"],
        &[b"GET", b"bf"],
        &[b"SADD", b"set", b"a"],
        &[b"GETBIT", b"set", b"0"],
        &[b"BITFIELD", b"set", b"GET", b"u8", b"0"],
        &[b"BITOP", b"AND", b"dest", b"set"],
        &[
            b"COMMAND",
            b"GETKEYSANDFLAGS",
            b"BITFIELD",
            b"k",
            b"GET",
            b"u8",
            b"0",
        ],
        &[
            b"COMMAND",
            b"GETKEYSANDFLAGS",
            b"BITFIELD",
            b"k",
            b"GET",
            b"u8",
            b"0",
            b"SET",
            b"u8",
            b"0",
            b"1",
        ],
    ];
    for args in script {
        same_reply(&mut theirs, &mut ours, args);
    }
}

/// HyperLogLogs, byte for byte: the strings PFADD and PFMERGE make (sparse, promoted to
/// dense), counts, errors, and HLLs moving between the servers as strings, either way.
#[test]
fn hll_replies_and_strings_match_redis_server() {
    let Some(redis) = Redis::start("hll_replies_and_strings_match_redis_server") else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();
    let mut script: Vec<Vec<Vec<u8>>> = Vec::new();
    let cmd = |args: &[&str]| {
        args.iter()
            .map(|a| a.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    for s in [
        &["PFADD", "h"][..],
        &["GET", "h"],
        &["PFADD", "h", "a", "b", "c"],
        &["PFADD", "h", "a", "b", "c"],
        &["GET", "h"],
        &["PFADD", "h2", "x", "y", "z", "a"],
        &["PFCOUNT", "h", "h2"],
        &["PFMERGE", "h3", "h", "h2"],
        &["GET", "h3"],
        &["PFMERGE", "h4", "nokey1", "nokey2"],
        &["GET", "h4"],
        &["SET", "s", "notanhll"],
        &["PFADD", "s", "a"],
        &["PFCOUNT", "s"],
        &["PFMERGE", "h3", "s"],
        &["SADD", "set", "a"],
        &["PFADD", "set", "a"],
        &["PFCOUNT", "nokey"],
    ] {
        script.push(cmd(s));
    }
    // A sparse HLL whose runs stop short of the 16384 registers: corrupt.
    let bad = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\x00".to_vec();
    script.push(vec![b"SET".to_vec(), b"bad".to_vec(), bad]);
    script.push(cmd(&["PFCOUNT", "bad"]));
    script.push(cmd(&["PFADD", "bad", "x"]));
    // Enough elements to promote one HLL to dense, in batches (no PFCOUNT between: Redis
    // would store its count in the header, gdc does not).
    for batch in 0..40 {
        let mut add = cmd(&["PFADD", "big"]);
        add.extend((0..100).map(|i| format!("e{batch}-{i}").into_bytes()));
        script.push(add);
    }
    script.push(cmd(&["GET", "big"]));
    script.push(cmd(&["STRLEN", "big"]));
    script.push(cmd(&["PFCOUNT", "big", "h"]));
    script.push(cmd(&["PFMERGE", "big2", "h", "big"]));
    script.push(cmd(&["GET", "big2"]));
    for s in [
        &["PFADD", "dbg", "a", "b", "c", "d", "e"][..],
        &["PFDEBUG", "ENCODING", "dbg"],
        &["PFDEBUG", "DECODE", "dbg"],
        &["PFDEBUG", "FOO", "dbg"],
        &["PFDEBUG", "ENCODING", "nokey"],
        &["PFDEBUG", "ENCODING", "s"],
        &["PFDEBUG", "TODENSE", "dbg"],
        &["PFDEBUG", "TODENSE", "dbg"],
        &["PFDEBUG", "DECODE", "dbg"],
        &["GET", "dbg"],
        &["PFADD", "dbg2", "x"],
        &["PFDEBUG", "GETREG", "dbg2"],
        &["GET", "dbg2"],
    ] {
        script.push(cmd(s));
    }
    // A count PFCOUNT remembered is not given for the key once it changes: after a PFADD
    // that changed it, a DEL and a new PFADD, a RENAME (keys no GET above reads: Redis
    // stores its counts in the strings).
    for s in [
        &["PFADD", "pc", "a", "b", "c"][..],
        &["PFCOUNT", "pc"],
        &["PFADD", "pc", "c"],
        &["PFCOUNT", "pc"],
        &["PFADD", "pc", "d", "e"],
        &["PFCOUNT", "pc"],
        &["DEL", "pc"],
        &["PFADD", "pc", "z"],
        &["PFCOUNT", "pc"],
        &["RENAME", "pc", "pc2"],
        &["PFCOUNT", "pc2"],
        &["PFCOUNT", "pc"],
        &["PFADD", "pc2", "y", "x"],
        &["PFCOUNT", "pc2"],
    ] {
        script.push(cmd(s));
    }
    for args in &script {
        same_reply(&mut theirs, &mut ours, args);
    }
    // An HLL moves as a string: counted (cache included) and grown in the other server.
    for forth in [true, false] {
        let (from, to) = if forth {
            (&mut theirs, &mut ours)
        } else {
            (&mut ours, &mut theirs)
        };
        let v = bulks(&call(from, &["GET", "big"])).remove(0);
        assert_eq!(call(to, &[&b"SET"[..], &b"moved"[..], &v[..]]), b"+OK\r\n");
        let counted = call(from, &["PFCOUNT", "big"]);
        assert_eq!(call(to, &["PFCOUNT", "moved"]), counted);
        assert_eq!(call(to, &["PFADD", "moved", "one-more"]), b":1\r\n");
    }
}

/// Stream commands with explicit ids (ids made by `*` carry the region's server-id in gdc:
/// docs/semantics.md), in RESP2 and RESP3, errors included: the same bytes as redis-server.
#[test]
fn stream_replies_match_redis_server() {
    let Some(redis) = Redis::start("stream_replies_match_redis_server") else {
        return;
    };
    let mut theirs = redis.connect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut ours = node.raw();
    let script: &[&[&str]] = &[
        &["XADD", "s", "1-1", "f", "v"],
        &["XADD", "s", "1-1", "f", "v"],
        &["XADD", "s", "0-0", "f", "v"],
        &["XADD", "s", "1-*", "f", "v2"],
        &["XADD", "s", "5", "a", "1", "b", "2"],
        &["XADD", "s", "5-*", "a", "1"],
        &["XADD", "s", "bad-id", "a", "1"],
        &["XADD", "s", "6-0", "a"],
        &["XADD", "s", "MAXLEN", "-1", "7-0", "a", "1"],
        &["XADD", "s", "MAXLEN", "5", "MINID", "1", "7-0", "a", "1"],
        &["XADD", "s", "LIMIT", "5", "7-0", "a", "1"],
        &["XADD", "s", "MAXLEN", "5", "LIMIT", "5", "7-0", "a", "1"],
        &["XADD", "nokey", "NOMKSTREAM", "1-1", "a", "1"],
        &["EXISTS", "nokey"],
        &["XADD", "s", "MAXLEN", "=", "4", "7-0", "x", "y"],
        &["XLEN", "s"],
        &["XRANGE", "s", "-", "+"],
        &["XRANGE", "s", "(1-1", "+", "COUNT", "2"],
        &["XRANGE", "s", "-", "+", "COUNT", "0"],
        &["XRANGE", "s", "5", "5"],
        &[
            "XRANGE",
            "s",
            "(18446744073709551615-18446744073709551615",
            "+",
        ],
        &["XRANGE", "s", "-", "(0-0"],
        &["XRANGE", "s", "-", "+", "COUNT"],
        &["XREVRANGE", "s", "+", "-", "COUNT", "2"],
        &["XRANGE", "nokey", "-", "+"],
        &["XDEL", "s", "1-2", "1-2", "99-9"],
        &["XDEL", "s", "bad"],
        &["XDEL", "nokey", "bad"],
        &["XTRIM", "s", "MAXLEN", "2"],
        &["XTRIM", "s", "MINID", "~", "0"],
        &["XTRIM", "s"],
        &["XTRIM", "s", "MAXLEN", "1", "NOMKSTREAM"],
        &["XTRIM", "nokey", "MAXLEN", "0"],
        &["XSETID", "s", "1-0"],
        &["XSETID", "s", "100-0", "ENTRIESADDED", "1"],
        &["XSETID", "s", "100-0", "ENTRIESADDED", "-1"],
        &["XSETID", "s", "100-0", "MAXDELETEDID", "200-0"],
        &[
            "XSETID",
            "s",
            "100-0",
            "ENTRIESADDED",
            "50",
            "MAXDELETEDID",
            "50-0",
        ],
        &["XSETID", "nokey", "1-0"],
        &["XSETID", "s", "1-1", "0"],
        &["XADD", "s", "99-0", "a", "1"],
        &["SET", "str", "x"],
        &["XADD", "str", "1-1", "a", "1"],
        &["XRANGE", "str", "-", "+"],
        &["XLEN", "str"],
        &["XREAD", "COUNT", "1", "STREAMS", "s", "nokey", "0", "0"],
        &["XREAD", "STREAMS", "s", "$"],
        &["XREAD", "STREAMS", "s"],
        &["XREAD", "STREAMS", "s", ">"],
        &["XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"],
        &["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"],
        &["XREAD", "COUNT", "1", "STREAMS", "str", "0"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "nokey", "g", "$"],
        &[
            "XGROUP",
            "CREATE",
            "new",
            "g",
            "$",
            "MKSTREAM",
            "ENTRIESREAD",
            "3",
        ],
        &["XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "-2"],
        &["XGROUP", "CREATE", "s", "g3", "0", "BOGUS"],
        &["XGROUP", "SETID", "s", "nogroup", "0"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c1"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c1"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"],
        &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "$"],
        &["XREADGROUP", "GROUP", "nogroup", "c1", "STREAMS", "s", ">"],
        &["XREADGROUP", "STREAMS", "s", ">"],
        &["XPENDING", "s", "g"],
        &["XPENDING", "s", "g", "-", "+", "10", "nobody"],
        &["XPENDING", "s", "nogroup"],
        &["XPENDING", "s", "g", "-", "+"],
        &["XACK", "s", "g", "5-0", "5-0", "1-1"],
        &["XACK", "s", "g", "bad"],
        &["XACK", "s", "nogroup", "bad"],
        &["XCLAIM", "s", "g", "c3", "0", "7-0", "JUSTID"],
        &["XCLAIM", "s", "g", "c3", "0", "7-0", "BOGUS"],
        &["XCLAIM", "s", "g", "c3", "x", "7-0"],
        &["XCLAIM", "s", "g", "c3", "0", "7-0", "IDLE", "x"],
        &[
            "XAUTOCLAIM",
            "s",
            "g",
            "c4",
            "0",
            "0",
            "COUNT",
            "1",
            "JUSTID",
        ],
        &["XAUTOCLAIM", "s", "g", "c4", "0", "0", "COUNT", "0"],
        &["XPENDING", "s", "g"],
        &["XINFO", "GROUPS", "s"],
        &["XINFO", "GROUPS", "nokey"],
        &["XINFO", "CONSUMERS", "s", "nogroup"],
        &["XINFO", "STREAM", "s", "FULL", "BOGUS"],
        &["XINFO", "HELP"],
        &["XGROUP", "HELP"],
        &["XINFO", "HELP", "extra"],
        &["XGROUP", "DELCONSUMER", "s", "g", "c3"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XINFO", "GROUPS", "s"],
    ];
    for args in script {
        same_reply(&mut theirs, &mut ours, args);
    }
    // RESP3: XREAD answers a map of streams.
    for s in [&mut theirs, &mut ours] {
        assert!(call(s, &["HELLO", "3"]).starts_with(b"%"));
    }
    for args in [
        &["XREAD", "STREAMS", "s", "new", "0", "0"][..],
        &["XREAD", "STREAMS", "new", "0"],
        &["XINFO", "GROUPS", "new"],
        &["XPENDING", "new", "g"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "new", "0"],
    ] {
        same_reply(&mut theirs, &mut ours, args);
    }
}
