//! jobvisor-worker: one OS process that runs JavaScript jobs for the supervisor.
//!
//! It speaks the worker protocol on one socket (fd 3, set up by the supervisor, owned by
//! the [`channel`]), runs each `Run` on the Boa engine and answers with `Log` frames, the
//! job's host calls, and one `Done`. It never opens a file, a network connection or the
//! database; everything it knows arrives in frames. The [`sandbox`] enforces this from the
//! moment the engine is ready.

mod channel;
mod engine;
mod outbox;
mod probe;
mod sandbox;
mod sys;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Instant;

use jobvisor_protocol::worker::{
    FromWorker, Isolation, JobLimits, Outcome, RunJob, ScriptRef, ToWorker, exit_status,
};
use jobvisor_protocol::{FrameError, Hello, HelloError, Role};

use channel::Channel;
pub use engine::{Engine, ProtocolViolation};
pub use probe::sandbox_probe;
pub use sandbox::{Sandbox, SandboxError, prepare_process};

/// The fd the supervisor passes the worker's end of the socketpair on.
pub const SUPERVISOR_FD: i32 = 3;

/// Stack of the engine thread. The parser, `JSON.stringify` and a few built-ins recurse on
/// the native stack; a big one turns most deep inputs into clean errors instead of an
/// abort. Untouched stack pages cost no memory.
pub const ENGINE_STACK_BYTES: usize = 256 * 1024 * 1024;

/// How the worker was started.
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    /// Set an RLIMIT_DATA of this many bytes above the current data segment before running
    /// any JavaScript (used where no memory cgroup is available).
    pub memory_limit: Option<u64>,
    /// Whether to enter the system-call sandbox before the first job.
    pub sandbox: Sandbox,
}

/// Why the worker stopped other than by a clean shutdown.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the supervisor closed the connection before its hello")]
    NoHello,
    #[error("refused the supervisor's hello: {0}")]
    Hello(#[from] HelloError),
    #[error("reading from the supervisor: {0}")]
    Read(#[source] FrameError),
    #[error("writing to the supervisor: {0}")]
    Write(#[source] FrameError),
    #[error("cannot set the memory limit: {0}")]
    MemoryLimit(#[source] std::io::Error),
    #[error("cannot enter the sandbox: {0}")]
    Sandbox(#[source] SandboxError),
    #[error(
        "the supervisor sent a host reply (call {call_id}) while no job runs, to no call awaiting one"
    )]
    UnexpectedHostReply { call_id: u64 },
    #[error("{0}")]
    DuringJob(#[source] ProtocolViolation),
}

impl WorkerError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> i32 {
        match self {
            WorkerError::NoHello
            | WorkerError::Hello(_)
            | WorkerError::Read(_)
            | WorkerError::UnexpectedHostReply { .. }
            | WorkerError::DuringJob(_) => exit_status::PROTOCOL,
            WorkerError::Write(_) => exit_status::IO,
            WorkerError::MemoryLimit(_) | WorkerError::Sandbox(_) => exit_status::INTERNAL,
        }
    }
}

/// `jobvisor-worker --check NAME [--node-compat]`: reads a script from `input`, checks it
/// (parse, evaluate, default-export function) and writes one JSON line to `output`:
/// `{"ok":true}` or `{"ok":false,"name":…,"message":…}`. Returns whether it is usable.
/// The script's top-level code runs inside `sandbox`, entered once the source is read,
/// with the node compatibility globals if `node_compat`.
pub fn check_script(
    name: &str,
    node_compat: bool,
    mut input: impl Read,
    mut output: impl Write,
    sandbox: Sandbox,
) -> std::io::Result<bool> {
    let mut source = String::new();
    input.read_to_string(&mut source)?;
    let engine = Engine::new(Rc::new(Channel::detached()));
    engine.warm_up();
    sandbox::enter(sandbox).map_err(std::io::Error::other)?;
    let verdict = match engine.check(name, &source, node_compat) {
        Ok(()) => serde_json::json!({ "ok": true }),
        Err(err) => serde_json::json!({ "ok": false, "name": err.name, "message": err.message }),
    };
    writeln!(output, "{verdict}")?;
    Ok(verdict["ok"] == true)
}

/// `jobvisor-worker --bench-inprocess FILE --payload JSON --iterations N` (hidden, for
/// `jobvisor-bench`): the raw baseline of a job. Runs `source` as one job per iteration
/// through [`Engine::run`] on one warm context (isolation=script: payload parsing, the
/// call, the run loop, `JSON.stringify` of the result), with no IPC and no database.
/// One unmeasured job first builds the context. Returns a JSON object:
/// `{"iterations":N,"jobs_per_s":…,"median_us":…,"median_cpu_us":…,"result":…}`. Must run on a thread
/// with [`ENGINE_STACK_BYTES`] of stack. The jobs run inside `sandbox`, as in a worker.
pub fn bench_inprocess(
    source: &str,
    payload: &str,
    iterations: u32,
    sandbox: Sandbox,
) -> Result<String, String> {
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    engine.warm_up();
    sandbox::enter(sandbox).map_err(|e| e.to_string())?;
    let job = |id: i64, source: Option<String>| RunJob {
        job_id: id,
        attempt: 1,
        max_attempts: 1,
        queue: "default".to_owned(),
        script: ScriptRef {
            name: "bench".to_owned(),
            hash: "bench-v1".to_owned(),
            source,
            node_compat: false,
        },
        payload: payload.to_owned(),
        deadline_ms: 30_000,
        signal_margin_ms: 0,
        limits: JobLimits::default(),
        isolation: Isolation::Script,
    };
    let first = match engine.run(&job(0, Some(source.to_owned()))).0 {
        Outcome::Ok { result } => result,
        Outcome::Err(err) => return Err(format!("{}: {}", err.name, err.message)),
    };
    let mut samples = Vec::with_capacity(iterations as usize);
    let mut cpu = Vec::with_capacity(iterations as usize);
    let started = Instant::now();
    for id in 1..=i64::from(iterations) {
        let job = job(id, None);
        let one = Instant::now();
        let (outcome, stats) = engine.run(&job);
        if let Outcome::Err(err) = outcome {
            return Err(format!("job {id}: {}: {}", err.name, err.message));
        }
        samples.push(one.elapsed().as_secs_f64() * 1e6);
        cpu.push(stats.cpu_us as f64);
    }
    let total = started.elapsed().as_secs_f64();
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    };
    let report = serde_json::json!({
        "iterations": iterations,
        "jobs_per_s": if total > 0.0 { f64::from(iterations) / total } else { 0.0 },
        "median_us": median(samples),
        // Thread CPU time per job as the engine measures it for the daemon (µs ticks).
        "median_cpu_us": median(cpu),
        "result": first,
    });
    Ok(report.to_string())
}

/// Serves the supervisor on `socket` until it says `Shutdown` or closes the connection
/// between jobs. Must run on a thread with [`ENGINE_STACK_BYTES`] of stack. Enters
/// `options.sandbox` once the engine is ready, before `Ready`: from then on nothing in the
/// process may open a file or start a thread, and `socket` must be [`SUPERVISOR_FD`].
pub fn serve(socket: UnixStream, options: &WorkerOptions) -> Result<(), WorkerError> {
    let channel = Rc::new(Channel::new(socket));
    channel
        .send(&Hello::ours(Role::Worker))
        .map_err(WorkerError::Write)?;
    let hello = channel
        .recv::<Hello>()
        .map_err(WorkerError::Read)?
        .ok_or(WorkerError::NoHello)?
        .message;
    hello.check(Role::Supervisor)?;

    if let Some(budget) = options.memory_limit {
        sys::limit_data_segment(budget).map_err(WorkerError::MemoryLimit)?;
    }
    let mut engine = Engine::new(channel.clone());
    engine.warm_up();
    // From here on a job can only compute, sleep, allocate and talk on fd 3.
    sandbox::enter(options.sandbox).map_err(WorkerError::Sandbox)?;
    channel
        .send(&FromWorker::Ready {
            pid: std::process::id(),
        })
        .map_err(WorkerError::Write)?;

    loop {
        let Some(frame) = channel.recv::<ToWorker>().map_err(WorkerError::Read)? else {
            return Ok(());
        };
        match frame.message {
            ToWorker::Shutdown => return Ok(()),
            ToWorker::Ping { seq } => {
                channel
                    .send(&FromWorker::Pong { seq })
                    .map_err(WorkerError::Write)?;
            }
            // The abort of a job that ended first: nothing to abort.
            ToWorker::Abort { .. } => {}
            // The answer to a call of an attempt that ended first: nothing awaits it.
            ToWorker::HostReply { call_id, .. } => {
                if !engine.host_calls().take_late_reply(call_id) {
                    return Err(WorkerError::UnexpectedHostReply { call_id });
                }
            }
            ToWorker::Run(job) => {
                let (outcome, stats) = engine.run(&job);
                if let Some(violation) = engine.host_calls().take_violation() {
                    return Err(WorkerError::DuringJob(violation));
                }
                channel
                    .send(&FromWorker::Done {
                        job_id: job.job_id,
                        attempt: job.attempt,
                        outcome,
                        stats,
                    })
                    .map_err(WorkerError::Write)?;
                if engine.host_calls().shutdown_requested() {
                    return Ok(());
                }
            }
        }
    }
}
