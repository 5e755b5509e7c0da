//! The commands of the `jobvisor` binary that run in this library rather than talk to a
//! daemon: `run` (one job through a real worker, no daemon, no database).

pub mod run;
