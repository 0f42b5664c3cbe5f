//! The OpenAPI document (`/openapi.json`) against the real server, so the two
//! cannot drift apart: every answer of a session that calls every operation
//! (successes and errors) has a documented status and a body that its
//! documented schema accepts; what the server answers for a plugin validates
//! as a request body too (OpenKAT's clients post back what they read); and
//! for organisation ids, plugin ids, cron schedules, flags, counts, setting
//! names and NUL characters, the documented schema accepts exactly what the
//! server accepts (one documented exception: a cron range that runs
//! backwards, which no pattern can refuse). Runs on SQLite.

mod common;

use common::{nacl, sqlite_url, Server};
use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::katalogus::{BoefjePlugin, NormalizerPlugin};
use kat_katalogus::api::plugins;
use kat_katalogus::repository::{PluginExtras, RunOn};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The document as the server builds it.
fn document() -> Value {
    serde_json::to_value(<kat_katalogus::api::doc::ApiDoc as utoipa::OpenApi>::openapi()).expect("the document serialises")
}

/// A validator for `schema`, whose `$ref`s point into the document's components.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(&root).unwrap_or_else(|e| panic!("the documented schema {schema} does not compile: {e}"))
}

/// A validator for the component schema `name`.
fn component(doc: &Value, name: &str) -> jsonschema::Validator {
    assert!(doc["components"]["schemas"][name].is_object(), "no component schema {name}");
    validator(doc, &json!({"$ref": format!("#/components/schemas/{name}")}))
}

/// Assert that `value` is (or is not) valid under `validator`, naming `what`.
fn assert_valid(validator: &jsonschema::Validator, value: &Value, expected: bool, what: &str) {
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert_eq!(errors.is_empty(), expected, "{what}: {value} is {} by the document ({errors:?})", if errors.is_empty() { "accepted" } else { "refused" });
}

/// A server with a bearer token and the document, which calls check every answer against.
struct Session {
    server: Server,
    doc: Value,
}

impl Session {
    async fn start(dir: &std::path::Path) -> Session {
        Session { server: Server::start(&sqlite_url(dir), nacl(), Some("token")).await, doc: document() }
    }

    /// Call `method path` (the concrete path; `template` is its documented path) and check the answer: its status is
    /// documented for the operation and its body fits the documented schema. Returns the status and body.
    async fn call(&self, method: Method, template: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let answer = self.server.call(method.clone(), path, body).await;
        check_answer(&self.doc, &method, template, &answer);
        answer
    }
}

/// Assert that the answer's status is documented for `method template` and that its JSON body fits the schema.
fn check_answer(doc: &Value, method: &Method, template: &str, (status, body): &(StatusCode, Value)) {
    let operation = &doc["paths"][template][method.as_str().to_lowercase()];
    assert!(operation.is_object(), "{method} {template} is not in the document");
    let response = &operation["responses"][status.as_str()];
    assert!(response.is_object(), "{method} {template} answered {status}, which the document does not list: {body}");
    let Some((media, schema)) = response["content"].as_object().and_then(|content| content.iter().next()) else {
        assert_eq!(body, &json!(""), "{method} {template} {status} documents no body but answered one");
        return;
    };
    if media == "application/json" || media == "text/plain" || media == "text/markdown" {
        assert_valid(&validator(doc, &schema["schema"]), body, true, &format!("{method} {template} {status}"));
    }
}

#[tokio::test]
async fn every_operation_answers_as_documented() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Session::start(dir.path()).await;
    let g = Method::GET;
    s.call(g.clone(), "/health", "/health", None).await;
    s.call(g.clone(), "/metrics", "/metrics", None).await;
    s.call(g.clone(), "/openapi.json", "/openapi.json", None).await;

    let orgs = "/v1/organisations";
    assert_eq!(s.call(Method::POST, orgs, orgs, Some(json!({"id": "org-a", "name": "A"}))).await.0, StatusCode::CREATED);
    assert_eq!(s.call(Method::POST, orgs, orgs, Some(json!({"id": "org-a", "name": "A"}))).await.0, StatusCode::CONFLICT);
    assert_eq!(s.call(Method::POST, orgs, orgs, Some(json!({"id": "bad id", "name": "A"}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(Method::PUT, orgs, orgs, Some(json!({"id": "org-b", "name": "B", "deduplicate": false}))).await.0, StatusCode::OK);
    assert_eq!(s.call(g.clone(), orgs, orgs, None).await.0, StatusCode::OK);
    let org = "/v1/organisations/{org}";
    assert_eq!(s.call(g.clone(), org, "/v1/organisations/org-a", None).await.0, StatusCode::OK);
    assert_eq!(s.call(g.clone(), org, "/v1/organisations/nobody", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(g.clone(), org, "/v1/organisations/a%00b", None).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let list = "/v1/organisations/{org}/plugins";
    for (query, status) in [("", StatusCode::OK), ("?plugin_type=boefje&state=ON&limit=1", StatusCode::OK), ("?ids=nothing", StatusCode::NOT_FOUND), ("?state=maybe", StatusCode::UNPROCESSABLE_ENTITY)] {
        assert_eq!(s.call(g.clone(), list, &format!("/v1/organisations/org-a/plugins{query}"), None).await.0, status, "{query}");
    }
    assert_eq!(s.call(g.clone(), list, "/v1/organisations/nobody/plugins", None).await.0, StatusCode::NOT_FOUND);
    let boefje = full_boefje("kat-added");
    assert_eq!(s.call(Method::POST, list, "/v1/organisations/org-a/plugins", Some(boefje.clone())).await.0, StatusCode::CREATED);
    assert_eq!(s.call(Method::POST, list, "/v1/organisations/org-a/plugins", Some(boefje)).await.0, StatusCode::BAD_REQUEST, "a duplicate is OpenKAT's 400");
    let normalizer = json!({"type": "normalizer", "id": "kat-added-normalize", "consumes": ["boefje/kat-added"], "produces": ["Hostname"]});
    assert_eq!(s.call(Method::POST, list, "/v1/organisations/org-a/plugins", Some(normalizer)).await.0, StatusCode::CREATED);
    let bad_cron = json!({"type": "boefje", "id": "kat-cron", "cron": "61 * * * *"});
    assert_eq!(s.call(Method::POST, list, "/v1/organisations/org-a/plugins", Some(bad_cron)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(Method::POST, list, "/v1/organisations/nobody/plugins", Some(json!({"type": "boefje", "id": "x"}))).await.0, StatusCode::NOT_FOUND);

    let plugin = "/v1/organisations/{org}/plugins/{plugin_id}";
    for id in ["port-scan", "kat_nmap_normalize", "kat-added", "kat-added-normalize"] {
        let (status, body) = s.call(g.clone(), plugin, &format!("/v1/organisations/org-a/plugins/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let kind = if body["type"] == "boefje" { "BoefjeIn" } else { "NormalizerIn" };
        assert_valid(&component(&s.doc, kind), &body, true, &format!("{id} as answered, posted back"));
        for suffix in ["schema.json", "description.md"] {
            let answer = s.call(g.clone(), &format!("{plugin}/{suffix}"), &format!("/v1/organisations/org-a/plugins/{id}/{suffix}"), None).await;
            assert_eq!(answer.0, StatusCode::OK, "{id}/{suffix}");
        }
        let cover = s.server.client.get(format!("{}/v1/organisations/org-a/plugins/{id}/cover.jpg", s.server.base)).bearer_auth("token").send().await.expect("request");
        let media = cover.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert_eq!(cover.status(), StatusCode::OK);
        assert!(s.doc["paths"][format!("{plugin}/cover.jpg")]["get"]["responses"]["200"]["content"][&media].is_object(), "the cover's {media} is documented");
    }
    assert_eq!(s.call(g.clone(), plugin, "/v1/organisations/org-a/plugins/nothing", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(g.clone(), &format!("{plugin}/schema.json"), "/v1/organisations/org-a/plugins/nothing/schema.json", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::PATCH, plugin, "/v1/organisations/org-a/plugins/port-scan", Some(json!({"enabled": true}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::PATCH, plugin, "/v1/organisations/org-a/plugins/kat_nmap_normalize", Some(json!({"enabled": false}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::PATCH, plugin, "/v1/organisations/org-a/plugins/nothing", Some(json!({"enabled": true}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::PATCH, plugin, "/v1/organisations/org-a/plugins/port-scan", Some(json!({"enabled": "yes"}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let boefjes = "/v1/organisations/{org}/boefjes/{plugin_id}";
    let normalizers = "/v1/organisations/{org}/normalizers/{plugin_id}";
    assert_eq!(s.call(Method::PATCH, boefjes, "/v1/organisations/org-a/boefjes/kat-added", Some(json!({"name": "Renamed", "cron": null, "ignored": [1]}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::PATCH, boefjes, "/v1/organisations/org-a/boefjes/kat-added", Some(json!({"scan_level": 9}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(Method::PATCH, boefjes, "/v1/organisations/org-a/boefjes/port-scan", Some(json!({"name": "x"}))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.call(Method::PATCH, boefjes, "/v1/organisations/org-a/boefjes/nothing", Some(json!({"name": "x"}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::PATCH, normalizers, "/v1/organisations/org-a/normalizers/kat-added-normalize", Some(json!({"description": "d"}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::PATCH, normalizers, "/v1/organisations/org-a/normalizers/kat_nmap_normalize", Some(json!({"name": "x"}))).await.0, StatusCode::BAD_REQUEST);

    let settings = "/v1/organisations/{org}/{plugin_id}/settings";
    assert_eq!(s.call(Method::PUT, settings, "/v1/organisations/org-a/port-scan/settings", Some(json!({"PORTS": "22", "TIMEOUT_MS": 500}))).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::PUT, settings, "/v1/organisations/org-a/port-scan/settings", Some(json!({"NOT_IN_SCHEMA": "x"}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(g.clone(), settings, "/v1/organisations/org-a/port-scan/settings", None).await.0, StatusCode::OK);
    assert_eq!(s.call(g.clone(), settings, "/v1/organisations/org-a/nothing/settings", None).await.0, StatusCode::NOT_FOUND);
    let clone = "/v1/organisations/{org}/settings/clone/{to_org}";
    assert_eq!(s.call(Method::POST, clone, "/v1/organisations/org-a/settings/clone/org-b", None).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::POST, clone, "/v1/organisations/org-a/settings/clone/org-a", None).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(Method::POST, clone, "/v1/organisations/nobody/settings/clone/nobody", None).await.0, StatusCode::NOT_FOUND);
    let configs = "/v1/configs";
    assert_eq!(s.call(g.clone(), configs, "/v1/configs?organisation_id=org-a&boefje_id=port-scan&with_duplicates=true", None).await.0, StatusCode::OK);
    assert_eq!(s.call(g.clone(), configs, "/v1/configs?limit=-1", None).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(Method::DELETE, settings, "/v1/organisations/org-a/port-scan/settings", None).await.0, StatusCode::OK);

    assert_eq!(s.call(Method::DELETE, boefjes, "/v1/organisations/org-a/boefjes/port-scan", None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.call(Method::DELETE, boefjes, "/v1/organisations/org-a/boefjes/kat-added", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::DELETE, normalizers, "/v1/organisations/org-a/normalizers/kat-added-normalize", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::DELETE, normalizers, "/v1/organisations/org-a/normalizers/kat-added-normalize", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::DELETE, org, "/v1/organisations/org-b", None).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::DELETE, org, "/v1/organisations/org-b", None).await.0, StatusCode::NOT_FOUND);

    let anonymous = reqwest::get(format!("{}/v1/organisations", s.server.base)).await.expect("request");
    let answer = (anonymous.status(), anonymous.json::<Value>().await.expect("a JSON error"));
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);
    check_answer(&s.doc, &g, orgs, &answer);
}

/// A boefje with every field OpenKAT's plugin JSON has, and some the server ignores.
fn full_boefje(id: &str) -> Value {
    json!({
        "type": "boefje", "id": id, "name": format!("{id} name"), "version": "1.0", "created": "2024-05-01T12:00:00Z", "description": "added",
        "scan_level": 2, "consumes": ["Hostname"], "produces": [format!("boefje/{id}")], "cron": "0 9-17/2 * * mon-fri", "interval": 60,
        "boefje_schema": {"type": "object", "properties": {"TOKEN": {"type": "string", "writeOnly": true}, "DEPTH": {"type": "integer"}}},
        "run_on": ["create", "update"], "oci_image": "ghcr.io/example/boefje:1", "oci_arguments": ["--fast"], "deduplicate": false,
        "enabled": true, "static": false, "runnable_hash": null, "authors": ["someone"],
    })
}

#[test]
fn the_documented_bodies_accept_what_the_real_types_serialise() {
    let doc = document();
    let org = serde_json::to_value(kat_katalogus::store::Organisation::new("_dev", "Development")).expect("serialises");
    assert_valid(&component(&doc, "OrganisationIn"), &org, true, "an Organisation as a request");
    assert_valid(&component(&doc, "Organisation"), &org, true, "an Organisation as an answer");
    assert_valid(&component(&doc, "PluginIn"), &full_boefje("kat-full"), true, "a full boefje");
    let manifest = r#"{"id": "kat-b", "name": "B", "description": "d", "consumes": ["Hostname"], "produces": ["boefje/kat-b"], "scan_level": 3, "oci_image": "img:1", "oci_arguments": ["-x"], "cron": "@daily", "interval": 5}"#;
    let manifest = BoefjeManifest::parse("b/boefje.json", manifest).expect("manifest");
    let schema = SettingsSchema::parse("b/schema.json", r#"{"type": "object", "properties": {"TOKEN": {"type": "string"}}}"#).expect("schema");
    let extras = PluginExtras { version: Some("2".into()), created: Some("2024-01-01".into()), run_on: Some(vec![RunOn::Create]), deduplicate: false };
    let bare = BoefjeManifest::parse("c/boefje.json", r#"{"id": "kat-c"}"#).expect("manifest");
    for (plugin, extras) in [(BoefjePlugin { manifest, schema: Some(schema), enabled: true }, extras), (BoefjePlugin { manifest: bare, schema: None, enabled: false }, PluginExtras::default())] {
        let answer = plugins::boefje_json(&plugin, &extras, true);
        assert_valid(&component(&doc, "Plugin"), &answer, true, "a boefje as answered");
        assert_valid(&component(&doc, "BoefjeIn"), &answer, true, "a boefje as answered, posted back");
    }
    let normalizer = NormalizerManifest::parse("n/normalizer.json", r#"{"id": "kat-n", "consumes": ["boefje/kat-b"], "produces": ["Hostname"]}"#).expect("manifest");
    let answer = plugins::normalizer_json(&NormalizerPlugin { manifest: normalizer, enabled: true }, &PluginExtras::default(), false);
    assert_valid(&component(&doc, "Plugin"), &answer, true, "a normalizer as answered");
    assert_valid(&component(&doc, "NormalizerIn"), &answer, true, "a normalizer as answered, posted back");
    assert_valid(&component(&doc, "PluginStateIn"), &json!({"enabled": true}), true, "an enablement");
    assert_valid(&component(&doc, "PluginStateIn"), &json!({"enabled": null}), false, "a null enablement (the server refuses it)");
    assert_valid(&component(&doc, "Settings"), &json!({"PORTS": "22", "TIMEOUT_MS": 5, "VERBOSE": true}), true, "settings");
    assert_valid(&component(&doc, "Settings"), &json!({"PORTS": ["22"]}), false, "a list setting (the server refuses it)");
}

#[tokio::test]
async fn the_document_accepts_exactly_what_the_server_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Session::start(dir.path()).await;
    let long = |n: usize| "x".repeat(n);

    let ids = component(&s.doc, "OrganisationId");
    for id in ["_dev", "org1", "A-b_9", &long(32), "", &long(33), "bad id", "a.b", "ü", "a\nb"] {
        let (status, body) = s.server.call(Method::POST, "/v1/organisations", Some(json!({"id": id, "name": "n"}))).await;
        assert_valid(&ids, &json!(id), status == StatusCode::CREATED, &format!("organisation id (server: {status} {body})"));
    }
    s.server.organisation("o").await;

    let plugin_ids = component(&s.doc, "PluginId");
    for id in ["kat-a", "a.b", "A_1", "x..", &long(64), ".", "..", ".hidden", "", &long(65), "a b", "a/b"] {
        let (status, body) = s.server.call(Method::POST, "/v1/organisations/o/plugins", Some(json!({"type": "normalizer", "id": id}))).await;
        assert_valid(&plugin_ids, &json!(id), status == StatusCode::CREATED, &format!("plugin id (server: {status} {body})"));
    }

    let cron = validator(&s.doc, &s.doc["components"]["schemas"]["BoefjeIn"]["properties"]["cron"]);
    let expressions = ["5 0 * 8 *", "*/15 * * * *", "0 9-17/2 * * mon-fri", "0 0 1,15 * *", "0 0 L * *", "0 0 * * 1#2", "0 12 * JAN,jul SUN", "0 0 * * 7", "@daily", "@Hourly", " 1 2 3 4 5 ", "00 07 * * *", "bad format", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "1,,2 * * * *", "* * * foo *", "* * * * 1#6", "@sometimes", ""];
    for (n, expression) in expressions.iter().enumerate() {
        let (status, body) = s.server.call(Method::POST, "/v1/organisations/o/plugins", Some(json!({"type": "boefje", "id": format!("cron-{n}"), "cron": expression}))).await;
        assert_valid(&cron, &json!(expression), status == StatusCode::CREATED, &format!("cron {expression:?} (server: {status} {body})"));
    }
    assert_valid(&cron, &json!("5-1 * * * *"), true, "a backwards range (the documented exception)");
    assert!(kat_katalogus::cron::check("5-1 * * * *").is_err(), "the server refuses a backwards range");

    let flags = component(&s.doc, "Flag");
    let counts = component(&s.doc, "Count");
    for value in ["true", "FALSE", "1", "0", "yes", "No", "on", "OFF", "maybe", "2", "", "t"] {
        let status = s.server.get(&format!("/v1/configs?enabled={value}")).await.0;
        assert_valid(&flags, &json!(value), status == StatusCode::OK, &format!("flag (server: {status})"));
    }
    for value in ["0", "7", "18446744073709551615", "-1", "x", "1.5"] {
        let status = s.server.get(&format!("/v1/configs?limit={value}")).await.0;
        let as_json = serde_json::from_str::<Value>(value).unwrap_or_else(|_| json!(value));
        assert_valid(&counts, &as_json, status == StatusCode::OK, &format!("count {value} (server: {status})"));
    }
    let types = component(&s.doc, "PluginType");
    for value in ["boefje", "normalizer", "bit", "thing", "Boefje"] {
        let status = s.server.get(&format!("/v1/organisations/o/plugins?type={value}")).await.0;
        assert_valid(&types, &json!(value), status == StatusCode::OK, &format!("plugin type (server: {status})"));
    }

    let settings = component(&s.doc, "Settings");
    for name in ["PORTS", "a1", "A_B", "1A", "_A", "A-B", "", "Ä"] {
        let accepted = kat_core::env_rules::check_setting_name(name).is_ok();
        assert_valid(&settings, &json!({name: "v"}), accepted, "setting name");
    }

    let organisation = component(&s.doc, "OrganisationIn");
    for body in [json!({"id": "n1", "name": "a\u{0}b"}), json!({"id": "n2", "name": "n", "ignored": {"deep": ["a\u{0}"]}}), json!({"id": "n3", "name": "n", "ig\u{0}nored": 1})] {
        let (status, answer) = s.server.call(Method::POST, "/v1/organisations", Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_valid(&organisation, &body, false, "a NUL character anywhere in a body");
    }
    let ignored = json!({"id": "n4", "name": "n", "ignored": {"deep": [1, "text", null]}});
    assert_eq!(s.server.call(Method::POST, "/v1/organisations", Some(ignored.clone())).await.0, StatusCode::CREATED);
    assert_valid(&organisation, &ignored, true, "ignored keys");
}
