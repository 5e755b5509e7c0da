//! Plain data types of the schedule API: a schedule's definition, its stored state, and
//! what firing did. No SQL here, so another store implementation can reuse them.

use std::fmt;
use std::time::Duration;

use crate::{JobId, JobState, OutcomeKind};

use super::spec::Timing;

/// Consecutive failed runs after which a schedule disables itself, unless configured.
pub const DEFAULT_DISABLE_AFTER_FAILURES: u32 = 5;

/// What happens to a slot when an earlier run of the same schedule is still live
/// (scheduled, available, running or retryable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// Do not enqueue; the slot is recorded as skipped. Default.
    #[default]
    Skip,
    /// Enqueue the run *held*: it waits (state `scheduled`, `run_at` =
    /// [`HELD_RUN_AT_MS`]) and is released to `available` in the same transaction that
    /// ends the live run. At most one run is held; further slots are skipped.
    Queue,
    /// Enqueue regardless: runs may overlap.
    Allow,
}

/// `run_at` of a run held back by `OverlapPolicy::Queue`: 9999-12-31T23:59:59.999Z.
pub const HELD_RUN_AT_MS: i64 = 253_402_300_799_999;

/// What happens to slots that passed while the scheduler was not running (or late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUpPolicy {
    /// One run for all missed slots, identified by the latest of them. Default.
    #[default]
    Coalesce,
    /// Run the latest missed slot only if it is less than [`SKIP_LATE_GRACE`] old;
    /// otherwise skip it and wait for the next slot.
    Skip,
}

/// With `CatchUpPolicy::Skip`, how late a slot may still run.
pub const SKIP_LATE_GRACE: Duration = Duration::from_secs(60);

/// Who declared a schedule. Config reconciliation only removes `Config` schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScheduleSource {
    Config,
    #[default]
    Cli,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(OverlapPolicy { Skip => "skip", Queue => "queue", Allow => "allow" });
text_enum!(CatchUpPolicy { Coalesce => "coalesce", Skip => "skip" });
text_enum!(ScheduleSource { Config => "config", Cli => "cli" });

/// A schedule as declared (config file or CLI). Runtime state (enabled, streak, next
/// run, history) is the store's and is not part of the definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDef {
    /// 1..=128 bytes, no whitespace or control characters.
    pub name: String,
    pub script: String,
    /// JSON text; validated like an enqueue payload.
    pub payload: String,
    pub timing: Timing,
    pub queue: String,
    pub priority: i32,
    /// `None`: the store's default timeout.
    pub timeout: Option<Duration>,
    /// `None`: the store's default.
    pub max_attempts: Option<u32>,
    /// Each run is delayed by a deterministic `0..=jitter` (see `spec::jitter_ms`).
    pub jitter: Duration,
    pub overlap: OverlapPolicy,
    pub catch_up: CatchUpPolicy,
    /// 0 = never disable.
    pub disable_after_failures: u32,
    pub source: ScheduleSource,
}

impl ScheduleDef {
    /// A definition with the defaults: payload `{}`, queue `default`, overlap `skip`,
    /// catch-up `coalesce`, disabled after 5 failed runs, source `cli`.
    pub fn new(name: impl Into<String>, script: impl Into<String>, timing: Timing) -> Self {
        Self {
            name: name.into(),
            script: script.into(),
            payload: "{}".into(),
            timing,
            queue: crate::EnqueueRequest::DEFAULT_QUEUE.into(),
            priority: 0,
            timeout: None,
            max_attempts: None,
            jitter: Duration::ZERO,
            overlap: OverlapPolicy::default(),
            catch_up: CatchUpPolicy::default(),
            disable_after_failures: DEFAULT_DISABLE_AFTER_FAILURES,
            source: ScheduleSource::default(),
        }
    }
}

/// What `upsert_schedule` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub created: bool,
    /// The timing changed (or the schedule is new): `next_run_at` was recomputed.
    pub timing_changed: bool,
    pub next_run_at_ms: Option<i64>,
}

/// What `reconcile_config_schedules` did. Names are sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcileReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    /// Config schedules no longer in the config.
    pub removed: Vec<String>,
}

/// A schedule's definition and state, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    pub def: ScheduleDef,
    pub enabled: bool,
    /// Why it is disabled (failures, or an operator).
    pub disabled_reason: Option<String>,
    /// Consecutive runs that ended discarded since the last success (or enable).
    pub failure_streak: u32,
    /// `None` while disabled.
    pub next_run_at_ms: Option<i64>,
    /// The last slot consumed (run or skipped). Slots at or before it never run again.
    pub last_slot_ms: Option<i64>,
    /// When the last run was enqueued (slot or manual).
    pub last_run_at_ms: Option<i64>,
    pub last_job_id: Option<JobId>,
    pub skipped_runs: u64,
    pub last_skip: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One job a schedule enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRun {
    pub job_id: JobId,
    /// `None` for a manual run (`schedules run NAME`).
    pub slot_ms: Option<i64>,
    pub state: JobState,
    pub last_outcome: Option<OutcomeKind>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDetail {
    pub info: ScheduleInfo,
    /// Newest first.
    pub recent_runs: Vec<ScheduleRun>,
}

/// One run enqueued by `fire_due_schedules` or `fire_schedule_now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredRun {
    pub schedule: String,
    pub job_id: JobId,
    /// `None` for a manual run.
    pub slot_ms: Option<i64>,
    /// When the job may start (slot + jitter, or `HELD_RUN_AT_MS` when held).
    pub run_at_ms: i64,
    /// Held behind a live run (`OverlapPolicy::Queue`).
    pub held: bool,
    /// Due slots folded into this run: 1 when on time; counted up to 1000.
    pub coalesced_slots: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A live run exists and the policy is `skip` (or `queue` with one already held).
    Overlap { live_job: JobId },
    /// `CatchUpPolicy::Skip` and the slot is older than the grace.
    Late { late_by_ms: i64 },
    /// The slot is at or before the last slot consumed (the clock went backwards).
    AlreadyConsumed { last_slot_ms: i64 },
    /// A live job with the slot's unique key already exists.
    AlreadyEnqueued { job_id: JobId },
    /// The enqueue itself failed (unknown script, bad payload): counts as a failed run.
    EnqueueFailed { error: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Overlap { live_job } => {
                write!(f, "skipped: run {live_job} of this schedule is still live")
            }
            SkipReason::Late { late_by_ms } => {
                write!(f, "skipped: {late_by_ms} ms late (catch-up policy skip)")
            }
            SkipReason::AlreadyConsumed { last_slot_ms } => write!(
                f,
                "skipped: slot is not after the last slot {last_slot_ms} (clock went back?)"
            ),
            SkipReason::AlreadyEnqueued { job_id } => {
                write!(f, "skipped: job {job_id} already holds this slot")
            }
            SkipReason::EnqueueFailed { error } => write!(f, "enqueue failed: {error}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSlot {
    pub schedule: String,
    pub slot_ms: i64,
    pub reason: SkipReason,
}

/// What one `fire_due_schedules` call did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FireReport {
    pub fired: Vec<FiredRun>,
    pub skipped: Vec<SkippedSlot>,
    /// Schedules disabled during this call (enqueue failures reaching the limit).
    pub disabled: Vec<String>,
    /// The earliest `next_run_at` of an enabled schedule after this call: when to call
    /// again. `None`: no enabled schedule.
    pub next_due_ms: Option<i64>,
}
