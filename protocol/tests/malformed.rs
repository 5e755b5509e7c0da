//! Malformed input is an error: never a panic, never a large allocation.
//!
//! A global allocator wrapper records the largest single allocation made by the test's
//! own thread, so "no big allocation" is measured, not assumed.
#![allow(clippy::unwrap_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;

use bincode::error::DecodeError;
use jobvisor_protocol::worker::{FromWorker, ToWorker};
use jobvisor_protocol::{
    DEFAULT_MAX_FRAME_LEN, FrameError, FrameReader, Hello, MAX_FRAME_LEN, decode_body,
    encode_frame, read_frame,
};

struct Tracking;

thread_local! {
    // const-initialised and without destructor: safe to touch from inside the allocator.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// Runs `f` and returns its result with the largest allocation it made on this thread.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    let r = f();
    (r, LARGEST.with(Cell::get))
}

/// "Small": far below any claimed length used here.
const SMALL: usize = 64 * 1024;

fn frame_with_body(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn read_one<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, FrameError> {
    read_frame::<T, _>(&mut Cursor::new(bytes), DEFAULT_MAX_FRAME_LEN)
}

fn reader_one<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, FrameError> {
    let mut r = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    r.push(bytes);
    match r.next_frame::<T>()? {
        Some(m) => Ok(Some(m)),
        None => r.finish().map(|()| None),
    }
}

#[test]
fn prefix_of_4_gib_is_too_large_before_any_allocation() {
    let mut bytes = u32::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0; 16]);
    let (res, largest) = largest_allocation(|| read_one::<ToWorker>(&bytes));
    assert!(
        matches!(res, Err(FrameError::TooLarge { len, max: DEFAULT_MAX_FRAME_LEN }) if len == u32::MAX as usize),
        "{res:?}"
    );
    assert!(largest < SMALL, "allocated {largest} bytes");

    let (res, largest) = largest_allocation(|| reader_one::<ToWorker>(&bytes));
    assert!(matches!(res, Err(FrameError::TooLarge { .. })), "{res:?}");
    assert!(largest < SMALL, "allocated {largest} bytes");
}

#[test]
fn prefix_of_100_mib_is_too_large_even_with_an_unbounded_cap() {
    let bytes = (100u32 << 20).to_le_bytes();
    // The caller's cap cannot lift the hard ceiling.
    let res = read_frame::<ToWorker, _>(&mut Cursor::new(&bytes), usize::MAX);
    assert!(
        matches!(res, Err(FrameError::TooLarge { len, max: MAX_FRAME_LEN }) if len == 100 << 20),
        "{res:?}"
    );
    let mut r = FrameReader::new(usize::MAX);
    assert_eq!(r.max_len(), MAX_FRAME_LEN);
    r.push(&bytes);
    assert!(matches!(
        r.next_frame::<ToWorker>(),
        Err(FrameError::TooLarge { .. })
    ));
    // Sticky: the stream cannot be resynchronised.
    assert!(matches!(
        r.next_frame::<ToWorker>(),
        Err(FrameError::TooLarge { .. })
    ));
    assert!(matches!(r.finish(), Err(FrameError::TooLarge { .. })));
}

#[test]
fn too_large_is_refused_as_soon_as_the_prefix_is_complete() {
    let mut r = FrameReader::new(1000);
    r.push(&1001u32.to_le_bytes()[..3]);
    assert!(r.next_frame::<ToWorker>().unwrap().is_none());
    r.push(&1001u32.to_le_bytes()[3..]);
    assert!(matches!(
        r.next_frame::<ToWorker>(),
        Err(FrameError::TooLarge {
            len: 1001,
            max: 1000
        })
    ));
}

/// A 30-byte `FromWorker::Log` body whose `text` claims `claim` bytes.
fn log_claiming(claim: u64) -> Vec<u8> {
    let mut body = vec![
        1,   // variant Log
        84,  // job_id 42, zigzag varint
        1,   // attempt
        2,   // level Warn
        253, // u64 length follows
    ];
    body.extend_from_slice(&claim.to_le_bytes());
    body.resize(30, b'a');
    body
}

#[test]
fn small_body_claiming_a_1_tib_string_is_a_decode_error() {
    let frame = frame_with_body(&log_claiming(1 << 40));
    // A 1 TiB allocation would abort the test binary; a 64 MiB one would fail the check.
    for res in [
        largest_allocation(|| read_one::<FromWorker>(&frame)),
        largest_allocation(|| reader_one::<FromWorker>(&frame)),
    ] {
        let (res, largest) = res;
        assert!(
            matches!(res, Err(FrameError::Decode(DecodeError::LimitExceeded))),
            "{res:?}"
        );
        assert!(largest < SMALL, "allocated {largest} bytes");
    }
}

#[test]
fn small_body_claiming_32_mib_allocates_nothing_near_it() {
    // Within the 64 MiB hard limit: only the limit scaled to the body size stops it.
    let body = log_claiming(32 << 20);
    let (res, largest) = largest_allocation(|| decode_body::<FromWorker>(&body));
    assert!(
        matches!(res, Err(FrameError::Decode(DecodeError::LimitExceeded))),
        "{res:?}"
    );
    assert!(largest < SMALL, "allocated {largest} bytes");
}

#[test]
fn small_body_claiming_a_huge_run_job_string_is_a_decode_error() {
    // ToWorker::Run with job_id, attempt, max_attempts, then `queue` claiming 2^40.
    let mut body = vec![0, 2, 1, 3, 253];
    body.extend_from_slice(&(1u64 << 40).to_le_bytes());
    body.resize(30, 0);
    let (res, largest) = largest_allocation(|| read_one::<ToWorker>(&frame_with_body(&body)));
    assert!(matches!(res, Err(FrameError::Decode(_))), "{res:?}");
    assert!(largest < SMALL, "allocated {largest} bytes");
}

#[test]
fn truncated_body_is_an_error() {
    let mut bytes = 100u32.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0; 10]);
    let res = read_one::<ToWorker>(&bytes);
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
    let res = reader_one::<ToWorker>(&bytes);
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

#[test]
fn peer_claiming_16_mib_and_sending_5_bytes_costs_little() {
    let mut bytes = (DEFAULT_MAX_FRAME_LEN as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    let (res, largest) = largest_allocation(|| read_one::<ToWorker>(&bytes));
    assert!(
        matches!(res, Err(FrameError::Truncated { got: 9, .. })),
        "{res:?}"
    );
    assert!(largest < SMALL, "allocated {largest} bytes");
}

#[test]
fn eof_inside_the_prefix_is_truncated() {
    for n in 1..4 {
        let bytes = &7u32.to_le_bytes()[..n];
        let res = read_one::<ToWorker>(bytes);
        assert!(
            matches!(res, Err(FrameError::Truncated { expected: 4, got }) if got == n),
            "{res:?}"
        );
        let res = reader_one::<ToWorker>(bytes);
        assert!(
            matches!(res, Err(FrameError::Truncated { expected: 4, got }) if got == n),
            "{res:?}"
        );
    }
}

#[test]
fn clean_eof_is_none() {
    assert!(read_one::<ToWorker>(&[]).unwrap().is_none());
    assert!(reader_one::<ToWorker>(&[]).unwrap().is_none());
    FrameReader::new(DEFAULT_MAX_FRAME_LEN).finish().unwrap();
}

#[test]
fn unknown_enum_tags_are_decode_errors() {
    // ToWorker has 3 variants.
    for body in [[3u8], [7], [200]] {
        let res = read_one::<ToWorker>(&frame_with_body(&body));
        assert!(matches!(res, Err(FrameError::Decode(_))), "{res:?}");
    }
    // FromWorker has 5 variants.
    let res = read_one::<FromWorker>(&frame_with_body(&[5, 0]));
    assert!(matches!(res, Err(FrameError::Decode(_))), "{res:?}");
    // A Log whose level tag is 9.
    let res = read_one::<FromWorker>(&frame_with_body(&[1, 0, 0, 9, 0]));
    assert!(matches!(res, Err(FrameError::Decode(_))), "{res:?}");
    // A Hello whose role tag is 5.
    let mut frame = Vec::new();
    encode_frame(&Hello::ours(jobvisor_protocol::Role::Worker), &mut frame).unwrap();
    frame[4 + 8 + 1] = 5; // after magic and the one-byte version varint
    let res = read_one::<Hello>(&frame);
    assert!(matches!(res, Err(FrameError::Decode(_))), "{res:?}");
}

#[test]
fn empty_body_and_invalid_utf8_are_decode_errors() {
    let res = read_one::<ToWorker>(&frame_with_body(&[]));
    assert!(matches!(res, Err(FrameError::Decode(_))), "{res:?}");
    // Log with a 2-byte text that is not UTF-8.
    let res = read_one::<FromWorker>(&frame_with_body(&[1, 0, 0, 0, 2, 0xff, 0xfe]));
    assert!(
        matches!(res, Err(FrameError::Decode(DecodeError::Utf8 { .. }))),
        "{res:?}"
    );
}

#[test]
fn trailing_bytes_are_refused_and_the_stream_stays_in_sync() {
    let mut bytes = frame_with_body(&[1, 0xaa, 0xbb, 0xcc]); // Shutdown + 3 extra bytes
    encode_frame(&ToWorker::Shutdown, &mut bytes).unwrap();

    let mut cursor = Cursor::new(&bytes);
    let res = read_frame::<ToWorker, _>(&mut cursor, DEFAULT_MAX_FRAME_LEN);
    assert!(
        matches!(
            res,
            Err(FrameError::TrailingBytes {
                consumed: 1,
                len: 4
            })
        ),
        "{res:?}"
    );
    let next = read_frame::<ToWorker, _>(&mut cursor, DEFAULT_MAX_FRAME_LEN).unwrap();
    assert_eq!(next, Some(ToWorker::Shutdown));

    let mut r = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    r.push(&bytes);
    assert!(matches!(
        r.next_frame::<ToWorker>(),
        Err(FrameError::TrailingBytes { .. })
    ));
    assert_eq!(
        r.next_frame::<ToWorker>().unwrap(),
        Some(ToWorker::Shutdown)
    );
    r.finish().unwrap();
}

#[test]
fn error_messages_are_lowercase_and_chain_their_source() {
    let err = read_one::<FromWorker>(&frame_with_body(&log_claiming(1 << 40))).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
    assert!(std::error::Error::source(&err).is_some());
}
