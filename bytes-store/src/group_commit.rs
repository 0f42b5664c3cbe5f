//! Group commit of the metadata writes (boefje metas, raw file metas with
//! their events, whole runs, normalizer metas).
//!
//! A save is acknowledged only once its metadata is on disk, and on SQLite
//! (`synchronous=FULL`) each commit costs an fsync. Concurrent saves share
//! one: a writer queues its [`Write`] and waits for the write gate; the
//! writer that holds the gate takes every queued write, applies each inside
//! its own savepoint of one transaction (a write that fails, such as a meta
//! whose id exists, is rolled back alone and gets its own error), commits
//! once and hands every writer its result. A writer that gets the gate after
//! its write was committed by another just returns the result. On
//! PostgreSQL, which commits concurrently, each write is its own
//! transaction.
//!
//! On a SQLite file the batch runs on a plain `rusqlite` connection to the
//! same file, on a blocking thread ([`commit_batch_sqlite`]): through sqlx
//! every statement was a hand-off to its worker thread and back, and those
//! thread wake-ups, not SQLite, bounded the saves. Each write's statements
//! are written once, against [`Exec`], and run on either connection.

use kat_core::services::{ServiceError, ServiceResult};
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::oneshot;

use crate::meta_db::{db_error, integrity_error};

/// A boefje meta row, with its values ready to bind.
#[derive(Debug)]
pub(crate) struct MetaRow {
    pub id: String,
    pub organization: String,
    pub boefje_id: String,
    pub input_ooi: Option<String>,
    pub started_at_us: Option<i64>,
    pub body: String,
}

/// A raw file's metadata row (with its stored contents when they are kept inline) and its `raw_file_received`
/// event, with their values ready to bind.
#[derive(Debug)]
pub(crate) struct RawRow {
    pub id: String,
    pub boefje_meta_id: String,
    pub mime_types: String,
    pub secure_hash: String,
    pub hashed_text: String,
    pub rule: &'static str,
    pub size: i64,
    pub content: Option<Vec<u8>>,
    pub event_id: String,
    pub event_body: String,
}

/// One metadata write, with its values ready to bind.
#[derive(Debug)]
pub(crate) enum Write {
    /// A boefje meta (refused when its id exists).
    BoefjeMeta(MetaRow),
    /// A raw file of a stored run.
    Raw(RawRow),
    /// A finished run: its meta (refused, with none of its raw files, when its id exists) and its raw files.
    Run(MetaRow, Vec<RawRow>),
    /// A normalizer meta (refused when its id exists; its raw file must exist).
    NormalizerMeta { id: String, raw_id: String, started_at_us: Option<i64>, body: String },
}

impl Write {
    /// Run the write's statements on `conn` (inside the caller's transaction).
    pub(crate) async fn apply<C: Exec>(&self, conn: &mut C) -> ServiceResult<()> {
        match self {
            Write::BoefjeMeta(meta) => meta.insert(conn).await,
            Write::Raw(raw) => raw.insert(conn).await,
            Write::Run(meta, raws) => {
                meta.insert(conn).await?;
                for raw in raws {
                    raw.insert(conn).await?;
                }
                Ok(())
            }
            Write::NormalizerMeta { id, raw_id, started_at_us, body } => {
                let sql = "INSERT INTO normalizer_meta (id, raw_id, started_at_us, body) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";
                let done = conn.run(sql, &[Arg::Text(id), Arg::Text(raw_id), Arg::OptInt(*started_at_us), Arg::Text(body)]).await.map_err(|e| match e {
                    Failure::ForeignKey => ServiceError::not_found(format!("no raw file {raw_id}")),
                    Failure::Other(e) => e,
                })?;
                if done == 0 {
                    return Err(integrity_error("id"));
                }
                Ok(())
            }
        }
    }
}

impl MetaRow {
    async fn insert<C: Exec>(&self, conn: &mut C) -> ServiceResult<()> {
        let MetaRow { id, organization, boefje_id, input_ooi, started_at_us, body } = self;
        let sql = "INSERT INTO boefje_meta (id, organization, boefje_id, input_ooi, started_at_us, body) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING";
        let args = [Arg::Text(id), Arg::Text(organization), Arg::Text(boefje_id), Arg::OptText(input_ooi.as_deref()), Arg::OptInt(*started_at_us), Arg::Text(body)];
        if conn.run(sql, &args).await.map_err(Failure::into_error)? == 0 {
            return Err(integrity_error("id"));
        }
        Ok(())
    }
}

impl RawRow {
    async fn insert<C: Exec>(&self, conn: &mut C) -> ServiceResult<()> {
        let RawRow { id, boefje_meta_id, mime_types, secure_hash, hashed_text, rule, size, content, event_id, event_body } = self;
        let sql = "INSERT INTO raw_data (id, boefje_meta_id, mime_types, secure_hash, hashed_at, hash_rule, size, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let args = [Arg::Text(id), Arg::Text(boefje_meta_id), Arg::Text(mime_types), Arg::Text(secure_hash), Arg::Text(hashed_text), Arg::Text(rule), Arg::OptInt(Some(*size)), Arg::OptBlob(content.as_deref())];
        conn.run(sql, &args).await.map_err(Failure::into_error)?;
        conn.run("INSERT INTO outbox (event_id, body) VALUES ($1, $2)", &[Arg::Text(event_id), Arg::Text(event_body)]).await.map_err(Failure::into_error)?;
        Ok(())
    }
}

/// A value bound to a statement's `$n`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    OptInt(Option<i64>),
    OptBlob(Option<&'a [u8]>),
}

impl Arg<'_> {
    /// The value as rusqlite binds it.
    fn as_sql(&self) -> &dyn rusqlite::ToSql {
        match self {
            Arg::Text(t) => t,
            Arg::OptText(t) => t,
            Arg::OptInt(n) => n,
            Arg::OptBlob(b) => b,
        }
    }
}

/// Why a statement failed: a foreign key it broke, or anything else (as a caller may see it).
#[derive(Debug)]
pub(crate) enum Failure {
    ForeignKey,
    Other(ServiceError),
}

impl Failure {
    fn into_error(self) -> ServiceError {
        match self {
            Failure::ForeignKey => ServiceError::internal("a metadata write broke a reference between stored rows"),
            Failure::Other(e) => e,
        }
    }
}

/// A connection a write's statements run on, inside a transaction the caller began.
#[allow(async_fn_in_trait, reason = "used only with concrete connection types, whose futures' Send-ness the compiler sees")]
pub(crate) trait Exec {
    /// Run `sql` with `args` bound to `$1`, `$2` ...; the number of rows it changed.
    async fn run(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64, Failure>;
}

impl Exec for AnyConnection {
    async fn run(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64, Failure> {
        let mut query = sqlx::query(sql);
        for arg in args {
            query = match *arg {
                Arg::Text(t) => query.bind(t),
                Arg::OptText(t) => query.bind(t),
                Arg::OptInt(n) => query.bind(n),
                Arg::OptBlob(b) => query.bind(b),
            };
        }
        match query.execute(self).await {
            Ok(done) => Ok(done.rows_affected()),
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => Err(Failure::ForeignKey),
            Err(e) => Err(Failure::Other(db_error(e))),
        }
    }
}

/// The SQLite writer's `rusqlite` connection, its statements cached.
pub(crate) struct SqliteWriter<'a>(pub &'a rusqlite::Connection);

impl Exec for SqliteWriter<'_> {
    async fn run(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64, Failure> {
        run_sqlite(self.0, sql, args).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) if matches!(&e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => Failure::ForeignKey,
            _ => Failure::Other(sqlite_error(e)),
        })
    }
}

fn run_sqlite(conn: &rusqlite::Connection, sql: &str, args: &[Arg<'_>]) -> rusqlite::Result<u64> {
    let values: Vec<&dyn rusqlite::ToSql> = args.iter().map(Arg::as_sql).collect();
    kat_server::sqlite::prepare_numbered(conn, sql, &values)?.raw_execute().map(|n| n as u64)
}

/// A failure of the writer's SQLite connection as a caller may see it (details only in the log).
pub(crate) fn sqlite_error(e: rusqlite::Error) -> ServiceError {
    kat_server::sqlite::sqlite_error("bytes metadata")(e)
}

/// A write waiting for its batch, with where its result goes.
pub(crate) type Queued = (Write, oneshot::Sender<ServiceResult<()>>);

/// The writes queued for the next batch.
pub(crate) type Queue = kat_server::db::WriteQueue<Write, ServiceResult<()>>;

/// Apply `batch` in one transaction of `pool`, each write in its own savepoint, commit once, and send every
/// writer its result (every writer gets the error when the transaction itself fails).
pub(crate) async fn commit_batch(pool: &AnyPool, batch: Vec<Queued>) {
    let (writes, senders): (Vec<Write>, Vec<_>) = batch.into_iter().unzip();
    let mut results = Vec::with_capacity(writes.len());
    let committed = async {
        let mut tx = pool.begin().await?;
        for write in &writes {
            sqlx::query("SAVEPOINT kat_write").execute(&mut *tx).await?;
            let result = write.apply(&mut *tx).await;
            if result.is_err() {
                sqlx::query("ROLLBACK TO SAVEPOINT kat_write").execute(&mut *tx).await?;
            }
            sqlx::query("RELEASE SAVEPOINT kat_write").execute(&mut *tx).await?;
            results.push(result);
        }
        tx.commit().await
    }
    .await;
    answer(senders, committed.map(|()| results).map_err(db_error));
}

/// As [`commit_batch`], on the SQLite writer's connection (call it on a blocking thread: the commit waits for
/// its fsync). Every statement is a function call, so each write's future is ready at once.
pub(crate) fn commit_batch_sqlite(conn: &rusqlite::Connection, batch: Vec<Queued>) {
    let (writes, senders): (Vec<Write>, Vec<_>) = batch.into_iter().unzip();
    let mut results = Vec::with_capacity(writes.len());
    let step = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ());
    let committed = (|| {
        step("BEGIN IMMEDIATE")?;
        for write in &writes {
            step("SAVEPOINT kat_write")?;
            let result = futures::executor::block_on(write.apply(&mut SqliteWriter(conn)));
            if result.is_err() {
                step("ROLLBACK TO SAVEPOINT kat_write")?;
            }
            step("RELEASE SAVEPOINT kat_write")?;
            results.push(result);
        }
        step("COMMIT")
    })();
    if committed.is_err() && !conn.is_autocommit() && let Err(e) = step("ROLLBACK") {
        tracing::error!(database = "bytes metadata", error = %e, "rolling back a failed batch failed");
    }
    answer(senders, committed.map(|()| results).map_err(sqlite_error));
}

/// Answer every write of `batch` with `error`, running none.
pub(crate) fn refuse_batch(batch: Vec<Queued>, error: ServiceError) {
    let senders = batch.into_iter().map(|(_, sender)| sender).collect();
    answer(senders, Err(error));
}

/// Send each writer its result, or every writer the error of the transaction.
fn answer(senders: Vec<oneshot::Sender<ServiceResult<()>>>, committed: ServiceResult<Vec<ServiceResult<()>>>) {
    match committed {
        Ok(results) => senders.into_iter().zip(results).for_each(|(sender, result)| {
            let _ = sender.send(result);
        }),
        Err(error) => {
            for sender in senders {
                let _ = sender.send(Err(error.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kat_core::ErrorKind;

    fn conn() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().expect("memory database");
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE boefje_meta (id TEXT PRIMARY KEY, organization TEXT, boefje_id TEXT, input_ooi TEXT, started_at_us INTEGER, body TEXT);
             CREATE TABLE raw_data (id TEXT UNIQUE);
             CREATE TABLE normalizer_meta (id TEXT PRIMARY KEY, raw_id TEXT NOT NULL REFERENCES raw_data (id), started_at_us INTEGER, body TEXT);",
        )
        .expect("schema");
        conn
    }

    fn apply(conn: &rusqlite::Connection, write: &Write) -> ServiceResult<()> {
        futures::executor::block_on(write.apply(&mut SqliteWriter(conn)))
    }

    #[test]
    fn the_writer_connection_reports_refusals_as_the_pool_does() {
        let conn = conn();
        let meta = || MetaRow { id: "m".into(), organization: "o".into(), boefje_id: "b".into(), input_ooi: None, started_at_us: Some(1), body: "{}".into() };
        apply(&conn, &Write::BoefjeMeta(meta())).expect("first meta");
        assert_eq!(apply(&conn, &Write::BoefjeMeta(meta())).expect_err("same id").kind, ErrorKind::Conflict);
        let normalizer = Write::NormalizerMeta { id: "n".into(), raw_id: "nowhere".into(), started_at_us: None, body: "{}".into() };
        let missing = apply(&conn, &normalizer).expect_err("unknown raw file");
        assert_eq!((missing.kind, missing.message.as_str()), (ErrorKind::NotFound, "no raw file nowhere"));
        conn.execute("INSERT INTO raw_data (id) VALUES ('nowhere')", []).expect("raw");
        apply(&conn, &normalizer).expect("its raw file exists now");
    }
}
