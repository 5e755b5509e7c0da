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
use std::time::{Duration, Instant};

use jobvisor_protocol::host::{ChildJob, HostErrorKind, HostOp, HostResult};

use crate::config::Config;
use crate::limits::{self as store_limits, NameKind, check_name};
use crate::store::{AttemptEffects, AttemptRef, EnqueueRequest, RequestRecord, RunAt};
use fetch::{EgressSecrets, FetchClient, FetchLimits, FetchSession, NetPolicy};
use secrets::{GrantedSecrets, SecretStore};
use state::{NoState, StagedState, StateReader};

impl EgressSecrets for GrantedSecrets {
    fn substitute(&self, input: &[u8], host: &str, port: u16) -> Result<Option<Vec<u8>>, String> {
        GrantedSecrets::substitute(self, input, host, port)
    }

    fn mask(&self, text: &str) -> String {
        GrantedSecrets::mask(self, text)
    }
}

/// Why the host service could not be set up: fatal to the start, like a bad config.
#[derive(Debug, thiserror::Error)]
pub enum HostSetupError {
    #[error(transparent)]
    Secrets(#[from] secrets::SecretError),
    #[error("{0}")]
    Grant(String),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchSetupError),
}

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
    /// `None`: no network at all (a script check).
    fetch: Option<FetchClient>,
    fetch_limits: FetchLimits,
    secrets: Arc<SecretStore>,
    /// The secrets each script is granted, made once.
    granted: HashMap<String, GrantedSecrets>,
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
                fetch: None,
                fetch_limits: FetchLimits::default(),
                secrets: Arc::new(SecretStore::default()),
                granted: HashMap::new(),
            }),
        }
    }

    /// The same host with a network client and `secrets`, each script granted those its
    /// [`ScriptGrant::secrets`] names. An unknown name is an error.
    pub fn with_network(
        self,
        client: FetchClient,
        limits: FetchLimits,
        secrets: SecretStore,
    ) -> Result<HostService, HostSetupError> {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| ServiceInner {
            grants: shared.grants.clone(),
            defaults: shared.defaults.clone(),
            state: shared.state.clone(),
            limits: shared.limits,
            fetch: None,
            fetch_limits: shared.fetch_limits,
            secrets: shared.secrets.clone(),
            granted: shared.granted.clone(),
        });
        let mut granted = HashMap::new();
        for (script, grant) in &inner.grants {
            let secrets = secrets
                .grant(script, &grant.secrets)
                .map_err(HostSetupError::Grant)?;
            granted.insert(script.clone(), secrets);
        }
        inner.fetch = Some(client);
        inner.fetch_limits = limits;
        inner.secrets = Arc::new(secrets);
        inner.granted = granted;
        Ok(HostService {
            inner: Arc::new(inner),
        })
    }

    /// The host of a daemon run with `config`, reading committed state from `state`: the
    /// secrets are read and the HTTP client is built here.
    pub fn from_config(
        config: &Config,
        state: Arc<dyn StateReader>,
    ) -> Result<HostService, HostSetupError> {
        let specs: Vec<secrets::SecretSpec> = config
            .secrets
            .iter()
            .map(|entry| secrets::SecretSpec {
                name: entry.name.clone(),
                hosts: entry.hosts.clone(),
                expose: entry.expose,
                source: match (&entry.file, &entry.credential) {
                    (Some(file), _) => Some(secrets::SecretSource::File(file.clone())),
                    (None, Some(id)) => Some(secrets::SecretSource::Credential(id.clone())),
                    (None, None) => None,
                },
            })
            .collect();
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(std::path::PathBuf::from);
        let store = SecretStore::load(&specs, &config.secrets_dir(), credentials.as_deref())?;
        for warning in store.warnings() {
            tracing::warn!("{warning}");
        }
        let client = FetchClient::new(fetch::FetchSettings {
            extra_ca_file: config.fetch.ca_file.clone(),
            connect_timeout: config.fetch.connect_timeout,
            ..fetch::FetchSettings::default()
        })?;
        let limits = FetchLimits {
            max_response_bytes: config.fetch.max_response_size,
            max_request_bytes: config.fetch.max_request_size as usize,
            max_requests: config.fetch.max_requests,
            max_in_flight: config.fetch.max_in_flight as usize,
            request_timeout: config.fetch.timeout,
            max_redirects: config.fetch.max_redirects,
        };
        HostService::without_network(config, state).with_network(client, limits, store)
    }

    /// The host of `config` with no network client and no secrets.
    pub fn without_network(config: &Config, state: Arc<dyn StateReader>) -> HostService {
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

    /// The secrets, as `jobvisor secrets list` shows them, with the scripts granted each.
    pub fn secrets_view(&self) -> Vec<jobvisor_protocol::control::SecretView> {
        self.inner
            .secrets
            .list()
            .into_iter()
            .map(|info| {
                let mut granted_to: Vec<String> = self
                    .inner
                    .grants
                    .iter()
                    .filter(|(_, grant)| grant.secrets.contains(&info.name))
                    .map(|(script, _)| script.clone())
                    .collect();
                granted_to.sort();
                jobvisor_protocol::control::SecretView {
                    name: info.name,
                    hosts: info.hosts,
                    expose: info.expose,
                    source: info.source,
                    bytes: info.bytes as u64,
                    granted_to,
                }
            })
            .collect()
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

    /// The host of one attempt of a job of `script` whose version adds `version_allow_net`,
    /// until `deadline`.
    pub fn begin(
        &self,
        attempt: AttemptRef,
        script: &str,
        version_allow_net: &[String],
        deadline: Instant,
    ) -> AttemptHost {
        let grant = self.effective_grant(script, version_allow_net);
        let secrets = self
            .inner
            .granted
            .get(script)
            .cloned()
            .unwrap_or_else(|| GrantedSecrets::none(script));
        let fetch = self.inner.fetch.as_ref().map(|client| {
            // The entries were checked when the config was read and when the version was
            // added; one that still fails grants nothing (a request names the setting).
            let policy = NetPolicy::parse(&grant.allow_net, &grant.allow_private)
                .or_else(|problem| {
                    tracing::warn!(script, %problem, "a network grant could not be read; the script gets none");
                    NetPolicy::parse::<String>(&[], &[])
                })
                .unwrap_or_else(|_| unreachable!("an empty policy parses"))
                .named(script);
            FetchSession::new(
                client.clone(),
                Arc::new(policy),
                self.inner.fetch_limits,
                deadline,
                Arc::new(secrets.clone()),
            )
        });
        AttemptHost {
            inner: Arc::new(AttemptInner {
                attempt,
                script: script.to_owned(),
                namespace: grant.namespace.unwrap_or_else(|| script.to_owned()),
                state: self.inner.state.clone(),
                limits: self.inner.limits,
                staged: Mutex::new(StagedState::default()),
                children: Mutex::new(Vec::new()),
                fetch,
                secrets,
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
    /// `None`: the host has no network (a script check).
    fetch: Option<FetchSession>,
    secrets: GrantedSecrets,
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
            HostOp::Fetch(request) => match &inner.fetch {
                Some(session) => session.fetch(call_id, request).await,
                None => no_network(),
            },
            HostOp::ReadBody { fetch } => match &inner.fetch {
                Some(session) => session.read_body(fetch).await,
                None => no_network(),
            },
            HostOp::CancelFetch { fetch } => match &inner.fetch {
                Some(session) => session.cancel(fetch),
                None => HostResult::Done,
            },
            HostOp::SecretValue { name } => match inner.secrets.value(&name) {
                Ok(text) => HostResult::Value { text },
                Err((kind, message)) => HostResult::Refused { kind, message },
            },
            HostOp::Sign {
                name,
                algorithm,
                data,
            } => match inner.secrets.sign(&name, algorithm, &data) {
                Ok(data) => HostResult::Bytes { data },
                Err(message) => HostResult::Refused {
                    kind: HostErrorKind::Denied,
                    message,
                },
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
        let redactor = self.inner.secrets.redactor();
        if redactor.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        redactor.mask(text)
    }

    /// The attempt is over: what it staged and the requests it made. Calls still being
    /// answered are cancelled.
    pub fn finish(&self) -> HostEffects {
        let inner = &*self.inner;
        let state = std::mem::take(&mut *lock(&inner.staged)).into_writes();
        let children = std::mem::take(&mut *lock(&inner.children));
        let requests = match &inner.fetch {
            Some(session) => {
                session.close();
                session.records()
            }
            None => Vec::new(),
        };
        HostEffects {
            effects: AttemptEffects { state, children },
            requests,
        }
    }

    /// The script whose job this is.
    pub fn script(&self) -> &str {
        &self.inner.script
    }
}

fn no_network() -> HostResult {
    HostResult::Refused {
        kind: HostErrorKind::Denied,
        message: "fetch is not available here (a script is checked without network)".to_owned(),
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
        let host = HostService::new().begin(attempt(), "s", &[], Instant::now());
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
