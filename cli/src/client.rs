//! The client side of the control socket, shared by every command that talks to the
//! daemon: connecting (with the hints a failed connection needs) and one typed method per
//! request, which turns the daemon's refusal or an answer that does not fit into a
//! [`ClientError`]. The answers that are no view of their own are small structs here whose
//! `Serialize` is what `--json` prints.

use std::path::Path;
use std::time::Duration;

use jobvisor_protocol::control::{
    DrainReport, EnqueueJob, EnqueuedJob, Event, JobQuery, JobSummary, JobView, QueueView, Request,
    Response, ScheduleChange, ScheduleDetailView, ScheduleSpec, ScheduleView, ScriptSummary,
    ScriptView, SecretView, StateChange, StateListQuery, StateView, StatusReport,
};
use jobvisor_protocol::tokio_io::AsyncTransport;
use jobvisor_protocol::{HandshakeError, HelloError, Role};
use tokio::net::UnixStream;

use crate::args::Target;

use jobvisor_supervisor::control::server::CONTROL_FRAME_MAX;
use jobvisor_supervisor::exit_code;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FRAME_MAX: usize = 64 * 1024 * 1024;

/// A client failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub message: String,
    pub code: u8,
    /// The daemon answered (it refused the request, or answered something that does not
    /// fit it), so the request was not carried out. False when no answer came: a request
    /// that was sent may or may not have been.
    pub answered: bool,
}

impl ClientError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        ClientError {
            message: message.into(),
            code,
            answered: false,
        }
    }

    fn answer(code: u8, message: impl Into<String>) -> Self {
        ClientError {
            answered: true,
            ..ClientError::new(code, message)
        }
    }
}

/// A handshaken connection to the daemon.
pub struct Client {
    transport: AsyncTransport<UnixStream>,
}

impl Client {
    pub async fn connect(target: &Target) -> Result<Client, ClientError> {
        let path = target.socket_path()?;
        Client::connect_path(&path).await
    }

    pub async fn connect_path(path: &Path) -> Result<Client, ClientError> {
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                let hint = match err.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        "is the daemon running? start it with `jobvisor serve`, or point at it with --config or --socket"
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        "the socket belongs to another user: run as the daemon's user"
                    }
                    _ => "check --socket / --config",
                };
                return Err(ClientError::new(
                    exit_code::NOT_RUNNING,
                    format!("cannot connect to {}: {err}; {hint}", path.display()),
                ));
            }
            Err(_) => {
                return Err(ClientError::new(
                    exit_code::NOT_RUNNING,
                    format!("connecting to {} timed out", path.display()),
                ));
            }
        };
        let mut transport = AsyncTransport::with_max_len(stream, FRAME_MAX);
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            transport.handshake(Role::Client, Role::Supervisor),
        )
        .await
        {
            Ok(Ok(_)) => Ok(Client { transport }),
            Ok(Err(HandshakeError::Refused(HelloError::VersionMismatch { peer, ours }))) => {
                Err(ClientError::new(
                    exit_code::FAILURE,
                    format!(
                        "the daemon at {} speaks protocol version {peer} and this jobvisor speaks {ours}: use the jobvisor binary of the same version as the daemon",
                        path.display()
                    ),
                ))
            }
            Ok(Err(HandshakeError::Refused(refused))) => Err(ClientError::new(
                exit_code::FAILURE,
                format!(
                    "{} is not a jobvisor daemon's control socket: {refused}",
                    path.display()
                ),
            )),
            Ok(Err(err)) => Err(ClientError::new(
                exit_code::FAILURE,
                format!(
                    "the daemon at {} closed the connection during the handshake ({err}); {}",
                    path.display(),
                    handshake_hint(path)
                ),
            )),
            Err(_) => Err(ClientError::new(
                exit_code::FAILURE,
                format!(
                    "the daemon at {} did not answer the handshake within {}s; {}",
                    path.display(),
                    CONNECT_TIMEOUT.as_secs(),
                    handshake_hint(path)
                ),
            )),
        }
    }

    /// Sends one request and reads its answer, whatever it is.
    pub async fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        check_request_size(request)?;
        self.transport.send(request).await.map_err(|e| {
            ClientError::new(exit_code::FAILURE, format!("sending the request: {e}"))
        })?;
        match self.transport.recv::<Response>().await {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(ClientError::new(
                exit_code::FAILURE,
                "the daemon closed the connection without answering",
            )),
            Err(e) => Err(ClientError::new(
                exit_code::FAILURE,
                format!("reading the answer: {e}"),
            )),
        }
    }
}

/// The answer a request expects: `$pattern => $value`; the daemon's refusal and any other
/// answer are errors.
macro_rules! expect {
    ($response:expr, $pattern:pat => $value:expr) => {
        match $response {
            $pattern => Ok($value),
            Response::Error(err) => Err(daemon_error(&err)),
            other => Err(unexpected(&other)),
        }
    };
}

/// `enqueue`: the new job's id, or with `duplicate` the id of the job that already had the
/// unique key.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Enqueued {
    pub id: i64,
    pub duplicate: bool,
}

/// `scripts add`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScriptAdded {
    pub name: String,
    pub hash: String,
    /// False when this exact source was already the current version.
    pub created: bool,
}

/// `jobs retry`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Retried {
    pub id: i64,
    pub max_attempts: u32,
    /// The script version the retry runs.
    pub script_hash: String,
    /// The retry switched the job to a newer version than it had.
    pub script_changed: bool,
}

/// `jobs cancel`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Cancelled {
    pub id: i64,
    pub was_running: bool,
}

/// `queues pause|resume`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueuePaused {
    pub queue: String,
    pub paused: bool,
}

/// `state list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatePage {
    pub namespace: String,
    pub entries: Vec<StateView>,
    pub more: bool,
}

/// `state get`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StateKey {
    pub namespace: String,
    pub entry: Option<StateView>,
}

/// `state set|delete`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StateWritten {
    pub namespace: String,
    pub key: String,
    /// `None` after a delete.
    pub version: Option<u64>,
}

/// `queues remove`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueRemoved {
    pub queue: String,
    /// Always true: a queue that could not be removed is an error.
    pub removed: bool,
}

/// `restart`: the workers that were replaced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Restarted {
    pub replaced: Vec<u32>,
}

/// `schedules add`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduleSaved {
    pub name: String,
    pub created: bool,
    pub next_run_at_ms: Option<i64>,
}

/// `schedules enable|disable|remove`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduleChanged {
    pub name: String,
    pub change: ScheduleChange,
}

/// `schedules run`: the job of the run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduleFired {
    pub name: String,
    pub job: i64,
}

/// One method per request.
impl Client {
    pub async fn status(&mut self) -> Result<StatusReport, ClientError> {
        expect!(self.request(&Request::Status).await?, Response::Status(report) => report)
    }

    pub async fn enqueue(&mut self, job: EnqueueJob) -> Result<Enqueued, ClientError> {
        expect!(
            self.request(&Request::Enqueue(job)).await?,
            Response::Enqueued { id, duplicate } => Enqueued { id, duplicate }
        )
    }

    /// All of `jobs` are enqueued in one transaction, or none.
    pub async fn enqueue_batch(
        &mut self,
        jobs: Vec<EnqueueJob>,
    ) -> Result<Vec<EnqueuedJob>, ClientError> {
        expect!(
            self.request(&Request::EnqueueBatch(jobs)).await?,
            Response::EnqueuedBatch(enqueued) => enqueued
        )
    }

    /// The job once it reached a final state.
    pub async fn wait_job(&mut self, id: i64) -> Result<Box<JobView>, ClientError> {
        expect!(self.request(&Request::WaitJob { id }).await?, Response::Job(job) => job)
    }

    pub async fn add_script(
        &mut self,
        name: String,
        source: String,
        allow_net: Vec<String>,
    ) -> Result<ScriptAdded, ClientError> {
        let request = Request::AddScript {
            name,
            source,
            allow_net,
        };
        expect!(
            self.request(&request).await?,
            Response::ScriptAdded { name, hash, created } => ScriptAdded { name, hash, created }
        )
    }

    pub async fn list_scripts(&mut self) -> Result<Vec<ScriptSummary>, ClientError> {
        expect!(self.request(&Request::ListScripts).await?, Response::Scripts(scripts) => scripts)
    }

    pub async fn show_script(&mut self, name: String) -> Result<ScriptView, ClientError> {
        expect!(
            self.request(&Request::ShowScript { name }).await?,
            Response::Script(script) => script
        )
    }

    pub async fn list_jobs(&mut self, query: JobQuery) -> Result<Vec<JobSummary>, ClientError> {
        expect!(self.request(&Request::ListJobs(query)).await?, Response::Jobs(jobs) => jobs)
    }

    pub async fn show_job(&mut self, id: i64) -> Result<Box<JobView>, ClientError> {
        expect!(self.request(&Request::ShowJob { id }).await?, Response::Job(job) => job)
    }

    /// `latest`: switch the job to the current version of its script first.
    pub async fn retry_job(&mut self, id: i64, latest: bool) -> Result<Retried, ClientError> {
        let request = if latest {
            Request::RetryJobLatest { id }
        } else {
            Request::RetryJob { id }
        };
        expect!(
            self.request(&request).await?,
            Response::Retried { id, max_attempts, script_hash, script_changed } => Retried {
                id,
                max_attempts,
                script_hash,
                script_changed,
            }
        )
    }

    pub async fn cancel_job(&mut self, id: i64) -> Result<Cancelled, ClientError> {
        expect!(
            self.request(&Request::CancelJob { id }).await?,
            Response::Cancelled { id, was_running } => Cancelled { id, was_running }
        )
    }

    pub async fn list_queues(&mut self) -> Result<Vec<QueueView>, ClientError> {
        expect!(self.request(&Request::ListQueues).await?, Response::Queues(queues) => queues)
    }

    /// `create`: pause a queue that does not exist yet instead of refusing.
    pub async fn pause_queue(
        &mut self,
        queue: String,
        paused: bool,
        create: bool,
    ) -> Result<QueuePaused, ClientError> {
        expect!(
            self.request(&Request::PauseQueue { queue, paused, create }).await?,
            Response::QueuePaused { queue, paused } => QueuePaused { queue, paused }
        )
    }

    pub async fn remove_queue(&mut self, queue: String) -> Result<QueueRemoved, ClientError> {
        expect!(
            self.request(&Request::RemoveQueue { queue }).await?,
            Response::QueueRemoved { queue } => QueueRemoved { queue, removed: true }
        )
    }

    /// A page of a script's state namespace.
    pub async fn list_state(&mut self, query: StateListQuery) -> Result<StatePage, ClientError> {
        expect!(
            self.request(&Request::ListState(query)).await?,
            Response::StateEntries { namespace, entries, more } => StatePage { namespace, entries, more }
        )
    }

    /// One key of a script's state namespace (`entry` is `None` when it does not exist).
    pub async fn get_state(
        &mut self,
        script: String,
        key: String,
    ) -> Result<StateKey, ClientError> {
        expect!(
            self.request(&Request::GetState { script, key }).await?,
            Response::State { namespace, entry } => StateKey { namespace, entry }
        )
    }

    /// Writes or deletes one key of a script's state namespace.
    pub async fn set_state(&mut self, change: StateChange) -> Result<StateWritten, ClientError> {
        expect!(
            self.request(&Request::SetState(change)).await?,
            Response::StateWritten { namespace, key, version } => StateWritten { namespace, key, version }
        )
    }

    pub async fn list_secrets(&mut self) -> Result<Vec<SecretView>, ClientError> {
        expect!(self.request(&Request::ListSecrets).await?, Response::Secrets(secrets) => secrets)
    }

    /// Replaces one worker (`worker`) or all; answers once they are replaced.
    pub async fn restart(
        &mut self,
        worker: Option<u32>,
        force: bool,
    ) -> Result<Restarted, ClientError> {
        expect!(
            self.request(&Request::Restart { worker, force }).await?,
            Response::Restarting { workers } => Restarted { replaced: workers }
        )
    }

    /// Answers once the drain is complete.
    pub async fn drain(&mut self) -> Result<DrainReport, ClientError> {
        expect!(self.request(&Request::Drain).await?, Response::Drained(report) => report)
    }

    /// Turns this connection into a stream of events: read them with [`Client::next_event`].
    pub async fn follow(&mut self) -> Result<(), ClientError> {
        expect!(self.request(&Request::Follow).await?, Response::Following => ())
    }

    /// The next event of a [`Client::follow`] stream; `None` when the daemon closed it.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ClientError> {
        let frame = self.transport.recv::<Response>().await.map_err(|e| {
            ClientError::new(exit_code::FAILURE, format!("reading from the daemon: {e}"))
        })?;
        match frame {
            None => Ok(None),
            Some(response) => expect!(response, Response::Event(event) => Some(event)),
        }
    }

    pub async fn list_schedules(&mut self) -> Result<Vec<ScheduleView>, ClientError> {
        expect!(
            self.request(&Request::ListSchedules).await?,
            Response::Schedules(schedules) => schedules
        )
    }

    pub async fn show_schedule(
        &mut self,
        name: String,
    ) -> Result<Box<ScheduleDetailView>, ClientError> {
        expect!(
            self.request(&Request::ShowSchedule { name }).await?,
            Response::Schedule(detail) => detail
        )
    }

    pub async fn add_schedule(&mut self, spec: ScheduleSpec) -> Result<ScheduleSaved, ClientError> {
        expect!(
            self.request(&Request::AddSchedule(spec)).await?,
            Response::ScheduleSaved { name, created, next_run_at_ms } => ScheduleSaved {
                name,
                created,
                next_run_at_ms,
            }
        )
    }

    pub async fn set_schedule_enabled(
        &mut self,
        name: String,
        enabled: bool,
    ) -> Result<ScheduleChanged, ClientError> {
        expect!(
            self.request(&Request::SetScheduleEnabled { name, enabled }).await?,
            Response::ScheduleChanged { name, change } => ScheduleChanged { name, change }
        )
    }

    pub async fn remove_schedule(&mut self, name: String) -> Result<ScheduleChanged, ClientError> {
        expect!(
            self.request(&Request::RemoveSchedule { name }).await?,
            Response::ScheduleChanged { name, change } => ScheduleChanged { name, change }
        )
    }

    /// One run now, outside the schedule's slots.
    pub async fn run_schedule(&mut self, name: String) -> Result<ScheduleFired, ClientError> {
        expect!(
            self.request(&Request::RunSchedule { name }).await?,
            Response::ScheduleFired { name, job } => ScheduleFired { name, job }
        )
    }
}

/// Refuses, before anything is sent, a request the daemon's frame cap would make it drop
/// (the connection would close with a bare i/o error instead of an answer).
fn check_request_size(request: &Request) -> Result<(), ClientError> {
    let mut frame = Vec::new();
    let size = match jobvisor_protocol::encode_frame(request, &mut frame) {
        // The frame counts its 4-byte length prefix: a few bytes conservative.
        Ok(()) if frame.len() <= CONTROL_FRAME_MAX => return Ok(()),
        Ok(()) => format!("{} bytes", frame.len()),
        Err(jobvisor_protocol::FrameError::EncodedTooLarge { max }) => {
            format!("more than {max} bytes")
        }
        Err(err) => {
            return Err(ClientError::new(
                exit_code::FAILURE,
                format!("cannot encode the request: {err}"),
            ));
        }
    };
    Err(ClientError::new(
        exit_code::USAGE,
        format!(
            "the request is {size}, above the control socket's limit of {CONTROL_FRAME_MAX} bytes; nothing was sent"
        ),
    ))
}

/// Why a daemon may hang up on (or never greet) a client: it runs as another user and
/// refuses this one, or it is overloaded (it tells a client it has no seat for once the
/// handshake is done, so this is the case where even that did not happen).
fn handshake_hint(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let ours = jobvisor_supervisor::control::server::current_uid();
    match std::fs::metadata(path) {
        Ok(meta) if ours != 0 && meta.uid() != ours => format!(
            "the daemon runs as uid {} and refuses other users (uid {ours}) unless its config's `[control] group` admits them: run as uid {}",
            meta.uid(),
            meta.uid()
        ),
        _ => "the daemon may be overloaded (see its log), or restarting".to_owned(),
    }
}

/// An answer that does not fit the request (a daemon of another version).
pub fn unexpected(response: &Response) -> ClientError {
    ClientError::answer(
        exit_code::FAILURE,
        format!("unexpected answer from the daemon: {response:?}"),
    )
}

/// Runs a client command on a small runtime and maps its error to an exit code.
pub fn run_client<F>(future: F) -> u8
where
    F: Future<Output = Result<u8, ClientError>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("jobvisor: cannot start the runtime: {err}");
            return exit_code::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("jobvisor: {}", err.message);
            err.code
        }
    }
}

/// Turns a daemon-side error into a client error.
pub fn daemon_error(err: &jobvisor_protocol::control::ControlError) -> ClientError {
    use jobvisor_protocol::control::ErrorCode;
    let code = match err.code {
        ErrorCode::BadRequest | ErrorCode::NotFound => exit_code::USAGE,
        ErrorCode::Conflict => exit_code::CONFLICT,
        _ => exit_code::FAILURE,
    };
    ClientError::answer(code, err.message.clone())
}
