//! Local publish/subscribe: channels and patterns, each subscriber fed through a bounded
//! queue. A subscriber that falls too far behind is disconnected (as Redis's pubsub output
//! buffer limit does) rather than let its queue grow without bound. Messages do not cross
//! regions (SEMANTICS.md: a channel option, off by default, not built yet). MONITOR clients
//! are fed the same way.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Messages queued per subscriber before it is disconnected as too slow.
pub const SUBSCRIBER_QUEUE_MAX: usize = 16 * 1024;

/// A message on its way to one subscriber.
#[derive(Debug, Clone)]
pub enum Message {
    Message {
        channel: Bytes,
        payload: Bytes,
    },
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        payload: Bytes,
    },
    /// A message of a shard channel (SPUBLISH).
    SMessage {
        channel: Bytes,
        payload: Bytes,
    },
    /// A line of MONITOR's feed (without its `+` and line end).
    Monitor(Bytes),
    /// Client-side caching: drop these keys (`None`: everything). `redirected`: sent to
    /// the client another one redirects its invalidations to.
    Invalidate {
        keys: Option<Vec<Bytes>>,
        redirected: bool,
    },
    /// The client invalidations were redirected to is gone.
    RedirectBroken(u64),
    /// The client has been idle for a while: it gives back its empty read buffer, if it
    /// still is (sent by the upkeep, not a message to write).
    ShrinkIdle,
}

/// The channel a RESP2 client redirected to hears invalidations on.
pub const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";

impl Message {
    /// Encode the message for its subscriber, as RESP2 or RESP3 (`resp`) says.
    /// `subscribed`: the client is in subscribe mode (a RESP2 client hears redirected
    /// invalidations only then, as a message of [`INVALIDATE_CHANNEL`]; without RESP3, a
    /// client hears nothing of its own).
    pub fn write(self, out: &mut bytes::BytesMut, resp: u8, subscribed: bool) {
        use crate::reply::Reply;
        let push = match self {
            Message::Invalidate { keys, redirected } => {
                let keys = match keys {
                    Some(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
                    None => Reply::Nil,
                };
                if resp >= 3 {
                    vec![Reply::bulk("invalidate"), keys]
                } else if redirected && subscribed {
                    vec![
                        Reply::bulk("message"),
                        Reply::bulk(INVALIDATE_CHANNEL),
                        keys,
                    ]
                } else {
                    return;
                }
            }
            Message::RedirectBroken(id) if resp >= 3 => {
                vec![Reply::bulk("tracking-redir-broken"), Reply::Int(id as i64)]
            }
            Message::RedirectBroken(_) | Message::ShrinkIdle => return,
            Message::Monitor(line) => {
                out.extend_from_slice(b"+");
                out.extend_from_slice(&line);
                out.extend_from_slice(b"\r\n");
                return;
            }
            Message::Message { channel, payload } => {
                vec![
                    Reply::bulk("message"),
                    Reply::Bulk(channel),
                    Reply::Bulk(payload),
                ]
            }
            Message::SMessage { channel, payload } => {
                vec![
                    Reply::bulk("smessage"),
                    Reply::Bulk(channel),
                    Reply::Bulk(payload),
                ]
            }
            Message::PMessage {
                pattern,
                channel,
                payload,
            } => vec![
                Reply::bulk("pmessage"),
                Reply::Bulk(pattern),
                Reply::Bulk(channel),
                Reply::Bulk(payload),
            ],
        };
        Reply::Push(push).write(out, resp);
    }
}

/// One client's end of its message queue, and the flag that tells it to go when the queue
/// overflowed.
#[derive(Debug, Clone)]
pub struct Sender {
    pub tx: mpsc::Sender<Message>,
    pub overflowed: Arc<AtomicBool>,
}

/// What a client subscribes to: a channel, a pattern of channels, or a shard channel (Redis
/// 7's sharded pub/sub: with one shard per node, a namespace of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

#[derive(Debug, Default)]
struct Registry {
    channels: HashMap<Bytes, HashMap<u64, Sender>>,
    patterns: HashMap<Bytes, HashMap<u64, Sender>>,
    shard_channels: HashMap<Bytes, HashMap<u64, Sender>>,
    monitors: HashMap<u64, Sender>,
    /// Every connected client's queue (invalidations go to a client by its id).
    clients: HashMap<u64, Sender>,
}

impl Registry {
    fn of(&mut self, kind: Kind) -> &mut HashMap<Bytes, HashMap<u64, Sender>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }
}

/// Every subscription of every client.
#[derive(Debug, Default)]
pub struct PubSub {
    reg: Mutex<Registry>,
    /// How many clients are in MONITOR mode: read on every command, so without a lock.
    monitoring: AtomicUsize,
}

/// Queue a message for one client; a full queue marks it to be closed.
fn send(s: &Sender, m: Message) {
    if s.tx.try_send(m).is_err() {
        // Full (or gone): the client's loop closes it when it next looks.
        s.overflowed.store(true, Ordering::Relaxed);
    }
}

impl PubSub {
    fn reg(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A client connected: messages can be sent to it by its id.
    pub fn connect(&self, client: u64, tx: &Sender) {
        self.reg().clients.insert(client, tx.clone());
    }

    /// A client is gone.
    pub fn disconnect(&self, client: u64) {
        self.reg().clients.remove(&client);
    }

    /// Whether client `client` is connected.
    pub fn is_connected(&self, client: u64) -> bool {
        self.reg().clients.contains_key(&client)
    }

    /// Tells an idle client to give back its read buffer; a full queue is no overflow
    /// (the client is busy with messages, not idle).
    pub fn nudge_idle(&self, client: u64) {
        if let Some(tx) = self.reg().clients.get(&client) {
            let _ = tx.tx.try_send(Message::ShrinkIdle);
        }
    }

    /// Queue a message for client `client`: false when it is not connected.
    pub fn send_to(&self, client: u64, m: Message) -> bool {
        match self.reg().clients.get(&client) {
            Some(tx) => {
                send(tx, m);
                true
            }
            None => false,
        }
    }

    pub fn subscribe(&self, kind: Kind, name: &Bytes, client: u64, tx: &Sender) {
        self.reg()
            .of(kind)
            .entry(name.clone())
            .or_default()
            .insert(client, tx.clone());
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], client: u64) {
        let mut r = self.reg();
        let map = r.of(kind);
        if let Some(subs) = map.get_mut(name) {
            subs.remove(&client);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Deliver to every subscriber of `channel` and of every matching pattern; returns how
    /// many received it.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let r = self.reg();
        let mut n = 0;
        if let Some(subs) = r.channels.get(channel) {
            for tx in subs.values() {
                send(
                    tx,
                    Message::Message {
                        channel: channel.clone(),
                        payload: payload.clone(),
                    },
                );
                n += 1;
            }
        }
        for (pattern, subs) in &r.patterns {
            if crate::glob::matches(pattern, channel) {
                for tx in subs.values() {
                    send(
                        tx,
                        Message::PMessage {
                            pattern: pattern.clone(),
                            channel: channel.clone(),
                            payload: payload.clone(),
                        },
                    );
                    n += 1;
                }
            }
        }
        n
    }

    /// SPUBLISH: deliver to every subscriber of shard channel `channel`; returns how many.
    pub fn spublish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let r = self.reg();
        let subs = r.shard_channels.get(channel);
        for tx in subs.into_iter().flat_map(HashMap::values) {
            let m = Message::SMessage {
                channel: channel.clone(),
                payload: payload.clone(),
            };
            send(tx, m);
        }
        subs.map_or(0, HashMap::len)
    }

    /// What client `client` subscribes to: each channel, pattern and shard channel, with
    /// its kind.
    pub fn subscriptions_of(&self, client: u64) -> Vec<(Kind, Bytes)> {
        let mut r = self.reg();
        let mut out = Vec::new();
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            let of_kind = r.of(kind).iter();
            let subscribed = of_kind.filter(|(_, subs)| subs.contains_key(&client));
            out.extend(subscribed.map(|(name, _)| (kind, name.clone())));
        }
        out
    }

    /// Channels (or shard channels) with at least one subscriber, optionally matching a
    /// pattern.
    pub fn channels_of(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut r = self.reg();
        let mut v: Vec<Bytes> = r
            .of(kind)
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::glob::matches(p, c)))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Channels with at least one subscriber, optionally matching a pattern.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels_of(Kind::Channel, pattern)
    }

    /// Subscribers of a channel (or shard channel).
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.reg().of(kind).get(channel).map_or(0, HashMap::len)
    }

    pub fn numpat(&self) -> usize {
        self.reg().patterns.len()
    }

    /// MONITOR: `client` is fed every command from now on, until [`Self::unmonitor`].
    pub fn monitor(&self, client: u64, tx: &Sender) {
        if self.reg().monitors.insert(client, tx.clone()).is_none() {
            self.monitoring.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn unmonitor(&self, client: u64) {
        if self.reg().monitors.remove(&client).is_some() {
            self.monitoring.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Whether any client is in MONITOR mode.
    pub fn monitored(&self) -> bool {
        self.monitoring.load(Ordering::Relaxed) > 0
    }

    /// A line to every MONITOR client.
    pub fn feed_monitors(&self, line: Bytes) {
        for tx in self.reg().monitors.values() {
            send(tx, Message::Monitor(line.clone()));
        }
    }
}
