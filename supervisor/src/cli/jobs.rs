//! `jobvisor jobs list|show|retry|cancel`.

use jobvisor_protocol::control::{JobQuery, JobSummary, JobView, Request, Response};

use super::client::{Client, ClientError, Target, daemon_error, unexpected};
use crate::exit_code;
use crate::units::{format_size_approx, format_utc};

#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state (scheduled, available, running, retryable, completed,
        /// discarded, cancelled).
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        script: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Show a job: payload, result, and every attempt with its outcome, error, duration,
    /// memory and console lines.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Run a discarded or cancelled job again.
    Retry {
        id: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Cancel a job; a running one has its worker killed.
    Cancel {
        id: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

pub async fn execute(command: &JobsCommand) -> Result<u8, ClientError> {
    match command {
        JobsCommand::List {
            state,
            queue,
            script,
            limit,
            json,
            target,
        } => {
            let query = JobQuery {
                state: state.clone(),
                queue: queue.clone(),
                script: script.clone(),
                limit: *limit,
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
        JobsCommand::Retry { id, json, target } => {
            let response = Client::connect(target)
                .await?
                .request(&Request::RetryJob { id: *id })
                .await?;
            match response {
                Response::Retried { id, max_attempts } => {
                    if *json {
                        print_json(&serde_json::json!({ "id": id, "max_attempts": max_attempts }));
                    } else {
                        println!(
                            "job {id} is queued again (it may use up to {max_attempts} attempts)"
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

fn failure(response: Response) -> ClientError {
    match response {
        Response::Error(err) => daemon_error(&err),
        other => unexpected(&other),
    }
}

pub fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
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
    value["payload"] = parse(&job.payload);
    value["result"] = job.result.as_deref().map_or(serde_json::Value::Null, parse);
    value["unique_key"] = serde_json::json!(job.unique_key);
    value["timeout_ms"] = serde_json::json!(job.timeout_ms);
    value["attempts"] = job
        .attempts
        .iter()
        .map(|a| {
            serde_json::json!({
                "attempt": a.attempt, "outcome": a.outcome, "worker_pid": a.worker_pid,
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
    let mut out = format!(
        "{:<8} {:<10} {:<14} {:<16} {:>7}  {:<20} {}\n",
        "ID", "STATE", "QUEUE", "SCRIPT", "ATTEMPT", "CREATED", "LAST OUTCOME"
    );
    for job in jobs {
        out.push_str(&format!(
            "{:<8} {:<10} {:<14} {:<16} {:>7}  {:<20} {}\n",
            job.id,
            job.state,
            job.queue,
            job.script,
            format!("{}/{}", job.attempt, job.max_attempts),
            format_utc(job.created_at_ms),
            job.last_outcome.as_deref().unwrap_or("-")
        ));
    }
    out
}

pub fn render_job(job: &JobView) -> String {
    let s = &job.summary;
    let mut out = format!(
        "job {}  {}\n  queue {}, script {} ({}), priority {}, attempts {}/{}\n",
        s.id,
        s.state,
        s.queue,
        s.script,
        &job.script_hash[..12.min(job.script_hash.len())],
        s.priority,
        s.attempt,
        s.max_attempts
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
    for a in &job.attempts {
        out.push_str(&format!("\nattempt {}  {}", a.attempt, a.outcome));
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
