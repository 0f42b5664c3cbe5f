//! OpenKAT's secure hash, checked against Python itself: for timestamps with
//! and without microseconds (and ones Python prints in exponent form), the
//! `secure_hash` Bytes stores through the REST API equals
//! `sha512(contents + str(ended_at.timestamp()))` computed by `hashlib`, on
//! SQLite with files and on PostgreSQL with S3 (moto); a meta without
//! `ended_at` is refused, and a run stored without it gets no raw files. Raw files stored by
//! an earlier version (hashed over the save time in isoformat, before the
//! `hash_rule` column existed) still verify after the migration, on both.

mod common;

use std::process::Command;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{start, Backend};
use kat_bytes::hashing::{isoformat, secure_hash};
use kat_bytes::LocalBytes;
use kat_core::crypto::Middleware;
use kat_core::services::bytes::Bytes;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ENDED_AT: [&str; 8] = [
    "2023-11-14T22:13:20Z",
    "2023-11-14T22:13:20.123456Z",
    "2023-11-14T22:13:20.1Z",
    "2024-02-29T23:59:59.999999Z",
    "1000-10-10T10:10:11Z",
    "1970-01-01T00:00:00.000001Z",
    "1969-12-31T23:59:59.5Z",
    "2024-05-01T12:00:00.000100+02:00",
];

const CONTENT: &[u8] = b"test 123456\n\x00\xffbinary too";

/// `sha512:` hashes computed by Python's `hashlib`, one per timestamp.
fn python_hashes() -> Vec<String> {
    let script = "import sys, hashlib, datetime\n\
                  content = bytes.fromhex(sys.argv[1])\n\
                  for ts in sys.argv[2:]:\n    \
                  t = str(datetime.datetime.fromisoformat(ts).timestamp()).encode('utf-8')\n    \
                  print('sha512:' + hashlib.sha512(content + t).hexdigest())";
    let out = Command::new("python3").arg("-c").arg(script).arg(hex::encode(CONTENT)).args(ENDED_AT).output().unwrap_or_else(|e| panic!("python3 is needed for this test: {e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

async fn hashes_match_python(backend: Backend) {
    let (bytes, _store, _dir) = common::open(backend).await;
    let api = start(bytes.clone(), 1 << 20).await;
    let expected = python_hashes();
    assert_eq!(expected.len(), ENDED_AT.len());
    for (ended_at, python) in ENDED_AT.iter().zip(&expected) {
        let run = uuid::Uuid::new_v4();
        let meta = json!({"id": run, "started_at": "2023-01-01T00:00:00Z", "ended_at": ended_at, "boefje": {"id": "dns-records"}, "organization": "hashorg", "arguments": {}});
        assert_eq!(api.call(Method::POST, "/bytes/boefje_meta", Some(meta)).await.0, StatusCode::CREATED);
        let files = json!({"files": [{"name": "raw", "content": STANDARD.encode(CONTENT), "tags": ["boefje/dns-records"]}]});
        let (status, ids) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run}"), Some(files)).await;
        assert_eq!(status, StatusCode::OK, "{ids}");
        let id = ids["raw"].as_str().expect("raw id");
        let (_, meta) = api.call(Method::GET, &format!("/bytes/raw/{id}/meta"), None).await;
        assert_eq!(meta["secure_hash"].as_str(), Some(python.as_str()), "ended_at {ended_at}");
        let raw = api.http.get(format!("{}/bytes/raw/{id}", api.base)).bearer_auth(&api.token).send().await.expect("raw");
        assert_eq!(raw.status(), StatusCode::OK, "the stored hash verifies on read");
    }
    // As OpenKAT's model, the API refuses a meta without ended_at (or started_at).
    let run = uuid::Uuid::new_v4();
    let meta = json!({"id": run, "started_at": "2023-01-01T00:00:00Z", "boefje": {"id": "dns-records"}, "organization": "hashorg", "arguments": {}});
    let (status, body) = api.call(Method::POST, "/bytes/boefje_meta", Some(meta.clone())).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ended_at")), "{body}");
    let mut no_start = meta.clone();
    no_start["ended_at"] = json!("2023-01-01T00:00:01Z");
    no_start.as_object_mut().expect("object").remove("started_at");
    let (status, body) = api.call(Method::POST, "/bytes/boefje_meta", Some(no_start)).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("started_at")), "{body}");
    // A run stored without ended_at (in process, as the embedded pipeline may) gets no raw files: the hash could not be OpenKAT's.
    bytes.save_boefje_meta(&serde_json::from_value(meta).expect("a boefje meta")).await.expect("saved in process");
    let files = json!({"files": [{"name": "raw", "content": STANDARD.encode(CONTENT), "tags": []}]});
    let (status, body) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run}"), Some(files)).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ended_at")), "{body}");
}

#[tokio::test]
async fn hashes_match_python_on_sqlite_and_files() {
    hashes_match_python(Backend::SqliteFiles).await;
}

#[tokio::test]
async fn hashes_match_python_on_postgres_and_s3() {
    hashes_match_python(Backend::PostgresS3).await;
}

/// A database at the first migration only, holding one raw file hashed by the old rule; returns its id.
async fn old_database(url: &str, postgres: bool, store: &Arc<dyn ObjectStore>) -> uuid::Uuid {
    sqlx::any::install_default_drivers();
    let migrations = tempfile::tempdir().expect("temp dir");
    let backend = if postgres { "postgres" } else { "sqlite" };
    let first = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/");
    std::fs::copy(format!("{first}{backend}/0001_init.sql"), migrations.path().join("0001_init.sql")).expect("copy the first migration");
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    sqlx::migrate::Migrator::new(migrations.path()).await.expect("migrator").run(&pool).await.expect("first migration");
    let (run, raw) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let saved_at = time::macros::datetime!(2024-03-04 05:06:07.089 UTC);
    let hash = secure_hash(b"old evidence", &isoformat(saved_at));
    let body = json!({"id": run, "started_at": "2024-03-04T05:06:00Z", "boefje": {"id": "dns-records"}, "organization": "old", "arguments": {}});
    sqlx::query("INSERT INTO boefje_meta (id, organization, boefje_id, input_ooi, body) VALUES ($1, 'old', 'dns-records', NULL, $2)").bind(run.to_string()).bind(body.to_string()).execute(&pool).await.expect("old meta");
    sqlx::query("INSERT INTO raw_data (id, boefje_meta_id, mime_types, secure_hash, hashed_at, size) VALUES ($1, $2, '[]', $3, $4, 12)")
        .bind(raw.to_string())
        .bind(run.to_string())
        .bind(hash)
        .bind(isoformat(saved_at))
        .execute(&pool)
        .await
        .expect("old raw");
    pool.close().await;
    store.put(&StorePath::from(format!("old/{raw}")), PutPayload::from(b"old evidence".to_vec())).await.expect("old contents");
    raw
}

async fn old_raw_files_still_verify(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, store) = common::database(backend, dir.path()).await;
    let raw = old_database(&url, backend == Backend::PostgresS3, &store).await;
    let bytes = LocalBytes::connect(&url, store.clone(), Arc::new(Middleware::Identity)).await.expect("migrates");
    let (meta, content) = bytes.get_raw(raw).await.expect("an old raw file verifies by the old rule");
    assert_eq!(content, b"old evidence");
    assert_eq!(meta.boefje_meta.organization, "old");
    let runs = bytes.meta_db().boefje_metas(&kat_bytes::queries::BoefjeMetaFilter { organization: Some("old".into()), ..Default::default() }, kat_bytes::queries::Page::default()).await.expect("list");
    assert_eq!(runs.len(), 1);
    store.put(&StorePath::from(format!("old/{raw}")), PutPayload::from(b"old evidencE".to_vec())).await.expect("tamper");
    assert!(bytes.get_raw(raw).await.expect_err("altered").message.contains("does not match its stored hash"));
}

#[tokio::test]
async fn old_raw_files_still_verify_on_sqlite_and_files() {
    old_raw_files_still_verify(Backend::SqliteFiles).await;
}

#[tokio::test]
async fn old_raw_files_still_verify_on_postgres_and_s3() {
    old_raw_files_still_verify(Backend::PostgresS3).await;
}
