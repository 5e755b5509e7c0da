//! `jobvisor status`: the daemon, its workers and its queues at a glance.

use jobvisor_protocol::control::{Request, Response, StatusReport};

use super::client::{Client, ClientError, Target, daemon_error};
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
    let mut client = Client::connect(&args.target).await?;
    match client.request(&Request::Status).await? {
        Response::Status(report) => {
            if args.json {
                let text = serde_json::to_string_pretty(&status_json(&report))
                    .map_err(|e| ClientError::new(exit_code::FAILURE, e.to_string()))?;
                println!("{text}");
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
    out.push_str(&format!(
        "{:<6} {:<8} {:<12} {:<10} {:>9} {:>9} {:>8}\n",
        "WORKER", "PID", "STATE", "JOB", "DONE", "RSS", "RESTARTS"
    ));
    for w in &report.workers {
        out.push_str(&format!(
            "{:<6} {:<8} {:<12} {:<10} {:>9} {:>9} {:>8}\n",
            w.id,
            w.pid.map_or("-".to_owned(), |p| p.to_string()),
            w.state,
            w.job.map_or("-".to_owned(), |j| j.to_string()),
            w.jobs_done,
            w.rss_bytes.map_or("-".to_owned(), format_size),
            w.restarts
        ));
        if let Some(reason) = &w.degraded_reason {
            out.push_str(&format!("       degraded: {reason}\n"));
        }
    }
    out.push('\n');
    if report.queues.is_empty() {
        out.push_str("no jobs yet\n");
        return out;
    }
    let states = [
        "scheduled",
        "available",
        "running",
        "retryable",
        "completed",
        "discarded",
        "cancelled",
    ];
    out.push_str(&format!("{:<16}", "QUEUE"));
    for state in states {
        out.push_str(&format!(" {:>10}", state.to_uppercase()));
    }
    out.push('\n');
    for q in &report.queues {
        let name = if q.paused {
            format!("{} (paused)", q.queue)
        } else {
            q.queue.clone()
        };
        out.push_str(&format!("{name:<16}"));
        for state in states {
            let n = q
                .counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            out.push_str(&format!(" {n:>10}"));
        }
        out.push('\n');
    }
    out
}
