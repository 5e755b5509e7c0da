//! `[[script]]`: the scripts registered at every start, by name and file. Owns their
//! checks (names, duplicates) and the reading of their files.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;
use crate::limits::{NameKind, check_name};

/// A script registered at start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEntry {
    pub name: String,
    /// Relative paths are relative to the config file's directory.
    pub path: PathBuf,
}

/// Refuses a bad name and a name declared twice.
pub(crate) fn validate(scripts: &[ScriptEntry]) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for script in scripts {
        check_name(NameKind::Script, &script.name).map_err(ConfigError::Invalid)?;
        if !seen.insert(&script.name) {
            return Err(ConfigError::Invalid(format!(
                "script `{}` is declared twice",
                script.name
            )));
        }
    }
    Ok(())
}

/// Reads the source of every entry: `(name, source)` in the file's order.
pub(crate) fn read(scripts: &[ScriptEntry]) -> Result<Vec<(String, String)>, ConfigError> {
    scripts
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
