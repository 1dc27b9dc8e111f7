//! Lua scripts over real sockets: EVAL's replies and errors as Redis 7.0 gives them, the
//! sandbox, the script cache, and a script's writes reaching another region whole.

mod common;

use common::{TestNode, sync_listener, wait_for};
use gdc_node::config::Peer;
use redis::Value;
use std::time::Duration;

const CONVERGE: Duration = Duration::from_secs(60);

fn eval(c: &mut redis::Connection, script: &str, keys: &[&str], args: &[&str]) -> Value {
    redis::cmd("EVAL")
        .arg(script)
        .arg(keys.len())
        .arg(keys)
        .arg(args)
        .query(c)
        .unwrap_or_else(|e| Value::SimpleString(format!("error: {e}")))
}

/// The error reply a script gets, as text (`CODE message`).
fn eval_error(c: &mut redis::Connection, script: &str) -> String {
    match redis::cmd("EVAL").arg(script).arg(0).query::<Value>(c) {
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            format!("{code} {}", e.detail().unwrap_or(""))
        }
        Ok(v) => panic!("{script}: no error but {v:?}"),
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

/// `clients` clients of `node`, each on a thread of its own, each running `each(its index,
/// its connection)` `times` times.
fn clients_in_threads(
    node: &TestNode,
    clients: usize,
    times: usize,
    each: impl Fn(usize, &mut redis::Connection) + Send + Copy + 'static,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..clients)
        .map(|i| {
            let mut c = node.client();
            std::thread::spawn(move || {
                for _ in 0..times {
                    each(i, &mut c);
                }
            })
        })
        .collect()
}

#[test]
fn scripts_answer_as_redis_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    assert_eq!(eval(&mut c, "return 1", &[], &[]), Value::Int(1));
    assert_eq!(eval(&mut c, "return 3.99", &[], &[]), Value::Int(3));
    assert_eq!(
        eval(&mut c, "return {1,2,3,'ciao',{1,2}}", &[], &[]),
        Value::Array(vec![
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            bulk("ciao"),
            Value::Array(vec![Value::Int(1), Value::Int(2)]),
        ])
    );
    // An array ends at its first nil; false is a nil reply, true is 1.
    assert_eq!(
        eval(&mut c, "return {1,2,nil,4}", &[], &[]),
        Value::Array(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(eval(&mut c, "return false", &[], &[]), Value::Nil);
    // A blocking command a script may call (BLMPOP; BLPOP is `noscript`, as in Redis) does
    // not block there: it answers as at its timeout, even with timeout 0 (forever).
    assert_eq!(
        eval(
            &mut c,
            "return redis.call('blmpop', 0, 1, 'nolist', 'LEFT')",
            &[],
            &[]
        ),
        Value::Nil
    );
    assert_eq!(
        eval(
            &mut c,
            "return redis.acl_check_cmd('set', 'x', '1')",
            &[],
            &[]
        ),
        Value::Int(1)
    );
    assert_eq!(eval(&mut c, "return true", &[], &[]), Value::Int(1));
    assert_eq!(
        eval(&mut c, "return redis.status_reply('FINE')", &[], &[]),
        Value::SimpleString("FINE".into())
    );
    assert_eq!(
        eval(
            &mut c,
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["k"],
            &["v"]
        ),
        Value::Okay
    );
    assert_eq!(
        eval(&mut c, "return redis.call('get', KEYS[1])", &["k"], &[]),
        bulk("v")
    );
    // A missing value is false in Lua; a status reply a table with `ok`.
    assert_eq!(
        eval(
            &mut c,
            "local v = redis.call('get', 'nosuch'); local s = redis.call('set', 'a', 'b'); \
             return {type(v), tostring(v), s.ok}",
            &[],
            &[]
        ),
        Value::Array(vec![bulk("boolean"), bulk("false"), bulk("OK")])
    );
    // Numbers reach commands as %.17g writes them.
    eval(&mut c, "redis.call('set', 'n', 0.1)", &[], &[]);
    let n: String = redis::cmd("GET").arg("n").query(&mut c).expect("GET");
    assert_eq!(n, "0.10000000000000001");
    // Whole numbers too: as integers up to 17 digits, beyond that as %.17g (redis-server
    // 7.0.15 stores "4.6116860184273879e+18" for 2^62), and a negative zero as "-0".
    assert_eq!(
        eval(
            &mut c,
            "redis.call('set', 'n', 2^62) redis.call('set', 'm', -0.0) \
             redis.call('set', 'o', 1e16) redis.call('set', 'p', -42) \
             return redis.call('mget', 'n', 'm', 'o', 'p')",
            &[],
            &[]
        ),
        Value::Array(
            ["4.6116860184273879e+18", "-0", "10000000000000000", "-42"]
                .map(bulk)
                .to_vec()
        )
    );
    // RESP3 inside the script: a map reply is a table with `map`.
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("1")
        .query(&mut c)
        .expect("HSET");
    assert_eq!(
        eval(
            &mut c,
            "redis.setresp(3); local m = redis.call('hgetall', 'h'); return m.map.f",
            &[],
            &[]
        ),
        bulk("1")
    );
    // The cjson, struct and bit libraries.
    assert_eq!(
        eval(
            &mut c,
            "return {cjson.encode({a = {1, 2, 'x/y'}}), tostring(cjson.decode('[true, null, 1.5]')[3])}",
            &[],
            &[]
        ),
        Value::Array(vec![bulk(r#"{"a":[1,2,"x\/y"]}"#), bulk("1.5")])
    );
    assert_eq!(
        eval(
            &mut c,
            "return {bit.band(0xff, 0x0f), bit.tohex(65535), struct.unpack('>I2', struct.pack('>I2', 513))}",
            &[],
            &[]
        ),
        Value::Array(vec![
            Value::Int(15),
            bulk("0000ffff"),
            Value::Int(513),
            Value::Int(3)
        ])
    );
    let e = eval_error(&mut c, "local t = cjson.decode('x')");
    assert!(
        e.starts_with("ERR user_script:1: Expected value but found invalid token at character 1"),
        "{e}"
    );
    assert_eq!(
        eval(
            &mut c,
            "return redis.sha1hex('Pizza & Mandolino')",
            &[],
            &[]
        ),
        bulk("74822d82031af7493c20eefa13bd07ec4fada82f")
    );
    // A 100 MB return value comes back whole, and the node serves on.
    let big = eval(
        &mut c,
        "return string.rep('x', 100 * 1024 * 1024)",
        &[],
        &[],
    );
    match big {
        Value::BulkString(b) => {
            assert_eq!(b.len(), 100 * 1024 * 1024);
            assert!(b.iter().all(|&x| x == b'x'));
        }
        other => panic!("not a bulk string: {other:?}"),
    }
    // A command of thousands of arguments.
    assert_eq!(
        eval(
            &mut c,
            "local a = {} for i = 1, 7999 do a[i] = 1 end \
             return redis.call('lpush', 'many', unpack(a))",
            &[],
            &[]
        ),
        Value::Int(7999)
    );
    // cmsgpack, as Redis's tests use it.
    assert_eq!(
        eval(
            &mut c,
            "local s = cmsgpack.pack({1, 'two', {three = 3}}) \
             local t = cmsgpack.unpack(s) return {#s, t[2], t[3].three}",
            &[],
            &[]
        ),
        Value::Array(vec![Value::Int(14), bulk("two"), Value::Int(3)])
    );
    // SORT of a set by a constant is ordered in a script (Redis keeps scripts' results
    // deterministic so), and not outside one.
    let _: i64 = redis::cmd("SADD")
        .arg("myset")
        .arg(&["c", "a", "b", "aa"])
        .query(&mut c)
        .expect("SADD");
    assert_eq!(
        eval(
            &mut c,
            "return redis.call('sort', KEYS[1], 'by', '_', 'get', '#', 'get', '_:*')",
            &["myset"],
            &[]
        ),
        Value::Array(
            ["a", "aa", "b", "c"]
                .iter()
                .flat_map(|m| [bulk(m), Value::Nil])
                .collect()
        )
    );
}

#[test]
fn script_errors_are_redis_s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("text")
        .query(&mut c)
        .expect("SET");
    let sha = |body: &str| gdc_node::script::sha1_hex(body.as_bytes());
    let script = "return redis.call('incr', 's')";
    assert_eq!(
        eval_error(&mut c, script),
        format!(
            "ERR value is not an integer or out of range script: {}, on @user_script:1.",
            sha(script)
        )
    );
    // pcall returns the error; the script returns it as its reply.
    assert_eq!(
        eval_error(&mut c, "return redis.pcall('incr', 's')"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        eval(
            &mut c,
            "local ok, e = pcall(redis.call, 'incr', 's'); return {tostring(ok), e}",
            &[],
            &[]
        ),
        Value::Array(vec![
            bulk("false"),
            bulk("ERR value is not an integer or out of range")
        ])
    );
    assert_eq!(
        eval_error(&mut c, "return redis.error_reply('MY code here')"),
        "MY code here"
    );
    assert_eq!(
        eval_error(&mut c, "return 'x' .."),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
    for (script, error) in [
        (
            "return redis.call('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "return redis.call('get')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "return redis.call('eval', 'return 1', '0')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "return redis.call('get', {})",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "return a",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'a'",
        ),
        (
            "return redis.acl_check_cmd('nosuch')",
            "ERR Invalid command passed to redis.acl_check_cmd()",
        ),
    ] {
        assert_eq!(
            eval_error(&mut c, script),
            format!("{error} script: {}, on @user_script:1.", sha(script)),
            "{script}"
        );
    }
    for (args, error) in [
        (
            vec!["return 1", "2", "a"],
            "ERR Number of keys can't be greater than number of args",
        ),
        (
            vec!["return 1", "-1"],
            "ERR Number of keys can't be negative",
        ),
        (
            vec!["return 1", "x"],
            "ERR value is not an integer or out of range",
        ),
    ] {
        let e = redis::cmd("EVAL")
            .arg(&args)
            .query::<Value>(&mut c)
            .expect_err("refused");
        assert_eq!(
            format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
            error
        );
    }
    // Read-only scripts: EVAL_RO, and the no-writes flag.
    let ro = redis::cmd("EVAL_RO")
        .arg("return redis.call('set', 'a', 'b')")
        .arg(0)
        .query::<Value>(&mut c)
        .expect_err("refused");
    assert!(
        ro.detail()
            .unwrap_or("")
            .starts_with("Write commands are not allowed from read-only scripts."),
        "{ro}"
    );
    let flagged = "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')";
    assert!(eval_error(&mut c, flagged).starts_with("ERR Write commands are not allowed"));
    assert_eq!(
        eval_error(&mut c, "#!lua flags=bogus\nreturn 1"),
        "ERR Unexpected flag in script shebang: bogus"
    );
    let ro_flagged = redis::cmd("EVAL_RO")
        .arg("#!lua\nreturn 1")
        .arg(0)
        .query::<Value>(&mut c)
        .expect_err("refused");
    assert_eq!(
        ro_flagged.detail(),
        Some("Can not execute a script with write flag using *_ro command.")
    );
    // An error reply is counted once in INFO errorstats: by the command that failed inside
    // the script, or by the script itself.
    let errorstats = |c: &mut redis::Connection| -> String {
        let info: String = redis::cmd("INFO").arg("errorstats").query(c).expect("INFO");
        info.lines()
            .filter(|l| l.starts_with("errorstat_"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("RESETSTAT");
    eval_error(&mut c, "return redis.call('incr', 's')");
    assert_eq!(errorstats(&mut c), "errorstat_ERR:count=1");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("RESETSTAT");
    eval_error(&mut c, "return redis.error_reply('MY_CODE custom')");
    assert_eq!(errorstats(&mut c), "errorstat_MY_CODE:count=1");
    // EVAL's own call counts as failed when its script failed (commandstats).
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("RESETSTAT");
    eval_error(&mut c, "return redis.error_reply('MY_CODE custom')");
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .expect("INFO");
    let eval_stat = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_eval:"))
        .expect("cmdstat_eval");
    assert!(
        eval_stat.contains("calls=1,") && eval_stat.ends_with("rejected_calls=0,failed_calls=1"),
        "{eval_stat}"
    );
    // Nothing a refused script tried was written, and the node serves on.
    let a: Option<String> = redis::cmd("GET").arg("a").query(&mut c).expect("GET");
    assert_eq!(a, None);
}

/// MONITOR shows EVAL (and FCALL) before the commands it runs, and those as `lua`'s.
#[test]
fn monitor_shows_a_script_then_its_commands() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut monitor = node.raw();
    common::exchange_until(&mut monitor, b"MONITOR\r\n", b"+OK\r\n");
    let mut c = node.client();
    eval(
        &mut c,
        "redis.call('set', KEYS[1], ARGV[1])",
        &["foo"],
        &["bar"],
    );
    // Until the script's command (the EVAL line ends with "bar" too).
    let seen = common::exchange_until(&mut monitor, b"", b"\"set\" \"foo\" \"bar\"\r\n");
    let seen = String::from_utf8_lossy(&seen);
    // The client library's CLIENT SETINFO come first; then the script, then its command.
    let lines: Vec<&str> = seen.lines().rev().take(2).collect();
    assert!(
        lines[1]
            .ends_with("\"EVAL\" \"redis.call('set', KEYS[1], ARGV[1])\" \"1\" \"foo\" \"bar\""),
        "{seen}"
    );
    assert!(
        lines[0].ends_with("[0 lua] \"set\" \"foo\" \"bar\""),
        "{seen}"
    );
    monitor.write_all(b"QUIT\r\n").expect("QUIT");
}

#[test]
fn the_sandbox_is_redis_s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    for script in [
        "a = 10",
        "_G = {}",
        "setmetatable(_G, {})",
        "local g = getmetatable(_G); g.__index = {}",
        "redis = function() return 1 end",
        "redis.call = function() return 1 end",
        "rawset(_G, 'x', 1)",
        "string.rep = nil",
        "getmetatable('').__index = {}",
    ] {
        let e = eval_error(&mut c, script);
        assert!(
            e.starts_with("ERR user_script:1: Attempt to modify a readonly table"),
            "{script}: {e}"
        );
    }
    // Redis 7.0.15 has no getfenv, setfenv nor newproxy either (a finalizer made with
    // newproxy would run a script's code outside its run).
    for name in [
        "loadfile", "dofile", "print", "io", "os", "debug", "require", "getfenv", "setfenv",
        "newproxy",
    ] {
        let e = eval_error(&mut c, &format!("return {name}"));
        assert!(
            e.starts_with(&format!(
                "ERR user_script:1: Script attempted to access nonexistent global variable '{name}'"
            )),
            "{name}: {e}"
        );
    }
    // No binary chunks; source text loads, and runs in the same sandbox.
    let e = eval_error(
        &mut c,
        "return loadstring(string.dump(function() return 1 end))()",
    );
    assert!(e.contains("attempt to call a nil value"), "{e}");
    assert_eq!(
        eval(&mut c, "return loadstring('return 7')()", &[], &[]),
        Value::Int(7)
    );
    let e = eval_error(&mut c, "loadstring('b = 1')()");
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    // Strings keep their methods; _G reads as an empty table.
    assert_eq!(eval(&mut c, "return ('x'):rep(3)", &[], &[]), bulk("xxx"));
    assert_eq!(eval(&mut c, "return _G", &[], &[]), Value::Array(vec![]));
}

#[test]
fn the_script_cache_serves_evalsha() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let body = "return 'hello'";
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(body)
        .query(&mut c)
        .expect("LOAD");
    assert_eq!(sha, gdc_node::script::sha1_hex(body.as_bytes()));
    let evalsha = |c: &mut redis::Connection, sha: &str| {
        redis::cmd("EVALSHA").arg(sha).arg(0).query::<Value>(c)
    };
    assert_eq!(evalsha(&mut c, &sha).expect("EVALSHA"), bulk("hello"));
    assert_eq!(
        evalsha(&mut c, &sha.to_uppercase()).expect("EVALSHA"),
        bulk("hello")
    );
    // A script EVAL ran is cached too.
    eval(&mut c, "return 2", &[], &[]);
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .arg(gdc_node::script::sha1_hex(b"return 2"))
        .arg("ffffffffffffffffffffffffffffffffffffffff")
        .query(&mut c)
        .expect("EXISTS");
    assert_eq!(exists, vec![1, 1, 0]);
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut c)
        .expect("FLUSH");
    let e = evalsha(&mut c, &sha).expect_err("flushed");
    assert_eq!(e.code(), Some("NOSCRIPT"));
    let e = evalsha(&mut c, "short").expect_err("no such sha");
    assert_eq!(e.code(), Some("NOSCRIPT"));
    let e = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .arg("LATER")
        .query::<Value>(&mut c)
        .expect_err("bad mode");
    assert_eq!(
        e.detail(),
        Some("SCRIPT FLUSH only support SYNC|ASYNC option")
    );
}

/// A script moves a unit from one key to another, many times, in region a; region b
/// applies each script's writes whole: a reader there never sees the sum off, and at the
/// end b holds what a holds.
/// Regions `a` and `b`, each a node on its directory of `dirs`, with a channel each way.
fn two_regions(dirs: &[tempfile::TempDir; 2]) -> (TestNode, TestNode) {
    let (la, sa) = sync_listener();
    let (lb, sb) = sync_listener();
    let peer = |region: &str, addr: std::net::SocketAddr| Peer {
        region: region.to_string(),
        addr: addr.to_string(),
    };
    let a = TestNode::start_synced(dirs[0].path(), la, |c| {
        c.region = "a".into();
        c.peers = vec![peer("b", sb)];
    });
    let b = TestNode::start_synced(dirs[1].path(), lb, |c| {
        c.region = "b".into();
        c.peers = vec![peer("a", sa)];
    });
    (a, b)
}

#[test]
fn a_script_s_writes_reach_another_region_whole() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let (a, b) = two_regions(&dirs);
    let (mut ca, mut cb) = (a.client(), b.client());
    let _: () = redis::cmd("MSET")
        .arg("from")
        .arg(1000)
        .arg("to")
        .arg(0)
        .query(&mut ca)
        .expect("MSET");
    wait_for("b has the start", CONVERGE, || {
        let v: Option<i64> = redis::cmd("GET").arg("from").query(&mut cb).ok()?;
        (v == Some(1000)).then_some(())
    });
    let transfer = "redis.call('decrby', KEYS[1], ARGV[1]); \
                    return redis.call('incrby', KEYS[2], ARGV[1])";
    let writer = std::thread::spawn(move || {
        for _ in 0..300 {
            assert_ne!(eval(&mut ca, transfer, &["from", "to"], &["1"]), Value::Nil);
        }
        ca
    });
    let mut reads = 0;
    while !writer.is_finished() || reads == 0 {
        let (from, to): (i64, i64) = redis::cmd("MGET")
            .arg("from")
            .arg("to")
            .query(&mut cb)
            .expect("MGET");
        assert_eq!(from + to, 1000, "half a script applied: {from} + {to}");
        reads += 1;
    }
    let mut ca = writer.join().expect("writer");
    let to: i64 = redis::cmd("GET").arg("to").query(&mut ca).expect("GET");
    assert_eq!(to, 300);
    wait_for("b has every transfer", CONVERGE, || {
        let (from, to): (i64, i64) = redis::cmd("MGET")
            .arg("from")
            .arg("to")
            .query(&mut cb)
            .ok()?;
        assert_eq!(from + to, 1000);
        (to == 300).then_some(())
    });
}

fn function_load(c: &mut redis::Connection, code: &str) -> redis::RedisResult<String> {
    redis::cmd("FUNCTION").arg("LOAD").arg(code).query(c)
}

fn error_text(e: &redis::RedisError) -> String {
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

#[test]
fn functions_load_and_run_as_redis_s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let code = "#!lua name=mylib\n\
                redis.register_function('setter', function(keys, args) \
                  return redis.call('set', keys[1], args[1]) end)\n\
                redis.register_function{function_name = 'getter', \
                  callback = function(keys) return redis.call('get', keys[1]) end, \
                  flags = {'no-writes'}, description = 'reads a key'}";
    assert_eq!(function_load(&mut c, code).expect("LOAD"), "mylib");
    let fcall = |c: &mut redis::Connection, cmd: &str, f: &str, keys: &[&str], args: &[&str]| {
        redis::cmd(cmd)
            .arg(f)
            .arg(keys.len())
            .arg(keys)
            .arg(args)
            .query::<Value>(c)
    };
    assert_eq!(
        fcall(&mut c, "FCALL", "setter", &["k"], &["v"]).expect("FCALL"),
        Value::Okay
    );
    assert_eq!(
        fcall(&mut c, "FCALL_RO", "getter", &["k"], &[]).expect("FCALL_RO"),
        bulk("v")
    );
    let e = fcall(&mut c, "FCALL_RO", "setter", &["k"], &["w"]).expect_err("not read-only");
    assert_eq!(
        error_text(&e),
        "ERR Can not execute a script with write flag using *_ro command."
    );
    let e = fcall(&mut c, "FCALL", "nosuch", &[], &[]).expect_err("no such function");
    assert_eq!(error_text(&e), "ERR Function not found");
    // A command's error names the function and the library's line.
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("text")
        .query(&mut c)
        .expect("SET");
    function_load(
        &mut c,
        "#!lua name=errs\nredis.register_function('incr_s', function() return redis.call('incr', 's') end)",
    )
    .expect("LOAD");
    let e = fcall(&mut c, "FCALL", "incr_s", &[], &[]).expect_err("not an integer");
    assert_eq!(
        error_text(&e),
        "ERR value is not an integer or out of range script: incr_s, on @user_function:2."
    );
    for (code, error) in [
        (code, "ERR Library 'mylib' already exists"),
        ("return 1", "ERR Missing library metadata"),
        ("#!lua name=x\nreturn 1", "ERR No functions registered"),
        ("#!js name=x\nreturn 1", "ERR Engine 'js' not found"),
        (
            "#!lua name=x\nredis.register_function('setter', function() return 1 end)",
            "ERR Function setter already exists",
        ),
        (
            "#!lua name=x\nredis.register_function('a', function() end)\nredis.register_function('a', function() end)",
            "ERR Error registering functions: ERR Function already exists in the library",
        ),
        (
            "#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags={'bogus'}}",
            "ERR Error registering functions: ERR unknown flag given",
        ),
        // Where a library's code reads what its load does not give it (redis-server
        // 7.0.15's text).
        (
            "#!lua name=x\nlocal x = math.abs(1)",
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'",
        ),
        (
            "#!lua name=x\nredis.call('ping')",
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'",
        ),
    ] {
        let e = function_load(&mut c, code).expect_err("refused");
        assert_eq!(error_text(&e), error, "{code}");
    }
    let e = function_load(&mut c, "#!lua name=x\na = 1").expect_err("global");
    assert!(
        error_text(&e).contains("Attempt to modify a readonly table"),
        "{e}"
    );
    let e = function_load(&mut c, "#!lua name=x\nwhile true do end").expect_err("endless");
    assert!(error_text(&e).contains("FUNCTION LOAD timeout"), "{e}");
    // LIST, DELETE, STATS.
    let list: Value = redis::cmd("FUNCTION")
        .arg("LIST")
        .arg("LIBRARYNAME")
        .arg("my*")
        .query(&mut c)
        .expect("LIST");
    let Value::Array(libs) = list else {
        panic!("{list:?}")
    };
    assert_eq!(libs.len(), 1);
    let stats: Value = redis::cmd("FUNCTION")
        .arg("STATS")
        .query(&mut c)
        .expect("STATS");
    let shown = format!("{stats:?}");
    assert!(
        shown.contains("libraries_count") && shown.contains("int(2)"),
        "{shown}"
    );
    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("errs")
        .query(&mut c)
        .expect("DELETE");
    let e = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("errs")
        .query::<Value>(&mut c)
        .expect_err("gone");
    assert_eq!(error_text(&e), "ERR Library not found");
    // DUMP and RESTORE (redis-server 7.0.15's payload format: byte for byte the same, as
    // checked by hand against it).
    let payload: Vec<u8> = redis::cmd("FUNCTION")
        .arg("DUMP")
        .query(&mut c)
        .expect("DUMP");
    assert_eq!(payload[0], 245, "RDB_OPCODE_FUNCTION2");
    let _: () = redis::cmd("FUNCTION")
        .arg("FLUSH")
        .query(&mut c)
        .expect("FLUSH");
    let e = fcall(&mut c, "FCALL_RO", "getter", &["k"], &[]).expect_err("flushed");
    assert_eq!(error_text(&e), "ERR Function not found");
    let restore = |c: &mut redis::Connection, payload: &[u8], policy: Option<&str>| {
        let mut cmd = redis::cmd("FUNCTION");
        cmd.arg("RESTORE").arg(payload);
        if let Some(p) = policy {
            cmd.arg(p);
        }
        cmd.query::<Value>(c)
    };
    assert_eq!(
        restore(&mut c, &payload, None).expect("RESTORE"),
        Value::Okay
    );
    assert_eq!(
        fcall(&mut c, "FCALL_RO", "getter", &["k"], &[]).expect("restored"),
        bulk("v")
    );
    let e = restore(&mut c, &payload, Some("APPEND")).expect_err("exists");
    assert_eq!(error_text(&e), "ERR Library mylib already exists");
    assert_eq!(
        restore(&mut c, &payload, Some("REPLACE")).expect("REPLACE"),
        Value::Okay
    );
    let e = restore(&mut c, &payload, Some("SOMETIMES")).expect_err("policy");
    assert_eq!(
        error_text(&e),
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    );
    let e = restore(&mut c, b"not a payload", None).expect_err("bad payload");
    assert_eq!(
        error_text(&e),
        "ERR DUMP payload version or checksum are wrong"
    );
}

/// A gdc-node process on a data directory of its own, started again on the same one.
struct Process {
    dir: tempfile::TempDir,
    port: u16,
}

impl Process {
    fn new() -> Process {
        Process {
            dir: tempfile::tempdir().expect("tempdir"),
            port: gdc_jepsen::process::free_port(),
        }
    }

    fn start(&self) -> gdc_jepsen::process::Server {
        let args = [
            "--port".to_string(),
            self.port.to_string(),
            "--dir".to_string(),
            self.dir.path().display().to_string(),
        ];
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_gdc-node"));
        gdc_jepsen::process::Server::start(bin, &args, self.port).expect("start gdc-node")
    }
}

/// Libraries outlive a restart, kill -9 included: from a snapshot and from the binlog.
#[test]
fn functions_outlive_a_kill_9() {
    let node = Process::new();
    let server = node.start();
    let mut c = server.client();
    function_load(
        &mut c,
        "#!lua name=kept\nredis.register_function('seven', function() return 7 end)",
    )
    .expect("LOAD");
    // One library in a snapshot, one only in the binlog after it.
    let _: () = redis::cmd("SAVE").query(&mut c).expect("SAVE");
    function_load(
        &mut c,
        "#!lua name=later\nredis.register_function('eight', function() return 8 end)",
    )
    .expect("LOAD");
    server.kill9();
    let server = node.start();
    let mut c = server.client();
    for (name, want) in [("seven", 7), ("eight", 8)] {
        let got: i64 = redis::cmd("FCALL")
            .arg(name)
            .arg(0)
            .query(&mut c)
            .expect("FCALL after the restart");
        assert_eq!(got, want);
    }
}

/// An older gdc kept libraries in the metadata store: the first start writes them into the
/// shared scripting state (so they reach other regions and outlive a restart from there),
/// and the store no longer holds them.
#[test]
fn libraries_an_older_node_kept_move_to_the_shared_state() {
    let node = Process::new();
    let code = b"#!lua name=old\nredis.register_function('old', function() return 'old' end)";
    {
        let meta = gdc_node::engine::meta::Meta::open(node.dir.path()).expect("meta");
        meta.set_function_libraries([&code[..]]).expect("save");
    }
    for _ in 0..2 {
        let server = node.start();
        let mut c = server.client();
        let got: String = redis::cmd("FCALL")
            .arg("old")
            .arg(0)
            .query(&mut c)
            .expect("FCALL");
        assert_eq!(got, "old");
        server.kill9();
    }
    let meta = gdc_node::engine::meta::Meta::open(node.dir.path()).expect("meta");
    assert!(meta.function_libraries().expect("read").is_empty());
}

/// FUNCTION LOAD, DELETE and FLUSH, SCRIPT LOAD and FLUSH at one region reach the other:
/// FCALL and EVALSHA work (or stop working) there too.
#[test]
fn functions_and_loaded_scripts_reach_every_region() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let (a, b) = two_regions(&dirs);
    let (mut ca, mut cb) = (a.client(), b.client());
    let fcall = |c: &mut redis::Connection, name: &str| -> Result<String, String> {
        redis::cmd("FCALL")
            .arg(name)
            .arg(0)
            .query(c)
            .map_err(|e| error_text(&e))
    };
    let lib = |version: &str| {
        format!("#!lua name=lib\nredis.register_function('f', function() return '{version}' end)")
    };
    assert_eq!(function_load(&mut ca, &lib("one")).expect("LOAD"), "lib");
    wait_for("b runs a's function", CONVERGE, || {
        (fcall(&mut cb, "f").ok()? == "one").then_some(())
    });
    let replaced: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(lib("two"))
        .query(&mut cb)
        .expect("LOAD REPLACE");
    assert_eq!(replaced, "lib");
    wait_for("a runs b's replacement", CONVERGE, || {
        (fcall(&mut ca, "f").ok()? == "two").then_some(())
    });
    // The two regions list the same library, code and all.
    let list = |c: &mut redis::Connection| -> Value {
        redis::cmd("FUNCTION")
            .arg("LIST")
            .arg("WITHCODE")
            .query(c)
            .expect("LIST")
    };
    assert_eq!(list(&mut ca), list(&mut cb));

    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 'loaded'")
        .query(&mut ca)
        .expect("SCRIPT LOAD");
    let evalsha = |c: &mut redis::Connection| -> Result<String, String> {
        redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(0)
            .query(c)
            .map_err(|e| error_text(&e))
    };
    wait_for("b runs a's loaded script", CONVERGE, || {
        (evalsha(&mut cb).ok()? == "loaded").then_some(())
    });
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .query(&mut cb)
        .expect("EXISTS");
    assert_eq!(exists, vec![1]);

    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("lib")
        .query(&mut ca)
        .expect("DELETE");
    wait_for("b no longer has the function", CONVERGE, || {
        (fcall(&mut cb, "f").err()? == "ERR Function not found").then_some(())
    });
    function_load(
        &mut cb,
        "#!lua name=other\nredis.register_function('g', function() return 'g' end)",
    )
    .expect("LOAD");
    wait_for("a has b's library", CONVERGE, || {
        (fcall(&mut ca, "g").ok()? == "g").then_some(())
    });
    let _: () = redis::cmd("FUNCTION")
        .arg("FLUSH")
        .query(&mut ca)
        .expect("FLUSH");
    wait_for("b's libraries are flushed", CONVERGE, || {
        (list(&mut cb) == Value::Array(vec![])).then_some(())
    });

    // b ran the script, so its own cache holds it: a's SCRIPT FLUSH empties that too.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut ca)
        .expect("SCRIPT FLUSH");
    wait_for("b forgot the loaded script", CONVERGE, || {
        let e = evalsha(&mut cb).err()?;
        e.starts_with("NOSCRIPT").then_some(())
    });
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .query(&mut cb)
        .expect("EXISTS");
    assert_eq!(exists, vec![0]);
}

/// Scripts run in their clients' batches: a pipeline of scripts and other commands is
/// answered in order, many clients' scripts interleave whole; a script sent while another
/// runs past
/// `busy-reply-threshold` is answered -BUSY (not held until the other ends), and runs once
/// the other is killed; other clients' commands are served between scripts.
#[test]
fn scripts_of_many_clients_keep_order_and_busy_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    // A pipeline mixing scripts and commands: every reply in its place.
    let incr = "return redis.call('incr', KEYS[1])";
    let replies: Vec<Value> = redis::pipe()
        .cmd("SET")
        .arg("k")
        .arg(1)
        .cmd("EVAL")
        .arg(incr)
        .arg(1)
        .arg("k")
        .cmd("GET")
        .arg("k")
        .cmd("EVAL")
        .arg(incr)
        .arg(1)
        .arg("k")
        .cmd("EVAL")
        .arg(incr)
        .arg(1)
        .arg("k")
        .cmd("GET")
        .arg("k")
        .query(&mut c)
        .expect("pipeline");
    assert_eq!(
        replies,
        vec![
            Value::Okay,
            Value::Int(2),
            bulk("2"),
            Value::Int(3),
            Value::Int(4),
            bulk("4"),
        ]
    );
    // Eight clients' scripts at once, with a reader of plain commands beside them.
    let writers = clients_in_threads(&node, 8, 200, move |_, w| {
        let _: i64 = redis::cmd("EVAL")
            .arg(incr)
            .arg(1)
            .arg("n")
            .query(w)
            .expect("EVAL");
    });
    let mut reads = 0;
    while writers.iter().any(|w| !w.is_finished()) || reads == 0 {
        let _: Option<i64> = redis::cmd("GET").arg("n").query(&mut c).expect("GET");
        reads += 1;
    }
    for w in writers {
        w.join().expect("writer");
    }
    let n: i64 = redis::cmd("GET").arg("n").query(&mut c).expect("GET");
    assert_eq!(n, 1600);

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(50)
        .query(&mut c)
        .expect("CONFIG SET");
    // Connected before the script runs: a client library's handshake (CLIENT SETINFO)
    // waits for a busy script, as in Redis.
    let (mut runner, mut other) = (node.client(), node.client());
    let looping = std::thread::spawn(move || {
        redis::cmd("EVAL")
            .arg("while true do end")
            .arg(0)
            .query::<Value>(&mut runner)
    });
    let busy = wait_for(
        "a script behind the busy one is answered",
        CONVERGE,
        || match redis::cmd("EVAL")
            .arg("return 'ran'")
            .arg(0)
            .query::<Value>(&mut other)
        {
            Err(e) if e.code() == Some("BUSY") => Some(error_text(&e)),
            _ => None,
        },
    );
    assert_eq!(
        busy,
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    // MULTI runs while busy; a command refused then fails the transaction, as in Redis.
    let ok: String = redis::cmd("MULTI").query(&mut other).expect("MULTI");
    assert_eq!(ok, "OK");
    let e = redis::cmd("INCR")
        .arg("xx")
        .query::<Value>(&mut other)
        .expect_err("busy");
    assert_eq!(e.code(), Some("BUSY"));
    let _: () = redis::cmd("SCRIPT")
        .arg("KILL")
        .query(&mut c)
        .expect("SCRIPT KILL");
    assert!(looping.join().expect("runner").is_err());
    let e = redis::cmd("EXEC")
        .query::<Value>(&mut other)
        .expect_err("aborted");
    assert_eq!(
        error_text(&e),
        "EXECABORT Transaction discarded because of previous errors."
    );
    let ran: String = redis::cmd("EVAL")
        .arg("return 'ran'")
        .arg(0)
        .query(&mut other)
        .expect("EVAL after the kill");
    assert_eq!(ran, "ran");
}

/// A script running longer than 10 ms has the node's runtime move off its thread: the script
/// ends there, the rest of its client's pipeline runs where the runtime went (in order), other
/// clients are served once it ends, and later long scripts move the runtime again.
#[test]
fn long_scripts_move_the_runtime_and_every_client_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    // Well past 10 ms of Lua, and then a write.
    let long =
        "local x = 0 for i = 1, 20000000 do x = x + i end return redis.call('incr', KEYS[1])";
    let others = clients_in_threads(&node, 2, 300, |i, o| {
        let _: i64 = redis::cmd("INCR")
            .arg(format!("o{i}"))
            .query(o)
            .expect("INCR");
    });
    for round in 0..3i64 {
        let replies: Vec<Value> = redis::pipe()
            .cmd("EVAL")
            .arg(long)
            .arg(1)
            .arg("k")
            .cmd("INCR")
            .arg("k")
            .cmd("EVAL")
            .arg(long)
            .arg(1)
            .arg("k")
            .cmd("GET")
            .arg("k")
            .query(&mut c)
            .expect("pipeline");
        let base = round * 3;
        assert_eq!(
            replies,
            vec![
                Value::Int(base + 1),
                Value::Int(base + 2),
                Value::Int(base + 3),
                bulk(&(base + 3).to_string()),
            ]
        );
    }
    for o in others {
        o.join().expect("other client");
    }
    for key in ["o0", "o1"] {
        let n: i64 = redis::cmd("GET").arg(key).query(&mut c).expect("GET");
        assert_eq!(n, 300, "{key}");
    }
    // A script that is never long, and FUNCTION STATS once no script runs.
    let ran: i64 = redis::cmd("EVAL")
        .arg("return redis.call('incr', KEYS[1])")
        .arg(1)
        .arg("k")
        .query(&mut c)
        .expect("EVAL");
    assert_eq!(ran, 10);
    let stats: Value = redis::cmd("FUNCTION")
        .arg("STATS")
        .query(&mut c)
        .expect("STATS");
    let Value::Array(fields) = stats else {
        panic!("FUNCTION STATS: {stats:?}");
    };
    assert_eq!(fields.get(1), Some(&Value::Nil), "no script running");
}

/// A script past `busy-reply-threshold`: other clients get -BUSY (not a wait without end),
/// SCRIPT KILL stops a script that has not written, FUNCTION KILL a function, and the node
/// serves on; a script that wrote cannot be killed, and SHUTDOWN NOSAVE ends the process
/// without any of its writes (after the restart, the key it set is absent).
#[test]
fn busy_scripts_are_answered_killed_or_shut_down() {
    let node = Process::new();
    let server = node.start();
    let mut c = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(50)
        .query(&mut c)
        .expect("CONFIG SET");
    let busy_with = |script: &'static str, fcall: bool| {
        let mut runner = server.client();
        std::thread::spawn(move || {
            let cmd = if fcall { "FCALL" } else { "EVAL" };
            redis::cmd(cmd)
                .arg(script)
                .arg(0)
                .query::<Value>(&mut runner)
        })
    };
    let busy_error = |c: &mut redis::Connection| {
        wait_for(
            "the script is busy",
            Duration::from_secs(10),
            || match redis::cmd("PING").query::<String>(c) {
                Err(e) if e.code() == Some("BUSY") => Some(error_text(&e)),
                _ => None,
            },
        )
    };
    // A script that only reads: SCRIPT KILL stops it.
    let looping = busy_with("while true do end", false);
    assert_eq!(
        busy_error(&mut c),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    let e = redis::cmd("FUNCTION")
        .arg("KILL")
        .query::<Value>(&mut c)
        .expect_err("not a function");
    assert_eq!(e.code(), Some("BUSY"));
    let _: () = redis::cmd("SCRIPT")
        .arg("KILL")
        .query(&mut c)
        .expect("SCRIPT KILL");
    let e = looping.join().expect("runner").expect_err("killed");
    assert!(
        error_text(&e).starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{e}"
    );
    let pong: String = redis::cmd("PING").query(&mut c).expect("PING");
    assert_eq!(pong, "PONG");
    let e = redis::cmd("SCRIPT")
        .arg("KILL")
        .query::<Value>(&mut c)
        .expect_err("nothing runs");
    assert_eq!(error_text(&e), "NOTBUSY No scripts in execution right now.");
    // A function: FUNCTION KILL stops it.
    function_load(
        &mut c,
        "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
    )
    .expect("LOAD");
    let spinning = busy_with("spin", true);
    assert_eq!(
        busy_error(&mut c),
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    );
    let _: () = redis::cmd("FUNCTION")
        .arg("KILL")
        .query(&mut c)
        .expect("FUNCTION KILL");
    assert!(spinning.join().expect("runner").is_err());
    // A script that wrote: unkillable; SHUTDOWN NOSAVE ends the process, writes and all.
    let writer = busy_with("redis.call('set', 'half', '1') while true do end", false);
    busy_error(&mut c);
    let e = redis::cmd("SCRIPT")
        .arg("KILL")
        .query::<Value>(&mut c)
        .expect_err("unkillable");
    assert_eq!(e.code(), Some("UNKILLABLE"));
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<Value>(&mut c);
    assert!(writer.join().expect("runner").is_err());
    server.wait_exit();
    let server = node.start();
    let mut c = server.client();
    let half: Option<String> = redis::cmd("GET").arg("half").query(&mut c).expect("GET");
    assert_eq!(half, None, "nothing of the shut-down script was kept");
}

/// kill -9 in the middle of a script that wrote: after the restart none of its writes is
/// there (they were one batch, not yet logged), and what was acknowledged before it is.
#[test]
fn a_script_cut_by_kill_9_leaves_none_of_its_writes() {
    let node = Process::new();
    let server = node.start();
    let mut c = server.client();
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("1")
        .query(&mut c)
        .expect("SET");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(50)
        .query(&mut c)
        .expect("CONFIG SET");
    let mut runner = server.client();
    let script = std::thread::spawn(move || {
        redis::cmd("EVAL")
            .arg("redis.call('set', 'a', '1') redis.call('set', 'b', '2') while true do end")
            .arg(0)
            .query::<Value>(&mut runner)
    });
    wait_for(
        "the script is busy",
        Duration::from_secs(10),
        || match redis::cmd("PING").query::<String>(&mut c) {
            Err(e) if e.code() == Some("BUSY") => Some(()),
            _ => None,
        },
    );
    server.kill9();
    assert!(script.join().expect("runner").is_err());
    let server = node.start();
    let mut c = server.client();
    let (before, a, b): (Option<String>, Option<String>, Option<String>) = redis::cmd("MGET")
        .arg("before")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .expect("MGET");
    assert_eq!(
        before.as_deref(),
        Some("1"),
        "acknowledged before the script"
    );
    assert_eq!((a, b), (None, None), "none of the cut script's writes");
}

/// Scripts over `maxmemory` (nothing evictable, noeviction) get Redis's OOM rules: a
/// script's first write that may grow memory is refused, reads run; a script with a
/// shebang and without allow-oom does not start, one with no-writes or allow-oom runs.
#[test]
fn scripts_over_maxmemory_follow_redis_s_oom_rules() {
    let node = Process::new();
    let server = node.start();
    let mut c = server.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut c)
        .expect("SET");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(1)
        .query(&mut c)
        .expect("CONFIG SET");
    let write = "return redis.call('set', 'x', 'y')";
    assert_eq!(
        eval_error(&mut c, write),
        format!(
            "OOM command not allowed when used memory > 'maxmemory'. script: {}, on @user_script:1.",
            gdc_node::script::sha1_hex(write.as_bytes())
        )
    );
    assert_eq!(
        eval(&mut c, "return redis.call('get', 'k')", &[], &[]),
        bulk("v")
    );
    assert_eq!(
        eval_error(&mut c, "#!lua\nreturn 1"),
        "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"
    );
    assert_eq!(
        eval(
            &mut c,
            "#!lua flags=no-writes\nreturn redis.call('get', 'k')",
            &[],
            &[]
        ),
        bulk("v")
    );
    assert_eq!(
        eval(
            &mut c,
            "#!lua flags=allow-oom\nreturn redis.call('set', 'x', 'y')",
            &[],
            &[]
        ),
        Value::Okay
    );
}
