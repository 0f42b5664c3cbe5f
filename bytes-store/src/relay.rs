//! The outbox relay: delivers `raw_file_received` events from the outbox to
//! RabbitMQ (`QUEUE_URI`, durable queue `raw_file_received`, persistent
//! messages, publisher confirms) and marks them delivered only after the
//! broker confirmed them. While the broker is unreachable, saves go on and
//! events wait in the outbox; the relay reconnects every second and sends
//! the backlog. Delivery is at least once: a message may repeat after a
//! reconnect, and consumers tell repeats apart by `event_id` (also the AMQP
//! `message_id`).

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
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

/// Relay until `stop` turns true, reconnecting after every failure.
pub async fn run(bytes: Arc<LocalBytes>, config: RelayConfig, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        match drain(&bytes, &config, &mut stop).await {
            Ok(()) => return,
            Err(e) => {
                // The URI may hold a password: log only the failure.
                tracing::warn!("raw_file_received relay: {e}; retrying in 1 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

async fn drain(bytes: &LocalBytes, config: &RelayConfig, stop: &mut watch::Receiver<bool>) -> Result<(), String> {
    let connection = Connection::connect(&config.uri, ConnectionProperties::default()).await.map_err(|e| format!("cannot connect to the broker: {e}"))?;
    let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
    channel.queue_declare(config.queue.as_str().into(), QueueDeclareOptions::durable(), FieldTable::default()).await.map_err(|e| e.to_string())?;
    channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
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
            let properties = BasicProperties::default().with_delivery_mode(2).with_message_id(event.event_id.to_string().into()).with_content_type("application/json".into());
            let confirm = channel
                .basic_publish("".into(), config.queue.as_str().into(), BasicPublishOptions::default(), &body, properties)
                .await
                .map_err(|e| format!("publishing: {e}"))?;
            confirms.push((*seq, confirm));
        }
        let mut delivered = Vec::with_capacity(confirms.len());
        for (seq, confirm) in confirms {
            match confirm.await {
                Ok(c) if c.is_ack() => delivered.push(seq),
                Ok(_) => break,
                Err(e) => {
                    bytes.ack_events(&delivered).await.map_err(|e| e.to_string())?;
                    return Err(format!("waiting for the broker's confirm: {e}"));
                }
            }
        }
        bytes.ack_events(&delivered).await.map_err(|e| e.to_string())?;
    }
}
