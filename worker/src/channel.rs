//! The worker's end of the supervisor's socket (fd 3), both ways.
//!
//! It owns the socket. Frames out are queued in one buffer and written when the worker
//! says so ([`Channel::send`], [`Channel::flush`]) or when the buffer grows large, so a
//! chatty job costs few system calls. Frames in are read whole and decoded under the
//! protocol's caps, one at a time: blocking between jobs ([`Channel::recv`]), or for at
//! most a given time while a job waits for its next timer or a host reply
//! ([`Channel::wait`], poll(2) on the socket). It knows no conversation: which frame is
//! acceptable when is for its callers to decide.
//!
//! A detached channel (`--check`, the in-process benchmark, unit tests) writes nowhere
//! and never receives anything; waiting on it only sleeps.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use jobvisor_protocol::{DEFAULT_MAX_FRAME_LEN, FrameError, FrameReader, encode_frame};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Flush once this many bytes of frames are waiting.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;

pub(crate) struct Channel {
    socket: Option<UnixStream>,
    outgoing: RefCell<Outgoing>,
    incoming: RefCell<Incoming>,
}

struct Outgoing {
    buffer: Vec<u8>,
    /// The first write error; every later `send` reports it.
    failed: Option<FrameError>,
}

struct Incoming {
    reader: FrameReader,
    chunk: Vec<u8>,
    /// The supervisor closed its end (a read returned 0).
    closed: bool,
}

/// One decoded frame from the supervisor.
pub(crate) struct Frame<T> {
    pub(crate) message: T,
    /// Its size on the wire, length prefix included.
    pub(crate) len: usize,
}

/// What [`Channel::wait`] saw.
pub(crate) enum Waited<T> {
    Frame(Frame<T>),
    /// The time given passed with no complete frame.
    TimedOut,
    /// The supervisor closed the connection on a frame boundary (or the channel is
    /// detached and nothing can ever arrive).
    Closed,
}

/// Why a frame could not be queued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QueueError {
    #[error("the frame is {len} bytes, over the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error(transparent)]
    Encode(FrameError),
}

impl Channel {
    /// The channel over the supervisor's socket.
    pub(crate) fn new(socket: UnixStream) -> Self {
        Self::with_socket(Some(socket))
    }

    /// A channel with no supervisor behind it.
    pub(crate) fn detached() -> Self {
        Self::with_socket(None)
    }

    fn with_socket(socket: Option<UnixStream>) -> Self {
        Channel {
            socket,
            outgoing: RefCell::new(Outgoing {
                buffer: Vec::with_capacity(8 * 1024),
                failed: None,
            }),
            incoming: RefCell::new(Incoming {
                reader: FrameReader::new(DEFAULT_MAX_FRAME_LEN),
                chunk: Vec::new(),
                closed: false,
            }),
        }
    }

    /// Whether a supervisor is at the other end (not a detached channel).
    pub(crate) fn is_attached(&self) -> bool {
        self.socket.is_some()
    }

    /// Queues a frame; writes the buffer if it has grown large. A write error is kept
    /// for the next [`Channel::send`].
    pub(crate) fn queue<T: Serialize>(&self, msg: &T) {
        let mut out = self.outgoing.borrow_mut();
        out.push(msg);
        if out.buffer.len() >= FLUSH_THRESHOLD {
            out.write_to(self.socket.as_ref());
        }
    }

    /// Queues a frame only if it is at most `max` bytes on the wire (prefix included).
    pub(crate) fn queue_within<T: Serialize>(&self, msg: &T, max: usize) -> Result<(), QueueError> {
        let mut out = self.outgoing.borrow_mut();
        let start = out.buffer.len();
        encode_frame(msg, &mut out.buffer).map_err(QueueError::Encode)?;
        let len = out.buffer.len() - start;
        if len > max {
            out.buffer.truncate(start);
            return Err(QueueError::TooLarge { len, max });
        }
        Ok(())
    }

    /// Queues a frame and writes everything now.
    pub(crate) fn send<T: Serialize>(&self, msg: &T) -> Result<(), FrameError> {
        let mut out = self.outgoing.borrow_mut();
        out.push(msg);
        out.write_to(self.socket.as_ref());
        match out.failed.take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Writes what is queued (an error is kept for the next `send`).
    pub(crate) fn flush(&self) {
        self.outgoing.borrow_mut().write_to(self.socket.as_ref());
    }

    /// Whether a write has failed: nothing sent from now on reaches the supervisor.
    pub(crate) fn is_broken(&self) -> bool {
        self.outgoing.borrow().failed.is_some()
    }

    /// The next frame, blocking until it is complete; `None` when the supervisor closed
    /// the connection between frames (or the channel is detached).
    pub(crate) fn recv<T: DeserializeOwned>(&self) -> Result<Option<Frame<T>>, FrameError> {
        match self.wait(None)? {
            Waited::Frame(frame) => Ok(Some(frame)),
            Waited::TimedOut | Waited::Closed => Ok(None),
        }
    }

    /// The next frame if it is complete within `timeout` (`None`: no limit).
    pub(crate) fn wait<T: DeserializeOwned>(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Waited<T>, FrameError> {
        let Some(socket) = &self.socket else {
            return Ok(match timeout {
                Some(timeout) => {
                    std::thread::sleep(timeout);
                    Waited::TimedOut
                }
                None => Waited::Closed,
            });
        };
        let until = timeout.map(|timeout| Instant::now() + timeout);
        let mut incoming = self.incoming.borrow_mut();
        loop {
            let before = incoming.reader.buffered();
            if let Some(message) = incoming.reader.next_frame()? {
                let len = before - incoming.reader.buffered();
                return Ok(Waited::Frame(Frame { message, len }));
            }
            if incoming.closed {
                incoming.reader.finish()?;
                return Ok(Waited::Closed);
            }
            if let Some(until) = until {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Waited::TimedOut);
                }
                if !poll_readable(socket.as_raw_fd(), left)? {
                    continue;
                }
            }
            incoming.read_from(socket)?;
        }
    }
}

impl Outgoing {
    fn push<T: Serialize>(&mut self, msg: &T) {
        if self.failed.is_some() {
            return;
        }
        if let Err(err) = encode_frame(msg, &mut self.buffer) {
            self.failed = Some(err);
        }
    }

    fn write_to(&mut self, socket: Option<&UnixStream>) {
        if self.buffer.is_empty() || self.failed.is_some() {
            self.buffer.clear();
            return;
        }
        let Some(mut socket) = socket else {
            self.buffer.clear();
            return;
        };
        let result = socket.write_all(&self.buffer).and_then(|()| socket.flush());
        self.buffer.clear();
        if let Err(err) = result {
            self.failed = Some(FrameError::Io(err));
        }
    }
}

impl Incoming {
    /// One read from the socket into the frame reader; blocks if nothing is there.
    fn read_from(&mut self, mut socket: &UnixStream) -> Result<(), FrameError> {
        self.chunk.resize(READ_CHUNK, 0);
        loop {
            match socket.read(&mut self.chunk) {
                Ok(0) => {
                    self.closed = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.reader.push(&self.chunk[..n]);
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(FrameError::Io(err)),
            }
        }
    }
}

/// Waits at most `timeout` for `fd` to become readable (data, or the peer's hang-up).
/// Returns `false` when the time passed or a signal interrupted the wait.
///
/// `ppoll` with one descriptor is the form the sandbox allows.
pub(crate) fn poll_readable(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: one valid pollfd and a valid timespec, both living across the call; a null
    // signal mask leaves the thread's mask as it is.
    let rc = unsafe { libc::ppoll(&mut pollfd, 1, &timeout, std::ptr::null()) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(rc > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use jobvisor_protocol::write_frame;

    #[test]
    fn wait_times_out_then_returns_frames_whole_and_their_size() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let channel = Channel::new(ours);
        let waited: Waited<String> = channel.wait(Some(Duration::from_millis(5))).unwrap();
        assert!(matches!(waited, Waited::TimedOut));
        // A frame in two pieces: the first alone is not a frame yet.
        let mut frame = Vec::new();
        encode_frame(&"hello".to_owned(), &mut frame).unwrap();
        theirs.write_all(&frame[..3]).unwrap();
        let waited: Waited<String> = channel.wait(Some(Duration::from_millis(5))).unwrap();
        assert!(matches!(waited, Waited::TimedOut));
        theirs.write_all(&frame[3..]).unwrap();
        write_frame(&mut theirs, &"second".to_owned()).unwrap();
        let Waited::Frame(first) = channel
            .wait::<String>(Some(Duration::from_secs(5)))
            .unwrap()
        else {
            panic!("expected a frame")
        };
        assert_eq!((first.message.as_str(), first.len), ("hello", frame.len()));
        let second = channel.recv::<String>().unwrap().unwrap();
        assert_eq!(second.message, "second");
        drop(theirs);
        assert!(channel.recv::<String>().unwrap().is_none());
    }

    #[test]
    fn a_close_inside_a_frame_is_an_error() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let channel = Channel::new(ours);
        theirs.write_all(&[9, 0, 0, 0, 1]).unwrap();
        drop(theirs);
        let err = channel.wait::<String>(Some(Duration::from_secs(5))).err();
        assert!(matches!(err, Some(FrameError::Truncated { .. })), "{err:?}");
    }

    #[test]
    fn a_frame_over_the_limit_is_not_queued() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let channel = Channel::new(ours);
        let err = channel.queue_within(&"x".repeat(100), 50).unwrap_err();
        assert!(
            matches!(err, QueueError::TooLarge { len: 105, max: 50 }),
            "{err:?}"
        );
        assert!(channel.outgoing.borrow().buffer.is_empty());
    }
}
