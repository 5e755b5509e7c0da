//! The daemon's control socket: a path socket in the run dir (directory 0700, socket
//! 0600), the peer's uid checked on every connection, frames bounded, connections capped.
//! Requests that wait for work (drain, restart, wait) are answered when it ends; the
//! others within the request timeout.
//!
//! It owns the listening socket and the connections. It must not touch the store or the
//! workers: every request goes to the dispatcher, which answers it.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jobvisor_protocol::control::{ControlError, ErrorCode, Event, EventKind, Request, Response};
use jobvisor_protocol::tokio_io::AsyncTransport;
use jobvisor_protocol::{FrameError, Role};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::dispatcher::ControlCall;

/// Largest request: a script source of a few MiB plus framing.
pub const CONTROL_FRAME_MAX: usize = 8 * 1024 * 1024;
/// Connections served at once; more wait in the kernel's backlog. Each costs a small
/// task and one fd, so idle clients cannot starve the others.
const MAX_CONNECTIONS: usize = 1024;
/// A client must say hello within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection is closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ControlSocketError {
    #[error("run directory {path}: {source}")]
    RunDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("run directory {0} is owned by another user; refusing to put the control socket there")]
    RunDirOwner(PathBuf),
    #[error(
        "run directory {0} is a symlink (or lies below another user's symlink); refusing to use it: set run_dir to the real directory"
    )]
    RunDirSymlink(PathBuf),
    #[error("{0} exists and is not a socket; refusing to replace it: move it away")]
    NotASocket(PathBuf),
    #[error("{0} is a symlink; refusing to use it: remove it")]
    Symlink(PathBuf),
    #[error(
        "{0} belongs to another user; refusing to replace it: remove it as that user or use another run_dir"
    )]
    OtherOwner(PathBuf),
    #[error("another jobvisor daemon is listening on {0}; stop it first or use another run_dir")]
    Live(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The bound socket; removes its path when dropped.
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    /// Members of this group may connect too (the socket and run dir are then group-accessible).
    allowed_gid: Option<u32>,
}

impl ControlServer {
    /// Creates the run dir (0700) and binds the socket (0600), replacing a stale socket
    /// left by a crashed daemon and refusing anything else in the way.
    pub async fn bind(
        path: &Path,
        allowed_gid: Option<u32>,
    ) -> Result<ControlServer, ControlSocketError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        prepare_run_dir(dir, allowed_gid)?;
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(ControlSocketError::Symlink(path.to_owned()));
            }
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(ControlSocketError::NotASocket(path.to_owned()));
            }
            Ok(meta) if meta.uid() != current_uid() => {
                return Err(ControlSocketError::OtherOwner(path.to_owned()));
            }
            Ok(_) => {
                if UnixStream::connect(path).await.is_ok() {
                    return Err(ControlSocketError::Live(path.to_owned()));
                }
                info!(path = %path.display(), "replacing a stale control socket");
                std::fs::remove_file(path).map_err(|source| ControlSocketError::Bind {
                    path: path.to_owned(),
                    source,
                })?;
            }
            Err(_) => {}
        }
        let bind_err = |source| ControlSocketError::Bind {
            path: path.to_owned(),
            source,
        };
        let listener = UnixListener::bind(path).map_err(bind_err)?;
        let mode = if allowed_gid.is_some() { 0o660 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(bind_err)?;
        if let Some(gid) = allowed_gid {
            std::os::unix::fs::chown(path, None, Some(gid)).map_err(bind_err)?;
        }
        Ok(ControlServer {
            listener,
            path: path.to_owned(),
            allowed_gid,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts connections until `shutdown` fires.
    pub async fn serve(
        &self,
        calls: mpsc::Sender<ControlCall>,
        events: broadcast::Sender<Event>,
        request_timeout: Duration,
        mut shutdown: oneshot::Receiver<()>,
    ) {
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let own_uid = current_uid();
        let allowed_gid = self.allowed_gid;
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => return,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let accepted = tokio::select! {
                _ = &mut shutdown => return,
                accepted = self.listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    warn!(error = %err, "accepting a control connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match stream.peer_cred() {
                Ok(cred) if cred.uid() == own_uid || cred.uid() == 0 => {}
                Ok(cred) if allowed_gid.is_some_and(|gid| in_group(&cred, gid)) => {}
                Ok(cred) => {
                    warn!(peer_uid = cred.uid(), peer_pid = ?cred.pid(), "control connection from another user refused");
                    continue;
                }
                Err(err) => {
                    warn!(error = %err, "cannot read the peer's credentials; connection refused");
                    continue;
                }
            }
            let calls = calls.clone();
            let events = events.clone();
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(err) = serve_connection(stream, calls, events, request_timeout).await {
                    debug!(error = %err, "control connection ended");
                }
            });
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve_connection(
    stream: UnixStream,
    calls: mpsc::Sender<ControlCall>,
    events: broadcast::Sender<Event>,
    request_timeout: Duration,
) -> Result<(), FrameError> {
    let mut transport = AsyncTransport::with_max_len(stream, CONTROL_FRAME_MAX);
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        transport.handshake(Role::Supervisor, Role::Client),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            debug!(error = %err, "control handshake failed");
            return Ok(());
        }
        Err(_) => return Ok(()),
    }
    // A request read while an earlier one was still being worked on.
    let mut read_ahead: Option<Request> = None;
    loop {
        let request = match read_ahead.take() {
            Some(request) => request,
            None => match tokio::time::timeout(IDLE_TIMEOUT, transport.recv::<Request>()).await {
                Ok(Ok(Some(request))) => request,
                Ok(Ok(None)) | Err(_) => return Ok(()),
                Ok(Err(err)) => {
                    let response = Response::Error(ControlError {
                        code: ErrorCode::BadRequest,
                        message: format!("malformed request: {err}"),
                    });
                    let _ = transport.send(&response).await;
                    return Err(err);
                }
            },
        };
        if request == Request::Follow {
            return follow(transport, events.subscribe()).await;
        }
        let waits = waits_for_work(&request);
        let (reply, answer) = oneshot::channel();
        if calls.send(ControlCall { request, reply }).await.is_err() {
            transport
                .send(&internal("the daemon is shutting down"))
                .await?;
            continue;
        }
        let answered = if waits {
            match await_work(answer, &mut transport, &mut read_ahead).await {
                Some(answered) => answered,
                // The client went away: nobody is left to answer.
                None => return Ok(()),
            }
        } else {
            tokio::time::timeout(request_timeout, answer)
                .await
                .map_err(|_| "the request timed out inside the daemon")
        };
        let response = match answered {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => internal("the daemon dropped the request"),
            Err(message) => internal(message),
        };
        transport.send(&response).await?;
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

type Answer = Result<Result<Response, oneshot::error::RecvError>, &'static str>;

/// Waits for the answer to a long request while watching the client: `None` when it
/// closed its end (or broke the framing) meanwhile. A request it sends meanwhile (a
/// pipelining client) is kept in `read_ahead`; the rest wait in the socket.
async fn await_work(
    mut answer: oneshot::Receiver<Response>,
    transport: &mut AsyncTransport<UnixStream>,
    read_ahead: &mut Option<Request>,
) -> Option<Answer> {
    while read_ahead.is_none() {
        tokio::select! {
            answered = &mut answer => return Some(Ok(answered)),
            // Cancel-safe: a frame half read stays buffered for the next `recv`.
            next = transport.recv::<Request>() => match next {
                Ok(Some(request)) => *read_ahead = Some(request),
                Ok(None) | Err(_) => return None,
            },
        }
    }
    Some(Ok(answer.await))
}

/// Streams events until the client goes away. A client too slow to keep up is told how
/// many events it missed instead of slowing the daemon down.
async fn follow(
    mut transport: AsyncTransport<UnixStream>,
    mut events: broadcast::Receiver<Event>,
) -> Result<(), FrameError> {
    transport.send(&Response::Following).await?;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            // The client closed its end (it sends nothing while following).
            closed = transport.recv::<Request>() => match closed {
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
        transport.send(&Response::Event(event)).await?;
    }
}

/// Whether the peer's primary or supplementary groups include `gid`.
fn in_group(cred: &tokio::net::unix::UCred, gid: u32) -> bool {
    if cred.gid() == gid {
        return true;
    }
    let Some(pid) = cred.pid() else {
        return false;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Groups:"))
                .map(|groups| groups.split_whitespace().any(|g| g.parse() == Ok(gid)))
        })
        .unwrap_or(false)
}

fn internal(message: &str) -> Response {
    Response::Error(ControlError {
        code: ErrorCode::Internal,
        message: message.to_owned(),
    })
}

fn prepare_run_dir(dir: &Path, allowed_gid: Option<u32>) -> Result<(), ControlSocketError> {
    let io_err = |source| ControlSocketError::RunDir {
        path: dir.to_owned(),
        source,
    };
    check_run_dir_path(dir)?;
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err)?;
    }
    // Everything below goes through a descriptor opened without following a symlink, so
    // a link swapped in after the check cannot redirect the chmod to another directory.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => ControlSocketError::RunDirSymlink(dir.to_owned()),
            _ => io_err(source),
        })?;
    let meta = opened.metadata().map_err(io_err)?;
    if meta.uid() != current_uid() {
        return Err(ControlSocketError::RunDirOwner(dir.to_owned()));
    }
    // Only the owner (and the allowed group, which may pass through but not list it).
    let mode = if allowed_gid.is_some() { 0o710 } else { 0o700 };
    if meta.mode() & 0o777 != mode {
        opened
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_err)?;
    }
    if let Some(gid) = allowed_gid {
        std::os::unix::fs::fchown(&opened, None, Some(gid)).map_err(io_err)?;
    }
    Ok(())
}

/// Refuses a run dir that is a symlink, or lies below a symlink that neither root nor
/// this user owns: in a world-writable place another user could point it at a directory
/// of ours and have the daemon change that directory's mode. Creates nothing.
pub fn check_run_dir_path(dir: &Path) -> Result<(), ControlSocketError> {
    if std::fs::symlink_metadata(dir).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Err(ControlSocketError::RunDirSymlink(dir.to_owned()));
    }
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    for ancestor in absolute.ancestors().skip(1) {
        if let Ok(meta) = std::fs::symlink_metadata(ancestor)
            && meta.file_type().is_symlink()
            && meta.uid() != 0
            && meta.uid() != current_uid()
        {
            return Err(ControlSocketError::RunDirSymlink(dir.to_owned()));
        }
    }
    Ok(())
}

pub fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
