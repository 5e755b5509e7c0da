//! Reads for status, listings and the CLI, on a separate connection opened with
//! `SQLITE_OPEN_READ_ONLY`. WAL lets them run while the writer commits; each call is one
//! short read transaction so the WAL can still be rewound.
//!
//! Must not: write (it cannot), or hold a statement open across calls.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};

use super::error::{StoreError, db_error, parse_state, stored_outcome, stored_state};
use super::read_pool::{ReadConn, ReadPool};
use super::schema;
use super::types::*;
use crate::effects::{
    MAX_STATE_PAGE, RequestRecord, StateEntry, StatePage, StateQuery, check_key, check_namespace,
    check_query, prefix_end,
};
use crate::jobs::parse_allow_net;

pub(crate) struct Reader {
    path: PathBuf,
    pool: Arc<ReadPool>,
}

/// With `scripts s` LEFT JOINed: a job whose script version row is missing (written by
/// another tool; the claim discards it) is still listed and shown, with an empty script
/// name and hash, rather than vanishing from every read.
const JOB_COLUMNS: &str = "j.id, j.queue, coalesce(s.name, ''), coalesce(s.hash, ''), j.state,
    j.priority, j.run_at, j.attempt, j.max_attempts, j.timeout_ms, j.backoff_base_ms, j.backoff_cap_ms, j.unique_key, j.epoch,
    j.lease_until, j.attempted_at, j.cancel_requested, j.last_outcome, j.last_error, j.created_at,
    j.finished_at, j.owner_node, j.schedule_name, j.schedule_slot_ms, j.parent_id";

const STATE_COLUMNS: &str = "namespace, key, value, version, updated_at, expires_at";

fn state_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<StateEntry> {
    Ok(StateEntry {
        namespace: row.get(0)?,
        key: row.get(1)?,
        value: row.get(2)?,
        version: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
        updated_at_ms: row.get(4)?,
        expires_at_ms: row.get(5)?,
    })
}

/// The stored requests of an attempt; a value that does not parse (written by another
/// tool) reads as none rather than failing the whole read.
fn parse_requests(text: &str) -> Vec<RequestRecord> {
    serde_json::from_str(text).unwrap_or_default()
}

fn ms_to_duration(ms: Option<i64>) -> Option<Duration> {
    ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn to_u64(value: Option<i64>) -> Option<u64> {
    value.map(|value| u64::try_from(value).unwrap_or(0))
}

/// Maps the first 25 columns (JOB_COLUMNS); payload and result are filled by the caller.
fn job_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<JobInfo> {
    let state: String = row.get(4)?;
    let base = row.get::<_, Option<i64>>(10)?;
    let cap = row.get::<_, Option<i64>>(11)?;
    let default = BackoffPolicy::default();
    let backoff = (base.is_some() || cap.is_some()).then(|| BackoffPolicy {
        base: ms_to_duration(base).unwrap_or(default.base),
        cap: ms_to_duration(cap).unwrap_or(default.cap),
    });
    let last_outcome: Option<String> = row.get(17)?;
    Ok(JobInfo {
        id: JobId(row.get(0)?),
        queue: row.get(1)?,
        script_name: row.get(2)?,
        script_hash: row.get(3)?,
        state: stored_state(4, &state)?,
        priority: i32::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
        run_at_ms: row.get(6)?,
        attempt: to_u32(row.get(7)?),
        max_attempts: to_u32(row.get(8)?),
        timeout: ms_to_duration(row.get(9)?),
        backoff,
        unique_key: row.get(12)?,
        payload: String::new(),
        result: None,
        epoch: row.get(13)?,
        lease_until_ms: row.get(14)?,
        attempted_at_ms: row.get(15)?,
        cancel_requested: row.get(16)?,
        last_outcome: last_outcome
            .as_deref()
            .map(|text| stored_outcome(17, text))
            .transpose()?,
        last_error: row.get(18)?,
        created_at_ms: row.get(19)?,
        finished_at_ms: row.get(20)?,
        owner_node: row.get::<_, Option<String>>(21)?.map(NodeId),
        schedule_name: row.get(22)?,
        schedule_slot_ms: row.get(23)?,
        parent: row.get::<_, Option<i64>>(24)?.map(JobId),
    })
}

impl Reader {
    pub(crate) fn new(pool: Arc<ReadPool>) -> Self {
        Self {
            path: pool.path().to_path_buf(),
            pool,
        }
    }

    fn conn(&self) -> Result<ReadConn<'_>, StoreError> {
        self.pool.conn()
    }

    fn err(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |err| db_error(&self.path, operation, err)
    }

    pub(crate) fn get_job(&self, id: JobId) -> Result<Option<JobDetail>, StoreError> {
        let err = self.err("get job");
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(&err)?;
        let job = tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS}, j.payload, j.result
                   FROM jobs j LEFT JOIN scripts s ON s.id = j.script_id WHERE j.id = ?1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row([id.0], |row| {
                    let mut job = job_info(row)?;
                    job.payload = row.get(25)?;
                    job.result = row.get(26)?;
                    Ok(job)
                })
                .optional()
            })
            .map_err(&err)?;
        let Some(job) = job else {
            return Ok(None);
        };
        let attempts = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT attempt, epoch, worker_pid, started_at, finished_at, duration_ms, outcome,
                            error_name, error_message, error_stack, logs, logs_truncated, cpu_ms,
                            peak_memory_bytes, requests
                       FROM attempts WHERE job_id = ?1 ORDER BY id",
                )
                .map_err(&err)?;
            let rows = stmt
                .query_map([id.0], |row| {
                    let outcome: String = row.get(6)?;
                    let name: Option<String> = row.get(7)?;
                    let message: Option<String> = row.get(8)?;
                    let stack: Option<String> = row.get(9)?;
                    let error =
                        (name.is_some() || message.is_some() || stack.is_some()).then(|| {
                            JobError {
                                name: name.unwrap_or_default(),
                                message: message.unwrap_or_default(),
                                stack,
                            }
                        });
                    Ok(AttemptInfo {
                        attempt: to_u32(row.get(0)?),
                        epoch: row.get(1)?,
                        worker_pid: row
                            .get::<_, Option<i64>>(2)?
                            .and_then(|pid| u32::try_from(pid).ok()),
                        started_at_ms: row.get(3)?,
                        finished_at_ms: row.get(4)?,
                        duration_ms: to_u64(row.get(5)?),
                        outcome: stored_outcome(6, &outcome)?,
                        error,
                        logs: row.get(10)?,
                        logs_truncated: row.get(11)?,
                        cpu_ms: to_u64(row.get(12)?),
                        peak_memory_bytes: to_u64(row.get(13)?),
                        requests: row
                            .get::<_, Option<String>>(14)?
                            .as_deref()
                            .map(parse_requests)
                            .unwrap_or_default(),
                    })
                })
                .map_err(&err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(&err)?
        };
        let current_script_hash = tx
            .prepare_cached(
                "SELECT s.hash FROM script_heads h JOIN scripts s ON s.id = h.script_id
                  WHERE h.name = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([&job.script_name], |row| row.get(0))
                    .optional()
            })
            .map_err(&err)?;
        let children = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id FROM jobs WHERE parent_id = ?1 AND parent_id IS NOT NULL
                      ORDER BY id LIMIT ?2",
                )
                .map_err(&err)?;
            let rows = stmt
                .query_map(params![id.0, MAX_LISTED_CHILDREN], |row| {
                    row.get(0).map(JobId)
                })
                .map_err(&err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(&err)?
        };
        Ok(Some(JobDetail {
            job,
            attempts,
            current_script_hash,
            children,
        }))
    }

    pub(crate) fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobInfo>, StoreError> {
        let err = self.err("list jobs");
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs j LEFT JOIN scripts s ON s.id = j.script_id
                  WHERE (?1 IS NULL OR j.state = ?1) AND (?2 IS NULL OR j.queue = ?2)
                    AND (?3 IS NULL OR s.name = ?3) AND (?4 IS NULL OR j.id < ?4)
                  ORDER BY j.id DESC LIMIT ?5"
            ))
            .map_err(&err)?;
        let rows = stmt
            .query_map(
                params![
                    filter.state.map(JobState::as_str),
                    filter.queue,
                    filter.script,
                    filter.before.map(|id| id.0),
                    filter.limit
                ],
                job_info,
            )
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    pub(crate) fn list_scripts(&self) -> Result<Vec<ScriptInfo>, StoreError> {
        let err = self.err("list scripts");
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT s.name, s.hash, s.created_at, coalesce(h.script_id = s.id, 0),
                        length(CAST(s.source AS BLOB)), s.allow_net
                   FROM scripts s LEFT JOIN script_heads h ON h.name = s.name
                  ORDER BY s.name, s.id",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(ScriptInfo {
                    name: row.get(0)?,
                    hash: row.get(1)?,
                    created_at_ms: row.get(2)?,
                    current: row.get(3)?,
                    source_bytes: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
                    allow_net: parse_allow_net(row.get::<_, Option<String>>(5)?.as_deref()),
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    pub(crate) fn script_source(
        &self,
        name: &str,
        hash: &str,
    ) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        conn.prepare_cached("SELECT source FROM scripts WHERE name = ?1 AND hash = ?2")
            .and_then(|mut stmt| {
                stmt.query_row(params![name, hash], |row| row.get(0))
                    .optional()
            })
            .map_err(self.err("read script"))
    }

    pub(crate) fn list_queues(&self) -> Result<Vec<QueueInfo>, StoreError> {
        let err = self.err("list queues");
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT name, paused, concurrency, running FROM queues ORDER BY name")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(QueueInfo {
                    name: row.get(0)?,
                    paused: row.get(1)?,
                    concurrency: row.get::<_, Option<i64>>(2)?.map(to_u32),
                    running: to_u32(row.get(3)?),
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    pub(crate) fn counts(&self) -> Result<Vec<QueueCounts>, StoreError> {
        let err = self.err("count jobs");
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(&err)?;
        let mut queues: BTreeMap<String, QueueCounts> = BTreeMap::new();
        {
            let mut stmt = tx
                .prepare_cached("SELECT name, paused, concurrency FROM queues")
                .map_err(&err)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, bool>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                    ))
                })
                .map_err(&err)?;
            for row in rows {
                let (name, paused, concurrency) = row.map_err(&err)?;
                queues.insert(
                    name.clone(),
                    QueueCounts {
                        queue: name,
                        paused,
                        concurrency: concurrency.map(to_u32),
                        ..QueueCounts::default()
                    },
                );
            }
        }
        let mut stmt = tx
            .prepare_cached("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .map_err(&err)?;
        for row in rows {
            let (queue, state, count) = row.map_err(&err)?;
            let entry = queues.entry(queue.clone()).or_insert_with(|| QueueCounts {
                queue,
                ..QueueCounts::default()
            });
            entry.add(
                parse_state(&self.path, &state)?,
                u64::try_from(count).unwrap_or(0),
            );
        }
        Ok(queues.into_values().collect())
    }

    /// `(first id, last id)` of the jobs that may be old enough to prune: those created
    /// before `cutoff`, never including the newest job. Ids grow with creation time, so a binary search over the primary
    /// key finds the bound without an index on time.
    pub(crate) fn prune_range(&self, cutoff: i64) -> Result<Option<(i64, i64)>, StoreError> {
        let err = self.err("plan pruning");
        let conn = self.conn()?;
        let bounds: (Option<i64>, Option<i64>) = conn
            .query_row("SELECT min(id), max(id) FROM jobs", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(&err)?;
        let (Some(first), Some(last)) = bounds else {
            return Ok(None);
        };
        let mut at_or_after = conn
            .prepare_cached("SELECT id, created_at FROM jobs WHERE id >= ?1 ORDER BY id LIMIT 1")
            .map_err(&err)?;
        let mut probe = |id: i64| -> Result<Option<(i64, i64)>, StoreError> {
            at_or_after
                .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map_err(&err)
        };
        match probe(first)? {
            Some((_, created_at)) if created_at < cutoff => {}
            _ => return Ok(None),
        }
        // Invariant: `good` is an id created before the cutoff; no id >= `bad` is.
        let (mut good, mut bad) = (first, last.saturating_add(1));
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            match probe(mid)? {
                Some((id, created_at)) if id < bad && created_at < cutoff => good = id,
                _ => bad = mid,
            }
        }
        // Never delete the newest row: rowids are max + 1, so keeping it means a job id is
        // never handed out twice (a late result can never meet a namesake).
        let good = if good == last { last - 1 } else { good };
        Ok((good >= first).then_some((first, good)))
    }

    pub(crate) fn state_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<StateEntry>, StoreError> {
        check_namespace(namespace).map_err(StoreError::InvalidRequest)?;
        check_key(key).map_err(StoreError::InvalidRequest)?;
        let now = self.pool.now_ms();
        let conn = self.conn()?;
        conn.prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM state
              WHERE namespace = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(params![namespace, key, now], state_entry)
                .optional()
        })
        .map_err(self.err("read state"))
    }

    /// Keys in key order from the later of `prefix` and `after` (exclusive), while they
    /// start with `prefix`: one index range, never a scan of the rest of the namespace.
    pub(crate) fn state_list(&self, query: &StateQuery) -> Result<StatePage, StoreError> {
        check_query(query).map_err(StoreError::InvalidRequest)?;
        let limit = query.limit.clamp(1, MAX_STATE_PAGE);
        let now = self.pool.now_ms();
        let (lower, lower_op) = match &query.after {
            Some(after) if after.as_str() >= query.prefix.as_str() => (after.as_str(), ">"),
            _ => (query.prefix.as_str(), ">="),
        };
        let upper = prefix_end(&query.prefix);
        let upper_sql = if upper.is_some() { "AND key < ?5" } else { "" };
        let err = self.err("list state");
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {STATE_COLUMNS} FROM state
                  WHERE namespace = ?1 AND key {lower_op} ?2 {upper_sql}
                    AND (expires_at IS NULL OR expires_at > ?3)
                  ORDER BY key LIMIT ?4"
            ))
            .map_err(&err)?;
        let fetch = i64::from(limit) + 1;
        let rows = match &upper {
            Some(upper) => stmt.query_map(
                params![query.namespace, lower, now, fetch, upper],
                state_entry,
            ),
            None => stmt.query_map(params![query.namespace, lower, now, fetch], state_entry),
        }
        .map_err(&err)?;
        let mut entries = rows.collect::<Result<Vec<_>, _>>().map_err(&err)?;
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        Ok(StatePage { entries, more })
    }

    pub(crate) fn settings(&self) -> Result<ConnectionSettings, StoreError> {
        schema::read_settings(&self.path, &*self.conn()?)
    }

    /// The epoch the last writer started (the one its claims carry); 0 before any.
    pub(crate) fn current_epoch(&self) -> Result<i64, StoreError> {
        self.conn()?
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |row| {
                row.get(0)
            })
            .map_err(self.err("read epoch"))
    }

    pub(crate) fn quick_check(&self) -> Result<(), StoreError> {
        schema::quick_check(&self.path, &*self.conn()?)
    }

    pub(crate) fn explain(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        let err = self.err("explain");
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .map_err(&err)?;
        let nulls = vec![Value::Null; stmt.parameter_count()];
        let rows = stmt
            .query_map(params_from_iter(nulls), |row| row.get::<_, String>(3))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }
}
