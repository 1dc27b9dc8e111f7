//! The coordinator's Raft storage in sled: the log (with the vote and the purge point) and
//! the state machine (the [`Topology`] and what it has applied), in one database directory.
//!
//! Trees: `log` (entries by index, big-endian, as JSON), `meta` (vote, last purged log id),
//! `state` (the applied topology and its snapshot). The log and the vote are flushed before
//! openraft is told they are durable. The applied state is written at every apply but
//! flushed only with a snapshot: after a crash it may be older than the log, and openraft
//! applies the rest again; the log is purged only up to a snapshot, which is flushed first.

// openraft's traits fix the error type (a large enum); helpers return it as they do.
#![allow(clippy::result_large_err)]

use crate::topology::{Outcome, Topology};
use crate::{NodeId, TypeConfig};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    AnyError, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader,
    RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::RwLock;

type StorageResult<T> = Result<T, StorageError<NodeId>>;

fn io_err(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    e: impl std::error::Error + 'static,
) -> StorageError<NodeId> {
    StorageIOError::new(subject, verb, AnyError::new(&e)).into()
}

/// Open (or create) the storage in `dir`.
pub fn open(dir: &Path) -> Result<(LogStore, StateMachine), String> {
    let db = sled::open(dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let tree = |name: &str| {
        db.open_tree(name)
            .map_err(|e| format!("cannot open {} tree {name}: {e}", dir.display()))
    };
    let log = LogStore {
        db: db.clone(),
        log: tree("log")?,
        meta: tree("meta")?,
    };
    let state = tree("state")?;
    let data = match state.get(STATE_KEY) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: the saved state is corrupt: {e}", dir.display()))?,
        Ok(None) => Applied::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    let index = data.last_applied.map_or(0, |l: LogId<NodeId>| l.index);
    let sm = StateMachine {
        db,
        state,
        applied: Arc::new(RwLock::new(data)),
        applied_index: Arc::new(tokio::sync::watch::Sender::new(index)),
    };
    Ok((log, sm))
}

// ------------------------------------------------------------------------------- the log

/// The Raft log and vote. Cheap to clone (sled handles).
#[derive(Clone, Debug)]
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
}

const VOTE_KEY: &[u8] = b"vote";
const PURGED_KEY: &[u8] = b"last_purged";

impl LogStore {
    fn read_meta<T: for<'de> Deserialize<'de>>(&self, key: &[u8]) -> StorageResult<Option<T>> {
        let subject = || ErrorSubject::Store;
        match self
            .meta
            .get(key)
            .map_err(|e| io_err(subject(), ErrorVerb::Read, e))?
        {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io_err(subject(), ErrorVerb::Read, e)),
            None => Ok(None),
        }
    }

    fn write_meta<T: Serialize>(&self, key: &[u8], value: &T) -> StorageResult<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))?;
        self.meta
            .insert(key, bytes)
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))?;
        Ok(())
    }

    async fn flush(&self) -> StorageResult<()> {
        self.db
            .flush_async()
            .await
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, e))?;
        Ok(())
    }

    fn entry(bytes: &[u8]) -> StorageResult<Entry<TypeConfig>> {
        serde_json::from_slice(bytes).map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut entries = Vec::new();
        for kv in self.log.range(index_key(start)..) {
            let (key, bytes) = kv.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            let index = u64::from_be_bytes(key.as_ref().try_into().unwrap_or_default());
            if !range.contains(&index) {
                break;
            }
            entries.push(Self::entry(&bytes)?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId<NodeId>> = self.read_meta(PURGED_KEY)?;
        let last = self
            .log
            .last()
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        let last_log_id = match last {
            Some((_, bytes)) => Some(Self::entry(&bytes)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        self.write_meta(VOTE_KEY, vote)?;
        self.flush().await
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.read_meta(VOTE_KEY)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let bytes = serde_json::to_vec(&entry)
                .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, e))?;
            batch.insert(&index_key(entry.log_id.index), bytes);
        }
        self.log
            .apply_batch(batch)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, e))?;
        let flushed = self.db.flush_async().await.map(|_| ());
        callback.log_io_completed(flushed.map_err(std::io::Error::other));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.remove_range(index_key(log_id.index)..)?;
        self.flush().await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        // The purge point first: a crash between the two leaves entries that are ignored.
        self.write_meta(PURGED_KEY, &log_id)?;
        self.remove_range(..=index_key(log_id.index))?;
        self.flush().await
    }
}

impl LogStore {
    /// Remove the entries whose indexes are in `range` (keys sort as indexes do).
    fn remove_range(&self, range: impl RangeBounds<[u8; 8]>) -> StorageResult<()> {
        let mut batch = sled::Batch::default();
        for kv in self.log.range(range) {
            let (key, _) = kv.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            batch.remove(key);
        }
        self.log
            .apply_batch(batch)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

// --------------------------------------------------------------------- the state machine

/// The applied topology and what it reflects (also the snapshot's content).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Applied {
    pub last_applied: Option<LogId<NodeId>>,
    pub membership: StoredMembership<NodeId, openraft::BasicNode>,
    pub topology: Topology,
    /// What recent requests gave, for their retries.
    #[serde(default)]
    pub requests: crate::topology::RecentRequests,
}

/// A snapshot as saved: its metadata and the encoded [`Applied`].
#[derive(Serialize, Deserialize)]
struct SavedSnapshot {
    meta: SnapshotMeta<NodeId, openraft::BasicNode>,
    data: Vec<u8>,
}

const STATE_KEY: &[u8] = b"applied";
const SNAPSHOT_KEY: &[u8] = b"snapshot";

/// The state machine. Clones share the applied state: the coordinator keeps one to read
/// the topology while Raft owns another.
#[derive(Clone, Debug)]
pub struct StateMachine {
    db: sled::Db,
    state: sled::Tree,
    applied: Arc<RwLock<Applied>>,
    /// The last log index applied, for whoever waits on changes (assignment streams).
    applied_index: Arc<tokio::sync::watch::Sender<u64>>,
}

impl StateMachine {
    /// The applied state, for reading.
    pub async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, Applied> {
        self.applied.read().await
    }

    /// Changes whenever entries are applied or a snapshot installed (to the last index).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied_index.subscribe()
    }

    fn applied_up_to(&self, applied: &Applied) {
        self.applied_index
            .send_replace(applied.last_applied.map_or(0, |l| l.index));
    }

    fn save_applied(&self, applied: &Applied) -> StorageResult<()> {
        let subject = || ErrorSubject::StateMachine;
        let bytes =
            serde_json::to_vec(applied).map_err(|e| io_err(subject(), ErrorVerb::Write, e))?;
        self.state
            .insert(STATE_KEY, bytes)
            .map_err(|e| io_err(subject(), ErrorVerb::Write, e))?;
        Ok(())
    }

    async fn save_snapshot(&self, saved: &SavedSnapshot) -> StorageResult<()> {
        let subject = || ErrorSubject::Snapshot(Some(saved.meta.signature()));
        let bytes =
            serde_json::to_vec(saved).map_err(|e| io_err(subject(), ErrorVerb::Write, e))?;
        self.state
            .insert(SNAPSHOT_KEY, bytes)
            .map_err(|e| io_err(subject(), ErrorVerb::Write, e))?;
        self.db
            .flush_async()
            .await
            .map_err(|e| io_err(subject(), ErrorVerb::Write, e))?;
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let applied = self.applied.read().await.clone();
        let data = serde_json::to_vec(&applied)
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Read, e))?;
        let snapshot_id = match applied.last_applied {
            Some(id) => format!("{}-{}", id.leader_id, id.index),
            None => "empty".to_string(),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.membership.clone(),
            snapshot_id,
        };
        let saved = SavedSnapshot { meta, data };
        // Flushes the applied state too: the log may be purged up to here after this.
        self.save_snapshot(&saved).await?;
        Ok(Snapshot {
            meta: saved.meta,
            snapshot: Box::new(Cursor::new(saved.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(
        Option<LogId<NodeId>>,
        StoredMembership<NodeId, openraft::BasicNode>,
    )> {
        let a = self.applied.read().await;
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Outcome>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut a = self.applied.write().await;
        let mut outcomes = Vec::new();
        for entry in entries {
            a.last_applied = Some(entry.log_id);
            outcomes.push(match entry.payload {
                EntryPayload::Blank => Ok(()),
                EntryPayload::Normal(proposal) => {
                    let Applied {
                        topology, requests, ..
                    } = &mut *a;
                    requests.apply(topology, &proposal)
                }
                EntryPayload::Membership(m) => {
                    a.membership = StoredMembership::new(Some(entry.log_id), m);
                    Ok(())
                }
            });
        }
        self.save_applied(&a)?;
        self.applied_up_to(&a);
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let data = snapshot.into_inner();
        let subject = || ErrorSubject::Snapshot(Some(meta.signature()));
        let mut installed: Applied =
            serde_json::from_slice(&data).map_err(|e| io_err(subject(), ErrorVerb::Read, e))?;
        installed.last_applied = meta.last_log_id;
        installed.membership = meta.last_membership.clone();
        let mut a = self.applied.write().await;
        self.save_applied(&installed)?;
        *a = installed;
        self.applied_up_to(&a);
        self.save_snapshot(&SavedSnapshot {
            meta: meta.clone(),
            data,
        })
        .await
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let subject = || ErrorSubject::Snapshot(None);
        let Some(bytes) = self
            .state
            .get(SNAPSHOT_KEY)
            .map_err(|e| io_err(subject(), ErrorVerb::Read, e))?
        else {
            return Ok(None);
        };
        let saved: SavedSnapshot =
            serde_json::from_slice(&bytes).map_err(|e| io_err(subject(), ErrorVerb::Read, e))?;
        Ok(Some(Snapshot {
            meta: saved.meta,
            snapshot: Box::new(Cursor::new(saved.data)),
        }))
    }
}
