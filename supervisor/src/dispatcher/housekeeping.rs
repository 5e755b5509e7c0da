//! The dispatcher's periodic tick: the systemd watchdog, abandoned `WaitJob` callers,
//! pruning finished jobs past their retention, and taking back jobs of an earlier run
//! whose lease ran out.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{Dispatcher, Internal};
use crate::store::{JobStore, PruneReport, RecoveryReport, StoreError};

/// Housekeeping period: expired leases, watchdog, drain deadline.
pub(super) const TICK: Duration = Duration::from_secs(1);
/// How often finished jobs past their retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// What the tick keeps between runs.
pub(super) struct Housekeeping {
    last_prune: Instant,
    /// When the leases of the jobs this supervisor holds were last extended.
    last_lease_renewal: Instant,
    /// A prune runs on the blocking pool: never two at once.
    prune_running: bool,
    /// Jobs of an earlier run wait for their lease to end (rlimit mode, where their
    /// workers may still live): look for expired leases at every tick.
    lease_waiting: bool,
}

impl Housekeeping {
    pub(super) fn new(lease_waiting: bool) -> Housekeeping {
        Housekeeping {
            last_prune: Instant::now(),
            last_lease_renewal: Instant::now(),
            prune_running: false,
            lease_waiting,
        }
    }
}

impl Dispatcher {
    pub(super) fn on_tick(&mut self) {
        self.notifier.watchdog();
        self.forget_abandoned_waiters();
        // Also while draining: the jobs still running must keep their leases.
        if self.housekeeping.last_lease_renewal.elapsed() >= self.store.lease_length() / 3 {
            self.renew_leases();
        }
        if self.rollout.draining() {
            return;
        }
        let house = &mut self.housekeeping;
        if !house.prune_running && house.last_prune.elapsed() >= PRUNE_EVERY {
            house.last_prune = Instant::now();
            house.prune_running = true;
            let store = self.store.clone();
            let retention = self.info.retention;
            self.when(
                async move { store.prune(retention).await },
                Internal::Pruned,
            );
        }
        if self.housekeeping.lease_waiting {
            self.when(
                self.store.requeue_expired_leases(),
                Internal::LeasesRequeued,
            );
        }
    }

    /// Extends the leases of the jobs this supervisor holds, one `lease_length` ahead.
    fn renew_leases(&mut self) {
        self.housekeeping.last_lease_renewal = Instant::now();
        let until = self.now_ms().saturating_add(
            i64::try_from(self.store.lease_length().as_millis()).unwrap_or(i64::MAX),
        );
        let pending = self.store.renew_leases(self.store.owner(), until);
        self.tasks.spawn(async move {
            if let Err(err) = pending.await {
                warn!(error = %err, "could not renew the leases of the running jobs");
            }
        });
    }

    pub(super) fn on_pruned(&mut self, result: Result<PruneReport, StoreError>) {
        self.housekeeping.prune_running = false;
        match result {
            Ok(report) if report.deleted > 0 => info!(
                deleted = report.deleted,
                "pruned finished jobs past their retention"
            ),
            Ok(_) => {}
            Err(err) => warn!(error = %err, "pruning finished jobs failed"),
        }
    }

    pub(super) fn on_leases_requeued(&mut self, result: Result<RecoveryReport, StoreError>) {
        if let Ok(report) = result
            && !report.requeued.is_empty()
        {
            info!(
                requeued = report.requeued.len(),
                "jobs of an earlier run requeued after their lease expired"
            );
            self.claims.wanted = true;
        }
    }
}
