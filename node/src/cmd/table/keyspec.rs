//! Key specifications, as Redis 7 declares them: where a command's keys start (an argument's
//! index), how many follow (a range, or a count given by an argument), and how the command
//! uses them (flags). From them come COMMAND INFO's legacy first/last/step and
//! `movablekeys`, and COMMAND GETKEYS.

use super::Command;
use bytes::Bytes;

/// How a command uses a key: a set of the constants below.
pub(in crate::cmd) type KeyFlags = u16;

/// Read only.
pub(in crate::cmd) const RO: KeyFlags = 1;
/// Read and written.
pub(super) const RW: KeyFlags = 1 << 1;
/// Overwritten: the old value is not read.
pub(super) const OW: KeyFlags = 1 << 2;
/// Removed.
pub(super) const RM: KeyFlags = 1 << 3;
/// The value is returned, copied or used.
pub(in crate::cmd) const ACCESS: KeyFlags = 1 << 4;
/// The value is updated.
pub(in crate::cmd) const UPDATE: KeyFlags = 1 << 5;
/// Something is added to the value.
pub(in crate::cmd) const INSERT: KeyFlags = 1 << 6;
/// Something is removed from the value.
pub(in crate::cmd) const DELETE: KeyFlags = 1 << 7;
/// Not a key, though it looks like one (no gdc command has such an argument yet).
pub(super) const NOT_KEY: KeyFlags = 1 << 8;
/// The spec may not find every key: GETKEYS asks the command's own finder.
pub(super) const INCOMPLETE: KeyFlags = 1 << 9;
/// The flags depend on the arguments: GETKEYS asks the command's own finder.
pub(super) const VARIABLE_FLAGS: KeyFlags = 1 << 10;

/// The key flags' names, in the order COMMAND INFO and GETKEYSANDFLAGS show them.
const NAMES: [&str; 11] = [
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
];

/// The names of the flags in `flags`, in Redis's order.
pub(in crate::cmd) fn key_flag_names(flags: KeyFlags) -> impl Iterator<Item = &'static str> {
    (0..NAMES.len())
        .filter(move |i| flags & (1 << i) != 0)
        .map(|i| NAMES[i])
}

/// Where the search for a spec's keys begins.
#[derive(Clone, Copy, Debug)]
pub(in crate::cmd) enum Begin {
    /// At this argument (the command's name is 0).
    Index(i32),
    /// After `keyword` (any case), looked for from argument `startfrom` on (negative: from
    /// that far before the end, backwards); no keys when it is not there.
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    /// No rule can say: the command's own finder must.
    Unknown,
}

/// Which keys follow where the search began.
#[derive(Clone, Copy, Debug)]
pub(in crate::cmd) enum Find {
    /// Keys every `keystep` arguments up to `lastkey` (relative to the beginning; negative:
    /// counted from the end), or when `limit` is set, up to 1/`limit` of what is left.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// The argument at `keynumidx` (relative to the beginning) counts the keys, which
    /// start at `firstkey` and come every `keystep` arguments.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    /// No rule can say.
    Unknown,
}

/// One key specification.
#[derive(Clone, Copy, Debug)]
pub(in crate::cmd) struct KeySpec {
    /// Redis's remark, shown in COMMAND INFO.
    pub(in crate::cmd) notes: Option<&'static str>,
    pub(in crate::cmd) flags: KeyFlags,
    pub(in crate::cmd) begin: Begin,
    pub(in crate::cmd) find: Find,
}

/// A key spec with no remark.
pub(super) const fn key(flags: KeyFlags, begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin,
        find,
    }
}

pub(super) const fn index(i: i32) -> Begin {
    Begin::Index(i)
}

pub(super) const fn keyword(keyword: &'static str, startfrom: i32) -> Begin {
    Begin::Keyword { keyword, startfrom }
}

pub(super) const fn range(lastkey: i32, keystep: i32, limit: i32) -> Find {
    Find::Range {
        lastkey,
        keystep,
        limit,
    }
}

pub(super) const fn keynum(keynumidx: i32, firstkey: i32, keystep: i32) -> Find {
    Find::Keynum {
        keynumidx,
        firstkey,
        keystep,
    }
}

impl KeySpec {
    /// The same spec with Redis's remark.
    pub(super) const fn note(mut self, notes: &'static str) -> Self {
        self.notes = Some(notes);
        self
    }

    /// The first argument and the range of a spec COMMAND INFO's legacy positions can use.
    fn plain_range(&self) -> Option<(i32, i32, i32)> {
        match (self.begin, self.find) {
            (
                Begin::Index(first),
                Find::Range {
                    lastkey, keystep, ..
                },
            ) => Some((first, lastkey, keystep)),
            _ => None,
        }
    }
}

/// How COMMAND GETKEYS finds a command's keys when its specs cannot (an unknown or
/// incomplete spec, variable flags, an unreadable key count). A command whose keys are
/// counted by an argument has Redis's finder for those (`Numkeys`) without declaring it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::cmd) enum Getkeys {
    /// The specs alone.
    Specs,
    /// SORT: the sorted key, and the last STORE's destination.
    Sort,
    /// SORT_RO: the sorted key.
    SortRo,
    /// SET: the key, read and written with GET, else overwritten.
    Set,
    /// BITFIELD: the key, read only when every subcommand is a GET.
    Bitfield,
}

/// The legacy first key, last key and step of `specs`, and whether the keys move
/// (COMMAND INFO's `movablekeys`): the plain, consecutive ranges are merged, and any other
/// spec makes the keys movable.
pub(super) fn legacy_range(specs: &[KeySpec]) -> ((i32, i32, i32), bool) {
    if let [only] = specs {
        if let Some((first, lastkey, step)) = only.plain_range() {
            let last = if lastkey >= 0 {
                first + lastkey
            } else {
                lastkey
            };
            return ((first, last, step), only.flags & INCOMPLETE != 0);
        }
    }
    let mut movable = false;
    let (mut first, mut last) = (i32::MAX, 0i32);
    let mut prev_last = 0;
    for spec in specs {
        let Some((begin, lastkey, step)) = spec.plain_range() else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != begin - 1) {
            movable = true;
            continue;
        }
        movable |= spec.flags & INCOMPLETE != 0;
        first = first.min(begin);
        let abs = if lastkey >= 0 {
            lastkey + begin
        } else {
            lastkey
        };
        // A negative last key (counted from the end) is past any positive one: Redis
        // compares them unsigned.
        last = if (abs as u32) > (last as u32) {
            abs
        } else {
            last
        };
        prev_last = last;
    }
    if first == i32::MAX {
        // No plain range (or no spec at all: no keys, nothing moves).
        return ((0, 0, 0), !specs.is_empty());
    }
    ((first, last, 1), movable)
}

/// Whether `cmd` takes keys at all: a spec of a real key, or a finder of its own.
pub(super) fn has_keys(cmd: &Command) -> bool {
    cmd.keys.iter().any(|s| s.flags & NOT_KEY == 0) || fallback(cmd).is_some()
}

/// The keys of `args` (starting with the command's name) as COMMAND GETKEYS finds them,
/// each with how the command uses it (0: not said): by the specs when they are complete
/// and their flags fixed, else by the command's own finder.
pub(super) fn find_keys(cmd: &Command, args: &[Bytes]) -> Vec<(usize, KeyFlags)> {
    let real = cmd.keys.iter().any(|s| s.flags & NOT_KEY == 0);
    let variable = cmd.keys.iter().any(|s| s.flags & VARIABLE_FLAGS != 0);
    if real && !variable {
        if let Some(keys) = by_specs(cmd.keys, args) {
            return keys;
        }
    }
    fallback(cmd).map_or_else(Vec::new, |f| f.find(args))
}

/// A command's own key finder, used when its specs cannot say.
#[derive(Clone, Copy, Debug)]
enum Fallback {
    Sort,
    SortRo,
    Set,
    Bitfield,
    /// Keys counted by an argument: the counted keys, then the destination if any.
    Numkeys {
        dest: Option<usize>,
        count: usize,
        first: usize,
    },
}

fn fallback(cmd: &Command) -> Option<Fallback> {
    match cmd.getkeys {
        Getkeys::Sort => return Some(Fallback::Sort),
        Getkeys::SortRo => return Some(Fallback::SortRo),
        Getkeys::Set => return Some(Fallback::Set),
        Getkeys::Bitfield => return Some(Fallback::Bitfield),
        Getkeys::Specs => {}
    }
    let counted = cmd.keys.iter().find_map(|s| match (s.begin, s.find) {
        (
            Begin::Index(at),
            Find::Keynum {
                keynumidx,
                firstkey,
                ..
            },
        ) => Some(((at + keynumidx) as usize, (at + firstkey) as usize)),
        _ => None,
    })?;
    let dest = cmd.keys.iter().find_map(|s| match s.plain_range() {
        Some((at, 0, _)) => Some(at as usize),
        _ => None,
    });
    Some(Fallback::Numkeys {
        dest,
        count: counted.0,
        first: counted.1,
    })
}

impl Fallback {
    fn find(self, args: &[Bytes]) -> Vec<(usize, KeyFlags)> {
        match self {
            Fallback::SortRo => vec![(1, RO | ACCESS)],
            Fallback::Sort => sort_keys(args),
            Fallback::Set => {
                let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
                vec![(
                    1,
                    if get {
                        RW | ACCESS | UPDATE
                    } else {
                        OW | UPDATE
                    },
                )]
            }
            Fallback::Bitfield => vec![(1, bitfield_flags(args))],
            Fallback::Numkeys { dest, count, first } => {
                let n = args.get(count).map_or(0, |a| atoi(a));
                let room = args.len().saturating_sub(first) as i64;
                if n < 1 || i64::from(n) > room {
                    return Vec::new();
                }
                let mut keys: Vec<(usize, KeyFlags)> =
                    (first..first + n as usize).map(|i| (i, 0)).collect();
                keys.extend(dest.map(|d| (d, 0)));
                keys
            }
        }
    }
}

/// The argument after `keyword`, searched as Redis searches it: forward from `startfrom`
/// to the second-to-last argument, or (a negative `startfrom`) backward from that far
/// before the end to the second argument.
fn after_keyword(args: &[Bytes], keyword: &str, startfrom: i32) -> Option<usize> {
    let argc = args.len() as i64;
    let found = |i: &i64| args[*i as usize].eq_ignore_ascii_case(keyword.as_bytes());
    let at = if startfrom > 0 {
        (i64::from(startfrom)..argc - 1).find(found)
    } else {
        (2..=argc + i64::from(startfrom)).rev().find(found)
    };
    at.map(|i| i as usize + 1)
}

/// How BITFIELD uses its key, as Redis reads its subcommands: read only when each is a
/// complete GET or OVERFLOW (anything else, even a syntax error, counts as a write).
fn bitfield_flags(args: &[Bytes]) -> KeyFlags {
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 2;
        } else {
            return RW | ACCESS | UPDATE;
        }
    }
    RO | ACCESS
}

/// SORT's keys: the sorted key, and the destination of the last STORE, looking past
/// LIMIT's, GET's and BY's arguments as Redis does.
fn sort_keys(args: &[Bytes]) -> Vec<(usize, KeyFlags)> {
    let mut keys = vec![(1, RO | ACCESS)];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        }
        i += 1;
    }
    keys.extend(store.map(|s| (s, OW | UPDATE)));
    keys
}

/// C's `atoi`, as Redis reads a key count when the specs could not: leading blanks, a
/// sign, then digits up to the first other byte; 0 when none.
pub(super) fn atoi(b: &[u8]) -> i32 {
    let b = b.trim_ascii_start();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut n: i64 = 0;
    for d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    // strtol's value, cut to an int as atoi does.
    (if negative { -n } else { n }) as i32
}

/// The keys the specs find, or `None` when one cannot say (an unknown or incomplete spec,
/// an unreadable count, keys past the end).
fn by_specs(specs: &[KeySpec], args: &[Bytes]) -> Option<Vec<(usize, KeyFlags)>> {
    let argc = args.len() as i64;
    let mut keys = Vec::new();
    for spec in specs.iter().filter(|s| s.flags & NOT_KEY == 0) {
        let first = match spec.begin {
            Begin::Index(i) => i64::from(i),
            Begin::Keyword { keyword, startfrom } => {
                match after_keyword(args, keyword, startfrom) {
                    Some(at) => at as i64,
                    None => continue,
                }
            }
            Begin::Unknown => return None,
        };
        let (first, last, step) = match spec.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let lastkey = i64::from(lastkey);
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / i64::from(limit) + lastkey)
                };
                (first, last, i64::from(keystep))
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first + i64::from(keynumidx);
                let n = args
                    .get(usize::try_from(at).ok()?)
                    .and_then(|a| gdc_crdt::string::parse_i64(a))
                    .filter(|n| *n >= 0)?;
                let first = first + i64::from(firstkey);
                (first, first + n - 1, i64::from(keystep))
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || step < 1 {
            return None;
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, spec.flags));
            i += step;
        }
        if spec.flags & INCOMPLETE != 0 {
            return None;
        }
    }
    Some(keys)
}
