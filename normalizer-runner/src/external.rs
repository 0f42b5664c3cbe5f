//! External normalizers: a plugin folder (under `KATALOGUS_PLUGIN_DIR`) whose
//! `normalizer.json` has a `run` command (argv; a program name with a `/` is
//! relative to the folder). The runner starts it in a process group of its
//! own, with an empty environment but `NORMALIZER_META` (the normalizer meta
//! as JSON: the raw file, its boefje run and input object) and `PATH`,
//! writes the raw file to its standard input and reads JSON lines from its
//! standard output:
//!
//! - an object in OpenKAT's JSON (`object_type` and its fields): observed on
//!   the boefje's input object;
//! - `{"declaration": OBJECT}`: an object the normalizer declares (it stays
//!   until the normalizer no longer declares it);
//! - `{"raw_file": {"content": TEXT or "content_base64": BASE64, "mime_types":
//!   [...], "dispatch_to": [normalizer ids], "should_scan": true}}`: a derived
//!   raw file, stored in Bytes and normalized in turn (`kat_core::derived`);
//! - empty lines are skipped.
//!
//! The run is bounded by the manifest's `timeout` (default
//! `NORMALIZERS_JOB_TIMEOUT`, 300 s) and its output by
//! `NORMALIZERS_MAX_OUTPUT` (64 MiB); the process group is killed when it
//! ends either way. Every line is validated (known object type, natural-key
//! fields present, references well formed, a `primary_key` if given equal to
//! the one its fields make) before anything is saved: the first bad line
//! fails the whole run, naming its line number and object.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kat_core::config::{number, ConfigError};
use kat_core::plugin::NormalizerManifest;
use kat_core::Ooi;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// The variable that carries the normalizer meta.
pub const META_VARIABLE: &str = "NORMALIZER_META";
/// How long a run may take unless its manifest says (`NORMALIZERS_JOB_TIMEOUT`, seconds).
pub const ENV_JOB_TIMEOUT: &str = "NORMALIZERS_JOB_TIMEOUT";
/// The most standard output a run may write (`NORMALIZERS_MAX_OUTPUT`, bytes).
pub const ENV_MAX_OUTPUT: &str = "NORMALIZERS_MAX_OUTPUT";
const JOB_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// How much of the standard error is kept for the error message.
const MAX_LOG: usize = 4096;

/// A plugin folder's normalizer with a `run` command.
#[derive(Debug, Clone)]
pub struct ExternalNormalizer {
    /// Its `normalizer.json`.
    pub manifest: NormalizerManifest,
    /// The folder it was loaded from.
    pub folder: PathBuf,
}

/// The limits of external runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalLimits {
    /// How long a run may take unless its manifest has a `timeout`.
    pub timeout: Duration,
    /// The most bytes of standard output a run may write.
    pub max_output: usize,
    /// How many derivations deep a derived raw file may be (`KAT_MAX_DERIVE_DEPTH`).
    pub max_derive_depth: u32,
}

impl Default for ExternalLimits {
    fn default() -> Self {
        ExternalLimits { timeout: Duration::from_secs(300), max_output: 64 << 20, max_derive_depth: kat_core::derived::DEFAULT_MAX_DEPTH }
    }
}

impl ExternalLimits {
    /// Read `NORMALIZERS_JOB_TIMEOUT` (seconds, 1 to 86400), `NORMALIZERS_MAX_OUTPUT` (bytes, 1 to 1 GiB) and
    /// `KAT_MAX_DERIVE_DEPTH` (0 to 16, default 3).
    pub fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<ExternalLimits, ConfigError> {
        let defaults = ExternalLimits::default();
        let seconds = number(lookup, ENV_JOB_TIMEOUT, defaults.timeout.as_secs(), 1, 86_400)?;
        let max_output = number(lookup, ENV_MAX_OUTPUT, defaults.max_output, 1, 1 << 30)?;
        let max_derive_depth = number(lookup, kat_core::derived::ENV_MAX_DEPTH, defaults.max_derive_depth, 0, 16)?;
        Ok(ExternalLimits { timeout: Duration::from_secs(seconds), max_output, max_derive_depth })
    }
}

/// What an external normalizer gave.
#[derive(Debug, Default, PartialEq)]
pub struct Output {
    /// Objects observed on the input object.
    pub observed: Vec<Ooi>,
    /// Objects the normalizer declares.
    pub declared: Vec<Ooi>,
    /// Raw files it derived.
    pub derived: Vec<DerivedRaw>,
}

/// A raw file a normalizer derived from the one it read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedRaw {
    /// Its contents as text.
    #[serde(default)]
    pub content: Option<String>,
    /// Its contents in base64, for bytes that are not text.
    #[serde(default)]
    pub content_base64: Option<String>,
    /// Its mime types, which choose the normalizers that read it.
    pub mime_types: Vec<String>,
    /// Only these normalizers read it (default: every one that consumes one of its mime types).
    #[serde(default)]
    pub dispatch_to: Vec<String>,
    /// False: store it, but no normalizer reads it.
    #[serde(default = "yes")]
    pub should_scan: bool,
}

fn yes() -> bool {
    true
}

impl DerivedRaw {
    /// Its contents.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        match (&self.content, &self.content_base64) {
            (Some(text), None) => Ok(text.clone().into_bytes()),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| format!("content_base64 is not base64: {e}")),
            _ => Err("give exactly one of content and content_base64".into()),
        }
    }
}

/// Run `normalizer` on `raw` with the normalizer meta `meta_json`; an `Err` says why it failed.
pub async fn run(normalizer: &ExternalNormalizer, raw: &[u8], meta_json: &str, limits: &ExternalLimits) -> Result<Output, String> {
    let (first, args) = normalizer.manifest.run.split_first().ok_or("normalizer.json has no \"run\" command")?;
    let folder = std::fs::canonicalize(&normalizer.folder).map_err(|e| format!("plugin folder {}: {e}", normalizer.folder.display()))?;
    let mut child = Command::new(resolve(&folder, first))
        .args(args)
        .current_dir(&folder)
        .env_clear()
        .env(META_VARIABLE, meta_json)
        .env("PATH", JOB_PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {first:?}: {e}"))?;
    let group = child.id();
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let raw = raw.to_vec();
    let feed = tokio::spawn(async move {
        if let Some(mut stdin) = stdin {
            // A normalizer that stops reading early is its own business: a broken pipe is not an error.
            let _ = stdin.write_all(&raw).await;
        }
    });
    let timeout = normalizer.manifest.timeout.map_or(limits.timeout, Duration::from_secs);
    let work = async {
        let (out, log) = tokio::join!(read_capped(stdout, limits.max_output + 1), read_capped(stderr, MAX_LOG));
        (out, log, child.wait().await)
    };
    let ended = tokio::time::timeout(timeout, work).await;
    if let Some(group) = group {
        end_group(group);
    }
    feed.abort();
    let (out, log, status) = ended.map_err(|_| format!("timed out after {} s; its process group was killed", timeout.as_secs()))?;
    if out.len() > limits.max_output {
        return Err(format!("its output exceeded {ENV_MAX_OUTPUT} ({} bytes)", limits.max_output));
    }
    let status = status.map_err(|e| format!("its exit status could not be read: {e}"))?;
    if !status.success() {
        let log = String::from_utf8_lossy(&log);
        let last = log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("{status}{}", if last.is_empty() { String::new() } else { format!(": {last}") }));
    }
    parse(&out)
}

/// Read the JSON lines of a run's output, validating every object.
pub fn parse(output: &[u8]) -> Result<Output, String> {
    let text = std::str::from_utf8(output).map_err(|e| format!("its output is not UTF-8: {e}"))?;
    let mut out = Output::default();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        let shown = shorten(line);
        let value: Value = serde_json::from_str(line).map_err(|e| format!("output line {number} is not JSON ({e}): {shown}"))?;
        if let Some(raw) = value.get("raw_file") {
            let raw: DerivedRaw = serde_json::from_value(raw.clone()).map_err(|e| format!("output line {number} is not a valid raw_file ({e}): {shown}"))?;
            raw.bytes().map_err(|e| format!("output line {number}: {e}: {shown}"))?;
            if raw.mime_types.iter().any(|m| m.starts_with("kat/")) {
                return Err(format!("output line {number}: mime types starting with kat/ are the runner's: {shown}"));
            }
            out.derived.push(raw);
            continue;
        }
        let (object, declared) = match value.get("declaration") {
            Some(object) => (object, true),
            None => (&value, false),
        };
        let ooi = Ooi::from_json(object).map_err(|e| format!("output line {number} is not a valid object ({e}): {shown}"))?;
        if let Some(given) = object.get("primary_key").and_then(Value::as_str)
            && given != ooi.reference().as_str()
        {
            return Err(format!("output line {number}: primary_key {given:?} is not the key its fields make ({}): {shown}", ooi.reference()));
        }
        if declared { out.declared.push(ooi) } else { out.observed.push(ooi) }
    }
    Ok(out)
}

/// At most 200 characters of a line, for messages.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

/// The program to start: a name with a `/` that is not absolute is relative to the plugin folder.
fn resolve(folder: &Path, first: &str) -> PathBuf {
    let path = Path::new(first);
    if first.contains('/') && !path.is_absolute() { folder.join(path) } else { path.to_path_buf() }
}

/// Read up to `limit` bytes; the rest is drained and dropped so the writer never blocks.
async fn read_capped(reader: Option<impl AsyncRead + Unpin>, limit: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut reader) = reader else { return kept };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

/// Kill what is left of the run's process group.
fn end_group(group: u32) {
    let Some(pid) = i32::try_from(group).ok().and_then(rustix::process::Pid::from_raw) else { return };
    match rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => tracing::error!(group, "cannot end a normalizer's process group: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn lines_are_objects_or_declarations_and_the_first_bad_one_is_named() {
        let good = b"{\"object_type\": \"Hostname\", \"network\": \"Network|internet\", \"name\": \"a.test\"}\n\n{\"declaration\": {\"object_type\": \"Network\", \"name\": \"internet\"}}\n";
        let out = parse(good).expect("valid");
        assert_eq!(out.observed.len(), 1);
        assert_eq!(out.declared[0].reference().as_str(), "Network|internet");
        let bad = b"{\"object_type\": \"Hostname\", \"network\": \"Network|internet\", \"name\": \"a.test\"}\n{\"object_type\": \"Hostname\", \"network\": \"Network|internet\"}\n";
        let err = parse(bad).expect_err("missing name");
        assert!(err.starts_with("output line 2 is not a valid object") && err.contains("name"), "{err}");
        assert!(parse(b"{\"object_type\": \"Nope\"}").expect_err("unknown type").contains("Nope"));
        assert!(parse(b"not json").expect_err("not JSON").starts_with("output line 1 is not JSON"));
        let wrong_key = b"{\"object_type\": \"Network\", \"name\": \"internet\", \"primary_key\": \"Network|other\"}";
        assert!(parse(wrong_key).expect_err("key mismatch").contains("is not the key its fields make (Network|internet)"));
        assert!(parse(&[0xff, 0xfe]).expect_err("binary").contains("not UTF-8"));
        let derived = parse(br#"{"raw_file": {"content_base64": "aGk=", "mime_types": ["text/plain"], "should_scan": false}}"#).expect("derived");
        assert_eq!((derived.derived[0].bytes(), derived.derived[0].should_scan), (Ok(b"hi".to_vec()), false));
        assert!(parse(br#"{"raw_file": {"content": "x", "content_base64": "eA==", "mime_types": []}}"#).expect_err("both").contains("exactly one"));
        assert!(parse(br#"{"raw_file": {"content": "x", "mime_types": ["kat/no-dispatch"]}}"#).expect_err("marker").contains("are the runner's"));
    }
}
