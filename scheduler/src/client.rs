//! `SchedulerClient`: the `Scheduler` trait over HTTP against this
//! scheduler's REST API (mula's paths plus heartbeats, `/objects` and
//! `/raw_file_received`), for runners and tools in distributed mode.
//!
//! Answers map back to `ServiceError` kinds (404 not found, 409 conflict,
//! 400/422 invalid with the field the service named, 401 unauthorized,
//! 5xx and connection failures unavailable); a push of work that already
//! has an unfinished task (409 with the task) is `Pushed { created: false }`.

use std::time::Duration;

use async_trait::async_trait;
use kat_core::events::RawFileReceived;
use kat_core::services::scheduler::{Filter, NewTask, ObjectState, OpenCount, Page, Pushed, Scheduler, TaskPatch, TaskQuery, TaskType};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::{Task, TaskStatus};
use kat_core::{ErrorKind, Reference};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use uuid::Uuid;

/// The scheduler over HTTP.
#[derive(Debug, Clone)]
pub struct SchedulerClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

fn kind_of(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        400 | 422 => ErrorKind::Invalid,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        413 => ErrorKind::TooLarge,
        500 => ErrorKind::Internal,
        _ => ErrorKind::Unavailable,
    }
}

impl SchedulerClient {
    /// A client of the scheduler at `base` (`http://127.0.0.1:8004`), sending `token` as a bearer token when given.
    pub fn new(base: &str, token: Option<String>) -> SchedulerClient {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(32).build().unwrap_or_default();
        SchedulerClient { base: base.trim_end_matches('/').to_string(), token, http }
    }

    /// Send a request and return the status and the JSON body (`Value::Null` when empty).
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> ServiceResult<(StatusCode, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        // The URL holds no secret, but the error text may hold the token-bearing request: keep it generic.
        let response = request.send().await.map_err(|e| ServiceError::unavailable(format!("the scheduler at {} cannot be reached: {}", self.base, if e.is_timeout() { "timed out" } else { "connection failed" })))?;
        let status = response.status();
        let text = response.text().await.map_err(|_| ServiceError::unavailable("the scheduler's answer could not be read"))?;
        let value = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Ok((status, value))
    }

    /// The error of an unsuccessful answer.
    fn error(status: StatusCode, body: &Value) -> ServiceError {
        let detail = body.get("detail").and_then(Value::as_str).map_or_else(|| format!("the scheduler answered {status}"), str::to_string);
        let error = ServiceError::new(kind_of(status), detail);
        match body.get("field").and_then(Value::as_str) {
            Some(field) => error.with_field(field),
            None => error,
        }
    }

    /// A call that must succeed with `expected`, its body parsed as `T`.
    async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&Value>, expected: StatusCode) -> ServiceResult<T> {
        let (status, value) = self.send(method, path, body).await?;
        if status != expected {
            return Err(Self::error(status, &value));
        }
        serde_json::from_value(value).map_err(|e| ServiceError::internal(format!("the scheduler's answer has an unexpected shape: {e}")))
    }

    fn pushed_list(value: Value) -> ServiceResult<Vec<Pushed>> {
        let results = value.get("results").and_then(Value::as_array).cloned().unwrap_or_default();
        results
            .into_iter()
            .map(|r| {
                let task: Task = serde_json::from_value(r.get("task").cloned().unwrap_or(Value::Null)).map_err(|e| ServiceError::internal(format!("the scheduler's answer has an unexpected shape: {e}")))?;
                Ok(Pushed { task, created: r.get("created").and_then(Value::as_bool).unwrap_or(false) })
            })
            .collect()
    }

    /// The count of tasks with `status`.
    async fn count(&self, status: TaskStatus) -> ServiceResult<i64> {
        let page: Value = self.call(Method::GET, &format!("/tasks?status={}&limit=1", status.as_str()), None, StatusCode::OK).await?;
        Ok(page.get("count").and_then(Value::as_i64).unwrap_or(0))
    }
}

fn query_string(query: &TaskQuery) -> String {
    let mut pairs = Vec::new();
    for (name, value) in [("scheduler_id", &query.scheduler_id), ("organisation", &query.organisation), ("task_type", &query.task_type)] {
        if let Some(v) = value {
            pairs.push(format!("{name}={}", encode(v)));
        }
    }
    if let Some(s) = query.status {
        pairs.push(format!("status={}", s.as_str()));
    }
    pairs.push(format!("offset={}", query.offset.max(0)));
    pairs.push(format!("limit={}", if query.limit <= 0 { 10 } else { query.limit }));
    pairs.join("&")
}

/// Percent-encode a query value.
fn encode(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[async_trait]
impl Scheduler for SchedulerClient {
    async fn push(&self, task: NewTask) -> ServiceResult<Pushed> {
        let body = json!({"organisation": task.organisation, "priority": task.priority, "data": task.data});
        let (status, value) = self.send(Method::POST, &format!("/schedulers/{}/push", task.task_type.as_str()), Some(&body)).await?;
        let parse = |v: Value| serde_json::from_value::<Task>(v).map_err(|e| ServiceError::internal(format!("the scheduler's answer has an unexpected shape: {e}")));
        match status {
            StatusCode::CREATED => Ok(Pushed { task: parse(value)?, created: true }),
            StatusCode::CONFLICT if value.get("task").is_some() => Ok(Pushed { task: parse(value.get("task").cloned().unwrap_or(Value::Null))?, created: false }),
            _ => Err(Self::error(status, &value)),
        }
    }

    async fn pop(&self, task_type: TaskType, filters: &[Filter], limit: usize) -> ServiceResult<Vec<Task>> {
        let body = if filters.is_empty() { Value::Null } else { json!({"filters": filters}) };
        let answer: Value = self.call(Method::POST, &format!("/schedulers/{}/pop?limit={}", task_type.as_str(), limit.max(1)), Some(&body), StatusCode::OK).await?;
        serde_json::from_value(answer.get("results").cloned().unwrap_or(Value::Array(Vec::new()))).map_err(|e| ServiceError::internal(format!("the scheduler's answer has an unexpected shape: {e}")))
    }

    async fn patch(&self, id: Uuid, patch: TaskPatch) -> ServiceResult<Task> {
        let body = serde_json::to_value(&patch).map_err(|e| ServiceError::internal(e.to_string()))?;
        self.call(Method::PATCH, &format!("/tasks/{id}"), Some(&body), StatusCode::OK).await
    }

    async fn heartbeat(&self, id: Uuid) -> ServiceResult<Task> {
        self.call(Method::POST, &format!("/tasks/{id}/heartbeat"), None, StatusCode::OK).await
    }

    async fn get(&self, id: Uuid) -> ServiceResult<Task> {
        self.call(Method::GET, &format!("/tasks/{id}"), None, StatusCode::OK).await
    }

    async fn list(&self, query: &TaskQuery) -> ServiceResult<Page<Task>> {
        let path = format!("/tasks?{}", query_string(query));
        let page: Value = if query.filters.is_empty() {
            self.call(Method::GET, &path, None, StatusCode::OK).await?
        } else {
            self.call(Method::POST, &path, Some(&json!({"filters": query.filters})), StatusCode::OK).await?
        };
        let results = serde_json::from_value(page.get("results").cloned().unwrap_or(Value::Array(Vec::new()))).map_err(|e| ServiceError::internal(format!("the scheduler's answer has an unexpected shape: {e}")))?;
        Ok(Page { count: page.get("count").and_then(Value::as_i64).unwrap_or(0), results })
    }

    async fn raw_file_received(&self, event: &RawFileReceived) -> ServiceResult<Vec<Pushed>> {
        let body = serde_json::to_value(event).map_err(|e| ServiceError::internal(e.to_string()))?;
        Self::pushed_list(self.call(Method::POST, "/raw_file_received", Some(&body), StatusCode::OK).await?)
    }

    async fn objects_changed(&self, organisation: &str, saved: &[ObjectState], deleted: &[Reference]) -> ServiceResult<Vec<Pushed>> {
        let body = json!({"organisation": organisation, "saved": saved, "deleted": deleted});
        Self::pushed_list(self.call(Method::POST, "/objects", Some(&body), StatusCode::OK).await?)
    }

    async fn open_count(&self) -> ServiceResult<OpenCount> {
        let queued = self.count(TaskStatus::Queued).await? + self.count(TaskStatus::Pending).await?;
        Ok(OpenCount { queued, dispatched: self.count(TaskStatus::Dispatched).await?, running: self.count(TaskStatus::Running).await? })
    }
}
