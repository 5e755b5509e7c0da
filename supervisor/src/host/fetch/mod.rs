//! Scripts' `fetch`, performed by the supervisor under the script's network policy.
//!
//! [`FetchClient`] is built once per daemon: an HTTP client (rustls, HTTP/1.1 and HTTP/2,
//! no proxies from the environment, no redirects of its own) on a small tokio runtime of
//! its own, so DNS, TLS handshakes and slow bodies never run on the caller's threads.
//! [`FetchSession`] is one per attempt: it checks every request and every redirect hop
//! against the script's [`NetPolicy`] (allow-list, private addresses after DNS, IP
//! literals), substitutes secret references at egress through [`EgressSecrets`], applies
//! the [`FetchLimits`], streams bodies in chunks of at most
//! [`jobvisor_protocol::host::BODY_CHUNK_BYTES`] and records every request.
//!
//! This module answers the fetch ops only; it never sees frames and knows nothing of
//! workers or the store beyond the [`RequestRecord`](crate::store::RequestRecord) it fills.

mod client;
mod policy;
mod session;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use client::{FetchClient, FetchSettings, FetchSetupError, TrustRoots};
pub use policy::{AddressClass, HostRule, NetPolicy, TargetHost, classify_address};
pub use session::FetchSession;

/// The limits of one attempt's fetches. Every limit hit answers `Refused { kind: Limit }`
/// with a message naming the setting, except `max_in_flight`: a fetch past it waits for a
/// slot (within its timeout), as a browser queues requests past its connection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Largest response body, counted decoded while it streams in (a compressed body that
    /// inflates past it is cut there). Setting `[fetch] max_response_size`.
    pub max_response_bytes: u64,
    /// Largest request body, after secret substitution; at most
    /// [`jobvisor_protocol::host::MAX_FETCH_BODY_BYTES`]. Setting `[fetch] max_request_size`.
    pub max_request_bytes: usize,
    /// Fetches one attempt may make (refused ones included). Setting `[fetch] max_requests`.
    pub max_requests: u32,
    /// Fetches one attempt may have waiting for their response at once. Setting
    /// `[fetch] max_in_flight`.
    pub max_in_flight: usize,
    /// Time from the fetch to the end of its body; never past the attempt's deadline.
    /// Setting `[fetch] timeout`.
    pub request_timeout: Duration,
    /// Redirect hops one fetch follows. Setting `[fetch] max_redirects`.
    pub max_redirects: u32,
}

impl Default for FetchLimits {
    fn default() -> FetchLimits {
        FetchLimits {
            max_response_bytes: 10 * 1024 * 1024,
            max_request_bytes: 1024 * 1024,
            max_requests: 100,
            max_in_flight: 8,
            request_timeout: Duration::from_secs(30),
            max_redirects: 5,
        }
    }
}

/// The secrets an attempt may send, substituted at egress so that the script never holds
/// them.
pub trait EgressSecrets: Send + Sync {
    /// `input` with every secret reference replaced by its value, when each secret is
    /// granted to the script and bound to `host`; `Ok(None)` when `input` holds no
    /// reference; `Err(message)` to refuse the request (the message is the script's).
    fn substitute(&self, input: &[u8], host: &str, port: u16) -> Result<Option<Vec<u8>>, String>;
    /// `text` with every secret value masked, before it is stored.
    fn mask(&self, text: &str) -> String;
}

/// No secrets: a request that carries a reference is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl EgressSecrets for NoSecrets {
    fn substitute(&self, input: &[u8], _host: &str, _port: u16) -> Result<Option<Vec<u8>>, String> {
        let prefix = jobvisor_protocol::host::SECRET_REF_PREFIX.as_bytes();
        if input.windows(prefix.len()).any(|window| window == prefix) {
            Err(
                "the request uses a secret reference, but no secrets are granted to the script"
                    .to_owned(),
            )
        } else {
            Ok(None)
        }
    }

    fn mask(&self, text: &str) -> String {
        text.to_owned()
    }
}
