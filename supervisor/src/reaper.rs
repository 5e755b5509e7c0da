//! The daemon is a child subreaper: processes orphaned below a worker (which a worker
//! should never create) are re-parented to it instead of PID 1, so they can be seen and
//! reaped. Workers themselves are reaped by their slots; this module reaps only the
//! others, never a pid in the registry of live workers.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tracing::warn;

/// Pids of workers the slots own and will reap themselves.
#[derive(Clone, Default, Debug)]
pub struct WorkerPids(Arc<Mutex<HashSet<u32>>>);

impl WorkerPids {
    pub fn insert(&self, pid: u32) {
        if let Ok(mut set) = self.0.lock() {
            set.insert(pid);
        }
    }

    pub fn remove(&self, pid: u32) {
        if let Ok(mut set) = self.0.lock() {
            set.remove(&pid);
        }
    }

    fn contains(&self, pid: u32) -> bool {
        self.0.lock().map(|set| set.contains(&pid)).unwrap_or(true)
    }
}

/// Makes this process a child subreaper.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        warn!(error = %std::io::Error::last_os_error(), "cannot become a child subreaper");
    }
}

/// Reaps orphans: children that are zombies, are not registered workers, and were already
/// zombies at the previous pass. Whoever spawned a child on purpose (a worker slot, the
/// script checker) reaps it as soon as it exits; a zombie nobody claimed for a whole
/// period is an orphan re-parented to us. Returns how many were reaped.
pub fn reap_orphans(workers: &WorkerPids, seen: &mut HashSet<u32>) -> usize {
    let mut reaped = 0;
    let mut zombies = HashSet::new();
    for pid in children() {
        if workers.contains(pid) || !is_zombie(pid) {
            continue;
        }
        if !seen.contains(&pid) {
            zombies.insert(pid);
            continue;
        }
        let Ok(raw) = i32::try_from(pid) else {
            continue;
        };
        let mut status = 0;
        // SAFETY: waitpid on a specific child pid with WNOHANG.
        let rc = unsafe { libc::waitpid(raw, &mut status, libc::WNOHANG) };
        if rc == raw {
            warn!(pid, status, "reaped an orphaned process left by a worker");
            reaped += 1;
        }
    }
    *seen = zombies;
    reaped
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Direct children of this process, from /proc.
fn children() -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    pids
}
