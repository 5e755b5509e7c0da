//! The daemon's configuration: a TOML file in which every key is optional, unknown keys
//! are errors that name the key, durations read like `"30s"` and sizes like `"256MiB"`.
//!
//! This module owns parsing, defaults and validation. It must not act on the values: no
//! directory is created and no file other than the config and `[[script]]` sources read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cgroup::LimiterChoice;
use crate::schedule::{CatchUpPolicy, OverlapPolicy, ScheduleDef, ScheduleSource, Timing};
use crate::store::Synchronous;
use crate::units::{
    MAX_ATTEMPTS, MAX_DELAY, MAX_JOB_TIMEOUT, MAX_RETRY_BACKOFF, check_at_most, format_duration,
    format_size, parse_duration, parse_size,
};

/// The largest `payload_limit`: a payload must fit one control request (with room for the
/// rest of the request) or it could never be enqueued.
pub const MAX_PAYLOAD_LIMIT: u64 = 7 << 20;
/// The largest `result_limit`: a result must fit one worker frame, next to its logs.
pub const MAX_RESULT_LIMIT: u64 = 12 << 20;
const _: () =
    assert!(MAX_PAYLOAD_LIMIT + (1 << 20) <= crate::control::server::CONTROL_FRAME_MAX as u64);
const _: () =
    assert!(MAX_RESULT_LIMIT + (1 << 20) <= crate::pool::connection::WORKER_FRAME_MAX as u64);

/// `kill_grace` when the config does not say: how long past a job's timeout its worker may
/// take to stop the job itself before it is killed (also `jobvisor run`'s).
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_millis(250);
/// `worker_start_timeout` when the config does not say (also `jobvisor run`'s).
pub const DEFAULT_WORKER_START_TIMEOUT: Duration = Duration::from_secs(10);

const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Why the configuration is unusable. Exit code 78 (EX_CONFIG): restarting will not help.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: {0}")]
    Invalid(String),
    #[error("config: script `{name}`: cannot read {path}: {source}")]
    ScriptRead {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config: script `{name}` ({path}) was refused: {problem}")]
    ScriptRefused {
        name: String,
        path: PathBuf,
        problem: String,
    },
    #[error("config: schedule `{schedule}` runs script `{script}`, which does not exist; {known}")]
    UnknownScript {
        schedule: String,
        script: String,
        /// The scripts there are, with the closest name.
        known: String,
    },
}

/// A duration written as text in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// A size written as text (`"256MiB"`) or as a plain byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanSize(pub u64);

impl<'de> Deserialize<'de> for HumanSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(HumanSize(n)),
            Raw::Text(text) => parse_size(&text)
                .map(HumanSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationSetting {
    #[default]
    Script,
    Job,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncSetting {
    #[default]
    Full,
    Normal,
}

/// A script registered at start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEntry {
    pub name: String,
    /// Relative paths are relative to the config file's directory.
    pub path: PathBuf,
}

/// The file as written; everything optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: Option<PathBuf>,
    run_dir: Option<PathBuf>,
    workers: Option<u32>,
    isolation: Option<IsolationSetting>,
    job_timeout: Option<HumanDuration>,
    max_attempts: Option<u32>,
    memory_limit: Option<HumanSize>,
    memory_limiter: Option<LimiterChoice>,
    max_jobs_per_worker: Option<u64>,
    worker_rss_soft_limit: Option<HumanSize>,
    worker_start_timeout: Option<HumanDuration>,
    drain_timeout: Option<HumanDuration>,
    kill_grace: Option<HumanDuration>,
    restart_backoff_min: Option<HumanDuration>,
    restart_backoff_max: Option<HumanDuration>,
    restart_intensity_max: Option<u32>,
    restart_intensity_window: Option<HumanDuration>,
    retry_backoff_base: Option<HumanDuration>,
    retry_backoff_max: Option<HumanDuration>,
    retention_completed: Option<HumanDuration>,
    retention_discarded: Option<HumanDuration>,
    payload_limit: Option<HumanSize>,
    result_limit: Option<HumanSize>,
    log_format: Option<LogFormat>,
    synchronous: Option<SyncSetting>,
    control_group: Option<String>,
    control_request_timeout: Option<HumanDuration>,
    #[serde(default, rename = "script")]
    scripts: Vec<ScriptEntry>,
    #[serde(default, rename = "schedule")]
    schedules: Vec<RawSchedule>,
}

/// A `[[schedule]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
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

/// The effective configuration, defaults filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the config was read from (None: embedded defaults).
    pub source: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub run_dir: PathBuf,
    pub workers: u32,
    pub isolation: IsolationSetting,
    pub job_timeout: Duration,
    pub max_attempts: u32,
    pub memory_limit: u64,
    pub memory_limiter: LimiterChoice,
    pub max_jobs_per_worker: u64,
    pub worker_rss_soft_limit: u64,
    pub worker_start_timeout: Duration,
    pub drain_timeout: Duration,
    pub kill_grace: Duration,
    pub restart_backoff_min: Duration,
    pub restart_backoff_max: Duration,
    pub restart_intensity_max: u32,
    pub restart_intensity_window: Duration,
    pub retry_backoff_base: Duration,
    pub retry_backoff_max: Duration,
    pub retention_completed: Duration,
    pub retention_discarded: Duration,
    pub payload_limit: u64,
    pub result_limit: u64,
    pub log_format: LogFormat,
    pub synchronous: SyncSetting,
    /// Members of this group may use the control socket too.
    pub control_group: Option<String>,
    /// A control request that answers at once (status, list, show, enqueue) fails when the
    /// daemon has not answered it within this; drain, restart and wait have no limit.
    pub control_request_timeout: Duration,
    pub scripts: Vec<ScriptEntry>,
    /// `[[schedule]]` entries, reconciled with the store by name at start.
    pub schedules: Vec<ScheduleDef>,
}

impl Config {
    /// Reads and validates a config file. Relative paths in it (`state_dir`, `run_dir`,
    /// script paths) are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::parse_relative_to(&text, Some(base)).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// The embedded defaults (`jobvisor serve` with no config file).
    pub fn embedded() -> Config {
        match Config::parse("") {
            Ok(config) => config,
            Err(err) => unreachable!("the empty config is valid: {err}"),
        }
    }

    /// Parses config text; relative paths stay relative to the working directory.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_relative_to(text, None)
    }

    fn parse_relative_to(text: &str, base: Option<&Path>) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<config>"),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let resolve = |p: PathBuf| match base {
            Some(base) if p.is_relative() => base.join(p),
            _ => p,
        };
        let state_dir = raw.state_dir.map(resolve).unwrap_or_else(default_state_dir);
        let run_dir = raw
            .run_dir
            .map(resolve)
            .unwrap_or_else(|| default_run_dir(&state_dir));
        let scripts = raw
            .scripts
            .into_iter()
            .map(|entry| ScriptEntry {
                path: resolve(entry.path),
                ..entry
            })
            .collect();
        let workers = raw.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, |n| u32::try_from(n.get()).unwrap_or(2))
        });
        let duration = |d: Option<HumanDuration>, default: Duration| d.map_or(default, |d| d.0);
        let config = Config {
            source: None,
            state_dir,
            run_dir,
            workers,
            isolation: raw.isolation.unwrap_or_default(),
            job_timeout: duration(raw.job_timeout, Duration::from_secs(30)),
            max_attempts: raw.max_attempts.unwrap_or(3),
            memory_limit: raw.memory_limit.map_or(256 << 20, |s| s.0),
            memory_limiter: raw.memory_limiter.unwrap_or_default(),
            max_jobs_per_worker: raw.max_jobs_per_worker.unwrap_or(100_000),
            worker_rss_soft_limit: raw.worker_rss_soft_limit.map_or(192 << 20, |s| s.0),
            worker_start_timeout: duration(raw.worker_start_timeout, DEFAULT_WORKER_START_TIMEOUT),
            drain_timeout: duration(raw.drain_timeout, Duration::from_secs(30)),
            kill_grace: duration(raw.kill_grace, DEFAULT_KILL_GRACE),
            restart_backoff_min: duration(raw.restart_backoff_min, Duration::from_millis(50)),
            restart_backoff_max: duration(raw.restart_backoff_max, Duration::from_secs(30)),
            restart_intensity_max: raw.restart_intensity_max.unwrap_or(5),
            restart_intensity_window: duration(
                raw.restart_intensity_window,
                Duration::from_secs(60),
            ),
            retry_backoff_base: duration(raw.retry_backoff_base, Duration::from_secs(1)),
            retry_backoff_max: duration(raw.retry_backoff_max, Duration::from_secs(3600)),
            retention_completed: duration(raw.retention_completed, Duration::from_secs(7 * 86_400)),
            retention_discarded: duration(
                raw.retention_discarded,
                Duration::from_secs(30 * 86_400),
            ),
            payload_limit: raw.payload_limit.map_or(1 << 20, |s| s.0),
            result_limit: raw.result_limit.map_or(4 << 20, |s| s.0),
            log_format: raw.log_format.unwrap_or_default(),
            synchronous: raw.synchronous.unwrap_or_default(),
            control_group: raw.control_group,
            control_request_timeout: duration(raw.control_request_timeout, Duration::from_secs(30)),
            scripts,
            schedules: raw
                .schedules
                .into_iter()
                .map(schedule_def)
                .collect::<Result<_, _>>()?,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        self.check_bounds().map_err(ConfigError::Invalid)?;
        if self.restart_backoff_min > self.restart_backoff_max {
            return invalid("restart_backoff_min is above restart_backoff_max".to_owned());
        }
        if self.retry_backoff_base > self.retry_backoff_max {
            return invalid("retry_backoff_base is above retry_backoff_max".to_owned());
        }
        let mut seen = std::collections::HashSet::new();
        for script in &self.scripts {
            if !valid_name(&script.name) {
                return invalid(format!(
                    "script name `{}`: use letters, digits, `-`, `_` and `.` (1 to 100 characters)",
                    script.name
                ));
            }
            if !seen.insert(&script.name) {
                return invalid(format!("script `{}` is declared twice", script.name));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for schedule in &self.schedules {
            if !seen.insert(&schedule.name) {
                return invalid(format!("schedule `{}` is declared twice", schedule.name));
            }
        }
        Ok(())
    }

    /// Every duration, size and count against its documented range (docs/configuration.md):
    /// a value that would disable the daemon (`payload_limit = 0`, `worker_start_timeout
    /// = "0s"`) or overflow the times computed from it is refused, naming the key.
    fn check_bounds(&self) -> Result<(), String> {
        let durations = [
            ("job_timeout", self.job_timeout, MS, MAX_JOB_TIMEOUT),
            (
                "worker_start_timeout",
                self.worker_start_timeout,
                Duration::from_millis(100),
                Duration::from_secs(600),
            ),
            ("drain_timeout", self.drain_timeout, Duration::ZERO, DAY),
            (
                "control_request_timeout",
                self.control_request_timeout,
                Duration::from_millis(100),
                HOUR,
            ),
            (
                "kill_grace",
                self.kill_grace,
                Duration::ZERO,
                Duration::from_secs(60),
            ),
            (
                "restart_backoff_min",
                self.restart_backoff_min,
                Duration::ZERO,
                HOUR,
            ),
            ("restart_backoff_max", self.restart_backoff_max, MS, HOUR),
            (
                "restart_intensity_window",
                self.restart_intensity_window,
                Duration::from_secs(1),
                DAY,
            ),
            (
                "retry_backoff_base",
                self.retry_backoff_base,
                Duration::ZERO,
                MAX_RETRY_BACKOFF,
            ),
            (
                "retry_backoff_max",
                self.retry_backoff_max,
                MS,
                MAX_RETRY_BACKOFF,
            ),
            (
                "retention_completed",
                self.retention_completed,
                Duration::ZERO,
                MAX_DELAY,
            ),
            (
                "retention_discarded",
                self.retention_discarded,
                Duration::ZERO,
                MAX_DELAY,
            ),
        ];
        for (key, value, min, max) in durations {
            if value < min || value > max {
                return Err(format!(
                    "{key} = \"{}\": must be between {} and {}",
                    format_duration(value),
                    format_duration(min),
                    format_duration(max)
                ));
            }
        }
        let sizes = [
            ("memory_limit", self.memory_limit, 16 << 20, 1 << 40),
            (
                "worker_rss_soft_limit",
                self.worker_rss_soft_limit,
                1 << 20,
                1 << 40,
            ),
            (
                "payload_limit",
                self.payload_limit,
                1 << 10,
                MAX_PAYLOAD_LIMIT,
            ),
            ("result_limit", self.result_limit, 1 << 10, MAX_RESULT_LIMIT),
        ];
        for (key, value, min, max) in sizes {
            if value < min || value > max {
                return Err(format!(
                    "{key} = {value} bytes: must be between {} and {}",
                    format_size(min),
                    format_size(max)
                ));
            }
        }
        let counts = [
            ("workers", u64::from(self.workers), 1, 1024),
            (
                "max_attempts",
                u64::from(self.max_attempts),
                1,
                u64::from(MAX_ATTEMPTS),
            ),
            ("max_jobs_per_worker", self.max_jobs_per_worker, 1, u64::MAX),
            (
                "restart_intensity_max",
                u64::from(self.restart_intensity_max),
                1,
                1_000_000,
            ),
        ];
        for (key, value, min, max) in counts {
            if value < min || value > max {
                return Err(format!("{key} = {value}: must be between {min} and {max}"));
            }
        }
        Ok(())
    }

    /// Reads the source of every `[[script]]` entry.
    pub fn read_scripts(&self) -> Result<Vec<(String, String)>, ConfigError> {
        self.scripts
            .iter()
            .map(|entry| {
                std::fs::read_to_string(&entry.path)
                    .map(|source| (entry.name.clone(), source))
                    .map_err(|source| ConfigError::ScriptRead {
                        name: entry.name.clone(),
                        path: entry.path.clone(),
                        source,
                    })
            })
            .collect()
    }

    /// Refuses a `[[schedule]]` whose script is neither a `[[script]]` entry nor among
    /// `registered` (scripts already in the store), naming those there are.
    pub fn check_schedule_scripts(&self, registered: &[String]) -> Result<(), ConfigError> {
        let mut known: Vec<&str> = self
            .scripts
            .iter()
            .map(|s| s.name.as_str())
            .chain(registered.iter().map(String::as_str))
            .collect();
        known.sort_unstable();
        known.dedup();
        for schedule in &self.schedules {
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

    /// The gid of `control_group`, if set.
    pub fn control_gid(&self) -> Result<Option<u32>, ConfigError> {
        let Some(name) = &self.control_group else {
            return Ok(None);
        };
        group_id(name).map(Some).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "control_group = \"{name}\": no such group on this host"
            ))
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.state_dir.join("jobvisor.db")
    }

    pub fn control_socket_path(&self) -> PathBuf {
        self.run_dir.join("control.sock")
    }

    pub fn store_synchronous(&self) -> Synchronous {
        match self.synchronous {
            SyncSetting::Full => Synchronous::Full,
            SyncSetting::Normal => Synchronous::Normal,
        }
    }
}

/// A schedule defined from the CLI (`schedules add`), checked exactly like a
/// `[[schedule]]` entry.
pub fn schedule_def_from_spec(
    spec: &jobvisor_protocol::control::ScheduleSpec,
) -> Result<ScheduleDef, String> {
    let ms = |v: Option<u64>| v.map(|ms| HumanDuration(Duration::from_millis(ms)));
    let raw = RawSchedule {
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
    let mut def = schedule_def(raw).map_err(|e| match e {
        ConfigError::Invalid(message) => message,
        other => other.to_string(),
    })?;
    def.source = ScheduleSource::Cli;
    Ok(def)
}

/// The most a schedule may delay a run by (`jitter`).
const MAX_SCHEDULE_JITTER: Duration = Duration::from_secs(86_400);

/// Turns a `[[schedule]]` entry into a definition, naming the schedule in every error.
fn schedule_def(raw: RawSchedule) -> Result<ScheduleDef, ConfigError> {
    let invalid = |m: String| ConfigError::Invalid(format!("schedule `{}`: {m}", raw.name));
    if !valid_name(&raw.name) {
        return Err(invalid(
            "use letters, digits, `-`, `_` and `.` in the name (1 to 100 characters)".into(),
        ));
    }
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
    if raw.max_attempts == Some(0) {
        return Err(invalid("max_attempts must be at least 1".into()));
    }
    if raw.timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(invalid("timeout must be more than 0s".into()));
    }
    if let Some(timeout) = raw.timeout {
        check_at_most("timeout", timeout.0, MAX_JOB_TIMEOUT).map_err(invalid)?;
    }
    if let Some(jitter) = raw.jitter {
        check_at_most("jitter", jitter.0, MAX_SCHEDULE_JITTER).map_err(invalid)?;
    }
    if raw.max_attempts.is_some_and(|n| n > MAX_ATTEMPTS) {
        return Err(invalid(format!(
            "max_attempts must be at most {MAX_ATTEMPTS}"
        )));
    }
    let queue = raw
        .queue
        .clone()
        .unwrap_or_else(|| crate::store::EnqueueRequest::DEFAULT_QUEUE.to_owned());
    if !valid_name(&queue) {
        return Err(invalid(format!(
            "queue name `{queue}`: use letters, digits, `-`, `_` and `.`"
        )));
    }
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

/// Script, queue and schedule names: short, printable, safe in paths and logs.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Looks a group name up in the system's group database.
fn group_id(name: &str) -> Option<u32> {
    let c_name = std::ffi::CString::new(name).ok()?;
    let mut group: libc::group = unsafe_zeroed_group();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; getgrnam_r writes only into `group` and
    // `buffer` (of the given length) and sets `result`.
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut group,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(group.gr_gid)
}

fn unsafe_zeroed_group() -> libc::group {
    // SAFETY: libc::group is a plain C struct for which all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn default_state_dir() -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("jobvisor"),
        _ => PathBuf::from("jobvisor-data"),
    }
}

fn default_run_dir(state_dir: &Path) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("jobvisor"),
        _ => state_dir.join("run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.job_timeout, Duration::from_secs(30));
        assert_eq!(config.memory_limit, 256 << 20);
        assert!(config.workers >= 1);
        assert_eq!(config.isolation, IsolationSetting::Script);
        assert_eq!(config.synchronous, SyncSetting::Full);
    }

    #[test]
    fn values_are_read_in_human_units() {
        let config = Config::parse(
            r#"
            workers = 4
            job_timeout = "1m30s"
            memory_limit = "128MiB"
            drain_timeout = "5s"
            isolation = "job"
            memory_limiter = "rlimit"
            [[script]]
            name = "hello"
            path = "examples/hello.js"
            "#,
        )
        .unwrap();
        assert_eq!(config.workers, 4);
        assert_eq!(config.job_timeout, Duration::from_secs(90));
        assert_eq!(config.memory_limit, 128 << 20);
        assert_eq!(config.isolation, IsolationSetting::Job);
        assert_eq!(config.memory_limiter, LimiterChoice::Rlimit);
        assert_eq!(config.scripts[0].name, "hello");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("wrokers = 3").unwrap_err().to_string();
        assert!(err.contains("wrokers"), "{err}");
        let err = Config::parse("[[script]]\nname = \"a\"\npath = \"a.js\"\npth = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pth"), "{err}");
    }

    #[test]
    fn schedules_are_read_and_checked() {
        let config = Config::parse(
            r#"
            [[schedule]]
            name = "poll"
            script = "hello"
            every = "30s"
            payload = { url = "https://example.com", n = 3 }
            [[schedule]]
            name = "nightly"
            script = "hello"
            cron = "30 2 * * *"
            timezone = "Europe/Berlin"
            overlap = "queue"
            disable_after_failures = 2
            [[schedule]]
            name = "default-interval"
            script = "hello"
            "#,
        )
        .unwrap();
        assert_eq!(config.schedules.len(), 3);
        assert_eq!(
            config.schedules[0].payload,
            r#"{"n":3,"url":"https://example.com"}"#
        );
        assert_eq!(config.schedules[1].timing.kind(), "cron");
        assert_eq!(config.schedules[1].overlap, OverlapPolicy::Queue);
        assert_eq!(config.schedules[2].timing.spec_text(), "60000");
        for (text, expected) in [
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\ncron = \"61 * * * *\"",
                "schedule `a`: cron field minute",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\nevery = \"1s\"\ncron = \"* * * * *\"",
                "not both",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\ncron = \"* * * * *\"\ntimezone = \"Mars/Olympus\"",
                "unknown time zone",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\noverlap = \"sometimes\"",
                "overlap = \"sometimes\"",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\nevry = \"1s\"",
                "evry",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn a_schedule_of_an_unknown_script_names_the_closest() {
        let config = Config::parse(
            "[[script]]\nname = \"report\"\npath = \"r.js\"\n\
             [[schedule]]\nname = \"nightly\"\nscript = \"reprot\"",
        )
        .unwrap();
        let err = config.check_schedule_scripts(&[]).unwrap_err().to_string();
        assert!(err.contains("schedule `nightly`"), "{err}");
        assert!(err.contains("the scripts are report"), "{err}");
        assert!(err.contains("did you mean `report`?"), "{err}");
        config
            .check_schedule_scripts(&["reprot".to_owned()])
            .unwrap();
        assert_eq!(crate::suggest::closest("x", ["report"]), None);
    }

    #[test]
    fn schedule_periods_and_jitter_are_bounded() {
        for (timing, named) in [
            ("every = \"3651d\"", "every is 3651d: at most 3650d"),
            (
                "every = \"1m\"\njitter = \"2d\"",
                "jitter is 2d: at most 1d",
            ),
        ] {
            let err = Config::parse(&format!(
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\n{timing}"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(named), "{err}");
        }
        // A control request carries milliseconds as u64: the largest is refused, not added.
        let spec = jobvisor_protocol::control::ScheduleSpec {
            name: "a".into(),
            script: "s".into(),
            every_ms: Some(60_000),
            jitter_ms: Some(u64::MAX),
            ..Default::default()
        };
        let err = schedule_def_from_spec(&spec).unwrap_err();
        assert!(err.contains("jitter is"), "{err}");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let err = Config::parse("job_timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a duration"), "{err}");
        let err = Config::parse("memory_limit = \"12 parsecs\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown size unit"), "{err}");
        let err = Config::parse("workers = 0").unwrap_err().to_string();
        assert!(err.contains("between 1 and 1024"), "{err}");
        let err = Config::parse("[[script]]\nname = \"a b\"\npath = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("script name `a b`"), "{err}");
    }
}
