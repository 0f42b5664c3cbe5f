//! Path and query parameters of the Bytes API: read by `kat_server::params`
//! ([`Params`] holds the query pairs, where repeatable names such as
//! `organization`, `raw_ids` and `mime_types` give lists and for a single
//! value the last one counts; [`IdPath`] the UUID of a `/.../{id}` route),
//! and documented for `/openapi.json` with the bounds those readers enforce.

/// The largest page a list returns, whatever `limit` asks.
pub const MAX_LIMIT: i64 = 10_000;

/// The query pairs and the UUID of a `/.../{id}` route, read by `kat_server::params` (every rejection a 422
/// naming the parameter, organisation ids checked).
pub use kat_server::params::{Id as IdPath, Query as Params};

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
