//! Filtered listings of Bytes metadata for the REST API (OpenKAT's list
//! filters), on SQLite or PostgreSQL (the JSON searches differ per
//! backend, see `Dialect`): boefje metas, normalizer metas, raw metas, and the
//! count of raw files per mime type.

use kat_core::meta::{BoefjeMeta, NormalizerMeta, RawDataMeta};
use kat_core::services::{ServiceError, ServiceResult};
use sqlx::Row;
use uuid::Uuid;

use crate::meta_db::MetaDb;

/// Paging shared by every list.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// At most this many rows.
    pub limit: i64,
    /// Skip this many rows first.
    pub offset: i64,
    /// Newest first.
    pub descending: bool,
}

impl Default for Page {
    fn default() -> Self {
        Page { limit: 100, offset: 0, descending: false }
    }
}

/// Filters of `GET /bytes/boefje_meta`.
#[derive(Debug, Clone, Default)]
pub struct BoefjeMetaFilter {
    /// Only this organisation's runs.
    pub organization: Option<String>,
    /// Only runs of this boefje.
    pub boefje_id: Option<String>,
    /// Only runs on this object.
    pub input_ooi: Option<String>,
}

/// Filters of `GET /bytes/raw`.
#[derive(Debug, Clone, Default)]
pub struct RawFilter {
    /// Only this organisation's files.
    pub organization: Option<String>,
    /// Only files of this run.
    pub boefje_meta_id: Option<Uuid>,
    /// Only files that were (true) or were not (false) normalized.
    pub normalized: Option<bool>,
    /// Only files carrying one of these mime types.
    pub mime_types: Vec<String>,
}

fn db_error(e: sqlx::Error) -> ServiceError {
    ServiceError::unavailable(format!("bytes metadata database: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> ServiceResult<T> {
    serde_json::from_str(text).map_err(|e| ServiceError::internal(format!("stored {what} is corrupt: {e}")))
}

/// The SQL that differs between SQLite and PostgreSQL.
struct Dialect {
    /// The insertion-order column of `boefje_meta` and `normalizer_meta`.
    order: &'static str,
    /// The normalizer id inside a normalizer meta body `n.body`.
    normalizer_id: &'static str,
    /// True when raw file `r` carries one of the mime types in the JSON array `$4`.
    mime_match: &'static str,
    /// The FROM item that turns `r.mime_types` into rows `j`, and the mime type of a row.
    mime_rows: (&'static str, &'static str),
}

const SQLITE: Dialect = Dialect {
    order: "rowid",
    normalizer_id: "json_extract(n.body, '$.normalizer.id')",
    mime_match: "EXISTS (SELECT 1 FROM json_each(r.mime_types) j, json_each($4) w WHERE json_extract(j.value, '$.value') = w.value)",
    mime_rows: ("json_each(r.mime_types) j", "json_extract(j.value, '$.value')"),
};

const POSTGRES: Dialect = Dialect {
    order: "seq",
    normalizer_id: "(n.body::jsonb -> 'normalizer' ->> 'id')",
    mime_match: "EXISTS (SELECT 1 FROM jsonb_array_elements(r.mime_types::jsonb) j, jsonb_array_elements_text($4::jsonb) w WHERE j.value ->> 'value' = w.value)",
    mime_rows: ("jsonb_array_elements(r.mime_types::jsonb) j", "(j.value ->> 'value')"),
};

fn direction(page: Page) -> &'static str {
    if page.descending { "DESC" } else { "ASC" }
}

impl MetaDb {
    fn dialect(&self) -> &'static Dialect {
        if self.is_postgres() { &POSTGRES } else { &SQLITE }
    }

    /// Boefje metas matching `filter`.
    pub async fn boefje_metas(&self, filter: &BoefjeMetaFilter, page: Page) -> ServiceResult<Vec<BoefjeMeta>> {
        let sql = format!(
            "SELECT body FROM boefje_meta WHERE ($1 IS NULL OR organization = $1) AND ($2 IS NULL OR boefje_id = $2) AND ($3 IS NULL OR input_ooi = $3) ORDER BY {} {} LIMIT $4 OFFSET $5",
            self.dialect().order,
            direction(page)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&filter.organization)
            .bind(&filter.boefje_id)
            .bind(&filter.input_ooi)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| parse("boefje meta", r.get::<&str, _>(0))).collect()
    }

    /// One normalizer meta.
    pub async fn normalizer_meta(&self, id: Uuid) -> ServiceResult<NormalizerMeta> {
        let row = sqlx::query("SELECT body FROM normalizer_meta WHERE id = $1").bind(id.to_string()).fetch_optional(self.pool()).await.map_err(db_error)?;
        parse("normalizer meta", row.ok_or_else(|| ServiceError::not_found(format!("no normalizer meta {id}")))?.get::<&str, _>(0))
    }

    /// Normalizer metas of an organisation, a normalizer or a raw file.
    pub async fn normalizer_metas(&self, organization: Option<&str>, normalizer_id: Option<&str>, raw_id: Option<Uuid>, page: Page) -> ServiceResult<Vec<NormalizerMeta>> {
        let d = self.dialect();
        let sql = format!(
            "SELECT n.body FROM normalizer_meta n JOIN raw_data r ON r.id = n.raw_id JOIN boefje_meta b ON b.id = r.boefje_meta_id \
             WHERE ($1 IS NULL OR b.organization = $1) AND ($2 IS NULL OR {} = $2) AND ($3 IS NULL OR n.raw_id = $3) ORDER BY n.{} {} LIMIT $4 OFFSET $5",
            d.normalizer_id,
            d.order,
            direction(page)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization)
            .bind(normalizer_id)
            .bind(raw_id.map(|r| r.to_string()))
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| parse("normalizer meta", r.get::<&str, _>(0))).collect()
    }

    /// Ids of the raw files matching `filter`.
    pub async fn raw_ids(&self, filter: &RawFilter, page: Page) -> ServiceResult<Vec<Uuid>> {
        let mime_types = (!filter.mime_types.is_empty()).then(|| serde_json::Value::from(filter.mime_types.clone()).to_string());
        let sql = format!(
            "SELECT r.id FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id WHERE ($1 IS NULL OR b.organization = $1) AND ($2 IS NULL OR r.boefje_meta_id = $2) \
             AND ($3 IS NULL OR ($3 = 1) = EXISTS (SELECT 1 FROM normalizer_meta n WHERE n.raw_id = r.id)) AND ($4 IS NULL OR {}) ORDER BY r.seq {} LIMIT $5 OFFSET $6",
            self.dialect().mime_match,
            direction(page)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&filter.organization)
            .bind(filter.boefje_meta_id.map(|id| id.to_string()))
            .bind(filter.normalized.map(i64::from))
            .bind(mime_types)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| Uuid::parse_str(r.get::<&str, _>(0)).map_err(|e| ServiceError::internal(format!("stored raw id is corrupt: {e}")))).collect()
    }

    /// How many raw files carry each mime type, optionally within one organisation.
    pub async fn mime_type_counts(&self, organization: Option<&str>) -> ServiceResult<Vec<(String, i64)>> {
        let (rows_of, mime) = self.dialect().mime_rows;
        let sql = format!("SELECT {mime} AS m, count(*) FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id CROSS JOIN {rows_of} WHERE ($1 IS NULL OR b.organization = $1) GROUP BY m ORDER BY m");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(organization)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))).collect())
    }

    /// How many raw files are stored, and how many events wait in the outbox.
    pub async fn counts(&self) -> ServiceResult<(i64, i64)> {
        let row = sqlx::query("SELECT (SELECT count(*) FROM raw_data), (SELECT count(*) FROM outbox WHERE delivered = 0)").fetch_one(self.pool()).await.map_err(db_error)?;
        Ok((row.get::<i64, _>(0), row.get::<i64, _>(1)))
    }

    /// The raw file of a run with exactly these mime types, if one was saved already.
    pub async fn raw_with_mime_types(&self, boefje_meta_id: Uuid, mime_types: &str) -> ServiceResult<Option<RawDataMeta>> {
        let row = sqlx::query("SELECT id FROM raw_data WHERE boefje_meta_id = $1 AND mime_types = $2").bind(boefje_meta_id.to_string()).bind(mime_types).fetch_optional(self.pool()).await.map_err(db_error)?;
        match row {
            Some(row) => {
                let id = Uuid::parse_str(row.get::<&str, _>(0)).map_err(|e| ServiceError::internal(format!("stored raw id is corrupt: {e}")))?;
                Ok(Some(self.raw_meta(id).await?.0))
            }
            None => Ok(None),
        }
    }
}
