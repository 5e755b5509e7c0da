//! The operator's CLI against a real daemon: human output (snapshots with volatile fields
//! masked), `--json`, `enqueue --wait` from a shell, rolling restarts, the control socket's
//! permissions, and hostile clients.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Output};
use std::time::Duration;

use jobvisor_protocol::control::{Request, Response};
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::store_view::{JobState, OutcomeKind};
use jobvisor_tests::{AsNobody, bin};

const HELLO: &str = "export default async (p, ctx) => { console.log('hello', p.name); console.warn('careful'); return { greeting: 'hi ' + p.name } }";
const FAILS: &str = "export default () => { throw new TypeError('no such user') }";
const SLEEPY: &str =
    "export default async (p) => { await new Promise(r => setTimeout(r, p.ms)); return p.ms }";

fn cli(daemon: &Daemon, args: &[&str]) -> Output {
    daemon.cli(args)
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Filters for the parts of human output that change from run to run.
fn masked() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z", "[time]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", "[time]");
    settings.add_filter(r"pid \d+", "pid [pid]");
    settings.add_filter(r"up \S+,", "up [uptime],");
    settings.add_filter(r"memory limits: .*", "memory limits: [limiter]");
    settings.add_filter(r"store: .*", "store: [path] ([size])");
    settings.add_filter(r"\d+(\.\d)?(MiB|KiB|GiB)", "[mem]");
    settings.add_filter(r"\b\d+ ms\b", "[n] ms");
    // Worker rows: the pid column's padding depends on the pid's length (and so does
    // the header's, the column being as wide as the widest pid).
    settings.add_filter(r"(?m)^(\d+)\s+\d+\s+", "${1}      [pid]    ");
    settings.add_filter(r"(?m)^WORKER  PID +", "WORKER  PID    ");
    settings.add_filter(r"throughput: \d+", "throughput: [n]");
    settings
}

#[test]
fn human_output_of_status_jobs_show_and_scripts_list() {
    let daemon = Daemon::start(
        "workers = 1\nmax_attempts = 2\nretry_backoff_base = \"10ms\"\nretry_backoff_max = \"20ms\"",
        &[("hello", HELLO), ("fails", FAILS)],
    );
    let ok = daemon.enqueue(job("hello", r#"{"name":"ada"}"#));
    let bad = daemon.enqueue(job("fails", "{}"));
    daemon.wait_for("both jobs final", Duration::from_secs(30), || {
        daemon.job_state(ok) == JobState::Completed && daemon.job_state(bad) == JobState::Discarded
    });
    let settings = masked();
    settings.bind(|| {
        insta::assert_snapshot!("status", stdout(&cli(&daemon, &["status"])));
        insta::assert_snapshot!(
            "jobs_show_completed",
            stdout(&cli(&daemon, &["jobs", "show", &ok.to_string()]))
        );
        insta::assert_snapshot!(
            "jobs_show_discarded",
            stdout(&cli(&daemon, &["jobs", "show", &bad.to_string()]))
        );
        insta::assert_snapshot!("scripts_list", stdout(&cli(&daemon, &["scripts", "list"])));
        insta::assert_snapshot!("jobs_list", stdout(&cli(&daemon, &["jobs", "list"])));
    });
}

#[test]
fn every_command_speaks_json() {
    let daemon = Daemon::start("workers = 1", &[("hello", HELLO)]);
    let id = daemon.enqueue(job("hello", r#"{"name":"bo"}"#));
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
    for args in [
        vec!["status", "--json"],
        vec!["jobs", "list", "--json"],
        vec!["jobs", "show", "1", "--json"],
        vec!["scripts", "list", "--json"],
        vec!["scripts", "show", "hello", "--json"],
        vec!["queues", "list", "--json"],
        vec!["enqueue", "hello", "--payload", "{}", "--json"],
    ] {
        let text = stdout(&cli(&daemon, &args));
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {text}"));
    }
    let job: serde_json::Value =
        serde_json::from_str(&stdout(&cli(&daemon, &["jobs", "show", "1", "--json"]))).unwrap();
    assert_eq!(job["result"], serde_json::json!({"greeting": "hi bo"}));
    assert_eq!(
        job["attempts"][0]["console"][0],
        serde_json::json!({"level": "info", "text": "hello bo"})
    );
    assert_eq!(job["attempts"][0]["outcome"], "completed");
}

#[test]
fn enqueue_wait_works_from_a_shell_script() {
    let daemon = Daemon::start(
        "workers = 1\nmax_attempts = 1",
        &[("hello", HELLO), ("fails", FAILS)],
    );
    let script = daemon.dir.path().join("wait.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -u\nresult=$({bin} enqueue hello --payload '{{\"name\":\"sh\"}}' --wait --config {config})\necho \"got: $result\"\n{bin} enqueue fails --wait --config {config}\necho \"failed with $?\"\n",
            bin = bin("jobvisor").display(),
            config = daemon.config.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&script)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#"got: {"greeting":"hi sh"}"#), "{text}");
    assert!(text.contains("failed with 3"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("TypeError: no such user"));
}

#[test]
fn enqueue_payloads_from_a_json_lines_file_is_all_or_nothing_per_batch() {
    let daemon = Daemon::start("workers = 1", &[("hello", HELLO)]);
    let file = daemon.dir.path().join("payloads.jsonl");
    std::fs::write(
        &file,
        "{\"name\":\"a\"}\n\n{\"name\":\"b\"}\n{\"name\":\"c\"}\n",
    )
    .unwrap();
    let out = cli(
        &daemon,
        &["enqueue", "hello", "--payloads", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<i64> = stdout(&out).lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(ids.len(), 3, "one id per payload line");
    daemon.wait_for("the three jobs complete", Duration::from_secs(30), || {
        ids.iter()
            .all(|&id| daemon.job_state(id) == JobState::Completed)
    });

    // A bad line anywhere: nothing is enqueued and the line is named.
    std::fs::write(&file, "{\"name\":\"d\"}\n{oops\n").unwrap();
    let out = cli(
        &daemon,
        &["enqueue", "hello", "--payloads", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("nothing was enqueued"),
        "{stderr}"
    );
    assert_eq!(daemon.store().total_jobs(), 3);
}

#[test]
fn restart_all_replaces_every_worker_without_losing_or_failing_a_job() {
    let daemon = Daemon::start("workers = 2\njob_timeout = \"60s\"", &[("sleepy", SLEEPY)]);
    let before = daemon.worker_pids();
    let ids = daemon.enqueue_many((0..30).map(|_| job("sleepy", r#"{"ms":50}"#)));
    let out = cli(&daemon, &["restart", "--all"]);
    assert!(stdout(&out).contains("replaced workers 0, 1"));
    let after = daemon.worker_pids();
    assert_eq!(after.len(), 2);
    for pid in &before {
        assert!(!after.contains(pid), "worker {pid} was not replaced");
    }
    daemon.wait_for("all 30 jobs", Duration::from_secs(60), || {
        daemon.count_in_state(JobState::Completed) == 30
    });
    let store = daemon.store();
    assert_eq!(store.total_jobs(), 30);
    let failed: Vec<_> = ids
        .iter()
        .flat_map(|&id| store.attempts(id))
        .filter(|attempt| attempt.outcome != OutcomeKind::Completed)
        .collect();
    assert!(
        failed.is_empty(),
        "no attempt failed or was interrupted: {failed:?}"
    );
    assert_eq!(ids.len(), 30);
}

#[test]
fn cancel_kills_a_running_job_and_retry_runs_it_again() {
    let daemon = Daemon::start("workers = 1\njob_timeout = \"60s\"", &[("sleepy", SLEEPY)]);
    let id = daemon.enqueue(job("sleepy", r#"{"ms":30000}"#));
    daemon.wait_for("the job to run", Duration::from_secs(20), || {
        daemon.status().workers[0].job == Some(id)
    });
    let out = stdout(&cli(&daemon, &["jobs", "cancel", &id.to_string()]));
    assert!(out.contains("was running"), "{out}");
    daemon.wait_for("the job cancelled", Duration::from_secs(10), || {
        daemon.job_state(id) == JobState::Cancelled
    });
    assert_eq!(daemon.attempts(id), [(1, OutcomeKind::Killed)]);
    let queued = daemon.enqueue(job("sleepy", r#"{"ms":30000}"#));
    daemon.wait_for("the second job running", Duration::from_secs(20), || {
        daemon.status().workers[0].job == Some(queued)
    });
    let waiting = daemon.enqueue(job("sleepy", r#"{"ms":1}"#));
    assert!(stdout(&cli(&daemon, &["jobs", "cancel", &waiting.to_string()])).contains("cancelled"));
    assert_eq!(daemon.job_state(waiting), JobState::Cancelled);
    let again = cli(&daemon, &["jobs", "cancel", &waiting.to_string()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already cancelled"));
    assert!(
        stdout(&cli(&daemon, &["jobs", "retry", &waiting.to_string()])).contains("queued again")
    );
    // Available, or already claimed for the busy worker (claimed jobs count as running).
    assert!(matches!(
        daemon.job_state(waiting),
        JobState::Available | JobState::Running
    ));
}

#[test]
fn paused_queues_hold_their_jobs() {
    let daemon = Daemon::start("workers = 1", &[("hello", HELLO)]);
    stdout(&cli(&daemon, &["queues", "pause", "mail", "--create"]));
    let out = cli(
        &daemon,
        &[
            "enqueue",
            "hello",
            "--queue",
            "mail",
            "--payload",
            r#"{"name":"q"}"#,
        ],
    );
    let id: i64 = stdout(&out).trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        daemon.job_state(id),
        JobState::Available,
        "a paused queue starts nothing"
    );
    assert!(stdout(&cli(&daemon, &["queues", "list"])).contains("mail"));
    stdout(&cli(&daemon, &["queues", "resume", "mail"]));
    daemon.wait_for("the job after resume", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
}

#[test]
fn scripts_are_checked_before_they_are_accepted() {
    let daemon = Daemon::start("workers = 1", &[]);
    let dir = daemon.dir.path();
    for (name, source, expected) in [
        ("broken", "export default () => {", "SyntaxError"),
        (
            "nodefault",
            "export const x = 1",
            "no default export function",
        ),
        (
            "throws",
            "throw new Error('at load')\nexport default () => 1",
            "at load",
        ),
    ] {
        let file = dir.join(format!("{name}.js"));
        std::fs::write(&file, source).unwrap();
        let out = cli(&daemon, &["scripts", "add", name, file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("was not added") && stderr.contains(expected),
            "{name}: {stderr}"
        );
    }
    let good = dir.join("good.js");
    std::fs::write(&good, "export default () => 1").unwrap();
    assert!(
        stdout(&cli(
            &daemon,
            &["scripts", "add", "good", good.to_str().unwrap()]
        ))
        .contains("added")
    );
    let listed = stdout(&cli(&daemon, &["scripts", "list"]));
    assert!(
        listed.contains("good") && !listed.contains("broken"),
        "{listed}"
    );
}

#[test]
fn drain_reports_and_stops_the_daemon() {
    let mut daemon = Daemon::start(
        "workers = 1\ndrain_timeout = \"10s\"",
        &[("sleepy", SLEEPY)],
    );
    let running = daemon.enqueue(job("sleepy", r#"{"ms":400}"#));
    daemon.wait_for("the job to run", Duration::from_secs(20), || {
        daemon.status().workers[0].job == Some(running)
    });
    daemon.enqueue_many((0..3).map(|_| job("sleepy", r#"{"ms":1}"#)));
    let out = stdout(&cli(&daemon, &["drain"]));
    assert!(out.contains("1 job finished"), "{out}");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(daemon.job_state(running), JobState::Completed);
}

#[test]
fn logs_follow_streams_job_events_and_console_lines() {
    let daemon = Daemon::start("workers = 1", &[("hello", HELLO)]);
    let mut follower = Command::new(bin("jobvisor"))
        .args(["logs", "--follow", "--json", "--config"])
        .arg(&daemon.config)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let id = daemon.enqueue(job("hello", r#"{"name":"log"}"#));
    daemon.wait_for("the job", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
    std::thread::sleep(Duration::from_millis(300));
    follower.kill().unwrap();
    let out = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"job_started")
            && kinds.contains(&"job_ended")
            && kinds.contains(&"console"),
        "{text}"
    );
    assert!(events.iter().any(|e| e["text"] == "hello log"), "{text}");
}

#[test]
fn the_control_socket_is_private_and_other_users_are_refused() {
    let daemon = Daemon::start("workers = 1", &[]);
    let run_dir = daemon.dir.path().join("run");
    let dir_mode = std::fs::metadata(&run_dir).unwrap().permissions().mode() & 0o777;
    let socket_mode = std::fs::metadata(daemon.socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!((dir_mode, socket_mode), (0o700, 0o600));

    let Some(nobody) =
        AsNobody::prepare("the_control_socket_is_private_and_other_users_are_refused")
    else {
        return;
    };
    let as_nobody = |socket: &std::path::Path| {
        nobody.jobvisor(&["status", "--socket", &socket.display().to_string()])
    };
    // 1. The 0700 run dir keeps nobody from reaching the socket at all.
    let out = as_nobody(&daemon.socket());
    assert_eq!(
        out.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    // 2. Even with the file permissions opened up, the daemon checks the peer's uid.
    let mut ancestors = vec![];
    let mut p = run_dir.clone();
    while p != std::path::Path::new("/tmp") && p.pop() {
        ancestors.push(p.clone());
    }
    for dir in ancestors.iter().chain(std::iter::once(&run_dir)) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(daemon.socket(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = as_nobody(&daemon.socket());
    assert_ne!(out.status.code(), Some(0), "nobody got an answer");
    assert!(
        daemon
            .log_text()
            .contains("control connection from another user refused"),
        "{}",
        daemon.log_text()
    );
    assert!(matches!(
        daemon.request(&Request::Status),
        Response::Status(_)
    ));
}

#[test]
fn hostile_clients_do_not_hurt_the_daemon() {
    let daemon = Daemon::start("workers = 1", &[("hello", HELLO)]);
    // A 100 MiB length prefix after a valid hello.
    let mut huge = UnixStream::connect(daemon.socket()).unwrap();
    let mut transport = jobvisor_protocol::BlockingTransport::new(huge.try_clone().unwrap());
    transport
        .handshake(
            jobvisor_protocol::Role::Client,
            jobvisor_protocol::Role::Supervisor,
        )
        .unwrap();
    // The daemon may hang up as soon as it read the length: later writes can fail.
    let _ = huge.write_all(&(100u32 << 20).to_le_bytes());
    let _ = huge.write_all(&[0u8; 64]);
    // Garbage instead of a hello.
    let mut garbage = UnixStream::connect(daemon.socket()).unwrap();
    let _ = garbage.write_all(b"GET / HTTP/1.1\r\nHost: jobvisor\r\n\r\n\xff\xff\xff\xff");
    // 200 connections that never say anything.
    let idle: Vec<UnixStream> = (0..200)
        .map(|_| UnixStream::connect(daemon.socket()).unwrap())
        .collect();
    for _ in 0..5 {
        assert!(
            matches!(daemon.request(&Request::Status), Response::Status(_)),
            "status stopped answering"
        );
    }
    let id = daemon.enqueue(job("hello", r#"{"name":"still"}"#));
    daemon.wait_for("work to go on", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
    let rss_kib = daemon.rss_kib();
    assert!(
        rss_kib < 100 * 1024,
        "daemon RSS {rss_kib} KiB after hostile clients"
    );
    drop(idle);
}

#[test]
fn a_stale_socket_is_replaced_and_a_foreign_file_refused() {
    let mut daemon = Daemon::start("workers = 1", &[]);
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(5));
    assert!(
        daemon.socket().exists(),
        "a killed daemon leaves its socket"
    );
    daemon.launch();
    assert!(matches!(
        daemon.request(&Request::Status),
        Response::Status(_)
    ));
    daemon.stop();
    std::fs::write(daemon.socket(), "not a socket").unwrap();
    let out = Command::new(bin("jobvisor"))
        .args(["serve", "--config"])
        .arg(&daemon.config)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a socket"));
}

#[test]
fn completions_and_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(bin("jobvisor"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("enqueue"),
            "{shell}"
        );
    }
    let out = Command::new(bin("jobvisor")).arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH jobvisor 1"));
}

/// The output of a command that must fail, with its exit code.
fn failed(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn retry_keeps_the_enqueued_script_version_unless_latest_is_asked_for() {
    // Managed with `scripts add`, not declared in the config (the config's scripts are
    // the config's to change).
    let daemon = Daemon::start("workers = 1\nmax_attempts = 1", &[]);
    let broken = daemon.dir.path().join("broken.js");
    std::fs::write(&broken, FAILS).unwrap();
    stdout(&cli(
        &daemon,
        &["scripts", "add", "flaky", broken.to_str().unwrap()],
    ));
    let id = daemon.enqueue(job("flaky", "{}"));
    daemon.wait_for("the job discarded", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Discarded
    });
    let fixed = daemon.dir.path().join("fixed.js");
    std::fs::write(&fixed, "export default () => 'fixed'").unwrap();
    stdout(&cli(
        &daemon,
        &["scripts", "add", "flaky", fixed.to_str().unwrap()],
    ));
    let shown = stdout(&cli(&daemon, &["jobs", "show", &id.to_string()]));
    assert!(shown.contains("not the current version"), "{shown}");

    // A plain retry runs the version the job was enqueued with: it fails again.
    let out = stdout(&cli(&daemon, &["jobs", "retry", &id.to_string()]));
    assert!(out.contains("the version it was enqueued with"), "{out}");
    daemon.wait_for("the plain retry to fail", Duration::from_secs(20), || {
        daemon.attempts(id).len() == 2 && daemon.job_state(id) == JobState::Discarded
    });

    // --latest switches the job to the current version, and says so.
    let retried: serde_json::Value = serde_json::from_str(&stdout(&cli(
        &daemon,
        &["jobs", "retry", &id.to_string(), "--latest", "--json"],
    )))
    .unwrap();
    assert_eq!(retried["script_changed"], true, "{retried}");
    daemon.wait_for(
        "the latest retry to complete",
        Duration::from_secs(20),
        || daemon.job_state(id) == JobState::Completed,
    );
    let shown: serde_json::Value = serde_json::from_str(&stdout(&cli(
        &daemon,
        &["jobs", "show", &id.to_string(), "--json"],
    )))
    .unwrap();
    assert_eq!(shown["result"], "fixed");
    assert_eq!(
        shown["script_hash"], shown["current_script_hash"],
        "{shown}"
    );
    let human = stdout(&cli(&daemon, &["jobs", "show", &id.to_string()]));
    assert!(human.contains("the current version"), "{human}");

    // The help says which version a retry runs.
    let help = stdout(&cli(&daemon, &["jobs", "retry", "--help"]));
    assert!(
        help.contains("--latest") && help.contains("enqueued with"),
        "{help}"
    );
}

#[test]
fn unknown_queues_and_scripts_are_refused_with_the_names_that_exist() {
    let daemon = Daemon::start("workers = 1", &[("hello", HELLO)]);
    let mut mail = job("hello", r#"{"name":"m"}"#);
    mail.queue = Some("mail".to_owned());
    daemon.enqueue(mail);

    let err = failed(&cli(&daemon, &["queues", "pause", "mial"]), 2);
    assert!(
        err.contains("no queue `mial`")
            && err.contains("existing queues: mail")
            && err.contains("did you mean `mail`?")
            && err.contains("--create"),
        "{err}"
    );
    let listed = stdout(&cli(&daemon, &["queues", "list"]));
    assert!(
        !listed.contains("mial"),
        "a refused pause creates nothing:\n{listed}"
    );
    failed(&cli(&daemon, &["queues", "resume", "mial"]), 2);

    // Asked for, the queue is created; never used, it can be removed again.
    stdout(&cli(&daemon, &["queues", "pause", "later", "--create"]));
    assert!(stdout(&cli(&daemon, &["status"])).contains("later (paused)"));
    let err = failed(&cli(&daemon, &["queues", "remove", "mail"]), 2);
    assert!(err.contains("holds 1 job"), "{err}");
    stdout(&cli(&daemon, &["queues", "remove", "later"]));
    assert!(!stdout(&cli(&daemon, &["status"])).contains("later"));
    let err = failed(&cli(&daemon, &["queues", "remove", "later"]), 2);
    assert!(err.contains("no queue `later`"), "{err}");

    // A schedule naming no script is refused instead of failing at every slot.
    let err = failed(
        &cli(
            &daemon,
            &[
                "schedules",
                "add",
                "nightly",
                "--script",
                "helo",
                "--every",
                "1m",
            ],
        ),
        2,
    );
    assert!(
        err.contains("no script `helo`") && err.contains("did you mean `hello`?"),
        "{err}"
    );
    let listed = stdout(&cli(&daemon, &["schedules", "list"]));
    assert!(!listed.contains("nightly"), "{listed}");
    stdout(&cli(
        &daemon,
        &[
            "schedules",
            "add",
            "nightly",
            "--script",
            "hello",
            "--every",
            "1m",
        ],
    ));
}

#[test]
fn a_refunded_attempt_is_not_shown_with_the_number_of_the_next_one() {
    let mut daemon = Daemon::start(
        "workers = 1\ndrain_timeout = \"200ms\"\njob_timeout = \"60s\"",
        &[("sleepy", SLEEPY)],
    );
    let id = daemon.enqueue(job("sleepy", r#"{"ms":1500}"#));
    daemon.wait_for("the job running", Duration::from_secs(20), || {
        daemon.busy_workers() == 1
    });
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    daemon.launch();
    daemon.wait_for("the job completed", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
    assert_eq!(
        daemon.attempts(id),
        [(1, OutcomeKind::Interrupted), (1, OutcomeKind::Completed)]
    );
    let shown = stdout(&cli(&daemon, &["jobs", "show", &id.to_string()]));
    let headings: Vec<&str> = shown
        .lines()
        .filter(|l| l.starts_with("attempt") || l.starts_with("refunded"))
        .map(|l| l.split("  worker").next().unwrap())
        .collect();
    assert_eq!(
        headings,
        ["refunded attempt  interrupted", "attempt 1  completed"],
        "{shown}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&cli(
        &daemon,
        &["jobs", "show", &id.to_string(), "--json"],
    )))
    .unwrap();
    assert_eq!(json["attempts"][0]["counted"], false);
    assert_eq!(json["attempts"][1]["counted"], true);
}

#[test]
fn tables_fit_long_names_and_json_is_one_line_everywhere() {
    let long_queue = "q".repeat(100);
    let long_script = format!("s{}", "x".repeat(99));
    let daemon = Daemon::start("workers = 1", &[(&long_script, HELLO)]);
    let mut long = job(&long_script, r#"{"name":"l"}"#);
    long.queue = Some(long_queue.clone());
    let id = daemon.enqueue(long);
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
    daemon.enqueue(job(&long_script, r#"{"name":"short"}"#));
    for args in [
        vec!["jobs", "list"],
        vec!["queues", "list"],
        vec!["scripts", "list"],
        vec!["status"],
    ] {
        let text = stdout(&cli(&daemon, &args));
        // Every row of a table starts its columns where the header's do, and no cell runs
        // into the next: the name is whole and followed by spaces.
        let lines: Vec<&str> = text.lines().collect();
        let header_at = lines
            .iter()
            .position(|l| l.starts_with("ID") || l.starts_with("QUEUE") || l.starts_with("NAME"))
            .unwrap_or_else(|| panic!("{args:?}: no table\n{text}"));
        let header = lines[header_at];
        let rows: Vec<&str> = lines[header_at + 1..]
            .iter()
            .take_while(|l| !l.is_empty())
            .copied()
            .collect();
        let long_name = if args[0] == "scripts" {
            &long_script
        } else {
            &long_queue
        };
        let row = rows
            .iter()
            .find(|r| r.contains(long_name.as_str()))
            .unwrap_or_else(|| panic!("{args:?}: no row with the long name\n{text}"));
        let name_at = row.find(long_name.as_str()).unwrap();
        let after = &row[name_at + long_name.len()..];
        assert!(
            after.starts_with("  "),
            "{args:?}: the name runs into the next column\n{text}"
        );
        // The next cell lines up with its header: same start (left-aligned) or same end
        // (right-aligned).
        let start = name_at + long_name.len() + (after.len() - after.trim_start().len());
        let end = start + row[start..].find(' ').unwrap_or(row.len() - start);
        let header_words: Vec<(usize, usize)> = header
            .char_indices()
            .filter(|(i, c)| *c != ' ' && (*i == 0 || header.as_bytes()[i - 1] == b' '))
            .map(|(i, _)| (i, i + header[i..].find(' ').unwrap_or(header.len() - i)))
            .collect();
        assert!(
            header_words.iter().any(|(s, e)| *s == start || *e == end),
            "{args:?}: the column after the name is not under its header\n{text}"
        );
    }
    for args in [
        vec!["status", "--json"],
        vec!["jobs", "list", "--json"],
        vec!["jobs", "show", &id.to_string(), "--json"],
        vec!["scripts", "list", "--json"],
        vec!["queues", "list", "--json"],
        vec!["schedules", "list", "--json"],
    ] {
        let text = stdout(&cli(&daemon, &args));
        assert_eq!(
            text.lines().count(),
            1,
            "{args:?}: not one line of JSON\n{text}"
        );
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
    }
}

#[test]
fn with_json_errors_are_json_on_stderr_with_the_same_exit_codes() {
    let daemon = Daemon::start("workers = 1", &[("hello", HELLO)]);
    for (args, code, expected) in [
        (vec!["jobs", "show", "999"], 2, "no job 999"),
        (vec!["queues", "pause", "nosuch"], 2, "no queue `nosuch`"),
        (vec!["scripts", "show", "nosuch"], 2, "no script `nosuch`"),
        (vec!["schedules", "show", "nosuch"], 2, "no schedule"),
        (vec!["enqueue", "nosuch"], 2, "nosuch"),
        (vec!["restart", "99"], 2, "no worker 99"),
        (vec!["logs"], 2, "--follow"),
    ] {
        let plain = failed(&cli(&daemon, &args), code);
        assert!(plain.contains(expected), "{args:?}: {plain}");
        let mut with_json = args.clone();
        with_json.push("--json");
        let out = cli(&daemon, &with_json);
        let stderr = failed(&out, code);
        let error: serde_json::Value = serde_json::from_str(&stderr)
            .unwrap_or_else(|e| panic!("{args:?}: stderr is not JSON ({e}): {stderr}"));
        assert_eq!(error["error"]["code"], "usage", "{stderr}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    // No daemon: exit 69, as JSON.
    let out = Command::new(bin("jobvisor"))
        .args(["status", "--json", "--socket"])
        .arg(daemon.dir.path().join("nothing.sock"))
        .output()
        .unwrap();
    let stderr = failed(&out, 69);
    let error: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    assert_eq!(error["error"]["code"], "not_running", "{stderr}");
}

#[test]
fn usage_and_help_are_complete() {
    // --config given through the environment is not shown as missing or required.
    let out = Command::new(bin("jobvisor"))
        .args(["jobs", "show"])
        .env("JOBVISOR_CONFIG", "/nonexistent/jobvisor.toml")
        .output()
        .unwrap();
    let stderr = failed(&out, 2);
    let usage = stderr.lines().find(|l| l.starts_with("Usage:")).unwrap();
    assert!(!usage.contains("--config <CONFIG>"), "{stderr}");

    // `restart` alone says that --all is the other choice.
    let out = Command::new(bin("jobvisor"))
        .arg("restart")
        .output()
        .unwrap();
    let stderr = failed(&out, 2);
    assert!(stderr.contains("--all"), "{stderr}");

    // Every option of every subcommand has a help line.
    let mut missing = Vec::new();
    let mut commands = vec![vec![]];
    while let Some(path) = commands.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("-h");
        let help = stdout(&Command::new(bin("jobvisor")).args(&args).output().unwrap());
        let lines: Vec<&str> = help.lines().collect();
        let mut section = "";
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with(' ') {
                section = line;
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let entry = line.trim_start();
            let (name, text) = entry.split_once("  ").unwrap_or((entry, ""));
            // Long option names put the help on the next line, indented further.
            let next_is_its_help = lines.get(i + 1).is_some_and(|next| {
                next.len() - next.trim_start().len() > indent && !next.trim_start().starts_with('-')
            });
            match section {
                "Commands:" if indent == 2 && name != "help" => {
                    let mut sub = path.clone();
                    sub.push(name.to_owned());
                    commands.push(sub);
                }
                "Options:" | "Arguments:"
                    if indent <= 6 && text.trim().is_empty() && !next_is_its_help =>
                {
                    missing.push(format!("jobvisor {} {name}", path.join(" ")));
                }
                _ => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "options without a help line: {missing:#?}"
    );
}

#[test]
fn run_json_is_one_line_too() {
    let out = jobvisor_tests::run_script(
        "one_line",
        HELLO,
        &["--json", "--payload", r#"{"name":"x"}"#],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert_eq!(out.report()["result"]["greeting"], "hi x");
}
