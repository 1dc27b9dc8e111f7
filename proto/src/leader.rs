//! Calls to the coordinator cluster, made at its leader: the coordinators given are tried in
//! turn, a redirect (FAILED_PRECONDITION naming the leader in `gdc-leader` metadata) is
//! followed at once, and failures are retried after a pause, a bounded number of times.
//! Used by gdcctl and by nodes.

use crate::auth::BearerToken;
use crate::coordinator::coordinator_client::CoordinatorClient;
use crate::tls::ClientTls;
use std::future::Future;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The metadata key under which a coordinator that is not the leader names the leader's
/// address.
pub const LEADER_METADATA: &str = "gdc-leader";

/// A client of one coordinator, with the token on every call.
pub type Client = CoordinatorClient<InterceptedService<Channel, BearerToken>>;

/// Calls are tried at most this many times (redirects, members down, elections)...
const ATTEMPTS: usize = 40;
/// ...pausing this long after an attempt that failed (a redirect is followed at once): in
/// all, long enough to ride out an election.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The coordinator cluster, as a client sees it.
#[derive(Clone, Debug)]
pub struct Coordinators {
    /// Where to start: the coordinators given, then the leader they name.
    addrs: Vec<String>,
    token: BearerToken,
    /// TLS to the coordinators' port, when it has it.
    tls: Option<ClientTls>,
    /// Where calls start, shared by clones.
    start: std::sync::Arc<std::sync::Mutex<Start>>,
}

/// Where the next call starts: at the address that last served one (the leader, most
/// likely), else at the member after the last one tried, passing over members that failed
/// lately. Not at the first address every time: that may be a member that takes its
/// timeout to fail (stopped, or cut off).
#[derive(Debug, Default)]
struct Start {
    served: Option<String>,
    next: usize,
    /// When each address last failed to answer (cleared when it serves a call).
    failed: std::collections::HashMap<String, std::time::Instant>,
}

/// A member that failed to answer is passed over for this long while others may answer:
/// when the leader has a hiccup, the next call goes to a live member that names it, not to
/// a stopped one that takes the whole timeout to fail.
const PASS_OVER: Duration = Duration::from_secs(10);

impl Start {
    /// The next address to try in turn: the first from `next` on that has not failed
    /// lately, else simply the one at `next`.
    fn pick(&mut self, addrs: &[String]) -> usize {
        let n = addrs.len();
        let lately = |a: &String| {
            self.failed
                .get(a)
                .is_some_and(|at| at.elapsed() < PASS_OVER)
        };
        let i = (0..n)
            .map(|k| (self.next + k) % n)
            .find(|&i| !lately(&addrs[i]))
            .unwrap_or(self.next % n);
        self.next = i + 1;
        i
    }
}

impl Coordinators {
    /// The coordinators at `addrs` (`host:port`; one is enough, more let a client start
    /// while some are down).
    pub fn new(addrs: Vec<String>, token: &str) -> Result<Coordinators, String> {
        if addrs.is_empty() {
            return Err("no coordinator address given".into());
        }
        Ok(Coordinators {
            addrs,
            token: BearerToken::new(token)?,
            tls: None,
            start: Default::default(),
        })
    }

    /// Call the coordinators over TLS (`None`: plain).
    pub fn with_tls(mut self, tls: Option<ClientTls>) -> Coordinators {
        self.tls = tls;
        self
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// A client of the coordinator at `addr` (it connects on first use). `timeout` bounds
    /// each call (`None` for streams).
    pub fn client(&self, addr: &str, timeout: Option<Duration>) -> Result<Client, String> {
        let mut endpoint = crate::tls::endpoint(addr, self.tls.as_ref())
            .map_err(|e| format!("coordinator {addr}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        if let Some(t) = timeout {
            endpoint = endpoint.timeout(t);
        }
        Ok(CoordinatorClient::with_interceptor(
            endpoint.connect_lazy(),
            self.token.clone(),
        ))
    }

    /// Make a call at the leader; `timeout` bounds each attempt (`None` for streams).
    pub async fn at_leader<T, F, Fut>(
        &self,
        timeout: Option<Duration>,
        call: F,
    ) -> Result<T, String>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        self.at_leader_within(ATTEMPTS, timeout, call).await
    }

    /// [`Coordinators::at_leader`] with at most `attempts` tries.
    pub async fn at_leader_within<T, F, Fut>(
        &self,
        attempts: usize,
        timeout: Option<Duration>,
        call: F,
    ) -> Result<T, String>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let start = || self.start.lock().unwrap_or_else(|p| p.into_inner());
        let mut leader: Option<String> = start().served.clone();
        let mut last_error = String::new();
        for _ in 0..attempts {
            let (addr, redirected) = match leader.take() {
                Some(a) => (a, true),
                None => {
                    let i = start().pick(&self.addrs);
                    (self.addrs[i].clone(), false)
                }
            };
            match call(self.client(&addr, timeout)?).await {
                Ok(reply) => {
                    let mut s = start();
                    s.failed.remove(&addr);
                    s.served = Some(addr);
                    return Ok(reply.into_inner());
                }
                Err(s) if s.code() == Code::FailedPrecondition => {
                    leader = s
                        .metadata()
                        .get(LEADER_METADATA)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                        // Sent back where it just was: the leader is changing.
                        .filter(|l| !redirected || *l != addr);
                    last_error = format!("{addr}: {}", s.message());
                    if leader.is_none() {
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                }
                Err(s)
                    if matches!(
                        s.code(),
                        Code::Unavailable
                            | Code::DeadlineExceeded
                            | Code::Unknown
                            | Code::Cancelled
                    ) =>
                {
                    last_error = format!("{addr}: {}", s.message());
                    {
                        let mut s = start();
                        if s.served.as_deref() == Some(addr.as_str()) {
                            s.served = None;
                        }
                        s.failed.insert(addr, std::time::Instant::now());
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(s) => return Err(format!("{addr}: {}", s.message())),
            }
        }
        Err(format!(
            "no coordinator could serve the call ({last_error})"
        ))
    }
}

/// An id for one change request, the same on each of its retries (`ChangeRequest.request`),
/// that no other caller is likely to pick (never 0, which means none).
pub fn request_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is keyed from the OS once per thread, and differently for each one made.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_pass_over_members_that_failed_lately_unless_all_did() {
        let addrs: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut start = Start {
            next: 1,
            ..Start::default()
        };
        start.failed.insert("b".into(), std::time::Instant::now());
        assert_eq!(start.pick(&addrs), 2, "b failed lately: c");
        assert_eq!(start.pick(&addrs), 0, "then a");
        assert_eq!(start.pick(&addrs), 2, "b still passed over");
        let long_ago = std::time::Instant::now() - PASS_OVER;
        start.failed.insert("b".into(), long_ago);
        assert_eq!(start.pick(&addrs), 0);
        assert_eq!(start.pick(&addrs), 1, "b failed long ago: tried in turn");
        for a in &addrs {
            start.failed.insert(a.clone(), std::time::Instant::now());
        }
        assert_eq!(start.pick(&addrs), 2, "all failed lately: simply the next");
    }
}
