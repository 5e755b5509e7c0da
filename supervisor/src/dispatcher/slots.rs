//! What the dispatcher knows about each worker slot, and how the slots' reports change it.
//! The slots themselves (processes, frames, restarts) are `pool::slot`'s; this file only
//! keeps the dispatcher's side of each one and never talks to a worker.

use std::collections::HashSet;

use jobvisor_protocol::control::EventKind;
use tokio::sync::mpsc;
use tracing::error;

use super::Dispatcher;
use crate::pool::slot::{SlotCommand, SlotEvent, SlotState};
use crate::store::AttemptRef;

/// The dispatcher's view of one slot.
pub(super) struct SlotView {
    /// Where commands to the slot go.
    pub(super) commands: mpsc::UnboundedSender<SlotCommand>,
    /// The state last reported, except that the dispatcher marks a slot busy itself
    /// when it sends a job and idle when that job ends.
    pub(super) state: SlotState,
    /// The pid of its current worker, if one runs.
    pub(super) pid: Option<u32>,
    /// The attempt it runs (its fencing token; the job itself went to the slot). Set when
    /// a `Run` is sent; cleared only by the slot's answer to it (`JobEnded`, `Returned`)
    /// or by its end (`Stopped`), so a job is never held by a slot that forgot it.
    pub(super) job: Option<AttemptRef>,
    /// Script versions its worker has loaded: a job of one of these runs warm there.
    pub(super) held: HashSet<String>,
    pub(super) jobs_done: u64,
    pub(super) restarts: u32,
    /// Why the slot is past its restart intensity, while it is.
    pub(super) degraded: Option<String>,
    /// The slot task ended: it takes no more commands.
    pub(super) stopped: bool,
}

impl SlotView {
    pub(super) fn new(commands: mpsc::UnboundedSender<SlotCommand>) -> SlotView {
        SlotView {
            commands,
            state: SlotState::Starting,
            pid: None,
            job: None,
            held: HashSet::new(),
            jobs_done: 0,
            restarts: 0,
            degraded: None,
            stopped: false,
        }
    }

    /// Whether a job can be sent to it now.
    pub(super) fn is_free(&self) -> bool {
        self.state == SlotState::Idle && self.job.is_none() && !self.stopped
    }
}

impl Dispatcher {
    pub(super) fn on_slot_event(&mut self, event: SlotEvent) {
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
                    self.claims.wanted = true;
                    self.restart_progress(slot, pid);
                }
                // Busy and idle between jobs are the job events; a started worker's first
                // idle is news: it is ready.
                if ready || !matches!(state, SlotState::Idle | SlotState::Busy) {
                    let shown = if ready {
                        jobvisor_protocol::control::WorkerState::Ready
                    } else {
                        super::views::worker_state(state)
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
                    outcome: super::views::ended(&end.outcome),
                    duration_ms: u64::try_from(end.duration.as_millis()).unwrap_or(u64::MAX),
                    error: end
                        .error
                        .as_ref()
                        .map(|(name, message, _)| format!("{name}: {message}")),
                });
                self.claims.observe_duration(end.duration);
                let view = &mut self.slots[slot as usize];
                view.job = None;
                view.jobs_done += 1;
                if view.state == SlotState::Busy {
                    view.state = SlotState::Idle;
                }
                self.claims.wanted = true;
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
                self.claims.wanted = true;
                self.refund_unstarted(job);
            }
        }
    }

    /// Slots a job can be sent to now.
    pub(super) fn free_slots(&self) -> usize {
        self.slots.iter().filter(|s| s.is_free()).count()
    }

    /// Slots that take jobs, now or once their worker is up.
    pub(super) fn live_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| !s.stopped && s.degraded.is_none())
            .count()
    }

    /// A free slot for a job of `script_hash`, preferring one that holds that script.
    pub(super) fn pick_slot(&self, script_hash: &str) -> Option<usize> {
        let mut fallback = None;
        for (i, slot) in self.slots.iter().enumerate().filter(|(_, s)| s.is_free()) {
            if slot.held.contains(script_hash) {
                return Some(i);
            }
            fallback.get_or_insert(i);
        }
        fallback
    }
}
