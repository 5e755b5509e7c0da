//! `jobvisor run FILE`: one job through one real worker process, no daemon, no database.
//!
//! The worker is started through the pool's launcher with the daemon's confinement (own
//! process group, cgroup or rlimit memory limit, fd 3 socket) and the job runs through the
//! pool's attempt runner (`pool/attempt.rs`), so what a script author sees here is what
//! the daemon will do: the same result, the same console capture, the same timeout,
//! out-of-memory and protocol-error classification, the same host calls.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use jobvisor_protocol::worker::{Isolation, JobLimits, LogLevel, RunJob, ScriptRef, ToWorker};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::cgroup::{GroupLimits, Limiter, LimiterChoice, LimiterMode, WorkerGroup};
use crate::config::{DEFAULT_KILL_GRACE, DEFAULT_WORKER_START_TIMEOUT};
use crate::exit_code;
use std::sync::Arc;

use crate::host::fetch::{FetchClient, FetchLimits, FetchSettings, NetPolicy};
use crate::host::secrets::{SecretSource, SecretSpec, SecretStore};
use crate::host::state::{NoState, StateReader};
use crate::host::state_file::StateFile;
use crate::host::{HostLimits, HostService, ScriptGrant};
use crate::pool::attempt::{
    AfterAttempt, AttemptHooks, AttemptResult, AttemptRun, AttemptSpec, JobEnd, LiveWorker,
    REAP_WITHIN, STDERR_KEEP, WorkerFate, level_name, run_attempt,
};
use crate::pool::connection::WorkerConnection;
use crate::pool::exit::{AttemptOutcome, ExitFacts, classify_exit};
use crate::pool::launch::{Confinement, WORKER_MAX_PIDS, launch};
use crate::pool::process::{WorkerProcess, stderr_tail};
use crate::pool::spawn::{SpawnSpec, default_worker_program};
use crate::reaper::WorkerPids;
use crate::store::{AttemptRef, JobId, sha256_hex};
use crate::units::{format_size, parse_size, parse_timeout};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The script: an ES module whose default export is the handler, or a directory of
    /// modules (a multi-file script) whose entry is index.js, index.mjs or main.js.
    pub file: PathBuf,
    /// The entry module of a directory, when it is not index.js, index.mjs or main.js.
    #[arg(long, value_name = "PATH")]
    pub entry: Option<String>,
    /// The payload: JSON text, `@FILE` to read it from a file, or `-` for stdin.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// Stop the job after this long (e.g. 30s, 500ms, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Memory limit of the worker (e.g. 256MiB, 1GiB).
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    pub memory: u64,
    /// `script`: the handler runs on a context kept for the script; `job`: a fresh
    /// context for the job. With one job the result is the same; this exercises the mode.
    #[arg(long, value_enum, default_value = "script")]
    pub isolation: IsolationArg,
    /// How the memory limit is enforced: the best available, a cgroup, or rlimit.
    #[arg(long, value_enum, default_value = "auto")]
    pub limiter: LimiterChoice,
    /// Give the script node's `Buffer` and a minimal `process` (`env`, empty, and
    /// `nextTick`), as `node_compat = true` in its [[script]] entry does.
    #[arg(long)]
    pub node_compat: bool,
    /// A host the script may fetch from (`host`, `*.domain`, `host:port`), as `allow_net`
    /// of its [[script]] entry. Repeat it, or separate hosts with commas.
    #[arg(long, value_name = "HOST", value_delimiter = ',')]
    pub allow_net: Vec<String>,
    /// An exact `host:port` the script may reach although it resolves to a private or
    /// loopback address (a local test server), as `allow_private`.
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',')]
    pub allow_private: Vec<String>,
    /// A secret granted to the script: `NAME=@FILE` reads its value from FILE. References
    /// to it (`ctx.secrets.ref`) may go to the `--allow-net` hosts; it signs; its value is
    /// readable only with `--expose-secret NAME`. FILE must be private to its owner
    /// (`chmod 600`), as a secret file of the daemon must.
    #[arg(long, value_name = "NAME=@FILE")]
    pub secret: Vec<String>,
    /// Let the script read this `--secret`'s value (`ctx.secrets.get`), as `expose = true`.
    #[arg(long, value_name = "NAME")]
    pub expose_secret: Vec<String>,
    /// Keep `ctx.state` in this JSON file between runs (created if missing; written only
    /// when the job completes). Without it, state starts empty and is not kept.
    #[arg(long, value_name = "FILE")]
    pub state_file: Option<PathBuf>,
    /// Print one JSON object (result or error, console lines, duration, outcome).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum IsolationArg {
    Script,
    Job,
}

impl From<IsolationArg> for Isolation {
    fn from(value: IsolationArg) -> Self {
        match value {
            IsolationArg::Script => Isolation::Script,
            IsolationArg::Job => Isolation::Job,
        }
    }
}

/// A console line of the job.
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleLine {
    pub level: &'static str,
    pub text: String,
}

/// What `run --json` prints.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub outcome: String,
    /// The handler's result (absent when it returned nothing serialisable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportError>,
    pub console: Vec<ConsoleLine>,
    pub console_dropped: u32,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    pub memory_limit: MemoryLimitReport,
    pub worker_pid: u32,
    /// The child jobs the job enqueued (`ctx.enqueue`): printed, not enqueued.
    pub children: Vec<ChildReport>,
    /// The HTTP requests it made.
    pub requests: Vec<crate::store::RequestRecord>,
    /// State writes it staged (kept in `--state-file` when the job completed).
    pub state_writes: usize,
}

/// A child job `jobvisor run` would have enqueued.
#[derive(Debug, Serialize)]
pub struct ChildReport {
    pub script: String,
    pub payload: Box<serde_json::value::RawValue>,
    pub queue: String,
    pub priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl ChildReport {
    fn of(child: crate::store::EnqueueRequest) -> anyhow::Result<ChildReport> {
        Ok(ChildReport {
            payload: serde_json::value::RawValue::from_string(child.payload)?,
            script: child.script,
            queue: child.queue,
            priority: child.priority,
            delay_ms: match child.run_at {
                crate::store::RunAt::After(delay) => Some(delay.as_millis() as u64),
                _ => None,
            },
            unique_key: child.unique_key,
            max_attempts: child.max_attempts,
            timeout_ms: child.timeout.map(|t| t.as_millis() as u64),
        })
    }
}

#[derive(Debug, Serialize)]
pub struct ReportError {
    pub kind: String,
    pub name: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MemoryLimitReport {
    pub bytes: u64,
    pub enforced_by: LimiterMode,
}

/// Input errors, reported with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum RunInputError {
    #[error("cannot read script {path}: {source}")]
    Script {
        path: PathBuf,
        #[source]
        source: crate::script_files::ScriptFilesError,
    },
    #[error("cannot read the payload from {what}: {source}")]
    PayloadRead {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the payload is not valid JSON ({0}); pass JSON text, @FILE or - for stdin")]
    PayloadJson(#[source] serde_json::Error),
    #[error("--timeout must be more than 0s")]
    ZeroTimeout,
    #[error("--memory must be at least 16MiB, got {0}")]
    TinyMemory(String),
    #[error("{0}")]
    State(String),
    /// A `--secret`, `--expose-secret`, `--allow-net` or `--allow-private` that cannot be
    /// used, with why.
    #[error("{0}")]
    Grant(String),
}

/// Runs the command and returns the process exit code.
pub fn execute(args: &RunArgs) -> u8 {
    let input = match read_input(args) {
        Ok(input) => input,
        Err(err) => {
            eprintln!("jobvisor run: {err}");
            return exit_code::USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("jobvisor run: cannot start the runtime: {err}");
            return exit_code::FAILURE;
        }
    };
    let stream_console = !args.json;
    let name = input.name.clone();
    let source = input.source.clone();
    match runtime.block_on(run_job(args, input, stream_console)) {
        Ok(report) => print_report(args, &report, &name, &source),
        Err(err) => {
            eprintln!("jobvisor run: {err:#}");
            exit_code::FAILURE
        }
    }
}

struct Input {
    name: String,
    source: String,
    payload: String,
    /// `--state-file`, read.
    state: Option<Arc<StateFile>>,
    /// The `--secret` values, read once; taken by the run's host.
    secrets: Option<SecretStore>,
}

fn read_input(args: &RunArgs) -> Result<Input, RunInputError> {
    if args.timeout.is_zero() {
        return Err(RunInputError::ZeroTimeout);
    }
    if args.memory < 16 << 20 {
        return Err(RunInputError::TinyMemory(format_size(args.memory)));
    }
    let source =
        crate::script_files::read_script(&args.file, args.entry.as_deref()).map_err(|source| {
            RunInputError::Script {
                path: args.file.clone(),
                source,
            }
        })?;
    let payload = read_payload(&args.payload)?;
    serde_json::from_str::<serde_json::Value>(&payload).map_err(RunInputError::PayloadJson)?;
    let name = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "script".to_owned());
    let state = match &args.state_file {
        Some(path) => Some(Arc::new(
            StateFile::open(path, &name).map_err(RunInputError::State)?,
        )),
        None => None,
    };
    // The policy names the setting as the config writes it: here it is a flag.
    NetPolicy::parse(&args.allow_net, &args.allow_private).map_err(|problem| {
        let flag = problem.replacen("allow_net", "--allow-net", 1).replacen(
            "allow_private",
            "--allow-private",
            1,
        );
        RunInputError::Grant(flag)
    })?;
    // Read before anything starts, so that bad input is refused first. A file named on the
    // command line must be there: the daemon only warns, so that a config can declare a
    // secret before it is provided.
    let secrets = SecretStore::load(&secret_specs(args)?, std::path::Path::new("."), None)
        .map_err(|err| RunInputError::Grant(crate::host::secrets::describe(&err)))?;
    if let Some((_, reason)) = secrets.missing().next() {
        return Err(RunInputError::Grant(reason.to_owned()));
    }
    Ok(Input {
        name,
        source,
        payload,
        state,
        secrets: Some(secrets),
    })
}

/// `JSON`, `@FILE` or `-` (stdin).
pub fn read_payload(spec: &str) -> Result<String, RunInputError> {
    if spec == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| RunInputError::PayloadRead {
                what: "stdin".to_owned(),
                source,
            })?;
        return Ok(text);
    }
    if let Some(path) = spec.strip_prefix('@') {
        return std::fs::read_to_string(path).map_err(|source| RunInputError::PayloadRead {
            what: path.to_owned(),
            source,
        });
    }
    Ok(spec.to_owned())
}

async fn run_job(
    args: &RunArgs,
    mut input: Input,
    stream_console: bool,
) -> anyhow::Result<RunReport> {
    let limiter = Limiter::detect(args.limiter)?;
    limiter.remove_stale_run_groups();
    let group_name = format!("{}{}", crate::cgroup::RUN_GROUP_PREFIX, std::process::id());
    let group = limiter.create_group(
        &group_name,
        GroupLimits {
            memory_bytes: args.memory,
            max_pids: WORKER_MAX_PIDS,
        },
    )?;
    let spec = SpawnSpec {
        program: default_worker_program(),
        self_limit_bytes: (!group.enforces_memory()).then_some(args.memory),
    };
    let secrets = input.secrets.take().unwrap_or_default();
    let result = drive_attempt(args, &input, secrets, &spec, &group, stream_console).await;
    if let Err(err) = group.remove() {
        eprintln!("jobvisor run: warning: cannot remove the worker's cgroup: {err}");
    }
    result
}

/// What `jobvisor run` does with what it hears while the attempt runs.
struct RunHooks {
    stream_console: bool,
    console: Vec<ConsoleLine>,
}

impl AttemptHooks for RunHooks {
    fn console(&mut self, _attempt: AttemptRef, level: LogLevel, text: String) {
        let line = ConsoleLine {
            level: level_name(level),
            text,
        };
        if self.stream_console {
            print_console_line(&line);
        }
        self.console.push(line);
    }

    fn hand_back(&mut self, _job: AttemptRef) {
        // Nothing sends `jobvisor run` another job.
    }
}

/// Starts one worker in `group` and runs the job on it through the pool's attempt runner,
/// so the outcome is classified exactly as the daemon classifies it.
async fn drive_attempt(
    args: &RunArgs,
    input: &Input,
    secrets: SecretStore,
    spec: &SpawnSpec,
    group: &WorkerGroup,
    stream_console: bool,
) -> anyhow::Result<RunReport> {
    // The HTTP client is built before a worker exists.
    let host = run_host(args, input, secrets)?;
    // This thread forks and lives as long as the worker (PDEATHSIG follows it).
    let launched = launch(&Confinement::worker(spec), group)?;
    let socket = launched
        .socket
        .ok_or_else(|| anyhow::anyhow!("the worker was started without its socket"))?;
    let mut process = WorkerProcess::new(launched.child, WorkerPids::default());
    let pid = process.pid();
    let stderr = tokio::spawn(stderr_tail(process.take_stderr(), STDERR_KEEP));
    let attempt = AttemptRef {
        id: JobId(1),
        attempt: 1,
        epoch: 0,
    };
    let mut hooks = RunHooks {
        stream_console,
        console: Vec::new(),
    };
    let ran = match WorkerConnection::establish(socket, DEFAULT_WORKER_START_TIMEOUT).await {
        Err(err) => not_started(&mut process, group, attempt, err.to_string()).await,
        Ok(conn) => {
            let mut worker = LiveWorker::ready(process, conn, stderr, group);
            let run = RunJob {
                job_id: attempt.id.0,
                attempt: attempt.attempt,
                max_attempts: 1,
                queue: "default".to_owned(),
                script: ScriptRef {
                    name: input.name.clone(),
                    hash: sha256_hex(&input.source),
                    source: Some(input.source.clone()),
                    node_compat: args.node_compat,
                },
                payload: input.payload.clone(),
                deadline_ms: u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX),
                signal_margin_ms: crate::pool::slot::signal_margin_ms(
                    crate::config::JobsSection::default().signal_margin,
                    args.timeout,
                ),
                limits: JobLimits::default(),
                isolation: args.isolation.into(),
            };
            let spec = AttemptSpec::new(attempt, run, args.timeout, DEFAULT_KILL_GRACE);
            // Nobody sends commands to `jobvisor run`; the sender keeps the channel open.
            let (_no_commands, mut commands) = mpsc::unbounded_channel();
            let deadline = spec.started + args.timeout;
            let host = host.begin(attempt, &input.name, &[], deadline);
            let ran = run_attempt(&mut worker, group, host, &mut commands, &mut hooks, spec).await;
            let ran = match ran {
                AttemptRun::Ran(ran) => *ran,
                AttemptRun::NotSent(err) => {
                    let why = format!("sending the job: {err}");
                    not_started(&mut worker.process, group, attempt, why).await
                }
            };
            if ran.worker == WorkerFate::Alive {
                // It exits by itself after Shutdown; anything else is killed.
                let _ = worker.conn.send(&ToWorker::Shutdown).await;
                if tokio::time::timeout(REAP_WITHIN, worker.process.wait())
                    .await
                    .is_err()
                {
                    worker.process.kill_and_reap(group, REAP_WITHIN).await;
                }
            }
            if worker.process.exited().is_none() {
                anyhow::bail!("worker {pid} did not exit after it was killed");
            }
            ran
        }
    };
    let ran = commit_state(input, ran);
    report(args, group, ran, hooks.console)
}

/// The host of `jobvisor run`: the script is granted what the flags say (each `--secret`
/// bound to the `--allow-net` hosts), the limits are the daemon's defaults, and its state
/// is the `--state-file` (or starts empty).
fn run_host(args: &RunArgs, input: &Input, secrets: SecretStore) -> anyhow::Result<HostService> {
    let grant = ScriptGrant {
        allow_net: args.allow_net.clone(),
        allow_private: args.allow_private.clone(),
        secrets: secrets.list().into_iter().map(|s| s.name).collect(),
        namespace: None,
    };
    let state: Arc<dyn StateReader> = match &input.state {
        Some(file) => file.clone(),
        None => Arc::new(NoState),
    };
    let grants = [(input.name.clone(), grant)].into_iter().collect();
    let host = HostService::with(grants, ScriptGrant::default(), state, HostLimits::default());
    let client = FetchClient::new(FetchSettings::default())?;
    Ok(host.with_network(client, FetchLimits::default(), secrets)?)
}

/// `--secret NAME=@FILE` (with `--expose-secret NAME`) as the secrets of the run, bound to
/// the `--allow-net` hosts.
fn secret_specs(args: &RunArgs) -> Result<Vec<SecretSpec>, RunInputError> {
    let mut specs: Vec<SecretSpec> = Vec::new();
    for given in &args.secret {
        let Some((name, path)) = given
            .split_once('=')
            .and_then(|(name, file)| Some((name, file.strip_prefix('@')?)))
        else {
            return Err(RunInputError::Grant(format!(
                "--secret {given}: write NAME=@FILE (the value is read from FILE, never \
                 given on the command line)"
            )));
        };
        if path.is_empty() {
            return Err(RunInputError::Grant(format!(
                "--secret {given}: name the file after `@` (NAME=@FILE)"
            )));
        }
        if specs.iter().any(|s| s.name == name) {
            return Err(RunInputError::Grant(format!(
                "--secret {name} is given twice"
            )));
        }
        specs.push(SecretSpec {
            name: name.to_owned(),
            hosts: args.allow_net.clone(),
            expose: args.expose_secret.iter().any(|e| e == name),
            source: Some(SecretSource::File(PathBuf::from(path))),
        });
    }
    if let Some(unknown) = args
        .expose_secret
        .iter()
        .find(|name| !specs.iter().any(|s| &s.name == *name))
    {
        return Err(RunInputError::Grant(format!(
            "--expose-secret {unknown}: no --secret {unknown}=@FILE is given"
        )));
    }
    Ok(specs)
}

/// A completed job's state writes go to the `--state-file`; if one of its checks fails
/// there, the job failed, as it would in the daemon.
fn commit_state(input: &Input, mut ran: AttemptResult) -> AttemptResult {
    let (Some(file), AttemptOutcome::Completed) = (&input.state, &ran.end.outcome) else {
        return ran;
    };
    if let Err(problem) = file.commit(&ran.end.host.effects.state) {
        ran.end.outcome = AttemptOutcome::JsError;
        ran.end.result = None;
        ran.end.error = Some(("StateConflict".to_owned(), problem, None));
        ran.end.host.effects = Default::default();
    }
    ran
}

/// The result of an attempt whose worker never got the job: killed, and a protocol error
/// unless the memory limit killed it first.
async fn not_started(
    process: &mut WorkerProcess,
    group: &WorkerGroup,
    attempt: AttemptRef,
    why: String,
) -> AttemptResult {
    let status = process.kill_and_reap(group, REAP_WITHIN).await;
    let outcome = match status {
        Some(status) if group.oom_kills() > 0 => classify_exit(ExitFacts {
            status,
            killed_for_timeout: false,
            oom_kills: group.oom_kills(),
            stderr_tail: "",
        }),
        _ => AttemptOutcome::ProtocolError(why),
    };
    AttemptResult {
        end: JobEnd {
            attempt,
            outcome,
            result: None,
            error: None,
            logs: String::new(),
            logs_dropped: 0,
            stats: None,
            duration: Duration::ZERO,
            worker_pid: process.pid(),
            peak_memory: group.peak_memory(),
            kill_reason: None,
            host: Default::default(),
        },
        worker: WorkerFate::Gone,
        then: AfterAttempt::Continue,
        worker_error: None,
    }
}

/// What `run` prints, from the attempt's result.
fn report(
    args: &RunArgs,
    group: &WorkerGroup,
    ran: AttemptResult,
    console: Vec<ConsoleLine>,
) -> anyhow::Result<RunReport> {
    let end = ran.end;
    // Kept as the worker wrote it: key order and number formatting are the handler's.
    let result = match end.result {
        Some(text) => Some(serde_json::value::RawValue::from_string(text)?),
        None => None,
    };
    let error = end.error.map(|(name, message, stack)| ReportError {
        // The worker's own kind for a failure it reported, else the observed outcome (the
        // same wording as the daemon's attempt records).
        kind: match ran.worker_error {
            Some(kind) => format!("{kind:?}").to_lowercase(),
            None => end.outcome.as_str().to_owned(),
        },
        name,
        message,
        stack,
    });
    let stats = end.stats;
    let host = end.host;
    let children = host
        .effects
        .children
        .into_iter()
        .map(ChildReport::of)
        .collect::<anyhow::Result<_>>()?;
    Ok(RunReport {
        children,
        requests: host.requests,
        state_writes: host.effects.state.len(),
        outcome: end.outcome.as_str().to_owned(),
        result,
        error,
        console,
        console_dropped: end.logs_dropped,
        duration_ms: end.duration.as_secs_f64() * 1000.0,
        cpu_ms: stats.map(|s| s.cpu_us as f64 / 1000.0),
        peak_memory_bytes: end.peak_memory.or(stats.map(|s| s.max_rss_bytes)),
        memory_limit: MemoryLimitReport {
            bytes: args.memory,
            enforced_by: group.mode(),
        },
        worker_pid: end.worker_pid,
    })
}

fn print_console_line(line: &ConsoleLine) {
    let mut stderr = std::io::stderr().lock();
    let _ = match line.level {
        "info" => writeln!(stderr, "{}", line.text),
        level => writeln!(stderr, "{level}: {}", line.text),
    };
}

/// Prints the report and returns the exit code for its outcome. `name` and `source` are
/// the script's, to show the line an error points at.
fn print_report(args: &RunArgs, report: &RunReport, name: &str, source: &str) -> u8 {
    let code = match report.outcome.as_str() {
        "completed" => exit_code::OK,
        "js_error" => exit_code::JOB_ERROR,
        "timeout" => exit_code::JOB_TIMEOUT,
        "oom" => exit_code::JOB_OOM,
        _ => exit_code::JOB_CRASHED,
    };
    if args.json {
        match serde_json::to_string(report) {
            Ok(text) => println!("{text}"),
            Err(err) => {
                eprintln!("jobvisor run: cannot print the report: {err}");
                return exit_code::FAILURE;
            }
        }
        return code;
    }
    if let Some(result) = &report.result {
        println!("{result}");
    }
    for child in &report.children {
        eprintln!(
            "child job (not enqueued by `run`): {} {} (queue {}{})",
            child.script,
            child.payload,
            child.queue,
            child
                .delay_ms
                .map(|ms| format!(", in {ms} ms"))
                .unwrap_or_default()
        );
    }
    let summary = format!(
        "{} in {:.1} ms{}",
        report.outcome,
        report.duration_ms,
        if report.console_dropped > 0 {
            format!(", {} console lines dropped", report.console_dropped)
        } else {
            String::new()
        }
    );
    if let Some(error) = &report.error {
        if let Some(excerpt) = error
            .stack
            .as_deref()
            .and_then(|stack| source_excerpt(stack, name, source))
        {
            eprintln!("{excerpt}\n");
        }
        eprintln!("error: {}: {}", error.name, error.message);
        if let Some(stack) = &error.stack {
            eprintln!("{}", stack.trim_end());
        }
    }
    if std::io::stderr().is_terminal() || report.error.is_some() {
        eprintln!("jobvisor run: {summary}");
    }
    code
}

/// The script line the innermost frame of `stack` that is in the script points at, with a
/// caret under its column, as `FILE:LINE`, the line, and the caret line.
fn source_excerpt(stack: &str, name: &str, source: &str) -> Option<String> {
    let bundle = jobvisor_protocol::bundle::decode(source).ok().flatten();
    let (file, line, column) = stack.lines().find_map(|frame| {
        let location = frame.trim_end().strip_suffix(')')?;
        let location = &location[location.rfind(" (")? + 2..];
        let mut parts = location.rsplitn(3, ':');
        let column: usize = parts.next()?.parse().ok()?;
        let line: usize = parts.next()?.parse().ok()?;
        let file = parts.next()?;
        let in_script = match &bundle {
            Some(bundle) => bundle.files.contains_key(file),
            None => std::path::Path::new(file)
                .file_stem()
                .is_some_and(|stem| stem == name),
        };
        in_script.then_some((file, line, column))
    })?;
    // A multi-file script's frames name the file of the bundle they are in.
    let source = match &bundle {
        Some(bundle) => bundle.files.get(file)?.as_str(),
        None => source,
    };
    let text = source.lines().nth(line.checked_sub(1)?)?;
    // Tabs are kept so the caret lines up however wide the terminal shows them.
    let pad: String = text
        .chars()
        .take(column.checked_sub(1)?)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!("{file}:{line}\n{text}\n{pad}^"))
}

#[cfg(test)]
mod tests {
    use super::source_excerpt;

    #[test]
    fn the_excerpt_shows_the_innermost_script_frame_with_a_caret() {
        let source = "export default function (p) {\n\tconst n = 1;\n\treturn p.missing.map((x) => x * n);\n}\n";
        let stack =
            "    at map (native)\n    at default (te6.js:3:18)\n    at outer (te6.js:1:1)\n";
        assert_eq!(
            source_excerpt(stack, "te6", source).as_deref(),
            Some("te6.js:3\n\treturn p.missing.map((x) => x * n);\n\t                ^")
        );
        assert_eq!(source_excerpt(stack, "other", source), None);
        assert_eq!(
            source_excerpt("    at f (te6.js:40:1)", "te6", source),
            None
        );
    }

    #[test]
    fn a_multi_file_script_s_excerpt_is_from_the_file_of_the_frame() {
        let bundle = jobvisor_protocol::bundle::ScriptBundle {
            entry: "index.js".into(),
            files: [
                (
                    "index.js".to_owned(),
                    "import f from \"./lib/f.js\"\n".to_owned(),
                ),
                (
                    "lib/f.js".to_owned(),
                    "// f\nexport default () => x.y\n".to_owned(),
                ),
            ]
            .into(),
        };
        let stack = "    at default (lib/f.js:2:22)\n    at <main> (index.js:1:1)\n";
        assert_eq!(
            source_excerpt(stack, "graph", &bundle.encode()).as_deref(),
            Some("lib/f.js:2\nexport default () => x.y\n                     ^")
        );
    }
}
