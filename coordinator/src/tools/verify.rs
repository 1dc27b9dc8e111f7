//! `gdcctl verify`: ask every region's primary for its database digests (`GDC.DIGEST`) and
//! compare them across each instance's regions. Equal digests mean equal states. Where a
//! database differs, its 256 bucket digests are compared, and in each bucket that differs
//! (the first [`BUCKETS_SHOWN`]) the digests of its keys: the keys that differ are named.
//! Regions still exchanging writes may differ for a moment: verify a quiet cluster, or
//! again.

use crate::tools::nodes;
use crate::topology::Topology;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Databases a node has (Redis's 16).
const DATABASES: usize = 16;
const TIMEOUT: Duration = Duration::from_secs(5);
/// Differing buckets looked into, per database.
pub const BUCKETS_SHOWN: usize = 16;

/// Where regions' data differs: one digest bucket of a database, and its keys that differ
/// (absent from some region, or with another digest there).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub database: usize,
    pub bucket: usize,
    pub keys: Vec<String>,
}

/// One region's digests, or why they could not be read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RegionDigests {
    pub instance: String,
    pub region: String,
    pub primary: String,
    /// Per database, in order.
    pub digests: Result<Vec<String>, String>,
}

/// An instance's verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub instance: String,
    /// Every region answered, with equal digests in every database.
    pub equal: bool,
    /// The databases whose digests differ between regions that answered.
    pub differing_databases: Vec<usize>,
    /// Within them, the buckets and keys that differ.
    pub differences: Vec<Difference>,
    pub regions: Vec<RegionDigests>,
}

/// Read and compare the digests of every region with a primary (of `only`, if given).
pub fn verify(t: &Topology, only: Option<&str>, password: Option<&str>) -> Vec<Verdict> {
    t.instances
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
        .map(|(name, inst)| {
            let regions: Vec<RegionDigests> = inst
                .children
                .iter()
                .filter_map(|(region, child)| {
                    let primary = child.primary.clone()?;
                    Some(RegionDigests {
                        instance: name.clone(),
                        region: region.clone(),
                        digests: nodes::digests(&primary, password, DATABASES, TIMEOUT),
                        primary,
                    })
                })
                .collect();
            let answered: Vec<&Vec<String>> = regions
                .iter()
                .filter_map(|r| r.digests.as_ref().ok())
                .collect();
            let differing_databases: Vec<usize> = (0..DATABASES)
                .filter(|&db| answered.windows(2).any(|w| w[0][db] != w[1][db]))
                .collect();
            let primaries: Vec<&str> = regions
                .iter()
                .filter(|r| r.digests.is_ok())
                .map(|r| r.primary.as_str())
                .collect();
            let differences = differing_databases
                .iter()
                .flat_map(|&db| differences_in(&primaries, db, password))
                .collect();
            Verdict {
                instance: name.clone(),
                equal: differing_databases.is_empty() && answered.len() == regions.len(),
                differing_databases,
                differences,
                regions,
            }
        })
        .collect()
}

/// The buckets of database `db` that differ between the nodes at `primaries`, with their
/// differing keys. A node that cannot be asked is left out (its region shows as
/// unreachable already).
fn differences_in(primaries: &[&str], db: usize, password: Option<&str>) -> Vec<Difference> {
    let buckets: Vec<(&str, Vec<String>)> = primaries
        .iter()
        .filter_map(|p| Some((*p, nodes::bucket_digests(p, password, db, TIMEOUT).ok()?)))
        .collect();
    let Some((_, first)) = buckets.first() else {
        return Vec::new();
    };
    (0..first.len())
        .filter(|&b| buckets.windows(2).any(|w| w[0].1.get(b) != w[1].1.get(b)))
        .take(BUCKETS_SHOWN)
        .map(|bucket| {
            let keys: Vec<BTreeMap<String, String>> = buckets
                .iter()
                .filter_map(|(p, _)| nodes::bucket_keys(p, password, db, bucket, TIMEOUT).ok())
                .collect();
            let all: BTreeSet<&String> = keys.iter().flat_map(|k| k.keys()).collect();
            let differing = all
                .into_iter()
                .filter(|key| keys.windows(2).any(|w| w[0].get(*key) != w[1].get(*key)))
                .cloned()
                .collect();
            Difference {
                database: db,
                bucket,
                keys: differing,
            }
        })
        .collect()
}
