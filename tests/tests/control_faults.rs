//! The control socket under long operations and hostile clients, against a real daemon:
//! drain, restart and `enqueue --wait` answer when their work ends (not at the request
//! timeout), `logs --follow` shows worker and schedule events, and clients that hold
//! connections open or never read their answers lock nobody out and grow no memory.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jobvisor_tests::bin;
use jobvisor_tests::daemon::{Daemon, job};

const SLEEPY: &str =
    "export default async (p) => { await new Promise(r => setTimeout(r, p.ms)); return p.ms }";
const SLEEPY_THEN_THROWS: &str = "export default async (p) => { await new Promise(r => setTimeout(r, p.ms)); throw new Error('late failure') }";

/// A request timeout far below the jobs' durations: every long operation must outlive it.
const SHORT_REQUEST_TIMEOUT: &str = "control_request_timeout = \"1s\"";

fn cli(daemon: &Daemon, args: &[&str]) -> Output {
    Command::new(bin("jobvisor"))
        .args(args)
        .arg("--config")
        .arg(&daemon.config)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .output()
        .unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn wait_until_running(daemon: &Daemon, id: i64) {
    daemon.wait_for("the job to run", Duration::from_secs(20), || {
        daemon.status().workers.iter().any(|w| w.job == Some(id))
    });
}

#[test]
fn drain_answers_when_its_job_ends_not_at_the_request_timeout() {
    let mut daemon = Daemon::start(
        &format!("workers = 1\ndrain_timeout = \"20s\"\n{SHORT_REQUEST_TIMEOUT}"),
        &[("sleepy", SLEEPY)],
    );
    let running = daemon.enqueue(job("sleepy", r#"{"ms":3000}"#));
    wait_until_running(&daemon, running);
    let started = Instant::now();
    let out = cli(&daemon, &["drain", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["finished"], 1, "{}", describe(&out));
    assert!(started.elapsed() >= Duration::from_secs(1), "{report}");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(daemon.job_state(running), "completed");
}

#[test]
fn drain_counts_finished_failed_and_requeued_jobs_apart() {
    let mut daemon = Daemon::start(
        "workers = 2\nmax_attempts = 1\ndrain_timeout = \"20s\"",
        &[("sleepy", SLEEPY), ("throws", SLEEPY_THEN_THROWS)],
    );
    let completes = daemon.enqueue(job("sleepy", r#"{"ms":1500}"#));
    let fails = daemon.enqueue(job("throws", r#"{"ms":1500}"#));
    wait_until_running(&daemon, completes);
    wait_until_running(&daemon, fails);
    let out = cli(&daemon, &["drain", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["finished"], &report["failed"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{report}"
    );
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(daemon.job_state(completes), "completed");
    assert_eq!(daemon.job_state(fails), "discarded");
}

#[test]
fn enqueue_wait_prints_the_result_of_a_job_longer_than_the_request_timeout() {
    let daemon = Daemon::start(
        &format!("workers = 1\n{SHORT_REQUEST_TIMEOUT}"),
        &[("sleepy", SLEEPY)],
    );
    let out = cli(
        &daemon,
        &["enqueue", "sleepy", "--payload", r#"{"ms":3000}"#, "--wait"],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3000");
}

#[test]
fn enqueue_wait_timeout_gives_up_with_its_own_exit_code_and_the_job_goes_on() {
    let daemon = Daemon::start("workers = 1", &[("sleepy", SLEEPY)]);
    let started = Instant::now();
    let out = cli(
        &daemon,
        &[
            "enqueue",
            "sleepy",
            "--payload",
            r#"{"ms":4000}"#,
            "--wait",
            "--wait-timeout",
            "1s",
        ],
    );
    assert_eq!(out.status.code(), Some(124), "{}", describe(&out));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{}",
        describe(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has not ended after 1s"), "{stderr}");
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.count_in_state("completed") == 1
    });
}

#[test]
fn restart_all_answers_when_the_last_worker_is_replaced() {
    let daemon = Daemon::start(
        &format!("workers = 1\n{SHORT_REQUEST_TIMEOUT}"),
        &[("sleepy", SLEEPY)],
    );
    let running = daemon.enqueue(job("sleepy", r#"{"ms":3000}"#));
    wait_until_running(&daemon, running);
    let before = daemon.worker_pids();
    let out = cli(&daemon, &["restart", "--all"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("replaced worker 0"),
        "{}",
        describe(&out)
    );
    assert_eq!(daemon.job_state(running), "completed");
    assert_ne!(daemon.worker_pids(), before);
}

/// `logs --follow --json`, its lines delivered through a channel as they arrive.
struct Follower {
    child: std::process::Child,
    lines: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Follower {
    fn start(daemon: &Daemon) -> Follower {
        let mut child = Command::new(bin("jobvisor"))
            .args(["logs", "--follow", "--json", "--config"])
            .arg(&daemon.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    return;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for an event matching `wanted`, keeping every event seen.
    fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) {
        let deadline = Instant::now() + within;
        if self.seen.iter().any(&wanted) {
            return;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(event) => {
                    let hit = wanted(&event);
                    self.seen.push(event);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no {what} event within {within:?}; saw {:?}", self.seen),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn logs_follow_shows_schedule_runs_and_workers_becoming_ready() {
    let daemon = Daemon::start(
        "workers = 1\n[[schedule]]\nname = \"tick\"\nscript = \"sleepy\"\npayload = '{\"ms\":1}'\nevery = \"1s\"",
        &[("sleepy", SLEEPY)],
    );
    let mut follower = Follower::start(&daemon);
    follower.wait_for("schedule", Duration::from_secs(20), |e| {
        e["event"] == "schedule_fired" && e["schedule"] == "tick" && e["job"].is_i64()
    });
    let out = cli(&daemon, &["restart", "0"]);
    assert!(out.status.success(), "{}", describe(&out));
    follower.wait_for("worker ready", Duration::from_secs(20), |e| {
        e["event"] == "worker" && e["worker"] == 0 && e["state"] == "ready" && e["pid"].is_u64()
    });
}
