//! `serve --check` and the store: the schedules of the config may name scripts that exist
//! only in the daemon's store (added with `scripts add`), read next to the running daemon
//! without taking anything it holds; a store of an older schema (before an upgrade) is not
//! a reason to refuse, since `serve` migrates it.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use jobvisor_tests::bin;
use jobvisor_tests::config::ConfigBuilder;
use jobvisor_tests::daemon::Daemon;

/// `serve --check` on the daemon's config with a schedule of `script` added.
fn check_with_schedule_of(daemon: &Daemon, script: &str) -> Output {
    let mut config = std::fs::read_to_string(&daemon.config).unwrap();
    config.push_str(&format!(
        "\n[[schedule]]\nname = \"tick\"\nscript = \"{script}\"\nevery = \"1m\"\n"
    ));
    let path = daemon.dir.path().join("check.toml");
    std::fs::write(&path, config).unwrap();
    Command::new(bin("jobvisor"))
        .args(["serve", "--check", "--config"])
        .arg(&path)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .output()
        .unwrap()
}

#[test]
fn serve_check_finds_the_scripts_of_the_running_daemons_store() {
    let mut daemon = Daemon::start_with(ConfigBuilder::new().workers(1));
    let file = daemon.dir.path().join("added.js");
    std::fs::write(&file, "export default (p) => p\n").unwrap();
    let added = daemon.cli(&["scripts", "add", "added", file.to_str().unwrap()]);
    assert!(added.status.success(), "{added:?}");

    let out = check_with_schedule_of(&daemon, "added");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ready to serve (0 scripts, 1 schedules"),
        "{out:?}"
    );
    let out = check_with_schedule_of(&daemon, "addde");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(
        stderr.contains("schedule `tick` runs script `addde`, which does not exist")
            && stderr.contains("did you mean `added`?"),
        "{stderr}"
    );
    assert!(
        daemon.status().workers.len() == 1,
        "the daemon still answers after the checks"
    );
    daemon.stop();
}

#[test]
fn serve_check_passes_on_a_store_of_an_older_schema_that_serve_would_migrate() {
    let mut daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(1)
            .script("report", "export default (p) => p\n"),
    );
    daemon.stop();
    // The schema version is SQLite's user_version and the store's meta row: set both back.
    let conn = rusqlite::Connection::open(daemon.database()).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(&format!(
        "PRAGMA user_version = {older}; UPDATE meta SET value = {older} WHERE key = 'schema_version';",
        older = version - 1
    ))
    .unwrap();
    drop(conn);

    let out = check_with_schedule_of(&daemon, "report");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr.contains("older than this jobvisor"), "{stderr}");
}
