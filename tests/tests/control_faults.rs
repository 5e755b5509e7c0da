//! The control socket under long operations and hostile clients, against a real daemon:
//! drain, restart and `enqueue --wait` answer when their work ends (not at the request
//! timeout), `logs --follow` shows worker and schedule events, and clients that hold
//! connections open or never read their answers lock nobody out and grow no memory.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{Request, Response};
use jobvisor_protocol::{BlockingTransport, Hello, Role};
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::store_view::JobState;
use jobvisor_tests::{AsNobody, bin};

const SLEEPY: &str =
    "export default async (p) => { await new Promise(r => setTimeout(r, p.ms)); return p.ms }";
const SLEEPY_THEN_THROWS: &str = "export default async (p) => { await new Promise(r => setTimeout(r, p.ms)); throw new Error('late failure') }";

/// A request timeout far below the jobs' durations: every long operation must outlive it.
const SHORT_REQUEST_TIMEOUT: &str = "control_request_timeout = \"1s\"";

fn cli(daemon: &Daemon, args: &[&str]) -> Output {
    daemon.cli(args)
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn wait_until_running(daemon: &Daemon, id: i64) {
    daemon.wait_for("the job to run", Duration::from_secs(20), || {
        daemon.status().workers.iter().any(|w| w.job == Some(id))
    });
}

#[test]
fn drain_answers_when_its_job_ends_not_at_the_request_timeout() {
    let mut daemon = Daemon::start(
        &format!("workers = 1\ndrain_timeout = \"20s\"\n{SHORT_REQUEST_TIMEOUT}"),
        &[("sleepy", SLEEPY)],
    );
    let running = daemon.enqueue(job("sleepy", r#"{"ms":3000}"#));
    wait_until_running(&daemon, running);
    let started = Instant::now();
    let out = cli(&daemon, &["drain", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["finished"], 1, "{}", describe(&out));
    assert!(started.elapsed() >= Duration::from_secs(1), "{report}");
    assert!(
        out.stderr.is_empty(),
        "no progress off a terminal: {}",
        describe(&out)
    );
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(daemon.job_state(running), JobState::Completed);
}

#[test]
fn drain_on_a_terminal_shows_the_jobs_running_and_the_time_left() {
    let Some(script) = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        jobvisor_tests::skip(
            "drain_on_a_terminal_shows_the_jobs_running_and_the_time_left",
            "script (util-linux) is not installed to give the CLI a terminal",
        );
        return;
    };
    let mut daemon = Daemon::start(
        "workers = 1\ndrain_timeout = \"20s\"",
        &[("sleepy", SLEEPY)],
    );
    let running = daemon.enqueue(job("sleepy", r#"{"ms":3000}"#));
    wait_until_running(&daemon, running);
    let drain = format!(
        "{} drain --config {}",
        bin("jobvisor").display(),
        daemon.config.display()
    );
    let out = Command::new(script)
        .args(["-qec", &drain, "/dev/null"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("draining: 1 job running, "), "{shown}");
    assert!(shown.contains(" s left"), "{shown}");
    assert!(shown.contains("1 job finished"), "{shown}");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn drain_counts_finished_failed_and_requeued_jobs_apart() {
    let mut daemon = Daemon::start(
        "workers = 2\nmax_attempts = 1\ndrain_timeout = \"20s\"",
        &[("sleepy", SLEEPY), ("throws", SLEEPY_THEN_THROWS)],
    );
    let completes = daemon.enqueue(job("sleepy", r#"{"ms":1500}"#));
    let fails = daemon.enqueue(job("throws", r#"{"ms":1500}"#));
    wait_until_running(&daemon, completes);
    wait_until_running(&daemon, fails);
    let out = cli(&daemon, &["drain", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["finished"], &report["failed"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{report}"
    );
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(daemon.job_state(completes), JobState::Completed);
    assert_eq!(daemon.job_state(fails), JobState::Discarded);
}

#[test]
fn enqueue_wait_prints_the_result_of_a_job_longer_than_the_request_timeout() {
    let daemon = Daemon::start(
        &format!("workers = 1\n{SHORT_REQUEST_TIMEOUT}"),
        &[("sleepy", SLEEPY)],
    );
    let out = cli(
        &daemon,
        &["enqueue", "sleepy", "--payload", r#"{"ms":3000}"#, "--wait"],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3000");
}

#[test]
fn enqueue_wait_timeout_gives_up_with_its_own_exit_code_and_the_job_goes_on() {
    let daemon = Daemon::start("workers = 1", &[("sleepy", SLEEPY)]);
    let started = Instant::now();
    let out = cli(
        &daemon,
        &[
            "enqueue",
            "sleepy",
            "--payload",
            r#"{"ms":4000}"#,
            "--wait",
            "--wait-timeout",
            "1s",
        ],
    );
    assert_eq!(out.status.code(), Some(124), "{}", describe(&out));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{}",
        describe(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has not ended after 1s"), "{stderr}");
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.count_in_state(JobState::Completed) == 1
    });
}

#[test]
fn restart_all_answers_when_the_last_worker_is_replaced() {
    let daemon = Daemon::start(
        &format!("workers = 1\n{SHORT_REQUEST_TIMEOUT}"),
        &[("sleepy", SLEEPY)],
    );
    let running = daemon.enqueue(job("sleepy", r#"{"ms":3000}"#));
    wait_until_running(&daemon, running);
    let before = daemon.worker_pids();
    let out = cli(&daemon, &["restart", "--all"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("replaced worker 0"),
        "{}",
        describe(&out)
    );
    assert_eq!(daemon.job_state(running), JobState::Completed);
    assert_ne!(daemon.worker_pids(), before);
}

/// `logs --follow --json`, its lines delivered through a channel as they arrive.
struct Follower {
    child: std::process::Child,
    lines: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Follower {
    fn start(daemon: &Daemon) -> Follower {
        let mut child = Command::new(bin("jobvisor"))
            .args(["logs", "--follow", "--json", "--config"])
            .arg(&daemon.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    return;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for an event matching `wanted`, keeping every event seen.
    fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) {
        let deadline = Instant::now() + within;
        if self.seen.iter().any(&wanted) {
            return;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(event) => {
                    let hit = wanted(&event);
                    self.seen.push(event);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no {what} event within {within:?}; saw {:?}", self.seen),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn logs_follow_shows_schedule_runs_and_workers_becoming_ready() {
    let daemon = Daemon::start(
        "workers = 1\n[[schedule]]\nname = \"tick\"\nscript = \"sleepy\"\npayload = '{\"ms\":1}'\nevery = \"1s\"",
        &[("sleepy", SLEEPY)],
    );
    let mut follower = Follower::start(&daemon);
    follower.wait_for("schedule", Duration::from_secs(20), |e| {
        e["event"] == "schedule_fired" && e["schedule"] == "tick" && e["job"].is_i64()
    });
    let out = cli(&daemon, &["restart", "0"]);
    assert!(out.status.success(), "{}", describe(&out));
    follower.wait_for("worker ready", Duration::from_secs(20), |e| {
        e["event"] == "worker" && e["worker"] == 0 && e["state"] == "ready" && e["pid"].is_u64()
    });
}

/// A handshaken connection from this process, as a client that connected and went quiet.
fn quiet_client(daemon: &Daemon) -> BlockingTransport<UnixStream> {
    let stream = UnixStream::connect(daemon.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut transport = BlockingTransport::new(stream);
    transport.handshake(Role::Client, Role::Supervisor).unwrap();
    transport
}

/// This process may hold a few thousand sockets.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

#[test]
fn a_thousand_idle_clients_and_a_hundred_followers_do_not_lock_the_operator_out() {
    raise_open_file_limit();
    let daemon = Daemon::start("workers = 1", &[]);
    let quiet: Vec<_> = (0..1100).map(|_| quiet_client(&daemon)).collect();
    let mut followers = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..100 {
        let mut follower = quiet_client(&daemon);
        follower.send(&Request::Follow).unwrap();
        match follower.recv::<Response>().unwrap() {
            Some(Response::Following) => followers.push(follower),
            Some(Response::Error(err)) => refused.push(err),
            other => panic!("follow: {other:?}"),
        }
    }
    assert!(
        followers.len() >= 32,
        "{} followers admitted",
        followers.len()
    );
    assert_eq!(followers.len() + refused.len(), 100);
    if let Some(err) = refused.first() {
        assert!(
            err.message.contains("busy") && err.message.contains("follow"),
            "{err:?}"
        );
    }
    let out = cli(&daemon, &["status"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = cli(&daemon, &["logs", "--follow"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("follow its events"),
        "{}",
        describe(&out)
    );
    drop(quiet);
}

#[test]
fn a_daemon_whose_connections_all_wait_says_it_is_busy() {
    raise_open_file_limit();
    let daemon = Daemon::start("workers = 1", &[("sleepy", SLEEPY)]);
    let long = daemon.enqueue(job("sleepy", r#"{"ms":600000}"#));
    wait_until_running(&daemon, long);
    // Every seat waits for a job that runs for ten minutes.
    let mut waiting = Vec::new();
    loop {
        let Ok(stream) = UnixStream::connect(daemon.socket()) else {
            break;
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut transport = BlockingTransport::new(stream);
        transport.handshake(Role::Client, Role::Supervisor).unwrap();
        transport.send(&Request::WaitJob { id: long }).unwrap();
        waiting.push(transport);
        if waiting.len() == 1024 {
            break;
        }
    }
    // A probe takes a seat too, and a seat whose request the daemon has not read yet
    // still counts as idle (it may be evicted for the probe): probe only once the daemon
    // has read every wait, which is when no byte is left unread in any of the sockets.
    daemon.wait_for(
        "the daemon to read every wait",
        Duration::from_secs(60),
        || waiting.iter().all(|t| unread_bytes(t.get_ref()) == 0),
    );
    daemon.wait_for(
        "every wait to reach the dispatcher",
        Duration::from_secs(30),
        || matches!(daemon.try_request(&Request::Status), Ok(Response::Error(_))),
    );
    let out = cli(&daemon, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("busy") && stderr.contains("1024"),
        "{stderr}"
    );
    drop(waiting);
    daemon.wait_for("a seat to come free", Duration::from_secs(20), || {
        matches!(
            daemon.try_request(&Request::Status),
            Ok(Response::Status(_))
        )
    });
}

/// Bytes written to `stream` that its peer has not read yet (`SIOCOUTQ`).
fn unread_bytes(stream: &UnixStream) -> i32 {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    assert_eq!(rc, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
    queued
}

#[test]
fn the_cli_names_a_version_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("control.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let fake = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut transport = BlockingTransport::new(stream);
        let mut hello = Hello::ours(Role::Supervisor);
        hello.protocol_version = 999;
        transport.send(&hello).unwrap();
        let _ = transport.recv::<Hello>();
    });
    let out = Command::new(bin("jobvisor"))
        .args(["status", "--socket"])
        .arg(&socket)
        .output()
        .unwrap();
    fake.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("speaks protocol version 999") && stderr.contains("same version"),
        "{stderr}"
    );
    assert!(!stderr.contains("another user"), "{stderr}");
}

#[test]
fn the_cli_says_another_users_daemon_refuses_it() {
    let daemon = Daemon::start("workers = 1", &[]);
    let Some(nobody) = AsNobody::prepare("the_cli_says_another_users_daemon_refuses_it") else {
        return;
    };
    // The socket must be reachable for nobody.
    let run_dir = daemon.dir.path().join("run");
    let mut dir = run_dir.clone();
    loop {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if !dir.pop() || dir == std::env::temp_dir() {
            break;
        }
    }
    std::fs::set_permissions(daemon.socket(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = nobody.jobvisor(&["status", "--socket", &daemon.socket().display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("runs as uid 0") && stderr.contains("refuses other users"),
        "{stderr}"
    );
    assert!(!stderr.contains("version"), "{stderr}");
}

/// A result of about 3.9 MB.
const BIG_RESULT: &str = "export default () => 'x'.repeat(3900000)";

#[test]
fn clients_that_never_read_their_answers_do_not_grow_the_daemons_memory() {
    raise_open_file_limit();
    let daemon = Daemon::start("workers = 1", &[("big", BIG_RESULT)]);
    let id = daemon.enqueue(job("big", "{}"));
    daemon.wait_for("the big result", Duration::from_secs(30), || {
        daemon.job_state(id) == JobState::Completed
    });
    let before = daemon.rss_kib();
    // A hundred clients ask for the job (its 3.9 MB result) and never read the answer.
    let deaf: Vec<_> = (0..100)
        .map(|_| {
            let mut client = quiet_client(&daemon);
            client.send(&Request::ShowJob { id }).unwrap();
            client
        })
        .collect();
    // Until the write deadline closes the first of them, the daemon's RSS stays bounded.
    let mut peak = before;
    let started = Instant::now();
    while !daemon
        .log_text()
        .contains("closed a control connection that did not read its answer")
    {
        peak = peak.max(daemon.rss_kib());
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    peak = peak.max(daemon.rss_kib());
    let grown_mib = peak.saturating_sub(before) / 1024;
    println!(
        "daemon RSS {} MiB before, peak {} MiB with 100 deaf clients",
        before / 1024,
        peak / 1024
    );
    assert!(
        grown_mib < 300,
        "the daemon's RSS grew by {grown_mib} MiB with clients that do not read (from {} MiB)",
        before / 1024
    );
    assert!(
        matches!(
            daemon.try_request(&Request::Status),
            Ok(Response::Status(_))
        ),
        "status stopped answering"
    );
    drop(deaf);
}
