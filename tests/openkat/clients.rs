//! OpenKAT's own clients against our services, request for request.
//!
//! These tests replay the exact HTTP requests that OpenKAT's boefje worker
//! (`BytesAPIClient`) and web front end (rocky's Bytes and KATalogus
//! clients) make — form login at the root `/token`, a lowercase `bearer`
//! scheme, JSON bodies without a `Content-Type`, trailing slashes,
//! `plugin_type` — against the real `bytes-store` and `katalogus` binaries
//! over HTTP, on SQLite and on PostgreSQL, and check the answers those
//! clients read. The file lives in the end-to-end folder but is built as a
//! test of `kat-tools`, whose binaries it runs (Cargo gives their paths
//! only to tests of their own package).

use std::path::Path;

use base64::Engine;
use kat_tests::services::{free_port, fresh_postgres, RunningService};
use serde_json::{json, Value};

const USER: &str = "bytes-user";
const PASSWORD: &str = "bytes-password-4711";

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value, Vec<u8>) {
    let response = request.send().await.expect("the service answers");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body").to_vec();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), bytes)
}

fn start_bytes(db: Option<String>, dir: &Path) -> RunningService {
    let port = free_port();
    let mut env = vec![
        ("BYTES_USERNAME", USER.to_string()),
        ("BYTES_PASSWORD", PASSWORD.to_string()),
        ("BYTES_DATA_DIR", dir.join("bytes").display().to_string()),
        ("BYTES_BIND", format!("127.0.0.1:{port}")),
    ];
    if let Some(db) = db {
        env.push(("BYTES_DB_URI", db));
    }
    RunningService::start(Path::new(env!("CARGO_BIN_EXE_bytes-store")), &env, port, dir)
}

fn start_katalogus(db: String, token: Option<&str>, dir: &Path) -> RunningService {
    let port = free_port();
    let mut env = vec![("KATALOGUS_DB_URI", db), ("KATALOGUS_BIND", format!("127.0.0.1:{port}"))];
    if let Some(token) = token {
        env.push(("KATALOGUS_API_TOKEN", token.to_string()));
    }
    RunningService::start(Path::new(env!("CARGO_BIN_EXE_katalogus")), &env, port, dir)
}

/// `str(ended_at.timestamp())` and OpenKAT's secure hash of `content`, computed by Python itself.
fn python_secure_hash(content: &[u8], ended_at: &str) -> String {
    let script = "import sys, hashlib, datetime\n\
        ended = datetime.datetime.fromisoformat(sys.argv[1].replace('Z', '+00:00'))\n\
        data = sys.stdin.buffer.read()\n\
        print('sha512:' + hashlib.sha512(data + str(ended.timestamp()).encode('utf-8')).hexdigest())";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, ended_at])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is needed to compute OpenKAT's hash: {e}"));
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), content).expect("write");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The boefje worker's `BytesAPIClient` (and rocky's Bytes client), call by call.
async fn boefje_worker_and_rocky_against_bytes(bytes: &RunningService) {
    let base = &bytes.base;
    let client = http();
    let meta_id = uuid::Uuid::new_v4();
    // The client's first call carries no token: 401, after which it logs in.
    let (status, body, _) = send(client.get(format!("{base}/bytes/boefje_meta/{meta_id}"))).await;
    assert_eq!(status, 401, "{body}");
    let (status, body, _) = send(client.post(format!("{base}/token")).form(&[("username", USER), ("password", PASSWORD)])).await;
    assert_eq!(status, 200, "login at the root /token: {body}");
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().expect("access_token").to_string();
    let auth = format!("bearer {token}");

    // save_boefje_meta: `content=model_dump_json()`, no Content-Type header.
    let ended_at = "2024-05-01T10:00:00.123456Z";
    let meta = json!({
        "id": meta_id, "started_at": "2024-05-01T09:59:58Z", "ended_at": ended_at,
        "boefje": {"id": "dns-records", "version": null}, "input_ooi": "Hostname|internet|example.nl",
        "arguments": {"input": {"object_type": "Hostname", "primary_key": "Hostname|internet|example.nl", "name": "example.nl"}},
        "organization": "org1", "runnable_hash": null, "environment": {"REMOTE_NS": "127.0.0.1"}
    });
    let (status, body, _) = send(client.post(format!("{base}/bytes/boefje_meta")).header("authorization", &auth).body(meta.to_string())).await;
    assert_eq!(status, 201, "a JSON body without Content-Type is accepted: {body}");
    let (status, body, raw) = send(client.post(format!("{base}/bytes/boefje_meta")).header("authorization", &auth).body(meta.to_string())).await;
    assert_eq!(status, 400, "the same id twice: {body}");
    assert!(String::from_utf8_lossy(&raw).contains("Integrity error: object might already exist"), "{body}");
    let (status, body, _) = send(client.get(format!("{base}/bytes/boefje_meta/{meta_id}")).header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(body["organization"], "org1");
    assert_eq!(body["boefje"]["id"], "dns-records");

    // save_raw: one file named "raw", base64 contents, the mime types as tags.
    let content = br#"{"dns_records": "RESOLVER: 127.0.0.1\n;ANSWER\nexample.nl. 300 IN A 192.0.2.1"}"#;
    let files = json!({"files": [{"name": "raw", "content": base64::engine::general_purpose::STANDARD.encode(content), "tags": ["boefje/dns-records"]}]});
    let (status, body, _) = send(client.post(format!("{base}/bytes/raw?boefje_meta_id={meta_id}")).header("authorization", &auth).body(files.to_string())).await;
    assert_eq!(status, 200, "{body}");
    let raw_id = body["raw"].as_str().expect("{name: raw id}").to_string();
    let (status, _, stored) = send(client.get(format!("{base}/bytes/raw/{raw_id}")).header("authorization", &auth)).await;
    assert_eq!((status, stored.as_slice()), (200, &content[..]));
    let (status, body, _) = send(client.get(format!("{base}/bytes/raw/{raw_id}/meta")).header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(body["mime_types"], json!([{"value": "boefje/dns-records"}]));
    assert_eq!(body["secure_hash"].as_str(), Some(python_secure_hash(content, ended_at).as_str()), "OpenKAT's sha512(contents + str(ended_at.timestamp()))");

    // get_raws: the worker copies raw files to deduplicated tasks with it.
    let (status, body, _) = send(client.get(format!("{base}/bytes/raws?boefje_meta_id={meta_id}")).header("authorization", &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["files"][0]["name"], raw_id.as_str());
    assert_eq!(body["files"][0]["content"], files["files"][0]["content"]);

    // save_normalizer_meta, again without Content-Type; then read it back.
    let normalizer_meta_id = uuid::Uuid::new_v4();
    let (_, raw_meta, _) = send(client.get(format!("{base}/bytes/raw/{raw_id}/meta")).header("authorization", &auth)).await;
    let normalizer_meta = json!({"id": normalizer_meta_id, "started_at": "2024-05-01T10:00:01Z", "ended_at": "2024-05-01T10:00:02Z", "raw_data": raw_meta, "normalizer": {"id": "kat_dns_normalize", "version": null}});
    let (status, body, _) = send(client.post(format!("{base}/bytes/normalizer_meta")).header("authorization", &auth).body(normalizer_meta.to_string())).await;
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = send(client.get(format!("{base}/bytes/normalizer_meta/{normalizer_meta_id}")).header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(body["raw_data"]["id"], raw_id.as_str());

    // rocky: get_raw_metas and get_raws by id.
    let (status, body, _) = send(client.get(format!("{base}/bytes/raw?boefje_meta_id={meta_id}&limit=100&organization=org1")).header("authorization", &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.as_array().is_some_and(|list| list.iter().any(|m| m["id"] == raw_id.as_str())), "{body}");
    let (status, body, _) = send(client.get(format!("{base}/bytes/raws?limit=1&organization=org1&raw_ids={raw_id}")).header("authorization", &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["name"], raw_id.as_str());
    let (status, body, _) = send(client.get(format!("{base}/health"))).await;
    assert_eq!((status, body["service"].as_str()), (200, Some("bytes")));
}

/// Rocky's KATalogus client, call by call (it sends no token; with a token configured we send it as `bearer`).
async fn rocky_against_katalogus(katalogus: &RunningService, token: Option<&str>) {
    let base = &katalogus.base;
    let client = http();
    let with_auth = |request: reqwest::RequestBuilder| match token {
        Some(t) => request.header("authorization", format!("bearer {t}")),
        None => request,
    };
    let (status, body, _) = send(client.get(format!("{base}/health"))).await;
    assert_eq!((status, body["service"].as_str(), body["healthy"].as_bool()), (200, Some("katalogus"), Some(true)), "{body}");
    // create_organization posts to the path with a trailing slash.
    let (status, body, _) = send(with_auth(client.post(format!("{base}/v1/organisations/"))).json(&json!({"id": "org1", "name": "Org 1"}))).await;
    assert!((200..300).contains(&status), "POST /v1/organisations/: {status} {body}");
    let (status, _, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1")))).await;
    assert_eq!(status, 200);
    let (status, _, _) = send(with_auth(client.get(format!("{base}/v1/organisations/nope")))).await;
    assert_eq!(status, 404, "organization_exists reads 404 as false");

    // get_plugins(plugin_type=boefje): OpenKAT's default is boefjes off, normalizers on.
    let (status, boefjes, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/plugins?plugin_type=boefje")))).await;
    assert_eq!(status, 200, "{boefjes}");
    let boefjes = boefjes.as_array().cloned().unwrap_or_default();
    assert!(!boefjes.is_empty() && boefjes.iter().all(|p| p["type"] == "boefje" && p["enabled"] == false), "{boefjes:?}");
    for plugin in &boefjes {
        let id = plugin["id"].as_str().unwrap_or_default();
        assert!(plugin["produces"].as_array().is_some_and(|p| p.iter().any(|m| m == &Value::from(format!("boefje/{id}")))), "a boefje produces boefje/<id>: {plugin}");
        assert!(plugin["scan_level"].is_u64() && plugin.get("produces").is_some(), "{plugin}");
    }
    let (_, normalizers, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/plugins?plugin_type=normalizer&state=true")))).await;
    assert!(normalizers.as_array().is_some_and(|n| !n.is_empty() && n.iter().all(|p| p["type"] == "normalizer" && p["enabled"] == true)), "{normalizers}");
    let (_, two, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/plugins?ids=dns-records&ids=port-scan")))).await;
    assert_eq!(two.as_array().map(Vec::len), Some(2), "{two}");

    // enable, settings, cover.
    let (status, _, _) = send(with_auth(client.patch(format!("{base}/v1/organisations/org1/plugins/dns-records"))).json(&json!({"enabled": true}))).await;
    assert!((200..300).contains(&status));
    let (_, enabled, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/plugins?plugin_type=boefje&state=true")))).await;
    assert_eq!(enabled.as_array().map(|e| e.iter().map(|p| p["id"].clone()).collect::<Vec<_>>()), Some(vec![json!("dns-records")]));
    let (status, _, _) = send(with_auth(client.put(format!("{base}/v1/organisations/org1/dns-records/settings"))).json(&json!({"REMOTE_NS": "127.0.0.1:5353"}))).await;
    assert!((200..300).contains(&status));
    let (_, settings, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/dns-records/settings")))).await;
    assert_eq!(settings, json!({"REMOTE_NS": "127.0.0.1:5353"}));
    let (status, _, cover) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/plugins/dns-records/cover.jpg")))).await;
    assert!(status == 200 && cover.starts_with(&[0xFF, 0xD8]), "a JPEG cover for every plugin: {status}");

    // create_plugin (Content-Type set, nulls left out), then the duplicate rocky looks for, then edit_plugin without Content-Type.
    let plugin = json!({"id": "my-whois", "name": "My whois", "type": "boefje", "scan_level": 1, "consumes": ["Hostname"], "produces": ["boefje/my-whois"], "oci_image": "example/whois:1", "oci_arguments": [], "related": [], "enabled": false});
    let (status, body, _) = send(with_auth(client.post(format!("{base}/v1/organisations/org1/plugins"))).json(&plugin)).await;
    assert!((200..300).contains(&status), "create_plugin: {status} {body}");
    let (status, body, _) = send(with_auth(client.post(format!("{base}/v1/organisations/org1/plugins"))).json(&plugin)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("Duplicate plugin")), "rocky reads detail for \"Duplicate plugin\": {body}");
    let edit = json!({"name": "My whois", "description": "edited", "scan_level": 2, "consumes": ["Hostname"], "produces": ["boefje/my-whois"], "oci_image": "example/whois:2", "oci_arguments": [], "version": "2"});
    let (status, body, _) = send(with_auth(client.patch(format!("{base}/v1/organisations/org1/boefjes/my-whois"))).body(edit.to_string())).await;
    assert!((200..300).contains(&status), "edit_plugin without Content-Type: {status} {body}");
    let (_, edited, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/plugins/my-whois")))).await;
    assert_eq!((edited["oci_image"].as_str(), edited["version"].as_str(), edited["scan_level"].as_u64()), (Some("example/whois:2"), Some("2"), Some(2)), "{edited}");
    let (_, variants, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org1/plugins?oci_image=example/whois:2")))).await;
    assert_eq!(variants.as_array().map(Vec::len), Some(1), "oci_image filter: {variants}");

    // clone into a second organisation, then delete it.
    let (status, _, _) = send(with_auth(client.post(format!("{base}/v1/organisations/"))).json(&json!({"id": "org2", "name": "Org 2"}))).await;
    assert!((200..300).contains(&status));
    let (status, _, _) = send(with_auth(client.post(format!("{base}/v1/organisations/org1/settings/clone/org2")))).await;
    assert!((200..300).contains(&status));
    let (_, cloned, _) = send(with_auth(client.get(format!("{base}/v1/organisations/org2/dns-records/settings")))).await;
    assert_eq!(cloned, json!({"REMOTE_NS": "127.0.0.1:5353"}));
    let (status, _, _) = send(with_auth(client.delete(format!("{base}/v1/organisations/org2")))).await;
    assert_eq!(status, 200, "OpenKAT answers 200 to a delete");
}

#[tokio::test]
async fn openkat_clients_work_against_bytes_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = start_bytes(None, dir.path());
    boefje_worker_and_rocky_against_bytes(&bytes).await;
}

#[tokio::test]
async fn openkat_clients_work_against_bytes_on_postgres() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = start_bytes(Some(fresh_postgres("kat_openkat_bytes").await), dir.path());
    boefje_worker_and_rocky_against_bytes(&bytes).await;
}

#[tokio::test]
async fn rocky_works_against_the_katalogus_on_sqlite_open_and_with_a_lowercase_bearer_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = start_katalogus(format!("sqlite://{}?mode=rwc", dir.path().join("open.sqlite").display()), None, dir.path());
    rocky_against_katalogus(&open, None).await;
    let guarded = start_katalogus(format!("sqlite://{}?mode=rwc", dir.path().join("guarded.sqlite").display()), Some("op-token"), dir.path());
    let (status, _, _) = send(http().get(format!("{}/v1/organisations", guarded.base))).await;
    assert_eq!(status, 401, "a token is required once configured");
    rocky_against_katalogus(&guarded, Some("op-token")).await;
}

#[tokio::test]
async fn rocky_works_against_the_katalogus_on_postgres() {
    let dir = tempfile::tempdir().expect("temp dir");
    let katalogus = start_katalogus(fresh_postgres("kat_openkat_katalogus").await, Some("op-token"), dir.path());
    rocky_against_katalogus(&katalogus, Some("op-token")).await;
}
