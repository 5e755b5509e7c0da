//! Host calls end to end: `evil-worker` makes calls from inside a job, through the real
//! daemon and through `jobvisor run`. An echo is answered before the job ends; a call over
//! the size cap, over the in-flight cap, or for an attempt that already ended is a
//! protocol error of the attempt (or of the idle worker), never an answer.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use jobvisor_tests::config::ConfigBuilder;
use jobvisor_tests::daemon::Daemon;
use jobvisor_tests::{bin, fixture};

/// A daemon with one slot whose worker program is `evil-worker`.
fn evil_daemon() -> Daemon {
    let mut daemon = Daemon::prepare_with(
        ConfigBuilder::new()
            .workers(1)
            .job_timeout("10s")
            .kill_grace("200ms")
            .restart_backoff("10ms", "50ms")
            .script("ok", &fixture::job("echo")),
    );
    let evil = bin("evil-worker");
    daemon.launch_with(&[("JOBVISOR_WORKER", evil.to_str().expect("utf-8 path"))]);
    daemon
}

/// The job as `enqueue --wait --json` prints it.
fn enqueue_wait(daemon: &Daemon, behaviour: &str) -> serde_json::Value {
    daemon.run_job_with(
        "ok",
        &serde_json::json!({ "evil": behaviour }),
        &["--max-attempts", "1"],
    )
}

/// (outcome, error message) of the job's last attempt.
fn last_attempt(job: &serde_json::Value) -> (String, String) {
    let last = job["attempts"]
        .as_array()
        .and_then(|attempts| attempts.last())
        .unwrap_or_else(|| panic!("no attempt in {job}"));
    (
        last["outcome"].as_str().unwrap_or_default().to_owned(),
        last["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// `jobvisor run --json` of a script, with `evil-worker` as its worker.
fn run_evil(behaviour: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let file: PathBuf = dir.path().join("ok.js");
    std::fs::write(&file, fixture::job("echo")).expect("write script");
    let out = Command::new(bin("jobvisor"))
        .env("JOBVISOR_WORKER", bin("evil-worker"))
        .arg("run")
        .arg(&file)
        .args(["--json", "--timeout", "10s", "--payload"])
        .arg(format!(r#"{{"evil":"{behaviour}"}}"#))
        .output()
        .expect("jobvisor runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "run printed no report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn an_echo_call_is_answered_before_the_job_ends() {
    let daemon = evil_daemon();
    let job = enqueue_wait(&daemon, "host-echo");
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["result"]["echoed"], "echo from the worker", "{job}");
    let report = run_evil("host-echo");
    assert_eq!(report["outcome"], "completed", "{report}");
    assert_eq!(
        report["result"]["echoed"], "echo from the worker",
        "{report}"
    );
}

#[test]
fn a_host_call_over_the_size_cap_is_a_protocol_error() {
    let daemon = evil_daemon();
    let job = enqueue_wait(&daemon, "host-oversized");
    let (outcome, message) = last_attempt(&job);
    assert_eq!(outcome, "protocol_error", "{job}");
    assert!(
        message.contains("host call of 2097") && message.contains("2097152"),
        "{message}"
    );
    let report = run_evil("host-oversized");
    assert_eq!(report["outcome"], "protocol_error", "{report}");
    // The daemon goes on with a fresh worker.
    let job = enqueue_wait(&daemon, "host-echo");
    assert_eq!(job["state"], "completed", "{job}");
}

#[test]
fn more_calls_in_flight_than_the_cap_is_a_protocol_error() {
    let daemon = evil_daemon();
    let job = enqueue_wait(&daemon, "host-flood");
    let (outcome, message) = last_attempt(&job);
    assert_eq!(outcome, "protocol_error", "{job}");
    assert!(message.contains("at most 64 may be in flight"), "{message}");
    let report = run_evil("host-flood");
    assert_eq!(report["outcome"], "protocol_error", "{report}");
}

#[test]
fn a_call_for_an_attempt_that_already_ended_replaces_the_worker() {
    let daemon = evil_daemon();
    let mut before = Vec::new();
    daemon.wait_for("a ready worker", Duration::from_secs(10), || {
        before = daemon.worker_pids();
        !before.is_empty()
    });
    let job = enqueue_wait(&daemon, "host-after-done");
    // The attempt ended with its Done; the stray call is the idle worker's fault.
    assert_eq!(job["state"], "completed", "{job}");
    daemon.wait_for("the worker replaced", Duration::from_secs(10), || {
        let now = daemon.worker_pids();
        !now.is_empty() && now != before
    });
    assert!(
        daemon
            .log_text()
            .contains("the worker sent HostCall while idle"),
        "{}",
        daemon.log_text()
    );
    let job = enqueue_wait(&daemon, "host-echo");
    assert_eq!(job["state"], "completed", "{job}");
    let report = run_evil("host-after-done");
    assert_eq!(report["outcome"], "completed", "{report}");
}

/// What the `real-echo` fixture returns.
const REAL_ECHO_RESULT: &str = r#"{"same":true,"n":20,"timer":"timer","refused":"RangeError"}"#;

#[test]
fn a_real_script_gets_its_echo_answers_from_the_daemon_and_from_run() {
    let expected: serde_json::Value = serde_json::from_str(REAL_ECHO_RESULT).expect("json");

    // Through the daemon, with the real worker.
    let mut daemon = Daemon::prepare_with(
        ConfigBuilder::new()
            .workers(1)
            .script("echo", &fixture::job("real-echo")),
    );
    daemon.launch();
    let out = daemon.cli(&["enqueue", "echo", "--wait", "--json"]);
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "enqueue --wait --json printed no job ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["result"], expected, "{job}");
    daemon.stop();

    // Through `jobvisor run`: the same worker, the same attempt runner and host service.
    let report =
        jobvisor_tests::run_json("echo", &fixture::job("real-echo"), &["--timeout", "10s"], 0);
    assert_eq!(report["result"], expected, "{report}");
}
