//! Host calls: what a running job asks of the supervisor, and the answers.
//!
//! A worker has no network, no files and no clock beyond its timers; every capability a
//! script uses beyond the language is one [`HostOp`] sent as
//! [`crate::worker::FromWorker::HostCall`] and answered by one [`HostResult`] in
//! [`crate::worker::ToWorker::HostReply`]. The supervisor's host service decides each call
//! under the policy of the job's script. Both sides cap what they accept: a call or a
//! reply larger than [`MAX_HOST_CALL_BYTES`], or more than [`MAX_HOST_CALLS_IN_FLIGHT`]
//! calls unanswered, ends the attempt as a protocol error.
//!
//! New ops are appended at the end of [`HostOp`] (bincode encodes the variant index).

use serde::{Deserialize, Serialize};

/// Largest encoded `HostCall` or `HostReply` frame either side accepts, in bytes. Room
/// for a request body of [`MAX_FETCH_BODY_BYTES`] with its URL and headers.
pub const MAX_HOST_CALL_BYTES: usize = 2 * 1024 * 1024;

/// Most host calls one worker may have unanswered at a time.
pub const MAX_HOST_CALLS_IN_FLIGHT: usize = 64;

/// The largest request body a fetch may send (the configured cap is at most this).
pub const MAX_FETCH_BODY_BYTES: usize = 1024 * 1024;

/// The most response-body bytes one reply carries ([`HostResult::Response`] and
/// [`HostResult::BodyChunk`]); a larger body is read in several [`HostOp::ReadBody`] calls.
pub const BODY_CHUNK_BYTES: usize = 256 * 1024;

/// One request to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostOp {
    /// Answers `Value` with the same text. Proves the path end to end; costs the host
    /// nothing.
    Echo { text: String },
    /// An HTTP request under the script's network policy. Answered with
    /// [`HostResult::Response`] once the response's head (and the first chunk of its body)
    /// has arrived; the rest of the body is read with [`HostOp::ReadBody`].
    Fetch(FetchRequest),
    /// The next chunk of the body of the response to the fetch made by call `fetch`.
    /// Answered with [`HostResult::BodyChunk`].
    ReadBody { fetch: u64 },
    /// The script no longer wants fetch `fetch` (its signal aborted, or it dropped the
    /// body): a request still in flight is answered `Refused { kind: Aborted }`, an unread
    /// body is dropped. Answered with [`HostResult::Done`].
    CancelFetch { fetch: u64 },
    /// The value of `key` in the script's state namespace, as this attempt sees it (its
    /// own staged writes included). Answered with [`HostResult::State`].
    StateGet { key: String },
    /// Stages a write (a set or a delete) of the script's state, committed with the job's
    /// completion. Answered with [`HostResult::StateWritten`], or `Refused { kind:
    /// Conflict }` when `check` already fails.
    StateSet(StateWrite),
    /// Keys of the script's state in key order, from after `after`, starting with
    /// `prefix`, at most `limit`. Answered with [`HostResult::StateEntries`].
    StateList {
        prefix: String,
        after: Option<String>,
        limit: u32,
    },
    /// The value of a secret granted to the script with `expose = true`. Answered with
    /// `Value`.
    SecretValue { name: String },
    /// A signature of `data` by the host with the granted secret key `name`. Answered with
    /// [`HostResult::Bytes`].
    Sign {
        name: String,
        algorithm: SignAlgorithm,
        data: Vec<u8>,
    },
    /// Stages a child job, enqueued with the job's completion (none if it fails). Answered
    /// with [`HostResult::Done`].
    Enqueue(ChildJob),
}

/// An HTTP request as the script made it. Secret references
/// ([`SECRET_REF_PREFIX`]`NAME~`) in the URL, a header value or the body are replaced by
/// the host at egress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// Upper case (`GET`, `POST`, …).
    pub method: String,
    pub url: String,
    /// In the order the script set them; names lower case.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub redirect: RedirectMode,
}

/// What a fetch does with a redirect response (WHATWG `RequestInit.redirect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RedirectMode {
    /// Follow it (each hop checked like the first request), at most the host's limit.
    #[default]
    Follow,
    /// Reject the fetch with a `TypeError`.
    Error,
    /// Answer with the redirect response itself.
    Manual,
}

/// The head of a response, with the first chunk of its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchResponse {
    pub status: u16,
    pub status_text: String,
    /// Names lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The URL of the last hop.
    pub url: String,
    pub redirected: bool,
    /// At most [`BODY_CHUNK_BYTES`].
    pub body: Vec<u8>,
    /// The whole body is in `body`; no `ReadBody` is needed.
    pub done: bool,
}

/// A staged write of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateWrite {
    pub key: String,
    /// JSON text; `None` deletes the key.
    pub value: Option<String>,
    /// The value expires this long after the commit.
    pub ttl_ms: Option<u64>,
    pub check: VersionCheck,
}

/// The compare of a compare-and-set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum VersionCheck {
    /// No condition.
    #[default]
    Any,
    /// The key must not exist.
    Absent,
    /// The key must hold this version.
    Is(u64),
}

/// One key of the script's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateEntry {
    pub key: String,
    /// JSON text.
    pub value: String,
    /// Changes with every committed write of the key and never repeats for it. A write
    /// staged by this attempt has no version yet: `None`.
    pub version: Option<u64>,
}

/// The algorithms of [`HostOp::Sign`] (JWS names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignAlgorithm {
    /// HMAC with SHA-256.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (a PEM PKCS#8 or PKCS#1 private key).
    Rs256,
    /// ECDSA P-256 with SHA-256, the signature as `r || s` (a PEM PKCS#8 or SEC1 key).
    Es256,
}

/// A child job as `ctx.enqueue` asked for it; unset options take the defaults of an
/// enqueue from the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildJob {
    pub script: String,
    /// JSON text.
    pub payload: String,
    pub queue: Option<String>,
    pub priority: Option<i32>,
    pub delay_ms: Option<u64>,
    pub unique_key: Option<String>,
    pub max_attempts: Option<u32>,
    pub timeout_ms: Option<u64>,
}

/// What a secret reference looks like in a string: this prefix, the secret's name
/// (`[A-Za-z0-9_]`), then `~`. Made only of characters that URLs, header values and
/// JSON leave as they are.
pub const SECRET_REF_PREFIX: &str = "JOBVISOR-SECRET~";

/// The reference to secret `name` that the host replaces at egress.
pub fn secret_ref(name: &str) -> String {
    format!("{SECRET_REF_PREFIX}{name}~")
}

/// The host's answer to one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostResult {
    /// The op's value (for `Echo`: the text sent; for `SecretValue`: the secret).
    Value { text: String },
    /// The host refused or failed the call; `message` says why, for the script's error.
    Refused {
        kind: HostErrorKind,
        message: String,
    },
    /// The answer to `Fetch`.
    Response(FetchResponse),
    /// The answer to `ReadBody`: at most [`BODY_CHUNK_BYTES`]; `done` after the last.
    BodyChunk { data: Vec<u8>, done: bool },
    /// The answer to `StateGet`: `None` when the key does not exist (or expired).
    State(Option<StateEntry>),
    /// The answer to `StateSet`: the write is staged.
    StateWritten,
    /// The answer to `StateList`; `more` when keys after the last one match too.
    StateEntries {
        entries: Vec<StateEntry>,
        more: bool,
    },
    /// The answer to `Sign`.
    Bytes { data: Vec<u8> },
    /// The op was done (`CancelFetch`, `Enqueue`).
    Done,
}

/// Why a host call was not answered with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostErrorKind {
    /// The script's policy does not allow this call.
    Denied,
    /// The call was well formed but its arguments are not acceptable.
    Invalid,
    /// The host could not do it (an I/O error, a failed connection).
    Failed,
    /// A limit of the attempt was reached (requests, bytes, children, concurrency).
    Limit,
    /// The call's time ran out (its own timeout or the job's deadline).
    Timeout,
    /// The script cancelled it (`CancelFetch`), or the attempt is being stopped.
    Aborted,
    /// A compare-and-set's version did not match.
    Conflict,
}
