//! The real `jobvisor-worker` binary driven frame by frame over its fd-3 socket: context
//! reuse and rebuilds, survival after errors, refusal of malformed input, and host calls
//! made by a running job (the test plays the supervisor and answers them).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::time::{Duration, Instant};

use jobvisor_protocol::host::{
    ChildJob, FetchRequest, FetchResponse, HostErrorKind, HostOp, HostResult, RedirectMode,
    SignAlgorithm, StateEntry, StateWrite, VersionCheck,
};
use jobvisor_protocol::worker::{
    AbortReason, ErrorKind, FromWorker, Isolation, JobLimits, JobStats, Outcome, RunJob, ScriptRef,
    ToWorker, exit_status,
};
use jobvisor_protocol::{BlockingTransport, Hello, MAGIC, PROTOCOL_VERSION, Role};
use jobvisor_supervisor::cgroup::{GroupLimits, Limiter, LimiterChoice};
use jobvisor_supervisor::pool::spawn::{SpawnSpec, spawn_worker};
use jobvisor_tests::{bin, fixture};

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
            node_compat: false,
        },
        payload: "{}".into(),
        deadline_ms: 10_000,
        signal_margin_ms: 0,
        limits: JobLimits::default(),
        isolation,
    }
}

impl Worker {
    fn run(&mut self, job: RunJob) -> (Outcome, JobStats) {
        let id = job.job_id;
        self.transport.send(&ToWorker::Run(job)).unwrap();
        self.finish(id)
    }

    /// Reads frames up to the `Done` of job `id`, skipping console lines.
    fn finish(&mut self, id: i64) -> (Outcome, JobStats) {
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

    /// Reads the next host call of job `id` (attempt 1), skipping console lines; returns
    /// its call id and op.
    fn next_call(&mut self, id: i64) -> (u64, HostOp) {
        loop {
            match self.transport.recv::<FromWorker>().unwrap() {
                Some(FromWorker::HostCall {
                    job_id,
                    attempt,
                    call_id,
                    op,
                }) => {
                    assert_eq!((job_id, attempt), (id, 1));
                    return (call_id, op);
                }
                Some(FromWorker::Log { .. }) => {}
                other => panic!("expected a host call, got {other:?}"),
            }
        }
    }

    /// Sends `job` and reads its first host call; returns the call's id.
    fn run_until_call(&mut self, job: RunJob) -> u64 {
        let id = job.job_id;
        self.transport.send(&ToWorker::Run(job)).unwrap();
        self.next_call(id).0
    }

    fn reply(&mut self, call_id: u64, result: HostResult) {
        self.transport
            .send(&ToWorker::HostReply { call_id, result })
            .unwrap();
    }
}

/// A handler that makes one host call and returns its answer.
fn echo_once() -> String {
    fixture::job("host-echo-once")
}

fn echoed(op: &HostOp) -> String {
    match op {
        HostOp::Echo { text } => text.clone(),
        other => panic!("expected an echo, got {other:?}"),
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

/// A handler that counts its runs in a global (and throws when asked to).
fn counter() -> String {
    fixture::job("counter")
}

#[test]
fn isolation_script_reuses_the_context_and_rebuilds_it_after_an_error() {
    let mut w = start();
    let (first, stats) = w.run(job(1, Some(&counter()), "h1", Isolation::Script));
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
        let (outcome, stats) = w.run(job(id, Some(&counter()), "h1", Isolation::Job));
        assert_eq!(ok_value(&outcome), 1);
        assert!(!stats.warm);
    }
}

#[test]
fn the_worker_survives_runtime_limits_and_serves_the_next_job() {
    let mut w = start();
    let (outcome, _) = w.run(job(
        1,
        Some(&fixture::job("recursion")),
        "rec",
        Isolation::Script,
    ));
    assert!(
        matches!(outcome, Outcome::Err(ref e) if e.kind == ErrorKind::RuntimeLimit),
        "{outcome:?}"
    );
    let mut spin = job(2, Some(&fixture::job("spin")), "spin", Isolation::Script);
    spin.limits.loop_iteration_limit = 100_000;
    let (outcome, _) = w.run(spin);
    assert!(
        matches!(outcome, Outcome::Err(ref e) if e.kind == ErrorKind::RuntimeLimit),
        "{outcome:?}"
    );
    let (outcome, _) = w.run(job(
        3,
        Some(&fixture::job("still-here")),
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
        Some(&fixture::job("greet-v1")),
        "v1",
        Isolation::Script,
    ));
    let (b, _) = w.run(job(
        2,
        Some(&fixture::job("greet-v2")),
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
    let source = fixture::job("timer-armed-by-payload");
    let mut arm = job(1, Some(&source), "t", Isolation::Script);
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

#[test]
fn a_host_call_round_trip_resolves_the_promise_with_the_reply() {
    let mut w = start();
    let source = fixture::job("host-echo-payload");
    let mut run = job(1, Some(&source), "echo", Isolation::Script);
    run.payload = r#"{"text":"héllo"}"#.into();
    w.transport.send(&ToWorker::Run(run)).unwrap();
    let (call_id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::Echo {
            text: "héllo".into()
        }
    );
    w.reply(
        call_id,
        HostResult::Value {
            text: "héllo back".into(),
        },
    );
    let (outcome, _) = w.finish(1);
    assert_eq!(
        ok_value(&outcome),
        serde_json::json!({ "back": "héllo back" })
    );
}

#[test]
fn replies_out_of_order_settle_the_calls_they_answer() {
    let mut w = start();
    let source = fixture::job("host-echo-three");
    w.transport
        .send(&ToWorker::Run(job(
            1,
            Some(&source),
            "order",
            Isolation::Script,
        )))
        .unwrap();
    let calls: Vec<(u64, HostOp)> = (0..3).map(|_| w.next_call(1)).collect();
    let ids: std::collections::BTreeSet<u64> = calls.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 3, "each call has its own id: {calls:?}");
    for (call_id, op) in calls.iter().rev() {
        let text = echoed(op).to_uppercase();
        w.reply(*call_id, HostResult::Value { text });
    }
    let (outcome, _) = w.finish(1);
    assert_eq!(ok_value(&outcome), serde_json::json!(["A", "B", "C"]));
}

#[test]
fn a_timer_fires_while_a_host_call_is_outstanding() {
    let mut w = start();
    let source = fixture::job("host-call-beside-a-timer");
    w.transport
        .send(&ToWorker::Run(job(
            1,
            Some(&source),
            "timer",
            Isolation::Script,
        )))
        .unwrap();
    let (call_id, _) = w.next_call(1);
    // The call stays unanswered until the timer's console line has arrived: the worker
    // must wake for its timer, not only for frames.
    loop {
        match w.transport.recv::<FromWorker>().unwrap() {
            Some(FromWorker::Log { text, .. }) if text == "timer fired" => break,
            Some(FromWorker::Log { .. }) => {}
            other => panic!("expected the timer's console line, got {other:?}"),
        }
    }
    w.reply(
        call_id,
        HostResult::Value {
            text: "at last".into(),
        },
    );
    let (outcome, _) = w.finish(1);
    let value = ok_value(&outcome);
    assert_eq!(value["answer"], "at last");
    assert!(
        value["waited"].as_f64().unwrap() >= 50.0,
        "the timer fired early: {value}"
    );
}

#[test]
fn a_reply_to_a_call_never_made_is_a_protocol_error() {
    let mut w = start();
    let call_id = w.run_until_call(job(1, Some(&echo_once()), "unknown", Isolation::Script));
    w.reply(call_id + 1000, HostResult::Value { text: "x".into() });
    assert_eq!(wait_exit(&mut w.child).code(), Some(exit_status::PROTOCOL));
}

#[test]
fn a_frame_other_than_a_reply_during_a_job_is_a_protocol_error() {
    let mut w = start();
    w.run_until_call(job(1, Some(&echo_once()), "ping", Isolation::Script));
    w.transport.send(&ToWorker::Ping { seq: 1 }).unwrap();
    assert_eq!(wait_exit(&mut w.child).code(), Some(exit_status::PROTOCOL));
}

#[test]
fn a_refused_call_rejects_with_an_error_the_script_can_catch() {
    let mut w = start();
    let source = fixture::job("host-call-refused-caught");
    w.transport
        .send(&ToWorker::Run(job(
            1,
            Some(&source),
            "refused",
            Isolation::Script,
        )))
        .unwrap();
    let (call_id, _) = w.next_call(1);
    w.reply(
        call_id,
        HostResult::Refused {
            kind: HostErrorKind::Denied,
            message: "this script may not echo".into(),
        },
    );
    let (outcome, _) = w.finish(1);
    let value = ok_value(&outcome);
    assert_eq!(value["name"], "HostCallDenied", "{value}");
    assert_eq!(value["error"], true, "{value}");
    let message = value["message"].as_str().unwrap();
    assert!(message.contains("this script may not echo"), "{message}");
}

#[test]
fn an_unanswered_call_ends_by_the_jobs_deadline_and_its_late_reply_is_ignored() {
    let mut w = start();
    let mut run = job(1, Some(&echo_once()), "deadline", Isolation::Script);
    run.deadline_ms = 200;
    let call_id = w.run_until_call(run);
    let (outcome, _) = w.finish(1);
    assert!(
        matches!(outcome, Outcome::Err(ref e) if e.kind == ErrorKind::Deadline),
        "{outcome:?}"
    );
    // The host answers after all: the worker drops the reply and serves the next job.
    w.reply(
        call_id,
        HostResult::Value {
            text: "too late".into(),
        },
    );
    let (next, _) = w.run(job(
        2,
        Some(&fixture::job("next")),
        "next",
        Isolation::Script,
    ));
    assert_eq!(ok_value(&next), "next");
}

#[test]
fn shutdown_during_a_job_lets_it_finish_then_the_worker_exits_cleanly() {
    let mut w = start();
    let call_id = w.run_until_call(job(1, Some(&echo_once()), "drain", Isolation::Script));
    w.transport.send(&ToWorker::Shutdown).unwrap();
    w.reply(
        call_id,
        HostResult::Value {
            text: "done".into(),
        },
    );
    let (outcome, _) = w.finish(1);
    assert_eq!(ok_value(&outcome), "done");
    assert_eq!(wait_exit(&mut w.child).code(), Some(exit_status::CLEAN));
}

fn fetched(status: u16, body: &[u8], done: bool) -> HostResult {
    HostResult::Response(FetchResponse {
        status,
        status_text: "OK".into(),
        headers: vec![("content-type".into(), "text/plain".into())],
        url: "https://api.example.com/items".into(),
        redirected: false,
        body: body.to_vec(),
        done,
    })
}

#[test]
fn a_fetch_reads_its_body_in_chunks_through_read_body() {
    for isolation in [Isolation::Script, Isolation::Job] {
        let mut w = start();
        let mut run = job(
            1,
            Some(&fixture::job("fetch-read-body")),
            "fetch",
            isolation,
        );
        run.payload = r#"{"url":"https://api.example.com/items","q":"é"}"#.into();
        let fetch_id = w.run_until_call(run);
        w.reply(fetch_id, fetched(200, "first, ".as_bytes(), false));
        let (read_id, op) = w.next_call(1);
        assert_eq!(op, HostOp::ReadBody { fetch: fetch_id });
        w.reply(
            read_id,
            HostResult::BodyChunk {
                data: "second, ".into(),
                done: false,
            },
        );
        let (read_id, op) = w.next_call(1);
        assert_eq!(op, HostOp::ReadBody { fetch: fetch_id });
        w.reply(
            read_id,
            HostResult::BodyChunk {
                data: "last".into(),
                done: true,
            },
        );
        let (outcome, _) = w.finish(1);
        assert_eq!(
            ok_value(&outcome),
            serde_json::json!({ "status": 200, "ok": true, "type": "text/plain",
                "text": "first, second, last" }),
            "{isolation:?}"
        );
        w.transport.send(&ToWorker::Shutdown).unwrap();
        wait_exit(&mut w.child);
    }
}

#[test]
fn the_fetch_request_carries_method_headers_and_body() {
    let mut w = start();
    let mut run = job(
        1,
        Some(&fixture::job("fetch-read-body")),
        "req",
        Isolation::Script,
    );
    run.payload = r#"{"url":"https://api.example.com/items?x=1","q":"é"}"#.into();
    w.transport.send(&ToWorker::Run(run)).unwrap();
    let (call_id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::Fetch(FetchRequest {
            method: "POST".into(),
            url: "https://api.example.com/items?x=1".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-request".into(), "1".into()),
            ],
            body: Some(r#"{"q":"é"}"#.as_bytes().to_vec()),
            redirect: RedirectMode::Follow,
        })
    );
    w.reply(call_id, fetched(201, b"whole", true));
    let (outcome, _) = w.finish(1);
    assert_eq!(ok_value(&outcome)["text"], "whole");
}

#[test]
fn a_refused_fetch_rejects_with_a_type_error_carrying_the_message() {
    let mut w = start();
    let mut run = job(
        1,
        Some(&fixture::job("fetch-refused")),
        "refused",
        Isolation::Script,
    );
    run.payload = r#"{"url":"https://evil.example.com/"}"#.into();
    let call_id = w.run_until_call(run);
    let message = "fetch to evil.example.com refused: the host is not in allow_net of script t";
    w.reply(
        call_id,
        HostResult::Refused {
            kind: HostErrorKind::Denied,
            message: message.into(),
        },
    );
    let (outcome, _) = w.finish(1);
    assert_eq!(
        ok_value(&outcome),
        serde_json::json!({ "name": "TypeError", "message": message, "typeError": true })
    );
}

#[test]
fn aborting_a_fetch_rejects_it_and_cancels_it_on_the_host() {
    let mut w = start();
    let fetch_id = w.run_until_call(job(
        1,
        Some(&fixture::job("fetch-aborted")),
        "abort",
        Isolation::Script,
    ));
    // Not answered: the script's timer aborts it.
    let (cancel_id, op) = w.next_call(1);
    assert_eq!(op, HostOp::CancelFetch { fetch: fetch_id });
    let (outcome, _) = w.finish(1);
    assert_eq!(
        ok_value(&outcome),
        serde_json::json!({ "name": "AbortError", "aborted": true })
    );
    // The host's answers to both calls come after the job: they are dropped.
    w.reply(
        fetch_id,
        HostResult::Refused {
            kind: HostErrorKind::Aborted,
            message: "cancelled".into(),
        },
    );
    w.reply(cancel_id, HostResult::Done);
    let (next, _) = w.run(job(
        2,
        Some(&fixture::job("next")),
        "next",
        Isolation::Script,
    ));
    assert_eq!(ok_value(&next), "next");
}

#[test]
fn an_abort_frame_aborts_ctx_signal_and_its_fetch() {
    for (reason, message) in [
        (AbortReason::Cancelled, "the job was cancelled"),
        (AbortReason::Shutdown, "the supervisor is shutting down"),
    ] {
        let mut w = start();
        let fetch_id = w.run_until_call(job(
            1,
            Some(&fixture::job("signal-fetch")),
            "signal",
            Isolation::Script,
        ));
        w.transport
            .send(&ToWorker::Abort {
                job_id: 1,
                attempt: 1,
                reason,
            })
            .unwrap();
        let (cancel_id, op) = w.next_call(1);
        assert_eq!(op, HostOp::CancelFetch { fetch: fetch_id });
        w.reply(cancel_id, HostResult::Done);
        let (outcome, _) = w.finish(1);
        assert_eq!(
            ok_value(&outcome),
            serde_json::json!({ "name": "AbortError", "message": message, "event": true,
                "same": true }),
            "{reason:?}"
        );
    }
}

#[test]
fn ctx_signal_aborts_the_signal_margin_before_the_deadline() {
    let mut w = start();
    let mut run = job(
        1,
        Some(&fixture::job("signal-near-deadline")),
        "margin",
        Isolation::Job,
    );
    run.deadline_ms = 1_500;
    run.signal_margin_ms = 1_000;
    let (outcome, _) = w.run(run);
    let value = ok_value(&outcome);
    assert_eq!(value["name"], "TimeoutError", "{value}");
    let after = value["after"]
        .as_f64()
        .expect("the signal aborted before the timer");
    assert!(
        (400.0..1_000.0).contains(&after),
        "aborted {after} ms after the start, not about 500"
    );
    let ahead = value["ahead"].as_f64().unwrap();
    assert!((1_400.0..=1_500.0).contains(&ahead), "{value}");
}

#[test]
fn ctx_state_maps_to_its_host_ops() {
    let mut w = start();
    w.transport
        .send(&ToWorker::Run(job(
            1,
            Some(&fixture::job("state-round-trip")),
            "state",
            Isolation::Script,
        )))
        .unwrap();
    let entry = |key: &str, value: &str, version| StateEntry {
        key: key.into(),
        value: value.into(),
        version,
    };
    let (id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::StateGet {
            key: "cursor".into()
        }
    );
    w.reply(
        id,
        HostResult::State(Some(entry("cursor", r#"{"at":41}"#, Some(9)))),
    );
    let (id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::StateSet(StateWrite {
            key: "cursor".into(),
            value: Some(r#"{"at":42}"#.into()),
            ttl_ms: Some(3_600_000),
            check: VersionCheck::Is(9),
        })
    );
    w.reply(id, HostResult::StateWritten);
    let (id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::StateList {
            prefix: "item:".into(),
            after: None,
            limit: 10
        }
    );
    w.reply(
        id,
        HostResult::StateEntries {
            entries: vec![
                entry("item:1", "[1]", Some(3)),
                entry("item:2", "null", None),
            ],
            more: false,
        },
    );
    let (id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::StateSet(StateWrite {
            key: "lock".into(),
            value: Some("true".into()),
            ttl_ms: None,
            check: VersionCheck::Absent,
        })
    );
    w.reply(
        id,
        HostResult::Refused {
            kind: HostErrorKind::Conflict,
            message: "lock exists".into(),
        },
    );
    let (id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::StateGet {
            key: "nothing".into()
        }
    );
    w.reply(id, HostResult::State(None));
    let (outcome, _) = w.finish(1);
    assert_eq!(
        ok_value(&outcome),
        serde_json::json!({
            "value": { "at": 41 }, "version": 9,
            "page": { "entries": [
                { "key": "item:1", "value": [1], "version": 3 },
                { "key": "item:2", "value": null, "version": null }
            ], "more": false },
            "conflict": "StateConflict"
        })
    );
}

#[test]
fn enqueue_and_sign_send_their_ops() {
    let mut w = start();
    let mut run = job(
        1,
        Some(&fixture::job("enqueue-and-sign")),
        "child",
        Isolation::Script,
    );
    run.payload = r#"{"item":7}"#.into();
    w.transport.send(&ToWorker::Run(run)).unwrap();
    let (id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::Enqueue(ChildJob {
            script: "notify".into(),
            payload: r#"{"item":7,"tags":["a"]}"#.into(),
            queue: Some("mail".into()),
            priority: Some(5),
            delay_ms: Some(1_000),
            unique_key: Some("item-7".into()),
            max_attempts: Some(2),
            timeout_ms: Some(30_000),
        })
    );
    w.reply(id, HostResult::Done);
    let (id, op) = w.next_call(1);
    assert_eq!(
        op,
        HostOp::Sign {
            name: "HOOK_KEY".into(),
            algorithm: SignAlgorithm::Hs256,
            data: b"body".to_vec(),
        }
    );
    w.reply(
        id,
        HostResult::Bytes {
            data: vec![0, 255, 16],
        },
    );
    let (outcome, _) = w.finish(1);
    assert_eq!(
        ok_value(&outcome),
        serde_json::json!({ "signature": [0, 255, 16], "ref": "JOBVISOR-SECRET~HOOK_KEY~" })
    );
}
