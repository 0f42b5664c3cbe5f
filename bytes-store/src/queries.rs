//! Filtered listings of Bytes metadata for the REST API, with OpenKAT's
//! filter semantics, on SQLite or PostgreSQL (the JSON searches differ per
//! backend, see `Dialect`): boefje metas and normalizer metas (ordered by
//! `started_at`, ties in insertion order, as OpenKAT's tests expect), raw
//! metas (insertion order; `mime_types` must all be present on a file, as
//! OpenKAT's `@>`; several `organization`s and `raw_ids` match any of them),
//! the count of raw files per mime type under the same filters, and the
//! counts behind `/metrics`.

use kat_core::meta::{BoefjeMeta, NormalizerMeta};
use kat_core::services::{ServiceError, ServiceResult};
use sqlx::any::AnyArguments;
use sqlx::{Any, Row};
use uuid::Uuid;

use crate::meta_db::{db_error, MetaDb};

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
    /// Only runs on this object (`None` or `*`: any object).
    pub input_ooi: Option<String>,
}

/// Filters of `GET /bytes/normalizer_meta`.
#[derive(Debug, Clone, Default)]
pub struct NormalizerMetaFilter {
    /// Only runs on this organisation's raw files.
    pub organization: Option<String>,
    /// Only runs of this normalizer.
    pub normalizer_id: Option<String>,
    /// Only runs on this raw file.
    pub raw_id: Option<Uuid>,
}

/// Filters of `GET /bytes/raw`, `/bytes/raws` and `/bytes/mime_types`.
#[derive(Debug, Clone, Default)]
pub struct RawFilter {
    /// Only files of these organisations (empty: any).
    pub organizations: Vec<String>,
    /// Only files of this run.
    pub boefje_meta_id: Option<Uuid>,
    /// Only these files (empty: any).
    pub raw_ids: Vec<Uuid>,
    /// Only files that were (true) or were not (false) normalized.
    pub normalized: Option<bool>,
    /// Only files carrying all of these mime types.
    pub mime_types: Vec<String>,
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
    /// A subquery giving the strings of the JSON array text `{}` as the column `value`.
    json_list: &'static str,
    /// The FROM item that turns `r.mime_types` into rows `j`, and the mime type of a row.
    mime_rows: (&'static str, &'static str),
}

const SQLITE: Dialect = Dialect {
    order: "rowid",
    normalizer_id: "json_extract(n.body, '$.normalizer.id')",
    json_list: "SELECT value FROM json_each({})",
    mime_rows: ("json_each(r.mime_types) j", "json_extract(j.value, '$.value')"),
};

const POSTGRES: Dialect = Dialect {
    order: "seq",
    normalizer_id: "(n.body::jsonb -> 'normalizer' ->> 'id')",
    json_list: "SELECT value FROM jsonb_array_elements_text({}::jsonb)",
    mime_rows: ("jsonb_array_elements(r.mime_types::jsonb) j", "(j.value ->> 'value')"),
};

fn direction(page: Page) -> &'static str {
    if page.descending { "DESC" } else { "ASC" }
}

/// A JSON array of the strings, or NULL for none (the filter is then off).
fn json_list<T: ToString>(items: &[T]) -> Option<String> {
    (!items.is_empty()).then(|| serde_json::Value::from(items.iter().map(ToString::to_string).collect::<Vec<_>>()).to_string())
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

impl MetaDb {
    fn dialect(&self) -> &'static Dialect {
        if self.is_postgres() { &POSTGRES } else { &SQLITE }
    }

    /// `ORDER BY` for meta lists: `started_at` in the page's direction (runs without one last), ties in insertion order.
    fn started_at_order(&self, prefix: &str, page: Page) -> String {
        format!("ORDER BY ({prefix}started_at_us IS NULL), {prefix}started_at_us {}, {prefix}{} ASC", direction(page), self.dialect().order)
    }

    /// Boefje metas matching `filter`.
    pub async fn boefje_metas(&self, filter: &BoefjeMetaFilter, page: Page) -> ServiceResult<Vec<BoefjeMeta>> {
        let input_ooi = filter.input_ooi.as_deref().filter(|i| *i != "*");
        let sql = format!(
            "SELECT body FROM boefje_meta WHERE ($1 IS NULL OR organization = $1) AND ($2 IS NULL OR boefje_id = $2) AND ($3 IS NULL OR input_ooi = $3) {} LIMIT $4 OFFSET $5",
            self.started_at_order("", page)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&filter.organization)
            .bind(&filter.boefje_id)
            .bind(input_ooi)
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
    pub async fn normalizer_metas(&self, filter: &NormalizerMetaFilter, page: Page) -> ServiceResult<Vec<NormalizerMeta>> {
        let sql = format!(
            "SELECT n.body FROM normalizer_meta n JOIN raw_data r ON r.id = n.raw_id JOIN boefje_meta b ON b.id = r.boefje_meta_id \
             WHERE ($1 IS NULL OR b.organization = $1) AND ($2 IS NULL OR {} = $2) AND ($3 IS NULL OR n.raw_id = $3) {} LIMIT $4 OFFSET $5",
            self.dialect().normalizer_id,
            self.started_at_order("n.", page)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&filter.organization)
            .bind(&filter.normalizer_id)
            .bind(filter.raw_id.map(|r| r.to_string()))
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| parse("normalizer meta", r.get::<&str, _>(0))).collect()
    }

    /// The normalizer metas with these ids (`GET /bytes/normalizer_metas`), by `started_at` then insertion order.
    pub async fn normalizer_metas_by_id(&self, ids: &[Uuid], page: Page) -> ServiceResult<Vec<NormalizerMeta>> {
        let list = self.dialect().json_list.replace("{}", "$1");
        let sql = format!("SELECT n.body FROM normalizer_meta n WHERE n.id IN ({list}) {} LIMIT $2 OFFSET $3", self.started_at_order("n.", page));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json_list(ids)).bind(page.limit).bind(page.offset).fetch_all(self.pool()).await.map_err(db_error)?;
        rows.iter().map(|r| parse("normalizer meta", r.get::<&str, _>(0))).collect()
    }

    /// The `WHERE` clause of a raw file filter over `raw_data r JOIN boefje_meta b`, with parameters `$1`..`$5`.
    fn raw_where(&self) -> String {
        let d = self.dialect();
        let list = |n: &str| d.json_list.replace("{}", n);
        let (rows_of, mime) = d.mime_rows;
        format!(
            "WHERE ($1 IS NULL OR b.organization IN ({})) AND ($2 IS NULL OR r.boefje_meta_id = $2) AND ($3 IS NULL OR r.id IN ({})) \
             AND ($4 IS NULL OR ($4 = 1) = EXISTS (SELECT 1 FROM normalizer_meta n WHERE n.raw_id = r.id)) \
             AND ($5 IS NULL OR NOT EXISTS (SELECT 1 FROM ({}) w WHERE NOT EXISTS (SELECT 1 FROM {rows_of} WHERE {mime} = w.value)))",
            list("$1"),
            list("$3"),
            list("$5"),
        )
    }

    fn bind_raw_filter<'q>(query: AnyQuery<'q>, filter: &RawFilter) -> AnyQuery<'q> {
        query
            .bind(json_list(&filter.organizations))
            .bind(filter.boefje_meta_id.map(|id| id.to_string()))
            .bind(json_list(&filter.raw_ids))
            .bind(filter.normalized.map(i64::from))
            .bind(json_list(&filter.mime_types))
    }

    /// Ids of the raw files matching `filter`, in insertion order.
    pub async fn raw_ids(&self, filter: &RawFilter, page: Page) -> ServiceResult<Vec<Uuid>> {
        let sql = format!("SELECT r.id FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id {} ORDER BY r.seq {} LIMIT $6 OFFSET $7", self.raw_where(), direction(page));
        let rows = Self::bind_raw_filter(sqlx::query(sqlx::AssertSqlSafe(sql)), filter).bind(page.limit).bind(page.offset).fetch_all(self.pool()).await.map_err(db_error)?;
        rows.iter().map(|r| Uuid::parse_str(r.get::<&str, _>(0)).map_err(|e| ServiceError::internal(format!("stored raw id is corrupt: {e}")))).collect()
    }

    /// How many raw files matching `filter` carry each mime type.
    pub async fn mime_type_counts(&self, filter: &RawFilter) -> ServiceResult<Vec<(String, i64)>> {
        let (rows_of, mime) = self.dialect().mime_rows;
        let sql = format!("SELECT {mime} AS m, count(*) FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id CROSS JOIN {rows_of} {} GROUP BY m ORDER BY m", self.raw_where());
        let rows = Self::bind_raw_filter(sqlx::query(sqlx::AssertSqlSafe(sql)), filter).fetch_all(self.pool()).await.map_err(db_error)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))).collect())
    }

    /// How many raw files are stored, and how many events wait in the outbox.
    pub async fn counts(&self) -> ServiceResult<(i64, i64)> {
        let row = sqlx::query("SELECT (SELECT count(*) FROM raw_data), (SELECT count(*) FROM outbox WHERE delivered = 0)").fetch_one(self.pool()).await.map_err(db_error)?;
        Ok((row.get::<i64, _>(0), row.get::<i64, _>(1)))
    }

    /// Raw files per organisation (organisations without raw files are left out, as OpenKAT's metric does).
    pub async fn raw_files_per_organization(&self) -> ServiceResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT b.organization, count(*) FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id GROUP BY b.organization ORDER BY b.organization")
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))).collect())
    }

    /// The raw file of a run with exactly these mime types, if one was saved already.
    pub async fn raw_with_mime_types(&self, boefje_meta_id: Uuid, mime_types: &str) -> ServiceResult<Option<Uuid>> {
        let row = sqlx::query("SELECT id FROM raw_data WHERE boefje_meta_id = $1 AND mime_types = $2").bind(boefje_meta_id.to_string()).bind(mime_types).fetch_optional(self.pool()).await.map_err(db_error)?;
        row.map(|row| Uuid::parse_str(row.get::<&str, _>(0)).map_err(|e| ServiceError::internal(format!("stored raw id is corrupt: {e}")))).transpose()
    }
}
