//! The scheduler service's configuration from environment variables, each
//! number checked against its range at start-up (a bad value is a
//! `kat_core::config::ConfigError`, which the binaries turn into exit code
//! 64). Messages name the variable but never echo a URI or token, which
//! may hold a password.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SCHEDULER_DB_URI` | `sqlite://DATA_DIR/scheduler.sqlite?mode=rwc` | `sqlite://...` or `postgres://...` |
//! | `SCHEDULER_BIND` | `127.0.0.1:8004` | listen address |
//! | `SCHEDULER_API_TOKEN` | unset (open, warned about) | bearer token on every route but `/health` |
//! | `SCHEDULER_LEASE_SECONDS` | 60 (1-86400) | lease of a popped task |
//! | `SCHEDULER_MAX_ATTEMPTS` | 3 (1-100) | expired leases before a task fails |
//! | `SCHEDULER_GRACE_PERIOD` | 86400 (1-31536000) | seconds before the same work runs again |
//! | `SCHEDULER_DB_WAIT_SECONDS` | 60 (0-3600) | wait for a PostgreSQL that is starting |
//! | `SCHEDULER_SWEEP_SECONDS` | 5 (1-3600) | how often expired leases are swept |
//! | `SCHEDULER_SCHEDULE_SECONDS` | 10 (1-3600) | how often due schedules are fired |
//! | `SCHEDULER_KATALOGUS_POLL_SECONDS` | 60 (1-86400) | how often plugin enablement is polled |
//! | `SCHEDULER_PREFETCH` | 100 (1-65535) | unacknowledged `raw_file_received` messages in flight |
//! | `QUEUE_URI` | unset | RabbitMQ; when set, `raw_file_received` is consumed |
//! | `KATALOGUS_API` | unset (the KATalogus in process) | the KATalogus REST service |
//! | `KATALOGUS_API_TOKEN` | unset | its bearer token |
//! | `SCHEDULER_WEBHOOK_URL` | unset | where task status changes are POSTed |

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kat_core::config::{get, number, ConfigError};

use crate::local::Settings;

/// The scheduler service's configuration.
#[derive(Clone)]
pub struct Config {
    /// `SCHEDULER_DB_URI`.
    pub db_uri: String,
    /// `SCHEDULER_BIND`.
    pub bind: SocketAddr,
    /// `SCHEDULER_API_TOKEN`.
    pub api_token: Option<String>,
    /// Leases, attempts, grace, webhook and database wait.
    pub settings: Settings,
    /// `SCHEDULER_SWEEP_SECONDS`.
    pub sweep_every: Duration,
    /// `SCHEDULER_SCHEDULE_SECONDS`.
    pub schedule_every: Duration,
    /// `SCHEDULER_KATALOGUS_POLL_SECONDS`.
    pub poll_every: Duration,
    /// `SCHEDULER_PREFETCH`.
    pub prefetch: u16,
    /// `QUEUE_URI`.
    pub queue_uri: Option<String>,
    /// `KATALOGUS_API`.
    pub katalogus_api: Option<String>,
    /// `KATALOGUS_API_TOKEN`.
    pub katalogus_token: Option<String>,
    /// `SCHEDULER_WEBHOOK_URL`.
    pub webhook_url: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("bind", &self.bind).field("settings", &self.settings).field("token_set", &self.api_token.is_some()).finish_non_exhaustive()
    }
}

fn seconds(lookup: &impl Fn(&str) -> Option<String>, name: &str, default: u64, min: u64, max: u64) -> Result<Duration, ConfigError> {
    number(lookup, name, default, min, max).map(Duration::from_secs)
}

fn url(lookup: &impl Fn(&str) -> Option<String>, name: &str, schemes: &[&str]) -> Result<Option<String>, ConfigError> {
    match get(lookup, name) {
        None => Ok(None),
        Some(v) if schemes.iter().any(|s| v.starts_with(s)) => Ok(Some(v)),
        Some(_) => Err(ConfigError(format!("{name} must start with {}", schemes.join(" or ")))),
    }
}

impl Config {
    /// Read the configuration through `lookup`; the default database lives in `data_dir`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>, data_dir: &Path) -> Result<Config, ConfigError> {
        let db_uri = match get(&lookup, "SCHEDULER_DB_URI") {
            None => format!("sqlite://{}?mode=rwc", data_dir.join("scheduler.sqlite").display()),
            Some(v) if v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://") => v,
            Some(_) => return Err(ConfigError("SCHEDULER_DB_URI must start with sqlite:// or postgres://".into())),
        };
        let bind = match get(&lookup, "SCHEDULER_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8004)),
            Some(v) => v.parse().map_err(|_| ConfigError("SCHEDULER_BIND is not an address such as 127.0.0.1:8004".into()))?,
        };
        let webhook_url = url(&lookup, "SCHEDULER_WEBHOOK_URL", &["http://", "https://"])?;
        let settings = Settings {
            lease: seconds(&lookup, "SCHEDULER_LEASE_SECONDS", 60, 1, 86_400)?,
            max_attempts: number(&lookup, "SCHEDULER_MAX_ATTEMPTS", 3, 1, 100)?,
            grace: seconds(&lookup, "SCHEDULER_GRACE_PERIOD", 86_400, 1, 31_536_000)?,
            rerun_epoch: None,
            webhook: webhook_url.is_some(),
            db_wait: seconds(&lookup, "SCHEDULER_DB_WAIT_SECONDS", 60, 0, 3600)?,
        };
        Ok(Config {
            db_uri,
            bind,
            api_token: get(&lookup, "SCHEDULER_API_TOKEN"),
            settings,
            sweep_every: seconds(&lookup, "SCHEDULER_SWEEP_SECONDS", 5, 1, 3600)?,
            schedule_every: seconds(&lookup, "SCHEDULER_SCHEDULE_SECONDS", 10, 1, 3600)?,
            poll_every: seconds(&lookup, "SCHEDULER_KATALOGUS_POLL_SECONDS", 60, 1, 86_400)?,
            prefetch: number(&lookup, "SCHEDULER_PREFETCH", 100, 1, 65_535)?,
            queue_uri: url(&lookup, "QUEUE_URI", &["amqp://", "amqps://"])?,
            katalogus_api: url(&lookup, "KATALOGUS_API", &["http://", "https://"])?,
            katalogus_token: get(&lookup, "KATALOGUS_API_TOKEN"),
            webhook_url,
        })
    }

    /// What an operator should know at start (never a value).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.api_token.is_none() {
            out.push("SCHEDULER_API_TOKEN is not set: the scheduler API is open to anyone who can reach it".to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        kat_core::config::from_pairs(pairs)
    }

    #[test]
    fn defaults_ranges_and_no_values_in_errors() {
        let c = Config::from_env(env(&[]), Path::new("/data")).expect("defaults");
        assert_eq!(c.db_uri, "sqlite:///data/scheduler.sqlite?mode=rwc");
        assert_eq!((c.bind.to_string().as_str(), c.settings.lease.as_secs(), c.settings.max_attempts, c.settings.grace.as_secs()), ("127.0.0.1:8004", 60, 3, 86_400));
        assert_eq!(c.warnings().len(), 1);
        for (name, value) in [("SCHEDULER_LEASE_SECONDS", "0"), ("SCHEDULER_MAX_ATTEMPTS", "1000"), ("SCHEDULER_GRACE_PERIOD", "x"), ("SCHEDULER_PREFETCH", "70000")] {
            let e = Config::from_env(env(&[(name, value)]), Path::new("/d")).expect_err(name);
            assert!(e.0.contains(name), "{e}");
        }
        for (name, secret) in [("SCHEDULER_DB_URI", "mysql://u:hunter2@h/db"), ("QUEUE_URI", "http://u:hunter2@h"), ("SCHEDULER_WEBHOOK_URL", "ftp://u:hunter2@h")] {
            let e = Config::from_env(env(&[(name, secret)]), Path::new("/d")).expect_err(name);
            assert!(e.0.contains(name) && !e.0.contains("hunter2"), "{e}");
        }
        let c = Config::from_env(env(&[("SCHEDULER_API_TOKEN", "t0ken"), ("SCHEDULER_WEBHOOK_URL", "http://127.0.0.1:9/hook")]), Path::new("/d")).expect("valid");
        assert!(c.settings.webhook && c.warnings().is_empty());
        assert!(!format!("{c:?}").contains("t0ken"));
    }
}
