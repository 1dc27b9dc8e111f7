//! Every user, by name: the state ACL SETUSER, DELUSER, GETUSER and LIST work on.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::PubsubDefault;
use super::commands::Commands;
use super::error::AclError;
use super::file::{self, USERS_RECORD_FORMAT, UsersRecord};
use super::rules::{has_spaces, merge_selectors};
use super::user::{Env, User};

/// The name of the user every new connection starts as.
pub const DEFAULT_USER: &[u8] = b"default";

/// The users, in name order (the order ACL LIST and ACL USERS show them), and what their
/// rules need: the commands and `acl-pubsub-default`. There is always a `default` user.
#[derive(Debug, Clone)]
pub struct Users {
    commands: Arc<Commands>,
    pubsub: PubsubDefault,
    users: BTreeMap<Vec<u8>, User>,
}

impl Users {
    /// Only the `default` user, as Redis starts: `on nopass ~* &* +@all`.
    pub fn new(commands: Arc<Commands>, pubsub: PubsubDefault) -> Users {
        let mut users = Users {
            commands,
            pubsub,
            users: BTreeMap::new(),
        };
        let default = User::default_user(users.env());
        users.users.insert(DEFAULT_USER.to_vec(), default);
        users
    }

    pub(super) fn env(&self) -> Env<'_> {
        Env {
            commands: &self.commands,
            pubsub: self.pubsub,
        }
    }

    pub fn commands(&self) -> &Commands {
        &self.commands
    }

    /// The command view, shared (to build another set of users on it).
    pub fn commands_handle(&self) -> Arc<Commands> {
        Arc::clone(&self.commands)
    }

    /// `acl-pubsub-default`: the channels of users, selectors and `reset`s made from now on.
    pub fn set_pubsub_default(&mut self, pubsub: PubsubDefault) {
        self.pubsub = pubsub;
    }

    pub fn pubsub_default(&self) -> PubsubDefault {
        self.pubsub
    }

    pub fn get(&self, name: &[u8]) -> Option<&User> {
        self.users.get(name)
    }

    /// The names, in order (ACL USERS).
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.users.keys().map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// ACL SETUSER: create the user or change it, applying every rule or none. Selectors
    /// spread over several arguments are joined first.
    pub fn set_user<A: AsRef<[u8]>>(&mut self, name: &[u8], rules: &[A]) -> Result<(), AclError> {
        if has_spaces(name) {
            return Err(AclError::BadUsername);
        }
        let rules = merge_selectors(rules)?;
        let env = self.env();
        let mut user = self
            .users
            .get(name)
            .cloned()
            .unwrap_or_else(|| User::new(env));
        for rule in rules {
            if let Err(error) = user.apply(env, &rule) {
                return Err(AclError::Rule { rule, error });
            }
        }
        self.users.insert(name.to_vec(), user);
        Ok(())
    }

    /// ACL DELUSER: how many of `names` there were. The `default` user cannot go, and then
    /// none goes. The caller disconnects the clients logged in as a removed user.
    pub fn delete<A: AsRef<[u8]>>(&mut self, names: &[A]) -> Result<usize, AclError> {
        if names.iter().any(|n| n.as_ref() == DEFAULT_USER) {
            return Err(AclError::DeleteDefault);
        }
        Ok(names
            .iter()
            .filter(|n| self.users.remove(n.as_ref()).is_some())
            .count())
    }

    /// One ACL LIST line: `user <name> <rules>`.
    pub fn list_line(&self, name: &[u8]) -> Option<Vec<u8>> {
        let user = self.users.get(name)?;
        Some([b"user ", name, b" ", &user.describe(&self.commands)].concat())
    }

    /// ACL LIST: one line per user, in name order. The same lines make the ACL file and the
    /// record of the users ([`Users::to_rules_lines`]).
    pub fn list(&self) -> Vec<Vec<u8>> {
        self.names().filter_map(|n| self.list_line(n)).collect()
    }

    /// AUTH and HELLO: whether `name` exists, is on, and takes `password`. A refusal is
    /// answered `-WRONGPASS invalid username-password pair or user is disabled.`
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> bool {
        self.users
            .get(name)
            .is_some_and(|u| u.enabled() && u.password_matches(password))
    }

    /// `requirepass`: the default user's only password, or `nopass` for none.
    pub fn set_default_password(&mut self, password: Option<&[u8]>) {
        let env = Env {
            commands: &self.commands,
            pubsub: self.pubsub,
        };
        if let Some(user) = self.users.get_mut(DEFAULT_USER) {
            let rule = match password {
                Some(p) => [b">", p].concat(),
                None => b"nopass".to_vec(),
            };
            let applied = user.apply(env, b"resetpass").and(user.apply(env, &rule));
            debug_assert!(applied.is_ok(), "password rules are always valid");
        }
    }

    /// What ACL SAVE writes: one ACL LIST line per user, each ending in `\n`.
    pub fn file_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.list() {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        out
    }

    /// ACL LOAD of `text`, read from the file `filename` (named in the errors): every user
    /// replaced by the file's, or, at the first problem, nothing changed and every problem
    /// found in one error, worded as Redis words them.
    pub fn load_file(&mut self, filename: &str, text: &[u8]) -> Result<(), AclError> {
        let mut users = file::parse_file(self.env(), filename, text)?;
        users
            .entry(DEFAULT_USER.to_vec())
            .or_insert_with(|| User::default_user(self.env()));
        self.users = users;
        Ok(())
    }

    /// Every user as ACL LIST lines (`user <name> <rules>`).
    pub fn to_rules_lines(&self) -> Vec<Vec<u8>> {
        self.list()
    }

    /// The users `lines` describe; `default` as Redis creates it if they do not.
    pub fn from_rules_lines(
        commands: Arc<Commands>,
        pubsub: PubsubDefault,
        lines: &[Vec<u8>],
    ) -> Result<Users, AclError> {
        let mut users = Users::new(commands, pubsub);
        users.load_file("rules", &lines.join(&b'\n'))?;
        Ok(users)
    }

    pub fn to_record(&self) -> UsersRecord {
        UsersRecord {
            format: USERS_RECORD_FORMAT,
            lines: self.to_rules_lines(),
        }
    }

    pub fn from_record(
        commands: Arc<Commands>,
        pubsub: PubsubDefault,
        record: &UsersRecord,
    ) -> Result<Users, AclError> {
        if record.format != USERS_RECORD_FORMAT {
            return Err(AclError::File(format!(
                "ACL record format {} is not {USERS_RECORD_FORMAT}",
                record.format
            )));
        }
        Users::from_rules_lines(commands, pubsub, &record.lines)
    }
}
