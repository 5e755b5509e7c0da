//! Wire protocol of jobvisor: the frame codec, the `Hello` handshake and the messages
//! exchanged between the supervisor and its workers.
//!
//! This crate owns the bytes on the wire and nothing else. It never spawns, never
//! touches the database and never depends on the JS engine. Every decoder here is
//! size-capped and total: malformed input is an error, never a panic or a large
//! allocation.

mod blocking;
pub mod control;
mod frame;
mod hello;
pub mod host;
pub mod worker;

pub use blocking::BlockingTransport;
pub use frame::{
    DEFAULT_MAX_FRAME_LEN, FrameError, FrameReader, MAX_FRAME_LEN, decode_body, encode_frame,
    read_frame, write_frame,
};
pub use hello::{HandshakeError, Hello, HelloError, MAGIC, PROTOCOL_VERSION, Role};

#[cfg(feature = "tokio")]
pub mod tokio_io;
