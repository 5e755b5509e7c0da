//! The worker's confinement, checked on real processes: the seccomp sandbox a worker enters
//! before its first job (read back from /proc, and tried with `--sandbox-probe`), the
//! limits and the bare environment the supervisor starts it with, and how a worker killed
//! by the sandbox is recorded.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{EnqueueJob, Request};
use jobvisor_supervisor::pool::exit::{AttemptOutcome, CrashKind, ExitFacts, classify_exit};
use jobvisor_supervisor::pool::spawn::WORKER_MAX_OPEN_FILES;
use jobvisor_tests::bin;
use jobvisor_tests::daemon::{Daemon, job};
#[cfg(target_arch = "x86_64")]
use jobvisor_tests::jobvisor;

const TRIVIAL: &str = "export default (p) => ({ sum: p.a + p.b })";

/// Whether this kernel can kill a process on a forbidden system call; prints a SKIP line
/// when not (the worker then runs unfiltered, by design).
fn sandbox_available(test: &str) -> bool {
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if actions.split_whitespace().any(|a| a == "kill_process") {
        return true;
    }
    jobvisor_tests::skip(test, "this kernel has no seccomp kill_process action");
    false
}

/// The value of one `Name:` line of a /proc status file.
fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(|value| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} line in:\n{status}"))
}

/// (soft, hard) of one limit in /proc/PID/limits.
fn limit(pid: u32, name: &str) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no `{name}` in:\n{limits}"));
    let values: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (values[0].to_owned(), values[1].to_owned())
}

fn with_attempts(mut job: EnqueueJob, max_attempts: u32) -> EnqueueJob {
    job.max_attempts = Some(max_attempts);
    job
}

fn probe(what: &str) -> Output {
    Command::new(bin("jobvisor-worker"))
        .args(["--sandbox-probe", what])
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// How the supervisor would record this exit if the worker had a job.
fn recorded_as(out: &Output) -> AttemptOutcome {
    classify_exit(ExitFacts {
        status: out.status,
        killed_for_timeout: false,
        oom_kills: 0,
        stderr_tail: &String::from_utf8_lossy(&out.stderr),
    })
}

#[test]
fn a_daemons_worker_is_sandboxed_with_only_its_socket_no_environment_and_small_limits() {
    if !sandbox_available("a_daemons_worker_is_sandboxed") {
        return;
    }
    let daemon = Daemon::start("workers = 1", &[("trivial", TRIVIAL)]);
    // A finished job proves the worker went past its `Ready`, after which it is filtered.
    let id = daemon.enqueue(job("trivial", r#"{"a":1,"b":2}"#));
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.job_state(id) == "completed"
    });
    let pids = daemon.worker_pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let pid = pids[0];

    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(status_field(&status, "Seccomp"), "2", "filter mode");
    // Our two filters on top of whatever this test runs under.
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let inherited: u32 = status_field(&own, "Seccomp_filters").parse().unwrap();
    let filters: u32 = status_field(&status, "Seccomp_filters").parse().unwrap();
    assert_eq!(filters, inherited + 2);

    let fds: BTreeSet<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    assert_eq!(fds, BTreeSet::from([0, 1, 2, 3]), "open fds of the worker");

    // The supervisor passes no variable at all.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        environ.is_empty(),
        "environment: {}",
        String::from_utf8_lossy(&environ)
    );

    let files = WORKER_MAX_OPEN_FILES.to_string();
    assert_eq!(limit(pid, "Max open files"), (files.clone(), files));
    assert_eq!(
        limit(pid, "Max core file size"),
        ("0".to_owned(), "0".to_owned())
    );

    // Still serving after all this.
    let next = daemon.enqueue(job("trivial", r#"{"a":2,"b":2}"#));
    daemon.wait_for("the next job to complete", Duration::from_secs(20), || {
        daemon.job_state(next) == "completed"
    });
    assert_eq!(daemon.worker_pids(), [pid], "the same worker served both");
}

#[test]
fn the_script_checker_runs_top_level_code_inside_the_sandbox() {
    if !sandbox_available("the_script_checker_runs_top_level_code_inside_the_sandbox") {
        return;
    }
    let mut checker = Command::new(bin("jobvisor-worker"))
        .args(["--check", "spin"])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Top-level code that waits long enough to be looked at.
    let source = "await new Promise(r => setTimeout(r, 4000));\nexport default () => 1\n";
    let mut stdin = checker.stdin.take().unwrap();
    stdin.write_all(source.as_bytes()).unwrap();
    drop(stdin);
    let pid = checker.id();
    let started = Instant::now();
    let mut seen = String::new();
    while started.elapsed() < Duration::from_secs(3) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        seen = status
            .lines()
            .find(|l| l.starts_with("Seccomp:"))
            .unwrap_or("")
            .to_owned();
        if seen.ends_with('2') {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = checker.kill();
    let _ = checker.wait();
    assert!(seen.ends_with('2'), "the checker's {seen:?}");
}

#[test]
fn forbidden_system_calls_kill_the_worker_with_sigsys_and_count_as_a_sandbox_crash() {
    if !sandbox_available("forbidden_system_calls_kill_the_worker_with_sigsys") {
        return;
    }
    for what in [
        "fork",
        "thread",
        "socket",
        "openat",
        "execve",
        "ptrace",
        "kill-supervisor",
        "executable-memory",
        "main-thread",
    ] {
        let out = probe(what);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGSYS),
            "probe `{what}` ended with {}; stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let recorded = recorded_as(&out);
        assert_eq!(recorded, AttemptOutcome::Crash(CrashKind::SandboxViolation));
        assert_eq!(
            recorded.to_string(),
            "crash (sandbox: forbidden system call)"
        );
    }
}

#[test]
fn what_a_job_needs_still_works_inside_the_sandbox() {
    if !sandbox_available("what_a_job_needs_still_works_inside_the_sandbox") {
        return;
    }
    let out = probe("allowed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(stderr.contains("stderr works"), "{stderr}");
    assert!(stderr.contains("a deliberate panic"), "{stderr}");
    assert!(stderr.contains("allowed operations work"), "{stderr}");
    assert!(stderr.contains(r#""hours":12"#), "{stderr}");
    assert!(stderr.contains(r#""big":4194304"#), "{stderr}");

    let out = probe("clone3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(stderr.contains("clone3 answered ENOSYS"), "{stderr}");
}

#[test]
fn crashes_inside_the_sandbox_keep_their_own_signal_and_classification() {
    if !sandbox_available("crashes_inside_the_sandbox_keep_their_own_signal") {
        return;
    }
    let out = probe("abort");
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{}", out.status);
    assert_eq!(
        recorded_as(&out),
        AttemptOutcome::Crash(CrashKind::Signal(libc::SIGABRT))
    );

    let out = probe("stack-overflow");
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{}", out.status);
    assert_eq!(
        recorded_as(&out),
        AttemptOutcome::Crash(CrashKind::StackOverflow)
    );

    // The standard library's SIGSEGV handler returns (rt_sigreturn) before the real fault.
    let out = probe("segfault");
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{}", out.status);
}

#[test]
fn a_worker_that_dies_of_sigsys_mid_job_is_recorded_as_a_sandbox_crash() {
    let daemon = Daemon::start(
        "workers = 1\njob_timeout = \"60s\"\nretry_backoff_base = \"50ms\"\nretry_backoff_max = \"100ms\"",
        &[(
            "once-slow",
            "export default async (p, ctx) => { if (ctx.job.attempt === 1) await new Promise(r => setTimeout(r, 30000)); return ctx.job.attempt }",
        )],
    );
    let id = daemon.enqueue(with_attempts(job("once-slow", "{}"), 2));
    let mut victim = 0;
    daemon.wait_for("the job to run", Duration::from_secs(20), || {
        let status = daemon.status();
        match status.workers.iter().find(|w| w.job == Some(id)) {
            Some(w) => {
                victim = w.pid.unwrap();
                true
            }
            None => false,
        }
    });
    // The signal the kernel sends when the filter refuses a call; no job can make one.
    // SAFETY: kill(2) of the worker process this test found.
    unsafe { libc::kill(victim as i32, libc::SIGSYS) };
    daemon.wait_for("the retry to complete", Duration::from_secs(30), || {
        daemon.job_state(id) == "completed"
    });
    assert_eq!(
        daemon.attempts(id),
        [(1, "crash".to_owned()), (2, "completed".to_owned())]
    );
    let message: String = daemon
        .db()
        .query_row(
            "SELECT error_message FROM attempts WHERE job_id = ?1 AND attempt = 1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        message,
        "the worker died: crash (sandbox: forbidden system call)"
    );
}

/// A kernel without seccomp, as the worker sees it: a filter put on the child before exec
/// answers `seccomp(2)` with ENOSYS and allows everything else.
#[cfg(target_arch = "x86_64")]
fn without_seccomp(command: &mut Command) {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const LOAD_WORD: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JUMP_IF_EQUAL: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let program = [
        op(LOAD_WORD, 0, 0, 4), // seccomp_data.arch
        op(JUMP_IF_EQUAL, 0, 3, AUDIT_ARCH_X86_64),
        op(LOAD_WORD, 0, 0, 0), // seccomp_data.nr
        op(JUMP_IF_EQUAL, 0, 1, libc::SYS_seccomp as u32),
        op(RETURN, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        op(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    // SAFETY: prctl between fork and exec is async-signal-safe; the kernel copies the
    // program, which the closure owns.
    unsafe {
        command.pre_exec(move || {
            let fprog = libc::sock_fprog {
                len: program.len() as u16,
                filter: program.as_ptr().cast_mut(),
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &fprog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn without_kernel_support_the_worker_says_so_and_still_runs_jobs() {
    if !sandbox_available("without_kernel_support_the_worker_says_so") {
        return;
    }
    let mut command = Command::new(bin("jobvisor-worker"));
    command
        .args(["--check", "fine"])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    without_seccomp(&mut command);
    let mut checker = command.spawn().unwrap();
    checker
        .stdin
        .take()
        .unwrap()
        .write_all(b"export default (p) => p\n")
        .unwrap();
    let out = checker.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"ok":true}"#
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("running without the system-call sandbox"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("seccomp"), "{stderr}");

    // The probe refuses to pretend: no sandbox, no probing.
    let mut command = Command::new(bin("jobvisor-worker"));
    command.args(["--sandbox-probe", "openat"]).env_clear();
    without_seccomp(&mut command);
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", out.status);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn without_kernel_support_the_daemon_warns_at_start_and_its_workers_run_jobs() {
    if !sandbox_available("without_kernel_support_the_daemon_warns_at_start") {
        return;
    }
    let mut daemon = Daemon::prepare("workers = 1", &[("trivial", TRIVIAL)]);
    let log = std::fs::File::create(&daemon.log).unwrap();
    let mut command = jobvisor();
    command
        .arg("serve")
        .arg("--config")
        .arg(&daemon.config)
        .env("JOBVISOR_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // Inherited by the workers it starts.
    without_seccomp(&mut command);
    daemon.child = Some(command.spawn().unwrap());
    daemon.wait_for("the daemon to answer", Duration::from_secs(20), || {
        daemon.try_request(&Request::Status).is_ok()
    });
    assert!(
        daemon
            .log_text()
            .contains("workers run without their sandbox"),
        "{}",
        daemon.log_text()
    );
    let id = daemon.enqueue(job("trivial", r#"{"a":1,"b":2}"#));
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.job_state(id) == "completed"
    });
    daemon.stop();
}
