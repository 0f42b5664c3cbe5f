//! The scheduler's database: SQLite or PostgreSQL through one
//! `sqlx::AnyPool` (`kat_server::db::open`), with `$n` placeholders, text
//! and integer columns (times in microseconds since the epoch) and
//! per-backend migrations in `migrations/sqlite` and `migrations/postgres`.
//! Where the two backends need different SQL, the difference lives in one
//! [`Dialect`].
//!
//! Every write that must be atomic (a pop, a patch, an event and the tasks
//! it creates) runs in one transaction begun with [`Store::begin`]: on
//! SQLite `BEGIN IMMEDIATE` (the writer lock is taken at once, so a
//! transaction never fails upgrading a read lock), on PostgreSQL `BEGIN`
//! with `FOR UPDATE SKIP LOCKED` where rows are claimed.
//!
//! On SQLite the lease writes (pop, patch, heartbeat) go through
//! [`writer`]'s thread and group commit, and every other writing transaction
//! takes the same in-process write lock first, so this process's writers
//! queue in memory instead of in SQLite's busy handler.
//!
//! - [`tasks`]: inserting (deduplicated), reading, listing and counting tasks.
//! - [`exec`]: the hot writes' statements on an sqlx or a rusqlite connection.
//! - [`writer`]: the SQLite writer thread and its group commit.

pub mod exec;
pub mod tasks;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::{Task, TaskStatus};
use kat_server::db::{Db, DbSpec, WriteGate};
use sqlx::migrate::Migrator;
use sqlx::AnyPool;
use uuid::Uuid;

use crate::clock::from_micros;
use exec::{corrupt, Columns};
use crate::leases::{LeaseDone, LeaseWrite, WriteContext};
use writer::Writer;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// What a commit promises: a power loss may undo the last commits, whose work the leases run again.
const DURABILITY: kat_server::db::Durability = kat_server::db::Durability::Process;
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The SQL that differs between SQLite and PostgreSQL.
#[derive(Debug)]
pub struct Dialect {
    /// How a writing transaction begins.
    pub begin: &'static str,
    /// Appended to a sub-select that claims rows other transactions may be claiming.
    pub skip_locked: &'static str,
    /// Appended to a select of one row that is about to be changed.
    pub lock_row: &'static str,
    /// Whether JSON paths are PostgreSQL's `jsonb_extract_path` (else SQLite's `json_extract`).
    pub postgres: bool,
}

const SQLITE_DIALECT: Dialect = Dialect { begin: "BEGIN IMMEDIATE", skip_locked: "", lock_row: "", postgres: false };
const POSTGRES_DIALECT: Dialect = Dialect { begin: "BEGIN", skip_locked: " FOR UPDATE SKIP LOCKED", lock_row: " FOR UPDATE", postgres: true };

impl Dialect {
    /// A JSON scalar at `keys` inside the text column `column`, as text (`true`/`false` for booleans);
    /// `first` is the placeholder number of the first key, the keys bound in order.
    pub fn json_text(&self, column: &str, keys: usize, first: usize) -> String {
        if self.postgres {
            format!("jsonb_extract_path_text({column}::jsonb, {})", placeholders(keys, first))
        } else {
            let path = sqlite_path(keys, first);
            format!("(CASE json_type({column}, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract({column}, {path}) AS TEXT) END)")
        }
    }

    /// A JSON number at `keys` inside `column` as a number (NULL when it is not a number).
    pub fn json_number(&self, column: &str, keys: usize, first: usize) -> String {
        if self.postgres {
            let args = placeholders(keys, first);
            format!("(CASE WHEN jsonb_typeof(jsonb_extract_path({column}::jsonb, {args})) = 'number' THEN jsonb_extract_path_text({column}::jsonb, {args})::numeric END)")
        } else {
            let path = sqlite_path(keys, first);
            format!("(CASE WHEN json_type({column}, {path}) IN ('integer', 'real') THEN json_extract({column}, {path}) END)")
        }
    }

    /// How a number bound at `placeholder` is compared with [`Dialect::json_number`].
    pub fn number_param(&self, placeholder: usize) -> String {
        if self.postgres { format!("${placeholder}::numeric") } else { format!("${placeholder}") }
    }

    /// The case-insensitive LIKE.
    pub fn ilike(&self) -> &'static str {
        if self.postgres { "ILIKE" } else { "LIKE" }
    }
}

/// The dialect of PostgreSQL (`true`) or SQLite.
pub fn dialect_for(postgres: bool) -> &'static Dialect {
    if postgres { &POSTGRES_DIALECT } else { &SQLITE_DIALECT }
}

fn placeholders(n: usize, first: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// SQLite's JSON path from keys bound as separate parameters: `'$' || '."' || $n || '"' ...`.
fn sqlite_path(n: usize, first: usize) -> String {
    let mut path = String::from("('$'");
    for i in first..first + n {
        path.push_str(&format!(" || '.\"' || ${i} || '\"'"));
    }
    path.push(')');
    path
}

/// The scheduler's database.
#[derive(Debug, Clone)]
pub struct Store {
    /// The pool.
    pub pool: AnyPool,
    /// The backend's SQL differences.
    pub dialect: &'static Dialect,
    /// Whether status changes are also queued for `SCHEDULER_WEBHOOK_URL`.
    pub webhook: bool,
    /// When a pop last swept expired leases (microseconds), shared by every clone of the store.
    pub last_sweep: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// The process's write lock on SQLite (lets everyone through on PostgreSQL).
    gate: WriteGate,
    /// SQLite on a file: the writer thread of the lease writes.
    writer: Option<Writer>,
}

/// A writing transaction; on SQLite it also holds the process's write lock until it ends.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commit (and let the next writer in).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// How a task came to be, which decides its rank and whether the grace period applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Pushed by a user or tool (REST push, `kat scan` declarations).
    User,
    /// A new object, or one whose clearance rose.
    NewObject,
    /// A rerun on an object seen before.
    Rerun,
    /// A due schedule.
    Schedule,
    /// A stored raw file.
    RawFile,
}

impl Origin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::User => "user",
            Origin::NewObject => "new_object",
            Origin::Rerun => "rerun",
            Origin::Schedule => "schedule",
            Origin::RawFile => "raw_file",
        }
    }
}

/// A task with what the scheduler keeps beside mula's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    /// The task as the API shows it.
    pub task: Task,
    /// How many leases ran out.
    pub attempts: i64,
    /// When the current lease ends.
    pub lease_until: Option<time::OffsetDateTime>,
    /// The last reason given (a failure message, "lease expired N times").
    pub reason: Option<String>,
    /// How it came to be (`user`, `new_object`, `rerun`, `schedule`, `raw_file`).
    pub origin: String,
    /// When it reached a final status.
    pub finished_at: Option<time::OffsetDateTime>,
}

/// The columns every task query selects, in [`task_row`]'s order.
pub const TASK_COLUMNS: &str = "id, scheduler_id, schedule_id, organisation, task_type, priority, status, hash, data, created_at, modified_at, attempts, lease_until, reason, origin, finished_at";

/// Read one row of [`TASK_COLUMNS`] (from sqlx or from the SQLite writer's connection).
pub fn task_row(row: &impl Columns) -> ServiceResult<TaskRow> {
    let status = TaskStatus::parse(&row.text(6)?).ok_or_else(|| corrupt("status"))?;
    let task = Task {
        id: Uuid::parse_str(&row.text(0)?).map_err(|_| corrupt("id"))?,
        scheduler_id: row.text(1)?,
        schedule_id: row.opt_text(2)?.map(|s| Uuid::parse_str(&s).map_err(|_| corrupt("schedule id"))).transpose()?,
        organisation: row.text(3)?,
        task_type: row.text(4)?,
        priority: Some(row.int(5)?),
        status,
        hash: Some(row.text(7)?),
        data: serde_json::from_str(&row.text(8)?).map_err(|_| corrupt("body"))?,
        created_at: from_micros(row.int(9)?),
        modified_at: from_micros(row.int(10)?),
    };
    Ok(TaskRow { task, attempts: row.int(11)?, lease_until: row.opt_int(12)?.map(from_micros), reason: row.opt_text(13)?, origin: row.text(14)?, finished_at: row.opt_int(15)?.map(from_micros) })
}

/// A database failure as a client may see it (details only in the log).
pub fn db_error(e: sqlx::Error) -> ServiceError {
    kat_server::db::db_error("scheduler")(e)
}

impl Store {
    /// Open the database at `url` (`sqlite://...` or `postgres://...`), waiting up to `wait` for a
    /// PostgreSQL that is starting, and run the backend's migrations.
    pub async fn open(url: &str, wait: Duration) -> ServiceResult<Store> {
        let spec = DbSpec { what: "scheduler", variable: "SCHEDULER_DB_URI", sqlite: &SQLITE, postgres: &POSTGRES, wait, durability: DURABILITY, scrub_deleted: false };
        let Db { pool, postgres } = kat_server::db::open(url, spec).await?;
        let gate = WriteGate::new(postgres);
        // The writer thread opens the same file; an in-memory database has none to share, so its writes stay
        // on the pool (behind the same gate).
        let writer = match kat_server::db::sqlite_file(url).filter(|_| !postgres) {
            Some(file) => Some(Writer::start(&file, gate.clone())?),
            None => None,
        };
        Ok(Store { pool, dialect: dialect_for(postgres), webhook: false, last_sweep: Arc::default(), gate, writer })
    }

    /// Begin a writing transaction (on SQLite, after taking the process's write lock). Never call it, or
    /// [`Store::write`], while this process holds another one: that waits forever.
    pub async fn begin(&self) -> ServiceResult<WriteTx> {
        let held = self.gate.enter().await;
        let tx = self.pool.begin_with(self.dialect.begin).await.map_err(db_error)?;
        Ok(WriteTx { tx, _held: held })
    }

    /// Run a lease write in a writing transaction and return what it did once committed: on SQLite in the
    /// writer thread, batched with the writes queued beside it ([`writer`]); on PostgreSQL in a transaction of
    /// its own. A write that fails is rolled back.
    pub async fn write(&self, write: LeaseWrite, context: WriteContext) -> ServiceResult<LeaseDone> {
        if let Some(writer) = &self.writer {
            return writer.write(write, context).await;
        }
        let mut tx = self.begin().await?;
        let done = write.apply(&mut *tx, context).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(done)
    }

    /// Whether the database answers (for `/health`).
    pub async fn ping(&self) -> bool {
        kat_server::db::ping(&self.pool).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_bind_their_keys() {
        assert_eq!(SQLITE_DIALECT.json_text("data", 2, 3).matches("'$' || '.\"' || $3 || '\"' || '.\"' || $4 || '\"'").count(), 2);
        assert_eq!(POSTGRES_DIALECT.json_text("data", 2, 3), "jsonb_extract_path_text(data::jsonb, $3, $4)");
        assert!(POSTGRES_DIALECT.json_number("data", 1, 1).contains("::numeric"));
    }
}
