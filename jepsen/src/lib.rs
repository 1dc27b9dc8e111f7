//! gdc's consistency test suite (issue 6, under way), from the bottom up:
//!
//! - the processes: [`process`] (servers started and stopped, also used by the other
//!   crates' tests), [`proxy`] (the fault-injecting TCP proxy on every link),
//!   [`coordinators`] (blocking calls to the coordinators, and the test clusters' token),
//!   and [`cluster`] (a real cluster: coordinators, and per region a primary and
//!   secondaries, every link through a proxy);
//! - a run's parts: [`rng`] (everything drawn from the seed), [`history`] (every
//!   operation), [`client`] (a workload's client), [`workload`] (what the clients do, and
//!   each workload's checker), [`availability`] (whether each region kept taking writes),
//!   [`nemesis`] (faults on a seeded schedule), [`lag`] (each region's replication lag,
//!   sampled), [`counters`] (figures of the nodes' INFO a workload asks for, sampled) and
//!   [`safety`] (the coordinators' history of primaries);
//! - [`report`] (plots of a run and the pages over many), [`run`] (one run tying them
//!   together, and its report), and [`matrix`] (many runs: workloads × nemeses).

pub mod availability;
pub mod client;
pub mod cluster;
pub mod coordinators;
pub mod counters;
pub mod history;
pub mod lag;
pub mod matrix;
pub mod nemesis;
pub mod process;
pub mod proxy;
pub mod report;
pub mod rng;
pub mod run;
pub mod safety;
pub mod workload;
