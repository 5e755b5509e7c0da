//! What the store's test files share: the script every test job runs, the options of a
//! store on a manual clock, and the completion and failure an attempt reports.
#![allow(dead_code)] // each test binary uses a part of it

use std::sync::Arc;

use jobvisor_store::*;

/// The `echo` script: returns its payload.
pub const SCRIPT: &str = "export default async function (payload) { return payload; }";

/// Default options with `clock`.
pub fn options(clock: &Arc<ManualClock>) -> StoreOptions {
    StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    }
}

/// The completion a claimed attempt reports.
pub fn completion(claimed: &ClaimedJob) -> Completion {
    Completion {
        attempt: claimed.attempt_ref(),
        result: Some("{\"ok\":true}".into()),
        report: AttemptReport::default(),
        effects: Default::default(),
    }
}

/// A failure of `kind` with an error, a pid and a log line.
pub fn failure(claimed: &ClaimedJob, kind: OutcomeKind) -> Failure {
    Failure {
        attempt: claimed.attempt_ref(),
        kind,
        error: Some(JobError {
            name: "TypeError".into(),
            message: "boom".into(),
            stack: Some("at x".into()),
        }),
        report: AttemptReport {
            worker_pid: Some(77),
            logs: "log line\n".into(),
            ..AttemptReport::default()
        },
    }
}
