//! The dispatcher: the one task that owns the truth of a running daemon — which worker
//! slot is in which state, which job it runs, which claimed jobs wait for a worker — and
//! turns every input (slot events, control requests, signals, store replies, timers) into
//! state changes in one `select!` loop.
//!
//! The loop and [`Dispatcher::handle_event`] live here; each responsibility owns its state
//! in its own file: `slots` (what each worker slot does), `claims` (claiming, prefetch and
//! assignment), `outcomes` (recording what attempts did), `rollout` (drain and rolling
//! restart), `schedules` (firing due schedules), `housekeeping` (the periodic tick) and
//! `requests/` (one file per family of control requests).
//!
//! It never blocks: store writes are sent at once and their replies come back as
//! [`Internal`] events; reads run on the blocking pool. Every task it starts runs on one
//! [`TaskTracker`], so the daemon can wait for them before it closes the store. Nothing
//! else holds this state; everything talks to it through channels.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod claims;
mod housekeeping;
mod outcomes;
mod requests;
mod rollout;
mod schedules;
mod slots;
#[cfg(test)]
mod tests;
mod views;

use jobvisor_protocol::control::{DrainReport, Event, EventKind, Request, Response};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::notify::Notifier;
use crate::pool::slot::{SlotCommand, SlotEvent};
use crate::signals::{SignalKind, Signals};
use crate::store::{AnyStore, Clock, JobId, SystemClock};

use claims::Claims;
use housekeeping::Housekeeping;
use outcomes::Outcomes;
use rollout::Rollout;
use schedules::ScheduleTimer;
use slots::SlotView;

/// A control request with the channel its answer goes back on.
pub struct ControlCall {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

/// Static facts shown by `status`.
#[derive(Debug, Clone)]
pub struct DaemonInfo {
    pub started: Instant,
    pub limiter: String,
    pub default_queue: String,
    pub drain_timeout: Duration,
    pub payload_limit: u64,
    pub retention: crate::store::Retention,
    /// For checking scripts before they are added.
    pub checker: crate::script_check::ScriptChecker,
    /// The scripts' grants and state namespaces, the secrets.
    pub host: crate::host::HostService,
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

/// Replies from work the dispatcher started but does not wait for: store replies, and the
/// continuations of control requests that need the dispatcher's state to finish.
enum Internal {
    Claimed(Result<claims::ClaimedWithSources, crate::store::StoreError>),
    Pruned(Result<crate::store::PruneReport, crate::store::StoreError>),
    /// Jobs of an earlier run whose lease ran out went back to the queue.
    LeasesRequeued(Result<crate::store::RecoveryReport, crate::store::StoreError>),
    /// An outcome was committed (or given up on).
    Recorded(outcomes::Recorded),
    /// A `WaitJob` found its job already final (or gone).
    WaitChecked {
        job: JobId,
        final_state: bool,
    },
    /// The store fired due schedules.
    Fired(Result<crate::schedule::FireReport, crate::store::StoreError>),
    /// A schedule was added, changed or removed: look at the schedules again.
    SchedulesChanged,
    /// The store decided a cancel; a running job must now be killed.
    CancelDecided {
        id: JobId,
        outcome: Result<crate::store::CancelOutcome, crate::store::StoreError>,
        reply: oneshot::Sender<Response>,
    },
}

/// One input of the loop.
enum Input {
    Slot(SlotEvent),
    Internal(Internal),
    Control(ControlCall),
    Signal(SignalKind),
    /// The drain timeout passed with jobs still running.
    DrainDeadline,
    /// The schedules' next due time came.
    SchedulesDue,
    /// A delayed job may be due: claim again.
    ClaimDue,
    Tick,
}

pub struct Dispatcher {
    /// Where every claim, outcome and request goes.
    store: AnyStore,
    /// Static facts for `status` and for checking requests.
    info: DaemonInfo,
    /// One view per worker slot, indexed by slot id.
    slots: Vec<SlotView>,
    /// Claimed jobs waiting for a worker, the claim in flight, the prefetch depth.
    claims: Claims,
    /// Outcomes sent to the store and not yet committed; recent completions.
    outcomes: Outcomes,
    /// The drain and the rolling restart.
    rollout: Rollout,
    /// When to look at the schedules next.
    schedules: ScheduleTimer,
    /// Pruning and expired leases, run from the tick.
    housekeeping: Housekeeping,
    /// `WaitJob` callers per job.
    waiters: HashMap<JobId, Vec<oneshot::Sender<Response>>>,
    /// Events for `logs --follow`.
    events: broadcast::Sender<Event>,
    /// systemd's readiness, stopping and watchdog notifications.
    notifier: Notifier,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    /// Every task the dispatcher starts (store replies, answers to requests).
    tasks: TaskTracker,
    /// The store's clock: due times (delayed jobs, retries, schedules) are the store's,
    /// so the waits for them are measured on the same clock.
    clock: Arc<dyn Clock>,
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
        let clock = store.as_sqlite().map_or_else(
            || Arc::new(SystemClock) as Arc<dyn Clock>,
            |s| s.options().clock.clone(),
        );
        Dispatcher {
            clock,
            store,
            info,
            slots: slots.into_iter().map(SlotView::new).collect(),
            claims: Claims::default(),
            outcomes: Outcomes::default(),
            rollout: Rollout::default(),
            schedules: ScheduleTimer::default(),
            housekeeping: Housekeeping::new(lease_waiting),
            waiters: HashMap::new(),
            events,
            notifier,
            internal_tx,
            internal_rx,
            tasks: TaskTracker::new(),
        }
    }

    /// The tracker of every task the dispatcher starts: wait on it (after `run`) before
    /// closing the store.
    pub fn tasks(&self) -> TaskTracker {
        self.tasks.clone()
    }

    /// Runs until a drain has finished: every slot stopped, every outcome recorded.
    /// Returns the drain's report (the one `jobvisor drain` callers were answered with).
    pub async fn run(
        mut self,
        mut slot_events: mpsc::UnboundedReceiver<SlotEvent>,
        mut control: mpsc::Receiver<ControlCall>,
        mut signals: Signals,
    ) -> DrainReport {
        // A short watchdog period (WatchdogSec=1s) needs a faster tick than housekeeping.
        let period = self
            .notifier
            .watchdog_check_every()
            .map_or(housekeeping::TICK, |every| {
                every.clamp(Duration::from_millis(10), housekeeping::TICK)
            });
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.maybe_fire_schedules();
            self.assign();
            self.maybe_claim();
            if self.finished() {
                let report = self.answer_drained();
                info!(
                    finished = report.finished,
                    requeued = report.requeued,
                    failed = report.failed,
                    duration_ms = report.duration_ms,
                    "drain complete"
                );
                self.tasks.close();
                return report;
            }
            let claim_wake = self.claims.next_wake;
            let schedule_wake = self.schedules.wake;
            let drain_deadline = self.rollout.drain_deadline();
            let input = tokio::select! {
                Some(event) = slot_events.recv() => Input::Slot(event),
                Some(internal) = self.internal_rx.recv() => Input::Internal(internal),
                Some(call) = control.recv() => Input::Control(call),
                Some(signal) = signals.recv() => Input::Signal(signal),
                () = sleep_until_opt(drain_deadline) => Input::DrainDeadline,
                () = sleep_until_opt(schedule_wake) => Input::SchedulesDue,
                () = sleep_until_opt(claim_wake) => Input::ClaimDue,
                _ = tick.tick() => Input::Tick,
            };
            self.handle_event(input);
        }
    }

    /// Applies one input to the dispatcher's state.
    fn handle_event(&mut self, input: Input) {
        match input {
            Input::Slot(event) => self.on_slot_event(event),
            Input::Internal(internal) => self.on_internal(internal),
            Input::Control(call) => self.on_control(call),
            Input::Signal(signal) => self.on_signal(signal),
            Input::DrainDeadline => self.on_drain_deadline(),
            Input::SchedulesDue => {
                self.schedules.wake = None;
                self.schedules.wanted = true;
            }
            Input::ClaimDue => {
                self.claims.next_wake = None;
                self.claims.wanted = true;
            }
            Input::Tick => self.on_tick(),
        }
    }

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Claimed(result) => self.on_claimed(result),
            Internal::Pruned(result) => self.on_pruned(result),
            Internal::LeasesRequeued(result) => self.on_leases_requeued(result),
            Internal::Recorded(recorded) => self.on_recorded(recorded),
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

    /// Whether a drain has finished: every slot stopped, every outcome recorded.
    fn finished(&self) -> bool {
        self.rollout.draining()
            && self.slots.iter().all(|s| s.stopped)
            && self.outcomes.pending() == 0
            && self.claims.ready.is_empty()
    }

    /// Runs `work` on the dispatcher's tracker and feeds its result back to the loop.
    fn when<T, W, E>(&self, work: W, event: E)
    where
        W: Future<Output = T> + Send + 'static,
        E: FnOnce(T) -> Internal + Send + 'static,
    {
        let tx = self.internal_tx.clone();
        self.tasks.spawn(async move {
            let _ = tx.send(event(work.await));
        });
    }

    /// Sends an event to `logs --follow` clients; builds it only when someone follows.
    fn emit(&self, kind: impl FnOnce() -> EventKind) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(Event {
                at_ms: self.now_ms(),
                kind: kind(),
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

impl Dispatcher {
    /// Wall-clock now in ms, on the store's clock.
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
