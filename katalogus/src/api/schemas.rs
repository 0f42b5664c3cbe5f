//! The schemas of the KATalogus's OpenAPI document, written for the document
//! only: each one says exactly what the server accepts or answers, so that a
//! client (or schemathesis) generating from the document sends what the
//! server takes and gets what it was told to expect.
//!
//! The rules they write down live elsewhere and are tested against them
//! (`tests/openapi.rs`): organisation ids (`kat_core::ids`), plugin ids
//! (`PluginRepository::check_new_id`), setting names (`kat_core::env_rules`),
//! cron schedules ([`crate::cron`]), and the NUL rule of `kat_server::ApiJson`
//! (no string and no key anywhere in a JSON body may hold a NUL character,
//! so even the keys a handler ignores are [`Json`] values).
//!
//! Request bodies leave unknown keys open (the handlers ignore them, as
//! OpenKAT's pydantic models do); response objects are closed.

use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};

/// A string without a NUL character.
pub const NUL_FREE: &str = r"^[^\x00]*$";
/// An organisation id (`kat_core::ids::is_organisation_id`).
pub const ORGANISATION_ID: &str = "^[A-Za-z0-9_-]{1,32}$";
/// A plugin id added over the API (`PluginRepository::check_new_id`); the first character is not a dot, so that
/// `.` and `..` never become path segments.
pub const PLUGIN_ID: &str = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$";
/// A setting name (`kat_core::env_rules::check_setting_name`; names reserved for the shell are refused too).
pub const SETTING_NAME: &str = "^[A-Za-z][A-Za-z0-9_]*$";
/// The spellings of a boolean query parameter, as FastAPI reads them (in any case).
pub const FLAG: &str = "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff])$";

/// A `$ref` to a component schema.
fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn schema(builder: ObjectBuilder) -> RefOr<Schema> {
    RefOr::T(Schema::Object(builder.build()))
}

fn of_type(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(kind)
}

/// A string matching `pattern`.
fn matching(pattern: &str) -> ObjectBuilder {
    of_type(Type::String).pattern(Some(pattern))
}

/// One of `types` (such as a string or null); a pattern applies to the string.
fn one_of_types(types: &[Type]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Array(types.to_vec()))
}

/// Text or null.
fn optional_text(description: &str) -> RefOr<Schema> {
    schema(one_of_types(&[Type::String, Type::Null]).pattern(Some(NUL_FREE)).description(Some(description)))
}

/// A list of text.
fn text_list(description: &str) -> RefOr<Schema> {
    RefOr::T(Schema::Array(ArrayBuilder::new().items(reference("Text")).description(Some(description)).build()))
}

fn any_of(items: Vec<RefOr<Schema>>, description: &str) -> RefOr<Schema> {
    let mut builder = AnyOfBuilder::new().description(Some(description));
    for item in items {
        builder = builder.item(item);
    }
    RefOr::T(Schema::AnyOf(builder.build()))
}

/// A request object: `properties`, the `required` ones, and any other key (ignored by the server) holding [`Json`].
fn request_object(description: &str, properties: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> RefOr<Schema> {
    let mut builder = of_type(Type::Object).description(Some(description)).property_names(Some(matching(NUL_FREE))).additional_properties(Some(Ref::from_schema_name("Json")));
    for (name, property) in properties {
        builder = builder.property(name, property);
    }
    for name in required {
        builder = builder.required(*name);
    }
    schema(builder)
}

/// A response object: exactly `properties`, all of them present.
fn response_object(description: &str, properties: Vec<(&str, RefOr<Schema>)>) -> RefOr<Schema> {
    let mut builder = of_type(Type::Object).description(Some(description)).additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
    for (name, property) in properties {
        builder = builder.property(name, property).required(name);
    }
    schema(builder)
}

/// `[A-Za-z]` style classes for a word in any case.
fn any_case(word: &str) -> String {
    word.chars().map(|c| if c.is_ascii_alphabetic() { format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()) } else { c.to_string() }).collect()
}

/// The pattern of a cron schedule as [`crate::cron::check`] accepts it: a nickname, or five fields of comma-separated
/// items (`*`, a value or a range `a-b`, each with an optional step `/n`), with month and weekday names, `L` in the day
/// of month and `d#n` in the day of week. A range must not run backwards, which a pattern cannot say.
pub fn cron_pattern() -> String {
    let names = |list: &[&str]| list.iter().map(|n| any_case(n)).collect::<Vec<_>>().join("|");
    let months = names(&["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]);
    let days = names(&["sun", "mon", "tue", "wed", "thu", "fri", "sat"]);
    // (values, steps 1..=max, extra items) per field: minute, hour, day of month, month, day of week.
    let fields = [
        ("0*[1-5]?[0-9]".to_string(), "0*(?:[1-9]|[1-5][0-9])", String::new()),
        ("0*(?:1?[0-9]|2[0-3])".to_string(), "0*(?:[1-9]|1[0-9]|2[0-3])", String::new()),
        ("0*(?:[1-9]|[12][0-9]|3[01])".to_string(), "0*(?:[1-9]|[12][0-9]|3[01])", "|[Ll]".to_string()),
        (format!("0*(?:[1-9]|1[0-2])|{months}"), "0*(?:[1-9]|1[0-2])", String::new()),
        (format!("0*[0-7]|{days}"), "0*[1-7]", format!("|(?:0*[0-7]|{days})#0*[1-5]")),
    ];
    let field = |(values, steps, extra): &(String, &str, String)| {
        let item = format!("(?:(?:\\*|(?:{values})(?:-(?:{values}))?)(?:/{steps})?{extra})");
        format!("{item}(?:,{item})*")
    };
    let five: Vec<String> = fields.iter().map(field).collect();
    let nicknames = names(&["yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly"]);
    format!("^[ \\t]*(?:@(?:{nicknames})|{})[ \\t]*$", five.join("[ \\t]+"))
}

/// Declares documentation-only schema types: `name => description, schema expression`.
macro_rules! documented {
    ($($name:ident => $description:literal, $schema:expr;)*) => {$(
        #[doc = $description]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

documented! {
    Text => "Text: any string without a NUL character.", schema(matching(NUL_FREE).description(Some("any text without a NUL character")));
    OrganisationId => "An organisation id.", schema(matching(ORGANISATION_ID).min_length(Some(1)).max_length(Some(32)).description(Some("an organisation id: 1 to 32 letters, digits, '-' or '_'")));
    PluginId => "A plugin id.", schema(matching(PLUGIN_ID).min_length(Some(1)).max_length(Some(64)).description(Some("a plugin id: 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'")));
    Flag => "A boolean query parameter.", schema(matching(FLAG).description(Some("true or false (also 1/0, yes/no, on/off, in any case)")));
    Count => "A whole number query parameter.", schema(of_type(Type::Integer).minimum(Some(0)).maximum(Some(usize::MAX)).description(Some("a whole number")));
    PluginType => "A plugin type filter.", schema(of_type(Type::String).enum_values(Some(["boefje", "normalizer", "bit"])).description(Some("boefje, normalizer or bit")));
    Json => "Any JSON value without a NUL character in a string or key (what the server ignores must still follow the NUL rule).", any_of(
        vec![
            schema(one_of_types(&[Type::Null, Type::Boolean, Type::Number])),
            reference("Text"),
            RefOr::T(Schema::Array(ArrayBuilder::new().items(reference("Json")).build())),
            schema(of_type(Type::Object).property_names(Some(matching(NUL_FREE))).additional_properties(Some(Ref::from_schema_name("Json")))),
        ],
        "any JSON value; no string or key in it holds a NUL character",
    );
    Null => "The JSON `null` some OpenKAT endpoints answer with.", schema(of_type(Type::Null).description(Some("null, as OpenKAT answers")));
    ErrorBody => "Every error answer.", response_object("an error: OpenKAT's detail, and the field or parameter at fault", vec![
        ("detail", schema(of_type(Type::String))),
        ("field", schema(one_of_types(&[Type::String, Type::Null]))),
    ]);
    OrganisationIn => "The body of `POST` and `PUT /v1/organisations`.", request_object(
        "an organisation",
        vec![
            ("id", reference("OrganisationId")),
            ("name", reference("Text")),
            ("deduplicate", schema(of_type(Type::Boolean).default(Some(true.into())).description(Some("whether boefje tasks may be shared with organisations with equal settings")))),
        ],
        &["id", "name"],
    );
    Organisations => "Every organisation, keyed by id.", schema(of_type(Type::Object).additional_properties(Some(Ref::from_schema_name("Organisation"))).description(Some("every organisation, keyed by id")));
    PluginStateIn => "The body of `PATCH .../plugins/{plugin_id}`.", request_object(
        "the new state (a missing enabled is false, as in OpenKAT)",
        vec![("enabled", schema(of_type(Type::Boolean)))],
        &[],
    );
    PluginIn => "The body of `POST .../plugins`: a boefje or a normalizer.", RefOr::T(Schema::OneOf(OneOfBuilder::new().item(reference("BoefjeIn")).item(reference("NormalizerIn")).description(Some("OpenKAT's plugin JSON; type selects the kind (bits cannot be created: 400)")).build()));
    BoefjeIn => "A new boefje.", request_object("a new boefje", boefje_fields(true), &["type", "id"]);
    NormalizerIn => "A new normalizer.", request_object("a new normalizer", normalizer_fields(true), &["type", "id"]);
    BoefjeChanges => "The body of `PATCH .../boefjes/{plugin_id}`.", request_object("the boefje fields to change (null clears a field; other keys are ignored)", boefje_fields(false), &[]);
    NormalizerChanges => "The body of `PATCH .../normalizers/{plugin_id}`.", request_object("the normalizer fields to change (null clears a field; other keys are ignored)", normalizer_fields(false), &[]);
    Settings => "A plugin's settings.", schema(
        of_type(Type::Object)
            .property_names(Some(matching(SETTING_NAME)))
            .additional_properties(Some(RefOr::T(Schema::AnyOf(AnyOfBuilder::new().item(reference("Text")).item(schema(one_of_types(&[Type::Number, Type::Boolean]))).build()))))
            .description(Some("settings: names from the plugin's schema.json (^[A-Za-z][A-Za-z0-9_]*$, not reserved for the shell) to text, numbers or booleans; the whole set must pass the schema")),
    );
    SettingsSchemaOut => "A plugin's `schema.json`.", schema(one_of_types(&[Type::Object, Type::Null]).description(Some("the settings JSON Schema, or null for a plugin without settings")));
    Plugin => "A plugin as OpenKAT's JSON.", RefOr::T(Schema::OneOf(OneOfBuilder::new().item(reference("Boefje")).item(reference("Normalizer")).description(Some("a boefje or a normalizer")).build()));
    Boefje => "A boefje as OpenKAT's JSON.", response_object("a boefje", plugin_out("boefje", vec![
        ("scan_level", schema(of_type(Type::Integer).minimum(Some(0)).maximum(Some(4)))),
        ("boefje_schema", reference("SettingsSchemaOut")),
        ("cron", schema(one_of_types(&[Type::String, Type::Null]))),
        ("interval", schema(one_of_types(&[Type::Integer, Type::Null]).minimum(Some(0)))),
        ("run_on", run_on(false)),
        ("runnable_hash", schema(of_type(Type::Null))),
        ("oci_image", schema(one_of_types(&[Type::String, Type::Null]))),
        ("oci_arguments", strings()),
        ("deduplicate", schema(of_type(Type::Boolean))),
    ]));
    Normalizer => "A normalizer as OpenKAT's JSON.", response_object("a normalizer", plugin_out("normalizer", Vec::new()));
    Plugins => "A list of plugins.", RefOr::T(Schema::Array(ArrayBuilder::new().items(reference("Plugin")).build()));
    Markdown => "A plugin's description.", schema(of_type(Type::String).description(Some("Markdown")));
    Jpeg => "A plugin's cover.", schema(of_type(Type::String).content_media_type("image/jpeg").description(Some("a JPEG image")));
    Health => "OpenKAT's health answer.", response_object("the service's health; the database is one of its results", vec![
        ("service", schema(of_type(Type::String))),
        ("healthy", schema(of_type(Type::Boolean))),
        ("version", schema(one_of_types(&[Type::String, Type::Null]))),
        ("additional", schema(of_type(Type::Null))),
        ("results", RefOr::T(Schema::Array(ArrayBuilder::new().items(reference("Health")).build()))),
    ]);
    Metrics => "Prometheus metrics.", schema(of_type(Type::String).description(Some("Prometheus text format")));
}

/// A list of strings (in an answer).
fn strings() -> RefOr<Schema> {
    RefOr::T(Schema::Array(ArrayBuilder::new().items(schema(of_type(Type::String))).build()))
}

/// `run_on`: `create` and/or `update`, or null.
fn run_on(request: bool) -> RefOr<Schema> {
    let kind = schema(of_type(Type::String).enum_values(Some(["create", "update"])));
    let list = ArrayBuilder::new().schema_type(SchemaType::Array(vec![Type::Array, Type::Null])).items(kind);
    let description = if request { "run on object creation and/or update, or null" } else { "when the boefje runs on its own" };
    RefOr::T(Schema::Array(list.description(Some(description)).build()))
}

/// The fields both kinds of plugin answer with, then `extra`.
fn plugin_out(kind: &str, extra: Vec<(&'static str, RefOr<Schema>)>) -> Vec<(&'static str, RefOr<Schema>)> {
    let text_or_null = || schema(one_of_types(&[Type::String, Type::Null]));
    let mut fields = vec![
        ("id", schema(of_type(Type::String))),
        ("name", schema(of_type(Type::String))),
        ("version", text_or_null()),
        ("created", text_or_null()),
        ("description", text_or_null()),
        ("enabled", schema(of_type(Type::Boolean))),
        ("static", schema(of_type(Type::Boolean))),
        ("type", schema(of_type(Type::String).enum_values(Some([kind])))),
        ("consumes", strings()),
        ("produces", strings()),
    ];
    fields.extend(extra);
    fields
}

/// The fields of a new (`new`) or changed normalizer.
fn normalizer_fields(new: bool) -> Vec<(&'static str, RefOr<Schema>)> {
    let mut fields = Vec::new();
    if new {
        fields.push(("type", schema(of_type(Type::String).enum_values(Some(["normalizer"])))));
        fields.push(("id", reference("PluginId")));
    }
    fields.extend([
        ("name", optional_text("the display name (null: the id); unique among normalizers")),
        ("version", optional_text("a version")),
        ("created", optional_text("when it was made (ISO 8601 text, kept as given)")),
        ("description", optional_text("what it does")),
        ("consumes", text_list("the mime types of the raw files it reads")),
        ("produces", text_list("the object types it may produce")),
    ]);
    fields
}

/// The fields of a new (`new`) or changed boefje.
fn boefje_fields(new: bool) -> Vec<(&'static str, RefOr<Schema>)> {
    let mut fields = Vec::new();
    if new {
        fields.push(("type", schema(of_type(Type::String).enum_values(Some(["boefje"])))));
        fields.push(("id", reference("PluginId")));
        fields.push(("deduplicate", schema(of_type(Type::Boolean).default(Some(true.into())).description(Some("whether its tasks may be shared between organisations with equal settings")))));
    }
    let subschema = of_type(Type::Object).property_names(Some(matching(NUL_FREE))).additional_properties(Some(Ref::from_schema_name("Json")));
    let property_schema = RefOr::T(Schema::AnyOf(AnyOfBuilder::new().item(schema(of_type(Type::Boolean))).item(schema(subschema)).build()));
    let settings_schema = of_type(Type::Object)
        .property_names(Some(matching(NUL_FREE)))
        .additional_properties(Some(Ref::from_schema_name("Json")))
        .property("properties", schema(of_type(Type::Object).property_names(Some(matching(SETTING_NAME))).additional_properties(Some(property_schema))));
    fields.extend([
        ("name", optional_text("the display name (null: the id); unique among boefjes")),
        ("version", optional_text("a version")),
        ("created", optional_text("when it was made (ISO 8601 text, kept as given)")),
        ("description", optional_text("what it does")),
        ("scan_level", schema(of_type(Type::Integer).minimum(Some(0)).maximum(Some(4)).description(Some("the clearance an object needs")))),
        ("consumes", text_list("the object types it runs on")),
        ("produces", text_list("the mime types of its raw output")),
        ("boefje_schema", any_of(vec![schema(of_type(Type::Null)), schema(settings_schema)], "the settings JSON Schema (draft 2020-12; property names follow ^[A-Za-z][A-Za-z0-9_]*$), or null")),
        ("cron", schema(one_of_types(&[Type::String, Type::Null]).pattern(Some(cron_pattern())).description(Some("a cron schedule (five fields or a nickname such as @daily; ranges run forwards), or null")))),
        ("interval", schema(one_of_types(&[Type::Integer, Type::Null]).minimum(Some(0)).maximum(Some(usize::MAX)).description(Some("a schedule in minutes, or null")))),
        ("run_on", run_on(true)),
        ("oci_image", optional_text("a container image")),
        ("oci_arguments", text_list("the container's arguments")),
    ]);
    fields
}

/// Every schema above, for the document's components.
pub fn all() -> Vec<(String, RefOr<Schema>)> {
    use utoipa::ToSchema;
    fn entry<T: ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        entry::<Text>(),
        entry::<OrganisationId>(),
        entry::<PluginId>(),
        entry::<Flag>(),
        entry::<Count>(),
        entry::<PluginType>(),
        entry::<Json>(),
        entry::<Null>(),
        entry::<ErrorBody>(),
        entry::<OrganisationIn>(),
        entry::<Organisations>(),
        entry::<PluginStateIn>(),
        entry::<PluginIn>(),
        entry::<BoefjeIn>(),
        entry::<NormalizerIn>(),
        entry::<BoefjeChanges>(),
        entry::<NormalizerChanges>(),
        entry::<Settings>(),
        entry::<SettingsSchemaOut>(),
        entry::<Plugin>(),
        entry::<Boefje>(),
        entry::<Normalizer>(),
        entry::<Plugins>(),
        entry::<Markdown>(),
        entry::<Jpeg>(),
        entry::<Health>(),
        entry::<Metrics>(),
    ]
}
