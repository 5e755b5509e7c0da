//! A real `jobvisor serve` in a temporary directory, for end-to-end tests: start it with
//! a config, talk to its control socket, read its store (read-only, `store_view.rs`) to
//! check what it did, signal it, and wait for conditions with deadlines.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{EnqueueJob, Request, Response, StatusReport, WorkerState};
use jobvisor_protocol::{BlockingTransport, Role};

use crate::bin;
use crate::config::ConfigBuilder;
use crate::store_view::{JobState, OutcomeKind, StoreView};

/// A daemon under test. Killed (SIGKILL) when dropped if still running.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Writes `jobvisor.toml` from `config` (state and run dir inside a new temporary
    /// directory) and its scripts, then starts the daemon and waits until it answers.
    pub fn start_with(config: ConfigBuilder) -> Daemon {
        let mut daemon = Daemon::prepare_with(config);
        daemon.launch();
        daemon
    }

    /// Writes the config and its scripts without starting the daemon.
    pub fn prepare_with(config: ConfigBuilder) -> Daemon {
        Daemon::prepare_in(&std::env::temp_dir(), &config)
    }

    /// Writes `config` (and its scripts) into a new temporary directory inside `base`,
    /// without starting the daemon.
    pub fn prepare_in(base: &Path, config: &ConfigBuilder) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("jobvisor-")
            .tempdir_in(base)
            .expect("temp dir");
        let config = config.write_scripts_and_render(dir.path());
        let config_path = dir.path().join("jobvisor.toml");
        std::fs::write(&config_path, config).expect("write config");
        Daemon {
            log: dir.path().join("daemon.log"),
            dir,
            config: config_path,
            child: None,
        }
    }

    /// Starts the daemon with `env` and waits for it to die (a failpoint); returns the
    /// signal that killed it, if any.
    pub fn launch_until_death(&mut self, env: &[(&str, &str)], within: Duration) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let mut child = self.spawn(env);
        match crate::exit_within(&mut child, within) {
            Some(status) => status.signal(),
            None => panic!(
                "the daemon did not die within {within:?}\n{}",
                self.log_text()
            ),
        }
    }

    /// Starts the daemon and waits up to `within` for it to exit on its own (a start it
    /// refuses); `None` if it was still running then (it is killed).
    pub fn serve_until_exit(&self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.spawn(&[]);
        crate::exit_within(&mut child, within)
    }

    /// Starts (or restarts) the process on the same config and state.
    pub fn launch(&mut self) {
        self.launch_with(&[]);
    }

    /// Starts (or restarts) the process with `env` and waits until it answers.
    pub fn launch_with(&mut self, env: &[(&str, &str)]) {
        self.child = Some(self.spawn(env));
        self.wait_ready(Duration::from_secs(20));
    }

    /// `jobvisor serve` on this config, its output appended to the log.
    fn spawn(&self, env: &[(&str, &str)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        Command::new(bin("jobvisor"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
            .env("JOBVISOR_LOG", "info")
            .env_remove("JOBVISOR_CONFIG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("jobvisor serve starts")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/control.sock")
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("data/jobvisor.db")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Runs `jobvisor ARGS --config <this daemon's config>` to its end.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin("jobvisor"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("JOBVISOR_WORKER", bin("jobvisor-worker"))
            .output()
            .expect("jobvisor runs")
    }

    /// `enqueue SCRIPT --payload PAYLOAD --wait --json`: the job, as `jobs show --json`
    /// prints it, once it ended.
    pub fn run_job(&self, script: &str, payload: &serde_json::Value) -> serde_json::Value {
        self.run_job_with(script, payload, &[])
    }

    /// [`Daemon::run_job`] with more `enqueue` options (`--max-attempts 1`).
    pub fn run_job_with(
        &self,
        script: &str,
        payload: &serde_json::Value,
        options: &[&str],
    ) -> serde_json::Value {
        let payload = payload.to_string();
        let mut args = vec!["enqueue", script, "--payload", &payload];
        args.extend_from_slice(options);
        args.extend(["--wait", "--json"]);
        let out = self.cli(&args);
        self.json_of(&out, "enqueue --wait --json")
    }

    /// `jobs show ID --json`.
    pub fn show_job(&self, id: i64) -> serde_json::Value {
        let out = self.cli(&["jobs", "show", &id.to_string(), "--json"]);
        self.json_of(&out, "jobs show --json")
    }

    /// The JSON document `command` printed, or a panic with what it printed and the log.
    fn json_of(&self, out: &std::process::Output, command: &str) -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{command} printed no JSON ({e}):\n{}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_text()
            )
        })
    }

    /// The daemon's resident memory, from /proc.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the daemon's /proc status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self, within: Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "jobvisor serve exited early with {status}\n{}",
                    self.log_text()
                );
            }
            if self.try_request(&Request::Status).is_ok() {
                return;
            }
            assert!(
                started.elapsed() < within,
                "daemon not ready after {within:?}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A new control connection, past the handshake (which may take 30 s at most), with
    /// no read timeout: a `WaitJob` answers when its job ends.
    pub fn try_connect(&self) -> Result<BlockingTransport<UnixStream>, String> {
        let stream = UnixStream::connect(self.socket())
            .map_err(|e| format!("connecting to {}: {e}", self.socket().display()))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let mut transport = BlockingTransport::new(stream);
        transport
            .handshake(Role::Client, Role::Supervisor)
            .map_err(|e| format!("control socket handshake: {e}"))?;
        transport
            .get_ref()
            .set_read_timeout(None)
            .map_err(|e| e.to_string())?;
        Ok(transport)
    }

    /// A new control connection; panics with the daemon log when there is none.
    pub fn connect(&self) -> BlockingTransport<UnixStream> {
        self.try_connect()
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log_text()))
    }

    /// One request on a fresh connection.
    pub fn try_request(&self, request: &Request) -> Result<Response, String> {
        let mut transport = self.try_connect()?;
        transport
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        transport.send(request).map_err(|e| e.to_string())?;
        transport
            .recv::<Response>()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no answer".to_owned())
    }

    pub fn request(&self, request: &Request) -> Response {
        self.try_request(request)
            .unwrap_or_else(|e| panic!("request failed: {e}\n{}", self.log_text()))
    }

    pub fn status(&self) -> StatusReport {
        match self.request(&Request::Status) {
            Response::Status(report) => report,
            other => panic!("status: {other:?}"),
        }
    }

    /// Enqueues a job and returns its id.
    pub fn enqueue(&self, job: EnqueueJob) -> i64 {
        match self.request(&Request::Enqueue(job)) {
            Response::Enqueued { id, .. } => id,
            other => panic!("enqueue: {other:?}"),
        }
    }

    /// Enqueues many jobs over one connection.
    pub fn enqueue_many(&self, jobs: impl IntoIterator<Item = EnqueueJob>) -> Vec<i64> {
        let mut transport = self.connect();
        jobs.into_iter()
            .map(|job| {
                transport.send(&Request::Enqueue(job)).expect("send");
                match transport.recv::<Response>().expect("recv") {
                    Some(Response::Enqueued { id, .. }) => id,
                    other => panic!("enqueue: {other:?}"),
                }
            })
            .collect()
    }

    /// A read-only view of the store, through the store's own read contract (see
    /// `store_view.rs`): usable while the daemon runs and after it exited.
    pub fn store(&self) -> StoreView {
        StoreView::open(&self.database())
    }

    /// A read-only SQLite connection to the database file, for the few tests of SQLite
    /// itself (a PRAGMA the config sets); everything else reads through [`Daemon::store`].
    pub fn sqlite_connection_for_sqlite_specific_checks(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_with_flags(
            self.database(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .expect("open the database file read-only");
        conn.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        conn
    }

    pub fn job_state(&self, id: i64) -> JobState {
        self.store().state(id)
    }

    /// (attempt, outcome) of each attempt of a job, in order.
    pub fn attempts(&self, id: i64) -> Vec<(u32, OutcomeKind)> {
        self.store().outcomes(id)
    }

    pub fn count_in_state(&self, state: JobState) -> usize {
        self.store().count_in_state(state)
    }

    /// Waits until `condition` holds, panicking with the daemon log after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
        let started = Instant::now();
        while !condition() {
            assert!(
                started.elapsed() < within,
                "timed out waiting for {what}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.pid() as i32, signal);
        }
    }

    /// Waits for the daemon to exit; returns its exit code (None: killed by a signal).
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("running");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status.code();
            }
            assert!(
                started.elapsed() < within,
                "daemon did not exit within {within:?}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        self.signal(libc::SIGTERM);
        let code = self.wait_exit(Duration::from_secs(30));
        assert_eq!(code, Some(0), "daemon exit\n{}", self.log_text());
    }

    /// How many workers have a job in hand, from `status`.
    pub fn busy_workers(&self) -> usize {
        self.status()
            .workers
            .iter()
            .filter(|w| w.job.is_some())
            .count()
    }

    /// Waits until `count` workers are idle with a live process (all started, none busy).
    pub fn wait_idle_workers(&self, count: usize, within: Duration) {
        self.wait_for(&format!("{count} idle workers"), within, || {
            let status = self.status();
            status
                .workers
                .iter()
                .filter(|w| w.state == WorkerState::Idle && w.pid.is_some())
                .count()
                == count
        });
    }

    /// Waits until `status` shows job `id` on a worker and returns that worker's pid.
    pub fn wait_job_on_worker(&self, id: i64, within: Duration) -> u32 {
        let mut pid = None;
        self.wait_for(&format!("job {id} on a worker"), within, || {
            pid = self
                .status()
                .workers
                .iter()
                .find(|w| w.job == Some(id))
                .and_then(|w| w.pid);
            pid.is_some()
        });
        pid.expect("the wait ends with a pid")
    }

    /// Live worker pids from `status`.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.status().workers.iter().filter_map(|w| w.pid).collect()
    }

    /// The cgroup name of this daemon's workers (`jobvisor-<hash of the state dir>`).
    pub fn instance(&self) -> String {
        jobvisor_supervisor::serve::instance_name(&self.dir.path().join("data"))
    }

    /// Processes (any, escaped grandchildren included) in this daemon's worker cgroups.
    pub fn processes_in_worker_cgroups(&self) -> Vec<u32> {
        processes_in_cgroups_named(&self.instance())
    }

    /// The checks every fault scenario ends with, after a clean stop: the database passes
    /// `quick_check`; no job is `running`; every job in `enqueued` is final or waiting to
    /// run; no process is left in the workers' cgroups and no worker group is left; the
    /// control socket is gone. Returns the states of `enqueued`, counted.
    pub fn assert_invariants(
        &self,
        enqueued: &[i64],
    ) -> std::collections::BTreeMap<JobState, usize> {
        assert!(
            self.child.is_none(),
            "the invariants are checked after a stop"
        );
        let store = self.store();
        if let Err(err) = store.sqlite_quick_check() {
            panic!("the database fails SQLite's quick_check: {err}");
        }
        assert_eq!(
            store.count_in_state(JobState::Running),
            0,
            "jobs left running after a completed drain"
        );
        let mut states = std::collections::BTreeMap::new();
        for &id in enqueued {
            let state = store
                .try_job(id)
                .unwrap_or_else(|| panic!("enqueued job {id} is gone"))
                .job
                .state;
            assert!(
                matches!(
                    state,
                    JobState::Completed
                        | JobState::Discarded
                        | JobState::Cancelled
                        | JobState::Available
                        | JobState::Retryable
                        | JobState::Scheduled
                ),
                "job {id} is {state}"
            );
            *states.entry(state).or_insert(0) += 1;
        }
        let leftover = self.processes_in_worker_cgroups();
        assert!(
            leftover.is_empty(),
            "processes left in worker cgroups: {leftover:?}"
        );
        let groups = worker_groups_named(&self.instance());
        assert!(groups.is_empty(), "worker cgroups left: {groups:?}");
        assert!(
            !self.socket().exists(),
            "the control socket {} is left after a clean stop",
            self.socket().display()
        );
        states
    }
}

/// This process's cgroup directories, one per mounted v1 hierarchy (or the v2 one).
fn own_cgroup_dirs() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?.trim_start_matches('/');
            let mount = match controllers {
                "" => "unified".to_owned(),
                c if c.starts_with("name=") => return None,
                c => c.to_owned(),
            };
            let dir = Path::new("/sys/fs/cgroup").join(mount).join(path);
            dir.is_dir().then_some(dir)
        })
        .collect()
}

/// Worker groups (directories below `<own cgroup>/<instance>`) in any hierarchy.
pub fn worker_groups_named(instance: &str) -> Vec<PathBuf> {
    own_cgroup_dirs()
        .into_iter()
        .flat_map(|dir| {
            std::fs::read_dir(dir.join(instance))
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Live processes whose cgroup path contains `/<instance>/` in any hierarchy.
pub fn processes_in_cgroups_named(instance: &str) -> Vec<u32> {
    let needle = format!("/{instance}/");
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                        .is_ok_and(|text| text.contains(&needle))
                        && process_alive(*pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Daemon {
    /// Kills a daemon the test left running and removes what its workers left in the
    /// cgroup hierarchy (no later run of this state dir will).
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let instance = jobvisor_supervisor::serve::instance_name(&self.dir.path().join("data"));
        if let Ok(limiter) = jobvisor_supervisor::cgroup::Limiter::detect(
            jobvisor_supervisor::cgroup::LimiterChoice::Auto,
        ) {
            let _ = limiter.remove_leftovers(&instance);
        }
    }
}

/// A job of `script` with a JSON payload.
pub fn job(script: &str, payload: &str) -> EnqueueJob {
    EnqueueJob {
        script: script.to_owned(),
        payload: payload.to_owned(),
        ..EnqueueJob::default()
    }
}

/// Whether a process exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Cgroup directories of a daemon's workers under this process's v1 memory cgroup
/// (empty where there is no v1 memory hierarchy).
pub fn worker_cgroups() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let Some(own) = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _ = parts.next();
        (parts.next()? == "memory")
            .then(|| parts.next().map(str::to_owned))
            .flatten()
    }) else {
        return Vec::new();
    };
    let base = Path::new("/sys/fs/cgroup/memory").join(own.trim_start_matches('/'));
    std::fs::read_dir(base)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("jobvisor-"))
                })
                .collect()
        })
        .unwrap_or_default()
}
