//! Plain data types of the store API: requests, outcomes and read models. Nothing here
//! knows about SQL, so a second store implementation (PostgreSQL) can reuse them as is.

use std::fmt;
use std::time::Duration;

/// A job's id: assigned at enqueue, never reused while the row exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Lifecycle: `scheduled → available → running → completed | retryable → available … |
/// discarded | cancelled`.
///
/// - `scheduled`: enqueued with `run_at` in the future.
/// - `retryable`: a failed attempt waiting for its backoff (`run_at` = retry time).
///
/// Both are promoted to `available` by the claim path once `run_at` has passed, so a
/// `status` taken between claims may still show a job as `scheduled`/`retryable` for a
/// moment after its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    Scheduled,
    Available,
    Running,
    Retryable,
    Completed,
    Discarded,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Scheduled,
        JobState::Available,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Discarded,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }

    /// Completed, discarded or cancelled: the job will not run again unless retried by hand.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Discarded | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an attempt ended. Stored as text on the attempt row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
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

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 10] = [
        OutcomeKind::Completed,
        OutcomeKind::JsError,
        OutcomeKind::Timeout,
        OutcomeKind::Oom,
        OutcomeKind::Crash,
        OutcomeKind::ProtocolError,
        OutcomeKind::Killed,
        OutcomeKind::Interrupted,
        OutcomeKind::LeaseExpired,
        OutcomeKind::SupervisorRestart,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Completed => "completed",
            OutcomeKind::JsError => "js_error",
            OutcomeKind::Timeout => "timeout",
            OutcomeKind::Oom => "oom",
            OutcomeKind::Crash => "crash",
            OutcomeKind::ProtocolError => "protocol_error",
            OutcomeKind::Killed => "killed",
            OutcomeKind::Interrupted => "interrupted",
            OutcomeKind::LeaseExpired => "lease_expired",
            OutcomeKind::SupervisorRestart => "supervisor_restart",
        }
    }

    pub fn parse(text: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// Kinds a caller may pass to `fail`: everything that uses up an attempt.
    pub fn is_failure(self) -> bool {
        !matches!(self, OutcomeKind::Completed | OutcomeKind::Interrupted)
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exponential backoff: attempt `n` waits between half and all of
/// `min(cap, base * 2^(n-1))` (equal jitter), so never more than `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(3600),
        }
    }
}

/// When a job may first run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunAt {
    #[default]
    Now,
    /// An absolute time, ms since the Unix epoch.
    At(i64),
    /// A delay from the moment the store applies the enqueue.
    After(Duration),
}

/// One job to enqueue. `new` fills the defaults; the builder methods override them.
#[derive(Debug, Clone, PartialEq)]
pub struct EnqueueRequest {
    /// Script name; its current version is resolved when the enqueue is applied and stored
    /// on the job, so adding a new version later does not change queued jobs.
    pub script: String,
    /// JSON text. Validated and size-checked before it reaches the writer.
    pub payload: String,
    pub queue: String,
    /// Higher runs first.
    pub priority: i32,
    pub run_at: RunAt,
    /// `None`: `StoreOptions::default_max_attempts`.
    pub max_attempts: Option<u32>,
    /// `None`: the supervisor's default timeout.
    pub timeout: Option<Duration>,
    /// At most one live (not finished) job per key; a second enqueue returns the first id.
    pub unique_key: Option<String>,
    /// `None`: `StoreOptions::backoff`.
    pub backoff: Option<BackoffPolicy>,
}

impl EnqueueRequest {
    pub const DEFAULT_QUEUE: &'static str = "default";

    pub fn new(script: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            script: script.into(),
            payload: payload.into(),
            queue: Self::DEFAULT_QUEUE.to_owned(),
            priority: 0,
            run_at: RunAt::Now,
            max_attempts: None,
            timeout: None,
            unique_key: None,
            backoff: None,
        }
    }

    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    pub fn run_at(mut self, run_at: RunAt) -> Self {
        self.run_at = run_at;
        self
    }

    pub fn delay(self, delay: Duration) -> Self {
        self.run_at(RunAt::After(delay))
    }

    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    pub fn backoff(mut self, backoff: BackoffPolicy) -> Self {
        self.backoff = Some(backoff);
        self
    }
}

/// Result of one enqueue. `duplicate` means a live job with the same unique key already
/// existed and `id` is that job: nothing was inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueOutcome {
    pub id: JobId,
    pub duplicate: bool,
}

/// Everything a dispatcher needs to run one claimed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: JobId,
    /// This attempt's number, starting at 1. Pass it back to complete/fail/refund.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The epoch that holds the lease. Pass it back to complete/fail/refund.
    pub epoch: i64,
    pub queue: String,
    pub priority: i32,
    pub script_name: String,
    pub script_hash: String,
    pub payload: String,
    pub timeout: Option<Duration>,
    pub lease_until_ms: i64,
    pub created_at_ms: i64,
    /// The network grant of the job's script version (`add_script_with`), as stored: the
    /// supervisor parses and enforces it. Empty: no network.
    pub allow_net: Vec<String>,
}

/// What `claim_batch` returns: the jobs, and, when fewer than asked were ready, the
/// earliest `run_at` of a waiting job so the dispatcher knows when to ask again.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClaimBatch {
    pub jobs: Vec<ClaimedJob>,
    pub next_wake_at_ms: Option<i64>,
}

/// The fencing token of one attempt: all three must match a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttemptRef {
    pub id: JobId,
    pub attempt: u32,
    pub epoch: i64,
}

impl ClaimedJob {
    pub fn attempt_ref(&self) -> AttemptRef {
        AttemptRef {
            id: self.id,
            attempt: self.attempt,
            epoch: self.epoch,
        }
    }
}

/// A JavaScript (or supervisor-side) error, stored on the attempt row. Fields are cut to
/// `StoreOptions::max_error_bytes` each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobError {
    pub name: String,
    pub message: String,
    pub stack: Option<String>,
}

/// What the supervisor observed about one attempt, whatever its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptReport {
    pub worker_pid: Option<u32>,
    /// Captured console output. Cut to `StoreOptions::max_log_bytes`; a cut sets the flag.
    pub logs: String,
    /// The caller already dropped some log output.
    pub logs_truncated: bool,
    /// Measured on the monotonic clock by the caller; `None`: wall time since the claim.
    pub duration: Option<Duration>,
    pub cpu_time: Option<Duration>,
    pub peak_memory_bytes: Option<u64>,
    /// The HTTP requests the attempt made, in the order they were made.
    pub requests: Vec<crate::effects::RequestRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub attempt: AttemptRef,
    /// JSON text of the handler's return value, if any.
    pub result: Option<String>,
    pub report: AttemptReport,
    /// What the attempt staged: applied with the completion or not at all.
    pub effects: crate::effects::AttemptEffects,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub attempt: AttemptRef,
    /// Must satisfy `OutcomeKind::is_failure`.
    pub kind: OutcomeKind,
    pub error: Option<JobError>,
    pub report: AttemptReport,
}

/// Result of a fenced write (complete / fail / refund).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fenced<T> {
    /// The attempt held the lease; the write was applied and committed.
    Applied(T),
    /// The attempt no longer holds the job; nothing was changed.
    Stale(StaleReason),
}

impl<T> Fenced<T> {
    pub fn is_applied(&self) -> bool {
        matches!(self, Fenced::Applied(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleReason {
    NotFound,
    /// What the job looks like now.
    Superseded {
        state: JobState,
        attempt: u32,
        epoch: Option<i64>,
    },
}

/// What `fail` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailDisposition {
    /// Back to the queue after backoff: `retryable` until `run_at_ms`.
    Retry { run_at_ms: i64 },
    /// `attempt == max_attempts`: discarded, with this attempt's reason kept.
    Discarded,
    /// A cancel was requested while it ran.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was waiting (or orphaned by an earlier supervisor) and is now cancelled.
    Cancelled,
    /// It is running under this supervisor: kill the worker, then report the attempt with
    /// `fail(.. Killed ..)`; the store will then mark it cancelled instead of retrying.
    Running {
        attempt: u32,
    },
    AlreadyFinished(JobState),
    NotFound,
}

/// What `remove_queue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRemoval {
    Removed,
    /// The queue holds jobs (of any state); it stays.
    HasJobs(u64),
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Back to `available` now. `max_attempts` is what the job now allows; `script_hash`
    /// is the version it runs, `script_changed` whether the retry switched it to that one.
    Requeued {
        max_attempts: u32,
        script_hash: String,
        script_changed: bool,
    },
    /// Only discarded, cancelled, retryable and scheduled jobs can be retried by hand.
    NotRetryable(JobState),
    /// A live job with the same unique key exists; this one stays as it is.
    UniqueConflict {
        existing: JobId,
    },
    NotFound,
}

/// A stable name of one host's supervisor among those sharing a store (see
/// `StoreOptions::node_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub String);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who holds a claim: a node and one run (epoch) of its supervisor. Every claim is made
/// by an owner and carries a lease the owner renews while it holds the job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    pub node: NodeId,
    pub epoch: i64,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (epoch {})", self.node, self.epoch)
    }
}

/// How to treat jobs left `running` by this node's earlier epochs. (Jobs of other nodes
/// are released only when their lease passes, whatever the mode.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// The caller proved this node's old workers dead (empty cgroups): requeue their jobs
    /// now.
    WorkersDead,
    /// Old workers may still run: requeue each job once its lease has passed; the rest are
    /// picked up by `requeue_expired_leases`.
    WaitForLease,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveryReport {
    /// Put back to `available` (attempt kept, a closed attempt row records why).
    pub requeued: Vec<JobId>,
    /// Their last attempt was their final one.
    pub discarded: Vec<JobId>,
    /// A cancel had been requested.
    pub cancelled: Vec<JobId>,
    /// Still leased (by an earlier epoch of this node, or by another owner); waiting for
    /// the lease to pass.
    pub waiting: usize,
    /// Earliest lease end among the waiting ones.
    pub next_lease_expiry_ms: Option<i64>,
}

/// Age limits for pruning finished jobs (and their attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub completed: Duration,
    /// Discarded and cancelled jobs.
    pub failed: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Finished jobs deleted.
    pub deleted: u64,
    pub transactions: u64,
    /// Expired state keys deleted.
    pub expired_state: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptVersion {
    pub name: String,
    pub hash: String,
    /// False when this exact source, with this network grant, was already stored (it
    /// becomes current again).
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptInfo {
    pub name: String,
    pub hash: String,
    pub created_at_ms: i64,
    pub current: bool,
    pub source_bytes: u64,
    /// The version's network grant, as given (sorted, without duplicates).
    pub allow_net: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub name: String,
    pub paused: bool,
    pub concurrency: Option<u32>,
    pub running: u32,
}

/// Counts of one queue's jobs per state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueCounts {
    pub queue: String,
    pub paused: bool,
    pub concurrency: Option<u32>,
    pub scheduled: u64,
    pub available: u64,
    pub running: u64,
    pub retryable: u64,
    pub completed: u64,
    pub discarded: u64,
    pub cancelled: u64,
}

impl QueueCounts {
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Scheduled => self.scheduled,
            JobState::Available => self.available,
            JobState::Running => self.running,
            JobState::Retryable => self.retryable,
            JobState::Completed => self.completed,
            JobState::Discarded => self.discarded,
            JobState::Cancelled => self.cancelled,
        }
    }

    pub(crate) fn add(&mut self, state: JobState, n: u64) {
        let slot = match state {
            JobState::Scheduled => &mut self.scheduled,
            JobState::Available => &mut self.available,
            JobState::Running => &mut self.running,
            JobState::Retryable => &mut self.retryable,
            JobState::Completed => &mut self.completed,
            JobState::Discarded => &mut self.discarded,
            JobState::Cancelled => &mut self.cancelled,
        };
        *slot += n;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCounts {
    pub epoch: i64,
    pub queues: Vec<QueueCounts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    pub id: JobId,
    pub queue: String,
    pub script_name: String,
    pub script_hash: String,
    pub state: JobState,
    pub priority: i32,
    pub run_at_ms: i64,
    pub attempt: u32,
    pub max_attempts: u32,
    pub timeout: Option<Duration>,
    pub backoff: Option<BackoffPolicy>,
    pub unique_key: Option<String>,
    pub payload: String,
    pub result: Option<String>,
    pub epoch: Option<i64>,
    pub lease_until_ms: Option<i64>,
    pub attempted_at_ms: Option<i64>,
    pub cancel_requested: bool,
    pub last_outcome: Option<OutcomeKind>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// The node of the last claim (with `epoch`, its owner); `None` for a job never
    /// claimed, or claimed before owners were recorded.
    pub owner_node: Option<NodeId>,
    /// The schedule that enqueued the job, and the slot it fired for (a manual run of a
    /// schedule has the name and no slot).
    pub schedule_name: Option<String>,
    pub schedule_slot_ms: Option<i64>,
    /// The job whose completion enqueued this one (`None` also once that job was pruned).
    pub parent: Option<JobId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptInfo {
    pub attempt: u32,
    pub epoch: Option<i64>,
    pub worker_pid: Option<u32>,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: i64,
    pub duration_ms: Option<u64>,
    pub outcome: OutcomeKind,
    pub error: Option<JobError>,
    pub logs: String,
    pub logs_truncated: bool,
    pub cpu_ms: Option<u64>,
    pub peak_memory_bytes: Option<u64>,
    /// The HTTP requests of the attempt, in the order they were made.
    pub requests: Vec<crate::effects::RequestRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDetail {
    pub job: JobInfo,
    /// Oldest first.
    pub attempts: Vec<AttemptInfo>,
    /// The current version of the job's script, which a `retry --latest` would run.
    pub current_script_hash: Option<String>,
    /// The jobs its completion enqueued, oldest first: at most [`MAX_LISTED_CHILDREN`].
    pub children: Vec<JobId>,
}

/// How many children `get_job` lists at most (the oldest).
pub const MAX_LISTED_CHILDREN: u32 = 1000;

/// Filters for `list_jobs`; newest first. Payload and result are left out of listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub queue: Option<String>,
    pub script: Option<String>,
    /// Only jobs with an id below this (for paging).
    pub before: Option<JobId>,
    pub limit: u32,
}

impl Default for JobFilter {
    fn default() -> Self {
        Self {
            state: None,
            queue: None,
            script: None,
            before: None,
            limit: 100,
        }
    }
}

/// The PRAGMAs in force on one connection, read back from SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub journal_mode: String,
    /// 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    pub synchronous: i64,
    pub busy_timeout_ms: i64,
    pub foreign_keys: bool,
    pub read_only: bool,
    pub query_planner_stability_guarantee: bool,
    pub cache_size: i64,
    pub journal_size_limit: i64,
    pub wal_autocheckpoint: i64,
    /// 0 default, 1 FILE, 2 MEMORY.
    pub temp_store: i64,
    pub user_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub writer: ConnectionSettings,
    pub reader: ConnectionSettings,
}
