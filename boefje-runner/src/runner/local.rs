//! Local executable boefjes: a plugin folder whose `boefje.json` has a `run`
//! command line (DESIGN.md section 5).
//!
//! The program starts with exactly the job environment (the settings as
//! `env_rules::build_job_env` made them), `BOEFJE_META` (the boefje meta as
//! JSON, input object included) and a fixed `PATH`; nothing of the runner's
//! own environment. Its working directory is the plugin folder, a first `run`
//! element with a `/` is relative to it, and its standard input is closed.
//! Standard output is the raw output, standard error the job log.
//!
//! A plugin with `"protocol": "boefje-api"` speaks OpenKAT's container
//! protocol instead ([`super::api`]): it gets the same environment and limits,
//! plus its input URL as the last argument, and its standard output and
//! standard error both go, interleaved as written, into one pipe that is the
//! job log. (The URL holds the run's token; like a container's arguments it is
//! visible in the process list of the machine while the run lasts.)
//!
//! Limits: the run's process group (the program and everything it starts) is
//! killed when the run takes longer than the manifest's `timeout` or else
//! `BOEFJES_JOB_TIMEOUT`, when its output grows past `BOEFJES_MAX_OUTPUT`, and
//! in any case once the program has ended, so nothing it started outlives
//! it. `BOEFJES_MEMORY_LIMIT` caps its address space through util-linux
//! `prlimit` (the crate forbids the `unsafe` a `setrlimit` before `exec` would
//! need). Each run's group is also registered with the process's orphan
//! guard ([`super::guard`]), which kills it if the runner dies outright.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kat_core::builtin::JobEnv;
use kat_core::config::{number, ConfigError};
use kat_core::plugin::{BoefjeManifest, Protocol, SettingsSchema};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::oneshot;

/// Seconds a run may take unless its manifest says otherwise.
pub const ENV_JOB_TIMEOUT: &str = "BOEFJES_JOB_TIMEOUT";
/// The most bytes of output (and of job log) a run may write.
pub const ENV_MAX_OUTPUT: &str = "BOEFJES_MAX_OUTPUT";
/// The address-space cap of a run in bytes (0 or unset: none).
pub const ENV_MEMORY_LIMIT: &str = "BOEFJES_MEMORY_LIMIT";
/// The variable that carries the boefje meta.
pub const META_VARIABLE: &str = "BOEFJE_META";
/// The `PATH` every local run gets.
pub const JOB_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;
const MAX_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;
const DEFAULT_MAX_OUTPUT: u64 = 64 << 20;
const MAX_MAX_OUTPUT: u64 = 1 << 30;
const MIN_MEMORY_LIMIT: u64 = 1 << 20;
/// util-linux `prlimit`, which sets the memory cap and then runs the plugin.
const PRLIMIT: &str = "/usr/bin/prlimit";
/// How long the output is still read after the process group was killed (a process that left the
/// group may hold the pipes open).
const READ_GRACE: Duration = Duration::from_secs(2);

/// A boefje that runs as a program from its plugin folder.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalPlugin {
    /// Its `boefje.json` (with `run`).
    pub manifest: BoefjeManifest,
    /// Its `schema.json`, if it takes settings.
    pub schema: Option<SettingsSchema>,
    /// The folder it was loaded from.
    pub folder: PathBuf,
}

/// The limits of local runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalLimits {
    /// How long a run may take unless its manifest has a `timeout`.
    pub job_timeout: Duration,
    /// The most bytes of output a run may write; more fails the run (the job log is cut there too).
    pub max_output: usize,
    /// The address-space cap in bytes, if any.
    pub memory_limit: Option<u64>,
}

impl Default for LocalLimits {
    fn default() -> Self {
        LocalLimits { job_timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECONDS), max_output: DEFAULT_MAX_OUTPUT as usize, memory_limit: None }
    }
}

impl LocalLimits {
    /// Read `BOEFJES_JOB_TIMEOUT` (seconds, 1 to a week, default 3600), `BOEFJES_MAX_OUTPUT` (bytes, 1 to
    /// 1 GiB, default 64 MiB) and `BOEFJES_MEMORY_LIMIT` (bytes, 0 for none, else at least 1 MiB).
    pub fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<LocalLimits, ConfigError> {
        let seconds = number(lookup, ENV_JOB_TIMEOUT, DEFAULT_TIMEOUT_SECONDS, 1, MAX_TIMEOUT_SECONDS)?;
        let max_output = number(lookup, ENV_MAX_OUTPUT, DEFAULT_MAX_OUTPUT, 1, MAX_MAX_OUTPUT)?;
        let memory = number(lookup, ENV_MEMORY_LIMIT, 0u64, 0, u64::MAX)?;
        if memory > 0 && memory < MIN_MEMORY_LIMIT {
            return Err(ConfigError(format!("{ENV_MEMORY_LIMIT}={memory} is too small: use 0 (no limit) or at least {MIN_MEMORY_LIMIT} bytes")));
        }
        let max_output = usize::try_from(max_output).map_err(|_| ConfigError(format!("{ENV_MAX_OUTPUT}={max_output} does not fit this machine")))?;
        Ok(LocalLimits { job_timeout: Duration::from_secs(seconds), max_output, memory_limit: (memory > 0).then_some(memory) })
    }
}

/// What a local run gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRun {
    /// Its standard output (cut at the output limit).
    pub stdout: Vec<u8>,
    /// Its standard error, the job log (cut at the output limit).
    pub stderr: Vec<u8>,
    /// Why the run failed, if it did (timeout, too much output, an exit status other than 0).
    pub failure: Option<String>,
    /// Notes of the runner for the job log (what was cut or left unread).
    pub notes: Vec<String>,
}

/// How the wait for a run ended.
enum Ended {
    Exited(std::io::Result<ExitStatus>),
    TimedOut(Duration),
    TooMuchOutput,
}

type Buffer = Arc<Mutex<Vec<u8>>>;

/// Run `plugin` with the job environment `env` and the boefje meta `meta_json`; a `boefje-api` plugin also
/// gets `input_url` as its last argument. An `Err` is a run that could not start (no command, a protocol
/// without its input URL, a missing program); its message holds no value and no URL.
pub async fn run(plugin: &LocalPlugin, env: &JobEnv, meta_json: &str, limits: &LocalLimits, input_url: Option<&str>) -> Result<LocalRun, String> {
    let (mut command, merged) = command(plugin, env, meta_json, limits, input_url)?;
    let spawned = command.spawn();
    // The command holds the write end of a merged log pipe: let it go, so the log ends when the plugin's end.
    drop(command);
    let mut child = spawned.map_err(|e| format!("cannot start {}: {e}", program_name(plugin)))?;
    let group = child.id().ok_or("the plugin ended before it could be watched")?;
    super::guard::watch(group);
    let (out_buffer, log_buffer) = (Buffer::default(), Buffer::default());
    let (full_tx, full_rx) = oneshot::channel();
    let readers = match merged {
        None => match (child.stdout.take(), child.stderr.take()) {
            (Some(stdout), Some(stderr)) => Ok((
                tokio::spawn(read_capped(stdout, out_buffer.clone(), limits.max_output, Some(full_tx))),
                tokio::spawn(read_capped(stderr, log_buffer.clone(), limits.max_output, None)),
            )),
            _ => Err("the plugin's output pipes were not opened".to_string()),
        },
        // One pipe for both streams: it is the job log, cut (not stopped) at the limit.
        Some(reader) => match tokio::net::unix::pipe::Receiver::from_owned_fd(reader) {
            Ok(pipe) => Ok((tokio::spawn(async { false }), tokio::spawn(read_capped(pipe, log_buffer.clone(), limits.max_output, None)))),
            Err(e) => Err(format!("cannot read the plugin's output pipe: {e}")),
        },
    };
    let (mut out_reader, mut log_reader) = match readers {
        Ok(readers) => readers,
        Err(e) => {
            kill_group(group);
            return Err(e);
        }
    };
    let timeout = plugin.manifest.timeout.map_or(limits.job_timeout, Duration::from_secs);
    let ended = tokio::select! {
        status = child.wait() => Ended::Exited(status),
        () = tokio::time::sleep(timeout) => Ended::TimedOut(timeout),
        Ok(()) = full_rx => Ended::TooMuchOutput,
    };
    // Whatever ended the wait, nothing the plugin started may outlive it.
    kill_group(group);
    let (status, stopped) = match ended {
        Ended::Exited(status) => (status, None),
        Ended::TimedOut(after) => (child.wait().await, Some(format!("timed out after {} s; its process group was killed", after.as_secs()))),
        Ended::TooMuchOutput => (child.wait().await, Some(too_much(limits))),
    };
    let mut notes = Vec::new();
    let out_cut = finish(&mut out_reader, "output", &mut notes).await;
    if finish(&mut log_reader, "job log", &mut notes).await {
        notes.push(format!("the job log was cut at {ENV_MAX_OUTPUT} ({} bytes)", limits.max_output));
    }
    let failure = match (stopped, status) {
        (Some(why), _) => Some(why),
        (None, _) if out_cut => Some(too_much(limits)),
        (None, Ok(status)) if status.success() => None,
        (None, Ok(status)) => Some(describe(status)),
        (None, Err(e)) => Some(format!("its exit status could not be read: {e}")),
    };
    Ok(LocalRun { stdout: take(&out_buffer), stderr: take(&log_buffer), failure, notes })
}

/// The command line, environment and limits of a run; for `boefje-api`, also the read end of the pipe that
/// is both its standard output and standard error.
fn command(plugin: &LocalPlugin, env: &JobEnv, meta_json: &str, limits: &LocalLimits, input_url: Option<&str>) -> Result<(Command, Option<OwnedFd>), String> {
    let input_url = match (plugin.manifest.protocol, input_url) {
        (Protocol::Stdout, _) => None,
        (Protocol::BoefjeApi, Some(url)) => Some(url),
        (Protocol::BoefjeApi, None) => return Err("protocol \"boefje-api\" needs the runner's boefje API, which was not started".into()),
    };
    let Some((first, args)) = plugin.manifest.run.split_first() else {
        return Err("boefje.json has no \"run\" command".into());
    };
    if env.contains_key(META_VARIABLE) {
        return Err(format!("setting {META_VARIABLE}: the name is reserved for the runner"));
    }
    let folder = std::fs::canonicalize(&plugin.folder).map_err(|e| format!("plugin folder {}: {e}", plugin.folder.display()))?;
    let program = resolve(&folder, first);
    let mut command = match limits.memory_limit {
        Some(bytes) => {
            let mut c = Command::new(PRLIMIT);
            c.arg(format!("--as={bytes}")).arg("--").arg(&program);
            c
        }
        None => Command::new(&program),
    };
    command
        .args(args)
        .current_dir(&folder)
        .env_clear()
        .envs(env.iter().map(|(key, value)| (key.as_str(), value.expose().as_str())))
        .env(META_VARIABLE, meta_json)
        .env("PATH", JOB_PATH)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let merged = match input_url {
        None => {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            None
        }
        Some(url) => {
            let (reader, writer) = std::io::pipe().map_err(|e| format!("cannot open a pipe for the job log: {e}"))?;
            let second = writer.try_clone().map_err(|e| format!("cannot open a pipe for the job log: {e}"))?;
            command.arg(url).stdout(second).stderr(writer);
            Some(OwnedFd::from(reader))
        }
    };
    Ok((command, merged))
}

/// The program to start: a name with a `/` that is not absolute is relative to the plugin folder; a bare
/// name is looked up in the job's `PATH`.
fn resolve(folder: &Path, first: &str) -> PathBuf {
    let path = Path::new(first);
    if first.contains('/') && !path.is_absolute() { folder.join(path) } else { path.to_path_buf() }
}

/// The program as the manifest names it, for messages.
fn program_name(plugin: &LocalPlugin) -> String {
    plugin.manifest.run.first().map_or_else(String::new, |p| format!("{p:?}"))
}

fn too_much(limits: &LocalLimits) -> String {
    format!("its output exceeded {ENV_MAX_OUTPUT} ({} bytes) and was cut there", limits.max_output)
}

/// An exit status in words.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended abnormally".into(),
    }
}

/// Read `pipe` into `buffer` up to `cap` bytes; returns whether more came. With `full`, stop reading
/// (and say so through `full`) when the cap is passed; without, read on to the end and drop the rest, so
/// the writer is never blocked.
async fn read_capped(mut pipe: impl AsyncRead + Unpin, buffer: Buffer, cap: usize, mut full: Option<oneshot::Sender<()>>) -> bool {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut cut = false;
    loop {
        let n = match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return cut,
            Ok(n) => n,
        };
        let mut kept = buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
        if n > room {
            cut = true;
            if let Some(full) = full.take() {
                let _ = full.send(());
                return cut;
            }
        }
    }
}

/// Wait a little for a reader to reach the end of its pipe; a pipe still held open by a process that left
/// the group is abandoned with a note. Returns whether the reader cut its output.
async fn finish(reader: &mut tokio::task::JoinHandle<bool>, what: &str, notes: &mut Vec<String>) -> bool {
    match tokio::time::timeout(READ_GRACE, &mut *reader).await {
        Ok(Ok(cut)) => cut,
        Ok(Err(_)) => false,
        Err(_) => {
            reader.abort();
            notes.push(format!("the {what} was still held open by a process outside the run's process group; the rest was not read"));
            false
        }
    }
}

fn take(buffer: &Buffer) -> Vec<u8> {
    std::mem::take(&mut *buffer.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Kill every process of the group `group` (a group that is gone already is fine), which ends the run: the
/// orphan guard forgets it.
fn kill_group(group: u32) {
    end_group(group);
    super::guard::forget(group);
}

fn end_group(group: u32) {
    let Some(pid) = i32::try_from(group).ok().and_then(rustix::process::Pid::from_raw) else {
        tracing::error!(group, "not a process group id");
        return;
    };
    match rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => tracing::error!(group, "cannot end a boefje's process group: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kat_core::config::from_pairs;

    #[test]
    fn limits_come_from_the_variables() {
        assert_eq!(LocalLimits::from_vars(&from_pairs(&[])), Ok(LocalLimits::default()));
        let limits = LocalLimits::from_vars(&from_pairs(&[(ENV_JOB_TIMEOUT, "5"), (ENV_MAX_OUTPUT, "1000"), (ENV_MEMORY_LIMIT, "268435456")])).expect("limits");
        assert_eq!(limits, LocalLimits { job_timeout: Duration::from_secs(5), max_output: 1000, memory_limit: Some(268_435_456) });
        assert_eq!(LocalLimits::from_vars(&from_pairs(&[(ENV_MEMORY_LIMIT, "0")])).map(|l| l.memory_limit), Ok(None));
        for (name, bad) in [(ENV_JOB_TIMEOUT, "0"), (ENV_JOB_TIMEOUT, "soon"), (ENV_MAX_OUTPUT, "0"), (ENV_MEMORY_LIMIT, "4096"), (ENV_MEMORY_LIMIT, "-1")] {
            let e = LocalLimits::from_vars(&from_pairs(&[(name, bad)])).expect_err(bad);
            assert!(e.0.contains(name), "{name}={bad}: {e}");
        }
    }

    #[test]
    fn programs_resolve_against_the_folder() {
        let folder = Path::new("/plugins/x");
        assert_eq!(resolve(folder, "./main"), Path::new("/plugins/x/./main"));
        assert_eq!(resolve(folder, "bin/main"), Path::new("/plugins/x/bin/main"));
        assert_eq!(resolve(folder, "python3"), Path::new("python3"), "a bare name is looked up in the job's PATH");
        assert_eq!(resolve(folder, "/usr/bin/env"), Path::new("/usr/bin/env"));
    }
}
