//! The Bytes service's configuration, from environment variables with
//! OpenKAT's names where OpenKAT has one.

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
    /// Token lifetime (`BYTES_ACCESS_TOKEN_EXPIRE_MINUTES`, default 15).
    pub token_lifetime: Duration,
    /// The largest raw file accepted (`BYTES_MAX_RAW_SIZE`, bytes, default 64 MiB).
    pub max_raw_size: usize,
    /// Where to listen (`BYTES_BIND`, default 127.0.0.1:8002).
    pub bind: SocketAddr,
    /// The broker events are relayed to (`QUEUE_URI`, `amqp://...`); unset: events stay in the outbox.
    pub queue_uri: Option<String>,
    /// Encryption at rest (`BYTES_ENCRYPTION_MIDDLEWARE`, `BYTES_PRIVATE_KEY_B64`, `BYTES_PUBLIC_KEY_B64`).
    pub crypto: Middleware,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("db_uri", &self.db_uri.as_ref().map(|_| "***"))
            .field("username", &self.username)
            .field("password", &"***")
            .field("token_lifetime", &self.token_lifetime)
            .field("max_raw_size", &self.max_raw_size)
            .field("bind", &self.bind)
            .field("queue_uri", &self.queue_uri.as_ref().map(|_| "***"))
            .field("crypto", &self.crypto)
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

impl Config {
    /// Read the configuration through `lookup` (the process environment in the binary).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str| get(name).ok_or_else(|| ConfigError::Invalid(format!("{name} must be set: clients log in with it at POST /bytes/token")));
        let number = |name: &str, default: u64| get(name).map_or(Ok(default), |v| v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid(format!("{name}={v:?} is not a whole number"))));
        let bind = get("BYTES_BIND").unwrap_or_else(|| "127.0.0.1:8002".into());
        Ok(Config {
            data_dir: PathBuf::from(get("BYTES_DATA_DIR").unwrap_or_else(|| "./kat-data".into())),
            db_uri: get("BYTES_DB_URI"),
            username: required("BYTES_USERNAME")?,
            password: required("BYTES_PASSWORD")?,
            token_lifetime: Duration::from_secs(number("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", 15)? * 60),
            max_raw_size: usize::try_from(number("BYTES_MAX_RAW_SIZE", crate::api::DEFAULT_MAX_RAW_SIZE as u64)?).unwrap_or(usize::MAX),
            bind: bind.parse().map_err(|_| ConfigError::Invalid(format!("BYTES_BIND={bind:?} is not an address such as 127.0.0.1:8002")))?,
            queue_uri: get("QUEUE_URI"),
            crypto: Middleware::from_vars(&lookup, &BYTES_ENV)?,
        })
    }
}
