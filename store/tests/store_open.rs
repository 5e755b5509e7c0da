//! Opening the store: refusal of files that are not ours or not healthy (with the file
//! left byte-for-byte unchanged), migrations and epochs, and the PRAGMAs read back from
//! both connections; the read-only open, which refuses the same files and writes nothing.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use jobvisor_store::*;

fn new_store_file(dir: &Path, jobs: usize) -> PathBuf {
    let path = dir.join("jobs.db");
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    store
        .add_script("s", "export default () => 1;")
        .wait()
        .unwrap();
    let payload = format!("{{\"pad\":\"{}\"}}", "p".repeat(300));
    for chunk in 0..jobs.div_ceil(500) {
        let n = 500.min(jobs - chunk * 500);
        store
            .enqueue_bulk(vec![EnqueueRequest::new("s", payload.clone()); n])
            .wait()
            .unwrap();
    }
    store.close().unwrap();
    assert!(
        !dir.join("jobs.db-wal").exists(),
        "close checkpoints and removes the WAL"
    );
    path
}

/// Opening must fail with an error matching `expected`, and leave the file as it was.
fn assert_refused(path: &Path, expected: fn(&StoreError) -> bool) -> StoreError {
    let before = std::fs::read(path).unwrap();
    let error = SqliteStore::open(path, StoreOptions::default()).unwrap_err();
    assert!(expected(&error), "unexpected error: {error:?}");
    assert!(
        std::fs::read(path).unwrap() == before,
        "the refused file was modified"
    );
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "message names the file: {message}"
    );
    let prose = message.replacen(&path.display().to_string(), "", 1);
    assert!(
        prose
            .chars()
            .find(|c| c.is_alphabetic())
            .unwrap()
            .is_lowercase(),
        "lowercase message: {message}"
    );
    error
}

#[test]
fn refuses_a_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    let error = assert_refused(&path, |err| matches!(err, StoreError::NotADatabase { .. }));
    assert!(error.to_string().contains("left unchanged"));
}

#[test]
fn refuses_a_foreign_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('x'); PRAGMA user_version = 999;",
    )
    .unwrap();
    drop(conn);
    assert_refused(&path, |err| {
        matches!(err, StoreError::ForeignDatabase { .. })
    });
}

#[test]
fn refuses_a_schema_newer_than_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store_file(dir.path(), 10);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 999;").unwrap();
    drop(conn);
    let error = assert_refused(&path, |err| {
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 999,
                supported: 5,
                ..
            }
        )
    });
    assert!(error.to_string().contains("upgrade jobvisor"));
    // The very next version too (the one after the host API's 0005).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 6;").unwrap();
    drop(conn);
    assert_refused(&path, |err| {
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 6,
                supported: 5,
                ..
            }
        )
    });
}

#[test]
fn refuses_a_truncated_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store_file(dir.path(), 3000);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 100 * 4096, "enough pages to cut: {len}");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    assert_refused(&path, |err| matches!(err, StoreError::Corrupt { .. }));
}

#[test]
fn refuses_a_database_with_garbage_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store_file(dir.path(), 3000);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for byte in &mut bytes[4096 * 3..4096 * 40] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state.to_le_bytes()[0];
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_refused(&path, |err| matches!(err, StoreError::Corrupt { .. }));
}

#[test]
fn refuses_a_database_with_a_garbage_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store_file(dir.path(), 10);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..100].copy_from_slice(&[0xA5; 100]);
    std::fs::write(&path, &bytes).unwrap();
    assert_refused(&path, |err| matches!(err, StoreError::NotADatabase { .. }));
}

#[test]
fn creates_new_and_empty_files_and_bumps_the_epoch_per_open() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let store = SqliteStore::open(&empty, StoreOptions::default()).unwrap();
    assert_eq!(store.epoch(), 1);
    store.close().unwrap();
    let store = SqliteStore::open(&empty, StoreOptions::default()).unwrap();
    assert_eq!(store.epoch(), 2);
    store.quick_check().unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&empty).unwrap();
    let (version, meta_version, app): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT value FROM meta WHERE key = 'schema_version'),
                    (SELECT application_id FROM pragma_application_id)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!((version, meta_version, app), (5, 5, 0x4A4F_4256));
}

fn assert_common(settings: &ConnectionSettings, synchronous: i64) {
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(settings.synchronous, synchronous);
    assert_eq!(settings.busy_timeout_ms, 5000);
    assert!(settings.foreign_keys);
    assert!(settings.query_planner_stability_guarantee);
    assert_eq!(settings.journal_size_limit, 64 * 1024 * 1024);
    assert_eq!(settings.user_version, 5);
}

#[test]
fn pragmas_read_back_on_both_connections() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("jobs.db"), StoreOptions::default()).unwrap();
    let settings = store.settings_blocking().unwrap();
    assert_common(&settings.writer, 2); // FULL
    assert!(!settings.writer.read_only);
    assert_eq!(settings.writer.cache_size, -16 * 1024);
    assert_eq!(settings.writer.wal_autocheckpoint, 1000);
    assert_eq!(
        settings.writer.temp_store, 2,
        "savepoint sub-journals stay in memory"
    );
    assert_common(&settings.reader, 2);
    assert!(
        settings.reader.read_only,
        "status reads use a read-only connection"
    );
    assert_eq!(settings.reader.cache_size, -8 * 1024);
    store.close().unwrap();

    let normal = StoreOptions {
        synchronous: Synchronous::Normal,
        ..StoreOptions::default()
    };
    let store = SqliteStore::open(dir.path().join("jobs.db"), normal).unwrap();
    let settings = store.settings_blocking().unwrap();
    assert_common(&settings.writer, 1);
    assert_common(&settings.reader, 1);
}

#[test]
fn explain_shows_the_claim_using_the_partial_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("jobs.db"), StoreOptions::default()).unwrap();
    let plan = store.explain_claim().unwrap().join("\n");
    assert!(
        plan.contains("USING COVERING INDEX jobs_claim") || plan.contains("USING INDEX jobs_claim"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
}

/// An outcome this binary does not know (`last_outcome` has no CHECK constraint, so a
/// newer jobvisor or another tool can write one) is an error that names the value, never
/// shown as some other outcome. (An unknown job state breaks the CHECK on `state`, so
/// the open check refuses the file before anything reads it.)
#[test]
fn unknown_stored_outcomes_are_errors_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store_file(dir.path(), 2);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("UPDATE jobs SET last_outcome = 'melted' WHERE id = 2;")
            .unwrap();
    }
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    let names = |err: StoreError| {
        let text = err.to_string();
        assert!(
            matches!(err, StoreError::UnknownValue { .. })
                && text.contains("unknown attempt outcome \"melted\""),
            "{text}"
        );
    };
    names(store.get_job(JobId(2)).unwrap_err());
    names(store.list_jobs(&JobFilter::default()).unwrap_err());
    assert!(
        store.get_job(JobId(1)).unwrap().is_some(),
        "the other job reads"
    );
    store.close().unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA ignore_check_constraints = 1; UPDATE jobs SET state = 'frozen' WHERE id = 1;",
    )
    .unwrap();
    drop(conn);
    assert_refused(
        &path,
        |err| matches!(err, StoreError::Corrupt { detail, .. } if detail.contains("CHECK constraint")),
    );
}

/// A read-only open must fail with an error matching `expected`, leave the file as it was
/// and create nothing next to it (but the `-wal` and `-shm` files SQLite needs to read a
/// database in WAL mode at all).
fn assert_read_only_refused(path: &Path, expected: fn(&StoreError) -> bool) -> StoreError {
    let dir = path.parent().unwrap();
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.ends_with("-wal") && !name.ends_with("-shm"))
            .collect();
        names.sort();
        names
    };
    let (before, files) = (std::fs::read(path).ok(), listing());
    let error = SqliteStore::open_read_only(path, StoreOptions::default()).unwrap_err();
    assert!(expected(&error), "unexpected error: {error:?}");
    assert_eq!(
        std::fs::read(path).ok(),
        before,
        "the refused file was modified"
    );
    assert_eq!(listing(), files, "a refused read-only open created files");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "message names the file: {error}"
    );
    error
}

#[test]
fn read_only_open_refuses_what_it_cannot_read_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    assert_read_only_refused(&path, |err| matches!(err, StoreError::Open { .. }));
    std::fs::write(&path, "").unwrap();
    let empty = assert_read_only_refused(&path, |err| matches!(err, StoreError::Open { .. }));
    assert!(empty.to_string().contains("empty"), "{empty}");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    assert_read_only_refused(&path, |err| matches!(err, StoreError::NotADatabase { .. }));

    std::fs::remove_file(&path).unwrap();
    let path = new_store_file(dir.path(), 10);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 999;").unwrap();
    drop(conn);
    assert_read_only_refused(&path, |err| {
        matches!(err, StoreError::SchemaTooNew { found: 999, .. })
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 3;").unwrap();
    drop(conn);
    let old = assert_read_only_refused(&path, |err| {
        matches!(
            err,
            StoreError::SchemaTooOld {
                found: 3,
                required: 5,
                ..
            }
        )
    });
    assert!(old.to_string().contains("migrate"), "{old}");
}

#[test]
fn read_only_reads_leave_the_database_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store_file(dir.path(), 20);
    let before = std::fs::read(&path).unwrap();
    let store = SqliteStore::open_read_only(&path, StoreOptions::default()).unwrap();
    store.quick_check().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let counts = runtime.block_on(async { store.counts().await }).unwrap();
    assert_eq!(counts.queues[0].available, 20);
    assert_eq!(counts.epoch, 1, "the epoch of the one writer that ran");
    drop(store);
    assert!(
        std::fs::read(&path).unwrap() == before,
        "reading through the read-only handle modified the database file"
    );
    let writer = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(writer.epoch(), 2);
}
