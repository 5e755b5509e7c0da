//! The one way a process that runs job code is started: a pool worker, the worker of
//! `jobvisor run`, and the script checker (`jobvisor-worker --check`) all go through
//! [`launch`] with a [`Confinement`].
//!
//! What every such process gets, whatever the variant: its own process group, an empty
//! environment, cwd `/`, PDEATHSIG=SIGKILL (with a check that the parent did not die
//! before it was set), its cgroup joined before exec, a data-segment ceiling when one is
//! given, no core dumps, a small open-files limit, and every fd above its channel closed on
//! exec. What differs is said by the value: the program and its arguments, the ceiling, and
//! the [`Channel`] (a socket on fd 3, or pipes on stdin and stdout).
//!
//! Must be called from a thread that lives as long as the process: PDEATHSIG fires when
//! the *thread* that forked exits. The daemon forks from its spawner thread
//! (`pool/spawner.rs`), which is also the default [`WorkerLauncher`]; `jobvisor run` forks
//! from its only thread. The worker itself enters its system-call sandbox once its engine
//! is ready (`worker/src/sandbox.rs`).

use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use super::spawn::SpawnSpec;
use crate::cgroup::WorkerGroup;

/// Extra address space allowed above the memory limit for the RLIMIT_DATA ceiling set
/// before exec: the engine thread's stack is mapped before the worker lowers the limit
/// to its exact budget.
const DATA_CEILING_SLACK: u64 = 256 * 1024 * 1024 + 64 * 1024 * 1024;

/// RLIMIT_NOFILE of a worker: stdio and its socket, plus the one file at a time it reads
/// while it starts (shared libraries, `/proc/self/*`, the time zone). Inside its sandbox it
/// cannot open anything; the limit holds if the sandbox is missing or broken.
pub const WORKER_MAX_OPEN_FILES: u64 = 16;

/// Processes (threads included) a worker may have: its cgroup's `pids.max`, for the
/// daemon's workers and `jobvisor run`'s alike.
pub const WORKER_MAX_PIDS: u32 = 64;

/// How a confined process talks to the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The worker protocol: the child's end of a socketpair as fd 3; stdin and stdout are
    /// `/dev/null`, stderr is a pipe (its tail classifies a death).
    Socket,
    /// The script check: the source in on stdin, the verdict out on stdout, no socket,
    /// stderr to `/dev/null`.
    Pipes,
}

/// Everything that says how one process running job code is started, but its cgroup,
/// which [`launch`] takes beside it (a group outlives the processes started in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// RLIMIT_DATA set before exec, soft and hard.
    pub data_ceiling: Option<u64>,
    pub channel: Channel,
}

impl Confinement {
    /// A pool or `jobvisor run` worker. Without a memory cgroup the worker is told its
    /// budget (`--memory-limit`) so it limits itself, under a ceiling with room for its
    /// engine's stack.
    pub fn worker(spec: &SpawnSpec) -> Confinement {
        let mut args = Vec::new();
        if let Some(budget) = spec.self_limit_bytes {
            args.push("--memory-limit".into());
            args.push(budget.to_string().into());
        }
        Confinement {
            program: spec.program.clone(),
            args,
            data_ceiling: spec
                .self_limit_bytes
                .map(|budget| budget.saturating_add(DATA_CEILING_SLACK)),
            channel: Channel::Socket,
        }
    }

    /// `program --check NAME`, the script check.
    pub fn checker(
        program: &Path,
        name: &str,
        node_compat: bool,
        data_ceiling: u64,
    ) -> Confinement {
        let mut args = vec!["--check".into(), name.into()];
        if node_compat {
            args.push("--node-compat".into());
        }
        Confinement {
            program: program.to_owned(),
            args,
            data_ceiling: Some(data_ceiling),
            channel: Channel::Pipes,
        }
    }
}

/// A started process and, for [`Channel::Socket`], the supervisor's end of its socket.
#[derive(Debug)]
pub struct Launched {
    pub child: Child,
    pub socket: Option<UnixStream>,
}

/// Starts a process as `confinement` says, in `group`. Blocking (a fork and an exec);
/// see the module header for the thread it must run on.
pub fn launch(confinement: &Confinement, group: &WorkerGroup) -> io::Result<Launched> {
    if !confinement.program.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "worker program {} not found (set JOBVISOR_WORKER or install jobvisor-worker next to jobvisor)",
                confinement.program.display()
            ),
        ));
    }
    let (ours, theirs, stdio) = match confinement.channel {
        Channel::Socket => {
            let (ours, theirs) = UnixStream::pair()?;
            let theirs: OwnedFd = theirs.into();
            (
                Some(ours),
                Some(theirs),
                [Stdio::null(), Stdio::null(), Stdio::piped()],
            )
        }
        Channel::Pipes => (None, None, [Stdio::piped(), Stdio::piped(), Stdio::null()]),
    };
    let socket_fd = theirs.as_ref().map(AsRawFd::as_raw_fd);
    let [stdin, stdout, stderr] = stdio;
    let join_fds = group.join_fds();
    let parent_pid = std::process::id() as libc::pid_t;
    let data_ceiling = confinement.data_ceiling;
    let mut command = Command::new(&confinement.program);
    command
        .args(&confinement.args)
        .env_clear()
        .current_dir(Path::new("/"))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
    // functions (prctl, getppid, write, setrlimit, dup2, fcntl, syscall), allocating nothing.
    unsafe {
        command.pre_exec(move || child_setup(socket_fd, &join_fds, parent_pid, data_ceiling));
    }
    let child = command.spawn()?;
    // The child holds its end now; ours must not keep it open, or its EOF never comes.
    drop(theirs);
    Ok(Launched {
        child,
        socket: ours,
    })
}

/// Starts workers for a slot. The daemon's is the spawner thread; a test may give a slot
/// another one (a launcher that fails, or starts a fixture).
pub trait WorkerLauncher: Send + Sync {
    /// Starts a process as `confinement` says, in `group`.
    fn launch(
        &self,
        confinement: Confinement,
        group: Arc<WorkerGroup>,
    ) -> Pin<Box<dyn Future<Output = io::Result<Launched>> + Send + '_>>;
}

/// Runs in the child between fork and exec. A worker gets `socket_fd` as fd 3.
fn child_setup(
    socket_fd: Option<RawFd>,
    join_fds: &[RawFd],
    parent_pid: libc::pid_t,
    data_ceiling: Option<u64>,
) -> io::Result<()> {
    // SAFETY (whole function): plain syscalls on integers and on buffers that outlive the call.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        // The parent may have died between fork and prctl: then nobody would kill us.
        if libc::getppid() != parent_pid {
            libc::_exit(1);
        }
        for &fd in join_fds {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some(ceiling) = data_ceiling {
            let limit = libc::rlimit {
                rlim_cur: ceiling,
                rlim_max: ceiling,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        limit_worker_files_and_dumps()?;
        let first_closed: u32 = match socket_fd {
            Some(3) => {
                // dup2 onto itself would keep close-on-exec set.
                if libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                4
            }
            Some(fd) => {
                if libc::dup2(fd, 3) != 3 {
                    return Err(io::Error::last_os_error());
                }
                4
            }
            None => 3,
        };
        // Everything above the socket closes at exec. Marking instead of closing keeps the
        // pipe the standard library uses to report a failed exec working.
        let marked = libc::syscall(
            libc::SYS_close_range,
            first_closed,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        if marked != 0 {
            for fd in first_closed as RawFd..4096 {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// RLIMIT_NOFILE to [`WORKER_MAX_OPEN_FILES`] and RLIMIT_CORE to 0 (a worker's core dump
/// holds job data and can take seconds to write), soft and hard. Async-signal-safe, so it
/// may run between fork and exec.
fn limit_worker_files_and_dumps() -> io::Result<()> {
    let files = libc::rlimit {
        rlim_cur: WORKER_MAX_OPEN_FILES,
        rlim_max: WORKER_MAX_OPEN_FILES,
    };
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit only reads the rlimit values given.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_NOFILE, &files) != 0
            || libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_without_a_memory_cgroup_is_told_its_budget_under_a_ceiling() {
        let spec = SpawnSpec {
            program: PathBuf::from("/bin/w"),
            self_limit_bytes: Some(64 << 20),
        };
        let confinement = Confinement::worker(&spec);
        assert_eq!(confinement.args, ["--memory-limit", "67108864"]);
        assert_eq!(
            confinement.data_ceiling,
            Some((64 << 20) + DATA_CEILING_SLACK)
        );
        assert_eq!(confinement.channel, Channel::Socket);
        let limited_by_cgroup = Confinement::worker(&SpawnSpec {
            self_limit_bytes: None,
            ..spec
        });
        assert!(limited_by_cgroup.args.is_empty());
        assert_eq!(limited_by_cgroup.data_ceiling, None);
    }

    #[test]
    fn the_checker_gets_pipes_and_its_name() {
        let confinement = Confinement::checker(Path::new("/bin/w"), "nightly", false, 1 << 30);
        assert_eq!(confinement.args, ["--check", "nightly"]);
        assert_eq!(confinement.channel, Channel::Pipes);
        assert_eq!(confinement.data_ceiling, Some(1 << 30));
        let node = Confinement::checker(Path::new("/bin/w"), "nightly", true, 1 << 30);
        assert_eq!(node.args, ["--check", "nightly", "--node-compat"]);
    }
}
