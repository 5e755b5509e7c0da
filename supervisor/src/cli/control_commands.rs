//! `jobvisor restart`, `drain` and `logs --follow`: commands that act on the running
//! daemon as a whole.

use jobvisor_protocol::control::{AttemptOutcome, Event, EventKind, WorkerState};
use jobvisor_protocol::worker::LogLevel;
use serde::Serialize;

use super::Output;
use super::client::{Client, ClientError, Target};
use super::progress::{Watch, with_progress};
use crate::exit_code;
use crate::units::format_utc;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["worker", "all"])))]
pub struct RestartArgs {
    /// The worker to replace (see `jobvisor status`); or --all.
    pub worker: Option<u32>,
    /// Replace every worker, one at a time.
    #[arg(long)]
    pub all: bool,
    /// Kill the job in hand instead of waiting for it (its attempt is refunded).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

pub async fn restart(args: &RestartArgs) -> Result<u8, ClientError> {
    let worker = if args.all { None } else { args.worker };
    let socket = args.target.socket_path()?;
    let mut client = Client::connect_path(&socket).await?;
    let restarted = with_progress(
        &socket,
        Watch::Restart { worker },
        client.restart(worker, args.force),
    )
    .await?;
    args.output.print(&restarted, |restarted| {
        let list: Vec<String> = restarted.replaced.iter().map(u32::to_string).collect();
        println!(
            "replaced worker{} {}",
            if list.len() == 1 { "" } else { "s" },
            list.join(", ")
        );
    });
    Ok(exit_code::OK)
}

#[derive(Debug, clap::Args)]
pub struct DrainArgs {
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

pub async fn drain(args: &DrainArgs) -> Result<u8, ClientError> {
    let socket = args.target.socket_path()?;
    let mut client = Client::connect_path(&socket).await?;
    let report = with_progress(&socket, Watch::Drain, client.drain()).await?;
    args.output.print(&report, |report| {
        println!(
            "drained in {:.1}s: {} job{} finished, {} failed, {} requeued; the daemon is stopping",
            report.duration_ms as f64 / 1000.0,
            report.finished,
            if report.finished == 1 { "" } else { "s" },
            report.failed,
            report.requeued
        );
    });
    Ok(exit_code::OK)
}

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

pub async fn logs(args: &LogsArgs) -> Result<u8, ClientError> {
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
