//! The layout of the file: which keys exist at the top and in each section, the flat keys
//! of the first layout and where each one lives now, and the rewrite of a file written
//! in that layout into sections before it is read.
//!
//! A file with flat keys keeps working: an upgrade never replaces an installed config
//! (`deploy/install.sh`), so refusing them would stop every upgraded host at its next
//! restart. Each moved key is reported (logged at start, printed by `serve --check`) so
//! the file can be brought up to date at leisure. The rewrite keeps every value's place in
//! the text, so an error in a moved value still points at its line.
//!
//! It must not read values: that is the sections' job.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;

/// A key of the first, flat layout and its place now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovedKey {
    /// As it was written at the top of the file.
    pub old: &'static str,
    pub section: &'static str,
    pub key: &'static str,
}

impl std::fmt::Display for MovedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is now `[{}] {}`", self.old, self.section, self.key)
    }
}

const fn moved(old: &'static str, section: &'static str, key: &'static str) -> MovedKey {
    MovedKey { old, section, key }
}

/// Every flat key that moved into a section. Frozen: a key added later exists only in its
/// section. `state_dir`, `run_dir`, `drain_timeout` and `log_format` stay at the top.
const MOVED: &[MovedKey] = &[
    moved("workers", "workers", "count"),
    moved("isolation", "workers", "isolation"),
    moved("memory_limit", "workers", "memory_limit"),
    moved("memory_limiter", "workers", "memory_limiter"),
    moved("max_jobs_per_worker", "workers", "max_jobs_per_worker"),
    moved("worker_rss_soft_limit", "workers", "rss_soft_limit"),
    moved("worker_start_timeout", "workers", "start_timeout"),
    moved("kill_grace", "workers", "kill_grace"),
    moved("restart_backoff_min", "workers", "restart_backoff_min"),
    moved("restart_backoff_max", "workers", "restart_backoff_max"),
    moved("restart_intensity_max", "workers", "restart_intensity_max"),
    moved(
        "restart_intensity_window",
        "workers",
        "restart_intensity_window",
    ),
    moved("job_timeout", "jobs", "timeout"),
    moved("max_attempts", "jobs", "max_attempts"),
    moved("retry_backoff_base", "jobs", "retry_backoff_base"),
    moved("retry_backoff_max", "jobs", "retry_backoff_max"),
    moved("payload_limit", "jobs", "payload_limit"),
    moved("result_limit", "jobs", "result_limit"),
    moved("synchronous", "store", "synchronous"),
    moved("retention_completed", "store", "retention_completed"),
    moved("retention_discarded", "store", "retention_discarded"),
    moved("control_group", "control", "group"),
    moved("control_request_timeout", "control", "request_timeout"),
];

/// Renders keys in messages as the user wrote them: a moved key by its old name (that is
/// the line to look for), any other as `[section] key`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyNames<'a> {
    pub(crate) moved: &'a [MovedKey],
}

impl KeyNames<'_> {
    pub(crate) fn show(&self, section: &str, key: &str) -> String {
        match self
            .moved
            .iter()
            .find(|m| m.section == section && m.key == key)
        {
            Some(m) => m.old.to_owned(),
            None => format!("[{section}] {key}"),
        }
    }
}

/// Moves every flat key of the first layout into its section, in place. A key given both
/// ways is an error naming both.
pub(crate) fn move_flat_keys(
    root: &mut DeTable<'_>,
    text: &str,
) -> Result<Vec<MovedKey>, ConfigError> {
    let mut done = Vec::new();
    for m in MOVED {
        // `workers` is both a flat key (a number) and a section (a table).
        if root
            .get(m.old)
            .is_none_or(|value| matches!(value.get_ref(), DeValue::Table(_)))
        {
            continue;
        }
        let Some((old_key, value)) = root.remove_entry(m.old) else {
            continue;
        };
        let section = root
            .entry(Spanned::new(old_key.span(), Cow::Borrowed(m.section)))
            .or_insert_with(|| Spanned::new(old_key.span(), DeValue::Table(DeTable::new())));
        let DeValue::Table(table) = section.get_mut() else {
            return Err(ConfigError::Invalid(format!(
                "`{}` is a section: write it as `[{}]`",
                m.section, m.section
            )));
        };
        if let Some((new_key, _)) = table.get_key_value(m.key) {
            return Err(ConfigError::Invalid(format!(
                "`{}` (line {}) and `[{}] {}` (line {}) are the same setting: keep only `[{}] {}`",
                m.old,
                line_of(text, old_key.span().start),
                m.section,
                m.key,
                line_of(text, new_key.span().start),
                m.section,
                m.key
            )));
        }
        table.insert(Spanned::new(old_key.span(), Cow::Borrowed(m.key)), value);
        done.push(*m);
    }
    Ok(done)
}

/// Refuses a key that exists nowhere (at the top or in a section), with the closest one
/// that exists. Keys inside `[[script]]` and `[[schedule]]` entries are left to serde.
pub(crate) fn refuse_unknown_keys(
    root: &DeTable<'_>,
    text: &str,
    top: &[&str],
    sections: &[(&str, &[&str])],
) -> Result<(), ConfigError> {
    let unknown = |key: &Spanned<Cow<'_, str>>, place: &str, hint: String| {
        ConfigError::Invalid(format!(
            "unknown key `{}`{place} (line {}){hint}",
            key.get_ref(),
            line_of(text, key.span().start)
        ))
    };
    let closest = |typed: &str, names: &[&str]| {
        crate::suggest::closest(typed, names.iter().copied())
            .map(|name| format!(": did you mean `{name}`?"))
            .unwrap_or_default()
    };
    for (key, value) in root.iter() {
        let name = key.get_ref().as_ref();
        if let Some((section, keys)) = sections.iter().find(|(section, _)| *section == name) {
            if let DeValue::Table(table) = value.get_ref() {
                for (key, _) in table.iter() {
                    let name = key.get_ref().as_ref();
                    if keys.contains(&name) {
                        continue;
                    }
                    let hint = match sections.iter().find(|(_, keys)| keys.contains(&name)) {
                        Some((other, _)) => format!(": it belongs in `[{other}]`"),
                        None => closest(name, keys),
                    };
                    return Err(unknown(key, &format!(" in `[{section}]`"), hint));
                }
            }
            continue;
        }
        if top.contains(&name) || MOVED.iter().any(|m| m.old == name) {
            continue;
        }
        let mut known: Vec<&str> = top.to_vec();
        known.extend(MOVED.iter().map(|m| m.old));
        let hint = match sections.iter().find(|(_, keys)| keys.contains(&name)) {
            Some((section, _)) => format!(": it belongs in `[{section}]`"),
            None => closest(name, &known),
        };
        return Err(unknown(key, "", hint));
    }
    Ok(())
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

/// The keys a `#[derive(Deserialize)]` struct reads, as serde knows them (renames
/// applied, skipped fields left out): the struct itself is the one list of its keys.
pub(crate) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that only records the field list it is asked for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only the field names are read"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("only the field names are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
