//! The daemon's orderly end: one [`CancellationToken`] that every long-running helper task
//! (the orphan-reaping tick, the control server) watches, and one [`TaskTracker`] the
//! daemon waits on, for a bounded time, before it closes the store.
//!
//! The drain itself is not here: it is the dispatcher's (signals and `jobvisor drain`
//! become its events). The token is cancelled once the dispatcher has drained.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The token and the tracker of one daemon run.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Cancelled once the daemon stops.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `task` on the tracker until it ends or the daemon stops, whichever is first.
    pub fn spawn_until_stopped<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Runs `task` on the tracker: the daemon waits for it before it ends.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Cancels the token and waits for the tracked tasks and `others`, for at most
    /// `within`. Returns whether they all ended.
    pub async fn finish(&self, within: Duration, others: &[TaskTracker]) -> bool {
        self.token.cancel();
        self.tasks.close();
        let all = async {
            self.tasks.wait().await;
            for other in others {
                other.close();
                other.wait().await;
            }
        };
        tokio::time::timeout(within, all).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn finish_stops_the_helpers_and_waits_for_tracked_work() {
        let shutdown = Shutdown::new();
        shutdown.spawn_until_stopped(std::future::pending());
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        shutdown.spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = done_tx.send(());
        });
        assert!(shutdown.finish(Duration::from_secs(10), &[]).await);
        assert!(done_rx.await.is_ok(), "tracked work was cut short");
        assert!(shutdown.token().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn finish_gives_up_on_work_that_does_not_end() {
        let shutdown = Shutdown::new();
        let other = TaskTracker::new();
        other.spawn(std::future::pending::<()>());
        let started = tokio::time::Instant::now();
        assert!(!shutdown.finish(Duration::from_secs(5), &[other]).await);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
