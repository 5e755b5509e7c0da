//! Conversions from the store's records to the control protocol's views. The protocol
//! crate knows nothing of the store; this is the one place that maps between them.

use jobvisor_protocol::control::{AttemptView, JobSummary, JobView, QueueView, ScriptSummary};

use crate::store::{AttemptInfo, JobDetail, JobInfo, QueueInfo, ScriptInfo};

pub(super) fn job_summary(job: &JobInfo) -> JobSummary {
    JobSummary {
        id: job.id.0,
        queue: job.queue.clone(),
        script: job.script_name.clone(),
        state: job.state.as_str().to_owned(),
        priority: job.priority,
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        run_at_ms: job.run_at_ms,
        created_at_ms: job.created_at_ms,
        finished_at_ms: job.finished_at_ms,
        last_outcome: job.last_outcome.map(|o| o.as_str().to_owned()),
        last_error: job.last_error.clone(),
    }
}

pub(super) fn job_view(detail: JobDetail) -> JobView {
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
        attempts: detail.attempts.into_iter().map(attempt_view).collect(),
        current_script_hash: detail.current_script_hash,
    }
}

fn attempt_view(attempt: AttemptInfo) -> AttemptView {
    let (error_name, error_message, error_stack) = match attempt.error {
        Some(error) => (Some(error.name), Some(error.message), error.stack),
        None => (None, None, None),
    };
    AttemptView {
        attempt: attempt.attempt,
        outcome: attempt.outcome.as_str().to_owned(),
        worker_pid: attempt.worker_pid,
        started_at_ms: attempt.started_at_ms,
        finished_at_ms: attempt.finished_at_ms,
        duration_ms: attempt.duration_ms,
        cpu_ms: attempt.cpu_ms,
        peak_memory_bytes: attempt.peak_memory_bytes,
        error_name,
        error_message,
        error_stack,
        logs: attempt.logs,
        logs_truncated: attempt.logs_truncated,
    }
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
