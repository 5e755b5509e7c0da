//! `jobvisor serve`: loads the config and runs the daemon (the supervisor library) on a
//! current-thread runtime; `--check` runs its preflight instead.

use std::path::PathBuf;

use jobvisor_supervisor::config::Config;
use jobvisor_supervisor::exit_code;

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

pub fn serve(args: &ServeArgs) -> u8 {
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
    jobvisor_supervisor::telemetry::init(config.log_format);
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
        return match runtime.block_on(jobvisor_supervisor::serve::check(&config)) {
            Ok(summary) => {
                for moved in &summary.moved {
                    println!("{moved} (still read from its old place: move it there)");
                }
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
    match runtime.block_on(jobvisor_supervisor::serve::run(
        config,
        jobvisor_supervisor::signals::SignalSource::Os,
    )) {
        Ok(()) => exit_code::OK,
        Err(err) => {
            tracing::error!(error = %err, "jobvisor serve failed");
            eprintln!("jobvisor serve: {err}");
            err.exit_code()
        }
    }
}
