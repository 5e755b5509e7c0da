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
    /// Hosts its jobs may fetch from (`host`, `*.domain`, `host:port`), besides
    /// `[fetch] allow_net`. Empty: none.
    #[serde(default)]
    pub allow_net: Vec<String>,
    /// Exact `host:port`s its jobs may reach although they resolve to a private, loopback
    /// or link-local address.
    #[serde(default)]
    pub allow_private: Vec<String>,
    /// The `[[secret]]`s its jobs may use.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The namespace of its `ctx.state`; default its own name. Scripts that name the same
    /// namespace share their state.
    #[serde(default)]
    pub state_namespace: Option<String>,
}

impl ScriptEntry {
    /// The namespace of the script's `ctx.state`.
    pub fn namespace(&self) -> &str {
        self.state_namespace.as_deref().unwrap_or(&self.name)
    }
}

/// Refuses a bad name, a name declared twice, a grant of a secret that is not declared
/// and a bad state namespace.
pub(crate) fn validate(
    scripts: &[ScriptEntry],
    secrets: &[super::SecretEntry],
) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for script in scripts {
        check_name(NameKind::Script, &script.name).map_err(ConfigError::Invalid)?;
        if !seen.insert(&script.name) {
            return Err(ConfigError::Invalid(format!(
                "script `{}` is declared twice",
                script.name
            )));
        }
        for granted in &script.secrets {
            if !secrets.iter().any(|secret| &secret.name == granted) {
                let known: Vec<&str> = secrets.iter().map(|s| s.name.as_str()).collect();
                return Err(ConfigError::Invalid(format!(
                    "script `{}` is granted secret `{granted}`, which no [[secret]] declares \
                     (declared: {})",
                    script.name,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        crate::host::fetch::NetPolicy::parse(&script.allow_net, &script.allow_private).map_err(
            |problem| ConfigError::Invalid(format!("script `{}`: {problem}", script.name)),
        )?;
        if let Some(namespace) = &script.state_namespace {
            check_name(NameKind::Script, namespace).map_err(|problem| {
                ConfigError::Invalid(format!(
                    "script `{}`: state_namespace `{namespace}`: {problem}",
                    script.name
                ))
            })?;
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
