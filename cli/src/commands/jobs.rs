//! `jobvisor jobs list|show|retry|cancel`.

use jobvisor_protocol::control::{
    AttemptView, JobQuery, JobState, JobSummary, JobView, MAX_LIST_LIMIT,
};
use serde::Serialize;

use crate::args::{Output, Target, one_of};
use crate::client::{Client, ClientError};
use crate::table::{Align, Table};
use jobvisor_supervisor::exit_code;
use jobvisor_supervisor::units::{format_size_approx, format_utc};

/// `jobvisor jobs ...`: the subcommand, with the output and target every one of them takes.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub command: JobsCommand,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first, one page at a time.
    ///
    /// At most --limit jobs are printed; when there may be more, the human output ends
    /// with the command for the next page (`--before` the last id shown). With --json (an
    /// array of jobs), pass the last id of the array as --before.
    List {
        /// Only jobs in this state.
        #[arg(long, value_parser = one_of::<JobState>(JobState::NAMES))]
        state: Option<JobState>,
        /// Only jobs of this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Only jobs of this script (any version).
        #[arg(long)]
        script: Option<String>,
        /// Most jobs to print (1 to 10000).
        #[arg(long, default_value_t = 50,
              value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LIST_LIMIT)))]
        limit: u32,
        /// Only jobs with an id below ID: the next page after the job ID.
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
    },
    /// Show a job: payload, result, and every attempt with its outcome, error, duration,
    /// memory and console lines.
    Show {
        /// The job's id.
        id: i64,
    },
    /// Run a discarded, cancelled, retryable or scheduled job again, now (with one more
    /// attempt if it had used them all).
    ///
    /// A retry runs the script version the job was enqueued with, so a job retried after
    /// a fix was added with `scripts add` fails as before; `--latest` runs the script's
    /// current version instead. `jobs show` tells which version a job has.
    Retry {
        /// The job's id.
        id: i64,
        /// Switch the job to the current version of its script before it runs again
        /// (default: keep the version it was enqueued with).
        #[arg(long)]
        latest: bool,
    },
    /// Cancel a job; a running one has its worker killed.
    Cancel {
        /// The job's id.
        id: i64,
    },
}

pub async fn execute(args: &JobsArgs) -> Result<u8, ClientError> {
    crate::output::json_errors(args.output.json, run(args)).await
}

async fn run(args: &JobsArgs) -> Result<u8, ClientError> {
    let output = args.output;
    let mut client = Client::connect(&args.target).await?;
    match &args.command {
        JobsCommand::List {
            state,
            queue,
            script,
            limit,
            before,
        } => {
            let query = JobQuery {
                state: *state,
                queue: queue.clone(),
                script: script.clone(),
                limit: *limit,
                before: *before,
            };
            let jobs = client.list_jobs(query).await?;
            output.print(jobs.as_slice(), |jobs| {
                print!("{}", render_list(jobs));
                if let Some(last) = jobs.last().filter(|_| jobs.len() >= *limit as usize) {
                    println!("(next page: jobs list --before {} ...)", last.id);
                }
            });
        }
        JobsCommand::Show { id } => {
            let job = client.show_job(*id).await?;
            output.print(&JobJson::of(&job), |_| print!("{}", render_job(&job)));
        }
        JobsCommand::Retry { id, latest } => {
            let retried = client.retry_job(*id, *latest).await?;
            output.print(&retried, |retried| {
                let version = short_hash(&retried.script_hash);
                let which = match (*latest, retried.script_changed) {
                    (true, true) => format!("the current script version {version}"),
                    (true, false) => format!("script version {version}, the current one already"),
                    (false, _) => format!(
                        "script version {version}, the version it was enqueued with (--latest runs the current one)"
                    ),
                };
                println!(
                    "job {} is queued again with {which}; it may use up to {} attempts",
                    retried.id, retried.max_attempts
                );
            });
        }
        JobsCommand::Cancel { id } => {
            let cancelled = client.cancel_job(*id).await?;
            output.print(&cancelled, |cancelled| {
                if cancelled.was_running {
                    println!(
                        "job {} was running: its worker is being killed and the job cancelled",
                        cancelled.id
                    );
                } else {
                    println!("job {} cancelled", cancelled.id);
                }
            });
        }
    }
    Ok(exit_code::OK)
}

/// The first 12 hex digits of a script version, as listings show it.
pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The JSON of `jobs show` (also what `enqueue --wait --json` prints): the job's summary
/// and details in one object, with its payload and result as JSON values rather than text.
#[derive(Debug, Serialize)]
pub struct JobJson<'a> {
    #[serde(flatten)]
    summary: &'a JobSummary,
    script_hash: &'a str,
    current_script_hash: Option<&'a str>,
    payload: serde_json::Value,
    result: Option<serde_json::Value>,
    unique_key: Option<&'a str>,
    timeout_ms: Option<u64>,
    attempts: &'a [AttemptView],
    parent: Option<i64>,
    children: &'a [i64],
}

impl<'a> JobJson<'a> {
    pub fn of(job: &'a JobView) -> JobJson<'a> {
        JobJson {
            summary: &job.summary,
            script_hash: &job.script_hash,
            current_script_hash: job.current_script_hash.as_deref(),
            payload: json_value(&job.payload),
            result: job.result.as_deref().map(json_value),
            unique_key: job.unique_key.as_deref(),
            timeout_ms: job.timeout_ms,
            attempts: &job.attempts,
            parent: job.parent,
            children: &job.children,
        }
    }
}

/// Stored JSON text as a value; text that is not JSON (it should not happen) as a string.
fn json_value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

pub fn render_list(jobs: &[JobSummary]) -> String {
    if jobs.is_empty() {
        return "no jobs match\n".to_owned();
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("STATE", Align::Left),
        ("QUEUE", Align::Left),
        ("SCRIPT", Align::Left),
        ("ATTEMPT", Align::Right),
        ("CREATED", Align::Left),
        ("LAST OUTCOME", Align::Left),
    ]);
    for job in jobs {
        table.row(vec![
            job.id.to_string(),
            job.state.to_string(),
            job.queue.clone(),
            job.script.clone(),
            format!("{}/{}", job.attempt, job.max_attempts),
            format_utc(job.created_at_ms),
            job.last_outcome
                .map_or_else(|| "-".to_owned(), |o| o.to_string()),
        ]);
    }
    table.render()
}

pub fn render_job(job: &JobView) -> String {
    let s = &job.summary;
    let version = match job.current_script_hash.as_deref() {
        Some(current) if current == job.script_hash => {
            format!("{}, the current version", short_hash(&job.script_hash))
        }
        Some(current) => format!(
            "{}, not the current version {}: `jobs retry --latest` runs that one",
            short_hash(&job.script_hash),
            short_hash(current)
        ),
        None => short_hash(&job.script_hash).to_owned(),
    };
    let mut out = format!(
        "job {}  {}\n  queue {}, script {} ({version}), priority {}, attempts {}/{}\n",
        s.id, s.state, s.queue, s.script, s.priority, s.attempt, s.max_attempts
    );
    out.push_str(&format!("  created {}", format_utc(s.created_at_ms)));
    if let Some(finished) = s.finished_at_ms {
        out.push_str(&format!(", finished {}", format_utc(finished)));
    } else if matches!(s.state, JobState::Scheduled | JobState::Retryable) {
        out.push_str(&format!(", runs at {}", format_utc(s.run_at_ms)));
    }
    out.push('\n');
    if let Some(key) = &job.unique_key {
        out.push_str(&format!("  unique key {key}\n"));
    }
    if let Some(parent) = job.parent {
        out.push_str(&format!("  enqueued by job {parent}\n"));
    }
    if !job.children.is_empty() {
        let ids: Vec<String> = job.children.iter().map(i64::to_string).collect();
        out.push_str(&format!(
            "  enqueued {} child job{}: {}\n",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.join(", ")
        ));
    }
    out.push_str(&format!("payload: {}\n", job.payload));
    if let Some(result) = &job.result {
        out.push_str(&format!("result:  {result}\n"));
    }
    for a in &job.attempts {
        if a.counted {
            out.push_str(&format!("\nattempt {}  {}", a.attempt, a.outcome));
        } else {
            out.push_str(&format!("\nrefunded attempt  {}", a.outcome));
        }
        if let Some(pid) = a.worker_pid {
            out.push_str(&format!("  worker pid {pid}"));
        }
        if let Some(ms) = a.duration_ms {
            out.push_str(&format!("  {ms} ms"));
        }
        if let Some(cpu) = a.cpu_ms {
            out.push_str(&format!("  cpu {cpu} ms"));
        }
        if let Some(peak) = a.peak_memory_bytes {
            out.push_str(&format!("  peak memory {}", format_size_approx(peak)));
        }
        out.push_str(&format!("  ended {}\n", format_utc(a.finished_at_ms)));
        if let Some(error) = &a.error {
            out.push_str(&format!("  error: {}: {}\n", error.name, error.message));
            if let Some(stack) = &error.stack {
                for line in stack.lines() {
                    out.push_str(&format!("    {}\n", line.trim_start()));
                }
            }
        }
        if !a.console.is_empty() {
            out.push_str("  console:\n");
            for line in &a.console {
                for (i, part) in line.text.lines().enumerate() {
                    let tag = if i == 0 { line.level.as_str() } else { "" };
                    out.push_str(&format!("    {tag:<5} {part}\n"));
                }
            }
        }
        if a.console_truncated {
            out.push_str("    (console output was truncated)\n");
        }
        if !a.requests.is_empty() {
            out.push_str("  requests:\n");
            for r in &a.requests {
                let status = r.status.map_or("---".to_owned(), |s| s.to_string());
                out.push_str(&format!(
                    "    {status} {} {}  {} ms, {} B out, {} B in{}{}\n",
                    r.method,
                    r.url,
                    r.duration_ms,
                    r.bytes_out,
                    r.bytes_in,
                    if r.redirects > 0 {
                        format!(", {} redirects", r.redirects)
                    } else {
                        String::new()
                    },
                    r.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    out
}
