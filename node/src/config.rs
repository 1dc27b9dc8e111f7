//! The node's settings.

use crate::binlog::Fsync;
use crate::resp::{DEFAULT_LIMITS, Limits};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on. 127.0.0.1 unless told otherwise (protected mode).
    pub bind: String,
    pub port: u16,
    /// Data directory: metadata and binlog.
    pub dir: PathBuf,
    /// This node's region name.
    pub region: String,
    /// `requirepass`: clients must AUTH first.
    pub requirepass: Option<String>,
    pub appendfsync: Fsync,
    pub limits: Limits,
    /// `maxclients`.
    pub clients_max: usize,
    /// `client-query-buffer-limit`: bytes a client may have buffered unparsed.
    pub query_buffer_bytes_max: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".into(),
            port: 6379,
            dir: PathBuf::from("gdc-data"),
            region: "local".into(),
            requirepass: None,
            appendfsync: Fsync::EverySec,
            limits: DEFAULT_LIMITS,
            clients_max: 10_000,
            query_buffer_bytes_max: 1024 * 1024 * 1024,
        }
    }
}
