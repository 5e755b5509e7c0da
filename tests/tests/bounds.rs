//! Input bounds against the real binaries: durations, times and sizes outside the
//! documented maxima are refused at every edge (config, CLI, control request), a job row
//! that is out of range anyway (written straight into the database) is discarded with a
//! reason instead of stopping the claims of every other job, and `enqueue --payloads` says
//! which lines are in when the daemon dies half-way through a file.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jobvisor_protocol::control::{EnqueueJob, ErrorCode, Request, Response};
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::store_view::{JobFilter, JobState};
use jobvisor_tests::{bin, exit_within};

const ECHO: &str = "export default (p) => p";

fn cli(daemon: &Daemon, args: &[&str]) -> Output {
    Command::new(bin("jobvisor"))
        .args(args)
        .arg("--config")
        .arg(&daemon.config)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `jobvisor serve` on a config with `extra` and returns its exit code and output;
/// a daemon that accepts the config is killed after a few seconds and gives `None`.
fn serve_refuses(extra: &str) -> (Option<i32>, String) {
    let daemon = Daemon::prepare(extra, &[]);
    let mut child = Command::new(bin("jobvisor"))
        .arg("serve")
        .arg("--config")
        .arg(&daemon.config)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = exit_within(&mut child, Duration::from_secs(5)).and_then(|s| s.code());
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    (code, text)
}

#[test]
fn config_values_beyond_the_documented_maxima_are_refused_at_start() {
    for (extra, named) in [
        ("job_timeout = \"18446744073709551615s\"", "job_timeout"),
        ("job_timeout = \"106751991167d\"", "job_timeout"),
        ("payload_limit = 0", "payload_limit"),
        ("result_limit = 0", "result_limit"),
        ("worker_start_timeout = \"0s\"", "worker_start_timeout"),
        ("retry_backoff_max = \"1000d\"", "retry_backoff_max"),
        ("restart_backoff_max = \"30d\"", "restart_backoff_max"),
        ("drain_timeout = \"400d\"", "drain_timeout"),
        ("retention_completed = \"99999999d\"", "retention_completed"),
    ] {
        let (code, text) = serve_refuses(extra);
        assert_eq!(code, Some(78), "`{extra}` must be refused\n{text}");
        assert!(text.contains(named), "`{extra}`: {text}");
    }
}

#[test]
fn enqueue_refuses_absurd_durations_and_impossible_times_without_a_panic() {
    let daemon = Daemon::start("workers = 1", &[("echo", ECHO)]);
    for (args, named) in [
        (&["--timeout", "106751991167d"][..], "at most 30d"),
        (&["--timeout", "18446744073709551615s"][..], "at most 30d"),
        (&["--delay", "99999999d"][..], "at most 3650d"),
        (&["--at", "2026-11-23T02:00:00+0é00"][..], "RFC 3339"),
        (&["--at", "2026-11-23T02:00:00+99:00"][..], "RFC 3339"),
        (&["--at", "2026-02-30T00:00:00Z"][..], "RFC 3339"),
        (&["--at", "2999-01-01T00:00:00Z"][..], "at most 3650d"),
        (&["--max-attempts", "4000000000"][..], "max"),
    ] {
        let mut all = vec!["enqueue", "echo"];
        all.extend_from_slice(args);
        let out = cli(&daemon, &all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(named), "{all:?}: {}", stderr(&out));
    }

    // A time in the past runs now, with a warning that says so.
    let out = cli(
        &daemon,
        &["enqueue", "echo", "--at", "2020-01-01T00:00:00Z"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("in the past"), "{}", stderr(&out));
    let past: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();

    // The same bounds hold for a raw control request.
    for bad in [
        EnqueueJob {
            timeout_ms: Some(u64::MAX),
            ..job("echo", "{}")
        },
        EnqueueJob {
            delay_ms: Some(u64::MAX),
            ..job("echo", "{}")
        },
        EnqueueJob {
            run_at_ms: Some(i64::MAX),
            ..job("echo", "{}")
        },
        EnqueueJob {
            max_attempts: Some(u32::MAX),
            ..job("echo", "{}")
        },
    ] {
        match daemon.request(&Request::Enqueue(bad.clone())) {
            Response::Error(err) => assert_eq!(err.code, ErrorCode::BadRequest, "{bad:?}: {err:?}"),
            other => panic!("{bad:?} was accepted: {other:?}"),
        }
    }

    // Nothing above stopped the queue.
    let id = daemon.enqueue(job("echo", "{\"ok\":1}"));
    daemon.wait_for("the jobs complete", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed && daemon.job_state(past) == JobState::Completed
    });
}

#[test]
fn a_payload_above_the_control_frame_cap_is_refused_before_sending() {
    let daemon = Daemon::start("workers = 1", &[("echo", ECHO)]);
    let file = daemon.dir.path().join("big.json");
    for size in [2 << 20, 9 << 20] {
        std::fs::write(&file, format!("\"{}\"", "x".repeat(size))).unwrap();
        let payload = format!("@{}", file.display());
        let out = cli(&daemon, &["enqueue", "echo", "--payload", &payload]);
        assert_eq!(out.status.code(), Some(2), "{size}: {}", stderr(&out));
        assert!(stderr(&out).contains("limit"), "{size}: {}", stderr(&out));
    }
    assert_eq!(daemon.store().total_jobs(), 0);
}

#[test]
fn a_job_row_whose_lease_would_overflow_is_discarded_and_other_queues_still_run() {
    let mut daemon = Daemon::start("workers = 1", &[("echo", ECHO)]);
    daemon.stop();
    let (bad, good, other) = {
        let db = rusqlite::Connection::open(daemon.database()).unwrap();
        let script_id: i64 = db
            .query_row(
                "SELECT script_id FROM script_heads WHERE name = 'echo'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        // As another tool might: without the foreign keys jobvisor enforces.
        db.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO queues (name) VALUES ('default'), ('other') ON CONFLICT DO NOTHING",
        )
        .unwrap();
        let insert = |queue: &str, timeout_ms: Option<i64>| -> i64 {
            db.query_row(
                "INSERT INTO jobs (queue, script_id, state, run_at, max_attempts, timeout_ms,
                                   payload, created_at)
                 VALUES (?1, ?2, 'available', 0, 3, ?3, '{}', 0) RETURNING id",
                rusqlite::params![queue, script_id, timeout_ms],
                |r| r.get(0),
            )
            .unwrap()
        };
        // Claimed first (lowest id, same priority): now + timeout + grace overflows.
        let bad = insert("default", Some(i64::MAX - 1000));
        let ids = (bad, insert("default", None), insert("other", Some(5000)));
        // A payload that is not text, and a job whose script version does not exist.
        db.execute(
            "INSERT INTO jobs (queue, script_id, state, run_at, max_attempts, payload, created_at)
             VALUES ('other', ?1, 'available', 0, 3, X'00FF', 0)",
            [script_id],
        )
        .unwrap();
        db.execute(
            "INSERT INTO jobs (queue, script_id, state, run_at, max_attempts, payload, created_at)
             VALUES ('other', 999999, 'available', 0, 3, '{}', 0)",
            [],
        )
        .unwrap();
        ids
    };
    daemon.launch();
    daemon.wait_for(
        "the other jobs complete and the bad row is discarded",
        Duration::from_secs(20),
        || {
            daemon.job_state(good) == JobState::Completed
                && daemon.job_state(other) == JobState::Completed
                && daemon.job_state(bad) == JobState::Discarded
        },
    );
    // `jobs show` finds the job whose script version is gone (the last row inserted).
    let lost = other + 2;
    match daemon.request(&Request::ShowJob { id: lost }) {
        Response::Job(view) => {
            let error = view.summary.last_error.unwrap_or_default();
            assert!(error.contains("script"), "job {lost}: {error}");
        }
        answer => panic!("jobs show {lost}: {answer:?}"),
    }
    let store = daemon.store();
    let reason = store.job(bad).job.last_error.unwrap_or_default();
    assert!(reason.contains("timeout"), "{reason}");
    let discarded = JobFilter {
        state: Some(JobState::Discarded),
        ..JobFilter::default()
    };
    let reasons: Vec<String> = store
        .all_jobs(discarded)
        .into_iter()
        .filter(|job| job.id.0 > other)
        .map(|job| job.last_error.unwrap_or_default())
        .collect();
    assert!(
        reasons.len() == 2 && reasons[0].contains("payload") && reasons[1].contains("script"),
        "{reasons:?}"
    );
}

#[test]
fn enqueue_payloads_says_which_lines_are_in_when_the_daemon_is_killed_mid_file() {
    let mut daemon = Daemon::start("workers = 1", &[("echo", ECHO)]);
    let lines = 20 * jobvisor_protocol::control::MAX_ENQUEUE_BATCH;
    let file = daemon.dir.path().join("many.jsonl");
    let text: String = (0..lines).map(|n| format!("{{\"n\":{n}}}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let args = [
        "enqueue",
        "echo",
        "--payloads",
        &file,
        "--delay",
        "1h",
        "--unique-prefix",
        "import-1",
    ];
    let mut child = Command::new(bin("jobvisor"))
        .args(args)
        .arg("--config")
        .arg(&daemon.config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read as the CLI prints: a full pipe would stop it between batches.
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || -> Vec<i64> {
        BufReader::new(stdout)
            .lines()
            .map(|line| line.unwrap().parse().unwrap())
            .collect()
    });

    // Two batches committed: the first one's answer has been sent.
    let two_batches = 2 * jobvisor_protocol::control::MAX_ENQUEUE_BATCH;
    daemon.wait_for("two batches committed", Duration::from_secs(60), || {
        daemon.count_in_state(JobState::Scheduled) >= two_batches
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));

    let printed = reader.join().unwrap();
    let mut message = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut message)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the CLI must fail: {message}");
    assert!(
        printed.len() >= jobvisor_protocol::control::MAX_ENQUEUE_BATCH && printed.len() < lines,
        "{} ids printed\n{message}",
        printed.len()
    );
    let next = printed.len() + 1;
    assert!(
        message.contains(&format!("lines 1-{} were enqueued", printed.len()))
            && message.contains(&format!("--from-line {next}")),
        "{message}"
    );

    // Every printed id is in the database; a rerun of the rest enqueues each line once.
    daemon.launch();
    let store = daemon.store();
    let found = store
        .jobs_between(printed[0], printed[printed.len() - 1])
        .len();
    assert_eq!(found, printed.len());
    let from = next.to_string();
    let mut rerun = args.to_vec();
    rerun.extend(["--from-line", &from]);
    let out = cli(&daemon, &rerun);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(store.total_jobs(), lines, "each line enqueued exactly once");
}
