//! The npm compatibility suite (`tests/compat/run.sh`) as part of the test suite: real
//! libraries bundled with esbuild, each run by node and by the `jobvisor run` built for
//! these tests, and compared exactly. The script installs node and npm when they are
//! missing (as root) and the pinned libraries on first use.

use std::path::Path;
use std::process::Command;

#[test]
fn npm_libraries_give_nodes_results_or_are_listed_as_known_failures() {
    let test = "npm_libraries_give_nodes_results_or_are_listed_as_known_failures";
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root && (!on_path("node") || !on_path("npm")) {
        jobvisor_tests::skip(
            test,
            "node and npm are not installed, and only root installs them",
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/run.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(jobvisor_tests::bin("jobvisor"))
        .env("JOBVISOR_WORKER", jobvisor_tests::bin("jobvisor-worker"))
        .status()
        .expect("bash runs the compatibility suite");
    assert!(
        status.success(),
        "the compatibility suite failed ({status}); its table above names each case"
    );
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
