//! Many runs: workloads × nemeses, one after another, each in its own directory
//! (`<workload>-<nemesis>`) with its own seed, then an `index.html` over them all.

use crate::cluster::Binaries;
use crate::nemesis::{self, Nemesis};
use crate::report;
use crate::run::{Options, run, summary};
use crate::workload::{self, Workload};
use std::path::Path;
use std::time::Duration;

/// The short matrix CI runs: every workload once, under several nemeses.
pub const SHORT: [(Workload, Nemesis); 17] = [
    (Workload::Counter, Nemesis::Partition),
    (Workload::Register, Nemesis::Skew),
    (Workload::Set, Nemesis::Kill),
    (Workload::Hash, Nemesis::Flapping),
    (Workload::List, Nemesis::Pause),
    (Workload::Ttl, Nemesis::Delay),
    (Workload::Multi, Nemesis::Coordinator),
    (Workload::Set, Nemesis::Restarts),
    (Workload::Counter, Nemesis::Retention),
    (Workload::Register, Nemesis::Failover),
    (Workload::Counter, Nemesis::Switchover),
    (Workload::Set, Nemesis::Leader),
    (Workload::List, Nemesis::Wan),
    (Workload::Cache, Nemesis::Kill),
    (Workload::Script, Nemesis::Partition),
    (Workload::Stream, Nemesis::Partition),
    (Workload::Hll, Nemesis::Partition),
];

/// Every workload under every nemesis it runs under ([`Workload::runs_under`]).
pub fn full() -> Vec<(Workload, Nemesis)> {
    workload::ALL
        .iter()
        .flat_map(|&w| nemesis::ALL.iter().map(move |&n| (w, n)))
        .filter(|&(w, n)| w.runs_under(n))
        .collect()
}

/// One run's seed in a matrix: drawn from the matrix's and the pair, so a pair gets the
/// same seed whichever other pairs run beside it.
pub fn seed_of(base: u64, w: Workload, n: Nemesis) -> u64 {
    let pair = (w as u64) << 8 | n as u64;
    crate::rng::Rng::new(base ^ pair.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64() >> 16
}

/// Run `pairs` into `out`, printing each summary as it ends. Returns whether all were valid
/// (a run that could not be made counts as invalid).
pub fn run_all(
    bins: &Binaries,
    pairs: &[(Workload, Nemesis)],
    time_limit: Duration,
    seed: u64,
    regions: usize,
    out: &Path,
) -> std::io::Result<bool> {
    std::fs::create_dir_all(out)?;
    let mut all_valid = true;
    for &(w, n) in pairs {
        let dir = out.join(format!("{}-{}", w.name(), n.name()));
        let seed = seed_of(seed, w, n);
        println!("== {} under {} (seed {seed})", w.name(), n.name());
        let options = Options {
            bins: bins.clone(),
            workload: w,
            nemesis: n,
            regions,
            clients_per_region: 2,
            time_limit,
            seed,
            out: dir,
            broken: None,
        };
        match run(&options) {
            Ok(o) => {
                print!("{}", summary(&o));
                all_valid &= o.valid;
            }
            Err(e) => {
                println!("the run failed: {e}");
                all_valid = false;
            }
        }
    }
    let rows = report::index(out)?;
    println!(
        "{} runs, {} valid; {}",
        rows.len(),
        rows.iter().filter(|r| r.valid).count(),
        out.join("index.html").display()
    );
    Ok(all_valid)
}
