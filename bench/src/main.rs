//! `jobvisor-bench`: the end-to-end benchmark. It owns the measurement: the workloads
//! (`workload.rs`), feeding a real daemon (`feed.rs`: burst, trickle), the statistics
//! (`stats.rs`) and the report (`report.rs`); the daemon itself is the end-to-end tests'
//! (`jobvisor_tests::daemon::Daemon`: a real `jobvisor serve` of the workspace's build, on
//! a fresh temporary directory per run). The in-process baseline runs the worker binary's
//! hidden `--bench-inprocess`: the same engine build, allocator and sandbox as the jobs,
//! and the JavaScript engine stays inside the worker crate.
//!
//! Run: `cargo build --release -p jobvisor -p jobvisor-worker && cargo run --release -p
//! jobvisor-bench -- --workload trivial --mode burst` (the binaries are taken from the
//! directory of this executable).
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

mod feed;
mod host;
mod local_http;
mod report;
mod stats;
mod workload;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser as _;
use jobvisor_store::units::parse_duration;
use serde::Serialize;

use crate::feed::{BenchDaemon, burst, trickle};
use crate::host::HostBench;
use crate::report::{
    Baseline, Report, ScaleSummary, print_table, summarize_burst, summarize_trickle,
};
use crate::stats::{median, ratio, wall_ms};
use crate::workload::{Workload, default_baseline_iterations, payload, script_source};

/// Name of the benchmark script in the generated config.
pub(crate) const SCRIPT: &str = "bench";
/// Queue of the prefilled available jobs in scale mode (paused).
const PARKED_QUEUE: &str = "parked";
/// Payload of the prefilled rows in scale mode (the store benchmark's, ~100 bytes).
const PREFILL_PAYLOAD: &str = r#"{"kind":"send_email","user_id":123456,"template":"welcome_v2","locale":"en-GB","dedupe":"9e3779b97f4a7c15"}"#;
/// The burst's end is the last answer to `WaitJob` on this many of its highest ids.
pub(crate) const WAIT_TAIL: usize = 64;
/// Connections that carry the trickle's sampled `WaitJob` requests.
pub(crate) const SAMPLE_CONNECTIONS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// Enqueue N jobs as fast as possible; time until all completed.
    Burst,
    /// Enqueue at a steady rate; latency from acknowledgement to completion.
    Trickle,
    /// The burst on a store holding 1M finished and 1M queued (paused) jobs, as a ratio
    /// to the burst on an empty store.
    Scale,
}

/// End-to-end benchmark of a real `jobvisor serve` (burst, trickle, scale) against an
/// in-process baseline of the same handler.
#[derive(Debug, clap::Parser)]
#[command(name = "jobvisor-bench", version)]
pub(crate) struct BenchArgs {
    /// The job handler to run.
    #[arg(long, value_enum, required_unless_present = "host")]
    pub(crate) workload: Option<Workload>,
    /// How jobs are fed to the daemon.
    #[arg(long, value_enum, required_unless_present = "host")]
    pub(crate) mode: Option<Mode>,
    /// A benchmark of the host API instead of a workload (`host.rs`): `fetch` (fetch
    /// overhead against a local server), `state` (`ctx.state` round trips and the cost
    /// of committing staged writes), `stall` (a trivial burst beside stalled fetches).
    #[arg(long, value_enum, conflicts_with_all = ["workload", "mode"])]
    pub(crate) host: Option<HostBench>,
    /// fetch: sequential fetches measured per run (after 100 to warm up).
    #[arg(long, default_value_t = 2000)]
    pub(crate) fetches: u32,
    /// state: calls of each kind measured per run.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) state_calls: u32,
    /// stall: workers each holding one job with `--stall-fetches` stalled fetches
    /// (besides the `--workers` left for the burst).
    #[arg(long, default_value_t = 8)]
    pub(crate) stall_workers: u32,
    /// stall: fetches each stalled job holds at once (its `[fetch] max_in_flight`).
    #[arg(long, default_value_t = 25)]
    pub(crate) stall_fetches: u32,
    /// Jobs per burst (burst and scale).
    #[arg(long, default_value_t = 2000)]
    pub(crate) jobs: u64,
    /// Enqueues per second (trickle).
    #[arg(long, default_value_t = 500.0)]
    pub(crate) rate: f64,
    /// How long to enqueue for (trickle), e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Worker processes of the daemon.
    #[arg(long, default_value_t = 2)]
    pub(crate) workers: u32,
    /// Repetitions (a fresh daemon each); medians are reported.
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: u32,
    /// Client connections the burst's enqueues are spread over.
    #[arg(long, default_value_t = 16)]
    pub(crate) connections: u32,
    /// Jobs per enqueue request in a burst (`EnqueueBatch`, one transaction each); 1 sends
    /// one `Enqueue` per job.
    #[arg(long, default_value_t = 500)]
    pub(crate) batch: u32,
    /// Trickle: time every N-th job's completion with `WaitJob`.
    #[arg(long, default_value_t = 10)]
    pub(crate) sample_every: u64,
    /// Scale: completed jobs and (paused) available jobs prefilled, each.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) scale_rows: u64,
    /// Jobs of the in-process baseline (default: chosen per workload).
    #[arg(long)]
    pub(crate) baseline_iterations: Option<u32>,
    /// Where the temporary state directories go (default: the system temp dir).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Print one JSON object with every number.
    #[arg(long)]
    pub(crate) json: bool,
}

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    if let Err(message) = validate(&args) {
        eprintln!("jobvisor-bench: {message}");
        return ExitCode::from(2);
    }
    if let Some(which) = args.host {
        return match host::run(which, &args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("jobvisor-bench: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let (Some(workload), Some(mode)) = (args.workload, args.mode) else {
        eprintln!("jobvisor-bench: give --workload and --mode, or --host");
        return ExitCode::from(2);
    };
    match run(&args, workload, mode) {
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
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("jobvisor-bench: cannot write the report: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(err) => {
            eprintln!("jobvisor-bench: {err:#}");
            ExitCode::FAILURE
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
    if args.mode == Some(Mode::Trickle) && !(1.0..=10_000_000.0).contains(&trickle_jobs.floor()) {
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
    if !(1..=1_000_000).contains(&args.fetches) {
        return Err(format!("--fetches {}: use 1 to 1000000", args.fetches));
    }
    if !(1..=1_000_000).contains(&args.state_calls) {
        return Err(format!(
            "--state-calls {}: use 1 to 1000000",
            args.state_calls
        ));
    }
    if !(1..=1024).contains(&args.stall_workers) {
        return Err(format!(
            "--stall-workers {}: use 1 to 1024",
            args.stall_workers
        ));
    }
    // One attempt may have at most this many requests in flight (`[fetch] max_in_flight`).
    let most_in_flight = jobvisor_protocol::host::MAX_HOST_CALLS_IN_FLIGHT as u32 / 2;
    if !(1..=most_in_flight).contains(&args.stall_fetches) {
        return Err(format!(
            "--stall-fetches {}: use 1 to {most_in_flight} (the most `[fetch] max_in_flight` allows)",
            args.stall_fetches
        ));
    }
    if let Some(dir) = &args.dir
        && !dir.is_dir()
    {
        return Err(format!("--dir {}: not a directory", dir.display()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Orchestration

/// What every run of one invocation shares.
pub(crate) struct Setup {
    /// The worker binary, for the baseline.
    worker: PathBuf,
    /// Where the runs' state directories go.
    pub(crate) base: PathBuf,
    /// Holds the script file of the baseline and the scale mode's template store.
    root: tempfile::TempDir,
    script: PathBuf,
    pub(crate) source: &'static str,
    pub(crate) payload: String,
    pub(crate) workers: u32,
    /// More `[[script]]`s besides the benchmark's own (name, source).
    pub(crate) extra_scripts: Vec<(&'static str, &'static str)>,
    /// Sections added to the config as they are written (the host benchmarks' `[fetch]`).
    pub(crate) extra_config: String,
    /// `[jobs] timeout`, when the default 30 s is too short.
    pub(crate) job_timeout: Option<Duration>,
}

impl Setup {
    /// A setup for `source` with `payload` on `workers` workers; its directory goes in
    /// `base`.
    pub(crate) fn new(
        base: PathBuf,
        source: &'static str,
        payload: String,
        workers: u32,
    ) -> anyhow::Result<Setup> {
        let worker = jobvisor_tests::bin_dir().join("jobvisor-worker");
        let root = tempfile::Builder::new()
            .prefix("jobvisor-bench-")
            .tempdir_in(&base)
            .with_context(|| format!("creating a directory in {}", base.display()))?;
        let script = root.path().join("bench.js");
        std::fs::write(&script, source).context("writing the script")?;
        Ok(Setup {
            worker,
            base,
            root,
            script,
            source,
            payload,
            workers,
            extra_scripts: Vec::new(),
            extra_config: String::new(),
            job_timeout: None,
        })
    }
}

/// Fails unless the daemon's binaries were built next to this executable.
pub(crate) fn check_binaries() -> anyhow::Result<()> {
    for binary in ["jobvisor", "jobvisor-worker"] {
        let path = jobvisor_tests::bin_dir().join(binary);
        if !path.is_file() {
            bail!(
                "{} not found: build it first (`cargo build --release -p jobvisor -p jobvisor-worker`)",
                path.display()
            );
        }
    }
    Ok(())
}

fn run(args: &BenchArgs, workload: Workload, mode: Mode) -> anyhow::Result<Report> {
    check_binaries()?;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let setup = Setup::new(
        base,
        script_source(workload),
        payload(workload),
        args.workers,
    )?;

    let iterations = args
        .baseline_iterations
        .unwrap_or_else(|| default_baseline_iterations(workload));
    let mut report = Report {
        workload,
        mode,
        workers: args.workers,
        runs: args.runs,
        payload_bytes: setup.payload.len(),
        method: method_notes(mode),
        burst: None,
        trickle: None,
        scale: None,
        baseline: None,
        throughput_overhead: None,
        cpu_overhead: None,
    };

    match mode {
        Mode::Burst => {
            let mut runs = Vec::new();
            for i in 0..args.runs {
                progress(format_args!(
                    "run {}/{}: burst of {} jobs",
                    i + 1,
                    args.runs,
                    args.jobs
                ));
                let daemon = BenchDaemon::start(&setup, None)?;
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
            let template = setup.root.path().join("template.db");
            build_template(&template, script_source(workload), args.scale_rows)?;
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
                let daemon = BenchDaemon::start(&setup, None)?;
                empty.push(burst(&daemon, args, &setup.payload)?);
                daemon.stop();
                progress(format_args!(
                    "run {}/{}: burst of {} jobs, prefilled store",
                    i + 1,
                    args.runs,
                    args.jobs
                ));
                let daemon = BenchDaemon::start(&setup, Some(&template))?;
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
                let daemon = BenchDaemon::start(&setup, None)?;
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

pub(crate) fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("jobvisor-bench: {message}");
}

/// A migrated store with the script, `rows` completed jobs in `default` and `rows`
/// available jobs in the paused `parked` queue.
fn build_template(path: &Path, source: &str, rows: u64) -> anyhow::Result<()> {
    use jobvisor_store::bench_support::{Prefill, prefill, set_queue_paused};
    use jobvisor_store::{SqliteStore, StoreOptions};
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
