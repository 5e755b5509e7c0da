//! Tokio transports used by the supervisor and the CLI: frames over any
//! `AsyncRead`/`AsyncWrite`, whole ([`AsyncTransport`]) or split into a reading and a
//! writing half ([`AsyncFrameReader`], [`AsyncFrameWriter`]) so that two tasks can read
//! and write at once.
//!
//! This module owns only the async plumbing. Lengths, caps and decoding are the shared
//! codec's ([`crate::FrameReader`], [`crate::encode_frame`]), so both transports refuse
//! exactly the same inputs. It sets no timeouts and spawns nothing: callers wrap calls in
//! `tokio::time::timeout` as their policy requires.
//!
//! # Cancel safety
//!
//! - `recv` is cancel-safe: bytes read so far are kept in the transport's buffer, so a
//!   `recv` dropped mid-frame (a losing `tokio::select!` branch, an expired timeout)
//!   loses nothing, and the next `recv` resumes where it stopped.
//! - `send` and `flush` never corrupt the stream when dropped: the message is encoded
//!   whole into an internal queue on the first poll, and whatever was not written yet
//!   goes out at the next `send` or `flush`. A `send` dropped before its first poll
//!   sends nothing. A `send` dropped after its first poll *will* be sent by the next
//!   `send`/`flush`, so do not retry it (that would send it twice).
//! - `handshake` is not cancel-safe: if it is dropped after our hello went out, a retry
//!   would send a second hello. Drop the connection instead.

use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::frame::{DEFAULT_MAX_FRAME_LEN, FrameError, FrameReader, encode_frame};
use crate::hello::{HandshakeError, Hello, Role, accept_peer};

/// Above this capacity an emptied send queue is released.
const KEEP_SEND_BUFFER: usize = 1024 * 1024;

/// Received bytes not yet returned as messages, and whether the peer closed.
#[derive(Debug)]
struct Inbound {
    frames: FrameReader,
    eof: bool,
}

impl Inbound {
    fn new(max_len: usize) -> Self {
        Inbound {
            frames: FrameReader::new(max_len),
            eof: false,
        }
    }

    /// Cancel-safe: the only await is `read_buf`, which either reads into the buffer
    /// and completes, or reads nothing.
    async fn recv<T, R>(
        &mut self,
        io: &mut R,
        mut check: impl FnMut(&[u8]) -> Result<(), FrameError>,
    ) -> Result<Option<T>, FrameError>
    where
        T: DeserializeOwned,
        R: AsyncRead + Unpin + ?Sized,
    {
        loop {
            if let Some(msg) = self.frames.next_frame_checked(&mut check)? {
                return Ok(Some(msg));
            }
            if self.eof {
                self.frames.finish()?;
                return Ok(None);
            }
            // read_target always leaves spare capacity, so 0 really means EOF.
            if io.read_buf(self.frames.read_target()).await? == 0 {
                self.eof = true;
            }
        }
    }
}

/// Encoded bytes not yet written.
#[derive(Debug, Default)]
struct Outbound {
    buf: Vec<u8>,
    written: usize,
}

impl Outbound {
    async fn send<T, W>(&mut self, io: &mut W, msg: &T) -> Result<(), FrameError>
    where
        T: Serialize + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        // Synchronous: the message is queued whole or not at all (encode_frame leaves
        // the buffer untouched on error).
        encode_frame(msg, &mut self.buf)?;
        self.flush(io).await
    }

    /// Each `write` either writes some bytes and completes, or writes nothing; progress
    /// is recorded before the next await, so dropping this loses no position.
    async fn flush<W>(&mut self, io: &mut W) -> Result<(), FrameError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        while self.written < self.buf.len() {
            let n = io.write(&self.buf[self.written..]).await?;
            if n == 0 {
                return Err(FrameError::Io(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        if self.buf.capacity() > KEEP_SEND_BUFFER {
            self.buf = Vec::new();
        }
        io.flush().await?;
        Ok(())
    }

    /// Writes what is queued, then shuts the write side down (the peer reads EOF).
    async fn shutdown<W>(&mut self, io: &mut W) -> Result<(), FrameError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        self.flush(io).await?;
        io.shutdown().await?;
        Ok(())
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.written
    }
}

/// The reading half: decodes frames from an `AsyncRead`.
#[derive(Debug)]
pub struct AsyncFrameReader<R> {
    io: R,
    inbound: Inbound,
}

impl<R: AsyncRead + Unpin> AsyncFrameReader<R> {
    /// A reader refusing bodies above [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new(io: R) -> Self {
        Self::with_max_len(io, DEFAULT_MAX_FRAME_LEN)
    }

    /// A reader refusing bodies above `max_len` (capped at [`crate::MAX_FRAME_LEN`]).
    pub fn with_max_len(io: R, max_len: usize) -> Self {
        AsyncFrameReader {
            io,
            inbound: Inbound::new(max_len),
        }
    }

    /// The next message; `Ok(None)` once the peer closed cleanly between frames.
    ///
    /// Cancel-safe (see the module docs).
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        self.inbound.recv(&mut self.io, |_| Ok(())).await
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.inbound.frames.buffered()
    }

    pub fn get_ref(&self) -> &R {
        &self.io
    }

    /// Reading from the inner reader directly would desynchronise the frames.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }

    /// The inner reader. Buffered bytes ([`Self::buffered`]) are lost.
    pub fn into_inner(self) -> R {
        self.io
    }
}

/// The writing half: encodes frames to an `AsyncWrite`.
#[derive(Debug)]
pub struct AsyncFrameWriter<W> {
    io: W,
    outbound: Outbound,
}

impl<W: AsyncWrite + Unpin> AsyncFrameWriter<W> {
    pub fn new(io: W) -> Self {
        AsyncFrameWriter {
            io,
            outbound: Outbound::default(),
        }
    }

    /// Writes one message as a frame (after anything still queued) and flushes.
    ///
    /// Never corrupts the stream when dropped (see the module docs).
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.outbound.send(&mut self.io, msg).await
    }

    /// Writes whatever a dropped `send` left queued, then flushes.
    pub async fn flush(&mut self) -> Result<(), FrameError> {
        self.outbound.flush(&mut self.io).await
    }

    /// Writes whatever is queued, then shuts the write side down so the peer reads a
    /// clean end of stream. Dropping a split half does not do that by itself.
    pub async fn shutdown(&mut self) -> Result<(), FrameError> {
        self.outbound.shutdown(&mut self.io).await
    }

    /// Encoded bytes queued but not yet written.
    pub fn pending(&self) -> usize {
        self.outbound.pending()
    }

    pub fn get_ref(&self) -> &W {
        &self.io
    }

    /// Writing to the inner writer directly would corrupt the frames.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.io
    }

    /// The inner writer. Queued bytes ([`Self::pending`]) are lost.
    pub fn into_inner(self) -> W {
        self.io
    }
}

/// The handshake over split halves: sends our [`Hello`] in role `ours`, then reads the
/// peer's and checks it is of the same protocol and of role `expected_peer`.
///
/// Not cancel-safe (see the module docs); bound it with `tokio::time::timeout` and drop
/// the connection when that fires.
pub async fn handshake<R, W>(
    reader: &mut AsyncFrameReader<R>,
    writer: &mut AsyncFrameWriter<W>,
    ours: Role,
    expected_peer: Role,
) -> Result<Hello, HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    writer.send(&Hello::ours(ours)).await?;
    let peer = reader.recv::<Hello>().await?;
    accept_peer(peer, expected_peer)
}

/// Frames over one bidirectional stream. Use [`AsyncTransport::into_split`] (or build
/// an [`AsyncFrameReader`] and an [`AsyncFrameWriter`] from a socket's own
/// `into_split`) when reading and writing happen in different tasks.
#[derive(Debug)]
pub struct AsyncTransport<S> {
    io: S,
    inbound: Inbound,
    outbound: Outbound,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncTransport<S> {
    /// A transport whose `recv` refuses bodies above [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new(io: S) -> Self {
        Self::with_max_len(io, DEFAULT_MAX_FRAME_LEN)
    }

    /// A transport whose `recv` refuses bodies above `max_len` (capped at
    /// [`crate::MAX_FRAME_LEN`]).
    pub fn with_max_len(io: S, max_len: usize) -> Self {
        AsyncTransport {
            io,
            inbound: Inbound::new(max_len),
            outbound: Outbound::default(),
        }
    }

    /// As [`AsyncTransport::recv`], with `check` shown each complete body before it is
    /// decoded ([`FrameReader::next_frame_checked`]).
    ///
    /// Cancel-safe (see the module docs).
    pub async fn recv_checked<T: DeserializeOwned>(
        &mut self,
        check: impl FnMut(&[u8]) -> Result<(), FrameError>,
    ) -> Result<Option<T>, FrameError> {
        self.inbound.recv(&mut self.io, check).await
    }

    /// The next message; `Ok(None)` once the peer closed cleanly between frames.
    ///
    /// Cancel-safe (see the module docs).
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        self.inbound.recv(&mut self.io, |_| Ok(())).await
    }

    /// Writes one message as a frame (after anything still queued) and flushes.
    ///
    /// Never corrupts the stream when dropped (see the module docs).
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.outbound.send(&mut self.io, msg).await
    }

    /// Writes whatever a dropped `send` left queued, then flushes.
    pub async fn flush(&mut self) -> Result<(), FrameError> {
        self.outbound.flush(&mut self.io).await
    }

    /// Writes whatever is queued, then shuts the write side down so the peer reads a
    /// clean end of stream. Dropping a split half does not do that by itself.
    pub async fn shutdown(&mut self) -> Result<(), FrameError> {
        self.outbound.shutdown(&mut self.io).await
    }

    /// Sends our [`Hello`] in role `ours`, then reads the peer's and checks it is of the
    /// same protocol and of role `expected_peer`. Returns the peer's hello.
    ///
    /// Not cancel-safe (see the module docs).
    pub async fn handshake(
        &mut self,
        ours: Role,
        expected_peer: Role,
    ) -> Result<Hello, HandshakeError> {
        self.send(&Hello::ours(ours)).await?;
        let peer = self.recv::<Hello>().await?;
        accept_peer(peer, expected_peer)
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.inbound.frames.buffered()
    }

    /// Encoded bytes queued but not yet written.
    pub fn pending(&self) -> usize {
        self.outbound.pending()
    }

    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Using the inner stream directly would desynchronise the frames.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Splits into halves for separate tasks, keeping buffered input and queued output.
    ///
    /// Uses `tokio::io::split` (a lock shared by the halves); for sockets, prefer the
    /// socket's own `into_split` before building the halves.
    pub fn into_split(
        self,
    ) -> (
        AsyncFrameReader<ReadHalf<S>>,
        AsyncFrameWriter<WriteHalf<S>>,
    ) {
        let (r, w) = tokio::io::split(self.io);
        (
            AsyncFrameReader {
                io: r,
                inbound: self.inbound,
            },
            AsyncFrameWriter {
                io: w,
                outbound: self.outbound,
            },
        )
    }
}
