//! Where raw contents live: the local filesystem under the data directory
//! (default) or an S3 bucket (`BYTES_S3_BUCKET`), through `object_store`.
//! For S3 the usual AWS variables apply (`AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` or
//! `AWS_DEFAULT_REGION`); path-style requests and plain HTTP are allowed so
//! that a local S3 server (such as moto) works. The command-line tools open
//! the local folder read-only ([`local_read_only`]) on a read-only data directory.

use std::path::Path;
use std::sync::Arc;

use kat_core::services::{ServiceError, ServiceResult};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

/// Raw contents on local disk under `dir/raw`, each file fsynced before `put` returns.
pub fn local(dir: &Path) -> ServiceResult<Arc<dyn ObjectStore>> {
    let raw_dir = dir.join("raw");
    std::fs::create_dir_all(&raw_dir).map_err(|e| ServiceError::unavailable(format!("cannot create {}: {e}", raw_dir.display())))?;
    let store = LocalFileSystem::new_with_prefix(&raw_dir).map_err(|e| ServiceError::unavailable(format!("cannot open {}: {e}", raw_dir.display())))?;
    // fsync each file and its directory before a save is acknowledged: evidence is never lost to a crash.
    Ok(Arc::new(store.with_fsync(true)))
}

/// Raw contents on local disk under `dir/raw`, for reading only: the folder is not created.
pub fn local_read_only(dir: &Path) -> ServiceResult<Arc<dyn ObjectStore>> {
    let raw_dir = dir.join("raw");
    let store = LocalFileSystem::new_with_prefix(&raw_dir).map_err(|e| ServiceError::unavailable(format!("cannot open {}: {e}", raw_dir.display())))?;
    Ok(Arc::new(store))
}

/// Raw contents in an S3 bucket; `lookup` reads the AWS variables.
pub fn s3(bucket: &str, lookup: impl Fn(&str) -> Option<String>) -> ServiceResult<Arc<dyn ObjectStore>> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into()))
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false);
    if let Some(endpoint) = get("AWS_ENDPOINT_URL").or_else(|| get("AWS_ENDPOINT")) {
        builder = builder.with_endpoint(endpoint);
    }
    if let (Some(key), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        builder = builder.with_access_key_id(key).with_secret_access_key(secret);
    }
    let store = builder.build().map_err(|e| ServiceError::invalid(format!("BYTES_S3_BUCKET={bucket}: {e}")).with_field("BYTES_S3_BUCKET"))?;
    Ok(Arc::new(store))
}

/// The store the environment asks for: S3 when `BYTES_S3_BUCKET` is set, else the local directory.
pub fn from_env(dir: &Path, lookup: impl Fn(&str) -> Option<String>) -> ServiceResult<Arc<dyn ObjectStore>> {
    match lookup("BYTES_S3_BUCKET").filter(|b| !b.trim().is_empty()) {
        Some(bucket) => s3(bucket.trim(), lookup),
        None => local(dir),
    }
}
