//! The admin API's client, for gdcctl and tests: it finds the leader among the coordinators
//! it is given and follows redirects, a bounded number of times.

use crate::LEADER_METADATA;
use crate::topology::{Change, Topology};
use gdc_proto::auth::BearerToken;
use gdc_proto::coordinator::coordinator_client::CoordinatorClient;
use gdc_proto::coordinator::{
    AddMemberRequest, ChangeRequest, MembersReply, MembersRequest, RemoveMemberRequest,
    TopologyRequest,
};
use std::future::Future;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

type Client = CoordinatorClient<InterceptedService<Channel, BearerToken>>;

/// Calls are tried at most this many times (redirects, members down, elections)...
const ATTEMPTS: usize = 40;
/// ...pausing this long after an attempt that failed (a redirect is followed at once): in
/// all, long enough to ride out an election.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// An admin client of a coordinator cluster.
#[derive(Clone, Debug)]
pub struct AdminClient {
    /// Where to start: the coordinators given, then the leader they name.
    addrs: Vec<String>,
    token: BearerToken,
}

impl AdminClient {
    /// A client of the coordinators at `addrs` (`host:port`; one is enough, more let it
    /// start while some are down).
    pub fn new(addrs: Vec<String>, token: &str) -> Result<AdminClient, String> {
        if addrs.is_empty() {
            return Err("no coordinator address given".into());
        }
        Ok(AdminClient {
            addrs,
            token: BearerToken::new(token)?,
        })
    }

    fn client(&self, addr: &str) -> Result<Client, String> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("bad coordinator address {addr}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .connect_lazy();
        Ok(CoordinatorClient::with_interceptor(
            channel,
            self.token.clone(),
        ))
    }

    /// Make a call at the leader: try the coordinators in turn, going to the leader as soon
    /// as one names it.
    async fn at_leader<T, F, Fut>(&self, call: F) -> Result<T, String>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let mut next = 0;
        let mut leader: Option<String> = None;
        let mut last_error = String::new();
        for _ in 0..ATTEMPTS {
            let (addr, redirected) = match leader.take() {
                Some(a) => (a, true),
                None => {
                    next += 1;
                    (self.addrs[(next - 1) % self.addrs.len()].clone(), false)
                }
            };
            match call(self.client(&addr)?).await {
                Ok(reply) => return Ok(reply.into_inner()),
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
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(s) => return Err(format!("{addr}: {}", s.message())),
            }
        }
        Err(format!(
            "no coordinator could serve the call ({last_error})"
        ))
    }

    /// Commit a change; `Err` with the reason if it was refused.
    pub async fn change(&self, change: &Change) -> Result<u64, String> {
        let json = serde_json::to_string(change).map_err(|e| e.to_string())?;
        let reply = self
            .at_leader(|mut c| {
                let json = json.clone();
                async move { c.change(ChangeRequest { json }).await }
            })
            .await?;
        if reply.refused.is_empty() {
            Ok(reply.index)
        } else {
            Err(reply.refused)
        }
    }

    /// The topology, read at the leader.
    pub async fn topology(&self) -> Result<(Topology, u64), String> {
        let reply = self
            .at_leader(|mut c| async move { c.topology(TopologyRequest {}).await })
            .await?;
        let t = serde_json::from_str(&reply.json)
            .map_err(|e| format!("the coordinator sent a topology this gdcctl cannot read: {e}"))?;
        Ok((t, reply.index))
    }

    /// The coordinator cluster, as the first coordinator that answers sees it.
    pub async fn members(&self) -> Result<MembersReply, String> {
        let mut last_error = String::new();
        for addr in &self.addrs {
            match self.client(addr)?.members(MembersRequest {}).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) => last_error = format!("{addr}: {}", s.message()),
            }
        }
        Err(format!("no coordinator answered ({last_error})"))
    }

    pub async fn add_member(&self, id: u64, addr: &str) -> Result<MembersReply, String> {
        self.at_leader(|mut c| {
            let addr = addr.to_string();
            async move { c.add_member(AddMemberRequest { id, addr }).await }
        })
        .await
    }

    pub async fn remove_member(&self, id: u64) -> Result<MembersReply, String> {
        self.at_leader(|mut c| async move { c.remove_member(RemoveMemberRequest { id }).await })
            .await
    }
}
