//! Schedules through `JobStore`, once per backend, with a manual clock: one job per slot
//! across repeated calls, coalesced and skipped catch-up, overlap skip / queue, a clock
//! that jumps back, failure streaks through the real complete/fail API, enable,
//! reconciliation from config, manual runs, jitter, alignment across reopen, cron across
//! DST, enqueue failures and definition checks.

use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::schedule::*;
use jobvisor_store::*;
use tempfile::TempDir;

use super::common::{SCRIPT, options};
use super::{Backend, Sqlite};

const MINUTE: i64 = 60_000;
const T0: i64 = 1_700_000_400_000 + 1_000; // one second after a 10-minute boundary

struct Fixture<B: Backend> {
    dir: TempDir,
    clock: Arc<ManualClock>,
    store: B::Store,
}

async fn fixture<B: Backend>() -> Fixture<B> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = B::open_with(dir.path(), options(&clock));
    store.add_script("echo", SCRIPT).await.unwrap();
    Fixture { dir, clock, store }
}

fn every_minute(name: &str) -> ScheduleDef {
    ScheduleDef::new(
        name,
        "echo",
        Timing::every(Duration::from_secs(60)).unwrap(),
    )
}

impl<B: Backend> Fixture<B> {
    /// A restart: the handle closes and the store opens again, in a new epoch.
    async fn reopen(&mut self) {
        self.store.clone().close().await.unwrap();
        self.store = B::open_with(self.dir.path(), options(&self.clock));
    }

    async fn upsert(&self, def: ScheduleDef) -> UpsertOutcome {
        self.store.upsert_schedule(def).await.unwrap()
    }

    async fn fire(&self) -> FireReport {
        self.store.fire_due_schedules().await.unwrap()
    }

    async fn at(&self, now: i64) -> FireReport {
        self.clock.set(now);
        self.fire().await
    }

    async fn schedule(&self, name: &str) -> ScheduleInfo {
        self.store
            .get_schedule(name, 0)
            .await
            .unwrap()
            .unwrap()
            .info
    }

    async fn runs(&self, name: &str) -> Vec<ScheduleRun> {
        self.store
            .get_schedule(name, 1000)
            .await
            .unwrap()
            .unwrap()
            .recent_runs
    }

    async fn all_jobs(&self) -> Vec<JobInfo> {
        self.store
            .list_jobs(JobFilter {
                limit: u32::MAX,
                ..JobFilter::default()
            })
            .await
            .unwrap()
    }

    async fn claim_one(&self) -> ClaimedJob {
        let mut jobs = self.store.claim_batch(1).await.unwrap().jobs;
        assert_eq!(jobs.len(), 1, "one job to claim");
        jobs.remove(0)
    }

    async fn complete(&self, job: &ClaimedJob) {
        let completion = Completion {
            attempt: job.attempt_ref(),
            result: None,
            report: AttemptReport::default(),
            effects: Default::default(),
        };
        assert!(self.store.complete(completion).await.unwrap().is_applied());
    }

    async fn fail(&self, job: &ClaimedJob, message: &str) -> FailDisposition {
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
        match self.store.fail(failure).await.unwrap() {
            Fenced::Applied(disposition) => disposition,
            Fenced::Stale(reason) => panic!("stale: {reason:?}"),
        }
    }
}

/// The first one-minute slot after T0.
fn slot(k: i64) -> i64 {
    (T0 / MINUTE + 1 + k) * MINUTE
}

async fn one_job_per_slot_across_repeated_calls<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = every_minute("tick");
    def.overlap = OverlapPolicy::Allow;
    let created = f.upsert(def).await;
    assert!(created.created);
    assert_eq!(created.next_run_at_ms, Some(slot(0)));

    let report = f.fire().await;
    assert!(report.fired.is_empty(), "nothing due before the first slot");
    assert_eq!(report.next_due_ms, Some(slot(0)));

    let report = f.at(slot(0)).await;
    assert_eq!(report.fired.len(), 1);
    let run = &report.fired[0];
    assert_eq!((run.slot_ms, run.coalesced_slots), (Some(slot(0)), 1));
    assert_eq!(report.next_due_ms, Some(slot(1)));
    for now in [slot(0), slot(0) + 1, slot(1) - 1] {
        assert!(f.at(now).await.fired.is_empty(), "slot fired once only");
    }
    assert_eq!(f.at(slot(1)).await.fired.len(), 1);
    assert_eq!(f.at(slot(1) + 30_000).await.fired.len(), 0);

    let jobs = f.all_jobs().await;
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
    let info = f.schedule("tick").await;
    assert_eq!(info.last_slot_ms, Some(slot(1)));
    assert_eq!(info.next_run_at_ms, Some(slot(2)));
    let runs = f.runs("tick").await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].slot_ms, Some(slot(1)), "newest first");
    assert_eq!(runs[0].state, JobState::Available);
}

async fn downtime_of_ten_periods_coalesces_into_one_run<B: Backend>() {
    let f = fixture::<B>().await;
    f.upsert(every_minute("sync")).await;
    assert_eq!(f.at(slot(0)).await.fired.len(), 1);
    // Down for ten periods (and a bit).
    let report = f.at(slot(10) + 5_000).await;
    assert_eq!(
        report.fired.len(),
        0,
        "overlap skip: the first run is still queued"
    );
    assert_eq!(report.skipped.len(), 1);
    // Finish the first run, go down again, come back: one run for all missed slots.
    let job = f.claim_one().await;
    f.complete(&job).await;
    let report = f.at(slot(20) + 5_000).await;
    assert_eq!(report.fired.len(), 1);
    let run = &report.fired[0];
    assert_eq!(run.slot_ms, Some(slot(20)), "the latest missed slot");
    assert_eq!(run.coalesced_slots, 10);
    assert_eq!(report.next_due_ms, Some(slot(21)));
    assert_eq!(f.all_jobs().await.len(), 2);
    assert!(f.at(slot(20) + 6_000).await.fired.is_empty());
}

async fn catch_up_skip_drops_a_late_slot_and_runs_the_next_on_time<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = ScheduleDef::new(
        "report",
        "echo",
        Timing::every(Duration::from_secs(600)).unwrap(),
    );
    def.catch_up = CatchUpPolicy::Skip;
    f.upsert(def).await;
    let first = (T0 / 600_000 + 1) * 600_000;
    // Five minutes late: more than the one-minute grace.
    let report = f.at(first + 5 * MINUTE).await;
    assert!(report.fired.is_empty());
    assert!(matches!(
        report.skipped[0].reason,
        SkipReason::Late {
            late_by_ms: 300_000
        }
    ));
    assert_eq!(report.next_due_ms, Some(first + 600_000));
    let info = f.schedule("report").await;
    assert_eq!(info.skipped_runs, 1);
    assert!(info.last_skip.unwrap().contains("late"));
    // On time (within the grace): runs.
    assert_eq!(f.at(first + 600_000 + 10_000).await.fired.len(), 1);
}

async fn overlap_skip_with_a_running_previous_run_enqueues_nothing<B: Backend>() {
    let f = fixture::<B>().await;
    f.upsert(every_minute("slow")).await;
    assert_eq!(f.at(slot(0)).await.fired.len(), 1);
    let running = f.claim_one().await;
    let report = f.at(slot(1)).await;
    assert!(report.fired.is_empty());
    assert_eq!(
        report.skipped[0].reason,
        SkipReason::Overlap {
            live_job: running.id
        }
    );
    assert_eq!(f.all_jobs().await.len(), 1);
    assert_eq!(f.schedule("slow").await.next_run_at_ms, Some(slot(2)));
    f.complete(&running).await;
    assert_eq!(
        f.at(slot(2)).await.fired.len(),
        1,
        "runs again once the previous ended"
    );
}

async fn overlap_queue_holds_one_run_and_releases_it_when_the_previous_ends<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = every_minute("serial");
    def.overlap = OverlapPolicy::Queue;
    f.upsert(def).await;
    assert_eq!(f.at(slot(0)).await.fired.len(), 1);
    let running = f.claim_one().await;
    let report = f.at(slot(1)).await;
    let held = report.fired[0].clone();
    assert!(held.held);
    assert_eq!(held.run_at_ms, HELD_RUN_AT_MS);
    let report = f.at(slot(2)).await;
    assert!(report.fired.is_empty(), "at most one held run");
    assert_eq!(
        report.skipped[0].reason,
        SkipReason::Overlap {
            live_job: held.job_id
        }
    );
    assert!(
        f.store.claim_batch(5).await.unwrap().jobs.is_empty(),
        "the held run does not start while the previous runs"
    );
    f.clock.set(slot(2) + 7_000);
    f.complete(&running).await;
    let released = f.store.get_job(held.job_id).await.unwrap().unwrap().job;
    assert_eq!(released.state, JobState::Available);
    assert_eq!(released.run_at_ms, slot(2) + 7_000);
    assert_eq!(f.claim_one().await.id, held.job_id);
}

async fn a_clock_jumping_back_never_enqueues_a_slot_again<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = every_minute("clock");
    def.overlap = OverlapPolicy::Allow;
    f.upsert(def.clone()).await;
    assert_eq!(f.at(slot(3)).await.fired.len(), 1);
    // NTP steps the clock back ten minutes.
    assert!(f.at(slot(3) - 10 * MINUTE).await.fired.is_empty());
    // Re-enabling and re-timing while the clock is behind must not re-open old slots.
    assert!(f.store.set_schedule_enabled("clock", true).await.unwrap());
    assert_eq!(f.schedule("clock").await.next_run_at_ms, Some(slot(4)));
    def.timing = Timing::every(Duration::from_secs(120)).unwrap();
    f.upsert(def.clone()).await;
    assert!(f.schedule("clock").await.next_run_at_ms.unwrap() > slot(3));
    def.timing = Timing::every(Duration::from_secs(60)).unwrap();
    f.upsert(def).await;
    for now in [slot(-5), slot(0), slot(3), slot(3) + 59_999] {
        assert!(f.at(now).await.fired.is_empty(), "nothing at {now}");
    }
    assert_eq!(f.at(slot(4)).await.fired[0].slot_ms, Some(slot(4)));
    assert_eq!(f.all_jobs().await.len(), 2);
}

/// Fires slot `k`, runs its job to `outcome` ("ok" completes it, anything else fails it
/// with that message and no retry left) and moves on to the next slot.
async fn run_and<B: Backend>(f: &Fixture<B>, k: &mut i64, outcome: &str) {
    assert_eq!(f.at(slot(*k)).await.fired.len(), 1, "slot {k} fires");
    let job = f.claim_one().await;
    match outcome {
        "ok" => f.complete(&job).await,
        _ => assert_eq!(f.fail(&job, outcome).await, FailDisposition::Discarded),
    }
    *k += 1;
}

async fn consecutive_failures_disable_the_schedule_and_enable_resets_it<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = every_minute("flaky");
    def.max_attempts = Some(1);
    def.disable_after_failures = 3;
    f.upsert(def).await;
    let mut k = 0;
    run_and(&f, &mut k, "boom 1").await;
    run_and(&f, &mut k, "boom 2").await;
    assert_eq!(f.schedule("flaky").await.failure_streak, 2);
    run_and(&f, &mut k, "ok").await;
    assert_eq!(
        f.schedule("flaky").await.failure_streak,
        0,
        "a success resets"
    );
    run_and(&f, &mut k, "boom 3").await;
    run_and(&f, &mut k, "boom 4").await;
    assert!(f.schedule("flaky").await.enabled);
    run_and(&f, &mut k, "x is not a function").await;
    let info = f.schedule("flaky").await;
    assert!(!info.enabled);
    assert_eq!(info.failure_streak, 3);
    assert_eq!(
        info.disabled_reason.as_deref(),
        Some(
            "disabled after 3 consecutive failed runs; last error: TypeError: x is not a function"
        )
    );
    assert_eq!(info.next_run_at_ms, None);
    let report = f.at(slot(20)).await;
    assert!(report.fired.is_empty(), "a disabled schedule does not fire");
    assert_eq!(report.next_due_ms, None);

    assert!(f.store.set_schedule_enabled("flaky", true).await.unwrap());
    let info = f.schedule("flaky").await;
    assert!(info.enabled);
    assert_eq!((info.failure_streak, info.disabled_reason), (0, None));
    assert_eq!(info.next_run_at_ms, Some(slot(21)), "from now, no catch-up");
    assert_eq!(f.at(slot(21)).await.fired.len(), 1);

    assert!(f.store.set_schedule_enabled("flaky", false).await.unwrap());
    let info = f.schedule("flaky").await;
    assert_eq!(
        info.disabled_reason.as_deref(),
        Some("disabled by an operator")
    );
    assert!(!f.store.set_schedule_enabled("nope", true).await.unwrap());
}

async fn retries_do_not_count_until_the_run_is_discarded_and_cancel_does_not_count<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = every_minute("retrying");
    def.max_attempts = Some(2);
    def.disable_after_failures = 1;
    f.upsert(def).await;
    f.at(slot(0)).await;
    let job = f.claim_one().await;
    assert!(matches!(
        f.fail(&job, "once").await,
        FailDisposition::Retry { .. }
    ));
    assert!(
        f.schedule("retrying").await.enabled,
        "a retry is not a failed run"
    );
    let id = job.id;
    assert_eq!(f.store.cancel(id).await.unwrap(), CancelOutcome::Cancelled);
    let info = f.schedule("retrying").await;
    assert!(info.enabled && info.failure_streak == 0);
}

async fn reconcile_from_config_keeps_history_and_leaves_cli_schedules_alone<B: Backend>() {
    let f = fixture::<B>().await;
    let config = |name: &str, payload: &str| {
        let mut def = every_minute(name);
        def.payload = payload.into();
        def.source = ScheduleSource::Config;
        def
    };
    let report = f
        .store
        .reconcile_config_schedules(vec![config("a", "{}"), config("b", "{}")])
        .await
        .unwrap();
    assert_eq!(report.created, vec!["a", "b"]);
    f.upsert(every_minute("from-cli")).await;
    assert_eq!(f.at(slot(0)).await.fired.len(), 3);
    let history = f.schedule("a").await;

    let report = f
        .store
        .reconcile_config_schedules(vec![config("a", "{\"v\":2}"), config("c", "{}")])
        .await
        .unwrap();
    assert_eq!(
        report,
        ReconcileReport {
            created: vec!["c".into()],
            updated: vec!["a".into()],
            removed: vec!["b".into()],
        }
    );
    let a = f.schedule("a").await;
    assert_eq!(a.def.payload, "{\"v\":2}");
    assert_eq!(a.last_slot_ms, history.last_slot_ms);
    assert_eq!(a.last_job_id, history.last_job_id);
    assert_eq!(a.next_run_at_ms, history.next_run_at_ms, "timing unchanged");
    assert_eq!(a.created_at_ms, history.created_at_ms);
    let names: Vec<String> = f
        .store
        .list_schedules()
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.def.name)
        .collect();
    assert_eq!(names, vec!["a", "c", "from-cli"]);
    assert!(
        f.store.get_schedule("b", 5).await.unwrap().is_none(),
        "b is gone"
    );

    // Applying the same config again changes nothing.
    let again = f
        .store
        .reconcile_config_schedules(vec![config("a", "{\"v\":2}"), config("c", "{}")])
        .await
        .unwrap();
    assert_eq!(again, ReconcileReport::default());
    let err = f
        .store
        .reconcile_config_schedules(vec![config("a", "{}"), config("a", "{}")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("declared twice"));
}

async fn fire_now_runs_outside_the_slots<B: Backend>() {
    let f = fixture::<B>().await;
    f.upsert(every_minute("manual")).await;
    let before = f.schedule("manual").await.next_run_at_ms;
    let run = f.store.fire_schedule_now("manual").await.unwrap().unwrap();
    assert_eq!(run.slot_ms, None);
    let job = f.store.get_job(run.job_id).await.unwrap().unwrap().job;
    assert_eq!(job.unique_key, Some(format!("schedule:manual:manual:{T0}")));
    assert_eq!(job.state, JobState::Available);
    let info = f.schedule("manual").await;
    assert_eq!(info.next_run_at_ms, before);
    assert_eq!(info.last_job_id, Some(run.job_id));
    assert_eq!(f.runs("manual").await[0].slot_ms, None);
    assert!(f.store.fire_schedule_now("nope").await.unwrap().is_none());
}

async fn jitter_delays_the_run_but_not_the_slot<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = every_minute("spread");
    def.jitter = Duration::from_secs(30);
    f.upsert(def).await;
    let report = f.at(slot(0)).await;
    let run = &report.fired[0];
    let expected = slot(0) + jitter_ms("spread", slot(0), Duration::from_secs(30));
    assert_eq!(run.run_at_ms, expected);
    assert_eq!(run.slot_ms, Some(slot(0)));
    let job = f.store.get_job(run.job_id).await.unwrap().unwrap().job;
    assert_eq!(job.run_at_ms, expected);
    assert_eq!(job.unique_key, Some(format!("schedule:spread:{}", slot(0))));
}

async fn interval_slots_stay_aligned_across_restarts<B: Backend>() {
    let mut f = fixture::<B>().await;
    let mut def = every_minute("aligned");
    def.overlap = OverlapPolicy::Allow;
    f.upsert(def.clone()).await;
    f.at(slot(0)).await;
    f.clock.set(slot(0) + 25_000);
    f.reopen().await;
    assert_eq!(f.schedule("aligned").await.next_run_at_ms, Some(slot(1)));
    // The config is applied again at start: same timing, so nothing moves.
    let outcome = f.upsert(def).await;
    assert!(!outcome.timing_changed);
    assert_eq!(f.at(slot(1)).await.fired[0].slot_ms, Some(slot(1)));
    f.reopen().await;
    assert!(f.at(slot(1) + 1).await.fired.is_empty());
    let slots: Vec<i64> = f
        .runs("aligned")
        .await
        .iter()
        .filter_map(|run| run.slot_ms)
        .collect();
    assert_eq!(slots, vec![slot(1), slot(0)]);
}

async fn cron_schedule_fires_in_its_time_zone_across_dst<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-03-28T12:00Z, the day before Berlin springs forward.
    let clock = Arc::new(ManualClock::new(1_774_699_200_000));
    let store = B::open_with(dir.path(), options(&clock));
    store.add_script("echo", SCRIPT).await.unwrap();
    let mut def = ScheduleDef::new(
        "nightly",
        "echo",
        Timing::cron("30 2 * * *", Some("Europe/Berlin")).unwrap(),
    );
    def.overlap = OverlapPolicy::Allow;
    let outcome = store.upsert_schedule(def).await.unwrap();
    // 03:30 CEST = 01:30Z on 2026-03-29.
    let expected = 1_774_747_800_000;
    assert_eq!(outcome.next_run_at_ms, Some(expected));
    let mut fired = Vec::new();
    // Tick every 5 minutes for two days.
    let mut now = 1_774_699_200_000;
    while now < 1_774_699_200_000 + 2 * 86_400_000 {
        clock.set(now);
        let report = store.fire_due_schedules().await.unwrap();
        fired.extend(report.fired.iter().filter_map(|run| run.slot_ms));
        now += 5 * MINUTE;
    }
    assert_eq!(fired, vec![expected, expected + 86_400_000 - 3_600_000]);
}

async fn enqueue_failures_count_as_failed_runs<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = ScheduleDef::new(
        "ghost",
        "missing-script",
        Timing::every(Duration::from_secs(60)).unwrap(),
    );
    def.disable_after_failures = 2;
    f.upsert(def).await;
    let report = f.at(slot(0)).await;
    assert!(matches!(
        report.skipped[0].reason,
        SkipReason::EnqueueFailed { .. }
    ));
    assert_eq!(f.schedule("ghost").await.failure_streak, 1);
    let report = f.at(slot(1)).await;
    assert_eq!(report.disabled, vec!["ghost".to_string()]);
    let info = f.schedule("ghost").await;
    assert!(!info.enabled);
    assert!(
        info.disabled_reason
            .unwrap()
            .contains("last error: enqueue failed: unknown script \"missing-script\"")
    );
    assert!(f.all_jobs().await.is_empty());
}

async fn definitions_are_validated_before_they_reach_the_writer<B: Backend>() {
    let f = fixture::<B>().await;
    let mut def = every_minute("bad");
    def.payload = "{not json".into();
    assert!(matches!(
        f.store.upsert_schedule(def).await,
        Err(StoreError::InvalidPayload { .. })
    ));
    let def = every_minute("has space");
    assert!(matches!(
        f.store.upsert_schedule(def).await,
        Err(StoreError::InvalidRequest(_))
    ));
    assert!(!f.store.remove_schedule("nothing").await.unwrap());
    f.upsert(every_minute("gone")).await;
    assert!(f.store.remove_schedule("gone").await.unwrap());
    assert!(f.store.get_schedule("gone", 5).await.unwrap().is_none());
}

conformance!(sqlite = Sqlite:
    one_job_per_slot_across_repeated_calls,
    downtime_of_ten_periods_coalesces_into_one_run,
    catch_up_skip_drops_a_late_slot_and_runs_the_next_on_time,
    overlap_skip_with_a_running_previous_run_enqueues_nothing,
    overlap_queue_holds_one_run_and_releases_it_when_the_previous_ends,
    a_clock_jumping_back_never_enqueues_a_slot_again,
    consecutive_failures_disable_the_schedule_and_enable_resets_it,
    retries_do_not_count_until_the_run_is_discarded_and_cancel_does_not_count,
    reconcile_from_config_keeps_history_and_leaves_cli_schedules_alone,
    fire_now_runs_outside_the_slots,
    jitter_delays_the_run_but_not_the_slot,
    interval_slots_stay_aligned_across_restarts,
    cron_schedule_fires_in_its_time_zone_across_dst,
    enqueue_failures_count_as_failed_runs,
    definitions_are_validated_before_they_reach_the_writer,
);
