//! Task rows: insert with deduplication (one unfinished task per hash,
//! held by a partial unique index, so concurrent pushes of the same work
//! leave one task), read, list with mula's filters and pagination, and the
//! counts behind `/tasks/stats`, `/metrics` and "the pipeline is quiet".

use kat_core::services::scheduler::{OpenCount, Page, TaskQuery, TaskType};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::TaskStatus;
use kat_core::ErrorKind;
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{db_error, task_row, Origin, Store, TaskRow, TASK_COLUMNS};
use crate::events;
use crate::filters::{FilterSet, Sql};

/// A task about to be inserted.
#[derive(Debug, Clone)]
pub struct Insert<'a> {
    /// Its id.
    pub id: Uuid,
    /// Its queue.
    pub task_type: TaskType,
    /// The schedule it belongs to.
    pub schedule_id: Option<Uuid>,
    /// Its organisation.
    pub organisation: &'a str,
    /// Lower runs first.
    pub priority: i64,
    /// Its deduplication hash.
    pub hash: &'a str,
    /// Its body (with `id` set to the task id).
    pub data: &'a Value,
    /// How it came to be.
    pub origin: Origin,
    /// Now, in microseconds.
    pub now: i64,
}

/// Unfinished: `finished_at` is set exactly when a task reaches a final status, and the partial unique index
/// `tasks_open_hash` holds the hashes of the rows without it (a pop or a patch to `running` leaves the index alone).
const UNFINISHED: &str = "finished_at IS NULL";

/// Insert a queued task unless an unfinished task has the same hash; `Ok(None)` then (see [`find_open`]).
pub async fn insert(conn: &mut AnyConnection, webhook: bool, task: &Insert<'_>) -> ServiceResult<Option<TaskRow>> {
    let sql = format!(
        "INSERT INTO tasks (id, scheduler_id, schedule_id, organisation, task_type, priority, status, hash, data, origin, attempts, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $2, $5, 'queued', $6, $7, $8, 0, $9, $9) ON CONFLICT (hash) WHERE {UNFINISHED} DO NOTHING RETURNING {TASK_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(task.id.to_string())
        .bind(task.task_type.as_str())
        .bind(task.schedule_id.map(|s| s.to_string()))
        .bind(task.organisation)
        .bind(task.priority)
        .bind(task.hash)
        .bind(task.data.to_string())
        .bind(task.origin.as_str())
        .bind(task.now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ServiceError::new(ErrorKind::Conflict, format!("task id {} is already taken", task.id)).with_field("id"),
            other => db_error(other),
        })?;
    let Some(row) = row else { return Ok(None) };
    let row = task_row(&row)?;
    events::record(conn, webhook, row.task.id, task.now, None, TaskStatus::Queued, Some(task.origin.as_str())).await?;
    Ok(Some(row))
}

/// The unfinished task with `hash`, if any.
pub async fn find_open(conn: &mut AnyConnection, hash: &str) -> ServiceResult<Option<TaskRow>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE hash = $1 AND {UNFINISHED}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(conn).await.map_err(db_error)?;
    row.as_ref().map(task_row).transpose()
}

/// The most recently finished task with `hash`, if any.
pub async fn last_finished(conn: &mut AnyConnection, hash: &str) -> ServiceResult<Option<TaskRow>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE hash = $1 AND finished_at IS NOT NULL ORDER BY finished_at DESC, seq DESC LIMIT 1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(conn).await.map_err(db_error)?;
    row.as_ref().map(task_row).transpose()
}

/// The newest task with `hash` (finished or not), if any.
pub async fn latest(conn: &mut AnyConnection, hash: &str) -> ServiceResult<Option<TaskRow>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE hash = $1 ORDER BY seq DESC LIMIT 1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(conn).await.map_err(db_error)?;
    row.as_ref().map(task_row).transpose()
}

impl Store {
    /// One task.
    pub async fn task(&self, id: Uuid) -> ServiceResult<TaskRow> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(task_row).transpose()?.ok_or_else(|| ServiceError::not_found(format!("task not found, by task_id: {id}")).with_field("task_id"))
    }

    /// The conditions of `query` plus `filters` as SQL, binds starting at `$1`.
    fn task_where(&self, query: &TaskQuery, filters: &FilterSet) -> ServiceResult<Sql> {
        let mut sql = Sql::default();
        for (column, value) in [("scheduler_id", &query.scheduler_id), ("organisation", &query.organisation), ("task_type", &query.task_type)] {
            if let Some(value) = value {
                sql.push_text_eq(column, value);
            }
        }
        if let Some(status) = query.status {
            sql.push_text_eq("status", status.as_str());
        }
        let mut all = filters.clone();
        all.and.extend(query.filters.iter().cloned());
        all.to_sql(self.dialect, crate::filters::TASK_COLUMNS, &mut sql)?;
        Ok(sql)
    }

    /// Tasks matching `query` and `filters`, newest first, with the total count.
    pub async fn list(&self, query: &TaskQuery, filters: &FilterSet) -> ServiceResult<Page<TaskRow>> {
        let conditions = self.task_where(query, filters)?;
        let count_sql = format!("SELECT count(*) FROM tasks WHERE {}", conditions.text());
        let count: i64 = conditions.bind(sqlx::query(sqlx::AssertSqlSafe(count_sql))).fetch_one(&self.pool).await.map_err(db_error)?.try_get(0).map_err(db_error)?;
        let limit = if query.limit <= 0 { 10 } else { query.limit.min(500) };
        let offset = query.offset.max(0);
        let n = conditions.count();
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE {} ORDER BY created_at DESC, seq DESC LIMIT ${} OFFSET ${}", conditions.text(), n + 1, n + 2);
        let rows = conditions.bind(sqlx::query(sqlx::AssertSqlSafe(sql))).bind(limit).bind(offset).fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(Page { count, results: rows.iter().map(task_row).collect::<ServiceResult<_>>()? })
    }

    /// Tasks changed since `since` (microseconds), counted per hour (micros of the hour's start) and status.
    pub async fn stats(&self, since: i64, scheduler_id: Option<&str>, organisation: Option<&str>) -> ServiceResult<Vec<(i64, TaskStatus, i64)>> {
        let mut sql = Sql::default();
        sql.push_raw_int("modified_at >=", since);
        if let Some(s) = scheduler_id {
            sql.push_text_eq("scheduler_id", s);
        }
        if let Some(o) = organisation {
            sql.push_text_eq("organisation", o);
        }
        let text = format!("SELECT (modified_at / 3600000000) * 3600000000 AS hour, status, count(*) FROM tasks WHERE {} GROUP BY hour, status ORDER BY hour DESC", sql.text());
        let rows = sql.bind(sqlx::query(sqlx::AssertSqlSafe(text))).fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get(1).map_err(db_error)?;
                Ok((r.try_get(0).map_err(db_error)?, TaskStatus::parse(&status).ok_or_else(|| ServiceError::internal("a stored task has a corrupt status"))?, r.try_get(2).map_err(db_error)?))
            })
            .collect()
    }

    /// Task counts per queue and status (for `/metrics` and `/schedulers`).
    pub async fn depth(&self) -> ServiceResult<Vec<(String, TaskStatus, i64)>> {
        let rows = sqlx::query("SELECT scheduler_id, status, count(*) FROM tasks GROUP BY scheduler_id, status").fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter()
            .filter_map(|r| {
                let status: String = r.try_get(1).ok()?;
                Some(Ok((r.try_get(0).ok()?, TaskStatus::parse(&status)?, r.try_get(2).ok()?)))
            })
            .collect()
    }

    /// How many tasks are unfinished.
    pub async fn open_count(&self) -> ServiceResult<OpenCount> {
        let mut count = OpenCount::default();
        for (_, status, n) in self.depth().await? {
            match status {
                TaskStatus::Pending | TaskStatus::Queued => count.queued += n,
                TaskStatus::Dispatched => count.dispatched += n,
                TaskStatus::Running => count.running += n,
                _ => {}
            }
        }
        Ok(count)
    }
}
