//! cgroup v2 (the unified hierarchy, as production hosts run it under systemd with
//! `Delegate=yes`). Groups get memory.max, memory.high, memory.swap.max=0,
//! memory.oom.group=1 and pids.max, and are killed with `cgroup.kill`.
//!
//! The memory controller must be enabled for jobvisor's children. Under systemd with
//! `Delegate=yes` the daemon's own group has the controllers available but, holding the
//! daemon itself, cannot enable them for children ("no internal processes"); the daemon
//! therefore moves itself into a `supervisor` leaf first ([`Parent::delegate`]). The
//! one-shot `jobvisor run` never moves itself.

use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use super::{
    CgroupError, GroupLimits, MeterInner, PeakMeter, io_at, kill_listed, own_path, read_keyed,
    read_number, remove_dir, write_control,
};

const ROOT: &str = "/sys/fs/cgroup";
/// The leaf the daemon moves itself into so its own group may have controlled children.
const SUPERVISOR_LEAF: &str = "supervisor";
/// cgroup2 filesystem magic, from statfs(2).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

#[derive(Debug, Clone)]
pub(crate) struct Parent {
    dir: PathBuf,
}

impl Parent {
    pub(crate) fn detect() -> Result<Parent, String> {
        if !is_cgroup2(Path::new(ROOT)) {
            return Err(format!(
                "{ROOT} is not a cgroup2 mount (legacy or hybrid layout)"
            ));
        }
        let own = own_path("").ok_or("no v2 line in /proc/self/cgroup")?;
        let dir = Path::new(ROOT).join(own.trim_start_matches('/'));
        let subtree =
            std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
        if !subtree.split_whitespace().any(|c| c == "memory") {
            return Err(format!(
                "the memory controller is not enabled for children of {} (cgroup.subtree_control: `{}`)",
                dir.display(),
                subtree.trim()
            ));
        }
        Parent::detect_in(dir)
    }

    /// For the daemon: makes its own group usable as the parent of worker groups, moving
    /// this process into the `supervisor` leaf and enabling the memory (and pids)
    /// controllers for children when they are available but not yet enabled.
    pub(crate) fn delegate() -> Result<Parent, String> {
        if !is_cgroup2(Path::new(ROOT)) {
            return Err(format!(
                "{ROOT} is not a cgroup2 mount (legacy or hybrid layout)"
            ));
        }
        let own = own_path("").ok_or("no v2 line in /proc/self/cgroup")?;
        let mut dir = Path::new(ROOT).join(own.trim_start_matches('/'));
        // A restarted daemon may already sit in the leaf it made earlier.
        if dir.file_name().is_some_and(|n| n == SUPERVISOR_LEAF)
            && let Some(parent) = dir.parent()
        {
            dir = parent.to_owned();
        }
        let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        if !available.split_whitespace().any(|c| c == "memory") {
            return Err(format!(
                "the memory controller is not available in {} (under systemd, set Delegate=yes in the unit)",
                dir.display()
            ));
        }
        let subtree =
            std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
        if !subtree.split_whitespace().any(|c| c == "memory") {
            let leaf = dir.join(SUPERVISOR_LEAF);
            if !leaf.exists() {
                std::fs::create_dir(&leaf)
                    .map_err(|e| format!("cannot create {}: {e}", leaf.display()))?;
            }
            std::fs::write(leaf.join("cgroup.procs"), "0")
                .map_err(|e| format!("cannot move the daemon into {}: {e}", leaf.display()))?;
            let wanted = if available.split_whitespace().any(|c| c == "pids") {
                "+memory +pids"
            } else {
                "+memory"
            };
            std::fs::write(dir.join("cgroup.subtree_control"), wanted).map_err(|e| {
                format!(
                    "cannot enable {wanted} for the children of {}: {e}",
                    dir.display()
                )
            })?;
        }
        Parent::detect_in(dir)
    }

    fn detect_in(dir: PathBuf) -> Result<Parent, String> {
        let probe = dir.join(format!("jobvisor-probe-{}", std::process::id()));
        std::fs::create_dir(&probe)
            .map_err(|e| format!("cannot create a group in {}: {e}", dir.display()))?;
        let _ = std::fs::remove_dir(&probe);
        Ok(Parent { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn create(&self, name: &str, limits: GroupLimits) -> Result<Group, CgroupError> {
        let dir = self.dir.join(name);
        // Intermediate groups need the controllers enabled for their children too.
        let mut current = self.dir.clone();
        for part in Path::new(name).components() {
            let controllers =
                std::fs::read_to_string(current.join("cgroup.subtree_control")).unwrap_or_default();
            if !controllers.split_whitespace().any(|c| c == "memory") {
                write_control(&current.join("cgroup.subtree_control"), "+memory +pids")?;
            }
            current = current.join(part);
            if !current.exists() {
                std::fs::create_dir(&current).map_err(io_at(&current))?;
            }
        }
        let mut group = Group {
            dir,
            oom_kills_at_start: 0,
        };
        group.kill_all();
        let limit = limits.memory_bytes;
        write_control(&group.dir.join("memory.max"), &limit.to_string())?;
        // Reclaim and throttle a little before the hard limit, so a slow leak is visible
        // in memory.events before the OOM kill.
        write_control(
            &group.dir.join("memory.high"),
            &(limit / 10 * 9).to_string(),
        )?;
        let swap = group.dir.join("memory.swap.max");
        if swap.exists() {
            write_control(&swap, "0")?;
        }
        write_control(&group.dir.join("memory.oom.group"), "1")?;
        let pids = group.dir.join("pids.max");
        if pids.exists() {
            write_control(&pids, &limits.max_pids.to_string())?;
        }
        group.oom_kills_at_start = group.oom_kills_total();
        Ok(group)
    }

    pub(crate) fn remove_tree(&self, name: &str) -> Result<usize, CgroupError> {
        remove_tree(&self.dir.join(name))
    }
}

/// Reads `memory.peak` through the descriptor its reset was written to.
pub(crate) fn read_peak_fd(file: &mut std::fs::File) -> Option<u64> {
    let mut text = String::new();
    file.seek(std::io::SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn is_cgroup2(path: &Path) -> bool {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: an all-zero statfs is a valid value to be overwritten by statfs(2).
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a valid C string and `st` a writable statfs.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut st) };
    rc == 0 && i64::from(st.f_type as i32) == CGROUP2_SUPER_MAGIC
}

fn remove_tree(dir: &Path) -> Result<usize, CgroupError> {
    if !dir.is_dir() {
        return Ok(0);
    }
    let mut removed = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                removed += remove_tree(&entry.path())?;
            }
        }
    }
    let group = Group {
        dir: dir.to_owned(),
        oom_kills_at_start: 0,
    };
    group.kill_all();
    remove_dir(dir)?;
    Ok(removed + 1)
}

#[derive(Debug)]
pub(crate) struct Group {
    dir: PathBuf,
    oom_kills_at_start: u64,
}

impl Group {
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn oom_kills(&self) -> u64 {
        self.oom_kills_total()
            .saturating_sub(self.oom_kills_at_start)
    }

    fn oom_kills_total(&self) -> u64 {
        let events = self.dir.join("memory.events");
        read_keyed(&events, "oom_kill").unwrap_or(0)
            + read_keyed(&events, "oom_group_kill").unwrap_or(0)
    }

    pub(crate) fn peak_memory(&self) -> Option<u64> {
        read_number(&self.dir.join("memory.peak"))
    }

    /// `memory.peak` is the group's lifetime high. Since Linux 6.12 a write resets it for
    /// reads through the same descriptor; older kernels refuse the write, and then only a
    /// new lifetime high is known to be the attempt's.
    pub(crate) fn start_peak(&self) -> PeakMeter {
        let path = self.dir.join("memory.peak");
        let reset = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"reset\n").map(|()| file));
        match reset {
            Ok(file) => PeakMeter(MeterInner::V2Fd(file)),
            Err(_) => PeakMeter(MeterInner::V2Lifetime {
                at_start: self.peak_memory().unwrap_or(0),
            }),
        }
    }

    pub(crate) fn kill_all(&self) -> bool {
        let kill = self.dir.join("cgroup.kill");
        if kill.exists() && std::fs::write(&kill, "1").is_ok() {
            return read_keyed(&self.dir.join("cgroup.events"), "populated") == Some(0);
        }
        kill_listed(&self.dir.join("cgroup.procs"))
    }

    pub(crate) fn remove(self) -> Result<(), CgroupError> {
        remove_dir(&self.dir)
    }
}
