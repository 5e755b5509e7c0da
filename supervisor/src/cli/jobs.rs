//! `jobvisor jobs list|show|retry|cancel`.

use jobvisor_protocol::control::{
    JobQuery, JobSummary, JobView, MAX_LIST_LIMIT, Request, Response,
};

use super::client::{Client, ClientError, Target, daemon_error, unexpected};
use super::table::{Align, Table};
use crate::exit_code;
use crate::units::{format_size_approx, format_utc};

#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first, one page at a time.
    ///
    /// At most --limit jobs are printed; when there may be more, the human output ends
    /// with the command for the next page (`--before` the last id shown). With --json,
    /// pass the last id of the array as --before.
    List {
        /// Only jobs in this state (scheduled, available, running, retryable, completed,
        /// discarded, cancelled).
        #[arg(long)]
        state: Option<String>,
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
        /// Print JSON (an array of jobs).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Show a job: payload, result, and every attempt with its outcome, error, duration,
    /// memory and console lines.
    Show {
        /// The job's id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Cancel a job; a running one has its worker killed.
    Cancel {
        /// The job's id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

impl JobsCommand {
    fn json(&self) -> bool {
        match self {
            JobsCommand::List { json, .. }
            | JobsCommand::Show { json, .. }
            | JobsCommand::Retry { json, .. }
            | JobsCommand::Cancel { json, .. } => *json,
        }
    }
}

pub async fn execute(command: &JobsCommand) -> Result<u8, ClientError> {
    super::json_errors(command.json(), run(command)).await
}

async fn run(command: &JobsCommand) -> Result<u8, ClientError> {
    match command {
        JobsCommand::List {
            state,
            queue,
            script,
            limit,
            before,
            json,
            target,
        } => {
            let query = JobQuery {
                state: state.clone(),
                queue: queue.clone(),
                script: script.clone(),
                limit: *limit,
                before: *before,
            };
            let response = Client::connect(target)
                .await?
                .request(&Request::ListJobs(query))
                .await?;
            match response {
                Response::Jobs(jobs) => {
                    if *json {
                        print_json(&jobs_json(&jobs));
                    } else {
                        print!("{}", render_list(&jobs));
                        if let Some(last) = jobs.last().filter(|_| jobs.len() >= *limit as usize) {
                            println!("(next page: jobs list --before {} ...)", last.id);
                        }
                    }
                    Ok(exit_code::OK)
                }
                other => Err(failure(other)),
            }
        }
        JobsCommand::Show { id, json, target } => {
            let response = Client::connect(target)
                .await?
                .request(&Request::ShowJob { id: *id })
                .await?;
            match response {
                Response::Job(job) => {
                    if *json {
                        print_json(&job_json(&job));
                    } else {
                        print!("{}", render_job(&job));
                    }
                    Ok(exit_code::OK)
                }
                other => Err(failure(other)),
            }
        }
        JobsCommand::Retry {
            id,
            latest,
            json,
            target,
        } => {
            let request = if *latest {
                Request::RetryJobLatest { id: *id }
            } else {
                Request::RetryJob { id: *id }
            };
            let response = Client::connect(target).await?.request(&request).await?;
            match response {
                Response::Retried {
                    id,
                    max_attempts,
                    script_hash,
                    script_changed,
                } => {
                    if *json {
                        print_json(&serde_json::json!({
                            "id": id, "max_attempts": max_attempts, "script_hash": script_hash,
                            "script_changed": script_changed,
                        }));
                    } else {
                        let version = short_hash(&script_hash);
                        let which = match (*latest, script_changed) {
                            (true, true) => format!("the current script version {version}"),
                            (true, false) => {
                                format!("script version {version}, the current one already")
                            }
                            (false, _) => format!(
                                "script version {version}, the version it was enqueued with (--latest runs the current one)"
                            ),
                        };
                        println!(
                            "job {id} is queued again with {which}; it may use up to {max_attempts} attempts"
                        );
                    }
                    Ok(exit_code::OK)
                }
                other => Err(failure(other)),
            }
        }
        JobsCommand::Cancel { id, json, target } => {
            let response = Client::connect(target)
                .await?
                .request(&Request::CancelJob { id: *id })
                .await?;
            match response {
                Response::Cancelled { id, was_running } => {
                    if *json {
                        print_json(&serde_json::json!({ "id": id, "was_running": was_running }));
                    } else if was_running {
                        println!(
                            "job {id} was running: its worker is being killed and the job cancelled"
                        );
                    } else {
                        println!("job {id} cancelled");
                    }
                    Ok(exit_code::OK)
                }
                other => Err(failure(other)),
            }
        }
    }
}

/// The first 12 hex digits of a script version, as listings show it.
pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn failure(response: Response) -> ClientError {
    match response {
        Response::Error(err) => daemon_error(&err),
        other => unexpected(&other),
    }
}

/// Prints one `--json` document: compact, on one line (as every `--json` output is, so
/// streams and single answers read the same way).
pub fn print_json(value: &serde_json::Value) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("jobvisor: cannot print JSON: {err}"),
    }
}

fn jobs_json(jobs: &[JobSummary]) -> serde_json::Value {
    serde_json::Value::Array(jobs.iter().map(summary_json).collect())
}

fn summary_json(job: &JobSummary) -> serde_json::Value {
    serde_json::json!({
        "id": job.id, "queue": job.queue, "script": job.script, "state": job.state,
        "priority": job.priority, "attempt": job.attempt, "max_attempts": job.max_attempts,
        "run_at_ms": job.run_at_ms, "created_at_ms": job.created_at_ms,
        "finished_at_ms": job.finished_at_ms, "last_outcome": job.last_outcome,
        "last_error": job.last_error,
    })
}

/// The JSON of `jobs show` (also what `enqueue --wait --json` prints).
pub fn job_json(job: &JobView) -> serde_json::Value {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
    };
    let mut value = summary_json(&job.summary);
    value["script_hash"] = serde_json::json!(job.script_hash);
    value["current_script_hash"] = serde_json::json!(job.current_script_hash);
    value["payload"] = parse(&job.payload);
    value["result"] = job.result.as_deref().map_or(serde_json::Value::Null, parse);
    value["unique_key"] = serde_json::json!(job.unique_key);
    value["timeout_ms"] = serde_json::json!(job.timeout_ms);
    value["attempts"] = job
        .attempts
        .iter()
        .zip(counted_attempts(job))
        .map(|(a, counted)| {
            serde_json::json!({
                "attempt": a.attempt, "counted": counted, "outcome": a.outcome, "worker_pid": a.worker_pid,
                "started_at_ms": a.started_at_ms, "finished_at_ms": a.finished_at_ms,
                "duration_ms": a.duration_ms, "cpu_ms": a.cpu_ms, "peak_memory_bytes": a.peak_memory_bytes,
                "error": a.error_name.as_ref().map(|name| serde_json::json!({
                    "name": name, "message": a.error_message, "stack": a.error_stack,
                })),
                "console": console_lines(&a.logs).into_iter().map(|(level, text)| serde_json::json!({"level": level, "text": text})).collect::<Vec<_>>(),
                "console_truncated": a.logs_truncated,
            })
        })
        .collect();
    value
}

/// For each attempt row (oldest first), whether it counted. A refunded attempt (a drain
/// interrupted it, or the supervisor died under it) gives its number back: the next row
/// has the same number, or, for the last row, the job's attempt counter is below it.
fn counted_attempts(job: &JobView) -> Vec<bool> {
    let rows = &job.attempts;
    rows.iter()
        .enumerate()
        .map(|(i, a)| match rows.get(i + 1) {
            Some(next) => next.attempt != a.attempt,
            None => a.attempt <= job.summary.attempt,
        })
        .collect()
}

/// (level, text) of each stored console line.
pub fn console_lines(logs: &str) -> Vec<(String, String)> {
    logs.lines()
        .filter(|l| !l.trim().is_empty())
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => (
                    v["level"].as_str().unwrap_or("info").to_owned(),
                    v["text"].as_str().unwrap_or("").to_owned(),
                ),
                Err(_) => ("info".to_owned(), line.to_owned()),
            },
        )
        .collect()
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
            job.state.clone(),
            job.queue.clone(),
            job.script.clone(),
            format!("{}/{}", job.attempt, job.max_attempts),
            format_utc(job.created_at_ms),
            job.last_outcome.clone().unwrap_or_else(|| "-".to_owned()),
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
    } else if s.state == "scheduled" || s.state == "retryable" {
        out.push_str(&format!(", runs at {}", format_utc(s.run_at_ms)));
    }
    out.push('\n');
    if let Some(key) = &job.unique_key {
        out.push_str(&format!("  unique key {key}\n"));
    }
    out.push_str(&format!("payload: {}\n", job.payload));
    if let Some(result) = &job.result {
        out.push_str(&format!("result:  {result}\n"));
    }
    let counted = counted_attempts(job);
    for (a, counted) in job.attempts.iter().zip(counted) {
        if counted {
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
        if let Some(name) = &a.error_name {
            out.push_str(&format!(
                "  error: {name}: {}\n",
                a.error_message.as_deref().unwrap_or("")
            ));
            if let Some(stack) = &a.error_stack {
                for line in stack.lines() {
                    out.push_str(&format!("    {}\n", line.trim_start()));
                }
            }
        }
        let lines = console_lines(&a.logs);
        if !lines.is_empty() {
            out.push_str("  console:\n");
            for (level, text) in lines {
                for (i, part) in text.lines().enumerate() {
                    let tag = if i == 0 { level.as_str() } else { "" };
                    out.push_str(&format!("    {tag:<5} {part}\n"));
                }
            }
        }
        if a.logs_truncated {
            out.push_str("    (console output was truncated)\n");
        }
    }
    out
}
