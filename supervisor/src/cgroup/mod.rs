//! Memory limits for worker processes: cgroup v2, cgroup v1, or per-process rlimits.
//!
//! This module owns the cgroup directories jobvisor creates and nothing else: it detects
//! which mechanism the host offers, creates one group per worker with its limits, joins a
//! child to it (between fork and exec), reads the OOM counters that attribute a SIGKILL
//! to the memory limit, kills everything in a group and removes it. It never touches a
//! group it did not create.

mod v1;
mod v2;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a group being emptied is looked at again.
const EMPTY_CHECK_EVERY: Duration = Duration::from_millis(5);

/// Which mechanism enforces the memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimiterMode {
    /// cgroup v2: memory.max, memory.high, memory.swap.max=0, memory.oom.group, pids.max.
    #[serde(rename = "cgroup_v2")]
    V2,
    /// cgroup v1: memory.limit_in_bytes (+ memsw), pids.max.
    #[serde(rename = "cgroup_v1")]
    V1,
    /// No writable memory cgroup: RLIMIT_DATA in the worker.
    Rlimit,
}

impl fmt::Display for LimiterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimiterMode::V2 => "cgroup v2",
            LimiterMode::V1 => "cgroup v1",
            LimiterMode::Rlimit => "rlimit",
        })
    }
}

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimiterChoice {
    /// The best the host offers: v2, else v1, else rlimit.
    #[default]
    Auto,
    /// A cgroup (v2 or v1), or fail.
    Cgroup,
    /// Per-process rlimits even where cgroups are available.
    Rlimit,
}

/// Limits for one worker.
#[derive(Debug, Clone, Copy)]
pub struct GroupLimits {
    pub memory_bytes: u64,
    pub max_pids: u32,
}

/// Why a cgroup could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no writable memory cgroup on this host ({0}); use the rlimit limiter")]
    Unavailable(String),
    #[error("cgroup {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The detected mechanism and where its groups live.
#[derive(Debug, Clone)]
pub struct Limiter {
    backend: Backend,
}

/// The group of a `jobvisor run` process is this prefix and its pid.
pub const RUN_GROUP_PREFIX: &str = "jobvisor-run-";

#[derive(Debug, Clone)]
enum Backend {
    V2(v2::Parent),
    V1(v1::Parent),
    Rlimit { reason: String },
}

impl Limiter {
    /// Detects the best mechanism allowed by `choice`, for a one-shot run: nothing is moved.
    pub fn detect(choice: LimiterChoice) -> Result<Limiter, CgroupError> {
        Limiter::detect_with(choice, v2::Parent::detect)
    }

    /// Detects for the daemon: on cgroup v2 it may move itself into a leaf of its own
    /// group so that group can hold the workers' groups (what systemd's `Delegate=yes`
    /// expects).
    pub fn detect_for_daemon(choice: LimiterChoice) -> Result<Limiter, CgroupError> {
        Limiter::detect_with(choice, v2::Parent::delegate)
    }

    fn detect_with(
        choice: LimiterChoice,
        v2_detect: fn() -> Result<v2::Parent, String>,
    ) -> Result<Limiter, CgroupError> {
        if choice == LimiterChoice::Rlimit {
            return Ok(Limiter {
                backend: Backend::Rlimit {
                    reason: "rlimit limiter chosen".to_owned(),
                },
            });
        }
        let v2 = v2_detect();
        let v2_reason = match v2 {
            Ok(parent) => {
                return Ok(Limiter {
                    backend: Backend::V2(parent),
                });
            }
            Err(reason) => reason,
        };
        let v1_reason = match v1::Parent::detect() {
            Ok(parent) => {
                return Ok(Limiter {
                    backend: Backend::V1(parent),
                });
            }
            Err(reason) => reason,
        };
        let reason = format!("v2: {v2_reason}; v1: {v1_reason}");
        if choice == LimiterChoice::Cgroup {
            return Err(CgroupError::Unavailable(reason));
        }
        Ok(Limiter {
            backend: Backend::Rlimit { reason },
        })
    }

    pub fn mode(&self) -> LimiterMode {
        match self.backend {
            Backend::V2(_) => LimiterMode::V2,
            Backend::V1(_) => LimiterMode::V1,
            Backend::Rlimit { .. } => LimiterMode::Rlimit,
        }
    }

    /// One line for logs and `status`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::V2(parent) => format!("cgroup v2 at {}", parent.dir().display()),
            Backend::V1(parent) => format!("cgroup v1 memory at {}", parent.dir().display()),
            Backend::Rlimit { reason } => format!("rlimit (RLIMIT_DATA per worker): {reason}"),
        }
    }

    /// Creates (or reuses, emptied) the group `name` below jobvisor's own cgroup.
    /// In rlimit mode there is no group: the worker limits itself before running JS.
    pub fn create_group(
        &self,
        name: &str,
        limits: GroupLimits,
    ) -> Result<WorkerGroup, CgroupError> {
        let inner = match &self.backend {
            Backend::V2(parent) => GroupInner::V2(parent.create(name, limits)?),
            Backend::V1(parent) => GroupInner::V1(parent.create(name, limits)?),
            Backend::Rlimit { .. } => GroupInner::None,
        };
        let join = inner
            .procs_files()
            .into_iter()
            .map(|path| {
                OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&path)
                    .map_err(io_at(&path))
            })
            .collect::<Result<Vec<File>, CgroupError>>()?;
        Ok(WorkerGroup {
            inner,
            join,
            memory_bytes: limits.memory_bytes,
        })
    }

    /// Removes the groups `jobvisor run` processes left behind when they were killed
    /// before they could remove their own (`jobvisor-run-<pid>`, the pid no longer
    /// running). Returns how many groups were removed.
    pub fn remove_stale_run_groups(&self) -> usize {
        let dir = match &self.backend {
            Backend::V2(parent) => parent.dir(),
            Backend::V1(parent) => parent.dir(),
            Backend::Rlimit { .. } => return 0,
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let pid: libc::pid_t = name.strip_prefix(RUN_GROUP_PREFIX)?.parse().ok()?;
                // SAFETY: kill with signal 0 only checks whether the process exists.
                let alive = unsafe { libc::kill(pid, 0) } == 0
                    || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
                (!alive).then_some(name)
            })
            .map(|name| self.remove_leftovers(&name).unwrap_or(0))
            .sum()
    }

    /// Kills and removes the groups below `name` left by an earlier run (a crashed
    /// supervisor). Returns how many groups were removed.
    pub fn remove_leftovers(&self, name: &str) -> Result<usize, CgroupError> {
        match &self.backend {
            Backend::V2(parent) => parent.remove_tree(name),
            Backend::V1(parent) => parent.remove_tree(name),
            Backend::Rlimit { .. } => Ok(0),
        }
    }
}

/// The cgroup of one worker (empty in rlimit mode).
#[derive(Debug)]
pub struct WorkerGroup {
    inner: GroupInner,
    /// `cgroup.procs` of each hierarchy, opened before fork: the child writes "0" to them.
    join: Vec<File>,
    memory_bytes: u64,
}

#[derive(Debug)]
enum GroupInner {
    V2(v2::Group),
    V1(v1::Group),
    None,
}

impl GroupInner {
    fn procs_files(&self) -> Vec<PathBuf> {
        match self {
            GroupInner::V2(g) => vec![g.dir().join("cgroup.procs")],
            GroupInner::V1(g) => g.procs_files(),
            GroupInner::None => Vec::new(),
        }
    }
}

impl WorkerGroup {
    /// File descriptors the child writes its pid into before exec.
    pub fn join_fds(&self) -> Vec<RawFd> {
        self.join.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// Whether the group enforces the memory limit (false in rlimit mode, where the worker
    /// must be told to limit itself).
    pub fn enforces_memory(&self) -> bool {
        !matches!(self.inner, GroupInner::None)
    }

    pub fn memory_limit(&self) -> u64 {
        self.memory_bytes
    }

    /// Which mechanism enforces this group's limit.
    pub fn mode(&self) -> LimiterMode {
        match &self.inner {
            GroupInner::V2(_) => LimiterMode::V2,
            GroupInner::V1(_) => LimiterMode::V1,
            GroupInner::None => LimiterMode::Rlimit,
        }
    }

    /// How many processes of this group the kernel's OOM killer has killed so far.
    pub fn oom_kills(&self) -> u64 {
        match &self.inner {
            GroupInner::V2(g) => g.oom_kills(),
            GroupInner::V1(g) => g.oom_kills(),
            GroupInner::None => 0,
        }
    }

    /// Peak memory use of the group since it was created (or since the last
    /// [`WorkerGroup::start_peak`] on cgroup v1), when the kernel reports it.
    pub fn peak_memory(&self) -> Option<u64> {
        match &self.inner {
            GroupInner::V2(g) => g.peak_memory(),
            GroupInner::V1(g) => g.peak_memory(),
            GroupInner::None => None,
        }
    }

    /// Starts measuring the peak memory of one attempt, from the group's use now. Every
    /// attempt is measured this way, whatever its end: a completed attempt and a killed one
    /// report the same quantity (the most the group held while the attempt ran).
    pub fn start_peak(&self) -> PeakMeter {
        match &self.inner {
            GroupInner::V2(g) => g.start_peak(),
            GroupInner::V1(g) => g.start_peak(),
            GroupInner::None => PeakMeter(MeterInner::Unmeasured),
        }
    }

    /// The most the group held since `meter` started; `None` when that cannot be told
    /// (no cgroup, or a reset the kernel refused).
    pub fn peak_since(&self, meter: &mut PeakMeter) -> Option<u64> {
        match (&self.inner, &mut meter.0) {
            (GroupInner::V1(g), MeterInner::V1Reset) => g.peak_memory(),
            (GroupInner::V2(_), MeterInner::V2Fd(file)) => v2::read_peak_fd(file),
            (GroupInner::V2(g), MeterInner::V2Lifetime { at_start }) => {
                // Without a resettable memory.peak only a new high is known to be this
                // attempt's; below the old high the attempt's own peak is unknown.
                g.peak_memory().filter(|peak| *peak > *at_start)
            }
            _ => None,
        }
    }

    /// Uncharges what earlier workers left charged to the empty group (page cache on
    /// cgroup v1), so the next worker's measurements start from its own use.
    pub fn forget_earlier_workers(&self) {
        if let GroupInner::V1(g) = &self.inner {
            g.force_empty();
        }
    }

    /// SIGKILLs every process in the group, including any that left the worker's process
    /// group, and checks again every few milliseconds until the group is empty or `within`
    /// has passed. Returns whether it emptied. Waits on the runtime's timer, never on its
    /// thread: a group that will not empty (a frozen or unkillable process) must not stall
    /// the other slots, the dispatcher or the control socket sharing that thread.
    pub async fn kill_all(&self, within: Duration) -> bool {
        let started = tokio::time::Instant::now();
        loop {
            if self.kill_listed() {
                return true;
            }
            if started.elapsed() >= within {
                return false;
            }
            tokio::time::sleep(EMPTY_CHECK_EVERY).await;
        }
    }

    /// [`WorkerGroup::kill_all`] for a thread that is not a runtime's (removing a group).
    pub fn kill_all_blocking(&self, within: Duration) -> bool {
        let started = Instant::now();
        loop {
            if self.kill_listed() {
                return true;
            }
            if started.elapsed() >= within {
                return false;
            }
            std::thread::sleep(EMPTY_CHECK_EVERY);
        }
    }

    /// One round of [`WorkerGroup::kill_all`]: SIGKILLs what the group lists, without
    /// waiting. Returns whether it was empty.
    pub fn kill_listed(&self) -> bool {
        match &self.inner {
            GroupInner::V2(g) => g.kill_all(),
            GroupInner::V1(g) => g.kill_all(),
            GroupInner::None => true,
        }
    }

    /// Kills what is left and removes the group's directories.
    /// Blocking: call it from a thread that may wait.
    pub fn remove(self) -> Result<(), CgroupError> {
        self.kill_all_blocking(Duration::from_secs(2));
        match self.inner {
            GroupInner::V2(g) => g.remove(),
            GroupInner::V1(g) => g.remove(),
            GroupInner::None => Ok(()),
        }
    }
}

/// The start of one attempt's peak-memory measurement ([`WorkerGroup::start_peak`]).
#[derive(Debug)]
pub struct PeakMeter(MeterInner);

#[derive(Debug)]
enum MeterInner {
    /// cgroup v1: `memory.max_usage_in_bytes` was reset to the use at the start.
    V1Reset,
    /// cgroup v2 with a resettable `memory.peak` (Linux 6.12+): the reset holds for reads
    /// through this descriptor.
    V2Fd(File),
    /// cgroup v2 before 6.12: the group's lifetime peak when the attempt started.
    V2Lifetime {
        at_start: u64,
    },
    Unmeasured,
}

/// Reads `cgroup.procs` (or `tasks`) and SIGKILLs every pid in it. Returns whether it was
/// empty.
pub(crate) fn kill_listed(procs: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(procs) else {
        return true;
    };
    let mut empty = true;
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        empty = false;
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    empty
}

/// Removes a group directory, retrying while the kernel still counts exiting tasks.
pub(crate) fn remove_dir(dir: &Path) -> Result<(), CgroupError> {
    let started = Instant::now();
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && started.elapsed() < Duration::from_secs(2) =>
            {
                kill_listed(&dir.join("cgroup.procs"));
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(io_at(dir)(e)),
        }
    }
}

/// Reads a `key value` line from a flat-keyed cgroup file.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Reads a file holding one number.
pub(crate) fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// This process's path in a hierarchy, from `/proc/self/cgroup`: `controller` is e.g.
/// "memory" for v1, or "" for the v2 line (`0::/path`).
pub(crate) fn own_path(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.to_owned())
    })
}

/// Writes a control file, naming it in the error.
pub(crate) fn write_control(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io_at(path))
}
