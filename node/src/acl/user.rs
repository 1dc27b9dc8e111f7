//! One user: whether it may log in, its passwords, and its selectors.

use sha2::{Digest, Sha256};

use super::PubsubDefault;
use super::check::{Denied, KeyAccess, KeyRef, Request};
use super::commands::Commands;
use super::describe;
use super::error::RuleError;
use super::rules::split_args;
use super::selector::Selector;

/// What rules need besides the user: the command table's view and `acl-pubsub-default`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Env<'a> {
    pub(super) commands: &'a Commands,
    pub(super) pubsub: PubsubDefault,
}

/// RESTORE's payload check for this user (`sanitize-payload`, `skip-sanitize-payload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitize {
    Always,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    enabled: bool,
    nopass: bool,
    sanitize: Option<Sanitize>,
    /// SHA-256 digests in lowercase hex, in the order added.
    passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
}

/// ACL GETUSER's fields of one selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorInfo {
    pub commands: Vec<u8>,
    pub keys: Vec<u8>,
    pub channels: Vec<u8>,
}

/// ACL GETUSER's answer: `flags`, `passwords`, the root selector's `commands`, `keys` and
/// `channels`, then `selectors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub flags: Vec<&'static str>,
    pub passwords: Vec<String>,
    pub root: SelectorInfo,
    pub selectors: Vec<SelectorInfo>,
}

impl User {
    /// A new user: off, no password, allowed nothing (Redis's ACLCreateUser).
    pub(super) fn new(env: Env<'_>) -> User {
        User {
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            root: Selector::new(env.commands, env.pubsub),
            selectors: Vec::new(),
        }
    }

    /// The `default` user as Redis creates it: `on nopass ~* &* +@all`.
    pub(super) fn default_user(env: Env<'_>) -> User {
        let mut user = User::new(env);
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            let applied = user.apply(env, rule.as_bytes());
            debug_assert!(applied.is_ok(), "the default user's rules are valid");
        }
        user
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn nopass(&self) -> bool {
        self.nopass
    }

    pub fn sanitize_payload(&self) -> Option<Sanitize> {
        self.sanitize
    }

    /// Apply one rule (Redis's ACLSetUser), or refuse it and change nothing. An empty rule
    /// does nothing.
    pub(super) fn apply(&mut self, env: Env<'_>, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") || is("off") {
            self.enabled = is("on");
        } else if is("skip-sanitize-payload") {
            self.sanitize = Some(Sanitize::Skip);
        } else if is("sanitize-payload") {
            self.sanitize = Some(Sanitize::Always);
        } else if is("nopass") || is("resetpass") {
            self.nopass = is("nopass");
            self.passwords.clear();
        } else if let [b'>' | b'#', ..] = op {
            let hash = password_hash(op)?;
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if let [b'<' | b'!', ..] = op {
            let hash = password_hash(op)?;
            let at = self.passwords.iter().position(|p| *p == hash);
            self.passwords.remove(at.ok_or(RuleError::NoSuchPassword)?);
        } else if op.first() == Some(&b'(') && op.last() == Some(&b')') {
            self.selectors
                .push(selector_from(env, &op[1..op.len() - 1])?);
        } else if is("clearselectors") {
            self.selectors.clear();
        } else if is("reset") {
            *self = User {
                sanitize: Some(Sanitize::Always),
                ..User::new(env)
            };
        } else {
            self.root.apply(env.commands, op)?;
        }
        Ok(())
    }

    /// Whether `password` lets one log in as this user (not checking `on`): any password
    /// under `nopass`, else one whose digest is among the user's, compared in constant time.
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let hash = hex_sha256(password);
        self.passwords.iter().fold(false, |found, p| {
            found | constant_time_eq(p.as_bytes(), hash.as_bytes())
        })
    }

    /// Whether the user may run `req`: when the root selector or any other allows all of
    /// it. Otherwise the refusal Redis reports: a refused channel before a refused key
    /// before a refused command, and among those the last in the request.
    pub fn check(&self, commands: &Commands, req: &Request<'_>) -> Result<(), Denied> {
        let mut worst: Option<Denied> = None;
        for selector in self.all_selectors() {
            match selector.check(commands, req) {
                Ok(()) => return Ok(()),
                Err(denied) => {
                    let worse = worst
                        .as_ref()
                        .is_none_or(|w| (denied.reason, denied.position) > (w.reason, w.position));
                    if worse {
                        worst = Some(denied);
                    }
                }
            }
        }
        Err(worst.unwrap_or(Denied {
            reason: super::DenyReason::Command,
            object: commands.name(req.command).as_bytes().to_vec(),
            position: 0,
        }))
    }

    /// Whether the user may run anything on any key and channel (the default user as Redis
    /// makes it): the dispatcher then skips the check.
    pub fn unrestricted(&self) -> bool {
        self.root.allows_everything()
    }

    /// Whether some selector grants `access` to `key` (Redis's ACLUserCheckKeyPerm).
    pub fn check_key(&self, key: &[u8], access: KeyAccess) -> bool {
        let key = KeyRef { name: key, access };
        self.all_selectors().any(|s| s.allows_key(&key))
    }

    /// Whether some selector allows the channel (Redis's ACLUserCheckChannelPerm), which
    /// decides whether a subscribed client may stay after its user's rules change.
    pub fn check_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        let channel = super::ChannelRef {
            name: channel,
            is_pattern,
        };
        self.all_selectors().any(|s| s.allows_channel(&channel))
    }

    /// Whether some selector allows `req` and grants `access` to every key (SORT's BY and
    /// GET patterns need read access to all keys).
    pub fn check_with_every_key(
        &self,
        commands: &Commands,
        req: &Request<'_>,
        access: KeyAccess,
    ) -> bool {
        self.all_selectors()
            .any(|s| s.check(commands, req).is_ok() && s.allows_every_key(access))
    }

    fn all_selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(&self.selectors)
    }

    /// The user's rules as ACL LIST shows them after `user <name> ` (Redis's
    /// ACLDescribeUser): flags, `#<hash>` passwords, the root selector, `(...)` selectors.
    pub fn describe(&self, commands: &Commands) -> Vec<u8> {
        let mut out = Vec::new();
        for flag in self.flags() {
            out.extend_from_slice(flag.as_bytes());
            out.push(b' ');
        }
        for hash in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(hash.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&describe::selector_rules(commands, &self.root));
        for selector in &self.selectors {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&describe::selector_rules(commands, selector));
            out.push(b')');
        }
        out
    }

    /// ACL GETUSER's fields.
    pub fn info(&self, commands: &Commands) -> UserInfo {
        let info = |s: &Selector| SelectorInfo {
            commands: describe::command_rules(commands, s),
            keys: describe::keys_field(s),
            channels: describe::channels_field(s),
        };
        UserInfo {
            flags: self.flags(),
            passwords: self.passwords.clone(),
            root: info(&self.root),
            selectors: self.selectors.iter().map(info).collect(),
        }
    }

    /// The flags in Redis's order: `on`/`off`, `nopass`, and the payload check.
    fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            Some(Sanitize::Skip) => flags.push("skip-sanitize-payload"),
            Some(Sanitize::Always) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }
}

/// A `(...)` selector: its text split as a config line, each rule applied to a new
/// selector. Unbalanced quotes make it an empty selector, as in Redis.
fn selector_from(env: Env<'_>, text: &[u8]) -> Result<Selector, RuleError> {
    let mut selector = Selector::new(env.commands, env.pubsub);
    for rule in split_args(text).unwrap_or_default() {
        selector.apply(env.commands, &rule)?;
    }
    Ok(selector)
}

/// The digest a password rule names: `>pass` and `<pass` hash it, `#hash` and `!hash` give
/// it, 64 lowercase hex digits.
fn password_hash(op: &[u8]) -> Result<String, RuleError> {
    let (kind, rest) = (op[0], &op[1..]);
    if kind == b'>' || kind == b'<' {
        return Ok(hex_sha256(rest));
    }
    let valid = rest.len() == 64 && rest.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(rest).into_owned())
}

/// SHA-256 of `data` in lowercase hex, as Redis keeps passwords.
pub fn hex_sha256(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}
