//! `jobvisor logs --follow`: the daemon's job, worker and schedule events as they happen.

use jobvisor_protocol::control::{AttemptOutcome, Event, EventKind, WorkerState};
use jobvisor_protocol::worker::LogLevel;
use jobvisor_supervisor::exit_code;
use jobvisor_supervisor::units::format_utc;
use serde::Serialize;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError};

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Keep printing events as they happen (required: past events are in `jobs show`).
    #[arg(long, short)]
    pub follow: bool,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

pub async fn execute(args: &LogsArgs) -> Result<u8, ClientError> {
    if !args.follow {
        return Err(ClientError::new(
            exit_code::USAGE,
            "`jobvisor logs` streams live events: add --follow (an attempt's console lines are in `jobvisor jobs show ID`)",
        ));
    }
    let mut client = Client::connect(&args.target).await?;
    client.follow().await?;
    while let Some(event) = client.next_event().await? {
        args.output.print(&EventLine::of(&event), |_| {
            println!("{}", render_event(&event))
        });
    }
    eprintln!("jobvisor: the daemon closed the stream (it stopped)");
    Ok(exit_code::OK)
}

/// One line of `logs --follow --json`: the event's kind as `"event"`, its fields, and
/// `at_ms`.
#[derive(Debug, Serialize)]
struct EventLine<'a> {
    #[serde(flatten)]
    kind: EventJson<'a>,
    at_ms: i64,
}

/// [`EventKind`] tagged with its name, as JSON readers expect (the wire enum is tagged by
/// position).
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum EventJson<'a> {
    JobStarted {
        job: i64,
        attempt: u32,
        worker: u32,
        script: &'a str,
    },
    JobEnded {
        job: i64,
        attempt: u32,
        worker: u32,
        outcome: AttemptOutcome,
        duration_ms: u64,
        error: Option<&'a str>,
    },
    Console {
        job: i64,
        attempt: u32,
        level: LogLevel,
        text: &'a str,
    },
    Worker {
        worker: u32,
        state: WorkerState,
        pid: Option<u32>,
    },
    Lagged {
        missed: u64,
    },
    ScheduleFired {
        schedule: &'a str,
        job: i64,
        slot_ms: Option<i64>,
        held: bool,
    },
    ScheduleSkipped {
        schedule: &'a str,
        slot_ms: i64,
        reason: &'a str,
    },
    ScheduleDisabled {
        schedule: &'a str,
    },
}

impl<'a> EventLine<'a> {
    fn of(event: &'a Event) -> EventLine<'a> {
        let kind = match &event.kind {
            EventKind::JobStarted {
                job,
                attempt,
                worker,
                script,
            } => EventJson::JobStarted {
                job: *job,
                attempt: *attempt,
                worker: *worker,
                script,
            },
            EventKind::JobEnded {
                job,
                attempt,
                worker,
                outcome,
                duration_ms,
                error,
            } => EventJson::JobEnded {
                job: *job,
                attempt: *attempt,
                worker: *worker,
                outcome: *outcome,
                duration_ms: *duration_ms,
                error: error.as_deref(),
            },
            EventKind::Console {
                job,
                attempt,
                level,
                text,
            } => EventJson::Console {
                job: *job,
                attempt: *attempt,
                level: *level,
                text,
            },
            EventKind::Worker { worker, state, pid } => EventJson::Worker {
                worker: *worker,
                state: *state,
                pid: *pid,
            },
            EventKind::Lagged { missed } => EventJson::Lagged { missed: *missed },
            EventKind::ScheduleFired {
                schedule,
                job,
                slot_ms,
                held,
            } => EventJson::ScheduleFired {
                schedule,
                job: *job,
                slot_ms: *slot_ms,
                held: *held,
            },
            EventKind::ScheduleSkipped {
                schedule,
                slot_ms,
                reason,
            } => EventJson::ScheduleSkipped {
                schedule,
                slot_ms: *slot_ms,
                reason,
            },
            EventKind::ScheduleDisabled { schedule } => EventJson::ScheduleDisabled { schedule },
        };
        EventLine {
            kind,
            at_ms: event.at_ms,
        }
    }
}

fn render_event(event: &Event) -> String {
    let at = if event.at_ms > 0 {
        format_utc(event.at_ms)
    } else {
        "-".to_owned()
    };
    match &event.kind {
        EventKind::JobStarted {
            job,
            attempt,
            worker,
            script,
        } => {
            format!("{at}  job {job} attempt {attempt} started on worker {worker} ({script})")
        }
        EventKind::JobEnded {
            job,
            attempt,
            worker,
            outcome,
            duration_ms,
            error,
        } => {
            let error = error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
            format!(
                "{at}  job {job} attempt {attempt} {outcome} on worker {worker} after {duration_ms} ms{error}"
            )
        }
        EventKind::Console {
            job, level, text, ..
        } => format!("{at}  job {job} {level}: {text}"),
        EventKind::Worker { worker, state, pid } => {
            let pid = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            format!("{at}  worker {worker} {state}{pid}")
        }
        EventKind::Lagged { missed } => {
            format!("{at}  ({missed} events missed: this terminal read too slowly)")
        }
        EventKind::ScheduleFired {
            schedule,
            job,
            held,
            ..
        } => {
            let held = if *held {
                " (held behind the run still going)"
            } else {
                ""
            };
            format!("{at}  schedule {schedule} enqueued job {job}{held}")
        }
        EventKind::ScheduleSkipped {
            schedule, reason, ..
        } => format!("{at}  schedule {schedule} slot not run: {reason}"),
        EventKind::ScheduleDisabled { schedule } => {
            format!("{at}  schedule {schedule} disabled after its failed runs")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `logs --follow --json` names each event in `"event"` next to its fields, as it did
    /// when the lines were assembled by hand.
    #[test]
    fn event_lines_carry_their_name_and_fields() {
        let ended = Event {
            at_ms: 1_000,
            kind: EventKind::JobEnded {
                job: 4,
                attempt: 1,
                worker: 0,
                outcome: AttemptOutcome::JsError,
                duration_ms: 12,
                error: Some("Error: boom".into()),
            },
        };
        let console = Event {
            at_ms: 2_000,
            kind: EventKind::Console {
                job: 4,
                attempt: 1,
                level: LogLevel::Warn,
                text: "careful".into(),
            },
        };
        let text =
            |event: &Event| serde_json::to_value(EventLine::of(event)).map(|v| v.to_string());
        assert_eq!(
            text(&ended).expect("serialises"),
            r#"{"at_ms":1000,"attempt":1,"duration_ms":12,"error":"Error: boom","event":"job_ended","job":4,"outcome":"js_error","worker":0}"#
        );
        assert_eq!(
            text(&console).expect("serialises"),
            r#"{"at_ms":2000,"attempt":1,"event":"console","job":4,"level":"warn","text":"careful"}"#
        );
    }
}
