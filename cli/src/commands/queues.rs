//! `jobvisor queues list|pause|resume|remove`.

use jobvisor_protocol::control::QueueView;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError, QueuePaused};
use crate::table::{Align, Table};
use jobvisor_supervisor::exit_code;

/// `jobvisor queues ...`: the subcommand, with the output and target every one of them
/// takes.
#[derive(Debug, clap::Args)]
pub struct QueuesArgs {
    #[command(subcommand)]
    pub command: QueuesCommand,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum QueuesCommand {
    /// List queues with their pause flag, concurrency cap and running jobs.
    List,
    /// Stop starting jobs of a queue (running ones finish). An unknown queue is refused
    /// with the names that exist, unless --create.
    Pause {
        /// The queue (it must exist: a job was enqueued to it, or the config declares it).
        queue: String,
        /// Create the queue if it does not exist (to pause it before its first job).
        #[arg(long)]
        create: bool,
    },
    /// Start jobs of a paused queue again.
    Resume {
        /// The queue (it must exist).
        queue: String,
    },
    /// Remove a queue no job was ever enqueued to (one created by a typo).
    Remove {
        /// The queue.
        queue: String,
    },
}

pub async fn execute(args: &QueuesArgs) -> Result<u8, ClientError> {
    crate::output::json_errors(args.output.json, run(args)).await
}

async fn run(args: &QueuesArgs) -> Result<u8, ClientError> {
    let output = args.output;
    let mut client = Client::connect(&args.target).await?;
    match &args.command {
        QueuesCommand::List => {
            let queues = client.list_queues().await?;
            output.print(queues.as_slice(), |queues| {
                print!("{}", render_list(queues))
            });
        }
        QueuesCommand::Pause { queue, create } => {
            let paused = client.pause_queue(queue.clone(), true, *create).await?;
            output.print(&paused, print_paused);
        }
        QueuesCommand::Resume { queue } => {
            let paused = client.pause_queue(queue.clone(), false, false).await?;
            output.print(&paused, print_paused);
        }
        QueuesCommand::Remove { queue } => {
            let removed = client.remove_queue(queue.clone()).await?;
            output.print(&removed, |removed| {
                println!("queue {} removed", removed.queue)
            });
        }
    }
    Ok(exit_code::OK)
}

fn print_paused(answer: &QueuePaused) {
    if answer.paused {
        println!("queue {} paused: no new job of it starts", answer.queue);
    } else {
        println!("queue {} resumed", answer.queue);
    }
}

fn render_list(queues: &[QueueView]) -> String {
    if queues.is_empty() {
        return "no queues yet (a queue exists once a job was enqueued to it)\n".to_owned();
    }
    let mut table = Table::new(&[
        ("QUEUE", Align::Left),
        ("PAUSED", Align::Left),
        ("CONCURRENCY", Align::Right),
        ("RUNNING", Align::Right),
    ]);
    for q in queues {
        table.row(vec![
            q.queue.clone(),
            if q.paused { "yes" } else { "no" }.to_owned(),
            q.concurrency.map_or("-".to_owned(), |c| c.to_string()),
            q.running.to_string(),
        ]);
    }
    table.render()
}
