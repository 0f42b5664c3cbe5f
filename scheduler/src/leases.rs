//! Leases: a popped task belongs to its worker until `lease_until`.
//!
//! - [`Store::pop`] claims up to `limit` queued tasks in one statement
//!   (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent pops never wait for
//!   or collide with each other; SQLite: inside a `BEGIN IMMEDIATE`
//!   transaction, the one writer) and sets `dispatched` with
//!   `lease_until = now + lease`.
//! - [`Store::patch`] moves a task along `TaskStatus::can_become` (409
//!   otherwise); a move to `running`, a repeated `running`, and
//!   [`Store::heartbeat`] renew the lease.
//! - [`Store::sweep`] expires leases in the database with one `UPDATE` per
//!   leased status, so two replicas never both act on one expiry: the task
//!   goes back to `queued` with `attempts + 1`, or to `failed` with the
//!   reason "lease expired N times" once the attempts reach the budget. It
//!   runs inside a pop (at most once a second per process) and on a timer in
//!   every replica.

use std::time::Duration;

use kat_core::services::scheduler::{TaskPatch, TaskType};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::TaskStatus;
use kat_core::ErrorKind;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::clock::duration_micros;
use crate::events;
use crate::filters::{FilterSet, Sql};
use crate::store::{db_error, task_row, Store, TaskRow, TASK_COLUMNS};

/// How often a pop sweeps expired leases before it claims tasks (microseconds).
pub const SWEEP_EVERY_MICROS: i64 = 1_000_000;

/// The lease rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRules {
    /// How long a lease lasts without renewal (`SCHEDULER_LEASE_SECONDS`).
    pub lease: Duration,
    /// How many leases may run out before the task fails (`SCHEDULER_MAX_ATTEMPTS`).
    pub max_attempts: u32,
}

/// A task whose lease ran out, after the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The task.
    pub id: Uuid,
    /// Where it went: `queued` or `failed`.
    pub status: TaskStatus,
    /// How many leases of it have now run out.
    pub attempts: i64,
}

/// Expire the leases that ended before `now` (microseconds), inside the caller's transaction.
pub async fn sweep(store: &Store, conn: &mut AnyConnection, now: i64, max_attempts: u32) -> ServiceResult<Vec<Expired>> {
    let mut expired = Vec::new();
    for from in [TaskStatus::Dispatched, TaskStatus::Running] {
        let sql = format!(
            "UPDATE tasks SET attempts = attempts + 1, \
             status = CASE WHEN attempts + 1 >= $1 THEN 'failed' ELSE 'queued' END, \
             finished_at = CASE WHEN attempts + 1 >= $1 THEN $2 END, \
             reason = 'lease expired ' || CAST(attempts + 1 AS TEXT) || CASE WHEN attempts + 1 = 1 THEN ' time' ELSE ' times' END, \
             lease_until = NULL, modified_at = $2 \
             WHERE seq IN (SELECT seq FROM tasks WHERE status = $3 AND lease_until < $2{}) RETURNING id, status, attempts, reason",
            store.dialect.skip_locked
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(max_attempts)).bind(now).bind(from.as_str()).fetch_all(&mut *conn).await.map_err(db_error)?;
        for row in rows {
            let (id, status, attempts, reason): (String, String, i64, Option<String>) =
                (row.try_get(0).map_err(db_error)?, row.try_get(1).map_err(db_error)?, row.try_get(2).map_err(db_error)?, row.try_get(3).map_err(db_error)?);
            let id = Uuid::parse_str(&id).map_err(|_| ServiceError::internal("a stored task has a corrupt id"))?;
            let status = TaskStatus::parse(&status).unwrap_or(TaskStatus::Failed);
            events::record(conn, store.webhook, id, now, Some(from), status, reason.as_deref()).await?;
            expired.push(Expired { id, status, attempts });
        }
    }
    Ok(expired)
}

impl Store {
    /// Expire the leases that ended before `now` in a transaction of its own.
    pub async fn sweep_now(&self, now: i64, max_attempts: u32) -> ServiceResult<Vec<Expired>> {
        let mut tx = self.begin().await?;
        let expired = sweep(self, &mut tx, now, max_attempts).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(expired)
    }

    /// Claim up to `limit` queued tasks of `task_type` matching `filters`, best first; also returns the leases
    /// that this call expired.
    pub async fn pop(&self, task_type: TaskType, filters: &FilterSet, limit: usize, now: i64, rules: LeaseRules) -> ServiceResult<(Vec<TaskRow>, Vec<Expired>)> {
        let mut conditions = Sql::default();
        conditions.push_text_eq("scheduler_id", task_type.as_str());
        conditions.push_text_eq("status", "queued");
        filters.to_sql(self.dialect, crate::filters::TASK_COLUMNS, &mut conditions)?;
        // A pop sweeps expired leases first, at most once a second per process (every replica's sweeper loop
        // runs too), so a busy queue does not pay two extra statements on every pop.
        let last = self.last_sweep.load(std::sync::atomic::Ordering::Relaxed);
        let sweep_due = now.saturating_sub(last) >= SWEEP_EVERY_MICROS || now < last;
        if sweep_due {
            self.last_sweep.store(now, std::sync::atomic::Ordering::Relaxed);
        }
        let limit = i64::try_from(limit.clamp(1, 10_000)).unwrap_or(1);
        let store = self.clone();
        self.write(Box::new(move |conn| {
            let (store, conditions) = (store.clone(), conditions.clone());
            Box::pin(async move { store.pop_in(conn, &conditions, sweep_due, limit, now, rules).await })
        }))
        .await
    }

    /// The statements of a pop, in the caller's transaction.
    async fn pop_in(&self, conn: &mut AnyConnection, conditions: &Sql, sweep_due: bool, limit: i64, now: i64, rules: LeaseRules) -> ServiceResult<(Vec<TaskRow>, Vec<Expired>)> {
        let expired = if sweep_due { sweep(self, conn, now, rules.max_attempts).await? } else { Vec::new() };
        let n = conditions.count();
        let sql = format!(
            "UPDATE tasks SET status = 'dispatched', lease_until = ${}, modified_at = ${} WHERE seq IN \
             (SELECT seq FROM tasks WHERE {} ORDER BY priority, seq LIMIT ${}{}) RETURNING {TASK_COLUMNS}",
            n + 1,
            n + 2,
            conditions.text(),
            n + 3,
            self.dialect.skip_locked
        );
        let rows = conditions.bind(sqlx::query(sqlx::AssertSqlSafe(sql))).bind(now + duration_micros(rules.lease)).bind(now).bind(limit).fetch_all(&mut *conn).await.map_err(db_error)?;
        let mut tasks = rows.iter().map(task_row).collect::<ServiceResult<Vec<_>>>()?;
        tasks.sort_by_key(|t| (t.task.priority, t.task.created_at));
        for t in &tasks {
            events::record(conn, self.webhook, t.task.id, now, Some(TaskStatus::Queued), TaskStatus::Dispatched, None).await?;
        }
        Ok((tasks, expired))
    }

    /// Apply `patch` to task `id` at `now`.
    pub async fn patch(&self, id: Uuid, patch: &TaskPatch, now: i64, rules: LeaseRules) -> ServiceResult<TaskRow> {
        let Some(next) = patch.status else { return Err(ServiceError::invalid("no data to patch").with_field("status")) };
        if let Some(reason) = &patch.reason {
            kat_core::ids::check_text(reason, "reason")?;
        }
        let (store, reason) = (self.clone(), patch.reason.clone());
        self.write(Box::new(move |conn| {
            let (store, reason) = (store.clone(), reason.clone());
            Box::pin(async move { store.patch_in(conn, id, next, reason, now, rules).await })
        }))
        .await
    }

    /// The statements of a patch to `next`, in the caller's transaction.
    async fn patch_in(&self, conn: &mut AnyConnection, id: Uuid, next: TaskStatus, reason: Option<String>, now: i64, rules: LeaseRules) -> ServiceResult<TaskRow> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1{}", self.dialect.lock_row);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(db_error)?;
        let current = row.as_ref().map(task_row).transpose()?.ok_or_else(|| ServiceError::not_found(format!("task not found, by task_id: {id}")).with_field("task_id"))?;
        let from = current.task.status;
        let renewal = from == next && next == TaskStatus::Running;
        if !renewal && !from.can_become(next) {
            return Err(ServiceError::new(ErrorKind::Conflict, format!("task {id} is {}; it cannot become {}", from.as_str(), next.as_str())).with_field("status"));
        }
        let lease_until = next.is_leased().then(|| now + duration_micros(rules.lease));
        let finished_at = next.is_terminal().then_some(now);
        let sql = format!("UPDATE tasks SET status = $1, lease_until = $2, finished_at = $3, reason = COALESCE($4, reason), modified_at = $5 WHERE id = $6 RETURNING {TASK_COLUMNS}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(next.as_str())
            .bind(lease_until)
            .bind(finished_at)
            .bind(reason.clone())
            .bind(now)
            .bind(id.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        if !renewal {
            events::record(conn, self.webhook, id, now, Some(from), next, reason.as_deref()).await?;
        }
        task_row(&row)
    }

    /// Renew the lease of a dispatched or running task.
    pub async fn heartbeat(&self, id: Uuid, now: i64, rules: LeaseRules) -> ServiceResult<TaskRow> {
        let sql = format!("UPDATE tasks SET lease_until = $1 WHERE id = $2 AND status IN ('dispatched', 'running') RETURNING {TASK_COLUMNS}");
        let row = self
            .write(Box::new(move |conn| {
                let sql = sql.clone();
                Box::pin(async move { sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now + duration_micros(rules.lease)).bind(id.to_string()).fetch_optional(conn).await.map_err(db_error) })
            }))
            .await?;
        match row {
            Some(row) => task_row(&row),
            None => {
                let task = self.task(id).await?;
                Err(ServiceError::new(ErrorKind::Conflict, format!("task {id} is {}; only a dispatched or running task holds a lease", task.task.status.as_str())).with_field("status"))
            }
        }
    }
}
