//! Fault injection against the real daemon: crashes at every state transition
//! (failpoints, a real SIGKILL of the process), random SIGKILL chaos, disk full, a
//! database locked by another process, corrupt database files. Every scenario ends with
//! the invariant checker (`Daemon::assert_invariants`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{EnqueueJob, WorkerState};
use jobvisor_tests::config::ConfigBuilder;
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::fixture;
use jobvisor_tests::store_view::{JobFilter, JobState, OutcomeKind};

/// `workers` workers with the script `echo` (it returns its job id and payload).
fn echo_workers(workers: u32) -> ConfigBuilder {
    ConfigBuilder::new()
        .workers(workers)
        .script("echo", &fixture::job("echo-with-id"))
}

/// A job claimed a little after its enqueue is acknowledged: an enqueue and a claim can
/// share a transaction, and a crash in it would take the unacknowledged enqueue along.
fn later(mut job: EnqueueJob) -> EnqueueJob {
    job.delay_ms = Some(300);
    job
}

/// (attempt, state) of a job.
fn job_row(daemon: &Daemon, id: i64) -> (u32, JobState) {
    let job = daemon.store().job(id).job;
    (job.attempt, job.state)
}

/// Waits for the daemon to die of the failpoint's SIGKILL, then for its workers to
/// follow it (PDEATHSIG): no process may be left in its worker groups.
fn wait_for_crash(daemon: &mut Daemon, what: &str) {
    let code = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(code, None, "{what}: the daemon must die by a signal");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = daemon.processes_in_worker_cgroups();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: workers outlived the supervisor: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_completed(daemon: &Daemon, ids: &[i64], within: Duration) {
    daemon.wait_for("every job completed", within, || {
        ids.iter()
            .all(|&id| daemon.job_state(id) == JobState::Completed)
    });
}

/// A crash at `point` with one job in flight, then a restart: where the job stands in
/// between, and how its attempts end.
fn crash_at(point: &str) -> (Daemon, i64, (u32, JobState)) {
    let mut daemon = Daemon::prepare_with(echo_workers(1));
    daemon.launch_with(&[("JOBVISOR_FAILPOINT", &format!("{point}=sigkill"))]);
    let id = daemon.enqueue(later(job("echo", r#"{"n":1}"#)));
    wait_for_crash(&mut daemon, point);
    let between = job_row(&daemon, id);
    if let Err(err) = daemon.store().sqlite_quick_check() {
        panic!("{point}: SQLite's quick_check after the crash: {err}");
    }
    daemon.launch();
    wait_completed(&daemon, &[id], Duration::from_secs(20));
    daemon.stop();
    daemon.assert_invariants(&[id]);
    (daemon, id, between)
}

#[test]
fn a_crash_inside_the_claim_transaction_rolls_the_claim_back() {
    let (daemon, id, between) = crash_at("claim-before-commit");
    // Promotion of the delayed job and its claim were one transaction: both rolled back.
    assert_eq!(between, (0, JobState::Scheduled), "the claim rolled back");
    assert_eq!(
        daemon.attempts(id),
        vec![(1, OutcomeKind::Completed)],
        "the job ran once, as its first attempt"
    );
}

#[test]
fn a_crash_after_the_claim_commit_requeues_the_job_at_restart() {
    for point in ["claim-after-commit", "after-dispatch"] {
        let (daemon, id, between) = crash_at(point);
        assert_eq!(between, (1, JobState::Running), "{point}");
        assert_eq!(job_row(&daemon, id), (1, JobState::Completed), "{point}");
        assert_eq!(
            daemon.attempts(id),
            vec![
                (1, OutcomeKind::SupervisorRestart),
                (1, OutcomeKind::Completed)
            ],
            "{point}: the interrupted attempt is recorded and refunded, the job completes once"
        );
    }
}

#[test]
fn a_crash_between_the_result_and_its_commit_runs_the_job_again() {
    for point in ["result-before-commit", "complete-before-commit"] {
        let (daemon, id, between) = crash_at(point);
        assert_eq!(
            between,
            (1, JobState::Running),
            "{point}: the uncommitted result is lost, the job is still running"
        );
        assert_eq!(
            daemon.attempts(id),
            vec![
                (1, OutcomeKind::SupervisorRestart),
                (1, OutcomeKind::Completed)
            ],
            "{point}: at least once: a second execution, one committed completion"
        );
    }
}

#[test]
fn a_crash_in_the_middle_of_startup_recovery_is_recovered_by_the_next_start() {
    let mut daemon = Daemon::prepare_with(ConfigBuilder::new().workers(2).fixture_script("slow"));
    // Two jobs in flight when the first process dies.
    daemon.launch_with(&[("JOBVISOR_FAILPOINT", "after-dispatch@2=sigkill")]);
    let ids = daemon.enqueue_many([later(job("slow", "1")), later(job("slow", "2"))]);
    wait_for_crash(&mut daemon, "after-dispatch@2");
    assert_eq!(daemon.count_in_state(JobState::Running), 2);
    // The second process dies after releasing the first of them, before its COMMIT.
    daemon
        .launch_until_death(
            &[("JOBVISOR_FAILPOINT", "recovery-mid=sigkill")],
            Duration::from_secs(30),
        )
        .expect("died of the failpoint");
    assert_eq!(
        daemon.count_in_state(JobState::Running),
        2,
        "the interrupted recovery rolled back as a whole"
    );
    daemon.launch();
    wait_completed(&daemon, &ids, Duration::from_secs(20));
    daemon.stop();
    daemon.assert_invariants(&ids);
    for id in ids {
        assert_eq!(
            daemon.attempts(id),
            vec![
                (1, OutcomeKind::SupervisorRestart),
                (1, OutcomeKind::Completed)
            ]
        );
    }
}

#[test]
fn an_acknowledged_enqueue_survives_a_sigkill_right_after_the_answer() {
    let mut daemon = Daemon::start_with(echo_workers(1));
    let synchronous: i64 = daemon
        .sqlite_connection_for_sqlite_specific_checks()
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("synchronous");
    assert_eq!(synchronous, 2, "FULL by default");
    let id = daemon.enqueue(job("echo", "{}"));
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let (_, state) = job_row(&daemon, id);
    assert!(
        matches!(state.as_str(), "available" | "running" | "completed"),
        "{state}"
    );
    daemon.launch();
    wait_completed(&daemon, &[id], Duration::from_secs(20));
    daemon.stop();
    daemon.assert_invariants(&[id]);
}

/// 2,000 jobs, 4 workers, the supervisor SIGKILLed at random 30 times and restarted.
#[test]
fn random_sigkill_chaos_loses_no_job_and_leaves_nothing_behind() {
    const JOBS: usize = 2000;
    const KILLS: usize = 30;
    let mut daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(4)
            .retry_backoff("10ms", "50ms")
            .max_attempts(50)
            .fixture_script("tick"),
    );
    // 15 ms each: 2,000 jobs keep 4 workers busy for about 8 s, while the kills happen.
    let ids = daemon.enqueue_many((0..JOBS).map(|n| job("tick", &n.to_string())));
    // A small deterministic generator: the seed is printed so a failure can be replayed.
    let mut seed: u64 = std::env::var("JOBVISOR_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) * 0x9E37_79B9);
    println!("chaos seed {seed}");
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut recoveries = Vec::new();
    let mut kills = 0;
    let started = Instant::now();
    while kills < KILLS {
        std::thread::sleep(Duration::from_millis(30 + next(250)));
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit(Duration::from_secs(10));
        kills += 1;
        let restarted = Instant::now();
        daemon.launch();
        recoveries.push(restarted.elapsed());
    }
    let kill_phase = started.elapsed();
    let done_before_drain = daemon.count_in_state(JobState::Completed);
    wait_completed(&daemon, &ids, Duration::from_secs(300));
    daemon.stop();
    let states = daemon.assert_invariants(&ids);
    assert_eq!(states, BTreeMap::from([(JobState::Completed, JOBS)]));
    // Executions: every attempt row is one claim that may have run; a completed job's
    // final attempt number can never exceed them.
    let store = daemon.store();
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for info in store.all_jobs(JobFilter::default()) {
        let detail = store.job(info.id.0);
        let attempt = detail.job.attempt;
        let attempts = detail.attempts.len();
        let completions = detail
            .attempts
            .iter()
            .filter(|a| a.outcome == OutcomeKind::Completed)
            .count();
        assert_eq!(completions, 1, "exactly one committed completion per job");
        // Interrupted attempts are refunded: the final attempt number stays 1 however
        // often a crash took the job back; the rows count the claims.
        assert_eq!(attempt, 1, "a supervisor crash used up an attempt");
        *histogram.entry(attempts).or_insert(0) += 1;
    }
    recoveries.sort();
    let median = recoveries[recoveries.len() / 2];
    let worst = recoveries[recoveries.len() - 1];
    let repeated: usize = histogram
        .iter()
        .filter(|(claims, _)| **claims > 1)
        .map(|(_, n)| n)
        .sum();
    println!(
        "chaos: {JOBS} jobs, {kills} SIGKILLs in {:.1?}, {done_before_drain} completed before the last restart; \
         jobs claimed more than once: {repeated}; claims per job {histogram:?}; \
         restart to ready: median {median:.0?}, worst {worst:.0?}; all completed after {:.1?}",
        kill_phase,
        started.elapsed()
    );
}

/// 4 workers in 1.5 s jobs and 96 more queued when SIGTERM arrives: the running ones
/// finish inside the drain window, nothing new starts, the queued ones stay queued with
/// their attempts untouched, and the daemon exits 0; after a restart all complete.
#[test]
fn sigterm_with_100_jobs_in_flight_and_queued_finishes_the_running_and_keeps_the_rest() {
    let mut daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(4)
            .drain_timeout("10s")
            .job_timeout("60s")
            .fixture_script("slow"),
    );
    let ids = daemon.enqueue_many((0..100).map(|n| job("slow", &n.to_string())));
    daemon.wait_for("4 jobs running", Duration::from_secs(20), || {
        daemon.busy_workers() == 4
    });
    let signalled = Instant::now();
    daemon.signal(libc::SIGTERM);
    let code = daemon.wait_exit(Duration::from_secs(30));
    let took = signalled.elapsed();
    assert_eq!(code, Some(0), "{}", daemon.log_text());
    let states = daemon.assert_invariants(&ids);
    println!("drain took {took:.1?}: {states:?}");
    // The drain ends when the running jobs do (1.5 s each), not at the 10 s drain timeout;
    // the margin is for a loaded machine.
    assert!(took < Duration::from_secs(7), "{took:?}");
    assert_eq!(
        states,
        BTreeMap::from([(JobState::Completed, 4), (JobState::Available, 96)])
    );
    let available = JobFilter {
        state: Some(JobState::Available),
        ..JobFilter::default()
    };
    let touched = daemon
        .store()
        .all_jobs(available)
        .iter()
        .filter(|job| job.attempt > 0)
        .count();
    assert_eq!(touched, 0, "a queued job lost an attempt to the drain");
    daemon.launch();
    wait_completed(&daemon, &ids, Duration::from_secs(120));
    daemon.stop();
    daemon.assert_invariants(&ids);
}

/// Under `Type=notify` with a watchdog: READY once, WATCHDOG about every half period
/// from the real event loop, STOPPING on SIGTERM.
#[test]
fn systemd_notifications_ready_watchdog_and_stopping_are_sent() {
    let mut daemon = Daemon::prepare_with(echo_workers(1));
    let path = daemon.dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    daemon.launch_with(&[
        ("NOTIFY_SOCKET", path.to_str().expect("utf-8")),
        ("WATCHDOG_USEC", "1000000"),
    ]);
    let mut messages: Vec<(Duration, String)> = Vec::new();
    let started = Instant::now();
    let mut buf = [0_u8; 4096];
    let mut receive_until = |until: Duration, messages: &mut Vec<(Duration, String)>| {
        while started.elapsed() < until {
            if let Ok(n) = socket.recv(&mut buf) {
                messages.push((
                    started.elapsed(),
                    String::from_utf8_lossy(&buf[..n]).into_owned(),
                ));
            }
        }
    };
    receive_until(Duration::from_millis(3100), &mut messages);
    daemon.signal(libc::SIGTERM);
    receive_until(Duration::from_millis(3600), &mut messages);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    let count = |needle: &str| messages.iter().filter(|(_, m)| m.contains(needle)).count();
    println!("{messages:?}");
    assert_eq!(count("READY=1"), 1, "{messages:?}");
    assert!(
        (4..=8).contains(&count("WATCHDOG=1")),
        "about one ping every 0.5 s for 3 s: {messages:?}"
    );
    assert_eq!(count("STOPPING=1"), 1, "{messages:?}");
}

/// A stopped worker (SIGSTOP) cannot answer; its job's deadline still ends it (SIGKILL
/// works on a stopped process) and a new worker takes over.
#[test]
fn a_stopped_worker_is_killed_at_the_deadline_and_replaced() {
    let mut daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(1)
            .job_timeout("2s")
            .kill_grace("200ms")
            .fixture_script("slow"),
    );
    let mut once = job("slow", "{}");
    once.max_attempts = Some(1);
    let id = daemon.enqueue(once);
    let pid = daemon.wait_job_on_worker(id, Duration::from_secs(10));
    // SAFETY: kill(2) on the daemon's worker.
    unsafe {
        libc::kill(pid as i32, libc::SIGSTOP);
    }
    let stopped = Instant::now();
    daemon.wait_for("the attempt ends", Duration::from_secs(10), || {
        daemon.job_state(id) == JobState::Discarded
    });
    let took = stopped.elapsed();
    println!("stopped worker: attempt ended {took:.1?} after SIGSTOP");
    assert_eq!(daemon.attempts(id), vec![(1, OutcomeKind::Timeout)]);
    assert!(took < Duration::from_secs(3), "{took:?}");
    daemon.wait_for("a new worker", Duration::from_secs(10), || {
        daemon.worker_pids().iter().any(|p| *p != pid)
    });
    daemon.stop();
    daemon.assert_invariants(&[id]);
}

/// 10,000 queued jobs, a clean stop, a start: the new process is up and claiming within
/// a second and stays small (it never loads the queue into memory).
#[test]
fn a_restart_with_10000_queued_jobs_is_quick_and_small() {
    let mut daemon = Daemon::start_with(echo_workers(2));
    daemon.request(&jobvisor_protocol::control::Request::SetQueuePaused {
        queue: "default".to_owned(),
        paused: true,
    });
    let ids = daemon.enqueue_many((0..10_000).map(|n| job("echo", &n.to_string())));
    daemon.stop();
    let started = Instant::now();
    daemon.launch();
    let ready = started.elapsed();
    daemon.request(&jobvisor_protocol::control::Request::SetQueuePaused {
        queue: "default".to_owned(),
        paused: false,
    });
    daemon.wait_for("the first completion", Duration::from_secs(10), || {
        daemon.count_in_state(JobState::Completed) > 0
    });
    let first = started.elapsed();
    let rss_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid()))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    println!(
        "restart with 10,000 queued: answering after {ready:.0?}, first completion after {first:.0?}, daemon VmRSS {} MiB",
        rss_kib / 1024
    );
    assert!(ready < Duration::from_secs(1), "{ready:?}");
    assert!(rss_kib < 50 * 1024, "{rss_kib} KiB");
    wait_completed(&daemon, &ids, Duration::from_secs(120));
    daemon.stop();
    daemon.assert_invariants(&ids);
}

/// SIGHUP does not stop the daemon; a client that hangs up before its answer does not
/// hurt it (SIGPIPE); a payload over the limit or not JSON is refused and nothing is
/// written.
#[test]
fn sighup_a_vanishing_client_and_bad_payloads_leave_the_daemon_whole() {
    use jobvisor_protocol::control::{ErrorCode, Request, Response};
    let mut daemon = Daemon::start_with(echo_workers(1).payload_limit("1MiB"));
    daemon.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(200));
    assert!(daemon.status().workers.len() == 1, "alive after SIGHUP");

    // A client that sends a request and closes without reading the answer.
    for _ in 0..20 {
        let stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connect");
        let mut transport = jobvisor_protocol::BlockingTransport::new(stream);
        transport
            .handshake(
                jobvisor_protocol::Role::Client,
                jobvisor_protocol::Role::Supervisor,
            )
            .expect("handshake");
        transport.send(&Request::Status).expect("send");
        drop(transport);
    }

    let jobs_before =
        daemon.count_in_state(JobState::Available) + daemon.count_in_state(JobState::Completed);
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    for (what, payload) in [("2 MiB", big.as_str()), ("not JSON", "{nope")] {
        match daemon.request(&Request::Enqueue(job("echo", payload))) {
            Response::Error(error) => {
                println!("{what} payload: {:?}: {}", error.code, error.message);
                assert_eq!(error.code, ErrorCode::BadRequest, "{what}");
            }
            other => panic!("{what} payload accepted: {other:?}"),
        }
    }
    let total = daemon.store().total_jobs();
    assert_eq!(total, jobs_before, "a refused enqueue wrote nothing");
    let id = daemon.enqueue(job("echo", "{}"));
    wait_completed(&daemon, &[id], Duration::from_secs(20));
    daemon.stop();
    daemon.assert_invariants(&[id]);
}

/// An idle worker that is stopped (SIGSTOP) does not answer the health ping: it is killed
/// and replaced before any job is given to it.
#[test]
fn a_stopped_idle_worker_is_found_by_the_health_ping_and_replaced() {
    let mut daemon = Daemon::start_with(echo_workers(1));
    let mut pid = 0;
    daemon.wait_for("an idle worker", Duration::from_secs(10), || {
        let status = daemon.status();
        match status.workers.first() {
            Some(w) if w.state == WorkerState::Idle => {
                pid = w.pid.expect("an idle worker has a pid");
                true
            }
            _ => false,
        }
    });
    // SAFETY: kill(2) on the daemon's idle worker.
    unsafe {
        libc::kill(pid as i32, libc::SIGSTOP);
    }
    let stopped = Instant::now();
    daemon.wait_for("a new worker", Duration::from_secs(15), || {
        daemon.worker_pids().iter().any(|p| *p != pid)
    });
    let took = stopped.elapsed();
    println!("stopped idle worker replaced {took:.1?} after SIGSTOP");
    assert!(
        took < Duration::from_secs(9),
        "ping every 5 s, answer within 2 s: {took:?}"
    );
    assert!(
        daemon.log_text().contains("no answer to a health ping"),
        "the reason is logged"
    );
    let id = daemon.enqueue(job("echo", "{}"));
    wait_completed(&daemon, &[id], Duration::from_secs(20));
    daemon.stop();
    daemon.assert_invariants(&[id]);
}
