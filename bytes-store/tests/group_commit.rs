//! Group commit of the metadata writes on a real SQLite file: many
//! concurrent saves (which share commits) all land, and a save that must be
//! refused (a boefje meta whose id exists) fails alone without spoiling the
//! other writes of its batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use kat_bytes::meta_db::MetaDb;
use kat_core::meta::{BoefjeMeta, PluginRef};
use kat_core::ErrorKind;
use uuid::Uuid;

fn meta(id: Uuid) -> BoefjeMeta {
    BoefjeMeta {
        id,
        started_at: Some(time::OffsetDateTime::now_utc()),
        ended_at: Some(time::OffsetDateTime::now_utc()),
        boefje: PluginRef { id: "dns-records".into(), version: None },
        input_ooi: Some("Hostname|internet|example.nl".into()),
        arguments: BTreeMap::new(),
        organization: "o".into(),
        runnable_hash: None,
        environment: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_saves_all_land_and_a_refused_one_fails_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Arc::new(MetaDb::open(&dir.path().join("meta.sqlite")).await.expect("database"));
    let duplicate = Uuid::new_v4();
    // 64 saves at once; the duplicate id comes four times, so at least one batch holds a refused write.
    let ids: Vec<Uuid> = (0..64).map(|i| if i % 16 == 0 { duplicate } else { Uuid::new_v4() }).collect();
    let saves: Vec<_> = ids
        .iter()
        .map(|id| {
            let (db, meta) = (db.clone(), meta(*id));
            tokio::spawn(async move { db.save_boefje_meta(&meta).await })
        })
        .collect();
    let mut refused = 0;
    for save in saves {
        match save.await.expect("joined") {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::Conflict => refused += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(refused, 3, "the duplicate id is saved once and refused three times");
    for id in &ids {
        assert_eq!(db.boefje_meta(*id).await.expect("stored").id, *id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_gives_up_does_not_take_the_others_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Arc::new(MetaDb::open(&dir.path().join("meta.sqlite")).await.expect("database"));
    // 64 saves at once; every fourth is abandoned (as when a client hangs up) right after it starts, which may
    // be while it commits the batch of the others.
    let saves: Vec<_> = (0..64)
        .map(|_| {
            let (db, meta) = (db.clone(), meta(Uuid::new_v4()));
            let id = meta.id;
            (id, tokio::spawn(async move { db.save_boefje_meta(&meta).await }))
        })
        .collect();
    let mut kept = Vec::new();
    for (i, (id, save)) in saves.into_iter().enumerate() {
        if i % 4 == 0 {
            tokio::task::yield_now().await;
            save.abort();
        } else {
            kept.push((id, save));
        }
    }
    for (id, save) in kept {
        save.await.expect("joined").expect("a save that was not abandoned succeeds");
        assert_eq!(db.boefje_meta(id).await.expect("stored").id, id);
    }
}

/// A raw file save that its caller abandons at any point either lands whole (contents and metadata) or not at
/// all: no contents without metadata are left in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_raw_file_save_leaves_no_contents_without_metadata() {
    use kat_core::services::bytes::Bytes;
    let dir = tempfile::tempdir().expect("temp dir");
    // Every content to the object store: the two writes this test cuts apart.
    let bytes = kat_bytes::LocalBytes::open(dir.path()).await.expect("opens").with_inline_max(0);
    let mime_types = ["text/plain".to_string()];
    let mut abandoned = 0;
    for i in 0..40u64 {
        let run = meta(Uuid::new_v4());
        bytes.save_boefje_meta(&run).await.expect("meta");
        // Give up after a growing pause, so the saves are cut at different points (the contents' fsync takes a while).
        let save = bytes.save_raw(run.id, &mime_types, b"evidence");
        if tokio::time::timeout(std::time::Duration::from_micros(50 * i), save).await.is_err() {
            abandoned += 1;
        }
    }
    assert!(abandoned > 0, "some saves were abandoned mid-way");
    // The abandoned saves finish on their own; then every stored content has its metadata.
    let mut orphans = bytes.orphans().await.expect("listed");
    for _ in 0..50 {
        if orphans.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        orphans = bytes.orphans().await.expect("listed");
    }
    assert_eq!(orphans, Vec::<String>::new(), "contents without metadata");
}
