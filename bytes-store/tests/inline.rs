//! Small contents kept in the metadata database (`BYTES_INLINE_MAX`), on
//! SQLite with files and on PostgreSQL with S3 (moto): contents of at most
//! the limit (as stored) get no object in the store and read back whole;
//! one byte more goes to the store as before; neither is an orphan; a flipped
//! byte in an inline row is refused by the hash check; encrypted contents are
//! inlined encrypted (the limit counts the stored bytes, nonce and tag
//! included).

mod common;

use std::sync::Arc;

use common::{boefje_meta, Backend};
use futures::TryStreamExt;
use kat_bytes::LocalBytes;
use kat_core::crypto::{generate_key_pair, Middleware};
use kat_core::services::bytes::Bytes;
use object_store::ObjectStore;

const LIMIT: usize = 64;

/// Bytes on `backend` with the given limit and middleware; the database URL (to reach rows directly), the store,
/// and the directory that must outlive them.
async fn open(backend: Backend, crypto: Middleware) -> (LocalBytes, String, Arc<dyn ObjectStore>, tempfile::TempDir) {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, store) = common::database(backend, dir.path()).await;
    let bytes = LocalBytes::connect(&url, store.clone(), Arc::new(crypto)).await.expect("bytes").with_inline_max(LIMIT);
    (bytes, url, store, dir)
}

async fn objects(store: &Arc<dyn ObjectStore>) -> Vec<String> {
    let listed: Vec<object_store::ObjectMeta> = store.list(None).try_collect().await.expect("list the store");
    listed.into_iter().map(|o| o.location.to_string()).collect()
}

async fn small_contents_live_in_their_row(backend: Backend) {
    let (bytes, url, store, _dir) = open(backend, Middleware::Identity).await;
    let run = boefje_meta();
    bytes.save_boefje_meta(&run).await.expect("meta");
    let at_limit = vec![b'a'; LIMIT];
    let above = vec![b'b'; LIMIT + 1];
    let small = bytes.save_raw(run.id, &["text/small".into()], &at_limit).await.expect("small raw");
    let large = bytes.save_raw(run.id, &["text/large".into()], &above).await.expect("large raw");
    let empty = bytes.save_raw(run.id, &["text/empty".into()], b"").await.expect("empty raw");
    assert_eq!(objects(&store).await, vec![format!("_dev/{}", large.id)], "only the content above the limit is an object of its own");
    assert_eq!(bytes.get_raw(small.id).await.expect("small").1, at_limit);
    assert_eq!(bytes.get_raw(large.id).await.expect("large").1, above);
    assert_eq!(bytes.get_raw(empty.id).await.expect("empty").1, b"");
    assert_eq!(bytes.orphans().await.expect("orphans"), Vec::<String>::new());
    for raw in [small.id, large.id, empty.id] {
        bytes.verify(raw).await.expect("verifies");
    }

    // A flipped byte in the row is refused, as a flipped byte in a file is.
    let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
    let mut altered = at_limit.clone();
    altered[7] ^= 1;
    let done = sqlx::query("UPDATE raw_data SET content = $1 WHERE id = $2").bind(altered).bind(small.id.to_string()).execute(&pool).await.expect("tamper");
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
    let refused = bytes.get_raw(small.id).await.expect_err("an altered inline content is refused");
    assert!(refused.message.contains("does not match its stored hash"), "{}", refused.message);
    bytes.verify(large.id).await.expect("the other raw file still verifies");
}

#[tokio::test]
async fn small_contents_live_in_their_row_on_sqlite_and_files() {
    small_contents_live_in_their_row(Backend::SqliteFiles).await;
}

#[tokio::test]
async fn small_contents_live_in_their_row_on_postgres_and_s3() {
    small_contents_live_in_their_row(Backend::PostgresS3).await;
}

#[tokio::test]
async fn encrypted_contents_are_inlined_encrypted_and_the_limit_counts_stored_bytes() {
    let (private, public) = generate_key_pair();
    let (bytes, url, store, _dir) = open(Backend::SqliteFiles, Middleware::nacl_box(&private, &public).expect("keys")).await;
    let run = boefje_meta();
    bytes.save_boefje_meta(&run).await.expect("meta");
    // NaCl's box adds a 24-byte nonce and a 16-byte tag: 24 plain bytes are 64 stored, 25 are 65.
    let fits = b"secret-evidence-24-bytes".to_vec();
    let over = b"secret-evidence-25-bytes!".to_vec();
    let inline = bytes.save_raw(run.id, &["text/fits".into()], &fits).await.expect("raw");
    let stored_apart = bytes.save_raw(run.id, &["text/over".into()], &over).await.expect("raw");
    assert_eq!(objects(&store).await, vec![format!("_dev/{}", stored_apart.id)]);
    let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
    let row: (Vec<u8>,) = sqlx::query_as("SELECT content FROM raw_data WHERE id = $1").bind(inline.id.to_string()).fetch_one(&pool).await.expect("row");
    pool.close().await;
    assert_eq!(row.0.len(), LIMIT);
    assert!(!row.0.windows(6).any(|w| w == b"secret"), "the row holds the encrypted contents");
    assert_eq!(bytes.get_raw(inline.id).await.expect("decrypts").1, fits);
    assert_eq!(bytes.get_raw(stored_apart.id).await.expect("decrypts").1, over);
}
