//! TLS for gdc's gRPC ports, from PEM files: the nodes' sync ports and the coordinators'
//! port, and the clients of both (nodes, coordinators, gdcctl).
//!
//! A server with a CA requires clients to present a certificate it signs (mutual TLS). A
//! client needs the CA to check the server's certificate; it presents its own certificate
//! when it has one.

use std::path::Path;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// A server's TLS material: its certificate and key, and the CA that signs its peers'.
#[derive(Clone)]
pub struct TlsFiles {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    pub ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("TlsFiles")
            .field("ca", &self.ca.is_some())
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl TlsFiles {
    /// Read the files named by `--tls-cert`, `--tls-key` and `--tls-ca` (`None`: no TLS).
    pub fn read(
        cert: Option<&Path>,
        key: Option<&Path>,
        ca: Option<&Path>,
    ) -> Result<Option<TlsFiles>, String> {
        match (cert, key) {
            (None, None) if ca.is_none() => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: read(cert)?,
                key: read(key)?,
                ca: ca.map(read).transpose()?,
            })),
            _ => Err("TLS needs both --tls-cert and --tls-key".into()),
        }
    }

    /// The server side: this certificate; with a CA, clients must present one it signs.
    pub fn server_config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key));
        match &self.ca {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
            None => config,
        }
    }

    /// The client side, when there is a CA to check servers with.
    pub fn client(&self) -> Option<ClientTls> {
        Some(ClientTls {
            ca: self.ca.clone()?,
            identity: Some((self.cert.clone(), self.key.clone())),
        })
    }
}

/// A client's TLS material: the CA that signs servers' certificates, and its own
/// certificate and key if servers ask for one.
#[derive(Clone)]
pub struct ClientTls {
    pub ca: Vec<u8>,
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("identity", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// From `--tls-ca` and, optionally, `--tls-cert` and `--tls-key` (`None` without a CA).
    pub fn read(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Option<ClientTls>, String> {
        let identity = match (cert, key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
            _ => return Err("TLS needs both --tls-cert and --tls-key".into()),
        };
        match ca {
            Some(ca) => Ok(Some(ClientTls {
                ca: read(ca)?,
                identity,
            })),
            None if identity.is_some() => {
                Err("a TLS client needs --tls-ca, to check the server's certificate".into())
            }
            None => Ok(None),
        }
    }
}

/// An endpoint for `addr` (`host:port`): over TLS, checking the server's certificate for
/// that host, with `tls`; plain HTTP/2 without.
pub fn endpoint(addr: &str, tls: Option<&ClientTls>) -> Result<Endpoint, String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let Some(tls) = tls else {
        return Ok(endpoint);
    };
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let mut config = ClientTlsConfig::new()
        .domain_name(host.trim_start_matches('[').trim_end_matches(']'))
        .ca_certificate(Certificate::from_pem(&tls.ca));
    if let Some((cert, key)) = &tls.identity {
        config = config.identity(Identity::from_pem(cert, key));
    }
    endpoint.tls_config(config).map_err(|e| {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why = format!("{why}: {s}");
            source = s.source();
        }
        format!("TLS settings for {addr}: {why}")
    })
}
