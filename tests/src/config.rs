//! The config a test daemon runs with: the one place that knows how the settings a test
//! asks for are spelled in `jobvisor.toml`, so a key that moves is one edit here.

use std::fmt::Write as _;
use std::path::Path;

/// The settings of a test daemon; the state and run directories are always inside its
/// temporary directory.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    /// Top-level `key = value` lines, values already in TOML.
    keys: Vec<(String, String)>,
    /// TOML written as given, after the keys (settings without a method here yet).
    raw: String,
    scripts: Vec<(String, String)>,
}

impl ConfigBuilder {
    pub fn new() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Worker processes.
    pub fn workers(self, count: u32) -> ConfigBuilder {
        self.key("workers", count.to_string())
    }

    /// The store's `synchronous` mode (`"full"`, `"normal"`).
    pub fn synchronous(self, mode: &str) -> ConfigBuilder {
        self.key("synchronous", toml_string(mode))
    }

    /// TOML added as it is, after the keys set through methods.
    pub fn raw(mut self, toml: &str) -> ConfigBuilder {
        self.raw.push_str(toml);
        self.raw.push('\n');
        self
    }

    /// A `[[script]]` named `name` with `source`, written to `<name>.js` next to the config.
    pub fn script(mut self, name: &str, source: &str) -> ConfigBuilder {
        self.scripts.push((name.to_owned(), source.to_owned()));
        self
    }

    fn key(mut self, key: &str, value: String) -> ConfigBuilder {
        self.keys.retain(|(k, _)| k != key);
        self.keys.push((key.to_owned(), value));
        self
    }

    /// Writes the scripts into `dir` and returns the config's text, with the state and
    /// run directories `dir/data` and `dir/run`.
    pub(crate) fn write_scripts_and_render(&self, dir: &Path) -> String {
        let mut config = format!(
            "state_dir = {}\nrun_dir = {}\n",
            toml_string(&dir.join("data").display().to_string()),
            toml_string(&dir.join("run").display().to_string()),
        );
        for (key, value) in &self.keys {
            let _ = writeln!(config, "{key} = {value}");
        }
        config.push_str(&self.raw);
        for (name, source) in &self.scripts {
            let file = dir.join(format!("{name}.js"));
            std::fs::write(&file, source).expect("write script");
            let _ = write!(
                config,
                "[[script]]\nname = {}\npath = {}\n",
                toml_string(name),
                toml_string(&file.display().to_string())
            );
        }
        config
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_keys_raw_and_scripts_as_toml() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = ConfigBuilder::new()
            .workers(3)
            .workers(2)
            .synchronous("full")
            .raw("job_timeout = \"5s\"")
            .script("echo", "export default (p) => p")
            .write_scripts_and_render(dir.path());
        let value: toml::Table = text.parse().expect("valid TOML");
        assert_eq!(
            value["workers"].as_integer(),
            Some(2),
            "the last value wins"
        );
        assert_eq!(value["synchronous"].as_str(), Some("full"));
        assert_eq!(value["job_timeout"].as_str(), Some("5s"));
        let script = &value["script"][0];
        assert_eq!(script["name"].as_str(), Some("echo"));
        let path = script["path"].as_str().expect("script path");
        assert_eq!(
            std::fs::read_to_string(path).expect("script written"),
            "export default (p) => p"
        );
        assert!(
            value["state_dir"]
                .as_str()
                .is_some_and(|d| d.ends_with("/data"))
        );
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(toml_string("\n"), r#""\u000A""#);
    }
}
