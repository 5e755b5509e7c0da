//! Startup recovery and leases. Jobs left `running` by an earlier epoch of *this node*:
//! with `WorkersDead` they are released at once; with `WaitForLease` each is released when
//! its lease passes. Jobs of *another node* are released only once their lease has passed
//! (and was not renewed): a live lease of another owner is never taken. Waiting leases
//! are kept in the writer's memory, so `requeue_expired_leases` works by primary key and
//! never scans the table; it re-reads each lease before releasing, since its owner may
//! have renewed it.
//!
//! Released means: a closed attempt row with kind `supervisor_restart` or
//! `lease_expired`, and the job back to `available` with the attempt refunded, or
//! `cancelled` when a cancel was pending. A supervisor crash is not the job's fault, and
//! most jobs it interrupts were only prefetched, never started; so the attempt does not
//! count — until the job has been interrupted this way `max_attempts` times already
//! (a job that somehow kills the supervisor itself must not loop forever): from then on
//! the attempt counts, and the last one discards the job.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{OptionalExtension, params};

use super::error::StoreError;
use super::types::*;
use super::writer::Writer;
use crate::failpoint;

#[derive(Debug, Clone, Copy)]
struct Lease {
    attempt: u32,
    epoch: Option<i64>,
    lease_until: i64,
}

/// Leases of earlier epochs still waiting to expire.
#[derive(Debug, Clone, Default)]
pub(crate) struct Orphans {
    by_expiry: BTreeSet<(i64, i64)>,
    leases: HashMap<i64, Lease>,
}

impl Orphans {
    fn insert(&mut self, id: i64, lease: Lease) {
        self.remove(id);
        self.by_expiry.insert((lease.lease_until, id));
        self.leases.insert(id, lease);
    }

    pub(crate) fn remove(&mut self, id: i64) {
        if let Some(lease) = self.leases.remove(&id) {
            self.by_expiry.remove(&(lease.lease_until, id));
        }
    }

    fn pop_expired(&mut self, now: i64) -> Option<(i64, Lease)> {
        let &(lease_until, id) = self.by_expiry.first()?;
        if lease_until > now {
            return None;
        }
        self.by_expiry.remove(&(lease_until, id));
        self.leases.remove(&id).map(|lease| (id, lease))
    }

    fn next_expiry(&self) -> Option<i64> {
        self.by_expiry.first().map(|&(lease_until, _)| lease_until)
    }

    fn len(&self) -> usize {
        self.leases.len()
    }
}

struct OrphanRow {
    id: i64,
    owner_node: Option<String>,
    attempt: i64,
    max_attempts: i64,
    epoch: Option<i64>,
    lease_until: Option<i64>,
    attempted_at: Option<i64>,
    cancel_requested: bool,
}

impl Writer {
    pub(crate) fn recover(&mut self, mode: RecoveryMode) -> Result<RecoveryReport, StoreError> {
        let now = self.now();
        let err = self.err("recover");
        // One scan of the table, once per start.
        let rows: Vec<OrphanRow> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, attempt, max_attempts, epoch, lease_until, attempted_at, cancel_requested,
                            owner_node
                       FROM jobs WHERE state = 'running' AND (epoch IS NULL OR epoch <> ?1)
                      ORDER BY id",
                )
                .map_err(&err)?;
            let rows = stmt
                .query_map([self.epoch], |row| {
                    Ok(OrphanRow {
                        id: row.get(0)?,
                        attempt: row.get(1)?,
                        max_attempts: row.get(2)?,
                        epoch: row.get(3)?,
                        lease_until: row.get(4)?,
                        attempted_at: row.get(5)?,
                        cancel_requested: row.get(6)?,
                        owner_node: row.get(7)?,
                    })
                })
                .map_err(&err)?;
            rows.collect::<Result<_, _>>().map_err(&err)?
        };
        let mut report = RecoveryReport::default();
        for row in rows {
            let expired = row.lease_until.is_none_or(|lease_until| lease_until <= now);
            // Rows claimed before owners were recorded were claimed by this node.
            let own = row
                .owner_node
                .as_ref()
                .is_none_or(|node| *node == self.node);
            match mode {
                _ if !own && expired => {
                    self.release(&row, OutcomeKind::LeaseExpired, &mut report)?;
                }
                _ if !own => self.watch(&row, now),
                RecoveryMode::WorkersDead => {
                    self.release(&row, OutcomeKind::SupervisorRestart, &mut report)?;
                    failpoint::hit(failpoint::RECOVERY_MID);
                }
                RecoveryMode::WaitForLease if expired => {
                    self.release(&row, OutcomeKind::LeaseExpired, &mut report)?;
                    failpoint::hit(failpoint::RECOVERY_MID);
                }
                RecoveryMode::WaitForLease => self.watch(&row, now),
            }
        }
        report.waiting = self.orphans.len();
        report.next_lease_expiry_ms = self.orphans.next_expiry();
        tracing::info!(
            requeued = report.requeued.len(),
            discarded = report.discarded.len(),
            cancelled = report.cancelled.len(),
            waiting = report.waiting,
            ?mode,
            "recovered jobs of earlier epochs"
        );
        Ok(report)
    }

    pub(crate) fn requeue_expired_leases(&mut self) -> Result<RecoveryReport, StoreError> {
        let now = self.now();
        let err = self.err("requeue expired leases");
        let mut report = RecoveryReport::default();
        let mut renewed = Vec::new();
        while let Some((id, lease)) = self.orphans.pop_expired(now) {
            let row = self
                .conn
                .prepare_cached(
                    "SELECT id, attempt, max_attempts, epoch, lease_until, attempted_at, cancel_requested,
                            owner_node
                       FROM jobs WHERE id = ?1 AND attempt = ?2 AND epoch IS ?3 AND state = 'running'",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![id, lease.attempt, lease.epoch], |row| {
                        Ok(OrphanRow {
                            id: row.get(0)?,
                            attempt: row.get(1)?,
                            max_attempts: row.get(2)?,
                            epoch: row.get(3)?,
                            lease_until: row.get(4)?,
                            attempted_at: row.get(5)?,
                            cancel_requested: row.get(6)?,
                            owner_node: row.get(7)?,
                        })
                    })
                    .optional()
                })
                .map_err(&err)?;
            match row {
                // Its owner renewed the lease meanwhile: watch it again.
                Some(row) if row.lease_until.is_some_and(|until| until > now) => renewed.push(row),
                Some(row) => self.release(&row, OutcomeKind::LeaseExpired, &mut report)?,
                None => {}
            }
        }
        for row in renewed {
            self.watch(&row, now);
        }
        report.waiting = self.orphans.len();
        report.next_lease_expiry_ms = self.orphans.next_expiry();
        Ok(report)
    }

    /// Keeps `row` waiting for its lease to pass.
    fn watch(&mut self, row: &OrphanRow, now: i64) {
        let lease = Lease {
            attempt: u32::try_from(row.attempt).unwrap_or(u32::MAX),
            epoch: row.epoch,
            lease_until: row.lease_until.unwrap_or(now),
        };
        self.orphans.insert(row.id, lease);
    }

    /// Extends to at least `until_ms` the leases of the jobs `owner` holds.
    pub(crate) fn renew_leases(&mut self, owner: &Owner, until_ms: i64) -> Result<u64, StoreError> {
        let renewed = self
            .conn
            .prepare_cached(
                "UPDATE jobs SET lease_until = ?3
                  WHERE state = 'running' AND owner_node = ?1 AND epoch = ?2
                    AND (lease_until IS NULL OR lease_until < ?3)",
            )
            .and_then(|mut stmt| stmt.execute(params![owner.node.0, owner.epoch, until_ms]))
            .map_err(self.err("renew leases"))?;
        Ok(renewed as u64)
    }

    fn release(
        &mut self,
        row: &OrphanRow,
        kind: OutcomeKind,
        report: &mut RecoveryReport,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let epoch_text = row
            .epoch
            .map_or_else(|| "?".to_owned(), |epoch| epoch.to_string());
        let holder = match &row.owner_node {
            Some(node) if *node != self.node => format!("supervisor {node} epoch {epoch_text}"),
            _ => format!("supervisor epoch {epoch_text}"),
        };
        let message = match kind {
            OutcomeKind::LeaseExpired => format!(
                "{holder} stopped while this attempt ran; its lease expired at {}",
                row.lease_until.unwrap_or(now)
            ),
            _ => format!("{holder} stopped while this attempt ran; its workers are dead"),
        };
        let interrupted_before: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM attempts
                  WHERE job_id = ?1 AND outcome IN ('supervisor_restart', 'lease_expired')",
            )
            .and_then(|mut stmt| stmt.query_row([row.id], |r| r.get(0)))
            .map_err(self.err("recover"))?;
        let refund = interrupted_before < row.max_attempts;
        let message = if refund {
            format!("{message}; the attempt does not count")
        } else {
            format!(
                "{message}; interrupted {interrupted_before} times before, so the attempt counts"
            )
        };
        let (state, list) = if row.cancel_requested {
            (JobState::Cancelled, &mut report.cancelled)
        } else if !refund && row.attempt >= row.max_attempts {
            (JobState::Discarded, &mut report.discarded)
        } else {
            (JobState::Available, &mut report.requeued)
        };
        let new_attempt = if refund && state == JobState::Available {
            row.attempt - 1
        } else {
            row.attempt
        };
        let finished_at = state.is_finished().then_some(now);
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE jobs SET state = ?2, run_at = CASE WHEN ?2 = 'available' THEN ?3 ELSE run_at END,
                                 finished_at = ?4, lease_until = NULL, last_outcome = ?5, last_error = ?6,
                                 attempt = ?9
                  WHERE id = ?1 AND state = 'running' AND attempt = ?7 AND epoch IS ?8",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![row.id, state.as_str(), now, finished_at, kind.as_str(), message, row.attempt, row.epoch, new_attempt])
            })
            .map_err(self.err("recover"))?;
        if changed == 0 {
            return Ok(());
        }
        self.job_moved(JobId(row.id), JobState::Running, state)?;
        list.push(JobId(row.id));
        let attempt = AttemptRef {
            id: JobId(row.id),
            attempt: u32::try_from(row.attempt).unwrap_or(u32::MAX),
            epoch: row.epoch.unwrap_or(0),
        };
        let name = match kind {
            OutcomeKind::LeaseExpired => "LeaseExpired",
            _ => "SupervisorRestart",
        };
        let error = JobError {
            name: name.into(),
            message,
            stack: None,
        };
        self.insert_attempt(
            attempt,
            row.attempted_at,
            kind,
            Some(&error),
            &AttemptReport::default(),
        )?;
        Ok(())
    }
}
