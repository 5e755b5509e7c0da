//! Recording what attempts did: each outcome goes to the store's group commit at once;
//! while the store cannot write, it is held and submitted again with backoff; its commit
//! comes back as [`Recorded`], which moves the drain counters, the waiters and the claims.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use super::{Dispatcher, Internal};
use crate::failpoint;
use crate::pool::exit::AttemptOutcome;
use crate::pool::slot::{JobEnd, KillReason};
use crate::store::{
    AnyStore, AttemptRef, AttemptReport, Completed, Completion, FailDisposition, Failure, Fenced,
    JobError, JobId, JobStore, OutcomeKind, StoreError,
};

/// Backoff between submissions of an outcome the store could not write.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(100);
const RECORD_RETRY_MAX: Duration = Duration::from_secs(5);
/// How far back `status` counts completions.
const COMPLETIONS_COUNTED_FOR: Duration = Duration::from_secs(60);

/// Outcomes on their way to the store.
#[derive(Default)]
pub(super) struct Outcomes {
    /// Submitted and not committed yet: a drain ends only once this is 0.
    pending: usize,
    /// The jobs among `pending`, with how many of their outcomes are on their way.
    recording: HashMap<JobId, usize>,
    /// When recent attempts completed, for `status`.
    completed_at: VecDeque<Instant>,
}

impl Outcomes {
    pub(super) fn pending(&self) -> usize {
        self.pending
    }

    /// Whether an outcome of `job` is submitted and not committed yet.
    pub(super) fn is_recording(&self, job: JobId) -> bool {
        self.recording.contains_key(&job)
    }

    /// Attempts completed in the last minute.
    pub(super) fn completed_last_minute(&mut self) -> u64 {
        let since = Instant::now() - COMPLETIONS_COUNTED_FOR;
        while self.completed_at.front().is_some_and(|t| *t < since) {
            self.completed_at.pop_front();
        }
        self.completed_at.len() as u64
    }
}

/// An outcome the store committed (or could not).
pub(super) struct Recorded {
    pub(super) job: JobId,
    /// What was recorded: `Interrupted` for a refund, `Completed`, or the failure's kind.
    pub(super) outcome: OutcomeKind,
    pub(super) committed: Result<Effect, StoreError>,
}

/// What a recorded outcome did to its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// The attempt no longer held the job: nothing changed.
    Stale,
    /// Applied; the job will run again.
    Requeued,
    /// Applied; the job reached a final state.
    Final,
}

impl Effect {
    fn requeued_if(applied: bool) -> Effect {
        if applied {
            Effect::Requeued
        } else {
            Effect::Stale
        }
    }
}

impl Dispatcher {
    /// Records what a slot reported for an attempt.
    pub(super) fn record(&mut self, end: JobEnd) {
        let attempt = end.attempt;
        let crate::host::HostEffects { effects, requests } = end.host;
        let report = AttemptReport {
            worker_pid: Some(end.worker_pid),
            logs: end.logs,
            logs_truncated: end.logs_dropped > 0,
            duration: Some(end.duration),
            cpu_time: end.stats.map(|s| Duration::from_micros(s.cpu_us)),
            peak_memory_bytes: end.peak_memory,
            requests,
        };
        if end.kill_reason == Some(KillReason::Interrupted) && end.outcome != AttemptOutcome::Oom {
            info!(
                job = attempt.id.0,
                attempt = attempt.attempt,
                "interrupted by the drain; attempt refunded"
            );
            self.refund(attempt, report);
            return;
        }
        if end.outcome == AttemptOutcome::Completed {
            failpoint::hit(failpoint::RESULT_BEFORE_COMMIT);
            let completion = Completion {
                attempt,
                result: end.result,
                report,
                effects,
            };
            self.track(attempt.id, OutcomeKind::Completed, move |store| {
                let pending = store.complete(completion.clone());
                async move {
                    pending.await.map(|fenced| match fenced {
                        Fenced::Applied(Completed::Done { .. }) => Effect::Final,
                        // Nothing staged was applied and the attempt was recorded as a
                        // failure: like any failure, a retry or the end.
                        Fenced::Applied(Completed::Conflict {
                            conflict,
                            disposition,
                        }) => {
                            warn!(job = attempt.id.0, %conflict, ?disposition, "completion refused: state conflict");
                            failure_effect(disposition)
                        }
                        Fenced::Applied(Completed::Refused {
                            reason,
                            disposition,
                        }) => {
                            warn!(job = attempt.id.0, %reason, ?disposition, "completion refused: invalid effect");
                            failure_effect(disposition)
                        }
                        Fenced::Stale(_) => Effect::Stale,
                    })
                }
            });
            return;
        }
        let kind = super::views::outcome_kind(&end.outcome);
        let (name, message, stack) = end
            .error
            .unwrap_or_else(|| (kind.as_str().to_owned(), end.outcome.to_string(), None));
        let failure = Failure {
            attempt,
            kind,
            error: Some(JobError {
                name,
                message,
                stack,
            }),
            report,
        };
        self.record_failure(attempt.id, failure);
    }

    /// Records a failed attempt; the returned receiver fires once it is committed.
    pub(super) fn record_failure(&mut self, job: JobId, failure: Failure) -> oneshot::Receiver<()> {
        self.track(job, failure.kind, move |store| {
            let pending = store.fail(failure.clone());
            async move {
                pending.await.map(|fenced| match fenced {
                    Fenced::Applied(disposition) => {
                        debug!(job = job.0, ?disposition, "failure recorded");
                        failure_effect(disposition)
                    }
                    Fenced::Stale(_) => Effect::Stale,
                })
            }
        })
    }

    /// Gives back an attempt that never ran: the job is claimable again at once.
    pub(super) fn refund_unstarted(&mut self, attempt: AttemptRef) {
        self.refund(attempt, AttemptReport::default());
    }

    fn refund(&mut self, attempt: AttemptRef, report: AttemptReport) {
        self.track(attempt.id, OutcomeKind::Interrupted, move |store| {
            let pending = store.refund(attempt, report.clone());
            async move { pending.await.map(|f| Effect::requeued_if(f.is_applied())) }
        });
    }

    /// Submits an outcome (`submit` sends it to the store) and reports when it is
    /// committed. While the store cannot write (disk full, a foreign lock) the outcome is
    /// held here and submitted again with backoff: a finished job's result is not dropped
    /// because of a passing storage fault.
    fn track<F, Fut>(
        &mut self,
        job: JobId,
        outcome: OutcomeKind,
        submit: F,
    ) -> oneshot::Receiver<()>
    where
        F: Fn(&AnyStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Effect, StoreError>> + Send + 'static,
    {
        self.outcomes.pending += 1;
        *self.outcomes.recording.entry(job).or_default() += 1;
        let tx = self.internal_tx.clone();
        let store = self.store.clone();
        let (done, done_rx) = oneshot::channel();
        // Submitted now, not when the task first runs: the store must see this outcome
        // before any claim the dispatcher sends after it (a retry must be claimable).
        let first = submit(&self.store);
        self.tasks.spawn(async move {
            let mut delay = RECORD_RETRY_FIRST;
            let mut result = first.await;
            let committed = loop {
                match result {
                    Err(err) if err.is_transient() => {
                        warn!(job = job.0, outcome = outcome.as_str(), error = %err, retry_in = ?delay, "could not record the outcome; holding it and retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(RECORD_RETRY_MAX);
                        result = submit(&store).await;
                    }
                    other => break other,
                }
            };
            let _ = tx.send(Internal::Recorded(Recorded {
                job,
                outcome,
                committed,
            }));
            let _ = done.send(());
        });
        done_rx
    }

    pub(super) fn on_recorded(&mut self, recorded: Recorded) {
        let Recorded {
            job,
            outcome,
            committed,
        } = recorded;
        self.outcomes.pending -= 1;
        if let Some(n) = self.outcomes.recording.get_mut(&job) {
            *n -= 1;
            if *n == 0 {
                self.outcomes.recording.remove(&job);
            }
        }
        match committed {
            Ok(Effect::Stale) => warn!(
                job = job.0,
                outcome = outcome.as_str(),
                "stale outcome dropped: the job no longer belongs to this attempt"
            ),
            Ok(effect) => {
                if outcome == OutcomeKind::Completed {
                    self.outcomes.completed_at.push_back(Instant::now());
                }
                self.rollout.count_drained(outcome);
                match effect {
                    Effect::Final => self.resolve_waiters(job),
                    // Back in the queue (a retry, a refund): claimable now or later.
                    Effect::Requeued => self.claims.wanted = true,
                    Effect::Stale => {}
                }
            }
            Err(err) => {
                error!(job = job.0, outcome = outcome.as_str(), error = %err, "could not record the outcome; the job is retried when its lease ends")
            }
        }
        self.restart_answer_if_recorded();
    }
}

/// What a recorded failure means for the job: back to the queue, or the end.
fn failure_effect(disposition: FailDisposition) -> Effect {
    match disposition {
        FailDisposition::Retry { .. } => Effect::Requeued,
        FailDisposition::Discarded | FailDisposition::Cancelled => Effect::Final,
    }
}
