//! Queue requests: list, pause or resume (creating the queue if asked), remove.

use jobvisor_protocol::control::{ErrorCode, Response};

use super::super::Dispatcher;
use super::super::views::queue_view;
use super::{Reply, error, read_or_error, store_error};
use crate::limits::{NameKind, check_name};
use crate::store::{AnyStore, JobStore, QueueRemoval};

impl Dispatcher {
    pub(super) fn list_queues(&mut self, reply: Reply) {
        self.read(reply, |store| async move {
            store
                .list_queues()
                .await
                .map(|q| Response::Queues(q.into_iter().map(queue_view).collect()))
        });
    }

    pub(super) fn set_paused(&mut self, queue: String, paused: bool, create: bool, reply: Reply) {
        if let Err(message) = check_name(NameKind::Queue, &queue) {
            let _ = reply.send(error(ErrorCode::BadRequest, message));
            return;
        }
        let pending = self.store.set_queue_paused(&queue, paused, create);
        if !paused {
            self.claims.wanted = true;
        }
        let store = self.store.clone();
        self.reply_with(reply, async move {
            match pending.await {
                Ok(true) => Response::QueuePaused { queue, paused },
                Ok(false) => unknown_queue(store, queue, " (pass --create to create it)").await,
                Err(err) => store_error(&err),
            }
        });
    }

    pub(super) fn remove_queue(&mut self, queue: String, reply: Reply) {
        let pending = self.store.remove_queue(&queue);
        let store = self.store.clone();
        self.reply_with(reply, async move {
            match pending.await {
                Ok(QueueRemoval::Removed) => Response::QueueRemoved { queue },
                Ok(QueueRemoval::HasJobs(jobs)) => error(
                    ErrorCode::BadRequest,
                    format!(
                        "queue `{queue}` holds {jobs} job{}; only a queue no job was enqueued to can be removed",
                        if jobs == 1 { "" } else { "s" }
                    ),
                ),
                Ok(QueueRemoval::NotFound) => unknown_queue(store, queue, "").await,
                Err(err) => store_error(&err),
            }
        });
    }
}

/// "no queue `x`; existing queues: ..." with the closest name.
async fn unknown_queue(store: AnyStore, queue: String, hint: &str) -> Response {
    match read_or_error(store.list_queues()).await {
        Ok(queues) => {
            let names: Vec<String> = queues.into_iter().map(|q| q.name).collect();
            error(
                ErrorCode::NotFound,
                format!(
                    "no queue `{queue}`{hint}; {}",
                    crate::suggest::known_names("queues", &queue, &names)
                ),
            )
        }
        Err(response) => response,
    }
}
