//! The node's ACL users and its ACL LOG. The users are one set for the whole distributed
//! instance: with coordinators, they hold it and every node takes their version of it
//! ([`Accounts::take_coordinated`]); standalone, a node keeps its own, in its data
//! directory, or in its `aclfile` (ACL LOAD and ACL SAVE, as in Redis). The ACL LOG is each
//! node's own.
//!
//! The users are swapped whole on every change (readers hold an `Arc` of them), and a flag
//! says whether any user can be refused anything: while none can (the default user alone,
//! as Redis starts), commands skip the check.

use crate::acl::{AclError, AclLog, Commands, PubsubDefault, Users};
use crate::config::Config;
use crate::engine::meta::Meta;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockWriteGuard};
use tracing::{error, warn};

#[derive(Debug)]
pub struct Accounts {
    users: RwLock<Arc<Users>>,
    log: Mutex<AclLog>,
    /// Some user can be refused something.
    restricted: AtomicBool,
    /// The coordinators' version of the users held (0: this node's own).
    version: AtomicU64,
    meta: Meta,
}

fn pubsub_default(config: &Config) -> PubsubDefault {
    if config.acl_pubsub_all {
        PubsubDefault::AllChannels
    } else {
        PubsubDefault::ResetChannels
    }
}

impl Accounts {
    /// The users at start: the `aclfile`'s when there is one (a file that cannot be read
    /// stops the node, as in Redis), else those the data directory holds, else the default
    /// user; then `requirepass` as the default user's password.
    pub fn open(config: &Config, commands: Arc<Commands>, meta: Meta) -> Result<Accounts, String> {
        let pubsub = pubsub_default(config);
        let mut users = Users::new(Arc::clone(&commands), pubsub);
        let mut version = 0;
        if let Some(path) = &config.acl_file {
            let text = std::fs::read(path)
                .map_err(|e| format!("cannot read the aclfile {}: {e}", path.display()))?;
            users
                .load_file(&path.display().to_string(), &text)
                .map_err(|e| e.to_string())?;
        } else {
            match meta.acl_users() {
                Ok(Some((v, lines))) => {
                    users = Users::from_rules_lines(commands, pubsub, &lines)
                        .map_err(|e| format!("the saved ACL users cannot be read: {e}"))?;
                    version = v;
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        if let Some(p) = &config.requirepass {
            users.set_default_password(Some(p.as_bytes()));
        }
        let accounts = Accounts {
            restricted: AtomicBool::new(false),
            users: RwLock::new(Arc::new(users)),
            log: Mutex::new(AclLog::new(config.acl_log_len_max)),
            version: AtomicU64::new(version),
            meta,
        };
        accounts.changed();
        Ok(accounts)
    }

    /// The users now.
    pub fn users(&self) -> Arc<Users> {
        Arc::clone(&self.users.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether some user can be refused something (else no command needs a check).
    pub fn restricted(&self) -> bool {
        self.restricted.load(Ordering::Relaxed)
    }

    /// The coordinators' version of the users held (0: this node's own).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    pub fn log(&self) -> MutexGuard<'_, AclLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the users (ACL SETUSER, DELUSER, LOAD): all of `change` or nothing. The new
    /// set is kept in the data directory unless an `aclfile` holds them (then ACL SAVE
    /// does, as in Redis).
    pub fn change<T>(
        &self,
        config: &Config,
        change: impl FnOnce(&mut Users) -> Result<T, AclError>,
    ) -> Result<T, AclError> {
        let users = self.write();
        let mut next = Users::clone(&users);
        let out = change(&mut next)?;
        if config.acl_file.is_none() {
            self.save(0, &next);
        }
        self.put(users, next, 0);
        Ok(out)
    }

    /// Take the coordinators' version `version` of the users (lines of ACL LIST), unless
    /// this node holds it or a newer one. Lines that do not read as users are refused
    /// whole (the node keeps what it has).
    pub fn take_coordinated(&self, config: &Config, version: u64, lines: &[Vec<u8>]) -> bool {
        // Under the lock: a command and the task that follows the coordinators may offer
        // the same version at once.
        let users = self.write();
        if version <= self.version() {
            return false;
        }
        let commands = users.commands_handle();
        let mut next = match Users::from_rules_lines(commands, pubsub_default(config), lines) {
            Ok(u) => u,
            Err(e) => {
                error!(version, error = %e, "the coordinators' ACL users cannot be read");
                return false;
            }
        };
        if let Some(p) = &config.requirepass {
            next.set_default_password(Some(p.as_bytes()));
        }
        self.save(version, &next);
        self.put(users, next, version);
        true
    }

    /// Settings that shape the users: `requirepass` (the default user's password),
    /// `acl-pubsub-default`, `acllog-max-len`.
    pub fn configure(&self, before: &Config, config: &Config) {
        self.log().set_len_max(config.acl_log_len_max);
        let pubsub = before.acl_pubsub_all != config.acl_pubsub_all;
        if before.requirepass == config.requirepass && !pubsub {
            return;
        }
        let users = self.write();
        let mut next = Users::clone(&users);
        next.set_pubsub_default(pubsub_default(config));
        if before.requirepass != config.requirepass {
            next.set_default_password(config.requirepass.as_deref().map(str::as_bytes));
        }
        let version = self.version();
        self.put(users, next, version);
    }

    fn write(&self) -> RwLockWriteGuard<'_, Arc<Users>> {
        self.users.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Put `next` in force (in place of what `users`, the lock, holds), at `version`.
    fn put(&self, mut users: RwLockWriteGuard<'_, Arc<Users>>, next: Users, version: u64) {
        *users = Arc::new(next);
        drop(users);
        self.version.store(version, Ordering::Relaxed);
        self.changed();
    }

    fn save(&self, version: u64, users: &Users) {
        if let Err(e) = self.meta.set_acl_users(version, &users.to_rules_lines()) {
            warn!(error = %e, "cannot keep the ACL users in the data directory");
        }
    }

    fn changed(&self) {
        let users = self.users();
        let restricted = users
            .names()
            .filter_map(|n| users.get(n))
            .any(|u| !u.unrestricted());
        self.restricted.store(restricted, Ordering::Relaxed);
    }
}
