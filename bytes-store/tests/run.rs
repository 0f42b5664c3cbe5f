//! `Bytes::save_run`: a finished run's meta and raw files in one
//! transaction, on SQLite with files and on PostgreSQL with S3 (moto), with
//! contents in the object store and inline. The files come back in order,
//! each announced once and readable; a run whose meta id exists is refused
//! whole (no raw file, no event, no contents left in the store); a set of
//! mime types given twice keeps the first file, as `save_raw` does.

mod common;

use common::{boefje_meta, Backend};
use futures::TryStreamExt;
use kat_core::services::bytes::Bytes;
use kat_core::ErrorKind;

async fn stored_objects(store: &std::sync::Arc<dyn object_store::ObjectStore>) -> usize {
    let listed: Vec<object_store::ObjectMeta> = store.list(None).try_collect().await.expect("list the store");
    listed.len()
}

async fn a_run_is_saved_whole_or_not_at_all(backend: Backend, inline_max: usize) {
    let (bytes, store, _dir) = common::open(backend).await;
    let bytes = std::sync::Arc::into_inner(bytes).expect("one owner").with_inline_max(inline_max);
    let run = boefje_meta();
    let files: Vec<(Vec<String>, &[u8])> = vec![(vec!["boefje/log".into()], b"INFO: started".as_slice()), (vec!["boefje/dns-records".into(), "dns-records".into()], b"{\"a\": 1}".as_slice())];
    let saved = bytes.save_run(&run, &files).await.expect("run saved");
    assert_eq!(saved.len(), 2);
    assert_eq!(saved[0].mime_types.iter().map(|m| m.value.as_str()).collect::<Vec<_>>(), ["boefje/log"]);
    assert_eq!(bytes.get_boefje_meta(run.id).await.expect("meta"), run);
    for (raw, (_, content)) in saved.iter().zip(&files) {
        let (meta, read) = bytes.get_raw(raw.id).await.expect("readable");
        assert_eq!((&meta, read.as_slice()), (raw, *content));
    }
    assert_eq!(bytes.raw_of_run(run.id).await.expect("listed"), saved, "in the order given");
    let events = bytes.pending_events(10).await.expect("outbox");
    assert_eq!(events.iter().map(|(_, e)| e.raw_data.id).collect::<Vec<_>>(), saved.iter().map(|r| r.id).collect::<Vec<_>>(), "each file announced once");
    let objects = stored_objects(&store).await;
    assert_eq!(objects, if inline_max == 0 { 2 } else { 0 });

    // The same meta id again: refused before any raw file is kept, and the contents it wrote are gone again.
    let again = bytes.save_run(&run, &[(vec!["text/plain".into()], b"second attempt".as_slice())]).await.expect_err("an existing meta id");
    assert_eq!(again.kind, ErrorKind::Conflict);
    assert_eq!(bytes.raw_of_run(run.id).await.expect("listed"), saved);
    assert_eq!(bytes.pending_events(10).await.expect("outbox").len(), 2);
    assert_eq!(stored_objects(&store).await, objects);
    assert!(bytes.orphans().await.expect("orphans").is_empty());

    // One set of mime types twice: Bytes keeps the first file of a set.
    let twice = boefje_meta();
    let files: Vec<(Vec<String>, &[u8])> = vec![(vec!["a".into(), "b".into()], b"first".as_slice()), (vec!["b".into(), "a".into(), "a".into()], b"second".as_slice())];
    let saved = bytes.save_run(&twice, &files).await.expect("saved");
    assert_eq!(saved[0], saved[1]);
    assert_eq!(bytes.get_raw(saved[0].id).await.expect("readable").1, b"first");

    // A meta that may not be stored: refused as `save_boefje_meta` refuses it, nothing kept.
    let objects = stored_objects(&store).await;
    let stray = kat_core::meta::BoefjeMeta { organization: "../elsewhere".into(), ..boefje_meta() };
    let refused = bytes.save_run(&stray, &[(vec!["text/plain".into()], vec![b'x'; 5000].as_slice())]).await.expect_err("a bad organisation id");
    assert_eq!((refused.kind, refused.field.as_deref()), (ErrorKind::Invalid, Some("organization")), "{refused}");
    assert_eq!(stored_objects(&store).await, objects);
}

#[tokio::test]
async fn a_run_is_saved_whole_or_not_at_all_on_sqlite_and_files() {
    a_run_is_saved_whole_or_not_at_all(Backend::SqliteFiles, 0).await;
    a_run_is_saved_whole_or_not_at_all(Backend::SqliteFiles, kat_bytes::DEFAULT_INLINE_MAX).await;
}

#[tokio::test]
async fn a_run_is_saved_whole_or_not_at_all_on_postgres_and_s3() {
    a_run_is_saved_whole_or_not_at_all(Backend::PostgresS3, 0).await;
    a_run_is_saved_whole_or_not_at_all(Backend::PostgresS3, kat_bytes::DEFAULT_INLINE_MAX).await;
}
