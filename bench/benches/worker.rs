//! Worker micro-benchmark: a real `jobvisor-worker` process over its real socketpair.
//!
//! Measures, as medians over many samples:
//! - start → ready: spawn, handshake, engine warm-up, `Ready` received;
//! - warm round trip: `Run` sent → `Done` received, trivial handler, isolation=script;
//! - fresh-context round trip: the same with isolation=job (a new context per job);
//! - a worker's memory (RSS, USS, PSS) when ready and after the jobs.
//!
//! Run: `cargo build --release -p jobvisor-worker && cargo bench -p jobvisor-bench --bench worker`

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jobvisor_protocol::worker::{
    FromWorker, Isolation, JobLimits, Outcome, RunJob, ScriptRef, ToWorker,
};
use jobvisor_protocol::{BlockingTransport, Role};
use jobvisor_supervisor::cgroup::{GroupLimits, Limiter, LimiterChoice};
use jobvisor_supervisor::pool::spawn::{SpawnSpec, spawn_worker};

const TRIVIAL: &str = "export default (p) => ({ sum: p.a + p.b })";

fn worker_program() -> PathBuf {
    if let Some(path) = std::env::var_os("JOBVISOR_WORKER") {
        return PathBuf::from(path);
    }
    jobvisor_tests::bin_dir().join("jobvisor-worker")
}

struct Worker {
    child: std::process::Child,
    transport: BlockingTransport<UnixStream>,
    group: jobvisor_supervisor::cgroup::WorkerGroup,
}

fn start(limiter: &Limiter, slot: usize) -> (Worker, Duration) {
    let group = limiter
        .create_group(
            &format!("jobvisor-bench-{}-{slot}", std::process::id()),
            GroupLimits {
                memory_bytes: 256 << 20,
                max_pids: 64,
            },
        )
        .expect("group");
    let spec = SpawnSpec {
        program: worker_program(),
        self_limit_bytes: (!group.enforces_memory()).then_some(256 << 20),
    };
    let started = Instant::now();
    let spawned = spawn_worker(&spec, &group).expect("spawn");
    let mut transport = BlockingTransport::new(spawned.socket);
    transport
        .handshake(Role::Supervisor, Role::Worker)
        .expect("handshake");
    match transport.recv::<FromWorker>().expect("ready") {
        Some(FromWorker::Ready { .. }) => {}
        other => panic!("expected Ready, got {other:?}"),
    }
    let elapsed = started.elapsed();
    (
        Worker {
            child: spawned.child,
            transport,
            group,
        },
        elapsed,
    )
}

impl Worker {
    fn round_trip(&mut self, id: i64, isolation: Isolation, send_source: bool) -> Duration {
        let job = RunJob {
            job_id: id,
            attempt: 1,
            max_attempts: 1,
            queue: "default".into(),
            script: ScriptRef {
                name: "trivial".into(),
                hash: "trivial-v1".into(),
                source: send_source.then(|| TRIVIAL.to_owned()),
                node_compat: false,
            },
            payload: r#"{"a":1,"b":2}"#.into(),
            deadline_ms: 10_000,
            signal_margin_ms: 0,
            limits: JobLimits::default(),
            isolation,
        };
        let started = Instant::now();
        self.transport.send(&ToWorker::Run(job)).expect("send");
        loop {
            match self.transport.recv::<FromWorker>().expect("recv") {
                Some(FromWorker::Done {
                    outcome: Outcome::Ok { .. },
                    ..
                }) => return started.elapsed(),
                Some(FromWorker::Done { outcome, .. }) => panic!("job failed: {outcome:?}"),
                Some(_) => {}
                None => {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = self.child.stderr.take() {
                        use std::io::Read;
                        let _ = pipe.read_to_string(&mut stderr);
                    }
                    panic!("worker closed: {:?}; stderr: {stderr}", self.child.wait());
                }
            }
        }
    }

    fn stop(mut self) {
        let _ = self.transport.send(&ToWorker::Shutdown);
        let _ = self.child.wait();
        let _ = self.group.remove();
    }
}

/// A process's memory from `/proc/PID/smaps_rollup`, in KiB.
///
/// RSS counts every resident page, the pages of the binary shared with other workers
/// included; the worker's own memory is its private pages (USS: clean + dirty) and its
/// proportional share of the shared ones (PSS). The engine's locale and time-zone data
/// sit in the binary, file-backed: resident where touched, and shared between workers.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss: u64,
    pss: u64,
    private_clean: u64,
    private_dirty: u64,
}

impl Memory {
    fn of(pid: u32) -> Memory {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Memory {
            rss: field("Rss"),
            pss: field("Pss"),
            private_clean: field("Private_Clean"),
            private_dirty: field("Private_Dirty"),
        }
    }

    fn uss(&self) -> u64 {
        self.private_clean + self.private_dirty
    }

    fn line(&self) -> String {
        format!(
            "RSS {} KiB, USS {} KiB (private clean {} + private dirty {}), PSS {} KiB",
            self.rss,
            self.uss(),
            self.private_clean,
            self.private_dirty,
            self.pss
        )
    }
}

struct Summary {
    median: Duration,
    p90: Duration,
    p99: Duration,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Summary {
        median: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let limiter = Limiter::detect(LimiterChoice::Auto).expect("limiter");
    println!("limiter: {}", limiter.describe());
    println!("worker: {}", worker_program().display());

    let mut starts = Vec::new();
    for slot in 0..40 {
        let (worker, elapsed) = start(&limiter, slot);
        starts.push(elapsed);
        worker.stop();
    }
    let start_summary = summarize(starts);

    let (mut worker, _) = start(&limiter, 100);
    let ready_alone = Memory::of(worker.child.id());
    // As in a pool: a second idle worker shares the binary's pages with the first.
    let (neighbour, _) = start(&limiter, 101);
    let ready_beside = Memory::of(worker.child.id());
    neighbour.stop();
    worker.round_trip(0, Isolation::Script, true);
    for id in 1..2_000 {
        worker.round_trip(id, Isolation::Script, false);
    }
    let warm: Vec<Duration> = (0..20_000)
        .map(|i| worker.round_trip(10_000 + i, Isolation::Script, false))
        .collect();
    let warm_total: Duration = warm.iter().sum();
    let warm_summary = summarize(warm);
    let fresh: Vec<Duration> = (0..2_000)
        .map(|i| worker.round_trip(100_000 + i, Isolation::Job, false))
        .collect();
    let fresh_summary = summarize(fresh);
    let after = Memory::of(worker.child.id());
    worker.stop();

    println!();
    println!("| measurement | samples | median | p90 | p99 | target |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| worker start → ready | 40 | {} | {} | {} | ≤ 20 ms |",
        us(start_summary.median),
        us(start_summary.p90),
        us(start_summary.p99)
    );
    println!(
        "| warm round trip (isolation=script) | 20000 | {} | {} | {} | ≤ 50 µs |",
        us(warm_summary.median),
        us(warm_summary.p90),
        us(warm_summary.p99)
    );
    println!(
        "| fresh-context round trip (isolation=job) | 2000 | {} | {} | {} | ≤ 500 µs |",
        us(fresh_summary.median),
        us(fresh_summary.p90),
        us(fresh_summary.p99)
    );
    println!();
    println!(
        "warm sequential throughput, one worker: {:.0} jobs/s",
        20_000.0 / warm_total.as_secs_f64()
    );
    println!(
        "worker memory when ready (idle, no job yet), alone: {}",
        ready_alone.line()
    );
    println!(
        "worker memory when ready, beside a second ready worker: {}",
        ready_beside.line()
    );
    println!("worker memory after 24,000 jobs: {}", after.line());
}
