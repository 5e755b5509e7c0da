//! Messages between the `jobvisor` CLI and the daemon's control socket.
//!
//! Same framing and handshake as the worker protocol: both sides send [`crate::Hello`]
//! (the CLI as [`crate::Role::Client`]), then the client sends one [`Request`] per frame
//! and reads one [`Response`] per request.

use serde::{Deserialize, Serialize};

/// Client → daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Status,
    Enqueue(EnqueueJob),
    /// Register a new version of a script (or confirm the current one).
    AddScript {
        name: String,
        source: String,
    },
}

/// A job to enqueue; unset fields take the daemon's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnqueueJob {
    pub script: String,
    /// JSON text.
    pub payload: String,
    pub queue: Option<String>,
    pub priority: Option<i32>,
    /// Run no earlier than this many milliseconds from now.
    pub delay_ms: Option<u64>,
    /// Run no earlier than this Unix time in milliseconds.
    pub run_at_ms: Option<i64>,
    pub max_attempts: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub unique_key: Option<String>,
}

/// Daemon → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Status(StatusReport),
    Enqueued {
        id: i64,
        duplicate: bool,
    },
    ScriptAdded {
        name: String,
        hash: String,
        /// False when this exact source was already the current version.
        created: bool,
    },
    Error(ControlError),
}

/// A refused or failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlError {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The request itself is wrong (unknown script, bad JSON, out-of-range value).
    BadRequest,
    /// Something it refers to does not exist.
    NotFound,
    /// The daemon is draining and takes no new work.
    Draining,
    /// The store refused the write (disk full, busy); retry later.
    Unavailable,
    /// An internal failure.
    Internal,
}

/// What `jobvisor status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub pid: u32,
    pub version: String,
    pub uptime_ms: u64,
    pub epoch: i64,
    /// How memory limits are enforced ("cgroup v1 memory at ...").
    pub limiter: String,
    pub store_path: String,
    pub store_bytes: u64,
    pub draining: bool,
    pub workers: Vec<WorkerStatus>,
    pub queues: Vec<QueueStatus>,
    /// Jobs whose completion was committed in the last 60 s.
    pub completed_last_minute: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub id: u32,
    pub pid: Option<u32>,
    /// starting, idle, busy, terminating, exited, backoff, degraded.
    pub state: String,
    pub job: Option<i64>,
    pub jobs_done: u64,
    pub rss_bytes: Option<u64>,
    pub restarts: u32,
    pub degraded_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    pub queue: String,
    pub paused: bool,
    /// (state, count) for every state with at least one job.
    pub counts: Vec<(String, u64)>,
}
