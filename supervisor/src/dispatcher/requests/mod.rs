//! The dispatcher's answers to control requests, one file per family: `jobs` (enqueue,
//! wait, list, show, retry, cancel), `scripts`, `queues`, `schedules` and `status`; drain
//! and restart are the rollout's. Reads run on the blocking pool and writes go through the
//! store's writer; the answer is sent when they are done, by [`Dispatcher::reply_when`] or
//! [`Dispatcher::reply_with`], so the dispatcher loop never waits.

use jobvisor_protocol::control::{ControlError, ErrorCode, Request, Response};
use tokio::sync::oneshot;

use super::{ControlCall, Dispatcher};
use crate::store::{AnyStore, JobId, StoreError};

mod jobs;
mod queues;
pub(super) mod schedules;
mod scripts;
mod state;
mod status;

use schedules::ScheduleChange;

/// Where the answer to one request goes.
pub(super) type Reply = oneshot::Sender<Response>;

impl Dispatcher {
    pub(super) fn on_control(&mut self, call: ControlCall) {
        let reply = call.reply;
        match call.request {
            Request::Status => self.status(reply),
            Request::Enqueue(job) => self.enqueue(job, reply),
            Request::EnqueueBatch(jobs) => self.enqueue_batch(jobs, reply),
            Request::WaitJob { id } => self.wait_job(JobId(id), reply),
            Request::AddScript {
                name,
                source,
                allow_net,
            } => self.add_script(name, source, allow_net, reply),
            Request::ListScripts => self.list_scripts(reply),
            Request::ShowScript { name } => self.show_script(name, reply),
            Request::ListJobs(query) => self.list_jobs(query, reply),
            Request::ShowJob { id } => self.show_job(JobId(id), reply),
            Request::RetryJob { id } => self.retry(JobId(id), false, reply),
            Request::RetryJobLatest { id } => self.retry(JobId(id), true, reply),
            Request::CancelJob { id } => self.cancel(JobId(id), reply),
            Request::ListQueues => self.list_queues(reply),
            Request::SetQueuePaused { queue, paused } => {
                self.set_paused(queue, paused, true, reply);
            }
            Request::PauseQueue {
                queue,
                paused,
                create,
            } => self.set_paused(queue, paused, create, reply),
            Request::RemoveQueue { queue } => self.remove_queue(queue, reply),
            Request::ListState(query) => self.list_state(query, reply),
            Request::GetState { script, key } => self.get_state(script, key, reply),
            Request::SetState(change) => self.set_state(change, reply),
            Request::ListSecrets => self.list_secrets(reply),
            Request::Restart { worker, force } => self.restart_request(worker, force, reply),
            Request::Drain => self.drain_request(reply),
            Request::ListSchedules => self.list_schedules(reply),
            Request::ShowSchedule { name } => self.show_schedule(name, reply),
            Request::AddSchedule(spec) => self.add_schedule(spec, reply),
            Request::SetScheduleEnabled { name, enabled } => {
                let change = if enabled {
                    ScheduleChange::Enable
                } else {
                    ScheduleChange::Disable
                };
                self.change_schedule(name, change, reply);
            }
            Request::RemoveSchedule { name } => {
                self.change_schedule(name, ScheduleChange::Remove, reply)
            }
            Request::RunSchedule { name } => self.run_schedule(name, reply),
            // Streams are served by the control server itself.
            Request::Follow => {
                let _ = reply.send(error(
                    ErrorCode::BadRequest,
                    "follow is served by the control server".into(),
                ));
            }
        }
    }

    /// Answers with `response` once it is ready, on the dispatcher's tracker.
    pub(super) fn reply_with<R>(&self, reply: Reply, response: R)
    where
        R: Future<Output = Response> + Send + 'static,
    {
        self.tasks.spawn(async move {
            let _ = reply.send(response.await);
        });
    }

    /// Answers once the store's reply to `pending` comes: `answer` turns its value into
    /// the response; a store error becomes an error response.
    pub(super) fn reply_when<T, P, A>(&self, reply: Reply, pending: P, answer: A)
    where
        T: Send + 'static,
        P: Future<Output = Result<T, StoreError>> + Send + 'static,
        A: FnOnce(T) -> Response + Send + 'static,
    {
        self.reply_with(reply, async move {
            match pending.await {
                Ok(value) => answer(value),
                Err(err) => store_error(&err),
            }
        });
    }

    /// Runs a read in its own task and answers with it.
    pub(super) fn read<F, Fut>(&self, reply: Reply, f: F)
    where
        F: FnOnce(AnyStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response, StoreError>> + Send + 'static,
    {
        let store = self.store.clone();
        self.reply_when(reply, async move { f(store).await }, |response| response);
    }
}

/// Awaits a store read; a failure comes back as the error response to send.
pub(super) async fn read_or_error<T>(
    read: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, Response> {
    read.await.map_err(|err| store_error(&err))
}

pub(super) fn error(code: ErrorCode, message: String) -> Response {
    Response::Error(ControlError { code, message })
}

pub(super) fn store_error(err: &StoreError) -> Response {
    let code = match err {
        StoreError::UnknownScript { .. } => ErrorCode::NotFound,
        StoreError::PayloadTooLarge { .. }
        | StoreError::InvalidPayload { .. }
        | StoreError::InvalidRequest(_) => ErrorCode::BadRequest,
        StoreError::DiskFull { .. } | StoreError::Busy { .. } => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    };
    error(code, err.to_string())
}
