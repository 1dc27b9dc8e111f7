//! The one place a node is wired: [`Node::open`] opens the data directory and builds the
//! parts (engine, replication, what clients share), each given only the handles it uses;
//! [`Node::run`] serves clients, channels and metrics, runs the upkeep, and owns every task
//! it starts. Shutdown (SIGTERM, SHUTDOWN, or the caller's signal) stops accepting, stops
//! every task (clients, channels, servers), then commits and syncs the binlog.

use crate::config::Config;
use crate::engine::store::{StoreError, now_ms};
use crate::engine::{Engine, EngineOptions};
use crate::shared::Shared;
use crate::sync::Replication;
use crate::tasks::Tasks;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, error, info, warn};

/// At most this many expired keys are removed per 100 ms cycle, so the cycle never holds
/// the store lock long.
const EXPIRED_PER_CYCLE_MAX: usize = 2000;
/// At most this many rounds of eviction (each within `maxmemory-eviction-tenacity`'s time)
/// per cycle.
const EVICTION_ROUNDS_PER_CYCLE_MAX: usize = 200;

/// A full garbage collection (counter reset records inside hashes and sorted sets) goes
/// over every key in about this many expiry cycles: once a minute, a slice per cycle.
const FULL_GC_CYCLES: usize = 600;

/// How long shutdown waits for the node's tasks to end before it commits all the same.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// A node: its parts, and the tasks that serve them.
#[derive(Debug)]
pub struct Node {
    shared: Arc<Shared>,
    tasks: Tasks,
}

/// Where a node serves: clients, and optionally sync channels and metrics.
#[derive(Debug)]
pub struct Listeners {
    pub resp: TcpListener,
    pub sync: Option<TcpListener>,
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Bind the ports `config` names (on its `bind` address).
    pub async fn bind(config: &Config) -> Result<Listeners, String> {
        let bind = |port: u16, what: &'static str| {
            let addr = format!("{}:{port}", config.bind);
            async move {
                TcpListener::bind(&addr)
                    .await
                    .map_err(|e| format!("cannot listen for {what} on {addr}: {e}"))
            }
        };
        Ok(Listeners {
            resp: bind(config.port, "clients").await?,
            sync: match config.sync_port {
                Some(p) => Some(bind(p, "sync channels").await?),
                None => None,
            },
            metrics: match config.metrics_port {
                Some(p) => Some(bind(p, "metrics").await?),
                None => None,
            },
        })
    }
}

impl Node {
    /// Open the data directory (replaying the binlog) and build the node's parts.
    pub fn open(config: Config) -> Result<Node, StoreError> {
        config.apply_process_wide();
        let config = Arc::new(config);
        let alone = config.peers.is_empty() && config.sync_port.is_none();
        let engine = Arc::new(Engine::open(EngineOptions {
            dir: config.dir.clone(),
            appendfsync: config.appendfsync,
            alone,
            binlog_retention_bytes: config.binlog_retention_bytes,
            binlog_retention_secs: config.binlog_retention_secs,
        })?);
        engine.lock_store().set_conflict_log(config.conflict_log);
        let attachment = crate::sync::coordinated::attachment_at_start(&config, engine.meta())
            .map_err(StoreError::Attachment)?;
        let tasks = Tasks::default();
        let replication = Arc::new(Replication::new(
            Arc::clone(&config),
            Arc::clone(&engine),
            attachment,
            tasks.clone(),
        ));
        let accounts = crate::accounts::Accounts::open(
            &config,
            Arc::new(crate::cmd::acl_view()),
            engine.meta().clone(),
        )
        .map_err(StoreError::Attachment)?;
        let shared = Arc::new(Shared::new(config, engine, replication, accounts));
        crate::cmd::migrate_saved_functions(&shared);
        Ok(Node { shared, tasks })
    }

    /// What every connection shares.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serve on `listeners` until `shutdown` completes or a client sends SHUTDOWN; then
    /// stop every task and make the binlog durable. Returns the tasks that had not ended
    /// by the drain's deadline (none, in a stop that went well).
    pub async fn run(self, listeners: Listeners, shutdown: impl Future<Output = ()>) -> usize {
        let shared = &self.shared;
        let tasks = &self.tasks;
        let addr = |l: &TcpListener| l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        if let Some(l) = listeners.sync {
            info!(addr = %addr(&l), "serving sync channels");
            let replication = Arc::clone(shared.replication());
            tasks.spawn(async move {
                if let Err(e) = replication.serve_sync(l).await {
                    error!(error = %e, "sync server failed");
                }
            });
        }
        if let Some(l) = listeners.metrics {
            info!(addr = %addr(&l), "serving metrics");
            tasks.spawn(crate::metrics::serve(Arc::clone(shared), l, tasks.clone()));
        }
        shared.replication().start_channels();
        tasks.spawn(fsync_every_second(Arc::clone(shared.engine())));
        crate::alloc::note_startup();
        tasks.spawn(upkeep(Arc::clone(shared)));
        tasks.spawn(take_coordinated_users(Arc::clone(shared)));
        tasks.spawn(crate::server::serve(
            Arc::clone(shared),
            listeners.resp,
            tasks.clone(),
        ));
        tokio::select! {
            () = shutdown => {}
            () = shared.shutdown_requested() => {}
        }
        tasks.stop();
        shared.clients().close_all();
        if tokio::time::timeout(DRAIN_TIMEOUT, tasks.ended())
            .await
            .is_err()
        {
            warn!(left = tasks.running(), "tasks still running at shutdown");
        }
        shared.engine().close();
        let left = tasks.running();
        info!(tasks_left = left, "shut down");
        left
    }
}

/// With coordinators: the instance's users, each new version as it arrives (and at start
/// the saved assignment's), put in force; connections of users that are gone are closed.
async fn take_coordinated_users(shared: Arc<Shared>) {
    let mut acl = shared.replication().coordination().acl();
    loop {
        let record = acl.borrow_and_update().clone();
        if record.version > 0 {
            let lines: Vec<Vec<u8>> = record.lines.into_iter().map(String::into_bytes).collect();
            let config = shared.config();
            if shared
                .accounts()
                .take_coordinated(&config, record.version, &lines)
            {
                info!(version = record.version, "took the instance's ACL users");
                shared.users_changed();
                // A change of users waiting to be made again on these wakes up.
                shared.engine().wake_waiters();
            }
        }
        if acl.changed().await.is_err() {
            return;
        }
    }
}

/// `appendfsync everysec`: fsync off the runtime thread and outside the store lock, so a
/// slow disk does not stall the clients (Redis also syncs its AOF in a background thread).
async fn fsync_every_second(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let handle = engine.lock_store_when_free().await.sync_handle();
        if let Some(file) = handle {
            match tokio::task::spawn_blocking(move || file.sync_data()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => error!(error = %e, "binlog fsync failed"),
                Err(e) => error!(error = %e, "binlog fsync task failed"),
            }
        }
    }
}

/// Memory over the limit with no command coming (a lowered `maxmemory`, effects from other
/// regions, a round that ran out of time) is brought back here, round after round until
/// done (as Redis's eviction timer), the lock let go between rounds so that clients run. A
/// secondary leaves it to its primary, whose evictions reach it; a CLIENT PAUSE holds it.
async fn make_room(shared: &Shared) {
    let replication = shared.replication();
    if replication.coordination().role() == crate::sync::coordination::Role::Secondary
        || shared.clients().paused(now_ms()).is_some()
    {
        return;
    }
    for _ in 0..EVICTION_ROUNDS_PER_CYCLE_MAX {
        shared.engine().busy().until_free().await;
        // Read at every round: a CONFIG SET between rounds is in force at once.
        let eviction = shared.config().eviction();
        if shared.engine().make_room(Some(eviction)) != crate::engine::store::Room::Running {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// Clients idle for [`crate::session::IDLE_SHRINK_MS`] that hold a read buffer are told to
/// give it back (as Redis's clientsCron frees idle clients' query buffers).
fn nudge_idle_clients(shared: &Shared) {
    let now = now_ms();
    let idle: Vec<u64> = shared
        .clients()
        .listing()
        .iter()
        .filter(|(_, e)| {
            e.activity.query_bytes + e.activity.query_free > 0
                && now.saturating_sub(e.last_ms) >= crate::session::IDLE_SHRINK_MS
        })
        .map(|(id, _)| *id)
        .collect();
    for id in idle {
        shared.pubsub().nudge_idle(id);
    }
}

/// Ten times a second: remove expired keys, as Redis's active expiry does (a key past its
/// expiry already reads as missing; removing it frees memory and replicates the removal);
/// once a second, the channels' upkeep; every time, a slice of the full garbage collection
/// (over every key about once a minute).
async fn upkeep(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (engine, replication) = (shared.engine(), shared.replication());
    for cycle in 1u64.. {
        tick.tick().await;
        // A script may hold the store: waited for without blocking the thread, here and
        // after each await below, right before the store is locked.
        engine.busy().until_free().await;
        crate::alloc::note_peak();
        if cycle % 10 == 0 {
            // Off the runtime threads: removing binlog segments (hundreds of MB after a
            // load) and saving the acknowledgements wait on the disk, and the runtime's
            // thread serves the clients.
            let replication = Arc::clone(replication);
            if let Err(e) = tokio::task::spawn_blocking(move || replication.upkeep()).await {
                error!(error = %e, "channel upkeep failed");
            }
        }
        if cycle % 10 == 5 {
            nudge_idle_clients(&shared);
        }
        make_room(&shared).await;
        let mut store = engine.lock_store_when_free().await;
        store.gc_step(FULL_GC_CYCLES);
        // A secondary leaves expiry to its primary (as a Redis replica does): its own
        // deletes would reach no one, and could remove what an EXPIRE on the way extends.
        // During a CLIENT PAUSE, or after DEBUG SET-ACTIVE-EXPIRE 0, nothing is deleted
        // either, as in Redis. Reads hide expired keys either way.
        let secondary =
            replication.coordination().role() == crate::sync::coordination::Role::Secondary;
        let paused = shared.clients().paused(now_ms()).is_some();
        // Clients hear of a key's expiry when it passes (it reads as missing from then
        // on), whatever the role; removing it, with peers, waits for the grace.
        let announced = if paused || !shared.active_expire() {
            0
        } else {
            store.announce_expired(now_ms())
        };
        shared.notifier().tracking().enforce_limit(shared.pubsub());
        let removed = if secondary || paused || !shared.active_expire() {
            0
        } else {
            let config = shared.config();
            let now = now_ms();
            let caught_up = replication.channels().caught_up_until_ms().unwrap_or(now);
            let started = std::time::Instant::now();
            let removed = store.remove_expired(
                now,
                caught_up,
                config.expire_grace_ms,
                EXPIRED_PER_CYCLE_MAX,
            );
            let millis = started.elapsed().as_millis() as u64;
            let threshold = config.latency_threshold_ms;
            let latency = &mut store.stats.latency;
            latency.observe("expire-cycle", millis, threshold, now / 1000);
            removed
        };
        if removed > 0 || announced > 0 || crate::testing::ack_before_write() {
            debug!(removed, "removed expired keys");
            if let Err(e) = store.commit() {
                error!(error = %e, "binlog commit failed");
            }
            drop(store);
            engine.wrote();
        }
    }
}
