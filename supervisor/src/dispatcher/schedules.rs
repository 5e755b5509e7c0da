//! Schedules in the dispatcher: firing due slots (the store enqueues the job and advances
//! the schedule in one transaction). The `schedules` control requests are in
//! `requests/schedules.rs`.
//!
//! The dispatcher sleeps until the next due time the store reported, capped so a wall
//! clock that jumps forward is noticed within [`MAX_SCHEDULE_SLEEP`]; a clock that jumps
//! back cannot fire a slot twice (the store never fires a slot at or before the last one).

use std::time::Duration;

use jobvisor_protocol::control::EventKind;
use tracing::{error, info, warn};

use super::{Dispatcher, Internal};
use crate::schedule::FireReport;
use crate::store::{JobStore, StoreError};

/// Longest sleep between two looks at the schedules.
const MAX_SCHEDULE_SLEEP: Duration = Duration::from_secs(30);
/// Wait before firing again after the store failed to.
const FIRE_RETRY: Duration = Duration::from_secs(5);

impl Dispatcher {
    /// Asks the store to fire what is due, if nothing else is firing.
    pub(super) fn maybe_fire_schedules(&mut self) {
        if self.rollout.draining() || self.schedules.firing || !self.schedules.wanted {
            return;
        }
        self.schedules.firing = true;
        self.schedules.wanted = false;
        self.schedules.wake = None;
        self.when(self.store.fire_due_schedules(), Internal::Fired);
    }

    pub(super) fn on_fired(&mut self, report: Result<FireReport, StoreError>) {
        self.schedules.firing = false;
        let report = match report {
            Ok(report) => report,
            Err(err) => {
                error!(error = %err, "firing schedules failed; trying again in 5s");
                self.schedules.wake = Some(tokio::time::Instant::now() + FIRE_RETRY);
                return;
            }
        };
        for fired in &report.fired {
            self.emit(|| EventKind::ScheduleFired {
                schedule: fired.schedule.clone(),
                job: fired.job_id.0,
                slot_ms: fired.slot_ms,
                held: fired.held,
            });
        }
        for skipped in &report.skipped {
            info!(schedule = %skipped.schedule, slot = skipped.slot_ms, reason = %skipped.reason, "schedule slot not run");
            self.emit(|| EventKind::ScheduleSkipped {
                schedule: skipped.schedule.clone(),
                slot_ms: skipped.slot_ms,
                reason: skipped.reason.to_string(),
            });
        }
        for name in &report.disabled {
            warn!(schedule = %name, "schedule disabled after its failed runs");
            self.emit(|| EventKind::ScheduleDisabled {
                schedule: name.clone(),
            });
        }
        if !report.fired.is_empty() {
            self.claims.wanted = true;
        }
        let sleep = match report.next_due_ms {
            Some(at) => {
                Duration::from_millis(u64::try_from(at.saturating_sub(self.now_ms())).unwrap_or(0))
            }
            None => MAX_SCHEDULE_SLEEP,
        };
        self.schedules.wake = Some(tokio::time::Instant::now() + sleep.min(MAX_SCHEDULE_SLEEP));
    }
}

/// The dispatcher's schedule bookkeeping.
#[derive(Debug)]
pub(super) struct ScheduleTimer {
    /// When to look at the schedules next.
    pub(super) wake: Option<tokio::time::Instant>,
    /// A fire request is with the store.
    pub(super) firing: bool,
    /// Something changed (start, an edit): look now.
    pub(super) wanted: bool,
}

impl Default for ScheduleTimer {
    fn default() -> Self {
        ScheduleTimer {
            wake: None,
            firing: false,
            wanted: true,
        }
    }
}
