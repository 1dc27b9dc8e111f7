//! The binlog as a channel's sender reads it: frame after frame, following the tail.

use super::{
    BinlogError, FRAME_HEAD_BYTES, MAGIC, RECORD_BYTES_MAX, frame_head, io_err, segment_name,
    segments,
};
use std::fs::File;
use std::path::{Path, PathBuf};

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
        let Some(head) = pending.get(..FRAME_HEAD_BYTES) else {
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
        let end = FRAME_HEAD_BYTES + n as usize;
        let Some(payload) = pending.get(FRAME_HEAD_BYTES..end) else {
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
