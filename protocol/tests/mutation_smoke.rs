//! A deterministic, fast stand-in for the cargo-fuzz targets, run with the normal test
//! suite: valid frame streams (worker and control) are mutated by a seeded generator and
//! fed to both decoders, which must agree and never panic (see `common/exercise.rs`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::exercise::{Rng, Tally, exercise, exercise_control};
use jobvisor_protocol::DEFAULT_MAX_FRAME_LEN;

const ITERATIONS: u64 = 4000;
const CONTROL_ITERATIONS: u64 = 2000;

fn corpus() -> Vec<Vec<u8>> {
    common::worker_streams()
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

fn control_corpus() -> Vec<Vec<u8>> {
    common::control_streams()
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

/// Bytes that tend to matter to bincode: varint markers, enum tags, UTF-8 edges.
const INTERESTING: [u8; 12] = [0, 1, 2, 3, 4, 9, 0x7f, 0x80, 0xfb, 0xfc, 0xfd, 0xff];

fn mutate(data: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => data[rng.below(len)] ^= 1 << rng.below(8),
            1 if len > 0 => data[rng.below(len)] = INTERESTING[rng.below(INTERESTING.len())],
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                data.drain(at..at + n);
            }
            4 => data.truncate(rng.below(len + 1)),
            5 if len >= 4 => {
                // Rewrite a length prefix-sized window with a hostile length.
                let at = rng.below(len - 3);
                let v = match rng.below(4) {
                    0 => u32::MAX,
                    1 => 100 << 20,
                    2 => DEFAULT_MAX_FRAME_LEN as u32,
                    _ => rng.below(64) as u32,
                };
                data[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            6 if len > 0 => {
                // A varint marker followed by a huge claim.
                let at = rng.below(len);
                data[at] = 0xfd;
                let claim = (1u64 << 40).to_le_bytes();
                let end = (at + 9).min(len);
                data[at + 1..end].copy_from_slice(&claim[..end - at - 1]);
            }
            _ => {
                let copy = data.clone();
                data.extend_from_slice(&copy[rng.below(len + 1)..]);
            }
        }
    }
}

/// Mutates streams of `corpus` `iterations` times (seeded), feeds each to `exercise` with a
/// random frame cap, and checks the mutations reached every outcome, or the run proves
/// little.
fn mutation_run(
    corpus: &[Vec<u8>],
    seed: u64,
    iterations: u64,
    exercise: impl Fn(&[u8], u64, usize) -> Tally,
) {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    for i in 0..iterations {
        let mut data = corpus[rng.below(corpus.len())].clone();
        mutate(&mut data, &mut rng);
        let max_len = [DEFAULT_MAX_FRAME_LEN, 64, 1024][rng.below(3)];
        tally.merge(exercise(&data, i, max_len));
    }
    println!("{tally:?}");
    assert!(tally.messages > 1000, "{tally:?}");
    assert!(tally.clean_ends > 100, "{tally:?}");
    assert!(tally.decode_errors > 1000, "{tally:?}");
    assert!(tally.too_large > 100, "{tally:?}");
    assert!(tally.truncated > 100, "{tally:?}");
}

#[test]
fn mutated_frames_never_panic_and_decoders_agree() {
    // "jobvisor"
    mutation_run(&corpus(), 0x6a6f_6276_6973_6f72, ITERATIONS, exercise);
}

#[test]
fn unmutated_corpus_decodes_cleanly() {
    for stream in corpus() {
        let tally = exercise(&stream, 1, DEFAULT_MAX_FRAME_LEN);
        assert!(tally.messages > 0, "{tally:?}");
    }
}

#[test]
fn mutated_control_frames_never_panic_and_decoders_agree() {
    // "control"
    mutation_run(
        &control_corpus(),
        0x636f_6e74_726f_6c00,
        CONTROL_ITERATIONS,
        exercise_control,
    );
}

#[test]
fn unmutated_control_corpus_decodes_cleanly() {
    for stream in control_corpus() {
        let tally = exercise_control(&stream, 1, DEFAULT_MAX_FRAME_LEN);
        assert!(tally.messages > 0, "{tally:?}");
    }
}

#[test]
fn control_samples_hold_every_request_variant() {
    let (requests, _) = common::control_samples();
    let sampled: BTreeSet<&str> = requests.iter().map(common::request_variant).collect();
    let all: BTreeSet<&str> = common::REQUEST_VARIANTS.into_iter().collect();
    assert_eq!(sampled, all);
    assert_eq!(
        all.len(),
        common::REQUEST_VARIANTS.len(),
        "a name is listed twice"
    );
}
