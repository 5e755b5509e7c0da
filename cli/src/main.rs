//! The `jobvisor` binary: parses the command line and runs one command. The daemon is the
//! `jobvisor-supervisor` library (`serve`); every other command but `run` is a
//! client of its control socket, in `commands/`, over the typed client in `client.rs`.

mod args;
mod client;
mod commands;
mod output;
mod progress;
mod table;

use std::process::ExitCode;

use clap::Parser;
use jobvisor_supervisor::exit_code;

use crate::args::{Cli, Command};
use crate::client::run_client;
use crate::output::{json_error, json_errors};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return command_line_error(err),
    };
    if !matches!(cli.command, Command::Serve(_)) {
        // Commands print to pipes (`jobvisor status | head`): a closed pipe ends them
        // quietly, as it does any Unix tool. The daemon keeps SIGPIPE ignored.
        // SAFETY: setting a signal disposition to the default has no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let code = match &cli.command {
        Command::Serve(args) => commands::serve::serve(args),
        Command::Enqueue(args) => run_client(json_errors(
            args.output.json,
            commands::enqueue::execute(args),
        )),
        Command::Status(args) => run_client(commands::status::execute(args)),
        Command::Jobs(args) => run_client(commands::jobs::execute(args)),
        Command::Scripts(args) => run_client(commands::scripts::execute(args)),
        Command::Queues(args) => run_client(commands::queues::execute(args)),
        Command::State(args) => run_client(commands::state::execute(args)),
        Command::Secrets(args) => run_client(commands::secrets::execute(args)),
        Command::Schedules(args) => run_client(commands::schedules::execute(args)),
        Command::Restart(args) => run_client(json_errors(
            args.output.json,
            commands::restart::execute(args),
        )),
        Command::Drain(args) => run_client(json_errors(
            args.output.json,
            commands::drain::execute(args),
        )),
        Command::Logs(args) => {
            run_client(json_errors(args.output.json, commands::logs::execute(args)))
        }
        Command::Run(args) => jobvisor_supervisor::cli::run::execute(args),
        Command::Completions { shell } => commands::completions::execute(*shell),
        Command::Man(args) => commands::man::execute(args),
    };
    ExitCode::from(code)
}

/// Reports a bad command line (exit 2), or prints the help or version it asked for.
fn command_line_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    // clap's usage line lists every option that has a value, and one taken from the
    // environment looks as if the command required it: parse again without those
    // variables so the usage shows only what is really missing. Nothing else runs yet.
    let from_env = ["JOBVISOR_CONFIG", "JOBVISOR_SOCKET"];
    let err = if from_env.iter().any(|name| std::env::var_os(name).is_some()) {
        for name in from_env {
            // SAFETY: single-threaded here: no other thread can read the environment.
            unsafe { std::env::remove_var(name) };
        }
        Cli::try_parse().err().unwrap_or(err)
    } else {
        err
    };
    if std::env::args_os().any(|arg| arg == "--json") {
        // The error's own paragraph, without the usage and the hint below it.
        let text = err.to_string();
        let message: Vec<&str> = text
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .map(|line| line.trim().trim_start_matches("error: "))
            .collect();
        eprintln!("{}", json_error(exit_code::USAGE, &message.join(" ")));
        return ExitCode::from(exit_code::USAGE);
    }
    err.exit()
}
