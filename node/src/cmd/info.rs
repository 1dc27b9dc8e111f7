//! INFO, as Redis 7.0 prints it: the sections in Redis's order, every field redis-server
//! prints with gdc's value where it has one, and Redis's neutral value where the field
//! describes something gdc does not have (docs/architecture.md, "INFO"); then gdc's own
//! section. Which sections: none named, or `default`, the default ones; `all` every one but
//! module-generated ones; `everything` all; names (any case) add their sections.

use super::introspection::{gdc_replication, gdc_section, redis_replication};
use super::{CmdResult, Ctx};
use crate::engine::store::{DATABASES, now_ms};
use crate::reply::Reply;
use bytes::Bytes;
use std::fmt::Write as _;

/// Every section, in the order INFO prints them, and whether it is a default one.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
    ("gdc", true),
];

/// The sections `args` (INFO's arguments) ask for.
fn wanted(args: &[Bytes]) -> Vec<&'static str> {
    let asked: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = asked.iter().any(|a| a == "all" || a == "everything");
    let default = asked.is_empty() || asked.iter().any(|a| a == "default");
    SECTIONS
        .iter()
        .filter(|(name, is_default)| {
            all || (default && *is_default) || asked.iter().any(|a| a == name)
        })
        .map(|(name, _)| *name)
        .collect()
}

pub fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut out = String::new();
    for section in wanted(&args[1..]) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match section {
            "server" => server(ctx, &mut out),
            "clients" => clients(ctx, &mut out),
            "memory" => memory(ctx, &mut out),
            "persistence" => persistence(ctx, &mut out),
            "stats" => stats(ctx, &mut out),
            "replication" => {
                out.push_str("# Replication\r\n");
                out.push_str(&redis_replication(ctx.server.replication()));
                out.push_str("master_failover_state:no-failover\r\nmaster_replid:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n");
                gdc_replication(ctx.server.replication(), ctx.store.applied(), &mut out);
            }
            "cpu" => cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => commandstats(ctx, &mut out),
            "errorstats" => errorstats(ctx, &mut out),
            "latencystats" => latencystats(ctx, &mut out),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => keyspace(ctx, &mut out),
            _ => {
                out.push_str(gdc_section(ctx).trim_end_matches("\r\n"));
                out.push_str("\r\n");
            }
        }
    }
    Ok(Reply::Text(Bytes::from(out)))
}

/// `1.50M`, as Redis's `*_human` fields.
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        n if n < 1024 => format!("{n}B"),
        n if n < 1 << 20 => format!("{:.2}K", b / 1024.0),
        n if n < 1 << 30 => format!("{:.2}M", b / (1u64 << 20) as f64),
        n if n < 1 << 40 => format!("{:.2}G", b / (1u64 << 30) as f64),
        _ => format!("{:.2}T", b / (1u64 << 40) as f64),
    }
}

/// A stable id for this run (`run_id`): 40 hex digits from the process and its start.
fn run_id(started_ms: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let state =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
    (0..3u64)
        .map(|i| {
            let mut h = state.build_hasher();
            h.write_u64(started_ms);
            h.write_u32(std::process::id());
            h.write_u64(i);
            format!("{:016x}", h.finish())
        })
        .collect::<String>()[..40]
        .to_string()
}

fn server(ctx: &Ctx<'_>, out: &mut String) {
    let started = ctx.server.started_ms();
    let uptime = now_ms().saturating_sub(started) / 1000;
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = ctx
        .config
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:{}\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:{}\r\nexecutable:{executable}\r\nconfig_file:{config_file}\r\nio_threads_active:0\r\ngdc_version:{}\r\n",
        crate::REDIS_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        run_id(started),
        ctx.config.port,
        now_ms() * 1000,
        uptime / 86400,
        (now_ms() / 1000) & ((1 << 24) - 1),
        env!("CARGO_PKG_VERSION"),
    );
}

fn clients(ctx: &Ctx<'_>, out: &mut String) {
    let clients = ctx.server.clients();
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
        clients.connected(),
        clients.max(),
        clients.blocked(),
        ctx.server.notifier().tracking().counts().clients,
    );
}

/// INFO memory, with Redis 7.0's fields in its order. `used_memory` is every live heap
/// byte; the overhead is what holds no key: the memory at start, client buffers, the
/// channels' and the binlog's buffers, and removal knowledge not yet collected (which
/// gdc adds as `mem_removal_knowledge`); the rest is the dataset. What eviction leaves out
/// (`mem_not_counted_for_evict`) is the buffers, the removal knowledge and the metadata
/// store's fixed tables (gdc's `mem_metadata_store`, part of the memory at start).
fn memory(ctx: &Ctx<'_>, out: &mut String) {
    let used = crate::alloc::live_bytes().max(0) as u64;
    let peak = (crate::alloc::note_peak().max(0) as u64).max(used);
    let rss = crate::alloc::rss_bytes();
    let max = ctx.config.memory_bytes_max;
    let system = system_memory_bytes();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let startup = crate::alloc::startup_bytes().min(used);
    // The channels' buffers, both ways (Redis's replication buffer and its master
    // client's).
    let replication =
        crate::alloc::SYNC_SEND_BUFFERS.bytes() + crate::alloc::SYNC_RECEIVE_BUFFERS.bytes();
    let binlog = ctx.store.binlog().buffer_bytes();
    let clients = ctx.server.clients().memory_bytes();
    let removals = ctx.store.uncollected_bytes();
    let overhead = (startup + replication + binlog + clients + removals).min(used);
    let dataset = used - overhead;
    let not_counted = ctx.store.not_counted_bytes() + removals;
    let metadata = crate::alloc::METADATA_STORE.bytes();
    let (cached_scripts, scripts_bytes) = ctx.server.scripts().usage();
    let (libraries, functions) = super::functions::registry(ctx).counts();
    let allocator = crate::alloc::ALLOCATOR;
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{overhead}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\ntotal_system_memory:{system}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:0\r\nused_memory_vm_eval:0\r\nused_memory_scripts_eval:{scripts_bytes}\r\nnumber_of_cached_scripts:{cached_scripts}\r\nnumber_of_functions:{functions}\r\nnumber_of_libraries:{libraries}\r\nused_memory_vm_functions:0\r\nused_memory_scripts:0\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_not_counted_for_evict:{not_counted}\r\nmem_replication_backlog:{replication}\r\nmem_total_replication_buffers:{replication}\r\nmem_clients_slaves:0\r\nmem_clients_normal:{clients}\r\nmem_cluster_links:0\r\nmem_aof_buffer:{binlog}\r\nmem_removal_knowledge:{removals}\r\nmem_metadata_store:{metadata}\r\nmem_allocator:{allocator}\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
        human(used),
        human(rss),
        human(peak),
        ratio(used, peak) * 100.0,
        ratio(dataset, used - startup) * 100.0,
        human(system),
        human(max),
        ctx.store.eviction().policy.name(),
        ratio(rss, used),
    );
}

/// The machine's memory (`MemTotal` of /proc/meminfo; 0 where unknown).
fn system_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

fn persistence(ctx: &Ctx<'_>, out: &mut String) {
    let st = &ctx.store;
    let retention = ctx.server.engine().retention();
    let bgsave = retention.bgsave_stats();
    let _ = write!(
        out,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_last_cow_size:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\nappendfsync:{}\r\nbinlog_segment_bytes:{}\r\n",
        st.dirty,
        u8::from(retention.bgsave_running()),
        retention.last_save_secs(),
        if bgsave.last_failed { "err" } else { "ok" },
        bgsave.last_secs,
        st.binlog().policy().name(),
        st.binlog().segment_bytes(),
    );
}

fn stats(ctx: &Ctx<'_>, out: &mut String) {
    let (exceeded_total, exceeded_now) = ctx.store.eviction_stats.exceeded();
    let clients = ctx.server.clients();
    let (received, rejected) = clients.connections();
    let (_, errors) = ctx.store.stats.errors();
    let pubsub = ctx.server.pubsub();
    let tracking = ctx.server.notifier().tracking().counts();
    let bgsave = ctx.server.engine().retention().bgsave_stats();
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{received}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:0\r\ntotal_net_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\nrejected_connections:{rejected}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:{}\r\ncurrent_eviction_exceeded_time:{}\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\nlatest_fork_usec:{}\r\ntotal_forks:{}\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{errors}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n",
        clients.commands_processed(),
        ctx.store.stats.expired_keys,
        ctx.store.eviction_stats.evicted_keys,
        exceeded_total,
        exceeded_now,
        pubsub.channels(None).len(),
        pubsub.numpat(),
        bgsave.fork_usec,
        bgsave.forks,
        tracking.keys,
        tracking.items,
        tracking.prefixes,
    );
}

/// CPU seconds of this process, its children and its main thread, from /proc.
fn cpu(out: &mut String) {
    // utime, stime, cutime, cstime: fields 14 to 17, in clock ticks (100 a second on Linux).
    let times = |path: &str| -> [f64; 4] {
        let mut t = [0.0; 4];
        if let Ok(s) = std::fs::read_to_string(path) {
            // The command name (field 2) may hold spaces: count from after its ')'.
            let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
            for (i, v) in rest.split_whitespace().skip(11).take(4).enumerate() {
                t[i] = v.parse::<f64>().unwrap_or(0.0) / 100.0;
            }
        }
        t
    };
    let [user, sys, cuser, csys] = times("/proc/self/stat");
    // INFO runs on the runtime's thread, which is the main thread.
    let [tuser, tsys, _, _] = times("/proc/thread-self/stat");
    let _ = write!(
        out,
        "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{csys:.6}\r\nused_cpu_user_children:{cuser:.6}\r\nused_cpu_sys_main_thread:{tsys:.6}\r\nused_cpu_user_main_thread:{tuser:.6}\r\n"
    );
}

fn commandstats(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (name, s) in ctx.store.stats.commands() {
        let usec = s.nanos as f64 / 1e3;
        let _ = write!(
            out,
            "cmdstat_{name}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            s.calls,
            usec as u64,
            usec / s.calls.max(1) as f64,
            s.rejected,
            s.failed
        );
    }
}

fn errorstats(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (word, n) in ctx.store.stats.errors().0 {
        let _ = write!(out, "errorstat_{word}:count={n}\r\n");
    }
}

fn latencystats(ctx: &Ctx<'_>, out: &mut String) {
    // Bounds of power-of-two histogram buckets: an upper bound on each percentile.
    out.push_str("# Latencystats\r\n");
    for (name, s) in ctx.store.stats.commands() {
        let p = |f: f64| s.percentile_nanos(f) as f64 / 1e3;
        let _ = write!(
            out,
            "latency_percentiles_usec_{name}:p50={:.3},p99={:.3},p99.9={:.3}\r\n",
            p(0.5),
            p(0.99),
            p(0.999)
        );
    }
}

fn keyspace(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for db in 0..DATABASES {
        let ks = ctx.store.db(db);
        let c = ks.live_counts(ctx.now);
        if c.keys > 0 {
            let _ = write!(
                out,
                "db{db}:keys={},expires={},avg_ttl={}\r\n",
                c.keys, c.expires, c.avg_ttl_ms
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Vec<&'static str> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
        wanted(&args)
    }

    #[test]
    fn sections_are_chosen_as_redis_chooses_them() {
        let default = names(&[]);
        assert!(default.contains(&"errorstats") && default.contains(&"gdc"));
        assert!(!default.contains(&"commandstats") && !default.contains(&"latencystats"));
        assert_eq!(names(&["default"]), default);
        assert_eq!(names(&["all"]).len(), SECTIONS.len());
        assert_eq!(names(&["cpu"]), ["cpu"]);
        assert_eq!(names(&["commandSTATS"]), ["commandstats"]);
        assert_eq!(names(&["cpu", "sentinel"]), ["cpu"], "sentinel: none");
        assert_eq!(names(&["keyspace", "cpu"]), ["cpu", "keyspace"], "in order");
        let cpu_default = names(&["cpu", "default"]);
        assert_eq!(cpu_default, default, "cpu is a default section");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(run_id(1).len(), 40);
    }
}
