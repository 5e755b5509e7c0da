//! cgroup v1: a memory hierarchy (required), plus the pids and freezer hierarchies when
//! writable. v1 has no group kill and no group OOM (the OOM killer picks one task), so a
//! kill freezes the group, SIGKILLs every task and thaws it — no task can fork while
//! frozen — or, without a freezer, loops over `cgroup.procs` until it is empty.

use std::path::{Path, PathBuf};

use super::{
    CgroupError, GroupLimits, MeterInner, PeakMeter, io_at, kill_listed, own_path, read_keyed,
    read_number, remove_dir, write_control,
};

const MEMORY_ROOT: &str = "/sys/fs/cgroup/memory";
const PIDS_ROOT: &str = "/sys/fs/cgroup/pids";
const FREEZER_ROOT: &str = "/sys/fs/cgroup/freezer";

/// jobvisor's own place in the v1 hierarchies.
#[derive(Debug, Clone)]
pub(crate) struct Parent {
    memory: PathBuf,
    pids: Option<PathBuf>,
    freezer: Option<PathBuf>,
}

impl Parent {
    /// Finds this process's memory cgroup and checks that a child group can be made there.
    pub(crate) fn detect() -> Result<Parent, String> {
        let own = own_path("memory").ok_or("no memory controller in /proc/self/cgroup")?;
        let memory = Path::new(MEMORY_ROOT).join(own.trim_start_matches('/'));
        if !memory.join("memory.limit_in_bytes").exists() {
            return Err(format!("{} has no memory.limit_in_bytes", memory.display()));
        }
        probe(&memory)?;
        let optional = |controller: &str, root: &str| {
            own_path(controller)
                .map(|own| Path::new(root).join(own.trim_start_matches('/')))
                .filter(|dir| probe(dir).is_ok())
        };
        Ok(Parent {
            memory,
            pids: optional("pids", PIDS_ROOT),
            freezer: optional("freezer", FREEZER_ROOT),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.memory
    }

    pub(crate) fn create(&self, name: &str, limits: GroupLimits) -> Result<Group, CgroupError> {
        let memory = self.memory.join(name);
        std::fs::create_dir_all(&memory).map_err(io_at(&memory))?;
        kill_listed(&memory.join("cgroup.procs"));
        let limit = limits.memory_bytes.to_string();
        // Lower memsw first if a previous limit was larger: memsw must stay >= the limit.
        let memsw = memory.join("memory.memsw.limit_in_bytes");
        let has_memsw = memsw.exists();
        if has_memsw {
            let _ = std::fs::write(&memsw, "-1");
        }
        write_control(&memory.join("memory.limit_in_bytes"), &limit)?;
        if has_memsw {
            // Limit + swap = limit: a memory bomb is killed instead of swapping the host.
            write_control(&memsw, &limit)?;
        }
        // A reused group may hold an earlier run's high; each attempt resets it again.
        let _ = std::fs::write(memory.join("memory.max_usage_in_bytes"), "0");
        let pids = match &self.pids {
            Some(root) => {
                let dir = root.join(name);
                std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
                write_control(&dir.join("pids.max"), &limits.max_pids.to_string())?;
                Some(dir)
            }
            None => None,
        };
        let freezer = match &self.freezer {
            Some(root) => {
                let dir = root.join(name);
                std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
                // A group left frozen by a crash would hang the next worker.
                let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                Some(dir)
            }
            None => None,
        };
        let oom_kills_at_start =
            read_keyed(&memory.join("memory.oom_control"), "oom_kill").unwrap_or(0);
        Ok(Group {
            memory,
            pids,
            freezer,
            oom_kills_at_start,
        })
    }

    pub(crate) fn remove_tree(&self, name: &str) -> Result<usize, CgroupError> {
        let mut removed = 0;
        for root in std::iter::once(&self.memory)
            .chain(&self.pids)
            .chain(&self.freezer)
        {
            removed += remove_tree(&root.join(name))?;
        }
        Ok(removed)
    }
}

/// Makes and removes a probe group to check write access.
fn probe(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!("jobvisor-probe-{}", std::process::id()));
    std::fs::create_dir(&probe)
        .map_err(|e| format!("cannot create a group in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_dir(&probe);
    Ok(())
}

/// Depth-first kill and removal of a directory tree of groups.
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
    kill_listed(&dir.join("cgroup.procs"));
    remove_dir(dir)?;
    Ok(removed + 1)
}

/// One worker's v1 groups.
#[derive(Debug)]
pub(crate) struct Group {
    memory: PathBuf,
    pids: Option<PathBuf>,
    freezer: Option<PathBuf>,
    oom_kills_at_start: u64,
}

impl Group {
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        std::iter::once(&self.memory)
            .chain(&self.pids)
            .chain(&self.freezer)
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    pub(crate) fn oom_kills(&self) -> u64 {
        read_keyed(&self.memory.join("memory.oom_control"), "oom_kill")
            .unwrap_or(0)
            .saturating_sub(self.oom_kills_at_start)
    }

    pub(crate) fn peak_memory(&self) -> Option<u64> {
        read_number(&self.memory.join("memory.max_usage_in_bytes"))
    }

    /// Resets `memory.max_usage_in_bytes` to the use now. A refused reset is reported and
    /// leaves the attempt unmeasured: the old high would be reported as its peak.
    pub(crate) fn start_peak(&self) -> PeakMeter {
        let file = self.memory.join("memory.max_usage_in_bytes");
        match std::fs::write(&file, "0") {
            Ok(()) => PeakMeter(MeterInner::V1Reset),
            Err(err) => {
                tracing::warn!(file = %file.display(), error = %err, "cannot reset the peak memory; this attempt's peak is not measured");
                PeakMeter(MeterInner::Unmeasured)
            }
        }
    }

    /// Uncharges the page cache earlier workers left in the (empty) group. The kernel
    /// refuses while a task is in the group; then there is nothing to do.
    pub(crate) fn force_empty(&self) {
        let _ = std::fs::write(self.memory.join("memory.force_empty"), "0");
    }

    pub(crate) fn kill_all(&self) -> bool {
        if let Some(freezer) = &self.freezer {
            freeze_and_kill(freezer);
        }
        let memory_empty = kill_listed(&self.memory.join("cgroup.procs"));
        let pids_empty = self
            .pids
            .as_ref()
            .is_none_or(|dir| kill_listed(&dir.join("cgroup.procs")));
        memory_empty && pids_empty
    }

    pub(crate) fn remove(self) -> Result<(), CgroupError> {
        remove_dir(&self.memory)?;
        for dir in self.pids.iter().chain(&self.freezer) {
            remove_dir(dir)?;
        }
        Ok(())
    }
}

/// Freezes the group (no task runs or forks), SIGKILLs every task, thaws it so the kills
/// are delivered.
fn freeze_and_kill(dir: &Path) {
    let state = dir.join("freezer.state");
    if std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty()) {
        return;
    }
    if std::fs::write(&state, "FROZEN").is_ok() {
        // FREEZING becomes FROZEN once every task stopped; a few ms at most.
        for _ in 0..200 {
            if std::fs::read_to_string(&state).is_ok_and(|s| s.trim() == "FROZEN") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(500));
        }
    }
    kill_listed(&dir.join("cgroup.procs"));
    let _ = std::fs::write(&state, "THAWED");
}
