//! The client side of the control socket, shared by every command that talks to the
//! daemon.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jobvisor_protocol::control::{Request, Response};
use jobvisor_protocol::tokio_io::AsyncTransport;
use jobvisor_protocol::{HandshakeError, HelloError, Role};
use tokio::net::UnixStream;

use crate::config::Config;
use crate::control::server::CONTROL_FRAME_MAX;
use crate::exit_code;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FRAME_MAX: usize = 64 * 1024 * 1024;

/// Where to find the daemon: `--socket`, else the run dir of `--config`, else of
/// `$JOBVISOR_CONFIG`, else of the embedded defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The daemon's config file (its run_dir locates the control socket).
    #[arg(long, global = true, env = "JOBVISOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// The control socket, overriding the config.
    #[arg(long, global = true, env = "JOBVISOR_SOCKET")]
    pub socket: Option<PathBuf>,
}

/// A client failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub message: String,
    pub code: u8,
}

impl ClientError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        ClientError {
            message: message.into(),
            code,
        }
    }
}

impl Target {
    pub fn socket_path(&self) -> Result<PathBuf, ClientError> {
        if let Some(socket) = &self.socket {
            return Ok(socket.clone());
        }
        let config = match &self.config {
            Some(path) => {
                Config::load(path).map_err(|e| ClientError::new(exit_code::USAGE, e.to_string()))?
            }
            None => Config::embedded(),
        };
        Ok(config.control_socket_path())
    }
}

/// A handshaken connection to the daemon.
pub struct Client {
    transport: AsyncTransport<UnixStream>,
}

impl Client {
    pub async fn connect(target: &Target) -> Result<Client, ClientError> {
        let path = target.socket_path()?;
        Client::connect_path(&path).await
    }

    pub async fn connect_path(path: &Path) -> Result<Client, ClientError> {
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                let hint = match err.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        "is the daemon running? start it with `jobvisor serve`, or point at it with --config or --socket"
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        "the socket belongs to another user: run as the daemon's user"
                    }
                    _ => "check --socket / --config",
                };
                return Err(ClientError::new(
                    exit_code::NOT_RUNNING,
                    format!("cannot connect to {}: {err}; {hint}", path.display()),
                ));
            }
            Err(_) => {
                return Err(ClientError::new(
                    exit_code::NOT_RUNNING,
                    format!("connecting to {} timed out", path.display()),
                ));
            }
        };
        let mut transport = AsyncTransport::with_max_len(stream, FRAME_MAX);
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            transport.handshake(Role::Client, Role::Supervisor),
        )
        .await
        {
            Ok(Ok(_)) => Ok(Client { transport }),
            Ok(Err(HandshakeError::Refused(HelloError::VersionMismatch { peer, ours }))) => {
                Err(ClientError::new(
                    exit_code::FAILURE,
                    format!(
                        "the daemon at {} speaks protocol version {peer} and this jobvisor speaks {ours}: use the jobvisor binary of the same version as the daemon",
                        path.display()
                    ),
                ))
            }
            Ok(Err(HandshakeError::Refused(refused))) => Err(ClientError::new(
                exit_code::FAILURE,
                format!(
                    "{} is not a jobvisor daemon's control socket: {refused}",
                    path.display()
                ),
            )),
            Ok(Err(err)) => Err(ClientError::new(
                exit_code::FAILURE,
                format!(
                    "the daemon at {} closed the connection during the handshake ({err}); {}",
                    path.display(),
                    handshake_hint(path)
                ),
            )),
            Err(_) => Err(ClientError::new(
                exit_code::FAILURE,
                format!(
                    "the daemon at {} did not answer the handshake within {}s; {}",
                    path.display(),
                    CONNECT_TIMEOUT.as_secs(),
                    handshake_hint(path)
                ),
            )),
        }
    }

    pub async fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        check_request_size(request)?;
        self.transport.send(request).await.map_err(|e| {
            ClientError::new(exit_code::FAILURE, format!("sending the request: {e}"))
        })?;
        match self.transport.recv::<Response>().await {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(ClientError::new(
                exit_code::FAILURE,
                "the daemon closed the connection without answering",
            )),
            Err(e) => Err(ClientError::new(
                exit_code::FAILURE,
                format!("reading the answer: {e}"),
            )),
        }
    }
}

impl Client {
    /// The next frame of a stream (`Follow`); `None` when the daemon closed it.
    pub async fn next(&mut self) -> Result<Option<Response>, ClientError> {
        self.transport.recv::<Response>().await.map_err(|e| {
            ClientError::new(exit_code::FAILURE, format!("reading from the daemon: {e}"))
        })
    }
}

/// Refuses, before anything is sent, a request the daemon's frame cap would make it drop
/// (the connection would close with a bare i/o error instead of an answer).
fn check_request_size(request: &Request) -> Result<(), ClientError> {
    let mut frame = Vec::new();
    let size = match jobvisor_protocol::encode_frame(request, &mut frame) {
        // The frame counts its 4-byte length prefix: a few bytes conservative.
        Ok(()) if frame.len() <= CONTROL_FRAME_MAX => return Ok(()),
        Ok(()) => format!("{} bytes", frame.len()),
        Err(jobvisor_protocol::FrameError::EncodedTooLarge { max }) => {
            format!("more than {max} bytes")
        }
        Err(err) => {
            return Err(ClientError::new(
                exit_code::FAILURE,
                format!("cannot encode the request: {err}"),
            ));
        }
    };
    Err(ClientError::new(
        exit_code::USAGE,
        format!(
            "the request is {size}, above the control socket's limit of {CONTROL_FRAME_MAX} bytes; nothing was sent"
        ),
    ))
}

/// Why a daemon may hang up on (or never greet) a client: it runs as another user and
/// refuses this one, or it is overloaded (it tells a client it has no seat for once the
/// handshake is done, so this is the case where even that did not happen).
fn handshake_hint(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let ours = crate::control::server::current_uid();
    match std::fs::metadata(path) {
        Ok(meta) if ours != 0 && meta.uid() != ours => format!(
            "the daemon runs as uid {} and refuses other users (uid {ours}) unless its config's `[control] group` admits them: run as uid {}",
            meta.uid(),
            meta.uid()
        ),
        _ => "the daemon may be overloaded (see its log), or restarting".to_owned(),
    }
}

/// An answer that does not fit the request (a daemon of another version).
pub fn unexpected(response: &Response) -> ClientError {
    ClientError::new(
        exit_code::FAILURE,
        format!("unexpected answer from the daemon: {response:?}"),
    )
}

/// Runs a client command on a small runtime and maps its error to an exit code.
pub fn run_client<F>(future: F) -> u8
where
    F: Future<Output = Result<u8, ClientError>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("jobvisor: cannot start the runtime: {err}");
            return exit_code::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("jobvisor: {}", err.message);
            err.code
        }
    }
}

/// Turns a daemon-side error into a client error.
pub fn daemon_error(err: &jobvisor_protocol::control::ControlError) -> ClientError {
    use jobvisor_protocol::control::ErrorCode;
    let code = match err.code {
        ErrorCode::BadRequest | ErrorCode::NotFound => exit_code::USAGE,
        _ => exit_code::FAILURE,
    };
    ClientError::new(code, err.message.clone())
}
