//! The canonical encoding of a multi-file script: its entry module's path and every file,
//! path-sorted and length-prefixed, as one text. That text is what the store keeps as the
//! version's source, what its hash is taken over and what travels in
//! [`crate::worker::ScriptRef::source`], so a script version is the same bytes everywhere.
//!
//! A single-file script is its source as it is: it never starts with [`BUNDLE_MARKER`],
//! a control character no JavaScript source can begin with, so old versions keep their
//! text and their hash. This module owns the format and the path rule; it must not read
//! files (the supervisor does) nor resolve imports (the worker does).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The first line of every encoded bundle.
pub const BUNDLE_MARKER: &str = "\u{1}jobvisor-bundle 1\n";

/// The longest path of one file in a bundle, in bytes.
pub const MAX_BUNDLE_PATH_BYTES: usize = 255;

/// A multi-file script: an entry module and the files it may import, by relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptBundle {
    /// The path of the module whose default export is the handler.
    pub entry: String,
    /// Every file by its path (`/`-separated, relative to the script's directory).
    pub files: BTreeMap<String, String>,
}

/// Why a text is not a well-formed bundle, or a path not a bundle path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle is malformed: {0}")]
    Malformed(&'static str),
    #[error("the bundle path `{path}` {problem}")]
    BadPath { path: String, problem: &'static str },
    #[error("the bundle's entry `{0}` is not one of its files")]
    MissingEntry(String),
}

impl ScriptBundle {
    /// The canonical text: [`BUNDLE_MARKER`], `entry LEN:PATH\n`, then for every file in
    /// path order `file LEN:PATH LEN:CONTENTS\n` (lengths in bytes, decimal).
    pub fn encode(&self) -> String {
        let size: usize = self.files.iter().map(|(p, c)| p.len() + c.len() + 32).sum();
        let mut out = String::with_capacity(BUNDLE_MARKER.len() + self.entry.len() + 16 + size);
        out.push_str(BUNDLE_MARKER);
        let _ = writeln!(out, "entry {}:{}", self.entry.len(), self.entry);
        for (path, contents) in &self.files {
            let _ = writeln!(
                out,
                "file {}:{path} {}:{contents}",
                path.len(),
                contents.len()
            );
        }
        out
    }

    /// The total size of the files' contents, in bytes.
    pub fn contents_bytes(&self) -> usize {
        self.files.values().map(String::len).sum()
    }
}

/// Whether `source` is an encoded bundle rather than a single module.
pub fn is_bundle(source: &str) -> bool {
    source.starts_with(BUNDLE_MARKER)
}

/// Decodes an encoded bundle; `Ok(None)` for a single-file source. Only the canonical
/// text is accepted (sorted, no duplicate, every path well formed, the entry present),
/// so one bundle has exactly one encoding and so one hash.
pub fn decode(source: &str) -> Result<Option<ScriptBundle>, BundleError> {
    let Some(mut rest) = source.strip_prefix(BUNDLE_MARKER) else {
        return Ok(None);
    };
    rest = rest
        .strip_prefix("entry ")
        .ok_or(BundleError::Malformed("no entry line"))?;
    let (entry, after) = take_counted(rest)?;
    rest = after
        .strip_prefix('\n')
        .ok_or(BundleError::Malformed("the entry line does not end"))?;
    check_path(entry)?;
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    while !rest.is_empty() {
        rest = rest
            .strip_prefix("file ")
            .ok_or(BundleError::Malformed("expected a file line"))?;
        let (path, after) = take_counted(rest)?;
        let after = after.strip_prefix(' ').ok_or(BundleError::Malformed(
            "a file's path is not followed by its length",
        ))?;
        let (contents, after) = take_counted(after)?;
        rest = after
            .strip_prefix('\n')
            .ok_or(BundleError::Malformed("a file line does not end"))?;
        check_path(path)?;
        if let Some((last, _)) = files.last_key_value()
            && last.as_str() >= path
        {
            return Err(BundleError::Malformed("the files are not sorted by path"));
        }
        files.insert(path.to_owned(), contents.to_owned());
    }
    if !files.contains_key(entry) {
        return Err(BundleError::MissingEntry(entry.to_owned()));
    }
    Ok(Some(ScriptBundle {
        entry: entry.to_owned(),
        files,
    }))
}

/// `LEN:TEXT` at the start of `input`: the text and what follows it.
fn take_counted(input: &str) -> Result<(&str, &str), BundleError> {
    let (digits, rest) = input
        .split_once(':')
        .ok_or(BundleError::Malformed("a length is not followed by `:`"))?;
    if digits.is_empty()
        || digits.len() > 10
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return Err(BundleError::Malformed("a length is not a decimal number"));
    }
    let len: usize = digits
        .parse()
        .map_err(|_| BundleError::Malformed("a length is not a decimal number"))?;
    if len > rest.len() || !rest.is_char_boundary(len) {
        return Err(BundleError::Malformed("a length runs past the end"));
    }
    Ok(rest.split_at(len))
}

/// A bundle path: relative, `/`-separated, at most [`MAX_BUNDLE_PATH_BYTES`], no empty,
/// `.` or `..` component, no backslash and no control character.
pub fn check_path(path: &str) -> Result<(), BundleError> {
    let bad = |problem| BundleError::BadPath {
        path: path.chars().take(MAX_BUNDLE_PATH_BYTES).collect(),
        problem,
    };
    if path.is_empty() {
        return Err(bad("is empty"));
    }
    if path.len() > MAX_BUNDLE_PATH_BYTES {
        return Err(bad("is longer than 255 bytes"));
    }
    if path.starts_with('/') {
        return Err(bad("is absolute"));
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err(bad("holds a backslash or a control character"));
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad("has an empty, `.` or `..` component"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(files: &[(&str, &str)]) -> ScriptBundle {
        ScriptBundle {
            entry: files[0].0.to_owned(),
            files: files
                .iter()
                .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_bundle_round_trips_through_its_canonical_text() {
        let b = bundle(&[
            ("index.js", "import x from \"./lib/x.js\";\n"),
            ("lib/x.js", "export default 1:2\n"),
            ("data.json", "{\"a\": \"é\"}"),
        ]);
        let text = b.encode();
        assert!(is_bundle(&text));
        assert!(text.starts_with("\u{1}jobvisor-bundle 1\nentry 8:index.js\nfile 9:data.json "));
        assert_eq!(decode(&text), Ok(Some(b)));
    }

    #[test]
    fn a_single_file_source_is_not_a_bundle() {
        assert_eq!(decode("export default () => 1"), Ok(None));
        assert!(!is_bundle(""));
    }

    #[test]
    fn only_the_canonical_text_decodes() {
        let unsorted = format!("{BUNDLE_MARKER}entry 4:b.js\nfile 4:b.js 0:\nfile 4:a.js 0:\n");
        assert_eq!(
            decode(&unsorted),
            Err(BundleError::Malformed("the files are not sorted by path"))
        );
        let padded = format!("{BUNDLE_MARKER}entry 04:a.js\nfile 4:a.js 0:\n");
        assert!(decode(&padded).is_err());
        let missing = format!("{BUNDLE_MARKER}entry 4:a.js\nfile 4:b.js 0:\n");
        assert_eq!(
            decode(&missing),
            Err(BundleError::MissingEntry("a.js".into()))
        );
        let past_end = format!("{BUNDLE_MARKER}entry 4:a.js\nfile 4:a.js 99:x\n");
        assert!(decode(&past_end).is_err());
        let escaping = format!("{BUNDLE_MARKER}entry 7:../a.js\nfile 7:../a.js 0:\n");
        assert!(matches!(
            decode(&escaping),
            Err(BundleError::BadPath { .. })
        ));
        // A length that splits a character is refused, not a panic.
        let split = format!("{BUNDLE_MARKER}entry 4:a.js\nfile 4:a.js 1:é\n");
        assert!(decode(&split).is_err());
    }

    #[test]
    fn paths_are_relative_and_clean() {
        for good in ["a.js", "lib/deep/x.mjs", "data.json"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/a.js",
            "a//b.js",
            "./a.js",
            "a/../b.js",
            "a\\b.js",
            "a\nb",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
