//! What the blocking commands share (BLPOP and family, BZPOP*, XREAD and XREADGROUP
//! with BLOCK, WAIT): their timeouts, the keys they wait on, and the reply that makes a
//! session wait (`Reply::Block`); the multi-key pops' arguments (LMPOP, ZMPOP and their
//! blocking forms). The session keeps the wait (`session.rs`); whom a change wakes is
//! `notify::blocked`'s.

use super::{Ctx, float_arg, int_arg, is, syntax_error, table};
use crate::reply::Reply;
use bytes::Bytes;

/// A blocking command's timeout in seconds (0: forever) as a Unix-ms deadline, counted from
/// when the command first blocked.
pub fn deadline(ctx: &Ctx<'_>, arg: &[u8]) -> Result<Option<u64>, Reply> {
    let secs =
        float_arg(arg).map_err(|_| Reply::err("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    if !secs.is_finite() {
        return Err(Reply::err("ERR timeout is not a float or out of range"));
    }
    Ok((secs > 0.0).then(|| wait_started(ctx) + (secs * 1000.0) as u64))
}

/// Unix ms a blocking command's wait counts from: when it first blocked, or now.
pub fn wait_started(ctx: &Ctx<'_>) -> u64 {
    ctx.conn.blocked_since.unwrap_or(ctx.now)
}

/// What LMPOP, BLMPOP, ZMPOP and BZMPOP were asked: the keys in order, which end to pop
/// from (LEFT/RIGHT, MIN/MAX), how many.
#[derive(Debug)]
pub struct Mpop<'a, E> {
    pub keys: &'a [Bytes],
    pub from: E,
    pub count: usize,
}

impl<'a, E> Mpop<'a, E> {
    /// `numkeys key [key ...] <end> [COUNT count]`, as Redis checks it; `end` reads the end.
    pub fn parse(args: &'a [Bytes], end: fn(&[u8]) -> Option<E>) -> Result<Self, Reply> {
        let positive = |arg: &[u8], what: &str| -> Result<usize, Reply> {
            match int_arg(arg) {
                Ok(n) if n > 0 => Ok(n as usize),
                _ => Err(Reply::err(format!("ERR {what} should be greater than 0"))),
            }
        };
        let numkeys = positive(&args[0], "numkeys")?;
        let Some(keys) = args.get(1..).and_then(|rest| rest.get(..numkeys)) else {
            return Err(syntax_error());
        };
        let rest = &args[1 + numkeys..];
        let Some(from) = rest.first().and_then(|a| end(a)) else {
            return Err(syntax_error());
        };
        let count = match &rest[1..] {
            [] => 1,
            [word, n] if is(word, "count") => positive(n, "count")?,
            _ => return Err(syntax_error()),
        };
        Ok(Mpop { keys, from, count })
    }
}

/// The key a blocking command waits on, read: a key of another type fails the command when
/// it first runs, and is only not ready yet on a retry (Redis serves a blocked client only
/// from keys of the type it waits for).
pub fn waited_on<T>(ctx: &Ctx<'_>, read: Result<Option<T>, Reply>) -> Result<Option<T>, Reply> {
    match read {
        Err(_) if ctx.conn.blocked_since.is_some() => Ok(None),
        other => other,
    }
}

/// Wait, or (inside EXEC, where nothing may wait) answer as a timeout at once.
pub fn block(ctx: &Ctx<'_>, deadline_ms: Option<u64>, on_timeout: Reply) -> Reply {
    block_retrying(ctx, deadline_ms, on_timeout, None)
}

/// [`block`], retrying `retry` (when given) instead of the command as it came.
pub fn block_retrying(
    ctx: &Ctx<'_>,
    deadline_ms: Option<u64>,
    on_timeout: Reply,
    retry: Option<Vec<Bytes>>,
) -> Reply {
    if ctx.conn.in_exec {
        return on_timeout;
    }
    Reply::Block {
        deadline_ms,
        wait: Box::new(crate::reply::Wait { on_timeout, retry }),
    }
}

/// The keys a blocked request waits on: those its key specs say it takes what it waits
/// for from (BLMOVE's source, not its destination); and whether it takes it away (a pop:
/// its specs say it may delete the key) rather than only read it (XREAD). No keys for a
/// wait on something else (WAIT, a change of users): those look again at whatever may
/// have come.
pub fn waited_keys(args: &[Bytes]) -> (Vec<Bytes>, bool) {
    let Some(command) = table::command_of(args) else {
        return (Vec::new(), false);
    };
    let mut takes = false;
    let keys = command
        .find_keys(args)
        .into_iter()
        .filter(|(_, flags)| flags & table::KEY_ACCESS != 0)
        .filter_map(|(at, flags)| {
            takes |= flags & table::KEY_DELETE != 0;
            args.get(at).cloned()
        })
        .collect();
    (keys, takes)
}
