//! The host-API benchmarks (`--host`): what `fetch` and `ctx.state` cost a job, and
//! whether jobs that use no host calls still run at their usual rate while other jobs hold
//! fetches that a slow server does not answer. Each one runs real daemons (`feed.rs`)
//! against a local HTTP server on loopback (`local_http.rs`); the latencies of host calls
//! are taken inside the job with `performance.now()`, so they include the worker's side.
//!
//! - `fetch`: one job makes `--fetches` sequential GETs to a local server (after 100 to
//!   warm up) and times each, then as many `ctx.host.echo` calls (the floor of any host
//!   call); the bench makes the same GETs directly with the client crate (`reqwest`, on a
//!   current-thread runtime, TLS configured as the supervisor's, kept alive).
//! - `state`: one job times `--state-calls` calls each of `ctx.host.echo`, `ctx.state.get`
//!   of a committed key, `ctx.state.set` (staged) and `get` of the staged key; then bursts
//!   of `--jobs` trivial jobs that set no key, one key and ten keys (committed with each
//!   job's completion), interleaved run by run.
//! - `stall`: bursts of `--jobs` trivial jobs on `--workers` workers, three ways, run by
//!   run: alone (a daemon of `--workers`); beside `--stall-workers` workers each holding a
//!   job that waits on a timer (a daemon of both counts: the same workers free, no
//!   fetches); beside as many workers each holding a job with `--stall-fetches` fetches
//!   that the server holds unanswered until the burst is done. `Status` (over the socket)
//!   and `jobvisor status` (a process) are timed during each burst.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::feed::{BenchDaemon, burst};
use crate::local_http::{Answer, LocalServer};
use crate::report::{BurstRun, Percentiles, summarize_burst};
use crate::stats::{median, percentiles, ratio};
use crate::workload::{Workload, payload, script_source};
use crate::{BenchArgs, Setup, check_binaries, progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HostBench {
    /// Fetch overhead against a local server: through the worker vs reqwest directly.
    Fetch,
    /// `ctx.state` round trips, and the cost of committing staged writes.
    State,
    /// A trivial burst beside jobs holding stalled fetches; `status` latency.
    Stall,
}

/// Fetches (and echo calls) made before the measured ones.
const WARM_UP_CALLS: u32 = 100;
/// The longest wait for the stalled fetches to reach the server.
const STALL_ARRIVAL: Duration = Duration::from_secs(60);
/// How often `Status` is timed during a burst; every tenth sample is `jobvisor status`.
const STATUS_EVERY: Duration = Duration::from_millis(20);

/// Times `p.n` sequential GETs of `p.url` (body read) and `p.n` echo calls, in µs.
const FETCH_SCRIPT: &str = r#"const time = async (n, call) => {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call();
    out.push((performance.now() - t) * 1000);
  }
  return out;
};
export default async (p, ctx) => {
  const get = async () => { const r = await fetch(p.url); await r.text(); };
  const echo = () => ctx.host.echo("x");
  await time(p.warmup, get);
  await time(p.warmup, echo);
  return { fetch: await time(p.n, get), echo: await time(p.n, echo) };
};
"#;

/// Seeds `cursor` (committed), or times `p.n` calls of each kind: p50, p99 and mean in µs.
const STATE_SCRIPT: &str = r#"const time = async (n, call) => {
  const out = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(i);
    out.push((performance.now() - t) * 1000);
  }
  const mean = (performance.now() - started) * 1000 / n;
  out.sort((a, b) => a - b);
  const at = (q) => out[Math.round((out.length - 1) * q)];
  return { p50: at(0.5), p99: at(0.99), mean };
};
export default async (p, ctx) => {
  if (p.seed) {
    await ctx.state.set("cursor", { at: 0 });
    return { seeded: true };
  }
  const echo = await time(p.n, () => ctx.host.echo("x"));
  const getCommitted = await time(p.n, () => ctx.state.get("cursor"));
  const set = await time(p.n, (i) => ctx.state.set("cursor", { at: i }));
  const getStaged = await time(p.n, () => ctx.state.get("cursor"));
  return { echo, getCommitted, set, getStaged };
};
"#;

/// The trivial handler with one staged write, committed with the completion.
const SET_ONE_SCRIPT: &str = "export default async (p, ctx) => {\n\
     \x20 await ctx.state.set(\"cursor\", { at: p.a });\n\
     \x20 return { sum: p.a + p.b };\n\
     };\n";

/// The trivial handler with ten staged writes.
const SET_TEN_SCRIPT: &str = "export default async (p, ctx) => {\n\
     \x20 for (let i = 0; i < 10; i++) await ctx.state.set(\"key\" + i, { at: p.a });\n\
     \x20 return { sum: p.a + p.b };\n\
     };\n";

/// Holds `p.fetches` fetches of `p.url` in flight at once, until they are answered.
const STALL_SCRIPT: &str = "export default async (p, ctx) => {\n\
     \x20 const all = [];\n\
     \x20 for (let i = 0; i < p.fetches; i++) {\n\
     \x20   all.push(fetch(p.url + \"/\" + i, { signal: ctx.signal }).then((r) => r.text()));\n\
     \x20 }\n\
     \x20 return { answered: (await Promise.all(all)).length };\n\
     };\n";

/// Holds its worker on a timer (no host call) until the daemon drains.
const HOLD_SCRIPT: &str = "export default (p, ctx) => new Promise((resolve) => {\n\
     \x20 const timer = setTimeout(resolve, 600000);\n\
     \x20 ctx.signal.addEventListener(\"abort\", () => { clearTimeout(timer); resolve(); });\n\
     });\n";

pub(crate) fn run(which: HostBench, args: &BenchArgs) -> anyhow::Result<()> {
    check_binaries()?;
    let text = match which {
        HostBench::Fetch => render(args, &fetch_overhead(args)?)?,
        HostBench::State => render(args, &state_costs(args)?)?,
        HostBench::Stall => render(args, &stalled_fetches(args)?)?,
    };
    println!("{text}");
    Ok(())
}

fn render(args: &BenchArgs, report: &impl Serialize) -> anyhow::Result<String> {
    if args.json {
        serde_json::to_string(report).context("rendering the report")
    } else {
        serde_json::to_string_pretty(report).context("rendering the report")
    }
}

fn base_dir(args: &BenchArgs) -> std::path::PathBuf {
    args.dir.clone().unwrap_or_else(std::env::temp_dir)
}

/// A trivial-workload setup (its warm-up jobs are trivial) with more scripts.
fn trivial_setup(
    args: &BenchArgs,
    workers: u32,
    source: &'static str,
    extra_scripts: Vec<(&'static str, &'static str)>,
) -> anyhow::Result<Setup> {
    let mut setup = Setup::new(base_dir(args), source, payload(Workload::Trivial), workers)?;
    setup.extra_scripts = extra_scripts;
    Ok(setup)
}

/// `[fetch]` letting every script reach `port` on loopback.
fn fetch_section(port: u16, extra: &str) -> String {
    format!("[fetch]\nallow_private = [\"127.0.0.1:{port}\"]\n{extra}")
}

// ---------------------------------------------------------------------------------------
// fetch

#[derive(Debug, Serialize)]
struct FetchRun {
    /// A fetch from the job, through the worker, the supervisor and its client.
    through_worker_us: Percentiles,
    /// A host call that the supervisor answers at once.
    echo_us: Percentiles,
    /// The same GET made by reqwest from the bench.
    reqwest_us: Percentiles,
}

#[derive(Debug, Serialize)]
struct FetchReport {
    bench: HostBench,
    fetches_per_run: u32,
    method: &'static str,
    runs: Vec<FetchRun>,
    median_p50_through_worker_us: f64,
    median_p99_through_worker_us: f64,
    median_p50_echo_us: f64,
    median_p99_echo_us: f64,
    median_p50_reqwest_us: f64,
    median_p99_reqwest_us: f64,
    /// Median over runs of (p50 through the worker − p50 of reqwest).
    median_p50_overhead_us: f64,
}

fn fetch_overhead(args: &BenchArgs) -> anyhow::Result<FetchReport> {
    let server = LocalServer::start(Answer::AtOnce)?;
    let url = format!("{}/bench", server.origin());
    let mut setup = trivial_setup(
        args,
        1,
        script_source(Workload::Trivial),
        vec![("fetcher", FETCH_SCRIPT)],
    )?;
    setup.extra_config = fetch_section(server.port(), "max_requests = 100000\n");
    let job_payload =
        serde_json::json!({ "url": url, "n": args.fetches, "warmup": WARM_UP_CALLS }).to_string();
    let mut runs = Vec::new();
    for i in 0..args.runs {
        progress(format_args!(
            "run {}/{}: {} fetches through a worker",
            i + 1,
            args.runs,
            args.fetches
        ));
        let daemon = BenchDaemon::start(&setup, None)?;
        let id = daemon.enqueue("fetcher", &job_payload)?;
        let result = daemon.wait_result(id)?;
        daemon.stop();
        #[derive(serde::Deserialize)]
        struct Samples {
            fetch: Vec<f64>,
            echo: Vec<f64>,
        }
        let samples: Samples = serde_json::from_str(&result)
            .with_context(|| format!("the fetcher job's result: {result:.200}"))?;
        progress(format_args!(
            "run {}/{}: {} fetches with reqwest",
            i + 1,
            args.runs,
            args.fetches
        ));
        let direct = direct_fetches(&url, WARM_UP_CALLS, args.fetches)?;
        runs.push(FetchRun {
            through_worker_us: percentiles(samples.fetch),
            echo_us: percentiles(samples.echo),
            reqwest_us: percentiles(direct),
        });
    }
    let of = |pick: fn(&FetchRun) -> f64| median(runs.iter().map(pick).collect());
    Ok(FetchReport {
        bench: HostBench::Fetch,
        fetches_per_run: args.fetches,
        method: "a release daemon with 1 worker; one job makes the GETs one after the other to a local HTTP/1.1 server on 127.0.0.1 (kept alive, a 27-byte JSON body, read with text()), timed with performance.now() around fetch + text(); then as many ctx.host.echo calls; the bench then makes the same GETs with reqwest (current-thread tokio runtime, body read with bytes()); 100 of each to warm up first",
        median_p50_through_worker_us: of(|r| r.through_worker_us.p50),
        median_p99_through_worker_us: of(|r| r.through_worker_us.p99),
        median_p50_echo_us: of(|r| r.echo_us.p50),
        median_p99_echo_us: of(|r| r.echo_us.p99),
        median_p50_reqwest_us: of(|r| r.reqwest_us.p50),
        median_p99_reqwest_us: of(|r| r.reqwest_us.p99),
        median_p50_overhead_us: of(|r| r.through_worker_us.p50 - r.reqwest_us.p50),
        runs,
    })
}

/// `n` sequential GETs of `url` with reqwest, after `warmup` untimed ones, in µs.
fn direct_fetches(url: &str, warmup: u32, n: u32) -> anyhow::Result<Vec<f64>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a tokio runtime")?;
    runtime.block_on(async {
        // The crate is built without a default TLS provider: hand it one, as the
        // supervisor's client does (the requests are plain HTTP).
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .build()
            .context("building the reqwest client")?;
        let get = async || -> anyhow::Result<()> {
            client
                .get(url)
                .send()
                .await
                .context("a direct GET")?
                .bytes()
                .await
                .context("a direct GET's body")?;
            Ok(())
        };
        for _ in 0..warmup {
            get().await?;
        }
        let mut samples = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let started = Instant::now();
            get().await?;
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
        Ok(samples)
    })
}

// ---------------------------------------------------------------------------------------
// state

#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
struct CallCost {
    p50: f64,
    p99: f64,
    mean: f64,
}

#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateRun {
    echo: CallCost,
    get_committed: CallCost,
    set: CallCost,
    get_staged: CallCost,
}

#[derive(Debug, Serialize)]
struct CommitVariant {
    keys_set_per_job: u32,
    runs: Vec<BurstRun>,
    median_jobs_per_s: f64,
    median_daemon_cpu_per_job_us: f64,
    median_worker_cpu_per_job_us: f64,
    /// Median jobs/s as a share of the jobs that set no key.
    ratio_to_none: f64,
}

#[derive(Debug, Serialize)]
struct StateReport {
    bench: HostBench,
    calls_per_kind: u32,
    method: &'static str,
    /// µs per call inside the job.
    round_trips: Vec<StateRun>,
    median_mean_us: StateMeans,
    burst_jobs: u64,
    workers: u32,
    commits: Vec<CommitVariant>,
}

#[derive(Debug, Serialize)]
struct StateMeans {
    echo: f64,
    get_committed: f64,
    set: f64,
    get_staged: f64,
}

fn state_costs(args: &BenchArgs) -> anyhow::Result<StateReport> {
    let setup = trivial_setup(
        args,
        1,
        script_source(Workload::Trivial),
        vec![("state", STATE_SCRIPT)],
    )?;
    let mut round_trips = Vec::new();
    for i in 0..args.runs {
        progress(format_args!(
            "run {}/{}: {} ctx.state calls of each kind",
            i + 1,
            args.runs,
            args.state_calls
        ));
        let daemon = BenchDaemon::start(&setup, None)?;
        let seed = daemon.enqueue("state", r#"{"seed":true}"#)?;
        daemon.wait_result(seed)?;
        let id = daemon.enqueue(
            "state",
            &serde_json::json!({ "n": args.state_calls }).to_string(),
        )?;
        let result = daemon.wait_result(id)?;
        daemon.stop();
        round_trips.push(
            serde_json::from_str::<StateRun>(&result)
                .with_context(|| format!("the state job's result: {result:.200}"))?,
        );
    }
    let of = |pick: fn(&StateRun) -> f64| median(round_trips.iter().map(pick).collect());
    let median_mean_us = StateMeans {
        echo: of(|r| r.echo.mean),
        get_committed: of(|r| r.get_committed.mean),
        set: of(|r| r.set.mean),
        get_staged: of(|r| r.get_staged.mean),
    };

    let variants: [(u32, &'static str); 3] = [
        (0, script_source(Workload::Trivial)),
        (1, SET_ONE_SCRIPT),
        (10, SET_TEN_SCRIPT),
    ];
    let mut setups = Vec::new();
    for (_, source) in variants {
        setups.push(trivial_setup(args, args.workers, source, Vec::new())?);
    }
    let mut bursts: Vec<Vec<BurstRun>> = vec![Vec::new(); variants.len()];
    for i in 0..args.runs {
        for ((keys, _), (setup, runs)) in variants.iter().zip(setups.iter().zip(&mut bursts)) {
            progress(format_args!(
                "run {}/{}: burst of {} jobs setting {keys} keys",
                i + 1,
                args.runs,
                args.jobs
            ));
            let daemon = BenchDaemon::start(setup, None)?;
            runs.push(burst(&daemon, args, &setup.payload)?);
            daemon.stop();
        }
    }
    let mut commits = Vec::new();
    let mut none_rate = f64::NAN;
    for ((keys, _), runs) in variants.iter().zip(bursts) {
        let summary = summarize_burst(runs);
        if *keys == 0 {
            none_rate = summary.median_jobs_per_s;
        }
        commits.push(CommitVariant {
            keys_set_per_job: *keys,
            median_jobs_per_s: summary.median_jobs_per_s,
            median_daemon_cpu_per_job_us: summary.median_daemon_cpu_per_job_us,
            median_worker_cpu_per_job_us: summary.median_worker_cpu_per_job_us,
            ratio_to_none: ratio(summary.median_jobs_per_s, none_rate),
            runs: summary.runs,
        });
    }
    Ok(StateReport {
        bench: HostBench::State,
        calls_per_kind: args.state_calls,
        method: "round trips: a release daemon with 1 worker; a first job commits the key `cursor`; a second times each call with performance.now() (await included), --state-calls of each kind one after the other: ctx.host.echo, ctx.state.get of the committed key, ctx.state.set of it (staged), get of the staged key; mean = the loop's time / calls. commits: bursts of --jobs trivial jobs that set 0, 1 (`cursor`) or 10 keys before returning, staged and committed with the completion, interleaved run by run",
        round_trips,
        median_mean_us,
        burst_jobs: args.jobs,
        workers: args.workers,
        commits,
    })
}

// ---------------------------------------------------------------------------------------
// stall

#[derive(Debug, Serialize)]
struct StallVariant {
    name: &'static str,
    runs: Vec<BurstRun>,
    median_jobs_per_s: f64,
    /// Median jobs/s as a share of the burst alone.
    ratio_to_alone: f64,
    /// `Status` over the socket (connect, request, answer) during the bursts, all runs.
    status_during_burst_ms: Percentiles,
    /// `jobvisor status` as a process during the bursts, all runs.
    status_command_during_burst_ms: Percentiles,
    /// Requests held by the server when each burst ended (stall only).
    held_at_burst_end: Vec<usize>,
}

#[derive(Debug, Serialize)]
struct StallReport {
    bench: HostBench,
    method: &'static str,
    burst_jobs: u64,
    burst_workers: u32,
    stall_workers: u32,
    stalled_fetches: u32,
    variants: Vec<StallVariant>,
    /// `Status` and `jobvisor status` with the fetches stalled, before each burst.
    status_while_stalled_idle_ms: Percentiles,
    status_command_while_stalled_idle_ms: Percentiles,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Occupier {
    Nothing,
    Timer,
    Fetches,
}

/// What one run of one variant measured.
struct VariantRun {
    burst: BurstRun,
    status_ms: Vec<f64>,
    status_command_ms: Vec<f64>,
    held_at_end: usize,
}

fn stalled_fetches(args: &BenchArgs) -> anyhow::Result<StallReport> {
    let stalled = args.stall_workers * args.stall_fetches;
    let variants = [
        ("alone", Occupier::Nothing),
        ("beside jobs holding a timer", Occupier::Timer),
        ("beside jobs holding stalled fetches", Occupier::Fetches),
    ];
    let mut results: Vec<Vec<VariantRun>> = variants.iter().map(|_| Vec::new()).collect();
    let (mut idle_status, mut idle_command) = (Vec::new(), Vec::new());
    for i in 0..args.runs {
        for ((name, occupier), runs) in variants.iter().zip(&mut results) {
            progress(format_args!(
                "run {}/{}: burst of {} jobs {name}",
                i + 1,
                args.runs,
                args.jobs
            ));
            runs.push(stall_run(
                args,
                *occupier,
                &mut idle_status,
                &mut idle_command,
            )?);
        }
    }
    let mut alone_rate = f64::NAN;
    let mut out = Vec::new();
    for ((name, occupier), runs) in variants.iter().zip(results) {
        let mut status = Vec::new();
        let mut command = Vec::new();
        let mut held = Vec::new();
        let mut bursts = Vec::new();
        for run in runs {
            status.extend(run.status_ms);
            command.extend(run.status_command_ms);
            held.push(run.held_at_end);
            bursts.push(run.burst);
        }
        let summary = summarize_burst(bursts);
        if *occupier == Occupier::Nothing {
            alone_rate = summary.median_jobs_per_s;
        }
        out.push(StallVariant {
            name,
            median_jobs_per_s: summary.median_jobs_per_s,
            ratio_to_alone: ratio(summary.median_jobs_per_s, alone_rate),
            runs: summary.runs,
            status_during_burst_ms: percentiles(status),
            status_command_during_burst_ms: percentiles(command),
            held_at_burst_end: if *occupier == Occupier::Fetches {
                held
            } else {
                Vec::new()
            },
        });
    }
    Ok(StallReport {
        bench: HostBench::Stall,
        method: "alone: a daemon of --workers workers; timer: a daemon of --workers + --stall-workers workers, --stall-workers of them holding a job that awaits a 10-minute timer (no host call), then the burst; fetches: the same daemon with [fetch] max_in_flight = --stall-fetches, each of those workers holding a job with --stall-fetches fetches in flight to a local server that holds every request until the burst has ended (the bench waits until all of them have reached the server), then the burst; interleaved run by run. Status over the socket is timed every 20 ms during the burst, every tenth sample as `jobvisor status` (a process) instead",
        burst_jobs: args.jobs,
        burst_workers: args.workers,
        stall_workers: args.stall_workers,
        stalled_fetches: stalled,
        variants: out,
        status_while_stalled_idle_ms: percentiles(idle_status),
        status_command_while_stalled_idle_ms: percentiles(idle_command),
    })
}

fn stall_run(
    args: &BenchArgs,
    occupier: Occupier,
    idle_status: &mut Vec<f64>,
    idle_command: &mut Vec<f64>,
) -> anyhow::Result<VariantRun> {
    let server = LocalServer::start(Answer::WhenReleased)?;
    let workers = match occupier {
        Occupier::Nothing => args.workers,
        Occupier::Timer | Occupier::Fetches => args.workers + args.stall_workers,
    };
    let mut setup = trivial_setup(
        args,
        workers,
        script_source(Workload::Trivial),
        vec![("stall", STALL_SCRIPT), ("hold", HOLD_SCRIPT)],
    )?;
    setup.extra_config = fetch_section(
        server.port(),
        &format!(
            "max_in_flight = {}\ntimeout = \"10m\"\n",
            args.stall_fetches
        ),
    );
    setup.job_timeout = Some(Duration::from_secs(600));
    let daemon = BenchDaemon::start(&setup, None)?;

    let url = format!("{}/slow", server.origin());
    let stalled = (args.stall_workers * args.stall_fetches) as usize;
    let mut held_jobs = Vec::new();
    if occupier != Occupier::Nothing {
        let (script, job_payload) = match occupier {
            Occupier::Fetches => (
                "stall",
                serde_json::json!({ "url": url, "fetches": args.stall_fetches }).to_string(),
            ),
            _ => ("hold", "{}".to_owned()),
        };
        for _ in 0..args.stall_workers {
            held_jobs.push(daemon.enqueue(script, &job_payload)?);
        }
        let deadline = Instant::now() + STALL_ARRIVAL;
        while daemon.busy_workers() < args.stall_workers as usize {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {} workers took a {script} job within {STALL_ARRIVAL:?}",
                    daemon.busy_workers(),
                    args.stall_workers
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if occupier == Occupier::Fetches {
            server.wait_arrived(stalled, STALL_ARRIVAL)?;
            for _ in 0..20 {
                idle_status.push(ms(daemon.timed_status()?));
            }
            for _ in 0..5 {
                idle_command.push(ms(daemon.timed_status_command()?));
            }
        }
    }

    let done = std::sync::atomic::AtomicBool::new(false);
    let (burst_run, samples) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
            let (mut status, mut command) = (Vec::new(), Vec::new());
            let mut n = 0_u32;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                if n.is_multiple_of(10) {
                    command.push(ms(daemon.timed_status_command()?));
                } else {
                    status.push(ms(daemon.timed_status()?));
                }
                std::thread::sleep(STATUS_EVERY);
            }
            Ok((status, command))
        });
        let result = burst(&daemon, args, &setup.payload);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let samples = sampler
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the status sampler panicked")));
        (result, samples)
    });
    let burst_run = burst_run?;
    let (status_ms, status_command_ms) = samples?;
    // Every stalled request is still held: none was answered or given up during the burst.
    let held_at_end = server.arrived();
    if occupier == Occupier::Fetches {
        server.release();
        for id in held_jobs {
            let result = daemon.wait_result(id)?;
            if !result.contains(&format!("\"answered\":{}", args.stall_fetches)) {
                bail!("stalled job {id} answered {result}");
            }
        }
    }
    daemon.stop();
    Ok(VariantRun {
        burst: burst_run,
        status_ms,
        status_command_ms,
        held_at_end,
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fetch_section_allows_the_port_and_adds_the_settings() {
        let text = fetch_section(8123, "max_in_flight = 25\n");
        let table: toml::Table = toml::from_str(&text).expect("TOML");
        assert_eq!(
            table["fetch"]["allow_private"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            table["fetch"]["allow_private"][0].as_str(),
            Some("127.0.0.1:8123")
        );
        assert_eq!(table["fetch"]["max_in_flight"].as_integer(), Some(25));
    }
}
