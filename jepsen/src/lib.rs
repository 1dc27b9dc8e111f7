//! gdc's consistency test suite (issue 6, under way): real clusters ([`cluster`]: a
//! coordinator and a primary per region as processes, every sync link through the
//! fault-injecting [`proxy`]), a nemesis on a seeded schedule ([`nemesis`], [`rng`]),
//! histories of every operation ([`history`]), workloads with their checkers ([`counter`]),
//! each region's availability ([`availability`]), and runs that tie them together and write
//! their reports ([`run`]). Also the process helpers the other crates' tests use
//! ([`process`]).

pub mod availability;
pub mod client;
pub mod cluster;
pub mod coordinators;
pub mod history;
pub mod matrix;
pub mod nemesis;
pub mod process;
pub mod proxy;
pub mod report;
pub mod rng;
pub mod run;
pub mod safety;
pub mod workload;
