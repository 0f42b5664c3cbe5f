//! OpenKAT's container protocol, the "boefje API", served by the runner for
//! local executables whose `boefje.json` says `"protocol": "boefje-api"`
//! (DESIGN.md section 5).
//!
//! The runner starts one small HTTP server ([`BoefjeApi`], on
//! `BOEFJES_API_BIND`, default `127.0.0.1:0`) the first time such a plugin
//! runs. Each run [registers](BoefjeApi::register) its task under a fresh
//! random token and starts the program with the input URL
//! `{BOEFJES_API}/api/v0/tasks/{task_id}/{token}` as its last argument
//! (`BOEFJES_API` when set, else `http://<bound address>`). OpenKAT's adapter
//! (`python -m worker INPUT_URL`) sends no header, so the URL itself is the
//! capability:
//!
//! - `GET` answers exactly `{"task": Task, "output_url": ...}` (OpenKAT's
//!   adapter validates it with `extra="forbid"`); the task's `data` is the
//!   boefje meta with the whole job environment, the one place setting values
//!   go. The output URL is the same path.
//! - `POST` takes `{"status": "COMPLETED"|"FAILED", "files": [{"name",
//!   "content" (base64), "tags"}]}` and hands it to the waiting run, which
//!   stores the files in Bytes when the program has ended. It answers `{}`:
//!   OpenKAT answers the raw ids, which its adapter reads but never uses, and
//!   ours are only known once the files are stored.
//!
//! An unknown task is 404, a wrong token 403 (compared in constant time), a
//! task whose output was already posted 403, a malformed body 422 naming the
//! field; every error body is JSON `{"detail", "field"}`. The registration
//! ends with the run (also on timeout or failure), so the token stops working
//! with it. The token never reaches a log, an error message or the boefje
//! meta stored in Bytes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kat_core::config::{get as get_var, ConfigError};
use kat_core::task::Task;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The URL other hosts (or containers) reach the boefje API at, e.g. `http://runner:8006`.
pub const ENV_API: &str = "BOEFJES_API";
/// The address the boefje API listens on (default `127.0.0.1:0`, any free port).
pub const ENV_API_BIND: &str = "BOEFJES_API_BIND";
/// The path of a task's input and output URL, before the task id.
const TASKS_PATH: &str = "/api/v0/tasks";
/// Room for the JSON and base64 around the output limit.
const BODY_SLACK: usize = 64 * 1024;

/// Where the boefje API listens and how plugins reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The address to listen on.
    pub bind: SocketAddr,
    /// The base URL given to plugins (no trailing slash); `None`: `http://<bound address>`.
    pub public_url: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { bind: SocketAddr::from(([127, 0, 0, 1], 0)), public_url: None }
    }
}

impl ApiConfig {
    /// Read `BOEFJES_API_BIND` (an `address:port`) and `BOEFJES_API` (an `http://` or `https://` URL).
    pub fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<ApiConfig, ConfigError> {
        let mut config = ApiConfig::default();
        if let Some(bind) = get_var(lookup, ENV_API_BIND) {
            config.bind = bind.parse().map_err(|_| ConfigError(format!("{ENV_API_BIND}={bind:?} is not an address:port such as 127.0.0.1:8006")))?;
        }
        if let Some(url) = get_var(lookup, ENV_API) {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(char::is_whitespace) {
                return Err(ConfigError(format!("{ENV_API}={url:?} is not an http:// or https:// URL")));
            }
            config.public_url = Some(url.trim_end_matches('/').to_string());
        }
        Ok(config)
    }
}

/// How a plugin says its run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostedStatus {
    /// `COMPLETED`
    Completed,
    /// `FAILED`
    Failed,
}

/// One file a plugin posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedFile {
    /// Its name within the run.
    pub name: String,
    /// The decoded contents.
    pub content: Vec<u8>,
    /// Its mime types (`None` or empty: only the runner's `boefje/<id>` tags).
    pub tags: Option<Vec<String>>,
}

/// What a plugin posted to its output URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedOutput {
    /// `COMPLETED` or `FAILED`.
    pub status: PostedStatus,
    /// The files (none when it posted no `files`).
    pub files: Vec<PostedFile>,
}

/// An error answer of the boefje API; its body is JSON `{"detail", "field"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No running task has this id.
    #[error("Task not found")]
    NotFound,
    /// The token is wrong, or the task takes no more requests.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The body is malformed; `field` names where.
    #[error("{field}: {detail}")]
    Invalid {
        /// The field at fault, e.g. `files[0].content`.
        field: String,
        /// What is wrong with it (never its value).
        detail: String,
    },
    /// The body could not be read (too large, broken connection).
    #[error("{1}")]
    Body(StatusCode, String),
}

impl ApiError {
    fn invalid(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::Invalid { field: field.into(), detail: detail.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, field) = match &self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, Value::Null),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, Value::Null),
            ApiError::Invalid { field, .. } => (StatusCode::UNPROCESSABLE_ENTITY, json!(field)),
            ApiError::Body(status, _) => (*status, json!("body")),
        };
        (status, Json(json!({"detail": self.to_string(), "field": field}))).into_response()
    }
}

/// A registered run.
struct Entry {
    token: String,
    /// The task as `GET` answers it.
    task: Value,
    /// Where the posted output goes; taken by the first valid `POST`.
    output: Option<oneshot::Sender<PostedOutput>>,
}

/// What the handlers share.
struct Shared {
    base_url: String,
    max_output: usize,
    tasks: Mutex<HashMap<Uuid, Entry>>,
}

impl Shared {
    fn tasks(&self) -> MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn task_url(&self, id: Uuid, token: &str) -> String {
        format!("{}{TASKS_PATH}/{id}/{token}", self.base_url)
    }

    /// The task id of a request whose token is right for a task that still takes requests.
    fn authorize(&self, path: Result<Path<(String, String)>, PathRejection>) -> Result<(Uuid, String), ApiError> {
        let Ok(Path((id, token))) = path else { return Err(ApiError::NotFound) };
        let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
        let tasks = self.tasks();
        let entry = tasks.get(&id).ok_or(ApiError::NotFound)?;
        if !same_token(entry.token.as_bytes(), token.as_bytes()) {
            return Err(ApiError::Forbidden("Wrong token for this task"));
        }
        if entry.output.is_none() {
            return Err(ApiError::Forbidden("Task does not have status running"));
        }
        Ok((id, token))
    }
}

/// The runner's boefje API server; it stops when this is dropped.
pub struct BoefjeApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _shutdown: oneshot::Sender<()>,
}

impl BoefjeApi {
    /// Bind `config.bind` and serve in the background; posted files may hold up to `max_output` bytes in all.
    pub async fn start(config: &ApiConfig, max_output: usize) -> std::io::Result<BoefjeApi> {
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let base_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let shared = Arc::new(Shared { base_url, max_output, tasks: Mutex::default() });
        let app = router(shared.clone());
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let stopped = async {
                let _ = stop.await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
                tracing::error!(%addr, "the boefje API stopped: {e}");
            }
        });
        tracing::info!(%addr, base_url = %shared.base_url, "boefje API listening");
        Ok(BoefjeApi { shared, addr, _shutdown: shutdown })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Register a run of `task` under a fresh token, until the [`Registration`] is dropped. Refused while
    /// another run of the same task id is registered.
    pub fn register(&self, task: &Task) -> Result<Registration, String> {
        // Two v4 UUIDs: 244 random bits from the OS's generator, as 64 hex digits.
        self.register_with_token(task, format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()))
    }

    /// Register a run of `task` under a token it was given before (a container that runs on after its runner
    /// restarted still holds its input URL). Refused while another run of the same task id is registered.
    pub fn register_with_token(&self, task: &Task, token: String) -> Result<Registration, String> {
        let value = serde_json::to_value(task).map_err(|e| format!("cannot write task {} as JSON: {e}", task.id))?;
        let (sender, output) = oneshot::channel();
        let mut tasks = self.shared.tasks();
        if tasks.contains_key(&task.id) {
            return Err(format!("task {} is already running on this runner's boefje API", task.id));
        }
        tasks.insert(task.id, Entry { token: token.clone(), task: value, output: Some(sender) });
        drop(tasks);
        let input_url = self.shared.task_url(task.id, &token);
        Ok(Registration { shared: self.shared.clone(), task_id: task.id, token, input_url, output })
    }
}

/// One run's place in the boefje API; dropping it ends the run's token.
pub struct Registration {
    shared: Arc<Shared>,
    task_id: Uuid,
    token: String,
    input_url: String,
    output: oneshot::Receiver<PostedOutput>,
}

impl Registration {
    /// The input URL to give the plugin (it holds the token: never log it).
    pub fn input_url(&self) -> &str {
        &self.input_url
    }

    /// The token, to redact it from the job log.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// What the plugin posted, if it did.
    pub fn take_output(&mut self) -> Option<PostedOutput> {
        self.output.try_recv().ok()
    }

    /// Wait until the plugin posts; `None` when it no longer can (the API stopped).
    pub async fn output(&mut self) -> Option<PostedOutput> {
        (&mut self.output).await.ok()
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("task_id", &self.task_id).finish_non_exhaustive()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut tasks = self.shared.tasks();
        if tasks.get(&self.task_id).is_some_and(|e| e.token == self.token) {
            tasks.remove(&self.task_id);
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.max_output.saturating_mul(4) / 3 + BODY_SLACK;
    Router::new().route(&format!("{TASKS_PATH}/{{task_id}}/{{token}}"), get(input).post(output)).layer(DefaultBodyLimit::max(limit)).with_state(shared)
}

/// `GET`: the task and where to post the output.
async fn input(State(shared): State<Arc<Shared>>, path: Result<Path<(String, String)>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let (id, token) = shared.authorize(path)?;
    let task = shared.tasks().get(&id).map(|e| e.task.clone()).ok_or(ApiError::NotFound)?;
    Ok(Json(json!({"task": task, "output_url": shared.task_url(id, &token)})))
}

/// `POST`: the plugin's output, handed to the waiting run.
async fn output(State(shared): State<Arc<Shared>>, path: Result<Path<(String, String)>, PathRejection>, body: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let (id, _) = shared.authorize(path)?;
    let body = body.map_err(|e| ApiError::Body(e.status(), e.body_text()))?;
    let posted = parse_output(&body, shared.max_output)?;
    let sender = shared.tasks().get_mut(&id).and_then(|e| e.output.take()).ok_or(ApiError::Forbidden("Task does not have status running"))?;
    sender.send(posted).map_err(|_| ApiError::Forbidden("Task does not have status running"))?;
    tracing::debug!(task = %id, "boefje API: output posted");
    Ok(Json(json!({})))
}

/// Read OpenKAT's `BoefjeOutput`; extra keys are ignored, as its model does.
pub fn parse_output(body: &[u8], max_output: usize) -> Result<PostedOutput, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::invalid("body", format!("not JSON: {e}")))?;
    let Value::Object(object) = value else { return Err(ApiError::invalid("body", "expected a JSON object")) };
    let status = match object.get("status").and_then(Value::as_str) {
        Some("COMPLETED") => PostedStatus::Completed,
        Some("FAILED") => PostedStatus::Failed,
        _ => return Err(ApiError::invalid("status", "expected \"COMPLETED\" or \"FAILED\"")),
    };
    let files = match object.get("files") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(files)) => files.iter().enumerate().map(|(i, f)| parse_file(i, f)).collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::invalid("files", "expected a list of files")),
    };
    let total: usize = files.iter().map(|f: &PostedFile| f.content.len()).sum();
    if total > max_output {
        return Err(ApiError::Body(StatusCode::PAYLOAD_TOO_LARGE, format!("the files hold {total} bytes, more than BOEFJES_MAX_OUTPUT ({max_output} bytes)")));
    }
    Ok(PostedOutput { status, files })
}

fn parse_file(index: usize, file: &Value) -> Result<PostedFile, ApiError> {
    let field = |name: &str| format!("files[{index}].{name}");
    let Value::Object(file) = file else { return Err(ApiError::invalid(format!("files[{index}]"), "expected an object")) };
    let name = string(file, "name").ok_or_else(|| ApiError::invalid(field("name"), "expected a string"))?;
    let content = string(file, "content").ok_or_else(|| ApiError::invalid(field("content"), "expected a base64 string"))?;
    let content = STANDARD.decode(content).map_err(|_| ApiError::invalid(field("content"), "not valid base64"))?;
    let tags = match file.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Array(tags)) => {
            let tags: Option<Vec<String>> = tags.iter().map(|t| t.as_str().filter(|t| !t.is_empty()).map(String::from)).collect();
            Some(tags.ok_or_else(|| ApiError::invalid(field("tags"), "expected a list of non-empty strings"))?)
        }
        Some(_) => return Err(ApiError::invalid(field("tags"), "expected a list of non-empty strings")),
    };
    Ok(PostedFile { name: name.to_string(), content, tags })
}

fn string<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// Whether two tokens are equal, in time that depends only on their lengths.
fn same_token(expected: &[u8], given: &[u8]) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    expected.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use kat_core::config::from_pairs;

    #[test]
    fn config_comes_from_the_variables() {
        assert_eq!(ApiConfig::from_vars(&from_pairs(&[])), Ok(ApiConfig::default()));
        let config = ApiConfig::from_vars(&from_pairs(&[(ENV_API_BIND, "0.0.0.0:8006"), (ENV_API, "http://runner:8006/")])).expect("config");
        assert_eq!(config, ApiConfig { bind: "0.0.0.0:8006".parse().expect("address"), public_url: Some("http://runner:8006".into()) });
        for (name, bad) in [(ENV_API_BIND, "localhost"), (ENV_API_BIND, "1.2.3.4"), (ENV_API, "runner:8006"), (ENV_API, "http://a b")] {
            let e = ApiConfig::from_vars(&from_pairs(&[(name, bad)])).expect_err(bad);
            assert!(e.0.contains(name), "{name}={bad}: {e}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abc", b"abd"));
        assert!(!same_token(b"abc", b"ab"));
        assert!(!same_token(b"abc", b""));
    }

    #[test]
    fn output_bodies_are_checked_field_by_field() {
        let ok = parse_output(br#"{"status": "COMPLETED", "files": [{"name": "a", "content": "aGk=", "tags": ["text/plain"]}, {"name": "b", "content": "", "tags": null}], "extra": 1}"#, 10).expect("valid");
        assert_eq!(ok.status, PostedStatus::Completed);
        assert_eq!(ok.files[0], PostedFile { name: "a".into(), content: b"hi".to_vec(), tags: Some(vec!["text/plain".into()]) });
        assert_eq!(ok.files[1].tags, None);
        assert_eq!(parse_output(br#"{"status": "FAILED"}"#, 10).expect("no files").files, []);
        for (body, field) in [
            (&b"not json"[..], "body"),
            (b"[]", "body"),
            (br#"{"status": "DONE"}"#, "status"),
            (br#"{"files": []}"#, "status"),
            (br#"{"status": "FAILED", "files": {}}"#, "files"),
            (br#"{"status": "FAILED", "files": [1]}"#, "files[0]"),
            (br#"{"status": "FAILED", "files": [{"content": ""}]}"#, "files[0].name"),
            (br#"{"status": "FAILED", "files": [{"name": "a", "content": "%%%"}]}"#, "files[0].content"),
            (br#"{"status": "FAILED", "files": [{"name": "a", "content": "", "tags": [""]}]}"#, "files[0].tags"),
            (br#"{"status": "FAILED", "files": [{"name": "a", "content": "", "tags": "x/y"}]}"#, "files[0].tags"),
        ] {
            match parse_output(body, 10) {
                Err(ApiError::Invalid { field: got, .. }) => assert_eq!(got, field, "{}", String::from_utf8_lossy(body)),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let big = parse_output(br#"{"status": "COMPLETED", "files": [{"name": "a", "content": "aGVsbG8gd29ybGQ="}]}"#, 5);
        assert!(matches!(big, Err(ApiError::Body(StatusCode::PAYLOAD_TOO_LARGE, _))), "{big:?}");
    }
}
