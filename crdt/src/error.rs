//! Errors a write can meet at its origin. Their texts are Redis's, byte for byte.

/// Why a command cannot make an effect. Judged at the origin only: effects always apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR hash value is not an integer")]
    HashNotInteger,
    #[error("ERR hash value is not a float")]
    HashNotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    #[error("ERR resulting score is not a number (NaN)")]
    ScoreNan,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR index out of range")]
    IndexOutOfRange,
}

/// Why bytes could not be decoded as a gdc-crdt value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported encoding format version {0}")]
    Version(u8),
    #[error("input ends early")]
    Truncated,
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("{0} bytes left over after the value")]
    Trailing(usize),
}
