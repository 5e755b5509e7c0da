//! The `jobvisor` command line: argument definitions and one module per command.

pub mod bench;
pub mod client;
pub mod control_commands;
pub mod enqueue;
pub mod jobs;
pub mod progress;
pub mod queues;
pub mod run;
pub mod schedules;
pub mod scripts;
pub mod status;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Show the daemon, its workers and its queues.
    Status(status::StatusArgs),
    /// Add a job to the queue; prints its id.
    Enqueue(enqueue::EnqueueArgs),
    /// List, show, retry and cancel jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Add, list and show scripts.
    #[command(subcommand)]
    Scripts(scripts::ScriptsCommand),
    /// Interval and cron schedules.
    #[command(subcommand)]
    Schedules(schedules::SchedulesCommand),
    /// List, pause and resume queues.
    #[command(subcommand)]
    Queues(queues::QueuesCommand),
    /// Replace workers, gracefully and one at a time.
    Restart(control_commands::RestartArgs),
    /// Stop the daemon gracefully (waiting for running jobs up to drain_timeout) and report
    /// what completed, what failed and what was requeued.
    Drain(control_commands::DrainArgs),
    /// Follow job, worker and schedule events as they happen.
    Logs(control_commands::LogsArgs),
    /// Run one job through a real worker, with no daemon and no database (for writing
    /// and trying scripts).
    Run(run::RunArgs),
    /// Benchmark a real daemon end to end (burst, trickle, scale) against an in-process
    /// baseline.
    Bench(bench::BenchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file (TOML). Without one, embedded defaults are used.
    #[arg(long, env = "JOBVISOR_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> u8 {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "jobvisor", &mut std::io::stdout());
    crate::exit_code::OK
}

/// Writes the man page to stdout.
pub fn man() -> u8 {
    let page = clap_mangen::Man::new(Cli::command());
    match page.render(&mut std::io::stdout()) {
        Ok(()) => crate::exit_code::OK,
        Err(err) => {
            eprintln!("jobvisor: cannot write the man page: {err}");
            crate::exit_code::FAILURE
        }
    }
}
