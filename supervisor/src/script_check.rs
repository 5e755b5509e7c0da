//! Checks a script before it is accepted: a throwaway `jobvisor-worker --check` parses it,
//! evaluates the module and looks for a default-export function. The daemon never parses
//! JavaScript itself.
//!
//! The checker runs the script's top-level code, so it is confined like a worker: forked
//! from the spawner thread (PDEATHSIG: it dies with the daemon, even a SIGKILLed one), in
//! a cgroup of its own below the daemon's instance (removed after the check, and with the
//! instance's other leftovers when a daemon starts), under a memory limit, the worker's
//! file and core limits and its system-call sandbox, and within a deadline.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::warn;

use crate::cgroup::{GroupLimits, Limiter, WorkerGroup};
use crate::pool::launch::{Confinement, WORKER_MAX_PIDS, WorkerLauncher};
use crate::pool::process::WorkerProcess;
use crate::reaper::WorkerPids;

/// How long a check may take (top-level code of the module runs).
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// Memory budget of the checking process (its cgroup's limit, where there is one).
const CHECK_MEMORY: u64 = 256 * 1024 * 1024;
/// Its data-segment ceiling: the budget plus room for the engine's thread stack.
const CHECK_DATA_CEILING: u64 = CHECK_MEMORY + 512 * 1024 * 1024;

/// Starts script checks. Cheap to clone.
#[derive(Clone)]
pub struct ScriptChecker {
    program: PathBuf,
    launcher: Arc<dyn WorkerLauncher>,
    limiter: Limiter,
    /// The daemon's cgroup directory; each check gets a group below it.
    instance: String,
    pids: WorkerPids,
    next: Arc<AtomicU64>,
}

impl std::fmt::Debug for ScriptChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptChecker")
            .field("program", &self.program)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl ScriptChecker {
    pub fn new(
        program: PathBuf,
        launcher: Arc<dyn WorkerLauncher>,
        limiter: Limiter,
        instance: String,
        pids: WorkerPids,
    ) -> ScriptChecker {
        ScriptChecker {
            program,
            launcher,
            limiter,
            instance,
            pids,
            next: Arc::new(AtomicU64::new(0)),
        }
    }

    /// `Ok` when the script is usable, else what is wrong with it. Its top-level code
    /// runs with the node compatibility globals if `node_compat`, as its jobs will.
    pub async fn check(&self, name: &str, source: &str, node_compat: bool) -> Result<(), String> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let group = self
            .limiter
            .create_group(
                &format!("{}/check{number}", self.instance),
                GroupLimits {
                    memory_bytes: CHECK_MEMORY,
                    max_pids: WORKER_MAX_PIDS,
                },
            )
            .map_err(|e| format!("cannot create the checker's cgroup: {e}"))?;
        let group = Arc::new(group);
        let verdict = self.check_in(&group, name, source, node_compat).await;
        let _ = tokio::task::spawn_blocking(move || match Arc::try_unwrap(group) {
            Ok(group) => {
                if let Err(err) = group.remove() {
                    warn!(error = %err, "cannot remove the script checker's cgroup");
                }
            }
            Err(group) => {
                group.kill_all_blocking(Duration::from_secs(2));
            }
        })
        .await;
        verdict
    }

    async fn check_in(
        &self,
        group: &Arc<WorkerGroup>,
        name: &str,
        source: &str,
        node_compat: bool,
    ) -> Result<(), String> {
        let confinement =
            Confinement::checker(&self.program, name, node_compat, CHECK_DATA_CEILING);
        let mut child = self
            .launcher
            .launch(confinement, group.clone())
            .await
            .map_err(|e| format!("cannot start {} to check it: {e}", self.program.display()))?
            .child;
        let stdin = child.stdin.take().ok_or("no stdin for the checker")?;
        let stdout = child.stdout.take().ok_or("no stdout for the checker")?;
        let mut process = WorkerProcess::new(child, self.pids.clone());
        let run = async {
            let mut stdin = tokio::process::ChildStdin::from_std(stdin)
                .map_err(|e| format!("the checker's stdin: {e}"))?;
            let mut stdout = tokio::process::ChildStdout::from_std(stdout)
                .map_err(|e| format!("the checker's stdout: {e}"))?;
            stdin
                .write_all(source.as_bytes())
                .await
                .map_err(|e| format!("sending the script to the checker: {e}"))?;
            drop(stdin);
            let mut out = String::new();
            stdout
                .read_to_string(&mut out)
                .await
                .map_err(|e| format!("reading the checker: {e}"))?;
            let status = process
                .wait()
                .await
                .map_err(|e| format!("waiting for the checker: {e}"))?;
            Ok::<_, String>((status, out))
        };
        let finished = tokio::time::timeout(CHECK_TIMEOUT, run).await;
        if !matches!(finished, Ok(Ok(_))) {
            process.kill_and_reap(group, Duration::from_secs(2)).await;
        }
        let (status, out) = finished.map_err(|_| {
            format!(
                "checking took longer than {}s (does its top-level code loop?)",
                CHECK_TIMEOUT.as_secs()
            )
        })??;
        let verdict: serde_json::Value = serde_json::from_str(out.trim()).map_err(|_| {
            format!("the checker ended with {status} without a verdict (the script crashed it)")
        })?;
        if verdict["ok"] == true {
            return Ok(());
        }
        Err(format!(
            "{}: {}",
            verdict["name"].as_str().unwrap_or("Error"),
            verdict["message"].as_str().unwrap_or("invalid script")
        ))
    }
}
