//! The store contract: [`JobStore`], every operation the dispatcher, the control server
//! and the schedule code use, with its reads in the supertrait [`JobStoreRead`] (which a
//! read-only handle implements alone), and [`AnyStore`], the backend the supervisor holds
//! (built from the store options; SQLite today).
//!
//! A trait rather than an enum alone: the dispatcher and tests can be generic over
//! `S: JobStore` (static dispatch, a fake backend in tests), and each backend keeps its own
//! inherent extras (SQLite: checkpoint, quick_check, explain_claim, the bench support)
//! outside the contract. `AnyStore` implements the trait by delegating to its variant.
//!
//! Contract of every method that returns a future:
//! - The operation is *issued when the method is called*, not when the future is first
//!   polled: two writes called one after the other are applied in that order, and may
//!   share a transaction (group commit). So a caller can issue a write and await it in a
//!   spawned task.
//! - A write's future resolves only once the write is durable (after COMMIT).
//! - A future borrows neither the handle nor the arguments (`use<Self>`): it can be moved
//!   into a spawned task as it is.
//! - Reads run off the async threads inside the backend (SQLite: `spawn_blocking`), so they
//!   must be called within a tokio runtime.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use crate::effects::*;
use crate::schedule::{
    FireReport, FiredRun, ReconcileReport, ScheduleDef, ScheduleDetail, ScheduleInfo, UpsertOutcome,
};
use crate::types::*;
use crate::{SqliteStore, StoreError, StoreOptions};

/// The reads of the store: what `status`, the listings and `jobs show` need, and what
/// the end-to-end tests check. A trait of its own so that a read-only handle
/// ([`crate::ReadOnlyStore`], which never writes and has no owner) offers exactly the
/// reads a writer does, and code that only reads can say so in its bound.
pub trait JobStoreRead: Clone + Send + Sync + 'static {
    fn get_job(
        &self,
        id: JobId,
    ) -> impl Future<Output = Result<Option<JobDetail>, StoreError>> + Send + use<Self>;

    fn list_jobs(
        &self,
        filter: JobFilter,
    ) -> impl Future<Output = Result<Vec<JobInfo>, StoreError>> + Send + use<Self>;

    fn list_scripts(
        &self,
    ) -> impl Future<Output = Result<Vec<ScriptInfo>, StoreError>> + Send + use<Self>;

    /// Source of one script version.
    fn script_source(
        &self,
        name: &str,
        hash: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send + use<Self>;

    fn list_queues(
        &self,
    ) -> impl Future<Output = Result<Vec<QueueInfo>, StoreError>> + Send + use<Self>;

    /// Job counts per queue and state (a scan: for `status`, not a hot loop), with the
    /// epoch: a writer's own, or for a read-only handle the last writer's.
    fn counts(&self) -> impl Future<Output = Result<StatusCounts, StoreError>> + Send + use<Self>;

    fn list_schedules(
        &self,
    ) -> impl Future<Output = Result<Vec<ScheduleInfo>, StoreError>> + Send + use<Self>;

    fn get_schedule(
        &self,
        name: &str,
        recent_runs: u32,
    ) -> impl Future<Output = Result<Option<ScheduleDetail>, StoreError>> + Send + use<Self>;

    /// One state key; `None` when it does not exist or has expired.
    fn state_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StateEntry>, StoreError>> + Send + use<Self>;

    /// A page of a namespace's live keys in key order (the limit is clamped to
    /// 1..=[`crate::MAX_STATE_PAGE`]).
    fn state_list(
        &self,
        query: StateQuery,
    ) -> impl Future<Output = Result<StatePage, StoreError>> + Send + use<Self>;
}

/// The durable job store as the supervisor uses it. See the module docs for what the
/// returned futures promise.
pub trait JobStore: JobStoreRead {
    /// The owner this handle claims as: stamped on every claim, required by every fenced
    /// write.
    fn owner(&self) -> &Owner;

    /// This supervisor run's epoch (`owner().epoch`).
    fn epoch(&self) -> i64 {
        self.owner().epoch
    }

    /// Where the store lives, for `status` (a file path, a database URL without secrets).
    fn location(&self) -> String;

    /// How far each lease renewal reaches ahead (`StoreOptions::lease_length`); the
    /// holder renews every third of it.
    fn lease_length(&self) -> Duration;

    /// The last failed write and how long ago it failed, if less than `within` ago.
    fn recent_write_failure(&self, within: Duration) -> Option<(String, Duration)>;

    // ----- scripts and jobs -----

    /// Adds a script version and makes it the current version of `name`.
    fn add_script(
        &self,
        name: &str,
        source: &str,
    ) -> impl Future<Output = Result<ScriptVersion, StoreError>> + Send + use<Self>;

    /// `add_script` with a network grant (stored sorted and without duplicates, not
    /// parsed); the same source with another grant is another version.
    fn add_script_with(
        &self,
        name: &str,
        source: &str,
        allow_net: Vec<String>,
    ) -> impl Future<Output = Result<ScriptVersion, StoreError>> + Send + use<Self>;

    /// One job; a duplicate unique key is an outcome, not an error.
    fn enqueue(
        &self,
        request: EnqueueRequest,
    ) -> impl Future<Output = Result<EnqueueOutcome, StoreError>> + Send + use<Self>;

    /// Many jobs, all or none; outcomes in request order.
    fn enqueue_bulk(
        &self,
        requests: Vec<EnqueueRequest>,
    ) -> impl Future<Output = Result<Vec<EnqueueOutcome>, StoreError>> + Send + use<Self>;

    /// Claims up to `max` jobs for this owner, each with a lease.
    fn claim_batch(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<ClaimBatch, StoreError>> + Send + use<Self>;

    /// A successful attempt, fenced on the attempt and its owner, with what it staged
    /// (state writes, child jobs) in the same transaction; a failed check or an invalid
    /// effect applies nothing and records the attempt as failed ([`Completed`]).
    fn complete(
        &self,
        completion: Completion,
    ) -> impl Future<Output = Result<Fenced<Completed>, StoreError>> + Send + use<Self>;

    /// A failed attempt, fenced; the store decides retry, discard or cancel (`policy`).
    fn fail(
        &self,
        failure: Failure,
    ) -> impl Future<Output = Result<Fenced<FailDisposition>, StoreError>> + Send + use<Self>;

    /// An attempt interrupted by a drain: it does not count.
    fn refund(
        &self,
        attempt: AttemptRef,
        report: AttemptReport,
    ) -> impl Future<Output = Result<Fenced<()>, StoreError>> + Send + use<Self>;

    fn cancel(
        &self,
        id: JobId,
    ) -> impl Future<Output = Result<CancelOutcome, StoreError>> + Send + use<Self>;

    /// Back to `available` now; `latest` switches to the script's current version.
    fn retry(
        &self,
        id: JobId,
        latest: bool,
    ) -> impl Future<Output = Result<RetryOutcome, StoreError>> + Send + use<Self>;

    /// Extends to at least `until_ms` the lease of every job `owner` holds (normally
    /// `self.owner()`); only that owner's running jobs are touched, and a lease is never
    /// shortened. The answer is how many were extended.
    fn renew_leases(
        &self,
        owner: &Owner,
        until_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + use<Self>;

    /// Releases, once after start, the running jobs of this node's earlier epochs (per
    /// `mode`) and of any owner whose lease has passed; a live lease of another owner is
    /// left alone and watched.
    fn recover(
        &self,
        mode: RecoveryMode,
    ) -> impl Future<Output = Result<RecoveryReport, StoreError>> + Send + use<Self>;

    /// Releases the watched jobs whose lease has passed (and was not renewed).
    fn requeue_expired_leases(
        &self,
    ) -> impl Future<Output = Result<RecoveryReport, StoreError>> + Send + use<Self>;

    /// Deletes finished jobs older than the retention, and the state keys that expired.
    fn prune(
        &self,
        retention: Retention,
    ) -> impl Future<Output = Result<PruneReport, StoreError>> + Send + use<Self>;

    /// One state write outside any attempt (the CLI), with its check; a delete is a
    /// `None` value.
    fn state_set(
        &self,
        write: StateWrite,
    ) -> impl Future<Output = Result<StateWriteOutcome, StoreError>> + Send + use<Self>;

    // ----- queues -----

    fn set_queue_paused(
        &self,
        queue: &str,
        paused: bool,
        create: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<Self>;

    fn remove_queue(
        &self,
        queue: &str,
    ) -> impl Future<Output = Result<QueueRemoval, StoreError>> + Send + use<Self>;

    fn set_queue_concurrency(
        &self,
        queue: &str,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<Self>;

    // ----- schedules -----

    fn upsert_schedule(
        &self,
        def: ScheduleDef,
    ) -> impl Future<Output = Result<UpsertOutcome, StoreError>> + Send + use<Self>;

    fn remove_schedule(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<Self>;

    fn set_schedule_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<Self>;

    fn reconcile_config_schedules(
        &self,
        defs: Vec<ScheduleDef>,
    ) -> impl Future<Output = Result<ReconcileReport, StoreError>> + Send + use<Self>;

    fn fire_due_schedules(
        &self,
    ) -> impl Future<Output = Result<FireReport, StoreError>> + Send + use<Self>;

    fn fire_schedule_now(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<FiredRun>, StoreError>> + Send + use<Self>;

    /// Bytes the store takes on disk (0 where the backend cannot tell).
    fn disk_usage(&self) -> impl Future<Output = Result<u64, StoreError>> + Send + use<Self>;

    /// Finishes what was issued, then closes; other handles get `Closed` afterwards.
    fn close(self) -> impl Future<Output = Result<(), StoreError>> + Send + use<Self>;
}

/// The store the supervisor holds: one variant per backend.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
}

impl AnyStore {
    /// Opens the backend the options name (SQLite, the file at `path`).
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<AnyStore, StoreError> {
        SqliteStore::open(path, options).map(AnyStore::Sqlite)
    }

    /// The SQLite store, for its own maintenance operations.
    pub fn as_sqlite(&self) -> Option<&SqliteStore> {
        match self {
            AnyStore::Sqlite(store) => Some(store),
        }
    }
}

/// Delegates a trait method to the variant.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
        }
    };
}

impl JobStore for AnyStore {
    fn owner(&self) -> &Owner {
        delegate!(self, s => JobStore::owner(s))
    }

    fn location(&self) -> String {
        delegate!(self, s => JobStore::location(s))
    }

    fn lease_length(&self) -> Duration {
        delegate!(self, s => JobStore::lease_length(s))
    }

    fn recent_write_failure(&self, within: Duration) -> Option<(String, Duration)> {
        delegate!(self, s => JobStore::recent_write_failure(s, within))
    }

    fn add_script(
        &self,
        name: &str,
        source: &str,
    ) -> impl Future<Output = Result<ScriptVersion, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::add_script(s, name, source))
    }

    fn add_script_with(
        &self,
        name: &str,
        source: &str,
        allow_net: Vec<String>,
    ) -> impl Future<Output = Result<ScriptVersion, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::add_script_with(s, name, source, allow_net))
    }

    fn state_set(
        &self,
        write: StateWrite,
    ) -> impl Future<Output = Result<StateWriteOutcome, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::state_set(s, write))
    }

    fn enqueue(
        &self,
        request: EnqueueRequest,
    ) -> impl Future<Output = Result<EnqueueOutcome, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::enqueue(s, request))
    }

    fn enqueue_bulk(
        &self,
        requests: Vec<EnqueueRequest>,
    ) -> impl Future<Output = Result<Vec<EnqueueOutcome>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::enqueue_bulk(s, requests))
    }

    fn claim_batch(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<ClaimBatch, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::claim_batch(s, max))
    }

    fn complete(
        &self,
        completion: Completion,
    ) -> impl Future<Output = Result<Fenced<Completed>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::complete(s, completion))
    }

    fn fail(
        &self,
        failure: Failure,
    ) -> impl Future<Output = Result<Fenced<FailDisposition>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::fail(s, failure))
    }

    fn refund(
        &self,
        attempt: AttemptRef,
        report: AttemptReport,
    ) -> impl Future<Output = Result<Fenced<()>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::refund(s, attempt, report))
    }

    fn cancel(
        &self,
        id: JobId,
    ) -> impl Future<Output = Result<CancelOutcome, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::cancel(s, id))
    }

    fn retry(
        &self,
        id: JobId,
        latest: bool,
    ) -> impl Future<Output = Result<RetryOutcome, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::retry(s, id, latest))
    }

    fn renew_leases(
        &self,
        owner: &Owner,
        until_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::renew_leases(s, owner, until_ms))
    }

    fn recover(
        &self,
        mode: RecoveryMode,
    ) -> impl Future<Output = Result<RecoveryReport, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::recover(s, mode))
    }

    fn requeue_expired_leases(
        &self,
    ) -> impl Future<Output = Result<RecoveryReport, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::requeue_expired_leases(s))
    }

    fn prune(
        &self,
        retention: Retention,
    ) -> impl Future<Output = Result<PruneReport, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::prune(s, retention))
    }

    fn set_queue_paused(
        &self,
        queue: &str,
        paused: bool,
        create: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::set_queue_paused(s, queue, paused, create))
    }

    fn remove_queue(
        &self,
        queue: &str,
    ) -> impl Future<Output = Result<QueueRemoval, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::remove_queue(s, queue))
    }

    fn set_queue_concurrency(
        &self,
        queue: &str,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::set_queue_concurrency(s, queue, limit))
    }

    fn upsert_schedule(
        &self,
        def: ScheduleDef,
    ) -> impl Future<Output = Result<UpsertOutcome, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::upsert_schedule(s, def))
    }

    fn remove_schedule(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::remove_schedule(s, name))
    }

    fn set_schedule_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::set_schedule_enabled(s, name, enabled))
    }

    fn reconcile_config_schedules(
        &self,
        defs: Vec<ScheduleDef>,
    ) -> impl Future<Output = Result<ReconcileReport, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::reconcile_config_schedules(s, defs))
    }

    fn fire_due_schedules(
        &self,
    ) -> impl Future<Output = Result<FireReport, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::fire_due_schedules(s))
    }

    fn fire_schedule_now(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<FiredRun>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::fire_schedule_now(s, name))
    }

    fn disk_usage(&self) -> impl Future<Output = Result<u64, StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::disk_usage(s))
    }

    fn close(self) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        delegate!(self, s => JobStore::close(s))
    }
}

impl JobStoreRead for AnyStore {
    fn get_job(
        &self,
        id: JobId,
    ) -> impl Future<Output = Result<Option<JobDetail>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::get_job(s, id))
    }

    fn list_jobs(
        &self,
        filter: JobFilter,
    ) -> impl Future<Output = Result<Vec<JobInfo>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::list_jobs(s, filter))
    }

    fn list_scripts(
        &self,
    ) -> impl Future<Output = Result<Vec<ScriptInfo>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::list_scripts(s))
    }

    fn script_source(
        &self,
        name: &str,
        hash: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::script_source(s, name, hash))
    }

    fn list_queues(
        &self,
    ) -> impl Future<Output = Result<Vec<QueueInfo>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::list_queues(s))
    }

    fn counts(&self) -> impl Future<Output = Result<StatusCounts, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::counts(s))
    }

    fn list_schedules(
        &self,
    ) -> impl Future<Output = Result<Vec<ScheduleInfo>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::list_schedules(s))
    }

    fn get_schedule(
        &self,
        name: &str,
        recent_runs: u32,
    ) -> impl Future<Output = Result<Option<ScheduleDetail>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::get_schedule(s, name, recent_runs))
    }

    fn state_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StateEntry>, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::state_get(s, namespace, key))
    }

    fn state_list(
        &self,
        query: StateQuery,
    ) -> impl Future<Output = Result<StatePage, StoreError>> + Send + use<> {
        delegate!(self, s => JobStoreRead::state_list(s, query))
    }
}
