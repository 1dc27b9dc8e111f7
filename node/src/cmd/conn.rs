//! A client connection's state, as commands see and change it: database, protocol,
//! transaction, subscriptions, CLIENT REPLY mode, and what CLIENT LIST shows of it.

use bytes::Bytes;

/// Per-connection state.
#[derive(Debug)]
pub struct Conn {
    pub id: u64,
    pub db: usize,
    /// Protocol version: 2 or 3 (HELLO).
    pub resp: u8,
    pub authenticated: bool,
    /// The ACL user the connection runs as (`default` until AUTH).
    pub user: Bytes,
    pub name: Option<Bytes>,
    /// Close after replying (QUIT).
    pub closing: bool,
    /// Commands queued since MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command queued since MULTI was refused: EXEC answers EXECABORT.
    pub multi_failed: bool,
    /// WATCHed keys: database, key, and the key's version when watched.
    pub watched: Vec<(usize, Bytes, Option<gdc_crdt::Hlc>)>,
    /// Subscribed channels and patterns.
    pub channels: std::collections::HashSet<Bytes>,
    pub patterns: std::collections::HashSet<Bytes>,
    /// Shard channels (SSUBSCRIBE).
    pub shard_channels: std::collections::HashSet<Bytes>,
    /// Where published messages for this client are queued.
    pub pubsub_tx: Option<crate::pubsub::Sender>,
    /// Running EXEC, or a script's commands: blocking commands do not block.
    pub in_exec: bool,
    /// The connection a script's commands run on (see [`Conn::for_script`]).
    pub in_script: bool,
    /// Memory was full (nothing could be evicted) when the current command began: a
    /// script's first write that may grow memory is refused (Redis's rule).
    pub out_of_memory: bool,
    /// The error reply of the command running now is counted in the error stats already
    /// (a script's, by the command inside it that failed).
    pub error_counted: bool,
    /// The last command's name (CLIENT LIST): the command table's own, so that noting it
    /// after every command copies two words.
    pub last_cmd: &'static str,
    /// This node's op id of the connection's last write (WAIT waits for regions to have it).
    pub last_write_op: u64,
    /// Unix ms at which the command this connection waits in first blocked (`None`: not
    /// waiting). A retry after a write keeps the first deadline, and finds a key that has
    /// meanwhile become another type not ready (it waits on, as in Redis) instead of failing.
    pub blocked_since: Option<u64>,
    /// Set by a session's batch: when the command before ended (or, for the first, a fresh
    /// read), the next one's start, so that a pipelined command reads the clock once, not
    /// twice (its time then includes the bookkeeping between the two, tens of ns). Taken by
    /// the command the session runs; cleared when the batch ends. In [`super::clock_ns`]'s
    /// nanoseconds.
    pub clock: Option<u64>,
    /// Whether memory was still full once room was made for the next command (`None`: not
    /// made yet; the command makes it).
    pub room_full: Option<bool>,
    /// The command the connection ran last: a pipeline of one command finds it again by
    /// comparing its name, without a hash lookup.
    pub(super) last_spec: Option<&'static super::table::Spec>,
    /// CLIENT REPLY: whether this connection's replies are sent.
    pub replies: Replies,
    /// In MONITOR mode: fed every command.
    pub monitor: bool,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    /// The query buffer while the current command runs (CLIENT LIST).
    pub query: QueryBuffer,
    /// CLIENT TRACKING ON: the client its invalidations go to (0: itself). The tracking
    /// itself is the notifier's ([`crate::notify::tracking`]).
    pub tracking: Option<u64>,
    /// CLIENT CACHING was given for the next command.
    pub caching: bool,
    /// A change of the users this connection made, on its way to the coordinators.
    pub users_change: Option<super::acl::UsersChange>,
}

/// A connection's query buffer, as CLIENT LIST shows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryBuffer {
    /// Bytes in it (the running command's included).
    pub bytes: usize,
    /// Free bytes in its allocation.
    pub free: usize,
}

impl Conn {
    /// The client's subscriptions of one kind.
    pub fn subscriptions(
        &mut self,
        kind: crate::pubsub::Kind,
    ) -> &mut std::collections::HashSet<Bytes> {
        match kind {
            crate::pubsub::Kind::Channel => &mut self.channels,
            crate::pubsub::Kind::Pattern => &mut self.patterns,
            crate::pubsub::Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Whether it subscribes to anything (a RESP2 client is then in subscribe mode).
    pub fn subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard_channels.is_empty()
    }

    /// Leave every subscription (RESET, a client gone).
    pub fn unsubscribe_all(&mut self, pubsub: &crate::pubsub::PubSub) {
        use crate::pubsub::Kind;
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in std::mem::take(self.subscriptions(kind)) {
                pubsub.unsubscribe(kind, &name, self.id);
            }
        }
    }

    /// What CLIENT LIST shows of this connection now (`blocked`: waiting in a command).
    pub fn activity(&self, blocked: bool) -> crate::clients::Activity {
        let queued = self.multi.as_ref();
        crate::clients::Activity {
            sub: self.channels.len(),
            psub: self.patterns.len(),
            ssub: self.shard_channels.len(),
            multi: queued.map(Vec::len),
            multi_bytes: queued.map_or(0, |q| q.iter().flatten().map(Bytes::len).sum()),
            blocked,
            monitor: self.monitor,
            no_evict: self.no_evict,
            query_bytes: self.query.bytes,
            query_free: self.query.free,
            argv_bytes: 0,
            tracking: self.tracking,
        }
    }
}

/// CLIENT REPLY's modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Replies {
    #[default]
    On,
    Off,
    /// CLIENT REPLY SKIP ran: its own reply and the next command's are not sent.
    SkipNext,
    /// The next command's reply is not sent.
    Skip,
}

impl Replies {
    /// Whether the reply of the command that just ran goes out; moves SKIP along.
    pub fn send(&mut self) -> bool {
        match *self {
            Replies::On => true,
            Replies::Off => false,
            Replies::SkipNext => {
                *self = Replies::Skip;
                false
            }
            Replies::Skip => {
                *self = Replies::On;
                false
            }
        }
    }
}

impl Conn {
    pub fn new(id: u64, authenticated: bool) -> Conn {
        Conn {
            id,
            db: 0,
            resp: 2,
            authenticated,
            user: Bytes::from_static(crate::acl::DEFAULT_USER),
            name: None,
            closing: false,
            multi: None,
            multi_failed: false,
            watched: Vec::new(),
            channels: Default::default(),
            patterns: Default::default(),
            shard_channels: Default::default(),
            pubsub_tx: None,
            in_exec: false,
            in_script: false,
            error_counted: false,
            out_of_memory: false,
            last_cmd: "",
            last_write_op: 0,
            blocked_since: None,
            clock: None,
            room_full: None,
            last_spec: None,
            replies: Replies::On,
            monitor: false,
            no_evict: false,
            query: QueryBuffer::default(),
            tracking: None,
            caching: false,
            users_change: None,
        }
    }

    /// The connection a script run by `caller` calls commands on: the caller's database,
    /// user and id (CLIENT ID inside a script, the ACL log), RESP2 until `redis.setresp`;
    /// it never blocks, queues or subscribes.
    pub fn for_script(caller: &Conn) -> Conn {
        let mut conn = Conn::new(caller.id, true);
        conn.db = caller.db;
        conn.user = caller.user.clone();
        conn.name = caller.name.clone();
        conn.in_exec = true;
        conn.in_script = true;
        conn.out_of_memory = caller.out_of_memory;
        conn
    }
}
