//! The node's settings: [`Config`], what they must be together ([`Config::check`]), and,
//! in [`settings`], each setting's name, parse, default display and whether it can change
//! at run time, declared once for the TOML file, the flags, CONFIG GET and CONFIG SET.

mod redis;
pub mod settings;
mod words;

use crate::engine::binlog::Fsync;
use crate::resp::{DEFAULT_LIMITS, Limits};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on. 127.0.0.1 unless told otherwise (protected mode).
    pub bind: String,
    pub port: u16,
    /// Data directory: metadata and binlog.
    pub dir: PathBuf,
    /// This node's region name.
    pub region: String,
    /// `requirepass`: clients must AUTH first.
    pub requirepass: Option<String>,
    pub appendfsync: Fsync,
    pub limits: Limits,
    /// `maxclients`.
    pub clients_max: usize,
    /// `client-query-buffer-limit`: bytes a client may have buffered unparsed.
    pub query_buffer_bytes_max: usize,
    /// `maxmemory`: over it, keys are evicted by `maxmemory-policy`, and when none can go,
    /// commands that may grow memory get `-OOM` (0: no limit).
    pub memory_bytes_max: u64,
    /// `maxmemory-policy`.
    pub memory_policy: crate::engine::eviction::Policy,
    /// `maxmemory-samples`: keys looked at per database for each eviction.
    pub memory_samples: u32,
    /// `hll-sparse-max-bytes`: the largest sparse HyperLogLog; a larger one becomes dense.
    pub hll_sparse_bytes_max: usize,
    /// `stream-node-max-entries`: the entries a stream node takes before a new one starts
    /// (what `~` trimming removes whole); 0: no limit.
    pub stream_node_entries_max: usize,
    /// `busy-reply-threshold` (`lua-time-limit`), ms: how long other clients wait for a
    /// running script before they are answered `-BUSY` (0: they wait to its end).
    pub busy_reply_ms: u64,
    /// `maxmemory-eviction-tenacity` (0..=100): how long a round of eviction may run.
    pub eviction_tenacity: u32,
    /// `lfu-log-factor`: how slowly the LFU counter grows.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes per step the LFU counter falls while unused (0: never).
    pub lfu_decay_minutes: u32,
    /// Port for Prometheus metrics over HTTP (`None`: not served).
    pub metrics_port: Option<u16>,
    /// Port for sync channels (gRPC; `None`: this node neither sends nor receives).
    pub sync_port: Option<u16>,
    /// Regions this node receives from: one inbound channel each.
    pub peers: Vec<Peer>,
    /// `coordinator`: the coordinators to register with (`host:port`); with them, the
    /// node's role and channels come from the coordinator instead of `peers`.
    pub coordinators: Vec<String>,
    /// `coordinator-tls`: call the coordinators over TLS, with this node's `tls-cert`,
    /// `tls-key` and `tls-ca` (the coordinators' port must have TLS too).
    pub coordinator_tls: bool,
    /// `instance`: the distributed instance this node serves (with a coordinator).
    pub instance: Option<String>,
    /// `announce-ip`: the host other nodes and clients reach this node at (default: `bind`,
    /// or 127.0.0.1 when that is a wildcard).
    pub announce_ip: Option<String>,
    /// `announce-sync-port`: the port other nodes reach this node's sync port at, when it
    /// differs (a forwarded port, a proxy) [default: `sync_port`].
    pub announce_sync_port: Option<u16>,
    /// The secret every sync call carries; required with a sync port.
    pub cluster_token: Option<String>,
    /// Whether inbound channels ask their peers to compress (DEFLATE) what they send in
    /// messages of 4 KiB or more (worth it across regions; on one machine it costs more CPU
    /// than it saves).
    pub sync_compression: bool,
    /// `binlog-retention-bytes`: binlog a snapshot covers is kept for regions that have not
    /// acknowledged it, up to this many bytes (0: no limit); past it, it goes, and those
    /// regions need a full sync.
    pub binlog_retention_bytes: u64,
    /// `binlog-retention-secs`: the same by age: segments last written longer ago than
    /// this go whoever lacks them (0: no limit).
    pub binlog_retention_secs: u64,
    /// `anti-entropy-interval-ms`: how often each inbound channel compares digests with
    /// its peer and repairs what differs (0: never).
    pub anti_entropy_interval_ms: u64,
    /// `expire-grace-ms`: on a node with channels, how long after its expiry an expired
    /// key is removed from memory (it reads as missing from the expiry on). Until then an
    /// EXPIRE or PERSIST made elsewhere just before the expiry, still on its way, wins as
    /// the TTL rules say; a removal made at the expiry itself would delete the key under it.
    pub expire_grace_ms: u64,
    /// `enable-debug-command`: whether GDC.DEBUG (test hooks that change data behind the
    /// binlog's back) is accepted. Off by default, as Redis's DEBUG is.
    pub debug_command: bool,
    /// `gdc-conflict-log`: whether a sample of the keys whose conflicts the merge rules
    /// resolved is logged at INFO (at most one line per rule per second). Off by default:
    /// the counters in INFO gdc and `/metrics` are always kept.
    pub conflict_log: bool,
    /// `notify-keyspace-events`: the classes of keyspace events sent
    /// ([`crate::notify::events`]).
    pub notify_keyspace_events: u32,
    /// `tracking-table-max-keys`: how many keys client-side caching tracks (0: no limit).
    pub tracking_keys_max: u64,
    /// `aclfile`: where ACL LOAD and ACL SAVE read and write the users (read at start);
    /// without one, a node keeps its users in its data directory.
    pub acl_file: Option<PathBuf>,
    /// `acllog-max-len`: ACL LOG's entries at most.
    pub acl_log_len_max: usize,
    /// `acl-pubsub-default allchannels` (Redis 6's) rather than `resetchannels`.
    pub acl_pubsub_all: bool,
    /// TLS on the sync port: this node's certificate and key (PEM).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// With TLS: the CA (PEM) that signs every node's certificate. The sync port then
    /// requires client certificates it signed (mTLS), and channels dial peers over TLS,
    /// checking their certificates against it.
    pub tls_ca: Option<PathBuf>,
    /// `slowlog-log-slower-than`: commands that take at least this many µs go to the slow
    /// log (negative: none do).
    pub slowlog_slower_than_us: i64,
    /// `slowlog-max-len`: slow log entries kept.
    pub slowlog_len_max: usize,
    /// `latency-monitor-threshold`: commands at least this many ms long are latency events
    /// (0: the monitor is off).
    pub latency_threshold_ms: u64,
    /// Hooks for the consistency suite (`--test-*` flags only): see [`crate::testing`].
    pub testing: crate::testing::Testing,
    /// Values of the settings that have no effect on gdc ([`settings::Change::NoEffect`]).
    pub inert: std::collections::BTreeMap<&'static str, String>,
    /// The TOML file the settings came from, which CONFIG REWRITE writes back (`None`: the
    /// node started without one).
    pub config_file: Option<PathBuf>,
}

pub use gdc_proto::tls::TlsFiles;

/// A region to receive from, and the address of its sync port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub region: String,
    pub addr: String,
}

impl std::str::FromStr for Peer {
    type Err = String;
    /// `REGION=HOST:PORT`.
    fn from_str(s: &str) -> Result<Peer, String> {
        let bad = || format!("a peer is REGION=HOST:SYNCPORT, not '{s}'");
        let (region, addr) = s.split_once('=').ok_or_else(bad)?;
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        if region.is_empty() || host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        Ok(Peer {
            region: region.to_string(),
            addr: addr.to_string(),
        })
    }
}

impl Config {
    /// What eviction and access tracking run by.
    pub fn eviction(&self) -> crate::engine::eviction::Eviction {
        use crate::engine::eviction::{Access, Eviction};
        Eviction {
            limit: self.memory_bytes_max,
            policy: self.memory_policy,
            samples: self.memory_samples as usize,
            tenacity: self.eviction_tenacity,
            access: Access {
                clock: self.memory_policy.clock(),
                log_factor: self.lfu_log_factor,
                decay_minutes: self.lfu_decay_minutes,
            },
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".into(),
            port: 6379,
            dir: PathBuf::from("gdc-data"),
            region: "local".into(),
            requirepass: None,
            appendfsync: Fsync::EverySec,
            limits: DEFAULT_LIMITS,
            clients_max: 10_000,
            query_buffer_bytes_max: 1024 * 1024 * 1024,
            memory_bytes_max: 0,
            memory_policy: Default::default(),
            memory_samples: 5,
            hll_sparse_bytes_max: 3000,
            stream_node_entries_max: 100,
            busy_reply_ms: 5000,
            eviction_tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_minutes: 1,
            metrics_port: None,
            sync_port: None,
            peers: Vec::new(),
            coordinators: Vec::new(),
            coordinator_tls: false,
            instance: None,
            announce_ip: None,
            announce_sync_port: None,
            cluster_token: None,
            sync_compression: true,
            binlog_retention_bytes: 8 * 1024 * 1024 * 1024,
            binlog_retention_secs: 7 * 24 * 3600,
            anti_entropy_interval_ms: 60_000,
            expire_grace_ms: 5000,
            debug_command: false,
            conflict_log: false,
            notify_keyspace_events: 0,
            tracking_keys_max: 1_000_000,
            acl_file: None,
            acl_log_len_max: 128,
            acl_pubsub_all: false,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            slowlog_slower_than_us: 10_000,
            slowlog_len_max: 128,
            latency_threshold_ms: 0,
            testing: Default::default(),
            inert: Default::default(),
            config_file: None,
        }
    }
}

/// A bad configuration file or value: the node does not start, and says why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {why}")]
    Syntax { path: String, why: String },
    #[error("config file {path}: unknown setting '{key}'")]
    Unknown { path: String, key: String },
    #[error("--{flag} {why}")]
    Flag { flag: String, why: String },
    #[error("config file {path}: '{key}' {why}")]
    Value {
        path: String,
        key: String,
        why: String,
    },
}

/// A setting's value as the config file writes it: a number bare, anything else a string.
fn toml_value(v: &str) -> String {
    match v.parse::<i64>() {
        Ok(n) => n.to_string(),
        Err(_) => toml::Value::String(v.to_string()).to_string(),
    }
}

/// A size as redis.conf writes it: bytes, or with k/kb/m/mb/g/gb (k = 1000, kb = 1024).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `yes` or `no`, as redis.conf says it.
pub fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("must be yes or no, not '{s}'")),
    }
}

/// `deflate` or `none`: whether channels compress (`gzip`, the same algorithm, is accepted
/// for `deflate`).
pub fn parse_compression(s: &str) -> Result<bool, String> {
    match s {
        "deflate" | "gzip" => Ok(true),
        "none" => Ok(false),
        _ => Err(format!("sync compression is deflate or none, not '{s}'")),
    }
}

impl Config {
    /// Put in force the settings that are process-wide rather than read from the config
    /// where used: the stream node size, which the stream type reads as entries arrive.
    pub fn apply_process_wide(&self) {
        gdc_crdt::stream::NODE_ENTRIES_MAX.store(
            self.stream_node_entries_max,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

impl Config {
    /// Apply the settings of a TOML file (redis.conf names) over these.
    pub fn apply_file(&mut self, path: &std::path::Path) -> Result<(), ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: p.clone(),
            source,
        })?;
        self.apply_toml(&text, &p)?;
        // Absolute, as Redis keeps it: CONFIG REWRITE writes there whatever the working
        // directory has become.
        self.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        Ok(())
    }

    /// CONFIG REWRITE: the config file's text with every setting it names set to its value
    /// in force, and each setting it does not name that differs from its default added at
    /// the end. Comments, blank lines and the order of the file are kept.
    pub fn rewritten(&self, text: &str) -> Result<String, String> {
        let _: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        let defaults = Config::default();
        let mut out = String::with_capacity(text.len() + 256);
        let mut written = std::collections::HashSet::new();
        let mut in_array = false; // inside a value spread over lines (`peers = [ ... ]`)
        for line in text.lines() {
            if in_array {
                in_array = !line.contains(']');
                continue;
            }
            let setting = line
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"'))
                .filter(|k| !k.starts_with('#') && !k.is_empty())
                .and_then(|k| settings::find(k).map(|s| (k, s)));
            let Some((name, setting)) = setting else {
                out.push_str(line);
                out.push('\n');
                continue;
            };
            let value = line.split_once('=').map_or("", |(_, v)| v.trim_start());
            in_array = value.starts_with('[') && !value.contains(']');
            // A setting named twice (or by an alias too) is written once.
            if written.insert(setting.canonical_name()) {
                out.push_str(&format!("{name} = {}\n", toml_value(&setting.get(self))));
            }
        }
        let mut added = false;
        for s in settings::all() {
            let changed = s.get(self) != s.get(&defaults);
            if s.is_alias() || s.shown == settings::Shown::Never || !changed {
                continue;
            }
            if written.insert(s.canonical_name()) {
                if !added {
                    out.push_str("\n# Generated by CONFIG REWRITE\n");
                    added = true;
                }
                out.push_str(&format!("{} = {}\n", s.name, toml_value(&s.get(self))));
            }
        }
        Ok(out)
    }

    /// Apply TOML text; `origin` names it in errors.
    pub fn apply_toml(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: origin.to_string(),
                    why: e.message().to_string(),
                })?;
        for (key, v) in &table {
            let bad = |why: String| ConfigError::Value {
                path: origin.to_string(),
                key: key.clone(),
                why,
            };
            // Every value as text, as a flag or CONFIG SET would give it.
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
                toml::Value::Array(list) => list
                    .iter()
                    .map(|p| p.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("must be a list of strings".into()))?
                    .join(","),
                _ => return Err(bad("must be a string, a number or yes/no".into())),
            };
            match self.set(key, &text) {
                Ok(()) => {}
                Err(settings::SetError::Value(why)) => return Err(bad(why)),
                Err(_) => {
                    return Err(ConfigError::Unknown {
                        path: origin.to_string(),
                        key: key.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The TLS files, read (`None`: no TLS).
    pub fn tls(&self) -> Result<Option<TlsFiles>, String> {
        TlsFiles::read(
            self.tls_cert.as_deref(),
            self.tls_key.as_deref(),
            self.tls_ca.as_deref(),
        )
    }
    /// Where this node is reached: `(client address, sync address)` as `host:port`.
    pub fn announced(&self) -> (String, String) {
        let host = match &self.announce_ip {
            Some(h) => h.clone(),
            None if self.bind == "0.0.0.0" || self.bind == "::" => "127.0.0.1".into(),
            None => self.bind.clone(),
        };
        let at = |port: u16| {
            if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        };
        let sync_port = self.announce_sync_port.or(self.sync_port).unwrap_or(0);
        (at(self.port), at(sync_port))
    }

    /// Settings that only make sense together.
    pub fn check(&self) -> Result<(), String> {
        if let Some(tls) = self.tls()? {
            if tls.ca.is_none() && !self.peers.is_empty() {
                return Err(
                    "channels over TLS need --tls-ca, to check the peers' certificates".into(),
                );
            }
        }
        if self.sync_port.is_some() || !self.peers.is_empty() {
            match &self.cluster_token {
                None => {
                    return Err(
                        "sync channels need a cluster token (--cluster-token, GDC_CLUSTER_TOKEN or cluster-token in the config file)"
                            .into(),
                    );
                }
                Some(t) if t.len() < 8 => {
                    return Err("the cluster token must be at least 8 characters".into());
                }
                Some(_) => {}
            }
        }
        if !self.coordinators.is_empty() {
            if self.instance.is_none() {
                return Err("a node run by a coordinator needs --instance".into());
            }
            if self.sync_port.is_none() {
                return Err("a node run by a coordinator needs --sync-port".into());
            }
            if !self.peers.is_empty() {
                return Err(
                    "with --coordinator, channels come from the coordinator: drop --peer".into(),
                );
            }
            if self.coordinator_tls && self.tls()?.and_then(|t| t.client()).is_none() {
                return Err(
                    "--coordinator-tls needs --tls-cert, --tls-key and --tls-ca (to check the coordinators and be checked by them)"
                        .into(),
                );
            }
            // A node's name in the topology is its address: a loopback one would be the same
            // for nodes on different hosts, and unreachable from them.
            let loopback = |host: &str| {
                host == "localhost" || host.starts_with("127.") || host == "::1" || host == "[::1]"
            };
            let (addr, _) = self.announced();
            let host = addr.rsplit_once(':').map_or("", |(h, _)| h);
            let remote = self
                .coordinators
                .iter()
                .any(|c| !loopback(c.rsplit_once(':').map_or(c.as_str(), |(h, _)| h)));
            if loopback(host) && remote {
                return Err(format!(
                    "this node would announce itself as {addr} to coordinators on other hosts: give --announce-ip (or --bind) an address they can reach"
                ));
            }
        }
        let mut regions: Vec<&str> = self.peers.iter().map(|p| p.region.as_str()).collect();
        regions.sort_unstable();
        if let Some(w) = regions.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("peer region '{}' is listed twice", w[0]));
        }
        if regions.contains(&self.region.as_str()) {
            return Err(format!("region '{}' lists itself as a peer", self.region));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_keeps_the_file_and_writes_the_settings_in_force() {
        let file = "# my node\nport = 7000\n\nmaxmemory = \"1mb\" # a cap\nappendonly = \"yes\"\nslave-read-only = \"yes\"\nreplica-read-only = \"yes\"\npeers = [\n  \"b=127.0.0.1:7101\",\n]\n";
        let mut c = Config::default();
        c.apply_toml(file, "t").expect("valid");
        c.set("maxmemory", "2mb").expect("set");
        c.set("hz", "20").expect("set");
        c.set("region", "ams").expect("set");
        let new = c.rewritten(file).expect("rewritten");
        assert_eq!(
            new,
            "# my node\nport = 7000\n\nmaxmemory = 2097152\nappendonly = \"yes\"\nslave-read-only = \"yes\"\npeers = \"b=127.0.0.1:7101\"\n\n# Generated by CONFIG REWRITE\nregion = \"ams\"\nhz = 20\n"
        );
        // What it wrote reads back as the same settings.
        let mut again = Config::default();
        again.apply_toml(&new, "t").expect("valid");
        for s in settings::all() {
            assert_eq!(s.get(&again), s.get(&c), "{}", s.name);
        }
        assert!(
            c.rewritten("port = ").is_err(),
            "a file no longer TOML is not rewritten"
        );
    }

    #[test]
    fn toml_settings_use_redis_names_and_bad_ones_are_named() {
        let mut c = Config::default();
        c.apply_toml(
            "port = 7000\nmaxmemory = \"100mb\"\nappendfsync = \"always\"\nrequirepass = \"pw\"",
            "t",
        )
        .expect("valid");
        assert_eq!(c.port, 7000);
        assert_eq!(c.memory_bytes_max, 100 * 1024 * 1024);
        assert_eq!(c.appendfsync, Fsync::Always);
        assert_eq!(c.requirepass.as_deref(), Some("pw"));
        let e = c.apply_toml("nosuch = 1", "t").expect_err("unknown");
        assert_eq!(e.to_string(), "config file t: unknown setting 'nosuch'");
        let e = c.apply_toml("port = \"x\"", "t").expect_err("bad value");
        assert_eq!(
            e.to_string(),
            "config file t: 'port' must be a non-negative integer"
        );
        let e = c
            .apply_toml("appendfsync = \"sometimes\"", "t")
            .expect_err("bad value");
        assert!(e.to_string().contains("always, everysec or no"), "{e}");
        assert!(c.apply_toml("port = ", "t").is_err());
        assert_eq!(parse_bytes("1gb"), Some(1 << 30));
        assert_eq!(parse_bytes("5k"), Some(5000));
        assert_eq!(parse_bytes("lots"), None);
    }

    #[test]
    fn a_coordinated_node_needs_an_instance_and_a_sync_port_and_no_peers() {
        let mut c = Config::default();
        c.apply_toml(
            "coordinator = \"10.0.0.9:7101, 10.0.0.8:7101\"\ncluster-token = \"s3cret-token\"\nannounce-ip = \"10.0.0.5\"\nport = 6380",
            "t",
        )
        .expect("valid");
        assert_eq!(c.coordinators, ["10.0.0.9:7101", "10.0.0.8:7101"]);
        assert!(c.check().expect_err("no instance").contains("--instance"));
        c.apply_toml("instance = \"shop\"", "t").expect("valid");
        assert!(c.check().expect_err("no sync port").contains("--sync-port"));
        c.apply_toml("sync-port = 7100", "t").expect("valid");
        assert_eq!(c.check(), Ok(()));
        assert_eq!(
            c.announced(),
            ("10.0.0.5:6380".to_string(), "10.0.0.5:7100".to_string())
        );
        c.apply_toml("announce-sync-port = 9100", "t")
            .expect("valid");
        assert_eq!(c.announced().1, "10.0.0.5:9100", "a forwarded sync port");
        c.announce_ip = None;
        assert!(
            c.check()
                .expect_err("a loopback name for remote coordinators")
                .contains("--announce-ip")
        );
        c.coordinators = vec!["127.0.0.1:7101".into()];
        assert_eq!(c.check(), Ok(()), "all on one machine");
        c.coordinator_tls = true;
        assert!(
            c.check()
                .expect_err("TLS to coordinators without the files")
                .contains("--coordinator-tls needs --tls-cert, --tls-key and --tls-ca")
        );
        c.coordinator_tls = false;
        c.peers.push("eu=h:1".parse().expect("peer"));
        assert!(c.check().expect_err("peers").contains("drop --peer"));
    }

    #[test]
    fn sync_settings_need_a_token_and_well_formed_peers() {
        let mut c = Config::default();
        c.apply_toml(
            "sync-port = 7100\npeers = [\"eu=10.0.0.2:7100\", \"us=h:1\"]",
            "t",
        )
        .expect("valid");
        assert_eq!(c.sync_port, Some(7100));
        assert_eq!(
            c.peers,
            vec![
                Peer {
                    region: "eu".into(),
                    addr: "10.0.0.2:7100".into()
                },
                Peer {
                    region: "us".into(),
                    addr: "h:1".into()
                }
            ]
        );
        assert!(c.check().expect_err("no token").contains("cluster token"));
        c.apply_toml("cluster-token = \"s3cret-token\"", "t")
            .expect("valid");
        assert_eq!(c.check(), Ok(()));
        let e = c.apply_toml("peers = [\"eu\"]", "t").expect_err("bad peer");
        assert!(e.to_string().contains("REGION=HOST:SYNCPORT"), "{e}");
        assert!("eu=host:notaport".parse::<Peer>().is_err());
        c.peers.push("eu=other:1".parse().expect("peer"));
        assert!(c.check().expect_err("twice").contains("twice"));
        c.peers.pop();
        c.tls_cert = Some("/no/such/cert.pem".into());
        assert!(
            c.check()
                .expect_err("no key")
                .contains("both --tls-cert and --tls-key")
        );
        c.tls_key = Some("/no/such/key.pem".into());
        assert!(
            c.check()
                .expect_err("unreadable")
                .contains("cannot read /no/such/cert.pem")
        );
    }
}
