//! One running worker process: await its exit without blocking a thread (a pidfd in the
//! runtime), and kill it with everything it may have started.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, ExitStatus};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

use crate::cgroup::WorkerGroup;
use crate::reaper::WorkerPids;

/// A spawned worker, owned by its slot. It is reaped only through [`WorkerProcess::wait`],
/// so its pid cannot be reused while this value can still signal it.
#[derive(Debug)]
pub struct WorkerProcess {
    child: Child,
    exit: Option<AsyncFd<OwnedFd>>,
    status: Option<ExitStatus>,
    registry: WorkerPids,
}

impl WorkerProcess {
    /// Takes ownership of a spawned worker; the reaper leaves its pid alone until it is
    /// reaped here.
    pub fn new(child: Child, registry: WorkerPids) -> Self {
        registry.insert(child.id());
        let exit = pidfd_open(child.id()).ok().and_then(|fd| {
            // SAFETY: the pidfd is owned by the AsyncFd for its whole life and never
            // closed or reused behind its back.
            unsafe { AsyncFd::register(fd) }.ok()
        });
        WorkerProcess {
            child,
            exit,
            status: None,
            registry,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Waits for the process to exit and reaps it. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.status {
                return Ok(status);
            }
            if let Some(status) = self.child.try_wait()? {
                self.status = Some(status);
                self.registry.remove(self.child.id());
                return Ok(status);
            }
            match &self.exit {
                Some(fd) => {
                    let mut ready = fd.readable().await?;
                    ready.clear_ready();
                }
                // No pidfd (old kernel): poll.
                None => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    /// Whether it has been reaped.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Reaps it if it has exited, without waiting.
    pub fn try_reap(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.status = Some(status);
            self.registry.remove(self.child.id());
        }
        self.status
    }

    /// SIGKILLs the worker's process group and everything in its cgroup (a grandchild that
    /// left the process group is still in the cgroup). Does nothing once reaped.
    pub fn kill(&self, group: &WorkerGroup) {
        if self.status.is_some() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: killpg(2) has no memory-safety preconditions; the worker leads its
            // process group and is not reaped yet, so the id is still ours.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
        group.kill_listed();
    }

    /// Kills and reaps, giving up after `within`.
    pub async fn kill_and_reap(
        &mut self,
        group: &WorkerGroup,
        within: Duration,
    ) -> Option<ExitStatus> {
        self.kill(group);
        tokio::time::timeout(within, self.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the end of a worker's stderr into a bounded buffer until it closes.
pub async fn stderr_tail(stderr: Option<std::process::ChildStderr>, keep: usize) -> String {
    use tokio::io::AsyncReadExt;
    let Some(stderr) = stderr else {
        return String::new();
    };
    let Ok(mut stderr) = tokio::process::ChildStderr::from_std(stderr) else {
        return String::new();
    };
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > keep {
                    tail.drain(..tail.len() - keep);
                }
            }
        }
    }
    String::from_utf8_lossy(&tail).into_owned()
}
