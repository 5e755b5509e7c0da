//! Every control message survives encoding and decoding unchanged, and a control request
//! decoder refuses what is not one. The samples (one of every request variant, every
//! response shape) are shared with the mutation and fuzz-seed tests (`common`).

#![allow(clippy::unwrap_used)]

mod common;

use jobvisor_protocol::control::{Request, Response};
use jobvisor_protocol::{FrameReader, decode_body, encode_frame};

fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut bytes = Vec::new();
    encode_frame(value, &mut bytes).unwrap();
    let mut reader = FrameReader::new(1 << 20);
    reader.push(&bytes);
    let decoded: T = reader.next_frame().unwrap().unwrap();
    reader.finish().unwrap();
    decoded
}

#[test]
fn every_request_round_trips() {
    let (requests, _) = common::control_samples();
    let mut seen: Vec<&str> = requests.iter().map(common::request_variant).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen.len(),
        common::REQUEST_VARIANTS.len(),
        "a sample of every variant"
    );
    for request in &requests {
        assert_eq!(&round_trip::<Request>(request), request);
    }
}

#[test]
fn every_response_round_trips() {
    let (_, responses) = common::control_samples();
    assert!(responses.len() >= 20, "{} samples", responses.len());
    for response in &responses {
        assert_eq!(&round_trip::<Response>(response), response);
    }
}

#[test]
fn malformed_requests_are_errors() {
    // An unknown variant tag, a truncated body, trailing bytes.
    assert!(decode_body::<Request>(&[200]).is_err());
    assert!(decode_body::<Request>(&[1, 0xff, 0xff]).is_err());
    let mut body = Vec::new();
    encode_frame(&Request::Status, &mut body).unwrap();
    let mut trailing = body[4..].to_vec();
    trailing.push(0);
    assert!(decode_body::<Request>(&trailing).is_err());
}
