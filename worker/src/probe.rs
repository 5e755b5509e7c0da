//! `jobvisor-worker --sandbox-probe WHAT` (hidden; used by the hardening tests): builds the
//! engine and enters the sandbox exactly as a worker does before its first job, then tries
//! one thing. A refused system call kills the process with SIGSYS before anything is
//! reported, so whatever returns is a finding: `Ok` when an allowed operation worked, `Err`
//! when a forbidden one was not refused or an allowed one failed.
//!
//! It must not weaken the sandbox for the probe: the filter is the one [`crate::serve`]
//! installs, entered through the same function.

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use jobvisor_protocol::worker::{Isolation, JobLimits, Outcome, RunJob, ScriptRef};

use crate::channel::{self, Channel};
use crate::engine::Engine;
use crate::sandbox::{self, Sandbox};
use crate::sys;

/// What `--sandbox-probe` accepts. The first are expected to work; `abort`,
/// `stack-overflow` and `segfault` to end the process with their own signal, not SIGSYS;
/// `clone3` to fail with ENOSYS; the rest to be killed with SIGSYS.
const PROBES: &[&str] = &[
    "allowed",
    "clone3",
    "abort",
    "stack-overflow",
    "segfault",
    "fork",
    "thread",
    "socket",
    "openat",
    "execve",
    "ptrace",
    "kill-supervisor",
    "executable-memory",
    "main-thread",
];

/// Stack of the probe's thread: enough for the engine's warm-up; a stack overflow fills
/// it quickly.
const PROBE_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Runs one probe on an engine thread, like a worker's, and returns its report.
pub fn sandbox_probe(what: &str) -> Result<String, String> {
    if !PROBES.contains(&what) {
        return Err(format!(
            "unknown probe `{what}` (one of: {})",
            PROBES.join(", ")
        ));
    }
    sandbox::available()?;
    // Read before the sandbox: getppid is not on the list.
    let parent = std::os::unix::process::parent_id();
    let name = what.to_owned();
    let report = std::thread::Builder::new()
        .name("engine".to_owned())
        .stack_size(PROBE_STACK_BYTES)
        .spawn(move || probe_in_sandbox(&name, parent))
        .map_err(|e| format!("cannot start the probe thread: {e}"))?
        .join()
        .map_err(|_| "the probe thread panicked".to_owned())??;
    if what == "main-thread" {
        // The filter was installed from the engine thread; it covers this one as well.
        let opened = std::fs::File::open("/etc/hostname");
        return Err(format!(
            "the main thread opened a file inside the sandbox: {opened:?}"
        ));
    }
    Ok(report)
}

fn probe_in_sandbox(what: &str, parent: u32) -> Result<String, String> {
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    engine.warm_up();
    sandbox::enter(Sandbox::Enforce).map_err(|e| e.to_string())?;
    // SAFETY (every block below): plain system calls on values owned here; the ones that
    // must be refused never return, and a child of a fork that was not refused exits at
    // once.
    match what {
        "allowed" => allowed(&mut engine),
        "clone3" => {
            let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0) };
            let err = std::io::Error::last_os_error();
            if rc == -1 && err.raw_os_error() == Some(libc::ENOSYS) {
                Ok("clone3 answered ENOSYS".to_owned())
            } else {
                Err(format!("clone3 returned {rc} ({err})"))
            }
        }
        "abort" => std::process::abort(),
        "stack-overflow" => Err(format!("recursion returned {}", recurse(0))),
        "segfault" => segfault(),
        "fork" => {
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                unsafe { libc::_exit(0) };
            }
            not_refused("fork", pid)
        }
        "thread" => not_refused(
            "spawning a thread",
            std::thread::Builder::new().spawn(|| ()),
        ),
        "socket" => not_refused("socket", unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0)
        }),
        "openat" => not_refused("opening a file", std::fs::File::open("/etc/hostname")),
        "execve" => {
            let path = c"/bin/true";
            let argv = [path.as_ptr(), std::ptr::null()];
            let envp = [std::ptr::null()];
            not_refused("execve", unsafe {
                libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr())
            })
        }
        "ptrace" => not_refused("ptrace", unsafe {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0)
        }),
        "kill-supervisor" => not_refused("kill of the parent", unsafe {
            libc::kill(parent as libc::pid_t, 0)
        }),
        "executable-memory" => not_refused("an executable mapping", unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        }),
        "main-thread" => Ok("the engine thread is done".to_owned()),
        other => Err(format!("unknown probe `{other}`")),
    }
}

fn not_refused(what: &str, result: impl std::fmt::Debug) -> Result<String, String> {
    Err(format!("{what} was not refused: {result:?}"))
}

/// What a job does, inside the sandbox: memory, clocks, CPU time, peak RSS, randomness,
/// sleeping, waiting on a descriptor, a caught panic, stderr, and a JavaScript job with timers, console, local time
/// and `Math.random`.
fn allowed(engine: &mut Engine) -> Result<String, String> {
    let mut buffer = vec![1_u8; 8 << 20];
    buffer.resize(64 << 20, 2);
    let touched: u64 = buffer.iter().step_by(4096).map(|&b| u64::from(b)).sum();
    drop(buffer);

    let started = Instant::now();
    let wall = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let cpu = sys::thread_cpu_time();
    let rss = sys::max_rss_bytes();
    let mut random = [0_u8; 16];
    // SAFETY: getrandom writes at most `random.len()` bytes into `random`.
    let got = unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
    if got != random.len() as isize {
        return Err(format!("getrandom returned {got}"));
    }
    std::thread::sleep(Duration::from_millis(5));
    // How a worker waits for its next timer or frame (stdin stands in for its socket).
    channel::poll_readable(0, Duration::from_millis(5)).map_err(|e| format!("ppoll: {e}"))?;
    let caught = std::panic::catch_unwind(|| panic!("sandbox probe: a deliberate panic"));
    if caught.is_ok() {
        return Err("the panic was not caught".to_owned());
    }

    let source = r#"export default async (p) => {
        await new Promise(r => setTimeout(r, 5));
        console.log("inside the sandbox");
        const local = new Date(2024, 0, 15, 12, 30);
        return {
            hours: local.getHours(),
            offset: typeof local.getTimezoneOffset(),
            text: local.toString().length > 0,
            random: Math.random() < 1,
            big: "x".repeat(1 << 22).length,
            payload: p.n,
        };
    }"#;
    let job = RunJob {
        job_id: 1,
        attempt: 1,
        max_attempts: 1,
        queue: "default".to_owned(),
        script: ScriptRef {
            name: "probe".to_owned(),
            hash: "probe-v1".to_owned(),
            source: Some(source.to_owned()),
            node_compat: false,
        },
        payload: r#"{"n":7}"#.to_owned(),
        deadline_ms: 10_000,
        signal_margin_ms: 0,
        limits: JobLimits::default(),
        isolation: Isolation::Job,
    };
    let (outcome, stats) = engine.run(&job);
    let result = match outcome {
        Outcome::Ok { result } => result.unwrap_or_default(),
        Outcome::Err(err) => return Err(format!("the job failed: {}: {}", err.name, err.message)),
    };
    eprintln!("sandbox probe: stderr works");
    Ok(format!(
        "allowed operations work: touched={touched} elapsed={:?} wall_s={} cpu={cpu:?} rss={rss} job_cpu_us={} result={result}",
        started.elapsed(),
        wall.as_secs(),
        stats.cpu_us
    ))
}

/// Recurses until the stack's guard page: the standard library reports the overflow and
/// aborts.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if std::hint::black_box(depth) == u64::MAX {
        return frame[0];
    }
    recurse(depth + 1).wrapping_add(frame[1])
}

/// Reads a page mapped without access: SIGSEGV, after the standard library's handler has
/// looked at it and returned.
fn segfault() -> Result<String, String> {
    // SAFETY: a fresh anonymous mapping; reading it faults, which is the point, and the
    // value is never used as anything but a number.
    let byte = unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if page == libc::MAP_FAILED {
            return Err(format!("mmap failed: {}", std::io::Error::last_os_error()));
        }
        std::ptr::read_volatile(page.cast::<u8>())
    };
    Err(format!("reading an inaccessible page returned {byte}"))
}
