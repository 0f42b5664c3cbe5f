//! Running the Bytes service: [`start`] opens the metadata database (a
//! corrupt SQLite file fails at once; a PostgreSQL server that refuses
//! connections is waited for, with a line a second, up to
//! `BYTES_DB_WAIT_SECONDS`), the contents store and the relay; only then
//! does the caller bind its port and [`Service::serve`] the API, so the
//! service listens once it can answer.

use std::sync::Arc;

use kat_core::services::{ServiceError, ServiceResult};
use tokio::sync::watch;

use crate::config::Config;
use crate::{api, relay, storage, LocalBytes};

/// A started service, ready to serve.
pub struct Service {
    state: api::BytesState,
    _stop_relay: watch::Sender<bool>,
}

/// Open the stores (waiting for the database) and start the relay when `QUEUE_URI` is set.
pub async fn start(config: Config) -> ServiceResult<Service> {
    let store = storage::from_env(&config.data_dir, |name| std::env::var(name).ok())?;
    let crypto = Arc::new(config.crypto);
    let bytes = match &config.db_uri {
        Some(url) => LocalBytes::connect_waiting(url, config.db_wait, store, crypto).await?,
        None => LocalBytes::open_with_store(&config.data_dir, store, crypto).await?,
    };
    let bytes = Arc::new(bytes.with_inline_max(config.inline_max));
    let (stop, stop_rx) = watch::channel(false);
    if let Some(uri) = &config.queue_uri {
        let relay = relay::RelayConfig { uri: uri.clone(), queue: relay::DEFAULT_QUEUE.into(), batch: 500 };
        tokio::spawn(relay::run(bytes.clone(), relay, stop_rx));
    } else {
        tracing::warn!("QUEUE_URI is not set: raw_file_received events stay in the outbox");
    }
    let auth = Arc::new(api::auth::Auth::new(&config.username, &config.password, config.token_lifetime));
    Ok(Service { state: api::BytesState { bytes, auth, max_raw_size: config.max_raw_size }, _stop_relay: stop })
}

impl Service {
    /// The store, for tests and tools.
    pub fn bytes(&self) -> &Arc<LocalBytes> {
        &self.state.bytes
    }

    /// Serve the API on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> ServiceResult<()> {
        let Service { state, _stop_relay } = self;
        axum::serve(listener, api::router(state)).await.map_err(|e| ServiceError::unavailable(format!("bytes server stopped: {e}")))
    }
}

/// [`start`] then [`Service::serve`] on `listener`.
pub async fn serve(config: Config, listener: tokio::net::TcpListener) -> ServiceResult<()> {
    start(config).await?.serve(listener).await
}
