//! Fuzzes the frame decoders: arbitrary bytes are decoded as `ToWorker`, `FromWorker`
//! and `Hello` streams by the incremental `FrameReader` (fed in pieces) and by the
//! blocking `read_frame` (through short, interrupted reads). Neither may panic, both
//! must agree, and every decoded message must round-trip.
//!
//! Input layout: byte 0 picks the body cap (so small caps make `TooLarge` reachable),
//! byte 1 seeds how the input is split; the rest is the stream
//! (`exercise::split_input`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// The same oracle as the protocol crate's mutation and seed smoke tests.
#[path = "../../protocol/tests/common/exercise.rs"]
mod exercise;

fuzz_target!(|data: &[u8]| {
    exercise::frame_decoder_input(data);
});
