//! The OpenAPI document (`/openapi.json`) cannot drift from the server: what
//! the real types (`kat_core::meta::*`, the boefje output) serialise is valid
//! against the documented schemas; the document's rules for organisation
//! ids, mime types and base64 contents agree with the server's own checks
//! value for value; and, through real HTTP on SQLite with files, every
//! answer of a scenario that touches every route has a status the document
//! declares for that operation, with a body valid against the declared
//! schema (what schemathesis checks, for the answers schemathesis rarely
//! reaches: saved raw files, normalizer metas, duplicates).

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{boefje_meta, open, start, Api, Backend};
use kat_bytes::api::raw::{BoefjeOutput, OutputFile};
use kat_bytes::api::ApiDoc;
use kat_core::meta::{MimeType, NormalizerMeta, PluginRef, RawDataMeta};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use utoipa::OpenApi;

/// The document as JSON, with validators for its schemas.
struct Doc(Value);

impl Doc {
    fn new() -> Doc {
        Doc(serde_json::to_value(ApiDoc::openapi()).expect("the document serialises"))
    }

    /// A validator (formats checked) for `schema`, whose `$ref`s point into the document's components.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.clone();
        let object = root.as_object_mut().expect("a schema object");
        object.insert("components".into(), self.0["components"].clone());
        jsonschema::options().with_draft(jsonschema::Draft::Draft202012).should_validate_formats(true).build(&root).unwrap_or_else(|e| panic!("not a usable schema: {e}: {schema}"))
    }

    fn component(&self, name: &str) -> jsonschema::Validator {
        assert!(self.0["components"]["schemas"][name].is_object(), "no component {name}");
        self.validator(&json!({"$ref": format!("#/components/schemas/{name}")}))
    }

    fn operation(&self, method: &Method, path: &str) -> &Value {
        let operation = &self.0["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not in the document");
        operation
    }

    /// Assert that `status` is declared for the operation and that a JSON `body` is valid against its schema.
    fn check_answer(&self, method: &Method, path: &str, status: StatusCode, content_type: &str, body: &Value) {
        let response = &self.operation(method, path)["responses"][status.as_str()];
        assert!(response.is_object(), "{method} {path} answered {status}, which the document does not declare: {body}");
        let media = if content_type.starts_with("application/json") { "application/json" } else { content_type.split(';').next().unwrap_or_default() };
        let declared = &response["content"][media];
        assert!(declared.is_object(), "{method} {path} {status}: {content_type} is not the declared content type: {}", response["content"]);
        if media == "application/json" {
            let validator = self.validator(&declared["schema"]);
            let errors: Vec<String> = validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
            assert!(errors.is_empty(), "{method} {path} {status}: the body breaks the documented schema: {errors:?}\n{body}");
        }
    }

    /// The request body schema of an operation.
    fn request(&self, method: &Method, path: &str, content_type: &str) -> jsonschema::Validator {
        self.validator(&self.operation(method, path)["requestBody"]["content"][content_type]["schema"])
    }
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} breaks its documented schema: {errors:?}\n{value}");
}

fn raw_data_meta() -> RawDataMeta {
    let mut run = boefje_meta();
    run.arguments.insert("input".into(), json!({"object_type": "Hostname", "name": "example.nl", "nested": [1, 2.5, true, null, {"deep": "x"}]}));
    run.runnable_hash = Some("sha256:abc".into());
    RawDataMeta {
        id: uuid::Uuid::new_v4(),
        boefje_meta: run,
        mime_types: vec![MimeType { value: "boefje/dns-records".into() }, MimeType { value: "text/plain".into() }],
        secure_hash: Some("sha512:00".into()),
        signing_provider_url: None,
        hash_retrieval_link: None,
    }
}

#[test]
fn what_the_real_types_serialise_is_valid() {
    let doc = Doc::new();
    let raw = raw_data_meta();
    let full = serde_json::to_value(&raw.boefje_meta).expect("serialises");
    assert_valid(&doc.component("BoefjeMeta"), &full, "a BoefjeMeta");
    assert_valid(&doc.component("NewBoefjeMeta"), &full, "a BoefjeMeta being saved");
    assert_valid(&doc.request(&Method::POST, "/bytes/boefje_meta", "application/json"), &full, "a BoefjeMeta being saved");
    // Stored runs (embedded mode) may lack times and optional fields; they are still served.
    let mut bare = boefje_meta();
    (bare.started_at, bare.ended_at, bare.input_ooi, bare.environment) = (None, None, None, None);
    let bare = serde_json::to_value(&bare).expect("serialises");
    assert_valid(&doc.component("BoefjeMeta"), &bare, "a stored BoefjeMeta without times");
    assert!(!doc.component("NewBoefjeMeta").is_valid(&bare), "the document says a meta being saved needs its times");
    assert_valid(&doc.component("RawDataMeta"), &serde_json::to_value(&raw).expect("serialises"), "a RawDataMeta");
    let normalizer = NormalizerMeta { id: uuid::Uuid::new_v4(), started_at: raw.boefje_meta.started_at, ended_at: raw.boefje_meta.ended_at, raw_data: raw, normalizer: PluginRef { id: "kat_dns_normalize".into(), version: Some("1".into()) } };
    assert_valid(&doc.request(&Method::POST, "/bytes/normalizer_meta", "application/json"), &serde_json::to_value(&normalizer).expect("serialises"), "a NormalizerMeta");
    let files = (0..8).map(|n| OutputFile { name: n.to_string(), content: STANDARD.encode(vec![0xA5_u8; n]), tags: vec![format!("boefje/n{n}")] }).collect();
    let output = serde_json::to_value(BoefjeOutput { status: Some("COMPLETED".into()), files }).expect("serialises");
    assert_valid(&doc.request(&Method::POST, "/bytes/raw", "application/json"), &output, "a boefje output");
    // A NUL anywhere, even in a field the server ignores, is refused by the server and by the document.
    let mut nul = full.clone();
    nul["extra"] = json!({"key": ["a\u{0}b"]});
    assert!(!doc.component("NewBoefjeMeta").is_valid(&nul), "the document refuses NUL characters in ignored fields too");
}

#[test]
fn the_documents_rules_are_the_servers() {
    let doc = Doc::new();
    let meta = |organization: &str| {
        let mut meta = serde_json::to_value(boefje_meta()).expect("serialises");
        meta["organization"] = json!(organization);
        meta
    };
    let new_meta = doc.component("NewBoefjeMeta");
    for id in ["_dev", "org-1", "A", &"x".repeat(32), "", &"x".repeat(33), "a/b", "..", "org\n", "é", "a b"] {
        assert_eq!(new_meta.is_valid(&meta(id)), kat_core::ids::is_organisation_id(id), "organisation id {id:?}");
    }
    let output = |content: &str, tag: &str| json!({"files": [{"name": "f", "content": content, "tags": [tag]}]});
    let save_raw = doc.request(&Method::POST, "/bytes/raw", "application/json");
    for content in ["", "QQ==", "QUI=", "QUJD", " QUJD\n", "\u{a0}QQ==\u{3000}", "QR==", "QUJ=", "QQ=", "QQ", "Q===", "QU JD", "QUJD====", "QQ==QQ==", "-_8=", "\u{feff}QQ=="] {
        assert_eq!(save_raw.is_valid(&output(content, "text/plain")), STANDARD.decode(content.trim()).is_ok(), "content {content:?}");
    }
    for (tag, ok) in [("text/plain", true), ("a", true), ("~!", true), ("", false), ("a b", false), ("tëxt", false), ("a\u{7f}", false)] {
        assert_eq!(save_raw.is_valid(&output("", tag)), ok, "mime type {tag:?}");
    }
    assert!(save_raw.is_valid(&output("", &"m".repeat(255))) && !save_raw.is_valid(&output("", &"m".repeat(256))), "mime types are at most 255 characters");
}

/// A call with the token: status, content type and body (JSON, or the text as a JSON string).
async fn exchange(api: &Api, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, String, Value) {
    let mut request = api.http.request(method, format!("{}{path}", api.base)).bearer_auth(&api.token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, content_type, body)
}

/// Call `path` (an instance of the document's `template`), check the answer against the document, expect `status`.
async fn call(doc: &Doc, api: &Api, method: Method, template: &str, path: &str, body: Option<Value>, status: StatusCode) -> Value {
    if let Some(body) = &body
        && let Some(content) = doc.operation(&method, template)["requestBody"]["content"]["application/json"]["schema"].as_object()
    {
        let valid = doc.validator(&Value::Object(content.clone())).is_valid(body);
        assert_eq!(valid, status != StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}: the document and the server disagree on {body}");
    }
    let (got, content_type, answer) = exchange(api, method.clone(), path, body.as_ref()).await;
    assert_eq!(got, status, "{method} {path}: {answer}");
    doc.check_answer(&method, template, got, &content_type, &answer);
    answer
}

#[tokio::test]
async fn every_answer_is_documented() {
    let doc = Doc::new();
    let (bytes, _store, _dir) = open(Backend::SqliteFiles).await;
    let api = start(bytes, 1 << 20).await;
    let (get, post) = (Method::GET, Method::POST);

    // The login, at both paths.
    for path in ["/token", "/bytes/token"] {
        let form = [("username", "bytes"), ("password", "s3cret"), ("grant_type", "password"), ("scope", "")];
        for (fields, status) in [(&form[..], StatusCode::OK), (&form[..1], StatusCode::UNPROCESSABLE_ENTITY), (&[("username", "bytes"), ("password", "nope")][..], StatusCode::UNAUTHORIZED)] {
            let response = api.http.post(format!("{}{path}", api.base)).form(fields).send().await.expect("login");
            assert_eq!(response.status(), status, "{path} {fields:?}");
            let body = response.json().await.expect("JSON");
            doc.check_answer(&post, path, status, "application/json", &body);
        }
        let wrong_grant = api.http.post(format!("{}{path}", api.base)).form(&[("username", "bytes"), ("password", "s3cret"), ("grant_type", "client_credentials")]).send().await.expect("login");
        assert_eq!(wrong_grant.status(), StatusCode::UNPROCESSABLE_ENTITY, "grant_type must be password, as OpenKAT's form says");
    }

    // Metadata: saved, saved again, refused, read, listed.
    let run = boefje_meta();
    let meta = serde_json::to_value(&run).expect("serialises");
    let answer = call(&doc, &api, post.clone(), "/bytes/boefje_meta", "/bytes/boefje_meta", Some(meta.clone()), StatusCode::CREATED).await;
    assert_eq!(answer, json!({"status": "success"}));
    let answer = call(&doc, &api, post.clone(), "/bytes/boefje_meta", "/bytes/boefje_meta", Some(meta.clone()), StatusCode::BAD_REQUEST).await;
    assert_eq!(answer["message"], "Integrity error: object might already exist");
    let mut no_end = meta.clone();
    no_end["ended_at"] = Value::Null;
    no_end["id"] = json!(uuid::Uuid::new_v4());
    call(&doc, &api, post.clone(), "/bytes/boefje_meta", "/bytes/boefje_meta", Some(no_end), StatusCode::UNPROCESSABLE_ENTITY).await;
    let one = format!("/bytes/boefje_meta/{}", run.id);
    assert_eq!(call(&doc, &api, get.clone(), "/bytes/boefje_meta/{boefje_meta_id}", &one, None, StatusCode::OK).await, meta);
    call(&doc, &api, get.clone(), "/bytes/boefje_meta/{boefje_meta_id}", "/bytes/boefje_meta/not-a-uuid", None, StatusCode::UNPROCESSABLE_ENTITY).await;
    call(&doc, &api, get.clone(), "/bytes/boefje_meta/{boefje_meta_id}", &format!("/bytes/boefje_meta/{}", uuid::Uuid::new_v4()), None, StatusCode::NOT_FOUND).await;
    let listed = call(&doc, &api, get.clone(), "/bytes/boefje_meta", "/bytes/boefje_meta?organization=_dev&input_ooi=*&limit=5&descending=false", None, StatusCode::OK).await;
    assert_eq!(listed, json!([meta]));
    call(&doc, &api, get.clone(), "/bytes/boefje_meta", "/bytes/boefje_meta?organization=a%2Fb", None, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Raw files: saved, the same set again, two of a set in one request, read, listed, counted.
    let raw_path = format!("/bytes/raw?boefje_meta_id={}", run.id);
    let output = json!({"files": [{"name": "a", "content": STANDARD.encode(b"hello"), "tags": ["boefje/dns-records"]}, {"name": "b", "content": "", "tags": ["text/plain"]}]});
    let ids = call(&doc, &api, post.clone(), "/bytes/raw", &raw_path, Some(output.clone()), StatusCode::OK).await;
    assert_eq!(call(&doc, &api, post.clone(), "/bytes/raw", &raw_path, Some(output), StatusCode::OK).await, ids, "a set the run has gets its id back");
    let twins = json!({"files": [{"name": "x", "content": "", "tags": ["x/y"]}, {"name": "y", "content": "QQ==", "tags": ["x/y"]}]});
    call(&doc, &api, post.clone(), "/bytes/raw", &raw_path, Some(twins), StatusCode::BAD_REQUEST).await;
    call(&doc, &api, post.clone(), "/bytes/raw", &raw_path, Some(json!({"files": [{"name": "x", "content": "QR=="}]})), StatusCode::UNPROCESSABLE_ENTITY).await;
    let unknown_run = format!("/bytes/raw?boefje_meta_id={}", uuid::Uuid::new_v4());
    call(&doc, &api, post.clone(), "/bytes/raw", &unknown_run, Some(json!({"files": [{"name": "x", "content": ""}]})), StatusCode::NOT_FOUND).await;
    let raw_id = ids["a"].as_str().expect("raw id").to_string();
    let (status, content_type, _) = exchange(&api, get.clone(), &format!("/bytes/raw/{raw_id}"), None).await;
    doc.check_answer(&get, "/bytes/raw/{raw_id}", status, &content_type, &Value::Null);
    let raw_meta = call(&doc, &api, get.clone(), "/bytes/raw/{raw_id}/meta", &format!("/bytes/raw/{raw_id}/meta"), None, StatusCode::OK).await;
    call(&doc, &api, get.clone(), "/bytes/raw/{raw_id}/meta", &format!("/bytes/raw/{}/meta", uuid::Uuid::new_v4()), None, StatusCode::NOT_FOUND).await;
    call(&doc, &api, get.clone(), "/bytes/raw", "/bytes/raw?organization=_dev&limit=10&normalized=false&mime_types=text/plain", None, StatusCode::OK).await;
    let raws = call(&doc, &api, get.clone(), "/bytes/raws", &format!("/bytes/raws?raw_ids={raw_id}&limit=10"), None, StatusCode::OK).await;
    assert_eq!(raws["files"][0]["content"], STANDARD.encode(b"hello"));
    call(&doc, &api, get.clone(), "/bytes/raws", "/bytes/raws?raw_ids=x", None, StatusCode::UNPROCESSABLE_ENTITY).await;
    let counts = call(&doc, &api, get.clone(), "/bytes/mime_types", "/bytes/mime_types?organization=_dev", None, StatusCode::OK).await;
    assert_eq!(counts, json!({"boefje/dns-records": 1, "text/plain": 1}));

    // Normalizer metas: saved (with the served raw meta), again, on an unknown raw file, read, listed, looked up.
    let normalizer_id = uuid::Uuid::new_v4();
    let normalizer = json!({"id": normalizer_id, "started_at": "2024-05-01T10:00:02Z", "ended_at": "2024-05-01T10:00:03Z", "raw_data": raw_meta, "normalizer": {"id": "kat_dns_normalize", "version": null}});
    call(&doc, &api, post.clone(), "/bytes/normalizer_meta", "/bytes/normalizer_meta", Some(normalizer.clone()), StatusCode::CREATED).await;
    call(&doc, &api, post.clone(), "/bytes/normalizer_meta", "/bytes/normalizer_meta", Some(normalizer.clone()), StatusCode::BAD_REQUEST).await;
    let mut orphan = normalizer.clone();
    orphan["id"] = json!(uuid::Uuid::new_v4());
    orphan["raw_data"]["id"] = json!(uuid::Uuid::new_v4());
    call(&doc, &api, post.clone(), "/bytes/normalizer_meta", "/bytes/normalizer_meta", Some(orphan), StatusCode::NOT_FOUND).await;
    call(&doc, &api, get.clone(), "/bytes/normalizer_meta/{normalizer_meta_id}", &format!("/bytes/normalizer_meta/{normalizer_id}"), None, StatusCode::OK).await;
    let listed = call(&doc, &api, get.clone(), "/bytes/normalizer_meta", &format!("/bytes/normalizer_meta?organization=_dev&raw_id={raw_id}"), None, StatusCode::OK).await;
    assert_eq!(listed[0]["id"], json!(normalizer_id));
    let found = call(&doc, &api, get.clone(), "/bytes/normalizer_metas", &format!("/bytes/normalizer_metas?normalizer_metas={normalizer_id}"), None, StatusCode::OK).await;
    assert!(found[normalizer_id.to_string()].is_object(), "{found}");
    call(&doc, &api, get.clone(), "/bytes/normalizer_metas", "/bytes/normalizer_metas", None, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Without a token, and the open routes.
    let response = api.http.get(format!("{}/bytes/raw", api.base)).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    doc.check_answer(&get, "/bytes/raw", StatusCode::UNAUTHORIZED, "application/json", &response.json().await.expect("JSON"));
    assert!(doc.operation(&get, "/bytes/raw")["security"].is_array() && doc.operation(&post, "/token")["security"].is_null(), "the token guards /bytes, not the login");
    let mut operation_ids: Vec<&str> = doc.0["paths"].as_object().expect("paths").values().flat_map(|item| item.as_object().expect("path item").values()).filter_map(|op| op["operationId"].as_str()).collect();
    let count = operation_ids.len();
    operation_ids.sort_unstable();
    operation_ids.dedup();
    assert_eq!(operation_ids.len(), count, "operation ids are unique: {operation_ids:?}");
    call(&doc, &api, get.clone(), "/health", "/health", None, StatusCode::OK).await;
    let (status, content_type, metrics) = exchange(&api, get.clone(), "/metrics", None).await;
    doc.check_answer(&get, "/metrics", status, &content_type, &metrics);
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client").get(format!("{}/", api.base)).send().await.expect("root");
    assert_eq!((redirect.status(), redirect.headers().get("location").and_then(|v| v.to_str().ok())), (StatusCode::TEMPORARY_REDIRECT, Some("/health")));
    assert!(doc.operation(&get, "/")["responses"]["307"].is_object(), "the redirect is documented");
}
