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
//!
//! Pop, patch and heartbeat are [`LeaseWrite`]s: data that
//! [`Store::write`] runs in a transaction, on SQLite in the writer thread's
//! group commit (`store::writer`), so their statements here are written
//! once for both connection kinds (`store::exec`).

use std::time::Duration;

use kat_core::services::scheduler::{TaskPatch, TaskType};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::TaskStatus;
use kat_core::ErrorKind;
use uuid::Uuid;

use crate::clock::duration_micros;
use crate::events;
use crate::filters::{Bind, FilterSet, Sql};
use crate::store::exec::{Columns, Exec};
use crate::store::{db_error, task_row, Dialect, Store, TaskRow, TASK_COLUMNS};

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
pub async fn sweep(conn: &mut impl Exec, dialect: &Dialect, webhook: bool, now: i64, max_attempts: u32) -> ServiceResult<Vec<Expired>> {
    let mut expired = Vec::new();
    for from in [TaskStatus::Dispatched, TaskStatus::Running] {
        let sql = format!(
            "UPDATE tasks SET attempts = attempts + 1, \
             status = CASE WHEN attempts + 1 >= $1 THEN 'failed' ELSE 'queued' END, \
             finished_at = CASE WHEN attempts + 1 >= $1 THEN $2 END, \
             reason = 'lease expired ' || CAST(attempts + 1 AS TEXT) || CASE WHEN attempts + 1 = 1 THEN ' time' ELSE ' times' END, \
             lease_until = NULL, modified_at = $2 \
             WHERE seq IN (SELECT seq FROM tasks WHERE status = $3 AND lease_until < $2{}) RETURNING id, status, attempts, reason",
            dialect.skip_locked
        );
        let rows = conn.rows(&sql, &[Bind::Int(i64::from(max_attempts)), Bind::Int(now), Bind::Text(from.as_str().to_string())]).await?;
        for row in rows {
            let id = Uuid::parse_str(&row.text(0)?).map_err(|_| ServiceError::internal("a stored task has a corrupt id"))?;
            let status = TaskStatus::parse(&row.text(1)?).unwrap_or(TaskStatus::Failed);
            let (attempts, reason) = (row.int(2)?, row.opt_text(3)?);
            events::record(conn, webhook, id, now, Some(from), status, reason.as_deref()).await?;
            expired.push(Expired { id, status, attempts });
        }
    }
    Ok(expired)
}

/// A write of a task's lease, as data, so the SQLite writer thread and PostgreSQL run the same statements.
#[derive(Debug, Clone)]
pub enum LeaseWrite {
    /// Claim up to `limit` queued tasks matching `conditions` (first sweeping expired leases when `sweep`).
    Pop {
        /// The conditions, `$1` ... bound.
        conditions: Sql,
        /// Whether to sweep expired leases first.
        sweep: bool,
        /// The most tasks to claim.
        limit: i64,
    },
    /// Move task `id` to `next`, with an optional reason.
    Patch {
        /// The task.
        id: Uuid,
        /// The status it moves to.
        next: TaskStatus,
        /// The worker's message.
        reason: Option<String>,
    },
    /// Renew the lease of task `id`.
    Heartbeat {
        /// The task.
        id: Uuid,
    },
}

/// What a [`LeaseWrite`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseDone {
    /// The claimed tasks and the leases swept first.
    Popped(Vec<TaskRow>, Vec<Expired>),
    /// The task after the patch.
    Patched(TaskRow),
    /// The task after its lease was renewed; `None` when it holds no lease.
    Renewed(Option<TaskRow>),
}

/// Everything a [`LeaseWrite`] needs besides its connection.
#[derive(Debug, Clone, Copy)]
pub struct WriteContext {
    /// The backend's SQL differences.
    pub dialect: &'static Dialect,
    /// Whether events also go to the webhook outbox.
    pub webhook: bool,
    /// Now, in microseconds.
    pub now: i64,
    /// The lease rules.
    pub rules: LeaseRules,
}

impl LeaseWrite {
    /// Run the write's statements in the caller's transaction.
    pub async fn apply(&self, conn: &mut impl Exec, cx: WriteContext) -> ServiceResult<LeaseDone> {
        match self {
            LeaseWrite::Pop { conditions, sweep: due, limit } => {
                let expired = if *due { sweep(conn, cx.dialect, cx.webhook, cx.now, cx.rules.max_attempts).await? } else { Vec::new() };
                let n = conditions.count();
                let sql = format!(
                    "UPDATE tasks SET status = 'dispatched', lease_until = ${}, modified_at = ${} WHERE seq IN \
                     (SELECT seq FROM tasks WHERE {} ORDER BY priority, seq LIMIT ${}{}) RETURNING {TASK_COLUMNS}",
                    n + 1,
                    n + 2,
                    conditions.text(),
                    n + 3,
                    cx.dialect.skip_locked
                );
                let mut binds = conditions.binds().to_vec();
                binds.extend([Bind::Int(cx.now + duration_micros(cx.rules.lease)), Bind::Int(cx.now), Bind::Int(*limit)]);
                let rows = conn.rows(&sql, &binds).await?;
                let mut tasks = rows.iter().map(task_row).collect::<ServiceResult<Vec<_>>>()?;
                tasks.sort_by_key(|t| (t.task.priority, t.task.created_at));
                for t in &tasks {
                    events::record(conn, cx.webhook, t.task.id, cx.now, Some(TaskStatus::Queued), TaskStatus::Dispatched, None).await?;
                }
                Ok(LeaseDone::Popped(tasks, expired))
            }
            LeaseWrite::Patch { id, next, reason } => patch(conn, cx, *id, *next, reason.as_deref()).await.map(LeaseDone::Patched),
            LeaseWrite::Heartbeat { id } => {
                let sql = format!("UPDATE tasks SET lease_until = $1 WHERE id = $2 AND status IN ('dispatched', 'running') RETURNING {TASK_COLUMNS}");
                let rows = conn.rows(&sql, &[Bind::Int(cx.now + duration_micros(cx.rules.lease)), Bind::Text(id.to_string())]).await?;
                rows.first().map(task_row).transpose().map(LeaseDone::Renewed)
            }
        }
    }
}

/// The statements of a patch of task `id` to `next`.
async fn patch(conn: &mut impl Exec, cx: WriteContext, id: Uuid, next: TaskStatus, reason: Option<&str>) -> ServiceResult<TaskRow> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1{}", cx.dialect.lock_row);
    let rows = conn.rows(&sql, &[Bind::Text(id.to_string())]).await?;
    let current = rows.first().map(task_row).transpose()?.ok_or_else(|| ServiceError::not_found(format!("task not found, by task_id: {id}")).with_field("task_id"))?;
    let from = current.task.status;
    let renewal = from == next && next == TaskStatus::Running;
    if !renewal && !from.can_become(next) {
        return Err(ServiceError::new(ErrorKind::Conflict, format!("task {id} is {}; it cannot become {}", from.as_str(), next.as_str())).with_field("status"));
    }
    let lease_until = next.is_leased().then(|| cx.now + duration_micros(cx.rules.lease));
    let (sql, binds) = patch_statement(id, next, lease_until, next.is_terminal().then_some(cx.now), reason, cx.now);
    let rows = conn.rows(&sql, &binds).await?;
    let row = rows.first().map(task_row).transpose()?.ok_or_else(|| ServiceError::internal(format!("task {id} vanished during its patch")))?;
    if !renewal {
        events::record(conn, cx.webhook, id, cx.now, Some(from), next, reason).await?;
    }
    Ok(row)
}

/// The `UPDATE` of a patch. It sets only the columns the patch changes: SQLite rewrites every index on a
/// column named in `SET`, changed or not, and `finished_at` (set by a final status) is in the conditions of
/// both hash indexes; `reason` comes with few patches. Four texts at most, each prepared once.
fn patch_statement(id: Uuid, next: TaskStatus, lease_until: Option<i64>, finished_at: Option<i64>, reason: Option<&str>, now: i64) -> (String, Vec<Bind>) {
    let mut binds = vec![Bind::Text(id.to_string()), Bind::Text(next.as_str().to_string()), Bind::OptInt(lease_until), Bind::Int(now)];
    let mut set = String::from("status = $2, lease_until = $3, modified_at = $4");
    for (column, value) in [("finished_at", finished_at.map(Bind::Int)), ("reason", reason.map(|r| Bind::Text(r.to_string())))] {
        if let Some(value) = value {
            binds.push(value);
            set.push_str(&format!(", {column} = ${}", binds.len()));
        }
    }
    (format!("UPDATE tasks SET {set} WHERE id = $1 RETURNING {TASK_COLUMNS}"), binds)
}

impl Store {
    /// Expire the leases that ended before `now` in a transaction of its own.
    pub async fn sweep_now(&self, now: i64, max_attempts: u32) -> ServiceResult<Vec<Expired>> {
        let mut tx = self.begin().await?;
        let expired = sweep(&mut *tx, self.dialect, self.webhook, now, max_attempts).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(expired)
    }

    fn context(&self, now: i64, rules: LeaseRules) -> WriteContext {
        WriteContext { dialect: self.dialect, webhook: self.webhook, now, rules }
    }

    /// Claim up to `limit` queued tasks of `task_type` matching `filters`, best first; also returns the leases
    /// that this call expired.
    pub async fn pop(&self, task_type: TaskType, filters: &FilterSet, limit: usize, now: i64, rules: LeaseRules) -> ServiceResult<(Vec<TaskRow>, Vec<Expired>)> {
        let mut conditions = Sql::default();
        conditions.push_fixed_eq("scheduler_id", task_type.as_str());
        conditions.push_fixed_eq("status", TaskStatus::Queued.as_str());
        filters.to_sql(self.dialect, crate::filters::TASK_COLUMNS, &mut conditions)?;
        // A pop sweeps expired leases first, at most once a second per process (every replica's sweeper loop
        // runs too), so a busy queue does not pay two extra statements on every pop.
        let last = self.last_sweep.load(std::sync::atomic::Ordering::Relaxed);
        let sweep = now.saturating_sub(last) >= SWEEP_EVERY_MICROS || now < last;
        if sweep {
            self.last_sweep.store(now, std::sync::atomic::Ordering::Relaxed);
        }
        let limit = i64::try_from(limit.clamp(1, 10_000)).unwrap_or(1);
        match self.write(LeaseWrite::Pop { conditions, sweep, limit }, self.context(now, rules)).await? {
            LeaseDone::Popped(tasks, expired) => Ok((tasks, expired)),
            other => Err(unexpected(&other)),
        }
    }

    /// Apply `patch` to task `id` at `now`.
    pub async fn patch(&self, id: Uuid, patch: &TaskPatch, now: i64, rules: LeaseRules) -> ServiceResult<TaskRow> {
        let Some(next) = patch.status else { return Err(ServiceError::invalid("no data to patch").with_field("status")) };
        if let Some(reason) = &patch.reason {
            kat_core::ids::check_text(reason, "reason")?;
        }
        match self.write(LeaseWrite::Patch { id, next, reason: patch.reason.clone() }, self.context(now, rules)).await? {
            LeaseDone::Patched(row) => Ok(row),
            other => Err(unexpected(&other)),
        }
    }

    /// Renew the lease of a dispatched or running task.
    pub async fn heartbeat(&self, id: Uuid, now: i64, rules: LeaseRules) -> ServiceResult<TaskRow> {
        match self.write(LeaseWrite::Heartbeat { id }, self.context(now, rules)).await? {
            LeaseDone::Renewed(Some(row)) => Ok(row),
            LeaseDone::Renewed(None) => {
                let task = self.task(id).await?;
                Err(ServiceError::new(ErrorKind::Conflict, format!("task {id} is {}; only a dispatched or running task holds a lease", task.task.status.as_str())).with_field("status"))
            }
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(done: &LeaseDone) -> ServiceError {
    ServiceError::internal(format!("the database writer answered a different write: {done:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_sets_only_what_it_changes() {
        let id = Uuid::nil();
        let (running, binds) = patch_statement(id, TaskStatus::Running, Some(7), None, None, 5);
        assert!(running.starts_with("UPDATE tasks SET status = $2, lease_until = $3, modified_at = $4 WHERE id = $1"), "{running}");
        assert_eq!(binds.len(), 4);
        let (done, binds) = patch_statement(id, TaskStatus::Failed, None, Some(9), Some("boom"), 9);
        assert!(done.contains("modified_at = $4, finished_at = $5, reason = $6 WHERE"), "{done}");
        assert!(matches!(&binds[4..], [Bind::Int(9), Bind::Text(r)] if r == "boom"));
        let (reason_only, _) = patch_statement(id, TaskStatus::Queued, None, None, Some("handed back"), 1);
        assert!(reason_only.contains("modified_at = $4, reason = $5 WHERE") && !reason_only.contains("finished_at ="), "{reason_only}");
    }
}
