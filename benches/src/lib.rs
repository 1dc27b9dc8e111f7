//! Shared pieces of gdc's benchmarks.

pub use gdc_node::alloc;
