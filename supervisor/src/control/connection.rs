//! One control connection: the handshake, then requests answered one at a time (or a
//! stream of events for `logs --follow`).
//!
//! Requests that wait for work (drain, restart, wait) are answered when it ends; the others
//! within the request timeout. Every answer is encoded whole before it is written, counted
//! against the shared answer budget while it waits for the client, and must be taken by
//! the client within a write deadline, else the connection is closed: a client that never
//! reads holds neither memory nor a seat for long.
//!
//! It must not touch the store or the workers: requests go to the dispatcher.

use std::sync::Arc;
use std::time::Duration;

use jobvisor_protocol::control::{ControlError, ErrorCode, Event, EventKind, Request, Response};
use jobvisor_protocol::tokio_io::{AsyncFrameReader, AsyncFrameWriter, handshake};
use jobvisor_protocol::{FrameError, Role, encode_frame};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, warn};

use super::admission::{Admission, Refusal, Seat};
use crate::dispatcher::ControlCall;

/// Largest request: a script source of a few MiB plus framing.
pub const CONTROL_FRAME_MAX: usize = 8 * 1024 * 1024;
/// A client must say hello within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection is closed after this (sooner when its seat is needed).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A client must take each answer (or event) within this.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection needs besides its socket.
#[derive(Clone)]
pub(crate) struct Channels {
    pub(crate) calls: mpsc::Sender<ControlCall>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) request_timeout: Duration,
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Handshake(#[from] jobvisor_protocol::HandshakeError),
    #[error("the client did not take a {bytes}-byte answer within {WRITE_TIMEOUT:?}")]
    NotReading { bytes: usize },
}

/// Reads frames from the client; answers go out through [`AnswerWriter`].
type Reader = AsyncFrameReader<OwnedReadHalf>;

/// Writes whole encoded frames under the write deadline and the answer budget.
struct AnswerWriter {
    socket: OwnedWriteHalf,
    admission: Arc<Admission>,
}

impl AnswerWriter {
    async fn send(&mut self, response: Response) -> Result<(), ConnectionError> {
        let mut frame = Vec::new();
        if let Err(err) = encode_frame(&response, &mut frame) {
            frame.clear();
            encode_frame(
                &internal(&format!("the answer cannot be sent: {err}")),
                &mut frame,
            )?;
        }
        // The answer lives on as its frame only.
        drop(response);
        let _reserved = match self.admission.reserve_answer(frame.len()) {
            Some(reserved) => Some(reserved),
            None => {
                let bytes = frame.len();
                frame = Vec::new();
                let refusal = error(
                    ErrorCode::Busy,
                    format!(
                        "the daemon is busy: answers to clients that do not read them fill its answer memory, so this {bytes}-byte answer was not sent; try again"
                    ),
                );
                encode_frame(&refusal, &mut frame)?;
                None
            }
        };
        match tokio::time::timeout(WRITE_TIMEOUT, self.socket.write_all(&frame)).await {
            Ok(written) => Ok(written.map_err(FrameError::Io)?),
            Err(_) => Err(ConnectionError::NotReading { bytes: frame.len() }),
        }
    }
}

/// A connection that could not get a seat: after the handshake, its first request is
/// answered with why, so the client can say what happened.
pub(crate) async fn refuse(stream: UnixStream, refusal: Refusal) {
    let (read, write) = stream.into_split();
    let mut reader = Reader::with_max_len(read, CONTROL_FRAME_MAX);
    let mut writer = AsyncFrameWriter::new(write);
    let greeted = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        handshake(&mut reader, &mut writer, Role::Supervisor, Role::Client).await?;
        reader.recv::<Request>().await?;
        writer
            .send(&error(ErrorCode::Busy, refusal.message()))
            .await?;
        Ok::<_, ConnectionError>(())
    })
    .await;
    debug!(
        ?refusal,
        greeted = greeted.is_ok(),
        "control connection refused"
    );
}

pub(crate) async fn serve_connection(
    stream: UnixStream,
    mut seat: Seat,
    channels: Channels,
) -> Result<(), ConnectionError> {
    let (read, write) = stream.into_split();
    let mut reader = Reader::with_max_len(read, CONTROL_FRAME_MAX);
    let mut hello_writer = AsyncFrameWriter::new(write);
    let greeted = tokio::select! {
        greeted = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            handshake(&mut reader, &mut hello_writer, Role::Supervisor, Role::Client),
        ) => greeted,
        () = seat.evicted() => return Ok(()),
    };
    match greeted {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            debug!(error = %err, "control handshake failed");
            return Ok(());
        }
        Err(_) => return Ok(()),
    }
    // The handshake returned, so the hello is written whole: nothing is left queued.
    let mut writer = AnswerWriter {
        socket: hello_writer.into_inner(),
        admission: seat.admission(),
    };
    // A request read while an earlier one was still being worked on.
    let mut read_ahead: Option<Request> = None;
    loop {
        let request = match read_ahead.take() {
            Some(request) => request,
            None => {
                seat.idle();
                let next = tokio::select! {
                    next = tokio::time::timeout(IDLE_TIMEOUT, reader.recv::<Request>()) => next,
                    () = seat.evicted() => {
                        debug!("idle control connection closed to make room for a new one");
                        return Ok(());
                    }
                };
                match next {
                    Ok(Ok(Some(request))) => request,
                    Ok(Ok(None)) | Err(_) => return Ok(()),
                    Ok(Err(err)) => {
                        let response =
                            error(ErrorCode::BadRequest, format!("malformed request: {err}"));
                        let _ = writer.send(response).await;
                        return Err(err.into());
                    }
                }
            }
        };
        seat.busy();
        if request == Request::Follow {
            if let Err(refusal) = seat.follow() {
                writer
                    .send(error(ErrorCode::Busy, refusal.message()))
                    .await?;
                continue;
            }
            return follow(reader, writer, channels.events.subscribe()).await;
        }
        let waits = waits_for_work(&request);
        let (reply, answer) = oneshot::channel();
        let call = ControlCall { request, reply };
        if channels.calls.send(call).await.is_err() {
            writer.send(internal("the daemon is shutting down")).await?;
            continue;
        }
        let answered = if waits {
            match await_work(answer, &mut reader, &mut read_ahead).await {
                Some(answered) => Ok(answered),
                // The client went away: nobody is left to answer.
                None => return Ok(()),
            }
        } else {
            tokio::time::timeout(channels.request_timeout, answer).await
        };
        let response = match answered {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => internal("the daemon dropped the request"),
            Err(_) => internal("the request timed out inside the daemon"),
        };
        if let Err(err) = writer.send(response).await {
            if let ConnectionError::NotReading { bytes } = err {
                warn!(
                    bytes,
                    "closed a control connection that did not read its answer"
                );
            }
            return Err(err);
        }
    }
}

/// Requests answered when their work ends, however long it takes: a drain within its
/// deadline, a rolling restart when its last worker is replaced, a wait when its job ends.
/// Every other request answers at once and is bounded by the request timeout.
fn waits_for_work(request: &Request) -> bool {
    matches!(
        request,
        Request::Drain | Request::Restart { .. } | Request::WaitJob { .. }
    )
}

/// Waits for the answer to a long request while watching the client: `None` when it
/// closed its end (or broke the framing) meanwhile. A request it sends meanwhile (a
/// pipelining client) is kept in `read_ahead`; the rest wait in the socket.
async fn await_work(
    mut answer: oneshot::Receiver<Response>,
    reader: &mut Reader,
    read_ahead: &mut Option<Request>,
) -> Option<Result<Response, oneshot::error::RecvError>> {
    while read_ahead.is_none() {
        tokio::select! {
            answered = &mut answer => return Some(answered),
            // Cancel-safe: a frame half read stays buffered for the next `recv`.
            next = reader.recv::<Request>() => match next {
                Ok(Some(request)) => *read_ahead = Some(request),
                Ok(None) | Err(_) => return None,
            },
        }
    }
    Some(answer.await)
}

/// Streams events until the client goes away. A client too slow to keep up is told how
/// many events it missed instead of slowing the daemon down; one that takes no event
/// within the write deadline is dropped.
async fn follow(
    mut reader: Reader,
    mut writer: AnswerWriter,
    mut events: broadcast::Receiver<Event>,
) -> Result<(), ConnectionError> {
    writer.send(Response::Following).await?;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            // The client closed its end (it sends nothing while following).
            closed = reader.recv::<Request>() => match closed {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return Ok(()),
            },
        };
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => Event {
                at_ms: 0,
                kind: EventKind::Lagged { missed },
            },
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        };
        writer.send(Response::Event(event)).await?;
    }
}

fn error(code: ErrorCode, message: String) -> Response {
    Response::Error(ControlError { code, message })
}

fn internal(message: &str) -> Response {
    error(ErrorCode::Internal, message.to_owned())
}
