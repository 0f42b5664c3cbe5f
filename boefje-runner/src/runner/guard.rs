//! The orphan guard: nothing a local plugin starts outlives a runner that is
//! killed outright (SIGKILL, OOM killer), which cannot clean up itself.
//!
//! On the first local run the process starts one guard: a small `/bin/sh`
//! loop in its own process group (so a terminal's Ctrl-C does not reach it),
//! whose standard input is a pipe from the runner. The runner writes
//! `+ GROUP` when a run's process group starts and `- GROUP` when it has
//! been killed at the run's end. The kernel closes the pipe when the runner
//! process dies, however it dies; the guard then reads the end of its input
//! and kills every group still registered. While the runner lives, the guard
//! costs nothing per run but two short pipe writes (no extra process per
//! run). (The crate forbids `unsafe`, so the runner cannot set a
//! parent-death signal on its children itself.)

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The guard's loop: keep the registered groups as a space-separated list; at the end of input, kill them.
const GUARD: &str = r#"groups=" "
while read -r op group; do
  case "$op" in
    +) groups="$groups$group " ;;
    -) case "$groups" in *" $group "*) groups="${groups%% $group *} ${groups#* $group }" ;; esac ;;
  esac
done
for group in $groups; do kill -KILL -"$group" 2>/dev/null; done
exit 0
"#;

/// The pipe to this process's guard; `None` when it could not be started (logged once).
static GUARD_INPUT: OnceLock<Option<Mutex<ChildStdin>>> = OnceLock::new();

fn input() -> Option<&'static Mutex<ChildStdin>> {
    GUARD_INPUT
        .get_or_init(|| {
            let started = Command::new("/bin/sh").args(["-c", GUARD]).env_clear().env("PATH", super::local::JOB_PATH).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0).spawn();
            match started {
                // The guard runs until this process ends; its handle is not waited for.
                Ok(mut child) => child.stdin.take().map(Mutex::new),
                Err(e) => {
                    tracing::error!("cannot start the orphan guard (/bin/sh): plugins of a runner killed outright may outlive it: {e}");
                    None
                }
            }
        })
        .as_ref()
}

fn send(line: &str) {
    let Some(input) = input() else { return };
    let mut input = input.lock().unwrap_or_else(PoisonError::into_inner);
    if let Err(e) = input.write_all(line.as_bytes()) {
        tracing::warn!("the orphan guard is gone ({e}); plugins of a runner killed outright may outlive it");
    }
}

/// A run's process group has started.
pub fn watch(group: u32) {
    send(&format!("+ {group}\n"));
}

/// A run's process group has been killed and may be forgotten.
pub fn forget(group: u32) {
    send(&format!("- {group}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard script on its own: of the groups registered and not forgotten, it kills exactly those.
    #[test]
    fn the_guard_kills_what_is_registered_at_the_end_of_its_input() {
        // Two sleeping process groups, and the guard fed by this test.
        let spawn_group = || Command::new("sleep").arg("30").process_group(0).spawn().expect("sleep");
        let (mut kept, mut killed) = (spawn_group(), spawn_group());
        let mut guard = Command::new("/bin/sh").args(["-c", GUARD]).stdin(Stdio::piped()).spawn().expect("guard");
        let mut stdin = guard.stdin.take().expect("stdin");
        write!(stdin, "+ {}\n+ {}\n+ 999999\n- {}\n", killed.id(), kept.id(), kept.id()).expect("write");
        drop(stdin);
        assert!(guard.wait().expect("guard ends").success());
        assert!(killed.wait().expect("reaped").code().is_none(), "the registered group was killed");
        assert_eq!(kept.try_wait().expect("status"), None, "a forgotten group is left alone");
        kept.kill().expect("kill");
        kept.wait().expect("reaped");
    }
}
