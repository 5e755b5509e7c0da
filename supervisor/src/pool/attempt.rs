//! One attempt of one job on a live worker, from the `Run` frame to its classified end.
//!
//! Used by the pool's slots and by `jobvisor run` alike, so both enforce the same
//! deadlines and classify an end the same way. [`run_attempt`] sends `Run`, relays the
//! attempt's console lines, answers the commands that reach it (a kill, a stop, a
//! recycle), enforces the job's deadline and the frame deadline, and when the attempt is
//! over classifies it through [`classify_exit`] into an [`AttemptResult`]. The loop body
//! is in named methods of [`Attempt`]: `on_command`, `on_timer` (with `on_deadline`),
//! `on_frame`, `on_host_answer`, `finish`.
//!
//! Host calls of the attempt in hand go to the [`HostService`] on tasks of their own, so
//! the deadlines keep running while one is answered; each answer goes back as a
//! `HostReply`. Bounded: at most [`MAX_HOST_CALLS_IN_FLIGHT`] unanswered, none larger
//! than [`MAX_HOST_CALL_BYTES`] (refused by the connection before it is decoded), each
//! naming this attempt and a `call_id` not in flight. Anything else ends the attempt as a
//! protocol error, like any frame that does not fit the conversation. Answers still
//! pending when the attempt ends are dropped.
//!
//! It owns nothing beyond the attempt: the worker is borrowed, the store is never
//! touched, and what the owner must know while the attempt runs (console lines, a job it
//! must hand back) goes through [`AttemptHooks`].

use std::time::{Duration, Instant};

use jobvisor_protocol::FrameError;
use jobvisor_protocol::host::{HostOp, HostResult, MAX_HOST_CALL_BYTES, MAX_HOST_CALLS_IN_FLIGHT};
use jobvisor_protocol::worker::{
    AbortReason, ErrorKind, FromWorker, JobStats, LogLevel, Outcome, RunJob, ToWorker,
};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info};

use super::connection::{WorkerConnection, message_name};
use super::exit::{AttemptOutcome, ExitFacts, Killer, Observed, classify_exit, observed_failure};
use super::process::WorkerProcess;
use super::slot::{KillReason, SlotCommand};
use crate::cgroup::{PeakMeter, WorkerGroup};
use crate::failpoint;
use crate::host::{AttemptHost, HostEffects};
use crate::store::AttemptRef;

/// How long a cancelled job's handler has to stop on its aborted signal before its worker
/// is killed.
const CANCEL_GRACE: Duration = Duration::from_secs(1);
/// How much of a worker's stderr is kept to classify its death.
pub const STDERR_KEEP: usize = 16 * 1024;
/// A frame that has begun must be complete within this long: a worker writes a whole
/// frame at once, so one that trickles bytes is broken or hostile, whatever its deadline.
const FRAME_DEADLINE: Duration = Duration::from_secs(2);
/// How often a running attempt looks for a trickling frame.
const FRAME_CHECK_EVERY: Duration = Duration::from_millis(500);
/// Frames already waiting in the socket that are still read once a job's deadline has
/// passed (see [`Attempt::on_deadline`]).
const READ_AFTER_DEADLINE: u32 = 4096;
/// How long a killed worker may take to be reaped.
pub const REAP_WITHIN: Duration = Duration::from_secs(2);
/// How long a worker whose socket ended may take to exit on its own, so that it is reaped
/// with its real status (an OOM kill, an abort) before it is killed.
const DYING_WITHIN: Duration = Duration::from_millis(500);
/// The budget for emptying the worker's cgroup after it was reaped.
const EMPTY_GROUP_WITHIN: Duration = Duration::from_millis(500);
/// How long the rest of the worker's stderr may take to arrive once it is dead.
const STDERR_WITHIN: Duration = Duration::from_millis(200);

/// A started worker that has said it is ready: its process, its socket and the task that
/// keeps the end of its stderr.
#[derive(Debug)]
pub struct LiveWorker {
    pub process: WorkerProcess,
    pub conn: WorkerConnection,
    pub stderr: JoinHandle<String>,
    /// The group's OOM-kill counter when this worker started.
    pub oom_kills_at_start: u64,
    /// Attempts it has run.
    pub jobs: u64,
    /// The highest resident set it reported.
    pub peak_rss: u64,
}

impl LiveWorker {
    /// A worker that has just said it is ready, in `group`.
    pub fn ready(
        process: WorkerProcess,
        conn: WorkerConnection,
        stderr: JoinHandle<String>,
        group: &WorkerGroup,
    ) -> LiveWorker {
        LiveWorker {
            process,
            conn,
            stderr,
            oom_kills_at_start: group.oom_kills(),
            jobs: 0,
            peak_rss: 0,
        }
    }
}

/// One attempt to run.
#[derive(Debug)]
pub struct AttemptSpec {
    pub attempt: AttemptRef,
    pub run: RunJob,
    /// The job's timeout (what the attempt is allowed).
    pub timeout: Duration,
    pub started: Instant,
    /// When the worker is killed: the timeout plus the kill grace, from `started`.
    pub deadline: tokio::time::Instant,
}

impl AttemptSpec {
    /// An attempt that starts now.
    pub fn new(attempt: AttemptRef, run: RunJob, timeout: Duration, kill_grace: Duration) -> Self {
        let started = Instant::now();
        AttemptSpec {
            attempt,
            run,
            timeout,
            started,
            deadline: tokio::time::Instant::from_std(started + timeout + kill_grace),
        }
    }
}

/// What the owner of an attempt hears while it runs.
pub trait AttemptHooks {
    /// A console line of the attempt, as it arrives (it is also kept in [`JobEnd::logs`]).
    fn console(&mut self, attempt: AttemptRef, level: LogLevel, text: String);
    /// A `Run` for another job reached the owner while this attempt runs: it never starts
    /// and must be handed back.
    fn hand_back(&mut self, job: AttemptRef);
}

/// What one attempt produced.
#[derive(Debug)]
pub struct JobEnd {
    pub attempt: AttemptRef,
    pub outcome: AttemptOutcome,
    /// Result JSON for a completed attempt.
    pub result: Option<String>,
    /// name, message, stack
    pub error: Option<(String, String, Option<String>)>,
    /// Console lines as JSON lines (`{"level":"info","text":"…"}`).
    pub logs: String,
    pub logs_dropped: u32,
    pub stats: Option<JobStats>,
    pub duration: Duration,
    pub worker_pid: u32,
    pub peak_memory: Option<u64>,
    /// The dispatcher asked for this kill.
    pub kill_reason: Option<KillReason>,
    /// What the attempt staged and the requests it made.
    pub host: HostEffects,
}

/// Whether the worker outlived the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerFate {
    /// It reported the attempt's end and is healthy.
    Alive,
    /// It died or was killed (and is reaped): start a new one.
    Gone,
}

/// What the owner was asked to do once the attempt is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Nothing: go on.
    Continue,
    /// Replace the worker before the next job.
    Recycle,
    /// Stop: gracefully (let the worker exit) or not.
    Stop { graceful: bool },
}

/// How one attempt went.
#[derive(Debug)]
pub struct AttemptResult {
    pub end: JobEnd,
    pub worker: WorkerFate,
    pub then: AfterAttempt,
    /// The worker's own kind for a failure it reported (`Done` with an error).
    pub worker_error: Option<ErrorKind>,
}

/// An attempt that ran, or one that never reached its worker.
#[derive(Debug)]
pub enum AttemptRun {
    Ran(Box<AttemptResult>),
    /// `Run` could not be sent (the worker died first): not the job's fault. The worker
    /// is not reaped yet.
    NotSent(FrameError),
}

/// Runs one attempt on `worker`, whose cgroup is `group`. `commands` are the owner's
/// while the attempt runs (a closed channel counts as a graceful stop).
pub async fn run_attempt(
    worker: &mut LiveWorker,
    group: &WorkerGroup,
    host: AttemptHost,
    commands: &mut mpsc::UnboundedReceiver<SlotCommand>,
    hooks: &mut impl AttemptHooks,
    spec: AttemptSpec,
) -> AttemptRun {
    let attempt = spec.attempt;
    let AttemptSpec {
        run,
        timeout,
        started,
        deadline,
        ..
    } = spec;
    let watch = Watch {
        // Read once per worker, not per job: the group holds only this worker, so any
        // OOM kill counted since it started is its own death.
        oom_before: worker.oom_kills_at_start,
        peak: group.start_peak(),
        timeout,
    };
    if let Err(err) = worker.conn.send(&ToWorker::Run(run)).await {
        return AttemptRun::NotSent(err);
    }
    failpoint::hit(failpoint::AFTER_DISPATCH);
    let mut attempt = Attempt {
        worker,
        group,
        hooks,
        attempt,
        started,
        deadline,
        watch,
        logs: String::new(),
        then: AfterAttempt::Continue,
        commands_open: true,
        next_frame_check: tokio::time::Instant::now() + FRAME_CHECK_EVERY,
        partial_since: None,
        read_after_deadline: 0,
        host,
        host_calls: JoinSet::new(),
        host_call_ids: std::collections::HashSet::new(),
        aborted: None,
        kill_at: None,
    };
    let ending = loop {
        let step = tokio::select! {
            biased;
            command = commands.recv(), if attempt.commands_open => attempt.on_command(command).await,
            // One timer per wake-up serves both the deadline and the trickling-frame check.
            () = tokio::time::sleep_until(attempt.next_wake()) => {
                attempt.on_timer().await
            }
            frame = attempt.worker.conn.recv() => attempt.on_frame(frame),
            Some(answer) = attempt.host_calls.join_next(), if !attempt.host_calls.is_empty() => {
                attempt.on_host_answer(answer).await
            }
        };
        if let Step::End(ending) = step {
            break ending;
        }
    };
    AttemptRun::Ran(Box::new(attempt.finish(ending).await))
}

/// The state of one attempt while it runs.
struct Attempt<'a, H> {
    worker: &'a mut LiveWorker,
    group: &'a WorkerGroup,
    hooks: &'a mut H,
    attempt: AttemptRef,
    started: Instant,
    deadline: tokio::time::Instant,
    watch: Watch,
    logs: String,
    then: AfterAttempt,
    commands_open: bool,
    next_frame_check: tokio::time::Instant,
    /// Since when a frame has been incomplete.
    partial_since: Option<Instant>,
    read_after_deadline: u32,
    host: AttemptHost,
    /// The host calls being answered, each yielding its `call_id` and answer.
    host_calls: JoinSet<(u64, HostResult)>,
    /// The `call_id`s of `host_calls`.
    host_call_ids: std::collections::HashSet<u64>,
    /// Why the job's signal was aborted, if it was.
    aborted: Option<AbortReason>,
    /// A kill the owner asked for, carried out at this time unless the job ends first
    /// (a cancel gives the handler until then to stop on its signal).
    kill_at: Option<(tokio::time::Instant, KillReason)>,
}

/// Whether the loop goes on.
enum Step {
    Continue,
    End(Ending),
}

/// How the loop ended, before the worker's exit is looked at.
enum Ending {
    /// The worker reported the attempt's end.
    Done(Outcome, JobStats),
    /// Its socket ended.
    Closed,
    /// The dispatcher asked for it to be killed.
    Killed(KillReason),
    /// The deadline passed.
    TimedOut,
    /// It broke the protocol.
    Broken { why: String, how: Burial },
}

/// What the supervisor measures over one attempt, to tell how it ended.
struct Watch {
    /// The group's OOM-kill counter when the worker started.
    oom_before: u64,
    peak: PeakMeter,
    timeout: Duration,
}

/// How a worker that ended with its attempt is put down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Burial {
    /// Its deadline passed: kill it, the attempt is a timeout.
    Timeout,
    /// It is alive and must go (it broke the protocol, or was cancelled or interrupted).
    KillNow,
    /// It may be dying on its own (its socket ended): give it a moment to be reaped with
    /// its real status before killing it.
    MayBeDying,
}

impl<H: AttemptHooks> Attempt<'_, H> {
    /// When the loop must wake up with nothing else happening.
    fn next_wake(&self) -> tokio::time::Instant {
        let wake = self.deadline.min(self.next_frame_check);
        match self.kill_at {
            Some((at, _)) => wake.min(at),
            None => wake,
        }
    }

    /// A command for the owner while the attempt runs.
    async fn on_command(&mut self, command: Option<SlotCommand>) -> Step {
        match command {
            Some(SlotCommand::Kill { job, reason }) if job == self.attempt => {
                if reason != KillReason::Cancelled || self.aborted.is_some() {
                    return Step::End(Ending::Killed(reason));
                }
                // A cancelled job's signal aborts first: the handler may stop its fetches
                // and end by itself before it is killed.
                if let Some(ending) = self.abort(AbortReason::Cancelled).await {
                    return ending;
                }
                self.kill_at = Some((tokio::time::Instant::now() + CANCEL_GRACE, reason));
            }
            Some(SlotCommand::Kill { .. }) => {}
            Some(SlotCommand::Stop { graceful: false }) => {
                self.then = AfterAttempt::Stop { graceful: false };
                return Step::End(Ending::Killed(KillReason::Interrupted));
            }
            Some(SlotCommand::Stop { graceful: true }) => {
                self.then = AfterAttempt::Stop { graceful: true };
                if self.aborted.is_none()
                    && let Some(ending) = self.abort(AbortReason::Shutdown).await
                {
                    return ending;
                }
            }
            None => {
                // Nobody can send another command: stop after this attempt.
                self.commands_open = false;
                self.then = AfterAttempt::Stop { graceful: true };
            }
            Some(SlotCommand::Recycle) => {
                if self.then == AfterAttempt::Continue {
                    self.then = AfterAttempt::Recycle;
                }
            }
            Some(SlotCommand::Run(other)) => self.hooks.hand_back(other.job.attempt_ref()),
        }
        Step::Continue
    }

    /// Aborts the job's signal for `reason`; an ending if the worker cannot be told.
    async fn abort(&mut self, reason: AbortReason) -> Option<Step> {
        self.aborted = Some(reason);
        let abort = ToWorker::Abort {
            job_id: self.attempt.id.0,
            attempt: self.attempt.attempt,
            reason,
        };
        match tokio::time::timeout_at(self.deadline, self.worker.conn.send(&abort)).await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(Step::End(Ending::Broken {
                why: format!("an abort could not be written: {err}"),
                how: Burial::MayBeDying,
            })),
            Err(_) => Some(Step::End(Ending::TimedOut)),
        }
    }

    /// The deadline, a kill that was put off, or the next look for a trickling frame.
    async fn on_timer(&mut self) -> Step {
        if tokio::time::Instant::now() >= self.deadline {
            return self.on_deadline().await;
        }
        if let Some((at, reason)) = self.kill_at
            && tokio::time::Instant::now() >= at
        {
            return Step::End(Ending::Killed(reason));
        }
        self.next_frame_check = tokio::time::Instant::now() + FRAME_CHECK_EVERY;
        let partial = self.worker.conn.partial_frame_bytes();
        if partial == 0 {
            self.partial_since = None;
            return Step::Continue;
        }
        let since = *self.partial_since.get_or_insert_with(Instant::now);
        if since.elapsed() < FRAME_DEADLINE {
            return Step::Continue;
        }
        Step::End(Ending::Broken {
            why: format!(
                "a frame was still incomplete after {FRAME_DEADLINE:?} ({partial} bytes arrived)"
            ),
            how: Burial::KillNow,
        })
    }

    /// The deadline has passed. What the worker sent may still wait in the socket: when the
    /// supervisor itself stalls (SIGSTOP, a paused host) its timer fires late, and results
    /// that arrived meanwhile are read before the job is called too slow. Bounded, so a
    /// worker that floods frames cannot put its deadline off.
    async fn on_deadline(&mut self) -> Step {
        if self.read_after_deadline >= READ_AFTER_DEADLINE {
            return Step::End(Ending::TimedOut);
        }
        match tokio::time::timeout(Duration::ZERO, self.worker.conn.recv()).await {
            Ok(frame) => {
                self.read_after_deadline += 1;
                self.on_frame(frame)
            }
            Err(_) => Step::End(Ending::TimedOut),
        }
    }

    /// A frame (or the end of the stream) from the worker.
    fn on_frame(&mut self, frame: Result<Option<FromWorker>, FrameError>) -> Step {
        let attempt = self.attempt;
        let ours = |job_id: i64, a: u32| job_id == attempt.id.0 && a == attempt.attempt;
        match frame {
            Ok(Some(FromWorker::Log {
                job_id,
                attempt: a,
                level,
                text,
            })) if ours(job_id, a) => {
                let text = match self.host.mask(&text) {
                    std::borrow::Cow::Borrowed(_) => text,
                    std::borrow::Cow::Owned(masked) => masked,
                };
                push_log(&mut self.logs, level, &text);
                self.hooks.console(attempt, level, text);
                Step::Continue
            }
            Ok(Some(FromWorker::Progress { .. } | FromWorker::Pong { .. })) => Step::Continue,
            Ok(Some(FromWorker::Done {
                job_id,
                attempt: a,
                outcome,
                stats,
            })) if ours(job_id, a) => Step::End(Ending::Done(outcome, stats)),
            Ok(Some(FromWorker::HostCall {
                job_id,
                attempt: a,
                call_id,
                op,
            })) if ours(job_id, a) => self.on_host_call(call_id, op),
            Ok(Some(other)) => Step::End(Ending::Broken {
                why: format!("sent {} for a job it does not run", message_name(&other)),
                how: Burial::KillNow,
            }),
            Ok(None) => Step::End(Ending::Closed),
            Err(FrameError::TooLarge { len, max }) if max == MAX_HOST_CALL_BYTES => {
                Step::End(Ending::Broken {
                    why: format!("sent a host call of {len} bytes; at most {max} are allowed"),
                    how: Burial::KillNow,
                })
            }
            Err(err) => {
                // A frame that arrived whole but is wrong comes from a live worker; a
                // broken stream may be a worker dying of something else.
                let how = match err {
                    FrameError::Io(_) | FrameError::Truncated { .. } => Burial::MayBeDying,
                    _ => Burial::KillNow,
                };
                Step::End(Ending::Broken {
                    why: err.to_string(),
                    how,
                })
            }
        }
    }

    /// A host call of this attempt: handed to the host service on a task of its own.
    fn on_host_call(&mut self, call_id: u64, op: HostOp) -> Step {
        if self.host_calls.len() >= MAX_HOST_CALLS_IN_FLIGHT {
            return Step::End(Ending::Broken {
                why: format!(
                    "sent a host call with {MAX_HOST_CALLS_IN_FLIGHT} unanswered; at most \
                     {MAX_HOST_CALLS_IN_FLIGHT} may be in flight"
                ),
                how: Burial::KillNow,
            });
        }
        if !self.host_call_ids.insert(call_id) {
            return Step::End(Ending::Broken {
                why: format!("sent host call {call_id} while a call with that id was in flight"),
                how: Burial::KillNow,
            });
        }
        let host = self.host.clone();
        self.host_calls
            .spawn(async move { (call_id, host.answer(call_id, op).await) });
        Step::Continue
    }

    /// The host service answered a call: the reply goes back to the worker. Writing it
    /// waits for the worker to read at most until the attempt's deadline.
    async fn on_host_answer(
        &mut self,
        answer: Result<(u64, HostResult), tokio::task::JoinError>,
    ) -> Step {
        let (call_id, result) = match answer {
            Ok(answered) => answered,
            Err(err) => {
                // The service panicked on this call; the worker still waits for a reply.
                tracing::error!(error = %err, "a host call failed inside the supervisor");
                return Step::End(Ending::Broken {
                    why: "a host call could not be answered".to_owned(),
                    how: Burial::KillNow,
                });
            }
        };
        self.host_call_ids.remove(&call_id);
        let reply = ToWorker::HostReply { call_id, result };
        match tokio::time::timeout_at(self.deadline, self.worker.conn.send(&reply)).await {
            Ok(Ok(())) => Step::Continue,
            Ok(Err(err)) => Step::End(Ending::Broken {
                why: format!("a host reply could not be written: {err}"),
                how: Burial::MayBeDying,
            }),
            Err(_) => Step::End(Ending::TimedOut),
        }
    }

    /// Turns the ending into the attempt's result; buries the worker unless it reported
    /// the end itself.
    async fn finish(mut self, ending: Ending) -> AttemptResult {
        let mut end = JobEnd {
            attempt: self.attempt,
            outcome: AttemptOutcome::Killed,
            result: None,
            error: None,
            logs: std::mem::take(&mut self.logs),
            logs_dropped: 0,
            stats: None,
            duration: self.started.elapsed(),
            worker_pid: self.worker.process.pid(),
            peak_memory: None,
            kill_reason: None,
            host: HostEffects::default(),
        };
        self.host_calls.abort_all();
        end.host = self.host.finish();
        let (how, ended_by_frame) = match ending {
            Ending::Done(outcome, stats) => return self.reported(end, outcome, stats),
            Ending::Broken { why, how } => {
                end.outcome = AttemptOutcome::ProtocolError(why);
                (how, true)
            }
            Ending::Killed(reason) => {
                end.kill_reason = Some(reason);
                (Burial::KillNow, false)
            }
            Ending::TimedOut => (Burial::Timeout, false),
            Ending::Closed => (Burial::MayBeDying, false),
        };
        self.worker.jobs = self.worker.jobs.saturating_add(u64::from(!ended_by_frame));
        self.bury(&mut end, how).await;
        if ended_by_frame {
            end.duration = self.started.elapsed();
        } else {
            info!(
                job = end.attempt.id.0,
                attempt = end.attempt.attempt,
                pid = end.worker_pid,
                outcome = %end.outcome,
                we_killed = how != Burial::MayBeDying,
                "worker ended with the job"
            );
        }
        AttemptResult {
            end,
            worker: WorkerFate::Gone,
            then: self.then,
            worker_error: None,
        }
    }

    /// The worker reported the attempt's end and lives on.
    fn reported(self, mut end: JobEnd, outcome: Outcome, stats: JobStats) -> AttemptResult {
        let worker = self.worker;
        worker.jobs = worker.jobs.saturating_add(1);
        let rss_before = worker.peak_rss;
        worker.peak_rss = worker.peak_rss.max(stats.max_rss_bytes);
        let mut worker_error = None;
        let host = &self.host;
        let mask = |text: String| match host.mask(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(masked) => masked,
        };
        match outcome {
            Outcome::Ok { result } => {
                end.outcome = AttemptOutcome::Completed;
                end.result = result.map(mask);
            }
            Outcome::Err(err) => {
                end.outcome = AttemptOutcome::from_worker_error(err.kind);
                worker_error = Some(err.kind);
                // The signal's reason, or a fetch it aborted, is an `AbortError`.
                let stopped_by_signal = err.name == "AbortError";
                end.error = Some((mask(err.name), mask(err.message), err.stack.map(mask)));
                // A job that failed with the abort of its signal stopped because it was
                // asked to: a drain requeues it. Any other failure during a drain is the
                // job's own and counts. After a cancel, the job ends cancelled either way.
                match self.aborted {
                    Some(AbortReason::Shutdown) if stopped_by_signal => {
                        end.kill_reason = Some(KillReason::Interrupted);
                    }
                    Some(AbortReason::Shutdown) => {}
                    Some(AbortReason::Cancelled) => {
                        end.kill_reason = Some(KillReason::Cancelled);
                        end.outcome = AttemptOutcome::Killed;
                    }
                    None => {}
                }
            }
        }
        end.logs_dropped = stats.logs_dropped;
        end.stats = Some(stats);
        let mut watch = self.watch;
        end.peak_memory = if self.group.enforces_memory() {
            self.group.peak_since(&mut watch.peak)
        } else {
            // The worker's own figure is its lifetime high: it is this attempt's only when
            // the attempt raised it.
            (stats.max_rss_bytes > rss_before).then_some(stats.max_rss_bytes)
        };
        debug!(
            outcome = end.outcome.as_str(),
            duration_us = end.duration.as_micros() as u64,
            "job ended"
        );
        AttemptResult {
            end,
            worker: WorkerFate::Alive,
            then: self.then,
            worker_error,
        }
    }

    /// Kills the worker (if alive), reaps it and classifies its death into `end`.
    async fn bury(&mut self, end: &mut JobEnd, how: Burial) {
        let group = self.group;
        let process = &mut self.worker.process;
        let killed_for_timeout = how == Burial::Timeout;
        let mut died_of_signal = false;
        let status = if how == Burial::MayBeDying {
            match tokio::time::timeout(DYING_WITHIN, process.wait()).await {
                Ok(Ok(status)) => {
                    died_of_signal =
                        std::os::unix::process::ExitStatusExt::signal(&status).is_some();
                    Some(status)
                }
                _ => process.kill_and_reap(group, REAP_WITHIN).await,
            }
        } else {
            process.kill_and_reap(group, REAP_WITHIN).await
        };
        group.kill_all(EMPTY_GROUP_WITHIN).await;
        let stderr = std::mem::replace(
            &mut self.worker.stderr,
            tokio::spawn(async { String::new() }),
        );
        let tail = tokio::time::timeout(STDERR_WITHIN, stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        end.peak_memory = group.peak_since(&mut self.watch.peak);
        let oom_kills = group.oom_kills().saturating_sub(self.watch.oom_before);
        // A worker that sent garbage and exited is a protocol error; one whose socket broke
        // because a signal killed it (the read may fail with a reset instead of a clean
        // end) died of that signal.
        let protocol_broken =
            matches!(end.outcome, AttemptOutcome::ProtocolError(_)) && !died_of_signal;
        if protocol_broken {
            if oom_kills > 0 {
                end.outcome = AttemptOutcome::Oom;
            }
        } else if let Some(status) = status {
            end.outcome = classify_exit(ExitFacts {
                status,
                killed_for_timeout,
                oom_kills,
                stderr_tail: &tail,
            });
        } else if killed_for_timeout {
            end.outcome = AttemptOutcome::Timeout;
        }
        // A kill the dispatcher asked for is that, whatever the exit looked like; only
        // the memory limit striking first says otherwise.
        if end.kill_reason.is_some() && end.outcome != AttemptOutcome::Oom {
            end.outcome = AttemptOutcome::Killed;
        }
        let killer = if killed_for_timeout {
            Killer::Deadline
        } else {
            match end.kill_reason {
                Some(KillReason::Cancelled) => Killer::Cancel,
                Some(KillReason::Interrupted) => Killer::Stop,
                None => Killer::Outside,
            }
        };
        let seen = Observed {
            outcome: &end.outcome,
            timeout: self.watch.timeout,
            memory_limit: group.memory_limit(),
            limiter: group.mode(),
            peak_memory: end.peak_memory,
            signal: status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
            killer: Some(killer),
            stderr_tail: &tail,
        };
        if let Some((name, message)) = observed_failure(&seen) {
            end.error = Some((name.to_owned(), message, None));
        }
    }
}

/// The name a console level is stored and shown with.
pub fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Appends one console line as a JSON line.
fn push_log(logs: &mut String, level: LogLevel, text: &str) {
    let line = serde_json::json!({ "level": level_name(level), "text": text });
    logs.push_str(&line.to_string());
    logs.push('\n');
}
