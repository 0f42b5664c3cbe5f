//! The task event log (secator's hooks, as a service): every status change
//! of a task is a row of `task_events` (task, time, from, to, reason),
//! written in the same transaction as the change, listed by
//! `GET /tasks/{id}/events`. Events are indexed by the task's sequence
//! number (`task_seq`), not its random id, so the events of tasks popped
//! together share index pages instead of each writing a page of its own.
//!
//! With `SCHEDULER_WEBHOOK_URL` set, each event is also queued in
//! `webhook_outbox` (same transaction) and a background [`Webhook`] POSTs it
//! as JSON: at least once, in order per batch, retried with exponential
//! backoff (1 s doubling up to 5 minutes) while the receiver fails. A
//! replica claims a batch in the database before sending it, so two
//! replicas rarely send the same event twice. Delivery never blocks a pop
//! or a patch: they only insert a row.

use std::sync::Arc;
use std::time::Duration;

use kat_core::services::ServiceResult;
use kat_core::task::TaskStatus;
use serde::Serialize;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::{from_micros, micros, Clock};
use crate::filters::Bind;
use crate::store::exec::{Columns, Exec};
use crate::store::{db_error, Store};

/// One status change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TaskEvent {
    /// Its place in the log (increasing).
    pub seq: i64,
    /// The task.
    #[schema(value_type = String)]
    pub task_id: Uuid,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub at: OffsetDateTime,
    /// The status before (none for a new task).
    pub from: Option<String>,
    /// The status after.
    pub to: String,
    /// Why, when known (the task's origin for a new task, a worker's message, "lease expired N times").
    pub reason: Option<String>,
}

/// Append a status change of `task_id` to the log (and the webhook outbox when `webhook`).
pub async fn record(conn: &mut impl Exec, webhook: bool, task_id: Uuid, at: i64, from: Option<TaskStatus>, to: TaskStatus, reason: Option<&str>) -> ServiceResult<()> {
    let binds = [Bind::Text(task_id.to_string()), Bind::Int(at), Bind::OptText(from.map(|f| f.as_str().to_string())), Bind::Text(to.as_str().to_string()), Bind::OptText(reason.map(str::to_string))];
    let rows = conn.rows("INSERT INTO task_events (task_id, task_seq, at, from_status, to_status, reason) VALUES ($1, (SELECT seq FROM tasks WHERE id = $1), $2, $3, $4, $5) RETURNING seq", &binds).await?;
    if webhook {
        let seq = rows.first().map(|r| r.int(0)).transpose()?.ok_or_else(|| kat_core::services::ServiceError::internal("the event log returned no sequence number"))?;
        conn.rows("INSERT INTO webhook_outbox (event_seq, attempts, next_at) VALUES ($1, 0, $2)", &[Bind::Int(seq), Bind::Int(at)]).await?;
    }
    Ok(())
}

const EVENT_COLUMNS: &str = "e.seq, e.task_id, e.at, e.from_status, e.to_status, e.reason";

fn event(row: &sqlx::any::AnyRow) -> ServiceResult<TaskEvent> {
    let task_id: String = row.try_get(1).map_err(db_error)?;
    Ok(TaskEvent {
        seq: row.try_get(0).map_err(db_error)?,
        task_id: Uuid::parse_str(&task_id).map_err(|_| kat_core::services::ServiceError::internal("a stored event has a corrupt task id"))?,
        at: from_micros(row.try_get(2).map_err(db_error)?),
        from: row.try_get(3).map_err(db_error)?,
        to: row.try_get(4).map_err(db_error)?,
        reason: row.try_get(5).map_err(db_error)?,
    })
}

impl Store {
    /// The status changes of one task, oldest first.
    pub async fn events(&self, task_id: Uuid) -> ServiceResult<Vec<TaskEvent>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM task_events e WHERE e.task_seq = (SELECT seq FROM tasks WHERE id = $1) ORDER BY e.seq");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(task_id.to_string()).fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(event).collect()
    }
}

/// The JSON a webhook receives: the event plus the task's queue and organisation.
#[derive(Debug, Clone, Serialize)]
struct Delivery {
    #[serde(flatten)]
    event: TaskEvent,
    scheduler_id: Option<String>,
    organisation: Option<String>,
}

/// The longest wait between two tries of one event.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a claimed batch is reserved for the replica that claimed it.
const CLAIM: Duration = Duration::from_secs(30);

/// Delivers the outbox to `SCHEDULER_WEBHOOK_URL`.
#[derive(Debug, Clone)]
pub struct Webhook {
    store: Store,
    url: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl Webhook {
    /// A deliverer of `store`'s outbox to `url`.
    pub fn new(store: Store, url: &str, clock: Arc<dyn Clock>) -> Webhook {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Webhook { store, url: url.to_string(), http, clock }
    }

    /// Send the events that are due (at most `batch`); returns how many were delivered.
    pub async fn deliver_once(&self, batch: i64) -> ServiceResult<usize> {
        let now = micros(self.clock.now());
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, o.attempts, o.next_at, t.scheduler_id, t.organisation FROM webhook_outbox o JOIN task_events e ON e.seq = o.event_seq \
             LEFT JOIN tasks t ON t.id = e.task_id WHERE o.next_at <= $1 ORDER BY o.event_seq LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(batch).fetch_all(&self.store.pool).await.map_err(db_error)?;
        let mut delivered = 0;
        for row in &rows {
            let (attempts, next_at): (i64, i64) = (row.try_get(6).map_err(db_error)?, row.try_get(7).map_err(db_error)?);
            let event = event(row)?;
            // Claim the event: another replica that read the same row loses this update.
            let claimed = sqlx::query("UPDATE webhook_outbox SET next_at = $1 WHERE event_seq = $2 AND next_at = $3")
                .bind(now + crate::clock::duration_micros(CLAIM))
                .bind(event.seq)
                .bind(next_at)
                .execute(&self.store.pool)
                .await
                .map_err(db_error)?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            let seq = event.seq;
            let body = Delivery { event, scheduler_id: row.try_get(8).map_err(db_error)?, organisation: row.try_get(9).map_err(db_error)? };
            let ok = matches!(self.http.post(&self.url).json(&body).send().await, Ok(r) if r.status().is_success());
            if ok {
                sqlx::query("DELETE FROM webhook_outbox WHERE event_seq = $1").bind(seq).execute(&self.store.pool).await.map_err(db_error)?;
                delivered += 1;
            } else {
                let wait = Duration::from_secs(1u64 << attempts.clamp(0, 16)).min(MAX_BACKOFF);
                // The URL may hold credentials: log only the event.
                tracing::warn!(event = seq, attempts = attempts + 1, "webhook delivery failed; retrying in {} s", wait.as_secs());
                let retry_at = micros(self.clock.now()) + crate::clock::duration_micros(wait);
                sqlx::query("UPDATE webhook_outbox SET attempts = attempts + 1, next_at = $1 WHERE event_seq = $2").bind(retry_at).bind(seq).execute(&self.store.pool).await.map_err(db_error)?;
            }
        }
        Ok(delivered)
    }

    /// Deliver until the process ends, polling the outbox every `every`.
    pub async fn run(self, every: Duration) {
        loop {
            match self.deliver_once(100).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!("webhook delivery: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }
}
