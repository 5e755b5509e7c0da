//! `StoreError`: every way a store operation can fail, with lowercase messages that name
//! the database file and, where there is one, the fix. Owns the mapping from SQLite
//! result codes to these variants; no rusqlite type escapes through the public enum.

use std::path::PathBuf;

use crate::types::{JobState, OutcomeKind};

/// A boxed source error, so that no database-driver type appears in the public API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not an SQLite database. It was not modified.
    #[error(
        "{path} is not a jobvisor database (not an SQLite file); it was left unchanged: \
         point the store at another path or move the file away"
    )]
    NotADatabase { path: PathBuf },

    /// A valid SQLite database that belongs to something else. It was not modified.
    #[error(
        "{path} is an SQLite database of another application ({detail}); it was left \
         unchanged: point the store at another path"
    )]
    ForeignDatabase { path: PathBuf, detail: String },

    /// SQLite reports the file as damaged. It was not modified.
    #[error(
        "{path} is corrupt ({detail}); it was left unchanged: restore it from a backup, or \
         move it away to start with an empty queue"
    )]
    Corrupt { path: PathBuf, detail: String },

    /// The schema was written by a newer jobvisor. It was not modified.
    #[error(
        "{path} has schema version {found} but this binary supports at most {supported}; it \
         was left unchanged: upgrade jobvisor"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The database (or the disk, or the configured page quota) is full. The transaction
    /// was rolled back; nothing of it was applied.
    #[error("{path}: database or disk is full; the write was rolled back: free disk space")]
    DiskFull { path: PathBuf },

    /// Another connection held the write lock for longer than `busy_timeout`.
    #[error(
        "{path}: database is locked by another connection (busy timeout expired); make sure \
         only one jobvisor supervisor uses this file"
    )]
    Busy { path: PathBuf },

    /// Any other SQLite failure, with the operation that hit it.
    #[error("{path}: database error during {operation}")]
    Database {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: BoxError,
    },

    /// Opening or creating the database file failed.
    #[error("cannot open {path}: {reason}")]
    Open {
        path: PathBuf,
        reason: String,
        #[source]
        source: Option<BoxError>,
    },

    /// `enqueue` named a script that was never added.
    #[error("unknown script {name:?}: add it first (jobvisor scripts add)")]
    UnknownScript { name: String },

    #[error("payload is {size} bytes, above the limit of {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },

    #[error("payload is not valid JSON: {reason}")]
    InvalidPayload { reason: String },

    /// A request that can never succeed as written (bad queue name, zero attempts, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// A stored job state or attempt outcome this binary does not know (written by a
    /// newer jobvisor or by another tool). Never read as some other value.
    #[error(
        "{path}: unknown {what} {value:?} stored in the database; it was written by a newer \
         jobvisor or another tool: upgrade jobvisor"
    )]
    UnknownValue {
        path: PathBuf,
        what: &'static str,
        value: String,
    },

    /// The writer thread is gone: the store was closed, or the thread died.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Whether retrying the same operation later can succeed (busy, disk full): the
    /// supervisor should degrade and retry rather than exit.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Busy { .. } | Self::DiskFull { .. })
    }
}

/// Attach `path` and `operation` to a rusqlite error, picking the typed variant for the
/// codes callers must handle differently.
pub(crate) fn db_error(
    path: &std::path::Path,
    operation: &'static str,
    err: rusqlite::Error,
) -> StoreError {
    use rusqlite::ffi::ErrorCode;
    let path = path.to_path_buf();
    if let rusqlite::Error::FromSqlConversionFailure(_, _, source) = &err
        && let Some(unknown) = source.downcast_ref::<UnknownStored>()
    {
        return StoreError::UnknownValue {
            path,
            what: unknown.what,
            value: unknown.value.clone(),
        };
    }
    if let rusqlite::Error::SqliteFailure(inner, message) = &err {
        match inner.code {
            ErrorCode::DiskFull => return StoreError::DiskFull { path },
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return StoreError::Busy { path };
            }
            ErrorCode::NotADatabase => return StoreError::NotADatabase { path },
            ErrorCode::DatabaseCorrupt => {
                let detail = message
                    .clone()
                    .unwrap_or_else(|| "database disk image is malformed".into());
                return StoreError::Corrupt { path, detail };
            }
            _ => {}
        }
    }
    StoreError::Database {
        path,
        operation,
        source: Box::new(err),
    }
}

impl StoreError {
    /// A copy for the other callers of a failed group commit: every caller in the batch
    /// gets the error, and sources are not `Clone`, so they are carried as text.
    pub(crate) fn duplicate(&self) -> StoreError {
        match self {
            Self::NotADatabase { path } => Self::NotADatabase { path: path.clone() },
            Self::ForeignDatabase { path, detail } => Self::ForeignDatabase {
                path: path.clone(),
                detail: detail.clone(),
            },
            Self::Corrupt { path, detail } => Self::Corrupt {
                path: path.clone(),
                detail: detail.clone(),
            },
            Self::SchemaTooNew {
                path,
                found,
                supported,
            } => Self::SchemaTooNew {
                path: path.clone(),
                found: *found,
                supported: *supported,
            },
            Self::DiskFull { path } => Self::DiskFull { path: path.clone() },
            Self::Busy { path } => Self::Busy { path: path.clone() },
            Self::Database {
                path,
                operation,
                source,
            } => Self::Database {
                path: path.clone(),
                operation,
                source: source.to_string().into(),
            },
            Self::Open {
                path,
                reason,
                source,
            } => Self::Open {
                path: path.clone(),
                reason: reason.clone(),
                source: source.as_ref().map(|source| source.to_string().into()),
            },
            Self::UnknownScript { name } => Self::UnknownScript { name: name.clone() },
            Self::PayloadTooLarge { size, limit } => Self::PayloadTooLarge {
                size: *size,
                limit: *limit,
            },
            Self::InvalidPayload { reason } => Self::InvalidPayload {
                reason: reason.clone(),
            },
            Self::InvalidRequest(reason) => Self::InvalidRequest(reason.clone()),
            Self::UnknownValue { path, what, value } => Self::UnknownValue {
                path: path.clone(),
                what,
                value: value.clone(),
            },
            Self::Closed => Self::Closed,
        }
    }
}

/// A stored text that names no known value, raised inside a row mapping and turned into
/// [`StoreError::UnknownValue`] by [`db_error`].
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub(crate) struct UnknownStored {
    what: &'static str,
    value: String,
}

impl UnknownStored {
    fn into_row_error(self, column: usize) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            Box::new(self),
        )
    }
}

/// Reads a stored job state in a row mapping; an unknown one is an error naming it.
pub(crate) fn stored_state(column: usize, text: &str) -> rusqlite::Result<JobState> {
    JobState::parse(text).ok_or_else(|| {
        UnknownStored {
            what: "job state",
            value: text.to_owned(),
        }
        .into_row_error(column)
    })
}

/// Reads a stored attempt outcome in a row mapping; an unknown one is an error naming it.
pub(crate) fn stored_outcome(column: usize, text: &str) -> rusqlite::Result<OutcomeKind> {
    OutcomeKind::parse(text).ok_or_else(|| {
        UnknownStored {
            what: "attempt outcome",
            value: text.to_owned(),
        }
        .into_row_error(column)
    })
}

/// A job state read outside a row mapping (`path` names the database).
pub(crate) fn parse_state(path: &std::path::Path, text: &str) -> Result<JobState, StoreError> {
    JobState::parse(text).ok_or_else(|| StoreError::UnknownValue {
        path: path.to_path_buf(),
        what: "job state",
        value: text.to_owned(),
    })
}
