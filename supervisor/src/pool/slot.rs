//! One worker slot: an actor task that owns one `jobvisor-worker` process at a time, runs
//! the jobs the dispatcher assigns, enforces each job's deadline on the monotonic clock,
//! and replaces its worker when it dies, is recycled, or fails to start.
//!
//! States ([`Phase`]): Starting → Idle → Busy{job, deadline} → Terminating → Exited, with
//! Backoff between a failed worker and the next start. Only an Idle slot takes a job: a
//! `Run` that reaches it in any other phase is handed back ([`SlotEvent::Returned`]), so
//! every `Run` ends in exactly one `JobEnded` or `Returned` (or the slot's `Stopped`). It
//! owns no job state beyond the one job in hand, and never touches the store: everything
//! it learns goes to the dispatcher as a [`SlotEvent`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobvisor_protocol::FrameError;
use jobvisor_protocol::worker::{
    FromWorker, Isolation, JobLimits, JobStats, LogLevel, Outcome, RunJob, ScriptRef, ToWorker,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, debug_span, info, info_span, warn};

use super::connection::{WorkerConnection, message_name};
use super::exit::{AttemptOutcome, ExitFacts, Killer, Observed, classify_exit, observed_failure};
use super::process::{WorkerProcess, stderr_tail};
use super::restart::{RestartPolicy, RestartTracker};
use super::spawn::SpawnSpec;
use super::spawner::Spawner;
use crate::cgroup::{PeakMeter, WorkerGroup};
use crate::failpoint;
use crate::store::{AttemptRef, ClaimedJob};

/// How much of a worker's stderr is kept to classify its death.
const STDERR_KEEP: usize = 16 * 1024;
/// A frame that has begun must be complete within this long: a worker writes a whole
/// frame at once, so one that trickles bytes is broken or hostile, whatever its deadline.
const FRAME_DEADLINE: Duration = Duration::from_secs(2);
/// How often a busy slot looks for a trickling frame.
const FRAME_CHECK_EVERY: Duration = Duration::from_millis(500);
/// An idle worker is pinged this often and must answer within [`PONG_WITHIN`]; one that
/// does not (stopped, wedged) is killed and replaced before it is given a job.
const PING_EVERY: Duration = Duration::from_secs(5);
const PONG_WITHIN: Duration = Duration::from_secs(2);
/// Frames already waiting in the socket that are still read once a job's deadline has
/// passed (see `run_job`).
const READ_AFTER_DEADLINE: u32 = 4096;

/// Everything a slot needs to run workers.
#[derive(Debug, Clone)]
pub struct SlotConfig {
    pub id: u32,
    pub spec: SpawnSpec,
    pub group: Arc<WorkerGroup>,
    pub settings: SlotSettings,
    pub pids: crate::reaper::WorkerPids,
    /// Console lines go here too while someone follows the logs.
    pub events: tokio::sync::broadcast::Sender<jobvisor_protocol::control::Event>,
}

/// What a slot takes from the config (built from it: `SlotSettings::from(&config)`).
#[derive(Debug, Clone)]
pub struct SlotSettings {
    pub start_timeout: Duration,
    pub kill_grace: Duration,
    pub restart: RestartPolicy,
    pub max_jobs_per_worker: u64,
    pub rss_soft_limit: u64,
    pub limits: JobLimits,
    pub isolation: Isolation,
    pub default_timeout: Duration,
}

/// A job handed to a slot.
#[derive(Debug)]
pub struct Assignment {
    pub job: ClaimedJob,
    pub source: Arc<str>,
}

/// Why the dispatcher kills a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// An operator cancelled the job.
    Cancelled,
    /// The drain timeout passed (or a second signal came): the attempt is refunded.
    Interrupted,
}

/// Dispatcher → slot.
#[derive(Debug)]
pub enum SlotCommand {
    /// Run this job. Answered by `JobEnded` once it ran, or by `Returned` at once if the
    /// slot is not idle when the command reaches it.
    Run(Box<Assignment>),
    /// Kill the job in hand, if it is this one.
    Kill { job: AttemptRef, reason: KillReason },
    /// Replace the worker between jobs (after the job in hand, if any).
    Recycle,
    /// Stop the worker and end the slot: after the job in hand if `graceful`, else now.
    Stop { graceful: bool },
}

/// The state a slot reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Starting,
    Idle,
    Busy,
    Terminating,
    /// Waiting before the next start after failures.
    Backoff,
    Exited,
}

impl SlotState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotState::Starting => "starting",
            SlotState::Idle => "idle",
            SlotState::Busy => "busy",
            SlotState::Terminating => "terminating",
            SlotState::Backoff => "backoff",
            SlotState::Exited => "exited",
        }
    }
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
}

/// Slot → dispatcher.
#[derive(Debug)]
pub enum SlotEvent {
    State {
        slot: u32,
        state: SlotState,
        pid: Option<u32>,
    },
    JobEnded {
        slot: u32,
        end: Box<JobEnd>,
    },
    /// The worker failed on its own (would not start, died idle). `degraded` says the
    /// slot is past its restart intensity.
    WorkerFailed {
        slot: u32,
        reason: String,
        retry_in: Duration,
        degraded: bool,
    },
    /// The slot ended (after `Stop`).
    Stopped {
        slot: u32,
    },
    /// A `Run` reached the slot while it could not run it (its worker had just died, it
    /// was backing off or busy): the job never started and goes back to the queue. `state`
    /// is where the slot is now.
    Returned {
        slot: u32,
        job: AttemptRef,
        state: SlotState,
    },
}

/// Starts a slot task.
pub fn start_slot(
    config: SlotConfig,
    spawner: Spawner,
    events: mpsc::UnboundedSender<SlotEvent>,
) -> (mpsc::UnboundedSender<SlotCommand>, JoinHandle<()>) {
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let span = info_span!("slot", worker = config.id);
    let slot = Slot {
        restarts: RestartTracker::new(config.settings.restart),
        config,
        spawner,
        events,
        commands,
        phase: Phase::Starting,
    };
    let id = slot.config.id;
    let events = slot.events.clone();
    let task = tokio::spawn(slot.run().instrument(span));
    // A slot task only ends after `Stop`; if it dies of a bug, the dispatcher must know
    // so the job it held goes back to the queue.
    let watcher = tokio::spawn(async move {
        if let Err(err) = task.await
            && err.is_panic()
        {
            tracing::error!(
                worker = id,
                "worker slot task panicked; the slot is out of service"
            );
            let _ = events.send(SlotEvent::State {
                slot: id,
                state: SlotState::Exited,
                pid: None,
            });
            let _ = events.send(SlotEvent::Stopped { slot: id });
        }
    });
    (commands_tx, watcher)
}

struct Slot {
    config: SlotConfig,
    spawner: Spawner,
    events: mpsc::UnboundedSender<SlotEvent>,
    commands: mpsc::UnboundedReceiver<SlotCommand>,
    restarts: RestartTracker,
    phase: Phase,
}

/// Where a slot is, with what it holds there. Every change goes through
/// [`Slot::enter`], which reports it to the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Idle,
    Busy {
        job: AttemptRef,
        /// When the job is killed (its timeout plus the kill grace).
        deadline: tokio::time::Instant,
    },
    Terminating,
    Backoff {
        until: tokio::time::Instant,
    },
    Exited,
}

impl Phase {
    fn reported(self) -> SlotState {
        match self {
            Phase::Starting => SlotState::Starting,
            Phase::Idle => SlotState::Idle,
            Phase::Busy { .. } => SlotState::Busy,
            Phase::Terminating => SlotState::Terminating,
            Phase::Backoff { .. } => SlotState::Backoff,
            Phase::Exited => SlotState::Exited,
        }
    }
}

/// A live worker.
struct Live {
    process: WorkerProcess,
    conn: WorkerConnection,
    stderr: JoinHandle<String>,
    held_scripts: HashSet<String>,
    jobs: u64,
    peak_rss: u64,
    /// Replace this worker after the job in hand.
    recycle: bool,
    /// The group's OOM-kill counter when this worker started.
    oom_kills_at_start: u64,
}

/// What happened to the worker while a job ran.
enum Fate {
    /// Still healthy.
    Alive,
    /// It died or was killed: start a new one.
    Gone,
}

impl Slot {
    fn emit(&self, event: SlotEvent) {
        let _ = self.events.send(event);
    }

    /// Moves to `phase` and reports it.
    fn enter(&mut self, phase: Phase, pid: Option<u32>) {
        self.phase = phase;
        let state = phase.reported();
        match state {
            SlotState::Idle | SlotState::Busy => {
                tracing::trace!(state = state.as_str(), pid, "worker state")
            }
            _ => info!(state = state.as_str(), pid, "worker state"),
        }
        let now = tokio::time::Instant::now();
        match phase {
            Phase::Busy { job, deadline } => {
                let deadline_in = deadline.saturating_duration_since(now);
                tracing::trace!(job = job.id.0, attempt = job.attempt, ?deadline_in, "busy");
            }
            Phase::Backoff { until } => {
                let start_in = until.saturating_duration_since(now);
                debug!(?start_in, "next worker start");
            }
            _ => {}
        }
        self.emit(SlotEvent::State {
            slot: self.config.id,
            state,
            pid,
        });
    }

    /// Hands back a job that reached the slot when it is not idle: the dispatcher may
    /// have assigned it just before learning that the worker died. Dropping it would
    /// leave the job `running` with no worker and the slot counted busy for ever.
    fn hand_back(&self, job: AttemptRef) {
        let state = self.phase.reported();
        info!(
            job = job.id.0,
            attempt = job.attempt,
            state = state.as_str(),
            "a job reached this worker slot while it cannot run it; handing it back"
        );
        self.emit(SlotEvent::Returned {
            slot: self.config.id,
            job,
            state,
        });
    }

    async fn run(mut self) {
        let mut wait_before_start = Duration::ZERO;
        loop {
            if !wait_before_start.is_zero() {
                let until = tokio::time::Instant::now() + wait_before_start;
                self.enter(Phase::Backoff { until }, None);
                loop {
                    tokio::select! {
                        () = tokio::time::sleep_until(until) => break,
                        command = self.commands.recv() => match command {
                            None | Some(SlotCommand::Stop { .. }) => return self.stopped(),
                            Some(SlotCommand::Run(assignment)) => self.hand_back(assignment.job.attempt_ref()),
                            // Nothing runs, so there is nothing to kill or recycle.
                            Some(SlotCommand::Kill { .. } | SlotCommand::Recycle) => {}
                        },
                    }
                }
            }
            self.enter(Phase::Starting, None);
            let mut live = match self.start_worker().await {
                Ok(live) => live,
                Err(reason) => {
                    wait_before_start = self.worker_failed(reason);
                    continue;
                }
            };
            let pid = live.process.pid();
            info!(pid, "worker ready");
            self.restarts.record_success();
            self.enter(Phase::Idle, Some(pid));
            match self.serve(&mut live).await {
                ServeEnd::Replace => {
                    wait_before_start = Duration::ZERO;
                }
                ServeEnd::Failed(reason) => {
                    wait_before_start = self.worker_failed(reason);
                }
                ServeEnd::Stop { graceful } => {
                    self.retire(live, graceful).await;
                    return self.stopped();
                }
            }
        }
    }

    fn stopped(&mut self) {
        self.enter(Phase::Exited, None);
        self.emit(SlotEvent::Stopped {
            slot: self.config.id,
        });
    }

    fn worker_failed(&mut self, reason: String) -> Duration {
        let now = Instant::now();
        let retry_in = self.restarts.record_failure(now);
        let degraded = self.restarts.degraded(now);
        warn!(%reason, retry_in_ms = retry_in.as_millis() as u64, degraded, "worker failed");
        self.emit(SlotEvent::WorkerFailed {
            slot: self.config.id,
            reason,
            retry_in,
            degraded,
        });
        retry_in
    }

    async fn start_worker(&mut self) -> Result<Live, String> {
        let group = &self.config.group;
        // Anything left in the group from the previous worker goes first, and what it
        // left charged to the group with it.
        group.kill_all(Duration::from_secs(1));
        group.forget_earlier_workers();
        let spawned = self
            .spawner
            .spawn(self.config.spec.clone(), group.clone())
            .await
            .map_err(|e| format!("cannot start {}: {e}", self.config.spec.program.display()))?;
        let mut process = WorkerProcess::new(spawned.child, self.config.pids.clone());
        let stderr = tokio::spawn(stderr_tail(process.take_stderr(), STDERR_KEEP));
        match WorkerConnection::establish(spawned.socket, self.config.settings.start_timeout).await
        {
            Ok(conn) => Ok(Live {
                process,
                conn,
                stderr,
                held_scripts: HashSet::new(),
                jobs: 0,
                peak_rss: 0,
                recycle: false,
                oom_kills_at_start: group.oom_kills(),
            }),
            Err(err) => {
                let status = process.kill_and_reap(group, Duration::from_secs(2)).await;
                let tail = tokio::time::timeout(Duration::from_millis(200), stderr)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let last = tail
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                Err(format!(
                    "worker {} failed to start: {err}{}{}",
                    process.pid(),
                    status.map(|s| format!(" ({s})")).unwrap_or_default(),
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!("; stderr: {last}")
                    }
                ))
            }
        }
    }

    /// Serves commands with a live worker until it must be replaced or stopped.
    async fn serve(&mut self, live: &mut Live) -> ServeEnd {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ping_seq: u64 = 0;
        // The ping awaiting its pong, and by when.
        let mut awaiting: Option<(u64, tokio::time::Instant)> = None;
        loop {
            let pong_deadline = awaiting.map(|(_, by)| by);
            tokio::select! {
                // A worker that died is noticed before a job that arrived at the same time
                // is sent to it.
                biased;
                frame = live.conn.recv() => {
                    if let Ok(Some(FromWorker::Pong { seq })) = &frame
                        && awaiting.is_some_and(|(expected, _)| expected == *seq)
                    {
                        awaiting = None;
                        continue;
                    }
                    // An idle worker has nothing else to say; anything here means it broke
                    // or died.
                    let reason = match frame {
                        Ok(None) => "the worker closed its socket while idle".to_owned(),
                        Ok(Some(message)) => format!("the worker sent {} while idle", message_name(&message)),
                        Err(err) => format!("bad frame from an idle worker: {err}"),
                    };
                    let status = live.process.kill_and_reap(&self.config.group, Duration::from_secs(2)).await;
                    return ServeEnd::Failed(format!("{reason} ({})", exit_text(status)));
                }
                command = self.commands.recv() => match command {
                    None => return ServeEnd::Stop { graceful: true },
                    Some(SlotCommand::Stop { graceful }) => return ServeEnd::Stop { graceful },
                    Some(SlotCommand::Recycle) => {
                        self.retire_for_replacement(live).await;
                        return ServeEnd::Replace;
                    }
                    Some(SlotCommand::Kill { .. }) => {}
                    Some(SlotCommand::Run(assignment)) => {
                        // The worker may have died an instant ago, its closed socket not
                        // yet read: the job was never its to run.
                        if let Some(status) = live.process.try_reap() {
                            self.hand_back(assignment.job.attempt_ref());
                            return ServeEnd::Failed(format!("the worker died while idle ({status})"));
                        }
                        // A pong still owed arrives during the job and is ignored there.
                        awaiting = None;
                        let (end, fate, after) = match self.run_job(live, *assignment).await {
                            Ok(ran) => ran,
                            Err(reason) => return ServeEnd::Failed(reason),
                        };
                        self.emit(SlotEvent::JobEnded { slot: self.config.id, end: Box::new(end) });
                        if let Some(graceful) = after {
                            return ServeEnd::Stop { graceful };
                        }
                        if let Fate::Gone = fate {
                            return ServeEnd::Replace;
                        }
                        if live.recycle
                            || live.jobs >= self.config.settings.max_jobs_per_worker
                            || live.peak_rss > self.config.settings.rss_soft_limit
                        {
                            info!(pid = live.process.pid(), jobs = live.jobs, peak_rss = live.peak_rss, "recycling worker");
                            self.retire_for_replacement(live).await;
                            return ServeEnd::Replace;
                        }
                        self.enter(Phase::Idle, Some(live.process.pid()));
                        ping.reset();
                    }
                },
                _ = ping.tick(), if awaiting.is_none() => {
                    ping_seq += 1;
                    if live.conn.send(&ToWorker::Ping { seq: ping_seq }).await.is_ok() {
                        awaiting = Some((ping_seq, tokio::time::Instant::now() + PONG_WITHIN));
                    }
                }
                () = async {
                    match pong_deadline {
                        Some(by) => tokio::time::sleep_until(by).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let status = live.process.kill_and_reap(&self.config.group, Duration::from_secs(2)).await;
                    return ServeEnd::Failed(format!("no answer to a health ping within {PONG_WITHIN:?} while idle (stopped or wedged); killed ({})", exit_text(status)));
                }
            }
        }
    }

    /// Runs one job. Returns what happened, whether the worker survived, and whether a
    /// stop was requested while it ran; or, if the job could not even be sent (the worker
    /// died first), hands the job back and returns why the worker failed.
    async fn run_job(
        &mut self,
        live: &mut Live,
        assignment: Assignment,
    ) -> Result<(JobEnd, Fate, Option<bool>), String> {
        let job = assignment.job;
        let attempt = job.attempt_ref();
        // Debug level: a span per job costs more than a trivial job's own dispatch, so
        // the few lines logged here at info and above name the job themselves.
        let span = debug_span!(
            "job",
            job = attempt.id.0,
            attempt = attempt.attempt,
            pid = live.process.pid()
        );
        let _entered = span.enter();
        let started = Instant::now();
        let timeout = job.timeout.unwrap_or(self.config.settings.default_timeout);
        let deadline =
            tokio::time::Instant::from_std(started + timeout + self.config.settings.kill_grace);
        self.enter(
            Phase::Busy {
                job: attempt,
                deadline,
            },
            Some(live.process.pid()),
        );
        let mut watch = Watch {
            // Read once per worker, not per job: the group holds only this worker, so any
            // OOM kill counted since it started is its own death.
            oom_before: live.oom_kills_at_start,
            peak: self.config.group.start_peak(),
            timeout,
        };
        let send_source = !live.held_scripts.contains(&job.script_hash);
        let run = RunJob {
            job_id: attempt.id.0,
            attempt: attempt.attempt,
            max_attempts: job.max_attempts,
            queue: job.queue.clone(),
            script: ScriptRef {
                name: job.script_name.clone(),
                hash: job.script_hash.clone(),
                source: send_source.then(|| assignment.source.to_string()),
            },
            payload: job.payload,
            deadline_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            limits: self.config.settings.limits,
            isolation: self.config.settings.isolation,
        };
        let mut logs = String::new();
        let worker_pid = live.process.pid();
        let end = |outcome: AttemptOutcome| JobEnd {
            attempt,
            outcome,
            result: None,
            error: None,
            logs: String::new(),
            logs_dropped: 0,
            stats: None,
            duration: Duration::ZERO,
            worker_pid,
            peak_memory: None,
            kill_reason: None,
        };
        if let Err(err) = live.conn.send(&ToWorker::Run(run)).await {
            // The worker died before the job reached it: not the job's fault.
            self.enter(Phase::Terminating, Some(worker_pid));
            let status = live
                .process
                .kill_and_reap(&self.config.group, Duration::from_secs(2))
                .await;
            self.config.group.kill_all(Duration::from_millis(500));
            self.hand_back(attempt);
            return Err(format!(
                "the worker could not be sent a job: {err} ({})",
                exit_text(status)
            ));
        }
        failpoint::hit(failpoint::AFTER_DISPATCH);
        if send_source {
            live.held_scripts.insert(job.script_hash.clone());
        }
        let mut stop_after: Option<bool> = None;
        let mut kill_reason: Option<KillReason> = None;
        let mut killed_for_timeout = false;
        // One timer per wake-up serves both the deadline and the trickling-frame check.
        let mut next_frame_check = tokio::time::Instant::now() + FRAME_CHECK_EVERY;
        let mut partial_since: Option<Instant> = None;
        let mut read_after_deadline = 0;
        let done: Option<(Outcome, JobStats)> = loop {
            let frame = tokio::select! {
                biased;
                command = self.commands.recv() => { match command {
                    Some(SlotCommand::Kill { job: target, reason }) if target == attempt => {
                        kill_reason = Some(reason);
                        break None;
                    }
                    Some(SlotCommand::Kill { .. }) => {}
                    Some(SlotCommand::Stop { graceful: false }) => {
                        kill_reason = Some(KillReason::Interrupted);
                        stop_after = Some(false);
                        break None;
                    }
                    Some(SlotCommand::Stop { graceful: true }) | None => stop_after = Some(true),
                    Some(SlotCommand::Recycle) => live.recycle = true,
                    Some(SlotCommand::Run(other)) => self.hand_back(other.job.attempt_ref()),
                } continue; }
                () = tokio::time::sleep_until(deadline.min(next_frame_check)) => {
                    if tokio::time::Instant::now() >= deadline {
                        // What the worker sent may still wait in the socket: when the
                        // supervisor itself stalls (SIGSTOP, a paused host) its timer fires
                        // late, and results that arrived meanwhile are read before the job
                        // is called too slow. Bounded, so a worker that floods frames
                        // cannot put its deadline off.
                        match tokio::time::timeout(Duration::ZERO, live.conn.recv()).await {
                            Ok(frame) if read_after_deadline < READ_AFTER_DEADLINE => {
                                read_after_deadline += 1;
                                frame
                            }
                            _ => {
                                killed_for_timeout = true;
                                break None;
                            }
                        }
                    } else {
                    next_frame_check = tokio::time::Instant::now() + FRAME_CHECK_EVERY;
                    let partial = live.conn.partial_frame_bytes();
                    if partial == 0 {
                        partial_since = None;
                        continue;
                    }
                    let since = *partial_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= FRAME_DEADLINE {
                        let why = format!("a frame was still incomplete after {FRAME_DEADLINE:?} ({partial} bytes arrived)");
                        let mut job_end = end(AttemptOutcome::ProtocolError(why));
                        job_end.logs = logs;
                        self.bury(live, &mut job_end, &mut watch, Burial::KillNow).await;
                        job_end.duration = started.elapsed();
                        return Ok((job_end, Fate::Gone, stop_after));
                    }
                    continue;
                    }
                }
                frame = live.conn.recv() => frame,
            };
            match frame {
                Ok(Some(FromWorker::Log {
                    job_id,
                    attempt: a,
                    level,
                    text,
                })) if job_id == attempt.id.0 && a == attempt.attempt => {
                    let level = push_log(&mut logs, level, &text);
                    if self.config.events.receiver_count() > 0 {
                        let _ = self.config.events.send(jobvisor_protocol::control::Event {
                            at_ms: now_ms(),
                            kind: jobvisor_protocol::control::EventKind::Console {
                                job: job_id,
                                attempt: a,
                                level: level.to_owned(),
                                text,
                            },
                        });
                    }
                }
                Ok(Some(FromWorker::Progress { .. } | FromWorker::Pong { .. })) => {}
                Ok(Some(FromWorker::Done {
                    job_id,
                    attempt: a,
                    outcome,
                    stats,
                })) if job_id == attempt.id.0 && a == attempt.attempt => {
                    break Some((outcome, stats));
                }
                Ok(Some(other)) => {
                    let why = format!("sent {} for a job it does not run", message_name(&other));
                    let mut job_end = end(AttemptOutcome::ProtocolError(why));
                    job_end.logs = logs;
                    self.bury(live, &mut job_end, &mut watch, Burial::KillNow)
                        .await;
                    job_end.duration = started.elapsed();
                    return Ok((job_end, Fate::Gone, stop_after));
                }
                Ok(None) => break None,
                Err(err) => {
                    // A frame that arrived whole but is wrong comes from a live worker;
                    // a broken stream may be a worker dying of something else.
                    let how = match err {
                        FrameError::Io(_) | FrameError::Truncated { .. } => Burial::MayBeDying,
                        _ => Burial::KillNow,
                    };
                    let mut job_end = end(AttemptOutcome::ProtocolError(err.to_string()));
                    job_end.logs = logs;
                    self.bury(live, &mut job_end, &mut watch, how).await;
                    job_end.duration = started.elapsed();
                    return Ok((job_end, Fate::Gone, stop_after));
                }
            }
        };
        let duration = started.elapsed();
        live.jobs = live.jobs.saturating_add(1);
        match done {
            Some((outcome, stats)) => {
                let rss_before = live.peak_rss;
                live.peak_rss = live.peak_rss.max(stats.max_rss_bytes);
                let mut job_end = match outcome {
                    Outcome::Ok { result } => {
                        let mut e = end(AttemptOutcome::Completed);
                        e.result = result;
                        e
                    }
                    Outcome::Err(err) => {
                        let mut e = end(AttemptOutcome::from_worker_error(err.kind));
                        e.error = Some((err.name, err.message, err.stack));
                        e
                    }
                };
                job_end.logs = logs;
                job_end.logs_dropped = stats.logs_dropped;
                job_end.stats = Some(stats);
                job_end.duration = duration;
                job_end.peak_memory = if self.config.group.enforces_memory() {
                    self.config.group.peak_since(&mut watch.peak)
                } else {
                    // The worker's own figure is its lifetime high: it is this attempt's
                    // only when the attempt raised it.
                    (stats.max_rss_bytes > rss_before).then_some(stats.max_rss_bytes)
                };
                debug!(
                    outcome = job_end.outcome.as_str(),
                    duration_us = duration.as_micros() as u64,
                    "job ended"
                );
                Ok((job_end, Fate::Alive, stop_after))
            }
            None => {
                // Killed by us (deadline, cancel, drain) or died on its own.
                let mut job_end = end(AttemptOutcome::Killed);
                job_end.logs = logs;
                job_end.kill_reason = kill_reason;
                let we_killed = kill_reason.is_some() || killed_for_timeout;
                let how = if killed_for_timeout {
                    Burial::Timeout
                } else if kill_reason.is_some() {
                    Burial::KillNow
                } else {
                    Burial::MayBeDying
                };
                self.bury(live, &mut job_end, &mut watch, how).await;
                job_end.duration = duration;
                info!(
                    job = attempt.id.0,
                    attempt = attempt.attempt,
                    pid = job_end.worker_pid,
                    outcome = %job_end.outcome,
                    we_killed,
                    "worker ended with the job"
                );
                Ok((job_end, Fate::Gone, stop_after))
            }
        }
    }

    /// Kills the worker (if alive), reaps it and classifies its death into `job_end`.
    async fn bury(&self, live: &mut Live, job_end: &mut JobEnd, watch: &mut Watch, how: Burial) {
        let group = &self.config.group;
        let killed_for_timeout = how == Burial::Timeout;
        let mut died_of_signal = false;
        let status = if how != Burial::MayBeDying {
            live.process
                .kill_and_reap(group, Duration::from_secs(2))
                .await
        } else {
            // It may be dying on its own (OOM kill, abort, a SIGKILL from outside): give it
            // a moment to be reaped with its real status before killing.
            match tokio::time::timeout(Duration::from_millis(500), live.process.wait()).await {
                Ok(Ok(status)) => {
                    died_of_signal =
                        std::os::unix::process::ExitStatusExt::signal(&status).is_some();
                    Some(status)
                }
                _ => {
                    live.process
                        .kill_and_reap(group, Duration::from_secs(2))
                        .await
                }
            }
        };
        group.kill_all(Duration::from_millis(500));
        let stderr = std::mem::replace(&mut live.stderr, tokio::spawn(async { String::new() }));
        let tail = tokio::time::timeout(Duration::from_millis(200), stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        job_end.peak_memory = group.peak_since(&mut watch.peak);
        let oom_kills = group.oom_kills().saturating_sub(watch.oom_before);
        // A worker that sent garbage and exited is a protocol error; one whose socket broke
        // because a signal killed it (the read may fail with a reset instead of a clean
        // end) died of that signal.
        let protocol_broken =
            matches!(job_end.outcome, AttemptOutcome::ProtocolError(_)) && !died_of_signal;
        if protocol_broken {
            if oom_kills > 0 {
                job_end.outcome = AttemptOutcome::Oom;
            }
        } else if let Some(status) = status {
            job_end.outcome = classify_exit(ExitFacts {
                status,
                killed_for_timeout,
                oom_kills,
                stderr_tail: &tail,
            });
        } else if killed_for_timeout {
            job_end.outcome = AttemptOutcome::Timeout;
        }
        // A kill the dispatcher asked for is that, whatever the exit looked like; only
        // the memory limit striking first says otherwise.
        if job_end.kill_reason.is_some() && job_end.outcome != AttemptOutcome::Oom {
            job_end.outcome = AttemptOutcome::Killed;
        }
        let killer = if killed_for_timeout {
            Some(Killer::Deadline)
        } else {
            match job_end.kill_reason {
                Some(KillReason::Cancelled) => Some(Killer::Cancel),
                Some(KillReason::Interrupted) => Some(Killer::Stop),
                None => Some(Killer::Outside),
            }
        };
        let seen = Observed {
            outcome: &job_end.outcome,
            timeout: watch.timeout,
            memory_limit: group.memory_limit(),
            limiter: group.mode(),
            peak_memory: job_end.peak_memory,
            signal: status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
            killer,
            stderr_tail: &tail,
        };
        if let Some((name, message)) = observed_failure(&seen) {
            job_end.error = Some((name.to_owned(), message, None));
        }
    }

    /// Shuts a healthy worker down between jobs so a new one can start.
    async fn retire_for_replacement(&mut self, live: &mut Live) {
        let pid = live.process.pid();
        self.enter(Phase::Terminating, Some(pid));
        let _ = live.conn.send(&ToWorker::Shutdown).await;
        if tokio::time::timeout(Duration::from_secs(2), live.process.wait())
            .await
            .is_err()
        {
            live.process
                .kill_and_reap(&self.config.group, Duration::from_secs(2))
                .await;
        }
        self.config.group.kill_all(Duration::from_millis(500));
    }

    /// Stops the worker for good.
    async fn retire(&mut self, mut live: Live, graceful: bool) {
        if graceful {
            self.retire_for_replacement(&mut live).await;
        } else {
            self.enter(Phase::Terminating, Some(live.process.pid()));
            live.process
                .kill_and_reap(&self.config.group, Duration::from_secs(2))
                .await;
            self.config.group.kill_all(Duration::from_millis(500));
        }
    }
}

enum ServeEnd {
    Replace,
    Failed(String),
    Stop { graceful: bool },
}

/// Appends one console line as a JSON line; returns the level's name.
fn push_log(logs: &mut String, level: LogLevel, text: &str) -> &'static str {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let line = serde_json::json!({ "level": level, "text": text });
    logs.push_str(&line.to_string());
    logs.push('\n');
    level
}

/// How a worker's process ended, for a log line.
fn exit_text(status: Option<std::process::ExitStatus>) -> String {
    status.map_or_else(|| "did not exit".to_owned(), |s| s.to_string())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What a slot measures over one attempt, to tell how it ended.
struct Watch {
    /// The group's OOM-kill counter when the worker started.
    oom_before: u64,
    peak: PeakMeter,
    timeout: Duration,
}

/// How a worker that ended with its job is put down.
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
