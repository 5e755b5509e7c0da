//! The one long-lived thread every worker is forked from. PDEATHSIG is tied to the thread
//! that forked the child, so spawning from tokio's blocking pool (whose threads exit when
//! idle) would kill workers at random; this thread lives as long as the daemon.

use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::spawn::{SpawnSpec, SpawnedWorker, spawn_checker, spawn_worker};
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

    /// Spawns a script checker (`jobvisor-worker --check NAME`) on the spawner thread, so
    /// that it too dies with the daemon.
    pub(crate) async fn spawn_checker(
        &self,
        program: PathBuf,
        name: String,
        group: Arc<WorkerGroup>,
        data_ceiling: u64,
    ) -> std::io::Result<Child> {
        self.on_thread(move || spawn_checker(&program, &name, &group, data_ceiling))
            .await
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
