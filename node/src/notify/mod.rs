//! What clients hear of changed keys: keyspace notifications ([`events`]), client-side
//! caching invalidations ([`tracking`]), and the wake-ups of clients blocked on keys
//! ([`blocked`]). [`Notifier`] is the store's observer
//! ([`crate::engine::store::KeyObserver`]), so both hear of every change, whoever made
//! it: a command here, an op from another region, a full sync or repair, an expiry.
//! Commands name their own events ([`Notifier::fire`]), as Redis's do; the events of an
//! op from another region are named from what it did ([`events::of_remote`]).

pub mod blocked;
pub mod events;
pub mod tracking;

use crate::engine::store::{Change, KeyObserver};
use crate::pubsub::PubSub;
use events::Classes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug)]
pub struct Notifier {
    pubsub: Arc<PubSub>,
    /// `notify-keyspace-events`, read on every change.
    classes: AtomicU32,
    tracking: tracking::Tracking,
    blocked: blocked::BlockedKeys,
}

impl Notifier {
    pub fn new(pubsub: Arc<PubSub>) -> Notifier {
        Notifier {
            pubsub,
            classes: AtomicU32::new(0),
            tracking: tracking::Tracking::default(),
            blocked: blocked::BlockedKeys::default(),
        }
    }

    /// Take on the settings in force (`notify-keyspace-events`,
    /// `tracking-table-max-keys`).
    pub fn configure(&self, config: &crate::config::Config) {
        self.classes
            .store(config.notify_keyspace_events, Ordering::Relaxed);
        self.tracking.set_keys_max(config.tracking_keys_max);
    }

    pub fn tracking(&self) -> &tracking::Tracking {
        &self.tracking
    }

    pub fn blocked(&self) -> &blocked::BlockedKeys {
        &self.blocked
    }

    /// Whether events of any of these classes are sent.
    pub fn sends(&self, classes: Classes) -> bool {
        self.classes.load(Ordering::Relaxed) & classes != 0
    }

    /// Event `event` of class `class` on `key` of database `db`: published on
    /// `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` as the settings say.
    /// Inlined: with notifications off (the default), every write runs only this check.
    #[inline]
    pub fn fire(&self, class: Classes, event: &'static str, db: usize, key: &[u8]) {
        let on = self.classes.load(Ordering::Relaxed);
        if on & class != 0 {
            self.publish(on, event, db, key);
        }
    }

    #[inline(never)]
    fn publish(&self, on: Classes, event: &'static str, db: usize, key: &[u8]) {
        if on & events::KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.pubsub.publish(
                &channel.into(),
                &bytes::Bytes::from_static(event.as_bytes()),
            );
        }
        if on & events::KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}").into_bytes();
            self.pubsub
                .publish(&channel.into(), &bytes::Bytes::copy_from_slice(key));
        }
    }
}

impl KeyObserver for Notifier {
    fn listening(&self) -> bool {
        self.classes.load(Ordering::Relaxed) != 0 || self.tracking.active() || self.blocked.any()
    }

    fn describes(&self) -> bool {
        // Only events name what a change did (a new key, what a remote op did).
        self.classes.load(Ordering::Relaxed) != 0
    }

    fn changed(&self, db: usize, key: &[u8], change: Change<'_>) {
        self.blocked.changed(db, key);
        let writer = match change {
            Change::Command { client, created } => {
                if created {
                    self.fire(events::NEW, "new", db, key);
                }
                Some(client)
            }
            Change::Remote {
                effect,
                existed,
                after,
            } => {
                if self.classes.load(Ordering::Relaxed) != 0 {
                    for (class, event) in events::of_remote(effect, existed, after) {
                        self.fire(class, event, db, key);
                    }
                }
                None
            }
            Change::Merged => None,
            Change::Expired => {
                self.fire(events::EXPIRED, "expired", db, key);
                None
            }
            Change::Evicted => {
                self.fire(events::EVICTED, "evicted", db, key);
                None
            }
        };
        self.tracking.invalidate(&self.pubsub, key, writer);
    }

    fn flushed(&self) {
        self.blocked.wake_all();
        self.tracking.flushed(&self.pubsub);
    }

    fn batch_done(&self) {
        self.tracking.broadcast(&self.pubsub);
    }
}
