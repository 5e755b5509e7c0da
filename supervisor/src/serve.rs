//! `jobvisor serve`: start-up, the run, and the orderly end of the daemon.
//!
//! Start-up order matters and is the point of this file: lock the state dir, open the
//! store, kill what an earlier run left in its cgroups and take its jobs back, register
//! the configured scripts, start the workers, bind the control socket, then tell systemd
//! we are ready. The end runs in reverse once the dispatcher has drained.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobvisor_protocol::worker::{Isolation, JobLimits};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::cgroup::{GroupLimits, Limiter, LimiterMode};
use crate::config::{Config, ConfigError, IsolationSetting};
use crate::control::server::{ControlServer, ControlSocketError};
use crate::dispatcher::{DaemonInfo, Dispatcher, SignalKind};
use crate::instance_lock::{InstanceLock, LockError};
use crate::notify::Notifier;
use crate::pool::restart::RestartPolicy;
use crate::pool::slot::{SlotConfig, start_slot};
use crate::pool::spawn::{SpawnSpec, default_worker_program, kernel_supports_worker_sandbox};
use crate::pool::spawner::Spawner;
use crate::reaper::{WorkerPids, become_subreaper, reap_orphans};
use crate::store::{BackoffPolicy, RecoveryMode, Store, StoreError, StoreOptions};

/// Processes (threads included) one worker may have.
const WORKER_MAX_PIDS: u32 = 64;

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
            ServeError::ControlSocket(_) | ServeError::StateDir { .. } => crate::exit_code::CONFIG,
            _ => crate::exit_code::FAILURE,
        }
    }
}

/// Runs the daemon until it has drained after SIGTERM/SIGINT.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let started = Instant::now();
    std::fs::DirBuilder::new()
        .recursive(true)
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

    let store = Store::open(config.database_path(), store_options(&config))?;

    let limiter = Limiter::detect_for_daemon(config.memory_limiter)?;
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
    for (name, source) in &scripts {
        let version = store.add_script(name, source).await?;
        info!(script = %name, hash = %&version.hash[..12], new = version.created, "script registered");
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

    become_subreaper();
    let spawner =
        Spawner::start().map_err(|e| ServeError::Startup(format!("spawner thread: {e}")))?;
    let pids = WorkerPids::default();
    // Events for `jobvisor logs --follow`; sent only while someone follows.
    let (events, _) = tokio::sync::broadcast::channel(4096);
    let (slot_events_tx, slot_events) = mpsc::unbounded_channel();
    let mut slot_commands = Vec::new();
    let mut slot_tasks = Vec::new();
    let program = default_worker_program();
    for id in 0..config.workers {
        let group = limiter.create_group(
            &format!("{instance}/w{id}"),
            GroupLimits {
                memory_bytes: config.memory_limit,
                max_pids: WORKER_MAX_PIDS,
            },
        )?;
        let slot = SlotConfig {
            id,
            spec: SpawnSpec {
                program: program.clone(),
                self_limit_bytes: (!group.enforces_memory()).then_some(config.memory_limit),
            },
            group: Arc::new(group),
            start_timeout: config.worker_start_timeout,
            kill_grace: config.kill_grace,
            restart: RestartPolicy {
                backoff_min: config.restart_backoff_min,
                backoff_max: config.restart_backoff_max,
                intensity_max: config.restart_intensity_max,
                window: config.restart_intensity_window,
            },
            max_jobs_per_worker: config.max_jobs_per_worker,
            rss_soft_limit: config.worker_rss_soft_limit,
            limits: JobLimits {
                max_result_bytes: u32::try_from(config.result_limit).unwrap_or(u32::MAX),
                ..JobLimits::default()
            },
            isolation: match config.isolation {
                IsolationSetting::Script => Isolation::Script,
                IsolationSetting::Job => Isolation::Job,
            },
            default_timeout: config.job_timeout,
            pids: pids.clone(),
            events: events.clone(),
        };
        let (commands, task) = start_slot(slot, spawner.clone(), slot_events_tx.clone());
        slot_commands.push(commands);
        slot_tasks.push(task);
    }
    drop(slot_events_tx);

    let control = ControlServer::bind(&config.control_socket_path(), config.control_gid()?).await?;
    info!(socket = %control.path().display(), workers = config.workers, "listening");
    let (control_tx, control_rx) = mpsc::channel(256);
    let (control_stop, control_stopped) = oneshot::channel();
    let (signals_tx, signals_rx) = mpsc::unbounded_channel();
    let signal_task = tokio::spawn(watch_signals(signals_tx, pids.clone()));

    let notifier = Notifier::from_env();
    notifier.ready(&format!("{} workers", config.workers));
    let dispatcher = Dispatcher::new(
        store.clone(),
        DaemonInfo {
            started,
            limiter: limiter.describe(),
            default_queue: "default".to_owned(),
            drain_timeout: config.drain_timeout,
            default_timeout: config.job_timeout,
            payload_limit: config.payload_limit,
            worker_program: program.clone(),
            retention: crate::store::Retention {
                completed: config.retention_completed,
                failed: config.retention_discarded,
            },
        },
        slot_commands,
        notifier,
        recovery.waiting > 0,
        events.clone(),
    );
    {
        let serving = control.serve(
            control_tx,
            events.clone(),
            config.control_request_timeout,
            control_stopped,
        );
        let dispatching = dispatcher.run(slot_events, control_rx, signals_rx);
        tokio::pin!(serving);
        tokio::select! {
            () = dispatching => {}
            () = &mut serving => error!("control server stopped unexpectedly"),
        }
    }
    let _ = control_stop.send(());
    drop(control);
    signal_task.abort();
    for task in slot_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if let Err(err) = limiter.remove_leftovers(&instance) {
        warn!(error = %err, "cannot remove the workers' cgroups");
    }
    let close = tokio::task::spawn_blocking(move || store.close()).await;
    match close {
        Ok(Ok(())) => {}
        Ok(Err(err)) => warn!(error = %err, "closing the store"),
        Err(err) => warn!(error = %err, "closing the store"),
    }
    info!("stopped");
    Ok(())
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

fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        synchronous: config.store_synchronous(),
        max_payload_bytes: usize::try_from(config.payload_limit).unwrap_or(usize::MAX),
        max_result_bytes: usize::try_from(config.result_limit).unwrap_or(usize::MAX),
        default_max_attempts: config.max_attempts,
        default_timeout: config.job_timeout,
        backoff: BackoffPolicy {
            base: config.retry_backoff_base,
            cap: config.retry_backoff_max,
        },
        ..StoreOptions::default()
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

async fn watch_signals(tx: mpsc::UnboundedSender<SignalKind>, pids: WorkerPids) {
    use tokio::signal::unix::{SignalKind as Sig, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(Sig::terminate()),
        signal(Sig::interrupt()),
        signal(Sig::hangup()),
    ) else {
        error!("cannot install signal handlers");
        return;
    };
    let mut reap = tokio::time::interval(Duration::from_secs(2));
    let mut zombies = std::collections::HashSet::new();
    loop {
        let kind = tokio::select! {
            _ = term.recv() => SignalKind::Stop,
            _ = int.recv() => SignalKind::Stop,
            _ = hup.recv() => SignalKind::Hangup,
            _ = reap.tick() => {
                reap_orphans(&pids, &mut zombies);
                continue;
            }
        };
        if tx.send(kind).is_err() {
            return;
        }
    }
}
