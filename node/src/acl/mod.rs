//! Redis 7.0's access control lists: users, their rules, the permission check, the ACL log,
//! and the ACL file, as a model that knows nothing of connections or the store. The command
//! table gives it its view of the commands ([`Commands`]); AUTH, HELLO, the ACL command and
//! the dispatch use it.
//!
//! - [`Users`] (`users.rs`): every user by name; ACL SETUSER (all rules or none), DELUSER,
//!   LIST, AUTH, the ACL file and the record of the users (`file.rs`).
//! - [`User`] (`user.rs`): on/off, passwords (SHA-256 hex), the root selector and the `(...)`
//!   selectors; [`User::check`] decides whether a command may run.
//! - `selector.rs`: one set of permissions (commands, first arguments, key and channel
//!   patterns) and the rules that change it; `describe.rs` writes it back as rules, by
//!   Redis's algorithm, so that ACL LIST prints what redis-server prints.
//! - [`check`]: what a check is asked and what a refusal says (NOPERM, DRYRUN).
//! - [`log`]: ACL LOG. `rules.rs`: splitting arguments into rules. [`error`]: Redis's texts.

pub mod category;
pub mod check;
pub mod commands;
mod describe;
pub mod error;
mod file;
pub mod log;
mod rules;
mod selector;
#[cfg(test)]
mod tests;
mod user;
mod users;

pub use category::{CATEGORY_NAMES, Categories, Category};
pub use check::{ChannelRef, Denied, DenyReason, KeyAccess, KeyRef, Request};
pub use commands::{CommandId, CommandSpec, Commands};
pub use error::{AclError, RuleError};
pub use file::{USERS_RECORD_FORMAT, UsersRecord};
pub use log::{AclLog, LogContext, LogEntry, LogReason, LogValue};
pub use user::{Sanitize, SelectorInfo, User, UserInfo, hex_sha256};
pub use users::{DEFAULT_USER, Users};

/// `acl-pubsub-default`: the channels a new user or selector may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PubsubDefault {
    /// None until granted (`resetchannels`, Redis 7.0's default).
    #[default]
    ResetChannels,
    /// Every channel (`allchannels`, Redis 6's behaviour).
    AllChannels,
}

/// ACL GENPASS's largest size, in bits.
pub const GENPASS_BITS_MAX: i64 = 4096;

/// ACL GENPASS `[bits]` (256 by default): a random password of `bits` bits rounded up to
/// whole hex digits, in lowercase hex. The bytes come from the OS; when it has none to give,
/// an error rather than a guessable password.
pub fn genpass(bits: i64) -> Result<String, AclError> {
    if !(1..=GENPASS_BITS_MAX).contains(&bits) {
        return Err(AclError::GenpassBits);
    }
    let digits = (bits as usize).div_ceil(4);
    let mut bytes = vec![0u8; digits.div_ceil(2)];
    getrandom::fill(&mut bytes).map_err(|e| AclError::Random(e.to_string()))?;
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(digits);
    Ok(hex)
}

/// ACL CAT `<category>`: the full names of its commands.
pub fn category_commands<'a>(
    commands: &'a Commands,
    name: &[u8],
) -> Result<Vec<&'a str>, AclError> {
    let category =
        Category::by_name(name).ok_or_else(|| AclError::UnknownCategory(name.to_vec()))?;
    Ok(commands.in_category(category))
}
