//! The deployment files in `deploy/`: `install.sh` into a staging root (layout, modes,
//! idempotence, an operator's config surviving a second run), the units checked by
//! `systemd-analyze verify`, and the example config loaded by the real parser and
//! documenting every key the parser knows.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use jobvisor_supervisor::config::{Config, LogFormat};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn deploy(file: &str) -> PathBuf {
    repo_root().join("deploy").join(file)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `deploy/install.sh ARGS` and returns what it printed.
fn install_sh(args: &[&str]) -> Output {
    Command::new(deploy("install.sh"))
        .args(args)
        .output()
        .expect("deploy/install.sh runs (is it executable?)")
}

/// Installs the binaries of this build below `root`, checking it succeeded.
fn install_into(root: &Path) -> String {
    let bin_dir = jobvisor_tests::bin_dir();
    // Panics with the fix if the binaries were not built.
    jobvisor_tests::bin("jobvisor");
    jobvisor_tests::bin("jobvisor-worker");
    let out = install_sh(&[
        "--prefix",
        root.to_str().unwrap(),
        "--bin-dir",
        bin_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe("install.sh", &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file and directory below `root`: relative path → (mode, content).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, Option<Vec<u8>>)> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, (u32, Option<Vec<u8>>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                into.insert(relative, (mode, None));
                walk(root, &path, into);
            } else {
                into.insert(relative, (mode, Some(std::fs::read(&path).unwrap())));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

/// Whether this build's `jobvisor` can print `args` (completions, man page).
fn jobvisor_supports(args: &[&str]) -> bool {
    Command::new(jobvisor_tests::bin("jobvisor"))
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
}

#[test]
fn install_sh_lays_out_the_files_and_a_second_run_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let first = install_into(&root);

    for name in ["jobvisor", "jobvisor-worker"] {
        let installed = root.join("usr/local/bin").join(name);
        assert_eq!(mode(&installed), 0o755, "{}", installed.display());
        assert!(
            std::fs::read(&installed).unwrap() == std::fs::read(jobvisor_tests::bin(name)).unwrap(),
            "{name} is not a copy of the built binary"
        );
    }
    let units = root.join("etc/systemd/system");
    for unit in ["jobvisor.service", "jobvisor@.service"] {
        assert_eq!(read(&units.join(unit)), read(&deploy(unit)), "{unit}");
        assert_eq!(mode(&units.join(unit)), 0o644, "{unit}");
    }
    let etc = root.join("etc/jobvisor");
    assert_eq!(mode(&etc), 0o750);
    let example = read(&deploy("jobvisor.toml"));
    assert_eq!(read(&etc.join("jobvisor.toml")), example);
    assert_eq!(mode(&etc.join("jobvisor.toml")), 0o640);
    assert_eq!(read(&etc.join("jobvisor.toml.example")), example);
    let state = root.join("var/lib/jobvisor");
    assert!(state.is_dir());
    assert_eq!(mode(&state), 0o700, "state directory");
    assert_eq!(
        read(&root.join("usr/local/share/doc/jobvisor/README.md")),
        read(&deploy("README.md"))
    );
    let generated = [
        (
            &["completions", "bash"][..],
            "usr/local/share/bash-completion/completions/jobvisor",
        ),
        (
            &["completions", "zsh"][..],
            "usr/local/share/zsh/site-functions/_jobvisor",
        ),
        (
            &["completions", "fish"][..],
            "usr/local/share/fish/vendor_completions.d/jobvisor.fish",
        ),
        (&["man"][..], "usr/local/share/man/man1/jobvisor.1"),
    ];
    for (args, file) in generated {
        let path = root.join(file);
        if jobvisor_supports(args) {
            assert!(path.is_file(), "{file} not installed\n{first}");
            assert_eq!(mode(&path), 0o644, "{file}");
        } else {
            assert!(!path.exists(), "{file} installed without a generator");
            assert!(
                first.contains(&format!("skipped    {}", path.display())),
                "no note about skipping {file}:\n{first}"
            );
        }
    }
    assert!(first.contains("no user created"), "{first}");

    // The operator edits the config; a second run (an upgrade) must keep it and leave
    // every other file exactly as it was.
    let before = snapshot(&root);
    let config = etc.join("jobvisor.toml");
    let edited = example.replace("count = 4", "count = 3") + "# edited by the operator\n";
    assert_ne!(edited, example);
    std::fs::write(&config, &edited).unwrap();
    let second = install_into(&root);
    assert_eq!(
        read(&config),
        edited,
        "install.sh changed the operator's config"
    );
    assert!(
        second.contains(&format!("kept       {}", config.display())),
        "{second}"
    );
    assert!(
        !second.contains("installed  "),
        "second run rewrote files:\n{second}"
    );
    let mut after = snapshot(&root);
    let mut expected = before;
    expected.remove(Path::new("etc/jobvisor/jobvisor.toml"));
    after.remove(Path::new("etc/jobvisor/jobvisor.toml"));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the second run changed the set of files"
    );
    for (path, (mode, content)) in &expected {
        let (mode_after, content_after) = &after[path];
        assert_eq!(mode, mode_after, "mode of {} changed", path.display());
        assert!(
            content == content_after,
            "{} changed on the second run",
            path.display()
        );
    }
    // The edited config still loads (the example stays a valid base for edits).
    assert_eq!(Config::load(&config).unwrap().workers.count, 3);
}

#[test]
fn install_sh_explains_missing_binaries_and_bad_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let root = tmp.path().join("root");
    let out = install_sh(&[
        "--prefix",
        root.to_str().unwrap(),
        "--bin-dir",
        empty.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", describe("install.sh", &out));
    assert!(
        stderr.contains(&format!("{}/jobvisor not found", empty.display())),
        "{stderr}"
    );
    assert!(stderr.contains("cargo build --release"), "{stderr}");
    assert!(!root.exists(), "install.sh wrote files before failing");

    let out = install_sh(&["--frobnicate"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--frobnicate"),
        "{}",
        describe("install.sh --frobnicate", &out)
    );

    let out = install_sh(&["--help"]);
    assert!(
        out.status.success(),
        "{}",
        describe("install.sh --help", &out)
    );
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["Usage:", "--bin-dir", "--prefix"] {
        assert!(
            help.contains(word),
            "--help does not mention {word}:\n{help}"
        );
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[test]
fn installed_units_pass_systemd_analyze_verify() {
    let Some(analyze) = on_path("systemd-analyze") else {
        jobvisor_tests::skip(
            "installed_units_pass_systemd_analyze_verify",
            "systemd-analyze not installed (apt-get install systemd)",
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    install_into(&root);
    // `verify` checks that ExecStart's program exists: point it at the staged binary.
    let units = tmp.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let staged_bin = root.join("usr/local/bin/jobvisor");
    for unit in ["jobvisor.service", "jobvisor@.service"] {
        let text = read(&root.join("etc/systemd/system").join(unit));
        let exec = "ExecStart=/usr/local/bin/jobvisor ";
        assert_eq!(text.matches(exec).count(), 1, "{unit}: one `{exec}` line");
        let text = text.replace(exec, &format!("ExecStart={} ", staged_bin.display()));
        std::fs::write(units.join(unit), text).unwrap();
    }
    // A template is verified through an instance of it.
    for unit in ["jobvisor.service", "jobvisor@ci.service"] {
        let out = Command::new(&analyze)
            .arg("verify")
            .arg(units.join(unit))
            .env("SYSTEMD_LOG_COLOR", "0")
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // verify exits 0 even for settings it ignores ("Invalid controller name ...,
        // ignoring"), so anything printed is a failure too.
        assert!(
            out.status.success() && printed.trim().is_empty(),
            "{}",
            describe(&format!("systemd-analyze verify {unit}"), &out)
        );
    }
}

/// The `[Service]`/`[Unit]` settings of a unit file: key → every value given, in order.
fn unit_settings(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap();
        settings
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    settings
}

fn one<'a>(settings: &'a BTreeMap<String, Vec<String>>, key: &str) -> &'a str {
    match settings.get(key).map(Vec::as_slice) {
        Some([value]) => value,
        other => panic!("{key}: expected one value, found {other:?}"),
    }
}

#[test]
fn units_agree_with_the_config_and_the_install_layout() {
    let config = Config::load(&deploy("jobvisor.toml")).unwrap();
    for (unit, config_path, state, runtime) in [
        (
            "jobvisor.service",
            "/etc/jobvisor/jobvisor.toml",
            "jobvisor",
            "jobvisor",
        ),
        (
            "jobvisor@.service",
            "/etc/jobvisor/%i.toml",
            "jobvisor-%i",
            "jobvisor-%i",
        ),
    ] {
        let s = unit_settings(&read(&deploy(unit)));
        assert_eq!(
            one(&s, "ExecStart"),
            format!("/usr/local/bin/jobvisor serve --config {config_path}"),
            "{unit}: ExecStart must match where install.sh puts the binary and config"
        );
        assert_eq!(one(&s, "StateDirectory"), state, "{unit}");
        assert_eq!(one(&s, "RuntimeDirectory"), runtime, "{unit}");
        assert_eq!(one(&s, "StateDirectoryMode"), "0700", "{unit}");
        assert_eq!(one(&s, "RuntimeDirectoryMode"), "0700", "{unit}");
        assert_eq!(one(&s, "Type"), "notify", "{unit}");
        assert_eq!(one(&s, "NotifyAccess"), "main", "{unit}");
        assert_eq!(one(&s, "KillMode"), "mixed", "{unit}");
        assert_eq!(one(&s, "Delegate"), "yes", "{unit}");
        assert_eq!(one(&s, "OOMPolicy"), "continue", "{unit}");
        assert_eq!(one(&s, "Restart"), "on-failure", "{unit}");
        assert!(
            !s.contains_key("ProtectControlGroups"),
            "{unit}: ProtectControlGroups makes the cgroup tree read-only"
        );
        let prevent: Vec<u8> = one(&s, "RestartPreventExitStatus")
            .split_whitespace()
            .map(|code| code.parse().unwrap())
            .collect();
        for code in [
            jobvisor_supervisor::exit_code::CONFIG,
            jobvisor_supervisor::exit_code::ALREADY_RUNNING,
        ] {
            assert!(prevent.contains(&code), "{unit}: {code} must not restart");
        }
        assert!(
            !prevent.contains(&jobvisor_supervisor::exit_code::FAILURE),
            "{unit}"
        );
        // systemd kills what is left after TimeoutStopSec: the drain must fit, with both
        // the example's and the built-in timings.
        let stop = jobvisor_supervisor::units::parse_duration(one(&s, "TimeoutStopSec")).unwrap();
        for c in [&config, &Config::embedded()] {
            let drain = c.drain_timeout + c.workers.kill_grace;
            assert!(
                stop >= drain + Duration::from_secs(5),
                "{unit}: TimeoutStopSec {stop:?} leaves no margin over drain {drain:?}"
            );
        }
        let watchdog = jobvisor_supervisor::units::parse_duration(one(&s, "WatchdogSec")).unwrap();
        assert!(watchdog >= Duration::from_secs(10), "{unit}: WatchdogSec");
    }
    // The main unit's directories are the example config's.
    assert_eq!(config.state_dir, Path::new("/var/lib/jobvisor"));
    assert_eq!(config.run_dir, Path::new("/run/jobvisor"));
    assert_eq!(
        config.control_socket_path(),
        Path::new("/run/jobvisor/control.sock")
    );
}

/// Whether `line` is `key = ...`.
fn assigns(line: &str, key: &str) -> bool {
    line.strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

#[test]
fn example_config_loads_and_documents_every_key() {
    let path = deploy("jobvisor.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(config.state_dir, Path::new("/var/lib/jobvisor"));
    assert_eq!(config.run_dir, Path::new("/run/jobvisor"));
    assert_eq!(config.log_format, LogFormat::Json);
    assert!(config.scripts.is_empty(), "the example registers no script");

    assert!(
        config.moved.is_empty(),
        "the example uses the sections: {:?}",
        config.moved
    );

    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    let keys = jobvisor_supervisor::config::keys();
    assert!(keys.len() >= 27, "only {} keys: {keys:?}", keys.len());
    let is_setting = |line: &str| !line.starts_with('#') && line.contains('=');
    // The lines of one section: from its `[name]` header to the next header (the top:
    // up to the first header).
    let section_lines = |section: Option<&str>| -> std::ops::Range<usize> {
        let is_header = |l: &&str| l.starts_with('[');
        let start = match section {
            None => 0,
            Some(name) => match lines.iter().position(|l| l.trim() == format!("[{name}]")) {
                Some(at) => at + 1,
                None => return 0..0,
            },
        };
        let end = lines[start..]
            .iter()
            .position(is_header)
            .map_or(lines.len(), |n| start + n);
        start..end
    };
    let mut missing = Vec::new();
    for key in &keys {
        let shown = key
            .section
            .map_or(key.name.to_owned(), |s| format!("[{s}] {}", key.name));
        if key.is_list {
            // Tables are shown as a commented example.
            let header = format!("# [[{}]]", key.name);
            if !lines.iter().any(|l| l.trim() == header) {
                missing.push(shown);
            }
            continue;
        }
        // Plain keys are set (or, when they have no default value, shown commented out)
        // in their section, under a comment, shared by a group of related keys, that
        // gives the default.
        let range = section_lines(key.section);
        let Some(at) = lines[range.clone()]
            .iter()
            .position(|l| {
                assigns(l, key.name) || assigns(l.strip_prefix("# ").unwrap_or(""), key.name)
            })
            .map(|n| range.start + n)
        else {
            missing.push(shown);
            continue;
        };
        let mut above = at;
        while above > 0 && is_setting(lines[above - 1]) {
            above -= 1;
        }
        let comment: Vec<&str> = lines[..above]
            .iter()
            .rev()
            .take_while(|l| l.starts_with('#'))
            .copied()
            .collect();
        if !comment.iter().any(|l| l.contains("Default")) {
            missing.push(shown);
        }
    }
    assert!(
        missing.is_empty(),
        "deploy/jobvisor.toml must set each key of the config, in its section, below a comment \
         saying what it does and its `Default:` (a list: a commented `# [[key]]` example); \
         missing: {missing:?}"
    );

    // Values shown commented out are valid too (top-level keys: the `# [[...]]` examples
    // at the end are checked on their own below).
    let examples_start = lines
        .iter()
        .position(|l| l.starts_with("# [["))
        .unwrap_or(lines.len());
    let uncommented: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| match l.strip_prefix("# ") {
            Some(rest) if i < examples_start && keys.iter().any(|key| assigns(rest, key.name)) => {
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    Config::parse(&uncommented)
        .unwrap_or_else(|e| panic!("the example with its commented-out keys set: {e}"));

    // The commented [[script]] example is valid once uncommented.
    let example: String = text
        .lines()
        .skip_while(|l| l.trim() != "# [[script]]")
        .map_while(|l| l.strip_prefix("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    let scripts = Config::parse(&example)
        .unwrap_or_else(|e| panic!("the [[script]] example: {e}\n{example}"))
        .scripts;
    assert_eq!(scripts.len(), 1, "{example}");
    assert_eq!(scripts[0].name, "hello");

    // So is the commented [[schedule]] example.
    let example: String = text
        .lines()
        .skip_while(|l| l.trim() != "# [[schedule]]")
        .map_while(|l| l.strip_prefix("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    let schedules = Config::parse(&example)
        .unwrap_or_else(|e| panic!("the [[schedule]] example: {e}\n{example}"))
        .schedules;
    assert_eq!(schedules.len(), 1, "{example}");
    assert_eq!(schedules[0].name, "poll-crm");
}

/// Always skips: the subject of the next test.
#[test]
#[ignore = "run by a_skip_is_visible_in_the_normal_output_and_fails_ci"]
fn skip_fixture() {
    jobvisor_tests::skip("skip_fixture", "the fixture always skips");
}

#[test]
fn a_skip_is_visible_in_the_normal_output_and_fails_ci() {
    let log = tempfile::tempdir().unwrap();
    // This test binary, run as `cargo test` runs it (output captured), on the fixture.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "skip_fixture"])
        .env(jobvisor_tests::SKIP_LOG_ENV, log.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe("the fixture", &out));
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("SKIP: skip_fixture: the fixture always skips"),
        "the skip is not in the test output:\n{shown}"
    );
    let check = |log: &Path| {
        Command::new(repo_root().join(".ci/check-skips"))
            .arg(log)
            .output()
            .unwrap()
    };
    let failed = check(log.path());
    assert_eq!(
        failed.status.code(),
        Some(1),
        "{}",
        describe("check-skips", &failed)
    );
    assert!(String::from_utf8_lossy(&failed.stdout).contains("skip_fixture"));

    // The one allowed skip passes CI, and says why.
    let allowed = tempfile::tempdir().unwrap();
    std::fs::write(
        allowed.path().join("skips"),
        "allowed\tSKIP: t: no cgroup v2 memory controller\n",
    )
    .unwrap();
    let passed = check(allowed.path());
    assert!(
        passed.status.success(),
        "{}",
        describe("check-skips", &passed)
    );
    assert!(String::from_utf8_lossy(&passed.stdout).contains("cgroup v2"));
    // .ci/run runs the README's test command with the skip log set, then checks it.
    let ci = read(&repo_root().join(".ci/run"));
    let readme = read(&repo_root().join("README.md"));
    assert!(ci.contains("export JOBVISOR_SKIP_LOG") && ci.contains(".ci/check-skips"));
    assert!(ci.contains("\ncargo test --workspace\n") && readme.contains("cargo test --workspace"));
}

#[test]
fn install_sh_installs_one_man_page_per_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    install_into(&root);
    let man = root.join("usr/local/share/man/man1");
    let help = Command::new(jobvisor_tests::bin("jobvisor"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let subcommands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(subcommands.len() >= 12, "{subcommands:?}");
    for sub in subcommands {
        let page = man.join(format!("jobvisor-{sub}.1"));
        let text = read(&page);
        assert_eq!(mode(&page), 0o644);
        assert!(
            text.contains(&format!(".TH jobvisor-{sub} 1")),
            "{sub}:\n{text}"
        );
        for section in [
            "SYNOPSIS",
            "\"EXIT STATUS\"",
            "ENVIRONMENT",
            "FILES",
            "\"SEE ALSO\"",
        ] {
            assert!(
                text.contains(&format!(".SH {section}")),
                "{sub} has no {section}"
            );
        }
    }
    for sub in ["serve", "jobs", "queues", "enqueue", "restart"] {
        let text = read(&man.join(format!("jobvisor-{sub}.1")));
        assert!(text.contains(".SH EXAMPLES"), "{sub} has no examples");
    }
    // Nested subcommands are described on their parent's page, not sent to pages that
    // are not installed.
    let queues = read(&man.join("jobvisor-queues.1"));
    assert!(queues.contains("jobvisor queues pause") && queues.contains("\\-\\-create"));
    assert!(!queues.contains("jobvisor-queues-pause"), "{queues}");
    let serve = read(&man.join("jobvisor-serve.1"));
    assert!(
        serve.contains("\\fB78\\fR") && serve.contains("JOBVISOR_CONFIG"),
        "{serve}"
    );
    assert!(read(&man.join("jobvisor.1")).contains(".TH jobvisor 1"));
}

/// Files a document names: markdown link targets, and backticked paths that end in a
/// source or document extension.
fn named_files(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for part in text.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or("");
        let target = target.split('#').next().unwrap_or("");
        if !target.is_empty() && !target.contains("://") {
            names.push(target.to_owned());
        }
    }
    for (i, part) in text.split('`').enumerate() {
        let is_path = part.contains('/')
            && !part.contains(' ')
            && [".rs", ".md", ".toml", ".sh"]
                .iter()
                .any(|ext| part.ends_with(ext));
        if i % 2 == 1 && is_path {
            names.push(part.to_owned());
        }
    }
    names
}

#[test]
fn the_documents_name_files_that_exist() {
    let root = repo_root();
    let mut documents = vec![
        root.join("README.md"),
        root.join("protocol/README.md"),
        root.join("deploy/README.md"),
    ];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        documents.push(entry.unwrap().path());
    }
    let mut missing = Vec::new();
    for document in documents {
        let dir = document.parent().unwrap();
        let text = read(&document);
        // The design document is not part of the repository: pointing at it sends the
        // reader nowhere.
        if (text.contains("design document") || text.contains("DESIGN.md"))
            && !root.join("DESIGN.md").exists()
        {
            missing.push(format!("{}: the design document", document.display()));
        }
        for name in named_files(&text) {
            // Relative to the document, or to the repository root; `/etc/...` paths of an
            // installed system are not the repository's.
            if name.starts_with('/') {
                continue;
            }
            if !dir.join(&name).exists() && !root.join(&name).exists() {
                missing.push(format!("{}: {name}", document.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documents name missing files: {missing:#?}"
    );
}
