//! A local HTTP/1.1 server on loopback for the host-API benchmarks: it answers every
//! request with the same small JSON body, at once (the fetch overhead) or only once it is
//! released (the stalled fetches). One thread per connection, keep-alive, no TLS; it
//! counts the requests that arrived, so a benchmark can wait until its fetches are really
//! held by the server.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The body of every answer (the session benchmark's, `fetch_overhead_against_a_local_server`).
const BODY: &str = r#"{"ok":true,"items":[1,2,3]}"#;
/// The longest request head read before the connection is dropped.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// When the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// As soon as the request has been read.
    AtOnce,
    /// Only after [`LocalServer::release`].
    WhenReleased,
}

struct Shared {
    answer: Answer,
    /// Requests read so far.
    arrived: AtomicUsize,
    released: Mutex<bool>,
    release: Condvar,
    stopping: AtomicBool,
}

/// A running server; dropping it releases held requests and stops accepting.
pub(crate) struct LocalServer {
    port: u16,
    shared: Arc<Shared>,
}

impl LocalServer {
    pub(crate) fn start(answer: Answer) -> anyhow::Result<LocalServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding a loopback port for the local HTTP server")?;
        let port = listener.local_addr().context("the server's port")?.port();
        let shared = Arc::new(Shared {
            answer,
            arrived: AtomicUsize::new(0),
            released: Mutex::new(false),
            release: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("local-http".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accepting.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&accepting);
                    // A connection whose thread cannot start is dropped: the client sees
                    // a reset, which the benchmark reports as a failed fetch.
                    let _ = std::thread::Builder::new()
                        .name("local-http-conn".into())
                        .spawn(move || serve_connection(stream, &shared));
                }
            })
            .context("starting the local HTTP server's thread")?;
        Ok(LocalServer { port, shared })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests read so far (held ones included).
    pub(crate) fn arrived(&self) -> usize {
        self.shared.arrived.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` requests have arrived.
    pub(crate) fn wait_arrived(&self, count: usize, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while self.arrived() < count {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {count} requests reached the local server within {within:?}",
                    self.arrived()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Answers every held request, and every later one at once.
    pub(crate) fn release(&self) {
        let mut released = self
            .shared
            .released
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *released = true;
        self.shared.release.notify_all();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.release();
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
    }
}

/// Reads requests and answers them until the client closes the connection.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(body_bytes) = read_head(&mut reader) {
        if body_bytes > 0 {
            let mut body = (&mut reader).take(body_bytes);
            if std::io::copy(&mut body, &mut std::io::sink()).is_err() {
                return;
            }
        }
        shared.arrived.fetch_add(1, Ordering::SeqCst);
        if shared.answer == Answer::WhenReleased {
            let mut released = shared
                .released
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while !*released {
                released = shared
                    .release
                    .wait(released)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Reads one request head; its body's length, or `None` at the end of the connection (or
/// a head this server does not understand).
fn read_head(reader: &mut BufReader<TcpStream>) -> Option<u64> {
    let mut body_bytes = 0;
    let mut read = 0;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).ok()?;
        if n == 0 {
            return None;
        }
        read += n;
        if read > MAX_HEAD_BYTES {
            return None;
        }
        let text = line.trim_end();
        if text.is_empty() {
            if first {
                continue;
            }
            return Some(body_bytes);
        }
        first = false;
        if let Some((name, value)) = text.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            body_bytes = value.trim().parse().ok()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n")
            .expect("write");
        let mut answer = vec![0; 256];
        let n = stream.read(&mut answer).expect("read");
        String::from_utf8_lossy(&answer[..n]).into_owned()
    }

    #[test]
    fn answers_kept_alive_requests_and_counts_them() {
        let server = LocalServer::start(Answer::AtOnce).expect("server");
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        for _ in 0..2 {
            let answer = get(&mut stream);
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(answer.ends_with(BODY), "{answer}");
        }
        assert_eq!(server.arrived(), 2);
    }

    #[test]
    fn holds_requests_until_released() {
        let server = LocalServer::start(Answer::WhenReleased).expect("server");
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        stream
            .write_all(b"POST /x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc")
            .expect("write");
        server
            .wait_arrived(1, Duration::from_secs(5))
            .expect("arrived");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let mut byte = [0; 1];
        assert!(stream.read(&mut byte).is_err(), "answered before release");
        server.release();
        stream.set_read_timeout(None).expect("timeout");
        let mut answer = vec![0; 256];
        let n = stream.read(&mut answer).expect("read");
        assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK"));
    }
}
