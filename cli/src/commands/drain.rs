//! `jobvisor drain`: stop the daemon gracefully and report what the drain did.

use jobvisor_supervisor::exit_code;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError};
use crate::progress::{Watch, with_progress};

#[derive(Debug, clap::Args)]
pub struct DrainArgs {
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

pub async fn execute(args: &DrainArgs) -> Result<u8, ClientError> {
    let socket = args.target.socket_path()?;
    let mut client = Client::connect_path(&socket).await?;
    let report = with_progress(&socket, Watch::Drain, client.drain()).await?;
    args.output.print(&report, |report| {
        println!(
            "drained in {:.1}s: {} job{} finished, {} failed, {} requeued; the daemon is stopping",
            report.duration_ms as f64 / 1000.0,
            report.finished,
            if report.finished == 1 { "" } else { "s" },
            report.failed,
            report.requeued
        );
    });
    Ok(exit_code::OK)
}
