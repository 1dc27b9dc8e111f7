//! Opening a data directory: the node's identity (its server-id, made afresh after an
//! unclean shutdown), the latest snapshot, then the binlog replayed on top of it.

use super::{DATABASES, Scripting, State, Store, StoreError, changes, now_ms};
use crate::engine::binlog::{Binlog, BinlogError, Fsync};
use crate::engine::meta::{Meta, MetaError};
use gdc_crdt::{Hlc, HlcClock, Keyspace, ServerId, VersionVector};
use std::path::Path;
use tracing::{info, warn};

/// The server-id, made at first start and kept in the data directory's metadata store.
fn server_id(meta: &Meta) -> Result<ServerId, MetaError> {
    match meta.server_id()? {
        Some(id) => Ok(id),
        None => new_server_id(meta, ServerId(0)),
    }
}

/// Make and keep a server-id other than `old`.
fn new_server_id(meta: &Meta, old: ServerId) -> Result<ServerId, MetaError> {
    let mut id = fresh_server_id();
    while id == old.0 {
        id = fresh_server_id();
    }
    meta.set_server_id(ServerId(id))?;
    info!(server_id = id, "made a new server-id");
    Ok(ServerId(id))
}

/// A random non-zero 32-bit id (std's hasher keys are seeded from the OS's randomness).
fn fresh_server_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms());
    h.write_u32(std::process::id());
    (h.finish() as u32).max(1)
}

impl Store {
    /// Open the data directory: identity, then the binlog, replayed into memory.
    ///
    /// `alone`: the node has never exchanged ops with another region, so removal knowledge
    /// is collected as soon as applied; otherwise only what [`Store::set_stable`] says.
    pub fn open(dir: &Path, policy: Fsync, alone: bool) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| BinlogError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let meta = Meta::open(dir)?;
        let mut server = server_id(&meta)?;
        let mut dbs: Vec<Keyspace> = (0..DATABASES).map(|_| Keyspace::new()).collect();
        let mut applied = VersionVector::new();
        let mut max_hlc = Hlc::ZERO;
        let mut scripting = Scripting::default();
        let unfinished = crate::engine::snapshot::remove_unfinished(dir);
        if unfinished > 0 {
            warn!(files = unfinished, "removed unfinished snapshot files");
        }
        if let Some(snap) = crate::engine::snapshot::load_latest(dir)? {
            info!(
                keys = snap.dbs.iter().map(Keyspace::len).sum::<usize>(),
                "loaded the snapshot"
            );
            applied = snap.applied;
            max_hlc = snap.hlc;
            scripting = snap.scripting;
            for (i, ks) in snap.dbs.into_iter().enumerate().take(DATABASES) {
                dbs[i] = ks;
            }
        }
        // Replay the binlog after the snapshot, one record at a time.
        let mut replayed = 0u64;
        let stable = if alone {
            None
        } else {
            Some(VersionVector::new())
        };
        let (binlog, cut) = Binlog::open(&dir.join("binlog"), policy, |rec| {
            max_hlc = max_hlc.max(rec.hlc());
            if !applied.covers(rec.dot()) {
                // Replayed, not received: its conflicts were counted before the restart.
                let mut state = State {
                    dbs: &mut dbs,
                    scripting: &mut scripting,
                    applied: &mut applied,
                    stable: stable.as_ref(),
                };
                state.apply(&rec, false, |w| w);
                replayed += 1;
            }
        })?;
        if let Some((path, bytes, why)) = &cut {
            warn!(path = %path.display(), bytes, why, "cut a torn binlog tail");
        }
        // After anything but a clean shutdown, ops at the end of the binlog may be lost
        // (a torn tail, or whole frames the disk never got) while other regions already
        // have them: channels ship what is written, before it is forced to disk. Numbering
        // new writes after what survived would give them those ops' ids, which regions
        // that have the originals would skip. So this node writes under a new server-id;
        // the old id's ops it lost come back from the peers that have them.
        let clean = meta.take_clean_shutdown()?;
        let cut_something = cut.as_ref().is_some_and(|(_, bytes, _)| *bytes > 0);
        if applied.get(server).0 > 0 && (!clean || cut_something) {
            server = new_server_id(&meta, server)?;
            warn!(
                server_id = server.0,
                "not shut down cleanly: writing under a new server-id"
            );
        }
        info!(server_id = server.0, ops = replayed, "replayed the binlog");
        Ok(Store {
            dir: dir.to_path_buf(),
            dbs,
            server,
            clock: HlcClock::resume(max_hlc, gdc_crdt::hlc::DEFAULT_MAX_AHEAD_MS),
            applied,
            stable,
            binlog,
            dirty: 0,
            writes: 0,
            batch: None,
            batch_bytes: 0,
            stats: Default::default(),
            conflict_log: Default::default(),
            observer: None,
            client: 0,
            announced: changes::Announced::starting_at(now_ms()),
            meta,
            eviction: Default::default(),
            eviction_stats: Default::default(),
            pool: Default::default(),
            next_random_db: 0,
            scripting,
            gc_cursor: (0, 0),
        })
    }
}
