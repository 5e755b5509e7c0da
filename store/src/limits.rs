//! Names and bounds shared by the config, the control requests and the store: one rule
//! and one wording for each, so a name or a value is refused with the same words
//! whichever way it came in (a config file, `jobvisor enqueue`, a schedule, the store's
//! API).
//!
//! It must not parse text (that is `units`) nor know where a value came from: the caller
//! says what the value is called.

use std::time::Duration;

use crate::units::format_duration;

/// The longest duration any setting or option reads (100 years). Every duration is
/// bounded, and most settings much lower (see [`MAX_JOB_TIMEOUT`], [`MAX_DELAY`]), so that
/// adding one to a Unix time in milliseconds can never overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);
/// The longest per-attempt timeout: `[jobs] timeout`, `enqueue --timeout`, a schedule's
/// `timeout` and the `timeout_ms` of a control request.
pub const MAX_JOB_TIMEOUT: Duration = Duration::from_secs(30 * 86_400);
/// How far ahead a job may be scheduled (`enqueue --delay` / `--at`), and the longest
/// schedule period and retention: ten years.
pub const MAX_DELAY: Duration = Duration::from_secs(3650 * 86_400);
/// The longest retry backoff (`retry_backoff_base` / `retry_backoff_max`).
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30 * 86_400);
/// The most a schedule may delay a run by (`jitter`).
pub const MAX_SCHEDULE_JITTER: Duration = Duration::from_secs(86_400);
/// The most attempts a job may be given.
pub const MAX_ATTEMPTS: u32 = 1000;
/// The longest script, queue or schedule name, in characters (all ASCII: also bytes).
pub const MAX_NAME_CHARS: usize = 100;

/// What a name names, for the message that refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Script,
    Queue,
    Schedule,
}

impl NameKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Script => "script",
            NameKind::Queue => "queue",
            NameKind::Schedule => "schedule",
        }
    }
}

/// Script, queue and schedule names: 1 to [`MAX_NAME_CHARS`] ASCII letters, digits, `-`,
/// `_` and `.`: short, printable, safe in paths, logs and unique keys.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Refuses a name that breaks [`is_valid_name`], saying what a name may be.
pub fn check_name(kind: NameKind, name: &str) -> Result<(), String> {
    if is_valid_name(name) {
        return Ok(());
    }
    // A long name is cut in the message: the message must not be the problem again.
    let shown: String = name.chars().take(MAX_NAME_CHARS + 1).collect();
    let cut = if shown.len() < name.len() { "..." } else { "" };
    Err(format!(
        "{} name `{shown}{cut}`: use letters, digits, `-`, `_` and `.` (1 to {MAX_NAME_CHARS} characters)",
        kind.as_str()
    ))
}

/// Refuses `value` above `max` with a message naming `what` and the maximum.
pub fn check_at_most(what: &str, value: Duration, max: Duration) -> Result<(), String> {
    if value > max {
        return Err(format!(
            "{what} is {}: at most {} is allowed",
            format_duration(value),
            format_duration(max)
        ));
    }
    Ok(())
}

/// Refuses a job's (or a schedule's) own `max_attempts` outside 1 to [`MAX_ATTEMPTS`].
pub fn check_max_attempts(attempts: u32) -> Result<(), String> {
    if attempts == 0 {
        return Err("max attempts must be at least 1".to_owned());
    }
    if attempts > MAX_ATTEMPTS {
        return Err(format!(
            "max attempts is {attempts}: at most {MAX_ATTEMPTS} is allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_rule_for_scripts_queues_and_schedules() {
        for good in ["a", "hello.js", "poll-crm_2", &"x".repeat(MAX_NAME_CHARS)] {
            assert!(check_name(NameKind::Queue, good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a/b",
            "é",
            "a\n",
            &"x".repeat(MAX_NAME_CHARS + 1),
        ] {
            let err = check_name(NameKind::Schedule, bad).unwrap_err();
            assert!(err.starts_with("schedule name `"), "{err}");
            assert!(err.ends_with("(1 to 100 characters)"), "{err}");
        }
        let err = check_name(NameKind::Script, &"y".repeat(5000)).unwrap_err();
        assert!(err.len() < 300, "{err}");
        assert!(err.contains("..."), "{err}");
    }

    #[test]
    fn attempts_and_durations_say_their_bound() {
        assert_eq!(
            check_max_attempts(0).unwrap_err(),
            "max attempts must be at least 1"
        );
        assert_eq!(
            check_max_attempts(1001).unwrap_err(),
            "max attempts is 1001: at most 1000 is allowed"
        );
        assert!(check_max_attempts(1000).is_ok());
        assert_eq!(
            check_at_most(
                "jitter",
                Duration::from_secs(2 * 86_400),
                MAX_SCHEDULE_JITTER
            )
            .unwrap_err(),
            "jitter is 2d: at most 1d is allowed"
        );
    }
}
