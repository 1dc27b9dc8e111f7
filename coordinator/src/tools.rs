//! The operator's tools behind `gdcctl`: commands that run once and end, apart from the
//! coordinator server. They use the library's admin client ([`crate::client`]) and its
//! topology types, and talk to nodes over their client ports ([`nodes`]); nothing
//! server-side uses them.
//!
//! [`status`] (`gdcctl status`), [`verify`] (digests compared across regions),
//! [`switchover`] (`gdcctl failover`: a planned failover), [`attach`] (a standalone node
//! joins as a region's primary), [`demo`] (a whole local cluster as child processes,
//! `gdcctl demo`), [`acl`] (an instance's ACL users, listed and loaded from a file), and
//! [`nodes`] (the blocking Redis client they ask nodes with).

pub mod acl;
pub mod attach;
pub mod demo;
pub mod nodes;
pub mod status;
pub mod switchover;
pub mod verify;
