//! `jobvisor schedules add|list|show|enable|disable|remove|run`.

use jobvisor_protocol::control::{ScheduleDetailView, ScheduleRunView, ScheduleSpec, ScheduleView};
use serde::Serialize;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError, ScheduleChanged};
use crate::table::{Align, Table};
use jobvisor_supervisor::cli::run::read_payload;
use jobvisor_supervisor::exit_code;
use jobvisor_supervisor::units::{format_utc, parse_duration};

/// `jobvisor schedules ...`: the subcommand, with the output and target every one of them
/// takes.
#[derive(Debug, clap::Args)]
pub struct SchedulesArgs {
    #[command(subcommand)]
    pub command: SchedulesCommand,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum SchedulesCommand {
    /// Create or update a schedule (by name; its history is kept).
    Add(Box<AddArgs>),
    /// Schedules with their next run, last run, last outcome and failure streak.
    List,
    /// A schedule and its recent runs.
    Show {
        /// The schedule's name.
        name: String,
    },
    /// Enable a schedule again (its failure streak starts over).
    Enable {
        /// The schedule's name.
        name: String,
    },
    /// Stop a schedule from firing.
    Disable {
        /// The schedule's name.
        name: String,
    },
    /// Remove a schedule (the jobs it enqueued stay).
    Remove {
        /// The schedule's name.
        name: String,
    },
    /// Enqueue one run now, outside the schedule's slots; prints the job id.
    Run {
        /// The schedule's name.
        name: String,
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
}

fn ms(d: Option<std::time::Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub async fn execute(args: &SchedulesArgs) -> Result<u8, ClientError> {
    crate::output::json_errors(args.output.json, run(args)).await
}

async fn run(args: &SchedulesArgs) -> Result<u8, ClientError> {
    let output = args.output;
    let connect = || Client::connect(&args.target);
    match &args.command {
        SchedulesCommand::Add(add) => {
            let spec = spec_of(add)?;
            let saved = connect().await?.add_schedule(spec).await?;
            output.print(&saved, |saved| {
                let next = saved.next_run_at_ms.map_or("never".to_owned(), format_utc);
                println!(
                    "schedule {} {}; next run {next}",
                    saved.name,
                    if saved.created { "added" } else { "updated" }
                );
            });
        }
        SchedulesCommand::List => {
            let schedules = connect().await?.list_schedules().await?;
            output.print(schedules.as_slice(), |schedules| {
                print!("{}", render_list(schedules));
            });
        }
        SchedulesCommand::Show { name } => {
            let detail = connect().await?.show_schedule(name.clone()).await?;
            output.print(&DetailJson::of(&detail), |_| {
                print!("{}", render_detail(&detail));
            });
        }
        SchedulesCommand::Enable { name } | SchedulesCommand::Disable { name } => {
            let enabled = matches!(args.command, SchedulesCommand::Enable { .. });
            let changed = connect()
                .await?
                .set_schedule_enabled(name.clone(), enabled)
                .await?;
            output.print(&changed, print_change);
        }
        SchedulesCommand::Remove { name } => {
            let changed = connect().await?.remove_schedule(name.clone()).await?;
            output.print(&changed, print_change);
        }
        SchedulesCommand::Run { name } => {
            let fired = connect().await?.run_schedule(name.clone()).await?;
            output.print(&fired, |fired| println!("{}", fired.job));
        }
    }
    Ok(exit_code::OK)
}

fn spec_of(args: &AddArgs) -> Result<ScheduleSpec, ClientError> {
    let payload = args
        .payload
        .as_deref()
        .map(read_payload)
        .transpose()
        .map_err(|e| ClientError::new(exit_code::USAGE, e.to_string()))?;
    Ok(ScheduleSpec {
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
    })
}

fn print_change(changed: &ScheduleChanged) {
    println!("schedule {} {}", changed.name, changed.change);
}

/// The JSON of `schedules show`: the schedule, its payload as a JSON value, its runs.
#[derive(Debug, Serialize)]
struct DetailJson<'a> {
    #[serde(flatten)]
    schedule: &'a ScheduleView,
    payload: serde_json::Value,
    runs: &'a [ScheduleRunView],
}

impl<'a> DetailJson<'a> {
    fn of(detail: &'a ScheduleDetailView) -> DetailJson<'a> {
        DetailJson {
            schedule: &detail.schedule,
            payload: serde_json::from_str(&detail.payload).unwrap_or(serde_json::Value::Null),
            runs: &detail.runs,
        }
    }
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
            r.state.to_string(),
            r.last_outcome
                .map_or_else(|| "-".to_owned(), |o| o.to_string()),
            r.last_error.clone().unwrap_or_default(),
        ]);
    }
    out.push('\n');
    out.push_str(&table.render());
    out
}
