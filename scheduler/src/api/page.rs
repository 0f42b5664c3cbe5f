//! mula's paginated answer: `{count, next, previous, results,
//! is_partial_count}`, with `next` and `previous` as absolute URLs of the
//! same request with `offset` moved by `limit` (`next` also when the last
//! page is exactly full, as mula does).

use axum::http::{HeaderMap, Uri};
use serde::Serialize;
use serde_json::Value;

/// Paging read from the query: `offset` (at least 0) and `limit` (1 to 500, default 10).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// Skip this many.
    pub offset: i64,
    /// At most this many.
    pub limit: i64,
}

impl Paging {
    /// From `offset` and `limit` as mula clamps them.
    pub fn from_query(query: &kat_server::params::Query) -> Result<Paging, kat_server::ApiError> {
        let offset = query.number("offset", 0, i64::MIN, i64::MAX)?.max(0);
        let limit = query.number("limit", 10, i64::MIN, i64::MAX)?.clamp(1, 500);
        Ok(Paging { offset, limit })
    }
}

/// One page.
#[derive(Debug, Clone, Serialize)]
pub struct Paginated<T: Serialize> {
    /// How many match in all.
    pub count: i64,
    /// The next page's URL.
    pub next: Option<String>,
    /// The previous page's URL.
    pub previous: Option<String>,
    /// This page.
    pub results: Vec<T>,
    /// Whether `count` is a lower bound (never: counts are exact here).
    pub is_partial_count: bool,
}

fn with_offset(headers: &HeaderMap, uri: &Uri, offset: i64, limit: i64) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let mut pairs: Vec<String> = uri.query().unwrap_or_default().split('&').filter(|p| !p.is_empty() && !p.starts_with("offset=") && !p.starts_with("limit=")).map(str::to_string).collect();
    pairs.push(format!("limit={limit}"));
    pairs.push(format!("offset={offset}"));
    format!("http://{host}{}?{}", uri.path(), pairs.join("&"))
}

/// The page of `results` out of `count` at `paging`, for the request `uri`.
pub fn paginate<T: Serialize>(headers: &HeaderMap, uri: &Uri, paging: Paging, count: i64, results: Vec<T>) -> Paginated<T> {
    let Paging { offset, limit } = paging;
    let next = (offset + limit <= count && !results.is_empty()).then(|| with_offset(headers, uri, offset + limit, limit));
    let previous = (offset - limit >= 0).then(|| with_offset(headers, uri, offset - limit, limit));
    Paginated { count, next, previous, results, is_partial_count: false }
}

/// A page as JSON.
pub fn to_json<T: Serialize>(page: &Paginated<T>) -> Value {
    serde_json::to_value(page).unwrap_or(Value::Null)
}
