//! `kat verify-raw RAW_ID | --all`: check stored raw files against their
//! `sha512:` hashes (decrypting them first when Bytes encrypts at rest) and
//! report every mismatch; the exit status is non-zero if any file fails.
//!
//! `--all` also reports stored contents that have no metadata (an orphan,
//! such as a kill between writing a file and its metadata leaves) as
//! `FAILED` lines, and refuses an empty metadata database beside a `raw/`
//! folder that holds files: that is lost metadata, not a fresh start.
//!
//! [`open_for_reading`] (shared with `show-raw`) opens the data directory
//! read-only, writing nothing, when the directory is not writable.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use clap::Args;
use kat_bytes::LocalBytes;

use super::data_dir::{block_on, DataDirArg};
use crate::embedded::bytes_crypto;

/// Arguments of `kat verify-raw`.
#[derive(Debug, Args)]
pub struct VerifyRawArgs {
    /// The raw file to check.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub raw_id: Option<String>,
    /// Check every stored raw file, and look for stored contents without metadata.
    #[arg(long)]
    pub all: bool,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Whether kat may write in `dir`: false when the directory (or its `bytes.sqlite`) has no write permission.
fn writable(dir: &Path) -> bool {
    let allows_writes = |path: &Path| std::fs::metadata(path).map_or(true, |m| !m.permissions().readonly());
    allows_writes(dir) && allows_writes(&dir.join("bytes.sqlite"))
}

/// Open the data directory's Bytes to read from it: as usual when the directory is writable, else
/// read-only (no migrations, no write-ahead log, nothing created).
pub async fn open_for_reading(dir: &Path) -> anyhow::Result<LocalBytes> {
    let crypto = bytes_crypto()?;
    if writable(dir) {
        return Ok(LocalBytes::open_with(dir, crypto).await?);
    }
    LocalBytes::open_read_only(dir, crypto).await.with_context(|| format!("{} is read-only, so it was opened read-only", dir.display()))
}

/// Verify and print `ok ID` or `FAILED ID: reason` per file (and `FAILED PATH: ...` per orphan with `--all`).
pub fn run(args: &VerifyRawArgs, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        let dir = &args.data.data_dir;
        let bytes = open_for_reading(dir).await?;
        let (ids, orphans) = match &args.raw_id {
            Some(id) => (vec![uuid::Uuid::parse_str(id.trim()).with_context(|| format!("{id:?} is not a raw file id (a UUID)"))?], Vec::new()),
            None => (bytes.all_raw().await?.into_iter().map(|m| m.id).collect(), bytes.orphans().await?),
        };
        if args.all && ids.is_empty() && !orphans.is_empty() {
            bail!(
                "the metadata database {} lists no raw files, but raw/ holds {} stored file(s): the metadata was lost or replaced; restore bytes.sqlite from a backup (this is not a fresh start)",
                dir.join("bytes.sqlite").display(),
                orphans.len()
            );
        }
        let mut failed = 0;
        for id in &ids {
            match bytes.verify(*id).await {
                Ok(()) => writeln!(out, "ok {id}")?,
                Err(e) => {
                    failed += 1;
                    writeln!(out, "FAILED {id}: {e}")?;
                }
            }
        }
        for orphan in &orphans {
            failed += 1;
            writeln!(out, "FAILED {orphan}: stored contents without metadata (an interrupted save?)")?;
        }
        if failed > 0 {
            bail!("{failed} of {} raw file(s) failed verification", ids.len() + orphans.len());
        }
        Ok(())
    })
}
