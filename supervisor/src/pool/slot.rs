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

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobvisor_protocol::worker::{
    FromWorker, Isolation, JobLimits, LogLevel, RunJob, ScriptRef, ToWorker,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, debug_span, info, info_span, warn};

pub use super::attempt::JobEnd;
use super::attempt::{
    AfterAttempt, AttemptHooks, AttemptResult, AttemptRun, AttemptSpec, LiveWorker, STDERR_KEEP,
    WorkerFate, run_attempt,
};
use super::connection::{WorkerConnection, message_name};
use super::launch::{Confinement, WorkerLauncher};
use super::process::{WorkerProcess, stderr_tail};
use super::restart::{RestartPolicy, RestartTracker};
use super::spawn::SpawnSpec;
use crate::cgroup::WorkerGroup;
use crate::host::HostService;
use crate::store::{AttemptRef, ClaimedJob};

/// An idle worker is pinged this often and must answer within [`PONG_WITHIN`]; one that
/// does not (stopped, wedged) is killed and replaced before it is given a job.
const PING_EVERY: Duration = Duration::from_secs(5);
const PONG_WITHIN: Duration = Duration::from_secs(2);

/// Everything a slot needs to run workers.
#[derive(Debug, Clone)]
pub struct SlotConfig {
    pub id: u32,
    pub spec: SpawnSpec,
    /// Answers the host calls of the jobs this slot runs.
    pub host: HostService,
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
    /// `ctx.signal` aborts this long before a job's timeout (at most half of it).
    pub signal_margin: Duration,
    /// The `[[script]]` names with `node_compat = true`: every version of such a script
    /// runs with the node compatibility globals.
    pub node_compat_scripts: Arc<BTreeSet<String>>,
}

/// How long before a job's `timeout` its signal aborts: `margin`, at most half the
/// timeout, so that a short job is not told to stop as it starts.
pub fn signal_margin_ms(margin: Duration, timeout: Duration) -> u64 {
    u64::try_from(margin.min(timeout / 2).as_millis()).unwrap_or(u64::MAX)
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
    launcher: Arc<dyn WorkerLauncher>,
    events: mpsc::UnboundedSender<SlotEvent>,
) -> (mpsc::UnboundedSender<SlotCommand>, JoinHandle<()>) {
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let span = info_span!("slot", worker = config.id);
    let slot = Slot {
        restarts: RestartTracker::new(config.settings.restart),
        config,
        launcher,
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
    launcher: Arc<dyn WorkerLauncher>,
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

/// A live worker and what the slot remembers about it.
struct Live {
    worker: LiveWorker,
    held_scripts: HashSet<String>,
    /// Replace this worker after the job in hand.
    recycle: bool,
}

/// What a slot does with what it hears while an attempt runs.
struct SlotHooks<'a> {
    slot: u32,
    events: &'a mpsc::UnboundedSender<SlotEvent>,
    /// Console lines go here too while someone follows the logs.
    console: &'a tokio::sync::broadcast::Sender<jobvisor_protocol::control::Event>,
}

impl AttemptHooks for SlotHooks<'_> {
    fn console(&mut self, attempt: AttemptRef, level: LogLevel, text: String) {
        if self.console.receiver_count() > 0 {
            let _ = self.console.send(jobvisor_protocol::control::Event {
                at_ms: now_ms(),
                kind: jobvisor_protocol::control::EventKind::Console {
                    job: attempt.id.0,
                    attempt: attempt.attempt,
                    level,
                    text,
                },
            });
        }
    }

    fn hand_back(&mut self, job: AttemptRef) {
        hand_back(self.events, self.slot, SlotState::Busy, job);
    }
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
        hand_back(&self.events, self.config.id, self.phase.reported(), job);
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
            let pid = live.worker.process.pid();
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
        group.kill_all(Duration::from_secs(1)).await;
        group.forget_earlier_workers();
        let program = &self.config.spec.program;
        let launched = self
            .launcher
            .launch(Confinement::worker(&self.config.spec), group.clone())
            .await
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut process = WorkerProcess::new(launched.child, self.config.pids.clone());
        let stderr = tokio::spawn(stderr_tail(process.take_stderr(), STDERR_KEEP));
        let Some(socket) = launched.socket else {
            process.kill_and_reap(group, Duration::from_secs(2)).await;
            return Err(format!(
                "{} was started without its socket",
                program.display()
            ));
        };
        match WorkerConnection::establish(socket, self.config.settings.start_timeout).await {
            Ok(conn) => Ok(Live {
                worker: LiveWorker::ready(process, conn, stderr, group),
                held_scripts: HashSet::new(),
                recycle: false,
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
                frame = live.worker.conn.recv() => {
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
                    let status = live.worker.process.kill_and_reap(&self.config.group, Duration::from_secs(2)).await;
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
                        if let Some(status) = live.worker.process.try_reap() {
                            self.hand_back(assignment.job.attempt_ref());
                            return ServeEnd::Failed(format!("the worker died while idle ({status})"));
                        }
                        // A pong still owed arrives during the job and is ignored there.
                        awaiting = None;
                        let ran = match self.run_job(live, *assignment).await {
                            Ok(ran) => ran,
                            Err(reason) => return ServeEnd::Failed(reason),
                        };
                        self.emit(SlotEvent::JobEnded { slot: self.config.id, end: Box::new(ran.end) });
                        match ran.then {
                            AfterAttempt::Stop { graceful } => return ServeEnd::Stop { graceful },
                            AfterAttempt::Recycle => live.recycle = true,
                            AfterAttempt::Continue => {}
                        }
                        if ran.worker == WorkerFate::Gone {
                            return ServeEnd::Replace;
                        }
                        if live.recycle
                            || live.worker.jobs >= self.config.settings.max_jobs_per_worker
                            || live.worker.peak_rss > self.config.settings.rss_soft_limit
                        {
                            info!(pid = live.worker.process.pid(), jobs = live.worker.jobs, peak_rss = live.worker.peak_rss, "recycling worker");
                            self.retire_for_replacement(live).await;
                            return ServeEnd::Replace;
                        }
                        self.enter(Phase::Idle, Some(live.worker.process.pid()));
                        ping.reset();
                    }
                },
                _ = ping.tick(), if awaiting.is_none() => {
                    ping_seq += 1;
                    if live.worker.conn.send(&ToWorker::Ping { seq: ping_seq }).await.is_ok() {
                        awaiting = Some((ping_seq, tokio::time::Instant::now() + PONG_WITHIN));
                    }
                }
                () = async {
                    match pong_deadline {
                        Some(by) => tokio::time::sleep_until(by).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let status = live.worker.process.kill_and_reap(&self.config.group, Duration::from_secs(2)).await;
                    return ServeEnd::Failed(format!("no answer to a health ping within {PONG_WITHIN:?} while idle (stopped or wedged); killed ({})", exit_text(status)));
                }
            }
        }
    }

    /// Runs one job. Returns how it went; or, if the job could not even be sent (the
    /// worker died first), hands the job back and returns why the worker failed.
    async fn run_job(
        &mut self,
        live: &mut Live,
        assignment: Assignment,
    ) -> Result<AttemptResult, String> {
        let job = assignment.job;
        let attempt = job.attempt_ref();
        let worker_pid = live.worker.process.pid();
        // Debug level: a span per job costs more than a trivial job's own dispatch, so
        // the few lines logged here at info and above name the job themselves.
        let span = debug_span!(
            "job",
            job = attempt.id.0,
            attempt = attempt.attempt,
            pid = worker_pid
        );
        let _entered = span.enter();
        let timeout = job.timeout.unwrap_or(self.config.settings.default_timeout);
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
                node_compat: self
                    .config
                    .settings
                    .node_compat_scripts
                    .contains(&job.script_name),
            },
            payload: job.payload,
            deadline_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            signal_margin_ms: signal_margin_ms(self.config.settings.signal_margin, timeout),
            limits: self.config.settings.limits,
            isolation: self.config.settings.isolation,
        };
        let spec = AttemptSpec::new(attempt, run, timeout, self.config.settings.kill_grace);
        // Host calls (a fetch) end by the job's own deadline, before the kill grace.
        let spec_deadline = spec.started + timeout;
        self.enter(
            Phase::Busy {
                job: attempt,
                deadline: spec.deadline,
            },
            Some(worker_pid),
        );
        let mut hooks = SlotHooks {
            slot: self.config.id,
            events: &self.events,
            console: &self.config.events,
        };
        let ran = run_attempt(
            &mut live.worker,
            &self.config.group,
            self.config
                .host
                .begin(attempt, &job.script_name, &job.allow_net, spec_deadline),
            &mut self.commands,
            &mut hooks,
            spec,
        )
        .await;
        match ran {
            AttemptRun::Ran(result) => {
                if send_source {
                    live.held_scripts.insert(job.script_hash);
                }
                Ok(*result)
            }
            AttemptRun::NotSent(err) => {
                // The worker died before the job reached it: not the job's fault.
                self.enter(Phase::Terminating, Some(worker_pid));
                let status = live
                    .worker
                    .process
                    .kill_and_reap(&self.config.group, Duration::from_secs(2))
                    .await;
                self.config.group.kill_all(Duration::from_millis(500)).await;
                self.hand_back(attempt);
                Err(format!(
                    "the worker could not be sent a job: {err} ({})",
                    exit_text(status)
                ))
            }
        }
    }

    /// Shuts a healthy worker down between jobs so a new one can start.
    async fn retire_for_replacement(&mut self, live: &mut Live) {
        let pid = live.worker.process.pid();
        self.enter(Phase::Terminating, Some(pid));
        let _ = live.worker.conn.send(&ToWorker::Shutdown).await;
        if tokio::time::timeout(Duration::from_secs(2), live.worker.process.wait())
            .await
            .is_err()
        {
            live.worker
                .process
                .kill_and_reap(&self.config.group, Duration::from_secs(2))
                .await;
        }
        self.config.group.kill_all(Duration::from_millis(500)).await;
    }

    /// Stops the worker for good.
    async fn retire(&mut self, mut live: Live, graceful: bool) {
        if graceful {
            self.retire_for_replacement(&mut live).await;
        } else {
            self.enter(Phase::Terminating, Some(live.worker.process.pid()));
            live.worker
                .process
                .kill_and_reap(&self.config.group, Duration::from_secs(2))
                .await;
            self.config.group.kill_all(Duration::from_millis(500)).await;
        }
    }
}

/// Hands `job` back to the dispatcher: it reached slot `slot` in `state`, where it cannot
/// run.
fn hand_back(
    events: &mpsc::UnboundedSender<SlotEvent>,
    slot: u32,
    state: SlotState,
    job: AttemptRef,
) {
    info!(
        job = job.id.0,
        attempt = job.attempt,
        state = state.as_str(),
        "a job reached this worker slot while it cannot run it; handing it back"
    );
    let _ = events.send(SlotEvent::Returned { slot, job, state });
}

enum ServeEnd {
    Replace,
    Failed(String),
    Stop { graceful: bool },
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

/// A slot `id` for tests: an rlimit group (no cgroup needed), a worker program that does
/// not exist (a test gives the slot its own launcher) and `restart` as its restart policy.
#[cfg(test)]
pub(crate) fn config_for_tests(id: u32, restart: RestartPolicy) -> SlotConfig {
    use crate::cgroup::{GroupLimits, Limiter, LimiterChoice};
    let group = Limiter::detect(LimiterChoice::Rlimit)
        .and_then(|limiter| {
            limiter.create_group(
                "unused",
                GroupLimits {
                    memory_bytes: 64 << 20,
                    max_pids: 8,
                },
            )
        })
        .expect("an rlimit group needs no cgroup");
    SlotConfig {
        id,
        spec: SpawnSpec {
            program: "/nonexistent/jobvisor-worker".into(),
            self_limit_bytes: Some(64 << 20),
        },
        host: HostService::new(),
        group: Arc::new(group),
        settings: SlotSettings {
            start_timeout: Duration::from_secs(1),
            kill_grace: Duration::from_millis(10),
            restart,
            max_jobs_per_worker: 10,
            rss_soft_limit: u64::MAX,
            limits: JobLimits::default(),
            isolation: Isolation::Script,
            default_timeout: Duration::from_secs(1),
            signal_margin: Duration::ZERO,
            node_compat_scripts: Arc::default(),
        },
        pids: crate::reaper::WorkerPids::default(),
        events: tokio::sync::broadcast::channel(4).0,
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use super::*;
    use crate::pool::launch::Launched;

    /// A launcher that cannot start anything, as when the worker program is gone.
    struct Refusing;

    impl WorkerLauncher for Refusing {
        fn launch(
            &self,
            confinement: Confinement,
            _group: Arc<WorkerGroup>,
        ) -> Pin<Box<dyn Future<Output = std::io::Result<Launched>> + Send + '_>> {
            let why = format!("no such program {}", confinement.program.display());
            Box::pin(async move { Err(std::io::Error::other(why)) })
        }
    }

    fn config() -> SlotConfig {
        config_for_tests(
            7,
            RestartPolicy {
                backoff_min: Duration::from_secs(60),
                backoff_max: Duration::from_secs(60),
                intensity_max: 5,
                window: Duration::from_secs(60),
            },
        )
    }

    #[tokio::test]
    async fn a_slot_starts_its_workers_through_the_launcher_it_is_given() {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (commands, task) = start_slot(config(), Arc::new(Refusing), events_tx);
        let failed = loop {
            match events.recv().await.expect("the slot reports") {
                SlotEvent::WorkerFailed { slot, reason, .. } => break (slot, reason),
                SlotEvent::State { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(failed.0, 7);
        assert!(
            failed
                .1
                .contains("no such program /nonexistent/jobvisor-worker"),
            "{}",
            failed.1
        );
        commands
            .send(SlotCommand::Stop { graceful: false })
            .expect("the slot is alive");
        task.await.expect("the slot ends after Stop");
    }
}
