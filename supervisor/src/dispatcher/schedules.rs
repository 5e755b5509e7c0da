//! Schedules in the dispatcher: firing due slots (the store enqueues the job and advances
//! the schedule in one transaction) and the `schedules` control requests.
//!
//! The dispatcher sleeps until the next due time the store reported, capped so a wall
//! clock that jumps forward is noticed within [`MAX_SCHEDULE_SLEEP`]; a clock that jumps
//! back cannot fire a slot twice (the store never fires a slot at or before the last one).

use std::time::Duration;

use jobvisor_protocol::control::{
    ErrorCode, EventKind, Response, ScheduleDetailView, ScheduleRunView, ScheduleSpec, ScheduleView,
};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::control::{error, read, store_error};
use super::{Dispatcher, Internal, now_ms};
use crate::schedule::{FireReport, ScheduleDetail, ScheduleInfo, Timing};
use crate::store::{JobStore, StoreError};
use crate::units::format_duration;

/// Longest sleep between two looks at the schedules.
const MAX_SCHEDULE_SLEEP: Duration = Duration::from_secs(30);
/// Runs shown by `schedules show`.
const RECENT_RUNS: u32 = 20;

type Reply = oneshot::Sender<Response>;

impl Dispatcher {
    /// Asks the store to fire what is due, if nothing else is firing.
    pub(super) fn maybe_fire_schedules(&mut self) {
        if self.draining() || self.schedules.firing || !self.schedules.wanted {
            return;
        }
        self.schedules.firing = true;
        self.schedules.wanted = false;
        self.schedules.wake = None;
        let pending = self.store.fire_due_schedules();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(Internal::Fired(pending.await));
        });
    }

    pub(super) fn on_fired(&mut self, report: Result<FireReport, StoreError>) {
        self.schedules.firing = false;
        let report = match report {
            Ok(report) => report,
            Err(err) => {
                error!(error = %err, "firing schedules failed; trying again in 5s");
                self.schedules.wake = Some(tokio::time::Instant::now() + Duration::from_secs(5));
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
            self.claim_wanted = true;
        }
        let sleep = match report.next_due_ms {
            Some(at) => {
                Duration::from_millis(u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0))
            }
            None => MAX_SCHEDULE_SLEEP,
        };
        self.schedules.wake = Some(tokio::time::Instant::now() + sleep.min(MAX_SCHEDULE_SLEEP));
    }

    pub(super) fn list_schedules(&mut self, reply: Reply) {
        read(&self.store, reply, |store| async move {
            let mut views = Vec::new();
            for info in store.list_schedules().await? {
                let last = store
                    .get_schedule(&info.def.name, 1)
                    .await?
                    .and_then(|d| d.recent_runs.into_iter().next());
                views.push(schedule_view(&info, last.as_ref()));
            }
            Ok(Response::Schedules(views))
        });
    }

    pub(super) fn show_schedule(&mut self, name: String, reply: Reply) {
        read(&self.store, reply, move |store| async move {
            Ok(match store.get_schedule(&name, RECENT_RUNS).await? {
                Some(detail) => Response::Schedule(Box::new(detail_view(&detail))),
                None => error(
                    ErrorCode::NotFound,
                    format!("no schedule `{name}`; see `jobvisor schedules list`"),
                ),
            })
        });
    }

    pub(super) fn add_schedule(&mut self, spec: ScheduleSpec, reply: Reply) {
        let def = match crate::config::schedule_def_from_spec(&spec) {
            Ok(def) => def,
            Err(message) => {
                let _ = reply.send(error(ErrorCode::BadRequest, message));
                return;
            }
        };
        let name = def.name.clone();
        if let Some(refusal) = self.info.declared.schedule_refusal(&name) {
            let _ = reply.send(error(ErrorCode::BadRequest, refusal));
            return;
        }
        let store = self.store.clone();
        self.schedules.wanted = true;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            // A schedule naming no script would fail at every slot: refuse it now, with
            // the names that exist.
            let script = def.script.clone();
            let scripts = store.list_scripts().await;
            let names: Vec<String> = match scripts {
                Ok(scripts) => scripts
                    .into_iter()
                    .filter(|s| s.current)
                    .map(|s| s.name)
                    .collect(),
                Err(err) => {
                    let _ = reply.send(store_error(&err));
                    return;
                }
            };
            if !names.contains(&script) {
                let _ = reply.send(error(
                    ErrorCode::NotFound,
                    format!(
                        "no script `{script}` (add it with `jobvisor scripts add {script} FILE` first); {}",
                        crate::suggest::known_names("scripts", &script, &names)
                    ),
                ));
                return;
            }
            let response = match store.upsert_schedule(def).await {
                Ok(outcome) => Response::ScheduleSaved {
                    name,
                    created: outcome.created,
                    next_run_at_ms: outcome.next_run_at_ms,
                },
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
            let _ = tx.send(Internal::SchedulesChanged);
        });
    }

    pub(super) fn change_schedule(&mut self, name: String, change: ScheduleChange, reply: Reply) {
        if matches!(change, ScheduleChange::Remove)
            && let Some(refusal) = self.info.declared.schedule_refusal(&name)
        {
            let _ = reply.send(error(ErrorCode::BadRequest, refusal));
            return;
        }
        let tx = self.internal_tx.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            let found = match change {
                ScheduleChange::Enable => store.set_schedule_enabled(&name, true).await,
                ScheduleChange::Disable => store.set_schedule_enabled(&name, false).await,
                ScheduleChange::Remove => store.remove_schedule(&name).await,
            };
            let response = match found {
                Ok(true) => Response::ScheduleChanged {
                    name,
                    change: change.done(),
                },
                Ok(false) => error(
                    ErrorCode::NotFound,
                    format!("no schedule `{name}`; see `jobvisor schedules list`"),
                ),
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
            let _ = tx.send(Internal::SchedulesChanged);
        });
    }

    pub(super) fn run_schedule(&mut self, name: String, reply: Reply) {
        let pending = self.store.fire_schedule_now(&name);
        self.claim_wanted = true;
        tokio::spawn(async move {
            let response = match pending.await {
                Ok(Some(run)) => Response::ScheduleFired {
                    name,
                    job: run.job_id.0,
                },
                Ok(None) => error(
                    ErrorCode::NotFound,
                    format!("no schedule `{name}`; see `jobvisor schedules list`"),
                ),
                Err(err) => store_error(&err),
            };
            let _ = reply.send(response);
        });
    }
}

/// What `schedules enable|disable|remove` does.
#[derive(Debug, Clone, Copy)]
pub(super) enum ScheduleChange {
    Enable,
    Disable,
    Remove,
}

impl ScheduleChange {
    fn done(self) -> jobvisor_protocol::control::ScheduleChange {
        use jobvisor_protocol::control::ScheduleChange as Done;
        match self {
            ScheduleChange::Enable => Done::Enabled,
            ScheduleChange::Disable => Done::Disabled,
            ScheduleChange::Remove => Done::Removed,
        }
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

fn timing_text(timing: &Timing) -> String {
    match timing {
        Timing::Every(period) => format!("every {}", format_duration(*period)),
        Timing::Cron(cron) => format!("cron {} ({})", cron.expr(), cron.timezone()),
    }
}

fn schedule_view(info: &ScheduleInfo, last: Option<&crate::schedule::ScheduleRun>) -> ScheduleView {
    ScheduleView {
        name: info.def.name.clone(),
        script: info.def.script.clone(),
        timing: timing_text(&info.def.timing),
        queue: info.def.queue.clone(),
        overlap: super::views::overlap(info.def.overlap),
        enabled: info.enabled,
        disabled_reason: info.disabled_reason.clone(),
        failure_streak: info.failure_streak,
        disable_after_failures: info.def.disable_after_failures,
        next_run_at_ms: info.next_run_at_ms,
        last_run_at_ms: info.last_run_at_ms,
        last_outcome: last.map(run_outcome),
        source: super::views::schedule_source(info.def.source),
        last_skip: info.last_skip.clone(),
    }
}

fn run_outcome(run: &crate::schedule::ScheduleRun) -> String {
    match run.last_outcome {
        Some(outcome) if run.state.is_finished() && outcome.as_str() != run.state.as_str() => {
            format!("{} ({})", run.state.as_str(), outcome.as_str())
        }
        _ => run.state.as_str().to_owned(),
    }
}

fn detail_view(detail: &ScheduleDetail) -> ScheduleDetailView {
    ScheduleDetailView {
        schedule: schedule_view(&detail.info, detail.recent_runs.first()),
        payload: detail.info.def.payload.clone(),
        runs: detail
            .recent_runs
            .iter()
            .map(|run| ScheduleRunView {
                job: run.job_id.0,
                slot_ms: run.slot_ms,
                state: super::views::job_state(run.state),
                last_outcome: run.last_outcome.map(super::views::outcome),
                last_error: run.last_error.clone(),
                created_at_ms: run.created_at_ms,
                finished_at_ms: run.finished_at_ms,
            })
            .collect(),
    }
}
