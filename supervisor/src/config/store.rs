//! `[store]`: the durability of each commit, how long finished jobs are kept, and who
//! this supervisor is to the store (its node id and the length of the leases it renews).
//! Owns the section's defaults and ranges, and builds the store's options from the config.

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
    /// This supervisor's name in the store: its claims are made as this node, and a
    /// restart releases at once only this node's earlier jobs. `None`: the host name and
    /// the database's directory.
    pub node_id: Option<String>,
    /// How far each renewal of the leases of running jobs reaches ahead.
    #[serde(deserialize_with = "duration")]
    pub lease_length: Duration,
}

/// Bounds of `[store] lease_length`: renewed every third of it, so at least a second
/// between renewals; at most a day, the longest another node may wait for a dead one.
const MIN_LEASE_LENGTH: Duration = Duration::from_secs(3);
const MAX_LEASE_LENGTH: Duration = Duration::from_secs(86_400);
/// Longest `[store] node_id`, in bytes.
const MAX_NODE_ID_BYTES: usize = 200;

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            synchronous: SyncSetting::Full,
            retention_completed: Duration::from_secs(7 * 86_400),
            retention_discarded: Duration::from_secs(30 * 86_400),
            node_id: None,
            lease_length: StoreOptions::default().lease_length,
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
        )?;
        check_duration(
            &key("lease_length"),
            self.lease_length,
            MIN_LEASE_LENGTH,
            MAX_LEASE_LENGTH,
        )?;
        if let Some(node) = &self.node_id
            && (node.is_empty()
                || node.len() > MAX_NODE_ID_BYTES
                || node.chars().any(char::is_control))
        {
            return Err(ConfigError::Invalid(format!(
                "{} = {node:?}: must be 1 to {MAX_NODE_ID_BYTES} bytes without control characters",
                key("node_id")
            )));
        }
        Ok(())
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
            node_id: config.store.node_id.clone(),
            lease_length: config.store.lease_length,
            ..StoreOptions::default()
        }
    }
}
