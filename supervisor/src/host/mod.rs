//! The host service: what a running job may ask of the host, answered under its script's
//! policy. A worker has no network, no files and no clock beyond its timers; every such
//! capability is one [`HostOp`] that the attempt runner (`pool/attempt.rs`) hands here
//! and whose [`HostResult`] it writes back to the worker.
//!
//! This is the one place the ops are decided (fetch, state and secrets join `Echo`
//! here). It never sees frames, counts calls in flight or enforces sizes: the attempt
//! runner does that before a call reaches it. An answer may take time (a fetch); the
//! runner keeps the attempt's deadlines running while it waits.

pub mod secrets;

use jobvisor_protocol::host::{HostErrorKind, HostOp, HostResult};

use crate::store::AttemptRef;

/// Answers host calls. Cheap to clone: each call is answered on a task of its own.
#[derive(Debug, Clone, Default)]
pub struct HostService {}

impl HostService {
    pub fn new() -> HostService {
        HostService {}
    }

    /// The answer to `op`, asked by `attempt`.
    pub async fn answer(&self, attempt: AttemptRef, op: HostOp) -> HostResult {
        match op {
            HostOp::Echo { text } => {
                tracing::trace!(job = attempt.id.0, attempt = attempt.attempt, "host echo");
                HostResult::Value { text }
            }
            _ => HostResult::Refused {
                kind: HostErrorKind::Failed,
                message: "this host call is not available yet".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobId;

    #[tokio::test]
    async fn echo_answers_the_text_it_was_sent() {
        let attempt = AttemptRef {
            id: JobId(1),
            attempt: 1,
            epoch: 0,
        };
        let answer = HostService::new()
            .answer(
                attempt,
                HostOp::Echo {
                    text: "là-bas".to_owned(),
                },
            )
            .await;
        assert_eq!(
            answer,
            HostResult::Value {
                text: "là-bas".to_owned()
            }
        );
    }
}
