//! Why an attempt ended, as recorded on the attempt: the worker's own report when it sent
//! one, else what its exit status, its cgroup's OOM counter and its stderr say, and the
//! one wording of such a supervisor-observed failure ([`observed_failure`]) that both the
//! daemon's attempt records and `jobvisor run` show.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use jobvisor_protocol::worker::{ErrorKind, exit_status};

use crate::cgroup::LimiterMode;
use crate::units::{format_duration, format_size, format_size_approx};

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

/// Who killed a worker that ended with its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killer {
    /// jobvisor, because the job's deadline passed.
    Deadline,
    /// jobvisor, because an operator cancelled the job.
    Cancel,
    /// jobvisor, because a stop ran out of time (the attempt is refunded).
    Stop,
    /// Not jobvisor: a signal from outside (an operator's `kill`, the host).
    Outside,
}

/// What the supervisor saw of an attempt that ended without an error from the worker.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub outcome: &'a AttemptOutcome,
    pub timeout: Duration,
    pub memory_limit: u64,
    pub limiter: LimiterMode,
    pub peak_memory: Option<u64>,
    /// The signal that ended the worker, when it died of one.
    pub signal: Option<i32>,
    pub killer: Option<Killer>,
    pub stderr_tail: &'a str,
}

/// The error name and message of a failure the supervisor observed, with its numbers:
/// the limit and the peak, the timeout, the signal and who sent it. `None` for outcomes
/// that are not supervisor-observed failures (completed, a JavaScript error).
pub fn observed_failure(seen: &Observed<'_>) -> Option<(&'static str, String)> {
    let peak = seen
        .peak_memory
        .map(|p| format!("; peak memory {}", format_size_approx(p)))
        .unwrap_or_default();
    let signal = seen
        .signal
        .map_or_else(|| "a signal".to_owned(), |s| signal_name(s).to_owned());
    Some(match seen.outcome {
        AttemptOutcome::Completed | AttemptOutcome::JsError => return None,
        AttemptOutcome::Timeout => (
            "TimeoutError",
            format!(
                "the job ran past its timeout of {}: jobvisor's deadline killed the worker with {signal}{peak}",
                format_duration(seen.timeout)
            ),
        ),
        AttemptOutcome::Oom => (
            "OutOfMemory",
            format!(
                "the job ran out of memory: the worker was stopped at its limit of {} ({}){peak}",
                format_size(seen.memory_limit),
                seen.limiter
            ),
        ),
        AttemptOutcome::Crash(_) => {
            let last = seen
                .stderr_tail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let last_words = if last.is_empty() {
                String::new()
            } else {
                format!("; its last words: {last}")
            };
            (
                "WorkerCrash",
                format!("the worker died: {}{last_words}", seen.outcome),
            )
        }
        AttemptOutcome::ProtocolError(why) => (
            "ProtocolError",
            format!("the worker broke the protocol: {why}"),
        ),
        AttemptOutcome::Killed => match seen.killer {
            Some(Killer::Cancel) => (
                "Cancelled",
                format!(
                    "an operator cancelled the job: jobvisor killed the worker with {signal}{peak}"
                ),
            ),
            Some(Killer::Stop) => (
                "Interrupted",
                format!(
                    "jobvisor was stopping and its drain timeout passed: it killed the worker with {signal}{peak}"
                ),
            ),
            Some(Killer::Deadline) => (
                "TimeoutError",
                format!(
                    "the job ran past its timeout of {}: jobvisor's deadline killed the worker with {signal}{peak}",
                    format_duration(seen.timeout)
                ),
            ),
            Some(Killer::Outside) | None => (
                "Killed",
                format!(
                    "the worker was killed by {signal} from outside jobvisor (not its deadline, not a cancel){peak}"
                ),
            ),
        },
    })
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
    fn observed_failures_say_what_happened_with_the_numbers() {
        let base = Observed {
            outcome: &AttemptOutcome::Completed,
            timeout: Duration::from_secs(2),
            memory_limit: 128 << 20,
            limiter: LimiterMode::V1,
            peak_memory: Some(5 << 20),
            signal: Some(libc::SIGKILL),
            killer: None,
            stderr_tail: "",
        };
        assert_eq!(observed_failure(&base), None);
        let seen = |outcome: &AttemptOutcome, killer| {
            observed_failure(&Observed {
                outcome,
                killer,
                ..base
            })
            .expect("a supervisor-observed failure")
        };
        let (name, message) = seen(&AttemptOutcome::Timeout, Some(Killer::Deadline));
        assert_eq!(name, "TimeoutError");
        assert!(
            message.contains("timeout of 2s") && message.contains("SIGKILL"),
            "{message}"
        );
        let (name, message) = seen(&AttemptOutcome::Oom, None);
        assert_eq!(name, "OutOfMemory");
        assert!(
            message.contains("128MiB (cgroup v1); peak memory 5.0MiB"),
            "{message}"
        );
        let (name, message) = seen(&AttemptOutcome::Killed, Some(Killer::Outside));
        assert_eq!(name, "Killed");
        assert!(
            message.contains("SIGKILL from outside jobvisor"),
            "{message}"
        );
        let (name, message) = seen(&AttemptOutcome::Killed, Some(Killer::Cancel));
        assert_eq!(name, "Cancelled");
        assert!(message.contains("an operator cancelled"), "{message}");
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
