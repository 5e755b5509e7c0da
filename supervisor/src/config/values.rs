//! How values are written in the file and checked against their range: durations like
//! `"30s"`, sizes like `"256MiB"` (or a byte count), and the one wording of an
//! out-of-range value that every section uses.
//!
//! It must not know any key: a section passes the key as the user wrote it.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::units::{format_duration, format_size, parse_duration, parse_size};

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

/// `#[serde(deserialize_with = "duration")]` for a `Duration` field.
pub(crate) fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    HumanDuration::deserialize(d).map(|d| d.0)
}

/// `#[serde(deserialize_with = "size")]` for a byte count field.
pub(crate) fn size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    HumanSize::deserialize(d).map(|s| s.0)
}

/// Refuses a duration outside `min..=max`, naming the key as written.
pub(crate) fn check_duration(
    key: &str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::Invalid(format!(
            "{key} = \"{}\": must be between {} and {}",
            format_duration(value),
            format_duration(min),
            format_duration(max)
        )));
    }
    Ok(())
}

/// Refuses a size outside `min..=max`, naming the key as written.
pub(crate) fn check_size(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::Invalid(format!(
            "{key} = {value} bytes: must be between {} and {}",
            format_size(min),
            format_size(max)
        )));
    }
    Ok(())
}

/// Refuses a count outside `min..=max`, naming the key as written.
pub(crate) fn check_count(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::Invalid(format!(
            "{key} = {value}: must be between {min} and {max}"
        )));
    }
    Ok(())
}
