//! Commands: the table of names and arities, argument parsing helpers, and dispatch. One
//! file per command family.

mod acl;
mod bits;
mod blocking;
mod client;
mod command;
mod conn;
mod connection;
mod dump;
mod functions;
mod gdc;
mod geo;
mod hash;
mod hll;
mod info;
mod introspection;
mod keys;
mod list;
mod memory;
mod monitoring;
mod pubsub;
mod random;
mod scripting;
mod server;
mod set;
mod sort;
mod stream;
mod string;
mod table;
mod tracking;
mod transaction;
mod zset;

pub use acl::default_login;
pub use blocking::{Mpop, block, block_retrying, deadline, wait_started, waited_keys, waited_on};
pub use conn::{Conn, QueryBuffer, Replies};
pub use functions::migrate_saved_functions;
pub use scripting::while_busy;
use table::{
    ADMIN, Command, DENYOOM, NO_AUTH, NO_MULTI, NOT_QUEUED, SKIP_MONITOR, SKIP_SLOWLOG, SUBSCRIBED,
    lookup,
};
pub use table::{acl_view, count};
pub(crate) use table::{denies_oom, is_write};

use crate::engine::store::{Store, WriteError};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::{Effect, KeyState, OpError, Tag};

/// What every command may use.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub conn: &'a mut Conn,
    pub server: &'a crate::shared::Shared,
    /// The settings in force for this batch.
    pub config: &'a crate::config::Config,
    /// Unix ms, fixed for the whole batch.
    pub now: u64,
}

impl Ctx<'_> {
    /// A key as the client sees it (absent when expired), noted as used (see
    /// [`Store::get_used`]).
    pub fn get(&self, key: &[u8]) -> Option<&KeyState> {
        self.store.get_used(self.conn.db, key, self.now)
    }

    /// [`Ctx::get`] without noting a use: what OBJECT, TYPE, EXISTS and TTL read, as
    /// Redis's do.
    pub fn peek(&self, key: &[u8]) -> Option<&KeyState> {
        self.store.get(self.conn.db, key, self.now)
    }

    /// Make a write to `key` of the current database.
    pub fn write<T>(
        &mut self,
        key: &[u8],
        build: impl FnOnce(Option<&KeyState>, u64, Tag) -> Result<(Option<Effect>, T), OpError>,
    ) -> Result<T, Reply> {
        let db = self.conn.db;
        self.store
            .write(db, key, self.now, build)
            .map_err(write_error)
    }

    /// Keyspace event `event` of class `class` on `key` of the current database (see
    /// [`crate::notify`]): a command names what it did, once it did it.
    pub fn notify(&self, class: crate::notify::events::Classes, event: &'static str, key: &[u8]) {
        self.server.notifier().fire(class, event, self.conn.db, key);
    }

    /// `del` when `key` no longer exists: a command that removed the last of a
    /// collection says so after its own event, as Redis's do.
    pub fn notify_if_gone(&self, key: &[u8]) {
        if self.peek(key).is_none() {
            self.notify(crate::notify::events::GENERIC, "del", key);
        }
    }

    /// Run `f` with its writes logged as one binlog batch (replayed, and shipped to other
    /// regions, all or none), or inside the batch already open (EXEC's).
    pub fn in_one_batch<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Result<T, Reply> {
        if self.store.in_batch() {
            return Ok(f(self));
        }
        self.store.begin_batch();
        let out = f(self);
        self.store
            .end_batch()
            .map_err(|e| write_error(WriteError::Binlog(e)))?;
        Ok(out)
    }

    /// The destination of a *STORE command: written whole (keyspace event `event` of
    /// `class`), or deleted when the result is empty (`None`: `del`, if it existed), as
    /// Redis never stores an empty collection.
    pub fn store_whole(
        &mut self,
        key: &[u8],
        whole: Option<gdc_crdt::ops::Whole>,
        (class, event): (crate::notify::events::Classes, &'static str),
    ) -> Result<(), Reply> {
        let existed = self.peek(key).is_some();
        let stored = whole.is_some();
        self.write(key, |k, _, tag| {
            Ok((
                match &whole {
                    Some(w) => Some(gdc_crdt::ops::replace(k, tag, w, None)),
                    None => gdc_crdt::ops::delete(k, tag),
                },
                (),
            ))
        })?;
        if stored {
            self.notify(class, event, key);
        } else if existed {
            self.notify(crate::notify::events::GENERIC, "del", key);
        }
        Ok(())
    }
}

/// What a handler answers: its reply, or (with `?`) the error reply that stopped it. Both
/// go to the client the same way; the split only lets argument checks use `?`.
pub type CmdResult = Result<Reply, Reply>;

pub fn write_error(e: WriteError) -> Reply {
    match e {
        WriteError::Refused(op) => Reply::err(op.to_string()),
        WriteError::Binlog(b) => Reply::err(format!("MISCONF Errors writing to the binlog: {b}")),
    }
}

pub(crate) const READONLY: &str = "READONLY You can't write against a read only replica.";

/// This node refuses writes now: a secondary, or a primary fenced for a switchover. A
/// primary's writes never wait on the coordinators (docs/coordinator.md, "Writes without
/// the coordinators"), unless a test breaks that on purpose.
#[inline]
pub(crate) fn read_only(ctx: &Ctx<'_>) -> bool {
    ctx.server.replication().refuses_writes(ctx.now)
}

/// The monotonic clock in nanoseconds, which times every command (the slow log, the
/// latency monitor, INFO commandstats). A plain `u64`: `Instant`'s subtraction normalizes
/// seconds and nanoseconds and checks for overflow, about 70 instructions per command.
#[inline]
pub fn clock_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    })
}

/// The indexes `start..=stop` of a sequence of `len` as Redis reads them (GETRANGE, LRANGE,
/// LTRIM, ZRANGE by rank): negative counts from the end, clamped to the sequence; a
/// half-open range, empty when the bounds cross or lie past the end.
pub fn index_range(len: usize, start: i64, stop: i64) -> std::ops::Range<usize> {
    let n = len as i64;
    let a = if start < 0 { (n + start).max(0) } else { start };
    let b = if stop < 0 { n + stop } else { stop.min(n - 1) };
    if a > b || a >= n {
        return 0..0;
    }
    a as usize..b as usize + 1
}

/// Run one request. `args` is not empty.
pub fn execute(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // A session's batch hands over the clock read that ended the command before; a
    // command run by another (EXEC's, a script's) reads its own, as does the command after
    // one answered before it ran (refused, queued).
    let handed = ctx.conn.clock.take();
    let last = ctx.conn.last_spec;
    let spec = match last.filter(|s| s.command.name.as_bytes().eq_ignore_ascii_case(&args[0])) {
        Some(s) => Some(s),
        None => lookup(&args[0]),
    };
    ctx.conn.last_spec = spec;
    let Some(spec) = spec else {
        ctx.conn.multi_failed |= ctx.conn.multi.is_some();
        let reply = unknown(args);
        if let Reply::Error(e) = &reply {
            ctx.store.stats.error(e);
        }
        return reply;
    };
    let Ok(sub) = spec.command.sub(args) else {
        ctx.conn.multi_failed |= ctx.conn.multi.is_some();
        let reply = unknown_sub(args);
        if let Reply::Error(e) = &reply {
            ctx.store.stats.error(e);
        }
        return reply;
    };
    // What runs: the subcommand's description when there is one (`client|id` in errors,
    // stats and CLIENT LIST, and its own flags), with the container's handler.
    let command = sub.unwrap_or(&spec.command);
    let name = command.name;
    // Room is made before every command (by the session, before it sends the messages
    // queued for the client: [`make_room`]), as Redis does; only a command that may grow
    // memory is refused when none could be made. EXEC's commands ran this check when EXEC
    // did.
    let out_of_memory = match ctx.conn.room_full.take() {
        Some(full) => full,
        None => room_full(ctx),
    };
    if !ctx.conn.in_script {
        ctx.conn.out_of_memory = out_of_memory;
    }
    if let Some(refusal) = refusal(ctx, command, args, out_of_memory) {
        ctx.conn.multi_failed |= ctx.conn.multi.is_some();
        if name == "exec" {
            // A refused EXEC ends the transaction, as Redis's does.
            ctx.conn.multi = None;
            ctx.conn.watched.clear();
        }
        if let Reply::Error(e) = &refusal {
            ctx.store.stats.rejected(name, e);
        }
        return refusal;
    }
    let subscribed = ctx.conn.subscribed();
    if subscribed && ctx.conn.resp < 3 && name == "ping" {
        let msg = args.get(1).cloned().unwrap_or_default();
        return Reply::Push(vec![Reply::bulk("pong"), Reply::Bulk(msg)]);
    }
    if let Some(queue) = &mut ctx.conn.multi {
        if !command.has(NOT_QUEUED) {
            queue.push(args.to_vec());
            return Reply::Status("QUEUED");
        }
    }
    ctx.conn.last_cmd = name;
    let started = handed.unwrap_or_else(clock_ns);
    let writes = ctx.store.writes;
    tracking::before_command(ctx, command, args);
    let reply = (spec.run)(ctx, args).unwrap_or_else(|refused| refused);
    tracking::after_command(ctx, command, args);
    if ctx.store.writes != writes {
        ctx.conn.last_write_op = ctx.store.applied().get(ctx.store.server()).0;
    }
    let ended = clock_ns();
    if handed.is_some() {
        ctx.conn.clock = Some(ended);
    }
    let nanos = ended.saturating_sub(started);
    let error = match &reply {
        Reply::Error(e) => Some(e.as_str()),
        _ => None,
    };
    // A blocked command runs again at every wake-up: counted once, when it first ran.
    let first_run = ctx.conn.blocked_since.is_none();
    let error_counted = std::mem::take(&mut ctx.conn.error_counted);
    if first_run {
        ctx.store.stats.ran(name, nanos, error, error_counted);
    } else if let Some(e) = error {
        ctx.store.stats.failed_after_wait(name, e);
    }
    // MONITOR sees a command once, when it first runs; the slow log once it is done.
    // Redis hides admin commands from MONITOR (a subcommand by its own flags).
    let shown = first_run && !command.has(ADMIN) && !command.has(SKIP_MONITOR);
    let timed = !matches!(reply, Reply::Block { .. }) && !command.has(SKIP_SLOWLOG);
    monitoring::observe(ctx, args, nanos, shown, timed);
    reply
}

/// Make room for the next command (evicting by the policy), noting for it whether memory
/// is full still.
pub fn make_room(ctx: &mut Ctx<'_>) {
    ctx.conn.room_full = Some(room_full(ctx));
}

/// Whether no room could be made. A node that takes no writes evicts nothing (a
/// secondary's primary does, and its evictions reach it) and refuses nothing for memory.
#[inline]
fn room_full(ctx: &mut Ctx<'_>) -> bool {
    ctx.config.memory_bytes_max > 0
        && !ctx.conn.in_exec
        && !read_only(ctx)
        && ctx.store.make_room(ctx.now) == crate::engine::store::Room::Full
}

/// Whether a CLIENT PAUSE WRITE holds this request back: a command that writes or may
/// reach other clients (PUBLISH, SPUBLISH), or an EXEC with one queued; not a command being
/// queued.
pub fn waits_for_write_pause(conn: &Conn, args: &[Bytes]) -> bool {
    let writes = |a: &[Bytes]| is_write(a) || is(&a[0], "publish") || is(&a[0], "spublish");
    if is(&args[0], "exec") {
        return conn
            .multi
            .as_ref()
            .is_some_and(|q| q.iter().any(|a| !a.is_empty() && writes(a)));
    }
    conn.multi.is_none() && writes(args)
}

/// Why `command` may not run now, as Redis says it: before AUTH, a wrong number of
/// arguments, a write on a node that refuses writes, a write that grows memory over
/// `maxmemory`, a command a RESP2 client in subscribe mode may not send. (Counted as a
/// rejected call.)
fn refusal(ctx: &Ctx<'_>, command: &Command, args: &[Bytes], out_of_memory: bool) -> Option<Reply> {
    let (name, arity) = (command.name, command.arity);
    if !ctx.conn.authenticated && !command.has(NO_AUTH) {
        return Some(Reply::err("NOAUTH Authentication required."));
    }
    let n = args.len() as i32;
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return Some(wrong_arity(name));
    }
    if let Some(noperm) = acl::refusal(ctx, command, args) {
        return Some(noperm);
    }
    if ctx.conn.multi.is_some() && command.has(NO_MULTI) {
        return Some(Reply::err("ERR Command not allowed inside a transaction"));
    }
    // EXEC decides for its whole queue at once (a role change mid-way must not split it).
    if !ctx.conn.in_exec && command.is_write() && read_only(ctx) {
        return Some(Reply::err(READONLY));
    }
    if out_of_memory && oom_refused(ctx, command) {
        let oom = "OOM command not allowed when used memory > 'maxmemory'.";
        if name == "exec" {
            return Some(Reply::err(format!(
                "EXECABORT Transaction discarded because of: {oom}"
            )));
        }
        return Some(Reply::err(oom));
    }
    let subscribed = ctx.conn.subscribed();
    if subscribed && ctx.conn.resp < 3 && !command.has(SUBSCRIBED) {
        return Some(Reply::err(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            name
        )));
    }
    None
}

/// Whether `command` is refused while memory is full: one that may grow memory, an EXEC
/// with one queued, and anything queued in MULTI (a queue could grow without bound) but
/// what ends it.
fn oom_refused(ctx: &Ctx<'_>, command: &Command) -> bool {
    if command.has(DENYOOM) {
        return true;
    }
    match (command.name, &ctx.conn.multi) {
        ("exec", Some(queue)) => queue.iter().any(|a| !a.is_empty() && denies_oom(a)),
        ("discard" | "quit" | "reset", _) => false,
        (_, multi) => multi.is_some(),
    }
}

/// Redis's reply to an unknown command: the name (to 128 bytes) and the first arguments
/// quoted, until they fill 128 bytes.
fn unknown(args: &[Bytes]) -> Reply {
    const SHOWN: usize = 128;
    let name = &args[0][..args[0].len().min(SHOWN)];
    let mut quoted = String::new();
    for a in &args[1..] {
        if quoted.len() >= SHOWN {
            break;
        }
        let room = SHOWN - quoted.len();
        let shown = String::from_utf8_lossy(&a[..a.len().min(room)]);
        quoted.push_str(&format!("'{shown}' "));
    }
    Reply::err(format!(
        "ERR unknown command '{}', with args beginning with: {quoted}",
        String::from_utf8_lossy(name)
    ))
}

/// Redis's reply to a container command given a subcommand it does not have.
fn unknown_sub(args: &[Bytes]) -> Reply {
    let sub = &args[1][..args[1].len().min(128)];
    Reply::err(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        String::from_utf8_lossy(&args[0]).to_uppercase()
    ))
}

pub fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub fn syntax_error() -> Reply {
    Reply::err("ERR syntax error")
}

/// An integer argument, as Redis parses it.
pub fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    gdc_crdt::string::parse_i64(b).ok_or_else(|| Reply::err(OpError::NotInteger.to_string()))
}

/// A float argument, as Redis parses it (`inf` and `-inf` included).
pub fn float_arg(b: &[u8]) -> Result<f64, Reply> {
    let s = std::str::from_utf8(b).map_err(|_| not_float())?;
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    gdc_crdt::string::parse_f64(b).ok_or_else(not_float)
}

/// A HELP subcommand's reply: its lines, as status replies.
pub fn help(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Status(l)).collect())
}

/// An INCRBYFLOAT or HINCRBYFLOAT increment: an integer (`3`, `1e2`) is kept as one, so
/// that adding it to an integer is exact past 2^53, as Redis's long double arithmetic is
/// (-4611686018427387904 + 3); anything else is a float, added as a double (Redis's long
/// double keeps 11 more bits: docs/compatibility.md).
pub fn increment_arg(b: &[u8]) -> Result<gdc_crdt::field::Num, Reply> {
    use gdc_crdt::field::Num;
    const EXACT: f64 = (1u64 << 53) as f64; // every integer up to this is a double
    match gdc_crdt::string::parse_i64(b) {
        Some(i) => Ok(Num::Int(i128::from(i))),
        None => float_arg(b).map(|f| {
            if f.fract() == 0.0 && f.abs() <= EXACT {
                Num::Int(f as i128) // `1e2`: an integer all the same
            } else {
                Num::Float(f)
            }
        }),
    }
}

fn not_float() -> Reply {
    Reply::err(OpError::NotFloat.to_string())
}

/// The key a pipelined command most likely touches, for its batch to look up early: most
/// commands' first argument; where the keys move (EVAL, EVALSHA, FCALL and their _RO
/// forms, told apart by their letter first), the first its key specs find.
pub fn likely_key(args: &[Bytes]) -> Option<&Bytes> {
    let first = args.first()?.first()?.to_ascii_lowercase();
    if matches!(first, b'e' | b'f') {
        if let Some(command) = table::command_of(args).filter(|c| c.movable()) {
            let (at, _) = *command.find_keys(args).first()?;
            return args.get(at);
        }
    }
    args.get(1)
}

/// Whether an argument is this keyword, ignoring case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A random number below `n` (> 0), for SPOP, SRANDMEMBER and RANDOMKEY: the node's one
/// source of cheap randomness, which eviction samples with too.
pub use crate::engine::eviction::random_below;
pub use random::{picks_count, random_picks};

/// An optional count that must not be negative (LPOP, SPOP, ZPOPMIN): `None` when absent.
pub fn pop_count(arg: Option<&Bytes>) -> Result<Option<usize>, Reply> {
    match arg.map(|c| int_arg(c)).transpose()? {
        None => Ok(None),
        Some(c) if c >= 0 => Ok(Some(c as usize)),
        Some(_) => Err(Reply::err("ERR value is out of range, must be positive")),
    }
}

/// Map a builder's refusal into a reply.
pub fn refused(e: OpError) -> Reply {
    Reply::err(e.to_string())
}

/// A type check for a read: `Err(WRONGTYPE)` when the key holds another type.
pub fn check_type(k: Option<&KeyState>, kind: gdc_crdt::Kind) -> Result<(), Reply> {
    match k.and_then(KeyState::kind) {
        Some(found) if found != kind => Err(refused(OpError::WrongType)),
        _ => Ok(()),
    }
}
