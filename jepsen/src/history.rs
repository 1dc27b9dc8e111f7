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

/// Read a history written by [`History::write`].
pub fn read(path: &Path) -> std::io::Result<Vec<Op>> {
    let text = std::fs::read_to_string(path)?;
    let bad = |line: &str| std::io::Error::other(format!("not a history line: {line}"));
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad(line))?;
            let kind = match v["type"].as_str() {
                Some("invoke") => "invoke",
                Some("ok") => "ok",
                Some("fail") => "fail",
                Some("info") => "info",
                _ => return Err(bad(line)),
            };
            Ok(Op {
                process: v["process"].as_str().ok_or_else(|| bad(line))?.to_string(),
                kind,
                f: v["f"].as_str().ok_or_else(|| bad(line))?.to_string(),
                value: v["value"].clone(),
                time_ms: v["time_ms"].as_f64().ok_or_else(|| bad(line))?,
            })
        })
        .collect()
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
            time_ms: self.elapsed_ms(),
        };
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).push(op);
    }

    /// Milliseconds since the run began.
    pub fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e3
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

/// An operation with its completion: an `invoke` paired with the `ok`, `fail` or `info`
/// that ended it (each process has at most one operation in flight).
#[derive(Clone, Debug)]
pub struct Call {
    pub process: String,
    pub f: String,
    /// What was asked.
    pub asked: serde_json::Value,
    /// `ok`, `fail` or `info`; `info` too for an operation still in flight at the end.
    pub outcome: &'static str,
    /// What the completion recorded (a read's result, for instance).
    pub seen: serde_json::Value,
    pub start_ms: f64,
    pub end_ms: f64,
}

impl Call {
    pub fn ok(&self) -> bool {
        self.outcome == "ok"
    }

    /// Whether it may have taken effect (acknowledged or unknown).
    pub fn maybe(&self) -> bool {
        self.outcome != "fail"
    }
}

/// The clients' operations (not the nemesis's), in the order they were invoked.
pub fn calls(ops: &[Op]) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut open: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for op in ops.iter().filter(|o| o.process != "nemesis") {
        if op.kind == "invoke" {
            open.insert(&op.process, calls.len());
            calls.push(Call {
                process: op.process.clone(),
                f: op.f.clone(),
                asked: op.value.clone(),
                outcome: "info",
                seen: serde_json::Value::Null,
                start_ms: op.time_ms,
                end_ms: f64::INFINITY,
            });
        } else if let Some(i) = open.remove(op.process.as_str()) {
            calls[i].outcome = op.kind;
            calls[i].seen = op.value.clone();
            calls[i].end_ms = op.time_ms;
        }
    }
    calls
}
