//! `jobvisor-worker`: started by the supervisor with its socket on fd 3. Not for humans.

use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use jobvisor_protocol::worker::exit_status;
use jobvisor_worker::{
    ENGINE_STACK_BYTES, SUPERVISOR_FD, Sandbox, WorkerOptions, prepare_process, serve,
};

fn main() -> ExitCode {
    prepare_process();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, name, rest @ ..] = args.as_slice()
        && flag == "--check"
    {
        return match rest {
            [] => check(name.clone(), false),
            [option] if option == "--node-compat" => check(name.clone(), true),
            _ => {
                eprintln!("jobvisor-worker: usage: jobvisor-worker --check NAME [--node-compat]");
                exit(exit_status::USAGE)
            }
        };
    }
    if let [flag, what] = args.as_slice()
        && flag == "--sandbox-probe"
    {
        return sandbox_probe(what);
    }
    if args.first().is_some_and(|a| a == "--bench-inprocess") {
        return bench_inprocess(&args[1..]);
    }
    let options = match parse_args(args.into_iter()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("jobvisor-worker: {message}");
            eprintln!(
                "usage: jobvisor-worker [--memory-limit BYTES]  (fd 3: the supervisor's socket)"
            );
            return exit(exit_status::USAGE);
        }
    };
    let stream = match supervisor_socket() {
        Ok(stream) => stream,
        Err(message) => {
            eprintln!("jobvisor-worker: {message}");
            return exit(exit_status::USAGE);
        }
    };
    let engine = std::thread::Builder::new()
        .name("engine".to_owned())
        .stack_size(ENGINE_STACK_BYTES)
        .spawn(move || serve(stream, &options));
    let joined = match engine {
        Ok(handle) => handle.join(),
        Err(err) => {
            eprintln!("jobvisor-worker: cannot start the engine thread: {err}");
            return exit(exit_status::INTERNAL);
        }
    };
    match joined {
        Ok(Ok(())) => exit(exit_status::CLEAN),
        Ok(Err(err)) => {
            eprintln!("jobvisor-worker: {err}");
            exit(err.exit_status())
        }
        Err(_) => exit(exit_status::INTERNAL),
    }
}

/// Checks a script read from stdin, on a big-stack thread like a job.
fn check(name: String, node_compat: bool) -> ExitCode {
    let checked = std::thread::Builder::new()
        .name("engine".to_owned())
        .stack_size(ENGINE_STACK_BYTES)
        .spawn(move || {
            jobvisor_worker::check_script(
                &name,
                node_compat,
                std::io::stdin().lock(),
                std::io::stdout().lock(),
                Sandbox::Enforce,
            )
        });
    match checked.map(|handle| handle.join()) {
        Ok(Ok(Ok(true))) => exit(exit_status::CLEAN),
        Ok(Ok(Ok(false))) => exit(1),
        _ => exit(exit_status::INTERNAL),
    }
}

/// `--bench-inprocess FILE --payload JSON --iterations N` (hidden; used by `jobvisor
/// bench`): runs the handler in-process in a loop and prints one JSON line.
fn bench_inprocess(args: &[String]) -> ExitCode {
    let usage = |message: &str| {
        eprintln!("jobvisor-worker: {message}");
        eprintln!("usage: jobvisor-worker --bench-inprocess FILE --payload JSON --iterations N");
        exit(exit_status::USAGE)
    };
    let (file, mut payload, mut iterations) = match args.first() {
        Some(file) => (file.clone(), "{}".to_owned(), 1000_u32),
        None => return usage("--bench-inprocess needs a script file"),
    };
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let Some(value) = rest.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--payload" => payload = value.clone(),
            "--iterations" => match value.parse::<u32>() {
                Ok(n) if n > 0 => iterations = n,
                _ => return usage(&format!("--iterations: `{value}` is not a positive count")),
            },
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    let source = match std::fs::read_to_string(&file) {
        Ok(source) => source,
        Err(err) => return usage(&format!("cannot read {file}: {err}")),
    };
    let ran = std::thread::Builder::new()
        .name("engine".to_owned())
        .stack_size(ENGINE_STACK_BYTES)
        .spawn(move || {
            jobvisor_worker::bench_inprocess(&source, &payload, iterations, Sandbox::Enforce)
        });
    match ran.map(|handle| handle.join()) {
        Ok(Ok(Ok(report))) => {
            println!("{report}");
            exit(exit_status::CLEAN)
        }
        Ok(Ok(Err(message))) => {
            eprintln!("jobvisor-worker: the benchmark job failed: {message}");
            exit(1)
        }
        _ => exit(exit_status::INTERNAL),
    }
}

/// `--sandbox-probe WHAT` (hidden; used by the hardening tests): enters the sandbox as a
/// worker does and tries one thing. A refused system call ends the process with SIGSYS.
fn sandbox_probe(what: &str) -> ExitCode {
    match jobvisor_worker::sandbox_probe(what) {
        Ok(report) => {
            eprintln!("jobvisor-worker: sandbox probe `{what}`: {report}");
            exit(exit_status::CLEAN)
        }
        Err(message) => {
            eprintln!("jobvisor-worker: sandbox probe `{what}`: {message}");
            exit(1)
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<WorkerOptions, String> {
    let mut options = WorkerOptions {
        sandbox: Sandbox::Enforce,
        ..WorkerOptions::default()
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--memory-limit" => {
                let value = args.next().ok_or("--memory-limit needs a byte count")?;
                let bytes = value
                    .parse::<u64>()
                    .map_err(|_| format!("--memory-limit: `{value}` is not a byte count"))?;
                options.memory_limit = Some(bytes);
            }
            "--version" => {
                println!("jobvisor-worker {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

/// Takes fd 3, after checking that it is a socket.
fn supervisor_socket() -> Result<UnixStream, String> {
    // SAFETY: an all-zero stat is a valid value to be overwritten by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat only writes into `st`; a closed fd gives EBADF.
    let rc = unsafe { libc::fstat(SUPERVISOR_FD, &mut st) };
    if rc != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(
            "fd 3 is not a socket: this program is started by `jobvisor`, not by hand".to_owned(),
        );
    }
    // SAFETY: fd 3 is an open socket that nothing else in this process owns.
    Ok(unsafe { UnixStream::from_raw_fd(SUPERVISOR_FD) })
}

fn exit(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
