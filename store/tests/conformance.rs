//! The store contract, checked through `JobStore` only, once per backend: each test is a
//! generic function over a [`Backend`] (how to open a handle as a given node), and
//! `conformance!` instantiates the suite for one backend (SQLite here; a PostgreSQL
//! backend adds one line here and one in `conformance/schedules.rs`). Owners and leases: another owner's live lease is never
//! released, an expired one is, this node's earlier epoch is released at once, and
//! `renew_leases` extends only the owner's own jobs. Jobs: claim order, delays, unique
//! keys, validation, script versions, pause and caps, fencing, backoff and discard,
//! refund, cancel, manual retry, queues, recovery after a restart of the same node, bounded
//! logs, counts and listings, and a closed handle. Schedules: `conformance/schedules.rs`;
//! the read-only handle: `conformance/read_only.rs`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use jobvisor_store::*;
use tempfile::TempDir;

mod common;
use common::{SCRIPT, completion, failure, options};

const T0: i64 = 1_700_000_000_000;
const TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);
/// A claim at `T0` holds its lease until then.
const LEASE_END: i64 = T0 + 15_000;

/// How a test opens the backend under test as a given node.
trait Backend {
    type Store: JobStore;
    type ReadOnly: JobStoreRead + std::fmt::Debug;

    /// Opens the store in `dir` with these options (the same `dir` reopens the same store).
    fn open_with(dir: &Path, options: StoreOptions) -> Self::Store;

    /// Opens the store in `dir` for reading only.
    fn open_read_only(dir: &Path) -> Result<Self::ReadOnly, StoreError>;

    /// Puts in `dir`, where the store would be, a database of another application.
    fn plant_foreign_database(dir: &Path);

    fn open(dir: &Path, node: &str, clock: &Arc<ManualClock>) -> Self::Store {
        let options = StoreOptions {
            clock: clock.clone(),
            node_id: Some(node.to_owned()),
            lease_grace: GRACE,
            ..StoreOptions::default()
        };
        Self::open_with(dir, options)
    }
}

struct Sqlite;

impl Backend for Sqlite {
    type Store = SqliteStore;
    type ReadOnly = ReadOnlyStore;

    fn open_with(dir: &Path, options: StoreOptions) -> SqliteStore {
        SqliteStore::open(dir.join("jobs.db"), options).unwrap()
    }

    fn open_read_only(dir: &Path) -> Result<ReadOnlyStore, StoreError> {
        SqliteStore::open_read_only(dir.join("jobs.db"), StoreOptions::default())
    }

    fn plant_foreign_database(dir: &Path) {
        let conn = rusqlite::Connection::open(dir.join("jobs.db")).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');")
            .unwrap();
    }
}

/// Adds the script and enqueues `n` jobs with the test's timeout.
async fn enqueue<S: JobStore>(store: &S, n: usize) -> Vec<JobId> {
    store
        .add_script("echo", "export default (p) => p;")
        .await
        .unwrap();
    let requests = vec![EnqueueRequest::new("echo", "{}").timeout(TIMEOUT); n];
    let outcomes = store.enqueue_bulk(requests).await.unwrap();
    outcomes.into_iter().map(|outcome| outcome.id).collect()
}

async fn claim_one<S: JobStore>(store: &S) -> ClaimedJob {
    let mut jobs = store.claim_batch(1).await.unwrap().jobs;
    assert_eq!(jobs.len(), 1, "one job claimable");
    jobs.remove(0)
}

async fn job<S: JobStore>(store: &S, id: JobId) -> JobInfo {
    store.get_job(id).await.unwrap().unwrap().job
}

/// One store as this node with a manual clock and the `echo` script added.
struct Fixture<B: Backend> {
    dir: TempDir,
    clock: Arc<ManualClock>,
    store: B::Store,
}

async fn fixture<B: Backend>() -> Fixture<B> {
    fixture_with::<B>(|_| {}).await
}

async fn fixture_with<B: Backend>(tune: impl FnOnce(&mut StoreOptions)) -> Fixture<B> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut opts = options(&clock);
    tune(&mut opts);
    let store = B::open_with(dir.path(), opts);
    store.add_script("echo", SCRIPT).await.unwrap();
    Fixture { dir, clock, store }
}

impl<B: Backend> Fixture<B> {
    /// A restart of this node: the handle closes and the store opens again with the default
    /// options, in a new epoch.
    async fn reopen(&mut self) {
        self.store.clone().close().await.unwrap();
        self.store = B::open_with(self.dir.path(), options(&self.clock));
    }

    async fn enqueue(&self, request: EnqueueRequest) -> JobId {
        let outcome = self.store.enqueue(request).await.unwrap();
        assert!(!outcome.duplicate);
        outcome.id
    }

    async fn claim(&self, max: usize) -> Vec<ClaimedJob> {
        self.store.claim_batch(max).await.unwrap().jobs
    }

    async fn job(&self, id: JobId) -> JobDetail {
        self.store.get_job(id).await.unwrap().expect("job exists")
    }

    async fn state(&self, id: JobId) -> JobState {
        self.job(id).await.job.state
    }
}

fn request(payload: &str) -> EnqueueRequest {
    EnqueueRequest::new("echo", payload)
}

/// The attempts a plain retry (same script version) allows, if it requeued the job.
fn requeued_with(outcome: RetryOutcome) -> Option<u32> {
    match outcome {
        RetryOutcome::Requeued {
            max_attempts,
            script_changed: false,
            ..
        } => Some(max_attempts),
        _ => None,
    }
}

async fn another_owners_live_lease_is_never_released<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let b = B::open(dir.path(), "b", &clock);
    let [id] = enqueue(&b, 1).await[..] else {
        unreachable!()
    };
    let claimed = claim_one(&b).await;
    let a = B::open(dir.path(), "a", &clock);
    for mode in [RecoveryMode::WorkersDead, RecoveryMode::WaitForLease] {
        let report = a.recover(mode).await.unwrap();
        assert!(report.requeued.is_empty(), "{mode:?}: {report:?}");
        assert_eq!(
            report.waiting, 1,
            "{mode:?}: watched until its lease passes"
        );
        assert_eq!(report.next_lease_expiry_ms, Some(LEASE_END));
    }
    clock.set(LEASE_END - 1);
    let report = a.requeue_expired_leases().await.unwrap();
    assert!(report.requeued.is_empty(), "{report:?}");
    let info = job(&a, id).await;
    assert_eq!(info.state, JobState::Running);
    assert_eq!(info.epoch, Some(b.epoch()));
    // Its owner still records its result.
    let completion = Completion {
        attempt: claimed.attempt_ref(),
        result: None,
        report: AttemptReport::default(),
        effects: Default::default(),
    };
    assert_eq!(
        b.complete(completion).await.unwrap(),
        Fenced::Applied(Completed::Done { children: vec![] })
    );
}

async fn a_cancel_of_another_owners_live_job_is_only_requested<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let b = B::open(dir.path(), "b", &clock);
    let [id] = enqueue(&b, 1).await[..] else {
        unreachable!()
    };
    let claimed = claim_one(&b).await;
    let a = B::open(dir.path(), "a", &clock);
    assert_eq!(
        a.cancel(id).await.unwrap(),
        CancelOutcome::Running { attempt: 1 }
    );
    let info = job(&a, id).await;
    assert_eq!(info.state, JobState::Running);
    assert!(info.cancel_requested);
    // Its owner's next report ends it as cancelled.
    let failure = Failure {
        attempt: claimed.attempt_ref(),
        kind: OutcomeKind::Killed,
        error: None,
        report: AttemptReport::default(),
    };
    assert_eq!(
        b.fail(failure).await.unwrap(),
        Fenced::Applied(FailDisposition::Cancelled)
    );
}

async fn another_owners_expired_lease_is_released<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let b = B::open(dir.path(), "b", &clock);
    let ids = enqueue(&b, 2).await;
    claim_one(&b).await;
    claim_one(&b).await;
    // One lease has passed when `a` starts, the other passes while `a` watches it.
    let renewed = b.renew_leases(b.owner(), LEASE_END + 10_000).await.unwrap();
    assert_eq!(renewed, 2);
    b.renew_leases(b.owner(), LEASE_END + 20_000).await.unwrap();
    clock.set(LEASE_END + 20_000);
    let a = B::open(dir.path(), "a", &clock);
    let report = a.recover(RecoveryMode::WorkersDead).await.unwrap();
    assert_eq!(report.requeued, ids, "both leases have passed");
    for id in ids {
        let info = job(&a, id).await;
        assert_eq!(info.state, JobState::Available);
        assert_eq!(info.last_outcome, Some(OutcomeKind::LeaseExpired));
        assert_eq!(info.attempt, 0, "a lost lease does not use up an attempt");
    }

    let c = B::open(dir.path(), "c", &clock);
    let id = claim_one(&c).await.id;
    let d = B::open(dir.path(), "d", &clock);
    let report = d.recover(RecoveryMode::WorkersDead).await.unwrap();
    assert_eq!(report.waiting, 1);
    clock.set(LEASE_END + 20_000 + 15_000);
    let report = d.requeue_expired_leases().await.unwrap();
    assert_eq!(report.requeued, vec![id], "released once its lease passed");
    assert_eq!(report.waiting, 0);
}

async fn a_renewed_lease_is_watched_again<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let b = B::open(dir.path(), "b", &clock);
    let [id] = enqueue(&b, 1).await[..] else {
        unreachable!()
    };
    claim_one(&b).await;
    let a = B::open(dir.path(), "a", &clock);
    assert_eq!(
        a.recover(RecoveryMode::WorkersDead).await.unwrap().waiting,
        1
    );
    b.renew_leases(b.owner(), LEASE_END + 60_000).await.unwrap();
    clock.set(LEASE_END + 1);
    let report = a.requeue_expired_leases().await.unwrap();
    assert!(report.requeued.is_empty(), "{report:?}");
    assert_eq!(report.waiting, 1);
    assert_eq!(report.next_lease_expiry_ms, Some(LEASE_END + 60_000));
    assert_eq!(job(&a, id).await.state, JobState::Running);
    clock.set(LEASE_END + 60_000);
    let report = a.requeue_expired_leases().await.unwrap();
    assert_eq!(report.requeued, vec![id]);
}

async fn this_nodes_earlier_epoch_is_released_at_once<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let first = B::open(dir.path(), "a", &clock);
    let [id] = enqueue(&first, 1).await[..] else {
        unreachable!()
    };
    claim_one(&first).await;
    drop(first);
    let again = B::open(dir.path(), "a", &clock);
    let report = again.recover(RecoveryMode::WorkersDead).await.unwrap();
    assert_eq!(
        report.requeued,
        vec![id],
        "its lease is live, but its workers are dead"
    );
    assert_eq!(report.waiting, 0);
    let info = job(&again, id).await;
    assert_eq!(info.state, JobState::Available);
    assert_eq!(info.last_outcome, Some(OutcomeKind::SupervisorRestart));
}

async fn renew_leases_extends_only_the_owners_own_jobs<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let a = B::open(dir.path(), "a", &clock);
    enqueue(&a, 3).await;
    let b = B::open(dir.path(), "b", &clock);
    let mine = claim_one(&a).await;
    let theirs = claim_one(&b).await;
    let far = T0 + 3_600_000;
    assert_eq!(a.renew_leases(a.owner(), far).await.unwrap(), 1);
    assert_eq!(job(&a, mine.id).await.lease_until_ms, Some(far));
    assert_eq!(job(&a, theirs.id).await.lease_until_ms, Some(LEASE_END));
    // Never shortened.
    assert_eq!(a.renew_leases(a.owner(), T0 + 1).await.unwrap(), 0);
    assert_eq!(job(&a, mine.id).await.lease_until_ms, Some(far));
    // Another epoch of the same node holds nothing.
    let stale = Owner {
        node: a.owner().node.clone(),
        epoch: a.epoch() - 1,
    };
    assert_eq!(a.renew_leases(&stale, far + 1).await.unwrap(), 0);
    // A finished job's lease is not renewed.
    let completion = Completion {
        attempt: mine.attempt_ref(),
        result: None,
        report: AttemptReport::default(),
        effects: Default::default(),
    };
    a.complete(completion).await.unwrap();
    assert_eq!(a.renew_leases(a.owner(), far + 1).await.unwrap(), 0);
}

async fn reads_and_writes_go_through_the_contract<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = B::open(dir.path(), "a", &clock);
    let ids = enqueue(&store, 2).await;
    assert_eq!(store.list_scripts().await.unwrap().len(), 1);
    let queues = store.list_queues().await.unwrap();
    assert_eq!(queues[0].name, EnqueueRequest::DEFAULT_QUEUE);
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.queues[0].available, 2);
    assert_eq!(counts.epoch, store.epoch());
    let listed = store.list_jobs(JobFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 2);
    let claimed = claim_one(&store).await;
    assert_eq!(claimed.id, ids[0]);
    assert_eq!(store.list_queues().await.unwrap()[0].running, 1);
    let failure = Failure {
        attempt: claimed.attempt_ref(),
        kind: OutcomeKind::JsError,
        error: None,
        report: AttemptReport::default(),
    };
    assert!(matches!(
        store.fail(failure).await.unwrap(),
        Fenced::Applied(FailDisposition::Retry { .. })
    ));
    assert_eq!(store.list_queues().await.unwrap()[0].running, 0);
    let source = store
        .script_source("echo", &claimed.script_hash)
        .await
        .unwrap();
    assert_eq!(source.as_deref(), Some("export default (p) => p;"));
    assert!(store.disk_usage().await.unwrap() > 0);
    store.close().await.unwrap();
}

async fn claims_in_priority_then_run_at_then_id_order<B: Backend>() {
    let f = fixture::<B>().await;
    let low = f.enqueue(request("1").priority(-5)).await;
    let a = f.enqueue(request("2").run_at(RunAt::At(T0 - 10))).await;
    let b = f.enqueue(request("3").run_at(RunAt::At(T0 - 10))).await;
    let earlier = f.enqueue(request("4").run_at(RunAt::At(T0 - 20))).await;
    let high = f.enqueue(request("5").priority(10)).await;
    let claimed = f.claim(3).await;
    let ids: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(ids, vec![high, earlier, a]);
    assert!(
        claimed
            .iter()
            .all(|job| job.attempt == 1 && job.epoch == f.store.epoch())
    );
    assert_eq!(claimed[0].script_name, "echo");
    assert_eq!(claimed[0].payload, "5");
    let rest: Vec<JobId> = f.claim(10).await.iter().map(|job| job.id).collect();
    assert_eq!(rest, vec![b, low]);
    assert!(f.claim(10).await.is_empty());
}

async fn delayed_jobs_wait_for_their_time<B: Backend>() {
    let f = fixture::<B>().await;
    let later = f
        .enqueue(request("{}").delay(Duration::from_secs(60)))
        .await;
    let at = f
        .enqueue(request("{}").run_at(RunAt::At(T0 + 30_000)))
        .await;
    assert_eq!(f.state(later).await, JobState::Scheduled);
    let batch = f.store.claim_batch(5).await.unwrap();
    assert!(batch.jobs.is_empty());
    assert_eq!(batch.next_wake_at_ms, Some(T0 + 30_000));
    f.clock.advance(Duration::from_secs(30));
    let claimed = f.claim(5).await;
    assert_eq!(
        claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![at]
    );
    f.clock.advance(Duration::from_secs(30));
    assert_eq!(f.claim(5).await[0].id, later);
}

async fn unique_key_returns_the_live_job_and_is_freed_when_it_finishes<B: Backend>() {
    let f = fixture::<B>().await;
    let first = f
        .store
        .enqueue(request("{}").unique_key("k1"))
        .await
        .unwrap();
    let second = f
        .store
        .enqueue(request("{\"other\":1}").unique_key("k1"))
        .await
        .unwrap();
    assert_eq!(
        second,
        EnqueueOutcome {
            id: first.id,
            duplicate: true
        }
    );
    // Same key inside one bulk: the second one is the duplicate of the first.
    let bulk = f
        .store
        .enqueue_bulk(vec![
            request("1").unique_key("k2"),
            request("2").unique_key("k2"),
        ])
        .await
        .unwrap();
    assert!(!bulk[0].duplicate && bulk[1].duplicate && bulk[0].id == bulk[1].id);
    // Still unique while running.
    let claimed = f.claim(10).await;
    assert_eq!(claimed.len(), 2);
    assert!(
        f.store
            .enqueue(request("{}").unique_key("k1"))
            .await
            .unwrap()
            .duplicate
    );
    // Finished: the key is free again.
    let k1 = claimed.iter().find(|job| job.id == first.id).unwrap();
    assert!(f.store.complete(completion(k1)).await.unwrap().is_applied());
    let again = f
        .store
        .enqueue(request("{}").unique_key("k1"))
        .await
        .unwrap();
    assert!(!again.duplicate && again.id != first.id);
}

async fn racing_enqueues_of_one_unique_key_create_one_job<B: Backend>() {
    let f = fixture::<B>().await;
    let store = f.store.clone();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let store = store.clone();
            let barrier = barrier.clone();
            // Each caller on its own OS thread with its own runtime, so the two really race.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                barrier.wait();
                runtime.block_on(async {
                    let mut outcomes = Vec::new();
                    for key in 0..100 {
                        let request = EnqueueRequest::new("echo", format!("{{\"t\":{thread}}}"))
                            .unique_key(format!("race-{key}"));
                        outcomes.push(store.enqueue(request).await.unwrap());
                    }
                    outcomes
                })
            })
        })
        .collect();
    let results: Vec<Vec<EnqueueOutcome>> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    for (key, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
        assert_eq!(a.id, b.id, "key {key}: both callers get the same job");
        assert!(
            a.duplicate != b.duplicate,
            "key {key}: exactly one insert, one duplicate"
        );
    }
    let counts = f.store.counts().await.unwrap();
    assert_eq!(counts.queues[0].available, 100);
}

async fn enqueue_validates_payload_script_and_limits<B: Backend>() {
    let f = fixture_with::<B>(|opts| opts.max_payload_bytes = 64).await;
    let too_big = format!("\"{}\"", "x".repeat(100));
    assert!(matches!(
        f.store.enqueue(request(&too_big)).await,
        Err(StoreError::PayloadTooLarge {
            size: 102,
            limit: 64
        })
    ));
    assert!(matches!(
        f.store.enqueue(request("{not json")).await,
        Err(StoreError::InvalidPayload { .. })
    ));
    assert!(matches!(
        f.store.enqueue(EnqueueRequest::new("nope", "{}")).await,
        Err(StoreError::UnknownScript { name }) if name == "nope"
    ));
    assert!(matches!(
        f.store.enqueue(request("{}").max_attempts(0)).await,
        Err(StoreError::InvalidRequest(_))
    ));
    // One bad job fails the whole bulk; nothing of it is stored.
    let bulk = f
        .store
        .enqueue_bulk(vec![request("1"), EnqueueRequest::new("nope", "{}")])
        .await;
    assert!(matches!(bulk, Err(StoreError::UnknownScript { .. })));
    assert!(
        f.store
            .list_jobs(JobFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    let err = f
        .store
        .enqueue(EnqueueRequest::new("nope", "{}"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown script \"nope\": add it first (jobvisor scripts add)"
    );
}

async fn script_version_is_resolved_at_enqueue_time<B: Backend>() {
    let f = fixture::<B>().await;
    let v1 = f.store.list_scripts().await.unwrap()[0].hash.clone();
    let old = f.enqueue(request("1")).await;
    let v2 = f
        .store
        .add_script("echo", "export default () => 2;")
        .await
        .unwrap();
    assert!(v2.created && v2.hash != v1);
    let new = f.enqueue(request("2")).await;
    let claimed = f.claim(2).await;
    let hash_of = |id| {
        claimed
            .iter()
            .find(|job| job.id == id)
            .unwrap()
            .script_hash
            .clone()
    };
    assert_eq!(hash_of(old), v1);
    assert_eq!(hash_of(new), v2.hash);
    assert_eq!(
        f.store.script_source("echo", &v1).await.unwrap().as_deref(),
        Some(SCRIPT)
    );
    let scripts = f.store.list_scripts().await.unwrap();
    assert_eq!(scripts.iter().filter(|script| script.current).count(), 1);
    assert!(
        scripts
            .iter()
            .any(|script| script.hash == v2.hash && script.current)
    );
    // Re-adding the old source makes it current again without a new row.
    let again = f.store.add_script("echo", SCRIPT).await.unwrap();
    assert!(!again.created && again.hash == v1);
    assert_eq!(f.store.list_scripts().await.unwrap().len(), 2);
}

async fn paused_queues_are_skipped_until_resumed<B: Backend>() {
    let f = fixture::<B>().await;
    let mail = f.enqueue(request("{}").queue("mail").priority(5)).await;
    let other = f.enqueue(request("{}")).await;
    f.store.set_queue_paused("mail", true, false).await.unwrap();
    assert_eq!(
        f.claim(10)
            .await
            .iter()
            .map(|job| job.id)
            .collect::<Vec<_>>(),
        vec![other]
    );
    assert!(f.claim(10).await.is_empty());
    assert!(
        f.store
            .list_queues()
            .await
            .unwrap()
            .iter()
            .any(|queue| queue.name == "mail" && queue.paused)
    );
    f.store
        .set_queue_paused("mail", false, false)
        .await
        .unwrap();
    assert_eq!(f.claim(10).await[0].id, mail);
}

async fn concurrency_caps_limit_running_jobs_per_queue<B: Backend>() {
    let f = fixture::<B>().await;
    f.store
        .set_queue_concurrency("slow", Some(2))
        .await
        .unwrap();
    let mut slow = Vec::new();
    for i in 0..5 {
        slow.push(
            f.enqueue(request("{}").queue("slow").priority(10 - i))
                .await,
        );
    }
    let mut fast = Vec::new();
    for _ in 0..3 {
        fast.push(f.enqueue(request("{}").queue("fast")).await);
    }
    let first = f.claim(10).await;
    let ids: Vec<JobId> = first.iter().map(|job| job.id).collect();
    // Global order across queues, but only two of `slow`.
    assert_eq!(ids, vec![slow[0], slow[1], fast[0], fast[1], fast[2]]);
    assert!(f.claim(10).await.is_empty(), "cap reached");
    assert!(
        f.store
            .complete(completion(&first[0]))
            .await
            .unwrap()
            .is_applied()
    );
    let next = f.claim(10).await;
    assert_eq!(
        next.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![slow[2]]
    );
    let queues = f.store.list_queues().await.unwrap();
    let slow_queue = queues.iter().find(|queue| queue.name == "slow").unwrap();
    assert_eq!((slow_queue.concurrency, slow_queue.running), (Some(2), 2));
    f.store.set_queue_concurrency("slow", None).await.unwrap();
    assert_eq!(f.claim(10).await.len(), 2);
}

async fn stale_completions_change_nothing_and_are_reported<B: Backend>() {
    let mut f = fixture::<B>().await;
    let id = f.enqueue(request("{}").max_attempts(5)).await;
    let claimed = f.claim(1).await.remove(0);
    let wrong_attempt = Completion {
        attempt: AttemptRef {
            attempt: claimed.attempt + 1,
            ..claimed.attempt_ref()
        },
        ..completion(&claimed)
    };
    let wrong_epoch = Completion {
        attempt: AttemptRef {
            epoch: claimed.epoch - 1,
            ..claimed.attempt_ref()
        },
        ..completion(&claimed)
    };
    let before = f.job(id).await;
    for stale in [wrong_attempt, wrong_epoch] {
        let outcome = f.store.complete(stale).await.unwrap();
        assert_eq!(
            outcome,
            Fenced::Stale(StaleReason::Superseded {
                state: JobState::Running,
                attempt: 1,
                epoch: Some(claimed.epoch)
            })
        );
    }
    assert_eq!(f.job(id).await, before, "nothing changed");
    let missing = Completion {
        attempt: AttemptRef {
            id: JobId(999_999),
            ..claimed.attempt_ref()
        },
        ..completion(&claimed)
    };
    assert_eq!(
        f.store.complete(missing).await.unwrap(),
        Fenced::Stale(StaleReason::NotFound)
    );

    // Fail, then the old attempt's completion arrives late.
    assert!(
        f.store
            .fail(failure(&claimed, OutcomeKind::Timeout))
            .await
            .unwrap()
            .is_applied()
    );
    let late = f.store.complete(completion(&claimed)).await.unwrap();
    assert!(matches!(
        late,
        Fenced::Stale(StaleReason::Superseded {
            state: JobState::Retryable,
            ..
        })
    ));
    assert_eq!(
        f.job(id).await.attempts.len(),
        1,
        "no attempt row for a stale write"
    );

    // A new epoch fences the old one's attempts even when the attempt number matches.
    f.clock.advance(Duration::from_secs(3600));
    let second = f.claim(1).await.remove(0);
    f.reopen().await;
    assert_ne!(f.store.epoch(), second.epoch);
    assert!(
        !f.store
            .complete(completion(&second))
            .await
            .unwrap()
            .is_applied()
    );
    assert!(
        !f.store
            .refund(second.attempt_ref(), AttemptReport::default())
            .await
            .unwrap()
            .is_applied()
    );
    assert!(
        !f.store
            .fail(failure(&second, OutcomeKind::Crash))
            .await
            .unwrap()
            .is_applied()
    );
    assert_eq!(f.state(id).await, JobState::Running);
}

async fn failures_back_off_within_bounds_then_discard_with_the_last_reason<B: Backend>() {
    let f = fixture_with::<B>(|opts| {
        opts.backoff = BackoffPolicy {
            base: Duration::from_millis(1000),
            cap: Duration::from_millis(3000),
        };
    })
    .await;
    let id = f.enqueue(request("{}").max_attempts(4)).await;
    let kinds = [OutcomeKind::JsError, OutcomeKind::Timeout, OutcomeKind::Oom];
    let ceilings = [1000, 2000, 3000];
    for (kind, ceiling) in kinds.into_iter().zip(ceilings) {
        let claimed = f.claim(1).await.remove(0);
        let now = f.clock.now_ms();
        let Fenced::Applied(FailDisposition::Retry { run_at_ms }) =
            f.store.fail(failure(&claimed, kind)).await.unwrap()
        else {
            panic!("expected a retry");
        };
        let delay = run_at_ms - now;
        assert!(
            delay >= ceiling / 2 && delay <= ceiling,
            "attempt {} delay {delay} outside [{}, {ceiling}]",
            claimed.attempt,
            ceiling / 2
        );
        assert_eq!(f.state(id).await, JobState::Retryable);
        f.clock.set(run_at_ms - 1);
        assert!(f.claim(1).await.is_empty(), "not before its backoff");
        f.clock.set(run_at_ms);
    }
    let last = f.claim(1).await.remove(0);
    assert_eq!(last.attempt, 4);
    let crash = Failure {
        error: Some(JobError {
            name: "Crash".into(),
            message: "signal 11".into(),
            stack: None,
        }),
        ..failure(&last, OutcomeKind::Crash)
    };
    assert_eq!(
        f.store.fail(crash).await.unwrap(),
        Fenced::Applied(FailDisposition::Discarded)
    );
    let detail = f.job(id).await;
    assert_eq!(detail.job.state, JobState::Discarded);
    assert_eq!(detail.job.attempt, 4);
    assert_eq!(detail.job.last_outcome, Some(OutcomeKind::Crash));
    assert_eq!(detail.job.last_error.as_deref(), Some("Crash: signal 11"));
    assert!(detail.job.finished_at_ms.is_some());
    let outcomes: Vec<OutcomeKind> = detail
        .attempts
        .iter()
        .map(|attempt| attempt.outcome)
        .collect();
    assert_eq!(
        outcomes,
        vec![
            OutcomeKind::JsError,
            OutcomeKind::Timeout,
            OutcomeKind::Oom,
            OutcomeKind::Crash
        ]
    );
    assert_eq!(
        detail
            .attempts
            .iter()
            .map(|attempt| attempt.attempt)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(detail.attempts[0].worker_pid, Some(77));
    assert_eq!(detail.attempts[0].logs, "log line\n");
    assert_eq!(
        detail.attempts[0].error.as_ref().unwrap().stack.as_deref(),
        Some("at x")
    );
    assert!(f.claim(1).await.is_empty());
}

async fn per_job_backoff_overrides_the_default<B: Backend>() {
    let f = fixture::<B>().await;
    let id = f
        .enqueue(request("{}").backoff(BackoffPolicy {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(10),
        }))
        .await;
    let claimed = f.claim(1).await.remove(0);
    let Fenced::Applied(FailDisposition::Retry { run_at_ms }) = f
        .store
        .fail(failure(&claimed, OutcomeKind::JsError))
        .await
        .unwrap()
    else {
        panic!("expected a retry");
    };
    assert!((T0 + 5..=T0 + 10).contains(&run_at_ms));
    assert_eq!(
        f.job(id).await.job.backoff.unwrap().cap,
        Duration::from_millis(10)
    );
}

async fn fail_rejects_non_failure_kinds<B: Backend>() {
    let f = fixture::<B>().await;
    f.enqueue(request("{}")).await;
    let claimed = f.claim(1).await.remove(0);
    for kind in [OutcomeKind::Completed, OutcomeKind::Interrupted] {
        assert!(matches!(
            f.store.fail(failure(&claimed, kind)).await,
            Err(StoreError::InvalidRequest(_))
        ));
    }
}

async fn refund_gives_the_attempt_back<B: Backend>() {
    let f = fixture::<B>().await;
    let id = f.enqueue(request("{}").max_attempts(1)).await;
    let claimed = f.claim(1).await.remove(0);
    let report = AttemptReport {
        logs: "half way".into(),
        ..AttemptReport::default()
    };
    assert!(
        f.store
            .refund(claimed.attempt_ref(), report)
            .await
            .unwrap()
            .is_applied()
    );
    let detail = f.job(id).await;
    assert_eq!(
        (detail.job.state, detail.job.attempt),
        (JobState::Available, 0)
    );
    assert_eq!(detail.attempts.len(), 1);
    assert_eq!(detail.attempts[0].outcome, OutcomeKind::Interrupted);
    assert_eq!(detail.attempts[0].attempt, 1);
    // The refunded attempt did not count: a single-attempt job can still run.
    let again = f.claim(1).await.remove(0);
    assert_eq!(again.attempt, 1);
    assert!(
        f.store
            .complete(completion(&again))
            .await
            .unwrap()
            .is_applied()
    );
    assert_eq!(f.state(id).await, JobState::Completed);
    // Refunding a finished attempt is stale.
    assert!(
        !f.store
            .refund(again.attempt_ref(), AttemptReport::default())
            .await
            .unwrap()
            .is_applied()
    );
}

async fn cancel_covers_queued_running_finished_and_missing_jobs<B: Backend>() {
    let f = fixture::<B>().await;
    let queued = f
        .enqueue(request("{}").delay(Duration::from_secs(60)))
        .await;
    let running = f.enqueue(request("{}").max_attempts(5)).await;
    assert_eq!(
        f.store.cancel(queued).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(f.state(queued).await, JobState::Cancelled);
    let claimed = f.claim(1).await.remove(0);
    assert_eq!(claimed.id, running);
    assert_eq!(
        f.store.cancel(running).await.unwrap(),
        CancelOutcome::Running { attempt: 1 }
    );
    assert_eq!(
        f.state(running).await,
        JobState::Running,
        "still running until the worker is killed"
    );
    // The supervisor kills the worker and reports it: cancelled, not retried.
    assert_eq!(
        f.store
            .fail(failure(&claimed, OutcomeKind::Killed))
            .await
            .unwrap(),
        Fenced::Applied(FailDisposition::Cancelled)
    );
    assert_eq!(f.state(running).await, JobState::Cancelled);
    assert_eq!(
        f.store.cancel(running).await.unwrap(),
        CancelOutcome::AlreadyFinished(JobState::Cancelled)
    );
    assert_eq!(
        f.store.cancel(JobId(424_242)).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert!(f.claim(5).await.is_empty());
}

async fn discarded_and_cancelled_jobs_can_be_retried_by_hand<B: Backend>() {
    let f = fixture::<B>().await;
    let discarded = f
        .enqueue(request("{}").max_attempts(1).unique_key("u"))
        .await;
    let claimed = f.claim(1).await.remove(0);
    f.store
        .fail(failure(&claimed, OutcomeKind::JsError))
        .await
        .unwrap();
    assert_eq!(f.state(discarded).await, JobState::Discarded);
    assert_eq!(
        requeued_with(f.store.retry(discarded, false).await.unwrap()),
        Some(2)
    );
    let detail = f.job(discarded).await.job;
    assert_eq!(
        (detail.state, detail.attempt, detail.max_attempts),
        (JobState::Available, 1, 2)
    );
    let again = f.claim(1).await.remove(0);
    assert_eq!(again.attempt, 2, "attempt numbers keep counting");
    f.store.complete(completion(&again)).await.unwrap();
    assert_eq!(
        f.store.retry(discarded, false).await.unwrap(),
        RetryOutcome::NotRetryable(JobState::Completed)
    );

    let cancelled = f.enqueue(request("{}").unique_key("v")).await;
    f.store.cancel(cancelled).await.unwrap();
    let newer = f.enqueue(request("{}").unique_key("v")).await;
    assert_eq!(
        f.store.retry(cancelled, false).await.unwrap(),
        RetryOutcome::UniqueConflict { existing: newer }
    );
    f.store.cancel(newer).await.unwrap();
    assert_eq!(
        requeued_with(f.store.retry(cancelled, false).await.unwrap()),
        Some(3)
    );
    assert_eq!(f.state(cancelled).await, JobState::Available);
    assert_eq!(
        f.store.retry(JobId(99_999), false).await.unwrap(),
        RetryOutcome::NotFound
    );
}

async fn a_retry_keeps_the_script_version_unless_latest<B: Backend>() {
    let f = fixture::<B>().await;
    let id = f.enqueue(request("{}").max_attempts(1)).await;
    let v1 = f.job(id).await.job.script_hash;
    let claimed = f.claim(1).await.remove(0);
    f.store
        .fail(failure(&claimed, OutcomeKind::JsError))
        .await
        .unwrap();
    let v2 = f
        .store
        .add_script("echo", "export default () => 'fixed';")
        .await
        .unwrap()
        .hash;
    let detail = f.job(id).await;
    assert_eq!(detail.current_script_hash.as_deref(), Some(v2.as_str()));
    match f.store.retry(id, false).await.unwrap() {
        RetryOutcome::Requeued {
            script_hash,
            script_changed,
            ..
        } => assert_eq!((script_hash, script_changed), (v1.clone(), false)),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.job(id).await.job.script_hash, v1);
    f.store.cancel(id).await.unwrap();
    match f.store.retry(id, true).await.unwrap() {
        RetryOutcome::Requeued {
            script_hash,
            script_changed,
            ..
        } => assert_eq!((script_hash, script_changed), (v2.clone(), true)),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.job(id).await.job.script_hash, v2);
    assert_eq!(f.claim(1).await.remove(0).id, id);
}

async fn unknown_queues_are_paused_only_on_request_and_unused_ones_removed<B: Backend>() {
    let f = fixture::<B>().await;
    assert!(
        !f.store
            .set_queue_paused("nosuch", true, false)
            .await
            .unwrap()
    );
    assert!(f.store.list_queues().await.unwrap().is_empty());
    assert!(f.store.set_queue_paused("later", true, true).await.unwrap());
    f.enqueue(request("{}").queue("mail")).await;
    assert_eq!(
        f.store.remove_queue("mail").await.unwrap(),
        QueueRemoval::HasJobs(1)
    );
    assert_eq!(
        f.store.remove_queue("later").await.unwrap(),
        QueueRemoval::Removed
    );
    assert_eq!(
        f.store.remove_queue("later").await.unwrap(),
        QueueRemoval::NotFound
    );
    let names: Vec<String> = f
        .store
        .list_queues()
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["mail"]);
}

async fn recovery_requeues_orphans_at_once_when_workers_are_dead<B: Backend>() {
    let mut f = fixture::<B>().await;
    let fresh = f.enqueue(request("{}").max_attempts(3)).await;
    let last_try = f.enqueue(request("{}").max_attempts(1)).await;
    let to_cancel = f.enqueue(request("{}")).await;
    let claimed = f.claim(3).await;
    let old_epoch = claimed[0].epoch;
    assert_eq!(
        f.store.cancel(to_cancel).await.unwrap(),
        CancelOutcome::Running { attempt: 1 }
    );
    f.reopen().await; // the supervisor "crashed" with three jobs running
    assert_eq!(f.store.epoch(), old_epoch + 1);
    let report = f.store.recover(RecoveryMode::WorkersDead).await.unwrap();
    // A crash of the supervisor is not the jobs' fault: their attempts are refunded,
    // even a job's last one.
    assert_eq!(report.requeued, vec![fresh, last_try]);
    assert_eq!(report.discarded, vec![]);
    assert_eq!(report.cancelled, vec![to_cancel]);
    let detail = f.job(fresh).await;
    assert_eq!(
        (detail.job.state, detail.job.attempt),
        (JobState::Available, 0),
        "attempt refunded"
    );
    assert_eq!(detail.attempts[0].outcome, OutcomeKind::SupervisorRestart);
    assert_eq!(detail.attempts[0].attempt, 1);
    assert_eq!(detail.attempts[0].epoch, Some(old_epoch));
    assert_eq!(
        f.job(last_try).await.job.last_outcome,
        Some(OutcomeKind::SupervisorRestart)
    );
    let again = f.claim(5).await;
    assert_eq!(again.len(), 2);
    assert_eq!((again[0].id, again[0].attempt), (fresh, 1));
    assert_eq!((again[1].id, again[1].attempt), (last_try, 1));
    assert_eq!(f.store.list_queues().await.unwrap()[0].running, 2);
}

async fn supervisor_crashes_stop_being_free_after_max_attempts_of_them<B: Backend>() {
    let mut f = fixture::<B>().await;
    let id = f.enqueue(request("{}").max_attempts(2)).await;
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        if f.claim(1).await.is_empty() {
            break;
        }
        f.reopen().await;
        let report = f.store.recover(RecoveryMode::WorkersDead).await.unwrap();
        outcomes.push((report.requeued.len(), report.discarded.len()));
    }
    // Two free interruptions, then the attempts count: 1 of 2, then 2 of 2 discards.
    assert_eq!(outcomes, vec![(1, 0), (1, 0), (1, 0), (0, 1)]);
    let detail = f.job(id).await;
    assert_eq!(
        (detail.job.state, detail.job.attempt),
        (JobState::Discarded, 2)
    );
    assert_eq!(detail.attempts.len(), 4);
    assert!(
        detail
            .job
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("so the attempt counts"),
        "{:?}",
        detail.job.last_error
    );
}

async fn recovery_waits_for_leases_when_old_workers_may_live<B: Backend>() {
    let mut f = fixture_with::<B>(|opts| opts.lease_grace = Duration::from_secs(30)).await;
    let short = f
        .enqueue(request("{}").timeout(Duration::from_secs(10)))
        .await;
    let long = f
        .enqueue(request("{}").timeout(Duration::from_secs(100)))
        .await;
    let claimed = f.claim(2).await;
    assert_eq!(
        claimed
            .iter()
            .find(|job| job.id == short)
            .unwrap()
            .lease_until_ms,
        T0 + 40_000
    );
    f.clock.advance(Duration::from_secs(20));
    f.reopen().await;
    let report = f.store.recover(RecoveryMode::WaitForLease).await.unwrap();
    assert!(report.requeued.is_empty());
    assert_eq!(
        (report.waiting, report.next_lease_expiry_ms),
        (2, Some(T0 + 40_000))
    );
    assert!(f.claim(5).await.is_empty());
    f.clock.set(T0 + 39_999);
    assert!(
        f.store
            .requeue_expired_leases()
            .await
            .unwrap()
            .requeued
            .is_empty()
    );
    f.clock.set(T0 + 40_000);
    let first = f.store.requeue_expired_leases().await.unwrap();
    assert_eq!((first.requeued.clone(), first.waiting), (vec![short], 1));
    assert_eq!(
        f.job(short).await.attempts[0].outcome,
        OutcomeKind::LeaseExpired
    );
    // An orphan can be cancelled at once: nobody here runs it.
    assert_eq!(
        f.store.cancel(long).await.unwrap(),
        CancelOutcome::Cancelled
    );
    f.clock.set(T0 + 200_000);
    let second = f.store.requeue_expired_leases().await.unwrap();
    assert!(second.requeued.is_empty() && second.waiting == 0);
    assert_eq!(f.state(long).await, JobState::Cancelled);
    assert_eq!(f.claim(5).await[0].id, short);
}

async fn expired_leases_are_found_at_recover_time_too<B: Backend>() {
    let mut f = fixture::<B>().await;
    let id = f
        .enqueue(request("{}").timeout(Duration::from_secs(1)))
        .await;
    f.claim(1).await;
    f.clock.advance(Duration::from_secs(3600));
    f.reopen().await;
    let report = f.store.recover(RecoveryMode::WaitForLease).await.unwrap();
    assert_eq!(report.requeued, vec![id]);
    assert_eq!(report.waiting, 0);
}

async fn logs_and_errors_are_bounded_and_the_cut_is_recorded<B: Backend>() {
    let f = fixture_with::<B>(|opts| {
        opts.max_log_bytes = 10;
        opts.max_error_bytes = 8;
    })
    .await;
    let id = f.enqueue(request("{}").max_attempts(2)).await;
    let claimed = f.claim(1).await.remove(0);
    let fail = Failure {
        attempt: claimed.attempt_ref(),
        kind: OutcomeKind::JsError,
        error: Some(JobError {
            name: "RangeError".into(),
            message: "é".repeat(10),
            stack: None,
        }),
        report: AttemptReport {
            logs: "0123456789abcdef".into(),
            ..AttemptReport::default()
        },
    };
    f.store.fail(fail).await.unwrap();
    let attempt = &f.job(id).await.attempts[0];
    assert_eq!(attempt.logs, "0123456789");
    assert!(attempt.logs_truncated);
    let error = attempt.error.as_ref().unwrap();
    assert_eq!(
        (error.name.as_str(), error.message.as_str()),
        ("RangeErr", "éééé")
    );
    // The caller's own truncation flag is kept even when the text fits.
    let claimed = {
        f.clock.advance(Duration::from_secs(3600));
        f.claim(1).await.remove(0)
    };
    let report = AttemptReport {
        logs: "short".into(),
        logs_truncated: true,
        duration: Some(Duration::from_millis(1234)),
        cpu_time: Some(Duration::from_millis(55)),
        peak_memory_bytes: Some(1 << 20),
        worker_pid: Some(9),
        requests: Vec::new(),
    };
    f.store
        .complete(Completion {
            attempt: claimed.attempt_ref(),
            result: None,
            report,
            effects: Default::default(),
        })
        .await
        .unwrap();
    let attempt = &f.job(id).await.attempts[1];
    assert!(attempt.logs_truncated);
    assert_eq!(
        (
            attempt.duration_ms,
            attempt.cpu_ms,
            attempt.peak_memory_bytes
        ),
        (Some(1234), Some(55), Some(1 << 20))
    );
}

async fn counts_and_listings_reflect_states_and_filters<B: Backend>() {
    let f = fixture::<B>().await;
    f.store
        .add_script("other", "export default () => 1;")
        .await
        .unwrap();
    let a = f.enqueue(request("{}")).await;
    let b = f.enqueue(request("{}").queue("q2")).await;
    let c = f
        .enqueue(EnqueueRequest::new("other", "{}").delay(Duration::from_secs(5)))
        .await;
    f.store.cancel(b).await.unwrap();
    let counts = f.store.counts().await.unwrap();
    let default = counts
        .queues
        .iter()
        .find(|queue| queue.queue == "default")
        .unwrap();
    assert_eq!((default.available, default.scheduled), (1, 1));
    let q2 = counts
        .queues
        .iter()
        .find(|queue| queue.queue == "q2")
        .unwrap();
    assert_eq!(q2.cancelled, 1);
    let all = f.store.list_jobs(JobFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![c, b, a],
        "newest first"
    );
    let by_state = f
        .store
        .list_jobs(JobFilter {
            state: Some(JobState::Cancelled),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_state.len(), 1);
    let by_script = f
        .store
        .list_jobs(JobFilter {
            script: Some("other".into()),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_script[0].id, c);
    let by_queue = f
        .store
        .list_jobs(JobFilter {
            queue: Some("q2".into()),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_queue[0].id, b);
    let page = f
        .store
        .list_jobs(JobFilter {
            before: Some(c),
            limit: 1,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|job| job.id).collect::<Vec<_>>(), vec![b]);
}

async fn closed_store_reports_closed<B: Backend>() {
    let f = fixture::<B>().await;
    let clone = f.store.clone();
    f.store.clone().close().await.unwrap();
    assert!(matches!(
        clone.enqueue(request("{}")).await,
        Err(StoreError::Closed)
    ));
}

macro_rules! conformance {
    ($module:ident = $backend:ident: $($test:ident),+ $(,)?) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test::<super::$backend>().await;
                }
            )+
        }
    };
}

conformance!(sqlite = Sqlite:
    another_owners_live_lease_is_never_released,
    a_cancel_of_another_owners_live_job_is_only_requested,
    another_owners_expired_lease_is_released,
    a_renewed_lease_is_watched_again,
    this_nodes_earlier_epoch_is_released_at_once,
    renew_leases_extends_only_the_owners_own_jobs,
    reads_and_writes_go_through_the_contract,
    claims_in_priority_then_run_at_then_id_order,
    delayed_jobs_wait_for_their_time,
    unique_key_returns_the_live_job_and_is_freed_when_it_finishes,
    racing_enqueues_of_one_unique_key_create_one_job,
    enqueue_validates_payload_script_and_limits,
    script_version_is_resolved_at_enqueue_time,
    paused_queues_are_skipped_until_resumed,
    concurrency_caps_limit_running_jobs_per_queue,
    stale_completions_change_nothing_and_are_reported,
    failures_back_off_within_bounds_then_discard_with_the_last_reason,
    per_job_backoff_overrides_the_default,
    fail_rejects_non_failure_kinds,
    refund_gives_the_attempt_back,
    cancel_covers_queued_running_finished_and_missing_jobs,
    discarded_and_cancelled_jobs_can_be_retried_by_hand,
    a_retry_keeps_the_script_version_unless_latest,
    unknown_queues_are_paused_only_on_request_and_unused_ones_removed,
    recovery_requeues_orphans_at_once_when_workers_are_dead,
    supervisor_crashes_stop_being_free_after_max_attempts_of_them,
    recovery_waits_for_leases_when_old_workers_may_live,
    expired_leases_are_found_at_recover_time_too,
    logs_and_errors_are_bounded_and_the_cut_is_recorded,
    counts_and_listings_reflect_states_and_filters,
    closed_store_reports_closed,
);

// After the macro, so the module can instantiate its own part of the suite with it. Its
// file sits in a directory so that cargo does not take it for a test target of its own.
#[path = "conformance/effects.rs"]
mod effects;
#[path = "conformance/read_only.rs"]
mod read_only;
#[path = "conformance/schedules.rs"]
mod schedules;
