//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, CLIENT, RESET.

use super::{CmdResult, Ctx, int_arg, is, syntax_error, wrong_arity};
use crate::engine::store::DATABASES;
use crate::reply::Reply;
use crate::sync::coordination::Place;
use bytes::Bytes;

pub fn ping(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match args.len() {
        1 => Reply::Status("PONG"),
        2 => Reply::Bulk(args[1].clone()),
        _ => wrong_arity("ping"),
    })
}

pub fn echo(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(args[1].clone()))
}

pub fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match int_arg(&args[1]) {
        Ok(n) if (0..DATABASES as i64).contains(&n) => {
            ctx.conn.db = n as usize;
            Reply::OK
        }
        Ok(_) => Reply::err("ERR DB index is out of range"),
        Err(e) => e,
    })
}

pub fn quit(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.conn.closing = true;
    Ok(Reply::OK)
}

pub fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (user, pw): (&[u8], &[u8]) = match args.len() {
        2 => (b"default", &args[1]),
        3 => (&args[1], &args[2]),
        _ => return Ok(syntax_error()),
    };
    let default_nopass = || {
        let users = ctx.server.accounts().users();
        let default = users.get(crate::acl::DEFAULT_USER);
        default.is_some_and(|u| u.nopass())
    };
    if args.len() == 2 && default_nopass() {
        return Ok(Reply::err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    Ok(match super::acl::authenticate(ctx, user, pw) {
        Ok(()) => Reply::OK,
        Err(e) => e,
    })
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]
pub fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut i = 1;
    let mut resp = ctx.conn.resp;
    if let Some(v) = args.get(1) {
        match int_arg(v) {
            Ok(v @ 2..=3) => resp = v as u8,
            Ok(_) => return Ok(Reply::err("NOPROTO unsupported protocol version")),
            Err(_) => {
                return Ok(Reply::err(
                    "ERR Protocol version is not an integer or out of range",
                ));
            }
        }
        i = 2;
    }
    while i < args.len() {
        if is(&args[i], "auth") && i + 2 < args.len() {
            if let Err(e) = super::acl::authenticate(ctx, &args[i + 1], &args[i + 2]) {
                return Ok(e);
            }
            i += 3;
        } else if is(&args[i], "setname") && i + 1 < args.len() {
            ctx.conn.name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Ok(Reply::err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    if !ctx.conn.authenticated {
        return Ok(Reply::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    ctx.conn.resp = resp;
    let s = |v: &str| Reply::bulk(v.to_string());
    Ok(Reply::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(crate::REDIS_VERSION)),
        (s("proto"), Reply::Int(resp as i64)),
        (s("id"), Reply::Int(ctx.conn.id as i64)),
        (s("mode"), s("standalone")),
        (
            s("role"),
            s(match ctx.server.replication().coordination().place() {
                Place::Follows(_) => "replica",
                _ => "master",
            }),
        ),
        (s("modules"), Reply::Array(vec![])),
    ]))
}

/// RESET: the connection back to its just-connected state.
pub fn reset(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.conn.unsubscribe_all(ctx.server.pubsub());
    ctx.server.pubsub().unmonitor(ctx.conn.id);
    ctx.conn.monitor = false;
    ctx.conn.multi = None;
    ctx.conn.multi_failed = false;
    ctx.conn.watched.clear();
    ctx.conn.db = 0;
    ctx.conn.resp = 2;
    ctx.conn.name = None;
    ctx.conn.user = Bytes::from_static(crate::acl::DEFAULT_USER);
    ctx.conn.authenticated = super::default_login(ctx.server);
    Ok(Reply::Status("RESET"))
}

/// READONLY and READWRITE: Redis Cluster's, for reading from a replica; a gdc node is not
/// in a Redis Cluster, so it answers as a redis-server with cluster support disabled.
pub fn cluster_only(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::err("ERR This instance has cluster support disabled"))
}
