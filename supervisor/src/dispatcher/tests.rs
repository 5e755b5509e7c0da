//! The dispatcher's timing, in-process and without sleeping: a real store in a temporary
//! directory on a [`ManualClock`], a fake pool (one task per slot that answers slot
//! commands as a worker would, after virtual delays) or a real slot over a fake
//! `WorkerLauncher`, and tokio's paused clock.
//!
//! Time moves only when a test says so: a blocking task holds the runtime's clock still
//! (tokio does not advance a paused clock while a `spawn_blocking` task runs), so a store
//! commit, which takes real time on the writer thread, never lets virtual time jump.
//! [`Harness::advance`] moves tokio's clock and the store's together.

use std::os::unix::process::CommandExt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jobvisor_protocol::control::{DrainReport, Request, Response, StatusReport, WorkerState};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use super::claims::PREFETCH_PER_SLOT_MIN;
use super::{ControlCall, DaemonInfo, Declared, Dispatcher};
use crate::cgroup::WorkerGroup;
use crate::notify::Notifier;
use crate::pool::exit::AttemptOutcome;
use crate::pool::launch::{Confinement, Launched, WorkerLauncher};
use crate::pool::restart::RestartPolicy;
use crate::pool::slot::{
    JobEnd, KillReason, SlotCommand, SlotEvent, SlotState, config_for_tests, start_slot,
};
use crate::signals::{SignalKind, SignalSource};
use crate::store::{
    AnyStore, AttemptRef, BackoffPolicy, Clock, EnqueueRequest, JobId, JobState, JobStore,
    JobStoreRead, ManualClock, RunAt, StoreOptions,
};

/// The longest real time any wait in these tests may take before it counts as a hang.
const REAL_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// What the fake pool saw, with the virtual time it saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Note {
    Started {
        job: JobId,
        attempt: u32,
        slot: u32,
        at: Instant,
    },
    Killed {
        job: JobId,
        reason: KillReason,
        at: Instant,
    },
    Recycled {
        slot: u32,
        at: Instant,
    },
    /// A real slot asked its launcher for a worker.
    Launched {
        at: Instant,
    },
}

/// The drain timeout of every test's dispatcher.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

struct Harness {
    _dir: tempfile::TempDir,
    store: AnyStore,
    clock: Arc<ManualClock>,
    control: mpsc::Sender<ControlCall>,
    signals: mpsc::UnboundedSender<SignalKind>,
    notes: mpsc::UnboundedReceiver<Note>,
    dispatcher: Option<tokio::task::JoinHandle<DrainReport>>,
    /// Dropping it lets the clock hold end.
    _hold: std::sync::mpsc::Sender<()>,
}

impl Harness {
    /// A dispatcher over `slots` fake slots whose jobs each take `takes`.
    async fn start(slots: u32, takes: Duration) -> Harness {
        Harness::start_with(|slot_events, notes| {
            (0..slots)
                .map(|id| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    tokio::spawn(fake_slot(id, rx, slot_events.clone(), notes.clone(), takes));
                    tx
                })
                .collect()
        })
        .await
    }

    /// A dispatcher over one real slot (`pool::slot`) whose launcher starts a worker that
    /// exits at once, every time.
    async fn start_crash_looping(restart: RestartPolicy) -> Harness {
        Harness::start_with(|slot_events, notes| {
            let launcher = Arc::new(ExitsAtOnce {
                notes: notes.clone(),
            });
            let (commands, _task) =
                start_slot(config_for_tests(0, restart), launcher, slot_events.clone());
            vec![commands]
        })
        .await
    }

    /// A dispatcher over the slots `slots` starts, which report on the sender it is given
    /// and note what they do on the other.
    async fn start_with(
        slots: impl FnOnce(
            &mpsc::UnboundedSender<SlotEvent>,
            &mpsc::UnboundedSender<Note>,
        ) -> Vec<mpsc::UnboundedSender<SlotCommand>>,
    ) -> Harness {
        // Held still until the test ends (the sender is dropped).
        let (hold, held) = std::sync::mpsc::channel::<()>();
        tokio::task::spawn_blocking(move || {
            let _ = held.recv();
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let options = StoreOptions {
            clock: clock.clone(),
            backoff: BackoffPolicy {
                base: Duration::from_secs(8),
                cap: Duration::from_secs(8),
            },
            ..StoreOptions::default()
        };
        let store = AnyStore::open(dir.path().join("jobs.db"), options).expect("store opens");
        store
            .add_script("job", "export default () => 1")
            .await
            .expect("script added");
        let (slot_events_tx, slot_events) = mpsc::unbounded_channel();
        let (notes_tx, notes) = mpsc::unbounded_channel();
        let commands = slots(&slot_events_tx, &notes_tx);
        let (control, control_rx) = mpsc::channel(16);
        let (signals, source) = SignalSource::channel();
        let dispatcher = Dispatcher::new(
            store.clone(),
            info(DRAIN_TIMEOUT),
            commands,
            Notifier::from_env(),
            false,
            broadcast::channel(16).0,
        );
        let dispatcher = tokio::spawn(dispatcher.run(slot_events, control_rx, source.listen()));
        Harness {
            _dir: dir,
            store,
            clock,
            control,
            signals,
            notes,
            dispatcher: Some(dispatcher),
            _hold: hold,
        }
    }

    async fn enqueue(&self, timeout: Option<Duration>) -> JobId {
        let request = EnqueueRequest {
            script: "job".to_owned(),
            payload: "{}".to_owned(),
            queue: "default".to_owned(),
            priority: 0,
            run_at: RunAt::Now,
            max_attempts: Some(3),
            timeout,
            unique_key: None,
            backoff: None,
        };
        self.store.enqueue(request).await.expect("enqueued").id
    }

    /// Moves virtual time and the store's clock together.
    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        tokio::time::advance(by).await;
    }

    /// Sends a request; its answer comes on the receiver.
    async fn send(&self, request: Request) -> oneshot::Receiver<Response> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(ControlCall { request, reply })
            .await
            .expect("dispatcher takes requests");
        answer
    }

    async fn ask(&self, request: Request) -> Response {
        let answer = self.send(request).await;
        within_real_limit("an answer", answer)
            .await
            .expect("dispatcher answers")
    }

    async fn status(&self) -> StatusReport {
        match self.ask(Request::Status).await {
            Response::Status(report) => report,
            other => panic!("status answered {other:?}"),
        }
    }

    async fn running_in_store(&self) -> u64 {
        let status = self.status().await;
        status
            .queues
            .iter()
            .flat_map(|q| q.counts.iter())
            .filter(|(state, _)| *state == jobvisor_protocol::control::JobState::Running)
            .map(|(_, n)| *n)
            .sum()
    }

    async fn next_note(&mut self) -> Note {
        within_real_limit("a note from the fake pool", self.notes.recv())
            .await
            .expect("the fake pool is alive")
    }

    /// Whether the fake pool saw nothing more, once the dispatcher has answered a request
    /// (so it has handled everything that was due before it).
    async fn quiet(&mut self) -> bool {
        let _ = self.status().await;
        self.notes.try_recv().is_err()
    }

    /// Waits (without moving time) until the dispatcher has taken a drain in hand.
    async fn until_draining(&self) {
        within_real_limit("the drain to start", async {
            while !self.status().await.draining {
                tokio::task::yield_now().await;
            }
        })
        .await;
    }

    /// Waits for the dispatcher to end; returns its drain report.
    async fn dispatcher_ends(&mut self) -> DrainReport {
        let task = self.dispatcher.take().expect("dispatcher running");
        within_real_limit("the dispatcher to end", task)
            .await
            .expect("dispatcher did not panic")
    }

    async fn job(&self, id: JobId) -> crate::store::JobInfo {
        self.store
            .get_job(id)
            .await
            .expect("readable")
            .expect("job exists")
            .job
    }
}

/// Awaits `what` for at most [`REAL_LIMIT`] of real time (virtual time stands still).
async fn within_real_limit<F: Future>(what: &str, future: F) -> F::Output {
    let (expired_tx, expired) = oneshot::channel::<()>();
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        // Ends as soon as `done` is dropped; fires only for a wait that would hang.
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(REAL_LIMIT) {
            let _ = expired_tx.send(());
        }
    });
    let output = tokio::select! {
        output = future => output,
        _ = expired => panic!("no {what} within {REAL_LIMIT:?} of real time"),
    };
    drop(done);
    output
}

fn info(drain_timeout: Duration) -> DaemonInfo {
    let spawner = crate::pool::spawner::Spawner::start().expect("spawner thread");
    let limiter = crate::cgroup::Limiter::detect(crate::cgroup::LimiterChoice::Rlimit)
        .expect("rlimit limiter");
    DaemonInfo {
        started: std::time::Instant::now(),
        limiter: limiter.describe(),
        default_queue: "default".to_owned(),
        drain_timeout,
        payload_limit: 1 << 20,
        host: crate::host::HostService::new(),
        retention: crate::store::Retention {
            completed: Duration::from_secs(86_400),
            failed: Duration::from_secs(86_400),
        },
        checker: crate::script_check::ScriptChecker::new(
            "/nonexistent/jobvisor-worker".into(),
            std::sync::Arc::new(spawner),
            limiter,
            "jobvisor-test".to_owned(),
            crate::reaper::WorkerPids::default(),
        ),
        declared: Declared::default(),
    }
}

/// A slot as the dispatcher sees one: reports its worker ready, runs each job for
/// `takes` of virtual time (or until its deadline, or a kill), replaces its worker
/// on `Recycle` (after the job in hand), ends on `Stop`.
async fn fake_slot(
    slot: u32,
    mut commands: mpsc::UnboundedReceiver<SlotCommand>,
    events: mpsc::UnboundedSender<SlotEvent>,
    notes: mpsc::UnboundedSender<Note>,
    takes: Duration,
) {
    let mut pid = 1000 + slot * 100;
    let state = |state, pid| SlotEvent::State { slot, state, pid };
    let _ = events.send(state(SlotState::Starting, None));
    let _ = events.send(state(SlotState::Idle, Some(pid)));
    let mut stopping = false;
    let mut recycle = false;
    while let Some(command) = commands.recv().await {
        match command {
            SlotCommand::Run(assignment) => {
                let job = assignment.job;
                let attempt = job.attempt_ref();
                let started = Instant::now();
                let _ = notes.send(Note::Started {
                    job: job.id,
                    attempt: job.attempt,
                    slot,
                    at: started,
                });
                let _ = events.send(state(SlotState::Busy, Some(pid)));
                let done = tokio::time::sleep(takes);
                let deadline = tokio::time::sleep(job.timeout.unwrap_or(Duration::MAX / 4));
                tokio::pin!(done, deadline);
                let (outcome, kill_reason) = loop {
                    tokio::select! {
                        () = &mut done => break (AttemptOutcome::Completed, None),
                        () = &mut deadline => break (AttemptOutcome::Timeout, None),
                        command = commands.recv() => match command {
                            Some(SlotCommand::Kill { job, reason }) if job == attempt => {
                                let _ = notes.send(Note::Killed { job: job.id, reason, at: Instant::now() });
                                break (AttemptOutcome::Killed, Some(reason));
                            }
                            Some(SlotCommand::Stop { .. }) => stopping = true,
                            Some(SlotCommand::Recycle) => recycle = true,
                            Some(SlotCommand::Run(other)) => {
                                let _ = events.send(SlotEvent::Returned {
                                    slot,
                                    job: other.job.attempt_ref(),
                                    state: SlotState::Busy,
                                });
                            }
                            Some(SlotCommand::Kill { .. }) => {}
                            None => return,
                        },
                    }
                };
                let _ = events.send(SlotEvent::JobEnded {
                    slot,
                    end: Box::new(job_end(attempt, outcome, kill_reason, started, pid)),
                });
            }
            SlotCommand::Recycle => recycle = true,
            SlotCommand::Stop { .. } => stopping = true,
            SlotCommand::Kill { .. } => {}
        }
        if stopping {
            let _ = events.send(SlotEvent::Stopped { slot });
            return;
        }
        if recycle {
            recycle = false;
            pid += 1;
            let _ = notes.send(Note::Recycled {
                slot,
                at: Instant::now(),
            });
            let _ = events.send(state(SlotState::Starting, None));
        }
        let _ = events.send(state(SlotState::Idle, Some(pid)));
    }
}

fn job_end(
    attempt: AttemptRef,
    outcome: AttemptOutcome,
    kill_reason: Option<KillReason>,
    started: Instant,
    pid: u32,
) -> JobEnd {
    JobEnd {
        result: (outcome == AttemptOutcome::Completed).then(|| "1".to_owned()),
        attempt,
        outcome,
        error: None,
        logs: String::new(),
        logs_dropped: 0,
        stats: None,
        duration: started.elapsed(),
        worker_pid: pid,
        peak_memory: None,
        kill_reason,
        host: Default::default(),
    }
}

/// A launcher whose worker exits at once: a real process (`true`) and a socket whose
/// other end is already closed, so the handshake fails as it does for a worker that
/// crashes at start. Notes the virtual time of every launch.
struct ExitsAtOnce {
    notes: mpsc::UnboundedSender<Note>,
}

impl WorkerLauncher for ExitsAtOnce {
    fn launch(
        &self,
        _confinement: Confinement,
        _group: Arc<WorkerGroup>,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Launched>> + Send + '_>> {
        let _ = self.notes.send(Note::Launched { at: Instant::now() });
        Box::pin(async {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
            drop(theirs);
            let child = std::process::Command::new("true")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .process_group(0)
                .spawn()?;
            Ok(Launched {
                child,
                socket: Some(ours),
            })
        })
    }
}

fn launched(note: Note) -> Instant {
    match note {
        Note::Launched { at } => at,
        other => panic!("expected a worker launch, saw {other:?}"),
    }
}

fn started(note: Note) -> (JobId, u32, u32, Instant) {
    match note {
        Note::Started {
            job,
            attempt,
            slot,
            at,
        } => (job, attempt, slot, at),
        other => panic!("expected a job to start, the fake pool saw {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_job_still_running_at_the_drain_deadline_is_killed_then_and_its_attempt_refunded() {
    let mut h = Harness::start(1, Duration::from_secs(60)).await;
    let id = h.enqueue(None).await;
    let (job, attempt, _, _) = started(h.next_note().await);
    assert_eq!((job, attempt), (id, 1));

    let drain_started = Instant::now();
    h.signals
        .send(SignalKind::Stop)
        .expect("dispatcher listens");
    h.until_draining().await;
    h.advance(Duration::from_millis(4_900)).await;
    let status = h.status().await;
    assert!(status.draining);
    assert_eq!(status.drain_left_ms, Some(100));
    assert_eq!(status.workers[0].job, Some(id.0));
    assert!(
        h.quiet().await,
        "the job was touched before the drain deadline"
    );

    h.advance(Duration::from_millis(100)).await;
    match h.next_note().await {
        Note::Killed { job, reason, at } => {
            assert_eq!((job, reason), (id, KillReason::Interrupted));
            assert_eq!(at - drain_started, Duration::from_secs(5));
        }
        other => panic!("expected the kill at the deadline, saw {other:?}"),
    }
    h.dispatcher_ends().await;
    let job = h.job(id).await;
    assert_eq!(job.state, JobState::Available, "{job:?}");
    assert_eq!(
        job.attempt, 0,
        "the interrupted attempt is refunded: {job:?}"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_job_that_ends_before_the_drain_deadline_completes_and_the_drain_reports_it() {
    let mut h = Harness::start(1, Duration::from_secs(3)).await;
    let id = h.enqueue(None).await;
    let (job, ..) = started(h.next_note().await);
    assert_eq!(job, id);

    let drained = h.send(Request::Drain).await;
    h.until_draining().await;
    h.advance(Duration::from_secs(3)).await;
    let report = within_real_limit("the drain report", drained)
        .await
        .expect("drain answered");
    match report {
        Response::Drained(DrainReport {
            finished,
            requeued,
            failed,
            ..
        }) => assert_eq!((finished, requeued, failed), (1, 0, 0)),
        other => panic!("drain answered {other:?}"),
    }
    assert!(h.notes.try_recv().is_err(), "the job was killed");
    h.dispatcher_ends().await;
    assert_eq!(h.job(id).await.state, JobState::Completed);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn claims_refill_as_slots_free_up_and_never_run_ahead_of_the_slots() {
    const SLOTS: u64 = 2;
    const JOBS: usize = 10;
    let takes = Duration::from_secs(10);
    let mut h = Harness::start(SLOTS as u32, takes).await;
    let mut ids = Vec::new();
    for _ in 0..JOBS {
        ids.push(h.enqueue(None).await);
    }
    let t0 = Instant::now();
    let most_claimed = SLOTS * (1 + PREFETCH_PER_SLOT_MIN as u64);
    let mut seen = Vec::new();
    for round in 0..(JOBS as u32 / SLOTS as u32) {
        let mut slots = Vec::new();
        for _ in 0..SLOTS {
            let (job, attempt, slot, at) = started(h.next_note().await);
            assert_eq!(attempt, 1);
            // The next job was claimed before the slot freed up: it starts at once.
            assert_eq!(at - t0, takes * round, "job {job:?} started late");
            slots.push(slot);
            seen.push(job);
        }
        slots.sort_unstable();
        assert_eq!(slots, [0, 1], "one job per slot in round {round}");
        let claimed = h.running_in_store().await;
        assert!(
            claimed <= most_claimed,
            "{claimed} jobs claimed for {SLOTS} slots (at most {most_claimed})"
        );
        assert!(h.quiet().await, "a slot got a second job while busy");
        h.advance(takes).await;
    }
    seen.sort_unstable();
    assert_eq!(seen, ids, "every job ran once");
    match h
        .ask(Request::WaitJob {
            id: ids[JOBS - 1].0,
        })
        .await
    {
        Response::Job(view) => assert_eq!(
            view.summary.state,
            jobvisor_protocol::control::JobState::Completed
        ),
        other => panic!("wait answered {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_timed_out_attempt_runs_again_when_its_retry_backoff_ends_not_before() {
    let mut h = Harness::start(1, Duration::from_secs(60)).await;
    let t0 = Instant::now();
    let clock_at_t0 = h.clock.now_ms();
    let id = h.enqueue(Some(Duration::from_secs(3))).await;
    let (_, attempt, ..) = started(h.next_note().await);
    assert_eq!(attempt, 1);

    // The fake worker honours the job's deadline: the attempt times out at 3s.
    h.advance(Duration::from_secs(3)).await;
    let retry_at_ms = within_real_limit("the timeout to be recorded", async {
        loop {
            let job = h.job(id).await;
            if job.state == JobState::Retryable {
                return job.run_at_ms;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let backoff = Duration::from_millis(
        u64::try_from(retry_at_ms - clock_at_t0).expect("run_at after now") - 3_000,
    );
    assert!(
        (Duration::from_secs(4)..=Duration::from_secs(8)).contains(&backoff),
        "backoff {backoff:?} is outside the policy's [4s, 8s]"
    );

    h.advance(backoff - Duration::from_millis(1)).await;
    assert!(
        h.quiet().await,
        "the retry started before its backoff ended"
    );
    h.advance(Duration::from_millis(1)).await;
    let (job, attempt, _, at) = started(h.next_note().await);
    assert_eq!((job, attempt), (id, 2));
    assert_eq!(at - t0, Duration::from_secs(3) + backoff);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_rolling_restart_replaces_one_slot_at_a_time_and_waits_for_the_job_in_hand() {
    let takes = Duration::from_secs(10);
    let mut h = Harness::start(2, takes).await;
    let t0 = Instant::now();
    let id = h.enqueue(None).await;
    let (job, _, busy, _) = started(h.next_note().await);
    assert_eq!(job, id);
    let idle = 1 - busy;

    let restarted = h
        .send(Request::Restart {
            worker: None,
            force: false,
        })
        .await;
    let mut order = Vec::new();
    // Slot 0 goes first; the busy one is replaced only once its job is done.
    if busy == 0 {
        assert!(h.quiet().await, "the busy slot was replaced under its job");
        h.advance(takes).await;
    }
    for _ in 0..2 {
        match h.next_note().await {
            Note::Recycled { slot, at } => order.push((slot, at - t0)),
            other => panic!("expected a replacement, saw {other:?}"),
        }
        if order.len() == 1 && busy == 1 {
            assert!(h.quiet().await, "the busy slot was replaced under its job");
            h.advance(takes).await;
        }
    }
    assert_eq!(
        order.iter().map(|(slot, _)| *slot).collect::<Vec<_>>(),
        [0, 1]
    );
    let busy_replaced = order[busy as usize].1;
    assert_eq!(busy_replaced, takes, "the busy slot waited for its job");
    assert_eq!(order[idle as usize].0, idle);
    match within_real_limit("the restart answer", restarted).await {
        Ok(Response::Restarting { workers }) => assert_eq!(workers, [0, 1]),
        other => panic!("restart answered {other:?}"),
    }
    match h.ask(Request::WaitJob { id: id.0 }).await {
        Response::Job(view) => assert_eq!(
            view.summary.state,
            jobvisor_protocol::control::JobState::Completed
        ),
        other => panic!("wait answered {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_worker_that_exits_at_once_is_restarted_with_growing_backoff_until_the_slot_is_degraded()
{
    let restart = RestartPolicy {
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        intensity_max: 3,
        window: Duration::from_secs(60),
    };
    let mut h = Harness::start_crash_looping(restart).await;
    let t0 = Instant::now();
    let mut due = t0;
    // Each failed start doubles the wait before the next, up to the cap; the fourth
    // failure within the window is one more than the intensity allows.
    let waits = [1, 2, 4, 8, 8].map(Duration::from_secs);
    for (failures, wait) in (1u32..).zip(waits) {
        let at = launched(h.next_note().await);
        assert_eq!(at - t0, due - t0, "start {failures} came at the wrong time");
        let status = within_real_limit("the failed start in status", async {
            loop {
                let status = h.status().await;
                if status.workers[0].restarts == failures
                    && status.workers[0].pid.is_none()
                    && matches!(
                        status.workers[0].state,
                        WorkerState::Backoff | WorkerState::Degraded
                    )
                {
                    return status;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        let worker = &status.workers[0];
        if failures > restart.intensity_max {
            assert_eq!(worker.state, WorkerState::Degraded, "{status:?}");
            let reason = worker.degraded_reason.as_deref().unwrap_or_default();
            assert!(
                reason.contains("restarting too often")
                    && reason.contains(&format!("next try in {}ms", wait.as_millis())),
                "{reason}"
            );
            assert!(
                status
                    .degraded
                    .iter()
                    .any(|d| d.contains("1 of 1 worker slots degraded")),
                "{:?}",
                status.degraded
            );
        } else {
            assert_eq!(worker.state, WorkerState::Backoff, "{status:?}");
            assert_eq!(worker.degraded_reason, None);
            assert!(status.degraded.is_empty(), "{:?}", status.degraded);
        }

        h.advance(wait - Duration::from_millis(1)).await;
        assert!(
            h.quiet().await,
            "start {} came before its backoff of {wait:?} ended",
            failures + 1
        );
        h.advance(Duration::from_millis(1)).await;
        due += wait;
    }
    assert_eq!(launched(h.next_note().await) - t0, due - t0);
}
