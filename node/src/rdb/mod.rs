//! Redis's serialization of one value, as DUMP writes it and RESTORE reads it (RDB version
//! 10, Redis 7.0's), so values move between redis-server and gdc both ways.
//!
//! A payload is the value's type byte, the value in that type's encoding, the RDB version
//! (2 bytes, little-endian) and a CRC-64/Jones of everything before it (8 bytes,
//! little-endian). [`restore`] reads every encoding Redis 7.0 writes and the older ones it
//! still loads ([`read`]); [`dump`] writes the plain encodings ([`write`]). A leaf: it knows
//! gdc's whole values ([`Whole`]) and nothing of the store.

mod crc64;
mod lzf;
mod packed;
mod read;
mod stream;
mod write;

use gdc_crdt::ops::Whole;

/// The RDB version gdc writes, and the newest it reads (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// The version and the checksum that end a payload.
const FOOTER_BYTES: usize = 10;
/// The longest string a payload may expand to (Redis's largest string).
const STRING_BYTES_MAX: usize = 512 * 1024 * 1024;

/// The type byte of each serialized value (Redis's `RDB_TYPE_*`).
mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Too short for its footer, a newer RDB version, or a checksum that does not match.
    #[error("DUMP payload version or checksum are wrong")]
    Footer,
    /// The value itself is malformed, empty, or of a type gdc does not have.
    #[error("Bad data format ({0})")]
    Format(&'static str),
}

fn bad(why: &'static str) -> Error {
    Error::Format(why)
}

/// The payload DUMP answers for `whole`.
pub fn dump(whole: &Whole) -> Vec<u8> {
    let mut w = write::Writer::default();
    w.value(whole);
    let mut out = w.out;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value a payload holds, checked whole: footer first, then the value. Bytes between
/// the value and the footer are ignored, as Redis ignores them.
pub fn restore(payload: &[u8]) -> Result<Whole, Error> {
    let body_bytes = payload
        .len()
        .checked_sub(FOOTER_BYTES)
        .ok_or(Error::Footer)?;
    let (body, footer) = payload.split_at(body_bytes);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if version > RDB_VERSION || crc64::crc64(&payload[..body_bytes + 2]) != u64::from_le_bytes(crc)
    {
        return Err(Error::Footer);
    }
    let mut r = read::Reader::new(body);
    let kind = r.byte()?;
    read::value(&mut r, kind)
}

/// RDB's opcode before a function library (Redis 7.0's `RDB_OPCODE_FUNCTION2`), and the
/// release candidates' older one.
const FUNCTION2: u8 = 245;
const FUNCTION_RC: u8 = 246;

/// FUNCTION DUMP's payload: each library's code, after the opcode, then the footer.
pub fn dump_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut w = write::Writer::default();
    for code in codes {
        w.out.push(FUNCTION2);
        w.string(code);
    }
    let mut out = w.out;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code a FUNCTION RESTORE payload holds; the error as Redis words it (no
/// code: the caller adds ERR).
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let body_bytes = payload
        .len()
        .checked_sub(FOOTER_BYTES)
        .ok_or("DUMP payload version or checksum are wrong")?;
    let footer = &payload[body_bytes..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    if version > RDB_VERSION || crc64::crc64(&payload[..body_bytes + 2]) != crc {
        return Err("DUMP payload version or checksum are wrong");
    }
    let mut r = read::Reader::new(&payload[..body_bytes]);
    let mut codes = Vec::new();
    while !r.is_done() {
        let kind = r.byte().map_err(|_| "can not read data type")?;
        if kind != FUNCTION2 && kind != FUNCTION_RC {
            return Err("given type is not a function");
        }
        let code = r
            .string()
            .map_err(|_| "failed loading the given functions payload")?;
        codes.push(code.into_owned());
    }
    Ok(codes)
}

#[cfg(test)]
mod tests;
