//! `jobvisor restart`, `drain` and `logs --follow`: commands that act on the running
//! daemon as a whole.

use jobvisor_protocol::control::{Event, EventKind, Request, Response};

use super::client::{Client, ClientError, Target, daemon_error, unexpected};
use super::jobs::print_json;
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
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: Target,
}

pub async fn restart(args: &RestartArgs) -> Result<u8, ClientError> {
    let worker = if args.all { None } else { args.worker };
    let request = Request::Restart {
        worker,
        force: args.force,
    };
    let socket = args.target.socket_path()?;
    let mut client = Client::connect_path(&socket).await?;
    let answer = with_progress(&socket, Watch::Restart { worker }, client.request(&request));
    match answer.await? {
        Response::Restarting { workers } => {
            if args.json {
                print_json(&serde_json::json!({ "replaced": workers }));
            } else {
                let list: Vec<String> = workers.iter().map(u32::to_string).collect();
                println!(
                    "replaced worker{} {}",
                    if workers.len() == 1 { "" } else { "s" },
                    list.join(", ")
                );
            }
            Ok(exit_code::OK)
        }
        Response::Error(err) => Err(daemon_error(&err)),
        other => Err(unexpected(&other)),
    }
}

#[derive(Debug, clap::Args)]
pub struct DrainArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: Target,
}

pub async fn drain(args: &DrainArgs) -> Result<u8, ClientError> {
    let socket = args.target.socket_path()?;
    let mut client = Client::connect_path(&socket).await?;
    let answer = with_progress(&socket, Watch::Drain, client.request(&Request::Drain));
    match answer.await? {
        Response::Drained(report) => {
            if args.json {
                print_json(&serde_json::json!({
                    "finished": report.finished, "failed": report.failed,
                    "requeued": report.requeued, "duration_ms": report.duration_ms,
                }));
            } else {
                println!(
                    "drained in {:.1}s: {} job{} finished, {} failed, {} requeued; the daemon is stopping",
                    report.duration_ms as f64 / 1000.0,
                    report.finished,
                    if report.finished == 1 { "" } else { "s" },
                    report.failed,
                    report.requeued
                );
            }
            Ok(exit_code::OK)
        }
        Response::Error(err) => Err(daemon_error(&err)),
        other => Err(unexpected(&other)),
    }
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Keep printing events as they happen (required: past events are in `jobs show`).
    #[arg(long, short)]
    pub follow: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
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
    match client.request(&Request::Follow).await? {
        Response::Following => {}
        Response::Error(err) => return Err(daemon_error(&err)),
        other => return Err(unexpected(&other)),
    }
    loop {
        match client.next().await? {
            Some(Response::Event(event)) => {
                if args.json {
                    println!("{}", event_json(&event));
                } else {
                    println!("{}", render_event(&event));
                }
            }
            Some(other) => return Err(unexpected(&other)),
            None => {
                eprintln!("jobvisor: the daemon closed the stream (it stopped)");
                return Ok(exit_code::OK);
            }
        }
    }
}

fn event_json(event: &Event) -> serde_json::Value {
    let mut value = match &event.kind {
        EventKind::JobStarted {
            job,
            attempt,
            worker,
            script,
        } => {
            serde_json::json!({ "event": "job_started", "job": job, "attempt": attempt, "worker": worker, "script": script })
        }
        EventKind::JobEnded {
            job,
            attempt,
            worker,
            outcome,
            duration_ms,
            error,
        } => serde_json::json!({
            "event": "job_ended", "job": job, "attempt": attempt, "worker": worker,
            "outcome": outcome, "duration_ms": duration_ms, "error": error,
        }),
        EventKind::Console {
            job,
            attempt,
            level,
            text,
        } => {
            serde_json::json!({ "event": "console", "job": job, "attempt": attempt, "level": level, "text": text })
        }
        EventKind::Worker { worker, state, pid } => {
            serde_json::json!({ "event": "worker", "worker": worker, "state": state, "pid": pid })
        }
        EventKind::Lagged { missed } => serde_json::json!({ "event": "lagged", "missed": missed }),
        EventKind::ScheduleFired {
            schedule,
            job,
            slot_ms,
            held,
        } => serde_json::json!({
            "event": "schedule_fired", "schedule": schedule, "job": job, "slot_ms": slot_ms, "held": held,
        }),
        EventKind::ScheduleSkipped {
            schedule,
            slot_ms,
            reason,
        } => serde_json::json!({
            "event": "schedule_skipped", "schedule": schedule, "slot_ms": slot_ms, "reason": reason,
        }),
        EventKind::ScheduleDisabled { schedule } => {
            serde_json::json!({ "event": "schedule_disabled", "schedule": schedule })
        }
    };
    value["at_ms"] = serde_json::json!(event.at_ms);
    value
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
