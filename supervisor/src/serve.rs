//! `jobvisor serve`: start-up, the run, and the orderly end of the daemon.
//!
//! Start-up order matters and is the point of this file: lock the state dir, open the
//! store, kill what an earlier run left in its cgroups, start one worker and check the
//! configured scripts and schedules (all before anything is written), take the earlier
//! run's jobs back, register the configured scripts, start the workers, bind the control
//! socket, then tell systemd we are ready. The end runs in reverse once the dispatcher
//! has drained. `serve --check` runs the checks alone.
//!
//! [`run`] is the daemon as a library call: it takes the config and where its signals come
//! from, so a test can run a whole daemon in-process with a signal channel (or none) and
//! stop it by a drain.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::DrainReport;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::cgroup::{Limiter, LimiterMode, WorkerGroup};
use crate::config::{Config, ConfigError};
use crate::control::server::{ControlServer, ControlSocketError};
use crate::dispatcher::{DaemonInfo, Declared, Dispatcher};
use crate::host::HostService;
use crate::instance_lock::{InstanceLock, LockError};
use crate::notify::Notifier;
use crate::pool::connection::WorkerConnection;
use crate::pool::process::{WorkerProcess, stderr_tail};
use crate::pool::slot::{SlotConfig, start_slot};
use crate::pool::spawn::{SpawnSpec, default_worker_program, kernel_supports_worker_sandbox};
use crate::pool::spawner::Spawner;
use crate::reaper::{WorkerPids, become_subreaper, reap_orphans};
use crate::script_check::ScriptChecker;
use crate::shutdown::Shutdown;
use crate::signals::SignalSource;
use crate::store::{AnyStore, JobStore, JobStoreRead, RecoveryMode, SqliteStore, StoreError};

/// How often zombies nobody claimed are reaped (the daemon is a subreaper).
const REAP_EVERY: Duration = Duration::from_secs(2);
/// Longest wait for a slot task, and for the other tasks, at the end.
const TASK_GRACE: Duration = Duration::from_secs(5);

/// Why the daemon could not run. Each maps to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ControlSocket(#[from] ControlSocketError),
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("memory limits: {0}")]
    Cgroup(#[from] crate::cgroup::CgroupError),
    #[error("cannot start: {0}")]
    Startup(String),
    /// A secret that cannot be read, a grant of an unknown secret, a bad CA file.
    #[error(transparent)]
    Host(#[from] crate::host::HostSetupError),
    /// Transient: exits 1, which systemd restarts (78 would stop it for good).
    #[error(
        "disk full: cannot open the store {path}: free space on its file system (the daemon exits 1, so systemd tries again)"
    )]
    DiskFull { path: PathBuf },
    #[error("the worker program {program} cannot start: {reason}")]
    Worker { program: PathBuf, reason: String },
}

impl ServeError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Config(_) => crate::exit_code::CONFIG,
            ServeError::Store(e) if !e.is_transient() => crate::exit_code::CONFIG,
            ServeError::Lock(LockError::Held { .. })
            | ServeError::ControlSocket(ControlSocketError::Live(_)) => {
                crate::exit_code::ALREADY_RUNNING
            }
            ServeError::ControlSocket(_) | ServeError::StateDir { .. } | ServeError::Host(_) => {
                crate::exit_code::CONFIG
            }
            _ => crate::exit_code::FAILURE,
        }
    }
}

/// Runs the daemon until it has drained: after a stop signal from `signals`
/// ([`SignalSource::Os`] for SIGTERM/SIGINT) or a `drain` request. Returns the drain's
/// report once every worker has stopped, the control socket is gone and the store is
/// closed.
pub async fn run(config: Config, signals: SignalSource) -> Result<DrainReport, ServeError> {
    let started = Instant::now();
    for moved in &config.moved {
        warn!(%moved, "a config key in its place of the flat layout is still read there: move it into its section");
    }
    // Payloads and results are private data: the state dir is the owner's alone whatever
    // the umask (the store creates its files 0600).
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.state_dir)
        .map_err(|source| ServeError::StateDir {
            path: config.state_dir.clone(),
            source,
        })?;
    let _lock = InstanceLock::acquire(&config.state_dir)?;
    let failpoints = crate::failpoint::arm();
    if failpoints > 0 {
        warn!(
            failpoints,
            "failpoints armed: this process will crash or stall on purpose"
        );
    }
    raise_fd_limit();
    let scripts = config.read_scripts()?;

    let store =
        AnyStore::open(config.database_path(), (&config).into()).map_err(|err| match err {
            StoreError::DiskFull { path } => ServeError::DiskFull { path },
            other => ServeError::Store(other),
        })?;

    let limiter = Limiter::detect_for_daemon(config.workers.memory_limiter)?;
    if limiter.mode() == LimiterMode::Rlimit {
        warn!(limiter = %limiter.describe(), "no memory cgroup: per-worker limits are RLIMIT_DATA only, and a worker's escaped children are not contained");
    } else {
        info!(limiter = %limiter.describe(), "memory limits");
    }
    if !kernel_supports_worker_sandbox() {
        warn!(
            "this kernel cannot filter system calls (seccomp kill-process, Linux 4.14+): workers run without their sandbox"
        );
    }
    let instance = instance_name(&config.state_dir);
    let leftovers = limiter.remove_leftovers(&instance)?;

    become_subreaper();
    let spawner =
        Spawner::start().map_err(|e| ServeError::Startup(format!("spawner thread: {e}")))?;
    let pids = WorkerPids::default();
    let program = default_worker_program();
    let mut groups = Vec::new();
    for id in 0..config.workers.count {
        let group =
            limiter.create_group(&format!("{instance}/w{id}"), config.workers.group_limits())?;
        groups.push(Arc::new(group));
    }
    // No job is taken back, no script or schedule registered and nothing said to systemd
    // until a worker has started and every configured script and schedule is usable.
    let spec = SpawnSpec {
        program: program.clone(),
        self_limit_bytes: (!groups[0].enforces_memory()).then_some(config.workers.memory_limit),
    };
    let checker = ScriptChecker::new(
        program.clone(),
        Arc::new(spawner.clone()),
        limiter.clone(),
        instance.clone(),
        pids.clone(),
    );
    let probe = Probe {
        spawner: &spawner,
        spec: &spec,
        group: &groups[0],
        pids: &pids,
        start_timeout: config.workers.start_timeout,
        checker: &checker,
    };
    let worker_pid = probe.worker_starts().await?;
    info!(program = %program.display(), pid = worker_pid, "a first worker started and said ready");
    probe.scripts_are_usable(&config, &scripts).await?;
    let in_store = store.list_scripts().await?;
    let registered = in_store
        .iter()
        .map(|script| script.name.clone())
        .collect::<Vec<_>>();
    config.check_schedule_scripts(&registered)?;

    let recovery_mode = if limiter.mode() == LimiterMode::Rlimit {
        RecoveryMode::WaitForLease
    } else {
        // Every worker of an earlier run lived in these groups, now killed and removed.
        RecoveryMode::WorkersDead
    };
    let recovery = store.recover(recovery_mode).await?;
    if leftovers > 0 || !recovery.requeued.is_empty() || recovery.waiting > 0 {
        info!(
            cgroups_removed = leftovers,
            requeued = recovery.requeued.len(),
            discarded = recovery.discarded.len(),
            waiting_for_lease = recovery.waiting,
            "recovered jobs of an earlier run"
        );
    }
    // The config wins: its version of each declared script becomes current at every
    // start (and `scripts add` refuses those names), said aloud when that changes which
    // version runs.
    for (name, source) in &scripts {
        let before = in_store
            .iter()
            .find(|s| s.current && &s.name == name)
            .map(|s| s.hash.clone());
        let version = store.add_script(name, source).await?;
        let hash = &version.hash[..12];
        match before {
            Some(old) if old != version.hash && version.created => {
                info!(script = %name, hash, replaced = %&old[..12], "the config's script file changed: its new version is current");
            }
            Some(old) if old != version.hash => {
                warn!(script = %name, hash, replaced = %&old[..12], "the config's version of this script is current again (the config wins at start)");
            }
            _ => info!(script = %name, hash, new = version.created, "script registered"),
        }
    }
    let reconciled = store
        .reconcile_config_schedules(config.schedules.clone())
        .await?;
    if !reconciled.created.is_empty()
        || !reconciled.updated.is_empty()
        || !reconciled.removed.is_empty()
    {
        info!(
            created = ?reconciled.created,
            updated = ?reconciled.updated,
            removed = ?reconciled.removed,
            "schedules from the config reconciled"
        );
    }

    // Events for `jobvisor logs --follow`; sent only while someone follows.
    let (events, _) = tokio::sync::broadcast::channel(4096);
    let (slot_events_tx, slot_events) = mpsc::unbounded_channel();
    let mut slot_commands = Vec::new();
    let mut slot_tasks = Vec::new();
    let host = HostService::from_config(
        &config,
        Arc::new(crate::host::state::StoreState(store.clone())),
    )?;
    let settings = crate::pool::slot::SlotSettings::from(&config);
    for (id, group) in (0..config.workers.count).zip(groups) {
        let slot = SlotConfig {
            id,
            spec: spec.clone(),
            host: host.clone(),
            group,
            settings: settings.clone(),
            pids: pids.clone(),
            events: events.clone(),
        };
        let (commands, task) = start_slot(slot, Arc::new(spawner.clone()), slot_events_tx.clone());
        slot_commands.push(commands);
        slot_tasks.push(task);
    }
    drop(slot_events_tx);

    let control = ControlServer::bind(&config.control_socket_path(), config.control_gid()?).await?;
    info!(socket = %control.path().display(), workers = config.workers.count, "listening");
    let (control_tx, control_rx) = mpsc::channel(256);
    let shutdown = Shutdown::new();
    shutdown.spawn_until_stopped(reap_orphans_every(pids.clone()));
    let signals = signals.listen();

    let notifier = Notifier::from_env();
    notifier.ready(&format!("{} workers", config.workers.count));
    let dispatcher = Dispatcher::new(
        store.clone(),
        DaemonInfo {
            started,
            limiter: limiter.describe(),
            default_queue: "default".to_owned(),
            drain_timeout: config.drain_timeout,
            payload_limit: config.jobs.payload_limit,
            checker: checker.clone(),
            host: host.clone(),
            declared: Declared::of(&config),
            retention: (&config.store).into(),
        },
        slot_commands,
        notifier,
        recovery.waiting > 0,
        events.clone(),
    );
    let dispatcher_tasks = dispatcher.tasks();
    // The control socket answers until the dispatcher has drained; the shutdown token
    // then stops it (and every other helper).
    let stop = shutdown.token();
    let (report, ()) = tokio::join!(
        async {
            let report = dispatcher.run(slot_events, control_rx, signals).await;
            stop.cancel();
            report
        },
        control.serve(
            control_tx,
            events.clone(),
            config.control.request_timeout,
            shutdown.token(),
        ),
    );
    drop(control);
    if !shutdown.finish(TASK_GRACE, &[dispatcher_tasks]).await {
        warn!("tasks still running at the end: answers to requests may be lost");
    }
    for task in slot_tasks {
        let _ = tokio::time::timeout(TASK_GRACE, task).await;
    }
    if let Err(err) = limiter.remove_leftovers(&instance) {
        warn!(error = %err, "cannot remove the workers' cgroups");
    }
    if let Err(err) = store.close().await {
        warn!(error = %err, "closing the store");
    }
    info!("stopped");
    Ok(report)
}

/// `jobvisor serve --check`: everything `serve` checks before it starts, without starting:
/// the state and run dirs can be created and written, the scripts read and pass the script
/// check, the schedules name scripts that exist (in the config or in the store), and a
/// worker starts. Takes no lock and writes nothing, so it can run next to the daemon.
pub async fn check(config: &Config) -> Result<CheckSummary, ServeError> {
    for (what, dir) in [
        ("state_dir", &config.state_dir),
        ("run_dir", &config.run_dir),
    ] {
        dir_is_usable(dir).map_err(|reason| {
            ServeError::Config(ConfigError::Invalid(format!(
                "{what} {}: {reason}",
                dir.display()
            )))
        })?;
    }
    crate::control::server::check_run_dir_path(&config.run_dir)?;
    let scripts = config.read_scripts()?;
    if let Some(registered) = scripts_in_store(config).await? {
        config.check_schedule_scripts(&registered)?;
    }
    config.control_gid()?;
    // No cgroup here: this may run from an operator's shell, where the daemon's cgroup
    // is not ours to create groups in. The probe limits itself like a worker in rlimit mode.
    let limiter = Limiter::detect(crate::cgroup::LimiterChoice::Rlimit)?;
    let group = Arc::new(limiter.create_group("check", config.workers.group_limits())?);
    let spawner =
        Spawner::start().map_err(|e| ServeError::Startup(format!("spawner thread: {e}")))?;
    let spec = SpawnSpec {
        program: default_worker_program(),
        self_limit_bytes: Some(config.workers.memory_limit),
    };
    let pids = WorkerPids::default();
    let checker = ScriptChecker::new(
        spec.program.clone(),
        Arc::new(spawner.clone()),
        limiter,
        instance_name(&config.state_dir),
        pids.clone(),
    );
    let probe = Probe {
        spawner: &spawner,
        spec: &spec,
        group: &group,
        pids: &pids,
        start_timeout: config.workers.start_timeout,
        checker: &checker,
    };
    probe.worker_starts().await?;
    probe.scripts_are_usable(config, &scripts).await?;
    Ok(CheckSummary {
        moved: config.moved.clone(),
        scripts: scripts.len(),
        schedules: config.schedules.len(),
        worker_program: spec.program,
    })
}

/// What `serve --check` found usable.
#[derive(Debug)]
pub struct CheckSummary {
    /// Keys of the flat layout, read from their old place.
    pub moved: Vec<crate::config::MovedKey>,
    pub scripts: usize,
    pub schedules: usize,
    pub worker_program: PathBuf,
}

/// Start-up checks that need a real worker.
struct Probe<'a> {
    spawner: &'a Spawner,
    spec: &'a SpawnSpec,
    group: &'a Arc<WorkerGroup>,
    pids: &'a WorkerPids,
    start_timeout: Duration,
    checker: &'a ScriptChecker,
}

impl Probe<'_> {
    /// Starts one worker, waits for its hello and `Ready`, and stops it. A worker binary
    /// that is missing, of another version or crashes at start is found here, before the
    /// daemon says it is ready, instead of being restarted for ever behind a service that
    /// looks healthy. Returns the worker's pid.
    async fn worker_starts(&self) -> Result<u32, ServeError> {
        let failed = |reason: String| ServeError::Worker {
            program: self.spec.program.clone(),
            reason,
        };
        let spawned = self
            .spawner
            .spawn(self.spec.clone(), self.group.clone())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut process = WorkerProcess::new(spawned.child, self.pids.clone());
        let stderr = tokio::spawn(stderr_tail(process.take_stderr(), 2048));
        let connected = WorkerConnection::establish(spawned.socket, self.start_timeout).await;
        let status = process
            .kill_and_reap(self.group, Duration::from_secs(5))
            .await;
        match connected {
            Ok(connection) => Ok(connection.pid),
            Err(err) => {
                let said = tokio::time::timeout(Duration::from_secs(1), stderr)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let said = said.trim();
                let mut reason = err.to_string();
                if let Some(status) = status {
                    reason.push_str(&format!("; it exited with {status}"));
                }
                if !said.is_empty() {
                    reason.push_str(&format!("; it said: {said}"));
                }
                reason.push_str(
                    " (JOBVISOR_WORKER, or jobvisor-worker next to jobvisor, must be the worker of this jobvisor version)",
                );
                Err(failed(reason))
            }
        }
    }

    /// Checks every `[[script]]` exactly as `scripts add` does.
    async fn scripts_are_usable(
        &self,
        config: &Config,
        scripts: &[(String, String)],
    ) -> Result<(), ServeError> {
        for ((name, source), entry) in scripts.iter().zip(&config.scripts) {
            let checked = self.checker.check(name, source, entry.node_compat);
            checked
                .await
                .map_err(|problem| ConfigError::ScriptRefused {
                    name: name.clone(),
                    path: entry.path.clone(),
                    problem,
                })?;
        }
        Ok(())
    }
}

/// Whether `dir` exists as a writable directory, or could be created: its nearest
/// existing ancestor is a directory we may write into.
fn dir_is_usable(dir: &Path) -> Result<(), String> {
    let mut existing = dir;
    let meta = loop {
        match std::fs::metadata(existing) {
            Ok(meta) => break meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                existing = match existing.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
            }
            Err(err) => return Err(format!("{}: {err}", existing.display())),
        }
    };
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", existing.display()));
    }
    let c_path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes())
        .map_err(|_| "the path contains a NUL byte".to_owned())?;
    // SAFETY: access only reads the NUL-terminated path.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        let err = std::io::Error::last_os_error();
        return Err(if existing == dir {
            format!("cannot write into it: {err}")
        } else {
            format!("cannot be created in {}: {err}", existing.display())
        });
    }
    Ok(())
}

/// Names of the current scripts in the store, read through the store's read-only handle
/// (it writes nothing and takes no lock a running daemon needs); none when there is no
/// store yet. `None` when the store's schema is older than this binary's: `serve` migrates
/// it before it reads the scripts, so only `serve` can check the schedules against them.
async fn scripts_in_store(config: &Config) -> Result<Option<Vec<String>>, ServeError> {
    let path = config.database_path();
    if !path.exists() {
        return Ok(Some(Vec::new()));
    }
    let store = match SqliteStore::open_read_only(&path, config.into()) {
        Ok(store) => store,
        Err(StoreError::SchemaTooOld {
            found, required, ..
        }) => {
            warn!(
                path = %path.display(),
                found,
                required,
                "the store's schema is older than this jobvisor's: serve migrates it at start, and only then reads its scripts and checks the schedules against them"
            );
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    let scripts = store.list_scripts().await?;
    Ok(Some(
        scripts
            .into_iter()
            .filter(|script| script.current)
            .map(|script| script.name)
            .collect(),
    ))
}

/// Raises the soft open-files limit to the hard one: every worker and control connection
/// holds descriptors.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The cgroup directory of a daemon's workers: stable for a state dir, so a restart finds
/// what a crashed run left.
pub fn instance_name(state_dir: &std::path::Path) -> String {
    let dir = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_owned());
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("jobvisor-{hex}")
}

/// Reaps orphaned zombies every [`REAP_EVERY`], for ever (it runs until the shutdown).
/// Separate from the signals: neither may delay the other.
async fn reap_orphans_every(pids: WorkerPids) {
    let mut reap = tokio::time::interval(REAP_EVERY);
    let mut zombies = std::collections::HashSet::new();
    loop {
        reap.tick().await;
        reap_orphans(&pids, &mut zombies);
    }
}
