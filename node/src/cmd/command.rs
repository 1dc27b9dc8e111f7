//! COMMAND: gdc's commands described as Redis 7.0 describes its own — COMMAND, COMMAND INFO,
//! COUNT, LIST, DOCS, GETKEYS, GETKEYSANDFLAGS and HELP — all read from the command table.
//! Cluster-aware clients and proxies find a request's keys with them.

use super::table::{self, Acl, Begin, Command, Find, KeySpec, NO_MANDATORY_KEYS, key_flag_names};
use super::{CmdResult, Ctx, is, syntax_error};
use crate::reply::Reply;
use bytes::Bytes;

pub fn command(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // The dispatcher has checked the subcommand's name and arity.
    let Some(sub) = args.get(1) else {
        return Ok(Reply::Array(
            table::all().map(|s| info(&s.command)).collect(),
        ));
    };
    let rest = &args[2..];
    Ok(if is(sub, "count") {
        Reply::Int(table::count() as i64)
    } else if is(sub, "info") {
        infos(rest)
    } else if is(sub, "docs") {
        docs_of(rest)
    } else if is(sub, "list") {
        list(rest)?
    } else if is(sub, "getkeys") {
        getkeys(rest, false)
    } else if is(sub, "getkeysandflags") {
        getkeys(rest, true)
    } else {
        help()
    })
}

/// COMMAND INFO [name ...]: every command with no name; nil for a name gdc does not have.
fn infos(names: &[Bytes]) -> Reply {
    if names.is_empty() {
        return Reply::Array(table::all().map(|s| info(&s.command)).collect());
    }
    Reply::Array(
        names
            .iter()
            .map(|n| table::lookup_full(n).map_or(Reply::Nil, info))
            .collect(),
    )
}

/// A command as COMMAND INFO shows it: name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specs, subcommands.
fn info(c: &Command) -> Reply {
    let (first, last, step) = c.legacy_range();
    let subs = if c.subs.is_empty() {
        Reply::Set(Vec::new())
    } else {
        Reply::Array(c.subs.iter().map(info).collect())
    };
    Reply::Array(vec![
        Reply::bulk(c.name),
        Reply::Int(c.arity.into()),
        statuses(c.flag_names()),
        Reply::Int(first.into()),
        Reply::Int(last.into()),
        Reply::Int(step.into()),
        statuses(c.category_names()),
        Reply::Set(c.tips.iter().map(|t| Reply::bulk(*t)).collect()),
        Reply::Set(c.keys.iter().map(key_spec).collect()),
        subs,
    ])
}

fn statuses(names: impl Iterator<Item = &'static str>) -> Reply {
    Reply::Set(names.map(Reply::Status).collect())
}

fn pair(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk(name), value)
}

fn key_spec(k: &KeySpec) -> Reply {
    let mut map = Vec::with_capacity(4);
    if let Some(notes) = k.notes {
        map.push(pair("notes", Reply::bulk(notes)));
    }
    map.push(pair("flags", statuses(key_flag_names(k.flags))));
    let int = |name, v: i32| pair(name, Reply::Int(v.into()));
    let (kind, spec) = match k.begin {
        Begin::Index(i) => ("index", vec![int("index", i)]),
        Begin::Keyword { keyword, startfrom } => (
            "keyword",
            vec![
                pair("keyword", Reply::bulk(keyword)),
                int("startfrom", startfrom),
            ],
        ),
        Begin::Unknown => ("unknown", vec![]),
    };
    map.push(pair("begin_search", typed(kind, spec)));
    let (kind, spec) = match k.find {
        Find::Range {
            lastkey,
            keystep,
            limit,
        } => (
            "range",
            vec![
                int("lastkey", lastkey),
                int("keystep", keystep),
                int("limit", limit),
            ],
        ),
        Find::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => (
            "keynum",
            vec![
                int("keynumidx", keynumidx),
                int("firstkey", firstkey),
                int("keystep", keystep),
            ],
        ),
        Find::Unknown => ("unknown", vec![]),
    };
    map.push(pair("find_keys", typed(kind, spec)));
    Reply::Map(map)
}

/// `{type: kind, spec: {...}}`, a key spec's begin_search or find_keys.
fn typed(kind: &'static str, spec: Vec<(Reply, Reply)>) -> Reply {
    Reply::Map(vec![
        pair("type", Reply::bulk(kind)),
        pair("spec", Reply::Map(spec)),
    ])
}

/// COMMAND DOCS [name ...]: a map of each command gdc has (every one with no name) to its
/// documentation.
fn docs_of(names: &[Bytes]) -> Reply {
    let commands: Vec<&Command> = if names.is_empty() {
        table::all().map(|s| &s.command).collect()
    } else {
        names.iter().filter_map(|n| table::lookup_full(n)).collect()
    };
    Reply::Map(
        commands
            .into_iter()
            .map(|c| (Reply::bulk(c.name), docs(c)))
            .collect(),
    )
}

/// A command's documentation: summary, since, group, complexity, whether and since when
/// it is deprecated and what replaces it, and its subcommands'. (Redis also gives each
/// command's history and arguments: gdc does not have them.)
fn docs(c: &Command) -> Reply {
    let d = &c.doc;
    let mut map = vec![
        pair("summary", Reply::bulk(d.summary)),
        pair("since", Reply::bulk(d.since)),
        pair("group", Reply::bulk(d.group.name())),
    ];
    // Redis states none for a few (MONITOR, LOLWUT) and then leaves the field out.
    if !d.complexity.is_empty() {
        map.push(pair("complexity", Reply::bulk(d.complexity)));
    }
    let flags = [
        d.deprecated.is_some().then_some("deprecated"),
        d.syscmd.then_some("syscmd"),
    ];
    if flags.iter().any(Option::is_some) {
        map.push(pair("doc_flags", statuses(flags.into_iter().flatten())));
    }
    if let Some((since, replaced_by)) = d.deprecated {
        map.push(pair("deprecated_since", Reply::bulk(since)));
        map.push(pair("replaced_by", Reply::bulk(replaced_by)));
    }
    if !c.subs.is_empty() {
        let subs = c.subs.iter().map(|s| (Reply::bulk(s.name), docs(s)));
        map.push(pair("subcommands", Reply::Map(subs.collect())));
    }
    Reply::Map(map)
}

/// What COMMAND LIST lists.
enum Filter {
    All,
    /// FILTERBY MODULE: gdc has no modules, so no command.
    Module,
    /// FILTERBY ACLCAT: `None` for a category that does not exist (no command).
    Category(Option<Acl>),
    /// FILTERBY PATTERN, matched ignoring case.
    Pattern(Vec<u8>),
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: the names of
/// the commands and subcommands that pass the filter.
fn list(opts: &[Bytes]) -> CmdResult {
    let filter = match opts {
        [] => Filter::All,
        [by, kind, arg] if is(by, "filterby") => {
            if is(kind, "module") {
                Filter::Module
            } else if is(kind, "aclcat") {
                Filter::Category(table::category(arg))
            } else if is(kind, "pattern") {
                Filter::Pattern(arg.to_ascii_lowercase())
            } else {
                return Err(syntax_error());
            }
        }
        _ => return Err(syntax_error()),
    };
    let passes = |c: &Command| match &filter {
        Filter::All => true,
        Filter::Module => false,
        Filter::Category(cat) => cat.is_some_and(|cat| c.categories() & cat != 0),
        Filter::Pattern(p) => crate::glob::matches(p, c.name.as_bytes()),
    };
    let mut names = Vec::new();
    for spec in table::all() {
        let c = &spec.command;
        for c in std::iter::once(c).chain(c.subs) {
            if passes(c) {
                names.push(Reply::bulk(c.name));
            }
        }
    }
    Ok(Reply::Array(names))
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS command [arg ...]: the key arguments of a request,
/// with how the command uses each when `with_flags`.
fn getkeys(request: &[Bytes], with_flags: bool) -> Reply {
    let Some(c) = table::lookup(&request[0]).and_then(|s| match s.command.sub(request) {
        Ok(sub) => Some(sub.unwrap_or(&s.command)),
        Err(()) => None,
    }) else {
        return Reply::err("ERR Invalid command specified");
    };
    if !c.has_keys() {
        return Reply::err("ERR The command has no key arguments");
    }
    let n = request.len() as i32;
    if (c.arity > 0 && c.arity != n) || n < -c.arity {
        return Reply::err("ERR Invalid number of arguments specified for command");
    }
    let keys = c.find_keys(request);
    if keys.is_empty() && !c.has(NO_MANDATORY_KEYS) {
        return Reply::err("ERR Invalid arguments specified for command");
    }
    Reply::Array(
        keys.into_iter()
            .map(|(at, flags)| {
                let key = Reply::Bulk(request[at].clone());
                if with_flags {
                    Reply::Array(vec![key, statuses(key_flag_names(flags))])
                } else {
                    key
                }
            })
            .collect(),
    )
}

fn help() -> Reply {
    Reply::Array(
        [
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ]
        .into_iter()
        .map(Reply::Status)
        .collect(),
    )
}
