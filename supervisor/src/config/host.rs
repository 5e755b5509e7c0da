//! `[fetch]`, `[secrets]` and `[[secret]]`: what the host API lets scripts do beyond the
//! language. `[fetch]` holds the network defaults every script gets and the limits of its
//! requests; `[[secret]]` declares the secrets a `[[script]]` may be granted (by its
//! `secrets` list), each bound to the hosts it may be sent to; `[secrets] dir` is where
//! their files are. Owns the sections' defaults and ranges; the allow-list syntax itself is
//! the fetch policy's (`host::fetch`), checked here so that a bad entry stops the start.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::values::{check_count, check_duration, check_size, duration, size};
use super::{ConfigError, KeyNames};

/// The largest request body `[fetch] max_request_size` may allow: one host call carries it.
pub const MAX_REQUEST_SIZE: u64 = jobvisor_protocol::host::MAX_FETCH_BODY_BYTES as u64;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchSection {
    /// Hosts every script may fetch from, besides its own `allow_net`.
    pub allow_net: Vec<String>,
    /// Exact `host:port`s every script may reach although they resolve to a private,
    /// loopback or link-local address.
    pub allow_private: Vec<String>,
    /// The most response-body bytes one request may receive (decoded).
    #[serde(deserialize_with = "size")]
    pub max_response_size: u64,
    /// The largest request body.
    #[serde(deserialize_with = "size")]
    pub max_request_size: u64,
    /// Requests one attempt may make.
    pub max_requests: u32,
    /// Requests one attempt may have in flight at once.
    pub max_in_flight: u32,
    /// The longest one request may take (never past the job's deadline).
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Redirect hops one request follows (each checked like the first request).
    pub max_redirects: u32,
    /// A PEM file of extra CA certificates to trust (for private endpoints).
    pub ca_file: Option<PathBuf>,
}

impl Default for FetchSection {
    fn default() -> Self {
        FetchSection {
            allow_net: Vec::new(),
            allow_private: Vec::new(),
            max_response_size: 10 << 20,
            max_request_size: 1 << 20,
            max_requests: 100,
            max_in_flight: 8,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_redirects: 5,
            ca_file: None,
        }
    }
}

impl FetchSection {
    /// Every value against its documented range (docs/configuration.md).
    pub(crate) fn validate(&self, names: KeyNames<'_>) -> Result<(), ConfigError> {
        let key = |k: &str| names.show("fetch", k);
        crate::host::fetch::NetPolicy::parse(&self.allow_net, &self.allow_private)
            .map_err(|problem| ConfigError::Invalid(format!("[fetch]: {problem}")))?;
        check_size(
            &key("max_response_size"),
            self.max_response_size,
            1,
            1 << 30,
        )?;
        check_size(
            &key("max_request_size"),
            self.max_request_size,
            0,
            MAX_REQUEST_SIZE,
        )?;
        check_count(
            &key("max_requests"),
            u64::from(self.max_requests),
            0,
            100_000,
        )?;
        check_count(
            &key("max_in_flight"),
            u64::from(self.max_in_flight),
            1,
            jobvisor_protocol::host::MAX_HOST_CALLS_IN_FLIGHT as u64 / 2,
        )?;
        check_count(&key("max_redirects"), u64::from(self.max_redirects), 0, 20)?;
        let ms = Duration::from_millis(1);
        check_duration(&key("timeout"), self.timeout, ms, Duration::from_secs(3600))?;
        check_duration(
            &key("connect_timeout"),
            self.connect_timeout,
            ms,
            Duration::from_secs(600),
        )?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsSection {
    /// One file per secret, named after it, mode 0600. Default `<state_dir>/secrets`.
    pub dir: Option<PathBuf>,
}

/// A `[[secret]]`: a value scripts may use by name, and where it may go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEntry {
    pub name: String,
    /// The hosts a reference to it may be sent to (`allow_net` syntax). None: it can only
    /// be used to sign, or read where `expose` allows.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Scripts granted it may read its value (`ctx.secrets.get`). Off by default: they
    /// get references, substituted by the host at egress.
    #[serde(default)]
    pub expose: bool,
    /// Its file; default `<secrets dir>/<name>`, else `$CREDENTIALS_DIRECTORY/<name>`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The id of a systemd credential (`LoadCredential=ID:…`) to read it from.
    #[serde(default)]
    pub credential: Option<String>,
}

/// Refuses a bad name, a name declared twice and a secret with two sources.
pub(crate) fn validate_secrets(secrets: &[SecretEntry]) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for secret in secrets {
        let name = &secret.name;
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(ConfigError::Invalid(format!(
                "[[secret]] name `{name}`: a secret name is 1 to 64 letters, digits and `_`"
            )));
        }
        if !seen.insert(name) {
            return Err(ConfigError::Invalid(format!(
                "secret `{name}` is declared twice"
            )));
        }
        if secret.file.is_some() && secret.credential.is_some() {
            return Err(ConfigError::Invalid(format!(
                "secret `{name}` sets both `file` and `credential`; give one"
            )));
        }
    }
    Ok(())
}
