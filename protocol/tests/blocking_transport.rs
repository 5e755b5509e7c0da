//! The blocking transport: round trips over a real socketpair and every way a handshake
//! can be refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{self, Cursor, Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

use jobvisor_protocol::worker::{FromWorker, ToWorker};
use jobvisor_protocol::{
    BlockingTransport, FrameError, HandshakeError, Hello, HelloError, MAGIC, PROTOCOL_VERSION,
    Role, encode_frame,
};

/// A stream whose input is scripted and whose output is recorded.
struct Scripted {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Scripted {
    fn replying(frames: &[u8]) -> Self {
        Scripted {
            input: Cursor::new(frames.to_vec()),
            output: Vec::new(),
        }
    }
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn handshake_against(peer: &Hello) -> (Result<Hello, HandshakeError>, Vec<u8>) {
    let mut frame = Vec::new();
    encode_frame(peer, &mut frame).unwrap();
    let mut t = BlockingTransport::new(Scripted::replying(&frame));
    let res = t.handshake(Role::Supervisor, Role::Worker);
    (res, t.into_inner().output)
}

#[test]
fn handshake_accepts_a_matching_peer_and_sends_ours_first() {
    let (res, sent) = handshake_against(&Hello::ours(Role::Worker));
    assert_eq!(res.unwrap(), Hello::ours(Role::Worker));
    let mut expected = Vec::new();
    encode_frame(&Hello::ours(Role::Supervisor), &mut expected).unwrap();
    assert_eq!(sent, expected);
}

#[test]
fn handshake_refuses_wrong_magic() {
    let peer = Hello {
        magic: *b"HTTP/1.1",
        ..Hello::ours(Role::Worker)
    };
    let (res, _) = handshake_against(&peer);
    assert!(
        matches!(res, Err(HandshakeError::Refused(HelloError::BadMagic(m))) if &m == b"HTTP/1.1"),
        "{res:?}"
    );
}

#[test]
fn handshake_refuses_wrong_version() {
    let peer = Hello {
        protocol_version: PROTOCOL_VERSION + 1,
        ..Hello::ours(Role::Worker)
    };
    let (res, _) = handshake_against(&peer);
    assert!(
        matches!(
            res,
            Err(HandshakeError::Refused(HelloError::VersionMismatch { peer, ours }))
                if peer == PROTOCOL_VERSION + 1 && ours == PROTOCOL_VERSION
        ),
        "{res:?}"
    );
}

#[test]
fn handshake_refuses_wrong_role() {
    let (res, _) = handshake_against(&Hello::ours(Role::Client));
    assert!(
        matches!(
            res,
            Err(HandshakeError::Refused(HelloError::WrongRole {
                expected: Role::Worker,
                got: Role::Client
            }))
        ),
        "{res:?}"
    );
}

#[test]
fn handshake_reports_a_peer_that_closed_or_spoke_garbage() {
    let mut t = BlockingTransport::new(Scripted::replying(&[]));
    let res = t.handshake(Role::Worker, Role::Supervisor);
    assert!(matches!(res, Err(HandshakeError::Closed)), "{res:?}");

    let mut t = BlockingTransport::new(Scripted::replying(b"GET / HTTP/1.1\r\n\r\n"));
    let res = t.handshake(Role::Worker, Role::Supervisor);
    assert!(
        matches!(res, Err(HandshakeError::Frame(FrameError::TooLarge { .. }))),
        "{res:?}"
    );
    assert_eq!(MAGIC.len(), 8);
}

#[test]
fn socketpair_conversation() {
    let (sup, wrk) = UnixStream::pair().unwrap();
    let worker = thread::spawn(move || {
        let mut t = BlockingTransport::new(wrk);
        t.handshake(Role::Worker, Role::Supervisor).unwrap();
        t.send(&FromWorker::Ready { pid: 7 }).unwrap();
        let mut seen = Vec::new();
        while let Some(msg) = t.recv::<ToWorker>().unwrap() {
            let stop = msg == ToWorker::Shutdown;
            seen.push(msg);
            if stop {
                break;
            }
        }
        seen
    });

    let mut t = BlockingTransport::new(sup);
    let peer = t.handshake(Role::Supervisor, Role::Worker).unwrap();
    assert_eq!(peer.role, Role::Worker);
    assert_eq!(
        t.recv::<FromWorker>().unwrap(),
        Some(FromWorker::Ready { pid: 7 })
    );
    // Every sample except the Shutdown, then a Shutdown: the worker reads them all, so
    // it closes with nothing unread (unread data would make the close a reset).
    let (to, _, _) = common::samples();
    let mut sent: Vec<ToWorker> = to
        .into_iter()
        .filter(|m| *m != ToWorker::Shutdown)
        .collect();
    sent.push(ToWorker::Shutdown);
    for m in &sent {
        t.send(m).unwrap();
    }
    assert_eq!(worker.join().unwrap(), sent);

    // The worker dropped its end: a clean EOF.
    assert!(t.recv::<FromWorker>().unwrap().is_none());
}
