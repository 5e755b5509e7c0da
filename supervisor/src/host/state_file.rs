//! The state of `jobvisor run --state-file FILE`: one JSON file that holds a script's
//! `ctx.state` between runs, so a poller can be developed against its own cursor. Read at
//! start; written (whole, through a temporary file and a rename) only when the job
//! completes, with the writes it staged, checked as the store checks them.
//!
//! The file: `{"next_version": N, "entries": {"KEY": {"value": JSON, "version": V,
//! "expires_at_ms": T}}}`, keys in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::state::{StateFuture, StateReader};
use crate::store::{StateConflict, StateEntry, StatePage, StateQuery, StateWrite};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContents {
    next_version: u64,
    entries: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    value: Box<serde_json::value::RawValue>,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_ms: Option<i64>,
}

/// A state file, read once.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// The namespace every entry is reported in (the script's).
    namespace: String,
    contents: Mutex<FileContents>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl StateFile {
    /// Reads `path`; a file that does not exist is an empty state.
    pub fn open(path: &Path, namespace: &str) -> Result<StateFile, String> {
        let contents = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|err| {
                format!(
                    "the state file {} is not a jobvisor state file: {err}",
                    path.display()
                )
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => FileContents::default(),
            Err(err) => {
                return Err(format!(
                    "cannot read the state file {}: {err}",
                    path.display()
                ));
            }
        };
        Ok(StateFile {
            path: path.to_owned(),
            namespace: namespace.to_owned(),
            contents: Mutex::new(contents),
        })
    }

    fn entry(&self, key: &str, entry: &FileEntry) -> StateEntry {
        StateEntry {
            namespace: self.namespace.clone(),
            key: key.to_owned(),
            value: entry.value.get().to_owned(),
            version: entry.version,
            updated_at_ms: 0,
            expires_at_ms: entry.expires_at_ms,
        }
    }

    /// Applies a completed job's writes and writes the file, or refuses them all when a
    /// check fails.
    pub fn commit(&self, writes: &[StateWrite]) -> Result<(), String> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut contents = self
            .contents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = now_ms();
        let live = |entry: &FileEntry| entry.expires_at_ms.is_none_or(|at| at > now);
        for write in writes {
            let current = contents
                .entries
                .get(&write.key)
                .filter(|e| live(e))
                .map(|e| e.version);
            if !write.check.holds(current) {
                let conflict = StateConflict {
                    namespace: self.namespace.clone(),
                    key: write.key.clone(),
                    expected: write.check,
                    current,
                };
                return Err(conflict.to_string());
            }
        }
        for write in writes {
            match &write.value {
                None => {
                    contents.entries.remove(&write.key);
                }
                Some(value) => {
                    contents.next_version += 1;
                    let value = serde_json::value::RawValue::from_string(value.clone())
                        .map_err(|err| format!("a staged value is not JSON: {err}"))?;
                    let entry = FileEntry {
                        value,
                        version: contents.next_version,
                        expires_at_ms: write.ttl.map(|ttl| now + ttl.as_millis() as i64),
                    };
                    contents.entries.insert(write.key.clone(), entry);
                }
            }
        }
        contents.entries.retain(|_, e| live(e));
        let text = serde_json::to_string_pretty(&*contents)
            .map_err(|err| format!("cannot write the state file: {err}"))?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n")
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|err| format!("cannot write the state file {}: {err}", self.path.display()))
    }
}

impl StateReader for StateFile {
    fn get(&self, _namespace: &str, key: &str) -> StateFuture<Option<StateEntry>> {
        let contents = self
            .contents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = now_ms();
        let found = contents
            .entries
            .get(key)
            .filter(|e| e.expires_at_ms.is_none_or(|at| at > now))
            .map(|e| self.entry(key, e));
        Box::pin(async move { Ok(found) })
    }

    fn list(&self, query: StateQuery) -> StateFuture<StatePage> {
        let contents = self
            .contents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = now_ms();
        let mut matching = contents
            .entries
            .iter()
            .filter(|(key, e)| {
                key.starts_with(&query.prefix)
                    && query.after.as_deref().is_none_or(|a| key.as_str() > a)
                    && e.expires_at_ms.is_none_or(|at| at > now)
            })
            .map(|(key, e)| self.entry(key, e));
        let limit = query.limit.max(1) as usize;
        let entries: Vec<StateEntry> = matching.by_ref().take(limit).collect();
        let more = matching.next().is_some();
        Box::pin(async move { Ok(StatePage { entries, more }) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::VersionCheck;

    fn write(key: &str, value: Option<&str>, check: VersionCheck) -> StateWrite {
        StateWrite {
            namespace: "s".into(),
            key: key.into(),
            value: value.map(str::to_owned),
            ttl: None,
            check,
        }
    }

    #[tokio::test]
    async fn a_state_file_keeps_values_between_runs_and_checks_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let file = StateFile::open(&path, "s").unwrap();
        assert_eq!(file.get("s", "cursor").await.unwrap(), None);
        file.commit(&[write("cursor", Some("{\"at\":1}"), VersionCheck::Absent)])
            .unwrap();
        let again = StateFile::open(&path, "s").unwrap();
        let entry = again.get("s", "cursor").await.unwrap().unwrap();
        assert_eq!((entry.value.as_str(), entry.version), ("{\"at\":1}", 1));
        let err = again
            .commit(&[write("cursor", Some("2"), VersionCheck::Is(7))])
            .unwrap_err();
        assert!(
            err.contains("version 7") && err.contains("version 1"),
            "{err}"
        );
        again
            .commit(&[write("cursor", None, VersionCheck::Is(1))])
            .unwrap();
        assert_eq!(
            StateFile::open(&path, "s")
                .unwrap()
                .get("s", "cursor")
                .await
                .unwrap(),
            None
        );
        std::fs::write(&path, "[1]").unwrap();
        let err = StateFile::open(&path, "s").unwrap_err();
        assert!(err.contains("not a jobvisor state file"), "{err}");
    }
}
