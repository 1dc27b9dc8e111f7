//! `gdc-jepsen`: run gdc under faults and check what it promises (see jepsen/README.md).

use clap::{Args, Parser, Subcommand};
use gdc_jepsen::cluster::Binaries;
use gdc_jepsen::matrix;
use gdc_jepsen::nemesis::Nemesis;
use gdc_jepsen::run::{Options, run, summary};
use gdc_jepsen::workload::Workload;
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

#[derive(Args, Debug)]
struct Common {
    /// Seconds the workload runs (each run, in a matrix).
    #[arg(long, default_value_t = 20)]
    time_limit: u64,
    /// The seed every random choice comes from [default: the clock]; printed, so a run
    /// can be replayed.
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 3)]
    regions: usize,
    /// Where gdc-node and gdc-coordinator are [default: beside gdc-jepsen].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One run: a workload in every region under a nemesis.
    Run {
        #[arg(long, value_enum, default_value = "counter")]
        workload: Workload,
        #[arg(long, value_enum, default_value = "partition")]
        nemesis: Nemesis,
        #[arg(long, default_value_t = 2)]
        clients_per_region: usize,
        /// Break a promise in every node on purpose (gdc-node --test-break), to see the
        /// checkers catch it: ack-before-write (try it with --nemesis kill), or
        /// writes-need-coordinator (with --nemesis wan).
        #[arg(long)]
        broken: Option<String>,
        /// The run's directory [default: jepsen-runs/<workload>-<nemesis>-<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Every workload under every nemesis (or the short matrix CI runs), then index.html.
    Matrix {
        /// The short matrix: every workload once, under several nemeses.
        #[arg(long)]
        short: bool,
        /// Only these workloads (comma-separated) [default: all].
        #[arg(long, value_enum, value_delimiter = ',')]
        workloads: Vec<Workload>,
        /// Only these nemeses (comma-separated) [default: all].
        #[arg(long, value_enum, value_delimiter = ',')]
        nemeses: Vec<Nemesis>,
        /// The matrix's directory [default: jepsen-runs/matrix-<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Write index.html over the runs in a directory.
    Index { dir: PathBuf },
    /// Print the README's results table (markdown) of a matrix's runs: a row per workload,
    /// a column per nemesis; each cell the verdict, thousands of operations, and the share
    /// of writes refused or unknown.
    Table { dir: PathBuf },
    /// Check stored runs again with this build's checkers (a run's directory, or a
    /// matrix's: every run in it, then its index.html).
    Check { dirs: Vec<PathBuf> },
}

fn binaries(dir: Option<PathBuf>) -> Result<Binaries, String> {
    let dir = dir
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(PathBuf::from))
        })
        .ok_or("where are the binaries? give --bin-dir")?;
    Binaries::in_dir(&dir)
}

fn seed(seed: Option<u64>) -> u64 {
    seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 >> 16)
    })
}

fn main() -> ExitCode {
    match go(Flags::parse().command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("gdc-jepsen: {e}");
            ExitCode::from(2)
        }
    }
}

/// Whether everything checked was valid.
fn go(command: Command) -> Result<bool, String> {
    match command {
        Command::Run {
            workload,
            nemesis,
            clients_per_region,
            broken,
            out,
            common,
        } => {
            let bins = binaries(common.bin_dir)?;
            let seed = seed(common.seed);
            let out = out.unwrap_or_else(|| {
                PathBuf::from(format!(
                    "jepsen-runs/{}-{}-{seed}",
                    workload.name(),
                    nemesis.name()
                ))
            });
            println!("seed {seed}; run directory {}", out.display());
            let outcome = run(&Options {
                bins,
                workload,
                nemesis,
                regions: common.regions,
                clients_per_region,
                time_limit: Duration::from_secs(common.time_limit),
                seed,
                out,
                broken,
            })?;
            print!("{}", summary(&outcome));
            Ok(outcome.valid)
        }
        Command::Matrix {
            short,
            workloads,
            nemeses,
            out,
            common,
        } => {
            let bins = binaries(common.bin_dir)?;
            let seed = seed(common.seed);
            let out = out.unwrap_or_else(|| PathBuf::from(format!("jepsen-runs/matrix-{seed}")));
            println!("matrix seed {seed}; directory {}", out.display());
            let pairs: Vec<_> = if short {
                matrix::SHORT.to_vec()
            } else {
                matrix::full()
            }
            .into_iter()
            .filter(|(w, n)| {
                (workloads.is_empty() || workloads.contains(w))
                    && (nemeses.is_empty() || nemeses.contains(n))
            })
            .collect();
            let time = Duration::from_secs(common.time_limit);
            matrix::run_all(&bins, &pairs, time, seed, common.regions, &out)
                .map_err(|e| format!("cannot write the matrix's report: {e}"))
        }
        Command::Check { dirs } => {
            let mut all_valid = true;
            for dir in dirs {
                let runs: Vec<PathBuf> = if dir.join("results.json").is_file() {
                    vec![dir.clone()]
                } else {
                    let mut runs: Vec<PathBuf> = std::fs::read_dir(&dir)
                        .map_err(|e| format!("{}: {e}", dir.display()))?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.join("results.json").is_file())
                        .collect();
                    runs.sort();
                    runs
                };
                for run in &runs {
                    let outcome = gdc_jepsen::run::recheck(run)?;
                    print!("{}: {}", run.display(), summary(&outcome));
                    all_valid &= outcome.valid;
                }
                if !dir.join("results.json").is_file() {
                    gdc_jepsen::report::index(&dir).map_err(|e| e.to_string())?;
                }
            }
            Ok(all_valid)
        }
        Command::Index { dir } => {
            let rows = gdc_jepsen::report::index(&dir).map_err(|e| e.to_string())?;
            println!("{} runs: {}", rows.len(), dir.join("index.html").display());
            Ok(rows.iter().all(|r| r.valid))
        }
        Command::Table { dir } => {
            let table = gdc_jepsen::report::table(&dir).map_err(|e| e.to_string())?;
            print!("{table}");
            Ok(true)
        }
    }
}
