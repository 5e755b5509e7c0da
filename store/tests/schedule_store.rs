//! Schedules in SQLite files written by earlier schema versions: the upgrade keeps their
//! jobs, held runs and failure streaks. These need raw SQL to write an old file and
//! `settings_blocking` to read the schema version, so they stay SQLite-only; the schedule
//! rules every backend must keep are in `conformance/schedules.rs`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::schedule::*;
use jobvisor_store::*;

mod common;
use common::options;

const MINUTE: i64 = 60_000;
const T0: i64 = 1_700_000_400_000 + 1_000; // one second after a 10-minute boundary

fn every_minute(name: &str) -> ScheduleDef {
    ScheduleDef::new(
        name,
        "echo",
        Timing::every(Duration::from_secs(60)).unwrap(),
    )
}

/// The first one-minute slot after T0.
fn slot(k: i64) -> i64 {
    (T0 / MINUTE + 1 + k) * MINUTE
}

#[test]
fn a_version_1_database_with_jobs_migrates_to_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/migrations/0001_init.sql"))
            .unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO scripts (id, name, hash, source, created_at) VALUES (1, 'echo', 'h', 's', 0);
             INSERT INTO script_heads (name, script_id, updated_at) VALUES ('echo', 1, 0);
             INSERT INTO queues (name) VALUES ('default');
             INSERT INTO jobs (queue, script_id, state, run_at, max_attempts, payload, created_at)
             VALUES ('default', 1, 'available', 0, 3, '{}', 0);",
        )
        .unwrap();
    }
    let clock = Arc::new(ManualClock::new(T0));
    let store = SqliteStore::open(&path, options(&clock)).unwrap();
    assert_eq!(store.settings_blocking().unwrap().writer.user_version, 5);
    let old = store.claim_batch(5).wait().unwrap().jobs;
    assert_eq!(old.len(), 1, "the old job survived the migration");
    store
        .upsert_schedule(every_minute("after-upgrade"))
        .wait()
        .unwrap();
    clock.set(slot(0));
    assert_eq!(store.fire_due_schedules().wait().unwrap().fired.len(), 1);
}

/// A file written by schema version 2, when the streak and the held run were kept by
/// triggers: after the upgrade (which drops them) the same rules hold, applied by the
/// store's code.
#[test]
fn a_version_2_database_with_a_held_run_and_a_streak_keeps_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/migrations/0001_init.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../src/migrations/0002_schedules.sql"))
            .unwrap();
        conn.execute_batch(&format!(
            "PRAGMA user_version = 2;
             UPDATE meta SET value = 2 WHERE key = 'schema_version';
             INSERT INTO scripts (id, name, hash, source, created_at) VALUES (1, 'echo', 'h', 's', 0);
             INSERT INTO script_heads (name, script_id, updated_at) VALUES ('echo', 1, 0);
             INSERT INTO queues (name) VALUES ('default');
             INSERT INTO schedules (name, script_name, kind, spec, overlap, max_failures,
                                    failure_streak, next_run_at, created_at, updated_at)
             VALUES ('nightly', 'echo', 'interval', '60000', 'queue', 2, 1, {next}, 0, 0);
             INSERT INTO jobs (id, queue, script_id, state, run_at, max_attempts, payload,
                               created_at, schedule_name, schedule_slot_ms)
             VALUES (1, 'default', 1, 'available', 0, 1, '{{}}', 0, 'nightly', 0),
                    (2, 'default', 1, 'scheduled', {HELD_RUN_AT_MS}, 1, '{{}}', 0, 'nightly',
                     60000);",
            next = slot(1),
        ))
        .unwrap();
    }
    let clock = Arc::new(ManualClock::new(T0));
    let store = SqliteStore::open(&path, options(&clock)).unwrap();
    assert_eq!(store.settings_blocking().unwrap().writer.user_version, 5);
    let live = store.claim_batch(5).wait().unwrap().jobs;
    assert_eq!(
        live.len(),
        1,
        "only the live run is claimable, not the held one"
    );
    assert_eq!(live[0].id, JobId(1));
    assert_eq!(store.list_queues().unwrap()[0].running, 1);
    let failure = Failure {
        attempt: live[0].attempt_ref(),
        kind: OutcomeKind::JsError,
        error: Some(JobError {
            name: "Error".into(),
            message: "boom".into(),
            stack: None,
        }),
        report: AttemptReport::default(),
    };
    assert_eq!(
        store.fail(failure).wait().unwrap(),
        Fenced::Applied(FailDisposition::Discarded)
    );
    assert_eq!(store.list_queues().unwrap()[0].running, 0);
    let info = store.get_schedule("nightly", 0).unwrap().unwrap().info;
    assert_eq!(
        info.failure_streak, 2,
        "the stored streak of 1 was extended"
    );
    assert!(!info.enabled, "the limit of 2 disabled it");
    assert_eq!(info.next_run_at_ms, None);
    assert_eq!(
        info.disabled_reason.as_deref(),
        Some("disabled after 2 consecutive failed runs; last error: Error: boom")
    );
    let held = store.claim_batch(5).wait().unwrap().jobs;
    assert_eq!(
        held.len(),
        1,
        "the held run was released when the live one ended"
    );
    assert_eq!(held[0].id, JobId(2));
}
