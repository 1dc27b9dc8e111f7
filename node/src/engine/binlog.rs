//! The binlog: every op this node applies, in order, in append-only segment files of
//! CRC-framed records. Sync channels will ship it; on restart it is replayed. A torn or
//! corrupt tail (a crash mid-write) is detected, cut, and logged.
//!
//! Segment file `binlog-<sequence number, 20 digits>.log` (numbers only grow; a snapshot
//! names the segment begun after it): the 8-byte magic `GDCBLG01`, then records, each
//! `payload length (u32 LE) | CRC-32 of payload (u32 LE) | payload`.
//! Payload: format version, kind, then the record (see [`Record`]).

use gdc_crdt::codec::{decode_effect, decode_vv, effect_dot, encode_effect, encode_vv};
use gdc_crdt::{Dot, Effect, Hlc, OpId, ServerId, VersionVector};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"GDCBLG01";
const RECORD_VERSION: u8 = 1;
/// A record larger than this is corruption, not data (an argument is at most 512 MB).
pub const RECORD_BYTES_MAX: u32 = 1 << 30;
/// A segment is closed and a new one begun past this size.
pub const SEGMENT_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// When appended records are forced to disk (`appendfsync`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Before any reply that acknowledges them.
    Always,
    /// Once a second.
    EverySec,
    /// When the operating system decides.
    No,
}

impl std::str::FromStr for Fsync {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(Fsync::Always),
            "everysec" => Ok(Fsync::EverySec),
            "no" => Ok(Fsync::No),
            _ => Err(format!(
                "appendfsync must be always, everysec or no, not '{s}'"
            )),
        }
    }
}

impl Fsync {
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// One binlog record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// An effect on one key of database `db`.
    Key {
        db: u32,
        key: Vec<u8>,
        effect: Effect,
    },
    /// FLUSHDB (`db` set) or FLUSHALL: removes everything `cutoff` covers.
    Flush {
        db: Option<u32>,
        by: Dot,
        hlc: Hlc,
        cutoff: VersionVector,
    },
}

impl Record {
    /// The op's dot (its origin and op id).
    pub fn dot(&self) -> Dot {
        match self {
            Record::Key { effect, .. } => effect.tag.dot,
            Record::Flush { by, .. } => *by,
        }
    }

    pub fn hlc(&self) -> Hlc {
        match self {
            Record::Key { effect, .. } => effect.tag.hlc,
            Record::Flush { hlc, .. } => *hlc,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(RECORD_VERSION);
        match self {
            Record::Key { db, key, effect } => {
                out.push(0);
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
                out.push(1);
                out.extend_from_slice(&db.map_or(u32::MAX, |d| d).to_le_bytes());
                out.extend_from_slice(&by.server.0.to_le_bytes());
                out.extend_from_slice(&by.op.0.to_le_bytes());
                out.extend_from_slice(&hlc.0.to_le_bytes());
                encode_vv(cutoff, out);
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
            0 => {
                let db = u32_at(b, 2)?;
                let len = u32_at(b, 6)? as usize;
                let key = bytes_at(b, 10, len)?.to_vec();
                let effect = decode_effect(&b[10 + len..]).map_err(|e| e.to_string())?;
                Ok(Record::Key { db, key, effect })
            }
            1 => {
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
            _ => Err("unknown record kind".into()),
        }
    }

    /// The dot of an encoded record, read without decoding its effect.
    fn decode_dot(b: &[u8]) -> Result<Dot, String> {
        match Record::kind(b)? {
            0 => {
                let len = u32_at(b, 6)? as usize;
                let effect = b.get(10 + len..).ok_or("record ends early")?;
                effect_dot(effect).map_err(|e| e.to_string())
            }
            1 => Ok(Dot::new(ServerId(u32_at(b, 6)?), OpId(u64_at(b, 10)?), 0)),
            _ => Err("unknown record kind".into()),
        }
    }
}

/// The `n` bytes of a record at `at`.
fn bytes_at(b: &[u8], at: usize, n: usize) -> Result<&[u8], String> {
    b.get(at..at.saturating_add(n))
        .ok_or_else(|| "record ends early".into())
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

/// Frame payload kind: several records written, and read back, all or none (MULTI/EXEC).
const KIND_BATCH: u8 = 2;

fn encode_batch(recs: &[Record], out: &mut Vec<u8>) {
    let encoded: Vec<Vec<u8>> = recs.iter().map(encode_record).collect();
    batch_of(&encoded, out);
}

/// One record's bytes, as a frame or a batch holds them.
pub fn encode_record(rec: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    rec.encode(&mut out);
    out
}

/// A batch frame of records already encoded by [`encode_record`].
fn batch_of(encoded: &[Vec<u8>], out: &mut Vec<u8>) {
    out.push(RECORD_VERSION);
    out.push(KIND_BATCH);
    out.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
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

#[derive(Debug, thiserror::Error)]
pub enum BinlogError {
    #[error("binlog i/o on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "binlog segment {path} is corrupt at byte {offset} ({why}) and is not the last one; refusing to start without it"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        why: String,
    },
    #[error("a binlog record of {0} bytes is over the limit of {RECORD_BYTES_MAX}")]
    TooLarge(usize),
    #[error("an earlier binlog write failed; restart the node to cut the torn tail")]
    Failed,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BinlogError + '_ {
    move |source| BinlogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A torn or corrupt tail cut at open: the segment, the bytes cut, and why.
pub type Cut = (PathBuf, u64, String);

#[derive(Debug)]
pub struct Binlog {
    dir: PathBuf,
    out: BufWriter<File>,
    path: PathBuf,
    /// The current segment's sequence number.
    seq: u64,
    segment_bytes: u64,
    policy: Fsync,
    /// Written to the OS but not yet forced to disk.
    unsynced: bool,
    scratch: Vec<u8>,
    /// Bytes appended since the last [`Binlog::start_segment`] (drives automatic snapshots).
    appended_bytes: u64,
    /// A write failed part way: what follows in the file would sit after a torn frame, so
    /// nothing more is appended until the node restarts (and cuts the tail).
    failed: bool,
    /// Broken on purpose (`--test-break ack-before-write`): since when acknowledged
    /// records have been held in memory.
    held_since: Option<std::time::Instant>,
}

fn segment_name(seq: u64) -> String {
    format!("binlog-{seq:020}.log")
}

/// The sequence number in a segment's file name.
fn segment_seq(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("binlog-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// Remove the segments in `dir` numbered below `seq` (a snapshot taken when segment `seq`
/// began covers them). Returns how many were removed.
pub fn remove_before(dir: &Path, seq: u64) -> Result<usize, BinlogError> {
    let mut removed = 0;
    for (s, path) in segments(dir)? {
        if s >= seq {
            break;
        }
        fs::remove_file(&path).map_err(io_err(&path))?;
        removed += 1;
    }
    Ok(removed)
}

/// The segments in `dir`, by sequence number.
pub fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, BinlogError> {
    let mut v: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| segment_seq(&p).map(|s| (s, p)))
        .collect();
    v.sort();
    Ok(v)
}

/// Where a segment stops being readable, and why.
type BadTail = Option<(u64, String)>;

/// Read one segment's records into `each`; stops at the first bad frame and says where and
/// why.
/// A frame's 8-byte head: the payload's length and its CRC-32.
fn frame_head(head: &[u8]) -> (u32, u32) {
    let word = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    (word(0), word(4))
}

fn read_segment(path: &Path, each: &mut impl FnMut(Record)) -> Result<BadTail, BinlogError> {
    let f = File::open(path).map_err(io_err(path))?;
    let len = f.metadata().map_err(io_err(path))?.len();
    let mut r = BufReader::new(f);
    let mut magic = [0u8; 8];
    if r.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Ok(Some((0, "missing segment header".into())));
    }
    let mut offset = 8u64;
    let mut payload = Vec::new();
    loop {
        if offset == len {
            return Ok(None);
        }
        let mut head = [0u8; 8];
        if r.read_exact(&mut head).is_err() {
            return Ok(Some((offset, "torn record header".into())));
        }
        let (n, crc) = frame_head(&head);
        if n > RECORD_BYTES_MAX || offset + 8 + n as u64 > len {
            return Ok(Some((offset, "torn record".into())));
        }
        payload.resize(n as usize, 0);
        if r.read_exact(&mut payload).is_err() {
            return Ok(Some((offset, "torn record".into())));
        }
        if crc32fast::hash(&payload) != crc {
            return Ok(Some((offset, "checksum mismatch".into())));
        }
        match decode_frame(&payload) {
            Ok(recs) => recs.into_iter().for_each(&mut *each),
            Err(why) => return Ok(Some((offset, why))),
        }
        offset += 8 + n as u64;
    }
}

impl Binlog {
    /// Open the binlog in `dir` (creating it and its first segment), handing every intact
    /// record to `each` in order, one at a time. A bad tail of the last segment is cut; a
    /// bad record anywhere else is an error.
    pub fn open(
        dir: &Path,
        policy: Fsync,
        mut each: impl FnMut(Record),
    ) -> Result<(Binlog, Option<Cut>), BinlogError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let segs = segments(dir)?;
        let mut cut = None;
        for (i, (_, path)) in segs.iter().enumerate() {
            let bad = read_segment(path, &mut each)?;
            if let Some((offset, why)) = bad {
                if i + 1 != segs.len() {
                    return Err(BinlogError::Corrupt {
                        path: path.clone(),
                        offset,
                        why,
                    });
                }
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_err(path))?;
                let len = f.metadata().map_err(io_err(path))?.len();
                let keep = offset;
                f.set_len(keep).map_err(io_err(path))?;
                f.sync_all().map_err(io_err(path))?;
                cut = Some((path.clone(), len - keep, why));
            }
        }
        // Append to the last segment, or begin the first.
        let (seq, path, mut file) = match segs.last() {
            Some((seq, p)) => (
                *seq,
                p.clone(),
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(p)
                    .map_err(io_err(p))?,
            ),
            None => {
                let p = dir.join(segment_name(1));
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&p)
                    .map_err(io_err(&p))?;
                (1, p, f)
            }
        };
        let mut len = file.seek(SeekFrom::End(0)).map_err(io_err(&path))?;
        if len == 0 {
            file.write_all(MAGIC).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
            len = MAGIC.len() as u64;
        }
        let log = Binlog {
            dir: dir.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            path,
            seq,
            segment_bytes: len,
            policy,
            unsynced: false,
            scratch: Vec::new(),
            appended_bytes: 0,
            failed: false,
            held_since: None,
        };
        Ok((log, cut))
    }

    pub fn policy(&self) -> Fsync {
        self.policy
    }

    /// Bytes in the current segment.
    pub fn segment_bytes(&self) -> u64 {
        self.segment_bytes
    }

    /// Append a record (buffered; [`Binlog::commit`] makes it durable per the policy).
    pub fn append(&mut self, rec: &Record) -> Result<(), BinlogError> {
        self.append_batch(std::slice::from_ref(rec))
    }

    /// Append records as one frame: after a crash they are all replayed or none is.
    pub fn append_batch(&mut self, recs: &[Record]) -> Result<(), BinlogError> {
        if recs.is_empty() {
            return Ok(());
        }
        let mut payload = std::mem::take(&mut self.scratch);
        payload.clear();
        encode_frame_into(recs, &mut payload);
        let written = self.append_frame(&payload);
        self.scratch = payload;
        written
    }

    /// Append a frame's payload as it is (one received from a peer, already encoded).
    pub fn append_frame(&mut self, payload: &[u8]) -> Result<(), BinlogError> {
        if payload.len() > RECORD_BYTES_MAX as usize {
            // The reader would take it for corruption: refuse it before it is written.
            return Err(BinlogError::TooLarge(payload.len()));
        }
        if self.failed {
            return Err(BinlogError::Failed);
        }
        if self.segment_bytes >= SEGMENT_BYTES_MAX {
            self.rotate()?;
        }
        let n = payload.len() as u32;
        let crc = crc32fast::hash(payload);
        let w = &mut self.out;
        w.write_all(&n.to_le_bytes())
            .and_then(|_| w.write_all(&crc.to_le_bytes()))
            .and_then(|_| w.write_all(payload))
            .map_err(|e| {
                self.failed = true;
                io_err(&self.path)(e)
            })?;
        self.segment_bytes += 8 + n as u64;
        self.appended_bytes += 8 + n as u64;
        Ok(())
    }

    /// Bytes appended since the last snapshot began a segment.
    pub fn appended_bytes(&self) -> u64 {
        self.appended_bytes
    }

    /// Begin a new segment, unless the current one is empty (when a snapshot is taken, so
    /// that the segments before it can be removed once the snapshot is on disk). Returns the
    /// sequence number of the segment that now receives appends.
    pub fn start_segment(&mut self) -> Result<u64, BinlogError> {
        if self.segment_bytes > MAGIC.len() as u64 {
            self.rotate()?;
        }
        self.appended_bytes = 0;
        Ok(self.seq)
    }

    /// End of a batch: hand what was appended to the OS (so a crash of this process loses
    /// nothing), and with `always`, force it to disk before the caller replies.
    pub fn commit(&mut self) -> Result<(), BinlogError> {
        if crate::testing::ack_before_write() && !self.out.buffer().is_empty() {
            // Broken on purpose: replies go out while the records wait in memory.
            let since = *self.held_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() < crate::testing::HOLD {
                return Ok(());
            }
            self.held_since = None;
        }
        if !self.out.buffer().is_empty() {
            if let Err(e) = self.out.flush() {
                self.failed = true;
                return Err(io_err(&self.path)(e));
            }
            self.unsynced = true;
        }
        if self.policy == Fsync::Always {
            self.sync()?;
        }
        Ok(())
    }

    /// Force written records to disk (the `everysec` timer calls this).
    pub fn sync(&mut self) -> Result<(), BinlogError> {
        if self.unsynced {
            self.out.get_ref().sync_data().map_err(io_err(&self.path))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// For the `everysec` timer: a handle to force the written records to disk without
    /// holding up writers (the caller syncs it on another thread). `None` when nothing is
    /// waiting to be synced.
    pub fn sync_handle(&mut self) -> Option<File> {
        if !self.unsynced {
            return None;
        }
        let f = self.out.get_ref().try_clone().ok()?;
        self.unsynced = false;
        Some(f)
    }

    fn rotate(&mut self) -> Result<(), BinlogError> {
        self.out.flush().map_err(io_err(&self.path))?;
        self.out.get_ref().sync_data().map_err(io_err(&self.path))?;
        let seq = self.seq + 1;
        let path = self.dir.join(segment_name(seq));
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.write_all(MAGIC).map_err(io_err(&path))?;
        self.out = BufWriter::with_capacity(1 << 16, f);
        self.path = path;
        self.seq = seq;
        self.segment_bytes = MAGIC.len() as u64;
        self.unsynced = true;
        Ok(())
    }
}

/// Reads a binlog's frames in order, from its oldest segment, while it is being written: the
/// sender side of a channel. At the end of what is written it says so (`None`); called again
/// later, it goes on from there, into newer segments as they appear. It reads the files, so a
/// slow peer costs disk reads, not memory.
#[derive(Debug)]
pub struct BinlogReader {
    dir: PathBuf,
    /// The segment being read, its number, and the file offset of `buf`'s first byte.
    file: Option<(u64, File)>,
    offset: u64,
    /// Bytes read from the file; those from `start` on are not handed out yet.
    buf: Vec<u8>,
    start: usize,
    /// Frames handed out.
    frames: u64,
}

/// How much of a segment one read takes.
const READ_CHUNK: usize = 256 * 1024;

impl BinlogReader {
    pub fn new(dir: &Path) -> BinlogReader {
        BinlogReader {
            dir: dir.to_path_buf(),
            file: None,
            offset: 0,
            buf: Vec::new(),
            start: 0,
            frames: 0,
        }
    }

    /// The next frame's payload (see [`decode_frame`]), or `None` at the end of what
    /// is written so far. A frame still being written is waited for, not reported.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, BinlogError> {
        loop {
            if let Some(frame) = self.take_frame()? {
                self.frames += 1;
                return Ok(Some(frame));
            }
            if self.fill()? == 0 && !self.next_segment()? {
                return Ok(None);
            }
        }
    }

    /// Frames handed out so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(segment_name(seq))
    }

    /// A whole frame from the front of `buf`, checked.
    fn take_frame(&mut self) -> Result<Option<Vec<u8>>, BinlogError> {
        let pending = &self.buf[self.start..];
        let Some(head) = pending.get(..8) else {
            return Ok(None);
        };
        let (n, crc) = frame_head(head);
        let seq = self.file.as_ref().map_or(0, |(s, _)| *s);
        if n > RECORD_BYTES_MAX {
            return Err(BinlogError::Corrupt {
                path: self.path(seq),
                offset: self.offset,
                why: "record length over the limit".into(),
            });
        }
        let end = 8 + n as usize;
        let Some(payload) = pending.get(8..end) else {
            return Ok(None);
        };
        if crc32fast::hash(payload) != crc {
            return Err(BinlogError::Corrupt {
                path: self.path(seq),
                offset: self.offset,
                why: "checksum mismatch".into(),
            });
        }
        let frame = payload.to_vec();
        self.start += end;
        self.offset += end as u64;
        Ok(Some(frame))
    }

    /// Read more of the current segment (opening the oldest one first). Returns the bytes
    /// read: 0 at the end of the segment as written so far.
    fn fill(&mut self) -> Result<usize, BinlogError> {
        use std::os::unix::fs::FileExt;
        if self.file.is_none() {
            let Some((seq, path)) = segments(&self.dir)?.into_iter().next() else {
                return Ok(0);
            };
            self.open(seq, &path)?;
        }
        let Some((seq, file)) = &self.file else {
            return Ok(0);
        };
        // Drop what was handed out (once per read, not once per frame).
        self.buf.drain(..self.start);
        self.start = 0;
        let at = self.offset + self.buf.len() as u64;
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let read = file.read_at(&mut self.buf[old..], at);
        let n = match read {
            Ok(n) => n,
            Err(source) => {
                self.buf.truncate(old);
                return Err(BinlogError::Io {
                    path: self.path(*seq),
                    source,
                });
            }
        };
        self.buf.truncate(old + n);
        Ok(n)
    }

    /// Move on to the segment after the current one, if there is one: the writer has closed
    /// the current one, so what is left in `buf` is a torn tail, which is an error.
    fn next_segment(&mut self) -> Result<bool, BinlogError> {
        let current = self.file.as_ref().map_or(0, |(s, _)| *s);
        let Some((seq, path)) = segments(&self.dir)?.into_iter().find(|(s, _)| *s > current) else {
            return Ok(false);
        };
        // Anything written to the current segment before the next one began is readable now.
        if self.fill()? > 0 {
            return Ok(true);
        }
        if self.start < self.buf.len() {
            return Err(BinlogError::Corrupt {
                path: self.path(current),
                offset: self.offset,
                why: "torn record before a newer segment".into(),
            });
        }
        self.open(seq, &path)?;
        Ok(true)
    }

    fn open(&mut self, seq: u64, path: &Path) -> Result<(), BinlogError> {
        let file = File::open(path).map_err(io_err(path))?;
        self.file = Some((seq, file));
        self.offset = MAGIC.len() as u64;
        self.buf.clear();
        self.start = 0;
        Ok(())
    }
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
fn encode_frame_into(recs: &[Record], out: &mut Vec<u8>) {
    match recs {
        [one] => one.encode(out),
        _ => encode_batch(recs, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdc_crdt::ops::{self, SetTtl};
    use gdc_crdt::{Blob, Tag};

    fn set(op: u64, key: &str) -> Record {
        let tag = Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(op, 0));
        Record::Key {
            db: 0,
            key: key.as_bytes().to_vec(),
            effect: ops::set(None, 0, tag, Blob::from("v"), SetTtl::Clear),
        }
    }

    fn replay(dir: &Path) -> (Vec<Record>, Option<Cut>) {
        let mut recs = Vec::new();
        let (_, cut) = Binlog::open(dir, Fsync::No, |r| recs.push(r)).expect("open");
        (recs, cut)
    }

    #[test]
    fn segments_are_numbered_in_order_whatever_the_ops_origins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
        let remote = |op: u64, key: &str| {
            let mut r = set(op, key);
            if let Record::Key { effect, .. } = &mut r {
                effect.tag.dot.server = ServerId(9);
            }
            r
        };
        log.append(&remote(500, "a")).expect("append");
        assert_eq!(log.start_segment().expect("segment"), 2);
        log.append(&set(1, "b")).expect("append");
        assert_eq!(log.start_segment().expect("segment"), 3);
        // An empty segment is not followed by another.
        assert_eq!(log.start_segment().expect("segment"), 3);
        log.append(&remote(501, "c")).expect("append");
        log.commit().expect("commit");
        drop(log);
        let seqs: Vec<u64> = segments(dir.path())
            .expect("segments")
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        let (recs, _) = replay(dir.path());
        assert_eq!(recs, vec![remote(500, "a"), set(1, "b"), remote(501, "c")]);
        assert_eq!(remove_before(dir.path(), 3).expect("remove"), 2);
        let (recs, _) = replay(dir.path());
        assert_eq!(recs, vec![remote(501, "c")]);
    }

    #[test]
    fn a_reader_follows_the_writer_across_segments_and_waits_for_torn_frames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
        let mut reader = BinlogReader::new(dir.path());
        assert_eq!(reader.next_frame().expect("read"), None);
        log.append(&set(1, "a")).expect("append");
        // Appended but not committed: still in the writer's buffer, not readable.
        assert_eq!(reader.next_frame().expect("read"), None);
        log.commit().expect("commit");
        let frame = reader.next_frame().expect("read").expect("a frame");
        assert_eq!(decode_frame(&frame).expect("decode"), vec![set(1, "a")]);
        assert_eq!(reader.next_frame().expect("read"), None);
        log.append_batch(&[set(2, "b"), set(3, "c")])
            .expect("batch");
        log.start_segment().expect("segment");
        log.append(&set(4, "d")).expect("append");
        log.commit().expect("commit");
        let mut got = Vec::new();
        while let Some(f) = reader.next_frame().expect("read") {
            got.push(decode_frame(&f).expect("decode"));
        }
        assert_eq!(got, vec![vec![set(2, "b"), set(3, "c")], vec![set(4, "d")]]);
        // Half a frame on disk (the writer mid-write) is waited for, then read whole.
        let whole = {
            let mut v = Vec::new();
            let payload = encode_frame(&[set(5, "e")]);
            v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            v.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            v.extend_from_slice(&payload);
            v
        };
        drop(log);
        let last = segments(dir.path())
            .expect("segments")
            .pop()
            .expect("seg")
            .1;
        let mut f = OpenOptions::new().append(true).open(&last).expect("open");
        f.write_all(&whole[..5]).expect("write");
        f.flush().expect("flush");
        assert_eq!(reader.next_frame().expect("read"), None);
        f.write_all(&whole[5..]).expect("write");
        f.flush().expect("flush");
        let frame = reader.next_frame().expect("read").expect("a frame");
        assert_eq!(decode_frame(&frame).expect("decode"), vec![set(5, "e")]);
        assert_eq!(reader.frames(), 4);
    }

    #[test]
    fn a_batch_is_replayed_whole_or_not_at_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Binlog::open(dir.path(), Fsync::Always, |_| {}).expect("open");
        log.append(&set(1, "a")).expect("append");
        log.append_batch(&[set(2, "b"), set(3, "c"), set(4, "d")])
            .expect("append batch");
        log.commit().expect("commit");
        drop(log);
        let (recs, cut) = replay(dir.path());
        assert_eq!(
            recs,
            vec![set(1, "a"), set(2, "b"), set(3, "c"), set(4, "d")]
        );
        assert!(cut.is_none());
        // Tear the batch's frame: none of it comes back, the record before it does.
        let seg = segments(dir.path())
            .expect("segments")
            .pop()
            .expect("a segment")
            .1;
        let len = fs::metadata(&seg).expect("metadata").len();
        let f = OpenOptions::new()
            .write(true)
            .open(&seg)
            .expect("open segment");
        f.set_len(len - 5).expect("truncate");
        drop(f);
        let (recs, cut) = replay(dir.path());
        assert_eq!(recs, vec![set(1, "a")]);
        assert!(cut.is_some_and(|(_, bytes, _)| bytes > 0));
    }
}
