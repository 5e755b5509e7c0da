//! The rules of the job lifecycle as pure functions over facts: what a failed attempt
//! becomes (retry after backoff, discard, cancel), how a queue's `running` counter moves
//! with a state change, how a schedule's failure streak moves when one of its runs ends
//! (and when that disables it), and which held run is released when a run ends.
//!
//! Nothing here reads a clock, a random source or a database: `now` and the jitter are
//! passed in, and the writer of each backend applies the result. So a retry, a streak or
//! a held run behaves the same on every backend.

use crate::backoff;
use crate::types::{BackoffPolicy, FailDisposition, JobId, JobState};

/// What the store knows about a running attempt that just failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureFacts {
    /// The attempt that failed, 1-based.
    pub attempt: u32,
    pub max_attempts: u32,
    /// An operator asked to cancel the job while it ran.
    pub cancel_requested: bool,
    /// The job's own backoff, or the store's default.
    pub backoff: BackoffPolicy,
}

/// A pending cancel wins; then the last allowed attempt discards; otherwise the job is
/// retried after the jittered backoff of this attempt (`jitter` is any random u64).
pub fn decide_failure(facts: &FailureFacts, now_ms: i64, jitter: u64) -> FailDisposition {
    if facts.cancel_requested {
        return FailDisposition::Cancelled;
    }
    if facts.attempt >= facts.max_attempts {
        return FailDisposition::Discarded;
    }
    let delay = backoff::delay_ms(facts.backoff, facts.attempt, jitter);
    FailDisposition::Retry {
        run_at_ms: now_ms.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)),
    }
}

/// The change of the job's queue's `running` counter when the job goes `from` → `to`.
pub fn running_delta(from: JobState, to: JobState) -> i64 {
    match (from == JobState::Running, to == JobState::Running) {
        (false, true) => 1,
        (true, false) => -1,
        _ => 0,
    }
}

/// Whether `from` → `to` ends a run: the job becomes finished and was not before.
pub fn ends_run(from: JobState, to: JobState) -> bool {
    to.is_finished() && !from.is_finished()
}

/// The part of a schedule that the end of one of its runs can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleStreak {
    pub enabled: bool,
    /// Consecutive discarded runs.
    pub failure_streak: u32,
    /// Disable after this many consecutive discarded runs; `None` or 0: never.
    pub max_failures: Option<u32>,
    pub next_run_at_ms: Option<i64>,
    pub disabled_reason: Option<String>,
}

/// How a run of a schedule ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd<'a> {
    Completed,
    /// Discarded, with the run's last error (or, without one, its last outcome).
    Discarded {
        last_error: Option<&'a str>,
    },
    /// An operator's decision: it says nothing about the schedule's health.
    Cancelled,
}

/// A completed run resets the streak; a discarded one extends it and, at the limit,
/// disables the schedule (no next run, a reason naming the streak and the last error);
/// a cancelled run leaves it alone.
pub fn streak_after_run(streak: &ScheduleStreak, end: RunEnd<'_>) -> ScheduleStreak {
    let mut next = streak.clone();
    match end {
        RunEnd::Completed => next.failure_streak = 0,
        RunEnd::Cancelled => {}
        RunEnd::Discarded { last_error } => {
            next.failure_streak = streak.failure_streak.saturating_add(1);
            let limit = streak.max_failures.unwrap_or(0);
            if limit > 0 && next.failure_streak >= limit {
                if streak.enabled {
                    next.disabled_reason = Some(format!(
                        "disabled after {} consecutive failed runs; last error: {}",
                        next.failure_streak,
                        last_error.unwrap_or("unknown")
                    ));
                    next.next_run_at_ms = None;
                }
                next.enabled = false;
            }
        }
    }
    next
}

/// The live runs of a schedule when one of its runs has just ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveRuns {
    /// The oldest run held back by the `queue` overlap policy.
    pub held: Option<JobId>,
    /// Whether any other run is live (scheduled, available, running or retryable) and
    /// not held.
    pub others_live: bool,
}

/// The held run to release, if any: only when no other run is live, so that at most one
/// run of the schedule is ever live apart from the held one.
pub fn held_run_to_release(runs: LiveRuns) -> Option<JobId> {
    if runs.others_live { None } else { runs.held }
}

/// When a released held run may start: when the run it waited for finished (or, for a
/// row without a finish time, that run's own start time).
pub fn released_run_at(finished_at_ms: Option<i64>, ended_run_at_ms: i64) -> i64 {
    finished_at_ms.unwrap_or(ended_run_at_ms)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const POLICY: BackoffPolicy = BackoffPolicy {
        base: Duration::from_millis(1000),
        cap: Duration::from_millis(60_000),
    };

    #[test]
    fn failure_decisions() {
        let facts = |attempt, max_attempts, cancel_requested| FailureFacts {
            attempt,
            max_attempts,
            cancel_requested,
            backoff: POLICY,
        };
        let now = 10_000;
        // (facts, jitter, expected)
        let cases = [
            (
                facts(1, 3, false),
                0,
                FailDisposition::Retry { run_at_ms: 10_500 },
            ),
            (
                facts(1, 3, false),
                500,
                FailDisposition::Retry { run_at_ms: 11_000 },
            ),
            (
                facts(1, 3, false),
                501,
                FailDisposition::Retry { run_at_ms: 10_500 },
            ),
            (
                facts(2, 3, false),
                0,
                FailDisposition::Retry { run_at_ms: 11_000 },
            ),
            (facts(3, 3, false), 0, FailDisposition::Discarded),
            (facts(4, 3, false), 0, FailDisposition::Discarded),
            (facts(1, 3, true), 0, FailDisposition::Cancelled),
            (facts(3, 3, true), 0, FailDisposition::Cancelled),
            (facts(1, 1, false), 0, FailDisposition::Discarded),
            // The cap bounds the delay whatever the attempt.
            (
                facts(40, 100, false),
                0,
                FailDisposition::Retry { run_at_ms: 40_000 },
            ),
        ];
        for (facts, jitter, expected) in cases {
            assert_eq!(
                decide_failure(&facts, now, jitter),
                expected,
                "{facts:?} with jitter {jitter}"
            );
        }
    }

    #[test]
    fn a_retry_time_never_overflows() {
        let facts = FailureFacts {
            attempt: 1,
            max_attempts: 2,
            cancel_requested: false,
            backoff: BackoffPolicy {
                base: Duration::MAX,
                cap: Duration::MAX,
            },
        };
        assert_eq!(
            decide_failure(&facts, i64::MAX - 1, 0),
            FailDisposition::Retry {
                run_at_ms: i64::MAX
            }
        );
    }

    #[test]
    fn running_counter_moves_only_across_running() {
        use JobState::*;
        let cases = [
            (Available, Running, 1),
            (Running, Completed, -1),
            (Running, Retryable, -1),
            (Running, Available, -1),
            (Running, Discarded, -1),
            (Running, Cancelled, -1),
            (Running, Running, 0),
            (Available, Cancelled, 0),
            (Scheduled, Available, 0),
            (Discarded, Available, 0),
        ];
        for (from, to, expected) in cases {
            assert_eq!(running_delta(from, to), expected, "{from} -> {to}");
        }
    }

    #[test]
    fn runs_end_when_the_job_becomes_finished() {
        use JobState::*;
        let cases = [
            (Running, Completed, true),
            (Running, Discarded, true),
            (Available, Cancelled, true),
            (Scheduled, Cancelled, true),
            (Running, Retryable, false),
            (Running, Available, false),
            (Completed, Discarded, false),
            (Cancelled, Cancelled, false),
        ];
        for (from, to, expected) in cases {
            assert_eq!(ends_run(from, to), expected, "{from} -> {to}");
        }
    }

    fn streak(enabled: bool, failure_streak: u32, max_failures: Option<u32>) -> ScheduleStreak {
        ScheduleStreak {
            enabled,
            failure_streak,
            max_failures,
            next_run_at_ms: Some(5_000),
            disabled_reason: None,
        }
    }

    #[test]
    fn streak_rules() {
        let boom = RunEnd::Discarded {
            last_error: Some("Error: boom"),
        };
        let disabled = |streak: u32, error: &str| ScheduleStreak {
            enabled: false,
            failure_streak: streak,
            max_failures: Some(streak),
            next_run_at_ms: None,
            disabled_reason: Some(format!(
                "disabled after {streak} consecutive failed runs; last error: {error}"
            )),
        };
        // (before, end, after)
        let cases = [
            (
                streak(true, 2, Some(3)),
                RunEnd::Completed,
                streak(true, 0, Some(3)),
            ),
            (
                streak(true, 2, Some(3)),
                RunEnd::Cancelled,
                streak(true, 2, Some(3)),
            ),
            (streak(true, 0, Some(3)), boom, streak(true, 1, Some(3))),
            (streak(true, 2, Some(3)), boom, disabled(3, "Error: boom")),
            (
                streak(true, 0, Some(1)),
                RunEnd::Discarded { last_error: None },
                disabled(1, "unknown"),
            ),
            // No limit, or a limit of 0: never disabled.
            (streak(true, 9, None), boom, streak(true, 10, None)),
            (streak(true, 9, Some(0)), boom, streak(true, 10, Some(0))),
            // Already disabled by an operator: the streak grows, the reason stays.
            (streak(false, 5, Some(3)), boom, streak(false, 6, Some(3))),
            (
                streak(false, 5, Some(3)),
                RunEnd::Completed,
                streak(false, 0, Some(3)),
            ),
        ];
        for (before, end, after) in cases {
            assert_eq!(
                streak_after_run(&before, end),
                after,
                "{before:?} + {end:?}"
            );
        }
    }

    #[test]
    fn a_held_run_is_released_only_when_nothing_else_is_live() {
        let held = Some(JobId(7));
        let cases = [
            (
                LiveRuns {
                    held,
                    others_live: false,
                },
                Some(JobId(7)),
            ),
            (
                LiveRuns {
                    held,
                    others_live: true,
                },
                None,
            ),
            (
                LiveRuns {
                    held: None,
                    others_live: false,
                },
                None,
            ),
            (
                LiveRuns {
                    held: None,
                    others_live: true,
                },
                None,
            ),
        ];
        for (runs, expected) in cases {
            assert_eq!(held_run_to_release(runs), expected, "{runs:?}");
        }
        assert_eq!(released_run_at(Some(9), 3), 9);
        assert_eq!(released_run_at(None, 3), 3);
    }
}
