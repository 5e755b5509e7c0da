//! The decoder oracle shared by the mutation smoke test, the seed smoke test and the
//! cargo-fuzz targets: any byte string, fed to the incremental [`FrameReader`] in
//! arbitrary pieces and to the blocking [`read_frame`] through short, interrupted reads,
//! must give the same sequence of messages and errors, without panicking, and every
//! message decoded must round-trip through the encoder.
//!
//! [`frame_decoder_input`] and [`control_decoder_input`] are the fuzz targets' bodies,
//! input layout included, so a seed file means the same thing to a test as to the fuzzer.
//!
//! Only `std`, `serde` and `jobvisor_protocol` may be used here: the fuzz crate
//! includes this file by path.
#![allow(dead_code)] // not every user calls every helper

use std::fmt::Debug;
use std::io::{self, Read};

use jobvisor_protocol::control::{Request, Response};
use jobvisor_protocol::worker::{FromWorker, ToWorker};
use jobvisor_protocol::{
    DEFAULT_MAX_FRAME_LEN, FrameError, FrameReader, Hello, decode_body, encode_frame, read_frame,
};
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

/// A frame of a conversation: the peer's opening [`Hello`], or a message after it.
#[derive(Debug, PartialEq)]
pub enum Said<T> {
    Hello(Hello),
    Msg(T),
}

/// Feeds `data` to a [`FrameReader`] in pieces whose sizes come from `rng`; `next`
/// decodes one frame, given how many frames were consumed before it (decoded or not: a
/// frame that fails to decode is consumed whole).
fn frame_reader_steps<M>(
    data: &[u8],
    rng: &mut Rng,
    max_len: usize,
    mut next: impl FnMut(&mut FrameReader, usize) -> Result<Option<M>, FrameError>,
) -> Vec<Step<M>> {
    let mut reader = FrameReader::new(max_len);
    let mut steps = Vec::new();
    let mut frames = 0;
    let mut rest = data;
    loop {
        if !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(64));
            reader.push(&rest[..n]);
            rest = &rest[n..];
        }
        loop {
            match next(&mut reader, frames) {
                Ok(Some(msg)) => {
                    frames += 1;
                    steps.push(Step::Msg(msg));
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(!unexpected(&e), "unexpected error {e:?}");
                    let go_on = recoverable(&e);
                    steps.push(Step::Err(format!("{e:?}")));
                    if !go_on {
                        return steps;
                    }
                    frames += 1;
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

/// Reads `data` through short, interrupted reads; `read` reads one frame, given how many
/// frames were consumed before it.
fn read_frame_steps<M>(
    data: &[u8],
    seed: u64,
    mut read: impl FnMut(&mut ShortReader<'_>, usize) -> Result<Option<M>, FrameError>,
) -> Vec<Step<M>> {
    let mut input = ShortReader::new(data, seed, 7);
    let mut steps = Vec::new();
    let mut frames = 0;
    loop {
        match read(&mut input, frames) {
            Ok(Some(msg)) => {
                frames += 1;
                steps.push(Step::Msg(msg));
            }
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
                frames += 1;
            }
        }
    }
}

/// Feeds `data`, a stream of `T` frames, to a [`FrameReader`] in pieces whose sizes come
/// from `rng`.
pub fn via_frame_reader<T: DeserializeOwned>(
    data: &[u8],
    rng: &mut Rng,
    max_len: usize,
) -> Vec<Step<T>> {
    frame_reader_steps(data, rng, max_len, |reader, _| reader.next_frame::<T>())
}

/// Reads `data`, a stream of `T` frames, with [`read_frame`] through short, interrupted
/// reads.
pub fn via_read_frame<T: DeserializeOwned>(data: &[u8], seed: u64, max_len: usize) -> Vec<Step<T>> {
    read_frame_steps(data, seed, |input, _| read_frame::<T, _>(input, max_len))
}

/// Like [`via_frame_reader`] for a conversation: a [`Hello`] frame, then `T` frames.
pub fn conversation_via_frame_reader<T: DeserializeOwned>(
    data: &[u8],
    rng: &mut Rng,
    max_len: usize,
) -> Vec<Step<Said<T>>> {
    frame_reader_steps(data, rng, max_len, |reader, frames| {
        if frames == 0 {
            Ok(reader.next_frame::<Hello>()?.map(Said::Hello))
        } else {
            Ok(reader.next_frame::<T>()?.map(Said::Msg))
        }
    })
}

/// Like [`via_read_frame`] for a conversation: a [`Hello`] frame, then `T` frames.
pub fn conversation_via_read_frame<T: DeserializeOwned>(
    data: &[u8],
    seed: u64,
    max_len: usize,
) -> Vec<Step<Said<T>>> {
    read_frame_steps(data, seed, |input, frames| {
        if frames == 0 {
            Ok(read_frame::<Hello, _>(input, max_len)?.map(Said::Hello))
        } else {
            Ok(read_frame::<T, _>(input, max_len)?.map(Said::Msg))
        }
    })
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

/// A decoded message must encode, and decode back to itself.
fn check_round_trip<T>(msg: &T)
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let mut frame = Vec::new();
    encode_frame(msg, &mut frame).expect("a decoded message re-encodes");
    let again: T = decode_body(&frame[4..]).expect("a re-encoded message decodes");
    assert_eq!(&again, msg, "re-encoding changed the message");
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
            check_round_trip(msg);
        }
    }
}

/// [`check_type`] for a conversation: a [`Hello`] frame, then `T` frames.
fn check_conversation<T>(data: &[u8], seed: u64, max_len: usize, tally: &mut Tally)
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let mut rng = Rng::new(seed);
    let incremental = conversation_via_frame_reader::<T>(data, &mut rng, max_len);
    let blocking = conversation_via_read_frame::<T>(data, seed, max_len);
    assert_eq!(incremental, blocking, "decoders disagree");
    tally.add(&incremental);
    for step in &incremental {
        match step {
            Step::Msg(Said::Hello(hello)) => check_round_trip(hello),
            Step::Msg(Said::Msg(msg)) => check_round_trip(msg),
            Step::Err(_) | Step::End => {}
        }
    }
}

/// Decodes `data` as a stream of each worker message type with both decoders.
pub fn exercise(data: &[u8], seed: u64, max_len: usize) -> Tally {
    let mut tally = Tally::default();
    check_type::<ToWorker>(data, seed, max_len, &mut tally);
    check_type::<FromWorker>(data, seed, max_len, &mut tally);
    check_type::<Hello>(data, seed, max_len, &mut tally);
    tally
}

/// Decodes `data` with both decoders as a client's side of a control connection (a
/// [`Hello`], then [`Request`]s) and as a stream of [`Response`]s.
pub fn exercise_control(data: &[u8], seed: u64, max_len: usize) -> Tally {
    let mut tally = Tally::default();
    check_conversation::<Request>(data, seed, max_len, &mut tally);
    check_type::<Response>(data, seed, max_len, &mut tally);
    tally
}

/// The fuzz targets' input layout: byte 0 picks the body cap (small caps make `TooLarge`
/// reachable), byte 1 seeds how the input is split; the rest is the stream. `None` for
/// an input too short to hold the two bytes.
pub fn split_input(data: &[u8]) -> Option<(usize, u64, &[u8])> {
    let (cap, seed, stream) = match data {
        [cap, seed, stream @ ..] => (*cap, *seed, stream),
        _ => return None,
    };
    let max_len = match cap % 4 {
        0 => DEFAULT_MAX_FRAME_LEN,
        1 => 16,
        2 => 256,
        _ => 4096,
    };
    Some((max_len, u64::from(seed), stream))
}

/// One input of the `frame_decoder` fuzz target.
pub fn frame_decoder_input(data: &[u8]) -> Option<Tally> {
    let (max_len, seed, stream) = split_input(data)?;
    Some(exercise(stream, seed, max_len))
}

/// One input of the `control_decoder` fuzz target.
pub fn control_decoder_input(data: &[u8]) -> Option<Tally> {
    let (max_len, seed, stream) = split_input(data)?;
    Some(exercise_control(stream, seed, max_len))
}
