//! The scheduler service: open the database (waiting for PostgreSQL), then
//! listen, and run the background loops every replica runs: the lease
//! sweeper, the schedule ticker, the KATalogus poller (plugin enablement),
//! the `raw_file_received` consumer when `QUEUE_URI` is set, and the
//! webhook deliverer when `SCHEDULER_WEBHOOK_URL` is set. Every loop claims
//! its work in the database, so replicas side by side never both act.

use std::sync::Arc;
use std::time::Duration;

use kat_core::services::katalogus::Katalogus;
use kat_core::services::{ServiceError, ServiceResult};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{router, ApiState};
use crate::clock::Clock;
use crate::config::Config;
use crate::consumer::{self, BeforeAck, ConsumerConfig};
use crate::events::Webhook;
use crate::local::LocalScheduler;

/// A started (not yet listening) scheduler service.
pub struct Service {
    scheduler: LocalScheduler,
    config: Config,
    stop: watch::Sender<bool>,
}

/// Open the scheduler of `config` with `katalogus` and `clock`, warning about an open API.
pub async fn start(config: Config, katalogus: Arc<dyn Katalogus>, clock: Arc<dyn Clock>) -> ServiceResult<Service> {
    for warning in config.warnings() {
        eprintln!("scheduler: warning: {warning}");
        tracing::warn!("{warning}");
    }
    let scheduler = LocalScheduler::open(&config.db_uri, config.settings, clock, katalogus).await?;
    Ok(Service::with_scheduler(config, scheduler))
}

/// Run `work` every `every` until `stop` turns true.
fn every<F, Fut>(every: Duration, mut stop: watch::Receiver<bool>, what: &'static str, mut work: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ServiceResult<()>> + Send,
{
    tokio::spawn(async move {
        while !*stop.borrow() {
            if let Err(e) = work().await {
                tracing::warn!("{what}: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

impl Service {
    /// The service over a scheduler opened elsewhere (`kat serve`: the data directory's, shared with the
    /// in-process worker pools); `config` gives its address, token and loop periods.
    pub fn with_scheduler(config: Config, scheduler: LocalScheduler) -> Service {
        let (stop, _) = watch::channel(false);
        Service { scheduler, config, stop }
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &LocalScheduler {
        &self.scheduler
    }

    /// Start the background loops; `before_ack` is the consumer's test seam.
    pub fn spawn_background(&self, before_ack: Option<BeforeAck>) -> Vec<JoinHandle<()>> {
        let s = &self.scheduler;
        let mut handles = Vec::new();
        let sweeper = s.clone();
        handles.push(every(self.config.sweep_every, self.stop.subscribe(), "lease sweep", move || {
            let s = sweeper.clone();
            async move { s.sweep().await.map(|_| ()) }
        }));
        let ticker = s.clone();
        handles.push(every(self.config.schedule_every, self.stop.subscribe(), "schedules", move || {
            let s = ticker.clone();
            async move { s.tick().await.map(|_| ()) }
        }));
        let poller = s.clone();
        handles.push(every(self.config.poll_every, self.stop.subscribe(), "plugin enablement", move || {
            let s = poller.clone();
            async move { s.sync_all().await.map(|_| ()) }
        }));
        if let Some(uri) = &self.config.queue_uri {
            let config = ConsumerConfig { uri: uri.clone(), queue: consumer::QUEUE.into(), prefetch: self.config.prefetch, before_ack };
            handles.push(tokio::spawn(consumer::run(s.clone(), config, self.stop.subscribe())));
        }
        if let Some(url) = &self.config.webhook_url {
            let webhook = Webhook::new(s.store().clone(), url, s.clock().clone());
            handles.push(tokio::spawn(webhook.run(Duration::from_secs(1))));
        }
        handles
    }

    /// Stop the background loops.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Run the background loops and serve the API on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> ServiceResult<()> {
        let _loops = self.spawn_background(None);
        let address = listener.local_addr().map_or_else(|_| self.config.bind.to_string(), |a| a.to_string());
        eprintln!("scheduler: listening on http://{address}");
        tracing::info!(%address, "scheduler listening");
        let app = router(ApiState { scheduler: self.scheduler.clone(), token: self.config.api_token.clone().map(Arc::new) });
        axum::serve(listener, app).await.map_err(|e| ServiceError::unavailable(format!("scheduler server stopped: {e}")))
    }
}
