//! Pictures of a run, and pages over many: `latency.svg` (every operation's latency over
//! time, by outcome) and `lag.svg` (each region's replication lag over time), with the
//! nemesis's fault windows shaded; `index.html` links every run of a directory, and
//! [`table`] makes the README's results table of it.

use crate::availability::REFUSED_OR_UNKNOWN_SHARE;
use crate::history::{Call, Op};
use crate::lag::LagSample;
use crate::{nemesis, workload};
use plotters::prelude::*;
use std::io;
use std::path::Path;

const SIZE: (u32, u32) = (1000, 420);
const FAULT: RGBAColor = RGBAColor(255, 140, 0, 0.18);

/// When faults were in force: from a nemesis action to the heal, resume, restart or end of
/// a switchover that
/// ends it (in ms since the run began).
pub fn fault_windows(ops: &[Op]) -> Vec<(f64, f64)> {
    let mut windows = Vec::new();
    let mut open: Option<f64> = None;
    for op in ops.iter().filter(|o| o.process == "nemesis") {
        let ends = matches!(op.f.as_str(), "heal" | "resume" | "restart" | "switched");
        match (open, ends) {
            (None, false) => open = Some(op.time_ms),
            (Some(start), true) => {
                windows.push((start, op.time_ms));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        let end = ops.last().map_or(start, |o| o.time_ms);
        windows.push((start, end));
    }
    windows
}

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Draw both plots of a run into `dir`.
pub fn plots(dir: &Path, ops: &[Op], calls: &[Call], lag: &[LagSample]) -> io::Result<()> {
    let faults = fault_windows(ops);
    let end_s = ops.last().map_or(1.0, |o| o.time_ms / 1e3).max(1.0);
    latency(&dir.join("latency.svg"), calls, &faults, end_s).map_err(err)?;
    lag_plot(&dir.join("lag.svg"), lag, &faults, end_s).map_err(err)?;
    Ok(())
}

type Fallible = Result<(), Box<dyn std::error::Error>>;

fn latency(path: &Path, calls: &[Call], faults: &[(f64, f64)], end_s: f64) -> Fallible {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let finished = || calls.iter().filter(|c| c.end_ms.is_finite());
    let top = finished()
        .map(|c| c.end_ms - c.start_ms)
        .fold(1.0f64, f64::max)
        .max(10.0);
    let mut chart = ChartBuilder::on(&root)
        .caption("latency by outcome (shaded: faults)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..end_s, (0.01f64..top * 1.2).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("latency (ms)")
        .draw()?;
    chart.draw_series(
        faults
            .iter()
            .map(|&(a, b)| Rectangle::new([(a / 1e3, 0.01), (b / 1e3, top * 1.2)], FAULT.filled())),
    )?;
    for (outcome, color) in [
        ("ok", GREEN.mix(0.5)),
        ("fail", RED.mix(0.8)),
        ("info", BLUE.mix(0.9)),
    ] {
        chart
            .draw_series(finished().filter(|c| c.outcome == outcome).map(|c| {
                let ms = (c.end_ms - c.start_ms).max(0.01);
                Circle::new((c.start_ms / 1e3, ms), 1, color.filled())
            }))?
            .label(match outcome {
                "ok" => "ok",
                "fail" => "failed",
                _ => "unknown",
            })
            .legend(move |(x, y)| Circle::new((x, y), 3, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn lag_plot(path: &Path, lag: &[LagSample], faults: &[(f64, f64)], end_s: f64) -> Fallible {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let top = lag.iter().map(|s| s.ops_behind as f64).fold(10.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "replication lag: ops each region lacks that their origins have (shaded: faults)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..end_s, 0f64..top * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("ops behind")
        .draw()?;
    chart.draw_series(
        faults
            .iter()
            .map(|&(a, b)| Rectangle::new([(a / 1e3, 0.0), (b / 1e3, top * 1.1)], FAULT.filled())),
    )?;
    let mut regions: Vec<&str> = lag.iter().map(|s| s.region.as_str()).collect();
    regions.sort();
    regions.dedup();
    for (i, region) in regions.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = lag
            .iter()
            .filter(|s| s.region == region)
            .map(|s| (s.time_ms / 1e3, s.ops_behind as f64));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(region.to_string())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// One row of the index: a run's directory (relative to the index) and its results.
#[derive(Debug)]
pub struct Row {
    pub dir: String,
    pub workload: String,
    pub nemesis: String,
    pub seed: u64,
    pub valid: bool,
    pub operations: u64,
    pub anomalies: Vec<String>,
    /// The share of writes refused or unknown (`None` in runs from before it was measured).
    pub refused_or_unknown_share: Option<f64>,
}

/// Every run under `dir` (each subdirectory with a `results.json`), sorted by name.
pub fn rows(dir: &Path) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Ok(text) = std::fs::read_to_string(path.join("results.json")) else {
            continue;
        };
        let r: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
        let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
        rows.push(Row {
            dir: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            workload: s("workload"),
            nemesis: s("nemesis"),
            seed: r["seed"].as_u64().unwrap_or(0),
            valid: r["valid"].as_bool().unwrap_or(false),
            operations: r["operations"].as_u64().unwrap_or(0),
            anomalies: r["verdict"]["anomalies"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            refused_or_unknown_share: r["verdict"]["stats"][REFUSED_OR_UNKNOWN_SHARE].as_f64(),
        });
    }
    rows.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(rows)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Write `dir/index.html` over every run in `dir`.
pub fn index(dir: &Path) -> io::Result<Vec<Row>> {
    let rows = rows(dir)?;
    let mut html = String::from(
        "<!doctype html><meta charset=utf-8><title>gdc-jepsen runs</title>\n\
         <style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}\
         .bad{color:#b00;font-weight:bold}.ok{color:#070}</style>\n\
         <h1>gdc-jepsen runs</h1>\n<table>\n\
         <tr><th>run</th><th>workload</th><th>nemesis</th><th>seed</th><th>operations</th>\
         <th>result</th><th>plots</th><th>first anomaly</th></tr>\n",
    );
    for r in &rows {
        let d = escape(&r.dir);
        html.push_str(&format!(
            "<tr><td><a href=\"{d}/summary.txt\">{d}</a></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td class={}>{}</td><td><a href=\"{d}/latency.svg\">latency</a> \
             <a href=\"{d}/lag.svg\">lag</a></td><td>{}</td></tr>\n",
            escape(&r.workload),
            escape(&r.nemesis),
            r.seed,
            r.operations,
            if r.valid { "ok" } else { "bad" },
            if r.valid { "valid" } else { "INVALID" },
            escape(r.anomalies.first().map_or("", String::as_str)),
        ));
    }
    html.push_str("</table>\n");
    std::fs::write(dir.join("index.html"), html)?;
    Ok(rows)
}

/// The README's results table (markdown) over the runs in `dir`: a row per workload, a
/// column per nemesis, in the suite's order, each cell the verdict, the operations in
/// thousands and the share of writes refused or unknown.
pub fn table(dir: &Path) -> io::Result<String> {
    let rows = rows(dir)?;
    let workloads: Vec<&str> = workload::ALL
        .iter()
        .map(|w| w.name())
        .filter(|&w| rows.iter().any(|r| r.workload == w))
        .collect();
    let nemeses: Vec<&str> = nemesis::ALL
        .iter()
        .map(|n| n.name())
        .filter(|&n| rows.iter().any(|r| r.nemesis == n))
        .collect();
    let mut out = format!("| workload | {} |\n", nemeses.join(" | "));
    out.push_str(&format!("|---|{}\n", "---|".repeat(nemeses.len())));
    for w in workloads {
        let cells: Vec<String> = nemeses
            .iter()
            .map(|&n| {
                rows.iter()
                    .find(|r| r.workload == w && r.nemesis == n)
                    .map_or_else(String::new, cell)
            })
            .collect();
        out.push_str(&format!("| {w} | {} |\n", cells.join(" | ")));
    }
    Ok(out)
}

/// A run as a cell of the results table: `valid 51k · 0.4%`.
fn cell(r: &Row) -> String {
    let verdict = if r.valid { "valid" } else { "INVALID" };
    let thousands = (r.operations + 500) / 1000;
    match r.refused_or_unknown_share {
        Some(share) => format!("{verdict} {thousands}k · {:.1}%", share * 100.0),
        None => format!("{verdict} {thousands}k"),
    }
}

#[cfg(test)]
mod tests {
    use super::{index, table};

    #[test]
    fn the_index_lists_every_run_with_its_verdict_and_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |name: &str, valid: bool, anomaly: &str| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            let results = serde_json::json!({
                "workload": "set", "nemesis": "kill", "seed": 7, "valid": valid,
                "operations": 100, "verdict": { "anomalies": [anomaly] },
            });
            std::fs::write(d.join("results.json"), results.to_string()).expect("write");
        };
        run("set-kill", true, "");
        run("set-pause", false, "r1: s lost <x>");
        std::fs::create_dir_all(dir.path().join("not-a-run")).expect("mkdir");
        let rows = index(dir.path()).expect("index");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].dir.as_str(), rows[0].valid), ("set-kill", true));
        assert_eq!((rows[1].dir.as_str(), rows[1].valid), ("set-pause", false));
        let html = std::fs::read_to_string(dir.path().join("index.html")).expect("html");
        assert!(
            html.contains("<a href=\"set-pause/latency.svg\">"),
            "{html}"
        );
        assert!(html.contains("class=bad>INVALID"), "{html}");
        assert!(html.contains("r1: s lost &lt;x&gt;"), "escaped: {html}");
        assert!(!html.contains("not-a-run"));
    }

    #[test]
    fn the_table_has_a_row_per_workload_and_a_column_per_nemesis_present() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |name: &str, results: serde_json::Value| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join("results.json"), results.to_string()).expect("write");
        };
        let stats = |share: f64| serde_json::json!({ "writes_refused_or_unknown_share": share });
        run(
            "counter-kill",
            serde_json::json!({
                "workload": "counter", "nemesis": "kill", "valid": false, "operations": 35_499,
                "verdict": { "anomalies": ["availability: ..."], "stats": stats(0.25) },
            }),
        );
        run(
            "counter-none",
            serde_json::json!({
                "workload": "counter", "nemesis": "none", "valid": true, "operations": 51_234,
                "verdict": { "anomalies": [], "stats": stats(0.004) },
            }),
        );
        // From before availability was measured: no share.
        run(
            "register-none",
            serde_json::json!({
                "workload": "register", "nemesis": "none", "valid": true, "operations": 77_600,
                "verdict": { "anomalies": [], "stats": {} },
            }),
        );
        assert_eq!(
            table(dir.path()).expect("table"),
            "| workload | none | kill |\n\
             |---|---|---|\n\
             | counter | valid 51k · 0.4% | INVALID 35k · 25.0% |\n\
             | register | valid 78k |  |\n"
        );
    }
}
