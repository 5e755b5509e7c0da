//! `jobvisor restart`: replace workers, gracefully and one at a time.

use jobvisor_supervisor::exit_code;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError};
use crate::progress::{Watch, with_progress};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["worker", "all"])))]
pub struct RestartArgs {
    /// The worker to replace (see `jobvisor status`); or --all.
    pub worker: Option<u32>,
    /// Replace every worker, one at a time.
    #[arg(long)]
    pub all: bool,
    /// Kill the job in hand instead of waiting for it (its attempt is refunded).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

pub async fn execute(args: &RestartArgs) -> Result<u8, ClientError> {
    let worker = if args.all { None } else { args.worker };
    let socket = args.target.socket_path()?;
    let mut client = Client::connect_path(&socket).await?;
    let restarted = with_progress(
        &socket,
        Watch::Restart { worker },
        client.restart(worker, args.force),
    )
    .await?;
    args.output.print(&restarted, |restarted| {
        let list: Vec<String> = restarted.replaced.iter().map(u32::to_string).collect();
        println!(
            "replaced worker{} {}",
            if list.len() == 1 { "" } else { "s" },
            list.join(", ")
        );
    });
    Ok(exit_code::OK)
}
