//! A worker that speaks the worker protocol and then breaks it on purpose, for the fault
//! tests. The daemon under test runs it in place of `jobvisor-worker`
//! (`JOBVISOR_WORKER`).
//!
//! What it does is chosen per job by the payload, `{"evil": "<behaviour>"}`, or, for the
//! handshake behaviours, by the name it was started under (`.../evil-worker-<behaviour>`,
//! a symlink). Anything else completes the job with its payload as the result.
//!
//! Behaviours: `garbage` (bytes that are not a frame), `huge-length` (a 0xFFFFFFFF length
//! prefix), `container-bomb` (a legal 16-byte frame announcing a 1 TiB string),
//! `truncated` (half a frame, then exit), `wrong-magic`, `wrong-version`, `slowloris` (a
//! valid result, one byte per second), `wrong-job` (a result for another job),
//! `wrong-attempt`, `exit-0` (exit without a result), `grandchild` (a `setsid` grandchild
//! that sleeps; its pid is written to `/tmp/jobvisor-evil-grandchild.<daemon pid>`, then
//! the job hangs), `ignore-sigterm` (SIGTERM ignored, then the job hangs), `idle-garbage`
//! (completes the job, then sends garbage while idle). Host calls: `host-echo` (an echo
//! call, then the job's result is the reply it got, read before `Done`), `host-oversized`
//! (one call one byte over the cap), `host-flood` (65 calls in one write, no reply read),
//! `host-after-done` (completes the job, then a call for that ended attempt).
//! `--check NAME` accepts any script.

use std::io::Write;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use jobvisor_protocol::host::{HostOp, HostResult, MAX_HOST_CALL_BYTES, MAX_HOST_CALLS_IN_FLIGHT};
use jobvisor_protocol::worker::{FromWorker, JobStats, Outcome, ToWorker};
use jobvisor_protocol::{BlockingTransport, encode_frame};
use jobvisor_protocol::{Hello, MAGIC, PROTOCOL_VERSION, Role};

fn main() {
    // The script check (`--check NAME`, the source on stdin) accepts every script, so
    // that a daemon can start with it and register its config's scripts.
    if std::env::args().nth(1).as_deref() == Some("--check") {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        println!(r#"{{"ok":true}}"#);
        return;
    }
    // SAFETY: the supervisor passes the worker's socket on fd 3 and nothing else owns it.
    let stream = unsafe { UnixStream::from_raw_fd(3) };
    let started_as = std::env::args()
        .next()
        .and_then(|arg0| {
            arg0.rsplit('/')
                .next()
                .and_then(|name| name.strip_prefix("evil-worker-"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let mut transport = BlockingTransport::new(stream);
    let mut hello = Hello::ours(Role::Worker);
    match started_as.as_str() {
        "wrong-magic" => hello.magic = *b"NOTOURS!",
        "wrong-version" => hello.protocol_version = PROTOCOL_VERSION + 7,
        _ => {}
    }
    debug_assert_eq!(Hello::ours(Role::Worker).magic, MAGIC);
    if transport.send(&hello).is_err() {
        return;
    }
    match transport.recv::<Hello>() {
        Ok(Some(_)) => {}
        _ => return,
    }
    let _ = transport.send(&FromWorker::Ready {
        pid: std::process::id(),
    });
    let mut idle_garbage = false;
    loop {
        if idle_garbage {
            std::thread::sleep(Duration::from_millis(200));
            raw(&mut transport, &[0x10, 0, 0, 0]);
            raw(&mut transport, &[0xEE; 16]);
            hang();
        }
        let run = match transport.recv::<ToWorker>() {
            Ok(Some(ToWorker::Run(run))) => run,
            Ok(Some(ToWorker::Ping { seq })) => {
                let _ = transport.send(&FromWorker::Pong { seq });
                continue;
            }
            _ => return,
        };
        let behaviour = serde_json::from_str::<serde_json::Value>(&run.payload)
            .ok()
            .and_then(|v| v.get("evil").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_default();
        let done = |job_id: i64, attempt: u32| FromWorker::Done {
            job_id,
            attempt,
            outcome: Outcome::Ok {
                result: Some(run.payload.clone()),
            },
            stats: JobStats::default(),
        };
        match behaviour.as_str() {
            "garbage" => {
                raw(&mut transport, &[0x10, 0, 0, 0]);
                raw(&mut transport, &[0xEE; 16]);
                hang();
            }
            "huge-length" => {
                raw(&mut transport, &[0xFF, 0xFF, 0xFF, 0xFF]);
                hang();
            }
            "container-bomb" => {
                // FromWorker::Log (variant 1), job 0, attempt 0, level Debug, then a
                // string whose varint length says 2^40 bytes, and no bytes of it.
                let mut body = vec![1, 0, 0, 0, 0xFD];
                body.extend_from_slice(&(1_u64 << 40).to_le_bytes());
                body.extend_from_slice(&[b'x'; 3]);
                let mut frame = (body.len() as u32).to_le_bytes().to_vec();
                frame.extend_from_slice(&body);
                raw(&mut transport, &frame);
                hang();
            }
            "truncated" => {
                let mut frame = Vec::new();
                encode_frame(&done(run.job_id, run.attempt), &mut frame).expect("encode");
                raw(&mut transport, &frame[..frame.len() / 2]);
                std::process::exit(0);
            }
            "slowloris" => {
                let mut frame = Vec::new();
                encode_frame(&done(run.job_id, run.attempt), &mut frame).expect("encode");
                for byte in frame {
                    raw(&mut transport, &[byte]);
                    std::thread::sleep(Duration::from_secs(1));
                }
                hang();
            }
            "wrong-job" => {
                let _ = transport.send(&done(run.job_id + 1_000_000, run.attempt));
                hang();
            }
            "wrong-attempt" => {
                let _ = transport.send(&done(run.job_id, run.attempt + 1));
                hang();
            }
            "exit-0" => std::process::exit(0),
            "grandchild" => {
                spawn_grandchild();
                hang();
            }
            "ignore-sigterm" => {
                // SAFETY: setting a signal disposition to SIG_IGN.
                unsafe {
                    libc::signal(libc::SIGTERM, libc::SIG_IGN);
                }
                hang();
            }
            "idle-garbage" => {
                let _ = transport.send(&done(run.job_id, run.attempt));
                idle_garbage = true;
            }
            "host-echo" => {
                let text = "echo from the worker".to_owned();
                let _ = transport.send(&host_call(&run, 1, text));
                let reply = loop {
                    match transport.recv::<ToWorker>() {
                        Ok(Some(ToWorker::HostReply { call_id: 1, result })) => break result,
                        Ok(Some(_)) => {}
                        _ => return,
                    }
                };
                let echoed = match reply {
                    HostResult::Value { text } => serde_json::json!({ "echoed": text }),
                    refused => serde_json::json!({ "refused": format!("{refused:?}") }),
                };
                let _ = transport.send(&FromWorker::Done {
                    job_id: run.job_id,
                    attempt: run.attempt,
                    outcome: Outcome::Ok {
                        result: Some(echoed.to_string()),
                    },
                    stats: JobStats::default(),
                });
            }
            "host-oversized" => {
                let text = "x".repeat(MAX_HOST_CALL_BYTES + 1);
                let _ = transport.send(&host_call(&run, 1, text));
                hang();
            }
            "host-flood" => {
                // All in one write, so the supervisor has them all before it answers one.
                let mut frames = Vec::new();
                for call_id in 0..=MAX_HOST_CALLS_IN_FLIGHT as u64 {
                    encode_frame(&host_call(&run, call_id, "flood".to_owned()), &mut frames)
                        .expect("encode");
                }
                raw(&mut transport, &frames);
                hang();
            }
            "host-after-done" => {
                let mut frames = Vec::new();
                encode_frame(&done(run.job_id, run.attempt), &mut frames).expect("encode");
                encode_frame(&host_call(&run, 1, "too late".to_owned()), &mut frames)
                    .expect("encode");
                raw(&mut transport, &frames);
            }
            _ => {
                let _ = transport.send(&done(run.job_id, run.attempt));
            }
        }
    }
}

fn host_call(run: &jobvisor_protocol::worker::RunJob, call_id: u64, text: String) -> FromWorker {
    FromWorker::HostCall {
        job_id: run.job_id,
        attempt: run.attempt,
        call_id,
        op: HostOp::Echo { text },
    }
}

fn raw(transport: &mut BlockingTransport<UnixStream>, bytes: &[u8]) {
    let _ = transport.get_mut().write_all(bytes);
    let _ = transport.get_mut().flush();
}

fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Double fork: the grandchild leaves the worker's session and process group, so only
/// the worker's cgroup still holds it.
fn spawn_grandchild() {
    // SAFETY: this process has a single thread, so the forked children may use the
    // allocator; they only call setsid/fork/sleep/open/write/_exit.
    unsafe {
        let daemon = libc::getppid();
        let middle = libc::fork();
        if middle == 0 {
            libc::setsid();
            let grandchild = libc::fork();
            if grandchild == 0 {
                loop {
                    libc::sleep(3600);
                }
            }
            let path = format!("/tmp/jobvisor-evil-grandchild.{daemon}\0");
            let fd = libc::open(
                path.as_ptr().cast(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                0o644,
            );
            let text = format!("{grandchild}\n");
            libc::write(fd, text.as_ptr().cast(), text.len());
            libc::close(fd);
            libc::_exit(0);
        }
        let mut status = 0;
        libc::waitpid(middle, &mut status, 0);
    }
}
