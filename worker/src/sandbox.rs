//! The system-call sandbox of a worker: a seccomp allow-list entered once the engine is
//! built and before any JavaScript runs, on every thread of the process.
//!
//! It owns the list of system calls a running job may cause, and the few steps that make
//! that list sufficient. Any other system call kills the whole process with SIGSYS, which
//! the supervisor records as `crash (sandbox: forbidden system call)`: a violation is never
//! silent. Once the sandbox is entered nothing may open a file, create a socket, a thread
//! or a process, or signal another process; whatever needs one must happen before
//! [`enter`] (see [`prepare_process`] and `load_lazy_state`).
//!
//! The list was derived by tracing real workers (`strace -f`) through the whole test suite
//! and is documented, one line per group, in `docs/sandbox.md`. A kernel that cannot filter
//! system calls gets one warning line on stderr and an unfiltered worker.

use std::collections::BTreeMap;

use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::SUPERVISOR_FD;

/// Whether a mode of the worker enters the sandbox before it runs JavaScript.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sandbox {
    /// No filter: for code that embeds the engine in a process that does other things
    /// (tests). The `jobvisor-worker` binary never uses it.
    #[default]
    Off,
    /// Enter the sandbox after the engine is built, before the first job.
    Enforce,
}

/// Why the sandbox could not be entered on a kernel that supports it.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot build the system-call filter: {0}")]
    Build(#[from] BackendError),
    #[error("cannot install the system-call filter: {0}")]
    Install(#[source] seccompiler::Error),
}

/// Process-wide settings the sandbox relies on. Must run before the process has a second
/// thread: the first thing in `main`.
pub fn prepare_process() {
    // glibc gives each new thread its own malloc arena, and the first time it shrinks one
    // it reads /proc/sys/vm/overcommit_memory: an open inside the sandbox, at a moment no
    // job controls. With a single arena the engine thread allocates from the main heap,
    // which grows and shrinks with brk and never reads that file.
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator settings; no thread is allocating yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    // The engine reads its default locale from the environment: fixed while it is safe to
    // write.
    // SAFETY: the process has a single thread, so nothing reads the environment meanwhile.
    unsafe {
        crate::engine::set_default_locale();
    }
}

/// Enters the sandbox if `mode` asks for it. On a kernel (or architecture) without seccomp
/// support, writes one line on stderr and returns `Ok`: the worker runs unfiltered.
pub(crate) fn enter(mode: Sandbox) -> Result<(), SandboxError> {
    if mode == Sandbox::Off {
        return Ok(());
    }
    let arch = match filter_arch() {
        Ok(arch) => arch,
        Err(why) => {
            eprintln!("jobvisor-worker: warning: {why}; running without the system-call sandbox");
            return Ok(());
        }
    };
    load_lazy_state();
    let [clone3, allow_list] = filters(arch, std::process::id())?;
    // The allow-list forbids `seccomp` itself, so it goes last. Both apply to every
    // thread (TSYNC) and set no_new_privs first.
    seccompiler::apply_filter_all_threads(&clone3).map_err(SandboxError::Install)?;
    seccompiler::apply_filter_all_threads(&allow_list).map_err(SandboxError::Install)?;
    Ok(())
}

/// Whether this host can have the sandbox, and if not why.
pub(crate) fn available() -> Result<(), String> {
    filter_arch().map(|_| ())
}

/// The filter architecture, or why this host cannot have the sandbox.
fn filter_arch() -> Result<TargetArch, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        format!(
            "no system-call filter is defined for {}",
            std::env::consts::ARCH
        )
    })?;
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
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        return Err(format!(
            "this kernel cannot kill a process on a forbidden system call (seccomp: {err}; Linux 4.14 or later is needed)"
        ));
    }
    Ok(arch)
}

/// Loads what libc reads from files lazily, the first time it is needed, while files can
/// still be opened.
fn load_lazy_state() {
    unsafe extern "C" {
        fn tzset();
    }
    // The local time zone (/etc/localtime, or $TZ): JavaScript's `Date` asks for it through
    // localtime_r, which loads it on first use and never again.
    // SAFETY: tzset has no preconditions; no other thread touches the time zone now.
    unsafe { tzset() };
}

/// Two programs: one that answers `clone3` with ENOSYS (its arguments sit in memory a
/// filter cannot read; libc then falls back to `clone`, which is refused), and the
/// allow-list, which kills the process on anything else.
fn filters(arch: TargetArch, own_pid: u32) -> Result<[BpfProgram; 2], SandboxError> {
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    let allow_list = SeccompFilter::new(
        allowed_calls(own_pid)?,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )?;
    Ok([clone3.try_into()?, allow_list.try_into()?])
}

/// The allow-list: system call → rules, one of which must match (none: any arguments).
/// Every group says why a job needs it; `docs/sandbox.md` keeps the same list.
fn allowed_calls(own_pid: u32) -> Result<BTreeMap<i64, Vec<SeccompRule>>, BackendError> {
    let any = Vec::new;
    let arg_in = |index: u8, values: &[u64]| -> Result<Vec<SeccompRule>, BackendError> {
        values
            .iter()
            .map(|&value| {
                SeccompRule::new(vec![SeccompCondition::new(
                    index,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::Eq,
                    value,
                )?])
            })
            .collect()
    };
    // mmap(addr, len, prot, …) and mprotect(addr, len, prot): nothing in a worker maps
    // executable memory once it runs (the engine has no JIT).
    let not_executable = || -> Result<Vec<SeccompRule>, BackendError> {
        Ok(vec![SeccompRule::new(vec![SeccompCondition::new(
            2,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
            0,
        )?])?])
    };
    let supervisor = SUPERVISOR_FD as u64;
    #[cfg_attr(not(target_arch = "x86_64"), expect(unused_mut))]
    let mut calls = vec![
        // Memory: the allocator and the engine's heap.
        (libc::SYS_brk, any()),
        (libc::SYS_mmap, not_executable()?),
        (libc::SYS_mprotect, not_executable()?),
        (libc::SYS_munmap, any()),
        (libc::SYS_mremap, any()),
        (libc::SYS_madvise, any()),
        // Time: the engine thread's CPU time, clocks when the vDSO falls back to a real
        // system call, sleeping until a timer is due.
        (libc::SYS_clock_gettime, any()),
        (libc::SYS_gettimeofday, any()),
        (libc::SYS_clock_nanosleep, any()),
        // A sleep interrupted by a stop signal resumes through restart_syscall.
        (libc::SYS_restart_syscall, any()),
        // The threads that already exist: locks, and the main thread joining the engine's.
        (libc::SYS_futex, any()),
        (libc::SYS_sched_yield, any()),
        // Math.random, hash seeds, crypto.getRandomValues and crypto.randomUUID.
        (libc::SYS_getrandom, any()),
        // The supervisor's socket, and only it.
        (libc::SYS_recvfrom, arg_in(0, &[supervisor])?),
        (libc::SYS_sendto, arg_in(0, &[supervisor])?),
        // Waiting for the next timer or the supervisor's next frame, whichever comes
        // first: ppoll on one descriptor (a filter cannot read which one; the array is
        // in memory, and polling only reports readiness).
        (libc::SYS_ppoll, arg_in(1, &[1])?),
        // stdout (the `--check` verdict, the benchmark report) and stderr (crash messages;
        // glibc writes its fatal ones with writev).
        (libc::SYS_write, arg_in(0, &[1, 2])?),
        (libc::SYS_writev, arg_in(0, &[1, 2])?),
        // Job statistics (peak RSS).
        (libc::SYS_getrusage, arg_in(0, &[libc::RUSAGE_SELF as u64])?),
        // Panics, stack overflows and failed allocations: print, then abort(), which
        // signals this process and no other.
        (libc::SYS_rt_sigaction, any()),
        (libc::SYS_rt_sigprocmask, any()),
        (libc::SYS_rt_sigreturn, any()),
        (libc::SYS_sigaltstack, any()),
        (libc::SYS_getpid, any()),
        (libc::SYS_gettid, any()),
        (libc::SYS_tgkill, arg_in(0, &[u64::from(own_pid)])?),
        // Ending: closing the socket (debug builds first check the fd with F_GETFD), thread
        // and process exit.
        (libc::SYS_close, any()),
        (libc::SYS_fcntl, arg_in(1, &[libc::F_GETFD as u64])?),
        (libc::SYS_exit, any()),
        (libc::SYS_exit_group, any()),
        // Passed here so the other filter's ENOSYS stands (the strictest answer wins).
        (libc::SYS_clone3, any()),
    ];
    #[cfg(target_arch = "x86_64")]
    calls.push((libc::SYS_time, any()));
    Ok(calls.into_iter().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_filters_compile_for_this_architecture() {
        let arch = TargetArch::try_from(std::env::consts::ARCH).unwrap();
        let [clone3, allow_list] = filters(arch, 42).unwrap();
        assert!(!clone3.is_empty());
        assert!(!allow_list.is_empty());
    }

    #[test]
    fn nothing_that_reaches_outside_the_process_is_allowed() {
        let allowed = allowed_calls(42).unwrap();
        #[cfg_attr(not(target_arch = "x86_64"), expect(unused_mut))]
        let mut forbidden = vec![
            libc::SYS_openat,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_clone,
            libc::SYS_ptrace,
            libc::SYS_kill,
            libc::SYS_unlinkat,
            libc::SYS_prctl,
            libc::SYS_seccomp,
            libc::SYS_read,
            libc::SYS_recvmsg,
            libc::SYS_sendmsg,
            libc::SYS_pselect6,
            libc::SYS_epoll_pwait,
        ];
        #[cfg(target_arch = "x86_64")]
        forbidden.extend([
            libc::SYS_open,
            libc::SYS_fork,
            libc::SYS_vfork,
            libc::SYS_poll,
            libc::SYS_select,
        ]);
        for call in forbidden {
            assert!(
                !allowed.contains_key(&call),
                "system call {call} is allowed"
            );
        }
    }
}
