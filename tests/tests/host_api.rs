//! The host API end to end, fetch and `jobvisor run`: real daemons and `jobvisor run`
//! against a real HTTP server on loopback (`tests/src/http_server.rs`). What a script asks
//! for goes through the supervisor's policy; what it did is recorded on its attempt.

use std::time::{Duration, Instant};

use jobvisor_tests::config::{ConfigBuilder, Grants};
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::http_server::{HttpServer, percent_encode};
use jobvisor_tests::store_view::{JobState, OutcomeKind};
use jobvisor_tests::{fixture, result_of, run_file};
use serde_json::{Value, json};

/// A daemon with `workers` slots and `script` (a fixture) allowed to reach `server`.
fn daemon_for(server: &HttpServer, workers: u32, script: &str) -> Daemon {
    Daemon::start_with(base_config(workers).script_with_grants(
        script,
        &fixture::job(script),
        Grants::new().allow_private(&[&server.host_port()]),
    ))
}

/// Short timeouts for every test here.
fn base_config(workers: u32) -> ConfigBuilder {
    ConfigBuilder::new()
        .workers(workers)
        .job_timeout("10s")
        .kill_grace("200ms")
        .max_attempts(1)
        .retry_backoff("10ms", "50ms")
        .restart_backoff("10ms", "50ms")
}

/// The recorded requests of the job's last attempt.
fn requests_of(job: &Value) -> Vec<Value> {
    job["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(|a| a["requests"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("no requests in {job:#}"))
}

/// The error message a fetch-report job caught, checking it was a TypeError.
fn caught_type_error(job: &Value) -> String {
    let error = &result_of(job)["error"];
    assert_eq!(error["typeError"], true, "{job:#}");
    error["message"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn get_and_post_with_json_and_headers_reach_the_server_and_are_recorded() {
    let server = HttpServer::start();
    let daemon = daemon_for(&server, 1, "fetch-report");
    let job = daemon.run_job(
        "fetch-report",
        &json!({ "url": server.url("/echo?token=hidden"), "init": { "headers": { "X-Probe": "yes" } }, "read": "json" }),
    );
    let result = result_of(&job);
    assert_eq!(result["status"], 200, "{job:#}");
    assert_eq!(result["ok"], true);
    assert_eq!(result["type"], "application/json");
    assert_eq!(result["body"]["method"], "GET");
    assert_eq!(result["body"]["path"], "/echo?token=hidden");
    assert_eq!(result["body"]["headers"]["x-probe"], "yes");

    let job = daemon.run_job(
        "fetch-report",
        &json!({ "url": server.url("/echo"), "read": "json", "init": {
            "method": "post",
            "headers": { "content-type": "application/json" },
            "body": "{\"a\":1}",
        } }),
    );
    let body = &result_of(&job)["body"];
    assert_eq!(body["method"], "POST", "{job:#}");
    assert_eq!(body["body"], "{\"a\":1}");
    assert_eq!(body["headers"]["content-type"], "application/json");
    assert_eq!(server.request_count(), 2);

    // The first job's record: the URL without its query, the status and the bytes.
    let first = daemon.show_job(job["id"].as_i64().expect("id") - 1);
    let [record] = &requests_of(&first)[..] else {
        panic!("one request recorded: {first:#}");
    };
    assert_eq!(record["method"], "GET", "{record}");
    assert_eq!(record["url"], server.url("/echo"), "{record}");
    assert_eq!(record["status"], 200);
    assert!(record["bytes_in"].as_u64().unwrap_or(0) > 50, "{record}");
    let [post] = &requests_of(&job)[..] else {
        panic!("one request recorded: {job:#}");
    };
    assert_eq!(post["method"], "POST", "{post}");
    assert_eq!(post["bytes_out"], 7, "{post}");
}

#[test]
fn redirects_are_followed_and_a_404_is_not_ok() {
    let server = HttpServer::start();
    let daemon = daemon_for(&server, 1, "fetch-report");
    let to = percent_encode(&server.url("/echo/landed"));
    let job = daemon.run_job(
        "fetch-report",
        &json!({ "url": server.url(&format!("/redirect?to={to}")), "read": "json" }),
    );
    let result = result_of(&job);
    assert_eq!(result["status"], 200, "{job:#}");
    assert_eq!(result["redirected"], true);
    assert_eq!(result["url"], server.url("/echo/landed"));
    assert_eq!(result["body"]["path"], "/echo/landed");
    assert_eq!(requests_of(&job)[0]["redirects"], 1, "{job:#}");

    let job = daemon.run_job(
        "fetch-report",
        &json!({ "url": server.url("/chain/3"), "read": "json" }),
    );
    assert_eq!(result_of(&job)["body"]["path"], "/chain/0", "{job:#}");
    assert_eq!(requests_of(&job)[0]["redirects"], 3, "{job:#}");

    // Past the hop limit (5): refused, naming the limit.
    let job = daemon.run_job("fetch-report", &json!({ "url": server.url("/chain/9") }));
    let message = caught_type_error(&job);
    assert!(message.contains("redirect"), "{message}");

    let job = daemon.run_job("fetch-report", &json!({ "url": server.url("/status/404") }));
    let result = result_of(&job);
    assert_eq!(result["status"], 404, "{job:#}");
    assert_eq!(result["ok"], false);
    assert_eq!(result["body"], "status 404");
    assert_eq!(requests_of(&job)[0]["status"], 404);
}

#[test]
fn a_body_over_the_cap_is_a_clear_error_with_or_without_a_length() {
    let server = HttpServer::start();
    let daemon = Daemon::start_with(
        base_config(1)
            .fetch_max_response_size("64KiB")
            .script_with_grants(
                "fetch-report",
                &fixture::job("fetch-report"),
                Grants::new().allow_private(&[&server.host_port()]),
            ),
    );
    for path in ["/big/200000", "/chunked/200000"] {
        let job = daemon.run_job("fetch-report", &json!({ "url": server.url(path) }));
        let message = caught_type_error(&job);
        assert!(
            message.contains("max_response_size"),
            "{path}: the error names the setting: {message}"
        );
        let record = &requests_of(&job)[0];
        assert!(
            record["error"]
                .as_str()
                .is_some_and(|e| e.contains("max_response_size")),
            "{path}: {record}"
        );
    }
    // Under the cap, the whole body arrives.
    let job = daemon.run_job(
        "fetch-report",
        &json!({ "url": server.url("/chunked/60000") }),
    );
    assert_eq!(
        result_of(&job)["body"].as_str().map(str::len),
        Some(60000),
        "a body under the cap"
    );
}

#[test]
fn refused_hosts_private_addresses_and_bad_urls_are_type_errors_naming_the_setting() {
    let server = HttpServer::start();
    let port = server.port();
    let localhost = format!("localhost:{port}");
    let daemon = Daemon::start_with(
        base_config(1).script_with_grants(
            "fetch-report",
            &fixture::job("fetch-report"),
            Grants::new()
                .allow_net(&[&localhost, "169.254.169.254"])
                .allow_private(&[&server.host_port()]),
        ),
    );
    // A host that is not listed.
    let job = daemon.run_job(
        "fetch-report",
        &json!({ "url": "http://api.example.com/x" }),
    );
    let message = caught_type_error(&job);
    assert!(
        message.contains("api.example.com") && message.contains("allow_net"),
        "{message}"
    );
    let record = &requests_of(&job)[0];
    assert_eq!(record["status"], Value::Null, "{record}");
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|e| e.contains("allow_net")),
        "{record}"
    );

    // A listed name that resolves to 127.0.0.1, without allow_private.
    let job = daemon.run_job(
        "fetch-report",
        &json!({ "url": format!("http://{localhost}/echo") }),
    );
    let message = caught_type_error(&job);
    assert!(
        message.contains("allow_private") && message.contains("127.0.0.1"),
        "{message}"
    );

    // An allowed private host redirecting to a private address that is not.
    for target in [
        format!("http://{localhost}/echo"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let url = server.url(&format!("/redirect?to={}", percent_encode(&target)));
        let job = daemon.run_job("fetch-report", &json!({ "url": url }));
        let message = caught_type_error(&job);
        assert!(message.contains("allow_private"), "{target}: {message}");
    }
    // Only the first hop of each reached the server: nothing went to the refused ones.
    assert_eq!(server.request_count(), 2, "{:?}", server.requests());

    for bad in ["not a url", "/relative", "ftp://127.0.0.1/x"] {
        let job = daemon.run_job("fetch-report", &json!({ "url": bad }));
        let message = caught_type_error(&job);
        assert!(!message.is_empty(), "{bad}");
    }
}

#[test]
fn a_stalled_server_ends_the_attempt_at_its_deadline_and_the_daemon_answers() {
    let server = HttpServer::start();
    let daemon = Daemon::start_with(
        base_config(1)
            .job_timeout("3s")
            .signal_margin("500ms")
            .script_with_grants(
                "fetch-uncaught",
                &fixture::job("fetch-uncaught"),
                Grants::new().allow_private(&[&server.host_port()]),
            ),
    );
    let id = daemon.enqueue(jobvisor_tests::daemon::job(
        "fetch-uncaught",
        &json!({ "url": server.url("/stall") }).to_string(),
    ));
    let started = Instant::now();
    daemon.wait_for("the stalled request", Duration::from_secs(10), || {
        server.in_flight() == 1
    });
    // The daemon answers while the request stalls.
    let asked = Instant::now();
    let _ = daemon.status();
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "status took {:?}",
        asked.elapsed()
    );
    daemon.wait_for("the attempt's end", Duration::from_secs(15), || {
        daemon.job_state(id) == jobvisor_tests::store_view::JobState::Discarded
    });
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(8),
        "the attempt ends at its deadline (3 s), not later: {elapsed:?}"
    );
    let job = daemon.show_job(id);
    let attempt = &job["attempts"][0];
    let outcome = attempt["outcome"].as_str().unwrap_or_default();
    let name = attempt["error"]["name"].as_str().unwrap_or_default();
    assert!(
        outcome == "timeout" || (outcome == "js_error" && name == "TimeoutError"),
        "a timeout, or a TimeoutError of the fetch: {job:#}"
    );
    let record = &requests_of(&job)[0];
    assert_eq!(record["status"], Value::Null, "{record}");
}

#[test]
fn fifty_concurrent_fetches_from_two_workers_all_complete_under_the_in_flight_cap() {
    let server = HttpServer::start();
    let daemon = Daemon::start_with(base_config(2).fetch_max_in_flight(4).script_with_grants(
        "fetch-many",
        &fixture::job("fetch-many"),
        Grants::new().allow_private(&[&server.host_port()]),
    ));
    daemon.wait_idle_workers(2, Duration::from_secs(20));
    let ids = daemon.enqueue_many((0..2).map(|_| {
        jobvisor_tests::daemon::job(
            "fetch-many",
            &json!({ "url": server.url("/slow/50"), "count": 25 }).to_string(),
        )
    }));
    for id in ids {
        daemon.wait_for("the job's end", Duration::from_secs(30), || {
            daemon.job_state(id).is_finished()
        });
        let job = daemon.show_job(id);
        assert_eq!(result_of(&job), &json!({ "200": 25 }), "{job:#}");
        assert_eq!(requests_of(&job).len(), 25);
    }
    assert_eq!(server.request_count(), 50);
    // Two attempts, each at most 4 in flight. A slot is freed when the response head
    // arrives, a moment before the server's thread counts the request as answered: one
    // hop of slack per attempt.
    assert!(
        server.max_in_flight() <= 10,
        "at most [fetch] max_in_flight per attempt: {}",
        server.max_in_flight()
    );
    assert!(server.max_in_flight() >= 2, "the fetches overlapped");
}

#[test]
fn jobvisor_run_keeps_state_prints_children_and_refuses_hosts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().expect("utf-8");
    let script = fixture::job_path("state-round-trip-cli");
    let first = run_file(&script, &["--json", "--state-file", state_arg]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let report = first.report();
    assert_eq!(report["result"]["count"], Value::Null, "{report:#}");
    assert_eq!(report["children"][0]["script"], "child", "{report:#}");
    let second = run_file(&script, &["--json", "--state-file", state_arg]);
    let report = second.report();
    assert_eq!(
        report["result"]["count"], 1,
        "the first run's write: {report:#}"
    );

    // Without --json the child is printed too.
    let third = run_file(&script, &["--state-file", state_arg]);
    assert!(
        third.stdout.contains("child") || third.stderr.contains("child"),
        "{third:?}"
    );

    // A fetch with --allow-private and a --secret reference substituted at egress.
    let server = HttpServer::start();
    let secret = dir.path().join("token");
    std::fs::write(&secret, "run-secret-value-123\n").expect("write the secret");
    set_mode(&secret, 0o600);
    let secret_arg = format!("TOKEN=@{}", secret.display());
    let out = run_file(
        &fixture::job_path("secret-ref-fetch"),
        &[
            "--json",
            "--allow-private",
            &server.host_port(),
            "--allow-net",
            &server.host_port(),
            "--secret",
            &secret_arg,
            "--payload",
            &json!({ "url": server.url("/echo"), "name": "TOKEN" }).to_string(),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let seen = server.requests();
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer run-secret-value-123"),
        "the reference is replaced at egress"
    );
    // The echo hands the value back; the report masks it.
    assert!(
        !out.stdout.contains("run-secret-value-123"),
        "{}",
        out.stdout
    );

    // A refused host exits with the js_error code.
    let out = run_file(
        &fixture::job_path("fetch-uncaught"),
        &["--payload", r#"{"url":"http://api.example.com/"}"#],
    );
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("allow_net") || out.stdout.contains("allow_net"),
        "{out:?}"
    );
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A daemon with `enqueue-children` and the child script `echo`.
fn parent_daemon() -> Daemon {
    Daemon::start_with(
        base_config(2)
            .fixture_script("enqueue-children")
            .fixture_script("echo"),
    )
}

#[test]
fn a_failed_parent_leaves_no_child_and_a_completed_ones_children_run() {
    let daemon = parent_daemon();
    let job = daemon.run_job(
        "enqueue-children",
        &json!({ "count": 3, "child": "echo", "throw": true }),
    );
    assert_eq!(job["state"], "discarded", "{job:#}");
    assert_eq!(
        daemon.store().total_jobs(),
        1,
        "no child of a failed parent"
    );

    let job = daemon.run_job("enqueue-children", &json!({ "count": 2, "child": "echo" }));
    assert_eq!(result_of(&job), 2, "{job:#}");
    daemon.wait_for("both children completed", Duration::from_secs(20), || {
        daemon.count_in_state(jobvisor_tests::store_view::JobState::Completed) == 3
    });
    assert_eq!(daemon.store().total_jobs(), 4);
}

#[test]
fn the_parent_child_link_shows_in_jobs_show_json() {
    let daemon = parent_daemon();
    let job = daemon.run_job("enqueue-children", &json!({ "count": 1, "child": "echo" }));
    let parent = job["id"].as_i64().expect("id");
    let shown = daemon.show_job(parent);
    let child = shown["children"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("children in {shown:#}"));
    assert_eq!(daemon.show_job(child)["parent"], parent);
}

/// A daemon whose one worker runs `signal-stalled-fetch` against `server`'s `/stall`, and
/// the job, once its fetch is held by the server.
fn stalled_fetch(server: &HttpServer) -> (Daemon, i64) {
    let daemon = Daemon::start_with(
        base_config(1)
            .job_timeout("60s")
            .drain_timeout("30s")
            .script_with_grants(
                "signal-stalled-fetch",
                &fixture::job("signal-stalled-fetch"),
                Grants::new().allow_private(&[&server.host_port()]),
            ),
    );
    let id = daemon.enqueue(job(
        "signal-stalled-fetch",
        &json!({ "url": server.url("/stall") }).to_string(),
    ));
    daemon.wait_for(
        "the fetch held by the server",
        Duration::from_secs(20),
        || server.in_flight() == 1,
    );
    (daemon, id)
}

#[test]
fn a_drain_aborts_a_stalled_fetch_and_the_job_is_interrupted_and_requeued() {
    let server = HttpServer::start();
    let (mut daemon, id) = stalled_fetch(&server);
    let started = Instant::now();
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(40)),
        Some(0),
        "{}",
        daemon.log_text()
    );
    // ctx.signal ended the fetch: the drain did not wait for its 30 s timeout.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the drain took {:?}\n{}",
        started.elapsed(),
        daemon.log_text()
    );
    daemon.wait_for(
        "the server's connection closed",
        Duration::from_secs(10),
        || server.in_flight() == 0,
    );
    assert_eq!(daemon.job_state(id), JobState::Available, "requeued");
    assert_eq!(
        daemon.attempts(id),
        vec![(1, OutcomeKind::Interrupted)],
        "interrupted, refunded"
    );
}

#[test]
fn a_cancel_aborts_a_stalled_fetch_and_the_job_is_cancelled_at_once() {
    let server = HttpServer::start();
    let (daemon, id) = stalled_fetch(&server);
    let out = daemon.cli(&["jobs", "cancel", &id.to_string()]);
    assert!(out.status.success(), "{out:?}");
    daemon.wait_for("the job cancelled", Duration::from_secs(10), || {
        daemon.job_state(id) == JobState::Cancelled
    });
    daemon.wait_for(
        "the server's connection closed",
        Duration::from_secs(10),
        || server.in_flight() == 0,
    );
    let shown = daemon.show_job(id);
    let requests = requests_of(&shown);
    assert_eq!(requests.len(), 1, "{shown:#}");
    assert!(
        requests[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("abort")),
        "the request is recorded as aborted: {shown:#}"
    );
    // The worker is still there for the next job.
    daemon.wait_idle_workers(1, Duration::from_secs(20));
}

#[test]
fn a_worker_killed_mid_fetch_has_its_request_cancelled() {
    let server = HttpServer::start();
    let (daemon, id) = stalled_fetch(&server);
    let pid = daemon.wait_job_on_worker(id, Duration::from_secs(10));
    // SAFETY: kill(2) on a worker of our daemon.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    daemon.wait_for(
        "the stalled request dropped",
        Duration::from_secs(10),
        || server.in_flight() == 0,
    );
    daemon.wait_for("the job's end", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Discarded
    });
    let shown = daemon.show_job(id);
    assert_eq!(shown["attempts"][0]["outcome"], "killed", "{shown:#}");
    // The daemon goes on: a new worker takes the next job.
    daemon.wait_idle_workers(1, Duration::from_secs(20));
}
