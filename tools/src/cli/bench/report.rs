//! What a `kat bench` stage hands back: its figures, each with its unit and
//! (where the project has one) its target; the table they print as; the JSON
//! file `--json FILE` writes; and the progress line a stage shows on stderr
//! while it runs.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

/// One measured figure of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The stage that measured it, e.g. `graph`.
    pub stage: &'static str,
    /// What was measured, e.g. `embedded objects/s saved, observations of 1,000`.
    pub figure: String,
    /// The measured value.
    pub value: f64,
    /// Its unit, e.g. `tasks/s`, `ms`, `MiB`.
    pub unit: &'static str,
    /// The project's target for it, if it has one.
    pub target: Option<f64>,
    /// Whether more is better (throughput) or less (latency, memory).
    pub higher_is_better: bool,
}

impl Figure {
    /// A figure without a target, higher being better.
    pub fn new(stage: &'static str, figure: impl Into<String>, value: f64, unit: &'static str) -> Figure {
        Figure { stage, figure: figure.into(), value, unit, target: None, higher_is_better: true }
    }

    /// A latency, size or duration: lower is better.
    pub fn lower_is_better(mut self) -> Figure {
        self.higher_is_better = false;
        self
    }

    /// The target: at least `target` (or, for a lower-is-better figure, at most).
    pub fn target(mut self, target: f64) -> Figure {
        self.target = Some(target);
        self
    }

    /// How far the value is from its target: above 1.0 means met (value/target, or target/value when lower
    /// is better).
    pub fn ratio(&self) -> Option<f64> {
        let target = self.target?;
        let ratio = if self.higher_is_better { self.value / target } else { target / self.value };
        ratio.is_finite().then_some(ratio)
    }
}

/// A duration as milliseconds, the unit the latency figures use.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Print `figures` as one table: stage, figure, value with unit, target, ratio (with a mark where the target
/// is missed).
pub fn print_table(out: &mut impl Write, figures: &[Figure]) -> std::io::Result<()> {
    let width = figures.iter().map(|f| f.figure.len()).max().unwrap_or(6).max(6);
    writeln!(out, "{:<10} {:<width$} {:>16} {:<9} {:>12} {:>7}", "stage", "figure", "value", "unit", "target", "ratio")?;
    for f in figures {
        let target = match f.target {
            Some(t) => format!("{}{}", if f.higher_is_better { ">=" } else { "<=" }, number(t)),
            None => "-".into(),
        };
        let ratio = match f.ratio() {
            Some(r) => format!("{r:.2}{}", if r < 1.0 { " !" } else { "" }),
            None => "-".into(),
        };
        writeln!(out, "{:<10} {:<width$} {:>16} {:<9} {:>12} {:>7}", f.stage, f.figure, number(f.value), f.unit, target, ratio)?;
    }
    Ok(())
}

/// A value the way the table shows it: no decimals from 100 on, two below.
fn number(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// The machine a run measured, as `--json` records it.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Logical cores the process may use.
    pub cores: usize,
    /// The source revision: `git describe` of the working directory when it is a checkout, else the crate
    /// version.
    pub revision: String,
}

impl Machine {
    /// This machine and revision.
    pub fn current() -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let described = std::process::Command::new("git")
            .args(["describe", "--always", "--dirty"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Machine { cores, revision: described.unwrap_or_else(|| format!("kat {}", env!("CARGO_PKG_VERSION"))) }
    }
}

/// Write `{"machine": ..., "results": [...]}` to `path`.
pub fn write_json(path: &Path, machine: &Machine, figures: &[Figure]) -> anyhow::Result<()> {
    let document = serde_json::json!({"machine": machine, "results": figures});
    let text = serde_json::to_string_pretty(&document).context("serializing the figures")?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The progress line on stderr: `[#####.....] stage: step 3/10`. Drawn in place on a terminal, one line per
/// step otherwise (so logs of a CI run show where it is).
pub struct Progress {
    terminal: bool,
    state: Mutex<(&'static str, String)>,
}

impl Progress {
    /// A progress line on stderr.
    pub fn stderr() -> Progress {
        Progress { terminal: std::io::stderr().is_terminal(), state: Mutex::new(("", String::new())) }
    }

    /// Say that `stage` is at `step`, `done` of `total` parts finished.
    pub fn step(&self, stage: &'static str, step: &str, done: usize, total: usize) {
        let Ok(mut state) = self.state.lock() else { return };
        const WIDTH: usize = 20;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
        let bar = format!("[{}{}]", "#".repeat(filled), ".".repeat(WIDTH - filled));
        let line = format!("{bar} {stage}: {step} ({done}/{total})");
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else if state.0 != stage || state.1 != step {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        *state = (stage, step.to_string());
    }

    /// Clear the line (on a terminal) before a table is printed.
    pub fn clear(&self) {
        if self.terminal {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_follows_the_direction_of_the_figure() {
        let fast = Figure::new("graph", "objects/s", 25_000.0, "objects/s").target(50_000.0);
        assert_eq!(fast.ratio(), Some(0.5));
        let memory = Figure::new("startup", "idle memory", 32.0, "MiB").lower_is_better().target(64.0);
        assert_eq!(memory.ratio(), Some(2.0));
        assert_eq!(Figure::new("x", "y", 1.0, "z").ratio(), None);
        assert_eq!(Figure::new("x", "y", 0.0, "ms").lower_is_better().target(1.0).ratio(), None, "a zero latency has no finite ratio");
    }

    #[test]
    fn table_marks_missed_targets_and_json_has_every_figure() {
        let figures = vec![
            Figure::new("graph", "objects/s saved", 25_000.0, "objects/s").target(50_000.0),
            Figure::new("startup", "start to healthy", 120.0, "ms").lower_is_better().target(300.0),
            Figure::new("bytes", "saves/s", 12.5, "saves/s"),
        ];
        let mut table = Vec::new();
        print_table(&mut table, &figures).expect("printed");
        let table = String::from_utf8(table).expect("utf-8");
        assert!(table.contains(">=50000") && table.contains("0.50 !"), "{table}");
        assert!(table.contains("<=300") && table.contains("2.50") && !table.contains("2.50 !"), "{table}");
        assert!(table.contains("12.50"), "{table}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bench.json");
        write_json(&path, &Machine { cores: 2, revision: "abc".into() }, &figures).expect("written");
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(json["machine"]["cores"], 2);
        assert_eq!(json["results"].as_array().map(Vec::len), Some(3));
        assert_eq!(json["results"][1]["higher_is_better"], false);
        assert_eq!(json["results"][2]["target"], serde_json::Value::Null);
        assert_eq!(json["results"][0]["unit"], "objects/s");
    }
}
