//! Running one of the workspace's command-line binaries in a test, the way a
//! user runs it: on a data directory of the test's own (`KAT_DATA_DIR`),
//! with the environment variables the test adds, waiting for it to end.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// Run `program` (`env!("CARGO_BIN_EXE_kat")`) with `args` on `data`: whether it succeeded, its standard output
/// and its standard error.
pub fn run<K: AsRef<OsStr>, V: AsRef<OsStr>>(program: &str, data: &Path, env: &[(K, V)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .env("KAT_DATA_DIR", data)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("{program} did not start: {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}
