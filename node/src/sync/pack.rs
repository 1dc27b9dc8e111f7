//! Compression of what channels carry: a batch of binlog frames, or a piece of a state.
//!
//! Done here rather than by gRPC's message compression because tonic builds a new gzip
//! encoder (hundreds of KiB of tables) for every message: on a channel at a few thousand
//! writes per second that cost more than half a millisecond of lag per batch. Here one
//! compressor per stream is reused, and a message under [`PACK_MIN_BYTES`] is sent as it is:
//! small batches are what a lightly loaded channel sends and what its lag is made of, and
//! they gain little from compression; large ones are the catch-up and bulk traffic that a
//! WAN link is paid for.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Messages smaller than this go uncompressed.
pub const PACK_MIN_BYTES: usize = 4096;

/// Raw DEFLATE (RFC 1951) at the fastest level, reusing its state from message to message.
#[derive(Debug)]
pub struct Deflater(Compress);

impl Default for Deflater {
    fn default() -> Self {
        Deflater(Compress::new(Compression::fast(), false))
    }
}

impl Deflater {
    /// `raw` compressed on its own (the stream is reset first: each message inflates alone).
    pub fn deflate(&mut self, raw: &[u8]) -> Vec<u8> {
        self.0.reset();
        // Incompressible input grows by a few bytes per 16 KiB block; start there.
        let mut out = Vec::with_capacity(raw.len() + raw.len() / 1024 + 64);
        loop {
            let consumed = self.0.total_in() as usize;
            let status = self
                .0
                .compress_vec(&raw[consumed..], &mut out, FlushCompress::Finish)
                .expect("deflate of an in-memory buffer cannot fail");
            if status == Status::StreamEnd {
                return out;
            }
            out.reserve(out.capacity().max(4096));
        }
    }
}

/// Inflate `data`, which must give exactly `raw_len` bytes, at most `max` (a peer's claim
/// is checked before anything is allocated for it).
pub fn inflate(data: &[u8], raw_len: usize, max: usize) -> Result<Vec<u8>, String> {
    if raw_len > max {
        return Err(format!(
            "a compressed message claims {raw_len} bytes, over the limit of {max}"
        ));
    }
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(raw_len);
    let status = d
        .decompress_vec(data, &mut out, FlushDecompress::Finish)
        .map_err(|e| format!("a compressed message is corrupt: {e}"))?;
    if status != Status::StreamEnd || out.len() != raw_len || d.total_in() as usize != data.len() {
        return Err(format!(
            "a compressed message inflates to other than the {raw_len} bytes it claims"
        ));
    }
    Ok(out)
}

/// Frames laid end to end, each after its length as 4 bytes little-endian.
pub fn join_frames(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.iter().map(|f| f.len() + 4).sum());
    for f in frames {
        let len = u32::try_from(f.len()).expect("a binlog frame is under 4 GiB");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// The frames [`join_frames`] laid out, as slices of `joined`.
pub fn split_frames(mut joined: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut frames = Vec::new();
    while !joined.is_empty() {
        let Some((len, rest)) = joined.split_first_chunk::<4>() else {
            return Err("a packed batch ends inside a frame's length".into());
        };
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err("a packed batch ends inside a frame".into());
        }
        let (frame, rest) = rest.split_at(len);
        frames.push(frame);
        joined = rest;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_deflate() {
        let frames: Vec<Vec<u8>> = (0..500u32)
            .map(|i| {
                format!("frame {i} ")
                    .repeat(1 + i as usize % 7)
                    .into_bytes()
            })
            .chain([Vec::new()])
            .collect();
        let joined = join_frames(&frames);
        let mut d = Deflater::default();
        for _ in 0..2 {
            // The second time through, the compressor's state is reused.
            let packed = d.deflate(&joined);
            assert!(packed.len() < joined.len() / 4, "{} bytes", packed.len());
            let raw = inflate(&packed, joined.len(), 1 << 20).expect("inflates");
            let back = split_frames(&raw).expect("splits");
            assert_eq!(back.len(), frames.len());
            assert!(back.iter().zip(&frames).all(|(a, b)| a == &&b[..]));
        }
    }

    #[test]
    fn incompressible_input_deflates_whole() {
        // xorshift bytes: no repeats to find.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let raw: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let packed = Deflater::default().deflate(&raw);
        assert_eq!(inflate(&packed, raw.len(), 1 << 20).expect("inflates"), raw);
    }

    #[test]
    fn lies_and_damage_are_refused() {
        let raw = b"abcabcabcabcabcabcabc".repeat(300);
        let packed = Deflater::default().deflate(&raw);
        assert!(
            inflate(&packed, raw.len() - 1, 1 << 20).is_err(),
            "claims less"
        );
        assert!(
            inflate(&packed, raw.len() + 1, 1 << 20).is_err(),
            "claims more"
        );
        assert!(
            inflate(&packed, raw.len(), raw.len() - 1).is_err(),
            "over the limit"
        );
        assert!(inflate(&packed[..packed.len() / 2], raw.len(), 1 << 20).is_err());
        let mut junk = packed.clone();
        junk.extend_from_slice(b"junk");
        assert!(
            inflate(&junk, raw.len(), 1 << 20).is_err(),
            "trailing bytes"
        );
        assert!(inflate(b"\xff\xff\xff", 10, 1 << 20).is_err());
        assert!(split_frames(&[5, 0, 0, 0, 1, 2]).is_err());
        assert!(split_frames(&[5, 0]).is_err());
    }
}
