//! The tokio transports: round trips over an in-memory duplex pipe, and cancel safety.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use jobvisor_protocol::tokio_io::{AsyncFrameReader, AsyncFrameWriter, AsyncTransport, handshake};
use jobvisor_protocol::worker::{FromWorker, ToWorker};
use jobvisor_protocol::{FrameError, HandshakeError, HelloError, Role, encode_frame};
use tokio::io::{AsyncWriteExt, duplex};
use tokio::time::timeout;

const SHORT: Duration = Duration::from_millis(50);

#[tokio::test]
async fn duplex_round_trip_with_handshake() {
    let (a, b) = duplex(64 * 1024);
    let (to, from, _) = common::samples();
    let to2 = to.clone();
    let worker = tokio::spawn(async move {
        let mut t = AsyncTransport::new(b);
        t.handshake(Role::Worker, Role::Supervisor).await.unwrap();
        for m in &from {
            t.send(m).await.unwrap();
        }
        let mut got = Vec::new();
        while let Some(m) = t.recv::<ToWorker>().await.unwrap() {
            got.push(m);
        }
        assert_eq!(got, to2);
        from
    });

    let mut t = AsyncTransport::new(a);
    let peer = t.handshake(Role::Supervisor, Role::Worker).await.unwrap();
    assert_eq!(peer.role, Role::Worker);
    for m in &to {
        t.send(m).await.unwrap();
    }
    let (mut r, mut w) = t.into_split();
    // Dropping a split half does not close the stream: shut the write side down.
    w.shutdown().await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = r.recv::<FromWorker>().await.unwrap() {
        got.push(m);
    }
    assert_eq!(got, worker.await.unwrap());
}

#[tokio::test]
async fn split_halves_handshake_and_refuse_a_wrong_role() {
    let (a, b) = duplex(1024);
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    let (mut ar, mut aw) = (AsyncFrameReader::new(ar), AsyncFrameWriter::new(aw));
    let (mut br, mut bw) = (AsyncFrameReader::new(br), AsyncFrameWriter::new(bw));
    let (x, y) = tokio::join!(
        handshake(&mut ar, &mut aw, Role::Supervisor, Role::Worker),
        handshake(&mut br, &mut bw, Role::Client, Role::Supervisor),
    );
    assert!(
        matches!(
            x,
            Err(HandshakeError::Refused(HelloError::WrongRole {
                expected: Role::Worker,
                got: Role::Client
            }))
        ),
        "{x:?}"
    );
    assert_eq!(y.unwrap().role, Role::Supervisor);
}

#[tokio::test]
async fn recv_dropped_mid_frame_loses_nothing() {
    let (mut raw, ours) = duplex(1024);
    let mut reader = AsyncFrameReader::new(ours);
    let (_, from, _) = common::samples();
    let msg = &from[3];
    let mut frame = Vec::new();
    encode_frame(msg, &mut frame).unwrap();
    let half = frame.len() / 2;

    raw.write_all(&frame[..half]).await.unwrap();
    let first = timeout(SHORT, reader.recv::<FromWorker>()).await;
    assert!(first.is_err(), "recv must still be waiting: {first:?}");
    assert_eq!(reader.buffered(), half, "bytes read are kept");

    raw.write_all(&frame[half..]).await.unwrap();
    let got = reader.recv::<FromWorker>().await.unwrap();
    assert_eq!(got.as_ref(), Some(msg));

    drop(raw);
    assert!(reader.recv::<FromWorker>().await.unwrap().is_none());
}

#[tokio::test]
async fn recv_in_a_select_loop_with_a_trickling_peer() {
    let (mut raw, ours) = duplex(1024);
    let (to, _, _) = common::samples();
    let mut bytes = Vec::new();
    for m in &to {
        encode_frame(m, &mut bytes).unwrap();
    }
    let writer = tokio::spawn(async move {
        for chunk in bytes.chunks(7) {
            raw.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });

    let mut reader = AsyncFrameReader::new(ours);
    let mut tick = tokio::time::interval(Duration::from_micros(300));
    let mut got = Vec::new();
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            msg = reader.recv::<ToWorker>() => match msg.unwrap() {
                Some(m) => got.push(m),
                None => break,
            },
            _ = tick.tick() => ticks += 1,
        }
    }
    writer.await.unwrap();
    assert_eq!(got, to);
    assert!(ticks > 0, "the select loop really cancelled recv futures");
}

#[tokio::test]
async fn send_dropped_mid_write_completes_on_flush() {
    // A 16-byte pipe: a multi-kilobyte frame cannot be written in one go.
    let (peer, ours) = duplex(16);
    let mut writer = AsyncFrameWriter::new(ours);
    let (to, _, _) = common::samples();
    let big = ToWorker::Run(match &to[0] {
        ToWorker::Run(r) => jobvisor_protocol::worker::RunJob {
            payload: "p".repeat(4000),
            ..r.clone()
        },
        _ => unreachable!("the first sample is a Run"),
    });

    let first = timeout(SHORT, writer.send(&big)).await;
    assert!(first.is_err(), "send must still be blocked: {first:?}");
    assert!(writer.pending() > 0);

    let mut reader = AsyncFrameReader::new(peer);
    let (flushed, got) = tokio::join!(
        async {
            writer.flush().await.unwrap();
            writer.send(&ToWorker::Shutdown).await.unwrap();
            drop(writer);
        },
        async {
            let a = reader.recv::<ToWorker>().await.unwrap();
            let b = reader.recv::<ToWorker>().await.unwrap();
            let end = reader.recv::<ToWorker>().await.unwrap();
            (a, b, end)
        }
    );
    let () = flushed;
    assert_eq!(got, (Some(big), Some(ToWorker::Shutdown), None));
}

#[tokio::test]
async fn async_reader_caps_and_truncation_match_the_blocking_reader() {
    let (mut raw, ours) = duplex(1024);
    let mut reader = AsyncFrameReader::with_max_len(ours, 100);
    raw.write_all(&101u32.to_le_bytes()).await.unwrap();
    let res = reader.recv::<ToWorker>().await;
    assert!(
        matches!(res, Err(FrameError::TooLarge { len: 101, max: 100 })),
        "{res:?}"
    );

    let (mut raw, ours) = duplex(1024);
    let mut reader = AsyncFrameReader::new(ours);
    raw.write_all(&100u32.to_le_bytes()).await.unwrap();
    raw.write_all(&[0; 10]).await.unwrap();
    drop(raw);
    let res = reader.recv::<ToWorker>().await;
    assert!(
        matches!(
            res,
            Err(FrameError::Truncated {
                expected: 104,
                got: 14
            })
        ),
        "{res:?}"
    );
}
