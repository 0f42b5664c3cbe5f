//! `LocalScheduler`: the scheduler in process, on a database URL, with a
//! clock and a KATalogus handed in (so `kat scan`, the `scheduler` service
//! and `kat bench scheduler` build the same thing). It implements
//! `kat_core::services::scheduler::Scheduler`; the REST API and the
//! background loops (`serve`) call it too.
//!
//! Pushes come in two kinds: user pushes ([`Scheduler::push`]: REST push,
//! `kat scan` declarations), which rank first and skip the grace period,
//! and rule pushes ([`LocalScheduler::rule_push`]: subscriptions and
//! schedules), ranked and held back by `ranker`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kat_core::events::RawFileReceived;
use kat_core::services::katalogus::Katalogus;
use kat_core::services::scheduler::{Filter, NewTask, ObjectState, OpenCount, Page, Pushed, Scheduler, TaskPatch, TaskQuery, TaskType};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::{BoefjeTask, NormalizerTask, Task};
use kat_core::Reference;
use serde_json::Value;
use sqlx::AnyConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::{micros, Clock};
use crate::filters::FilterSet;
use crate::hash::task_hash;
use crate::leases::{Expired, LeaseRules};
use crate::ranker::{self, GraceRules, Held};
use crate::store::tasks::{self, Insert};
use crate::store::{db_error, Origin, Store, TaskRow};

/// The rules a scheduler runs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `SCHEDULER_LEASE_SECONDS` (default 60 s).
    pub lease: Duration,
    /// `SCHEDULER_MAX_ATTEMPTS` (default 3).
    pub max_attempts: u32,
    /// `SCHEDULER_GRACE_PERIOD` (default 86400 s).
    pub grace: Duration,
    /// Hold back reruns of work finished at or after this time (`kat scan` sets its start).
    pub rerun_epoch: Option<OffsetDateTime>,
    /// Queue every status change for `SCHEDULER_WEBHOOK_URL`.
    pub webhook: bool,
    /// How long to wait for a PostgreSQL that is starting.
    pub db_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { lease: Duration::from_secs(60), max_attempts: 3, grace: Duration::from_secs(86_400), rerun_epoch: None, webhook: false, db_wait: Duration::from_secs(60) }
    }
}

impl Settings {
    /// The lease rules.
    pub fn leases(&self) -> LeaseRules {
        LeaseRules { lease: self.lease, max_attempts: self.max_attempts }
    }

    /// The grace rules.
    pub fn grace_rules(&self) -> GraceRules {
        GraceRules { grace: self.grace, rerun_epoch: self.rerun_epoch }
    }
}

/// Counters of this process, for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Tasks handed to workers.
    pub pops: AtomicU64,
    /// Leases that ran out.
    pub lease_expiries: AtomicU64,
    /// Tasks created.
    pub created: AtomicU64,
    /// The `raw_file_received` consumer: 0 not running, 1 connected, 2 trying to reconnect.
    pub broker: std::sync::atomic::AtomicU8,
}

/// A rule push: a task the scheduler decided on itself.
#[derive(Debug, Clone)]
pub struct RulePush<'a> {
    /// Its queue.
    pub task_type: TaskType,
    /// Its organisation.
    pub organisation: &'a str,
    /// Its body (the id is set here).
    pub data: Value,
    /// Why.
    pub origin: Origin,
    /// The schedule it belongs to.
    pub schedule_id: Option<Uuid>,
}

/// What a rule push did.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleOutcome {
    /// Queued, or deduplicated into an unfinished task.
    Pushed(Pushed),
    /// Held back by the grace period.
    Held(Held),
}

struct Inner {
    store: Store,
    katalogus: Arc<dyn Katalogus>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    metrics: Metrics,
}

/// The scheduler in process.
#[derive(Clone)]
pub struct LocalScheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalScheduler").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

impl LocalScheduler {
    /// Open the scheduler on `url` (`sqlite://...?mode=rwc` or `postgres://...`), running migrations.
    pub async fn open(url: &str, settings: Settings, clock: Arc<dyn Clock>, katalogus: Arc<dyn Katalogus>) -> ServiceResult<LocalScheduler> {
        let mut store = Store::open(url, settings.db_wait).await?;
        store.webhook = settings.webhook;
        Ok(LocalScheduler { inner: Arc::new(Inner { store, katalogus, clock, settings, metrics: Metrics::default() }) })
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The KATalogus.
    pub fn katalogus(&self) -> &Arc<dyn Katalogus> {
        &self.inner.katalogus
    }

    /// The rules.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// This process's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Now, in microseconds.
    pub fn now(&self) -> i64 {
        micros(self.inner.clock.now())
    }

    fn count_expired(&self, expired: &[Expired]) {
        self.inner.metrics.lease_expiries.fetch_add(expired.len() as u64, Ordering::Relaxed);
        for e in expired {
            tracing::info!(task = %e.id, attempts = e.attempts, status = e.status.as_str(), "lease expired");
        }
    }

    /// Expire the leases that ran out (every replica runs this every few seconds).
    pub async fn sweep(&self) -> ServiceResult<Vec<Expired>> {
        let expired = self.inner.store.sweep_now(self.now(), self.inner.settings.max_attempts).await?;
        self.count_expired(&expired);
        Ok(expired)
    }

    /// Pop with a full filter set (`and`, `or`, `not`).
    pub async fn pop_matching(&self, task_type: TaskType, filters: &FilterSet, limit: usize) -> ServiceResult<Vec<Task>> {
        let (rows, expired) = self.inner.store.pop(task_type, filters, limit, self.now(), self.inner.settings.leases()).await?;
        self.count_expired(&expired);
        self.inner.metrics.pops.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(rows.into_iter().map(|r| r.task).collect())
    }

    /// List with a full filter set.
    pub async fn list_matching(&self, query: &TaskQuery, filters: &FilterSet) -> ServiceResult<Page<Task>> {
        let page = self.inner.store.list(query, filters).await?;
        Ok(Page { count: page.count, results: page.results.into_iter().map(|r| r.task).collect() })
    }

    /// A task with its lease, attempts and reason.
    pub async fn task_row(&self, id: Uuid) -> ServiceResult<TaskRow> {
        self.inner.store.task(id).await
    }

    /// Queue a task the scheduler decided on, inside the caller's transaction: deduplicated into an unfinished
    /// task with the same hash, held back by the grace period, ranked by `ranker`.
    pub async fn rule_push(&self, conn: &mut AnyConnection, push: RulePush<'_>) -> ServiceResult<RuleOutcome> {
        let hash = task_hash(push.task_type, push.organisation, &push.data)?;
        if let Some(open) = tasks::find_open(conn, &hash).await? {
            return Ok(RuleOutcome::Pushed(Pushed { task: open.task, created: false }));
        }
        let now = self.inner.clock.now();
        let last = tasks::last_finished(conn, &hash).await?.and_then(|t| t.finished_at);
        if let Err(held) = self.inner.settings.grace_rules().check(push.origin, last, now) {
            return Ok(RuleOutcome::Held(held));
        }
        let priority = ranker::priority(push.origin, None, last);
        self.insert(conn, push.task_type, push.organisation, push.data, &hash, priority, push.origin, push.schedule_id).await.map(RuleOutcome::Pushed)
    }

    /// Insert a task (its body gets the task id), or return the unfinished twin that won a race.
    #[allow(clippy::too_many_arguments, reason = "the columns of one row")]
    async fn insert(&self, conn: &mut AnyConnection, task_type: TaskType, organisation: &str, mut data: Value, hash: &str, priority: i64, origin: Origin, schedule_id: Option<Uuid>) -> ServiceResult<Pushed> {
        let id = data.get("id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()).unwrap_or_else(Uuid::now_v7);
        if let Value::Object(map) = &mut data {
            map.insert("id".into(), Value::String(id.to_string()));
        }
        let insert = Insert { id, task_type, schedule_id, organisation, priority, hash, data: &data, origin, now: self.now() };
        match tasks::insert(conn, self.inner.store.webhook, &insert).await? {
            Some(row) => {
                self.inner.metrics.created.fetch_add(1, Ordering::Relaxed);
                Ok(Pushed { task: row.task, created: true })
            }
            None => match tasks::find_open(conn, hash).await? {
                Some(open) => Ok(Pushed { task: open.task, created: false }),
                None => Err(ServiceError::unavailable("the task changed while it was being pushed; try again")),
            },
        }
    }
}

/// A user push of boefje `boefje_id` on `input` for `organisation` (what `kat scan` queues for its targets).
pub fn boefje_push(organisation: &str, boefje_id: &str, input: &Reference) -> NewTask {
    let data = serde_json::json!({"boefje": {"id": boefje_id, "version": null}, "input_ooi": input.as_str(), "organization": organisation});
    NewTask { task_type: TaskType::Boefje, organisation: organisation.to_string(), priority: None, data }
}

/// Refuse a task body that does not fit its queue, naming the field (mula: "malformed item").
pub fn check_body(task_type: TaskType, data: &Value) -> ServiceResult<()> {
    let shape = match task_type {
        TaskType::Boefje => serde_path_to_error::deserialize::<_, BoefjeTask>(with_id(data)).map(|_| ()),
        TaskType::Normalizer => serde_path_to_error::deserialize::<_, NormalizerTask>(with_id(data)).map(|_| ()),
    };
    shape.map_err(|e| {
        let path = e.path().to_string();
        let mut field = if path == "." { "data".to_string() } else { format!("data.{path}") };
        // serde names a missing field only in its message: name it in the path too.
        if let Some(missing) = e.inner().to_string().strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
            field = format!("{field}.{missing}");
        }
        ServiceError::invalid(format!("malformed item: {field}: {} (the body must be a {} task)", e.inner(), task_type.as_str())).with_field(field)
    })
}

/// The body with an `id` (a push may leave it out; the scheduler sets it).
fn with_id(data: &Value) -> Value {
    let mut data = data.clone();
    if let Value::Object(map) = &mut data
        && map.get("id").and_then(Value::as_str).is_none_or(|s| Uuid::parse_str(s).is_err())
    {
        map.insert("id".into(), Value::String(Uuid::nil().to_string()));
    }
    data
}

#[async_trait]
impl Scheduler for LocalScheduler {
    async fn push(&self, task: NewTask) -> ServiceResult<Pushed> {
        kat_core::ids::check_organisation_id(&task.organisation, "organisation")?;
        if let Some(path) = kat_core::ids::find_nul(&task.data) {
            return Err(ServiceError::invalid(format!("data.{path} must not contain a NUL character")).with_field(format!("data.{path}")));
        }
        check_body(task.task_type, &task.data)?;
        let hash = task_hash(task.task_type, &task.organisation, &task.data)?;
        let schedule_id = self.inner.store.schedule_by_hash(&hash).await?.map(|s| s.schedule.id);
        let priority = ranker::priority(Origin::User, task.priority, None);
        let mut tx = self.inner.store.begin().await?;
        let pushed = match tasks::find_open(&mut tx, &hash).await? {
            Some(open) => Pushed { task: open.task, created: false },
            None => self.insert(&mut tx, task.task_type, &task.organisation, task.data, &hash, priority, Origin::User, schedule_id).await?,
        };
        tx.commit().await.map_err(db_error)?;
        Ok(pushed)
    }

    async fn pop(&self, task_type: TaskType, filters: &[Filter], limit: usize) -> ServiceResult<Vec<Task>> {
        self.pop_matching(task_type, &FilterSet::all(filters), limit).await
    }

    async fn patch(&self, id: Uuid, patch: TaskPatch) -> ServiceResult<Task> {
        Ok(self.inner.store.patch(id, &patch, self.now(), self.inner.settings.leases()).await?.task)
    }

    async fn heartbeat(&self, id: Uuid) -> ServiceResult<Task> {
        Ok(self.inner.store.heartbeat(id, self.now(), self.inner.settings.leases()).await?.task)
    }

    async fn get(&self, id: Uuid) -> ServiceResult<Task> {
        Ok(self.inner.store.task(id).await?.task)
    }

    async fn list(&self, query: &TaskQuery) -> ServiceResult<Page<Task>> {
        self.list_matching(query, &FilterSet::default()).await
    }

    async fn raw_file_received(&self, event: &RawFileReceived) -> ServiceResult<Vec<Pushed>> {
        self.on_raw_file(event).await
    }

    async fn objects_changed(&self, organisation: &str, saved: &[ObjectState], deleted: &[Reference]) -> ServiceResult<Vec<Pushed>> {
        self.on_objects(organisation, saved, deleted).await
    }

    async fn open_count(&self) -> ServiceResult<OpenCount> {
        self.inner.store.open_count().await
    }
}
