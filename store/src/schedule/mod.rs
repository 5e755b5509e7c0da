//! Schedules: interval and cron timings that enqueue exactly one job per slot.
//!
//! This module owns what a slot is (`spec.rs`, `cron.rs`, `civil.rs`: parsing, time
//! zones, DST) and the schedule data types (`model.rs`). Storing schedules and firing
//! them — the enqueue and the advance of `next_run_at` in one transaction — is the
//! store's job (`store/schedules.rs`); deciding *when* to call it is the dispatcher's.
//! Nothing here touches the database, a clock or a channel.

pub(crate) mod civil;
mod cron;
mod model;
mod spec;

pub use cron::CronField;
pub use model::*;
pub use spec::{CronSpec, MIN_INTERVAL, SpecError, Timing, jitter_ms};
