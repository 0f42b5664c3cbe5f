//! A boefje runner in distributed mode: its settings come from the
//! KATalogus REST service over real HTTP (`KatalogusClient`), with settings
//! encrypted at rest, and it stores raw files in the Bytes REST service
//! (`BytesClient`), while the scan runs against a real TCP listener.

use std::collections::BTreeMap;
use std::sync::Arc;

use kat_boefje_runner::BoefjeRunner;
use kat_bytes::LocalBytes;
use kat_core::crypto::{generate_key_pair, Middleware};
use kat_core::meta::PluginRef;
use kat_core::services::bytes::Bytes;
use kat_core::task::BoefjeTask;
use kat_katalogus::api::{router, AppState};
use kat_katalogus::{KatalogusClient, LocalKatalogus};
use serde_json::json;

#[tokio::test]
async fn a_runner_takes_its_settings_from_the_katalogus_service() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (private, public) = generate_key_pair();
    let crypto = Arc::new(Middleware::nacl_box(&private, &public).expect("keys"));
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.sqlite").display());
    let katalogus = LocalKatalogus::connect(&url, kat_tools::embedded::builtin_repository(), crypto).await.expect("katalogus");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router(AppState::new(Arc::new(katalogus), Some("runner-token".into())))).await });

    let open = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to find");
    let port = open.local_addr().expect("addr").port();
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: serde_json::Value| http.request(method, format!("{base}{path}")).bearer_auth("runner-token").json(&body).send();
    assert!(send(reqwest::Method::POST, "/v1/organisations", json!({"id": "dist", "name": "Distributed"})).await.expect("post").status().is_success());
    let put = send(reqwest::Method::PUT, "/v1/organisations/dist/port-scan/settings", json!({"PORTS": port.to_string(), "TIMEOUT_MS": "500"})).await.expect("put");
    assert!(put.status().is_success(), "{:?}", put.text().await);

    // Bytes as a service too: the runner stores its raw files over HTTP.
    let store = Arc::new(LocalBytes::open(dir.path()).await.expect("bytes"));
    let bytes_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bytes_base = format!("http://{}", bytes_listener.local_addr().expect("addr"));
    let bytes_state = kat_bytes::api::BytesState { bytes: store.clone(), auth: Arc::new(kat_bytes::api::auth::Auth::new("runner", "pw", std::time::Duration::from_secs(60))), max_raw_size: 1 << 20 };
    tokio::spawn(async move { axum::serve(bytes_listener, kat_bytes::api::router(bytes_state)).await });
    let bytes = Arc::new(kat_bytes::client::BytesClient::new(&bytes_base, "runner", "pw"));
    let client = Arc::new(KatalogusClient::new(&base, Some("runner-token".into())));
    let runner = BoefjeRunner::new(kat_plugins::boefjes::all(), bytes.clone(), client, BTreeMap::from([("BOEFJE_PORTS".to_string(), "1".to_string())]));
    let task = BoefjeTask { id: uuid::Uuid::new_v4(), boefje: PluginRef { id: "port-scan".into(), version: None }, input_ooi: "IPAddressV4|internet|127.0.0.1".into(), organization: "dist".into() };
    let outcome = runner.execute(&task).await.expect("runs");
    assert_eq!(outcome.error, None);
    let (meta, content) = bytes.get_raw(outcome.raw_ids[0]).await.expect("raw over HTTP");
    assert_eq!(store.get_raw(outcome.raw_ids[0]).await.expect("raw in the store").1, content, "the service stored what the runner sent");
    assert_eq!(bytes.raw_of_run(task.id).await.expect("list").len(), 1);
    assert_eq!(store.pending_events(10).await.expect("outbox").len(), 1, "the save announced raw_file_received");
    let wrong_login = kat_bytes::client::BytesClient::new(&bytes_base, "runner", "wrong");
    assert_eq!(wrong_login.get_raw_meta(outcome.raw_ids[0]).await.expect_err("refused").kind, kat_core::ErrorKind::Unauthorized);
    let env = meta.boefje_meta.environment.expect("environment kept");
    assert_eq!(env.get("PORTS"), Some(&port.to_string()), "the KATalogus setting overrides the host default");
    assert_eq!(env.get("TIMEOUT_MS").map(String::as_str), Some("500"), "converted to the schema's integer and back");
    assert!(String::from_utf8_lossy(&content).contains(&format!("portid=\"{port}\"")));

    // Without the right token the runner cannot get settings: the run fails with a clear error raw file.
    let locked_out = BoefjeRunner::new(kat_plugins::boefjes::all(), bytes.clone(), Arc::new(KatalogusClient::new(&base, None)), BTreeMap::new());
    let failed = locked_out.execute(&BoefjeTask { id: uuid::Uuid::new_v4(), ..task }).await.expect("stores the failure");
    assert!(failed.error.as_deref().is_some_and(|e| e.contains("bearer token")), "{:?}", failed.error);
}
