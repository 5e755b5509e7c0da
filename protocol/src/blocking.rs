//! The blocking transport used by the worker: frames over any `Read + Write` stream
//! (the fd-3 socketpair in practice), and the handshake on top of it.
//!
//! It owns no codec logic (that is the frame module's) and no policy: it does not decide
//! what to do with a peer that misbehaves, nor time out (set a socket timeout on the
//! stream if one is wanted).

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::{DEFAULT_MAX_FRAME_LEN, FrameError, encode_frame, read_frame};
use crate::hello::{HandshakeError, Hello, Role, accept_peer};

/// Above this capacity the send buffer is dropped after use, so one big message does
/// not pin its memory.
const KEEP_SEND_BUFFER: usize = 1024 * 1024;

/// Frames over a blocking stream.
///
/// `recv` reads exactly one frame's bytes from the stream and buffers nothing, so the
/// stream may also be used directly between calls (for example through a
/// `try_clone`d socket read by another thread).
#[derive(Debug)]
pub struct BlockingTransport<S> {
    stream: S,
    max_len: usize,
    /// Reused encoding buffer: one `write_all` per frame, no allocation per message.
    out: Vec<u8>,
}

impl<S: Read + Write> BlockingTransport<S> {
    /// A transport whose `recv` refuses bodies above [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new(stream: S) -> Self {
        Self::with_max_len(stream, DEFAULT_MAX_FRAME_LEN)
    }

    /// A transport whose `recv` refuses bodies above `max_len` (itself capped at
    /// [`crate::MAX_FRAME_LEN`]).
    pub fn with_max_len(stream: S, max_len: usize) -> Self {
        BlockingTransport {
            stream,
            max_len,
            out: Vec::new(),
        }
    }

    /// Writes one message as a frame and flushes the stream.
    pub fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.out.clear();
        encode_frame(msg, &mut self.out)?;
        let written = self
            .stream
            .write_all(&self.out)
            .and_then(|()| self.stream.flush());
        if self.out.capacity() > KEEP_SEND_BUFFER {
            self.out = Vec::new();
        }
        Ok(written?)
    }

    /// Reads the next message; `Ok(None)` when the peer closed cleanly between frames.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        read_frame(&mut self.stream, self.max_len)
    }

    /// Sends our [`Hello`] in role `ours`, then reads the peer's and checks it is of the
    /// same protocol and of role `expected_peer`. Returns the peer's hello.
    ///
    /// Both sides send first, which cannot deadlock: a hello is far smaller than any
    /// socket buffer.
    pub fn handshake(&mut self, ours: Role, expected_peer: Role) -> Result<Hello, HandshakeError> {
        self.send(&Hello::ours(ours))?;
        let peer = self.recv::<Hello>()?;
        accept_peer(peer, expected_peer)
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    pub fn into_inner(self) -> S {
        self.stream
    }
}
