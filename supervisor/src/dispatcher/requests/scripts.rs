//! Script requests: add (after the same check a configured script passes), list, show.

use jobvisor_protocol::control::{ErrorCode, Response, ScriptVersion, ScriptView};

use super::super::Dispatcher;
use super::super::views::script_summaries;
use super::{Reply, error, store_error};
use crate::limits::{NameKind, check_name};
use crate::store::{AnyStore, JobStore, JobStoreRead, StoreError};

impl Dispatcher {
    pub(super) fn add_script(
        &mut self,
        name: String,
        source: String,
        allow_net: Vec<String>,
        reply: Reply,
    ) {
        if let Err(message) = check_name(NameKind::Script, &name) {
            let _ = reply.send(error(ErrorCode::BadRequest, message));
            return;
        }
        if let Err(problem) = crate::host::fetch::NetPolicy::parse::<String>(&allow_net, &[]) {
            let _ = reply.send(error(
                ErrorCode::BadRequest,
                format!("script `{name}` was not added: --allow-net: {problem}"),
            ));
            return;
        }
        if let Some(refusal) = self.info.declared.script_refusal(&name) {
            let _ = reply.send(error(ErrorCode::BadRequest, refusal));
            return;
        }
        let store = self.store.clone();
        let checker = self.info.checker.clone();
        self.reply_with(reply, async move {
            // A script added here has no options: node compatibility is a `[[script]]`
            // setting, and those names are refused above.
            if let Err(problem) = checker.check(&name, &source, false).await {
                return error(
                    ErrorCode::BadRequest,
                    format!("script `{name}` was not added: {problem}"),
                );
            }
            match store.add_script_with(&name, &source, allow_net).await {
                Ok(version) => Response::ScriptAdded {
                    name: version.name,
                    hash: version.hash,
                    created: version.created,
                },
                Err(err) => store_error(&err),
            }
        });
    }

    pub(super) fn list_scripts(&mut self, reply: Reply) {
        self.read(reply, |store| async move {
            store
                .list_scripts()
                .await
                .map(|s| Response::Scripts(script_summaries(&s)))
        });
    }

    pub(super) fn show_script(&mut self, name: String, reply: Reply) {
        let host = self.info.host.clone();
        self.read(reply, move |store| async move {
            show_script(&store, &host, &name).await
        });
    }
}

async fn show_script(
    store: &AnyStore,
    host: &crate::host::HostService,
    name: &str,
) -> Result<Response, StoreError> {
    let versions: Vec<_> = store
        .list_scripts()
        .await?
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    let Some(current) = versions.iter().find(|s| s.current) else {
        return Ok(error(
            ErrorCode::NotFound,
            format!("no script `{name}`; see `jobvisor scripts list`"),
        ));
    };
    let source = store
        .script_source(name, &current.hash)
        .await?
        .unwrap_or_default();
    let mut history: Vec<ScriptVersion> = versions
        .iter()
        .map(|v| ScriptVersion {
            hash: v.hash.clone(),
            created_at_ms: v.created_at_ms,
            current: v.current,
        })
        .collect();
    history.sort_by_key(|v| std::cmp::Reverse(v.created_at_ms));
    Ok(Response::Script(ScriptView {
        name: name.to_owned(),
        hash: current.hash.clone(),
        created_at_ms: current.created_at_ms,
        source,
        versions: history,
        grants: host.grants_view(name, &current.allow_net),
    }))
}
