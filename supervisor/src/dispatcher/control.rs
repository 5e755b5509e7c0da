//! The dispatcher's answers to control requests, one method per request. Reads run on the
//! blocking pool and writes go through the store's writer; the answer is sent when they
//! are done, so the dispatcher loop never waits.

use std::time::{Duration, Instant};

use jobvisor_protocol::control::{
    ControlError, EnqueueJob, EnqueuedJob, ErrorCode, JobQuery, MAX_ENQUEUE_BATCH, MAX_LIST_LIMIT,
    QueueStatus, Request, Response, ScriptVersion, ScriptView, StatusReport, WorkerStatus,
};
use tokio::sync::oneshot;
use tracing::info;

use super::schedules::ScheduleChange;
use super::views::{job_summary, job_view, queue_view, script_summaries};
use super::{ControlCall, Dispatcher, Internal};
use crate::pool::slot::{KillReason, SlotCommand};
use crate::store::{
    AnyStore, AttemptReport, CancelOutcome, EnqueueRequest, Failure, JobError, JobFilter, JobId,
    JobState, JobStore, OutcomeKind, QueueRemoval, RetryOutcome, RunAt, StoreError,
};

use crate::units::{MAX_ATTEMPTS, MAX_DELAY, MAX_JOB_TIMEOUT, check_at_most};

/// How long a failed store write keeps `status` degraded.
const STORE_FAILURE_SHOWN_FOR: Duration = Duration::from_secs(10);

type Reply = oneshot::Sender<Response>;

impl Dispatcher {
    pub(super) fn on_control(&mut self, call: ControlCall) {
        let reply = call.reply;
        match call.request {
            Request::Status => self.status(reply),
            Request::Enqueue(job) => self.enqueue(job, reply),
            Request::EnqueueBatch(jobs) => self.enqueue_batch(jobs, reply),
            Request::WaitJob { id } => self.wait_job(JobId(id), reply),
            Request::AddScript { name, source } => self.add_script(name, source, reply),
            Request::ListScripts => read(&self.store, reply, |store| async move {
                store
                    .list_scripts()
                    .await
                    .map(|s| Response::Scripts(script_summaries(&s)))
            }),
            Request::ShowScript { name } => read(&self.store, reply, move |store| async move {
                show_script(&store, &name).await
            }),
            Request::ListJobs(query) => self.list_jobs(query, reply),
            Request::ShowJob { id } => {
                let store = self.store.clone();
                tokio::spawn(async move {
                    let _ = reply.send(job_view_response(store, JobId(id)).await);
                });
            }
            Request::RetryJob { id } => self.retry(JobId(id), false, reply),
            Request::RetryJobLatest { id } => self.retry(JobId(id), true, reply),
            Request::CancelJob { id } => self.cancel(JobId(id), reply),
            Request::ListQueues => read(&self.store, reply, |store| async move {
                store
                    .list_queues()
                    .await
                    .map(|q| Response::Queues(q.into_iter().map(queue_view).collect()))
            }),
            Request::SetQueuePaused { queue, paused } => {
                self.set_paused(queue, paused, true, reply);
            }
            Request::PauseQueue {
                queue,
                paused,
                create,
            } => self.set_paused(queue, paused, create, reply),
            Request::RemoveQueue { queue } => self.remove_queue(queue, reply),
            Request::Restart { worker, force } => self.restart(worker, force, reply),
            Request::Drain => {
                if !self.draining() {
                    info!("drain requested over the control socket");
                    self.start_drain();
                }
                self.drain.replies.push(reply);
            }
            Request::ListSchedules => self.list_schedules(reply),
            Request::ShowSchedule { name } => self.show_schedule(name, reply),
            Request::AddSchedule(spec) => self.add_schedule(spec, reply),
            Request::SetScheduleEnabled { name, enabled } => {
                let change = if enabled {
                    ScheduleChange::Enable
                } else {
                    ScheduleChange::Disable
                };
                self.change_schedule(name, change, reply);
            }
            Request::RemoveSchedule { name } => {
                self.change_schedule(name, ScheduleChange::Remove, reply)
            }
            Request::RunSchedule { name } => self.run_schedule(name, reply),
            // Streams are served by the control server itself.
            Request::Follow => {
                let _ = reply.send(error(
                    ErrorCode::BadRequest,
                    "follow is served by the control server".into(),
                ));
            }
        }
    }

    fn status(&mut self, reply: Reply) {
        let report = self.status_skeleton();
        let store = self.store.clone();
        tokio::spawn(async move {
            let _ = reply.send(complete_status(store, report).await);
        });
    }

    fn enqueue(&mut self, job: EnqueueJob, reply: Reply) {
        let request = match self.enqueue_request(job) {
            Ok(request) => request,
            Err(message) => {
                let _ = reply.send(error(ErrorCode::BadRequest, message));
                return;
            }
        };
        let pending = self.store.enqueue(request);
        self.claim_wanted = true;
        tokio::spawn(async move {
            let response = match pending.await {
                Ok(outcome) => Response::Enqueued {
                    id: outcome.id.0,
                    duplicate: outcome.duplicate,
                },
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
        });
    }

    /// All or nothing, in one transaction.
    fn enqueue_batch(&mut self, jobs: Vec<EnqueueJob>, reply: Reply) {
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
        self.claim_wanted = true;
        tokio::spawn(async move {
            let response = match pending.await {
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
            };
            let _ = reply.send(response);
        });
    }

    /// Registers the caller, then checks whether the job is already final: a job that ends
    /// between the two is still answered, by whichever comes second.
    fn wait_job(&mut self, id: JobId, reply: Reply) {
        let waiting = self.waiters.entry(id).or_default();
        waiting.retain(|waiter| !waiter.is_closed());
        waiting.push(reply);
        let store = self.store.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let found = store.get_job(id).await;
            let final_state = match found {
                Ok(Some(detail)) => detail.job.state.is_finished(),
                // Gone or unreadable: answer now, with what `show` says.
                _ => true,
            };
            let _ = tx.send(Internal::WaitChecked {
                job: id,
                final_state,
            });
        });
    }

    fn add_script(&mut self, name: String, source: String, reply: Reply) {
        if !crate::config::valid_name(&name) {
            let message = format!(
                "script name `{name}`: use letters, digits, `-`, `_` and `.` (1 to 100 characters)"
            );
            let _ = reply.send(error(ErrorCode::BadRequest, message));
            return;
        }
        if let Some(refusal) = self.info.declared.script_refusal(&name) {
            let _ = reply.send(error(ErrorCode::BadRequest, refusal));
            return;
        }
        let store = self.store.clone();
        let checker = self.info.checker.clone();
        tokio::spawn(async move {
            if let Err(problem) = checker.check(&name, &source).await {
                let _ = reply.send(error(
                    ErrorCode::BadRequest,
                    format!("script `{name}` was not added: {problem}"),
                ));
                return;
            }
            let response = match store.add_script(&name, &source).await {
                Ok(version) => Response::ScriptAdded {
                    name: version.name,
                    hash: version.hash,
                    created: version.created,
                },
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
        });
    }

    fn list_jobs(&mut self, query: JobQuery, reply: Reply) {
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
            limit: if query.limit == 0 { 50 } else { query.limit },
        };
        read(&self.store, reply, move |store| async move {
            store
                .list_jobs(filter)
                .await
                .map(|jobs| Response::Jobs(jobs.iter().map(job_summary).collect()))
        });
    }

    fn retry(&mut self, id: JobId, latest: bool, reply: Reply) {
        let pending = self.store.retry(id, latest);
        self.claim_wanted = true;
        tokio::spawn(async move {
            let response = match pending.await {
                Ok(RetryOutcome::Requeued {
                    max_attempts,
                    script_hash,
                    script_changed,
                }) => Response::Retried {
                    id: id.0,
                    max_attempts,
                    script_hash,
                    script_changed,
                },
                Ok(RetryOutcome::NotRetryable(state)) => error(
                    ErrorCode::BadRequest,
                    format!(
                        "job {} is {}; only discarded, cancelled, retryable and scheduled jobs can be retried",
                        id.0,
                        state.as_str()
                    ),
                ),
                Ok(RetryOutcome::UniqueConflict { existing }) => error(
                    ErrorCode::BadRequest,
                    format!(
                        "job {} shares its unique key with live job {}; retry that one or wait for it",
                        id.0, existing.0
                    ),
                ),
                Ok(RetryOutcome::NotFound) => {
                    error(ErrorCode::NotFound, format!("no job {}", id.0))
                }
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
        });
    }

    fn cancel(&mut self, id: JobId, reply: Reply) {
        let pending = self.store.cancel(id);
        let tx_reply = reply;
        let (outcome_tx, outcome_rx) = oneshot::channel();
        tokio::spawn(async move {
            let _ = outcome_tx.send(pending.await);
        });
        // The kill has to come from the dispatcher, so the outcome comes back as a call.
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            let outcome = outcome_rx.await.unwrap_or(Err(StoreError::Closed));
            let _ = internal.send(Internal::CancelDecided {
                id,
                outcome,
                reply: tx_reply,
            });
        });
    }

    pub(super) fn on_cancel_decided(
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
                    .ready
                    .iter()
                    .position(|j| j.id == id && j.attempt == attempt)
                {
                    // Claimed but not started: end the attempt without a worker, and
                    // answer once that is committed (the job is then `cancelled`).
                    if let Some(job) = self.ready.remove(position) {
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
                        let committed = self.record_failure(id, failure, "killed");
                        tokio::spawn(async move {
                            let _ = committed.await;
                            let _ = reply.send(Response::Cancelled {
                                id: id.0,
                                was_running: false,
                            });
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

    fn set_paused(&mut self, queue: String, paused: bool, create: bool, reply: Reply) {
        if !crate::config::valid_name(&queue) {
            let _ = reply.send(error(
                ErrorCode::BadRequest,
                format!("queue name `{queue}`: use letters, digits, `-`, `_` and `.`"),
            ));
            return;
        }
        let pending = self.store.set_queue_paused(&queue, paused, create);
        if !paused {
            self.claim_wanted = true;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            let response = match pending.await {
                Ok(true) => Response::QueuePaused { queue, paused },
                Ok(false) => unknown_queue(store, queue, " (pass --create to create it)").await,
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
        });
    }

    fn remove_queue(&mut self, queue: String, reply: Reply) {
        let pending = self.store.remove_queue(&queue);
        let store = self.store.clone();
        tokio::spawn(async move {
            let response = match pending.await {
                Ok(QueueRemoval::Removed) => Response::QueueRemoved { queue },
                Ok(QueueRemoval::HasJobs(jobs)) => error(
                    ErrorCode::BadRequest,
                    format!(
                        "queue `{queue}` holds {jobs} job{}; only a queue no job was enqueued to can be removed",
                        if jobs == 1 { "" } else { "s" }
                    ),
                ),
                Ok(QueueRemoval::NotFound) => unknown_queue(store, queue, "").await,
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
        });
    }

    fn restart(&mut self, worker: Option<u32>, force: bool, reply: Reply) {
        if self.draining() {
            let _ = reply.send(error(
                ErrorCode::Draining,
                "the daemon is draining; workers are stopping anyway".into(),
            ));
            return;
        }
        let targets: Vec<u32> = match worker {
            Some(id) if (id as usize) < self.slots.len() => vec![id],
            Some(id) => {
                let _ = reply.send(error(
                    ErrorCode::NotFound,
                    format!(
                        "no worker {id}; workers are 0 to {}",
                        self.slots.len().saturating_sub(1)
                    ),
                ));
                return;
            }
            None => (0..u32::try_from(self.slots.len()).unwrap_or(u32::MAX)).collect(),
        };
        self.restart.force |= force;
        for id in targets {
            if !self.restart.queue.contains(&id) && self.restart.current.map(|(c, _)| c) != Some(id)
            {
                self.restart.queue.push_back(id);
            }
        }
        self.restart.replies.push(reply);
        self.restart_next();
    }

    /// Drops the `WaitJob` callers whose client went away: a wait has no time limit, and
    /// a job scheduled for next year must not keep every abandoned caller until then.
    pub(super) fn forget_abandoned_waiters(&mut self) {
        self.waiters.retain(|_, waiting| {
            waiting.retain(|waiter| !waiter.is_closed());
            !waiting.is_empty()
        });
    }

    pub(super) fn enqueue_request(&self, job: EnqueueJob) -> Result<EnqueueRequest, String> {
        if job.payload.len() as u64 > self.info.payload_limit {
            return Err(format!(
                "payload is {} bytes, above the limit of {} bytes",
                job.payload.len(),
                self.info.payload_limit
            ));
        }
        let queue = job.queue.unwrap_or_else(|| self.info.default_queue.clone());
        if !crate::config::valid_name(&queue) {
            return Err(format!(
                "queue name `{queue}`: use letters, digits, `-`, `_` and `.`"
            ));
        }
        let run_at = match (job.delay_ms, job.run_at_ms) {
            (Some(_), Some(_)) => {
                return Err("give a delay or a time to run at, not both".to_owned());
            }
            (Some(ms), None) => RunAt::After(Duration::from_millis(ms)),
            (None, Some(at)) => RunAt::At(at),
            (None, None) => RunAt::Now,
        };
        if job.max_attempts == Some(0) {
            return Err("max attempts must be at least 1".to_owned());
        }
        if job.timeout_ms == Some(0) {
            return Err("timeout must be more than 0".to_owned());
        }
        // The store checks these too (and `at` against its clock); refusing here names the
        // field as the client sent it.
        if let Some(n) = job.max_attempts
            && n > MAX_ATTEMPTS
        {
            return Err(format!(
                "max attempts is {n}: at most {MAX_ATTEMPTS} is allowed"
            ));
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

    pub(super) fn status_skeleton(&mut self) -> StatusReport {
        let minute_ago = Instant::now() - Duration::from_secs(60);
        while self
            .completed_times
            .front()
            .is_some_and(|t| *t < minute_ago)
        {
            self.completed_times.pop_front();
        }
        StatusReport {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_ms: u64::try_from(self.info.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            epoch: self.store.epoch(),
            limiter: self.info.limiter.clone(),
            store_path: self.store.location(),
            store_bytes: 0,
            draining: self.draining(),
            workers: self
                .slots
                .iter()
                .enumerate()
                .map(|(i, s)| WorkerStatus {
                    id: u32::try_from(i).unwrap_or(u32::MAX),
                    pid: s.pid,
                    state: if s.degraded.is_some() {
                        jobvisor_protocol::control::WorkerState::Degraded
                    } else {
                        super::views::worker_state(s.state)
                    },
                    job: s.job.as_ref().map(|j| j.id.0),
                    jobs_done: s.jobs_done,
                    rss_bytes: s.pid.and_then(rss_bytes),
                    restarts: s.restarts,
                    degraded_reason: s.degraded.clone(),
                })
                .collect(),
            queues: Vec::new(),
            completed_last_minute: self.completed_times.len() as u64,
            degraded: self.degraded_reasons(),
            drain_left_ms: self
                .drain_left()
                .map(|left| u64::try_from(left.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// Reasons `status` reports as degraded; a failed store write counts for
    /// [`STORE_FAILURE_SHOWN_FOR`].
    fn degraded_reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some((message, ago)) = self.store.recent_write_failure(STORE_FAILURE_SHOWN_FOR) {
            reasons.push(format!(
                "store write failed {}s ago: {message}",
                ago.as_secs()
            ));
        }
        let degraded = self.slots.iter().filter(|s| s.degraded.is_some()).count();
        if degraded > 0 {
            reasons.push(format!(
                "{degraded} of {} worker slots degraded (restarting too often)",
                self.slots.len()
            ));
        }
        reasons
    }
}

/// Runs a read in its own task and sends its answer.
pub(super) fn read<F, Fut>(store: &AnyStore, reply: Reply, f: F)
where
    F: FnOnce(AnyStore) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response, StoreError>> + Send + 'static,
{
    let store = store.clone();
    tokio::spawn(async move {
        let response = match f(store).await {
            Ok(response) => response,
            Err(err) => store_error(&err),
        };
        let _ = reply.send(response);
    });
}

async fn show_script(store: &AnyStore, name: &str) -> Result<Response, StoreError> {
    let versions: Vec<_> = store
        .list_scripts()
        .await?
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    let Some(current) = versions.iter().find(|s| s.current) else {
        return Ok(error(
            ErrorCode::NotFound,
            format!("no script `{name}`; see `jobvisor scripts list`"),
        ));
    };
    let source = store
        .script_source(name, &current.hash)
        .await?
        .unwrap_or_default();
    let mut history: Vec<ScriptVersion> = versions
        .iter()
        .map(|v| ScriptVersion {
            hash: v.hash.clone(),
            created_at_ms: v.created_at_ms,
            current: v.current,
        })
        .collect();
    history.sort_by_key(|v| std::cmp::Reverse(v.created_at_ms));
    Ok(Response::Script(ScriptView {
        name: name.to_owned(),
        hash: current.hash.clone(),
        created_at_ms: current.created_at_ms,
        source,
        versions: history,
    }))
}

/// "no queue `x`; existing queues: ..." with the closest name.
async fn unknown_queue(store: AnyStore, queue: String, hint: &str) -> Response {
    match store.list_queues().await {
        Ok(queues) => {
            let names: Vec<String> = queues.into_iter().map(|q| q.name).collect();
            error(
                ErrorCode::NotFound,
                format!(
                    "no queue `{queue}`{hint}; {}",
                    crate::suggest::known_names("queues", &queue, &names)
                ),
            )
        }
        Err(err) => store_error(&err),
    }
}

pub(super) async fn job_view_response(store: AnyStore, id: JobId) -> Response {
    match store.get_job(id).await {
        Ok(Some(detail)) => Response::Job(Box::new(job_view(detail))),
        Ok(None) => error(ErrorCode::NotFound, format!("no job {}", id.0)),
        Err(err) => store_error(&err),
    }
}

async fn complete_status(store: AnyStore, mut report: StatusReport) -> Response {
    let counted = store.counts().await;
    let bytes = store.disk_usage().await.unwrap_or(0);
    match counted {
        Ok(counts) => {
            report.store_bytes = bytes;
            report.queues = counts
                .queues
                .into_iter()
                .map(|q| {
                    let counts = JobState::ALL
                        .iter()
                        .map(|state| (super::views::job_state(*state), q.get(*state)))
                        .filter(|(_, n)| *n > 0)
                        .collect();
                    QueueStatus {
                        queue: q.queue,
                        paused: q.paused,
                        counts,
                    }
                })
                .collect();
            Response::Status(report)
        }
        Err(err) => store_error(&err),
    }
}

pub(super) fn error(code: ErrorCode, message: String) -> Response {
    Response::Error(ControlError { code, message })
}

pub(super) fn store_error(err: &StoreError) -> Response {
    let code = match err {
        StoreError::UnknownScript { .. } => ErrorCode::NotFound,
        StoreError::PayloadTooLarge { .. }
        | StoreError::InvalidPayload { .. }
        | StoreError::InvalidRequest(_) => ErrorCode::BadRequest,
        StoreError::DiskFull { .. } | StoreError::Busy { .. } => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    };
    error(code, err.to_string())
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
