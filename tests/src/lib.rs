//! Helpers for the end-to-end tests and the end-to-end benchmark (`bench/`): where the
//! real binaries are, and how to run them.
//!
//! The tests here never call library code in place of a binary: they start `jobvisor` and
//! `jobvisor-worker` as a user would, and read what they print. The one exception is
//! `tests/inproc.rs`, which runs the daemon's library (`serve::run`) in its own process on
//! purpose, with the real worker binary.

pub mod config;
pub mod daemon;
pub mod fixture;
pub mod http_server;
pub mod store_view;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries (`target/debug` or `target/release`),
/// found from the running executable's own path: a test is `<dir>/deps/<test>`, a
/// workspace binary (the benchmark) is `<dir>/<name>`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable has a path");
    let dir = exe.parent().expect("the executable is in a directory");
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().expect("deps has a parent").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Waits up to `within` for `child` to exit; `None` when it did not (it is then killed and
/// reaped, so no test leaves it behind).
pub fn exit_within(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The path of a workspace binary; panics with the fix if it was not built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` (which builds every binary)",
        path.display()
    );
    path
}

/// A `jobvisor` command with the worker binary of this build.
pub fn jobvisor() -> Command {
    let mut command = Command::new(bin("jobvisor"));
    command.env("JOBVISOR_WORKER", bin("jobvisor-worker"));
    command
}

/// What one `jobvisor run` printed.
#[derive(Debug)]
pub struct RunOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl RunOutput {
    /// The `--json` report.
    pub fn report(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a JSON report ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Writes `source` to a fresh file named `<name>.js` and runs `jobvisor run` on it with
/// `args`.
pub fn run_script(name: &str, source: &str, args: &[&str]) -> RunOutput {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(format!("{name}.js"));
    std::fs::write(&file, source).expect("write script");
    run_file(&file, args)
}

/// Runs `jobvisor run FILE ARGS...`.
pub fn run_file(file: &Path, args: &[&str]) -> RunOutput {
    let started = Instant::now();
    let output: Output = jobvisor()
        .arg("run")
        .arg(file)
        .args(args)
        .output()
        .expect("jobvisor runs");
    RunOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// The result of a job, as `jobs show --json` prints it, that must have completed.
pub fn result_of(job: &serde_json::Value) -> &serde_json::Value {
    assert_eq!(job["state"], "completed", "{job:#}");
    &job["result"]
}

/// Runs a script with `--json` and returns the report, checking the exit code.
pub fn run_json(name: &str, source: &str, args: &[&str], expected_code: i32) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run_script(name, source, &all);
    assert_eq!(
        out.code, expected_code,
        "exit code of `{name}`\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out.report()
}

/// Whether a memory cgroup can be created here; reports a skip when not. On a unified
/// (v2) hierarchy without the memory controller the skip is an allowed one (such machines
/// cannot run the test at all); anywhere else it is not.
pub fn memory_cgroup_available(test: &str) -> bool {
    match jobvisor_supervisor::cgroup::Limiter::detect(
        jobvisor_supervisor::cgroup::LimiterChoice::Cgroup,
    ) {
        Ok(_) => true,
        Err(err) => {
            let controllers = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers");
            match controllers {
                Ok(list) if !list.split_whitespace().any(|c| c == "memory") => {
                    skip_allowed(test, &format!("no cgroup v2 memory controller: {err}"));
                }
                _ => skip(test, &err.to_string()),
            }
            false
        }
    }
}

/// Environment variable naming a directory where every skip is also recorded (one line
/// per skip in `<dir>/skips`), so that CI can fail on skips it does not allow.
pub const SKIP_LOG_ENV: &str = "JOBVISOR_SKIP_LOG";

/// Reports that `test` could not run its real fault and returns without testing: a
/// `SKIP:` line on the real stderr (visible in the normal `cargo test` output, which
/// captures only `print!`), and a `skip` line in the skip log. CI fails on these.
pub fn skip(test: &str, reason: &str) {
    record_skip("skip", test, reason);
}

/// As [`skip`], for the one case CI allows: the machine lacks the cgroup v2 memory
/// controller. Recorded as `allowed`.
pub fn skip_allowed(test: &str, reason: &str) {
    record_skip("allowed", test, reason);
}

fn record_skip(kind: &str, test: &str, reason: &str) {
    use std::io::Write as _;
    let line = format!("SKIP: {test}: {reason}");
    // Straight to the file descriptor: the test harness captures the print macros only.
    let _ = writeln!(std::io::stderr(), "{line}");
    let Some(dir) = std::env::var_os(SKIP_LOG_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("skips"))?;
        // One write per line: appends of this size do not interleave.
        log.write_all(format!("{kind}\t{line}\n").as_bytes())
    });
    if let Err(err) = written {
        panic!("cannot record the skip in {}: {err}", dir.display());
    }
}

/// A copy of `jobvisor` that the `nobody` user (uid 65534) can run, started through
/// `setpriv` as that user: how tests reach a daemon as another uid.
pub struct AsNobody {
    setpriv: PathBuf,
    cli: PathBuf,
    _dir: tempfile::TempDir,
}

impl AsNobody {
    /// `None` (after printing why the test skips) unless running as root with setpriv.
    pub fn prepare(test: &str) -> Option<AsNobody> {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            skip(
                test,
                "connecting as another uid needs root (to switch to nobody)",
            );
            return None;
        }
        let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
        else {
            skip(test, "setpriv (util-linux) is not installed");
            return None;
        };
        // The binary must be reachable for nobody: copy it somewhere world-readable.
        let dir = tempfile::Builder::new()
            .prefix("jobvisor-nobody")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(dir.path(), open.clone()).expect("chmod");
        let cli = dir.path().join("jobvisor");
        std::fs::copy(bin("jobvisor"), &cli).expect("copy jobvisor");
        std::fs::set_permissions(&cli, open).expect("chmod");
        Some(AsNobody {
            setpriv,
            cli,
            _dir: dir,
        })
    }

    /// `jobvisor ARGS` as nobody.
    pub fn jobvisor(&self, args: &[&str]) -> Output {
        Command::new(&self.setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&self.cli)
            .args(args)
            .output()
            .expect("setpriv runs")
    }
}
