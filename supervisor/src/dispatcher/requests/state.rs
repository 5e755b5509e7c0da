//! `jobvisor state list|get|set|delete SCRIPT` and `jobvisor secrets list`: a script's
//! state namespace read and written at once (outside any job), and the secrets the daemon
//! holds, shown without their values.

use std::time::Duration;

use jobvisor_protocol::control::{ErrorCode, Response, StateChange, StateListQuery, StateView};

use super::super::Dispatcher;
use super::{Reply, error, store_error};
use crate::host::state::{MAX_LIST_LIMIT, check_key, check_value};
use crate::limits::{NameKind, check_name};
use crate::store::{
    JobStore, JobStoreRead, StateEntry, StateQuery, StateWrite, StateWriteOutcome, VersionCheck,
};

/// Keys a `state list` shows when it asks for no number.
const DEFAULT_LIST: u32 = 100;

fn view(entry: StateEntry) -> StateView {
    StateView {
        key: entry.key,
        value: entry.value,
        version: entry.version,
        updated_at_ms: entry.updated_at_ms,
        expires_at_ms: entry.expires_at_ms,
    }
}

impl Dispatcher {
    /// The namespace of `script`'s state, or the error that names a bad script name.
    fn namespace_of(&self, script: &str) -> Result<String, String> {
        check_name(NameKind::Script, script)?;
        Ok(self.info.host.namespace(script))
    }

    pub(super) fn list_state(&mut self, query: StateListQuery, reply: Reply) {
        let namespace = match self.namespace_of(&query.script) {
            Ok(namespace) => namespace,
            Err(message) => return drop(reply.send(error(ErrorCode::BadRequest, message))),
        };
        let limit = match query.limit {
            0 => DEFAULT_LIST,
            n => n.min(MAX_LIST_LIMIT),
        };
        let pending = self.store.state_list(StateQuery {
            namespace: namespace.clone(),
            prefix: query.prefix,
            after: query.after,
            limit,
        });
        self.reply_when(reply, pending, move |page| Response::StateEntries {
            namespace,
            entries: page.entries.into_iter().map(view).collect(),
            more: page.more,
        });
    }

    pub(super) fn get_state(&mut self, script: String, key: String, reply: Reply) {
        let namespace = match self
            .namespace_of(&script)
            .and_then(|ns| check_key(&key).map(|()| ns))
        {
            Ok(namespace) => namespace,
            Err(message) => return drop(reply.send(error(ErrorCode::BadRequest, message))),
        };
        let pending = self.store.state_get(&namespace, &key);
        self.reply_when(reply, pending, move |entry| Response::State {
            namespace,
            entry: entry.map(view),
        });
    }

    pub(super) fn set_state(&mut self, change: StateChange, reply: Reply) {
        let checked = self.namespace_of(&change.script).and_then(|ns| {
            check_key(&change.key)?;
            if let Some(value) = &change.value {
                check_value(value)?;
            }
            Ok(ns)
        });
        let namespace = match checked {
            Ok(namespace) => namespace,
            Err(message) => return drop(reply.send(error(ErrorCode::BadRequest, message))),
        };
        let check = match change.if_version {
            None => VersionCheck::Any,
            Some(0) => VersionCheck::Absent,
            Some(v) => VersionCheck::Is(v),
        };
        let key = change.key.clone();
        let pending = self.store.state_set(StateWrite {
            namespace: namespace.clone(),
            key: change.key,
            value: change.value,
            ttl: change.ttl_ms.map(Duration::from_millis),
            check,
        });
        self.reply_with(reply, async move {
            match pending.await {
                Ok(StateWriteOutcome::Written { version }) => Response::StateWritten {
                    namespace,
                    key,
                    version,
                },
                Ok(StateWriteOutcome::Conflict { current }) => error(
                    ErrorCode::Conflict,
                    format!(
                        "state key `{key}` of namespace `{namespace}` holds {}; nothing was written",
                        current.map_or("no value".to_owned(), |v| format!("version {v}"))
                    ),
                ),
                Err(err) => store_error(&err),
            }
        });
    }

    pub(super) fn list_secrets(&mut self, reply: Reply) {
        let _ = reply.send(Response::Secrets(self.info.host.secrets_view()));
    }
}
