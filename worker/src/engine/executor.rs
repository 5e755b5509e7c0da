//! The job executor every context uses: promise jobs, timers and intervals (and, for a
//! script with node compatibility, `process.nextTick` callbacks), run until the handler's
//! promise settles. With nothing ready it waits for whichever comes first, the
//! next timer or the supervisor's next frame (a host call's reply), blocked in the kernel
//! rather than spinning.
//!
//! It owns the queues of engine jobs for one context. It must not outlive the job it runs
//! for: [`RunLoop::clear`] drops everything a handler left behind (an interval, a timer
//! scheduled after its promise settled, host calls still in flight), so a reused context
//! starts clean.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use boa_engine::context::time::JsInstant;
use boa_engine::job::{GenericJob, IntervalJob, Job, NativeAsyncJob, PromiseJob, TimeoutJob};
use boa_engine::object::builtins::{JsFunction, JsPromise};
use boa_engine::{Context, JsError, JsObject, JsResult, JsString, JsValue};
use jobvisor_protocol::worker::AbortReason;

use super::host::HostCalls;

/// Why [`RunLoop::run_until_settled`] stopped before the promise settled.
#[derive(Debug)]
pub(crate) enum RunStop {
    /// The in-process deadline passed between two engine jobs.
    Deadline,
    /// An engine job failed (a runtime limit inside a timer callback, an engine panic).
    Failed(JsError),
    /// The supervisor broke the protocol while the job waited (kept by [`HostCalls`]);
    /// the worker ends without finishing the attempt.
    Protocol,
}

enum ClockJob {
    Timeout(TimeoutJob),
    Interval(IntervalJob),
}

/// A `process.nextTick` callback and its arguments.
struct Tick {
    callback: JsFunction,
    args: Vec<JsValue>,
}

/// Why `ctx.signal` aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AbortKind {
    /// The supervisor's `Abort { reason: Cancelled }`.
    Cancelled,
    /// The supervisor's `Abort { reason: Shutdown }`.
    Shutdown,
    /// The job's signal margin before its deadline was reached.
    NearDeadline,
}

impl AbortKind {
    /// The name the host API's script knows the reason by.
    fn name(self) -> &'static str {
        match self {
            AbortKind::Cancelled => "cancelled",
            AbortKind::Shutdown => "shutdown",
            AbortKind::NearDeadline => "deadline",
        }
    }
}

impl From<AbortReason> for AbortKind {
    fn from(reason: AbortReason) -> Self {
        match reason {
            AbortReason::Cancelled => AbortKind::Cancelled,
            AbortReason::Shutdown => AbortKind::Shutdown,
        }
    }
}

/// `ctx.signal` of the job in hand. It is made when the handler first reads it; an abort
/// that comes before is remembered, and the signal is made aborted.
#[derive(Default)]
struct JobSignal {
    /// When the signal aborts for the near deadline, until it did.
    at: Option<Instant>,
    aborted: Option<AbortKind>,
    /// The signal and the function that aborts it (`abort(reasonName)`).
    made: Option<(JsObject, JsFunction)>,
}

/// Engine job queues for one context.
pub(crate) struct RunLoop {
    /// `process.nextTick` callbacks. Node runs them when the code of a turn (the handler's
    /// call, a timer, a host call's reply) returns, before the promise jobs it queued, and
    /// else once the promise jobs ran out.
    ticks: RefCell<VecDeque<Tick>>,
    /// Whether no promise job ran since the code of the turn (or a tick) returned: ticks
    /// go first.
    turn_start: Cell<bool>,
    promise_jobs: RefCell<VecDeque<PromiseJob>>,
    generic_jobs: RefCell<VecDeque<GenericJob>>,
    async_jobs: RefCell<VecDeque<NativeAsyncJob>>,
    /// Timers keyed by (due, sequence) so equal due times keep their order.
    timers: RefCell<BTreeMap<(JsInstant, u64), ClockJob>>,
    sequence: Cell<u64>,
    deadline: Cell<Option<Instant>>,
    signal: RefCell<JobSignal>,
    /// Where the loop waits when nothing is ready, and the calls whose replies it waits for.
    host: Rc<HostCalls>,
}

impl RunLoop {
    pub(crate) fn new(host: Rc<HostCalls>) -> Self {
        RunLoop {
            ticks: RefCell::default(),
            turn_start: Cell::new(true),
            promise_jobs: RefCell::default(),
            generic_jobs: RefCell::default(),
            async_jobs: RefCell::default(),
            timers: RefCell::default(),
            sequence: Cell::new(0),
            deadline: Cell::new(None),
            signal: RefCell::default(),
            host,
        }
    }

    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
    }

    /// The host calls this loop waits for.
    pub(crate) fn host(&self) -> &Rc<HostCalls> {
        &self.host
    }

    /// A job starts: its `ctx.signal` aborts at `at` (with the near deadline's reason),
    /// if it has not for another reason before.
    pub(crate) fn begin_signal(&self, at: Option<Instant>) {
        *self.signal.borrow_mut() = JobSignal {
            at,
            ..JobSignal::default()
        };
    }

    /// `ctx.signal` of the job in hand: made by `make` (which answers the signal and the
    /// function that aborts it) on the first read, and aborted at once if an abort came
    /// before.
    pub(crate) fn job_signal(
        &self,
        make: impl FnOnce(&mut Context) -> JsResult<(JsObject, JsFunction)>,
        context: &mut Context,
    ) -> JsResult<JsObject> {
        if let Some((signal, _)) = &self.signal.borrow().made {
            return Ok(signal.clone());
        }
        let (signal, abort) = make(context)?;
        let aborted = {
            let mut state = self.signal.borrow_mut();
            state.made = Some((signal.clone(), abort.clone()));
            state.aborted
        };
        if let Some(kind) = aborted {
            abort.call(
                &JsValue::undefined(),
                &[JsString::from(kind.name()).into()],
                context,
            )?;
        }
        Ok(signal)
    }

    /// Aborts `ctx.signal` of the job in hand for `kind`, unless it already aborted. Its
    /// listeners run now.
    fn abort_signal(&self, kind: AbortKind, context: &mut Context) -> JsResult<()> {
        let abort = {
            let mut state = self.signal.borrow_mut();
            if state.aborted.is_some() {
                return Ok(());
            }
            state.aborted = Some(kind);
            state.at = None;
            state.made.as_ref().map(|(_, abort)| abort.clone())
        };
        if let Some(abort) = abort {
            abort.call(
                &JsValue::undefined(),
                &[JsString::from(kind.name()).into()],
                context,
            )?;
        }
        Ok(())
    }

    /// Aborts the signal for what happened since the last turn: an `Abort` frame, or its
    /// time before the deadline. Returns whether it aborted now.
    fn abort_if_due(&self, context: &mut Context) -> JsResult<bool> {
        if let Some(reason) = self.host.take_abort() {
            let before = self.signal.borrow().aborted.is_some();
            self.abort_signal(reason.into(), context)?;
            return Ok(!before);
        }
        let due = self
            .signal
            .borrow()
            .at
            .is_some_and(|at| Instant::now() >= at);
        if due {
            self.abort_signal(AbortKind::NearDeadline, context)?;
        }
        Ok(due)
    }

    /// Drops every queued job and timer, and abandons the host calls in flight.
    pub(crate) fn clear(&self) {
        *self.signal.borrow_mut() = JobSignal::default();
        self.ticks.borrow_mut().clear();
        self.promise_jobs.borrow_mut().clear();
        self.generic_jobs.borrow_mut().clear();
        self.async_jobs.borrow_mut().clear();
        self.timers.borrow_mut().clear();
        self.host.abandon_pending();
    }

    /// Queues `callback(...args)` for `process.nextTick`.
    pub(crate) fn push_tick(&self, callback: JsFunction, args: Vec<JsValue>) {
        self.ticks.borrow_mut().push_back(Tick { callback, args });
    }

    fn push_timer(&self, due: JsInstant, job: ClockJob) {
        let seq = self.sequence.get();
        self.sequence.set(seq.wrapping_add(1));
        self.timers.borrow_mut().insert((due, seq), job);
    }

    /// Runs engine jobs until `promise` is settled (returns `Ok`), nothing is left that
    /// could settle it (returns `Ok` with the promise still pending: no job, no timer, no
    /// host call in flight), the deadline passes, a job fails or the supervisor breaks the
    /// protocol.
    pub(crate) fn run_until_settled(
        &self,
        promise: Option<&JsPromise>,
        context: &mut Context,
    ) -> Result<(), RunStop> {
        self.turn_start.set(true);
        loop {
            if let Some(deadline) = self.deadline.get()
                && Instant::now() >= deadline
            {
                self.clear();
                return Err(RunStop::Deadline);
            }
            if self.abort_if_due(context).map_err(RunStop::Failed)? {
                self.turn_start.set(true);
                continue;
            }
            let settled = promise.is_some_and(|p| !matches!(p.state(), PromiseState::Pending));
            if settled && self.promise_jobs.borrow().is_empty() && self.ticks.borrow().is_empty() {
                return Ok(());
            }
            if self.run_one_ready(context).map_err(RunStop::Failed)? {
                continue;
            }
            // Nothing ready: wait for the next timer or the next frame, whichever comes
            // first, but not past the deadline.
            let next = self.timers.borrow().keys().next().copied();
            let timer_wait = match next {
                None if !self.host.awaiting_replies() => return Ok(()),
                None => None,
                Some((due, _)) => {
                    let now = context.clock().now();
                    (due > now).then(|| Duration::from(due - now))
                }
            };
            if next.is_none() || timer_wait.is_some() {
                let deadline_wait = self
                    .deadline
                    .get()
                    .map(|deadline| deadline.saturating_duration_since(Instant::now()));
                // The signal's own time wakes the loop, but does not keep it waiting for
                // a handler that has nothing else left.
                let signal_wait = self
                    .signal
                    .borrow()
                    .at
                    .map(|at| at.saturating_duration_since(Instant::now()));
                let wait = [timer_wait, deadline_wait, signal_wait]
                    .into_iter()
                    .flatten()
                    .min();
                self.host.wait(wait, context)?;
                self.turn_start.set(true);
                continue;
            }
            let job = self.timers.borrow_mut().pop_first().map(|(_, job)| job);
            self.turn_start.set(true);
            match job {
                Some(ClockJob::Timeout(t)) if !t.cancelled() => {
                    t.call(context).map_err(RunStop::Failed)?;
                }
                Some(ClockJob::Interval(i)) if !i.cancelled() => {
                    i.call(context).map_err(RunStop::Failed)?;
                    if !i.cancelled() {
                        let due = context.clock().now() + i.interval();
                        self.push_timer(due, ClockJob::Interval(i));
                    }
                }
                _ => {}
            }
        }
    }

    /// Runs one tick, promise, generic or async job if one is queued. Returns whether it
    /// ran one.
    fn run_one_ready(&self, context: &mut Context) -> JsResult<bool> {
        if self.turn_start.get() || self.promise_jobs.borrow().is_empty() {
            let tick = self.ticks.borrow_mut().pop_front();
            if let Some(tick) = tick {
                // Node runs the ticks queued by ticks too before any promise job.
                self.turn_start.set(true);
                tick.callback
                    .call(&JsValue::undefined(), &tick.args, context)?;
                return Ok(true);
            }
        }
        self.turn_start.set(false);
        let promise_job = self.promise_jobs.borrow_mut().pop_front();
        if let Some(job) = promise_job {
            job.call(context)?;
            return Ok(true);
        }
        let generic_job = self.generic_jobs.borrow_mut().pop_front();
        if let Some(job) = generic_job {
            job.call(context)?;
            return Ok(true);
        }
        let async_job = self.async_jobs.borrow_mut().pop_front();
        if let Some(job) = async_job {
            // Nothing in this runtime creates futures that wait on the outside world (no
            // fetch, no module loading), so a job that is not ready after one poll can
            // never become ready: it is dropped, and a promise waiting on it never settles.
            let cell = RefCell::new(&mut *context);
            let mut future = pin!(job.call(&cell));
            let mut task = TaskContext::from_waker(Waker::noop());
            if let Poll::Ready(result) = future.as_mut().poll(&mut task) {
                result?;
            }
            return Ok(true);
        }
        Ok(false)
    }
}

use boa_engine::builtins::promise::PromiseState;

impl boa_engine::job::JobExecutor for RunLoop {
    fn enqueue_job(self: Rc<Self>, job: Job, context: &mut Context) {
        match job {
            Job::PromiseJob(p) => self.promise_jobs.borrow_mut().push_back(p),
            Job::GenericJob(g) => self.generic_jobs.borrow_mut().push_back(g),
            Job::AsyncJob(a) => self.async_jobs.borrow_mut().push_back(a),
            Job::TimeoutJob(t) => {
                let due = context.clock().now() + t.timeout();
                self.push_timer(due, ClockJob::Timeout(t));
            }
            Job::IntervalJob(i) => {
                let due = context.clock().now() + i.interval();
                self.push_timer(due, ClockJob::Interval(i));
            }
            // FinalizationRegistry callbacks are optional by the spec; they are not run.
            _ => {}
        }
    }

    fn run_jobs(self: Rc<Self>, context: &mut Context) -> JsResult<()> {
        match self.run_until_settled(None, context) {
            Ok(()) => Ok(()),
            Err(RunStop::Failed(err)) => Err(err),
            Err(RunStop::Deadline) => Err(boa_engine::JsNativeError::error()
                .with_message("job deadline exceeded")
                .into()),
            Err(RunStop::Protocol) => Err(boa_engine::JsNativeError::error()
                .with_message("the supervisor broke the protocol")
                .into()),
        }
    }
}
