//! What a permission check is asked ([`Request`]) and what a refusal says ([`Denied`]): the
//! NOPERM error, ACL DRYRUN's answer and the ACL LOG entry are all made from it.

use super::commands::CommandId;

/// How a command uses a key, as far as the ACL cares: reading needs `%R`, writing `%W`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyAccess {
    pub read: bool,
    pub write: bool,
}

impl KeyAccess {
    pub const READ: KeyAccess = KeyAccess {
        read: true,
        write: false,
    };
    pub const WRITE: KeyAccess = KeyAccess {
        read: false,
        write: true,
    };
    pub const READ_WRITE: KeyAccess = KeyAccess {
        read: true,
        write: true,
    };

    /// Redis's mapping from a key spec's flags (ACLSelectorCheckKey): `ACCESS` (the value is
    /// returned, copied or used) needs read; `INSERT`, `DELETE` and `UPDATE` need write. The
    /// logical flags (`RO`, `RW`, `OW`, `RM`) play no part: a key with none of the four (the
    /// key of EXISTS, only `RO`) needs no particular permission, any pattern matching it will
    /// do.
    pub fn from_key_spec(access: bool, insert: bool, delete: bool, update: bool) -> KeyAccess {
        KeyAccess {
            read: access,
            write: insert || delete || update,
        }
    }
}

/// One key a command names, with how it uses it.
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    pub name: &'a [u8],
    pub access: KeyAccess,
}

/// One channel a command publishes to or subscribes to (not UNSUBSCRIBE's: Redis checks
/// only publishing and subscribing).
#[derive(Debug, Clone, Copy)]
pub struct ChannelRef<'a> {
    pub name: &'a [u8],
    /// PSUBSCRIBE's pattern: matched literally against the user's channel patterns, where a
    /// plain channel is matched by them as globs.
    pub is_pattern: bool,
}

/// One command as it is about to run.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub command: CommandId,
    /// The argument `+command|arg` rules are about: the first after the command's name
    /// (after the subcommand's, for a subcommand). `None` when there is none.
    pub first_arg: Option<&'a [u8]>,
    /// The keys in the order the key specs find them.
    pub keys: &'a [KeyRef<'a>],
    pub channels: &'a [ChannelRef<'a>],
}

/// Why a command was refused. The order is Redis's: when no selector allows a command, the
/// refusal reported is the greatest (a channel over a key over the command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DenyReason {
    Command,
    Key,
    Channel,
}

/// A refused command: the reason and what was refused (the command's full name, the key or
/// the channel), with the key's or channel's place in [`Request`]'s list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub reason: DenyReason,
    pub object: Vec<u8>,
    pub(super) position: usize,
}

impl Denied {
    /// The error a refused command gets, as Redis 7.0 words it (`NOPERM ...`).
    pub fn noperm_error(&self) -> String {
        match self.reason {
            DenyReason::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                String::from_utf8_lossy(&self.object)
            ),
            DenyReason::Key => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .to_string()
            }
            DenyReason::Channel => "NOPERM this user has no permissions to access one of the \
                                    channels used as arguments"
                .to_string(),
        }
    }

    /// ACL DRYRUN's answer (a bulk string) for a command it refuses.
    pub fn dryrun_reply(&self) -> Vec<u8> {
        let (before, after): (&[u8], &[u8]) = match self.reason {
            DenyReason::Command => (b"This user has no permissions to run the '", b"' command"),
            DenyReason::Key => (b"This user has no permissions to access the '", b"' key"),
            DenyReason::Channel => (
                b"This user has no permissions to access the '",
                b"' channel",
            ),
        };
        [before, &self.object, after].concat()
    }

    /// The reason a script's refused call gives, after `The user executing the script
    /// can't ...` (Redis's getAclErrorMessage).
    pub fn script_reason(&self) -> &'static str {
        match self.reason {
            DenyReason::Command => "can't run this command or subcommand",
            DenyReason::Key => {
                "can't access at least one of the keys mentioned in the command arguments"
            }
            DenyReason::Channel => "can't publish to the channel mentioned in the command",
        }
    }

    /// The reason EXEC gives for a queued command the rules no longer allow.
    /// The error `redis.call` raises for a command the user may not run.
    pub fn script_error(&self) -> String {
        let reason = match self.reason {
            DenyReason::Command => "can't run this command or subcommand",
            DenyReason::Key => "can't access at least one of the keys mentioned in the command",
            DenyReason::Channel => "can't publish to the channel mentioned in the command",
        };
        format!("ERR The user executing the script {reason}")
    }

    pub fn exec_error(&self) -> String {
        let reason = match self.reason {
            DenyReason::Command => "no permission to execute the command or subcommand",
            DenyReason::Key => "no permission to touch the specified keys",
            DenyReason::Channel => "no permission to access one of the channels used as arguments",
        };
        format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and \
             the EXEC call. This command is no longer allowed for the following reason: {reason}"
        )
    }
}
