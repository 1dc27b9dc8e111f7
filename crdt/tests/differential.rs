//! Differential tests against the `crdts` crate, where it models the same behaviour: the
//! same ops at the same replicas, delivered in the same order, must read the same at every
//! replica after every step. Delivery here is causal (an op arrives only after everything its
//! origin had seen), which `crdts`' op-based types assume; gdc only needs per-origin order,
//! and the convergence tests cover the rest.
//! * set (SADD/SREM) — `Orswot` (add-wins observed-remove set)
//! * counter (INCRBY) — `PNCounter`
//! * register (SET) — `LWWReg` with our (HLC, server-id) stamp as its marker
//! * hash fields (HSET/HDEL) — `Map` of `MVReg`, for which fields are present

mod common;

use common::{Cluster, KEYS};
use crdts::{CmRDT, LWWReg, MVReg, Map, Orswot, PNCounter};
use gdc_crdt::ops::{self, SetTtl};
use gdc_crdt::{Blob, Stamp};
use proptest::prelude::*;
use std::collections::BTreeSet;

const N: usize = 3;

#[derive(Clone, Debug)]
enum Step {
    /// At replica, an op on member/field `m` (add when the flag is set).
    Exec(usize, u8, bool),
    Deliver {
        to: usize,
        from: usize,
        n: usize,
    },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let exec = (0..N, 0u8..4, any::<bool>()).prop_map(|(r, m, add)| Step::Exec(r, m, add));
    let deliver = (0..N, 0..N, 1usize..4).prop_map(|(to, from, n)| Step::Deliver { to, from, n });
    prop::collection::vec(prop_oneof![3 => exec, 2 => deliver], 1..100)
}

/// Op streams of a reference model, delivered alongside the cluster's.
struct Model<S, O> {
    replicas: Vec<S>,
    /// Per origin: each op with what its origin had applied of every stream when it made it.
    streams: Vec<Vec<(O, Vec<usize>)>>,
    cursors: Vec<Vec<usize>>,
}

impl<S: Default, O: Clone> Model<S, O> {
    fn new() -> Self {
        Model {
            replicas: (0..N).map(|_| S::default()).collect(),
            streams: vec![Vec::new(); N],
            cursors: vec![vec![0; N]; N],
        }
    }

    /// Record an op made at `r` (already applied there).
    fn made(&mut self, r: usize, op: O) {
        let deps = self.cursors[r].clone();
        self.streams[r].push((op, deps));
        self.cursors[r][r] = self.streams[r].len();
    }

    /// Deliver up to `n` ops of `from` to `to` in causal order, the cluster alongside.
    fn deliver(
        &mut self,
        c: &mut Cluster,
        to: usize,
        from: usize,
        n: usize,
        apply: impl Fn(&mut S, O),
    ) {
        for _ in 0..n {
            let next = self.cursors[to][from];
            let Some((op, deps)) = self.streams[from].get(next).cloned() else {
                return;
            };
            if deps
                .iter()
                .zip(&self.cursors[to])
                .any(|(need, have)| need > have)
            {
                return;
            }
            apply(&mut self.replicas[to], op);
            self.cursors[to][from] = next + 1;
            c.deliver(to, from, 1);
        }
    }
}

fn member(m: u8) -> Blob {
    Blob::from(&[b'm', m][..])
}

proptest! {
    #[test]
    fn set_matches_orswot(steps in steps()) {
        let mut c = Cluster::new(N, false);
        let mut model: Model<Orswot<u8, usize>, crdts::orswot::Op<u8, usize>> = Model::new();
        for s in &steps {
            match *s {
                Step::Exec(r, m, add) => {
                    let made = c.write(r, KEYS[0], |st, now, t| {
                        if add {
                            ops::sadd(st, now, t, &[member(m)]).ok().map(|x| x.0)
                        } else {
                            ops::srem(st, now, t, &[member(m)]).ok().and_then(|x| x.0)
                        }
                    });
                    let set = &mut model.replicas[r];
                    let op = if add {
                        set.add(m, set.read_ctx().derive_add_ctx(r))
                    } else {
                        set.rm(m, set.contains(&m).derive_rm_ctx())
                    };
                    if made {
                        set.apply(op.clone());
                        model.made(r, op);
                    }
                }
                Step::Deliver { to, from, n } => model.deliver(&mut c, to, from, n, |s, op| s.apply(op)),
            }
            for r in 0..N {
                let ours: BTreeSet<u8> = c
                    .state(r, KEYS[0])
                    .and_then(|s| s.set())
                    .map(|s| s.members().map(|m| m[1]).collect())
                    .unwrap_or_default();
                let theirs: BTreeSet<u8> = model.replicas[r].read().val.into_iter().collect();
                prop_assert_eq!(ours, theirs, "replica {}", r);
            }
        }
    }

    #[test]
    fn counter_matches_pncounter(steps in steps()) {
        let mut c = Cluster::new(N, false);
        let mut model: Model<PNCounter<usize>, crdts::pncounter::Op<usize>> = Model::new();
        for s in &steps {
            match *s {
                Step::Exec(r, m, up) => {
                    let by = m as i64 + 1;
                    let by = if up { by } else { -by };
                    assert!(c.write(r, KEYS[0], |st, now, t| ops::incr_by(st, now, t, by).ok().map(|x| x.0)));
                    let ctr = &mut model.replicas[r];
                    let op = if up { ctr.inc_many(r, by as u64) } else { ctr.dec_many(r, (-by) as u64) };
                    ctr.apply(op.clone());
                    model.made(r, op);
                }
                Step::Deliver { to, from, n } => model.deliver(&mut c, to, from, n, |s, op| s.apply(op)),
            }
            for r in 0..N {
                let ours = c
                    .state(r, KEYS[0])
                    .and_then(|s| s.string_value())
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .unwrap_or_else(|| "0".into());
                prop_assert_eq!(ours, model.replicas[r].read().to_string(), "replica {}", r);
            }
        }
    }

    #[test]
    fn register_matches_lwwreg(steps in steps()) {
        let mut c = Cluster::new(N, false);
        let mut model: Model<Option<LWWReg<u8, Stamp>>, (u8, Stamp)> = Model::new();
        let update = |reg: &mut Option<LWWReg<u8, Stamp>>, (val, marker): (u8, Stamp)| match reg {
            Some(reg) => reg.update(val, marker),
            None => *reg = Some(LWWReg { val, marker }),
        };
        for s in &steps {
            match *s {
                Step::Exec(r, v, _) => {
                    let mut stamp = Stamp::default();
                    assert!(c.write(r, KEYS[0], |st, now, t| {
                        stamp = t.stamp();
                        Some(ops::set(st, now, t, Blob::from(&[v][..]), SetTtl::Clear))
                    }));
                    update(&mut model.replicas[r], (v, stamp));
                    model.made(r, (v, stamp));
                }
                Step::Deliver { to, from, n } => model.deliver(&mut c, to, from, n, update),
            }
            for r in 0..N {
                let ours = c
                    .state(r, KEYS[0])
                    .and_then(|s| s.string_value())
                    .map(|v| v[0]);
                let theirs = model.replicas[r].as_ref().map(|reg| reg.val);
                prop_assert_eq!(ours, theirs, "replica {}", r);
            }
        }
    }

    #[test]
    fn hash_fields_match_map(steps in steps()) {
        type M = Map<u8, MVReg<u8, usize>, usize>;
        let mut c = Cluster::new(N, false);
        let mut model: Model<M, crdts::map::Op<u8, MVReg<u8, usize>, usize>> = Model::new();
        for s in &steps {
            match *s {
                Step::Exec(r, f, set) => {
                    let made = c.write(r, KEYS[0], |st, now, t| {
                        if set {
                            ops::hset(st, now, t, &[(member(f), Blob::from("v"))]).ok().map(|x| x.0)
                        } else {
                            ops::hdel(st, now, t, &[member(f)]).ok().and_then(|x| x.0)
                        }
                    });
                    let map = &mut model.replicas[r];
                    let op = if set {
                        map.update(f, map.read_ctx().derive_add_ctx(r), |reg, ctx| reg.write(1, ctx))
                    } else {
                        map.rm(f, map.get(&f).derive_rm_ctx())
                    };
                    if made {
                        map.apply(op.clone());
                        model.made(r, op);
                    }
                }
                Step::Deliver { to, from, n } => model.deliver(&mut c, to, from, n, |s, op| s.apply(op)),
            }
            for r in 0..N {
                let ours: BTreeSet<u8> = c
                    .state(r, KEYS[0])
                    .and_then(|s| s.hash())
                    .map(|h| h.fields().map(|(f, _)| f[1]).collect())
                    .unwrap_or_default();
                let theirs: BTreeSet<u8> = model.replicas[r].keys().map(|k| *k.val).collect();
                prop_assert_eq!(ours, theirs, "replica {}", r);
            }
        }
    }
}
