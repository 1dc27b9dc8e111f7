//! Connection and server commands.

use super::{Ctx, int_arg, is, syntax_error, write_error, wrong_arity};
use crate::reply::Reply;
use crate::store::{DATABASES, now_ms};
use crate::sync::Place;
use bytes::Bytes;
use gdc_crdt::keyspace::{DIGEST_BUCKETS, bucket_of};
use std::sync::atomic::Ordering;

pub fn ping(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::Status("PONG"),
        2 => Reply::Bulk(args[1].clone()),
        _ => wrong_arity("ping"),
    }
}

pub fn echo(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Bulk(args[1].clone())
}

pub fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match int_arg(&args[1]) {
        Ok(n) if (0..DATABASES as i64).contains(&n) => {
            ctx.conn.db = n as usize;
            Reply::OK
        }
        Ok(_) => Reply::err("ERR DB index is out of range"),
        Err(e) => e,
    }
}

pub fn quit(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    ctx.conn.closing = true;
    Reply::OK
}

fn check_password(ctx: &Ctx<'_>, user: &[u8], pw: &[u8]) -> bool {
    user == b"default"
        && match &ctx.server.config.requirepass {
            Some(p) => p.as_bytes() == pw,
            None => true,
        }
}

pub fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (user, pw): (&[u8], &[u8]) = match args.len() {
        2 => (b"default", &args[1]),
        3 => (&args[1], &args[2]),
        _ => return syntax_error(),
    };
    if ctx.server.config.requirepass.is_none() && args.len() == 2 {
        return Reply::err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    if check_password(ctx, user, pw) {
        ctx.conn.authenticated = true;
        Reply::OK
    } else {
        Reply::err("WRONGPASS invalid username-password pair or user is disabled.")
    }
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]
pub fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut i = 1;
    let mut resp = ctx.conn.resp;
    if let Some(v) = args.get(1) {
        match int_arg(v) {
            Ok(v @ 2..=3) => resp = v as u8,
            Ok(_) => return Reply::err("NOPROTO unsupported protocol version"),
            Err(_) => return Reply::err("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    while i < args.len() {
        if is(&args[i], "auth") && i + 2 < args.len() {
            if !check_password(ctx, &args[i + 1], &args[i + 2]) {
                return Reply::err("WRONGPASS invalid username-password pair or user is disabled.");
            }
            ctx.conn.authenticated = true;
            i += 3;
        } else if is(&args[i], "setname") && i + 1 < args.len() {
            ctx.conn.name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Reply::err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
        }
    }
    if !ctx.conn.authenticated {
        return Reply::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    ctx.conn.resp = resp;
    let s = |v: &str| Reply::bulk(v.to_string());
    Reply::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(crate::REDIS_VERSION)),
        (s("proto"), Reply::Int(resp as i64)),
        (s("id"), Reply::Int(ctx.conn.id as i64)),
        (s("mode"), s("standalone")),
        (
            s("role"),
            s(match ctx.server.sync.place() {
                Place::Follows(_) => "replica",
                _ => "master",
            }),
        ),
        (s("modules"), Reply::Array(vec![])),
    ])
}

pub fn dbsize(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    Reply::Int(ctx.store.db(ctx.conn.db).live_len(ctx.now) as i64)
}

fn flush_mode_ok(args: &[Bytes]) -> bool {
    args.iter().skip(1).all(|a| is(a, "sync") || is(a, "async")) && args.len() <= 2
}

pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    match ctx.store.flush(Some(ctx.conn.db), ctx.now) {
        Ok(()) => Reply::OK,
        Err(e) => write_error(e),
    }
}

pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    match ctx.store.flush(None, ctx.now) {
        Ok(()) => Reply::OK,
        Err(e) => write_error(e),
    }
}

pub fn time(_: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
        .saturating_add_signed(i128::from(crate::testing::clock_offset_ms()) * 1000);
    Reply::Array(vec![
        Reply::bulk((us / 1_000_000).to_string()),
        Reply::bulk((us % 1_000_000).to_string()),
    ])
}

/// COMMAND, COMMAND COUNT, COMMAND DOCS: enough for redis-cli and client libraries, which
/// use them only to learn about commands.
pub fn command(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.get(1) {
        None => Reply::Array(vec![]),
        Some(a) if is(a, "count") => Reply::Int(super::count() as i64),
        Some(a) if is(a, "docs") => Reply::Map(vec![]),
        Some(a) if is(a, "info") => Reply::Array(vec![]),
        Some(a) => Reply::err(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(a)
        )),
    }
}

/// CONFIG GET pattern, CONFIG SET (accepted and reported back), CONFIG RESETSTAT.
pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    if is(sub, "get") && args.len() >= 3 {
        let mut out = Vec::new();
        let params = ctx.server.config_params();
        for pat in &args[2..] {
            for (k, v) in &params {
                if crate::glob::matches(pat, k.as_bytes())
                    && !out
                        .iter()
                        .any(|(a, _): &(Reply, Reply)| *a == Reply::bulk(k.clone()))
                {
                    out.push((Reply::bulk(k.clone()), Reply::bulk(v.clone())));
                }
            }
        }
        Reply::Map(out)
    } else if is(sub, "set") && args.len() >= 4 && args.len() % 2 == 0 {
        // maxmemory takes effect at once; other parameters are accepted and reported back.
        let mut memory = None;
        for kv in args[2..].chunks(2) {
            if is(&kv[0], "maxmemory") {
                match crate::config::parse_bytes(&String::from_utf8_lossy(&kv[1])) {
                    Some(v) => memory = Some(v),
                    None => {
                        return Reply::err(
                            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument couldn't be parsed into an integer",
                        );
                    }
                }
            }
        }
        if let Some(v) = memory {
            ctx.server.memory_bytes_max.store(v, Ordering::Relaxed);
        }
        let mut set = ctx
            .server
            .config_overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for kv in args[2..].chunks(2) {
            if !is(&kv[0], "maxmemory") {
                set.insert(
                    String::from_utf8_lossy(&kv[0]).to_ascii_lowercase(),
                    String::from_utf8_lossy(&kv[1]).into_owned(),
                );
            }
        }
        Reply::OK
    } else if is(sub, "resetstat") && args.len() == 2 {
        ctx.server.commands_processed.store(0, Ordering::Relaxed);
        ctx.store.command_stats.clear();
        Reply::OK
    } else {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(sub)
        ))
    }
}

pub fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    if is(sub, "id") {
        Reply::Int(ctx.conn.id as i64)
    } else if is(sub, "setname") && args.len() == 3 {
        ctx.conn.name = Some(args[2].clone());
        Reply::OK
    } else if is(sub, "getname") {
        ctx.conn.name.clone().map_or(Reply::Nil, Reply::Bulk)
    } else if is(sub, "setinfo") && args.len() == 4 {
        Reply::OK
    } else if is(sub, "list") || is(sub, "info") {
        let now = now_ms();
        let me = ctx.conn.id;
        let clients = ctx.server.clients();
        let line = |id: &u64, e: &crate::server::ClientEntry| {
            format!(
                "id={id} addr={} laddr={} fd=0 name={} age={} idle={} flags=N db={} sub=0 psub=0 multi=-1 cmd={} user=default resp={}\n",
                e.addr,
                e.laddr,
                e.name
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default(),
                now.saturating_sub(e.created_ms) / 1000,
                now.saturating_sub(e.last_ms) / 1000,
                e.db,
                if *id == me {
                    "client|list"
                } else {
                    &e.last_cmd
                },
                e.resp,
            )
        };
        let text: String = if is(sub, "info") {
            clients.get(&me).map(|e| line(&me, e)).unwrap_or_default()
        } else {
            clients.iter().map(|(id, e)| line(id, e)).collect()
        };
        Reply::bulk(text)
    } else if is(sub, "kill") && args.len() >= 3 {
        // CLIENT KILL addr | CLIENT KILL ID id | CLIENT KILL ADDR addr
        let clients = ctx.server.clients();
        let targets: Vec<u64> = match &args[2..] {
            [addr] => clients
                .iter()
                .filter(|(_, e)| e.addr.as_bytes() == &addr[..])
                .map(|(id, _)| *id)
                .collect(),
            [f, v] if is(f, "id") => match int_arg(v) {
                Ok(id) => clients
                    .keys()
                    .filter(|k| **k as i64 == id)
                    .copied()
                    .collect(),
                Err(e) => return e,
            },
            [f, v] if is(f, "addr") => clients
                .iter()
                .filter(|(_, e)| e.addr.as_bytes() == &v[..])
                .map(|(id, _)| *id)
                .collect(),
            _ => return syntax_error(),
        };
        for id in &targets {
            if let Some(e) = clients.get(id) {
                e.kill.notify_one();
            }
        }
        if args.len() == 3 {
            if targets.is_empty() {
                Reply::err("ERR No such client")
            } else {
                Reply::OK
            }
        } else {
            Reply::Int(targets.len() as i64)
        }
    } else {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(sub)
        ))
    }
}

pub fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let want = |s: &str| {
        args.len() == 1
            || args[1..]
                .iter()
                .any(|a| is(a, s) || is(a, "all") || is(a, "everything") || is(a, "default"))
    };
    let mut out = String::new();
    let st = &ctx.store;
    if want("server") {
        out.push_str(&format!(
            "# Server\r\nredis_version:{}\r\ngdc_version:{}\r\nredis_mode:standalone\r\nos:{}\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\n\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::process::id(),
            ctx.server.config.port,
            (now_ms() - ctx.server.started_ms) / 1000,
        ));
    }
    if want("clients") {
        out.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\nblocked_clients:{}\r\n\r\n",
            ctx.server.clients.load(Ordering::Relaxed),
            ctx.server.blocked.load(Ordering::Relaxed)
        ));
    }
    if want("memory") {
        out.push_str(&format!(
            "# Memory\r\nused_memory:{}\r\nmaxmemory:{}\r\nmaxmemory_policy:noeviction\r\n\r\n",
            crate::alloc::live_bytes().max(0),
            ctx.server.memory_bytes_max.load(Ordering::Relaxed),
        ));
    }
    if want("persistence") {
        out.push_str(&format!(
            "# Persistence\r\nloading:0\r\naof_enabled:1\r\nappendfsync:{}\r\nrdb_changes_since_last_save:{}\r\nbinlog_segment_bytes:{}\r\n\r\n",
            st.binlog().policy().name(),
            st.dirty,
            st.binlog().segment_bytes(),
        ));
    }
    if want("stats") {
        out.push_str(&format!(
            "# Stats\r\ntotal_commands_processed:{}\r\n\r\n",
            ctx.server.commands_processed.load(Ordering::Relaxed)
        ));
    }
    // Sections Redis leaves out of the default INFO.
    let want_extra = |s: &str| {
        args[1..]
            .iter()
            .any(|a| is(a, s) || is(a, "all") || is(a, "everything"))
    };
    let mut stats: Vec<_> = ctx.store.command_stats.iter().collect();
    stats.sort_by_key(|(name, _)| **name);
    if want_extra("commandstats") {
        out.push_str("# Commandstats\r\n");
        for (name, s) in &stats {
            let usec = s.nanos as f64 / 1e3;
            out.push_str(&format!(
                "cmdstat_{name}:calls={},usec={},usec_per_call={:.2},rejected_calls=0,failed_calls={}\r\n",
                s.calls,
                usec as u64,
                usec / s.calls.max(1) as f64,
                s.failed
            ));
        }
        out.push_str("\r\n");
    }
    if want_extra("latencystats") {
        // Bounds of power-of-two histogram buckets: an upper bound on each percentile.
        out.push_str("# Latencystats\r\n");
        for (name, s) in &stats {
            let p = |f: f64| s.percentile_nanos(f) as f64 / 1e3;
            out.push_str(&format!(
                "latency_percentiles_usec_{name}:p50={:.3},p99={:.3},p99.9={:.3}\r\n",
                p(0.5),
                p(0.99),
                p(0.999)
            ));
        }
        out.push_str("\r\n");
    }
    if want("replication") {
        out.push_str("# Replication\r\n");
        out.push_str(&redis_replication(ctx.server));
        ctx.server.replication_info(ctx.store.applied(), &mut out);
        out.push_str("\r\n");
    }
    if want("keyspace") {
        out.push_str("# Keyspace\r\n");
        for db in 0..DATABASES {
            let ks = st.db(db);
            let n = ks.live_len(ctx.now);
            if n > 0 {
                let expires = ks
                    .iter()
                    .filter(|(_, k)| k.exists(ctx.now) && k.expire_at().is_some())
                    .count();
                out.push_str(&format!("db{db}:keys={n},expires={expires},avg_ttl=0\r\n"));
            }
        }
        out.push_str("\r\n");
    }
    if want("gdc") {
        out.push_str(&gdc_section(ctx));
    }
    Reply::Bulk(Bytes::from(out))
}

fn gdc_section(ctx: &Ctx<'_>) -> String {
    let st = &ctx.store;
    let applied: Vec<String> = st
        .applied()
        .iter()
        .map(|(s, o)| format!("{}={}", s.0, o.0))
        .collect();
    format!(
        "# Gdc\r\nserver_id:{}\r\nregion:{}\r\napplied:{}\r\nhlc:{}\r\nhlc_future_rejected:{}\r\nbinlog_segment_bytes:{}\r\nkeys_held:{}\r\n\r\n",
        st.server().0,
        ctx.server.config.region,
        applied.join(","),
        st.clock().last().0,
        st.clock().future_rejected(),
        st.binlog().segment_bytes(),
        (0..DATABASES).map(|d| st.db(d).len()).sum::<usize>(),
    )
}

/// GDC.INFO: the gdc section of INFO.
pub fn gdc_info(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    Reply::Bulk(Bytes::from(gdc_section(ctx)))
}

/// GDC.DIGEST [db]: the digest of a database as 16 hex digits; equal data, equal digests.
pub fn gdc_digest(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = match args.get(1).map(|a| int_arg(a)) {
        None => ctx.conn.db,
        Some(Ok(n)) if (0..DATABASES as i64).contains(&n) => n as usize,
        Some(Ok(_)) => return Reply::err("ERR DB index is out of range"),
        Some(Err(e)) => return e,
    };
    let detail = args
        .get(2)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase());
    let bucket = match (detail.as_deref(), args.len()) {
        (None, _) | (Some("buckets"), 3) => None,
        (Some("keys"), 4) => match int_arg(&args[3]) {
            Ok(b) if (0..DIGEST_BUCKETS as i64).contains(&b) => Some(b as usize),
            Ok(_) => return Reply::err("ERR bucket is out of range"),
            Err(e) => return e,
        },
        _ => return Reply::err("ERR syntax error: GDC.DIGEST [db [BUCKETS | KEYS bucket]]"),
    };
    // Collect what is stable first, so that the digest does not depend on when the
    // periodic collection last ran.
    ctx.store.gc_all();
    let hex = |d: u64| Reply::bulk(format!("{d:016x}"));
    match (detail.as_deref(), bucket) {
        (None, _) => hex(ctx.store.digest(db)),
        (_, None) => Reply::Array(ctx.store.bucket_digests(db).into_iter().map(hex).collect()),
        // Key, digest, key, digest...: what `gdcctl verify` compares for a bucket that
        // differs.
        (_, Some(b)) => {
            let mut keys: Vec<(&[u8], u64)> = ctx
                .store
                .db(db)
                .iter()
                .filter(|(key, _)| bucket_of(key) == b)
                .map(|(key, state)| (&key[..], gdc_crdt::codec::key_digest(key, state)))
                .collect();
            keys.sort_unstable();
            Reply::Array(
                keys.into_iter()
                    .flat_map(|(k, d)| [Reply::bulk(Bytes::copy_from_slice(k)), hex(d)])
                    .collect(),
            )
        }
    }
}

/// GDC.DEBUG SET-UNLOGGED key value: a test hook (accepted only with
/// `enable-debug-command yes`) that writes a string to a key without logging it, so no
/// channel carries it: only anti-entropy can bring the regions back together.
pub fn gdc_debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !ctx.server.config.debug_command {
        return Reply::err(
            "ERR GDC.DEBUG is not allowed: start the node with --enable-debug-command yes",
        );
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("set-unlogged", 4) => {
            ctx.store
                .debug_set_unlogged(ctx.conn.db, &args[2], &args[3], ctx.now);
            Reply::OK
        }
        // The key's whole CRDT state (tags, TTL entries, removal knowledge), as text: what
        // to compare when two nodes' digests differ but their reads do not.
        ("state", 3) => {
            ctx.store.gc_all();
            match ctx.store.db(ctx.conn.db).get(&args[2]) {
                Some(state) => Reply::bulk(format!("{state:?}")),
                None => Reply::Nil,
            }
        }
        _ => Reply::err(format!(
            "ERR unknown GDC.DEBUG subcommand or wrong number of arguments for '{sub}'"
        )),
    }
}

/// GDC.ATTACH token instance coordinator [coordinator ...]: this node, so far on its own,
/// joins `instance` with its data, run from now on by those coordinators (what `gdcctl
/// child attach` sends). The token must be the node's own `--cluster-token`.
pub fn gdc_attach(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let text = |a: &Bytes| String::from_utf8_lossy(a).into_owned();
    let attachment = crate::sync::coordinated::Attachment {
        instance: text(&args[2]),
        region: ctx.server.config.region.clone(),
        coordinators: args[3..].iter().map(text).collect(),
    };
    match crate::sync::coordinated::attach(ctx.server, &args[1], attachment) {
        Ok(()) => Reply::OK,
        Err(e) => Reply::err(format!("ERR {e}")),
    }
}

/// `host:port` as Redis reports them apart (an IPv6 host without its brackets).
fn host_port(addr: &str) -> (String, u16) {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host.to_string(), port.parse().unwrap_or(0))
}

/// The lines of `INFO replication` Redis has, from this node's place in its region: a
/// primary lists the secondaries reading from it (`slaveN`), a secondary its primary (none
/// known: no host or port, the link down).
fn redis_replication(server: &crate::server::Shared) -> String {
    use std::fmt::Write as _;
    match server.sync.place() {
        Place::Alone | Place::Primary { .. } => {
            let connected = server.sync.connected_secondaries(&server.config.region);
            let mut out = format!("role:master\r\nconnected_slaves:{}\r\n", connected.len());
            for (i, (addr, offset)) in connected.iter().enumerate() {
                let (host, port) = host_port(addr);
                let _ = write!(
                    out,
                    "slave{i}:ip={host},port={port},state=online,offset={offset},lag=0\r\n"
                );
            }
            out
        }
        Place::Follows(Some(primary)) => {
            let (host, port) = host_port(&primary);
            format!(
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:up\r\n"
            )
        }
        Place::Follows(None) => "role:slave\r\nmaster_link_status:down\r\n".into(),
    }
}

/// ROLE, as Redis answers it: `master` for a node on its own or its region's primary (with
/// the secondaries reading from it and what they acknowledged), `slave` for a secondary
/// (with its primary). Sentinel clients send it to check the node they were sent to.
/// Offsets count ops applied.
pub fn role(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    let offset = ctx.store.applied().iter().map(|(_, op)| op.0).sum::<u64>() as i64;
    match ctx.server.sync.place() {
        Place::Alone | Place::Primary { .. } => {
            let connected = ctx
                .server
                .sync
                .connected_secondaries(&ctx.server.config.region);
            Reply::Array(vec![
                Reply::bulk("master"),
                Reply::Int(offset),
                Reply::Array(
                    connected
                        .iter()
                        .map(|(addr, acked)| {
                            let (host, port) = host_port(addr);
                            Reply::Array(vec![
                                Reply::bulk(host),
                                Reply::bulk(port.to_string()),
                                Reply::bulk(acked.to_string()),
                            ])
                        })
                        .collect(),
                ),
            ])
        }
        Place::Follows(primary) => {
            let (host, port) = primary.as_deref().map(host_port).unwrap_or_default();
            let state = if primary.is_some() {
                "connected"
            } else {
                "connect"
            };
            Reply::Array(vec![
                Reply::bulk("slave"),
                Reply::bulk(host),
                Reply::Int(i64::from(port)),
                Reply::bulk(state),
                Reply::Int(offset),
            ])
        }
    }
}

pub fn save(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    if ctx.server.snapshots.running.load(Ordering::Acquire) {
        return Reply::err("ERR Background save already in progress");
    }
    match ctx.store.save() {
        Ok((seq, applied)) => {
            ctx.server.snapshot_written(seq, applied);
            ctx.server
                .snapshots
                .last_ok_secs
                .store(now_ms() / 1000, Ordering::Relaxed);
            Reply::OK
        }
        Err(e) => Reply::err(format!("ERR {e}")),
    }
}

pub fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 2 || args.get(1).is_some_and(|a| !is(a, "schedule")) {
        return syntax_error();
    }
    match ctx.server.start_bgsave(ctx.store) {
        Ok(true) => Reply::Status("Background saving started"),
        Ok(false) => Reply::err("ERR Background save already in progress"),
        Err(e) => Reply::err(format!("ERR {e}")),
    }
}

pub fn lastsave(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    Reply::Int(ctx.server.snapshots.last_ok_secs.load(Ordering::Relaxed) as i64)
}

/// SHUTDOWN [NOSAVE | SAVE]: the binlog is made durable in any case; SAVE also writes a
/// snapshot first. The connection closes without a reply, as with Redis.
pub fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let save = match args.get(1) {
        None => false,
        Some(a) if is(a, "save") => true,
        Some(a) if is(a, "nosave") => false,
        Some(_) => return syntax_error(),
    };
    if save {
        if ctx.server.snapshots.running.load(Ordering::Acquire) {
            return Reply::err(
                "ERR Errors trying to SHUTDOWN. Check logs. (a background save is running)",
            );
        }
        match ctx.store.save() {
            Ok((seq, applied)) => ctx.server.snapshot_written(seq, applied),
            Err(e) => {
                return Reply::err(format!("ERR Errors trying to SHUTDOWN. Check logs. ({e})"));
            }
        }
    }
    ctx.server.shutdown.notify_one();
    ctx.conn.closing = true;
    Reply::Silence
}

/// RESET: the connection back to its just-connected state.
pub fn reset(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    for c in std::mem::take(&mut ctx.conn.channels) {
        ctx.server.pubsub.unsubscribe(false, &c, ctx.conn.id);
    }
    for p in std::mem::take(&mut ctx.conn.patterns) {
        ctx.server.pubsub.unsubscribe(true, &p, ctx.conn.id);
    }
    ctx.conn.multi = None;
    ctx.conn.multi_failed = false;
    ctx.conn.watched.clear();
    ctx.conn.db = 0;
    ctx.conn.resp = 2;
    ctx.conn.name = None;
    ctx.conn.authenticated = ctx.server.config.requirepass.is_none();
    Reply::Status("RESET")
}

/// WAIT numregions timeout-ms: until the connection's last write has been acknowledged by
/// `numregions` other regions (those that subscribe to this node; not this region's own
/// secondaries), or the timeout (0: no limit). Answers how many have it.
pub fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (want, timeout) = match (int_arg(&args[1]), int_arg(&args[2])) {
        (Ok(n), Ok(t)) if t >= 0 => (n, t as u64),
        (Ok(_), Ok(_)) => return Reply::err("ERR timeout is negative"),
        _ => return Reply::err("ERR value is not an integer or out of range"),
    };
    let own = ctx.store.server();
    let op = ctx.conn.last_write_op;
    // Other regions only: this region's own secondaries are not other child instances.
    let region = &ctx.server.config.region;
    let have = ctx
        .server
        .sync
        .acked()
        .iter()
        .filter(|(key, (_, acked))| {
            !crate::sync::is_own_region_key(region, key) && acked.get(own).0 >= op
        })
        .count() as i64;
    if have >= want || ctx.conn.in_exec {
        return Reply::Int(have);
    }
    Reply::Block {
        deadline_ms: (timeout > 0).then(|| ctx.now + timeout),
        on_timeout: Box::new(Reply::Int(have)),
    }
}

/// GDC.CHANNELS: every channel of this node, inbound (this node receives) and outbound (a
/// peer receives from this node), with its state and lag.
pub fn gdc_channels(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    use crate::sync::Shown;
    let own = ctx.store.applied().clone();
    let sync = &ctx.server.sync;
    let map = |direction: &str, fields: Vec<(&str, Shown)>| {
        let field = |k: &str, v: Reply| (Reply::bulk(k.to_string()), v);
        let mut m = vec![field("direction", Reply::bulk(direction.to_string()))];
        m.extend(fields.into_iter().map(|(k, v)| match v {
            Shown::Int(n) => field(k, Reply::Int(n as i64)),
            Shown::Text(t) => field(k, Reply::bulk(t)),
        }));
        Reply::Map(m)
    };
    let mut out: Vec<Reply> = sync
        .inbound()
        .values()
        .map(|c| map("in", c.shown(ctx.now)))
        .collect();
    for s in sync.outbound().values() {
        out.push(map("out", sync.shown(&own, s)));
    }
    Reply::Array(out)
}
