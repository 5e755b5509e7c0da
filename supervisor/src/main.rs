//! The `jobvisor` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use jobvisor::cli::client::run_client;
use jobvisor::cli::{Cli, Command, ServeArgs};
use jobvisor::config::Config;
use jobvisor::exit_code;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Enqueue(args) => run_client(jobvisor::cli::enqueue::execute(args)),
        Command::Status(args) => run_client(jobvisor::cli::status::execute(args)),
        Command::Jobs(command) => run_client(jobvisor::cli::jobs::execute(command)),
        Command::Scripts(command) => run_client(jobvisor::cli::scripts::execute(command)),
        Command::Queues(command) => run_client(jobvisor::cli::queues::execute(command)),
        Command::Schedules(command) => run_client(jobvisor::cli::schedules::execute(command)),
        Command::Restart(args) => run_client(jobvisor::cli::control_commands::restart(args)),
        Command::Drain(args) => run_client(jobvisor::cli::control_commands::drain(args)),
        Command::Logs(args) => run_client(jobvisor::cli::control_commands::logs(args)),
        Command::Run(args) => jobvisor::cli::run::execute(args),
        Command::Bench(args) => jobvisor::cli::bench::execute(args),
        Command::Completions { shell } => jobvisor::cli::completions(*shell),
        Command::Man => jobvisor::cli::man(),
    };
    ExitCode::from(code)
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
