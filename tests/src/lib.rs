//! Helpers for the end-to-end tests: where the real binaries are, and how to run them.
//!
//! The tests here never call library code in place of a binary: they start `jobvisor` and
//! `jobvisor-worker` as a user would, and read what they print.

pub mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries (`target/debug` or `target/release`),
/// found from the test executable's own path (`<dir>/deps/<test>`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let deps = exe
        .parent()
        .expect("test executable is in a deps directory");
    deps.parent().expect("deps has a parent").to_path_buf()
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

/// Whether a memory cgroup can be created here; prints a SKIP line when not.
pub fn memory_cgroup_available(test: &str) -> bool {
    match jobvisor::cgroup::Limiter::detect(jobvisor::cgroup::LimiterChoice::Cgroup) {
        Ok(_) => true,
        Err(err) => {
            println!("SKIP: {test}: {err}");
            false
        }
    }
}
