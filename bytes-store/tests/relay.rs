//! The outbox relay against the machine's real RabbitMQ: 1,000 raw files
//! are saved while the broker is unreachable (a TCP proxy in front of it
//! refuses and cuts connections), then the broker comes back and exactly
//! 1,000 distinct `raw_file_received` messages arrive (repeats are allowed
//! and recognised by `event_id`). And the queue is deleted through the
//! broker twice while raw files keep being saved: the broker confirms what
//! it cannot route, so without mandatory publishing those events were lost;
//! every event must still arrive. RabbitMQ must run: `bash scripts/services.sh`.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kat_bytes::relay::{run, RelayConfig};
use kat_bytes::LocalBytes;
use kat_core::services::bytes::Bytes;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueDeleteOptions};
use lapin::Channel;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use tokio::net::{TcpListener, TcpStream};

const BROKER: &str = "127.0.0.1:5672";

/// A TCP proxy to the broker that can be switched off: while off it closes every connection at once and cuts open ones.
async fn proxy(up: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let up = up.clone();
            tokio::spawn(async move {
                let Ok(mut broker) = TcpStream::connect(BROKER).await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut broker) => {}
                    _ = async { while up.load(Ordering::SeqCst) { tokio::time::sleep(Duration::from_millis(20)).await } } => {}
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_events_survive_a_broker_outage() {
    TcpStream::connect(BROKER).await.unwrap_or_else(|e| panic!("RabbitMQ is not reachable at {BROKER} ({e}); start it with `bash scripts/services.sh`"));
    let queue = format!("raw_file_received_test_{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = Arc::new(LocalBytes::open(dir.path()).await.expect("bytes"));
    let up = Arc::new(AtomicBool::new(false));
    let port = proxy(up.clone()).await;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let relay = tokio::spawn(run(bytes.clone(), RelayConfig { uri: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"), queue: queue.clone(), batch: 200 }, stop_rx));

    let meta = common::boefje_meta();
    bytes.save_boefje_meta(&meta).await.expect("meta");
    for i in 0..1000 {
        bytes.save_raw(meta.id, &[format!("test/{i}")], format!("raw {i}").as_bytes()).await.expect("saves succeed while the broker is down");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bytes.pending_events(2000).await.expect("outbox").len(), 1000, "nothing is lost or marked delivered while the broker is down");

    // Let part of the backlog through, cut the connection, then restore it.
    up.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    up.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !bytes.pending_events(1).await.expect("outbox").is_empty() {
        assert!(Instant::now() < deadline, "the backlog was not delivered within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    let _ = relay.await;

    let connection = Connection::connect(&format!("amqp://guest:guest@{BROKER}/%2f"), ConnectionProperties::default()).await.expect("consumer connects");
    let channel = connection.create_channel().await.expect("channel");
    let mut consumer = channel.basic_consume(queue.as_str().into(), "test".into(), BasicConsumeOptions::default(), FieldTable::default()).await.expect("consume");
    let (mut distinct, mut total) = (HashSet::new(), 0usize);
    let deadline = Instant::now() + Duration::from_secs(30);
    while distinct.len() < 1000 && Instant::now() < deadline {
        let Ok(Some(Ok(delivery))) = tokio::time::timeout(Duration::from_secs(5), consumer.next()).await else { break };
        let event: serde_json::Value = serde_json::from_slice(&delivery.data).expect("event JSON");
        assert_eq!(event["organization"], "_dev");
        assert!(event["raw_data"]["boefje_meta"]["id"] == meta.id.to_string());
        distinct.insert(event["event_id"].as_str().expect("event_id").to_string());
        total += 1;
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
    }
    // Anything still queued would be a repeat; drain briefly to count it.
    while let Ok(Some(Ok(delivery))) = tokio::time::timeout(Duration::from_millis(500), consumer.next()).await {
        let event: serde_json::Value = serde_json::from_slice(&delivery.data).expect("event JSON");
        assert!(distinct.contains(event["event_id"].as_str().unwrap_or_default()), "an event that was never saved");
        total += 1;
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
    }
    let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    assert_eq!(distinct.len(), 1000, "{total} messages, {} distinct", distinct.len());
    println!("relay outage test: {total} messages for 1000 events ({} repeats)", total - 1000);
}

/// Consume `queue` into `seen` (event id -> times received), consuming again whenever the queue disappears and
/// comes back; never declares the queue itself (that would hide a relay that does not).
fn collect(queue: String, seen: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>) {
    tokio::spawn(async move {
        loop {
            let Ok(connection) = Connection::connect(&format!("amqp://guest:guest@{BROKER}/%2f"), ConnectionProperties::default()).await else { continue };
            let Ok(channel) = connection.create_channel().await else { continue };
            let Ok(mut consumer) = channel.basic_consume(queue.as_str().into(), "collector".into(), BasicConsumeOptions::default(), FieldTable::default()).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            while let Some(Ok(delivery)) = consumer.next().await {
                let event: serde_json::Value = serde_json::from_slice(&delivery.data).expect("event JSON");
                *seen.lock().expect("lock").entry(event["event_id"].as_str().unwrap_or_default().to_string()).or_default() += 1;
                let _ = delivery.ack(BasicAckOptions::default()).await;
            }
            let _ = connection.close(0, "queue gone".into()).await;
        }
    });
}

async fn delete_queue(channel: &Channel, queue: &str) -> u32 {
    channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await.expect("delete the queue")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_when_the_queue_is_deleted() {
    TcpStream::connect(BROKER).await.unwrap_or_else(|e| panic!("RabbitMQ is not reachable at {BROKER} ({e}); start it with `bash scripts/services.sh`"));
    let queue = format!("raw_file_received_test_{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = Arc::new(LocalBytes::open(dir.path()).await.expect("bytes"));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let relay = tokio::spawn(run(bytes.clone(), RelayConfig { uri: format!("amqp://guest:guest@{BROKER}/%2f"), queue: queue.clone(), batch: 50 }, stop_rx));
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new()));
    collect(queue.clone(), seen.clone());
    let admin = Connection::connect(&format!("amqp://guest:guest@{BROKER}/%2f"), ConnectionProperties::default()).await.expect("admin connects");
    let admin = admin.create_channel().await.expect("channel");

    let meta = common::boefje_meta();
    bytes.save_boefje_meta(&meta).await.expect("meta");
    let wait_until_received = |count: usize, what: &'static str| {
        let seen = seen.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while seen.lock().expect("lock").len() < count {
                assert!(Instant::now() < deadline, "{what}: {} of {count} events arrived within 30 s", seen.lock().expect("lock").len());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let save = async |from: usize, to: usize| {
        for i in from..to {
            bytes.save_raw(meta.id, &[format!("test/{i}")], format!("raw {i}").as_bytes()).await.expect("save");
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    save(0, 200).await;
    wait_until_received(200, "before the first deletion").await;
    // Everything so far was consumed, so deleting the queue loses nothing that was delivered.
    assert_eq!(delete_queue(&admin, &queue).await, 0);
    save(200, 500).await;
    wait_until_received(500, "after the first deletion").await;
    assert_eq!(delete_queue(&admin, &queue).await, 0);
    save(500, 800).await;
    wait_until_received(800, "after the second deletion").await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while !bytes.pending_events(1).await.expect("outbox").is_empty() {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(true);
    let _ = relay.await;
    let _ = admin.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    let seen = seen.lock().expect("lock").clone();
    // Every event ever written to the outbox (delivered ones stay in the table).
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&format!("sqlite://{}", dir.path().join("bytes.sqlite").display())).await.expect("outbox");
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM outbox").fetch_all(&db).await.expect("events");
    let saved: HashSet<String> = bodies.iter().map(|b| serde_json::from_str::<serde_json::Value>(b).expect("event")["event_id"].as_str().unwrap_or_default().to_string()).collect();
    let received: HashSet<String> = seen.keys().cloned().collect();
    let total: usize = seen.values().sum();
    assert_eq!(saved.len(), 800, "one event per saved raw file");
    assert_eq!(received, saved, "exactly the saved events arrived");
    println!("queue deletion test: {total} messages for 800 events ({} repeats)", total - 800);
}
