//! Crash failpoints for the schedule fire path, used by the SIGKILL tests.
//!
//! `JOBVISOR_FAILPOINT=<name>` (read once) makes the process SIGKILL itself when it
//! reaches the named point. Only debug builds (`cfg!(debug_assertions)`, i.e. the normal
//! test and dev builds) honour it; a release build ignores the variable, so a stray
//! environment can never crash production. Points:
//! - `schedule-fire-between`: inside the fire transaction, after the job INSERT and
//!   before the schedule's `next_run_at` UPDATE (the transaction never commits);
//! - `schedule-fire-after-commit`: right after the COMMIT of a fire that enqueued a job,
//!   before the caller is answered.

use std::sync::OnceLock;

pub const ENV: &str = "JOBVISOR_FAILPOINT";
pub const FIRE_BETWEEN: &str = "schedule-fire-between";
pub const FIRE_AFTER_COMMIT: &str = "schedule-fire-after-commit";

fn active() -> Option<&'static str> {
    static ACTIVE: OnceLock<Option<String>> = OnceLock::new();
    ACTIVE
        .get_or_init(|| {
            if cfg!(debug_assertions) {
                std::env::var(ENV).ok().filter(|name| !name.is_empty())
            } else {
                None
            }
        })
        .as_deref()
}

/// Kills the process with SIGKILL if `name` is the active failpoint.
pub(crate) fn hit(name: &str) {
    if active() == Some(name) {
        tracing::warn!(failpoint = name, "failpoint reached: killing the process");
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        // SIGKILL cannot be caught; should delivery be delayed, never run past the point.
        std::process::abort();
    }
}
