//! The `raw_file_received` consumer (distributed mode): it reads OpenKAT's
//! durable queue `raw_file_received` from RabbitMQ (`QUEUE_URI`) with
//! manual acknowledgements and a prefetch window, hands each event to
//! `LocalScheduler::on_raw_file`, and acknowledges a message only after the
//! tasks it created are committed. A consumer killed between receiving and
//! acknowledging loses nothing: the broker delivers the message again, and
//! the event id, recorded in the same transaction as the tasks, makes the
//! repeat add nothing. Several replicas share the queue.
//!
//! A message that can never be handled (not JSON, not an event, an invalid
//! or unknown organisation) is logged and acknowledged, as mula does; one that fails
//! for a passing reason (the database or the KATalogus is away) is handed
//! back to the broker and tried again a second later. The consumer
//! reconnects every second while the broker is unreachable.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kat_core::events::RawFileReceived;
use kat_core::ErrorKind;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use tokio::sync::watch;

use crate::local::LocalScheduler;

/// `Metrics::broker`: no consumer runs.
pub const BROKER_NOT_RUNNING: u8 = 0;
/// `Metrics::broker`: consuming.
pub const BROKER_CONNECTED: u8 = 1;
/// `Metrics::broker`: not connected, reconnecting.
pub const BROKER_LOST: u8 = 2;

/// The queue OpenKAT's Bytes publishes to.
pub const QUEUE: &str = "raw_file_received";

/// A test seam: called after an event's tasks are committed and before the message is acknowledged; when it
/// returns false, the consumer stops there without acknowledging, as if the process had been killed.
pub type BeforeAck = Arc<dyn Fn(&RawFileReceived) -> bool + Send + Sync>;

/// Where and how to consume.
#[derive(Clone)]
pub struct ConsumerConfig {
    /// `amqp://user:password@host:port/vhost` (never logged).
    pub uri: String,
    /// The durable queue.
    pub queue: String,
    /// Unacknowledged messages in flight at most.
    pub prefetch: u16,
    /// See [`BeforeAck`].
    pub before_ack: Option<BeforeAck>,
}

impl std::fmt::Debug for ConsumerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerConfig").field("queue", &self.queue).field("prefetch", &self.prefetch).finish_non_exhaustive()
    }
}

/// How a consuming session ended.
enum End {
    /// Asked to stop (or the seam said so).
    Stopped,
    /// The broker went away; reconnect.
    Lost(String),
}

/// Consume until `stop` turns true (or the seam stops it), reconnecting after every failure.
pub async fn run(scheduler: LocalScheduler, config: ConsumerConfig, mut stop: watch::Receiver<bool>) {
    let broker = |state: u8| scheduler.metrics().broker.store(state, std::sync::atomic::Ordering::Relaxed);
    broker(BROKER_LOST);
    while !*stop.borrow() {
        match consume(&scheduler, &config, &mut stop).await {
            End::Stopped => return broker(BROKER_NOT_RUNNING),
            End::Lost(reason) => {
                broker(BROKER_LOST);
                // The URI may hold a password: log only the reason.
                tracing::warn!("raw_file_received consumer: {reason}; reconnecting in 1 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

async fn consume(scheduler: &LocalScheduler, config: &ConsumerConfig, stop: &mut watch::Receiver<bool>) -> End {
    let connection = match Connection::connect(&config.uri, ConnectionProperties::default()).await {
        Ok(c) => c,
        Err(e) => return End::Lost(format!("cannot connect to the broker: {e}")),
    };
    let end = session(scheduler, config, &connection, stop).await;
    let _ = connection.close(200, "consumer stopped".into()).await;
    end
}

async fn session(scheduler: &LocalScheduler, config: &ConsumerConfig, connection: &Connection, stop: &mut watch::Receiver<bool>) -> End {
    let lost = |what: &str, e: lapin::Error| End::Lost(format!("{what}: {e}"));
    let channel = match connection.create_channel().await {
        Ok(c) => c,
        Err(e) => return lost("opening a channel", e),
    };
    if let Err(e) = channel.queue_declare(config.queue.as_str().into(), QueueDeclareOptions::durable(), FieldTable::default()).await {
        return lost("declaring the queue", e);
    }
    if let Err(e) = channel.basic_qos(config.prefetch.max(1), BasicQosOptions::default()).await {
        return lost("setting the prefetch", e);
    }
    let tag = format!("kat-scheduler-{}", uuid::Uuid::new_v4().simple());
    let mut deliveries = match channel.basic_consume(config.queue.as_str().into(), tag.as_str().into(), BasicConsumeOptions::default(), FieldTable::default()).await {
        Ok(c) => c,
        Err(e) => return lost("consuming", e),
    };
    tracing::info!(queue = %config.queue, "raw_file_received consumer connected");
    scheduler.metrics().broker.store(BROKER_CONNECTED, std::sync::atomic::Ordering::Relaxed);
    loop {
        let delivery = tokio::select! {
            next = deliveries.next() => next,
            _ = stop.changed() => return End::Stopped,
        };
        let delivery = match delivery {
            None => return End::Lost("the broker closed the consumer".into()),
            Some(Err(e)) => return lost("receiving", e),
            Some(Ok(d)) => d,
        };
        let event = match serde_json::from_slice::<RawFileReceived>(&delivery.data) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("dropping a raw_file_received message that is not an event: {e}");
                if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                    return lost("acknowledging", e);
                }
                continue;
            }
        };
        match scheduler.on_raw_file(&event).await {
            Ok(pushed) => tracing::debug!(event = %event.event_id, tasks = pushed.len(), "raw_file_received handled"),
            Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::NotFound) => tracing::warn!(event = %event.event_id, "dropping a raw_file_received event: {e}"),
            Err(e) => {
                tracing::warn!(event = %event.event_id, "raw_file_received event not handled, handing it back: {e}");
                if let Err(e) = delivery.nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() }).await {
                    return lost("handing back", e);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        if config.before_ack.as_ref().is_some_and(|hook| !hook(&event)) {
            return End::Stopped;
        }
        if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
            return lost("acknowledging", e);
        }
    }
}
