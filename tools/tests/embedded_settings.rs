//! The embedded KATalogus (`kat scan`, `kat run-boefje`) keeps plugin
//! settings encrypted at rest: a key pair is made in the data directory on
//! first use (mode 0600), settings stored in plain JSON by an earlier version
//! are encrypted then, and no setting value is left readable in any file.

use kat_tools::embedded::{Embedded, SETTINGS_KEY_FILE};
use serde_json::{json, Map, Value};

const SECRET: &str = "8000-8100-secret-ports-4711";

fn settings() -> Map<String, Value> {
    json!({"PORTS": SECRET}).as_object().cloned().unwrap_or_default()
}

fn readable_anywhere(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    kat_tests::files::all_files(dir).into_iter().filter(|f| std::fs::read(f).is_ok_and(|b| b.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()))).collect()
}

#[tokio::test]
async fn settings_are_encrypted_with_a_key_pair_made_in_the_data_directory() {
    use kat_core::services::katalogus::Katalogus;
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let stores = Embedded::open(dir.path()).await.expect("open");
        stores.katalogus.ensure_organisation("_dev", "_dev").await.expect("org");
        stores.katalogus.put_settings("_dev", "port-scan", &settings()).await.expect("settings");
        assert_eq!(stores.katalogus.settings("_dev", "port-scan").await.expect("read back")["PORTS"], SECRET);
    }
    let key_file = dir.path().join(SETTINGS_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).expect("key file made").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner may read the key pair");
    }
    assert_eq!(readable_anywhere(dir.path()), Vec::<std::path::PathBuf>::new(), "the value is in no file of the data directory");
    let stores = Embedded::open(dir.path()).await.expect("reopen with the same key file");
    assert_eq!(stores.katalogus.settings("_dev", "port-scan").await.expect("read after reopening")["PORTS"], SECRET);
}

#[tokio::test]
async fn plaintext_settings_of_an_earlier_version_are_encrypted_on_first_open() {
    use kat_core::services::katalogus::Katalogus;
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let plain = kat_katalogus::LocalKatalogus::open(&dir.path().join("katalogus.sqlite"), kat_tools::embedded::builtin_repository()).await.expect("an IDENTITY store, as earlier versions made");
        plain.ensure_organisation("_dev", "_dev").await.expect("org");
        plain.put_settings("_dev", "port-scan", &settings()).await.expect("settings");
    }
    assert!(!readable_anywhere(dir.path()).is_empty(), "the earlier version left the value readable");
    let stores = Embedded::open(dir.path()).await.expect("open makes the key pair");
    assert_eq!(stores.katalogus.settings("_dev", "port-scan").await.expect("still readable")["PORTS"], SECRET);
    stores.katalogus.close().await;
    drop(stores);
    let stores = Embedded::open(dir.path()).await.expect("reopen");
    // Closing waits for the connections to close, and the last one checkpoints the log into the database.
    stores.katalogus.close().await;
    drop(stores);
    // SQLite may keep the old page in its write-ahead log until a checkpoint; the main database must not hold it.
    let db = std::fs::read(dir.path().join("katalogus.sqlite")).expect("database");
    assert!(!db.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "the stored row was re-encrypted");
}
