//! `jobvisor queues list|pause|resume|remove`.

use jobvisor_protocol::control::{Request, Response};

use super::client::{Client, ClientError, Target, daemon_error, unexpected};
use super::jobs::print_json;
use super::table::{Align, Table};
use crate::exit_code;

#[derive(Debug, clap::Subcommand)]
pub enum QueuesCommand {
    /// List queues with their pause flag, concurrency cap and running jobs.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Stop starting jobs of a queue (running ones finish). An unknown queue is refused
    /// with the names that exist, unless --create.
    Pause {
        /// The queue (it must exist: a job was enqueued to it, or the config declares it).
        queue: String,
        /// Create the queue if it does not exist (to pause it before its first job).
        #[arg(long)]
        create: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Start jobs of a paused queue again.
    Resume {
        /// The queue (it must exist).
        queue: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a queue no job was ever enqueued to (one created by a typo).
    Remove {
        /// The queue.
        queue: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

impl QueuesCommand {
    fn json(&self) -> bool {
        match self {
            QueuesCommand::List { json, .. }
            | QueuesCommand::Pause { json, .. }
            | QueuesCommand::Resume { json, .. }
            | QueuesCommand::Remove { json, .. } => *json,
        }
    }
}

pub async fn execute(command: &QueuesCommand) -> Result<u8, ClientError> {
    super::json_errors(command.json(), run(command)).await
}

async fn run(command: &QueuesCommand) -> Result<u8, ClientError> {
    let (request, target) = match command {
        QueuesCommand::List { target, .. } => (Request::ListQueues, target),
        QueuesCommand::Pause {
            queue,
            create,
            target,
            ..
        } => (
            Request::PauseQueue {
                queue: queue.clone(),
                paused: true,
                create: *create,
            },
            target,
        ),
        QueuesCommand::Resume { queue, target, .. } => (
            Request::PauseQueue {
                queue: queue.clone(),
                paused: false,
                create: false,
            },
            target,
        ),
        QueuesCommand::Remove { queue, target, .. } => (
            Request::RemoveQueue {
                queue: queue.clone(),
            },
            target,
        ),
    };
    let json = command.json();
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
                let mut table = Table::new(&[
                    ("QUEUE", Align::Left),
                    ("PAUSED", Align::Left),
                    ("CONCURRENCY", Align::Right),
                    ("RUNNING", Align::Right),
                ]);
                for q in queues {
                    table.row(vec![
                        q.queue,
                        if q.paused { "yes" } else { "no" }.to_owned(),
                        q.concurrency.map_or("-".to_owned(), |c| c.to_string()),
                        q.running.to_string(),
                    ]);
                }
                print!("{}", table.render());
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
        Response::QueueRemoved { queue } => {
            if json {
                print_json(&serde_json::json!({ "queue": queue, "removed": true }));
            } else {
                println!("queue {queue} removed");
            }
            Ok(exit_code::OK)
        }
        Response::Error(err) => Err(daemon_error(&err)),
        other => Err(unexpected(&other)),
    }
}
