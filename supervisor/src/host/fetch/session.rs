//! One attempt's fetches: the checks of every request and redirect hop, secret
//! substitution at egress, the limits, body streaming and the request records.
//!
//! The session holds no task of its own. Each fetch (and each body read) is a task on the
//! fetch runtime whose handle the caller awaits; dropping the caller's future, a
//! `CancelFetch` or [`FetchSession::close`] aborts it. State shared by the calls (records,
//! bodies waiting to be read, counters) sits behind one mutex that is never held across
//! an await.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use jobvisor_protocol::host::{
    BODY_CHUNK_BYTES, FetchRequest, FetchResponse, HostErrorKind, HostResult, RedirectMode,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::client::{AddressRefused, FetchClient};
use super::policy::{NetPolicy, TargetHost, TargetRefusal, target_host};
use super::{EgressSecrets, FetchLimits};
use crate::store::RequestRecord;

/// Request headers a script may not set: they belong to the connection or to the client's
/// framing, and the client writes them itself. Set ones are ignored, as browsers do.
const CONNECTION_HEADERS: &[&str] = &[
    "accept-encoding",
    "connection",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that carry credentials, dropped when a redirect leaves the origin.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Headers that describe a body, dropped with it when a redirect turns the request into
/// a GET.
const BODY_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
];

/// One attempt's fetches. Usable from several tasks at once.
pub struct FetchSession {
    client: FetchClient,
    policy: Arc<NetPolicy>,
    limits: FetchLimits,
    deadline: Instant,
    secrets: Arc<dyn EgressSecrets>,
    slots: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    closed: bool,
    /// Fetch calls counted against `max_requests`.
    started: u32,
    /// The first fetch past `max_requests` is recorded, the rest are not.
    over_limit_recorded: bool,
    records: Vec<RequestRecord>,
    calls: HashMap<u64, Call>,
}

struct Call {
    cancel: CancellationToken,
    body: BodySlot,
    record: usize,
    started: Instant,
}

enum BodySlot {
    /// The request is in flight.
    Waiting,
    /// The head was answered; the rest of the body waits for `ReadBody`.
    Idle(Box<BodyStream>),
    /// A `ReadBody` is reading it.
    Reading,
}

/// Why a fetch (or a body read) was not answered with data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    kind: HostErrorKind,
    message: String,
}

impl Refusal {
    fn new(kind: HostErrorKind, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
        }
    }

    fn into_result(self) -> HostResult {
        HostResult::Refused {
            kind: self.kind,
            message: self.message,
        }
    }
}

/// A request as checked once, before any hop: what each hop starts from.
struct Prepared {
    method: Method,
    url: Url,
    headers: Vec<(HeaderName, Vec<u8>)>,
    body: Option<Vec<u8>>,
    redirect: RedirectMode,
}

/// What the fetch task hands back.
struct Outcome {
    result: Result<(FetchResponse, Option<Box<BodyStream>>), Refusal>,
    /// The last hop's URL, as recorded.
    record_url: Option<String>,
    status: Option<u16>,
    bytes_out: u64,
    bytes_in: u64,
    redirects: u32,
}

impl Outcome {
    fn refused(refusal: Refusal) -> Outcome {
        Outcome {
            result: Err(refusal),
            record_url: None,
            status: None,
            bytes_out: 0,
            bytes_in: 0,
            redirects: 0,
        }
    }
}

/// When a fetch's time runs out, and what to say then.
#[derive(Clone)]
struct TimeLimit {
    at: tokio::time::Instant,
    /// The attempt's deadline comes before the request's own timeout.
    is_job_deadline: bool,
    timeout: Duration,
}

impl TimeLimit {
    fn refusal(&self, target: &str) -> Refusal {
        let message = if self.is_job_deadline {
            format!("fetch to {target} timed out at the job's deadline")
        } else {
            format!(
                "fetch to {target} timed out after {} (setting [fetch] timeout)",
                human_duration(self.timeout)
            )
        };
        Refusal::new(HostErrorKind::Timeout, message)
    }
}

fn human_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

impl FetchSession {
    /// A session for one attempt whose deadline is `deadline`.
    pub fn new(
        client: FetchClient,
        policy: Arc<NetPolicy>,
        limits: FetchLimits,
        deadline: Instant,
        secrets: Arc<dyn EgressSecrets>,
    ) -> FetchSession {
        let slots = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
        FetchSession {
            client,
            policy,
            limits,
            deadline,
            secrets,
            slots,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Performs `request` as call `call_id`: `Response` with the head and the first chunk
    /// of the body, or `Refused`.
    pub async fn fetch(&self, call_id: u64, request: FetchRequest) -> HostResult {
        let started = Instant::now();
        let (cancel, record) = match self.begin(call_id, &request, started) {
            Ok(begun) => begun,
            Err(result) => return result,
        };
        let mut guard = CallGuard {
            session: self,
            call_id,
            armed: true,
        };
        let outcome = match self.prepare(request) {
            Err(refusal) => Outcome::refused(refusal),
            Ok(prepared) => {
                let time = self.time_limit(started);
                let task = HopTask {
                    client: self.client.clone(),
                    policy: self.policy.clone(),
                    secrets: self.secrets.clone(),
                    limits: self.limits,
                    slots: self.slots.clone(),
                    time,
                };
                let handle = AbortOnDrop(self.client.spawn(task.run(prepared)));
                tokio::select! {
                    joined = handle => joined.unwrap_or_else(|error| Outcome::refused(Refusal::new(
                        HostErrorKind::Failed,
                        format!("the fetch failed inside the host: {error}"),
                    ))),
                    () = cancel.cancelled() => Outcome::refused(aborted(call_id)),
                }
            }
        };
        guard.armed = false;
        self.finish(call_id, record, started, outcome)
    }

    /// Counts and registers a fetch call; the answer at once when it cannot start.
    fn begin(
        &self,
        call_id: u64,
        request: &FetchRequest,
        started: Instant,
    ) -> Result<(CancellationToken, usize), HostResult> {
        let mut state = self.state();
        if state.closed {
            return Err(aborted(call_id).into_result());
        }
        if state.calls.contains_key(&call_id) {
            return Err(Refusal::new(
                HostErrorKind::Invalid,
                format!("fetch call {call_id} is already in use"),
            )
            .into_result());
        }
        let record = RequestRecord {
            method: match parse_method(&request.method) {
                Ok(method) => method.to_string(),
                Err(_) => shorten(&request.method),
            },
            url: self.record_url_of_text(&request.url),
            status: None,
            bytes_out: 0,
            bytes_in: 0,
            duration_ms: 0,
            redirects: 0,
            error: None,
        };
        if state.started >= self.limits.max_requests {
            let refusal = Refusal::new(
                HostErrorKind::Limit,
                format!(
                    "too many fetches: the attempt may make {} (setting [fetch] max_requests)",
                    self.limits.max_requests
                ),
            );
            if !state.over_limit_recorded {
                state.over_limit_recorded = true;
                state.records.push(RequestRecord {
                    error: Some(refusal.message.clone()),
                    ..record
                });
            }
            return Err(refusal.into_result());
        }
        state.started += 1;
        state.records.push(record);
        let index = state.records.len() - 1;
        let cancel = CancellationToken::new();
        state.calls.insert(
            call_id,
            Call {
                cancel: cancel.clone(),
                body: BodySlot::Waiting,
                record: index,
                started,
            },
        );
        Ok((cancel, index))
    }

    fn finish(
        &self,
        call_id: u64,
        index: usize,
        started: Instant,
        mut outcome: Outcome,
    ) -> HostResult {
        // A message may quote what the script sent; it is stored and shown.
        if let Err(refusal) = &mut outcome.result {
            refusal.message = self.secrets.mask(&refusal.message);
        }
        let mut state = self.state();
        let state = &mut *state;
        let still_ours = state
            .calls
            .get(&call_id)
            .is_some_and(|call| call.record == index && matches!(call.body, BodySlot::Waiting));
        let Some(record) = state.records.get_mut(index) else {
            return aborted(call_id).into_result();
        };
        if let Some(url) = outcome.record_url {
            record.url = url;
        }
        // A refusal after a redirect hop still had no response for the script.
        record.status = outcome.status.filter(|_| outcome.result.is_ok());
        record.bytes_out = outcome.bytes_out;
        record.bytes_in = outcome.bytes_in;
        record.redirects = outcome.redirects;
        record.duration_ms = millis(started.elapsed());
        match outcome.result {
            Ok((head, body)) if still_ours => {
                match body {
                    Some(body) => {
                        if let Some(call) = state.calls.get_mut(&call_id) {
                            call.body = BodySlot::Idle(body);
                        }
                    }
                    None => {
                        state.calls.remove(&call_id);
                    }
                }
                HostResult::Response(head)
            }
            Ok(_) => {
                // Cancelled (or the session closed) between the answer and now.
                let refusal = aborted(call_id);
                record.error = Some(refusal.message.clone());
                refusal.into_result()
            }
            Err(refusal) => {
                if still_ours {
                    state.calls.remove(&call_id);
                }
                record.error = Some(refusal.message.clone());
                refusal.into_result()
            }
        }
    }

    /// The next chunk of the body of fetch `fetch`: `BodyChunk`, or `Refused`.
    pub async fn read_body(&self, fetch: u64) -> HostResult {
        let (body, cancel) = {
            let mut state = self.state();
            let Some(call) = state.calls.get_mut(&fetch) else {
                return Refusal::new(
                    HostErrorKind::Invalid,
                    format!("fetch {fetch} has no body left to read"),
                )
                .into_result();
            };
            match std::mem::replace(&mut call.body, BodySlot::Reading) {
                BodySlot::Idle(body) => (body, call.cancel.clone()),
                other => {
                    let message = match other {
                        BodySlot::Waiting => format!("fetch {fetch} has no response yet"),
                        _ => format!("the body of fetch {fetch} is already being read"),
                    };
                    call.body = other;
                    return Refusal::new(HostErrorKind::Invalid, message).into_result();
                }
            }
        };
        let mut guard = BodyGuard {
            session: self,
            fetch,
            armed: true,
        };
        let handle = AbortOnDrop(self.client.spawn(async move {
            let mut body = body;
            let read = body.read(ReadMode::AtLeastOne).await;
            (body, read)
        }));
        let joined = tokio::select! {
            joined = handle => joined.map_err(|error| Refusal::new(
                HostErrorKind::Failed,
                format!("reading the body failed inside the host: {error}"),
            )),
            () = cancel.cancelled() => Err(aborted(fetch)),
        };
        guard.armed = false;
        let mut state = self.state();
        let state = &mut *state;
        let Some(call) = state.calls.get_mut(&fetch) else {
            return aborted(fetch).into_result();
        };
        let (record_index, call_started) = (call.record, call.started);
        let answer = match joined {
            Ok((body, Ok((data, done)))) => {
                let received = body.received;
                if done {
                    state.calls.remove(&fetch);
                } else {
                    call.body = BodySlot::Idle(body);
                }
                if let Some(record) = state.records.get_mut(record_index) {
                    record.bytes_in = received;
                    record.duration_ms = millis(call_started.elapsed());
                }
                return HostResult::BodyChunk { data, done };
            }
            Ok((body, Err(refusal))) => {
                if let Some(record) = state.records.get_mut(record_index) {
                    record.bytes_in = body.received;
                }
                refusal
            }
            Err(refusal) => refusal,
        };
        state.calls.remove(&fetch);
        if let Some(record) = state.records.get_mut(record_index) {
            record.duration_ms = millis(call_started.elapsed());
            record.error = Some(answer.message.clone());
        }
        answer.into_result()
    }

    /// The script no longer wants fetch `fetch`: an in-flight request answers
    /// `Refused { Aborted }`, an unread body is dropped. Always `Done`.
    pub fn cancel(&self, fetch: u64) -> HostResult {
        let mut state = self.state();
        if let Some(call) = state.calls.remove(&fetch) {
            call.cancel.cancel();
            if matches!(call.body, BodySlot::Waiting)
                && let Some(record) = state.records.get_mut(call.record)
            {
                record.error = Some(aborted(fetch).message);
            }
        }
        HostResult::Done
    }

    /// The requests of the attempt so far, in the order they were made.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.state().records.clone()
    }

    /// Ends the session: every fetch in flight is aborted, every unread body dropped, and
    /// later calls are refused.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        let calls: Vec<(u64, Call)> = state.calls.drain().collect();
        for (fetch, call) in calls {
            call.cancel.cancel();
            if matches!(call.body, BodySlot::Waiting)
                && let Some(record) = state.records.get_mut(call.record)
            {
                record.error = Some(aborted(fetch).message);
            }
        }
    }

    fn time_limit(&self, started: Instant) -> TimeLimit {
        let own = started + self.limits.request_timeout;
        let (at, is_job_deadline) = if self.deadline < own {
            (self.deadline, true)
        } else {
            (own, false)
        };
        TimeLimit {
            at: tokio::time::Instant::from_std(at),
            is_job_deadline,
            timeout: self.limits.request_timeout,
        }
    }

    /// A URL for the records: without query, fragment or credentials, secrets masked.
    fn record_url_of_text(&self, text: &str) -> String {
        match Url::parse(text) {
            Ok(url) => record_url(&url, self.secrets.as_ref()),
            Err(_) => {
                let cut = text.find(['?', '#']).unwrap_or(text.len());
                let mut shown: String = text[..cut].chars().take(2048).collect();
                if let Some(at) = shown.find('@') {
                    shown.replace_range(..=at, "");
                }
                self.secrets.mask(&shown)
            }
        }
    }

    /// The checks that need no network: method, URL, headers, body.
    fn prepare(&self, request: FetchRequest) -> Result<Prepared, Refusal> {
        let method = parse_method(&request.method)?;
        let url = Url::parse(&request.url).map_err(|e| {
            Refusal::new(
                HostErrorKind::Invalid,
                format!(
                    "invalid URL {}: {e}",
                    self.secrets.mask(&shorten(&request.url))
                ),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::new(
                HostErrorKind::Invalid,
                format!(
                    "fetch of a {}: URL is not supported: only http and https are",
                    url.scheme()
                ),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::new(
                HostErrorKind::Invalid,
                "a URL may not carry credentials (user:password@): send an authorization header instead",
            ));
        }
        let mut headers = Vec::with_capacity(request.headers.len());
        for (name, value) in request.headers {
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                return Err(Refusal::new(
                    HostErrorKind::Invalid,
                    format!("invalid header name {:?}", shorten(&name)),
                ));
            };
            if HeaderValue::from_bytes(value.as_bytes()).is_err() {
                return Err(Refusal::new(
                    HostErrorKind::Invalid,
                    format!(
                        "invalid value for header {header}: control characters are not allowed"
                    ),
                ));
            }
            if CONNECTION_HEADERS.contains(&header.as_str())
                || header.as_str().starts_with("proxy-") && header != "proxy-authorization"
            {
                continue;
            }
            headers.push((header, value.into_bytes()));
        }
        if let Some(body) = &request.body {
            if method == Method::GET || method == Method::HEAD {
                return Err(Refusal::new(
                    HostErrorKind::Invalid,
                    format!("a {method} request cannot have a body"),
                ));
            }
            if body.len() > self.limits.max_request_bytes {
                return Err(request_body_limit(
                    body.len(),
                    self.limits.max_request_bytes,
                ));
            }
        }
        Ok(Prepared {
            method,
            url,
            headers,
            body: request.body,
            redirect: request.redirect,
        })
    }
}

impl Drop for FetchSession {
    fn drop(&mut self) {
        self.close();
    }
}

fn aborted(fetch: u64) -> Refusal {
    Refusal::new(HostErrorKind::Aborted, format!("fetch {fetch} was aborted"))
}

fn request_body_limit(size: usize, limit: usize) -> Refusal {
    Refusal::new(
        HostErrorKind::Limit,
        format!(
            "the request body of {size} bytes is over the limit of {limit} bytes (setting [fetch] max_request_size)"
        ),
    )
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The first 200 characters of a text a script sent, for a message.
fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(200).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

fn parse_method(text: &str) -> Result<Method, Refusal> {
    let upper = text.to_ascii_uppercase();
    // WHATWG normalises these six; any other method is sent as the script wrote it.
    let normalised = match upper.as_str() {
        "DELETE" | "GET" | "HEAD" | "OPTIONS" | "POST" | "PUT" => upper.as_str(),
        _ => text,
    };
    if matches!(upper.as_str(), "CONNECT" | "TRACE" | "TRACK") {
        return Err(Refusal::new(
            HostErrorKind::Invalid,
            format!("the {upper} method is not allowed in fetch"),
        ));
    }
    Method::from_bytes(normalised.as_bytes()).map_err(|_| {
        Refusal::new(
            HostErrorKind::Invalid,
            format!("{:?} is not a valid HTTP method", shorten(text)),
        )
    })
}

fn record_url(url: &Url, secrets: &dyn EgressSecrets) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    secrets.mask(shown.as_str())
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Cancels the session's record of a fetch whose caller went away mid-request.
struct CallGuard<'a> {
    session: &'a FetchSession,
    call_id: u64,
    armed: bool,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.session.cancel(self.call_id);
        }
    }
}

/// Drops the body of a fetch whose `ReadBody` caller went away mid-read.
struct BodyGuard<'a> {
    session: &'a FetchSession,
    fetch: u64,
    armed: bool,
}

impl Drop for BodyGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.session.cancel(self.fetch);
        }
    }
}

/// A task handle that aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything a fetch needs on the fetch runtime.
struct HopTask {
    client: FetchClient,
    policy: Arc<NetPolicy>,
    secrets: Arc<dyn EgressSecrets>,
    limits: FetchLimits,
    slots: Arc<Semaphore>,
    time: TimeLimit,
}

impl HopTask {
    async fn run(self, prepared: Prepared) -> Outcome {
        let mut outcome = Outcome::refused(Refusal::new(HostErrorKind::Failed, ""));
        outcome.result = self.hops(prepared, &mut outcome).await;
        if let Err(refusal) = &mut outcome.result {
            refusal.message = self.secrets.mask(&refusal.message);
        }
        outcome
    }

    async fn hops(
        &self,
        prepared: Prepared,
        outcome: &mut Outcome,
    ) -> Result<(FetchResponse, Option<Box<BodyStream>>), Refusal> {
        let Prepared {
            mut method,
            mut url,
            mut headers,
            mut body,
            redirect,
        } = prepared;
        let first_target = format_target(&url);
        // A time already out is a timeout, whatever a pooled connection could still do
        // before the timer is looked at.
        if self.time.at <= tokio::time::Instant::now() {
            return Err(self.time.refusal(&first_target));
        }
        let _slot =
            match tokio::time::timeout_at(self.time.at, self.slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => {
                    return Err(Refusal::new(
                        HostErrorKind::Aborted,
                        "the fetch session is closed",
                    ));
                }
                Err(_) => return Err(self.time.refusal(&first_target)),
            };
        let mut first_hop = true;
        loop {
            outcome.record_url = Some(record_url(&url, self.secrets.as_ref()));
            let host = target_host(&url).ok_or_else(|| {
                Refusal::new(
                    HostErrorKind::Invalid,
                    format!(
                        "the URL {} has no host",
                        outcome.record_url.as_deref().unwrap_or("")
                    ),
                )
            })?;
            let port = url
                .port_or_known_default()
                .ok_or_else(|| Refusal::new(HostErrorKind::Invalid, "the URL has no port"))?;
            let target = format!("{host}:{port}");
            self.policy.check_target(&host, port).map_err(|refusal| {
                Refusal::new(
                    HostErrorKind::Denied,
                    self.policy.refusal_message(&host, port, &refusal),
                )
            })?;

            // Secrets are substituted per hop, for the hop's host; the URL only on the
            // first one (a redirect's URL is the server's, not the script's).
            let secret_host = match &host {
                TargetHost::Name(name) => name.clone(),
                TargetHost::Ip(ip) => ip.to_string(),
            };
            let send_url = if first_hop {
                match self.substitute(url.as_str().as_bytes(), &secret_host, port)? {
                    None => url.clone(),
                    Some(bytes) => {
                        let text = String::from_utf8(bytes).map_err(|_| {
                            Refusal::new(
                                HostErrorKind::Invalid,
                                "a secret substituted into the URL is not UTF-8",
                            )
                        })?;
                        let substituted = Url::parse(&text).map_err(|_| {
                            Refusal::new(
                                HostErrorKind::Invalid,
                                "the URL is not valid once its secrets are substituted",
                            )
                        })?;
                        if substituted.origin() != url.origin() {
                            return Err(Refusal::new(
                                HostErrorKind::Denied,
                                "a secret reference may not change the URL's scheme, host or port",
                            ));
                        }
                        substituted
                    }
                }
            } else {
                url.clone()
            };
            let mut header_map = HeaderMap::with_capacity(headers.len());
            for (name, value) in &headers {
                let value = self
                    .substitute(value, &secret_host, port)?
                    .unwrap_or_else(|| value.clone());
                let value = HeaderValue::from_bytes(&value).map_err(|_| {
                    Refusal::new(
                        HostErrorKind::Invalid,
                        format!("the value of header {name} is not valid once its secrets are substituted"),
                    )
                })?;
                header_map.append(name.clone(), value);
            }
            let send_body = match &body {
                None => None,
                Some(bytes) => {
                    let sent = self
                        .substitute(bytes, &secret_host, port)?
                        .unwrap_or_else(|| bytes.clone());
                    if sent.len() > self.limits.max_request_bytes {
                        return Err(request_body_limit(
                            sent.len(),
                            self.limits.max_request_bytes,
                        ));
                    }
                    Some(sent)
                }
            };

            let private = self.policy.private_allowed(&host, port);
            let client = self
                .client
                .client_for(&host, port, private)
                .map_err(|message| Refusal::new(HostErrorKind::Failed, message))?;
            let mut builder = client.request(method.clone(), send_url).headers(header_map);
            if let Some(sent) = send_body {
                outcome.bytes_out += sent.len() as u64;
                builder = builder.body(sent);
            }
            let response = match tokio::time::timeout_at(self.time.at, builder.send()).await {
                Err(_) => return Err(self.time.refusal(&target)),
                Ok(Err(error)) => return Err(self.request_error(error, &host, port, &target)),
                Ok(Ok(response)) => response,
            };
            let status = response.status();
            outcome.status = Some(status.as_u16());
            let location = response.headers().get(reqwest::header::LOCATION).cloned();
            let Some(location) = location.filter(|_| is_redirect(status)) else {
                return self.answer(response, url, outcome).await;
            };
            match redirect {
                RedirectMode::Manual => return self.answer(response, url, outcome).await,
                RedirectMode::Error => {
                    return Err(Refusal::new(
                        HostErrorKind::Failed,
                        format!(
                            "fetch to {target} was redirected ({status}), and the request's redirect mode is \"error\""
                        ),
                    ));
                }
                RedirectMode::Follow => {}
            }
            if outcome.redirects >= self.limits.max_redirects {
                return Err(Refusal::new(
                    HostErrorKind::Limit,
                    format!(
                        "fetch to {first_target} was redirected more than {} times (setting [fetch] max_redirects)",
                        self.limits.max_redirects
                    ),
                ));
            }
            let next = location
                .to_str()
                .ok()
                .and_then(|location| url.join(location).ok())
                .ok_or_else(|| {
                    Refusal::new(
                        HostErrorKind::Failed,
                        format!(
                            "fetch to {target} was redirected ({status}) to an invalid location"
                        ),
                    )
                })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(Refusal::new(
                    HostErrorKind::Failed,
                    format!(
                        "fetch to {target} was redirected to a {}: URL; only http and https are followed",
                        next.scheme()
                    ),
                ));
            }
            if !next.username().is_empty() || next.password().is_some() {
                return Err(Refusal::new(
                    HostErrorKind::Failed,
                    format!("fetch to {target} was redirected to a URL with credentials"),
                ));
            }
            // WHATWG: 301/302 turn a POST into a GET, 303 turns everything but GET/HEAD
            // into a GET; the body goes, with the headers that describe it.
            let code = status.as_u16();
            if ((code == 301 || code == 302) && method == Method::POST)
                || (code == 303 && method != Method::GET && method != Method::HEAD)
            {
                method = Method::GET;
                body = None;
                headers.retain(|(name, _)| !BODY_HEADERS.contains(&name.as_str()));
            }
            if next.origin() != url.origin() {
                headers.retain(|(name, _)| !CREDENTIAL_HEADERS.contains(&name.as_str()));
            }
            drop(response);
            url = next;
            outcome.redirects += 1;
            first_hop = false;
        }
    }

    fn substitute(&self, input: &[u8], host: &str, port: u16) -> Result<Option<Vec<u8>>, Refusal> {
        self.secrets
            .substitute(input, host, port)
            .map_err(|message| Refusal::new(HostErrorKind::Denied, message))
    }

    fn request_error(
        &self,
        error: reqwest::Error,
        host: &TargetHost,
        port: u16,
        target: &str,
    ) -> Refusal {
        let error = error.without_url();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        let mut chain = Vec::new();
        while let Some(current) = source {
            if let Some(refused) = current.downcast_ref::<AddressRefused>() {
                let refusal = TargetRefusal::Address(refused.address, refused.class);
                return Refusal::new(
                    HostErrorKind::Denied,
                    self.policy.refusal_message(host, port, &refusal),
                );
            }
            let text = current.to_string();
            if chain
                .last()
                .is_none_or(|last: &String| !last.contains(&text))
            {
                chain.push(text);
            }
            source = current.source();
        }
        let chain = chain.join(": ");
        if error.is_timeout() {
            Refusal::new(
                HostErrorKind::Timeout,
                format!(
                    "connecting to {target} timed out after {} (setting [fetch] connect_timeout)",
                    human_duration(self.client.settings().connect_timeout)
                ),
            )
        } else if error.is_connect() {
            Refusal::new(
                HostErrorKind::Failed,
                format!("cannot connect to {target}: {chain}"),
            )
        } else {
            Refusal::new(
                HostErrorKind::Failed,
                format!("fetch to {target} failed: {chain}"),
            )
        }
    }

    /// The head of `response` with the first chunk of its body.
    async fn answer(
        &self,
        response: reqwest::Response,
        url: Url,
        outcome: &mut Outcome,
    ) -> Result<(FetchResponse, Option<Box<BodyStream>>), Refusal> {
        let target = format_target(&url);
        let cap = self.limits.max_response_bytes;
        let length = response.content_length();
        if let Some(length) = length.filter(|length| *length > cap) {
            return Err(response_limit(&target, cap, Some(length)));
        }
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Box::new(BodyStream {
            response,
            pending: Vec::new(),
            received: 0,
            ended: false,
            cap,
            time: self.time.clone(),
            target,
        });
        let mode = match length {
            Some(length) if length <= BODY_CHUNK_BYTES as u64 => ReadMode::Fill,
            _ => ReadMode::Ready,
        };
        let read = body.read(mode).await;
        outcome.bytes_in = body.received;
        let (first, done) = read?;
        let head = FetchResponse {
            status: status.as_u16(),
            status_text: status.canonical_reason().unwrap_or("").to_owned(),
            headers,
            url: url.to_string(),
            redirected: outcome.redirects > 0,
            body: first,
            done,
        };
        Ok((head, if done { None } else { Some(body) }))
    }
}

fn format_target(url: &Url) -> String {
    match (target_host(url), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        _ => url.origin().ascii_serialization(),
    }
}

fn response_limit(target: &str, cap: u64, length: Option<u64>) -> Refusal {
    let size = match length {
        Some(length) => format!("its {length} bytes are"),
        None => "it is".to_owned(),
    };
    Refusal::new(
        HostErrorKind::Limit,
        format!(
            "the response body from {target} is too large: {size} over the limit of {cap} bytes (setting [fetch] max_response_size)"
        ),
    )
}

/// How long a body read waits for the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadMode {
    /// Only what has already arrived.
    Ready,
    /// At least one byte (or the end), then what has already arrived.
    AtLeastOne,
    /// A whole chunk or the end.
    Fill,
}

/// The unread rest of a response body, streamed from the network.
struct BodyStream {
    response: reqwest::Response,
    /// Received beyond the last chunk handed out.
    pending: Vec<u8>,
    /// Decoded bytes received so far.
    received: u64,
    ended: bool,
    cap: u64,
    time: TimeLimit,
    target: String,
}

impl BodyStream {
    /// The next chunk (at most [`BODY_CHUNK_BYTES`]) and whether the body ends with it.
    async fn read(&mut self, mode: ReadMode) -> Result<(Vec<u8>, bool), Refusal> {
        let take = self.pending.len().min(BODY_CHUNK_BYTES);
        let mut out: Vec<u8> = self.pending.drain(..take).collect();
        loop {
            if out.len() >= BODY_CHUNK_BYTES {
                return Ok((out, self.ended && self.pending.is_empty()));
            }
            if self.ended {
                return Ok((out, self.pending.is_empty()));
            }
            let wait = mode == ReadMode::Fill || (mode == ReadMode::AtLeastOne && out.is_empty());
            let next = if wait {
                match tokio::time::timeout_at(self.time.at, self.response.chunk()).await {
                    Ok(next) => next,
                    Err(_) => return Err(self.time.refusal(&self.target)),
                }
            } else {
                // `chunk` is cancel safe: a pending one has taken nothing.
                match tokio::time::timeout(Duration::ZERO, self.response.chunk()).await {
                    Ok(next) => next,
                    Err(_) => return Ok((out, false)),
                }
            };
            match next {
                Ok(Some(bytes)) => {
                    self.received += bytes.len() as u64;
                    if self.received > self.cap {
                        return Err(response_limit(&self.target, self.cap, None));
                    }
                    let room = BODY_CHUNK_BYTES - out.len();
                    if bytes.len() <= room {
                        out.extend_from_slice(&bytes);
                    } else {
                        out.extend_from_slice(&bytes[..room]);
                        self.pending.extend_from_slice(&bytes[room..]);
                    }
                }
                Ok(None) => self.ended = true,
                Err(error) => {
                    let message = if error.is_timeout() {
                        return Err(self.time.refusal(&self.target));
                    } else {
                        let error = error.without_url();
                        let mut text = error.to_string();
                        let mut source = std::error::Error::source(&error);
                        while let Some(current) = source {
                            text.push_str(": ");
                            text.push_str(&current.to_string());
                            source = current.source();
                        }
                        text
                    };
                    return Err(Refusal::new(
                        HostErrorKind::Failed,
                        format!(
                            "reading the response body from {} failed: {message}",
                            self.target
                        ),
                    ));
                }
            }
        }
    }
}
