//! `jobvisor bench`: the end-to-end benchmark harness. It owns everything a measurement
//! needs: the workload scripts and payloads, starting a real `jobvisor serve` child (this
//! very executable) on a fresh temporary directory per run, feeding it over the control
//! socket (burst, trickle, scale), reading CPU time and RSS from `/proc`, reading the
//! database read-only afterwards, the in-process baseline (through
//! `jobvisor-worker --bench-inprocess`), and the report (table or JSON).
//!
//! Method (also printed in the JSON `method` field):
//! - every run starts a fresh daemon on a fresh state directory (`workers = K`,
//!   `synchronous = "full"`, default logging), waits until all workers are idle, runs
//!   `max(4, 2K)` warm-up jobs, then measures; medians are over the runs;
//! - burst: N jobs enqueued in `EnqueueBatch` requests of `--batch` jobs (the bulk
//!   enqueue a producer of many jobs uses), spread over `--connections` connections, each
//!   pipelined (a writer thread sends every frame, a reader thread takes the answers);
//!   `--batch 1` sends one `Enqueue` per job instead, and then the connections are what
//!   lets the daemon's group commit batch enqueues. The clock runs from the first frame sent
//!   to the last `WaitJob` answer for the 64 highest ids (then the database is checked,
//!   read-only, that every job of the batch is final; if not, it is polled every 20 ms);
//! - trickle: one connection enqueues at `--rate`, paced on the monotonic clock. Latency
//!   is from the enqueue acknowledgement to the committed completion, measured two ways:
//!   (a) every `--sample-every`-th job gets a `WaitJob` on one of 4 other connections,
//!   timed on the monotonic clock (µs resolution; includes the daemon's read of the job
//!   for the answer, so an upper bound); (b) every job: `jobs.finished_at` (ms, taken by
//!   the store writer just before the completing commit) minus the acknowledgement's wall
//!   clock time (±1 ms);
//! - scale: the burst on a store prefilled (before the daemon starts) with
//!   `--scale-rows` completed jobs in the burst's queue and as many available jobs in a
//!   paused queue, against the same burst on an empty store, interleaved run by run;
//! - CPU: utime+stime(+cutime+cstime) of the daemon and utime+stime of its live workers
//!   from `/proc`, before and after, per job (clock ticks of 10 ms);
//! - RSS at the end of each run: the daemon's VmRSS and each worker's `rss_bytes` from
//!   `status`.

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use jobvisor_protocol::control::{EnqueueJob, Request, Response, StatusReport};
use jobvisor_protocol::{BlockingTransport, Role};
use serde::Serialize;

use crate::exit_code;
use crate::pool::spawn::default_worker_program;
use crate::units::parse_duration;

/// Name of the benchmark script in the generated config.
const SCRIPT: &str = "bench";
/// Queue of the prefilled available jobs in scale mode (paused).
const PARKED_QUEUE: &str = "parked";
/// Payload of the prefilled rows in scale mode (the store benchmark's, ~100 bytes).
const PREFILL_PAYLOAD: &str = r#"{"kind":"send_email","user_id":123456,"template":"welcome_v2","locale":"en-GB","dedupe":"9e3779b97f4a7c15"}"#;
/// The burst's end is the last answer to `WaitJob` on this many of its highest ids.
const WAIT_TAIL: usize = 64;
/// Connections that carry the trickle's sampled `WaitJob` requests.
const SAMPLE_CONNECTIONS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// `export default (p) => ({ sum: p.a + p.b })`
    Trivial,
    /// Recursive fib(20).
    Fib,
    /// Filter and map 1,000 records (~47 KB payload).
    Transform,
    /// Await a 50 ms `setTimeout`.
    Sleep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Enqueue N jobs as fast as possible; time until all completed.
    Burst,
    /// Enqueue at a steady rate; latency from acknowledgement to completion.
    Trickle,
    /// The burst on a store holding 1M finished and 1M queued (paused) jobs, as a ratio
    /// to the burst on an empty store.
    Scale,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The job handler to run.
    #[arg(long, value_enum)]
    pub workload: Workload,
    /// How jobs are fed to the daemon.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Jobs per burst (burst and scale).
    #[arg(long, default_value_t = 2000)]
    pub jobs: u64,
    /// Enqueues per second (trickle).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// How long to enqueue for (trickle), e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Worker processes of the daemon.
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Repetitions (a fresh daemon each); medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Client connections the burst's enqueues are spread over.
    #[arg(long, default_value_t = 16)]
    pub connections: u32,
    /// Jobs per enqueue request in a burst (`EnqueueBatch`, one transaction each); 1 sends
    /// one `Enqueue` per job.
    #[arg(long, default_value_t = 500)]
    pub batch: u32,
    /// Trickle: time every N-th job's completion with `WaitJob`.
    #[arg(long, default_value_t = 10)]
    pub sample_every: u64,
    /// Scale: completed jobs and (paused) available jobs prefilled, each.
    #[arg(long, default_value_t = 1_000_000)]
    pub scale_rows: u64,
    /// Jobs of the in-process baseline (default: chosen per workload).
    #[arg(long)]
    pub baseline_iterations: Option<u32>,
    /// Where the temporary state directories go (default: the system temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print one JSON object with every number.
    #[arg(long)]
    pub json: bool,
}

/// Runs the benchmark; returns the exit code.
pub fn execute(args: &BenchArgs) -> u8 {
    if let Err(message) = validate(args) {
        eprintln!("jobvisor bench: {message}");
        return exit_code::USAGE;
    }
    match run(args) {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let written = if args.json {
                serde_json::to_string(&report)
                    .map_err(std::io::Error::other)
                    .and_then(|text| writeln!(out, "{text}"))
            } else {
                print_table(&mut out, &report)
            };
            match written {
                Ok(()) => exit_code::OK,
                Err(err) => {
                    eprintln!("jobvisor bench: cannot write the report: {err}");
                    exit_code::FAILURE
                }
            }
        }
        Err(err) => {
            eprintln!("jobvisor bench: {err:#}");
            exit_code::FAILURE
        }
    }
}

fn validate(args: &BenchArgs) -> Result<(), String> {
    if !(1..=10_000_000).contains(&args.jobs) {
        return Err(format!("--jobs {}: use 1 to 10000000", args.jobs));
    }
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err(format!(
            "--rate {}: use more than 0 and at most 100000",
            args.rate
        ));
    }
    if args.duration.is_zero() || args.duration > Duration::from_secs(3600) {
        return Err("--duration: use more than 0 and at most 1h".to_owned());
    }
    let trickle_jobs = args.rate * args.duration.as_secs_f64();
    if args.mode == Mode::Trickle && !(1.0..=10_000_000.0).contains(&trickle_jobs.floor()) {
        return Err(format!(
            "--rate × --duration is {trickle_jobs:.1} jobs: use 1 to 10000000"
        ));
    }
    if !(1..=1024).contains(&args.workers) {
        return Err(format!("--workers {}: use 1 to 1024", args.workers));
    }
    if !(1..=100).contains(&args.runs) {
        return Err(format!("--runs {}: use 1 to 100", args.runs));
    }
    if !(1..=256).contains(&args.connections) {
        return Err(format!("--connections {}: use 1 to 256", args.connections));
    }
    if !(1..=jobvisor_protocol::control::MAX_ENQUEUE_BATCH as u32).contains(&args.batch) {
        return Err(format!(
            "--batch {}: use 1 to {}",
            args.batch,
            jobvisor_protocol::control::MAX_ENQUEUE_BATCH
        ));
    }
    if args.sample_every == 0 {
        return Err("--sample-every: use 1 or more".to_owned());
    }
    if args.scale_rows > 100_000_000 {
        return Err(format!(
            "--scale-rows {}: use at most 100000000",
            args.scale_rows
        ));
    }
    if args.baseline_iterations == Some(0) {
        return Err("--baseline-iterations: use 1 or more".to_owned());
    }
    if let Some(dir) = &args.dir
        && !dir.is_dir()
    {
        return Err(format!("--dir {}: not a directory", dir.display()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Workloads

fn script_source(workload: Workload) -> &'static str {
    match workload {
        Workload::Trivial => "export default (p) => ({ sum: p.a + p.b })\n",
        Workload::Fib => {
            "function fib(n){return n<2?n:fib(n-1)+fib(n-2)}\nexport default () => fib(20)\n"
        }
        Workload::Transform => {
            "export default function (payload) {\n\
             \x20 const kept = payload.records\n\
             \x20   .filter((r) => r.active && r.score >= 50)\n\
             \x20   .map((r) => ({ id: r.id, name: r.name.toUpperCase(), tier: r.score >= 90 ? \"gold\" : \"silver\" }));\n\
             \x20 return { total: payload.records.length, kept: kept.length, first: kept.slice(0, 3) };\n\
             }\n"
        }
        Workload::Sleep => {
            "export default async () => {\n\
             \x20 await new Promise((resolve) => setTimeout(resolve, 50));\n\
             \x20 return { slept: 50 };\n\
             }\n"
        }
    }
}

fn payload(workload: Workload) -> String {
    match workload {
        Workload::Trivial => r#"{"a":1,"b":2}"#.to_owned(),
        Workload::Fib | Workload::Sleep => "{}".to_owned(),
        Workload::Transform => transform_payload(),
    }
}

/// 1,000 records, deterministic: `{"id":7,"name":"u7","active":true,"score":59}`.
fn transform_payload() -> String {
    let records: Vec<String> = (0..1000_u32)
        .map(|i| {
            format!(
                r#"{{"id":{i},"name":"u{i}","active":{},"score":{}}}"#,
                i % 3 != 0,
                (i * 37) % 100
            )
        })
        .collect();
    format!(r#"{{"records":[{}]}}"#, records.join(","))
}

fn default_baseline_iterations(workload: Workload) -> u32 {
    match workload {
        Workload::Trivial => 20_000,
        Workload::Fib => 100,
        Workload::Transform => 1_000,
        Workload::Sleep => 20,
    }
}

// ---------------------------------------------------------------------------------------
// Report types

#[derive(Debug, Serialize)]
pub struct Report {
    workload: Workload,
    mode: Mode,
    workers: u32,
    runs: u32,
    payload_bytes: usize,
    method: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    burst: Option<BurstSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trickle: Option<TrickleSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale: Option<ScaleSummary>,
    baseline: Option<Baseline>,
    /// baseline jobs/s ÷ end-to-end jobs/s (burst and scale).
    throughput_overhead: Option<f64>,
    /// end-to-end CPU per job ÷ baseline median CPU time per job.
    cpu_overhead: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct BurstRun {
    jobs: u64,
    connections: u32,
    /// Jobs per enqueue request.
    batch: u32,
    /// First frame sent → last acknowledgement.
    enqueue_s: f64,
    enqueue_per_s: f64,
    /// First frame sent → every job final.
    total_s: f64,
    jobs_per_s: f64,
    /// First frame sent (wall clock) → the batch's largest `finished_at`, from the DB.
    db_span_s: f64,
    /// Jobs of the batch not `completed`.
    not_completed: u64,
    cpu_per_job_us: f64,
    daemon_cpu_per_job_us: f64,
    worker_cpu_per_job_us: f64,
    daemon_rss_bytes: u64,
    worker_rss_bytes: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct BurstSummary {
    runs: Vec<BurstRun>,
    median_jobs_per_s: f64,
    median_enqueue_per_s: f64,
    median_total_s: f64,
    median_cpu_per_job_us: f64,
    median_daemon_cpu_per_job_us: f64,
    median_worker_cpu_per_job_us: f64,
    median_daemon_rss_bytes: f64,
    median_worker_rss_bytes: f64,
}

#[derive(Debug, Serialize)]
struct ScaleSummary {
    rows_finished: u64,
    rows_queued_paused: u64,
    prefill_s: f64,
    store_bytes: u64,
    empty: BurstSummary,
    prefilled: BurstSummary,
    /// prefilled median jobs/s ÷ empty median jobs/s.
    ratio: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Percentiles {
    n: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

#[derive(Debug, Clone, Serialize)]
struct TrickleRun {
    jobs: u64,
    target_rate: f64,
    /// Acknowledgements per second over the enqueue window.
    achieved_rate: f64,
    /// Enqueue frame sent → acknowledgement, µs.
    enqueue_latency_us: Percentiles,
    /// Acknowledgement → `WaitJob` answer (monotonic clock), µs, sampled jobs.
    latency_waitjob_us: Percentiles,
    /// `finished_at` − acknowledgement wall clock, ms, every job (±1 ms).
    latency_db_ms: Percentiles,
    not_completed: u64,
    cpu_per_job_us: f64,
    daemon_rss_bytes: u64,
    worker_rss_bytes: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct TrickleSummary {
    runs: Vec<TrickleRun>,
    median_achieved_rate: f64,
    median_enqueue_latency_p50_us: f64,
    median_waitjob_p50_us: f64,
    median_waitjob_p99_us: f64,
    median_waitjob_p999_us: f64,
    median_db_p50_ms: f64,
    median_db_p99_ms: f64,
    median_db_p999_ms: f64,
    median_cpu_per_job_us: f64,
    median_daemon_rss_bytes: f64,
    median_worker_rss_bytes: f64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Baseline {
    iterations: u32,
    jobs_per_s: f64,
    /// Wall time per job.
    median_us: f64,
    /// The engine thread's CPU time per job.
    #[serde(default)]
    median_cpu_us: f64,
}

// ---------------------------------------------------------------------------------------
// Orchestration

struct Setup {
    exe: PathBuf,
    worker: PathBuf,
    root: TempDir,
    script: PathBuf,
    payload: String,
    workers: u32,
}

fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let worker = default_worker_program();
    if !worker.is_file() {
        bail!(
            "worker program {} not found (set JOBVISOR_WORKER or put jobvisor-worker next to jobvisor)",
            worker.display()
        );
    }
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = TempDir::new(&base)?;
    let script = root.path.join("bench.js");
    std::fs::write(&script, script_source(args.workload)).context("writing the script")?;
    let setup = Setup {
        exe,
        worker,
        script,
        payload: payload(args.workload),
        root,
        workers: args.workers,
    };

    let iterations = args
        .baseline_iterations
        .unwrap_or_else(|| default_baseline_iterations(args.workload));
    let mut report = Report {
        workload: args.workload,
        mode: args.mode,
        workers: args.workers,
        runs: args.runs,
        payload_bytes: setup.payload.len(),
        method: method_notes(args.mode),
        burst: None,
        trickle: None,
        scale: None,
        baseline: None,
        throughput_overhead: None,
        cpu_overhead: None,
    };

    match args.mode {
        Mode::Burst => {
            let mut runs = Vec::new();
            for i in 0..args.runs {
                progress(format_args!(
                    "run {}/{}: burst of {} jobs",
                    i + 1,
                    args.runs,
                    args.jobs
                ));
                let daemon = Daemon::start(&setup, &format!("run{i}"), None)?;
                runs.push(burst(&daemon, args, &setup.payload)?);
                daemon.stop();
            }
            report.burst = Some(summarize_burst(runs));
        }
        Mode::Scale => {
            progress(format_args!(
                "prefilling a store with {} completed + {} paused queued jobs",
                args.scale_rows, args.scale_rows
            ));
            let started = Instant::now();
            let template = setup.root.path.join("template.db");
            build_template(&template, script_source(args.workload), args.scale_rows)?;
            let prefill_s = started.elapsed().as_secs_f64();
            let store_bytes = std::fs::metadata(&template).map(|m| m.len()).unwrap_or(0);
            let (mut empty, mut full) = (Vec::new(), Vec::new());
            for i in 0..args.runs {
                progress(format_args!(
                    "run {}/{}: burst of {} jobs, empty store",
                    i + 1,
                    args.runs,
                    args.jobs
                ));
                let daemon = Daemon::start(&setup, &format!("empty{i}"), None)?;
                empty.push(burst(&daemon, args, &setup.payload)?);
                daemon.stop();
                progress(format_args!(
                    "run {}/{}: burst of {} jobs, prefilled store",
                    i + 1,
                    args.runs,
                    args.jobs
                ));
                let daemon = Daemon::start(&setup, &format!("full{i}"), Some(&template))?;
                full.push(burst(&daemon, args, &setup.payload)?);
                daemon.stop();
            }
            let empty = summarize_burst(empty);
            let prefilled = summarize_burst(full);
            let ratio = ratio(prefilled.median_jobs_per_s, empty.median_jobs_per_s);
            report.scale = Some(ScaleSummary {
                rows_finished: args.scale_rows,
                rows_queued_paused: args.scale_rows,
                prefill_s,
                store_bytes,
                empty,
                prefilled,
                ratio,
            });
        }
        Mode::Trickle => {
            let mut runs = Vec::new();
            for i in 0..args.runs {
                progress(format_args!(
                    "run {}/{}: trickle at {}/s for {:?}",
                    i + 1,
                    args.runs,
                    args.rate,
                    args.duration
                ));
                let daemon = Daemon::start(&setup, &format!("run{i}"), None)?;
                runs.push(trickle(&daemon, args, &setup.payload)?);
                daemon.stop();
            }
            report.trickle = Some(summarize_trickle(runs));
        }
    }

    progress(format_args!(
        "in-process baseline: {iterations} jobs, {} runs",
        args.runs
    ));
    let mut baselines = Vec::new();
    for _ in 0..args.runs {
        baselines.push(baseline(&setup, iterations)?);
    }
    let baseline = Baseline {
        iterations,
        jobs_per_s: median(baselines.iter().map(|b| b.jobs_per_s).collect()),
        median_us: median(baselines.iter().map(|b| b.median_us).collect()),
        median_cpu_us: median(baselines.iter().map(|b| b.median_cpu_us).collect()),
    };
    let e2e = report
        .burst
        .as_ref()
        .or(report.scale.as_ref().map(|s| &s.empty))
        .map(|b| (b.median_jobs_per_s, b.median_cpu_per_job_us))
        .or(report
            .trickle
            .as_ref()
            .map(|t| (f64::NAN, t.median_cpu_per_job_us)));
    if let Some((jobs_per_s, cpu_us)) = e2e {
        if jobs_per_s.is_finite() {
            report.throughput_overhead = Some(ratio(baseline.jobs_per_s, jobs_per_s));
        }
        report.cpu_overhead = Some(ratio(cpu_us, baseline.median_cpu_us));
    }
    report.baseline = Some(baseline);
    Ok(report)
}

fn method_notes(mode: Mode) -> Vec<&'static str> {
    let mut notes = vec![
        "fresh daemon (jobvisor serve child, synchronous=full) and state dir per run; all workers idle and max(4, 2K) warm-up jobs done before measuring; medians over runs",
        "cpu: /proc utime+stime(+cutime+cstime) of the daemon plus utime+stime of its live workers, after minus before, per job (10 ms ticks)",
        "rss: daemon VmRSS and workers' rss_bytes from status at the end of each run",
        "baseline: jobvisor-worker --bench-inprocess: the same RunJob through Engine::run on one warm context (isolation=script), no IPC, no SQLite; one thread; cpu_overhead = end-to-end CPU per job / the baseline's median engine-thread CPU per job",
    ];
    match mode {
        Mode::Burst | Mode::Scale => notes.push(
            "burst: enqueues over --connections connections, each pipelined; time from the first frame sent to the last WaitJob answer for the 64 highest ids, then the DB (read-only) confirms every job of the batch is final",
        ),
        Mode::Trickle => notes.push(
            "trickle: one pipelined connection paced at --rate; latency ack -> completion: (a) WaitJob on every --sample-every-th job over 4 connections, monotonic clock, includes the daemon's read of the job for its answer; (b) every job: jobs.finished_at (ms, set just before the completing commit) minus the ack's wall-clock time, +-1 ms",
        ),
    }
    if mode == Mode::Scale {
        notes.push(
            "scale: store prefilled before the daemon starts (bench_support::prefill): completed jobs in the burst's queue, available jobs in a paused queue; empty and prefilled bursts interleaved run by run",
        );
    }
    notes
}

fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("jobvisor bench: {message}");
}

/// A migrated store with the script, `rows` completed jobs in `default` and `rows`
/// available jobs in the paused `parked` queue.
fn build_template(path: &Path, source: &str, rows: u64) -> anyhow::Result<()> {
    use crate::store::bench_support::{Prefill, prefill, set_queue_paused};
    use crate::store::{SqliteStore, StoreOptions};
    let store = SqliteStore::open(path, StoreOptions::default())?;
    store.add_script(SCRIPT, source).wait()?;
    store.checkpoint(true).wait()?;
    store.close()?;
    let now_ms = wall_ms();
    let spec = |queue: &str, finished: u64, pending: u64| Prefill {
        script: SCRIPT.to_owned(),
        queue: queue.to_owned(),
        payload: PREFILL_PAYLOAD.to_owned(),
        finished,
        pending,
        pending_priority: 0,
        now_ms,
    };
    prefill(path, &spec("default", rows, 0))?;
    prefill(path, &spec(PARKED_QUEUE, 0, rows))?;
    set_queue_paused(path, PARKED_QUEUE, true)?;
    Ok(())
}

fn baseline(setup: &Setup, iterations: u32) -> anyhow::Result<Baseline> {
    let output = Command::new(&setup.worker)
        .arg("--bench-inprocess")
        .arg(&setup.script)
        .arg("--payload")
        .arg(&setup.payload)
        .arg("--iterations")
        .arg(iterations.to_string())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", setup.worker.display()))?;
    if !output.status.success() {
        bail!(
            "{} --bench-inprocess failed ({}): {}",
            setup.worker.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "the baseline printed no report: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

// ---------------------------------------------------------------------------------------
// The daemon

/// A directory removed (recursively) when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(base: &Path) -> anyhow::Result<TempDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = base.join(format!("jobvisor-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

struct Daemon {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
    database: PathBuf,
    log: PathBuf,
    workers: u32,
}

impl Daemon {
    /// Writes a config into `<root>/<name>`, copies `store` in as its database if given,
    /// starts `jobvisor serve`, waits for every worker to be idle and runs the warm-up.
    fn start(setup: &Setup, name: &str, store: Option<&Path>) -> anyhow::Result<Daemon> {
        let dir = setup.root.path.join(name);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let database = data.join("jobvisor.db");
        if let Some(store) = store {
            std::fs::copy(store, &database)
                .with_context(|| format!("copying the prefilled store to {}", data.display()))?;
            // Written back now, not by the kernel during the measurement (it would
            // compete with the daemon's fsyncs).
            std::fs::File::open(&database)
                .and_then(|file| file.sync_all())
                .context("syncing the copied store")?;
        }
        let config = format!(
            "state_dir = {data:?}\nrun_dir = {run:?}\nworkers = {workers}\nsynchronous = \"full\"\n\
             [[script]]\nname = \"{SCRIPT}\"\npath = {script:?}\n",
            data = data.display().to_string(),
            run = dir.join("run").display().to_string(),
            workers = setup.workers,
            script = setup.script.display().to_string(),
        );
        let config_path = dir.join("jobvisor.toml");
        std::fs::write(&config_path, config).context("writing the config")?;
        let log = dir.join("daemon.log");
        let log_file = std::fs::File::create(&log).context("creating the daemon log")?;
        let child = Command::new(&setup.exe)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env("JOBVISOR_WORKER", &setup.worker)
            .env_remove("JOBVISOR_CONFIG")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().context("daemon log")?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {} serve", setup.exe.display()))?;
        let mut daemon = Daemon {
            child,
            socket: dir.join("run/control.sock"),
            dir,
            database,
            log,
            workers: setup.workers,
        };
        daemon.wait_ready(Duration::from_secs(120))?;
        daemon.warm_up(&setup.payload)?;
        Ok(daemon)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }

    fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "jobvisor serve exited early ({status}); its log ends:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(report) = self.status() {
                let idle = report
                    .workers
                    .iter()
                    .filter(|w| w.state == "idle" && w.pid.is_some())
                    .count();
                if idle == self.workers as usize {
                    return Ok(());
                }
            }
            if started.elapsed() > within {
                bail!(
                    "the daemon's workers were not all idle after {within:?}; its log ends:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn warm_up(&self, payload: &str) -> anyhow::Result<()> {
        let n = (2 * self.workers).max(4);
        let mut conn = self.connect()?;
        let mut ids = Vec::new();
        for _ in 0..n {
            match request(&mut conn, &Request::Enqueue(job(payload)))? {
                Response::Enqueued { id, .. } => ids.push(id),
                other => bail!("warm-up enqueue: {}", describe(&other)),
            }
        }
        for id in ids {
            wait_job(&mut conn, id)?;
        }
        Ok(())
    }

    fn connect(&self) -> anyhow::Result<BlockingTransport<UnixStream>> {
        let stream = UnixStream::connect(&self.socket)
            .with_context(|| format!("connecting to {}", self.socket.display()))?;
        let mut transport = BlockingTransport::new(stream);
        transport
            .handshake(Role::Client, Role::Supervisor)
            .context("control socket handshake")?;
        Ok(transport)
    }

    fn status(&self) -> anyhow::Result<StatusReport> {
        let mut conn = self.connect()?;
        match request(&mut conn, &Request::Status)? {
            Response::Status(report) => Ok(report),
            other => bail!("status: {}", describe(&other)),
        }
    }

    /// A read-only connection to the daemon's database.
    fn db(&self) -> anyhow::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.database,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {} read-only", self.database.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(conn)
    }

    /// CPU ticks of the daemon (with its reaped children) and its live workers.
    fn cpu_ticks(&self, status: &StatusReport) -> (u64, u64) {
        let daemon = proc_ticks(self.pid(), true);
        let workers = status
            .workers
            .iter()
            .filter_map(|w| w.pid)
            .map(|pid| proc_ticks(pid, false))
            .sum();
        (daemon, workers)
    }

    /// SIGTERM, then SIGKILL after 30 s; removes the workers' cgroups and the directory.
    fn stop(mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.pid() as libc::pid_t, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let instance = crate::serve::instance_name(&self.dir.join("data"));
        if let Ok(limiter) = crate::cgroup::Limiter::detect(crate::cgroup::LimiterChoice::Auto) {
            let _ = limiter.remove_leftovers(&instance);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn job(payload: &str) -> EnqueueJob {
    EnqueueJob {
        script: SCRIPT.to_owned(),
        payload: payload.to_owned(),
        ..EnqueueJob::default()
    }
}

fn request(
    conn: &mut BlockingTransport<UnixStream>,
    request: &Request,
) -> anyhow::Result<Response> {
    conn.send(request).context("sending to the daemon")?;
    conn.recv::<Response>()
        .context("reading the daemon's answer")?
        .ok_or_else(|| anyhow!("the daemon closed the connection"))
}

/// Waits for a job to be final (a wait has no request timeout: it answers when the job
/// ends).
fn wait_job(conn: &mut BlockingTransport<UnixStream>, id: i64) -> anyhow::Result<()> {
    match request(conn, &Request::WaitJob { id })? {
        Response::Job(_) => Ok(()),
        other => bail!("waiting for job {id}: {}", describe(&other)),
    }
}

fn describe(response: &Response) -> String {
    match response {
        Response::Error(err) => format!("{:?}: {}", err.code, err.message),
        other => format!("unexpected answer {other:?}"),
    }
}

/// A connection split in two: frames are written on `tx`, answers read on `rx`.
fn split(
    conn: BlockingTransport<UnixStream>,
) -> anyhow::Result<(BlockingTransport<UnixStream>, BlockingTransport<UnixStream>)> {
    let stream = conn.into_inner();
    let writer = stream.try_clone().context("cloning a socket")?;
    Ok((
        BlockingTransport::new(writer),
        BlockingTransport::new(stream),
    ))
}

// ---------------------------------------------------------------------------------------
// Burst

fn burst(daemon: &Daemon, args: &BenchArgs, payload: &str) -> anyhow::Result<BurstRun> {
    let n = args.jobs;
    let batch = args.batch;
    let connections = (args.connections as u64).min(n) as usize;
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(split(daemon.connect()?)?);
    }
    let mut waiter = daemon.connect()?;
    let status = daemon.status()?;
    let (daemon_before, workers_before) = daemon.cpu_ticks(&status);

    let start_wall_ms = wall_ms();
    let started = Instant::now();
    let results: Vec<anyhow::Result<Vec<i64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(c, (mut tx, mut rx))| {
                let count = n / connections as u64 + u64::from((c as u64) < n % connections as u64);
                let job = job(payload);
                let batch = u64::from(batch);
                // Request sizes: full batches, then the rest.
                let requests: Vec<u64> = (0..count.div_ceil(batch))
                    .map(|i| batch.min(count - i * batch))
                    .collect();
                let answers = requests.len();
                scope.spawn(move || -> anyhow::Result<Vec<i64>> {
                    let writer = std::thread::spawn(move || -> anyhow::Result<()> {
                        for size in requests {
                            let frame = if batch == 1 {
                                Request::Enqueue(job.clone())
                            } else {
                                Request::EnqueueBatch(vec![job.clone(); size as usize])
                            };
                            tx.send(&frame).context("sending an enqueue")?;
                        }
                        Ok(())
                    });
                    let mut ids = Vec::with_capacity(count as usize);
                    for _ in 0..answers {
                        match rx
                            .recv::<Response>()
                            .context("reading an acknowledgement")?
                        {
                            Some(Response::Enqueued { id, .. }) => ids.push(id),
                            Some(Response::EnqueuedBatch(jobs)) => {
                                ids.extend(jobs.iter().map(|j| j.id));
                            }
                            Some(other) => bail!("enqueue: {}", describe(&other)),
                            None => bail!("the daemon closed an enqueue connection"),
                        }
                    }
                    writer
                        .join()
                        .map_err(|_| anyhow!("an enqueue writer thread panicked"))??;
                    Ok(ids)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("an enqueue thread panicked")))
            })
            .collect()
    });
    let mut ids = Vec::with_capacity(n as usize);
    for result in results {
        ids.extend(result?);
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    ids.sort_unstable();
    let (first, last) = match (ids.first(), ids.last()) {
        (Some(&first), Some(&last)) => (first, last),
        _ => bail!("no job was enqueued"),
    };

    // Pipelined waits on the highest ids; the daemon answers them in order.
    let tail: Vec<i64> = ids.iter().rev().take(WAIT_TAIL).copied().collect();
    for &id in &tail {
        waiter
            .send(&Request::WaitJob { id })
            .context("sending WaitJob")?;
    }
    for &id in &tail {
        match waiter
            .recv::<Response>()
            .context("reading a WaitJob answer")?
        {
            Some(Response::Job(_)) => {}
            Some(other) => bail!("waiting for job {id}: {}", describe(&other)),
            None => bail!("the daemon closed the WaitJob connection"),
        }
    }
    let mut total_s = started.elapsed().as_secs_f64();
    let db = daemon.db()?;
    let unfinished = |db: &rusqlite::Connection| -> anyhow::Result<i64> {
        Ok(db.query_row(
            "SELECT count(*) FROM jobs WHERE id BETWEEN ?1 AND ?2
             AND state NOT IN ('completed', 'discarded', 'cancelled')",
            [first, last],
            |row| row.get(0),
        )?)
    };
    if unfinished(&db)? > 0 {
        let deadline = Instant::now() + Duration::from_secs(600);
        while unfinished(&db)? > 0 {
            if Instant::now() > deadline {
                bail!("the burst's jobs did not all finish within 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        total_s = started.elapsed().as_secs_f64();
    }

    let status = daemon.status()?;
    let (daemon_after, workers_after) = daemon.cpu_ticks(&status);
    let (not_completed, max_finished): (i64, Option<i64>) = db.query_row(
        "SELECT sum(state != 'completed'), max(finished_at) FROM jobs WHERE id BETWEEN ?1 AND ?2",
        [first, last],
        |row| Ok((row.get::<_, Option<i64>>(0)?.unwrap_or(0), row.get(1)?)),
    )?;
    let not_completed = u64::try_from(not_completed).unwrap_or(0);
    let per_job_us = |ticks: u64| ticks_to_us(ticks) / n as f64;
    let daemon_ticks = daemon_after.saturating_sub(daemon_before);
    let worker_ticks = workers_after.saturating_sub(workers_before);
    Ok(BurstRun {
        jobs: n,
        connections: connections as u32,
        batch,
        enqueue_s,
        enqueue_per_s: n as f64 / enqueue_s,
        total_s,
        jobs_per_s: n as f64 / total_s,
        db_span_s: max_finished.map_or(f64::NAN, |f| (f - start_wall_ms) as f64 / 1000.0),
        not_completed,
        cpu_per_job_us: per_job_us(daemon_ticks + worker_ticks),
        daemon_cpu_per_job_us: per_job_us(daemon_ticks),
        worker_cpu_per_job_us: per_job_us(worker_ticks),
        daemon_rss_bytes: vm_rss_bytes(daemon.pid()),
        worker_rss_bytes: status.workers.iter().filter_map(|w| w.rss_bytes).collect(),
    })
}

fn summarize_burst(runs: Vec<BurstRun>) -> BurstSummary {
    let m = |f: fn(&BurstRun) -> f64| median(runs.iter().map(f).collect());
    BurstSummary {
        median_jobs_per_s: m(|r| r.jobs_per_s),
        median_enqueue_per_s: m(|r| r.enqueue_per_s),
        median_total_s: m(|r| r.total_s),
        median_cpu_per_job_us: m(|r| r.cpu_per_job_us),
        median_daemon_cpu_per_job_us: m(|r| r.daemon_cpu_per_job_us),
        median_worker_cpu_per_job_us: m(|r| r.worker_cpu_per_job_us),
        median_daemon_rss_bytes: m(|r| r.daemon_rss_bytes as f64),
        median_worker_rss_bytes: median(
            runs.iter()
                .flat_map(|r| r.worker_rss_bytes.iter().map(|&b| b as f64))
                .collect(),
        ),
        runs,
    }
}

// ---------------------------------------------------------------------------------------
// Trickle

/// One acknowledged job: its id, when its frame was sent and when the answer arrived.
struct Ack {
    id: i64,
    sent: Instant,
    acked: Instant,
    acked_wall_us: i64,
}

fn trickle(daemon: &Daemon, args: &BenchArgs, payload: &str) -> anyhow::Result<TrickleRun> {
    let total = (args.rate * args.duration.as_secs_f64()).floor() as u64;
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let (mut tx, mut rx) = split(daemon.connect()?)?;
    let mut samplers = Vec::new();
    for _ in 0..SAMPLE_CONNECTIONS {
        samplers.push(split(daemon.connect()?)?);
    }
    let status = daemon.status()?;
    let (daemon_before, workers_before) = daemon.cpu_ticks(&status);
    let sample_every = args.sample_every;

    let started = Instant::now();
    let (sent_tx, sent_rx) = mpsc::channel::<Instant>();
    let job = job(payload);
    let writer = std::thread::spawn(move || -> anyhow::Result<()> {
        let frame = Request::Enqueue(job);
        for i in 0..total {
            let due = started + interval.mul_f64(i as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let _ = sent_tx.send(Instant::now());
            tx.send(&frame).context("sending an enqueue")?;
        }
        Ok(())
    });

    // Sampled WaitJobs: round-robin over the sampler connections, each pipelined.
    let mut sample_txs = Vec::new();
    let mut sample_threads = Vec::new();
    for (s_tx, s_rx) in samplers {
        let (jobs_tx, jobs_rx) = mpsc::channel::<(i64, Instant)>();
        sample_txs.push(jobs_tx);
        sample_threads.push(std::thread::spawn(move || sampler(s_tx, s_rx, jobs_rx)));
    }

    let mut acks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let answer = rx
            .recv::<Response>()
            .context("reading an acknowledgement")?;
        let acked = Instant::now();
        let acked_wall_us = wall_us();
        let sent = sent_rx.recv().unwrap_or(acked);
        match answer {
            Some(Response::Enqueued { id, .. }) => {
                if i % sample_every == 0 {
                    let target = &sample_txs[(i / sample_every) as usize % sample_txs.len()];
                    let _ = target.send((id, acked));
                }
                acks.push(Ack {
                    id,
                    sent,
                    acked,
                    acked_wall_us,
                });
            }
            Some(other) => bail!("enqueue: {}", describe(&other)),
            None => bail!("the daemon closed the enqueue connection"),
        }
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    writer
        .join()
        .map_err(|_| anyhow!("the enqueue writer thread panicked"))??;
    drop(sample_txs);
    let mut sampled = Vec::new();
    for handle in sample_threads {
        sampled.extend(
            handle
                .join()
                .map_err(|_| anyhow!("a WaitJob sampler thread panicked"))??,
        );
    }

    let (first, last) = match (acks.first(), acks.last()) {
        (Some(a), Some(b)) => (a.id.min(b.id), a.id.max(b.id)),
        _ => bail!("no job was enqueued"),
    };
    let db = daemon.db()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let unfinished: i64 = db.query_row(
            "SELECT count(*) FROM jobs WHERE id BETWEEN ?1 AND ?2
             AND state NOT IN ('completed', 'discarded', 'cancelled')",
            [first, last],
            |row| row.get(0),
        )?;
        if unfinished == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the trickle's jobs did not all finish within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = daemon.status()?;
    let (daemon_after, workers_after) = daemon.cpu_ticks(&status);

    let mut finished = std::collections::HashMap::new();
    let mut not_completed = 0;
    {
        let mut stmt =
            db.prepare("SELECT id, state, finished_at FROM jobs WHERE id BETWEEN ?1 AND ?2")?;
        let rows = stmt.query_map([first, last], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<i64>>(2)?,
            ))
        })?;
        for row in rows {
            let (id, state, finished_at) = row?;
            if state != "completed" {
                not_completed += 1;
            }
            if let Some(at) = finished_at {
                finished.insert(id, at);
            }
        }
    }
    let db_latencies: Vec<f64> = acks
        .iter()
        .filter_map(|a| {
            finished
                .get(&a.id)
                .map(|&f| (f * 1000 - a.acked_wall_us) as f64 / 1000.0)
        })
        .collect();
    let enqueue_latencies: Vec<f64> = acks
        .iter()
        .map(|a| a.acked.saturating_duration_since(a.sent).as_secs_f64() * 1e6)
        .collect();
    let ticks =
        daemon_after.saturating_sub(daemon_before) + workers_after.saturating_sub(workers_before);
    Ok(TrickleRun {
        jobs: total,
        target_rate: args.rate,
        achieved_rate: total as f64 / enqueue_s,
        enqueue_latency_us: percentiles(enqueue_latencies),
        latency_waitjob_us: percentiles(sampled),
        latency_db_ms: percentiles(db_latencies),
        not_completed,
        cpu_per_job_us: ticks_to_us(ticks) / total as f64,
        daemon_rss_bytes: vm_rss_bytes(daemon.pid()),
        worker_rss_bytes: status.workers.iter().filter_map(|w| w.rss_bytes).collect(),
    })
}

/// Sends `WaitJob` for each (id, acknowledged at) it is given and returns the latencies
/// (µs) from acknowledgement to answer.
fn sampler(
    mut tx: BlockingTransport<UnixStream>,
    mut rx: BlockingTransport<UnixStream>,
    jobs: mpsc::Receiver<(i64, Instant)>,
) -> anyhow::Result<Vec<f64>> {
    let (pending_tx, pending_rx) = mpsc::channel::<(i64, Instant)>();
    let writer = std::thread::spawn(move || -> anyhow::Result<()> {
        for (id, acked) in jobs {
            let _ = pending_tx.send((id, acked));
            tx.send(&Request::WaitJob { id })
                .context("sending WaitJob")?;
        }
        Ok(())
    });
    let mut latencies = Vec::new();
    for (id, acked) in pending_rx {
        match rx.recv::<Response>().context("reading a WaitJob answer")? {
            Some(Response::Job(_)) => {
                latencies.push(acked.elapsed().as_secs_f64() * 1e6);
            }
            Some(other) => bail!("waiting for job {id}: {}", describe(&other)),
            None => bail!("the daemon closed a WaitJob connection"),
        }
    }
    writer
        .join()
        .map_err(|_| anyhow!("a WaitJob writer thread panicked"))??;
    Ok(latencies)
}

fn summarize_trickle(runs: Vec<TrickleRun>) -> TrickleSummary {
    let m = |f: fn(&TrickleRun) -> f64| median(runs.iter().map(f).collect());
    TrickleSummary {
        median_achieved_rate: m(|r| r.achieved_rate),
        median_enqueue_latency_p50_us: m(|r| r.enqueue_latency_us.p50),
        median_waitjob_p50_us: m(|r| r.latency_waitjob_us.p50),
        median_waitjob_p99_us: m(|r| r.latency_waitjob_us.p99),
        median_waitjob_p999_us: m(|r| r.latency_waitjob_us.p999),
        median_db_p50_ms: m(|r| r.latency_db_ms.p50),
        median_db_p99_ms: m(|r| r.latency_db_ms.p99),
        median_db_p999_ms: m(|r| r.latency_db_ms.p999),
        median_cpu_per_job_us: m(|r| r.cpu_per_job_us),
        median_daemon_rss_bytes: m(|r| r.daemon_rss_bytes as f64),
        median_worker_rss_bytes: median(
            runs.iter()
                .flat_map(|r| r.worker_rss_bytes.iter().map(|&b| b as f64))
                .collect(),
        ),
        runs,
    }
}

// ---------------------------------------------------------------------------------------
// Measurements and statistics

fn wall_ms() -> i64 {
    wall_us() / 1000
}

fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// utime+stime of a process (with cutime+cstime: its reaped children) in clock ticks.
fn proc_ticks(pid: u32, with_children: bool) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    // Fields after the command: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let own = fields.iter().take(2).sum::<u64>();
    let children = fields.iter().skip(2).sum::<u64>();
    if with_children { own + children } else { own }
}

fn ticks_to_us(ticks: u64) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    ticks as f64 * 1e6 / hz
}

fn vm_rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn percentiles(mut values: Vec<f64>) -> Percentiles {
    if values.is_empty() {
        return Percentiles::default();
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        n: values.len(),
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

// ---------------------------------------------------------------------------------------
// Human output

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn print_burst(
    out: &mut impl std::io::Write,
    title: &str,
    b: &BurstSummary,
) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    writeln!(
        out,
        "  {:<8} {:>8} {:>11} {:>12} {:>10} {:>12} {:>12} {:>12} {:>11} {:>11}",
        "run",
        "jobs",
        "enqueue/s",
        "jobs/s",
        "total s",
        "cpu/job µs",
        "daemon µs",
        "workers µs",
        "daemon RSS",
        "worker RSS"
    )?;
    for (i, r) in b.runs.iter().enumerate() {
        let worker_rss = median(r.worker_rss_bytes.iter().map(|&x| x as f64).collect());
        writeln!(
            out,
            "  {:<8} {:>8} {:>11.0} {:>12.0} {:>10.2} {:>12.1} {:>12.1} {:>12.1} {:>11} {:>11}{}",
            i + 1,
            r.jobs,
            r.enqueue_per_s,
            r.jobs_per_s,
            r.total_s,
            r.cpu_per_job_us,
            r.daemon_cpu_per_job_us,
            r.worker_cpu_per_job_us,
            mib(r.daemon_rss_bytes as f64),
            mib(worker_rss),
            if r.not_completed > 0 {
                format!("  ({} not completed)", r.not_completed)
            } else {
                String::new()
            }
        )?;
    }
    writeln!(
        out,
        "  {:<8} {:>8} {:>11.0} {:>12.0} {:>10.2} {:>12.1} {:>12.1} {:>12.1} {:>11} {:>11}",
        "median",
        "",
        b.median_enqueue_per_s,
        b.median_jobs_per_s,
        b.median_total_s,
        b.median_cpu_per_job_us,
        b.median_daemon_cpu_per_job_us,
        b.median_worker_cpu_per_job_us,
        mib(b.median_daemon_rss_bytes),
        mib(b.median_worker_rss_bytes),
    )
}

fn print_table(out: &mut impl std::io::Write, report: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "workload {:?}, mode {:?}, {} workers, {} runs, payload {} bytes",
        report.workload, report.mode, report.workers, report.runs, report.payload_bytes
    )?;
    if let Some(b) = &report.burst {
        print_burst(out, "burst", b)?;
    }
    if let Some(s) = &report.scale {
        print_burst(out, "burst, empty store", &s.empty)?;
        print_burst(
            out,
            &format!(
                "burst, store with {} completed + {} queued (paused) jobs ({}, prefilled in {:.1} s)",
                s.rows_finished,
                s.rows_queued_paused,
                mib(s.store_bytes as f64),
                s.prefill_s
            ),
            &s.prefilled,
        )?;
        writeln!(
            out,
            "scale ratio (prefilled / empty jobs/s): {:.3}",
            s.ratio
        )?;
    }
    if let Some(t) = &report.trickle {
        writeln!(out, "trickle")?;
        writeln!(
            out,
            "  {:<8} {:>7} {:>8} {:>11} {:>26} {:>26} {:>10} {:>11} {:>11}",
            "run",
            "jobs",
            "rate",
            "enq p50 µs",
            "waitjob p50/p99/p999 µs",
            "db p50/p99/p999 ms",
            "cpu/job µs",
            "daemon RSS",
            "worker RSS"
        )?;
        for (i, r) in t.runs.iter().enumerate() {
            let w = &r.latency_waitjob_us;
            let d = &r.latency_db_ms;
            writeln!(
                out,
                "  {:<8} {:>7} {:>8.1} {:>11.0} {:>26} {:>26} {:>10.1} {:>11} {:>11}{}",
                i + 1,
                r.jobs,
                r.achieved_rate,
                r.enqueue_latency_us.p50,
                format!("{:.0} / {:.0} / {:.0} (n={})", w.p50, w.p99, w.p999, w.n),
                format!("{:.0} / {:.0} / {:.0}", d.p50, d.p99, d.p999),
                r.cpu_per_job_us,
                mib(r.daemon_rss_bytes as f64),
                mib(median(
                    r.worker_rss_bytes.iter().map(|&x| x as f64).collect()
                )),
                if r.not_completed > 0 {
                    format!("  ({} not completed)", r.not_completed)
                } else {
                    String::new()
                }
            )?;
        }
        writeln!(
            out,
            "  {:<8} {:>7} {:>8.1} {:>11.0} {:>26} {:>26} {:>10.1} {:>11} {:>11}",
            "median",
            "",
            t.median_achieved_rate,
            t.median_enqueue_latency_p50_us,
            format!(
                "{:.0} / {:.0} / {:.0}",
                t.median_waitjob_p50_us, t.median_waitjob_p99_us, t.median_waitjob_p999_us
            ),
            format!(
                "{:.0} / {:.0} / {:.0}",
                t.median_db_p50_ms, t.median_db_p99_ms, t.median_db_p999_ms
            ),
            t.median_cpu_per_job_us,
            mib(t.median_daemon_rss_bytes),
            mib(t.median_worker_rss_bytes),
        )?;
    }
    if let Some(b) = &report.baseline {
        writeln!(
            out,
            "in-process baseline ({} jobs, one thread): {:.0} jobs/s, median {:.1} µs/job ({:.1} µs CPU)",
            b.iterations, b.jobs_per_s, b.median_us, b.median_cpu_us
        )?;
    }
    if let Some(r) = report.throughput_overhead {
        writeln!(
            out,
            "throughput overhead (baseline jobs/s ÷ end-to-end jobs/s): {r:.2}×"
        )?;
    }
    if let Some(r) = report.cpu_overhead {
        writeln!(
            out,
            "CPU overhead (end-to-end CPU per job ÷ baseline CPU per job): {r:.2}×"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_payload_is_deterministic_json_of_1000_records() {
        let text = transform_payload();
        assert_eq!(text, transform_payload());
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["records"].as_array().map(Vec::len), Some(1000));
        assert!(
            (40_000..60_000).contains(&text.len()),
            "{} bytes",
            text.len()
        );
    }

    #[test]
    fn percentiles_and_medians() {
        let p = percentiles((1..=1000).map(f64::from).collect());
        assert_eq!((p.n, p.p50, p.max), (1000, 501.0, 1000.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn proc_ticks_of_self_is_readable() {
        let _ = proc_ticks(std::process::id(), true);
        assert!(vm_rss_bytes(std::process::id()) > 0);
    }
}
