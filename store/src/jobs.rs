//! The write operations the writer thread runs inside its transaction: scripts, enqueue,
//! claim, complete / fail / refund (fenced), cancel, manual retry, queue settings and
//! pruning steps. Each function is one command; the caller (writer.rs) owns transaction
//! and savepoint boundaries, so nothing here begins, commits or replies.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::error::{StoreError, parse_state};
use super::policy::{self, FailureFacts};
use super::types::*;
use super::writer::{ScriptRef, Writer};
use super::{StoreOptions, duration_ms};
use crate::effects::{
    AttemptEffects, Completed, INVALID_EFFECT_ERROR, STATE_CONFLICT_ERROR, StateConflict,
    StateWrite, StateWriteOutcome, VersionCheck,
};
use crate::limits::{
    MAX_DELAY, MAX_JOB_TIMEOUT, MAX_RETRY_BACKOFF, NameKind, check_at_most, check_max_attempts,
    check_name,
};
use crate::units::format_duration;

/// Due scheduled/retryable jobs promoted per claim: bounds the claim's cost when a large
/// delayed batch comes due at once.
pub(crate) const PROMOTE_BATCH: i64 = 1000;
/// Ids scanned per pruning transaction at most.
const PRUNE_WINDOW: i64 = 20_000;
const MAX_UNIQUE_KEY_BYTES: usize = 1024;

const FINISHED_SQL_LIST: &str = "('completed', 'discarded', 'cancelled')";

// The lease clamps the row's timeout into 1 ms..=?7 (the longest timeout): a row out of
// range (written by something other than jobvisor) must not overflow the sum, which would
// fail the whole claim and so stop every queue. The row itself is then discarded.
pub(crate) const CLAIM_ONE_QUEUE_SQL: &str = "
UPDATE jobs
   SET state = 'running', attempt = attempt + 1, epoch = ?1, attempted_at = ?2,
       lease_until = ?2 + min(max(coalesce(timeout_ms, ?3), 1), ?7) + ?4, owner_node = ?8
 WHERE id IN (SELECT id FROM jobs
               WHERE state = 'available' AND queue = ?5
               ORDER BY priority DESC, run_at, id
               LIMIT ?6)
RETURNING id, attempt, max_attempts, queue, priority, script_id, payload, timeout_ms,
          lease_until, created_at, run_at";

/// The unpaused queues that have available jobs, with their caps. The recursive part
/// walks the distinct queues of `jobs_claim` (one index seek per queue with work), so a
/// claim costs the same with 100,000 idle queues as with none; the `queues` row of each is
/// then found by primary key.
pub(crate) const CLAIM_QUEUES_SQL: &str = "
WITH RECURSIVE busy (name) AS (
    SELECT (SELECT min(queue) FROM jobs WHERE state = 'available')
    UNION ALL
    SELECT (SELECT min(queue) FROM jobs WHERE state = 'available' AND queue > busy.name)
      FROM busy
     WHERE busy.name IS NOT NULL
)
SELECT queues.name, queues.concurrency, queues.running
  FROM busy JOIN queues ON queues.name = busy.name
 WHERE queues.paused = 0
 ORDER BY queues.name";

const CLAIM_BY_ID_SQL: &str = "
UPDATE jobs
   SET state = 'running', attempt = attempt + 1, epoch = ?1, attempted_at = ?2,
       lease_until = ?2 + min(max(coalesce(timeout_ms, ?3), 1), ?6) + ?4, owner_node = ?7
 WHERE id = ?5 AND state = 'available'
RETURNING id, attempt, max_attempts, queue, priority, script_id, payload, timeout_ms,
          lease_until, created_at, run_at";

const CLAIM_CANDIDATES_SQL: &str = "
SELECT id, priority, run_at FROM jobs
 WHERE state = 'available' AND queue = ?1
 ORDER BY priority DESC, run_at, id
 LIMIT ?2";

const PROMOTE_SQL: &str = "
UPDATE jobs SET state = 'available'
 WHERE id IN (SELECT id FROM jobs
               WHERE state IN ('scheduled', 'retryable') AND run_at <= ?1
               ORDER BY run_at
               LIMIT ?2)";

// CAST: a run_at stored as REAL or TEXT by another tool still yields an integer.
const NEXT_WAKE_SQL: &str =
    "SELECT CAST(min(run_at) AS INTEGER) FROM jobs WHERE state IN ('scheduled', 'retryable')";

const DISCARD_INVALID_SQL: &str = "
UPDATE jobs SET state = 'discarded', attempt = attempt - 1, finished_at = ?2,
                lease_until = NULL, last_error = ?3
 WHERE id = ?1";

const INSERT_JOB_SQL: &str = "
INSERT INTO jobs (queue, script_id, state, priority, run_at, max_attempts, timeout_ms,
                  backoff_base_ms, backoff_cap_ms, unique_key, payload, created_at, parent_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT DO NOTHING
RETURNING id";

const INSERT_ATTEMPT_SQL: &str = "
INSERT INTO attempts (job_id, attempt, epoch, worker_pid, started_at, finished_at, duration_ms,
                      outcome, error_name, error_message, error_stack, logs, logs_truncated,
                      cpu_ms, peak_memory_bytes, requests)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// After a pruning step deleted the finished jobs with ids in (?1, ?2]: clears the parent
/// of their children.
const CLEAR_PRUNED_PARENTS_SQL: &str = "
UPDATE jobs SET parent_id = NULL
 WHERE parent_id IS NOT NULL AND parent_id > ?1 AND parent_id <= ?2
   AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.id = jobs.parent_id)";

/// Checks an enqueue request without touching the database (runs on the caller's thread).
pub(crate) fn validate_enqueue(
    options: &StoreOptions,
    request: &EnqueueRequest,
) -> Result<(), StoreError> {
    check_name(NameKind::Script, &request.script).map_err(StoreError::InvalidRequest)?;
    check_name(NameKind::Queue, &request.queue).map_err(StoreError::InvalidRequest)?;
    if request.payload.len() > options.max_payload_bytes {
        return Err(StoreError::PayloadTooLarge {
            size: request.payload.len(),
            limit: options.max_payload_bytes,
        });
    }
    if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(&request.payload) {
        return Err(StoreError::InvalidPayload {
            reason: err.to_string(),
        });
    }
    if request
        .timeout
        .is_some_and(|timeout| timeout.as_millis() == 0)
    {
        return Err(StoreError::InvalidRequest(
            "timeout must be at least 1 ms".into(),
        ));
    }
    check_job_bounds(options.clock.now_ms(), request).map_err(StoreError::InvalidRequest)?;
    if let Some(key) = &request.unique_key
        && (key.is_empty() || key.len() > MAX_UNIQUE_KEY_BYTES)
    {
        return Err(StoreError::InvalidRequest(format!(
            "unique key must be 1..={MAX_UNIQUE_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The documented maxima of a job's times (see `units`): every time the store computes
/// from them (`run_at`, the lease, the retry time) then stays far inside an i64.
fn check_job_bounds(now: i64, request: &EnqueueRequest) -> Result<(), String> {
    if let Some(n) = request.max_attempts {
        check_max_attempts(n)?;
    }
    if let Some(timeout) = request.timeout {
        check_at_most("timeout", timeout, MAX_JOB_TIMEOUT)?;
    }
    match request.run_at {
        RunAt::Now => {}
        RunAt::After(delay) => check_at_most("delay", delay, MAX_DELAY)?,
        RunAt::At(at) => {
            if at > now.saturating_add(duration_ms(MAX_DELAY)) {
                return Err(format!(
                    "run at {at} ms is too far ahead: at most {} from now is allowed",
                    format_duration(MAX_DELAY)
                ));
            }
        }
    }
    if let Some(policy) = request.backoff {
        check_at_most("backoff base", policy.base, MAX_RETRY_BACKOFF)?;
        check_at_most("backoff cap", policy.cap, MAX_RETRY_BACKOFF)?;
    }
    Ok(())
}

/// Cuts `text` to at most `max` bytes on a character boundary; true when it cut.
pub(crate) fn truncate_utf8(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// The hex SHA-256 of a script's source: its version.
pub fn sha256_hex(source: &str) -> String {
    hex(&Sha256::digest(source.as_bytes()))
}

/// The version id of a script: the SHA-256 of its source ([`sha256_hex`]) when it has no
/// network grant; with one, of a fixed tag, the source's length, the source and the
/// grant (JSON), so the same source granted differently is a version of its own.
pub fn script_version_hash(source: &str, allow_net: &[String]) -> String {
    if allow_net.is_empty() {
        return sha256_hex(source);
    }
    let mut hasher = Sha256::new();
    hasher.update(format!("jobvisor-script-grant\0{}\0", source.len()).as_bytes());
    hasher.update(source.as_bytes());
    hasher.update(
        serde_json::to_string(allow_net)
            .unwrap_or_default()
            .as_bytes(),
    );
    hex(&hasher.finalize())
}

fn hex(digest: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn opt_ms(duration: Option<std::time::Duration>) -> Option<i64> {
    duration.map(duration_ms)
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// One pruning transaction's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PruneStep {
    /// Exclusive lower id bound.
    pub(crate) after: i64,
    /// Inclusive upper id bound of the whole pass.
    pub(crate) last: i64,
    pub(crate) completed_before: i64,
    pub(crate) failed_before: i64,
    pub(crate) batch: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PruneDone {
    pub(crate) deleted: u64,
    pub(crate) next_after: i64,
}

/// A claimed row before its script is resolved.
struct ClaimedRow {
    id: i64,
    attempt: i64,
    max_attempts: i64,
    queue: String,
    priority: i64,
    script_id: i64,
    payload: String,
    timeout_ms: Option<i64>,
    lease_until: i64,
    created_at: i64,
    run_at: i64,
}

/// A claimed row, or (id, why) when one of its values is out of range or of the wrong
/// type: such a row is discarded with the reason, and the claim goes on with the others.
fn claimed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ClaimedRow, (i64, String)>> {
    let id: i64 = row.get(0)?;
    let column = |index: usize, name: &str| -> Result<i64, String> {
        row.get::<_, i64>(index)
            .map_err(|e| format!("{name} is not an integer ({e})"))
    };
    let read = || -> Result<ClaimedRow, String> {
        let timeout_ms: Option<i64> = row
            .get(7)
            .map_err(|e| format!("timeout_ms is not an integer ({e})"))?;
        let max_timeout = duration_ms(MAX_JOB_TIMEOUT);
        if let Some(ms) = timeout_ms
            && !(1..=max_timeout).contains(&ms)
        {
            return Err(format!(
                "timeout_ms = {ms} is outside 1..={max_timeout} (at most {})",
                format_duration(MAX_JOB_TIMEOUT)
            ));
        }
        Ok(ClaimedRow {
            id,
            attempt: column(1, "attempt")?,
            max_attempts: column(2, "max_attempts")?,
            queue: row.get(3).map_err(|e| format!("queue is not text ({e})"))?,
            priority: column(4, "priority")?,
            script_id: column(5, "script_id")?,
            payload: row
                .get(6)
                .map_err(|e| format!("payload is not text ({e})"))?,
            timeout_ms,
            lease_until: column(8, "lease_until")?,
            created_at: column(9, "created_at")?,
            run_at: column(10, "run_at")?,
        })
    };
    Ok(read().map_err(|reason| (id, reason)))
}

// Fenced writes (complete, fail, refund) match on (id, attempt, epoch, state = running)
// and also require the attempt's epoch to be this supervisor's: an attempt leased by an
// earlier epoch can only leave `running` through recovery, never through a late result.
impl Writer {
    /// `allow_net` is sorted and without duplicates (the caller's job).
    pub(crate) fn add_script(
        &mut self,
        name: &str,
        source: &str,
        allow_net: &[String],
    ) -> Result<ScriptVersion, StoreError> {
        let now = self.now();
        let hash = script_version_hash(source, allow_net);
        let grant =
            (!allow_net.is_empty()).then(|| serde_json::to_string(allow_net).unwrap_or_default());
        let err = self.err("add script");
        let inserted: Option<i64> = self
            .conn
            .prepare_cached(
                "INSERT INTO scripts (name, hash, source, created_at, allow_net)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name, hash) DO NOTHING RETURNING id",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![name, hash, source, now, grant], |row| row.get(0))
                    .optional()
            })
            .map_err(&err)?;
        let id = match inserted {
            Some(id) => id,
            None => self
                .conn
                .query_row(
                    "SELECT id FROM scripts WHERE name = ?1 AND hash = ?2",
                    params![name, hash],
                    |row| row.get(0),
                )
                .map_err(&err)?,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO script_heads (name, script_id, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET script_id = excluded.script_id,
                                                  updated_at = excluded.updated_at",
            )
            .and_then(|mut stmt| stmt.execute(params![name, id, now]))
            .map_err(&err)?;
        Ok(ScriptVersion {
            name: name.to_owned(),
            hash,
            created: inserted.is_some(),
        })
    }

    /// `parent`: the job whose completion enqueues these (its children).
    pub(crate) fn enqueue(
        &mut self,
        requests: &[EnqueueRequest],
        parent: Option<JobId>,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        let now = self.now();
        let err = self.err("enqueue");
        let conn = &self.conn;
        let mut heads: HashMap<&str, i64> = HashMap::new();
        let mut queues: HashSet<&str> = HashSet::new();
        let mut insert = conn.prepare_cached(INSERT_JOB_SQL).map_err(&err)?;
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            let script_id = match heads.get(request.script.as_str()) {
                Some(id) => *id,
                None => {
                    let id: i64 = conn
                        .prepare_cached("SELECT script_id FROM script_heads WHERE name = ?1")
                        .and_then(|mut stmt| {
                            stmt.query_row([&request.script], |row| row.get(0))
                                .optional()
                        })
                        .map_err(&err)?
                        .ok_or_else(|| StoreError::UnknownScript {
                            name: request.script.clone(),
                        })?;
                    heads.insert(&request.script, id);
                    id
                }
            };
            if queues.insert(&request.queue) {
                conn.prepare_cached(
                    "INSERT INTO queues (name, updated_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                )
                .and_then(|mut stmt| stmt.execute(params![request.queue, now]))
                .map_err(&err)?;
            }
            let run_at = match request.run_at {
                RunAt::Now => now,
                RunAt::At(at) => at,
                RunAt::After(delay) => now.saturating_add(duration_ms(delay)),
            };
            let state = if run_at > now {
                JobState::Scheduled
            } else {
                JobState::Available
            };
            let max_attempts = request
                .max_attempts
                .unwrap_or(self.options.default_max_attempts)
                .max(1);
            let inserted: Option<i64> = insert
                .query_row(
                    params![
                        request.queue,
                        script_id,
                        state.as_str(),
                        request.priority,
                        run_at,
                        max_attempts,
                        opt_ms(request.timeout),
                        request.backoff.map(|policy| duration_ms(policy.base)),
                        request.backoff.map(|policy| duration_ms(policy.cap)),
                        request.unique_key,
                        request.payload,
                        now,
                        parent.map(|id| id.0),
                    ],
                    |row| row.get(0),
                )
                .optional()
                .map_err(&err)?;
            let outcome = match (inserted, &request.unique_key) {
                (Some(id), _) => EnqueueOutcome {
                    id: JobId(id),
                    duplicate: false,
                },
                (None, Some(key)) => {
                    let existing: i64 = conn
                        .prepare_cached(&format!(
                            "SELECT id FROM jobs WHERE unique_key = ?1 AND unique_key IS NOT NULL
                                AND state NOT IN {FINISHED_SQL_LIST}"
                        ))
                        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)))
                        .map_err(&err)?;
                    EnqueueOutcome {
                        id: JobId(existing),
                        duplicate: true,
                    }
                }
                (None, None) => {
                    return Err(StoreError::InvalidRequest(
                        "insert was ignored without a unique key".into(),
                    ));
                }
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    pub(crate) fn claim(&mut self, max: usize) -> Result<ClaimBatch, StoreError> {
        if max == 0 {
            return Ok(ClaimBatch::default());
        }
        let now = self.now();
        let err = self.err("claim");
        let max_i64 = i64::try_from(max).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(PROMOTE_SQL)
            .and_then(|mut stmt| stmt.execute(params![now, PROMOTE_BATCH]))
            .map_err(&err)?;

        // Queues with room: (name, free slots).
        let eligible: Vec<(String, i64)> = {
            let mut stmt = self.conn.prepare_cached(CLAIM_QUEUES_SQL).map_err(&err)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })
                .map_err(&err)?;
            let mut eligible = Vec::new();
            for row in rows {
                let (name, cap, running) = row.map_err(&err)?;
                let free = cap.map_or(max_i64, |cap| (cap - running).min(max_i64));
                if free > 0 {
                    eligible.push((name, free));
                }
            }
            eligible
        };

        let epoch = self.epoch;
        let default_timeout = duration_ms(self.options.default_timeout);
        let grace = duration_ms(self.options.lease_grace);
        let max_timeout = duration_ms(MAX_JOB_TIMEOUT);
        let mut claimed: Vec<Result<ClaimedRow, (i64, String)>> = Vec::with_capacity(max.min(1024));
        if let [(queue, free)] = eligible.as_slice() {
            let mut stmt = self
                .conn
                .prepare_cached(CLAIM_ONE_QUEUE_SQL)
                .map_err(&err)?;
            let rows = stmt
                .query_map(
                    params![
                        epoch,
                        now,
                        default_timeout,
                        grace,
                        queue,
                        free,
                        max_timeout,
                        self.node
                    ],
                    claimed_row,
                )
                .map_err(&err)?;
            for row in rows {
                claimed.push(row.map_err(&err)?);
            }
        } else if !eligible.is_empty() {
            // Best `free` candidates of each queue, merged into the global order.
            let mut candidates: Vec<(i64, i64, i64)> = Vec::new();
            {
                let mut stmt = self
                    .conn
                    .prepare_cached(CLAIM_CANDIDATES_SQL)
                    .map_err(&err)?;
                for (queue, free) in &eligible {
                    // Priority and run_at only order the candidates: a value of the wrong
                    // type sorts as 0 here rather than failing the claim of every queue.
                    let found = stmt
                        .query_map(params![queue, free], |row| {
                            Ok((
                                row.get::<_, i64>(0)?,
                                row.get::<_, i64>(1).unwrap_or(0),
                                row.get::<_, i64>(2).unwrap_or(0),
                            ))
                        })
                        .map_err(&err)?;
                    for candidate in found {
                        candidates.push(candidate.map_err(&err)?);
                    }
                }
            }
            candidates
                .sort_by_key(|&(id, priority, run_at)| (std::cmp::Reverse(priority), run_at, id));
            candidates.truncate(max);
            let mut stmt = self.conn.prepare_cached(CLAIM_BY_ID_SQL).map_err(&err)?;
            for (id, _, _) in candidates {
                let row = stmt
                    .query_row(
                        params![
                            epoch,
                            now,
                            default_timeout,
                            grace,
                            id,
                            max_timeout,
                            self.node
                        ],
                        claimed_row,
                    )
                    .map_err(&err)?;
                claimed.push(row);
            }
        }
        let mut rows = Vec::with_capacity(claimed.len());
        let mut running: HashMap<&str, i64> = HashMap::new();
        for row in claimed.iter().flatten() {
            *running.entry(row.queue.as_str()).or_default() += 1;
        }
        for (queue, claimed) in running {
            self.add_running(queue, claimed)?;
        }
        for row in claimed {
            match row {
                Ok(row) => rows.push(row),
                // Its queue could not be read, so it was not counted as running.
                Err((id, reason)) => {
                    self.discard_invalid(id, now, &reason, JobState::Available)?;
                }
            }
        }
        rows.sort_by_key(|row| (std::cmp::Reverse(row.priority), row.run_at, row.id));

        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(script) = self.script_ref(row.script_id)? else {
                let reason = format!("its script version (id {}) is missing", row.script_id);
                self.discard_invalid(row.id, now, &reason, JobState::Running)?;
                continue;
            };
            jobs.push(ClaimedJob {
                id: JobId(row.id),
                attempt: to_u32(row.attempt),
                max_attempts: to_u32(row.max_attempts),
                epoch,
                queue: row.queue,
                priority: i32::try_from(row.priority).unwrap_or(0),
                script_name: script.name,
                script_hash: script.hash,
                allow_net: script.allow_net,
                payload: row.payload,
                timeout: row
                    .timeout_ms
                    .map(|ms| std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
                lease_until_ms: row.lease_until,
                created_at_ms: row.created_at,
            });
        }
        let next_wake_at_ms = if jobs.len() < max {
            self.conn
                .prepare_cached(NEXT_WAKE_SQL)
                .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, Option<i64>>(0)))
                .map_err(&err)?
        } else {
            None
        };
        Ok(ClaimBatch {
            jobs,
            next_wake_at_ms,
        })
    }

    /// A claimed job that can never run (a value out of range or of the wrong type, no
    /// script): discarded with `reason`, its claim undone, so that it stops no other job.
    /// `counted_as`: the state the queue's counter knows it in.
    fn discard_invalid(
        &mut self,
        id: i64,
        now: i64,
        reason: &str,
        counted_as: JobState,
    ) -> Result<(), StoreError> {
        tracing::warn!(job = id, %reason, "job cannot run; discarded");
        let message = format!("discarded without running: {reason}");
        self.conn
            .prepare_cached(DISCARD_INVALID_SQL)
            .and_then(|mut stmt| stmt.execute(params![id, now, message]))
            .map_err(self.err("discard invalid job"))?;
        self.job_moved(JobId(id), counted_as, JobState::Discarded)
    }

    /// The name and hash of script version `script_id`; `None` when it does not exist.
    fn script_ref(&mut self, script_id: i64) -> Result<Option<ScriptRef>, StoreError> {
        if let Some(script) = self.scripts.get(&script_id) {
            return Ok(Some(script.clone()));
        }
        let script = self
            .conn
            .prepare_cached("SELECT name, hash, allow_net FROM scripts WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([script_id], |row| {
                    Ok(ScriptRef {
                        name: row.get(0)?,
                        hash: row.get(1)?,
                        allow_net: parse_allow_net(row.get::<_, Option<String>>(2)?.as_deref()),
                    })
                })
                .optional()
            })
            .map_err(self.err("resolve script"))?;
        if let Some(script) = &script {
            self.scripts.insert(script_id, script.clone());
        }
        Ok(script)
    }

    /// A fenced write matched nothing: log it and say what the job looks like now.
    fn stale<T>(&self, attempt: AttemptRef) -> Result<Fenced<T>, StoreError> {
        let reason = self.stale_reason(attempt.id)?;
        tracing::warn!(
            job = attempt.id.0,
            attempt = attempt.attempt,
            epoch = attempt.epoch,
            ?reason,
            "stale attempt result dropped"
        );
        Ok(Fenced::Stale(reason))
    }

    /// What a fenced write that matched nothing found instead.
    pub(crate) fn stale_reason(&self, id: JobId) -> Result<StaleReason, StoreError> {
        let found = self
            .conn
            .prepare_cached("SELECT state, attempt, epoch FROM jobs WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([id.0], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                    ))
                })
                .optional()
            })
            .map_err(self.err("fence"))?;
        Ok(match found {
            None => StaleReason::NotFound,
            Some((state, attempt, epoch)) => StaleReason::Superseded {
                state: parse_state(&self.path, &state)?,
                attempt: to_u32(attempt),
                epoch,
            },
        })
    }

    /// Writes the closed attempt row. `started_at` is the claim time.
    pub(crate) fn insert_attempt(
        &self,
        attempt: AttemptRef,
        started_at: Option<i64>,
        outcome: OutcomeKind,
        error: Option<&JobError>,
        report: &AttemptReport,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let max_error = self.options.max_error_bytes;
        let (logs, cut) = truncate_utf8(&report.logs, self.options.max_log_bytes);
        let duration = report
            .duration
            .map(duration_ms)
            .or_else(|| started_at.map(|started| (now - started).max(0)));
        let error_name = error.map(|error| truncate_utf8(&error.name, max_error).0);
        let error_message = error.map(|error| truncate_utf8(&error.message, max_error).0);
        let error_stack = error
            .and_then(|error| error.stack.as_deref())
            .map(|stack| truncate_utf8(stack, max_error).0);
        // No statement of its own and no JSON work for an attempt without requests.
        let requests = if report.requests.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&report.requests).map_err(|err| {
                StoreError::InvalidRequest(format!("cannot encode the attempt's requests: {err}"))
            })?)
        };
        self.conn
            .prepare_cached(INSERT_ATTEMPT_SQL)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    attempt.id.0,
                    attempt.attempt,
                    attempt.epoch,
                    report.worker_pid,
                    started_at,
                    now,
                    duration,
                    outcome.as_str(),
                    error_name,
                    error_message,
                    error_stack,
                    logs,
                    cut || report.logs_truncated,
                    opt_ms(report.cpu_time),
                    report
                        .peak_memory_bytes
                        .map(|bytes| i64::try_from(bytes).unwrap_or(i64::MAX)),
                    requests,
                ])
            })
            .map_err(self.err("record attempt"))?;
        Ok(())
    }

    /// Completes the attempt and applies what it staged, or, when a staged effect cannot
    /// be applied (a failed check, an invalid child or write), applies none of it and
    /// records the attempt as failed instead. A completion without effects runs exactly
    /// the statements it ran before effects existed.
    pub(crate) fn complete(
        &mut self,
        completion: &Completion,
    ) -> Result<Fenced<Completed>, StoreError> {
        let now = self.now();
        let attempt = completion.attempt;
        if attempt.epoch != self.epoch {
            return self.stale(attempt);
        }
        let effects = &completion.effects;
        if !effects.is_empty()
            && let Some(refusal) = self.check_effects(effects, now)?
        {
            return self.fail_completion(completion, refusal);
        }
        let started_at: Option<Option<i64>> = self
            .conn
            .prepare_cached(
                "UPDATE jobs SET state = 'completed', result = ?1, finished_at = ?2, lease_until = NULL,
                                 last_outcome = 'completed', last_error = NULL
                  WHERE id = ?3 AND attempt = ?4 AND epoch = ?5 AND state = 'running'
                 RETURNING attempted_at",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![completion.result, now, attempt.id.0, attempt.attempt, attempt.epoch],
                    |row| row.get(0),
                )
                .optional()
            })
            .map_err(self.err("complete"))?;
        let Some(started_at) = started_at else {
            return self.stale(attempt);
        };
        self.job_moved(attempt.id, JobState::Running, JobState::Completed)?;
        self.insert_attempt(
            attempt,
            started_at,
            OutcomeKind::Completed,
            None,
            &completion.report,
        )?;
        let children = if effects.is_empty() {
            Vec::new()
        } else {
            self.apply_state_writes(&effects.state, now)?;
            self.enqueue(&effects.children, Some(attempt.id))?
                .into_iter()
                .map(|outcome| outcome.id)
                .collect()
        };
        Ok(Fenced::Applied(Completed::Done { children }))
    }

    /// Why the staged effects cannot be applied, if they cannot: every write and child is
    /// valid, every child's script exists, and every write's check holds against the
    /// committed rows (an expired key is absent). Reads only.
    fn check_effects(
        &mut self,
        effects: &AttemptEffects,
        now: i64,
    ) -> Result<Option<Refusal>, StoreError> {
        for write in &effects.state {
            if let Err(reason) = crate::effects::check_write(write) {
                return Ok(Some(Refusal::Invalid(reason)));
            }
        }
        let err = self.err("check child jobs");
        let mut known: HashSet<&str> = HashSet::new();
        for (index, child) in effects.children.iter().enumerate() {
            if let Err(error) = validate_enqueue(&self.options, child) {
                return Ok(Some(Refusal::Invalid(format!(
                    "child job {} (script `{}`): {error}",
                    index + 1,
                    child.script
                ))));
            }
            if known.contains(child.script.as_str()) {
                continue;
            }
            let exists = self
                .conn
                .prepare_cached("SELECT 1 FROM script_heads WHERE name = ?1")
                .and_then(|mut stmt| stmt.exists([&child.script]))
                .map_err(&err)?;
            if !exists {
                return Ok(Some(Refusal::Invalid(format!(
                    "child job {} names the script `{}`, which does not exist",
                    index + 1,
                    child.script
                ))));
            }
            known.insert(&child.script);
        }
        for write in &effects.state {
            if write.check == VersionCheck::Any {
                continue;
            }
            let current = self.state_version(&write.namespace, &write.key, now)?;
            if !write.check.holds(current) {
                return Ok(Some(Refusal::Conflict(StateConflict {
                    namespace: write.namespace.clone(),
                    key: write.key.clone(),
                    expected: write.check,
                    current,
                })));
            }
        }
        Ok(None)
    }

    /// Records a completion whose effects were refused as a failed attempt (fenced like
    /// any failure, under the job's retry policy).
    fn fail_completion(
        &mut self,
        completion: &Completion,
        refusal: Refusal,
    ) -> Result<Fenced<Completed>, StoreError> {
        let (name, message) = match &refusal {
            Refusal::Conflict(conflict) => (STATE_CONFLICT_ERROR, conflict.to_string()),
            Refusal::Invalid(reason) => (INVALID_EFFECT_ERROR, reason.clone()),
        };
        let failure = Failure {
            attempt: completion.attempt,
            kind: OutcomeKind::JsError,
            error: Some(JobError {
                name: name.to_owned(),
                message,
                stack: None,
            }),
            report: completion.report.clone(),
        };
        let disposition = match self.fail(&failure)? {
            Fenced::Applied(disposition) => disposition,
            Fenced::Stale(reason) => return Ok(Fenced::Stale(reason)),
        };
        tracing::info!(
            job = completion.attempt.id.0,
            attempt = completion.attempt.attempt,
            error = name,
            ?disposition,
            "completion refused: nothing the attempt staged was applied"
        );
        Ok(Fenced::Applied(match refusal {
            Refusal::Conflict(conflict) => Completed::Conflict {
                conflict,
                disposition,
            },
            Refusal::Invalid(reason) => Completed::Refused {
                reason,
                disposition,
            },
        }))
    }

    /// The committed version of a key; `None` when it does not exist or has expired.
    fn state_version(
        &self,
        namespace: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let version: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT version FROM state
                  WHERE namespace = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![namespace, key, now], |row| row.get(0))
                    .optional()
            })
            .map_err(self.err("read state"))?;
        Ok(version.map(|version| u64::try_from(version).unwrap_or(0)))
    }

    /// Applies checked writes in order (a later write of a key wins): each set gets the
    /// next version of the store's counter, a delete none. The versions, write by write.
    fn apply_state_writes(
        &mut self,
        writes: &[StateWrite],
        now: i64,
    ) -> Result<Vec<Option<u64>>, StoreError> {
        let err = self.err("write state");
        let sets = writes.iter().filter(|write| write.value.is_some()).count();
        let mut next = if sets == 0 {
            0
        } else {
            let last: i64 = self
                .conn
                .prepare_cached(
                    "UPDATE meta SET value = value + ?1 WHERE key = 'state_version' RETURNING value",
                )
                .and_then(|mut stmt| {
                    stmt.query_row([i64::try_from(sets).unwrap_or(i64::MAX)], |row| row.get(0))
                })
                .map_err(&err)?;
            last - i64::try_from(sets).unwrap_or(i64::MAX) + 1
        };
        let mut versions = Vec::with_capacity(writes.len());
        for write in writes {
            match &write.value {
                Some(value) => {
                    let expires_at = write.ttl.map(|ttl| now.saturating_add(duration_ms(ttl)));
                    self.conn
                        .prepare_cached(
                            "INSERT INTO state (namespace, key, value, version, updated_at, expires_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT (namespace, key) DO UPDATE
                                SET value = excluded.value, version = excluded.version,
                                    updated_at = excluded.updated_at,
                                    expires_at = excluded.expires_at",
                        )
                        .and_then(|mut stmt| {
                            stmt.execute(params![
                                write.namespace,
                                write.key,
                                value,
                                next,
                                now,
                                expires_at
                            ])
                        })
                        .map_err(&err)?;
                    versions.push(Some(u64::try_from(next).unwrap_or(0)));
                    next += 1;
                }
                None => {
                    self.conn
                        .prepare_cached("DELETE FROM state WHERE namespace = ?1 AND key = ?2")
                        .and_then(|mut stmt| stmt.execute(params![write.namespace, write.key]))
                        .map_err(&err)?;
                    versions.push(None);
                }
            }
        }
        Ok(versions)
    }

    /// One write outside an attempt (the CLI), with its check.
    pub(crate) fn state_set(
        &mut self,
        write: &StateWrite,
    ) -> Result<StateWriteOutcome, StoreError> {
        crate::effects::check_write(write).map_err(StoreError::InvalidRequest)?;
        let now = self.now();
        if write.check != VersionCheck::Any {
            let current = self.state_version(&write.namespace, &write.key, now)?;
            if !write.check.holds(current) {
                return Ok(StateWriteOutcome::Conflict { current });
            }
        }
        let version = self
            .apply_state_writes(std::slice::from_ref(write), now)?
            .pop()
            .flatten();
        Ok(StateWriteOutcome::Written { version })
    }

    /// Deletes up to `batch` state keys expired at `now`; how many.
    pub(crate) fn prune_state(&mut self, now: i64, batch: u32) -> Result<u64, StoreError> {
        let deleted = self
            .conn
            .prepare_cached(
                "DELETE FROM state WHERE rowid IN
                   (SELECT rowid FROM state WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
            )
            .and_then(|mut stmt| stmt.execute(params![now, batch]))
            .map_err(self.err("prune state"))?;
        Ok(deleted as u64)
    }

    pub(crate) fn fail(
        &mut self,
        failure: &Failure,
    ) -> Result<Fenced<FailDisposition>, StoreError> {
        let now = self.now();
        let attempt = failure.attempt;
        if attempt.epoch != self.epoch {
            return self.stale(attempt);
        }
        let err = self.err("fail");
        let found = self
            .conn
            .prepare_cached(
                "SELECT max_attempts, backoff_base_ms, backoff_cap_ms, cancel_requested, attempted_at
                   FROM jobs WHERE id = ?1 AND attempt = ?2 AND epoch = ?3 AND state = 'running'",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![attempt.id.0, attempt.attempt, attempt.epoch], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, bool>(3)?,
                        row.get::<_, Option<i64>>(4)?,
                    ))
                })
                .optional()
            })
            .map_err(&err)?;
        let Some((max_attempts, base_ms, cap_ms, cancel_requested, started_at)) = found else {
            return self.stale(attempt);
        };
        let mut backoff = self.options.backoff;
        if let Some(base) = base_ms {
            backoff.base = std::time::Duration::from_millis(u64::try_from(base).unwrap_or(0));
        }
        if let Some(cap) = cap_ms {
            backoff.cap = std::time::Duration::from_millis(u64::try_from(cap).unwrap_or(0));
        }
        let facts = FailureFacts {
            attempt: attempt.attempt,
            max_attempts: to_u32(max_attempts),
            cancel_requested,
            backoff,
        };
        let disposition = policy::decide_failure(&facts, now, self.jitter.next());
        let (state, run_at, finished_at) = match disposition {
            FailDisposition::Retry { run_at_ms } => (JobState::Retryable, Some(run_at_ms), None),
            FailDisposition::Discarded => (JobState::Discarded, None, Some(now)),
            FailDisposition::Cancelled => (JobState::Cancelled, None, Some(now)),
        };
        let last_error = failure.error.as_ref().map(|error| {
            let text = if error.name.is_empty() {
                error.message.clone()
            } else {
                format!("{}: {}", error.name, error.message)
            };
            truncate_utf8(&text, self.options.max_error_bytes)
                .0
                .to_owned()
        });
        self.conn
            .prepare_cached(
                "UPDATE jobs SET state = ?2, run_at = coalesce(?3, run_at), finished_at = ?4,
                                 lease_until = NULL, last_outcome = ?5, last_error = ?6
                  WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    attempt.id.0,
                    state.as_str(),
                    run_at,
                    finished_at,
                    failure.kind.as_str(),
                    last_error
                ])
            })
            .map_err(&err)?;
        self.job_moved(attempt.id, JobState::Running, state)?;
        self.insert_attempt(
            attempt,
            started_at,
            failure.kind,
            failure.error.as_ref(),
            &failure.report,
        )?;
        Ok(Fenced::Applied(disposition))
    }

    pub(crate) fn refund(
        &mut self,
        attempt: AttemptRef,
        report: &AttemptReport,
    ) -> Result<Fenced<()>, StoreError> {
        let now = self.now();
        if attempt.epoch != self.epoch {
            return self.stale(attempt);
        }
        let started_at: Option<(Option<i64>, bool)> = self
            .conn
            .prepare_cached(
                "UPDATE jobs
                    SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'available' END,
                        finished_at = CASE WHEN cancel_requested THEN ?1 END,
                        attempt = attempt - 1, lease_until = NULL, last_outcome = 'interrupted'
                  WHERE id = ?2 AND attempt = ?3 AND epoch = ?4 AND state = 'running'
                 RETURNING attempted_at, state = 'cancelled'",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![now, attempt.id.0, attempt.attempt, attempt.epoch],
                    |row| Ok((row.get(0)?, row.get::<_, bool>(1)?)),
                )
                .optional()
            })
            .map_err(self.err("refund"))?;
        let Some((started_at, cancelled)) = started_at else {
            return self.stale(attempt);
        };
        let state = if cancelled {
            JobState::Cancelled
        } else {
            JobState::Available
        };
        self.job_moved(attempt.id, JobState::Running, state)?;
        self.insert_attempt(attempt, started_at, OutcomeKind::Interrupted, None, report)?;
        Ok(Fenced::Applied(()))
    }

    pub(crate) fn cancel(&mut self, id: JobId) -> Result<CancelOutcome, StoreError> {
        let now = self.now();
        let err = self.err("cancel");
        let found = self
            .conn
            .prepare_cached(
                "SELECT state, attempt, epoch, attempted_at, owner_node, lease_until
                   FROM jobs WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([id.0], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                        row.get::<_, Option<String>>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                    ))
                })
                .optional()
            })
            .map_err(&err)?;
        let Some((state, attempt, epoch, attempted_at, owner_node, lease_until)) = found else {
            return Ok(CancelOutcome::NotFound);
        };
        // Held by this run, or by another node whose lease is live: only its holder can
        // stop the attempt, so the cancel is recorded for it to act on.
        let held = epoch == Some(self.epoch)
            || (owner_node.is_some_and(|node| node != self.node)
                && lease_until.is_some_and(|until| until > now));
        let state = parse_state(&self.path, &state)?;
        match state {
            JobState::Completed | JobState::Discarded | JobState::Cancelled => {
                Ok(CancelOutcome::AlreadyFinished(state))
            }
            JobState::Scheduled | JobState::Available | JobState::Retryable => {
                self.conn
                    .prepare_cached(
                        "UPDATE jobs SET state = 'cancelled', finished_at = ?2, last_error = 'cancelled'
                          WHERE id = ?1",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id.0, now]))
                    .map_err(&err)?;
                self.job_moved(id, state, JobState::Cancelled)?;
                Ok(CancelOutcome::Cancelled)
            }
            JobState::Running if held => {
                self.conn
                    .prepare_cached("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1")
                    .and_then(|mut stmt| stmt.execute([id.0]))
                    .map_err(&err)?;
                Ok(CancelOutcome::Running {
                    attempt: to_u32(attempt),
                })
            }
            JobState::Running => {
                // Orphaned by an earlier supervisor: nobody here runs it, and its late result
                // would be fenced out by the epoch, so it can be cancelled right away.
                let message = format!(
                    "cancelled while orphaned by supervisor epoch {}",
                    epoch.map_or_else(|| "?".to_owned(), |epoch| epoch.to_string())
                );
                self.conn
                    .prepare_cached(
                        "UPDATE jobs SET state = 'cancelled', finished_at = ?2, lease_until = NULL,
                                         last_outcome = 'supervisor_restart', last_error = ?3
                          WHERE id = ?1",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id.0, now, message]))
                    .map_err(&err)?;
                self.job_moved(id, JobState::Running, JobState::Cancelled)?;
                let attempt_ref = AttemptRef {
                    id,
                    attempt: to_u32(attempt),
                    epoch: epoch.unwrap_or(0),
                };
                let error = JobError {
                    name: "SupervisorRestart".into(),
                    message,
                    stack: None,
                };
                self.insert_attempt(
                    attempt_ref,
                    attempted_at,
                    OutcomeKind::SupervisorRestart,
                    Some(&error),
                    &AttemptReport::default(),
                )?;
                self.orphans.remove(id.0);
                Ok(CancelOutcome::Cancelled)
            }
        }
    }

    /// Puts a finished or waiting job back to `available` now. With `latest` the job is
    /// first switched to the current version of its script; without, it keeps the version
    /// it was enqueued with.
    pub(crate) fn retry(&mut self, id: JobId, latest: bool) -> Result<RetryOutcome, StoreError> {
        let now = self.now();
        let err = self.err("retry");
        let found = self
            .conn
            .prepare_cached(
                "SELECT j.state, j.attempt, j.max_attempts, j.unique_key, s.hash, h.script_id, c.hash
                   FROM jobs j JOIN scripts s ON s.id = j.script_id
                   LEFT JOIN script_heads h ON h.name = s.name
                   LEFT JOIN scripts c ON c.id = h.script_id
                  WHERE j.id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([id.0], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                        row.get::<_, Option<String>>(6)?,
                    ))
                })
                .optional()
            })
            .map_err(&err)?;
        let Some((state, attempt, max_attempts, unique_key, hash, head_id, head_hash)) = found
        else {
            return Ok(RetryOutcome::NotFound);
        };
        let state = parse_state(&self.path, &state)?;
        if !matches!(
            state,
            JobState::Discarded | JobState::Cancelled | JobState::Retryable | JobState::Scheduled
        ) {
            return Ok(RetryOutcome::NotRetryable(state));
        }
        if let (true, Some(key)) = (state.is_finished(), &unique_key) {
            let existing: Option<i64> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT id FROM jobs WHERE unique_key = ?1 AND unique_key IS NOT NULL
                        AND state NOT IN {FINISHED_SQL_LIST}"
                ))
                .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
                .map_err(&err)?;
            if let Some(existing) = existing {
                return Ok(RetryOutcome::UniqueConflict {
                    existing: JobId(existing),
                });
            }
        }
        let (script_hash, switch_to) = match (latest, head_id, head_hash) {
            (true, Some(head_id), Some(head_hash)) if head_hash != hash => {
                (head_hash, Some(head_id))
            }
            _ => (hash, None),
        };
        let max_attempts = max_attempts.max(attempt + 1);
        self.conn
            .prepare_cached(
                "UPDATE jobs SET state = 'available', run_at = ?2, max_attempts = ?3, finished_at = NULL,
                                 cancel_requested = 0, script_id = coalesce(?4, script_id)
                  WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![id.0, now, max_attempts, switch_to]))
            .map_err(&err)?;
        Ok(RetryOutcome::Requeued {
            max_attempts: to_u32(max_attempts),
            script_hash,
            script_changed: switch_to.is_some(),
        })
    }

    /// Pauses or resumes `queue`. An unknown queue is created only with `create`;
    /// without, nothing is written and the answer is `false`.
    pub(crate) fn set_queue_paused(
        &mut self,
        queue: &str,
        paused: bool,
        create: bool,
    ) -> Result<bool, StoreError> {
        check_queue_name(queue)?;
        let now = self.now();
        let err = self.err("pause queue");
        if create {
            self.conn
                .prepare_cached(
                    "INSERT INTO queues (name, paused, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at",
                )
                .and_then(|mut stmt| stmt.execute(params![queue, paused, now]))
                .map_err(err)?;
            return Ok(true);
        }
        let changed = self
            .conn
            .prepare_cached("UPDATE queues SET paused = ?2, updated_at = ?3 WHERE name = ?1")
            .and_then(|mut stmt| stmt.execute(params![queue, paused, now]))
            .map_err(err)?;
        Ok(changed > 0)
    }

    /// Removes a queue no job was ever enqueued to (jobs that were pruned since do not
    /// count: the queue is then unused again).
    pub(crate) fn remove_queue(&mut self, queue: &str) -> Result<QueueRemoval, StoreError> {
        let err = self.err("remove queue");
        let jobs: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM jobs WHERE queue = ?1")
            .and_then(|mut stmt| stmt.query_row([queue], |row| row.get(0)))
            .map_err(&err)?;
        if jobs > 0 {
            return Ok(QueueRemoval::HasJobs(u64::try_from(jobs).unwrap_or(0)));
        }
        let removed = self
            .conn
            .prepare_cached("DELETE FROM queues WHERE name = ?1")
            .and_then(|mut stmt| stmt.execute([queue]))
            .map_err(&err)?;
        Ok(if removed > 0 {
            QueueRemoval::Removed
        } else {
            QueueRemoval::NotFound
        })
    }

    pub(crate) fn set_queue_concurrency(
        &mut self,
        queue: &str,
        limit: Option<u32>,
    ) -> Result<(), StoreError> {
        check_queue_name(queue)?;
        let now = self.now();
        self.conn
            .prepare_cached(
                "INSERT INTO queues (name, concurrency, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency,
                                                  updated_at = excluded.updated_at",
            )
            .and_then(|mut stmt| stmt.execute(params![queue, limit, now]))
            .map_err(self.err("set queue concurrency"))?;
        Ok(())
    }

    pub(crate) fn prune_step(&mut self, step: &PruneStep) -> Result<PruneDone, StoreError> {
        let err = self.err("prune");
        let window_end = step.last.min(step.after.saturating_add(PRUNE_WINDOW));
        let victims: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id FROM jobs
                      WHERE id > ?1 AND id <= ?2
                        AND ((state = 'completed' AND finished_at < ?3)
                          OR (state IN ('discarded', 'cancelled') AND finished_at < ?4))
                      ORDER BY id LIMIT ?5",
                )
                .map_err(&err)?;
            let rows = stmt
                .query_map(
                    params![
                        step.after,
                        window_end,
                        step.completed_before,
                        step.failed_before,
                        step.batch
                    ],
                    |row| row.get(0),
                )
                .map_err(&err)?;
            rows.collect::<Result<_, _>>().map_err(&err)?
        };
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM jobs WHERE id = ?1")
            .map_err(&err)?;
        for id in &victims {
            delete.execute([id]).map_err(&err)?;
        }
        let full = victims.len() >= usize::try_from(step.batch).unwrap_or(usize::MAX);
        let next_after = match victims.last() {
            Some(last) if full => *last,
            _ => window_end,
        };
        // The children of the jobs just deleted keep running, without the link: one range
        // of `jobs_parent`, which holds only jobs that have a parent.
        if !victims.is_empty() {
            self.conn
                .prepare_cached(CLEAR_PRUNED_PARENTS_SQL)
                .and_then(|mut stmt| stmt.execute(params![step.after, next_after]))
                .map_err(&err)?;
        }
        Ok(PruneDone {
            deleted: victims.len() as u64,
            next_after,
        })
    }
}

/// Why a completion's effects were not applied.
enum Refusal {
    Conflict(StateConflict),
    Invalid(String),
}

/// A stored network grant (JSON array text); a missing or unreadable one grants nothing.
pub(crate) fn parse_allow_net(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

fn check_queue_name(queue: &str) -> Result<(), StoreError> {
    check_name(NameKind::Queue, queue).map_err(StoreError::InvalidRequest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueue_names_follow_the_one_name_rule() {
        let options = StoreOptions::default();
        let request = |script: &str, queue: &str| EnqueueRequest::new(script, "{}").queue(queue);
        validate_enqueue(&options, &request("hello", &"q".repeat(100))).unwrap();
        for (script, queue, said) in [
            ("hello", "a b", "queue name `a b`: use letters, digits"),
            ("hello", &"q".repeat(150), "(1 to 100 characters)"),
            ("", "default", "script name ``: use letters, digits"),
            ("he/llo", "default", "script name `he/llo`"),
        ] {
            let err = validate_enqueue(&options, &request(script, queue))
                .unwrap_err()
                .to_string();
            assert!(err.contains(said), "{err}");
        }
        let err = validate_enqueue(
            &options,
            &EnqueueRequest {
                max_attempts: Some(0),
                ..request("hello", "default")
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("max attempts must be at least 1"), "{err}");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), ("h", true));
        assert_eq!(truncate_utf8("héllo", 3), ("hé", true));
        assert_eq!(truncate_utf8("hi", 10), ("hi", false));
    }

    /// VM steps of one run of the claim's queue query on a store with `idle` queues that
    /// have no work and one that has, and its plan.
    fn claim_queue_cost(idle: usize) -> (u64, String) {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::schema::open_writer(
            &dir.path().join("jobs.db"),
            &StoreOptions::default(),
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO scripts (id, name, hash, source, created_at) VALUES (1, 's', 'h', '', 0);
             INSERT INTO queues (name) VALUES ('busy');
             INSERT INTO jobs (queue, script_id, state, run_at, max_attempts, payload, created_at)
             VALUES ('busy', 1, 'available', 0, 1, '{}', 0);",
        )
        .unwrap();
        let mut insert = conn
            .prepare("INSERT INTO queues (name) VALUES (?1)")
            .unwrap();
        for n in 0..idle {
            insert.execute([format!("idle-{n:06}")]).unwrap();
        }
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {CLAIM_QUEUES_SQL}"))
            .unwrap()
            .query_map([], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut stmt = conn.prepare(CLAIM_QUEUES_SQL).unwrap();
        let names: Vec<String> = stmt
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names, ["busy"]);
        let steps = stmt.get_status(rusqlite::StatementStatus::VmStep);
        (u64::try_from(steps).unwrap(), plan.join("\n"))
    }

    #[test]
    fn the_claim_reads_only_the_queues_that_have_work() {
        let (few, plan) = claim_queue_cost(10);
        let (many, _) = claim_queue_cost(20_000);
        // The same work whatever the number of idle queues (not a timing: VM steps).
        assert_eq!(
            few, many,
            "steps with 10 idle queues: {few}, with 20,000: {many}"
        );
        assert!(
            !plan
                .lines()
                .any(|line| line.trim_start().starts_with("SCAN queues")),
            "the claim must not scan the queues table:\n{plan}"
        );
        assert!(plan.contains("jobs_claim"), "{plan}");
    }

    #[test]
    fn pruning_clears_parents_through_the_parent_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::schema::open_writer(
            &dir.path().join("jobs.db"),
            &StoreOptions::default(),
        )
        .unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {CLEAR_PRUNED_PARENTS_SQL}"))
            .unwrap()
            .query_map([1, 2], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("INDEX jobs_parent (parent_id>? AND parent_id<?)"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN jobs"), "{plan}");
    }

    #[test]
    fn a_grant_makes_another_version_and_none_keeps_the_sources_hash() {
        let source = "export default () => 1";
        assert_eq!(script_version_hash(source, &[]), sha256_hex(source));
        let granted = script_version_hash(source, &["a.example".into()]);
        assert_ne!(granted, sha256_hex(source));
        assert_ne!(granted, script_version_hash(source, &["b.example".into()]));
        assert_eq!(granted.len(), 64);
    }

    #[test]
    fn script_hash_is_sha256_hex() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
