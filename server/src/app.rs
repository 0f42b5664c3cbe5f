//! The outer wrapper of every service's router, applied before routing:
//! a trailing slash is ignored (`POST /v1/organisations/` is
//! `POST /v1/organisations`, as OpenKAT's clients send it), and a path or
//! query holding a NUL character (`%00`) gets 422 naming the parameter, so
//! no handler and no database ever sees one.

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use kat_core::services::ServiceError;
use tower_layer::Layer;

use crate::error::ApiError;

/// `router` behind the normalisation above, as a router again (so tests can `oneshot` it and `axum::serve` runs it).
pub fn app(router: Router) -> Router {
    Router::new().fallback_service(middleware::from_fn(normalise).layer(router))
}

fn percent_decoded_has_nul(text: &str) -> bool {
    text.to_ascii_lowercase().contains("%00") || text.contains('\0')
}

async fn normalise(mut request: Request, next: Next) -> Response {
    let uri = request.uri().clone();
    if let Some(query) = uri.query()
        && let Some(pair) = query.split('&').find(|pair| percent_decoded_has_nul(pair))
    {
        let name = pair.split('=').next().unwrap_or("query");
        return ApiError(ServiceError::invalid(format!("query parameter {name} must not contain a NUL character")).with_field(name)).into_response();
    }
    if percent_decoded_has_nul(uri.path()) {
        return ApiError(ServiceError::invalid("the path must not contain a NUL character").with_field("path")).into_response();
    }
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let path_and_query = match uri.query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = uri.into_parts();
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(new_uri) = Uri::from_parts(parts) {
                *request.uri_mut() = new_uri;
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(router: Router, method: &str, uri: &str) -> (u16, String) {
        let response = router.oneshot(Request::builder().method(method).uri(uri).body(Body::empty()).expect("request")).await.expect("infallible");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn trailing_slashes_and_nul() {
        let router = app(Router::new().route("/v1/organisations", post(|| async { "made" })));
        assert_eq!(call(router.clone(), "POST", "/v1/organisations").await, (200, "made".into()));
        assert_eq!(call(router.clone(), "POST", "/v1/organisations/").await, (200, "made".into()));
        assert_eq!(call(router.clone(), "POST", "/v1/organisations/?x=1").await, (200, "made".into()));
        let (status, body) = call(router.clone(), "POST", "/v1/organisations?organization=a%00b").await;
        assert_eq!(status, 422);
        assert!(body.contains("\"field\":\"organization\""), "{body}");
        assert_eq!(call(router, "POST", "/v1/org%00anisations").await.0, 422);
    }
}
