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

impl VersionCheck {
    /// Whether a key at `current` (`None`: absent or expired) passes the check.
    pub fn holds(self, current: Option<u64>) -> bool {
        match self {
            VersionCheck::Any => true,
            VersionCheck::Absent => current.is_none(),
            VersionCheck::Is(version) => current == Some(version),
        }
    }
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

/// Keys of one namespace in key order: those starting with `prefix`, after `after`, at most
/// `limit` (clamped to 1..=[`MAX_STATE_PAGE`]). Expired keys are left out.
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
    /// A staged effect could not be applied (a child naming an unknown script, a state
    /// write over a limit): as for a conflict, nothing staged was applied and the attempt
    /// was recorded as failed (`js_error`, error name `InvalidEffect`, message = `reason`)
    /// under the job's retry policy, in the same transaction.
    Refused {
        reason: String,
        disposition: crate::types::FailDisposition,
    },
}

/// The error name of an attempt failed by a [`Completed::Conflict`].
pub const STATE_CONFLICT_ERROR: &str = "StateConflict";
/// The error name of an attempt failed by a [`Completed::Refused`].
pub const INVALID_EFFECT_ERROR: &str = "InvalidEffect";

/// Checks a state namespace name.
pub(crate) fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace.is_empty() || namespace.len() > MAX_STATE_NAMESPACE_BYTES {
        return Err(format!(
            "state namespace must be 1..={MAX_STATE_NAMESPACE_BYTES} bytes, not {}",
            namespace.len()
        ));
    }
    Ok(())
}

/// Checks a state key.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_STATE_KEY_BYTES {
        return Err(format!(
            "state key must be 1..={MAX_STATE_KEY_BYTES} bytes, not {}",
            key.len()
        ));
    }
    Ok(())
}

/// Checks one state write: namespace, key, and a value that is JSON within the size cap.
pub(crate) fn check_write(write: &StateWrite) -> Result<(), String> {
    check_namespace(&write.namespace)?;
    check_key(&write.key)?;
    if let Some(value) = &write.value {
        if value.len() > MAX_STATE_VALUE_BYTES {
            return Err(format!(
                "the value of state key `{}` is {} bytes, above the limit of {MAX_STATE_VALUE_BYTES}",
                write.key,
                value.len()
            ));
        }
        if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(value) {
            return Err(format!(
                "the value of state key `{}` is not JSON: {err}",
                write.key
            ));
        }
    }
    Ok(())
}

/// Checks a listing query (its limit is clamped, not refused).
pub(crate) fn check_query(query: &StateQuery) -> Result<(), String> {
    check_namespace(&query.namespace)?;
    if query.prefix.len() > MAX_STATE_KEY_BYTES {
        return Err(format!(
            "state key prefix must be at most {MAX_STATE_KEY_BYTES} bytes, not {}",
            query.prefix.len()
        ));
    }
    if let Some(after) = &query.after {
        check_key(after)?;
    }
    Ok(())
}

/// Most keys one `state_list` page returns; a larger limit is cut to this, 0 is 1.
pub const MAX_STATE_PAGE: u32 = 1000;

/// The smallest string greater than every string that starts with `prefix` (UTF-8 byte
/// order is code point order, which is how SQLite compares text), or `None` when there is
/// none (an empty prefix, or one made only of U+10FFFF).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            char::MAX => None,
            other => char::from_u32(u32::from(other) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_string_past_the_prefix() {
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}\u{10FFFF}"), None);
        for (prefix, key) in [("a/", "a/\u{10FFFF}x"), ("é", "éé"), ("a", "a\u{10FFFF}")] {
            let end = prefix_end(prefix).unwrap();
            assert!(
                key.starts_with(prefix) && key < end.as_str(),
                "{key:?} < {end:?}"
            );
        }
    }

    #[test]
    fn a_conflict_says_what_was_expected_and_found() {
        let conflict = StateConflict {
            namespace: "script:poll".into(),
            key: "cursor".into(),
            expected: VersionCheck::Is(7),
            current: None,
        };
        assert_eq!(
            conflict.to_string(),
            "state key `cursor` of namespace `script:poll` was expected to hold version 7 but holds no value"
        );
    }
}
