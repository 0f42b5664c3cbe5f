//! Login and bearer tokens, as OpenKAT's Bytes: `POST /token` (where
//! OpenKAT's boefje worker and rocky log in) and `POST /bytes/token` (our
//! `BytesClient`) take the form fields `username` and `password` (and
//! `grant_type`, which must be `password` when given) and return
//! `{"access_token", "token_type": "bearer", "expires_at"}` with
//! `expires_at` in Python's `isoformat()` spelling. The scheme of the
//! `Authorization` header is case-insensitive (OpenKAT's clients send
//! `bearer`). Tokens are random, kept in memory, and expire after the
//! configured time; computing an expiry never panics, however long the
//! lifetime. 401 answers carry `WWW-Authenticate: Bearer` and OpenKAT's
//! texts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use kat_server::auth::{bearer, constant_time_eq};
use kat_server::ApiError;
use serde::Deserialize;
use serde_json::json;

use super::schemas as doc;
use super::BytesState;
use crate::hashing::isoformat;

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

    /// A new token and when it expires, or `None` when the lifetime reaches past what clocks can hold.
    fn issue(&self) -> Option<(String, time::OffsetDateTime)> {
        let now = Instant::now();
        let expiry = now.checked_add(self.lifetime)?;
        let expires_at = time::OffsetDateTime::now_utc().checked_add(time::Duration::try_from(self.lifetime).ok()?)?;
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let mut tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.retain(|_, expiry| *expiry > now);
        tokens.insert(token.clone(), expiry);
        Some((token, expires_at))
    }

    fn valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.get(token).is_some_and(|expiry| *expiry > Instant::now())
    }
}

/// The login form (OpenKAT's `OAuth2PasswordRequestForm`): `grant_type`, when given, must be `password`, as
/// OpenKAT checks it; `scope`, the client fields and any other field are ignored.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// `BYTES_USERNAME`.
    pub username: String,
    /// `BYTES_PASSWORD`.
    pub password: String,
    /// `password` or absent.
    #[serde(default)]
    pub grant_type: Option<String>,
}

/// 401 with OpenKAT's text and `WWW-Authenticate: Bearer`.
fn unauthorized(detail: &str) -> Response {
    let mut response = ApiError(ServiceError::new(ErrorKind::Unauthorized, detail)).into_response();
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// `POST /token`: log in.
#[utoipa::path(
    post,
    path = "/token",
    request_body(content = doc::LoginForm, content_type = "application/x-www-form-urlencoded", description = "The login form (also at POST /bytes/token)"),
    responses(
        (status = 200, description = "A bearer token", body = doc::Token),
        (status = 401, description = "Incorrect username or password", body = doc::Error, headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 413, description = "The body is larger than this service accepts", body = doc::Error),
        (status = 422, description = "Not a login form, or a grant_type other than password", body = doc::Error),
        (status = 500, description = "The token lifetime (BYTES_ACCESS_TOKEN_EXPIRE_MINUTES) reaches past what the clock can hold", body = doc::Error),
    )
)]
pub async fn login(State(state): State<BytesState>, form: Result<Form<Login>, FormRejection>) -> Response {
    let Form(login) = match form {
        Ok(form) => form,
        Err(e) => return ApiError(ServiceError::invalid(format!("the login form is not what was expected: {}", e.body_text())).with_field("body")).into_response(),
    };
    if login.grant_type.as_deref().is_some_and(|g| g != "password") {
        return ApiError(ServiceError::invalid("grant_type must be password").with_field("grant_type")).into_response();
    }
    let auth = &state.auth;
    if !(constant_time_eq(login.username.as_bytes(), auth.username.as_bytes()) & constant_time_eq(login.password.as_bytes(), auth.password.as_bytes())) {
        return unauthorized("Incorrect username or password");
    }
    let Some((token, expires_at)) = auth.issue() else {
        return ApiError(ServiceError::internal("the token lifetime (BYTES_ACCESS_TOKEN_EXPIRE_MINUTES) reaches past what the clock can hold")).into_response();
    };
    Json(json!({"access_token": token, "token_type": "bearer", "expires_at": isoformat(expires_at)})).into_response()
}

/// Let a request through only with a valid bearer token.
pub async fn require_token(State(state): State<BytesState>, request: Request, next: Next) -> Response {
    match bearer(request.headers()) {
        None => unauthorized("Not authenticated"),
        Some(token) if !state.auth.valid(token) => unauthorized("Could not validate credentials"),
        Some(_) => next.run(request).await,
    }
}
