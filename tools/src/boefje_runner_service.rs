//! The boefje runner as a service (the `boefje-runner` binary and `kat
//! serve --boefje-runner`): a `kat_boefje_runner::Pool` that pops boefje
//! tasks from the scheduler over HTTP, reads settings from the KATalogus
//! and stores raw files in Bytes, all through their REST APIs, found by
//! OpenKAT's variable names. Built-in boefjes and the plugin folders of
//! `KATALOGUS_PLUGIN_DIR` (the same tree the KATalogus loads) run here.
//!
//! SIGTERM or SIGINT stops it gracefully: it pops nothing more, lets the
//! running jobs finish (each bounded by its timeout) and exits 0. A runner
//! killed outright leaves its tasks leased; the scheduler hands them to
//! another runner when the leases run out.

use std::sync::Arc;

use anyhow::Context;
use kat_boefje_runner::{Pool, PoolConfig};
use kat_bytes::client::BytesClient;
use kat_core::config::{get, ConfigError};
use kat_katalogus::KatalogusClient;
use kat_scheduler::SchedulerClient;

use crate::embedded::RunnerSetup;

/// The variables this service reads, for `--help`.
pub const HELP: &str = "Environment: SCHEDULER_API (required, e.g. http://127.0.0.1:8004) with SCHEDULER_API_TOKEN, \
BYTES_API (required) with BYTES_USERNAME and BYTES_PASSWORD (required), KATALOGUS_API (required) with KATALOGUS_API_TOKEN, \
BOEFJES_POOL_SIZE (jobs at once, 1-1024, default 8), BOEFJES_POOL_FILTER_PLUGINS (comma-separated boefje ids to run; default all), \
BOEFJES_POOL_FILTER_IMAGES (comma-separated oci_images to run; default all), \
KATALOGUS_PLUGIN_DIR (plugin folders whose `run` programs run here), BOEFJES_JOB_TIMEOUT (seconds, default 3600), \
BOEFJES_MAX_OUTPUT (bytes, default 64 MiB), BOEFJES_MEMORY_LIMIT (bytes, default none), BOEFJES_API / BOEFJES_API_BIND \
(where boefje-api plugins and container pods reach this runner), BOEFJES_RUNTIME (local, or kubernetes: oci_image \
plugins run as Jobs) with BOEFJES_K8S_NAMESPACE, BOEFJES_K8S_RESOURCES (XS..XXL, default S), BOEFJES_K8S_CPU, BOEFJES_K8S_MEMORY, \
BOEFJES_K8S_TTL (seconds, default 600), BOEFJES_RUNNER_ID (default the host name) and KUBECONFIG, BOEFJE_<KEY> (a default for a boefje's setting KEY), \
BOEFJES_HEALTH_BIND (e.g. 0.0.0.0:8007: GET /health reports the scheduler, Bytes and the KATalogus, 503 while one is down; unset: none). \
SIGTERM: no more pops, running jobs finish, exit 0.";

const SERVICE: &str = "boefje runner";

/// Where the runner answers `GET /health` (unset: it serves no `/health`).
pub const ENV_HEALTH_BIND: &str = "BOEFJES_HEALTH_BIND";

/// Where the other services are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `SCHEDULER_API` and `SCHEDULER_API_TOKEN`.
    pub scheduler: (String, Option<String>),
    /// `BYTES_API`, `BYTES_USERNAME`, `BYTES_PASSWORD`.
    pub bytes: (String, String, String),
    /// `KATALOGUS_API` and `KATALOGUS_API_TOKEN`.
    pub katalogus: (String, Option<String>),
}

/// The value of `name`, which `service` cannot do without.
pub(crate) fn required(lookup: &impl Fn(&str) -> Option<String>, name: &str, example: &str, service: &str) -> Result<String, ConfigError> {
    get(lookup, name).ok_or_else(|| ConfigError(format!("{name} is not set: the {service} needs it (e.g. {name}={example})")))
}

impl Endpoints {
    /// Read the endpoints; a missing one is a configuration error naming it.
    pub fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<Endpoints, ConfigError> {
        Self::for_user(lookup, SERVICE)
    }

    /// Read the endpoints for `user` (named in the error when one is missing, e.g. `kat scan --api`).
    pub fn for_user(lookup: &impl Fn(&str) -> Option<String>, user: &str) -> Result<Endpoints, ConfigError> {
        Ok(Endpoints {
            scheduler: (required(lookup, "SCHEDULER_API", "http://127.0.0.1:8004", user)?, get(lookup, "SCHEDULER_API_TOKEN")),
            bytes: (required(lookup, "BYTES_API", "http://127.0.0.1:8002", user)?, required(lookup, "BYTES_USERNAME", "bytes", user)?, required(lookup, "BYTES_PASSWORD", "...", user)?),
            katalogus: (required(lookup, "KATALOGUS_API", "http://127.0.0.1:8003", user)?, get(lookup, "KATALOGUS_API_TOKEN")),
        })
    }
}

/// Run the boefje runner from the process environment until SIGTERM or SIGINT.
pub fn run() -> anyhow::Result<()> {
    let lookup = |name: &str| std::env::var(name).ok();
    let endpoints = Endpoints::from_vars(&lookup)?;
    let pool_config = PoolConfig::from_vars(&lookup)?;
    let health_bind = crate::runner_health::bind_from_env(ENV_HEALTH_BIND)?;
    tokio::runtime::Runtime::new().context("starting the async runtime")?.block_on(async {
        if let Some(bind) = health_bind {
            use crate::runner_health::service_check;
            let checks = vec![("scheduler", service_check(&endpoints.scheduler.0)), ("bytes", service_check(&endpoints.bytes.0)), ("katalogus", service_check(&endpoints.katalogus.0))];
            crate::runner_health::spawn("boefje-runner", bind, checks).await?;
        }
        let setup = RunnerSetup::from_env(&crate::embedded::plugin_repository()).await?;
        let scheduler = Arc::new(SchedulerClient::new(&endpoints.scheduler.0, endpoints.scheduler.1.clone()));
        let bytes = Arc::new(BytesClient::new(&endpoints.bytes.0, &endpoints.bytes.1, &endpoints.bytes.2));
        let katalogus = Arc::new(KatalogusClient::new(&endpoints.katalogus.0, endpoints.katalogus.1.clone()));
        let runner = setup.runner(bytes, katalogus, std::env::vars().collect());
        eprintln!("boefje-runner: {} jobs at once, popping from {}", pool_config.size, endpoints.scheduler.0);
        if let Some(kubernetes) = &setup.kubernetes {
            eprintln!("boefje-runner: container plugins run as Jobs in namespace {} (runner id {})", kubernetes.namespace(), kubernetes.config().runner_id);
        }
        let stats = Pool::new(Arc::new(runner), scheduler, pool_config).run(stop_signal()).await?;
        eprintln!("boefje-runner: stopped after {} job(s) ({} failed, {} errors)", stats.run, stats.failed, stats.errors);
        Ok(())
    })
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM ({e}); stop with SIGINT");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("boefje-runner: stopping: no more pops, waiting for the running jobs");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_required_and_named() {
        let full = [("SCHEDULER_API", "http://s"), ("BYTES_API", "http://b"), ("BYTES_USERNAME", "u"), ("BYTES_PASSWORD", "p"), ("KATALOGUS_API", "http://k")];
        let lookup = kat_core::config::from_pairs(&full);
        let endpoints = Endpoints::from_vars(&lookup).expect("complete");
        assert_eq!(endpoints.bytes, ("http://b".into(), "u".into(), "p".into()));
        for (missing, _) in full {
            let pairs: Vec<(&str, &str)> = full.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = Endpoints::from_vars(&kat_core::config::from_pairs(&pairs)).expect_err(missing);
            assert!(err.to_string().starts_with(&format!("{missing} is not set")), "{err}");
        }
    }
}
