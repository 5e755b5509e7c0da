//! The frame codec shared by every transport (blocking in the worker, tokio in the
//! supervisor and the CLI).
//!
//! A frame is a `u32` little-endian body length followed by a bincode 2 body (standard
//! config, varint integers). This module owns the byte layout, the size caps and the
//! exact-consumption rule, and nothing else: it knows no message type, opens no socket
//! and keeps no connection state beyond the bytes of a partial frame ([`FrameReader`]).
//!
//! Every decoder here must stay total on hostile input: a length is checked against the
//! cap before anything is allocated for the body, the body buffer only grows as bytes
//! actually arrive, and bincode runs with a byte limit scaled to the body so that a tiny
//! body claiming a huge `String` fails before the allocation.

use std::io::{self, Read, Write};

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use bincode::error::{DecodeError, EncodeError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Hard ceiling on a frame body, in bytes. No reader accepts more, whatever it is
/// configured with, and [`encode_frame`] refuses to produce more.
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// The body cap readers use unless told otherwise.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Bytes of the length prefix.
const PREFIX_LEN: usize = 4;

// The prefix is a u32; the cap must be representable in it.
const _: () = assert!(MAX_FRAME_LEN <= u32::MAX as usize);
const _: () = assert!(DEFAULT_MAX_FRAME_LEN <= MAX_FRAME_LEN);

/// First capacity given to a body buffer. The claimed length is not trusted for
/// allocation: the buffer grows from here only as the peer really sends bytes.
const INITIAL_BODY_CAPACITY: usize = 8 * 1024;

/// Largest read chunk [`FrameReader::read_target`] reserves at once.
const MAX_READ_CHUNK: usize = 64 * 1024;

/// Above this capacity an emptied buffer is shrunk, so one big frame does not pin its
/// memory for the life of the connection.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// Why a frame could not be read, decoded or encoded.
///
/// After `Io`, `TooLarge` or `Truncated` the stream is unusable and should be dropped.
/// After `Decode` or `TrailingBytes` the frame has been consumed whole, so the stream is
/// still in sync; whether to go on talking to such a peer is the caller's policy (the
/// supervisor treats it as a protocol error).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("i/o error on the frame stream")]
    Io(#[from] io::Error),
    #[error("frame body of {len} bytes exceeds the cap of {max} bytes")]
    TooLarge { len: usize, max: usize },
    /// `expected` and `got` count bytes of the frame, length prefix included. While the
    /// prefix itself is incomplete, `expected` is 4.
    #[error("stream ended inside a frame: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    #[error("malformed frame body")]
    Decode(#[source] DecodeError),
    #[error("frame body has trailing bytes: the message used {consumed} of {len}")]
    TrailingBytes { consumed: usize, len: usize },
    #[error("cannot encode message")]
    Encode(#[source] EncodeError),
    #[error("encoded message exceeds the frame cap of {max} bytes")]
    EncodedTooLarge { max: usize },
}

/// The bincode configuration of every body: standard (little endian, varint), with a
/// byte limit on what containers may claim.
const fn config<const LIMIT: usize>() -> Configuration<LittleEndian, Varint, Limit<LIMIT>> {
    bincode::config::standard().with_limit::<LIMIT>()
}

/// Encodes `msg` as one frame appended to `out`.
///
/// On error `out` is left as it was. Refuses (without growing `out` past the cap) a
/// message whose body would exceed [`MAX_FRAME_LEN`].
pub fn encode_frame<T: Serialize + ?Sized>(msg: &T, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    let mut writer = CappedWriter {
        out,
        room: MAX_FRAME_LEN,
        overflowed: false,
    };
    let encoded = bincode::serde::encode_into_writer(msg, &mut writer, config::<MAX_FRAME_LEN>());
    let overflowed = writer.overflowed;
    if let Err(e) = encoded {
        out.truncate(start);
        return Err(if overflowed {
            FrameError::EncodedTooLarge { max: MAX_FRAME_LEN }
        } else {
            FrameError::Encode(e)
        });
    }
    let body_len = out.len() - start - PREFIX_LEN;
    // The writer stops at MAX_FRAME_LEN, which the const assert above keeps within u32.
    let Ok(prefix) = u32::try_from(body_len) else {
        out.truncate(start);
        return Err(FrameError::EncodedTooLarge { max: MAX_FRAME_LEN });
    };
    out[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_le_bytes());
    Ok(())
}

/// A bincode writer into a `Vec` that refuses to pass `room` bytes, so encoding a
/// too-large message fails early instead of first building a huge buffer.
struct CappedWriter<'a> {
    out: &'a mut Vec<u8>,
    room: usize,
    overflowed: bool,
}

impl bincode::enc::write::Writer for CappedWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        if bytes.len() > self.room {
            self.overflowed = true;
            return Err(EncodeError::Other("frame cap exceeded"));
        }
        self.room -= bytes.len();
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// Decodes one frame body (without its length prefix). The whole body must be consumed.
///
/// bincode's limit bounds what the body's strings may claim in total. It is scaled to the
/// body's size (at most 16 times it, at least 64 KiB, never above [`MAX_FRAME_LEN`]):
/// a valid body never claims more than its own length, and with a fixed 64 MiB limit a
/// 30-byte body could still make the decoder allocate 64 MiB before failing.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    const KIB64: usize = 64 * 1024;
    const MIB1: usize = 1024 * 1024;
    let len = body.len();
    let decoded = if len <= KIB64 / 16 {
        decode_limited::<T, KIB64>(body)
    } else if len <= MIB1 / 16 {
        decode_limited::<T, MIB1>(body)
    } else if len <= DEFAULT_MAX_FRAME_LEN / 16 {
        decode_limited::<T, DEFAULT_MAX_FRAME_LEN>(body)
    } else if len <= MAX_FRAME_LEN {
        decode_limited::<T, MAX_FRAME_LEN>(body)
    } else {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    };
    let (msg, consumed) = decoded.map_err(FrameError::Decode)?;
    if consumed != len {
        return Err(FrameError::TrailingBytes { consumed, len });
    }
    Ok(msg)
}

fn decode_limited<T: DeserializeOwned, const LIMIT: usize>(
    body: &[u8],
) -> Result<(T, usize), DecodeError> {
    bincode::serde::decode_from_slice(body, config::<LIMIT>())
}

/// The effective cap of a reader configured with `max_len`.
fn effective_cap(max_len: usize) -> usize {
    max_len.min(MAX_FRAME_LEN)
}

/// Checks a body length read from a prefix against the cap.
fn check_len(len: usize, cap: usize) -> Result<(), FrameError> {
    if len > cap {
        Err(FrameError::TooLarge { len, max: cap })
    } else {
        Ok(())
    }
}

/// The body length announced by a complete prefix at the start of `bytes`, if any.
fn peek_len(bytes: &[u8]) -> Option<usize> {
    let prefix: [u8; PREFIX_LEN] = bytes.get(..PREFIX_LEN)?.try_into().ok()?;
    // u32 always fits in usize on the platforms this crate builds for (unix, 32/64 bit).
    Some(u32::from_le_bytes(prefix) as usize)
}

/// Reads one frame from a blocking reader.
///
/// Returns `Ok(None)` on a clean end of stream (EOF before the first byte of a frame)
/// and [`FrameError::Truncated`] for EOF anywhere inside a frame. `max_len` caps the
/// body (and is itself capped by [`MAX_FRAME_LEN`]); it is checked before any body
/// buffer exists, and the buffer then grows only with the bytes really received.
///
/// Reads exactly the bytes of one frame, never more, so no state is kept between calls.
pub fn read_frame<T: DeserializeOwned, R: Read + ?Sized>(
    r: &mut R,
    max_len: usize,
) -> Result<Option<T>, FrameError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut got = 0;
    while got < PREFIX_LEN {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(FrameError::Truncated {
                    expected: PREFIX_LEN,
                    got,
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let len = u32::from_le_bytes(prefix) as usize;
    check_len(len, effective_cap(max_len))?;

    let mut body = Vec::with_capacity(len.min(INITIAL_BODY_CAPACITY));
    // `take` + `read_to_end` grows the buffer as data arrives (and retries on
    // Interrupted), so a peer that claims 16 MiB and sends 5 bytes costs 8 KiB.
    r.take(len as u64).read_to_end(&mut body)?;
    if body.len() < len {
        return Err(FrameError::Truncated {
            expected: PREFIX_LEN + len,
            got: PREFIX_LEN + body.len(),
        });
    }
    decode_body(&body).map(Some)
}

/// Writes one frame to a blocking writer, then flushes it.
pub fn write_frame<T: Serialize + ?Sized, W: Write + ?Sized>(
    w: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    let mut buf = Vec::new();
    encode_frame(msg, &mut buf)?;
    w.write_all(&buf)?;
    w.flush()?;
    Ok(())
}

/// An incremental frame decoder for input that arrives in arbitrary pieces
/// (non-blocking sockets, async readers).
///
/// Push bytes as they come, then call [`FrameReader::next_frame`] until it returns
/// `Ok(None)`. At end of input, [`FrameReader::finish`] tells a clean end from a
/// truncated frame. The buffer holds at most the current frame plus what was pushed
/// beyond it; a too-large prefix is refused as soon as its 4 bytes are present.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already handed out as frames.
    start: usize,
    max_len: usize,
}

impl FrameReader {
    /// A reader refusing bodies above `max_len` (itself capped at [`MAX_FRAME_LEN`]).
    pub fn new(max_len: usize) -> Self {
        FrameReader {
            buf: Vec::new(),
            start: 0,
            max_len: effective_cap(max_len),
        }
    }

    /// The body cap in force.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, decoded as `T`, or `Ok(None)` if more bytes are needed.
    ///
    /// A frame whose body fails to decode is consumed before the error is returned, so
    /// the reader stays in sync. A too-large prefix is not consumed: every later call
    /// returns the same error.
    pub fn next_frame<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        self.next_frame_checked(|_| Ok(()))
    }

    /// As [`FrameReader::next_frame`], with `check` shown each complete body before it is
    /// decoded: a body it refuses is consumed (the reader stays in sync) and its error
    /// returned, and nothing of it is decoded. For caps that depend on what a frame is
    /// (a host call is capped below the stream's frame cap).
    pub fn next_frame_checked<T: DeserializeOwned>(
        &mut self,
        check: impl FnOnce(&[u8]) -> Result<(), FrameError>,
    ) -> Result<Option<T>, FrameError> {
        let pending = &self.buf[self.start..];
        let Some(len) = peek_len(pending) else {
            return Ok(None);
        };
        check_len(len, self.max_len)?;
        let total = PREFIX_LEN + len;
        if pending.len() < total {
            return Ok(None);
        }
        let body = self.start + PREFIX_LEN..self.start + total;
        self.start += total;
        let body = &self.buf[body];
        let decoded = check(body).and_then(|()| decode_body(body));
        self.release_if_empty();
        decoded.map(Some)
    }

    /// Whether an end of input now would be clean: `Ok(())` if the buffered bytes end on
    /// a frame boundary (complete frames not yet taken are fine), otherwise the error
    /// reading on would give ([`FrameError::Truncated`] or [`FrameError::TooLarge`]).
    pub fn finish(&self) -> Result<(), FrameError> {
        let mut rest = &self.buf[self.start..];
        while !rest.is_empty() {
            let Some(len) = peek_len(rest) else {
                return Err(FrameError::Truncated {
                    expected: PREFIX_LEN,
                    got: rest.len(),
                });
            };
            check_len(len, self.max_len)?;
            let total = PREFIX_LEN + len;
            let Some(next) = rest.get(total..) else {
                return Err(FrameError::Truncated {
                    expected: total,
                    got: rest.len(),
                });
            };
            rest = next;
        }
        Ok(())
    }

    /// The buffer to read into, with spare capacity for the next read, for readers that
    /// fill it directly (tokio's `read_buf`). Bytes must only be appended.
    ///
    /// The chunk reserved follows what the current frame still lacks, bounded to
    /// 8..=64 KiB, so a claimed length is never allocated ahead of the data.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn read_target(&mut self) -> &mut Vec<u8> {
        self.compact();
        let missing = match peek_len(&self.buf) {
            Some(len) => (PREFIX_LEN + len).saturating_sub(self.buf.len()),
            None => PREFIX_LEN - self.buf.len(),
        };
        self.buf
            .reserve(missing.clamp(INITIAL_BODY_CAPACITY, MAX_READ_CHUNK));
        &mut self.buf
    }

    /// Drops the bytes already handed out, so the buffer only holds pending input.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    fn release_if_empty(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > SHRINK_ABOVE {
                self.buf.shrink_to(INITIAL_BODY_CAPACITY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn decode_tiers_accept_a_body_made_of_one_big_string() {
        // A body that is almost all string bytes must pass every tier's limit.
        for len in [0, 10, 4095, 4096, 70_000, 1_100_000] {
            let s = "x".repeat(len);
            let mut out = Vec::new();
            encode_frame(&s, &mut out).unwrap();
            let back: String = decode_body(&out[PREFIX_LEN..]).unwrap();
            assert_eq!(back.len(), len);
        }
    }

    #[test]
    fn encode_refuses_above_the_cap_and_leaves_out_untouched() {
        // The string's varint length pushes the body just over the cap.
        let big = "x".repeat(MAX_FRAME_LEN);
        let mut out = vec![1, 2, 3];
        let err = encode_frame(&big, &mut out).unwrap_err();
        assert!(matches!(err, FrameError::EncodedTooLarge { .. }), "{err:?}");
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn read_target_reserves_a_bounded_chunk_for_a_huge_claim() {
        let mut r = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
        r.push(&(DEFAULT_MAX_FRAME_LEN as u32).to_le_bytes());
        let buf = r.read_target();
        assert!(buf.capacity() - buf.len() >= INITIAL_BODY_CAPACITY);
        assert!(buf.capacity() <= 2 * MAX_READ_CHUNK);
    }

    #[test]
    fn big_buffer_is_released_after_use() {
        let mut out = Vec::new();
        encode_frame(&"y".repeat(2 * SHRINK_ABOVE), &mut out).unwrap();
        let mut r = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
        r.push(&out);
        let s: String = r.next_frame().unwrap().unwrap();
        assert_eq!(s.len(), 2 * SHRINK_ABOVE);
        assert!(r.buf.capacity() <= SHRINK_ABOVE);
    }
}
