//! Worker protocol attacks: the daemon runs `evil-worker` (tests/src/bin/evil-worker.rs),
//! which speaks the protocol and then breaks it on purpose. Whatever it does, the daemon
//! must not panic or grow, must kill it, record the attempt with a reason, and go on
//! with a fresh worker.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::WorkerState;
use jobvisor_tests::daemon::{Daemon, job, process_alive};
use jobvisor_tests::{bin, exit_within};

const OK: &str = "export default (p) => p;";

/// A daemon with one slot whose worker program is `evil-worker`, started under the name
/// `evil-worker-<started_as>` (the handshake behaviours are chosen by name).
fn evil_daemon(started_as: &str, extra: &str) -> (Daemon, PathBuf) {
    let mut daemon = Daemon::prepare(
        &format!(
            "workers = 1\njob_timeout = \"4s\"\nkill_grace = \"200ms\"\nrestart_backoff_min = \"10ms\"\n\
             restart_backoff_max = \"50ms\"\n{extra}"
        ),
        &[("ok", OK)],
    );
    let program = daemon.dir.path().join(format!("evil-worker-{started_as}"));
    std::os::unix::fs::symlink(bin("evil-worker"), &program).expect("symlink");
    daemon.launch_with(&[("JOBVISOR_WORKER", program.to_str().expect("utf-8 path"))]);
    (daemon, program)
}

/// The worker pids, once every slot has one.
fn ready_workers(daemon: &Daemon) -> Vec<u32> {
    let mut pids = Vec::new();
    daemon.wait_for("a ready worker", Duration::from_secs(10), || {
        let status = daemon.status();
        pids = status.workers.iter().filter_map(|w| w.pid).collect();
        status.workers.iter().all(|w| w.state == WorkerState::Idle)
    });
    pids
}

/// (outcome, error message) of the job's last attempt.
fn last_attempt(daemon: &Daemon, id: i64) -> (String, String) {
    daemon
        .db()
        .query_row(
            "SELECT outcome, coalesce(error_message, '') FROM attempts WHERE job_id = ?1 ORDER BY id DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("an attempt row")
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("rss field")
}

/// Runs one evil job (one attempt) and then a good one; returns the evil attempt's
/// (outcome, message) and how long it took to end.
fn misbehave(daemon: &Daemon, behaviour: &str) -> (String, String, Duration) {
    let pids_before = ready_workers(daemon);
    let mut evil = job("ok", &format!(r#"{{"evil":"{behaviour}"}}"#));
    evil.max_attempts = Some(1);
    let started = Instant::now();
    let id = daemon.enqueue(evil);
    daemon.wait_for(
        &format!("{behaviour}: the attempt ends"),
        Duration::from_secs(30),
        || matches!(daemon.job_state(id).as_str(), "discarded" | "completed"),
    );
    let took = started.elapsed();
    let (outcome, message) = last_attempt(daemon, id);
    for pid in pids_before.into_iter().filter(|_| outcome != "completed") {
        daemon.wait_for(
            &format!("{behaviour}: worker {pid} is killed"),
            Duration::from_secs(5),
            || !process_alive(pid),
        );
    }
    let good = daemon.enqueue(job("ok", r#"{"after":"evil"}"#));
    daemon.wait_for(
        &format!("{behaviour}: the next job completes"),
        Duration::from_secs(20),
        || daemon.job_state(good) == "completed",
    );
    println!("{behaviour}: {outcome} ({message}) after {took:.0?}");
    (outcome, message, took)
}

#[test]
fn protocol_violations_are_recorded_protocol_error_and_the_daemon_stays_small() {
    let (mut daemon, _) = evil_daemon("per-job", "");
    let pid = daemon.pid();
    // Warm up the paths once so allocator growth from ordinary work is not counted.
    misbehave(&daemon, "none-ordinary");
    let rss_before = rss_kib(pid, "VmRSS:");
    for (behaviour, needle) in [
        ("garbage", ""),
        ("huge-length", "4294967295"),
        ("container-bomb", ""),
        ("wrong-job", "for a job it does not run"),
        ("wrong-attempt", "for a job it does not run"),
        ("truncated", ""),
        ("slowloris", ""),
    ] {
        let (outcome, message, _) = misbehave(&daemon, behaviour);
        assert_eq!(outcome, "protocol_error", "{behaviour}: {message}");
        assert!(message.contains(needle), "{behaviour}: {message}");
    }
    let rss_after = rss_kib(pid, "VmRSS:");
    println!("daemon VmRSS {rss_before} KiB before the attacks, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 8 * 1024,
        "the daemon grew from {rss_before} KiB to {rss_after} KiB"
    );
    let ids: Vec<i64> = daemon
        .db()
        .prepare("SELECT id FROM jobs")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("id"))
        .collect();
    daemon.stop();
    daemon.assert_invariants(&ids);
}

#[test]
fn a_worker_that_exits_without_a_result_is_a_crash() {
    let (mut daemon, _) = evil_daemon("per-job", "");
    let (outcome, message, _) = misbehave(&daemon, "exit-0");
    assert_eq!(outcome, "crash", "{message}");
    assert!(message.contains("status 0"), "{message}");
    daemon.stop();
}

#[test]
fn garbage_from_an_idle_worker_gets_it_replaced() {
    let (mut daemon, _) = evil_daemon("per-job", "");
    let first = ready_workers(&daemon);
    let id = daemon.enqueue(job("ok", r#"{"evil":"idle-garbage"}"#));
    daemon.wait_for("the job completes", Duration::from_secs(20), || {
        daemon.job_state(id) == "completed"
    });
    daemon.wait_for(
        "the idle worker is replaced",
        Duration::from_secs(10),
        || {
            let now = daemon.worker_pids();
            !now.is_empty() && now != first
        },
    );
    for pid in first {
        assert!(!process_alive(pid), "worker {pid} is still alive");
    }
    daemon.stop();
    daemon.assert_invariants(&[id]);
}

/// A worker with the wrong handshake from the start: the daemon does not start (exit 1,
/// the handshake named) rather than restart it for ever behind a service that looks up.
#[test]
fn a_worker_with_the_wrong_handshake_stops_the_start() {
    for started_as in ["wrong-magic", "wrong-version"] {
        let daemon = Daemon::prepare("workers = 1", &[("ok", OK)]);
        let program = daemon.dir.path().join(format!("evil-worker-{started_as}"));
        std::os::unix::fs::symlink(bin("evil-worker"), &program).expect("symlink");
        let mut serve = std::process::Command::new(bin("jobvisor"))
            .arg("serve")
            .arg("--config")
            .arg(&daemon.config)
            .env("JOBVISOR_WORKER", &program)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("serve starts");
        let Some(status) = exit_within(&mut serve, Duration::from_secs(20)) else {
            panic!("{started_as}: the daemon started with a worker that fails its handshake");
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut serve.stderr.take().expect("stderr"), &mut stderr)
            .expect("stderr");
        assert_eq!(status.code(), Some(1), "{started_as}: {stderr}");
        assert!(
            stderr.contains("cannot start: handshake failed"),
            "{started_as}: the refusal names the handshake\n{stderr}"
        );
    }
}

#[test]
fn a_setsid_grandchild_is_killed_with_its_worker_group() {
    let (mut daemon, _) = evil_daemon("per-job", "");
    let marker = format!("/tmp/jobvisor-evil-grandchild.{}", daemon.pid());
    let _ = std::fs::remove_file(&marker);
    let (outcome, message, took) = misbehave(&daemon, "grandchild");
    assert_eq!(outcome, "timeout", "{message}");
    assert!(took < Duration::from_secs(7), "{took:?}");
    let grandchild: u32 = std::fs::read_to_string(&marker)
        .expect("the evil worker wrote its grandchild's pid")
        .trim()
        .parse()
        .expect("a pid");
    let _ = std::fs::remove_file(&marker);
    assert!(
        !process_alive(grandchild),
        "grandchild {grandchild} escaped its process group and survived the kill"
    );
    daemon.stop();
}

#[test]
fn a_worker_that_ignores_sigterm_is_killed_at_the_deadline_and_at_the_drain() {
    let (mut daemon, _) = evil_daemon("per-job", "drain_timeout = \"1s\"");
    let (outcome, message, took) = misbehave(&daemon, "ignore-sigterm");
    assert_eq!(outcome, "timeout", "{message}");
    assert!(took < Duration::from_secs(7), "{took:?}");
    // The same behaviour while the daemon drains: the drain deadline kills it.
    let id = daemon.enqueue(job("ok", r#"{"evil":"ignore-sigterm"}"#));
    daemon.wait_for("the job runs", Duration::from_secs(10), || {
        daemon.job_state(id) == "running"
    });
    let worker = daemon.worker_pids();
    let started = Instant::now();
    daemon.stop();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for pid in worker {
        assert!(!process_alive(pid), "worker {pid} survived the drain");
    }
    daemon.assert_invariants(&[id]);
    assert_eq!(
        daemon.job_state(id),
        "available",
        "interrupted by the drain: requeued"
    );
}
