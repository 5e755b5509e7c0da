//! `[store]`: the durability of each commit and how long finished jobs are kept. Owns the
//! section's defaults and ranges, and builds the store's options from the config.

use std::time::Duration;

use serde::Deserialize;

use super::values::{check_duration, duration};
use super::{Config, ConfigError, KeyNames};
use crate::limits::MAX_DELAY;
use crate::store::{BackoffPolicy, Retention, StoreOptions, Synchronous};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncSetting {
    #[default]
    Full,
    Normal,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    pub synchronous: SyncSetting,
    /// Completed jobs are deleted this long after they finished.
    #[serde(deserialize_with = "duration")]
    pub retention_completed: Duration,
    /// Discarded and cancelled jobs likewise.
    #[serde(deserialize_with = "duration")]
    pub retention_discarded: Duration,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            synchronous: SyncSetting::Full,
            retention_completed: Duration::from_secs(7 * 86_400),
            retention_discarded: Duration::from_secs(30 * 86_400),
        }
    }
}

impl StoreSection {
    /// Every value against its documented range (docs/configuration.md).
    pub(crate) fn validate(&self, names: KeyNames<'_>) -> Result<(), ConfigError> {
        let key = |k: &str| names.show("store", k);
        check_duration(
            &key("retention_completed"),
            self.retention_completed,
            Duration::ZERO,
            MAX_DELAY,
        )?;
        check_duration(
            &key("retention_discarded"),
            self.retention_discarded,
            Duration::ZERO,
            MAX_DELAY,
        )
    }
}

impl From<SyncSetting> for Synchronous {
    fn from(setting: SyncSetting) -> Self {
        match setting {
            SyncSetting::Full => Synchronous::Full,
            SyncSetting::Normal => Synchronous::Normal,
        }
    }
}

impl From<&StoreSection> for Retention {
    fn from(store: &StoreSection) -> Self {
        Retention {
            completed: store.retention_completed,
            failed: store.retention_discarded,
        }
    }
}

/// The store runs `[store]` with the job defaults and limits of `[jobs]`.
impl From<&Config> for StoreOptions {
    fn from(config: &Config) -> Self {
        let jobs = &config.jobs;
        StoreOptions {
            synchronous: config.store.synchronous.into(),
            max_payload_bytes: usize::try_from(jobs.payload_limit).unwrap_or(usize::MAX),
            max_result_bytes: usize::try_from(jobs.result_limit).unwrap_or(usize::MAX),
            default_max_attempts: jobs.max_attempts,
            default_timeout: jobs.timeout,
            backoff: BackoffPolicy {
                base: jobs.retry_backoff_base,
                cap: jobs.retry_backoff_max,
            },
            ..StoreOptions::default()
        }
    }
}
