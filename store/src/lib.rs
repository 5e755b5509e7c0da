//! The durable job store: scripts, jobs, attempts, queues and schedules. The contract is
//! [`JobStore`] (`api.rs`), implemented by [`SqliteStore`] (this file and the SQL
//! submodules; no rusqlite type crosses the crate's boundary) and held by the supervisor
//! as [`AnyStore`]. The domain types are in `types.rs` and `schedule/`, the lifecycle
//! rules (retry, streaks, held runs, counters) as pure functions in [`policy`].
//!
//! Shape of the SQLite store: one writer thread owns the only read-write connection.
//! Every write method sends a command over a channel and returns a [`Pending`] reply that
//! can be `.await`ed (async callers: the dispatcher) or `.wait()`ed (threads, tests). The
//! writer drains all queued commands (up to `max_commands_per_transaction`) into one
//! `BEGIN IMMEDIATE` transaction, each command in its own SAVEPOINT, and replies to every
//! caller only after COMMIT returned (group commit). Reads (status, listings) take one of
//! a few connections opened with `SQLITE_OPEN_READ_ONLY` (`read_pool.rs`); the inherent
//! reads block the caller's thread, the `JobStoreRead` reads run on tokio's blocking pool.
//! [`SqliteStore::open_read_only`] opens the same reads without a writer
//! ([`ReadOnlyStore`], `read_only.rs`): it writes nothing, not even a new epoch.
//!
//! Decisions worth knowing (see the item docs for details):
//! - A job names a script; the script's *current version* is resolved at enqueue time and
//!   stored on the job (`script_id`), so a queued job runs the code it was enqueued with.
//! - `scheduled` and `retryable` are real states with their own partial index; the claim
//!   path promotes due ones to `available` (at most `PROMOTE_BATCH` per claim).
//! - Unique keys are unique among live jobs only; a finished job frees its key.
//! - The attempt row is written once, when the attempt ends (no insert at claim).
//! - Retry by hand keeps the attempt counter and raises `max_attempts` to `attempt + 1`
//!   when needed (one more try; history keeps distinct attempt numbers).
//! - Every claim records its owner (`owner_node` + `epoch`: the epoch is one counter per
//!   file, so it alone fences) and a lease the owner renews (`renew_leases`). Leases
//!   `recover` leaves waiting are kept in the writer's memory: `requeue_expired_leases`
//!   never scans the table, and re-reads each lease before it releases the job.
//! - What an attempt staged (state writes, child jobs: `effects.rs`) is applied by its
//!   `complete`, in the completion's transaction, or not at all; a failed version check or
//!   an invalid effect turns the completion into a failure of the attempt. State versions
//!   come from one counter of the store (the `meta` row `state_version`), so a version
//!   never repeats for a key. A completion without effects costs what it cost before.

pub mod failpoint;
pub mod limits;
pub mod policy;
pub mod schedule;
pub mod units;

mod api;
mod backoff;
#[doc(hidden)]
pub mod bench_support;
mod clock;
mod contract;
mod effects;
mod error;
mod jobs;
mod lifecycle;
mod read;
mod read_only;
mod read_pool;
mod recovery;
mod schedules;
mod schema;
mod types;
mod writer;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

pub use api::{AnyStore, JobStore, JobStoreRead};
pub use clock::{Clock, ManualClock, SystemClock};
pub use effects::*;
pub use error::{BoxError, StoreError};
pub use jobs::{script_version_hash, sha256_hex};
pub use read_only::ReadOnlyStore;
pub use types::*;

use crate::schedule::{
    FireReport, FiredRun, ReconcileReport, ScheduleDef, ScheduleDetail, ScheduleInfo, UpsertOutcome,
};
use read::Reader;
use read_pool::ReadPool;
use schedules::ScheduleReader;
use writer::{Command, Counters, Reply};

/// Durability of each commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL at every commit: acknowledged work survives power loss. Default.
    #[default]
    Full,
    /// Opt-in: no fsync at commit. Survives a process crash (kill -9) but an OS crash or
    /// power loss can roll back the commits since the last checkpoint, i.e. acknowledged
    /// enqueues and completions. The file stays consistent.
    Normal,
}

#[derive(Clone)]
pub struct StoreOptions {
    pub synchronous: Synchronous,
    /// How long a write waits for a lock held by another connection before `Busy`.
    pub busy_timeout: Duration,
    /// Page cache of the write connection. 16 MiB: with batched claims and group commits
    /// a bigger cache measured no faster on 1M + 1M rows, and it is most of the daemon's
    /// memory (64 MiB put the daemon at 117 MiB after the startup scan of a big store).
    pub cache_size_kib: u32,
    pub max_payload_bytes: usize,
    pub max_result_bytes: usize,
    pub max_script_bytes: usize,
    /// Logs kept per attempt; more is cut and flagged.
    pub max_log_bytes: usize,
    /// Per error field (name, message, stack).
    pub max_error_bytes: usize,
    pub default_max_attempts: u32,
    /// Used for the lease when a job has no timeout of its own.
    pub default_timeout: Duration,
    /// Lease = claim time + timeout + grace. Only matters after a supervisor crash.
    pub lease_grace: Duration,
    pub backoff: BackoffPolicy,
    /// Group-commit cap: commands per transaction.
    pub max_commands_per_transaction: usize,
    /// Rows deleted per pruning transaction.
    pub prune_batch: u32,
    /// Optional quota in pages (4 KiB each): writes past it fail with `DiskFull`.
    pub max_page_count: Option<u64>,
    pub clock: Arc<dyn Clock>,
    /// This host's supervisor among those sharing the store: stamped on every claim, and
    /// recovery releases at once only the jobs of this node's earlier runs. `None`: the
    /// host name and the database's directory, `<hostname>:<dir>` (stable across restarts,
    /// distinct for two supervisors on one host with different data dirs).
    pub node_id: Option<String>,
    /// How far each lease renewal reaches ahead (`renew_leases(now + lease_length)`); the
    /// dispatcher renews every third of it. A claim's first lease is its timeout plus
    /// `lease_grace`, and a renewal never shortens a lease.
    pub lease_length: Duration,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("synchronous", &self.synchronous)
            .field("busy_timeout", &self.busy_timeout)
            .field("cache_size_kib", &self.cache_size_kib)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("max_result_bytes", &self.max_result_bytes)
            .field("max_script_bytes", &self.max_script_bytes)
            .field("max_log_bytes", &self.max_log_bytes)
            .field("max_error_bytes", &self.max_error_bytes)
            .field("default_max_attempts", &self.default_max_attempts)
            .field("default_timeout", &self.default_timeout)
            .field("lease_grace", &self.lease_grace)
            .field("backoff", &self.backoff)
            .field(
                "max_commands_per_transaction",
                &self.max_commands_per_transaction,
            )
            .field("prune_batch", &self.prune_batch)
            .field("max_page_count", &self.max_page_count)
            .field("clock_now_ms", &self.clock.now_ms())
            .field("node_id", &self.node_id)
            .field("lease_length", &self.lease_length)
            .finish()
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            cache_size_kib: 16 * 1024,
            max_payload_bytes: 1024 * 1024,
            max_result_bytes: 4 * 1024 * 1024,
            max_script_bytes: 4 * 1024 * 1024,
            max_log_bytes: 64 * 1024,
            max_error_bytes: 16 * 1024,
            default_max_attempts: 3,
            default_timeout: Duration::from_secs(15 * 60),
            lease_grace: Duration::from_secs(30),
            backoff: BackoffPolicy::default(),
            max_commands_per_transaction: 256,
            prune_batch: 500,
            max_page_count: None,
            clock: Arc::new(SystemClock),
            node_id: None,
            lease_length: Duration::from_secs(30),
        }
    }
}

/// Cheap-clone handle to an open SQLite store. The writer thread stops when the last
/// handle is dropped (or on `close`). Implements [`JobStore`]; its inherent methods are
/// the same operations with `Pending` replies and blocking reads, plus the SQLite-only
/// maintenance (checkpoint, settings, quick_check, explain_claim).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    owner: Owner,
    options: StoreOptions,
    commands: mpsc::Sender<Command>,
    reader: Reader,
    schedule_reader: ScheduleReader,
    pool: Arc<ReadPool>,
    counters: Arc<Counters>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("owner", &self.inner.owner)
            .finish()
    }
}

/// A reply that will arrive once the writer committed (or failed) the command. `.await`
/// it from async code, or `.wait()` from a plain thread (never inside a tokio runtime:
/// that panics). The command is already sent when this exists, so several commands can be
/// issued back to back and land in one transaction.
#[must_use = "the command is sent, but its outcome is only known by awaiting or waiting"]
pub struct Pending<T> {
    state: PendingState<T>,
}

enum PendingState<T> {
    Ready(Option<Result<T, StoreError>>),
    Waiting(oneshot::Receiver<Result<T, StoreError>>),
}

impl<T> Pending<T> {
    fn ready(result: Result<T, StoreError>) -> Self {
        Self {
            state: PendingState::Ready(Some(result)),
        }
    }

    /// Blocks the current thread until the reply arrives.
    pub fn wait(self) -> Result<T, StoreError> {
        match self.state {
            PendingState::Ready(result) => result.unwrap_or(Err(StoreError::Closed)),
            PendingState::Waiting(receiver) => {
                receiver.blocking_recv().unwrap_or(Err(StoreError::Closed))
            }
        }
    }
}

// Nothing is ever pinned through a `Pending`: the value only moves out by `take`, and the
// receiver is `Unpin`.
impl<T> Unpin for Pending<T> {}

impl<T> Future for Pending<T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            PendingState::Ready(result) => {
                Poll::Ready(result.take().unwrap_or(Err(StoreError::Closed)))
            }
            PendingState::Waiting(receiver) => Pin::new(receiver)
                .poll(cx)
                .map(|reply| reply.unwrap_or(Err(StoreError::Closed))),
        }
    }
}

/// The checks and the writer connection of [`SqliteStore::open`], with the new epoch.
fn open_checked(
    path: &Path,
    options: &StoreOptions,
) -> Result<(rusqlite::Connection, i64), StoreError> {
    create_private(path)?;
    schema::preflight(path)?;
    let conn = schema::open_writer(path, options)?;
    let epoch = schema::start_epoch(path, &conn)?;
    Ok((conn, epoch))
}

/// Less free space than this on the database's file system counts as full: SQLite needs
/// room for its -shm file and a few WAL frames to open at all.
const FULL_BELOW_BYTES: u64 = 1 << 20;

/// Whether the file system holding `path` is (all but) full, for the space this process
/// may use (root may use the reserved blocks).
fn file_system_full(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let Ok(c_dir) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statvfs writes only into `stats`; all-zero is a valid value of the struct.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid out pointer.
    if unsafe { libc::statvfs(c_dir.as_ptr(), &mut stats) } != 0 {
        return false;
    }
    // SAFETY: geteuid has no preconditions.
    let blocks = if unsafe { libc::geteuid() } == 0 {
        stats.f_bfree
    } else {
        stats.f_bavail
    };
    blocks.saturating_mul(stats.f_frsize) < FULL_BELOW_BYTES
}

/// Creates a missing database file empty and 0600 whatever the umask: SQLite would create
/// it 0644, and gives its `-wal` and `-shm` files the database file's mode. An existing
/// file is left as it is.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::Open {
            path: path.to_path_buf(),
            reason: err.to_string(),
            source: Some(Box::new(err)),
        }),
    }
}

/// `<hostname>:<directory of the database>`: see `StoreOptions::node_id`.
pub fn default_node_id(path: &Path) -> String {
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    let host = if unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0 {
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        String::from_utf8_lossy(&name[..end]).into_owned()
    } else {
        "localhost".to_owned()
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!("{host}:{}", dir.display())
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`. An existing file is checked read-only first
    /// (SQLite header, `quick_check`, application id, schema version) and refused untouched
    /// if anything is wrong. Then: WAL, migrations, and a new supervisor epoch.
    ///
    /// Jobs left `running` by an earlier epoch stay so until `recover` is called.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let (conn, epoch) = open_checked(&path, &options).map_err(|err| {
            // SQLite reports a full disk at open as an I/O error of whatever it was doing
            // (creating the -shm file, the first read of quick_check): a condition that
            // passes once space is freed, not a broken database.
            if !err.is_transient() && file_system_full(&path) {
                StoreError::DiskFull { path: path.clone() }
            } else {
                err
            }
        })?;
        let pool = Arc::new(ReadPool::new(
            path.clone(),
            options.clone(),
            schema::open_reader(&path, &options)?,
        ));
        let reader = Reader::new(pool.clone());
        let schedule_reader = ScheduleReader::new(pool.clone());
        let (commands, receiver) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let owner = Owner {
            node: NodeId(
                options
                    .node_id
                    .clone()
                    .unwrap_or_else(|| default_node_id(&path)),
            ),
            epoch,
        };
        let writer = writer::Writer::new(
            conn,
            path.clone(),
            owner.clone(),
            options.clone(),
            counters.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("jobvisor-store".into())
            .spawn(move || writer.run(receiver))
            .map_err(|err| StoreError::Open {
                path: path.clone(),
                reason: format!("cannot start the writer thread: {err}"),
                source: Some(Box::new(err)),
            })?;
        tracing::info!(path = %path.display(), node = %owner.node, epoch, "store opened");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                owner,
                options,
                commands,
                reader,
                schedule_reader,
                pool,
                counters,
                writer_thread: Mutex::new(Some(thread)),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// This supervisor's epoch: stamped on every claim, required by every fenced write.
    pub fn epoch(&self) -> i64 {
        self.inner.owner.epoch
    }

    /// The owner this handle claims as: this node and this epoch.
    pub fn owner(&self) -> &Owner {
        &self.inner.owner
    }

    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// Starts a group of writes that are sent together and therefore always land in one
    /// transaction (one fsync): e.g. a dispatcher's finished jobs plus its next claim.
    /// Sent when `send` is called or the batch is dropped.
    pub fn batch(&self) -> WriteBatch<'_> {
        WriteBatch {
            store: self,
            commands: Vec::new(),
        }
    }

    /// The last failed write and how long ago it failed, if that is less than `within`
    /// ago (a full disk, a foreign lock).
    pub fn recent_write_failure(&self, within: Duration) -> Option<(String, Duration)> {
        let last = self
            .inner
            .counters
            .last_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .map(|(message, at)| (message.clone(), at.elapsed()))
            .filter(|(_, ago)| *ago < within)
    }

    /// Transactions and commands the writer has committed so far.
    pub fn writer_stats(&self) -> WriterStats {
        WriterStats {
            transactions: self.inner.counters.transactions.load(Ordering::Relaxed),
            commands: self.inner.counters.commands.load(Ordering::Relaxed),
            failed_transactions: self
                .inner
                .counters
                .failed_transactions
                .load(Ordering::Relaxed),
        }
    }

    fn send<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Pending<T> {
        let (reply, receiver) = oneshot::channel();
        match self.inner.commands.send(make(reply)) {
            Ok(()) => Pending {
                state: PendingState::Waiting(receiver),
            },
            Err(_) => Pending::ready(Err(StoreError::Closed)),
        }
    }

    /// Adds a script version (content-addressed by SHA-256 of the source) and makes it the
    /// current version of `name`. A multi-file script's source is its canonical bundle
    /// text (`jobvisor_protocol::bundle`), refused unless well formed and within the caps.
    pub fn add_script(&self, name: &str, source: &str) -> Pending<ScriptVersion> {
        self.add_script_with(name, source, Vec::new())
    }

    /// [`SqliteStore::add_script`] with a network grant: the hosts the version may fetch
    /// from (`scripts add --allow-net`), stored as given, sorted and without duplicates,
    /// for the supervisor to parse and enforce. The grant is part of the version: the same
    /// source with another grant is a new version (its hash covers both, see
    /// [`script_version_hash`]), so a queued job keeps the grant it was enqueued under.
    pub fn add_script_with(
        &self,
        name: &str,
        source: &str,
        allow_net: Vec<String>,
    ) -> Pending<ScriptVersion> {
        let allow_net = match check_allow_net(allow_net) {
            Ok(allow_net) => allow_net,
            Err(message) => return Pending::ready(Err(StoreError::InvalidRequest(message))),
        };
        if let Err(message) = limits::check_name(limits::NameKind::Script, name) {
            return Pending::ready(Err(StoreError::InvalidRequest(message)));
        }
        if let Err(message) = check_bundle(source) {
            return Pending::ready(Err(StoreError::InvalidRequest(message)));
        }
        if source.len() > self.inner.options.max_script_bytes {
            return Pending::ready(Err(StoreError::InvalidRequest(format!(
                "script source is {} bytes, above the limit of {}",
                source.len(),
                self.inner.options.max_script_bytes
            ))));
        }
        let (name, source) = (name.to_owned(), source.to_owned());
        self.send(|reply| Command::AddScript {
            name,
            source,
            allow_net,
            reply,
        })
    }

    /// Enqueues one job. A duplicate unique key is not an error: the outcome says so and
    /// carries the existing job's id.
    pub fn enqueue(&self, request: EnqueueRequest) -> Pending<EnqueueOutcome> {
        if let Err(err) = jobs::validate_enqueue(&self.inner.options, &request) {
            return Pending::ready(Err(err));
        }
        self.send(|reply| Command::EnqueueOne { request, reply })
    }

    /// Enqueues many jobs atomically: all are inserted (or found duplicate), or none is.
    /// Outcomes are in request order. Keep bulks to a few thousand: one bulk is one command
    /// and holds the writer while it runs.
    pub fn enqueue_bulk(&self, requests: Vec<EnqueueRequest>) -> Pending<Vec<EnqueueOutcome>> {
        for request in &requests {
            if let Err(err) = jobs::validate_enqueue(&self.inner.options, request) {
                return Pending::ready(Err(err));
            }
        }
        self.send(|reply| Command::Enqueue { requests, reply })
    }

    /// Claims up to `max` jobs in priority (higher first) → run_at → id order, skipping
    /// paused queues and honouring each queue's concurrency cap. Each claimed job's
    /// `attempt` is incremented and its lease stamped with this epoch.
    pub fn claim_batch(&self, max: usize) -> Pending<ClaimBatch> {
        self.send(|reply| Command::Claim { max, reply })
    }

    /// Records a successful attempt, fenced on (id, attempt, epoch, running), and applies
    /// what it staged in the same transaction: its state writes (each check verified
    /// against the committed rows) and its child jobs (enqueued as `enqueue` would, with
    /// the job as their parent). If a check fails or an effect is invalid, nothing staged
    /// is applied and the attempt is recorded as failed instead ([`Completed`]).
    pub fn complete(&self, completion: Completion) -> Pending<Fenced<Completed>> {
        if let Some(result) = &completion.result
            && result.len() > self.inner.options.max_result_bytes
        {
            return Pending::ready(Err(StoreError::InvalidRequest(format!(
                "result is {} bytes, above the limit of {}",
                result.len(),
                self.inner.options.max_result_bytes
            ))));
        }
        self.send(|reply| Command::Complete { completion, reply })
    }

    /// Records a failed attempt, fenced. The store decides: retry after backoff while
    /// `attempt < max_attempts`, otherwise discard (keeping this reason).
    pub fn fail(&self, failure: Failure) -> Pending<Fenced<FailDisposition>> {
        if !failure.kind.is_failure() {
            return Pending::ready(Err(StoreError::InvalidRequest(format!(
                "fail() takes a failure kind, not {}",
                failure.kind
            ))));
        }
        self.send(|reply| Command::Fail { failure, reply })
    }

    /// A graceful drain interrupted the attempt: it does not count. The job goes back to
    /// `available` with `attempt - 1`, and an `interrupted` attempt row is written.
    pub fn refund(&self, attempt: AttemptRef, report: AttemptReport) -> Pending<Fenced<()>> {
        self.send(|reply| Command::Refund {
            attempt,
            report,
            reply,
        })
    }

    pub fn cancel(&self, id: JobId) -> Pending<CancelOutcome> {
        self.send(|reply| Command::Cancel { id, reply })
    }

    /// Puts a discarded, cancelled, retryable or scheduled job back to `available` now;
    /// `latest` first switches it to the current version of its script.
    pub fn retry(&self, id: JobId, latest: bool) -> Pending<RetryOutcome> {
        self.send(|reply| Command::Retry { id, latest, reply })
    }

    /// Pauses or resumes a queue; an unknown one is created only with `create` (the
    /// answer is `false` when it was unknown and not created).
    pub fn set_queue_paused(&self, queue: &str, paused: bool, create: bool) -> Pending<bool> {
        let queue = queue.to_owned();
        self.send(|reply| Command::SetQueuePaused {
            queue,
            paused,
            create,
            reply,
        })
    }

    /// Removes a queue that holds no job.
    pub fn remove_queue(&self, queue: &str) -> Pending<QueueRemoval> {
        let queue = queue.to_owned();
        self.send(|reply| Command::RemoveQueue { queue, reply })
    }

    /// `None` removes the cap.
    pub fn set_queue_concurrency(&self, queue: &str, limit: Option<u32>) -> Pending<()> {
        let queue = queue.to_owned();
        self.send(|reply| Command::SetQueueConcurrency {
            queue,
            limit,
            reply,
        })
    }

    /// Deals with jobs left `running` by earlier epochs. Call once after `open`.
    pub fn recover(&self, mode: RecoveryMode) -> Pending<RecoveryReport> {
        self.send(|reply| Command::Recover { mode, reply })
    }

    /// Requeues the jobs `recover` left waiting whose lease has passed (per the store's
    /// clock) and was not renewed since: no table scan.
    pub fn requeue_expired_leases(&self) -> Pending<RecoveryReport> {
        self.send(|reply| Command::RequeueExpired { reply })
    }

    /// Extends to at least `until_ms` the lease of every job `owner` holds (running,
    /// claimed by that node in that epoch); the answer is how many were extended.
    pub fn renew_leases(&self, owner: &Owner, until_ms: i64) -> Pending<u64> {
        let owner = owner.clone();
        self.send(|reply| Command::RenewLeases {
            owner,
            until_ms,
            reply,
        })
    }

    /// Forces a checkpoint of the WAL into the database file (TRUNCATE when `truncate`).
    pub fn checkpoint(&self, truncate: bool) -> Pending<()> {
        self.send(|reply| Command::Checkpoint { truncate, reply })
    }

    /// Deletes finished jobs older than the retention, then the state keys that expired
    /// (the store clock's now), in transactions of
    /// `prune_batch` rows so other commands interleave. Blocking; from async code run it
    /// with `spawn_blocking`.
    pub fn prune_blocking(&self, retention: Retention) -> Result<PruneReport, StoreError> {
        let now = self.inner.options.clock.now_ms();
        let completed_before = now.saturating_sub(duration_ms(retention.completed));
        let failed_before = now.saturating_sub(duration_ms(retention.failed));
        let mut report = PruneReport::default();
        let (first, last) = self
            .inner
            .reader
            .prune_range(completed_before.max(failed_before))?
            .unwrap_or((1, 0));
        let mut after = first - 1;
        while after < last {
            let step = jobs::PruneStep {
                after,
                last,
                completed_before,
                failed_before,
                batch: self.inner.options.prune_batch.max(1),
            };
            let done = self
                .send(|reply| Command::PruneStep { step, reply })
                .wait()?;
            report.deleted += done.deleted;
            report.transactions += 1;
            after = done.next_after;
        }
        let batch = self.inner.options.prune_batch.max(1);
        loop {
            let deleted = self
                .send(|reply| Command::PruneState { now, batch, reply })
                .wait()?;
            report.expired_state += deleted;
            report.transactions += 1;
            if deleted < u64::from(batch) {
                break;
            }
        }
        Ok(report)
    }

    /// Writes one state key outside any attempt (the CLI's `state set` and `state
    /// delete`: a delete is a `None` value), with its check, through the writer.
    pub fn state_set(&self, write: StateWrite) -> Pending<StateWriteOutcome> {
        if let Err(message) = effects::check_write(&write) {
            return Pending::ready(Err(StoreError::InvalidRequest(message)));
        }
        self.send(|reply| Command::StateSet { write, reply })
    }

    /// One state key; `None` when it does not exist or has expired. Blocking read.
    pub fn state_get(&self, namespace: &str, key: &str) -> Result<Option<StateEntry>, StoreError> {
        self.inner.reader.state_get(namespace, key)
    }

    /// A page of a namespace's keys in key order. Blocking read.
    pub fn state_list(&self, query: &StateQuery) -> Result<StatePage, StoreError> {
        self.inner.reader.state_list(query)
    }

    /// The PRAGMAs in force on both connections, read back from SQLite.
    pub fn settings_blocking(&self) -> Result<StoreSettings, StoreError> {
        let writer = self.send(|reply| Command::Settings { reply }).wait()?;
        let reader = self.inner.reader.settings()?;
        Ok(StoreSettings { writer, reader })
    }

    /// Stops the writer after it finished what was queued, checkpoints and closes. Other
    /// handles get `StoreError::Closed` afterwards.
    pub fn close(self) -> Result<(), StoreError> {
        self.inner.pool.close();
        let (reply, receiver) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Shutdown { reply: Some(reply) })
            .is_ok()
        {
            let _ = receiver.blocking_recv();
        }
        self.inner.join_writer();
        Ok(())
    }

    // ----- schedules (see `crate::schedule` for the semantics) -----

    /// Creates or updates a schedule by name. An update keeps the schedule's state
    /// (enabled, failure streak, last slot and runs) and recomputes `next_run_at` only if
    /// the timing changed. A definition identical to the stored one writes nothing.
    pub fn upsert_schedule(&self, def: ScheduleDef) -> Pending<UpsertOutcome> {
        if let Err(err) = schedules::validate_def(&self.inner.options, &def) {
            return Pending::ready(Err(err));
        }
        self.send(|reply| Command::UpsertSchedule {
            def: Box::new(def),
            reply,
        })
    }

    /// Removes a schedule; its jobs (live or finished) stay. False: there was none.
    pub fn remove_schedule(&self, name: &str) -> Pending<bool> {
        let name = name.to_owned();
        self.send(|reply| Command::RemoveSchedule { name, reply })
    }

    /// Enabling resets the failure streak, clears `disabled_reason` and recomputes
    /// `next_run_at` from now (never at or before the last consumed slot). Disabling
    /// records "disabled by an operator". False: no such schedule.
    pub fn set_schedule_enabled(&self, name: &str, enabled: bool) -> Pending<bool> {
        let name = name.to_owned();
        self.send(|reply| Command::SetScheduleEnabled {
            name,
            enabled,
            reply,
        })
    }

    /// Makes the config-declared schedules exactly `defs` (all marked source `config`):
    /// upserted (keeping history), and config schedules not in `defs` removed. Schedules
    /// created from the CLI are left alone unless `defs` names them (then they become
    /// config schedules). One transaction.
    pub fn reconcile_config_schedules(&self, defs: Vec<ScheduleDef>) -> Pending<ReconcileReport> {
        let mut names = std::collections::HashSet::new();
        for def in &defs {
            if let Err(err) = schedules::validate_def(&self.inner.options, def) {
                return Pending::ready(Err(err));
            }
            if !names.insert(def.name.as_str()) {
                return Pending::ready(Err(StoreError::InvalidRequest(format!(
                    "schedule {:?} is declared twice",
                    def.name
                ))));
            }
        }
        self.send(|reply| Command::ReconcileSchedules { defs, reply })
    }

    /// Fires every enabled schedule whose `next_run_at` is at or before the store clock's
    /// now: per schedule at most one job (missed slots coalesced), the enqueue and the
    /// advance of `next_run_at` in one transaction. Call it at `next_due_ms` of the
    /// previous report, after any schedule change, and at startup.
    pub fn fire_due_schedules(&self) -> Pending<FireReport> {
        self.send(|reply| Command::FireDueSchedules { reply })
    }

    /// `schedules run NAME`: enqueues one run now, outside the slots (unique key
    /// `schedule:<name>:manual:<now_ms>`), without moving `next_run_at`. `None`: no such
    /// schedule.
    pub fn fire_schedule_now(&self, name: &str) -> Pending<Option<FiredRun>> {
        let name = name.to_owned();
        self.send(|reply| Command::FireScheduleNow { name, reply })
    }

    /// All schedules, by name. Blocking read.
    pub fn list_schedules(&self) -> Result<Vec<ScheduleInfo>, StoreError> {
        self.inner.schedule_reader.list_schedules()
    }

    /// One schedule with its `recent_runs` newest jobs. Blocking read.
    pub fn get_schedule(
        &self,
        name: &str,
        recent_runs: u32,
    ) -> Result<Option<ScheduleDetail>, StoreError> {
        self.inner.schedule_reader.get_schedule(name, recent_runs)
    }

    // ----- reads (read-only connection, on the caller's thread) -----

    pub fn get_job(&self, id: JobId) -> Result<Option<JobDetail>, StoreError> {
        self.inner.reader.get_job(id)
    }

    pub fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobInfo>, StoreError> {
        self.inner.reader.list_jobs(filter)
    }

    pub fn list_scripts(&self) -> Result<Vec<ScriptInfo>, StoreError> {
        self.inner.reader.list_scripts()
    }

    /// Source of one script version, for sending to a worker.
    pub fn script_source(&self, name: &str, hash: &str) -> Result<Option<String>, StoreError> {
        self.inner.reader.script_source(name, hash)
    }

    pub fn list_queues(&self) -> Result<Vec<QueueInfo>, StoreError> {
        self.inner.reader.list_queues()
    }

    /// Job counts per queue and state. Scans the jobs table (on the read connection, so
    /// the writer is not blocked); meant for `status`, not for a hot loop.
    pub fn counts(&self) -> Result<StatusCounts, StoreError> {
        let queues = self.inner.reader.counts()?;
        Ok(StatusCounts {
            epoch: self.inner.owner.epoch,
            queues,
        })
    }

    /// `PRAGMA quick_check` through the read connection.
    pub fn quick_check(&self) -> Result<(), StoreError> {
        self.inner.reader.quick_check()
    }

    /// The query plan of the claim statement, one line per plan row.
    pub fn explain_claim(&self) -> Result<Vec<String>, StoreError> {
        self.inner.reader.explain(jobs::CLAIM_ONE_QUEUE_SQL)
    }
}

/// Counters of the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    pub transactions: u64,
    /// Commands run, including ones that failed on their own.
    pub commands: u64,
    pub failed_transactions: u64,
}

/// Writes collected on the caller's side and handed to the writer as one message, so
/// they share a transaction. See `SqliteStore::batch`.
#[must_use = "a write batch does nothing until it is sent (or dropped)"]
pub struct WriteBatch<'a> {
    store: &'a SqliteStore,
    commands: Vec<Command>,
}

impl WriteBatch<'_> {
    fn push<T>(&mut self, make: impl FnOnce(Reply<T>) -> Command) -> Pending<T> {
        let (reply, receiver) = oneshot::channel();
        self.commands.push(make(reply));
        Pending {
            state: PendingState::Waiting(receiver),
        }
    }

    pub fn complete(&mut self, completion: Completion) -> Pending<Fenced<Completed>> {
        self.push(|reply| Command::Complete { completion, reply })
    }

    pub fn fail(&mut self, failure: Failure) -> Pending<Fenced<FailDisposition>> {
        if !failure.kind.is_failure() {
            return Pending::ready(Err(StoreError::InvalidRequest(format!(
                "fail() takes a failure kind, not {}",
                failure.kind
            ))));
        }
        self.push(|reply| Command::Fail { failure, reply })
    }

    pub fn refund(&mut self, attempt: AttemptRef, report: AttemptReport) -> Pending<Fenced<()>> {
        self.push(|reply| Command::Refund {
            attempt,
            report,
            reply,
        })
    }

    pub fn claim_batch(&mut self, max: usize) -> Pending<ClaimBatch> {
        self.push(|reply| Command::Claim { max, reply })
    }

    pub fn enqueue(&mut self, request: EnqueueRequest) -> Pending<EnqueueOutcome> {
        if let Err(err) = jobs::validate_enqueue(&self.store.inner.options, &request) {
            return Pending::ready(Err(err));
        }
        self.push(|reply| Command::EnqueueOne { request, reply })
    }

    /// Hands the writes to the writer thread. Replies arrive through their `Pending`s.
    pub fn send(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if self.commands.is_empty() {
            return;
        }
        let commands = std::mem::take(&mut self.commands);
        // If the writer is gone the commands are dropped, and so their replies: every
        // `Pending` of this batch then reports `Closed`.
        let _ = self.store.inner.commands.send(Command::Group(commands));
    }
}

impl Drop for WriteBatch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Inner {
    fn join_writer(&self) {
        let handle = match self.writer_thread.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "store writer thread panicked");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.pool.close();
        let _ = self.commands.send(Command::Shutdown { reply: None });
        self.join_writer();
    }
}

pub fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Most entries of a script's network grant, and the longest entry.
const MAX_ALLOW_NET_ENTRIES: usize = 256;
const MAX_ALLOW_NET_ENTRY_BYTES: usize = 300;

/// A network grant in its stored form (sorted, without duplicates), or why it is refused:
/// an empty or overlong entry, or too many. Entries are not parsed here.
fn check_allow_net(mut allow_net: Vec<String>) -> Result<Vec<String>, String> {
    allow_net.sort();
    allow_net.dedup();
    if allow_net.len() > MAX_ALLOW_NET_ENTRIES {
        return Err(format!(
            "allow_net has {} entries, above the limit of {MAX_ALLOW_NET_ENTRIES}",
            allow_net.len()
        ));
    }
    if let Some(entry) = allow_net
        .iter()
        .find(|entry| entry.trim().is_empty() || entry.len() > MAX_ALLOW_NET_ENTRY_BYTES)
    {
        return Err(format!(
            "allow_net entry `{entry}` must be 1..={MAX_ALLOW_NET_ENTRY_BYTES} bytes and not blank"
        ));
    }
    Ok(allow_net)
}

/// Refuses a bundle source that is malformed or over [`limits::check_script_files`]; a
/// single-file source passes.
fn check_bundle(source: &str) -> Result<(), String> {
    match jobvisor_protocol::bundle::decode(source) {
        Ok(None) => Ok(()),
        Ok(Some(bundle)) => limits::check_script_files(bundle.files.len(), source.len()),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_bundle;
    use crate::limits::MAX_SCRIPT_FILES;
    use jobvisor_protocol::bundle::ScriptBundle;

    #[test]
    fn a_bundle_is_refused_when_malformed_or_over_a_cap_and_a_single_file_passes() {
        assert_eq!(check_bundle("export default () => 1"), Ok(()));
        let bundle = |count: usize| ScriptBundle {
            entry: "f0.js".into(),
            files: (0..count)
                .map(|n| (format!("f{n}.js"), String::new()))
                .collect(),
        };
        assert_eq!(check_bundle(&bundle(MAX_SCRIPT_FILES).encode()), Ok(()));
        let many = check_bundle(&bundle(MAX_SCRIPT_FILES + 1).encode()).unwrap_err();
        assert!(many.contains("at most 256 files"), "{many}");
        let torn = bundle(2).encode();
        let torn = &torn[..torn.len() - 3];
        let err = check_bundle(torn).unwrap_err();
        assert!(err.starts_with("the bundle is malformed"), "{err}");
    }
}
