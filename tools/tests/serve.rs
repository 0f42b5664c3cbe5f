//! The `katalogus` binary as an operator runs it: configuration from the
//! environment (database, token, encryption, plugin directory), a bad
//! plugin folder reported on standard error, the API answering on its port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request over a plain socket; returns the status line and body.
fn http(port: u16, path: &str, token: Option<&str>) -> Option<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

#[test]
fn katalogus_binary_serves_with_env_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(plugins.join("whois")).expect("mkdir");
    std::fs::write(plugins.join("whois/boefje.json"), r#"{"id": "whois", "consumes": ["Hostname"], "scan_level": 1}"#).expect("write");
    std::fs::create_dir_all(plugins.join("broken")).expect("mkdir");
    std::fs::write(plugins.join("broken/boefje.json"), "{not json").expect("write");
    let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let keys = Command::new(env!("CARGO_BIN_EXE_kat")).arg("keygen").output().expect("kat keygen");
    let keys = String::from_utf8_lossy(&keys.stdout).into_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_katalogus"))
        .envs(keys.lines().filter_map(|l| l.split_once('=')))
        .env("KATALOGUS_BIND", format!("127.0.0.1:{port}"))
        .env("KATALOGUS_DB_URI", format!("sqlite://{}?mode=rwc", dir.path().join("k.sqlite").display()))
        .env("KATALOGUS_API_TOKEN", "op-token")
        .env("KATALOGUS_PLUGIN_DIR", &plugins)
        .stderr(Stdio::piped())
        .spawn()
        .expect("katalogus starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut health = None;
    while Instant::now() < deadline && health.is_none() {
        health = http(port, "/health", None);
        std::thread::sleep(Duration::from_millis(50));
    }
    let checks = (|| {
        let (status, _) = health.ok_or("katalogus did not answer /health within 20 s")?;
        if !status.contains("200") {
            return Err(format!("/health: {status}"));
        }
        let (status, _) = http(port, "/v1/organisations", None).ok_or("no answer")?;
        if !status.contains("401") {
            return Err(format!("without the token: {status}"));
        }
        let (status, body) = http(port, "/v1/organisations", Some("op-token")).ok_or("no answer")?;
        if !status.contains("200") || body.trim() != "{}" {
            return Err(format!("with the token: {status} {body}"));
        }
        Ok(())
    })();
    let _ = child.kill();
    let output = child.wait_with_output().expect("katalogus exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    checks.unwrap_or_else(|e| panic!("{e}\nstderr: {stderr}"));
    assert!(stderr.contains("skipped a plugin") && stderr.contains("broken/boefje.json"), "{stderr}");
    assert!(!stderr.contains("BOEFJES_KATALOGUS_PRIVATE_KEY="), "keys never reach the log");
}

#[test]
fn bytes_store_binary_needs_credentials_and_then_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = Command::new(env!("CARGO_BIN_EXE_bytes-store")).env_remove("BYTES_USERNAME").env("BYTES_DATA_DIR", dir.path()).output().expect("runs");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("BYTES_USERNAME must be set"), "{}", String::from_utf8_lossy(&missing.stderr));

    let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bytes-store"))
        .env("BYTES_DATA_DIR", dir.path())
        .env("BYTES_USERNAME", "bytes")
        .env("BYTES_PASSWORD", "pw")
        .env("BYTES_BIND", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("bytes-store starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut health = None;
    while Instant::now() < deadline && health.is_none() {
        health = http(port, "/health", None);
        std::thread::sleep(Duration::from_millis(50));
    }
    let guarded = http(port, "/bytes/raw", None);
    let _ = child.kill();
    let _ = child.wait();
    assert!(health.is_some_and(|(status, _)| status.contains("200")), "no /health answer");
    assert!(guarded.is_some_and(|(status, _)| status.contains("401")), "/bytes/raw answered without a token");
    assert!(dir.path().join("bytes.sqlite").exists(), "metadata lives in BYTES_DATA_DIR");
}
