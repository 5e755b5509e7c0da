//! The real `jobvisor-worker` binary driven frame by frame over its fd-3 socket: context
//! reuse and rebuilds, survival after errors, and refusal of malformed input.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::time::{Duration, Instant};

use jobvisor_protocol::worker::{
    ErrorKind, FromWorker, Isolation, JobLimits, JobStats, Outcome, RunJob, ScriptRef, ToWorker,
    exit_status,
};
use jobvisor_protocol::{BlockingTransport, Hello, MAGIC, PROTOCOL_VERSION, Role};
use jobvisor_supervisor::cgroup::{GroupLimits, Limiter, LimiterChoice};
use jobvisor_supervisor::pool::spawn::{SpawnSpec, spawn_worker};
use jobvisor_tests::bin;

struct Worker {
    child: Child,
    transport: BlockingTransport<UnixStream>,
    pid: u32,
}

fn start_raw() -> (Child, UnixStream) {
    let limiter = Limiter::detect(LimiterChoice::Rlimit).unwrap();
    let group = limiter
        .create_group(
            "unused",
            GroupLimits {
                memory_bytes: 512 << 20,
                max_pids: 64,
            },
        )
        .unwrap();
    let spec = SpawnSpec {
        program: bin("jobvisor-worker"),
        self_limit_bytes: Some(512 << 20),
    };
    let spawned = spawn_worker(&spec, &group).unwrap();
    spawned
        .socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (spawned.child, spawned.socket)
}

fn start() -> Worker {
    let (child, socket) = start_raw();
    let mut transport = BlockingTransport::new(socket);
    transport.handshake(Role::Supervisor, Role::Worker).unwrap();
    let pid = match transport.recv::<FromWorker>().unwrap() {
        Some(FromWorker::Ready { pid }) => pid,
        other => panic!("expected Ready, got {other:?}"),
    };
    assert_eq!(pid, child.id());
    Worker {
        child,
        transport,
        pid,
    }
}

fn job(id: i64, source: Option<&str>, hash: &str, isolation: Isolation) -> RunJob {
    RunJob {
        job_id: id,
        attempt: 1,
        max_attempts: 3,
        queue: "default".into(),
        script: ScriptRef {
            name: "t".into(),
            hash: hash.into(),
            source: source.map(Into::into),
        },
        payload: "{}".into(),
        deadline_ms: 10_000,
        limits: JobLimits::default(),
        isolation,
    }
}

impl Worker {
    fn run(&mut self, job: RunJob) -> (Outcome, JobStats) {
        let id = job.job_id;
        self.transport.send(&ToWorker::Run(job)).unwrap();
        loop {
            match self.transport.recv::<FromWorker>().unwrap() {
                Some(FromWorker::Done {
                    job_id,
                    outcome,
                    stats,
                    ..
                }) => {
                    assert_eq!(job_id, id);
                    return (outcome, stats);
                }
                Some(FromWorker::Log { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

fn ok_value(outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Ok { result: Some(text) } => serde_json::from_str(text).unwrap(),
        other => panic!("expected a result, got {other:?}"),
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "worker did not exit"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

const COUNTER: &str =
    "let n = 0\nexport default (p) => { if (p.fail) throw new Error('asked to'); return ++n }";

#[test]
fn isolation_script_reuses_the_context_and_rebuilds_it_after_an_error() {
    let mut w = start();
    let (first, stats) = w.run(job(1, Some(COUNTER), "h1", Isolation::Script));
    assert_eq!(ok_value(&first), 1);
    assert!(!stats.warm);
    // The source is not sent again: the worker holds this version.
    let (second, stats) = w.run(job(2, None, "h1", Isolation::Script));
    assert_eq!(ok_value(&second), 2, "globals persist on a reused context");
    assert!(stats.warm);
    let mut failing = job(3, None, "h1", Isolation::Script);
    failing.payload = r#"{"fail":true}"#.into();
    let (failed, _) = w.run(failing);
    assert!(
        matches!(failed, Outcome::Err(ref e) if e.kind == ErrorKind::Thrown && e.message == "asked to")
    );
    let (after, stats) = w.run(job(4, None, "h1", Isolation::Script));
    assert_eq!(
        ok_value(&after),
        1,
        "the context was rebuilt after the error"
    );
    assert!(!stats.warm);
}

#[test]
fn engine_errors_name_the_script_file_and_the_failing_line_and_column() {
    let mut w = start();
    let source = "export default function (p) {\n  const n = 1;\n  if (p.call) return undefinedThing(n);\n  return p.missing.map((x) => x * n);\n}\n";
    let mut reading = job(1, Some(source), "h6", Isolation::Script);
    reading.script.name = "te6".into();
    let (outcome, _) = w.run(reading);
    let Outcome::Err(err) = outcome else {
        panic!("expected an error, got {outcome:?}")
    };
    assert_eq!(err.name, "TypeError");
    let stack = err.stack.unwrap_or_default();
    assert!(
        stack.starts_with("    at default (te6.js:4:20)"),
        "stack: {stack}"
    );

    let mut calling = job(2, None, "h6", Isolation::Script);
    calling.script.name = "te6".into();
    calling.payload = r#"{"call":true}"#.into();
    let (outcome, _) = w.run(calling);
    let Outcome::Err(err) = outcome else {
        panic!("expected an error, got {outcome:?}")
    };
    assert_eq!(err.name, "ReferenceError");
    let stack = err.stack.unwrap_or_default();
    assert!(
        stack.starts_with("    at default (te6.js:3:22)"),
        "stack: {stack}"
    );
}

#[test]
fn isolation_job_builds_a_fresh_context_every_time() {
    let mut w = start();
    for id in 1..=3 {
        let (outcome, stats) = w.run(job(id, Some(COUNTER), "h1", Isolation::Job));
        assert_eq!(ok_value(&outcome), 1);
        assert!(!stats.warm);
    }
}

#[test]
fn the_worker_survives_runtime_limits_and_serves_the_next_job() {
    let mut w = start();
    let (outcome, _) = w.run(job(
        1,
        Some("function r() { return r() }\nexport default () => r()"),
        "rec",
        Isolation::Script,
    ));
    assert!(
        matches!(outcome, Outcome::Err(ref e) if e.kind == ErrorKind::RuntimeLimit),
        "{outcome:?}"
    );
    let mut spin = job(
        2,
        Some("export default () => { while (true) {} }"),
        "spin",
        Isolation::Script,
    );
    spin.limits.loop_iteration_limit = 100_000;
    let (outcome, _) = w.run(spin);
    assert!(
        matches!(outcome, Outcome::Err(ref e) if e.kind == ErrorKind::RuntimeLimit),
        "{outcome:?}"
    );
    let (outcome, _) = w.run(job(
        3,
        Some("export default () => 'still here'"),
        "ok",
        Isolation::Script,
    ));
    assert_eq!(ok_value(&outcome), "still here");
    assert!(w.child.try_wait().unwrap().is_none());
    assert_eq!(w.pid, w.child.id());
}

#[test]
fn scripts_are_kept_per_version() {
    let mut w = start();
    let (a, _) = w.run(job(
        1,
        Some("export default () => 'v1'"),
        "v1",
        Isolation::Script,
    ));
    let (b, _) = w.run(job(
        2,
        Some("export default () => 'v2'"),
        "v2",
        Isolation::Script,
    ));
    let (a2, _) = w.run(job(3, None, "v1", Isolation::Script));
    assert_eq!(
        (ok_value(&a), ok_value(&b), ok_value(&a2)),
        ("v1".into(), "v2".into(), "v1".into())
    );
    let (missing, _) = w.run(job(4, None, "never-sent", Isolation::Script));
    assert!(
        matches!(missing, Outcome::Err(ref e) if e.kind == ErrorKind::ScriptMissing),
        "{missing:?}"
    );
}

#[test]
fn pending_timers_of_one_job_do_not_fire_in_the_next() {
    let mut w = start();
    let source = "let fired = 0\nexport default (p) => { if (p.arm) setTimeout(() => { fired++ }, 0); return fired }";
    let mut arm = job(1, Some(source), "t", Isolation::Script);
    arm.payload = r#"{"arm":true}"#.into();
    let (first, _) = w.run(arm);
    assert_eq!(ok_value(&first), 0);
    let (second, _) = w.run(job(2, None, "t", Isolation::Script));
    assert_eq!(
        ok_value(&second),
        0,
        "the timer armed by job 1 was dropped when it ended"
    );
}

#[test]
fn shutdown_and_eof_end_the_worker_cleanly() {
    let mut w = start();
    w.transport.send(&ToWorker::Shutdown).unwrap();
    assert_eq!(wait_exit(&mut w.child).code(), Some(exit_status::CLEAN));

    let mut w = start();
    drop(w.transport);
    assert_eq!(wait_exit(&mut w.child).code(), Some(exit_status::CLEAN));
}

#[test]
fn a_wrong_hello_is_refused() {
    for (what, hello) in [
        (
            "bad magic",
            Hello {
                magic: *b"NOTOURS!",
                protocol_version: PROTOCOL_VERSION,
                role: Role::Supervisor,
                build: String::new(),
            },
        ),
        (
            "bad version",
            Hello {
                magic: MAGIC,
                protocol_version: PROTOCOL_VERSION + 1,
                role: Role::Supervisor,
                build: String::new(),
            },
        ),
        (
            "bad role",
            Hello {
                magic: MAGIC,
                protocol_version: PROTOCOL_VERSION,
                role: Role::Client,
                build: String::new(),
            },
        ),
    ] {
        let (mut child, socket) = start_raw();
        let mut transport = BlockingTransport::new(socket);
        let _theirs: Option<Hello> = transport.recv().unwrap();
        transport.send(&hello).unwrap();
        let status = wait_exit(&mut child);
        assert_eq!(status.code(), Some(exit_status::PROTOCOL), "{what}");
    }
}

#[test]
fn malformed_frames_end_the_worker_without_a_large_allocation() {
    let bodies: [(&str, Vec<u8>); 3] = [
        ("huge length prefix", vec![0xff, 0xff, 0xff, 0xff]),
        ("garbage", b"\x05\x00\x00\x00\xfe\xfe\xfe\xfe\xfe".to_vec()),
        ("torn frame", vec![100, 0, 0, 0, 1, 2, 3]),
    ];
    for (what, bytes) in bodies {
        let mut w = start();
        w.transport.get_mut().write_all(&bytes).unwrap();
        w.transport
            .get_mut()
            .shutdown(std::net::Shutdown::Write)
            .unwrap();
        let status = wait_exit(&mut w.child);
        assert_eq!(status.code(), Some(exit_status::PROTOCOL), "{what}");
    }
}

#[test]
fn the_worker_holds_only_stdio_and_its_socket_and_an_empty_environment() {
    let mut w = start();
    let fds: Vec<i32> = std::fs::read_dir(format!("/proc/{}/fd", w.pid))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(fds, [0, 1, 2, 3], "open fds of the worker");
    let socket = std::fs::read_link(format!("/proc/{}/fd/3", w.pid)).unwrap();
    assert!(
        socket.to_string_lossy().starts_with("socket:"),
        "fd 3 is {}",
        socket.display()
    );
    let environ = std::fs::read(format!("/proc/{}/environ", w.pid)).unwrap();
    assert!(
        environ.is_empty(),
        "environment: {}",
        String::from_utf8_lossy(&environ)
    );
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", w.pid)).unwrap();
    assert_eq!(cwd, std::path::Path::new("/"));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", w.pid)).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let pgrp: u32 = after_name.split(' ').nth(2).unwrap().parse().unwrap();
    assert_eq!(pgrp, w.pid, "the worker leads its own process group");
    w.transport.send(&ToWorker::Shutdown).unwrap();
    wait_exit(&mut w.child);
}
