//! The canonical encoding: every state and effect a cluster can produce round-trips exactly,
//! equal states encode alike, and damaged input is refused without a panic.

mod common;

use common::{Body, Cluster, Family, Msg, step};
use gdc_crdt::bits::{BitWrite, StrWrite};
use gdc_crdt::codec::{
    FORMAT_VERSION, KEY_FORMAT_VERSION, decode_effect, decode_key, effect_len_bound, encode_effect,
    encode_key,
};
use gdc_crdt::list::{ListId, Pos};
use gdc_crdt::{
    Addition, Blob, CounterReset, DecodeError, Dot, Effect, FieldLoc, Hlc, KeyState, Loc, Num,
    OpId, Removal, Reset, ServerId, Tag, Value, VersionVector,
};
use proptest::prelude::*;

fn encoded(k: &KeyState) -> Vec<u8> {
    let mut b = Vec::new();
    encode_key(k, &mut b);
    b
}

proptest! {
    #[test]
    fn states_and_effects_round_trip(steps in prop::collection::vec(step(Family::All, 3, true), 1..120), gc in any::<bool>()) {
        let mut c = Cluster::new(3, gc);
        for s in &steps {
            c.run(s);
        }
        for r in &c.replicas {
            for (_, k) in r.ks.iter() {
                let b = encoded(k);
                let back = decode_key(&b).expect("decodes");
                prop_assert_eq!(&back, k);
                prop_assert_eq!(encoded(&back), b);
            }
        }
        for msg in c.streams.iter().flatten() {
            if let Msg::Op { body: Body::Key { effect, .. }, .. } = msg {
                let mut b = Vec::new();
                encode_effect(effect, &mut b);
                prop_assert_eq!(&decode_effect(&b).expect("decodes"), &**effect);
                if let Some(bound) = effect_len_bound(effect) {
                    prop_assert!(b.len() <= bound, "{} bytes over the bound {}", b.len(), bound);
                }
            }
        }
        c.quiesce();
        // Equal states, equal bytes.
        for k in common::KEYS {
            let first = c.replicas[0].ks.get(k.as_bytes()).map(encoded);
            for r in &c.replicas[1..] {
                prop_assert_eq!(&r.ks.get(k.as_bytes()).map(encoded), &first);
            }
        }
    }

    #[test]
    fn damaged_input_is_refused_without_panic(steps in prop::collection::vec(step(Family::All, 2, false), 1..60), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut c = Cluster::new(2, false);
        for s in &steps {
            c.run(s);
        }
        for (_, k) in c.replicas[0].ks.iter() {
            let b = encoded(k);
            // Every strict prefix is refused.
            for n in 0..b.len() {
                prop_assert!(decode_key(&b[..n]).is_err());
            }
            // Flipped bytes either decode to something or are refused; never a panic.
            let mut bad = b.clone();
            for (i, v) in &flips {
                let i = i.index(bad.len());
                bad[i] ^= v | 1;
            }
            let _ = decode_key(&bad);
            let mut long = b.clone();
            long.push(0);
            prop_assert_eq!(decode_key(&long), Err(DecodeError::Trailing(1)));
        }
    }

    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut v = vec![FORMAT_VERSION];
        v.extend_from_slice(&b);
        let _ = decode_key(&v);
        let _ = decode_effect(&v);
    }
}

#[test]
fn another_format_version_is_refused() {
    let b = encoded(&KeyState::new());
    let mut other = b.clone();
    other[0] = KEY_FORMAT_VERSION + 1;
    assert_eq!(
        decode_key(&other),
        Err(DecodeError::Version(KEY_FORMAT_VERSION + 1))
    );
    assert_eq!(decode_key(&b), Ok(KeyState::new()));
}

fn encoded_effect(e: &Effect) -> Vec<u8> {
    let mut b = Vec::new();
    encode_effect(e, &mut b);
    b
}

/// The bound a binlog trusts to encode a record later holds where every varint takes its
/// most bytes (the largest ids, the longest positions and cutoffs, the widest counter
/// totals), for every kind of piece but a stream's.
#[test]
fn the_effect_length_bound_holds_for_the_widest_ids() {
    let dot = Dot::new(ServerId(u32::MAX), OpId(u64::MAX), u32::MAX);
    let tag = Tag::new(dot, Hlc(u64::MAX));
    let long_pos = Pos((0..40).map(|i| u64::MAX - i).collect());
    let id = ListId {
        pos: long_pos.clone(),
        dot,
    };
    let name = Blob::from(&[7u8; 300][..]);
    let mut e = Effect::new(tag);
    let mut cutoff = VersionVector::new();
    for s in 0..20 {
        cutoff.raise(ServerId(u32::MAX - s), OpId(u64::MAX - s as u64));
    }
    e.cutoff = Some(cutoff);
    e.resets.push(Reset {
        loc: FieldLoc::Hash(name.clone()),
        server: ServerId(u32::MAX),
        reset: CounterReset {
            start: OpId(u64::MAX),
            op: OpId(u64::MAX),
            total: Num::Int(i128::MIN),
            by: dot,
        },
    });
    e.removes.extend([
        Removal {
            loc: Loc::Field(FieldLoc::Hash(name.clone())),
            dot,
        },
        Removal {
            loc: Loc::Set(name.clone()),
            dot,
        },
        Removal {
            loc: Loc::List(id.clone()),
            dot,
        },
        Removal { loc: Loc::Ttl, dot },
        Removal {
            loc: Loc::Bits,
            dot,
        },
    ]);
    e.adds.extend([
        Addition::Write {
            loc: FieldLoc::ZSet(name.clone()),
            value: Value::Score(f64::MAX),
        },
        Addition::Write {
            loc: FieldLoc::Hash(name.clone()),
            value: Value::Bytes(name.clone()),
        },
        Addition::Incr {
            loc: FieldLoc::Hash(name.clone()),
            start: OpId(u64::MAX),
            total: Num::Int(i128::MIN),
        },
        Addition::Member(name.clone()),
        Addition::ListInsert {
            pos: long_pos,
            value: name.clone(),
        },
        Addition::ListSet {
            id,
            value: name.clone(),
        },
        Addition::Expire(u64::MAX),
        Addition::Persist,
        Addition::Bits(BitWrite::set(u64::MAX, 64, u64::MAX).into()),
        Addition::Bits(StrWrite::Range {
            offset: u64::MAX,
            bytes: name.clone(),
        }),
        Addition::Bits(StrWrite::Append(name.clone())),
    ]);
    // One piece at a time, and all together.
    let mut each: Vec<Effect> = Vec::new();
    let mut cut = Effect::new(tag);
    cut.cutoff = e.cutoff.clone();
    each.push(cut);
    let mut reset = Effect::new(tag);
    reset.resets = e.resets.clone();
    each.push(reset);
    for r in &e.removes {
        let mut one = Effect::new(tag);
        one.removes.push(r.clone());
        each.push(one);
    }
    for a in &e.adds {
        let mut one = Effect::new(tag);
        one.adds.push(a.clone());
        each.push(one);
    }
    each.push(e.clone());
    each.push(Effect::new(tag));
    for one in &each {
        let n = encoded_effect(one).len();
        let bound = effect_len_bound(one).expect("a bound for every piece but a stream's");
        assert!(n <= bound, "{n} bytes over the bound {bound}: {one:?}");
    }
}
