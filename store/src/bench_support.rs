//! Benchmark-only helpers: fast bulk prefill of a store file (synchronous=OFF, 100k rows
//! per transaction, straight SQL into the same schema the store writes). Not part of the
//! supported API; never use on a live store: run it while no `SqliteStore` has the file open.

use std::path::Path;

use rusqlite::{Connection, params};

use super::error::{StoreError, db_error};

/// What to add to an existing (migrated) store file.
#[derive(Debug, Clone)]
pub struct Prefill {
    /// Script that must already exist (added through the store).
    pub script: String,
    pub queue: String,
    pub payload: String,
    /// Completed jobs, each with one `completed` attempt row and a small result.
    pub finished: u64,
    /// Available jobs at `pending_priority`.
    pub pending: u64,
    pub pending_priority: i32,
    /// Timestamps used for the rows.
    pub now_ms: i64,
}

pub fn prefill(path: &Path, spec: &Prefill) -> Result<(), StoreError> {
    let err = |err| db_error(path, "prefill", err);
    let conn = Connection::open(path).map_err(err)?;
    conn.execute_batch(
        "PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON; PRAGMA cache_size = -262144;",
    )
    .map_err(err)?;
    let script_id: i64 = conn
        .query_row(
            "SELECT script_id FROM script_heads WHERE name = ?1",
            [&spec.script],
            |row| row.get(0),
        )
        .map_err(err)?;
    conn.execute(
        "INSERT INTO queues (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        [&spec.queue],
    )
    .map_err(err)?;
    const CHUNK: u64 = 100_000;
    let mut done = 0;
    while done < spec.finished {
        let n = CHUNK.min(spec.finished - done);
        conn.execute_batch("BEGIN").map_err(err)?;
        {
            let mut job = conn
                .prepare_cached(
                    "INSERT INTO jobs (queue, script_id, state, priority, run_at, attempt, max_attempts,
                                       payload, result, epoch, attempted_at, last_outcome, created_at,
                                       finished_at)
                     VALUES (?1, ?2, 'completed', 0, ?3, 1, 3, ?4, '{\"ok\":true,\"ms\":12}', 0, ?3,
                             'completed', ?3, ?3)",
                )
                .map_err(err)?;
            let mut attempt = conn
                .prepare_cached(
                    "INSERT INTO attempts (job_id, attempt, epoch, worker_pid, started_at, finished_at,
                                           duration_ms, outcome, logs, logs_truncated, cpu_ms,
                                           peak_memory_bytes)
                     VALUES (?1, 1, 0, 4242, ?2, ?2, 12, 'completed', '', 0, 11, 52428800)",
                )
                .map_err(err)?;
            for _ in 0..n {
                job.execute(params![spec.queue, script_id, spec.now_ms, spec.payload])
                    .map_err(err)?;
                attempt
                    .execute(params![conn.last_insert_rowid(), spec.now_ms])
                    .map_err(err)?;
            }
        }
        conn.execute_batch("COMMIT").map_err(err)?;
        done += n;
    }
    let mut done = 0;
    while done < spec.pending {
        let n = CHUNK.min(spec.pending - done);
        conn.execute_batch("BEGIN").map_err(err)?;
        {
            let mut job = conn
                .prepare_cached(
                    "INSERT INTO jobs (queue, script_id, state, priority, run_at, max_attempts, payload,
                                       created_at)
                     VALUES (?1, ?2, 'available', ?3, ?4, 3, ?5, ?4)",
                )
                .map_err(err)?;
            for _ in 0..n {
                job.execute(params![
                    spec.queue,
                    script_id,
                    spec.pending_priority,
                    spec.now_ms,
                    spec.payload
                ])
                .map_err(err)?;
            }
        }
        conn.execute_batch("COMMIT").map_err(err)?;
        done += n;
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(err)?;
    Ok(())
}

/// Pauses (or resumes) `queue` in a store file, creating the queue row if needed; jobs of a
/// paused queue stay in the table but are never claimed. Same rule as [`prefill`]: only
/// while no `SqliteStore` has the file open.
pub fn set_queue_paused(path: &Path, queue: &str, paused: bool) -> Result<(), StoreError> {
    let err = |err| db_error(path, "set queue paused", err);
    let conn = Connection::open(path).map_err(err)?;
    conn.execute(
        "INSERT INTO queues (name, paused) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
        params![queue, paused],
    )
    .map_err(err)?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(err)?;
    Ok(())
}
