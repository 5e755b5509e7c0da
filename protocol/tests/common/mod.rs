//! Helpers shared by the integration tests: proptest strategies for every message
//! type, a reader that returns short reads, and the decoder oracle (also used by the
//! fuzz target).
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod exercise;

use jobvisor_protocol::control::{
    AttemptError, AttemptOutcome, AttemptView, CatchUp, ConsoleLine, ControlError, DrainReport,
    EnqueueJob, EnqueuedJob, ErrorCode, Event, EventKind, JobQuery, JobState, JobSummary, JobView,
    Overlap, QueueStatus, QueueView, Request, RequestView, Response, RunOutcome, ScheduleChange,
    ScheduleDetailView, ScheduleRunView, ScheduleSource, ScheduleSpec, ScheduleView, ScriptGrants,
    ScriptSummary, ScriptVersion, ScriptView, SecretView, StateChange, StateListQuery, StateView,
    StatusReport, WorkerState, WorkerStatus,
};
use jobvisor_protocol::host::{HostErrorKind, HostOp, HostResult};
use jobvisor_protocol::worker::{
    ErrorKind, FromWorker, Isolation, JobError, JobLimits, JobStats, LogLevel, Outcome, RunJob,
    ScriptRef, ToWorker,
};
use jobvisor_protocol::{Hello, Role, encode_frame};
use proptest::prelude::*;
use serde::Serialize;

/// Any text, newlines and non-ASCII included, sometimes empty.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "(?s).{0,48}", "\\PC{0,300}"]
}

pub fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Supervisor),
        Just(Role::Worker),
        Just(Role::Client)
    ]
}

pub fn hello() -> impl Strategy<Value = Hello> {
    (any::<[u8; 8]>(), any::<u32>(), role(), text()).prop_map(
        |(magic, protocol_version, role, build)| Hello {
            magic,
            protocol_version,
            role,
            build,
        },
    )
}

pub fn script_ref() -> impl Strategy<Value = ScriptRef> {
    (text(), text(), proptest::option::of(text()), any::<bool>()).prop_map(
        |(name, hash, source, node_compat)| ScriptRef {
            name,
            hash,
            source,
            node_compat,
        },
    )
}

pub fn job_limits() -> impl Strategy<Value = JobLimits> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(
            |(
                max_result_bytes,
                max_log_bytes,
                max_log_lines,
                loop_iteration_limit,
                recursion_limit,
            )| {
                JobLimits {
                    max_result_bytes,
                    max_log_bytes,
                    max_log_lines,
                    loop_iteration_limit,
                    recursion_limit,
                }
            },
        )
}

pub fn isolation() -> impl Strategy<Value = Isolation> {
    prop_oneof![Just(Isolation::Script), Just(Isolation::Job)]
}

pub fn run_job() -> impl Strategy<Value = RunJob> {
    (
        any::<i64>(),
        any::<u32>(),
        any::<u32>(),
        text(),
        script_ref(),
        text(),
        any::<u64>(),
        job_limits(),
        isolation(),
    )
        .prop_map(
            |(
                job_id,
                attempt,
                max_attempts,
                queue,
                script,
                payload,
                deadline_ms,
                limits,
                isolation,
            )| {
                RunJob {
                    job_id,
                    attempt,
                    max_attempts,
                    queue,
                    script,
                    payload,
                    deadline_ms,
                    signal_margin_ms: deadline_ms / 10,
                    limits,
                    isolation,
                }
            },
        )
}

pub fn to_worker() -> impl Strategy<Value = ToWorker> {
    prop_oneof![
        run_job().prop_map(ToWorker::Run),
        Just(ToWorker::Shutdown),
        any::<u64>().prop_map(|seq| ToWorker::Ping { seq }),
        (any::<u64>(), host_result())
            .prop_map(|(call_id, result)| ToWorker::HostReply { call_id, result }),
    ]
}

pub fn host_result() -> impl Strategy<Value = HostResult> {
    prop_oneof![
        text().prop_map(|text| HostResult::Value { text }),
        (
            prop_oneof![
                Just(HostErrorKind::Denied),
                Just(HostErrorKind::Invalid),
                Just(HostErrorKind::Failed)
            ],
            text()
        )
            .prop_map(|(kind, message)| HostResult::Refused { kind, message }),
    ]
}

pub fn log_level() -> impl Strategy<Value = LogLevel> {
    prop_oneof![
        Just(LogLevel::Debug),
        Just(LogLevel::Info),
        Just(LogLevel::Warn),
        Just(LogLevel::Error)
    ]
}

pub fn error_kind() -> impl Strategy<Value = ErrorKind> {
    prop_oneof![
        Just(ErrorKind::Thrown),
        Just(ErrorKind::NeverSettled),
        Just(ErrorKind::RuntimeLimit),
        Just(ErrorKind::Deadline),
        Just(ErrorKind::Script),
        Just(ErrorKind::ScriptMissing),
        Just(ErrorKind::Payload),
        Just(ErrorKind::Result),
        Just(ErrorKind::Panic),
    ]
}

pub fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        proptest::option::of(text()).prop_map(|result| Outcome::Ok { result }),
        (error_kind(), text(), text(), proptest::option::of(text())).prop_map(
            |(kind, name, message, stack)| Outcome::Err(JobError {
                kind,
                name,
                message,
                stack
            })
        ),
    ]
}

pub fn job_stats() -> impl Strategy<Value = JobStats> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(duration_us, cpu_us, max_rss_bytes, logs_dropped, warm)| JobStats {
                duration_us,
                cpu_us,
                max_rss_bytes,
                logs_dropped,
                warm,
            },
        )
}

pub fn from_worker() -> impl Strategy<Value = FromWorker> {
    prop_oneof![
        any::<u32>().prop_map(|pid| FromWorker::Ready { pid }),
        any::<u64>().prop_map(|seq| FromWorker::Pong { seq }),
        (any::<i64>(), any::<u32>(), log_level(), text()).prop_map(
            |(job_id, attempt, level, text)| FromWorker::Log {
                job_id,
                attempt,
                level,
                text
            }
        ),
        (any::<i64>(), any::<u32>(), text()).prop_map(|(job_id, attempt, value)| {
            FromWorker::Progress {
                job_id,
                attempt,
                value,
            }
        }),
        (any::<i64>(), any::<u32>(), outcome(), job_stats()).prop_map(
            |(job_id, attempt, outcome, stats)| FromWorker::Done {
                job_id,
                attempt,
                outcome,
                stats
            }
        ),
        (any::<i64>(), any::<u32>(), any::<u64>(), text()).prop_map(
            |(job_id, attempt, call_id, text)| FromWorker::HostCall {
                job_id,
                attempt,
                call_id,
                op: HostOp::Echo { text },
            }
        ),
    ]
}

/// A few fixed, valid messages of every type (seeds for the mutation test).
pub fn samples() -> (Vec<ToWorker>, Vec<FromWorker>, Vec<Hello>) {
    let run = RunJob {
        job_id: 42,
        attempt: 1,
        max_attempts: 5,
        queue: "default".into(),
        script: ScriptRef {
            name: "poll".into(),
            hash: "ab12cd34".into(),
            source: Some("export default (p) => p.url;".into()),
            node_compat: false,
        },
        payload: r#"{"url":"https://example.invalid"}"#.into(),
        deadline_ms: 30_000,
        signal_margin_ms: 500,
        limits: JobLimits::default(),
        isolation: Isolation::Script,
    };
    let to = vec![
        ToWorker::Run(run.clone()),
        ToWorker::Shutdown,
        ToWorker::Ping { seq: 300 },
        ToWorker::Run(RunJob {
            script: ScriptRef {
                source: None,
                node_compat: true,
                ..run.script.clone()
            },
            isolation: Isolation::Job,
            ..run
        }),
        ToWorker::HostReply {
            call_id: 7,
            result: HostResult::Value {
                text: "echo é".into(),
            },
        },
        ToWorker::HostReply {
            call_id: u64::MAX,
            result: HostResult::Refused {
                kind: HostErrorKind::Denied,
                message: "not allowed".into(),
            },
        },
    ];
    let from = vec![
        FromWorker::Ready { pid: 4242 },
        FromWorker::Pong { seq: 300 },
        FromWorker::Log {
            job_id: 42,
            attempt: 1,
            level: LogLevel::Warn,
            text: "polling é".into(),
        },
        FromWorker::Progress {
            job_id: -1,
            attempt: 7,
            value: "0.5".into(),
        },
        FromWorker::Done {
            job_id: 42,
            attempt: 1,
            outcome: Outcome::Ok {
                result: Some(r#"{"seen":3}"#.into()),
            },
            stats: JobStats {
                duration_us: 1234,
                cpu_us: 1000,
                max_rss_bytes: 50 << 20,
                logs_dropped: 0,
                warm: true,
            },
        },
        FromWorker::Done {
            job_id: i64::MAX,
            attempt: u32::MAX,
            outcome: Outcome::Err(JobError {
                kind: ErrorKind::Thrown,
                name: "TypeError".into(),
                message: "x is not a function".into(),
                stack: Some("at handler (poll.js:1:1)".into()),
            }),
            stats: JobStats::default(),
        },
        FromWorker::HostCall {
            job_id: 42,
            attempt: 1,
            call_id: 7,
            op: HostOp::Echo {
                text: "echo é".into(),
            },
        },
    ];
    let hellos = vec![Hello::ours(Role::Worker), Hello::ours(Role::Supervisor)];
    (to, from, hellos)
}

/// Every [`Request`] variant's name, in declaration order.
pub const REQUEST_VARIANTS: [&str; 29] = [
    "Status",
    "Enqueue",
    "WaitJob",
    "AddScript",
    "ListScripts",
    "ShowScript",
    "ListJobs",
    "ShowJob",
    "RetryJob",
    "CancelJob",
    "ListQueues",
    "SetQueuePaused",
    "Restart",
    "Drain",
    "Follow",
    "ListSchedules",
    "ShowSchedule",
    "AddSchedule",
    "SetScheduleEnabled",
    "RemoveSchedule",
    "RunSchedule",
    "EnqueueBatch",
    "RetryJobLatest",
    "PauseQueue",
    "RemoveQueue",
    "ListState",
    "GetState",
    "SetState",
    "ListSecrets",
];

/// The name of a request's variant. The match has no catch-all arm: a new variant does
/// not build until it is named here, in [`REQUEST_VARIANTS`] and in [`control_samples`].
pub fn request_variant(request: &Request) -> &'static str {
    match request {
        Request::Status => "Status",
        Request::Enqueue(_) => "Enqueue",
        Request::WaitJob { .. } => "WaitJob",
        Request::AddScript { .. } => "AddScript",
        Request::ListScripts => "ListScripts",
        Request::ShowScript { .. } => "ShowScript",
        Request::ListJobs(_) => "ListJobs",
        Request::ShowJob { .. } => "ShowJob",
        Request::RetryJob { .. } => "RetryJob",
        Request::CancelJob { .. } => "CancelJob",
        Request::ListQueues => "ListQueues",
        Request::SetQueuePaused { .. } => "SetQueuePaused",
        Request::Restart { .. } => "Restart",
        Request::Drain => "Drain",
        Request::Follow => "Follow",
        Request::ListSchedules => "ListSchedules",
        Request::ShowSchedule { .. } => "ShowSchedule",
        Request::AddSchedule(_) => "AddSchedule",
        Request::SetScheduleEnabled { .. } => "SetScheduleEnabled",
        Request::RemoveSchedule { .. } => "RemoveSchedule",
        Request::RunSchedule { .. } => "RunSchedule",
        Request::EnqueueBatch(_) => "EnqueueBatch",
        Request::RetryJobLatest { .. } => "RetryJobLatest",
        Request::PauseQueue { .. } => "PauseQueue",
        Request::RemoveQueue { .. } => "RemoveQueue",
        Request::ListState(_) => "ListState",
        Request::GetState { .. } => "GetState",
        Request::SetState(_) => "SetState",
        Request::ListSecrets => "ListSecrets",
    }
}

fn job_summary() -> JobSummary {
    JobSummary {
        id: 7,
        queue: "mail".into(),
        script: "send".into(),
        state: JobState::Discarded,
        priority: -3,
        attempt: 2,
        max_attempts: 2,
        run_at_ms: 1_700_000_000_000,
        created_at_ms: 1_699_999_999_000,
        finished_at_ms: Some(1_700_000_000_500),
        last_outcome: Some(AttemptOutcome::Timeout),
        last_error: Some("TimeoutError: deadline of 1000 ms exceeded".into()),
    }
}

fn schedule_view() -> ScheduleView {
    ScheduleView {
        name: "nightly".into(),
        script: "report".into(),
        timing: "cron 0 2 * * * (Europe/Berlin)".into(),
        queue: "default".into(),
        overlap: Overlap::Skip,
        enabled: false,
        disabled_reason: Some("disabled after 5 consecutive failed runs".into()),
        failure_streak: 5,
        disable_after_failures: 5,
        next_run_at_ms: None,
        last_run_at_ms: Some(1_700_000_000_000),
        last_outcome: Some(RunOutcome {
            state: JobState::Discarded,
            last_attempt: Some(AttemptOutcome::JsError),
        }),
        source: ScheduleSource::Config,
        last_skip: None,
    }
}

/// Fixed, valid control messages: every [`Request`] variant (some twice, with optional
/// fields set and unset) and a response of every shape (seeds for the mutation test and
/// the `control_decoder` fuzz target).
pub fn control_samples() -> (Vec<Request>, Vec<Response>) {
    let requests = vec![
        Request::Status,
        Request::Enqueue(EnqueueJob {
            script: "poll".into(),
            payload: r#"{"url":"https://example.invalid","note":"é"}"#.into(),
            queue: Some("mail".into()),
            priority: Some(-1),
            delay_ms: Some(5_000),
            run_at_ms: Some(1_700_000_000_000),
            max_attempts: Some(3),
            timeout_ms: Some(1_000),
            unique_key: Some("poll:42".into()),
        }),
        Request::Enqueue(EnqueueJob {
            script: "poll".into(),
            payload: "{}".into(),
            ..EnqueueJob::default()
        }),
        Request::WaitJob { id: 42 },
        Request::AddScript {
            name: "poll".into(),
            source: "export default (p) => p.url;".into(),
            allow_net: vec!["api.example.com".into(), "*.googleapis.com".into()],
        },
        Request::ListScripts,
        Request::ShowScript {
            name: "poll".into(),
        },
        Request::ListJobs(JobQuery {
            state: Some(JobState::Running),
            queue: Some("mail".into()),
            script: Some("poll".into()),
            limit: 50,
            before: Some(1_000),
        }),
        Request::ListJobs(JobQuery::default()),
        Request::ShowJob { id: i64::MAX },
        Request::RetryJob { id: 3 },
        Request::CancelJob { id: -1 },
        Request::ListQueues,
        Request::SetQueuePaused {
            queue: "mail".into(),
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
        Request::ShowSchedule {
            name: "nightly".into(),
        },
        Request::AddSchedule(ScheduleSpec {
            name: "nightly".into(),
            script: "report".into(),
            payload: Some(r#"{"days":1}"#.into()),
            every_ms: None,
            cron: Some("0 2 * * *".into()),
            timezone: Some("Europe/Berlin".into()),
            queue: Some("reports".into()),
            priority: Some(2),
            timeout_ms: Some(60_000),
            max_attempts: Some(2),
            jitter_ms: Some(500),
            overlap: Some(Overlap::Queue),
            catch_up: Some(CatchUp::Skip),
            disable_after_failures: Some(5),
        }),
        Request::AddSchedule(ScheduleSpec {
            name: "tick".into(),
            script: "ping".into(),
            every_ms: Some(60_000),
            ..ScheduleSpec::default()
        }),
        Request::SetScheduleEnabled {
            name: "nightly".into(),
            enabled: false,
        },
        Request::RemoveSchedule {
            name: "nightly".into(),
        },
        Request::RunSchedule {
            name: "nightly".into(),
        },
        Request::EnqueueBatch(vec![
            EnqueueJob {
                script: "poll".into(),
                payload: "{\"page\":1}".into(),
                ..EnqueueJob::default()
            },
            EnqueueJob {
                script: "poll".into(),
                payload: "{\"page\":2}".into(),
                unique_key: Some("page-2".into()),
                ..EnqueueJob::default()
            },
        ]),
        Request::RetryJobLatest { id: 4 },
        Request::PauseQueue {
            queue: "mial".into(),
            paused: true,
            create: false,
        },
        Request::RemoveQueue {
            queue: "mial".into(),
        },
        Request::ListState(StateListQuery {
            script: "poll".into(),
            prefix: "cursor:".into(),
            after: Some("cursor:a".into()),
            limit: 10,
        }),
        Request::GetState {
            script: "poll".into(),
            key: "cursor".into(),
        },
        Request::SetState(StateChange {
            script: "poll".into(),
            key: "cursor".into(),
            value: Some("{\"at\":1}".into()),
            ttl_ms: Some(60_000),
            if_version: Some(0),
        }),
        Request::ListSecrets,
    ];
    let responses = vec![
        Response::Status(StatusReport {
            pid: 4242,
            version: "0.1.0".into(),
            uptime_ms: 86_400_000,
            epoch: 3,
            limiter: "cgroup v2 memory.max".into(),
            store_path: "/var/lib/jobvisor/jobvisor.db".into(),
            store_bytes: 1 << 20,
            draining: false,
            workers: vec![
                WorkerStatus {
                    id: 0,
                    pid: Some(4243),
                    state: WorkerState::Busy,
                    job: Some(42),
                    jobs_done: 7,
                    rss_bytes: Some(50 << 20),
                    restarts: 1,
                    degraded_reason: None,
                },
                WorkerStatus {
                    id: 1,
                    pid: None,
                    state: WorkerState::Degraded,
                    job: None,
                    jobs_done: 0,
                    rss_bytes: None,
                    restarts: 9,
                    degraded_reason: Some("crashed 5 times in 60 s".into()),
                },
            ],
            queues: vec![QueueStatus {
                queue: "default".into(),
                paused: false,
                counts: vec![(JobState::Completed, 10), (JobState::Running, 1)],
            }],
            completed_last_minute: 11,
            degraded: vec!["store write failed 3s ago: disk is full".to_owned()],
            drain_left_ms: Some(12_000),
        }),
        Response::Enqueued {
            id: 42,
            duplicate: false,
        },
        Response::ScriptAdded {
            name: "poll".into(),
            hash: "ab12cd34".into(),
            created: true,
        },
        Response::Scripts(vec![ScriptSummary {
            name: "poll".into(),
            hash: "ab12cd34".into(),
            created_at_ms: 1_700_000_000_000,
            source_bytes: 28,
            versions: 2,
        }]),
        Response::Script(ScriptView {
            name: "poll".into(),
            hash: "ab12cd34".into(),
            created_at_ms: 1_700_000_000_000,
            source: "export default (p) => p.url;".into(),
            versions: vec![
                ScriptVersion {
                    hash: "ab12cd34".into(),
                    created_at_ms: 1_700_000_000_000,
                    current: true,
                },
                ScriptVersion {
                    hash: "99ff00aa".into(),
                    created_at_ms: 1_600_000_000_000,
                    current: false,
                },
            ],
            grants: ScriptGrants {
                allow_net: vec!["api.example.com".into()],
                allow_private: vec!["localhost:8080".into()],
                secrets: vec!["TOKEN".into()],
                state_namespace: "poll".into(),
            },
        }),
        Response::Jobs(vec![job_summary()]),
        Response::Job(Box::new(JobView {
            summary: job_summary(),
            script_hash: "ab12cd34".into(),
            payload: "{}".into(),
            result: None,
            unique_key: Some("poll:42".into()),
            timeout_ms: Some(1_000),
            attempts: vec![AttemptView {
                attempt: 1,
                counted: true,
                outcome: AttemptOutcome::Oom,
                worker_pid: Some(4243),
                started_at_ms: Some(1_700_000_000_000),
                finished_at_ms: 1_700_000_000_900,
                duration_ms: Some(900),
                cpu_ms: None,
                peak_memory_bytes: Some(134_217_728),
                error: Some(AttemptError {
                    name: "OutOfMemory".into(),
                    message: "memory limit of 128 MiB exceeded".into(),
                    stack: None,
                }),
                console: vec![ConsoleLine {
                    level: LogLevel::Info,
                    text: "x".into(),
                }],
                console_truncated: true,
                requests: vec![RequestView {
                    method: "POST".into(),
                    url: "https://hooks.example.com/in".into(),
                    status: None,
                    bytes_out: 120,
                    bytes_in: 0,
                    duration_ms: 5,
                    redirects: 0,
                    error: Some("refused: not in allow_net".into()),
                }],
            }],
            current_script_hash: Some("99ff00aa".into()),
            parent: Some(1),
            children: vec![9],
        })),
        Response::Retried {
            id: 3,
            max_attempts: 4,
            script_hash: "ab12cd34".into(),
            script_changed: true,
        },
        Response::Cancelled {
            id: 42,
            was_running: true,
        },
        Response::Queues(vec![QueueView {
            queue: "mail".into(),
            paused: true,
            concurrency: Some(2),
            running: 1,
        }]),
        Response::QueuePaused {
            queue: "mail".into(),
            paused: false,
        },
        Response::Restarting {
            workers: vec![0, 1, 300],
        },
        Response::Drained(DrainReport {
            finished: 1,
            requeued: 2,
            duration_ms: 3_000,
            failed: 4,
        }),
        Response::Following,
        Response::Event(Event {
            at_ms: 1_700_000_000_000,
            kind: EventKind::JobStarted {
                job: 42,
                attempt: 1,
                worker: 0,
                script: "poll".into(),
            },
        }),
        Response::Event(Event {
            at_ms: 1_700_000_000_900,
            kind: EventKind::JobEnded {
                job: 42,
                attempt: 1,
                worker: 0,
                outcome: AttemptOutcome::JsError,
                duration_ms: 900,
                error: Some("TypeError: x is not a function".into()),
            },
        }),
        Response::Event(Event {
            at_ms: 1,
            kind: EventKind::Console {
                job: 42,
                attempt: 1,
                level: LogLevel::Warn,
                text: "polling é".into(),
            },
        }),
        Response::Event(Event {
            at_ms: 2,
            kind: EventKind::Worker {
                worker: 1,
                state: WorkerState::Backoff,
                pid: None,
            },
        }),
        Response::Event(Event {
            at_ms: 3,
            kind: EventKind::Lagged { missed: 9 },
        }),
        Response::Event(Event {
            at_ms: 4,
            kind: EventKind::ScheduleFired {
                schedule: "nightly".into(),
                job: 43,
                slot_ms: Some(1_700_000_000_000),
                held: false,
            },
        }),
        Response::Event(Event {
            at_ms: 5,
            kind: EventKind::ScheduleSkipped {
                schedule: "nightly".into(),
                slot_ms: 1_700_000_000_000,
                reason: "skipped: job 43 already holds this slot".into(),
            },
        }),
        Response::Event(Event {
            at_ms: 6,
            kind: EventKind::ScheduleDisabled {
                schedule: "nightly".into(),
            },
        }),
        Response::Schedules(vec![schedule_view()]),
        Response::Schedule(Box::new(ScheduleDetailView {
            schedule: schedule_view(),
            payload: "{}".into(),
            runs: vec![ScheduleRunView {
                job: 42,
                slot_ms: Some(1_700_000_000_000),
                state: JobState::Completed,
                last_outcome: Some(AttemptOutcome::Completed),
                last_error: None,
                created_at_ms: 1_700_000_000_000,
                finished_at_ms: Some(1_700_000_000_900),
            }],
        })),
        Response::ScheduleSaved {
            name: "nightly".into(),
            created: true,
            next_run_at_ms: Some(1_700_000_000_000),
        },
        Response::ScheduleChanged {
            name: "nightly".into(),
            change: ScheduleChange::Enabled,
        },
        Response::ScheduleFired {
            name: "nightly".into(),
            job: 43,
        },
        Response::Error(ControlError {
            code: ErrorCode::NotFound,
            message: "no script named \"poll\"".into(),
        }),
        Response::Error(ControlError {
            code: ErrorCode::Draining,
            message: "the daemon is draining".into(),
        }),
        Response::EnqueuedBatch(vec![
            EnqueuedJob {
                id: 44,
                duplicate: false,
            },
            EnqueuedJob {
                id: 12,
                duplicate: true,
            },
        ]),
        Response::QueueRemoved {
            queue: "mial".into(),
        },
        Response::StateEntries {
            namespace: "poll".into(),
            entries: vec![StateView {
                key: "cursor".into(),
                value: "{\"at\":1}".into(),
                version: 7,
                updated_at_ms: 1_700_000_000_000,
                expires_at_ms: None,
            }],
            more: true,
        },
        Response::State {
            namespace: "poll".into(),
            entry: None,
        },
        Response::StateWritten {
            namespace: "poll".into(),
            key: "cursor".into(),
            version: Some(8),
        },
        Response::Secrets(vec![SecretView {
            name: "TOKEN".into(),
            hosts: vec!["api.example.com".into()],
            expose: false,
            source: "file /etc/jobvisor/secrets/TOKEN".into(),
            bytes: 40,
            granted_to: vec!["poll".into()],
        }]),
    ];
    (requests, responses)
}

/// `msgs` encoded as one stream of frames.
pub fn encode_stream<T: Serialize>(msgs: &[T]) -> Vec<u8> {
    let mut stream = Vec::new();
    for m in msgs {
        encode_frame(m, &mut stream).expect("a sample encodes");
    }
    stream
}

/// Valid worker streams built from [`samples`], each with a short name: every message
/// alone, a worker's conversation (its hello, then every `FromWorker`) and every
/// `ToWorker` in a row.
pub fn worker_streams() -> Vec<(String, Vec<u8>)> {
    let (to, from, hellos) = samples();
    let mut streams = Vec::new();
    for (i, m) in to.iter().enumerate() {
        streams.push((
            format!("to-worker-{i}"),
            encode_stream(std::slice::from_ref(m)),
        ));
    }
    for (i, m) in from.iter().enumerate() {
        streams.push((
            format!("from-worker-{i}"),
            encode_stream(std::slice::from_ref(m)),
        ));
    }
    let mut conversation = encode_stream(&hellos[..1]);
    conversation.extend(encode_stream(&from));
    streams.push(("worker-conversation".into(), conversation));
    streams.push(("to-worker-all".into(), encode_stream(&to)));
    streams
}

/// Valid control streams built from [`control_samples`], each with a short name: a
/// client's hello followed by each request, then by every request in a row; each
/// response alone, and every response in a row.
pub fn control_streams() -> Vec<(String, Vec<u8>)> {
    let (requests, responses) = control_samples();
    let hello = encode_stream(&[Hello::ours(Role::Client)]);
    let mut streams = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let mut stream = hello.clone();
        stream.extend(encode_stream(std::slice::from_ref(r)));
        streams.push((format!("request-{i:02}-{}", request_variant(r)), stream));
    }
    let mut all = hello;
    all.extend(encode_stream(&requests));
    streams.push(("request-all".into(), all));
    for (i, r) in responses.iter().enumerate() {
        let debug = format!("{r:?}");
        let variant: String = debug
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let name = format!("response-{i:02}-{variant}");
        streams.push((name, encode_stream(std::slice::from_ref(r))));
    }
    streams.push(("response-all".into(), encode_stream(&responses)));
    streams
}
