//! One daemon per state directory: an exclusive `flock` on `<state_dir>/jobvisor.lock`,
//! held for the daemon's life and released by the kernel however it exits.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another jobvisor daemon{holder} is already running on {dir}; stop it first or use another state_dir"
    )]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    pub fn acquire(state_dir: &Path) -> Result<InstanceLock, LockError> {
        let path = state_dir.join("jobvisor.lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        // A daemon killed a moment ago can leave the lock to a child caught between fork
        // and exec (it inherited the descriptor and dies of PDEATHSIG when it next runs).
        // When the recorded holder is gone, wait a little for the lock rather than refuse
        // the restart; a live holder is refused at once.
        let deadline = std::time::Instant::now() + ORPHANED_LOCK_WAIT;
        loop {
            // SAFETY: flock on a valid fd owned by `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(err));
            }
            let mut text = String::new();
            let _ = file.rewind();
            let _ = file.read_to_string(&mut text);
            let pid = text.trim().parse::<u32>().ok();
            if pid.is_some_and(process_exists) || std::time::Instant::now() >= deadline {
                return Err(LockError::Held {
                    dir: state_dir.to_owned(),
                    holder: pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(InstanceLock { _file: file })
    }
}

/// How long a lock whose recorded holder has exited may take to be released.
const ORPHANED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether a process with this pid exists (zombies included).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for the process.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use super::*;

    /// Holds the lock file's flock from a second open file description, recording `pid`.
    fn hold(dir: &Path, pid: u32) -> std::fs::File {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("jobvisor.lock"))
            .expect("open");
        // SAFETY: flock on a valid fd owned by `file`.
        assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
        file.rewind().expect("rewind");
        write!(file, "{pid}").expect("write");
        file
    }

    #[test]
    fn a_live_holder_is_refused_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let _held = hold(dir.path(), std::process::id());
        let asked = Instant::now();
        let Err(err) = InstanceLock::acquire(dir.path()) else {
            panic!("a live holder must be refused");
        };
        assert!(asked.elapsed() < Duration::from_millis(500));
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }

    #[test]
    fn a_lock_left_by_an_exited_holder_is_waited_for() {
        let dir = tempfile::tempdir().expect("dir");
        // A pid that has exited: a finished child's.
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let gone = child.id();
        child.wait().expect("wait");
        let held = hold(dir.path(), gone);
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let asked = Instant::now();
        let lock = InstanceLock::acquire(dir.path()).expect("acquired once released");
        assert!(asked.elapsed() >= Duration::from_millis(250));
        release.join().expect("join");
        drop(lock);
    }
}
