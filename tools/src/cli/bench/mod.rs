//! `kat bench TARGET`: measurements of one stage at a time, on real code
//! paths, printed as figures. Run them on a release build.
//!
//! - [`katalogus`]: settings `GET` throughput over HTTP.
//! - [`scheduler`]: push and pop+complete throughput, in process and over
//!   HTTP, on SQLite and PostgreSQL, with 1 and 8 workers, and the p99 pop
//!   latency with 10,000 queued tasks.
//! - [`runner`]: the boefje worker pool in process: built-in no-op tasks/s
//!   and local-executable jobs/s.
//! - [`graph`]: objects/s saved in observations of 1,000 objects and reads
//!   by primary key/s, embedded and on a Bolt server.
//! - [`normalize`]: the DNS and nmap normalizers' MiB/s on generated inputs.

pub mod graph;
pub mod katalogus;
pub mod normalize;
pub mod runner;
pub mod scheduler;

use std::io::Write;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};

/// What to benchmark.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Target {
    /// Settings `GET` on the KATalogus API.
    Katalogus,
    /// The scheduler's queues: push, pop+complete, pop latency.
    Scheduler,
    /// The boefje worker pool in process: built-in no-op tasks/s and local-executable jobs/s.
    Runner,
    /// The object graph: objects/s saved in observations of 1,000, reads by primary key/s.
    Graph,
    /// The DNS and nmap normalizers: MiB/s on generated raw files of more than 1 MiB.
    Normalize,
}

/// Arguments of `kat bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The benchmark to run.
    pub target: Target,
    /// Concurrent keep-alive clients (katalogus).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// How long to measure, in seconds (katalogus, after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Tasks per run (scheduler, runner; the runner's local-executable run takes at most 2,000); for the
    /// graph, the number of reads by primary key.
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Observations of 1,000 objects saved (graph).
    #[arg(long, default_value_t = 20)]
    pub observations: usize,
    /// Also measure the graph on this Bolt server (`bolt://host:port`, with NEO4J_USER and NEO4J_PASSWORD).
    #[arg(long)]
    pub graph_uri: Option<String>,
    /// The database (`sqlite://...` or `postgres://...`); default a temporary SQLite file. For the scheduler,
    /// a `postgres://` URL of a server adds the PostgreSQL runs (a fresh database is made there per run).
    #[arg(long)]
    pub db_uri: Option<String>,
}

/// Run the benchmark and print its figures.
pub fn run(args: &BenchArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.clients == 0 || args.seconds == 0 || args.tasks == 0 {
        bail!("--clients, --seconds and --tasks must be at least 1");
    }
    if cfg!(debug_assertions) {
        eprintln!("kat bench: warning: this is a debug build; figures from it say little (use cargo run --release)");
    }
    match args.target {
        Target::Katalogus => katalogus::run(args, out),
        Target::Scheduler => scheduler::run(args, out),
        Target::Runner => runner::run(args, out),
        Target::Graph => graph::run(args, out),
        Target::Normalize => normalize::run(args, out),
    }
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
