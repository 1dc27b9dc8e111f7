//! `gdcctl failover`: a planned switchover of a region's primary, without losing a write.
//!
//! 1. The primary is fenced (a `fence` change): it keeps its channels but takes no writes.
//! 2. Once it reports itself read-only *under an assignment at least as new as the fence*
//!    (a lapsed lease also makes a primary read-only, for a moment), its applied vector is
//!    read: everything it will ever have taken at this epoch.
//! 3. The chosen secondary (the one that has applied the most, unless named) is waited for
//!    until it has all of that.
//! 4. It is promoted by a switchover `promote` naming this switchover's fence token, which is
//!    refused unless the region still stands behind that very fence: the old primary can
//!    only take writes again after an `unfence`, which a late promotion then follows in the
//!    log and is refused, even if another switchover has fenced the region since. Never two
//!    writers.
//!
//! If a step fails or the time runs out, gdcctl lifts the fence and the old primary takes
//! writes again; should gdcctl die part-way, the leader lifts it once it has stood for the
//! timeout (by the leader's clock). Clients see writes refused (`-READONLY`) between steps 1
//! and 4, typically milliseconds.

use crate::client::AdminClient;
use crate::tools::nodes::{self, NodeRole, NodeState};
use crate::topology::Change;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What a switchover did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Switched {
    pub instance: String,
    pub region: String,
    /// The old primary, now a secondary.
    pub from: String,
    /// The new primary.
    pub to: String,
    pub epoch: u64,
    /// How long writes were refused: from the fence to the promotion.
    pub fenced_ms: u64,
}

/// How long a node may take to answer.
const NODE_TIMEOUT: Duration = Duration::from_secs(5);

fn node_state(addr: &str, password: Option<&str>) -> Result<NodeState, String> {
    nodes::node_state(addr, password, NODE_TIMEOUT)
}

/// `a` has every op `b` has.
fn covers(a: &BTreeMap<u32, u64>, b: &BTreeMap<u32, u64>) -> bool {
    b.iter()
        .all(|(id, op)| a.get(id).copied().unwrap_or(0) >= *op)
}

const POLL: Duration = Duration::from_millis(10);

/// Hand `region`'s writes from its primary to a secondary (`to`, or the one that has
/// applied the most) within `timeout`. Node calls block briefly: for a command-line tool.
pub async fn switchover(
    admin: &AdminClient,
    instance: &str,
    region: &str,
    to: Option<&str>,
    timeout: Duration,
    password: Option<&str>,
) -> Result<Switched, String> {
    let (t, _) = admin.topology().await?;
    let child = t
        .instances
        .get(instance)
        .ok_or_else(|| format!("no instance '{instance}'"))?
        .children
        .get(region)
        .ok_or_else(|| format!("instance '{instance}' has no region '{region}'"))?;
    let from = child
        .primary
        .clone()
        .ok_or_else(|| format!("region '{region}' has no primary"))?;
    let target = match to {
        Some(to) if child.secondaries.iter().any(|s| s == to) => to.to_string(),
        Some(to) => return Err(format!("{to} is not a secondary of region '{region}'")),
        None => child
            .secondaries
            .iter()
            .filter_map(|s| {
                let state = node_state(s, password).ok()?;
                Some((state.applied.values().sum::<u64>(), s))
            })
            .max()
            .map(|(_, s)| s.clone())
            .ok_or_else(|| format!("no secondary of region '{region}' answers"))?,
    };
    // Both must answer before writes are stopped for them.
    node_state(&from, password)?;
    node_state(&target, password)?;
    let epoch = child.epoch;
    let started = Instant::now();
    let deadline = started
        .checked_add(timeout)
        .ok_or("--timeout-ms is too large")?;
    // This switchover's own fence: its promote and unfence name it, so neither can act on
    // another switchover's, and a retried fence is recognised as the same one.
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    let fence_index = admin
        .change(&Change::Fence {
            instance: instance.into(),
            region: region.into(),
            epoch,
            token,
            for_ms: timeout.as_millis() as u64,
        })
        .await?;
    let handed = hand_over(
        admin,
        (instance, region, epoch),
        (&from, &target),
        (token, fence_index),
        deadline,
        password,
    )
    .await;
    match handed {
        Ok(()) => Ok(Switched {
            instance: instance.into(),
            region: region.into(),
            from,
            to: target,
            epoch: epoch + 1,
            fenced_ms: started.elapsed().as_millis() as u64,
        }),
        Err(e) => {
            let unfenced = admin
                .change(&Change::Unfence {
                    instance: instance.into(),
                    region: region.into(),
                    epoch,
                    token,
                })
                .await;
            Err(match unfenced {
                Ok(_) => format!("{e}; the switchover is called off, {from} takes writes again"),
                Err(u) => format!(
                    "{e}; and the fence could not be lifted ({u}): the leader lifts it once it has stood for the timeout"
                ),
            })
        }
    }
}

/// Steps 2 to 4, once the primary is fenced (by the fence `token`, at log index
/// `fence_index`).
async fn hand_over(
    admin: &AdminClient,
    (instance, region, epoch): (&str, &str, u64),
    (from, to): (&str, &str),
    (token, fence_index): (u64, u64),
    deadline: Instant,
    password: Option<&str>,
) -> Result<(), String> {
    let mut last: String;
    let taken = loop {
        match node_state(from, password) {
            Ok(s) if s.epoch != epoch => {
                return Err(format!("{from} moved on to epoch {} meanwhile", s.epoch));
            }
            Ok(s) if s.role != NodeRole::Primary && s.assignment_index >= fence_index => {
                break s.applied;
            }
            Ok(_) => last = format!("{from} has not taken in its fence"),
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out: {last}"));
        }
        tokio::time::sleep(POLL).await;
    };
    loop {
        match node_state(to, password) {
            Ok(s) if covers(&s.applied, &taken) => break,
            Ok(_) => last = format!("{to} has not caught up with {from}"),
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out: {last}"));
        }
        tokio::time::sleep(POLL).await;
    }
    let promoted = admin
        .change(&Change::Promote {
            instance: instance.into(),
            region: region.into(),
            node: to.into(),
            epoch,
            switchover: Some(token),
        })
        .await;
    match promoted {
        Ok(_) => Ok(()),
        // The reply may have been lost after the change was made: look.
        Err(e) => match admin.topology().await {
            Ok((t, _))
                if t.instances
                    .get(instance)
                    .and_then(|i| i.children.get(region))
                    .is_some_and(|c| c.epoch == epoch + 1 && c.primary.as_deref() == Some(to)) =>
            {
                Ok(())
            }
            _ => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_covers_another_when_it_has_every_op() {
        let v = |pairs: &[(u32, u64)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
        assert!(covers(&v(&[(1, 5), (2, 3)]), &v(&[(1, 5)])));
        assert!(covers(&v(&[(1, 5)]), &v(&[])));
        assert!(!covers(&v(&[(1, 4), (2, 9)]), &v(&[(1, 5)])));
        assert!(!covers(&v(&[(2, 9)]), &v(&[(1, 1)])));
    }
}
