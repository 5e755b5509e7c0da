//! The one long-lived thread every worker is forked from. PDEATHSIG is tied to the thread
//! that forked the child, so spawning from tokio's blocking pool (whose threads exit when
//! idle) would kill workers at random; this thread lives as long as the daemon.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::launch::{Confinement, Launched, WorkerLauncher, launch};
use super::spawn::{SpawnSpec, SpawnedWorker, spawn_worker};
use crate::cgroup::WorkerGroup;

/// A fork to run on the spawner thread.
type SpawnRequest = Box<dyn FnOnce() + Send>;

/// Cheap-clone handle to the spawner thread.
#[derive(Clone)]
pub struct Spawner {
    requests: mpsc::Sender<SpawnRequest>,
}

impl Spawner {
    /// Starts the spawner thread. It exits when every handle is dropped.
    pub fn start() -> std::io::Result<Spawner> {
        let (requests, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("spawner".to_owned())
            .spawn(move || {
                while let Ok(request) = receiver.recv() {
                    request();
                }
            })?;
        Ok(Spawner { requests })
    }

    /// Spawns a worker on the spawner thread.
    pub async fn spawn(
        &self,
        spec: SpawnSpec,
        group: Arc<WorkerGroup>,
    ) -> std::io::Result<SpawnedWorker> {
        self.on_thread(move || spawn_worker(&spec, &group)).await
    }

    async fn on_thread<T: Send + 'static>(
        &self,
        fork: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let (reply, answer) = oneshot::channel();
        let request: SpawnRequest = Box::new(move || {
            let _ = reply.send(fork());
        });
        self.requests
            .send(request)
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?;
        answer
            .await
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?
    }
}

/// The daemon's launcher: every process that runs job code is forked on the spawner
/// thread, so it dies with the daemon (the script checker too).
impl WorkerLauncher for Spawner {
    fn launch(
        &self,
        confinement: Confinement,
        group: Arc<WorkerGroup>,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Launched>> + Send + '_>> {
        Box::pin(self.on_thread(move || launch(&confinement, &group)))
    }
}
