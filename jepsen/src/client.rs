//! A workload's client: one connection to a node of its region at a time, every operation
//! recorded as `invoke`, then `ok`, `fail` (the server refused: it did not happen) or
//! `info` (no reply: it may have happened). After an `info` the connection is dropped and
//! the client goes on as a new process (`<client>.<n>`), as in Jepsen: session guarantees
//! hold per connection, and a lost reply ends the session. A node that cannot be reached,
//! or answers `-READONLY` (a secondary, or a fenced old primary), sends the client on to
//! the region's next node, on a new connection: how clients follow a failover.

use crate::history::History;
use crate::rng::Rng;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a client waits for a reply before calling the outcome unknown.
pub const REPLY_TIMEOUT: Duration = Duration::from_millis(1000);

/// How an operation ended.
#[derive(Debug)]
pub enum Reply<T> {
    Ok(T),
    /// The server answered with an error: the operation did not happen.
    Fail,
    /// No answer: it may or may not have happened.
    Unknown,
}

/// One client of a workload.
pub struct Client<'a> {
    id: usize,
    /// Bumped when a reply is lost: the process name changes with it.
    session: u32,
    pub process: String,
    /// The region's nodes; `at` is the one in use.
    ports: Vec<u16>,
    at: usize,
    conn: Option<redis::Connection>,
    history: &'a History,
    stop: &'a AtomicBool,
    pub rng: Rng,
    /// Operations this client has invoked: unique values come from it.
    pub seq: u64,
    /// The pause after each operation (see [`Client::call`]).
    pub pace: Duration,
}

impl std::fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("process", &self.process)
            .field("port", &self.ports.get(self.at))
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl<'a> Client<'a> {
    pub fn new(
        id: usize,
        ports: Vec<u16>,
        history: &'a History,
        stop: &'a AtomicBool,
        seed: u64,
    ) -> Client<'a> {
        Client {
            id,
            session: 0,
            process: id.to_string(),
            ports,
            at: 0,
            conn: None,
            history,
            stop,
            rng: Rng::new(seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            seq: 0,
            pace: Duration::ZERO,
        }
    }

    /// Drop the connection: what follows is a new process.
    fn end_session(&mut self) {
        self.conn = None;
        self.session += 1;
        self.process = format!("{}.{}", self.id, self.session);
    }

    /// Go on at the region's next node (a new connection, so a new process).
    fn next_node(&mut self) {
        self.at = (self.at + 1) % self.ports.len().max(1);
        if self.conn.is_some() {
            self.end_session();
        }
    }

    /// This client's number.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The port of the node it uses now.
    pub fn node(&self) -> u16 {
        self.ports.get(self.at).copied().unwrap_or(0)
    }

    /// Whether the run is over.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Milliseconds since the run began.
    pub fn now_ms(&self) -> f64 {
        self.history.elapsed_ms()
    }

    /// A fresh value, unique in the run: `<client>-<n>`.
    pub fn unique(&mut self) -> String {
        self.seq += 1;
        format!("{}-{}", self.id, self.seq)
    }

    /// The open connection, or a new one; `None` (after a short pause) when the node does
    /// not take connections now: nothing was invoked.
    fn connection(&mut self) -> Option<&mut redis::Connection> {
        if self.conn.is_none() {
            let port = self.ports.get(self.at).copied().unwrap_or(0);
            let opened = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection_with_timeout(REPLY_TIMEOUT))
                .and_then(|c| c.set_read_timeout(Some(REPLY_TIMEOUT)).map(|()| c))
                .and_then(|c| c.set_write_timeout(Some(REPLY_TIMEOUT)).map(|()| c));
            match opened {
                Ok(c) => self.conn = Some(c),
                Err(_) => {
                    self.next_node();
                    std::thread::sleep(Duration::from_millis(50));
                    return None;
                }
            }
        }
        self.conn.as_mut()
    }

    /// Invoke `f` with `value`, run `query` on the connection, and record how it ended: on
    /// success with the value `seen` makes of the reply; then pause for [`Client::pace`]
    /// (the workload's rate, which keeps histories and reads of whole collections to a
    /// size a checker can go through; not a wait for anything). `None` if no connection
    /// could be made (nothing invoked).
    pub fn call<T>(
        &mut self,
        f: &str,
        value: Value,
        query: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
        seen: impl FnOnce(&T) -> Value,
    ) -> Option<Reply<T>> {
        let history = self.history;
        let process = self.process.clone();
        let conn = self.connection()?;
        history.record(&process, "invoke", f, value);
        let result = query(conn);
        let reply = self.finish(f, result, seen);
        if !self.pace.is_zero() {
            std::thread::sleep(self.pace);
        }
        Some(reply)
    }

    fn finish<T>(
        &mut self,
        f: &str,
        result: redis::RedisResult<T>,
        seen: impl FnOnce(&T) -> Value,
    ) -> Reply<T> {
        let (history, process) = (self.history, self.process.clone());
        match result {
            Ok(v) => {
                history.record(&process, "ok", f, seen(&v));
                Reply::Ok(v)
            }
            Err(e) if is_refusal(&e) => {
                let text = e.to_string();
                history.record(&process, "fail", f, Value::String(text.clone()));
                let read_only = e.kind() == redis::ErrorKind::ReadOnly || text.contains("READONLY");
                if read_only && self.ports.len() > 1 {
                    self.next_node();
                }
                Reply::Fail
            }
            Err(e) => {
                history.record(&process, "info", f, Value::String(e.to_string()));
                self.end_session();
                Reply::Unknown
            }
        }
    }
}

/// Whether the server answered with an error (the command did not take effect), as
/// opposed to a lost connection, a timeout, or a reply the client could not read.
fn is_refusal(e: &redis::RedisError) -> bool {
    e.code().is_some() && !e.is_timeout() && !e.is_connection_dropped()
}
