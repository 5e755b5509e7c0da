//! Schedule storage and firing: the writer-thread commands (upsert, remove, enable,
//! config reconciliation, fire due slots, fire now) and the schedule reads.
//!
//! Exactly one job per slot rests on three things, all in the writer's transaction:
//! the job INSERT and the advance of `next_run_at` / `last_slot_ms` commit together;
//! a slot at or before `last_slot_ms` is never enqueued (a clock that went back cannot
//! replay slots); and the job carries the unique key `schedule:<name>:<slot_ms>`.
//! Run outcomes (failure streak, auto-disable, releasing a held run) are decided by
//! `policy` and applied by `lifecycle`, in the transaction that ends the run.
//!
//! Must not: begin or commit transactions (the writer does), or decide when to fire.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::error::{StoreError, db_error, stored_outcome, stored_state};
use super::jobs::validate_enqueue;
use super::policy::RunEnd;
use super::read_pool::ReadPool;
use super::types::*;
use super::writer::Writer;
use super::{StoreOptions, duration_ms};
use crate::failpoint;
use crate::schedule::{
    CatchUpPolicy, FireReport, FiredRun, HELD_RUN_AT_MS, OverlapPolicy, ReconcileReport,
    SKIP_LATE_GRACE, ScheduleDef, ScheduleDetail, ScheduleInfo, ScheduleRun, ScheduleSource,
    SkipReason, SkippedSlot, Timing, UpsertOutcome, jitter_ms,
};

/// Schedules handled per `fire_due_schedules` call; the rest stay due (`next_due_ms` is
/// then in the past and the caller calls again).
const FIRE_BATCH: i64 = 256;
/// Missed slots counted at most when coalescing (the count is informational).
const MAX_COUNTED_SLOTS: u64 = 1_000;

const SCHEDULE_COLUMNS: &str = "name, script_name, payload, queue, kind, spec, time_zone,
    overlap, catch_up, priority, max_attempts, timeout_ms, jitter_ms, max_failures, source,
    enabled, disabled_reason, failure_streak, next_run_at, last_slot_ms, last_run_at,
    last_job_id, skipped_runs, last_skip, created_at, updated_at";

const LIVE_STATES: &str = "('scheduled', 'available', 'running', 'retryable')";

/// Checks a definition on the caller's thread: name, timing-independent fields, and the
/// job fields exactly as an enqueue would.
pub(crate) fn validate_def(options: &StoreOptions, def: &ScheduleDef) -> Result<(), StoreError> {
    crate::limits::check_name(crate::limits::NameKind::Schedule, &def.name)
        .map_err(StoreError::InvalidRequest)?;
    if i64::try_from(def.jitter.as_millis()).is_err() {
        return Err(StoreError::InvalidRequest("jitter is too large".into()));
    }
    validate_enqueue(options, &job_request(def, None, RunAt::Now))
}

fn job_request(def: &ScheduleDef, unique_key: Option<String>, run_at: RunAt) -> EnqueueRequest {
    EnqueueRequest {
        script: def.script.clone(),
        payload: def.payload.clone(),
        queue: def.queue.clone(),
        priority: def.priority,
        run_at,
        max_attempts: def.max_attempts,
        timeout: def.timeout,
        unique_key,
        backoff: None,
    }
}

fn slot_key(name: &str, slot_ms: i64) -> String {
    format!("schedule:{name}:{slot_ms}")
}

fn ms_to_duration(ms: Option<i64>) -> Option<Duration> {
    ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// A schedules row as read, before its timing is parsed.
struct RawSchedule {
    name: String,
    script: String,
    payload: String,
    queue: String,
    kind: String,
    spec: String,
    timezone: Option<String>,
    overlap: String,
    catch_up: String,
    priority: i64,
    max_attempts: Option<i64>,
    timeout_ms: Option<i64>,
    jitter_ms: i64,
    max_failures: Option<i64>,
    source: String,
    enabled: bool,
    disabled_reason: Option<String>,
    failure_streak: i64,
    next_run_at: Option<i64>,
    last_slot_ms: Option<i64>,
    last_run_at: Option<i64>,
    last_job_id: Option<i64>,
    skipped_runs: i64,
    last_skip: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn raw_schedule(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawSchedule> {
    Ok(RawSchedule {
        name: row.get(0)?,
        script: row.get(1)?,
        payload: row.get(2)?,
        queue: row.get(3)?,
        kind: row.get(4)?,
        spec: row.get(5)?,
        timezone: row.get(6)?,
        overlap: row.get(7)?,
        catch_up: row.get(8)?,
        priority: row.get(9)?,
        max_attempts: row.get(10)?,
        timeout_ms: row.get(11)?,
        jitter_ms: row.get(12)?,
        max_failures: row.get(13)?,
        source: row.get(14)?,
        enabled: row.get(15)?,
        disabled_reason: row.get(16)?,
        failure_streak: row.get(17)?,
        next_run_at: row.get(18)?,
        last_slot_ms: row.get(19)?,
        last_run_at: row.get(20)?,
        last_job_id: row.get(21)?,
        skipped_runs: row.get(22)?,
        last_skip: row.get(23)?,
        created_at: row.get(24)?,
        updated_at: row.get(25)?,
    })
}

impl RawSchedule {
    fn into_info(self, path: &std::path::Path) -> Result<ScheduleInfo, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("schedule {:?}: {detail}", self.name),
        };
        let timing = Timing::from_stored(&self.kind, &self.spec, self.timezone.as_deref())
            .map_err(|err| corrupt(err.to_string()))?;
        let overlap = OverlapPolicy::parse(&self.overlap)
            .ok_or_else(|| corrupt(format!("overlap {:?}", self.overlap)))?;
        let catch_up = CatchUpPolicy::parse(&self.catch_up)
            .ok_or_else(|| corrupt(format!("catch_up {:?}", self.catch_up)))?;
        let source = ScheduleSource::parse(&self.source)
            .ok_or_else(|| corrupt(format!("source {:?}", self.source)))?;
        let def = ScheduleDef {
            name: self.name,
            script: self.script,
            payload: self.payload,
            timing,
            queue: self.queue,
            priority: i32::try_from(self.priority).unwrap_or(0),
            timeout: ms_to_duration(self.timeout_ms),
            max_attempts: self.max_attempts.map(to_u32),
            jitter: ms_to_duration(Some(self.jitter_ms)).unwrap_or_default(),
            overlap,
            catch_up,
            disable_after_failures: self.max_failures.map_or(0, to_u32),
            source,
        };
        Ok(ScheduleInfo {
            def,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            failure_streak: to_u32(self.failure_streak),
            next_run_at_ms: self.next_run_at,
            last_slot_ms: self.last_slot_ms,
            last_run_at_ms: self.last_run_at,
            last_job_id: self.last_job_id.map(JobId),
            skipped_runs: u64::try_from(self.skipped_runs).unwrap_or(0),
            last_skip: self.last_skip,
            created_at_ms: self.created_at,
            updated_at_ms: self.updated_at,
        })
    }
}

/// The first slot that may still run: after now, and after the last consumed slot.
fn next_slot(timing: &Timing, now: i64, last_slot: Option<i64>) -> Option<i64> {
    timing.next_after(last_slot.map_or(now, |last| last.max(now)))
}

/// What firing decided for one due schedule.
enum Decision {
    Enqueue { held: bool },
    Skip(SkipReason),
}

impl Writer {
    fn load_schedule(&self, name: &str) -> Result<Option<ScheduleInfo>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([name], raw_schedule).optional())
            .map_err(self.err("read schedule"))?;
        raw.map(|raw| raw.into_info(&self.path)).transpose()
    }

    pub(crate) fn upsert_schedule(
        &mut self,
        def: &ScheduleDef,
    ) -> Result<UpsertOutcome, StoreError> {
        let now = self.now();
        let err = self.err("upsert schedule");
        let existing = self.load_schedule(&def.name)?;
        let timing_changed = existing
            .as_ref()
            .is_none_or(|old| old.def.timing != def.timing);
        if existing.as_ref().is_some_and(|old| old.def == *def) {
            return Ok(UpsertOutcome {
                created: false,
                timing_changed: false,
                next_run_at_ms: existing.and_then(|old| old.next_run_at_ms),
            });
        }
        let next_run_at = match &existing {
            None => next_slot(&def.timing, now, None),
            Some(old) if !old.enabled => None,
            Some(old) if timing_changed => next_slot(&def.timing, now, old.last_slot_ms),
            Some(old) => old.next_run_at_ms,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO schedules (name, script_name, payload, queue, kind, spec, time_zone,
                                        overlap, catch_up, priority, max_attempts, timeout_ms,
                                        jitter_ms, max_failures, source, next_run_at,
                                        created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?17)
                 ON CONFLICT (name) DO UPDATE SET
                     script_name = excluded.script_name, payload = excluded.payload,
                     queue = excluded.queue, kind = excluded.kind, spec = excluded.spec,
                     time_zone = excluded.time_zone, overlap = excluded.overlap,
                     catch_up = excluded.catch_up, priority = excluded.priority,
                     max_attempts = excluded.max_attempts, timeout_ms = excluded.timeout_ms,
                     jitter_ms = excluded.jitter_ms, max_failures = excluded.max_failures,
                     source = excluded.source, next_run_at = excluded.next_run_at,
                     updated_at = excluded.updated_at",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    def.name,
                    def.script,
                    def.payload,
                    def.queue,
                    def.timing.kind(),
                    def.timing.spec_text(),
                    def.timing.timezone(),
                    def.overlap.as_str(),
                    def.catch_up.as_str(),
                    def.priority,
                    def.max_attempts,
                    def.timeout.map(duration_ms),
                    duration_ms(def.jitter),
                    def.disable_after_failures,
                    def.source.as_str(),
                    next_run_at,
                    now,
                ])
            })
            .map_err(&err)?;
        Ok(UpsertOutcome {
            created: existing.is_none(),
            timing_changed,
            next_run_at_ms: next_run_at,
        })
    }

    pub(crate) fn remove_schedule(&mut self, name: &str) -> Result<bool, StoreError> {
        let removed = self
            .conn
            .prepare_cached("DELETE FROM schedules WHERE name = ?1")
            .and_then(|mut stmt| stmt.execute([name]))
            .map_err(self.err("remove schedule"))?;
        Ok(removed > 0)
    }

    /// Enabling resets the failure streak, clears the reason and recomputes the next run
    /// from now; disabling records that an operator did it. False: no such schedule.
    pub(crate) fn set_schedule_enabled(
        &mut self,
        name: &str,
        enabled: bool,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let Some(info) = self.load_schedule(name)? else {
            return Ok(false);
        };
        let err = self.err("enable schedule");
        if enabled {
            let next = next_slot(&info.def.timing, now, info.last_slot_ms);
            self.conn
                .prepare_cached(
                    "UPDATE schedules SET enabled = 1, failure_streak = 0, disabled_reason = NULL,
                                          next_run_at = ?2, updated_at = ?3
                      WHERE name = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![name, next, now]))
                .map_err(&err)?;
        } else if info.enabled {
            self.conn
                .prepare_cached(
                    "UPDATE schedules SET enabled = 0, disabled_reason = 'disabled by an operator',
                                          next_run_at = NULL, updated_at = ?2
                      WHERE name = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![name, now]))
                .map_err(&err)?;
        }
        Ok(true)
    }

    pub(crate) fn reconcile_config_schedules(
        &mut self,
        defs: &[ScheduleDef],
    ) -> Result<ReconcileReport, StoreError> {
        let mut report = ReconcileReport::default();
        let mut declared = BTreeSet::new();
        for def in defs {
            let mut def = def.clone();
            def.source = ScheduleSource::Config;
            declared.insert(def.name.clone());
            let before = self.load_schedule(&def.name)?;
            let outcome = self.upsert_schedule(&def)?;
            if outcome.created {
                report.created.push(def.name);
            } else if before.is_some_and(|old| old.def != def) {
                report.updated.push(def.name);
            }
        }
        let configured: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT name FROM schedules WHERE source = 'config' ORDER BY name")
                .map_err(self.err("reconcile schedules"))?;
            let rows = stmt
                .query_map([], |row| row.get(0))
                .map_err(self.err("reconcile schedules"))?;
            rows.collect::<Result<_, _>>()
                .map_err(self.err("reconcile schedules"))?
        };
        for name in configured {
            if !declared.contains(&name) {
                self.remove_schedule(&name)?;
                report.removed.push(name);
            }
        }
        report.created.sort();
        report.updated.sort();
        Ok(report)
    }

    /// Enqueues a run of `name` now, outside its slots; `next_run_at` does not move. Works
    /// on a disabled schedule too (and does not enable it). `None`: no such schedule.
    pub(crate) fn fire_schedule_now(&mut self, name: &str) -> Result<Option<FiredRun>, StoreError> {
        let now = self.now();
        let Some(info) = self.load_schedule(name)? else {
            return Ok(None);
        };
        let key = format!("schedule:{name}:manual:{now}");
        let request = job_request(&info.def, Some(key), RunAt::Now);
        let outcome = self.enqueue_one(&request)?;
        if !outcome.duplicate {
            self.tag_job(outcome.id, name, None)?;
        }
        self.conn
            .prepare_cached(
                "UPDATE schedules SET last_run_at = ?2, last_job_id = ?3 WHERE name = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![name, now, outcome.id.0]))
            .map_err(self.err("fire schedule"))?;
        Ok(Some(FiredRun {
            schedule: name.to_owned(),
            job_id: outcome.id,
            slot_ms: None,
            run_at_ms: now,
            held: false,
            coalesced_slots: 0,
        }))
    }

    fn enqueue_one(&mut self, request: &EnqueueRequest) -> Result<EnqueueOutcome, StoreError> {
        self.enqueue(std::slice::from_ref(request), None)?
            .pop()
            .ok_or_else(|| StoreError::InvalidRequest("empty enqueue".into()))
    }

    fn tag_job(&self, id: JobId, name: &str, slot_ms: Option<i64>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE jobs SET schedule_name = ?2, schedule_slot_ms = ?3 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![id.0, name, slot_ms]))
            .map_err(self.err("fire schedule"))?;
        Ok(())
    }

    /// The oldest live run of a schedule, and its held run (if any).
    pub(crate) fn live_runs(
        &self,
        name: &str,
    ) -> Result<(Option<JobId>, Option<JobId>), StoreError> {
        let err = self.err("fire schedule");
        let live: Option<i64> = self
            .conn
            .prepare_cached(&format!(
                "SELECT id FROM jobs WHERE schedule_name = ?1 AND schedule_name IS NOT NULL
                    AND state IN {LIVE_STATES} AND NOT (state = 'scheduled' AND run_at = ?2)
                  ORDER BY id LIMIT 1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![name, HELD_RUN_AT_MS], |row| row.get(0))
                    .optional()
            })
            .map_err(&err)?;
        let held: Option<i64> = self
            .conn
            .prepare_cached(&format!(
                "SELECT id FROM jobs WHERE schedule_name = ?1 AND schedule_name IS NOT NULL
                    AND state IN {LIVE_STATES} AND state = 'scheduled' AND run_at = ?2
                  ORDER BY id LIMIT 1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![name, HELD_RUN_AT_MS], |row| row.get(0))
                    .optional()
            })
            .map_err(&err)?;
        Ok((live.map(JobId), held.map(JobId)))
    }

    /// Fires every enabled schedule whose `next_run_at` has passed (per the store's
    /// clock): at most one run per schedule per call, the latest due slot standing for
    /// all missed ones. Each schedule's enqueue and advance share this transaction.
    pub(crate) fn fire_due_schedules(&mut self) -> Result<FireReport, StoreError> {
        let now = self.now();
        let err = self.err("fire schedules");
        let due: Vec<RawSchedule> = {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {SCHEDULE_COLUMNS} FROM schedules
                      WHERE enabled = 1 AND next_run_at <= ?1
                      ORDER BY next_run_at, name LIMIT ?2"
                ))
                .map_err(&err)?;
            let rows = stmt
                .query_map(params![now, FIRE_BATCH], raw_schedule)
                .map_err(&err)?;
            rows.collect::<Result<_, _>>().map_err(&err)?
        };
        let mut report = FireReport::default();
        for raw in due {
            let name = raw.name.clone();
            let next_run_at = raw.next_run_at.unwrap_or(now);
            match raw.into_info(&self.path) {
                Ok(info) => self.fire_one(&info, next_run_at, now, &mut report)?,
                Err(problem) => {
                    // A row this binary cannot read must not stall the other schedules.
                    let reason = format!("disabled: stored definition is invalid: {problem}");
                    tracing::error!(schedule = %name, error = %problem, "schedule disabled");
                    self.conn
                        .prepare_cached(
                            "UPDATE schedules SET enabled = 0, disabled_reason = ?2, next_run_at = NULL
                              WHERE name = ?1",
                        )
                        .and_then(|mut stmt| stmt.execute(params![name, reason]))
                        .map_err(&err)?;
                    report.disabled.push(name);
                }
            }
        }
        report.next_due_ms = self
            .conn
            .prepare_cached("SELECT min(next_run_at) FROM schedules WHERE enabled = 1")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
            .map_err(&err)?;
        Ok(report)
    }

    fn fire_one(
        &mut self,
        info: &ScheduleInfo,
        next_run_at: i64,
        now: i64,
        report: &mut FireReport,
    ) -> Result<(), StoreError> {
        let def = &info.def;
        let name = def.name.as_str();
        // Slots already consumed never run again, whatever `next_run_at` says.
        let before_next = next_run_at.saturating_sub(1);
        let floor = info
            .last_slot_ms
            .map_or(before_next, |last| last.max(before_next));
        let Some(slot) = def.timing.latest_between(floor, now) else {
            // Nothing due after all (the clock went back past a recomputed next run).
            let next = next_slot(&def.timing, now, info.last_slot_ms);
            if let Some(last_slot_ms) = info.last_slot_ms.filter(|&last| next_run_at <= last) {
                report.skipped.push(SkippedSlot {
                    schedule: name.to_owned(),
                    slot_ms: next_run_at,
                    reason: SkipReason::AlreadyConsumed { last_slot_ms },
                });
            }
            self.advance_schedule(name, info.last_slot_ms, next, None, None)?;
            return Ok(());
        };
        let coalesced_slots = count_slots(&def.timing, floor, slot);
        let late_by = now - slot;
        let decision = if def.catch_up == CatchUpPolicy::Skip
            && late_by > duration_ms(SKIP_LATE_GRACE)
        {
            Decision::Skip(SkipReason::Late {
                late_by_ms: late_by,
            })
        } else {
            match (def.overlap, self.live_runs(name)?) {
                (OverlapPolicy::Allow, _) | (_, (None, None)) => Decision::Enqueue { held: false },
                (OverlapPolicy::Skip, (Some(live_job), _) | (None, Some(live_job))) => {
                    Decision::Skip(SkipReason::Overlap { live_job })
                }
                (OverlapPolicy::Queue, (_, Some(held))) => {
                    Decision::Skip(SkipReason::Overlap { live_job: held })
                }
                (OverlapPolicy::Queue, (Some(_), None)) => Decision::Enqueue { held: true },
            }
        };
        let next = next_slot(&def.timing, now, Some(slot));
        match decision {
            Decision::Skip(reason) => {
                self.advance_schedule(name, Some(slot), next, None, Some(&reason.to_string()))?;
                report.skipped.push(SkippedSlot {
                    schedule: name.to_owned(),
                    slot_ms: slot,
                    reason,
                });
            }
            Decision::Enqueue { held } => {
                let run_at_ms = if held {
                    HELD_RUN_AT_MS
                } else {
                    slot.saturating_add(jitter_ms(name, slot, def.jitter))
                };
                let request = job_request(def, Some(slot_key(name, slot)), RunAt::At(run_at_ms));
                match self.enqueue_in_savepoint(&request, name, slot)? {
                    Ok(outcome) if outcome.duplicate => {
                        let reason = SkipReason::AlreadyEnqueued { job_id: outcome.id };
                        failpoint::hit(failpoint::FIRE_BETWEEN);
                        self.advance_schedule(
                            name,
                            Some(slot),
                            next,
                            None,
                            Some(&reason.to_string()),
                        )?;
                        report.skipped.push(SkippedSlot {
                            schedule: name.to_owned(),
                            slot_ms: slot,
                            reason,
                        });
                    }
                    Ok(outcome) => {
                        failpoint::hit(failpoint::FIRE_BETWEEN);
                        self.advance_schedule(
                            name,
                            Some(slot),
                            next,
                            Some((now, outcome.id)),
                            None,
                        )?;
                        tracing::info!(schedule = name, slot_ms = slot, job = %outcome.id, held, "schedule fired");
                        report.fired.push(FiredRun {
                            schedule: name.to_owned(),
                            job_id: outcome.id,
                            slot_ms: Some(slot),
                            run_at_ms,
                            held,
                            coalesced_slots,
                        });
                    }
                    Err(problem) => {
                        let reason = SkipReason::EnqueueFailed {
                            error: problem.to_string(),
                        };
                        tracing::warn!(schedule = name, slot_ms = slot, error = %problem, "schedule could not enqueue its run");
                        self.advance_schedule(
                            name,
                            Some(slot),
                            next,
                            None,
                            Some(&reason.to_string()),
                        )?;
                        if self.count_failed_run(info, &reason.to_string())? {
                            report.disabled.push(name.to_owned());
                        }
                        report.skipped.push(SkippedSlot {
                            schedule: name.to_owned(),
                            slot_ms: slot,
                            reason,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the enqueue (and tags the job) in a nested savepoint, so that a request the
    /// schedule got wrong (unknown script, ...) only affects this schedule. Database
    /// failures are returned as the outer error.
    fn enqueue_in_savepoint(
        &mut self,
        request: &EnqueueRequest,
        name: &str,
        slot: i64,
    ) -> Result<Result<EnqueueOutcome, StoreError>, StoreError> {
        let err = self.err("fire schedule");
        self.conn
            .execute_batch("SAVEPOINT schedule_fire")
            .map_err(&err)?;
        let result = self.enqueue_one(request).and_then(|outcome| {
            if !outcome.duplicate {
                self.tag_job(outcome.id, name, Some(slot))?;
            }
            Ok(outcome)
        });
        match result {
            Ok(outcome) => {
                self.conn
                    .execute_batch("RELEASE schedule_fire")
                    .map_err(&err)?;
                Ok(Ok(outcome))
            }
            Err(problem) => {
                if self.conn.is_autocommit() {
                    return Err(problem); // SQLite rolled everything back
                }
                self.conn
                    .execute_batch("ROLLBACK TO schedule_fire; RELEASE schedule_fire")
                    .map_err(&err)?;
                match problem {
                    StoreError::UnknownScript { .. }
                    | StoreError::InvalidPayload { .. }
                    | StoreError::PayloadTooLarge { .. }
                    | StoreError::InvalidRequest(_) => Ok(Err(problem)),
                    other => Err(other),
                }
            }
        }
    }

    /// Consumes `slot` (if any) and sets the next run. `run`: (enqueued at, job).
    fn advance_schedule(
        &self,
        name: &str,
        slot: Option<i64>,
        next: Option<i64>,
        run: Option<(i64, JobId)>,
        skip: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE schedules
                    SET last_slot_ms = coalesce(?2, last_slot_ms), next_run_at = ?3,
                        last_run_at = coalesce(?4, last_run_at), last_job_id = coalesce(?5, last_job_id),
                        skipped_runs = skipped_runs + (?6 IS NOT NULL), last_skip = coalesce(?6, last_skip)
                  WHERE name = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    name,
                    slot,
                    next,
                    run.map(|(at, _)| at),
                    run.map(|(_, job)| job.0),
                    skip
                ])
            })
            .map_err(self.err("fire schedule"))?;
        Ok(())
    }

    /// A run that could not even be enqueued counts as a failed run. True when this
    /// disabled the schedule.
    fn count_failed_run(&self, info: &ScheduleInfo, error: &str) -> Result<bool, StoreError> {
        self.apply_run_end(
            &info.def.name,
            RunEnd::Discarded {
                last_error: Some(error),
            },
        )
    }
}

/// Slots in `(after, last]`, counted up to `MAX_COUNTED_SLOTS`.
fn count_slots(timing: &Timing, after: i64, last: i64) -> u64 {
    if let Timing::Every(period) = timing {
        let period = i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1);
        let count = last.div_euclid(period) - after.div_euclid(period);
        return u64::try_from(count).unwrap_or(0).min(MAX_COUNTED_SLOTS);
    }
    let mut count = 0;
    let mut at = after;
    while count < MAX_COUNTED_SLOTS {
        match timing.next_after(at) {
            Some(slot) if slot <= last => {
                count += 1;
                at = slot;
            }
            _ => break,
        }
    }
    count
}

/// Schedule reads on their own read-only connection, opened on first use. (The job reads
/// keep theirs; merging the two is a visibility change in `read.rs`.)
pub(crate) struct ScheduleReader {
    path: PathBuf,
    pool: Arc<ReadPool>,
}

impl ScheduleReader {
    pub(crate) fn new(pool: Arc<ReadPool>) -> Self {
        Self {
            path: pool.path().to_path_buf(),
            pool,
        }
    }

    fn with_conn<T>(
        &self,
        read: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.conn()?;
        read(&mut conn)
    }

    pub(crate) fn list_schedules(&self) -> Result<Vec<ScheduleInfo>, StoreError> {
        let err = |e| db_error(&self.path, "list schedules", e);
        self.with_conn(|conn| {
            let raws: Vec<RawSchedule> = {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"
                    ))
                    .map_err(err)?;
                let rows = stmt.query_map([], raw_schedule).map_err(err)?;
                rows.collect::<Result<_, _>>().map_err(err)?
            };
            raws.into_iter()
                .map(|raw| raw.into_info(&self.path))
                .collect()
        })
    }

    pub(crate) fn get_schedule(
        &self,
        name: &str,
        recent_runs: u32,
    ) -> Result<Option<ScheduleDetail>, StoreError> {
        let err = |e| db_error(&self.path, "get schedule", e);
        self.with_conn(|conn| {
            let tx = conn.transaction().map_err(err)?;
            let raw = tx
                .prepare_cached(&format!(
                    "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?1"
                ))
                .and_then(|mut stmt| stmt.query_row([name], raw_schedule).optional())
                .map_err(err)?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let info = raw.into_info(&self.path)?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, schedule_slot_ms, state, last_outcome, last_error, created_at,
                            finished_at
                       FROM jobs WHERE schedule_name = ?1 AND schedule_name IS NOT NULL
                      ORDER BY id DESC LIMIT ?2",
                )
                .map_err(err)?;
            let rows = stmt
                .query_map(params![name, recent_runs], |row| {
                    let state: String = row.get(2)?;
                    let outcome: Option<String> = row.get(3)?;
                    Ok(ScheduleRun {
                        job_id: JobId(row.get(0)?),
                        slot_ms: row.get(1)?,
                        state: stored_state(2, &state)?,
                        last_outcome: outcome
                            .as_deref()
                            .map(|text| stored_outcome(3, text))
                            .transpose()?,
                        last_error: row.get(4)?,
                        created_at_ms: row.get(5)?,
                        finished_at_ms: row.get(6)?,
                    })
                })
                .map_err(err)?;
            let recent_runs = rows.collect::<Result<Vec<_>, _>>().map_err(err)?;
            Ok(Some(ScheduleDetail { info, recent_runs }))
        })
    }
}
