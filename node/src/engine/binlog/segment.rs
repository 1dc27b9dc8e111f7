//! Segment files on disk: their names, listing and removal, and the replay of one
//! segment's frames (see the layout in [`super`]).

use super::{BinlogError, FRAME_HEAD_BYTES, MAGIC, RECORD_BYTES_MAX, Record, decode_frame, io_err};
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

pub(super) fn segment_name(seq: u64) -> String {
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
pub(super) type BadTail = Option<(u64, String)>;

/// A frame's 8-byte head: the payload's length and its CRC-32.
pub(super) fn frame_head(head: &[u8]) -> (u32, u32) {
    let word = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    (word(0), word(4))
}

/// Read one segment's records into `each`; stops at the first bad frame and says where and
/// why.
pub(super) fn read_segment(
    path: &Path,
    each: &mut impl FnMut(Record),
) -> Result<BadTail, BinlogError> {
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
        let mut head = [0u8; FRAME_HEAD_BYTES];
        if r.read_exact(&mut head).is_err() {
            return Ok(Some((offset, "torn record header".into())));
        }
        let (n, crc) = frame_head(&head);
        if n > RECORD_BYTES_MAX || offset + (FRAME_HEAD_BYTES as u64) + n as u64 > len {
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
        offset += FRAME_HEAD_BYTES as u64 + n as u64;
    }
}
