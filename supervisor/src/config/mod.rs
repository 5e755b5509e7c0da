//! The daemon's configuration: a TOML file in which every key is optional, unknown keys
//! are errors that name the key (and the closest one that exists), durations read like
//! `"30s"` and sizes like `"256MiB"`.
//!
//! Layout: a few daemon-wide keys at the top (`state_dir`, `run_dir`, `drain_timeout`,
//! `log_format`), then one section per part of the daemon, each in its own file here that
//! owns the section's keys, defaults and ranges and builds its component's settings:
//! `[workers]` (the pool), `[jobs]` (job defaults and sizes), `[store]`, `[control]`, and
//! the `[[script]]` and `[[schedule]]` lists. [`layout`] knows where the keys of the first,
//! flat layout went and rewrites such a file before it is read.
//!
//! This module owns parsing, defaults and validation. It must not act on the values: no
//! directory is created and no file other than the config and `[[script]]` sources read.

mod control;
mod host;
mod jobs;
mod layout;
mod schedules;
mod scripts;
mod store;
mod values;
mod workers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use control::ControlSection;
pub use host::{FetchSection, MAX_REQUEST_SIZE, SecretEntry, SecretsSection};
pub use jobs::{JobsSection, MAX_PAYLOAD_LIMIT, MAX_RESULT_LIMIT};
pub(crate) use layout::KeyNames;
pub use layout::MovedKey;
pub use schedules::schedule_def_from_spec;
pub use scripts::ScriptEntry;
pub use store::{StoreSection, SyncSetting};
pub use values::{HumanDuration, HumanSize};
pub use workers::{
    DEFAULT_KILL_GRACE, DEFAULT_WORKER_START_TIMEOUT, IsolationSetting, WorkersSection,
};

use crate::schedule::ScheduleDef;

/// Why the configuration is unusable. Exit code 78 (EX_CONFIG): restarting will not help.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: {0}")]
    Invalid(String),
    #[error("config: script `{name}`: cannot read {path}: {source}")]
    ScriptRead {
        name: String,
        path: PathBuf,
        #[source]
        source: crate::script_files::ScriptFilesError,
    },
    #[error("config: script `{name}` ({path}) was refused: {problem}")]
    ScriptRefused {
        name: String,
        path: PathBuf,
        problem: String,
    },
    #[error("config: schedule `{schedule}` runs script `{script}`, which does not exist; {known}")]
    UnknownScript {
        schedule: String,
        script: String,
        /// The scripts there are, with the closest name.
        known: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The effective configuration, defaults filled in: the file is read straight into it,
/// each section into its own struct.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the config was read from (None: embedded defaults).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Keys written in the first, flat layout, each read from its old place.
    #[serde(skip)]
    pub moved: Vec<MovedKey>,
    #[serde(default = "default_state_dir", deserialize_with = "non_empty_path")]
    pub state_dir: PathBuf,
    /// Empty until the file is read: then `<state_dir>`'s default when not given.
    #[serde(default, deserialize_with = "non_empty_path")]
    pub run_dir: PathBuf,
    /// After SIGTERM, running jobs may finish for this long.
    #[serde(
        default = "default_drain_timeout",
        deserialize_with = "values::duration"
    )]
    pub drain_timeout: Duration,
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default)]
    pub workers: WorkersSection,
    #[serde(default)]
    pub jobs: JobsSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub control: ControlSection,
    #[serde(default)]
    pub fetch: FetchSection,
    #[serde(default, rename = "secrets")]
    pub secrets_dir: SecretsSection,
    /// `[[secret]]` entries: what a script's `secrets` may grant.
    #[serde(default, rename = "secret")]
    pub secrets: Vec<SecretEntry>,
    #[serde(default, rename = "script")]
    pub scripts: Vec<ScriptEntry>,
    /// `[[schedule]]` entries, reconciled with the store by name at start.
    #[serde(
        default,
        rename = "schedule",
        deserialize_with = "schedules::deserialize_entries"
    )]
    pub schedules: Vec<ScheduleDef>,
}

/// A key the file may set, for documentation and its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    /// `None`: at the top of the file.
    pub section: Option<&'static str>,
    pub name: &'static str,
    /// A list of tables (`[[script]]`), not a value.
    pub is_list: bool,
}

/// The sections, each with the keys it reads.
fn sections() -> [(&'static str, &'static [&'static str]); 6] {
    [
        ("workers", layout::fields_of::<WorkersSection>()),
        ("jobs", layout::fields_of::<JobsSection>()),
        ("store", layout::fields_of::<StoreSection>()),
        ("control", layout::fields_of::<ControlSection>()),
        ("fetch", layout::fields_of::<FetchSection>()),
        ("secrets", layout::fields_of::<SecretsSection>()),
    ]
}

/// Every key of the file, section by section (the top first).
pub fn keys() -> Vec<ConfigKey> {
    let sections = sections();
    let mut keys: Vec<ConfigKey> = layout::fields_of::<Config>()
        .iter()
        .filter(|name| !sections.iter().any(|(section, _)| section == *name))
        .map(|&name| ConfigKey {
            section: None,
            name,
            is_list: matches!(name, "script" | "schedule" | "secret"),
        })
        .collect();
    for (section, names) in sections {
        keys.extend(names.iter().map(|&name| ConfigKey {
            section: Some(section),
            name,
            is_list: false,
        }));
    }
    keys
}

impl Config {
    /// Reads and validates a config file. Relative paths in it (`state_dir`, `run_dir`,
    /// script paths) are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::parse_relative_to(&text, Some(base)).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// The embedded defaults (`jobvisor serve` with no config file).
    pub fn embedded() -> Config {
        match Config::parse("") {
            Ok(config) => config,
            Err(err) => unreachable!("the empty config is valid: {err}"),
        }
    }

    /// Parses config text; relative paths stay relative to the working directory.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_relative_to(text, None)
    }

    fn parse_relative_to(text: &str, base: Option<&Path>) -> Result<Config, ConfigError> {
        let parse_error = |mut err: toml::de::Error| {
            err.set_input(Some(text));
            ConfigError::Parse {
                path: PathBuf::from("<config>"),
                message: err.to_string().trim_end().to_owned(),
            }
        };
        let mut root = toml::de::DeTable::parse(text).map_err(parse_error)?;
        let moved = layout::move_flat_keys(root.get_mut(), text)?;
        layout::refuse_unknown_keys(
            root.get_ref(),
            text,
            layout::fields_of::<Config>(),
            &sections(),
        )?;
        let mut config =
            Config::deserialize(toml::de::Deserializer::from(root)).map_err(parse_error)?;
        config.moved = moved;
        let resolve = |p: &mut PathBuf| {
            if let Some(base) = base
                && p.is_relative()
            {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.state_dir);
        if config.run_dir.as_os_str().is_empty() {
            config.run_dir = default_run_dir(&config.state_dir);
        } else {
            resolve(&mut config.run_dir);
        }
        for script in &mut config.scripts {
            resolve(&mut script.path);
        }
        for secret in &mut config.secrets {
            if let Some(file) = &mut secret.file {
                resolve(file);
            }
        }
        if let Some(dir) = &mut config.secrets_dir.dir {
            resolve(dir);
        }
        if let Some(file) = &mut config.fetch.ca_file {
            resolve(file);
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let names = self.key_names();
        values::check_duration(
            "drain_timeout",
            self.drain_timeout,
            Duration::ZERO,
            Duration::from_secs(86_400),
        )?;
        self.workers.validate(names)?;
        self.jobs.validate(names)?;
        self.store.validate(names)?;
        self.control.validate(names)?;
        self.fetch.validate(names)?;
        host::validate_secrets(&self.secrets)?;
        scripts::validate(&self.scripts, &self.secrets)?;
        schedules::validate(&self.schedules)
    }

    fn key_names(&self) -> KeyNames<'_> {
        KeyNames { moved: &self.moved }
    }

    /// Reads the source of every `[[script]]` entry.
    pub fn read_scripts(&self) -> Result<Vec<(String, String)>, ConfigError> {
        scripts::read(&self.scripts)
    }

    /// Refuses a `[[schedule]]` whose script is neither a `[[script]]` entry nor among
    /// `registered` (scripts already in the store), naming those there are.
    pub fn check_schedule_scripts(&self, registered: &[String]) -> Result<(), ConfigError> {
        schedules::check_scripts(&self.schedules, &self.scripts, registered)
    }

    /// The gid of `[control] group`, if set.
    pub fn control_gid(&self) -> Result<Option<u32>, ConfigError> {
        self.control.gid(self.key_names())
    }

    /// Where the secrets' files are: `[secrets] dir`, by default `<state_dir>/secrets`.
    pub fn secrets_dir(&self) -> PathBuf {
        self.secrets_dir
            .dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("secrets"))
    }

    /// The `[[script]]` entry named `name`.
    pub fn script(&self, name: &str) -> Option<&ScriptEntry> {
        self.scripts.iter().find(|script| script.name == name)
    }

    pub fn database_path(&self) -> PathBuf {
        self.state_dir.join("jobvisor.db")
    }

    pub fn control_socket_path(&self) -> PathBuf {
        self.run_dir.join("control.sock")
    }
}

/// A path that is written must say something: `state_dir = ""` is a mistake, not the
/// default.
fn non_empty_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let path = PathBuf::deserialize(d)?;
    if path.as_os_str().is_empty() {
        return Err(serde::de::Error::custom(
            "an empty path: leave the key out for the default",
        ));
    }
    Ok(path)
}

fn default_drain_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_state_dir() -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("jobvisor"),
        _ => PathBuf::from("jobvisor-data"),
    }
}

fn default_run_dir(state_dir: &Path) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("jobvisor"),
        _ => state_dir.join("run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::LimiterChoice;
    use crate::schedule::OverlapPolicy;

    #[test]
    fn empty_config_has_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.jobs.timeout, Duration::from_secs(30));
        assert_eq!(config.workers.memory_limit, 256 << 20);
        assert!(config.workers.count >= 1);
        assert_eq!(config.workers.isolation, IsolationSetting::Script);
        assert_eq!(config.store.synchronous, SyncSetting::Full);
        assert!(config.moved.is_empty());
    }

    #[test]
    fn values_are_read_in_human_units() {
        let config = Config::parse(
            r#"
            drain_timeout = "5s"
            [workers]
            count = 4
            memory_limit = "128MiB"
            isolation = "job"
            memory_limiter = "rlimit"
            [jobs]
            timeout = "1m30s"
            [[script]]
            name = "hello"
            path = "examples/hello.js"
            "#,
        )
        .unwrap();
        assert_eq!(config.workers.count, 4);
        assert_eq!(config.jobs.timeout, Duration::from_secs(90));
        assert_eq!(config.workers.memory_limit, 128 << 20);
        assert_eq!(config.workers.isolation, IsolationSetting::Job);
        assert_eq!(config.workers.memory_limiter, LimiterChoice::Rlimit);
        assert_eq!(config.drain_timeout, Duration::from_secs(5));
        assert!(config.moved.is_empty());
        assert_eq!(config.scripts[0].name, "hello");
    }

    #[test]
    fn node_compat_is_off_unless_a_script_opts_in_with_a_boolean() {
        let config = Config::parse(
            "[[script]]\nname = \"a\"\npath = \"a.js\"\n\
             [[script]]\nname = \"b\"\npath = \"b.js\"\nnode_compat = true",
        )
        .unwrap();
        let flags: Vec<_> = config.scripts.iter().map(|s| s.node_compat).collect();
        assert_eq!(flags, [false, true]);
        let settings = crate::pool::slot::SlotSettings::from(&config);
        assert_eq!(
            settings.node_compat_scripts.iter().collect::<Vec<_>>(),
            ["b"]
        );
        let err = Config::parse("[[script]]\nname = \"a\"\npath = \"a.js\"\nnode_compat = \"yes\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid type: string \"yes\", expected a boolean"),
            "{err}"
        );
        assert!(err.contains("node_compat"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("wrokers = 3").unwrap_err().to_string();
        assert!(err.contains("wrokers"), "{err}");
        let err = Config::parse("[[script]]\nname = \"a\"\npath = \"a.js\"\npth = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pth"), "{err}");
    }

    #[test]
    fn schedules_are_read_and_checked() {
        let config = Config::parse(
            r#"
            [[schedule]]
            name = "poll"
            script = "hello"
            every = "30s"
            payload = { url = "https://example.com", n = 3 }
            [[schedule]]
            name = "nightly"
            script = "hello"
            cron = "30 2 * * *"
            timezone = "Europe/Berlin"
            overlap = "queue"
            disable_after_failures = 2
            [[schedule]]
            name = "default-interval"
            script = "hello"
            "#,
        )
        .unwrap();
        assert_eq!(config.schedules.len(), 3);
        assert_eq!(
            config.schedules[0].payload,
            r#"{"n":3,"url":"https://example.com"}"#
        );
        assert_eq!(config.schedules[1].timing.kind(), "cron");
        assert_eq!(config.schedules[1].overlap, OverlapPolicy::Queue);
        assert_eq!(config.schedules[2].timing.spec_text(), "60000");
        for (text, expected) in [
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\ncron = \"61 * * * *\"",
                "schedule `a`: cron field minute",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\nevery = \"1s\"\ncron = \"* * * * *\"",
                "not both",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\ncron = \"* * * * *\"\ntimezone = \"Mars/Olympus\"",
                "unknown time zone",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\noverlap = \"sometimes\"",
                "overlap = \"sometimes\"",
            ),
            (
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\nevry = \"1s\"",
                "evry",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn a_schedule_of_an_unknown_script_names_the_closest() {
        let config = Config::parse(
            "[[script]]\nname = \"report\"\npath = \"r.js\"\n\
             [[schedule]]\nname = \"nightly\"\nscript = \"reprot\"",
        )
        .unwrap();
        let err = config.check_schedule_scripts(&[]).unwrap_err().to_string();
        assert!(err.contains("schedule `nightly`"), "{err}");
        assert!(err.contains("the scripts are report"), "{err}");
        assert!(err.contains("did you mean `report`?"), "{err}");
        config
            .check_schedule_scripts(&["reprot".to_owned()])
            .unwrap();
        assert_eq!(crate::suggest::closest("x", ["report"]), None);
    }

    #[test]
    fn schedule_periods_and_jitter_are_bounded() {
        for (timing, named) in [
            ("every = \"3651d\"", "every is 3651d: at most 3650d"),
            (
                "every = \"1m\"\njitter = \"2d\"",
                "jitter is 2d: at most 1d",
            ),
        ] {
            let err = Config::parse(&format!(
                "[[schedule]]\nname = \"a\"\nscript = \"s\"\n{timing}"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(named), "{err}");
        }
        // A control request carries milliseconds as u64: the largest is refused, not added.
        let spec = jobvisor_protocol::control::ScheduleSpec {
            name: "a".into(),
            script: "s".into(),
            every_ms: Some(60_000),
            jitter_ms: Some(u64::MAX),
            ..Default::default()
        };
        let err = schedule_def_from_spec(&spec).unwrap_err();
        assert!(err.contains("jitter is"), "{err}");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let err = Config::parse("job_timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a duration"), "{err}");
        let err = Config::parse("memory_limit = \"12 parsecs\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown size unit"), "{err}");
        let err = Config::parse("workers = 0").unwrap_err().to_string();
        assert!(err.contains("between 1 and 1024"), "{err}");
        let err = Config::parse("[[script]]\nname = \"a b\"\npath = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("script name `a b`"), "{err}");
    }

    #[test]
    fn unknown_keys_suggest_the_closest_or_their_section() {
        for (text, expected) in [
            (
                "wrokers = 3",
                "unknown key `wrokers` (line 1): did you mean `workers`?",
            ),
            (
                "\n[workers]\ncuont = 3",
                "unknown key `cuont` in `[workers]` (line 3): did you mean `count`?",
            ),
            (
                "[workers]\npayload_limit = \"1MiB\"",
                "unknown key `payload_limit` in `[workers]` (line 2): it belongs in `[jobs]`",
            ),
            (
                "rss_soft_limit = \"1MiB\"",
                "unknown key `rss_soft_limit` (line 1): it belongs in `[workers]`",
            ),
            (
                "[store]\nretention = \"1d\"",
                "unknown key `retention` in `[store]`",
            ),
            ("[http]\nlisten = \"x\"", "unknown key `http`"),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn each_section_reads_its_keys_and_checks_its_ranges() {
        let config = Config::parse(
            r#"
            state_dir = "/s"
            log_format = "json"
            [workers]
            count = 3
            rss_soft_limit = "64MiB"
            start_timeout = "2s"
            kill_grace = "1s"
            restart_backoff_min = "1s"
            restart_backoff_max = "2s"
            restart_intensity_max = 7
            restart_intensity_window = "5m"
            max_jobs_per_worker = 9
            [jobs]
            timeout = "10s"
            max_attempts = 5
            retry_backoff_base = "2s"
            retry_backoff_max = "4s"
            payload_limit = "2MiB"
            result_limit = "8MiB"
            [store]
            synchronous = "normal"
            retention_completed = "1d"
            retention_discarded = "2d"
            node_id = "web-1"
            lease_length = "1m"
            [control]
            request_timeout = "5s"
            "#,
        )
        .unwrap();
        assert_eq!(config.state_dir, Path::new("/s"));
        assert_eq!(config.run_dir, default_run_dir(Path::new("/s")));
        assert_eq!(config.log_format, LogFormat::Json);
        let slot = crate::pool::slot::SlotSettings::from(&config);
        assert_eq!(slot.start_timeout, Duration::from_secs(2));
        assert_eq!(slot.kill_grace, Duration::from_secs(1));
        assert_eq!(slot.restart.intensity_max, 7);
        assert_eq!(slot.restart.window, Duration::from_secs(300));
        assert_eq!(slot.max_jobs_per_worker, 9);
        assert_eq!(slot.rss_soft_limit, 64 << 20);
        assert_eq!(slot.limits.max_result_bytes, 8 << 20);
        assert_eq!(slot.default_timeout, Duration::from_secs(10));
        let store = crate::store::StoreOptions::from(&config);
        assert_eq!(store.synchronous, crate::store::Synchronous::Normal);
        assert_eq!(store.max_payload_bytes, 2 << 20);
        assert_eq!(store.default_max_attempts, 5);
        assert_eq!(store.backoff.base, Duration::from_secs(2));
        assert_eq!(store.backoff.cap, Duration::from_secs(4));
        assert_eq!(store.node_id.as_deref(), Some("web-1"));
        assert_eq!(store.lease_length, Duration::from_secs(60));
        let retention = crate::store::Retention::from(&config.store);
        assert_eq!(retention.failed, Duration::from_secs(2 * 86_400));
        assert_eq!(config.control.request_timeout, Duration::from_secs(5));
        assert_eq!(config.control_gid().unwrap(), None);

        for (text, expected) in [
            (
                "[workers]\ncount = 0",
                "[workers] count = 0: must be between 1 and 1024",
            ),
            (
                "[workers]\nrestart_backoff_min = \"2s\"\nrestart_backoff_max = \"1s\"",
                "[workers] restart_backoff_min is above [workers] restart_backoff_max",
            ),
            (
                "[jobs]\npayload_limit = 0",
                "[jobs] payload_limit = 0 bytes: must be between 1KiB and 7MiB",
            ),
            (
                "[jobs]\ntimeout = \"31d\"",
                "[jobs] timeout = \"31d\": must be between",
            ),
            (
                "[store]\nretention_completed = \"3651d\"",
                "[store] retention_completed = \"3651d\"",
            ),
            (
                "[store]\nlease_length = \"1s\"",
                "[store] lease_length = \"1s\": must be between 3s and 1d",
            ),
            (
                "[store]\nnode_id = \"\"",
                "[store] node_id = \"\": must be 1 to 200 bytes without control characters",
            ),
            (
                "[control]\nrequest_timeout = \"1ms\"",
                "[control] request_timeout = \"1ms\": must be between 100ms and 1h",
            ),
            (
                "[control]\ngroup = \"no-such-group-here\"",
                "[control] group = \"no-such-group-here\": no such group",
            ),
            (
                "drain_timeout = \"2d\"",
                "drain_timeout = \"2d\": must be between",
            ),
            ("state_dir = \"\"", "an empty path"),
            ("[jobs]\ntimeout = \"soon\"", "line 2"),
        ] {
            let err = Config::parse(text)
                .and_then(|config| config.control_gid().map(|_| config))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn flat_keys_of_the_first_layout_are_read_from_their_old_place_and_reported() {
        let config = Config::parse(
            "workers = 2\njob_timeout = \"5s\"\ncontrol_group = \"root\"\n\
             worker_start_timeout = \"3s\"\n[jobs]\nmax_attempts = 4",
        )
        .unwrap();
        assert_eq!(config.workers.count, 2);
        assert_eq!(config.jobs.timeout, Duration::from_secs(5));
        assert_eq!(config.jobs.max_attempts, 4);
        assert_eq!(config.workers.start_timeout, Duration::from_secs(3));
        assert_eq!(config.control.group.as_deref(), Some("root"));
        let said: Vec<String> = config.moved.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "`workers` is now `[workers] count`",
                "`worker_start_timeout` is now `[workers] start_timeout`",
                "`job_timeout` is now `[jobs] timeout`",
                "`control_group` is now `[control] group`",
            ]
        );
        // An error in a moved value names the key as written and points at its line.
        let err = Config::parse("state_dir = \"/s\"\njob_timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("not a duration"),
            "{err}"
        );
        let err = Config::parse("workers = 0").unwrap_err().to_string();
        assert!(
            err.contains("workers = 0: must be between 1 and 1024"),
            "{err}"
        );
        assert!(!err.contains("[workers]"), "{err}");
        // The new layout alone reports nothing.
        assert!(
            Config::parse("[workers]\ncount = 2")
                .unwrap()
                .moved
                .is_empty()
        );
    }

    #[test]
    fn a_key_given_both_ways_is_an_error_naming_both() {
        let err = Config::parse("job_timeout = \"5s\"\n[jobs]\ntimeout = \"6s\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "`job_timeout` (line 1) and `[jobs] timeout` (line 3) are the same setting: keep only `[jobs] timeout`"
            ),
            "{err}"
        );
        let err = Config::parse("synchronous = \"full\"\n[store]\nsynchronous = \"normal\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`synchronous` (line 1) and `[store] synchronous`"),
            "{err}"
        );
    }

    #[test]
    fn keys_lists_every_section_and_the_top() {
        let keys = keys();
        let has = |section: Option<&str>, name: &str| {
            keys.iter().any(|k| k.section == section && k.name == name)
        };
        assert!(has(None, "state_dir") && has(None, "drain_timeout"));
        assert!(has(Some("workers"), "count") && has(Some("jobs"), "timeout"));
        assert!(has(Some("store"), "synchronous") && has(Some("control"), "group"));
        assert!(has(Some("store"), "node_id") && has(Some("store"), "lease_length"));
        assert!(keys.iter().any(|k| k.name == "script" && k.is_list));
        assert!(!has(None, "workers") && !has(None, "source") && !has(None, "moved"));
        assert!(has(Some("fetch"), "allow_net") && has(Some("secrets"), "dir"));
        assert!(keys.iter().any(|k| k.name == "secret" && k.is_list));
        assert_eq!(keys.len(), 45, "{keys:?}");
    }
}
