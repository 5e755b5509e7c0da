//! What a pool worker is: its program and how its memory is limited ([`SpawnSpec`]),
//! where the program is found, and whether the kernel can sandbox it. Starting one is
//! `pool/launch.rs`'s.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Child;

use super::launch::{Confinement, launch};
use crate::cgroup::WorkerGroup;

pub use super::launch::WORKER_MAX_OPEN_FILES;

/// What to start.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub program: PathBuf,
    /// Passed as `--memory-limit` so the worker applies RLIMIT_DATA itself, for hosts
    /// without a memory cgroup.
    pub self_limit_bytes: Option<u64>,
}

/// A started worker: the process and the supervisor's end of its socket.
#[derive(Debug)]
pub struct SpawnedWorker {
    pub child: Child,
    pub socket: UnixStream,
}

/// Finds `jobvisor-worker`: `$JOBVISOR_WORKER`, else next to the running executable.
pub fn default_worker_program() -> PathBuf {
    if let Some(path) = std::env::var_os("JOBVISOR_WORKER") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("jobvisor-worker")))
        .unwrap_or_else(|| PathBuf::from("jobvisor-worker"))
}

/// Starts a worker in `group` from the calling thread (see `pool/launch.rs` for which
/// thread that may be).
pub fn spawn_worker(spec: &SpawnSpec, group: &WorkerGroup) -> io::Result<SpawnedWorker> {
    let launched = launch(&Confinement::worker(spec), group)?;
    let socket = launched
        .socket
        .ok_or_else(|| io::Error::other("a worker was launched without its socket"))?;
    Ok(SpawnedWorker {
        child: launched.child,
        socket,
    })
}

/// Whether this kernel can run workers in their system-call sandbox (seccomp filters with
/// the kill-process action, Linux 4.14+, on an architecture the worker has a filter for).
/// The worker decides for itself; this is for one warning when the daemon starts.
pub fn kernel_supports_worker_sandbox() -> bool {
    if !matches!(std::env::consts::ARCH, "x86_64" | "aarch64" | "riscv64") {
        return false;
    }
    let action: u32 = libc::SECCOMP_RET_KILL_PROCESS;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL only reads the u32 it is given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    rc == 0
}
