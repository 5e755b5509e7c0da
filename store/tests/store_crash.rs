//! Crash test: a child process (this test binary re-executed with
//! `JOBVISOR_STORE_CRASH_CHILD` set) enqueues and completes jobs in a loop and prints every
//! id (`@E id`, `@C id`) after the store acknowledged it. The parent SIGKILLs it after a random delay, 20
//! times; after each kill it opens the store, checks `quick_check`, and checks that every
//! acknowledged enqueue and completion is there.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jobvisor_store::*;

const CHILD_ENV: &str = "JOBVISOR_STORE_CRASH_CHILD";
const ROUNDS: usize = 20;
/// The namespace the child's completions write to.
const STATE_NS: &str = "crash";

/// The child role. A no-op unless the parent set the environment variable.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = SqliteStore::open(&path, StoreOptions::default()).expect("child opens the store");
    store
        .recover(RecoveryMode::WorkersDead)
        .wait()
        .expect("recover");
    store
        .add_script("s", "export default () => 1;")
        .wait()
        .expect("script");
    let stdout = std::io::stdout();
    let started = Instant::now();
    let mut round = 0u64;
    // Bounded so that an orphaned child can never run forever.
    while started.elapsed() < Duration::from_secs(60) {
        round += 1;
        let requests: Vec<EnqueueRequest> = (0..1 + round % 8)
            .map(|i| {
                EnqueueRequest::new("s", format!("{{\"round\":{round},\"i\":{i}}}"))
                    .max_attempts(100)
            })
            .collect();
        let outcomes = store.enqueue_bulk(requests).wait().expect("enqueue");
        let mut out = stdout.lock();
        for outcome in &outcomes {
            writeln!(out, "@E {}", outcome.id).expect("print");
        }
        out.flush().expect("flush");
        drop(out);
        let claimed = store.claim_batch(6).wait().expect("claim").jobs;
        // Completions sent back to back: group-committed, acknowledged after COMMIT.
        let pending: Vec<_> = claimed
            .iter()
            .map(|job| {
                // Each completion writes its job's state key and enqueues a child:
                // both land exactly when the completion commits.
                let completion = Completion {
                    attempt: job.attempt_ref(),
                    result: Some("{\"ok\":true}".into()),
                    report: AttemptReport::default(),
                    effects: AttemptEffects {
                        state: vec![StateWrite {
                            namespace: STATE_NS.into(),
                            key: job.id.to_string(),
                            value: Some(format!("{{\"attempt\":{}}}", job.attempt)),
                            ttl: None,
                            check: VersionCheck::Absent,
                        }],
                        children: if job.payload.contains("child") {
                            Vec::new()
                        } else {
                            vec![
                                EnqueueRequest::new("s", "{\"child\":true}")
                                    .unique_key(format!("child-of-{}", job.id))
                                    .max_attempts(100),
                            ]
                        },
                    },
                };
                (job.id, store.complete(completion))
            })
            .collect();
        for (id, reply) in pending {
            let fenced = reply.wait().expect("complete");
            assert!(
                matches!(fenced, Fenced::Applied(Completed::Done { .. })),
                "child's own attempt is never stale, and its key is new: {fenced:?}"
            );
            let mut out = stdout.lock();
            writeln!(out, "@C {id}").expect("print");
            out.flush().expect("flush");
        }
    }
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (nanos as u64) | 1
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs the child until killed; returns the acknowledged enqueues and completions.
fn run_child_and_kill(path: &Path, delay: Duration) -> (Vec<i64>, Vec<i64>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked: Vec<String> = Vec::new();
    // Wait (with a deadline) until the child is really working, then let it run for the
    // random delay before killing it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !acked.iter().any(|line| line.contains("@E ")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .expect("child acknowledged nothing before the deadline");
        acked.push(line);
    }
    let kill_at = Instant::now() + delay;
    while let Ok(line) = received.recv_timeout(kill_at.saturating_duration_since(Instant::now())) {
        acked.push(line);
        if Instant::now() >= kill_at {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    acked.extend(received.try_iter());
    let ids = |prefix: &str| -> Vec<i64> {
        // libtest may print "test crash_child ... " in front of the first line.
        acked
            .iter()
            .filter_map(|line| line.find(prefix).map(|at| &line[at + prefix.len()..]))
            .map(|id| id.trim().parse().unwrap())
            .collect()
    };
    (ids("@E "), ids("@C "))
}

#[test]
fn acknowledged_work_survives_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let mut rng = seed();
    let mut enqueued: BTreeSet<i64> = BTreeSet::new();
    let mut completed: BTreeSet<i64> = BTreeSet::new();
    let mut hot_wal_kills = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(next(&mut rng) % 250);
        let (new_enqueued, new_completed) = run_child_and_kill(&path, delay);
        enqueued.extend(new_enqueued);
        completed.extend(new_completed);
        if std::fs::metadata(dir.path().join("jobs.db-wal")).is_ok_and(|meta| meta.len() > 0) {
            hot_wal_kills += 1;
        }

        let store = SqliteStore::open(&path, StoreOptions::default())
            .unwrap_or_else(|err| panic!("round {round}: reopen after SIGKILL failed: {err}"));
        store.quick_check().unwrap();
        let jobs: BTreeMap<i64, JobInfo> = store
            .list_jobs(&JobFilter {
                limit: u32::MAX,
                ..JobFilter::default()
            })
            .unwrap()
            .into_iter()
            .map(|job| (job.id.0, job))
            .collect();
        for id in &enqueued {
            let job = jobs
                .get(id)
                .unwrap_or_else(|| panic!("round {round}: acknowledged job {id} is missing"));
            assert!(
                job.attempt <= job.max_attempts,
                "round {round}: job {id} over its attempts"
            );
            assert!(
                !matches!(job.state, JobState::Discarded | JobState::Cancelled),
                "job {id}: {:?}",
                job.state
            );
        }
        for id in &completed {
            // (A completed id need not have an enqueue ack: the child may have died between
            // the enqueue's COMMIT and its print, and a later child ran the job.)
            assert_eq!(
                jobs[id].state,
                JobState::Completed,
                "round {round}: acknowledged completion of {id} lost"
            );
        }
        // State and children exist exactly for the completions that committed.
        let mut keys: BTreeSet<i64> = BTreeSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .state_list(&StateQuery {
                    namespace: STATE_NS.into(),
                    prefix: String::new(),
                    after: after.clone(),
                    limit: 1000,
                })
                .unwrap();
            keys.extend(
                page.entries
                    .iter()
                    .map(|entry| entry.key.parse::<i64>().unwrap()),
            );
            after = page.entries.last().map(|entry| entry.key.clone());
            if !page.more {
                break;
            }
        }
        let done: BTreeSet<i64> = jobs
            .values()
            .filter(|job| job.state == JobState::Completed)
            .map(|job| job.id.0)
            .collect();
        assert_eq!(
            keys, done,
            "round {round}: a state key iff its job completed"
        );
        let parents: BTreeSet<i64> = jobs
            .values()
            .filter_map(|job| job.parent.map(|parent| parent.0))
            .collect();
        let completed_parents: BTreeSet<i64> = jobs
            .values()
            .filter(|job| job.state == JobState::Completed && job.unique_key.is_none())
            .map(|job| job.id.0)
            .collect();
        assert_eq!(
            parents, completed_parents,
            "round {round}: a child iff its parent completed"
        );
        let running = jobs
            .values()
            .filter(|job| job.state == JobState::Running)
            .count() as u32;
        let queue = store
            .list_queues()
            .unwrap()
            .into_iter()
            .find(|queue| queue.name == "default");
        assert_eq!(
            queue.map_or(0, |queue| queue.running),
            running,
            "running counter matches the rows"
        );
        store.close().unwrap();
    }
    assert!(
        completed.len() > ROUNDS,
        "the child made progress: {} completions",
        completed.len()
    );
    eprintln!(
        "crash test: {ROUNDS} kills, {} acknowledged enqueues, {} acknowledged completions, {hot_wal_kills} kills left a non-empty WAL",
        enqueued.len(),
        completed.len()
    );
}
