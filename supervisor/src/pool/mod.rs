//! Worker processes: how one is started, connected and classified when it ends.

pub mod attempt;
pub mod connection;
pub mod exit;
pub mod launch;
pub mod process;
pub mod restart;
pub mod slot;
pub mod spawn;
pub mod spawner;
