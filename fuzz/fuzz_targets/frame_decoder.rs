//! Fuzzes the frame decoders: arbitrary bytes are decoded as `ToWorker`, `FromWorker`
//! and `Hello` streams by the incremental `FrameReader` (fed in pieces) and by the
//! blocking `read_frame` (through short, interrupted reads). Neither may panic, both
//! must agree, and every decoded message must round-trip.
//!
//! Input layout: byte 0 picks the body cap (so small caps make `TooLarge` reachable),
//! byte 1 seeds how the input is split; the rest is the stream.
#![no_main]

use jobvisor_protocol::DEFAULT_MAX_FRAME_LEN;
use libfuzzer_sys::fuzz_target;

// The same oracle as the protocol crate's mutation smoke test.
#[path = "../../protocol/tests/common/exercise.rs"]
mod exercise;

fuzz_target!(|data: &[u8]| {
    let (cap, seed, stream) = match data {
        [cap, seed, stream @ ..] => (*cap, *seed, stream),
        _ => return,
    };
    let max_len = match cap % 4 {
        0 => DEFAULT_MAX_FRAME_LEN,
        1 => 16,
        2 => 256,
        _ => 4096,
    };
    exercise::exercise(stream, u64::from(seed), max_len);
});
