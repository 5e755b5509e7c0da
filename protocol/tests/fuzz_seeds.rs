//! Replays the committed fuzz seeds (`fuzz/seeds/<target>/` at the repository root)
//! through the fuzz targets' own bodies (`common/exercise.rs`), so every test run checks
//! the fuzz properties on inputs the fuzzer found interesting, without nightly or
//! libFuzzer. A missing or empty seed directory is a failure.
//!
//! The `gen-*` seeds are valid streams built from the samples in `common`; regenerate
//! them after a message change with
//! `cargo test -p jobvisor-protocol --test fuzz_seeds -- --ignored`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use common::exercise::{
    Rng, Said, Step, Tally, control_decoder_input, conversation_via_frame_reader,
    frame_decoder_input, split_input,
};
use jobvisor_protocol::control::Request;

const FRAME_DECODER: &str = "frame_decoder";
const CONTROL_DECODER: &str = "control_decoder";

/// Prefix of the seeds written by [`write_generated_seeds`].
const GENERATED: &str = "gen-";

fn seed_dir(target: &str) -> PathBuf {
    let protocol = Path::new(env!("CARGO_MANIFEST_DIR"));
    protocol.parent().unwrap().join("fuzz/seeds").join(target)
}

/// Every seed of `target`, sorted by file name. Panics if there is none.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = seed_dir(target);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the seed directory {}: {e}", dir.display()));
    let mut seeds: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds.sort();
    seeds
}

/// Runs every seed of `target` through `input` (the fuzz target's body), naming the
/// seed that fails.
fn replay(target: &str, input: fn(&[u8]) -> Option<Tally>) -> Tally {
    let seeds = seeds(target);
    let mut tally = Tally::default();
    for (name, data) in &seeds {
        match panic::catch_unwind(AssertUnwindSafe(|| input(data))) {
            Ok(Some(seen)) => tally.merge(seen),
            Ok(None) => {}
            Err(cause) => {
                eprintln!("seed {target}/{name} fails the oracle");
                panic::resume_unwind(cause);
            }
        }
    }
    println!("{target}: ran {} seed inputs: {tally:?}", seeds.len());
    tally
}

/// A seed set worth keeping reaches every outcome of the decoders.
fn assert_reaches_every_outcome(tally: &Tally) {
    assert!(tally.messages > 0, "{tally:?}");
    assert!(tally.clean_ends > 0, "{tally:?}");
    assert!(tally.decode_errors > 0, "{tally:?}");
    assert!(tally.too_large > 0, "{tally:?}");
    assert!(tally.truncated > 0, "{tally:?}");
}

#[test]
fn frame_decoder_seeds_pass_the_oracle() {
    let tally = replay(FRAME_DECODER, frame_decoder_input);
    assert_reaches_every_outcome(&tally);
}

#[test]
fn control_decoder_seeds_pass_the_oracle() {
    let tally = replay(CONTROL_DECODER, control_decoder_input);
    assert_reaches_every_outcome(&tally);
}

#[test]
fn control_decoder_seeds_hold_every_request_variant() {
    let mut seen = BTreeSet::new();
    for (_, data) in seeds(CONTROL_DECODER) {
        let Some((max_len, seed, stream)) = split_input(&data) else {
            continue;
        };
        let mut rng = Rng::new(seed);
        for step in conversation_via_frame_reader::<Request>(stream, &mut rng, max_len) {
            if let Step::Msg(Said::Msg(request)) = step {
                seen.insert(common::request_variant(&request));
            }
        }
    }
    let missing: Vec<&str> = common::REQUEST_VARIANTS
        .into_iter()
        .filter(|variant| !seen.contains(variant))
        .collect();
    assert!(
        missing.is_empty(),
        "no seed holds a valid {missing:?} request"
    );
}

/// Replaces the `gen-*` seeds of both targets with the valid streams built from the
/// samples in `common`, behind the default body cap (input byte 0) and a split seed
/// (byte 1).
#[test]
#[ignore = "writes into fuzz/seeds/; run on purpose after a message change"]
fn write_generated_seeds() {
    for (target, streams) in [
        (FRAME_DECODER, common::worker_streams()),
        (CONTROL_DECODER, common::control_streams()),
    ] {
        let dir = seed_dir(target);
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(GENERATED)
            {
                fs::remove_file(&path).unwrap();
            }
        }
        for (i, (name, stream)) in streams.iter().enumerate() {
            let mut data = vec![0, i as u8];
            data.extend_from_slice(stream);
            fs::write(dir.join(format!("{GENERATED}{name}")), data).unwrap();
        }
        println!(
            "{target}: wrote {} seeds to {}",
            streams.len(),
            dir.display()
        );
    }
}
