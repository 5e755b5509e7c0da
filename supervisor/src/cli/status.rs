//! `jobvisor status`: the daemon, its workers and its queues at a glance.

use jobvisor_protocol::control::{Request, Response, StatusReport};

use super::client::{Client, ClientError, Target, daemon_error};
use super::jobs::print_json;
use super::table::{Align, Table};
use crate::exit_code;
use crate::units::format_size_approx as format_size;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: Target,
}

pub async fn execute(args: &StatusArgs) -> Result<u8, ClientError> {
    super::json_errors(args.json, run(args)).await
}

async fn run(args: &StatusArgs) -> Result<u8, ClientError> {
    let mut client = Client::connect(&args.target).await?;
    match client.request(&Request::Status).await? {
        Response::Status(report) => {
            if args.json {
                print_json(&status_json(&report));
            } else {
                print!("{}", render(&report));
            }
            Ok(exit_code::OK)
        }
        Response::Error(err) => Err(daemon_error(&err)),
        other => Err(super::client::unexpected(&other)),
    }
}

fn status_json(report: &StatusReport) -> serde_json::Value {
    serde_json::json!({
        "pid": report.pid,
        "version": report.version,
        "uptime_ms": report.uptime_ms,
        "epoch": report.epoch,
        "limiter": report.limiter,
        "store": { "path": report.store_path, "bytes": report.store_bytes },
        "draining": report.draining,
        "completed_last_minute": report.completed_last_minute,
        "degraded": report.degraded,
        "workers": report.workers.iter().map(|w| serde_json::json!({
            "id": w.id, "pid": w.pid, "state": w.state, "job": w.job, "jobs_done": w.jobs_done,
            "rss_bytes": w.rss_bytes, "restarts": w.restarts, "degraded_reason": w.degraded_reason,
        })).collect::<Vec<_>>(),
        "queues": report.queues.iter().map(|q| serde_json::json!({
            "queue": q.queue, "paused": q.paused,
            "counts": q.counts.iter().map(|(s, n)| (s.clone(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The job states `status` counts, with their column headers.
const STATE_COLUMNS: [(&str, &str); 7] = [
    ("scheduled", "SCHEDULED"),
    ("available", "AVAILABLE"),
    ("running", "RUNNING"),
    ("retryable", "RETRYABLE"),
    ("completed", "COMPLETED"),
    ("discarded", "DISCARDED"),
    ("cancelled", "CANCELLED"),
];

/// The human table.
pub fn render(report: &StatusReport) -> String {
    let mut out = String::new();
    let uptime =
        crate::units::format_duration(std::time::Duration::from_secs(report.uptime_ms / 1000));
    out.push_str(&format!(
        "jobvisor {} — pid {}, up {}, epoch {}{}\n",
        report.version,
        report.pid,
        uptime,
        report.epoch,
        if report.draining { ", DRAINING" } else { "" }
    ));
    for reason in &report.degraded {
        out.push_str(&format!("degraded: {reason}\n"));
    }
    out.push_str(&format!("memory limits: {}\n", report.limiter));
    out.push_str(&format!(
        "store: {} ({})\n",
        report.store_path,
        format_size(report.store_bytes)
    ));
    out.push_str(&format!(
        "throughput: {} jobs completed in the last minute\n\n",
        report.completed_last_minute
    ));
    let mut workers = Table::new(&[
        ("WORKER", Align::Left),
        ("PID", Align::Left),
        ("STATE", Align::Left),
        ("JOB", Align::Left),
        ("DONE", Align::Right),
        ("RSS", Align::Right),
        ("RESTARTS", Align::Right),
    ]);
    let mut degraded = Vec::new();
    for w in &report.workers {
        workers.row(vec![
            w.id.to_string(),
            w.pid.map_or("-".to_owned(), |p| p.to_string()),
            w.state.clone(),
            w.job.map_or("-".to_owned(), |j| j.to_string()),
            w.jobs_done.to_string(),
            w.rss_bytes.map_or("-".to_owned(), format_size),
            w.restarts.to_string(),
        ]);
        if let Some(reason) = &w.degraded_reason {
            degraded.push(format!("worker {} degraded: {reason}\n", w.id));
        }
    }
    out.push_str(&workers.render());
    out.extend(degraded);
    out.push('\n');
    if report.queues.is_empty() {
        out.push_str("no jobs yet\n");
        return out;
    }
    let mut columns = vec![("QUEUE", Align::Left)];
    columns.extend(
        STATE_COLUMNS
            .iter()
            .map(|(_, header)| (*header, Align::Right)),
    );
    let mut queues = Table::new(&columns);
    for q in &report.queues {
        let mut row = vec![if q.paused {
            format!("{} (paused)", q.queue)
        } else {
            q.queue.clone()
        }];
        row.extend(STATE_COLUMNS.iter().map(|(state, _)| {
            q.counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n)
                .to_string()
        }));
        queues.row(row);
    }
    out.push_str(&queues.render());
    out
}
