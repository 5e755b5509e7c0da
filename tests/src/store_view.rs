//! A blocking view of a daemon's store, for the end-to-end tests and the benchmark: the
//! reads of the store's own contract (`JobStoreRead`) through a read-only handle, on a
//! small current-thread runtime of its own. The handle never writes (no migration, no
//! epoch), so a test reads the same way while the daemon runs and after it exited, and
//! what it checks is the store's typed model, not one backend's tables: the same tests
//! hold for another backend. The one SQLite-specific check, `quick_check`, is named so.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;

use jobvisor_store::schedule::ScheduleInfo;
use jobvisor_store::{JobStoreRead, ReadOnlyStore, SqliteStore, StoreError, StoreOptions};

pub use jobvisor_store::{
    AttemptInfo, JobDetail, JobFilter, JobId, JobInfo, JobState, NodeId, OutcomeKind,
};

/// Listings are read in pages of this many jobs.
const PAGE: u32 = 1000;

/// A read-only view of one store; see the module docs. Every read panics with the store's
/// error: a test cannot go on without its answer.
pub struct StoreView {
    runtime: tokio::runtime::Runtime,
    store: ReadOnlyStore,
}

impl StoreView {
    /// Opens the store at `database` read-only.
    pub fn open(database: &Path) -> StoreView {
        StoreView::try_open(database)
            .unwrap_or_else(|err| panic!("opening the store read-only: {err}"))
    }

    /// Opens the store at `database` read-only, or the store's reason why not.
    pub fn try_open(database: &Path) -> Result<StoreView, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        let store = SqliteStore::open_read_only(database, StoreOptions::default())?;
        Ok(StoreView { runtime, store })
    }

    /// Runs one read of the contract to its end. The future is made inside the runtime:
    /// a store read starts when it is called.
    fn read<T, F, Fut>(&self, what: &str, read: F) -> T
    where
        F: FnOnce(&ReadOnlyStore) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        self.runtime
            .block_on(async { read(&self.store).await })
            .unwrap_or_else(|err| panic!("reading {what}: {err}"))
    }

    /// The job with its attempts, if it exists.
    pub fn try_job(&self, id: i64) -> Option<JobDetail> {
        self.read("a job", |store| store.get_job(JobId(id)))
    }

    /// The job with its attempts; panics if there is none.
    pub fn job(&self, id: i64) -> JobDetail {
        self.try_job(id)
            .unwrap_or_else(|| panic!("job {id} does not exist"))
    }

    pub fn state(&self, id: i64) -> JobState {
        self.job(id).job.state
    }

    /// The job's attempts, oldest first.
    pub fn attempts(&self, id: i64) -> Vec<AttemptInfo> {
        self.job(id).attempts
    }

    /// (attempt number, outcome) of each of the job's attempts, oldest first.
    pub fn outcomes(&self, id: i64) -> Vec<(u32, OutcomeKind)> {
        self.attempts(id)
            .iter()
            .map(|attempt| (attempt.attempt, attempt.outcome))
            .collect()
    }

    /// How many jobs are in each state (states without jobs are left out), over all
    /// queues.
    pub fn counts_by_state(&self) -> BTreeMap<JobState, usize> {
        let counts = self.read("the job counts", |store| store.counts());
        let mut by_state = BTreeMap::new();
        for queue in &counts.queues {
            for state in JobState::ALL {
                let n = usize::try_from(queue.get(state)).expect("a count fits usize");
                if n > 0 {
                    *by_state.entry(state).or_insert(0) += n;
                }
            }
        }
        by_state
    }

    pub fn count_in_state(&self, state: JobState) -> usize {
        self.counts_by_state().get(&state).copied().unwrap_or(0)
    }

    /// Every job the store holds, in any state.
    pub fn total_jobs(&self) -> usize {
        self.counts_by_state().values().sum()
    }

    /// The jobs `filter` selects, newest first (without payload and result).
    pub fn jobs(&self, filter: JobFilter) -> Vec<JobInfo> {
        self.read("the job list", |store| store.list_jobs(filter))
    }

    /// Every job `filter` selects, whatever its limit, oldest first (read in pages).
    pub fn all_jobs(&self, filter: JobFilter) -> Vec<JobInfo> {
        self.jobs_from(filter, 0)
    }

    /// The jobs with an id in `first..=last`, oldest first.
    pub fn jobs_between(&self, first: i64, last: i64) -> Vec<JobInfo> {
        let filter = JobFilter {
            before: Some(JobId(last.saturating_add(1))),
            ..JobFilter::default()
        };
        self.jobs_from(filter, first)
    }

    /// How many jobs with an id in `first..=last` are not final yet (scheduled,
    /// available, running or retryable): one small read per such state once all are.
    pub fn unfinished_between(&self, first: i64, last: i64) -> usize {
        [
            JobState::Scheduled,
            JobState::Available,
            JobState::Running,
            JobState::Retryable,
        ]
        .into_iter()
        .map(|state| {
            let filter = JobFilter {
                state: Some(state),
                before: Some(JobId(last.saturating_add(1))),
                ..JobFilter::default()
            };
            self.jobs_from(filter, first).len()
        })
        .sum()
    }

    /// The jobs `filter` selects with an id of at least `first`, oldest first: pages read
    /// newest first until one reaches below `first`.
    fn jobs_from(&self, filter: JobFilter, first: i64) -> Vec<JobInfo> {
        let mut jobs = Vec::new();
        let mut before = filter.before;
        loop {
            let page = self.jobs(JobFilter {
                before,
                limit: PAGE,
                ..filter.clone()
            });
            let more = page.len() == PAGE as usize;
            before = page.last().map(|job| job.id);
            jobs.extend(page.into_iter().filter(|job| job.id.0 >= first));
            if !more || before.is_none_or(|id| id.0 <= first) {
                break;
            }
        }
        jobs.reverse();
        jobs
    }

    pub fn schedules(&self) -> Vec<ScheduleInfo> {
        self.read("the schedules", |store| store.list_schedules())
    }

    /// SQLite's `quick_check` of the database file: the one check of the SQLite backend
    /// itself (a PostgreSQL store keeps its own integrity).
    pub fn sqlite_quick_check(&self) -> Result<(), StoreError> {
        self.store.quick_check()
    }
}
