//! COMMAND INFO of every command gdc has, COMMAND GETKEYS and GETKEYSANDFLAGS of every
//! movable-key command, and COMMAND's errors, each compared byte for byte with
//! redis-server's under RESP2 and RESP3. Where gdc differs on purpose, the difference is
//! listed here with its reason.

use super::{Redis, TestNode, read_reply, request};
use std::io::Write;
use std::net::TcpStream;

/// gdc's arity where it takes more than Redis 7.0: ZRANK and ZREVRANK take Redis 7.2's
/// WITHSCORE.
const NEWER_ARITY: &[(&str, i64)] = &[("zrank", -3), ("zrevrank", -3)];

/// Subcommands gdc has that Redis 7.0 does not: CLIENT SETINFO is Redis 7.2's.
const NEWER_SUBCOMMANDS: &[&str] = &["client|setinfo"];

/// gdc's own commands (Redis answers nil for them) start with this.
const OWN_PREFIX: &str = "gdc.";

/// A redis-server and a gdc node, a connection to each.
struct Pair {
    theirs: TcpStream,
    ours: TcpStream,
    _node: TestNode,
    _dir: tempfile::TempDir,
    _redis: Redis,
}

impl Pair {
    fn start(test: &str) -> Option<Pair> {
        let redis = Redis::start(test)?;
        let theirs = redis.connect();
        let dir = tempfile::tempdir().expect("tempdir");
        let node = TestNode::start(dir.path(), None);
        Some(Pair {
            theirs,
            ours: node.raw(),
            _node: node,
            _dir: dir,
            _redis: redis,
        })
    }

    /// Both replies to `args`: gdc's, then redis-server's.
    fn both(&mut self, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
        let req = request(args);
        self.ours.write_all(&req).expect("write gdc");
        self.theirs.write_all(&req).expect("write redis");
        (read_reply(&mut self.ours), read_reply(&mut self.theirs))
    }

    fn same(&mut self, args: &[&str]) {
        let (ours, theirs) = self.both(args);
        assert_eq!(text(&ours), text(&theirs), "reply to {args:?}");
    }

    /// Switch both connections to protocol `resp` (HELLO's replies differ: not compared).
    fn hello(&mut self, resp: u8) {
        self.both(&["HELLO", &resp.to_string()]);
    }

    fn ours(&mut self, args: &[&str]) -> Resp {
        parse(&self.both(args).0)
    }

    fn theirs(&mut self, args: &[&str]) -> Resp {
        parse(&self.both(args).1)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A reply, parsed enough to compare its parts: a whole line (and body), or an aggregate
/// of its type byte and its items (a map's keys and values in turn).
#[derive(Clone, Debug, PartialEq)]
enum Resp {
    Leaf(Vec<u8>),
    Agg(u8, Vec<Resp>),
}

fn parse(b: &[u8]) -> Resp {
    let (r, used) = parse_at(b);
    assert_eq!(used, b.len(), "one reply");
    r
}

fn parse_at(b: &[u8]) -> (Resp, usize) {
    let end = b.windows(2).position(|w| w == b"\r\n").expect("a line") + 2;
    let n: i64 = text(&b[1..end - 2]).parse().unwrap_or(-1);
    match b[0] {
        b'$' if n >= 0 => {
            let body = end + n as usize + 2;
            (Resp::Leaf(b[..body].to_vec()), body)
        }
        kind @ (b'*' | b'~' | b'%') if n >= 0 => {
            let items = if kind == b'%' { 2 * n } else { n };
            let mut at = end;
            let mut out = Vec::new();
            for _ in 0..items {
                let (item, used) = parse_at(&b[at..]);
                out.push(item);
                at += used;
            }
            (Resp::Agg(kind, out), at)
        }
        _ => (Resp::Leaf(b[..end].to_vec()), end),
    }
}

impl Resp {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Resp::Leaf(b) => b.clone(),
            Resp::Agg(kind, items) => {
                let n = if *kind == b'%' {
                    items.len() / 2
                } else {
                    items.len()
                };
                let mut out = format!("{}{n}\r\n", *kind as char).into_bytes();
                for item in items {
                    out.extend(item.bytes());
                }
                out
            }
        }
    }

    fn items(&self) -> &[Resp] {
        match self {
            Resp::Agg(_, items) => items,
            Resp::Leaf(b) => panic!("not an aggregate: {}", text(b)),
        }
    }

    /// A bulk or status string's text.
    fn str(&self) -> String {
        let b = self.bytes();
        let start = b.windows(2).position(|w| w == b"\r\n").expect("line") + 2;
        match b[0] {
            b'$' => text(&b[start..b.len() - 2]),
            _ => text(&b[1..start - 2]),
        }
    }

    /// A map's value for `key` (a RESP3 map, or RESP2's flat array).
    fn field(&self, key: &str) -> Option<&Resp> {
        self.items()
            .chunks(2)
            .find(|kv| kv[0].str() == key)
            .map(|kv| &kv[1])
    }
}

/// The names of the top-level commands gdc has, from its own COMMAND LIST (checked against
/// COMMAND COUNT, so a command the list missed would show).
fn our_commands(pair: &mut Pair) -> Vec<String> {
    let all: Vec<String> = pair
        .ours(&["COMMAND", "LIST"])
        .items()
        .iter()
        .map(Resp::str)
        .collect();
    let top: Vec<String> = all.into_iter().filter(|n| !n.contains('|')).collect();
    let count = pair.ours(&["COMMAND", "COUNT"]).str();
    assert_eq!(count, top.len().to_string());
    top
}

#[test]
fn command_info_matches_redis_server_for_every_command() {
    let Some(mut pair) = Pair::start("command_info_matches_redis_server_for_every_command") else {
        return;
    };
    for resp in [2, 3] {
        pair.hello(resp);
        for name in our_commands(&mut pair) {
            compare_info(&mut pair, &name);
        }
    }
}

/// COMMAND INFO `name`: the same bytes as Redis's but for the listed differences. A
/// container's subcommands are compared one by one (COMMAND INFO container|sub): gdc lists
/// only those it has, in its table's order, where Redis's order is its hash table's.
fn compare_info(pair: &mut Pair, name: &str) {
    let request = ["COMMAND", "INFO", name];
    let (ours_bytes, theirs_bytes) = pair.both(&request);
    let (ours, mut theirs) = (parse(&ours_bytes), parse(&theirs_bytes));
    let ours = &ours.items()[0];
    if name.starts_with(OWN_PREFIX) {
        assert!(matches!(&theirs.items()[0], Resp::Leaf(b) if b == b"$-1\r\n" || b == b"_\r\n"));
        assert_eq!(ours.items()[0].str(), name);
        return;
    }
    if let Some((_, arity)) = NEWER_ARITY.iter().find(|(n, _)| *n == name) {
        if let Resp::Agg(_, entries) = &mut theirs {
            if let Resp::Agg(_, fields) = &mut entries[0] {
                fields[1] = Resp::Leaf(format!(":{arity}\r\n").into_bytes());
            }
        }
    }
    let theirs = &theirs.items()[0];
    let subs: Vec<String> = match &ours.items()[9] {
        Resp::Agg(b'*', subs) if !subs.is_empty() => {
            subs.iter().map(|s| s.items()[0].str()).collect()
        }
        _ => {
            assert_eq!(text(&ours.bytes()), text(&theirs.bytes()), "{request:?}");
            return;
        }
    };
    for at in 0..9 {
        let (o, t) = (&ours.items()[at], &theirs.items()[at]);
        assert_eq!(
            text(&o.bytes()),
            text(&t.bytes()),
            "{request:?}, field {at}"
        );
    }
    for sub in subs
        .iter()
        .filter(|s| !NEWER_SUBCOMMANDS.contains(&s.as_str()))
    {
        pair.same(&["COMMAND", "INFO", sub]);
    }
}

#[test]
fn command_docs_give_redis_servers_summary_since_group_and_complexity() {
    let Some(mut pair) =
        Pair::start("command_docs_give_redis_servers_summary_since_group_and_complexity")
    else {
        return;
    };
    for resp in [2, 3] {
        pair.hello(resp);
        let names: Vec<String> = our_commands(&mut pair)
            .into_iter()
            .filter(|n| !n.starts_with(OWN_PREFIX))
            .collect();
        for name in names {
            let request = ["COMMAND", "DOCS", name.as_str()];
            let (ours, theirs) = (pair.ours(&request), pair.theirs(&request));
            compare_docs(&name, &ours.items()[1], &theirs.items()[1]);
        }
        pair.same(&["COMMAND", "DOCS", "nosuch"]);
    }
}

/// The fields gdc gives (Redis also gives each command's history and arguments: gdc
/// does not), and a container's subcommands'.
fn compare_docs(name: &str, ours: &Resp, theirs: &Resp) {
    let fields = [
        "summary",
        "since",
        "group",
        "complexity",
        "doc_flags",
        "deprecated_since",
        "replaced_by",
    ];
    for f in fields {
        let (o, t) = (
            ours.field(f).map(Resp::bytes),
            theirs.field(f).map(Resp::bytes),
        );
        assert_eq!(o.map(|b| text(&b)), t.map(|b| text(&b)), "{name}: {f}");
    }
    if let Some(subs) = ours.field("subcommands") {
        let their_subs = theirs.field("subcommands").expect("subcommands");
        for kv in subs.items().chunks(2) {
            let sub = kv[0].str();
            if !NEWER_SUBCOMMANDS.contains(&sub.as_str()) {
                compare_docs(&sub, &kv[1], their_subs.field(&sub).expect(&sub));
            }
        }
    }
}

#[test]
fn command_getkeys_and_errors_match_redis_server() {
    let Some(mut pair) = Pair::start("command_getkeys_and_errors_match_redis_server") else {
        return;
    };
    for resp in [2, 3] {
        pair.hello(resp);
        for args in GETKEYS {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let request: Vec<&str> = ["COMMAND", sub].iter().chain(*args).copied().collect();
                pair.same(&request);
            }
        }
        for request in OTHERS {
            pair.same(request);
        }
    }
}

/// Requests COMMAND GETKEYS and GETKEYSANDFLAGS are asked about: every movable-key command
/// gdc has, with good and bad key counts, and the errors.
const GETKEYS: &[&[&str]] = &[
    &["get", "k"],
    &["eval", "return 1", "1", "k"],
    &["evalsha_ro", "x", "2", "k"],
    &["fcall", "f", "1", "k"],
    &["fcall_ro", "f", "0"],
    &["mset", "a", "1", "b", "2"],
    &["lmove", "a", "b", "left", "right"],
    &["blpop", "a", "b", "0"],
    &["memory", "usage", "k"],
    &["set", "k", "v"],
    &["set", "k", "v", "GET"],
    &["set", "k", "v", "ex", "1", "get"],
    &[
        "sort", "abc", "store", "invalid", "store", "stillbad", "store", "def",
    ],
    &["sort", "abc"],
    &[
        "sort", "abc", "by", "w_*", "limit", "0", "1", "get", "#", "store", "dst",
    ],
    &["sort", "abc", "store"],
    &["sort", "abc", "get", "store", "x"],
    &["sort_ro", "abc", "by", "x"],
    &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"],
    &["zinterstore", "d", "1", "a"],
    &["zdiffstore", "d", "2", "a", "b"],
    &["zunionstore", "d", "0", "a"],
    &["zunionstore", "d", "-1", "a", "b"],
    &["zunionstore", "d", "2x", "a", "b"],
    &["zunionstore", "d", "5", "a", "b"],
    &["zunion", "2", "a", "b", "withscores"],
    &["zinter", "1", "a"],
    &["zdiff", "3", "a", "b"],
    &["zintercard", "2", "a", "b", "limit", "1"],
    &["zintercard", "x", "a"],
    &["sintercard", "2", "a", "b"],
    &["sintercard", "0", "a"],
    &["lmpop", "2", "a", "b", "left", "count", "2"],
    &["lmpop", "0", "a", "left"],
    &["blmpop", "0", "2", "a", "b", "right"],
    &["zmpop", "1", "a", "min"],
    &["zmpop", "3", "a", "min"],
    &["bzmpop", "1.5", "1", "a", "max"],
    &["nosuch", "a"],
    &["ping", "x"],
    &["client"],
    &["client", "id"],
    &["memory", "nosub"],
    &["get", "a", "b"],
    &["zadd", "k"],
    &["get"],
];

/// The rest of COMMAND compared as is: HELP, the errors, the filters that select no
/// command gdc lacks.
const OTHERS: &[&[&str]] = &[
    &["COMMAND", "HELP"],
    &["COMMAND", "HELP", "x"],
    &["COMMAND", "NOSUCH"],
    &["COMMAND", "COUNT", "x"],
    &["COMMAND", "GETKEYS"],
    &[
        "COMMAND",
        "INFO",
        "nosuch",
        "get",
        "CLIENT|ID",
        "get|x",
        "client|",
    ],
    &["COMMAND", "INFO", ""],
    &["COMMAND", "DOCS", "nosuch"],
    &["COMMAND", "LIST", "x"],
    &["COMMAND", "LIST", "FILTERBY", "x", "y"],
    &["COMMAND", "LIST", "FILTERBY", "module", "x"],
    &["COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch"],
    &["COMMAND", "LIST", "FILTERBY", "pattern", "a", "b"],
    &["COMMAND", "LIST", "FILTERBY", "pattern", "nosuch*"],
];

#[test]
fn command_list_filters_as_redis_server_does() {
    let Some(mut pair) = Pair::start("command_list_filters_as_redis_server_does") else {
        return;
    };
    let names = |r: Resp| -> std::collections::BTreeSet<String> {
        r.items().iter().map(Resp::str).collect()
    };
    let ours_all = names(pair.ours(&["COMMAND", "LIST"]));
    let theirs_all = names(pair.theirs(&["COMMAND", "LIST"]));
    let shared: std::collections::BTreeSet<String> =
        ours_all.intersection(&theirs_all).cloned().collect();
    let filters: &[&[&str]] = &[
        &["ACLCAT", "hash"],
        &["ACLCAT", "SortedSet"],
        &["ACLCAT", "dangerous"],
        &["ACLCAT", "connection"],
        &["ACLCAT", "fast"],
        &["ACLCAT", "blocking"],
        &["PATTERN", "client|*"],
        &["PATTERN", "Z*STORE"],
        &["PATTERN", "*[xy]*"],
    ];
    for filter in filters {
        let request: Vec<&str> = ["COMMAND", "LIST", "FILTERBY"]
            .iter()
            .chain(*filter)
            .copied()
            .collect();
        let ours = names(pair.ours(&request));
        let theirs = names(pair.theirs(&request));
        // Among the commands both have, the same ones pass.
        let ours_shared: Vec<&String> = ours.intersection(&shared).collect();
        let theirs_shared: Vec<&String> = theirs.intersection(&shared).collect();
        assert_eq!(ours_shared, theirs_shared, "{request:?}");
        assert!(!ours_shared.is_empty(), "{request:?} selects something");
    }
}
