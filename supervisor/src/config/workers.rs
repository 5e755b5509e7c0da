//! `[workers]`: how many worker processes run, how each is confined, started, restarted
//! and replaced. Owns the section's defaults and ranges, and builds the pool's settings
//! from it.

use std::time::Duration;

use serde::Deserialize;

use super::values::{check_count, check_duration, check_size, duration, size};
use super::{Config, ConfigError, KeyNames};
use crate::cgroup::{GroupLimits, LimiterChoice};
use crate::pool::launch::WORKER_MAX_PIDS;
use crate::pool::restart::RestartPolicy;
use crate::pool::slot::SlotSettings;

/// `kill_grace` when the config does not say: how long past a job's timeout its worker may
/// take to stop the job itself before it is killed (also `jobvisor run`'s).
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_millis(250);
/// `start_timeout` when the config does not say (also `jobvisor run`'s).
pub const DEFAULT_WORKER_START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationSetting {
    #[default]
    Script,
    Job,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkersSection {
    /// Worker processes (default: the number of CPUs).
    pub count: u32,
    pub isolation: IsolationSetting,
    #[serde(deserialize_with = "size")]
    pub memory_limit: u64,
    pub memory_limiter: LimiterChoice,
    pub max_jobs_per_worker: u64,
    #[serde(deserialize_with = "size")]
    pub rss_soft_limit: u64,
    #[serde(deserialize_with = "duration")]
    pub start_timeout: Duration,
    /// How long past its timeout a job may take to stop before its worker is killed.
    #[serde(deserialize_with = "duration")]
    pub kill_grace: Duration,
    #[serde(deserialize_with = "duration")]
    pub restart_backoff_min: Duration,
    #[serde(deserialize_with = "duration")]
    pub restart_backoff_max: Duration,
    pub restart_intensity_max: u32,
    #[serde(deserialize_with = "duration")]
    pub restart_intensity_window: Duration,
}

impl Default for WorkersSection {
    fn default() -> Self {
        WorkersSection {
            count: std::thread::available_parallelism()
                .map_or(2, |n| u32::try_from(n.get()).unwrap_or(2)),
            isolation: IsolationSetting::Script,
            memory_limit: 256 << 20,
            memory_limiter: LimiterChoice::default(),
            max_jobs_per_worker: 100_000,
            rss_soft_limit: 192 << 20,
            start_timeout: DEFAULT_WORKER_START_TIMEOUT,
            kill_grace: DEFAULT_KILL_GRACE,
            restart_backoff_min: Duration::from_millis(50),
            restart_backoff_max: Duration::from_secs(30),
            restart_intensity_max: 5,
            restart_intensity_window: Duration::from_secs(60),
        }
    }
}

impl WorkersSection {
    /// Every value against its documented range (docs/configuration.md).
    pub(crate) fn validate(&self, names: KeyNames<'_>) -> Result<(), ConfigError> {
        const HOUR: Duration = Duration::from_secs(3600);
        let key = |k: &str| names.show("workers", k);
        check_count(&key("count"), u64::from(self.count), 1, 1024)?;
        check_size(&key("memory_limit"), self.memory_limit, 16 << 20, 1 << 40)?;
        check_count(
            &key("max_jobs_per_worker"),
            self.max_jobs_per_worker,
            1,
            u64::MAX,
        )?;
        check_size(
            &key("rss_soft_limit"),
            self.rss_soft_limit,
            1 << 20,
            1 << 40,
        )?;
        check_duration(
            &key("start_timeout"),
            self.start_timeout,
            Duration::from_millis(100),
            Duration::from_secs(600),
        )?;
        check_duration(
            &key("kill_grace"),
            self.kill_grace,
            Duration::ZERO,
            Duration::from_secs(60),
        )?;
        check_duration(
            &key("restart_backoff_min"),
            self.restart_backoff_min,
            Duration::ZERO,
            HOUR,
        )?;
        check_duration(
            &key("restart_backoff_max"),
            self.restart_backoff_max,
            Duration::from_millis(1),
            HOUR,
        )?;
        check_count(
            &key("restart_intensity_max"),
            u64::from(self.restart_intensity_max),
            1,
            1_000_000,
        )?;
        check_duration(
            &key("restart_intensity_window"),
            self.restart_intensity_window,
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        )?;
        if self.restart_backoff_min > self.restart_backoff_max {
            return Err(ConfigError::Invalid(format!(
                "{} is above {}",
                key("restart_backoff_min"),
                key("restart_backoff_max")
            )));
        }
        Ok(())
    }

    /// The cgroup (or rlimit) limits of one worker.
    pub(crate) fn group_limits(&self) -> GroupLimits {
        GroupLimits {
            memory_bytes: self.memory_limit,
            max_pids: WORKER_MAX_PIDS,
        }
    }
}

impl From<&WorkersSection> for RestartPolicy {
    fn from(workers: &WorkersSection) -> Self {
        RestartPolicy {
            backoff_min: workers.restart_backoff_min,
            backoff_max: workers.restart_backoff_max,
            intensity_max: workers.restart_intensity_max,
            window: workers.restart_intensity_window,
        }
    }
}

impl From<IsolationSetting> for jobvisor_protocol::worker::Isolation {
    fn from(setting: IsolationSetting) -> Self {
        match setting {
            IsolationSetting::Script => Self::Script,
            IsolationSetting::Job => Self::Job,
        }
    }
}

/// A slot runs `[workers]` with the job defaults of `[jobs]`.
impl From<&Config> for SlotSettings {
    fn from(config: &Config) -> Self {
        let workers = &config.workers;
        SlotSettings {
            start_timeout: workers.start_timeout,
            kill_grace: workers.kill_grace,
            restart: workers.into(),
            max_jobs_per_worker: workers.max_jobs_per_worker,
            rss_soft_limit: workers.rss_soft_limit,
            limits: jobvisor_protocol::worker::JobLimits {
                max_result_bytes: u32::try_from(config.jobs.result_limit).unwrap_or(u32::MAX),
                ..Default::default()
            },
            isolation: workers.isolation.into(),
            default_timeout: config.jobs.timeout,
            signal_margin: config.jobs.signal_margin,
            node_compat_scripts: std::sync::Arc::new(
                config
                    .scripts
                    .iter()
                    .filter(|script| script.node_compat)
                    .map(|script| script.name.clone())
                    .collect(),
            ),
        }
    }
}
