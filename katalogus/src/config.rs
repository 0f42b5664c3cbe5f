//! The KATalogus service's configuration, from environment variables with
//! OpenKAT's names where OpenKAT has one. Numeric variables are checked
//! against their range with `kat_core::config::number`, so a bad value
//! stops the service at start with one line (the binaries exit with 64).

use std::net::SocketAddr;
use std::time::Duration;

use kat_core::crypto::{CryptoError, Middleware};

/// `sqlite://...` or `postgres://...`; default a SQLite file in the working directory.
pub const ENV_DB_URI: &str = "KATALOGUS_DB_URI";
/// The bearer token every request but `/health` must carry; unset means no auth.
pub const ENV_API_TOKEN: &str = "KATALOGUS_API_TOKEN";
/// A directory tree of plugin folders (`boefje.json`/`normalizer.json`, `schema.json`, `description.md`, covers).
pub const ENV_PLUGIN_DIR: &str = "KATALOGUS_PLUGIN_DIR";
/// The address to listen on.
pub const ENV_BIND: &str = "KATALOGUS_BIND";
/// How many seconds to wait at start for a PostgreSQL server that refuses connections.
pub const ENV_DB_WAIT: &str = "KATALOGUS_DB_WAIT_SECONDS";
/// The default database.
pub const DEFAULT_DB_URI: &str = "sqlite://katalogus.sqlite?mode=rwc";
/// The default address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8003";

/// Everything the service needs to start.
#[derive(Debug)]
pub struct Config {
    /// The database URL.
    pub db_uri: String,
    /// The API token, if auth is on.
    pub api_token: Option<String>,
    /// Where to listen.
    pub bind: SocketAddr,
    /// Extra plugins to load.
    pub plugin_dir: Option<std::path::PathBuf>,
    /// How settings are stored.
    pub crypto: Middleware,
    /// How long to wait for the database at start.
    pub db_wait: Duration,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An address that does not parse.
    #[error("{ENV_BIND}={0:?} is not an address such as 127.0.0.1:8003")]
    Bind(String),
    /// Bad encryption settings.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A numeric variable out of range or not a number.
    #[error(transparent)]
    Number(#[from] kat_core::config::ConfigError),
}

/// The start-up warning for a service without an API token.
pub const NO_TOKEN_WARNING: &str = "KATALOGUS_API_TOKEN is not set: the KATalogus accepts every request without a token, so anyone who can reach it can read every setting, secrets included; set KATALOGUS_API_TOKEN";

impl Config {
    /// Read the configuration through `lookup` (the process environment in the binary).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let bind_text = lookup(ENV_BIND).unwrap_or_else(|| DEFAULT_BIND.to_string());
        let wait: u64 = kat_core::config::number(&lookup, ENV_DB_WAIT, 60, 0, 3600)?;
        Ok(Config {
            db_uri: lookup(ENV_DB_URI).filter(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_DB_URI.to_string()),
            api_token: lookup(ENV_API_TOKEN).filter(|v| !v.is_empty()),
            bind: bind_text.parse().map_err(|_| ConfigError::Bind(bind_text))?,
            plugin_dir: lookup(ENV_PLUGIN_DIR).filter(|v| !v.is_empty()).map(std::path::PathBuf::from),
            crypto: Middleware::from_env(&lookup)?,
            db_wait: Duration::from_secs(wait),
        })
    }

    /// What an operator must be told at start (today: running without a token).
    pub fn warnings(&self) -> Vec<&'static str> {
        if self.api_token.is_none() { vec![NO_TOKEN_WARNING] } else { Vec::new() }
    }
}
