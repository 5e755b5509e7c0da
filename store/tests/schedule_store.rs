//! Schedules in the store with a manual clock: one job per slot across repeated calls,
//! coalesced and skipped catch-up, overlap skip / queue, a clock that jumps back, failure
//! streaks through the real complete/fail API, enable, reconciliation from config,
//! manual runs, jitter, alignment across reopen, and enqueue failures.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::schedule::*;
use jobvisor_store::*;
use tempfile::TempDir;

const MINUTE: i64 = 60_000;
const T0: i64 = 1_700_000_400_000 + 1_000; // one second after a 10-minute boundary
const SCRIPT: &str = "export default async function (payload) { return payload; }";

struct Fixture {
    dir: TempDir,
    clock: Arc<ManualClock>,
    store: SqliteStore,
}

fn options(clock: &Arc<ManualClock>) -> StoreOptions {
    StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = SqliteStore::open(dir.path().join("jobs.db"), options(&clock)).unwrap();
    store.add_script("echo", SCRIPT).wait().unwrap();
    Fixture { dir, clock, store }
}

fn every_minute(name: &str) -> ScheduleDef {
    ScheduleDef::new(
        name,
        "echo",
        Timing::every(Duration::from_secs(60)).unwrap(),
    )
}

impl Fixture {
    fn reopen(&mut self) {
        let old = std::mem::replace(
            &mut self.store,
            SqliteStore::open(self.dir.path().join("other.db"), options(&self.clock)).unwrap(),
        );
        old.close().unwrap();
        self.store =
            SqliteStore::open(self.dir.path().join("jobs.db"), options(&self.clock)).unwrap();
    }

    fn upsert(&self, def: ScheduleDef) -> UpsertOutcome {
        self.store.upsert_schedule(def).wait().unwrap()
    }

    fn fire(&self) -> FireReport {
        self.store.fire_due_schedules().wait().unwrap()
    }

    fn at(&self, now: i64) -> FireReport {
        self.clock.set(now);
        self.fire()
    }

    fn schedule(&self, name: &str) -> ScheduleInfo {
        self.store.get_schedule(name, 0).unwrap().unwrap().info
    }

    fn runs(&self, name: &str) -> Vec<ScheduleRun> {
        self.store
            .get_schedule(name, 1000)
            .unwrap()
            .unwrap()
            .recent_runs
    }

    fn all_jobs(&self) -> Vec<JobInfo> {
        self.store
            .list_jobs(&JobFilter {
                limit: u32::MAX,
                ..JobFilter::default()
            })
            .unwrap()
    }

    fn claim_one(&self) -> ClaimedJob {
        let mut jobs = self.store.claim_batch(1).wait().unwrap().jobs;
        assert_eq!(jobs.len(), 1, "one job to claim");
        jobs.remove(0)
    }

    fn complete(&self, job: &ClaimedJob) {
        let completion = Completion {
            attempt: job.attempt_ref(),
            result: None,
            report: AttemptReport::default(),
        };
        assert!(self.store.complete(completion).wait().unwrap().is_applied());
    }

    fn fail(&self, job: &ClaimedJob, message: &str) -> FailDisposition {
        let failure = Failure {
            attempt: job.attempt_ref(),
            kind: OutcomeKind::JsError,
            error: Some(JobError {
                name: "TypeError".into(),
                message: message.into(),
                stack: None,
            }),
            report: AttemptReport::default(),
        };
        match self.store.fail(failure).wait().unwrap() {
            Fenced::Applied(disposition) => disposition,
            Fenced::Stale(reason) => panic!("stale: {reason:?}"),
        }
    }
}

/// The first one-minute slot after T0.
fn slot(k: i64) -> i64 {
    (T0 / MINUTE + 1 + k) * MINUTE
}

#[test]
fn one_job_per_slot_across_repeated_calls() {
    let f = fixture();
    let mut def = every_minute("tick");
    def.overlap = OverlapPolicy::Allow;
    let created = f.upsert(def);
    assert!(created.created);
    assert_eq!(created.next_run_at_ms, Some(slot(0)));

    let report = f.fire();
    assert!(report.fired.is_empty(), "nothing due before the first slot");
    assert_eq!(report.next_due_ms, Some(slot(0)));

    let report = f.at(slot(0));
    assert_eq!(report.fired.len(), 1);
    let run = &report.fired[0];
    assert_eq!((run.slot_ms, run.coalesced_slots), (Some(slot(0)), 1));
    assert_eq!(report.next_due_ms, Some(slot(1)));
    for now in [slot(0), slot(0) + 1, slot(1) - 1] {
        assert!(f.at(now).fired.is_empty(), "slot fired once only");
    }
    assert_eq!(f.at(slot(1)).fired.len(), 1);
    assert_eq!(f.at(slot(1) + 30_000).fired.len(), 0);

    let jobs = f.all_jobs();
    assert_eq!(jobs.len(), 2);
    let mut keys: Vec<String> = jobs
        .iter()
        .filter_map(|job| job.unique_key.clone())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            format!("schedule:tick:{}", slot(0)),
            format!("schedule:tick:{}", slot(1))
        ]
    );
    let info = f.schedule("tick");
    assert_eq!(info.last_slot_ms, Some(slot(1)));
    assert_eq!(info.next_run_at_ms, Some(slot(2)));
    let runs = f.runs("tick");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].slot_ms, Some(slot(1)), "newest first");
    assert_eq!(runs[0].state, JobState::Available);
}

#[test]
fn downtime_of_ten_periods_coalesces_into_one_run() {
    let f = fixture();
    f.upsert(every_minute("sync"));
    assert_eq!(f.at(slot(0)).fired.len(), 1);
    // Down for ten periods (and a bit).
    let report = f.at(slot(10) + 5_000);
    assert_eq!(
        report.fired.len(),
        0,
        "overlap skip: the first run is still queued"
    );
    assert_eq!(report.skipped.len(), 1);
    // Finish the first run, go down again, come back: one run for all missed slots.
    let job = f.claim_one();
    f.complete(&job);
    let report = f.at(slot(20) + 5_000);
    assert_eq!(report.fired.len(), 1);
    let run = &report.fired[0];
    assert_eq!(run.slot_ms, Some(slot(20)), "the latest missed slot");
    assert_eq!(run.coalesced_slots, 10);
    assert_eq!(report.next_due_ms, Some(slot(21)));
    assert_eq!(f.all_jobs().len(), 2);
    assert!(f.at(slot(20) + 6_000).fired.is_empty());
}

#[test]
fn catch_up_skip_drops_a_late_slot_and_runs_the_next_on_time() {
    let f = fixture();
    let mut def = ScheduleDef::new(
        "report",
        "echo",
        Timing::every(Duration::from_secs(600)).unwrap(),
    );
    def.catch_up = CatchUpPolicy::Skip;
    f.upsert(def);
    let first = (T0 / 600_000 + 1) * 600_000;
    // Five minutes late: more than the one-minute grace.
    let report = f.at(first + 5 * MINUTE);
    assert!(report.fired.is_empty());
    assert!(matches!(
        report.skipped[0].reason,
        SkipReason::Late {
            late_by_ms: 300_000
        }
    ));
    assert_eq!(report.next_due_ms, Some(first + 600_000));
    let info = f.schedule("report");
    assert_eq!(info.skipped_runs, 1);
    assert!(info.last_skip.unwrap().contains("late"));
    // On time (within the grace): runs.
    assert_eq!(f.at(first + 600_000 + 10_000).fired.len(), 1);
}

#[test]
fn overlap_skip_with_a_running_previous_run_enqueues_nothing() {
    let f = fixture();
    f.upsert(every_minute("slow"));
    assert_eq!(f.at(slot(0)).fired.len(), 1);
    let running = f.claim_one();
    let report = f.at(slot(1));
    assert!(report.fired.is_empty());
    assert_eq!(
        report.skipped[0].reason,
        SkipReason::Overlap {
            live_job: running.id
        }
    );
    assert_eq!(f.all_jobs().len(), 1);
    assert_eq!(f.schedule("slow").next_run_at_ms, Some(slot(2)));
    f.complete(&running);
    assert_eq!(
        f.at(slot(2)).fired.len(),
        1,
        "runs again once the previous ended"
    );
}

#[test]
fn overlap_queue_holds_one_run_and_releases_it_when_the_previous_ends() {
    let f = fixture();
    let mut def = every_minute("serial");
    def.overlap = OverlapPolicy::Queue;
    f.upsert(def);
    assert_eq!(f.at(slot(0)).fired.len(), 1);
    let running = f.claim_one();
    let report = f.at(slot(1));
    let held = report.fired[0].clone();
    assert!(held.held);
    assert_eq!(held.run_at_ms, HELD_RUN_AT_MS);
    let report = f.at(slot(2));
    assert!(report.fired.is_empty(), "at most one held run");
    assert_eq!(
        report.skipped[0].reason,
        SkipReason::Overlap {
            live_job: held.job_id
        }
    );
    assert!(
        f.store.claim_batch(5).wait().unwrap().jobs.is_empty(),
        "the held run does not start while the previous runs"
    );
    f.clock.set(slot(2) + 7_000);
    f.complete(&running);
    let released = f.store.get_job(held.job_id).unwrap().unwrap().job;
    assert_eq!(released.state, JobState::Available);
    assert_eq!(released.run_at_ms, slot(2) + 7_000);
    assert_eq!(f.claim_one().id, held.job_id);
}

#[test]
fn a_clock_jumping_back_never_enqueues_a_slot_again() {
    let f = fixture();
    let mut def = every_minute("clock");
    def.overlap = OverlapPolicy::Allow;
    f.upsert(def.clone());
    assert_eq!(f.at(slot(3)).fired.len(), 1);
    // NTP steps the clock back ten minutes.
    assert!(f.at(slot(3) - 10 * MINUTE).fired.is_empty());
    // Re-enabling and re-timing while the clock is behind must not re-open old slots.
    assert!(f.store.set_schedule_enabled("clock", true).wait().unwrap());
    assert_eq!(f.schedule("clock").next_run_at_ms, Some(slot(4)));
    def.timing = Timing::every(Duration::from_secs(120)).unwrap();
    f.upsert(def.clone());
    assert!(f.schedule("clock").next_run_at_ms.unwrap() > slot(3));
    def.timing = Timing::every(Duration::from_secs(60)).unwrap();
    f.upsert(def);
    for now in [slot(-5), slot(0), slot(3), slot(3) + 59_999] {
        assert!(f.at(now).fired.is_empty(), "nothing at {now}");
    }
    assert_eq!(f.at(slot(4)).fired[0].slot_ms, Some(slot(4)));
    assert_eq!(f.all_jobs().len(), 2);
}

#[test]
fn consecutive_failures_disable_the_schedule_and_enable_resets_it() {
    let f = fixture();
    let mut def = every_minute("flaky");
    def.max_attempts = Some(1);
    def.disable_after_failures = 3;
    f.upsert(def);
    let mut k = 0;
    let mut run_and = |outcome: &str| {
        assert_eq!(f.at(slot(k)).fired.len(), 1, "slot {k} fires");
        let job = f.claim_one();
        match outcome {
            "ok" => f.complete(&job),
            _ => assert_eq!(f.fail(&job, outcome), FailDisposition::Discarded),
        }
        k += 1;
    };
    run_and("boom 1");
    run_and("boom 2");
    assert_eq!(f.schedule("flaky").failure_streak, 2);
    run_and("ok");
    assert_eq!(f.schedule("flaky").failure_streak, 0, "a success resets");
    run_and("boom 3");
    run_and("boom 4");
    assert!(f.schedule("flaky").enabled);
    run_and("x is not a function");
    let info = f.schedule("flaky");
    assert!(!info.enabled);
    assert_eq!(info.failure_streak, 3);
    assert_eq!(
        info.disabled_reason.as_deref(),
        Some(
            "disabled after 3 consecutive failed runs; last error: TypeError: x is not a function"
        )
    );
    assert_eq!(info.next_run_at_ms, None);
    let report = f.at(slot(20));
    assert!(report.fired.is_empty(), "a disabled schedule does not fire");
    assert_eq!(report.next_due_ms, None);

    assert!(f.store.set_schedule_enabled("flaky", true).wait().unwrap());
    let info = f.schedule("flaky");
    assert!(info.enabled);
    assert_eq!((info.failure_streak, info.disabled_reason), (0, None));
    assert_eq!(info.next_run_at_ms, Some(slot(21)), "from now, no catch-up");
    assert_eq!(f.at(slot(21)).fired.len(), 1);

    assert!(f.store.set_schedule_enabled("flaky", false).wait().unwrap());
    let info = f.schedule("flaky");
    assert_eq!(
        info.disabled_reason.as_deref(),
        Some("disabled by an operator")
    );
    assert!(!f.store.set_schedule_enabled("nope", true).wait().unwrap());
}

#[test]
fn retries_do_not_count_until_the_run_is_discarded_and_cancel_does_not_count() {
    let f = fixture();
    let mut def = every_minute("retrying");
    def.max_attempts = Some(2);
    def.disable_after_failures = 1;
    f.upsert(def);
    f.at(slot(0));
    let job = f.claim_one();
    assert!(matches!(
        f.fail(&job, "once"),
        FailDisposition::Retry { .. }
    ));
    assert!(
        f.schedule("retrying").enabled,
        "a retry is not a failed run"
    );
    let id = job.id;
    assert_eq!(f.store.cancel(id).wait().unwrap(), CancelOutcome::Cancelled);
    let info = f.schedule("retrying");
    assert!(info.enabled && info.failure_streak == 0);
}

#[test]
fn reconcile_from_config_keeps_history_and_leaves_cli_schedules_alone() {
    let f = fixture();
    let config = |name: &str, payload: &str| {
        let mut def = every_minute(name);
        def.payload = payload.into();
        def.source = ScheduleSource::Config;
        def
    };
    let report = f
        .store
        .reconcile_config_schedules(vec![config("a", "{}"), config("b", "{}")])
        .wait()
        .unwrap();
    assert_eq!(report.created, vec!["a", "b"]);
    f.upsert(every_minute("from-cli"));
    assert_eq!(f.at(slot(0)).fired.len(), 3);
    let history = f.schedule("a");

    let report = f
        .store
        .reconcile_config_schedules(vec![config("a", "{\"v\":2}"), config("c", "{}")])
        .wait()
        .unwrap();
    assert_eq!(
        report,
        ReconcileReport {
            created: vec!["c".into()],
            updated: vec!["a".into()],
            removed: vec!["b".into()],
        }
    );
    let a = f.schedule("a");
    assert_eq!(a.def.payload, "{\"v\":2}");
    assert_eq!(a.last_slot_ms, history.last_slot_ms);
    assert_eq!(a.last_job_id, history.last_job_id);
    assert_eq!(a.next_run_at_ms, history.next_run_at_ms, "timing unchanged");
    assert_eq!(a.created_at_ms, history.created_at_ms);
    let names: Vec<String> = f
        .store
        .list_schedules()
        .unwrap()
        .into_iter()
        .map(|info| info.def.name)
        .collect();
    assert_eq!(names, vec!["a", "c", "from-cli"]);
    assert!(f.store.get_schedule("b", 5).unwrap().is_none(), "b is gone");

    // Applying the same config again changes nothing.
    let again = f
        .store
        .reconcile_config_schedules(vec![config("a", "{\"v\":2}"), config("c", "{}")])
        .wait()
        .unwrap();
    assert_eq!(again, ReconcileReport::default());
    let err = f
        .store
        .reconcile_config_schedules(vec![config("a", "{}"), config("a", "{}")])
        .wait()
        .unwrap_err();
    assert!(err.to_string().contains("declared twice"));
}

#[test]
fn fire_now_runs_outside_the_slots() {
    let f = fixture();
    f.upsert(every_minute("manual"));
    let before = f.schedule("manual").next_run_at_ms;
    let run = f.store.fire_schedule_now("manual").wait().unwrap().unwrap();
    assert_eq!(run.slot_ms, None);
    let job = f.store.get_job(run.job_id).unwrap().unwrap().job;
    assert_eq!(job.unique_key, Some(format!("schedule:manual:manual:{T0}")));
    assert_eq!(job.state, JobState::Available);
    let info = f.schedule("manual");
    assert_eq!(info.next_run_at_ms, before);
    assert_eq!(info.last_job_id, Some(run.job_id));
    assert_eq!(f.runs("manual")[0].slot_ms, None);
    assert!(f.store.fire_schedule_now("nope").wait().unwrap().is_none());
}

#[test]
fn jitter_delays_the_run_but_not_the_slot() {
    let f = fixture();
    let mut def = every_minute("spread");
    def.jitter = Duration::from_secs(30);
    f.upsert(def);
    let report = f.at(slot(0));
    let run = &report.fired[0];
    let expected = slot(0) + jitter_ms("spread", slot(0), Duration::from_secs(30));
    assert_eq!(run.run_at_ms, expected);
    assert_eq!(run.slot_ms, Some(slot(0)));
    let job = f.store.get_job(run.job_id).unwrap().unwrap().job;
    assert_eq!(job.run_at_ms, expected);
    assert_eq!(job.unique_key, Some(format!("schedule:spread:{}", slot(0))));
}

#[test]
fn interval_slots_stay_aligned_across_restarts() {
    let mut f = fixture();
    let mut def = every_minute("aligned");
    def.overlap = OverlapPolicy::Allow;
    f.upsert(def.clone());
    f.at(slot(0));
    f.clock.set(slot(0) + 25_000);
    f.reopen();
    assert_eq!(f.schedule("aligned").next_run_at_ms, Some(slot(1)));
    // The config is applied again at start: same timing, so nothing moves.
    let outcome = f.upsert(def);
    assert!(!outcome.timing_changed);
    assert_eq!(f.at(slot(1)).fired[0].slot_ms, Some(slot(1)));
    f.reopen();
    assert!(f.at(slot(1) + 1).fired.is_empty());
    let slots: Vec<i64> = f
        .runs("aligned")
        .iter()
        .filter_map(|run| run.slot_ms)
        .collect();
    assert_eq!(slots, vec![slot(1), slot(0)]);
}

#[test]
fn cron_schedule_fires_in_its_time_zone_across_dst() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-03-28T12:00Z, the day before Berlin springs forward.
    let clock = Arc::new(ManualClock::new(1_774_699_200_000));
    let store = SqliteStore::open(dir.path().join("jobs.db"), options(&clock)).unwrap();
    store.add_script("echo", SCRIPT).wait().unwrap();
    let mut def = ScheduleDef::new(
        "nightly",
        "echo",
        Timing::cron("30 2 * * *", Some("Europe/Berlin")).unwrap(),
    );
    def.overlap = OverlapPolicy::Allow;
    let outcome = store.upsert_schedule(def).wait().unwrap();
    // 03:30 CEST = 01:30Z on 2026-03-29.
    let expected = 1_774_747_800_000;
    assert_eq!(outcome.next_run_at_ms, Some(expected));
    let mut fired = Vec::new();
    // Tick every 5 minutes for two days.
    let mut now = 1_774_699_200_000;
    while now < 1_774_699_200_000 + 2 * 86_400_000 {
        clock.set(now);
        let report = store.fire_due_schedules().wait().unwrap();
        fired.extend(report.fired.iter().filter_map(|run| run.slot_ms));
        now += 5 * MINUTE;
    }
    assert_eq!(fired, vec![expected, expected + 86_400_000 - 3_600_000]);
}

#[test]
fn enqueue_failures_count_as_failed_runs() {
    let f = fixture();
    let mut def = ScheduleDef::new(
        "ghost",
        "missing-script",
        Timing::every(Duration::from_secs(60)).unwrap(),
    );
    def.disable_after_failures = 2;
    f.upsert(def);
    let report = f.at(slot(0));
    assert!(matches!(
        report.skipped[0].reason,
        SkipReason::EnqueueFailed { .. }
    ));
    assert_eq!(f.schedule("ghost").failure_streak, 1);
    let report = f.at(slot(1));
    assert_eq!(report.disabled, vec!["ghost".to_string()]);
    let info = f.schedule("ghost");
    assert!(!info.enabled);
    assert!(
        info.disabled_reason
            .unwrap()
            .contains("last error: enqueue failed: unknown script \"missing-script\"")
    );
    assert!(f.all_jobs().is_empty());
}

#[test]
fn definitions_are_validated_before_they_reach_the_writer() {
    let f = fixture();
    let mut def = every_minute("bad");
    def.payload = "{not json".into();
    assert!(matches!(
        f.store.upsert_schedule(def).wait(),
        Err(StoreError::InvalidPayload { .. })
    ));
    let def = every_minute("has space");
    assert!(matches!(
        f.store.upsert_schedule(def).wait(),
        Err(StoreError::InvalidRequest(_))
    ));
    assert!(!f.store.remove_schedule("nothing").wait().unwrap());
    f.upsert(every_minute("gone"));
    assert!(f.store.remove_schedule("gone").wait().unwrap());
    assert!(f.store.get_schedule("gone", 5).unwrap().is_none());
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
    assert_eq!(store.settings_blocking().unwrap().writer.user_version, 4);
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
    assert_eq!(store.settings_blocking().unwrap().writer.user_version, 4);
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
