//! What ran and what was slow, as Redis 7.0 reports it: MONITOR, SLOWLOG and LATENCY. The
//! slow log and latency data are kept by the engine's stats ([`crate::engine::slowlog`],
//! [`crate::engine::latency`], the per-command histograms); [`observe`] feeds them, and the
//! MONITOR clients, after every command.

use super::{CmdResult, Ctx, int_arg, is};
use crate::engine::stats::{CommandStat, LATENCY_BUCKETS};
use crate::reply::Reply;
use bytes::Bytes;
use std::borrow::Cow;

/// A command ran and took `nanos`: to the MONITOR clients (`shown`: not an administrative
/// command, and its first run), and into the slow log and the latency monitor if slow
/// enough (`timed`: done, and not EXEC). Inlined: every command ends here, and what it does
/// for most is a few comparisons.
#[inline]
pub(super) fn observe(ctx: &mut Ctx<'_>, args: &[Bytes], nanos: u64, shown: bool, timed: bool) {
    if shown {
        feed_monitors(ctx, args);
    }
    if !timed {
        return;
    }
    let micros = nanos / 1000;
    let threshold = ctx.config.slowlog_slower_than_us;
    let now_secs = ctx.now / 1000;
    if threshold >= 0 && micros >= threshold as u64 {
        log_slow(ctx, args, micros, now_secs);
    }
    let threshold_ms = ctx.config.latency_threshold_ms;
    ctx.store
        .stats
        .latency
        .observe("command", micros / 1000, threshold_ms, now_secs);
}

#[inline(never)]
fn log_slow(ctx: &mut Ctx<'_>, args: &[Bytes], micros: u64, now_secs: u64) {
    let client = (client_addr(ctx), ctx.conn.name.clone().unwrap_or_default());
    let len_max = ctx.config.slowlog_len_max;
    let log = &mut ctx.store.stats.slowlog;
    log.push(len_max, &redacted(args), now_secs, micros, client);
}

/// Show a command to the MONITOR clients. EVAL and FCALL call this themselves, before
/// they run (they are `skip_monitor`), so that they come before the commands they run.
#[inline]
pub(super) fn feed_monitors(ctx: &Ctx<'_>, args: &[Bytes]) {
    if ctx.server.pubsub().monitored() {
        feed_monitors_now(ctx, args);
    }
}

#[inline(never)]
fn feed_monitors_now(ctx: &Ctx<'_>, args: &[Bytes]) {
    let line = monitor_line(ctx, &redacted(args));
    ctx.server.pubsub().feed_monitors(line);
}

/// The client a command came from, as MONITOR and the slow log name it: a script's
/// commands are `lua`'s, as in Redis.
fn client_addr(ctx: &Ctx<'_>) -> String {
    if ctx.conn.in_script {
        return "lua".into();
    }
    ctx.server
        .clients()
        .listing()
        .get(&ctx.conn.id)
        .map(|e| e.addr.clone())
        .unwrap_or_default()
}

/// The arguments as MONITOR and the slow log show them: passwords never are (AUTH's
/// arguments, HELLO's AUTH pair, the values of secret settings in CONFIG SET).
fn redacted(args: &[Bytes]) -> Cow<'_, [Bytes]> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    let secret_setting = |n: &Bytes| {
        ["requirepass", "masterauth", "cluster-token"]
            .iter()
            .any(|s| is(n, s))
    };
    let mut out = Cow::Borrowed(args);
    if is(&args[0], "auth") {
        out.to_mut()[1..].fill(HIDDEN);
    } else if is(&args[0], "hello") {
        if let Some(at) = args.iter().position(|a| is(a, "auth")) {
            for a in out.to_mut().iter_mut().skip(at + 1).take(2) {
                *a = HIDDEN;
            }
        }
    } else if is(&args[0], "config") && args.get(1).is_some_and(|a| is(a, "set")) {
        for i in (2..args.len().saturating_sub(1)).step_by(2) {
            if secret_setting(&args[i]) {
                out.to_mut()[i + 1] = HIDDEN;
            }
        }
    }
    out
}

/// A MONITOR line: `<unix secs>.<µs> [<db> <client addr>] "arg" ...`, each argument quoted
/// and escaped as Redis quotes it.
fn monitor_line(ctx: &Ctx<'_>, args: &[Bytes]) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!(
        "{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        ctx.conn.db,
        client_addr(ctx)
    )
    .into_bytes();
    for a in args {
        line.push(b' ');
        quote_into(&mut line, a);
    }
    Bytes::from(line)
}

/// Redis's quoting of a string (`sdscatrepr`).
fn quote_into(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b),
            b => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// MONITOR: this client is fed every command any client runs from now on (RESET or
/// disconnecting ends it). Not from inside a transaction; a second MONITOR is ignored.
pub fn monitor(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.conn.in_exec {
        return Err(Reply::err(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx.conn.monitor {
        return Ok(Reply::Silence);
    }
    let Some(tx) = ctx.conn.pubsub_tx.as_ref() else {
        return Err(Reply::err("ERR this connection cannot be fed"));
    };
    ctx.server.pubsub().monitor(ctx.conn.id, tx);
    ctx.conn.monitor = true;
    Ok(Reply::OK)
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
        super::help(&[
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
        super::help(&[
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

#[cfg(test)]
mod tests {
    use super::{quote_into, redacted};
    use bytes::Bytes;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn secrets_are_redacted() {
        for (given, shown) in [
            (
                &["auth", "user", "pw"][..],
                &["auth", "(redacted)", "(redacted)"][..],
            ),
            (
                &["hello", "3", "AUTH", "u", "pw", "SETNAME", "x"],
                &[
                    "hello",
                    "3",
                    "AUTH",
                    "(redacted)",
                    "(redacted)",
                    "SETNAME",
                    "x",
                ],
            ),
            (
                &["config", "set", "maxmemory", "1", "requirepass", "pw"],
                &[
                    "config",
                    "set",
                    "maxmemory",
                    "1",
                    "requirepass",
                    "(redacted)",
                ],
            ),
            (&["set", "auth", "pw"], &["set", "auth", "pw"]),
        ] {
            assert_eq!(redacted(&args(given)).as_ref(), args(shown).as_slice());
        }
    }

    #[test]
    fn arguments_are_quoted_as_redis_quotes_them() {
        let mut out = Vec::new();
        quote_into(&mut out, "x\"y\nz\u{1}\\ é".as_bytes());
        assert_eq!(String::from_utf8_lossy(&out), r#""x\"y\nz\x01\\ \xc3\xa9""#);
    }
}
