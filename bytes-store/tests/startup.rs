//! How the Bytes service starts and reports its state: a corrupt
//! `bytes.sqlite` fails at once with "file is not a database"; a PostgreSQL
//! server that is not up yet is waited for and the service then answers;
//! `/health` reports the database and turns 503 when it goes away; numeric
//! `BYTES_*` variables out of range are refused at start. PostgreSQL must
//! run (`bash scripts/services.sh`); it is reached through a TCP proxy on
//! 127.0.0.1 that the test switches on and off.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kat_bytes::config::Config;
use kat_bytes::LocalBytes;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn a_corrupt_metadata_file_fails_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("bytes.sqlite"), vec![0x5a; 8192]).expect("write");
    let started = Instant::now();
    let e = LocalBytes::open(dir.path()).await.err().expect("a corrupt file is refused");
    assert!(e.message.contains("file is not a database"), "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

fn config(vars: &[(&str, String)]) -> Result<Config, kat_bytes::config::ConfigError> {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Config::from_env(move |name| vars.get(name).cloned())
}

#[test]
fn numbers_out_of_range_are_refused_at_start() {
    let base = [("BYTES_USERNAME", "u".to_string()), ("BYTES_PASSWORD", "p".to_string())];
    for (name, value) in [
        ("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", "1e15"),
        ("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", "1000000000000000"),
        ("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", "99999999999999999999999"),
        ("BYTES_MAX_RAW_SIZE", "-1"),
        ("BYTES_MAX_RAW_SIZE", "1099511627776"),
        ("BYTES_DB_WAIT_SECONDS", "86400"),
        ("BYTES_INLINE_MAX", "-1"),
        ("BYTES_INLINE_MAX", "1048577"),
        ("BYTES_INLINE_MAX", "4k"),
    ] {
        let mut vars = base.to_vec();
        vars.push((name, value.to_string()));
        let e = config(&vars).err().unwrap_or_else(|| panic!("{name}={value} was accepted"));
        let message = e.to_string();
        assert!(message.contains(name) && !message.contains('\n'), "{message}");
    }
    let mut vars = base.to_vec();
    vars.push(("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", "525600".to_string()));
    assert_eq!(config(&vars).expect("a year is fine").token_lifetime, Duration::from_secs(525_600 * 60));
}

#[test]
fn inline_contents_default_to_one_block_locally_and_to_none_with_s3() {
    let base = vec![("BYTES_USERNAME", "u".to_string()), ("BYTES_PASSWORD", "p".to_string())];
    assert_eq!(config(&base).expect("defaults").inline_max, 4096);
    let with = |extra: &[(&'static str, &str)]| {
        let mut vars = base.clone();
        vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        config(&vars).expect("valid").inline_max
    };
    assert_eq!(with(&[("BYTES_S3_BUCKET", "evidence")]), 0, "a bucket holds every content unless asked otherwise");
    assert_eq!(with(&[("BYTES_S3_BUCKET", "evidence"), ("BYTES_INLINE_MAX", "1024")]), 1024);
    assert_eq!(with(&[("BYTES_INLINE_MAX", "0")]), 0);
    assert_eq!(with(&[("BYTES_INLINE_MAX", "1048576")]), 1 << 20);
}

/// A TCP proxy from `listener` to PostgreSQL while `up`; when `up` turns false open connections are cut and new ones closed.
fn proxy(listener: TcpListener, up: Arc<AtomicBool>) {
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                continue;
            }
            let up = up.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = async { while up.load(Ordering::SeqCst) { tokio::time::sleep(Duration::from_millis(20)).await } } => {}
                }
            });
        }
    });
}

async fn health(base: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base}/health")).await.expect("health answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("health JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_waited_for_and_health_follows_it() {
    let url = common::postgres_url().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let proxied = url.replace("127.0.0.1:5432", &format!("127.0.0.1:{port}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&[
        ("BYTES_USERNAME", "u".into()),
        ("BYTES_PASSWORD", "p".into()),
        ("BYTES_DATA_DIR", dir.path().display().to_string()),
        ("BYTES_DB_URI", proxied),
        ("BYTES_DB_WAIT_SECONDS", "30".into()),
    ])
    .expect("config");
    let started = Instant::now();
    let service = tokio::spawn(kat_bytes::serve::start(config));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!service.is_finished(), "start-up gave up instead of waiting for PostgreSQL");
    let up = Arc::new(AtomicBool::new(true));
    proxy(TcpListener::bind(("127.0.0.1", port)).await.expect("bind the proxy"), up.clone());
    let service = service.await.expect("task").expect("starts once PostgreSQL answers");
    assert!(started.elapsed() >= Duration::from_secs(2));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(service.serve(listener));
    let (status, body) = health(&base).await;
    assert_eq!((status, body["healthy"].as_bool(), body["results"][0]["service"].as_str(), body["results"][0]["healthy"].as_bool()), (200, Some(true), Some("database"), Some(true)), "{body}");

    up.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = (0, Value::Null);
    while Instant::now() < deadline {
        last = health(&base).await;
        if last.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!((last.0, last.1["healthy"].as_bool(), last.1["results"][0]["healthy"].as_bool()), (503, Some(false), Some(false)), "{}", last.1);

    up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(15);
    while health(&base).await.0 != 200 {
        assert!(Instant::now() < deadline, "health did not recover with the database");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
