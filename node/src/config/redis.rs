//! The Redis 7.0 settings that have no effect on gdc: every redis.conf parameter is known,
//! so that clients, tools and config files written for Redis keep working. Each is accepted,
//! checked as Redis checks it (yes/no, an integer, a memory size) and shown back; those Redis
//! cannot change at run time cannot change here either. Their defaults are Redis 7.0.15's.
//! docs/compatibility.md says which matter and why they have no effect.

use super::settings::{Change, Setting, Shown, Value};
use super::words::{any_int, any_size, any_text, any_yes_no};

macro_rules! setting {
    ($name:literal, $change:ident, $shown:ident, $value:expr) => {
        Setting {
            name: $name,
            change: Change::$change,
            shown: Shown::$shown,
            value: $value,
        }
    };
}

/// Accepted and kept; CONFIG SET changes it.
macro_rules! inert {
    ($name:literal, $default:literal, $check:expr) => {
        setting!(
            $name,
            NoEffect,
            Always,
            Value::Inert {
                default: $default,
                check: $check
            }
        )
    };
}

/// Accepted at start and kept; CONFIG SET refuses it, as Redis does (`immutable`).
macro_rules! fixed {
    ($name:literal, $default:literal, $check:expr) => {
        setting!(
            $name,
            AtStart,
            Always,
            Value::Inert {
                default: $default,
                check: $check
            }
        )
    };
}

/// Another name of a setting.
macro_rules! alias {
    ($name:literal, $to:literal) => {
        setting!($name, NoEffect, Always, Value::Alias($to))
    };
}

/// Shown only when asked for by name (Redis's hidden settings, used by its tests).
macro_rules! hidden {
    ($name:literal, $default:literal) => {
        setting!(
            $name,
            NoEffect,
            ByName,
            Value::Inert {
                default: $default,
                check: any_int
            }
        )
    };
}

/// `maxmemory-clients`: a memory size, or a percentage of `maxmemory`.
fn clients_memory(v: &str) -> Result<String, String> {
    match v.strip_suffix('%') {
        Some(p) => match p.parse::<u64>() {
            Ok(n) if n <= 100 => Ok(v.to_string()),
            Ok(_) => Err("percentage argument must be less or equal to 100".into()),
            Err(_) => Err("argument must be a memory or percent value".into()),
        },
        None => any_size(v),
    }
}

/// One of Redis's words for an enumerated setting (any case; kept in lower case).
fn one_of(v: &str, words: &[&str]) -> Result<String, String> {
    let lower = v.to_ascii_lowercase();
    if words.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!(
            "argument(s) must be one of the following: {}",
            words.join(", ")
        ))
    }
}

/// `tls-port`: gdc's client port has no TLS, and saying otherwise would mislead.
fn no_client_tls(v: &str) -> Result<String, String> {
    match v {
        "0" => Ok(v.to_string()),
        _ => Err("must be '0' in gdc: clients connect without TLS (the sync port has TLS)".into()),
    }
}

pub static REDIS_ONLY: &[Setting] = &[
    // Encodings: gdc keeps one representation per type.
    alias!("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    alias!("hash-max-ziplist-value", "hash-max-listpack-value"),
    inert!("hash-max-listpack-entries", "512", any_int),
    inert!("hash-max-listpack-value", "64", any_size),
    alias!("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    alias!("zset-max-ziplist-value", "zset-max-listpack-value"),
    inert!("zset-max-listpack-entries", "128", any_int),
    inert!("zset-max-listpack-value", "64", any_size),
    inert!("set-max-intset-entries", "512", any_int),
    inert!("set-max-listpack-entries", "128", any_int),
    inert!("set-max-listpack-value", "64", any_int),
    alias!("list-max-ziplist-size", "list-max-listpack-size"),
    inert!("list-max-listpack-size", "-2", any_int),
    inert!("list-compress-depth", "0", any_int),
    inert!("stream-node-max-bytes", "4096", any_size),
    inert!("active-defrag-cycle-max", "25", any_int),
    inert!("active-defrag-cycle-min", "1", any_int),
    inert!("active-defrag-ignore-bytes", "104857600", any_size),
    inert!("active-defrag-max-scan-fields", "1000", any_int),
    inert!("active-defrag-threshold-lower", "10", any_int),
    inert!("active-defrag-threshold-upper", "100", any_int),
    inert!("active-expire-effort", "1", any_int),
    inert!("activedefrag", "no", any_yes_no),
    inert!("activerehashing", "yes", any_yes_no),
    fixed!("always-show-logo", "no", any_yes_no),
    inert!("aof-disable-auto-gc", "no", any_yes_no),
    inert!("aof-load-truncated", "yes", any_yes_no),
    inert!("aof-rewrite-incremental-fsync", "yes", any_yes_no),
    inert!("aof-timestamp-enabled", "no", any_yes_no),
    inert!("aof-use-rdb-preamble", "yes", any_yes_no),
    fixed!("aof_rewrite_cpulist", "", any_text),
    fixed!("appenddirname", "appendonlydir", any_text),
    fixed!("appendfilename", "appendonly.aof", any_text),
    inert!("auto-aof-rewrite-min-size", "67108864", any_size),
    inert!("auto-aof-rewrite-percentage", "100", any_int),
    fixed!("bgsave_cpulist", "", any_text),
    inert!("bind-source-addr", "", any_text),
    fixed!("bio_cpulist", "", any_text),
    inert!(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        any_text
    ),
    inert!("cluster-allow-pubsubshard-when-down", "yes", any_yes_no),
    inert!("cluster-allow-reads-when-down", "no", any_yes_no),
    inert!("cluster-allow-replica-migration", "yes", any_yes_no),
    inert!("cluster-announce-bus-port", "0", any_int),
    inert!("cluster-announce-hostname", "", any_text),
    inert!("cluster-announce-ip", "", any_text),
    inert!("cluster-announce-port", "0", any_int),
    inert!("cluster-announce-tls-port", "0", any_int),
    fixed!("cluster-config-file", "nodes.conf", any_text),
    fixed!("cluster-enabled", "no", any_yes_no),
    inert!("cluster-link-sendbuf-limit", "0", any_size),
    inert!("cluster-migration-barrier", "1", any_int),
    inert!("cluster-node-timeout", "15000", any_int),
    fixed!("cluster-port", "0", any_int),
    inert!("cluster-preferred-endpoint-type", "ip", |v| one_of(
        v,
        &["ip", "hostname", "unknown-endpoint"]
    )),
    inert!("cluster-replica-no-failover", "no", any_yes_no),
    inert!("cluster-replica-validity-factor", "10", any_int),
    inert!("cluster-require-full-coverage", "yes", any_yes_no),
    alias!("cluster-slave-no-failover", "cluster-replica-no-failover"),
    alias!(
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor"
    ),
    inert!("crash-log-enabled", "yes", any_yes_no),
    inert!("crash-memcheck-enabled", "yes", any_yes_no),
    fixed!("daemonize", "no", any_yes_no),
    inert!("dbfilename", "dump.rdb", any_text),
    fixed!("disable-thp", "yes", any_yes_no),
    inert!("dynamic-hz", "yes", any_yes_no),
    fixed!("enable-module-command", "no", |v| one_of(
        v,
        &["no", "yes", "local"]
    )),
    fixed!("enable-protected-configs", "no", |v| one_of(
        v,
        &["no", "yes", "local"]
    )),
    inert!("hz", "10", any_int),
    inert!("ignore-warnings", "", any_text),
    fixed!("io-threads", "1", any_int),
    fixed!("io-threads-do-reads", "no", any_yes_no),
    inert!("jemalloc-bg-thread", "yes", any_yes_no),
    inert!("latency-tracking", "yes", any_yes_no),
    inert!("latency-tracking-info-percentiles", "50 99 99.9", any_text),
    inert!("lazyfree-lazy-eviction", "no", any_yes_no),
    inert!("lazyfree-lazy-expire", "no", any_yes_no),
    inert!("lazyfree-lazy-server-del", "no", any_yes_no),
    inert!("lazyfree-lazy-user-del", "no", any_yes_no),
    inert!("lazyfree-lazy-user-flush", "no", any_yes_no),
    fixed!("logfile", "", any_text),
    inert!("loglevel", "notice", |v| one_of(
        v,
        &["debug", "verbose", "notice", "warning"]
    )),
    alias!("lua-time-limit", "busy-reply-threshold"),
    inert!("masterauth", "", any_text),
    inert!("masteruser", "", any_text),
    inert!("maxmemory-clients", "0", clients_memory),
    inert!("min-replicas-max-lag", "10", any_int),
    alias!("min-slaves-max-lag", "min-replicas-max-lag"),
    alias!("min-slaves-to-write", "min-replicas-to-write"),
    inert!("no-appendfsync-on-rewrite", "no", any_yes_no),
    inert!("oom-score-adj", "no", |v| one_of(
        v,
        &["no", "yes", "relative", "absolute"]
    )),
    inert!("oom-score-adj-values", "0 200 800", any_text),
    fixed!("pidfile", "", any_text),
    inert!(
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        any_text
    ),
    inert!("propagation-error-behavior", "ignore", |v| one_of(
        v,
        &["ignore", "panic", "panic-on-replicas"]
    )),
    inert!("protected-mode", "yes", any_yes_no),
    inert!("rdb-del-sync-files", "no", any_yes_no),
    inert!("rdb-save-incremental-fsync", "yes", any_yes_no),
    fixed!("rdbchecksum", "yes", any_yes_no),
    inert!("rdbcompression", "yes", any_yes_no),
    inert!("repl-backlog-size", "1048576", any_size),
    inert!("repl-backlog-ttl", "3600", any_int),
    inert!("repl-disable-tcp-nodelay", "no", any_yes_no),
    inert!("repl-diskless-load", "disabled", |v| one_of(
        v,
        &["disabled", "on-empty-db", "swapdb"]
    )),
    inert!("repl-diskless-sync", "yes", any_yes_no),
    inert!("repl-diskless-sync-delay", "5", any_int),
    inert!("repl-diskless-sync-max-replicas", "0", any_int),
    inert!("repl-ping-replica-period", "10", any_int),
    alias!("repl-ping-slave-period", "repl-ping-replica-period"),
    inert!("repl-timeout", "60", any_int),
    inert!("replica-announce-ip", "", any_text),
    inert!("replica-announce-port", "0", any_int),
    inert!("replica-announced", "yes", any_yes_no),
    inert!("replica-ignore-disk-write-errors", "no", any_yes_no),
    inert!("replica-ignore-maxmemory", "yes", any_yes_no),
    inert!("replica-lazy-flush", "no", any_yes_no),
    inert!("replica-priority", "100", any_int),
    fixed!("replicaof", "", any_text),
    inert!("sanitize-dump-payload", "no", |v| one_of(
        v,
        &["no", "yes", "clients"]
    )),
    fixed!("server_cpulist", "", any_text),
    fixed!("set-proc-title", "yes", any_yes_no),
    inert!("shutdown-on-sigint", "default", any_text),
    inert!("shutdown-on-sigterm", "default", any_text),
    inert!("shutdown-timeout", "10", any_int),
    alias!("slave-announce-ip", "replica-announce-ip"),
    alias!("slave-announce-port", "replica-announce-port"),
    alias!("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    alias!("slave-lazy-flush", "replica-lazy-flush"),
    alias!("slave-priority", "replica-priority"),
    alias!("slave-read-only", "replica-read-only"),
    alias!("slave-serve-stale-data", "replica-serve-stale-data"),
    alias!("slaveof", "replicaof"),
    fixed!("socket-mark-id", "0", any_int),
    inert!("stop-writes-on-bgsave-error", "yes", any_yes_no),
    fixed!("supervised", "no", |v| one_of(
        v,
        &["upstart", "systemd", "auto", "no"]
    )),
    fixed!("syslog-enabled", "no", any_yes_no),
    fixed!("syslog-facility", "local0", any_text),
    fixed!("syslog-ident", "redis", any_text),
    fixed!("tcp-backlog", "511", any_int),
    inert!("tcp-keepalive", "300", any_int),
    inert!("tls-auth-clients", "yes", |v| one_of(
        v,
        &["no", "yes", "optional"]
    )),
    inert!("tls-ca-cert-dir", "", any_text),
    inert!("tls-ca-cert-file", "", any_text),
    inert!("tls-cert-file", "", any_text),
    inert!("tls-ciphers", "", any_text),
    inert!("tls-ciphersuites", "", any_text),
    inert!("tls-client-cert-file", "", any_text),
    inert!("tls-client-key-file", "", any_text),
    inert!("tls-client-key-file-pass", "", any_text),
    inert!("tls-cluster", "no", any_yes_no),
    inert!("tls-dh-params-file", "", any_text),
    inert!("tls-key-file", "", any_text),
    inert!("tls-key-file-pass", "", any_text),
    inert!("tls-port", "0", no_client_tls),
    inert!("tls-prefer-server-ciphers", "no", any_yes_no),
    inert!("tls-protocols", "", any_text),
    inert!("tls-replication", "no", any_yes_no),
    inert!("tls-session-cache-size", "20480", any_int),
    inert!("tls-session-cache-timeout", "300", any_int),
    inert!("tls-session-caching", "yes", any_yes_no),
    fixed!("unixsocket", "", any_text),
    fixed!("unixsocketperm", "0", any_int),
    hidden!("key-load-delay", "0"),
    hidden!("rdb-key-save-delay", "0"),
    hidden!("loading-process-events-interval-bytes", "2097152"),
];
