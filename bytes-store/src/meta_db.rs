//! Bytes metadata in SQLite or PostgreSQL (`BYTES_DB_URI`) through one
//! `sqlx::AnyPool`: boefje metas, raw file metas (with the hash rule and the
//! text the hash covers), normalizer metas and the event outbox. The pool is
//! opened by `kat_server::db::open` (a corrupt SQLite file fails at once, a
//! PostgreSQL server that is starting is waited for, requests wait at most a
//! few seconds for a connection); migrations for each backend are embedded
//! and run at open. [`MetaDb::open_read_only`] opens a SQLite file without
//! writing anything (no migrations, no WAL switch), for the command-line
//! tools on a read-only data directory.
//!
//! JSON bodies are stored as text in OpenKAT's shapes, ids and timestamps as
//! text, flags and sizes as integers; placeholders are `$n`, which both
//! backends read. Only the JSON-searching list queries differ per backend
//! (see `queries`). Saving a meta whose id exists is refused (OpenKAT's
//! integrity error) and leaves the stored one as it was. Database error
//! text never reaches a caller (`kat_server::db::db_error`). Concurrent
//! saves on SQLite share one commit (`group_commit`).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kat_core::events::RawFileReceived;
use kat_core::ids::{check_organisation_id, find_nul};
use kat_core::meta::{BoefjeMeta, NormalizerMeta, RawDataMeta};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use kat_server::db::{self, DbSpec};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::group_commit::{commit_batch, commit_batch_sqlite, refuse_batch, sqlite_error, MetaRow, Queue, RawRow, Write};
use crate::hashing::HashRule;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// What the database is called in messages.
const WHAT: &str = "bytes metadata";

/// How long a service waits at start for a PostgreSQL server that refuses connections, unless configured.
pub const DEFAULT_DB_WAIT: Duration = Duration::from_secs(60);

/// OpenKAT's answer to a meta whose id exists (or that breaks another constraint).
pub const INTEGRITY_ERROR: &str = "Integrity error: object might already exist";

/// The metadata database.
pub struct MetaDb {
    pool: AnyPool,
    postgres: bool,
    /// Writers queue here on SQLite (see `kat_server::db::WriteGate`); the holder commits the queued writes.
    gate: db::WriteGate,
    /// Writes waiting for the next group commit (SQLite).
    queue: Queue,
    /// The connection group commits run on, for a SQLite file (see `group_commit`; taken out and closed by
    /// [`MetaDb::close`]); `None`: the pool.
    writer: Option<Arc<Mutex<Option<rusqlite::Connection>>>>,
}

/// A database failure as a caller may see it (details go to the log).
pub(crate) fn db_error(e: sqlx::Error) -> ServiceError {
    db::db_error(WHAT)(e)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("stored {what} is corrupt: {e}"))
}

/// Refuse a body with a NUL character anywhere, naming where (PostgreSQL cannot store it).
fn check_no_nul<T: serde::Serialize>(value: &T) -> ServiceResult<String> {
    let json = serde_json::to_value(value).map_err(|e| ServiceError::invalid(e.to_string()))?;
    if let Some(path) = find_nul(&json) {
        return Err(ServiceError::invalid(format!("{path} must not contain a NUL character")).with_field(path));
    }
    Ok(json.to_string())
}

/// Microseconds since the epoch, for ordering by `started_at`.
fn micros(at: Option<OffsetDateTime>) -> Option<i64> {
    at.and_then(|t| i64::try_from(t.unix_timestamp_nanos().div_euclid(1000)).ok())
}

pub(crate) fn integrity_error(field: &str) -> ServiceError {
    ServiceError::new(ErrorKind::Conflict, INTEGRITY_ERROR).with_field(field)
}

impl MetaDb {
    /// Open (creating when missing) the SQLite file at `path`.
    pub async fn open(path: &Path) -> ServiceResult<MetaDb> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Connect to `sqlite://...` or `postgres://...` and run the migrations.
    pub async fn connect(url: &str) -> ServiceResult<MetaDb> {
        Self::connect_waiting(url, DEFAULT_DB_WAIT).await
    }

    /// As [`MetaDb::connect`], waiting up to `wait` for a PostgreSQL server that refuses connections.
    pub async fn connect_waiting(url: &str, wait: Duration) -> ServiceResult<MetaDb> {
        let spec = DbSpec { what: WHAT, variable: "BYTES_DB_URI", sqlite: &SQLITE_MIGRATOR, postgres: &POSTGRES_MIGRATOR, wait, durability: kat_server::db::Durability::Full, scrub_deleted: false };
        let opened = db::open(url, spec).await?;
        // The group commits' own connection to the same file (migrated by now); an in-memory database has no file
        // to share, so its writes stay on the pool.
        let writer = match db::sqlite_file(url).filter(|_| !opened.postgres) {
            Some(file) => Some(Arc::new(Mutex::new(Some(open_writer(&file)?)))),
            None => None,
        };
        Ok(MetaDb { pool: opened.pool, postgres: opened.postgres, gate: db::WriteGate::new(opened.postgres), queue: Queue::default(), writer })
    }

    /// Open an existing SQLite file for reading only: nothing is written, created or migrated. When no
    /// write-ahead log is beside it the file is opened as immutable (no lock or shared-memory files).
    pub async fn open_read_only(path: &Path) -> ServiceResult<MetaDb> {
        sqlx::any::install_default_drivers();
        if !path.is_file() {
            return Err(ServiceError::not_found(format!("no bytes metadata at {}", path.display())));
        }
        let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
        let live_wal = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
        let url = format!("sqlite://{}?mode=ro{}", path.display(), if live_wal { "" } else { "&immutable=true" });
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(db::ACQUIRE_TIMEOUT)
            .connect(&url)
            .await
            .map_err(|e| ServiceError::unavailable(format!("cannot open {} read-only: {e}", path.display())))?;
        let newest = SQLITE_MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> = sqlx::query("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&pool)
            .await
            .map(|row| row.get::<Option<i64>, _>(0))
            .map_err(|e| ServiceError::unavailable(format!("{} is not a bytes metadata database: {e}", path.display())))?;
        if applied.unwrap_or(0) < newest {
            return Err(ServiceError::unavailable(format!(
                "{} was written by an older version and the data directory is read-only: open it once with write access so that it is migrated",
                path.display()
            )));
        }
        Ok(MetaDb { pool, postgres: false, gate: db::WriteGate::default(), queue: Queue::default(), writer: None })
    }

    /// The connection pool (for the listing queries in `queries`).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database is PostgreSQL (the list queries differ).
    pub(crate) fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Close every connection, waiting until they are closed (a SQLite write-ahead log is then checkpointed away).
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            let _gate = self.gate.enter().await;
            let conn = writer.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(Err((_, e))) = conn.map(rusqlite::Connection::close) {
                tracing::warn!(database = WHAT, error = %e, "closing the writer's connection failed");
            }
        }
        self.pool.close().await;
    }

    /// Whether the database answers (for `/health`).
    pub async fn ping(&self) -> bool {
        db::ping(&self.pool).await
    }

    /// Run `write` and commit it: on SQLite in the next group commit (see `group_commit`), on PostgreSQL in
    /// its own transaction.
    async fn write(&self, write: Write) -> ServiceResult<()> {
        if self.postgres {
            let mut tx = self.pool.begin().await.map_err(db_error)?;
            write.apply(&mut *tx).await?;
            return tx.commit().await.map_err(db_error);
        }
        let mut result = self.queue.push(write);
        // Committed by the writer that held the gate before us? Then there is no need to take the gate.
        let gate = match self.gate.enter_unless_answered(&mut result).await {
            db::Turn::Answered(done) => return done.unwrap_or_else(|| Err(ServiceError::internal("a metadata write was dropped before its commit"))),
            db::Turn::Gate(gate) => gate,
        };
        if let Ok(done) = result.try_recv() {
            return done;
        }
        // The batch runs as its own task holding the gate, so a caller that gives up (a client that hung up)
        // cannot cut short the other writers' commit.
        let batch = self.queue.take(usize::MAX);
        match &self.writer {
            Some(writer) => {
                let writer = writer.clone();
                tokio::task::spawn_blocking(move || {
                    match writer.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                        Some(conn) => commit_batch_sqlite(conn, batch),
                        None => refuse_batch(batch, ServiceError::unavailable("the bytes metadata database is closed")),
                    }
                    drop(gate);
                });
            }
            None => {
                let pool = self.pool.clone();
                tokio::spawn(async move {
                    commit_batch(&pool, batch).await;
                    drop(gate);
                });
            }
        }
        result.await.unwrap_or_else(|_| Err(ServiceError::internal("a metadata write was dropped before its commit")))
    }

    /// Insert a boefje meta; an existing id is refused (`Conflict`, OpenKAT's integrity error) and left as it was.
    pub async fn save_boefje_meta(&self, meta: &BoefjeMeta) -> ServiceResult<()> {
        self.write(Write::BoefjeMeta(meta_row(meta)?)).await
    }

    /// Insert a finished run's meta and its raw files (as [`MetaDb::insert_raw`] each) in one transaction; an
    /// existing meta id is refused (`Conflict`) and none of the raw files is inserted.
    pub async fn insert_run(&self, meta: &BoefjeMeta, raws: Vec<RawInsert<'_>>) -> ServiceResult<()> {
        let rows = raws.into_iter().map(raw_row).collect::<ServiceResult<Vec<_>>>()?;
        self.write(Write::Run(meta_row(meta)?, rows)).await
    }

    /// One boefje meta.
    pub async fn boefje_meta(&self, id: Uuid) -> ServiceResult<BoefjeMeta> {
        let row = sqlx::query("SELECT body FROM boefje_meta WHERE id = $1").bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        let row = row.ok_or_else(|| ServiceError::not_found(format!("no boefje meta {id}")))?;
        serde_json::from_str(row.get::<&str, _>(0)).map_err(|e| corrupt("boefje meta", e))
    }

    /// Insert a raw file's metadata (with the rule and text its hash covers, and its stored contents when they
    /// are kept inline) and its event in one transaction.
    pub async fn insert_raw(&self, raw: RawInsert<'_>) -> ServiceResult<()> {
        self.write(Write::Raw(raw_row(raw)?)).await
    }

    /// A raw file's metadata, the rule of its hash and the text stored with it.
    pub async fn raw_meta(&self, id: Uuid) -> ServiceResult<(RawDataMeta, HashRule, String)> {
        let row = sqlx::query(RAW_SELECT_BY_ID).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        let row = row.ok_or_else(|| ServiceError::not_found(format!("no raw file {id}")))?;
        raw_from_row(&row)
    }

    /// As [`MetaDb::raw_meta`], with the stored contents when they are kept inline (`None`: in the object store).
    pub async fn raw_with_content(&self, id: Uuid) -> ServiceResult<(RawDataMeta, HashRule, String, Option<Vec<u8>>)> {
        let row = sqlx::query(RAW_SELECT_WITH_CONTENT_BY_ID).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        let row = row.ok_or_else(|| ServiceError::not_found(format!("no raw file {id}")))?;
        let (meta, rule, text) = raw_from_row(&row)?;
        Ok((meta, rule, text, row.get::<Option<Vec<u8>>, _>(6)))
    }

    /// Raw metas of one run, or of all runs, oldest first.
    pub async fn raw_metas(&self, boefje_meta_id: Option<Uuid>) -> ServiceResult<Vec<RawDataMeta>> {
        let rows = match boefje_meta_id {
            Some(id) => sqlx::query(RAW_SELECT_BY_RUN).bind(id.to_string()).fetch_all(&self.pool).await,
            None => sqlx::query(RAW_SELECT_ALL).fetch_all(&self.pool).await,
        }
        .map_err(db_error)?;
        rows.iter().map(|r| raw_from_row(r).map(|(m, _, _)| m)).collect()
    }

    /// Where the contents of every raw file kept in the object store live (`ORGANISATION/RAW_ID`), for finding
    /// orphans (inline contents have no place there).
    pub async fn raw_locations(&self) -> ServiceResult<Vec<String>> {
        let rows = sqlx::query("SELECT b.organization, r.id FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id WHERE r.content IS NULL").fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(rows.iter().map(|r| format!("{}/{}", r.get::<&str, _>(0), r.get::<&str, _>(1))).collect())
    }

    /// Insert a normalizer meta; its `raw_data` is replaced by the stored raw file's metadata (as OpenKAT
    /// rebuilds it). An unknown raw file is `NotFound`; an existing id is refused and left as it was.
    pub async fn save_normalizer_meta(&self, meta: &NormalizerMeta) -> ServiceResult<()> {
        check_no_nul(meta)?;
        let (raw_data, _, _) = self.raw_meta(meta.raw_data.id).await?;
        let stored = NormalizerMeta { raw_data, ..meta.clone() };
        let body = serde_json::to_string(&stored).map_err(|e| ServiceError::invalid(e.to_string()))?;
        self.write(Write::NormalizerMeta { id: meta.id.to_string(), raw_id: meta.raw_data.id.to_string(), started_at_us: micros(meta.started_at), body }).await
    }

    /// Pending outbox events, oldest first.
    pub async fn pending_events(&self, limit: i64) -> ServiceResult<Vec<(i64, RawFileReceived)>> {
        let rows = sqlx::query("SELECT seq, body FROM outbox WHERE delivered = 0 ORDER BY seq LIMIT $1").bind(limit).fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(|r| Ok((r.get::<i64, _>(0), serde_json::from_str(r.get::<&str, _>(1)).map_err(|e| corrupt("event", e))?))).collect()
    }

    /// Mark outbox events delivered.
    pub async fn ack_events(&self, seqs: &[i64]) -> ServiceResult<()> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        for seq in seqs {
            sqlx::query("UPDATE outbox SET delivered = 1 WHERE seq = $1").bind(seq).execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }
}

/// The group commits' connection to the SQLite file at `path`, with the pool's settings (WAL, foreign keys, an
/// fsync per commit).
fn open_writer(path: &Path) -> ServiceResult<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path).map_err(sqlite_error)?;
    conn.execute_batch(&db::sqlite_pragmas(db::Durability::Full, false)).map_err(sqlite_error)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A raw file's row to insert: its metadata, the rule and text its hash covers, its size, its stored contents when
/// they are kept inline (`None`: in the object store), and its event.
#[derive(Debug)]
pub struct RawInsert<'a> {
    /// The raw file's metadata (with its run's).
    pub meta: &'a RawDataMeta,
    /// The rule of its hash.
    pub rule: HashRule,
    /// The text its hash covers beside the contents.
    pub hashed_text: &'a str,
    /// The plain contents' size in bytes.
    pub size: usize,
    /// The stored (possibly encrypted) contents when they live in the row.
    pub content: Option<Vec<u8>>,
    /// Its `raw_file_received` event.
    pub event: &'a RawFileReceived,
}

fn meta_row(meta: &BoefjeMeta) -> ServiceResult<MetaRow> {
    check_organisation_id(&meta.organization, "organization")?;
    let body = check_no_nul(meta)?;
    Ok(MetaRow {
        id: meta.id.to_string(),
        organization: meta.organization.clone(),
        boefje_id: meta.boefje.id.clone(),
        input_ooi: meta.input_ooi.clone(),
        started_at_us: micros(meta.started_at),
        body,
    })
}

fn raw_row(raw: RawInsert<'_>) -> ServiceResult<RawRow> {
    let mime_types = serde_json::to_string(&raw.meta.mime_types).map_err(|e| ServiceError::invalid(e.to_string()))?;
    let event_body = serde_json::to_string(raw.event).map_err(|e| ServiceError::invalid(e.to_string()))?;
    Ok(RawRow {
        id: raw.meta.id.to_string(),
        boefje_meta_id: raw.meta.boefje_meta.id.to_string(),
        mime_types,
        secure_hash: raw.meta.secure_hash.clone().unwrap_or_default(),
        hashed_text: raw.hashed_text.to_string(),
        rule: raw.rule.as_str(),
        size: i64::try_from(raw.size).unwrap_or(i64::MAX),
        content: raw.content,
        event_id: raw.event.event_id.to_string(),
        event_body,
    })
}

/// A select of raw file rows (the columns `raw_from_row` reads) followed by `$tail`.
macro_rules! raw_select {
    ($tail:literal) => {
        raw_select!("", $tail)
    };
    ($extra:literal, $tail:literal) => {
        concat!("SELECT r.id, r.mime_types, r.secure_hash, r.hashed_at, b.body, r.hash_rule", $extra, " FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id", $tail)
    };
}

const RAW_SELECT_BY_ID: &str = raw_select!(" WHERE r.id = $1");
const RAW_SELECT_WITH_CONTENT_BY_ID: &str = raw_select!(", r.content", " WHERE r.id = $1");
const RAW_SELECT_BY_RUN: &str = raw_select!(" WHERE r.boefje_meta_id = $1 ORDER BY r.seq");
const RAW_SELECT_ALL: &str = raw_select!(" ORDER BY r.seq");

fn raw_from_row(row: &AnyRow) -> ServiceResult<(RawDataMeta, HashRule, String)> {
    let id: &str = row.get(0);
    let rule_marker: String = row.get(5);
    let rule = HashRule::parse(&rule_marker).ok_or_else(|| corrupt("hash rule", rule_marker))?;
    let meta = RawDataMeta {
        id: Uuid::parse_str(id).map_err(|e| corrupt("raw id", e))?,
        mime_types: serde_json::from_str(row.get::<&str, _>(1)).map_err(|e| corrupt("mime types", e))?,
        secure_hash: Some(row.get::<String, _>(2)),
        boefje_meta: serde_json::from_str(row.get::<&str, _>(4)).map_err(|e| corrupt("boefje meta", e))?,
        signing_provider_url: None,
        hash_retrieval_link: None,
    };
    Ok((meta, rule, row.get::<String, _>(3)))
}
