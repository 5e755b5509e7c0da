//! Conversions between the store's records, the pool's outcomes and the control
//! protocol's views. The protocol crate knows nothing of the store (and the store nothing
//! of the wire), so each closed set exists on both sides; this is the one place that maps
//! between them, with exhaustive matches so a variant added on one side cannot be missed.

use jobvisor_protocol::control::{
    self as view, AttemptError, AttemptView, ConsoleLine, JobSummary, JobView, QueueView,
    RequestView, ScriptSummary,
};
use jobvisor_protocol::worker::LogLevel;

use crate::pool::slot::SlotState;
use crate::schedule::{OverlapPolicy, ScheduleRun, ScheduleSource};
use crate::store::{
    AttemptInfo, JobDetail, JobInfo, JobState, OutcomeKind, QueueInfo, RequestRecord, ScriptInfo,
};

pub(super) fn job_state(state: JobState) -> view::JobState {
    match state {
        JobState::Scheduled => view::JobState::Scheduled,
        JobState::Available => view::JobState::Available,
        JobState::Running => view::JobState::Running,
        JobState::Retryable => view::JobState::Retryable,
        JobState::Completed => view::JobState::Completed,
        JobState::Discarded => view::JobState::Discarded,
        JobState::Cancelled => view::JobState::Cancelled,
    }
}

/// The store's state a view's state names (a `jobs list --state` filter).
pub(super) fn stored_job_state(state: view::JobState) -> JobState {
    match state {
        view::JobState::Scheduled => JobState::Scheduled,
        view::JobState::Available => JobState::Available,
        view::JobState::Running => JobState::Running,
        view::JobState::Retryable => JobState::Retryable,
        view::JobState::Completed => JobState::Completed,
        view::JobState::Discarded => JobState::Discarded,
        view::JobState::Cancelled => JobState::Cancelled,
    }
}

pub(super) fn outcome(outcome: OutcomeKind) -> view::AttemptOutcome {
    match outcome {
        OutcomeKind::Completed => view::AttemptOutcome::Completed,
        OutcomeKind::JsError => view::AttemptOutcome::JsError,
        OutcomeKind::Timeout => view::AttemptOutcome::Timeout,
        OutcomeKind::Oom => view::AttemptOutcome::Oom,
        OutcomeKind::Crash => view::AttemptOutcome::Crash,
        OutcomeKind::ProtocolError => view::AttemptOutcome::ProtocolError,
        OutcomeKind::Killed => view::AttemptOutcome::Killed,
        OutcomeKind::Interrupted => view::AttemptOutcome::Interrupted,
        OutcomeKind::LeaseExpired => view::AttemptOutcome::LeaseExpired,
        OutcomeKind::SupervisorRestart => view::AttemptOutcome::SupervisorRestart,
    }
}

/// The kind the store records for how an attempt the pool ran ended (the pool knows more
/// detail than the store keeps).
pub(super) fn outcome_kind(outcome: &crate::pool::exit::AttemptOutcome) -> OutcomeKind {
    use crate::pool::exit::AttemptOutcome as Ended;
    match outcome {
        Ended::Completed => OutcomeKind::Completed,
        Ended::JsError => OutcomeKind::JsError,
        Ended::Timeout => OutcomeKind::Timeout,
        Ended::Oom => OutcomeKind::Oom,
        Ended::Crash(_) => OutcomeKind::Crash,
        Ended::ProtocolError(_) => OutcomeKind::ProtocolError,
        Ended::Killed => OutcomeKind::Killed,
    }
}

pub(super) fn overlap(policy: OverlapPolicy) -> view::Overlap {
    match policy {
        OverlapPolicy::Skip => view::Overlap::Skip,
        OverlapPolicy::Queue => view::Overlap::Queue,
        OverlapPolicy::Allow => view::Overlap::Allow,
    }
}

/// Where a schedule's run stands: its state, with the last attempt's outcome once it
/// finished other than that outcome says (`discarded (timeout)`, not `completed (completed)`).
pub(super) fn run_outcome(run: &ScheduleRun) -> view::RunOutcome {
    let state = job_state(run.state);
    let last_attempt = run
        .last_outcome
        .map(outcome)
        .filter(|outcome| run.state.is_finished() && outcome.as_str() != state.as_str());
    view::RunOutcome {
        state,
        last_attempt,
    }
}

pub(super) fn schedule_source(source: ScheduleSource) -> view::ScheduleSource {
    match source {
        ScheduleSource::Config => view::ScheduleSource::Config,
        ScheduleSource::Cli => view::ScheduleSource::Cli,
    }
}

pub(super) fn worker_state(state: SlotState) -> view::WorkerState {
    match state {
        SlotState::Starting => view::WorkerState::Starting,
        SlotState::Idle => view::WorkerState::Idle,
        SlotState::Busy => view::WorkerState::Busy,
        SlotState::Terminating => view::WorkerState::Terminating,
        SlotState::Backoff => view::WorkerState::Backoff,
        SlotState::Exited => view::WorkerState::Exited,
    }
}

pub(super) fn job_summary(job: &JobInfo) -> JobSummary {
    JobSummary {
        id: job.id.0,
        queue: job.queue.clone(),
        script: job.script_name.clone(),
        state: job_state(job.state),
        priority: job.priority,
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        run_at_ms: job.run_at_ms,
        created_at_ms: job.created_at_ms,
        finished_at_ms: job.finished_at_ms,
        last_outcome: job.last_outcome.map(outcome),
        last_error: job.last_error.clone(),
    }
}

pub(super) fn job_view(detail: JobDetail) -> JobView {
    let counted = counted_attempts(&detail);
    JobView {
        summary: job_summary(&detail.job),
        script_hash: detail.job.script_hash.clone(),
        payload: detail.job.payload.clone(),
        result: detail.job.result.clone(),
        unique_key: detail.job.unique_key.clone(),
        timeout_ms: detail
            .job
            .timeout
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        attempts: detail
            .attempts
            .into_iter()
            .zip(counted)
            .map(|(attempt, counted)| attempt_view(attempt, counted))
            .collect(),
        current_script_hash: detail.current_script_hash,
        parent: detail.job.parent.map(|p| p.0),
        children: detail.children.iter().map(|c| c.0).collect(),
    }
}

/// For each attempt row (oldest first), whether it counted. A refunded attempt (a drain
/// interrupted it, or the supervisor died under it) gives its number back: the next row
/// has the same number, or, for the last row, the job's attempt counter is below it.
fn counted_attempts(detail: &JobDetail) -> Vec<bool> {
    let rows = &detail.attempts;
    rows.iter()
        .enumerate()
        .map(|(i, a)| match rows.get(i + 1) {
            Some(next) => next.attempt != a.attempt,
            None => a.attempt <= detail.job.attempt,
        })
        .collect()
}

fn request_view(record: RequestRecord) -> RequestView {
    RequestView {
        method: record.method,
        url: record.url,
        status: record.status,
        bytes_out: record.bytes_out,
        bytes_in: record.bytes_in,
        duration_ms: record.duration_ms,
        redirects: record.redirects,
        error: record.error,
    }
}

fn attempt_view(attempt: AttemptInfo, counted: bool) -> AttemptView {
    AttemptView {
        attempt: attempt.attempt,
        counted,
        outcome: outcome(attempt.outcome),
        worker_pid: attempt.worker_pid,
        started_at_ms: attempt.started_at_ms,
        finished_at_ms: attempt.finished_at_ms,
        duration_ms: attempt.duration_ms,
        cpu_ms: attempt.cpu_ms,
        peak_memory_bytes: attempt.peak_memory_bytes,
        error: attempt.error.map(|error| AttemptError {
            name: error.name,
            message: error.message,
            stack: error.stack,
        }),
        console: console_lines(&attempt.logs),
        console_truncated: attempt.logs_truncated,
        requests: attempt.requests.into_iter().map(request_view).collect(),
    }
}

/// The stored console lines (JSON lines `{"level":"info","text":"…"}`); a line that is
/// not one (written by an older version) is shown as it is, at level info.
fn console_lines(logs: &str) -> Vec<ConsoleLine> {
    #[derive(serde::Deserialize)]
    struct Stored {
        level: Option<LogLevel>,
        text: Option<String>,
    }
    logs.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match serde_json::from_str::<Stored>(line) {
            Ok(stored) => ConsoleLine {
                level: stored.level.unwrap_or(LogLevel::Info),
                text: stored.text.unwrap_or_default(),
            },
            Err(_) => ConsoleLine {
                level: LogLevel::Info,
                text: line.to_owned(),
            },
        })
        .collect()
}

/// One row per script name (its current version), with the number of versions stored.
pub(super) fn script_summaries(scripts: &[ScriptInfo]) -> Vec<ScriptSummary> {
    let mut out: Vec<ScriptSummary> = Vec::new();
    for script in scripts.iter().filter(|s| s.current) {
        out.push(ScriptSummary {
            name: script.name.clone(),
            hash: script.hash.clone(),
            created_at_ms: script.created_at_ms,
            source_bytes: script.source_bytes,
            versions: u32::try_from(scripts.iter().filter(|s| s.name == script.name).count())
                .unwrap_or(u32::MAX),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

pub(super) fn queue_view(queue: QueueInfo) -> QueueView {
    QueueView {
        queue: queue.name,
        paused: queue.paused,
        concurrency: queue.concurrency,
        running: queue.running,
    }
}
