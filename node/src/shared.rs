//! What every connection shares: one owner per part, each behind an accessor. The store
//! itself is the engine's (locked per batch of commands); commands get the rest through
//! [`Shared`].

use crate::accounts::Accounts;
use crate::clients::Clients;
use crate::config::Config;
use crate::config::settings::SetError;
use crate::engine::Engine;
use crate::notify::Notifier;
use crate::pubsub::PubSub;
use crate::sync::Replication;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Shared {
    /// The settings in force: those CONFIG SET changes are swapped in whole (the parts
    /// hold the settings they were built with, none of which can change at run time).
    config: RwLock<Arc<Config>>,
    engine: Arc<Engine>,
    replication: Arc<Replication>,
    clients: Clients,
    /// The ACL users and the ACL LOG.
    accounts: Accounts,
    pubsub: Arc<PubSub>,
    /// Keyspace notifications and client-side caching: the store's observer.
    notifier: Arc<Notifier>,
    started_ms: u64,
    /// SHUTDOWN asks the node to stop.
    shutdown: Notify,
    /// A client listener CONFIG SET port bound, for the accept loop to take over.
    next_listener: Mutex<Option<tokio::net::TcpListener>>,
    listener_changed: Notify,
    /// Whether the expiry cycle removes expired keys (DEBUG SET-ACTIVE-EXPIRE; reads hide
    /// them either way).
    active_expire: std::sync::atomic::AtomicBool,
    /// The Lua scripts EVAL and SCRIPT LOAD have seen.
    scripts: crate::script::Scripts,
    /// The function libraries FUNCTION LOAD loaded.
    functions: crate::script::functions::Functions,
}

impl Shared {
    pub fn new(
        config: Arc<Config>,
        engine: Arc<Engine>,
        replication: Arc<Replication>,
        accounts: Accounts,
    ) -> Shared {
        let pubsub = Arc::new(PubSub::default());
        let notifier = Arc::new(Notifier::new(Arc::clone(&pubsub)));
        notifier.configure(&config);
        engine
            .lock_store()
            .set_observer(Arc::clone(&notifier) as Arc<dyn crate::engine::store::KeyObserver>);
        Shared {
            clients: Clients::new(config.clients_max),
            accounts,
            config: RwLock::new(config),
            engine,
            replication,
            pubsub,
            notifier,
            started_ms: crate::engine::store::now_ms(),
            shutdown: Notify::new(),
            next_listener: Mutex::new(None),
            listener_changed: Notify::new(),
            active_expire: std::sync::atomic::AtomicBool::new(true),
            scripts: crate::script::Scripts::default(),
            functions: crate::script::functions::Functions::default(),
        }
    }

    pub fn functions(&self) -> &crate::script::functions::Functions {
        &self.functions
    }

    pub fn scripts(&self) -> &crate::script::Scripts {
        &self.scripts
    }

    /// The settings in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// CONFIG SET: change these settings, all or none (see [`Config::changed`]).
    /// A new `port` is listened on before anything changes: a port that cannot be bound
    /// fails the whole CONFIG SET, as in Redis. A node registered with coordinators keeps
    /// its port, its name in their topology.
    pub fn change_config(&self, pairs: &[(&str, &str)]) -> Result<(), (String, SetError)> {
        let mut config = self.config.write().unwrap_or_else(|p| p.into_inner());
        let next = config.changed(pairs)?;
        if next.port != config.port {
            let refused = |e: SetError| Err(("port".to_string(), e));
            if !config.coordinators.is_empty() {
                return refused(SetError::AtStartOnly);
            }
            let listener = std::net::TcpListener::bind(format!("{}:{}", next.bind, next.port))
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(tokio::net::TcpListener::from_std);
            match listener {
                Ok(l) => {
                    *self.next_listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(l);
                    self.listener_changed.notify_one();
                }
                Err(e) => {
                    return refused(SetError::Value(format!(
                        "Unable to listen on this port: {e}"
                    )));
                }
            }
        }
        self.notifier.configure(&next);
        self.accounts.configure(&config, &next);
        next.apply_process_wide();
        *config = Arc::new(next);
        Ok(())
    }

    pub fn active_expire(&self) -> bool {
        self.active_expire
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_active_expire(&self, on: bool) {
        self.active_expire
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The client listener CONFIG SET port bound, once there is one.
    pub async fn next_listener(&self) -> tokio::net::TcpListener {
        loop {
            if let Some(l) = self
                .next_listener
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                return l;
            }
            self.listener_changed.notified().await;
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn replication(&self) -> &Arc<Replication> {
        &self.replication
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The users changed: clients of users that are gone are closed, and so are clients
    /// subscribed to a channel or pattern their user may no longer use, as Redis 7.0
    /// closes them.
    pub fn users_changed(&self) {
        let users = self.accounts.users();
        for (id, entry) in self.clients.listing().iter() {
            let allowed = users.get(&entry.user).is_some_and(|u| {
                u.unrestricted()
                    || self
                        .pubsub
                        .subscriptions_of(*id)
                        .iter()
                        .all(|(kind, name)| {
                            u.check_channel(name, *kind == crate::pubsub::Kind::Pattern)
                        })
            });
            if !allowed {
                entry.kill.ask();
            }
        }
    }

    pub fn pubsub(&self) -> &PubSub {
        &self.pubsub
    }

    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// Unix ms the node started at.
    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    /// Ask the node to stop (SHUTDOWN).
    pub fn request_shutdown(&self) {
        self.shutdown.notify_one();
    }

    /// Completes when [`Shared::request_shutdown`] is called.
    pub async fn shutdown_requested(&self) {
        self.shutdown.notified().await
    }
}
