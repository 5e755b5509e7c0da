//! Checks a script before it is accepted: a throwaway `jobvisor-worker --check` parses it,
//! evaluates the module and looks for a default-export function, under a memory limit, a
//! timeout and the worker's system-call sandbox. The daemon never parses JavaScript itself.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::pool::spawn::limit_worker_files_and_dumps;

/// How long a check may take (top-level code of the module runs).
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// Data-segment budget of the checking process.
const CHECK_MEMORY: u64 = 256 * 1024 * 1024;

/// `Ok` when the script is usable, else what is wrong with it.
pub async fn check_script(worker: &Path, name: &str, source: &str) -> Result<(), String> {
    let mut command = tokio::process::Command::new(worker);
    command
        .arg("--check")
        .arg(name)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let limit = libc::rlimit {
        rlim_cur: CHECK_MEMORY + 512 * 1024 * 1024,
        rlim_max: CHECK_MEMORY + 512 * 1024 * 1024,
    };
    // SAFETY: setrlimit is async-signal-safe and `limit` is a plain value copied in.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // It runs the script's top-level code: the same file and core limits as a worker.
            limit_worker_files_and_dumps()
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {} to check it: {e}", worker.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin for the checker")?;
    let mut stdout = child.stdout.take().ok_or("no stdout for the checker")?;
    let run = async {
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
        let status = child
            .wait()
            .await
            .map_err(|e| format!("waiting for the checker: {e}"))?;
        Ok::<_, String>((status, out))
    };
    let (status, out) = tokio::time::timeout(CHECK_TIMEOUT, run)
        .await
        .map_err(|_| {
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
