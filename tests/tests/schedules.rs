//! Schedules end to end: a real daemon firing interval schedules on the wall clock, a
//! restart after downtime, a SIGKILL inside the fire transaction, overlap, and a failing
//! schedule that disables itself.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use jobvisor_supervisor::schedule::OverlapPolicy;
use jobvisor_tests::config::{ConfigBuilder, Schedule};
use jobvisor_tests::daemon::Daemon;
use jobvisor_tests::store_view::{JobFilter, JobState};
use jobvisor_tests::{bin, fixture};

/// `workers` workers, the script `ok` (it returns its job's id) and the schedule `tick`
/// running it every `every`.
fn ticking(workers: u32, every: &str) -> ConfigBuilder {
    ConfigBuilder::new()
        .workers(workers)
        .script("ok", &fixture::job("ran-job-id"))
        .schedule(Schedule::every("tick", "ok", every))
}

/// (id, unique key `schedule:<name>:<slot>`) of every run of schedule `name`, oldest
/// first.
fn schedule_jobs(daemon: &Daemon, name: &str) -> Vec<(i64, String)> {
    let prefix = format!("schedule:{name}:");
    daemon
        .store()
        .all_jobs(JobFilter::default())
        .into_iter()
        .filter_map(|job| Some((job.id.0, job.unique_key?)))
        .filter(|(_, key)| key.starts_with(&prefix))
        .collect()
}

fn cli(daemon: &Daemon, args: &[&str]) -> String {
    let out = std::process::Command::new(bin("jobvisor"))
        .args(args)
        .arg("--config")
        .arg(&daemon.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_one_second_interval_fires_about_ten_times_in_ten_seconds() {
    let mut daemon = Daemon::start_with(ticking(2, "1s"));
    std::thread::sleep(Duration::from_secs(10));
    daemon.stop();
    let jobs = schedule_jobs(&daemon, "tick");
    assert!(
        (9..=11).contains(&jobs.len()),
        "{} runs in 10 s",
        jobs.len()
    );
    let mut keys: Vec<&String> = jobs.iter().map(|(_, k)| k).collect();
    keys.dedup();
    assert_eq!(keys.len(), jobs.len(), "one job per slot");
    // A slot that fires in the instant the drain begins stays queued for the next start.
    let completed = daemon.count_in_state(JobState::Completed);
    let queued = daemon.count_in_state(JobState::Available);
    assert!(
        completed + queued == jobs.len() && queued <= 1,
        "{completed} completed and {queued} queued of {} runs",
        jobs.len()
    );
}

#[test]
fn missed_slots_while_stopped_coalesce_into_one_run() {
    let mut daemon = Daemon::start_with(ticking(1, "1s"));
    daemon.wait_for("a first run", Duration::from_secs(10), || {
        !schedule_jobs(&daemon, "tick").is_empty()
    });
    daemon.stop();
    let before = schedule_jobs(&daemon, "tick").len();
    // Down for ten periods.
    std::thread::sleep(Duration::from_millis(10_500));
    daemon.launch();
    daemon.wait_for("the catch-up run", Duration::from_secs(10), || {
        schedule_jobs(&daemon, "tick").len() > before
    });
    let after_restart = schedule_jobs(&daemon, "tick").len();
    daemon.stop();
    // One catch-up run, plus at most one regular slot in the moments after the restart.
    assert!(
        after_restart - before <= 2,
        "{} runs right after a 10-period downtime (expected one catch-up run)",
        after_restart - before
    );
}

#[test]
fn a_sigkill_inside_the_fire_transaction_produces_no_duplicate() {
    for failpoint in [
        "schedule-fire-between=sigkill",
        "schedule-fire-after-commit=sigkill",
    ] {
        let mut daemon = Daemon::prepare_with(ticking(1, "3s"));
        let signal = daemon.launch_until_death(
            &[("JOBVISOR_FAILPOINT", failpoint)],
            Duration::from_secs(20),
        );
        assert_eq!(
            signal,
            Some(libc::SIGKILL),
            "{failpoint}: {}",
            daemon.log_text()
        );
        daemon.launch();
        daemon.wait_for("a run after the restart", Duration::from_secs(15), || {
            !schedule_jobs(&daemon, "tick").is_empty()
        });
        std::thread::sleep(Duration::from_millis(500));
        daemon.stop();
        let jobs = schedule_jobs(&daemon, "tick");
        let mut keys: Vec<&String> = jobs.iter().map(|(_, k)| k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(
            keys.len(),
            jobs.len(),
            "{failpoint}: a slot was enqueued twice: {jobs:?}"
        );
        assert_eq!(
            daemon.store().total_jobs(),
            jobs.len(),
            "{failpoint}: only schedule jobs exist"
        );
    }
}

#[test]
fn overlap_skip_does_not_pile_up_behind_a_slow_run() {
    let mut daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(2)
            .job_timeout("30s")
            .schedule(Schedule::every("slow", "slow", "1s").overlap(OverlapPolicy::Skip))
            .script("slow", &fixture::job("sleep-3500ms")),
    );
    std::thread::sleep(Duration::from_millis(5_500));
    let counts = daemon.store().counts_by_state();
    let live: usize = [JobState::Available, JobState::Running, JobState::Scheduled]
        .iter()
        .filter_map(|state| counts.get(state))
        .sum();
    assert!(live <= 1, "{live} runs of the schedule live at once");
    let runs = schedule_jobs(&daemon, "slow").len();
    assert!(
        runs <= 2,
        "{runs} runs in 5.5 s of a 3.5 s job every second with overlap skip"
    );
    let shown = cli(&daemon, &["schedules", "show", "slow"]);
    assert!(shown.contains("last skipped slot"), "{shown}");
    daemon.stop();
}

#[test]
fn a_failing_schedule_disables_itself_and_enable_resets_it() {
    let daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(1)
            .max_attempts(1)
            .schedule(Schedule::every("flaky", "throws", "1s").disable_after_failures(3))
            .fixture_script("throws"),
    );
    daemon.wait_for(
        "the schedule to disable itself",
        Duration::from_secs(20),
        || cli(&daemon, &["schedules", "list"]).contains("DISABLED"),
    );
    let listed = cli(&daemon, &["schedules", "list"]);
    assert!(
        listed.contains("disabled after 3 consecutive failed runs"),
        "{listed}"
    );
    assert!(listed.contains("upstream is down"), "{listed}");
    let runs = schedule_jobs(&daemon, "flaky").len();
    assert_eq!(runs, 3, "it stopped firing after the third failure");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        schedule_jobs(&daemon, "flaky").len(),
        3,
        "a disabled schedule does not fire"
    );
    assert!(cli(&daemon, &["schedules", "enable", "flaky"]).contains("enabled"));
    let json: serde_json::Value =
        serde_json::from_str(&cli(&daemon, &["schedules", "list", "--json"])).unwrap();
    assert_eq!(json[0]["enabled"], true);
    assert_eq!(json[0]["failure_streak"], 0);
    daemon.wait_for("it to fire again", Duration::from_secs(10), || {
        schedule_jobs(&daemon, "flaky").len() > 3
    });
}

#[test]
fn schedules_can_be_managed_from_the_cli() {
    let daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(1)
            .script("ok", &fixture::job("ran-job-id")),
    );
    let added = cli(
        &daemon,
        &[
            "schedules",
            "add",
            "nightly",
            "--script",
            "ok",
            "--cron",
            "30 2 * * *",
            "--timezone",
            "Europe/Berlin",
        ],
    );
    assert!(added.contains("schedule nightly added"), "{added}");
    let listed = cli(&daemon, &["schedules", "list"]);
    assert!(
        listed.contains("cron 30 2 * * * (Europe/Berlin)"),
        "{listed}"
    );
    let job: i64 = cli(&daemon, &["schedules", "run", "nightly"])
        .trim()
        .parse()
        .unwrap();
    daemon.wait_for("the manual run", Duration::from_secs(10), || {
        daemon.job_state(job) == JobState::Completed
    });
    assert!(cli(&daemon, &["schedules", "show", "nightly"]).contains("manual"));
    assert!(cli(&daemon, &["schedules", "disable", "nightly"]).contains("disabled"));
    assert!(cli(&daemon, &["schedules", "remove", "nightly"]).contains("removed"));
    let out = std::process::Command::new(bin("jobvisor"))
        .args([
            "schedules",
            "add",
            "bad",
            "--script",
            "ok",
            "--cron",
            "61 * * * *",
            "--config",
        ])
        .arg(&daemon.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cron field minute"));
}
