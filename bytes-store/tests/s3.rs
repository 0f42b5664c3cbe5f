//! Raw contents in S3, against a real local S3 server (moto on
//! 127.0.0.1:5000, started by `bash scripts/services.sh`): files are saved
//! and read back through the REST API, stored encrypted in the bucket, and
//! an object altered in the bucket is refused.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kat_bytes::api::{auth::Auth, router, BytesState};
use kat_bytes::{storage, LocalBytes};
use kat_core::crypto::{generate_key_pair, Middleware};
use kat_core::services::bytes::Bytes;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{json, Value};

const MOTO: &str = "http://127.0.0.1:5000";

fn aws(name: &str) -> Option<String> {
    match name {
        "AWS_ENDPOINT_URL" => Some(MOTO.into()),
        "AWS_ACCESS_KEY_ID" => Some("testing".into()),
        "AWS_SECRET_ACCESS_KEY" => Some("testing".into()),
        _ => None,
    }
}

#[tokio::test]
async fn raw_files_live_encrypted_in_s3_and_are_checked_on_read() {
    let http = reqwest::Client::new();
    let bucket = format!("kat-test-{}", uuid::Uuid::new_v4().simple());
    let created = http.put(format!("{MOTO}/{bucket}")).send().await.unwrap_or_else(|e| panic!("the S3 server (moto) is not reachable at {MOTO} ({e}); start it with `bash scripts/services.sh`"));
    assert!(created.status().is_success(), "creating the bucket: {}", created.status());

    let dir = tempfile::tempdir().expect("temp dir");
    let store = storage::s3(&bucket, aws).expect("S3 store");
    let (private, public) = generate_key_pair();
    let bytes = Arc::new(LocalBytes::open_with_store(dir.path(), store.clone(), Arc::new(Middleware::nacl_box(&private, &public).expect("keys"))).await.expect("bytes").with_inline_max(0));
    let state = BytesState { bytes: bytes.clone(), auth: Arc::new(Auth::new("u", "p", Duration::from_secs(60))), max_raw_size: 1 << 20 };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let token: Value = http.post(format!("{base}/bytes/token")).form(&[("username", "u"), ("password", "p")]).send().await.expect("login").json().await.expect("token");
    let token = token["access_token"].as_str().expect("token").to_string();

    let run = uuid::Uuid::new_v4();
    let meta = json!({"id": run, "started_at": "2024-05-01T10:00:00Z", "ended_at": "2024-05-01T10:00:03Z", "boefje": {"id": "dns-records"}, "input_ooi": "Hostname|internet|example.nl", "organization": "s3org"});
    assert!(http.post(format!("{base}/bytes/boefje_meta")).bearer_auth(&token).json(&meta).send().await.expect("meta").status().is_success());
    let files = json!({"files": [{"name": "answer", "content": STANDARD.encode(b"{\"dns_records\": \"in s3\"}"), "tags": ["boefje/dns-records"]}]});
    let ids: Value = http.post(format!("{base}/bytes/raw?boefje_meta_id={run}")).bearer_auth(&token).json(&files).send().await.expect("raw").json().await.expect("ids");
    let id = ids["answer"].as_str().expect("raw id").to_string();
    let content = http.get(format!("{base}/bytes/raw/{id}")).bearer_auth(&token).send().await.expect("get").bytes().await.expect("bytes");
    assert_eq!(content.as_ref(), b"{\"dns_records\": \"in s3\"}");

    // In the bucket the object is ciphertext (nonce || box), not the contents.
    let location = StorePath::from(format!("s3org/{id}"));
    let stored = store.get(&location).await.expect("object in the bucket").bytes().await.expect("object bytes");
    assert_eq!(stored.len(), 24 + 16 + content.len());
    assert!(!String::from_utf8_lossy(&stored).contains("in s3"));

    // Replace the object: the raw file is refused, never served.
    let mut altered = stored.to_vec();
    altered[30] ^= 1;
    store.put(&location, PutPayload::from(altered)).await.expect("tamper");
    let response = http.get(format!("{base}/bytes/raw/{id}")).bearer_auth(&token).send().await.expect("get");
    assert_eq!(response.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = response.json().await.expect("error JSON");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("wrong key pair, or the data was altered")), "{body}");
    assert!(bytes.verify(id.parse().expect("uuid")).await.is_err());
    assert_eq!(bytes.raw_of_run(run).await.expect("list").len(), 1);
}
