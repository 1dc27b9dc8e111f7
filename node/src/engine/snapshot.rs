//! Snapshots of the keyspace: every database's key states with the applied vector and HLC
//! they reflect. A restart loads the newest snapshot and replays only the binlog after it;
//! the binlog segments it covers go once the regions reading from this node have them. A
//! full sync streams the same encoding.
//!
//! File `snapshot-<binlog segment begun after it, 20 digits>.gdc`: the 8-byte magic
//! `GDCSNAP1`, the body, and a CRC-32 of the body (u32 LE). Body: format version; the applied vector; the HLC (u64 LE);
//! the number of databases (u32 LE); per database its FLUSHDB cutoff and flush ops (version
//! vectors), its key count (u64 LE) and per key `key length (u32 LE) | key | state length
//! (u32 LE) | encoded state`; then (from version 2) the shared scripting state: the library
//! count (u32 LE) and per library its name, stamp (HLC u64 LE, server-id u32 LE) and code
//! (a byte 1 before it, 0 for a deleted library), the loaded-script count (u32 LE) and per
//! script its load's dot (server-id u32 LE, op u64 LE) and body, and the scripts' flush
//! vector; names, code and bodies as `length (u32 LE) | bytes`. Version 1 (no scripting
//! state) is still read. Written to a temporary file, synced, then renamed into place.

use crate::engine::store::{LibraryEntry, Scripting, Stamp};
use bytes::Bytes;
use gdc_crdt::codec::{decode_key, decode_vv, encode_key, encode_vv};
use gdc_crdt::{Blob, Dot, Hlc, KeyState, Keyspace, OpId, ServerId, VersionVector};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"GDCSNAP1";
const VERSION: u8 = 2;
/// The version before the scripting state.
const VERSION_KEYS_ONLY: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot i/o on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("snapshot {path} is damaged: {why}")]
    Damaged { path: PathBuf, why: String },
}

/// What a snapshot holds.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub applied: VersionVector,
    pub hlc: Hlc,
    pub dbs: Vec<Keyspace>,
    pub scripting: Scripting,
}

impl Snapshot {
    pub fn as_ref(&self) -> SnapshotRef<'_> {
        SnapshotRef {
            applied: &self.applied,
            hlc: self.hlc,
            dbs: &self.dbs,
            scripting: &self.scripting,
        }
    }
}

/// What a snapshot holds, borrowed: from a copy, or from the store itself.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRef<'a> {
    pub applied: &'a VersionVector,
    pub hlc: Hlc,
    pub dbs: &'a [Keyspace],
    pub scripting: &'a Scripting,
}

impl SnapshotRef<'_> {
    /// A copy of what it holds.
    pub fn to_owned(self) -> Snapshot {
        Snapshot {
            applied: self.applied.clone(),
            hlc: self.hlc,
            dbs: self.dbs.to_vec(),
            scripting: self.scripting.clone(),
        }
    }
}

/// Writes to a snapshot file go out in pieces this large.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The files in `dir` named `snapshot-*<suffix>`, in name order (by segment for `.gdc`).
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("snapshot-") && n.ends_with(suffix))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn snapshots(dir: &Path) -> Vec<PathBuf> {
    files(dir, ".gdc")
}

/// A snapshot as bytes: what a file holds and what a full sync streams.
pub fn encode(snap: SnapshotRef<'_>) -> Vec<u8> {
    encode_to(snap, Vec::new()).expect("a Vec takes every write")
}

/// Write `snap`'s encoding to `out` as it goes, buffered: what a forked child streams.
pub fn encode_into<W: Write>(snap: SnapshotRef<'_>, out: W) -> io::Result<W> {
    encode_to(snap, BufWriter::with_capacity(WRITE_BUFFER_BYTES, out))?
        .into_inner()
        .map_err(io::IntoInnerError::into_error)
}

/// Write `snap`'s encoding to `out` as it goes (a forked child writes the data it shares
/// with its parent without a second copy in memory).
fn encode_to<W: Write>(snap: SnapshotRef<'_>, mut out: W) -> io::Result<W> {
    out.write_all(MAGIC)?;
    let mut body = Checksummed {
        out,
        crc: crc32fast::Hasher::new(),
    };
    let mut buf = vec![VERSION];
    encode_vv(snap.applied, &mut buf);
    buf.extend_from_slice(&snap.hlc.0.to_le_bytes());
    buf.extend_from_slice(&(snap.dbs.len() as u32).to_le_bytes());
    body.put(&buf)?;
    let mut state = Vec::new();
    for ks in snap.dbs {
        buf.clear();
        let (flushed, by) = ks.flushed();
        encode_vv(flushed, &mut buf);
        encode_vv(by, &mut buf);
        buf.extend_from_slice(&(ks.len() as u64).to_le_bytes());
        body.put(&buf)?;
        for (key, k) in ks.iter() {
            buf.clear();
            buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
            buf.extend_from_slice(key);
            state.clear();
            encode_key(k, &mut state);
            buf.extend_from_slice(&(state.len() as u32).to_le_bytes());
            body.put(&buf)?;
            body.put(&state)?;
        }
    }
    buf.clear();
    encode_scripting(snap.scripting, &mut buf);
    body.put(&buf)?;
    let Checksummed { mut out, crc } = body;
    out.write_all(&crc.finalize().to_le_bytes())?;
    Ok(out)
}

/// A writer that sums what it passes on.
struct Checksummed<W> {
    out: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Checksummed<W> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc.update(b);
        self.out.write_all(b)
    }
}

fn with_length(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn encode_scripting(scripting: &Scripting, out: &mut Vec<u8>) {
    out.extend_from_slice(&(scripting.libraries().len() as u32).to_le_bytes());
    for (name, entry) in scripting.libraries() {
        with_length(out, name.as_bytes());
        out.extend_from_slice(&entry.stamp.hlc.0.to_le_bytes());
        out.extend_from_slice(&entry.stamp.server.0.to_le_bytes());
        match &entry.code {
            Some(code) => {
                out.push(1);
                with_length(out, code);
            }
            None => out.push(0),
        }
    }
    out.extend_from_slice(&(scripting.scripts().len() as u32).to_le_bytes());
    for (dot, body) in scripting.scripts().values() {
        out.extend_from_slice(&dot.server.0.to_le_bytes());
        out.extend_from_slice(&dot.op.0.to_le_bytes());
        with_length(out, body);
    }
    encode_vv(scripting.scripts_flushed(), out);
}

/// Write a snapshot named after binlog segment `seq` into `dir`; older snapshots are
/// removed after. Only older: a child forked before a restart may finish after the new
/// process wrote a newer one.
pub fn write(dir: &Path, seq: u64, snap: SnapshotRef<'_>) -> Result<PathBuf, SnapshotError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(format!("snapshot-{seq:020}.gdc"));
    let tmp = dir.join(format!("snapshot-{seq:020}.tmp"));
    let f = File::create(&tmp).map_err(io_err(&tmp))?;
    encode_into(snap, f)
        .and_then(|f| f.sync_all())
        .map_err(io_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    for old in snapshots(dir) {
        if old < path {
            let _ = fs::remove_file(old);
        }
    }
    Ok(path)
}

/// A cursor over a snapshot body; every read is bounds-checked.
struct Reader<'a> {
    b: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.b.len() {
            return Err("ends early".into());
        }
        let (x, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(x)
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn vv(&mut self) -> Result<VersionVector, String> {
        let (v, rest) = decode_vv(self.b).map_err(|e| e.to_string())?;
        self.b = rest;
        Ok(v)
    }
    fn with_length(&mut self) -> Result<&[u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn scripting(&mut self) -> Result<Scripting, String> {
        let mut libraries = BTreeMap::new();
        for _ in 0..self.u32()? {
            let name = String::from_utf8(self.with_length()?.to_vec())
                .map_err(|_| "a library name that is not UTF-8")?;
            let hlc = Hlc(self.u64()?);
            let server = ServerId(self.u32()?);
            let code = match self.take(1)?[0] {
                0 => None,
                1 => Some(Bytes::copy_from_slice(self.with_length()?)),
                _ => return Err("a bad library entry".into()),
            };
            let stamp = Stamp { hlc, server };
            libraries.insert(name, LibraryEntry { stamp, code });
        }
        let mut scripts = BTreeMap::new();
        for _ in 0..self.u32()? {
            let server = ServerId(self.u32()?);
            let op = OpId(self.u64()?);
            let body = Bytes::copy_from_slice(self.with_length()?);
            let sha = crate::script::sha1_hex(&body);
            scripts.insert(sha, (Dot::new(server, op, 0), body));
        }
        let flushed = self.vv()?;
        Ok(Scripting::from_parts(libraries, scripts, flushed))
    }
}

/// A snapshot from bytes [`encode`] made; every length and the checksum are checked.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a gdc snapshot")?
        .get(..bytes.len().saturating_sub(12))
        .ok_or("too short")?;
    let crc = &bytes[bytes.len() - 4..];
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader { b: body };
    let version = r.take(1)?[0];
    if version != VERSION && version != VERSION_KEYS_ONLY {
        return Err(format!("format version {version} is not supported"));
    }
    let applied = r.vv()?;
    let hlc = Hlc(r.u64()?);
    let n_dbs = r.u32()? as usize;
    let mut dbs = Vec::with_capacity(n_dbs.min(1024));
    for _ in 0..n_dbs {
        let flushed = r.vv()?;
        let by = r.vv()?;
        let n = r.u64()?;
        let mut keys: Vec<(Blob, KeyState)> = Vec::new();
        for _ in 0..n {
            let klen = r.u32()? as usize;
            let key = Blob::from(r.take(klen)?);
            let slen = r.u32()? as usize;
            let state = decode_key(r.take(slen)?).map_err(|e| e.to_string())?;
            keys.push((key, state));
        }
        dbs.push(Keyspace::from_parts(keys, flushed, by));
    }
    let scripting = match version {
        VERSION_KEYS_ONLY => Scripting::default(),
        _ => r.scripting()?,
    };
    if !r.b.is_empty() {
        return Err("bytes left over".into());
    }
    Ok(Snapshot {
        applied,
        hlc,
        dbs,
        scripting,
    })
}

/// Remove what unfinished snapshot writes left in `dir` (a child killed with its server,
/// or one still writing for a server now gone: it then fails to publish). Returns how many.
pub fn remove_unfinished(dir: &Path) -> usize {
    files(dir, ".tmp")
        .into_iter()
        .filter(|p| fs::remove_file(p).is_ok())
        .count()
}

/// The newest snapshot in `dir`, if any. A damaged newest snapshot is an error: starting
/// from an older state would silently lose what the binlog no longer holds.
pub fn load_latest(dir: &Path) -> Result<Option<Snapshot>, SnapshotError> {
    let Some(path) = snapshots(dir).pop() else {
        return Ok(None);
    };
    let bytes = fs::read(&path).map_err(io_err(&path))?;
    decode(&bytes)
        .map(Some)
        .map_err(|why| SnapshotError::Damaged { path, why })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::ScriptingChange;

    #[test]
    fn the_scripting_state_survives_a_snapshot_and_version_1_still_reads() {
        let mut scripting = Scripting::default();
        let dot = |op| Dot::new(ServerId(3), OpId(op), 0);
        let library = |name: &str, code: Option<&'static [u8]>| ScriptingChange::Library {
            name: name.into(),
            code: code.map(Bytes::from_static),
        };
        scripting.apply(dot(1), Hlc(5), &library("kept", Some(b"#!lua name=kept\n")));
        scripting.apply(dot(2), Hlc(6), &library("gone", None));
        let body = Bytes::from_static(b"return 1");
        scripting.apply(dot(3), Hlc(7), &ScriptingChange::Script { body });
        let mut cutoff = VersionVector::new();
        cutoff.raise(ServerId(9), OpId(4));
        scripting.apply(dot(4), Hlc(8), &ScriptingChange::FlushScripts { cutoff });
        let snap = Snapshot {
            applied: VersionVector::new(),
            hlc: Hlc(8),
            dbs: vec![Keyspace::new(), Keyspace::new()],
            scripting,
        };
        let back = decode(&encode(snap.as_ref())).expect("decode");
        assert_eq!(back.scripting.libraries(), snap.scripting.libraries());
        assert_eq!(back.scripting.scripts(), snap.scripting.scripts());
        assert_eq!(
            back.scripting.scripts_flushed(),
            snap.scripting.scripts_flushed()
        );
        // A version 1 snapshot: the same keys, no scripting state after them.
        let mut old = encode(
            Snapshot {
                scripting: Scripting::default(),
                ..snap.clone()
            }
            .as_ref(),
        );
        let state_bytes = 4 + 4 + 1; // no libraries, no scripts, an empty vector
        old.truncate(old.len() - 4 - state_bytes);
        old[MAGIC.len()] = VERSION_KEYS_ONLY;
        let crc = crc32fast::hash(&old[MAGIC.len()..]);
        old.extend_from_slice(&crc.to_le_bytes());
        let back = decode(&old).expect("decode version 1");
        assert_eq!(back.dbs.len(), 2);
        assert!(back.scripting.libraries().is_empty());
    }
}
