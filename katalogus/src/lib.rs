//! `kat-katalogus`: the KATalogus, the catalogue of plugins and of each
//! organisation's plugin enablement and settings, in process
//! ([`LocalKatalogus`]) and as OpenKAT's REST API ([`api`]), which
//! OpenKAT's own clients (rocky, the OpenKAT API tests) use unchanged.
//!
//! The plugin repository (which plugins exist) is handed in at start-up:
//! the binaries pass the built-in plugins' manifests, so this crate never
//! depends on `kat-plugins`. Enablement and settings live in SQLite or
//! PostgreSQL (`KATALOGUS_DB_URI`). As in OpenKAT, boefjes are disabled and
//! normalizers enabled by default; an organisation's explicit choice
//! overrides that (`LocalKatalogus::set_enabled`).
//!
//! Settings are checked on write: every name must pass the job-environment
//! rules (`kat_core::env_rules`), must be a property of the plugin's
//! `schema.json`, its value is converted to the schema's type, and the whole
//! set must validate against the schema (JSON Schema 2020-12). They are
//! stored encrypted with the configured `kat_core::crypto::Middleware`.
//!
//! # Layout
//! - [`repository`]: the plugins that exist (built in, from a directory tree, added over the API).
//! - [`store`]: `LocalKatalogus`, the database-backed implementation of `kat_core::services::katalogus::Katalogus`.
//! - [`api`]: the axum router with OpenKAT's `/v1` endpoints.
//! - [`client`]: `KatalogusClient`, the `Katalogus` trait over HTTP.
//! - [`cron`]: the check of a boefje's `cron` schedule.
//! - [`config`]: `Config` from `KATALOGUS_*` and the encryption variables; [`serve`] runs the service.

#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod config;
pub mod cron;
pub mod repository;
pub mod store;

pub use client::KatalogusClient;
pub use repository::PluginRepository;
pub use store::LocalKatalogus;

use std::sync::Arc;

use kat_core::services::ServiceError;

/// Run the service: warn about a missing token, load the plugin directory, open the database (waiting for
/// a PostgreSQL that is starting), and only then listen on `config.bind` and serve until the process ends.
pub async fn serve(config: config::Config, mut repository: PluginRepository) -> Result<(), ServiceError> {
    for warning in config.warnings() {
        eprintln!("katalogus: warning: {warning}");
        tracing::warn!("{warning}");
    }
    if let Some(dir) = &config.plugin_dir {
        for problem in repository.load_dir(dir) {
            eprintln!("katalogus: skipped a plugin: {problem}");
        }
    }
    let katalogus = LocalKatalogus::connect_with(&config.db_uri, repository, Arc::new(config.crypto), config.db_wait).await?;
    let listener = tokio::net::TcpListener::bind(config.bind).await.map_err(|e| ServiceError::unavailable(format!("cannot listen on {}: {e}", config.bind)))?;
    let address = listener.local_addr().map_or_else(|_| config.bind.to_string(), |a| a.to_string());
    eprintln!("katalogus: listening on http://{address}");
    tracing::info!(%address, "katalogus listening");
    let app = api::router(api::AppState::new(Arc::new(katalogus), config.api_token));
    axum::serve(listener, app).await.map_err(|e| ServiceError::unavailable(format!("katalogus server stopped: {e}")))
}
