//! A stream of frames split at arbitrary points decodes to exactly the original
//! messages, then a clean end, with the incremental and the blocking decoder.
#![allow(clippy::unwrap_used)]

mod common;

use common::exercise::ShortReader;
use common::{from_worker, hello};
use jobvisor_protocol::worker::FromWorker;
use jobvisor_protocol::{DEFAULT_MAX_FRAME_LEN, FrameReader, Hello, encode_frame, read_frame};
use proptest::prelude::*;

/// A worker's side of a conversation: its hello, then its messages.
fn conversation() -> impl Strategy<Value = (Hello, Vec<FromWorker>)> {
    (hello(), proptest::collection::vec(from_worker(), 0..8))
}

fn encode_all(hello: &Hello, msgs: &[FromWorker]) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_frame(hello, &mut bytes).unwrap();
    for m in msgs {
        encode_frame(m, &mut bytes).unwrap();
    }
    bytes
}

proptest! {
    #[test]
    fn frame_reader_reassembles_split_input(
        (hello, msgs) in conversation(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let bytes = encode_all(&hello, &msgs);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort_unstable();

        let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
        let mut got_hello = None;
        let mut got = Vec::new();
        for piece in cuts.windows(2) {
            reader.push(&bytes[piece[0]..piece[1]]);
            if got_hello.is_none() {
                got_hello = reader.next_frame::<Hello>().unwrap();
            }
            if got_hello.is_some() {
                while let Some(m) = reader.next_frame::<FromWorker>().unwrap() {
                    got.push(m);
                }
            }
            // Only the last piece leaves the buffer on a frame boundary for sure.
            if piece[1] == bytes.len() {
                reader.finish().unwrap();
            }
        }
        prop_assert_eq!(got_hello, Some(hello));
        prop_assert_eq!(got, msgs);
        prop_assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn frame_reader_finish_reports_every_partial_cut(
        (hello, msgs) in conversation(),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = encode_all(&hello, &msgs);
        let cut = cut.index(bytes.len() + 1);
        let mut boundaries = vec![0];
        let mut at = 0;
        while at < bytes.len() {
            at += 4 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            boundaries.push(at);
        }
        let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
        reader.push(&bytes[..cut]);
        prop_assert_eq!(reader.finish().is_ok(), boundaries.contains(&cut));
    }

    #[test]
    fn read_frame_survives_short_and_interrupted_reads(
        (hello, msgs) in conversation(),
        seed in any::<u64>(),
        max_chunk in 1usize..16,
    ) {
        let bytes = encode_all(&hello, &msgs);
        let mut input = ShortReader::new(&bytes, seed, max_chunk);
        let got_hello = read_frame::<Hello, _>(&mut input, DEFAULT_MAX_FRAME_LEN).unwrap();
        prop_assert_eq!(got_hello, Some(hello));
        let mut got = Vec::new();
        while let Some(m) = read_frame::<FromWorker, _>(&mut input, DEFAULT_MAX_FRAME_LEN).unwrap() {
            got.push(m);
        }
        prop_assert_eq!(got, msgs);
    }
}
