//! The Bytes service's configuration, from environment variables with
//! OpenKAT's names where OpenKAT has one. Every number is read with
//! `kat_core::config::number` and checked against a sane range, so a value
//! such as `BYTES_ACCESS_TOKEN_EXPIRE_MINUTES=1e15` stops the service at
//! start with one line (exit code 64 in the binaries), never later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kat_core::crypto::{CryptoError, Middleware, BYTES_ENV};

/// Everything the service needs to start (its `Debug` hides the password and the broker URI).
pub struct Config {
    /// Where metadata (`bytes.sqlite`) and raw files (`raw/`) live (`BYTES_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The metadata database (`BYTES_DB_URI`, `sqlite://...` or `postgres://...`); unset: `bytes.sqlite` in the data directory.
    pub db_uri: Option<String>,
    /// Login name (`BYTES_USERNAME`).
    pub username: String,
    /// Login password (`BYTES_PASSWORD`).
    pub password: String,
    /// Token lifetime (`BYTES_ACCESS_TOKEN_EXPIRE_MINUTES`, whole minutes from 1 to a year, default 15).
    pub token_lifetime: Duration,
    /// How long to wait at start for a PostgreSQL server that refuses connections (`BYTES_DB_WAIT_SECONDS`, 0 to 3600, default 60).
    pub db_wait: Duration,
    /// The largest raw file accepted (`BYTES_MAX_RAW_SIZE`, bytes, 1 to 1 GiB, default 64 MiB).
    pub max_raw_size: usize,
    /// Where to listen (`BYTES_BIND`, default 127.0.0.1:8002).
    pub bind: SocketAddr,
    /// The broker events are relayed to (`QUEUE_URI`, `amqp://...`); unset: events stay in the outbox.
    pub queue_uri: Option<String>,
    /// Encryption at rest (`BYTES_ENCRYPTION_MIDDLEWARE`, `BYTES_PRIVATE_KEY_B64`, `BYTES_PUBLIC_KEY_B64`).
    pub crypto: Middleware,
    /// The largest contents (bytes as stored) kept in the metadata database (`BYTES_INLINE_MAX`, 0 to 1 MiB;
    /// unset: 4096 with the local filesystem, 0 with S3 so that a bucket holds every content).
    pub inline_max: usize,
}

/// Contents of at most `BYTES_INLINE_MAX` bytes as stored live in the metadata database; by default 4096 with the
/// local filesystem and 0 (every content in the bucket) when `BYTES_S3_BUCKET` is set.
pub fn inline_max(lookup: &impl Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    let s3 = lookup("BYTES_S3_BUCKET").is_some_and(|b| !b.trim().is_empty());
    let default = if s3 { 0 } else { crate::DEFAULT_INLINE_MAX as u64 };
    let max = kat_core::config::number(lookup, "BYTES_INLINE_MAX", default, 0, crate::MAX_INLINE_MAX as u64)?;
    usize::try_from(max).map_err(|_| ConfigError::Invalid(format!("BYTES_INLINE_MAX={max} does not fit this machine")))
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("db_uri", &self.db_uri.as_ref().map(|_| "***"))
            .field("username", &self.username)
            .field("password", &"***")
            .field("token_lifetime", &self.token_lifetime)
            .field("db_wait", &self.db_wait)
            .field("max_raw_size", &self.max_raw_size)
            .field("bind", &self.bind)
            .field("queue_uri", &self.queue_uri.as_ref().map(|_| "***"))
            .field("crypto", &self.crypto)
            .field("inline_max", &self.inline_max)
            .finish()
    }
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable with a value that does not parse, or a required one that is missing.
    #[error("{0}")]
    Invalid(String),
    /// Bad encryption settings.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<kat_core::config::ConfigError> for ConfigError {
    fn from(e: kat_core::config::ConfigError) -> Self {
        ConfigError::Invalid(e.0)
    }
}

/// The longest token lifetime accepted, in minutes (a year).
pub const MAX_TOKEN_MINUTES: u64 = 365 * 24 * 60;

/// The largest `BYTES_MAX_RAW_SIZE` accepted (1 GiB).
pub const MAX_RAW_SIZE_LIMIT: u64 = 1 << 30;

impl Config {
    /// Read the configuration through `lookup` (the process environment in the binary).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str| get(name).ok_or_else(|| ConfigError::Invalid(format!("{name} must be set: clients log in with it at POST /token")));
        let number = |name: &str, default: u64, min: u64, max: u64| kat_core::config::number(&lookup, name, default, min, max);
        let bind = get("BYTES_BIND").unwrap_or_else(|| "127.0.0.1:8002".into());
        let minutes = number("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", 15, 1, MAX_TOKEN_MINUTES)?;
        let max_raw_size = number("BYTES_MAX_RAW_SIZE", crate::api::DEFAULT_MAX_RAW_SIZE as u64, 1, MAX_RAW_SIZE_LIMIT)?;
        Ok(Config {
            data_dir: PathBuf::from(get("BYTES_DATA_DIR").unwrap_or_else(|| "./kat-data".into())),
            db_uri: get("BYTES_DB_URI"),
            username: required("BYTES_USERNAME")?,
            password: required("BYTES_PASSWORD")?,
            token_lifetime: Duration::from_secs(minutes * 60),
            db_wait: Duration::from_secs(number("BYTES_DB_WAIT_SECONDS", 60, 0, 3600)?),
            max_raw_size: usize::try_from(max_raw_size).map_err(|_| ConfigError::Invalid(format!("BYTES_MAX_RAW_SIZE={max_raw_size} does not fit this machine")))?,
            bind: bind.parse().map_err(|_| ConfigError::Invalid(format!("BYTES_BIND={bind:?} is not an address such as 127.0.0.1:8002")))?,
            queue_uri: get("QUEUE_URI"),
            crypto: Middleware::from_vars(&lookup, &BYTES_ENV)?,
            inline_max: inline_max(&lookup)?,
        })
    }
}
