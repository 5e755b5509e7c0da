//! jobvisor: the supervisor library behind the `jobvisor` binary.
//!
//! `main.rs` only parses arguments and maps results to exit codes; everything else lives
//! here so tests can drive it in-process.

pub mod cgroup;
pub mod cli;
pub mod config;
pub mod control;
pub mod dispatcher;
pub mod exit_code;
pub mod host;
pub mod instance_lock;
pub mod notify;
pub mod pool;
pub mod reaper;
pub mod script_check;
pub mod serve;
pub mod suggest;
pub mod telemetry;

// The store crate, under the names the rest of the supervisor has always used.
pub use jobvisor_store as store;
pub use jobvisor_store::{failpoint, schedule, units};
