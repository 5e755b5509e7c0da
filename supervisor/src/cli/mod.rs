//! The `jobvisor` command line: argument definitions and one module per command.

pub mod client;
pub mod control_commands;
pub mod enqueue;
pub mod jobs;
pub mod man;
pub mod progress;
pub mod queues;
pub mod run;
pub mod schedules;
pub mod scripts;
pub mod status;
mod table;

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
    /// List, pause, resume and remove queues.
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page jobvisor(1) (roff), or write every page with --dir.
    Man(man::ManArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file (TOML). Without one, embedded defaults are used.
    #[arg(long, env = "JOBVISOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Check everything `serve` would (the config, script files and their script check,
    /// schedules naming known scripts, writable state and run dirs, a worker that starts)
    /// and exit: 0 when it would start. Starts nothing; safe next to a running daemon.
    #[arg(long)]
    pub check: bool,
}

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> u8 {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "jobvisor", &mut std::io::stdout());
    crate::exit_code::OK
}

/// Runs a command's body; with `--json`, a failure is printed here as one JSON object on
/// stderr, `{"error": {"code": "...", "message": "..."}}`, and only its exit code goes on
/// (the exit code is the same as without `--json`).
pub async fn json_errors(
    json: bool,
    body: impl Future<Output = Result<u8, client::ClientError>>,
) -> Result<u8, client::ClientError> {
    match body.await {
        Err(err) if json => {
            eprintln!("{}", json_error(err.code, &err.message));
            Ok(err.code)
        }
        other => other,
    }
}

/// The JSON text of an error: `code` names the exit code (`usage` for 2, `not_running`
/// for 69, `failure` otherwise).
pub fn json_error(exit: u8, message: &str) -> String {
    let code = match exit {
        crate::exit_code::USAGE => "usage",
        crate::exit_code::NOT_RUNNING => "not_running",
        _ => "failure",
    };
    serde_json::json!({ "error": { "code": code, "message": message } }).to_string()
}
