//! The ACL's errors, worded as Redis 7.0 words them. A reply is `-ERR <message>`.

/// Why one rule was refused (Redis's ACLSetUserStringError).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("Unknown command or category name in ACL")]
    Unknown,
    #[error("Syntax error")]
    Syntax,
    #[error(
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not \
         have any effect. Try 'resetkeys' to start with an empty list of patterns"
    )]
    KeysAfterAll,
    #[error(
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does \
         not have any effect. Try 'resetchannels' to start with an empty list of channels"
    )]
    ChannelsAfterAll,
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    #[error(
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal \
         characters"
    )]
    BadHash,
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// An ACL command's refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// A rule of ACL SETUSER was refused; no rule was applied.
    #[error("Error in ACL SETUSER modifier '{}': {error}", one_line(.rule))]
    Rule { rule: Vec<u8>, error: RuleError },
    /// `(` without its `)`; `start` is the argument that opened it.
    #[error("Unmatched parenthesis in acl selector starting at '{}'.", one_line(.start))]
    UnmatchedParenthesis { start: Vec<u8> },
    #[error("Usernames can't contain spaces or null characters")]
    BadUsername,
    #[error("The 'default' user cannot be removed")]
    DeleteDefault,
    #[error("User '{}' not found", String::from_utf8_lossy(.0))]
    NoSuchUser(Vec<u8>),
    /// ACL CAT of a category that does not exist (its name cut to 128 bytes, as Redis does).
    #[error("Unknown category '{}'", String::from_utf8_lossy(&.0[..(.0.len().min(128))]))]
    UnknownCategory(Vec<u8>),
    #[error(
        "ACL GENPASS argument must be the number of bits for the output password, a positive \
         number up to 4096"
    )]
    GenpassBits,
    /// ACL GENPASS could not get random bytes from the OS.
    #[error("Failed to generate a random password: {0}")]
    Random(String),
    /// An ACL file was refused, with every problem found, in one line (ACL LOAD's error).
    #[error("{0}")]
    File(String),
}

/// A rule as an error shows it: newlines become spaces, as Redis's addReplyErrorSdsSafe
/// makes them, so that the error stays one line.
fn one_line(rule: &[u8]) -> String {
    String::from_utf8_lossy(rule).replace(['\r', '\n'], " ")
}
