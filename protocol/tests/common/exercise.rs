//! The decoder oracle shared by the mutation smoke test and the cargo-fuzz target: any
//! byte string, fed to the incremental [`FrameReader`] in arbitrary pieces and to the
//! blocking [`read_frame`] through short, interrupted reads, must give the same
//! sequence of messages and errors, without panicking, and every message decoded must
//! round-trip through the encoder.
//!
//! Only `std`, `serde` and `jobvisor_protocol` may be used here: the fuzz crate
//! includes this file by path.
#![allow(dead_code)] // not every user calls every helper

use std::fmt::Debug;
use std::io::{self, Read};

use jobvisor_protocol::worker::{FromWorker, ToWorker};
use jobvisor_protocol::{FrameError, FrameReader, Hello, decode_body, encode_frame, read_frame};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A deterministic xorshift64* generator: tests must not depend on an RNG crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A reader over a byte slice that returns at most a few bytes per call and sometimes
/// fails with `Interrupted`, like a socket under signals.
pub struct ShortReader<'a> {
    data: &'a [u8],
    rng: Rng,
    max_chunk: usize,
}

impl<'a> ShortReader<'a> {
    pub fn new(data: &'a [u8], seed: u64, max_chunk: usize) -> Self {
        ShortReader {
            data,
            rng: Rng::new(seed),
            max_chunk: max_chunk.max(1),
        }
    }
}

impl Read for ShortReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rng.below(5) == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = (1 + self.rng.below(self.max_chunk))
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// One step of a decoded stream, comparable across decoders.
#[derive(Debug, PartialEq)]
pub enum Step<T> {
    Msg(T),
    /// The error's `Debug` text: both decoders share one codec, so it must match.
    Err(String),
    End,
}

/// Whether a decoder can go on after this error (the bad frame was consumed whole).
fn recoverable(e: &FrameError) -> bool {
    matches!(e, FrameError::Decode(_) | FrameError::TrailingBytes { .. })
}

fn unexpected(e: &FrameError) -> bool {
    // No I/O errors from in-memory input, and nothing is encoded while decoding.
    matches!(
        e,
        FrameError::Io(_) | FrameError::Encode(_) | FrameError::EncodedTooLarge { .. }
    )
}

/// Feeds `data` to a [`FrameReader`] in pieces whose sizes come from `rng`.
pub fn via_frame_reader<T: DeserializeOwned>(
    data: &[u8],
    rng: &mut Rng,
    max_len: usize,
) -> Vec<Step<T>> {
    let mut reader = FrameReader::new(max_len);
    let mut steps = Vec::new();
    let mut rest = data;
    loop {
        if !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(64));
            reader.push(&rest[..n]);
            rest = &rest[n..];
        }
        loop {
            match reader.next_frame::<T>() {
                Ok(Some(msg)) => steps.push(Step::Msg(msg)),
                Ok(None) => break,
                Err(e) => {
                    assert!(!unexpected(&e), "unexpected error {e:?}");
                    let go_on = recoverable(&e);
                    steps.push(Step::Err(format!("{e:?}")));
                    if !go_on {
                        return steps;
                    }
                }
            }
        }
        if rest.is_empty() {
            match reader.finish() {
                Ok(()) => steps.push(Step::End),
                Err(e) => steps.push(Step::Err(format!("{e:?}"))),
            }
            return steps;
        }
    }
}

/// Reads `data` with [`read_frame`] through short, interrupted reads.
pub fn via_read_frame<T: DeserializeOwned>(data: &[u8], seed: u64, max_len: usize) -> Vec<Step<T>> {
    let mut input = ShortReader::new(data, seed, 7);
    let mut steps = Vec::new();
    loop {
        match read_frame::<T, _>(&mut input, max_len) {
            Ok(Some(msg)) => steps.push(Step::Msg(msg)),
            Ok(None) => {
                steps.push(Step::End);
                return steps;
            }
            Err(e) => {
                assert!(!unexpected(&e), "unexpected error {e:?}");
                let go_on = recoverable(&e);
                steps.push(Step::Err(format!("{e:?}")));
                if !go_on {
                    return steps;
                }
            }
        }
    }
}

/// What the decoders saw, so a caller can check its inputs reach every path.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub messages: usize,
    pub clean_ends: usize,
    pub decode_errors: usize,
    pub too_large: usize,
    pub truncated: usize,
}

impl Tally {
    fn add<T>(&mut self, steps: &[Step<T>]) {
        for step in steps {
            match step {
                Step::Msg(_) => self.messages += 1,
                Step::End => self.clean_ends += 1,
                Step::Err(e) if e.starts_with("TooLarge") => self.too_large += 1,
                Step::Err(e) if e.starts_with("Truncated") => self.truncated += 1,
                Step::Err(_) => self.decode_errors += 1,
            }
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.messages += other.messages;
        self.clean_ends += other.clean_ends;
        self.decode_errors += other.decode_errors;
        self.too_large += other.too_large;
        self.truncated += other.truncated;
    }
}

fn check_type<T>(data: &[u8], seed: u64, max_len: usize, tally: &mut Tally)
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let mut rng = Rng::new(seed);
    let incremental = via_frame_reader::<T>(data, &mut rng, max_len);
    let blocking = via_read_frame::<T>(data, seed, max_len);
    assert_eq!(incremental, blocking, "decoders disagree");
    tally.add(&incremental);
    for step in &incremental {
        if let Step::Msg(msg) = step {
            let mut frame = Vec::new();
            encode_frame(msg, &mut frame).expect("a decoded message re-encodes");
            let again: T = decode_body(&frame[4..]).expect("a re-encoded message decodes");
            assert_eq!(&again, msg, "re-encoding changed the message");
        }
    }
}

/// Decodes `data` as a stream of each message type with both decoders.
pub fn exercise(data: &[u8], seed: u64, max_len: usize) -> Tally {
    let mut tally = Tally::default();
    check_type::<ToWorker>(data, seed, max_len, &mut tally);
    check_type::<FromWorker>(data, seed, max_len, &mut tally);
    check_type::<Hello>(data, seed, max_len, &mut tally);
    tally
}
