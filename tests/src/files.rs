//! Files under a directory, for tests that prove a secret reached no stored file.

use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively (unreadable entries are skipped).
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(all_files(&path)) } else { files.push(path) }
    }
    files
}
