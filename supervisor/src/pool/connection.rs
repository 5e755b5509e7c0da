//! The supervisor's end of one worker's socket: the handshake, then frames.

use std::time::Duration;

use jobvisor_protocol::host::MAX_HOST_CALL_BYTES;
use jobvisor_protocol::tokio_io::AsyncTransport;
use jobvisor_protocol::worker::{FromWorker, ToWorker};
use jobvisor_protocol::{FrameError, HandshakeError, Role};
use tokio::net::UnixStream;

/// Largest frame a worker may send: a 4 MiB result plus headroom.
pub const WORKER_FRAME_MAX: usize = 16 * 1024 * 1024;

/// Why a worker could not be brought up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot register the worker socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake failed: {0}")]
    Handshake(#[source] HandshakeError),
    #[error("no hello and ready from the worker within {0:?}")]
    Timeout(Duration),
    #[error("the worker sent {0} instead of Ready")]
    NotReady(&'static str),
    #[error("reading the worker's Ready: {0}")]
    Frame(#[source] FrameError),
    #[error("the worker closed its socket before it was ready")]
    Closed,
}

/// A worker that has said hello and is ready.
#[derive(Debug)]
pub struct WorkerConnection {
    transport: AsyncTransport<UnixStream>,
    pub pid: u32,
}

impl WorkerConnection {
    /// Handshakes and waits for `Ready`, within `within`.
    pub async fn establish(
        socket: std::os::unix::net::UnixStream,
        within: Duration,
    ) -> Result<WorkerConnection, ConnectError> {
        socket.set_nonblocking(true)?;
        let stream = UnixStream::from_std(socket)?;
        let mut transport = AsyncTransport::with_max_len(stream, WORKER_FRAME_MAX);
        let ready = async {
            transport
                .handshake(Role::Supervisor, Role::Worker)
                .await
                .map_err(ConnectError::Handshake)?;
            match transport.recv::<FromWorker>().await {
                Ok(Some(FromWorker::Ready { pid })) => Ok(pid),
                Ok(Some(other)) => Err(ConnectError::NotReady(message_name(&other))),
                Ok(None) => Err(ConnectError::Closed),
                Err(e) => Err(ConnectError::Frame(e)),
            }
        };
        let pid = tokio::time::timeout(within, ready)
            .await
            .map_err(|_| ConnectError::Timeout(within))??;
        Ok(WorkerConnection { transport, pid })
    }

    pub async fn send(&mut self, message: &ToWorker) -> Result<(), FrameError> {
        self.transport.send(message).await
    }

    /// Bytes of a frame that has begun to arrive and is not complete yet.
    pub fn partial_frame_bytes(&self) -> usize {
        self.transport.buffered()
    }

    /// The next frame; `Ok(None)` when the worker closed its socket between frames.
    /// Cancel-safe.
    /// A host call larger than [`MAX_HOST_CALL_BYTES`] is refused before it is decoded,
    /// with [`FrameError::TooLarge`] naming that cap.
    pub async fn recv(&mut self) -> Result<Option<FromWorker>, FrameError> {
        self.transport.recv_checked(host_call_within_cap).await
    }
}

/// Refuses a host call body above [`MAX_HOST_CALL_BYTES`], from its length alone.
fn host_call_within_cap(body: &[u8]) -> Result<(), FrameError> {
    if body.len() > MAX_HOST_CALL_BYTES && FromWorker::body_is_host_call(body) {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max: MAX_HOST_CALL_BYTES,
        });
    }
    Ok(())
}

/// The variant name of a worker message, for errors and logs.
pub fn message_name(message: &FromWorker) -> &'static str {
    match message {
        FromWorker::Ready { .. } => "Ready",
        FromWorker::Log { .. } => "Log",
        FromWorker::Progress { .. } => "Progress",
        FromWorker::Pong { .. } => "Pong",
        FromWorker::Done { .. } => "Done",
        FromWorker::HostCall { .. } => "HostCall",
    }
}
