//! Wall-clock jumps under a running daemon (libfaketime, with the monotonic clock left
//! real): job deadlines do not move, an interval schedule does not fire a burst after a
//! forward jump, and a backward jump never fires a slot twice.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::store_view::{JobFilter, JobState, OutcomeKind};

const OK: &str = "export default (p, ctx) => ({ ran: ctx.job.id })";
const SLEEPY: &str =
    "export default async () => { await new Promise((r) => setTimeout(r, 3000)); return 1 }";

/// libfaketime's preload library, or why it is missing.
fn libfaketime() -> Result<PathBuf, String> {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| "libfaketime is not installed (Debian package `faketime`)".to_owned())
}

/// The unique key (`schedule:<name>:<slot>`) of every run of schedule `name`, oldest
/// first.
fn runs(daemon: &Daemon, name: &str) -> Vec<String> {
    let prefix = format!("schedule:{name}:");
    daemon
        .store()
        .all_jobs(JobFilter::default())
        .into_iter()
        .filter_map(|job| job.unique_key)
        .filter(|key| key.starts_with(&prefix))
        .collect()
}

#[test]
fn clock_jumps_move_no_deadline_fire_no_burst_and_no_slot_twice() {
    let preload = match libfaketime() {
        Ok(path) => path,
        Err(reason) => {
            jobvisor_tests::skip(
                "clock_jumps_move_no_deadline_fire_no_burst_and_no_slot_twice",
                &reason,
            );
            return;
        }
    };
    let mut daemon = Daemon::prepare(
        "workers = 2\njob_timeout = \"6s\"\n[[schedule]]\nname = \"tick\"\nscript = \"ok\"\nevery = \"1s\"",
        &[("ok", OK), ("sleepy", SLEEPY)],
    );
    let offset = daemon.dir.path().join("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    daemon.launch_with(&[
        ("LD_PRELOAD", preload.to_str().unwrap()),
        ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
        ("FAKETIME_NO_CACHE", "1"),
        ("DONT_FAKE_MONOTONIC", "1"),
    ]);
    daemon.wait_for("a few runs", Duration::from_secs(15), || {
        runs(&daemon, "tick").len() >= 2
    });

    // Forward 2 h while a 3 s job runs under a 6 s deadline.
    let sleeper = daemon.enqueue(job("sleepy", "{}"));
    daemon.wait_for("the sleeper runs", Duration::from_secs(10), || {
        daemon.job_state(sleeper) == JobState::Running
    });
    let before_jump = runs(&daemon, "tick").len();
    std::fs::write(&offset, "+7200\n").unwrap();
    let jumped = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let after_forward = runs(&daemon, "tick").len();
    let last_slot: i64 = daemon
        .store()
        .all_jobs(JobFilter::default())
        .iter()
        .filter_map(|job| job.schedule_slot_ms)
        .max()
        .expect("a scheduled run");
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        last_slot > real_now + 3_600_000,
        "the daemon's wall clock did not jump (slot {last_slot}, real now {real_now})"
    );
    println!(
        "forward 2 h: {} runs in the 3 s after the jump (7,200 slots were skipped)",
        after_forward - before_jump
    );
    assert!(
        after_forward - before_jump <= 5,
        "a forward jump fired a burst: {} runs",
        after_forward - before_jump
    );
    daemon.wait_for("the sleeper completes", Duration::from_secs(10), || {
        daemon.job_state(sleeper) == JobState::Completed
    });
    let attempts = daemon.attempts(sleeper);
    assert_eq!(
        attempts,
        vec![(1, OutcomeKind::Completed)],
        "the jump did not kill the job early ({:?} after the jump)",
        jumped.elapsed()
    );

    // Back 2 h: slots already fired lie in the future now; none may fire again.
    std::fs::write(&offset, "+0\n").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let keys = runs(&daemon, "tick");
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    println!(
        "back 2 h: {} runs in total, {} distinct slots",
        keys.len(),
        unique.len()
    );
    assert_eq!(keys.len(), unique.len(), "a slot fired twice: {keys:?}");
    let ids: Vec<i64> = daemon
        .store()
        .all_jobs(JobFilter::default())
        .iter()
        .map(|job| job.id.0)
        .collect();
    daemon.stop();
    daemon.assert_invariants(&ids);
}
