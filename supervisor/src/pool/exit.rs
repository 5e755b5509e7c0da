//! Why an attempt ended, as recorded on the attempt: the worker's own report when it sent
//! one, else what its exit status, its cgroup's OOM counter and its stderr say.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use jobvisor_protocol::worker::{ErrorKind, exit_status};

/// How one attempt ended. `as_str` is the stable name stored and shown everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Completed,
    /// The handler threw, rejected, never settled, hit an engine limit, or the script or
    /// payload was unusable.
    JsError,
    /// The deadline passed: the worker stopped the job itself or was killed.
    Timeout,
    /// The memory limit stopped the worker (cgroup OOM kill, or allocation failure under
    /// the rlimit).
    Oom,
    /// The worker died on its own.
    Crash(CrashKind),
    /// The worker broke the protocol and was killed.
    ProtocolError(String),
    /// Something outside jobvisor killed the worker.
    Killed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrashKind {
    StackOverflow,
    /// Killed by SIGSYS: the worker's seccomp filter caught a system call it does not
    /// allow. JavaScript cannot make system calls, so this means a bug in the engine or
    /// the worker, or an exploit of one.
    SandboxViolation,
    /// Died of a signal (abort, segfault, ...).
    Signal(i32),
    /// Exited with this status without reporting a result.
    UnexpectedExit(i32),
}

impl AttemptOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            AttemptOutcome::Completed => "completed",
            AttemptOutcome::JsError => "js_error",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::Oom => "oom",
            AttemptOutcome::Crash(_) => "crash",
            AttemptOutcome::ProtocolError(_) => "protocol_error",
            AttemptOutcome::Killed => "killed",
        }
    }

    /// The outcome of a job the worker reported as failed.
    pub fn from_worker_error(kind: ErrorKind) -> AttemptOutcome {
        match kind {
            ErrorKind::Deadline => AttemptOutcome::Timeout,
            _ => AttemptOutcome::JsError,
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Crash(CrashKind::StackOverflow) => {
                f.write_str("crash (stack overflow)")
            }
            AttemptOutcome::Crash(CrashKind::SandboxViolation) => {
                f.write_str("crash (sandbox: forbidden system call)")
            }
            AttemptOutcome::Crash(CrashKind::Signal(sig)) => {
                write!(f, "crash (signal {sig}, {})", signal_name(*sig))
            }
            AttemptOutcome::Crash(CrashKind::UnexpectedExit(code)) => {
                write!(f, "crash (exited with status {code} without a result)")
            }
            AttemptOutcome::ProtocolError(why) => write!(f, "protocol_error ({why})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// What the supervisor knows about a worker that exited before reporting a result.
#[derive(Debug, Clone, Copy)]
pub struct ExitFacts<'a> {
    pub status: ExitStatus,
    /// The supervisor killed it because the job's deadline passed.
    pub killed_for_timeout: bool,
    /// OOM kills counted by the worker's cgroup since it started.
    pub oom_kills: u64,
    /// The end of the worker's stderr.
    pub stderr_tail: &'a str,
}

/// Classifies the exit of a worker that did not report the attempt's end.
pub fn classify_exit(facts: ExitFacts<'_>) -> AttemptOutcome {
    if facts.oom_kills > 0 {
        return AttemptOutcome::Oom;
    }
    if facts.killed_for_timeout {
        return AttemptOutcome::Timeout;
    }
    let stderr = facts.stderr_tail;
    if let Some(signal) = facts.status.signal() {
        if signal == libc::SIGSYS {
            return AttemptOutcome::Crash(CrashKind::SandboxViolation);
        }
        if signal == libc::SIGABRT && stderr.contains("memory allocation of") {
            return AttemptOutcome::Oom;
        }
        if stderr.contains("has overflowed its stack") {
            return AttemptOutcome::Crash(CrashKind::StackOverflow);
        }
        if signal == libc::SIGKILL {
            return AttemptOutcome::Killed;
        }
        return AttemptOutcome::Crash(CrashKind::Signal(signal));
    }
    match facts.status.code() {
        Some(exit_status::PROTOCOL) => {
            AttemptOutcome::ProtocolError("the worker refused the supervisor's frames".to_owned())
        }
        Some(code) => AttemptOutcome::Crash(CrashKind::UnexpectedExit(code)),
        None => AttemptOutcome::Crash(CrashKind::UnexpectedExit(-1)),
    }
}

pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(raw: i32) -> ExitStatus {
        ExitStatus::from_raw(raw)
    }

    fn facts(raw: i32, stderr: &str) -> ExitFacts<'_> {
        ExitFacts {
            status: status(raw),
            killed_for_timeout: false,
            oom_kills: 0,
            stderr_tail: stderr,
        }
    }

    #[test]
    fn classification_table() {
        let sigkill = libc::SIGKILL;
        let sigabrt = libc::SIGABRT;
        assert_eq!(
            classify_exit(ExitFacts {
                oom_kills: 1,
                ..facts(sigkill, "")
            }),
            AttemptOutcome::Oom
        );
        assert_eq!(
            classify_exit(ExitFacts {
                killed_for_timeout: true,
                ..facts(sigkill, "")
            }),
            AttemptOutcome::Timeout
        );
        assert_eq!(classify_exit(facts(sigkill, "")), AttemptOutcome::Killed);
        assert_eq!(
            classify_exit(facts(
                sigabrt,
                "memory allocation of 536870976 bytes failed"
            )),
            AttemptOutcome::Oom
        );
        assert_eq!(
            classify_exit(facts(sigabrt, "thread 'engine' has overflowed its stack")),
            AttemptOutcome::Crash(CrashKind::StackOverflow)
        );
        assert_eq!(
            classify_exit(facts(libc::SIGSEGV, "")),
            AttemptOutcome::Crash(CrashKind::Signal(libc::SIGSEGV))
        );
        assert_eq!(
            classify_exit(facts(libc::SIGSYS, "")),
            AttemptOutcome::Crash(CrashKind::SandboxViolation)
        );
        // The kernel's SIGSYS from seccomp sets the core-dump bit (0x80) when dumps are on.
        assert_eq!(
            classify_exit(facts(libc::SIGSYS | 0x80, "thread 'engine' panicked")),
            AttemptOutcome::Crash(CrashKind::SandboxViolation)
        );
        assert_eq!(
            classify_exit(facts(0, "")),
            AttemptOutcome::Crash(CrashKind::UnexpectedExit(0))
        );
        assert_eq!(classify_exit(facts(65 << 8, "")).as_str(), "protocol_error");
    }

    #[test]
    fn a_sandbox_violation_is_a_crash_that_says_so() {
        let outcome = classify_exit(facts(libc::SIGSYS, ""));
        assert_eq!(outcome.as_str(), "crash");
        assert_eq!(
            outcome.to_string(),
            "crash (sandbox: forbidden system call)"
        );
    }
}
