//! `jobvisor serve` end to end: real daemon, real workers, real signals, real cgroups.
//! What each test checks is read back from the daemon's own database (read-only).

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{EnqueueJob, Request, Response, WorkerState};
use jobvisor_tests::daemon::{Daemon, job, process_alive, worker_cgroups};
use jobvisor_tests::memory_cgroup_available;

const TRIVIAL: &str = "export default (p) => ({ sum: p.a + p.b })";
const SLEEPY: &str = "export default async (p, ctx) => { await new Promise(r => setTimeout(r, p.ms)); return ctx.job.attempt }";

fn with_attempts(mut job: EnqueueJob, max_attempts: u32) -> EnqueueJob {
    job.max_attempts = Some(max_attempts);
    job
}

#[test]
fn a_thousand_jobs_complete_with_exactly_one_attempt_each() {
    let mut daemon = Daemon::start("workers = 2", &[("trivial", TRIVIAL)]);
    let ids =
        daemon.enqueue_many((0..1000).map(|i| job("trivial", &format!(r#"{{"a":{i},"b":1}}"#))));
    assert_eq!(ids.len(), 1000);
    daemon.wait_for("1000 completed jobs", Duration::from_secs(120), || {
        daemon.count_in_state("completed") == 1000
    });
    let db = daemon.db();
    let (attempts, completed, distinct): (i64, i64, i64) = db
        .query_row(
            "SELECT count(*), sum(outcome = 'completed'), count(DISTINCT job_id) FROM attempts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((attempts, completed, distinct), (1000, 1000, 1000));
    let result: String = db
        .query_row("SELECT result FROM jobs WHERE id = ?1", [ids[41]], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(result, r#"{"sum":42}"#);
    assert!(daemon.status().completed_last_minute >= 1000);
    daemon.stop();
    daemon.assert_invariants(&ids);
}

#[test]
fn hung_jobs_are_killed_at_the_timeout_and_the_next_job_gets_a_fresh_worker() {
    let daemon = Daemon::start(
        "workers = 1\njob_timeout = \"1s\"\nkill_grace = \"250ms\"",
        &[
            ("spin", "export default () => { while (true) {} }"),
            (
                "redos",
                "export default () => /^(a+)+$/.test('a'.repeat(40) + 'b')",
            ),
            ("trivial", TRIVIAL),
        ],
    );
    let spin = daemon.enqueue(with_attempts(job("spin", "{}"), 1));
    let redos = daemon.enqueue(with_attempts(job("redos", "{}"), 1));
    let ok = daemon.enqueue(job("trivial", r#"{"a":1,"b":1}"#));
    daemon.wait_for("the three jobs to end", Duration::from_secs(30), || {
        daemon.job_state(spin) == "discarded"
            && daemon.job_state(redos) == "discarded"
            && daemon.job_state(ok) == "completed"
    });
    let db = daemon.db();
    for id in [spin, redos] {
        let (outcome, duration_ms, pid): (String, i64, i64) = db
            .query_row(
                "SELECT outcome, duration_ms, worker_pid FROM attempts WHERE job_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(outcome, "timeout", "job {id}");
        assert!(
            (1000..=2000).contains(&duration_ms),
            "job {id} ended after {duration_ms} ms"
        );
        let ok_pid: i64 = db
            .query_row(
                "SELECT worker_pid FROM attempts WHERE job_id = ?1",
                [ok],
                |r| r.get(0),
            )
            .unwrap();
        assert_ne!(pid, ok_pid, "the job after a timeout runs on a new worker");
    }
}

fn memory_bomb(extra: &str) {
    let mut daemon = Daemon::start(
        &format!("workers = 2\nmemory_limit = \"128MiB\"\njob_timeout = \"30s\"\n{extra}"),
        &[
            (
                "bomb",
                "export default () => { let s = 'x'; const keep = []; while (true) { s = s + s; keep.push(s) } }",
            ),
            ("trivial", TRIVIAL),
        ],
    );
    let bomb = daemon.enqueue(with_attempts(job("bomb", "{}"), 1));
    let others =
        daemon.enqueue_many((0..50).map(|i| job("trivial", &format!(r#"{{"a":{i},"b":0}}"#))));
    daemon.wait_for(
        "the bomb to be discarded and the others to complete",
        Duration::from_secs(60),
        || {
            daemon.job_state(bomb) == "discarded"
                && daemon.count_in_state("completed") == others.len() as i64
        },
    );
    assert_eq!(daemon.attempts(bomb), [(1, "oom".to_owned())]);
    daemon.stop();
    let mut all = others;
    all.push(bomb);
    daemon.assert_invariants(&all);
}

#[test]
fn a_memory_bomb_is_recorded_oom_in_cgroup_mode_while_other_jobs_complete() {
    if !memory_cgroup_available(
        "a_memory_bomb_is_recorded_oom_in_cgroup_mode_while_other_jobs_complete",
    ) {
        return;
    }
    memory_bomb("memory_limiter = \"cgroup\"");
}

#[test]
fn a_memory_bomb_is_recorded_oom_in_rlimit_mode_while_other_jobs_complete() {
    memory_bomb("memory_limiter = \"rlimit\"");
}

#[test]
fn a_worker_killed_by_sigkill_is_recorded_killed_and_the_job_retried() {
    let mut daemon = Daemon::start(
        "workers = 1\njob_timeout = \"60s\"\nretry_backoff_base = \"50ms\"\nretry_backoff_max = \"100ms\"",
        &[(
            "once-slow",
            "export default async (p, ctx) => { if (ctx.job.attempt === 1) await new Promise(r => setTimeout(r, 30000)); return ctx.job.attempt }",
        )],
    );
    let id = daemon.enqueue(with_attempts(job("once-slow", "{}"), 3));
    let mut victim = 0;
    daemon.wait_for("the job to run", Duration::from_secs(20), || {
        let status = daemon.status();
        match status.workers.iter().find(|w| w.job == Some(id)) {
            Some(w) => {
                victim = w.pid.unwrap();
                true
            }
            None => false,
        }
    });
    // SAFETY: kill(2) of the worker process this test found.
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    daemon.wait_for("the retry to complete", Duration::from_secs(30), || {
        daemon.job_state(id) == "completed"
    });
    assert_eq!(
        daemon.attempts(id),
        [(1, "killed".to_owned()), (2, "completed".to_owned())]
    );
    daemon.stop();
    daemon.assert_invariants(&[id]);
}

#[test]
fn a_poison_job_is_discarded_after_its_attempts_while_200_others_complete() {
    let mut daemon = Daemon::start(
        "workers = 2\nmemory_limit = \"600MiB\"\nretry_backoff_base = \"20ms\"\nretry_backoff_max = \"50ms\"",
        &[
            // Deep nesting overflows the engine's native stack: the worker aborts.
            (
                "poison",
                "export default () => { let a = []; for (let i = 0; i < 300000; i++) a = [a]; return String(a) }",
            ),
            ("trivial", TRIVIAL),
        ],
    );
    let poison = daemon.enqueue(with_attempts(job("poison", "{}"), 3));
    let others =
        daemon.enqueue_many((0..200).map(|i| job("trivial", &format!(r#"{{"a":{i},"b":0}}"#))));
    daemon.wait_for(
        "the poison job discarded and 200 completed",
        Duration::from_secs(120),
        || {
            daemon.job_state(poison) == "discarded"
                && daemon.count_in_state("completed") == others.len() as i64
        },
    );
    let outcomes: Vec<String> = daemon
        .attempts(poison)
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outcomes, ["crash", "crash", "crash"]);
    let message: String = daemon
        .db()
        .query_row(
            "SELECT error_message FROM attempts WHERE job_id = ?1 ORDER BY id DESC LIMIT 1",
            [poison],
            |r| r.get(0),
        )
        .unwrap();
    assert!(message.contains("stack overflow"), "{message}");
    assert_eq!(daemon.status().workers.len(), 2, "the pool is still whole");
    daemon.stop();
    let mut all = others;
    all.push(poison);
    daemon.assert_invariants(&all);
}

#[test]
fn sigterm_lets_short_jobs_finish_and_refunds_the_long_ones() {
    let mut daemon = Daemon::start(
        "workers = 2\ndrain_timeout = \"2s\"\njob_timeout = \"60s\"",
        &[("sleepy", SLEEPY)],
    );
    let long = daemon.enqueue(job("sleepy", r#"{"ms":4000}"#));
    let short = daemon.enqueue(job("sleepy", r#"{"ms":600}"#));
    daemon.wait_for("both jobs running", Duration::from_secs(20), || {
        daemon.busy_workers() == 2
    });
    let queued = daemon.enqueue_many((0..5).map(|_| job("sleepy", r#"{"ms":10}"#)));
    let signalled = Instant::now();
    daemon.signal(libc::SIGTERM);
    let code = daemon.wait_exit(Duration::from_secs(10));
    let took = signalled.elapsed();
    assert_eq!(code, Some(0), "{}", daemon.log_text());
    assert!(took < Duration::from_secs(3), "drain of 2s took {took:?}");
    assert_eq!(daemon.job_state(short), "completed");
    assert_eq!(daemon.job_state(long), "available");
    let attempt: i64 = daemon
        .db()
        .query_row("SELECT attempt FROM jobs WHERE id = ?1", [long], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(attempt, 0, "the interrupted attempt was refunded");
    assert_eq!(daemon.attempts(long), [(1, "interrupted".to_owned())]);
    for id in &queued {
        assert_eq!(daemon.job_state(*id), "available");
    }
    assert_eq!(daemon.count_in_state("running"), 0);

    daemon.launch();
    daemon.wait_for(
        "everything completed after the restart",
        Duration::from_secs(30),
        || daemon.count_in_state("completed") == 7,
    );
    daemon.stop();
}

#[test]
fn a_second_sigterm_stops_at_once() {
    let mut daemon = Daemon::start(
        "workers = 2\ndrain_timeout = \"60s\"\njob_timeout = \"60s\"",
        &[("sleepy", SLEEPY)],
    );
    let ids = daemon.enqueue_many((0..2).map(|_| job("sleepy", r#"{"ms":30000}"#)));
    daemon.wait_for("both jobs running", Duration::from_secs(20), || {
        daemon.busy_workers() == 2
    });
    daemon.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    let second = Instant::now();
    daemon.signal(libc::SIGTERM);
    let code = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", daemon.log_text());
    assert!(
        second.elapsed() < Duration::from_secs(1),
        "exit took {:?} after the second SIGTERM",
        second.elapsed()
    );
    for &id in &ids {
        assert_eq!(daemon.job_state(id), "available");
        assert_eq!(daemon.attempts(id), [(1, "interrupted".to_owned())]);
    }
    daemon.assert_invariants(&ids);
}

#[test]
fn sigkill_of_the_supervisor_leaves_no_worker_and_loses_no_job() {
    let mut daemon = Daemon::start("workers = 2\njob_timeout = \"60s\"", &[("sleepy", SLEEPY)]);
    let ids = daemon.enqueue_many((0..6).map(|_| job("sleepy", r#"{"ms":1500}"#)));
    daemon.wait_for("both workers busy", Duration::from_secs(20), || {
        daemon.busy_workers() == 2
    });
    let old_workers = daemon.worker_pids();
    assert_eq!(old_workers.len(), 2);
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(5));
    daemon.wait_for(
        "the old workers to die with their supervisor",
        Duration::from_secs(5),
        || old_workers.iter().all(|pid| !process_alive(*pid)),
    );

    daemon.launch();
    daemon.wait_for("all six jobs completed", Duration::from_secs(60), || {
        daemon.count_in_state("completed") == 6
    });
    for pid in &old_workers {
        assert!(
            !process_alive(*pid),
            "worker {pid} of the killed run is still alive"
        );
    }
    let db = daemon.db();
    let taken_back: i64 = db
        .query_row(
            "SELECT count(*) FROM attempts WHERE outcome = 'supervisor_restart'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // The two running jobs and any prefetched ones were claimed by the killed run.
    assert!(
        (2..=6).contains(&taken_back),
        "{taken_back} jobs taken back"
    );
    let completed_once: i64 = db
        .query_row(
            "SELECT count(*) FROM (SELECT job_id FROM attempts WHERE outcome = 'completed' GROUP BY job_id HAVING count(*) = 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(completed_once, 6, "every job completed exactly once");
    for &id in &ids {
        assert_eq!(daemon.job_state(id), "completed");
    }
    let instance = jobvisor_supervisor::serve::instance_name(&daemon.dir.path().join("data"));
    let groups: Vec<_> = worker_cgroups()
        .into_iter()
        .filter(|g| g.ends_with(&instance))
        .collect();
    assert_eq!(groups.len(), 1, "the daemon's cgroup exists while it runs");
    daemon.stop();
    assert!(
        !groups[0].exists(),
        "cgroup {} left behind after a clean stop",
        groups[0].display()
    );
    daemon.assert_invariants(&ids);
}

#[test]
fn a_worker_that_fails_its_handshake_degrades_its_slot_and_gets_no_job() {
    let mut daemon = Daemon::prepare(
        "workers = 1\nrestart_backoff_min = \"10ms\"\nrestart_backoff_max = \"200ms\"\nrestart_intensity_max = 2\nrestart_intensity_window = \"60s\"",
        &[("trivial", TRIVIAL)],
    );
    // The first start (the daemon's start-up check) and script checks get the real worker;
    // every later worker start exits at once, as a worker binary replaced by a broken one
    // while the daemon runs.
    let worker = daemon.dir.path().join("worker-once.sh");
    std::fs::write(
        &worker,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --check ] || mkdir '{}' 2>/dev/null; then exec '{}' \"$@\"; fi\nexit 1\n",
            daemon.dir.path().join("started-once").display(),
            jobvisor_tests::bin("jobvisor-worker").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    daemon.launch_with(&[("JOBVISOR_WORKER", worker.to_str().unwrap())]);
    let id = daemon.enqueue(job("trivial", r#"{"a":1,"b":2}"#));
    daemon.wait_for("the slot to be degraded", Duration::from_secs(20), || {
        daemon
            .status()
            .workers
            .iter()
            .any(|w| w.state == WorkerState::Degraded)
    });
    let status = daemon.status();
    let reason = status.workers[0].degraded_reason.clone().unwrap();
    assert!(reason.contains("failed to start"), "{reason}");
    assert!(daemon.log_text().contains("degraded"));
    assert_eq!(
        daemon.attempts(id),
        [],
        "no job was dispatched to a worker that never came up"
    );
    assert!(matches!(
        daemon.job_state(id).as_str(),
        "available" | "running"
    ));
}

#[test]
fn a_second_daemon_on_the_same_state_dir_is_refused() {
    let daemon = Daemon::start("workers = 1", &[]);
    let out = std::process::Command::new(jobvisor_tests::bin("jobvisor"))
        .args(["serve", "--config"])
        .arg(&daemon.config)
        .env("JOBVISOR_WORKER", jobvisor_tests::bin("jobvisor-worker"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(matches!(
        daemon.request(&Request::Status),
        Response::Status(_)
    ));
}

#[test]
fn bad_config_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "workers = 2\nwrokers = 3\n").unwrap();
    let out = std::process::Command::new(jobvisor_tests::bin("jobvisor"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wrokers"), "{stderr}");
}

#[test]
fn a_batch_enqueue_is_all_or_nothing() {
    use jobvisor_protocol::control::{ErrorCode, MAX_ENQUEUE_BATCH, Request, Response};
    let mut daemon = Daemon::start("workers = 2", &[("trivial", TRIVIAL)]);
    let batch: Vec<EnqueueJob> = (0..300)
        .map(|i| job("trivial", &format!(r#"{{"a":{i},"b":1}}"#)))
        .collect();
    let ids: Vec<i64> = match daemon.request(&Request::EnqueueBatch(batch)) {
        Response::EnqueuedBatch(jobs) => jobs.iter().map(|j| j.id).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ids.len(), 300);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in request order");
    // One bad job refuses the whole batch, naming it.
    let mut bad: Vec<EnqueueJob> = (0..5).map(|_| job("trivial", "{}")).collect();
    bad[3].script = "nope".to_owned();
    match daemon.request(&Request::EnqueueBatch(bad)) {
        Response::Error(error) => {
            assert_eq!(error.code, ErrorCode::NotFound);
            assert!(
                error.message.contains("job 3 of the batch"),
                "{}",
                error.message
            );
            assert!(
                error.message.contains("nothing was enqueued"),
                "{}",
                error.message
            );
        }
        other => panic!("{other:?}"),
    }
    let too_many = vec![job("trivial", "{}"); MAX_ENQUEUE_BATCH + 1];
    match daemon.request(&Request::EnqueueBatch(too_many)) {
        Response::Error(error) => {
            assert_eq!(error.code, ErrorCode::BadRequest);
            assert!(
                error.message.contains("above the limit"),
                "{}",
                error.message
            );
        }
        other => panic!("{other:?}"),
    }
    daemon.wait_for("the batch completed", Duration::from_secs(60), || {
        daemon.count_in_state("completed") == 300
    });
    let total: i64 = daemon
        .db()
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 300, "the refused batches wrote nothing");
    daemon.stop();
    daemon.assert_invariants(&ids);
}
