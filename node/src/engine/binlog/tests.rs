use super::*;
use gdc_crdt::ops::{self, SetTtl};
use gdc_crdt::{Blob, Dot, Hlc, OpId, ServerId, Tag};

fn set(op: u64, key: &str) -> Record {
    let tag = Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(op, 0));
    Record::Key {
        db: 0,
        key: Blob::from(key),
        effect: ops::set(None, 0, tag, Blob::from("v"), SetTtl::Clear),
        evicted: false,
    }
}

fn replay(dir: &Path) -> (Vec<Record>, Option<Cut>) {
    let mut recs = Vec::new();
    let (_, cut) = Binlog::open(dir, Fsync::No, |r| recs.push(r)).expect("open");
    (recs, cut)
}

/// The log at `dir` replays as `expected`, with no tail cut.
fn replays_whole(dir: &Path, expected: &[Record]) {
    let (recs, cut) = replay(dir);
    assert_eq!(recs, expected);
    assert!(cut.is_none());
}

/// The log at `dir` replays as `expected`, the damaged tail after it cut.
fn replays_cut(dir: &Path, expected: &[Record]) {
    let (recs, cut) = replay(dir);
    assert_eq!(recs, expected);
    assert!(cut.is_some_and(|(_, bytes, _)| bytes > 0));
}

/// Reserve `rec` (it must be deferred) and hand it over, as a write does.
fn reserve(log: &mut Binlog, rec: Record) {
    assert!(log.reserve(&rec).expect("reserve"), "{rec:?}");
    log.append_reserved(rec);
}

/// The records a batch of commands writes, reserved one by one and encoded as it ends.
fn batch_of_commands(log: &mut Binlog, recs: impl IntoIterator<Item = Record>) {
    for rec in recs {
        reserve(log, rec);
    }
    log.encode_deferred();
}

/// Cut the last `bytes` bytes off the newest segment in `dir`, as a torn write leaves it.
fn tear_tail(dir: &Path, bytes: u64) {
    let seg = segments(dir).expect("segments").pop().expect("a segment").1;
    let len = fs::metadata(&seg).expect("metadata").len();
    let f = OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open segment");
    f.set_len(len - bytes).expect("truncate");
}

/// The log at `dir`, its first record in a frame of its own and the rest in one batch
/// frame, replays as `all`; with that batch frame torn, none of the batch comes back and
/// the first record does.
fn only_the_first_outlives_a_torn_batch(dir: &Path, all: &[Record]) {
    replays_whole(dir, all);
    tear_tail(dir, 5);
    replays_cut(dir, &all[..1]);
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
    // A segment is never returned twice, even empty (a child may be writing its snapshot).
    assert_eq!(log.start_segment().expect("segment"), 4);
    log.append(&remote(501, "c")).expect("append");
    log.commit().expect("commit");
    drop(log);
    let seqs: Vec<u64> = segments(dir.path())
        .expect("segments")
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
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
    only_the_first_outlives_a_torn_batch(
        dir.path(),
        &[set(1, "a"), set(2, "b"), set(3, "c"), set(4, "d")],
    );
}

/// A batch of commands' records, written as one frame, are replayed as a transaction's
/// are: all or none.
#[test]
fn a_torn_frame_of_a_batch_of_commands_loses_the_whole_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
    batch_of_commands(&mut log, [set(1, "a")]);
    batch_of_commands(&mut log, [set(2, "b"), set(3, "c")]);
    log.commit().expect("commit");
    drop(log);
    only_the_first_outlives_a_torn_batch(dir.path(), &[set(1, "a"), set(2, "b"), set(3, "c")]);
}

/// Frames wait in memory, their checksums not yet made, until the commit hands them to the
/// OS each with its own checksum; a log dropped uncommitted still writes them.
#[test]
fn frames_reach_the_file_at_the_commit_each_with_its_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
    let seg = segments(dir.path())
        .expect("segments")
        .pop()
        .expect("a segment")
        .1;
    let file_len = || fs::metadata(&seg).expect("metadata").len();
    log.append(&set(1, "a")).expect("append");
    log.append(&set(2, "b")).expect("append");
    log.append(&set(3, "c")).expect("append");
    assert_eq!(
        file_len(),
        MAGIC.len() as u64,
        "nothing written before the commit"
    );
    assert!(log.pending_commit().is_some());
    log.commit().expect("commit");
    assert!(log.pending_commit().is_none());
    let committed = file_len();
    assert_eq!(committed, log.segment_bytes());
    // Appended after the commit and dropped without one: written all the same.
    log.append(&set(4, "d")).expect("append");
    drop(log);
    replays_whole(
        dir.path(),
        &[set(1, "a"), set(2, "b"), set(3, "c"), set(4, "d")],
    );
    // A flipped byte in the second frame's payload fails its checksum: the first frame
    // comes back, the rest is cut as a corrupt tail.
    let mut bytes = fs::read(&seg).expect("read");
    let first = MAGIC.len()
        + FRAME_HEAD_BYTES
        + u32::from_le_bytes(
            bytes[MAGIC.len()..MAGIC.len() + 4]
                .try_into()
                .expect("4 bytes"),
        ) as usize;
    bytes[first + FRAME_HEAD_BYTES + 2] ^= 0xff;
    fs::write(&seg, &bytes).expect("write");
    replays_cut(dir.path(), &[set(1, "a")]);
}

/// A record reserved is encoded at the end of its batch of commands (or before anything
/// appended after it), in the order it was appended; one whose size is not known without
/// encoding it (a FLUSHALL's) is appended at once; what is reserved counts as waiting for
/// the commit, and a log dropped before it writes it all the same.
#[test]
fn reserved_records_are_encoded_in_order_at_the_end_of_the_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
    let flush = Record::Flush {
        db: None,
        by: Dot::new(ServerId(1), OpId(3), 0),
        hlc: Hlc::new(3, 0),
        cutoff: gdc_crdt::VersionVector::new(),
    };
    let empty = log.segment_bytes();
    reserve(&mut log, set(1, "a"));
    reserve(&mut log, set(2, "b"));
    assert_eq!(log.segment_bytes(), empty, "nothing encoded yet");
    assert!(
        log.pending_commit().is_some(),
        "reserved records wait for a commit"
    );
    // Appended now, after the two before it.
    assert!(!log.reserve(&flush).expect("reserve"), "appended at once");
    reserve(&mut log, set(4, "d"));
    log.encode_deferred();
    let encoded = log.segment_bytes();
    assert!(encoded > empty);
    log.commit().expect("commit");
    assert_eq!(log.segment_bytes(), encoded);
    assert!(log.pending_commit().is_none());
    reserve(&mut log, set(5, "e"));
    drop(log);
    replays_whole(
        dir.path(),
        &[set(1, "a"), set(2, "b"), flush, set(4, "d"), set(5, "e")],
    );
}

/// The records reserved in one batch of commands are written as one batch frame when they
/// are several and small (replayed all or none, as a transaction's); one alone, and a batch
/// larger than [`GROUPED_BYTES_MAX`], are written a frame a record.
#[test]
fn a_batch_of_small_reserved_records_is_one_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
    let mut reader = BinlogReader::new(dir.path());
    let large = |op: u64, key: &str| {
        let tag = Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(op, 0));
        let value = Blob::from(vec![b'x'; GROUPED_BYTES_MAX as usize * 2 / 3]);
        Record::Key {
            db: 0,
            key: Blob::from(key),
            effect: ops::set(None, 0, tag, value, SetTtl::Clear),
            evicted: false,
        }
    };
    batch_of_commands(&mut log, [set(1, "a"), set(2, "b"), set(3, "c")]);
    batch_of_commands(&mut log, [set(4, "d")]);
    batch_of_commands(&mut log, [large(5, "e"), large(6, "f")]);
    log.commit().expect("commit");
    let mut frames = Vec::new();
    while let Some(f) = reader.next_frame().expect("read") {
        frames.push(decode_frame(&f).expect("decode"));
    }
    assert_eq!(
        frames,
        vec![
            vec![set(1, "a"), set(2, "b"), set(3, "c")],
            vec![set(4, "d")],
            vec![large(5, "e")],
            vec![large(6, "f")],
        ]
    );
}

/// A snapshot's segment begins after every record appended before it, reserved records
/// included, even where the current segment looked empty (after a rotation for size, no
/// snapshot begun at it): a snapshot's state holds them.
#[test]
fn records_reserved_before_a_snapshot_go_in_the_segments_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
    assert_eq!(log.start_segment().expect("segment"), 2);
    // As a rotation for size leaves it: an empty segment no snapshot began at.
    log.rotate().expect("rotate");
    assert!(log.reserve(&set(1, "a")).expect("reserve"));
    log.append_reserved(set(1, "a"));
    let seq = log.start_segment().expect("segment");
    assert_eq!(seq, 4, "the record's segment is not the snapshot's");
    log.commit().expect("commit");
    drop(log);
    replays_whole(dir.path(), &[set(1, "a")]);
    assert_eq!(remove_before(dir.path(), seq).expect("remove"), 3);
    replays_whole(dir.path(), &[]);
}

/// A record larger than the kept buffer of pending frames leaves no buffer of its size
/// behind once committed (a 10-million-bit SETBIT's record is 1.25 MB), and is written
/// whole.
#[test]
fn a_large_record_leaves_no_large_buffer_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
    log.append(&set(1, "small")).expect("append");
    log.commit().expect("commit");
    let held = log.buffer_bytes();
    let tag = Tag::new(Dot::new(ServerId(1), OpId(2), 0), Hlc::new(2, 0));
    let big = Record::Key {
        db: 0,
        key: Blob::from("big"),
        effect: ops::set(None, 0, tag, Blob::from(vec![7u8; 1 << 20]), SetTtl::Clear),
        evicted: false,
    };
    log.append(&big).expect("append");
    log.commit().expect("commit");
    let after = log.buffer_bytes();
    assert!(
        after <= held,
        "{after} bytes held after a 1 MiB record, {held} before"
    );
    log.append(&set(3, "after")).expect("append");
    log.commit().expect("commit");
    drop(log);
    let (recs, _) = replay(dir.path());
    assert_eq!(recs, vec![set(1, "small"), big, set(3, "after")]);
}

/// An eviction is a record of its own kind, alone in its frame or in a batch, and reads
/// back as one (its kind byte must not be taken for a batch's).
#[test]
fn an_eviction_record_reads_back_alone_and_in_a_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Binlog::open(dir.path(), Fsync::No, |_| {}).expect("open");
    let evicted = |op: u64, key: &str| {
        let mut r = set(op, key);
        if let Record::Key { evicted, .. } = &mut r {
            *evicted = true;
        }
        r
    };
    log.append(&evicted(1, "a")).expect("append");
    log.append_batch(&[set(2, "b"), evicted(3, "c")])
        .expect("append");
    log.append(&set(4, "d")).expect("append");
    log.commit().expect("commit");
    drop(log);
    let (recs, cut) = replay(dir.path());
    assert!(
        cut.as_ref().is_none_or(|(_, bytes, _)| *bytes == 0),
        "{cut:?}"
    );
    assert_eq!(
        recs,
        vec![evicted(1, "a"), set(2, "b"), evicted(3, "c"), set(4, "d")]
    );
}

#[test]
fn scripting_records_read_back_as_written_and_bad_ones_are_refused() {
    use crate::engine::store::ScriptingChange;
    let by = |op: u64| Dot::new(ServerId(7), OpId(op), 0);
    let mut cutoff = gdc_crdt::VersionVector::new();
    cutoff.raise(ServerId(7), OpId(3));
    let recs: Vec<Record> = [
        ScriptingChange::Library {
            name: "mylib".into(),
            code: Some(bytes::Bytes::from_static(b"#!lua name=mylib\nreturn 1")),
        },
        ScriptingChange::Library {
            name: "mylib".into(),
            code: None,
        },
        ScriptingChange::Script {
            body: bytes::Bytes::from_static(b"return 1"),
        },
        ScriptingChange::FlushScripts { cutoff },
    ]
    .into_iter()
    .enumerate()
    .map(|(i, change)| Record::Scripting {
        by: by(i as u64 + 1),
        hlc: Hlc::new(100 + i as u64, 0),
        change,
    })
    .collect();
    for rec in &recs {
        let frame = encode_frame(std::slice::from_ref(rec));
        assert_eq!(decode_frame(&frame).expect("decode"), vec![rec.clone()]);
        // Cut short anywhere, or with a byte too many, it is refused, not misread.
        for len in 2..frame.len() {
            assert!(decode_frame(&frame[..len]).is_err(), "cut at {len}");
        }
        let mut long = frame.clone();
        long.push(0);
        assert!(decode_frame(&long).is_err());
    }
    let batch = encode_frame(&recs);
    assert_eq!(decode_frame(&batch).expect("decode"), recs);
}
