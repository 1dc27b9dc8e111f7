//! The cluster token on gRPC calls: put on by clients ([`BearerToken`]), checked by servers
//! ([`TokenCheck`]). Every gdc service, sync, node admin, Raft and coordinator, uses both.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Request, Status};

/// The metadata key that carries the cluster token (`Bearer <token>`).
pub const AUTHORIZATION: &str = "authorization";

/// Puts the cluster token (`Bearer <token>`) on a call.
#[derive(Clone, Debug)]
pub struct BearerToken(MetadataValue<Ascii>);

impl BearerToken {
    /// An error if the token cannot be carried in metadata (not visible ASCII).
    pub fn new(token: &str) -> Result<BearerToken, String> {
        format!("Bearer {token}")
            .parse()
            .map(BearerToken)
            .map_err(|_| "the cluster token must be printable ASCII".to_string())
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        req.metadata_mut().insert(AUTHORIZATION, self.0.clone());
        Ok(req)
    }
}

/// Refuses calls without the cluster token, logging who made them.
#[derive(Clone, Debug)]
pub struct TokenCheck {
    token: String,
    /// What is being refused, for the log ("sync call", "Raft call", ...).
    what: &'static str,
}

impl TokenCheck {
    pub fn new(token: &str, what: &'static str) -> TokenCheck {
        TokenCheck {
            token: token.to_string(),
            what,
        }
    }
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let presented = req.metadata().get(AUTHORIZATION);
        if presented.is_some_and(|v| token_matches(v.as_bytes(), &self.token)) {
            return Ok(req);
        }
        let from = req
            .remote_addr()
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        tracing::warn!(%from, "{} refused: missing or wrong cluster token", self.what);
        Err(Status::unauthenticated("missing or wrong cluster token"))
    }
}

/// Whether `presented` is `Bearer <token>`, compared in constant time (a wrong guess takes
/// as long whichever byte is wrong).
pub fn token_matches(presented: &[u8], token: &str) -> bool {
    same_secret(presented, format!("Bearer {token}").as_bytes())
}

/// Whether two secrets are equal, compared in constant time.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        assert!(token_matches(b"Bearer s3cret-token", "s3cret-token"));
        assert!(!token_matches(b"Bearer s3cret-tokem", "s3cret-token"));
        assert!(!token_matches(b"s3cret-token", "s3cret-token"));
        assert!(!token_matches(b"", "s3cret-token"));
    }
}
