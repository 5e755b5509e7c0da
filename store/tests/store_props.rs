//! Property test: random sequences of store operations run against the real store and a
//! simple in-memory model. After every step: each job's state and attempt match the model
//! (so every acknowledged job is present and none is in two states), attempts never exceed
//! max_attempts, per-state counts add up, and the per-queue running counters are exact.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::*;
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;
const QUEUES: [&str; 3] = ["default", "mail", "slow"];
const BASE_MS: u64 = 1000;
const CAP_MS: u64 = 4000;

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        queue: usize,
        priority: i32,
        delay_ms: Option<u64>,
        max_attempts: u32,
        unique: Option<u8>,
    },
    EnqueueBulk {
        count: usize,
        queue: usize,
        unique: Option<u8>,
    },
    Claim {
        max: usize,
    },
    Complete {
        pick: usize,
        stale: bool,
    },
    Fail {
        pick: usize,
        kind: usize,
    },
    Refund {
        pick: usize,
    },
    Cancel {
        pick: usize,
    },
    Retry {
        pick: usize,
    },
    Pause {
        queue: usize,
        paused: bool,
    },
    Cap {
        queue: usize,
        cap: Option<u32>,
    },
    Advance {
        ms: u64,
    },
    Prune {
        age_ms: u64,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, -2..3i32, prop::option::weighted(0.3, 0..3000u64), 1..4u32, prop::option::weighted(0.4, 0..4u8))
            .prop_map(|(queue, priority, delay_ms, max_attempts, unique)| Op::Enqueue { queue, priority, delay_ms, max_attempts, unique }),
        1 => (1..5usize, 0..3usize, prop::option::weighted(0.3, 0..4u8))
            .prop_map(|(count, queue, unique)| Op::EnqueueBulk { count, queue, unique }),
        5 => (0..6usize).prop_map(|max| Op::Claim { max }),
        4 => (any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(pick, stale)| Op::Complete { pick, stale }),
        3 => (any::<usize>(), 0..6usize).prop_map(|(pick, kind)| Op::Fail { pick, kind }),
        1 => any::<usize>().prop_map(|pick| Op::Refund { pick }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => any::<usize>().prop_map(|pick| Op::Retry { pick }),
        1 => (0..3usize, any::<bool>()).prop_map(|(queue, paused)| Op::Pause { queue, paused }),
        1 => (0..3usize, prop::option::of(0..3u32)).prop_map(|(queue, cap)| Op::Cap { queue, cap }),
        3 => (0..5000u64).prop_map(|ms| Op::Advance { ms }),
        1 => (0..4000u64).prop_map(|age_ms| Op::Prune { age_ms }),
        1 => Just(Op::Restart),
    ]
}

#[derive(Debug, Clone)]
struct ModelJob {
    queue: usize,
    priority: i32,
    run_at: i64,
    state: JobState,
    attempt: u32,
    max_attempts: u32,
    unique: Option<u8>,
    cancel_requested: bool,
    epoch: Option<i64>,
    finished_at: Option<i64>,
    /// Attempts a supervisor crash interrupted (refunded up to `max_attempts` of them).
    interruptions: u32,
}

struct Harness {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    clock: Arc<ManualClock>,
    store: SqliteStore,
    jobs: BTreeMap<i64, ModelJob>,
    paused: [bool; 3],
    caps: [Option<u32>; 3],
    next_id: i64,
}

const FAIL_KINDS: [OutcomeKind; 6] = [
    OutcomeKind::JsError,
    OutcomeKind::Timeout,
    OutcomeKind::Oom,
    OutcomeKind::Crash,
    OutcomeKind::ProtocolError,
    OutcomeKind::Killed,
];

fn options(clock: &Arc<ManualClock>) -> StoreOptions {
    StoreOptions {
        clock: clock.clone(),
        synchronous: Synchronous::Normal, // speed; durability is the crash test's job
        backoff: BackoffPolicy {
            base: Duration::from_millis(BASE_MS),
            cap: Duration::from_millis(CAP_MS),
        },
        ..StoreOptions::default()
    }
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let clock = Arc::new(ManualClock::new(T0));
        let store = SqliteStore::open(&path, options(&clock)).unwrap();
        store
            .add_script("s", "export default () => 1;")
            .wait()
            .unwrap();
        Harness {
            _dir: dir,
            path,
            clock,
            store,
            jobs: BTreeMap::new(),
            paused: [false; 3],
            caps: [None; 3],
            next_id: 1,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn live_unique(&self, key: u8) -> Option<i64> {
        self.jobs
            .iter()
            .find(|(_, job)| job.unique == Some(key) && !job.state.is_finished())
            .map(|(id, _)| *id)
    }

    fn pick(&self, pick: usize, filter: impl Fn(&ModelJob) -> bool) -> Option<i64> {
        let ids: Vec<i64> = self
            .jobs
            .iter()
            .filter(|(_, job)| filter(job))
            .map(|(id, _)| *id)
            .collect();
        (!ids.is_empty()).then(|| ids[pick % ids.len()])
    }

    fn model_enqueue(
        &mut self,
        queue: usize,
        priority: i32,
        delay_ms: Option<u64>,
        max_attempts: u32,
        unique: Option<u8>,
    ) -> EnqueueOutcome {
        if let Some(existing) = unique.and_then(|key| self.live_unique(key)) {
            return EnqueueOutcome {
                id: JobId(existing),
                duplicate: true,
            };
        }
        let now = self.now();
        let run_at = now + delay_ms.unwrap_or(0) as i64;
        let id = self.next_id;
        self.next_id += 1;
        self.jobs.insert(
            id,
            ModelJob {
                queue,
                priority,
                run_at,
                state: if run_at > now {
                    JobState::Scheduled
                } else {
                    JobState::Available
                },
                attempt: 0,
                max_attempts,
                unique,
                cancel_requested: false,
                epoch: None,
                finished_at: None,
                interruptions: 0,
            },
        );
        EnqueueOutcome {
            id: JobId(id),
            duplicate: false,
        }
    }

    fn request(
        queue: usize,
        priority: i32,
        delay_ms: Option<u64>,
        max_attempts: u32,
        unique: Option<u8>,
    ) -> EnqueueRequest {
        let mut request = EnqueueRequest::new("s", "{\"x\":1}")
            .queue(QUEUES[queue])
            .priority(priority)
            .max_attempts(max_attempts);
        if let Some(delay) = delay_ms {
            request = request.delay(Duration::from_millis(delay));
        }
        if let Some(key) = unique {
            request = request.unique_key(format!("key-{key}"));
        }
        request
    }

    fn attempt_ref(&self, id: i64) -> AttemptRef {
        let job = &self.jobs[&id];
        AttemptRef {
            id: JobId(id),
            attempt: job.attempt,
            epoch: job.epoch.unwrap_or(0),
        }
    }

    fn finish(&mut self, id: i64, state: JobState) {
        let now = self.now();
        let job = self.jobs.get_mut(&id).unwrap();
        job.state = state;
        job.finished_at = Some(now);
    }

    fn apply(&mut self, op: &Op) {
        let now = self.now();
        match *op {
            Op::Enqueue {
                queue,
                priority,
                delay_ms,
                max_attempts,
                unique,
            } => {
                let got = self
                    .store
                    .enqueue(Self::request(
                        queue,
                        priority,
                        delay_ms,
                        max_attempts,
                        unique,
                    ))
                    .wait()
                    .unwrap();
                let want = self.model_enqueue(queue, priority, delay_ms, max_attempts, unique);
                assert_eq!(got, want);
            }
            Op::EnqueueBulk {
                count,
                queue,
                unique,
            } => {
                let requests = (0..count)
                    .map(|_| Self::request(queue, 0, None, 2, unique))
                    .collect();
                let got = self.store.enqueue_bulk(requests).wait().unwrap();
                let want: Vec<EnqueueOutcome> = (0..count)
                    .map(|_| self.model_enqueue(queue, 0, None, 2, unique))
                    .collect();
                assert_eq!(got, want);
            }
            Op::Claim { max } => {
                let got = self.store.claim_batch(max).wait().unwrap();
                let want = self.model_claim(max);
                let got_ids: Vec<i64> = got.jobs.iter().map(|job| job.id.0).collect();
                assert_eq!(got_ids, want, "claim order / eligibility");
                for job in &got.jobs {
                    let model = &self.jobs[&job.id.0];
                    assert_eq!(
                        (job.attempt, job.max_attempts, job.epoch),
                        (model.attempt, model.max_attempts, self.store.epoch())
                    );
                    assert_eq!(job.queue, QUEUES[model.queue]);
                }
            }
            Op::Complete { pick, stale } => {
                let Some(id) = self.pick(pick, |job| job.state == JobState::Running) else {
                    return;
                };
                let mut attempt = self.attempt_ref(id);
                if stale {
                    attempt.attempt += 1;
                }
                let got = self
                    .store
                    .complete(Completion {
                        attempt,
                        result: None,
                        report: AttemptReport::default(),
                        effects: Default::default(),
                    })
                    .wait()
                    .unwrap();
                if stale {
                    assert!(!got.is_applied(), "stale completion applied");
                } else {
                    assert_eq!(got, Fenced::Applied(Completed::Done { children: vec![] }));
                    self.finish(id, JobState::Completed);
                }
            }
            Op::Fail { pick, kind } => {
                let Some(id) = self.pick(pick, |job| job.state == JobState::Running) else {
                    return;
                };
                let failure = Failure {
                    attempt: self.attempt_ref(id),
                    kind: FAIL_KINDS[kind],
                    error: Some(JobError {
                        name: "E".into(),
                        message: "m".into(),
                        stack: None,
                    }),
                    report: AttemptReport::default(),
                };
                let got = self.store.fail(failure).wait().unwrap();
                let job = self.jobs[&id].clone();
                if job.cancel_requested {
                    assert_eq!(got, Fenced::Applied(FailDisposition::Cancelled));
                    self.finish(id, JobState::Cancelled);
                } else if job.attempt >= job.max_attempts {
                    assert_eq!(got, Fenced::Applied(FailDisposition::Discarded));
                    self.finish(id, JobState::Discarded);
                } else {
                    let Fenced::Applied(FailDisposition::Retry { run_at_ms }) = got else {
                        panic!("expected retry, got {got:?}");
                    };
                    let ceiling = (BASE_MS << (job.attempt - 1)).min(CAP_MS) as i64;
                    let delay = run_at_ms - now;
                    assert!(
                        delay >= ceiling / 2 && delay <= ceiling,
                        "backoff {delay} outside [{}, {ceiling}]",
                        ceiling / 2
                    );
                    let model = self.jobs.get_mut(&id).unwrap();
                    model.state = JobState::Retryable;
                    model.run_at = run_at_ms;
                }
            }
            Op::Refund { pick } => {
                let Some(id) = self.pick(pick, |job| job.state == JobState::Running) else {
                    return;
                };
                let got = self
                    .store
                    .refund(self.attempt_ref(id), AttemptReport::default())
                    .wait()
                    .unwrap();
                assert_eq!(got, Fenced::Applied(()));
                let cancel = self.jobs[&id].cancel_requested;
                self.jobs.get_mut(&id).unwrap().attempt -= 1;
                if cancel {
                    self.finish(id, JobState::Cancelled);
                } else {
                    self.jobs.get_mut(&id).unwrap().state = JobState::Available;
                }
            }
            Op::Cancel { pick } => {
                let Some(id) = self.pick(pick, |_| true) else {
                    return;
                };
                let got = self.store.cancel(JobId(id)).wait().unwrap();
                let job = self.jobs[&id].clone();
                match job.state {
                    JobState::Running => {
                        assert_eq!(
                            got,
                            CancelOutcome::Running {
                                attempt: job.attempt
                            }
                        );
                        self.jobs.get_mut(&id).unwrap().cancel_requested = true;
                    }
                    state if state.is_finished() => {
                        assert_eq!(got, CancelOutcome::AlreadyFinished(state))
                    }
                    _ => {
                        assert_eq!(got, CancelOutcome::Cancelled);
                        self.finish(id, JobState::Cancelled);
                    }
                }
            }
            Op::Retry { pick } => {
                let Some(id) = self.pick(pick, |_| true) else {
                    return;
                };
                let got = self.store.retry(JobId(id), false).wait().unwrap();
                let job = self.jobs[&id].clone();
                match job.state {
                    JobState::Discarded
                    | JobState::Cancelled
                    | JobState::Retryable
                    | JobState::Scheduled => {
                        let conflict = job
                            .state
                            .is_finished()
                            .then(|| job.unique.and_then(|key| self.live_unique(key)))
                            .flatten();
                        if let Some(existing) = conflict {
                            assert_eq!(
                                got,
                                RetryOutcome::UniqueConflict {
                                    existing: JobId(existing)
                                }
                            );
                        } else {
                            let max_attempts = job.max_attempts.max(job.attempt + 1);
                            assert!(
                                matches!(
                                    &got,
                                    RetryOutcome::Requeued { max_attempts: m, script_changed: false, .. }
                                        if *m == max_attempts
                                ),
                                "{got:?}"
                            );
                            let model = self.jobs.get_mut(&id).unwrap();
                            model.state = JobState::Available;
                            model.run_at = now;
                            model.max_attempts = max_attempts;
                            model.finished_at = None;
                            model.cancel_requested = false;
                        }
                    }
                    state => assert_eq!(got, RetryOutcome::NotRetryable(state)),
                }
            }
            Op::Pause { queue, paused } => {
                self.store
                    .set_queue_paused(QUEUES[queue], paused, true)
                    .wait()
                    .unwrap();
                self.paused[queue] = paused;
            }
            Op::Cap { queue, cap } => {
                self.store
                    .set_queue_concurrency(QUEUES[queue], cap)
                    .wait()
                    .unwrap();
                self.caps[queue] = cap;
            }
            Op::Advance { ms } => self.clock.advance(Duration::from_millis(ms)),
            Op::Prune { age_ms } => {
                let age = Duration::from_millis(age_ms);
                let report = self
                    .store
                    .prune_blocking(Retention {
                        completed: age,
                        failed: age,
                    })
                    .unwrap();
                let cutoff = now - age_ms as i64;
                let newest = self.jobs.keys().next_back().copied();
                let victims: Vec<i64> = self
                    .jobs
                    .iter()
                    .filter(|(id, job)| {
                        Some(**id) != newest && job.finished_at.is_some_and(|at| at < cutoff)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                assert_eq!(report.deleted, victims.len() as u64, "pruned rows");
                for id in victims {
                    self.jobs.remove(&id);
                }
            }
            Op::Restart => {
                let store = std::mem::replace(
                    &mut self.store,
                    SqliteStore::open(self._dir.path().join("scratch.db"), options(&self.clock))
                        .unwrap(),
                );
                let old_epoch = store.epoch();
                store.close().unwrap();
                self.store = SqliteStore::open(&self.path, options(&self.clock)).unwrap();
                assert!(self.store.epoch() > old_epoch);
                let report = self
                    .store
                    .recover(RecoveryMode::WorkersDead)
                    .wait()
                    .unwrap();
                let mut requeued = Vec::new();
                for (id, job) in self
                    .jobs
                    .iter_mut()
                    .filter(|(_, job)| job.state == JobState::Running)
                {
                    let refund = job.interruptions < job.max_attempts;
                    job.interruptions += 1;
                    if job.cancel_requested {
                        job.state = JobState::Cancelled;
                        job.finished_at = Some(now);
                    } else if !refund && job.attempt >= job.max_attempts {
                        job.state = JobState::Discarded;
                        job.finished_at = Some(now);
                    } else {
                        job.state = JobState::Available;
                        job.run_at = now;
                        if refund {
                            job.attempt -= 1;
                        }
                        requeued.push(JobId(*id));
                    }
                }
                assert_eq!(report.requeued, requeued);
            }
        }
    }

    fn model_claim(&mut self, max: usize) -> Vec<i64> {
        if max == 0 {
            return Vec::new(); // claim_batch(0) is a no-op, promotion included
        }
        let now = self.now();
        for job in self.jobs.values_mut() {
            if matches!(job.state, JobState::Scheduled | JobState::Retryable) && job.run_at <= now {
                job.state = JobState::Available;
            }
        }
        let mut chosen: Vec<(std::cmp::Reverse<i32>, i64, i64)> = Vec::new();
        for queue in 0..QUEUES.len() {
            if self.paused[queue] {
                continue;
            }
            let running = self
                .jobs
                .values()
                .filter(|job| job.queue == queue && job.state == JobState::Running)
                .count();
            let free =
                self.caps[queue].map_or(max, |cap| (cap as usize).saturating_sub(running).min(max));
            let mut candidates: Vec<_> = self
                .jobs
                .iter()
                .filter(|(_, job)| job.queue == queue && job.state == JobState::Available)
                .map(|(id, job)| (std::cmp::Reverse(job.priority), job.run_at, *id))
                .collect();
            candidates.sort();
            candidates.truncate(free);
            chosen.extend(candidates);
        }
        chosen.sort();
        chosen.truncate(max);
        let epoch = self.store.epoch();
        chosen
            .into_iter()
            .map(|(_, _, id)| {
                let job = self.jobs.get_mut(&id).unwrap();
                job.state = JobState::Running;
                job.attempt += 1;
                job.epoch = Some(epoch);
                id
            })
            .collect()
    }

    fn check(&self) {
        let all = self
            .store
            .list_jobs(&JobFilter {
                limit: u32::MAX,
                ..JobFilter::default()
            })
            .unwrap();
        assert_eq!(
            all.len(),
            self.jobs.len(),
            "every acknowledged (unpruned) job present, nothing else"
        );
        for job in &all {
            let model = self
                .jobs
                .get(&job.id.0)
                .unwrap_or_else(|| panic!("unexpected job {}", job.id));
            assert_eq!(
                (job.state, job.attempt, job.max_attempts),
                (model.state, model.attempt, model.max_attempts),
                "job {}",
                job.id
            );
            assert!(
                job.attempt <= job.max_attempts,
                "job {} attempt {} above max {}",
                job.id,
                job.attempt,
                job.max_attempts
            );
            assert_eq!(job.cancel_requested, model.cancel_requested);
        }
        let counts = self.store.counts().unwrap();
        let total: u64 = counts
            .queues
            .iter()
            .map(|queue| {
                JobState::ALL
                    .iter()
                    .map(|state| queue.get(*state))
                    .sum::<u64>()
            })
            .sum();
        assert_eq!(
            total,
            self.jobs.len() as u64,
            "each job counted in exactly one state"
        );
        for state in JobState::ALL {
            let db: u64 = counts.queues.iter().map(|queue| queue.get(state)).sum();
            let model = self.jobs.values().filter(|job| job.state == state).count() as u64;
            assert_eq!(db, model, "count of {state}");
        }
        for queue in self.store.list_queues().unwrap() {
            let index = QUEUES.iter().position(|name| *name == queue.name).unwrap();
            let running = self
                .jobs
                .values()
                .filter(|job| job.queue == index && job.state == JobState::Running)
                .count();
            assert_eq!(
                queue.running as usize, running,
                "running counter of {}",
                queue.name
            );
            assert_eq!(
                (queue.paused, queue.concurrency),
                (self.paused[index], self.caps[index])
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn store_matches_the_model(ops in prop::collection::vec(op(), 1..70)) {
        let mut harness = Harness::new();
        for op in &ops {
            harness.apply(op);
            harness.check();
        }
    }
}
