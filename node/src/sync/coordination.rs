//! What the coordinators say this node is: its role, its child instance's epoch, the
//! assignment it follows, its place in its region, whether they are in reach, and its
//! instance's ACL users. Set by the task that follows them (`coordinated`) and GDC.ATTACH;
//! read by the write gate, ROLE, INFO and whoever applies the users.

use crate::engine::meta::Attachment;
use gdc_proto::leader::Coordinators;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

/// What this node is in its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Takes writes: without a coordinator, or its region's primary.
    Primary = 0,
    /// Follows its region's primary, serves reads, refuses writes.
    Secondary = 1,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        })
    }
}

/// A node's place in its region, which ROLE and `INFO replication` report in Redis's
/// terms: Sentinel clients check with ROLE that the node they were sent to is a master.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Place {
    /// Not run by a coordinator: a master of its own.
    #[default]
    Alone,
    /// Assigned its region's primary (fenced for a switchover too), with these secondaries
    /// (client address, server-id).
    Primary { secondaries: Vec<(String, u32)> },
    /// A secondary of this primary (client address); `None` while it has no primary, is
    /// not yet assigned, or was removed.
    Follows(Option<String>),
}

/// The instance's ACL users as the coordinators hold them: one ACL LIST line per user
/// (`user default on nopass ~* &* +@all`), at a version the coordinators raise by one at
/// every change. Version 0: never set (the node keeps its own users).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclRecord {
    pub version: u64,
    pub lines: Vec<String>,
}

/// Where this node's own changes to its instance go: the coordinators it follows, and its
/// instance's name there.
#[derive(Clone, Debug)]
pub struct Followed {
    pub coordinators: Coordinators,
    pub instance: String,
}

/// How this node stands with the coordinators.
#[derive(Debug)]
pub struct Coordination {
    /// [`Role`] as a number.
    role: AtomicU8,
    /// The epoch of this node's child instance (0 without a coordinator).
    epoch: AtomicU64,
    /// The coordinators' log index of the assignment this node follows (0 without one).
    assignment_index: AtomicU64,
    /// The coordinators running this node: from its flags, saved, or set by GDC.ATTACH
    /// (which a waiting task sees, and starts following them).
    attachment: watch::Sender<Option<Attachment>>,
    place: Mutex<Place>,
    /// The coordinators removed this node from the topology, and it stopped following them.
    removed: AtomicBool,
    /// Unix ms until which the coordinators' last answer to its heartbeat stands (sent +
    /// the failover timeout); 0 before the first. Past it the node is out of their reach
    /// (INFO says so); it takes writes all the same.
    contact_until_ms: AtomicU64,
    /// The newest ACL record the coordinators sent: only a higher version replaces it (a
    /// leader that has not caught up may send an older one).
    acl: watch::Sender<AclRecord>,
    /// Set once the node follows the coordinators.
    followed: Mutex<Option<Followed>>,
}

impl Coordination {
    /// A node run by `attachment`'s coordinators starts fenced: a primary replaced while it
    /// was down must not take writes on return, so it waits for its assignment.
    pub fn new(attachment: Option<Attachment>) -> Coordination {
        let fenced = attachment.is_some();
        let c = Coordination {
            role: AtomicU8::new(Role::Primary as u8),
            epoch: AtomicU64::new(0),
            assignment_index: AtomicU64::new(0),
            attachment: watch::Sender::new(attachment),
            place: Mutex::new(Place::Alone),
            removed: AtomicBool::new(false),
            contact_until_ms: AtomicU64::new(0),
            acl: watch::Sender::new(AclRecord::default()),
            followed: Mutex::new(None),
        };
        if fenced {
            c.set_role(Role::Secondary);
            c.set_place(Place::Follows(None));
        }
        c
    }

    pub fn role(&self) -> Role {
        if self.role.load(Ordering::Relaxed) == Role::Secondary as u8 {
            Role::Secondary
        } else {
            Role::Primary
        }
    }

    pub fn set_role(&self, role: Role) {
        self.role.store(role as u8, Ordering::Relaxed);
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    pub fn assignment_index(&self) -> u64 {
        self.assignment_index.load(Ordering::Relaxed)
    }

    pub fn set_assignment_index(&self, index: u64) {
        self.assignment_index.store(index, Ordering::Relaxed);
    }

    /// The coordinators running this node, if any.
    pub fn attachment(&self) -> Option<Attachment> {
        self.attachment.borrow().clone()
    }

    /// Run by these coordinators from now on (the task waiting on [`Self::watch_attachment`]
    /// starts following them).
    pub fn attach(&self, attachment: Attachment) {
        self.attachment.send_replace(Some(attachment));
    }

    pub fn watch_attachment(&self) -> watch::Receiver<Option<Attachment>> {
        self.attachment.subscribe()
    }

    pub fn place(&self) -> Place {
        self.place_locked().clone()
    }

    pub fn set_place(&self, place: Place) {
        *self.place_locked() = place;
    }

    fn place_locked(&self) -> MutexGuard<'_, Place> {
        self.place.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the coordinators removed this node from the topology.
    pub fn removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    pub fn set_removed(&self, removed: bool) {
        self.removed.store(removed, Ordering::Relaxed);
    }

    /// What INFO's `gdc_coordination` says: none, following or removed.
    pub fn mode(&self) -> &'static str {
        match self.attachment.borrow().as_ref() {
            None => "none",
            Some(_) if self.removed() => "removed",
            Some(_) => "following",
        }
    }

    /// The instance's ACL users, now and as each newer version arrives.
    pub fn acl(&self) -> watch::Receiver<AclRecord> {
        self.acl.subscribe()
    }

    /// Take `record` if its version is newer than the one held (a stale leader's older
    /// record, or the same version again, changes nothing); whether it was taken.
    pub fn offer_acl(&self, record: AclRecord) -> bool {
        self.acl.send_if_modified(|held| {
            let newer = record.version > held.version;
            if newer {
                *held = record;
            }
            newer
        })
    }

    /// The coordinators this node follows, once it does.
    pub fn followed(&self) -> Option<Followed> {
        self.followed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The node follows these coordinators from now on.
    pub fn set_followed(&self, followed: Followed) {
        *self.followed.lock().unwrap_or_else(|p| p.into_inner()) = Some(followed);
    }

    /// The coordinators answered a heartbeat: in reach until `until_ms`.
    pub fn heard_until(&self, until_ms: u64) {
        self.contact_until_ms.store(until_ms, Ordering::Relaxed);
    }

    /// Counts as just heard from, if never heard from yet (a node starts in reach).
    pub fn start_contact(&self, until_ms: u64) {
        let _ = self.contact_until_ms.compare_exchange(
            0,
            until_ms,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Whether the coordinators answered this node's heartbeat lately (as of `now_ms`): a
    /// node they do not run is never out of their reach.
    pub fn in_contact(&self, now_ms: u64) -> bool {
        self.attachment.borrow().is_none() || now_ms < self.contact_until_ms.load(Ordering::Relaxed)
    }

    /// How long this coordinated node has been out of the coordinators' reach, in ms (0
    /// while in reach, or for a node they do not run).
    pub fn out_of_reach_ms(&self, now_ms: u64) -> u64 {
        if self.in_contact(now_ms) {
            return 0;
        }
        now_ms.saturating_sub(self.contact_until_ms.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: u64, lines: &[&str]) -> AclRecord {
        AclRecord {
            version,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn an_older_acl_version_is_never_taken_over_a_newer_one() {
        let c = Coordination::new(None);
        let mut acl = c.acl();
        assert_eq!(*acl.borrow_and_update(), record(0, &[]), "never set");
        assert!(c.offer_acl(record(2, &["user default on nopass ~* &* +@all"])));
        assert!(acl.has_changed().expect("open"));
        assert_eq!(
            *acl.borrow_and_update(),
            record(2, &["user default on nopass ~* &* +@all"])
        );
        // A stale leader's older record, and the same version again: neither is taken, and
        // watchers are not woken.
        assert!(!c.offer_acl(record(1, &["user default off"])));
        assert!(!c.offer_acl(record(2, &["user default off"])));
        assert!(!acl.has_changed().expect("open"));
        assert_eq!(
            *acl.borrow(),
            record(2, &["user default on nopass ~* &* +@all"])
        );
        assert!(c.offer_acl(record(3, &["user default off"])));
        assert_eq!(*acl.borrow_and_update(), record(3, &["user default off"]));
    }
}
