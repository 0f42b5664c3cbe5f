//! Path and query parameters read the way OpenKAT's FastAPI services read
//! them, every rejection a JSON 422 naming the parameter: [`Query`] holds
//! the query pairs (a repeated name gives a list; for a single value the
//! last one counts) and [`Id`] the UUID of a `/.../{id}` route.
//! Organisation ids are checked with `kat_core::ids::check_organisation_id`.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use kat_core::ids::{check_organisation_id, check_text};
use kat_core::services::ServiceError;
use uuid::Uuid;

use crate::error::ApiError;

fn invalid(name: &str, what: &str) -> ApiError {
    ApiError(ServiceError::invalid(format!("{name} must be {what}")).with_field(name))
}

/// The query string as name/value pairs.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(pairs) = axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError(ServiceError::invalid(format!("the query string cannot be read: {}", e.body_text())).with_field("query")))?;
        for (name, value) in &pairs {
            check_text(name, "query").and_then(|()| check_text(value, name)).map_err(ApiError)?;
        }
        Ok(Query(pairs))
    }
}

impl Query {
    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The last value of `name`.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `name` as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.one(name).map(str::to_string)
    }

    /// Every value of `name`, in order (a repeated parameter such as `ids=a&ids=b`).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// `name` as a UUID.
    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.one(name).map(|v| Uuid::parse_str(v.trim()).map_err(|_| invalid(name, "a UUID"))).transpose()
    }

    /// Every value of `name` as a UUID.
    pub fn uuids(&self, name: &str) -> Result<Vec<Uuid>, ApiError> {
        self.all(name).iter().map(|v| Uuid::parse_str(v.trim()).map_err(|_| invalid(name, "a list of UUIDs"))).collect()
    }

    /// `name` as a whole number of at least 0, `default` when absent; above `max` counts as `max` (OpenKAT's lists).
    pub fn count(&self, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
        self.one(name).map_or(Ok(default), |v| v.trim().parse::<i64>().ok().filter(|n| *n >= 0).map(|n| n.min(max)).ok_or_else(|| invalid(name, "a whole number of at least 0")))
    }

    /// Every value of `name` as an organisation id.
    pub fn organisations(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let ids = self.all(name);
        ids.iter().try_for_each(|id| check_organisation_id(id, name)).map_err(ApiError)?;
        Ok(ids)
    }

    /// `name` as a boolean, spelled as pydantic accepts it (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.one(name)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
                "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
                _ => Err(invalid(name, "true or false")),
            })
            .transpose()
    }

    /// `name` as a whole number from `min` to `max`, `default` when absent.
    pub fn number(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        match self.one(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<i64>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| invalid(name, &format!("a whole number from {min} to {max}"))),
        }
    }

    /// `name` as an organisation id.
    pub fn organisation(&self, name: &str) -> Result<Option<String>, ApiError> {
        let value = self.text(name);
        if let Some(id) = &value {
            check_organisation_id(id, name).map_err(ApiError)?;
        }
        Ok(value)
    }
}

/// The UUID in a route's one path parameter; anything else is 422 naming the parameter.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|e| ApiError(ServiceError::invalid(format!("the path cannot be read: {}", e.body_text())).with_field("path")))?;
        let (name, value) = params.iter().next().ok_or_else(|| ApiError(ServiceError::invalid("the path names no id").with_field("path")))?;
        Uuid::parse_str(value).map(Id).map_err(|_| invalid(name, "a UUID"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_or_refused_naming_the_parameter() {
        let q = Query(vec![("limit".into(), "5".into()), ("limit".into(), "7".into()), ("on".into(), "yes".into()), ("org".into(), "bad org".into()), ("n".into(), "x".into())]);
        assert_eq!(q.number("limit", 1, 1, 10).expect("in range"), 7, "the last value counts");
        assert_eq!(q.number("missing", 3, 1, 10).expect("default"), 3);
        assert_eq!(q.number("limit", 1, 1, 6).expect_err("out of range").0.field.as_deref(), Some("limit"));
        assert_eq!(q.number("n", 1, 1, 6).expect_err("not a number").0.field.as_deref(), Some("n"));
        assert_eq!(q.boolean("on").expect("bool"), Some(true));
        assert_eq!(q.boolean("limit").expect_err("not a bool").0.field.as_deref(), Some("limit"));
        assert_eq!(q.organisation("org").expect_err("bad id").0.field.as_deref(), Some("org"));
        assert_eq!(q.organisation("nobody").expect("absent"), None);
        assert_eq!(q.count("limit", 1, 6).expect("capped"), 6, "a count above the cap counts as the cap");
        assert_eq!(q.all("limit"), ["5", "7"]);
        let ids = Query(vec![("id".into(), "7134430c-8509-4944-b0be-27cb9bfb4bc2".into()), ("id".into(), "nope".into())]);
        assert_eq!(ids.uuids("id").expect_err("one is not a UUID").0.field.as_deref(), Some("id"));
        assert_eq!(ids.organisations("id").expect_err("not an org id").0.field.as_deref(), Some("id"));
    }
}
