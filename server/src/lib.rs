//! `kat-server`: the plumbing every REST service of the pipeline shares
//! (KATalogus, Bytes, the scheduler), so that they behave alike where
//! OpenKAT's clients and operators meet them.
//!
//! # Layout
//! - [`db`]: opening a SQLite or PostgreSQL pool that fails at once with the
//!   real reason (a corrupt file, a database that is down), waits for a
//!   database that is starting, and never hands database error text to clients.
//! - [`json`]: `ApiJson`, a JSON body extractor that accepts a body whatever
//!   its `Content-Type` (OpenKAT's clients send none), refuses NUL characters
//!   and names the field at fault.
//! - [`error`]: `ApiError`, a `ServiceError` as a response with OpenKAT's
//!   `{"detail": ...}` body (plus our `field`), and `json_errors`, the layer
//!   that gives every other error answer that body too.
//! - [`auth`]: the bearer-token check (scheme case-insensitive, constant time).
//! - [`params`]: query and path parameters with 422s naming the parameter.
//! - [`sqlite`]: `rusqlite` connections beside a pool for hot paths (a
//!   reader on the caller's thread) and their error mapping.
//! - [`app`]: the outer wrapper of every router: trailing slashes ignored,
//!   NUL characters in paths and queries refused.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod db;
pub mod error;
pub mod json;
pub mod params;
pub mod sqlite;

pub use app::app;
pub use error::ApiError;
pub use json::ApiJson;
