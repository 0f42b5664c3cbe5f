//! Reading path and query parameters the way OpenKAT's FastAPI does, with
//! every rejection a JSON 422 naming the parameter: [`Params`] holds the
//! query pairs (repeatable names such as `organization`, `raw_ids` and
//! `mime_types` give lists; for a single value the last one counts) and
//! [`IdPath`] the UUID of a `/.../{id}` route. Organisation ids are checked
//! with `kat_core::ids::check_organisation_id` wherever they enter.

use axum::extract::{FromRequestParts, Query, RawPathParams};
use axum::http::request::Parts;
use kat_core::ids::{check_organisation_id, check_text};
use kat_core::services::ServiceError;
use kat_server::ApiError;
use uuid::Uuid;

/// The largest page a list returns, whatever `limit` asks.
pub const MAX_LIMIT: i64 = 10_000;

fn invalid(name: &str, what: &str) -> ApiError {
    ApiError(ServiceError::invalid(format!("{name} must be {what}")).with_field(name))
}

/// The query string as name/value pairs.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError(ServiceError::invalid(format!("the query string cannot be read: {}", e.body_text())).with_field("query")))?;
        for (name, value) in &pairs {
            check_text(name, "query").and_then(|()| check_text(value, name)).map_err(ApiError)?;
        }
        Ok(Params(pairs))
    }
}

impl Params {
    /// The last value of `name`.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// `name` as a UUID.
    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.one(name).map(|v| Uuid::parse_str(v.trim()).map_err(|_| invalid(name, "a UUID"))).transpose()
    }

    /// Every value of `name` as a UUID.
    pub fn uuids(&self, name: &str) -> Result<Vec<Uuid>, ApiError> {
        self.all(name).iter().map(|v| Uuid::parse_str(v.trim()).map_err(|_| invalid(name, "a list of UUIDs"))).collect()
    }

    /// `name` as a boolean, spelled as pydantic accepts it (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.one(name)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
                "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
                _ => Err(invalid(name, "true or false")),
            })
            .transpose()
    }

    /// `name` as a whole number of at least 0, `default` when absent; above `max` counts as `max`.
    pub fn count(&self, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
        self.one(name).map_or(Ok(default), |v| v.trim().parse::<i64>().ok().filter(|n| *n >= 0).map(|n| n.min(max)).ok_or_else(|| invalid(name, "a whole number of at least 0")))
    }

    /// `name` as an organisation id.
    pub fn organization(&self, name: &str) -> Result<Option<String>, ApiError> {
        let value = self.one(name).map(str::to_string);
        if let Some(id) = &value {
            check_organisation_id(id, name).map_err(ApiError)?;
        }
        Ok(value)
    }

    /// Every value of `name` as an organisation id.
    pub fn organizations(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let ids = self.all(name);
        ids.iter().try_for_each(|id| check_organisation_id(id, name)).map_err(ApiError)?;
        Ok(ids)
    }

    /// `name` as free text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.one(name).map(str::to_string)
    }
}

/// The UUID in a route's one path parameter (`/raw/{raw_id}`); anything else is 422 naming the parameter.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|e| ApiError(ServiceError::invalid(format!("the path cannot be read: {}", e.body_text())).with_field("path")))?;
        let (name, value) = params.iter().next().ok_or_else(|| ApiError(ServiceError::invalid("the path names no id").with_field("path")))?;
        Uuid::parse_str(value).map(IdPath).map_err(|_| invalid(name, "a UUID"))
    }
}

/// The documentation of each route's query parameters (for `/openapi.json`), with the bounds the readers above
/// enforce; the `IntoParams` types below are used only in the handlers' `#[utoipa::path]` annotations.
pub mod documented {
    use serde_json::json;
    use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::{RefOr, Required};
    use utoipa::IntoParams;

    use super::MAX_LIMIT;
    use crate::api::schemas::{array, count, organisation_id, text, uuid};

    fn query(name: &str, schema: impl Into<RefOr<Schema>>, required: bool, description: &str) -> Parameter {
        let required = if required { Required::True } else { Required::False };
        ParameterBuilder::new().name(name).parameter_in(ParameterIn::Query).required(required).schema(Some(schema)).description(Some(description)).build()
    }

    /// A UUID in the path.
    fn path_uuid(name: &str) -> Parameter {
        ParameterBuilder::new().name(name).parameter_in(ParameterIn::Path).required(Required::True).schema(Some(uuid())).build()
    }

    /// A repeatable parameter (`?name=a&name=b`).
    fn repeated(name: &str, items: impl Into<RefOr<Schema>>, required: bool, description: &str) -> Parameter {
        let mut schema = array(items.into());
        if required {
            schema = schema.min_items(Some(1));
        }
        let mut parameter = query(name, schema, required, description);
        parameter.style = Some(ParameterStyle::Form);
        parameter.explode = Some(true);
        parameter
    }

    fn limit(default: i64) -> Parameter {
        query("limit", count().default(Some(json!(default))), false, &format!("at most this many (default {default}); above {MAX_LIMIT} counts as {MAX_LIMIT}"))
    }

    fn offset() -> Parameter {
        query("offset", count().default(Some(json!(0))), false, "skip this many first")
    }

    fn boolean(name: &str, description: &str) -> Parameter {
        query(name, ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)), false, &format!("{description} (true/false, 1/0, yes/no, on/off, t/f, y/n)"))
    }

    fn descending(default: bool, order: &str) -> Parameter {
        boolean("descending", &format!("{order}, newest first (default {default})"))
    }

    fn organization() -> Parameter {
        query("organization", organisation_id(), false, "only this organisation's runs")
    }

    fn organizations() -> Parameter {
        repeated("organization", organisation_id(), false, "repeatable: only raw files of these organisations")
    }

    /// The query of a raw-file list: filters, then paging when `paged`.
    fn raw_filter(raw_ids: bool, paged: bool) -> Vec<Parameter> {
        let mut params = vec![organizations(), query("boefje_meta_id", uuid(), false, "only files of this run")];
        if raw_ids {
            params.push(repeated("raw_ids", uuid(), false, "repeatable: only these raw files"));
        }
        params.push(boolean("normalized", "only files that were (true) or were never (false) read by a normalizer"));
        params.push(repeated("mime_types", text(), false, "repeatable: only files with all of these mime types"));
        if paged {
            params.extend([limit(1), offset(), descending(false, "in the order they were saved")]);
        }
        params
    }

    /// Declare a set of query parameters for `#[utoipa::path(params(..))]`.
    macro_rules! params {
        ($(#[$doc:meta])* $ty:ident, $build:expr) => {
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;

            impl IntoParams for $ty {
                fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                    $build
                }
            }
        };
    }

    params!(
        /// `GET /bytes/boefje_meta`.
        BoefjeMetaQuery,
        vec![
            organization(),
            query("boefje_id", text(), false, "only runs of this boefje"),
            query("input_ooi", text(), false, "only runs on this object; * or absent: any object"),
            limit(1),
            offset(),
            descending(true, "by started_at, ties in the order they were saved"),
        ]
    );

    params!(
        /// `GET /bytes/normalizer_meta`.
        NormalizerMetaQuery,
        vec![
            organization(),
            query("normalizer_id", text(), false, "only runs of this normalizer"),
            query("raw_id", uuid(), false, "only runs on this raw file"),
            limit(1),
            offset(),
            descending(true, "by started_at, ties in the order they were saved"),
        ]
    );

    params!(
        /// `GET /bytes/normalizer_metas`.
        NormalizerMetasQuery,
        vec![repeated("normalizer_metas", uuid(), true, "repeatable: the normalizer meta ids to look up"), limit(100), offset()]
    );

    params!(
        /// `GET /bytes/raw` and `GET /bytes/raws`.
        RawQuery,
        raw_filter(true, true)
    );

    params!(
        /// `GET /bytes/mime_types`.
        MimeTypesQuery,
        raw_filter(false, false)
    );

    params!(
        /// `/bytes/boefje_meta/{boefje_meta_id}`.
        BoefjeMetaId,
        vec![path_uuid("boefje_meta_id")]
    );

    params!(
        /// `/bytes/normalizer_meta/{normalizer_meta_id}`.
        NormalizerMetaId,
        vec![path_uuid("normalizer_meta_id")]
    );

    params!(
        /// `/bytes/raw/{raw_id}` and `/bytes/raw/{raw_id}/meta`.
        RawId,
        vec![path_uuid("raw_id")]
    );

    params!(
        /// `POST /bytes/raw`.
        SaveRawQuery,
        vec![query("boefje_meta_id", uuid(), true, "the run the files belong to")]
    );
}
