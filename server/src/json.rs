//! `ApiJson<T>`: the JSON body extractor of every service.
//!
//! OpenKAT's Python clients send `content=model.model_dump_json()` without a
//! `Content-Type` header, so the body is parsed as JSON whatever its content
//! type; a body that is not JSON, or does not have the expected shape, gets
//! 422 naming the field (the serde path, such as `boefje.id`); a string or
//! key with a NUL character gets 422 naming where it is; a body over the
//! router's `DefaultBodyLimit` gets 413. The error body is always JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body, read whatever its `Content-Type`.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Parse `body` as JSON of type `T`, with the errors `ApiJson` answers.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ServiceError::invalid("the request body is empty: send a JSON document").with_field("body"));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| ServiceError::invalid(format!("the request body is not JSON: {e}")).with_field("body"))?;
    if let Some(path) = kat_core::ids::find_nul(&value) {
        return Err(ServiceError::invalid(format!("{path} must not contain a NUL character")).with_field(path));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_string() } else { path };
        ServiceError::invalid(format!("{field}: {}", e.inner())).with_field(field)
    })
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(ServiceError::new(ErrorKind::TooLarge, "the request body is larger than this service accepts").with_field("body"))
            } else {
                ApiError(ServiceError::invalid(format!("the request body could not be read: {e}")).with_field("body"))
            }
        })?;
        parse_body(&body).map(ApiJson).map_err(ApiError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only parsed")]
    struct Meta {
        id: u32,
        boefje: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only parsed")]
    struct Inner {
        id: String,
    }

    #[test]
    fn errors_name_the_field() {
        assert!(parse_body::<Meta>(br#"{"id": 1, "boefje": {"id": "x"}}"#).is_ok());
        assert_eq!(parse_body::<Meta>(br#"{"id": 1, "boefje": {"id": 5}}"#).expect_err("type").field.as_deref(), Some("boefje.id"));
        assert_eq!(parse_body::<Meta>(br#"{"id": 1, "boefje": {"id": "a\u0000"}}"#).expect_err("nul").field.as_deref(), Some("boefje.id"));
        assert_eq!(parse_body::<Meta>(b"not json").expect_err("json").field.as_deref(), Some("body"));
        assert_eq!(parse_body::<Meta>(b"  ").expect_err("empty").field.as_deref(), Some("body"));
        assert_eq!(parse_body::<Meta>(br#"{"boefje": {"id": "x"}}"#).expect_err("missing").field.as_deref(), Some("body"));
    }
}
