//! The `jobvisor` command line: argument definitions and one module per command.

pub mod run;

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
    /// Run one job through a real worker, with no daemon and no database (for writing
    /// and trying scripts).
    Run(run::RunArgs),
}
