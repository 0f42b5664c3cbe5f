//! The normalizer runner as a service (the `normalizer-runner` binary and
//! `kat serve --normalizer-runner`): the worker pool over
//! [`NormalizerWorker`], popping normalizer tasks from the scheduler over
//! HTTP with leases, reading raw files from Bytes over HTTP (hashes
//! checked), and saving objects in the graph `KAT_GRAPH_URI` names (a Bolt
//! server in a deployment). Built-in normalizers and the plugin folders'
//! external ones (`KATALOGUS_PLUGIN_DIR`) run here.
//!
//! SIGTERM or SIGINT stops it gracefully: it pops nothing more and lets the
//! running normalizers finish. One killed outright leaves its tasks leased;
//! the scheduler hands them on when the leases run out.

use std::sync::Arc;

use anyhow::Context;
use kat_boefje_runner::{Pool, PoolConfig};
use kat_bytes::client::BytesClient;
use kat_core::config::{get, number, ConfigError};
use kat_normalizer_runner::NormalizerRunner;
use kat_scheduler::SchedulerClient;

use crate::boefje_runner_service::{required, stop_signal};
use crate::embedded::{graph_location, RunnerSetup};
use crate::normalizer_pool::NormalizerWorker;

/// How many normalizers run at once.
pub const ENV_POOL_SIZE: &str = "NORMALIZERS_POOL_SIZE";
/// Where the runner answers `GET /health` (unset: it serves no `/health`).
pub const ENV_HEALTH_BIND: &str = "NORMALIZERS_HEALTH_BIND";
const SERVICE: &str = "normalizer runner";

/// The variables this service reads, for `--help`.
pub const HELP: &str = "Environment: SCHEDULER_API (required, e.g. http://127.0.0.1:8004) with SCHEDULER_API_TOKEN, \
BYTES_API (required) with BYTES_USERNAME and BYTES_PASSWORD (required), KAT_GRAPH_URI (bolt://host:port or neo4j://host:port \
with NEO4J_USER and NEO4J_PASSWORD, or embedded:<path>; default embedded:KAT_DATA_DIR/graph.kgl), \
NORMALIZERS_POOL_SIZE (normalizers at once, 1-1024, default 8), KATALOGUS_PLUGIN_DIR (plugin folders whose normalizer.json \
`run` programs run here), NORMALIZERS_JOB_TIMEOUT (seconds, default 300), NORMALIZERS_MAX_OUTPUT (bytes, default 64 MiB), \
KAT_MAX_DERIVE_DEPTH (derived raw files normalized at most this deep, default 3), \
NORMALIZERS_HEALTH_BIND (e.g. 0.0.0.0:8007: GET /health reports the scheduler, Bytes and the graph, 503 while one is down; unset: none). \
SIGTERM: no more pops, running normalizers finish, exit 0.";

/// The service's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `SCHEDULER_API` and `SCHEDULER_API_TOKEN`.
    pub scheduler: (String, Option<String>),
    /// `BYTES_API`, `BYTES_USERNAME`, `BYTES_PASSWORD`.
    pub bytes: (String, String, String),
    /// The pool: `NORMALIZERS_POOL_SIZE`.
    pub pool: PoolConfig,
}

impl Settings {
    /// Read the settings; a missing or bad one is a configuration error naming it.
    pub fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        Ok(Settings {
            scheduler: (required(lookup, "SCHEDULER_API", "http://127.0.0.1:8004", SERVICE)?, get(lookup, "SCHEDULER_API_TOKEN")),
            bytes: (required(lookup, "BYTES_API", "http://127.0.0.1:8002", SERVICE)?, required(lookup, "BYTES_USERNAME", "bytes", SERVICE)?, required(lookup, "BYTES_PASSWORD", "...", SERVICE)?),
            pool: PoolConfig { size: number(lookup, ENV_POOL_SIZE, 8, 1, 1024)?, ..PoolConfig::default() },
        })
    }
}

/// Run the normalizer runner from the process environment until SIGTERM or SIGINT.
pub fn run() -> anyhow::Result<()> {
    let lookup = |name: &str| std::env::var(name).ok();
    let settings = Settings::from_vars(&lookup)?;
    let data_dir = std::path::PathBuf::from(get(&lookup, crate::embedded::ENV_DATA_DIR).unwrap_or_else(|| "./kat-data".into()));
    let location = graph_location(&data_dir)?;
    let health_bind = crate::runner_health::bind_from_env(ENV_HEALTH_BIND)?;
    tokio::runtime::Runtime::new().context("starting the async runtime")?.block_on(async {
        let setup = RunnerSetup::from_env(&crate::embedded::plugin_repository()).await?;
        let graph = Arc::new(kat_graph::Graph::connect(&location).await.with_context(|| format!("opening the graph {location}"))?);
        if let Some(bind) = health_bind {
            use crate::runner_health::{graph_check, service_check};
            let checks = vec![("scheduler", service_check(&settings.scheduler.0)), ("bytes", service_check(&settings.bytes.0)), ("graph", graph_check(graph.clone()))];
            crate::runner_health::spawn("normalizer-runner", bind, checks).await?;
        }
        let scheduler = Arc::new(SchedulerClient::new(&settings.scheduler.0, settings.scheduler.1.clone()));
        let bytes = Arc::new(BytesClient::new(&settings.bytes.0, &settings.bytes.1, &settings.bytes.2));
        let runner = NormalizerRunner::new(kat_plugins::normalizers::all(), bytes).with_external(setup.external_normalizers.clone(), setup.normalizer_limits).with_rules(kat_plugins::rules::all());
        eprintln!("normalizer-runner: {} normalizers at once, popping from {}, saving into {location}", settings.pool.size, settings.scheduler.0);
        let worker = Arc::new(NormalizerWorker::new(runner, graph));
        let stats = Pool::new(worker, scheduler, settings.pool).run(stop_signal()).await?;
        eprintln!("normalizer-runner: stopped after {} task(s) ({} errors)", stats.run, stats.errors);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_and_bytes_are_required_and_the_pool_size_is_checked() {
        let full = [("SCHEDULER_API", "http://s"), ("BYTES_API", "http://b"), ("BYTES_USERNAME", "u"), ("BYTES_PASSWORD", "p")];
        let settings = Settings::from_vars(&kat_core::config::from_pairs(&full)).expect("complete");
        assert_eq!(settings.pool.size, 8);
        for (missing, _) in full {
            let pairs: Vec<(&str, &str)> = full.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = Settings::from_vars(&kat_core::config::from_pairs(&pairs)).expect_err(missing);
            assert!(err.to_string().starts_with(&format!("{missing} is not set: the normalizer runner needs it")), "{err}");
        }
        let mut big = full.to_vec();
        big.push((ENV_POOL_SIZE, "0"));
        assert!(Settings::from_vars(&kat_core::config::from_pairs(&big)).expect_err("0").to_string().contains(ENV_POOL_SIZE));
    }
}
