//! What a node says of itself: ROLE, GDC.INFO, GDC.CHANNELS, GDC.STATUS, and the gdc parts of
//! INFO (`info.rs` prints INFO).

use super::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::engine::store::{DATABASES, now_ms};
use crate::reply::Reply;
use crate::sync::Replication;
use crate::sync::coordination::Place;
use crate::sync::status::{ChannelReport, Direction, Shown};
use bytes::Bytes;
use std::fmt::Write as _;

pub(super) fn gdc_section(ctx: &Ctx<'_>) -> String {
    let st = &ctx.store;
    let applied: Vec<String> = st
        .applied()
        .iter()
        .map(|(s, o)| format!("{}={}", s.0, o.0))
        .collect();
    let mut out = format!(
        "# Gdc\r\nserver_id:{}\r\nregion:{}\r\napplied:{}\r\nhlc:{}\r\nhlc_future_rejected:{}\r\nbinlog_segment_bytes:{}\r\nkeys_held:{}\r\n",
        st.server().0,
        ctx.config.region,
        applied.join(","),
        st.clock().last().0,
        st.clock().future_rejected(),
        st.binlog().segment_bytes(),
        (0..DATABASES).map(|d| st.db(d).len()).sum::<usize>(),
    );
    // Per conflict rule, the other regions' ops whose outcome it decided here
    // (docs/semantics.md, "Conflict counters").
    for (c, n) in st.stats.conflicts.iter() {
        let _ = write!(out, "conflicts_{}_{}:{n}\r\n", c.data_type(), c.rule());
    }
    // Per region, the evictions it made that were applied here (this region's own
    // included): which region's memory limit removed how many keys here.
    let channels = ctx.server.replication().channels();
    let own = (st.server(), ctx.config.region.as_str());
    for (region, n) in channels.by_region(&st.eviction_stats.by_origin, own) {
        let _ = write!(out, "evictions_from_{region}:{n}\r\n");
    }
    out.push_str("\r\n");
    out
}

/// GDC.INFO: the gdc section of INFO.
pub fn gdc_info(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(Bytes::from(gdc_section(ctx))))
}

/// `host:port` as Redis reports them apart (an IPv6 host without its brackets).
fn host_port(addr: &str) -> (String, u16) {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host.to_string(), port.parse().unwrap_or(0))
}

/// The lines of `INFO replication` Redis has, from this node's place in its region: a
/// primary lists the secondaries reading from it (`slaveN`), a secondary its primary (none
/// known: no host or port, the link down).
pub(super) fn redis_replication(replication: &Replication) -> String {
    match replication.coordination().place() {
        Place::Alone | Place::Primary { .. } => {
            let connected = replication.connected_secondaries();
            let mut out = format!("role:master\r\nconnected_slaves:{}\r\n", connected.len());
            for (i, (addr, offset)) in connected.iter().enumerate() {
                let (host, port) = host_port(addr);
                let _ = write!(
                    out,
                    "slave{i}:ip={host},port={port},state=online,offset={offset},lag=0\r\n"
                );
            }
            out
        }
        Place::Follows(Some(primary)) => {
            let (host, port) = host_port(&primary);
            format!(
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:up\r\n"
            )
        }
        Place::Follows(None) => "role:slave\r\nmaster_link_status:down\r\n".into(),
    }
}

/// ROLE, as Redis answers it: `master` for a node on its own or its region's primary (with
/// the secondaries reading from it and what they acknowledged), `slave` for a secondary
/// (with its primary). Sentinel clients send it to check the node they were sent to.
/// Offsets count ops applied.
pub fn role(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let offset = ctx.store.applied().iter().map(|(_, op)| op.0).sum::<u64>() as i64;
    Ok(match ctx.server.replication().coordination().place() {
        Place::Alone | Place::Primary { .. } => {
            let connected = ctx.server.replication().connected_secondaries();
            Reply::Array(vec![
                Reply::bulk("master"),
                Reply::Int(offset),
                Reply::Array(
                    connected
                        .iter()
                        .map(|(addr, acked)| {
                            let (host, port) = host_port(addr);
                            Reply::Array(vec![
                                Reply::bulk(host),
                                Reply::bulk(port.to_string()),
                                Reply::bulk(acked.to_string()),
                            ])
                        })
                        .collect(),
                ),
            ])
        }
        Place::Follows(primary) => {
            let (host, port) = primary.as_deref().map(host_port).unwrap_or_default();
            let state = if primary.is_some() {
                "connected"
            } else {
                "connect"
            };
            Reply::Array(vec![
                Reply::bulk("slave"),
                Reply::bulk(host),
                Reply::Int(i64::from(port)),
                Reply::bulk(state),
                Reply::Int(offset),
            ])
        }
    })
}

/// The gdc lines of `INFO replication`: this node's standing, then one line per channel.
pub(super) fn gdc_replication(
    replication: &Replication,
    own: &gdc_crdt::VersionVector,
    out: &mut String,
) {
    let now = now_ms();
    let reports = replication.reports(own, now);
    let inbound = || reports.iter().filter(|r| r.direction == Direction::In);
    let coordination = replication.coordination();
    let _ = write!(
        out,
        "gdc_region:{}\r\ngdc_coordination:{}\r\ngdc_coordinators_out_of_reach_ms:{}\r\ngdc_role:{}\r\ngdc_epoch:{}\r\ngdc_assignment_index:{}\r\ngdc_inbound_channels:{}\r\ngdc_outbound_channels:{}\r\ngdc_full_syncs_received:{}\r\ngdc_full_syncs_sent:{}\r\ngdc_anti_entropy_repaired_keys:{}\r\n",
        replication.config().region,
        coordination.mode(),
        coordination.out_of_reach_ms(now),
        coordination.role(),
        coordination.epoch(),
        coordination.assignment_index(),
        inbound().count(),
        reports.len() - inbound().count(),
        inbound().map(|c| c.full_syncs).sum::<u64>(),
        replication.channels().full_syncs_sent(),
        inbound().map(|c| c.repaired_keys).sum::<u64>(),
    );
    let line = |r: &ChannelReport| {
        let pairs: Vec<String> = r.fields().iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join(",")
    };
    for direction in [Direction::In, Direction::Out] {
        let prefix = match direction {
            Direction::In => "gdc_inbound",
            Direction::Out => "gdc_outbound",
        };
        let of_direction = reports.iter().filter(|r| r.direction == direction);
        for (i, r) in of_direction.enumerate() {
            let _ = write!(out, "{prefix}{i}:{}\r\n", line(r));
        }
    }
}

/// GDC.CHANNELS: every channel of this node, inbound (this node receives) and outbound (a
/// peer receives from this node), with its state and lag.
pub fn gdc_channels(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let reports = ctx
        .server
        .replication()
        .reports(ctx.store.applied(), ctx.now);
    Ok(Reply::Array(reports.iter().map(channel_map).collect()))
}

/// One channel as GDC.CHANNELS and GDC.STATUS show it.
fn channel_map(r: &ChannelReport) -> Reply {
    let field = |k: &str, v: Reply| (Reply::bulk(k.to_string()), v);
    let mut m = vec![field("direction", Reply::bulk(r.direction.as_str()))];
    m.extend(r.fields().into_iter().map(|(k, v)| match v {
        Shown::Int(n) => field(k, Reply::Int(n as i64)),
        Shown::Text(t) => field(k, Reply::bulk(t)),
    }));
    Reply::Map(m)
}

/// GDC.STATUS: what this node is, for the operator's tools (gdcctl status, verify,
/// switchover, attach): its region, whether coordinators run it (none, following or
/// removed), its role, epoch and the coordinators' assignment index, its applied vector
/// (server-id to op), and its channels as GDC.CHANNELS shows them.
pub fn gdc_status(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let replication = ctx.server.replication();
    let coordination = replication.coordination();
    let field = |k: &str, v: Reply| (Reply::bulk(k.to_string()), v);
    let int = |n: u64| Reply::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let applied = ctx
        .store
        .applied()
        .iter()
        .map(|(s, op)| field(&s.0.to_string(), int(op.0)))
        .collect();
    let reports = replication.reports(ctx.store.applied(), ctx.now);
    Ok(Reply::Map(vec![
        field("region", Reply::bulk(ctx.config.region.clone())),
        field("coordination", Reply::bulk(coordination.mode())),
        field("role", Reply::bulk(coordination.role().to_string())),
        field("epoch", int(coordination.epoch())),
        field("assignment_index", int(coordination.assignment_index())),
        field("applied", Reply::Map(applied)),
        field(
            "channels",
            Reply::Array(reports.iter().map(channel_map).collect()),
        ),
    ]))
}

/// REPLICAOF host port | NO ONE (and SLAVEOF). A region's primary and its secondaries are
/// chosen by the coordinator, never by a client: the command answers as Redis would where
/// it changes nothing (NO ONE on a node that already takes writes, the primary this node
/// already follows) and is refused otherwise, naming what to use instead.
pub fn replicaof(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let place = ctx.server.replication().coordination().place();
    if is(&args[1], "no") && is(&args[2], "one") {
        return Ok(match place {
            Place::Alone | Place::Primary { .. } => Reply::OK,
            Place::Follows(_) => Reply::err(format!("{NOT_HERE} (gdcctl failover)")),
        });
    }
    let port = match int_arg(&args[2]) {
        Ok(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Ok(Reply::err("ERR Invalid master port")),
    };
    if let Place::Follows(Some(primary)) = &place {
        let (host, at) = host_port(primary);
        if args[1] == host.as_bytes() && at == port {
            return Ok(Reply::Status("OK Already connected to specified master"));
        }
    }
    Ok(Reply::err(format!(
        "{NOT_HERE} (gdcctl node and gdcctl failover)"
    )))
}

/// Why REPLICAOF and FAILOVER do nothing here.
const NOT_HERE: &str =
    "ERR a gdc node's role is set by the coordinator, not by REPLICAOF or FAILOVER";

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: Redis's coordinated failover of a
/// primary to one of its replicas is gdcctl's `failover` here (the coordinator runs it, and
/// it keeps every write). Its arguments are checked as Redis checks them.
pub fn failover(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 && is(&args[1], "abort") {
        return Ok(Reply::err("ERR No failover in progress."));
    }
    let (mut to, mut force, mut timeout) = (false, false, false);
    let mut i = 1;
    while i < args.len() {
        if is(&args[i], "timeout") && i + 1 < args.len() && !timeout {
            if int_arg(&args[i + 1])? <= 0 {
                return Ok(Reply::err("ERR FAILOVER timeout must be greater than 0"));
            }
            timeout = true;
            i += 2;
        } else if is(&args[i], "to") && i + 2 < args.len() && !to {
            int_arg(&args[i + 2])?;
            to = true;
            i += 3;
        } else if is(&args[i], "force") && !force {
            force = true;
            i += 1;
        } else {
            return Ok(syntax_error());
        }
    }
    if let Place::Follows(_) = ctx.server.replication().coordination().place() {
        return Ok(Reply::err(
            "ERR FAILOVER is not valid when server is a replica.",
        ));
    }
    if force && (!to || !timeout) {
        return Ok(Reply::err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    Ok(Reply::err(format!("{NOT_HERE} (gdcctl failover)")))
}
