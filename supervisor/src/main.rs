//! The `jobvisor` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use jobvisor::cli::client::run_client;
use jobvisor::cli::{Cli, Command, ServeArgs, json_errors};
use jobvisor::config::Config;
use jobvisor::exit_code;

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
        Command::Serve(args) => serve(args),
        Command::Enqueue(args) => run_client(json_errors(
            args.json,
            jobvisor::cli::enqueue::execute(args),
        )),
        Command::Status(args) => run_client(jobvisor::cli::status::execute(args)),
        Command::Jobs(command) => run_client(jobvisor::cli::jobs::execute(command)),
        Command::Scripts(command) => run_client(jobvisor::cli::scripts::execute(command)),
        Command::Queues(command) => run_client(jobvisor::cli::queues::execute(command)),
        Command::Schedules(command) => run_client(jobvisor::cli::schedules::execute(command)),
        Command::Restart(args) => run_client(json_errors(
            args.json,
            jobvisor::cli::control_commands::restart(args),
        )),
        Command::Drain(args) => run_client(json_errors(
            args.json,
            jobvisor::cli::control_commands::drain(args),
        )),
        Command::Logs(args) => run_client(json_errors(
            args.json,
            jobvisor::cli::control_commands::logs(args),
        )),
        Command::Run(args) => jobvisor::cli::run::execute(args),
        Command::Completions { shell } => jobvisor::cli::completions(*shell),
        Command::Man(args) => jobvisor::cli::man::man(args),
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
        eprintln!(
            "{}",
            jobvisor::cli::json_error(exit_code::USAGE, &message.join(" "))
        );
        return ExitCode::from(exit_code::USAGE);
    }
    err.exit()
}

fn serve(args: &ServeArgs) -> u8 {
    // glibc gives every thread that allocates its own arena and keeps what it freed; the
    // store's reads run on whichever blocking-pool thread is free, so page-cache memory
    // ended up held several times over. Two arenas keep the daemon's memory to what it
    // uses (measured: 48-69 MiB -> see BENCHMARKS.md, with a 1M + 1M store).
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator settings; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let config = match &args.config {
        Some(path) => Config::load(path),
        None => Ok(Config::embedded()),
    };
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("jobvisor serve: {err}");
            return exit_code::CONFIG;
        }
    };
    jobvisor::telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("jobvisor")
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("jobvisor serve: cannot start the runtime: {err}");
            return exit_code::FAILURE;
        }
    };
    if args.check {
        return match runtime.block_on(jobvisor::serve::check(&config)) {
            Ok(summary) => {
                println!(
                    "{}: ready to serve ({} scripts, {} schedules, worker {} starts)",
                    args.config
                        .as_ref()
                        .map_or("embedded defaults".to_owned(), |p| p.display().to_string()),
                    summary.scripts,
                    summary.schedules,
                    summary.worker_program.display()
                );
                exit_code::OK
            }
            Err(err) => {
                eprintln!("jobvisor serve --check: {err}");
                err.exit_code()
            }
        };
    }
    match runtime.block_on(jobvisor::serve::serve(config)) {
        Ok(()) => exit_code::OK,
        Err(err) => {
            tracing::error!(error = %err, "jobvisor serve failed");
            eprintln!("jobvisor serve: {err}");
            err.exit_code()
        }
    }
}
