use super::keyspec::{ACCESS, Begin, Find, KeyFlags, NOT_KEY, OW, RM, RO, RW, UPDATE, atoi};
use super::*;

/// Every command and subcommand.
fn every() -> Vec<&'static Command> {
    all()
        .flat_map(|s| std::iter::once(&s.command).chain(s.command.subs))
        .collect()
}

/// Writes whose keys are whole databases: no key spec says they write.
const WRITES_WITHOUT_KEYS: &[&str] = &[
    "flushdb",
    "flushall",
    "swapdb",
    "function|delete",
    "function|flush",
    "function|load",
    "function|restore",
];

/// Not writes themselves, but their key specs say RW (Redis's `may_replicate`): what a script
/// runs may write its keys, and Redis's PFCOUNT stores the count it computed.
const MAY_WRITE: &[&str] = &["eval", "evalsha", "fcall", "pfcount"];

/// Writes whose key specs say RO, as Redis declares them: XREADGROUP writes the group's
/// delivery state, not the stream's entries.
const WRITES_READ_KEYS: &[&str] = &["xreadgroup"];

#[test]
fn key_specs_agree_with_the_flags() {
    for c in every() {
        let writes_a_key = c.keys.iter().any(|k| k.flags & (RW | OW | RM) != 0);
        if WRITES_WITHOUT_KEYS.contains(&c.name) {
            assert!(c.is_write() && c.keys.is_empty(), "{}", c.name);
        } else if WRITES_READ_KEYS.contains(&c.name) {
            assert!(c.is_write() && !writes_a_key, "{}", c.name);
        } else if MAY_WRITE.contains(&c.name) {
            assert!(!c.is_write() && writes_a_key, "{}", c.name);
        } else {
            assert_eq!(
                c.is_write(),
                writes_a_key,
                "{}: write flag vs key specs",
                c.name
            );
        }
        // PFCOUNT is read only, but Redis's spec of its keys says RW (its stored count).
        if c.has(READONLY) && c.name != "pfcount" {
            assert!(c.keys.iter().all(|k| k.flags & RO != 0), "{}", c.name);
        }
        assert!(!(c.has(READONLY) && c.is_write()), "{}", c.name);
        // Denying memory only makes sense for a write.
        assert!(!c.has(DENYOOM) || c.is_write(), "{}", c.name);
        assert_eq!(
            c.flags & MOVABLEKEYS,
            0,
            "{}: movablekeys is derived",
            c.name
        );
        for k in c.keys {
            // A key spec of a name that is not a key (a shard channel) has no access flag.
            let access: KeyFlags = RO | RW | OW | RM;
            let want = if k.flags & NOT_KEY != 0 { 0 } else { 1 };
            assert_eq!(
                (k.flags & access).count_ones(),
                want,
                "{}: one of RO/RW/OW/RM",
                c.name
            );
            // A subcommand's keys come after its name and its container's.
            let least = if c.name.contains('|') { 2 } else { 1 };
            match k.begin {
                Begin::Index(i) => assert!(i >= least, "{}", c.name),
                Begin::Keyword { startfrom, .. } => assert!(startfrom >= least, "{}", c.name),
                Begin::Unknown => {}
            }
            match k.find {
                Find::Range { keystep, limit, .. } => {
                    assert!(keystep >= 1 && limit >= 0, "{}", c.name)
                }
                Find::Keynum {
                    keystep, firstkey, ..
                } => {
                    assert!(keystep >= 1 && firstkey >= 1, "{}", c.name)
                }
                Find::Unknown => {}
            }
            assert!(k.notes.is_none_or(|n| !n.is_empty()), "{}", c.name);
        }
    }
}

#[test]
fn every_command_is_documented_and_subcommands_are_named_after_their_container() {
    for spec in all() {
        let c = &spec.command;
        assert!(!c.name.contains('|'), "{}", c.name);
        for s in c.subs {
            assert_eq!(s.name.split_once('|').map(|(c, _)| c), Some(c.name));
            assert!(s.subs.is_empty(), "{}: one level of subcommands", s.name);
        }
    }
    for c in every() {
        let d = &c.doc;
        assert!(!d.summary.is_empty(), "{}", c.name);
        // Redis states no complexity for these two only.
        assert_eq!(
            d.complexity.is_empty(),
            ["monitor", "lolwut"].contains(&c.name),
            "{}",
            c.name
        );
        assert!(
            d.since.split('.').count() == 3,
            "{}: since {}",
            c.name,
            d.since
        );
        assert!(c.arity != 0, "{}", c.name);
    }
}

#[test]
fn names_are_unique_lower_case_and_fit_the_lookup_buffer() {
    for s in all() {
        let name = s.command.name;
        assert_eq!(name, name.to_ascii_lowercase());
        assert!(name.len() <= NAME_BYTES_MAX, "{name}");
        assert!(std::ptr::eq(
            lookup(name.to_uppercase().as_bytes()).expect("found"),
            s
        ));
        for sub in s.command.subs {
            let upper = sub.name.to_uppercase();
            assert!(std::ptr::eq(
                lookup_full(upper.as_bytes()).expect("found"),
                sub
            ));
        }
    }
    assert_eq!(BY_NAME.len(), all().count(), "a name twice");
    assert!(lookup_full(b"get|x").is_none());
    assert!(lookup_full(b"client|id|x").is_none());
    assert!(lookup_full(b"client|").is_none());
    assert!(lookup_full(b"").is_none());
}

fn command(name: &str) -> &'static Command {
    lookup_full(name.as_bytes()).expect(name)
}

#[test]
fn legacy_key_positions_and_movable_keys_follow_from_the_specs() {
    let cases: &[(&str, (i32, i32, i32), bool)] = &[
        ("get", (1, 1, 1), false),
        ("mset", (1, -1, 2), false),
        ("del", (1, -1, 1), false),
        ("lmove", (1, 2, 1), false),
        ("blpop", (1, -2, 1), false),
        ("memory|usage", (2, 2, 1), false),
        ("ping", (0, 0, 0), false),
        ("zunionstore", (1, 1, 1), true),
        ("zunion", (0, 0, 0), true),
        ("lmpop", (0, 0, 0), true),
        ("sort", (1, 1, 1), true),
        ("sort_ro", (1, 1, 1), true),
    ];
    for (name, range, movable) in cases {
        let c = command(name);
        assert_eq!(c.legacy_range(), *range, "{name}");
        assert_eq!(c.movable(), *movable, "{name}");
    }
}

fn keys_of(request: &[&str]) -> Vec<(String, KeyFlags)> {
    let args: Vec<Bytes> = request
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let spec = lookup(&args[0]).expect("a command");
    let c = spec
        .command
        .sub(&args)
        .expect("a subcommand")
        .unwrap_or(&spec.command);
    c.find_keys(&args)
        .into_iter()
        .map(|(at, f)| (request[at].to_string(), f))
        .collect()
}

fn names(keys: Vec<(String, KeyFlags)>) -> Vec<String> {
    keys.into_iter().map(|(k, _)| k).collect()
}

#[test]
fn getkeys_finds_movable_keys_as_redis_does() {
    // SORT: the last STORE counts.
    let sort = &[
        "sort", "abc", "store", "invalid", "store", "stillbad", "store", "def",
    ];
    assert_eq!(
        keys_of(sort),
        vec![("abc".into(), RO | ACCESS), ("def".into(), OW | UPDATE)]
    );
    assert_eq!(
        names(keys_of(&["sort", "a", "by", "store", "limit", "0", "1"])),
        ["a"]
    );
    assert_eq!(names(keys_of(&["sort_ro", "a", "by", "x"])), ["a"]);
    assert_eq!(
        names(keys_of(&[
            "zunionstore",
            "d",
            "2",
            "a",
            "b",
            "weights",
            "1",
            "2"
        ])),
        ["d", "a", "b"]
    );
    // An unreadable count: Redis's own finder reads it as atoi does, destination last.
    assert_eq!(
        names(keys_of(&["zunionstore", "d", "2x", "a", "b"])),
        ["a", "b", "d"]
    );
    assert!(keys_of(&["zunionstore", "d", "0", "a"]).is_empty());
    assert!(keys_of(&["zunionstore", "d", "5", "a", "b"]).is_empty());
    assert!(keys_of(&["zunionstore", "d", "-1", "a"]).is_empty());
    assert_eq!(
        names(keys_of(&["lmpop", "2", "a", "b", "left"])),
        ["a", "b"]
    );
    assert_eq!(names(keys_of(&["blmpop", "0", "1", "a", "left"])), ["a"]);
    assert_eq!(
        names(keys_of(&["zintercard", "2", "a", "b", "limit", "1"])),
        ["a", "b"]
    );
    assert_eq!(
        keys_of(&["set", "k", "v", "GET"]),
        [("k".into(), RW | ACCESS | UPDATE)]
    );
    assert_eq!(
        keys_of(&["set", "k", "v", "ex", "1"]),
        [("k".into(), OW | UPDATE)]
    );
    assert_eq!(names(keys_of(&["mset", "a", "1", "b", "2"])), ["a", "b"]);
    assert_eq!(names(keys_of(&["memory", "usage", "k"])), ["k"]);
    assert!(!command("ping").has_keys());
    assert!(command("sort").has_keys());
}

#[test]
fn atoi_reads_as_c_does() {
    assert_eq!(atoi(b" 12x"), 12);
    assert_eq!(atoi(b"-3"), -3);
    assert_eq!(atoi(b"+4"), 4);
    assert_eq!(atoi(b"x1"), 0);
    assert_eq!(atoi(b""), 0);
}

#[test]
fn acl_categories_add_what_the_flags_imply() {
    let names = |n: &str| command(n).category_names().collect::<Vec<_>>();
    assert_eq!(names("get"), ["@read", "@string", "@fast"]);
    assert_eq!(
        names("sort"),
        [
            "@write",
            "@set",
            "@sortedset",
            "@list",
            "@slow",
            "@dangerous"
        ]
    );
    assert_eq!(names("blpop"), ["@write", "@list", "@slow", "@blocking"]);
    assert_eq!(category(b"SortedSet"), Some(acl::SORTEDSET));
    assert_eq!(category(b"nosuch"), None);
}
