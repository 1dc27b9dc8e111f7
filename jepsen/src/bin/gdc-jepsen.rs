//! `gdc-jepsen`: run gdc under faults and check what it promises (see jepsen/README.md).

use clap::{Parser, Subcommand};
use gdc_jepsen::cluster::Binaries;
use gdc_jepsen::nemesis::Nemesis;
use gdc_jepsen::run::{Options, run, summary};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "gdc-jepsen",
    version,
    about = "Run gdc under faults and check it"
)]
struct Flags {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One run of the counter workload (INCRBY in every region) under a nemesis.
    Run {
        #[arg(long, value_enum, default_value = "partition")]
        nemesis: Nemesis,
        /// Seconds the workload runs.
        #[arg(long, default_value_t = 20)]
        time_limit: u64,
        /// The seed every random choice comes from [default: the clock]; printed, so a run
        /// can be replayed.
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value_t = 3)]
        regions: usize,
        #[arg(long, default_value_t = 2)]
        clients_per_region: usize,
        /// Where gdc-node and gdc-coordinator are [default: beside gdc-jepsen].
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// The run's directory [default: jepsen-runs/<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let Command::Run {
        nemesis,
        time_limit,
        seed,
        regions,
        clients_per_region,
        bin_dir,
        out,
    } = Flags::parse().command;
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let bin_dir = bin_dir.or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(PathBuf::from))
    });
    let bins = match bin_dir.ok_or("where are the binaries? give --bin-dir".to_string()) {
        Ok(dir) => Binaries::in_dir(&dir),
        Err(e) => Err(e),
    };
    let bins = match bins {
        Ok(b) => b,
        Err(e) => {
            eprintln!("gdc-jepsen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = out.unwrap_or_else(|| PathBuf::from(format!("jepsen-runs/{seed}")));
    println!("seed {seed}; run directory {}", out.display());
    let options = Options {
        bins,
        regions,
        clients_per_region,
        time_limit: Duration::from_secs(time_limit),
        nemesis,
        seed,
        out,
    };
    match run(&options) {
        Ok(outcome) => {
            print!("{}", summary(&outcome));
            if outcome.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("gdc-jepsen: {e}");
            ExitCode::FAILURE
        }
    }
}
