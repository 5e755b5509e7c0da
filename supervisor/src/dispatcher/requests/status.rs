//! `status`: the dispatcher's own facts (workers, drain, degraded reasons) filled in at
//! once, the store's counts and size read on the blocking pool.

use std::time::Duration;

use jobvisor_protocol::control::{QueueStatus, Response, StatusReport, WorkerStatus};

use super::super::Dispatcher;
use super::{Reply, read_or_error};
use crate::store::{AnyStore, JobState, JobStore};

/// How long a failed store write keeps `status` degraded.
const STORE_FAILURE_SHOWN_FOR: Duration = Duration::from_secs(10);

impl Dispatcher {
    pub(super) fn status(&mut self, reply: Reply) {
        let report = self.status_skeleton();
        self.reply_with(reply, complete_status(self.store.clone(), report));
    }

    fn status_skeleton(&mut self) -> StatusReport {
        StatusReport {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_ms: u64::try_from(self.info.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            epoch: self.store.epoch(),
            limiter: self.info.limiter.clone(),
            store_path: self.store.location(),
            store_bytes: 0,
            draining: self.rollout.draining(),
            workers: self
                .slots
                .iter()
                .enumerate()
                .map(|(i, s)| WorkerStatus {
                    id: u32::try_from(i).unwrap_or(u32::MAX),
                    pid: s.pid,
                    state: if s.degraded.is_some() {
                        jobvisor_protocol::control::WorkerState::Degraded
                    } else {
                        crate::dispatcher::views::worker_state(s.state)
                    },
                    job: s.job.as_ref().map(|j| j.id.0),
                    jobs_done: s.jobs_done,
                    rss_bytes: s.pid.and_then(rss_bytes),
                    restarts: s.restarts,
                    degraded_reason: s.degraded.clone(),
                })
                .collect(),
            queues: Vec::new(),
            completed_last_minute: self.outcomes.completed_last_minute(),
            degraded: self.degraded_reasons(),
            drain_left_ms: self
                .rollout
                .drain_left()
                .map(|left| u64::try_from(left.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// Reasons `status` reports as degraded; a failed store write counts for
    /// [`STORE_FAILURE_SHOWN_FOR`].
    fn degraded_reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some((message, ago)) = self.store.recent_write_failure(STORE_FAILURE_SHOWN_FOR) {
            reasons.push(format!(
                "store write failed {}s ago: {message}",
                ago.as_secs()
            ));
        }
        let degraded = self.slots.iter().filter(|s| s.degraded.is_some()).count();
        if degraded > 0 {
            reasons.push(format!(
                "{degraded} of {} worker slots degraded (restarting too often)",
                self.slots.len()
            ));
        }
        reasons
    }
}

async fn complete_status(store: AnyStore, mut report: StatusReport) -> Response {
    let counts = match read_or_error(store.counts()).await {
        Ok(counts) => counts,
        Err(response) => return response,
    };
    let bytes = store.disk_usage().await.unwrap_or(0);
    report.store_bytes = bytes;
    report.queues = counts
        .queues
        .into_iter()
        .map(|q| {
            let counts = JobState::ALL
                .iter()
                .map(|state| (crate::dispatcher::views::job_state(*state), q.get(*state)))
                .filter(|(_, n)| *n > 0)
                .collect();
            QueueStatus {
                queue: q.queue,
                paused: q.paused,
                counts,
            }
        })
        .collect();
    Response::Status(report)
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
