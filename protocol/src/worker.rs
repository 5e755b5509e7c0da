//! Messages between the supervisor and a worker process (over the fd-3 socketpair).
//!
//! Conversation: both sides send [`crate::Hello`]; the worker then sends
//! [`FromWorker::Ready`] once its engine thread is up. After that the supervisor sends
//! [`ToWorker::Run`] and the worker answers with any number of `Log`/`Progress` frames
//! and exactly one `Done` for that `(job_id, attempt)`. `Shutdown` asks the worker to
//! exit after the job in hand. An idle worker answers `Ping` with `Pong` at once; one
//! that does not is stopped or wedged, and is replaced.
//!
//! While a job runs, the worker may ask the supervisor for something only the host can do
//! with [`FromWorker::HostCall`]; the supervisor answers each call with exactly one
//! [`ToWorker::HostReply`] of the same `call_id`, in any order. The ops are in
//! [`crate::host`]. A call names its attempt: a call for an attempt that is not the one in
//! hand is a protocol error, like any other frame that does not fit the conversation.

use serde::{Deserialize, Serialize};

/// Supervisor → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    Run(RunJob),
    /// Finish the current job (if any), then exit 0.
    Shutdown,
    /// Health check of an idle worker: answer `Pong` with the same number.
    Ping {
        seq: u64,
    },
    /// The answer to the worker's `HostCall` with the same `call_id`.
    HostReply {
        call_id: u64,
        result: crate::host::HostResult,
    },
    /// Abort `ctx.signal` of the job in hand, for `reason`. The job goes on until its
    /// handler settles; the supervisor decides how long it waits for that.
    Abort {
        job_id: i64,
        attempt: u32,
        reason: AbortReason,
    },
}

/// Why the supervisor aborts a job's signal (the `reason` of the `AbortError` scripts see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbortReason {
    /// An operator cancelled the job.
    Cancelled,
    /// The supervisor is draining (SIGTERM, a rollout): the job is requeued.
    Shutdown,
}

/// One attempt of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunJob {
    pub job_id: i64,
    pub attempt: u32,
    pub max_attempts: u32,
    pub queue: String,
    pub script: ScriptRef,
    /// The job's payload as JSON text.
    pub payload: String,
    /// Wall-clock budget the worker may use for its own in-process deadline. The
    /// supervisor enforces the real deadline by killing the process.
    pub deadline_ms: u64,
    /// `ctx.signal` aborts this long before `deadline_ms` runs out (with a `TimeoutError`
    /// reason), so that the handler can stop its fetches and end cleanly.
    pub signal_margin_ms: u64,
    pub limits: JobLimits,
    pub isolation: Isolation,
}

/// A script version. `source` is sent only when the worker does not hold this version yet:
/// the module's text, or for a multi-file script its canonical bundle text
/// ([`crate::bundle`]), every file of the version, which the worker resolves imports in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRef {
    pub name: String,
    /// Content hash (hex) identifying the version.
    pub hash: String,
    pub source: Option<String>,
    /// The script opted in to node compatibility (`node_compat` in `[[script]]`, `jobvisor
    /// run --node-compat`): its context has `Buffer` and `process`. A worker never runs a
    /// job on a context built with the other setting.
    pub node_compat: bool,
}

/// Limits applied by the worker to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLimits {
    /// Largest result JSON, in bytes.
    pub max_result_bytes: u32,
    /// Console bytes kept per attempt (all lines together).
    pub max_log_bytes: u32,
    /// Console lines kept per attempt.
    pub max_log_lines: u32,
    /// Engine loop-iteration limit per call frame.
    pub loop_iteration_limit: u64,
    /// Engine recursion limit (JS frames).
    pub recursion_limit: u32,
}

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits {
            max_result_bytes: 4 * 1024 * 1024,
            max_log_bytes: 64 * 1024,
            max_log_lines: 1000,
            loop_iteration_limit: 1_000_000_000,
            recursion_limit: 512,
        }
    }
}

/// How much JS state is shared between jobs on one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Isolation {
    /// One context per script version, reused, rebuilt after any error.
    #[default]
    Script,
    /// A fresh context for every job.
    Job,
}

/// Worker → supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The engine is up; the worker takes jobs.
    Ready { pid: u32 },
    /// One console line of the job in hand.
    Log {
        job_id: i64,
        attempt: u32,
        level: LogLevel,
        text: String,
    },
    /// A progress value reported by the handler (JSON text).
    Progress {
        job_id: i64,
        attempt: u32,
        value: String,
    },
    /// The attempt ended inside the worker.
    Done {
        job_id: i64,
        attempt: u32,
        outcome: Outcome,
        stats: JobStats,
    },
    /// The answer to `Ping`.
    Pong { seq: u64 },
    /// A request to the host on behalf of the job in hand. `call_id` is chosen by the
    /// worker, unique among its calls in flight.
    HostCall {
        job_id: i64,
        attempt: u32,
        call_id: u64,
        op: crate::host::HostOp,
    },
}

impl FromWorker {
    /// Whether an encoded frame body is a [`FromWorker::HostCall`], from its first byte
    /// alone (bincode writes the variant index as a varint, one byte below 251), so that
    /// its size can be held to [`crate::host::MAX_HOST_CALL_BYTES`] before it is decoded.
    pub fn body_is_host_call(body: &[u8]) -> bool {
        body.first() == Some(&HOST_CALL_VARIANT)
    }
}

/// The variant index of [`FromWorker::HostCall`] (its place in the enum, from 0).
const HOST_CALL_VARIANT: u8 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// How an attempt ended, as far as the worker could tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The handler's result, serialised with `JSON.stringify` semantics. `None` when the
    /// handler returned `undefined` (or something `JSON.stringify` drops).
    Ok {
        result: Option<String>,
    },
    Err(JobError),
}

/// A failed attempt, bounded in size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub kind: ErrorKind,
    pub name: String,
    pub message: String,
    pub stack: Option<String>,
}

/// What kind of failure happened inside the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The handler threw or its promise rejected.
    Thrown,
    /// The handler's promise was still pending with no work left to do.
    NeverSettled,
    /// An engine limit (loop iterations, recursion, stack size) was hit.
    RuntimeLimit,
    /// The in-process deadline passed between engine jobs.
    Deadline,
    /// The script did not parse, link or evaluate, or has no default-export function.
    Script,
    /// The worker was asked to run a script version it does not hold, without its source.
    ScriptMissing,
    /// The payload was not valid JSON or was nested too deeply.
    Payload,
    /// The result could not be serialised (cyclic, BigInt) or was too large.
    Result,
    /// The engine panicked; the context was discarded.
    Panic,
}

/// Measurements of one attempt inside the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobStats {
    pub duration_us: u64,
    pub cpu_us: u64,
    /// Peak resident set of the worker process so far, in bytes.
    pub max_rss_bytes: u64,
    /// Console lines dropped because the attempt's log cap was reached.
    pub logs_dropped: u32,
    /// Whether the attempt ran on a context reused from an earlier job.
    pub warm: bool,
}

/// Exit statuses of `jobvisor-worker`, so the supervisor can classify an exit without a
/// `Done` frame.
pub mod exit_status {
    /// Shutdown requested, or the supervisor closed the connection between jobs.
    pub const CLEAN: i32 = 0;
    /// Bad command line, or fd 3 is not a socket.
    pub const USAGE: i32 = 64;
    /// The supervisor sent something that is not the protocol (bad hello, torn frame).
    pub const PROTOCOL: i32 = 65;
    /// A frame could not be written (the supervisor went away mid-job).
    pub const IO: i32 = 74;
    /// An internal error of the worker (engine thread died).
    pub const INTERNAL: i32 = 70;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostOp;

    #[test]
    fn a_host_call_is_told_from_its_first_byte_and_nothing_else_is() {
        let body = |message: &FromWorker| {
            let mut frame = Vec::new();
            crate::encode_frame(message, &mut frame).expect("encodes");
            frame.split_off(4)
        };
        let call = FromWorker::HostCall {
            job_id: 1,
            attempt: 1,
            call_id: 7,
            op: HostOp::Echo {
                text: "hi".to_owned(),
            },
        };
        assert!(FromWorker::body_is_host_call(&body(&call)));
        for other in [
            FromWorker::Ready { pid: 5 },
            FromWorker::Pong { seq: 5 },
            FromWorker::Progress {
                job_id: 5,
                attempt: 5,
                value: "5".to_owned(),
            },
        ] {
            assert!(!FromWorker::body_is_host_call(&body(&other)), "{other:?}");
        }
        assert!(!FromWorker::body_is_host_call(&[]));
    }
}
