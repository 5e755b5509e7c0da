//! Helpers shared by the integration tests: proptest strategies for every message
//! type, a reader that returns short reads, and the decoder oracle (also used by the
//! fuzz target).
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod exercise;

use jobvisor_protocol::worker::{
    ErrorKind, FromWorker, Isolation, JobError, JobLimits, JobStats, LogLevel, Outcome, RunJob,
    ScriptRef, ToWorker,
};
use jobvisor_protocol::{Hello, Role};
use proptest::prelude::*;

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
    (text(), text(), proptest::option::of(text())).prop_map(|(name, hash, source)| ScriptRef {
        name,
        hash,
        source,
    })
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
                    limits,
                    isolation,
                }
            },
        )
}

pub fn to_worker() -> impl Strategy<Value = ToWorker> {
    prop_oneof![run_job().prop_map(ToWorker::Run), Just(ToWorker::Shutdown)]
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
        },
        payload: r#"{"url":"https://example.invalid"}"#.into(),
        deadline_ms: 30_000,
        limits: JobLimits::default(),
        isolation: Isolation::Script,
    };
    let to = vec![
        ToWorker::Run(run.clone()),
        ToWorker::Shutdown,
        ToWorker::Run(RunJob {
            script: ScriptRef {
                source: None,
                ..run.script.clone()
            },
            isolation: Isolation::Job,
            ..run
        }),
    ];
    let from = vec![
        FromWorker::Ready { pid: 4242 },
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
    ];
    let hellos = vec![Hello::ours(Role::Worker), Hello::ours(Role::Supervisor)];
    (to, from, hellos)
}
