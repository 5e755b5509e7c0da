//! The command line's definitions: the commands, and the arguments several of them share
//! (where the daemon is, how to print).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use jobvisor_supervisor::config::Config;
use jobvisor_supervisor::exit_code;

use crate::client::ClientError;
use crate::commands::{
    drain, enqueue, jobs, logs, man, queues, restart, schedules, scripts, secrets, serve, state,
    status,
};

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
    Serve(serve::ServeArgs),
    /// Show the daemon, its workers and its queues.
    Status(status::StatusArgs),
    /// Add a job to the queue; prints its id.
    Enqueue(enqueue::EnqueueArgs),
    /// List, show, retry and cancel jobs.
    Jobs(jobs::JobsArgs),
    /// Add, list and show scripts.
    Scripts(scripts::ScriptsArgs),
    /// Interval and cron schedules.
    Schedules(schedules::SchedulesArgs),
    /// List, pause, resume and remove queues.
    Queues(queues::QueuesArgs),
    /// Look at and edit scripts' durable state (`ctx.state`).
    State(state::StateArgs),
    /// List the secrets scripts may use (never their values).
    Secrets(secrets::SecretsArgs),
    /// Replace workers, gracefully and one at a time.
    Restart(restart::RestartArgs),
    /// Stop the daemon gracefully (waiting for running jobs up to drain_timeout) and report
    /// what completed, what failed and what was requeued.
    Drain(drain::DrainArgs),
    /// Follow job, worker and schedule events as they happen.
    Logs(logs::LogsArgs),
    /// Run one job through a real worker, with no daemon and no database (for writing
    /// and trying scripts).
    Run(jobvisor_supervisor::cli::run::RunArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page jobvisor(1) (roff), or write every page with --dir.
    Man(man::ManArgs),
}

/// Where to find the daemon: `--socket`, else the run dir of `--config`, else of
/// `$JOBVISOR_CONFIG`, else of the embedded defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The daemon's config file (its run_dir locates the control socket).
    #[arg(long, global = true, env = "JOBVISOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// The control socket, overriding the config.
    #[arg(long, global = true, env = "JOBVISOR_SOCKET")]
    pub socket: Option<PathBuf>,
}

impl Target {
    pub fn socket_path(&self) -> Result<PathBuf, ClientError> {
        if let Some(socket) = &self.socket {
            return Ok(socket.clone());
        }
        let config = match &self.config {
            Some(path) => {
                Config::load(path).map_err(|e| ClientError::new(exit_code::USAGE, e.to_string()))?
            }
            None => Config::embedded(),
        };
        Ok(config.control_socket_path())
    }
}

/// The parser of an option whose value is one of a protocol enum's names (`names`, its
/// `NAMES`): clap lists them in `--help`, the completions and the man page, and refuses
/// any other value with the list, before anything connects.
pub fn one_of<T>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(names.iter().copied())
        .try_map(|name| name.parse::<T>())
}

/// `--json`: one flag, the same on every command that has it.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Output {
    /// Print JSON instead of text: one document on one line (a stream, one per line).
    #[arg(long, global = true)]
    pub json: bool,
}
