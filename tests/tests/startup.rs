//! Daemon start-up with the real binaries: `serve` refuses to start (and never tells
//! systemd it is ready) when a worker cannot start or a configured script or schedule is
//! unusable, and `serve --check` finds the same problems without starting anything.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use jobvisor_tests::bin;
use jobvisor_tests::daemon::Daemon;

const OK: &str = "export default (p) => p\n";

/// `jobvisor serve --check --config CONFIG` with the build's worker, then `env`.
fn serve_check(config: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(bin("jobvisor"))
        .args(["serve", "--check", "--config"])
        .arg(config)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What `jobvisor serve` did within `within`: its exit code (None: still running, then
/// killed), what it printed, and the sd_notify messages it sent.
struct Served {
    code: Option<i32>,
    output: String,
    notified: Vec<String>,
}

fn serve_for(daemon: &Daemon, env: &[(&str, &str)], within: Duration) -> Served {
    let notify = daemon.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    socket.set_nonblocking(true).unwrap();
    let log = std::fs::File::create(&daemon.log).unwrap();
    let mut child = Command::new(bin("jobvisor"))
        .arg("serve")
        .arg("--config")
        .arg(&daemon.config)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .env("NOTIFY_SOCKET", &notify)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut notified = Vec::new();
    let mut buf = [0_u8; 4096];
    let code = loop {
        while let Ok(n) = socket.recv(&mut buf) {
            notified.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > within {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    while let Ok(n) = socket.recv(&mut buf) {
        notified.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    Served {
        code,
        output: daemon.log_text(),
        notified,
    }
}

/// An executable that is not a worker: it complains on stderr and exits 127, as a
/// binary with a missing shared library does.
fn broken_worker(dir: &Path) -> PathBuf {
    let path = dir.join("jobvisor-worker");
    std::fs::write(
        &path,
        "#!/bin/sh\necho 'error while loading shared libraries: libboa.so' >&2\nexit 127\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn serve_check_accepts_a_config_that_would_start_and_starts_nothing() {
    let daemon = Daemon::prepare(
        "workers = 1\n[[schedule]]\nname = \"tick\"\nscript = \"ok\"\nevery = \"1m\"",
        &[("ok", OK)],
    );
    let out = serve_check(&daemon.config, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ready to serve (1 scripts, 1 schedules"),
        "{stdout}"
    );
    assert!(!daemon.database().exists(), "--check created the database");
    assert!(!daemon.socket().exists(), "--check bound the socket");
}

#[test]
fn serve_check_refuses_a_missing_script_file() {
    let daemon = Daemon::prepare(
        "[[script]]\nname = \"gone\"\npath = \"/nonexistent/gone.js\"",
        &[],
    );
    let out = serve_check(&daemon.config, &[]);
    assert_eq!(out.status.code(), Some(78), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("script `gone`") && stderr.contains("/nonexistent/gone.js"),
        "{stderr}"
    );
}

#[test]
fn serve_check_refuses_a_schedule_naming_an_unknown_script() {
    let daemon = Daemon::prepare(
        "[[schedule]]\nname = \"nightly\"\nscript = \"reprot\"\nevery = \"1h\"",
        &[("report", OK)],
    );
    let out = serve_check(&daemon.config, &[]);
    assert_eq!(out.status.code(), Some(78), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("schedule `nightly` runs script `reprot`, which does not exist")
            && stderr.contains("did you mean `report`?"),
        "{stderr}"
    );
}

#[test]
fn serve_check_refuses_a_worker_binary_that_cannot_start() {
    let daemon = Daemon::prepare("workers = 1", &[("ok", OK)]);
    let broken = broken_worker(daemon.dir.path());
    let missing = daemon.dir.path().join("no-such-worker");
    for worker in [&broken, &missing] {
        let out = serve_check(
            &daemon.config,
            &[("JOBVISOR_WORKER", worker.to_str().unwrap())],
        );
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "the worker program {} cannot start",
                worker.display()
            )),
            "{stderr}"
        );
    }
    let out = serve_check(
        &daemon.config,
        &[("JOBVISOR_WORKER", broken.to_str().unwrap())],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("libboa.so"),
        "the worker's own words: {stderr}"
    );
}

/// Under `Type=notify`, a daemon whose workers cannot start must not say READY (systemd
/// would show it "active (running)" while it restarts the worker for ever): it exits 1.
#[test]
fn serve_with_a_worker_that_cannot_start_exits_1_without_ready() {
    let daemon = Daemon::prepare("workers = 2", &[("ok", OK)]);
    let broken = broken_worker(daemon.dir.path());
    let served = serve_for(
        &daemon,
        &[("JOBVISOR_WORKER", broken.to_str().unwrap())],
        Duration::from_secs(20),
    );
    assert_eq!(served.code, Some(1), "{}", served.output);
    assert!(
        !served.notified.iter().any(|m| m.contains("READY=1")),
        "{:?}",
        served.notified
    );
    assert!(
        served.output.contains("cannot start") && served.output.contains("libboa.so"),
        "{}",
        served.output
    );
}

#[test]
fn serve_refuses_config_scripts_that_scripts_add_would_refuse() {
    for (source, expected) in [
        ("export default (p) => {\n", "SyntaxError"),
        ("const f = (p) => p;\n", "default"),
    ] {
        let daemon = Daemon::prepare("workers = 1", &[("ok", OK), ("bad", source)]);
        let served = serve_for(&daemon, &[], Duration::from_secs(20));
        assert_eq!(served.code, Some(78), "{source}: {}", served.output);
        let file = daemon.dir.path().join("bad.js");
        let named = format!("script `bad` ({}) was refused", file.display());
        assert!(
            served.output.contains(&named) && served.output.contains(expected),
            "{source}: {}",
            served.output
        );
        assert!(!served.notified.iter().any(|m| m.contains("READY=1")));
    }
}

#[test]
fn serve_refuses_a_schedule_of_an_unknown_script_and_names_those_there_are() {
    let daemon = Daemon::prepare(
        "workers = 1\n[[schedule]]\nname = \"poll\"\nscript = \"ok2\"\nevery = \"1m\"",
        &[("ok", OK), ("other", OK)],
    );
    let served = serve_for(&daemon, &[], Duration::from_secs(20));
    assert_eq!(served.code, Some(78), "{}", served.output);
    assert!(
        served
            .output
            .contains("schedule `poll` runs script `ok2`, which does not exist; the scripts are ok, other (did you mean `ok`?)"),
        "{}",
        served.output
    );
}

/// Pids of `jobvisor-worker --check` processes whose parent is `parent`.
fn checkers_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(parent) && cmdline.split(|b| *b == 0).any(|arg| arg == b"--check") {
            found.push(pid);
        }
    }
    found
}

const SPIN: &str = "while (true) {}\nexport default () => 1\n";

/// `scripts add` of a script whose top-level code never ends: the checker runs it, and
/// a SIGKILLed daemon must take the checker with it (it would spin at 100 % CPU under
/// init for ever).
#[test]
fn a_script_checker_dies_with_a_sigkilled_daemon() {
    let mut daemon = Daemon::start("workers = 1", &[("ok", OK)]);
    let file = daemon.dir.path().join("spin.js");
    std::fs::write(&file, SPIN).unwrap();
    let mut add = jobvisor_tests::jobvisor()
        .args(["scripts", "add", "spin"])
        .arg(&file)
        .arg("--config")
        .arg(&daemon.config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon_pid = daemon.pid();
    let mut checkers = Vec::new();
    daemon.wait_for("the checker runs", Duration::from_secs(10), || {
        checkers = checkers_of(daemon_pid);
        !checkers.is_empty()
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let killed_at = Instant::now();
    let survivors = loop {
        let alive: Vec<u32> = checkers
            .iter()
            .copied()
            .filter(|&pid| jobvisor_tests::daemon::process_alive(pid))
            .collect();
        if alive.is_empty() || killed_at.elapsed() > Duration::from_secs(5) {
            break alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for &pid in &survivors {
        // SAFETY: kill(2) on the orphaned checker this test made.
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
    }
    let _ = add.kill();
    let _ = add.wait();
    assert!(
        survivors.is_empty(),
        "checkers {survivors:?} outlived the SIGKILLed daemon"
    );
    println!(
        "the checker died {:.1?} after the daemon",
        killed_at.elapsed()
    );
}

/// A top-level infinite loop is refused with an error that says so, within the check's
/// deadline, and leaves no checker behind.
#[test]
fn scripts_add_of_a_top_level_loop_is_refused_within_the_deadline() {
    let daemon = Daemon::start("workers = 1", &[("ok", OK)]);
    let file = daemon.dir.path().join("spin.js");
    std::fs::write(&file, SPIN).unwrap();
    let started = Instant::now();
    let out = jobvisor_tests::jobvisor()
        .args(["scripts", "add", "spin"])
        .arg(&file)
        .arg("--config")
        .arg(&daemon.config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("refused after {:.1?}: {stderr}", started.elapsed());
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr.contains("script `spin` was not added") && stderr.contains("longer than 10s"),
        "{stderr}"
    );
    assert!(checkers_of(daemon.pid()).is_empty());
}

/// A run dir that is a symlink is refused, and what it points to keeps its mode.
#[test]
fn a_symlinked_run_dir_is_refused_and_its_target_left_alone() {
    let daemon = Daemon::prepare("workers = 1", &[("ok", OK)]);
    let target = daemon.dir.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&target, daemon.dir.path().join("run")).unwrap();
    let served = serve_for(&daemon, &[], Duration::from_secs(10));
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the symlink's target was chmodded");
    assert_eq!(served.code, Some(78), "{}", served.output);
    assert!(served.output.contains("is a symlink"), "{}", served.output);
    let out = serve_check(&daemon.config, &[]);
    assert_eq!(out.status.code(), Some(78), "{}", describe(&out));
}

/// The state dir and the database with its WAL and SHM files are private whatever the
/// umask of the process that starts the daemon.
#[test]
fn the_state_dir_and_database_are_private_under_umask_0() {
    use std::os::unix::process::CommandExt;
    let mut daemon = Daemon::prepare("workers = 1", &[("ok", OK)]);
    let log = std::fs::File::create(&daemon.log).unwrap();
    let mut command = Command::new(bin("jobvisor"));
    command
        .arg("serve")
        .arg("--config")
        .arg(&daemon.config)
        .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // SAFETY: umask is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    daemon.child = Some(command.spawn().unwrap());
    daemon.wait_for("the daemon answers", Duration::from_secs(20), || {
        daemon
            .try_request(&jobvisor_protocol::control::Request::Status)
            .is_ok()
    });
    daemon.enqueue(jobvisor_tests::daemon::job("ok", "{}"));
    let mode = |path: PathBuf| {
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (path, meta.permissions().mode() & 0o777)
    };
    let data = daemon.dir.path().join("data");
    let found = [
        mode(data.clone()),
        mode(data.join("jobvisor.lock")),
        mode(data.join("jobvisor.db")),
        mode(data.join("jobvisor.db-wal")),
        mode(data.join("jobvisor.db-shm")),
    ];
    println!("{found:?}");
    assert_eq!(found[0].1, 0o700, "{found:?}");
    for (path, mode) in &found[1..] {
        assert_eq!(*mode, 0o600, "{}", path.display());
    }
}

/// The config wins: a script or schedule it declares cannot be replaced or removed over
/// the control socket (a restart would silently undo it), and a start that changes the
/// current version says so.
#[test]
fn scripts_and_schedules_declared_in_the_config_stay_the_configs() {
    let mut daemon = Daemon::start(
        "workers = 1\n[[schedule]]\nname = \"tick\"\nscript = \"greet\"\nevery = \"1h\"",
        &[("greet", "export default () => 'v1'\n")],
    );
    let newer = daemon.dir.path().join("greet-v2.js");
    std::fs::write(&newer, "export default () => 'v2'\n").unwrap();
    let cli = |args: &[&str]| {
        jobvisor_tests::jobvisor()
            .args(args)
            .arg("--config")
            .arg(&daemon.config)
            .output()
            .unwrap()
    };
    let out = cli(&["scripts", "add", "greet", newer.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("script `greet` is declared in the config") && stderr.contains("greet.js"),
        "{stderr}"
    );
    for args in [
        &[
            "schedules",
            "add",
            "tick",
            "--script",
            "greet",
            "--every",
            "5m",
        ][..],
        &["schedules", "remove", "tick"][..],
    ] {
        let out = cli(args);
        assert!(!out.status.success(), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("schedule `tick` is declared in"),
            "{stderr}"
        );
    }
    // Scripts the config does not declare are the control socket's.
    let out = cli(&["scripts", "add", "other", newer.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));

    daemon.stop();
    std::fs::write(
        daemon.dir.path().join("greet.js"),
        "export default () => 'v3'\n",
    )
    .unwrap();
    daemon.launch();
    assert!(
        daemon
            .log_text()
            .contains("the config's script file changed: its new version is current"),
        "{}",
        daemon.log_text()
    );
}

/// `deploy/jobvisor.toml` as it was before the config had sections: every key at the top.
const FLAT_LAYOUT: &str = include_str!("../fixtures/flat-layout.toml");

/// The flat-layout file without its system directories (the harness puts its own first).
fn flat_layout_in_temp_dirs() -> String {
    FLAT_LAYOUT
        .lines()
        .filter(|l| !l.starts_with("state_dir") && !l.starts_with("run_dir"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_config_in_the_flat_layout_still_runs_and_says_where_each_key_went() {
    let mut daemon = Daemon::prepare(&flat_layout_in_temp_dirs(), &[("ok", OK)]);
    let out = serve_check(&daemon.config, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for said in [
        "`job_timeout` is now `[jobs] timeout`",
        "`workers` is now `[workers] count`",
        "`synchronous` is now `[store] synchronous`",
        "`control_request_timeout` is now `[control] request_timeout`",
    ] {
        assert!(stdout.contains(said), "{said}: {}", describe(&out));
    }
    // Every key the file sets at the top but the four that stay there (`control_group`
    // is commented out).
    assert_eq!(stdout.matches(" is now `[").count(), 22, "{stdout}");
    assert!(stdout.contains("ready to serve (1 scripts"), "{stdout}");

    daemon.launch();
    assert_eq!(daemon.status().workers.len(), 4, "workers = 4 is read");
    let id = daemon.enqueue(jobvisor_tests::daemon::job("ok", "{\"n\":1}"));
    daemon.wait_for("the job completes", Duration::from_secs(30), || {
        daemon.job_state(id) == "completed"
    });
    daemon.stop();
    let log = daemon.log_text();
    assert_eq!(
        log.matches("`job_timeout` is now `[jobs] timeout`").count(),
        1,
        "each moved key is logged once at start:\n{log}"
    );
}

#[test]
fn a_key_in_the_flat_layout_and_in_its_section_is_refused_with_exit_78() {
    let config = format!("{}[jobs]\ntimeout = \"5s\"\n", flat_layout_in_temp_dirs());
    let daemon = Daemon::prepare(&config, &[]);
    let out = serve_check(&daemon.config, &[]);
    assert_eq!(out.status.code(), Some(78), "{}", describe(&out));
    let served = serve_for(&daemon, &[], Duration::from_secs(10));
    assert_eq!(served.code, Some(78), "{}", served.output);
    for text in [
        String::from_utf8_lossy(&out.stderr).into_owned(),
        served.output,
    ] {
        assert!(
            text.contains("`job_timeout` (line ")
                && text.contains("and `[jobs] timeout` (line ")
                && text.contains("are the same setting: keep only `[jobs] timeout`"),
            "{text}"
        );
    }
    assert!(served.notified.is_empty(), "{:?}", served.notified);
    assert!(!daemon.database().exists());
}
