//! Job requests: enqueue (one or a batch), wait, list, show, retry and cancel, and the
//! `WaitJob` callers the dispatcher answers when a job reaches a final state.

use std::time::Duration;

use jobvisor_protocol::control::{
    EnqueueJob, EnqueuedJob, ErrorCode, JobQuery, MAX_ENQUEUE_BATCH, MAX_LIST_LIMIT, Response,
};

use super::super::views::{job_summary, job_view};
use super::super::{Dispatcher, Internal};
use super::{Reply, error, read_or_error, store_error};
use crate::limits::{
    MAX_DELAY, MAX_JOB_TIMEOUT, NameKind, check_at_most, check_max_attempts, check_name,
};
use crate::pool::slot::{KillReason, SlotCommand};
use crate::store::{
    AnyStore, AttemptReport, CancelOutcome, EnqueueRequest, Failure, JobError, JobFilter, JobId,
    JobState, JobStore, OutcomeKind, RetryOutcome, RunAt, StoreError,
};

/// Jobs a listing returns when the request names no limit.
const DEFAULT_LIST_LIMIT: u32 = 50;

impl Dispatcher {
    pub(super) fn enqueue(&mut self, job: EnqueueJob, reply: Reply) {
        let request = match self.enqueue_request(job) {
            Ok(request) => request,
            Err(message) => {
                let _ = reply.send(error(ErrorCode::BadRequest, message));
                return;
            }
        };
        let pending = self.store.enqueue(request);
        self.claims.wanted = true;
        self.reply_when(reply, pending, |outcome| Response::Enqueued {
            id: outcome.id.0,
            duplicate: outcome.duplicate,
        });
    }

    /// All or nothing, in one transaction.
    pub(super) fn enqueue_batch(&mut self, jobs: Vec<EnqueueJob>, reply: Reply) {
        if jobs.len() > MAX_ENQUEUE_BATCH {
            let _ = reply.send(error(
                ErrorCode::BadRequest,
                format!(
                    "a batch of {} jobs is above the limit of {MAX_ENQUEUE_BATCH}: split it",
                    jobs.len()
                ),
            ));
            return;
        }
        let mut requests = Vec::with_capacity(jobs.len());
        let scripts: Vec<String> = jobs.iter().map(|job| job.script.clone()).collect();
        for (index, job) in jobs.into_iter().enumerate() {
            match self.enqueue_request(job) {
                Ok(request) => requests.push(request),
                Err(message) => {
                    let _ = reply.send(error(
                        ErrorCode::BadRequest,
                        format!("job {index} of the batch (counting from 0): {message}; nothing was enqueued"),
                    ));
                    return;
                }
            }
        }
        let pending = self.store.enqueue_bulk(requests);
        self.claims.wanted = true;
        self.reply_with(reply, async move {
            match pending.await {
                Ok(outcomes) => Response::EnqueuedBatch(
                    outcomes
                        .iter()
                        .map(|outcome| EnqueuedJob {
                            id: outcome.id.0,
                            duplicate: outcome.duplicate,
                        })
                        .collect(),
                ),
                Err(err) => {
                    let mut response = store_error(&err);
                    // Name the first job the store refused for its script.
                    if let (StoreError::UnknownScript { name }, Response::Error(error)) =
                        (&err, &mut response)
                        && let Some(index) = scripts.iter().position(|s| s == name)
                    {
                        error.message = format!(
                            "job {index} of the batch (counting from 0): {}; nothing was enqueued",
                            error.message
                        );
                    }
                    response
                }
            }
        });
    }

    /// Registers the caller, then checks whether the job is already final: a job that ends
    /// between the two is still answered, by whichever comes second.
    pub(super) fn wait_job(&mut self, id: JobId, reply: Reply) {
        let waiting = self.waiters.entry(id).or_default();
        waiting.retain(|waiter| !waiter.is_closed());
        waiting.push(reply);
        let found = self.store.get_job(id);
        self.when(found, move |found| Internal::WaitChecked {
            job: id,
            final_state: match found {
                Ok(Some(detail)) => detail.job.state.is_finished(),
                // Gone or unreadable: answer now, with what `show` says.
                _ => true,
            },
        });
    }

    /// Answers every `WaitJob` caller of a job that reached a final state.
    pub(in crate::dispatcher) fn resolve_waiters(&mut self, job: JobId) {
        let Some(waiters) = self.waiters.remove(&job) else {
            return;
        };
        let store = self.store.clone();
        self.tasks.spawn(async move {
            let response = job_view_response(store, job).await;
            for waiter in waiters {
                let _ = waiter.send(response.clone());
            }
        });
    }

    /// Drops the `WaitJob` callers whose client went away: a wait has no time limit, and
    /// a job scheduled for next year must not keep every abandoned caller until then.
    pub(in crate::dispatcher) fn forget_abandoned_waiters(&mut self) {
        self.waiters.retain(|_, waiting| {
            waiting.retain(|waiter| !waiter.is_closed());
            !waiting.is_empty()
        });
    }

    pub(super) fn list_jobs(&mut self, query: JobQuery, reply: Reply) {
        let state = match query
            .state
            .as_deref()
            .map(|s| JobState::parse(s).ok_or(s.to_owned()))
            .transpose()
        {
            Ok(state) => state,
            Err(bad) => {
                let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
                let _ = reply.send(error(
                    ErrorCode::BadRequest,
                    format!("unknown state `{bad}`; use one of {}", states.join(", ")),
                ));
                return;
            }
        };
        if query.limit > MAX_LIST_LIMIT {
            let _ = reply.send(error(
                ErrorCode::BadRequest,
                format!(
                    "limit {} is above the most one listing returns ({MAX_LIST_LIMIT}); page with `--before ID`",
                    query.limit
                ),
            ));
            return;
        }
        let filter = JobFilter {
            state,
            queue: query.queue,
            script: query.script,
            before: query.before.map(JobId),
            limit: if query.limit == 0 {
                DEFAULT_LIST_LIMIT
            } else {
                query.limit
            },
        };
        self.read(reply, move |store| async move {
            store
                .list_jobs(filter)
                .await
                .map(|jobs| Response::Jobs(jobs.iter().map(job_summary).collect()))
        });
    }

    pub(super) fn show_job(&mut self, id: JobId, reply: Reply) {
        self.reply_with(reply, job_view_response(self.store.clone(), id));
    }

    pub(super) fn retry(&mut self, id: JobId, latest: bool, reply: Reply) {
        let pending = self.store.retry(id, latest);
        self.claims.wanted = true;
        self.reply_when(reply, pending, move |outcome| match outcome {
            RetryOutcome::Requeued {
                max_attempts,
                script_hash,
                script_changed,
            } => Response::Retried {
                id: id.0,
                max_attempts,
                script_hash,
                script_changed,
            },
            RetryOutcome::NotRetryable(state) => error(
                ErrorCode::BadRequest,
                format!(
                    "job {} is {}; only discarded, cancelled, retryable and scheduled jobs can be retried",
                    id.0,
                    state.as_str()
                ),
            ),
            RetryOutcome::UniqueConflict { existing } => error(
                ErrorCode::BadRequest,
                format!(
                    "job {} shares its unique key with live job {}; retry that one or wait for it",
                    id.0, existing.0
                ),
            ),
            RetryOutcome::NotFound => error(ErrorCode::NotFound, format!("no job {}", id.0)),
        });
    }

    /// The store decides; a kill has to come from the dispatcher, so its decision comes
    /// back as an event ([`Internal::CancelDecided`]).
    pub(super) fn cancel(&mut self, id: JobId, reply: Reply) {
        self.when(self.store.cancel(id), move |outcome| {
            Internal::CancelDecided { id, outcome, reply }
        });
    }

    pub(in crate::dispatcher) fn on_cancel_decided(
        &mut self,
        id: JobId,
        outcome: Result<CancelOutcome, StoreError>,
        reply: Reply,
    ) {
        let response = match outcome {
            Ok(CancelOutcome::Cancelled) => {
                self.resolve_waiters(id);
                Response::Cancelled {
                    id: id.0,
                    was_running: false,
                }
            }
            Ok(CancelOutcome::Running { attempt }) => {
                if let Some(position) = self
                    .claims
                    .ready
                    .iter()
                    .position(|j| j.id == id && j.attempt == attempt)
                {
                    // Claimed but not started: end the attempt without a worker, and
                    // answer once that is committed (the job is then `cancelled`).
                    if let Some(job) = self.claims.ready.remove(position) {
                        let failure = Failure {
                            attempt: job.attempt_ref(),
                            kind: OutcomeKind::Killed,
                            error: Some(JobError {
                                name: "Cancelled".into(),
                                message: "cancelled before it started".into(),
                                stack: None,
                            }),
                            report: AttemptReport::default(),
                        };
                        let committed = self.record_failure(id, failure);
                        self.reply_with(reply, async move {
                            let _ = committed.await;
                            Response::Cancelled {
                                id: id.0,
                                was_running: false,
                            }
                        });
                        return;
                    }
                } else if let Some((slot, job)) = self
                    .slots
                    .iter()
                    .find_map(|s| s.job.filter(|j| j.id == id).map(|j| (s, j)))
                {
                    let _ = slot.commands.send(SlotCommand::Kill {
                        job,
                        reason: KillReason::Cancelled,
                    });
                }
                Response::Cancelled {
                    id: id.0,
                    was_running: true,
                }
            }
            Ok(CancelOutcome::AlreadyFinished(state)) => error(
                ErrorCode::BadRequest,
                format!(
                    "job {} is already {}; nothing to cancel",
                    id.0,
                    state.as_str()
                ),
            ),
            Ok(CancelOutcome::NotFound) => error(ErrorCode::NotFound, format!("no job {}", id.0)),
            Err(err) => store_error(&err),
        };
        let _ = reply.send(response);
    }

    /// Checks an enqueue request as the client sent it and turns it into the store's.
    fn enqueue_request(&self, job: EnqueueJob) -> Result<EnqueueRequest, String> {
        if job.payload.len() as u64 > self.info.payload_limit {
            return Err(format!(
                "payload is {} bytes, above the limit of {} bytes",
                job.payload.len(),
                self.info.payload_limit
            ));
        }
        let queue = job.queue.unwrap_or_else(|| self.info.default_queue.clone());
        check_name(NameKind::Queue, &queue)?;
        let run_at = match (job.delay_ms, job.run_at_ms) {
            (Some(_), Some(_)) => {
                return Err("give a delay or a time to run at, not both".to_owned());
            }
            (Some(ms), None) => RunAt::After(Duration::from_millis(ms)),
            (None, Some(at)) => RunAt::At(at),
            (None, None) => RunAt::Now,
        };
        if job.timeout_ms == Some(0) {
            return Err("timeout must be more than 0".to_owned());
        }
        // The store checks these too (and `at` against its clock); refusing here names the
        // field as the client sent it.
        if let Some(n) = job.max_attempts {
            check_max_attempts(n)?;
        }
        if let Some(ms) = job.timeout_ms {
            check_at_most("timeout", Duration::from_millis(ms), MAX_JOB_TIMEOUT)?;
        }
        if let Some(ms) = job.delay_ms {
            check_at_most("delay", Duration::from_millis(ms), MAX_DELAY)?;
        }
        Ok(EnqueueRequest {
            script: job.script,
            payload: job.payload,
            queue,
            priority: job.priority.unwrap_or(0),
            run_at,
            max_attempts: job.max_attempts,
            timeout: job.timeout_ms.map(Duration::from_millis),
            unique_key: job.unique_key,
            backoff: None,
        })
    }
}

/// What `jobs show ID` answers.
pub(in crate::dispatcher) async fn job_view_response(store: AnyStore, id: JobId) -> Response {
    match read_or_error(store.get_job(id)).await {
        Ok(Some(detail)) => Response::Job(Box::new(job_view(detail))),
        Ok(None) => error(ErrorCode::NotFound, format!("no job {}", id.0)),
        Err(response) => response,
    }
}
