//! Worker processes: how one is started, connected and classified when it ends.

pub mod connection;
pub mod exit;
pub mod spawn;
