//! jobvisor's supervisor: the daemon as a library (`serve`), behind the `jobvisor` binary
//! of the `cli/` crate, which parses arguments, talks to the control socket and maps
//! results to exit codes. `cli::run` is the command that runs here.

pub mod cgroup;
pub mod cli;
pub mod config;
pub mod control;
pub mod dispatcher;
pub mod exit_code;
pub mod host;
pub(crate) mod instance_lock;
pub(crate) mod notify;
pub mod pool;
pub(crate) mod reaper;
pub(crate) mod script_check;
pub mod serve;
pub mod shutdown;
pub mod signals;
pub(crate) mod suggest;
pub mod telemetry;

// The store crate, under the names the rest of the supervisor has always used.
pub use jobvisor_store as store;
pub use jobvisor_store::{failpoint, limits, schedule, units};
