//! The store contract, checked through `JobStore` only, once per backend: each test is a
//! generic function over a [`Backend`] (how to open a handle as a given node), and
//! `conformance!` instantiates the suite for one backend (SQLite here; a PostgreSQL
//! backend adds one line). Owners and leases: another owner's live lease is never
//! released, an expired one is, this node's earlier epoch is released at once, and
//! `renew_leases` extends only the owner's own jobs.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::*;

const T0: i64 = 1_700_000_000_000;
const TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);
/// A claim at `T0` holds its lease until then.
const LEASE_END: i64 = T0 + 15_000;

/// How a test opens the backend under test as a given node.
trait Backend {
    type Store: JobStore;
    fn open(dir: &Path, node: &str, clock: &Arc<ManualClock>) -> Self::Store;
}

struct Sqlite;

impl Backend for Sqlite {
    type Store = SqliteStore;

    fn open(dir: &Path, node: &str, clock: &Arc<ManualClock>) -> SqliteStore {
        let options = StoreOptions {
            clock: clock.clone(),
            node_id: Some(node.to_owned()),
            lease_grace: GRACE,
            ..StoreOptions::default()
        };
        SqliteStore::open(dir.join("jobs.db"), options).unwrap()
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
    };
    assert_eq!(b.complete(completion).await.unwrap(), Fenced::Applied(()));
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
);
