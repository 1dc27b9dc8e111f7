//! The admin API's client, for gdcctl and tests: it finds the leader among the coordinators
//! it is given and follows redirects, a bounded number of times.

use crate::topology::{Change, Topology};
use gdc_proto::coordinator::{
    AddMemberRequest, ChangeRequest, MembersReply, MembersRequest, RemoveMemberRequest,
    TopologyRequest,
};
use gdc_proto::leader::Coordinators;
use std::time::Duration;

/// Each admin call is given this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// An admin client of a coordinator cluster.
#[derive(Clone, Debug)]
pub struct AdminClient {
    coordinators: Coordinators,
}

impl AdminClient {
    /// A client of the coordinators at `addrs` (`host:port`; one is enough, more let it
    /// start while some are down).
    pub fn new(addrs: Vec<String>, token: &str) -> Result<AdminClient, String> {
        Ok(AdminClient {
            coordinators: Coordinators::new(addrs, token)?,
        })
    }

    /// Call the coordinators over TLS (`None`: plain).
    pub fn with_tls(self, tls: Option<gdc_proto::tls::ClientTls>) -> AdminClient {
        AdminClient {
            coordinators: self.coordinators.with_tls(tls),
        }
    }

    /// Commit a change; `Err` with the reason if it was refused.
    ///
    /// The request carries one id on every attempt: a change committed by an attempt whose
    /// reply was lost is not applied again by the next, which gets the first one's outcome.
    pub async fn change(&self, change: &Change) -> Result<u64, String> {
        let json = serde_json::to_string(change).map_err(|e| e.to_string())?;
        let request = gdc_proto::leader::request_id();
        let reply = self
            .coordinators
            .at_leader(Some(CALL_TIMEOUT), |mut c| {
                let json = json.clone();
                async move { c.change(ChangeRequest { json, request }).await }
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
            .coordinators
            .at_leader(Some(CALL_TIMEOUT), |mut c| async move {
                c.topology(TopologyRequest {}).await
            })
            .await?;
        let t = serde_json::from_str(&reply.json)
            .map_err(|e| format!("the coordinator sent a topology this gdcctl cannot read: {e}"))?;
        Ok((t, reply.index))
    }

    /// The coordinator cluster, as the first coordinator that answers sees it.
    pub async fn members(&self) -> Result<MembersReply, String> {
        let mut last_error = String::new();
        for addr in self.coordinators.addrs() {
            let mut client = self.coordinators.client(addr, Some(CALL_TIMEOUT))?;
            match client.members(MembersRequest {}).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) => last_error = format!("{addr}: {}", s.message()),
            }
        }
        Err(format!("no coordinator answered ({last_error})"))
    }

    pub async fn add_member(&self, id: u64, addr: &str) -> Result<MembersReply, String> {
        self.coordinators
            .at_leader(Some(CALL_TIMEOUT), |mut c| {
                let addr = addr.to_string();
                async move { c.add_member(AddMemberRequest { id, addr }).await }
            })
            .await
    }

    pub async fn remove_member(&self, id: u64) -> Result<MembersReply, String> {
        self.coordinators
            .at_leader(Some(CALL_TIMEOUT), |mut c| async move {
                c.remove_member(RemoveMemberRequest { id }).await
            })
            .await
    }
}
