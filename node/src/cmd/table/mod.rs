//! The command table: every command gdc answers, described once, as Redis 7.0 describes it
//! to COMMAND — arity, flags, ACL categories, tips, key specifications and documentation —
//! next to its handler. The dispatcher's checks (a write on a secondary, `denyoom` over
//! `maxmemory`, before AUTH, inside MULTI) read the same flags; COMMAND INFO's legacy key
//! positions, its `movablekeys` flag and COMMAND GETKEYS are derived from the key specs
//! (`keyspec`). One list per command family; adding a command is adding one entry there.

mod access;
mod bitmap;
mod connection;
mod geo;
mod hash_set;
mod hyperloglog;
mod keyspace;
mod keyspec;
mod list;
mod scripting;
mod server;
mod stream;
mod string;
mod zset;

pub(super) use keyspec::{
    ACCESS as KEY_ACCESS, Begin, DELETE as KEY_DELETE, Find, KeyFlags, KeySpec, RO as KEY_RO,
    key_flag_names,
};

/// The key flags the ACL reads (how a command uses a key).
pub(super) mod key_flags {
    pub(in crate::cmd) use super::keyspec::{ACCESS, DELETE, INSERT, UPDATE};
}

use super::{CmdResult, Ctx};
use bytes::Bytes;
use keyspec::Getkeys;
use std::sync::LazyLock;

type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// A command's flags: Redis's, as COMMAND INFO shows them, and two of gdc's own that Redis
/// decides by the command itself rather than by a flag.
pub(super) type Flags = u32;

/// Changes data: a secondary (or a fenced primary) refuses it with READONLY.
pub(super) const WRITE: Flags = 1;
pub(super) const READONLY: Flags = 1 << 1;
/// A write that may grow memory: refused over `maxmemory`.
pub(super) const DENYOOM: Flags = 1 << 2;
pub(super) const ADMIN: Flags = 1 << 3;
pub(super) const PUBSUB: Flags = 1 << 4;
pub(super) const NOSCRIPT: Flags = 1 << 5;
pub(super) const BLOCKING: Flags = 1 << 6;
pub(super) const LOADING: Flags = 1 << 7;
pub(super) const STALE: Flags = 1 << 8;
pub(super) const SKIP_MONITOR: Flags = 1 << 9;
/// Never in the slow log or the latency monitor (EXEC: the commands it runs are).
pub(super) const SKIP_SLOWLOG: Flags = 1 << 10;
pub(super) const ASKING: Flags = 1 << 11;
pub(super) const FAST: Flags = 1 << 12;
/// Allowed before AUTH when a password is set.
pub(super) const NO_AUTH: Flags = 1 << 13;
/// COMMAND GETKEYS answers an empty list, not an error, when it finds no key.
pub(super) const NO_MANDATORY_KEYS: Flags = 1 << 14;
pub(super) const NO_ASYNC_LOADING: Flags = 1 << 15;
/// Refused inside MULTI, which it aborts.
pub(super) const NO_MULTI: Flags = 1 << 16;
/// Derived from the key specs (`Command::movable`), never declared.
const MOVABLEKEYS: Flags = 1 << 17;
pub(super) const ALLOW_BUSY: Flags = 1 << 18;
/// gdc's: acts on the transaction itself, run at once, never queued by MULTI.
pub(super) const NOT_QUEUED: Flags = 1 << 24;
/// gdc's: allowed to a RESP2 client in subscribe mode.
pub(super) const SUBSCRIBED: Flags = 1 << 25;

/// Redis's flags in the order COMMAND INFO lists them (gdc's own are not shown).
const FLAG_NAMES: &[(Flags, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (ASKING, "asking"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (NO_ASYNC_LOADING, "no_async_loading"),
    (NO_MULTI, "no_multi"),
    (MOVABLEKEYS, "movablekeys"),
    (ALLOW_BUSY, "allow_busy"),
];

/// ACL categories, a set of the constants in `acl`.
pub(super) type Acl = u32;

/// The ACL categories, in Redis's order. A command declares those Redis gives it by hand;
/// the ones that follow from its flags (`@write`, `@read`, `@admin`, `@fast`, ...) are
/// derived (`Command::categories`), as Redis derives them.
pub(super) mod acl {
    use super::Acl;
    pub(in crate::cmd) const KEYSPACE: Acl = 1;
    pub(in crate::cmd) const READ: Acl = 1 << 1;
    pub(in crate::cmd) const WRITE: Acl = 1 << 2;
    pub(in crate::cmd) const SET: Acl = 1 << 3;
    pub(in crate::cmd) const SORTEDSET: Acl = 1 << 4;
    pub(in crate::cmd) const LIST: Acl = 1 << 5;
    pub(in crate::cmd) const HASH: Acl = 1 << 6;
    pub(in crate::cmd) const STRING: Acl = 1 << 7;
    pub(in crate::cmd) const BITMAP: Acl = 1 << 8;
    pub(in crate::cmd) const HYPERLOGLOG: Acl = 1 << 9;
    pub(in crate::cmd) const GEO: Acl = 1 << 10;
    pub(in crate::cmd) const STREAM: Acl = 1 << 11;
    pub(in crate::cmd) const PUBSUB: Acl = 1 << 12;
    pub(in crate::cmd) const ADMIN: Acl = 1 << 13;
    pub(in crate::cmd) const FAST: Acl = 1 << 14;
    pub(in crate::cmd) const SLOW: Acl = 1 << 15;
    pub(in crate::cmd) const BLOCKING: Acl = 1 << 16;
    pub(in crate::cmd) const DANGEROUS: Acl = 1 << 17;
    pub(in crate::cmd) const CONNECTION: Acl = 1 << 18;
    pub(in crate::cmd) const TRANSACTION: Acl = 1 << 19;
    pub(in crate::cmd) const SCRIPTING: Acl = 1 << 20;

    /// Every category's name, its bit being its index.
    pub(in crate::cmd) const NAMES: [&str; 21] = [
        "@keyspace",
        "@read",
        "@write",
        "@set",
        "@sortedset",
        "@list",
        "@hash",
        "@string",
        "@bitmap",
        "@hyperloglog",
        "@geo",
        "@stream",
        "@pubsub",
        "@admin",
        "@fast",
        "@slow",
        "@blocking",
        "@dangerous",
        "@connection",
        "@transaction",
        "@scripting",
    ];
}

/// COMMAND DOCS's groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Group {
    Generic,
    String,
    List,
    Set,
    SortedSet,
    Hash,
    Bitmap,
    Hyperloglog,
    Geo,
    Stream,
    Pubsub,
    Transactions,
    Scripting,
    Connection,
    Server,
    Cluster,
}

impl Group {
    pub(super) fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Hash => "hash",
            Group::Bitmap => "bitmap",
            Group::Hyperloglog => "hyperloglog",
            Group::Geo => "geo",
            Group::Stream => "stream",
            Group::Pubsub => "pubsub",
            Group::Transactions => "transactions",
            Group::Scripting => "scripting",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Cluster => "cluster",
        }
    }
}

/// What COMMAND DOCS says of a command: a one-line summary, the Redis version that
/// brought it (gdc's version for gdc's own), its group and time complexity, and when it
/// was deprecated with what replaces it.
pub(super) struct Doc {
    pub(super) summary: &'static str,
    pub(super) since: &'static str,
    pub(super) group: Group,
    pub(super) complexity: &'static str,
    /// The version that deprecated it, and what to use instead.
    pub(super) deprecated: Option<(&'static str, &'static str)>,
    /// Redis's `syscmd` doc flag: a command for the system, not for applications.
    pub(super) syscmd: bool,
}

/// A command or subcommand as COMMAND describes it.
pub(super) struct Command {
    /// Lower case; `container|sub` for a subcommand, as Redis names it in errors, stats,
    /// CLIENT LIST and COMMAND INFO.
    pub(super) name: &'static str,
    /// As Redis states it: n, exactly n arguments counting the name (and a subcommand's
    /// container); -n, at least n.
    pub(super) arity: i32,
    flags: Flags,
    /// The categories given by hand; `categories` adds those the flags imply.
    acl: Acl,
    pub(super) tips: &'static [&'static str],
    pub(super) keys: &'static [KeySpec],
    /// How COMMAND GETKEYS finds the keys when the key specs cannot say.
    getkeys: Getkeys,
    pub(super) doc: Doc,
    /// A container's subcommands (CLIENT ID, CONFIG GET, ...): each is looked up, checked
    /// for arity, counted and described on its own, as Redis 7 does. Empty for the others.
    pub(super) subs: &'static [Command],
}

/// A command and its handler. A subcommand's handler is its container's, which reads the
/// subcommand from `args[1]`.
pub(super) struct Spec {
    pub(super) command: Command,
    pub(super) run: Handler,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("command", &self.command.name)
            .finish()
    }
}

/// A command named `name` taking `arity` arguments; the methods below declare the rest.
const fn cmd(name: &'static str, arity: i32) -> Command {
    Command {
        name,
        arity,
        flags: 0,
        acl: 0,
        tips: &[],
        keys: &[],
        getkeys: Getkeys::Specs,
        doc: Doc {
            summary: "",
            since: "",
            group: Group::Generic,
            complexity: "",
            deprecated: None,
            syscmd: false,
        },
        subs: &[],
    }
}

impl Command {
    const fn flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }

    const fn acl(mut self, acl: Acl) -> Self {
        self.acl = acl;
        self
    }

    const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }

    const fn keys(mut self, keys: &'static [KeySpec]) -> Self {
        self.keys = keys;
        self
    }

    const fn getkeys(mut self, getkeys: Getkeys) -> Self {
        self.getkeys = getkeys;
        self
    }

    const fn doc(
        mut self,
        summary: &'static str,
        since: &'static str,
        group: Group,
        complexity: &'static str,
    ) -> Self {
        self.doc = Doc {
            summary,
            since,
            group,
            complexity,
            deprecated: None,
            syscmd: false,
        };
        self
    }

    const fn syscmd(mut self) -> Self {
        self.doc.syscmd = true;
        self
    }

    const fn deprecated(mut self, since: &'static str, replaced_by: &'static str) -> Self {
        self.doc.deprecated = Some((since, replaced_by));
        self
    }

    const fn subs(mut self, subs: &'static [Command]) -> Self {
        self.subs = subs;
        self
    }

    const fn run(self, run: Handler) -> Spec {
        Spec { command: self, run }
    }

    /// Whether every flag of `f` is set.
    pub(super) fn has(&self, f: Flags) -> bool {
        self.flags & f == f
    }

    /// A command that changes data (refused by a secondary).
    pub(super) fn is_write(&self) -> bool {
        self.has(WRITE)
    }

    /// The subcommand `args[1]` names, for a container command given one: `Err` when it
    /// names none.
    pub(super) fn sub(&self, args: &[Bytes]) -> Result<Option<&'static Command>, ()> {
        match (self.subs, args.get(1)) {
            ([], _) | (_, None) => Ok(None),
            (subs, Some(a)) => subs
                .iter()
                .find(|s| a.eq_ignore_ascii_case(s.short_name().as_bytes()))
                .map(Some)
                .ok_or(()),
        }
    }

    /// A subcommand's name without its container's: `id` for `client|id`.
    pub(super) fn short_name(&self) -> &'static str {
        self.name.split_once('|').map_or(self.name, |(_, s)| s)
    }

    /// Whether the key positions depend on the arguments: COMMAND INFO's `movablekeys`.
    pub(super) fn movable(&self) -> bool {
        keyspec::legacy_range(self.keys).1
    }

    /// The flags COMMAND INFO shows, in its order.
    pub(super) fn flag_names(&self) -> impl Iterator<Item = &'static str> {
        let flags = self.flags | if self.movable() { MOVABLEKEYS } else { 0 };
        FLAG_NAMES
            .iter()
            .filter(move |(f, _)| flags & f != 0)
            .map(|(_, name)| *name)
    }

    /// Every ACL category: those declared, and those the flags imply, as Redis adds them.
    pub(super) fn categories(&self) -> Acl {
        let mut acl = self.acl;
        let implied = [
            (WRITE, acl::WRITE),
            (ADMIN, acl::ADMIN | acl::DANGEROUS),
            (PUBSUB, acl::PUBSUB),
            (FAST, acl::FAST),
            (BLOCKING, acl::BLOCKING),
        ];
        for (flag, cats) in implied {
            if self.has(flag) {
                acl |= cats;
            }
        }
        // Scripts are not @read, even those that only read.
        if self.has(READONLY) && acl & acl::SCRIPTING == 0 {
            acl |= acl::READ;
        }
        if acl & acl::FAST == 0 {
            acl |= acl::SLOW;
        }
        acl
    }

    /// COMMAND INFO's categories, in its order.
    pub(super) fn category_names(&self) -> impl Iterator<Item = &'static str> {
        let acl = self.categories();
        (0..acl::NAMES.len())
            .filter(move |i| acl & (1 << i) != 0)
            .map(|i| acl::NAMES[i])
    }

    /// COMMAND INFO's first key, last key and step (Redis 6's key positions), derived from
    /// the key specs: zeros for a command whose keys no plain range gives.
    pub(super) fn legacy_range(&self) -> (i32, i32, i32) {
        keyspec::legacy_range(self.keys).0
    }

    /// Whether the command takes keys (COMMAND GETKEYS refuses one that does not).
    pub(super) fn has_keys(&self) -> bool {
        keyspec::has_keys(self)
    }

    /// Where the keys of `args` (the command's own, starting with its name) are, with how
    /// the command uses each (0: not said), as COMMAND GETKEYS finds them.
    pub(super) fn find_keys(&self, args: &[Bytes]) -> Vec<(usize, KeyFlags)> {
        keyspec::find_keys(self, args)
    }
}

/// An ACL category's bit by its name without the `@` (any case): `None` for no category.
pub(super) fn category(name: &[u8]) -> Option<Acl> {
    acl::NAMES
        .iter()
        .position(|n| n.as_bytes()[1..].eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The ACL's view of every command and subcommand: its full name, its categories (those
/// its flags imply too) and whether every user may run it (`no_auth`).
pub fn acl_view() -> crate::acl::Commands {
    let commands = all().flat_map(|s| std::iter::once(&s.command).chain(s.command.subs));
    crate::acl::Commands::new(commands.map(|c| crate::acl::CommandSpec {
        name: c.name,
        categories: crate::acl::Categories(c.categories()),
        no_auth: c.has(NO_AUTH),
    }))
}

/// Every command, family by family, in the order COMMAND lists them.
pub(super) fn all() -> impl Iterator<Item = &'static Spec> {
    [
        connection::COMMANDS,
        server::COMMANDS,
        access::COMMANDS,
        keyspace::COMMANDS,
        string::COMMANDS,
        bitmap::COMMANDS,
        hyperloglog::COMMANDS,
        hash_set::COMMANDS,
        zset::COMMANDS,
        geo::COMMANDS,
        list::COMMANDS,
        stream::COMMANDS,
        scripting::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// Commands looked up by lower-case name (hashbrown's default hasher: several times
/// faster than std's on these short names, and this runs for every command).
static BY_NAME: LazyLock<hashbrown::HashMap<&'static [u8], &'static Spec>> =
    LazyLock::new(|| all().map(|s| (s.command.name.as_bytes(), s)).collect());

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
    BY_NAME.get(&*lower).copied()
}

/// A command or subcommand by the name COMMAND INFO and COMMAND DOCS take: `get`,
/// `client|id` (any case).
pub(super) fn lookup_full(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.split(|&b| b == b'|');
    let base = &lookup(parts.next()?)?.command;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) => base
            .subs
            .iter()
            .find(|s| sub.eq_ignore_ascii_case(s.short_name().as_bytes())),
        _ => None,
    }
}

/// The command or subcommand a request names (ACL DRYRUN, scripts' commands, busy checks),
/// if gdc has it.
pub(super) fn command_of(args: &[Bytes]) -> Option<&'static Command> {
    let spec = lookup(args.first()?)?;
    spec.command
        .sub(args)
        .ok()
        .map(|sub| sub.unwrap_or(&spec.command))
}

/// Whether `args` (a request; not empty) is a write command.
pub(crate) fn is_write(args: &[Bytes]) -> bool {
    lookup(&args[0]).is_some_and(|s| s.command.is_write())
}

/// Whether a request may grow memory (Redis's `denyoom` flag, by subcommand too): refused
/// while memory is over `maxmemory` and nothing can be evicted.
pub(crate) fn denies_oom(args: &[Bytes]) -> bool {
    command_of(args).is_some_and(|c| c.has(DENYOOM))
}

/// The number of commands gdc answers (COMMAND COUNT).
pub fn count() -> usize {
    BY_NAME.len()
}

#[cfg(test)]
mod tests;
