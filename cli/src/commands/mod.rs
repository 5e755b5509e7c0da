//! One module per command of the `jobvisor` binary (`run` is the
//! supervisor library's).

pub mod completions;
pub mod drain;
pub mod enqueue;
pub mod jobs;
pub mod logs;
pub mod man;
pub mod queues;
pub mod restart;
pub mod schedules;
pub mod scripts;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod status;
