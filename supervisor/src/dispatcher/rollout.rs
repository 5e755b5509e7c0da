//! Replacing and stopping workers: the drain (SIGTERM, SIGINT or `jobvisor drain`: no new
//! job starts, running jobs may finish until the drain timeout, then they are killed and
//! their attempts refunded) and the rolling restart (`jobvisor restart`: one slot at a
//! time, the next once the replaced one runs a new worker).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{DrainReport, ErrorCode, Response};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::Dispatcher;
use super::requests::{Reply, error};
use crate::pool::slot::{KillReason, SlotCommand};
use crate::signals::SignalKind;
use crate::store::{JobId, OutcomeKind};

/// The drain and the rolling restart.
#[derive(Default)]
pub(super) struct Rollout {
    phase: Phase,
    restart: RollingRestart,
    drain: DrainProgress,
}

#[derive(Default)]
enum Phase {
    #[default]
    Running,
    /// Stop claiming; in-flight jobs may finish until `deadline`.
    Draining {
        deadline: tokio::time::Instant,
        /// The jobs still running were told to die (deadline or a second signal).
        killed: bool,
    },
}

/// A rolling restart in progress.
#[derive(Default)]
struct RollingRestart {
    /// Slots still to replace, in order.
    queue: VecDeque<u32>,
    /// Kill the job in hand instead of letting it finish.
    force: bool,
    /// The slot being replaced, with the pid of the worker it replaces.
    current: Option<(u32, Option<u32>)>,
    /// Callers answered once the queue is empty and the outcomes of `in_hand` are
    /// committed.
    replies: Vec<oneshot::Sender<Response>>,
    /// The jobs the replaced workers had in hand: a caller told "replaced" finds each of
    /// them already recorded (completed, or back in the queue).
    in_hand: Vec<JobId>,
    /// Slots replaced so far.
    done: Vec<u32>,
}

/// Counters and callers of a drain.
#[derive(Default)]
struct DrainProgress {
    started: Option<Instant>,
    /// Jobs that completed while draining.
    finished: u64,
    /// Attempts refunded (interrupted, or claimed and never started).
    requeued: u64,
    /// Attempts that failed while draining.
    failed: u64,
    /// `jobvisor drain` callers, answered once the drain is complete.
    replies: Vec<oneshot::Sender<Response>>,
}

impl Rollout {
    pub(super) fn draining(&self) -> bool {
        matches!(self.phase, Phase::Draining { .. })
    }

    /// When the jobs still running are killed, until they have been.
    pub(super) fn drain_deadline(&self) -> Option<tokio::time::Instant> {
        match self.phase {
            Phase::Draining {
                deadline,
                killed: false,
            } => Some(deadline),
            _ => None,
        }
    }

    /// While draining, the time running jobs have left before they are killed.
    pub(super) fn drain_left(&self) -> Option<Duration> {
        self.drain_deadline()
            .map(|deadline| deadline.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// Counts an outcome recorded during a drain into its report.
    pub(super) fn count_drained(&mut self, outcome: OutcomeKind) {
        if !self.draining() {
            return;
        }
        match outcome {
            OutcomeKind::Interrupted => self.drain.requeued += 1,
            OutcomeKind::Completed => self.drain.finished += 1,
            _ => self.drain.failed += 1,
        }
    }

    fn report(&self) -> DrainReport {
        DrainReport {
            finished: self.drain.finished,
            requeued: self.drain.requeued,
            failed: self.drain.failed,
            duration_ms: self.drain.started.map_or(0, |t| {
                u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
            }),
        }
    }
}

impl Dispatcher {
    pub(super) fn on_signal(&mut self, signal: SignalKind) {
        match (signal, self.rollout.draining()) {
            (SignalKind::Hangup, _) => {
                info!("SIGHUP ignored: it never stops jobvisor (use SIGTERM to drain)")
            }
            (SignalKind::Stop, false) => self.start_drain(),
            (SignalKind::Stop, true) => {
                warn!("second stop signal: killing every running job now");
                self.kill_in_flight();
            }
        }
    }

    /// `jobvisor drain`: starts the drain if none runs, and answers once it is complete.
    pub(super) fn drain_request(&mut self, reply: Reply) {
        if !self.rollout.draining() {
            info!("drain requested over the control socket");
            self.start_drain();
        }
        self.rollout.drain.replies.push(reply);
    }

    pub(super) fn on_drain_deadline(&mut self) {
        warn!("drain timeout reached: killing the jobs still running; their attempts are refunded");
        self.kill_in_flight();
    }

    /// Answers the `jobvisor drain` callers with the drain's report.
    pub(super) fn answer_drained(&mut self) {
        let report = self.rollout.report();
        for reply in self.rollout.drain.replies.drain(..) {
            let _ = reply.send(Response::Drained(report.clone()));
        }
    }

    fn start_drain(&mut self) {
        let deadline = tokio::time::Instant::now() + self.info.drain_timeout;
        info!(
            drain_timeout_ms = self.info.drain_timeout.as_millis() as u64,
            "draining: no new jobs start; running jobs may finish"
        );
        self.notifier.stopping();
        self.rollout.phase = Phase::Draining {
            deadline,
            killed: false,
        };
        self.rollout.drain.started = Some(Instant::now());
        for job in std::mem::take(&mut self.claims.ready) {
            self.refund_unstarted(job.attempt_ref());
        }
        for slot in &self.slots {
            let _ = slot.commands.send(SlotCommand::Stop { graceful: true });
        }
    }

    fn kill_in_flight(&mut self) {
        if let Phase::Draining { killed, .. } = &mut self.rollout.phase {
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

    /// `jobvisor restart [WORKER] [--force]`: queues the slots for replacement.
    pub(super) fn restart_request(&mut self, worker: Option<u32>, force: bool, reply: Reply) {
        if self.rollout.draining() {
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
        let restart = &mut self.rollout.restart;
        restart.force |= force;
        for id in targets {
            if !restart.queue.contains(&id) && restart.current.map(|(c, _)| c) != Some(id) {
                restart.queue.push_back(id);
            }
        }
        restart.replies.push(reply);
        self.restart_next();
    }

    /// Called when a slot is idle (or gave up): moves a rolling restart along once the slot
    /// being replaced runs a new worker.
    pub(super) fn restart_progress(&mut self, slot: u32, pid: Option<u32>) {
        let restart = &mut self.rollout.restart;
        if let Some((current, old_pid)) = restart.current {
            if current != slot || (pid.is_some() && pid == old_pid) {
                return;
            }
            restart.done.push(current);
            restart.current = None;
        }
        self.restart_next();
    }

    fn restart_next(&mut self) {
        let restart = &mut self.rollout.restart;
        if restart.current.is_some() {
            return;
        }
        while let Some(slot) = restart.queue.pop_front() {
            let Some(view) = self.slots.get(slot as usize) else {
                continue;
            };
            if view.stopped {
                continue;
            }
            info!(worker = slot, force = restart.force, "replacing worker");
            if restart.force
                && let Some(job) = view.job
            {
                let _ = view.commands.send(SlotCommand::Kill {
                    job,
                    reason: KillReason::Interrupted,
                });
            }
            let _ = view.commands.send(SlotCommand::Recycle);
            restart.in_hand.extend(view.job.map(|attempt| attempt.id));
            restart.current = Some((slot, view.pid));
            return;
        }
        self.restart_answer_if_recorded();
    }

    /// Answers the restart's callers once no slot is left to replace and every job the
    /// replaced workers had in hand has its outcome committed.
    pub(super) fn restart_answer_if_recorded(&mut self) {
        let restart = &mut self.rollout.restart;
        if restart.current.is_some() || !restart.queue.is_empty() {
            return;
        }
        let outcomes = &self.outcomes;
        if !restart.replies.is_empty()
            && restart
                .in_hand
                .iter()
                .any(|job| outcomes.is_recording(*job))
        {
            return;
        }
        restart.in_hand.clear();
        let done = std::mem::take(&mut restart.done);
        for reply in restart.replies.drain(..) {
            let _ = reply.send(Response::Restarting {
                workers: done.clone(),
            });
        }
    }
}
