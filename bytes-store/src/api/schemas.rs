//! The shapes of the OpenAPI document (`/openapi.json`), written to say
//! exactly what the handlers accept and answer, so that a client (or
//! schemathesis) that follows the document is never refused and one that
//! breaks it is. The core types (`kat_core::meta::BoefjeMeta`, ...) do not
//! depend on utoipa, so each body and answer is described here by a marker
//! type whose schema is built by hand; `tests/openapi.rs` checks that what
//! the real types serialise is valid against these schemas, so the two
//! cannot drift apart.
//!
//! Rules carried into the schemas: no string or object key may hold a NUL
//! character anywhere in a body or a query (the server refuses it, see
//! `kat_core::ids`); unknown object fields are ignored (so objects stay open,
//! but their extra values obey the NUL rule too); organisation ids follow
//! `kat_core::ids::is_organisation_id`; mime types are 1 to 255 visible
//! ASCII characters; file contents are standard base64 with canonical
//! padding, as the `base64` crate decodes it after trimming white space.

use std::borrow::Cow;

use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, Object, ObjectBuilder, Ref, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// Text without a NUL character.
pub const NO_NUL: &str = r"^[^\x00]*$";
/// An organisation id (`kat_core::ids::is_organisation_id`).
pub const ORGANISATION_ID: &str = "^[A-Za-z0-9_-]{1,32}$";
/// A mime type tag of a raw file: 1 to 255 visible ASCII characters.
pub const MIME_TYPE: &str = "^[!-~]{1,255}$";
/// White space as Rust's `str::trim` removes it (Unicode `White_Space`).
const TRIMMED: &str = r"[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*";
/// Standard base64 with canonical padding and zero trailing bits (between [`TRIMMED`] white space).
const BASE64_BODY: &str = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?";

/// A string schema.
fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::new(Type::String))
}

/// Text without NUL characters.
pub fn text() -> ObjectBuilder {
    string().pattern(Some(NO_NUL))
}

/// Text without NUL characters, or null.
pub fn text_or_null() -> ObjectBuilder {
    text().schema_type([Type::String, Type::Null].into_iter().collect::<SchemaType>())
}

/// A UUID as a string.
pub fn uuid() -> ObjectBuilder {
    string().format(Some(SchemaFormat::Custom("uuid".into())))
}

/// An RFC 3339 date and time with its offset, or null.
pub fn date_time_or_null() -> ObjectBuilder {
    ObjectBuilder::new().schema_type([Type::String, Type::Null].into_iter().collect::<SchemaType>()).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

/// An organisation id.
pub fn organisation_id() -> ObjectBuilder {
    string().pattern(Some(ORGANISATION_ID))
}

/// A mime type tag.
pub fn mime_type() -> ObjectBuilder {
    string().pattern(Some(MIME_TYPE))
}

/// Base64 contents as the raw routes decode them.
pub fn base64() -> ObjectBuilder {
    string().pattern(Some(format!("^{TRIMMED}{BASE64_BODY}{TRIMMED}$"))).content_encoding("base64")
}

/// A whole number from 0 to `i64::MAX`.
pub fn count() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::new(Type::Integer)).format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))).minimum(Some(0)).maximum(Some(i64::MAX))
}

/// An array of `items`.
pub fn array(items: impl Into<RefOr<Schema>>) -> ArrayBuilder {
    ArrayBuilder::new().items(items.into())
}

/// A reference to the component `name`.
fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// Any JSON value without NUL characters ([`JsonValue`]).
pub fn json_value() -> RefOr<Schema> {
    reference(JsonValue::NAME)
}

/// An object whose keys are free text and whose values are `values`.
fn map(values: impl Into<RefOr<Schema>>) -> ObjectBuilder {
    ObjectBuilder::new().property_names(Some(text().build())).additional_properties(Some(AdditionalProperties::RefOr(values.into())))
}

/// An object with `properties` (name, schema, required) whose other fields are ignored (any JSON without NUL).
fn open_object(properties: Vec<(&str, RefOr<Schema>, bool)>) -> Object {
    let mut object = map(json_value());
    for (name, schema, required) in properties {
        object = object.property(name, schema);
        if required {
            object = object.required(name);
        }
    }
    object.build()
}

/// An object with exactly `properties` (the answers the server builds itself).
fn closed_object(properties: Vec<(&str, RefOr<Schema>)>) -> Object {
    let mut object = ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, schema) in properties {
        object = object.property(name, schema).required(name);
    }
    object.build()
}

fn owned(schema: impl Into<Schema>) -> RefOr<Schema> {
    RefOr::T(schema.into())
}

/// Declare a marker type documenting one component: `$ty` is named `$name` in the document, its schema is
/// `$schema`, and the components it refers to are `$dep`s.
macro_rules! component {
    ($(#[$doc:meta])* $ty:ident, [$($dep:ty),*], $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $ty;

        impl $ty {
            /// The component's name in the document.
            pub const NAME: &'static str = stringify!($ty);
        }

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                owned($schema)
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($ty))
            }

            #[allow(unused_variables, reason = "components without dependencies add nothing")]
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                $(
                    schemas.push((<$dep as ToSchema>::name().into_owned(), <$dep as PartialSchema>::schema()));
                    <$dep as ToSchema>::schemas(schemas);
                )*
            }
        }
    };
}

component!(
    /// Any JSON value whose strings and keys hold no NUL character (boefje arguments, ignored fields).
    JsonValue,
    [],
    AnyOfBuilder::new()
        .item(text().build())
        .item(ObjectBuilder::new().schema_type([Type::Number, Type::Boolean, Type::Null].into_iter().collect::<SchemaType>()).build())
        .item(array(json_value()).build())
        .item(map(json_value()).schema_type(SchemaType::new(Type::Object)).build())
        .description(Some("any JSON value without NUL characters in its strings and keys"))
        .build()
);

component!(
    /// A plugin named in metadata (`kat_core::meta::PluginRef`).
    PluginRef,
    [JsonValue],
    open_object(vec![("id", owned(text()), true), ("version", owned(text_or_null()), false)])
);

/// A boefje meta; `new` for one being saved, which needs both times.
fn boefje_meta(new: bool) -> Object {
    let time = |description: &str| if new { string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))) } else { date_time_or_null() }.description(Some(description));
    open_object(vec![
        ("id", owned(uuid()), true),
        ("started_at", owned(time("when the boefje started")), new),
        ("ended_at", owned(time("when it ended; a raw file's hash covers it")), new),
        ("boefje", reference(PluginRef::NAME), true),
        ("input_ooi", owned(text_or_null()), false),
        ("arguments", owned(map(json_value()).schema_type(SchemaType::new(Type::Object))), false),
        ("organization", owned(organisation_id()), true),
        ("runnable_hash", owned(text_or_null()), false),
        ("environment", owned(map(owned(text())).schema_type([Type::Object, Type::Null].into_iter().collect::<SchemaType>())), false),
    ])
}

component!(
    /// One boefje run (`kat_core::meta::BoefjeMeta`) as stored and served.
    BoefjeMeta,
    [PluginRef, JsonValue],
    boefje_meta(false)
);

component!(
    /// A boefje run being saved (`POST /bytes/boefje_meta`): as OpenKAT's model, `started_at` and `ended_at` are required.
    NewBoefjeMeta,
    [PluginRef, JsonValue],
    boefje_meta(true)
);

component!(
    /// A mime type of a raw file, as `{"value": ..}`.
    MimeType,
    [JsonValue],
    open_object(vec![("value", owned(text()), true)])
);

component!(
    /// One raw file's metadata (`kat_core::meta::RawDataMeta`).
    RawDataMeta,
    [BoefjeMeta, MimeType, JsonValue],
    open_object(vec![
        ("id", owned(uuid()), true),
        ("boefje_meta", reference(BoefjeMeta::NAME), true),
        ("mime_types", owned(array(reference(MimeType::NAME))), false),
        ("secure_hash", owned(text_or_null()), false),
        ("signing_provider_url", owned(text_or_null()), false),
        ("hash_retrieval_link", owned(text_or_null()), false),
    ])
);

component!(
    /// One normalizer run (`kat_core::meta::NormalizerMeta`); when saved, only `raw_data.id` is read from `raw_data`.
    NormalizerMeta,
    [RawDataMeta, PluginRef, JsonValue],
    open_object(vec![
        ("id", owned(uuid()), true),
        ("started_at", owned(date_time_or_null()), false),
        ("ended_at", owned(date_time_or_null()), false),
        ("raw_data", reference(RawDataMeta::NAME), true),
        ("normalizer", reference(PluginRef::NAME), true),
    ])
);

component!(
    /// One file of a boefje's output (`api::raw::OutputFile`).
    OutputFile,
    [JsonValue],
    open_object(vec![
        ("name", owned(text().description(Some("its name within the run; in GET /bytes/raws the raw file's id"))), true),
        ("content", owned(base64()), true),
        ("tags", owned(array(owned(mime_type()))), false),
    ])
);

component!(
    /// A boefje's output (`api::raw::BoefjeOutput`): files with base64 contents and mime types.
    BoefjeOutput,
    [OutputFile, JsonValue],
    open_object(vec![
        ("status", owned(text_or_null().description(Some("COMPLETED or FAILED; ignored when saving"))), false),
        ("files", owned(array(reference(OutputFile::NAME)).description(Some("no two files of one request may have the same set of tags"))), false),
    ])
);

component!(
    /// Every error answer: what is wrong and which input is at fault.
    Error,
    [],
    closed_object(vec![("detail", owned(string())), ("field", owned(string().schema_type([Type::String, Type::Null].into_iter().collect::<SchemaType>())))])
);

component!(
    /// OpenKAT's answer to saving metadata whose id exists, with the `detail` and `field` of every error.
    IntegrityError,
    [],
    closed_object(vec![
        ("status", owned(string().enum_values(Some(["failed"])))),
        ("message", owned(string())),
        ("detail", owned(string())),
        ("field", owned(string().schema_type([Type::String, Type::Null].into_iter().collect::<SchemaType>()))),
    ])
);

component!(
    /// The answer to a save.
    Saved,
    [],
    closed_object(vec![("status", owned(string().enum_values(Some(["success"]))))])
);

component!(
    /// The ids of saved raw files by file name.
    RawIds,
    [],
    ObjectBuilder::new().additional_properties(Some(AdditionalProperties::RefOr(owned(uuid())))).build()
);

component!(
    /// Normalizer metas by id.
    NormalizerMetasById,
    [NormalizerMeta],
    ObjectBuilder::new().additional_properties(Some(AdditionalProperties::RefOr(reference(NormalizerMeta::NAME)))).build()
);

component!(
    /// The number of matching raw files per mime type.
    MimeTypeCounts,
    [],
    ObjectBuilder::new().additional_properties(Some(AdditionalProperties::RefOr(owned(count())))).build()
);

component!(
    /// OpenKAT's `ServiceHealth`, with one result per dependency.
    ServiceHealth,
    [],
    closed_object(vec![
        ("service", owned(string())),
        ("healthy", owned(ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)))),
        ("version", owned(string().schema_type([Type::String, Type::Null].into_iter().collect::<SchemaType>()))),
        ("additional", owned(ObjectBuilder::new().schema_type(SchemaType::AnyValue))),
        ("results", owned(array(reference("ServiceHealth")))),
    ])
);

component!(
    /// A bearer token and when it expires (Python's `isoformat()`).
    Token,
    [],
    closed_object(vec![
        ("access_token", owned(string())),
        ("token_type", owned(string().enum_values(Some(["bearer"])))),
        ("expires_at", owned(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))),
    ])
);

component!(
    /// OpenKAT's login form (`OAuth2PasswordRequestForm`): `username` and `password`; `grant_type`, when
    /// given, must be `password`; `scope` and the client fields are ignored, as are other fields.
    LoginForm,
    [],
    ObjectBuilder::new()
        .property("username", string())
        .required("username")
        .property("password", string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Password))))
        .required("password")
        .property("grant_type", string().pattern(Some("^password$")))
        .property("scope", string())
        .property("client_id", string())
        .property("client_secret", string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Password))))
        .build()
);

component!(
    /// A raw file's contents, as they were saved.
    RawContents,
    [],
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))).content_media_type("application/octet-stream")
);
