//! Health and failover. Nodes heartbeat to the leader a few times a second; the leader
//! keeps, in memory, when each was last heard from and how many ops it had applied. When a
//! region's primary has been silent for the failover timeout, the leader promotes the live
//! secondary that has applied the most (a Raft change, refused if the region's epoch has
//! moved since: one decision per epoch). A new leader starts counting from when it took
//! over (and a leader from when a quorum acknowledges it again, after being cut off or
//! stopped), so a change of leader never looks like silence, and gives a primary it has
//! not heard from yet twice the timeout, time for the node to find it.
//!
//! The leader also lifts a switchover's fence that has stood longer than it was given
//! (`gdcctl failover` died, or could not finish), so a region is never left without writes.

use crate::Raft;
use crate::store::StateMachine;
use crate::topology::{Change, Topology};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// A fence as the leader times it: instance, region, epoch and the fence's token.
type FenceKey = (String, String, u64, u64);

/// When a node was last heard from, what it had applied, and since when it has been
/// heard without a gap as long as the failover timeout.
#[derive(Clone, Copy, Debug)]
struct Seen {
    at: Instant,
    applied_ops: u64,
    since: Instant,
}

/// The leader's record of nodes' heartbeats.
#[derive(Debug)]
pub struct Health {
    seen: Mutex<HashMap<String, Seen>>,
    /// Since when this leader has seen each fence.
    fences: Mutex<HashMap<FenceKey, Instant>>,
    /// A primary silent this long is replaced.
    pub timeout: Duration,
    /// When the stall watch last ran, and until when this process distrusts its own view
    /// after a stall (see [`Health::watch_for_stalls`]).
    stalls: Mutex<(Instant, Option<Instant>)>,
}

/// A process whose timers fire this late did not run meanwhile (stopped, paused, starved).
const STALL: Duration = Duration::from_secs(1);

impl Health {
    pub fn new(timeout: Duration) -> Arc<Health> {
        Arc::new(Health {
            seen: Mutex::new(HashMap::new()),
            fences: Mutex::new(HashMap::new()),
            timeout,
            stalls: Mutex::new((Instant::now(), None)),
        })
    }

    /// Notice when this process stops running for a while (SIGSTOP, a paused VM,
    /// starvation): for `distrust` afterwards, [`Health::trusts_itself`] says no. A leader
    /// that was stopped still believes it leads, and openraft's figure of when a quorum last
    /// acknowledged it is as old as the stop until openraft publishes a new one: meanwhile
    /// it must neither grant leases nor take the primaries' silence for theirs.
    pub async fn watch_for_stalls(self: Arc<Self>, distrust: Duration) {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.watched_at(Instant::now(), distrust);
        }
    }

    /// The stall watch runs at `now`.
    fn watched_at(&self, now: Instant, distrust: Duration) {
        let mut stalls = self.stalls.lock().unwrap_or_else(|p| p.into_inner());
        let stopped = now.duration_since(stalls.0);
        if stopped > STALL {
            warn!(
                stalled_ms = stopped.as_millis() as u64,
                "this process did not run for a while: no failovers for now"
            );
            stalls.1 = Some(now + distrust);
        }
        stalls.0 = now;
    }

    /// Not within the distrust that follows a stall, nor in a stall the watch has not yet
    /// woken up to (a call served right after the process runs again).
    pub fn trusts_itself(&self) -> bool {
        self.trusts_itself_at(Instant::now())
    }

    fn trusts_itself_at(&self, now: Instant) -> bool {
        let (watched, until) = *self.stalls.lock().unwrap_or_else(|p| p.into_inner());
        now.saturating_duration_since(watched) <= STALL && until.is_none_or(|u| now >= u)
    }

    pub fn heard(&self, addr: &str, applied_ops: u64) {
        self.heard_at(addr, applied_ops, Instant::now());
    }

    fn heard_at(&self, addr: &str, applied_ops: u64, at: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let since = seen
            .get(addr)
            .filter(|s| at.saturating_duration_since(s.at) < self.timeout)
            .map_or(at, |s| s.since);
        seen.insert(
            addr.to_string(),
            Seen {
                at,
                applied_ops,
                since,
            },
        );
    }

    /// The promotions and fence lifts due at `now`, for a leader that has led since `since`.
    fn due(&self, t: &Topology, since: Instant, now: Instant) -> Vec<Change> {
        let mut out = self.fences_due(t, since, now);
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Heard from within the timeout, counting from when this coordinator began to lead,
        // and without a gap for at least the timeout: a region cut off from the
        // coordinators (a WAN partition) comes back all at once, and a secondary whose
        // heartbeats happen to arrive first must not replace its primary, which took writes
        // all along and is about to be heard too.
        let recent = |addr: &str| -> Option<Seen> {
            let s = *seen.get(addr)?;
            (s.at >= since
                && now.duration_since(s.at) < self.timeout
                && now.duration_since(s.since) >= self.timeout)
                .then_some(s)
        };
        for (instance, inst) in &t.instances {
            for (region, child) in &inst.children {
                let Some(primary) = &child.primary else {
                    continue;
                };
                // Heard since this coordinator took over: silent past the timeout. Not heard
                // yet: its calls may still be timing out at the old leader, so it gets the
                // timeout twice over to find this one (a change of leader alone must not
                // fail primaries over).
                let last = seen.get(primary).filter(|s| s.at >= since).map(|s| s.at);
                let silent = match last {
                    Some(at) => now.duration_since(at) >= self.timeout,
                    None => now.duration_since(since) >= self.timeout * 2,
                };
                if !silent {
                    continue;
                }
                // A secondary that went quiet with its primary (the whole region cut off at
                // once) is no witness of the primary's death: it must have been heard well
                // after the primary's last heartbeat.
                let outlived = |s: &Seen| last.is_none_or(|at| s.at >= at + self.timeout / 2);
                let best = child
                    .secondaries
                    .iter()
                    .filter_map(|s| recent(s).filter(outlived).map(|seen| (seen.applied_ops, s)))
                    // Most applied; on a tie, the lowest address (the same choice every time).
                    .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)));
                if let Some((_, node)) = best {
                    // What the decision rested on, for whoever reads why a region failed
                    // over (the figures the heartbeats gave, in ms before now).
                    let ago = |at: Instant| now.saturating_duration_since(at).as_millis() as u64;
                    let candidate = seen.get(node.as_str());
                    info!(
                        %instance, %region, primary = %primary, %node,
                        primary_heard_ms_ago = last.map(ago),
                        node_heard_ms_ago = candidate.map(|s| ago(s.at)),
                        node_heard_since_ms_ago = candidate.map(|s| ago(s.since)),
                        leading_ms = ago(since),
                        "a primary to fail over"
                    );
                    out.push(Change::Promote {
                        instance: instance.clone(),
                        region: region.clone(),
                        node: node.clone(),
                        epoch: child.epoch,
                        switchover: None,
                    });
                }
            }
        }
        out
    }

    /// Fences that have stood longer than they were given (timed from when this leader
    /// first saw them, and no earlier than when it began to lead).
    fn fences_due(&self, t: &Topology, since: Instant, now: Instant) -> Vec<Change> {
        let mut fences = self.fences.lock().unwrap_or_else(|p| p.into_inner());
        let standing: Vec<(FenceKey, u64)> = t
            .instances
            .iter()
            .flat_map(|(instance, inst)| {
                inst.children.iter().filter_map(move |(region, c)| {
                    let f = c.fence?;
                    Some((
                        (instance.clone(), region.clone(), c.epoch, f.token),
                        f.for_ms,
                    ))
                })
            })
            .collect();
        fences.retain(|k, _| standing.iter().any(|(s, _)| s == k));
        standing
            .into_iter()
            .filter_map(|(key, for_ms)| {
                let first_seen = *fences.entry(key.clone()).or_insert(now);
                let from = first_seen.max(since);
                (now.duration_since(from) >= Duration::from_millis(for_ms)).then(|| {
                    let (instance, region, epoch, token) = key;
                    Change::Unfence {
                        instance,
                        region,
                        epoch,
                        token,
                    }
                })
            })
            .collect()
    }
}

/// This coordinator leads and a quorum acknowledged it lately: less than an election
/// timeout ago, so no other member can have been elected since. (openraft's leader only
/// steps down when it sees a higher term; cut off from its quorum, or stopped and resumed,
/// it still thinks it leads.) openraft refreshes the figure when it publishes metrics, at
/// least every one and a half heartbeat intervals, so it may be that much older than it
/// says.
///
/// Not at all for a while after this process was found to have stopped running
/// ([`Health::watch_for_stalls`]): the figure is then as old as the stop.
pub(crate) fn leads_a_quorum(raft: &Raft, health: &Health) -> bool {
    if !health.trusts_itself() {
        return false;
    }
    let config = raft.config();
    let staleness = config.heartbeat_interval * 3 / 2;
    let m = raft.metrics().borrow().clone();
    m.current_leader == Some(m.id)
        && m.millis_since_quorum_ack
            .is_some_and(|ms| ms + staleness < config.election_timeout_min)
}

/// Watch the primaries while this coordinator leads, and fail over those gone silent.
pub async fn monitor(raft: Raft, state: StateMachine, health: Arc<Health>) {
    let mut leading_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(health.timeout / 5);
    loop {
        tick.tick().await;
        // Leading counts from when a quorum acknowledges it again: a leader that was cut
        // off, or stopped (SIGSTOP) and resumed not yet knowing whether it was deposed,
        // heard no heartbeats meanwhile, and must not take that for the primaries' silence.
        if !leads_a_quorum(&raft, &health) {
            leading_since = None;
            continue;
        }
        let since = *leading_since.get_or_insert_with(Instant::now);
        let due = {
            let applied = state.read().await;
            health.due(&applied.topology, since, Instant::now())
        };
        for change in due {
            match raft.client_write(change.clone().into()).await {
                Ok(w) => match w.data {
                    Ok(()) if matches!(change, Change::Unfence { .. }) => {
                        warn!(?change, "a switchover did not finish in time: fence lifted")
                    }
                    Ok(()) => warn!(?change, "primary silent: failed over"),
                    Err(why) => info!(%why, "change not applied"),
                },
                Err(e) => {
                    warn!(error = %e, "cannot commit a failover");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        let mut t = Topology::default();
        for json in [
            r#"{"op":"create-instance","name":"shop"}"#,
            r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"p","sync_addr":"p:1","server_id":1}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"s1","sync_addr":"s1:1","server_id":2}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"s2","sync_addr":"s2:1","server_id":3}"#,
        ] {
            t.apply(&serde_json::from_str(json).expect(json))
                .expect(json);
        }
        t
    }

    #[test]
    fn a_silent_primary_is_replaced_by_the_live_secondary_with_the_most_ops() {
        let t = topology();
        let h = Health::new(Duration::from_millis(1000));
        let since = Instant::now();
        let at = |ms| since + Duration::from_millis(ms);
        h.heard_at("p", 100, at(0));
        h.heard_at("s1", 90, at(0));
        h.heard_at("s2", 95, at(0));
        assert!(
            h.due(&t, since, at(500)).is_empty(),
            "the primary is not late yet"
        );
        assert!(
            h.due(&t, since, at(1100)).is_empty(),
            "secondaries silent as well: no one to promote"
        );
        // The secondaries go on beating; the primary does not.
        h.heard_at("s1", 99, at(900));
        h.heard_at("s2", 95, at(900));
        let promote = |node: &str| Change::Promote {
            instance: "shop".into(),
            region: "eu".into(),
            node: node.into(),
            epoch: 1,
            switchover: None,
        };
        assert_eq!(h.due(&t, since, at(1100)), [promote("s1")]);
        // On a tie, the lowest address.
        h.heard_at("s2", 99, at(900));
        assert_eq!(h.due(&t, since, at(1100)), [promote("s1")]);
    }

    #[test]
    fn a_region_cut_off_all_at_once_is_not_failed_over() {
        let t = topology();
        let h = Health::new(Duration::from_millis(1000));
        let since = Instant::now();
        let at = |ms| since + Duration::from_millis(ms);
        for ms in (0..=1000).step_by(200) {
            h.heard_at("p", 100, at(ms));
            h.heard_at("s1", 100, at(ms + 50));
        }
        // The primary's last heartbeat at 1000 ms, its secondary's at 1050 ms: at 2010 ms
        // the primary is past the timeout while the secondary is not yet.
        assert!(h.due(&t, since, at(2010)).is_empty());
        // A secondary that went on beating after its primary stopped is a witness.
        h.heard_at("s1", 100, at(1800));
        assert_eq!(h.due(&t, since, at(2010)).len(), 1);
    }

    #[test]
    fn a_region_heard_again_after_a_cut_is_not_failed_over() {
        let t = topology();
        let h = Health::new(Duration::from_millis(1000));
        let since = Instant::now();
        let at = |ms| since + Duration::from_millis(ms);
        for node in ["p", "s1", "s2"] {
            h.heard_at(node, 100, at(0));
        }
        // The whole region cut off for 5 s; its secondary's heartbeats arrive first.
        h.heard_at("s1", 150, at(5000));
        h.heard_at("s1", 150, at(5200));
        assert!(
            h.due(&t, since, at(5300)).is_empty(),
            "the secondary has not been heard for a timeout yet"
        );
        h.heard_at("p", 160, at(5350));
        for ms in (5400..=7000).step_by(200) {
            h.heard_at("p", 160, at(ms));
            h.heard_at("s1", 160, at(ms));
        }
        assert!(
            h.due(&t, since, at(7100)).is_empty(),
            "the primary is heard"
        );
        // Had the primary stayed silent, the secondary heard for a timeout replaces it.
        let t2 = topology();
        let h2 = Health::new(Duration::from_millis(1000));
        h2.heard_at("p", 100, at(0));
        for ms in (5000..=6000).step_by(200) {
            h2.heard_at("s1", 150, at(ms));
        }
        assert_eq!(h2.due(&t2, since, at(6050)).len(), 1);
    }

    #[test]
    fn after_a_stall_a_coordinator_distrusts_itself_for_a_while() {
        let h = Health::new(Duration::from_millis(1000));
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let distrust = Duration::from_millis(1000);
        for ms in (50..=1000).step_by(50) {
            h.watched_at(at(ms), distrust);
            assert!(h.trusts_itself_at(at(ms + 10)), "running at {ms} ms");
        }
        // Stopped from 1000 ms to 4000 ms: a call served at once, before the watch has run,
        // finds the gap itself.
        assert!(!h.trusts_itself_at(at(4000)));
        h.watched_at(at(4005), distrust);
        assert!(
            !h.trusts_itself_at(at(4010)),
            "noticed: distrust for a while"
        );
        for ms in (4050..=5000).step_by(50) {
            h.watched_at(at(ms), distrust);
        }
        assert!(!h.trusts_itself_at(at(5000)));
        h.watched_at(at(5050), distrust);
        assert!(
            h.trusts_itself_at(at(5060)),
            "a distrust's time after the stall"
        );
    }

    #[test]
    fn a_new_leader_gives_primaries_twice_the_timeout_to_find_it() {
        let t = topology();
        let h = Health::new(Duration::from_millis(1000));
        let before = Instant::now();
        // Heard by this coordinator before it led: not counted as alive, nor as silent.
        h.heard_at("p", 1, before);
        h.heard_at("s1", 1, before);
        let since = before + Duration::from_millis(5000);
        let at = |ms| since + Duration::from_millis(ms);
        h.heard_at("s1", 1, at(1000));
        h.heard_at("s1", 1, at(1800));
        assert!(h.due(&t, since, at(1900)).is_empty());
        assert_eq!(h.due(&t, since, at(2001)).len(), 1);
    }

    #[test]
    fn a_fence_that_stands_too_long_is_lifted_by_the_leader() {
        let mut t = topology();
        t.apply(&Change::Fence {
            instance: "shop".into(),
            region: "eu".into(),
            epoch: 1,
            token: 5,
            for_ms: 3000,
        })
        .expect("fence");
        let h = Health::new(Duration::from_millis(1000));
        let since = Instant::now();
        let at = |ms| since + Duration::from_millis(ms);
        for node in ["p", "s1", "s2"] {
            h.heard_at(node, 1, at(2500));
        }
        // Timed from when this leader first saw it, not from when it was made.
        assert!(h.due(&t, since, at(2500)).is_empty());
        assert!(h.due(&t, since, at(5000)).is_empty());
        for node in ["p", "s1", "s2"] {
            h.heard_at(node, 1, at(5400));
        }
        assert_eq!(
            h.due(&t, since, at(5500)),
            [Change::Unfence {
                instance: "shop".into(),
                region: "eu".into(),
                epoch: 1,
                token: 5
            }]
        );
    }
}
