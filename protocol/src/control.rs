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
    /// Answer with the job once it reached a final state (completed, discarded, cancelled).
    WaitJob {
        id: i64,
    },
    /// Register a new version of a script (or confirm the current one). The daemon checks
    /// it (parse, evaluate, default export) in a throwaway worker first.
    AddScript {
        name: String,
        source: String,
    },
    ListScripts,
    ShowScript {
        name: String,
    },
    ListJobs(JobQuery),
    ShowJob {
        id: i64,
    },
    RetryJob {
        id: i64,
    },
    CancelJob {
        id: i64,
    },
    ListQueues,
    SetQueuePaused {
        queue: String,
        paused: bool,
    },
    /// Replace workers: one (`worker`) or all, one at a time, each after its job in hand;
    /// `force` kills the job in hand (its attempt is refunded).
    Restart {
        worker: Option<u32>,
        force: bool,
    },
    /// Graceful stop; answered with a [`DrainReport`] once the drain is complete.
    Drain,
    /// Turn this connection into a stream of [`Event`] frames.
    Follow,
    ListSchedules,
    ShowSchedule {
        name: String,
    },
    /// Create or update a schedule by name (history is kept).
    AddSchedule(ScheduleSpec),
    SetScheduleEnabled {
        name: String,
        enabled: bool,
    },
    RemoveSchedule {
        name: String,
    },
    /// Enqueue one run now, outside the slots.
    RunSchedule {
        name: String,
    },
    /// Enqueue several jobs in one transaction: all are accepted or none (at most
    /// [`MAX_ENQUEUE_BATCH`]).
    EnqueueBatch(Vec<EnqueueJob>),
    /// As [`Request::RetryJob`], after switching the job to the current version of its
    /// script (a plain retry keeps the version the job was enqueued with).
    RetryJobLatest {
        id: i64,
    },
    /// Pause or resume a queue. An unknown queue is refused (with the names that exist)
    /// unless `create`; [`Request::SetQueuePaused`] always creates it.
    PauseQueue {
        queue: String,
        paused: bool,
        create: bool,
    },
    /// Remove a queue that no job has ever used (typos, leftovers of `PauseQueue`).
    RemoveQueue {
        queue: String,
    },
}

/// Most jobs one `EnqueueBatch` may carry.
pub const MAX_ENQUEUE_BATCH: usize = 10_000;

/// A schedule as the CLI defines it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub name: String,
    pub script: String,
    /// JSON text; `None`: `{}`.
    pub payload: Option<String>,
    /// Interval in milliseconds (exclusive with `cron`; neither: every 60 s).
    pub every_ms: Option<u64>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub queue: Option<String>,
    pub priority: Option<i32>,
    pub timeout_ms: Option<u64>,
    pub max_attempts: Option<u32>,
    pub jitter_ms: Option<u64>,
    /// `skip` (default), `queue` or `allow`.
    pub overlap: Option<String>,
    /// `coalesce` (default) or `skip`.
    pub catch_up: Option<String>,
    pub disable_after_failures: Option<u32>,
}

/// Filters for `jobs list`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobQuery {
    pub state: Option<String>,
    pub queue: Option<String>,
    pub script: Option<String>,
    /// Most jobs to return, 1 to [`MAX_LIST_LIMIT`] (0: 50).
    pub limit: u32,
    /// Only jobs with an id below this: the last id of one page gives the next page.
    pub before: Option<i64>,
}

/// Most jobs one `ListJobs` returns.
pub const MAX_LIST_LIMIT: u32 = 10_000;

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
    Scripts(Vec<ScriptSummary>),
    Script(ScriptView),
    Jobs(Vec<JobSummary>),
    Job(Box<JobView>),
    Retried {
        id: i64,
        max_attempts: u32,
        /// The script version the retry runs.
        script_hash: String,
        /// True when the retry switched the job to a newer version than it had.
        script_changed: bool,
    },
    Cancelled {
        id: i64,
        was_running: bool,
    },
    Queues(Vec<QueueView>),
    QueuePaused {
        queue: String,
        paused: bool,
    },
    Restarting {
        workers: Vec<u32>,
    },
    Drained(DrainReport),
    /// First frame of a `Follow` stream; events follow.
    Following,
    Event(Event),
    Schedules(Vec<ScheduleView>),
    Schedule(Box<ScheduleDetailView>),
    ScheduleSaved {
        name: String,
        created: bool,
        next_run_at_ms: Option<i64>,
    },
    ScheduleChanged {
        name: String,
        change: String,
    },
    ScheduleFired {
        name: String,
        job: i64,
    },
    Error(ControlError),
    /// The answer to `EnqueueBatch`, one entry per job in request order.
    EnqueuedBatch(Vec<EnqueuedJob>),
    QueueRemoved {
        queue: String,
    },
}

/// One job of an `EnqueueBatch`: its id, and whether its unique key matched an existing
/// job (then the id is that job's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueuedJob {
    pub id: i64,
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub name: String,
    pub script: String,
    /// `every 1m` or `cron 30 2 * * * (Europe/Berlin)`.
    pub timing: String,
    pub queue: String,
    pub overlap: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failure_streak: u32,
    pub disable_after_failures: u32,
    pub next_run_at_ms: Option<i64>,
    pub last_run_at_ms: Option<i64>,
    /// State (and last attempt outcome) of the most recent run.
    pub last_outcome: Option<String>,
    /// `config` or `cli`.
    pub source: String,
    pub last_skip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDetailView {
    pub schedule: ScheduleView,
    pub payload: String,
    pub runs: Vec<ScheduleRunView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRunView {
    pub job: i64,
    pub slot_ms: Option<i64>,
    pub state: String,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSummary {
    pub name: String,
    pub hash: String,
    pub created_at_ms: i64,
    pub source_bytes: u64,
    /// How many versions the store holds.
    pub versions: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptView {
    pub name: String,
    pub hash: String,
    pub created_at_ms: i64,
    pub source: String,
    /// Every version, newest first: (hash, created_at_ms, current).
    pub versions: Vec<(String, i64, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: i64,
    pub queue: String,
    pub script: String,
    pub state: String,
    pub priority: i32,
    pub attempt: u32,
    pub max_attempts: u32,
    pub run_at_ms: i64,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub summary: JobSummary,
    pub script_hash: String,
    pub payload: String,
    pub result: Option<String>,
    pub unique_key: Option<String>,
    pub timeout_ms: Option<u64>,
    pub attempts: Vec<AttemptView>,
    /// The current version of the job's script (`None`: the name has no current version);
    /// differs from `script_hash` when a newer version was added after the enqueue.
    pub current_script_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: u32,
    pub outcome: String,
    pub worker_pid: Option<u32>,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: i64,
    pub duration_ms: Option<u64>,
    pub cpu_ms: Option<u64>,
    pub peak_memory_bytes: Option<u64>,
    pub error_name: Option<String>,
    pub error_message: Option<String>,
    pub error_stack: Option<String>,
    /// Console lines as JSON lines (`{"level":"info","text":"…"}`).
    pub logs: String,
    pub logs_truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueView {
    pub queue: String,
    pub paused: bool,
    pub concurrency: Option<u32>,
    pub running: u32,
}

/// What a drain did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DrainReport {
    /// Jobs that completed during the drain.
    pub finished: u64,
    /// Jobs given back to the queue (claimed but not started, or interrupted).
    pub requeued: u64,
    pub duration_ms: u64,
    /// Attempts that failed during the drain (threw, timed out, ran out of memory,
    /// crashed); a job with attempts left runs again after the restart.
    pub failed: u64,
}

/// One line of `jobvisor logs --follow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at_ms: i64,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    JobStarted {
        job: i64,
        attempt: u32,
        worker: u32,
        script: String,
    },
    JobEnded {
        job: i64,
        attempt: u32,
        worker: u32,
        outcome: String,
        duration_ms: u64,
        error: Option<String>,
    },
    Console {
        job: i64,
        attempt: u32,
        level: String,
        text: String,
    },
    Worker {
        worker: u32,
        state: String,
        pid: Option<u32>,
    },
    /// Events were dropped because this client read too slowly.
    Lagged { missed: u64 },
    /// A schedule enqueued a run (`slot_ms` is `None` for a manual run; `held`: it waits
    /// behind a live run of the same schedule).
    ScheduleFired {
        schedule: String,
        job: i64,
        slot_ms: Option<i64>,
        held: bool,
    },
    /// A schedule's slot was not run (overlap policy, catch-up, enqueue failure).
    ScheduleSkipped {
        schedule: String,
        slot_ms: i64,
        reason: String,
    },
    /// A schedule turned itself off after too many failed runs.
    ScheduleDisabled { schedule: String },
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
    /// The daemon has no room for this connection, stream or answer right now (every
    /// connection waits for an answer, every follower seat is taken, answers for clients
    /// that do not read fill its memory); the message says which. Retry later.
    Busy,
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
    /// Why the daemon is not fully working, one line per reason (store writes failing,
    /// worker slots degraded); empty when all is well.
    pub degraded: Vec<String>,
    /// While draining: how long running jobs may still take before they are killed.
    pub drain_left_ms: Option<u64>,
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
