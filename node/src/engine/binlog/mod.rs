//! The binlog: every op this node applies, in order, in append-only segment files of
//! CRC-framed records. Sync channels will ship it; on restart it is replayed. A torn or
//! corrupt tail (a crash mid-write) is detected, cut, and logged.
//!
//! Segment file `binlog-<sequence number, 20 digits>.log` (numbers only grow; a snapshot
//! names the segment begun after it): the 8-byte magic `GDCBLG01`, then records, each
//! `payload length (u32 LE) | CRC-32 of payload (u32 LE) | payload`.
//! Payload: format version, kind, then the record (see [`Record`]).

//!
//! Files: this one (the writer, and replay at open), [`segment`] (segment files: names,
//! listing, removal, one segment's replay), [`record`] (records and frames, their
//! encoding), [`reader`] (a reader that follows the binlog as it grows).

pub mod reader;
pub mod record;
mod segment;

pub use reader::BinlogReader;
pub use record::{
    Record, batch_bytes, decode_frame, encode_frame, encode_record, frame_dots, frame_of_encoded,
};

use record::encode_frame_into;
use segment::{frame_head, read_segment, segment_name};
pub use segment::{remove_before, segments};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
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

/// The largest buffer of appended frames kept between batches.
const PENDING_KEPT_BYTES: usize = 64 * 1024;
/// The most records whose room is kept between batches (a pipeline of thousands of
/// commands makes a batch that large).
const DEFERRED_KEPT: usize = 1024;

/// A frame's head: the payload's length, then its CRC.
const FRAME_HEAD_BYTES: usize = 8;

/// The deferred records of a batch of commands are written as one batch frame when they
/// take at most this many bytes (by their bounds): the frame's head and checksum are paid
/// once for the batch, not once per write. A larger batch is written a frame per record.
const GROUPED_BYTES_MAX: u64 = 64 * 1024;

#[derive(Debug)]
pub struct Binlog {
    dir: PathBuf,
    /// The current segment, written straight from `pending` (a batch's frames are one
    /// write already).
    out: File,
    path: PathBuf,
    /// The current segment's sequence number.
    seq: u64,
    segment_bytes: u64,
    policy: Fsync,
    /// Written to the OS but not yet forced to disk.
    unsynced: bool,
    /// Frames appended since the last [`Binlog::commit`], one after another, encoded in
    /// place with their lengths and their CRCs not yet computed: a batch's checksums and
    /// its copy into `out` are done together when it ends ([`Binlog::drain`]), so each
    /// write runs only its encoding (the code a write runs is what limits a pipeline:
    /// docs/performance.md).
    pending: Vec<u8>,
    /// Records appended whole, to be encoded after `pending`'s frames when the batch ends
    /// ([`Binlog::reserve`]), as one batch frame or a frame each: a write runs no encoder,
    /// and the batch's records are encoded, then dropped, together.
    deferred: Vec<Record>,
    /// The bytes `deferred`'s records take at most once encoded.
    deferred_bytes: u64,
    /// A fresh checksum, copied for each frame: `crc32fast::hash` detects the CPU's
    /// features anew at every call.
    crc: crc32fast::Hasher,
    /// Bytes appended since the last [`Binlog::start_segment`] (drives automatic snapshots).
    appended_bytes: u64,
    /// A write failed part way: what follows in the file would sit after a torn frame, so
    /// nothing more is appended until the node restarts (and cuts the tail).
    failed: bool,
    /// Broken on purpose (`--test-break ack-before-write`): since when acknowledged
    /// records have been held in memory.
    held_since: Option<std::time::Instant>,
    /// Writes of appended records to the OS (by commits, and rotations): a writer that
    /// appended while this was `n` has its records there once it is past `n` (see
    /// [`Binlog::pending_commit`]).
    commits: u64,
    /// [`Binlog::start_segment`] returned the current segment (or may have, at open: a
    /// child of the process before this one may still be writing its snapshot).
    snapshot_begun: bool,
}

impl Drop for Binlog {
    /// What was appended goes to the file: a caller that drops the log uncommitted loses
    /// nothing of it.
    fn drop(&mut self) {
        if !self.failed {
            let _ = self.drain();
        }
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
            out: file,
            path,
            seq,
            segment_bytes: len,
            policy,
            unsynced: false,
            pending: Vec::new(),
            deferred: Vec::new(),
            deferred_bytes: 0,
            crc: crc32fast::Hasher::new(),
            appended_bytes: 0,
            failed: false,
            held_since: None,
            commits: 0,
            snapshot_begun: true,
        };
        Ok((log, cut))
    }

    pub fn policy(&self) -> Fsync {
        self.policy
    }

    /// The heap its buffers hold (the frames not yet written, and the records not yet
    /// encoded, by their encoded size).
    pub fn buffer_bytes(&self) -> u64 {
        let deferred = self.deferred.capacity() * size_of::<Record>();
        (self.pending.capacity() + deferred) as u64 + self.deferred_bytes
    }

    /// Bytes in the current segment (a record reserved counts once it is encoded, when its
    /// batch ends).
    pub fn segment_bytes(&self) -> u64 {
        self.segment_bytes
    }

    /// Make way for `rec`, a record about to be applied. One known to be within the limit
    /// ([`Record::len_bound`], nearly every key record) is encoded when its batch of
    /// commands ends, with the batch's others: `Ok(true)`, and the caller hands it over with
    /// [`Binlog::append_reserved`] once applied. Any other is appended now (`Ok(false)`),
    /// or refused if too large, before it is applied.
    pub fn reserve(&mut self, rec: &Record) -> Result<bool, BinlogError> {
        let Some(n) = rec.len_bound().filter(|&n| n <= RECORD_BYTES_MAX as usize) else {
            return self.append(rec).map(|()| false);
        };
        if self.failed {
            return Err(BinlogError::Failed);
        }
        self.rotate_if_full()?;
        self.deferred_bytes += n as u64;
        Ok(true)
    }

    /// A record [`Binlog::reserve`] made way for, applied now; encoded when its batch ends.
    pub fn append_reserved(&mut self, rec: Record) {
        self.deferred.push(rec);
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
        self.append_with(|out| encode_frame_into(recs, out))
    }

    /// Append a frame's payload as it is (one received from a peer, already encoded).
    pub fn append_frame(&mut self, payload: &[u8]) -> Result<(), BinlogError> {
        self.append_with(|out| out.extend_from_slice(payload))
    }

    /// Append the frame whose payload `put` writes, its CRC left for [`Binlog::drain`].
    fn append_with(&mut self, put: impl FnOnce(&mut Vec<u8>)) -> Result<(), BinlogError> {
        if self.failed {
            return Err(BinlogError::Failed);
        }
        self.rotate_if_full()?;
        // The records appended before this one go before it.
        self.encode_deferred();
        let at = self.pending.len();
        let n = self.push_frame(put);
        if n > RECORD_BYTES_MAX as usize {
            // The reader would take it for corruption: refuse it before it is written.
            self.pending.truncate(at);
            return Err(BinlogError::TooLarge(n));
        }
        self.count_frame(n);
        Ok(())
    }

    /// Write a frame whose payload `put` writes to `pending`, its length in its head and
    /// its CRC left for [`Binlog::drain`]. Returns the payload's length.
    fn push_frame(&mut self, put: impl FnOnce(&mut Vec<u8>)) -> usize {
        let at = self.pending.len();
        self.pending.extend_from_slice(&[0; FRAME_HEAD_BYTES]);
        put(&mut self.pending);
        let n = self.pending.len() - at - FRAME_HEAD_BYTES;
        self.pending[at..at + 4].copy_from_slice(&(n as u32).to_le_bytes());
        n
    }

    fn count_frame(&mut self, n: usize) {
        self.segment_bytes += (FRAME_HEAD_BYTES + n) as u64;
        self.appended_bytes += (FRAME_HEAD_BYTES + n) as u64;
    }

    /// Encode the records [`Binlog::reserve`] deferred, in order, after the frames pending
    /// (at the end of each batch of commands, and before anything else is appended or
    /// written): as one batch frame, replayed all or none, when they are several and small
    /// (none of their replies has left yet: they leave once the frame is written), else a
    /// frame each.
    pub fn encode_deferred(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        let mut recs = std::mem::take(&mut self.deferred);
        // Room for all at once: a record of 200k removals (LTRIM's) grew the buffer by
        // doubling, copying it each time.
        self.pending
            .reserve(self.deferred_bytes as usize + (FRAME_HEAD_BYTES + 4) * (recs.len() + 1));
        // Encoded where they lie, then dropped together (moving each out copies it).
        if recs.len() > 1 && self.deferred_bytes <= GROUPED_BYTES_MAX {
            let n = self.push_frame(|out| encode_frame_into(&recs, out));
            self.count_frame(n);
        } else {
            for rec in &recs {
                let n = self.push_frame(|out| rec.encode(out));
                debug_assert!(n <= RECORD_BYTES_MAX as usize, "reserved within the limit");
                self.count_frame(n);
            }
        }
        recs.clear();
        // The room a large pipeline's batch needed is given back.
        if recs.capacity() <= DEFERRED_KEPT {
            self.deferred = recs;
        }
        self.deferred_bytes = 0;
    }

    /// Checksum the pending frames and hand them to the OS, in order.
    fn drain(&mut self) -> Result<(), BinlogError> {
        self.encode_deferred();
        if self.pending.is_empty() {
            return Ok(());
        }
        // Each frame's head says where the next one starts.
        let mut frames = &mut self.pending[..];
        while !frames.is_empty() {
            let (head, rest) = frames.split_at_mut(FRAME_HEAD_BYTES);
            let (n, _) = frame_head(head);
            let (payload, next) = rest.split_at_mut(n as usize);
            let mut crc = self.crc.clone();
            crc.update(payload);
            head[4..].copy_from_slice(&crc.finalize().to_le_bytes());
            frames = next;
        }
        let written = self.out.write_all(&self.pending);
        if written.is_ok() {
            self.unsynced = true;
            self.commits += 1;
        }
        self.pending.clear();
        // A large batch's room is given back: a 10-million-bit SETBIT would otherwise keep
        // 2.5 MB here for good.
        if self.pending.capacity() > PENDING_KEPT_BYTES {
            self.pending = Vec::new();
        }
        written.map_err(|e| {
            self.failed = true;
            io_err(&self.path)(e)
        })
    }

    /// Bytes appended since the last snapshot began a segment.
    pub fn appended_bytes(&self) -> u64 {
        self.appended_bytes
    }

    /// Begin a new segment, unless the current one is empty and no snapshot was begun at it
    /// (when a snapshot is taken, so that the segments before it can be removed once the
    /// snapshot is on disk). Returns the sequence number of the segment that now receives
    /// appends, never one returned before: it names the snapshot, and a snapshot still
    /// being written by a forked child must not share its file with the next.
    pub fn start_segment(&mut self) -> Result<u64, BinlogError> {
        // Records reserved before the snapshot are in its state: they belong in the
        // segments before it, whether or not the caller committed first (the store does).
        self.encode_deferred();
        if self.segment_bytes > MAGIC.len() as u64 || self.snapshot_begun {
            self.rotate()?;
        }
        self.snapshot_begun = true;
        self.appended_bytes = 0;
        Ok(self.seq)
    }

    /// End of a batch: hand what was appended to the OS (so a crash of this process loses
    /// nothing), and with `always`, force it to disk before the caller replies.
    pub fn commit(&mut self) -> Result<(), BinlogError> {
        if crate::testing::ack_before_write() {
            self.encode_deferred();
            if !self.pending.is_empty() {
                // Broken on purpose: replies go out while the records wait in memory.
                let since = *self.held_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < crate::testing::HOLD {
                    return Ok(());
                }
                self.held_since = None;
            }
        }
        self.drain()?;
        if self.policy == Fsync::Always {
            self.sync()?;
        }
        Ok(())
    }

    /// The commit count past which records appended so far are with the OS, if some are
    /// still only in this process's buffer (`None`: nothing is waiting for a commit).
    pub fn pending_commit(&self) -> Option<u64> {
        let waiting = !self.pending.is_empty() || !self.deferred.is_empty();
        waiting.then_some(self.commits + 1)
    }

    /// Whether commit `target` (from [`Binlog::pending_commit`]) has happened.
    pub fn committed(&self, target: u64) -> bool {
        self.commits >= target
    }

    /// Force written records to disk (the `everysec` timer calls this).
    pub fn sync(&mut self) -> Result<(), BinlogError> {
        if self.unsynced {
            self.out.sync_data().map_err(io_err(&self.path))?;
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
        let f = self.out.try_clone().ok()?;
        self.unsynced = false;
        Some(f)
    }

    /// Begin a new segment if the current one, with the records reserved for it, is full.
    fn rotate_if_full(&mut self) -> Result<(), BinlogError> {
        if self.segment_bytes + self.deferred_bytes >= SEGMENT_BYTES_MAX {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), BinlogError> {
        self.drain()?;
        if self.policy == Fsync::Always {
            self.out.sync_data().map_err(io_err(&self.path))?;
        } else if self.unsynced {
            // The old segment's last writes reach the disk on a helper thread, as the
            // everysec timer's do: the serving thread does not wait for the disk (a
            // second of writes synced inline stalled every client for milliseconds).
            let old = self.out.try_clone().map_err(io_err(&self.path))?;
            let path = self.path.clone();
            std::thread::spawn(move || {
                if let Err(e) = old.sync_data() {
                    tracing::error!(error = %e, path = %path.display(), "binlog fsync failed");
                }
            });
        }
        let seq = self.seq + 1;
        let path = self.dir.join(segment_name(seq));
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.write_all(MAGIC).map_err(io_err(&path))?;
        self.out = f;
        self.path = path;
        self.seq = seq;
        self.segment_bytes = MAGIC.len() as u64;
        self.snapshot_begun = false;
        self.unsynced = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
