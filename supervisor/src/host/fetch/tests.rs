//! The fetch engine against real HTTP servers on loopback, written here: a hand-written
//! HTTP/1.1 server (optionally behind TLS with a test CA) whose replies each test picks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobvisor_protocol::host::{
    BODY_CHUNK_BYTES, FetchRequest, FetchResponse, HostErrorKind, HostResult, RedirectMode,
    secret_ref,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// A request as the test server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A chunked body of `total` bytes of `x`.
    Chunked { total: usize },
    /// Never answers.
    Stall,
    /// Sends the head and part of a body, then stalls.
    StallBody,
    /// Waits, then answers 200 (counts how many wait at once).
    Slow(Duration),
}

fn ok(body: &str) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn redirect(status: u16, location: &str) -> Reply {
    Reply::Full {
        status,
        headers: vec![("location".into(), location.to_owned())],
        body: Vec::new(),
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    slow_now: Arc<AtomicUsize>,
    slow_max: Arc<AtomicUsize>,
    /// Connections accepted.
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_with(Arc::new(handler), None).await
    }

    async fn start_with(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let slow_now = Arc::new(AtomicUsize::new(0));
        let slow_max = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (seen2, now2, max2, accepted2) = (
            seen.clone(),
            slow_now.clone(),
            slow_max.clone(),
            accepted.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepted2.fetch_add(1, Ordering::SeqCst);
                let (handler, seen, now, max, tls) = (
                    handler.clone(),
                    seen2.clone(),
                    now2.clone(),
                    max2.clone(),
                    tls.clone(),
                );
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, handler, seen, now, max).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, handler, seen, now, max).await;
                            }
                        }
                    }
                });
            }
        });
        TestServer {
            addr,
            seen,
            slow_now,
            slow_max,
            accepted,
            task,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
) {
    let mut buffer = Vec::new();
    // Full replies keep the connection open for the next request (as servers do); the
    // others close it.
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        seen.lock().expect("seen").push(request.clone());
        match handler(&request) {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                let mut bytes = head.into_bytes();
                bytes.extend_from_slice(&body);
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            reply => {
                respond_and_close(stream, reply, now, max).await;
                return;
            }
        }
    }
}

/// Reads one request from `stream`; `buffer` keeps what was read past it.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, buffer: &mut Vec<u8>) -> Option<Seen> {
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_owned();
    let path = request_line.next().unwrap_or("").to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    buffer.drain(..head_end + 4);
    while buffer.len() < length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = buffer.drain(..length).collect();
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

async fn respond_and_close<S: AsyncWrite + Unpin>(
    mut stream: S,
    reply: Reply,
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
) {
    let result = match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&body);
            stream.write_all(&bytes).await
        }
        Reply::Chunked { total } => {
            let mut result = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .await;
            let mut left = total;
            while left > 0 && result.is_ok() {
                let size = left.min(64 * 1024);
                let mut chunk = format!("{size:x}\r\n").into_bytes();
                chunk.extend(std::iter::repeat_n(b'x', size));
                chunk.extend_from_slice(b"\r\n");
                result = stream.write_all(&chunk).await;
                left -= size;
            }
            if result.is_ok() {
                result = stream.write_all(b"0\r\n\r\n").await;
            }
            result
        }
        Reply::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
        Reply::StallBody => {
            let result = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nconnection: close\r\n\r\npartial")
                .await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            result
        }
        Reply::Slow(delay) => {
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            now.fetch_sub(1, Ordering::SeqCst);
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nslow")
                .await
        }
    };
    if result.is_ok() {
        let _ = stream.shutdown().await;
    }
}

fn client() -> FetchClient {
    FetchClient::new(FetchSettings::default()).expect("fetch client")
}

fn policy(allow_net: &[String], allow_private: &[String]) -> Arc<NetPolicy> {
    Arc::new(
        NetPolicy::parse(allow_net, allow_private)
            .expect("policy")
            .named("poller"),
    )
}

/// A session that may reach `localhost` at these ports (private addresses allowed).
fn local_session(ports: &[u16], limits: FetchLimits) -> FetchSession {
    let private: Vec<String> = ports
        .iter()
        .map(|port| format!("localhost:{port}"))
        .collect();
    session_with(
        policy(&[], &private),
        limits,
        Duration::from_secs(30),
        Arc::new(NoSecrets),
    )
}

fn session_with(
    policy: Arc<NetPolicy>,
    limits: FetchLimits,
    deadline_in: Duration,
    secrets: Arc<dyn EgressSecrets>,
) -> FetchSession {
    FetchSession::new(
        client(),
        policy,
        limits,
        Instant::now() + deadline_in,
        secrets,
    )
}

fn get(url: &str) -> FetchRequest {
    FetchRequest {
        method: "GET".into(),
        url: url.into(),
        headers: Vec::new(),
        body: None,
        redirect: RedirectMode::Follow,
    }
}

fn response(result: HostResult) -> FetchResponse {
    match result {
        HostResult::Response(response) => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn refused(result: HostResult) -> (HostErrorKind, String) {
    match result {
        HostResult::Refused { kind, message } => (kind, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The whole body: the first chunk, then `ReadBody` until done.
async fn read_all(
    session: &FetchSession,
    call: u64,
    head: &FetchResponse,
) -> Result<Vec<u8>, (HostErrorKind, String)> {
    let mut body = head.body.clone();
    let mut done = head.done;
    while !done {
        match session.read_body(call).await {
            HostResult::BodyChunk { data, done: last } => {
                assert!(
                    data.len() <= BODY_CHUNK_BYTES,
                    "a chunk of {} bytes",
                    data.len()
                );
                body.extend_from_slice(&data);
                done = last;
            }
            HostResult::Refused { kind, message } => return Err((kind, message)),
            other => panic!("expected a body chunk, got {other:?}"),
        }
    }
    Ok(body)
}

#[tokio::test]
async fn post_json_with_headers_both_ways() {
    let server = TestServer::start(|seen| Reply::Full {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "X-Reply".into(),
                seen.headers.get("x-test").cloned().unwrap_or_default(),
            ),
        ],
        body: seen.body.clone(),
    })
    .await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let url = format!("http://localhost:{}/items?token=abc#top", server.port());
    let request = FetchRequest {
        method: "post".into(),
        url: url.clone(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("x-test".into(), "héllo".into()),
            ("host".into(), "evil.example".into()),
        ],
        body: Some(br#"{"a":1}"#.to_vec()),
        redirect: RedirectMode::Follow,
    };
    let head = response(session.fetch(1, request).await);
    assert_eq!(head.status, 201);
    assert_eq!(head.status_text, "Created");
    assert!(!head.redirected);
    assert_eq!(head.url, url);
    assert!(
        head.headers
            .contains(&("x-reply".to_owned(), "héllo".to_owned())),
        "{:?}",
        head.headers
    );
    assert_eq!(
        read_all(&session, 1, &head).await.expect("body"),
        br#"{"a":1}"#
    );
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/items?token=abc");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert_eq!(
        seen[0].headers["host"],
        format!("localhost:{}", server.port())
    );
    assert!(seen[0].headers["user-agent"].starts_with("jobvisor/"));
    let records = session.records();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.method, "POST");
    assert_eq!(
        record.url,
        format!("http://localhost:{}/items", server.port())
    );
    assert_eq!(
        (record.status, record.bytes_out, record.bytes_in),
        (Some(201), 7, 7)
    );
    assert_eq!((record.redirects, record.error.as_deref()), (0, None));
}

#[tokio::test]
async fn a_404_is_a_response() {
    let server = TestServer::start(|_| Reply::Full {
        status: 404,
        headers: Vec::new(),
        body: b"no such thing".to_vec(),
    })
    .await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let head = response(
        session
            .fetch(
                7,
                get(&format!("http://localhost:{}/missing", server.port())),
            )
            .await,
    );
    assert_eq!((head.status, head.status_text.as_str()), (404, "Not Found"));
    assert_eq!(
        read_all(&session, 7, &head).await.expect("body"),
        b"no such thing"
    );
    assert_eq!(session.records()[0].status, Some(404));
}

#[tokio::test]
async fn redirects_are_followed_and_a_303_becomes_a_get() {
    let server = TestServer::start(|seen| match seen.path.as_str() {
        "/form" => redirect(303, "/moved"),
        "/moved" => redirect(307, "/final"),
        _ => ok(&format!("{} {}", seen.method, seen.body.len())),
    })
    .await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let request = FetchRequest {
        method: "PUT".into(),
        url: format!("http://localhost:{}/form", server.port()),
        headers: vec![("content-type".into(), "text/plain".into())],
        body: Some(b"payload".to_vec()),
        redirect: RedirectMode::Follow,
    };
    let head = response(session.fetch(1, request).await);
    assert_eq!(head.status, 200);
    assert!(head.redirected);
    assert_eq!(
        head.url,
        format!("http://localhost:{}/final", server.port())
    );
    assert_eq!(read_all(&session, 1, &head).await.expect("body"), b"GET 0");
    let seen = server.seen();
    assert_eq!(
        seen.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(),
        ["PUT", "GET", "GET"]
    );
    assert!(!seen[1].headers.contains_key("content-type"));
    assert_eq!(session.records()[0].redirects, 2);
}

#[tokio::test]
async fn a_302_post_becomes_a_get_and_a_307_keeps_the_body() {
    let server = TestServer::start(|seen| match seen.path.as_str() {
        "/302" => redirect(302, "/echo"),
        "/307" => redirect(307, "/echo"),
        _ => ok(&format!(
            "{} {}",
            seen.method,
            String::from_utf8_lossy(&seen.body)
        )),
    })
    .await;
    let session = local_session(&[server.port()], FetchLimits::default());
    for (call, path, want) in [(1, "/302", "GET "), (2, "/307", "POST data")] {
        let request = FetchRequest {
            method: "POST".into(),
            url: format!("http://localhost:{}{path}", server.port()),
            headers: Vec::new(),
            body: Some(b"data".to_vec()),
            redirect: RedirectMode::Follow,
        };
        let head = response(session.fetch(call, request).await);
        assert_eq!(
            read_all(&session, call, &head).await.expect("body"),
            want.as_bytes(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn manual_and_error_redirect_modes() {
    let server = TestServer::start(|_| redirect(302, "/elsewhere")).await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let url = format!("http://localhost:{}/start", server.port());
    let mut request = get(&url);
    request.redirect = RedirectMode::Manual;
    let head = response(session.fetch(1, request).await);
    assert_eq!(head.status, 302);
    assert!(!head.redirected);
    assert!(
        head.headers
            .contains(&("location".to_owned(), "/elsewhere".to_owned()))
    );
    let mut request = get(&url);
    request.redirect = RedirectMode::Error;
    let (kind, message) = refused(session.fetch(2, request).await);
    assert_eq!(kind, HostErrorKind::Failed);
    assert!(message.contains("redirect mode is \"error\""), "{message}");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn more_than_five_redirects_is_a_limit() {
    let server = TestServer::start(|seen| {
        let n: u32 = seen.path.trim_start_matches("/hop/").parse().unwrap_or(0);
        redirect(302, &format!("/hop/{}", n + 1))
    })
    .await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let (kind, message) = refused(
        session
            .fetch(1, get(&format!("http://localhost:{}/hop/0", server.port())))
            .await,
    );
    assert_eq!(kind, HostErrorKind::Limit);
    assert!(
        message.contains("more than 5 times (setting [fetch] max_redirects)"),
        "{message}"
    );
    assert_eq!(server.seen().len(), 6);
    let record = &session.records()[0];
    assert_eq!(record.redirects, 5);
    assert_eq!(record.error.as_deref(), Some(message.as_str()));
}

#[tokio::test]
async fn credentials_are_dropped_when_a_redirect_leaves_the_origin() {
    let other = TestServer::start(|_| ok("other")).await;
    let location = format!("http://localhost:{}/landing", other.port());
    let server = TestServer::start(move |seen| match seen.path.as_str() {
        "/same" => redirect(302, "/cross"),
        _ => redirect(302, &location),
    })
    .await;
    let session = local_session(&[server.port(), other.port()], FetchLimits::default());
    let mut request = get(&format!("http://localhost:{}/same", server.port()));
    request.headers = vec![
        ("authorization".into(), "Bearer t0ken".into()),
        ("cookie".into(), "id=1".into()),
        ("x-keep".into(), "yes".into()),
    ];
    let head = response(session.fetch(1, request).await);
    assert_eq!(head.status, 200);
    let first = server.seen();
    assert_eq!(first.len(), 2);
    assert_eq!(
        first[1].headers["authorization"], "Bearer t0ken",
        "kept on the same origin"
    );
    let landed = &other.seen()[0];
    assert!(!landed.headers.contains_key("authorization"));
    assert!(!landed.headers.contains_key("cookie"));
    assert_eq!(landed.headers["x-keep"], "yes");
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let server = TestServer::start(|seen| match seen.path.as_str() {
        "/sized" => ok(&"y".repeat(5000)),
        "/chunked-small" => Reply::Chunked { total: 3000 },
        _ => Reply::Chunked { total: 600 * 1024 },
    })
    .await;
    let base = format!("http://localhost:{}", server.port());
    let limits = FetchLimits {
        max_response_bytes: 300 * 1024,
        ..FetchLimits::default()
    };
    let session = local_session(&[server.port()], limits);
    // A small body within the cap.
    let head = response(
        session
            .fetch(1, get(&format!("{base}/chunked-small")))
            .await,
    );
    assert_eq!(
        read_all(&session, 1, &head).await.expect("body").len(),
        3000
    );
    // Content-Length over the cap: the fetch itself.
    let session = local_session(
        &[server.port()],
        FetchLimits {
            max_response_bytes: 1000,
            ..FetchLimits::default()
        },
    );
    let (kind, message) = refused(session.fetch(2, get(&format!("{base}/sized"))).await);
    assert_eq!(kind, HostErrorKind::Limit);
    assert!(
        message.contains(
            "5000 bytes are over the limit of 1000 bytes (setting [fetch] max_response_size)"
        ),
        "{message}"
    );
    // Chunked: the read that crosses the cap.
    let session = local_session(&[server.port()], limits_300k());
    let head = response(session.fetch(3, get(&format!("{base}/chunked"))).await);
    let (kind, message) = read_all(&session, 3, &head)
        .await
        .expect_err("over the cap");
    assert_eq!(kind, HostErrorKind::Limit, "{message}");
    let record = &session.records()[0];
    assert!(
        record.bytes_in > 300 * 1024 && record.bytes_in <= 600 * 1024,
        "{record:?}"
    );
    assert!(
        record
            .error
            .as_deref()
            .is_some_and(|e| e.contains("too large")),
        "{record:?}"
    );
    assert!(matches!(
        session.read_body(3).await,
        HostResult::Refused {
            kind: HostErrorKind::Invalid,
            ..
        }
    ));
}

fn limits_300k() -> FetchLimits {
    FetchLimits {
        max_response_bytes: 300 * 1024,
        ..FetchLimits::default()
    }
}

#[tokio::test]
async fn a_large_body_streams_in_chunks() {
    let server = TestServer::start(|_| Reply::Chunked {
        total: 1024 * 1024 + 17,
    })
    .await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let head = response(
        session
            .fetch(1, get(&format!("http://localhost:{}/big", server.port())))
            .await,
    );
    assert!(!head.done);
    let body = read_all(&session, 1, &head).await.expect("body");
    assert_eq!(body.len(), 1024 * 1024 + 17);
    assert!(body.iter().all(|b| *b == b'x'));
    assert_eq!(session.records()[0].bytes_in, 1024 * 1024 + 17);
}

#[tokio::test]
async fn a_stalled_server_times_out_at_the_deadline() {
    let server = TestServer::start(|seen| {
        if seen.path == "/body" {
            Reply::StallBody
        } else {
            Reply::Stall
        }
    })
    .await;
    let private = vec![format!("localhost:{}", server.port())];
    let session = session_with(
        policy(&[], &private),
        FetchLimits::default(),
        Duration::from_millis(300),
        Arc::new(NoSecrets),
    );
    let started = Instant::now();
    let (kind, message) = refused(
        session
            .fetch(1, get(&format!("http://localhost:{}/head", server.port())))
            .await,
    );
    assert_eq!(kind, HostErrorKind::Timeout);
    assert!(
        message.contains("timed out at the job's deadline"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The request's own timeout, in the body.
    let limits = FetchLimits {
        request_timeout: Duration::from_millis(300),
        ..FetchLimits::default()
    };
    let session = session_with(
        policy(&[], &private),
        limits,
        Duration::from_secs(30),
        Arc::new(NoSecrets),
    );
    let started = Instant::now();
    let head = response(
        session
            .fetch(2, get(&format!("http://localhost:{}/body", server.port())))
            .await,
    );
    let (kind, message) = read_all(&session, 2, &head)
        .await
        .expect_err("stalled body");
    assert_eq!(kind, HostErrorKind::Timeout);
    assert!(
        message.contains("timed out after 300ms (setting [fetch] timeout)"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_host_not_in_allow_net_is_refused() {
    let session = session_with(
        policy(&["api.github.com".into()], &[]),
        FetchLimits::default(),
        Duration::from_secs(5),
        Arc::new(NoSecrets),
    );
    let (kind, message) = refused(
        session
            .fetch(1, get("https://api.example.com/v1/items?key=secret"))
            .await,
    );
    assert_eq!(kind, HostErrorKind::Denied);
    assert_eq!(
        message,
        "fetch to api.example.com:443 refused: the host is not in the script's allow_net \
         (add \"api.example.com\" to allow_net of script `poller`)"
    );
    let record = &session.records()[0];
    assert_eq!(record.url, "https://api.example.com/v1/items");
    assert_eq!(
        (record.status, record.error.as_deref()),
        (None, Some(message.as_str()))
    );
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_needs_allow_private() {
    let server = TestServer::start(|_| ok("local")).await;
    let port = server.port();
    let url = format!("http://localhost:{port}/");
    let denied = session_with(
        policy(&[format!("localhost:{port}")], &[]),
        FetchLimits::default(),
        Duration::from_secs(5),
        Arc::new(NoSecrets),
    );
    let (kind, message) = refused(denied.fetch(1, get(&url)).await);
    assert_eq!(kind, HostErrorKind::Denied);
    assert!(message.contains("localhost resolves to"), "{message}");
    assert!(message.contains("a loopback address"), "{message}");
    assert!(
        message.contains(&format!(
            "add \"localhost:{port}\" to allow_private of script `poller`"
        )),
        "{message}"
    );
    assert!(server.seen().is_empty());

    let allowed = local_session(&[port], FetchLimits::default());
    let head = response(allowed.fetch(1, get(&url)).await);
    assert_eq!(read_all(&allowed, 1, &head).await.expect("body"), b"local");
    // The grant is for that port only.
    let other = format!("http://localhost:{}/", port.wrapping_add(1).max(1));
    let (kind, _) = refused(allowed.fetch(2, get(&other)).await);
    assert_eq!(kind, HostErrorKind::Denied);
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let target = TestServer::start(|_| ok("internal")).await;
    let (by_ip, by_name) = (
        format!("http://127.0.0.1:{}/admin", target.port()),
        format!("http://localhost:{}/admin", target.port()),
    );
    let server = TestServer::start(move |seen| match seen.path.as_str() {
        "/to-ip" => redirect(302, &by_ip),
        _ => redirect(302, &by_name),
    })
    .await;
    let policy = policy(
        &[
            format!("127.0.0.1:{}", target.port()),
            format!("localhost:{}", target.port()),
        ],
        &[format!("localhost:{}", server.port())],
    );
    let session = session_with(
        policy,
        FetchLimits::default(),
        Duration::from_secs(5),
        Arc::new(NoSecrets),
    );
    for (call, path, want) in [
        (1, "/to-ip", "127.0.0.1 is a loopback address"),
        (2, "/to-name", "localhost resolves to"),
    ] {
        let (kind, message) = refused(
            session
                .fetch(
                    call,
                    get(&format!("http://localhost:{}{path}", server.port())),
                )
                .await,
        );
        assert_eq!(kind, HostErrorKind::Denied, "{message}");
        assert!(message.contains(want), "{message}");
        let record = &session.records()[call as usize - 1];
        assert_eq!((record.redirects, record.status), (1, None), "{record:?}");
        assert!(
            record.url.contains(&target.port().to_string()),
            "the refused hop: {record:?}"
        );
    }
    assert!(target.seen().is_empty());
}

#[tokio::test]
async fn ip_literals_in_refused_ranges_are_refused() {
    let allow: Vec<String> = [
        "127.0.0.1:8080",
        "[::1]:8080",
        "[::ffff:127.0.0.1]:8080",
        "169.254.169.254",
        "[::ffff:a9fe:a9fe]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let session = session_with(
        policy(&allow, &[]),
        FetchLimits::default(),
        Duration::from_secs(5),
        Arc::new(NoSecrets),
    );
    for (call, url, want) in [
        (
            1,
            "http://127.0.0.1:8080/",
            "127.0.0.1 is a loopback address",
        ),
        (2, "http://[::1]:8080/", "[::1] is a loopback address"),
        (
            3,
            "http://[::ffff:127.0.0.1]:8080/",
            "is a loopback address",
        ),
        (
            4,
            "http://169.254.169.254/latest/meta-data",
            "link-local (cloud metadata)",
        ),
        (
            5,
            "http://[::ffff:169.254.169.254]/",
            "link-local (cloud metadata)",
        ),
    ] {
        let (kind, message) = refused(session.fetch(call, get(url)).await);
        assert_eq!(kind, HostErrorKind::Denied, "{url}: {message}");
        assert!(message.contains(want), "{url}: {message}");
        assert!(
            message.contains("allow_private of script `poller`"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn bad_requests_are_invalid_and_never_panic() {
    let session = session_with(
        policy(&["example.com".into()], &[]),
        FetchLimits::default(),
        Duration::from_secs(5),
        Arc::new(NoSecrets),
    );
    let mut with_header = get("https://example.com/");
    with_header.headers = vec![("bad header".into(), "x".into())];
    let mut bad_value = get("https://example.com/");
    bad_value.headers = vec![("x-a".into(), "line\r\nbreak".into())];
    let mut bad_method = get("https://example.com/");
    bad_method.method = "G ET".into();
    let mut connect = get("https://example.com/");
    connect.method = "CONNECT".into();
    let mut get_body = get("https://example.com/");
    get_body.body = Some(b"x".to_vec());
    for (call, request, want) in [
        (1, get("not a url"), "invalid URL"),
        (2, get("ftp://example.com/file"), "only http and https"),
        (3, get("file:///etc/passwd"), "only http and https"),
        (4, get("https://user:pw@example.com/"), "credentials"),
        (5, with_header, "invalid header name"),
        (6, bad_value, "invalid value for header x-a"),
        (7, bad_method, "not a valid HTTP method"),
        (8, connect, "CONNECT method is not allowed"),
        (9, get_body, "GET request cannot have a body"),
        (10, get("http://[::1/"), "invalid URL"),
    ] {
        let (kind, message) = refused(session.fetch(call, request).await);
        assert_eq!(kind, HostErrorKind::Invalid, "{message}");
        assert!(message.contains(want), "{want}: {message}");
    }
    let mut big = FetchRequest {
        method: "POST".into(),
        ..get("https://example.com/")
    };
    big.body = Some(vec![0; 1024 * 1024 + 1]);
    let (kind, message) = refused(session.fetch(11, big).await);
    assert_eq!(kind, HostErrorKind::Limit);
    assert!(
        message.contains("setting [fetch] max_request_size"),
        "{message}"
    );
    assert_eq!(session.records().len(), 11);
}

#[tokio::test]
async fn requests_per_attempt_are_limited() {
    let server = TestServer::start(|_| ok("ok")).await;
    let limits = FetchLimits {
        max_requests: 2,
        ..FetchLimits::default()
    };
    let session = local_session(&[server.port()], limits);
    let url = format!("http://localhost:{}/", server.port());
    for call in 1..=2 {
        response(session.fetch(call, get(&url)).await);
    }
    for call in 3..=5 {
        let (kind, message) = refused(session.fetch(call, get(&url)).await);
        assert_eq!(kind, HostErrorKind::Limit);
        assert!(
            message.contains("may make 2 (setting [fetch] max_requests)"),
            "{message}"
        );
    }
    assert_eq!(
        session.records().len(),
        3,
        "the first refusal is recorded, not the rest"
    );
}

#[tokio::test]
async fn cancel_aborts_an_in_flight_fetch() {
    let server = TestServer::start(|_| Reply::Stall).await;
    let session = Arc::new(local_session(&[server.port()], FetchLimits::default()));
    let url = format!("http://localhost:{}/", server.port());
    let fetching = tokio::spawn({
        let session = session.clone();
        async move { session.fetch(9, get(&url)).await }
    });
    while server.seen().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(session.cancel(9), HostResult::Done);
    let answer = tokio::time::timeout(Duration::from_secs(2), fetching)
        .await
        .expect("answered")
        .expect("joined");
    let (kind, _) = refused(answer);
    assert_eq!(kind, HostErrorKind::Aborted);
    assert!(
        session.records()[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("aborted"))
    );
    // Cancelling what is not there is harmless, and close refuses later fetches.
    assert_eq!(session.cancel(12345), HostResult::Done);
    session.close();
    let (kind, _) = refused(session.fetch(10, get("http://localhost:1/")).await);
    assert_eq!(kind, HostErrorKind::Aborted);
}

#[tokio::test]
async fn fifty_concurrent_fetches_share_the_in_flight_slots() {
    let server = TestServer::start(|_| Reply::Slow(Duration::from_millis(40))).await;
    let session = Arc::new(local_session(&[server.port()], FetchLimits::default()));
    let url = format!("http://localhost:{}/", server.port());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for call in 0..50 {
        let (session, url) = (session.clone(), url.clone());
        tasks.spawn(async move {
            let head = response(session.fetch(call, get(&url)).await);
            read_all(&session, call, &head).await.expect("body")
        });
    }
    let mut bodies = 0;
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.expect("task"), b"slow");
        bodies += 1;
    }
    assert_eq!(bodies, 50);
    let most = server.slow_max.load(Ordering::SeqCst);
    assert!((2..=8).contains(&most), "at most {most} at once");
    assert_eq!(server.slow_now.load(Ordering::SeqCst), 0);
    assert_eq!(session.records().len(), 50);
    assert!(session.records().iter().all(|r| r.status == Some(200)));
    eprintln!(
        "50 fetches (40 ms each, 8 at a time) in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn https_with_an_extra_ca() {
    let ca = test_ca(&[b"http/1.1"]);
    let ca_file = ca.ca_file.clone();
    let dir = ca.ca_file.parent().expect("dir").to_owned();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.acceptor_config.clone()));
    let server = TestServer::start_with(Arc::new(|_: &Seen| ok("over tls")), Some(acceptor)).await;
    let url = format!("https://localhost:{}/secure", server.port());

    let trusting = FetchClient::new(FetchSettings {
        extra_ca_file: Some(ca_file.clone()),
        ..FetchSettings::default()
    })
    .expect("client with the CA");
    let private = vec![format!("localhost:{}", server.port())];
    let session = FetchSession::new(
        trusting,
        policy(&[], &private),
        FetchLimits::default(),
        Instant::now() + Duration::from_secs(10),
        Arc::new(NoSecrets),
    );
    let head = response(session.fetch(1, get(&url)).await);
    assert_eq!(
        read_all(&session, 1, &head).await.expect("body"),
        b"over tls"
    );

    // Without the CA, the certificate is not trusted.
    let session = session_with(
        policy(&[], &private),
        FetchLimits::default(),
        Duration::from_secs(10),
        Arc::new(NoSecrets),
    );
    let (kind, message) = refused(session.fetch(1, get(&url)).await);
    assert_eq!(kind, HostErrorKind::Failed);
    assert!(message.to_lowercase().contains("certificate"), "{message}");

    // A CA file without a certificate is a setup error that names the file.
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "nothing here\n").expect("write");
    let error = FetchClient::new(FetchSettings {
        extra_ca_file: Some(empty.clone()),
        ..FetchSettings::default()
    })
    .expect_err("no certificate");
    assert!(error.to_string().contains("empty.pem"), "{error}");
}

/// One secret, bound to one host.
struct TestSecrets {
    value: &'static str,
    host: String,
}

impl EgressSecrets for TestSecrets {
    fn substitute(&self, input: &[u8], host: &str, _port: u16) -> Result<Option<Vec<u8>>, String> {
        let reference = secret_ref("TOKEN");
        let text = String::from_utf8_lossy(input);
        if !text.contains(&reference) {
            return Ok(None);
        }
        if host != self.host {
            return Err(format!("secret TOKEN is not bound to {host}"));
        }
        Ok(Some(text.replace(&reference, self.value).into_bytes()))
    }

    fn mask(&self, text: &str) -> String {
        text.replace(self.value, "[redacted]")
    }
}

#[tokio::test]
async fn secret_references_are_substituted_at_egress_for_bound_hosts() {
    let server = TestServer::start(|seen| ok(&seen.path)).await;
    let port = server.port();
    let secrets: Arc<dyn EgressSecrets> = Arc::new(TestSecrets {
        value: "s3cr3t-value",
        host: "localhost".into(),
    });
    let private = vec![format!("localhost:{port}"), format!("127.0.0.1:{port}")];
    let session = session_with(
        policy(&[], &private),
        FetchLimits::default(),
        Duration::from_secs(10),
        secrets,
    );
    let reference = secret_ref("TOKEN");
    let request = FetchRequest {
        method: "POST".into(),
        url: format!("http://localhost:{port}/hook/{reference}?sig={reference}"),
        headers: vec![("authorization".into(), format!("Bearer {reference}"))],
        body: Some(format!(r#"{{"token":"{reference}"}}"#).into_bytes()),
        redirect: RedirectMode::Follow,
    };
    let head = response(session.fetch(1, request.clone()).await);
    assert!(
        !head.url.contains("s3cr3t"),
        "the script sees its reference: {}",
        head.url
    );
    let seen = &server.seen()[0];
    assert_eq!(seen.path, "/hook/s3cr3t-value?sig=s3cr3t-value");
    assert_eq!(seen.headers["authorization"], "Bearer s3cr3t-value");
    assert_eq!(seen.body, br#"{"token":"s3cr3t-value"}"#);
    let record = &session.records()[0];
    assert!(!record.url.contains("s3cr3t"), "{}", record.url);
    assert_eq!(record.bytes_out, r#"{"token":"s3cr3t-value"}"#.len() as u64);

    // Towards a host the secret is not bound to: refused, nothing sent.
    let mut elsewhere = request;
    elsewhere.url = format!("http://127.0.0.1:{port}/hook");
    let (kind, message) = refused(session.fetch(2, elsewhere.clone()).await);
    assert_eq!(
        (kind, message.as_str()),
        (
            HostErrorKind::Denied,
            "secret TOKEN is not bound to 127.0.0.1"
        )
    );
    assert_eq!(server.seen().len(), 1);

    // Without secrets, a reference is refused.
    let session = session_with(
        policy(&[], &private),
        FetchLimits::default(),
        Duration::from_secs(10),
        Arc::new(NoSecrets),
    );
    let (kind, message) = refused(session.fetch(3, elsewhere).await);
    assert_eq!(kind, HostErrorKind::Denied);
    assert!(message.contains("no secrets are granted"), "{message}");
}

#[tokio::test]
async fn dropping_the_caller_aborts_the_request() {
    let server = TestServer::start(|_| Reply::Stall).await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let url = format!("http://localhost:{}/", server.port());
    let answer =
        tokio::time::timeout(Duration::from_millis(200), session.fetch(4, get(&url))).await;
    assert!(answer.is_err(), "still stalled");
    let record = &session.records()[0];
    assert!(
        record
            .error
            .as_deref()
            .is_some_and(|e| e.contains("aborted")),
        "{record:?}"
    );
    // The id is free again.
    let (kind, _) = refused(session.fetch(4, get("ftp://x/")).await);
    assert_eq!(kind, HostErrorKind::Invalid);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test]
async fn compressed_bodies_are_decoded_and_counted_decoded() {
    let small = gzip(b"hello, compressed");
    let bomb = gzip(&vec![0u8; 4 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024, "the bomb is small: {}", bomb.len());
    let server = TestServer::start(move |seen| Reply::Full {
        status: 200,
        headers: vec![("content-encoding".into(), "gzip".into())],
        body: if seen.path == "/bomb" {
            bomb.clone()
        } else {
            small.clone()
        },
    })
    .await;
    let limits = FetchLimits {
        max_response_bytes: 1024 * 1024,
        ..FetchLimits::default()
    };
    let session = local_session(&[server.port()], limits);
    let base = format!("http://localhost:{}", server.port());
    let head = response(session.fetch(1, get(&format!("{base}/small"))).await);
    assert_eq!(
        read_all(&session, 1, &head).await.expect("body"),
        b"hello, compressed"
    );
    assert!(server.seen()[0].headers["accept-encoding"].contains("gzip"));
    let outcome = match session.fetch(2, get(&format!("{base}/bomb"))).await {
        HostResult::Response(head) => read_all(&session, 2, &head).await,
        HostResult::Refused { kind, message } => Err((kind, message)),
        other => panic!("unexpected {other:?}"),
    };
    let (kind, message) = outcome.expect_err("the bomb is cut");
    assert_eq!(kind, HostErrorKind::Limit, "{message}");
    assert!(
        message.contains("over the limit of 1048576 bytes"),
        "{message}"
    );
    let record = &session.records()[1];
    assert!(
        record.bytes_in > 1024 * 1024 && record.bytes_in < 2 * 1024 * 1024,
        "{record:?}"
    );
}

#[tokio::test]
async fn connections_are_kept_alive_between_fetches() {
    let server = TestServer::start(|_| ok("again")).await;
    let session = local_session(&[server.port()], FetchLimits::default());
    let url = format!("http://localhost:{}/", server.port());
    for call in 1..=3 {
        let head = response(session.fetch(call, get(&url)).await);
        assert_eq!(
            read_all(&session, call, &head).await.expect("body"),
            b"again"
        );
    }
    assert_eq!(server.seen().len(), 3);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

/// A CA, a certificate for `localhost` signed by it, and the CA's PEM in a file.
struct TestCa {
    _dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
    acceptor_config: rustls::ServerConfig,
}

fn test_ca(alpn: &[&[u8]]) -> TestCa {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jobvisor test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write ca");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("server config");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TestCa {
        _dir: dir,
        ca_file,
        acceptor_config: config,
    }
}

#[tokio::test]
async fn http2_is_negotiated_over_tls() {
    let ca = test_ca(&[b"h2"]);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.acceptor_config.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(tls) = acceptor.accept(tcp).await else {
            return;
        };
        let Ok(mut connection) = h2::server::handshake(tls).await else {
            return;
        };
        while let Some(Ok((request, mut respond))) = connection.accept().await {
            let answer = http::Response::builder()
                .status(200)
                .header("x-version", format!("{:?}", request.version()))
                .body(())
                .expect("response");
            let Ok(mut stream) = respond.send_response(answer, false) else {
                return;
            };
            let _ = stream.send_data(bytes::Bytes::from_static(b"over h2"), true);
        }
    });
    let client = FetchClient::new(FetchSettings {
        extra_ca_file: Some(ca.ca_file.clone()),
        ..FetchSettings::default()
    })
    .expect("client");
    let session = FetchSession::new(
        client,
        policy(&[], &[format!("localhost:{port}")]),
        FetchLimits::default(),
        Instant::now() + Duration::from_secs(10),
        Arc::new(NoSecrets),
    );
    let head = response(
        session
            .fetch(1, get(&format!("https://localhost:{port}/h2")))
            .await,
    );
    assert_eq!(head.status, 200);
    assert!(
        head.headers
            .contains(&("x-version".to_owned(), "HTTP/2.0".to_owned())),
        "{:?}",
        head.headers
    );
    assert_eq!(
        read_all(&session, 1, &head).await.expect("body"),
        b"over h2"
    );
    server.abort();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Not a check: the cost of a fetch through a session against the same request made with
/// the client crate directly, both over a kept-alive loopback connection. Run with
/// `cargo test -p jobvisor-supervisor --release --lib fetch_overhead -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn fetch_overhead_against_a_local_server() {
    let server = TestServer::start(|_| ok(r#"{"ok":true,"items":[1,2,3]}"#)).await;
    let url = format!("http://localhost:{}/bench", server.port());
    let rounds = 2000;
    let limits = FetchLimits {
        max_requests: u32::MAX,
        ..FetchLimits::default()
    };
    let session = local_session(&[server.port()], limits);
    // The crate is built without a default TLS provider: hand it one, as the client does.
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let direct = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()
        .expect("direct client");
    for call in 0..100 {
        response(session.fetch(call, get(&url)).await);
        direct
            .get(&url)
            .send()
            .await
            .expect("direct")
            .bytes()
            .await
            .expect("body");
    }
    let mut through = Vec::with_capacity(rounds);
    let mut plain = Vec::with_capacity(rounds);
    for call in 0..rounds as u64 {
        let started = Instant::now();
        let head = response(session.fetch(1000 + call, get(&url)).await);
        assert!(head.done);
        through.push(started.elapsed());
        let started = Instant::now();
        direct
            .get(&url)
            .send()
            .await
            .expect("direct")
            .bytes()
            .await
            .expect("body");
        plain.push(started.elapsed());
    }
    through.sort();
    plain.sort();
    eprintln!(
        "fetch through a session: p50 {:?} p99 {:?}; reqwest directly: p50 {:?} p99 {:?} ({rounds} GETs each, loopback, kept alive)",
        percentile(&through, 0.5),
        percentile(&through, 0.99),
        percentile(&plain, 0.5),
        percentile(&plain, 0.99),
    );
}

#[tokio::test]
async fn the_system_store_can_be_the_roots() {
    let system = FetchClient::new(FetchSettings {
        roots: TrustRoots::System,
        ..FetchSettings::default()
    });
    // Every machine these tests run on has a CA store; a bare container would say so.
    match system {
        Ok(_) => {}
        Err(FetchSetupError::NoSystemRoots { .. }) => {}
        Err(other) => panic!("unexpected {other}"),
    }
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn on_any_policy_entry(net in ".{0,40}", private in ".{0,40}") {
            let _ = NetPolicy::parse(&[net.as_str()], &[]);
            let _ = NetPolicy::parse(&[], &[private.as_str()]);
        }

        #[test]
        fn on_any_request(
            method in "[A-Za-z \\-]{0,8}",
            url in prop_oneof![
                ".{0,60}",
                "(http|https|ftp|file)://[a-z0-9.\\[\\]:@%-]{0,30}/[ -~]{0,20}",
            ],
            headers in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..4),
            body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        ) {
            // Nothing is allowed, so no request leaves the host whatever the URL.
            let runtime = runtime();
            let session = session_with(
                Arc::new(NetPolicy::default()),
                FetchLimits::default(),
                Duration::from_secs(5),
                Arc::new(NoSecrets),
            );
            let request = FetchRequest { method, url, headers, body, redirect: RedirectMode::Follow };
            let answer = runtime.block_on(session.fetch(1, request));
            let is_refused = matches!(answer, HostResult::Refused { .. });
            prop_assert!(is_refused, "{:?}", answer);
            prop_assert_eq!(session.records().len(), 1);
        }
    }
}

/// Records the thread each substitution runs on.
#[derive(Default)]
struct ThreadSpy {
    threads: Mutex<Vec<String>>,
}

impl EgressSecrets for ThreadSpy {
    fn substitute(
        &self,
        _input: &[u8],
        _host: &str,
        _port: u16,
    ) -> Result<Option<Vec<u8>>, String> {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        self.threads.lock().expect("threads").push(name);
        Ok(None)
    }

    fn mask(&self, text: &str) -> String {
        text.to_owned()
    }
}

#[tokio::test]
async fn requests_run_on_the_fetch_runtime_not_the_callers() {
    let server = TestServer::start(|_| ok("ok")).await;
    let spy = Arc::new(ThreadSpy::default());
    let private = vec![format!("localhost:{}", server.port())];
    let session = session_with(
        policy(&[], &private),
        FetchLimits::default(),
        Duration::from_secs(10),
        spy.clone(),
    );
    let mut request = get(&format!("http://localhost:{}/", server.port()));
    request.headers = vec![("x-a".into(), "1".into())];
    response(session.fetch(1, request).await);
    let threads = spy.threads.lock().expect("threads").clone();
    assert!(!threads.is_empty());
    assert!(
        threads.iter().all(|name| name == "jobvisor-http"),
        "{threads:?}"
    );
}

#[tokio::test]
async fn a_deadline_already_past_times_out_at_once() {
    let server = TestServer::start(|_| ok("late")).await;
    let private = vec![format!("localhost:{}", server.port())];
    let session = session_with(
        policy(&[], &private),
        FetchLimits::default(),
        Duration::ZERO,
        Arc::new(NoSecrets),
    );
    let (kind, message) = refused(
        session
            .fetch(1, get(&format!("http://localhost:{}/", server.port())))
            .await,
    );
    assert_eq!(kind, HostErrorKind::Timeout, "{message}");
    assert!(server.seen().is_empty());
}
