//! Starting one `jobvisor-worker` process.
//!
//! The child gets the worker's end of a socketpair as fd 3 and nothing else: its own
//! process group, an empty environment, cwd `/`, PDEATHSIG=SIGKILL (with a check that the
//! parent did not die before it was set), its cgroup joined before exec, a data-segment
//! ceiling, no core dumps, a small open-files limit, and every fd above 3 closed on exec.
//! Must be called from a thread that lives as long as the worker: PDEATHSIG fires when the
//! *thread* that forked exits. The worker itself enters its system-call sandbox once its
//! engine is ready (`worker/src/sandbox.rs`).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::cgroup::WorkerGroup;

/// Extra address space allowed above the memory limit for the RLIMIT_DATA ceiling set
/// before exec: the engine thread's stack is mapped before the worker lowers the limit
/// to its exact budget.
const DATA_CEILING_SLACK: u64 = 256 * 1024 * 1024 + 64 * 1024 * 1024;

/// RLIMIT_NOFILE of a worker: stdio and its socket, plus the one file at a time it reads
/// while it starts (shared libraries, `/proc/self/*`, the time zone). Inside its sandbox it
/// cannot open anything; the limit holds if the sandbox is missing or broken.
pub const WORKER_MAX_OPEN_FILES: u64 = 16;

/// What to start.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub program: PathBuf,
    /// Passed as `--memory-limit` so the worker applies RLIMIT_DATA itself, for hosts
    /// without a memory cgroup.
    pub self_limit_bytes: Option<u64>,
}

/// A started worker: the process and the supervisor's end of its socket.
#[derive(Debug)]
pub struct SpawnedWorker {
    pub child: Child,
    pub socket: UnixStream,
}

/// Finds `jobvisor-worker`: `$JOBVISOR_WORKER`, else next to the running executable.
pub fn default_worker_program() -> PathBuf {
    if let Some(path) = std::env::var_os("JOBVISOR_WORKER") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("jobvisor-worker")))
        .unwrap_or_else(|| PathBuf::from("jobvisor-worker"))
}

/// Starts a worker in `group`.
pub fn spawn_worker(spec: &SpawnSpec, group: &WorkerGroup) -> io::Result<SpawnedWorker> {
    if !spec.program.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "worker program {} not found (set JOBVISOR_WORKER or install jobvisor-worker next to jobvisor)",
                spec.program.display()
            ),
        ));
    }
    let (ours, theirs) = UnixStream::pair()?;
    let theirs: OwnedFd = theirs.into();
    let child_fd = theirs.as_raw_fd();
    let data_ceiling = spec
        .self_limit_bytes
        .map(|budget| budget.saturating_add(DATA_CEILING_SLACK));

    let mut command = confined_command(
        &spec.program,
        Some(child_fd),
        group,
        data_ceiling,
        [Stdio::null(), Stdio::null(), Stdio::piped()],
    );
    if let Some(budget) = spec.self_limit_bytes {
        command.arg("--memory-limit").arg(budget.to_string());
    }
    let child = command.spawn()?;
    drop(theirs);
    Ok(SpawnedWorker {
        child,
        socket: ours,
    })
}

/// Starts `program --check NAME` (the script check) confined like a worker: PDEATHSIG,
/// its own process group, `group` joined before exec, the data-segment ceiling, the
/// worker's file and core limits, an empty environment. Stdin and stdout are pipes (the
/// source in, the verdict out); there is no socket.
pub(crate) fn spawn_checker(
    program: &Path,
    name: &str,
    group: &WorkerGroup,
    data_ceiling: u64,
) -> io::Result<Child> {
    confined_command(
        program,
        None,
        group,
        Some(data_ceiling),
        [Stdio::piped(), Stdio::piped(), Stdio::null()],
    )
    .arg("--check")
    .arg(name)
    .spawn()
}

/// The command for a process that runs job code: an empty environment, cwd `/`, its own
/// process group, `stdio` as given, and [`child_setup`] between fork and exec.
fn confined_command(
    program: &Path,
    socket_fd: Option<RawFd>,
    group: &WorkerGroup,
    data_ceiling: Option<u64>,
    [stdin, stdout, stderr]: [Stdio; 3],
) -> Command {
    let join_fds = group.join_fds();
    let parent_pid = std::process::id() as libc::pid_t;
    let mut command = Command::new(program);
    command
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
    command
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
/// holds job data and can take seconds to write), soft and hard. For any process that runs
/// job code; async-signal-safe, so it may run between fork and exec.
pub(crate) fn limit_worker_files_and_dumps() -> io::Result<()> {
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

/// Whether this kernel can run workers in their system-call sandbox (seccomp filters with
/// the kill-process action, Linux 4.14+, on an architecture the worker has a filter for).
/// The worker decides for itself; this is for one warning when the daemon starts.
pub fn kernel_supports_worker_sandbox() -> bool {
    if !matches!(std::env::consts::ARCH, "x86_64" | "aarch64" | "riscv64") {
        return false;
    }
    let action: u32 = libc::SECCOMP_RET_KILL_PROCESS;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL only reads the u32 it is given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    rc == 0
}
