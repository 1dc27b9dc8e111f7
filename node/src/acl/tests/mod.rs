//! The ACL's tests. Expected strings are what redis-server 7.0.15 answered for the same
//! commands, with one difference noted where it shows: Redis lists single commands in its
//! hash table's order, which changes with every process (three servers printed
//! `-@all +set +client|id +hget ...`, `-@all +client|id +hget ... +set` and a third order
//! for the same rules), so the recorded lines are put in name order by [`by_name`] before
//! they are compared with gdc's.

mod check;
mod describe;
mod file;
mod log;
mod setuser;

use std::sync::Arc;

use super::{Categories, Category, CommandSpec, Commands, PubsubDefault, Users};

/// Every command and subcommand of redis-server 7.0.15 with its categories and `no_auth`
/// (from its COMMAND reply), so that descriptions pick the categories Redis picks.
const REDIS_COMMANDS: &str = include_str!("../testdata/redis70_commands.txt");

fn redis_commands() -> Arc<Commands> {
    let mut specs = Vec::new();
    for line in REDIS_COMMANDS.lines() {
        let mut words = line.split(' ');
        let name = words.next().unwrap_or_default();
        let mut spec = CommandSpec {
            name,
            categories: Categories::default(),
            no_auth: false,
        };
        for word in words {
            match word.strip_prefix('@') {
                Some(c) => {
                    let c = Category::by_name(c.as_bytes()).expect("a Redis category");
                    spec.categories = spec.categories.with(c);
                }
                None => spec.no_auth = word == "no_auth",
            }
        }
        specs.push(spec);
    }
    Arc::new(Commands::new(specs))
}

/// The users of a redis-server just started: `default` only.
fn redis_users() -> Users {
    Users::new(redis_commands(), PubsubDefault::ResetChannels)
}

/// A few commands with Redis's categories, for tests where the whole table is not needed.
fn small_commands() -> Arc<Commands> {
    let spec = |name: &'static str, cats: &[&str], no_auth: bool| {
        let categories = cats.iter().fold(Categories::default(), |set, c| {
            set.with(Category::by_name(c.as_bytes()).expect("a Redis category"))
        });
        CommandSpec {
            name,
            categories,
            no_auth,
        }
    };
    let table = [
        spec("get", &["read", "string", "fast"], false),
        spec("set", &["write", "string", "slow"], false),
        spec("client", &["slow"], false),
        spec("client|id", &["slow", "connection"], false),
        spec(
            "client|kill",
            &["admin", "slow", "dangerous", "connection"],
            false,
        ),
        spec("config", &["slow"], false),
        spec("config|get", &["admin", "slow", "dangerous"], false),
        spec("config|set", &["admin", "slow", "dangerous"], false),
        spec("auth", &["fast", "connection"], true),
        spec("select", &["fast", "connection"], false),
        spec("debug", &["admin", "slow", "dangerous"], false),
        spec("keys", &["keyspace", "read", "slow", "dangerous"], false),
        spec("publish", &["pubsub", "fast"], false),
        spec("subscribe", &["pubsub", "slow"], false),
        spec("psubscribe", &["pubsub", "slow"], false),
        spec("exists", &["keyspace", "read", "fast"], false),
        spec("lmove", &["write", "list", "slow"], false),
    ];
    Arc::new(Commands::new(table))
}

/// ACL SETUSER `name` with `rules` split on spaces, as redis-cli sends them.
fn setuser(users: &mut Users, name: &str, rules: &str) -> Result<(), String> {
    let rules: Vec<&str> = rules.split(' ').filter(|r| !r.is_empty()).collect();
    users
        .set_user(name.as_bytes(), &rules)
        .map_err(|e| format!("ERR {e}"))
}

/// The user's ACL LIST line.
fn list_line(users: &Users, name: &str) -> String {
    let line = users.list_line(name.as_bytes()).expect("the user exists");
    String::from_utf8_lossy(&line).into_owned()
}

/// A line redis-server printed, with the single-command rules of each selector put in the
/// order gdc prints them: by command, a container before its subcommands, a command's
/// first arguments after it in the order given.
fn by_name(redis_line: &str) -> String {
    let commands = redis_commands();
    // A subcommand sorts under its container; a first argument (`+select|0`) keeps its
    // place after its command, as both Redis and gdc print them in the order added.
    let key = |rule: &str| {
        let name = &rule[1..];
        match name.split_once('|') {
            Some((base, sub)) if commands.lookup(name.as_bytes()).is_some() => {
                (base.to_string(), sub.to_string())
            }
            Some((base, _)) => (base.to_string(), String::new()),
            None => (name.to_string(), String::new()),
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut singles: Vec<String> = Vec::new();
    let flush = |out: &mut Vec<String>, singles: &mut Vec<String>| {
        singles.sort_by_key(|r| key(r));
        out.append(singles);
    };
    for word in redis_line.split(' ') {
        let (inner, closes) = match word.strip_suffix(')') {
            Some(inner) => (inner, true),
            None => (word, false),
        };
        let single =
            (inner.starts_with('+') || inner.starts_with('-')) && !inner[1..].starts_with('@');
        if single {
            singles.push(inner.to_string());
        } else {
            flush(&mut out, &mut singles);
            out.push(inner.to_string());
        }
        if closes {
            flush(&mut out, &mut singles);
            if let Some(last) = out.last_mut() {
                last.push(')');
            }
        }
    }
    flush(&mut out, &mut singles);
    out.join(" ")
}

#[test]
fn by_name_orders_single_commands_within_each_selector() {
    assert_eq!(
        by_name(
            "user u off resetchannels -@all +set +client|id +hget +get (~k resetchannels -@all +set +get)"
        ),
        "user u off resetchannels -@all +client|id +get +hget +set (~k resetchannels -@all +get +set)"
    );
}
