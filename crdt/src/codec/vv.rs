//! Version vectors: a varint count, then (server-id, op id) pairs in server-id order. Written
//! inside key states (the tomb) and effects (the cutoff), and on their own elsewhere (the
//! keyspace's digest, the node's binlog and snapshots).

use super::primitive::{Reader, put_var};
use crate::error::DecodeError;
use crate::ids::OpId;
use crate::vv::VersionVector;

/// Encode a version vector (no version byte: it is always part of something versioned).
pub fn encode_vv(v: &VersionVector, out: &mut Vec<u8>) {
    put_var(out, v.len() as u64);
    for (s, o) in v.iter() {
        put_var(out, s.0 as u64);
        put_var(out, o.0);
    }
}

impl Reader<'_> {
    pub(super) fn vv(&mut self) -> Result<VersionVector, DecodeError> {
        let n = self.count()?;
        let mut v = VersionVector::new();
        for _ in 0..n {
            let s = self.server()?;
            v.raise(s, OpId(self.var()?));
        }
        Ok(v)
    }
}

/// Decode a version vector written by [`encode_vv`]; returns it and the bytes after it.
pub fn decode_vv(b: &[u8]) -> Result<(VersionVector, &[u8]), DecodeError> {
    let mut r = Reader::new(b);
    let v = r.vv()?;
    Ok((v, r.b))
}
