//! `kat verify-raw` and `kat show-raw` as an operator runs them, and the
//! `bytes-store` binary's refusal of a bad setting: `--all` reports stored
//! contents without metadata (orphans) as `FAILED` lines and refuses an
//! empty metadata database beside a `raw/` folder with files; both tools
//! work on a read-only copy of a data directory without creating or changing
//! a file in it (the permission bits choose the read-only open, so this
//! holds when the tests run as root too); `BYTES_ACCESS_TOKEN_EXPIRE_MINUTES=1e15`
//! stops `bytes-store` at start with one line and exit code 64.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kat_core::meta::BoefjeMeta;
use kat_core::services::bytes::Bytes;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn kat(data: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kat")).args(args).env("KAT_DATA_DIR", data).env_remove("BYTES_ENCRYPTION_MIDDLEWARE").output().expect("kat runs");
    Run { code: out.status.code(), stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// A data directory with two raw files; returns their ids.
fn stored(dir: &Path) -> Vec<String> {
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        // Files on disk, as the scenarios below copy and damage them.
        let bytes = kat_bytes::LocalBytes::open(dir).await.expect("open bytes").with_inline_max(0);
        let meta: BoefjeMeta = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::new_v4(), "started_at": "2024-05-01T10:00:00Z", "ended_at": "2024-05-01T10:00:01.25Z",
            "boefje": {"id": "dns-records"}, "input_ooi": "Hostname|internet|example.nl", "arguments": {}, "organization": "_dev"
        }))
        .expect("a boefje meta");
        bytes.save_boefje_meta(&meta).await.expect("meta");
        let mut ids = Vec::new();
        for (tag, content) in [("boefje/dns-records", "{\"a\": 1}"), ("text/plain", "log")] {
            ids.push(bytes.save_raw(meta.id, &[tag.to_string()], content.as_bytes()).await.expect("raw").id.to_string());
        }
        bytes.close().await;
        ids
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").filter_map(Result::ok) {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file and folder under `dir` with its length and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read dir").filter_map(Result::ok) {
        let meta = entry.metadata().expect("metadata");
        out.insert(entry.path(), (meta.len(), meta.modified().expect("mtime")));
        if meta.is_dir() {
            out.extend(snapshot(&entry.path()));
        }
    }
    out
}

fn set_read_only(path: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).expect("metadata");
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).expect("read dir").filter_map(Result::ok) {
            set_read_only(&entry.path(), read_only);
        }
    }
    let mode = match (meta.is_dir(), read_only) {
        (true, true) => 0o555,
        (true, false) => 0o755,
        (false, true) => 0o444,
        (false, false) => 0o644,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn verify_all_reports_orphans_and_refuses_lost_metadata() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = stored(dir.path());
    let clean = kat(dir.path(), &["verify-raw", "--all"]);
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    assert!(ids.iter().all(|id| clean.stdout.contains(&format!("ok {id}"))), "{}", clean.stdout);

    // Contents written without metadata, as a kill between the two steps leaves them.
    let orphan = uuid::Uuid::new_v4();
    std::fs::write(dir.path().join("raw/_dev").join(orphan.to_string()), b"half saved").expect("orphan");
    let found = kat(dir.path(), &["verify-raw", "--all"]);
    assert_ne!(found.code, Some(0));
    assert!(found.stdout.contains(&format!("FAILED _dev/{orphan}: stored contents without metadata")), "{}", found.stdout);
    assert!(ids.iter().all(|id| found.stdout.contains(&format!("ok {id}"))), "{}", found.stdout);
    assert!(found.stderr.contains("1 of 3 raw file(s) failed"), "{}", found.stderr);

    // An empty metadata database beside raw files is lost metadata, not a fresh start.
    let lost = tempfile::tempdir().expect("temp dir");
    tokio::runtime::Runtime::new().expect("runtime").block_on(async { kat_bytes::LocalBytes::open(lost.path()).await.expect("an empty store").close().await });
    copy_dir(&dir.path().join("raw"), &lost.path().join("raw"));
    let refused = kat(lost.path(), &["verify-raw", "--all"]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("lists no raw files, but raw/ holds 3 stored file(s)") && refused.stderr.contains("not a fresh start"), "{}", refused.stderr);
    assert!(!refused.stdout.contains("ok "), "{}", refused.stdout);
}

#[test]
fn show_and_verify_work_on_a_read_only_copy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = stored(dir.path());
    let copy = tempfile::tempdir().expect("temp dir");
    let data = copy.path().join("data");
    copy_dir(dir.path(), &data);
    set_read_only(&data, true);
    let before = snapshot(&data);

    let verified = kat(&data, &["verify-raw", "--all"]);
    let shown = kat(&data, &["show-raw", &ids[0]]);
    let meta = kat(&data, &["show-raw", "--meta", &ids[1]]);
    let after = snapshot(&data);
    set_read_only(&data, false);

    assert_eq!(verified.code, Some(0), "{}{}", verified.stdout, verified.stderr);
    assert!(ids.iter().all(|id| verified.stdout.contains(&format!("ok {id}"))), "{}", verified.stdout);
    assert_eq!((shown.code, shown.stdout.as_str()), (Some(0), "{\"a\": 1}"), "{}", shown.stderr);
    assert!(meta.code == Some(0) && meta.stdout.contains("\"text/plain\""), "{}{}", meta.stdout, meta.stderr);
    assert_eq!(before, after, "nothing in the read-only data directory was created or changed");
}

#[test]
fn bytes_store_refuses_an_absurd_token_lifetime_with_exit_code_64() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_bytes-store"))
        .env("BYTES_DATA_DIR", dir.path())
        .env("BYTES_USERNAME", "bytes")
        .env("BYTES_PASSWORD", "pw")
        .env("BYTES_BIND", "127.0.0.1:0")
        .env("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES", "1e15")
        .output()
        .expect("bytes-store runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES") && stderr.trim().lines().count() == 1 && !stderr.contains("panicked"), "{stderr}");
}
