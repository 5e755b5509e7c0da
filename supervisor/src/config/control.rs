//! `[control]`: who may use the control socket besides its owner, and how long a request
//! that answers at once may take. Owns the section's defaults and ranges and the lookup
//! of the group.

use std::time::Duration;

use serde::Deserialize;

use super::values::{check_duration, duration};
use super::{ConfigError, KeyNames};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlSection {
    /// Members of this group may use the control socket too.
    pub group: Option<String>,
    /// A control request that answers at once (status, list, show, enqueue) fails when the
    /// daemon has not answered it within this; drain, restart and wait have no limit.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
}

impl Default for ControlSection {
    fn default() -> Self {
        ControlSection {
            group: None,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl ControlSection {
    /// Every value against its documented range (docs/configuration.md).
    pub(crate) fn validate(&self, names: KeyNames<'_>) -> Result<(), ConfigError> {
        check_duration(
            &names.show("control", "request_timeout"),
            self.request_timeout,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        )
    }

    /// The gid of `group`, if set.
    pub(crate) fn gid(&self, names: KeyNames<'_>) -> Result<Option<u32>, ConfigError> {
        let Some(name) = &self.group else {
            return Ok(None);
        };
        group_id(name).map(Some).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{} = \"{name}\": no such group on this host",
                names.show("control", "group")
            ))
        })
    }
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
