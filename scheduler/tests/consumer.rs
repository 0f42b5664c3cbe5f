//! The `raw_file_received` consumer against a real RabbitMQ (start it with
//! `bash scripts/services.sh`): a `boefje/dns-records` raw file gives exactly
//! one `kat_dns_normalize` task, also when its event is delivered twice, and
//! a consumer killed between committing the tasks and acknowledging the
//! message loses nothing and adds nothing when the message comes again.
//! Each test uses a queue of its own.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{dns_event, harness, BOTH};
use kat_core::events::RawFileReceived;
use kat_core::services::scheduler::{Filter, Scheduler, TaskQuery};
use kat_scheduler::consumer::{self, ConsumerConfig};
use kat_scheduler::LocalScheduler;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::sync::watch;

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

async fn channel() -> (Connection, lapin::Channel) {
    let connection = Connection::connect(BROKER, ConnectionProperties::default()).await.unwrap_or_else(|e| panic!("RabbitMQ is not reachable at 127.0.0.1:5672 ({e}); start it with `bash scripts/services.sh`"));
    let channel = connection.create_channel().await.expect("channel");
    (connection, channel)
}

/// Publish `event` to `queue` (durable, persistent), as Bytes' relay does.
async fn publish(queue: &str, event: &RawFileReceived) {
    let (connection, channel) = channel().await;
    channel.queue_declare(queue.into(), QueueDeclareOptions::durable(), FieldTable::default()).await.expect("declare");
    let body = serde_json::to_vec(event).expect("json");
    let properties = BasicProperties::default().with_delivery_mode(2).with_message_id(event.event_id.to_string().as_str().into());
    channel.basic_publish("".into(), queue.into(), BasicPublishOptions::default(), &body, properties).await.expect("publish").await.expect("confirm");
    let _ = connection.close(200, "done".into()).await;
}

/// Messages ready in `queue` (not counting those delivered and unacknowledged).
async fn ready(queue: &str) -> u32 {
    let (connection, channel) = channel().await;
    let q = channel.queue_declare(queue.into(), QueueDeclareOptions { passive: true, durable: true, ..QueueDeclareOptions::default() }, FieldTable::default()).await.expect("passive declare");
    let _ = connection.close(200, "done".into()).await;
    q.message_count()
}

async fn normalizer_tasks_for(s: &LocalScheduler, event: &RawFileReceived) -> i64 {
    let filter = Filter::new("data", Some("raw_data__id"), "eq", event.raw_data.id.to_string());
    s.list(&TaskQuery { scheduler_id: Some("normalizer".into()), filters: vec![filter], ..TaskQuery::default() }).await.expect("list").count
}

/// Wait (10 s at most) until `check` holds.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn config(queue: &str, before_ack: Option<consumer::BeforeAck>) -> ConsumerConfig {
    ConsumerConfig { uri: BROKER.into(), queue: queue.into(), prefetch: 10, before_ack }
}

#[tokio::test]
async fn a_dns_raw_file_gives_one_task_even_when_delivered_twice_or_the_consumer_dies_before_acking() {
    for backend in BOTH {
        let h = harness(backend).await;
        let s = h.scheduler.clone();
        let queue = format!("kat_test_raw_{}", uuid::Uuid::new_v4().simple());

        // The same event twice: one task.
        let first = dns_event("org1");
        publish(&queue, &first).await;
        publish(&queue, &first).await;
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(consumer::run(s.clone(), config(&queue, None), stopped));
        eventually("both deliveries handled", || async { ready(&queue).await == 0 && normalizer_tasks_for(&s, &first).await == 1 }).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(normalizer_tasks_for(&s, &first).await, 1, "{backend:?}: a repeated event_id adds nothing");
        let task = s.list(&TaskQuery { scheduler_id: Some("normalizer".into()), ..TaskQuery::default() }).await.expect("list").results;
        assert_eq!(task[0].data["normalizer"]["id"], "kat_dns_normalize");
        let _ = stop.send(true);
        running.await.expect("consumer stops");

        // Killed after committing the task, before acknowledging: the message comes back, nothing is added.
        let second = dns_event("org1");
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        let die: consumer::BeforeAck = Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            false
        });
        publish(&queue, &second).await;
        let (_keep, never) = watch::channel(false);
        tokio::time::timeout(Duration::from_secs(10), consumer::run(s.clone(), config(&queue, Some(die)), never)).await.expect("the consumer dies at the seam");
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        assert_eq!(normalizer_tasks_for(&s, &second).await, 1, "{backend:?}: the task was committed before the crash");
        eventually("the unacknowledged message is back in the queue", || async { ready(&queue).await == 1 }).await;
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(consumer::run(s.clone(), config(&queue, None), stopped));
        eventually("the redelivery is handled and acknowledged", || async { ready(&queue).await == 0 }).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(normalizer_tasks_for(&s, &second).await, 1, "{backend:?}: the redelivery adds nothing");
        let _ = stop.send(true);
        running.await.expect("consumer stops");

        // After the restarts the consumer goes on with new events.
        let third = dns_event("org1");
        publish(&queue, &third).await;
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(consumer::run(s.clone(), config(&queue, None), stopped));
        eventually("the third event is handled", || async { normalizer_tasks_for(&s, &third).await == 1 && ready(&queue).await == 0 }).await;
        let _ = stop.send(true);
        running.await.expect("consumer stops");
        let (connection, channel) = channel().await;
        channel.queue_delete(queue.as_str().into(), lapin::options::QueueDeleteOptions::default()).await.expect("delete the test queue");
        let _ = connection.close(200, "done".into()).await;
    }
}
