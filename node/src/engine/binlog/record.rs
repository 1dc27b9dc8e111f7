//! A binlog record (one op, a FLUSHDB/FLUSHALL, or a change to the shared scripting state),
//! and frames: one record or a batch (a
//! transaction's records, replayed all or none). Payload: format version, kind, then the
//! record; a batch frame holds its records' payloads. Channels carry the same frames.

use super::RECORD_VERSION;
use crate::engine::store::ScriptingChange;
use bytes::Bytes;
use gdc_crdt::codec::{
    decode_effect, decode_vv, effect_dot, effect_len_bound, encode_effect, encode_vv,
};
use gdc_crdt::{Blob, Dot, Effect, Hlc, OpId, ServerId, VersionVector};

/// The kind byte of each record.
const KIND_KEY: u8 = 0;
const KIND_FLUSH: u8 = 1;
/// Not 2: a frame whose second byte is [`KIND_BATCH`] is read as a batch.
const KIND_EVICTED: u8 = 3;
const KIND_SCRIPTING: u8 = 4;

/// What a scripting record changes (the byte after its HLC time).
const SCRIPTING_LIBRARY: u8 = 0;
const SCRIPTING_LIBRARY_DELETED: u8 = 1;
const SCRIPTING_SCRIPT: u8 = 2;
const SCRIPTING_FLUSH_SCRIPTS: u8 = 3;

/// One binlog record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// An effect on one key of database `db`. `evicted`: the effect removes the key to make
    /// room under `maxmemory` (a DEL by its rule, told and counted as an eviction).
    Key {
        db: u32,
        /// Inline up to 22 bytes (most keys): no allocation per write.
        key: Blob,
        effect: Effect,
        evicted: bool,
    },
    /// FLUSHDB (`db` set) or FLUSHALL: removes everything `cutoff` covers.
    Flush {
        db: Option<u32>,
        by: Dot,
        hlc: Hlc,
        cutoff: VersionVector,
    },
    /// A change to the libraries or loaded scripts every region shares.
    Scripting {
        by: Dot,
        hlc: Hlc,
        change: ScriptingChange,
    },
}

impl Record {
    /// The op's dot (its origin and op id).
    pub fn dot(&self) -> Dot {
        match self {
            Record::Key { effect, .. } => effect.tag.dot,
            Record::Flush { by, .. } | Record::Scripting { by, .. } => *by,
        }
    }

    pub fn hlc(&self) -> Hlc {
        match self {
            Record::Key { effect, .. } => effect.tag.hlc,
            Record::Flush { hlc, .. } | Record::Scripting { hlc, .. } => *hlc,
        }
    }

    /// At most how many bytes its encoding takes, when that is known without encoding it
    /// (a key record whose effect [`effect_len_bound`] measures): see
    /// [`super::Binlog::reserve`].
    pub(super) fn len_bound(&self) -> Option<usize> {
        match self {
            // The version and kind bytes, the database and the key's length.
            Record::Key { key, effect, .. } => Some(10 + key.len() + effect_len_bound(effect)?),
            Record::Flush { .. } | Record::Scripting { .. } => None,
        }
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.push(RECORD_VERSION);
        match self {
            Record::Key {
                db,
                key,
                effect,
                evicted,
            } => {
                // An eviction is a key record of its own kind: the layout is the same.
                out.push(if *evicted { KIND_EVICTED } else { KIND_KEY });
                out.extend_from_slice(&db.to_le_bytes());
                out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                out.extend_from_slice(key);
                encode_effect(effect, out);
            }
            Record::Flush {
                db,
                by,
                hlc,
                cutoff,
            } => {
                out.push(KIND_FLUSH);
                out.extend_from_slice(&db.map_or(u32::MAX, |d| d).to_le_bytes());
                out.extend_from_slice(&by.server.0.to_le_bytes());
                out.extend_from_slice(&by.op.0.to_le_bytes());
                out.extend_from_slice(&hlc.0.to_le_bytes());
                encode_vv(cutoff, out);
            }
            Record::Scripting { by, hlc, change } => {
                out.push(KIND_SCRIPTING);
                out.extend_from_slice(&by.server.0.to_le_bytes());
                out.extend_from_slice(&by.op.0.to_le_bytes());
                out.extend_from_slice(&hlc.0.to_le_bytes());
                let with_length = |out: &mut Vec<u8>, b: &[u8]| {
                    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    out.extend_from_slice(b);
                };
                match change {
                    ScriptingChange::Library { name, code } => {
                        out.push(match code {
                            Some(_) => SCRIPTING_LIBRARY,
                            None => SCRIPTING_LIBRARY_DELETED,
                        });
                        with_length(out, name.as_bytes());
                        if let Some(code) = code {
                            with_length(out, code);
                        }
                    }
                    ScriptingChange::Script { body } => {
                        out.push(SCRIPTING_SCRIPT);
                        with_length(out, body);
                    }
                    ScriptingChange::FlushScripts { cutoff } => {
                        out.push(SCRIPTING_FLUSH_SCRIPTS);
                        encode_vv(cutoff, out);
                    }
                }
            }
        }
    }

    /// The kind byte of an encoded record, once its format version is checked.
    fn kind(b: &[u8]) -> Result<u8, String> {
        match b.first() {
            Some(&RECORD_VERSION) => {}
            Some(v) => return Err(format!("record format version {v} is not supported")),
            None => return Err("empty record".into()),
        }
        b.get(1).copied().ok_or_else(|| "record ends early".into())
    }

    fn decode(b: &[u8]) -> Result<Record, String> {
        match Record::kind(b)? {
            kind @ (KIND_KEY | KIND_EVICTED) => {
                let db = u32_at(b, 2)?;
                let len = u32_at(b, 6)? as usize;
                let key = Blob::from(bytes_at(b, 10, len)?);
                let effect = decode_effect(&b[10 + len..]).map_err(|e| e.to_string())?;
                Ok(Record::Key {
                    db,
                    key,
                    effect,
                    evicted: kind == KIND_EVICTED,
                })
            }
            KIND_FLUSH => {
                let db = u32_at(b, 2)?;
                let server = ServerId(u32_at(b, 6)?);
                let op = OpId(u64_at(b, 10)?);
                let hlc = Hlc(u64_at(b, 18)?);
                let rest = b.get(26..).ok_or("record ends early")?;
                let (cutoff, rest) = decode_vv(rest).map_err(|e| e.to_string())?;
                if !rest.is_empty() {
                    return Err("bytes left over in a flush record".into());
                }
                Ok(Record::Flush {
                    db: (db != u32::MAX).then_some(db),
                    by: Dot::new(server, op, 0),
                    hlc,
                    cutoff,
                })
            }
            KIND_SCRIPTING => {
                let by = Dot::new(ServerId(u32_at(b, 2)?), OpId(u64_at(b, 6)?), 0);
                let hlc = Hlc(u64_at(b, 14)?);
                let what = *b.get(22).ok_or("record ends early")?;
                let mut at = 23;
                let change = match what {
                    SCRIPTING_LIBRARY | SCRIPTING_LIBRARY_DELETED => {
                        let name = String::from_utf8(with_length(b, &mut at)?.to_vec())
                            .map_err(|_| "a library name that is not UTF-8")?;
                        let code = match what {
                            SCRIPTING_LIBRARY => {
                                Some(Bytes::copy_from_slice(with_length(b, &mut at)?))
                            }
                            _ => None,
                        };
                        ScriptingChange::Library { name, code }
                    }
                    SCRIPTING_SCRIPT => ScriptingChange::Script {
                        body: Bytes::copy_from_slice(with_length(b, &mut at)?),
                    },
                    SCRIPTING_FLUSH_SCRIPTS => {
                        let (cutoff, rest) = decode_vv(&b[at..]).map_err(|e| e.to_string())?;
                        at = b.len() - rest.len();
                        ScriptingChange::FlushScripts { cutoff }
                    }
                    _ => return Err("unknown scripting change".into()),
                };
                if at != b.len() {
                    return Err("bytes left over in a scripting record".into());
                }
                Ok(Record::Scripting { by, hlc, change })
            }
            _ => Err("unknown record kind".into()),
        }
    }

    /// The dot of an encoded record, read without decoding its effect.
    fn decode_dot(b: &[u8]) -> Result<Dot, String> {
        match Record::kind(b)? {
            KIND_KEY | KIND_EVICTED => {
                let len = u32_at(b, 6)? as usize;
                let effect = b.get(10 + len..).ok_or("record ends early")?;
                effect_dot(effect).map_err(|e| e.to_string())
            }
            KIND_FLUSH => Ok(Dot::new(ServerId(u32_at(b, 6)?), OpId(u64_at(b, 10)?), 0)),
            KIND_SCRIPTING => Ok(Dot::new(ServerId(u32_at(b, 2)?), OpId(u64_at(b, 6)?), 0)),
            _ => Err("unknown record kind".into()),
        }
    }
}

/// The `n` bytes of a record at `at`.
fn bytes_at(b: &[u8], at: usize, n: usize) -> Result<&[u8], String> {
    b.get(at..at.saturating_add(n))
        .ok_or_else(|| "record ends early".into())
}

/// The bytes at `*at` after their length (u32 LE); `*at` moves past them.
fn with_length<'a>(b: &'a [u8], at: &mut usize) -> Result<&'a [u8], String> {
    let len = u32_at(b, *at)? as usize;
    let bytes = bytes_at(b, *at + 4, len)?;
    *at += 4 + len;
    Ok(bytes)
}

/// The little-endian u32 at `at`.
fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    let v = bytes_at(b, at, 4)?;
    Ok(u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

/// The little-endian u64 at `at`.
fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    let mut a = [0u8; 8];
    a.copy_from_slice(bytes_at(b, at, 8)?);
    Ok(u64::from_le_bytes(a))
}

/// Frame payload kind: several records written, and read back, all or none (a MULTI/EXEC's,
/// or a batch of commands' deferred records: [`super::Binlog::encode_deferred`]).
const KIND_BATCH: u8 = 2;

/// A batch frame's head: the version, the kind, and how many records follow (each after
/// its length).
fn put_batch_head(out: &mut Vec<u8>, records: usize) {
    out.push(RECORD_VERSION);
    out.push(KIND_BATCH);
    out.extend_from_slice(&(records as u32).to_le_bytes());
}

/// A batch frame of `recs`, each encoded in place after its length.
fn encode_batch(recs: &[Record], out: &mut Vec<u8>) {
    put_batch_head(out, recs.len());
    for rec in recs {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        rec.encode(out);
        let n = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&n.to_le_bytes());
    }
}

/// One record's bytes, as a frame or a batch holds them.
pub fn encode_record(rec: &Record) -> Vec<u8> {
    // Most records fit: no reallocation as the record grows.
    let guess = match rec {
        Record::Key { key, .. } => 64 + key.len(),
        _ => 64,
    };
    let mut out = Vec::with_capacity(guess);
    rec.encode(&mut out);
    out
}

/// A batch frame of records already encoded by [`encode_record`].
fn batch_of(encoded: &[Vec<u8>], out: &mut Vec<u8>) {
    put_batch_head(out, encoded.len());
    for one in encoded {
        out.extend_from_slice(&(one.len() as u32).to_le_bytes());
        out.extend_from_slice(one);
    }
}

/// The frame for records already encoded by [`encode_record`]: the record itself when
/// there is one, else a batch.
pub fn frame_of_encoded(encoded: &[Vec<u8>]) -> Vec<u8> {
    match encoded {
        [one] => one.clone(),
        _ => {
            let mut out = Vec::with_capacity(batch_bytes(encoded));
            batch_of(encoded, &mut out);
            out
        }
    }
}

/// The size of the batch frame for records already encoded.
pub fn batch_bytes(encoded: &[Vec<u8>]) -> usize {
    6 + encoded.iter().map(|e| 4 + e.len()).sum::<usize>()
}

/// What `each` makes of every record of a frame (one record, or a batch of them), in order.
fn each_record<T>(
    frame: &[u8],
    each: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    if frame.get(1) != Some(&KIND_BATCH) {
        return each(frame).map(|r| vec![r]);
    }
    if frame.first() != Some(&RECORD_VERSION) {
        return Err("unsupported batch format version".into());
    }
    let u32_at = |at: usize| u32_at(frame, at).map_err(|_| "batch ends early".to_string());
    let n = u32_at(2)? as usize;
    let mut at = 6;
    let mut out = Vec::with_capacity(n.min(frame.len() / 8));
    for _ in 0..n {
        let len = u32_at(at)? as usize;
        out.push(each(
            frame.get(at + 4..at + 4 + len).ok_or("batch ends early")?,
        )?);
        at += 4 + len;
    }
    if at != frame.len() {
        return Err("bytes left over in a batch".into());
    }
    Ok(out)
}

/// The records of a frame: read from the binlog, handed out by [`BinlogReader::next_frame`],
/// or received from a peer.
pub fn decode_frame(frame: &[u8]) -> Result<Vec<Record>, String> {
    each_record(frame, Record::decode)
}

/// The dots of a frame's records, in order, read without decoding the effects.
pub fn frame_dots(frame: &[u8]) -> Result<Vec<Dot>, String> {
    each_record(frame, Record::decode_dot)
}

/// A frame's payload for `recs` (one record, or a batch): what the binlog and channels carry.
pub fn encode_frame(recs: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame_into(recs, &mut out);
    out
}

/// [`encode_frame`] into a buffer of the caller's.
pub(super) fn encode_frame_into(recs: &[Record], out: &mut Vec<u8>) {
    match recs {
        [one] => one.encode(out),
        _ => encode_batch(recs, out),
    }
}
