//! OpenKAT's plugin behaviour through real HTTP on SQLite and PostgreSQL:
//! added plugins kept exactly as posted (`run_on`, `version`, produces
//! without implicit values), static plugins with OpenKAT's implicit
//! `boefje/<id>` and `normalizer/<id>`, the default cover, edits that take
//! effect (`version`, `boefje_schema`), 422 for an invalid schema or cron,
//! OpenKAT's status codes and texts (duplicate id or name 400, static edits
//! 404 then 403/400, unknown organisation), and deleting added plugins.

#[macro_use]
mod common;

use common::{assert_error, nacl, sqlite_url, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends! {
    added_and_static_plugins_have_openkats_fields => fields;
    edits_of_version_and_schema_take_effect => edits;
    invalid_schemas_and_crons_are_422 => invalid_definitions;
    duplicates_and_static_edits_answer_as_openkat => status_codes;
    added_plugins_can_be_deleted => deletes;
}

const PLUGINS: &str = "/v1/organisations/o/plugins";

async fn started(url: &str) -> Server {
    let s = Server::start(url, nacl(), None).await;
    s.organisation("o").await;
    s
}

async fn post(s: &Server, plugin: Value) -> (StatusCode, Value) {
    s.call(Method::POST, PLUGINS, Some(plugin)).await
}

async fn fields(url: String) {
    let s = started(&url).await;
    // rocky's create_plugin body: every field, nulls included, plus keys the server ignores.
    let boefje = json!({"id": "test_run_on", "name": "Run On", "version": null, "authors": null, "created": null, "description": null, "related": [],
        "type": "boefje", "enabled": true, "static": false, "scan_level": 1, "consumes": [], "produces": [], "options": null, "runnable_hash": null,
        "interval": null, "run_on": ["create"], "boefje_schema": null, "oci_image": null, "oci_arguments": [], "cron": null});
    let (status, body) = post(&s, boefje).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let expected = json!({"id": "test_run_on", "name": "Run On", "version": null, "created": null, "description": null, "enabled": false, "static": false,
        "type": "boefje", "scan_level": 1, "consumes": [], "produces": [], "boefje_schema": null, "cron": null, "interval": null, "run_on": ["create"],
        "runnable_hash": null, "oci_image": null, "oci_arguments": [], "deduplicate": true});
    assert_eq!(s.get(&format!("{PLUGINS}/test_run_on")).await.1, expected, "an added boefje comes back as posted");
    let normalizer = json!({"id": "test_normalizer", "name": "My test normalizer", "type": "normalizer", "static": false, "version": "v1", "created": "2024-01-02T03:04:05Z"});
    assert_eq!(post(&s, normalizer).await.0, StatusCode::CREATED);
    let expected = json!({"id": "test_normalizer", "name": "My test normalizer", "version": "v1", "created": "2024-01-02T03:04:05Z", "description": null,
        "enabled": true, "static": false, "type": "normalizer", "consumes": [], "produces": []});
    assert_eq!(s.get(&format!("{PLUGINS}/test_normalizer")).await.1, expected);
    assert_error(&post(&s, json!({"id": "x", "name": "x", "type": "boefje", "run_on": ["delete"]})).await, StatusCode::UNPROCESSABLE_ENTITY, Some("run_on[0]"));

    // Static plugins carry OpenKAT's implicit mime types; their cover is the default one.
    let scan = s.get(&format!("{PLUGINS}/port-scan")).await.1;
    assert_eq!((scan["produces"].clone(), scan["static"].clone()), (json!(["boefje/nmap", "boefje/port-scan"]), json!(true)));
    assert_eq!(s.get(&format!("{PLUGINS}/kat_nmap_normalize")).await.1["consumes"], json!(["boefje/nmap", "normalizer/kat_nmap_normalize"]));
    for id in ["port-scan", "kat_nmap_normalize", "test_run_on"] {
        let response = s.client.get(format!("{}{PLUGINS}/{id}/cover.jpg", s.base)).send().await.expect("cover");
        assert_eq!((response.status(), response.headers()["content-type"].to_str().unwrap_or("")), (StatusCode::OK, "image/jpeg"), "{id}");
        let image = response.bytes().await.expect("bytes");
        assert_eq!(image.as_ref(), kat_katalogus::repository::DEFAULT_COVER, "{id}");
        assert!(image.starts_with(&[0xFF, 0xD8, 0xFF]) && image.ends_with(&[0xFF, 0xD9]), "a JPEG");
    }
    assert_eq!(s.get(&format!("{PLUGINS}/nope/cover.jpg")).await.0, StatusCode::NOT_FOUND);
}

async fn edits(url: String) {
    let s = started(&url).await;
    assert_eq!(post(&s, json!({"id": "test_plugin", "name": "My test boefje", "description": "123", "interval": 20, "type": "boefje"})).await.0, StatusCode::CREATED);
    assert_eq!(post(&s, json!({"id": "norm_id", "name": "My test normalizer", "type": "normalizer"})).await.0, StatusCode::CREATED);
    for change in [json!({"scan_level": 3}), json!({"description": "4"}), json!({"cron": "5 0 * 8 *"}), json!({"version": "v1.2"}), json!({"run_on": ["create", "update"]})] {
        assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/test_plugin", Some(change.clone())).await.0, StatusCode::NO_CONTENT, "{change}");
    }
    let plugin = s.get(&format!("{PLUGINS}/test_plugin")).await.1;
    for (field, value) in [("description", json!("4")), ("scan_level", json!(3)), ("interval", json!(20)), ("cron", json!("5 0 * 8 *")), ("version", json!("v1.2")), ("run_on", json!(["create", "update"]))] {
        assert_eq!(plugin[field], value, "{field}: {plugin}");
    }
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/normalizers/norm_id", Some(json!({"version": "v1.2"}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("{PLUGINS}/norm_id")).await.1["version"], "v1.2");

    let schema = json!({"title": "Arguments", "type": "object", "properties": {"MY_KEY": {"title": "MY_KEY", "type": "integer"}}, "required": []});
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/test_plugin", Some(json!({"boefje_schema": schema.clone()}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("{PLUGINS}/test_plugin/schema.json")).await.1, schema);
    assert_eq!(s.get(&format!("{PLUGINS}/test_plugin")).await.1["boefje_schema"], schema);
    assert_eq!(s.call(Method::PUT, "/v1/organisations/o/test_plugin/settings", Some(json!({"MY_KEY": "7"}))).await.0, StatusCode::OK, "the new schema governs settings");
    assert_error(&s.call(Method::PUT, "/v1/organisations/o/test_plugin/settings", Some(json!({"MY_KEY": "seven"}))).await, StatusCode::UNPROCESSABLE_ENTITY, Some("MY_KEY"));

    // rocky's edit_plugin sends the whole model; keys a PATCH cannot change are ignored, nulls clear.
    let rocky = json!({"id": "test_plugin", "type": "boefje", "enabled": true, "static": false, "related": [], "name": "Renamed", "description": null, "scan_level": 3, "consumes": ["Hostname"], "produces": [], "boefje_schema": schema});
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/test_plugin", Some(rocky)).await.0, StatusCode::NO_CONTENT);
    let plugin = s.get(&format!("{PLUGINS}/test_plugin")).await.1;
    assert_eq!((plugin["name"].clone(), plugin["description"].clone(), plugin["enabled"].clone(), plugin["consumes"].clone()), (json!("Renamed"), Value::Null, json!(false), json!(["Hostname"])));
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/test_plugin", Some(json!({"boefje_schema": null}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("{PLUGINS}/test_plugin/schema.json")).await.1, Value::Null);

    // Edits survive a restart.
    let again = Server::start(&url, nacl(), None).await;
    let plugin = again.get(&format!("{PLUGINS}/test_plugin")).await.1;
    assert_eq!((plugin["version"].clone(), plugin["cron"].clone(), plugin["name"].clone()), (json!("v1.2"), json!("5 0 * 8 *"), json!("Renamed")));
    assert_eq!(again.get(&format!("{PLUGINS}/norm_id")).await.1["version"], "v1.2");
}

async fn invalid_definitions(url: String) {
    let s = started(&url).await;
    let boefje = |extra: Value| {
        let mut b = json!({"id": "test_plugin", "name": "My test boefje", "type": "boefje"});
        b.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
        b
    };
    for (extra, field) in [
        (json!({"boefje_schema": {"$schema": 3}}), "boefje_schema"),
        (json!({"boefje_schema": {"type": "object", "properties": {"LD_PRELOAD": {"type": "string"}}}}), "boefje_schema"),
        (json!({"boefje_schema": {"properties": {"a b": {}}}}), "boefje_schema"),
        (json!({"boefje_schema": ["not", "an", "object"]}), "boefje_schema"),
        (json!({"cron": "bad format"}), "cron"),
        (json!({"cron": "61 * * * *"}), "cron"),
        (json!({"scan_level": 9}), "scan_level"),
    ] {
        assert_error(&post(&s, boefje(extra.clone())).await, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    assert_error(&post(&s, json!({"a": "b"})).await, StatusCode::UNPROCESSABLE_ENTITY, Some("type"));
    assert_eq!(s.get(&format!("{PLUGINS}/test_plugin")).await.0, StatusCode::NOT_FOUND, "nothing was added");
    assert_eq!(post(&s, boefje(json!({"cron": "0 0 * * mon-fri"}))).await.0, StatusCode::CREATED);
    for (change, field) in [(json!({"cron": "bad format"}), "cron"), (json!({"boefje_schema": {"$schema": 3}}), "boefje_schema"), (json!({"scan_level": null}), "scan_level"), (json!({"consumes": "Hostname"}), "consumes")] {
        assert_error(&s.call(Method::PATCH, "/v1/organisations/o/boefjes/test_plugin", Some(change.clone())).await, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    assert_eq!(s.get(&format!("{PLUGINS}/test_plugin")).await.1["cron"], "0 0 * * mon-fri", "a refused edit changes nothing");
}

async fn status_codes(url: String) {
    let s = started(&url).await;
    let dup = |field: &str| json!(format!("Duplicate plugin: a plugin with this {field} already exists"));
    for taken in [json!({"id": "dns-records", "name": "My test boefje", "type": "boefje"}), json!({"id": "kat_nmap_normalize", "name": "My test normalizer", "type": "normalizer"})] {
        let (status, body) = post(&s, taken).await;
        assert_eq!((status, body["detail"].clone()), (StatusCode::BAD_REQUEST, dup("id")));
    }
    let (status, body) = post(&s, json!({"id": "test_plugin", "name": "DNS records", "type": "boefje"})).await;
    assert_eq!((status, body["detail"].clone()), (StatusCode::BAD_REQUEST, dup("name")), "a static boefje's name");
    assert_eq!(post(&s, json!({"id": "test_plugin", "name": "My test boefje", "type": "boefje"})).await.0, StatusCode::CREATED);
    assert_eq!(post(&s, json!({"id": "test_plugin", "name": "Other", "type": "boefje"})).await.1["detail"], dup("id"));
    let (status, body) = post(&s, json!({"id": "test_plugin_2", "name": "My test boefje", "type": "boefje"})).await;
    assert_eq!((status, body["detail"].clone()), (StatusCode::BAD_REQUEST, dup("name")));
    assert_eq!(post(&s, json!({"id": "n1", "name": "My test boefje", "type": "normalizer"})).await.0, StatusCode::CREATED, "names are unique per kind");
    assert_eq!(post(&s, json!({"id": "n2", "name": "My test boefje", "type": "normalizer"})).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(post(&s, json!({"id": "test_plugin_3", "name": "Third", "type": "boefje"})).await.0, StatusCode::CREATED);
    let (status, body) = s.call(Method::PATCH, "/v1/organisations/o/boefjes/test_plugin_3", Some(json!({"name": "My test boefje"}))).await;
    assert_eq!((status, body["detail"].clone()), (StatusCode::BAD_REQUEST, dup("name")), "a rename onto a taken name");
    let (status, body) = post(&s, json!({"id": "bit", "name": "Bit", "type": "bit"})).await;
    assert_eq!((status, body["detail"].clone()), (StatusCode::BAD_REQUEST, json!("Creation of Bits is not supported")));

    // Static plugins: 404 until an organisation has enabled or configured them, then 403 (boefje) or 400 (normalizer).
    assert_error(&s.call(Method::PATCH, "/v1/organisations/o/boefjes/dns-records", Some(json!({"id": "4", "version": "s"}))).await, StatusCode::NOT_FOUND, Some("plugin_id"));
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/dns-records", Some(json!({"name": "Overwrite name"}))).await.0, StatusCode::NOT_FOUND);
    s.call(Method::PATCH, "/v1/organisations/o/plugins/dns-records", Some(json!({"enabled": true}))).await;
    let (status, body) = s.call(Method::PATCH, "/v1/organisations/o/boefjes/dns-records", Some(json!({"version": "v1.2"}))).await;
    assert_eq!((status, body["detail"].clone()), (StatusCode::FORBIDDEN, json!("Updating a static plugin is not allowed")));
    let plugin = s.get(&format!("{PLUGINS}/dns-records")).await.1;
    assert_eq!((plugin["name"].clone(), plugin["version"].clone()), (json!("DNS records"), Value::Null));
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/normalizers/kat_nmap_normalize", Some(json!({"version": "2"}))).await.0, StatusCode::NOT_FOUND);
    s.call(Method::PATCH, "/v1/organisations/o/plugins/kat_nmap_normalize", Some(json!({"enabled": false}))).await;
    let (status, body) = s.call(Method::PATCH, "/v1/organisations/o/normalizers/kat_nmap_normalize", Some(json!({"version": "2"}))).await;
    assert_eq!((status, body["detail"].clone()), (StatusCode::BAD_REQUEST, json!("Plugin with id 'kat_nmap_normalize' is static, so updating it is not allowed")));
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/normalizers/test_plugin", Some(json!({"version": "2"}))).await.0, StatusCode::NOT_FOUND, "a boefje is not a normalizer");
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/nope", Some(json!({}))).await.0, StatusCode::NO_CONTENT, "an empty PATCH is a no-op, as in OpenKAT");

    // Unknown organisations and plugins.
    for path in ["/v1/organisations/nope", "/v1/organisations/nope/plugins", "/v1/organisations/nope/port-scan/settings", "/v1/organisations/nope/plugins/port-scan"] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("Unknown organisation")), "{path}: {body}");
    }
    assert_eq!(s.get(&format!("{PLUGINS}/nope")).await.1["detail"], "Plugin not found");
}

async fn deletes(url: String) {
    let s = started(&url).await;
    s.organisation("p").await;
    let schema = json!({"type": "object", "properties": {"KEY": {"type": "string"}}});
    assert_eq!(post(&s, json!({"id": "test_plugin", "name": "My test boefje", "type": "boefje", "boefje_schema": schema})).await.0, StatusCode::CREATED);
    assert_eq!(post(&s, json!({"id": "test_normalizer", "name": "My test normalizer", "type": "normalizer"})).await.0, StatusCode::CREATED);
    for org in ["o", "p"] {
        assert_eq!(s.call(Method::PUT, &format!("/v1/organisations/{org}/test_plugin/settings"), Some(json!({"KEY": "v"}))).await.0, StatusCode::OK);
        s.call(Method::PATCH, &format!("/v1/organisations/{org}/plugins/test_plugin"), Some(json!({"enabled": true}))).await;
    }
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/o/normalizers/test_plugin", None).await.0, StatusCode::NOT_FOUND, "a boefje is not a normalizer");
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/o/boefjes/test_plugin", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("{PLUGINS}/test_plugin")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/configs?boefje_id=test_plugin").await.1, json!([]), "its configuration went in every organisation");
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/o/normalizers/test_normalizer", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("{PLUGINS}/test_normalizer")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/o/boefjes/test_plugin", None).await.0, StatusCode::NOT_FOUND);
    assert_error(&s.call(Method::DELETE, "/v1/organisations/o/boefjes/port-scan", None).await, StatusCode::FORBIDDEN, Some("plugin_id"));
    assert_eq!(s.get(&format!("{PLUGINS}/port-scan")).await.0, StatusCode::OK);
    // The id is free again, and a restart does not bring the deleted plugin back.
    let again = Server::start(&url, nacl(), None).await;
    assert_eq!(again.get(&format!("{PLUGINS}/test_plugin")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(post(&again, json!({"id": "test_plugin", "name": "My test boefje", "type": "boefje"})).await.0, StatusCode::CREATED);
    assert_eq!(again.get("/v1/organisations/p/test_plugin/settings").await.1, json!({}), "no settings come back with the id");
}

#[tokio::test]
async fn unknown_organisation_ids_are_not_echoed_in_full() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start(&sqlite_url(dir.path()), nacl(), None).await;
    let long = "x".repeat(5000);
    let (status, body) = s.get(&format!("/v1/organisations/{long}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.to_string().len() < 300, "{body}");
}
