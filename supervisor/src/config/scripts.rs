//! `[[script]]`: the scripts registered at every start, by name and file. Owns their
//! checks (names, duplicates) and the reading of their files or directories.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;
use crate::limits::{NameKind, check_name};
use crate::script_files::read_script;

/// A script registered at start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEntry {
    pub name: String,
    /// A file, or a directory (a multi-file script). Relative paths are relative to the
    /// config file's directory.
    pub path: PathBuf,
    /// A directory's entry module, when it is not `index.js`, `index.mjs` or `main.js`.
    #[serde(default)]
    pub entry: Option<String>,
    /// Node compatibility: the script's jobs get `Buffer` and `process` (`env`,
    /// `nextTick`). Off by default: a script sees only the web-platform globals.
    #[serde(default)]
    pub node_compat: bool,
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
            read_script(&entry.path, entry.entry.as_deref())
                .map(|source| (entry.name.clone(), source))
                .map_err(|source| ConfigError::ScriptRead {
                    name: entry.name.clone(),
                    path: entry.path.clone(),
                    source,
                })
        })
        .collect()
}
