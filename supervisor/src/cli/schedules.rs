//! `jobvisor schedules add|list|show|enable|disable|remove|run`.

use jobvisor_protocol::control::{
    Request, Response, ScheduleDetailView, ScheduleSpec, ScheduleView,
};

use super::client::{Client, ClientError, Target, daemon_error, unexpected};
use super::jobs::print_json;
use super::run::read_payload;
use super::table::{Align, Table};
use crate::exit_code;
use crate::units::{format_utc, parse_duration};

#[derive(Debug, clap::Subcommand)]
pub enum SchedulesCommand {
    /// Create or update a schedule (by name; its history is kept).
    Add(Box<AddArgs>),
    /// Schedules with their next run, last run, last outcome and failure streak.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// A schedule and its recent runs.
    Show {
        /// The schedule's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Enable a schedule again (its failure streak starts over).
    Enable {
        /// The schedule's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Stop a schedule from firing.
    Disable {
        /// The schedule's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a schedule (the jobs it enqueued stay).
    Remove {
        /// The schedule's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Enqueue one run now, outside the schedule's slots; prints the job id.
    Run {
        /// The schedule's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The schedule's name; an existing schedule of that name is updated.
    pub name: String,
    /// The script each run executes (it must exist: see `jobvisor scripts list`).
    #[arg(long)]
    pub script: String,
    /// Run every interval (e.g. 60s, 5m), aligned to the clock.
    #[arg(long, value_parser = parse_duration, conflicts_with = "cron")]
    pub every: Option<std::time::Duration>,
    /// Run at the times of a cron expression (5 or 6 fields), e.g. "0 2 * * *".
    #[arg(long)]
    pub cron: Option<String>,
    /// Time zone of the cron expression (IANA name, default UTC).
    #[arg(long, requires = "cron")]
    pub timezone: Option<String>,
    /// Payload of each run: JSON text, @FILE or - (default {}).
    #[arg(long)]
    pub payload: Option<String>,
    /// skip (default: no new run while the last one is queued or running), queue, allow.
    #[arg(long)]
    pub overlap: Option<String>,
    /// Missed slots after downtime: coalesce (default: one run) or skip.
    #[arg(long)]
    pub catch_up: Option<String>,
    /// Disable the schedule after this many consecutive failed runs (default 5).
    #[arg(long)]
    pub disable_after_failures: Option<u32>,
    /// Timeout of each run's attempts (default: the daemon's `[jobs] timeout`).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Attempts of each run (default: the daemon's max_attempts).
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Queue of the runs (default: the daemon's default queue).
    #[arg(long)]
    pub queue: Option<String>,
    /// Priority of the runs: higher runs first (default 0).
    #[arg(long, allow_hyphen_values = true)]
    pub priority: Option<i32>,
    /// Delay each run by up to this much (the same for a given slot), to spread fleets.
    #[arg(long, value_parser = parse_duration)]
    pub jitter: Option<std::time::Duration>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: Target,
}

fn ms(d: Option<std::time::Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SchedulesCommand {
    fn json(&self) -> bool {
        match self {
            SchedulesCommand::Add(args) => args.json,
            SchedulesCommand::List { json, .. }
            | SchedulesCommand::Show { json, .. }
            | SchedulesCommand::Enable { json, .. }
            | SchedulesCommand::Disable { json, .. }
            | SchedulesCommand::Remove { json, .. }
            | SchedulesCommand::Run { json, .. } => *json,
        }
    }
}

pub async fn execute(command: &SchedulesCommand) -> Result<u8, ClientError> {
    super::json_errors(command.json(), run(command)).await
}

async fn run(command: &SchedulesCommand) -> Result<u8, ClientError> {
    let (request, target, json) = match command {
        SchedulesCommand::Add(args) => {
            let payload = args
                .payload
                .as_deref()
                .map(read_payload)
                .transpose()
                .map_err(|e| ClientError::new(exit_code::USAGE, e.to_string()))?;
            let spec = ScheduleSpec {
                name: args.name.clone(),
                script: args.script.clone(),
                payload,
                every_ms: ms(args.every),
                cron: args.cron.clone(),
                timezone: args.timezone.clone(),
                queue: args.queue.clone(),
                priority: args.priority,
                timeout_ms: ms(args.timeout),
                max_attempts: args.max_attempts,
                jitter_ms: ms(args.jitter),
                overlap: args.overlap.clone(),
                catch_up: args.catch_up.clone(),
                disable_after_failures: args.disable_after_failures,
            };
            (Request::AddSchedule(spec), &args.target, args.json)
        }
        SchedulesCommand::List { json, target } => (Request::ListSchedules, target, *json),
        SchedulesCommand::Show { name, json, target } => {
            (Request::ShowSchedule { name: name.clone() }, target, *json)
        }
        SchedulesCommand::Enable { name, json, target } => (
            Request::SetScheduleEnabled {
                name: name.clone(),
                enabled: true,
            },
            target,
            *json,
        ),
        SchedulesCommand::Disable { name, json, target } => (
            Request::SetScheduleEnabled {
                name: name.clone(),
                enabled: false,
            },
            target,
            *json,
        ),
        SchedulesCommand::Remove { name, json, target } => (
            Request::RemoveSchedule { name: name.clone() },
            target,
            *json,
        ),
        SchedulesCommand::Run { name, json, target } => {
            (Request::RunSchedule { name: name.clone() }, target, *json)
        }
    };
    match Client::connect(target).await?.request(&request).await? {
        Response::ScheduleSaved {
            name,
            created,
            next_run_at_ms,
        } => {
            if json {
                print_json(
                    &serde_json::json!({ "name": name, "created": created, "next_run_at_ms": next_run_at_ms }),
                );
            } else {
                let next = next_run_at_ms.map_or("never".to_owned(), format_utc);
                println!(
                    "schedule {name} {}; next run {next}",
                    if created { "added" } else { "updated" }
                );
            }
        }
        Response::Schedules(schedules) => {
            if json {
                print_json(&serde_json::Value::Array(
                    schedules.iter().map(view_json).collect(),
                ));
            } else {
                print!("{}", render_list(&schedules));
            }
        }
        Response::Schedule(detail) => {
            if json {
                let mut value = view_json(&detail.schedule);
                value["payload"] =
                    serde_json::from_str(&detail.payload).unwrap_or(serde_json::Value::Null);
                value["runs"] = detail
                    .runs
                    .iter()
                    .map(|r| serde_json::json!({
                        "job": r.job, "slot_ms": r.slot_ms, "state": r.state, "last_outcome": r.last_outcome,
                        "last_error": r.last_error, "created_at_ms": r.created_at_ms, "finished_at_ms": r.finished_at_ms,
                    }))
                    .collect();
                print_json(&value);
            } else {
                print!("{}", render_detail(&detail));
            }
        }
        Response::ScheduleChanged { name, change } => {
            if json {
                print_json(&serde_json::json!({ "name": name, "change": change }));
            } else {
                println!("schedule {name} {change}");
            }
        }
        Response::ScheduleFired { name, job } => {
            if json {
                print_json(&serde_json::json!({ "name": name, "job": job }));
            } else {
                println!("{job}");
            }
        }
        Response::Error(err) => return Err(daemon_error(&err)),
        other => return Err(unexpected(&other)),
    }
    Ok(exit_code::OK)
}

fn view_json(s: &ScheduleView) -> serde_json::Value {
    serde_json::json!({
        "name": s.name, "script": s.script, "timing": s.timing, "queue": s.queue, "overlap": s.overlap,
        "enabled": s.enabled, "disabled_reason": s.disabled_reason, "failure_streak": s.failure_streak,
        "disable_after_failures": s.disable_after_failures, "next_run_at_ms": s.next_run_at_ms,
        "last_run_at_ms": s.last_run_at_ms, "last_outcome": s.last_outcome, "source": s.source,
        "last_skip": s.last_skip,
    })
}

fn when(ms: Option<i64>) -> String {
    ms.map_or("-".to_owned(), format_utc)
}

pub fn render_list(schedules: &[ScheduleView]) -> String {
    if schedules.is_empty() {
        return "no schedules: declare [[schedule]] in the config or use `jobvisor schedules add`\n".to_owned();
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("TIMING", Align::Left),
        ("NEXT RUN", Align::Left),
        ("LAST RUN", Align::Left),
        ("LAST OUTCOME", Align::Left),
        ("FAILED", Align::Right),
        ("STATUS", Align::Left),
    ]);
    for s in schedules {
        let status = if s.enabled {
            "enabled".to_owned()
        } else {
            format!("DISABLED: {}", s.disabled_reason.as_deref().unwrap_or(""))
        };
        table.row(vec![
            s.name.clone(),
            s.timing.clone(),
            if s.enabled {
                when(s.next_run_at_ms)
            } else {
                "-".to_owned()
            },
            when(s.last_run_at_ms),
            s.last_outcome.clone().unwrap_or_else(|| "-".to_owned()),
            format!("{}/{}", s.failure_streak, s.disable_after_failures),
            status,
        ]);
    }
    table.render()
}

fn render_detail(detail: &ScheduleDetailView) -> String {
    let s = &detail.schedule;
    let mut out = format!(
        "schedule {}  {}  ({})\n",
        s.name,
        s.timing,
        if s.enabled { "enabled" } else { "disabled" }
    );
    if let Some(reason) = &s.disabled_reason {
        out.push_str(&format!("  disabled: {reason}\n"));
    }
    out.push_str(&format!(
        "  script {}, queue {}, overlap {}, failed runs in a row {}/{}, from {}\n",
        s.script, s.queue, s.overlap, s.failure_streak, s.disable_after_failures, s.source
    ));
    out.push_str(&format!(
        "  next run {}, last run {}\n",
        when(s.next_run_at_ms),
        when(s.last_run_at_ms)
    ));
    if let Some(skip) = &s.last_skip {
        out.push_str(&format!("  last skipped slot: {skip}\n"));
    }
    out.push_str(&format!("payload: {}\n", detail.payload));
    if detail.runs.is_empty() {
        out.push_str("no runs yet\n");
        return out;
    }
    let mut table = Table::new(&[
        ("JOB", Align::Left),
        ("SLOT", Align::Left),
        ("STATE", Align::Left),
        ("OUTCOME", Align::Left),
        ("ERROR", Align::Left),
    ]);
    for r in &detail.runs {
        table.row(vec![
            r.job.to_string(),
            r.slot_ms.map_or("manual".to_owned(), format_utc),
            r.state.clone(),
            r.last_outcome.clone().unwrap_or_else(|| "-".to_owned()),
            r.last_error.clone().unwrap_or_default(),
        ]);
    }
    out.push('\n');
    out.push_str(&table.render());
    out
}
