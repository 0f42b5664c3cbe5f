//! A scripted Kubernetes API server on 127.0.0.1 (no real one can run here):
//! the subset the boefje runner uses (create, read, patch, delete Secrets;
//! create, read, list, watch, delete Jobs; list pods and read their log),
//! answering as the API server does (`data` base64 on read, `Status` bodies
//! for errors, newline-delimited watch events). Every request is recorded
//! with its body so tests can assert the exact objects the runner sent.
//! There is no kubelet: tests end a Job with [`FakeKubernetes::finish_job`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

/// One request the runner made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
}

#[derive(Default)]
struct Cluster {
    secrets: BTreeMap<String, Value>,
    jobs: BTreeMap<String, Value>,
    logs: BTreeMap<String, String>,
    requests: Vec<Recorded>,
    version: u64,
}

impl Cluster {
    fn next_version(&mut self) -> String {
        self.version += 1;
        self.version.to_string()
    }
}

struct Shared {
    cluster: Mutex<Cluster>,
    events: broadcast::Sender<(String, &'static str, Value)>,
    created: mpsc::UnboundedSender<String>,
}

impl Shared {
    fn cluster(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fake API server; it stops when the test's runtime ends.
pub struct FakeKubernetes {
    shared: Arc<Shared>,
    pub url: String,
    /// The names of Jobs as they are created.
    pub created: mpsc::UnboundedReceiver<String>,
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code.as_u16()});
    (code, Json(body)).into_response()
}

fn not_found(kind: &str, name: &str) -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", format!("{kind} \"{name}\" not found"))
}

/// Whether `object`'s labels match a selector `k=v,k2=v2`.
fn selected(object: &Value, selector: Option<&String>) -> bool {
    let Some(selector) = selector else { return true };
    selector.split(',').filter(|s| !s.is_empty()).all(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        object["metadata"]["labels"][key].as_str() == Some(value)
    })
}

fn record(shared: &Shared, method: Method, path: String, query: &BTreeMap<String, String>, body: &Bytes) -> Option<Value> {
    let body = (!body.is_empty()).then(|| serde_json::from_slice::<Value>(body).expect("the runner sends JSON"));
    shared.cluster().requests.push(Recorded { method, path, query: query.clone(), body: body.clone() });
    body
}

async fn secrets(State(shared): State<Arc<Shared>>, method: Method, Path(ns): Path<String>, Query(query): Query<BTreeMap<String, String>>, body: Bytes) -> Response {
    let path = format!("/api/v1/namespaces/{ns}/secrets");
    let Some(mut secret) = record(&shared, method, path, &query, &body) else { return status(StatusCode::BAD_REQUEST, "BadRequest", "no body".into()) };
    let name = secret["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let mut cluster = shared.cluster();
    if cluster.secrets.contains_key(&name) {
        return status(StatusCode::CONFLICT, "AlreadyExists", format!("secrets \"{name}\" already exists"));
    }
    // As the API server: stringData is written into data (base64) and not kept.
    if let Some(Value::Object(string_data)) = secret.as_object_mut().and_then(|s| s.remove("stringData")) {
        let data: serde_json::Map<String, Value> = string_data.into_iter().map(|(k, v)| (k, json!(base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default())))).collect();
        secret["data"] = Value::Object(data);
    }
    secret["metadata"]["uid"] = json!(format!("secret-uid-{name}"));
    secret["metadata"]["resourceVersion"] = json!(cluster.next_version());
    cluster.secrets.insert(name, secret.clone());
    (StatusCode::CREATED, Json(secret)).into_response()
}

async fn secret(State(shared): State<Arc<Shared>>, method: Method, Path((ns, name)): Path<(String, String)>, Query(query): Query<BTreeMap<String, String>>, body: Bytes) -> Response {
    let patch = record(&shared, method.clone(), format!("/api/v1/namespaces/{ns}/secrets/{name}"), &query, &body);
    let mut cluster = shared.cluster();
    match method {
        Method::GET => match cluster.secrets.get(&name) {
            Some(secret) => Json(secret.clone()).into_response(),
            None => not_found("secrets", &name),
        },
        Method::PATCH => {
            let version = cluster.next_version();
            let Some(secret) = cluster.secrets.get_mut(&name) else { return not_found("secrets", &name) };
            if let Some(owners) = patch.as_ref().map(|p| p["metadata"]["ownerReferences"].clone()) {
                secret["metadata"]["ownerReferences"] = owners;
            }
            secret["metadata"]["resourceVersion"] = json!(version);
            Json(secret.clone()).into_response()
        }
        Method::DELETE => match cluster.secrets.remove(&name) {
            Some(secret) => Json(secret).into_response(),
            None => not_found("secrets", &name),
        },
        _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", method.to_string()),
    }
}

async fn jobs(State(shared): State<Arc<Shared>>, method: Method, Path(ns): Path<String>, Query(query): Query<BTreeMap<String, String>>, body: Bytes) -> Response {
    let body = record(&shared, method.clone(), format!("/apis/batch/v1/namespaces/{ns}/jobs"), &query, &body);
    if method == Method::POST {
        let Some(mut job) = body else { return status(StatusCode::BAD_REQUEST, "BadRequest", "no body".into()) };
        let name = job["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let mut cluster = shared.cluster();
        if cluster.jobs.contains_key(&name) {
            return status(StatusCode::CONFLICT, "AlreadyExists", format!("jobs.batch \"{name}\" already exists"));
        }
        job["metadata"]["uid"] = json!(format!("job-uid-{name}"));
        job["metadata"]["resourceVersion"] = json!(cluster.next_version());
        job["status"] = json!({"active": 1});
        cluster.jobs.insert(name.clone(), job.clone());
        drop(cluster);
        let _ = shared.created.send(name);
        return (StatusCode::CREATED, Json(job)).into_response();
    }
    if query.get("watch").map(String::as_str) == Some("true") {
        return watch(&shared, &query);
    }
    let cluster = shared.cluster();
    let items: Vec<Value> = cluster.jobs.values().filter(|j| selected(j, query.get("labelSelector"))).cloned().collect();
    Json(json!({"apiVersion": "batch/v1", "kind": "JobList", "metadata": {"resourceVersion": cluster.version.to_string()}, "items": items})).into_response()
}

/// A watch on one Job (`fieldSelector=metadata.name=NAME`): its state if newer than `resourceVersion`, then
/// every change, as newline-delimited events.
fn watch(shared: &Arc<Shared>, query: &BTreeMap<String, String>) -> Response {
    let name = query.get("fieldSelector").and_then(|f| f.strip_prefix("metadata.name=")).unwrap_or_default().to_string();
    let since: u64 = query.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    // Subscribe before reading the state, so no change falls between the two.
    let events = shared.events.subscribe();
    let current = shared.cluster().jobs.get(&name).cloned();
    let newer = current.filter(|job| job["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) > since);
    let first = futures::stream::iter(newer.map(|job| event_line("MODIFIED", &job)));
    let rest = futures::stream::unfold(events, move |mut events| {
        let name = name.clone();
        async move {
            loop {
                match events.recv().await {
                    Ok((changed, kind, job)) if changed == name => return Some((event_line(kind, &job), events)),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    let stream = futures::StreamExt::chain(first, rest);
    Response::builder().header("content-type", "application/json").body(Body::from_stream(stream)).expect("response")
}

fn event_line(kind: &str, object: &Value) -> Result<Bytes, std::io::Error> {
    Ok(Bytes::from(format!("{}\n", json!({"type": kind, "object": object}))))
}

async fn job(State(shared): State<Arc<Shared>>, method: Method, Path((ns, name)): Path<(String, String)>, Query(query): Query<BTreeMap<String, String>>, body: Bytes) -> Response {
    record(&shared, method.clone(), format!("/apis/batch/v1/namespaces/{ns}/jobs/{name}"), &query, &body);
    let mut cluster = shared.cluster();
    match method {
        Method::GET => match cluster.jobs.get(&name) {
            Some(job) => Json(job.clone()).into_response(),
            None => not_found("jobs.batch", &name),
        },
        Method::DELETE => match cluster.jobs.remove(&name) {
            Some(job) => {
                drop(cluster);
                let _ = shared.events.send((name, "DELETED", job.clone()));
                Json(job).into_response()
            }
            None => not_found("jobs.batch", &name),
        },
        _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", method.to_string()),
    }
}

async fn pods(State(shared): State<Arc<Shared>>, Path(ns): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Response {
    record(&shared, Method::GET, format!("/api/v1/namespaces/{ns}/pods"), &query, &Bytes::new());
    let cluster = shared.cluster();
    let job = query.get("labelSelector").and_then(|s| s.strip_prefix("job-name=")).unwrap_or_default();
    let items: Vec<Value> = match cluster.jobs.contains_key(job) || cluster.logs.contains_key(job) {
        true => vec![json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("{job}-x7k2p"), "namespace": ns, "labels": {"job-name": job}, "creationTimestamp": "2026-12-02T04:00:00Z"}})],
        false => Vec::new(),
    };
    Json(json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": cluster.version.to_string()}, "items": items})).into_response()
}

async fn pod_log(State(shared): State<Arc<Shared>>, Path((ns, pod)): Path<(String, String)>, Query(query): Query<BTreeMap<String, String>>) -> Response {
    record(&shared, Method::GET, format!("/api/v1/namespaces/{ns}/pods/{pod}/log"), &query, &Bytes::new());
    let job = pod.strip_suffix("-x7k2p").unwrap_or_default();
    match shared.cluster().logs.get(job) {
        Some(log) => log.clone().into_response(),
        None => not_found("pods", &pod),
    }
}

impl FakeKubernetes {
    /// Serve on a free port of 127.0.0.1.
    pub async fn start() -> FakeKubernetes {
        let (events, _) = broadcast::channel(64);
        let (created, created_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared { cluster: Mutex::default(), events, created });
        let app = Router::new()
            .route("/api/v1/namespaces/{ns}/secrets", axum::routing::post(secrets))
            .route("/api/v1/namespaces/{ns}/secrets/{name}", get(secret).patch(secret).delete(secret))
            .route("/apis/batch/v1/namespaces/{ns}/jobs", get(jobs).post(jobs))
            .route("/apis/batch/v1/namespaces/{ns}/jobs/{name}", get(job).delete(job))
            .route("/api/v1/namespaces/{ns}/pods", get(pods))
            .route("/api/v1/namespaces/{ns}/pods/{pod}/log", get(pod_log))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake API server") });
        FakeKubernetes { shared, url, created: created_rx }
    }

    /// A client of this server, as the runner's `kube::Client`.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().expect("url"));
        kube::Client::try_from(config).expect("client")
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.cluster().requests.clone()
    }

    /// A stored Secret's value of `key`, decoded.
    pub fn secret_value(&self, name: &str, key: &str) -> Option<String> {
        let cluster = self.shared.cluster();
        let encoded = cluster.secrets.get(name)?["data"][key].as_str()?.to_string();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).ok()?).ok()
    }

    /// Whether a Secret of this name exists.
    pub fn has_secret(&self, name: &str) -> bool {
        self.shared.cluster().secrets.contains_key(name)
    }

    /// End a Job as the Job controller does: its pod wrote `log`, and it is `Complete` or `Failed`.
    pub fn finish_job(&self, name: &str, succeeded: bool, log: &str) {
        let mut cluster = self.shared.cluster();
        cluster.logs.insert(name.to_string(), log.to_string());
        let version = cluster.next_version();
        let job = cluster.jobs.get_mut(name).expect("the job exists");
        let condition = match succeeded {
            true => json!({"type": "Complete", "status": "True"}),
            false => json!({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}),
        };
        job["status"] = match succeeded {
            true => json!({"succeeded": 1, "conditions": [condition]}),
            false => json!({"failed": 1, "conditions": [condition]}),
        };
        job["metadata"]["resourceVersion"] = json!(version);
        let job = job.clone();
        drop(cluster);
        let _ = self.shared.events.send((name.to_string(), "MODIFIED", job));
    }
}
