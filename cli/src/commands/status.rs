//! `jobvisor status`: the daemon, its workers and its queues at a glance.

use std::collections::BTreeMap;

use jobvisor_protocol::control::{JobState, StatusReport, WorkerStatus};
use serde::Serialize;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError};
use crate::table::{Align, Table};
use jobvisor_supervisor::exit_code;
use jobvisor_supervisor::units::format_size_approx as format_size;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

pub async fn execute(args: &StatusArgs) -> Result<u8, ClientError> {
    crate::output::json_errors(args.output.json, run(args)).await
}

async fn run(args: &StatusArgs) -> Result<u8, ClientError> {
    let report = Client::connect(&args.target).await?.status().await?;
    args.output
        .print(&StatusJson::of(&report), |_| print!("{}", render(&report)));
    Ok(exit_code::OK)
}

/// The JSON of `status`: the report, with the store as one object and each queue's counts
/// as an object of state to count.
#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    pid: u32,
    version: &'a str,
    uptime_ms: u64,
    epoch: i64,
    limiter: &'a str,
    store: StoreJson<'a>,
    draining: bool,
    completed_last_minute: u64,
    degraded: &'a [String],
    workers: &'a [WorkerStatus],
    queues: Vec<QueueJson<'a>>,
}

#[derive(Debug, Serialize)]
struct StoreJson<'a> {
    path: &'a str,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct QueueJson<'a> {
    queue: &'a str,
    paused: bool,
    counts: BTreeMap<JobState, u64>,
}

impl<'a> StatusJson<'a> {
    fn of(report: &'a StatusReport) -> StatusJson<'a> {
        StatusJson {
            pid: report.pid,
            version: &report.version,
            uptime_ms: report.uptime_ms,
            epoch: report.epoch,
            limiter: &report.limiter,
            store: StoreJson {
                path: &report.store_path,
                bytes: report.store_bytes,
            },
            draining: report.draining,
            completed_last_minute: report.completed_last_minute,
            degraded: &report.degraded,
            workers: &report.workers,
            queues: report
                .queues
                .iter()
                .map(|q| QueueJson {
                    queue: &q.queue,
                    paused: q.paused,
                    counts: q.counts.iter().copied().collect(),
                })
                .collect(),
        }
    }
}

/// The job states `status` counts, with their column headers.
const STATE_COLUMNS: [(JobState, &str); 7] = [
    (JobState::Scheduled, "SCHEDULED"),
    (JobState::Available, "AVAILABLE"),
    (JobState::Running, "RUNNING"),
    (JobState::Retryable, "RETRYABLE"),
    (JobState::Completed, "COMPLETED"),
    (JobState::Discarded, "DISCARDED"),
    (JobState::Cancelled, "CANCELLED"),
];

/// The human table.
pub fn render(report: &StatusReport) -> String {
    let mut out = String::new();
    let uptime = jobvisor_supervisor::units::format_duration(std::time::Duration::from_secs(
        report.uptime_ms / 1000,
    ));
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
            w.state.to_string(),
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
