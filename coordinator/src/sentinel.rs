//! The discovery port: a RESP listener in the manner of Redis Sentinel, so that Redis
//! client libraries can find a region's primary with the code they already have.
//!
//! Served: `PING`, `SENTINEL get-master-addr-by-name <name>`, `SENTINEL masters`,
//! `SENTINEL master <name>`, `SENTINEL replicas|slaves <name>`, `SENTINEL sentinels <name>`
//! (none: the coordinators are the sentinels), and `SUBSCRIBE`/`PSUBSCRIBE` for
//! `+switch-master`. A master's name is its region, or
//! `instance/region` when regions of several instances share a name. Answers come from
//! this coordinator's applied topology (as a Sentinel's, they may lag a failover by a
//! moment; clients ask again on a failed write).
//!
//! Here: the port and its connections. The requests are read (and replies written) as
//! `resp` has it, answered from the topology by `masters`, and the pub/sub ones by
//! `subscriptions`.

mod masters;
mod resp;
mod subscriptions;

use crate::store::StateMachine;
use masters::answer;
use resp::read_request;
use subscriptions::Subscriptions;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

pub async fn bind(port: u16) -> Result<TcpListener, String> {
    TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|e| format!("cannot listen on sentinel port {port}: {e}"))
}

/// At most this many connections at once (the port needs no token: it must not be able to
/// use up the process's descriptors, which Raft needs too)...
const CONNECTIONS_MAX: usize = 1024;
/// ...and one idle this long is closed.
const IDLE: std::time::Duration = std::time::Duration::from_secs(300);

/// Serve connections until the process ends.
pub async fn serve(listener: TcpListener, state: StateMachine) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            continue;
        };
        let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
            debug!(%from, "sentinel connection refused: too many open");
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &state).await {
                debug!(%from, error = %e, "sentinel connection closed");
            }
            drop(slot);
        });
    }
}

/// TCP keepalive on discovery connections: a subscriber may send nothing for days, and one
/// that vanished without closing (a partition, a NAT dropping the flow) is found this way,
/// as Redis Sentinel finds it (its `tcp-keepalive` is 300 s).
const KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(std::time::Duration::from_secs(300))
    .with_interval(std::time::Duration::from_secs(30));

async fn connection(stream: TcpStream, state: &StateMachine) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&KEEPALIVE);
    let (read, mut write) = stream.into_split();
    // Requests are read on their own task, so that a subscribed connection can wait for a
    // request and for a change of topology at once without dropping a half-read request.
    let (tx, mut requests) = tokio::sync::mpsc::channel(4);
    // Its only task: dropped with the connection, it stops reading.
    let mut reading = tokio::task::JoinSet::new();
    reading.spawn(async move {
        let mut read = BufReader::new(read);
        loop {
            let request = read_request(&mut read).await;
            let more = matches!(request, Ok(Some(Ok(_))));
            if tx.send(request).await.is_err() || !more {
                return;
            }
        }
    });
    let mut changes = state.subscribe();
    let mut subs = Subscriptions::default();
    loop {
        // A subscriber waits for events as long as it likes.
        let idle = if subs.active() {
            std::time::Duration::MAX
        } else {
            IDLE
        };
        let request = tokio::select! {
            r = tokio::time::timeout(idle, requests.recv()) => {
                let Ok(r) = r else { return Ok(()) };
                r
            }
            changed = changes.changed(), if subs.active() => {
                if changed.is_err() {
                    return Ok(());
                }
                let events = {
                    let applied = state.read().await;
                    subs.events(&applied.topology)
                };
                write.write_all(events.as_bytes()).await?;
                continue;
            }
        };
        let args = match request.transpose()?.flatten() {
            Some(Ok(args)) => args,
            Some(Err(why)) => {
                // The stream is out of step after a malformed request: answer and close.
                let reply = format!("-ERR Protocol error: {why}\r\n");
                write.write_all(reply.as_bytes()).await?;
                return Ok(());
            }
            None => return Ok(()),
        };
        let reply = {
            let applied = state.read().await;
            subs.request(&args, &applied.topology)
                .unwrap_or_else(|| answer(&args, &applied.topology))
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    async fn requests(input: &[u8]) -> Vec<Result<Vec<Vec<u8>>, String>> {
        let mut r = BufReader::new(input);
        let mut out = Vec::new();
        while let Ok(Some(req)) = read_request(&mut r).await {
            let stop = req.is_err();
            out.push(req);
            if stop {
                break;
            }
        }
        out
    }

    #[tokio::test]
    async fn resp_and_inline_requests_are_read_and_bad_ones_refused() {
        let got = requests(b"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nping\r\n$1\r\nx\r\n").await;
        assert_eq!(
            got,
            vec![
                Ok(vec![b"PING".to_vec()]),
                Ok(vec![b"PING".to_vec()]),
                Ok(vec![b"ping".to_vec(), b"x".to_vec()]),
            ]
        );
        let t = Topology::default();
        assert_eq!(answer(&[b"PiNg".to_vec()], &t), "+PONG\r\n");
        assert!(answer(&[b"ping".to_vec(), b"x".to_vec()], &t).starts_with("-ERR wrong number"));
        assert!(answer(&[b"FLUSHALL".to_vec()], &t).starts_with("-ERR unknown command 'FLUSHALL'"));
        assert!(requests(b"*99\r\n").await[0].is_err());
        assert!(requests(b"*1\r\n$99999\r\n").await[0].is_err());
        assert!(requests(b"*1\r\n+PING\r\n").await[0].is_err());
    }
}
