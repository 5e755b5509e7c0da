//! `jobvisor run` and the daemon run an attempt through the same runner: the same hostile
//! script, or the same misbehaving worker, ends with the same outcome and the same error
//! name through `jobvisor run --json` as through `enqueue --wait --json`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::Request;
use jobvisor_tests::daemon::Daemon;
use jobvisor_tests::{RunOutput, bin};

/// Scripts that end badly, each in its own way.
const HOSTILE: &[(&str, &str)] = &[
    ("spin", "export default () => { while (true) {} }"),
    (
        "bomb",
        "export default () => { let s = 'x'; const keep = []; while (true) { s = s + s; keep.push(s) } }",
    ),
    (
        "throws",
        "export default () => { throw new TypeError('no such thing') }",
    ),
    ("pending", "export default () => new Promise(() => {})"),
    (
        "oversized",
        "export default () => 'x'.repeat(5 * 1024 * 1024)",
    ),
];

/// The limits both paths run under (`jobvisor run` flags, the daemon's config).
const TIMEOUT: &str = "2s";
const MEMORY: &str = "128MiB";

/// (outcome, error name) of a `jobvisor run --json` report.
fn ended_in_run(out: &RunOutput) -> (String, String) {
    let report = out.report();
    (
        report["outcome"].as_str().unwrap_or_default().to_owned(),
        report["error"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// (outcome, error name) of the last attempt in an `enqueue --wait --json` answer.
fn ended_in_daemon(daemon: &Daemon, script: &str, payload: &str) -> (String, String) {
    let out = daemon.cli(&[
        "enqueue",
        script,
        "--payload",
        payload,
        "--max-attempts",
        "1",
        "--wait",
        "--json",
    ]);
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "enqueue --wait --json printed no job ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let last = job["attempts"]
        .as_array()
        .and_then(|attempts| attempts.last())
        .unwrap_or_else(|| panic!("no attempt in {job}"));
    (
        last["outcome"].as_str().unwrap_or_default().to_owned(),
        last["error"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// `jobvisor run --json FILE` with `worker` as the worker program.
fn run_with(worker: &Path, file: &Path, payload: &str) -> RunOutput {
    let started = Instant::now();
    let output = Command::new(bin("jobvisor"))
        .env("JOBVISOR_WORKER", worker)
        .arg("run")
        .arg(file)
        .args([
            "--json",
            "--timeout",
            TIMEOUT,
            "--memory",
            MEMORY,
            "--payload",
            payload,
        ])
        .output()
        .expect("jobvisor runs");
    RunOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn daemon_config() -> String {
    format!(
        "workers = 1\njob_timeout = \"{TIMEOUT}\"\nmemory_limit = \"{MEMORY}\"\n\
         restart_backoff_min = \"10ms\"\nrestart_backoff_max = \"50ms\"\n"
    )
}

#[test]
fn hostile_scripts_end_the_same_way_through_run_and_through_the_daemon() {
    let daemon = Daemon::start(&daemon_config(), HOSTILE);
    for (name, _) in HOSTILE {
        let file = daemon.dir.path().join(format!("{name}.js"));
        let through_run = ended_in_run(&run_with(&bin("jobvisor-worker"), &file, "{}"));
        let through_daemon = ended_in_daemon(&daemon, name, "{}");
        assert_eq!(
            through_run, through_daemon,
            "`{name}` ended differently through `jobvisor run` and through the daemon"
        );
        assert_ne!(through_run.0, "completed", "`{name}` must fail");
        assert!(
            !through_run.1.is_empty(),
            "`{name}` ends with a named error"
        );
    }
}

#[test]
fn a_misbehaving_worker_ends_the_same_way_through_run_and_through_the_daemon() {
    let mut daemon = Daemon::prepare(&daemon_config(), &[("ok", "export default (p) => p;")]);
    let evil = bin("evil-worker");
    daemon.launch_with(&[("JOBVISOR_WORKER", evil.to_str().expect("utf-8 path"))]);
    let file = daemon.dir.path().join("ok.js");
    for behaviour in ["exit-0", "garbage", "wrong-job", "huge-length"] {
        let payload = format!(r#"{{"evil":"{behaviour}"}}"#);
        let through_run = ended_in_run(&run_with(&evil, &file, &payload));
        let through_daemon = ended_in_daemon(&daemon, "ok", &payload);
        assert_eq!(
            through_run, through_daemon,
            "`{behaviour}` ended differently through `jobvisor run` and through the daemon"
        );
        assert_ne!(through_run.0, "completed", "`{behaviour}` must fail");
    }
}

/// A cgroup v1 freezer group of this test's own: a frozen process does not die of SIGKILL
/// until it is thawed, so a worker group holding one does not empty however long the
/// supervisor tries. Thawed and removed when dropped.
struct Freezer {
    dir: std::path::PathBuf,
}

impl Freezer {
    fn create(test: &str) -> Option<Freezer> {
        let root = Path::new("/sys/fs/cgroup/freezer");
        let dir = root.join(format!("jobvisor-test-{}", std::process::id()));
        if !dir.is_dir() && std::fs::create_dir(&dir).is_err() {
            jobvisor_tests::skip_allowed(
                test,
                "no writable cgroup v1 freezer (under cgroup v2 a frozen process dies of SIGKILL)",
            );
            return None;
        }
        Some(Freezer { dir })
    }

    fn freeze(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).expect("join freezer");
        std::fs::write(self.dir.join("freezer.state"), "FROZEN").expect("freeze");
    }
}

impl Drop for Freezer {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("freezer.state"), "THAWED");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::remove_dir(&self.dir).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_worker_group_that_will_not_empty_does_not_stall_the_daemon() {
    let test = "a_worker_group_that_will_not_empty_does_not_stall_the_daemon";
    if !jobvisor_tests::memory_cgroup_available(test) {
        return;
    }
    let Some(freezer) = Freezer::create(test) else {
        return;
    };
    let daemon = Daemon::start(
        "workers = 2\njob_timeout = \"1s\"\nkill_grace = \"50ms\"\nmemory_limiter = \"cgroup\"\n",
        &[("spin", "export default () => { while (true) {} }")],
    );
    let id = daemon.enqueue(jobvisor_tests::daemon::job("spin", "{}"));
    let mut pid = None;
    daemon.wait_for("the job on a worker", Duration::from_secs(10), || {
        pid = daemon
            .status()
            .workers
            .iter()
            .find(|w| w.job == Some(id))
            .and_then(|w| w.pid);
        pid.is_some()
    });
    let pid = pid.expect("a busy worker");
    freezer.freeze(pid);
    // Past its deadline the slot kills the worker, waits for it to be reaped, tries to
    // empty its group and starts another worker in it: each wait runs into the frozen
    // process. The other slot and the control socket must keep answering meanwhile.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(6) {
        let asked = Instant::now();
        daemon
            .try_request(&Request::Status)
            .expect("status answers");
        slowest = slowest.max(asked.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("slowest status answer while a worker group would not empty: {slowest:?}");
    assert!(
        slowest < Duration::from_millis(750),
        "status took {slowest:?} while a worker group would not empty\n{}",
        daemon.log_text()
    );
    drop(freezer);
    daemon.wait_for("the attempt recorded", Duration::from_secs(10), || {
        !daemon.attempts(id).is_empty()
    });
    assert_eq!(daemon.attempts(id)[0].1, "timeout");
}
