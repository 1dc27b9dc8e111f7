//! Every setting a node knows, declared once: its redis.conf name, how its value is parsed
//! and shown, and whether it can change while the node runs. The TOML file, the command
//! line flags, CONFIG GET and CONFIG SET all go through [`all`]: gdc's own settings and
//! Redis's ([`SETTINGS`]), and the Redis 7.0 settings that have no effect on gdc
//! ([`super::redis::REDIS_ONLY`]).

use super::words::*;
use super::{Config, parse_compression, parse_yes_no};

/// When a setting can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Read at start only: CONFIG SET refuses it.
    AtStart,
    /// CONFIG SET changes it, and the node acts on the new value at once.
    AtRunTime,
    /// A Redis setting with no effect on gdc (an encoding threshold, say: gdc keeps one
    /// representation per type). Accepted, kept and shown, so that clients and tools that
    /// set it keep working; docs/configuration.md lists them.
    NoEffect,
}

/// One setting.
#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    pub change: Change,
    pub shown: Shown,
    pub(super) value: Value,
}

/// When CONFIG GET shows a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Always,
    /// Only when asked for by its exact name, not by a pattern (Redis's hidden settings).
    ByName,
    /// Never (a secret).
    Never,
}

#[derive(Debug)]
pub(super) enum Value {
    /// A field of [`Config`].
    Field {
        set: fn(&mut Config, &str) -> Result<(), String>,
        get: fn(&Config) -> String,
    },
    /// A setting with no effect on gdc: its default, and what a value must be (the check
    /// gives the value as it is kept and shown: `1mb` is kept as `1048576`, as Redis does).
    Inert {
        default: &'static str,
        check: fn(&str) -> Result<String, String>,
    },
    /// Another name of the setting named here (`slave-read-only` is `replica-read-only`).
    Alias(&'static str),
}

/// A setting whose only value in gdc is `only`: a Redis feature gdc does not have (yet)
/// is refused rather than pretended.
macro_rules! only {
    ($only:literal, $why:literal) => {
        |v: &str| {
            if v == $only {
                Ok(v.to_string())
            } else {
                Err(format!("must be '{}' in gdc: {}", $only, $why))
            }
        }
    };
}

macro_rules! field {
    ($name:literal, $change:ident, |$c:ident, $v:ident| $set:expr, |$g:ident| $get:expr) => {
        Setting {
            name: $name,
            change: Change::$change,
            shown: Shown::Always,
            value: Value::Field {
                set: |$c: &mut Config, $v: &str| {
                    $set;
                    Ok(())
                },
                get: |$g: &Config| $get,
            },
        }
    };
}

macro_rules! inert {
    ($name:literal, $default:literal, $check:expr) => {
        Setting {
            name: $name,
            change: Change::NoEffect,
            shown: Shown::Always,
            value: Value::Inert {
                default: $default,
                check: $check,
            },
        }
    };
}

/// Every setting, by redis.conf name.
pub static SETTINGS: &[Setting] = &[
    field!("bind", AtStart, |c, v| c.bind = v.to_string(), |c| c
        .bind
        .clone()),
    // At run time a node without coordinators listens on the new port (Shared::change_config).
    field!("port", AtRunTime, |c, v| c.port = port(v)?, |c| c
        .port
        .to_string()),
    field!("dir", AtStart, |c, v| c.dir = v.into(), |c| c
        .dir
        .display()
        .to_string()),
    field!("region", AtStart, |c, v| c.region = v.to_string(), |c| c
        .region
        .clone()),
    field!(
        "requirepass",
        AtRunTime,
        |c, v| c.requirepass = text(v),
        |c| c.requirepass.clone().unwrap_or_default()
    ),
    field!(
        "appendfsync",
        AtStart,
        |c, v| c.appendfsync = v.parse()?,
        |c| c.appendfsync.name().into()
    ),
    inert!("appendonly", "yes", only!("yes", "the binlog is always on")),
    field!(
        "proto-max-bulk-len",
        AtRunTime,
        |c, v| c.limits.bulk_bytes_max = size(v)? as usize,
        |c| c.limits.bulk_bytes_max.to_string()
    ),
    field!(
        "maxclients",
        AtStart,
        |c, v| c.clients_max = int(v)? as usize,
        |c| c.clients_max.to_string()
    ),
    field!(
        "client-query-buffer-limit",
        AtRunTime,
        |c, v| c.query_buffer_bytes_max = size(v)? as usize,
        |c| c.query_buffer_bytes_max.to_string()
    ),
    field!(
        "databases",
        AtStart,
        |_c, v| {
            only!("16", "it has Redis's 16 databases")(v)?;
        },
        |_c| crate::engine::store::DATABASES.to_string()
    ),
    field!(
        "maxmemory",
        AtRunTime,
        |c, v| c.memory_bytes_max = size(v)?,
        |c| c.memory_bytes_max.to_string()
    ),
    field!(
        "maxmemory-policy",
        AtRunTime,
        |c, v| c.memory_policy = policy(v)?,
        |c| c.memory_policy.name().to_string()
    ),
    field!(
        "maxmemory-samples",
        AtRunTime,
        |c, v| c.memory_samples = between(v, 1, i32::MAX as u32)?,
        |c| c.memory_samples.to_string()
    ),
    field!(
        "hll-sparse-max-bytes",
        AtRunTime,
        |c, v| c.hll_sparse_bytes_max =
            usize::try_from(size(v)?).map_err(|_| "too large".to_string())?,
        |c| c.hll_sparse_bytes_max.to_string()
    ),
    field!(
        "stream-node-max-entries",
        AtRunTime,
        |c, v| c.stream_node_entries_max = between(v, 0, i32::MAX as u32)? as usize,
        |c| c.stream_node_entries_max.to_string()
    ),
    field!(
        "busy-reply-threshold",
        AtRunTime,
        |c, v| c.busy_reply_ms = u64::from(between(v, 0, i32::MAX as u32)?),
        |c| c.busy_reply_ms.to_string()
    ),
    field!(
        "maxmemory-eviction-tenacity",
        AtRunTime,
        |c, v| c.eviction_tenacity = between(v, 0, 100)?,
        |c| c.eviction_tenacity.to_string()
    ),
    field!(
        "lfu-log-factor",
        AtRunTime,
        |c, v| c.lfu_log_factor = between(v, 0, i32::MAX as u32)?,
        |c| c.lfu_log_factor.to_string()
    ),
    field!(
        "lfu-decay-time",
        AtRunTime,
        |c, v| c.lfu_decay_minutes = between(v, 0, i32::MAX as u32)?,
        |c| c.lfu_decay_minutes.to_string()
    ),
    field!(
        "slowlog-log-slower-than",
        AtRunTime,
        |c, v| c.slowlog_slower_than_us = signed(v)?,
        |c| c.slowlog_slower_than_us.to_string()
    ),
    field!(
        "slowlog-max-len",
        AtRunTime,
        |c, v| c.slowlog_len_max = int(v)? as usize,
        |c| c.slowlog_len_max.to_string()
    ),
    field!(
        "latency-monitor-threshold",
        AtRunTime,
        |c, v| c.latency_threshold_ms = int(v)?,
        |c| c.latency_threshold_ms.to_string()
    ),
    inert!("save", "", any_text),
    inert!("timeout", "0", only!("0", "it does not close idle clients")),
    field!(
        "notify-keyspace-events",
        AtRunTime,
        |c, v| c.notify_keyspace_events = crate::notify::events::parse(v)?,
        |c| crate::notify::events::format(c.notify_keyspace_events)
    ),
    field!(
        "aclfile",
        AtStart,
        |c, v| c.acl_file = text(v).map(std::path::PathBuf::from),
        |c| c
            .acl_file
            .as_ref()
            .map_or(String::new(), |p| p.display().to_string())
    ),
    field!(
        "acllog-max-len",
        AtRunTime,
        |c, v| c.acl_log_len_max = int(v)? as usize,
        |c| c.acl_log_len_max.to_string()
    ),
    field!(
        "acl-pubsub-default",
        AtRunTime,
        |c, v| c.acl_pubsub_all = match v.to_ascii_lowercase().as_str() {
            "allchannels" => true,
            "resetchannels" => false,
            _ => {
                return Err(
                    "argument(s) must be one of the following: allchannels, resetchannels".into(),
                );
            }
        },
        |c| if c.acl_pubsub_all {
            "allchannels"
        } else {
            "resetchannels"
        }
        .into()
    ),
    field!(
        "tracking-table-max-keys",
        AtRunTime,
        |c, v| c.tracking_keys_max = int(v)?,
        |c| c.tracking_keys_max.to_string()
    ),
    inert!(
        "min-replicas-to-write",
        "0",
        only!("0", "a region's writes never wait on its secondaries")
    ),
    inert!(
        "replica-read-only",
        "yes",
        only!("yes", "secondaries always refuse writes")
    ),
    inert!(
        "replica-serve-stale-data",
        "yes",
        only!("yes", "secondaries always serve reads")
    ),
    field!(
        "metrics-port",
        AtStart,
        |c, v| c.metrics_port = port_or_none(v)?,
        |c| c.metrics_port.map_or(String::new(), |p| p.to_string())
    ),
    field!(
        "sync-port",
        AtStart,
        |c, v| c.sync_port = port_or_none(v)?,
        |c| c.sync_port.map_or(String::new(), |p| p.to_string())
    ),
    field!("peers", AtStart, |c, v| c.peers = parse_peers(v)?, |c| c
        .peers
        .iter()
        .map(|p| format!("{}={}", p.region, p.addr))
        .collect::<Vec<_>>()
        .join(",")),
    field!(
        "sync-compression",
        AtStart,
        |c, v| c.sync_compression = parse_compression(v)?,
        |c| if c.sync_compression {
            "deflate"
        } else {
            "none"
        }
        .into()
    ),
    field!(
        "binlog-retention-bytes",
        AtStart,
        |c, v| c.binlog_retention_bytes = size(v)?,
        |c| c.binlog_retention_bytes.to_string()
    ),
    field!(
        "binlog-retention-secs",
        AtStart,
        |c, v| c.binlog_retention_secs = int(v)?,
        |c| c.binlog_retention_secs.to_string()
    ),
    field!(
        "anti-entropy-interval-ms",
        AtStart,
        |c, v| c.anti_entropy_interval_ms = int(v)?,
        |c| c.anti_entropy_interval_ms.to_string()
    ),
    field!(
        "expire-grace-ms",
        AtRunTime,
        |c, v| c.expire_grace_ms = int(v)?,
        |c| c.expire_grace_ms.to_string()
    ),
    field!(
        "gdc-conflict-log",
        AtRunTime,
        |c, v| c.conflict_log = parse_yes_no(v)?,
        |c| yes_no(c.conflict_log)
    ),
    field!(
        "enable-debug-command",
        AtStart,
        |c, v| c.debug_command = parse_yes_no(v)?,
        |c| yes_no(c.debug_command)
    ),
    field!(
        "coordinator",
        AtStart,
        |c, v| {
            c.coordinators = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        },
        |c| c.coordinators.join(",")
    ),
    field!(
        "coordinator-tls",
        AtStart,
        |c, v| c.coordinator_tls = parse_yes_no(v)?,
        |c| yes_no(c.coordinator_tls)
    ),
    field!("instance", AtStart, |c, v| c.instance = text(v), |c| c
        .instance
        .clone()
        .unwrap_or_default()),
    field!(
        "announce-ip",
        AtStart,
        |c, v| c.announce_ip = text(v),
        |c| c.announce_ip.clone().unwrap_or_default()
    ),
    field!(
        "announce-sync-port",
        AtStart,
        |c, v| c.announce_sync_port = port_or_none(v)?,
        |c| c
            .announce_sync_port
            .map_or(String::new(), |p| p.to_string())
    ),
    Setting {
        name: "cluster-token",
        change: Change::AtStart,
        shown: Shown::Never,
        value: Value::Field {
            set: |c, v| {
                c.cluster_token = text(v);
                Ok(())
            },
            get: |c| c.cluster_token.clone().unwrap_or_default(),
        },
    },
    field!(
        "tls-cert",
        AtStart,
        |c, v| c.tls_cert = text(v).map(Into::into),
        |c| path_text(&c.tls_cert)
    ),
    field!(
        "tls-key",
        AtStart,
        |c, v| c.tls_key = text(v).map(Into::into),
        |c| path_text(&c.tls_key)
    ),
    field!(
        "tls-ca",
        AtStart,
        |c, v| c.tls_ca = text(v).map(Into::into),
        |c| path_text(&c.tls_ca)
    ),
];

/// Every setting: gdc's, then the Redis settings with no effect on it.
pub fn all() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().chain(super::redis::REDIS_ONLY)
}

/// The setting called `name` (as redis.conf writes it, any case).
pub fn find(name: &str) -> Option<&'static Setting> {
    all().find(|s| s.name.eq_ignore_ascii_case(name))
}

impl Setting {
    /// Parse `value` into `config`.
    pub fn set(&self, config: &mut Config, value: &str) -> Result<(), String> {
        match &self.value {
            Value::Field { set, .. } => set(config, value),
            Value::Inert { check, .. } => {
                let kept = check(value)?;
                config.inert.insert(self.name, kept);
                Ok(())
            }
            Value::Alias(to) => find(to)
                .expect("an alias names a setting")
                .set(config, value),
        }
    }

    /// The name of the setting this one is (an alias's target's).
    pub fn canonical_name(&self) -> &'static str {
        match &self.value {
            Value::Alias(to) => find(to).expect("an alias names a setting").name,
            _ => self.name,
        }
    }

    pub fn is_alias(&self) -> bool {
        matches!(self.value, Value::Alias(_))
    }

    /// The value in `config`, as CONFIG GET shows it.
    pub fn get(&self, config: &Config) -> String {
        match &self.value {
            Value::Field { get, .. } => get(config),
            Value::Inert { default, .. } => config
                .inert
                .get(self.name)
                .cloned()
                .unwrap_or_else(|| default.to_string()),
            Value::Alias(to) => find(to).expect("an alias names a setting").get(config),
        }
    }
}

impl Config {
    /// Set the setting `name` from text, as the file, a flag or CONFIG SET gives it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SetError> {
        let setting = find(name).ok_or(SetError::Unknown)?;
        setting.set(self, value).map_err(SetError::Value)
    }

    /// CONFIG SET: the `(name, value)` pairs, all or none, each a setting that can change
    /// while the node runs. The config with them applied is returned.
    pub fn changed(&self, pairs: &[(&str, &str)]) -> Result<Config, (String, SetError)> {
        let mut next = self.clone();
        for (i, (name, value)) in pairs.iter().enumerate() {
            let fail = |e| Err((name.to_string(), e));
            if pairs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return fail(SetError::Duplicate);
            }
            let Some(setting) = find(name) else {
                return fail(SetError::Unknown);
            };
            if setting.change == Change::AtStart {
                // Setting it to the value in force changes nothing, and is no error: a
                // client that writes back what CONFIG GET gave must not fail on it.
                if setting.get(self) == *value {
                    continue;
                }
                return fail(SetError::AtStartOnly);
            }
            if let Err(why) = setting.set(&mut next, value) {
                return fail(SetError::Value(why));
            }
        }
        Ok(next)
    }

    /// CONFIG GET: every shown setting whose name matches one of `patterns`, in the order
    /// of the first pattern each matches.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        for pattern in patterns {
            let pattern = pattern.to_ascii_lowercase();
            for s in all() {
                let asked = match s.shown {
                    Shown::Always => crate::glob::matches(&pattern, s.name.as_bytes()),
                    Shown::ByName => pattern == s.name.as_bytes(),
                    Shown::Never => false,
                };
                if asked && !out.iter().any(|(n, _)| *n == s.name) {
                    out.push((s.name, s.get(self)));
                }
            }
        }
        out
    }
}

/// Why a setting was not set.
#[derive(Debug, PartialEq, Eq)]
pub enum SetError {
    Unknown,
    AtStartOnly,
    Duplicate,
    Value(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_shows_what_it_was_set_to() {
        let mut names: Vec<&str> = all().map(|s| s.name).collect();
        names.sort_unstable();
        let len = names.len();
        names.dedup();
        assert_eq!(names.len(), len, "a setting is declared twice");
        let mut c = Config::default();
        for s in all() {
            // What it shows by default reads back as itself.
            let shown = s.get(&c);
            s.set(&mut c, &shown)
                .unwrap_or_else(|e| panic!("{} = '{shown}': {e}", s.name));
            assert_eq!(s.get(&c), shown, "{}", s.name);
        }
        c.set("maxmemory", "1kb").expect("size");
        assert_eq!(c.memory_bytes_max, 1024);
        c.set("peers", "eu=h:1, us=h:2").expect("peers");
        assert_eq!(find("peers").expect("peers").get(&c), "eu=h:1,us=h:2");
        assert_eq!(c.set("nosuch", "1"), Err(SetError::Unknown));
        assert!(matches!(c.set("port", "x"), Err(SetError::Value(_))));
    }

    #[test]
    fn redis_settings_are_known_checked_aliased_and_hidden_as_in_redis() {
        let c = Config::default();
        let next = c
            .changed(&[("list-max-ziplist-size", "5"), ("repl-backlog-size", "1mb")])
            .expect("no effect, accepted");
        assert_eq!(
            next.matching(&[b"list-max-listpack-size", b"repl-backlog-size"]),
            [
                ("list-max-listpack-size", "5".to_string()),
                ("repl-backlog-size", "1048576".to_string())
            ],
            "an alias sets its setting; a size is kept in bytes"
        );
        assert_eq!(
            c.changed(&[("daemonize", "yes")]).expect_err("immutable").1,
            SetError::AtStartOnly
        );
        c.changed(&[("daemonize", "no"), ("port", "6379")])
            .expect("the values in force: nothing changes");
        let e = c
            .changed(&[("maxmemory", "1"), ("maxmemory-clients", "200%")])
            .expect_err("over 100%");
        assert_eq!(
            e,
            (
                "maxmemory-clients".to_string(),
                SetError::Value("percentage argument must be less or equal to 100".into())
            )
        );
        assert!(matches!(
            c.changed(&[("activerehashing", "maybe")]).expect_err("yes or no").1,
            SetError::Value(w) if w == "argument must be 'yes' or 'no'"
        ));
        assert!(
            c.matching(&[b"*"])
                .iter()
                .all(|(n, _)| *n != "key-load-delay"),
            "hidden from patterns"
        );
        assert_eq!(
            c.matching(&[b"key-load-delay"]),
            [("key-load-delay", "0".to_string())]
        );
    }

    #[test]
    fn config_set_changes_only_what_can_change_and_all_or_nothing() {
        let c = Config::default();
        let next = c
            .changed(&[("maxmemory", "10mb"), ("zset-max-ziplist-entries", "0")])
            .expect("both can change");
        assert_eq!(next.memory_bytes_max, 10 * 1024 * 1024);
        assert_eq!(
            next.matching(&[b"zset-max-ziplist-e*"]),
            [("zset-max-ziplist-entries", "0".to_string())]
        );
        let e = c
            .changed(&[("maxmemory", "10mb"), ("bind", "0.0.0.0")])
            .expect_err("bind is read at start");
        assert_eq!(e, ("bind".to_string(), SetError::AtStartOnly));
        assert_eq!(
            c.changed(&[("maxmemory", "1"), ("MAXMEMORY", "2")])
                .expect_err("twice"),
            ("MAXMEMORY".to_string(), SetError::Duplicate)
        );
        let e = c
            .changed(&[("maxmemory", "10mb"), ("maxmemory-policy", "lru")])
            .expect_err("no such policy");
        assert_eq!(
            e,
            (
                "maxmemory-policy".to_string(),
                SetError::Value("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction, volatile-lrm, allkeys-lrm".into())
            )
        );
        let next = c
            .changed(&[("maxmemory-policy", "ALLKEYS-LRU")])
            .expect("any case");
        assert_eq!(
            next.matching(&[b"maxmemory-policy"]),
            [("maxmemory-policy", "allkeys-lru".to_string())]
        );
        for (name, value, why) in [
            ("maxmemory", "-1", "argument must be a memory value"),
            (
                "maxmemory-samples",
                "0",
                "argument must be between 1 and 2147483647 inclusive",
            ),
            (
                "maxmemory-eviction-tenacity",
                "101",
                "argument must be between 0 and 100 inclusive",
            ),
            (
                "lfu-log-factor",
                "-1",
                "argument must be between 0 and 2147483647 inclusive",
            ),
            (
                "lfu-decay-time",
                "x",
                "argument couldn't be parsed into an integer",
            ),
        ] {
            assert_eq!(
                c.changed(&[(name, value)]).expect_err(name),
                (name.to_string(), SetError::Value(why.into()))
            );
        }
        assert!(c.matching(&[b"cluster-token"]).is_empty(), "a secret");
        assert_eq!(
            c.matching(&[b"MAXMEMORY"]),
            [("maxmemory", "0".to_string())]
        );
    }
}
