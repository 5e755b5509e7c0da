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
use boa_engine::{Context, JsError, JsResult, JsValue};

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
            host,
        }
    }

    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
    }

    /// Drops every queued job and timer, and abandons the host calls in flight.
    pub(crate) fn clear(&self) {
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
                let wait = match (timer_wait, deadline_wait) {
                    (Some(timer), Some(deadline)) => Some(timer.min(deadline)),
                    (timer, deadline) => timer.or(deadline),
                };
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
