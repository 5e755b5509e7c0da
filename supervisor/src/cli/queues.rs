//! `jobvisor queues list|pause|resume`.

use jobvisor_protocol::control::{Request, Response};

use super::client::{Client, ClientError, Target, daemon_error, unexpected};
use super::jobs::print_json;
use crate::exit_code;

#[derive(Debug, clap::Subcommand)]
pub enum QueuesCommand {
    /// List queues with their pause flag, concurrency cap and running jobs.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Stop starting jobs of a queue (running ones finish).
    Pause {
        queue: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Start jobs of a paused queue again.
    Resume {
        queue: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

pub async fn execute(command: &QueuesCommand) -> Result<u8, ClientError> {
    let (request, json, target) = match command {
        QueuesCommand::List { json, target } => (Request::ListQueues, *json, target),
        QueuesCommand::Pause {
            queue,
            json,
            target,
        } => (
            Request::SetQueuePaused {
                queue: queue.clone(),
                paused: true,
            },
            *json,
            target,
        ),
        QueuesCommand::Resume {
            queue,
            json,
            target,
        } => (
            Request::SetQueuePaused {
                queue: queue.clone(),
                paused: false,
            },
            *json,
            target,
        ),
    };
    match Client::connect(target).await?.request(&request).await? {
        Response::Queues(queues) => {
            if json {
                print_json(&serde_json::Value::Array(
                    queues
                        .iter()
                        .map(|q| serde_json::json!({ "queue": q.queue, "paused": q.paused, "concurrency": q.concurrency, "running": q.running }))
                        .collect(),
                ));
            } else if queues.is_empty() {
                println!("no queues yet (a queue exists once a job was enqueued to it)");
            } else {
                println!(
                    "{:<20} {:<8} {:>11} {:>8}",
                    "QUEUE", "PAUSED", "CONCURRENCY", "RUNNING"
                );
                for q in queues {
                    let cap = q.concurrency.map_or("-".to_owned(), |c| c.to_string());
                    println!(
                        "{:<20} {:<8} {:>11} {:>8}",
                        q.queue,
                        if q.paused { "yes" } else { "no" },
                        cap,
                        q.running
                    );
                }
            }
            Ok(exit_code::OK)
        }
        Response::QueuePaused { queue, paused } => {
            if json {
                print_json(&serde_json::json!({ "queue": queue, "paused": paused }));
            } else if paused {
                println!("queue {queue} paused: no new job of it starts");
            } else {
                println!("queue {queue} resumed");
            }
            Ok(exit_code::OK)
        }
        Response::Error(err) => Err(daemon_error(&err)),
        other => Err(unexpected(&other)),
    }
}
