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
    pub(crate) async fn apply(&self, conn: &mut AnyConnection) -> ServiceResult<()> {
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
                let done = sqlx::query("INSERT INTO normalizer_meta (id, raw_id, started_at_us, body) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
                    .bind(id)
                    .bind(raw_id)
                    .bind(started_at_us)
                    .bind(body)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(d) if d.is_foreign_key_violation() => ServiceError::not_found(format!("no raw file {raw_id}")),
                        e => db_error(e),
                    })?;
                if done.rows_affected() == 0 {
                    return Err(integrity_error("id"));
                }
                Ok(())
            }
        }
    }
}

impl MetaRow {
    async fn insert(&self, conn: &mut AnyConnection) -> ServiceResult<()> {
        let MetaRow { id, organization, boefje_id, input_ooi, started_at_us, body } = self;
        let done = sqlx::query("INSERT INTO boefje_meta (id, organization, boefje_id, input_ooi, started_at_us, body) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
            .bind(id)
            .bind(organization)
            .bind(boefje_id)
            .bind(input_ooi)
            .bind(started_at_us)
            .bind(body)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(integrity_error("id"));
        }
        Ok(())
    }
}

impl RawRow {
    async fn insert(&self, conn: &mut AnyConnection) -> ServiceResult<()> {
        let RawRow { id, boefje_meta_id, mime_types, secure_hash, hashed_text, rule, size, content, event_id, event_body } = self;
        sqlx::query("INSERT INTO raw_data (id, boefje_meta_id, mime_types, secure_hash, hashed_at, hash_rule, size, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(id)
            .bind(boefje_meta_id)
            .bind(mime_types)
            .bind(secure_hash)
            .bind(hashed_text)
            .bind(*rule)
            .bind(size)
            .bind(content.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        sqlx::query("INSERT INTO outbox (event_id, body) VALUES ($1, $2)").bind(event_id).bind(event_body).execute(&mut *conn).await.map_err(db_error)?;
        Ok(())
    }
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
            let result = write.apply(&mut tx).await;
            if result.is_err() {
                sqlx::query("ROLLBACK TO SAVEPOINT kat_write").execute(&mut *tx).await?;
            }
            sqlx::query("RELEASE SAVEPOINT kat_write").execute(&mut *tx).await?;
            results.push(result);
        }
        tx.commit().await
    }
    .await;
    match committed {
        Ok(()) => senders.into_iter().zip(results).for_each(|(sender, result)| {
            let _ = sender.send(result);
        }),
        Err(e) => {
            let error = db_error(e);
            for sender in senders {
                let _ = sender.send(Err(error.clone()));
            }
        }
    }
}
