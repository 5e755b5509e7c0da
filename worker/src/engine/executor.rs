//! The job executor every context uses: promise jobs, timers and intervals, run until the
//! handler's promise settles, sleeping (not spinning) while a timer is pending.
//!
//! It owns the queues of engine jobs for one context. It must not outlive the job it runs
//! for: [`JobExecutor::clear`] drops everything a handler left behind (an interval, a
//! timer scheduled after its promise settled), so a reused context starts clean.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use boa_engine::context::time::JsInstant;
use boa_engine::job::{GenericJob, IntervalJob, Job, NativeAsyncJob, PromiseJob, TimeoutJob};
use boa_engine::object::builtins::JsPromise;
use boa_engine::{Context, JsError, JsResult};

/// Why [`RunLoop::run_until_settled`] stopped before the promise settled.
#[derive(Debug)]
pub(crate) enum RunStop {
    /// The in-process deadline passed between two engine jobs.
    Deadline,
    /// An engine job failed (a runtime limit inside a timer callback, an engine panic).
    Failed(JsError),
}

enum ClockJob {
    Timeout(TimeoutJob),
    Interval(IntervalJob),
}

/// Engine job queues for one context.
#[derive(Default)]
pub(crate) struct RunLoop {
    promise_jobs: RefCell<VecDeque<PromiseJob>>,
    generic_jobs: RefCell<VecDeque<GenericJob>>,
    async_jobs: RefCell<VecDeque<NativeAsyncJob>>,
    /// Timers keyed by (due, sequence) so equal due times keep their order.
    timers: RefCell<BTreeMap<(JsInstant, u64), ClockJob>>,
    sequence: Cell<u64>,
    deadline: Cell<Option<Instant>>,
    /// Called before the loop sleeps for a timer, so captured console lines reach the
    /// supervisor while a long job waits.
    before_sleep: RefCell<Option<Box<dyn Fn()>>>,
}

impl RunLoop {
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
    }

    pub(crate) fn set_before_sleep(&self, hook: Box<dyn Fn()>) {
        *self.before_sleep.borrow_mut() = Some(hook);
    }

    /// Drops every queued job and timer.
    pub(crate) fn clear(&self) {
        self.promise_jobs.borrow_mut().clear();
        self.generic_jobs.borrow_mut().clear();
        self.async_jobs.borrow_mut().clear();
        self.timers.borrow_mut().clear();
    }

    fn push_timer(&self, due: JsInstant, job: ClockJob) {
        let seq = self.sequence.get();
        self.sequence.set(seq.wrapping_add(1));
        self.timers.borrow_mut().insert((due, seq), job);
    }

    /// Runs engine jobs until `promise` is settled (returns `Ok`), nothing is left that
    /// could settle it (returns `Ok` with the promise still pending), the deadline passes
    /// or a job fails.
    pub(crate) fn run_until_settled(
        &self,
        promise: Option<&JsPromise>,
        context: &mut Context,
    ) -> Result<(), RunStop> {
        loop {
            if let Some(deadline) = self.deadline.get()
                && Instant::now() >= deadline
            {
                self.clear();
                return Err(RunStop::Deadline);
            }
            let settled = promise.is_some_and(|p| !matches!(p.state(), PromiseState::Pending));
            if settled && self.promise_jobs.borrow().is_empty() {
                return Ok(());
            }
            if self.run_one_ready(context).map_err(RunStop::Failed)? {
                continue;
            }
            // Nothing ready: wait for the next timer, if there is one.
            let next = self.timers.borrow().keys().next().copied();
            let Some((due, _)) = next else {
                return Ok(());
            };
            let now = context.clock().now();
            if due > now {
                let mut wait: Duration = (due - now).into();
                if let Some(deadline) = self.deadline.get() {
                    wait = wait.min(deadline.saturating_duration_since(Instant::now()));
                }
                if let Some(hook) = self.before_sleep.borrow().as_ref() {
                    hook();
                }
                std::thread::sleep(wait);
                continue;
            }
            let job = self.timers.borrow_mut().pop_first().map(|(_, job)| job);
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

    /// Runs one promise, generic or async job if one is queued. Returns whether it ran one.
    fn run_one_ready(&self, context: &mut Context) -> JsResult<bool> {
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
        }
    }
}
