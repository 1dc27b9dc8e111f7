//! How a region lays a stream's entries out in nodes, as Redis does in listpacks: what `~`
//! trims whole and what XINFO counts. Local to the region, not part of the state.

use super::StreamId;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most entries (live or deleted) a node of a stream's layout takes before the next
/// appended entry starts a new one: Redis's `stream-node-max-entries` (0: no limit), set by
/// the server's configuration. A process-wide setting, as it is in Redis.
pub static NODE_ENTRIES_MAX: AtomicUsize = AtomicUsize::new(100);

/// One node of a stream's layout: entries live in it, and entries ever put in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub live: usize,
    pub total: usize,
}

/// How a region groups a stream's entries into nodes, as Redis groups them into listpacks:
/// what approximate trimming (`~`) removes whole, and what XINFO counts. Each region lays
/// out the entries it puts in order of arrival, so layouts may differ between regions; the
/// entries a trim removes are decided at its origin and replicated one by one, so the
/// entries themselves converge. Not part of the state: equality and encoding ignore it.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Nodes by the id of the first entry put in them.
    pub(super) nodes: BTreeMap<StreamId, Node>,
}

impl Layout {
    pub fn nodes(&self) -> &BTreeMap<StreamId, Node> {
        &self.nodes
    }

    /// The node an entry `id` is in: the one with the greatest first id at or below it.
    fn node_of(&mut self, id: StreamId) -> Option<(&StreamId, &mut Node)> {
        self.nodes.range_mut(..=id).next_back()
    }

    /// A new entry `id`; `tail`: it is after every other entry.
    pub(super) fn put(&mut self, id: StreamId, tail: bool) {
        let max = NODE_ENTRIES_MAX.load(Ordering::Relaxed);
        match self.node_of(id) {
            Some((_, n)) if !tail || max == 0 || n.total < max => {
                n.live += 1;
                n.total += 1;
            }
            _ => {
                self.nodes.insert(id, Node { live: 1, total: 1 });
            }
        }
    }

    /// An entry `id` removed: a node whose last live entry goes goes with it.
    pub(super) fn remove(&mut self, id: StreamId) {
        let mut emptied = None;
        if let Some((first, n)) = self.node_of(id) {
            n.live = n.live.saturating_sub(1);
            if n.live == 0 {
                emptied = Some(*first);
            }
        }
        if let Some(first) = emptied {
            self.nodes.remove(&first);
        }
    }
}
