//! OpenKAT's own Bytes clients against our Bytes, request for request as
//! they send them (boefjes/boefjes/clients/bytes_client.py and
//! rocky/rocky/bytes_client.py): the form login at the root `POST /token`,
//! `Authorization: bearer` in lowercase, JSON bodies without a
//! `Content-Type`, `GET /bytes/raws` as the boefje worker and rocky call it,
//! rocky's `normalizer_metas` lookup, the duplicate-meta integrity error (400, as OpenKAT), `/health` in
//! OpenKAT's shape, and OpenKAT's own filter tests (`test_filtered_boefje_meta`,
//! ties in insertion order, `input_ooi=*`). Runs on SQLite with files and on
//! PostgreSQL with S3 (moto): `bash scripts/services.sh`.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{open, read, serve, Backend};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A client that speaks as OpenKAT's do: lowercase `bearer`, bodies sent as raw text.
struct OpenKatClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl OpenKatClient {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base)).header("User-Agent", "bytes-api-client/0.3");
        match &self.token {
            Some(token) => request.header(AUTHORIZATION, format!("bearer {token}")),
            None => request,
        }
    }

    /// `login()`: `POST /token` (at the root) with the form, reading `access_token` without checking the status.
    async fn login(&mut self) -> Value {
        let response = self.http.post(format!("{}/token", self.base)).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body("username=bytes&password=s3cret").send().await.expect("login");
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.token = body["access_token"].as_str().map(String::from);
        body
    }

    /// `content=model.model_dump_json()`: a JSON body without a `Content-Type` header.
    async fn post_text(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        read(self.request(reqwest::Method::POST, path).body(body.to_string()).send().await.expect("post")).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(self.request(reqwest::Method::GET, path).send().await.expect("get")).await
    }
}

/// A boefje meta as the worker's pydantic `model_dump_json()` writes it (with the extra `oci_image`).
fn worker_meta(id: &str, organization: &str, input_ooi: &str, started_at: &str) -> Value {
    json!({"id": id, "started_at": started_at, "ended_at": "2024-01-02T03:04:06.120000Z", "boefje": {"id": "dns-records", "version": null, "oci_image": null},
           "input_ooi": input_ooi, "arguments": {"input": {"name": "example.nl"}}, "organization": organization, "runnable_hash": null, "environment": {}})
}

#[tokio::test]
async fn openkats_clients_on_sqlite_and_files() {
    let (bytes, _store, _dir) = open(Backend::SqliteFiles).await;
    openkats_clients(serve(bytes, 1 << 20, std::time::Duration::from_secs(600)).await).await;
}

#[tokio::test]
async fn openkats_clients_on_postgres_and_s3() {
    let (bytes, _store, _dir) = open(Backend::PostgresS3).await;
    openkats_clients(serve(bytes, 1 << 20, std::time::Duration::from_secs(600)).await).await;
}

async fn openkats_clients(base: String) {
    let mut worker = OpenKatClient { base: base.clone(), http: reqwest::Client::new(), token: None };
    let run = uuid::Uuid::new_v4().to_string();
    let meta = worker_meta(&run, "org1", "Hostname|internet|example.nl", "2024-01-02T03:04:05.120000Z");

    // The worker's first call goes out without a token and expects 401, then logs in and retries.
    let (status, body) = worker.post_text("/bytes/boefje_meta", &meta).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::UNAUTHORIZED, Some("Not authenticated")), "{body}");
    let login = worker.login().await;
    assert_eq!(login["token_type"], "bearer");
    assert!(login["expires_at"].as_str().is_some_and(|e| e.ends_with("+00:00")), "isoformat with +00:00: {login}");
    let (status, body) = worker.post_text("/bytes/boefje_meta", &meta).await;
    assert_eq!((status, body.clone()), (StatusCode::CREATED, json!({"status": "success"})), "a body without Content-Type is JSON");

    // Saving the same id again: OpenKAT's body and status (400), and another organisation cannot take the run over.
    let hijack = worker_meta(&run, "org2", "Hostname|internet|evil.nl", "2024-01-02T03:04:05Z");
    let (status, body) = worker.post_text("/bytes/boefje_meta", &hijack).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!((body["status"].as_str(), body["message"].as_str(), body["detail"].as_str()), (Some("failed"), Some("Integrity error: object might already exist"), Some("Integrity error: object might already exist")));
    let (_, stored) = worker.get(&format!("/bytes/boefje_meta/{run}")).await;
    assert_eq!((stored["organization"].as_str(), stored["input_ooi"].as_str()), (Some("org1"), Some("Hostname|internet|example.nl")), "the stored meta is unchanged");

    // save_raws: the boefje output with files named "0", "1".
    let output = json!({"status": "COMPLETED", "files": [
        {"name": "0", "content": STANDARD.encode(b"first file"), "tags": ["boefje/dns-records", "dns-records"]},
        {"name": "1", "content": STANDARD.encode(b"second file"), "tags": ["boefje/dns-records-raw"]},
    ]});
    let (status, ids) = worker.post_text(&format!("/bytes/raw?boefje_meta_id={run}"), &output).await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let (first, second) = (ids["0"].as_str().expect("id 0").to_string(), ids["1"].as_str().expect("id 1").to_string());
    let (status, body) = worker.post_text(&format!("/bytes/raw?boefje_meta_id={run}"), &json!({"files": [{"name": "a", "content": "", "tags": ["x/y"]}, {"name": "b", "content": "", "tags": ["x/y"]}]})).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("Content types do not define unique sets of mime types.")), "OpenKAT's status and text");

    // get_raws(boefje_meta_id): OpenKAT's default limit is 1; files are named by raw id, contents in base64.
    let (status, raws) = worker.get(&format!("/bytes/raws?boefje_meta_id={run}")).await;
    assert_eq!(status, StatusCode::OK, "{raws}");
    assert_eq!(raws, json!({"status": "COMPLETED", "files": [{"name": first, "content": STANDARD.encode(b"first file"), "tags": ["boefje/dns-records", "dns-records"]}]}));
    let (_, raws) = worker.get(&format!("/bytes/raws?boefje_meta_id={run}&limit=10")).await;
    let names: Vec<&str> = raws["files"].as_array().expect("files").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, [first.as_str(), second.as_str()]);
    let (status, raw) = read(worker.request(reqwest::Method::GET, &format!("/bytes/raw/{second}")).send().await.expect("raw")).await;
    assert_eq!((status, raw), (StatusCode::OK, json!("second file")));

    // Rocky: its own login, a manual boefje meta, one raw file, then its lookups.
    let mut rocky = OpenKatClient { base: base.clone(), http: reqwest::Client::new(), token: None };
    rocky.login().await;
    let manual = uuid::Uuid::new_v4().to_string();
    let manual_meta = json!({"id": manual, "boefje": {"id": "manual", "name": null, "version": null}, "input_ooi": null, "arguments": {}, "organization": "org2",
                             "started_at": "2024-01-02T03:04:05Z", "ended_at": "2024-01-02T03:04:05Z"});
    let response = rocky.request(reqwest::Method::POST, "/bytes/boefje_meta").header(CONTENT_TYPE, "application/json").body(manual_meta.to_string()).send().await.expect("meta");
    assert_eq!(response.status(), StatusCode::CREATED);
    let upload = json!({"files": [{"name": "raw", "content": STANDARD.encode(b"manual proof"), "tags": ["boefje/manual", "manual/ooi"]}]});
    let (status, ids) = rocky.post_text(&format!("/bytes/raw?boefje_meta_id={manual}"), &upload).await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let proof = ids["raw"].as_str().expect("rocky reads json()[\"raw\"]").to_string();
    let (_, raws) = rocky.get(&format!("/bytes/raws?limit=2&organization=org2&raw_ids={proof}&raw_ids={first}")).await;
    assert_eq!(raws["files"].as_array().map(|f| f.iter().filter_map(|f| f["name"].as_str()).collect::<Vec<_>>()), Some(vec![proof.as_str()]), "organization and raw_ids both filter");
    let (_, metas) = rocky.get(&format!("/bytes/raw?boefje_meta_id={run}&limit=100&organization=org1")).await;
    assert_eq!(metas.as_array().map(Vec::len), Some(2));
    assert_eq!(metas[0]["mime_types"], json!([{"value": "boefje/dns-records"}, {"value": "dns-records"}]));

    // Rocky's normalizer meta (with a full raw_data) and its lookup by ids; raw_data is rebuilt from the store.
    let (_, raw_meta) = rocky.get(&format!("/bytes/raw/{proof}/meta")).await;
    let normalizer_id = uuid::Uuid::new_v4().to_string();
    let mut claimed = raw_meta.clone();
    claimed["secure_hash"] = json!("sha512:forged");
    let normalizer = json!({"id": normalizer_id, "started_at": "2024-01-02T03:05:00Z", "ended_at": "2024-01-02T03:05:01Z", "raw_data": claimed, "normalizer": {"id": "normalizer/manual"}});
    assert_eq!(rocky.post_text("/bytes/normalizer_meta", &normalizer).await, (StatusCode::CREATED, json!({"status": "success"})));
    assert_eq!(rocky.post_text("/bytes/normalizer_meta", &normalizer).await.0, StatusCode::BAD_REQUEST, "a normalizer meta id is saved once (OpenKAT's 400)");
    let (status, found) = rocky.get(&format!("/bytes/normalizer_metas?limit=1&normalizer_metas={normalizer_id}")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found[&normalizer_id]["raw_data"]["secure_hash"], raw_meta["secure_hash"], "raw_data comes from the store, not from the request");
    assert_eq!(rocky.get("/bytes/normalizer_metas").await.0, StatusCode::UNPROCESSABLE_ENTITY);

    // /health as rocky parses it (ServiceHealth), and / redirects to it.
    let (status, health) = read(reqwest::get(format!("{base}/health")).await.expect("health")).await;
    assert_eq!(status, StatusCode::OK);
    for key in ["service", "healthy", "version", "additional", "results"] {
        assert!(health.get(key).is_some(), "{key} missing from {health}");
    }
    assert_eq!((health["service"].as_str(), health["healthy"].as_bool(), health["results"][0]["service"].as_str()), (Some("bytes"), Some(true), Some("database")));
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client").get(format!("{base}/")).send().await.expect("root");
    assert_eq!((redirect.status(), redirect.headers().get("location").and_then(|l| l.to_str().ok())), (StatusCode::TEMPORARY_REDIRECT, Some("/health")));

    // A body that is not JSON is 422, naming the body.
    let (status, body) = read(worker.request(reqwest::Method::POST, "/bytes/boefje_meta").body("not json").send().await.expect("post")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("body")), "{body}");

    // Our own client's route and scheme still work.
    let ours: Value = reqwest::Client::new().post(format!("{base}/bytes/token")).form(&[("username", "bytes"), ("password", "s3cret")]).send().await.expect("login").json().await.expect("token");
    let response = reqwest::Client::new().get(format!("{base}/bytes/boefje_meta/{run}")).bearer_auth(ours["access_token"].as_str().unwrap_or_default()).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = read(reqwest::Client::new().get(format!("{base}/bytes/boefje_meta/{run}")).header(AUTHORIZATION, "bearer wrong").send().await.expect("get")).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::UNAUTHORIZED, Some("Could not validate credentials")));

    filtered_boefje_metas(&worker).await;
}

/// OpenKAT's `test_filtered_boefje_meta`: equal `started_at` come back in insertion order, newest-first or not;
/// `input_ooi=*` (what OpenKAT's client sends for "any") matches any object, never the text `*`.
async fn filtered_boefje_metas(client: &OpenKatClient) {
    let (first, second) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let at = "2022-02-02T02:02:02Z";
    assert_eq!(client.post_text("/bytes/boefje_meta", &worker_meta(&first, "filt", "Hostname|internet|example.nl", at)).await.0, StatusCode::CREATED);
    let query = "/bytes/boefje_meta?organization=filt&boefje_id=dns-records&input_ooi=*&limit=1&offset=0&descending=true";
    let ids = |list: &Value| list.as_array().map(|l| l.iter().filter_map(|m| m["id"].as_str().map(String::from)).collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(ids(&client.get(query).await.1), std::slice::from_ref(&first));
    assert_eq!(client.post_text("/bytes/boefje_meta", &worker_meta(&second, "filt", "Network|internet", at)).await.0, StatusCode::CREATED);
    assert_eq!(ids(&client.get(&query.replace("limit=1", "limit=2")).await.1), [first.clone(), second.clone()]);
    assert_eq!(ids(&client.get(&query.replace("limit=1", "limit=2").replace("descending=true", "descending=false")).await.1), [first.clone(), second.clone()]);
    assert_eq!(ids(&client.get("/bytes/boefje_meta?organization=filt&input_ooi=Network%7Cinternet&limit=2").await.1), std::slice::from_ref(&second));
    assert_eq!(ids(&client.get("/bytes/boefje_meta?organization=filt").await.1), [first], "OpenKAT's defaults: limit 1, newest first");
}
