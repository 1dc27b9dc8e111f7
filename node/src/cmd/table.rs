//! The command table: every command gdc answers, with its arity and flags (as Redis 7.0
//! flags it) next to its handler. Adding a command is adding one line here.

use super::{
    CmdResult, Ctx, client, connection, dump, gdc, hash, info, introspection, keys, list, memory,
    monitoring, pubsub, server, set, sort, string, transaction, zset,
};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::LazyLock;

type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// What a command is to the dispatcher, as Redis's command flags say it: a set of the
/// constants below.
pub(super) type Flags = u8;

/// Reads only (the default).
const READ: Flags = 0;
/// Changes data: a secondary (or a fenced primary) refuses it with READONLY.
const WRITE: Flags = 1;
/// A write that may grow memory: also refused over `maxmemory` (Redis's `denyoom`).
pub(super) const GROWS: Flags = 2 | WRITE;
/// Allowed before AUTH when a password is set.
pub(super) const NO_AUTH: Flags = 4;
/// Acts on the transaction itself: run at once, never queued by MULTI.
pub(super) const NOT_QUEUED: Flags = 8;
/// Allowed to a RESP2 client in subscribe mode.
pub(super) const SUBSCRIBED: Flags = 16;
/// Refused inside MULTI, which it aborts (Redis's `no-multi`).
pub(super) const NO_MULTI: Flags = 32;
/// Never in the slow log or the latency monitor (EXEC: the commands it runs are).
pub(super) const SKIP_SLOWLOG: Flags = 64;
/// An administrative command (Redis's `admin`): never shown to MONITOR.
pub(super) const ADMIN: Flags = 128;

/// A command: its name, arity as Redis states it (n: exactly n arguments counting the name;
/// -n: at least n), flags and handler. Adding a command is adding one of these.
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) arity: i32,
    flags: Flags,
    pub(super) run: Handler,
    /// A container command's subcommands (CLIENT ID, CONFIG GET, ...): each is looked up,
    /// checked for arity and counted on its own, as Redis 7 does. Empty for the others.
    pub(super) subs: &'static [Sub],
}

/// A subcommand. Its handler is its container's, which reads the subcommand from `args[1]`.
pub(super) struct Sub {
    pub(super) name: &'static str,
    /// `container|sub`, as Redis names it in errors, stats and CLIENT LIST.
    pub(super) full: &'static str,
    /// Counting the container's name and the subcommand's.
    pub(super) arity: i32,
    /// Its own flags (the container's apply too).
    pub(super) flags: Flags,
}

const fn spec(name: &'static str, arity: i32, flags: Flags, run: Handler) -> Spec {
    Spec {
        name,
        arity,
        flags,
        run,
        subs: &[],
    }
}

const fn container(
    name: &'static str,
    arity: i32,
    flags: Flags,
    run: Handler,
    subs: &'static [Sub],
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        run,
        subs,
    }
}

/// The subcommands of container `$c`, each `name arity [FLAG]` with Redis 7.0's arities.
macro_rules! subs {
    ($c:literal: $($name:literal $arity:literal $($flag:ident)?),* $(,)?) => {
        &[$(Sub {
            name: $name,
            full: concat!($c, "|", $name),
            arity: $arity,
            flags: READ $(| $flag)?,
        }),*]
    };
}

static COMMANDS: &[Spec] = &[
    // connection and server
    spec("ping", -1, NO_AUTH | SUBSCRIBED, connection::ping),
    spec("echo", 2, READ, connection::echo),
    spec("select", 2, READ, connection::select),
    spec(
        "quit",
        -1,
        NO_AUTH | NOT_QUEUED | SUBSCRIBED,
        connection::quit,
    ),
    spec("hello", -1, NO_AUTH, connection::hello),
    spec("auth", -2, NO_AUTH, connection::auth),
    spec("dbsize", 1, READ, server::dbsize),
    spec("flushdb", -1, WRITE, server::flushdb),
    spec("flushall", -1, WRITE, server::flushall),
    spec("time", 1, READ, server::time),
    container(
        "command",
        -1,
        READ,
        server::command,
        subs!("command": "count" 2, "docs" -2, "info" -2),
    ),
    container(
        "config",
        -2,
        READ,
        server::config,
        subs!("config": "get" -3 ADMIN, "set" -4 ADMIN, "resetstat" 2 ADMIN),
    ),
    spec("info", -1, READ, info::info),
    container(
        "memory",
        -2,
        READ,
        memory::memory,
        subs!("memory": "usage" -3, "stats" 2, "doctor" 2, "malloc-stats" 2, "purge" 2, "help" 2),
    ),
    container(
        "client",
        -2,
        READ,
        client::client,
        subs!("client": "id" 2, "setname" 3, "getname" 2, "setinfo" 4, "reply" 3, "no-evict" 3 ADMIN, "list" -2 ADMIN, "info" 2, "kill" -3 ADMIN, "unblock" -3 ADMIN, "pause" -3 ADMIN, "unpause" 2 ADMIN),
    ),
    spec(
        "reset",
        1,
        NO_AUTH | NOT_QUEUED | SUBSCRIBED,
        connection::reset,
    ),
    spec("wait", 3, READ, server::wait),
    container(
        "slowlog",
        -2,
        READ,
        monitoring::slowlog,
        subs!("slowlog": "get" -2 ADMIN, "len" 2 ADMIN, "reset" 2 ADMIN, "help" 2),
    ),
    container(
        "latency",
        -2,
        READ,
        monitoring::latency,
        subs!("latency": "latest" 2 ADMIN, "history" 3 ADMIN, "reset" -2 ADMIN, "graph" 3 ADMIN, "doctor" 2 ADMIN, "histogram" -2 ADMIN, "help" 2),
    ),
    spec("gdc.digest", -1, READ, gdc::gdc_digest),
    spec("gdc.channels", 1, READ, introspection::gdc_channels),
    spec("gdc.status", 1, READ, introspection::gdc_status),
    spec("gdc.debug", -2, ADMIN, gdc::gdc_debug),
    spec("gdc.attach", -4, READ, gdc::gdc_attach),
    spec("role", 1, READ, introspection::role),
    spec("save", 1, NO_MULTI | ADMIN, server::save),
    spec("bgsave", -1, ADMIN, server::bgsave),
    spec("lastsave", 1, READ, server::lastsave),
    spec("shutdown", -1, NO_MULTI | ADMIN, server::shutdown),
    spec("monitor", 1, ADMIN, monitoring::monitor),
    // pub/sub (local to this node)
    spec("subscribe", -2, SUBSCRIBED, pubsub::subscribe),
    spec("psubscribe", -2, SUBSCRIBED, pubsub::psubscribe),
    spec("unsubscribe", -1, SUBSCRIBED, pubsub::unsubscribe),
    spec("punsubscribe", -1, SUBSCRIBED, pubsub::punsubscribe),
    spec("publish", 3, READ, pubsub::publish),
    container(
        "pubsub",
        -2,
        READ,
        pubsub::pubsub,
        subs!("pubsub": "channels" -2, "numsub" -2, "numpat" 2),
    ),
    spec("gdc.info", 1, READ, introspection::gdc_info),
    // transactions
    spec("multi", 1, NOT_QUEUED, transaction::multi),
    spec("exec", 1, NOT_QUEUED | SKIP_SLOWLOG, transaction::exec),
    spec("discard", 1, NOT_QUEUED, transaction::discard),
    spec("watch", -2, NOT_QUEUED, transaction::watch),
    spec("unwatch", 1, READ, transaction::unwatch),
    // keys
    spec("del", -2, WRITE, keys::del),
    spec("unlink", -2, WRITE, keys::del),
    spec("exists", -2, READ, keys::exists),
    spec("type", 2, READ, keys::type_),
    spec("expire", -3, WRITE, keys::expire),
    spec("pexpire", -3, WRITE, keys::pexpire),
    spec("expireat", -3, WRITE, keys::expireat),
    spec("pexpireat", -3, WRITE, keys::pexpireat),
    spec("ttl", 2, READ, keys::ttl),
    spec("pttl", 2, READ, keys::pttl),
    spec("expiretime", 2, READ, keys::expiretime),
    spec("pexpiretime", 2, READ, keys::pexpiretime),
    spec("persist", 2, WRITE, keys::persist),
    spec("keys", 2, READ, keys::keys),
    spec("scan", -2, READ, keys::scan),
    spec("rename", 3, GROWS, keys::rename),
    spec("renamenx", 3, GROWS, keys::renamenx),
    spec("move", 3, WRITE, keys::move_key),
    spec("copy", -3, GROWS, keys::copy),
    spec("sort", -2, GROWS, sort::sort),
    spec("sort_ro", -2, READ, sort::sort_ro),
    spec("touch", -2, READ, keys::touch),
    spec("randomkey", 1, READ, keys::randomkey),
    container(
        "object",
        -2,
        READ,
        keys::object,
        subs!("object": "encoding" 3, "freq" 3, "idletime" 3, "refcount" 3, "help" 2),
    ),
    spec("dump", 2, READ, dump::dump),
    spec("restore", -4, GROWS, dump::restore),
    // strings and counters
    spec("get", 2, READ, string::get),
    spec("set", -3, GROWS, string::set),
    spec("setnx", 3, GROWS, string::setnx),
    spec("setex", 4, GROWS, string::setex),
    spec("psetex", 4, GROWS, string::psetex),
    spec("getset", 3, GROWS, string::getset),
    spec("getdel", 2, WRITE, string::getdel),
    spec("mget", -2, READ, string::mget),
    spec("mset", -3, GROWS, string::mset),
    spec("append", 3, GROWS, string::append),
    spec("strlen", 2, READ, string::strlen),
    spec("incr", 2, GROWS, string::incr),
    spec("decr", 2, GROWS, string::decr),
    spec("incrby", 3, GROWS, string::incrby),
    spec("decrby", 3, GROWS, string::decrby),
    spec("incrbyfloat", 3, GROWS, string::incrbyfloat),
    spec("getex", -2, WRITE, string::getex),
    spec("getrange", 4, READ, string::getrange),
    spec("substr", 4, READ, string::getrange),
    spec("lcs", -3, READ, string::lcs),
    spec("setrange", 4, GROWS, string::setrange),
    spec("msetnx", -3, GROWS, string::msetnx),
    // hashes
    spec("hset", -4, GROWS, hash::hset),
    spec("hmset", -4, GROWS, hash::hmset),
    spec("hsetnx", 4, GROWS, hash::hsetnx),
    spec("hget", 3, READ, hash::hget),
    spec("hmget", -3, READ, hash::hmget),
    spec("hdel", -3, WRITE, hash::hdel),
    spec("hexists", 3, READ, hash::hexists),
    spec("hlen", 2, READ, hash::hlen),
    spec("hkeys", 2, READ, hash::hkeys),
    spec("hvals", 2, READ, hash::hvals),
    spec("hgetall", 2, READ, hash::hgetall),
    spec("hincrby", 4, GROWS, hash::hincrby),
    spec("hincrbyfloat", 4, GROWS, hash::hincrbyfloat),
    spec("hstrlen", 3, READ, hash::hstrlen),
    spec("hscan", -3, READ, hash::hscan),
    spec("hrandfield", -2, READ, hash::hrandfield),
    // sets
    spec("sadd", -3, GROWS, set::sadd),
    spec("srem", -3, WRITE, set::srem),
    spec("smembers", 2, READ, set::smembers),
    spec("sismember", 3, READ, set::sismember),
    spec("smismember", -3, READ, set::smismember),
    spec("scard", 2, READ, set::scard),
    spec("sscan", -3, READ, set::sscan),
    spec("sinter", -2, READ, set::sinter),
    spec("sunion", -2, READ, set::sunion),
    spec("sdiff", -2, READ, set::sdiff),
    spec("sinterstore", -3, GROWS, set::sinterstore),
    spec("sunionstore", -3, GROWS, set::sunionstore),
    spec("sdiffstore", -3, GROWS, set::sdiffstore),
    spec("sintercard", -3, READ, set::sintercard),
    spec("spop", -2, WRITE, set::spop),
    spec("srandmember", -2, READ, set::srandmember),
    spec("smove", 4, GROWS, set::smove),
    // sorted sets
    spec("zadd", -4, GROWS, zset::zadd),
    spec("zincrby", 4, GROWS, zset::zincrby),
    spec("zrem", -3, WRITE, zset::zrem),
    spec("zscore", 3, READ, zset::zscore),
    spec("zcard", 2, READ, zset::zcard),
    spec("zrange", -4, READ, zset::zrange),
    spec("zscan", -3, READ, zset::zscan),
    spec("zrank", -3, READ, zset::zrank),
    spec("zrevrank", -3, READ, zset::zrevrank),
    spec("zcount", 4, READ, zset::zcount),
    spec("zrangebyscore", -4, READ, zset::zrangebyscore),
    spec("zmscore", -3, READ, zset::zmscore),
    spec("zpopmin", -2, WRITE, zset::zpopmin),
    spec("zpopmax", -2, WRITE, zset::zpopmax),
    spec("zremrangebyrank", 4, WRITE, zset::zremrangebyrank),
    spec("zremrangebyscore", 4, WRITE, zset::zremrangebyscore),
    spec("zremrangebylex", 4, WRITE, zset::zremrangebylex),
    spec("zrevrange", -4, READ, zset::zrevrange),
    spec("zrevrangebyscore", -4, READ, zset::zrevrangebyscore),
    spec("zrangebylex", -4, READ, zset::zrangebylex),
    spec("zrevrangebylex", -4, READ, zset::zrevrangebylex),
    spec("zlexcount", 4, READ, zset::zlexcount),
    spec("zrangestore", -5, GROWS, zset::zrangestore),
    spec("zunion", -3, READ, zset::zunion),
    spec("zinter", -3, READ, zset::zinter),
    spec("zdiff", -3, READ, zset::zdiff),
    spec("zunionstore", -4, GROWS, zset::zunionstore),
    spec("zinterstore", -4, GROWS, zset::zinterstore),
    spec("zdiffstore", -4, GROWS, zset::zdiffstore),
    spec("zrandmember", -2, READ, zset::zrandmember),
    // lists
    spec("lpush", -3, GROWS, list::lpush),
    spec("rpush", -3, GROWS, list::rpush),
    spec("lpushx", -3, GROWS, list::lpushx),
    spec("rpushx", -3, GROWS, list::rpushx),
    spec("lpop", -2, WRITE, list::lpop),
    spec("rpop", -2, WRITE, list::rpop),
    spec("llen", 2, READ, list::llen),
    spec("lrange", 4, READ, list::lrange),
    spec("lindex", 3, READ, list::lindex),
    spec("lset", 4, GROWS, list::lset),
    spec("linsert", 5, GROWS, list::linsert),
    spec("lrem", 4, WRITE, list::lrem),
    spec("ltrim", 4, WRITE, list::ltrim),
    spec("lmove", 5, GROWS, list::lmove),
    spec("rpoplpush", 3, GROWS, list::rpoplpush),
    spec("lpos", -3, READ, list::lpos),
    spec("blpop", -3, WRITE, list::blpop),
    spec("brpop", -3, WRITE, list::brpop),
    spec("zintercard", -3, READ, zset::zintercard),
    spec("zmpop", -4, WRITE, zset::zmpop),
    spec("bzmpop", -5, WRITE, zset::bzmpop),
    spec("bzpopmin", -3, WRITE, zset::bzpopmin),
    spec("bzpopmax", -3, WRITE, zset::bzpopmax),
    spec("brpoplpush", 4, GROWS, list::brpoplpush),
    spec("lmpop", -4, WRITE, list::lmpop),
    spec("blmpop", -5, WRITE, list::blmpop),
    spec("blmove", 6, GROWS, list::blmove),
];

/// Commands looked up by lower-case name.
static BY_NAME: LazyLock<HashMap<&'static str, &'static Spec>> =
    LazyLock::new(|| COMMANDS.iter().map(|s| (s.name, s)).collect());

/// The longest command name, for the lower-casing buffer.
const NAME_BYTES_MAX: usize = 32;

pub(super) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    if name.len() > NAME_BYTES_MAX {
        return None;
    }
    let mut buf = [0u8; NAME_BYTES_MAX];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    BY_NAME.get(std::str::from_utf8(lower).ok()?).copied()
}

impl Spec {
    /// The subcommand `args[1]` names, for a container command given one: `Err` when it
    /// names none.
    pub(super) fn sub(&self, args: &[Bytes]) -> Result<Option<&'static Sub>, ()> {
        match (self.subs, args.get(1)) {
            ([], _) | (_, None) => Ok(None),
            (subs, Some(a)) => subs
                .iter()
                .find(|s| a.eq_ignore_ascii_case(s.name.as_bytes()))
                .map(Some)
                .ok_or(()),
        }
    }

    /// Whether every flag of `f` is set.
    pub(super) fn has(&self, f: Flags) -> bool {
        self.flags & f == f
    }

    /// A command that changes data (refused by a secondary).
    pub(super) fn is_write(&self) -> bool {
        self.has(WRITE)
    }
}

/// Whether `args` (a request; not empty) is a write command.
pub(crate) fn is_write(args: &[Bytes]) -> bool {
    lookup(&args[0]).is_some_and(Spec::is_write)
}

/// The number of commands gdc answers (COMMAND COUNT).
pub fn count() -> usize {
    COMMANDS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Of the commands gdc has, those Redis 7.0 flags `write`: a secondary must refuse
    /// exactly these.
    const REDIS_WRITES: &[&str] = &[
        "move",
        "zmpop",
        "bzmpop",
        "bzpopmin",
        "bzpopmax",
        "brpoplpush",
        "lmpop",
        "blmpop",
        "del",
        "unlink",
        "flushdb",
        "flushall",
        "expire",
        "pexpire",
        "expireat",
        "pexpireat",
        "persist",
        "rename",
        "renamenx",
        "copy",
        "sort",
        "restore",
        "set",
        "setnx",
        "setex",
        "psetex",
        "getset",
        "getdel",
        "getex",
        "mset",
        "msetnx",
        "append",
        "setrange",
        "incr",
        "decr",
        "incrby",
        "decrby",
        "incrbyfloat",
        "hset",
        "hmset",
        "hsetnx",
        "hdel",
        "hincrby",
        "hincrbyfloat",
        "sadd",
        "srem",
        "spop",
        "smove",
        "sinterstore",
        "sunionstore",
        "sdiffstore",
        "zadd",
        "zincrby",
        "zrem",
        "zpopmin",
        "zpopmax",
        "zremrangebyrank",
        "zremrangebyscore",
        "zremrangebylex",
        "zrangestore",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "lpush",
        "rpush",
        "lpushx",
        "rpushx",
        "lpop",
        "rpop",
        "lset",
        "linsert",
        "lrem",
        "ltrim",
        "lmove",
        "rpoplpush",
        "blpop",
        "brpop",
        "blmove",
    ];

    #[test]
    fn the_table_flags_as_writes_exactly_what_redis_does() {
        let ours: Vec<&str> = COMMANDS
            .iter()
            .filter(|s| s.is_write())
            .map(|s| s.name)
            .collect();
        let missing: Vec<&&str> = REDIS_WRITES.iter().filter(|n| !ours.contains(n)).collect();
        let extra: Vec<&&str> = ours.iter().filter(|n| !REDIS_WRITES.contains(n)).collect();
        assert!(missing.is_empty(), "writes not flagged WRITE: {missing:?}");
        assert!(extra.is_empty(), "flagged WRITE but Redis reads: {extra:?}");
        assert!(COMMANDS.iter().filter(|s| s.has(GROWS)).all(Spec::is_write));
    }

    #[test]
    fn names_are_unique_lower_case_and_fit_the_lookup_buffer() {
        for s in COMMANDS {
            assert_eq!(s.name, s.name.to_ascii_lowercase());
            assert!(s.name.len() <= NAME_BYTES_MAX, "{}", s.name);
            assert!(std::ptr::eq(
                lookup(s.name.to_uppercase().as_bytes()).expect("found"),
                s
            ));
        }
        assert_eq!(BY_NAME.len(), COMMANDS.len(), "a name twice");
    }
}
