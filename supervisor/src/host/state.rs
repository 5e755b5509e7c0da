//! `ctx.state` on the host's side: reads of the committed state (the store's, or the state
//! file of `jobvisor run`) seen through the writes the attempt staged, and the staging
//! itself. Staged writes go nowhere until the attempt completes: they become the
//! completion's [`AttemptEffects`] and are committed in its transaction, or dropped with
//! the attempt.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jobvisor_protocol::host::{self as wire, HostErrorKind, HostResult};

use crate::store::{
    MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES, StateEntry, StatePage, StateQuery, StateWrite,
    VersionCheck,
};

/// Most keys one `list` answers.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// A future the host's state readers return.
pub type StateFuture<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

/// Where committed state is read from.
pub trait StateReader: Send + Sync + 'static {
    /// The committed entry of `key` (`None`: absent or expired).
    fn get(&self, namespace: &str, key: &str) -> StateFuture<Option<StateEntry>>;
    /// Committed entries in key order.
    fn list(&self, query: StateQuery) -> StateFuture<StatePage>;
}

/// The daemon's state: the store's committed rows.
pub struct StoreState(pub crate::store::AnyStore);

impl StateReader for StoreState {
    fn get(&self, namespace: &str, key: &str) -> StateFuture<Option<StateEntry>> {
        use crate::store::JobStoreRead;
        let pending = self.0.state_get(namespace, key);
        Box::pin(async move { pending.await.map_err(|err| err.to_string()) })
    }

    fn list(&self, query: StateQuery) -> StateFuture<StatePage> {
        use crate::store::JobStoreRead;
        let pending = self.0.state_list(query);
        Box::pin(async move { pending.await.map_err(|err| err.to_string()) })
    }
}

/// A host without state (a script check): every read finds nothing.
#[derive(Debug, Default)]
pub struct NoState;

impl StateReader for NoState {
    fn get(&self, _namespace: &str, _key: &str) -> StateFuture<Option<StateEntry>> {
        Box::pin(async { Ok(None) })
    }

    fn list(&self, _query: StateQuery) -> StateFuture<StatePage> {
        Box::pin(async { Ok(StatePage::default()) })
    }
}

/// What one attempt staged, in order.
#[derive(Debug, Default)]
pub struct StagedState {
    writes: Vec<StateWrite>,
    /// The last staged value of each key written (`None`: deleted).
    latest: BTreeMap<String, Option<String>>,
}

impl StagedState {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The writes, for the completion.
    pub fn into_writes(self) -> Vec<StateWrite> {
        self.writes
    }

    /// The staged value of `key`: `None` when it was not written, `Some(None)` when it was
    /// deleted.
    fn staged(&self, key: &str) -> Option<Option<&String>> {
        self.latest.get(key).map(Option::as_ref)
    }
}

/// Refuses a key the store would refuse, naming the problem.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("a state key must not be empty".to_owned());
    }
    if key.len() > MAX_STATE_KEY_BYTES {
        return Err(format!(
            "a state key is at most {MAX_STATE_KEY_BYTES} bytes; this one is {}",
            key.len()
        ));
    }
    Ok(())
}

/// Refuses a value the store would refuse, naming the problem.
pub fn check_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_STATE_VALUE_BYTES {
        return Err(format!(
            "a state value is at most {MAX_STATE_VALUE_BYTES} bytes of JSON; this one is {}",
            value.len()
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(value)
        .map(|_| ())
        .map_err(|err| format!("a state value must be JSON text: {err}"))
}

fn refused(kind: HostErrorKind, message: impl Into<String>) -> HostResult {
    HostResult::Refused {
        kind,
        message: message.into(),
    }
}

fn wire_entry(entry: StateEntry) -> wire::StateEntry {
    wire::StateEntry {
        key: entry.key,
        value: entry.value,
        version: Some(entry.version),
    }
}

/// `ctx.state.get`: the staged value if the attempt wrote the key, else the committed one.
pub async fn get(
    reader: &dyn StateReader,
    staged: &std::sync::Mutex<StagedState>,
    namespace: &str,
    key: String,
) -> HostResult {
    if let Err(problem) = check_key(&key) {
        return refused(HostErrorKind::Invalid, problem);
    }
    if let Some(value) = lock(staged).staged(&key) {
        return HostResult::State(value.map(|value| wire::StateEntry {
            key: key.clone(),
            value: value.clone(),
            version: None,
        }));
    }
    match reader.get(namespace, &key).await {
        Ok(entry) => HostResult::State(entry.map(wire_entry)),
        Err(err) => refused(HostErrorKind::Failed, format!("reading state: {err}")),
    }
}

/// `ctx.state.list`: committed keys merged with the staged ones, in key order.
pub async fn list(
    reader: &dyn StateReader,
    staged: &std::sync::Mutex<StagedState>,
    namespace: &str,
    prefix: String,
    after: Option<String>,
    limit: u32,
) -> HostResult {
    let limit = limit.clamp(1, MAX_LIST_LIMIT);
    let in_range = |key: &str| key.starts_with(&prefix) && after.as_deref().is_none_or(|a| key > a);
    let overlay: Vec<(String, Option<String>)> = lock(staged)
        .latest
        .iter()
        .filter(|(key, _)| in_range(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    // Staged deletes may hide committed keys: ask for enough to fill the page anyway.
    let query = StateQuery {
        namespace: namespace.to_owned(),
        prefix: prefix.clone(),
        after: after.clone(),
        limit: limit.saturating_add(overlay.len() as u32),
    };
    let page = match reader.list(query).await {
        Ok(page) => page,
        Err(err) => return refused(HostErrorKind::Failed, format!("listing state: {err}")),
    };
    let last_committed = page.entries.last().map(|e| e.key.clone());
    let mut merged: BTreeMap<String, wire::StateEntry> = page
        .entries
        .into_iter()
        .map(|entry| (entry.key.clone(), wire_entry(entry)))
        .collect();
    for (key, value) in overlay {
        // A staged key past the committed page's end may come before committed keys not
        // read yet; it is shown only if the page is complete or it falls inside it.
        let inside = !page.more
            || last_committed
                .as_deref()
                .is_some_and(|last| key.as_str() <= last);
        match value {
            Some(value) if inside => {
                merged.insert(
                    key.clone(),
                    wire::StateEntry {
                        key,
                        value,
                        version: None,
                    },
                );
            }
            Some(_) => {}
            None => {
                merged.remove(&key);
            }
        }
    }
    let mut entries: Vec<wire::StateEntry> = merged.into_values().collect();
    let more = page.more || entries.len() > limit as usize;
    entries.truncate(limit as usize);
    HostResult::StateEntries { entries, more }
}

/// `ctx.state.set` / `delete`: checked now against what the attempt sees (so an obvious
/// conflict fails at once) and staged with its check, which the store verifies again at
/// commit.
pub async fn set(
    reader: &dyn StateReader,
    staged: &std::sync::Mutex<StagedState>,
    namespace: &str,
    write: wire::StateWrite,
) -> HostResult {
    if let Err(problem) = check_key(&write.key) {
        return refused(HostErrorKind::Invalid, problem);
    }
    if let Some(value) = &write.value
        && let Err(problem) = check_value(value)
    {
        return refused(HostErrorKind::Invalid, problem);
    }
    let check = match write.check {
        wire::VersionCheck::Any => VersionCheck::Any,
        wire::VersionCheck::Absent => VersionCheck::Absent,
        wire::VersionCheck::Is(v) => VersionCheck::Is(v),
    };
    if check != VersionCheck::Any {
        // A check is about the committed version: what this attempt staged has none yet.
        let current = match reader.get(namespace, &write.key).await {
            Ok(entry) => entry.map(|e| e.version),
            Err(err) => return refused(HostErrorKind::Failed, format!("reading state: {err}")),
        };
        if !check.holds(current) {
            let conflict = crate::store::StateConflict {
                namespace: namespace.to_owned(),
                key: write.key.clone(),
                expected: check,
                current,
            };
            return refused(HostErrorKind::Conflict, conflict.to_string());
        }
    }
    let mut staged = lock(staged);
    staged.latest.insert(write.key.clone(), write.value.clone());
    staged.writes.push(StateWrite {
        namespace: namespace.to_owned(),
        key: write.key,
        value: write.value,
        ttl: write.ttl_ms.map(Duration::from_millis),
        check,
    });
    HostResult::StateWritten
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
