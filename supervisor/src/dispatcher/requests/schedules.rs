//! Schedule requests: list, show, add (refused for a script that does not exist),
//! enable, disable, remove and run now. A change makes the dispatcher look at the
//! schedules again.

use jobvisor_protocol::control::{
    ErrorCode, Response, ScheduleDetailView, ScheduleRunView, ScheduleSpec, ScheduleView,
};

use super::super::{Dispatcher, Internal};
use super::{Reply, error, read_or_error, store_error};
use crate::schedule::{ScheduleDetail, ScheduleInfo, Timing};
use crate::store::JobStore;
use crate::units::format_duration;

/// Runs shown by `schedules show`.
const RECENT_RUNS: u32 = 20;

impl Dispatcher {
    pub(super) fn list_schedules(&mut self, reply: Reply) {
        self.read(reply, |store| async move {
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
        self.read(reply, move |store| async move {
            Ok(match store.get_schedule(&name, RECENT_RUNS).await? {
                Some(detail) => Response::Schedule(Box::new(detail_view(&detail))),
                None => no_schedule(&name),
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
        let changed = self.internal_tx.clone();
        self.reply_with(reply, async move {
            // A schedule naming no script would fail at every slot: refuse it now, with
            // the names that exist.
            let script = def.script.clone();
            let names: Vec<String> = match read_or_error(store.list_scripts()).await {
                Ok(scripts) => scripts
                    .into_iter()
                    .filter(|s| s.current)
                    .map(|s| s.name)
                    .collect(),
                Err(response) => return response,
            };
            if !names.contains(&script) {
                return error(
                    ErrorCode::NotFound,
                    format!(
                        "no script `{script}` (add it with `jobvisor scripts add {script} FILE` first); {}",
                        crate::suggest::known_names("scripts", &script, &names)
                    ),
                );
            }
            let response = match store.upsert_schedule(def).await {
                Ok(outcome) => Response::ScheduleSaved {
                    name,
                    created: outcome.created,
                    next_run_at_ms: outcome.next_run_at_ms,
                },
                Err(err) => store_error(&err),
            };
            let _ = changed.send(Internal::SchedulesChanged);
            response
        });
    }

    pub(super) fn change_schedule(&mut self, name: String, change: ScheduleChange, reply: Reply) {
        if matches!(change, ScheduleChange::Remove)
            && let Some(refusal) = self.info.declared.schedule_refusal(&name)
        {
            let _ = reply.send(error(ErrorCode::BadRequest, refusal));
            return;
        }
        let changed = self.internal_tx.clone();
        let store = self.store.clone();
        self.reply_with(reply, async move {
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
                Ok(false) => no_schedule(&name),
                Err(err) => store_error(&err),
            };
            let _ = changed.send(Internal::SchedulesChanged);
            response
        });
    }

    pub(super) fn run_schedule(&mut self, name: String, reply: Reply) {
        let pending = self.store.fire_schedule_now(&name);
        self.claims.wanted = true;
        self.reply_when(reply, pending, move |run| match run {
            Some(run) => Response::ScheduleFired {
                name,
                job: run.job_id.0,
            },
            None => no_schedule(&name),
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

fn no_schedule(name: &str) -> Response {
    error(
        ErrorCode::NotFound,
        format!("no schedule `{name}`; see `jobvisor schedules list`"),
    )
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
        overlap: crate::dispatcher::views::overlap(info.def.overlap),
        enabled: info.enabled,
        disabled_reason: info.disabled_reason.clone(),
        failure_streak: info.failure_streak,
        disable_after_failures: info.def.disable_after_failures,
        next_run_at_ms: info.next_run_at_ms,
        last_run_at_ms: info.last_run_at_ms,
        last_outcome: last.map(run_outcome),
        source: crate::dispatcher::views::schedule_source(info.def.source),
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
                state: crate::dispatcher::views::job_state(run.state),
                last_outcome: run.last_outcome.map(crate::dispatcher::views::outcome),
                last_error: run.last_error.clone(),
                created_at_ms: run.created_at_ms,
                finished_at_ms: run.finished_at_ms,
            })
            .collect(),
    }
}
