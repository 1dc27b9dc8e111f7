//! The canonical binary encoding of key states, effects and version vectors, and the digests
//! built on it. Equal values encode to identical bytes (every collection is written sorted,
//! whatever its order in memory), so a digest of the encoding of keys' content compares
//! regions byte for byte.
//!
//! Layout: a format-version byte, then the value. Integers (server-ids, op ids, lengths) are
//! LEB128 varints; HLC times, floats (IEEE bits) and list position digits are 8 bytes
//! little-endian; `i128` counter totals 16 bytes little-endian; byte strings are a varint
//! length and the bytes.
//!
//! One encoded thing per file, each with both its writer and its reader: `primitive` (the
//! version byte, varints, fixed-width integers, byte strings, ids, and `Reader`, the
//! bounds-checked cursor over untrusted input), `vv` (version vectors), `field` (a field's
//! registers, counter entries and resets), `key` (key states, their content, and key
//! digests), `stream` (a stream's part and pieces) and `effect` (effects).

mod effect;
mod field;
mod key;
mod primitive;
mod stream;
mod vv;

pub use effect::{decode_effect, effect_dot, effect_len_bound, encode_effect};
pub use key::{decode_key, encode_content, encode_key, key_digest};
pub use primitive::{FORMAT_VERSION, KEY_FORMAT_VERSION};
pub(crate) use primitive::{put_var, read_var, var_len};
pub use vv::{decode_vv, encode_vv};
