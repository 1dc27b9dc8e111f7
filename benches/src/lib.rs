//! Shared pieces of gdc's benchmarks.

pub mod alloc;
