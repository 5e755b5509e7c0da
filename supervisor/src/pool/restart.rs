//! When a worker slot may start its next worker: exponential backoff after failed starts,
//! and restart intensity (more than R restarts within T marks the slot degraded).
//!
//! Only failures of the worker itself count here (it would not start, failed its
//! handshake, died while idle). A worker killed by its job (timeout, OOM, crash while
//! running) is the job's fault: the job pays with an attempt and the slot restarts at once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// More than this many counted restarts within `window` → degraded.
    pub intensity_max: u32,
    pub window: Duration,
}

/// The restart history of one slot.
#[derive(Debug)]
pub struct RestartTracker {
    policy: RestartPolicy,
    recent: VecDeque<Instant>,
    consecutive_failures: u32,
}

impl RestartTracker {
    pub fn new(policy: RestartPolicy) -> Self {
        RestartTracker {
            policy,
            recent: VecDeque::new(),
            consecutive_failures: 0,
        }
    }

    /// Records a worker failure at `now`; returns how long to wait before the next start.
    pub fn record_failure(&mut self, now: Instant) -> Duration {
        self.recent.push_back(now);
        self.forget_before(now);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let exponent = self.consecutive_failures.saturating_sub(1).min(20);
        let backoff = self.policy.backoff_min.saturating_mul(1u32 << exponent);
        backoff.min(self.policy.backoff_max)
    }

    /// A worker came up and served: the backoff starts over.
    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Whether the slot is past its restart intensity at `now`.
    pub fn degraded(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        self.recent.len() > self.policy.intensity_max as usize
    }

    pub fn failures_in_window(&self) -> usize {
        self.recent.len()
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&first) = self.recent.front() {
            if now.saturating_duration_since(first) > self.policy.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(30),
            intensity_max: 3,
            window: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets_on_success() {
        let mut t = RestartTracker::new(policy());
        let now = Instant::now();
        let waits: Vec<_> = (0..12).map(|_| t.record_failure(now)).collect();
        assert_eq!(waits[0], Duration::from_millis(50));
        assert_eq!(waits[1], Duration::from_millis(100));
        assert_eq!(waits[2], Duration::from_millis(200));
        assert_eq!(waits[11], Duration::from_secs(30));
        t.record_success();
        assert_eq!(t.record_failure(now), Duration::from_millis(50));
    }

    #[test]
    fn more_than_r_restarts_in_t_is_degraded_until_they_age_out() {
        let mut t = RestartTracker::new(policy());
        let start = Instant::now();
        for i in 0..3 {
            t.record_failure(start + Duration::from_secs(i));
        }
        assert!(!t.degraded(start + Duration::from_secs(3)));
        t.record_failure(start + Duration::from_secs(4));
        assert!(t.degraded(start + Duration::from_secs(4)));
        assert!(
            !t.degraded(start + Duration::from_secs(12)),
            "the oldest failures left the window"
        );
    }
}
