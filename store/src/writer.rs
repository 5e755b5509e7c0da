//! The writer thread: sole owner of the read-write connection. It takes one command,
//! drains whatever else is queued (up to the group-commit cap), runs them all in one
//! `BEGIN IMMEDIATE` transaction with a SAVEPOINT per command, COMMITs, and only then
//! replies to every caller. A command that fails rolls back to its savepoint and does not
//! disturb the others; a failed COMMIT (or an error after which SQLite rolled the whole
//! transaction back) fails every caller of the batch.
//!
//! Must not: reply before COMMIT returned, or run anything outside a transaction except
//! checkpoints.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::StoreOptions;
use super::backoff::Jitter;
use super::error::{StoreError, db_error};
use super::jobs::{PruneDone, PruneStep};
use super::recovery::Orphans;
use super::schema;
use super::types::*;
use crate::effects::{Completed, StateWrite, StateWriteOutcome};
use crate::failpoint;
use crate::schedule::{FireReport, FiredRun, ReconcileReport, ScheduleDef, UpsertOutcome};

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Command {
    AddScript {
        name: String,
        source: String,
        allow_net: Vec<String>,
        reply: Reply<ScriptVersion>,
    },
    EnqueueOne {
        request: EnqueueRequest,
        reply: Reply<EnqueueOutcome>,
    },
    Enqueue {
        requests: Vec<EnqueueRequest>,
        reply: Reply<Vec<EnqueueOutcome>>,
    },
    Claim {
        max: usize,
        reply: Reply<ClaimBatch>,
    },
    Complete {
        completion: Completion,
        reply: Reply<Fenced<Completed>>,
    },
    Fail {
        failure: Failure,
        reply: Reply<Fenced<FailDisposition>>,
    },
    Refund {
        attempt: AttemptRef,
        report: AttemptReport,
        reply: Reply<Fenced<()>>,
    },
    Cancel {
        id: JobId,
        reply: Reply<CancelOutcome>,
    },
    Retry {
        id: JobId,
        latest: bool,
        reply: Reply<RetryOutcome>,
    },
    SetQueuePaused {
        queue: String,
        paused: bool,
        create: bool,
        reply: Reply<bool>,
    },
    RemoveQueue {
        queue: String,
        reply: Reply<QueueRemoval>,
    },
    SetQueueConcurrency {
        queue: String,
        limit: Option<u32>,
        reply: Reply<()>,
    },
    Recover {
        mode: RecoveryMode,
        reply: Reply<RecoveryReport>,
    },
    RequeueExpired {
        reply: Reply<RecoveryReport>,
    },
    RenewLeases {
        owner: Owner,
        until_ms: i64,
        reply: Reply<u64>,
    },
    PruneStep {
        step: PruneStep,
        reply: Reply<PruneDone>,
    },
    Settings {
        reply: Reply<ConnectionSettings>,
    },
    StateSet {
        write: StateWrite,
        reply: Reply<StateWriteOutcome>,
    },
    PruneState {
        now: i64,
        batch: u32,
        reply: Reply<u64>,
    },
    UpsertSchedule {
        def: Box<ScheduleDef>,
        reply: Reply<UpsertOutcome>,
    },
    RemoveSchedule {
        name: String,
        reply: Reply<bool>,
    },
    SetScheduleEnabled {
        name: String,
        enabled: bool,
        reply: Reply<bool>,
    },
    ReconcileSchedules {
        defs: Vec<ScheduleDef>,
        reply: Reply<ReconcileReport>,
    },
    FireDueSchedules {
        reply: Reply<FireReport>,
    },
    FireScheduleNow {
        name: String,
        reply: Reply<Option<FiredRun>>,
    },
    /// Runs outside any transaction.
    Checkpoint {
        truncate: bool,
        reply: Reply<()>,
    },
    /// Finish what is queued before it, then stop.
    Shutdown {
        reply: Option<oneshot::Sender<()>>,
    },
    /// Commands sent together (`WriteBatch`): always in one transaction.
    Group(Vec<Command>),
}

/// Counters the writer keeps for `status` and the benchmark.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) transactions: AtomicU64,
    pub(crate) commands: AtomicU64,
    pub(crate) failed_transactions: AtomicU64,
    /// The error of the last failed transaction, and when it failed. (On a full disk
    /// some transactions still commit, into WAL space already allocated, so a success
    /// does not prove the fault is gone; the failure ages out instead.)
    pub(crate) last_failure: std::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl Counters {
    fn failed(&self, err: &StoreError) {
        self.failed_transactions.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some((err.to_string(), std::time::Instant::now()));
    }
}

impl Command {
    fn runs_alone(&self) -> bool {
        matches!(self, Command::Checkpoint { .. } | Command::Shutdown { .. })
    }

    fn touches_orphans(&self) -> bool {
        matches!(
            self,
            Command::Recover { .. } | Command::RequeueExpired { .. } | Command::Cancel { .. }
        )
    }
}

/// Appends `command` to the batch, unpacking groups (which the cap does not split).
fn push_flat(batch: &mut VecDeque<Command>, command: Command) {
    match command {
        Command::Group(commands) => batch.extend(commands),
        command => batch.push_back(command),
    }
}

/// Delivers one command's reply once the transaction's fate is known: `None` = committed.
type Ack = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// Script versions are immutable once committed; cached by id for the claim path.
#[derive(Debug, Clone)]
pub(crate) struct ScriptRef {
    pub(crate) name: String,
    pub(crate) hash: String,
    pub(crate) allow_net: Vec<String>,
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) path: Arc<Path>,
    pub(crate) epoch: i64,
    /// This node's id (`Owner::node`), stamped on every claim.
    pub(crate) node: String,
    pub(crate) options: StoreOptions,
    /// Filled by reads inside transactions, so cleared whenever anything rolls back.
    pub(crate) scripts: HashMap<i64, ScriptRef>,
    pub(crate) orphans: Orphans,
    pub(crate) jitter: Jitter,
    counters: Arc<Counters>,
    /// What the open transaction did, for the failpoints around its COMMIT.
    marks: Marks,
}

#[derive(Debug, Default, Clone, Copy)]
struct Marks {
    claimed: bool,
    completed: bool,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        path: PathBuf,
        owner: Owner,
        options: StoreOptions,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            conn,
            path: Arc::from(path),
            epoch: owner.epoch,
            node: owner.node.0,
            options,
            scripts: HashMap::new(),
            orphans: Orphans::default(),
            jitter: Jitter::new(),
            counters,
            marks: Marks::default(),
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.options.clock.now_ms()
    }

    /// Maps a rusqlite error for `operation`. Owns its path so that it does not hold a
    /// borrow of the writer.
    pub(crate) fn err(
        &self,
        operation: &'static str,
    ) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
        let path = Arc::clone(&self.path);
        move |err| db_error(&path, operation, err)
    }

    pub(crate) fn run(mut self, commands: mpsc::Receiver<Command>) {
        let cap = self.options.max_commands_per_transaction.max(1);
        let mut held: Option<Command> = None;
        loop {
            let first = match held.take() {
                Some(command) => command,
                None => match commands.recv() {
                    Ok(command) => command,
                    Err(_) => break, // every handle is gone
                },
            };
            if first.runs_alone() {
                if let Command::Shutdown { reply } = first {
                    self.shut_down();
                    if let Some(reply) = reply {
                        let _ = reply.send(());
                    }
                    return;
                }
                self.run_alone(first);
                continue;
            }
            let mut batch = VecDeque::new();
            push_flat(&mut batch, first);
            while batch.len() < cap {
                match commands.try_recv() {
                    Ok(command) if command.runs_alone() => {
                        held = Some(command);
                        break;
                    }
                    Ok(command) => push_flat(&mut batch, command),
                    Err(_) => break,
                }
            }
            self.run_batch(batch);
        }
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Err(err) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(path = %self.path.display(), error = %err, "final checkpoint failed");
        }
    }

    fn run_alone(&mut self, command: Command) {
        if let Command::Checkpoint { truncate, reply } = command {
            let sql = if truncate {
                "PRAGMA wal_checkpoint(TRUNCATE)"
            } else {
                "PRAGMA wal_checkpoint(PASSIVE)"
            };
            let result = self.conn.execute_batch(sql).map_err(self.err("checkpoint"));
            let _ = reply.send(result);
        }
    }

    fn run_batch(&mut self, mut queue: VecDeque<Command>) {
        while !queue.is_empty() {
            let orphans_before = queue
                .iter()
                .any(Command::touches_orphans)
                .then(|| self.orphans.clone());
            if let Err(err) = self
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(self.err("begin"))
            {
                self.counters.failed(&err);
                for command in queue.drain(..) {
                    let (ack, _) = self.refuse(command);
                    ack(Some(err.duplicate()));
                }
                return;
            }
            let mut acks: Vec<Ack> = Vec::with_capacity(queue.len());
            let mut aborted: Option<StoreError> = None;
            while let Some(command) = queue.pop_front() {
                let (ack, failure) = self.execute(command);
                acks.push(ack);
                if failure.is_some() && self.conn.is_autocommit() {
                    // SQLite rolled back the whole transaction (e.g. SQLITE_FULL, IOERR):
                    // the earlier commands of this batch are gone too.
                    aborted = failure;
                    break;
                }
            }
            let marks = std::mem::take(&mut self.marks);
            let fate = match aborted {
                Some(err) => Err(err),
                None => {
                    if marks.claimed {
                        failpoint::hit(failpoint::CLAIM_BEFORE_COMMIT);
                    }
                    if marks.completed {
                        failpoint::hit(failpoint::COMPLETE_BEFORE_COMMIT);
                    }
                    self.conn
                        .execute_batch("COMMIT")
                        .map_err(self.err("commit"))
                }
            };
            self.counters
                .commands
                .fetch_add(acks.len() as u64, Ordering::Relaxed);
            match fate {
                Ok(()) => {
                    self.counters.transactions.fetch_add(1, Ordering::Relaxed);
                    acks.into_iter().for_each(|ack| ack(None));
                }
                Err(err) => {
                    self.counters.failed(&err);
                    if !self.conn.is_autocommit() {
                        let _ = self.conn.execute_batch("ROLLBACK");
                    }
                    self.scripts.clear();
                    if let Some(orphans) = orphans_before {
                        self.orphans = orphans;
                    }
                    tracing::error!(path = %self.path.display(), error = %err, commands = acks.len(), "store transaction failed");
                    acks.into_iter().for_each(|ack| ack(Some(err.duplicate())));
                }
            }
        }
    }

    /// Replies with the commit outcome without running the command.
    fn refuse(&mut self, command: Command) -> (Ack, Option<StoreError>) {
        fn ack<T: Send + 'static>(reply: Reply<T>) -> (Ack, Option<StoreError>) {
            let deliver: Ack = Box::new(move |err: Option<StoreError>| {
                let _ = reply.send(Err(err.unwrap_or(StoreError::Closed)));
            });
            (deliver, None)
        }
        match command {
            Command::AddScript { reply, .. } => ack(reply),
            Command::EnqueueOne { reply, .. } => ack(reply),
            Command::Enqueue { reply, .. } => ack(reply),
            Command::Claim { reply, .. } => ack(reply),
            Command::Complete { reply, .. } => ack(reply),
            Command::Refund { reply, .. } => ack(reply),
            Command::StateSet { reply, .. } => ack(reply),
            Command::PruneState { reply, .. } => ack(reply),
            Command::Fail { reply, .. } => ack(reply),
            Command::Cancel { reply, .. } => ack(reply),
            Command::Retry { reply, .. } => ack(reply),
            Command::SetQueuePaused { reply, .. } => ack(reply),
            Command::RemoveQueue { reply, .. } => ack(reply),
            Command::SetQueueConcurrency { reply, .. } | Command::Checkpoint { reply, .. } => {
                ack(reply)
            }
            Command::Recover { reply, .. } | Command::RequeueExpired { reply } => ack(reply),
            Command::PruneStep { reply, .. } => ack(reply),
            Command::RenewLeases { reply, .. } => ack(reply),
            Command::Settings { reply } => ack(reply),
            Command::UpsertSchedule { reply, .. } => ack(reply),
            Command::RemoveSchedule { reply, .. } | Command::SetScheduleEnabled { reply, .. } => {
                ack(reply)
            }
            Command::ReconcileSchedules { reply, .. } => ack(reply),
            Command::FireDueSchedules { reply } => ack(reply),
            Command::FireScheduleNow { reply, .. } => ack(reply),
            Command::Shutdown { .. } | Command::Group(_) => (Box::new(|_| {}), None),
        }
    }

    fn execute(&mut self, command: Command) -> (Ack, Option<StoreError>) {
        match command {
            Command::AddScript {
                name,
                source,
                allow_net,
                reply,
            } => self.run_command(reply, |w| w.add_script(&name, &source, &allow_net)),
            Command::EnqueueOne { request, reply } => self.run_command(reply, |w| {
                let mut outcomes = w.enqueue(std::slice::from_ref(&request), None)?;
                outcomes
                    .pop()
                    .ok_or_else(|| StoreError::InvalidRequest("empty enqueue".into()))
            }),
            Command::Enqueue { requests, reply } => {
                self.run_command(reply, |w| w.enqueue(&requests, None))
            }
            Command::Claim { max, reply } => self.run_command(reply, |w| {
                let batch = w.claim(max)?;
                w.marks.claimed |= !batch.jobs.is_empty();
                Ok(batch)
            }),
            Command::Complete { completion, reply } => self.run_command(reply, |w| {
                let fate = w.complete(&completion)?;
                w.marks.completed = true;
                Ok(fate)
            }),
            Command::Fail { failure, reply } => self.run_command(reply, |w| w.fail(&failure)),
            Command::Refund {
                attempt,
                report,
                reply,
            } => self.run_command(reply, |w| w.refund(attempt, &report)),
            Command::Cancel { id, reply } => self.run_command(reply, |w| w.cancel(id)),
            Command::Retry { id, latest, reply } => {
                self.run_command(reply, |w| w.retry(id, latest))
            }
            Command::SetQueuePaused {
                queue,
                paused,
                create,
                reply,
            } => self.run_command(reply, |w| w.set_queue_paused(&queue, paused, create)),
            Command::RemoveQueue { queue, reply } => {
                self.run_command(reply, |w| w.remove_queue(&queue))
            }
            Command::SetQueueConcurrency {
                queue,
                limit,
                reply,
            } => self.run_command(reply, |w| w.set_queue_concurrency(&queue, limit)),
            Command::Recover { mode, reply } => self.run_command(reply, |w| w.recover(mode)),
            Command::RequeueExpired { reply } => {
                self.run_command(reply, |w| w.requeue_expired_leases())
            }
            Command::PruneStep { step, reply } => self.run_command(reply, |w| w.prune_step(&step)),
            Command::RenewLeases {
                owner,
                until_ms,
                reply,
            } => self.run_command(reply, |w| w.renew_leases(&owner, until_ms)),
            Command::Settings { reply } => {
                self.run_command(reply, |w| schema::read_settings(&w.path, &w.conn))
            }
            Command::StateSet { write, reply } => self.run_command(reply, |w| w.state_set(&write)),
            Command::PruneState { now, batch, reply } => {
                self.run_command(reply, |w| w.prune_state(now, batch))
            }
            Command::UpsertSchedule { def, reply } => {
                self.run_command(reply, |w| w.upsert_schedule(&def))
            }
            Command::RemoveSchedule { name, reply } => {
                self.run_command(reply, |w| w.remove_schedule(&name))
            }
            Command::SetScheduleEnabled {
                name,
                enabled,
                reply,
            } => self.run_command(reply, |w| w.set_schedule_enabled(&name, enabled)),
            Command::ReconcileSchedules { defs, reply } => {
                self.run_command(reply, |w| w.reconcile_config_schedules(&defs))
            }
            Command::FireDueSchedules { reply } => {
                let mut fired = false;
                let (ack, failure) = self.run_command(reply, |w| {
                    let report = w.fire_due_schedules()?;
                    fired = !report.fired.is_empty();
                    Ok(report)
                });
                if !fired {
                    return (ack, failure);
                }
                let ack: Ack = Box::new(move |commit_error: Option<StoreError>| {
                    if commit_error.is_none() {
                        failpoint::hit(failpoint::FIRE_AFTER_COMMIT);
                    }
                    ack(commit_error);
                });
                (ack, failure)
            }
            Command::FireScheduleNow { name, reply } => {
                self.run_command(reply, |w| w.fire_schedule_now(&name))
            }
            command @ (Command::Checkpoint { .. }
            | Command::Shutdown { .. }
            | Command::Group(_)) => self.refuse(command),
        }
    }

    fn exec_cached(&self, sql: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([]))
            .map(|_| ())
            .map_err(self.err("savepoint"))
    }

    /// Runs `body` inside a SAVEPOINT; on error rolls back to it, leaving the rest of the
    /// transaction intact. Returns the deferred reply and a copy of the error, if any.
    fn run_command<T: Send + 'static>(
        &mut self,
        reply: Reply<T>,
        body: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> (Ack, Option<StoreError>) {
        // Orphans exist only for a short while after a crash and number about the workers.
        let orphans_before = self.orphans.clone();
        // Cached statements: parsing SAVEPOINT/RELEASE for every command was measurable.
        let result = self
            .exec_cached("SAVEPOINT command")
            .and_then(|()| body(self));
        let result = match result {
            Ok(value) => self.exec_cached("RELEASE command").map(|()| value),
            Err(err) => Err(err),
        };
        if result.is_err() {
            if !self.conn.is_autocommit() {
                let _ = self
                    .conn
                    .execute_batch("ROLLBACK TO command; RELEASE command");
            }
            self.scripts.clear();
            self.orphans = orphans_before;
        }
        let failure = result.as_ref().err().map(StoreError::duplicate);
        let ack: Ack = Box::new(move |commit_error: Option<StoreError>| {
            let outcome = match (result, commit_error) {
                (Err(own), _) => Err(own),
                (Ok(_), Some(err)) => Err(err),
                (Ok(value), None) => Ok(value),
            };
            let _ = reply.send(outcome);
        });
        (ack, failure)
    }
}
