//! `ctx.state` end to end: real daemons, real SIGKILLs and restarts, and the `jobvisor
//! state` commands. A job's writes are staged and committed with its completion, so a job
//! that dies leaves the state as it found it.

use std::time::Duration;

use jobvisor_tests::config::{ConfigBuilder, Grants};
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::fixture;
use jobvisor_tests::http_server::HttpServer;
use jobvisor_tests::result_of;
use jobvisor_tests::store_view::JobState;
use serde_json::{Value, json};

/// Short timeouts, no retries unless a test asks.
fn base_config(workers: u32) -> ConfigBuilder {
    ConfigBuilder::new()
        .workers(workers)
        .job_timeout("60s")
        .kill_grace("200ms")
        .max_attempts(1)
        .retry_backoff("10ms", "50ms")
        .restart_backoff("10ms", "50ms")
}

/// A daemon with the `poller-cursor` fixture, allowed to tell `server` where it is.
fn poller_daemon(server: &HttpServer) -> Daemon {
    Daemon::start_with(base_config(1).script_with_grants(
        "poller-cursor",
        &fixture::job("poller-cursor"),
        Grants::new().allow_private(&[&server.host_port()]),
    ))
}

/// `jobvisor state ARGS --json`: the exit code and the document printed (stdout on
/// success, the error document otherwise).
fn state_cli(daemon: &Daemon, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["state"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = daemon.cli(&all);
    let text = if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    };
    let doc = serde_json::from_slice(text).unwrap_or_else(|e| {
        panic!(
            "state {args:?} printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("an exit code"), doc)
}

/// The value of `key` in `script`'s state, `None` when it has none.
fn state_value(daemon: &Daemon, script: &str, key: &str) -> Option<Value> {
    match state_cli(daemon, &["get", script, key]) {
        (0, doc) => Some(json_text(&doc["entry"]["value"])),
        (2, doc)
            if doc["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("no key")) =>
        {
            None
        }
        (code, doc) => panic!("state get {script} {key}: exit {code}: {doc:#}"),
    }
}

/// A value as `--json` prints it: its JSON text, in a string.
fn json_text(value: &Value) -> Value {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not JSON text: {value}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn a_poller_killed_after_set_keeps_its_old_cursor_and_a_completed_one_moves_it() {
    let server = HttpServer::start();
    let mut daemon = poller_daemon(&server);
    assert_eq!(
        state_cli(&daemon, &["set", "poller-cursor", "cursor", "1"]).0,
        0
    );

    // The job stages cursor = 2, says so to the server, then waits; it is SIGKILLed there.
    let id = daemon.enqueue(job(
        "poller-cursor",
        &json!({ "next": 2, "notify": server.url("/echo"), "holdMs": 60_000 }).to_string(),
    ));
    let pid = daemon.wait_job_on_worker(id, Duration::from_secs(20));
    daemon.wait_for("the job's set and notify", Duration::from_secs(20), || {
        server.request_count() == 1
    });
    // SAFETY: kill(2) on a worker of our daemon.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    daemon.wait_for("the killed job's end", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Discarded
    });
    assert_eq!(
        state_value(&daemon, "poller-cursor", "cursor"),
        Some(json!(1)),
        "a job killed after set leaves the old cursor"
    );

    // A completed job reads the old cursor and leaves its own.
    let done = daemon.run_job("poller-cursor", &json!({ "next": 3 }));
    assert_eq!(result_of(&done)["old"], 1, "{done:#}");
    assert_eq!(
        state_value(&daemon, "poller-cursor", "cursor"),
        Some(json!(3))
    );

    // The state survives a restart: the CLI and the next job see it.
    daemon.stop();
    daemon.launch();
    assert_eq!(
        state_value(&daemon, "poller-cursor", "cursor"),
        Some(json!(3)),
        "after a restart"
    );
    let next = daemon.run_job("poller-cursor", &json!({ "next": 4 }));
    assert_eq!(result_of(&next)["old"], 3, "{next:#}");
    daemon.stop();
}

#[test]
fn a_job_that_throws_or_times_out_after_set_leaves_no_write() {
    let server = HttpServer::start();
    let daemon = Daemon::start_with(base_config(1).job_timeout("1s").script_with_grants(
        "poller-cursor",
        &fixture::job("poller-cursor"),
        Grants::new().allow_private(&[&server.host_port()]),
    ));
    // Past its deadline while holding the staged write.
    let job = daemon.run_job("poller-cursor", &json!({ "next": 5, "holdMs": 5_000 }));
    assert_eq!(job["state"], "discarded", "{job:#}");
    assert_eq!(state_value(&daemon, "poller-cursor", "cursor"), None);
    // The handler's promise rejects after set: a fetch to a port nothing listens on is
    // refused by the allow-list before any connection.
    let job = daemon.run_job(
        "poller-cursor",
        &json!({ "next": 6, "notify": "http://127.0.0.1:1/" }),
    );
    assert_eq!(job["state"], "discarded", "{job:#}");
    assert_eq!(state_value(&daemon, "poller-cursor", "cursor"), None);
}

#[test]
fn two_jobs_racing_a_compare_and_set_one_wins() {
    let daemon = Daemon::start_with(base_config(2).fixture_script("cas-increment"));
    daemon.wait_idle_workers(2, Duration::from_secs(20));
    // Both read the absent key (version null) while the other waits, then both write
    // with that check.
    let ids = daemon.enqueue_many(
        (0..2).map(|_| job("cas-increment", &json!({ "waitMs": 1_500 }).to_string())),
    );
    daemon.wait_for("both jobs' end", Duration::from_secs(30), || {
        ids.iter().all(|&id| {
            matches!(
                daemon.job_state(id),
                JobState::Completed | JobState::Discarded
            )
        })
    });
    let jobs: Vec<Value> = ids.iter().map(|&id| daemon.show_job(id)).collect();
    let won: Vec<&Value> = jobs.iter().filter(|j| j["state"] == "completed").collect();
    assert_eq!(won.len(), 1, "exactly one wins: {jobs:#?}");
    assert_eq!(won[0]["result"], json!({ "read": 0, "version": null }));
    let lost = jobs
        .iter()
        .find(|j| j["state"] == "discarded")
        .expect("the other lost");
    let error = &lost["attempts"][0]["error"];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("counter") && m.contains("version")),
        "the loser's error names the key and the version: {lost:#}"
    );
    assert_eq!(
        state_value(&daemon, "cas-increment", "counter"),
        Some(json!(1))
    );

    // With a retry, the loser reads the winner's write and both increments land.
    let daemon = Daemon::start_with(
        base_config(2)
            .max_attempts(3)
            .fixture_script("cas-increment"),
    );
    daemon.wait_idle_workers(2, Duration::from_secs(20));
    let ids = daemon.enqueue_many(
        (0..2).map(|_| job("cas-increment", &json!({ "waitMs": 1_500 }).to_string())),
    );
    daemon.wait_for("both jobs completed", Duration::from_secs(30), || {
        ids.iter()
            .all(|&id| daemon.job_state(id) == JobState::Completed)
    });
    assert_eq!(
        state_value(&daemon, "cas-increment", "counter"),
        Some(json!(2))
    );
}

#[test]
fn a_state_value_over_64_kib_is_a_clean_error() {
    let daemon = Daemon::start_with(base_config(1).fixture_script("state-set-size"));
    // 65,534 characters and two quotes: exactly 64 KiB of JSON, stored.
    let fits = daemon.run_job("state-set-size", &json!({ "size": 65_534 }));
    assert_eq!(result_of(&fits), "stored", "{fits:#}");
    let over = daemon.run_job("state-set-size", &json!({ "size": 65_535 }));
    let error = result_of(&over);
    assert_eq!(error["name"], "RangeError", "{over:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("65536") || message.contains("64 KiB"),
        "the limit is named: {message}"
    );
    // The job caught the error and completed; the refused write was never staged.
    let (code, doc) = state_cli(&daemon, &["list", "state-set-size"]);
    assert_eq!(code, 0, "{doc:#}");
    let entries = doc["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{doc:#}");
    assert_eq!(entries[0]["version"], 1, "the fitting write only: {doc:#}");
}

#[test]
fn the_state_commands_list_get_set_and_delete_with_version_checks() {
    let daemon = Daemon::start_with(base_config(1).fixture_script("state-set-size"));
    let ns = "state-set-size";
    let (code, set) = state_cli(&daemon, &["set", ns, "cursor", r#"{"at": 42}"#]);
    assert_eq!(code, 0, "{set:#}");
    let version = set["version"].as_i64().expect("version");
    assert_eq!(
        state_value(&daemon, ns, "cursor"),
        Some(json!({ "at": 42 }))
    );

    // A version check that fails writes nothing and exits 8.
    let stale = (version + 7).to_string();
    let (code, refused) = state_cli(&daemon, &["set", ns, "cursor", "1", "--if-version", &stale]);
    assert_eq!(code, 8, "{refused:#}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("holds version {version}"))),
        "{refused:#}"
    );
    let (code, doc) = state_cli(&daemon, &["set", ns, "cursor", "1", "--if-version", "0"]);
    assert_eq!(code, 8, "the key exists: {doc:#}");
    assert_eq!(
        state_value(&daemon, ns, "cursor"),
        Some(json!({ "at": 42 }))
    );
    let current = version.to_string();
    let (code, doc) = state_cli(
        &daemon,
        &["set", ns, "cursor", "2", "--if-version", &current],
    );
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(state_value(&daemon, ns, "cursor"), Some(json!(2)));

    let (code, list) = state_cli(&daemon, &["list", ns]);
    assert_eq!(code, 0, "{list:#}");
    assert_eq!(list["entries"][0]["key"], "cursor", "{list:#}");
    assert_eq!(json_text(&list["entries"][0]["value"]), 2, "{list:#}");

    // Bad input names the problem and writes nothing.
    let long_key = "k".repeat(513);
    let big_value = format!("\"{}\"", "x".repeat(70_000));
    for (args, expected) in [
        (vec!["set", ns, "cursor", "{bad"], "must be JSON"),
        (vec!["set", ns, &long_key, "1"], "at most 512 bytes"),
        (vec!["set", ns, "cursor", &big_value], "at most 65536 bytes"),
        (vec!["set", ns, "", "1"], "must not be empty"),
    ] {
        let (code, doc) = state_cli(&daemon, &args);
        assert_eq!(code, 2, "{args:?}: {doc:#}");
        let message = doc["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{:?}: {message}", &args[..3]);
    }
    assert_eq!(state_value(&daemon, ns, "cursor"), Some(json!(2)));

    let (code, doc) = state_cli(&daemon, &["delete", ns, "cursor", "--if-version", "1"]);
    assert_eq!(code, 8, "a stale delete: {doc:#}");
    let (code, doc) = state_cli(&daemon, &["delete", ns, "cursor"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(state_value(&daemon, ns, "cursor"), None);
}
