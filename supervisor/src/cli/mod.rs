//! The `jobvisor` command line: argument definitions and one module per command.

pub mod client;
pub mod enqueue;
pub mod run;
pub mod scripts;
pub mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// jobvisor runs JavaScript background jobs in supervised worker processes.
#[derive(Debug, Parser)]
#[command(name = "jobvisor", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the queue, the workers, the control socket.
    Serve(ServeArgs),
    /// Add a job to the queue; prints its id.
    Enqueue(enqueue::EnqueueArgs),
    /// Show the daemon, its workers and its queues.
    Status(status::StatusArgs),
    /// Manage scripts.
    #[command(subcommand)]
    Scripts(scripts::ScriptsCommand),
    /// Run one job through a real worker, with no daemon and no database (for writing
    /// and trying scripts).
    Run(run::RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file (TOML). Without one, embedded defaults are used.
    #[arg(long, env = "JOBVISOR_CONFIG")]
    pub config: Option<PathBuf>,
}
