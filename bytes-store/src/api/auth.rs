//! Login and bearer tokens, as OpenKAT's Bytes: `POST /bytes/token` with the
//! form fields `username` and `password` returns `{"access_token",
//! "token_type": "bearer", "expires_at"}`. Tokens are random, kept in
//! memory, and expire after the configured time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use serde::Deserialize;
use serde_json::json;

use super::{form_error, ApiError, BytesState};

/// The credentials and the tokens handed out.
pub struct Auth {
    username: String,
    password: String,
    lifetime: Duration,
    tokens: Mutex<HashMap<String, Instant>>,
}

impl Auth {
    /// Accept `username`/`password`; tokens live for `lifetime`.
    pub fn new(username: &str, password: &str, lifetime: Duration) -> Auth {
        Auth { username: username.to_string(), password: password.to_string(), lifetime, tokens: Mutex::default() }
    }

    fn issue(&self) -> (String, Duration) {
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let mut tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        tokens.retain(|_, expiry| *expiry > now);
        tokens.insert(token.clone(), now + self.lifetime);
        (token, self.lifetime)
    }

    fn valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.get(token).is_some_and(|expiry| *expiry > Instant::now())
    }
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// `BYTES_USERNAME`.
    pub username: String,
    /// `BYTES_PASSWORD`.
    pub password: String,
}

/// `POST /bytes/token`
#[utoipa::path(post, path = "/bytes/token",  responses((status = 200, description = "access_token, token_type, expires_at"), (status = 401, description = "Wrong username or password"), (status = 422, description = "Not a login form")))]
pub async fn login(State(state): State<BytesState>, form: Result<Form<Login>, FormRejection>) -> Response {
    let Form(login) = match form {
        Ok(form) => form,
        Err(e) => return form_error(e),
    };
    if !(same(&login.username, &state.auth.username) & same(&login.password, &state.auth.password)) {
        return ApiError(ServiceError::new(ErrorKind::Unauthorized, "wrong username or password")).into_response();
    }
    let (token, lifetime) = state.auth.issue();
    let expires_at = time::OffsetDateTime::now_utc() + lifetime;
    let expires_at = expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    Json(json!({"access_token": token, "token_type": "bearer", "expires_at": expires_at})).into_response()
}

/// Let a request through only with a valid bearer token (the login route itself is open).
pub async fn require_token(State(state): State<BytesState>, request: Request, next: Next) -> Response {
    if request.uri().path().ends_with("/token") {
        return next.run(request).await;
    }
    let token = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    if !state.auth.valid(token) {
        return ApiError(ServiceError::new(ErrorKind::Unauthorized, "missing, wrong or expired bearer token: log in at POST /bytes/token")).into_response();
    }
    next.run(request).await
}
