//! The CLI's closed sets of values (`jobs list --state`, `schedules add --overlap` and
//! `--catch-up`): a value outside the set is refused on the command line (exit 2) with the
//! values there are, before any connection; the `--json` of the views that carry them
//! prints the same lowercase names the tables show.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};
use std::time::Duration;

use jobvisor_tests::bin;
use jobvisor_tests::config::ConfigBuilder;
use jobvisor_tests::daemon::Daemon;

/// `jobvisor ARGS` against a socket where no daemon listens.
fn without_daemon(args: &[&str]) -> Output {
    Command::new(bin("jobvisor"))
        .args(args)
        .args(["--socket", "/nonexistent/jobvisor/control.sock"])
        .env_remove("JOBVISOR_CONFIG")
        .output()
        .unwrap()
}

fn refused(out: &Output, option: &str, value: &str, values: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("invalid value '{value}' for '{option}"))
            && stderr.contains(&format!("[possible values: {values}]")),
        "{stderr}"
    );
}

#[test]
fn an_unknown_job_state_is_refused_on_the_command_line_with_the_states() {
    let out = without_daemon(&["jobs", "list", "--state", "finished"]);
    refused(
        &out,
        "--state <STATE>",
        "finished",
        "scheduled, available, running, retryable, completed, discarded, cancelled",
    );
}

#[test]
fn an_unknown_overlap_or_catch_up_policy_is_refused_on_the_command_line() {
    let add = ["schedules", "add", "nightly", "--script", "report"];
    let out = without_daemon(&[&add[..], &["--overlap", "sometimes"]].concat());
    refused(
        &out,
        "--overlap <OVERLAP>",
        "sometimes",
        "skip, queue, allow",
    );
    let out = without_daemon(&[&add[..], &["--catch-up", "later"]].concat());
    refused(&out, "--catch-up <CATCH_UP>", "later", "coalesce, skip");
    let json = without_daemon(&[&add[..], &["--overlap", "sometimes", "--json"]].concat());
    assert_eq!(json.status.code(), Some(2));
    let error: serde_json::Value = serde_json::from_slice(&json.stderr).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|e| e.contains("'sometimes'")),
        "{error}"
    );
}

#[test]
fn the_json_of_schedules_and_jobs_names_states_and_policies_as_the_tables_do() {
    let mut daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(1)
            .script("throws", "export default () => { throw new Error('down') }"),
    );
    let ok = |args: &[&str]| {
        let out = daemon.cli(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    ok(&[
        "schedules",
        "add",
        "flaky",
        "--script",
        "throws",
        "--every",
        "1s",
        "--max-attempts",
        "1",
        "--overlap",
        "queue",
        "--catch-up",
        "skip",
        "--json",
    ]);
    let mut schedule = serde_json::Value::Null;
    daemon.wait_for("a discarded run", Duration::from_secs(20), || {
        schedule = ok(&["schedules", "list", "--json"])[0].clone();
        schedule["last_outcome"] == "discarded (js_error)"
    });
    assert_eq!(schedule["overlap"], "queue", "{schedule}");
    let discarded = ok(&["jobs", "list", "--state", "discarded", "--json"]);
    let first = &discarded[0];
    assert_eq!(first["state"], "discarded", "{discarded}");
    assert_eq!(first["last_outcome"], "js_error", "{discarded}");
    let available = ok(&["jobs", "list", "--state", "completed", "--json"]);
    assert_eq!(available, serde_json::json!([]));
    daemon.stop();
}
