//! `kat-katalogus`: the KATalogus, the catalogue of plugins and of each
//! organisation's plugin enablement and settings, in process
//! ([`LocalKatalogus`]) and as OpenKAT's REST API ([`api`]).
//!
//! The plugin repository (which plugins exist) is handed in at start-up:
//! the binaries pass the built-in plugins' manifests, so this crate never
//! depends on `kat-plugins`. Enablement and settings live in SQLite or
//! PostgreSQL (`KATALOGUS_DB_URI`). Built-in plugins are enabled by default;
//! an organisation's explicit choice overrides that.
//!
//! Settings are checked on write: every name must pass the job-environment
//! rules (`kat_core::env_rules`), must be a property of the plugin's
//! `schema.json`, its value is converted to the schema's type, and the whole
//! set must validate against the schema (JSON Schema 2020-12). They are
//! stored encrypted with the configured `kat_core::crypto::Middleware`.
//!
//! # Layout
//! - [`repository`]: the plugins that exist.
//! - [`store`]: `LocalKatalogus`, the database-backed implementation of `kat_core::services::katalogus::Katalogus`.
//! - [`api`]: the axum router with OpenKAT's `/v1` endpoints.
//! - [`client`]: `KatalogusClient`, the `Katalogus` trait over HTTP.
//! - [`config`]: `Config` from `KATALOGUS_*` and the encryption variables; [`serve`] runs the service.

#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod config;
pub mod repository;
pub mod store;

pub use client::KatalogusClient;
pub use repository::PluginRepository;
pub use store::LocalKatalogus;

use std::sync::Arc;

/// Connect to the database, run migrations, and serve the API on `listener` until the process ends.
pub async fn serve(config: config::Config, mut repository: PluginRepository, listener: tokio::net::TcpListener) -> Result<(), kat_core::services::ServiceError> {
    if let Some(dir) = &config.plugin_dir {
        for problem in repository.load_dir(dir) {
            eprintln!("katalogus: skipped a plugin: {problem}");
        }
    }
    let katalogus = LocalKatalogus::connect(&config.db_uri, repository, Arc::new(config.crypto)).await?;
    let app = api::router(api::AppState::new(Arc::new(katalogus), config.api_token));
    tracing::info!(address = ?listener.local_addr().ok(), "katalogus listening");
    axum::serve(listener, app).await.map_err(|e| kat_core::services::ServiceError::unavailable(format!("katalogus server stopped: {e}")))
}
