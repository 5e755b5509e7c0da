//! The dispatcher: the one task that owns the truth of a running daemon — which worker
//! slot is in which state, which job it runs, which claimed jobs wait for a worker — and
//! turns every input (slot events, control requests, signals, store replies, timers) into
//! state changes in one `select!` loop.
//!
//! It claims jobs in batches as workers become idle (keeping a small prefetch so a worker
//! never waits for SQLite), assigns them preferring a worker that already holds the
//! script, and records each outcome through the store's group commit. It never blocks:
//! store writes are sent at once and their replies come back as events; reads run on the
//! blocking pool. Nothing else holds this state; everything talks to it through channels.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod control;
mod schedules;
mod views;

use jobvisor_protocol::control::{DrainReport, Event, EventKind, Request, Response};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::failpoint;
use crate::notify::Notifier;
use crate::pool::exit::AttemptOutcome;
use crate::pool::slot::{Assignment, JobEnd, KillReason, SlotCommand, SlotEvent, SlotState};
use crate::store::{
    AnyStore, AttemptRef, AttemptReport, ClaimedJob, Completion, FailDisposition, Failure, Fenced,
    JobError, JobId, JobStore, OutcomeKind, StoreError,
};

/// Claimed jobs kept waiting per worker slot, so a worker that finishes finds its next
/// job in memory: enough to cover [`PREFETCH_WINDOW`] of work at the recent job
/// duration, between these bounds. Short jobs need deep prefetch (a claim costs a commit,
/// and a commit can take milliseconds); long jobs need almost none (a prefetched job waits
/// behind the job in hand, and a higher-priority job enqueued later waits behind it).
const PREFETCH_PER_SLOT_MIN: usize = 1;
const PREFETCH_PER_SLOT_MAX: usize = 32;
const PREFETCH_WINDOW: Duration = Duration::from_millis(20);
/// Largest claim batch.
const MAX_CLAIM: usize = 64;
/// Longest wait for a delayed job before claiming again anyway.
const MAX_CLAIM_SLEEP: Duration = Duration::from_secs(60);
/// Housekeeping period: expired leases, watchdog, drain deadline.
const TICK: Duration = Duration::from_secs(1);
/// How often finished jobs past their retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(300);
/// Backoff between submissions of an outcome the store could not write.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(100);
const RECORD_RETRY_MAX: Duration = Duration::from_secs(5);

/// A control request with the channel its answer goes back on.
pub struct ControlCall {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

/// A signal, as the daemon's signal task reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// SIGTERM or SIGINT.
    Stop,
    Hangup,
}

/// Static facts shown by `status`.
#[derive(Debug, Clone)]
pub struct DaemonInfo {
    pub started: Instant,
    pub limiter: String,
    pub default_queue: String,
    pub drain_timeout: Duration,
    pub default_timeout: Duration,
    pub payload_limit: u64,
    pub retention: crate::store::Retention,
    /// For checking scripts before they are added.
    pub checker: crate::script_check::ScriptChecker,
    /// What the config declares: those scripts and schedules are the config's, and the
    /// control socket refuses to replace or remove them (the next start would undo it).
    pub declared: Declared,
}

/// The scripts (with their files) and schedules the config declares.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub config: Option<std::path::PathBuf>,
    pub scripts: std::collections::BTreeMap<String, std::path::PathBuf>,
    pub schedules: std::collections::BTreeSet<String>,
}

impl Declared {
    pub fn of(config: &crate::config::Config) -> Declared {
        Declared {
            config: config.source.clone(),
            scripts: config
                .scripts
                .iter()
                .map(|s| (s.name.clone(), s.path.clone()))
                .collect(),
            schedules: config.schedules.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// Why `scripts add NAME` is refused, if it is.
    pub(crate) fn script_refusal(&self, name: &str) -> Option<String> {
        let path = self.scripts.get(name)?;
        Some(format!(
            "script `{name}` is declared in the config ({}): the config's version is made current at every start; edit that file and restart the daemon, or remove the [[script]] entry to manage `{name}` with `scripts add`",
            path.display()
        ))
    }

    /// Why `schedules add|remove NAME` is refused, if it is.
    pub(crate) fn schedule_refusal(&self, name: &str) -> Option<String> {
        self.schedules.contains(name).then(|| {
            let config = self
                .config
                .as_ref()
                .map_or("the config".to_owned(), |p| p.display().to_string());
            format!(
                "schedule `{name}` is declared in {config}: the config's definition is restored at every start; edit the [[schedule]] entry and restart the daemon"
            )
        })
    }
}

/// Replies from work the dispatcher started but does not wait for.
enum Internal {
    Claimed(Result<ClaimedWithSources, StoreError>),
    Pruned(Result<crate::store::PruneReport, StoreError>),
    Recorded {
        job: JobId,
        outcome: &'static str,
        committed: Result<Recorded, StoreError>,
    },
    /// A `WaitJob` found its job already final (or gone).
    WaitChecked {
        job: JobId,
        final_state: bool,
    },
    /// The store fired due schedules.
    Fired(Result<crate::schedule::FireReport, StoreError>),
    /// A schedule was added, changed or removed: look at the schedules again.
    SchedulesChanged,
    /// The store decided a cancel; a running job must now be killed.
    CancelDecided {
        id: JobId,
        outcome: Result<crate::store::CancelOutcome, StoreError>,
        reply: oneshot::Sender<Response>,
    },
}

/// What a recorded outcome did to its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// The attempt no longer held the job: nothing changed.
    Stale,
    /// Applied; the job will run again.
    Requeued,
    /// Applied; the job reached a final state.
    Final,
}

struct ClaimedWithSources {
    jobs: Vec<ClaimedJob>,
    next_wake_at_ms: Option<i64>,
    sources: Vec<(String, Arc<str>)>,
    missing: Vec<(ClaimedJob, String)>,
}

/// What the dispatcher knows about one slot.
struct SlotView {
    commands: mpsc::UnboundedSender<SlotCommand>,
    state: SlotState,
    pid: Option<u32>,
    /// The attempt it runs (its fencing token; the job itself went to the slot). Set when
    /// a `Run` is sent; cleared only by the slot's answer to it (`JobEnded`, `Returned`)
    /// or by its end (`Stopped`), so a job is never held by a slot that forgot it.
    job: Option<AttemptRef>,
    held: HashSet<String>,
    jobs_done: u64,
    restarts: u32,
    degraded: Option<String>,
    stopped: bool,
}

enum Phase {
    Running,
    /// Stop claiming; in-flight jobs may finish until `deadline`.
    Draining {
        deadline: tokio::time::Instant,
        killed: bool,
    },
}

pub struct Dispatcher {
    store: AnyStore,
    info: DaemonInfo,
    slots: Vec<SlotView>,
    ready: VecDeque<ClaimedJob>,
    sources: HashMap<String, Arc<str>>,
    phase: Phase,
    claim_in_flight: bool,
    /// Something may have made jobs claimable since the last claim came back short.
    claim_wanted: bool,
    next_wake: Option<tokio::time::Instant>,
    pending_records: usize,
    completed_times: VecDeque<Instant>,
    /// Moving average of how long recent attempts took in their worker, in µs.
    recent_job_us: f64,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    notifier: Notifier,
    lease_waiting: bool,
    last_prune: Instant,
    prune_running: bool,
    last_lease_renewal: Instant,
    events: broadcast::Sender<Event>,
    /// `WaitJob` callers per job.
    waiters: HashMap<JobId, Vec<oneshot::Sender<Response>>>,
    restart: RollingRestart,
    drain: DrainProgress,
    schedules: schedules::ScheduleTimer,
}

/// A rolling restart in progress: slots still to replace, and the one being replaced.
#[derive(Default)]
struct RollingRestart {
    queue: VecDeque<u32>,
    force: bool,
    current: Option<(u32, Option<u32>)>,
    replies: Vec<oneshot::Sender<Response>>,
    done: Vec<u32>,
}

/// Counters and callers of a drain.
#[derive(Default)]
struct DrainProgress {
    started: Option<Instant>,
    finished: u64,
    requeued: u64,
    failed: u64,
    replies: Vec<oneshot::Sender<Response>>,
}

impl Dispatcher {
    pub fn new(
        store: AnyStore,
        info: DaemonInfo,
        slots: Vec<mpsc::UnboundedSender<SlotCommand>>,
        notifier: Notifier,
        lease_waiting: bool,
        events: broadcast::Sender<Event>,
    ) -> Self {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        Dispatcher {
            store,
            info,
            slots: slots
                .into_iter()
                .map(|commands| SlotView {
                    commands,
                    state: SlotState::Starting,
                    pid: None,
                    job: None,
                    held: HashSet::new(),
                    jobs_done: 0,
                    restarts: 0,
                    degraded: None,
                    stopped: false,
                })
                .collect(),
            ready: VecDeque::new(),
            sources: HashMap::new(),
            phase: Phase::Running,
            claim_in_flight: false,
            claim_wanted: true,
            next_wake: None,
            pending_records: 0,
            completed_times: VecDeque::new(),
            recent_job_us: PREFETCH_WINDOW.as_micros() as f64,
            internal_tx,
            internal_rx,
            notifier,
            lease_waiting,
            last_prune: Instant::now(),
            prune_running: false,
            last_lease_renewal: Instant::now(),
            events,
            waiters: HashMap::new(),
            restart: RollingRestart::default(),
            drain: DrainProgress::default(),
            schedules: schedules::ScheduleTimer::default(),
        }
    }

    /// Runs until a drain has finished: every slot stopped, every outcome recorded.
    pub async fn run(
        mut self,
        mut slot_events: mpsc::UnboundedReceiver<SlotEvent>,
        mut control: mpsc::Receiver<ControlCall>,
        mut signals: mpsc::UnboundedReceiver<SignalKind>,
    ) {
        // A short watchdog period (WatchdogSec=1s) needs a faster tick than housekeeping.
        let period = self
            .notifier
            .watchdog_check_every()
            .map_or(TICK, |every| every.clamp(Duration::from_millis(10), TICK));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.maybe_fire_schedules();
            self.assign();
            self.maybe_claim();
            if self.finished() {
                info!("drain complete");
                let report = DrainReport {
                    finished: self.drain.finished,
                    requeued: self.drain.requeued,
                    failed: self.drain.failed,
                    duration_ms: self.drain.started.map_or(0, |t| {
                        u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
                    }),
                };
                for reply in self.drain.replies.drain(..) {
                    let _ = reply.send(Response::Drained(report.clone()));
                }
                return;
            }
            let wake = self.next_wake;
            let schedule_wake = self.schedules.wake;
            let drain_deadline = match self.phase {
                Phase::Draining {
                    deadline,
                    killed: false,
                } => Some(deadline),
                _ => None,
            };
            tokio::select! {
                Some(event) = slot_events.recv() => self.on_slot_event(event),
                Some(internal) = self.internal_rx.recv() => self.on_internal(internal),
                Some(call) = control.recv() => self.on_control(call),
                Some(signal) = signals.recv() => self.on_signal(signal),
                () = sleep_until_opt(drain_deadline) => {
                    warn!("drain timeout reached: killing the jobs still running; their attempts are refunded");
                    self.kill_in_flight();
                }
                () = sleep_until_opt(schedule_wake) => {
                    self.schedules.wake = None;
                    self.schedules.wanted = true;
                }
                () = sleep_until_opt(wake) => {
                    self.next_wake = None;
                    self.claim_wanted = true;
                }
                _ = tick.tick() => self.on_tick(),
            }
        }
    }

    fn draining(&self) -> bool {
        matches!(self.phase, Phase::Draining { .. })
    }

    /// While draining, the time running jobs have left before they are killed.
    fn drain_left(&self) -> Option<Duration> {
        match self.phase {
            Phase::Draining {
                deadline,
                killed: false,
            } => Some(deadline.saturating_duration_since(tokio::time::Instant::now())),
            _ => None,
        }
    }

    fn finished(&self) -> bool {
        self.draining()
            && self.slots.iter().all(|s| s.stopped)
            && self.pending_records == 0
            && self.ready.is_empty()
    }

    // ---- claiming and assigning -------------------------------------------------------

    fn idle_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Idle && s.job.is_none() && !s.stopped)
            .count()
    }

    /// Jobs to keep claimed per slot at the recent job duration.
    fn prefetch_per_slot(&self) -> usize {
        let per_window = PREFETCH_WINDOW.as_micros() as f64 / self.recent_job_us.max(1.0);
        (per_window.ceil() as usize).clamp(PREFETCH_PER_SLOT_MIN, PREFETCH_PER_SLOT_MAX)
    }

    fn maybe_claim(&mut self) {
        if self.draining() || self.claim_in_flight || !self.claim_wanted {
            return;
        }
        let live_slots = self
            .slots
            .iter()
            .filter(|s| !s.stopped && s.degraded.is_none())
            .count();
        let target = live_slots * self.prefetch_per_slot() + self.idle_slots();
        // Top up only once the prefetched jobs ran down to half (or an idle worker waits):
        // a claim costs a commit, and one per job would make the store the bottleneck.
        let starving = self.idle_slots() > self.ready.len();
        if !starving && self.ready.len() * 2 > target {
            return;
        }
        let want = target.saturating_sub(self.ready.len());
        if want == 0 {
            return;
        }
        let batch = want.min(MAX_CLAIM);
        self.claim_in_flight = true;
        self.claim_wanted = false;
        let pending = self.store.claim_batch(batch);
        let store = self.store.clone();
        let known: HashSet<String> = self.sources.keys().cloned().collect();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = match pending.await {
                Ok(batch) => fetch_sources(store, batch, known).await,
                Err(err) => Err(err),
            };
            let _ = tx.send(Internal::Claimed(result));
        });
    }

    fn on_claimed(&mut self, result: Result<ClaimedWithSources, StoreError>) {
        self.claim_in_flight = false;
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
                self.next_wake = Some(tokio::time::Instant::now() + Duration::from_secs(1));
                return;
            }
        };
        for (hash, source) in claimed.sources {
            self.sources.insert(hash, source);
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
            self.record_failure(job.id, failure, "crash");
        }
        let got = claimed.jobs.len();
        if got > 0 {
            // A full batch suggests more are waiting.
            self.claim_wanted = true;
        }
        if self.draining() {
            for job in claimed.jobs {
                self.refund_unstarted(job.attempt_ref());
            }
            return;
        }
        self.ready.extend(claimed.jobs);
        if let Some(at_ms) = claimed.next_wake_at_ms {
            let now_ms = now_ms();
            // Capped: a job held by a schedule's `queue` overlap policy waits "until year
            // 9999", and the wall clock may jump; looking again costs one claim.
            let wait =
                Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0))
                    .min(MAX_CLAIM_SLEEP);
            let at = tokio::time::Instant::now() + wait;
            self.next_wake = Some(self.next_wake.map_or(at, |w| w.min(at)));
        }
    }

    /// Hands waiting jobs to idle slots, preferring a slot that holds the job's script.
    fn assign(&mut self) {
        if self.draining() {
            return;
        }
        while !self.ready.is_empty() {
            let Some(index) = self.pick_slot() else {
                return;
            };
            let Some(job) = self.ready.pop_front() else {
                return;
            };
            let Some(source) = self.sources.get(&job.script_hash).cloned() else {
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

    fn pick_slot(&self) -> Option<usize> {
        let next_hash = &self.ready.front()?.script_hash;
        let idle = |s: &&SlotView| s.state == SlotState::Idle && s.job.is_none() && !s.stopped;
        let mut fallback = None;
        for (i, slot) in self.slots.iter().enumerate().filter(|(_, s)| idle(s)) {
            if slot.held.contains(next_hash) {
                return Some(i);
            }
            fallback.get_or_insert(i);
        }
        fallback
    }

    // ---- outcomes ---------------------------------------------------------------------

    fn on_slot_event(&mut self, event: SlotEvent) {
        match event {
            SlotEvent::State { slot, state, pid } => {
                let view = &mut self.slots[slot as usize];
                let ready = state == SlotState::Idle && view.state == SlotState::Starting;
                if state == SlotState::Starting && view.pid.is_some() {
                    view.restarts += 1;
                }
                if state == SlotState::Starting {
                    view.held.clear();
                }
                if state == SlotState::Idle {
                    view.degraded = None;
                }
                // A slot reports Busy before its job ends; the dispatcher already knows.
                if !(state == SlotState::Idle && view.job.is_some()) {
                    view.state = state;
                }
                if pid.is_some() {
                    view.pid = pid;
                }
                if state == SlotState::Idle {
                    self.claim_wanted = true;
                    self.restart_progress(slot, pid);
                }
                // Busy and idle between jobs are the job events; a started worker's first
                // idle is news: it is ready.
                if ready || !matches!(state, SlotState::Idle | SlotState::Busy) {
                    let shown = if ready {
                        jobvisor_protocol::control::WorkerState::Ready
                    } else {
                        views::worker_state(state)
                    };
                    self.emit(|| EventKind::Worker {
                        worker: slot,
                        state: shown,
                        pid,
                    });
                }
            }
            SlotEvent::JobEnded { slot, end } => {
                self.emit(|| EventKind::JobEnded {
                    job: end.attempt.id.0,
                    attempt: end.attempt.attempt,
                    worker: slot,
                    outcome: views::ended(&end.outcome),
                    duration_ms: u64::try_from(end.duration.as_millis()).unwrap_or(u64::MAX),
                    error: end
                        .error
                        .as_ref()
                        .map(|(name, message, _)| format!("{name}: {message}")),
                });
                // A moving average over about the last 16 attempts.
                let took = end.duration.as_micros() as f64;
                self.recent_job_us += (took - self.recent_job_us) / 16.0;
                let view = &mut self.slots[slot as usize];
                view.job = None;
                view.jobs_done += 1;
                if view.state == SlotState::Busy {
                    view.state = SlotState::Idle;
                }
                self.claim_wanted = true;
                self.record(*end);
            }
            SlotEvent::WorkerFailed {
                slot,
                reason,
                retry_in,
                degraded,
            } => {
                let view = &mut self.slots[slot as usize];
                view.restarts += 1;
                view.pid = None;
                view.degraded = degraded.then(|| {
                    format!(
                        "{reason} (restarting too often; next try in {}ms)",
                        retry_in.as_millis()
                    )
                });
                if degraded {
                    error!(worker = slot, %reason, "worker slot degraded");
                    self.restart_progress(slot, None);
                }
            }
            SlotEvent::Stopped { slot } => {
                let view = &mut self.slots[slot as usize];
                view.stopped = true;
                view.state = SlotState::Exited;
                view.pid = None;
                if let Some(job) = view.job.take() {
                    // The slot ended without reporting the job: give it back.
                    self.refund_unstarted(job);
                }
            }
            SlotEvent::Returned { slot, job, state } => {
                let view = &mut self.slots[slot as usize];
                // The job never started: the slot is free as soon as it is idle again, and
                // the attempt is refunded so the job is claimed again at once.
                if view.job == Some(job) {
                    view.job = None;
                }
                if !view.stopped {
                    view.state = state;
                }
                self.claim_wanted = true;
                self.refund_unstarted(job);
            }
        }
    }

    fn record(&mut self, end: JobEnd) {
        let attempt = end.attempt;
        let report = AttemptReport {
            worker_pid: Some(end.worker_pid),
            logs: end.logs,
            logs_truncated: end.logs_dropped > 0,
            duration: Some(end.duration),
            cpu_time: end.stats.map(|s| Duration::from_micros(s.cpu_us)),
            peak_memory_bytes: end.peak_memory,
        };
        let outcome_name = end.outcome.as_str();
        if end.kill_reason == Some(KillReason::Interrupted) && end.outcome != AttemptOutcome::Oom {
            info!(
                job = attempt.id.0,
                attempt = attempt.attempt,
                "interrupted by the drain; attempt refunded"
            );
            self.track(attempt.id, "interrupted", move |store| {
                let pending = store.refund(attempt, report.clone());
                async move { pending.await.map(|f| requeued_if(f.is_applied())) }
            });
            return;
        }
        if end.outcome == AttemptOutcome::Completed {
            failpoint::hit(failpoint::RESULT_BEFORE_COMMIT);
            let completion = Completion {
                attempt,
                result: end.result,
                report,
            };
            self.track(attempt.id, "completed", move |store| {
                let pending = store.complete(completion.clone());
                async move {
                    pending.await.map(|f| {
                        if f.is_applied() {
                            Recorded::Final
                        } else {
                            Recorded::Stale
                        }
                    })
                }
            });
            return;
        }
        let (name, message, stack) = end
            .error
            .unwrap_or_else(|| (outcome_name.to_owned(), end.outcome.to_string(), None));
        let kind = match &end.outcome {
            AttemptOutcome::Completed => OutcomeKind::Completed,
            AttemptOutcome::JsError => OutcomeKind::JsError,
            AttemptOutcome::Timeout => OutcomeKind::Timeout,
            AttemptOutcome::Oom => OutcomeKind::Oom,
            AttemptOutcome::Crash(_) => OutcomeKind::Crash,
            AttemptOutcome::ProtocolError(_) => OutcomeKind::ProtocolError,
            AttemptOutcome::Killed => OutcomeKind::Killed,
        };
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
        self.record_failure(attempt.id, failure, outcome_name);
    }

    /// Records a failed attempt; the returned receiver fires once it is committed.
    fn record_failure(
        &mut self,
        job: JobId,
        failure: Failure,
        outcome: &'static str,
    ) -> oneshot::Receiver<()> {
        self.track(job, outcome, move |store| {
            let pending = store.fail(failure.clone());
            async move {
                pending.await.map(|fenced| match fenced {
                    Fenced::Applied(disposition) => {
                        debug!(job = job.0, ?disposition, "failure recorded");
                        match disposition {
                            FailDisposition::Retry { .. } => Recorded::Requeued,
                            FailDisposition::Discarded | FailDisposition::Cancelled => {
                                Recorded::Final
                            }
                        }
                    }
                    Fenced::Stale(_) => Recorded::Stale,
                })
            }
        })
    }

    fn refund_unstarted(&mut self, attempt: AttemptRef) {
        self.track(attempt.id, "interrupted", move |store| {
            let pending = store.refund(attempt, AttemptReport::default());
            async move { pending.await.map(|f| requeued_if(f.is_applied())) }
        });
    }

    /// Submits an outcome (`submit` sends it to the store) and reports when it is
    /// committed. While the store cannot write (disk full, a foreign lock) the outcome is
    /// held here and submitted again with backoff: a finished job's result is not dropped
    /// because of a passing storage fault.
    fn track<F, Fut>(
        &mut self,
        job: JobId,
        outcome: &'static str,
        submit: F,
    ) -> oneshot::Receiver<()>
    where
        F: Fn(&AnyStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Recorded, StoreError>> + Send + 'static,
    {
        self.pending_records += 1;
        let tx = self.internal_tx.clone();
        let store = self.store.clone();
        let (done, done_rx) = oneshot::channel();
        // Submitted now, not when the task first runs: the store must see this outcome
        // before any claim the dispatcher sends after it (a retry must be claimable).
        let first = submit(&self.store);
        tokio::spawn(async move {
            let mut delay = RECORD_RETRY_FIRST;
            let mut result = first.await;
            let committed = loop {
                match result {
                    Err(err) if err.is_transient() => {
                        warn!(job = job.0, outcome, error = %err, retry_in = ?delay, "could not record the outcome; holding it and retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(RECORD_RETRY_MAX);
                        result = submit(&store).await;
                    }
                    other => break other,
                }
            };
            let _ = tx.send(Internal::Recorded {
                job,
                outcome,
                committed,
            });
            let _ = done.send(());
        });
        done_rx
    }

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Claimed(result) => self.on_claimed(result),
            Internal::Pruned(result) => {
                self.prune_running = false;
                match result {
                    Ok(report) if report.deleted > 0 => info!(
                        deleted = report.deleted,
                        "pruned finished jobs past their retention"
                    ),
                    Ok(_) => {}
                    Err(err) => warn!(error = %err, "pruning finished jobs failed"),
                }
            }
            Internal::Recorded {
                job,
                outcome,
                committed,
            } => {
                self.pending_records -= 1;
                match committed {
                    Ok(Recorded::Stale) => warn!(
                        job = job.0,
                        outcome, "stale outcome dropped: the job no longer belongs to this attempt"
                    ),
                    Ok(recorded) => {
                        if outcome == "completed" {
                            self.completed_times.push_back(Instant::now());
                        }
                        if self.draining() {
                            match outcome {
                                "interrupted" => self.drain.requeued += 1,
                                "completed" => self.drain.finished += 1,
                                _ => self.drain.failed += 1,
                            }
                        }
                        match recorded {
                            Recorded::Final => self.resolve_waiters(job),
                            // Back in the queue (a retry, a refund): claimable now or later.
                            Recorded::Requeued => self.claim_wanted = true,
                            Recorded::Stale => {}
                        }
                    }
                    Err(err) => {
                        error!(job = job.0, outcome, error = %err, "could not record the outcome; the job is retried when its lease ends")
                    }
                }
            }
            Internal::WaitChecked { job, final_state } => {
                if final_state {
                    self.resolve_waiters(job);
                }
            }
            Internal::Fired(report) => self.on_fired(report),
            Internal::SchedulesChanged => self.schedules.wanted = true,
            Internal::CancelDecided { id, outcome, reply } => {
                self.on_cancel_decided(id, outcome, reply)
            }
        }
    }

    // ---- events, waiters, rolling restarts ---------------------------------------------

    /// Sends an event to `logs --follow` clients; builds it only when someone follows.
    fn emit(&self, kind: impl FnOnce() -> EventKind) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(Event {
                at_ms: now_ms(),
                kind: kind(),
            });
        }
    }

    /// Answers every `WaitJob` caller of a job that reached a final state.
    fn resolve_waiters(&mut self, job: JobId) {
        let Some(waiters) = self.waiters.remove(&job) else {
            return;
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            let response = control::job_view_response(store, job).await;
            for waiter in waiters {
                let _ = waiter.send(response.clone());
            }
        });
    }

    /// Called when a slot is idle (or gave up): moves a rolling restart along once the slot
    /// being replaced runs a new worker.
    fn restart_progress(&mut self, slot: u32, pid: Option<u32>) {
        if let Some((current, old_pid)) = self.restart.current {
            if current != slot || (pid.is_some() && pid == old_pid) {
                return;
            }
            self.restart.done.push(current);
            self.restart.current = None;
        }
        self.restart_next();
    }

    fn restart_next(&mut self) {
        if self.restart.current.is_some() {
            return;
        }
        while let Some(slot) = self.restart.queue.pop_front() {
            let Some(view) = self.slots.get(slot as usize) else {
                continue;
            };
            if view.stopped {
                continue;
            }
            info!(
                worker = slot,
                force = self.restart.force,
                "replacing worker"
            );
            if self.restart.force
                && let Some(job) = view.job
            {
                let _ = view.commands.send(SlotCommand::Kill {
                    job,
                    reason: KillReason::Interrupted,
                });
            }
            let _ = view.commands.send(SlotCommand::Recycle);
            self.restart.current = Some((slot, view.pid));
            return;
        }
        let done = std::mem::take(&mut self.restart.done);
        for reply in self.restart.replies.drain(..) {
            let _ = reply.send(Response::Restarting {
                workers: done.clone(),
            });
        }
    }

    // ---- signals, drain, housekeeping -------------------------------------------------

    fn on_signal(&mut self, signal: SignalKind) {
        match (signal, &self.phase) {
            (SignalKind::Hangup, _) => {
                info!("SIGHUP ignored: it never stops jobvisor (use SIGTERM to drain)")
            }
            (SignalKind::Stop, Phase::Running) => self.start_drain(),
            (SignalKind::Stop, Phase::Draining { .. }) => {
                warn!("second stop signal: killing every running job now");
                self.kill_in_flight();
            }
        }
    }

    fn start_drain(&mut self) {
        let deadline = tokio::time::Instant::now() + self.info.drain_timeout;
        info!(
            drain_timeout_ms = self.info.drain_timeout.as_millis() as u64,
            "draining: no new jobs start; running jobs may finish"
        );
        self.notifier.stopping();
        self.phase = Phase::Draining {
            deadline,
            killed: false,
        };
        self.drain.started = Some(Instant::now());
        for job in std::mem::take(&mut self.ready) {
            self.refund_unstarted(job.attempt_ref());
        }
        for slot in &self.slots {
            let _ = slot.commands.send(SlotCommand::Stop { graceful: true });
        }
    }

    fn kill_in_flight(&mut self) {
        if let Phase::Draining { killed, .. } = &mut self.phase {
            *killed = true;
        }
        for slot in &self.slots {
            if let Some(job) = slot.job {
                let _ = slot.commands.send(SlotCommand::Kill {
                    job,
                    reason: KillReason::Interrupted,
                });
            }
            let _ = slot.commands.send(SlotCommand::Stop { graceful: false });
        }
    }

    /// Extends the leases of the jobs this supervisor holds, one `lease_length` ahead.
    fn renew_leases(&mut self) {
        self.last_lease_renewal = Instant::now();
        let until = now_ms().saturating_add(
            i64::try_from(self.store.lease_length().as_millis()).unwrap_or(i64::MAX),
        );
        let pending = self.store.renew_leases(self.store.owner(), until);
        tokio::spawn(async move {
            if let Err(err) = pending.await {
                warn!(error = %err, "could not renew the leases of the running jobs");
            }
        });
    }

    fn on_tick(&mut self) {
        self.notifier.watchdog();
        self.forget_abandoned_waiters();
        if !self.draining() && !self.prune_running && self.last_prune.elapsed() >= PRUNE_EVERY {
            self.last_prune = Instant::now();
            self.prune_running = true;
            let store = self.store.clone();
            let retention = self.info.retention;
            let tx = self.internal_tx.clone();
            tokio::spawn(async move {
                let result = store.prune(retention).await;
                let _ = tx.send(Internal::Pruned(result));
            });
        }
        if self.last_lease_renewal.elapsed() >= self.store.lease_length() / 3 {
            self.renew_leases();
        }
        if self.lease_waiting && !self.draining() {
            let pending = self.store.requeue_expired_leases();
            let tx = self.internal_tx.clone();
            tokio::spawn(async move {
                if let Ok(report) = pending.await
                    && !report.requeued.is_empty()
                {
                    info!(
                        requeued = report.requeued.len(),
                        "jobs of an earlier run requeued after their lease expired"
                    );
                    let _ = tx.send(Internal::Claimed(Ok(ClaimedWithSources {
                        jobs: Vec::new(),
                        next_wake_at_ms: Some(now_ms()),
                        sources: Vec::new(),
                        missing: Vec::new(),
                    })));
                }
            });
        }
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Loads the sources of script versions the dispatcher does not hold yet.
async fn fetch_sources(
    store: AnyStore,
    batch: crate::store::ClaimBatch,
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

fn requeued_if(applied: bool) -> Recorded {
    if applied {
        Recorded::Requeued
    } else {
        Recorded::Stale
    }
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
