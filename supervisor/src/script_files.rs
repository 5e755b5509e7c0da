//! Reading a script from disk: a file is its source as it is; a directory is a multi-file
//! script, read whole into the canonical bundle text of `jobvisor_protocol::bundle`, so
//! that it is checked, stored and hashed as one version and its worker never reads a
//! file. Used by `[[script]]`, `jobvisor scripts add` and `jobvisor run`.
//!
//! Which files: every `.js`, `.mjs` and `.json` file under the directory, at any depth,
//! except names starting with `.` and `node_modules` (packages are bundled, not
//! imported). The entry is the one named, else `index.js`, `index.mjs` or `main.js`, the
//! first of them there is. It must not resolve imports: the worker does, when the check
//! evaluates the script.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jobvisor_protocol::bundle::{ScriptBundle, check_path};

use crate::limits::{MAX_SCRIPT_BUNDLE_BYTES, MAX_SCRIPT_FILES, check_script_files};

/// The entry modules looked for when none is named, in this order.
pub const DEFAULT_ENTRIES: [&str; 3] = ["index.js", "index.mjs", "main.js"];

/// The extensions of the files a script directory contributes.
const SCRIPT_EXTENSIONS: [&str; 3] = [".js", ".mjs", ".json"];

/// Why a script could not be read. The caller names the path it was given.
#[derive(Debug, thiserror::Error)]
pub enum ScriptFilesError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot read `{file}`: {source}")]
    File {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` is not UTF-8 text")]
    NotUtf8(String),
    #[error("`{0}` is a symbolic link: a script directory holds its files themselves")]
    Symlink(String),
    #[error("`{0}` has a name that is not UTF-8")]
    BadName(String),
    #[error("{0}")]
    BadPath(String),
    #[error(
        "the directory has no entry module: add index.js, index.mjs or main.js, or name one (`--entry`, or `entry` in [[script]])"
    )]
    NoEntry,
    #[error("the entry `{0}` is not a .js or .mjs file of the directory")]
    EntryMissing(String),
    #[error("an entry (`{0}`) is named, but the script is a single file, not a directory")]
    EntryOfFile(String),
    #[error("{0}")]
    TooLarge(String),
}

/// The source of the script at `path`: a file's text, or a directory's canonical bundle
/// with `entry` (a path inside it) or the default entry.
pub fn read_script(path: &Path, entry: Option<&str>) -> Result<String, ScriptFilesError> {
    if !std::fs::metadata(path)?.is_dir() {
        if let Some(entry) = entry {
            return Err(ScriptFilesError::EntryOfFile(entry.to_owned()));
        }
        return Ok(std::fs::read_to_string(path)?);
    }
    let mut files = BTreeMap::new();
    let mut bytes = 0;
    collect(path, "", &mut files, &mut bytes)?;
    let entry = match entry {
        Some(named) => {
            let named = named.trim_start_matches("./");
            if !files.contains_key(named) || named.ends_with(".json") {
                return Err(ScriptFilesError::EntryMissing(named.to_owned()));
            }
            named.to_owned()
        }
        None => DEFAULT_ENTRIES
            .iter()
            .find(|name| files.contains_key(**name))
            .ok_or(ScriptFilesError::NoEntry)?
            .to_string(),
    };
    let count = files.len();
    let text = ScriptBundle { entry, files }.encode();
    check_script_files(count, text.len()).map_err(ScriptFilesError::TooLarge)?;
    Ok(text)
}

/// Adds the script files under `dir` (whose bundle path is `prefix`) to `files`, in
/// name order, stopping as soon as a cap is passed.
fn collect(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, String>,
    bytes: &mut usize,
) -> Result<(), ScriptFilesError> {
    let shown = |name: &str| format!("{prefix}{name}");
    let mut entries: Vec<(String, PathBuf, std::fs::FileType)> = Vec::new();
    let listing = std::fs::read_dir(dir).map_err(|source| ScriptFilesError::File {
        file: if prefix.is_empty() {
            ".".to_owned()
        } else {
            prefix.trim_end_matches('/').to_owned()
        },
        source,
    })?;
    for item in listing {
        let item = item?;
        let name = item
            .file_name()
            .into_string()
            .map_err(|name| ScriptFilesError::BadName(shown(&name.to_string_lossy())))?;
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        let kind = item.file_type()?;
        entries.push((name, item.path(), kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, full, kind) in entries {
        let relative = shown(&name);
        if kind.is_dir() {
            collect(&full, &format!("{relative}/"), files, bytes)?;
            continue;
        }
        if !SCRIPT_EXTENSIONS.iter().any(|ext| name.ends_with(ext)) {
            continue;
        }
        if kind.is_symlink() {
            return Err(ScriptFilesError::Symlink(relative));
        }
        if !kind.is_file() {
            continue;
        }
        check_path(&relative).map_err(|e| ScriptFilesError::BadPath(e.to_string()))?;
        let raw = std::fs::read(&full).map_err(|source| ScriptFilesError::File {
            file: relative.clone(),
            source,
        })?;
        let text =
            String::from_utf8(raw).map_err(|_| ScriptFilesError::NotUtf8(relative.clone()))?;
        *bytes += text.len() + relative.len();
        if files.len() >= MAX_SCRIPT_FILES || *bytes > MAX_SCRIPT_BUNDLE_BYTES {
            // The count and size so far are enough to say which cap was passed.
            check_script_files(files.len() + 1, *bytes).map_err(ScriptFilesError::TooLarge)?;
        }
        files.insert(relative, text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use jobvisor_protocol::bundle::decode;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
    }

    #[test]
    fn a_directory_becomes_one_bundle_with_its_script_files_only() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("main.js", "m"),
                ("index.mjs", "i"),
                ("lib/a.js", "a"),
                ("data.json", "{}"),
                ("README.md", "skip"),
                (".hidden.js", "skip"),
                ("node_modules/x/index.js", "skip"),
            ],
        );
        let bundle = decode(&read_script(dir.path(), None).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(bundle.entry, "index.mjs");
        let paths: Vec<&str> = bundle.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["data.json", "index.mjs", "lib/a.js", "main.js"]);
        let named = read_script(dir.path(), Some("./lib/a.js")).unwrap();
        assert_eq!(decode(&named).unwrap().unwrap().entry, "lib/a.js");
    }

    #[test]
    fn a_file_is_read_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[("one.js", "export default () => 1")]);
        let path = dir.path().join("one.js");
        assert_eq!(read_script(&path, None).unwrap(), "export default () => 1");
        assert!(matches!(
            read_script(&path, Some("x.js")),
            Err(ScriptFilesError::EntryOfFile(_))
        ));
    }

    #[test]
    fn a_directory_without_an_entry_or_over_a_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[("lib.js", "x"), ("d.json", "{}")]);
        let err = read_script(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("no entry module"), "{err}");
        let err = read_script(dir.path(), Some("d.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a .js or .mjs file"), "{err}");

        let many = tempfile::tempdir().unwrap();
        for n in 0..=MAX_SCRIPT_FILES {
            write(many.path(), &[(&format!("f{n}.js"), "")]);
        }
        let err = read_script(many.path(), None).unwrap_err().to_string();
        assert!(err.contains("at most 256 files"), "{err}");
    }
}
