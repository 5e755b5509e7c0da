//! SqliteStore benchmark. Measures, in a scratch
//! directory on the same disk as the real state directory:
//! 1. bulk enqueue rate (1000 jobs per bulk, synchronous=FULL);
//! 2. the dispatcher cycle with FULL: claim 64, complete them, and send the next claim in
//!    the same transaction as those completions (`SqliteStore::batch`);
//! 3. the same cycle with 1,000,000 pending and 1,000,000 finished rows in the table;
//! 4. database size per 1M finished jobs with a ~100-byte payload;
//! 5. `EXPLAIN QUERY PLAN` of the claim;
//!
//! plus the NORMAL opt-in, two concurrent dispatcher lanes, `counts()` and pruning on
//! the 2M-row file. Cycles 2 and 3 run in alternation for `--rounds` rounds, each with the
//! disk's fsync latency probed just before, because a busy neighbour changes fsync cost
//! by 30x on the development machine.
//!
//! Usage: `cargo bench -p jobvisor --bench store -- [--dir DIR] [--working-set N]
//! [--big-rows N] [--rounds N]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jobvisor_store::bench_support::{Prefill, prefill};
use jobvisor_store::*;

const PAYLOAD: &str = r#"{"kind":"send_email","user_id":123456,"template":"welcome_v2","locale":"en-GB","dedupe":"9e3779b97f4a7c15"}"#;
const SCRIPT: &str = "export default async function (payload) { return { ok: true }; }";
const K: usize = 64;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    dir: PathBuf,
    working_set: usize,
    big_rows: u64,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dir: std::env::temp_dir().join(format!("jobvisor-store-bench-{}", std::process::id())),
        working_set: 150_000,
        big_rows: 1_000_000,
        rounds: 3,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => args.dir = PathBuf::from(value()?),
            "--working-set" => {
                args.working_set = value()?.parse().map_err(|err| format!("{err}"))?
            }
            "--big-rows" => args.big_rows = value()?.parse().map_err(|err| format!("{err}"))?,
            "--rounds" => args.rounds = value()?.parse().map_err(|err| format!("{err}"))?,
            // Passed by `cargo bench` to every benchmark.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.rounds == 0 || args.working_set < K {
        return Err("--rounds must be >= 1 and --working-set >= 64".into());
    }
    Ok(args)
}

fn main() -> BoxResult<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.dir)?;
    println!("# jobvisor store benchmark");
    println!(
        "scratch dir: {} (payload {} bytes, K = {K})",
        args.dir.display(),
        PAYLOAD.len()
    );
    println!("load average at start: {}", load_average());
    let result = run(&args);
    println!();
    println!("load average at end: {}", load_average());
    let _ = std::fs::remove_dir_all(&args.dir);
    result
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn run(args: &Args) -> BoxResult<()> {
    bulk_enqueue(&args.dir)?;

    // The big file is built once; every round adds a fresh working set in front of its
    // 1M pending rows (priority 0 vs -1).
    let big = args.dir.join("cycle-big.db");
    build_big(&big, args.big_rows)?;
    let small = args.dir.join("cycle-small.db");
    let mut empty_runs = Vec::new();
    let mut big_runs = Vec::new();
    let mut growth_per_job = 0.0;
    for round in 1..=args.rounds {
        remove_db(&small);
        let base = new_store(&small)?;
        add_working_set(&small, args.working_set)?;
        add_working_set(&big, args.working_set)?;
        let (empty, loaded) = measure_paired(&small, &big, args.working_set, &args.dir)?;
        if round == 1 {
            growth_per_job = file_bytes(&small).saturating_sub(base) as f64 / empty.jobs as f64;
        }
        empty_runs.push(empty);
        big_runs.push(loaded);
    }
    println!();
    println!(
        "## cycle, FULL, table holds only the working set ({} jobs), {} rounds, interleaved with the next table",
        args.working_set, args.rounds
    );
    print_runs(&empty_runs);
    println!();
    println!(
        "## cycle, FULL, with {} pending (behind the working set) and >= {} finished rows, interleaved",
        args.big_rows, args.big_rows
    );
    print_runs(&big_runs);
    let ratios: Vec<f64> = empty_runs
        .iter()
        .zip(&big_runs)
        .map(|(empty, big)| big.jobs_per_sec / empty.jobs_per_sec)
        .collect();
    let ratio = median(&mut ratios.clone());
    println!();
    println!(
        "- big / empty throughput, per round: {}; median {:.2}x ({:+.1} %)",
        ratios
            .iter()
            .map(|ratio| format!("{ratio:.2}x"))
            .collect::<Vec<_>>()
            .join(", "),
        ratio,
        (ratio - 1.0) * 100.0
    );

    remove_db(&small);
    new_store(&small)?;
    add_working_set(&small, args.working_set)?;
    let normal = measure(&small, args.working_set, Synchronous::Normal, 1, &args.dir)?;
    println!();
    println!("## same cycle with synchronous=NORMAL (opt-in; the CPU-bound ceiling)");
    print_runs(&[normal]);

    remove_db(&small);
    new_store(&small)?;
    add_working_set(&small, args.working_set)?;
    let lanes = measure(&small, args.working_set, Synchronous::Full, 2, &args.dir)?;
    println!();
    println!("## same cycle, FULL, two dispatcher lanes running at once");
    print_runs(&[lanes]);
    remove_db(&small);

    big_file_extras(&big)?;
    remove_db(&big);

    let sized = args.dir.join("size.db");
    let finished_bytes = finished_size(&sized, args.big_rows)?;
    remove_db(&sized);
    println!();
    println!("## size");
    println!(
        "- {} finished jobs prefilled as the store writes them (job row with result + one attempt row): {:.0} bytes/job -> {:.0} MB per 1M",
        args.big_rows,
        finished_bytes as f64 / args.big_rows as f64,
        finished_bytes as f64 / args.big_rows as f64
    );
    println!(
        "- through the real path (enqueue + claim + complete, round 1 above, file growth): {:.0} bytes/job -> {:.0} MB per 1M",
        growth_per_job, growth_per_job
    );
    Ok(())
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

fn open(path: &Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path, StoreOptions::default())
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Creates a store with the bench script; returns the file size.
fn new_store(path: &Path) -> BoxResult<u64> {
    let store = open(path)?;
    store.add_script("bench", SCRIPT).wait()?;
    store.checkpoint(true).wait()?;
    let bytes = file_bytes(path);
    store.close()?;
    Ok(bytes)
}

fn add_working_set(path: &Path, jobs: usize) -> BoxResult<()> {
    let store = open(path)?;
    for chunk in 0..jobs.div_ceil(1000) {
        let n = 1000.min(jobs - chunk * 1000);
        store
            .enqueue_bulk(vec![EnqueueRequest::new("bench", PAYLOAD); n])
            .wait()?;
    }
    store.close()?;
    Ok(())
}

fn build_big(path: &Path, rows: u64) -> BoxResult<()> {
    remove_db(path);
    new_store(path)?;
    let started = Instant::now();
    prefill(
        path,
        &Prefill {
            script: "bench".into(),
            queue: "default".into(),
            payload: PAYLOAD.into(),
            finished: rows,
            pending: rows,
            pending_priority: -1,
            now_ms: SystemClock.now_ms(),
        },
    )?;
    eprintln!(
        "prefilled {rows} finished + {rows} pending rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The disk's current commit cost: 4 KiB pwrite + fdatasync, as a WAL commit does.
fn fsync_probe(dir: &Path) -> BoxResult<Duration> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fsync-probe");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let page = [0x5a_u8; 4096];
    let mut samples = Vec::with_capacity(100);
    for _ in 0..100 {
        let started = Instant::now();
        file.write_all_at(&page, 0)?;
        file.sync_data()?;
        samples.push(started.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    samples.sort();
    Ok(samples[50])
}

/// On-CPU time of the store's writer thread(s) (`jobvisor-store`), from schedstat: the
/// cost of the store itself, least disturbed by neighbours.
fn writer_cpu() -> Duration {
    let mut total = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "jobvisor-store" {
            continue;
        }
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(total)
}

/// User + system CPU time of this process so far (from /proc/self/stat, in clock ticks).
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the ")" the state is field 0, so utime (14th field overall) is index 11.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn bulk_enqueue(dir: &Path) -> BoxResult<()> {
    let path = dir.join("enqueue.db");
    new_store(&path)?;
    let store = open(&path)?;
    let total = 200_000;
    let bulk = 1000;
    let fsync = fsync_probe(dir)?;
    let writer_before = writer_cpu();
    let started = Instant::now();
    for _ in 0..total / bulk {
        store
            .enqueue_bulk(vec![EnqueueRequest::new("bench", PAYLOAD); bulk])
            .wait()?;
    }
    let elapsed = started.elapsed();
    let writer_per_job =
        writer_cpu().saturating_sub(writer_before).as_secs_f64() * 1e6 / total as f64;
    // Several bulks in flight, as concurrent producers would have them.
    let before = store.writer_stats();
    let started = Instant::now();
    let mut in_flight = Vec::new();
    for _ in 0..total / bulk {
        in_flight.push(store.enqueue_bulk(vec![EnqueueRequest::new("bench", PAYLOAD); bulk]));
        if in_flight.len() == 8 {
            for reply in in_flight.drain(..) {
                reply.wait()?;
            }
        }
    }
    for reply in in_flight {
        reply.wait()?;
    }
    let pipelined = started.elapsed();
    let after = store.writer_stats();
    store.close()?;
    remove_db(&path);
    println!();
    println!("## bulk enqueue (synchronous=FULL, {bulk} jobs per bulk, {total} jobs)");
    println!(
        "- disk fsync p50 just before: {:.0} us",
        fsync.as_secs_f64() * 1e6
    );
    println!(
        "- one bulk at a time: {:.0} jobs/s ({:.2} s; writer thread CPU {:.2} us/job)",
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        writer_per_job
    );
    println!(
        "- 8 bulks in flight: {:.0} jobs/s ({:.2} s; {} bulks in {} transactions)",
        total as f64 / pipelined.as_secs_f64(),
        pipelined.as_secs_f64(),
        after.commands - before.commands,
        after.transactions - before.transactions
    );
    Ok(())
}

struct CycleResult {
    jobs: usize,
    jobs_per_sec: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    transactions: u64,
    commands: u64,
    /// `None` when two stores ran interleaved (their CPU cannot be told apart).
    cpu: Option<Duration>,
    writer_cpu: Option<Duration>,
    fsync_p50: Duration,
    synchronous: Synchronous,
    lanes: usize,
}

fn print_runs(runs: &[CycleResult]) {
    println!(
        "| round | jobs/s | fsync p50 before | cycle p50 | cycle p99 | cycle max | process CPU us/job | writer CPU us/job | commands/commit |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (index, run) in runs.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.0} us | {:.0} us | {:.0} us | {:.1} ms | {} | {} | {:.1} |",
            index + 1,
            run.jobs_per_sec,
            run.fsync_p50.as_secs_f64() * 1e6,
            run.p50.as_secs_f64() * 1e6,
            run.p99.as_secs_f64() * 1e6,
            run.max.as_secs_f64() * 1e3,
            per_job(run.cpu, run.jobs),
            per_job(run.writer_cpu, run.jobs),
            run.commands as f64 / run.transactions.max(1) as f64
        );
    }
    let mut rates: Vec<f64> = runs.iter().map(|run| run.jobs_per_sec).collect();
    if let Some(first) = runs.first() {
        println!(
            "- median {:.0} jobs/s ({} jobs per round, synchronous={:?}, {} lane(s))",
            median(&mut rates),
            first.jobs,
            first.synchronous,
            first.lanes
        );
    }
}

fn per_job(cpu: Option<Duration>, jobs: usize) -> String {
    cpu.map_or_else(
        || "n/a".to_owned(),
        |cpu| format!("{:.1}", cpu.as_secs_f64() * 1e6 / jobs.max(1) as f64),
    )
}

fn cycle_result(
    lane: &Lane<'_>,
    stats: (WriterStats, WriterStats),
    cpu: (Option<Duration>, Option<Duration>),
    fsync_p50: Duration,
    synchronous: Synchronous,
    lanes: usize,
) -> CycleResult {
    let mut cycles = lane.cycles.clone();
    cycles.sort();
    let pick = |q: f64| {
        cycles
            .get(((cycles.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    let busy: Duration = cycles.iter().sum();
    CycleResult {
        jobs: lane.done,
        jobs_per_sec: lane.done as f64 / busy.as_secs_f64().max(1e-9),
        p50: pick(0.5),
        p99: pick(0.99),
        max: pick(1.0),
        transactions: stats.1.transactions - stats.0.transactions,
        commands: stats.1.commands - stats.0.commands,
        cpu: cpu.0,
        writer_cpu: cpu.1,
        fsync_p50,
        synchronous,
        lanes,
    }
}

/// The empty and the big table, cycle by cycle in alternation, so that both see the same
/// disk: the fsync cost of this VM changes by 30x within seconds when neighbours work.
/// Each table's rate is its jobs over the time spent in its own cycles.
fn measure_paired(
    small: &Path,
    big: &Path,
    jobs: usize,
    dir: &Path,
) -> BoxResult<(CycleResult, CycleResult)> {
    let empty_store = open(small)?;
    let big_store = open(big)?;
    empty_store.recover(RecoveryMode::WorkersDead).wait()?;
    big_store.recover(RecoveryMode::WorkersDead).wait()?;
    let fsync_p50 = fsync_probe(dir)?;
    let target = jobs - jobs % K;
    let before = (empty_store.writer_stats(), big_store.writer_stats());
    let mut empty_lane = Lane::new(&empty_store, target)?;
    let mut big_lane = Lane::new(&big_store, target)?;
    while !(empty_lane.finished() && big_lane.finished()) {
        if !empty_lane.finished() {
            empty_lane.step()?;
        }
        if !big_lane.finished() {
            big_lane.step()?;
        }
    }
    let empty = cycle_result(
        &empty_lane,
        (before.0, empty_store.writer_stats()),
        (None, None),
        fsync_p50,
        Synchronous::Full,
        1,
    );
    let loaded = cycle_result(
        &big_lane,
        (before.1, big_store.writer_stats()),
        (None, None),
        fsync_p50,
        Synchronous::Full,
        1,
    );
    drop((empty_lane, big_lane));
    empty_store.checkpoint(true).wait()?;
    empty_store.close()?;
    big_store.close()?;
    Ok((empty, loaded))
}

/// Runs the dispatcher cycle over `jobs` jobs of the file's working set.
fn measure(
    path: &Path,
    jobs: usize,
    synchronous: Synchronous,
    lanes: usize,
    dir: &Path,
) -> BoxResult<CycleResult> {
    let store = SqliteStore::open(
        path,
        StoreOptions {
            synchronous,
            ..StoreOptions::default()
        },
    )?;
    store.recover(RecoveryMode::WorkersDead).wait()?;
    let fsync_p50 = fsync_probe(dir)?;
    let before = store.writer_stats();
    let cpu_before = process_cpu();
    let writer_before = writer_cpu();
    let per_lane = (jobs / lanes) - (jobs / lanes) % K;
    let started = Instant::now();
    let finished: Vec<Result<Lane<'_>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..lanes)
            .map(|_| {
                scope.spawn(|| {
                    let mut lane = Lane::new(&store, per_lane)?;
                    while !lane.finished() {
                        lane.step()?;
                    }
                    Ok(lane)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err("dispatcher lane panicked".into()))
            })
            .collect()
    });
    let cpu = process_cpu().saturating_sub(cpu_before);
    let writer_cpu = writer_cpu().saturating_sub(writer_before);
    let after = store.writer_stats();
    // Lanes ran in parallel: merge them into one lane-shaped summary over wall time.
    let mut merged = Lane {
        store: &store,
        claimed: Vec::new(),
        target: 0,
        done: 0,
        cycles: Vec::new(),
    };
    for lane in finished {
        let lane = lane?;
        merged.done += lane.done;
        merged.cycles.extend(lane.cycles);
    }
    let wall = started.elapsed();
    let mut result = cycle_result(
        &merged,
        (before, after),
        (Some(cpu), Some(writer_cpu)),
        fsync_p50,
        synchronous,
        lanes,
    );
    result.jobs_per_sec = merged.done as f64 / wall.as_secs_f64();
    drop(merged);
    store.checkpoint(true).wait()?;
    store.close()?;
    Ok(result)
}

/// One dispatcher: claim K; then, in one write batch (one transaction), the K
/// completions plus the next claim.
struct Lane<'a> {
    store: &'a SqliteStore,
    claimed: Vec<ClaimedJob>,
    target: usize,
    done: usize,
    cycles: Vec<Duration>,
}

impl<'a> Lane<'a> {
    fn new(store: &'a SqliteStore, target: usize) -> Result<Self, String> {
        let claimed = store
            .claim_batch(K)
            .wait()
            .map_err(|err| err.to_string())?
            .jobs;
        Ok(Lane {
            store,
            claimed,
            target,
            done: 0,
            cycles: Vec::with_capacity(target / K + 1),
        })
    }

    fn finished(&self) -> bool {
        self.done >= self.target || self.claimed.is_empty()
    }

    fn step(&mut self) -> Result<(), String> {
        let cycle_started = Instant::now();
        let mut batch = self.store.batch();
        let completions: Vec<_> = self
            .claimed
            .iter()
            .map(|job| {
                batch.complete(Completion {
                    attempt: job.attempt_ref(),
                    result: Some("{\"ok\":true,\"ms\":12}".into()),
                    report: AttemptReport {
                        worker_pid: Some(4242),
                        ..AttemptReport::default()
                    },
                    effects: Default::default(),
                })
            })
            .collect();
        let want_more = self.done + self.claimed.len() < self.target;
        let next = want_more.then(|| batch.claim_batch(K));
        batch.send();
        for reply in completions {
            if !reply.wait().map_err(|err| err.to_string())?.is_applied() {
                return Err("a benchmark completion was fenced".into());
            }
        }
        self.done += self.claimed.len();
        self.claimed = match next {
            Some(next) => next.wait().map_err(|err| err.to_string())?.jobs,
            None => Vec::new(),
        };
        self.cycles.push(cycle_started.elapsed());
        Ok(())
    }
}

fn big_file_extras(path: &Path) -> BoxResult<()> {
    let store = open(path)?;
    println!();
    println!("## claim query plan (EXPLAIN QUERY PLAN)");
    println!("```");
    for line in store.explain_claim()? {
        println!("{line}");
    }
    println!("```");
    let started = Instant::now();
    let counts = store.counts()?;
    let elapsed = started.elapsed();
    let total: u64 = counts
        .queues
        .iter()
        .map(|queue| {
            JobState::ALL
                .iter()
                .map(|state| queue.get(*state))
                .sum::<u64>()
        })
        .sum();
    println!();
    println!("## other operations on the big file ({total} rows)");
    println!(
        "- counts() for status (full scan on the read-only connection): {:.0} ms",
        elapsed.as_secs_f64() * 1e3
    );
    let started = Instant::now();
    let report = store.prune_blocking(Retention {
        completed: Duration::ZERO,
        failed: Duration::ZERO,
    })?;
    let elapsed = started.elapsed();
    println!(
        "- prune of {} finished rows ({} transactions of <= 500 rows, FULL): {:.1} s, {:.0} rows/s, {:.2} ms per transaction",
        report.deleted,
        report.transactions,
        elapsed.as_secs_f64(),
        report.deleted as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / report.transactions.max(1) as f64
    );
    store.close()?;
    Ok(())
}

/// Bytes that `rows` finished jobs add to a fresh store file.
fn finished_size(path: &Path, rows: u64) -> BoxResult<u64> {
    let base = new_store(path)?;
    prefill(
        path,
        &Prefill {
            script: "bench".into(),
            queue: "default".into(),
            payload: PAYLOAD.into(),
            finished: rows,
            pending: 0,
            pending_priority: 0,
            now_ms: SystemClock.now_ms(),
        },
    )?;
    Ok(file_bytes(path).saturating_sub(base))
}
