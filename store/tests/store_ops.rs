//! SqliteStore operations that only the SQLite backend has, end to end through its public
//! API. What every backend must do lives in `conformance.rs`, written against `JobStore`;
//! these tests stay here because each one needs SQLite itself: the blocking `Pending`
//! replies and `.wait()` (handles across threads, awaiting a `Pending`), the writer's group
//! commit and `WriteBatch` with its `writer_stats`, `prune_blocking` with `quick_check`, a
//! page quota (`max_page_count`) standing in for a full disk, and a lock taken by a second
//! raw SQLite connection.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::*;
use tempfile::TempDir;

mod common;
use common::{SCRIPT, completion, failure, options};

const T0: i64 = 1_700_000_000_000;

struct Fixture {
    dir: TempDir,
    clock: Arc<ManualClock>,
    store: SqliteStore,
}

fn fixture() -> Fixture {
    fixture_with(|_| {})
}

fn fixture_with(tune: impl FnOnce(&mut StoreOptions)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut opts = options(&clock);
    tune(&mut opts);
    let store = SqliteStore::open(dir.path().join("jobs.db"), opts).unwrap();
    store.add_script("echo", SCRIPT).wait().unwrap();
    Fixture { dir, clock, store }
}

impl Fixture {
    fn enqueue(&self, request: EnqueueRequest) -> JobId {
        let outcome = self.store.enqueue(request).wait().unwrap();
        assert!(!outcome.duplicate);
        outcome.id
    }

    fn claim(&self, max: usize) -> Vec<ClaimedJob> {
        self.store.claim_batch(max).wait().unwrap().jobs
    }

    fn job(&self, id: JobId) -> JobDetail {
        self.store.get_job(id).unwrap().expect("job exists")
    }

    fn state(&self, id: JobId) -> JobState {
        self.job(id).job.state
    }
}

fn job(payload: &str) -> EnqueueRequest {
    EnqueueRequest::new("echo", payload)
}

#[test]
fn handles_and_replies_can_cross_threads_and_tasks() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    fn assert_send<T: Send + 'static>() {}
    assert_send_sync::<SqliteStore>();
    assert_send::<Pending<ClaimBatch>>();
    assert_send::<StoreError>();
}

#[test]
fn pruning_deletes_old_finished_jobs_in_small_batches() {
    let f = fixture_with(|opts| opts.prune_batch = 7);
    let mut old_done = Vec::new();
    for i in 0..30 {
        let id = f.enqueue(job(&i.to_string()));
        old_done.push(id);
    }
    let old_pending = f.enqueue(job("{}").queue("other"));
    f.store
        .set_queue_paused("other", true, false)
        .wait()
        .unwrap();
    for (index, claimed) in f.claim(30).iter().enumerate() {
        if index % 2 == 0 {
            f.store.complete(completion(claimed)).wait().unwrap();
        } else {
            f.store.cancel(claimed.id).wait().unwrap();
            f.store
                .fail(failure(claimed, OutcomeKind::Killed))
                .wait()
                .unwrap();
        }
    }
    f.clock.advance(Duration::from_secs(7200));
    let recent = f.enqueue(job("{}"));
    let recent_claimed = f.claim(1).remove(0);
    f.store
        .complete(completion(&recent_claimed))
        .wait()
        .unwrap();
    let report = f
        .store
        .prune_blocking(Retention {
            completed: Duration::from_secs(3600),
            failed: Duration::from_secs(3600),
        })
        .unwrap();
    assert_eq!(report.deleted, 30);
    assert!(
        report.transactions >= 5,
        "30 rows at 7 per transaction: {report:?}"
    );
    for id in old_done {
        assert!(f.store.get_job(id).unwrap().is_none());
    }
    assert_eq!(f.state(old_pending), JobState::Available);
    assert_eq!(f.state(recent), JobState::Completed);
    // Nothing left to prune.
    let again = f
        .store
        .prune_blocking(Retention {
            completed: Duration::from_secs(3600),
            failed: Duration::ZERO,
        })
        .unwrap();
    assert_eq!(again.deleted, 0);
    f.store.quick_check().unwrap();
}

#[test]
fn completions_and_the_next_claim_share_one_group_commit() {
    let f = fixture();
    let ids = f
        .store
        .enqueue_bulk((0..128).map(|i| job(&i.to_string())).collect())
        .wait()
        .unwrap();
    assert_eq!(ids.len(), 128);
    let first = f.claim(64);
    // Send every completion and the next claim before waiting for any of them.
    let pending: Vec<_> = first
        .iter()
        .map(|claimed| f.store.complete(completion(claimed)))
        .collect();
    let next = f.store.claim_batch(64);
    let bad = f.store.enqueue(EnqueueRequest::new("missing-script", "{}"));
    for reply in pending {
        assert!(reply.wait().unwrap().is_applied());
    }
    assert!(
        matches!(bad.wait(), Err(StoreError::UnknownScript { .. })),
        "a failing command does not poison the batch"
    );
    let next = next.wait().unwrap();
    assert_eq!(next.jobs.len(), 64);
    let counts = f.store.counts().unwrap();
    assert_eq!(
        (counts.queues[0].completed, counts.queues[0].running),
        (64, 64)
    );
}

#[test]
fn a_write_batch_is_one_transaction() {
    let f = fixture();
    f.store
        .enqueue_bulk((0..100).map(|i| job(&i.to_string())).collect())
        .wait()
        .unwrap();
    let first = f.claim(32);
    let before = f.store.writer_stats();
    let mut batch = f.store.batch();
    let done: Vec<_> = first
        .iter()
        .map(|claimed| batch.complete(completion(claimed)))
        .collect();
    let stale = batch.complete(completion(&first[0])); // a duplicate: fenced out, not an error
    let next = batch.claim_batch(32);
    batch.send();
    for reply in done {
        assert!(reply.wait().unwrap().is_applied());
    }
    assert!(!stale.wait().unwrap().is_applied());
    assert_eq!(next.wait().unwrap().jobs.len(), 32);
    let after = f.store.writer_stats();
    assert_eq!(
        after.transactions - before.transactions,
        1,
        "completions + claim in one transaction"
    );
    assert_eq!(after.commands - before.commands, 34);
}

#[test]
fn async_callers_await_replies() {
    let f = fixture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let outcome = f.store.enqueue(job("{\"a\":1}")).await.unwrap();
        let batch = f.store.claim_batch(4).await.unwrap();
        assert_eq!(batch.jobs[0].id, outcome.id);
        let done = f.store.complete(completion(&batch.jobs[0])).await.unwrap();
        assert!(done.is_applied());
    });
    assert_eq!(f.state(JobId(1)), JobState::Completed);
}

#[test]
fn a_full_database_is_a_typed_error_and_rolls_back() {
    // A page quota makes SQLite return SQLITE_FULL exactly as a full disk does.
    let f = fixture_with(|opts| opts.max_page_count = Some(64));
    let payload = format!("\"{}\"", "x".repeat(3000));
    let mut stored = Vec::new();
    let error = loop {
        match f.store.enqueue(job(&payload)).wait() {
            Ok(outcome) => stored.push(outcome.id),
            Err(err) => break err,
        }
        assert!(stored.len() < 1000, "quota never hit");
    };
    assert!(matches!(error, StoreError::DiskFull { .. }), "{error:?}");
    assert!(error.is_transient());
    assert!(error.to_string().contains("database or disk is full"));
    // Everything acknowledged is there, the failed one is not, and the store still works.
    assert_eq!(
        f.store
            .list_jobs(&JobFilter {
                limit: 10_000,
                ..JobFilter::default()
            })
            .unwrap()
            .len(),
        stored.len()
    );
    // A group where one command hits the quota: whatever was acknowledged is stored,
    // whatever failed is not.
    let mut batch = f.store.batch();
    let small = batch.enqueue(job("1"));
    let big = batch.enqueue(job(&payload));
    let smaller = batch.enqueue(job("2"));
    batch.send();
    let results = [small.wait(), big.wait(), smaller.wait()];
    assert!(results[1].is_err(), "the big one cannot fit");
    for result in results.iter().flatten() {
        assert!(
            f.store.get_job(result.id).unwrap().is_some(),
            "acknowledged enqueue is stored"
        );
    }
    let claimed = f.claim(1).remove(0);
    assert!(
        f.store
            .complete(Completion {
                result: None,
                ..completion(&claimed)
            })
            .wait()
            .unwrap()
            .is_applied()
    );
    f.store.quick_check().unwrap();
}

#[test]
fn a_lock_held_elsewhere_is_a_typed_busy_error() {
    let f = fixture_with(|opts| opts.busy_timeout = Duration::from_millis(50));
    let other = rusqlite::Connection::open(f.dir.path().join("jobs.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let error = f.store.enqueue(job("{}")).wait().unwrap_err();
    assert!(matches!(error, StoreError::Busy { .. }), "{error:?}");
    assert!(error.is_transient());
    other.execute_batch("ROLLBACK").unwrap();
    f.enqueue(job("{}"));
}
