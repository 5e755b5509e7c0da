//! Claiming and assigning: the dispatcher claims jobs in batches as workers become idle,
//! keeps a small prefetch so a worker never waits for SQLite, loads the sources of script
//! versions it has not seen, and hands each job to an idle slot, preferring one that
//! already holds the script.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use jobvisor_protocol::control::EventKind;
use tracing::{error, warn};

use super::{Dispatcher, Internal};
use crate::failpoint;
use crate::pool::slot::{Assignment, SlotCommand, SlotState};
use crate::store::{
    AnyStore, AttemptReport, ClaimBatch, ClaimedJob, Failure, JobError, JobStore, OutcomeKind,
    StoreError,
};

/// Claimed jobs kept waiting per worker slot, so a worker that finishes finds its next
/// job in memory: enough to cover [`PREFETCH_WINDOW`] of work at the recent job
/// duration, between these bounds. Short jobs need deep prefetch (a claim costs a commit,
/// and a commit can take milliseconds); long jobs need almost none (a prefetched job waits
/// behind the job in hand, and a higher-priority job enqueued later waits behind it).
pub(super) const PREFETCH_PER_SLOT_MIN: usize = 1;
pub(super) const PREFETCH_PER_SLOT_MAX: usize = 32;
const PREFETCH_WINDOW: Duration = Duration::from_millis(20);
/// Largest claim batch.
const MAX_CLAIM: usize = 64;
/// Longest wait for a delayed job before claiming again anyway.
const MAX_CLAIM_SLEEP: Duration = Duration::from_secs(60);
/// Wait before claiming again after a claim failed.
const CLAIM_RETRY: Duration = Duration::from_secs(1);

/// The claiming side of the dispatcher.
pub(super) struct Claims {
    /// Claimed jobs waiting for a worker, in claim order.
    pub(super) ready: VecDeque<ClaimedJob>,
    /// Sources of the script versions seen so far, by hash.
    sources: HashMap<String, Arc<str>>,
    /// A claim is with the store: never two at once.
    in_flight: bool,
    /// Something may have made jobs claimable since the last claim came back short.
    pub(super) wanted: bool,
    /// When a delayed job becomes due (or a failed claim is retried).
    pub(super) next_wake: Option<tokio::time::Instant>,
    /// Moving average of how long recent attempts took in their worker, in µs.
    recent_job_us: f64,
}

impl Default for Claims {
    fn default() -> Self {
        Claims {
            ready: VecDeque::new(),
            sources: HashMap::new(),
            in_flight: false,
            wanted: true,
            next_wake: None,
            recent_job_us: PREFETCH_WINDOW.as_micros() as f64,
        }
    }
}

impl Claims {
    /// Jobs to keep claimed per slot at the recent job duration.
    pub(super) fn prefetch_per_slot(&self) -> usize {
        let per_window = PREFETCH_WINDOW.as_micros() as f64 / self.recent_job_us.max(1.0);
        (per_window.ceil() as usize).clamp(PREFETCH_PER_SLOT_MIN, PREFETCH_PER_SLOT_MAX)
    }

    /// Counts one attempt's time in a worker into the prefetch depth.
    pub(super) fn observe_duration(&mut self, took: Duration) {
        // A moving average over about the last 16 attempts.
        let took = took.as_micros() as f64;
        self.recent_job_us += (took - self.recent_job_us) / 16.0;
    }

    /// How many jobs to claim now, if any: `live` slots take jobs, `free` wait for one.
    fn wanted_batch(&self, live: usize, free: usize) -> Option<usize> {
        if self.in_flight || !self.wanted {
            return None;
        }
        let target = live * self.prefetch_per_slot() + free;
        // Top up only once the prefetched jobs ran down to half (or an idle worker waits):
        // a claim costs a commit, and one per job would make the store the bottleneck.
        let starving = free > self.ready.len();
        if !starving && self.ready.len() * 2 > target {
            return None;
        }
        let want = target.saturating_sub(self.ready.len());
        (want > 0).then(|| want.min(MAX_CLAIM))
    }

    /// Sleeps until a delayed job is due, but not past [`MAX_CLAIM_SLEEP`].
    fn wake_at_ms(&mut self, at_ms: i64, now_ms: i64) {
        // Capped: a job held by a schedule's `queue` overlap policy waits "until year
        // 9999", and the wall clock may jump; looking again costs one claim.
        let wait = Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0))
            .min(MAX_CLAIM_SLEEP);
        let at = tokio::time::Instant::now() + wait;
        self.next_wake = Some(self.next_wake.map_or(at, |w| w.min(at)));
    }
}

/// A claimed batch with the sources the dispatcher did not hold yet.
pub(super) struct ClaimedWithSources {
    jobs: Vec<ClaimedJob>,
    next_wake_at_ms: Option<i64>,
    sources: Vec<(String, Arc<str>)>,
    /// Jobs whose script version is not in the store, with why.
    missing: Vec<(ClaimedJob, String)>,
}

impl Dispatcher {
    pub(super) fn maybe_claim(&mut self) {
        if self.rollout.draining() {
            return;
        }
        let Some(batch) = self
            .claims
            .wanted_batch(self.live_slots(), self.free_slots())
        else {
            return;
        };
        self.claims.in_flight = true;
        self.claims.wanted = false;
        let pending = self.store.claim_batch(batch);
        let store = self.store.clone();
        let known: HashSet<String> = self.claims.sources.keys().cloned().collect();
        self.when(
            async move {
                match pending.await {
                    Ok(batch) => fetch_sources(store, batch, known).await,
                    Err(err) => Err(err),
                }
            },
            Internal::Claimed,
        );
    }

    pub(super) fn on_claimed(&mut self, result: Result<ClaimedWithSources, StoreError>) {
        self.claims.in_flight = false;
        if result
            .as_ref()
            .is_ok_and(|claimed| !claimed.jobs.is_empty())
        {
            failpoint::hit(failpoint::CLAIM_AFTER_COMMIT);
        }
        let claimed = match result {
            Ok(claimed) => claimed,
            Err(err) => {
                error!(error = %err, "claiming jobs failed; retrying shortly");
                self.claims.next_wake = Some(tokio::time::Instant::now() + CLAIM_RETRY);
                return;
            }
        };
        for (hash, source) in claimed.sources {
            self.claims.sources.insert(hash, source);
        }
        for (job, why) in claimed.missing {
            // The script version vanished from the store: nothing can run this attempt.
            let failure = Failure {
                attempt: job.attempt_ref(),
                kind: OutcomeKind::Crash,
                error: Some(JobError {
                    name: "ScriptMissing".into(),
                    message: why,
                    stack: None,
                }),
                report: AttemptReport::default(),
            };
            self.record_failure(job.id, failure);
        }
        if !claimed.jobs.is_empty() {
            // A full batch suggests more are waiting.
            self.claims.wanted = true;
        }
        if self.rollout.draining() {
            for job in claimed.jobs {
                self.refund_unstarted(job.attempt_ref());
            }
            return;
        }
        self.claims.ready.extend(claimed.jobs);
        if let Some(at_ms) = claimed.next_wake_at_ms {
            let now_ms = self.now_ms();
            self.claims.wake_at_ms(at_ms, now_ms);
        }
    }

    /// Hands waiting jobs to idle slots, preferring a slot that holds the job's script.
    pub(super) fn assign(&mut self) {
        if self.rollout.draining() {
            return;
        }
        while let Some(next) = self.claims.ready.front() {
            let Some(index) = self.pick_slot(&next.script_hash) else {
                return;
            };
            let Some(job) = self.claims.ready.pop_front() else {
                return;
            };
            let Some(source) = self.claims.sources.get(&job.script_hash).cloned() else {
                warn!(job = job.id.0, hash = %job.script_hash, "no source for a claimed job");
                continue;
            };
            self.emit(|| EventKind::JobStarted {
                job: job.id.0,
                attempt: job.attempt,
                worker: u32::try_from(index).unwrap_or(u32::MAX),
                script: job.script_name.clone(),
            });
            let slot = &mut self.slots[index];
            if !slot.held.contains(&job.script_hash) {
                slot.held.insert(job.script_hash.clone());
            }
            slot.job = Some(job.attempt_ref());
            slot.state = SlotState::Busy;
            let assignment = Assignment { job, source };
            if slot
                .commands
                .send(SlotCommand::Run(Box::new(assignment)))
                .is_err()
            {
                error!(slot = index, "slot task is gone");
                slot.stopped = true;
            }
        }
    }
}

/// Loads the sources of script versions the dispatcher does not hold yet.
async fn fetch_sources(
    store: AnyStore,
    batch: ClaimBatch,
    known: HashSet<String>,
) -> Result<ClaimedWithSources, StoreError> {
    let wanted: HashSet<(String, String)> = batch
        .jobs
        .iter()
        .filter(|j| !known.contains(&j.script_hash))
        .map(|j| (j.script_name.clone(), j.script_hash.clone()))
        .collect();
    let fetched = if wanted.is_empty() {
        Vec::new()
    } else {
        let mut fetched = Vec::with_capacity(wanted.len());
        for (name, hash) in wanted {
            let source = store.script_source(&name, &hash).await?;
            fetched.push((hash, source));
        }
        fetched
    };
    let mut sources = Vec::new();
    let mut missing_hashes = HashSet::new();
    for (hash, source) in fetched {
        match source {
            Some(source) => sources.push((hash, Arc::from(source))),
            None => {
                missing_hashes.insert(hash);
            }
        }
    }
    let mut jobs = Vec::new();
    let mut missing = Vec::new();
    for job in batch.jobs {
        if missing_hashes.contains(&job.script_hash) {
            let why = format!(
                "script `{}` version {} is not in the store",
                job.script_name, job.script_hash
            );
            missing.push((job, why));
        } else {
            jobs.push(job);
        }
    }
    Ok(ClaimedWithSources {
        jobs,
        next_wake_at_ms: batch.next_wake_at_ms,
        sources,
        missing,
    })
}
