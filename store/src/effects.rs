//! What an attempt did beyond its result: the state writes and child jobs it staged (applied
//! with its completion, in the same transaction, or not at all), and the HTTP requests it
//! made (recorded on the attempt whatever its end).

use std::time::Duration;

use crate::types::{EnqueueRequest, JobId};

/// Largest state value (JSON text), in bytes.
pub const MAX_STATE_VALUE_BYTES: usize = 64 * 1024;
/// Longest state key, in bytes.
pub const MAX_STATE_KEY_BYTES: usize = 512;
/// Longest state namespace name, in bytes.
pub const MAX_STATE_NAMESPACE_BYTES: usize = 128;

/// The compare of a compare-and-set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionCheck {
    /// No condition.
    #[default]
    Any,
    /// The key must not exist (or have expired).
    Absent,
    /// The key must hold this version.
    Is(u64),
}

/// A write of one key of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub namespace: String,
    pub key: String,
    /// JSON text; `None` deletes the key.
    pub value: Option<String>,
    /// The value expires this long after the write is committed.
    pub ttl: Option<Duration>,
    pub check: VersionCheck,
}

/// One stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    pub namespace: String,
    pub key: String,
    /// JSON text.
    pub value: String,
    /// Assigned at each committed write from one counter of the store, so it never repeats
    /// for a key, even after a delete.
    pub version: u64,
    pub updated_at_ms: i64,
    pub expires_at_ms: Option<i64>,
}

/// Keys of one namespace in key order: those starting with `prefix`, after `after`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateQuery {
    pub namespace: String,
    pub prefix: String,
    pub after: Option<String>,
    pub limit: u32,
}

/// A page of [`StateQuery`]; `more` when keys after the last one match too.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatePage {
    pub entries: Vec<StateEntry>,
    pub more: bool,
}

/// How a write outside an attempt (the CLI's `state set` / `state delete`) went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateWriteOutcome {
    /// Written; the key's new version (`None` for a delete).
    Written { version: Option<u64> },
    /// The check failed; the key's current version (`None`: it does not exist).
    Conflict { current: Option<u64> },
}

/// A check of a staged write that failed at commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConflict {
    pub namespace: String,
    pub key: String,
    pub expected: VersionCheck,
    /// The key's version when the completion was committed (`None`: it does not exist).
    pub current: Option<u64>,
}

impl std::fmt::Display for StateConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let expected = match self.expected {
            VersionCheck::Any => "any version".to_owned(),
            VersionCheck::Absent => "no value".to_owned(),
            VersionCheck::Is(v) => format!("version {v}"),
        };
        let current = match self.current {
            Some(v) => format!("version {v}"),
            None => "no value".to_owned(),
        };
        write!(
            f,
            "state key `{}` of namespace `{}` was expected to hold {expected} but holds {current}",
            self.key, self.namespace
        )
    }
}

/// What an attempt staged, applied by `complete` in the completion's transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttemptEffects {
    /// In the order the script made them; a later write of a key wins.
    pub state: Vec<StateWrite>,
    /// Child jobs, in the order the script enqueued them; each gets the completed job as
    /// its parent.
    pub children: Vec<EnqueueRequest>,
}

impl AttemptEffects {
    pub fn is_empty(&self) -> bool {
        self.state.is_empty() && self.children.is_empty()
    }
}

/// One HTTP request of an attempt, as recorded on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestRecord {
    pub method: String,
    /// Without its query and fragment (they may carry secrets), with secrets masked.
    pub url: String,
    /// `None` when no response came (refused, failed, timed out).
    pub status: Option<u16>,
    /// Request body bytes sent.
    pub bytes_out: u64,
    /// Response body bytes received.
    pub bytes_in: u64,
    pub duration_ms: u64,
    /// Redirect hops followed.
    pub redirects: u32,
    /// Why there was no response, or why it was cut (a refusal names the setting).
    pub error: Option<String>,
}

/// How a completion was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// The job completed, its state writes are committed and its children enqueued.
    Done { children: Vec<JobId> },
    /// A staged write's check failed: nothing the attempt staged was applied, and the
    /// attempt was recorded as failed (`js_error`, error name `StateConflict`) under the
    /// job's retry policy, in the same transaction.
    Conflict {
        conflict: StateConflict,
        disposition: crate::types::FailDisposition,
    },
}
