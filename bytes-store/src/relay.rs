//! The outbox relay: delivers `raw_file_received` events from the outbox to
//! RabbitMQ (`QUEUE_URI`, durable queue `raw_file_received`, persistent
//! messages, publisher confirms) and marks them delivered only after the
//! broker confirmed that it routed them to the queue.
//!
//! A confirm alone does not say that: RabbitMQ also acks a message it could
//! not route (the queue was deleted, or never declared), and the message is
//! then gone. So the queue is declared on every (re)connect, every message
//! is published `mandatory`, and a message the broker returns (`basic.return`,
//! which lapin hands back in the confirm as `Confirmation::Ack(Some(..))`,
//! matched here by `message_id`) stays pending in the outbox; the relay then
//! declares the queue again and sends it with the next batch.
//!
//! While the broker is unreachable, saves go on and events wait in the
//! outbox; the relay reconnects every second and sends the backlog. Delivery
//! is at least once: a message may repeat after a reconnect, and consumers
//! tell repeats apart by `event_id` (also the AMQP `message_id`). The
//! relay's connection state is kept in [`RelayStatus`] for `/health`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::sync::watch;

use crate::LocalBytes;

/// The queue OpenKAT's Bytes publishes to.
pub const DEFAULT_QUEUE: &str = "raw_file_received";

/// Where to relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `amqp://user:password@host:port/vhost`.
    pub uri: String,
    /// The durable queue.
    pub queue: String,
    /// Events per batch.
    pub batch: i64,
}

/// Whether events are being relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    /// No relay runs (no `QUEUE_URI`).
    NotRunning,
    /// Connected to the broker.
    Connected,
    /// Trying to reach the broker.
    Disconnected,
}

/// The relay's state, shared with `/health`.
#[derive(Debug, Default)]
pub struct RelayStatus(AtomicU8);

impl RelayStatus {
    /// The current state.
    pub fn get(&self) -> RelayState {
        match self.0.load(Ordering::Relaxed) {
            1 => RelayState::Connected,
            2 => RelayState::Disconnected,
            _ => RelayState::NotRunning,
        }
    }

    fn set(&self, state: RelayState) {
        let code = match state {
            RelayState::NotRunning => 0,
            RelayState::Connected => 1,
            RelayState::Disconnected => 2,
        };
        self.0.store(code, Ordering::Relaxed);
    }
}

/// Relay until `stop` turns true, reconnecting after every failure.
pub async fn run(bytes: Arc<LocalBytes>, config: RelayConfig, mut stop: watch::Receiver<bool>) {
    let status = bytes.relay_status();
    status.set(RelayState::Disconnected);
    while !*stop.borrow() {
        match drain(&bytes, &config, &mut stop).await {
            Ok(()) => break,
            Err(e) => {
                status.set(RelayState::Disconnected);
                // The URI may hold a password: log only the failure.
                tracing::warn!("raw_file_received relay: {e}; retrying in 1 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    status.set(RelayState::NotRunning);
}

async fn declare(channel: &Channel, queue: &str) -> Result<(), String> {
    channel.queue_declare(queue.into(), QueueDeclareOptions::durable(), FieldTable::default()).await.map(|_| ()).map_err(|e| format!("declaring queue {queue}: {e}"))
}

async fn drain(bytes: &LocalBytes, config: &RelayConfig, stop: &mut watch::Receiver<bool>) -> Result<(), String> {
    let connection = Connection::connect(&config.uri, ConnectionProperties::default()).await.map_err(|e| format!("cannot connect to the broker: {e}"))?;
    let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
    declare(&channel, &config.queue).await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
    bytes.relay_status().set(RelayState::Connected);
    tracing::info!(queue = %config.queue, "raw_file_received relay connected");
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let events = bytes.pending_events(config.batch).await.map_err(|e| e.to_string())?;
        if events.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let mut confirms = Vec::with_capacity(events.len());
        for (seq, event) in &events {
            let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
            let id = event.event_id.to_string();
            let properties = BasicProperties::default().with_delivery_mode(2).with_message_id(id.as_str().into()).with_content_type("application/json".into());
            let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
            let confirm = channel.basic_publish("".into(), config.queue.as_str().into(), options, &body, properties).await.map_err(|e| format!("publishing: {e}"))?;
            confirms.push((*seq, id, confirm));
        }
        let mut acked = Vec::with_capacity(confirms.len());
        let mut returned = HashSet::new();
        let mut failure = None;
        for (seq, id, confirm) in confirms {
            let confirmation = match confirm.await {
                Ok(confirmation) => confirmation,
                Err(e) => {
                    failure = Some(format!("waiting for the broker's confirm: {e}"));
                    break;
                }
            };
            if matches!(confirmation, Confirmation::Ack(_)) {
                acked.push((seq, id));
            }
            if let Some(message) = confirmation.take_message() {
                returned.insert(message.delivery.properties.message_id().as_ref().map(|m| m.as_str().to_string()).unwrap_or_default());
            }
        }
        // Acked and not returned: routed to the queue. Everything else stays pending.
        let delivered: Vec<i64> = acked.iter().filter(|(_, id)| !returned.contains(id)).map(|(seq, _)| *seq).collect();
        bytes.ack_events(&delivered).await.map_err(|e| e.to_string())?;
        if let Some(failure) = failure {
            return Err(failure);
        }
        if !returned.is_empty() {
            tracing::warn!(queue = %config.queue, returned = returned.len(), "the broker returned events it could not route (was the queue deleted?); declaring it again, the events stay pending");
            declare(&channel, &config.queue).await?;
        }
    }
}
