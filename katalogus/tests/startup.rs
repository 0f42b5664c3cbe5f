//! Starting the service (`kat_katalogus::serve`, which the `katalogus`
//! binary runs): a corrupt SQLite file fails at once with the real reason,
//! a PostgreSQL that refuses connections is waited for and the port is not
//! opened meanwhile, numeric variables are range-checked, and a service
//! without an API token is warned about.

use std::time::{Duration, Instant};

use kat_katalogus::config::{Config, ConfigError, NO_TOKEN_WARNING};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    kat_core::config::from_pairs(pairs)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test]
async fn a_corrupt_sqlite_file_fails_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("katalogus.sqlite");
    std::fs::write(&file, b"this is no database, just some bytes in a file").expect("write");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let bind = format!("127.0.0.1:{}", free_port());
    let config = Config::from_env(env(&[("KATALOGUS_DB_URI", &url), ("KATALOGUS_BIND", &bind), ("KATALOGUS_API_TOKEN", "t")])).expect("config");
    let started = Instant::now();
    let e = kat_katalogus::serve(config, kat_katalogus::PluginRepository::default()).await.expect_err("corrupt file");
    assert!(e.message.contains("file is not a database"), "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn the_port_opens_only_once_the_database_answers() {
    let db_port = free_port();
    let bind = format!("127.0.0.1:{}", free_port());
    let url = format!("postgres://postgres@127.0.0.1:{db_port}/test");
    let config = Config::from_env(env(&[("KATALOGUS_DB_URI", &url), ("KATALOGUS_BIND", &bind), ("KATALOGUS_DB_WAIT_SECONDS", "3")])).expect("config");
    assert_eq!(config.db_wait, Duration::from_secs(3));
    let started = Instant::now();
    let service = tokio::spawn(kat_katalogus::serve(config, kat_katalogus::PluginRepository::default()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(tokio::net::TcpStream::connect(&bind).await.is_err(), "the port is open while the database is still awaited");
    let e = service.await.expect("joins").expect_err("nobody serves the database");
    assert!(e.message.contains("cannot open the katalogus database (KATALOGUS_DB_URI)"), "{}", e.message);
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited: {:?}", started.elapsed());
    assert!(tokio::net::TcpStream::connect(&bind).await.is_err());
}

#[test]
fn numeric_variables_are_range_checked() {
    for (value, needle) in [("1e15", "not a whole number"), ("99999", "out of range"), ("-1", "KATALOGUS_DB_WAIT_SECONDS"), ("100000000000000000000000", "out of range")] {
        match Config::from_env(env(&[("KATALOGUS_DB_WAIT_SECONDS", value)])) {
            Err(ConfigError::Number(e)) => {
                let line = e.to_string();
                assert!(line.contains("KATALOGUS_DB_WAIT_SECONDS") && line.contains(needle) && !line.contains('\n'), "{value}: {line}");
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    assert_eq!(Config::from_env(env(&[])).expect("defaults").db_wait, Duration::from_secs(60));
    assert!(matches!(Config::from_env(env(&[("KATALOGUS_BIND", "nowhere")])), Err(ConfigError::Bind(_))));
}

#[test]
fn a_service_without_a_token_is_warned_about() {
    let open = Config::from_env(env(&[])).expect("config");
    assert_eq!(open.warnings(), [NO_TOKEN_WARNING]);
    assert!(NO_TOKEN_WARNING.contains("KATALOGUS_API_TOKEN") && NO_TOKEN_WARNING.contains("anyone who can reach it can read every setting"));
    assert!(Config::from_env(env(&[("KATALOGUS_API_TOKEN", "t")])).expect("config").warnings().is_empty());
    assert_eq!(Config::from_env(env(&[("KATALOGUS_API_TOKEN", "")])).expect("config").warnings(), [NO_TOKEN_WARNING], "an empty token is no token");
}
