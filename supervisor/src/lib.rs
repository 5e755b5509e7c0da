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
pub mod failpoint;
pub mod instance_lock;
pub mod notify;
pub mod pool;
pub mod reaper;
pub mod schedule;
pub mod script_check;
pub mod serve;
pub mod store;
pub mod suggest;
pub mod telemetry;
pub mod units;
