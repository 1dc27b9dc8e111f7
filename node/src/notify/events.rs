//! Keyspace notifications (`notify-keyspace-events`): the classes of events as Redis 7.0
//! names them, and the events an op from another region gives.

use gdc_crdt::effect::{Addition, FieldLoc, Loc};
use gdc_crdt::field::Num;
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
/// "Keyspace notifications"): named by what the op did, as the command that made it names
/// it at its origin where the op tells (a field write is `hset`, an added member `sadd`);
/// a whole-value write of a collection (RENAME, RESTORE, a *STORE) is `restore`; a
/// removal of list elements `lrem`. `new` comes first when the key did not exist, `del`
/// last when the op left it empty.
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
    let whole = effect.cutoff.is_some();
    if whole && !effect.adds.iter().any(content) {
        add((GENERIC, "del"));
    } else if whole && !effect.adds.iter().all(is_string_write) {
        add((GENERIC, "restore"));
    } else {
        for removal in &effect.removes {
            if let Some(e) = removed(&removal.loc) {
                add(e);
            }
        }
        for a in &effect.adds {
            add(added(a));
        }
    }
    if existed && after.is_none() {
        add((GENERIC, "del"));
    }
    events
}

fn is_string_write(a: &Addition) -> bool {
    matches!(
        a,
        Addition::Write {
            loc: FieldLoc::Str,
            ..
        } | Addition::Expire(_)
            | Addition::Persist
    )
}

fn added(a: &Addition) -> (Classes, &'static str) {
    let float = |n: &Num| matches!(n, Num::Float(_));
    match a {
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
    }
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
}
