//! The few operating-system facts the worker reads or sets: CPU time, peak RSS and its
//! own data-segment limit.

use std::time::Duration;

/// CPU time consumed by the calling thread.
pub(crate) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Peak resident set size of this process, in bytes.
pub(crate) fn max_rss_bytes() -> u64 {
    // SAFETY: an all-zero rusage is a valid value to be overwritten by getrusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage for the duration of the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024
}

/// Limits the data segment to what is mapped now plus `budget` bytes.
///
/// Called on the engine thread before any JavaScript runs: the thread's large stack is
/// already mapped (and so not charged to the budget), and everything the engine allocates
/// from here on is. An allocation past the limit fails, which aborts the process with
/// "memory allocation of N bytes failed" on stderr: the supervisor reports it as
/// out-of-memory.
pub(crate) fn limit_data_segment(budget: u64) -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let vm_data_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmData:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .ok_or_else(|| std::io::Error::other("no VmData line in /proc/self/status"))?;
    let limit = vm_data_kib.saturating_mul(1024).saturating_add(budget);
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: `rlimit` is a valid rlimit value for the duration of the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_DATA, &rlimit) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit)
}
