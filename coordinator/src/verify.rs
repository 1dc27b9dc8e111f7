//! `gdcctl verify`: ask every region's primary for its database digests (`GDC.DIGEST`) and
//! compare them across each instance's regions. Equal digests mean equal states; where they
//! differ, the databases that differ are named. Regions still exchanging writes may differ
//! for a moment: verify a quiet cluster, or again.

use crate::topology::Topology;
use std::time::Duration;

/// Databases a node has (Redis's 16).
const DATABASES: usize = 16;
const TIMEOUT: Duration = Duration::from_secs(5);

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
                        digests: crate::nodes::digests(&primary, password, DATABASES, TIMEOUT),
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
            Verdict {
                instance: name.clone(),
                equal: differing_databases.is_empty() && answered.len() == regions.len(),
                differing_databases,
                regions,
            }
        })
        .collect()
}
