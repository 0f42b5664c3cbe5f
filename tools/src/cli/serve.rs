//! `kat serve` (every service in one process: `crate::serve_all`), `kat serve --katalogus` / `--bytes` /
//! `--scheduler` / `--boefje-runner` / `--normalizer-runner` (and the `katalogus`,
//! `bytes-store`, `scheduler` and `boefje-runner` binaries): run the KATalogus REST API with the built-in
//! plugins, the Bytes REST API, or the scheduler (`crate::scheduler_service`). Configuration comes from
//! `KATALOGUS_DB_URI`, `KATALOGUS_API_TOKEN`, `KATALOGUS_BIND`,
//! `KATALOGUS_DB_WAIT_SECONDS`, `KATALOGUS_PLUGIN_DIR` and the encryption variables (`BOEFJES_ENCRYPTION_MIDDLEWARE`,
//! `BOEFJES_KATALOGUS_PRIVATE_KEY`, `BOEFJES_KATALOGUS_PUBLIC_KEY`, or
//! OpenKAT's older names). Bytes reads the `BYTES_*` variables
//! (`kat_bytes::config`); a bad value stops it at start with one line and
//! exit code 64, and it binds its port only once its database answers.

use anyhow::Context;
use clap::Args;
use kat_katalogus::config::Config;

use crate::embedded::builtin_repository;

/// The variables the `katalogus` binary reads, for its `--help`.
pub const KATALOGUS_HELP: &str = "Environment: KATALOGUS_DB_URI (sqlite://... or postgres://..., default sqlite://katalogus.sqlite?mode=rwc), \
KATALOGUS_DB_WAIT_SECONDS (0-3600, default 60), KATALOGUS_API_TOKEN (bearer token; unset = no auth, warned about at start), \
KATALOGUS_BIND (default 127.0.0.1:8003), KATALOGUS_PLUGIN_DIR (a tree of plugin folders in OpenKAT's layout), \
BOEFJES_ENCRYPTION_MIDDLEWARE (IDENTITY or NACL_SEALBOX) with BOEFJES_KATALOGUS_PRIVATE_KEY and BOEFJES_KATALOGUS_PUBLIC_KEY (see `kat keygen`), RUST_LOG.";

/// The variables the `bytes-store` binary reads, for its `--help`.
pub const BYTES_HELP: &str = "Environment: BYTES_USERNAME and BYTES_PASSWORD (required: clients log in with them), BYTES_BIND (default 127.0.0.1:8002), \
BYTES_DATA_DIR (default ./kat-data), BYTES_DB_URI (postgres://...; default bytes.sqlite in BYTES_DATA_DIR), BYTES_DB_WAIT_SECONDS (0-3600, default 60), \
BYTES_ACCESS_TOKEN_EXPIRE_MINUTES (default 15), BYTES_MAX_RAW_SIZE (bytes, default 64 MiB), BYTES_INLINE_MAX (contents of at most this many bytes are kept in the metadata database; \
default 4096, 0 with S3), BYTES_S3_BUCKET (contents in S3) with AWS_ENDPOINT_URL, \
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION, QUEUE_URI (amqp://...: raw_file_received events are relayed there; unset, they wait in the outbox), \
BYTES_ENCRYPTION_MIDDLEWARE (IDENTITY or NACL_SEALBOX) with BYTES_PRIVATE_KEY_B64 and BYTES_PUBLIC_KEY_B64, RUST_LOG.";

/// The variables the `scheduler` binary reads, for its `--help`.
pub const SCHEDULER_HELP: &str = "Environment: SCHEDULER_DB_URI (sqlite://... or postgres://...; default scheduler.sqlite in KAT_DATA_DIR, default ./kat-data), \
SCHEDULER_DB_WAIT_SECONDS (0-3600, default 60), SCHEDULER_BIND (default 127.0.0.1:8004), SCHEDULER_API_TOKEN (unset = no auth, warned about at start), \
SCHEDULER_LEASE_SECONDS (default 60), SCHEDULER_MAX_ATTEMPTS (default 3), SCHEDULER_GRACE_PERIOD (seconds, default 86400), \
SCHEDULER_SWEEP_SECONDS (default 5), SCHEDULER_SCHEDULE_SECONDS (default 10), SCHEDULER_KATALOGUS_POLL_SECONDS (default 60), \
SCHEDULER_PREFETCH (default 100), QUEUE_URI (amqp://...: consume raw_file_received), KATALOGUS_API with KATALOGUS_API_TOKEN (the KATalogus; \
default the data directory's), SCHEDULER_WEBHOOK_URL (every task status change POSTed as JSON), RUST_LOG.";

/// Arguments of `kat serve`.
#[derive(Debug, Args)]
#[command(after_help = "Without a service flag: every service and both worker pools in this process on the data directory, \
the APIs on BYTES_BIND (127.0.0.1:8002; login BYTES_USERNAME / BYTES_PASSWORD, default `bytes` and the password in DIR/bytes.password), \
KATALOGUS_BIND (127.0.0.1:8003) and SCHEDULER_BIND (127.0.0.1:8004); BOEFJES_POOL_SIZE jobs at once; SIGTERM stops it. \
With --katalogus: KATALOGUS_DB_URI (sqlite://... or postgres://..., default sqlite://katalogus.sqlite?mode=rwc), \
KATALOGUS_API_TOKEN (bearer token; unset = no auth, warned about at start), KATALOGUS_BIND (default 127.0.0.1:8003), KATALOGUS_DB_WAIT_SECONDS (0-3600, default 60), \
KATALOGUS_PLUGIN_DIR (a tree of plugin folders with boefje.json and/or normalizer.json, schema.json, description.md, covers), \
BOEFJES_ENCRYPTION_MIDDLEWARE (IDENTITY or NACL_SEALBOX) with BOEFJES_KATALOGUS_PRIVATE_KEY and BOEFJES_KATALOGUS_PUBLIC_KEY (see `kat keygen`).")]
pub struct ServeArgs {
    /// Serve the KATalogus API.
    #[arg(long, conflicts_with = "bytes")]
    pub katalogus: bool,
    /// Serve the Bytes API (environment: BYTES_DATA_DIR, BYTES_DB_URI, BYTES_DB_WAIT_SECONDS, BYTES_USERNAME, BYTES_PASSWORD,
    /// BYTES_ACCESS_TOKEN_EXPIRE_MINUTES, BYTES_MAX_RAW_SIZE, BYTES_INLINE_MAX, BYTES_BIND (default 127.0.0.1:8002), QUEUE_URI (amqp://...),
    /// BYTES_ENCRYPTION_MIDDLEWARE with BYTES_PRIVATE_KEY_B64 and BYTES_PUBLIC_KEY_B64).
    #[arg(long, conflicts_with = "scheduler")]
    pub bytes: bool,
    /// Serve the scheduler API (environment: SCHEDULER_DB_URI, SCHEDULER_BIND (default 127.0.0.1:8004), SCHEDULER_API_TOKEN,
    /// SCHEDULER_LEASE_SECONDS, SCHEDULER_MAX_ATTEMPTS, SCHEDULER_GRACE_PERIOD, QUEUE_URI, KATALOGUS_API, KATALOGUS_API_TOKEN,
    /// SCHEDULER_WEBHOOK_URL and the other SCHEDULER_* variables of `kat_scheduler::config`).
    #[arg(long, conflicts_with = "katalogus")]
    pub scheduler: bool,
    /// Run the boefje worker pool against the scheduler, Bytes and KATalogus APIs (environment: SCHEDULER_API, BYTES_API,
    /// BYTES_USERNAME, BYTES_PASSWORD, KATALOGUS_API, BOEFJES_POOL_SIZE, BOEFJES_POOL_FILTER_PLUGINS, BOEFJES_POOL_FILTER_IMAGES, BOEFJES_RUNTIME, KATALOGUS_PLUGIN_DIR,
    /// BOEFJES_JOB_TIMEOUT, BOEFJES_MAX_OUTPUT, BOEFJES_MEMORY_LIMIT, BOEFJES_API; see `boefje-runner --help`).
    #[arg(long, conflicts_with_all = ["katalogus", "bytes", "scheduler"])]
    pub boefje_runner: bool,
    /// Run the normalizer worker pool against the scheduler and Bytes APIs, saving into a graph (environment:
    /// SCHEDULER_API, BYTES_API, BYTES_USERNAME, BYTES_PASSWORD, KAT_GRAPH_URI, NEO4J_USER, NEO4J_PASSWORD,
    /// NORMALIZERS_POOL_SIZE, KATALOGUS_PLUGIN_DIR, NORMALIZERS_JOB_TIMEOUT, NORMALIZERS_MAX_OUTPUT; see
    /// `normalizer-runner --help`).
    #[arg(long, conflicts_with_all = ["katalogus", "bytes", "scheduler", "boefje_runner"])]
    pub normalizer_runner: bool,
    /// The data directory of `kat serve` without a service flag (every service in this process).
    #[command(flatten)]
    pub data: super::data_dir::DataDirArg,
}

/// Run the chosen service (without one: all of them, `crate::serve_all`) until the process is stopped.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    match (args.katalogus, args.bytes, args.scheduler, args.boefje_runner, args.normalizer_runner) {
        (true, ..) => katalogus(),
        (_, true, ..) => bytes(),
        (_, _, true, ..) => crate::scheduler_service::run(),
        (_, _, _, true, _) => crate::boefje_runner_service::run(),
        (.., true) => crate::normalizer_runner_service::run(),
        _ => crate::serve_all::run(&args.data.data_dir),
    }
}

/// Run Bytes from the process environment: the configuration is checked first (a bad value exits 64), the
/// database is opened (waiting for PostgreSQL), and only then is the port bound.
pub fn bytes() -> anyhow::Result<()> {
    let config = kat_bytes::config::Config::from_env(|name| std::env::var(name).ok())?;
    tokio::runtime::Runtime::new().context("starting the async runtime")?.block_on(async {
        let bind = config.bind;
        let service = kat_bytes::serve::start(config).await?;
        let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("listening on {bind}"))?;
        eprintln!("bytes-store: listening on http://{bind}");
        service.serve(listener).await?;
        Ok(())
    })
}

/// Run the KATalogus from the process environment. A configuration error (a bad address, key or number)
/// is a `kat_katalogus::config::ConfigError`, which `cli::exit_code` reports in one line with exit code 64;
/// the service warns when it runs without `KATALOGUS_API_TOKEN`, opens its database (waiting up to
/// `KATALOGUS_DB_WAIT_SECONDS` for PostgreSQL) and only then listens.
pub fn katalogus() -> anyhow::Result<()> {
    let config = Config::from_env(|name| std::env::var(name).ok())?;
    tokio::runtime::Runtime::new().context("starting the async runtime")?.block_on(async {
        kat_katalogus::serve(config, builtin_repository()).await?;
        Ok(())
    })
}
