//! The host service: what a running job may ask of the host, answered under its script's
//! policy. A worker has no network, no files and no clock beyond its timers; every such
//! capability is one [`HostOp`] that the attempt runner (`pool/attempt.rs`) hands to the
//! attempt's [`AttemptHost`] and whose [`HostResult`] it writes back to the worker.
//!
//! This is the one place the ops are decided. [`HostService`] is built once per daemon
//! (or per `jobvisor run`) from the config: each script's grants, the committed state to
//! read. [`HostService::begin`] makes the [`AttemptHost`] of one attempt, which holds what
//! the attempt stages (state writes, child jobs) until [`AttemptHost::finish`] hands them
//! over as the completion's effects. It never sees frames, counts calls in flight or
//! enforces frame sizes: the attempt runner does that before a call reaches it. An answer
//! may take time (a fetch); the runner keeps the attempt's deadlines running meanwhile.

pub mod fetch;
pub mod secrets;
pub mod state;
pub mod state_file;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobvisor_protocol::host::{ChildJob, HostErrorKind, HostOp, HostResult};

use crate::config::Config;
use crate::limits::{self as store_limits, NameKind, check_name};
use crate::store::{AttemptEffects, AttemptRef, EnqueueRequest, RequestRecord, RunAt};
use state::{NoState, StagedState, StateReader};

/// What the config grants one script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptGrant {
    pub allow_net: Vec<String>,
    pub allow_private: Vec<String>,
    pub secrets: Vec<String>,
    /// The namespace of its `ctx.state`.
    pub namespace: Option<String>,
}

/// The limits of one attempt's host calls beyond those of fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Child jobs one attempt may stage.
    pub max_children: u32,
    /// The largest child payload.
    pub payload_limit: u64,
}

impl Default for HostLimits {
    fn default() -> Self {
        HostLimits {
            max_children: 1000,
            payload_limit: 1 << 20,
        }
    }
}

/// Answers host calls. Cheap to clone.
#[derive(Clone)]
pub struct HostService {
    inner: Arc<ServiceInner>,
}

struct ServiceInner {
    grants: HashMap<String, ScriptGrant>,
    /// What every script gets (`[fetch] allow_net` and `allow_private`).
    defaults: ScriptGrant,
    state: Arc<dyn StateReader>,
    limits: HostLimits,
}

impl std::fmt::Debug for HostService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostService")
            .field("scripts", &self.inner.grants.len())
            .finish_non_exhaustive()
    }
}

impl Default for HostService {
    fn default() -> Self {
        HostService::new()
    }
}

impl HostService {
    /// A host that grants nothing and reads no state (a script check, a test).
    pub fn new() -> HostService {
        HostService::with(
            HashMap::new(),
            ScriptGrant::default(),
            Arc::new(NoState),
            HostLimits::default(),
        )
    }

    pub fn with(
        grants: HashMap<String, ScriptGrant>,
        defaults: ScriptGrant,
        state: Arc<dyn StateReader>,
        limits: HostLimits,
    ) -> HostService {
        HostService {
            inner: Arc::new(ServiceInner {
                grants,
                defaults,
                state,
                limits,
            }),
        }
    }

    /// The host of a daemon run with `config`, reading committed state from `state`.
    pub fn from_config(config: &Config, state: Arc<dyn StateReader>) -> HostService {
        let grants = config
            .scripts
            .iter()
            .map(|script| {
                let grant = ScriptGrant {
                    allow_net: script.allow_net.clone(),
                    allow_private: script.allow_private.clone(),
                    secrets: script.secrets.clone(),
                    namespace: script.state_namespace.clone(),
                };
                (script.name.clone(), grant)
            })
            .collect();
        let limits = HostLimits {
            max_children: config.jobs.max_children,
            payload_limit: config.jobs.payload_limit,
        };
        let defaults = ScriptGrant {
            allow_net: config.fetch.allow_net.clone(),
            allow_private: config.fetch.allow_private.clone(),
            ..ScriptGrant::default()
        };
        HostService::with(grants, defaults, state, limits)
    }

    /// What `script`'s jobs may use, with a version's own `allow_net`: the defaults of
    /// `[fetch]`, the script's `[[script]]` entry and the version, together.
    pub fn effective_grant(&self, script: &str, version_allow_net: &[String]) -> ScriptGrant {
        let own = self.grant(script);
        let defaults = &self.inner.defaults;
        let joined = |a: &[String], b: &[String], c: &[String]| {
            let mut all: Vec<String> = Vec::new();
            for entry in a.iter().chain(b).chain(c) {
                if !all.contains(entry) {
                    all.push(entry.clone());
                }
            }
            all
        };
        ScriptGrant {
            allow_net: joined(&defaults.allow_net, &own.allow_net, version_allow_net),
            allow_private: joined(&defaults.allow_private, &own.allow_private, &[]),
            secrets: own.secrets,
            namespace: Some(self.namespace(script)),
        }
    }

    /// [`HostService::effective_grant`] as `scripts show` prints it.
    pub fn grants_view(
        &self,
        script: &str,
        version_allow_net: &[String],
    ) -> jobvisor_protocol::control::ScriptGrants {
        let grant = self.effective_grant(script, version_allow_net);
        jobvisor_protocol::control::ScriptGrants {
            allow_net: grant.allow_net,
            allow_private: grant.allow_private,
            secrets: grant.secrets,
            state_namespace: grant.namespace.unwrap_or_default(),
        }
    }

    /// What the config grants `script`.
    pub fn grant(&self, script: &str) -> ScriptGrant {
        self.inner.grants.get(script).cloned().unwrap_or_default()
    }

    /// The namespace of `script`'s state.
    pub fn namespace(&self, script: &str) -> String {
        self.inner
            .grants
            .get(script)
            .and_then(|g| g.namespace.clone())
            .unwrap_or_else(|| script.to_owned())
    }

    /// The secrets, as `jobvisor secrets list` shows them.
    pub fn secrets_view(&self) -> Vec<jobvisor_protocol::control::SecretView> {
        Vec::new()
    }

    /// The host of one attempt of a job of `script`.
    pub fn begin(&self, attempt: AttemptRef, script: &str) -> AttemptHost {
        let grant = self.inner.grants.get(script);
        let namespace = grant
            .and_then(|g| g.namespace.clone())
            .unwrap_or_else(|| script.to_owned());
        AttemptHost {
            inner: Arc::new(AttemptInner {
                attempt,
                script: script.to_owned(),
                namespace,
                state: self.inner.state.clone(),
                limits: self.inner.limits,
                staged: Mutex::new(StagedState::default()),
                children: Mutex::new(Vec::new()),
            }),
        }
    }
}

/// The host of one attempt: answers its calls and keeps what it stages. Cheap to clone:
/// each call is answered on a task of its own.
#[derive(Clone)]
pub struct AttemptHost {
    inner: Arc<AttemptInner>,
}

struct AttemptInner {
    attempt: AttemptRef,
    script: String,
    namespace: String,
    state: Arc<dyn StateReader>,
    limits: HostLimits,
    staged: Mutex<StagedState>,
    children: Mutex<Vec<EnqueueRequest>>,
}

/// What an attempt did through the host, for its record.
#[derive(Debug, Default)]
pub struct HostEffects {
    /// Applied only if the attempt completes.
    pub effects: AttemptEffects,
    /// Recorded whatever the end.
    pub requests: Vec<RequestRecord>,
}

impl AttemptHost {
    /// The attempt this host serves.
    pub fn attempt(&self) -> AttemptRef {
        self.inner.attempt
    }

    /// The answer to call `call_id`.
    pub async fn answer(&self, call_id: u64, op: HostOp) -> HostResult {
        let inner = &*self.inner;
        let _ = call_id;
        match op {
            HostOp::Echo { text } => {
                tracing::trace!(
                    job = inner.attempt.id.0,
                    attempt = inner.attempt.attempt,
                    "host echo"
                );
                HostResult::Value { text }
            }
            HostOp::StateGet { key } => {
                state::get(&*inner.state, &inner.staged, &inner.namespace, key).await
            }
            HostOp::StateSet(write) => {
                state::set(&*inner.state, &inner.staged, &inner.namespace, write).await
            }
            HostOp::StateList {
                prefix,
                after,
                limit,
            } => {
                state::list(
                    &*inner.state,
                    &inner.staged,
                    &inner.namespace,
                    prefix,
                    after,
                    limit,
                )
                .await
            }
            HostOp::Enqueue(child) => self.enqueue(child),
            HostOp::Fetch(_)
            | HostOp::ReadBody { .. }
            | HostOp::CancelFetch { .. }
            | HostOp::SecretValue { .. }
            | HostOp::Sign { .. } => HostResult::Refused {
                kind: HostErrorKind::Failed,
                message: "this host call is not available yet".to_owned(),
            },
        }
    }

    /// `ctx.enqueue`: checked as an enqueue from the CLI is, and staged.
    fn enqueue(&self, child: ChildJob) -> HostResult {
        let inner = &*self.inner;
        let refused = |kind, message: String| HostResult::Refused { kind, message };
        let mut children = lock(&inner.children);
        if children.len() >= inner.limits.max_children as usize {
            return refused(
                HostErrorKind::Limit,
                format!(
                    "an attempt may enqueue at most {} child jobs ([jobs] max_children)",
                    inner.limits.max_children
                ),
            );
        }
        match child_request(child, inner.limits.payload_limit) {
            Ok(request) => {
                children.push(request);
                HostResult::Done
            }
            Err(problem) => refused(HostErrorKind::Invalid, problem),
        }
    }

    /// Masks the secrets this attempt may know in `text` (console lines, errors, results).
    pub fn mask<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        std::borrow::Cow::Borrowed(text)
    }

    /// The attempt is over: what it staged and the requests it made. Calls still being
    /// answered are cancelled.
    pub fn finish(&self) -> HostEffects {
        let inner = &*self.inner;
        let state = std::mem::take(&mut *lock(&inner.staged)).into_writes();
        let children = std::mem::take(&mut *lock(&inner.children));
        HostEffects {
            effects: AttemptEffects { state, children },
            requests: Vec::new(),
        }
    }

    /// The script whose job this is.
    pub fn script(&self) -> &str {
        &self.inner.script
    }
}

/// A child job as the store takes it, or why it cannot be one.
fn child_request(child: ChildJob, payload_limit: u64) -> Result<EnqueueRequest, String> {
    check_name(NameKind::Script, &child.script)?;
    if child.payload.len() as u64 > payload_limit {
        return Err(format!(
            "the payload of a child job is {} bytes, above the limit of {payload_limit} bytes \
             ([jobs] payload_limit)",
            child.payload.len()
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(&child.payload)
        .map_err(|err| format!("the payload of a child job must be JSON text: {err}"))?;
    let queue = child
        .queue
        .unwrap_or_else(|| EnqueueRequest::DEFAULT_QUEUE.to_owned());
    check_name(NameKind::Queue, &queue)?;
    if let Some(n) = child.max_attempts {
        store_limits::check_max_attempts(n)?;
    }
    if child.timeout_ms == Some(0) {
        return Err("the timeout of a child job must be more than 0".to_owned());
    }
    if let Some(ms) = child.timeout_ms {
        store_limits::check_at_most(
            "timeout",
            Duration::from_millis(ms),
            store_limits::MAX_JOB_TIMEOUT,
        )?;
    }
    if let Some(ms) = child.delay_ms {
        store_limits::check_at_most("delay", Duration::from_millis(ms), store_limits::MAX_DELAY)?;
    }
    Ok(EnqueueRequest {
        script: child.script,
        payload: child.payload,
        queue,
        priority: child.priority.unwrap_or(0),
        run_at: child
            .delay_ms
            .map_or(RunAt::Now, |ms| RunAt::After(Duration::from_millis(ms))),
        max_attempts: child.max_attempts,
        timeout: child.timeout_ms.map(Duration::from_millis),
        unique_key: child.unique_key,
        backoff: None,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobId;

    fn attempt() -> AttemptRef {
        AttemptRef {
            id: JobId(1),
            attempt: 1,
            epoch: 0,
        }
    }

    #[tokio::test]
    async fn echo_answers_the_text_it_was_sent() {
        let host = HostService::new().begin(attempt(), "s");
        let answer = host
            .answer(
                1,
                HostOp::Echo {
                    text: "là-bas".to_owned(),
                },
            )
            .await;
        assert_eq!(
            answer,
            HostResult::Value {
                text: "là-bas".to_owned()
            }
        );
    }
}
