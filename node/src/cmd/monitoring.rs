//! SLOWLOG and LATENCY: what was slow, as Redis 7.0 reports it. The data is kept by the
//! engine's stats ([`crate::engine::slowlog`], [`crate::engine::latency`], the per-command
//! histograms); [`observe`] feeds it after every command.

use super::{CmdResult, Ctx, int_arg, is};
use crate::engine::stats::{CommandStat, LATENCY_BUCKETS};
use crate::reply::Reply;
use bytes::Bytes;

/// A command took `nanos`: into the slow log and the latency monitor if slow enough.
pub(super) fn observe(ctx: &mut Ctx<'_>, args: &[Bytes], nanos: u64) {
    let micros = nanos / 1000;
    let (threshold, len_max) = (
        ctx.config.slowlog_slower_than_us,
        ctx.config.slowlog_len_max,
    );
    let now_secs = ctx.now / 1000;
    if threshold >= 0 && micros >= threshold as u64 {
        let addr = ctx
            .server
            .clients()
            .listing()
            .get(&ctx.conn.id)
            .map(|e| e.addr.clone())
            .unwrap_or_default();
        let name = ctx.conn.name.clone().unwrap_or_default();
        let log = &mut ctx.store.stats.slowlog;
        log.push(len_max, args, now_secs, micros, (addr, name));
    }
    let threshold_ms = ctx.config.latency_threshold_ms;
    ctx.store
        .stats
        .latency
        .observe("command", micros / 1000, threshold_ms, now_secs);
}

pub fn slowlog(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let log = &mut ctx.store.stats.slowlog;
    Ok(if is(sub, "get") {
        let n = match args.get(2) {
            None => Some(10),
            Some(a) => match int_arg(a) {
                Ok(-1) => None,
                Ok(n) if n >= 0 => Some(n as usize),
                _ => {
                    return Err(Reply::err(
                        "ERR count should be greater than or equal to -1",
                    ));
                }
            },
        };
        Reply::Array(
            log.newest(n)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(e.id as i64),
                        Reply::Int(e.at_secs as i64),
                        Reply::Int(e.micros as i64),
                        Reply::Array(e.args.iter().cloned().map(Reply::Bulk).collect()),
                        Reply::bulk(e.addr.clone()),
                        Reply::Bulk(e.name.clone()),
                    ])
                })
                .collect(),
        )
    } else if is(sub, "len") {
        Reply::Int(log.len() as i64)
    } else if is(sub, "reset") {
        log.reset();
        Reply::OK
    } else {
        help(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ])
    })
}

fn help(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Status(l)).collect())
}

pub fn latency(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "doctor") {
        return Ok(Reply::Text(doctor(ctx).into()));
    } else if is(sub, "histogram") {
        return Ok(histograms(ctx, &args[2..]));
    }
    let latency = &mut ctx.store.stats.latency;
    Ok(if is(sub, "latest") {
        Reply::Array(
            latency
                .events()
                .filter_map(|(name, e)| {
                    let last = e.latest()?;
                    Some(Reply::Array(vec![
                        Reply::bulk(name),
                        Reply::Int(last.at_secs as i64),
                        Reply::Int(last.millis as i64),
                        Reply::Int(e.max_millis as i64),
                    ]))
                })
                .collect(),
        )
    } else if is(sub, "history") {
        Reply::Array(latency.event(&args[2]).map_or_else(Vec::new, |e| {
            e.samples()
                .map(|s| {
                    Reply::Array(vec![
                        Reply::Int(s.at_secs as i64),
                        Reply::Int(s.millis as i64),
                    ])
                })
                .collect()
        }))
    } else if is(sub, "reset") {
        let names: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
        Reply::Int(latency.reset(&names) as i64)
    } else if is(sub, "graph") {
        match latency.event(&args[2]) {
            Some(e) => Reply::Text(graph(&String::from_utf8_lossy(&args[2]), e).into()),
            None => Reply::err(format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(&args[2])
            )),
        }
    } else {
        help(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Print this help.",
        ])
    })
}

/// LATENCY HISTOGRAM [command ...]: per command called since the last CONFIG RESETSTAT,
/// its calls and the cumulative count of calls by power-of-two µs bound. A container's
/// name stands for its subcommands; unknown names are skipped.
fn histograms(ctx: &Ctx<'_>, names: &[Bytes]) -> Reply {
    let wanted = |name: &str| {
        names.is_empty()
            || names.iter().any(|n| {
                let n = n.to_ascii_lowercase();
                name.as_bytes() == n
                    || name
                        .strip_prefix(std::str::from_utf8(&n).unwrap_or(""))
                        .is_some_and(|rest| rest.starts_with('|'))
            })
    };
    Reply::Map(
        ctx.store
            .stats
            .commands()
            .into_iter()
            .filter(|(name, s)| s.calls > 0 && wanted(name))
            .map(|(name, s)| (Reply::bulk(name), histogram(s)))
            .collect(),
    )
}

/// Below 1024 ns is reported with the first bound, as Redis's histograms start at 1 µs.
const FIRST_BUCKET: usize = 10;

fn histogram(s: &CommandStat) -> Reply {
    let mut buckets = Vec::new();
    let mut seen = 0;
    for b in FIRST_BUCKET..LATENCY_BUCKETS {
        let here = if b == FIRST_BUCKET {
            s.latency[..=b].iter().sum::<u64>()
        } else {
            s.latency[b]
        };
        if here > 0 {
            seen += here;
            let micros = (CommandStat::bucket_bound_nanos(b) - 1) / 1000;
            buckets.push((Reply::Int(micros as i64), Reply::Int(seen as i64)));
        }
    }
    Reply::Map(vec![
        (Reply::bulk("calls"), Reply::Int(s.calls as i64)),
        (Reply::bulk("histogram_usec"), Reply::Map(buckets)),
    ])
}

/// LATENCY GRAPH: the event's samples, oldest first, as a column of bars scaled to the
/// worst one.
fn graph(name: &str, e: &crate::engine::latency::Event) -> String {
    const WIDTH: u64 = 50;
    let mut out = format!(
        "{name} - high {} ms, low {} ms (all time high {} ms)\n",
        e.samples().map(|s| s.millis).max().unwrap_or(0),
        e.samples().map(|s| s.millis).min().unwrap_or(0),
        e.max_millis
    );
    let top = e.max_millis.max(1);
    for s in e.samples() {
        let bar = (s.millis * WIDTH).div_ceil(top) as usize;
        out.push_str(&format!(
            "{:>10} {:>6} ms {}\n",
            s.at_secs,
            s.millis,
            "#".repeat(bar)
        ));
    }
    out
}

/// LATENCY DOCTOR: a plain-words report of the events seen.
fn doctor(ctx: &Ctx<'_>) -> String {
    let threshold = ctx.config.latency_threshold_ms;
    if threshold == 0 {
        return "The latency monitor is off: it records nothing until \
                `CONFIG SET latency-monitor-threshold <milliseconds>` turns it on.\n"
            .into();
    }
    let events: Vec<_> = ctx.store.stats.latency.events().collect();
    if events.is_empty() {
        return format!(
            "No event took {threshold} ms or more (latency-monitor-threshold) since the \
             monitor started or was last reset.\n"
        );
    }
    let mut out = format!("Events that took {threshold} ms or more:\n\n");
    for (i, (name, e)) in events.iter().enumerate() {
        let n = e.samples().count() as u64;
        let avg = e.samples().map(|s| s.millis).sum::<u64>() / n.max(1);
        out.push_str(&format!(
            "{}. {name}: {n} latency spikes (average {avg} ms, worst {} ms).\n",
            i + 1,
            e.max_millis
        ));
        if *name == "command" {
            out.push_str(
                "   Slow commands: SLOWLOG GET lists them; commands over large values \
                 (KEYS, SORT, SMEMBERS of big sets, ...) are the usual cause.\n",
            );
        }
    }
    out
}
