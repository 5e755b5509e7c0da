//! Named crash and sleep points at the state transitions, for the fault-injection tests.
//!
//! Compiled in only with the `failpoints` cargo feature (the end-to-end test crate turns
//! it on; `cargo build --release` never does), and even then honoured only by debug
//! builds, so no environment can make a production binary crash on purpose.
//!
//! `JOBVISOR_FAILPOINT` holds a comma-separated list of `point=action` where action is
//! `sigkill` (SIGKILL to the own process: a crash nothing can intercept), `abort`
//! (`abort(3)`: SIGABRT) or `sleep(MS)` (the thread that reaches the point stalls). An
//! optional `@N` after the point fires it from its N-th hit on (default: the first), e.g.
//! `JOBVISOR_FAILPOINT=complete-before-commit@3=sigkill`.
//!
//! Points, in the order a job passes them:
//! - `claim-before-commit`: a claim took at least one job, its transaction has not
//!   committed (the claim must roll back);
//! - `claim-after-commit`: claimed jobs committed `running`, not yet handed to a worker;
//! - `after-dispatch`: a worker was sent its job;
//! - `result-before-commit`: the worker's result arrived, its completion not yet written;
//! - `complete-before-commit`: a completion is written inside a transaction that has not
//!   committed;
//! - `recovery-mid`: startup recovery released one job of an earlier epoch and its
//!   transaction has not committed;
//! - `schedule-fire-between`: inside a schedule's fire transaction, after the job INSERT
//!   and before the schedule's `next_run_at` UPDATE;
//! - `schedule-fire-after-commit`: right after the COMMIT of a fire that enqueued a job.

pub const ENV: &str = "JOBVISOR_FAILPOINT";

pub const CLAIM_BEFORE_COMMIT: &str = "claim-before-commit";
pub const CLAIM_AFTER_COMMIT: &str = "claim-after-commit";
pub const AFTER_DISPATCH: &str = "after-dispatch";
pub const RESULT_BEFORE_COMMIT: &str = "result-before-commit";
pub const COMPLETE_BEFORE_COMMIT: &str = "complete-before-commit";
pub const RECOVERY_MID: &str = "recovery-mid";
pub const FIRE_BETWEEN: &str = "schedule-fire-between";
pub const FIRE_AFTER_COMMIT: &str = "schedule-fire-after-commit";

/// Every point, for validation of the variable.
pub const POINTS: [&str; 8] = [
    CLAIM_BEFORE_COMMIT,
    CLAIM_AFTER_COMMIT,
    AFTER_DISPATCH,
    RESULT_BEFORE_COMMIT,
    COMPLETE_BEFORE_COMMIT,
    RECOVERY_MID,
    FIRE_BETWEEN,
    FIRE_AFTER_COMMIT,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SigKill,
    Abort,
    Sleep(std::time::Duration),
}

/// One entry of the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failpoint {
    pub point: &'static str,
    /// Fires from this hit on (1 = the first).
    pub from_hit: u64,
    pub action: Action,
}

/// Parses `JOBVISOR_FAILPOINT`; the error names the entry that is wrong.
pub fn parse(spec: &str) -> Result<Vec<Failpoint>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (target, action) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}`: expected POINT=ACTION"))?;
            let (name, from_hit) = match target.split_once('@') {
                Some((name, n)) => (
                    name,
                    n.parse::<u64>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("`{entry}`: `@{n}` is not a hit number"))?,
                ),
                None => (target, 1),
            };
            let point = POINTS.iter().copied().find(|p| *p == name).ok_or_else(|| {
                format!(
                    "`{entry}`: unknown point `{name}` (one of {})",
                    POINTS.join(", ")
                )
            })?;
            let action = match action {
                "sigkill" => Action::SigKill,
                "abort" => Action::Abort,
                other => other
                    .strip_prefix("sleep(")
                    .and_then(|rest| rest.strip_suffix(')'))
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .map(|ms| Action::Sleep(std::time::Duration::from_millis(ms)))
                    .ok_or_else(|| {
                        format!("`{entry}`: unknown action `{other}` (sigkill, abort or sleep(MS))")
                    })?,
            };
            Ok(Failpoint {
                point,
                from_hit,
                action,
            })
        })
        .collect()
}

#[cfg(all(feature = "failpoints", debug_assertions))]
mod active {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{Action, Failpoint};

    struct Armed {
        failpoint: Failpoint,
        hits: AtomicU64,
    }

    fn armed() -> &'static [Armed] {
        static ARMED: OnceLock<Vec<Armed>> = OnceLock::new();
        ARMED.get_or_init(|| {
            let Ok(spec) = std::env::var(super::ENV) else {
                return Vec::new();
            };
            match super::parse(&spec) {
                Ok(failpoints) => failpoints
                    .into_iter()
                    .map(|failpoint| Armed {
                        failpoint,
                        hits: AtomicU64::new(0),
                    })
                    .collect(),
                Err(message) => {
                    // A test that names a point wrongly must not pass by never crashing.
                    eprintln!("jobvisor: {}: {message}", super::ENV);
                    std::process::exit(78);
                }
            }
        })
    }

    pub(crate) fn hit(point: &str) {
        for armed in armed() {
            if armed.failpoint.point != point {
                continue;
            }
            let hit = armed.hits.fetch_add(1, Ordering::Relaxed) + 1;
            if hit < armed.failpoint.from_hit {
                continue;
            }
            tracing::warn!(failpoint = point, hit, action = ?armed.failpoint.action, "failpoint reached");
            match armed.failpoint.action {
                Action::SigKill => {
                    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
                    unsafe {
                        libc::kill(libc::getpid(), libc::SIGKILL);
                    }
                    // SIGKILL cannot be caught; should delivery be late, never run past.
                    std::process::abort();
                }
                Action::Abort => std::process::abort(),
                Action::Sleep(duration) => std::thread::sleep(duration),
            }
        }
    }

    /// Makes a wrong variable fail at startup rather than at the first hit.
    pub(crate) fn arm() -> usize {
        armed().len()
    }
}

/// Acts on `point` if the variable names it (a no-op unless compiled in).
#[inline]
pub fn hit(point: &str) {
    #[cfg(all(feature = "failpoints", debug_assertions))]
    active::hit(point);
    #[cfg(not(all(feature = "failpoints", debug_assertions)))]
    let _ = point;
}

/// Reads the variable once at startup; returns how many failpoints are armed.
pub fn arm() -> usize {
    #[cfg(all(feature = "failpoints", debug_assertions))]
    return active::arm();
    #[cfg(not(all(feature = "failpoints", debug_assertions)))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_with_hit_numbers_and_actions() {
        let parsed =
            parse("claim-before-commit=sigkill, after-dispatch@3=sleep(250),recovery-mid=abort")
                .expect("valid");
        assert_eq!(
            parsed,
            vec![
                Failpoint {
                    point: CLAIM_BEFORE_COMMIT,
                    from_hit: 1,
                    action: Action::SigKill
                },
                Failpoint {
                    point: AFTER_DISPATCH,
                    from_hit: 3,
                    action: Action::Sleep(std::time::Duration::from_millis(250))
                },
                Failpoint {
                    point: RECOVERY_MID,
                    from_hit: 1,
                    action: Action::Abort
                },
            ]
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (spec, needle) in [
            ("claim-before-commit", "expected POINT=ACTION"),
            ("claim-before=sigkill", "unknown point `claim-before`"),
            ("after-dispatch@0=abort", "`@0` is not a hit number"),
            ("after-dispatch=explode", "unknown action `explode`"),
            ("after-dispatch=sleep(x)", "unknown action `sleep(x)`"),
        ] {
            let err = parse(spec).expect_err(spec);
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }
}
