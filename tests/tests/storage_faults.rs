//! Storage faults against the real daemon: a full disk (the state directory on a small
//! tmpfs), the database write-locked by another process, corrupt and foreign database
//! files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{ErrorCode, Request, Response};
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::store_view::JobState;
use jobvisor_tests::{exit_within, jobvisor};

const ECHO: &str = "export default (p) => p;";
const SLOW: &str =
    "export default async (p) => { await new Promise((r) => setTimeout(r, 1500)); return p; };";

/// A tmpfs mounted for the length of a test; lazily unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `at`, or says why it cannot (not root, no mount).
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("ballast file");
    let block = vec![0_u8; 64 * 1024];
    let mut written = 0;
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    let _ = file.sync_all();
    written
}

#[test]
fn a_full_disk_refuses_enqueues_clearly_keeps_results_and_recovers_when_space_returns() {
    let mut daemon = Daemon::prepare(
        "workers = 1\nretry_backoff_base = \"50ms\"\nretry_backoff_max = \"100ms\"",
        &[("echo", ECHO), ("slow", SLOW)],
    );
    let data = daemon.dir.path().join("data");
    let _tmpfs = match Tmpfs::mount(&data, "6m") {
        Ok(mount) => mount,
        Err(reason) => {
            jobvisor_tests::skip(
                "a_full_disk_refuses_enqueues_clearly_keeps_results_and_recovers_when_space_returns",
                &format!("a full disk needs a tmpfs mount: {reason}"),
            );
            return;
        }
    };
    daemon.launch();
    let before = daemon.enqueue_many((0..20).map(|n| job("echo", &n.to_string())));
    let slow = daemon.enqueue(job("slow", r#"{"slow":true}"#));
    daemon.wait_for("the slow job runs", Duration::from_secs(10), || {
        daemon.job_state(slow) == JobState::Running
    });

    let ballast = data.join("ballast");
    let written = fill(&ballast);
    println!("filled the state dir with {written} bytes");

    // Enqueue: a clear error naming the disk, and nothing half-written.
    let refused = daemon
        .try_request(&Request::Enqueue(job("echo", r#"{"while":"full"}"#)))
        .expect("the daemon answers");
    let Response::Error(error) = refused else {
        panic!("an enqueue on a full disk must fail: {refused:?}");
    };
    println!(
        "enqueue on a full disk: {:?}: {}",
        error.code, error.message
    );
    assert!(
        error.message.contains("disk is full") || error.message.contains("full"),
        "{}",
        error.message
    );
    assert_eq!(error.code, ErrorCode::Unavailable, "{}", error.message);
    let cli = jobvisor()
        .args(["enqueue", "echo", "--payload", "{}", "--config"])
        .arg(&daemon.config)
        .output()
        .expect("cli");
    let stderr = String::from_utf8_lossy(&cli.stderr);
    println!("cli: {:?} {stderr}", cli.status.code());
    assert!(!cli.status.success());
    assert!(stderr.contains("full"), "{stderr}");

    // The daemon stays up, says it is degraded, and keeps the slow job's result.
    std::thread::sleep(Duration::from_millis(2000));
    let status = daemon.status();
    println!("status while full: {:?}", status.degraded);
    assert!(
        status.degraded.iter().any(|d| d.contains("full")),
        "{:?}",
        status.degraded
    );
    let cli_status = jobvisor()
        .args(["status", "--config"])
        .arg(&daemon.config)
        .output()
        .expect("cli status");
    let text = String::from_utf8_lossy(&cli_status.stdout);
    assert!(text.contains("degraded"), "{text}");

    // Space comes back: the held result is committed, new work flows, nothing is lost.
    std::fs::remove_file(&ballast).expect("remove ballast");
    let started = Instant::now();
    daemon.wait_for(
        "the slow job's result committed",
        Duration::from_secs(20),
        || daemon.job_state(slow) == JobState::Completed,
    );
    println!(
        "the held result committed {:.1?} after space returned",
        started.elapsed()
    );
    let after = daemon.enqueue(job("echo", r#"{"after":"full"}"#));
    daemon.wait_for("work resumes", Duration::from_secs(20), || {
        daemon.job_state(after) == JobState::Completed
            && before
                .iter()
                .all(|&id| daemon.job_state(id) == JobState::Completed)
    });
    daemon.wait_for("degraded clears", Duration::from_secs(10), || {
        daemon.status().degraded.is_empty()
    });
    daemon.stop();
    let mut all = before;
    all.extend([slow, after]);
    daemon.assert_invariants(&all);
}

#[test]
fn a_database_locked_by_another_process_for_8_seconds_delays_but_loses_nothing() {
    let mut daemon = Daemon::start("workers = 2", &[("echo", ECHO)]);
    let before = daemon.enqueue_many((0..10).map(|n| job("echo", &n.to_string())));
    daemon.wait_for("the first jobs complete", Duration::from_secs(20), || {
        before
            .iter()
            .all(|&id| daemon.job_state(id) == JobState::Completed)
    });
    // Another process takes the write lock and holds it for 8 s.
    let locker = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN IMMEDIATE')\n\
             print('locked', flush=True)\n\
             time.sleep(8)\n\
             c.execute('COMMIT')\n",
        )
        .arg(daemon.database())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut locker) = locker else {
        jobvisor_tests::skip(
            "a_database_locked_by_another_process_for_8_seconds_delays_but_loses_nothing",
            "python3 is needed to hold the lock from another process",
        );
        return;
    };
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(locker.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "locked");
    }
    let locked_at = Instant::now();
    // Enqueues in the meantime: each either waits for the lock or fails with a clear,
    // retryable error; status keeps answering from the read connection.
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    while locked_at.elapsed() < Duration::from_secs(7) {
        let asked = Instant::now();
        match daemon.try_request(&Request::Enqueue(job("echo", "{}"))) {
            Ok(Response::Enqueued { id, .. }) => accepted.push(id),
            Ok(Response::Error(error)) => refused.push(error.message),
            other => panic!("enqueue while locked: {other:?}"),
        }
        let status_asked = Instant::now();
        daemon.status();
        assert!(
            status_asked.elapsed() < Duration::from_secs(2),
            "status took {:?} while the database was locked",
            status_asked.elapsed()
        );
        println!("enqueue answered in {:.1?}", asked.elapsed());
    }
    assert!(locker.wait().expect("locker").success());
    println!(
        "while locked: {} enqueues accepted, {} refused: {:?}",
        accepted.len(),
        refused.len(),
        refused.first()
    );
    for message in &refused {
        assert!(
            message.contains("locked") || message.contains("busy"),
            "{message}"
        );
    }
    let after = daemon.enqueue(job("echo", r#"{"after":"lock"}"#));
    accepted.push(after);
    daemon.wait_for("everything completes", Duration::from_secs(30), || {
        accepted
            .iter()
            .all(|&id| daemon.job_state(id) == JobState::Completed)
    });
    daemon.stop();
    let mut all = before;
    all.extend(accepted);
    daemon.assert_invariants(&all);
}

#[test]
fn corrupt_and_foreign_database_files_are_refused_untouched() {
    type Make = Box<dyn Fn(&Path)>;
    let cases: [(&str, Make); 3] = [
        (
            "random bytes",
            Box::new(|db: &Path| {
                let bytes: Vec<u8> = (0..16384_u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                std::fs::write(db, bytes).expect("write");
            }),
        ),
        (
            "a future schema version",
            Box::new(|db: &Path| {
                let conn = rusqlite::Connection::open(db).expect("open");
                conn.execute_batch("CREATE TABLE t (x); PRAGMA user_version = 9999;")
                    .expect("write");
            }),
        ),
        (
            "another program's database",
            Box::new(|db: &Path| {
                let conn = rusqlite::Connection::open(db).expect("open");
                conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);")
                    .expect("write");
            }),
        ),
    ];
    for (what, make) in cases {
        let daemon = Daemon::prepare("workers = 1", &[("echo", ECHO)]);
        std::fs::create_dir_all(daemon.dir.path().join("data")).expect("data dir");
        make(&daemon.database());
        let before = std::fs::read(daemon.database()).expect("read");
        let out = jobvisor()
            .arg("serve")
            .arg("--config")
            .arg(&daemon.config)
            .output()
            .expect("serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!(
            "{what}: exit {:?}: {}",
            out.status.code(),
            stderr.lines().last().unwrap_or("")
        );
        assert_eq!(out.status.code(), Some(78), "{what}: {stderr}");
        assert!(
            stderr.contains("jobvisor.db"),
            "{what}: the file is named: {stderr}"
        );
        assert_eq!(
            std::fs::read(daemon.database()).expect("read"),
            before,
            "{what}: the file was changed"
        );
    }
}

/// A full disk is transient: starting on one must exit with a code systemd's
/// `RestartPreventExitStatus=78` does not block (so the service comes back once space is
/// freed) and say "disk full" plainly; after space returns the daemon starts with its jobs.
#[test]
fn starting_on_a_full_disk_exits_1_saying_disk_full_and_starts_once_space_returns() {
    let mut daemon = Daemon::prepare("workers = 1", &[("echo", ECHO)]);
    let data = daemon.dir.path().join("data");
    let _tmpfs = match Tmpfs::mount(&data, "4m") {
        Ok(mount) => mount,
        Err(reason) => {
            jobvisor_tests::skip(
                "starting_on_a_full_disk_exits_1_saying_disk_full_and_starts_once_space_returns",
                &format!("a full disk needs a tmpfs mount: {reason}"),
            );
            return;
        }
    };
    daemon.launch();
    let queued = daemon.enqueue(jobvisor_protocol::control::EnqueueJob {
        delay_ms: Some(3_600_000),
        ..job("echo", r#"{"kept":true}"#)
    });
    daemon.stop();
    let ballast = data.join("ballast");
    let written = fill(&ballast);
    println!("filled the state dir with {written} bytes");

    let mut serve = jobvisor()
        .arg("serve")
        .arg("--config")
        .arg(&daemon.config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let Some(status) = exit_within(&mut serve, Duration::from_secs(20)) else {
        panic!("serve on a full disk neither started nor exited within 20 s");
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    println!(
        "serve on a full disk: exit {:?}: {}",
        status.code(),
        stderr.lines().last().unwrap_or("")
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("disk full"), "{stderr}");

    std::fs::remove_file(&ballast).expect("remove ballast");
    daemon.launch();
    assert_eq!(daemon.job_state(queued), JobState::Scheduled);
    daemon.stop();
}
