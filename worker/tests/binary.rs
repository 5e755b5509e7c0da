//! The worker binary refuses to start without the supervisor's socket.

use std::process::Command;

#[test]
fn started_by_hand_it_explains_itself() {
    let out = Command::new(env!("CARGO_BIN_EXE_jobvisor-worker"))
        .output()
        .expect("worker binary runs");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fd 3 is not a socket"), "{stderr}");
}

#[test]
fn unknown_arguments_are_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_jobvisor-worker"))
        .arg("--frobnicate")
        .output()
        .expect("worker binary runs");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument `--frobnicate`"));
}
