//! Anti-entropy: every interval, a channel's receiver compares its databases' bucket
//! digests with the peer's and merges the keys of the buckets that differ, once it has
//! applied everything the peer had (differences before that are ops on their way).

use super::Replication;
use super::channel::{PeerClient, receive_state};
use crate::config::Peer;
use crate::engine::store::DATABASES;
use gdc_crdt::VersionVector;
use gdc_crdt::keyspace::{DIGEST_BUCKETS, bucket_of};
use gdc_proto::sync::{DigestsRequest, FetchKeysRequest};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, warn};

/// Every `interval`, compare digests with the peer and repair what differs.
pub(super) async fn anti_entropy(
    node: Arc<Replication>,
    peer: Peer,
    mut client: PeerClient,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        match anti_entropy_round(&node, &peer, &mut client).await {
            Ok(true) => node
                .channels()
                .update(&peer, |c| c.anti_entropy_rounds += 1),
            Ok(false) => {
                debug!(peer = %peer.region, "anti-entropy round cut short: behind the peer")
            }
            Err(e) => warn!(peer = %peer.region, error = %e, "anti-entropy round failed"),
        }
    }
}

/// How long anti-entropy waits for this node to apply what the peer had applied when it
/// answered: differences until then are ops on their way, not damage.
const CATCH_UP_WAIT: Duration = Duration::from_secs(5);

/// Wait until this node has applied everything `theirs` covers; `false` at the deadline.
async fn caught_up_with(node: &Replication, theirs: &VersionVector) -> bool {
    let deadline = tokio::time::Instant::now() + CATCH_UP_WAIT;
    loop {
        let written = node.engine().tail_moved();
        if node
            .engine()
            .lock_store_when_free()
            .await
            .applied()
            .dominates(theirs)
        {
            return true;
        }
        tokio::select! {
            _ = written => {}
            // Ops may also arrive without a notification reaching this waiter.
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = tokio::time::sleep_until(deadline) => return false,
        }
    }
}

/// One anti-entropy round: the peer's digests; once this node has applied all the peer
/// had, its own; for each database, the keys of the buckets that differ, merged. Digests
/// count what keys hold, not removal knowledge, so nodes that applied the same ops have
/// equal digests whatever each has collected. Buckets also differ while this node has ops
/// the peer has not applied yet (its own writes on their way): merging the peer's keys then
/// changes nothing. Keys whose content the merge changed were wrong here (this node had
/// every op the peer's keys reflect, so only damage explains a difference): counted in the
/// channel's status, and logged at warn. Returns whether the round went through every
/// database (not when this node stayed behind the peer, or the peer's keys were older than
/// what this node has collected).
async fn anti_entropy_round(
    node: &Arc<Replication>,
    peer: &Peer,
    client: &mut PeerClient,
) -> Result<bool, String> {
    let reply = client
        .digests(DigestsRequest {})
        .await
        .map_err(|s| format!("digests refused: {}", s.message()))?
        .into_inner();
    let theirs = gdc_proto::vv::from_field(reply.applied.as_ref());
    if !caught_up_with(node, &theirs).await {
        return Ok(false);
    }
    let reading = Arc::clone(node);
    let ours: Vec<Vec<u64>> = tokio::task::spawn_blocking(move || {
        let mut store = reading.engine().lock_store();
        (0..DATABASES).map(|db| store.bucket_digests(db)).collect()
    })
    .await
    .map_err(|e| e.to_string())?;
    for (db, their_db) in reply.databases.iter().enumerate().take(DATABASES) {
        let differ: Vec<u32> = (0..DIGEST_BUCKETS)
            .filter(|&b| their_db.buckets.get(b) != ours[db].get(b))
            .map(|b| b as u32)
            .collect();
        if differ.is_empty() {
            continue;
        }
        let mut wanted = vec![false; DIGEST_BUCKETS];
        for &b in &differ {
            wanted[b as usize] = true;
        }
        let request = FetchKeysRequest {
            db: db as u32,
            buckets: differ,
            deflate: node.config().sync_compression,
        };
        let snap = receive_state(client.fetch_keys(request).await).await?;
        if !caught_up_with(node, &snap.applied).await {
            return Ok(false);
        }
        // The peer may have made a removal after copying its keys, and this node heard by
        // now that every region has it and forgot it: such a copy is left for the next
        // round.
        let Some(changed) = node
            .engine()
            .lock_store_when_free()
            .await
            .merge_repair(&snap, |d, key| d == db && wanted[bucket_of(key)])
        else {
            return Ok(false);
        };
        if !changed.is_empty() {
            let sample: Vec<String> = changed
                .iter()
                .take(10)
                .map(|(_, k)| String::from_utf8_lossy(k).into_owned())
                .collect();
            warn!(
                peer = %peer.region,
                db,
                keys = changed.len(),
                sample = ?sample,
                "anti-entropy repaired keys that differed from the peer"
            );
            node.channels()
                .update(peer, |c| c.repaired_keys += changed.len() as u64);
            node.engine().wrote();
        }
    }
    Ok(true)
}
