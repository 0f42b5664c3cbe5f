//! `kat scan --api`: the scan of `kat scan`, run by services that are already
//! running (DESIGN.md section 2, distributed): this process only declares the
//! targets and watches. It reaches the KATalogus (`KATALOGUS_API`), the
//! scheduler (`SCHEDULER_API`) and Bytes (`BYTES_API`) over HTTP, and the
//! graph the normalizer runners save into (`KAT_GRAPH_URI`, a Bolt server).
//!
//! 1. The organisation is created when the KATalogus does not know it, and
//!    then every boefje is enabled for it (boefjes are off by default, as in
//!    OpenKAT; an organisation that exists keeps its own choices).
//! 2. The targets are declared with [`crate::pipeline::declare_objects`], the
//!    same function the embedded pipeline uses.
//! 3. The scan waits until the pipeline is quiet: no task open in the
//!    scheduler and no event waiting in Bytes' outbox, both for `--settle`
//!    (default [`SETTLE`]) in a row (an event on its way through RabbitMQ is
//!    in neither count for a moment; the settle time covers that hand-over).
//! 4. It prints the object tree and the tasks of this organisation that
//!    finished since the scan started, naming the failed ones.

use std::time::Duration;

use anyhow::Context;
use kat_bytes::client::BytesClient;
use kat_core::services::scheduler::{Scheduler, TaskQuery};
use kat_core::task::{Task, TaskStatus};
use kat_graph::{Graph, GraphLocation};
use kat_katalogus::KatalogusClient;
use kat_scheduler::SchedulerClient;
use time::OffsetDateTime;

use crate::boefje_runner_service::Endpoints;
use crate::pipeline::{boefje_label, normalizer_label, FailedTask, RunSummary};

/// How long the pipeline must stay quiet before the scan counts as done, by default (`--settle`).
pub const SETTLE: Duration = Duration::from_secs(2);

/// How often the scan looks at the services while it waits.
const POLL: Duration = Duration::from_millis(250);

/// The variables `kat scan --api` reads, for `--help`.
pub const HELP: &str = "With --api: SCHEDULER_API, KATALOGUS_API and BYTES_API (with SCHEDULER_API_TOKEN, KATALOGUS_API_TOKEN, \
BYTES_USERNAME, BYTES_PASSWORD) name the running services, and KAT_GRAPH_URI (bolt://..., with NEO4J_USER and NEO4J_PASSWORD) the \
graph the normalizer runners save into.";

/// The running services a distributed scan talks to.
pub struct Remote {
    /// The KATalogus over HTTP.
    pub katalogus: KatalogusClient,
    /// The scheduler over HTTP.
    pub scheduler: SchedulerClient,
    /// Bytes over HTTP (for its outbox gauge).
    pub bytes: BytesClient,
    /// The shared graph.
    pub graph: Graph,
}

impl Remote {
    /// Connect to the services the environment names (a missing variable is an error naming it).
    pub async fn from_env() -> anyhow::Result<Remote> {
        let lookup = |name: &str| std::env::var(name).ok();
        let endpoints = Endpoints::for_user(&lookup, "`kat scan --api`")?;
        let location = crate::embedded::graph_location(std::path::Path::new("."))?;
        if !matches!(location, GraphLocation::Bolt { .. }) {
            anyhow::bail!("KAT_GRAPH_URI must name the Bolt graph the normalizer runners save into (e.g. KAT_GRAPH_URI=bolt://127.0.0.1:7687): `kat scan --api` declares its targets there");
        }
        let graph = Graph::connect(&location).await.with_context(|| format!("opening the graph {location}; is the Bolt server running, and are NEO4J_USER and NEO4J_PASSWORD right?"))?;
        Ok(Remote {
            katalogus: KatalogusClient::new(&endpoints.katalogus.0, endpoints.katalogus.1),
            scheduler: SchedulerClient::new(&endpoints.scheduler.0, endpoints.scheduler.1),
            bytes: BytesClient::new(&endpoints.bytes.0, &endpoints.bytes.1, &endpoints.bytes.2),
            graph,
        })
    }

    /// Make sure `organisation` exists; when this creates it, enable every boefje for it. Returns the boefjes
    /// enabled here.
    pub async fn prepare(&self, organisation: &str) -> anyhow::Result<Vec<String>> {
        use kat_core::services::katalogus::Katalogus;
        if !self.katalogus.ensure_organisation(organisation, organisation).await? {
            return Ok(Vec::new());
        }
        let mut enabled = Vec::new();
        for boefje in self.katalogus.boefjes(organisation).await? {
            self.katalogus.set_enabled(organisation, &boefje.manifest.id, true).await?;
            enabled.push(boefje.manifest.id);
        }
        Ok(enabled)
    }

    /// Wait until no task is open and no event waits in Bytes' outbox, for `settle` in a row; `progress`
    /// gets the open task count at every look.
    pub async fn wait_until_quiet(&self, settle: Duration, progress: &mut dyn FnMut(i64)) -> anyhow::Result<()> {
        let mut quiet_since: Option<tokio::time::Instant> = None;
        loop {
            let open = self.scheduler.open_count().await?.total();
            let pending = self.bytes.outbox_pending().await?;
            progress(open + i64::try_from(pending).unwrap_or(i64::MAX));
            if open == 0 && pending == 0 {
                let since = *quiet_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= settle {
                    return Ok(());
                }
            } else {
                quiet_since = None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The tasks of `organisation` that reached a final state since `started`, as a run summary.
    pub async fn summary_since(&self, organisation: &str, started: OffsetDateTime) -> anyhow::Result<RunSummary> {
        let mut summary = RunSummary::default();
        let mut offset = 0;
        loop {
            let query = TaskQuery { organisation: Some(organisation.to_string()), offset, limit: 500, ..TaskQuery::default() };
            let page = self.scheduler.list(&query).await?;
            for task in page.results.iter().filter(|t| t.modified_at >= started && t.status.is_terminal()) {
                count(&mut summary, task);
            }
            offset += i64::try_from(page.results.len()).unwrap_or(i64::MAX);
            if page.results.is_empty() || offset >= page.count {
                return Ok(summary);
            }
        }
    }
}

/// Count one finished task into `summary`.
fn count(summary: &mut RunSummary, task: &Task) {
    let boefje = task.task_type == "boefje";
    if boefje {
        summary.boefje_tasks += 1;
    } else {
        summary.normalizer_tasks += 1;
    }
    if task.status != TaskStatus::Completed {
        let (label, _) = if boefje { boefje_label(task) } else { normalizer_label(task) };
        let error = format!("{} (the scheduler's GET /tasks/{}/events tells more)", task.status.as_str(), task.id);
        summary.failed.push(FailedTask { task_id: task.id, label, error });
    }
}
