//! What follows a job's state change inside the same transaction, as the rules of
//! `policy` decide it: the queue's `running` counter, and for a run of a schedule the
//! failure streak (and auto-disable) and the release of the run held behind it. Every
//! write that changes a job's state calls [`Writer::job_moved`] right after its UPDATE.

use rusqlite::{OptionalExtension, params};

use super::error::StoreError;
use super::policy::{self, LiveRuns, RunEnd, ScheduleStreak};
use super::types::{JobId, JobState};
use super::writer::Writer;

/// The columns of an ended run that its schedule's bookkeeping needs.
struct EndedRun {
    schedule: String,
    last_error: Option<String>,
    last_outcome: Option<String>,
    finished_at: Option<i64>,
    run_at: i64,
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

impl Writer {
    /// Applies the consequences of job `id` having just moved `from` → `to`.
    pub(crate) fn job_moved(
        &mut self,
        id: JobId,
        from: JobState,
        to: JobState,
    ) -> Result<(), StoreError> {
        let delta = policy::running_delta(from, to);
        let ends = policy::ends_run(from, to);
        if delta == 0 && !ends {
            return Ok(());
        }
        let err = self.err("update job state");
        let row = self
            .conn
            .prepare_cached(
                "SELECT queue, schedule_name, last_error, last_outcome, finished_at, run_at
                   FROM jobs WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([id.0], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        EndedRun {
                            schedule: String::new(),
                            last_error: row.get(2)?,
                            last_outcome: row.get(3)?,
                            finished_at: row.get(4)?,
                            run_at: row.get(5)?,
                        },
                    ))
                })
                .optional()
            })
            .map_err(&err)?;
        let Some((queue, schedule, mut run)) = row else {
            return Ok(());
        };
        if delta != 0 {
            self.add_running(&queue, delta)?;
        }
        if let (true, Some(schedule)) = (ends, schedule) {
            run.schedule = schedule;
            self.schedule_run_ended(&run, to)?;
        }
        Ok(())
    }

    /// Moves a queue's `running` counter by `delta`.
    pub(crate) fn add_running(&self, queue: &str, delta: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE queues SET running = running + ?2 WHERE name = ?1")
            .and_then(|mut stmt| stmt.execute(params![queue, delta]))
            .map_err(self.err("update queue counter"))?;
        Ok(())
    }

    fn schedule_run_ended(&mut self, run: &EndedRun, to: JobState) -> Result<(), StoreError> {
        let end = match to {
            JobState::Completed => RunEnd::Completed,
            JobState::Discarded => RunEnd::Discarded {
                last_error: run.last_error.as_deref().or(run.last_outcome.as_deref()),
            },
            _ => RunEnd::Cancelled,
        };
        if end != RunEnd::Cancelled {
            self.apply_run_end(&run.schedule, end)?;
        }
        let (live, held) = self.live_runs(&run.schedule)?;
        let runs = LiveRuns {
            held,
            others_live: live.is_some(),
        };
        if let Some(held) = policy::held_run_to_release(runs) {
            let run_at = policy::released_run_at(run.finished_at, run.run_at);
            self.conn
                .prepare_cached("UPDATE jobs SET state = 'available', run_at = ?2 WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute(params![held.0, run_at]))
                .map_err(self.err("release held run"))?;
        }
        Ok(())
    }

    /// Updates the failure streak of `schedule` for a run that ended with `end`; true
    /// when this disabled the schedule. A schedule removed since is left alone.
    pub(crate) fn apply_run_end(
        &self,
        schedule: &str,
        end: RunEnd<'_>,
    ) -> Result<bool, StoreError> {
        let err = self.err("update schedule streak");
        let found = self
            .conn
            .prepare_cached(
                "SELECT enabled, failure_streak, max_failures, next_run_at, disabled_reason
                   FROM schedules WHERE name = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([schedule], |row| {
                    Ok(ScheduleStreak {
                        enabled: row.get(0)?,
                        failure_streak: to_u32(row.get(1)?),
                        max_failures: row.get::<_, Option<i64>>(2)?.map(to_u32),
                        next_run_at_ms: row.get(3)?,
                        disabled_reason: row.get(4)?,
                    })
                })
                .optional()
            })
            .map_err(&err)?;
        let Some(before) = found else {
            return Ok(false);
        };
        let after = policy::streak_after_run(&before, end);
        if after == before {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "UPDATE schedules SET enabled = ?2, failure_streak = ?3, next_run_at = ?4,
                                      disabled_reason = ?5
                  WHERE name = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    schedule,
                    after.enabled,
                    after.failure_streak,
                    after.next_run_at_ms,
                    after.disabled_reason
                ])
            })
            .map_err(&err)?;
        let disabled = before.enabled && !after.enabled;
        if disabled {
            tracing::warn!(
                schedule,
                streak = after.failure_streak,
                "schedule disabled after failed runs"
            );
        }
        Ok(disabled)
    }
}
