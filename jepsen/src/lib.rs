//! gdc's consistency test suite. So far: the fault-injecting TCP proxy ([`proxy`]) that
//! sits between nodes in tests.

pub mod proxy;
