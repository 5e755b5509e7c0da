//! The config a test daemon runs with: the one place that knows how the settings a test
//! asks for are spelled in `jobvisor.toml` (which section, which key, which type), so a
//! key that moves is one edit here.
//!
//! Each setting has a typed method that writes it into its section's table: a setting set
//! twice keeps the last value and a section is written once. [`ConfigBuilder::raw`] is
//! only for the tests of the file itself (the flat layout, unknown or misplaced keys, bad
//! values): its text goes in as written.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The value types of the settings, for callers without the supervisor crate.
pub use jobvisor_supervisor::cgroup::LimiterChoice;
pub use jobvisor_supervisor::config::{IsolationSetting, LogFormat, SyncSetting};
pub use jobvisor_supervisor::schedule::{CatchUpPolicy, OverlapPolicy};
use jobvisor_supervisor::units::{format_duration, format_size, parse_duration, parse_size};
use toml::{Table, Value};

/// A duration setting: a [`Duration`], or text as the file writes it (`"250ms"`).
pub trait DurationSetting {
    fn duration(self) -> Duration;
}

impl DurationSetting for Duration {
    fn duration(self) -> Duration {
        self
    }
}

impl DurationSetting for &str {
    /// A test that writes a bad duration has a typo: it panics here, naming it.
    fn duration(self) -> Duration {
        parse_duration(self).unwrap_or_else(|e| panic!("{self:?} is not a duration: {e}"))
    }
}

/// A size setting: a byte count, or text as the file writes it (`"128MiB"`).
pub trait SizeSetting {
    fn bytes(self) -> u64;
}

impl SizeSetting for u64 {
    fn bytes(self) -> u64 {
        self
    }
}

impl SizeSetting for &str {
    fn bytes(self) -> u64 {
        parse_size(self).unwrap_or_else(|e| panic!("{self:?} is not a size: {e}"))
    }
}

/// The sections, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Workers,
    Jobs,
    Store,
    Control,
    Fetch,
    Secrets,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Workers => "workers",
            Section::Jobs => "jobs",
            Section::Store => "store",
            Section::Control => "control",
            Section::Fetch => "fetch",
            Section::Secrets => "secrets",
        }
    }
}

/// Where a `[[script]]`'s file comes from.
#[derive(Debug, Clone)]
enum ScriptSource {
    /// Written to `<name>.js` next to the config.
    Text(String),
    /// A path written as given (a file that may not exist).
    Path(PathBuf),
    /// A multi-file script's directory and its entry module.
    Directory { dir: PathBuf, entry: String },
}

/// The settings of a test daemon; the state and run directories are always inside its
/// temporary directory.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    /// Keys at the top of the file.
    top: Table,
    sections: std::collections::BTreeMap<Section, Table>,
    scripts: Vec<(String, ScriptSource)>,
    /// The scripts written with `node_compat = true`.
    node_compat_scripts: Vec<String>,
    /// The host-API keys of a script (`allow_net`, `secrets`, …), by script name.
    grants: std::collections::BTreeMap<String, Table>,
    /// The `[[secret]]` entries.
    secrets: Vec<Table>,
    schedules: Vec<Table>,
    /// TOML written as given, after the top keys and before the sections.
    raw: String,
}

impl ConfigBuilder {
    pub fn new() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// `drain_timeout`.
    pub fn drain_timeout(self, timeout: impl DurationSetting) -> ConfigBuilder {
        self.top_key("drain_timeout", duration_value(timeout))
    }

    /// `log_format`.
    pub fn log_format(self, format: LogFormat) -> ConfigBuilder {
        let text = match format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        self.top_key("log_format", text.into())
    }

    /// `[workers] count`.
    pub fn workers(self, count: u32) -> ConfigBuilder {
        self.set(Section::Workers, "count", i64::from(count).into())
    }

    /// `[workers] isolation`.
    pub fn isolation(self, isolation: IsolationSetting) -> ConfigBuilder {
        let text = match isolation {
            IsolationSetting::Script => "script",
            IsolationSetting::Job => "job",
        };
        self.set(Section::Workers, "isolation", text.into())
    }

    /// `[workers] memory_limit`.
    pub fn memory_limit(self, limit: impl SizeSetting) -> ConfigBuilder {
        self.set(Section::Workers, "memory_limit", size_value(limit))
    }

    /// `[workers] memory_limiter`.
    pub fn memory_limiter(self, limiter: LimiterChoice) -> ConfigBuilder {
        let text = match limiter {
            LimiterChoice::Auto => "auto",
            LimiterChoice::Cgroup => "cgroup",
            LimiterChoice::Rlimit => "rlimit",
        };
        self.set(Section::Workers, "memory_limiter", text.into())
    }

    /// `[workers] kill_grace`.
    pub fn kill_grace(self, grace: impl DurationSetting) -> ConfigBuilder {
        self.set(Section::Workers, "kill_grace", duration_value(grace))
    }

    /// `[workers] restart_backoff_min` and `restart_backoff_max`.
    pub fn restart_backoff(
        self,
        min: impl DurationSetting,
        max: impl DurationSetting,
    ) -> ConfigBuilder {
        self.set(Section::Workers, "restart_backoff_min", duration_value(min))
            .set(Section::Workers, "restart_backoff_max", duration_value(max))
    }

    /// `[workers] restart_intensity_max` failed starts within `restart_intensity_window`.
    pub fn restart_intensity(self, max: u32, window: impl DurationSetting) -> ConfigBuilder {
        self.set(
            Section::Workers,
            "restart_intensity_max",
            i64::from(max).into(),
        )
        .set(
            Section::Workers,
            "restart_intensity_window",
            duration_value(window),
        )
    }

    /// `[jobs] timeout`.
    pub fn job_timeout(self, timeout: impl DurationSetting) -> ConfigBuilder {
        self.set(Section::Jobs, "timeout", duration_value(timeout))
    }

    /// `[jobs] max_attempts`.
    pub fn max_attempts(self, attempts: u32) -> ConfigBuilder {
        self.set(Section::Jobs, "max_attempts", i64::from(attempts).into())
    }

    /// `[jobs] retry_backoff_base` and `retry_backoff_max`.
    pub fn retry_backoff(
        self,
        base: impl DurationSetting,
        max: impl DurationSetting,
    ) -> ConfigBuilder {
        self.set(Section::Jobs, "retry_backoff_base", duration_value(base))
            .set(Section::Jobs, "retry_backoff_max", duration_value(max))
    }

    /// `[jobs] payload_limit`.
    pub fn payload_limit(self, limit: impl SizeSetting) -> ConfigBuilder {
        self.set(Section::Jobs, "payload_limit", size_value(limit))
    }

    /// `[jobs] signal_margin`.
    pub fn signal_margin(self, margin: impl DurationSetting) -> ConfigBuilder {
        self.set(Section::Jobs, "signal_margin", duration_value(margin))
    }

    /// `[jobs] max_children`.
    pub fn max_children(self, children: u32) -> ConfigBuilder {
        self.set(Section::Jobs, "max_children", i64::from(children).into())
    }

    /// `[fetch] allow_net`.
    pub fn fetch_allow_net(self, hosts: &[&str]) -> ConfigBuilder {
        self.set(Section::Fetch, "allow_net", strings_value(hosts))
    }

    /// `[fetch] allow_private`.
    pub fn fetch_allow_private(self, host_ports: &[&str]) -> ConfigBuilder {
        self.set(Section::Fetch, "allow_private", strings_value(host_ports))
    }

    /// `[fetch] max_response_size`.
    pub fn fetch_max_response_size(self, size: impl SizeSetting) -> ConfigBuilder {
        self.set(Section::Fetch, "max_response_size", size_value(size))
    }

    /// `[fetch] max_requests`.
    pub fn fetch_max_requests(self, requests: u32) -> ConfigBuilder {
        self.set(Section::Fetch, "max_requests", i64::from(requests).into())
    }

    /// `[fetch] max_in_flight`.
    pub fn fetch_max_in_flight(self, requests: u32) -> ConfigBuilder {
        self.set(Section::Fetch, "max_in_flight", i64::from(requests).into())
    }

    /// `[fetch] timeout`.
    pub fn fetch_timeout(self, timeout: impl DurationSetting) -> ConfigBuilder {
        self.set(Section::Fetch, "timeout", duration_value(timeout))
    }

    /// `[fetch] max_redirects`.
    pub fn fetch_max_redirects(self, hops: u32) -> ConfigBuilder {
        self.set(Section::Fetch, "max_redirects", i64::from(hops).into())
    }

    /// `[secrets] dir`.
    pub fn secrets_dir(self, dir: &Path) -> ConfigBuilder {
        self.set(Section::Secrets, "dir", path_value(dir))
    }

    /// A `[[secret]]` entry.
    pub fn secret(mut self, secret: Secret) -> ConfigBuilder {
        self.secrets.push(secret.entry);
        self
    }

    /// A `[[script]]` named `name` with `source`, like [`ConfigBuilder::script`], with the
    /// host-API keys of `grants` (`allow_net`, `allow_private`, `secrets`,
    /// `state_namespace`).
    pub fn script_with_grants(mut self, name: &str, source: &str, grants: Grants) -> ConfigBuilder {
        self.grants.insert(name.to_owned(), grants.entry);
        self.script(name, source)
    }

    /// `[store] synchronous`.
    pub fn synchronous(self, mode: SyncSetting) -> ConfigBuilder {
        let text = match mode {
            SyncSetting::Full => "full",
            SyncSetting::Normal => "normal",
        };
        self.set(Section::Store, "synchronous", text.into())
    }

    /// `[store] node_id`.
    pub fn node_id(self, node: &str) -> ConfigBuilder {
        self.set(Section::Store, "node_id", node.into())
    }

    /// `[store] lease_length`.
    pub fn lease_length(self, length: impl DurationSetting) -> ConfigBuilder {
        self.set(Section::Store, "lease_length", duration_value(length))
    }

    /// `[control] request_timeout`.
    pub fn request_timeout(self, timeout: impl DurationSetting) -> ConfigBuilder {
        self.set(Section::Control, "request_timeout", duration_value(timeout))
    }

    /// A `[[script]]` named `name` with `source`, written to `<name>.js` next to the config.
    pub fn script(mut self, name: &str, source: &str) -> ConfigBuilder {
        self.scripts
            .push((name.to_owned(), ScriptSource::Text(source.to_owned())));
        self
    }

    /// A `[[script]]` named `name` with `source`, like [`ConfigBuilder::script`], that opts
    /// in to node compatibility (`node_compat = true`).
    pub fn node_compat_script(mut self, name: &str, source: &str) -> ConfigBuilder {
        self.node_compat_scripts.push(name.to_owned());
        self.script(name, source)
    }

    /// A `[[script]]` named `name` whose source is the job fixture of the same name
    /// ([`crate::fixture::job`]).
    pub fn fixture_script(self, name: &str) -> ConfigBuilder {
        self.script(name, &crate::fixture::job(name))
    }

    /// A `[[script]]` entry naming `path` as it is (nothing is written there).
    pub fn script_path(mut self, name: &str, path: &Path) -> ConfigBuilder {
        self.scripts
            .push((name.to_owned(), ScriptSource::Path(path.to_owned())));
        self
    }

    /// A `[[script]]` entry naming the directory `dir` (a multi-file script) with the
    /// entry module `entry` inside it.
    pub fn script_dir_with_entry(mut self, name: &str, dir: &Path, entry: &str) -> ConfigBuilder {
        self.scripts.push((
            name.to_owned(),
            ScriptSource::Directory {
                dir: dir.to_owned(),
                entry: entry.to_owned(),
            },
        ));
        self
    }

    /// A `[[schedule]]` entry.
    pub fn schedule(mut self, schedule: Schedule) -> ConfigBuilder {
        self.schedules.push(schedule.entry);
        self
    }

    /// TOML added as it is, after the top keys and before the sections: only for tests of
    /// the file's parsing (the flat layout, unknown or misplaced keys, bad values).
    pub fn raw(mut self, toml: &str) -> ConfigBuilder {
        self.raw.push_str(toml);
        self.raw.push('\n');
        self
    }

    fn top_key(mut self, key: &str, value: Value) -> ConfigBuilder {
        self.top.insert(key.to_owned(), value);
        self
    }

    fn set(mut self, section: Section, key: &str, value: Value) -> ConfigBuilder {
        self.sections
            .entry(section)
            .or_default()
            .insert(key.to_owned(), value);
        self
    }

    /// Writes the scripts into `dir` and returns the config's text, with the state and
    /// run directories `dir/data` and `dir/run`.
    pub(crate) fn write_scripts_and_render(&self, dir: &Path) -> String {
        let mut top = Table::new();
        top.insert("state_dir".into(), path_value(&dir.join("data")));
        top.insert("run_dir".into(), path_value(&dir.join("run")));
        top.extend(self.top.clone());

        let mut rest = Table::new();
        for (section, table) in &self.sections {
            rest.insert(section.name().into(), Value::Table(table.clone()));
        }
        let scripts: Vec<Value> = self
            .scripts
            .iter()
            .map(|(name, source)| {
                let (path, entry_module) = match source {
                    ScriptSource::Text(text) => {
                        let file = dir.join(format!("{name}.js"));
                        std::fs::write(&file, text).expect("write script");
                        (file, None)
                    }
                    ScriptSource::Path(path) => (path.clone(), None),
                    ScriptSource::Directory { dir, entry } => (dir.clone(), Some(entry)),
                };
                let mut entry = Table::new();
                entry.insert("name".into(), name.as_str().into());
                entry.insert("path".into(), path_value(&path));
                if let Some(module) = entry_module {
                    entry.insert("entry".into(), module.as_str().into());
                }
                if self.node_compat_scripts.contains(name) {
                    entry.insert("node_compat".into(), true.into());
                }
                if let Some(grants) = self.grants.get(name) {
                    entry.extend(grants.clone());
                }
                Value::Table(entry)
            })
            .collect();
        if !scripts.is_empty() {
            rest.insert("script".into(), Value::Array(scripts));
        }
        if !self.secrets.is_empty() {
            let secrets = self.secrets.iter().cloned().map(Value::Table).collect();
            rest.insert("secret".into(), Value::Array(secrets));
        }
        if !self.schedules.is_empty() {
            let schedules = self.schedules.iter().cloned().map(Value::Table).collect();
            rest.insert("schedule".into(), Value::Array(schedules));
        }
        // The top keys first: a key after a section header would belong to that section.
        let mut text = toml::to_string(&top).expect("the top keys render as TOML");
        text.push_str(&self.raw);
        text.push_str(&toml::to_string(&rest).expect("the sections render as TOML"));
        text
    }
}

/// One `[[schedule]]` entry: [`Schedule::every`] a duration, then its options.
#[derive(Debug, Clone)]
pub struct Schedule {
    entry: Table,
}

impl Schedule {
    /// A schedule `name` that runs `script` every `interval`.
    pub fn every(name: &str, script: &str, interval: impl DurationSetting) -> Schedule {
        Schedule::new(name, script).set("every", duration_value(interval))
    }

    /// A schedule `name` that runs `script` at the times of a cron `expression` (UTC
    /// unless [`Schedule::timezone`] says otherwise).
    pub fn cron(name: &str, script: &str, expression: &str) -> Schedule {
        Schedule::new(name, script).set("cron", expression.into())
    }

    fn new(name: &str, script: &str) -> Schedule {
        let mut entry = Table::new();
        entry.insert("name".into(), name.into());
        entry.insert("script".into(), script.into());
        Schedule { entry }
    }

    /// `timezone`: an IANA name for a cron schedule.
    pub fn timezone(self, zone: &str) -> Schedule {
        self.set("timezone", zone.into())
    }

    /// `payload`, as JSON text.
    pub fn payload(self, json: &str) -> Schedule {
        self.set("payload", json.into())
    }

    /// `overlap`.
    pub fn overlap(self, policy: OverlapPolicy) -> Schedule {
        self.set("overlap", policy.as_str().into())
    }

    /// `catch_up`.
    pub fn catch_up(self, policy: CatchUpPolicy) -> Schedule {
        self.set("catch_up", policy.as_str().into())
    }

    /// `disable_after_failures`.
    pub fn disable_after_failures(self, failures: u32) -> Schedule {
        self.set("disable_after_failures", i64::from(failures).into())
    }

    fn set(mut self, key: &str, value: Value) -> Schedule {
        self.entry.insert(key.to_owned(), value);
        self
    }
}

/// The host-API keys of one `[[script]]`, for [`ConfigBuilder::script_with_grants`].
#[derive(Debug, Clone, Default)]
pub struct Grants {
    entry: Table,
}

impl Grants {
    pub fn new() -> Grants {
        Grants::default()
    }

    /// `allow_net`: the hosts its jobs may fetch from.
    pub fn allow_net(self, hosts: &[&str]) -> Grants {
        self.set("allow_net", strings_value(hosts))
    }

    /// `allow_private`: exact `host:port`s it may reach on a private address.
    pub fn allow_private(self, host_ports: &[&str]) -> Grants {
        self.set("allow_private", strings_value(host_ports))
    }

    /// `secrets`: the `[[secret]]`s its jobs may use.
    pub fn secrets(self, names: &[&str]) -> Grants {
        self.set("secrets", strings_value(names))
    }

    /// `state_namespace`.
    pub fn state_namespace(self, namespace: &str) -> Grants {
        self.set("state_namespace", namespace.into())
    }

    fn set(mut self, key: &str, value: Value) -> Grants {
        self.entry.insert(key.to_owned(), value);
        self
    }
}

/// One `[[secret]]` entry: [`Secret::named`], then its options.
#[derive(Debug, Clone)]
pub struct Secret {
    entry: Table,
}

impl Secret {
    /// A secret `name`, read from `<secrets dir>/<name>` unless [`Secret::file`] says
    /// otherwise.
    pub fn named(name: &str) -> Secret {
        let mut entry = Table::new();
        entry.insert("name".into(), name.into());
        Secret { entry }
    }

    /// `hosts`: where a reference to it may be sent.
    pub fn hosts(self, hosts: &[&str]) -> Secret {
        self.set("hosts", strings_value(hosts))
    }

    /// `expose = true`: granted scripts may read the value.
    pub fn exposed(self) -> Secret {
        self.set("expose", true.into())
    }

    /// `file`: where its value is.
    pub fn file(self, path: &Path) -> Secret {
        self.set("file", path_value(path))
    }

    fn set(mut self, key: &str, value: Value) -> Secret {
        self.entry.insert(key.to_owned(), value);
        self
    }
}

/// A list of strings.
fn strings_value(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|&item| item.into()).collect())
}

/// A duration as the file writes it.
fn duration_value(duration: impl DurationSetting) -> Value {
    let duration = duration.duration();
    let text = format_duration(duration);
    assert_eq!(
        parse_duration(&text).ok(),
        Some(duration),
        "{duration:?} has no exact form in the file (whole milliseconds)"
    );
    text.into()
}

/// A size as the file writes it: with its unit when it has an exact one, else in bytes.
fn size_value(size: impl SizeSetting) -> Value {
    let bytes = size.bytes();
    let text = format_size(bytes);
    if parse_size(&text).ok() == Some(bytes) {
        text.into()
    } else {
        i64::try_from(bytes)
            .expect("a size the file can hold")
            .into()
    }
}

fn path_value(path: &Path) -> Value {
    path.to_str()
        .expect("test directories have UTF-8 paths")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobvisor_supervisor::config::Config;

    /// The config `builder` renders in a fresh directory, read by the daemon's own loader.
    fn load(builder: &ConfigBuilder) -> (tempfile::TempDir, String, Config) {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = builder.write_scripts_and_render(dir.path());
        let path = dir.path().join("jobvisor.toml");
        std::fs::write(&path, &text).expect("write config");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        (dir, text, config)
    }

    #[test]
    fn every_setting_is_read_by_the_daemon_from_its_section() {
        let builder = ConfigBuilder::new()
            .drain_timeout("2s")
            .log_format(LogFormat::Json)
            .workers(3)
            .isolation(IsolationSetting::Job)
            .memory_limit("128MiB")
            .memory_limiter(LimiterChoice::Rlimit)
            .kill_grace(Duration::from_millis(50))
            .restart_backoff("10ms", "200ms")
            .restart_intensity(2, "60s")
            .job_timeout("1m30s")
            .max_attempts(7)
            .retry_backoff("20ms", Duration::from_millis(50))
            .payload_limit(1 << 20)
            .synchronous(SyncSetting::Normal)
            .node_id("node-a")
            .lease_length("10s")
            .request_timeout("1s")
            .script("echo", "export default (p) => p")
            .schedule(
                Schedule::every("tick", "echo", "1s")
                    .payload(r#"{"ms":1}"#)
                    .overlap(OverlapPolicy::Allow)
                    .catch_up(CatchUpPolicy::Skip)
                    .disable_after_failures(3),
            )
            .schedule(Schedule::cron("nightly", "echo", "0 2 * * *").timezone("Europe/Berlin"));
        let (dir, text, config) = load(&builder);
        assert!(
            config.moved.is_empty(),
            "no flat key: {:?}\n{text}",
            config.moved
        );
        assert_eq!(config.state_dir, dir.path().join("data"));
        assert_eq!(config.run_dir, dir.path().join("run"));
        assert_eq!(config.drain_timeout, Duration::from_secs(2));
        assert_eq!(config.log_format, LogFormat::Json);
        let workers = &config.workers;
        assert_eq!(workers.count, 3);
        assert_eq!(workers.isolation, IsolationSetting::Job);
        assert_eq!(workers.memory_limit, 128 << 20);
        assert_eq!(workers.memory_limiter, LimiterChoice::Rlimit);
        assert_eq!(workers.kill_grace, Duration::from_millis(50));
        assert_eq!(workers.restart_backoff_min, Duration::from_millis(10));
        assert_eq!(workers.restart_backoff_max, Duration::from_millis(200));
        assert_eq!(workers.restart_intensity_max, 2);
        assert_eq!(workers.restart_intensity_window, Duration::from_secs(60));
        let jobs = &config.jobs;
        assert_eq!(jobs.timeout, Duration::from_secs(90));
        assert_eq!(jobs.max_attempts, 7);
        assert_eq!(jobs.retry_backoff_base, Duration::from_millis(20));
        assert_eq!(jobs.retry_backoff_max, Duration::from_millis(50));
        assert_eq!(jobs.payload_limit, 1 << 20);
        assert_eq!(config.store.synchronous, SyncSetting::Normal);
        assert_eq!(config.store.node_id.as_deref(), Some("node-a"));
        assert_eq!(config.store.lease_length, Duration::from_secs(10));
        assert_eq!(config.control.request_timeout, Duration::from_secs(1));
        assert_eq!(
            config.read_scripts().expect("the script is written"),
            [("echo".to_owned(), "export default (p) => p".to_owned())]
        );
        let [tick, nightly] = &config.schedules[..] else {
            panic!("two schedules: {:?}", config.schedules);
        };
        assert_eq!((tick.name.as_str(), tick.script.as_str()), ("tick", "echo"));
        assert_eq!(tick.payload, r#"{"ms":1}"#);
        assert_eq!(tick.overlap, OverlapPolicy::Allow);
        assert_eq!(tick.catch_up, CatchUpPolicy::Skip);
        assert_eq!(tick.disable_after_failures, 3);
        assert_eq!(nightly.name, "nightly");
    }

    #[test]
    fn the_host_api_settings_are_read_by_the_daemon() {
        let builder = ConfigBuilder::new()
            .signal_margin("200ms")
            .max_children(7)
            .fetch_allow_net(&["a.example"])
            .fetch_allow_private(&["127.0.0.1:1"])
            .fetch_max_response_size("1KiB")
            .fetch_max_requests(9)
            .fetch_max_in_flight(3)
            .fetch_timeout("2s")
            .fetch_max_redirects(4)
            .secrets_dir(Path::new("/nonexistent/secrets"))
            .secret(Secret::named("TOKEN").hosts(&["b.example"]).exposed())
            .secret(Secret::named("KEY").file(Path::new("/nonexistent/key")))
            .script_with_grants(
                "poller",
                "export default () => 1",
                Grants::new()
                    .allow_net(&["c.example"])
                    .allow_private(&["localhost:2"])
                    .secrets(&["TOKEN", "KEY"])
                    .state_namespace("shared"),
            );
        let (_dir, text, config) = load(&builder);
        assert_eq!(
            config.jobs.signal_margin,
            Duration::from_millis(200),
            "{text}"
        );
        assert_eq!(config.jobs.max_children, 7);
        let fetch = &config.fetch;
        assert_eq!(fetch.allow_net, ["a.example"]);
        assert_eq!(fetch.allow_private, ["127.0.0.1:1"]);
        assert_eq!(fetch.max_response_size, 1024);
        assert_eq!(fetch.max_requests, 9);
        assert_eq!(fetch.max_in_flight, 3);
        assert_eq!(fetch.timeout, Duration::from_secs(2));
        assert_eq!(fetch.max_redirects, 4);
        assert_eq!(
            config.secrets_dir.dir.as_deref(),
            Some(Path::new("/nonexistent/secrets"))
        );
        let [token, key] = &config.secrets[..] else {
            panic!("two secrets: {:?}", config.secrets);
        };
        assert_eq!((token.name.as_str(), token.expose), ("TOKEN", true));
        assert_eq!(token.hosts, ["b.example"]);
        assert_eq!(key.file.as_deref(), Some(Path::new("/nonexistent/key")));
        let script = &config.scripts[0];
        assert_eq!(script.allow_net, ["c.example"]);
        assert_eq!(script.allow_private, ["localhost:2"]);
        assert_eq!(script.secrets, ["TOKEN", "KEY"]);
        assert_eq!(script.namespace(), "shared");
    }

    #[test]
    fn a_setting_set_twice_keeps_the_last_value_in_one_section() {
        let builder = ConfigBuilder::new()
            .workers(3)
            .job_timeout("5s")
            .workers(2)
            .job_timeout(Duration::from_secs(6));
        let (_dir, text, config) = load(&builder);
        assert_eq!(config.workers.count, 2, "{text}");
        assert_eq!(config.jobs.timeout, Duration::from_secs(6), "{text}");
        assert_eq!(text.matches("[workers]").count(), 1, "{text}");
        assert_eq!(text.matches("count").count(), 1, "{text}");
    }

    #[test]
    fn raw_text_stays_at_the_top_before_the_sections() {
        let builder = ConfigBuilder::new().workers(2).raw("job_timeout = \"5s\"");
        let (_dir, text, config) = load(&builder);
        assert_eq!(config.jobs.timeout, Duration::from_secs(5), "{text}");
        assert_eq!(config.workers.count, 2, "{text}");
        assert_eq!(config.moved.len(), 1, "the raw key is a flat one: {text}");
    }

    #[test]
    fn a_script_path_is_written_as_given() {
        let builder = ConfigBuilder::new().script_path("gone", Path::new("/nonexistent/gone.js"));
        let (_dir, _text, config) = load(&builder);
        assert_eq!(config.scripts[0].path, Path::new("/nonexistent/gone.js"));
    }

    #[test]
    fn sizes_and_durations_keep_their_exact_value() {
        assert_eq!(size_value(128u64 << 20).as_str(), Some("128MiB"));
        assert_eq!(size_value(1000u64).as_str(), Some("1000B"));
        assert_eq!(size_value(1_500_000u64).as_integer(), Some(1_500_000));
        assert_eq!(duration_value("1500ms").as_str(), Some("1500ms"));
        assert_eq!(duration_value("90s").as_str(), Some("1m30s"));
    }

    #[test]
    fn strings_are_escaped() {
        let builder = ConfigBuilder::new().node_id("a\"b\\c");
        let (_dir, text, config) = load(&builder);
        assert_eq!(config.store.node_id.as_deref(), Some("a\"b\\c"), "{text}");
    }
}
