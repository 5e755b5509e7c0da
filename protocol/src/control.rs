//! Messages between the `jobvisor` CLI and the daemon's control socket.
//!
//! Same framing and handshake as the worker protocol: both sides send [`crate::Hello`]
//! (the CLI as [`crate::Role::Client`]), then the client sends one [`Request`] per frame
//! and reads one [`Response`] per request.

use serde::{Deserialize, Serialize};

use crate::worker::LogLevel;

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
        /// Hosts this version's jobs may fetch from (`scripts add --allow-net`), besides
        /// what the config grants the script.
        allow_net: Vec<String>,
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
    /// Keys of a script's state namespace, in key order.
    ListState(StateListQuery),
    /// One key of a script's state namespace.
    GetState {
        script: String,
        key: String,
    },
    /// Write (or delete) one key of a script's state namespace, at once.
    SetState(StateChange),
    /// The secrets the daemon knows, their hosts and grants; never their values.
    ListSecrets,
}

/// `jobvisor state list SCRIPT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StateListQuery {
    /// The script whose namespace is listed (its `state_namespace`, or its name).
    pub script: String,
    pub prefix: String,
    /// Keys after this one (the last key of a page gives the next).
    pub after: Option<String>,
    /// 0: 100.
    pub limit: u32,
}

/// `jobvisor state set|delete SCRIPT KEY`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StateChange {
    pub script: String,
    pub key: String,
    /// JSON text; `None` deletes the key.
    pub value: Option<String>,
    pub ttl_ms: Option<u64>,
    /// Only if the key holds this version (`Some(0)`: only if it does not exist).
    pub if_version: Option<u64>,
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
    /// `None`: skip.
    pub overlap: Option<Overlap>,
    /// `None`: coalesce.
    pub catch_up: Option<CatchUp>,
    pub disable_after_failures: Option<u32>,
}

/// Filters for `jobs list`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobQuery {
    pub state: Option<JobState>,
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
        change: ScheduleChange,
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
    /// The answer to `ListState`; `more` when keys after the last one match too.
    StateEntries {
        namespace: String,
        entries: Vec<StateView>,
        more: bool,
    },
    /// The answer to `GetState` (`None`: no such key).
    State {
        namespace: String,
        entry: Option<StateView>,
    },
    /// The answer to `SetState`: the key's new version (`None` after a delete).
    StateWritten {
        namespace: String,
        key: String,
        version: Option<u64>,
    },
    Secrets(Vec<SecretView>),
}

/// One job of an `EnqueueBatch`: its id, and whether its unique key matched an existing
/// job (then the id is that job's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueuedJob {
    pub id: i64,
    pub duplicate: bool,
}

/// One key of a script's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateView {
    pub key: String,
    /// JSON text.
    pub value: String,
    pub version: u64,
    pub updated_at_ms: i64,
    pub expires_at_ms: Option<i64>,
}

/// A secret as `jobvisor secrets list` shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretView {
    pub name: String,
    /// The hosts a reference to it may be sent to.
    pub hosts: Vec<String>,
    /// Scripts granted it may read its value.
    pub expose: bool,
    /// Where its value was read from (a file, a systemd credential).
    pub source: String,
    pub bytes: u64,
    /// The scripts granted it.
    pub granted_to: Vec<String>,
}

/// One HTTP request of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub method: String,
    /// Without its query (it may carry secrets).
    pub url: String,
    pub status: Option<u16>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub duration_ms: u64,
    pub redirects: u32,
    /// Why there was no response, or why it was cut.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub name: String,
    pub script: String,
    /// `every 1m` or `cron 30 2 * * * (Europe/Berlin)`.
    pub timing: String,
    pub queue: String,
    pub overlap: Overlap,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failure_streak: u32,
    pub disable_after_failures: u32,
    pub next_run_at_ms: Option<i64>,
    pub last_run_at_ms: Option<i64>,
    /// State (and last attempt outcome) of the most recent run.
    pub last_outcome: Option<RunOutcome>,
    pub source: ScheduleSource,
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
    pub state: JobState,
    pub last_outcome: Option<AttemptOutcome>,
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
    /// Every version, newest first.
    pub versions: Vec<ScriptVersion>,
    /// What its jobs may fetch from and use: the config's grants with this version's own
    /// `allow_net`.
    pub grants: ScriptGrants,
}

/// What a script's jobs may reach and use beyond the language.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScriptGrants {
    pub allow_net: Vec<String>,
    pub allow_private: Vec<String>,
    pub secrets: Vec<String>,
    pub state_namespace: String,
}

/// One stored version of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptVersion {
    pub hash: String,
    pub created_at_ms: i64,
    /// The version new jobs run.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: i64,
    pub queue: String,
    pub script: String,
    pub state: JobState,
    pub priority: i32,
    pub attempt: u32,
    pub max_attempts: u32,
    pub run_at_ms: i64,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub last_outcome: Option<AttemptOutcome>,
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
    /// The job that enqueued this one (`ctx.enqueue`).
    pub parent: Option<i64>,
    /// The jobs this one enqueued, oldest first.
    pub children: Vec<i64>,
}

/// One attempt of a job, oldest first in [`JobView::attempts`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: u32,
    /// False for a refunded attempt (a drain interrupted it, or the supervisor died under
    /// it): its number was given back and the next attempt has it again.
    pub counted: bool,
    pub outcome: AttemptOutcome,
    pub worker_pid: Option<u32>,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: i64,
    pub duration_ms: Option<u64>,
    pub cpu_ms: Option<u64>,
    pub peak_memory_bytes: Option<u64>,
    pub error: Option<AttemptError>,
    pub console: Vec<ConsoleLine>,
    /// The attempt wrote more console output than is kept; the rest was dropped.
    pub console_truncated: bool,
    /// The HTTP requests it made, in order.
    pub requests: Vec<RequestView>,
}

/// The error an attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    pub name: String,
    pub message: String,
    pub stack: Option<String>,
}

/// One console line a script wrote during an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleLine {
    pub level: LogLevel,
    pub text: String,
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
        outcome: AttemptOutcome,
        duration_ms: u64,
        error: Option<String>,
    },
    Console {
        job: i64,
        attempt: u32,
        level: LogLevel,
        text: String,
    },
    Worker {
        worker: u32,
        state: WorkerState,
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
    /// A compare-and-set found another version than the one it expected.
    Conflict,
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
    pub state: WorkerState,
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
    pub counts: Vec<(JobState, u64)>,
}

// The closed sets of the views. Each serialises (JSON) as its snake_case name; on the wire a
// variant is its index, so the order of the variants is fixed: new ones go at the end.

/// Where a job is in its life (see the store's job states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Scheduled,
    Available,
    Running,
    Retryable,
    Completed,
    Discarded,
    Cancelled,
}

/// Why an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Completed,
    JsError,
    Timeout,
    Oom,
    Crash,
    ProtocolError,
    /// Killed from outside (an operator, a cancel).
    Killed,
    /// A graceful drain stopped it; the attempt was refunded.
    Interrupted,
    /// An earlier supervisor's lease ran out and the job was taken back.
    LeaseExpired,
    /// An earlier supervisor died with the job running and its workers are known dead.
    SupervisorRestart,
}

/// What a schedule does with a slot while its previous run is still queued or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    Skip,
    Queue,
    Allow,
}

/// Who declared a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleSource {
    Config,
    Cli,
}

/// What `schedules enable|disable|remove` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleChange {
    Enabled,
    Disabled,
    Removed,
}

/// A worker slot's state, as `status` and the worker events show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    Starting,
    Idle,
    Busy,
    Terminating,
    /// Waiting before the next start after failures.
    Backoff,
    Exited,
    /// Working, but something is wrong (`degraded_reason` says what).
    Degraded,
    /// A started worker finished its handshake (events only).
    Ready,
}

/// What a schedule does with the slots it missed while the daemon was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// One run for all of them.
    Coalesce,
    /// Only a slot missed by less than a minute runs.
    Skip,
}

/// Where a schedule's most recent run stands: its state and, once it finished other
/// than by completing, the outcome of its last attempt. Shown, and serialised (JSON and
/// wire alike), as its text: `running`, `completed`, `discarded (timeout)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunOutcome {
    pub state: JobState,
    pub last_attempt: Option<AttemptOutcome>,
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.last_attempt {
            Some(outcome) => write!(f, "{} ({outcome})", self.state),
            None => write!(f, "{}", self.state),
        }
    }
}

impl std::str::FromStr for RunOutcome {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, UnknownName> {
        let (state, last_attempt) = match text.split_once(" (") {
            Some((state, rest)) => {
                let outcome = rest.strip_suffix(')').ok_or_else(|| UnknownName {
                    name: text.to_owned(),
                    expected: &["STATE", "STATE (OUTCOME)"],
                })?;
                (state, Some(outcome.parse()?))
            }
            None => (text, None),
        };
        Ok(RunOutcome {
            state: state.parse()?,
            last_attempt,
        })
    }
}

impl Serialize for RunOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The snake_case names: the JSON of the views, and what the CLI prints.
macro_rules! view_names {
    ($($ty:ty { $($variant:ident => $text:literal),+ $(,)? })+) => {$(
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),+];
            /// The names of [`Self::ALL`], in the same order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownName;

            fn from_str(text: &str) -> Result<Self, UnknownName> {
                match text {
                    $($text => Ok(<$ty>::$variant),)+
                    _ => Err(UnknownName {
                        name: text.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    )+};
}

view_names! {
    JobState {
        Scheduled => "scheduled", Available => "available", Running => "running",
        Retryable => "retryable", Completed => "completed", Discarded => "discarded",
        Cancelled => "cancelled",
    }
    AttemptOutcome {
        Completed => "completed", JsError => "js_error", Timeout => "timeout", Oom => "oom",
        Crash => "crash", ProtocolError => "protocol_error", Killed => "killed",
        Interrupted => "interrupted", LeaseExpired => "lease_expired",
        SupervisorRestart => "supervisor_restart",
    }
    Overlap { Skip => "skip", Queue => "queue", Allow => "allow" }
    ScheduleSource { Config => "config", Cli => "cli" }
    ScheduleChange { Enabled => "enabled", Disabled => "disabled", Removed => "removed" }
    WorkerState {
        Starting => "starting", Idle => "idle", Busy => "busy", Terminating => "terminating",
        Backoff => "backoff", Exited => "exited", Degraded => "degraded", Ready => "ready",
    }
    LogLevel { Debug => "debug", Info => "info", Warn => "warn", Error => "error" }
    CatchUp { Coalesce => "coalesce", Skip => "skip" }
}

impl JobState {
    /// Completed, discarded or cancelled: the job will not run again unless retried by hand.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Discarded | JobState::Cancelled
        )
    }
}

/// A name that is not one of a view enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {name:?}: expected one of {}", expected.join(", "))]
pub struct UnknownName {
    pub name: String,
    pub expected: &'static [&'static str],
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON name of every variant is its `as_str`, and parses back: `--json` prints
    /// the names the CLI shows and accepts.
    #[test]
    fn json_names_are_the_display_names() {
        fn check<T>(all: &[T])
        where
            T: Serialize + std::fmt::Display + std::str::FromStr + PartialEq + std::fmt::Debug,
            <T as std::str::FromStr>::Err: std::fmt::Debug,
        {
            for value in all {
                let json = serde_json::to_string(value).expect("serialises");
                assert_eq!(json, format!("\"{value}\""));
                assert_eq!(&value.to_string().parse::<T>().expect("parses"), value);
            }
        }
        check(JobState::ALL);
        check(AttemptOutcome::ALL);
        check(Overlap::ALL);
        check(ScheduleSource::ALL);
        check(ScheduleChange::ALL);
        check(WorkerState::ALL);
        check(LogLevel::ALL);
        check(CatchUp::ALL);
    }

    #[test]
    fn a_run_outcome_is_its_text_in_json_and_on_the_wire() {
        let discarded = RunOutcome {
            state: JobState::Discarded,
            last_attempt: Some(AttemptOutcome::Timeout),
        };
        let running = RunOutcome {
            state: JobState::Running,
            last_attempt: None,
        };
        assert_eq!(
            serde_json::to_string(&discarded).expect("serialises"),
            "\"discarded (timeout)\""
        );
        assert_eq!(
            serde_json::to_string(&running).expect("serialises"),
            "\"running\""
        );
        for outcome in [discarded, running] {
            let mut frame = Vec::new();
            crate::encode_frame(&outcome, &mut frame).expect("encodes");
            let back: RunOutcome = crate::decode_body(&frame[4..]).expect("decodes");
            assert_eq!(back, outcome);
        }
        for bad in ["finished", "discarded (late)", "discarded (timeout"] {
            let err = bad.parse::<RunOutcome>().expect_err(bad);
            assert!(err.to_string().contains("unknown value"), "{err}");
        }
    }

    /// The views with their enums cross the wire and come back equal.
    #[test]
    fn typed_views_round_trip_through_a_frame() {
        let job = JobView {
            summary: JobSummary {
                id: 7,
                queue: "default".into(),
                script: "hello".into(),
                state: JobState::Discarded,
                priority: 0,
                attempt: 2,
                max_attempts: 2,
                run_at_ms: 1,
                created_at_ms: 1,
                finished_at_ms: Some(2),
                last_outcome: Some(AttemptOutcome::SupervisorRestart),
                last_error: Some("boom".into()),
            },
            script_hash: "ab".into(),
            payload: "{}".into(),
            result: None,
            unique_key: None,
            timeout_ms: None,
            attempts: vec![AttemptView {
                attempt: 1,
                counted: false,
                outcome: AttemptOutcome::Interrupted,
                worker_pid: Some(3),
                started_at_ms: Some(1),
                finished_at_ms: 2,
                duration_ms: Some(1),
                cpu_ms: None,
                peak_memory_bytes: None,
                error: Some(AttemptError {
                    name: "Error".into(),
                    message: "boom".into(),
                    stack: None,
                }),
                console: vec![ConsoleLine {
                    level: LogLevel::Warn,
                    text: "careful".into(),
                }],
                console_truncated: true,
                requests: vec![RequestView {
                    method: "GET".into(),
                    url: "https://api.example.com/items".into(),
                    status: Some(200),
                    bytes_out: 0,
                    bytes_in: 12,
                    duration_ms: 30,
                    redirects: 1,
                    error: None,
                }],
            }],
            current_script_hash: None,
            parent: Some(3),
            children: vec![8, 9],
        };
        let event = Event {
            at_ms: 5,
            kind: EventKind::Worker {
                worker: 0,
                state: WorkerState::Ready,
                pid: None,
            },
        };
        for response in [
            Response::Job(Box::new(job)),
            Response::Event(event),
            Response::ScheduleChanged {
                name: "nightly".into(),
                change: ScheduleChange::Removed,
            },
        ] {
            let mut frame = Vec::new();
            crate::encode_frame(&response, &mut frame).expect("encodes");
            let back: Response = crate::decode_body(&frame[4..]).expect("decodes");
            assert_eq!(back, response);
        }
    }
}
