//! Client-side caching (CLIENT TRACKING), as Redis 7.0 has it: the keys each tracking
//! client read (the tracking table, `tracking-table-max-keys` at most), the prefixes
//! BCAST clients follow, and the invalidation messages a change sends them. A change is
//! any change the store tells of: a command here, an op from another region, a full sync
//! or repair, an expiry — so a client's cache is as fresh as its region.

use crate::pubsub::{Message, PubSub};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// CLIENT TRACKING ON's options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The client invalidations go to (0: the client itself).
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Bytes>,
}

/// One tracking client.
#[derive(Debug)]
struct Client {
    options: Options,
    /// Its redirect target was gone when an invalidation was due.
    broken_redirect: bool,
}

/// A BCAST prefix: who follows it, and the keys under it changed in this batch, each with
/// the client of this node that changed it last (`None`: another region, or expiry).
#[derive(Debug, Default)]
struct Prefix {
    clients: HashSet<u64>,
    changed: BTreeMap<Bytes, Option<u64>>,
}

#[derive(Debug, Default)]
struct State {
    clients: HashMap<u64, Client>,
    /// Key → the clients that read it since it last changed.
    table: HashMap<Bytes, HashSet<u64>>,
    /// How many (key, client) pairs the table holds.
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
}

/// What INFO tells of tracking.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub clients: usize,
    pub keys: usize,
    pub items: usize,
    pub prefixes: usize,
}

/// What CLIENT TRACKINGINFO tells of one client.
#[derive(Debug, Clone)]
pub struct Info {
    pub options: Options,
    pub broken_redirect: bool,
}

/// Every tracking client and what it tracks.
#[derive(Debug, Default)]
pub struct Tracking {
    state: Mutex<State>,
    /// How many clients track: read without the lock on every change.
    clients: AtomicUsize,
    /// How many keys the table holds: read without the lock on every change (keys read by
    /// clients that have since stopped tracking stay until they change, as in Redis).
    keys: AtomicUsize,
    /// `tracking-table-max-keys` (0: no limit).
    keys_max: AtomicUsize,
}

/// Whether one of two prefixes begins the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

impl Tracking {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any client tracks, or any key is remembered.
    pub fn active(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0 || self.keys.load(Ordering::Relaxed) > 0
    }

    /// Note the table's size after a change.
    fn counted(&self, state: &State) {
        self.keys.store(state.table.len(), Ordering::Relaxed);
    }

    pub fn set_keys_max(&self, max: u64) {
        self.keys_max.store(max as usize, Ordering::Relaxed);
    }

    /// CLIENT TRACKING ON for client `id`, checked as Redis checks it against the options
    /// it tracks with now (Redis's error text when refused, nothing changed). Prefixes
    /// add to those it follows.
    pub fn enable(&self, id: u64, options: Options) -> Result<(), String> {
        let mut state = self.state();
        if !options.bcast && !options.prefixes.is_empty() {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        let now = state.clients.get(&id).map(|c| &c.options);
        if now.is_some_and(|o| o.bcast != options.bcast) {
            return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if options.bcast && (options.optin || options.optout) {
            return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if options.optin && options.optout {
            return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if now.is_some_and(|o| (options.optin && o.optout) || (options.optout && o.optin)) {
            return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        let existing: &[Bytes] = now.map_or(&[], |o| &o.prefixes);
        for (i, p) in options.prefixes.iter().enumerate() {
            let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    show(p),
                    show(e)
                ));
            }
            if let Some(q) = options.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    show(p),
                    show(q)
                ));
            }
        }
        let mut prefixes = existing.to_vec();
        if options.bcast {
            let wanted = if options.prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                options.prefixes.clone()
            };
            for p in wanted {
                state
                    .prefixes
                    .entry(p.clone())
                    .or_default()
                    .clients
                    .insert(id);
                if !prefixes.contains(&p) {
                    prefixes.push(p);
                }
            }
        }
        prefixes.sort();
        let client = Client {
            options: Options {
                prefixes,
                ..options
            },
            broken_redirect: false,
        };
        if state.clients.insert(id, client).is_none() {
            self.clients.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// CLIENT TRACKING OFF, or the client is gone. The keys it read stay in the table
    /// until they change (as in Redis): it is simply not told.
    pub fn disable(&self, id: u64) {
        let mut state = self.state();
        let Some(client) = state.clients.remove(&id) else {
            return;
        };
        self.clients.fetch_sub(1, Ordering::Relaxed);
        for p in &client.options.prefixes {
            if let Some(prefix) = state.prefixes.get_mut(p) {
                prefix.clients.remove(&id);
                if prefix.clients.is_empty() {
                    state.prefixes.remove(p);
                }
            }
        }
    }

    /// How client `id` tracks, if it does.
    pub fn info(&self, id: u64) -> Option<Info> {
        self.state().clients.get(&id).map(|c| Info {
            options: c.options.clone(),
            broken_redirect: c.broken_redirect,
        })
    }

    /// Client `id` read `keys`: tell it when they change. `caching`: CLIENT CACHING was
    /// given for this command (OPTIN: track; OPTOUT: don't).
    pub fn remember<'a>(&self, id: u64, keys: impl Iterator<Item = &'a [u8]>, caching: bool) {
        let mut state = self.state();
        let Some(client) = state.clients.get(&id) else {
            return;
        };
        let o = &client.options;
        if o.bcast || (o.optin && !caching) || (o.optout && caching) {
            return;
        }
        for key in keys {
            let readers = state.table.entry(Bytes::copy_from_slice(key)).or_default();
            if readers.insert(id) {
                state.items += 1;
            }
        }
        self.counted(&state);
    }

    /// `key` changed, by client `writer` of this node (`None`: another region, an
    /// expiry): tell those that read it (not the writer itself when it asked for NOLOOP),
    /// and note it for the BCAST prefixes it is under (told at the end of the batch).
    pub fn invalidate(&self, pubsub: &PubSub, key: &[u8], writer: Option<u64>) {
        if !self.active() {
            return;
        }
        let mut state = self.state();
        for (p, prefix) in state.prefixes.iter_mut() {
            if key.starts_with(p) {
                prefix.changed.insert(Bytes::copy_from_slice(key), writer);
            }
        }
        state.tell_readers(pubsub, key, writer);
        self.counted(&state);
    }

    /// A database (or all) was emptied: every tracking client is told to drop everything,
    /// and the table is emptied.
    /// The table is emptied even with no client tracking now: keys read by clients that
    /// have since turned tracking off are forgotten too, as in Redis.
    pub fn flushed(&self, pubsub: &PubSub) {
        let mut state = self.state();
        let ids: Vec<u64> = state.clients.keys().copied().collect();
        for id in ids {
            state.send(pubsub, id, None);
        }
        state.table.clear();
        state.items = 0;
        self.counted(&state);
    }

    /// The end of a batch: each BCAST client is told, per prefix, of the keys under it
    /// that changed (with NOLOOP, those it did not change itself).
    pub fn broadcast(&self, pubsub: &PubSub) {
        if !self.active() {
            return;
        }
        let mut state = self.state();
        let mut due = Vec::new();
        for prefix in state.prefixes.values_mut() {
            if prefix.changed.is_empty() {
                continue;
            }
            let changed = std::mem::take(&mut prefix.changed);
            for &id in &prefix.clients {
                due.push((id, changed.clone()));
            }
        }
        for (id, changed) in due {
            let noloop = state.clients.get(&id).is_some_and(|c| c.options.noloop);
            let keys: Vec<Bytes> = changed
                .into_iter()
                .filter(|(_, writer)| !(noloop && *writer == Some(id)))
                .map(|(k, _)| k)
                .collect();
            if !keys.is_empty() {
                state.send(pubsub, id, Some(keys));
            }
        }
    }

    /// Keep the table within `tracking-table-max-keys`: keys over it are forgotten, and
    /// their readers told to drop them.
    /// Inlined: the session runs it before every command, and without a limit or a
    /// tracking client (the default) this check is all it does.
    #[inline]
    pub fn enforce_limit(&self, pubsub: &PubSub) {
        let max = self.keys_max.load(Ordering::Relaxed);
        if max != 0 && self.active() {
            self.evict_over(max, pubsub);
        }
    }

    #[inline(never)]
    fn evict_over(&self, max: usize, pubsub: &PubSub) {
        let mut state = self.state();
        if state.table.len() <= max {
            return;
        }
        let over: Vec<Bytes> = state
            .table
            .keys()
            .take(state.table.len() - max)
            .cloned()
            .collect();
        for key in over {
            state.tell_readers(pubsub, &key, None);
        }
        self.counted(&state);
    }

    pub fn counts(&self) -> Counts {
        let state = self.state();
        Counts {
            clients: state.clients.len(),
            keys: state.table.len(),
            items: state.items,
            prefixes: state.prefixes.len(),
        }
    }
}

impl State {
    /// Tell the clients that read `key` that it changed, and forget it.
    fn tell_readers(&mut self, pubsub: &PubSub, key: &[u8], writer: Option<u64>) {
        let Some(readers) = self.table.remove(key) else {
            return;
        };
        self.items -= readers.len();
        for id in readers {
            let Some(client) = self.clients.get(&id) else {
                continue;
            };
            // A client that switched to BCAST is told by its prefixes only.
            if client.options.bcast || (client.options.noloop && writer == Some(id)) {
                continue;
            }
            self.send(pubsub, id, Some(vec![Bytes::copy_from_slice(key)]));
        }
    }

    /// Send client `id` an invalidation of `keys` (`None`: everything), or to the client
    /// it redirects to; a redirect target that is gone is told to the client itself.
    fn send(&mut self, pubsub: &PubSub, id: u64, keys: Option<Vec<Bytes>>) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let redirect = client.options.redirect;
        if redirect == 0 {
            pubsub.send_to(
                id,
                Message::Invalidate {
                    keys,
                    redirected: false,
                },
            );
        } else if !pubsub.send_to(
            redirect,
            Message::Invalidate {
                keys,
                redirected: true,
            },
        ) {
            client.broken_redirect = true;
            pubsub.send_to(id, Message::RedirectBroken(redirect));
        }
    }
}
