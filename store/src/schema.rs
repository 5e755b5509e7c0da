//! Opening the database file: the read-only pre-flight check (SQLite header, quick_check,
//! application id, schema version) that runs before anything can write, the checks of a
//! read-only open (which creates and migrates nothing), the connection PRAGMAs for the
//! writer and the reader, and the numbered migrations.
//!
//! Must not: open the writer before the check passed, or set `journal_mode=WAL` (which
//! writes the header) on a file that has not been checked.

use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use super::error::{StoreError, db_error};
use super::types::ConnectionSettings;
use super::{StoreOptions, Synchronous};

/// Written by migration 0001: 'JOBV'.
pub(crate) const APPLICATION_ID: i64 = 0x4A4F_4256;

/// Numbered migrations, applied in order, one transaction each.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_schedules.sql")),
    (3, include_str!("migrations/0003_rules_in_code.sql")),
    (4, include_str!("migrations/0004_owners.sql")),
    (5, include_str!("migrations/0005_host_api.sql")),
];

/// The highest schema version this binary knows.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

const READER_CACHE_KIB: i64 = 8 * 1024;
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
const WAL_AUTOCHECKPOINT_PAGES: i64 = 1000;

/// Checks an existing file without writing to it. A missing or empty file is a new
/// database and passes.
pub(crate) fn preflight(path: &Path) -> Result<(), StoreError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => return Ok(()),
        Ok(meta) if !meta.is_file() => {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: "not a regular file".into(),
                source: None,
            });
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: err.to_string(),
                source: Some(Box::new(err)),
            });
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|err| open_error(path, err))?;
    check_contents(path, &conn)
}

fn open_error(path: &Path, err: rusqlite::Error) -> StoreError {
    match db_error(path, "open", err) {
        StoreError::Database { path, source, .. } => StoreError::Open {
            reason: source.to_string(),
            path,
            source: Some(source),
        },
        other => other,
    }
}

fn check_contents(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    check_integrity(path, conn)?;
    identify(path, conn).map(|_| ())
}

/// `PRAGMA quick_check(5)`. The first read parses the header: a foreign file fails here
/// with SQLITE_NOTADB.
fn check_integrity(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    let problems: Vec<String> = {
        let mut stmt = conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(|err| db_error(path, "quick_check", err))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|err| db_error(path, "quick_check", err))?;
        rows.collect::<Result<_, _>>()
            .map_err(|err| db_error(path, "quick_check", err))?
    };
    if problems.len() != 1 || problems[0] != "ok" {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("quick_check: {}", problems.join("; ")),
        });
    }
    Ok(())
}

/// What an open database holds, once it is known not to be another application's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contents {
    /// No schema at all: a new database, ours to initialise.
    Empty,
    /// A jobvisor schema of this version (at most `SCHEMA_VERSION`).
    Schema(i64),
}

/// Tells an empty database, a jobvisor one and anything else apart, reading only.
fn identify(path: &Path, conn: &Connection) -> Result<Contents, StoreError> {
    let version: i64 = pragma_i64(path, conn, "user_version")?;
    let application_id: i64 = pragma_i64(path, conn, "application_id")?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(|err| db_error(path, "read schema", err))?;
    if version == 0 && objects == 0 && application_id == 0 {
        return Ok(Contents::Empty);
    }
    if application_id != APPLICATION_ID {
        return Err(StoreError::ForeignDatabase {
            path: path.to_path_buf(),
            detail: format!("application_id {application_id}, user_version {version}"),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(Contents::Schema(version))
}

/// The checks of a read-only open on its first connection: a jobvisor database of exactly
/// this binary's schema (an older one would need the migrations a writer applies). No
/// `quick_check`: it reads the whole file, and a read handle is opened often.
pub(crate) fn check_readable(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    match identify(path, conn)? {
        Contents::Schema(SCHEMA_VERSION) => Ok(()),
        Contents::Schema(found) => Err(StoreError::SchemaTooOld {
            path: path.to_path_buf(),
            found,
            required: SCHEMA_VERSION,
        }),
        Contents::Empty => Err(StoreError::Open {
            path: path.to_path_buf(),
            reason: "the database holds no jobvisor store yet (a read-only open creates none)"
                .into(),
            source: None,
        }),
    }
}

/// A read-only open's check of the file itself: it must exist and be a non-empty regular
/// file, since nothing is created or initialised.
pub(crate) fn check_existing_file(path: &Path) -> Result<(), StoreError> {
    let refuse = |reason: String, source: Option<std::io::Error>| StoreError::Open {
        path: path.to_path_buf(),
        reason,
        source: source.map(|err| Box::new(err) as _),
    };
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(refuse("not a regular file".into(), None)),
        Ok(meta) if meta.len() == 0 => Err(refuse(
            "the file is empty: no jobvisor store was created here yet".into(),
            None,
        )),
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(refuse(
            "no such file (a read-only open never creates a store)".into(),
            Some(err),
        )),
        Err(err) => Err(refuse(err.to_string(), Some(err))),
    }
}

fn pragma_i64(path: &Path, conn: &Connection, name: &str) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, name, |row| row.get(0))
        .map_err(|err| db_error(path, "read pragma", err))
}

fn set_common(path: &Path, conn: &Connection, options: &StoreOptions) -> Result<(), StoreError> {
    let err = |err| db_error(path, "configure connection", err);
    conn.busy_timeout(options.busy_timeout).map_err(err)?;
    // Without QPSG, SQLite re-prepares the claim on every call (LIMIT ? and a bound queue
    // compared with the partial index): -30..40 % measured.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(err)?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", options.synchronous.pragma_value())
        .map_err(err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens the write connection (creating the file), switches it to WAL, migrates.
/// Call only after `preflight` passed.
pub(crate) fn open_writer(path: &Path, options: &StoreOptions) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|err| open_error(path, err))?;
    // Another process may have replaced the file between preflight and here; check again
    // before the first write.
    check_contents(path, &conn)?;
    set_common(path, &conn, options)?;
    let err = |err| db_error(path, "configure connection", err);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            reason: format!(
                "cannot switch to WAL journal mode (got {mode}); is it on a network filesystem?"
            ),
            source: None,
        });
    }
    conn.pragma_update(None, "cache_size", -i64::from(options.cache_size_kib))
        .map_err(err)?;
    // Every command runs in a SAVEPOINT, and SQLite copies each page a savepoint touches
    // into a sub-journal; in a temp file (the default) that cost a pwrite per page.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(err)?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(err)?;
    if let Some(pages) = options.max_page_count {
        conn.pragma_update(
            None,
            "max_page_count",
            i64::try_from(pages).unwrap_or(i64::MAX),
        )
        .map_err(err)?;
    }
    migrate(path, &conn)?;
    Ok(conn)
}

/// Opens the read-only connection used for status and listings.
pub(crate) fn open_reader(path: &Path, options: &StoreOptions) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|err| open_error(path, err))?;
    set_common(path, &conn, options)?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)
        .map_err(|err| db_error(path, "configure connection", err))?;
    Ok(conn)
}

fn migrate(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    let current = pragma_i64(path, conn, "user_version")?;
    for &(version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        let err = |err| db_error(path, "migrate", err);
        conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let applied = conn
            .execute_batch(sql)
            .and_then(|()| conn.pragma_update(None, "user_version", version))
            .and_then(|()| {
                conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                    [version],
                )
            })
            .and_then(|_| conn.execute_batch("COMMIT"));
        if let Err(error) = applied {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err(error));
        }
        tracing::info!(path = %path.display(), version, "applied store migration");
    }
    Ok(())
}

/// Bumps the supervisor epoch and re-derives the per-queue running counters (one scan of
/// the jobs table; the writer keeps the counters, see `lifecycle.rs`: this only guards
/// against drift).
pub(crate) fn start_epoch(path: &Path, conn: &Connection) -> Result<i64, StoreError> {
    let err = |err| db_error(path, "start epoch", err);
    conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    let result = (|| {
        let epoch: i64 = conn.query_row(
            "UPDATE meta SET value = value + 1 WHERE key = 'epoch' RETURNING value",
            [],
            |row| row.get(0),
        )?;
        conn.execute_batch(
            "INSERT INTO queues (name) SELECT DISTINCT queue FROM jobs WHERE state = 'running'
               ON CONFLICT (name) DO NOTHING;
             UPDATE queues SET running = 0;
             UPDATE queues SET running = counted.n
               FROM (SELECT queue, count(*) AS n FROM jobs WHERE state = 'running' GROUP BY queue)
                 AS counted
              WHERE queues.name = counted.queue;",
        )?;
        conn.execute_batch("COMMIT")?;
        Ok(epoch)
    })();
    if result.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result.map_err(err)
}

/// Reads back every setting the store relies on.
pub(crate) fn read_settings(
    path: &Path,
    conn: &Connection,
) -> Result<ConnectionSettings, StoreError> {
    let text = |name: &str| -> Result<String, StoreError> {
        conn.pragma_query_value(None, name, |row| row.get(0))
            .map_err(|err| db_error(path, "read pragma", err))
    };
    Ok(ConnectionSettings {
        journal_mode: text("journal_mode")?,
        synchronous: pragma_i64(path, conn, "synchronous")?,
        busy_timeout_ms: pragma_i64(path, conn, "busy_timeout")?,
        foreign_keys: pragma_i64(path, conn, "foreign_keys")? == 1,
        read_only: conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(|err| db_error(path, "read pragma", err))?,
        query_planner_stability_guarantee: conn
            .db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)
            .map_err(|err| db_error(path, "read pragma", err))?,
        cache_size: pragma_i64(path, conn, "cache_size")?,
        journal_size_limit: pragma_i64(path, conn, "journal_size_limit")?,
        wal_autocheckpoint: pragma_i64(path, conn, "wal_autocheckpoint")?,
        temp_store: pragma_i64(path, conn, "temp_store")?,
        user_version: pragma_i64(path, conn, "user_version")?,
    })
}

impl Synchronous {
    fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Runs `PRAGMA quick_check` on a connection; `Ok(())` when it says "ok".
pub(crate) fn quick_check(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    check_contents(path, conn)
}
