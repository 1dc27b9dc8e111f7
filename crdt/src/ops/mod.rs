//! Effect builders: for each family of write commands, the effect it replicates, made at the
//! origin from the key's state there and the command's arguments. Conditions (NX, XX, GT,
//! integer range, ...) are judged here or by the caller, at the origin; the effect carries
//! only the outcome.
//!
//! Every builder treats a key that does not exist at `now_ms` (absent, or expired) as
//! absent: its effect also removes whatever it observed of the old key, as Redis would
//! before creating a fresh one. A write of one type removes the content of other types it
//! observed (left hidden by an earlier type clash).
//!
//! One family of commands per file: `strings`, `keys` (DEL, EXPIRE, PERSIST on any type),
//! `hashes`, `sets`, `zsets`, `lists`, `streams` and `whole` (a whole value written by RENAME, COPY and
//! the *STORE commands); what a write observes and removes of the old key is in `observe`,
//! the counter entry of an increment in `counter`, and the handling of names repeated in one
//! command in `dedup`.

mod counter;
mod dedup;
mod hashes;
mod keys;
mod lists;
mod observe;
mod sets;
mod streams;
mod strings;
mod whole;
mod zsets;

pub use hashes::{hdel, hincr_by, hincr_by_float, hset};
pub use keys::{delete, expire, persist};
pub use lists::{End, Popped, list_insert, list_pop, list_push, list_remove, list_set, list_trim};
pub use sets::{sadd, srem};
pub use streams::{GroupChange, GroupValue, StreamValue, group_change, xadd, xremove, xsetid};
pub use strings::{
    SetTtl, WRITTEN_WHOLE_MAX, incr_by, incr_by_float, set, write_bits, write_bytes, write_piece,
};
pub use whole::{Whole, replace};
pub use zsets::{zadd, zincr_by, zrem};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Blob;
    use crate::error::OpError;
    use crate::hlc::Hlc;
    use crate::ids::{Dot, OpId, ServerId, Tag};
    use crate::key::KeyState;
    use crate::vv::VersionVector;

    fn tag(op: u64) -> Tag {
        Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(1000 + op, 0))
    }

    fn b(s: &str) -> Blob {
        Blob::from(s)
    }

    #[test]
    fn repeated_names_in_one_command_count_once_and_the_last_value_wins() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        let (e, added) = sadd(None, 0, tag(1), &[b("a"), b("b"), b("a")]).expect("set");
        assert_eq!(added, 2);
        k.apply(&e, &none);
        assert_eq!(k.set().map(|s| s.len()), Some(2));

        let mut h = KeyState::new();
        let pairs = [(b("f"), b("1")), (b("g"), b("2")), (b("f"), b("3"))];
        let (e, added) = hset(None, 0, tag(2), &pairs).expect("hash");
        assert_eq!(added, 2);
        h.apply(&e, &none);
        let f = h.hash().and_then(|h| h.get(b"f")).expect("field f");
        assert_eq!(&*f.value(), b"3");
    }

    #[test]
    fn replace_writes_a_whole_value_of_any_type_over_any_type() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        k.apply(&set(None, 0, tag(1), b("v"), SetTtl::At(50)), &none);
        for (op, whole) in [
            (2, Whole::List(vec![b("a"), b("b"), b("c")])),
            (3, Whole::Hash(vec![(b("f"), b("1"))])),
            (4, Whole::Set(vec![b("x"), b("y")])),
            (5, Whole::ZSet(vec![(b("m"), 2.5)])),
            (6, Whole::Str(b("s"))),
        ] {
            k.apply(&replace(Some(&k), tag(op), &whole, Some(9000)), &none);
            let mut got = Whole::of(&k).expect("a value");
            if let Whole::Set(m) = &mut got {
                m.sort();
            }
            assert_eq!(got, whole);
            assert_eq!(k.expire_at(), Some(9000));
            assert_eq!(k.hidden().count(), 0);
        }
    }

    #[test]
    fn wrong_type_is_refused_with_redis_error() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        k.apply(&set(None, 0, tag(1), b("v"), SetTtl::Clear), &none);
        assert_eq!(
            sadd(Some(&k), 0, tag(2), &[b("m")]).err(),
            Some(OpError::WrongType)
        );
        assert_eq!(
            OpError::WrongType.to_string(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            incr_by(Some(&k), 0, tag(2), 1).err(),
            Some(OpError::NotInteger)
        );
        assert_eq!(
            list_set(None, 0, tag(2), 0, b("x")).err(),
            Some(OpError::NoSuchKey)
        );
    }

    /// LTRIM's removal is of the elements outside the kept range, the same as removing
    /// their indexes one by one would be: a few at either end, most, none, all.
    #[test]
    fn a_trim_removes_what_lies_outside_the_kept_range() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        let values: Vec<Blob> = (0..3000).map(|i| b(&format!("v{i}"))).collect();
        let (e, _) = list_push(None, 0, tag(1), End::Right, values).expect("push");
        k.apply(&e, &none);
        let n = 3000;
        for keep in [
            0..2999,
            1..3000,
            0..1000,
            2000..3000,
            5..10,
            0..0,
            7..7,
            0..3000,
        ] {
            let trim = list_trim(Some(&k), 0, tag(2), keep.clone()).expect("trim");
            let outside: Vec<usize> = (0..n).filter(|i| !keep.contains(i)).collect();
            let removal = list_remove(Some(&k), 0, tag(2), &outside).expect("remove");
            assert_eq!(trim, removal, "keep {keep:?}");
            let mut trimmed = k.clone();
            if let Some(e) = &trim {
                trimmed.apply(e, &none);
            }
            let left: Vec<Vec<u8>> = trimmed
                .list()
                .map(|l| l.values().map(<[u8]>::to_vec).collect())
                .unwrap_or_default();
            let want: Vec<Vec<u8>> = keep.map(|i| format!("v{i}").into_bytes()).collect();
            assert_eq!(left, want);
        }
    }

    /// A push answers the list's length after it; a pop its values in pop order, and
    /// whether they were the whole list; an absent key pops nothing, another type refuses.
    #[test]
    fn pushes_give_the_length_and_pops_the_values_they_take() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        let (e, len) =
            list_push(None, 0, tag(1), End::Right, [b("a"), b("b"), b("c")]).expect("push");
        assert_eq!(len, 3);
        k.apply(&e, &none);
        let (e, len) = list_push(Some(&k), 0, tag(2), End::Left, [b("z")]).expect("push");
        assert_eq!(len, 4);
        k.apply(&e, &none);

        let (e, popped) = list_pop(Some(&k), 0, tag(3), End::Right, 2).expect("pop");
        let popped = popped.expect("a list");
        assert_eq!(popped.values[..], [b("c"), b("b")]);
        assert!(!popped.emptied);
        k.apply(&e.expect("an effect"), &none);
        let (_, popped) = list_pop(Some(&k), 0, tag(4), End::Left, 0).expect("pop");
        assert_eq!(popped.map(|p| p.values.len()), Some(0));
        let (e, popped) = list_pop(Some(&k), 0, tag(5), End::Left, 9).expect("pop");
        assert_eq!(
            popped.as_ref().map(|p| &p.values[..]),
            Some(&[b("z"), b("a")][..])
        );
        assert!(popped.is_some_and(|p| p.emptied));
        k.apply(&e.expect("an effect"), &none);
        assert!(!k.exists(0));

        assert_eq!(list_pop(None, 0, tag(6), End::Left, 1), Ok((None, None)));
        let (e, _) = sadd(None, 0, tag(7), &[b("m")]).expect("set");
        let mut s = KeyState::new();
        s.apply(&e, &none);
        assert_eq!(
            list_pop(Some(&s), 0, tag(8), End::Left, 1).err(),
            Some(OpError::WrongType)
        );
    }
}
