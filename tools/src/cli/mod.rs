//! The `kat` argument definitions and the dispatch to each subcommand.

pub mod bench;
pub mod data_dir;
pub mod explain;
pub mod k8s;
pub mod keygen;
pub mod normalize;
pub mod query;
pub mod run_boefje;
pub mod renormalize;
pub mod run_normalizer;
pub mod scan;
pub mod serve;
pub mod show_raw;
pub mod verify_raw;

use clap::{Parser, Subcommand};

/// kat: an attack-surface scanning pipeline compatible with OpenKAT's
/// boefjes, normalizers and raw formats.
#[derive(Debug, Parser)]
#[command(name = "kat", version, about = "kat: an attack-surface scanning pipeline compatible with OpenKAT's boefjes, normalizers and raw formats", long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `kat`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a normalizer on a raw file offline and print the objects as JSON
    /// lines (one object a line, with `object_type` and `primary_key`),
    /// touching no store.
    Normalize(normalize::NormalizeArgs),
    /// Run a read-only Cypher query on the object graph and print the rows.
    Query(query::QueryArgs),
    /// Scan targets: declare them with clearance 2 and run every boefje and
    /// normalizer they lead to, then print the object tree. Boefje settings
    /// come from the KATalogus and, as defaults, from `BOEFJE_<KEY>`
    /// environment variables (e.g. `BOEFJE_PORTS=8000-8100`). Your own
    /// boefjes: `KATALOGUS_PLUGIN_DIR` (plugin folders; a `run` command in
    /// `boefje.json` runs as a local program), limited by
    /// `BOEFJES_JOB_TIMEOUT` (seconds, 3600), `BOEFJES_MAX_OUTPUT` (bytes,
    /// 64 MiB) and `BOEFJES_MEMORY_LIMIT` (bytes, none); `boefje-api`
    /// plugins reach the runner at `BOEFJES_API` / `BOEFJES_API_BIND`.
    Scan(scan::ScanArgs),
    /// Run one boefje now and print the ids of the raw files it stored. The
    /// plugin folders of `KATALOGUS_PLUGIN_DIR` and the `BOEFJES_*` limits
    /// apply as in `scan`.
    RunBoefje(run_boefje::RunBoefjeArgs),
    /// Print a stored raw file (`--json` pretty-prints, `--meta` shows its metadata).
    ShowRaw(show_raw::ShowRawArgs),
    /// Run a normalizer on a stored raw file, save and print the objects.
    RunNormalizer(run_normalizer::RunNormalizerArgs),
    /// Run a normalizer again over stored raw files and print, per origin, the objects it would add, remove
    /// and change (field by field); commits them unless `--dry-run`.
    Renormalize(renormalize::RenormalizeArgs),
    /// Print a new key pair for settings encryption (base64, PyNaCl/OpenKAT
    /// format) as the three environment lines that switch it on.
    Keygen,
    /// Run every service in this process (no flag), or one: `--katalogus`, `--bytes`, `--scheduler`,
    /// `--boefje-runner` or `--normalizer-runner`.
    Serve(serve::ServeArgs),
    /// Measure every stage (or the named ones: pipeline, scheduler, runner, graph, normalize, bytes, katalogus,
    /// startup) on a release build and print each figure beside its target; `--quick` for a short run, `--json
    /// FILE` to keep the figures.
    Bench(bench::BenchArgs),
    /// Check stored raw files against their hashes and report every mismatch.
    VerifyRaw(verify_raw::VerifyRawArgs),
    /// Kubernetes: `kat k8s manifests` prints what the boefje runner needs in a cluster (ServiceAccount,
    /// least-privilege Role and RoleBinding, Deployment with `BOEFJES_RUNTIME=kubernetes`).
    K8s(k8s::K8sArgs),
    /// Say why a boefje did or did not run on an object (not enabled, clearance, conditions, grace period,
    /// deduplicated, lease expired, failed, ran).
    Explain(explain::ExplainArgs),
}

/// Run the parsed command; the error is printed by `main` as one line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Normalize(args) => normalize::run(&args, &mut std::io::stdout().lock()),
        Command::Query(args) => query::run(&args, &mut std::io::stdout().lock()),
        Command::Scan(args) => scan::run(&args, &mut std::io::stdout().lock()),
        Command::RunBoefje(args) => run_boefje::run(&args, &mut std::io::stdout().lock()),
        Command::ShowRaw(args) => show_raw::run(&args, &mut std::io::stdout().lock()),
        Command::RunNormalizer(args) => run_normalizer::run(&args, &mut std::io::stdout().lock()),
        Command::Renormalize(args) => renormalize::run(&args, &mut std::io::stdout().lock()),
        Command::Keygen => keygen::run(&mut std::io::stdout().lock()),
        Command::Serve(args) => serve::run(&args),
        Command::Bench(args) => bench::run(&args, &mut std::io::stdout().lock()),
        Command::VerifyRaw(args) => verify_raw::run(&args, &mut std::io::stdout().lock()),
        Command::Explain(args) => explain::run(&args, &mut std::io::stdout().lock()),
        Command::K8s(args) => k8s::run(&args, &mut std::io::stdout().lock()),
    }
}

/// Turn a command's result into an exit code, printing the error as `program: message`.
/// Logs (warnings and up by default, `RUST_LOG` to change) go to standard error.
pub fn exit_code(result: anyhow::Result<()>, program: &str) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e:#}");
            if is_config_error(&e) { std::process::ExitCode::from(EXIT_CONFIG) } else { std::process::ExitCode::FAILURE }
        }
    }
}

/// The exit code of a bad configuration (`EX_CONFIG` of sysexits.h is 78, but `EX_USAGE`, 64, is what
/// operators' scripts check for a wrong invocation or variable; the issue tracker asks for 64).
pub const EXIT_CONFIG: u8 = 64;

/// Whether the error is a refused configuration value (an environment variable out of range, a bad address ...).
fn is_config_error(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<kat_core::config::ConfigError>() || cause.is::<kat_bytes::config::ConfigError>() || cause.is::<kat_katalogus::config::ConfigError>()
    })
}

/// Send `tracing` logs to standard error, at the level `RUST_LOG` gives (default `warn`).
pub fn init_logging() {
    let level = std::env::var("RUST_LOG").ok().and_then(|l| l.parse::<tracing::Level>().ok()).unwrap_or(tracing::Level::WARN);
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).try_init();
}
