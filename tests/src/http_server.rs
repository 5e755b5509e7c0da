//! A real HTTP/1.1 server on `127.0.0.1` for the tests of `fetch`: the supervisor's
//! client talks to it over loopback as it would to any host. One thread accepts, one
//! thread serves each connection; every answer closes its connection (`connection:
//! close`), so a test never depends on how the client pools.
//!
//! The routes, chosen by the request's path (the query is ignored unless named):
//!
//! | path | answer |
//! |---|---|
//! | `/echo…` (any path not below) | 200, JSON `{ method, path, headers, body }` of the request |
//! | `/status/N` | status `N`, body `status N` |
//! | `/redirect?to=URL` | 302 to `URL` (`/redirect/307?to=URL` for another code) |
//! | `/chain/N` | 302 to `/chain/N-1`; `/chain/0` is an echo |
//! | `/big/N` | `N` bytes of `x` with a `content-length` |
//! | `/chunked/N` | `N` bytes of `x`, chunked, with no length |
//! | `/stall` | reads the request and never answers (until the client leaves) |
//! | `/slow/MS` | an echo after `MS` milliseconds |
//! | a path given to [`HttpServer::file`] | that document (304 to an `if-none-match` of its ETag) |
//!
//! It counts what it received ([`HttpServer::requests`]) and the most requests it held
//! at once ([`HttpServer::max_in_flight`]). It must not do anything a test did not ask
//! for: no TLS, no keep-alive, no compression.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    /// With its query.
    pub path: String,
    /// Names lower case, in the order they came.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: Mutex<Vec<SeenRequest>>,
    files: Mutex<Vec<Document>>,
}

/// A document served at a fixed path, with [`HttpServer::file`].
#[derive(Clone)]
struct Document {
    path: String,
    content_type: String,
    etag: Option<String>,
    body: Vec<u8>,
}

/// The server; stops accepting when dropped (connections it holds end with it).
pub struct HttpServer {
    port: u16,
    shared: Arc<Shared>,
}

impl HttpServer {
    /// Binds a free port on 127.0.0.1 and starts serving.
    pub fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("http-test-{port}"))
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&accept_shared);
                    std::thread::spawn(move || serve(stream, port, &shared));
                }
            })
            .expect("spawn the accept thread");
        HttpServer { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as `allow_private` lists it.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Serves `body` at `path` (the query ignored), with `etag` when given: a request whose
    /// `if-none-match` is that ETag gets a 304. A later call for the same path replaces it.
    pub fn file(&self, path: &str, content_type: &str, etag: Option<&str>, body: &[u8]) {
        let mut files = self.shared.files.lock().expect("files lock");
        files.retain(|d| d.path != path);
        files.push(Document {
            path: path.to_owned(),
            content_type: content_type.to_owned(),
            etag: etag.map(str::to_owned),
            body: body.to_vec(),
        });
    }

    /// Every request read so far, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.seen.lock().expect("seen lock").clone()
    }

    /// How many requests were read so far.
    pub fn request_count(&self) -> usize {
        self.shared.seen.lock().expect("seen lock").len()
    }

    /// Requests read and not yet answered (stalled ones included).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// The most requests held at once (read, not yet answered).
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request head and body; `None` on a torn or bad request.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<SeenRequest> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = SeenRequest {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().ok()?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    } else if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    }
    Some(request)
}

fn serve(mut stream: TcpStream, port: u16, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    shared.seen.lock().expect("seen lock").push(request.clone());
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    answer(&mut stream, &mut reader, &request, port, shared);
    // The count drops before the connection closes, so a client that has read to the
    // end never sees its own request still in flight.
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
}

fn answer(
    stream: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    request: &SeenRequest,
    port: u16,
    shared: &Shared,
) {
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    let document = shared
        .files
        .lock()
        .expect("files lock")
        .iter()
        .find(|d| d.path == path)
        .cloned();
    if let Some(document) = document {
        let response = match &document.etag {
            Some(etag) if request.header("if-none-match") == Some(etag.as_str()) => {
                respond(304, &document.content_type, b"", &[("etag", etag)])
            }
            Some(etag) => respond(
                200,
                &document.content_type,
                &document.body,
                &[("etag", etag)],
            ),
            None => respond(200, &document.content_type, &document.body, &[]),
        };
        let _ = stream.write_all(&response);
        let _ = stream.flush();
        return;
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let number = |i: usize| segments.get(i).and_then(|s| s.parse::<u64>().ok());
    let response = match segments[..] {
        ["status", _] => {
            let code = number(1).unwrap_or(500);
            respond(code, "text/plain", format!("status {code}").as_bytes(), &[])
        }
        ["redirect", ..] => {
            let code = number(1).unwrap_or(302);
            let to = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("to="))
                .map(percent_decode)
                .unwrap_or_default();
            respond(code, "text/plain", b"", &[("location", &to)])
        }
        ["chain", _] => match number(1) {
            Some(0) | None => echo(request),
            Some(n) => {
                let to = format!("http://127.0.0.1:{port}/chain/{}", n - 1);
                respond(302, "text/plain", b"", &[("location", &to)])
            }
        },
        ["big", _] => {
            let body = vec![b'x'; usize::try_from(number(1).unwrap_or(0)).unwrap_or(0)];
            respond(200, "text/plain", &body, &[])
        }
        ["chunked", _] => {
            let size = usize::try_from(number(1).unwrap_or(0)).unwrap_or(0);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            );
            let piece = vec![b'x'; 64 << 10];
            let mut left = size;
            while left > 0 {
                let n = left.min(piece.len());
                let head = format!("{n:x}\r\n");
                let sent = stream
                    .write_all(head.as_bytes())
                    .and_then(|()| stream.write_all(&piece[..n]))
                    .and_then(|()| stream.write_all(b"\r\n"));
                if sent.is_err() {
                    return;
                }
                left -= n;
            }
            let _ = stream.write_all(b"0\r\n\r\n");
            return;
        }
        ["stall"] => {
            // Holds the request until the client goes away or the server stops.
            let _ = reader
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(100)));
            let mut byte = [0u8; 1];
            while !shared.stop.load(Ordering::SeqCst) {
                match reader.read(&mut byte) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
            return;
        }
        ["slow", _] => {
            std::thread::sleep(Duration::from_millis(number(1).unwrap_or(0)));
            echo(request)
        }
        _ => echo(request),
    };
    let _ = stream.write_all(&response);
    let _ = stream.flush();
}

/// The JSON echo of a request.
fn echo(request: &SeenRequest) -> Vec<u8> {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into()))
        .collect();
    let body = serde_json::json!({
        "method": request.method,
        "path": request.path,
        "headers": headers,
        "body": String::from_utf8_lossy(&request.body),
    });
    respond(200, "application/json", body.to_string().as_bytes(), &[])
}

fn respond(code: u64, content_type: &str, body: &[u8], extra: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reason(code),
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

fn reason(code: u64) -> &'static str {
    match code {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        304 => "Not Modified",
        308 => "Permanent Redirect",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// `%XX` escapes decoded (a redirect target travels in the query).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with the characters a query value cannot hold as they are escaped.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The server's own tests: each route answers as the table says.
#[cfg(test)]
mod tests {
    use super::*;

    fn get(server: &HttpServer, path: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: x\r\nx-test: 1\r\n\r\n"
        )
        .expect("write");
        let mut out = String::new();
        stream.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn routes_answer_as_documented() {
        let server = HttpServer::start();
        let echo = get(&server, "/echo?q=1");
        assert!(echo.starts_with("HTTP/1.1 200"), "{echo}");
        assert!(echo.contains(r#""path":"/echo?q=1""#), "{echo}");
        assert!(echo.contains(r#""x-test":"1""#), "{echo}");
        assert!(get(&server, "/status/404").starts_with("HTTP/1.1 404"));
        let to = percent_encode("http://a.example/x?y=1");
        let redirect = get(&server, &format!("/redirect/307?to={to}"));
        assert!(redirect.starts_with("HTTP/1.1 307"), "{redirect}");
        assert!(
            redirect.contains("location: http://a.example/x?y=1"),
            "{redirect}"
        );
        assert!(get(&server, "/chain/2").contains("/chain/1"));
        assert!(get(&server, "/big/10").ends_with("\r\n\r\nxxxxxxxxxx"));
        let chunked = get(&server, "/chunked/3");
        assert!(chunked.ends_with("3\r\nxxx\r\n0\r\n\r\n"), "{chunked}");
        server.file(
            "/feed.xml",
            "application/rss+xml",
            Some("\"v1\""),
            b"<rss/>",
        );
        let feed = get(&server, "/feed.xml?x=1");
        assert!(
            feed.contains("etag: \"v1\"") && feed.ends_with("<rss/>"),
            "{feed}"
        );
        assert_eq!(server.request_count(), 7);
        assert_eq!(server.in_flight(), 0);
    }
}
