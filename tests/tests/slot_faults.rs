//! Worker slots under fire: workers SIGKILLed from outside while idle, while a job is on
//! its way to them, and at random while thousands of short jobs run. Every job must end
//! `completed`, and every slot must come back to serve: no job stuck `running`, no slot
//! lost.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{EnqueueJob, Request, Response, WorkerState};
use jobvisor_protocol::{BlockingTransport, Role};
use jobvisor_tests::daemon::{Daemon, job};

const ECHO: &str = "export default (p) => p;";
const TWENTY_MS: &str =
    "export default async (p) => { await new Promise((r) => setTimeout(r, 20)); return p; };";
/// Jobs killed with their worker are retried at once, and may be killed several times.
const FAST_RETRY: &str = "workers = 2\nretry_backoff_base = \"1ms\"\nretry_backoff_max = \"5ms\"";

/// A small xorshift generator: the fault timings vary from run to run, and the seed is
/// printed so a failure can be replayed.
struct Jitter(u64);

impl Jitter {
    fn from_env() -> Jitter {
        let seed = std::env::var("SLOT_FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("seed {seed} (set SLOT_FAULTS_SEED to replay)");
        Jitter(seed | 1)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low + 1)
    }
}

fn with_attempts(mut job: EnqueueJob, attempts: u32) -> EnqueueJob {
    job.max_attempts = Some(attempts);
    job
}

/// Waits until every slot is idle, holds no job, and has a live worker; returns the pids.
fn wait_all_idle(daemon: &Daemon, what: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    daemon.wait_for(what, Duration::from_secs(20), || {
        let status = daemon.status();
        pids = status.workers.iter().filter_map(|w| w.pid).collect();
        status
            .workers
            .iter()
            .all(|w| w.state == WorkerState::Idle && w.job.is_none() && w.pid.is_some())
    });
    pids
}

fn sigkill(pid: u32) {
    // SAFETY: kill(2) on a worker of the daemon under test; a pid that already died is
    // answered with ESRCH, which is fine here.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
}

/// The number of jobs, and the attempts counted by outcome (`completed: 300, ...`).
fn attempt_totals(daemon: &Daemon) -> (i64, String) {
    let db = daemon.db();
    let jobs: i64 = db
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .expect("count jobs");
    let mut stmt = db
        .prepare("SELECT outcome, count(*) FROM attempts GROUP BY outcome ORDER BY 2 DESC")
        .expect("prepare");
    let outcomes: Vec<String> = stmt
        .query_map([], |r| {
            Ok(format!(
                "{}: {}",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?
            ))
        })
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    (jobs, outcomes.join(", "))
}

/// The race of a job sent to an idle worker that dies before it reads it: three jobs
/// enqueued on one connection, both idle workers SIGKILLed 0–6 ms later, 100 times. The
/// jobs must all complete, and both slots must be idle with a new worker after each
/// round.
#[test]
fn jobs_sent_to_workers_killed_while_idle_go_back_to_the_queue() {
    const ROUNDS: usize = 100;
    let mut daemon = Daemon::start(FAST_RETRY, &[("echo", ECHO)]);
    let mut jitter = Jitter::from_env();
    let stream = UnixStream::connect(daemon.socket()).expect("connect");
    let mut control = BlockingTransport::new(stream);
    control
        .handshake(Role::Client, Role::Supervisor)
        .expect("handshake");
    let started = Instant::now();
    let mut all = Vec::new();
    for round in 0..ROUNDS {
        let pids = wait_all_idle(&daemon, &format!("both workers idle before round {round}"));
        let ids: Vec<i64> = (0..3)
            .map(|n| {
                let payload = format!("{{\"round\":{round},\"n\":{n}}}");
                let request = Request::Enqueue(with_attempts(job("echo", &payload), 10));
                control.send(&request).expect("send");
                match control.recv::<Response>().expect("recv") {
                    Some(Response::Enqueued { id, .. }) => id,
                    other => panic!("enqueue: {other:?}"),
                }
            })
            .collect();
        // The fault's timing, not a wait for a condition.
        std::thread::sleep(Duration::from_micros(jitter.between(0, 6000)));
        for &pid in &pids {
            sigkill(pid);
        }
        daemon.wait_for(
            &format!("round {round}: jobs {ids:?} completed"),
            Duration::from_secs(20),
            || ids.iter().all(|&id| daemon.job_state(id) == "completed"),
        );
        all.extend(ids);
    }
    wait_all_idle(&daemon, "both workers idle after the last round");
    let took = started.elapsed();
    let (jobs, attempts) = attempt_totals(&daemon);
    println!(
        "idle-kill race: {ROUNDS} rounds, {jobs} jobs completed in {took:.1?}; attempts {attempts}"
    );
    daemon.stop();
    daemon.assert_invariants(&all);
}

/// 3,000 jobs of 20 ms on 2 workers; a worker SIGKILLed every 10–30 ms, 50 times. Every
/// job completes and both slots serve at the end.
#[test]
fn a_kill_storm_loses_no_job_and_no_slot() {
    const JOBS: usize = 3000;
    const KILLS: usize = 50;
    let mut daemon = Daemon::start(FAST_RETRY, &[("tick", TWENTY_MS)]);
    let mut jitter = Jitter::from_env();
    let started = Instant::now();
    let ids =
        daemon.enqueue_many((0..JOBS).map(|n| with_attempts(job("tick", &n.to_string()), 50)));
    let mut killed = 0;
    for _ in 0..KILLS {
        let pids = daemon.worker_pids();
        if let Some(&pid) = pids.get(jitter.between(0, 1) as usize % pids.len().max(1)) {
            sigkill(pid);
            killed += 1;
        }
        // The fault's timing, not a wait for a condition.
        std::thread::sleep(Duration::from_millis(jitter.between(10, 30)));
    }
    daemon.wait_for(
        "every job of the storm completed",
        Duration::from_secs(240),
        || daemon.count_in_state("completed") == JOBS as i64,
    );
    wait_all_idle(&daemon, "both workers idle after the storm");
    let took = started.elapsed();
    let (jobs, attempts) = attempt_totals(&daemon);
    println!(
        "kill storm: {jobs} jobs completed, {killed} SIGKILLs in {took:.1?}; attempts {attempts}"
    );
    daemon.stop();
    let states = daemon.assert_invariants(&ids);
    assert_eq!(states.get("completed"), Some(&JOBS), "{states:?}");
}

/// A stall of the supervisor itself is not the jobs' fault: the daemon is stopped
/// (SIGSTOP) for longer than the job timeout while two 300 ms jobs run; their results wait
/// in the sockets, and after SIGCONT both are `completed` on their first attempt.
#[test]
fn jobs_that_finish_while_the_supervisor_is_stopped_are_completed() {
    const SHORT: &str =
        "export default async (p) => { await new Promise((r) => setTimeout(r, 300)); return p; };";
    let mut daemon = Daemon::start("workers = 2\njob_timeout = \"2s\"", &[("short", SHORT)]);
    wait_all_idle(&daemon, "both workers idle");
    let ids = daemon.enqueue_many([job("short", "1"), job("short", "2")]);
    daemon.wait_for("both jobs running", Duration::from_secs(10), || {
        daemon.busy_workers() == 2
    });
    daemon.signal(libc::SIGSTOP);
    // The stall itself: longer than the timeout and its kill grace.
    std::thread::sleep(Duration::from_secs(4));
    daemon.signal(libc::SIGCONT);
    daemon.wait_for("both jobs final", Duration::from_secs(20), || {
        ids.iter().all(|&id| daemon.job_state(id) != "running")
    });
    for &id in &ids {
        assert_eq!(
            daemon.attempts(id),
            vec![(1, "completed".to_owned())],
            "job {id}\n{}",
            daemon.log_text()
        );
    }
    daemon.stop();
    daemon.assert_invariants(&ids);
}

/// (outcome, peak memory) of each attempt of a job.
fn attempt_peaks(daemon: &Daemon, id: i64) -> Vec<(String, Option<i64>)> {
    let db = daemon.db();
    let mut stmt = db
        .prepare("SELECT outcome, peak_memory_bytes FROM attempts WHERE job_id = ?1 ORDER BY id")
        .expect("prepare");
    stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

const MIB: i64 = 1024 * 1024;

/// Peak memory is the attempt's own, measured the same way whatever its end (cgroup v1 on
/// this host): after an attempt killed at the 128 MiB limit, the next attempt on the same
/// slot killed at its deadline reports what it used, not the old limit; and an attempt
/// that completes after one that held more than 40 MiB reports its own use, not the worker's
/// lifetime high.
#[test]
fn peak_memory_is_each_attempts_own_after_an_oom_and_a_big_job() {
    if !jobvisor_tests::memory_cgroup_available(
        "peak_memory_is_each_attempts_own_after_an_oom_and_a_big_job",
    ) {
        return;
    }
    let mut daemon = Daemon::start(
        "workers = 1\nmemory_limit = \"128MiB\"\nmemory_limiter = \"cgroup\"\njob_timeout = \"30s\"",
        &[
            (
                "bomb",
                "export default () => { let s = 'x'; const keep = []; while (true) { s = s + s; keep.push(s) } }",
            ),
            ("spin", "export default () => { while (true) {} }"),
            (
                "big",
                "export default () => { const s = 'x'.repeat(2 * 1024 * 1024); return s.length; }",
            ),
            ("small", ECHO),
        ],
    );
    let bomb = daemon.enqueue(with_attempts(job("bomb", "{}"), 1));
    let mut spin = with_attempts(job("spin", "{}"), 1);
    spin.timeout_ms = Some(1000);
    let spin = daemon.enqueue(spin);
    let big = daemon.enqueue(job("big", "{}"));
    let small = daemon.enqueue(job("small", "{}"));
    let ids = [bomb, spin, big, small];
    daemon.wait_for("all four jobs final", Duration::from_secs(60), || {
        ids.iter()
            .all(|&id| matches!(daemon.job_state(id).as_str(), "completed" | "discarded"))
    });
    let peaks: Vec<_> = ids.iter().map(|&id| attempt_peaks(&daemon, id)).collect();
    println!("peaks (bomb, spin, big, small): {peaks:?}");
    let only = |i: usize, outcome: &str| -> i64 {
        let [(got, peak)] = peaks[i].as_slice() else {
            panic!("one attempt expected: {:?}", peaks[i]);
        };
        assert_eq!(got, outcome, "{peaks:?}");
        peak.unwrap_or_else(|| panic!("attempt {i} has no peak: {peaks:?}"))
    };
    let bomb_peak = only(0, "oom");
    let spin_peak = only(1, "timeout");
    let big_peak = only(2, "completed");
    let small_peak = only(3, "completed");
    assert!(
        bomb_peak > 100 * MIB,
        "the bomb reached the limit: {bomb_peak}"
    );
    assert!(
        spin_peak < 64 * MIB,
        "the attempt after the OOM reports its own peak, not the old limit: {spin_peak}"
    );
    assert!(big_peak > 40 * MIB, "the big job's peak: {big_peak}");
    assert!(
        small_peak < big_peak - 16 * MIB,
        "a completed attempt reports its own peak, not the worker's high: {small_peak} after {big_peak}"
    );
    daemon.stop();
    daemon.assert_invariants(&ids);
}

/// `jobvisor jobs show <id>` (with `--json` when `json`), through the CLI.
fn jobs_show(daemon: &Daemon, id: i64, json: bool) -> String {
    let mut command = jobvisor_tests::jobvisor();
    command
        .args(["jobs", "show", &id.to_string()])
        .arg("--config")
        .arg(&daemon.config);
    if json {
        command.arg("--json");
    }
    let out = command.output().expect("run jobvisor jobs show");
    assert!(
        out.status.success(),
        "jobs show {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The error (name, message) of a job's only attempt, from `jobs show --json`.
fn only_attempt_error(daemon: &Daemon, id: i64) -> (String, String) {
    let shown: serde_json::Value =
        serde_json::from_str(&jobs_show(daemon, id, true)).expect("jobs show --json");
    let attempts = shown["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "job {id}: {shown}");
    let error = &attempts[0]["error"];
    (
        error["name"].as_str().unwrap_or_default().to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Waits until a worker runs `id`; returns that worker's pid.
fn worker_running(daemon: &Daemon, id: i64) -> u32 {
    let mut pid = 0;
    daemon.wait_for(
        &format!("job {id} running"),
        Duration::from_secs(20),
        || {
            let status = daemon.status();
            match status.workers.iter().find(|w| w.job == Some(id)) {
                Some(w) => {
                    pid = w.pid.unwrap_or(0);
                    pid != 0
                }
                None => false,
            }
        },
    );
    pid
}

/// Failures the supervisor observes say what happened, with the numbers: a real timeout
/// (the timeout and the signal jobvisor sent), a real cgroup OOM (the limit and the peak),
/// a real SIGKILL from outside, and an operator's cancel.
#[test]
fn supervisor_observed_failures_say_what_happened_with_the_numbers() {
    if !jobvisor_tests::memory_cgroup_available(
        "supervisor_observed_failures_say_what_happened_with_the_numbers",
    ) {
        return;
    }
    let mut daemon = Daemon::start(
        "workers = 2\nmemory_limit = \"128MiB\"\nmemory_limiter = \"cgroup\"\njob_timeout = \"30s\"",
        &[
            (
                "bomb",
                "export default () => { let s = 'x'; const keep = []; while (true) { s = s + s; keep.push(s) } }",
            ),
            ("spin", "export default () => { while (true) {} }"),
        ],
    );
    let once = |script: &str| with_attempts(job(script, "{}"), 1);
    let mut timeout = once("spin");
    timeout.timeout_ms = Some(1000);
    let timeout = daemon.enqueue(timeout);
    let oom = daemon.enqueue(once("bomb"));
    let final_state = |id: i64| {
        let state = daemon.job_state(id);
        matches!(state.as_str(), "discarded" | "cancelled" | "completed")
    };
    daemon.wait_for("the timeout and the OOM", Duration::from_secs(60), || {
        final_state(timeout) && final_state(oom)
    });
    let outside = daemon.enqueue(once("spin"));
    sigkill(worker_running(&daemon, outside));
    let cancelled = daemon.enqueue(once("spin"));
    worker_running(&daemon, cancelled);
    match daemon.request(&Request::CancelJob { id: cancelled }) {
        Response::Cancelled { .. } => {}
        other => panic!("cancel: {other:?}"),
    }
    daemon.wait_for("the kill and the cancel", Duration::from_secs(30), || {
        final_state(outside) && final_state(cancelled)
    });
    let expected = [
        (
            timeout,
            "TimeoutError",
            vec![
                "timeout of 1s",
                "jobvisor's deadline",
                "SIGKILL",
                "peak memory",
            ],
        ),
        (
            oom,
            "OutOfMemory",
            vec!["limit of 128MiB (cgroup v1)", "peak memory 12"],
        ),
        (
            outside,
            "Killed",
            vec!["SIGKILL from outside jobvisor", "peak memory"],
        ),
        (
            cancelled,
            "Cancelled",
            vec!["an operator cancelled the job", "SIGKILL"],
        ),
    ];
    for (id, name, words) in expected {
        let (got_name, message) = only_attempt_error(&daemon, id);
        println!("job {id}: {got_name}: {message}");
        assert_eq!(got_name, name, "job {id}: {message}");
        for word in words {
            assert!(
                message.contains(word),
                "job {id}: {word:?} not in {message:?}"
            );
        }
        let text = jobs_show(&daemon, id, false);
        assert!(
            text.contains(&format!("error: {name}: {message}")),
            "job {id}: the text view shows the same wording:\n{text}"
        );
    }
    daemon.stop();
    daemon.assert_invariants(&[timeout, oom, outside, cancelled]);
}
