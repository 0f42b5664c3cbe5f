//! Bytes metadata in SQLite or PostgreSQL (`BYTES_DB_URI`) through one
//! `sqlx::AnyPool`: boefje metas, raw file metas (with the hash timestamp),
//! normalizer metas and the event outbox. Migrations for each backend are
//! embedded in the binary and run at open.
//!
//! JSON bodies are stored as text in OpenKAT's shapes, ids and timestamps as
//! text, flags and sizes as integers; placeholders are `$n`, which both
//! backends read. Only the JSON-searching list queries differ per backend
//! (see `queries`).

use std::path::Path;

use kat_core::events::RawFileReceived;
use kat_core::meta::{BoefjeMeta, NormalizerMeta, RawDataMeta};
use kat_core::services::{ServiceError, ServiceResult};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use uuid::Uuid;

/// The metadata database.
pub struct MetaDb {
    pool: AnyPool,
    postgres: bool,
}

fn db_error(e: sqlx::Error) -> ServiceError {
    ServiceError::unavailable(format!("bytes metadata database: {e}"))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("stored {what} is corrupt: {e}"))
}

impl MetaDb {
    /// Open (creating when missing) the SQLite file at `path`.
    pub async fn open(path: &Path) -> ServiceResult<MetaDb> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Connect to `sqlite://...` or `postgres://...` and run the migrations.
    pub async fn connect(url: &str) -> ServiceResult<MetaDb> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !sqlite && !postgres {
            return Err(ServiceError::invalid("BYTES_DB_URI must start with sqlite:// or postgres://").with_field("BYTES_DB_URI"));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| ServiceError::unavailable(format!("cannot open the bytes metadata database: {e}")))?;
        let migrated = if sqlite { sqlx::migrate!("./migrations/sqlite").run(&pool).await } else { sqlx::migrate!("./migrations/postgres").run(&pool).await };
        migrated.map_err(|e| ServiceError::unavailable(format!("migrating the bytes metadata database: {e}")))?;
        Ok(MetaDb { pool, postgres })
    }

    /// The connection pool (for the listing queries in `queries`).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database is PostgreSQL (the list queries differ).
    pub(crate) fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Insert or replace a boefje meta.
    pub async fn save_boefje_meta(&self, meta: &BoefjeMeta) -> ServiceResult<()> {
        let body = serde_json::to_string(meta).map_err(|e| ServiceError::invalid(e.to_string()))?;
        sqlx::query("INSERT INTO boefje_meta (id, organization, boefje_id, input_ooi, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET body = excluded.body")
            .bind(meta.id.to_string())
            .bind(&meta.organization)
            .bind(&meta.boefje.id)
            .bind(&meta.input_ooi)
            .bind(body)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// One boefje meta.
    pub async fn boefje_meta(&self, id: Uuid) -> ServiceResult<BoefjeMeta> {
        let row = sqlx::query("SELECT body FROM boefje_meta WHERE id = $1").bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        let row = row.ok_or_else(|| ServiceError::not_found(format!("no boefje meta {id}")))?;
        serde_json::from_str(row.get::<&str, _>(0)).map_err(|e| corrupt("boefje meta", e))
    }

    /// Insert a raw file's metadata and its event in one transaction.
    pub async fn insert_raw(&self, meta: &RawDataMeta, hashed_at: &str, size: usize, event: &RawFileReceived) -> ServiceResult<()> {
        let mime_types = serde_json::to_string(&meta.mime_types).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let body = serde_json::to_string(event).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("INSERT INTO raw_data (id, boefje_meta_id, mime_types, secure_hash, hashed_at, size) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(meta.id.to_string())
            .bind(meta.boefje_meta.id.to_string())
            .bind(mime_types)
            .bind(meta.secure_hash.clone().unwrap_or_default())
            .bind(hashed_at)
            .bind(i64::try_from(size).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("INSERT INTO outbox (event_id, body) VALUES ($1, $2)").bind(event.event_id.to_string()).bind(body).execute(&mut *tx).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    /// A raw file's metadata and the timestamp its hash covers.
    pub async fn raw_meta(&self, id: Uuid) -> ServiceResult<(RawDataMeta, String)> {
        let row = sqlx::query(RAW_SELECT_BY_ID).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        let row = row.ok_or_else(|| ServiceError::not_found(format!("no raw file {id}")))?;
        raw_from_row(&row)
    }

    /// Raw metas of one run, or of all runs, oldest first.
    pub async fn raw_metas(&self, boefje_meta_id: Option<Uuid>) -> ServiceResult<Vec<RawDataMeta>> {
        let rows = match boefje_meta_id {
            Some(id) => sqlx::query(RAW_SELECT_BY_RUN).bind(id.to_string()).fetch_all(&self.pool).await,
            None => sqlx::query(RAW_SELECT_ALL).fetch_all(&self.pool).await,
        }
        .map_err(db_error)?;
        rows.iter().map(|r| raw_from_row(r).map(|(m, _)| m)).collect()
    }

    /// Insert or replace a normalizer meta.
    pub async fn save_normalizer_meta(&self, meta: &NormalizerMeta) -> ServiceResult<()> {
        let body = serde_json::to_string(meta).map_err(|e| ServiceError::invalid(e.to_string()))?;
        sqlx::query("INSERT INTO normalizer_meta (id, raw_id, body) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET body = excluded.body")
            .bind(meta.id.to_string())
            .bind(meta.raw_data.id.to_string())
            .bind(body)
            .execute(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => ServiceError::not_found(format!("no raw file {}", meta.raw_data.id)),
                e => db_error(e),
            })?;
        Ok(())
    }

    /// Pending outbox events, oldest first.
    pub async fn pending_events(&self, limit: i64) -> ServiceResult<Vec<(i64, RawFileReceived)>> {
        let rows = sqlx::query("SELECT seq, body FROM outbox WHERE delivered = 0 ORDER BY seq LIMIT $1").bind(limit).fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(|r| Ok((r.get::<i64, _>(0), serde_json::from_str(r.get::<&str, _>(1)).map_err(|e| corrupt("event", e))?))).collect()
    }

    /// Mark outbox events delivered.
    pub async fn ack_events(&self, seqs: &[i64]) -> ServiceResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        for seq in seqs {
            sqlx::query("UPDATE outbox SET delivered = 1 WHERE seq = $1").bind(seq).execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }
}

const RAW_SELECT_BY_ID: &str = "SELECT r.id, r.mime_types, r.secure_hash, r.hashed_at, b.body FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id WHERE r.id = $1";
const RAW_SELECT_BY_RUN: &str = "SELECT r.id, r.mime_types, r.secure_hash, r.hashed_at, b.body FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id WHERE r.boefje_meta_id = $1 ORDER BY r.seq";
const RAW_SELECT_ALL: &str = "SELECT r.id, r.mime_types, r.secure_hash, r.hashed_at, b.body FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id ORDER BY r.seq";

fn raw_from_row(row: &AnyRow) -> ServiceResult<(RawDataMeta, String)> {
    let id = Uuid::parse_str(row.get::<&str, _>(0)).map_err(|e| corrupt("raw id", e))?;
    let meta = RawDataMeta {
        id,
        mime_types: serde_json::from_str(row.get::<&str, _>(1)).map_err(|e| corrupt("mime types", e))?,
        secure_hash: Some(row.get::<String, _>(2)),
        boefje_meta: serde_json::from_str(row.get::<&str, _>(4)).map_err(|e| corrupt("boefje meta", e))?,
        signing_provider_url: None,
        hash_retrieval_link: None,
    };
    Ok((meta, row.get::<String, _>(3)))
}
