//! [`JobStore`] and [`JobStoreRead`] for [`SqliteStore`]: writes are the writer-thread
//! commands (their `Pending` is sent at the call, so the contract's "issued when called"
//! holds), reads run on tokio's blocking pool against the read connections (the same for
//! the read-only handle, `read_only.rs`).

use std::future::Future;
use std::time::Duration;

use crate::api::{JobStore, JobStoreRead};
use crate::effects::*;
use crate::schedule::{
    FireReport, FiredRun, ReconcileReport, ScheduleDef, ScheduleDetail, ScheduleInfo, UpsertOutcome,
};
use crate::types::*;
use crate::{SqliteStore, StoreError};

/// Runs `read` on a clone of `handle` on tokio's blocking pool, started now (so the
/// contract's "issued when called" holds for reads too).
pub(crate) fn spawn_read<H, T, F>(
    handle: &H,
    path: &std::path::Path,
    read: F,
) -> impl Future<Output = Result<T, StoreError>> + Send + use<H, T, F>
where
    H: Clone + Send + 'static,
    T: Send + 'static,
    F: FnOnce(&H) -> Result<T, StoreError> + Send + 'static,
{
    let handle = handle.clone();
    let path = path.to_path_buf();
    let task = tokio::task::spawn_blocking(move || read(&handle));
    async move {
        task.await.unwrap_or_else(|err| {
            Err(StoreError::Database {
                path,
                operation: "read",
                source: Box::new(err),
            })
        })
    }
}

impl SqliteStore {
    /// Runs a blocking read on tokio's blocking pool, started now.
    fn read_async<T, F>(
        &self,
        read: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, StoreError> + Send + 'static,
    {
        spawn_read(self, self.path(), read)
    }

    /// Bytes of the database file and its WAL.
    fn file_bytes(&self) -> u64 {
        let db = self.path().to_path_buf();
        let mut wal = db.clone().into_os_string();
        wal.push("-wal");
        let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |meta| meta.len());
        size(&db) + size(std::path::Path::new(&wal))
    }
}

impl JobStore for SqliteStore {
    fn owner(&self) -> &Owner {
        SqliteStore::owner(self)
    }

    fn location(&self) -> String {
        self.path().display().to_string()
    }

    fn lease_length(&self) -> Duration {
        self.options().lease_length
    }

    fn recent_write_failure(&self, within: Duration) -> Option<(String, Duration)> {
        SqliteStore::recent_write_failure(self, within)
    }

    fn add_script(
        &self,
        name: &str,
        source: &str,
    ) -> impl Future<Output = Result<ScriptVersion, StoreError>> + Send + use<> {
        SqliteStore::add_script(self, name, source)
    }

    fn add_script_with(
        &self,
        name: &str,
        source: &str,
        allow_net: Vec<String>,
    ) -> impl Future<Output = Result<ScriptVersion, StoreError>> + Send + use<> {
        SqliteStore::add_script_with(self, name, source, allow_net)
    }

    fn state_set(
        &self,
        write: StateWrite,
    ) -> impl Future<Output = Result<StateWriteOutcome, StoreError>> + Send + use<> {
        SqliteStore::state_set(self, write)
    }

    fn enqueue(
        &self,
        request: EnqueueRequest,
    ) -> impl Future<Output = Result<EnqueueOutcome, StoreError>> + Send + use<> {
        SqliteStore::enqueue(self, request)
    }

    fn enqueue_bulk(
        &self,
        requests: Vec<EnqueueRequest>,
    ) -> impl Future<Output = Result<Vec<EnqueueOutcome>, StoreError>> + Send + use<> {
        SqliteStore::enqueue_bulk(self, requests)
    }

    fn claim_batch(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<ClaimBatch, StoreError>> + Send + use<> {
        SqliteStore::claim_batch(self, max)
    }

    fn complete(
        &self,
        completion: Completion,
    ) -> impl Future<Output = Result<Fenced<Completed>, StoreError>> + Send + use<> {
        SqliteStore::complete(self, completion)
    }

    fn fail(
        &self,
        failure: Failure,
    ) -> impl Future<Output = Result<Fenced<FailDisposition>, StoreError>> + Send + use<> {
        SqliteStore::fail(self, failure)
    }

    fn refund(
        &self,
        attempt: AttemptRef,
        report: AttemptReport,
    ) -> impl Future<Output = Result<Fenced<()>, StoreError>> + Send + use<> {
        SqliteStore::refund(self, attempt, report)
    }

    fn cancel(
        &self,
        id: JobId,
    ) -> impl Future<Output = Result<CancelOutcome, StoreError>> + Send + use<> {
        SqliteStore::cancel(self, id)
    }

    fn retry(
        &self,
        id: JobId,
        latest: bool,
    ) -> impl Future<Output = Result<RetryOutcome, StoreError>> + Send + use<> {
        SqliteStore::retry(self, id, latest)
    }

    fn renew_leases(
        &self,
        owner: &Owner,
        until_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + use<> {
        SqliteStore::renew_leases(self, owner, until_ms)
    }

    fn recover(
        &self,
        mode: RecoveryMode,
    ) -> impl Future<Output = Result<RecoveryReport, StoreError>> + Send + use<> {
        SqliteStore::recover(self, mode)
    }

    fn requeue_expired_leases(
        &self,
    ) -> impl Future<Output = Result<RecoveryReport, StoreError>> + Send + use<> {
        SqliteStore::requeue_expired_leases(self)
    }

    fn prune(
        &self,
        retention: Retention,
    ) -> impl Future<Output = Result<PruneReport, StoreError>> + Send + use<> {
        self.read_async(move |store| store.prune_blocking(retention))
    }

    fn set_queue_paused(
        &self,
        queue: &str,
        paused: bool,
        create: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<> {
        SqliteStore::set_queue_paused(self, queue, paused, create)
    }

    fn remove_queue(
        &self,
        queue: &str,
    ) -> impl Future<Output = Result<QueueRemoval, StoreError>> + Send + use<> {
        SqliteStore::remove_queue(self, queue)
    }

    fn set_queue_concurrency(
        &self,
        queue: &str,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        SqliteStore::set_queue_concurrency(self, queue, limit)
    }

    fn upsert_schedule(
        &self,
        def: ScheduleDef,
    ) -> impl Future<Output = Result<UpsertOutcome, StoreError>> + Send + use<> {
        SqliteStore::upsert_schedule(self, def)
    }

    fn remove_schedule(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<> {
        SqliteStore::remove_schedule(self, name)
    }

    fn set_schedule_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + use<> {
        SqliteStore::set_schedule_enabled(self, name, enabled)
    }

    fn reconcile_config_schedules(
        &self,
        defs: Vec<ScheduleDef>,
    ) -> impl Future<Output = Result<ReconcileReport, StoreError>> + Send + use<> {
        SqliteStore::reconcile_config_schedules(self, defs)
    }

    fn fire_due_schedules(
        &self,
    ) -> impl Future<Output = Result<FireReport, StoreError>> + Send + use<> {
        SqliteStore::fire_due_schedules(self)
    }

    fn fire_schedule_now(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<FiredRun>, StoreError>> + Send + use<> {
        SqliteStore::fire_schedule_now(self, name)
    }

    fn disk_usage(&self) -> impl Future<Output = Result<u64, StoreError>> + Send + use<> {
        self.read_async(|store| Ok(store.file_bytes()))
    }

    fn close(self) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        self.read_async(|store| store.clone().close())
    }
}

impl JobStoreRead for SqliteStore {
    fn get_job(
        &self,
        id: JobId,
    ) -> impl Future<Output = Result<Option<JobDetail>, StoreError>> + Send + use<> {
        self.read_async(move |store| SqliteStore::get_job(store, id))
    }

    fn list_jobs(
        &self,
        filter: JobFilter,
    ) -> impl Future<Output = Result<Vec<JobInfo>, StoreError>> + Send + use<> {
        self.read_async(move |store| SqliteStore::list_jobs(store, &filter))
    }

    fn list_scripts(
        &self,
    ) -> impl Future<Output = Result<Vec<ScriptInfo>, StoreError>> + Send + use<> {
        self.read_async(SqliteStore::list_scripts)
    }

    fn script_source(
        &self,
        name: &str,
        hash: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send + use<> {
        let (name, hash) = (name.to_owned(), hash.to_owned());
        self.read_async(move |store| SqliteStore::script_source(store, &name, &hash))
    }

    fn list_queues(
        &self,
    ) -> impl Future<Output = Result<Vec<QueueInfo>, StoreError>> + Send + use<> {
        self.read_async(SqliteStore::list_queues)
    }

    fn counts(&self) -> impl Future<Output = Result<StatusCounts, StoreError>> + Send + use<> {
        self.read_async(SqliteStore::counts)
    }

    fn list_schedules(
        &self,
    ) -> impl Future<Output = Result<Vec<ScheduleInfo>, StoreError>> + Send + use<> {
        self.read_async(SqliteStore::list_schedules)
    }

    fn get_schedule(
        &self,
        name: &str,
        recent_runs: u32,
    ) -> impl Future<Output = Result<Option<ScheduleDetail>, StoreError>> + Send + use<> {
        let name = name.to_owned();
        self.read_async(move |store| SqliteStore::get_schedule(store, &name, recent_runs))
    }

    fn state_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StateEntry>, StoreError>> + Send + use<> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.read_async(move |store| SqliteStore::state_get(store, &namespace, &key))
    }

    fn state_list(
        &self,
        query: StateQuery,
    ) -> impl Future<Output = Result<StatePage, StoreError>> + Send + use<> {
        self.read_async(move |store| SqliteStore::state_list(store, &query))
    }
}
