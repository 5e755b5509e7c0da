//! jobvisor: the supervisor library behind the `jobvisor` binary.
//!
//! `main.rs` only parses arguments and maps results to exit codes; everything else lives
//! here so tests can drive it in-process.

pub mod cgroup;
pub mod cli;
pub mod exit_code;
pub mod pool;
pub mod store;
pub mod units;
