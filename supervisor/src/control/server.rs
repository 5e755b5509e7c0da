//! The daemon's control socket: a path socket in the run dir (directory 0700, socket
//! 0600), the peer's uid checked on every connection, each connection given a seat (or
//! told why not) by [`super::admission`] and served by [`super::connection`].
//!
//! It owns the listening socket. It must not touch the store or the workers: every
//! request goes to the dispatcher, which answers it.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jobvisor_protocol::control::Event;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tracing::{debug, info, warn};

use super::admission::Admission;
pub use super::connection::CONTROL_FRAME_MAX;
use super::connection::{Channels, refuse, serve_connection};
use crate::dispatcher::ControlCall;

/// Connections without a seat that are told why at once; more are closed unanswered.
const REFUSALS_AT_ONCE: usize = 16;

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
        let admission = Admission::new();
        let refusing = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
        let channels = Channels {
            calls,
            events,
            request_timeout,
        };
        let own_uid = current_uid();
        let allowed_gid = self.allowed_gid;
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => return,
                accepted = self.listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors, most likely: give closing connections a moment.
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
            match admission.admit() {
                Ok(seat) => {
                    let channels = channels.clone();
                    tokio::spawn(async move {
                        if let Err(err) = serve_connection(stream, seat, channels).await {
                            debug!(error = %err, "control connection ended");
                        }
                    });
                }
                Err(refusal) => {
                    warn!(?refusal, "control connection refused: no free seat");
                    // Beyond a few refusals at once, the connection is just closed.
                    if let Ok(permit) = refusing.clone().try_acquire_owned() {
                        tokio::spawn(async move {
                            let _permit = permit;
                            refuse(stream, refusal).await;
                        });
                    }
                }
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
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
