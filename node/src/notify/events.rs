//! Keyspace notifications (`notify-keyspace-events`): the classes of events as Redis 7.0
//! names them, and the events an op from another region gives.

use gdc_crdt::bits::StrWrite;
use gdc_crdt::effect::{Addition, FieldLoc, Loc};
use gdc_crdt::field::Num;
use gdc_crdt::stream::{StreamAdd, StreamLoc};
use gdc_crdt::{Effect, KeyState};

/// A set of event classes (Redis's `NOTIFY_*` bits).
pub type Classes = u32;

pub const KEYSPACE: Classes = 1;
pub const KEYEVENT: Classes = 1 << 1;
pub const GENERIC: Classes = 1 << 2;
pub const STRING: Classes = 1 << 3;
pub const LIST: Classes = 1 << 4;
pub const SET: Classes = 1 << 5;
pub const HASH: Classes = 1 << 6;
pub const ZSET: Classes = 1 << 7;
pub const EXPIRED: Classes = 1 << 8;
pub const EVICTED: Classes = 1 << 9;
pub const STREAM: Classes = 1 << 10;
pub const KEY_MISS: Classes = 1 << 11;
pub const MODULE: Classes = 1 << 13;
pub const NEW: Classes = 1 << 14;
/// `A`: every class but key misses and new keys.
pub const ALL: Classes =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's error for a letter that names no class.
pub const BAD_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// `notify-keyspace-events` as written: one letter per class.
pub fn parse(text: &str) -> Result<Classes, String> {
    let mut classes = 0;
    for c in text.chars() {
        classes |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return Err(BAD_CLASS.to_string()),
        };
    }
    Ok(classes)
}

/// The classes as CONFIG GET shows them (Redis's order: `A` or the type letters, then
/// `K`, `E`, `m`).
pub fn format(classes: Classes) -> String {
    let mut out = String::new();
    if classes & ALL == ALL {
        out.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if classes & bit != 0 {
                out.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if classes & bit != 0 {
            out.push(c);
        }
    }
    out
}

/// The events an op from another region gives where it arrives (docs/semantics.md,
/// "Keyspace notifications"): named by what the op did, as its origin's command names it
/// where the op tells — a string write is `set`, a field write `hset`, an added member
/// `sadd`, an increment `incrby`/`hincrby`/`zincr`; list elements added at the tail are
/// `rpush`, at the head `lpush`, elsewhere `linsert`; removed list elements `lrem`. A
/// whole-value write (RENAME, RESTORE, a *STORE at its origin) is named by what it writes;
/// a delete is `del`. `new` comes first when the key did not exist, `del` last when the op
/// left it empty.
pub fn of_remote(
    effect: &Effect,
    existed: bool,
    after: Option<&KeyState>,
) -> Vec<(Classes, &'static str)> {
    let mut events: Vec<(Classes, &'static str)> = Vec::new();
    let mut add = |e: (Classes, &'static str)| {
        if !events.contains(&e) {
            events.push(e);
        }
    };
    if !existed && after.is_some() {
        add((NEW, "new"));
    }
    let content = |a: &Addition| !matches!(a, Addition::Expire(_) | Addition::Persist);
    let writes = effect.adds.iter().any(content);
    if effect.cutoff.is_some() && !writes {
        add((GENERIC, "del"));
    } else {
        // A write's removals are what it overwrites, not removals of their own.
        let removals = effect.removes.iter().filter(|_| !writes);
        for e in removals.filter_map(|r| removed(&r.loc)) {
            add(e);
        }
        for a in &effect.adds {
            match a {
                Addition::ListInsert { .. } => add((LIST, list_insert(effect, existed, after))),
                a => added(a).into_iter().for_each(&mut add),
            }
        }
    }
    if existed && after.is_none() {
        add((GENERIC, "del"));
    }
    events
}

/// Where an op's new list elements went: `rpush` when one is now last (or the list is
/// new), `lpush` when one is first, `linsert` otherwise.
fn list_insert(effect: &Effect, existed: bool, after: Option<&KeyState>) -> &'static str {
    let Some(list) = after.and_then(KeyState::list) else {
        return "linsert";
    };
    let inserted = |end: Option<&gdc_crdt::list::ListId>| {
        end.is_some_and(|id| {
            effect
                .adds
                .iter()
                .any(|a| matches!(a, Addition::ListInsert { pos, .. } if *pos == id.pos))
        })
    };
    if !existed || inserted(list.last_id()) {
        "rpush"
    } else if inserted(list.first_id()) {
        "lpush"
    } else {
        "linsert"
    }
}

/// The event of one addition; `None` for a stream's numbers and consumer-group pieces,
/// which the effect does not say the command of.
fn added(a: &Addition) -> Option<(Classes, &'static str)> {
    let float = |n: &Num| matches!(n, Num::Float(_));
    Some(match a {
        Addition::Write { loc, .. } => match loc {
            FieldLoc::Str => (STRING, "set"),
            FieldLoc::Hash(_) => (HASH, "hset"),
            FieldLoc::ZSet(_) => (ZSET, "zadd"),
        },
        Addition::Incr { loc, total, .. } => match (loc, float(total)) {
            (FieldLoc::Str, false) => (STRING, "incrby"),
            (FieldLoc::Str, true) => (STRING, "incrbyfloat"),
            (FieldLoc::Hash(_), false) => (HASH, "hincrby"),
            (FieldLoc::Hash(_), true) => (HASH, "hincrbyfloat"),
            (FieldLoc::ZSet(_), _) => (ZSET, "zincr"),
        },
        Addition::Member(_) => (SET, "sadd"),
        Addition::ListInsert { .. } => (LIST, "linsert"),
        Addition::ListSet { .. } => (LIST, "lset"),
        Addition::Expire(_) => (GENERIC, "expire"),
        Addition::Persist => (GENERIC, "persist"),
        Addition::Bits(StrWrite::Bits(_)) => (STRING, "setbit"),
        Addition::Bits(StrWrite::Range { .. }) => (STRING, "setrange"),
        Addition::Bits(StrWrite::Append(_)) => (STRING, "append"),
        Addition::Stream(s) => match **s {
            StreamAdd::Entry { .. } => (STREAM, "xadd"),
            _ => return None,
        },
    })
}

fn removed(loc: &Loc) -> Option<(Classes, &'static str)> {
    Some(match loc {
        Loc::Field(FieldLoc::Str) => (GENERIC, "del"),
        Loc::Field(FieldLoc::Hash(_)) => (HASH, "hdel"),
        Loc::Field(FieldLoc::ZSet(_)) => (ZSET, "zrem"),
        Loc::Set(_) => (SET, "srem"),
        Loc::List(_) => (LIST, "lrem"),
        // A PERSIST's removal of expiries comes with its own addition.
        Loc::Ttl => return None,
        // A string write's removal of the bit writes it observed comes with its own
        // addition.
        Loc::Bits => return None,
        Loc::Stream(s) => match **s {
            StreamLoc::Entry(_) => (STREAM, "xdel"),
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_read_and_show_as_redis_does() {
        for (given, shown) in [
            ("gKE", "gKE"),
            ("$lshzxeKE", "$lshzxeKE"),
            ("KA", "AK"),
            ("EA", "AE"),
            ("", ""),
            ("An", "A"),
            ("nE", "nE"),
            ("mK", "Km"),
        ] {
            // `A` hides `n` in what is shown, as in Redis.
            assert_eq!(format(parse(given).expect("valid")), shown, "{given}");
        }
        assert_eq!(parse("KEq"), Err(BAD_CLASS.to_string()));
    }

    /// Applies effects as a channel would, naming each one's events.
    struct Region {
        keys: gdc_crdt::Keyspace,
        op: u64,
    }

    const NOW: u64 = 1_000;

    impl Region {
        fn tag(&mut self) -> gdc_crdt::Tag {
            use gdc_crdt::{Dot, Hlc, OpId, ServerId, Tag};
            self.op += 1;
            Tag::new(
                Dot::new(ServerId(1), OpId(self.op), 0),
                Hlc::new(self.op, 0),
            )
        }

        fn apply(
            &mut self,
            key: &str,
            make: impl FnOnce(Option<&KeyState>, gdc_crdt::Tag) -> Option<Effect>,
        ) -> Vec<&'static str> {
            let tag = self.tag();
            let before = self.keys.get(key.as_bytes()).filter(|k| k.exists(NOW));
            let existed = before.is_some();
            let effect = make(self.keys.get(key.as_bytes()), tag).expect("an effect");
            self.keys.apply(key.as_bytes(), &effect);
            let after = self.keys.get(key.as_bytes()).filter(|k| k.exists(NOW));
            of_remote(&effect, existed, after)
                .into_iter()
                .map(|(_, e)| e)
                .collect()
        }
    }

    #[test]
    fn an_op_from_another_region_is_named_by_what_it_did() {
        use gdc_crdt::Blob;
        use gdc_crdt::ops::{self, End, SetTtl};
        let mut r = Region {
            keys: gdc_crdt::Keyspace::new(),
            op: 0,
        };
        let b = |s: &str| Blob::from(s);
        let set = |v: &str| {
            let v = b(v);
            move |k: Option<&KeyState>, t| Some(ops::set(k, NOW, t, v, SetTtl::Clear))
        };
        assert_eq!(r.apply("s", set("1")), ["new", "set"]);
        assert_eq!(r.apply("s", set("2")), ["set"]);
        let incr = |k: Option<&KeyState>, t| ops::incr_by(k, NOW, t, 5).ok().map(|(e, _)| e);
        assert_eq!(r.apply("n", incr), ["new", "incrby"]);
        let expire = |k: Option<&KeyState>, t| ops::expire(k, NOW, t, NOW + 10_000);
        assert_eq!(r.apply("s", expire), ["expire"]);
        let persist = |k: Option<&KeyState>, t| ops::persist(k, NOW, t);
        assert_eq!(r.apply("s", persist), ["persist"]);
        let append = |k: Option<&KeyState>, t| {
            let w = StrWrite::Append(b("+"));
            ops::write_bytes(k, NOW, t, w).ok().map(|(e, _)| e)
        };
        assert_eq!(
            r.apply("s", append),
            ["set"],
            "a short string is written whole"
        );
        let long = "v".repeat(gdc_crdt::ops::WRITTEN_WHOLE_MAX);
        assert_eq!(r.apply("s", set(&long)), ["set"]);
        assert_eq!(r.apply("s", append), ["append"]);
        let setrange = |k: Option<&KeyState>, t| {
            let w = StrWrite::Range {
                offset: 0,
                bytes: b("3"),
            };
            ops::write_bytes(k, NOW, t, w).ok().map(|(e, _)| e)
        };
        assert_eq!(r.apply("s", setrange), ["setrange"]);
        assert_eq!(r.apply("new", append), ["new", "set"]);
        let delete = |k: Option<&KeyState>, t| ops::delete(k, t);
        assert_eq!(r.apply("s", delete), ["del"]);

        let fields = [(b("f"), b("1")), (b("g"), b("2"))];
        let hset = |k: Option<&KeyState>, t| ops::hset(k, NOW, t, &fields).ok().map(|(e, _)| e);
        assert_eq!(r.apply("h", hset), ["new", "hset"]);
        let hset_again =
            |k: Option<&KeyState>, t| ops::hset(k, NOW, t, &fields[..1]).ok().map(|(e, _)| e);
        assert_eq!(
            r.apply("h", hset_again),
            ["hset"],
            "an overwrite is no hdel"
        );
        let names = [b("f")];
        let hdel = |k: Option<&KeyState>, t| ops::hdel(k, NOW, t, &names).ok().and_then(|e| e.0);
        assert_eq!(r.apply("h", hdel), ["hdel"]);
        let names = [b("g")];
        let hdel = |k: Option<&KeyState>, t| ops::hdel(k, NOW, t, &names).ok().and_then(|e| e.0);
        assert_eq!(r.apply("h", hdel), ["hdel", "del"]);

        let members = [b("a")];
        let sadd = |k: Option<&KeyState>, t| ops::sadd(k, NOW, t, &members).ok().map(|(e, _)| e);
        assert_eq!(r.apply("set", sadd), ["new", "sadd"]);
        let srem = |k: Option<&KeyState>, t| ops::srem(k, NOW, t, &members).ok().and_then(|e| e.0);
        assert_eq!(r.apply("set", srem), ["srem", "del"]);

        let scores = [(b("m"), 1.0)];
        let zadd = |k: Option<&KeyState>, t| ops::zadd(k, NOW, t, &scores).ok().map(|(e, _)| e);
        assert_eq!(r.apply("z", zadd), ["new", "zadd"]);
        let rescored = [(b("m"), 2.0)];
        let zadd = |k: Option<&KeyState>, t| ops::zadd(k, NOW, t, &rescored).ok().map(|(e, _)| e);
        assert_eq!(r.apply("z", zadd), ["zadd"]);

        let push = |end| {
            move |k: Option<&KeyState>, t| {
                ops::list_push(k, NOW, t, end, [b("x"), b("y")])
                    .ok()
                    .map(|(e, _)| e)
            }
        };
        assert_eq!(r.apply("l", push(End::Left)), ["new", "rpush"]);
        assert_eq!(r.apply("l", push(End::Right)), ["rpush"]);
        assert_eq!(r.apply("l", push(End::Left)), ["lpush"]);
        let pop = |k: Option<&KeyState>, t| ops::list_remove(k, NOW, t, &[0]).ok().flatten();
        assert_eq!(r.apply("l", pop), ["lrem"]);
    }
}
