//! The one long-lived thread every worker is forked from. PDEATHSIG is tied to the thread
//! that forked the child, so spawning from tokio's blocking pool (whose threads exit when
//! idle) would kill workers at random; this thread lives as long as the daemon.

use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::spawn::{SpawnSpec, SpawnedWorker, spawn_worker};
use crate::cgroup::WorkerGroup;

struct SpawnRequest {
    spec: SpawnSpec,
    group: Arc<WorkerGroup>,
    reply: oneshot::Sender<std::io::Result<SpawnedWorker>>,
}

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
                    let result = spawn_worker(&request.spec, &request.group);
                    let _ = request.reply.send(result);
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
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(SpawnRequest { spec, group, reply })
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?;
        answer
            .await
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?
    }
}
