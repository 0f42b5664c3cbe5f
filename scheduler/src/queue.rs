//! The task queue on SQLite: push with deduplication, atomic pop, patch
//! along the status lifecycle of `kat_core::task::TaskStatus`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use kat_core::services::scheduler::{NewTask, Pushed, Scheduler, TaskType};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::{Task, TaskStatus};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::Row;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// The scheduler on a local SQLite file.
pub struct LocalScheduler {
    pool: SqlitePool,
}

fn db_error(e: sqlx::Error) -> ServiceError {
    ServiceError::unavailable(format!("scheduler database: {e}"))
}

fn status_text(status: TaskStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn now_text() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

/// The deduplication hash: type, organisation and the body without its `id`.
pub fn task_hash(task: &NewTask) -> String {
    let mut body = task.data.clone();
    if let Value::Object(map) = &mut body {
        map.remove("id");
    }
    let mut hasher = Sha256::new();
    hasher.update(task.task_type.as_str());
    hasher.update([0]);
    hasher.update(&task.organisation);
    hasher.update([0]);
    hasher.update(body.to_string());
    hex::encode(hasher.finalize())
}

const COLUMNS: &str = "id, scheduler_id, organisation, task_type, priority, status, hash, data, created_at, modified_at";

fn task_from_row(row: &SqliteRow) -> ServiceResult<Task> {
    let corrupt = |what: &str| ServiceError::internal(format!("stored task has a corrupt {what}"));
    let time = |i: usize| OffsetDateTime::parse(row.get::<&str, _>(i), &Rfc3339).map_err(|_| corrupt("timestamp"));
    Ok(Task {
        id: Uuid::parse_str(row.get::<&str, _>(0)).map_err(|_| corrupt("id"))?,
        scheduler_id: row.get(1),
        schedule_id: None,
        organisation: row.get(2),
        task_type: row.get(3),
        priority: Some(row.get(4)),
        status: serde_json::from_value(Value::String(row.get(5))).map_err(|_| corrupt("status"))?,
        hash: Some(row.get(6)),
        data: serde_json::from_str(row.get::<&str, _>(7)).map_err(|_| corrupt("body"))?,
        created_at: time(8)?,
        modified_at: time(9)?,
    })
}

impl LocalScheduler {
    /// Open (creating when missing) the database at `path`.
    pub async fn open(path: &Path) -> ServiceResult<LocalScheduler> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(db_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|e| ServiceError::unavailable(format!("cannot open {}: {e}", path.display())))?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(|e| ServiceError::unavailable(format!("migrating {}: {e}", path.display())))?;
        Ok(LocalScheduler { pool })
    }

    /// Put dispatched or running tasks back in the queue: after a crash their worker is gone.
    pub async fn requeue_orphans(&self) -> ServiceResult<u64> {
        let done = sqlx::query("UPDATE tasks SET status = 'queued', modified_at = ?1 WHERE status IN ('dispatched', 'running')").bind(now_text()).execute(&self.pool).await.map_err(db_error)?;
        Ok(done.rows_affected())
    }

    /// How many tasks are queued, dispatched or running.
    pub async fn open_count(&self) -> ServiceResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM tasks WHERE status IN ('pending', 'queued', 'dispatched', 'running')").fetch_one(&self.pool).await.map_err(db_error)?;
        Ok(row.get(0))
    }

    async fn find_open(&self, hash: &str) -> ServiceResult<Option<Task>> {
        let sql = format!("SELECT {COLUMNS} FROM tasks WHERE hash = ?1 AND status IN ('pending', 'queued', 'dispatched', 'running')");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(task_from_row).transpose()
    }
}

#[async_trait]
impl Scheduler for LocalScheduler {
    async fn push(&self, task: NewTask) -> ServiceResult<Pushed> {
        let hash = task_hash(&task);
        if let Some(existing) = self.find_open(&hash).await? {
            return Ok(Pushed { task: existing, created: false });
        }
        let id = match task.data.get("id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()) {
            Some(id) => id,
            None => Uuid::new_v4(),
        };
        let mut data = task.data.clone();
        if let Value::Object(map) = &mut data {
            map.insert("id".into(), Value::String(id.to_string()));
        }
        let now = now_text();
        let sql = format!("INSERT INTO tasks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?8) RETURNING {COLUMNS}");
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(format!("{}-{}", task.task_type.as_str(), task.organisation))
            .bind(&task.organisation)
            .bind(task.task_type.as_str())
            .bind(task.priority)
            .bind(&hash)
            .bind(data.to_string())
            .bind(&now)
            .fetch_one(&self.pool)
            .await;
        match inserted {
            Ok(row) => Ok(Pushed { task: task_from_row(&row)?, created: true }),
            // A concurrent push of the same task won the race: return its task.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => match self.find_open(&hash).await? {
                Some(existing) => Ok(Pushed { task: existing, created: false }),
                None => Err(ServiceError::new(kat_core::ErrorKind::Conflict, format!("task id {id} is already taken"))),
            },
            Err(e) => Err(db_error(e)),
        }
    }

    async fn pop(&self, task_type: TaskType) -> ServiceResult<Option<Task>> {
        let sql = format!(
            "UPDATE tasks SET status = 'dispatched', modified_at = ?2 WHERE seq = \
             (SELECT seq FROM tasks WHERE task_type = ?1 AND status = 'queued' ORDER BY priority, seq LIMIT 1) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(task_type.as_str()).bind(now_text()).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn patch(&self, id: Uuid, status: TaskStatus) -> ServiceResult<Task> {
        let task = self.get(id).await?;
        if !task.status.can_become(status) {
            return Err(ServiceError::new(kat_core::ErrorKind::Conflict, format!("task {id} is {}; it cannot become {}", status_text(task.status), status_text(status))));
        }
        let sql = format!("UPDATE tasks SET status = ?2, modified_at = ?3 WHERE id = ?1 AND status = ?4 RETURNING {COLUMNS}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(status_text(status))
            .bind(now_text())
            .bind(status_text(task.status))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => task_from_row(&row),
            None => Err(ServiceError::new(kat_core::ErrorKind::Conflict, format!("task {id} changed while it was being patched; try again"))),
        }
    }

    async fn get(&self, id: Uuid) -> ServiceResult<Task> {
        let sql = format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(task_from_row).transpose()?.ok_or_else(|| ServiceError::not_found(format!("no task {id}")))
    }

    async fn list(&self, status: Option<TaskStatus>) -> ServiceResult<Vec<Task>> {
        let sql = format!("SELECT {COLUMNS} FROM tasks WHERE ?1 IS NULL OR status = ?1 ORDER BY seq DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(status.map(status_text)).fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(task_from_row).collect()
    }
}
