//! `[[schedule]]`: the schedules declared in the file, and the same checks for one
//! defined from the CLI (`schedules add`). Owns the turning of an entry into a
//! [`ScheduleDef`] and the check that each names a script that exists.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::scripts::ScriptEntry;
use super::values::HumanDuration;
use crate::limits::{
    MAX_DELAY, MAX_JOB_TIMEOUT, MAX_SCHEDULE_JITTER, NameKind, check_at_most, check_max_attempts,
    check_name,
};
use crate::schedule::{CatchUpPolicy, OverlapPolicy, ScheduleDef, ScheduleSource, Timing};

/// A `[[schedule]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleEntry {
    name: String,
    script: String,
    /// A TOML table, or JSON text.
    payload: Option<toml::Value>,
    every: Option<HumanDuration>,
    cron: Option<String>,
    timezone: Option<String>,
    queue: Option<String>,
    priority: Option<i32>,
    timeout: Option<HumanDuration>,
    max_attempts: Option<u32>,
    jitter: Option<HumanDuration>,
    overlap: Option<String>,
    catch_up: Option<String>,
    disable_after_failures: Option<u32>,
}

/// `#[serde(deserialize_with)]` of the `[[schedule]]` list: each entry becomes a
/// definition as it is read, so an error points at its entry in the file.
pub(crate) fn deserialize_entries<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ScheduleDef>, D::Error> {
    Vec::<ScheduleEntry>::deserialize(d)?
        .into_iter()
        .map(|entry| schedule_def(entry).map_err(serde::de::Error::custom))
        .collect()
}

/// Refuses a schedule declared twice.
pub(crate) fn validate(schedules: &[ScheduleDef]) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for schedule in schedules {
        if !seen.insert(&schedule.name) {
            return Err(ConfigError::Invalid(format!(
                "schedule `{}` is declared twice",
                schedule.name
            )));
        }
    }
    Ok(())
}

/// Refuses a `[[schedule]]` whose script is neither a `[[script]]` entry nor among
/// `registered` (scripts already in the store), naming those there are.
pub(crate) fn check_scripts(
    schedules: &[ScheduleDef],
    scripts: &[ScriptEntry],
    registered: &[String],
) -> Result<(), ConfigError> {
    let mut known: Vec<&str> = scripts
        .iter()
        .map(|s| s.name.as_str())
        .chain(registered.iter().map(String::as_str))
        .collect();
    known.sort_unstable();
    known.dedup();
    for schedule in schedules {
        if known.contains(&schedule.script.as_str()) {
            continue;
        }
        let known = if known.is_empty() {
            "there are no scripts: declare it in a [[script]] entry".to_owned()
        } else {
            let suggestion = crate::suggest::closest(&schedule.script, known.iter().copied())
                .map(|name| format!(" (did you mean `{name}`?)"))
                .unwrap_or_default();
            format!("the scripts are {}{suggestion}", known.join(", "))
        };
        return Err(ConfigError::UnknownScript {
            schedule: schedule.name.clone(),
            script: schedule.script.clone(),
            known,
        });
    }
    Ok(())
}

/// A schedule defined from the CLI (`schedules add`), checked exactly like a
/// `[[schedule]]` entry.
pub fn schedule_def_from_spec(
    spec: &jobvisor_protocol::control::ScheduleSpec,
) -> Result<ScheduleDef, String> {
    let ms = |v: Option<u64>| v.map(|ms| HumanDuration(Duration::from_millis(ms)));
    let raw = ScheduleEntry {
        name: spec.name.clone(),
        script: spec.script.clone(),
        payload: spec.payload.clone().map(toml::Value::String),
        every: ms(spec.every_ms),
        cron: spec.cron.clone(),
        timezone: spec.timezone.clone(),
        queue: spec.queue.clone(),
        priority: spec.priority,
        timeout: ms(spec.timeout_ms),
        max_attempts: spec.max_attempts,
        jitter: ms(spec.jitter_ms),
        overlap: spec.overlap.clone(),
        catch_up: spec.catch_up.clone(),
        disable_after_failures: spec.disable_after_failures,
    };
    let mut def = schedule_def(raw)?;
    def.source = ScheduleSource::Cli;
    Ok(def)
}

/// Turns a `[[schedule]]` entry into a definition, naming the schedule in every error.
fn schedule_def(raw: ScheduleEntry) -> Result<ScheduleDef, String> {
    let invalid = |m: String| format!("schedule `{}`: {m}", raw.name);
    check_name(NameKind::Schedule, &raw.name).map_err(invalid)?;
    let timing = match (&raw.every, &raw.cron) {
        (Some(_), Some(_)) => return Err(invalid("give `every` or `cron`, not both".into())),
        (None, Some(expr)) => {
            Timing::cron(expr, raw.timezone.as_deref()).map_err(|e| invalid(e.to_string()))?
        }
        (every, None) => {
            if raw.timezone.is_some() {
                return Err(invalid(
                    "`timezone` only applies to `cron` schedules".into(),
                ));
            }
            let period = every.map_or(Duration::from_secs(60), |d| d.0);
            check_at_most("every", period, MAX_DELAY).map_err(invalid)?;
            Timing::every(period).map_err(|e| invalid(e.to_string()))?
        }
    };
    let payload = match &raw.payload {
        None => "{}".to_owned(),
        Some(toml::Value::String(text)) => {
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| invalid(format!("payload is not valid JSON: {e}")))?;
            text.clone()
        }
        Some(value) => {
            serde_json::to_string(value).map_err(|e| invalid(format!("payload: {e}")))?
        }
    };
    let overlap = match raw.overlap.as_deref() {
        None => OverlapPolicy::default(),
        Some(text) => OverlapPolicy::parse(text).ok_or_else(|| {
            invalid(format!(
                "overlap = \"{text}\": use \"skip\", \"queue\" or \"allow\""
            ))
        })?,
    };
    let catch_up = match raw.catch_up.as_deref() {
        None => CatchUpPolicy::default(),
        Some(text) => CatchUpPolicy::parse(text).ok_or_else(|| {
            invalid(format!(
                "catch_up = \"{text}\": use \"coalesce\" or \"skip\""
            ))
        })?,
    };
    if raw.timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(invalid("timeout must be more than 0s".into()));
    }
    if let Some(timeout) = raw.timeout {
        check_at_most("timeout", timeout.0, MAX_JOB_TIMEOUT).map_err(invalid)?;
    }
    if let Some(jitter) = raw.jitter {
        check_at_most("jitter", jitter.0, MAX_SCHEDULE_JITTER).map_err(invalid)?;
    }
    if let Some(n) = raw.max_attempts {
        check_max_attempts(n).map_err(invalid)?;
    }
    let queue = raw
        .queue
        .clone()
        .unwrap_or_else(|| crate::store::EnqueueRequest::DEFAULT_QUEUE.to_owned());
    check_name(NameKind::Queue, &queue).map_err(invalid)?;
    let mut def = ScheduleDef::new(raw.name.clone(), raw.script.clone(), timing);
    def.payload = payload;
    def.queue = queue;
    def.priority = raw.priority.unwrap_or(0);
    def.timeout = raw.timeout.map(|t| t.0);
    def.max_attempts = raw.max_attempts;
    def.jitter = raw.jitter.map_or(Duration::ZERO, |j| j.0);
    def.overlap = overlap;
    def.catch_up = catch_up;
    if let Some(n) = raw.disable_after_failures {
        def.disable_after_failures = n;
    }
    def.source = ScheduleSource::Config;
    Ok(def)
}
