//! Bytes on a real directory: raw files with their metadata and hash, the
//! outbox event written with each file, and persistence across reopening.

mod common;

use common::boefje_meta;
use kat_bytes::LocalBytes;
use kat_core::services::bytes::Bytes;
use kat_core::ErrorKind;
use uuid::Uuid;

#[tokio::test]
async fn raw_files_are_stored_hashed_announced_and_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let meta = boefje_meta();
    let raw = {
        let bytes = LocalBytes::open(dir.path()).await.expect("opens");
        let err = bytes.save_raw(meta.id, &["boefje/dns-records".into()], b"{}").await.expect_err("unknown run");
        assert_eq!(err.kind, ErrorKind::NotFound);
        bytes.save_boefje_meta(&meta).await.expect("meta saved");
        let raw = bytes.save_raw(meta.id, &["boefje/dns-records".into(), "dns-records".into(), "dns-records".into()], b"{\"a\": 1}").await.expect("raw saved");
        assert_eq!(raw.mime_types.len(), 2, "mime types are a set: {:?}", raw.mime_types);
        assert!(raw.secure_hash.as_deref().is_some_and(|h| h.starts_with("sha512:") && h.len() == 135));
        let events = bytes.pending_events(10).await.expect("outbox");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].1.raw_data, raw);
        assert_eq!(events[0].1.organization, "_dev");
        let json = serde_json::to_value(&events[0].1).expect("serializes");
        for key in ["event_id", "created_at", "organization", "raw_data"] {
            assert!(json.get(key).is_some(), "event body has {key}: {json}");
        }
        raw
    };
    let bytes = LocalBytes::open(dir.path()).await.expect("reopens");
    let (meta_back, content) = bytes.get_raw(raw.id).await.expect("reads back");
    assert_eq!(content, b"{\"a\": 1}");
    assert_eq!(meta_back, raw);
    assert_eq!(bytes.raw_of_run(meta.id).await.expect("list"), vec![raw.clone()]);
    let events = bytes.pending_events(10).await.expect("outbox");
    assert_eq!(events.len(), 1, "an unacknowledged event survives a restart");
    bytes.ack_events(&[events[0].0]).await.expect("ack");
    assert!(bytes.pending_events(10).await.expect("outbox").is_empty());
    assert_eq!(bytes.get_raw(Uuid::new_v4()).await.expect_err("unknown").kind, ErrorKind::NotFound);
}
