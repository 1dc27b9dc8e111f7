//! One set of permissions: the commands, keys and channels it allows. A user has a root
//! selector (the rules outside parentheses) and any number of `(...)` selectors; a command
//! runs when one of them allows all of it.

use super::check::{ChannelRef, Denied, DenyReason, KeyAccess, KeyRef, Request};
use super::commands::{CommandBits, CommandId, Commands};
use super::error::RuleError;
use super::rules::has_spaces;
use super::{Category, PubsubDefault};
use crate::glob;

/// A key pattern with the access it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyPattern {
    pub(super) pattern: Vec<u8>,
    pub(super) access: KeyAccess,
}

impl KeyPattern {
    /// `~pat`, `%R~pat` or `%W~pat`, as Redis shows it (`%RW~` is shown `~`).
    pub(super) fn describe(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match (self.access.read, self.access.write) {
            (true, false) => b"%R~",
            (false, true) => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Selector {
    all_keys: bool,
    all_channels: bool,
    /// Set by `+@all` alone, and cleared by removing any command: the check then skips the
    /// command bits.
    all_commands: bool,
    /// Redis's reserved bit: set by `+@all`, cleared by `-@all` only. It says the rules were
    /// built from `+@all` down, and so allow commands the table may gain.
    future_commands: bool,
    allowed: CommandBits,
    /// `+select|0`: the first arguments allowed for a command its bit does not allow, in the
    /// order given.
    first_args: Vec<(CommandId, Vec<Vec<u8>>)>,
    keys: Vec<KeyPattern>,
    channels: Vec<Vec<u8>>,
}

impl Selector {
    /// A selector that allows nothing (but all channels under `acl-pubsub-default
    /// allchannels`).
    pub(super) fn new(commands: &Commands, pubsub: PubsubDefault) -> Selector {
        Selector {
            all_keys: false,
            all_channels: pubsub == PubsubDefault::AllChannels,
            all_commands: false,
            future_commands: false,
            allowed: CommandBits::none(commands),
            first_args: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    pub(super) fn all_keys(&self) -> bool {
        self.all_keys
    }

    pub(super) fn all_channels(&self) -> bool {
        self.all_channels
    }

    pub(super) fn future_commands(&self) -> bool {
        self.future_commands
    }

    /// Every command, key and channel allowed: no check can refuse anything.
    pub(super) fn allows_everything(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    pub(super) fn allowed(&self) -> &CommandBits {
        &self.allowed
    }

    pub(super) fn keys(&self) -> &[KeyPattern] {
        &self.keys
    }

    pub(super) fn channels(&self) -> &[Vec<u8>] {
        &self.channels
    }

    pub(super) fn first_args(&self, id: CommandId) -> &[Vec<u8>] {
        self.first_args
            .iter()
            .find(|(c, _)| *c == id)
            .map_or(&[], |(_, args)| args.as_slice())
    }

    /// Apply one rule (Redis's ACLSetSelector), or refuse it and change nothing.
    pub(super) fn apply(&mut self, commands: &Commands, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.allowed = CommandBits::all(commands);
            self.all_commands = true;
            self.future_commands = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.allowed = CommandBits::none(commands);
            self.all_commands = false;
            self.future_commands = false;
            self.first_args.clear();
        } else {
            return self.apply_pattern_or_command(commands, op);
        }
        Ok(())
    }

    fn apply_pattern_or_command(&mut self, cmds: &Commands, op: &[u8]) -> Result<(), RuleError> {
        match op {
            [b'~' | b'%', ..] => self.add_key_pattern(op),
            [b'&', pattern @ ..] => self.add_channel(pattern),
            [b'+', b'@', category @ ..] => self.set_category(cmds, category, true),
            [b'-', b'@', category @ ..] => self.set_category(cmds, category, false),
            [b'+', name @ ..] => self.allow_command(cmds, name),
            [b'-', name @ ..] => {
                let id = cmds.lookup(name).ok_or(RuleError::Unknown)?;
                self.change(cmds, id, false);
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeysAfterAll);
        }
        let (access, pattern) = match op.split_first() {
            Some((b'%', rest)) => parse_key_permission(rest)?,
            _ => (KeyAccess::READ_WRITE, &op[1..]),
        };
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(known) => {
                known.access.read |= access.read;
                known.access.write |= access.write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                access,
            }),
        }
        Ok(())
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::ChannelsAfterAll);
        }
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(pattern.to_vec());
        }
        Ok(())
    }

    fn set_category(&mut self, cmds: &Commands, name: &[u8], on: bool) -> Result<(), RuleError> {
        let category = Category::by_name(name).ok_or(RuleError::Unknown)?;
        let members: Vec<CommandId> = cmds
            .walk()
            .filter(|&c| cmds.categories(c).contains(category))
            .collect();
        for id in members {
            self.change(cmds, id, on);
        }
        Ok(())
    }

    /// `+name`: a command, a subcommand (`+client|id`), or a first argument of a command
    /// without subcommands (`+select|0`).
    fn allow_command(&mut self, cmds: &Commands, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let id = cmds.lookup(name).ok_or(RuleError::Unknown)?;
            self.change(cmds, id, true);
            return Ok(());
        };
        let (base, arg) = (&name[..bar], &name[bar + 1..]);
        let id = cmds.lookup(base).ok_or(RuleError::Unknown)?;
        if cmds.parent(id).is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !cmds.subcommands(id).is_empty() {
            let sub = cmds.lookup(name).ok_or(RuleError::Unknown)?;
            self.change(cmds, sub, true);
            return Ok(());
        }
        let at = match self.first_args.iter().position(|(c, _)| *c == id) {
            Some(at) => at,
            None => {
                self.first_args.push((id, Vec::new()));
                self.first_args.len() - 1
            }
        };
        let args = &mut self.first_args[at].1;
        if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
            args.push(arg.to_vec());
        }
        Ok(())
    }

    /// Allow or forbid a command and its subcommands, forgetting its first arguments (Redis's
    /// ACLChangeSelectorPerm).
    fn change(&mut self, cmds: &Commands, id: CommandId, on: bool) {
        self.allowed.set_with_subcommands(cmds, id, on);
        if !on {
            self.all_commands = false;
        }
        self.first_args.retain(|(c, _)| *c != id);
    }

    /// Whether this selector allows all of `req` (Redis's ACLSelectorCheckCmd): the command,
    /// then every key, then every channel; the first refused is the answer.
    pub(super) fn check(&self, cmds: &Commands, req: &Request<'_>) -> Result<(), Denied> {
        if !self.all_commands && !cmds.no_auth(req.command) && !self.allowed.get(req.command) {
            let allowed_arg = req.first_arg.is_some_and(|arg| {
                self.first_args(req.command)
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(arg))
            });
            if !allowed_arg {
                return Err(Denied {
                    reason: DenyReason::Command,
                    object: cmds.name(req.command).as_bytes().to_vec(),
                    position: 0,
                });
            }
        }
        if !self.all_keys {
            if let Some((i, key)) = req
                .keys
                .iter()
                .enumerate()
                .find(|(_, k)| !self.allows_key(k))
            {
                return Err(Denied {
                    reason: DenyReason::Key,
                    object: key.name.to_vec(),
                    position: i,
                });
            }
        }
        if !self.all_channels {
            if let Some((i, channel)) = req
                .channels
                .iter()
                .enumerate()
                .find(|(_, c)| !self.allows_channel(c))
            {
                return Err(Denied {
                    reason: DenyReason::Channel,
                    object: channel.name.to_vec(),
                    position: i,
                });
            }
        }
        Ok(())
    }

    /// Whether a pattern granting at least the key's access matches it.
    pub(super) fn allows_key(&self, key: &KeyRef<'_>) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|p| grants(p.access, key.access) && glob::matches(&p.pattern, key.name))
    }

    /// Whether the selector grants `access` to every key: `allkeys`, or a `*` pattern with
    /// that access (Redis's ACLSelectorHasUnrestrictedKeyAccess).
    pub(super) fn allows_every_key(&self, access: KeyAccess) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|p| grants(p.access, access) && p.pattern == b"*")
    }

    pub(super) fn allows_channel(&self, channel: &ChannelRef<'_>) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if channel.is_pattern {
                    p == channel.name
                } else {
                    glob::matches(p, channel.name)
                }
            })
    }
}

fn grants(pattern: KeyAccess, needed: KeyAccess) -> bool {
    (pattern.read || !needed.read) && (pattern.write || !needed.write)
}

/// The access and pattern of `%<R|W...>~pattern` (`rest` is what follows `%`). Each of `R`
/// and `W` at most once, in any case, then `~` and the pattern; without `~`, the pattern is
/// empty (`%R` is `%R~`). No permission at all is a syntax error.
fn parse_key_permission(rest: &[u8]) -> Result<(KeyAccess, &[u8]), RuleError> {
    let mut access = KeyAccess::default();
    for (i, &b) in rest.iter().enumerate() {
        match b.to_ascii_uppercase() {
            b'R' if !access.read => access.read = true,
            b'W' if !access.write => access.write = true,
            b'~' if access.read || access.write => return Ok((access, &rest[i + 1..])),
            _ => return Err(RuleError::Syntax),
        }
    }
    if !access.read && !access.write {
        return Err(RuleError::Syntax);
    }
    Ok((access, &[]))
}
