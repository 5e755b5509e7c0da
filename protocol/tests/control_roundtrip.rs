//! Every control message survives encoding and decoding unchanged, and a control request
//! decoder refuses what is not one.

#![allow(clippy::unwrap_used)]

use jobvisor_protocol::control::{
    AttemptView, ControlError, DrainReport, EnqueueJob, ErrorCode, Event, EventKind, JobQuery,
    JobSummary, JobView, QueueStatus, QueueView, Request, Response, ScheduleDetailView,
    ScheduleRunView, ScheduleSpec, ScheduleView, ScriptSummary, ScriptView, StatusReport,
    WorkerStatus,
};
use jobvisor_protocol::{FrameReader, decode_body, encode_frame};

fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut bytes = Vec::new();
    encode_frame(value, &mut bytes).unwrap();
    let mut reader = FrameReader::new(1 << 20);
    reader.push(&bytes);
    let decoded: T = reader.next_frame().unwrap().unwrap();
    reader.finish().unwrap();
    decoded
}

fn summary() -> JobSummary {
    JobSummary {
        id: 7,
        queue: "mail".into(),
        script: "send".into(),
        state: "discarded".into(),
        priority: -3,
        attempt: 2,
        max_attempts: 2,
        run_at_ms: 1,
        created_at_ms: 2,
        finished_at_ms: Some(3),
        last_outcome: Some("timeout".into()),
        last_error: Some("TimeoutError: …".into()),
    }
}

fn schedule_view() -> ScheduleView {
    ScheduleView {
        name: "nightly".into(),
        script: "report".into(),
        timing: "cron 0 2 * * * (Europe/Berlin)".into(),
        queue: "default".into(),
        overlap: "skip".into(),
        enabled: false,
        disabled_reason: Some("disabled after 5 consecutive failed runs".into()),
        failure_streak: 5,
        disable_after_failures: 5,
        next_run_at_ms: None,
        last_run_at_ms: Some(9),
        last_outcome: Some("discarded (js_error)".into()),
        source: "config".into(),
        last_skip: None,
    }
}

#[test]
fn every_request_round_trips() {
    let requests = vec![
        Request::Status,
        Request::Enqueue(EnqueueJob {
            script: "s".into(),
            payload: r#"{"a":"é"}"#.into(),
            queue: Some("q".into()),
            priority: Some(-1),
            delay_ms: Some(5),
            run_at_ms: None,
            max_attempts: Some(3),
            timeout_ms: Some(1000),
            unique_key: Some("k".into()),
        }),
        Request::WaitJob { id: 1 },
        Request::AddScript {
            name: "n".into(),
            source: "export default () => 1".into(),
        },
        Request::ListScripts,
        Request::ShowScript { name: "n".into() },
        Request::ListJobs(JobQuery {
            state: Some("running".into()),
            queue: None,
            script: None,
            limit: 10,
        }),
        Request::ShowJob { id: 2 },
        Request::RetryJob { id: 3 },
        Request::CancelJob { id: 4 },
        Request::ListQueues,
        Request::SetQueuePaused {
            queue: "q".into(),
            paused: true,
        },
        Request::Restart {
            worker: Some(1),
            force: true,
        },
        Request::Restart {
            worker: None,
            force: false,
        },
        Request::Drain,
        Request::Follow,
        Request::ListSchedules,
        Request::ShowSchedule { name: "x".into() },
        Request::AddSchedule(ScheduleSpec {
            name: "x".into(),
            script: "s".into(),
            cron: Some("*/5 * * * *".into()),
            timezone: Some("UTC".into()),
            ..ScheduleSpec::default()
        }),
        Request::SetScheduleEnabled {
            name: "x".into(),
            enabled: true,
        },
        Request::RemoveSchedule { name: "x".into() },
        Request::RunSchedule { name: "x".into() },
    ];
    for request in &requests {
        assert_eq!(&round_trip(request), request);
    }
}

#[test]
fn every_response_round_trips() {
    let responses = vec![
        Response::Status(StatusReport {
            pid: 1,
            version: "0.1.0".into(),
            uptime_ms: 2,
            epoch: 3,
            limiter: "cgroup v1".into(),
            store_path: "/var/lib/jobvisor/jobvisor.db".into(),
            store_bytes: 4,
            draining: true,
            workers: vec![WorkerStatus {
                id: 0,
                pid: Some(5),
                state: "busy".into(),
                job: Some(6),
                jobs_done: 7,
                rss_bytes: Some(8),
                restarts: 9,
                degraded_reason: None,
            }],
            queues: vec![QueueStatus {
                queue: "default".into(),
                paused: false,
                counts: vec![("completed".into(), 10)],
            }],
            completed_last_minute: 11,
            degraded: vec!["store write failed 3s ago: disk is full".to_owned()],
        }),
        Response::Enqueued {
            id: 1,
            duplicate: true,
        },
        Response::ScriptAdded {
            name: "n".into(),
            hash: "ab".into(),
            created: false,
        },
        Response::Scripts(vec![ScriptSummary {
            name: "n".into(),
            hash: "ab".into(),
            created_at_ms: 1,
            source_bytes: 2,
            versions: 3,
        }]),
        Response::Script(ScriptView {
            name: "n".into(),
            hash: "ab".into(),
            created_at_ms: 1,
            source: "x".into(),
            versions: vec![("ab".into(), 1, true)],
        }),
        Response::Jobs(vec![summary()]),
        Response::Job(Box::new(JobView {
            summary: summary(),
            script_hash: "ab".into(),
            payload: "{}".into(),
            result: None,
            unique_key: None,
            timeout_ms: Some(1),
            attempts: vec![AttemptView {
                attempt: 1,
                outcome: "oom".into(),
                worker_pid: Some(1),
                started_at_ms: Some(1),
                finished_at_ms: 2,
                duration_ms: Some(1),
                cpu_ms: None,
                peak_memory_bytes: Some(134_217_728),
                error_name: Some("OutOfMemory".into()),
                error_message: Some("…".into()),
                error_stack: None,
                logs: "{\"level\":\"info\",\"text\":\"x\"}\n".into(),
                logs_truncated: true,
            }],
        })),
        Response::Retried {
            id: 1,
            max_attempts: 4,
        },
        Response::Cancelled {
            id: 1,
            was_running: true,
        },
        Response::Queues(vec![QueueView {
            queue: "q".into(),
            paused: true,
            concurrency: Some(2),
            running: 1,
        }]),
        Response::QueuePaused {
            queue: "q".into(),
            paused: false,
        },
        Response::Restarting {
            workers: vec![0, 1],
        },
        Response::Drained(DrainReport {
            finished: 1,
            requeued: 2,
            duration_ms: 3,
        }),
        Response::Following,
        Response::Event(Event {
            at_ms: 1,
            kind: EventKind::Console {
                job: 1,
                attempt: 1,
                level: "warn".into(),
                text: "t".into(),
            },
        }),
        Response::Event(Event {
            at_ms: 2,
            kind: EventKind::Lagged { missed: 9 },
        }),
        Response::Schedules(vec![schedule_view()]),
        Response::Schedule(Box::new(ScheduleDetailView {
            schedule: schedule_view(),
            payload: "{}".into(),
            runs: vec![ScheduleRunView {
                job: 1,
                slot_ms: None,
                state: "completed".into(),
                last_outcome: Some("completed".into()),
                last_error: None,
                created_at_ms: 1,
                finished_at_ms: Some(2),
            }],
        })),
        Response::ScheduleSaved {
            name: "x".into(),
            created: true,
            next_run_at_ms: Some(1),
        },
        Response::ScheduleChanged {
            name: "x".into(),
            change: "enabled".into(),
        },
        Response::ScheduleFired {
            name: "x".into(),
            job: 3,
        },
        Response::Error(ControlError {
            code: ErrorCode::Unavailable,
            message: "disk full".into(),
        }),
    ];
    for response in &responses {
        assert_eq!(&round_trip(response), response);
    }
}

#[test]
fn malformed_requests_are_errors() {
    // An unknown variant tag, a truncated body, trailing bytes.
    assert!(decode_body::<Request>(&[200]).is_err());
    assert!(decode_body::<Request>(&[1, 0xff, 0xff]).is_err());
    let mut body = Vec::new();
    encode_frame(&Request::Status, &mut body).unwrap();
    let mut trailing = body[4..].to_vec();
    trailing.push(0);
    assert!(decode_body::<Request>(&trailing).is_err());
}
