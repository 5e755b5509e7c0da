//! SqliteStore operations end to end through the public API: ordering, delays, uniqueness,
//! pause and caps, fencing, retries and backoff, discard, refund, cancel, manual retry,
//! pruning, recovery with a manual clock, group commit, and typed busy / disk-full errors.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Barrier};
use std::time::Duration;

use jobvisor_store::*;
use tempfile::TempDir;

const T0: i64 = 1_700_000_000_000;
const SCRIPT: &str = "export default async function (payload) { return payload; }";

struct Fixture {
    dir: TempDir,
    clock: Arc<ManualClock>,
    store: SqliteStore,
}

fn options(clock: &Arc<ManualClock>) -> StoreOptions {
    StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    }
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
    fn reopen(&mut self) {
        self.reopen_with(|_| {});
    }

    fn reopen_with(&mut self, tune: impl FnOnce(&mut StoreOptions)) {
        let mut opts = options(&self.clock);
        tune(&mut opts);
        let old = std::mem::replace(
            &mut self.store,
            SqliteStore::open(self.dir.path().join("other.db"), opts.clone()).unwrap(),
        );
        old.close().unwrap();
        self.store = SqliteStore::open(self.dir.path().join("jobs.db"), opts).unwrap();
    }

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

fn completion(claimed: &ClaimedJob) -> Completion {
    Completion {
        attempt: claimed.attempt_ref(),
        result: Some("{\"ok\":true}".into()),
        report: AttemptReport::default(),
    }
}

fn failure(claimed: &ClaimedJob, kind: OutcomeKind) -> Failure {
    Failure {
        attempt: claimed.attempt_ref(),
        kind,
        error: Some(JobError {
            name: "TypeError".into(),
            message: "boom".into(),
            stack: Some("at x".into()),
        }),
        report: AttemptReport {
            worker_pid: Some(77),
            logs: "log line\n".into(),
            ..AttemptReport::default()
        },
    }
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
fn claims_in_priority_then_run_at_then_id_order() {
    let f = fixture();
    let low = f.enqueue(job("1").priority(-5));
    let a = f.enqueue(job("2").run_at(RunAt::At(T0 - 10)));
    let b = f.enqueue(job("3").run_at(RunAt::At(T0 - 10)));
    let earlier = f.enqueue(job("4").run_at(RunAt::At(T0 - 20)));
    let high = f.enqueue(job("5").priority(10));
    let claimed = f.claim(3);
    let ids: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(ids, vec![high, earlier, a]);
    assert!(
        claimed
            .iter()
            .all(|job| job.attempt == 1 && job.epoch == f.store.epoch())
    );
    assert_eq!(claimed[0].script_name, "echo");
    assert_eq!(claimed[0].payload, "5");
    let rest: Vec<JobId> = f.claim(10).iter().map(|job| job.id).collect();
    assert_eq!(rest, vec![b, low]);
    assert!(f.claim(10).is_empty());
}

#[test]
fn delayed_jobs_wait_for_their_time() {
    let f = fixture();
    let later = f.enqueue(job("{}").delay(Duration::from_secs(60)));
    let at = f.enqueue(job("{}").run_at(RunAt::At(T0 + 30_000)));
    assert_eq!(f.state(later), JobState::Scheduled);
    let batch = f.store.claim_batch(5).wait().unwrap();
    assert!(batch.jobs.is_empty());
    assert_eq!(batch.next_wake_at_ms, Some(T0 + 30_000));
    f.clock.advance(Duration::from_secs(30));
    let claimed = f.claim(5);
    assert_eq!(
        claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![at]
    );
    f.clock.advance(Duration::from_secs(30));
    assert_eq!(f.claim(5)[0].id, later);
}

#[test]
fn unique_key_returns_the_live_job_and_is_freed_when_it_finishes() {
    let f = fixture();
    let first = f.store.enqueue(job("{}").unique_key("k1")).wait().unwrap();
    let second = f
        .store
        .enqueue(job("{\"other\":1}").unique_key("k1"))
        .wait()
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
        .enqueue_bulk(vec![job("1").unique_key("k2"), job("2").unique_key("k2")])
        .wait()
        .unwrap();
    assert!(!bulk[0].duplicate && bulk[1].duplicate && bulk[0].id == bulk[1].id);
    // Still unique while running.
    let claimed = f.claim(10);
    assert_eq!(claimed.len(), 2);
    assert!(
        f.store
            .enqueue(job("{}").unique_key("k1"))
            .wait()
            .unwrap()
            .duplicate
    );
    // Finished: the key is free again.
    let k1 = claimed.iter().find(|job| job.id == first.id).unwrap();
    assert!(
        f.store
            .complete(completion(k1))
            .wait()
            .unwrap()
            .is_applied()
    );
    let again = f.store.enqueue(job("{}").unique_key("k1")).wait().unwrap();
    assert!(!again.duplicate && again.id != first.id);
}

#[test]
fn racing_enqueues_of_one_unique_key_create_one_job() {
    let f = fixture();
    let store = f.store.clone();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (0..100)
                    .map(|key| {
                        store
                            .enqueue(
                                EnqueueRequest::new("echo", format!("{{\"t\":{thread}}}"))
                                    .unique_key(format!("race-{key}")),
                            )
                            .wait()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
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
    let counts = f.store.counts().unwrap();
    assert_eq!(counts.queues[0].available, 100);
}

#[test]
fn enqueue_validates_payload_script_and_limits() {
    let f = fixture_with(|opts| opts.max_payload_bytes = 64);
    let too_big = format!("\"{}\"", "x".repeat(100));
    assert!(matches!(
        f.store.enqueue(job(&too_big)).wait(),
        Err(StoreError::PayloadTooLarge {
            size: 102,
            limit: 64
        })
    ));
    assert!(matches!(
        f.store.enqueue(job("{not json")).wait(),
        Err(StoreError::InvalidPayload { .. })
    ));
    assert!(matches!(
        f.store.enqueue(EnqueueRequest::new("nope", "{}")).wait(),
        Err(StoreError::UnknownScript { name }) if name == "nope"
    ));
    assert!(matches!(
        f.store.enqueue(job("{}").max_attempts(0)).wait(),
        Err(StoreError::InvalidRequest(_))
    ));
    // One bad job fails the whole bulk; nothing of it is stored.
    let bulk = f
        .store
        .enqueue_bulk(vec![job("1"), EnqueueRequest::new("nope", "{}")])
        .wait();
    assert!(matches!(bulk, Err(StoreError::UnknownScript { .. })));
    assert!(f.store.list_jobs(&JobFilter::default()).unwrap().is_empty());
    let err = f
        .store
        .enqueue(EnqueueRequest::new("nope", "{}"))
        .wait()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown script \"nope\": add it first (jobvisor scripts add)"
    );
}

#[test]
fn script_version_is_resolved_at_enqueue_time() {
    let f = fixture();
    let v1 = f.store.list_scripts().unwrap()[0].hash.clone();
    let old = f.enqueue(job("1"));
    let v2 = f
        .store
        .add_script("echo", "export default () => 2;")
        .wait()
        .unwrap();
    assert!(v2.created && v2.hash != v1);
    let new = f.enqueue(job("2"));
    let claimed = f.claim(2);
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
        f.store.script_source("echo", &v1).unwrap().as_deref(),
        Some(SCRIPT)
    );
    let scripts = f.store.list_scripts().unwrap();
    assert_eq!(scripts.iter().filter(|script| script.current).count(), 1);
    assert!(
        scripts
            .iter()
            .any(|script| script.hash == v2.hash && script.current)
    );
    // Re-adding the old source makes it current again without a new row.
    let again = f.store.add_script("echo", SCRIPT).wait().unwrap();
    assert!(!again.created && again.hash == v1);
    assert_eq!(f.store.list_scripts().unwrap().len(), 2);
}

#[test]
fn paused_queues_are_skipped_until_resumed() {
    let f = fixture();
    let mail = f.enqueue(job("{}").queue("mail").priority(5));
    let other = f.enqueue(job("{}"));
    f.store
        .set_queue_paused("mail", true, false)
        .wait()
        .unwrap();
    assert_eq!(
        f.claim(10).iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![other]
    );
    assert!(f.claim(10).is_empty());
    assert!(
        f.store
            .list_queues()
            .unwrap()
            .iter()
            .any(|queue| queue.name == "mail" && queue.paused)
    );
    f.store
        .set_queue_paused("mail", false, false)
        .wait()
        .unwrap();
    assert_eq!(f.claim(10)[0].id, mail);
}

#[test]
fn concurrency_caps_limit_running_jobs_per_queue() {
    let f = fixture();
    f.store
        .set_queue_concurrency("slow", Some(2))
        .wait()
        .unwrap();
    let slow: Vec<JobId> = (0..5)
        .map(|i| f.enqueue(job("{}").queue("slow").priority(10 - i)))
        .collect();
    let fast: Vec<JobId> = (0..3).map(|_| f.enqueue(job("{}").queue("fast"))).collect();
    let first = f.claim(10);
    let ids: Vec<JobId> = first.iter().map(|job| job.id).collect();
    // Global order across queues, but only two of `slow`.
    assert_eq!(ids, vec![slow[0], slow[1], fast[0], fast[1], fast[2]]);
    assert!(f.claim(10).is_empty(), "cap reached");
    assert!(
        f.store
            .complete(completion(&first[0]))
            .wait()
            .unwrap()
            .is_applied()
    );
    let next = f.claim(10);
    assert_eq!(
        next.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![slow[2]]
    );
    let queues = f.store.list_queues().unwrap();
    let slow_queue = queues.iter().find(|queue| queue.name == "slow").unwrap();
    assert_eq!((slow_queue.concurrency, slow_queue.running), (Some(2), 2));
    f.store.set_queue_concurrency("slow", None).wait().unwrap();
    assert_eq!(f.claim(10).len(), 2);
}

#[test]
fn stale_completions_change_nothing_and_are_reported() {
    let mut f = fixture();
    let id = f.enqueue(job("{}").max_attempts(5));
    let claimed = f.claim(1).remove(0);
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
    let before = f.job(id);
    for stale in [wrong_attempt, wrong_epoch] {
        let outcome = f.store.complete(stale).wait().unwrap();
        assert_eq!(
            outcome,
            Fenced::Stale(StaleReason::Superseded {
                state: JobState::Running,
                attempt: 1,
                epoch: Some(claimed.epoch)
            })
        );
    }
    assert_eq!(f.job(id), before, "nothing changed");
    let missing = Completion {
        attempt: AttemptRef {
            id: JobId(999_999),
            ..claimed.attempt_ref()
        },
        ..completion(&claimed)
    };
    assert_eq!(
        f.store.complete(missing).wait().unwrap(),
        Fenced::Stale(StaleReason::NotFound)
    );

    // Fail, then the old attempt's completion arrives late.
    assert!(
        f.store
            .fail(failure(&claimed, OutcomeKind::Timeout))
            .wait()
            .unwrap()
            .is_applied()
    );
    let late = f.store.complete(completion(&claimed)).wait().unwrap();
    assert!(matches!(
        late,
        Fenced::Stale(StaleReason::Superseded {
            state: JobState::Retryable,
            ..
        })
    ));
    assert_eq!(
        f.job(id).attempts.len(),
        1,
        "no attempt row for a stale write"
    );

    // A new epoch fences the old one's attempts even when the attempt number matches.
    f.clock.advance(Duration::from_secs(3600));
    let second = f.claim(1).remove(0);
    f.reopen();
    assert_ne!(f.store.epoch(), second.epoch);
    assert!(
        !f.store
            .complete(completion(&second))
            .wait()
            .unwrap()
            .is_applied()
    );
    assert!(
        !f.store
            .refund(second.attempt_ref(), AttemptReport::default())
            .wait()
            .unwrap()
            .is_applied()
    );
    assert!(
        !f.store
            .fail(failure(&second, OutcomeKind::Crash))
            .wait()
            .unwrap()
            .is_applied()
    );
    assert_eq!(f.state(id), JobState::Running);
}

#[test]
fn failures_back_off_within_bounds_then_discard_with_the_last_reason() {
    let f = fixture_with(|opts| {
        opts.backoff = BackoffPolicy {
            base: Duration::from_millis(1000),
            cap: Duration::from_millis(3000),
        };
    });
    let id = f.enqueue(job("{}").max_attempts(4));
    let kinds = [OutcomeKind::JsError, OutcomeKind::Timeout, OutcomeKind::Oom];
    let ceilings = [1000, 2000, 3000];
    for (kind, ceiling) in kinds.into_iter().zip(ceilings) {
        let claimed = f.claim(1).remove(0);
        let now = f.clock.now_ms();
        let Fenced::Applied(FailDisposition::Retry { run_at_ms }) =
            f.store.fail(failure(&claimed, kind)).wait().unwrap()
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
        assert_eq!(f.state(id), JobState::Retryable);
        f.clock.set(run_at_ms - 1);
        assert!(f.claim(1).is_empty(), "not before its backoff");
        f.clock.set(run_at_ms);
    }
    let last = f.claim(1).remove(0);
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
        f.store.fail(crash).wait().unwrap(),
        Fenced::Applied(FailDisposition::Discarded)
    );
    let detail = f.job(id);
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
    assert!(f.claim(1).is_empty());
}

#[test]
fn per_job_backoff_overrides_the_default() {
    let f = fixture();
    let id = f.enqueue(job("{}").backoff(BackoffPolicy {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(10),
    }));
    let claimed = f.claim(1).remove(0);
    let Fenced::Applied(FailDisposition::Retry { run_at_ms }) = f
        .store
        .fail(failure(&claimed, OutcomeKind::JsError))
        .wait()
        .unwrap()
    else {
        panic!("expected a retry");
    };
    assert!((T0 + 5..=T0 + 10).contains(&run_at_ms));
    assert_eq!(
        f.job(id).job.backoff.unwrap().cap,
        Duration::from_millis(10)
    );
}

#[test]
fn fail_rejects_non_failure_kinds() {
    let f = fixture();
    f.enqueue(job("{}"));
    let claimed = f.claim(1).remove(0);
    for kind in [OutcomeKind::Completed, OutcomeKind::Interrupted] {
        assert!(matches!(
            f.store.fail(failure(&claimed, kind)).wait(),
            Err(StoreError::InvalidRequest(_))
        ));
    }
}

#[test]
fn refund_gives_the_attempt_back() {
    let f = fixture();
    let id = f.enqueue(job("{}").max_attempts(1));
    let claimed = f.claim(1).remove(0);
    let report = AttemptReport {
        logs: "half way".into(),
        ..AttemptReport::default()
    };
    assert!(
        f.store
            .refund(claimed.attempt_ref(), report)
            .wait()
            .unwrap()
            .is_applied()
    );
    let detail = f.job(id);
    assert_eq!(
        (detail.job.state, detail.job.attempt),
        (JobState::Available, 0)
    );
    assert_eq!(detail.attempts.len(), 1);
    assert_eq!(detail.attempts[0].outcome, OutcomeKind::Interrupted);
    assert_eq!(detail.attempts[0].attempt, 1);
    // The refunded attempt did not count: a single-attempt job can still run.
    let again = f.claim(1).remove(0);
    assert_eq!(again.attempt, 1);
    assert!(
        f.store
            .complete(completion(&again))
            .wait()
            .unwrap()
            .is_applied()
    );
    assert_eq!(f.state(id), JobState::Completed);
    // Refunding a finished attempt is stale.
    assert!(
        !f.store
            .refund(again.attempt_ref(), AttemptReport::default())
            .wait()
            .unwrap()
            .is_applied()
    );
}

#[test]
fn cancel_covers_queued_running_finished_and_missing_jobs() {
    let f = fixture();
    let queued = f.enqueue(job("{}").delay(Duration::from_secs(60)));
    let running = f.enqueue(job("{}").max_attempts(5));
    assert_eq!(
        f.store.cancel(queued).wait().unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(f.state(queued), JobState::Cancelled);
    let claimed = f.claim(1).remove(0);
    assert_eq!(claimed.id, running);
    assert_eq!(
        f.store.cancel(running).wait().unwrap(),
        CancelOutcome::Running { attempt: 1 }
    );
    assert_eq!(
        f.state(running),
        JobState::Running,
        "still running until the worker is killed"
    );
    // The supervisor kills the worker and reports it: cancelled, not retried.
    assert_eq!(
        f.store
            .fail(failure(&claimed, OutcomeKind::Killed))
            .wait()
            .unwrap(),
        Fenced::Applied(FailDisposition::Cancelled)
    );
    assert_eq!(f.state(running), JobState::Cancelled);
    assert_eq!(
        f.store.cancel(running).wait().unwrap(),
        CancelOutcome::AlreadyFinished(JobState::Cancelled)
    );
    assert_eq!(
        f.store.cancel(JobId(424_242)).wait().unwrap(),
        CancelOutcome::NotFound
    );
    assert!(f.claim(5).is_empty());
}

#[test]
fn discarded_and_cancelled_jobs_can_be_retried_by_hand() {
    let f = fixture();
    let discarded = f.enqueue(job("{}").max_attempts(1).unique_key("u"));
    let claimed = f.claim(1).remove(0);
    f.store
        .fail(failure(&claimed, OutcomeKind::JsError))
        .wait()
        .unwrap();
    assert_eq!(f.state(discarded), JobState::Discarded);
    assert_eq!(
        requeued_with(f.store.retry(discarded, false).wait().unwrap()),
        Some(2)
    );
    let detail = f.job(discarded).job;
    assert_eq!(
        (detail.state, detail.attempt, detail.max_attempts),
        (JobState::Available, 1, 2)
    );
    let again = f.claim(1).remove(0);
    assert_eq!(again.attempt, 2, "attempt numbers keep counting");
    f.store.complete(completion(&again)).wait().unwrap();
    assert_eq!(
        f.store.retry(discarded, false).wait().unwrap(),
        RetryOutcome::NotRetryable(JobState::Completed)
    );

    let cancelled = f.enqueue(job("{}").unique_key("v"));
    f.store.cancel(cancelled).wait().unwrap();
    let newer = f.enqueue(job("{}").unique_key("v"));
    assert_eq!(
        f.store.retry(cancelled, false).wait().unwrap(),
        RetryOutcome::UniqueConflict { existing: newer }
    );
    f.store.cancel(newer).wait().unwrap();
    assert_eq!(
        requeued_with(f.store.retry(cancelled, false).wait().unwrap()),
        Some(3)
    );
    assert_eq!(f.state(cancelled), JobState::Available);
    assert_eq!(
        f.store.retry(JobId(99_999), false).wait().unwrap(),
        RetryOutcome::NotFound
    );
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

#[test]
fn a_retry_keeps_the_script_version_unless_latest() {
    let f = fixture();
    let id = f.enqueue(job("{}").max_attempts(1));
    let v1 = f.job(id).job.script_hash;
    let claimed = f.claim(1).remove(0);
    f.store
        .fail(failure(&claimed, OutcomeKind::JsError))
        .wait()
        .unwrap();
    let v2 = f
        .store
        .add_script("echo", "export default () => 'fixed';")
        .wait()
        .unwrap()
        .hash;
    let detail = f.job(id);
    assert_eq!(detail.current_script_hash.as_deref(), Some(v2.as_str()));
    match f.store.retry(id, false).wait().unwrap() {
        RetryOutcome::Requeued {
            script_hash,
            script_changed,
            ..
        } => assert_eq!((script_hash, script_changed), (v1.clone(), false)),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.job(id).job.script_hash, v1);
    f.store.cancel(id).wait().unwrap();
    match f.store.retry(id, true).wait().unwrap() {
        RetryOutcome::Requeued {
            script_hash,
            script_changed,
            ..
        } => assert_eq!((script_hash, script_changed), (v2.clone(), true)),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.job(id).job.script_hash, v2);
    assert_eq!(f.claim(1).remove(0).id, id);
}

#[test]
fn unknown_queues_are_paused_only_on_request_and_unused_ones_removed() {
    let f = fixture();
    assert!(
        !f.store
            .set_queue_paused("nosuch", true, false)
            .wait()
            .unwrap()
    );
    assert!(f.store.list_queues().unwrap().is_empty());
    assert!(
        f.store
            .set_queue_paused("later", true, true)
            .wait()
            .unwrap()
    );
    f.enqueue(job("{}").queue("mail"));
    assert_eq!(
        f.store.remove_queue("mail").wait().unwrap(),
        QueueRemoval::HasJobs(1)
    );
    assert_eq!(
        f.store.remove_queue("later").wait().unwrap(),
        QueueRemoval::Removed
    );
    assert_eq!(
        f.store.remove_queue("later").wait().unwrap(),
        QueueRemoval::NotFound
    );
    let names: Vec<String> = f
        .store
        .list_queues()
        .unwrap()
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["mail"]);
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
fn recovery_requeues_orphans_at_once_when_workers_are_dead() {
    let mut f = fixture();
    let fresh = f.enqueue(job("{}").max_attempts(3));
    let last_try = f.enqueue(job("{}").max_attempts(1));
    let to_cancel = f.enqueue(job("{}"));
    let claimed = f.claim(3);
    let old_epoch = claimed[0].epoch;
    assert_eq!(
        f.store.cancel(to_cancel).wait().unwrap(),
        CancelOutcome::Running { attempt: 1 }
    );
    f.reopen(); // the supervisor "crashed" with three jobs running
    assert_eq!(f.store.epoch(), old_epoch + 1);
    let report = f.store.recover(RecoveryMode::WorkersDead).wait().unwrap();
    // A crash of the supervisor is not the jobs' fault: their attempts are refunded,
    // even a job's last one.
    assert_eq!(report.requeued, vec![fresh, last_try]);
    assert_eq!(report.discarded, vec![]);
    assert_eq!(report.cancelled, vec![to_cancel]);
    let detail = f.job(fresh);
    assert_eq!(
        (detail.job.state, detail.job.attempt),
        (JobState::Available, 0),
        "attempt refunded"
    );
    assert_eq!(detail.attempts[0].outcome, OutcomeKind::SupervisorRestart);
    assert_eq!(detail.attempts[0].attempt, 1);
    assert_eq!(detail.attempts[0].epoch, Some(old_epoch));
    assert_eq!(
        f.job(last_try).job.last_outcome,
        Some(OutcomeKind::SupervisorRestart)
    );
    let again = f.claim(5);
    assert_eq!(again.len(), 2);
    assert_eq!((again[0].id, again[0].attempt), (fresh, 1));
    assert_eq!((again[1].id, again[1].attempt), (last_try, 1));
    assert_eq!(f.store.list_queues().unwrap()[0].running, 2);
}

#[test]
fn supervisor_crashes_stop_being_free_after_max_attempts_of_them() {
    let mut f = fixture();
    let id = f.enqueue(job("{}").max_attempts(2));
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        if f.claim(1).is_empty() {
            break;
        }
        f.reopen();
        let report = f.store.recover(RecoveryMode::WorkersDead).wait().unwrap();
        outcomes.push((report.requeued.len(), report.discarded.len()));
    }
    // Two free interruptions, then the attempts count: 1 of 2, then 2 of 2 discards.
    assert_eq!(outcomes, vec![(1, 0), (1, 0), (1, 0), (0, 1)]);
    let detail = f.job(id);
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

#[test]
fn recovery_waits_for_leases_when_old_workers_may_live() {
    let mut f = fixture_with(|opts| opts.lease_grace = Duration::from_secs(30));
    let short = f.enqueue(job("{}").timeout(Duration::from_secs(10)));
    let long = f.enqueue(job("{}").timeout(Duration::from_secs(100)));
    let claimed = f.claim(2);
    assert_eq!(
        claimed
            .iter()
            .find(|job| job.id == short)
            .unwrap()
            .lease_until_ms,
        T0 + 40_000
    );
    f.clock.advance(Duration::from_secs(20));
    f.reopen();
    let report = f.store.recover(RecoveryMode::WaitForLease).wait().unwrap();
    assert!(report.requeued.is_empty());
    assert_eq!(
        (report.waiting, report.next_lease_expiry_ms),
        (2, Some(T0 + 40_000))
    );
    assert!(f.claim(5).is_empty());
    f.clock.set(T0 + 39_999);
    assert!(
        f.store
            .requeue_expired_leases()
            .wait()
            .unwrap()
            .requeued
            .is_empty()
    );
    f.clock.set(T0 + 40_000);
    let first = f.store.requeue_expired_leases().wait().unwrap();
    assert_eq!((first.requeued.clone(), first.waiting), (vec![short], 1));
    assert_eq!(f.job(short).attempts[0].outcome, OutcomeKind::LeaseExpired);
    // An orphan can be cancelled at once: nobody here runs it.
    assert_eq!(
        f.store.cancel(long).wait().unwrap(),
        CancelOutcome::Cancelled
    );
    f.clock.set(T0 + 200_000);
    let second = f.store.requeue_expired_leases().wait().unwrap();
    assert!(second.requeued.is_empty() && second.waiting == 0);
    assert_eq!(f.state(long), JobState::Cancelled);
    assert_eq!(f.claim(5)[0].id, short);
}

#[test]
fn expired_leases_are_found_at_recover_time_too() {
    let mut f = fixture();
    let id = f.enqueue(job("{}").timeout(Duration::from_secs(1)));
    f.claim(1);
    f.clock.advance(Duration::from_secs(3600));
    f.reopen();
    let report = f.store.recover(RecoveryMode::WaitForLease).wait().unwrap();
    assert_eq!(report.requeued, vec![id]);
    assert_eq!(report.waiting, 0);
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
fn logs_and_errors_are_bounded_and_the_cut_is_recorded() {
    let f = fixture_with(|opts| {
        opts.max_log_bytes = 10;
        opts.max_error_bytes = 8;
    });
    let id = f.enqueue(job("{}").max_attempts(2));
    let claimed = f.claim(1).remove(0);
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
    f.store.fail(fail).wait().unwrap();
    let attempt = &f.job(id).attempts[0];
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
        f.claim(1).remove(0)
    };
    let report = AttemptReport {
        logs: "short".into(),
        logs_truncated: true,
        duration: Some(Duration::from_millis(1234)),
        cpu_time: Some(Duration::from_millis(55)),
        peak_memory_bytes: Some(1 << 20),
        worker_pid: Some(9),
    };
    f.store
        .complete(Completion {
            attempt: claimed.attempt_ref(),
            result: None,
            report,
        })
        .wait()
        .unwrap();
    let attempt = &f.job(id).attempts[1];
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

#[test]
fn counts_and_listings_reflect_states_and_filters() {
    let f = fixture();
    f.store
        .add_script("other", "export default () => 1;")
        .wait()
        .unwrap();
    let a = f.enqueue(job("{}"));
    let b = f.enqueue(job("{}").queue("q2"));
    let c = f.enqueue(EnqueueRequest::new("other", "{}").delay(Duration::from_secs(5)));
    f.store.cancel(b).wait().unwrap();
    let counts = f.store.counts().unwrap();
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
    let all = f.store.list_jobs(&JobFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![c, b, a],
        "newest first"
    );
    let by_state = f
        .store
        .list_jobs(&JobFilter {
            state: Some(JobState::Cancelled),
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(by_state.len(), 1);
    let by_script = f
        .store
        .list_jobs(&JobFilter {
            script: Some("other".into()),
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(by_script[0].id, c);
    let by_queue = f
        .store
        .list_jobs(&JobFilter {
            queue: Some("q2".into()),
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(by_queue[0].id, b);
    let page = f
        .store
        .list_jobs(&JobFilter {
            before: Some(c),
            limit: 1,
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(page.iter().map(|job| job.id).collect::<Vec<_>>(), vec![b]);
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

#[test]
fn closed_store_reports_closed() {
    let f = fixture();
    let clone = f.store.clone();
    f.store.clone().close().unwrap();
    assert!(matches!(
        clone.enqueue(job("{}")).wait(),
        Err(StoreError::Closed)
    ));
}
