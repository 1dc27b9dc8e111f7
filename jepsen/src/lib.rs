//! gdc's consistency test suite. So far: the fault-injecting TCP proxy ([`proxy`]) that
//! sits between nodes in tests, and servers run as real processes ([`process`]).

pub mod process;
pub mod proxy;
