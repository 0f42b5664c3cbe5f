//! `kat bench [--quick] [--json FILE] [STAGE...]`: measurements of every
//! stage on real code paths, each figure beside its target. Run it on a
//! release build (a debug build is refused).
//!
//! - [`pipeline`]: tasks end to end in embedded mode (no-op boefje, real DNS
//!   normalizer): tasks/s, objects/s, latency from push to objects saved;
//!   with `--distributed` also through the services as processes
//!   ([`distributed`]).
//! - [`scheduler`]: push and pop+complete throughput, in process and over
//!   HTTP, on SQLite and PostgreSQL, with 1 and 8 workers, and pop latency.
//! - [`runner`]: the boefje worker pool in process: built-in no-op tasks/s
//!   and local-executable jobs/s.
//! - [`graph`]: objects/s saved in observations of 1,000 objects and reads
//!   by primary key/s, embedded and on a Bolt server.
//! - [`normalize`]: the DNS and nmap normalizers' MiB/s on generated inputs.
//! - [`bytes`]: raw-file saves/s and MiB/s, 10 KiB and 1 MiB, with and
//!   without encryption, in process and over HTTP.
//! - [`katalogus`]: settings `GET` throughput over HTTP.
//! - [`startup`]: `kat serve` exec to healthy, and idle resident memory.
//!
//! Each stage hands back [`report::Figure`]s; this module prints them as one
//! table and, with `--json`, writes them to a file.

pub mod bytes;
pub mod distributed;
pub mod graph;
pub mod katalogus;
pub mod normalize;
pub mod pipeline;
pub mod report;
pub mod runner;
pub mod scheduler;
pub mod startup;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use report::{Figure, Machine, Progress};

/// A stage to benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// Tasks end to end in embedded mode: no-op boefje with a 2 KiB dns-records raw, the real DNS normalizer.
    Pipeline,
    /// The scheduler's queues: push, pop+complete, pop latency.
    Scheduler,
    /// The boefje worker pool in process: built-in no-op tasks/s and local-executable jobs/s.
    Runner,
    /// The object graph: objects/s saved in observations of 1,000, reads by primary key/s.
    Graph,
    /// The DNS and nmap normalizers: MiB/s on generated raw files of more than 1 MiB.
    Normalize,
    /// Bytes: saves/s and MiB/s of 10 KiB and 1 MiB raw files, plain and encrypted, in process and over HTTP.
    Bytes,
    /// Settings `GET` on the KATalogus API.
    Katalogus,
    /// `kat serve`: exec until `/health` answers, and idle resident memory.
    Startup,
}

impl Stage {
    /// Every stage, in the order a full run measures them.
    pub const ALL: [Stage; 8] = [Stage::Pipeline, Stage::Scheduler, Stage::Runner, Stage::Graph, Stage::Normalize, Stage::Bytes, Stage::Katalogus, Stage::Startup];

    fn measure(self, args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
        match self {
            Stage::Pipeline => pipeline::run(args, progress),
            Stage::Scheduler => scheduler::run(args, progress),
            Stage::Runner => runner::run(args, progress),
            Stage::Graph => graph::run(args, progress),
            Stage::Normalize => normalize::run(args, progress),
            Stage::Bytes => bytes::run(args, progress),
            Stage::Katalogus => katalogus::run(args, progress),
            Stage::Startup => startup::run(args, progress),
        }
    }
}

/// Arguments of `kat bench`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Stages: pipeline, scheduler, runner, graph, normalize, bytes, katalogus, startup (all when none is named). \
Every figure is printed in one table with its target and the ratio to it (a '!' marks a missed target). \
Inputs are generated from fixed seeds, so every run does the same work. Environment: NEO4J_USER and NEO4J_PASSWORD \
for --graph-uri.")]
pub struct BenchArgs {
    /// The stages to run (default: all).
    #[arg(value_enum)]
    pub stages: Vec<Stage>,
    /// A short run of every stage (under two minutes on 2 cores): fewer tasks, shorter measurements.
    #[arg(long)]
    pub quick: bool,
    /// Also write the figures as JSON to this file (`{"machine": {...}, "results": [...]}`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Concurrent keep-alive clients (katalogus).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// How long to measure, in seconds (katalogus, after a one-second warm-up; 2 with --quick).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Tasks per run (pipeline at most 5,000, scheduler, runner; the runner's local-executable run takes at most
    /// 2,000); for the graph, the number of reads by primary key. --quick caps it at 2,000 (pipeline 500).
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Observations of 1,000 objects saved (graph; 5 with --quick).
    #[arg(long, default_value_t = 20)]
    pub observations: usize,
    /// Also measure the graph on this Bolt server (`bolt://host:port`, with NEO4J_USER and NEO4J_PASSWORD).
    #[arg(long)]
    pub graph_uri: Option<String>,
    /// The database (`sqlite://...` or `postgres://...`); default a temporary SQLite file. For the scheduler,
    /// a `postgres://` URL of a server adds the PostgreSQL runs (a fresh database is made there per run).
    #[arg(long)]
    pub db_uri: Option<String>,
    /// Pipeline: also run the tasks through the services as separate processes (KATalogus, Bytes, scheduler;
    /// events through RabbitMQ at --queue-uri), the worker pools over their HTTP clients.
    #[arg(long)]
    pub distributed: bool,
    /// The RabbitMQ broker of --distributed; give it a vhost of its own where another scheduler may consume.
    #[arg(long, env = "QUEUE_URI", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f", hide_env_values = true)]
    pub queue_uri: String,
}

impl BenchArgs {
    /// The arguments with `--quick`'s limits applied.
    fn effective(&self) -> BenchArgs {
        let mut args = self.clone();
        if args.quick {
            args.seconds = args.seconds.min(2);
            args.tasks = args.tasks.min(2_000);
            args.observations = args.observations.min(5);
        }
        args
    }
}

/// Run the chosen stages, print their figures as one table, and write them as JSON when asked.
pub fn run(args: &BenchArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.clients == 0 || args.seconds == 0 || args.tasks == 0 || args.observations == 0 {
        bail!("--clients, --seconds, --tasks and --observations must be at least 1");
    }
    if cfg!(debug_assertions) {
        bail!("kat bench needs a release build: figures from a debug build say nothing (cargo run --release -p kat-tools --bin kat -- bench)");
    }
    let args = args.effective();
    let stages: Vec<Stage> = if args.stages.is_empty() { Stage::ALL.to_vec() } else { args.stages.clone() };
    let machine = Machine::current();
    writeln!(out, "kat bench{}: {} core(s), revision {}", if args.quick { " --quick" } else { "" }, machine.cores, machine.revision)?;
    let progress = Progress::stderr();
    let mut figures = Vec::new();
    let started = Instant::now();
    for stage in stages {
        let stage_started = Instant::now();
        let measured = stage.measure(&args, &progress).with_context(|| format!("stage {stage:?}"))?;
        progress.clear();
        tracing::info!(?stage, seconds = stage_started.elapsed().as_secs_f64(), "stage measured");
        figures.extend(measured);
    }
    report::print_table(out, &figures)?;
    writeln!(out, "({:.0} s in all)", started.elapsed().as_secs_f64())?;
    if let Some(path) = &args.json {
        report::write_json(path, &machine, &figures)?;
        writeln!(out, "figures written to {}", path.display())?;
    }
    Ok(())
}

/// Latencies, sorted, to read percentiles from.
pub struct Percentiles(Vec<Duration>);

impl Percentiles {
    /// Sort `samples`.
    pub fn new(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort_unstable();
        Percentiles(samples)
    }

    /// The `p`-th quantile (0.0 to 1.0).
    pub fn at(&self, p: f64) -> Duration {
        self.0.get(((self.0.len().saturating_sub(1)) as f64 * p) as usize).copied().unwrap_or_default()
    }

    /// The largest sample.
    pub fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }
}
