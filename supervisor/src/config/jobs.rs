//! `[jobs]`: what a job gets when it asks for nothing itself (timeout, attempts, retry
//! backoff) and how large its payload and result may be. Owns the section's defaults and
//! ranges.

use std::time::Duration;

use serde::Deserialize;

use super::values::{check_count, check_duration, check_size, duration, size};
use super::{ConfigError, KeyNames};
use crate::limits::{MAX_ATTEMPTS, MAX_JOB_TIMEOUT, MAX_RETRY_BACKOFF};

/// The largest `payload_limit`: a payload must fit one control request (with room for the
/// rest of the request) or it could never be enqueued.
pub const MAX_PAYLOAD_LIMIT: u64 = 7 << 20;
/// The largest `result_limit`: a result must fit one worker frame, next to its logs.
pub const MAX_RESULT_LIMIT: u64 = 12 << 20;
const _: () =
    assert!(MAX_PAYLOAD_LIMIT + (1 << 20) <= crate::control::server::CONTROL_FRAME_MAX as u64);
const _: () =
    assert!(MAX_RESULT_LIMIT + (1 << 20) <= crate::pool::connection::WORKER_FRAME_MAX as u64);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSection {
    /// Per-attempt timeout of a job that sets none.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    pub max_attempts: u32,
    #[serde(deserialize_with = "duration")]
    pub retry_backoff_base: Duration,
    #[serde(deserialize_with = "duration")]
    pub retry_backoff_max: Duration,
    #[serde(deserialize_with = "size")]
    pub payload_limit: u64,
    #[serde(deserialize_with = "size")]
    pub result_limit: u64,
    /// `ctx.signal` aborts this long before a job's timeout (at most half the timeout),
    /// so that the handler can stop its fetches and end cleanly.
    #[serde(deserialize_with = "duration")]
    pub signal_margin: Duration,
    /// Child jobs one attempt may enqueue (`ctx.enqueue`).
    pub max_children: u32,
}

impl Default for JobsSection {
    fn default() -> Self {
        JobsSection {
            timeout: Duration::from_secs(30),
            max_attempts: 3,
            retry_backoff_base: Duration::from_secs(1),
            retry_backoff_max: Duration::from_secs(3600),
            payload_limit: 1 << 20,
            result_limit: 4 << 20,
            signal_margin: Duration::from_secs(1),
            max_children: 1000,
        }
    }
}

impl JobsSection {
    /// Every value against its documented range (docs/configuration.md).
    pub(crate) fn validate(&self, names: KeyNames<'_>) -> Result<(), ConfigError> {
        let key = |k: &str| names.show("jobs", k);
        let ms = Duration::from_millis(1);
        check_duration(&key("timeout"), self.timeout, ms, MAX_JOB_TIMEOUT)?;
        check_count(
            &key("max_attempts"),
            u64::from(self.max_attempts),
            1,
            u64::from(MAX_ATTEMPTS),
        )?;
        check_duration(
            &key("retry_backoff_base"),
            self.retry_backoff_base,
            Duration::ZERO,
            MAX_RETRY_BACKOFF,
        )?;
        check_duration(
            &key("retry_backoff_max"),
            self.retry_backoff_max,
            ms,
            MAX_RETRY_BACKOFF,
        )?;
        check_size(
            &key("payload_limit"),
            self.payload_limit,
            1 << 10,
            MAX_PAYLOAD_LIMIT,
        )?;
        check_size(
            &key("result_limit"),
            self.result_limit,
            1 << 10,
            MAX_RESULT_LIMIT,
        )?;
        check_duration(
            &key("signal_margin"),
            self.signal_margin,
            Duration::ZERO,
            MAX_JOB_TIMEOUT,
        )?;
        check_count(
            &key("max_children"),
            u64::from(self.max_children),
            0,
            100_000,
        )?;
        if self.retry_backoff_base > self.retry_backoff_max {
            return Err(ConfigError::Invalid(format!(
                "{} is above {}",
                key("retry_backoff_base"),
                key("retry_backoff_max")
            )));
        }
        Ok(())
    }
}
