//! A run's history: every operation as an `invoke`, then its completion — `ok`, `fail`
//! (it certainly did not happen) or `info` (unknown: a timeout or a cut connection may
//! hide a write that happened). Nemesis actions are recorded too.

use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// One entry.
#[derive(Clone, Debug, Serialize)]
pub struct Op {
    /// The client (by number) or `nemesis`.
    pub process: String,
    /// `invoke`, `ok`, `fail` or `info`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What was done: `incr`, `read`, `partition`, ...
    pub f: String,
    pub value: serde_json::Value,
    /// Milliseconds since the run began.
    pub time_ms: f64,
}

/// The history being recorded, shared by clients and the nemesis.
#[derive(Debug)]
pub struct History {
    start: Instant,
    ops: Mutex<Vec<Op>>,
}

impl History {
    pub fn new() -> History {
        History {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
        }
    }

    pub fn record(&self, process: &str, kind: &'static str, f: &str, value: serde_json::Value) {
        let op = Op {
            process: process.to_string(),
            kind,
            f: f.to_string(),
            value,
            time_ms: self.start.elapsed().as_secs_f64() * 1e3,
        };
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).push(op);
    }

    pub fn ops(&self) -> Vec<Op> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Write it as JSON lines.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for op in self.ops() {
            serde_json::to_writer(&mut out, &op)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

impl Default for History {
    fn default() -> History {
        History::new()
    }
}
