//! Every message type survives encode → frame → decode, through every decoder.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Debug;
use std::io::Cursor;

use common::{from_worker, hello, to_worker};
use jobvisor_protocol::{
    DEFAULT_MAX_FRAME_LEN, FrameReader, decode_body, encode_frame, read_frame, write_frame,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T>(msg: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let mut frame = Vec::new();
    encode_frame(msg, &mut frame).unwrap();
    let body_len = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(body_len, frame.len() - 4, "prefix is the body length");
    assert_eq!(&decode_body::<T>(&frame[4..]).unwrap(), msg);

    // write_frame produces the same bytes as encode_frame.
    let mut written = Vec::new();
    write_frame(&mut written, msg).unwrap();
    assert_eq!(written, frame);

    let mut cursor = Cursor::new(&frame);
    assert_eq!(
        read_frame::<T, _>(&mut cursor, DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .as_ref(),
        Some(msg)
    );
    assert!(
        read_frame::<T, _>(&mut cursor, DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .is_none()
    );

    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    reader.push(&frame);
    assert_eq!(reader.next_frame::<T>().unwrap().as_ref(), Some(msg));
    assert!(reader.next_frame::<T>().unwrap().is_none());
    reader.finish().unwrap();
}

proptest! {
    #[test]
    fn to_worker_round_trips(msg in to_worker()) {
        round_trip(&msg);
    }

    #[test]
    fn from_worker_round_trips(msg in from_worker()) {
        round_trip(&msg);
    }

    #[test]
    fn hello_round_trips(msg in hello()) {
        round_trip(&msg);
    }
}

#[test]
fn fixed_samples_round_trip() {
    let (to, from, hellos) = common::samples();
    to.iter().for_each(round_trip);
    from.iter().for_each(round_trip);
    hellos.iter().for_each(round_trip);
}

/// Pins the wire layout: a change here is an incompatible protocol change and must
/// bump `PROTOCOL_VERSION`.
#[test]
fn wire_layout_is_stable() {
    let mut frame = Vec::new();
    encode_frame(&jobvisor_protocol::worker::ToWorker::Shutdown, &mut frame).unwrap();
    assert_eq!(frame, [1, 0, 0, 0, 1]);

    frame.clear();
    encode_frame(
        &jobvisor_protocol::worker::FromWorker::Ready { pid: 300 },
        &mut frame,
    )
    .unwrap();
    // variant 0, then 300 as a varint (251 = u16 follows, little endian).
    assert_eq!(frame, [4, 0, 0, 0, 0, 251, 0x2c, 0x01]);
}
