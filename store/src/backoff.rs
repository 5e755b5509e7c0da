//! Retry delays: exponential in the attempt number, capped, with equal jitter so that
//! jobs failing together do not come back together. Pure functions plus a small seeded
//! generator; no I/O.

use std::hash::{BuildHasher, Hasher};

use super::types::BackoffPolicy;

/// The un-jittered delay before the attempt after `attempt` (1-based):
/// `min(cap, base * 2^(attempt - 1))`, in ms.
pub(crate) fn ceiling_ms(policy: BackoffPolicy, attempt: u32) -> u64 {
    let base = u64::try_from(policy.base.as_millis()).unwrap_or(u64::MAX);
    let cap = u64::try_from(policy.cap.as_millis()).unwrap_or(u64::MAX);
    let shift = attempt.saturating_sub(1).min(63);
    let grown = base
        .checked_shl(shift)
        .filter(|value| value >> shift == base)
        .unwrap_or(u64::MAX);
    grown.min(cap)
}

/// The jittered delay: uniform in `[ceiling/2, ceiling]`.
pub(crate) fn delay_ms(policy: BackoffPolicy, attempt: u32, random: u64) -> u64 {
    let ceiling = ceiling_ms(policy, attempt);
    let floor = ceiling / 2;
    let span = ceiling - floor;
    floor + if span == 0 { 0 } else { random % (span + 1) }
}

/// splitmix64 seeded from the process's random hasher keys: enough for jitter, and no
/// extra dependency.
#[derive(Debug)]
pub(crate) struct Jitter {
    state: u64,
}

impl Jitter {
    pub(crate) fn new() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x6a6f_6276_6973_6f72);
        Self {
            state: hasher.finish(),
        }
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn grows_exponentially_then_caps() {
        let policy = BackoffPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let ceilings: Vec<u64> = (1..=6).map(|attempt| ceiling_ms(policy, attempt)).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(
            ceiling_ms(policy, 500),
            1000,
            "huge attempt numbers do not overflow"
        );
    }

    #[test]
    fn jitter_stays_within_half_and_full_ceiling() {
        let policy = BackoffPolicy {
            base: Duration::from_millis(1000),
            cap: Duration::from_secs(60),
        };
        let mut jitter = Jitter::new();
        for attempt in 1..=10 {
            let ceiling = ceiling_ms(policy, attempt);
            for _ in 0..200 {
                let delay = delay_ms(policy, attempt, jitter.next());
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{delay} outside [{}, {ceiling}]",
                    ceiling / 2
                );
            }
        }
    }

    #[test]
    fn zero_base_means_no_delay() {
        let policy = BackoffPolicy {
            base: Duration::ZERO,
            cap: Duration::from_secs(1),
        };
        assert_eq!(delay_ms(policy, 3, 12345), 0);
    }
}
