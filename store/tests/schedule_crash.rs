//! Crash test of the schedule fire path with real SIGKILLs. The parent creates a store
//! with one due schedule; a child (this test binary re-executed with
//! `JOBVISOR_SCHEDULE_CRASH_CHILD` and `JOBVISOR_FAILPOINT` set) opens it and fires, and
//! the failpoint SIGKILLs it either between the job INSERT and the `next_run_at` UPDATE
//! (the transaction never commits) or right after the COMMIT. The parent reopens and
//! fires again: exactly one job exists for the slot either way.
#![allow(clippy::unwrap_used)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::failpoint;
use jobvisor_store::schedule::{ScheduleDef, Timing};
use jobvisor_store::*;

const CHILD_ENV: &str = "JOBVISOR_SCHEDULE_CRASH_CHILD";
/// A minute boundary; the fire happens 5 s after it.
const SLOT: i64 = 1_700_000_400_000;
const NOW: i64 = SLOT + 5_000;

fn open(path: &Path, now: i64) -> SqliteStore {
    let options = StoreOptions {
        clock: Arc::new(ManualClock::new(now)),
        ..StoreOptions::default()
    };
    SqliteStore::open(path, options).unwrap()
}

/// The child role: a no-op unless the parent set the environment variable.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = open(Path::new(&path), NOW);
    let report = store.fire_due_schedules().wait();
    // Only reached if the failpoint did not fire: the parent sees a clean exit and fails.
    eprintln!("child survived the failpoint: {report:?}");
}

fn jobs_for_slot(store: &SqliteStore) -> Vec<JobInfo> {
    store
        .list_jobs(&JobFilter::default())
        .unwrap()
        .into_iter()
        .filter(|job| job.unique_key.as_deref() == Some(&format!("schedule:tick:{SLOT}")))
        .collect()
}

fn crash_at(point: &str, committed_jobs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let store = open(&path, SLOT - 30_000);
    store
        .add_script("echo", "export default () => 1;")
        .wait()
        .unwrap();
    let def = ScheduleDef::new(
        "tick",
        "echo",
        Timing::every(Duration::from_secs(60)).unwrap(),
    );
    let created = store.upsert_schedule(def).wait().unwrap();
    assert_eq!(created.next_run_at_ms, Some(SLOT));
    store.close().unwrap();

    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .env(failpoint::ENV, format!("{point}=sigkill"))
        .status()
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{point}: the child must die by SIGKILL at the failpoint, got {status:?}"
    );

    let store = open(&path, NOW);
    store.quick_check().unwrap();
    assert_eq!(
        jobs_for_slot(&store).len(),
        committed_jobs,
        "{point}: jobs after the crash"
    );
    let info = store.get_schedule("tick", 10).unwrap().unwrap().info;
    let report = store.fire_due_schedules().wait().unwrap();
    if committed_jobs == 0 {
        assert_eq!(
            info.next_run_at_ms,
            Some(SLOT),
            "rolled back with the insert"
        );
        assert_eq!(report.fired.len(), 1, "the slot fires after the restart");
        assert_eq!(report.fired[0].slot_ms, Some(SLOT));
    } else {
        assert_eq!(info.last_slot_ms, Some(SLOT), "committed with the insert");
        assert!(report.fired.is_empty(), "the slot is not fired twice");
    }
    assert!(store.fire_due_schedules().wait().unwrap().fired.is_empty());
    let jobs = jobs_for_slot(&store);
    assert_eq!(jobs.len(), 1, "{point}: exactly one job for the slot");
    assert_eq!(
        store.list_jobs(&JobFilter::default()).unwrap().len(),
        1,
        "and no other job"
    );
    store.close().unwrap();
}

#[test]
fn kill_between_insert_and_advance_leaves_no_duplicate() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    crash_at(failpoint::FIRE_BETWEEN, 0);
}

#[test]
fn kill_after_commit_leaves_no_duplicate() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    crash_at(failpoint::FIRE_AFTER_COMMIT, 1);
}
